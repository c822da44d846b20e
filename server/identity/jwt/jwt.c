/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt.c: the jwt auth method (API.md "auth/jwt"), Vault's JWT logins without the OIDC browser
 * flow: its configuration (one key source), roles with Vault's bound constraints and leeways,
 * and the route table. Login is jwt_login.c, the key sources jwt_keys.c.
 */
#include <stdio.h>
#include <string.h>

#include "identity/jwt/jwt_int.h"
#include "api/tables.h"
#include "identity/auth_role.h"
#include "identity/token_fields.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* ---- config ---- */

static const char *const jwt_config_strings[] = {"jwks_url",           "jwks_ca_pem",
                                                 "oidc_discovery_url", "oidc_discovery_ca_pem",
                                                 "bound_issuer",       "default_role"};

static const char *jwt_config_apply(const json_t *body, json_t *config, char *msg, size_t cap)
{
	json_t *pems = NULL, *algs = NULL, *v;
	const char *s;
	size_t i, sources = 0;
	int rc;

	for (i = 0; i < sizeof(jwt_config_strings) / sizeof(jwt_config_strings[0]); i++) {
		s = "";
		if (coffer_json_get_string(body, jwt_config_strings[i], &s) == COFFER_ERR_INVALID) {
			snprintf(msg, cap, "%s must be a string", jwt_config_strings[i]);
			return msg;
		}
		json_object_set_new(config, jwt_config_strings[i], json_string(s));
	}
	rc = coffer_json_get_string_list(body, "jwt_validation_pubkeys", &pems);
	if (rc == COFFER_ERR_NOT_FOUND)
		pems = json_array();
	else if (rc != 0)
		return "jwt_validation_pubkeys must be a list of PEM public keys or certificates";
	json_object_set_new(config, "jwt_validation_pubkeys", pems);
	rc = coffer_json_get_string_list(body, "jwt_supported_algs", &algs);
	if (rc == COFFER_ERR_NOT_FOUND)
		algs = json_array();
	else if (rc != 0)
		return "invalid jwt_supported_algs: a list of algorithm names";
	json_array_foreach(algs, i, v)
	{
		if (jose_alg_parse(json_string_value(v)) < 0) {
			snprintf(msg, cap,
			         "invalid jwt_supported_algs: %s is not one of RS256, RS384, "
			         "RS512, ES256, ES384, ES512, PS256, PS384, PS512, EdDSA",
			         json_string_value(v));
			json_decref(algs);
			return msg;
		}
	}
	json_object_set_new(config, "jwt_supported_algs", algs);
	if (json_object_get(body, "jwks_pairs") != NULL)
		return "jwks_pairs is not supported: use one jwks_url per mount";
	sources = (json_array_size(pems) > 0) +
	          (json_string_length(json_object_get(config, "jwks_url")) > 0) +
	          (json_string_length(json_object_get(config, "oidc_discovery_url")) > 0);
	if (sources != 1)
		return "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or "
		       "'oidc_discovery_url' "
		       "must be set";
	return NULL;
}

static void jwt_config_write(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	json_t *config = json_object();
	struct jwt_state *st;
	const char *msg;
	char buf[512];
	int rc;

	msg = jwt_config_apply(req->body, config, buf, sizeof(buf));
	st = msg == NULL ? jwt_state_build(config, buf, sizeof(buf)) : NULL;
	if (msg == NULL && st == NULL)
		msg = buf;
	if (msg != NULL) {
		response_invalid(resp, "%s", msg);
	} else if ((rc = auth_config_commit(ctx, config, &st->base)) != 0) {
		/* (the keys fetched now replace whatever logins used before: Vault bug 9912) */
		response_err(resp, rc);
	} else {
		response_no_content(resp);
	}
	json_decref(config);
}

static void jwt_config_read(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	json_t *config = NULL, *data;
	int rc = auth_json_get(ctx, "config", &config);

	if (rc != 0) {
		auth_load_failed(resp, rc);
		return;
	}
	data = json_deep_copy(config);
	json_decref(config);
	response_envelope(resp, req, data, NULL, NULL);
}

