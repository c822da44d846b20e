/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_client.h: a small client for Coffer's HTTP API (API.md), shared by the coffer CLI and
 * coffer-agent. It sends JSON, parses JSON answers, and wipes every buffer that may hold a token
 * or a secret (the serialised request, the token header, the response body). http:// goes over
 * an HTTP/1.1 client of its own; https:// through libcurl, loaded at run time (http_int.h). It
 * lives in its own static library (coffer_http), which cofferd does not link.
 */
#ifndef COFFER_HTTP_CLIENT_H
#define COFFER_HTTP_CLIENT_H

#include <jansson.h>

#include "err.h"

struct coffer_http;

/*
 * A client for addr ("http://127.0.0.1:8200" or "https://..."; a trailing '/' is allowed). ca_cert
 * (may be NULL: the system's CAs) is a PEM file that verifies an https server. timeout_ms bounds
 * each whole request (0: no limit). NULL when addr is not http(s) or memory runs out; the
 * reason goes to errbuf (may be NULL).
 */
struct coffer_http *coffer_http_new(const char *addr, const char *ca_cert, long timeout_ms,
                                    char *errbuf, size_t errbuf_len);
/* Release h (NULL is allowed). */
void coffer_http_free(struct coffer_http *h);

/*
 * One request: method ("GET", "LIST", "PATCH", ...) on addr + "/v1/" + path. path may carry a
 * query ("secret/data/x?version=2"); its path part is percent-encoded here, its query is sent as
 * given (the caller encodes it with coffer_http_escape()). token (may be NULL) goes in
 * X-Vault-Token. body (may be NULL: no body) is sent as JSON; a PATCH is sent as
 * application/merge-patch+json (API.md). On success *status is the HTTP status and *resp_json the
 * parsed answer, or NULL when the body was empty or not JSON; the caller frees it (json_decref;
 * the jansson allocator wipes). Returns 0, or COFFER_ERR_IO (no answer: connection, TLS, timeout)
 * with the reason in coffer_http_error(h), or COFFER_ERR_NOMEM.
 */
int coffer_http_request(struct coffer_http *h, const char *method, const char *path,
                        const char *token, const json_t *body, long *status, json_t **resp_json);

/* The reason of the last failed request, for messages; never NULL. */
const char *coffer_http_error(const struct coffer_http *h);

/* s percent-encoded for a URL query value (RFC 3986 unreserved characters kept); free() it. NULL
 * when memory runs out. */
char *coffer_http_escape(const char *s);

#endif
