/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h: the token store (DESIGN.md §4). A token's text ("cof." + base64url of 32 random bytes)
 * is never stored: entries live in the barrier under the keyed hash of the text
 * ("token/id/<hex>"), with an accessor index ("token/accessor/<accessor>"), a lease index
 * ("token/lease/<lease nonce>") and a parent/child index ("token/parent/<parent hex>/<child hex>").
 * An in-memory cache serves lookups and is invalidated on revoke, renew and use counts. Every token
 * with a TTL is a lease (lease.c). Also the auth/token/ engine (its routes).
 */
#ifndef COFFER_TOKEN_H
#define COFFER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/barrier.h"
#include "crypto.h"
#include "duration.h"
#include "err.h"

/* Where the token store keeps its records (also the token engine's view: its roles). */
#define TOKEN_STORE_PREFIX "token/"
/* The label of the keyed hash of a token's text (barrier_hash). */
#define TOKEN_HASH_LABEL "token"
/* Where token_store_stage_root() leaves the initial root token's hash at init, until
 * token_store_setup() adopts it as the root token entry. */
#define TOKEN_PENDING_ROOT_PATH "core/root-token"
/* System default and maximum TTL (Vault's 768h). */
#define TOKEN_SYSTEM_MAX_TTL_S (768 * 3600)

struct lease_mgr;
struct engine;

struct token_entry {
	uint8_t hash[COFFER_MAC_LEN];
	char hash_hex[2 * COFFER_MAC_LEN + 1];
	char accessor[32]; /* 24 letters and digits */
	/* The last segment of the lease id: 32 random letters and digits, unrelated to the accessor
	 * (which is public), so a lease id cannot be derived from it. "" only in an entry stored by
	 * an older version, until token_store_setup() gives it one. */
	char lease_nonce[40];
	char parent_hex[2 * COFFER_MAC_LEN + 1]; /* "" for orphans */
	json_t *policies;                        /* sorted array of unique names; never NULL */
	json_t *meta;                            /* object of strings; never NULL */
	json_t *bound_cidrs;                     /* array of CIDR strings, or NULL */
	char *display_name;                      /* "token", "approle", "root" ... */
	char *path;             /* "auth/token/create", "auth/token/root", "auth/approle/login" */
	char *role;             /* token role, or NULL */
	int64_t creation_time;  /* Unix seconds */
	int64_t creation_ttl_s; /* TTL at creation (0 = none) */
	int64_t ttl_s;          /* TTL of the current lease period */
	int64_t explicit_max_ttl_s;
	int64_t period_s;
	int64_t expire_time;       /* Unix seconds, rounded up; 0 = never */
	int64_t expire_ms;         /* the exact expiry in Unix milliseconds; 0 = never */
	int64_t last_renewal_time; /* 0 = never renewed */
	int64_t num_uses;          /* uses left; 0 = unlimited */
	int64_t max_ttl_s; /* the creating mount's max TTL (0 = system max); clips renewals */
	bool is_renewable;
	bool is_orphan;
	bool is_root; /* has the root policy */
	int refs;     /* atomic; the store's cache holds one */
};

/* Parameters of a new token. The caller (a route) has checked who may ask for what. */
struct token_params {
	const char *id;            /* custom text, or NULL for a random one */
	const json_t *policies;    /* array of names (may be NULL) */
	const json_t *meta;        /* object or NULL */
	const json_t *bound_cidrs; /* array or NULL */
	const char *display_name;  /* NULL = "token" */
	const char *path;          /* creating path, e.g. "auth/token/create" */
	const char *role;          /* NULL */
	int64_t ttl_s;             /* 0 = default (mount default, else system) */
	int64_t max_ttl_s;         /* the mount's max, 0 = system max */
	int64_t explicit_max_ttl_s;
	int64_t period_s;
	int64_t num_uses;
	bool is_renewable;
	bool no_default_policy;           /* else "default" is added (not to root tokens) */
	const struct token_entry *parent; /* NULL = orphan */
};

struct token_store;

/* What an auth method says of a renewal of a token its login created (struct engine's renew):
 * its role's settings as they are now. 0 = the mount's default TTL, the mount's max TTL, no
 * period; the token store's hook resolves the mount's values, after which 0 is the system's. */
struct token_renew_limits {
	int64_t ttl_s;
	int64_t max_ttl_s;
	int64_t period_s;
};

/* Consulted by token_renew() with the token's entry before it renews: 0 and *lim for a token whose
 * auth method gave limits; COFFER_ERR_NOT_FOUND when none applies (auth/token/create, an engine
 * without a renew hook): the token's own settings; COFFER_ERR_INVALID with the message of a 400
 * in msg (cap bytes) to refuse; another error for a failure. */
typedef int (*token_renew_hook_fn)(void *arg, const struct token_entry *e,
                                   struct token_renew_limits *lim, char *msg, size_t cap);

/* The text of a new token: "cof." + base64url of 32 random bytes, in secmem (secmem_free());
 * NULL only when the encoder refuses (a broken invariant). */
char *token_text_generate(void);

