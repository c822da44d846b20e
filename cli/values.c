/* SPDX-License-Identifier: Apache-2.0 */
/*
 * values.c: where secret values come from: k=v arguments with @FILE and - (stdin) so that secrets
 * stay out of argv, the shell history and ps; prompts without echo; and the warning when a value
 * that looks secret is typed literally. Every buffer that held a value is wiped.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "http_client.h"
#include "secmem.h"

#define CLI_VALUE_MAX (1u << 20) /* the server's default max_request_size */
#define CLI_LINE_MAX 8192

static bool cli_stdin_is_used;

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

/* One line from the terminal on stdin with echo off, after prompt on stderr, into secmem. */
static int cli_value_prompt(const char *prompt, uint8_t **data, size_t *len)
{
	struct termios old, quiet;
	struct sigaction old_actions[4];
	bool is_quiet;
	char c;
	ssize_t n;

	*len = 0;
	*data = secmem_alloc(CLI_LINE_MAX);
	if (*data == NULL) {
		fprintf(stderr, "Error: out of memory\n");
		return -1;
	}
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
	while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n' && *len + 1 < CLI_LINE_MAX)
		(*data)[(*len)++] = (uint8_t)c;
	(*data)[*len] = '\0';
	secmem_wipe(&c, sizeof(c)); /* the last character typed */
	if (is_quiet) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		cli_tty_guard(false, old_actions);
	}
	fputc('\n', stderr);
	if (n < 0) {
		fprintf(stderr, "Error: reading the terminal: %s\n", strerror(errno));
		secmem_free(*data);
		*data = NULL;
		return -1;
	}
	return 0;
}

/*
 * A value from the file at path (NULL: stdin, which can be read once: a prompt on a terminal,
 * else all of it): 0 with its bytes in secmem, NUL-terminated (secmem_free), or -1 after a
 * message. The file may be a pipe (k=@<(cmd)) and any mode: it is the user's to choose.
 */
static int cli_value_read(const char *path, const char *prompt, uint8_t **data, size_t *len)
{
	char err[4200];
	int rc;

	if (path != NULL)
		rc = coffer_read_secret_file(path, 0, CLI_VALUE_MAX,
		                             COFFER_SECRET_FILE_ANY_TYPE |
		                                 COFFER_SECRET_FILE_ANY_MODE,
		                             data, len, err, sizeof(err));
	else if (cli_stdin_is_used) {
		fprintf(stderr, "Error: only one value can come from stdin (\"-\")\n");
		return -1;
	} else {
		cli_stdin_is_used = true;
		if (isatty(STDIN_FILENO))
			return cli_value_prompt(prompt, data, len);
		rc = coffer_read_secret_fd(STDIN_FILENO, "stdin", CLI_VALUE_MAX, data, len, err,
		                           sizeof(err));
	}
	if (rc != 0)
		fprintf(stderr, "Error: %s\n", err);
	return rc != 0 ? -1 : 0;
}

/*
 * Whether key names a secret: it contains password, secret, credential, private or apikey, or its
 * last word is token, key, pass, pwd or jwt (so api_key and client_token, not token_ttl).
 */
