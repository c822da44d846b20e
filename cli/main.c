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
    {"audit", NULL, cli_audit_cmds, NULL, "Interact with audit devices and logs", NULL},
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
    "Run \"coffer <command> -h\" for the help of a command.",
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