struct token_store *token_store_new(struct barrier *b);
void token_store_free(struct token_store *ts);
/* Give the store its lease manager (after both exist). */
void token_store_set_leases(struct token_store *ts, struct lease_mgr *lm);
/* Set the hook token_renew() consults (core: engines/mount_renew.c over the auth mounts); NULL:
 * every token renews by its own settings. Set before the store serves requests. */
void token_store_set_renew_hook(struct token_store *ts, token_renew_hook_fn fn, void *arg);
/* At init, with the new barrier open: keep the keyed hash of text (never the text) as the initial
 * root token, adopted at the first unseal. */
int token_store_stage_root(struct token_store *ts, const char *text);
/* At unseal: adopt the initial root token staged at init, and schedule every token with an
 * expiry in the lease manager (those already expired are revoked by it right away). */
int token_store_setup(struct token_store *ts);
/* At seal: drop the cache. */
void token_store_flush(struct token_store *ts);

/*
 * The request path: find the entry for token text, refuse it when expired (at once, whether or
 * not the revoker has run) or when remote_addr is outside its bound CIDRs, and count one use
 * (revoking the token after its last). COFFER_ERR_PERMISSION for any refusal.
 */
int token_authenticate(struct token_store *ts, const char *token, const char *remote_addr,
                       struct token_entry **out) COFFER_WUR;
/* Lookups without counting a use. COFFER_ERR_NOT_FOUND (or expired). */
int token_lookup(struct token_store *ts, const char *token, struct token_entry **out);
int token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **out);
/* The token whose lease id is lease_id, through the lease index (no scan). COFFER_ERR_NOT_FOUND
 * when there is none (or it expired). */
int token_lookup_lease(struct token_store *ts, const char *lease_id, struct token_entry **out);
void token_entry_ref(struct token_entry *e);
void token_entry_release(struct token_entry *e);

/* Create and persist a token; *token_text (secmem, free with secmem_free) is its text. */
int token_create(struct token_store *ts, const struct token_params *p, char **token_text,
                 struct token_entry **out);
/* Revoke a token; its children too unless orphan_children, in which case they become orphans. */
int token_revoke(struct token_store *ts, const struct token_entry *e, bool orphan_children);
/* Revoke the token whose lease is due (lease manager callback); lease_id is the token's lease id.
 */
int token_revoke_lease(struct token_store *ts, const char *lease_id);
/* token_revoke_lease() as a lease_revoke_fn (arg is the token store), so that no function pointer
 * is cast: lm = lease_mgr_new(token_lease_revoker, ts). */
int token_lease_revoker(void *ts, const char *lease_id);
/* Renew: the new TTL is increment_s (0 = the token's TTL or period), clipped at the explicit max
 * TTL and the max TTL counted from creation. The renew hook is asked first: its limits replace
 * the token's TTL, max TTL and period (kept in the renewed entry). COFFER_ERR_INVALID when not
 * renewable, or refused by the hook: then msg (cap bytes) holds the hook's message, else "".
 * Nothing changes on a refusal. *out is the renewed entry. */
int token_renew(struct token_store *ts, const struct token_entry *e, int64_t increment_s,
                struct token_entry **out, char *msg, size_t cap);

/* Set e's expiry to ttl_s seconds after now_ms (0: never). */
void token_set_expiry(struct token_entry *e, int64_t now_ms, int64_t ttl_s);
/* TTL arithmetic (pure). The TTL of a new token: period when set, else ttl_s (0 = the default,
 * which is the max), capped by max_ttl_s (0 = system max); then capped by explicit_max_ttl_s.
 * 0 = never expires, only for a root-policy token with no ttl, period or explicit max. */
int64_t token_compute_ttl(int64_t ttl_s, int64_t max_ttl_s, int64_t explicit_max_ttl_s,
                          int64_t period_s, bool is_root);
/* The expire time after a renewal at now: now + period (periodic), else now + increment_s
 * (0 = the token's TTL); clipped at creation + min(explicit max, max) (periodic tokens: at the
 * explicit max only). 0 when the token never expires. */
int64_t token_compute_renewal(const struct token_entry *e, int64_t increment_s, int64_t now);
/* RFC 3339 in UTC with nanoseconds, as Vault prints times. */
void token_format_time(int64_t t, char out[COFFER_TIME_LEN]);

/* A token's lease id: "<path>/<lease nonce>" (e.g. "auth/token/create/Xy3..."); "" when the entry
 * has no lease nonce. */
void token_lease_id(const struct token_entry *e, char *out, size_t out_len);
/* True when lease_id is e's lease id; the nonce is compared in constant time. */
bool token_owns_lease(const struct token_entry *e, const char *lease_id);
/* The "auth" block of a login or create response (API.md); token_text may be NULL. */
json_t *token_auth_json(const struct token_entry *e, const char *token_text);
/* The data of a lookup (API.md): "id" is id_text, or "" when NULL. */
json_t *token_lookup_json(const struct token_entry *e, const char *id_text);
/* Seconds left (0 when it never expires). */
int64_t token_ttl_left(const struct token_entry *e, int64_t now);

#endif
