/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.c: jansson set-up with a wiping allocator, request-body parsing and typed getters. Used by
 * every request handler (server/) to read bodies and by the response code to serialise them.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "duration.h"
#include "json.h"
#include "log.h"

/* The size header keeps malloc's 16-byte alignment for the block handed to jansson. */
#define JSON_HDR_LEN 16

static pthread_once_t json_once = PTHREAD_ONCE_INIT;
/* Set once by coffer_json_init_daemon() before the process starts its threads. */
static bool json_is_oom_fatal;

static void *json_wipe_malloc(size_t len)
{
	unsigned char *p = NULL;

	if (len <= SIZE_MAX - JSON_HDR_LEN)
		p = malloc(len + JSON_HDR_LEN);
	if (p == NULL) {
		if (json_is_oom_fatal)
			fatal("out of memory");
		return NULL;
	}
	memcpy(p, &len, sizeof(len));
	return p + JSON_HDR_LEN;
}

/* jansson's strings may be tokens or secret values: wipe every block on its way out. */
static void json_wipe_free(void *ptr)
{
	unsigned char *p;
	size_t len;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - JSON_HDR_LEN;
	memcpy(&len, p, sizeof(len));
	sodium_memzero(p, len + JSON_HDR_LEN);
	free(p);
}

static void json_init_once(void)
{
	json_set_alloc_funcs(json_wipe_malloc, json_wipe_free);
}

void coffer_json_init(void)
{
	(void)pthread_once(&json_once, json_init_once);
}

void coffer_json_init_daemon(void)
{
	json_is_oom_fatal = true;
	coffer_json_init();
}

bool coffer_json_is_string_map(const json_t *v)
{
	const char *key;
	json_t *item;

	if (!json_is_object(v))
		return false;
	json_object_foreach((json_t *)v, key, item)
	{
		if (!json_is_string(item))
			return false;
	}
	return true;
}

/* The deepest nesting of arrays and objects in JSON text buf[0..len) (strings skipped), or
 * COFFER_JSON_MAX_DEPTH + 1 as soon as it is deeper. */
