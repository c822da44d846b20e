/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mounts.c: enable, disable and list for the things that are mounted at a path under sys/ with a
 * type: auth methods (sys/auth) and audit devices (sys/audit). cmd_auth.c and cmd_audit.c are
 * their tables.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* prefix + "/" + path without its trailing '/'; free(). NULL on no memory. */
static char *cli_mounts_path(const char *prefix, const char *path)
{
	size_t len = strlen(path);
	char *out = NULL;

	while (len > 0 && path[len - 1] == '/')
		len--;
	if (asprintf(&out, "%s/%.*s", prefix, (int)len, path) < 0)
		return NULL;
	return out;
}

int cli_mounts_enable(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                      const char *prefix)
{
	const char *path = NULL, *description = NULL;
	const struct cli_flag flags[] = {
	    {"path", CLI_FLAG_STRING, &path, "PATH", "Where to mount it (default: TYPE)."},
	    {"description", CLI_FLAG_STRING, &description, "TEXT", "A description for humans."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	json_t *options = NULL, *body = NULL;
	char *api = NULL;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	options = cli_values_parse(n_args - 1, argv + 2);
	if (options == NULL)
		return CLI_EXIT_USAGE;
	api = cli_mounts_path(prefix, path ? path : argv[1]);
	body = json_pack("{s:s, s:s, s:O}", "type", argv[1], "description",
	                 description ? description : "", "options", options);
	rc = CLI_EXIT_ERROR;
	if (api != NULL && body != NULL)
		rc = cli_client_run("POST", api, body, NULL, "Enabled.");
	json_decref(body);
	json_decref(options);
	free(api);
	return rc;
}

int cli_mounts_disable(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                       const char *prefix)
{
	char *api;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	api = cli_mounts_path(prefix, argv[1]);
	if (api == NULL)
		return CLI_EXIT_ERROR;
	rc = cli_client_run("DELETE", api, NULL, NULL, "Disabled.");
	free(api);
	return rc;
}

int cli_mounts_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                    const char *prefix, const char *const *cols)
{
	json_t *resp = NULL;
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 0, 0);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_client_call("GET", prefix, NULL, &resp);
	if (rc == CLI_EXIT_OK && cli_output_is_json())
		cli_print_json(json_object_get(resp, "data"));
	else if (rc == CLI_EXIT_OK)
		cli_print_rows(json_object_get(resp, "data"), "Path", cols);
	json_decref(resp);
	return rc;
}
