/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsontest.h: JSON helpers for unit tests: strict equality of two values, a growing text buffer,
 * and a seeded generator of random values (adversarial strings and numbers) and of random
 * spellings of a value as JSON text (escapes, exponents, whitespace), so that a failure replays
 * from its seed. Header-only, like testutil.h.
 */
#ifndef COFFER_JSONTEST_H
#define COFFER_JSONTEST_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* Equal as parsed JSON, strictly: same types (1 is not 1.0), reals bit for bit (-0.0 is not
 * 0.0), strings byte for byte, objects with the same keys in any order. Keys hold no NUL (the
 * parser refuses one), so json_object_get() finds them. */
static inline bool jsontest_same(const json_t *a, const json_t *b)
{
	const char *key;
	json_t *item;
	double x, y;
	size_t i;

	if (a == NULL || b == NULL || json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, key, item)
		{
			if (!jsontest_same(item, json_object_get(b, key)))
				return false;
		}
		return true;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++) {
			if (!jsontest_same(json_array_get(a, i), json_array_get(b, i)))
				return false;
		}
		return true;
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) ==
		           0;
	case JSON_INTEGER:
		return json_integer_value(a) == json_integer_value(b);
	case JSON_REAL:
		x = json_real_value(a);
		y = json_real_value(b);
		return memcmp(&x, &y, sizeof(x)) == 0;
	default:
		return true; /* true, false, null: the type is the value */
	}
}

/* A growing text buffer for built and random bodies. */
struct jsontest_text {
	char *s;
	size_t len, cap;
};

static inline void jsontest_put(struct jsontest_text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL)
			abort();
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static inline void jsontest_puts(struct jsontest_text *t, const char *s)
{
	jsontest_put(t, s, strlen(s));
}

/* head, n copies of unit, tail: malloc'd text. */
static inline char *jsontest_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	struct jsontest_text t = {0};
	size_t i;

	jsontest_puts(&t, head);
	for (i = 0; i < n; i++)
		jsontest_puts(&t, unit);
	jsontest_puts(&t, tail);
	return t.s;
}

/* head, depth levels of {"k\n": and [ in turn around 0, tail: malloc'd text. */
static inline char *jsontest_nested(const char *head, size_t depth, const char *tail)
{
	struct jsontest_text t = {0};
	size_t i;

	jsontest_puts(&t, head);
	for (i = 0; i < depth; i++)
		jsontest_puts(&t, i % 2 == 0 ? "{\"k\\n\":" : "[");
	jsontest_puts(&t, "0");
	for (i = depth; i > 0; i--)
		jsontest_puts(&t, (i - 1) % 2 == 0 ? "}" : "]");
	jsontest_puts(&t, tail);
	return t.s;
}

/* head, {"a":[n integers and reals],"o":{n / 20 keys and values in escapes}}, tail: malloc'd. */
static inline char *jsontest_large(const char *head, size_t n, const char *tail)
{
	struct jsontest_text t = {0};
	char item[48];
	size_t i;

	jsontest_puts(&t, head);
	jsontest_puts(&t, "{\"a\":[");
	for (i = 0; i < n; i++) {
		snprintf(item, sizeof(item), i % 3 == 0 ? "%s%zu" : "%s%zu.5e-3", i > 0 ? "," : "",
		         i);
		jsontest_puts(&t, item);
	}
	jsontest_puts(&t, "],\"o\":{");
	for (i = 0; i < n / 20; i++) {
		snprintf(item, sizeof(item), "%s\"k\\t%zu\\\"\":\"\\u%04zx\"", i > 0 ? "," : "", i,
		         0x20 + i % 0x7000);
		jsontest_puts(&t, item);
	}
	jsontest_puts(&t, "}}");
	jsontest_puts(&t, tail);
	return t.s;
}

/* splitmix64: a small seeded PRNG, so that a failure replays. */
static uint64_t jsontest_rng_state;

static inline void jsontest_rng_seed(uint64_t seed)
{
	jsontest_rng_state = seed;
}

