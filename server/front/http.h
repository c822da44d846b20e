/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.h: the listener (libmicrohttpd, thread pool over epoll, optional TLS). It reads the method,
 * path, headers and a bounded body, hands a struct request to the router and sends the response.
 * It never sees keys or storage.
 */
#ifndef COFFER_HTTP_H
#define COFFER_HTTP_H

#include "err.h"

struct core;
struct http_server;

/* Start listening on c->cfg->listen. COFFER_ERR_CONFIG with a logged reason on failure. */
int http_start(struct core *c, struct http_server **out);
/* Stop accepting, finish in-flight requests, free. NULL allowed. */
void http_stop(struct http_server *h);

#endif
