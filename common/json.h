/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json.h: jansson with a wiping allocator, and typed getters for request bodies. Every getter
 * treats an absent key and a JSON null the same (API.md: null values are ignored), leaves *out
 * untouched in that case and returns COFFER_ERR_NOT_FOUND; a present value of the wrong type is
 * COFFER_ERR_INVALID. Prefixed coffer_json_ because jansson owns json_.
 */
#ifndef COFFER_JSON_H
#define COFFER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* Install the wiping allocator (json_set_alloc_funcs). Call once in main() before any jansson use.
 */
void coffer_json_init(void);
/* coffer_json_init(), with an allocator that calls fatal() when memory runs out (cofferd's
 * policy, xmalloc.h): jansson's constructors (json_object, json_string, json_pack...) then return
 * NULL only for bad input, never for lack of memory, and neither do the functions below. Call in
 * main() before any jansson use and before starting threads. */
void coffer_json_init_daemon(void);

/* How deep arrays and objects of a request body may nest. */
#define COFFER_JSON_MAX_DEPTH 128

/* Parse a request body: len 0 is an empty object; anything but an object, or one nested deeper
 * than COFFER_JSON_MAX_DEPTH, is COFFER_ERR_INVALID. On error, errbuf (may be NULL) gets a
 * message for the client that names the position. */
int coffer_json_parse_object(const char *buf, size_t len, json_t **out, char *errbuf,
                             size_t errbuf_len);

/* Whether v is an object whose every value is a string (token and secret_id metadata). */
bool coffer_json_is_string_map(const json_t *v);

/* Typed getters; see the file comment for the absent/null rule. */
int coffer_json_get_string(const json_t *obj, const char *key, const char **out);
int coffer_json_get_bool(const json_t *obj, const char *key, bool *out);
/* Integers; a string of decimal digits is accepted too (clients send "5"). */
int coffer_json_get_int(const json_t *obj, const char *key, int64_t *out);
/* Durations: an integer number of seconds, or a string that duration_parse() accepts. */
int coffer_json_get_duration(const json_t *obj, const char *key, int64_t *out_s);
/* A list of strings: a JSON array of strings, or a comma-separated string (hvac sends these).
 * *out is a new array of strings with empty items and surrounding spaces removed. */
int coffer_json_get_string_list(const json_t *obj, const char *key, json_t **out);

/* Serialise compactly (the order of keys is the insertion order). Caller frees with
 * coffer_json_free_text(), which wipes. NULL when v is NULL, or when memory runs out (never in a
 * process that called coffer_json_init_daemon()). */
char *coffer_json_dump(const json_t *v);
void coffer_json_free_text(char *text);

#endif
