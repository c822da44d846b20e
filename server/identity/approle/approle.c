/* SPDX-License-Identifier: Apache-2.0 */
/*
 * approle.c: the AppRole auth engine (API.md "auth/approle"): its route table, roles and their
 * role_ids, and login, which creates a token with the role's settings. The secret_id routes are in
 * approle_secret.c, storage in approle_store.c. The router calls the routes with req->mount set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/approle/approle_int.h"
#include "identity/auth_role.h"
#include "api/tables.h"
#include "cidr.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "identity/token.h"
#include "identity/token_fields.h"
#include "xmalloc.h"

/* AppRole's own settings; the token_* ones are token_fields.c's. */
static const struct token_field approle_fields[] = {
    {"bind_secret_id", NULL, TOKEN_FIELD_BOOL, 1},
    {"secret_id_bound_cidrs", "bound_cidr_list", TOKEN_FIELD_CIDRS, 0},
    {"secret_id_num_uses", NULL, TOKEN_FIELD_COUNT, 0},
    {"secret_id_ttl", NULL, TOKEN_FIELD_DURATION, 0},
};
#define APPROLE_N_FIELDS (sizeof(approle_fields) / sizeof(approle_fields[0]))

/* Legacy names that token_fields_read() may echo and AppRole's read never has. */
static const char *const approle_read_unechoed[] = {"ttl", "max_ttl", "num_uses", "bound_cidrs"};

/* A role with every setting at its default and role_id. */
static json_t *approle_role_defaults(const char *role_id)
{
	json_t *role = json_pack("{s:s}", "role_id", role_id);

	token_field_table_defaults(approle_fields, APPROLE_N_FIELDS, role);
	token_fields_defaults(role);
	return role;
}

/* Apply the body to role; NULL, or a message for the client. */
static const char *approle_role_apply(const json_t *body, json_t *role, char *msg, size_t cap)
{
	const char *role_id = NULL, *err;

	err = token_field_table_apply(approle_fields, APPROLE_N_FIELDS, body, role, msg, cap);
	if (err == NULL)
		err = token_fields_apply(body, role, msg, cap);
	/* AppRole's own words in Vault. */
	if (err != NULL && strcmp(err, TOKEN_FIELDS_MSG_TTL_OVER_MAX) == 0)
		return "token_ttl should not be greater than token_max_ttl";
	if (err != NULL)
		return err;
	if (coffer_json_get_string(body, "role_id", &role_id) == COFFER_ERR_INVALID ||
	    (role_id != NULL && role_id[0] == '\0'))
		return "role_id must be a non-empty string";
	if (role_id != NULL)
		json_object_set_new(role, "role_id", json_string(role_id));
	if (!json_is_true(json_object_get(role, "bind_secret_id")) &&
	    approle_list_is_empty(role, "secret_id_bound_cidrs") &&
	    approle_list_is_empty(role, "token_bound_cidrs"))
		return "at least one constraint should be enabled on the role";
	return NULL;
}

static void approle_role_read(const struct engine_ctx *ctx, struct request *req,
                              struct response *resp)
{
	const char *name;
	json_t *role = approle_role_or_error(ctx, req, resp, &name), *data;
	size_t i;

	if (role == NULL)
		return;
	data = json_object();
	for (i = 0; i < APPROLE_N_FIELDS; i++)
		json_object_set(data, approle_fields[i].name,
		                json_object_get(role, approle_fields[i].name));
	token_fields_read(role, data);
	/* AppRole's legacy names: policies and period always, no others. */
	for (i = 0; i < sizeof(approle_read_unechoed) / sizeof(approle_read_unechoed[0]); i++)
		json_object_del(data, approle_read_unechoed[i]);
	json_object_set(data, "policies", json_object_get(role, "token_policies"));
	json_object_set(data, "period", json_object_get(role, "token_period"));
	json_object_set_new(data, "local_secret_ids", json_false());
	json_decref(role);
	response_envelope(resp, req, data, NULL, NULL);
}

static void approle_role_write(const struct engine_ctx *ctx, struct request *req,
                               struct response *resp)
{
	const char *name = approle_role_name(req, resp), *msg;
	char role_id[37], buf[128], *old_id = NULL;
	json_t *role = NULL;
	int rc;

	if (name == NULL)
		return;
	approle_lock();
	rc = approle_role_load(ctx, name, &role);
	if (rc == COFFER_ERR_NOT_FOUND) {
		coffer_uuid(role_id);
		role = approle_role_defaults(role_id);
		rc = 0;
	} else if (rc == 0) {
		old_id = xstrdup(json_string_value(json_object_get(role, "role_id")));
	}
	if (rc != 0) {
		response_err(resp, rc);
		goto out;
	}
	msg = approle_role_apply(req->body, role, buf, sizeof(buf));
	if (msg != NULL) {
		response_invalid(resp, "%s", msg);
		goto out;
	}
	rc = approle_role_store(ctx, name, role, old_id);
	if (rc == COFFER_ERR_EXISTS)
		response_invalid(resp, "role_id already in use");
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
out:
	approle_unlock();
	secmem_wipe(role_id, sizeof(role_id));
	if (old_id != NULL)
		secmem_freezero(old_id, strlen(old_id));
	json_decref(role);
}

