/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_generic.c: `coffer read|write|list|delete PATH [KEY=VALUE...]`, raw access to any API path
 * (the Vault CLI's generic commands): write sends the pairs as the JSON body, read and delete as
 * the query.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* read and delete: method on PATH + "?k=v&...". */
static int cmd_generic_query(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                             const char *method, const char *success)
{
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", CLI_FLAG_STRING, &field, "FIELD", "Print only FIELD of the data, raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct buf path = {0};
	json_t *resp = NULL;
	char msg[600];
	long status;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	/* The query may carry values read from files: it is built and wiped in a struct buf. */
	if (buf_append(&path, argv[1], strlen(argv[1])) != 0) {
		fprintf(stderr, "Error: out of memory\n");
		return CLI_EXIT_ERROR;
	}
	if (cli_values_query(&path, n_args - 1, argv + 2) != 0) {
		buf_free(&path);
		return CLI_EXIT_USAGE;
	}
	rc = cli_client_send(method, path.data, NULL, &status, &resp);
	if (rc == CLI_EXIT_OK)
		rc = cli_client_status_exit(method, argv[1], status, resp);
	snprintf(msg, sizeof(msg), "%s %s", success, argv[1]);
	if (rc == CLI_EXIT_OK)
		rc = cli_print_response(resp, field, msg);
	json_decref(resp);
	buf_free(&path);
	return rc;
}

int cmd_read(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_generic_query(cmd, name, argc, argv, "GET", "Nothing to show at");
}

int cmd_delete(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cmd_generic_query(cmd, name, argc, argv, "DELETE",
	                         "Data deleted (if it existed) at:");
}

int cmd_write(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", CLI_FLAG_STRING, &field, "FIELD", "Print only FIELD of the answer, raw."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	char msg[600];
	json_t *body;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 1, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	body = cli_values_parse(n_args - 1, argv + 2);
	if (body == NULL)
		return CLI_EXIT_USAGE;
	snprintf(msg, sizeof(msg), "Data written to: %s", argv[1]);
	rc = cli_client_run("POST", argv[1], body, field, msg);
	json_decref(body);
	return rc;
}

int cmd_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	int rc;

	rc = cli_args_plain(cmd, name, argc, argv, 1, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	return cli_client_list(argv[1], argv[1]);
}