static inline uint64_t jsontest_rng_next(void)
{
	uint64_t z = (jsontest_rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t jsontest_rng_below(uint64_t n)
{
	return jsontest_rng_next() % n;
}

static inline uint32_t jsontest_rand_code_point(void)
{
	static const uint32_t special[] = {'"',    '\\',   '/',    0x7f,   0x80,    0x7ff,
	                                   0x800,  0x2028, 0x2029, 0xfeff, 0xfffd,  0xfffe,
	                                   0xffff, 0x200d, 0xe000, 0xd7ff, 0x10000, 0x10ffff};
	uint32_t cp;

	switch (jsontest_rng_below(6)) {
	case 0:
		return 0x20 + (uint32_t)jsontest_rng_below(0x5f);
	case 1:
		return 1 +
		       (uint32_t)jsontest_rng_below(0x1f); /* U+0000 cannot be in a request body */
	case 2:
		return special[jsontest_rng_below(sizeof(special) / sizeof(special[0]))];
	case 3:
		do
			cp = 0x80 + (uint32_t)jsontest_rng_below(0xff80);
		while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	case 4:
		return 0x10000 + (uint32_t)jsontest_rng_below(0x100000);
	default:
		return 0x300 + (uint32_t)jsontest_rng_below(0x70); /* combining marks */
	}
}

static inline size_t jsontest_utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random UTF-8 string of up to max_cps code points in buf (4 * max_cps bytes); its length. */
static inline size_t jsontest_rand_utf8(char *buf, size_t max_cps)
{
	static const char *const keys[] = {"",   "data", "metadata", "request_id", "\"",
	                                   "\\", "\x01", "}",        "e\xcc\x81",  "\xe2\x80\xa8"};
	size_t n = jsontest_rng_below(max_cps + 1), len = 0, i;

	if (jsontest_rng_below(8) == 0) {
		i = jsontest_rng_below(sizeof(keys) / sizeof(keys[0]));
		memcpy(buf, keys[i], strlen(keys[i]));
		return strlen(keys[i]);
	}
	for (i = 0; i < n; i++)
		len += jsontest_utf8_put(jsontest_rand_code_point(), buf + len);
	return len;
}

static inline json_t *jsontest_rand_number(void)
{
	static const double reals[] = {
	    -0.0,    0.0,      0.1,     1e23,  5e-324, 2.2250738585072014e-308,
	    DBL_MAX, -DBL_MAX, 1.0,     -1.5,  1e-7,   0.30000000000000004,
	    1e21,    1e300,    4.35e-9, 2e-308};
	uint64_t bits;
	double d;

	switch (jsontest_rng_below(6)) {
	case 0:
		return json_integer(jsontest_rng_below(2) != 0 ? INT64_MAX : INT64_MIN);
	case 1:
		return json_integer(
		    (json_int_t)(jsontest_rng_next() >> (1 + jsontest_rng_below(63))) *
		    (jsontest_rng_below(2) != 0 ? 1 : -1));
	case 2:
		return json_real(reals[jsontest_rng_below(sizeof(reals) / sizeof(reals[0]))]);
	default:
		do {
			bits = jsontest_rng_next();
			memcpy(&d, &bits, sizeof(d));
		} while (!isfinite(d));
		return json_real(d);
	}
}

static inline json_t *jsontest_rand_value(int depth);

static inline json_t *jsontest_rand_container(int depth, bool is_object)
{
	json_t *c = is_object ? json_object() : json_array();
	size_t n = jsontest_rng_below(40) == 0 ? 50 + jsontest_rng_below(200)
	                                       : jsontest_rng_below(7),
	       i, len;
	char key[4 * 12];

	for (i = 0; i < n; i++) {
		if (is_object) {
			len = jsontest_rand_utf8(key, 12);
			json_object_setn_new(c, key, len, jsontest_rand_value(depth - 1));
		} else {
			json_array_append_new(c, jsontest_rand_value(depth - 1));
		}
	}
	return c;
}

static inline json_t *jsontest_rand_value(int depth)
{
	char buf[4 * 24];

	switch (jsontest_rng_below(depth > 0 ? 10 : 7)) {
	case 0:
		return json_null();
	case 1:
		return json_boolean(jsontest_rng_below(2));
	case 2:
	case 3:
		return jsontest_rand_number();
	case 4:
	case 5:
	case 6:
		return json_stringn(buf, jsontest_rand_utf8(buf, 24));
	case 7:
	case 8:
		return jsontest_rand_container(depth, true);
	default:
		return jsontest_rand_container(depth, false);
	}
}

/* Random whitespace between tokens. */
static inline void jsontest_spell_space(struct jsontest_text *t)
{
	static const char *const ws[] = {"", "", "", "", " ", "\n", "\t", "\r\n  "};

	jsontest_puts(t, ws[jsontest_rng_below(sizeof(ws) / sizeof(ws[0]))]);
}

/* One code point, raw or escaped at random; escaped when JSON requires it. */
static inline void jsontest_spell_code_point(struct jsontest_text *t, uint32_t cp, const char *raw,
                                             size_t raw_len)
{
	static const char shorts[] = "\b\f\n\r\t\"\\/", letters[] = "bfnrt\"\\/";
	const char *hit = cp < 0x80 && cp != 0 ? strchr(shorts, (int)cp) : NULL;
	bool is_upper = jsontest_rng_below(2) != 0;
	char esc[16];

	if (cp >= 0x20 && cp != '"' && cp != '\\' && jsontest_rng_below(4) != 0) {
		jsontest_put(t, raw, raw_len);
	} else if (hit != NULL && jsontest_rng_below(2) != 0) {
		esc[0] = '\\';
		esc[1] = letters[hit - shorts];
		jsontest_put(t, esc, 2);
	} else if (cp < 0x10000) {
		snprintf(esc, sizeof(esc), is_upper ? "\\u%04X" : "\\u%04x", (unsigned)cp);
		jsontest_puts(t, esc);
	} else {
		snprintf(esc, sizeof(esc), is_upper ? "\\u%04X" : "\\u%04x",
		         (unsigned)(0xd800 + ((cp - 0x10000) >> 10)));
		jsontest_puts(t, esc);
		snprintf(esc, sizeof(esc), is_upper ? "\\u%04X" : "\\u%04x",
		         (unsigned)(0xdc00 + ((cp - 0x10000) & 0x3ff)));
		jsontest_puts(t, esc);
	}
}

/* A string (valid UTF-8, as jansson holds it) in randomly chosen escapes. */
static inline void jsontest_spell_string(struct jsontest_text *t, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	jsontest_puts(t, "\"");
	while (i < len) {
		n = u[i] < 0x80 ? 1 : u[i] < 0xe0 ? 2 : u[i] < 0xf0 ? 3 : 4;
		cp = n == 1 ? u[i] : u[i] & (0x3f >> (n - 1));
		for (size_t k = 1; k < n; k++)
			cp = cp << 6 | (u[i + k] & 0x3f);
		jsontest_spell_code_point(t, cp, s + i, n);
		i += n;
	}
	jsontest_puts(t, "\"");
}

/* A real in one of three spellings, each with 17 significant digits (exact for a double). */
static inline void jsontest_spell_real(struct jsontest_text *t, double d)
{
	char buf[48];

	switch (jsontest_rng_below(3)) {
	case 0:
		snprintf(buf, sizeof(buf), "%.17g", d);
		if (strpbrk(buf, ".e") == NULL)
			strcat(buf, ".0");
		break;
	case 1:
		snprintf(buf, sizeof(buf), "%.16e", d);
		break;
	default:
		snprintf(buf, sizeof(buf), "%.16E", d);
		break;
	}
	jsontest_puts(t, buf);
}

/* v as JSON text with random spelling: escapes, exponents, whitespace. */
static inline void jsontest_spell(struct jsontest_text *t, const json_t *v)
{
	const char *key, *sep = "";
	json_t *item;
	char num[32];
	size_t i;

	jsontest_spell_space(t);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jsontest_puts(t, "{");
		json_object_foreach((json_t *)v, key, item)
		{
			jsontest_puts(t, sep);
			jsontest_spell_space(t);
			jsontest_spell_string(t, key, strlen(key));
			jsontest_spell_space(t);
			jsontest_puts(t, ":");
			jsontest_spell(t, item);
			sep = ",";
		}
		jsontest_puts(t, "}");
		break;
	case JSON_ARRAY:
		jsontest_puts(t, "[");
		for (i = 0; i < json_array_size(v); i++) {
			jsontest_puts(t, i > 0 ? "," : "");
			jsontest_spell(t, json_array_get(v, i));
		}
		jsontest_puts(t, "]");
		break;
	case JSON_STRING:
		jsontest_spell_string(t, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		jsontest_puts(t, num);
		break;
	case JSON_REAL:
		jsontest_spell_real(t, json_real_value(v));
		break;
	default:
		jsontest_puts(t, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
		break;
	}
	jsontest_spell_space(t);
}

#endif
