/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_policy.c: `coffer policy write|read|list|delete` over sys/policies/acl (API.md). A policy is
 * Vault's HCL subset or its JSON form, read from a file or stdin.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "sys/policies/acl/" + name into buf; -1 after a message when it does not fit. */
static int cmd_policy_path(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "sys/policies/acl/%s", name);

	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "Error: the policy name is too long\n");
		return -1;
	}
	return 0;
}

/* The arguments of a command on one policy (NAME and n_args - 1 more) and its API path:
 * CLI_CONTINUE, or the exit code. */
static int cmd_policy_args(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                           int n_args, char path[512])
{
	int rc = cli_args_plain(cmd, name, argc, argv, n_args, n_args);

	if (rc == CLI_CONTINUE && cmd_policy_path(argv[1], path, 512) != 0)
		rc = CLI_EXIT_USAGE;
	return rc;
}

static int cmd_policy_write(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	json_t *text, *body;
	char path[512], msg[512];
	int rc;

	rc = cmd_policy_args(cmd, name, argc, argv, 2, path);
	if (rc != CLI_CONTINUE)
		return rc;
	text = cli_values_text(argv[2]);
	if (text == NULL)
		return CLI_EXIT_ERROR;
	body = json_pack("{s:o}", "policy", text);
	snprintf(msg, sizeof(msg), "Uploaded policy: %s", argv[1]);
	rc = cli_client_run("PUT", path, body, NULL, msg);
	json_decref(body);
	return rc;
}

static int cmd_policy_read(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	json_t *resp = NULL;
	char path[512];
	int rc;

	rc = cmd_policy_args(cmd, name, argc, argv, 1, path);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("GET", path, NULL, &resp);
	/* For people, the policy text as written; it ends with its own newline. */
	if (rc == CLI_EXIT_OK && !cli_output_is_json())
		rc = cli_print_field(json_object_get(resp, "data"), "policy");
	else if (rc == CLI_EXIT_OK)
		cli_print_json(resp);
	json_decref(resp);
	return rc;
}

static int cmd_policy_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	return cli_client_list("sys/policies/acl", "sys/policies/acl");
}

static int cmd_policy_delete(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	char path[512], msg[512];
	int rc;

	rc = cmd_policy_args(cmd, name, argc, argv, 1, path);
	if (rc != CLI_CONTINUE)
		return rc;
	snprintf(msg, sizeof(msg), "Deleted policy: %s", argv[1]);
	return cli_client_run("DELETE", path, NULL, NULL, msg);
}

const struct cli_cmd cli_policy_cmds[] = {
    {"write", cmd_policy_write, NULL, "NAME FILE|-", "Create or replace a policy",
     "Upload the policy NAME from FILE, or from stdin with -. HCL:\n"
     "  path \"secret/data/app/*\" { capabilities = [\"read\"] }"},
    {"read", cmd_policy_read, NULL, "NAME", "Print a policy", NULL},
    {"list", cmd_policy_list, NULL, NULL, "List the policies", NULL},
    {"delete", cmd_policy_delete, NULL, "NAME", "Delete a policy", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
