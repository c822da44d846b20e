/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.h: maps a request to a route (api/route.h) and runs the checks every route needs before
 * its handler: method, initialized and unsealed state, token and sudo (DESIGN.md §2); then calls
 * the handler with the context its table or engine declared (api/engine.h).
 */
#ifndef COFFER_ROUTER_H
#define COFFER_ROUTER_H

#include "api/route.h"

struct core;

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
