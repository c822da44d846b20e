/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c: how coffer prints answers: -format=table (aligned Key/Value tables for people) or
 * -format=json (the server's JSON, for scripts), single fields for shell use, warnings and
 * success lines. Command files print only through these helpers.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"

const char *cli_output_format;

static bool cli_output_started;

static const char *cli_output_name(void)
{
	const char *env = getenv("COFFER_FORMAT");

	if (cli_output_format != NULL)
		return cli_output_format;
	return env != NULL && env[0] != '\0' ? env : "table";
}

int cli_output_check(void)
{
	const char *f = cli_output_name();

	return strcmp(f, "table") == 0 || strcmp(f, "json") == 0 ? 0 : -1;
}

bool cli_output_is_json(void)
{
	return strcmp(cli_output_name(), "json") == 0;
}

void cli_print_json(const json_t *v)
{
	/* json_dumpf streams to stdout: no unwiped intermediate copy of secret values. */
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
	cli_output_started = true;
}

void cli_print_section(const char *title)
{
	printf("%s== %s ==\n", cli_output_started ? "\n" : "", title);
	cli_output_started = true;
}

void cli_print_value(FILE *f, const json_t *v)
{
	if (json_is_string(v))
		fwrite(json_string_value(v), 1, json_string_length(v), f);
	else if (v == NULL || json_is_null(v))
		fputs("n/a", f);
	else
		json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int cli_output_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cli_print_table(const json_t *obj)
{
	const char **keys;
	const char *key;
	size_t n = 0, i, width = 3;
	json_t *v;

	if (!json_is_object(obj) || json_object_size(obj) == 0)
		return;
	keys = calloc(json_object_size(obj), sizeof(*keys));
	if (keys == NULL)
		return;
	json_object_foreach((json_t *)obj, key, v)
	{
		keys[n++] = key;
		if (strlen(key) > width)
			width = strlen(key);
	}
	qsort(keys, n, sizeof(*keys), cli_output_strcmp);
	printf("%-*s    Value\n%-*s    -----\n", (int)width, "Key", (int)width, "---");
	for (i = 0; i < n; i++) {
		printf("%-*s    ", (int)width, keys[i]);
		cli_print_value(stdout, json_object_get(obj, keys[i]));
		fputc('\n', stdout);
	}
	free(keys);
	cli_output_started = true;
}

void cli_print_keys(const json_t *resp)
{
	const json_t *keys = json_object_get(json_object_get(resp, "data"), "keys");
	size_t i;
	json_t *k;

	printf("Keys\n----\n");
	json_array_foreach(keys, i, k)
	{
		cli_print_value(stdout, k);
		fputc('\n', stdout);
	}
	cli_output_started = true;
}

int cli_print_field(const json_t *obj, const char *field)
{
	const json_t *v = json_object_get(obj, field);

	if (v == NULL) {
		fprintf(stderr, "Field \"%s\" not present in the answer\n", field);
		return CLI_EXIT_USAGE;
	}
	cli_print_value(stdout, v);
	if (isatty(STDOUT_FILENO))
		fputc('\n', stdout);
	return CLI_EXIT_OK;
}

void cli_print_warnings(const json_t *resp)
{
	const json_t *warnings = json_object_get(resp, "warnings");
	size_t i;
	json_t *w;

	json_array_foreach(warnings, i, w)
	{
		fputs("WARNING! ", stderr);
		cli_print_value(stderr, w);
		fputc('\n', stderr);
	}
}

void cli_print_success(const char *fmt, ...)
{
	va_list ap;

	if (cli_output_is_json())
		return;
	fputs("Success! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	cli_output_started = true;
}

int cli_print_response(const json_t *resp, const char *field, const char *success_msg)
{
	const json_t *data = json_object_get(resp, "data"), *auth = json_object_get(resp, "auth");

	cli_print_warnings(resp);
	if (field != NULL)
		return cli_print_field(json_is_object(data) ? data : auth, field);
	if (cli_output_is_json()) {
		if (resp != NULL)
			cli_print_json(resp);
		return CLI_EXIT_OK;
	}
	if (json_is_object(data) && json_object_size(data) > 0)
		cli_print_table(data);
	else if (!json_is_object(auth) && success_msg != NULL)
		cli_print_success("%s", success_msg);
	if (json_is_object(auth)) {
		if (json_is_object(data) && json_object_size(data) > 0)
			cli_print_section("Auth");
		cli_print_table(auth);
	}
	return CLI_EXIT_OK;
}

/* The auth block as the Vault CLI names it: token, token_accessor, token_duration, ... */
static json_t *cli_output_auth_table(const json_t *auth, bool show_token)
{
	json_t *t = json_object();

	if (show_token)
		json_object_set(t, "token", json_object_get(auth, "client_token"));
	json_object_set(t, "token_accessor", json_object_get(auth, "accessor"));
	json_object_set(t, "token_duration", json_object_get(auth, "lease_duration"));
	json_object_set(t, "token_renewable", json_object_get(auth, "renewable"));
	json_object_set(t, "token_policies", json_object_get(auth, "token_policies"));
	json_object_set(t, "policies", json_object_get(auth, "policies"));
	if (json_is_object(json_object_get(auth, "metadata")))
		json_object_set(t, "token_meta", json_object_get(auth, "metadata"));
	return t;
}

int cli_print_auth(const json_t *resp, const char *field, bool show_token)
{
	const json_t *auth = json_object_get(resp, "auth");
	json_t *t;
	int rc = CLI_EXIT_OK;

	cli_print_warnings(resp);
	if (cli_output_is_json() && field == NULL) {
		cli_print_json(resp);
		return CLI_EXIT_OK;
	}
	t = cli_output_auth_table(auth, true);
	if (field != NULL)
		rc = cli_print_field(json_object_get(t, field) ? t : auth, field);
	else {
		if (!show_token)
			json_object_del(t, "token");
		cli_print_table(t);
	}
	json_decref(t);
	return rc;
}

/* v as text in a new string (free()); NULL on no memory. */
static char *cli_output_text(const json_t *v)
{
	char *dump, *text;

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (v == NULL || json_is_null(v))
		return strdup("n/a");
	/* json_dumps allocates through jansson's (wiping) allocator: copy, then give it back. */
	dump = coffer_json_dump(v);
	text = dump ? strdup(dump) : NULL;
	coffer_json_free_text(dump);
	return text;
}

/* The width of each column of rows (keys sorted in keys[0..n)). */
static void cli_output_widths(const json_t *map, const char **keys, size_t n, const char *first_col,
                              const char *const *cols, size_t *w)
{
	size_t i, c;
	char *text;

	w[0] = strlen(first_col);
	for (c = 0; cols[c] != NULL; c++)
		w[c + 1] = strlen(cols[c]);
	for (i = 0; i < n; i++) {
		if (strlen(keys[i]) > w[0])
			w[0] = strlen(keys[i]);
		for (c = 0; cols[c] != NULL; c++) {
			text = cli_output_text(
			    json_object_get(json_object_get(map, keys[i]), cols[c]));
			if (text != NULL && strlen(text) > w[c + 1])
				w[c + 1] = strlen(text);
			free(text);
		}
	}
}

void cli_print_rows(const json_t *map, const char *first_col, const char *const *cols)
{
	size_t n = 0, i, c, w[16];
	const char **keys, *key;
	json_t *v;
	char *text;

	keys = calloc(json_object_size(map) + 1, sizeof(*keys));
	if (keys == NULL || !json_is_object(map))
		goto out;
	json_object_foreach((json_t *)map, key, v)
	{
		keys[n++] = key;
	}
	qsort(keys, n, sizeof(*keys), cli_output_strcmp);
	cli_output_widths(map, keys, n, first_col, cols, w);
	printf("%-*s", (int)w[0], first_col);
	/* Headers are the field names with a capital, as the Vault CLI's ("Type"). */
	for (c = 0; cols[c] != NULL; c++)
		printf("    %c%-*s", toupper((unsigned char)cols[c][0]), (int)w[c + 1] - 1,
		       cols[c] + 1);
	printf("\n");
	for (i = 0; i < n; i++) {
		printf("%-*s", (int)w[0], keys[i]);
		for (c = 0; cols[c] != NULL; c++) {
			text = cli_output_text(
			    json_object_get(json_object_get(map, keys[i]), cols[c]));
			printf("    %-*s", (int)w[c + 1], text ? text : "");
			free(text);
		}
		printf("\n");
	}
	cli_output_started = true;
out:
	free(keys);
}