static void jwt_config(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->method == REQ_GET)
		jwt_config_read(ctx, req, resp);
	else
		jwt_config_write(ctx, req, resp);
}

/* ---- roles ---- */

/* A leeway: seconds or a duration; 0 means the default, -1 turns the check off. */
static const char *jwt_leeway(const json_t *body, const char *key, json_t *role, char *msg,
                              size_t cap)
{
	const json_t *v = json_object_get(body, key);
	int64_t s = 0;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_integer(v))
		s = (int64_t)json_integer_value(v);
	else if (coffer_json_get_duration(body, key, &s) != 0)
		s = -2;
	if (s < -1) {
		snprintf(msg, cap, "%s must be a number of seconds or a duration (-1: off)", key);
		return msg;
	}
	json_object_set_new(role, key, json_integer(s));
	return NULL;
}

/* An object of strings (claim_mappings), or bound_claims (values strings, numbers, booleans or
 * lists of them). */
static const char *jwt_object_field(const json_t *body, const char *key, json_t *role,
                                    bool mappings, char *msg, size_t cap)
{
	const json_t *v = json_object_get(body, key), *val;
	const char *k;

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		snprintf(msg, cap, "%s must be an object", key);
		return msg;
	}
	json_object_foreach((json_t *)v, k, val)
	{
		if (mappings ? !json_is_string(val) : (json_is_object(val) || json_is_null(val))) {
			snprintf(msg, cap, "%s: the value of \"%s\" has the wrong type", key, k);
			return msg;
		}
	}
	json_object_set_new(role, key, json_deep_copy(v));
	return NULL;
}

/* Vault's rules across the role's fields. */
static const char *jwt_role_check(json_t *role, char *msg, size_t cap)
{
	const json_t *bc = json_object_get(role, "bound_claims"), *maps, *val, *item, *other;
	const char *type = json_string_value(json_object_get(role, "bound_claims_type"));
	const char *k, *k2;
	size_t i;

	if (json_string_length(json_object_get(role, "user_claim")) == 0)
		return "a user claim must be defined on the role";
	if (strcmp(type, "string") != 0 && strcmp(type, "glob") != 0)
		return "invalid bound_claims_type: must be \"string\" or \"glob\"";
	if (strcmp(type, "glob") == 0) {
		json_object_foreach((json_t *)bc, k, val)
		{
			if (json_is_array(val)) {
				json_array_foreach(val, i,
				                   item) if (!json_is_string(item)) goto not_string;
			} else if (!json_is_string(val)) {
			not_string:
				snprintf(msg, cap, "claim is not a string or list: %s", k);
				return msg;
			}
		}
	}
	maps = json_object_get(role, "claim_mappings");
	json_object_foreach((json_t *)maps, k, val)
	{
		if (strcmp(json_string_value(val), "role") == 0)
			return "metadata key \"role\" is reserved and may not be set via claim "
			       "mappings";
		json_object_foreach((json_t *)maps, k2, other)
		{
			if (strcmp(k, k2) != 0 && json_equal(val, other)) {
				snprintf(msg, cap,
				         "multiple keys are mapped to metadata key \"%s\"",
				         json_string_value(val));
				return msg;
			}
		}
	}
	if (strcmp(json_string_value(json_object_get(role, "role_type")), "jwt") == 0 &&
	    json_array_size(json_object_get(role, "bound_audiences")) == 0 &&
	    json_string_length(json_object_get(role, "bound_subject")) == 0 &&
	    json_object_size(bc) == 0 &&
	    json_array_size(json_object_get(role, "token_bound_cidrs")) == 0)
		return "must have at least one bound constraint when creating/updating a role";
	return NULL;
}