/* Secret_ids go first: a role re-created under the same name must not find old ones. */
static void approle_role_delete(const struct engine_ctx *ctx, struct request *req,
                                struct response *resp)
{
	const char *name = approle_role_name(req, resp);
	char rkey[APPROLE_KEY_MAX], ikey[APPROLE_KEY_MAX];
	struct barrier_op ops[2];
	json_t *role = NULL;
	int rc;

	if (name == NULL)
		return;
	approle_lock();
	rc = approle_role_load(ctx, name, &role);
	if (rc == 0)
		rc = approle_secret_delete_all(ctx, name);
	if (rc == 0)
		rc = approle_key(rkey, "role/%s", name);
	if (rc == 0)
		rc = approle_role_id_key(ctx, json_string_value(json_object_get(role, "role_id")),
		                         ikey);
	if (rc == 0) {
		ops[0] = (struct barrier_op){BARRIER_DELETE, rkey, NULL, 0};
		ops[1] = (struct barrier_op){BARRIER_DELETE, ikey, NULL, 0};
		rc = barrier_view_batch(&ctx->store, ops, 2, NULL);
	}
	approle_unlock();
	json_decref(role);
	if (rc == 0 || rc == COFFER_ERR_NOT_FOUND)
		response_no_content(resp);
	else
		response_err(resp, rc);
}

static void approle_role(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->method == REQ_GET)
		approle_role_read(ctx, req, resp);
	else if (req->method == REQ_DELETE)
		approle_role_delete(ctx, req, resp);
	else
		approle_role_write(ctx, req, resp);
}

static int approle_role_exists(const struct engine_ctx *ctx, struct request *req)
{
	const char *name = request_param(req, "role_name");
	json_t *role = NULL;
	int rc;

	if (!approle_name_is_valid(name))
		return 0;
	rc = approle_role_load(ctx, name, &role);
	json_decref(role);
	if (rc == COFFER_ERR_NOT_FOUND)
		return 0;
	return rc == 0 ? 1 : rc;
}

static void approle_role_id(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	const char *name, *new_id = NULL;
	json_t *role = approle_role_or_error(ctx, req, resp, &name);
	char *old_id = NULL;
	int rc;

	if (role == NULL)
		return;
	if (req->method == REQ_GET) {
		response_envelope(resp, req,
		                  json_pack("{s:O}", "role_id", json_object_get(role, "role_id")),
		                  NULL, NULL);
		json_decref(role);
		return;
	}
	json_decref(role);
	role = NULL;
	if (coffer_json_get_string(req->body, "role_id", &new_id) != 0 || new_id[0] == '\0') {
		response_invalid(resp, "missing role_id");
		return;
	}
	approle_lock();
	rc = approle_role_load(ctx, name, &role);
	if (rc == 0) {
		old_id = xstrdup(json_string_value(json_object_get(role, "role_id")));
		json_object_set_new(role, "role_id", json_string(new_id));
		rc = approle_role_store(ctx, name, role, old_id);
	}
	approle_unlock();
	if (rc == COFFER_ERR_EXISTS)
		response_invalid(resp, "role_id already in use");
	else if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
	if (old_id != NULL)
		secmem_freezero(old_id, strlen(old_id));
	json_decref(role);
}

/* The token bound CIDRs: the secret_id's when it has some, else the role's; NULL for none. */
static const json_t *approle_token_cidrs(const json_t *role, const json_t *entry)
{
	if (entry != NULL && !approle_list_is_empty(entry, "token_bound_cidrs"))
		return json_object_get(entry, "token_bound_cidrs");
	if (!approle_list_is_empty(role, "token_bound_cidrs"))
		return json_object_get(role, "token_bound_cidrs");
	return NULL;
}

/* Create the login's token with the role's settings and answer with its auth block. */
static void approle_issue(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                          const char *name, const json_t *role, const json_t *entry)
{
	const struct mount_entry *m = req->mount;
	struct token_params p = {0};
	struct token_entry *e = NULL;
	char path[PATH_MAX_LEN + 1], *text = NULL;
	json_t *meta = json_pack("{s:s}", "role_name", name);
	int rc;

	snprintf(path, sizeof(path), "auth/%slogin", m->path);
	token_fields_params(role, m, &p);
	p.meta = meta;
	p.bound_cidrs = approle_token_cidrs(role, entry);
	p.display_name = "approle";
	p.path = path;
	rc = token_create(ctx->tokens, &p, &text, &e);
	if (rc != 0) {
		log_error("approle login for role %s: token creation failed: %s", name,
		          coffer_strerror(rc));
		response_err(resp, rc);
	} else {
		log_info("approle login for role %s: token %s", name, e->accessor);
		response_envelope(resp, req, NULL, token_auth_json(e, text), NULL);
	}
	secmem_free(text);
	token_entry_release(e);
	json_decref(meta);
}

