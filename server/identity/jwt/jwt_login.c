/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt_login.c: login with a JWT, checked in Vault's order with Vault's 400 messages: the role,
 * bound CIDRs, the signature (a key of the token's kid; an unknown kid fetches the remote JWK set
 * again), the algorithm, iss, sub and aud, the time claims with the role's leeways (Vault's
 * semantics: expiration_leeway only stands in for a missing exp), an aud with no bound audiences,
 * the user claim and claim mappings, then bound_claims.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity/jwt/jwt_int.h"
#include "identity/auth_role.h"
#include "clock.h"
#include "json.h"
#include "log.h"

#define JWT_DEFAULT_SKEW_S 60
#define JWT_DEFAULT_EXP_LEEWAY_S 150
#define JWT_DEFAULT_NBF_LEEWAY_S 150

struct jwt_refusal {
	char msg[384];
};

static int jwt_refuse(struct jwt_refusal *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int jwt_refuse(struct jwt_refusal *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
	va_end(ap);
	return COFFER_ERR_INVALID;
}

/* A leeway of the role: 0 is the default; -1 (no leeway) is returned as is; at most
 * JOSE_TIME_MAX, so that it cannot overflow added to a time. */
static int64_t jwt_leeway(const json_t *role, const char *key, int64_t dflt)
{
	int64_t v = json_integer_value(json_object_get(role, key));

	return v == 0 ? dflt : v > JOSE_TIME_MAX ? JOSE_TIME_MAX : v;
}

/* The signature, with a second try after fetching the JWK set again for an unknown kid. */
static int jwt_check_signature(struct jwt_state *st, const struct jose_token *t,
                               struct jwt_refusal *why)
{
	struct jose_keys *ks, *fresh;
	char detail[256];
	int rc;

	/* Keys past their max age are fetched again first (the provider may have withdrawn one);
	 * when that fails, the keys held go on serving. */
	if (jwt_keys_stale(st))
		jose_keys_release(jwt_keys_refetch(st, NULL));
	ks = jwt_keys_current(st);
	if (t->alg < 0 || (st->algs & JOSE_ALG_BIT(t->alg)) == 0) {
		jose_keys_release(ks);
		return jwt_refuse(why,
		                  "error validating token: invalid algorithm (alg) header "
		                  "parameter: \"%s\" is not allowed",
		                  json_string_value(json_object_get(t->header, "alg")));
	}
	rc = jose_verify(t, ks, st->algs, false, detail, sizeof(detail));
	if (rc != 0 && t->kid != NULL && !jose_keys_has_kid(ks, t->kid) &&
	    (fresh = jwt_keys_refetch(st, t->kid)) != NULL) {
		rc = jose_verify(t, fresh, st->algs, false, detail, sizeof(detail));
		jose_keys_release(fresh);
	}
	jose_keys_release(ks);
	if (rc != 0)
		return jwt_refuse(
		    why, "error validating token: error verifying token signature: %s", detail);
	return 0;
}

/* iat, nbf and exp as cap's validateAll does them. */
static int jwt_check_times(const json_t *role, const json_t *claims, struct jwt_refusal *why)
{
	int64_t skew = jwt_leeway(role, "clock_skew_leeway", JWT_DEFAULT_SKEW_S);
	int64_t exp_lw = jwt_leeway(role, "expiration_leeway", JWT_DEFAULT_EXP_LEEWAY_S);
	int64_t nbf_lw = jwt_leeway(role, "not_before_leeway", JWT_DEFAULT_NBF_LEEWAY_S);
	int64_t now = coffer_clock_now_s(), exp = 0, nbf = 0, iat = 0;
	int has_exp = jose_claim_time(claims, "exp", &exp);
	int has_nbf = jose_claim_time(claims, "nbf", &nbf);
	int has_iat = jose_claim_time(claims, "iat", &iat);

	if (has_exp == COFFER_ERR_INVALID || has_nbf == COFFER_ERR_INVALID ||
	    has_iat == COFFER_ERR_INVALID)
		return jwt_refuse(why, "error validating token: exp, nbf and iat must be numbers");
	if (has_exp != 0 && has_nbf != 0 && has_iat != 0)
		return jwt_refuse(why,
		                  "error validating token: no issued at (iat), not before (nbf), "
		                  "or expiration time (exp) claims in token");
	/* A negative leeway is none at all (cap's validateAll), not a check turned off. */
	if (skew < 0)
		skew = 0;
	/* A missing exp or nbf is made up from the others, so both are checked. */
	if (has_exp != 0)
		exp = (has_nbf == 0 && (has_iat != 0 || nbf > iat) ? nbf : iat) +
		      (exp_lw < 0 ? 0 : exp_lw);
	if (has_nbf != 0)
		nbf = has_iat == 0 ? iat : exp - (nbf_lw < 0 ? 0 : nbf_lw);
	if (now + skew < nbf)
		return jwt_refuse(why,
		                  "error validating token: token not yet valid (token nbf is "
		                  "%lld s from now)",
		                  (long long)(nbf - now));
	if (now - skew > exp)
		return jwt_refuse(why,
		                  "error validating token: token is expired (exp was %lld s ago)",
		                  (long long)(now - exp));
	if (has_iat == 0 && now + skew < iat)
		return jwt_refuse(why,
		                  "error validating token: token issued in the future (iat is "
		                  "%lld s from now)",
		                  (long long)(iat - now));
	return 0;
}

static int jwt_check_claims(const json_t *role, const json_t *config, const json_t *claims,
                            struct jwt_refusal *why)
{
	const char *iss = json_string_value(json_object_get(config, "bound_issuer"));
	const char *sub = json_string_value(json_object_get(role, "bound_subject"));
	const json_t *auds = json_object_get(role, "bound_audiences"), *a;
	const char *got;
	bool match = false;
	size_t i;
	int rc;

	got = json_string_value(json_object_get(claims, "iss"));
	if (iss != NULL && iss[0] != '\0' && (got == NULL || strcmp(got, iss) != 0))
		return jwt_refuse(why, "error validating token: invalid issuer (iss) claim");
	got = json_string_value(json_object_get(claims, "sub"));
	if (sub != NULL && sub[0] != '\0' && (got == NULL || strcmp(got, sub) != 0))
		return jwt_refuse(why, "error validating token: invalid subject (sub) claim");
	json_array_foreach(auds, i, a) match |= jose_aud_contains(claims, json_string_value(a));
	if (json_array_size(auds) > 0 && !match)
		return jwt_refuse(why,
		                  "error validating token: invalid audience (aud) claim: audience "
		                  "claim does not match any expected audience");
	rc = jwt_check_times(role, claims, why);
	if (rc != 0)
		return rc;
	if (json_array_size(auds) == 0 && jose_has_aud(claims))
		return jwt_refuse(why,
		                  "audience claim found in JWT but no audiences bound to the role");
	return 0;
}

/* One bound value against one claim value. */
static bool jwt_value_matches(const json_t *bound, const json_t *got, bool glob)
{
	if (json_is_string(bound) && json_is_string(got))
		return glob ? auth_glob_match(json_string_value(bound), json_string_value(got))
		            : strcmp(json_string_value(bound), json_string_value(got)) == 0;
	return !glob && json_equal(bound, got);
}

/* Any of the bound values (a value or a list) against any of the claim's (a value or a list). */
static bool jwt_any_matches(const json_t *bound, const json_t *got, bool glob)
{
	const json_t *b, *g;
	size_t i, j;

	if (json_is_array(bound)) {
		json_array_foreach(bound, i, b) if (jwt_any_matches(b, got, glob)) return true;
		return false;
	}
	if (json_is_array(got)) {
		json_array_foreach(got, j, g) if (jwt_value_matches(bound, g, glob)) return true;
		return false;
	}
	return jwt_value_matches(bound, got, glob);
}

static int jwt_check_bound_claims(const json_t *role, const json_t *claims, struct jwt_refusal *why)
{
	const json_t *bc = json_object_get(role, "bound_claims"), *bound, *got;
	bool glob =
	    strcmp(json_string_value(json_object_get(role, "bound_claims_type")), "glob") == 0;
	const char *k;

	json_object_foreach((json_t *)bc, k, bound)
	{
		got = jose_claim(claims, k);
		if (got == NULL)
			return jwt_refuse(why, "error validating claims: claim \"%s\" is missing",
			                  k);
		if (!jwt_any_matches(bound, got, glob))
			return jwt_refuse(
			    why,
			    "error validating claims: claim \"%s\" does not match any "
			    "associated bound claim values",
			    k);
	}
	return 0;
}

/* The metadata of the login (role + claim_mappings) and the user claim's value. */
static int jwt_identity(const char *name, const json_t *role, const json_t *claims, json_t **meta,
                        const char **user, struct jwt_refusal *why)
{
	const char *uc = json_string_value(json_object_get(role, "user_claim")), *k;
	const json_t *maps = json_object_get(role, "claim_mappings"), *target, *v;

	v = json_is_true(json_object_get(role, "user_claim_json_pointer"))
	        ? jose_claim(claims, uc)
	        : json_object_get(claims, uc);
	if (v == NULL)
		return jwt_refuse(why, "claim \"%s\" not found in token", uc);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return jwt_refuse(why, "claim \"%s\" could not be converted to string", uc);
	*user = json_string_value(v);
	*meta = json_pack("{s:s}", "role", name);
	json_object_foreach((json_t *)maps, k, target)
	{
		v = jose_claim(claims, k);
		if (v == NULL)
			continue;
		if (!json_is_string(v)) {
			json_decref(*meta);
			*meta = NULL;
			return jwt_refuse(why, "error converting claim '%s' to string", k);
		}
		json_object_set(*meta, json_string_value(target), (json_t *)v);
	}
	return 0;
}

static void jwt_login_as(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                         struct jwt_state *st, const char *name, const json_t *role,
                         const char *text)
{
	struct jwt_refusal why = {""};
	struct jose_token t;
	const char *user = NULL;
	json_t *meta = NULL;
	char detail[256];
	int rc;

	if (jose_parse(text, &t, detail, sizeof(detail)) != 0)
		rc = jwt_refuse(&why, "error validating token: %s", detail);
	else if ((rc = jwt_check_signature(st, &t, &why)) == 0 &&
	         (rc = jwt_check_claims(role, st->config, t.claims, &why)) == 0 &&
	         (rc = jwt_identity(name, role, t.claims, &meta, &user, &why)) == 0)
		rc = jwt_check_bound_claims(role, t.claims, &why);
	if (rc != 0) {
		log_warn("jwt login refused for role %s: %s", name, why.msg);
		response_invalid(resp, "%s", why.msg);
	} else {
		auth_login_issue(ctx, req, resp, "jwt", name, role, meta, user);
	}
	json_decref(meta);
	jose_token_clear(&t);
}

void jwt_login(const struct engine_ctx *ctx, struct request *req, struct response *resp)
{
	const char *name = NULL, *text = NULL;
	char lname[AUTH_ROLE_NAME_MAX + 1];
	struct jwt_state *st;
	json_t *role = NULL;
	int rc;

	st = jwt_state_get(ctx, &rc);
	if (st == NULL) {
		response_invalid(resp, "could not load configuration%s",
		                 rc == COFFER_ERR_NOT_FOUND ? "" : ": its keys cannot be fetched");
		return;
	}
	if (coffer_json_get_string(req->body, "role", &name) != 0 || name[0] == '\0')
		name = json_string_value(json_object_get(st->config, "default_role"));
	if (name == NULL || name[0] == '\0') {
		response_invalid(resp, "missing role");
		goto out;
	}
	rc = auth_role_load(ctx, name, &role);
	if (rc == COFFER_ERR_NOT_FOUND) {
		response_invalid(resp, "role \"%s\" could not be found", name);
		goto out;
	}
	if (rc != 0) {
		response_err(resp, rc);
		goto out;
	}
	auth_role_lower(name, lname);
	if (strcmp(json_string_value(json_object_get(role, "role_type")), "jwt") != 0) {
		response_invalid(resp, "role with oidc role_type is not allowed");
	} else if (coffer_json_get_string(req->body, "jwt", &text) != 0 || text[0] == '\0') {
		response_invalid(resp, "missing token");
	} else if (auth_login_address_ok(req, resp, "jwt", lname, role)) {
		jwt_login_as(ctx, req, resp, st, lname, role, text);
	}
out:
	json_decref(role);
	mount_state_release(&st->base);
}
