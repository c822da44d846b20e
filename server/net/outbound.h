/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbound.h: the requests cofferd itself makes (libcurl): a Kubernetes TokenReview, a JWK set or
 * an OpenID discovery document. JSON in, JSON out, over https with a CA given as PEM text (or the
 * system's CAs) or plain http; no redirects, no proxies from the environment, bounded time and
 * size. The bearer token and the body are wiped after the request.
 */
#ifndef COFFER_OUTBOUND_H
#define COFFER_OUTBOUND_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"

/* The largest answer read (a JWK set with many keys stays far below). */
#define OUTBOUND_MAX_BODY (1024 * 1024)
/* Requests waiting on other servers at once. Logins run on the write pool (front/http.c); a
 * slow or unreachable API server must not hold every writer, so beyond this a request fails at
 * once (COFFER_ERR_LIMIT) and the rest of the server keeps writing. A healthy API server answers
 * a review in about 2 ms: 16 in flight carry thousands of logins a second. */
#define OUTBOUND_MAX_IN_FLIGHT 16

struct outbound_request {
	const char *method; /* "GET" or "POST" */
	const char *url;    /* http:// or https:// */
	const char *ca_pem; /* trust for https (NULL or "": the system's CAs) */
	const char *bearer; /* Authorization: Bearer (NULL: none) */
	const json_t *body; /* sent as application/json (NULL: none) */
	long timeout_ms;    /* the whole request; 0: 10 s */
	/* Out, when not NULL: the answer's Cache-Control max-age in seconds (0 for no-cache or
	 * no-store), or -1 when it gives none. */
	long *max_age_s;
};

/*
 * Once, before the process confines itself: libcurl's and its TLS library's global set-up, and a
 * first name lookup so that glibc loads what resolving needs while loading code is allowed.
 */
void outbound_init(void);

/*
 * Send rq. On an answer: 0, *status the HTTP status, *out the parsed JSON body (NULL when empty or
 * not JSON; the caller releases it). Otherwise COFFER_ERR_IO (connection, TLS, timeout, an answer
 * too large), COFFER_ERR_LIMIT (OUTBOUND_MAX_IN_FLIGHT requests are already waiting) or
 * COFFER_ERR_INVALID (a URL that is not http(s)), with the reason in why.
 */
int outbound_json(const struct outbound_request *rq, long *status, json_t **out, char *why,
                  size_t cap);

#endif
