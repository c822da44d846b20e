/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_json.c: request-body parsing, the typed getters (absent, null, wrong type, coercions), the
 * compact dump and the wiping allocator.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "secmem.h"
#include "test.h"
#include "testutil.h"

static const char body[] =
    "{\"s\":\"str\",\"n\":null,\"i\":5,\"is\":\"42\",\"ineg\":\"-7\",\"r\":5.0,\"rf\":5.5,"
    "\"b\":true,\"bf\":false,\"bs\":\"false\",\"bt\":\"true\",\"bx\":\"yes\","
    "\"arr\":[\"a\",\" b \",\"\"],\"arrbad\":[\"a\",1],\"csv\":\" a, b,,c \",\"empty\":\"\","
    "\"d\":\"1h30m\",\"di\":30,\"dneg\":-1,\"dbad\":\"5x\",\"dr\":2.5,\"o\":{},"
    "\"iplus\":\"+5\",\"ispace\":\" 5\",\"ibig\":\"9223372036854775808\","
    "\"imin\":\"-9223372036854775808\",\"iempty\":\"\",\"idash\":\"-\"}";

static json_t *load_body(void)
{
	json_t *obj = NULL;

	if (coffer_json_parse_object(body, strlen(body), &obj, NULL, 0) != 0)
		return NULL;
	return obj;
}

/* One key of body for an int64 getter: the code it returns and what it leaves in the output,
 * which starts at 99. */
struct int_case {
	const char *key;
	int rc;
	int64_t want;
};

/* How many of the n cases get answers wrongly on body (all of them when body does not parse);
 * each is reported as "what key -> got". */
static size_t int_cases_failed(int (*get)(const json_t *, const char *, int64_t *),
                               const char *what, const struct int_case *cases, size_t n)
{
	json_t *obj = load_body();
	size_t n_bad = 0;
	int64_t got;

	if (obj == NULL) {
		fprintf(stderr, "%s: the test body does not parse\n", what);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		got = 99;
		if (get(obj, cases[i].key, &got) != cases[i].rc || got != cases[i].want) {
			fprintf(stderr, "%s %s -> %lld\n", what, cases[i].key, (long long)got);
			n_bad++;
		}
	}
	json_decref(obj);
	return n_bad;
}

static void test_json_parse_empty_body_is_empty_object(void)
{
	json_t *obj = NULL;

	CHECK_EQ_OUT(coffer_json_parse_object(NULL, 0, &obj, NULL, 0), 0);
	CHECK_OUT(json_is_object(obj) && json_object_size(obj) == 0);
out:
	json_decref(obj);
}

static void test_json_parse_rejects_non_object(void)
{
	static const char *const bad[] = {"[1]", "\"x\"",    "5",    "null", "true",
	                                  "{",   "{\"a\":}", "{} x", " "};
	char err[256];
	json_t *obj = (json_t *)1;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_EQ(coffer_json_parse_object(bad[i], strlen(bad[i]), &obj, err, sizeof(err)),
		         COFFER_ERR_INVALID);
		CHECK(obj == NULL);
		CHECK(strncmp(err, "failed to parse JSON input: ", 28) == 0);
	}
}

static void test_json_parse_error_names_position(void)
{
	static const char in[] = "{\n  \"a\": tru\n}";
	char err[256];
	json_t *obj = NULL;

	CHECK_EQ_OUT(coffer_json_parse_object(in, strlen(in), &obj, err, sizeof(err)),
	             COFFER_ERR_INVALID);
	CHECK_OUT(strstr(err, "at line 2 column") != NULL);
	CHECK_EQ_OUT(coffer_json_parse_object(in, strlen(in), &obj, NULL, 0), COFFER_ERR_INVALID);
out:
	json_decref(obj);
}

static void test_json_parse_accepts_object_with_length(void)
{
	static const char in[] = "{\"a\":1}garbage";
	json_t *obj = NULL;
	int64_t n = 0;

	CHECK_EQ_OUT(coffer_json_parse_object(in, 7, &obj, NULL, 0), 0);
	CHECK_EQ_OUT(coffer_json_get_int(obj, "a", &n), 0);
	CHECK_EQ_OUT(n, 1);
out:
	json_decref(obj);
}

