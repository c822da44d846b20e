/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flags.c: per-command flag parsing and help for the coffer CLI, in the Vault CLI's spelling
 * (-flag=value, --flag=value, -flag value). Every command handler calls cli_flags_parse() first.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_print_help(FILE *f, const struct cli_cmd *cmd, const char *name,
                    const struct cli_flag *flags)
{
	const struct cli_cmd *sub;
	const struct cli_flag *fl;

	if (cmd->subs != NULL)
		fprintf(f, "Usage: %s %s\n", name, cmd->args ? cmd->args : "<subcommand> [args]");
	else
		fprintf(f, "Usage: %s [flags]%s%s\n", name, cmd->args ? " " : "",
		        cmd->args ? cmd->args : "");
	if (cmd->help != NULL)
		fprintf(f, "\n%s\n", cmd->help);
	if (cmd->subs != NULL) {
		fprintf(f, "\nSubcommands:\n");
		for (sub = cmd->subs; sub->name != NULL; sub++)
			fprintf(f, "    %-12s %s\n", sub->name, sub->summary);
	}
	fprintf(f, "\nFlags:\n");
	for (fl = flags; fl != NULL && fl->name != NULL; fl++) {
		if (fl->kind != CLI_FLAG_BOOL)
			fprintf(f, "  -%s=%s%s\n", fl->name,
			        fl->value_name ? fl->value_name : "VALUE",
			        fl->kind == CLI_FLAG_LIST ? " (repeatable)" : "");
		else
			fprintf(f, "  -%s\n", fl->name);
		fprintf(f, "      %s\n", fl->help);
	}
	fprintf(f, "  -h, -help\n      Show this help.\n");
}

int cli_usage_error(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                    const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n");
	cli_print_help(stderr, cmd, name, flags);
	return CLI_EXIT_USAGE;
}

static const struct cli_flag *cli_flag_find(const struct cli_flag *flags, const char *s, size_t len)
{
	for (; flags != NULL && flags->name != NULL; flags++) {
		if (strlen(flags->name) == len && memcmp(flags->name, s, len) == 0)
			return flags;
	}
	return NULL;
}

/* Append value to a repeatable flag's list. */
static int cli_flag_list_add(const struct cli_cmd *cmd, const char *name,
                             const struct cli_flag *flags, const struct cli_flag *fl,
                             const char *value)
{
	struct cli_flag_list *list = fl->dst;

	if (list->n >= CLI_FLAG_LIST_MAX)
		return cli_usage_error(cmd, name, flags, "-%s is given more than %d times",
		                       fl->name, CLI_FLAG_LIST_MAX);
	list->items[list->n++] = value;
	return CLI_CONTINUE;
}

/*
 * Apply the flag in argv[*i] (it starts with '-' and is not "-" or "--"); a string flag without
 * "=value" takes argv[*i + 1] and advances *i. CLI_CONTINUE, or an exit code as cli_flags_parse().
 */
static int cli_flag_apply(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                          int argc, char **argv, int *i)
{
	const char *arg = argv[*i], *s = arg + 1, *eq, *value;
	const struct cli_flag *fl;
	size_t len;

	if (*s == '-')
		s++;
	eq = strchr(s, '=');
	len = eq ? (size_t)(eq - s) : strlen(s);
	value = eq ? eq + 1 : NULL;
	if (value == NULL && (strcmp(s, "h") == 0 || strcmp(s, "help") == 0)) {
		cli_print_help(stdout, cmd, name, flags);
		return CLI_EXIT_OK;
	}
	fl = cli_flag_find(flags, s, len);
	if (fl == NULL)
		return cli_usage_error(cmd, name, flags, "unknown flag %.*s",
		                       (int)(len + (s - arg)), arg);
	if (fl->kind == CLI_FLAG_BOOL) {
		if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(bool *)fl->dst = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			*(bool *)fl->dst = false;
		else
			return cli_usage_error(cmd, name, flags,
			                       "-%s takes true or false, not \"%s\"", fl->name,
			                       value);
		return CLI_CONTINUE;
	}
	if (value == NULL) {
		if (*i + 1 >= argc)
			return cli_usage_error(cmd, name, flags, "-%s needs a value", fl->name);
		value = argv[++*i];
	}
	if (fl->kind == CLI_FLAG_LIST)
		return cli_flag_list_add(cmd, name, flags, fl, value);
	*(const char **)fl->dst = value;
	return CLI_CONTINUE;
}

int cli_flags_parse(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                    int argc, char **argv, int *n_args)
{
	bool is_flags_done = false;
	int i, n = 0, rc;

	*n_args = 0;
	for (i = 1; i < argc; i++) {
		/* Positional arguments move down over the flags already consumed: 1 + n <= i. */
		if (is_flags_done || argv[i][0] != '-' || argv[i][1] == '\0') {
			argv[1 + n++] = argv[i];
			continue;
		}
		if (strcmp(argv[i], "--") == 0) {
			is_flags_done = true;
			continue;
		}
		rc = cli_flag_apply(cmd, name, flags, argc, argv, &i);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	*n_args = n;
	return CLI_CONTINUE;
}
