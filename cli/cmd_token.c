/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_token.c: `coffer token create|lookup|renew|revoke` over auth/token (API.md). lookup, renew
 * and revoke act on the caller's token (-self), a token given as "-"/@FILE (or, with a warning,
 * literally), or an accessor (-accessor), which is not a secret.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "secmem.h"

/* Set key in body to a duration or number flag when given. */
static void cmd_token_opt(json_t *body, const char *key, const char *value)
{
	if (value != NULL)
		json_object_set_new(body, key, json_string(value));
}

static int cmd_token_create(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *ttl = NULL, *max_ttl = NULL, *period = NULL, *uses = NULL, *display = NULL;
	const char *field = NULL;
	struct cli_flag_list policies = {{NULL}, 0};
	bool is_orphan = false;
	const struct cli_flag flags[] = {
	    {"policy", CLI_FLAG_LIST, &policies, "NAME", "A policy of the new token."},
	    {"ttl", CLI_FLAG_STRING, &ttl, "DURATION", "Time to live (e.g. 1h)."},
	    {"explicit-max-ttl", CLI_FLAG_STRING, &max_ttl, "DURATION",
	     "A hard limit that renewals cannot pass."},
	    {"period", CLI_FLAG_STRING, &period, "DURATION",
	     "A periodic token: each renewal sets its TTL to this."},
	    {"use-limit", CLI_FLAG_STRING, &uses, "N", "The token expires after N uses."},
	    {"orphan", CLI_FLAG_BOOL, &is_orphan, NULL,
	     "No parent: not revoked with the caller's token (needs sudo)."},
	    {"display-name", CLI_FLAG_STRING, &display, "NAME", "A name for humans."},
	    {"field", CLI_FLAG_STRING, &field, "FIELD", "Print only FIELD (e.g. token), raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *body, *list, *resp = NULL;
	int n_args, rc, i;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, 0, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	body = json_object();
	list = json_array();
	for (i = 0; i < policies.n; i++)
		json_array_append_new(list, json_string(policies.items[i]));
	if (policies.n > 0)
		json_object_set(body, "policies", list);
	json_decref(list);
	cmd_token_opt(body, "ttl", ttl);
	cmd_token_opt(body, "explicit_max_ttl", max_ttl);
	cmd_token_opt(body, "period", period);
	cmd_token_opt(body, "num_uses", uses);
	cmd_token_opt(body, "display_name", display);
	if (is_orphan)
		json_object_set_new(body, "no_parent", json_true());
	rc = cli_client_call("POST", "auth/token/create", body, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_print_auth(resp, field, true);
	json_decref(resp);
	json_decref(body);
	return rc;
}

/*
 * The token a command acts on: route suffix ("-self", "", "-accessor") and body ({token} or
 * {accessor}) from -self, -accessor and the optional argument. is_self_default: no argument
 * means -self. An exit code.
 */
static int cmd_token_target(const char *arg, bool is_accessor, bool is_self, bool is_self_default,
                            const char **suffix, json_t **body)
{
	char *token;

	if ((is_self || (arg == NULL && is_self_default)) && !is_accessor) {
		*suffix = "-self";
		*body = json_object();
		return arg == NULL ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	}
	if (arg == NULL)
		return CLI_EXIT_USAGE;
	if (is_accessor) {
		*suffix = "-accessor";
		*body = json_pack("{s:s}", "accessor", arg);
		return CLI_EXIT_OK;
	}
	token = cli_values_secret(arg, "token", "Token (will be hidden): ");
	if (token == NULL)
		return CLI_EXIT_ERROR;
	*suffix = "";
	*body = json_pack("{s:s}", "token", token);
	secmem_free(token);
	return CLI_EXIT_OK;
}

/* lookup, renew and revoke (route): the target, then POST auth/token/<route><suffix>. */
static int cmd_token_act(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                         const char *route)
{
	const char *increment = NULL, *field = NULL, *suffix = "";
	bool is_accessor = false, is_self = false, is_revoke = strcmp(route, "revoke") == 0;
	const struct cli_flag flags[] = {
	    {"accessor", CLI_FLAG_BOOL, &is_accessor, NULL, "The argument is a token accessor."},
	    {"self", CLI_FLAG_BOOL, &is_self, NULL, "Act on the token in use."},
	    {"increment", CLI_FLAG_STRING, &increment, "DURATION", "renew: the TTL asked for."},
	    {"field", CLI_FLAG_STRING, &field, "FIELD", "Print only FIELD, raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char path[64];
	bool is_get;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cmd_token_target(n_args ? argv[1] : NULL, is_accessor, is_self, !is_revoke, &suffix,
	                      &body);
	if (rc == CLI_EXIT_USAGE)
		rc = cli_usage_error(cmd, name, flags,
		                     "give a TOKEN (- for stdin), -accessor "
		                     "ACCESSOR, or -self (alone)");
	if (rc != CLI_EXIT_OK)
		goto out;
	if (increment != NULL)
		json_object_set_new(body, "increment", json_string(increment));
	snprintf(path, sizeof(path), "auth/token/%s%s", route, suffix);
	/* lookup-self is the one GET of the set. */
	is_get = strcmp(path, "auth/token/lookup-self") == 0;
	rc = cli_client_call(is_get ? "GET" : "POST", path, is_get ? NULL : body, &resp);
	if (rc == CLI_EXIT_OK && is_revoke)
		cli_print_success("Revoked the token (if it existed) and its children.");
	else if (rc == CLI_EXIT_OK && json_is_object(json_object_get(resp, "auth")))
		rc = cli_print_auth(resp, field, false);
	else if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, field, NULL);
out:
	json_decref(resp);
	json_decref(body);
	return rc;
}

static int cmd_token_lookup(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_token_act(cmd, name, argc, argv, "lookup");
}

static int cmd_token_renew(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_token_act(cmd, name, argc, argv, "renew");
}

static int cmd_token_revoke(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_token_act(cmd, name, argc, argv, "revoke");
}

const struct cli_cmd cli_token_cmds[] = {
    {"create", cmd_token_create, NULL, NULL, "Create a child token (or -orphan)",
     "Create a token with the -policy given (repeat the flag for more) and print it.\n"
     "-field=token prints only the token, for scripts."},
    {"lookup", cmd_token_lookup, NULL, "[TOKEN|-|@FILE|ACCESSOR]",
     "Show a token's properties (default: the token in use)", NULL},
    {"renew", cmd_token_renew, NULL, "[TOKEN|-|@FILE|ACCESSOR]",
     "Extend a token's lease (default: the token in use)", NULL},
    {"revoke", cmd_token_revoke, NULL, "TOKEN|-|@FILE|ACCESSOR",
     "Revoke a token and its children (-self: the token in use)", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
