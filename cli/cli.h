/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h: the coffer command-line program (DESIGN.md §8). Commands form a tree of tables: a group
 * ("audit") has a table of subcommands, a leaf ("verify") a handler. A new command is one entry in
 * a table plus a handler in cli/cmd_<group>.c; flags are declared per handler as a table.
 */
#ifndef COFFER_CLI_H
#define COFFER_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit codes, as the Vault CLI's. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1
#define CLI_EXIT_USAGE 2
/* Not an exit code: cli_flags_parse() says the command should run. */
#define CLI_CONTINUE (-1)

struct cli_cmd;

/*
 * A command's handler. argv[0] is the command's own name and argv[1..argc) its arguments, flags
 * not yet parsed; name is the full command ("coffer audit verify") for messages. Returns an exit
 * code.
 */
typedef int (*cli_cmd_fn)(const struct cli_cmd *cmd, const char *name, int argc, char **argv);

struct cli_cmd {
	const char *name;
	cli_cmd_fn fn;              /* NULL for a group */
	const struct cli_cmd *subs; /* a group's subcommands, ended by a NULL name */
	const char *args;           /* positional arguments for the usage line, e.g. "FILE..." */
	const char *summary;        /* one line, for the parent's command list */
	const char *help;           /* a paragraph for -h, or NULL */
};

enum cli_flag_kind {
	CLI_FLAG_BOOL,  /* -name, -name=true|false */
	CLI_FLAG_STRING /* -name=value or -name value */
};

struct cli_flag {
	const char *name; /* without dashes */
	enum cli_flag_kind kind;
	void *dst;              /* bool * or const char ** (pointing into argv) */
	const char *value_name; /* for help: "-format=FORMAT" */
	const char *help;
};

/* flags.c */
/*
 * Parse the flags of a command, accepted as -name or --name, with =value or (string flags) the
 * next argument as the value; -h, -help and --help print the help to stdout. Flags and positional
 * arguments may be mixed; "--" ends the flags; a lone "-" is positional. The positional arguments
 * are moved to argv[1..1 + *n_args). flags may be NULL (only -h) and ends with a NULL name.
 * Returns CLI_CONTINUE, or an exit code to return at once: CLI_EXIT_OK after the help,
 * CLI_EXIT_USAGE after a message and the help on stderr.
 */
int cli_flags_parse(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                    int argc, char **argv, int *n_args);
/* The help of cmd (usage line, paragraph, subcommands, flags) to f. flags may be NULL. */
void cli_print_help(FILE *f, const struct cli_cmd *cmd, const char *name,
                    const struct cli_flag *flags);
/* Print "name: message" and the help of cmd to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* main.c */
/* Run the group cmd: find argv[1] among its subcommands and call it. */
int cli_dispatch(const struct cli_cmd *cmd, const char *name, int argc, char **argv);

/* cmd_audit.c */
extern const struct cli_cmd cli_audit_cmds[];

#endif