static void approle_login(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *role_id = NULL, *secret_id = NULL;
	char name[APPROLE_NAME_MAX + 1];
	json_t *role = NULL, *entry = NULL;
	int rc;

	if (coffer_json_get_string(req->body, "role_id", &role_id) != 0 || role_id[0] == '\0') {
		response_invalid(resp, "missing role_id");
		return;
	}
	rc = approle_role_by_id(ctx, role_id, name, &role);
	if (rc == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "invalid role or secret ID");
		goto out;
	}
	if (rc != 0) {
		response_err(resp, rc);
		goto out;
	}
	if (!approle_list_is_empty(role, "secret_id_bound_cidrs") &&
	    !cidr_list_contains(json_object_get(role, "secret_id_bound_cidrs"), req->remote_addr)) {
		response_invalid(
		    resp, "source address unauthorized through CIDR restrictions on the role");
		goto out;
	}
	if (json_is_true(json_object_get(role, "bind_secret_id"))) {
		if (coffer_json_get_string(req->body, "secret_id", &secret_id) != 0 ||
		    secret_id[0] == '\0') {
			response_invalid(resp, "missing secret_id");
			goto out;
		}
		rc = approle_secret_use(ctx, req, name, secret_id, &entry);
		if (rc == COFFER_ERR_NOT_FOUND) {
			response_invalid(resp, "invalid secret id");
			goto out;
		}
		if (rc == COFFER_ERR_PERMISSION) {
			response_invalid(resp, "source address unauthorized through CIDR "
			                       "restrictions on the secret ID");
			goto out;
		}
		if (rc != 0) {
			response_err(resp, rc);
			goto out;
		}
	}
	approle_issue(ctx, req, resp, name, role, entry);
out:
	json_decref(entry);
	json_decref(role);
}

/* A renewal of a token of this mount's login: the role must still exist (Vault's words), and its
 * TTL, max TTL and period now are the renewal's. */
static int approle_renew(const struct engine_ctx *ctx, const json_t *token_meta,
                         struct token_renew_limits *lim, char *msg, size_t cap)
{
	const char *name = json_string_value(json_object_get(token_meta, "role_name"));
	json_t *role = NULL;
	int rc;

	if (name == NULL || name[0] == '\0') {
		snprintf(msg, cap, "failed to fetch role_name during renewal");
		return COFFER_ERR_INVALID;
	}
	rc = approle_name_is_valid(name) ? approle_role_load(ctx, name, &role)
	                                 : COFFER_ERR_NOT_FOUND;
	if (rc == COFFER_ERR_NOT_FOUND) {
		snprintf(msg, cap, "role \"%s\" does not exist during renewal", name);
		return COFFER_ERR_INVALID;
	}
	if (rc == 0)
		token_fields_limits(role, lim);
	else
		log_error("approle renewal for role %s: %s", name, coffer_strerror(rc));
	json_decref(role);
	return rc;
}

static const struct route approle_routes[] = {
    {"role", REQ_M(REQ_LIST), 0, auth_role_list, NULL},
    {"role/:role_name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), 0, approle_role,
     approle_role_exists},
    {"role/:role_name/role-id", REQ_M(REQ_GET) | REQ_M_WRITE, 0, approle_role_id, NULL},
    {"role/:role_name/secret-id", REQ_M_WRITE | REQ_M(REQ_LIST), 0, approle_secret_id, NULL},
    {"role/:role_name/custom-secret-id", REQ_M_WRITE, 0, approle_custom_secret_id, NULL},
    {"role/:role_name/secret-id/lookup", REQ_M_WRITE, 0, approle_secret_lookup, NULL},
    {"role/:role_name/secret-id/destroy", REQ_M_WRITE | REQ_M(REQ_DELETE), 0,
     approle_secret_destroy, NULL},
    {"role/:role_name/secret-id-accessor/lookup", REQ_M_WRITE, 0, approle_accessor_lookup, NULL},
    {"role/:role_name/secret-id-accessor/destroy", REQ_M_WRITE | REQ_M(REQ_DELETE), 0,
     approle_accessor_destroy, NULL},
    {"login", REQ_M_WRITE, ROUTE_UNAUTH, approle_login, NULL},
};
static const size_t approle_routes_len = sizeof(approle_routes) / sizeof(approle_routes[0]);

const struct engine approle_engine = {
    .type = "approle",
    .is_auth = true,
    .routes = approle_routes,
    .n_routes = &approle_routes_len,
    .uses = ENGINE_USES_TOKENS,
    .renew = approle_renew,
};
