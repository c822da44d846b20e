/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_auth.c: `coffer auth enable|disable|list` over sys/auth (API.md); the work is in mounts.c.
 */
#include "cli.h"

static int cmd_auth_enable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_enable(cmd, name, argc, argv, "sys/auth");
}

static int cmd_auth_disable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_disable(cmd, name, argc, argv, "sys/auth");
}

static int cmd_auth_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	static const char *const cols[] = {"type", "accessor", "description", NULL};

	return cli_mounts_list(cmd, name, argc, argv, "sys/auth", cols);
}

const struct cli_cmd cli_auth_cmds[] = {
    {"enable", cmd_auth_enable, NULL, "TYPE", "Enable an auth method (e.g. approle)",
     "Mount the auth method TYPE at -path (default: TYPE), e.g. coffer auth enable approle."},
    {"disable", cmd_auth_disable, NULL, "PATH", "Disable an auth method and revoke its tokens",
     NULL},
    {"list", cmd_auth_list, NULL, NULL, "List the auth methods", NULL},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
