/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes.c: the kubernetes auth method (API.md "auth/kubernetes"): its configuration, roles
 * and route table. Pods log in with their service-account token (kubernetes_login.c), which the
 * cluster's API server reviews (kubernetes_review.c) or, with the Coffer extension
 * disable_token_review, pem_keys verify locally.
 */
#include <stdio.h>
#include <string.h>

#include "identity/kubernetes/kubernetes_int.h"
#include "api/tables.h"
#include "identity/auth_role.h"
#include "identity/token_fields.h"
#include "json.h"
#include "log.h"
#include "xmalloc.h"

/* ---- config ---- */

/* A PEM list field: an array of PEM texts, or one string of them joined by ',' (Vault's
 * comma-string form; PEM has no ','). Absent: empty. */
static int k8s_pem_list(const json_t *body, const char *key, json_t **out)
{
	int rc = coffer_json_get_string_list(body, key, out);

	if (rc == COFFER_ERR_NOT_FOUND) {
		*out = json_array();
		rc = 0;
	}
	return rc;
}

/* Apply body to config (a fresh record); NULL or a message for a 400. */
static const char *k8s_config_apply(const json_t *body, json_t *config, char *msg, size_t cap)
{
	static const char *const strings[] = {"kubernetes_host", "kubernetes_ca_cert",
	                                      "token_reviewer_jwt", "issuer"};
	static const struct {
		const char *name;
		bool dflt;
	} bools[] = {{"disable_local_ca_jwt", false},
	             {"disable_iss_validation", true},
	             {"disable_token_review", false}};
	struct jose_keys *ks = NULL;
	const char *s;
	json_t *pems = NULL;
	char why[200];
	int64_t life = K8S_DEFAULT_MAX_LIFETIME_S;
	bool b;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		s = "";
		rc = coffer_json_get_string(body, strings[i], &s);
		if (rc == COFFER_ERR_INVALID) {
			snprintf(msg, cap, "%s must be a string", strings[i]);
			return msg;
		}
		json_object_set_new(config, strings[i], json_string(s));
	}
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		b = bools[i].dflt;
		if (coffer_json_get_bool(body, bools[i].name, &b) == COFFER_ERR_INVALID) {
			snprintf(msg, cap, "%s must be a boolean", bools[i].name);
			return msg;
		}
		json_object_set_new(config, bools[i].name, json_boolean(b));
	}
	if (coffer_json_get_bool(body, "use_annotations_as_alias_metadata", &b) == 0 && b)
		return "use_annotations_as_alias_metadata is not supported: Coffer does not read "
		       "service accounts from the API server";
	rc = coffer_json_get_duration(body, "max_token_lifetime", &life);
	if (rc == COFFER_ERR_INVALID || life <= 0)
		return "max_token_lifetime must be a positive duration";
	json_object_set_new(config, "max_token_lifetime", json_integer(life));
	if (k8s_pem_list(body, "pem_keys", &pems) != 0)
		return "pem_keys must be a list of PEM public keys or certificates";
	json_object_set_new(config, "pem_keys", pems);
	if (k8s_keys_of(config, &ks, why, sizeof(why)) != 0) {
		snprintf(msg, cap, "data does not contain any valid RSA or ECDSA public keys: %s",
		         why);
		return msg;
	}
	jose_keys_release(ks);
	s = json_string_value(json_object_get(config, "kubernetes_ca_cert"));
	if (s[0] != '\0') {
		ks = jose_keys_new();
		rc = strstr(s, "-----BEGIN CERTIFICATE-----") == NULL
		         ? COFFER_ERR_INVALID
		         : jose_keys_add_pem(ks, s, NULL, 0);
		jose_keys_release(ks);
		if (rc != 0)
			return "The provided CA PEM data contains no valid certificates";
	}
	if (json_is_true(json_object_get(config, "disable_token_review"))) {
		if (json_array_size(pems) == 0)
			return "disable_token_review requires pem_keys: without the API server, "
			       "only "
			       "the cluster's signing keys can verify a token";
	} else if (json_string_length(json_object_get(config, "kubernetes_host")) == 0) {
		return "no host provided";
	}
	return NULL;
}

static void k8s_config_write(const struct engine_ctx *ctx, struct request *req,
                             struct response *resp)
{
	json_t *config = json_object();
	const char *msg;
	char buf[512];
	int rc;

	msg = k8s_config_apply(req->body, config, buf, sizeof(buf));
	if (msg != NULL) {
		response_invalid(resp, "%s", msg);
		json_decref(config);
		return;
	}
	/* Logins from now on use the new configuration (the state owns config). */
	rc = auth_config_commit(ctx, config, &k8s_state_new(config)->base);
	if (rc != 0)
		response_err(resp, rc);
	else
		response_no_content(resp);
}

static void k8s_config_read(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp)
{
	static const char *const shown[] = {"kubernetes_host",
	                                    "kubernetes_ca_cert",
	                                    "pem_keys",
	                                    "issuer",
	                                    "disable_iss_validation",
	                                    "disable_local_ca_jwt",
	                                    "disable_token_review",
	                                    "max_token_lifetime"};
	struct k8s_state *st;
	json_t *data;
	size_t i;
	int rc;

	st = k8s_state_get(ctx, &rc);
	if (st == NULL) {
		auth_load_failed(resp, rc);
		return;
	}
	data = json_object();
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		json_object_set(data, shown[i], json_object_get(st->config, shown[i]));
	json_object_set_new(data, "token_reviewer_jwt_set",
	                    json_boolean(json_string_length(json_object_get(
	                                     st->config, "token_reviewer_jwt")) > 0));
	json_object_set_new(data, "use_annotations_as_alias_metadata", json_false());
	mount_state_release(&st->base);
	response_envelope(resp, req, data, NULL, NULL);
}

