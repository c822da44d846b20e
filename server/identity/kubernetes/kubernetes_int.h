/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kubernetes_int.h: what the kubernetes auth method's files share (kubernetes.c: config, roles
 * and the route table; kubernetes_login.c: login; kubernetes_review.c: the TokenReview call and
 * the pod's own service-account files). Not for use outside the method.
 */
#ifndef COFFER_KUBERNETES_INT_H
#define COFFER_KUBERNETES_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api/engine.h"
#include "api/mount_state.h"
#include "identity/jose.h"

/* The issuer of legacy (Secret-based) service-account tokens, Vault's default. */
#define K8S_LEGACY_ISSUER "kubernetes/serviceaccount"
/* Clock skew allowed on exp, nbf and iat. */
#define K8S_CLOCK_SKEW_S 60
/* Coffer's default bound on exp - iat when tokens are not reviewed. */
#define K8S_DEFAULT_MAX_LIFETIME_S (24 * 3600)

/* A mount's configuration as logins use it (kept per mount, api/mount_state.h). */
struct k8s_state {
	struct mount_state base;
	json_t *config;         /* the stored record */
	struct jose_keys *keys; /* pem_keys; NULL when none */
};

/* kubernetes_state.c */

/* A state that owns config (a stored record), its pem_keys parsed (an error is logged). */
struct k8s_state *k8s_state_new(json_t *config);
/* The keys of a config's pem_keys: *out NULL when it has none; COFFER_ERR_INVALID with the reason
 * in why when one does not parse. */
int k8s_keys_of(const json_t *config, struct jose_keys **out, char *why, size_t cap);
/* The mount's state, loaded from the store on first use; NULL with *rc COFFER_ERR_NOT_FOUND
 * when the method is not configured. Release with mount_state_release(&st->base). */
struct k8s_state *k8s_state_get(const struct engine_ctx *ctx, int *rc);

/* What a service-account token says about its pod. */
struct k8s_identity {
	const char *namespace;
	const char *name;
	const char *uid;
	const char *secret_name; /* legacy Secret-based tokens only; "" otherwise */
};

/* The identity in claims: the projected layout (kubernetes.io.{namespace,serviceaccount}), else
 * the legacy keys. false when the namespace or the name is missing. */
bool k8s_identity_of(const json_t *claims, struct k8s_identity *id);

/* A refused login: the check that failed and the detail, for the 403 body and the log. */
struct k8s_refusal {
	const char *check;
	char detail[256];
	int err; /* COFFER_ERR_PERMISSION (403), or COFFER_ERR_LIMIT (429: try again) */
};

/* Fill why (check and formatted detail); returns COFFER_ERR_PERMISSION. */
int k8s_refuse(struct k8s_refusal *why, const char *check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * TokenReview of jwt (kubernetes_review.c) for audiences (NULL: none requested): 0 when the API
 * server authenticates it as id, else a refusal ("review refused" or "API server unreachable").
 */
int k8s_review(const struct engine_ctx *ctx, const json_t *config, const char *jwt,
               const json_t *audiences, const struct k8s_identity *id, struct k8s_refusal *why);

/* login (kubernetes_login.c) */
void k8s_login(const struct engine_ctx *ctx, struct request *req, struct response *resp);

#endif
