/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lease_routes.c: the sys/leases routes (lookup, list, renew, revoke, revoke-prefix, revoke-force)
 * and their legacy forms (sys/renew, sys/revoke*). A token's lease is acted on only by that token
 * or a sudo caller; the expiration manager (lease.c) and the token store do the work.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "api/tables.h"
#include "identity/lease.h"
#include "identity/policy.h"
#include "identity/token.h"
#include "json.h"
#include "log.h"

/* Whether the caller has sudo on the request path (root has it everywhere). */
static bool lease_caller_is_sudo(const struct request *req)
{
	return req->acl != NULL &&
	       (acl_is_root(req->acl) || (acl_capabilities(req->acl, req->path) & ACL_CAP_SUDO));
}

/*
 * The token whose lease is lease_id, for a caller allowed to act on it: the token itself, or a
 * caller with sudo on the request path. Any other caller is refused whether or not the lease
 * exists (no oracle), and told where a token's lease is managed: the ACL grants
 * sys/leases/renew|lookup to every token (the default policy) for the leases of secrets, and a
 * token lease id is not a credential. Every token lease id starts with "auth/"; other ids name
 * no lease (there are no leased secrets yet): COFFER_ERR_NOT_FOUND. 0, NOT_FOUND, or
 * COFFER_ERR_PERMISSION already answered (op, "lookup", "renew" or "revoke", names the token routes
 * to use instead).
 */
static int lease_find_token(const struct engine_ctx *ctx, const struct request *req,
                            struct response *resp, const char *lease_id, const char *op,
                            struct token_entry **out)
{
	*out = NULL;
	if (strncmp(lease_id, "auth/", 5) != 0)
		return COFFER_ERR_NOT_FOUND;
	if (lease_caller_is_sudo(req) ||
	    (req->auth != NULL && token_owns_lease(req->auth, lease_id)))
		return token_lookup_lease(ctx->tokens, lease_id, out);
	response_fail(resp, COFFER_ERR_PERMISSION,
	              "permission denied: %s of a token's lease is allowed here only to that token "
	              "or a caller with sudo on this path; use auth/token/%s-self or auth/token/%s",
	              op, op, op);
	return COFFER_ERR_PERMISSION;
}

/* The lease id of a request: "lease_id" in the body, else the rest of the path
 * (sys/renew/<id>). 0, or an error already answered. */
static int lease_request_id(const struct request *req, struct response *resp, const char **out)
{
	const char *id = NULL;

	if (coffer_json_get_string(req->body, "lease_id", &id) == COFFER_ERR_INVALID) {
		response_invalid(resp, "lease_id must be a string");
		return COFFER_ERR_INVALID;
	}
	if (id == NULL || id[0] == '\0')
		id = request_param(req, "*");
	if (id == NULL || id[0] == '\0' || strlen(id) > LEASE_ID_MAX) {
		response_invalid(resp, "lease_id must be specified");
		return COFFER_ERR_INVALID;
	}
	*out = id;
	return 0;
}

/* The answer for a lease that cannot be found or used. */
static void lease_respond_err(struct response *resp, int err)
{
	if (err == COFFER_ERR_NOT_FOUND)
		response_invalid(resp, "invalid lease");
	else if (err == COFFER_ERR_INVALID)
		response_invalid(resp, "lease is not renewable");
	else
		response_err(resp, err);
}

static void lease_lookup(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char issue[COFFER_TIME_LEN], expire[COFFER_TIME_LEN], renewed[COFFER_TIME_LEN];
	struct token_entry *e = NULL;
	const char *id;
	int err;

	if (lease_request_id(req, resp, &id) != 0)
		return;
	if ((err = lease_find_token(ctx, req, resp, id, "lookup", &e)) != 0) {
		if (err != COFFER_ERR_PERMISSION)
			lease_respond_err(resp, err);
		return;
	}
	token_format_time(e->creation_time, issue);
	token_format_time(e->expire_time, expire);
	token_format_time(e->last_renewal_time, renewed);
	response_envelope(resp, req,
	                  json_pack("{s:s,s:s,s:s?,s:s?,s:b,s:I}", "id", id, "issue_time", issue,
	                            "expire_time", e->expire_time != 0 ? expire : NULL,
	                            "last_renewal", e->last_renewal_time != 0 ? renewed : NULL,
	                            "renewable", e->is_renewable, "ttl",
	                            (json_int_t)token_ttl_left(e, coffer_clock_now_s())),
	                  NULL, NULL);
	token_entry_release(e);
}

