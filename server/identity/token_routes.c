/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_routes.c: the auth/token/ engine (API.md "auth/token"): its route table, create (plain,
 * orphan, by role), lookup, renew and revoke in their self, token and accessor forms, and the
 * accessor list; roles are in token_roles.c. Decides who may ask for what; the store (token.c)
 * does the rest. Mounted as the built-in "token/" auth mount.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/tables.h"
#include "json.h"
#include "log.h"
#include "identity/policy.h"
#include "secmem.h"
#include "identity/token.h"
#include "identity/token_int.h"

#define TR_MOUNT "auth/token/"
#define TR_ROLE_MAX 128
#define TR_PATH_CAP 512

struct tr_create {
	const char *id;
	const char *display_name;
	const char *type;
	json_t *policies; /* owned; NULL when absent */
	const json_t *meta;
	bool no_parent;
	bool no_default_policy;
	bool is_renewable;
	int64_t ttl_s;
	int64_t explicit_max_ttl_s;
	int64_t period_s;
	int64_t num_uses;
};

/* Root, or sudo on the request's path. */
static bool tr_is_sudo(const struct request *req)
{
	return req->acl != NULL &&
	       (acl_is_root(req->acl) || (acl_capabilities(req->acl, req->path) & ACL_CAP_SUDO));
}

