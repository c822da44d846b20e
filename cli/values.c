/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values.c: where secret values come from: k=v arguments with @FILE and - (stdin) so that secrets
 * stay out of argv, the shell history and ps; prompts without echo; and the warning when a value
 * that looks secret is typed literally. Every buffer that held a value is wiped.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "http_client.h"
#include "secmem.h"

#define CLI_VALUE_MAX (1u << 20) /* the server's default max_request_size */
#define CLI_LINE_MAX 8192

static bool cli_stdin_is_used;

/* A value read from a file or stdin: bytes in heap memory that is wiped on release. */
struct cli_value {
	char *data;
	size_t len, cap;
};

static void cli_value_release(struct cli_value *v)
{
	secmem_freezero(v->data, v->cap);
	v->data = NULL;
	v->len = v->cap = 0;
}

/* Read fd to its end into v, growing by copy-and-wipe. 0, or -1 with errno (EFBIG: too big). */
static int cli_value_read_fd(int fd, struct cli_value *v)
{
	ssize_t n;

	for (;;) {
		if (v->len + 1 >= v->cap) {
			if (v->cap > CLI_VALUE_MAX) {
				errno = EFBIG;
				return -1;
			}
			if (secmem_grow(&v->data, &v->cap, v->len, v->cap ? v->cap * 2 : 4096,
			                4096) != 0)
				return -1;
		}
		n = read(fd, v->data + v->len, v->cap - v->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		v->len += (size_t)n;
	}
	v->data[v->len] = '\0';
	return 0;
}

/* The terminal's settings while a prompt has echo off, for the signal handler below. */
static struct termios cli_tty_saved;
static const int cli_tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Ctrl-C (or another fatal signal) at a prompt: give the terminal its echo back, then die of
 * the signal as usual. Only async-signal-safe calls. */
static void cli_tty_restore_and_die(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &cli_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Install (on) or remove the handler above for the fatal terminal signals. */
static void cli_tty_guard(bool on, struct sigaction old[4])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_tty_restore_and_die;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 4; i++) {
		if (on)
			sigaction(cli_tty_signals[i], &sa, &old[i]);
		else
			sigaction(cli_tty_signals[i], &old[i], NULL);
	}
}

/* One line from the terminal on stdin with echo off, after prompt on stderr. */
static int cli_value_prompt(const char *prompt, struct cli_value *v)
{
	struct termios old, quiet;
	struct sigaction old_actions[4];
	bool is_quiet;
	char c;
	ssize_t n;

	v->cap = CLI_LINE_MAX;
	v->data = malloc(v->cap);
	if (v->data == NULL)
		return -1;
	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	is_quiet = tcgetattr(STDIN_FILENO, &old) == 0;
	if (is_quiet) {
		cli_tty_saved = old;
		cli_tty_guard(true, old_actions);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n' && v->len + 1 < v->cap)
		v->data[v->len++] = c;
	v->data[v->len] = '\0';
	secmem_wipe(&c, sizeof(c)); /* the last character typed */
	if (is_quiet) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		cli_tty_guard(false, old_actions);
	}
	fputc('\n', stderr);
	return n < 0 ? -1 : 0;
}

