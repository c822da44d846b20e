/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jwt_int.h: what the jwt auth method's files share (jwt.c: config, roles and the route table;
 * jwt_login.c: login; jwt_keys.c: the key sources). Not for use outside the method.
 */
#ifndef COFFER_JWT_INT_H
#define COFFER_JWT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api/engine.h"
#include "api/mount_state.h"
#include "identity/jose.h"

/* A JWK set is fetched again for an unknown kid at most this often, so that tokens with random
 * kids cannot make Coffer hammer the identity provider. */
#define JWT_REFETCH_MIN_S 5
/* A fetched JWK set is used for its Cache-Control max-age (bounded to JWT_REFETCH_MIN_S ..
 * JWT_KEYS_MAX_AGE_MAX_S), or JWT_KEYS_MAX_AGE_S when it gives none; then the next login fetches
 * it again first, so a key the provider withdrew stops verifying tokens. */
#define JWT_KEYS_MAX_AGE_S 3600
#define JWT_KEYS_MAX_AGE_MAX_S (24 * 3600)

/* A mount's configuration and keys as logins use them (api/mount_state.h). */
struct jwt_state {
	struct mount_state base;
	json_t *config;
	unsigned algs;            /* jwt_supported_algs as JOSE_ALG_BIT()s */
	pthread_mutex_t mu;       /* keys and fetched_at */
	struct jose_keys *keys;   /* the static keys, or the last JWK set fetched */
	int64_t fetched_at_ms;    /* monotonic; 0: never fetched */
	int64_t keys_max_age_ms;  /* how long the fetched keys are used before a fetch */
	pthread_mutex_t fetch_mu; /* one fetch at a time */
	char *jwks_uri;           /* jwks_url, or the discovery document's jwks_uri */
};

/* jwt_keys.c */

/* The mount's state, built from the stored config on first use (fetching remote keys); NULL with
 * *rc COFFER_ERR_NOT_FOUND when not configured. Release with mount_state_release(). */
struct jwt_state *jwt_state_get(const struct engine_ctx *ctx, int *rc);

/* A state for config: its static keys parsed, or its remote keys fetched. NULL with a message
 * for a 400 in why when a key does not parse or the remote keys cannot be fetched. */
struct jwt_state *jwt_state_build(json_t *config, char *why, size_t cap);
/* The current keys (referenced; release with jose_keys_release). */
struct jose_keys *jwt_keys_current(struct jwt_state *st);
/* Fetch the JWK set again because a token names kid, which the current keys lack (kid NULL:
 * because the keys are older than their max age); at most once per JWT_REFETCH_MIN_S. The new
 * keys, or NULL when nothing was fetched (the old keys stay). */
struct jose_keys *jwt_keys_refetch(struct jwt_state *st, const char *kid);
/* Whether st's remote keys are older than their max age. */
bool jwt_keys_stale(struct jwt_state *st);

/* jwt_login.c */
void jwt_login(const struct engine_ctx *ctx, struct request *req, struct response *resp);

#endif
