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

#include <jansson.h>

#include "buf.h"

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
	CLI_FLAG_BOOL,   /* -name, -name=true|false */
	CLI_FLAG_STRING, /* -name=value or -name value */
	CLI_FLAG_LIST    /* a string flag that may be repeated; dst is a struct cli_flag_list * */
};

#define CLI_FLAG_LIST_MAX 64

/* The values of a repeatable flag, in order (pointing into argv). */
struct cli_flag_list {
	const char *items[CLI_FLAG_LIST_MAX];
	int n;
};

struct cli_flag {
	const char *name; /* without dashes */
	enum cli_flag_kind kind;
	void *dst;              /* bool *, const char ** (pointing into argv) or cli_flag_list * */
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

/* args.c */
/* The end of a flag table. */
#define CLI_FLAG_END                                                                               \
	{                                                                                          \
		NULL, CLI_FLAG_BOOL, NULL, NULL, NULL                                              \
	}
/*
 * cli_flags_parse(), then the checks every command shares: -format is table or json, and there
 * are min_args..max_args positional arguments (max_args -1: no limit). Same returns.
 */
int cli_args_parse(const struct cli_cmd *cmd, const char *name, const struct cli_flag *flags,
                   int argc, char **argv, int min_args, int max_args, int *n_args);
/* cli_args_parse() for a command whose only flag is -format. Same returns. */
int cli_args_plain(const struct cli_cmd *cmd, const char *name, int argc, char **argv, int min_args,
                   int max_args);
/* Parse a decimal integer flag value into *out; -1 and a message on stderr when it is not one. */
int cli_args_int(const char *name, const char *flag, const char *value, long long min,
                 long long max, long long *out);

/* output.c */
/* -format: NULL means $COFFER_FORMAT, else "table". Set by the flag tables' CLI_FLAG_FORMAT. */
extern const char *cli_output_format;
#define CLI_FLAG_FORMAT                                                                            \
	{                                                                                          \
		"format", CLI_FLAG_STRING, &cli_output_format, "FORMAT",                           \
		    "Print \"table\" (for people, the default; env COFFER_FORMAT) or \"json\"."    \
	}
/* 0 when the format (flag or environment) is table or json, else -1. */
int cli_output_check(void);
bool cli_output_is_json(void);
/* v as indented JSON and a newline. */
void cli_print_json(const json_t *v);
/* A section title ("== Data =="), after a blank line unless it is the first output. */
void cli_print_section(const char *title);
/* An object as a two-column Key/Value table, keys sorted; NULL or empty prints nothing. */
void cli_print_table(const json_t *obj);
/* One value as text: strings raw, null as "n/a", anything else as compact JSON. */
void cli_print_value(FILE *f, const json_t *v);
/* A list answer's data.keys as a one-column table. */
void cli_print_keys(const json_t *resp);
/* The value of field in obj, raw (a newline only on a terminal, as the Vault CLI); exit code 2
 * with a message when obj has no such field. */
int cli_print_field(const json_t *obj, const char *field);
/* The server's warnings ("warnings" of an envelope) to stderr. */
void cli_print_warnings(const json_t *resp);
/* "Success! ..." on stdout in table format; nothing in json format (there is no data). */
void cli_print_success(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The usual rendering of an API answer: json prints it whole; field prints one field of data
 * (or auth); table prints data and auth as tables, or success_msg when the answer had no body.
 * Returns an exit code.
 */
int cli_print_response(const json_t *resp, const char *field, const char *success_msg);
/*
 * The auth block of resp as the Vault CLI shows it (token, token_accessor, token_duration,
 * token_renewable, token_policies, policies); the token only when show_token. field (may be
 * NULL) prints one of these (or of the raw auth block); json prints resp whole.
 */
int cli_print_auth(const json_t *resp, const char *field, bool show_token);
/* A map of mounts or devices (sys/auth, sys/audit data) as rows: the key under first_col, then
 * the fields named by cols (NULL-terminated), each as text. */
void cli_print_rows(const json_t *map, const char *first_col, const char *const *cols);

/* client.c */
/* Use token instead of $COFFER_TOKEN / the token file from now on (login checks a new token). */
int cli_client_set_token(const char *token);
/*
 * Send a request (the token attached when there is one). Returns CLI_EXIT_OK with the status and
 * the answer (may be NULL), or CLI_EXIT_ERROR after a message when no answer came.
 */
int cli_client_send(const char *method, const char *path, const json_t *body, long *status,
                    json_t **resp);
/* The exit code of an answer: 2xx 0, 404 2, else 1; prints the server's errors when not 2xx
 * ("No value found at PATH" for a 404 without messages). */
int cli_client_status_exit(const char *method, const char *path, long status, const json_t *resp);
/* cli_client_send() then cli_client_status_exit(); *resp is set only on 2xx (may be NULL). */
int cli_client_call(const char *method, const char *path, const json_t *body, json_t **resp);
/* cli_client_call() then cli_print_response(resp, field, success_msg). An exit code. */
int cli_client_run(const char *method, const char *path, const json_t *body, const char *field,
                   const char *success_msg);
/* LIST path: the exit code of cli_client_status_exit() (an empty list: 2), messages naming it
 * shown; on success its keys printed (json: the keys array). */
int cli_client_list(const char *path, const char *shown);
/* Whether an answer is the KV check-and-set mismatch (400). */
bool cli_client_is_cas_error(long status, const json_t *resp);

/* token_file.c */
/* "$HOME/.coffer-token" into buf; -1 when HOME is unset or too long. */
int cli_token_file_path(char *buf, size_t len);
/* The token of $COFFER_TOKEN, else of the token file, in secmem (secmem_free); NULL if none. */
char *cli_token_load(void);
/* Write the token file atomically with mode 0600 (temp file + rename). 0, or -1 after a
 * message. */
int cli_token_save(const char *token);

/* values.c */
/*
 * The data of k=v arguments as a JSON object: "k=v" (a warning when v looks secret), "k=@FILE"
 * (the file's bytes), "k=-" (stdin: one line without echo on a terminal, else all of it), "k=\@v"
 * (a literal @v); a lone "-" reads a JSON object from stdin. A key given several times gets the
 * list of its values (Vault's CLI; a comma string stays a string, for the server to split). NULL
 * after a message (usage error).
 */
json_t *cli_values_parse(int n, char *const *args);
/* Append the k=v arguments to q as a URL query ("?k=v&...", "&k=v..." when q holds one; nothing
 * when n is 0), values escaped. 0, or -1 after a message. */
int cli_values_query(struct buf *q, int n, char *const *args);
/*
 * A secret given as a positional argument: arg "-" or NULL reads stdin (one line without echo on a
 * terminal, after prompt), "@FILE" reads a file, anything else is taken literally with a warning
 * that it stays in the shell history. Surrounding whitespace is removed. The result is in secmem
 * (secmem_free); NULL after a message.
 */
char *cli_values_secret(const char *arg, const char *what, const char *prompt);
/* The text of FILE, or of stdin for "-", as a JSON string; NULL after a message. */
json_t *cli_values_text(const char *src);

/* kv_path.c */
/* A KV path resolved to its mount (sys/internal/ui/mounts), as the Vault CLI does. */
struct cli_kv_path {
	char *mount; /* "secret/" */
	char *rel;   /* "app/db", may be "" */
	int version; /* 1 or 2 */
	char *api;   /* the API path for the segment given to cli_kv_path_resolve() */
	char *text;  /* mount + rel, for messages */
};
/*
 * Resolve path (mount-prefixed, or relative to mount_flag when given) and set api for segment
 * ("data", "metadata", ...; ignored on v1). v2_op (may be NULL) names an operation that needs KV
 * v2, for the message when the mount is v1. An exit code; out is freed on failure.
 */
int cli_kv_path_resolve(const char *mount_flag, const char *path, const char *segment,
                        const char *v2_op, struct cli_kv_path *out);
/* The API path: v2 mount + segment + "/" + rel ("secret/data/app/db"), v1 mount + rel. free();
 * NULL after a message. */
char *cli_kv_path_api(const struct cli_kv_path *p, const char *segment);
void cli_kv_path_free(struct cli_kv_path *p);
/* Explain a 404 read of p (a deleted or destroyed version comes with its metadata, API.md);
 * returns CLI_EXIT_USAGE (not found). */
int cli_kv_path_missing(const struct cli_kv_path *p, const json_t *resp);
/* The -mount flag of the kv commands; dst is a const char **. */
#define CLI_FLAG_KV_MOUNT(dst)                                                                     \
	{                                                                                          \
		"mount", CLI_FLAG_STRING, (dst), "MOUNT",                                          \
		    "The KV mount (e.g. secret); PATH is then relative to it. Without it, PATH "   \
		    "starts with "                                                                 \
		    "the mount (secret/app/db)."                                                   \
	}
/* Parse "1,2,3" into a JSON array of version numbers; NULL after a message. */
json_t *cli_kv_versions_parse(const char *name, const char *text);

/* mounts.c: the enable/disable/list commands of sys/auth and sys/audit (prefix). */
/* enable [-path=P] [-description=D] TYPE [KEY=VALUE options...]: POST prefix/P. */
int cli_mounts_enable(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                      const char *prefix);
/* disable PATH: DELETE prefix/PATH. */
int cli_mounts_disable(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                       const char *prefix);
/* list: GET prefix, one row per path with the fields cols (NULL-terminated). */
int cli_mounts_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv,
                    const char *prefix, const char *const *cols);

/* Command tables of the groups, one file each. */
extern const struct cli_cmd cli_audit_cmds[];    /* cmd_audit.c */
extern const struct cli_cmd cli_auth_cmds[];     /* cmd_auth.c */
extern const struct cli_cmd cli_kv_cmds[];       /* cmd_kv.c */
extern const struct cli_cmd cli_kv_meta_cmds[];  /* cmd_kv_meta.c */
extern const struct cli_cmd cli_lease_cmds[];    /* cmd_lease.c */
extern const struct cli_cmd cli_operator_cmds[]; /* cmd_operator.c */
extern const struct cli_cmd cli_policy_cmds[];   /* cmd_policy.c */
extern const struct cli_cmd cli_token_cmds[];    /* cmd_token.c */
/* Single commands. */
int cmd_status(const struct cli_cmd *cmd, const char *name, int argc, char **argv); /* status */
int cmd_login(const struct cli_cmd *cmd, const char *name, int argc, char **argv);  /* login */
int cmd_kv_rotate(const struct cli_cmd *cmd, const char *name, int argc,
                  char **argv); /* cmd_kv_rotate.c */
/* cmd_generic.c: read, write, list, delete */
int cmd_read(const struct cli_cmd *cmd, const char *name, int argc, char **argv);
int cmd_write(const struct cli_cmd *cmd, const char *name, int argc, char **argv);
int cmd_list(const struct cli_cmd *cmd, const char *name, int argc, char **argv);
int cmd_delete(const struct cli_cmd *cmd, const char *name, int argc, char **argv);

#endif