/* LIST sys/leases/lookup/<prefix>: needs sudo, as in Vault (a root path there). */
static void lease_list(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char folder[LEASE_ID_MAX + 2];
	const char *prefix = request_param(req, "*");
	json_t *keys = NULL;
	size_t len = prefix != NULL ? strlen(prefix) : 0;
	int err;

	if (!lease_caller_is_sudo(req)) {
		response_err(resp, COFFER_ERR_PERMISSION);
		return;
	}
	if (len > LEASE_ID_MAX) {
		response_invalid(resp, "prefix too long");
		return;
	}
	snprintf(folder, sizeof(folder), "%s%s", len > 0 ? prefix : "",
	         len > 0 && prefix[len - 1] != '/' ? "/" : "");
	if ((err = lease_mgr_list(ctx->leases, folder, &keys)) != 0) {
		response_err(resp, err);
		return;
	}
	if (json_array_size(keys) == 0) {
		json_decref(keys);
		response_not_found(resp);
		return;
	}
	response_envelope(resp, req, json_pack("{s:o}", "keys", keys), NULL, NULL);
}

static void lease_renew(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct token_entry *e = NULL, *renewed = NULL;
	int64_t increment = 0;
	const char *id;
	char msg[256] = "";
	int err;

	if (lease_request_id(req, resp, &id) != 0)
		return;
	if (coffer_json_get_duration(req->body, "increment", &increment) == COFFER_ERR_INVALID ||
	    increment < 0) {
		response_invalid(resp, "increment must be a duration");
		return;
	}
	if ((err = lease_find_token(ctx, req, resp, id, "renew", &e)) == COFFER_ERR_PERMISSION)
		return;
	if (err == 0)
		err = token_renew(ctx->tokens, e, increment, &renewed, msg, sizeof(msg));
	if (err == COFFER_ERR_INVALID && msg[0] != '\0') {
		response_invalid(resp, "%s", msg);
		goto out;
	}
	if (err != 0) {
		lease_respond_err(resp, err);
		goto out;
	}
	/* Vault's renew answer: the lease at the top level, no data. */
	response_envelope(resp, req, NULL, NULL, NULL);
	json_object_set_new(resp->json, "lease_id", json_string(id));
	json_object_set_new(resp->json, "renewable", json_boolean(renewed->is_renewable));
	json_object_set_new(resp->json, "lease_duration",
	                    json_integer(token_ttl_left(renewed, coffer_clock_now_s())));
out:
	token_entry_release(renewed);
	token_entry_release(e);
}

/* Revoking an unknown lease is not an error (Vault answers 204 too). */
static void lease_revoke(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	struct token_entry *e = NULL;
	const char *id;
	int err;

	if (lease_request_id(req, resp, &id) != 0)
		return;
	if ((err = lease_find_token(ctx, req, resp, id, "revoke", &e)) == COFFER_ERR_PERMISSION)
		return;
	if (err == 0)
		err = token_revoke(ctx->tokens, e, false);
	token_entry_release(e);
	if (err != 0 && err != COFFER_ERR_NOT_FOUND) {
		response_err(resp, err);
		return;
	}
	response_no_content(resp);
}

static void lease_revoke_tree(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp, bool force)
{
	const char *prefix = request_param(req, "*");
	int err;

	if (prefix == NULL || prefix[0] == '\0') {
		response_invalid(resp, "a prefix is required");
		return;
	}
	err = lease_mgr_revoke_prefix(ctx->leases, prefix, force);
	if (err != 0) {
		response_err(resp, err);
		return;
	}
	log_info("request %s revoked the leases under %s%s", req->request_id, prefix,
	         force ? " (forced)" : "");
	response_no_content(resp);
}

static void lease_revoke_prefix(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	lease_revoke_tree(ctx, req, resp, false);
}

static void lease_revoke_force(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	lease_revoke_tree(ctx, req, resp, true);
}

/* The PUT and LIST forms of sys/leases/lookup share a pattern: the router picks the one whose
 * methods match. The rest of a ROUTE_PREFIX path is the parameter "*". */
const struct route lease_routes[] = {
    {"sys/leases/lookup", REQ_M_WRITE, 0, lease_lookup, NULL},
    {"sys/leases/lookup", REQ_M(REQ_LIST), ROUTE_PREFIX | ROUTE_SUDO, lease_list, NULL},
    {"sys/leases/renew", REQ_M_WRITE, ROUTE_PREFIX, lease_renew, NULL},
    {"sys/renew", REQ_M_WRITE, ROUTE_PREFIX, lease_renew, NULL},
    {"sys/leases/revoke", REQ_M_WRITE, ROUTE_PREFIX, lease_revoke, NULL},
    {"sys/revoke", REQ_M_WRITE, ROUTE_PREFIX, lease_revoke, NULL},
    {"sys/leases/revoke-prefix", REQ_M_WRITE, ROUTE_PREFIX | ROUTE_SUDO, lease_revoke_prefix, NULL},
    {"sys/revoke-prefix", REQ_M_WRITE, ROUTE_PREFIX | ROUTE_SUDO, lease_revoke_prefix, NULL},
    {"sys/leases/revoke-force", REQ_M_WRITE, ROUTE_PREFIX | ROUTE_SUDO, lease_revoke_force, NULL},
};
const size_t lease_routes_len = sizeof(lease_routes) / sizeof(lease_routes[0]);
