/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes_login.c: login with a service-account token. The order is Vault's (role, bound
 * CIDRs, the token's form and algorithm, signature when pem_keys are set, issuer, audience, time,
 * service account and namespace, then TokenReview), with two differences its users ask for: a
 * refusal says which check failed (403 "login refused: <check>: <detail>"; the log names the role
 * and the service account, never the token), and disable_token_review verifies locally only,
 * for tokens whose lifetime is bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity/kubernetes/kubernetes_int.h"
#include "identity/auth_role.h"
#include "clock.h"
#include "json.h"
#include "log.h"

/* A claim string below "kubernetes.io" (projected layout): a, or a.b. */
static const char *k8s_claim2(const json_t *ns, const char *a, const char *b)
{
	const json_t *v = json_object_get(ns, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

bool k8s_identity_of(const json_t *claims, struct k8s_identity *id)
{
	const json_t *k = json_object_get(claims, "kubernetes.io");
	const char *legacy = "kubernetes.io/serviceaccount/";
	char key[96];

	memset(id, 0, sizeof(*id));
	id->secret_name = "";
	if (json_is_object(k)) {
		id->namespace = k8s_claim2(k, "namespace", NULL);
		id->name = k8s_claim2(k, "serviceaccount", "name");
		id->uid = k8s_claim2(k, "serviceaccount", "uid");
		if (k8s_claim2(k, "secret", "name") != NULL)
			id->secret_name = k8s_claim2(k, "secret", "name");
	} else {
		snprintf(key, sizeof(key), "%snamespace", legacy);
		id->namespace = json_string_value(json_object_get(claims, key));
		snprintf(key, sizeof(key), "%sservice-account.name", legacy);
		id->name = json_string_value(json_object_get(claims, key));
		snprintf(key, sizeof(key), "%sservice-account.uid", legacy);
		id->uid = json_string_value(json_object_get(claims, key));
		snprintf(key, sizeof(key), "%ssecret.name", legacy);
		if (json_string_value(json_object_get(claims, key)) != NULL)
			id->secret_name = json_string_value(json_object_get(claims, key));
	}
	if (id->uid == NULL)
		id->uid = "";
	return id->namespace != NULL && id->name != NULL && id->namespace[0] != '\0' &&
	       id->name[0] != '\0';
}

/* exp, nbf and iat with the clock skew; the lifetime bound when tokens are not reviewed. */
static int k8s_check_times(const json_t *claims, const json_t *config, struct k8s_refusal *why)
{
	int64_t now = coffer_clock_now_s(), exp = 0, nbf = 0, iat = 0, max, start;
	int has_exp = jose_claim_time(claims, "exp", &exp);
	int has_nbf = jose_claim_time(claims, "nbf", &nbf);
	int has_iat = jose_claim_time(claims, "iat", &iat);

	if (has_exp == COFFER_ERR_INVALID || has_nbf == COFFER_ERR_INVALID ||
	    has_iat == COFFER_ERR_INVALID)
		return k8s_refuse(why, "malformed", "exp, nbf and iat must be numbers");
	if (has_exp == 0 && now - K8S_CLOCK_SKEW_S > exp)
		return k8s_refuse(why, "expired", "the token expired %lld s ago",
		                  (long long)(now - exp));
	if (has_nbf == 0 && now + K8S_CLOCK_SKEW_S < nbf)
		return k8s_refuse(why, "not yet valid", "the token is valid from %lld s from now",
		                  (long long)(nbf - now));
	if (has_iat == 0 && now + K8S_CLOCK_SKEW_S < iat)
		return k8s_refuse(why, "not yet valid", "the token was issued %lld s in the future",
		                  (long long)(iat - now));
	if (!json_is_true(json_object_get(config, "disable_token_review")))
		return 0;
	/* Without the API server nothing sees a deleted pod: only a bounded lifetime limits what a
	 * stolen token is worth. */
	max = json_integer_value(json_object_get(config, "max_token_lifetime"));
	if (has_exp != 0)
		return k8s_refuse(why, "lifetime",
		                  "the token has no exp, which disable_token_review requires");
	start = has_iat == 0 ? iat : has_nbf == 0 ? nbf : now;
	if (exp - start > max)
		return k8s_refuse(why, "lifetime",
		                  "the token lives %lld s, more than max_token_lifetime (%lld s)",
		                  (long long)(exp - start), (long long)max);
	return 0;
}

/* Every check up to and including the review; 0 when the token is accepted. */
static int k8s_validate(const struct engine_ctx *ctx, const struct k8s_state *st,
                        const json_t *role, const char *jwt, const struct jose_token *t,
                        const struct k8s_identity *id, struct k8s_refusal *why)
{
	const json_t *config = st->config;
	const char *aud = json_string_value(json_object_get(role, "audience"));
	const char *iss, *want;
	json_t *audiences;
	char detail[200];
	int rc;

	if (t->alg < 0 || (JOSE_ALGS_KUBERNETES & JOSE_ALG_BIT(t->alg)) == 0)
		return k8s_refuse(
		    why, "algorithm",
		    "\"%s\" is not allowed (RS256/384/512, PS256/384/512, ES256/384/512)",
		    json_string_value(json_object_get(t->header, "alg")));
	if (st->keys != NULL) {
		rc = jose_verify(t, st->keys, JOSE_ALGS_KUBERNETES, false, detail, sizeof(detail));
		if (rc != 0)
			return k8s_refuse(why, "signature", "%s", detail);
	}
	if (!json_is_true(json_object_get(config, "disable_iss_validation"))) {
		want = json_string_value(json_object_get(config, "issuer"));
		if (want == NULL || want[0] == '\0')
			want = K8S_LEGACY_ISSUER;
		iss = json_string_value(json_object_get(t->claims, "iss"));
		if (iss == NULL || strcmp(iss, want) != 0)
			return k8s_refuse(why, "issuer", "the token's issuer is not \"%s\"", want);
	}
	if (aud != NULL && aud[0] != '\0' && !jose_aud_contains(t->claims, aud))
		return k8s_refuse(why, "audience", "the token's aud does not contain \"%s\"", aud);
	rc = k8s_check_times(t->claims, config, why);
	if (rc != 0)
		return rc;
	if (id->namespace == NULL || id->name == NULL)
		return k8s_refuse(why, "malformed", "the token names no service account");
	if (!auth_list_matches(json_object_get(role, "bound_service_account_names"), id->name))
		return k8s_refuse(why, "service account",
		                  "service account name not authorized by the role");
	if (!auth_list_matches(json_object_get(role, "bound_service_account_namespaces"),
	                       id->namespace))
		return k8s_refuse(why, "namespace", "namespace not authorized by the role");
	if (json_is_true(json_object_get(config, "disable_token_review")))
		return 0;
	if (aud != NULL && aud[0] != '\0')
		audiences = json_pack("[s]", aud);
	else if (json_is_string(json_object_get(t->claims, "aud")))
		audiences = json_pack("[O]", json_object_get(t->claims, "aud"));
	else
		audiences = json_incref(json_object_get(t->claims, "aud"));
	rc = k8s_review(ctx, config, jwt, audiences, id, why);
	json_decref(audiences);
	return rc;
}

static void k8s_login_as(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                         const char *name, const json_t *role, const char *jwt)
{
	struct k8s_refusal why = {.check = NULL, .err = COFFER_ERR_PERMISSION};
	struct jose_token t;
	struct k8s_identity id = {0};
	struct k8s_state *st;
	char display[256];
	json_t *meta;
	int rc;

	st = k8s_state_get(ctx, &rc);
	if (st == NULL) {
		if (rc == COFFER_ERR_NOT_FOUND)
			response_invalid(
			    resp,
			    "could not load backend configuration: write auth/%sconfig "
			    "first",
			    req->mount->path);
		else
			response_err(resp, rc);
		return;
	}
	if (jose_parse(jwt, &t, why.detail, sizeof(why.detail)) != 0) {
		why.check = "malformed";
	} else {
		/* The account the token claims: named in the log of any refusal, bound and
		 * reviewed by k8s_validate(). */
		if (!k8s_identity_of(t.claims, &id))
			id.namespace = id.name = NULL;
		if (k8s_validate(ctx, st, role, jwt, &t, &id, &why) == 0)
			why.check = NULL;
	}
	mount_state_release(&st->base);
	if (why.check != NULL) {
		log_warn(
		    "kubernetes login refused for role %s, service account %s/%s (as claimed): "
		    "%s: %s",
		    name, id.namespace != NULL ? id.namespace : "?",
		    id.name != NULL ? id.name : "?", why.check, why.detail);
		response_fail(resp, why.err, "login refused: %s: %s", why.check, why.detail);
		jose_token_clear(&t);
		return;
	}
	meta = json_pack("{s:s,s:s,s:s,s:s,s:s}", "role", name, "service_account_name", id.name,
	                 "service_account_namespace", id.namespace, "service_account_uid", id.uid,
	                 "service_account_secret_name", id.secret_name);
	snprintf(display, sizeof(display), "%.*s-%s-%s", (int)strcspn(req->mount->path, "/"),
	         req->mount->path, id.namespace, id.name);
	auth_login_issue(ctx, req, resp, "kubernetes", name, role, meta, display);
	json_decref(meta);
	jose_token_clear(&t);
}

void k8s_login(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *name = NULL, *jwt = NULL;
	char lname[AUTH_ROLE_NAME_MAX + 1];
	json_t *role = NULL;
	int rc;

	if (coffer_json_get_string(req->body, "role", &name) != 0 || name[0] == '\0') {
		response_invalid(resp, "missing role");
		return;
	}
	if (coffer_json_get_string(req->body, "jwt", &jwt) != 0 || jwt[0] == '\0') {
		response_invalid(resp, "missing jwt");
		return;
	}
	rc = auth_role_load(ctx, name, &role);
	if (rc == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "invalid role name \"%s\"", name);
		return;
	}
	if (rc != 0) {
		response_err(resp, rc);
		return;
	}
	auth_role_lower(name, lname);
	if (auth_login_address_ok(req, resp, "kubernetes", lname, role))
		k8s_login_as(ctx, req, resp, lname, role, jwt);
	json_decref(role);
}
