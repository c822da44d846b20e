/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.h: what a route is (DESIGN.md §2): a path pattern, the methods it takes, the checks the
 * front end runs before its handler, and the handler. Engines and subsystems declare tables of
 * routes; front/router.c finds the route of a request and calls it with an engine context
 * (api/engine.h). Handlers never see HTTP.
 */
#ifndef COFFER_ROUTE_H
#define COFFER_ROUTE_H

#include <stddef.h>

#include "api/request.h"

struct engine_ctx;

typedef void (*route_fn)(const struct engine_ctx *ctx, struct request *req, struct response *resp);
/* Existence check for POST/PUT: 1 when the target exists (the ACL operation is update), 0 when
 * it does not (create), or a negative error. */
typedef int (*route_exists_fn)(const struct engine_ctx *ctx, struct request *req);

enum route_flags {
	ROUTE_RAW = 1 << 0,    /* no token, no envelope, served while sealed (sys/init, ...) */
	ROUTE_PREFIX = 1 << 1, /* the pattern matches itself and anything below it */
	ROUTE_SUDO = 1 << 2,   /* needs the sudo capability on the path (root has it) */
	ROUTE_UNAUTH = 1 << 3, /* needs no token, but an unsealed vault (logins) */
	ROUTE_FOLD = 1 << 4    /* the store lowercases the ":name" segments: so does the path */
};

/*
 * A route. The pattern is matched segment by segment against the path below the mount (the
 * whole path for sys/ routes): ":name" matches one segment and is captured as a parameter
 * (request_param()); with ROUTE_PREFIX the pattern also matches longer paths, and the rest is the
 * parameter "*". The path matched is the canonical one (front/router.c): it ends with '/' only
 * for a LIST, and that '/' is ignored for matching.
 */
struct route {
	const char *pattern;
	unsigned methods; /* REQ_M() bits */
	unsigned flags;
	route_fn fn;
	route_exists_fn exists; /* NULL: POST/PUT is an update */
};

/* A table of sys/ routes and the services (ENGINE_USES_*) its handlers use; the tables are
 * listed in front/registry.c. */
struct route_table {
	const struct route *routes;
	const size_t *len;
	unsigned uses;
};

#endif
