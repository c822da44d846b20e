/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h: maps a request to a route and runs the checks every route needs before its handler:
 * method, initialized and unsealed state, token and sudo (DESIGN.md §2). Handlers never see HTTP.
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "request.h"

struct core;

typedef void (*route_fn)(struct core *c, struct request *req, struct response *resp);

enum route_flags {
	ROUTE_RAW = 1 << 0,    /* no token, no envelope, served while sealed (sys/init, ...) */
	ROUTE_PREFIX = 1 << 1, /* the pattern matches itself and anything below it */
	ROUTE_SUDO = 1 << 2    /* needs a root or sudo token */
};

struct route {
	const char *pattern; /* normalized path, e.g. "sys/seal-status" */
	unsigned methods;    /* REQ_M() bits */
	unsigned flags;
	route_fn fn;
};

/* Run the request through the route tables and fill resp. Never fails: errors become responses. */
void router_dispatch(struct core *c, struct request *req, struct response *resp);

#endif
