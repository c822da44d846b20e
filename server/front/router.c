/* SPDX-License-Identifier: Apache-2.0 */
/*
 * router.c: makes the request path canonical (DESIGN.md §10.9), finds the route for it (a sys/
 * table, or an engine behind a mount), and runs the checks common to all routes before the
 * handler: method, initialized and unsealed state, the ACL operation, token and capabilities
 * (DESIGN.md §2); and audits what it refuses.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "codec.h"
#include "core.h"
#include "engines/mount.h"
#include "front/registry.h"
#include "front/router.h"
#include "identity/token.h"

/* A match of a route against a path: its score (the longest pattern wins) and the parameters. */
struct route_match {
	size_t score;
	size_t n_params;
	const char *names[REQ_MAX_PARAMS];
	const char *values[REQ_MAX_PARAMS];
	size_t lens[REQ_MAX_PARAMS];
};

static bool route_capture(struct route_match *m, const char *name, const char *v, size_t len)
{
	if (m->n_params == REQ_MAX_PARAMS)
		return false;
	m->names[m->n_params] = name;
	m->values[m->n_params] = v;
	m->lens[m->n_params++] = len;
	return true;
}

/*
 * Match r's pattern against path (len bytes, no trailing '/') segment by segment. ":name"
 * captures one non-empty segment; with ROUTE_PREFIX the path may go on, and the rest is "*".
 */
static bool route_match(const struct route *r, const char *path, size_t len, struct route_match *m)
{
	const char *p = r->pattern;
	size_t i = 0, plen, slen;

	memset(m, 0, sizeof(*m));
	if (*p == '\0') {
		if (len == 0)
			return true;
		return (r->flags & ROUTE_PREFIX) && route_capture(m, "*", path, len);
	}
	while (*p != '\0') {
		if (i > len)
			return false;
		plen = strcspn(p, "/");
		slen = strcspn(path + i, "/");
		if (i + slen > len)
			slen = len - i;
		if (p[0] == ':') {
			if (slen == 0 || !route_capture(m, p + 1, path + i, slen))
				return false;
		} else if (plen != slen || memcmp(p, path + i, slen) != 0) {
			return false;
		}
		m->score += plen + 1;
		p += plen + (p[plen] == '/');
		i += slen + 1;
	}
	if (i == len + 1)
		return true;
	return i <= len && (r->flags & ROUTE_PREFIX) && route_capture(m, "*", path + i, len - i);
}

/* The longest matching route; on a tie, one that takes the request's method wins, so two routes
 * may share a pattern with different methods. */
static const struct route *route_best(const struct route *routes, size_t n, const char *path,
                                      size_t len, unsigned method_bit, struct route_match *best)
{
	const struct route *found = NULL;
	struct route_match m;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!route_match(&routes[i], path, len, &m))
			continue;
		if (found == NULL || m.score > best->score ||
		    (m.score == best->score && !(found->methods & method_bit) &&
		     (routes[i].methods & method_bit))) {
			found = &routes[i];
			*best = m;
		}
	}
	return found;
}

static unsigned router_method_bit(const struct request *req)
{
	return REQ_M(req->is_list ? REQ_LIST : req->method);
}

/* The route of the engine mounted at the start of path in table t. */
static const struct route *router_find_mounted(struct mount_table *t, struct request *req,
                                               const char *path, struct mount_entry **mount,
                                               struct route_match *m)
{
	const char *rest = NULL;
	size_t len;

	if (mount_table_find(t, path, mount, &rest) != 0)
		return NULL;
	req->rel_path = rest;
	len = strlen(rest);
	if (len > 0 && rest[len - 1] == '/')
		len--;
	return route_best((*mount)->engine->routes, *(*mount)->engine->n_routes, rest, len,
	                  router_method_bit(req), m);
}

/* The route for req: sys/ tables by full path, auth/ and secrets through their mount tables;
 * *uses is what its table or engine declared (api/engine.h). */
static const struct route *router_find(struct core *c, struct request *req,
                                       struct mount_entry **mount, struct route_match *m,
                                       unsigned *uses)
{
	const struct route *r = NULL, *cand;
	struct route_match cm;
	size_t len = strlen(req->path), t;

	*uses = 0;
	if (len > 0 && req->path[len - 1] == '/')
		len--;
	req->rel_path = req->path;
	if (strncmp(req->path, "auth/", 5) == 0)
		r = router_find_mounted(c->svc.auth_mounts, req, req->path + 5, mount, m);
	else if (strncmp(req->path, "sys/", 4) != 0)
		r = router_find_mounted(c->svc.secret_mounts, req, req->path, mount, m);
	if (*mount != NULL) {
		*uses = (*mount)->engine->uses;
		return r;
	}
	for (t = 0; t < registry_sys_tables_len && strncmp(req->path, "sys/", 4) == 0; t++) {
		cand = route_best(registry_sys_tables[t].routes, *registry_sys_tables[t].len,
		                  req->path, len, router_method_bit(req), &cm);
		if (cand != NULL &&
		    (r == NULL || cm.score > m->score ||
		     (cm.score == m->score && !(r->methods & router_method_bit(req))))) {
			r = cand;
			*m = cm;
			*uses = registry_sys_tables[t].uses;
		}
	}
	return r;
}

