/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_kv_rotate.c: `coffer kv rotate PATH KEY`: a new random value for one key of a KV v2 secret,
 * written as a new version with check-and-set on the version it read, the other keys kept. Two
 * rotations at once can never lose an update: the second write fails the check-and-set, and is
 * either reported (exit 1, the default) or re-read and retried up to -retries times. The value is
 * drawn with libsodium's randombytes_uniform (no modulo bias), never printed, and wiped.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "secmem.h"

#define ROTATE_LENGTH_MAX 4096

struct rotate_charset {
	const char *name;
	const char *chars;
};

#define ROTATE_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* Named charsets; symbols leaves out quotes, backslash, backquote and space (shell-friendly). */
static const struct rotate_charset rotate_charsets[] = {
    {"alnum", ROTATE_ALNUM},
    {"alpha", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"},
    {"lower", "abcdefghijklmnopqrstuvwxyz"},
    {"upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    {"digits", "0123456789"},
    {"hex", "0123456789abcdef"},
    {"base64url", ROTATE_ALNUM "-_"},
    {"symbols", ROTATE_ALNUM "!#$%&()*+,-./:;<=>?@[]^_{|}~"},
    {NULL, NULL},
};

/*
 * The characters of -charset: a name of the table, else the literal characters given (printable
 * ASCII, duplicates removed so that each character is equally likely). 0, or -1 after a message.
 */
static int rotate_charset(const char *name, const char *spec, char *out, size_t cap)
{
	const struct rotate_charset *cs;
	size_t n = 0;
	const char *s;

	for (cs = rotate_charsets; cs->name != NULL; cs++) {
		if (strcmp(cs->name, spec) == 0) {
			snprintf(out, cap, "%s", cs->chars);
			return 0;
		}
	}
	for (s = spec; *s != '\0' && n + 1 < cap; s++) {
		if (*s <= ' ' || *s > '~') {
			fprintf(stderr,
			        "%s: -charset: only printable ASCII characters, without space\n",
			        name);
			return -1;
		}
		if (memchr(out, *s, n) == NULL)
			out[n++] = *s;
	}
	out[n] = '\0';
	if (n < 2) {
		fprintf(stderr,
		        "%s: -charset must be alnum, alpha, lower, upper, digits, hex, base64url, "
		        "symbols, or at least two characters\n",
		        name);
		return -1;
	}
	return 0;
}

/* A new random value of len characters of chars, in secmem (secmem_free). NULL on no memory. */
static char *rotate_generate(const char *chars, size_t len)
{
	uint32_t n = (uint32_t)strlen(chars);
	char *value = secmem_alloc(len + 1);
	size_t i;

	if (value == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		value[i] = chars[randombytes_uniform(n)];
	value[len] = '\0';
	return value;
}

/* Read the latest version: *data (the secret) and *version. An exit code. */
static int rotate_read(const struct cli_kv_path *p, json_t **data, json_int_t *version)
{
	json_t *resp = NULL, *d;
	long status;
	int rc;

	rc = cli_client_send("GET", p->api, NULL, &status, &resp);
	if (rc == CLI_EXIT_OK && status == 404)
		rc = cli_kv_path_missing(p, resp);
	else if (rc == CLI_EXIT_OK)
		rc = cli_client_status_exit("GET", p->api, status, resp);
	if (rc == CLI_EXIT_OK) {
		d = json_object_get(resp, "data");
		*data = json_deep_copy(json_object_get(d, "data"));
		*version =
		    json_integer_value(json_object_get(json_object_get(d, "metadata"), "version"));
		if (!json_is_object(*data))
			rc = CLI_EXIT_ERROR;
	}
	json_decref(resp);
	return rc;
}

/*
 * One attempt: read, replace key, write with cas. *is_conflict is set when the write lost the
 * check-and-set; *resp gets the write's answer on success. An exit code.
 */
static int rotate_once(const struct cli_kv_path *p, const char *key, const char *chars, size_t len,
                       bool *is_conflict, json_t **resp)
{
	json_t *data = NULL, *body = NULL;
	json_int_t version = 0;
	char *value = NULL;
	long status;
	int rc;

	*is_conflict = false;
	rc = rotate_read(p, &data, &version);
	if (rc != CLI_EXIT_OK)
		goto out;
	rc = CLI_EXIT_ERROR;
	value = rotate_generate(chars, len);
	if (value == NULL || json_object_set_new(data, key, json_string(value)) != 0)
		goto out;
	body = json_pack("{s:O, s:{s:I}}", "data", data, "options", "cas", version);
	if (body == NULL)
		goto out;
	rc = cli_client_send("POST", p->api, body, &status, resp);
	if (rc != CLI_EXIT_OK)
		goto out;
	*is_conflict = cli_client_is_cas_error(status, *resp);
	if (*is_conflict) {
		fprintf(stderr, "%s changed after version %lld was read: check-and-set conflict\n",
		        p->text, (long long)version);
		rc = CLI_EXIT_ERROR;
	} else {
		rc = cli_client_status_exit("POST", p->api, status, *resp);
	}
out:
	secmem_free(value);
	json_decref(body);
	json_decref(data);
	return rc;
}

/* Parse -length and -retries. 0, or -1 after a message. */
static int rotate_numbers(const char *name, const char *length, const char *retries, size_t *len,
                          int *n_retries)
{
	long long l = 32, r = 0;

	if (length != NULL && cli_args_int(name, "length", length, 1, ROTATE_LENGTH_MAX, &l) != 0)
		return -1;
	if (retries != NULL && cli_args_int(name, "retries", retries, 0, 100, &r) != 0)
		return -1;
	*len = (size_t)l;
	*n_retries = (int)r;
	return 0;
}

int cmd_kv_rotate(const struct cli_cmd *cmd, const char *name, int argc, char **argv)
{
	const char *mount = NULL, *length = NULL, *charset = "alnum", *retries = NULL;
	const struct cli_flag flags[] = {
	    CLI_FLAG_KV_MOUNT(&mount),
	    {"length", CLI_FLAG_STRING, &length, "N", "Characters in the new value (default 32)."},
	    {"charset", CLI_FLAG_STRING, &charset, "SET",
	     "alnum (default), alpha, lower, upper, digits, hex, base64url, symbols, or the "
	     "characters to draw from."},
	    {"retries", CLI_FLAG_STRING, &retries, "N",
	     "On a check-and-set conflict, re-read and try again up to N times (default 0: "
	     "report the conflict and exit 1)."},
	    CLI_FLAG_FORMAT,
	    CLI_FLAG_END,
	};
	struct cli_kv_path p;
	char chars[256];
	json_t *resp = NULL;
	bool is_conflict = true;
	size_t len;
	int n_args, n_retries, attempt, rc;

	rc = cli_args_parse(cmd, name, flags, argc, argv, 2, 2, &n_args);
	if (rc != CLI_CONTINUE)
		return rc;
	if (rotate_numbers(name, length, retries, &len, &n_retries) != 0 ||
	    rotate_charset(name, charset, chars, sizeof(chars)) != 0)
		return CLI_EXIT_USAGE;
	rc = cli_kv_path_resolve(mount, argv[1], "data", "kv rotate", &p);
	for (attempt = 0; rc == CLI_EXIT_OK && is_conflict && attempt <= n_retries; attempt++) {
		if (attempt > 0)
			fprintf(stderr, "Retrying (%d of %d)\n", attempt, n_retries);
		json_decref(resp);
		resp = NULL;
		rc = rotate_once(&p, argv[2], chars, len, &is_conflict, &resp);
		if (is_conflict && attempt < n_retries)
			rc = CLI_EXIT_OK;
	}
	if (rc == CLI_EXIT_OK) {
		fprintf(stderr, "Rotated \"%s\" of %s\n", argv[2], p.text);
		rc = cli_print_response(resp, NULL, NULL);
	}
	json_decref(resp);
	cli_kv_path_free(&p);
	return rc;
}
