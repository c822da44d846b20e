/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c: finds the route for a request in the engines' route tables (longest match wins) and
 * runs the checks common to all routes before the handler: method, state, token (DESIGN.md §2).
 */
#include <string.h>

#include "core.h"
#include "router.h"
#include "sys.h"

struct route_table {
	const struct route *routes;
	const size_t *len;
};

static const struct route_table route_tables[] = {
	{sys_routes, &sys_routes_len},
};

/* Length of the match of pattern against path, or 0 when it does not match. A trailing '/' on the
 * path is not part of the match (LIST of "sys/policies/acl/" is the route "sys/policies/acl"). */
static size_t route_match(const struct route *r, const char *path)
{
	size_t plen = strlen(r->pattern);
	size_t len = strlen(path);

	if (len > 0 && path[len - 1] == '/')
		len--;
	if (strncmp(path, r->pattern, plen) != 0)
		return 0;
	if (len == plen)
		return plen;
	if ((r->flags & ROUTE_PREFIX) && path[plen] == '/')
		return plen;
	return 0;
}

static const struct route *router_find(const char *path)
{
	const struct route *best = NULL;
	size_t best_len = 0;
	size_t t, i, n;

	for (t = 0; t < sizeof(route_tables) / sizeof(route_tables[0]); t++) {
		for (i = 0; i < *route_tables[t].len; i++) {
			n = route_match(&route_tables[t].routes[i], path);
			if (n > best_len) {
				best = &route_tables[t].routes[i];
				best_len = n;
			}
		}
	}
	return best;
}

/* 501 before init, 503 while sealed, 0 when unsealed. */
static int router_state(struct core *c)
{
	struct seal_status st;

	if (!barrier_is_sealed(c->barrier))
		return 0;
	seal_get_status(c->seal, &st);
	return st.initialized ? COFFER_ERR_SEALED : COFFER_ERR_UNINIT;
}

void router_dispatch(struct core *c, struct request *req, struct response *resp)
{
	const struct route *r;
	enum req_method m = req->is_list ? REQ_LIST : req->method;
	int err;

	r = router_find(req->path);
	if (r == NULL || !(r->flags & ROUTE_RAW)) {
		err = router_state(c);
		if (err != 0) {
			response_err(resp, err);
			return;
		}
	}
	if (r == NULL) {
		response_error(resp, 404, "unsupported path");
		return;
	}
	if (!(r->methods & REQ_M(m))) {
		response_error(resp, 405, "unsupported operation");
		return;
	}
	if (m == REQ_PATCH && (req->content_type == NULL ||
			       strncmp(req->content_type, "application/merge-patch+json", 28) != 0)) {
		response_error(resp, 415, "PATCH requires Content-Type application/merge-patch+json");
		return;
	}
	if (!(r->flags & ROUTE_RAW)) {
		err = core_check_token(c, req, (r->flags & ROUTE_SUDO) != 0);
		if (err != 0) {
			response_err(resp, err);
			return;
		}
	}
	r->fn(c, req, resp);
}