/* The context of route r: the services its table or engine declared, the view of its mount. */
static void router_ctx(struct core *c, const struct mount_entry *mount, unsigned uses,
                       struct engine_ctx *ctx)
{
	engine_ctx_init(ctx, &c->svc, uses, mount != NULL ? mount_entry_store_prefix(mount) : NULL);
}

/* 501 before init, 503 while sealed, 0 when unsealed. */
static int router_state(struct core *c)
{
	struct seal_status st;

	if (!barrier_is_sealed(c->svc.barrier))
		return 0;
	seal_get_status(c->seal, &st);
	return st.initialized ? COFFER_ERR_SEALED : COFFER_ERR_UNINIT;
}

/* What a standby answers itself: its own state, and the calls that make it a node at all. */
static bool router_is_node_local(const char *path)
{
	static const char *const local[] = {"sys/health", "sys/leader", "sys/seal-status",
	                                    "sys/unseal", "sys/init"};
	size_t i;

	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (strcmp(path, local[i]) == 0)
			return true;
	return false;
}

/*
 * An HA standby serves no vault requests: it sends the client to the active node (307, the same
 * path and query; hvac, node-vault and curl -L repeat the request there) or, while no node is
 * active, answers 503. True when req was answered so.
 */
static bool router_standby(struct core *c, struct request *req, struct response *resp)
{
	struct storage_ha_leader l;
	char location[PATH_MAX_LEN * 3 + 1024], query[2048];
	size_t pos;

	if (!core_ha_standby(c) || router_is_node_local(req->path))
		return false;
	core_ha_leader(c, &l);
	if (!l.is_known || l.is_self) {
		response_fail(resp, COFFER_ERR_STANDBY,
		              "no active node: this node is a standby and no node holds the lock "
		              "now; retry shortly");
		return true;
	}
	pos = (size_t)snprintf(location, sizeof(location), "%s/v1/", l.api_addr);
	if (pos >= sizeof(location))
		pos = sizeof(location) - 1;
	codec_percent_encode(location, sizeof(location), &pos, req->path, "/");
	req->query_string(req, query, sizeof(query));
	if (pos < sizeof(location) && strlen(query) < sizeof(location) - pos) {
		memcpy(location + pos, query, strlen(query) + 1);
		response_redirect(resp, location);
	} else {
		response_fail(resp, COFFER_ERR_STANDBY,
		              "this node is a standby; the active node is %s", l.api_addr);
	}
	return true;
}

/* The ACL operation that the method alone gives (POST/PUT: update until the route says more). */
static enum req_op router_method_op(const struct request *req)
{
	if (req->is_list)
		return REQ_OP_LIST;
	switch (req->method) {
	case REQ_GET:
	case REQ_HEAD:
		return REQ_OP_READ;
	case REQ_PATCH:
		return REQ_OP_PATCH;
	case REQ_DELETE:
		return REQ_OP_DELETE;
	default:
		return REQ_OP_UPDATE;
	}
}

/* The ACL operation; POST/PUT ask the route whether the target exists. */
static int router_op(const struct engine_ctx *ctx, const struct route *r, struct request *req)
{
	int exists;

	req->op = router_method_op(req);
	if (req->op != REQ_OP_UPDATE || r->exists == NULL)
		return 0;
	exists = r->exists(ctx, req);
	if (exists < 0)
		return exists;
	req->op = exists ? REQ_OP_UPDATE : REQ_OP_CREATE;
	return 0;
}

static int router_params(struct request *req, const struct route_match *m)
{
	size_t i;

	req->n_params = 0;
	for (i = 0; i < m->n_params; i++) {
		if (request_add_param(req, m->names[i], m->values[i], m->lens[i]) != 0)
			return COFFER_ERR_INVALID;
	}
	return 0;
}

/*
 * The first step of the canonical path: Vault checks a LIST against the folder, "path/" (policies
 * name folders as "secret/metadata/" + "*"), and any other operation against the entry, so a
 * trailing '/' is kept only for a LIST. Done before the route is found and the ACL is checked, so
 * that "secret/data/x/" is checked, audited and served as "secret/data/x".
 */
static int router_canonical(struct request *req)
{
	return path_set_folder(req->path, sizeof(req->path), req->is_list);
}

/*
 * The second step, once the route is known: a ROUTE_FOLD route's ":name" segments are lowercased
 * in req->path itself, as its store folds them, so that the ACL sees "sys/policy/admin" for
 * "sys/policy/ADMIN". The match's values point into req->path, so the parameters follow.
 */
