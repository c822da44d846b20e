/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_limits.h: the listener's connection accounting (README.md "Limits"): a global and a
 * per-address connection limit, refused at once with 503, and a deadline for receiving each
 * request's head and body, enforced by a reaper thread that closes late connections.
 */
#ifndef COFFER_HTTP_LIMITS_H
#define COFFER_HTTP_LIMITS_H

#include <stdbool.h>

#include <microhttpd.h>

#include "err.h"

struct config;
struct http_limits;

/* Raise the soft open-file limit to the hard one and start the reaper. With TLS, refusals and
 * the deadline close the connection without an answer (nothing can be written in clear). */
int http_limits_new(const struct config *cfg, bool is_tls, struct http_limits **out);
/* After the listener stopped: stop the reaper, free. NULL allowed. */
void http_limits_free(struct http_limits *l);
/* libmicrohttpd's own connection limit: above ours, so that ours answers first. */
unsigned http_limits_mhd_cap(const struct http_limits *l);

/* MHD_OPTION_NOTIFY_CONNECTION, with l as its closure. */
void http_limits_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* MHD_OPTION_URI_LOG_CALLBACK: remember where the request's URI is. */
void *http_limits_uri_log(void *cls, const char *uri, struct MHD_Connection *conn);
/* False when the request line had a NUL byte in its URI (which libmicrohttpd cuts the URL at):
 * url and version as the access handler got them. */
bool http_limits_uri_is_whole(struct MHD_Connection *conn, const char *url, const char *version);
/* The request on conn is received in full (or answered): its deadline no longer runs. */
void http_limits_received(struct MHD_Connection *conn);
/* The response on conn is done: the next request's deadline starts now. */
void http_limits_next(struct MHD_Connection *conn);

#endif