static void test_json_get_string(void)
{
	json_t *obj = load_body();
	const char *s = "untouched";
	int rc_ok, rc_null, rc_absent, rc_wrong;
	int is_ok;

	CHECK_OUT(obj != NULL);
	rc_null = coffer_json_get_string(obj, "n", &s);
	rc_absent = coffer_json_get_string(obj, "missing", &s);
	is_ok = strcmp(s, "untouched") == 0;
	rc_wrong = coffer_json_get_string(obj, "i", &s);
	rc_ok = coffer_json_get_string(obj, "s", &s);
	is_ok = is_ok && strcmp(s, "str") == 0;
	json_decref(obj);
	obj = NULL;
	CHECK_EQ_OUT(rc_null, COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(rc_absent, COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(rc_wrong, COFFER_ERR_INVALID);
	CHECK_EQ_OUT(rc_ok, 0);
	CHECK_OUT(is_ok);
out:
	json_decref(obj);
}

static void test_json_get_int_table(void)
{
	static const struct int_case cases[] = {
	    {"i", 0, 5},
	    {"is", 0, 42},
	    {"ineg", 0, -7},
	    {"r", 0, 5},
	    {"imin", 0, INT64_MIN},
	    {"rf", COFFER_ERR_INVALID, 99},
	    {"s", COFFER_ERR_INVALID, 99},
	    {"b", COFFER_ERR_INVALID, 99},
	    {"o", COFFER_ERR_INVALID, 99},
	    {"arr", COFFER_ERR_INVALID, 99},
	    {"iplus", COFFER_ERR_INVALID, 99},
	    {"ispace", COFFER_ERR_INVALID, 99},
	    {"ibig", COFFER_ERR_INVALID, 99},
	    {"iempty", COFFER_ERR_INVALID, 99},
	    {"idash", COFFER_ERR_INVALID, 99},
	    {"n", COFFER_ERR_NOT_FOUND, 99},
	    {"missing", COFFER_ERR_NOT_FOUND, 99},
	};

	CHECK_EQ(int_cases_failed(coffer_json_get_int, "get_int", cases,
	                          sizeof(cases) / sizeof(cases[0])),
	         0);
}

static void test_json_get_bool_table(void)
{
	static const struct {
		const char *key;
		int rc;
		int want; /* -1: untouched */
	} cases[] = {
	    {"b", 0, 1},
	    {"bf", 0, 0},
	    {"bs", 0, 0},
	    {"bt", 0, 1},
	    {"bx", COFFER_ERR_INVALID, -1},
	    {"i", COFFER_ERR_INVALID, -1},
	    {"s", COFFER_ERR_INVALID, -1},
	    {"n", COFFER_ERR_NOT_FOUND, -1},
	    {"missing", COFFER_ERR_NOT_FOUND, -1},
	};
	json_t *obj = load_body();
	size_t i, n_bad = 0;
	bool got, was;

	CHECK_OUT(obj != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Start from the opposite of the expected value so that "untouched" is visible. */
		was = cases[i].want != 1;
		got = was;
		if (coffer_json_get_bool(obj, cases[i].key, &got) != cases[i].rc ||
		    (cases[i].want >= 0 && got != (cases[i].want == 1)) ||
		    (cases[i].want < 0 && got != was))
			n_bad++;
	}
	json_decref(obj);
	obj = NULL;
	CHECK_EQ_OUT(n_bad, 0);
out:
	json_decref(obj);
}

static void test_json_get_duration_table(void)
{
	static const struct int_case cases[] = {
	    {"d", 0, 5400},
	    {"di", 0, 30},
	    {"is", 0, 42},
	    {"i", 0, 5},
	    {"dneg", COFFER_ERR_INVALID, 99},
	    {"dbad", COFFER_ERR_INVALID, 99},
	    {"dr", COFFER_ERR_INVALID, 99},
	    {"ineg", COFFER_ERR_INVALID, 99},
	    {"b", COFFER_ERR_INVALID, 99},
	    {"empty", COFFER_ERR_INVALID, 99},
	    {"n", COFFER_ERR_NOT_FOUND, 99},
	    {"missing", COFFER_ERR_NOT_FOUND, 99},
	};

	CHECK_EQ(int_cases_failed(coffer_json_get_duration, "get_duration", cases,
	                          sizeof(cases) / sizeof(cases[0])),
	         0);
}

/* The list as "a|b|c", or "ERR" when the getter failed. */
static void list_string(const json_t *obj, const char *key, char *out, size_t cap)
{
	json_t *list = NULL, *item;
	size_t i, used = 0;

	out[0] = '\0';
	if (coffer_json_get_string_list(obj, key, &list) != 0) {
		snprintf(out, cap, "ERR");
		return;
	}
	json_array_foreach(list, i, item)
	{
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i > 0 ? "|" : "",
		                         json_string_value(item));
	}
	json_decref(list);
}

static void test_json_get_string_list(void)
{
	json_t *obj = load_body(), *list = (json_t *)1;
	char got[5][64];
	int rc_null, rc_absent;

	CHECK_OUT(obj != NULL);
	list_string(obj, "arr", got[0], sizeof(got[0]));
	list_string(obj, "csv", got[1], sizeof(got[1]));
	list_string(obj, "empty", got[2], sizeof(got[2]));
	list_string(obj, "arrbad", got[3], sizeof(got[3]));
	list_string(obj, "i", got[4], sizeof(got[4]));
	rc_null = coffer_json_get_string_list(obj, "n", &list);
	rc_absent = coffer_json_get_string_list(obj, "missing", &list);
	json_decref(obj);
	obj = NULL;
	CHECK_OUT(strcmp(got[0], "a|b") == 0);
	CHECK_OUT(strcmp(got[1], "a|b|c") == 0);
	CHECK_OUT(strcmp(got[2], "") == 0);
	CHECK_OUT(strcmp(got[3], "ERR") == 0);
	CHECK_OUT(strcmp(got[4], "ERR") == 0);
	CHECK_EQ_OUT(rc_null, COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(rc_absent, COFFER_ERR_NOT_FOUND);
	CHECK_OUT(list == (json_t *)1);
out:
	json_decref(obj);
}

static void test_json_getters_tolerate_non_object(void)
{
	json_t *arr = json_array();
	const char *s = NULL;
	int rc1, rc2;

	CHECK_OUT(arr != NULL);
	rc1 = coffer_json_get_string(arr, "a", &s);
	rc2 = coffer_json_get_string(NULL, "a", &s);
	json_decref(arr);
	arr = NULL;
	CHECK_EQ_OUT(rc1, COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(rc2, COFFER_ERR_NOT_FOUND);
out:
	json_decref(arr);
}

static void test_json_dump_is_compact_in_insertion_order(void)
{
	json_t *obj = json_object();
	char *text = NULL;
	int is_ok;

	CHECK_OUT(obj != NULL);
	json_object_set_new(obj, "zeta", json_integer(1));
	json_object_set_new(obj, "alpha", json_string("x y"));
	json_object_set_new(obj, "list", json_pack("[s,b,n]", "q\"", 1));
	text = coffer_json_dump(obj);
	json_decref(obj);
	obj = NULL;
	CHECK_OUT(text != NULL);
	is_ok = strcmp(text, "{\"zeta\":1,\"alpha\":\"x y\",\"list\":[\"q\\\"\",true,null]}") == 0;
	coffer_json_free_text(text);
	text = NULL;
	CHECK_OUT(is_ok);
	CHECK_OUT(coffer_json_dump(NULL) == NULL);
	coffer_json_free_text(NULL);
out:
	coffer_json_free_text(text);
	json_decref(obj);
}

static void test_json_wiping_allocator_is_installed_and_round_trips(void)
{
	json_malloc_t malloc_fn = NULL;
	json_free_t free_fn = NULL;
	unsigned char *p = NULL;
	json_t *obj = NULL;
	char *text = NULL;
	size_t i;

	json_get_alloc_funcs(&malloc_fn, &free_fn);
	CHECK_OUT(malloc_fn != NULL && free_fn != NULL);
	CHECK_OUT(malloc_fn != malloc);
	CHECK_OUT(free_fn != free);
	for (i = 0; i < 300; i += 37) {
		p = malloc_fn(i);
		CHECK_OUT(p != NULL);
		/* Blocks keep malloc's alignment despite the size header. */
		CHECK_OUT(((uintptr_t)p & 15) == 0);
		memset(p, 0xee, i);
		free_fn(p);
		p = NULL;
	}
	free_fn(NULL);
	obj = json_pack("{s:s}", "token", "s.0123456789abcdef");
	CHECK_OUT(obj != NULL);
	text = coffer_json_dump(obj);
	json_decref(obj);
	obj = NULL;
	CHECK_OUT(text != NULL);
out:
	coffer_json_free_text(text);
	json_decref(obj);
	/* Not NULL only after the checks that free_fn is set. */
	if (p != NULL)
		free_fn(p);
}

static void test_json_init_is_idempotent(void)
{
	json_malloc_t before = NULL, after = NULL;
	json_free_t f = NULL;

	json_get_alloc_funcs(&before, &f);
	coffer_json_init();
	json_get_alloc_funcs(&after, &f);
	CHECK(before == after);
}

static void test_json_allocator_returns_null_when_memory_runs_out(void)
{
	json_malloc_t malloc_fn = NULL;
	json_free_t free_fn = NULL;

	json_get_alloc_funcs(&malloc_fn, &free_fn);
	CHECK(malloc_fn(SIZE_MAX) == NULL);
}

static void json_daemon_malloc_too_large(void)
{
	json_malloc_t malloc_fn = NULL;
	json_free_t free_fn = NULL;

	coffer_json_init_daemon();
	json_get_alloc_funcs(&malloc_fn, &free_fn);
	free_fn(malloc_fn(SIZE_MAX));
}

static void test_json_daemon_allocator_is_fatal_when_memory_runs_out(void)
{
	CHECK(testutil_exits_out_of_memory(json_daemon_malloc_too_large));
}

/* 128 levels pass, 129 do not; brackets inside strings (escaped quotes too) do not count. */
static void test_json_parse_bounds_nesting(void)
{
	char buf[2048], msg[128];
	json_t *v = NULL;
	size_t n = 0;

	for (int depth = 128; depth <= 129; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{\"a\":");
		buf[n++] = '1';
		for (int i = 0; i < depth; i++)
			buf[n++] = '}';
		CHECK_EQ_OUT(coffer_json_parse_object(buf, n, &v, msg, sizeof(msg)),
		             depth <= COFFER_JSON_MAX_DEPTH ? COFFER_OK : COFFER_ERR_INVALID);
		json_decref(v);
		v = NULL;
	}
	CHECK_OUT(strstr(msg, "nested deeper than 128") != NULL);
	n = (size_t)snprintf(buf, sizeof(buf), "{\"s\":\"\\\"");
	for (int i = 0; i < 300; i++)
		buf[n++] = '[';
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"}");
	CHECK_EQ_OUT(coffer_json_parse_object(buf, n, &v, msg, sizeof(msg)), COFFER_OK);
out:
	json_decref(v);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_json_parse_empty_body_is_empty_object);
	RUN(test_json_parse_rejects_non_object);
	RUN(test_json_parse_error_names_position);
	RUN(test_json_parse_accepts_object_with_length);
	RUN(test_json_get_string);
	RUN(test_json_get_int_table);
	RUN(test_json_get_bool_table);
	RUN(test_json_get_duration_table);
	RUN(test_json_get_string_list);
	RUN(test_json_getters_tolerate_non_object);
	RUN(test_json_dump_is_compact_in_insertion_order);
	RUN(test_json_wiping_allocator_is_installed_and_round_trips);
	RUN(test_json_init_is_idempotent);
	RUN(test_json_allocator_returns_null_when_memory_runs_out);
	RUN(test_json_daemon_allocator_is_fatal_when_memory_runs_out);
	RUN(test_json_parse_bounds_nesting);
	return test_summary();
}
