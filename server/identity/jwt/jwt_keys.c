/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt_keys.c: where the jwt auth method's keys come from: jwt_validation_pubkeys (PEM), a JWK set
 * at jwks_url, or the jwks_uri of an OpenID discovery document. Remote keys are fetched when the
 * config is written (so a wrong URL is a 400 then, not a failed login later), kept in memory, and
 * fetched again when a token names a key id they lack (OIDC Core 10.1.1: how providers rotate),
 * at most once per JWT_REFETCH_MIN_S.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jwt/jwt_int.h"
#include "identity/auth_role.h"
#include "clock.h"
#include "log.h"
#include "net/outbound.h"
#include "xmalloc.h"

static void jwt_state_destroy(struct mount_state *base)
{
	struct jwt_state *st = (struct jwt_state *)base;

	json_decref(st->config);
	jose_keys_release(st->keys);
	free(st->jwks_uri);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->fetch_mu);
	free(st);
}

static const char *jwt_config_str(const json_t *config, const char *key)
{
	const char *s = json_string_value(json_object_get(config, key));

	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* GET url (trusting ca) and parse its JSON object. */
static int jwt_fetch(const char *url, const char *ca, json_t **out, long *max_age_s, char *why,
                     size_t cap)
{
	struct outbound_request rq = {
	    .method = "GET", .url = url, .ca_pem = ca, .max_age_s = max_age_s};
	long status = 0;
	int rc = outbound_json(&rq, &status, out, why, cap);

	if (rc == 0 && (status != 200 || !json_is_object(*out))) {
		snprintf(why, cap, "%s answered %ld%s", url, status,
		         status == 200 ? " without a JSON object" : "");
		json_decref(*out);
		*out = NULL;
		rc = COFFER_ERR_IO;
	}
	return rc;
}

/* The JWK set of st (jwks_uri), as a new key set, and how long to use it (milliseconds). */
static int jwt_fetch_keys(const struct jwt_state *st, struct jose_keys **out, int64_t *max_age_ms,
                          char *why, size_t cap)
{
	long age = -1;
	const char *ca = jwt_config_str(st->config, "jwks_ca_pem");
	struct jose_keys *ks;
	json_t *jwks = NULL;
	int rc;

	if (ca == NULL)
		ca = jwt_config_str(st->config, "oidc_discovery_ca_pem");
	rc = jwt_fetch(st->jwks_uri, ca, &jwks, &age, why, cap);
	if (rc != 0)
		return rc;
	if (age < 0)
		age = JWT_KEYS_MAX_AGE_S;
	else if (age < JWT_REFETCH_MIN_S)
		age = JWT_REFETCH_MIN_S;
	else if (age > JWT_KEYS_MAX_AGE_MAX_S)
		age = JWT_KEYS_MAX_AGE_MAX_S;
	*max_age_ms = (int64_t)age * 1000;
	ks = jose_keys_new();
	rc = jose_keys_add_jwks(ks, jwks, why, cap);
	json_decref(jwks);
	if (rc != 0) {
		jose_keys_release(ks);
		return rc;
	}
	*out = ks;
	return 0;
}

/* The jwks_uri of the discovery document at base, whose issuer must be base exactly. */
static int jwt_discover(const json_t *config, char **jwks_uri, char *why, size_t cap)
{
	const char *base = jwt_config_str(config, "oidc_discovery_url");
	size_t n = strlen(base);
	const char *issuer, *uri;
	char *url = NULL;
	json_t *doc = NULL;
	int rc;

	xasprintf(&url, "%.*s/.well-known/openid-configuration",
	          (int)(n > 0 && base[n - 1] == '/' ? n - 1 : n), base);
	rc = jwt_fetch(url, jwt_config_str(config, "oidc_discovery_ca_pem"), &doc, NULL, why, cap);
	free(url);
	if (rc != 0)
		return rc;
	issuer = json_string_value(json_object_get(doc, "issuer"));
	uri = json_string_value(json_object_get(doc, "jwks_uri"));
	if (issuer == NULL || strcmp(issuer, base) != 0) {
		snprintf(why, cap, "the discovery document's issuer \"%.100s\" is not \"%.100s\"",
		         issuer != NULL ? issuer : "", base);
		rc = COFFER_ERR_INVALID;
	} else if (uri == NULL || uri[0] == '\0') {
		snprintf(why, cap, "the discovery document has no jwks_uri");
		rc = COFFER_ERR_INVALID;
	} else {
		*jwks_uri = xstrdup(uri);
	}
	json_decref(doc);
	return rc;
}

struct jwt_state *jwt_state_build(json_t *config, char *why, size_t cap)
{
	struct jwt_state *st = xcalloc(1, sizeof(*st));
	const json_t *pems = json_object_get(config, "jwt_validation_pubkeys"), *v, *algs;
	char detail[256];
	size_t i;
	int rc = 0, a;

	st->base.refs = 1;
	st->base.destroy = jwt_state_destroy;
	st->config = json_incref(config);
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->fetch_mu, NULL);
	algs = json_object_get(config, "jwt_supported_algs");
	st->algs = json_array_size(algs) == 0 ? JOSE_ALGS_ALL : 0;
	json_array_foreach(algs, i, v)
	{
		a = jose_alg_parse(json_string_value(v));
		if (a >= 0)
			st->algs |= JOSE_ALG_BIT(a);
	}
	if (json_array_size(pems) > 0) {
		st->keys = jose_keys_new();
		json_array_foreach(pems, i, v)
		{
			rc = jose_keys_add_pem(st->keys, json_string_value(v), detail,
			                       sizeof(detail));
			if (rc != 0) {
				snprintf(why, cap, "error parsing public key: %s", detail);
				break;
			}
		}
	} else if (jwt_config_str(config, "jwks_url") != NULL) {
		st->jwks_uri = xstrdup(jwt_config_str(config, "jwks_url"));
		rc = jwt_fetch_keys(st, &st->keys, &st->keys_max_age_ms, detail, sizeof(detail));
		if (rc != 0)
			snprintf(why, cap, "error checking jwks URL %s: %s", st->jwks_uri, detail);
	} else {
		rc = jwt_discover(config, &st->jwks_uri, detail, sizeof(detail));
		if (rc == 0)
			rc = jwt_fetch_keys(st, &st->keys, &st->keys_max_age_ms, detail,
			                    sizeof(detail));
		if (rc != 0)
			snprintf(why, cap, "error checking oidc discovery URL: %s", detail);
	}
	if (rc != 0) {
		jwt_state_destroy(&st->base);
		return NULL;
	}
	st->fetched_at_ms = coffer_clock_mono_ns() / 1000000;
	return st;
}

