/* SPDX-License-Identifier: Apache-2.0 */
/*
 * path.c: normalization of logical request paths. The router normalizes every
 * request path here before mount lookup and ACL checks, so no other code sees "..", "//" or
 * control characters.
 */
#include <string.h>

#include "path.h"

/* Is seg[0..len) a segment that may appear in a path? */
static bool segment_is_valid(const char *seg, size_t len)
{
	size_t i;

	if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)seg[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int path_normalize(const char *in, size_t in_len, char *out, size_t out_cap)
{
	const char *start, *p, *end, *slash;
	size_t seg_len;
	int rc = COFFER_ERR_INVALID;

	if (out == NULL || out_cap == 0)
		return COFFER_ERR_INVALID;
	out[0] = '\0';
	if (in_len == 0)
		return COFFER_OK;
	if (in == NULL || in_len > PATH_MAX_LEN)
		goto out;
	start = in;
	end = in + in_len;
	while (start < end && *start == '/')
		start++;
	/* What remains is copied verbatim, so it only has to pass the checks and fit. */
	if ((size_t)(end - start) + 1 > out_cap)
		goto out;
	for (p = start; p < end;) {
		slash = memchr(p, '/', (size_t)(end - p));
		seg_len = slash != NULL ? (size_t)(slash - p) : (size_t)(end - p);
		if (!segment_is_valid(p, seg_len))
			goto out;
		/* Step over the segment and its '/'; a '/' that ends the input marks a folder. */
		p += seg_len;
		if (p < end)
			p++;
	}
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	rc = COFFER_OK;
out:
	return rc;
}

static int path_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t path_unescape(char *s)
{
	char *r = s, *w = s;
	int hi, lo;

	while (*r != '\0') {
		if (r[0] == '%' && (hi = path_hex_digit(r[1])) >= 0 &&
		    (lo = path_hex_digit(r[2])) >= 0) {
			*w = (char)(hi << 4 | lo);
			if (*w == '\0')
				*w = 0x7f;
			w++;
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

int path_set_folder(char *p, size_t cap, bool is_folder)
{
	size_t len = strlen(p);

	if (len == 0)
		return 0;
	if (!is_folder) {
		if (p[len - 1] == '/')
			p[len - 1] = '\0';
		return 0;
	}
	if (p[len - 1] == '/')
		return 0;
	if (len + 2 > cap)
		return COFFER_ERR_INVALID;
	p[len] = '/';
	p[len + 1] = '\0';
	return 0;
}