static bool tr_array_has(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

static int tr_meta_check(const json_t *body, const json_t **out)
{
	const json_t *meta = json_object_get(body, "meta");

	if (meta == NULL || json_is_null(meta))
		return 0;
	if (!coffer_json_is_string_map(meta))
		return COFFER_ERR_INVALID;
	*out = meta;
	return 0;
}

static int tr_parse_create(const json_t *body, struct tr_create *cr, const char **bad)
{
	memset(cr, 0, sizeof(*cr));
	cr->is_renewable = true;
	TOKEN_FIELD(coffer_json_get_string(body, "id", &cr->id), "id");
	TOKEN_FIELD(coffer_json_get_string(body, "display_name", &cr->display_name),
	            "display_name");
	TOKEN_FIELD(coffer_json_get_string(body, "type", &cr->type), "type");
	TOKEN_FIELD(coffer_json_get_string_list(body, "policies", &cr->policies), "policies");
	TOKEN_FIELD(tr_meta_check(body, &cr->meta), "meta");
	TOKEN_FIELD(coffer_json_get_bool(body, "no_parent", &cr->no_parent), "no_parent");
	TOKEN_FIELD(coffer_json_get_bool(body, "no_default_policy", &cr->no_default_policy),
	            "no_default_policy");
	TOKEN_FIELD(coffer_json_get_bool(body, "renewable", &cr->is_renewable), "renewable");
	TOKEN_FIELD(coffer_json_get_duration(body, "ttl", &cr->ttl_s), "ttl");
	TOKEN_FIELD(coffer_json_get_duration(body, "explicit_max_ttl", &cr->explicit_max_ttl_s),
	            "explicit_max_ttl");
	TOKEN_FIELD(coffer_json_get_duration(body, "period", &cr->period_s), "period");
	TOKEN_FIELD(coffer_json_get_int(body, "num_uses", &cr->num_uses), "num_uses");
	if (cr->num_uses < 0) {
		*bad = "num_uses";
		return COFFER_ERR_INVALID;
	}
	if (cr->id != NULL && cr->id[0] == '\0')
		cr->id = NULL;
	return 0;
}

/* ---- create ---- */

static int64_t tr_role_int(const json_t *role, const char *key)
{
	return json_integer_value(json_object_get(role, key));
}

static bool tr_role_bool(const json_t *role, const char *key)
{
	return json_is_true(json_object_get(role, key));
}

/* Every name of pols not in allowed (ignoring "default"): the first such, or NULL. */
static const char *tr_not_subset(const json_t *pols, const json_t *allowed)
{
	size_t i;
	json_t *v;

	json_array_foreach(pols, i, v)
	{
		const char *name = json_string_value(v);

		if (strcmp(name, "default") != 0 && !tr_array_has(allowed, name))
			return name;
	}
	return NULL;
}

/* The policies of the new token before "default" is added: those requested, else the role's
 * allowed policies, else the parent's; checked against the role or, without one, the parent.
 * 0, or an error already answered. */
static int tr_child_policies(const struct request *req, const json_t *role, const json_t *requested,
                             struct response *resp, json_t **out)
{
	const json_t *allowed = role != NULL ? json_object_get(role, "allowed_policies") : NULL;
	const json_t *disallowed =
	    role != NULL ? json_object_get(role, "disallowed_policies") : NULL;
	bool has_allowed = json_array_size(allowed) > 0;
	const char *bad;
	json_t *pols;

	if (json_array_size(requested) > 0)
		pols = json_deep_copy(requested);
	else
		pols = json_deep_copy(has_allowed ? allowed : req->auth->policies);
	for (size_t i = 0; i < json_array_size(pols); i++) {
		bad = json_string_value(json_array_get(pols, i));
		if (tr_array_has(disallowed, bad)) {
			response_invalid(resp, "token policy \"%s\" is disallowed by the role",
			                 bad);
			json_decref(pols);
			return COFFER_ERR_INVALID;
		}
	}
	if (has_allowed && (bad = tr_not_subset(pols, allowed)) != NULL) {
		response_invalid(resp, "token policies must be subset of the role's allowed "
		                       "policies");
		json_decref(pols);
		return COFFER_ERR_INVALID;
	}
	if (!has_allowed && !acl_is_root(req->acl) && tr_not_subset(pols, req->auth->policies)) {
		response_invalid(resp, "child policies must be subset of parent");
		json_decref(pols);
		return COFFER_ERR_INVALID;
	}
	*out = pols;
	return 0;
}

/* Vault's display name: "token-<name>" with anything but [A-Za-z0-9-] made '-'. */
static void tr_display_name(const char *name, char *out, size_t out_cap)
{
	size_t len;

	if (name == NULL || name[0] == '\0') {
		snprintf(out, out_cap, "token");
		return;
	}
	snprintf(out, out_cap, "token-%s", name);
	for (char *p = out; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-'))
			*p = '-';
	}
	len = strlen(out);
	while (len > 0 && out[len - 1] == '-')
		out[--len] = '\0';
}

static json_t *tr_policy_warnings(const struct engine_ctx *ctx, const json_t *policies)
{
	json_t *warnings = NULL, *v;
	char msg[300];
	size_t i;

	json_array_foreach(policies, i, v)
	{
		const char *name = json_string_value(v);

		if (strcmp(name, "root") == 0 || strcmp(name, "default") == 0 ||
		    policy_store_exists(ctx->policies, name))
			continue;
		if (warnings == NULL)
			warnings = json_array();
		snprintf(msg, sizeof(msg), "Policy \"%s\" does not exist", name);
		json_array_append_new(warnings, json_string(msg));
	}
	return warnings;
}

/* Privileges the request needs beyond the ACL on the path. 0, or an error already answered. */
static int tr_create_check(const struct request *req, const struct tr_create *cr,
                           const json_t *role, struct response *resp)
{
	bool is_sudo = tr_is_sudo(req);

	if (cr->type != NULL && strcmp(cr->type, "service") != 0 &&
	    strcmp(cr->type, "default") != 0) {
		response_invalid(resp, strcmp(cr->type, "batch") == 0
		                           ? "batch tokens are not supported"
		                           : "invalid 'type' value");
		return COFFER_ERR_INVALID;
	}
	if (cr->id != NULL && !is_sudo) {
		response_invalid(resp, "root or sudo privileges required to specify token id");
		return COFFER_ERR_INVALID;
	}
	if (cr->no_parent && !is_sudo) {
		response_invalid(resp, "root or sudo privileges required to create orphan token");
		return COFFER_ERR_INVALID;
	}
	if (cr->period_s > 0 && role == NULL && !is_sudo) {
		response_invalid(resp, "root or sudo privileges required to create periodic token");
		return COFFER_ERR_INVALID;
	}
	return 0;
}

/* Fill p from the request and the role (strings point into cr, role, path and name). */
static void tr_params(const struct request *req, const struct tr_create *cr, const json_t *role,
                      bool is_orphan, struct token_params *p)
{
	int64_t role_max = role != NULL ? tr_role_int(role, "explicit_max_ttl") : 0;
	int64_t role_period = role != NULL ? tr_role_int(role, "period") : 0;

	p->id = cr->id;
	p->meta = cr->meta;
	p->ttl_s = cr->ttl_s;
	p->explicit_max_ttl_s = cr->explicit_max_ttl_s;
	if (role_max > 0 && (p->explicit_max_ttl_s == 0 || role_max < p->explicit_max_ttl_s))
		p->explicit_max_ttl_s = role_max;
	p->period_s = role_period > 0 ? role_period : cr->period_s;
	p->num_uses = cr->num_uses;
	p->is_renewable = cr->is_renewable && (role == NULL || tr_role_bool(role, "renewable"));
	p->no_default_policy = cr->no_default_policy;
	p->parent = is_orphan ? NULL : req->auth;
	if (req->mount != NULL) {
		p->max_ttl_s = req->mount->max_lease_ttl_s;
		if (p->ttl_s == 0)
			p->ttl_s = req->mount->default_lease_ttl_s;
	}
}

static void tr_create_respond(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, const struct token_params *p)
{
	struct token_entry *e = NULL;
	char *text = NULL;
	int err;

	err = token_create(ctx->tokens, p, &text, &e);
	if (err == COFFER_ERR_EXISTS)
		response_invalid(resp, "a token with that id already exists");
	else if (err == COFFER_ERR_INVALID)
		response_invalid(resp, "invalid token parameters");
	else if (err != 0)
		response_err(resp, err);
	if (err != 0)
		return;
	log_info("request %s created token %s", req->request_id, e->accessor);
	response_envelope(resp, req, NULL, token_auth_json(e, text),
	                  tr_policy_warnings(ctx, e->policies));
	secmem_free(text);
	token_entry_release(e);
}

/* create, create-orphan and create/:role_name (route is the first two's name). */
static void tr_create_common(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp, const char *route, const char *role_name)
{
	struct token_params p = {0};
	struct tr_create cr;
	char path[TR_PATH_CAP], display[TR_ROLE_MAX + 8];
	json_t *role = NULL, *pols = NULL;
	const char *bad = NULL, *suffix;
	bool is_orphan = strcmp(route, "create-orphan") == 0;
	int err;

	if (tr_parse_create(req->body, &cr, &bad) != 0) {
		response_invalid(resp, "invalid value for \"%s\"", bad);
		goto out;
	}
	if (role_name != NULL && (err = token_role_load(ctx, role_name, &role)) != 0) {
		if (err == COFFER_ERR_NOT_FOUND)
			response_invalid(resp, "unknown role %s", role_name);
		else
			response_err(resp, err);
		goto out;
	}
	if (tr_create_check(req, &cr, role, resp) != 0 ||
	    tr_child_policies(req, role, cr.policies, resp, &pols) != 0)
		goto out;
	is_orphan |= cr.no_parent || (role != NULL && tr_role_bool(role, "orphan"));
	tr_params(req, &cr, role, is_orphan, &p);
	p.policies = pols;
	tr_display_name(cr.display_name, display, sizeof(display));
	p.display_name = display;
	suffix = role != NULL ? json_string_value(json_object_get(role, "path_suffix")) : NULL;
	if (role_name != NULL)
		snprintf(path, sizeof(path), TR_MOUNT "create/%s%s%s", role_name,
		         suffix != NULL && suffix[0] != '\0' ? "/" : "",
		         suffix != NULL ? suffix : "");
	else
		snprintf(path, sizeof(path), TR_MOUNT "%s", route);
	p.path = path;
	p.role = role_name;
	tr_create_respond(ctx, req, resp, &p);
out:
	json_decref(pols);
	json_decref(role);
	json_decref(cr.policies);
}

static void tr_create(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	tr_create_common(ctx, req, resp, "create", NULL);
}

static void tr_create_orphan(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	tr_create_common(ctx, req, resp, "create-orphan", NULL);
}

static void tr_create_role(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	tr_create_common(ctx, req, resp, "create", request_param(req, "role_name"));
}

/* ---- lookup, renew, revoke ---- */

/* A required string field of the body. 0, or an error already answered. */
static int tr_body_string(const struct request *req, struct response *resp, const char *key,
                          const char **out)
{
	int err = coffer_json_get_string(req->body, key, out);

	if (err == 0 && (*out)[0] != '\0')
		return 0;
	response_invalid(resp, "missing or invalid \"%s\"", key);
	return COFFER_ERR_INVALID;
}

/* The token whose text is the body's "token" (*text points into the body). 0;
 * COFFER_ERR_NOT_FOUND, not answered yet; or another error, already answered. */
static int tr_by_token(const struct engine_ctx *ctx, const struct request *req,
                       struct response *resp, const char **text, struct token_entry **out)
{
	int err;

	if (tr_body_string(req, resp, "token", text) != 0)
		return COFFER_ERR_INVALID;
	err = token_lookup(ctx->tokens, *text, out);
	if (err != 0 && err != COFFER_ERR_NOT_FOUND)
		response_err(resp, err);
	return err;
}

static void tr_lookup(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	const char *text;
	int err;

	err = tr_by_token(ctx, req, resp, &text, &e);
	if (err == COFFER_ERR_NOT_FOUND)
		response_fail(resp, COFFER_ERR_PERMISSION, "bad token");
	if (err != 0)
		return;
	/* The caller supplied the text, so showing it reveals nothing new. */
	response_envelope(resp, req, token_lookup_json(e, text), NULL, NULL);
	token_entry_release(e);
}

static void tr_lookup_self(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	(void)ctx;
	response_envelope(resp, req, token_lookup_json(req->auth, req->token), NULL, NULL);
}

/* The token of the body's "accessor". 0, or an error already answered. */
static int tr_by_accessor(const struct engine_ctx *ctx, const struct request *req,
                          struct response *resp, struct token_entry **out)
{
	const char *acc;
	int err;

	if (tr_body_string(req, resp, "accessor", &acc) != 0)
		return COFFER_ERR_INVALID;
	err = token_lookup_accessor(ctx->tokens, acc, out);
	if (err == COFFER_ERR_NOT_FOUND)
		response_invalid(resp, "invalid accessor");
	else if (err != 0)
		response_err(resp, err);
	return err;
}

static void tr_lookup_accessor(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	struct token_entry *e = NULL;

	if (tr_by_accessor(ctx, req, resp, &e) != 0)
		return;
	response_envelope(resp, req, token_lookup_json(e, NULL), NULL, NULL);
	token_entry_release(e);
}

/* Renew e by the body's "increment" and answer with the auth block. */
static void tr_renew_respond(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp, const struct token_entry *e, const char *text)
{
	struct token_entry *renewed = NULL;
	int64_t increment = 0;
	char msg[256];
	int err;

	if (coffer_json_get_duration(req->body, "increment", &increment) == COFFER_ERR_INVALID ||
	    increment < 0) {
		response_invalid(resp, "invalid value for \"increment\"");
		return;
	}
	err = token_renew(ctx->tokens, e, increment, &renewed, msg, sizeof(msg));
	if (err == COFFER_ERR_INVALID)
		response_invalid(resp, "%s", msg[0] != '\0' ? msg : "lease is not renewable");
	else if (err == COFFER_ERR_NOT_FOUND)
		response_invalid(resp, "token not found");
	else if (err != 0)
		response_err(resp, err);
	if (err != 0)
		return;
	response_envelope(resp, req, NULL, token_auth_json(renewed, text), NULL);
	token_entry_release(renewed);
}

static void tr_renew(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	const char *text;
	int err;

	err = tr_by_token(ctx, req, resp, &text, &e);
	if (err == COFFER_ERR_NOT_FOUND)
		response_invalid(resp, "token not found");
	if (err != 0)
		return;
	tr_renew_respond(ctx, req, resp, e, text);
	token_entry_release(e);
}

static void tr_renew_self(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	tr_renew_respond(ctx, req, resp, req->auth, req->token);
}

static void tr_renew_accessor(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp)
{
	struct token_entry *e = NULL;

	if (tr_by_accessor(ctx, req, resp, &e) != 0)
		return;
	tr_renew_respond(ctx, req, resp, e, NULL);
	token_entry_release(e);
}

/* Revoke and answer 204; a token already gone is not an error (as in Vault). */
static void tr_revoke_respond(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, const struct token_entry *e,
                              bool orphan_children)
{
	int err = token_revoke(ctx->tokens, e, orphan_children);

	if (err != 0 && err != COFFER_ERR_NOT_FOUND) {
		response_err(resp, err);
		return;
	}
	log_info("request %s revoked token %s%s", req->request_id, e->accessor,
	         orphan_children ? " (children orphaned)" : "");
	response_no_content(resp);
}

static void tr_revoke_text(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                           bool orphan_children)
{
	struct token_entry *e = NULL;
	const char *text;
	int err;

	err = tr_by_token(ctx, req, resp, &text, &e);
	if (err == COFFER_ERR_NOT_FOUND)
		response_no_content(resp);
	if (err != 0)
		return;
	tr_revoke_respond(ctx, req, resp, e, orphan_children);
	token_entry_release(e);
}

static void tr_revoke(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	tr_revoke_text(ctx, req, resp, false);
}

/* Needs root or sudo: the route has ROUTE_SUDO. */
static void tr_revoke_orphan(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	tr_revoke_text(ctx, req, resp, true);
}

static void tr_revoke_self(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	tr_revoke_respond(ctx, req, resp, req->auth, false);
}

static void tr_revoke_accessor(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	struct token_entry *e = NULL;

	if (tr_by_accessor(ctx, req, resp, &e) != 0)
		return;
	tr_revoke_respond(ctx, req, resp, e, false);
	token_entry_release(e);
}

static void tr_accessors(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	token_route_list(ctx, req, resp, TOKEN_DIR_ACCESSOR);
}

static const struct route token_routes[] = {
    {"create", REQ_M_WRITE, 0, tr_create, NULL},
    {"create-orphan", REQ_M_WRITE, 0, tr_create_orphan, NULL},
    {"create/:role_name", REQ_M_WRITE, 0, tr_create_role, NULL},
    {"lookup", REQ_M_WRITE, 0, tr_lookup, NULL},
    {"lookup-self", REQ_M(REQ_GET) | REQ_M_WRITE, 0, tr_lookup_self, NULL},
    {"lookup-accessor", REQ_M_WRITE, 0, tr_lookup_accessor, NULL},
    {"renew", REQ_M_WRITE, 0, tr_renew, NULL},
    {"renew-self", REQ_M_WRITE, 0, tr_renew_self, NULL},
    {"renew-accessor", REQ_M_WRITE, 0, tr_renew_accessor, NULL},
    {"revoke", REQ_M_WRITE, 0, tr_revoke, NULL},
    {"revoke-self", REQ_M_WRITE, 0, tr_revoke_self, NULL},
    {"revoke-accessor", REQ_M_WRITE, 0, tr_revoke_accessor, NULL},
    {"revoke-orphan", REQ_M_WRITE, ROUTE_SUDO, tr_revoke_orphan, NULL},
    {"accessors", REQ_M(REQ_LIST), ROUTE_SUDO, tr_accessors, NULL},
    {"roles", REQ_M(REQ_LIST), 0, token_roles_list_route, NULL},
    {"roles/:role_name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), 0, token_role_route,
     token_role_exists},
};
static const size_t token_routes_len = sizeof(token_routes) / sizeof(token_routes[0]);

const struct engine token_engine = {
    .type = "token",
    .is_auth = true,
    .routes = token_routes,
    .n_routes = &token_routes_len,
    .uses = ENGINE_USES_TOKENS | ENGINE_USES_POLICIES,
    .fixed_prefix = TOKEN_STORE_PREFIX,
};
