/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c: the `coffer audit` commands. verify checks a file audit device's hash chain offline
 * with common/audit_chain.c; enable, disable and list go to sys/audit through mounts.c.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "audit_chain.h"
#include "cli.h"

/* The result as one JSON object; file, line and reason are null when the chain is intact. */
static void cmd_audit_verify_print_json(const struct audit_verify_result *res, int n_files)
{
	json_t *obj;
	bool is_ok = res->is_ok;

	obj = json_pack("{s:b, s:i, s:I, s:I, s:I}", "ok", is_ok, "files", n_files, "lines",
	                (json_int_t)res->n_lines, "first_seq", (json_int_t)res->first_seq,
	                "last_seq", (json_int_t)res->last_seq);
	if (obj == NULL) {
		fprintf(stderr, "coffer: out of memory\n");
		return;
	}
	json_object_set_new(obj, "file", is_ok ? json_null() : json_string(res->file));
	json_object_set_new(obj, "line",
	                    is_ok || res->line == 0 ? json_null()
	                                            : json_integer((json_int_t)res->line));
	json_object_set_new(obj, "reason", is_ok ? json_null() : json_string(res->reason));
	json_dumpf(obj, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(obj);
}

static void cmd_audit_verify_print_table(const struct audit_verify_result *res, int n_files)
{
	if (!res->is_ok) {
		fprintf(stderr, "%s:%llu: %s\n", res->file, (unsigned long long)res->line,
		        res->reason);
		return;
	}
	printf("ok: %d file%s, %llu line%s", n_files, n_files == 1 ? "" : "s",
	       (unsigned long long)res->n_lines, res->n_lines == 1 ? "" : "s");
	if (res->n_lines > 0)
		printf(", seq %llu..%llu", (unsigned long long)res->first_seq,
		       (unsigned long long)res->last_seq);
	printf("\n");
}

/* coffer audit verify [-format=table|json] FILE...: 0 intact, 1 broken or unreadable. */
static int cmd_audit_verify(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const struct cli_flag flags[] = {CLI_FLAG_FORMAT, CLI_FLAG_END};
	struct audit_verify_result res;
	bool is_json;
	int n_args, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 0, -1, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	is_json = cli_output_is_json();
	if (n_args == 0)
		return cli_usage_error(cmd, name, flags, "no FILE given");
	rc = audit_verify_files((const char *const *)(argv + 1), (size_t)n_args, &res);
	if (rc != 0) {
		/* The check could not run: a file is unreadable, or memory ran out. */
		fprintf(stderr, "%s: %s: %s\n", name, res.file[0] ? res.file : "(none)",
		        res.reason[0] ? res.reason : "verification failed");
		res.is_ok = false;
	}
	if (is_json)
		cmd_audit_verify_print_json(&res, n_args);
	else if (rc == 0)
		cmd_audit_verify_print_table(&res, n_args);
	return res.is_ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int cmd_audit_enable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_enable(cmd, name, argc, argv, "sys/audit");
}

static int cmd_audit_disable(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	return cli_mounts_disable(cmd, name, argc, argv, "sys/audit");
}

static int cmd_audit_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	static const char *const cols[] = {"type", "description", "options", NULL};

	return cli_mounts_list(cmd, name, argc, argv, "sys/audit", cols);
}

const struct cli_cmd cli_audit_cmds[] = {
    {"enable", cmd_audit_enable, NULL, "TYPE [file_path=PATH]", "Enable an audit device",
     "Enable an audit device of TYPE (file) at -path (default: TYPE), e.g.\n"
     "  coffer audit enable file file_path=/var/log/coffer/audit.log\n"
     "The server allows this only with \"allow_api_audit\" and inside its \"audit_dir\";\n"
     "devices are usually declared in its config file."},
    {"disable", cmd_audit_disable, NULL, "PATH", "Disable an audit device", NULL},
    {"list", cmd_audit_list, NULL, NULL, "List the audit devices", NULL},
    {"verify", cmd_audit_verify, NULL, "FILE...", "Check the hash chain of audit log files",
     "Check the hash chain of a file audit device's log: every line must follow the one\n"
     "before it by seq and by BLAKE2b hash. Give rotated files oldest first; the chain\n"
     "continues across them. The first broken line is printed to stderr as FILE:LINE: reason\n"
     "and the exit code is 1; an intact chain exits 0. The content of the very last line is\n"
     "covered only once a later line follows it."},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