static bool cli_values_is_secret_key(const char *key)
{
	static const char *const anywhere[] = {"passw", "secret", "credential", "private",
	                                       "apikey"};
	static const char *const last[] = {"token", "key", "pass", "pwd", "jwt"};
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
	uint8_t *data = NULL;
	char prompt[300];
	json_t *str = NULL;
	size_t len;

	if (value[0] == '@' || strcmp(value, "-") == 0) {
		snprintf(prompt, sizeof(prompt), "Value for %s (no echo): ", key);
		if (cli_value_read(value[0] == '@' ? value + 1 : NULL, prompt, &data, &len) == 0)
			str = cli_values_string(key, (const char *)data, len);
		secmem_free(data);
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
	uint8_t *text = NULL;
	json_t *obj = NULL;
	size_t len;
	int rc = -1;

	if (cli_value_read(NULL, "JSON object: ", &text, &len) == 0) {
		obj = json_loadb((const char *)text, len, 0, NULL);
		if (!json_is_object(obj))
			fprintf(stderr, "Error: stdin (\"-\") must hold a JSON object\n");
		else
			rc = json_object_update(data, obj);
	}
	json_decref(obj);
	secmem_free(text);
	return rc;
}

/* Set key to v (a reference taken); a key given again makes a list of its values, in order, as
 * the Vault CLI does (bound_service_account_names=a bound_service_account_names=b). */
static int cli_values_add(json_t *data, const char *key, json_t *v)
{
	json_t *old = json_object_get(data, key), *list;

	if (old == NULL)
		return json_object_set_new(data, key, v);
	if (json_is_array(old))
		return json_array_append_new(old, v);
	list = json_pack("[O]", old);
	if (list == NULL || json_array_append_new(list, v) != 0) {
		json_decref(list);
		return -1;
	}
	return json_object_set_new(data, key, list);
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
		if (v == NULL || cli_values_add(data, key, v) != 0)
			goto fail;
	}
	return data;
fail:
	json_decref(data);
	return NULL;
}

int cli_values_query(struct buf *q, int n, char *const *args)
{
	json_t *data = cli_values_parse(n, args), *val;
	char *k = NULL, *v = NULL, sep;
	const char *key;
	int rc = 0;

	if (data == NULL)
		return -1;
	sep = q->data != NULL && strchr(q->data, '?') != NULL ? '&' : '?';
	json_object_foreach(data, key, val)
	{
		/* A key given several times: one parameter per value. */
		size_t i, n_vals = json_is_array(val) ? json_array_size(val) : 1;

		for (i = 0; rc == 0 && i < n_vals; i++) {
			const json_t *one = json_is_array(val) ? json_array_get(val, i) : val;

			k = coffer_http_escape(key);
			v = coffer_http_escape(json_is_string(one) ? json_string_value(one) : "");
			if (k == NULL || v == NULL || buf_printf(q, "%c%s=%s", sep, k, v) != 0)
				rc = -1;
			sep = '&';
			free(k);
			if (v != NULL)
				secmem_freezero(v, strlen(v));
		}
		if (rc != 0)
			break;
	}
	json_decref(data);
	if (rc != 0)
		fprintf(stderr, "Error: out of memory\n");
	return rc;
}

/* Remove the whitespace around the string s (in secmem) in place. */
static void cli_values_trim(char *s)
{
	size_t start = 0, len = strlen(s);

	while (isspace((unsigned char)s[start]))
		start++;
	while (len > start && isspace((unsigned char)s[len - 1]))
		len--;
	memmove(s, s + start, len - start);
	s[len - start] = '\0';
}

char *cli_values_secret(const char *arg, const char *what, const char *prompt)
{
	uint8_t *data = NULL;
	char *out = NULL;
	size_t len;

	if (arg != NULL && arg[0] != '@' && strcmp(arg, "-") != 0) {
		fprintf(
		    stderr,
		    "Warning: the %s is on the command line, where it stays in the shell history "
		    "and shows in ps; give \"-\" (stdin, or a prompt) or @FILE instead.\n",
		    what);
		out = secmem_strdup(arg);
		if (out == NULL)
			fprintf(stderr, "Error: out of memory\n");
	} else if (cli_value_read(arg != NULL && arg[0] == '@' ? arg + 1 : NULL, prompt, &data,
	                          &len) == 0) {
		out = (char *)data;
		cli_values_trim(out);
	}
	if (out != NULL && out[0] == '\0') {
		fprintf(stderr, "Error: the %s is empty\n", what);
		secmem_free(out);
		out = NULL;
	}
	return out;
}

json_t *cli_values_text(const char *src)
{
	uint8_t *data = NULL;
	json_t *str = NULL;
	size_t len;

	if (cli_value_read(strcmp(src, "-") == 0 ? NULL : src, "Text (end with Ctrl-D): ", &data,
	                   &len) == 0)
		str = cli_values_string(src, (const char *)data, len);
	secmem_free(data);
	return str;
}
