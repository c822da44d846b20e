/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_lease.c: `coffer lease lookup|renew|revoke` over sys/leases (API.md). Every token is a lease
 * ("auth/token/create/<32 random characters>", shown as lease_id by `coffer token lookup`); the
 * server acts on a token's lease only for that token or a sudo caller.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_lease_lookup(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	json_t *body;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	body = json_pack("{s:s}", "lease_id", argv[1]);
	rc = cli_client_run("PUT", "sys/leases/lookup", body, NULL, NULL);
	json_decref(body);
	return rc;
}

static int cmd_lease_renew(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *increment = NULL;
	const struct cli_flag flags[] = {
	    {"increment", CLI_FLAG_STRING, &increment, "DURATION", "The TTL asked for."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *body;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	body = json_pack("{s:s}", "lease_id", argv[1]);
	if (increment != NULL)
		json_object_set_new(body, "increment", json_string(increment));
	rc = cli_client_run("PUT", "sys/leases/renew", body, NULL, "Renewed the lease.");
	json_decref(body);
	return rc;
}

static int cmd_lease_revoke(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	bool is_prefix = false, is_force = false;
	const struct cli_flag flags[] = {
	    {"prefix", CLI_FLAG_BOOL, &is_prefix, NULL, "Revoke every lease under the prefix ID."},
	    {"force", CLI_FLAG_BOOL, &is_force, NULL,
	     "With -prefix: forget the leases even if revoking fails (needs sudo)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *body = NULL;
	char *path = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, 1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (is_force && !is_prefix)
		return cli_usage_error(cmd, name, flags, "-force needs -prefix");
	if (is_prefix) {
		if (asprintf(&path, "sys/leases/%s/%s", is_force ? "revoke-force" : "revoke-prefix",
		             argv[1]) < 0)
			return CLI_EXIT_ERROR;
		rc =
		    cli_client_run("PUT", path, NULL, NULL, "Revoked the leases under the prefix.");
	} else {
		body = json_pack("{s:s}", "lease_id", argv[1]);
		rc = cli_client_run("PUT", "sys/leases/revoke", body, NULL, "Revoked the lease.");
	}
	json_decref(body);
	free(path);
	return rc;
}

const struct cli_cmd cli_lease_cmds[] = {
    {"lookup", cmd_lease_lookup, NULL, "ID", "Show a lease (e.g. auth/token/create/ACCESSOR)",
     NULL},
    {"renew", cmd_lease_renew, NULL, "ID", "Extend a lease", NULL},
    {"revoke", cmd_lease_revoke, NULL, "ID", "Revoke a lease, or every lease under -prefix", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
