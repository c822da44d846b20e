/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_int.h: internals shared by the token files: token_store.c (the store, its layout and
 * cache), token.c (setup, authentication, creation, renewal), token_revoke.c (revoking trees),
 * token_entry.c (entries: their stored form, copies, expiry and CIDR checks), and the engine's
 * token_routes.c and token_roles.c. Not for use outside those files.
 */
#ifndef COFFER_TOKEN_INT_H
#define COFFER_TOKEN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "identity/token.h"

/* The token store's layout, below TOKEN_STORE_PREFIX (token.h); the token engine's view starts
 * there too, so its routes name the same folders without the prefix. */
#define TOKEN_DIR_ID "id/"             /* <hash hex>: the entry */
#define TOKEN_DIR_ACCESSOR "accessor/" /* <accessor>: {"hash"} */
#define TOKEN_DIR_LEASE "lease/"       /* <lease nonce>: {"hash"} */
#define TOKEN_DIR_PARENT "parent/"     /* <parent hex>/<child hex> */
#define TOKEN_DIR_ROLES "roles/"       /* <name>: a token role (token_roles.c) */

#define TOKEN_CACHE_BUCKETS 4096 /* a power of two */
#define TOKEN_CACHE_MAX 16384    /* entries; the cache is dropped when full */
#define TOKEN_TEXT_MAX 256
#define TOKEN_TEXT_PREFIX "cof."
#define TOKEN_RANDOM_LEN 32 /* random bytes in a generated token */
#define TOKEN_PATH_CAP 192
#define TOKEN_LEASE_NONCE_CHARS 32

struct token_cache_node {
	struct token_entry *e;
	struct token_cache_node *next;
};

struct token_store {
	struct barrier *b;
	struct lease_mgr *lm;    /* NULL until set */
	token_renew_hook_fn renew_hook; /* NULL: tokens renew by their own settings */
	void *renew_arg;
	/* Serialises every change (create, revoke, renew, use counts), so that a read-modify-write
	 * of an entry never loses an update and a child is never created under a revoked parent.
	 * Lock order: mu, then the lease manager's lock, then cache_lock. */
	pthread_mutex_t mu;
	pthread_rwlock_t cache_lock;
	struct token_cache_node *buckets[TOKEN_CACHE_BUCKETS];
	size_t cache_n;
	/* Bumped by every invalidation: an entry read from storage is cached only if no
	 * invalidation happened since the read began (else it may be stale). */
	atomic_uint_fast64_t cache_gen;
};

/* token_store.c */

/* The keyed hash of a token's text (TOKEN_HASH_LABEL). */
int token_hash_text(struct token_store *ts, const char *text, uint8_t hash[COFFER_MAC_LEN]);
/* The entry whose token text is text, from the cache or storage; expired or not. */
int token_get_text(struct token_store *ts, const char *text, struct token_entry **out);
/* Put e's entry, accessor and lease rows (and its parent index row when it has a parent), and
 * delete extra_delete (may be NULL), in one batch. */
int token_persist_new(struct token_store *ts, const struct token_entry *e,
                      const char *extra_delete);
/* Rewrite an existing entry (renewal, use count, orphaning). */
int token_persist_update(struct token_store *ts, const struct token_entry *e);
/* Give e's expiry to the lease manager (none for a token that never expires). */
int token_track(struct token_store *ts, const struct token_entry *e);
/* Read the entry for hash (or its hex form) from storage, expired or not (refs = 1). */
int token_load(struct token_store *ts, const uint8_t *hash, struct token_entry **out);
int token_load_hex(struct token_store *ts, const char *hex, struct token_entry **out);
/* The entry of an accessor, from the cache or storage, expired or not. */
int token_get_accessor(struct token_store *ts, const char *accessor, struct token_entry **out);
/* The entry an index row at path ({"hash":"<hex>"}) points to, from the cache or storage. */
int token_get_indexed(struct token_store *ts, const char *path, struct token_entry **out);
/* Drop an entry from the cache (after its stored form changed or went away). */
void token_cache_invalidate(struct token_store *ts, const uint8_t *hash);
void token_cache_invalidate_hex(struct token_store *ts, const char *hex);

