/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: the coffer program's entry: library set-up, -version, and the table of top-level
 * commands that cli_dispatch() walks down to a handler (DESIGN.md §8).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "json.h"

static int cli_version(const struct cli_cmd *cmd, const char *name, int argc, char **argv);

static const struct cli_cmd cli_root_cmds[] = {
    {"status", cmd_status, NULL, NULL, "Show the seal status (exit 0 unsealed, 2 sealed)", NULL},
    {"login", cmd_login, NULL,
     "[TOKEN|-|@FILE] | -method=approle role_id=... secret_id=@FILE\n"
     "       coffer login -method=kubernetes role=ROLE jwt=@FILE | -method=jwt jwt=@FILE "
     "[role=ROLE]",
     "Log in and keep the token in ~/.coffer-token",
     "Check a token (read from stdin or a prompt without echo when not given) or log in\n"
     "with AppRole, a Kubernetes service-account token or another JWT (-path=MOUNT when\n"
     "the method is not mounted at its name), and store the token in ~/.coffer-token\n"
     "(mode 0600) for later commands. COFFER_TOKEN, when set, wins over the stored token."},
    {"operator", NULL, cli_operator_cmds, NULL, "Initialize, unseal, seal, rotate keys", NULL},
    {"kv", NULL, cli_kv_cmds, NULL, "Read and write KV secrets (versions 1 and 2)", NULL},
    {"token", NULL, cli_token_cmds, NULL, "Create, look up, renew and revoke tokens", NULL},
    {"policy", NULL, cli_policy_cmds, NULL, "Write, read, list and delete ACL policies", NULL},
    {"auth", NULL, cli_auth_cmds, NULL, "Enable, disable and list auth methods", NULL},
    {"audit", NULL, cli_audit_cmds, NULL, "Interact with audit devices and logs", NULL},
    {"lease", NULL, cli_lease_cmds, NULL, "Look up, renew and revoke leases", NULL},
    {"read", cmd_read, NULL, "PATH [KEY=VALUE...]", "Read any API path", NULL},
    {"write", cmd_write, NULL, "PATH [KEY=VALUE...|-]", "Write to any API path",
     "POST the KEY=VALUE pairs (VALUE may be @FILE or - for stdin) as a JSON object to\n"
     "PATH; a lone - reads the whole JSON body from stdin."},
    {"list", cmd_list, NULL, "PATH", "List any API path", NULL},
    {"delete", cmd_delete, NULL, "PATH [KEY=VALUE...]", "Delete at any API path", NULL},
    {"version", cli_version, NULL, NULL, "Print the version", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const struct cli_cmd cli_root = {
    "coffer",
    NULL,
    cli_root_cmds,
    "[-version] <command> [args]",
    NULL,
    "A client for Coffer, a secrets vault with HashiCorp Vault's HTTP API.\n"
    "Run \"coffer <command> -h\" for the help of a command.\n\n"
    "Environment: COFFER_ADDR (default http://127.0.0.1:8200), COFFER_TOKEN (else the token\n"
    "in ~/.coffer-token), COFFER_CACERT (a PEM file to verify https), COFFER_FORMAT.\n"
    "Exit codes: 0 ok, 1 error, 2 usage error or not found.",
};

static int cli_version(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	int n_args, rc;

	rc = cli_flags_parse(cmd, name, NULL, argc, argv, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (n_args != 0)
		return cli_usage_error(cmd, name, NULL, "takes no arguments");
	printf("coffer %s\n", COFFER_VERSION);
	return CLI_EXIT_OK;
}

static bool cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "-help") == 0 || strcmp(arg, "--help") == 0;
}

int cli_dispatch(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const struct cli_cmd *sub;
	char sub_name[256];

	if (argc < 2) {
		cli_print_help(stderr, cmd, name, NULL);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		cli_print_help(stdout, cmd, name, NULL);
		return CLI_EXIT_OK;
	}
	if (argv[1][0] == '-')
		return cli_usage_error(cmd, name, NULL, "unknown flag %s", argv[1]);
	for (sub = cmd->subs; sub->name != NULL; sub++) {
		if (strcmp(sub->name, argv[1]) == 0)
			break;
	}
	if (sub->name == NULL)
		return cli_usage_error(cmd, name, NULL, "unknown command \"%s\"", argv[1]);
	snprintf(sub_name, sizeof(sub_name), "%s %s", name, sub->name);
	if (sub->fn != NULL)
		return sub->fn(sub, sub_name, argc - 1, argv + 1);
	return cli_dispatch(sub, sub_name, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	static char version_cmd[] = "version";
	int rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "coffer: cannot initialise libsodium\n");
		return CLI_EXIT_ERROR;
	}
	coffer_json_init();
	/* As in the Vault CLI, -version is the version command. */
	if (argc >= 2 && (strcmp(argv[1], "-version") == 0 || strcmp(argv[1], "--version") == 0 ||
	                  strcmp(argv[1], "-v") == 0))
		argv[1] = version_cmd;
	rc = cli_dispatch(&cli_root, "coffer", argc, argv);
	/* Output that did not reach its file (a full disk, a closed pipe) is a failure. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "coffer: writing the output: %s\n", strerror(errno));
		return CLI_EXIT_ERROR;
	}
	return rc;
}