static void k8s_config(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	if (req->method == REQ_GET)
		k8s_config_read(ctx, req, resp);
	else
		k8s_config_write(ctx, req, resp);
}

/* ---- roles ---- */

/* A list of bound names: required, '*' alone or no '*' entry among others. */
static const char *k8s_bound_list(const json_t *body, const char *key, json_t *role, char *msg,
                                  size_t cap)
{
	json_t *list = NULL, *v;
	bool star = false;
	size_t i;
	int rc = coffer_json_get_string_list(body, key, &list);

	if (rc == COFFER_ERR_NOT_FOUND) {
		if (json_array_size(json_object_get(role, key)) > 0)
			return NULL; /* an update that leaves the list as it was */
		snprintf(msg, cap, "\"%s\" can not be empty", key);
		return msg;
	}
	if (rc != 0 || json_array_size(list) == 0) {
		json_decref(list);
		snprintf(msg, cap,
		         rc != 0 ? "\"%s\" must be a list of names" : "\"%s\" can not be empty",
		         key);
		return msg;
	}
	json_array_foreach(list, i, v) star |= strcmp(json_string_value(v), "*") == 0;
	if (star && json_array_size(list) > 1) {
		json_decref(list);
		snprintf(msg, cap, "can not mix \"*\" with values in \"%s\"", key);
		return msg;
	}
	json_object_set_new(role, key, list);
	return NULL;
}

static bool k8s_is_star(const json_t *role, const char *key)
{
	const json_t *l = json_object_get(role, key);

	return json_array_size(l) == 1 && strcmp(json_string_value(json_array_get(l, 0)), "*") == 0;
}

static const char *k8s_role_apply(const json_t *body, json_t *role, char *msg, size_t cap)
{
	const char *m, *s;
	int rc;

	m = k8s_bound_list(body, "bound_service_account_names", role, msg, cap);
	if (m == NULL)
		m = k8s_bound_list(body, "bound_service_account_namespaces", role, msg, cap);
	if (m != NULL)
		return m;
	if (k8s_is_star(role, "bound_service_account_names") &&
	    k8s_is_star(role, "bound_service_account_namespaces"))
		return "bound_service_account_names and bound_service_account_namespaces can not "
		       "both "
		       "be \"*\": such a role would admit every service account of the cluster";
	if (json_object_get(body, "bound_service_account_namespace_selector") != NULL)
		return "bound_service_account_namespace_selector is not supported: list the "
		       "namespaces (globs like \"team-*\" work)";
	s = NULL;
	rc = coffer_json_get_string(body, "audience", &s);
	if (rc == COFFER_ERR_INVALID)
		return "audience must be a string";
	if (s != NULL)
		json_object_set_new(role, "audience", json_string(s));
	s = NULL;
	rc = coffer_json_get_string(body, "alias_name_source", &s);
	if (rc == COFFER_ERR_INVALID || (s != NULL && strcmp(s, "serviceaccount_uid") != 0 &&
	                                 strcmp(s, "serviceaccount_name") != 0))
		return "invalid alias_name_source, must be one of: serviceaccount_uid, "
		       "serviceaccount_name";
	if (s != NULL)
		json_object_set_new(role, "alias_name_source", json_string(s));
	return token_fields_apply(body, role, msg, cap);
}

static json_t *k8s_role_defaults(void)
{
	json_t *role =
	    json_pack("{s:s,s:s}", "audience", "", "alias_name_source", "serviceaccount_uid");

	token_fields_defaults(role);
	return role;
}

static void k8s_role_write(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	json_t *role = NULL;

	if (auth_role_update(ctx, req, resp, k8s_role_defaults, k8s_role_apply, &role) != 0)
		return;
	if (json_string_length(json_object_get(role, "audience")) == 0)
		response_envelope(resp, req, NULL, NULL,
		                  json_pack("[s]",
		                            "this role has no audience: any token of a bound "
		                            "service account is accepted, whatever it was "
		                            "issued for; set audience (for example \"coffer\")"));
	else
		response_no_content(resp);
	json_decref(role);
}

static void k8s_role_read(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	static const char *const shown[] = {"bound_service_account_names",
	                                    "bound_service_account_namespaces", "audience",
	                                    "alias_name_source"};
	char name[AUTH_ROLE_NAME_MAX + 1];
	json_t *role = auth_role_of_route(ctx, req, resp, name), *data;
	size_t i;

	if (role == NULL)
		return;
	data = json_object();
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		json_object_set(data, shown[i], json_object_get(role, shown[i]));
	token_fields_read(role, data);
	json_decref(role);
	response_envelope(resp, req, data, NULL, NULL);
}

static void k8s_role(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	auth_role_route(ctx, req, resp, k8s_role_read, k8s_role_write);
}

static const struct route k8s_routes[] = {
    {"config", REQ_M(REQ_GET) | REQ_M_WRITE, 0, k8s_config, NULL},
    {"role", REQ_M(REQ_LIST), 0, auth_role_list, NULL},
    {"role/:name", REQ_M(REQ_GET) | REQ_M_WRITE | REQ_M(REQ_DELETE), 0, k8s_role, auth_role_exists},
    {"login", REQ_M_WRITE, ROUTE_UNAUTH, k8s_login, NULL},
};
static const size_t k8s_routes_len = sizeof(k8s_routes) / sizeof(k8s_routes[0]);

const struct engine kubernetes_engine = {
    .type = "kubernetes",
    .is_auth = true,
    .routes = k8s_routes,
    .n_routes = &k8s_routes_len,
    .uses = ENGINE_USES_TOKENS,
    .renew = auth_role_renew,
    .purge = auth_state_purge,
};