/* token_revoke.c */

/* The entry whose lease id is lease_id, through the lease index, expired or not. */
int token_get_lease(struct token_store *ts, const char *lease_id, struct token_entry **out);
/* Give an entry stored by an older version (no lease nonce) one, with its index row (ts->mu
 * held); *e is replaced by the updated entry. Entries that have one are left alone. */
int token_lease_migrate(struct token_store *ts, struct token_entry **e);

/* Revoke the token stored under hex (ts->mu held): its tree, or the token alone with its children
 * made orphans. COFFER_ERR_NOT_FOUND when no such token is stored. */
int token_revoke_locked(struct token_store *ts, const char *hex, bool orphan_children);

struct engine_ctx;
struct request;
struct response;

/* In a body parser of the routes: an invalid field stops it with *bad naming the field (the
 * answer is a 400 that names it). */
#define TOKEN_FIELD(call, name)                                                                    \
	do {                                                                                       \
		if ((call) == COFFER_ERR_INVALID) {                                                \
			*bad = (name);                                                             \
			return COFFER_ERR_INVALID;                                                 \
		}                                                                                  \
	} while (0)

/* token_roles.c, for token_routes.c (the engine's handlers, api/engine.h). */

/* The role name (stored JSON) from the engine's view; COFFER_ERR_NOT_FOUND for none or an
 * invalid name. */
int token_role_load(const struct engine_ctx *ctx, const char *name, json_t **out);
/* LIST of a folder of the engine's view as data{keys}; 404 {"errors":[]} when empty. */
void token_route_list(const struct engine_ctx *ctx, struct request *req, struct response *resp,
                      const char *folder);
/* LIST roles/, and GET/POST/PUT/DELETE roles/:role_name with its existence check. */
void token_roles_list_route(const struct engine_ctx *ctx, struct request *req,
                            struct response *resp);
void token_role_route(const struct engine_ctx *ctx, struct request *req, struct response *resp);
int token_role_exists(const struct engine_ctx *ctx, struct request *req);

/* token_entry.c */

bool token_is_expired(const struct token_entry *e, int64_t now);
/* Free e whatever its reference count (also a partly built entry). */
void token_entry_free(struct token_entry *e);
/* A deep copy with refs = 1, for read-modify-write (published entries are immutable). */
struct token_entry *token_entry_dup(const struct token_entry *e);
/* A new, unpersisted entry for hash with a fresh accessor, creation time now, empty meta and
 * refs = 1; policies still NULL. NULL only when the encoders refuse its fixed-size fields (a
 * broken invariant). */
struct token_entry *token_entry_new(const uint8_t *hash, int64_t now);
/* The stored form of an entry (everything but the hash, which is the key). */
json_t *token_entry_to_json(const struct token_entry *e);
/* Fill e (hash already set) from its stored form. COFFER_ERR_INTEGRITY when malformed. */
int token_entry_from_json(const json_t *o, struct token_entry *e);
/* True when e has no bound CIDRs or remote_addr is inside one of them. */
bool token_addr_allowed(const struct token_entry *e, const char *remote_addr);
/* True when cidrs is an array of CIDR strings ("10.0.0.0/8", "::1", a bare address). */
bool token_cidrs_are_valid(const json_t *cidrs);
/* True for 1..31 characters of base64url (a safe path segment). */
bool token_accessor_is_valid(const char *a);
/* Fill out with n random letters and digits (uniform) and a NUL; out_cap must exceed n. */
int token_random_alnum(char *out, size_t out_cap, size_t n);
/* True when s is exactly TOKEN_LEASE_NONCE_CHARS letters and digits. */
bool token_lease_nonce_is_valid(const char *s);

#endif
