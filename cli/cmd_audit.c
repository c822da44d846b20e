/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c: the `coffer audit` commands. verify checks a file audit device's hash chain offline
 * with common/audit_chain.c; enable, list and disable (HTTP) come with issue #6.
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
	const char *format = "table";
	const struct cli_flag flags[] = {
	    {"format", CLI_FLAG_STRING, &format, "FORMAT",
	     "Print the result as \"table\" (for people, the default) or \"json\"."},
	    {NULL, CLI_FLAG_BOOL, NULL, NULL, NULL},
	};
	struct audit_verify_result res;
	bool is_json;
	int n_args, rc;

	rc = cli_flags_parse(cmd, name, flags, argc, argv, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	is_json = strcmp(format, "json") == 0;
	if (!is_json && strcmp(format, "table") != 0)
		return cli_usage_error(cmd, name, flags,
		                       "-format must be table or json, not \"%s\"", format);
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

const struct cli_cmd cli_audit_cmds[] = {
    {"verify", cmd_audit_verify, NULL, "FILE...", "Check the hash chain of audit log files",
     "Check the hash chain of a file audit device's log: every line must follow the one\n"
     "before it by seq and by BLAKE2b hash. Give rotated files oldest first; the chain\n"
     "continues across them. The first broken line is printed to stderr as FILE:LINE: reason\n"
     "and the exit code is 1; an intact chain exits 0. The content of the very last line is\n"
     "covered only once a later line follows it."},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