/* A value from stdin, which can be read once: a prompt on a terminal, else all of it. */
static int cli_value_stdin(const char *prompt, struct cli_value *v)
{
	if (cli_stdin_is_used) {
		fprintf(stderr, "Error: only one value can come from stdin (\"-\")\n");
		return -1;
	}
	cli_stdin_is_used = true;
	if (isatty(STDIN_FILENO))
		return cli_value_prompt(prompt, v);
	if (cli_value_read_fd(STDIN_FILENO, v) != 0) {
		fprintf(stderr, "Error: reading stdin: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int cli_value_file(const char *path, struct cli_value *v)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		fprintf(stderr, "Error: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = cli_value_read_fd(fd, v);
	if (rc != 0)
		fprintf(stderr, "Error: reading %s: %s\n", path, strerror(errno));
	close(fd);
	return rc;
}

/*
 * Whether key names a secret: it contains password, secret, credential, private or apikey, or its
 * last word is token, key, pass or pwd (so api_key and client_token, not token_ttl).
 */
static bool cli_values_is_secret_key(const char *key)
{
	static const char *const anywhere[] = {"passw", "secret", "credential", "private",
	                                       "apikey"};
	static const char *const last[] = {"token", "key", "pass", "pwd"};
	char lower[128];
	const char *word;
	size_t i;

	for (i = 0; key[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)key[i]);
	lower[i] = '\0';
	for (i = 0; i < sizeof(anywhere) / sizeof(anywhere[0]); i++) {
		if (strstr(lower, anywhere[i]) != NULL)
			return true;
	}
	word = lower + strlen(lower);
	while (word > lower && isalnum((unsigned char)word[-1]))
		word--;
	for (i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
		if (strcmp(word, last[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Whether value looks random: a Coffer token, or 16+ characters without spaces or '/' (paths and
 * sentences are not secrets) that mix letters and digits and use at least 10 distinct characters.
 */
static bool cli_values_is_random(const char *value)
{
	bool has_digit = false, has_alpha = false, seen[256] = {false};
	size_t len = strlen(value), i, n_distinct = 0;

	if (strncmp(value, "cof.", 4) == 0)
		return true;
	if (len < 16)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (isspace(c) || c == '/')
			return false;
		has_digit |= isdigit(c) != 0;
		has_alpha |= isalpha(c) != 0;
		n_distinct += !seen[c];
		seen[c] = true;
	}
	return has_digit && has_alpha && n_distinct >= 10;
}

/* Warn on stderr when a value given literally as key=value looks like a secret. */
static void cli_values_warn_literal(const char *key, const char *value)
{
	if (value[0] == '\0' || (!cli_values_is_secret_key(key) && !cli_values_is_random(value)))
		return;
	fprintf(stderr,
	        "Warning: the value of \"%s\" is on the command line, where it stays in the shell "
	        "history and shows in ps; use %s=@FILE or %s=- (stdin) instead.\n",
	        key, key, key);
}

/* The JSON string of v[0..len); NULL after a message when it is not UTF-8. */
static json_t *cli_values_string(const char *key, const char *s, size_t len)
{
	json_t *str = json_stringn(s, len);

	if (str == NULL)
		fprintf(stderr, "Error: the value of \"%s\" is not UTF-8 text\n", key);
	return str;
}

/* The JSON value of one "key=..." argument (text after '=' in value). NULL after a message. */
static json_t *cli_values_one(const char *key, const char *value)
{
	struct cli_value v = {NULL, 0, 0};
	char prompt[300];
	json_t *str = NULL;
	int rc;

	if (value[0] == '@' || strcmp(value, "-") == 0) {
		snprintf(prompt, sizeof(prompt), "Value for %s (no echo): ", key);
		rc = value[0] == '@' ? cli_value_file(value + 1, &v) : cli_value_stdin(prompt, &v);
		if (rc == 0)
			str = cli_values_string(key, v.data ? v.data : "", v.len);
		cli_value_release(&v);
		return str;
	}
	if (value[0] == '\\' && value[1] == '@')
		value++;
	cli_values_warn_literal(key, value);
	return cli_values_string(key, value, strlen(value));
}

/* A lone "-": a JSON object from stdin, merged into data. */
static int cli_values_json_stdin(json_t *data)
{
	struct cli_value v = {NULL, 0, 0};
	json_t *obj = NULL;
	int rc = -1;

	if (cli_value_stdin("JSON object: ", &v) == 0) {
		obj = json_loadb(v.data ? v.data : "", v.len, 0, NULL);
		if (!json_is_object(obj))
			fprintf(stderr, "Error: stdin (\"-\") must hold a JSON object\n");
		else
			rc = json_object_update(data, obj);
	}
	json_decref(obj);
	cli_value_release(&v);
	return rc;
}

json_t *cli_values_parse(int n, char *const *args)
{
	json_t *data = json_object(), *v;
	const char *eq;
	char key[256];
	int i;

	for (i = 0; data != NULL && i < n; i++) {
		if (strcmp(args[i], "-") == 0) {
			if (cli_values_json_stdin(data) != 0)
				goto fail;
			continue;
		}
		eq = strchr(args[i], '=');
		if (eq == NULL || eq == args[i] || (size_t)(eq - args[i]) >= sizeof(key)) {
			fprintf(stderr, "Error: \"%.64s\" is not KEY=VALUE, KEY=@FILE or KEY=-\n",
			        args[i]);
			goto fail;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - args[i]), args[i]);
		v = cli_values_one(key, eq + 1);
		if (v == NULL || json_object_set_new(data, key, v) != 0)
			goto fail;
	}
	return data;
fail:
	json_decref(data);
	return NULL;
}

char *cli_values_query(int n, char *const *args)
{
	json_t *data = cli_values_parse(n, args);
	char *query = NULL, *k = NULL, *v = NULL, *next;
	const char *key;
	json_t *val;

	if (data == NULL)
		return NULL;
	query = strdup("");
	json_object_foreach(data, key, val)
	{
		k = coffer_http_escape(key);
		v = coffer_http_escape(json_is_string(val) ? json_string_value(val) : "");
		if (query == NULL || k == NULL || v == NULL ||
		    asprintf(&next, "%s%c%s=%s", query, query[0] ? '&' : '?', k, v) < 0)
			next = NULL;
		free(query);
		free(k);
		free(v);
		query = next;
	}
	json_decref(data);
	if (query == NULL)
		fprintf(stderr, "Error: out of memory\n");
	return query;
}

/* Trim surrounding whitespace of v in place, returning the start. */
static char *cli_values_trim(char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

char *cli_values_secret(const char *arg, const char *what, const char *prompt)
{
	struct cli_value v = {NULL, 0, 0};
	char *out = NULL;
	int rc;

	if (arg != NULL && arg[0] != '@' && strcmp(arg, "-") != 0) {
		fprintf(
		    stderr,
		    "Warning: the %s is on the command line, where it stays in the shell history "
		    "and shows in ps; give \"-\" (stdin, or a prompt) or @FILE instead.\n",
		    what);
		out = secmem_strdup(arg);
	} else {
		rc = arg != NULL && arg[0] == '@' ? cli_value_file(arg + 1, &v)
		                                  : cli_value_stdin(prompt, &v);
		if (rc == 0)
			out = secmem_strdup(cli_values_trim(v.data ? v.data : (char[]){""}));
		cli_value_release(&v);
		if (rc != 0)
			return NULL;
	}
	if (out == NULL)
		fprintf(stderr, "Error: out of memory\n");
	else if (out[0] == '\0') {
		fprintf(stderr, "Error: the %s is empty\n", what);
		secmem_free(out);
		out = NULL;
	}
	return out;
}

json_t *cli_values_text(const char *src)
{
	struct cli_value v = {NULL, 0, 0};
	json_t *str = NULL;
	int rc;

	rc = strcmp(src, "-") == 0 ? cli_value_stdin("Text (end with Ctrl-D): ", &v)
	                           : cli_value_file(src, &v);
	if (rc == 0)
		str = cli_values_string(src, v.data ? v.data : "", v.len);
	cli_value_release(&v);
	return str;
}