bool jwt_keys_stale(struct jwt_state *st)
{
	int64_t now = coffer_clock_mono_ns() / 1000000;
	bool stale;

	if (st->jwks_uri == NULL)
		return false;
	pthread_mutex_lock(&st->mu);
	stale = now - st->fetched_at_ms >= st->keys_max_age_ms;
	pthread_mutex_unlock(&st->mu);
	return stale;
}

struct jose_keys *jwt_keys_current(struct jwt_state *st)
{
	struct jose_keys *ks;

	pthread_mutex_lock(&st->mu);
	ks = st->keys;
	jose_keys_ref(ks);
	pthread_mutex_unlock(&st->mu);
	return ks;
}

struct jose_keys *jwt_keys_refetch(struct jwt_state *st, const char *kid)
{
	struct jose_keys *ks = NULL, *old = NULL;
	int64_t now, age_ms = 0;
	char why[256];

	if (st->jwks_uri == NULL)
		return NULL;
	pthread_mutex_lock(&st->fetch_mu);
	/* Another login may have fetched while this one waited. */
	ks = jwt_keys_current(st);
	if (kid != NULL ? jose_keys_has_kid(ks, kid) : !jwt_keys_stale(st))
		goto out;
	jose_keys_release(ks);
	ks = NULL;
	now = coffer_clock_mono_ns() / 1000000;
	if (now - st->fetched_at_ms < JWT_REFETCH_MIN_S * 1000)
		goto out;
	if (jwt_fetch_keys(st, &ks, &age_ms, why, sizeof(why)) != 0) {
		log_warn("jwt auth: fetching %s again (%s) failed: %s", st->jwks_uri,
		         kid != NULL ? "an unknown key id" : "the keys' max age passed", why);
		ks = NULL;
	}
	pthread_mutex_lock(&st->mu);
	st->fetched_at_ms = now;
	/* After a failed fetch the held keys serve on; a fetch for their age is tried again in a
	 * minute, not at every login (each would wait on an unreachable provider). */
	if (ks == NULL && kid == NULL)
		st->keys_max_age_ms = 60 * 1000;
	if (ks != NULL) {
		st->keys_max_age_ms = age_ms;
		old = st->keys;
		st->keys = ks;
		jose_keys_ref(ks);
	}
	pthread_mutex_unlock(&st->mu);
	jose_keys_release(old);
	if (ks != NULL)
		log_info("jwt auth: fetched %s again (%s): %zu keys", st->jwks_uri,
		         kid != NULL ? "an unknown key id" : "the keys' max age passed",
		         jose_keys_count(ks));
out:
	pthread_mutex_unlock(&st->fetch_mu);
	return ks;
}

struct jwt_state *jwt_state_get(const struct engine_ctx *ctx, int *rc)
{
	struct mount_state *cached = mount_state_get(ctx->store.prefix);
	struct jwt_state *st;
	json_t *config = NULL;
	char why[512];

	if (cached != NULL) {
		*rc = 0;
		return (struct jwt_state *)cached;
	}
	*rc = auth_json_get(ctx, "config", &config);
	if (*rc != 0)
		return NULL;
	st = jwt_state_build(config, why, sizeof(why));
	json_decref(config);
	if (st == NULL) {
		log_error("jwt auth: the stored configuration cannot be used: %s", why);
		*rc = COFFER_ERR_IO;
		return NULL;
	}
	mount_state_ref(&st->base);
	mount_state_set(ctx->store.prefix, &st->base);
	return st;
}
