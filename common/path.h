/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.h: logical path hygiene. A normalized path has no leading '/', segments separated by single
 * '/', and keeps a trailing '/' when the input had one (it marks a folder for LIST). Rejected with
 * COFFER_ERR_INVALID: "." or ".." segments, empty segments ("a//b"), NUL, ASCII control characters
 * and DEL, and anything longer than PATH_MAX_LEN.
 */
#ifndef COFFER_PATH_H
#define COFFER_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define PATH_MAX_LEN 4096

/*
 * Normalize in (in_len bytes; embedded NULs are rejected) into out (out_cap bytes, NUL-terminated).
 * One or more leading slashes are dropped; "" and "/" normalize to "". Returns 0 or
 * COFFER_ERR_INVALID; out is left as "" on error.
 */
int path_normalize(const char *in, size_t in_len, char *out, size_t out_cap) COFFER_WUR;

/*
 * Percent-decode s in place ("%HH", as libmicrohttpd does for a URL and its arguments) and return
 * the new length. "%00" decodes to DEL (0x7f), not NUL, so that path_normalize() refuses such a
 * path instead of seeing it cut short at the NUL ("a%00b" must not name "a").
 */
size_t path_unescape(char *s);

/*
 * Apply the trailing-slash rule to p (normalized, cap bytes): a folder (the path of a LIST) ends
 * with '/', added when missing; any other path names an entry, and its trailing '/' is dropped.
 * "" stays "". COFFER_ERR_INVALID (p unchanged) when the '/' does not fit.
 */
int path_set_folder(char *p, size_t cap, bool is_folder) COFFER_WUR;

#endif
