/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_login.c: `coffer login`: check a token (lookup-self) or log in with AppRole
 * (auth/<path>/login), then keep the token in ~/.coffer-token (token_file.c) for later commands.
 * The token comes from stdin, a prompt without echo or @FILE, so it never needs to be in argv.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "secmem.h"

/* method=token: check the token with lookup-self; *auth gets an answer with an auth block. */
static int cmd_login_token(const char *arg, json_t **answer, char **token)
{
	json_t *resp = NULL;
	const json_t *d;
	int rc;

	*token = cli_values_secret(arg, "token", "Token (will be hidden): ");
	if (*token == NULL)
		return CLI_EXIT_ERROR;
	if (cli_client_set_token(*token) != 0)
		return CLI_EXIT_ERROR;
	rc = cli_client_call("GET", "auth/token/lookup-self", NULL, &resp);
	if (rc != CLI_EXIT_OK)
		return rc;
	/* The lookup in the shape of a login answer, so that one printer serves both methods. */
	d = json_object_get(resp, "data");
	*answer = json_pack("{s:{s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}}", "auth", "client_token",
	                    *token, "accessor", json_object_get(d, "accessor"), "policies",
	                    json_object_get(d, "policies"), "token_policies",
	                    json_object_get(d, "policies"), "metadata", json_object_get(d, "meta"),
	                    "lease_duration", json_object_get(d, "ttl"), "renewable",
	                    json_object_get(d, "renewable"));
	json_decref(resp);
	return *answer != NULL ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* method=approle: POST auth/<path>/login with role_id and secret_id from k=v arguments. */
static int cmd_login_approle(const char *mount, int n, char *const *args, json_t **answer,
                             char **token)
{
	json_t *body = cli_values_parse(n, args);
	char *path = NULL;
	int rc = CLI_EXIT_USAGE;

	if (body == NULL)
		return rc;
	if (asprintf(&path, "auth/%s/login", mount) < 0) {
		path = NULL;
		rc = CLI_EXIT_ERROR;
		goto out;
	}
	rc = cli_client_call("POST", path, body, answer);
	if (rc != CLI_EXIT_OK)
		goto out;
	*token = secmem_strdup(
	    json_string_value(json_object_get(json_object_get(*answer, "auth"), "client_token")));
	if (*token == NULL) {
		fprintf(stderr, "Error: the login answer has no token\n");
		rc = CLI_EXIT_ERROR;
	}
out:
	free(path);
	json_decref(body);
	return rc;
}

int cmd_login(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *method = "token", *mount = NULL, *field = NULL;
	bool is_no_store = false;
	const struct cli_flag flags[] = {
	    {"method", CLI_FLAG_STRING, &method, "METHOD", "token (the default) or approle."},
	    {"path", CLI_FLAG_STRING, &mount, "PATH",
	     "Where the auth method is mounted (default: its name)."},
	    {"no-store", CLI_FLAG_BOOL, &is_no_store, NULL, "Do not write ~/.coffer-token."},
	    {"field", CLI_FLAG_STRING, &field, "FIELD", "Print only FIELD (e.g. token), raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *answer = NULL;
	char *token = NULL, file[4096];
	bool is_token;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	is_token = strcmp(method, "token") == 0;
	if (!is_token && strcmp(method, "approle") != 0)
		return cli_usage_error(cmd, name, flags, "-method must be token or approle");
	if (is_token && n_args > 1)
		return cli_usage_error(cmd, name, flags, "takes at most one TOKEN");
	if (is_token)
		rc = cmd_login_token(n_args ? argv[1] : NULL, &answer, &token);
	else
		rc =
		    cmd_login_approle(mount ? mount : "approle", n_args, argv + 1, &answer, &token);
	if (rc == CLI_EXIT_OK && !is_no_store && cli_token_save(token) != 0)
		rc = CLI_EXIT_ERROR;
	if (rc == CLI_EXIT_OK && !is_no_store && cli_token_file_path(file, sizeof(file)) == 0)
		cli_print_success("The token is stored in %s for later commands.", file);
	if (rc == CLI_EXIT_OK && !is_no_store && getenv("COFFER_TOKEN") != NULL)
		fprintf(stderr, "Warning: COFFER_TOKEN is set and wins over the stored token.\n");
	if (rc == CLI_EXIT_OK)
		rc = cli_print_auth(answer, field, is_no_store);
	secmem_free(token);
	json_decref(answer);
	return rc;
}