static void router_fold(const struct route *r, struct request *req, const struct route_match *m)
{
	size_t i, j, off;

	if (r == NULL || !(r->flags & ROUTE_FOLD))
		return;
	for (i = 0; i < m->n_params; i++) {
		if (strcmp(m->names[i], "*") == 0 || m->values[i] < req->path ||
		    m->values[i] >= req->path + sizeof(req->path))
			continue;
		off = (size_t)(m->values[i] - req->path);
		for (j = off; j < off + m->lens[i]; j++) {
			if (req->path[j] >= 'A' && req->path[j] <= 'Z')
				req->path[j] = (char)(req->path[j] - 'A' + 'a');
		}
	}
}

static bool router_content_type_ok(const struct request *req)
{
	if (req->method != REQ_PATCH)
		return true;
	return req->content_type != NULL &&
	       strncmp(req->content_type, "application/merge-patch+json", 28) == 0;
}

/* The checks before the handler: route found, method, content type, parameters, and for logical
 * routes the ACL operation and the token. false (and the error in resp) when one fails. */
static bool router_check(struct core *c, const struct engine_ctx *ctx, const struct route *r,
                         struct request *req, struct response *resp, const struct route_match *m)
{
	enum req_method method = req->is_list ? REQ_LIST : req->method;
	int err;

	req->op = router_method_op(req); /* for the audit line of a request refused here */
	if (r == NULL) {
		response_fail(resp, COFFER_ERR_UNSUPPORTED, "unsupported path");
		return false;
	}
	if (!(r->methods & REQ_M(method))) {
		response_fail(resp, COFFER_ERR_METHOD, "unsupported operation");
		return false;
	}
	if (!router_content_type_ok(req)) {
		response_fail(resp, COFFER_ERR_MEDIA_TYPE,
		              "PATCH requires Content-Type application/merge-patch+json");
		return false;
	}
	if (router_params(req, m) != 0) {
		response_invalid(resp, "path too long");
		return false;
	}
	if (r->flags & ROUTE_RAW)
		return true;
	err = router_op(ctx, r, req);
	if (err == 0 && !(r->flags & ROUTE_UNAUTH))
		err = core_authorize(c, req, r->flags);
	if (err != 0) {
		response_err(resp, err);
		return false;
	}
	return true;
}

/*
 * Raw routes are served as they are. A logical request is audited (DESIGN.md §6) once the vault
 * is unsealed, whether or not it passed the checks: its request line before the handler runs
 * (fail closed: when no device records it, the handler does not run and the answer is 500), its
 * response line before the response goes out.
 */
void router_dispatch(struct core *c, struct request *req, struct response *resp)
{
	struct mount_entry *mount = NULL;
	struct audit_ctx *audit = NULL;
	struct engine_ctx ctx;
	const struct route *r;
	struct route_match m;
	unsigned uses;
	bool is_raw, is_ok;
	int err;

	if (router_canonical(req) != 0) {
		response_invalid(resp, "invalid request path");
		return;
	}
	if (router_standby(c, req, resp))
		return;
	r = router_find(c, req, &mount, &m, &uses);
	router_ctx(c, mount, uses, &ctx);
	router_fold(r, req, &m);
	req->mount = mount;
	is_raw = r != NULL && (r->flags & ROUTE_RAW);
	if (!is_raw) {
		err = router_state(c);
		if (err != 0) {
			response_err(resp, err);
			goto out;
		}
	}
	is_ok = router_check(c, &ctx, r, req, resp, &m);
	if (!is_raw && audit_log_request(c->svc.audit, req, resp, &audit) != 0)
		goto out;
	if (is_ok)
		r->fn(&ctx, req, resp);
	audit_log_response(audit, resp);
out:
	core_request_done(req);
	if (mount != NULL)
		mount_entry_release(mount);
}

void router_refuse(struct core *c, struct request *req, struct response *resp)
{
	struct mount_entry *mount = NULL;
	struct audit_ctx *audit = NULL;
	const struct route *r;
	struct route_match m;
	unsigned uses;

	if (router_state(c) != 0 || core_ha_standby(c) || router_canonical(req) != 0)
		return;
	r = router_find(c, req, &mount, &m, &uses);
	router_fold(r, req, &m);
	req->mount = mount;
	req->op = router_method_op(req);
	if (r != NULL && (r->flags & ROUTE_RAW))
		goto out;
	if (req->token != NULL && req->token[0] != '\0' &&
	    token_lookup(c->svc.tokens, req->token, &req->auth) != 0)
		req->auth = NULL;
	if (audit_log_request(c->svc.audit, req, resp, &audit) == 0)
		audit_log_response(audit, resp);
out:
	core_request_done(req);
	if (mount != NULL)
		mount_entry_release(mount);
}
