/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the HTTP/1.1 answer parser of the plain client (common/http_plain.c), on bytes as a
 * server might send them, cut at the end of the stream or not, for GET and HEAD: it answers
 * complete, incomplete or malformed (with a reason), never reads outside the bytes, and a complete
 * answer has a three-digit status and a body no longer than what came in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	struct buf raw;
	bool is_close;
	long status;
	int rc;

	buf_init(&raw, HTTP_BUF_MIN, HTTP_RESPONSE_MAX);
	if (size > 0 && buf_append(&raw, data, size) != 0)
		return 0;
	for (int flags = 0; flags < 4; flags++) {
		struct buf out;

		buf_init(&out, HTTP_BUF_MIN, HTTP_RESPONSE_MAX);
		status = 0;
		rc = http_parse_answer(&raw, flags & 1, flags & 2, &out, &status, &is_close, &why);
		if (rc < -1 || rc > 1 || (rc < 0 && (why == NULL || why[0] == '\0')))
			abort();
		if (rc == 1 && (status < 100 || status > 999 || out.len > size))
			abort();
		buf_free(&out);
	}
	buf_free(&raw);
	return 0;
}
