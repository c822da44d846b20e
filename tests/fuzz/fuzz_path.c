/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: request paths and durations. A normalized path must normalize to itself; the
 * canonical form (trailing-slash rule) of a normalized path is normalized too; an unescaped URL
 * never grows, never holds a NUL, and its length is what path_unescape() says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[PATH_MAX_LEN + 1], again[PATH_MAX_LEN + 1];
	char *s;
	int64_t secs;
	size_t n, m;

	if (path_normalize((const char *)data, size, out, sizeof(out)) == 0) {
		if (path_normalize(out, strlen(out), again, sizeof(again)) != 0 ||
		    strcmp(out, again) != 0)
			abort();
		if (path_set_folder(out, sizeof(out), size > 0 && (data[0] & 1)) == 0 &&
		    (path_normalize(out, strlen(out), again, sizeof(again)) != 0 ||
		     strcmp(out, again) != 0))
			abort();
	}
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)duration_parse(s, &secs);
	n = strlen(s);
	m = path_unescape(s);
	if (m > n || strlen(s) != m)
		abort();
	free(s);
	return 0;
}