static size_t json_text_depth(const char *buf, size_t len)
{
	size_t depth = 0, max = 0;
	bool is_in_string = false;

	for (size_t i = 0; i < len && max <= COFFER_JSON_MAX_DEPTH; i++) {
		char c = buf[i];

		if (is_in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				is_in_string = false;
		} else if (c == '"') {
			is_in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

int coffer_json_parse_object(const char *buf, size_t len, json_t **out, char *errbuf,
                             size_t errbuf_len)
{
	json_error_t jerr;
	json_t *v = NULL;
	int rc = COFFER_ERR_INVALID;

	if (errbuf != NULL && errbuf_len > 0)
		errbuf[0] = '\0';
	if (out == NULL)
		goto out;
	*out = NULL;
	if (len == 0) {
		v = json_object();
		rc = v != NULL ? COFFER_OK : COFFER_ERR_NOMEM;
		goto out;
	}
	if (buf == NULL)
		goto out;
	/* Bounded nesting keeps every recursive walk of a body (dump, merge patch, audit) shallow,
	 * whatever thread and stack runs it. */
	if (json_text_depth(buf, len) > COFFER_JSON_MAX_DEPTH) {
		if (errbuf != NULL && errbuf_len > 0)
			snprintf(errbuf, errbuf_len,
			         "failed to parse JSON input: nested deeper than %d levels",
			         COFFER_JSON_MAX_DEPTH);
		goto out;
	}
	v = json_loadb(buf, len, 0, &jerr);
	if (v == NULL) {
		if (errbuf != NULL && errbuf_len > 0)
			snprintf(errbuf, errbuf_len,
			         "failed to parse JSON input: %s at line %d column %d", jerr.text,
			         jerr.line, jerr.column);
		goto out;
	}
	if (!json_is_object(v)) {
		if (errbuf != NULL && errbuf_len > 0)
			snprintf(errbuf, errbuf_len,
			         "failed to parse JSON input: the body must be a JSON object");
		goto out;
	}
	rc = COFFER_OK;
out:
	if (rc == COFFER_OK)
		*out = v;
	else
		json_decref(v);
	return rc;
}

/* The value for key, or NULL when obj is not an object, the key is absent or its value is null. */
static json_t *json_lookup(const json_t *obj, const char *key)
{
	json_t *v;

	if (obj == NULL || key == NULL || !json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

int coffer_json_get_string(const json_t *obj, const char *key, const char **out)
{
	json_t *v = json_lookup(obj, key);

	if (v == NULL)
		return COFFER_ERR_NOT_FOUND;
	if (!json_is_string(v))
		return COFFER_ERR_INVALID;
	*out = json_string_value(v);
	return COFFER_OK;
}

int coffer_json_get_bool(const json_t *obj, const char *key, bool *out)
{
	/* The spellings Go's strconv.ParseBool accepts, which is what Vault clients rely on. */
	static const char *const truths[] = {"1", "t", "T", "true", "TRUE", "True"};
	static const char *const falsehoods[] = {"0", "f", "F", "false", "FALSE", "False"};
	json_t *v = json_lookup(obj, key);
	const char *s;
	size_t i;

	if (v == NULL)
		return COFFER_ERR_NOT_FOUND;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return COFFER_OK;
	}
	if (!json_is_string(v))
		return COFFER_ERR_INVALID;
	s = json_string_value(v);
	for (i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
		if (strcmp(s, truths[i]) == 0) {
			*out = true;
			return COFFER_OK;
		}
		if (strcmp(s, falsehoods[i]) == 0) {
			*out = false;
			return COFFER_OK;
		}
	}
	return COFFER_ERR_INVALID;
}

/* Strict decimal: optional '-', then one or more digits, nothing else, within int64_t. */
static int parse_decimal(const char *s, size_t len, int64_t *out)
{
	uint64_t mag = 0, limit;
	bool is_neg = false;
	size_t i = 0;

	if (len > 0 && s[0] == '-') {
		is_neg = true;
		i = 1;
	}
	if (i == len)
		return COFFER_ERR_INVALID;
	limit = is_neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return COFFER_ERR_INVALID;
		if (mag > (limit - (uint64_t)(s[i] - '0')) / 10)
			return COFFER_ERR_INVALID;
		mag = mag * 10 + (uint64_t)(s[i] - '0');
	}
	if (is_neg)
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	return COFFER_OK;
}

/* A JSON number with an integral value in int64_t range (5 and 5.0, not 5.5). */
static int number_to_int(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return COFFER_OK;
	}
	if (!json_is_real(v))
		return COFFER_ERR_INVALID;
	d = json_real_value(v);
	/* NaN fails both comparisons; 2^63 itself is out of range. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return COFFER_ERR_INVALID;
	if ((double)(int64_t)d != d)
		return COFFER_ERR_INVALID;
	*out = (int64_t)d;
	return COFFER_OK;
}

int coffer_json_get_int(const json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_lookup(obj, key);
	int64_t n = 0;
	int rc;

	if (v == NULL)
		return COFFER_ERR_NOT_FOUND;
	if (json_is_string(v))
		rc = parse_decimal(json_string_value(v), json_string_length(v), &n);
	else
		rc = number_to_int(v, &n);
	if (rc == COFFER_OK)
		*out = n;
	return rc;
}

int coffer_json_get_duration(const json_t *obj, const char *key, int64_t *out_s)
{
	json_t *v = json_lookup(obj, key);
	int64_t n = 0;
	int rc;

	if (v == NULL)
		return COFFER_ERR_NOT_FOUND;
	if (json_is_string(v)) {
		/* duration_parse stops at the first NUL, so a string holding one must be refused.
		 */
		if (strlen(json_string_value(v)) != json_string_length(v))
			return COFFER_ERR_INVALID;
		rc = duration_parse(json_string_value(v), &n);
	} else {
		rc = number_to_int(v, &n);
		if (rc == COFFER_OK && n < 0)
			rc = COFFER_ERR_INVALID;
	}
	if (rc == COFFER_OK)
		*out_s = n;
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Append s[0..len) to arr with surrounding whitespace removed, unless nothing is left. */
static int list_append_trimmed(json_t *arr, const char *s, size_t len)
{
	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		return COFFER_OK;
	/* json_array_append_new consumes the reference, and fails on a NULL value. */
	return json_array_append_new(arr, json_stringn(s, len)) == 0 ? COFFER_OK : COFFER_ERR_NOMEM;
}

int coffer_json_get_string_list(const json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_lookup(obj, key), *arr = NULL, *item;
	const char *s, *comma;
	size_t i, len;
	int rc = COFFER_ERR_NOT_FOUND;

	if (v == NULL)
		goto out;
	rc = COFFER_ERR_INVALID;
	if (!json_is_array(v) && !json_is_string(v))
		goto out;
	arr = json_array();
	if (arr == NULL) {
		rc = COFFER_ERR_NOMEM;
		goto out;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			rc = COFFER_ERR_INVALID;
			if (!json_is_string(item))
				goto out;
			rc = list_append_trimmed(arr, json_string_value(item),
			                         json_string_length(item));
			if (rc != 0)
				goto out;
		}
	} else {
		s = json_string_value(v);
		len = json_string_length(v);
		while (len > 0) {
			comma = memchr(s, ',', len);
			i = comma != NULL ? (size_t)(comma - s) : len;
			rc = list_append_trimmed(arr, s, i);
			if (rc != 0)
				goto out;
			s += i;
			len -= i;
			if (len > 0) {
				s++;
				len--;
			}
		}
	}
	rc = COFFER_OK;
out:
	if (rc == COFFER_OK)
		*out = arr;
	else
		json_decref(arr);
	return rc;
}

char *coffer_json_dump(const json_t *v)
{
	if (v == NULL)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void coffer_json_free_text(char *text)
{
	json_malloc_t malloc_fn = NULL;
	json_free_t free_fn = NULL;

	if (text == NULL)
		return;
	sodium_memzero(text, strlen(text));
	/* json_dumps allocated text with jansson's allocator, so it must go back through it. */
	json_get_alloc_funcs(&malloc_fn, &free_fn);
	free_fn(text);
}