static const char *jwt_role_apply(const json_t *body, json_t *role, char *msg, size_t cap)
{
	static const char *const strings[] = {"role_type", "user_claim", "bound_subject",
	                                      "bound_claims_type", "groups_claim"};
	static const char *const leeways[] = {"clock_skew_leeway", "expiration_leeway",
	                                      "not_before_leeway"};
	const char *s, *m = NULL;
	json_t *list = NULL;
	bool b;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		s = NULL;
		if (coffer_json_get_string(body, strings[i], &s) == COFFER_ERR_INVALID) {
			snprintf(msg, cap, "%s must be a string", strings[i]);
			return msg;
		}
		if (s != NULL)
			json_object_set_new(role, strings[i], json_string(s));
	}
	s = json_string_value(json_object_get(role, "role_type"));
	if (strcmp(s, "jwt") != 0 && strcmp(s, "oidc") != 0)
		return "invalid role_type: must be \"jwt\" or \"oidc\"";
	rc = coffer_json_get_bool(body, "user_claim_json_pointer", &b);
	if (rc == COFFER_ERR_INVALID)
		return "user_claim_json_pointer must be a boolean";
	if (rc == 0)
		json_object_set_new(role, "user_claim_json_pointer", json_boolean(b));
	rc = coffer_json_get_string_list(body, "bound_audiences", &list);
	if (rc == COFFER_ERR_INVALID)
		return "bound_audiences must be a list of strings";
	if (rc == 0)
		json_object_set_new(role, "bound_audiences", list);
	for (i = 0; m == NULL && i < sizeof(leeways) / sizeof(leeways[0]); i++)
		m = jwt_leeway(body, leeways[i], role, msg, cap);
	if (m == NULL)
		m = jwt_object_field(body, "bound_claims", role, false, msg, cap);
	if (m == NULL)
		m = jwt_object_field(body, "claim_mappings", role, true, msg, cap);
	if (m == NULL)
		m = token_fields_apply(body, role, msg, cap);
	return m != NULL ? m : jwt_role_check(role, msg, cap);
}

static json_t *jwt_role_defaults(void)
{
	json_t *role = json_pack(
	    "{s:s,s:s,s:b,s:[],s:s,s:{},s:s,s:{},s:s,s:i,s:i,s:i}", "role_type", "oidc",
	    "user_claim", "", "user_claim_json_pointer", 0, "bound_audiences", "bound_subject", "",
	    "bound_claims", "bound_claims_type", "string", "claim_mappings", "groups_claim", "",
	    "clock_skew_leeway", 0, "expiration_leeway", 0, "not_before_leeway", 0);

	token_fields_defaults(role);
	return role;
}

static void jwt_role_write(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	json_t *role = NULL;

	if (auth_role_update(ctx, req, resp, jwt_role_defaults, jwt_role_apply, &role) == 0)
		response_no_content(resp);
	json_decref(role);
}

static void jwt_role_read(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	char name[AUTH_ROLE_NAME_MAX + 1];
	json_t *role = auth_role_of_route(ctx, req, resp, name), *data, *v;
	const char *k;

	if (role == NULL)
		return;
	data = json_object();
	json_object_foreach(role, k, v)
	{
		if (strncmp(k, "token_", 6) != 0)
			json_object_set(data, k, v);
	}
	token_fields_read(role, data);
	json_decref(role);
	response_envelope(resp, req, data, NULL, NULL);
}

static void jwt_role(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	auth_role_route(ctx, req, resp, jwt_role_read, jwt_role_write);
}

static const struct route jwt_routes[] = {
    {"config", REQ_M(REQ_GET) | REQ_M_WRITE, 0, jwt_config, NULL},
    {"role", REQ_M(REQ_LIST), 0, auth_role_list, NULL},
    {"role/:name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), 0, jwt_role, auth_role_exists},
    {"login", REQ_M_WRITE, ROUTE_UNAUTH, jwt_login, NULL},
};
static const size_t jwt_routes_len = sizeof(jwt_routes) / sizeof(jwt_routes[0]);

const struct engine jwt_engine = {
    .type = "jwt",
    .is_auth = true,
    .routes = jwt_routes,
    .n_routes = &jwt_routes_len,
    .uses = ENGINE_USES_TOKENS,
    .renew = auth_role_renew,
    .purge = auth_state_purge,
};
