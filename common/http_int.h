/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_int.h: what the two transports of http_client.c share. http:// goes through a small
 * HTTP/1.1 client of its own (http_plain.c): a process that talks plain HTTP (loopback, a
 * service mesh) then loads no TLS stack at all, which is most of an agent's memory. https://
 * goes through libcurl, loaded when the first https client is made.
 */
#ifndef COFFER_HTTP_INT_H
#define COFFER_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* The largest answer accepted (a KV read of a large secret fits many times): the max_len of the
 * buffers that hold one (buf.h), so that a larger one fails with COFFER_ERR_TOO_LARGE. */
#define HTTP_RESPONSE_MAX (64u << 20)
/* Their first allocation. */
#define HTTP_BUF_MIN 4096

/* The answer in raw so far (status line, headers, body), read to the end of the stream when
 * is_eof: 1 and the status, the body in out and whether the server closes the connection when
 * it is complete; 0 when more must be read; -1 with a reason in *why when it is malformed or cut
 * short. Only bytes inside raw are read (fuzzed: tests/fuzz/fuzz_http_answer.c). */
int http_parse_answer(const struct buf *raw, bool is_head, bool is_eof, struct buf *out,
                      long *status, bool *is_close, const char **why);

/* One server reached over plain HTTP/1.1, with a connection kept between requests. */
struct http_plain {
	char host[256]; /* without brackets */
	char port[8];
	char authority[300]; /* the Host header */
	int fd;              /* -1: not connected */
	char location[1024]; /* the last answer's Location header ("" when none or too long) */
};

/* From "host[:port]" or "[v6][:port]" (port 80 when absent). -1 with err on a bad authority. */
int http_plain_init(struct http_plain *p, const char *authority, size_t len, char *err,
                    size_t err_len);
void http_plain_close(struct http_plain *p);
/*
 * method target (e.g. "/v1/sys/health") with the headers given, each ending in "\r\n" (they may
 * hold the token: wiped here), and body (may be NULL); the answer's body into out and its status
 * into *status. 0, or -1 with the reason in err. timeout_ms (0: none) bounds the whole exchange.
 */
int http_plain_request(struct http_plain *p, long timeout_ms, const char *method,
                       const char *target, const char *headers, const char *body, struct buf *out,
                       long *status, char *err, size_t err_len);

#endif
