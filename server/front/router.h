/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h: maps a request to a route and runs the checks every route needs before its handler:
 * method, initialized and unsealed state, token and sudo (DESIGN.md §2). Handlers never see HTTP.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "api/request.h"

struct core;

typedef void (*route_fn)(struct core *c, struct request *req, struct response *resp);
/* Existence check for POST/PUT: 1 when the target exists (the ACL operation is update), 0 when
 * it does not (create), or a negative error. */
typedef int (*route_exists_fn)(struct core *c, struct request *req);

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
 * parameter "*". The path matched is the canonical one (router.c): it ends with '/' only for a
 * LIST, and that '/' is ignored for matching.
 */
struct route {
	const char *pattern;
	unsigned methods; /* REQ_M() bits */
	unsigned flags;
	route_fn fn;
	route_exists_fn exists; /* NULL: POST/PUT is an update */
};

/* A table of sys/ routes, registered in router.c. */
struct route_table {
	const struct route *routes;
	const size_t *len;
};

/*
 * Run the request through the route tables and fill resp. Never fails: errors become responses.
 * req->path is made canonical first (DESIGN.md §10.9), and the ACL, the audit line, rel_path and
 * the parameters all read that one value.
 */
void router_dispatch(struct core *c, struct request *req, struct response *resp);
/*
 * Record a request that the front end already refused (a bad body or query; resp holds the
 * error) as router_dispatch() would have: once the vault is unsealed, on a route that is not raw,
 * a request and a response line, with the caller's token when it is valid (looked up, no use
 * counted). req->path must be normalized. resp becomes a 500 when no audit device records it.
 */
void router_refuse(struct core *c, struct request *req, struct response *resp);

#endif
