/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_login.c: `coffer login`: check a token (lookup-self) or log in with AppRole, a Kubernetes
 * service-account token or another JWT (auth/<path>/login, the path defaulting to the method's
 * name), then keep the token in ~/.coffer-token (token_file.c) for later commands. Tokens and
 * credentials come from stdin, a prompt without echo or @FILE, so they never need to be in argv.
 */
#include <ctype.h>
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

/* kubernetes and jwt: the token from jwt=@FILE without the whitespace around it (a file written
 * by echo ends in a newline, which is no part of a JWT); a usage error without it, or without a
 * role for kubernetes (jwt falls back to the mount's default role). */
static int cmd_login_check_jwt(const char *method, json_t *body)
{
	json_t *jwt = json_object_get(body, "jwt");
	const char *text = json_string_value(jwt);
	size_t start = 0, len;
	json_t *trimmed;

	if (text == NULL || text[0] == '\0') {
		fprintf(stderr, "Error: -method=%s needs jwt=@FILE (the token file)\n", method);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(method, "kubernetes") == 0 && !json_is_string(json_object_get(body, "role"))) {
		fprintf(stderr, "Error: -method=kubernetes needs role=ROLE\n");
		return CLI_EXIT_USAGE;
	}
	len = json_string_length(jwt);
	while (start < len && isspace((unsigned char)text[start]))
		start++;
	while (len > start && isspace((unsigned char)text[len - 1]))
		len--;
	trimmed = json_stringn(text + start, len - start);
	if (trimmed == NULL || json_object_set_new(body, "jwt", trimmed) != 0) {
		fprintf(stderr, "Error: out of memory\n");
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

/* approle, kubernetes, jwt: POST auth/<mount>/login with the k=v arguments as the body. */
static int cmd_login_post(const char *method, const char *mount, int n, char *const *args,
                          json_t **answer, char **token)
{
	json_t *body = cli_values_parse(n, args);
	char *path = NULL;
	int rc = CLI_EXIT_USAGE;

	if (body == NULL)
		return rc;
	if (strcmp(method, "approle") != 0 &&
	    (rc = cmd_login_check_jwt(method, body)) != CLI_EXIT_OK)
		goto out;
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
	    {"method", CLI_FLAG_STRING, &method, "METHOD",
	     "token (the default), approle (role_id=... secret_id=@FILE), kubernetes (role=... "
	     "jwt=@FILE) or jwt (jwt=@FILE [role=...])."},
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
	if (!is_token && strcmp(method, "approle") != 0 && strcmp(method, "kubernetes") != 0 &&
	    strcmp(method, "jwt") != 0)
		return cli_usage_error(cmd, name, flags,
		                       "-method must be token, approle, kubernetes or jwt");
	if (is_token && n_args > 1)
		return cli_usage_error(cmd, name, flags, "takes at most one TOKEN");
	if (is_token)
		rc = cmd_login_token(n_args ? argv[1] : NULL, &answer, &token);
	else
		rc = cmd_login_post(method, mount ? mount : method, n_args, argv + 1, &answer,
		                    &token);
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
