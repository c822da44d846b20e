/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c: the token store (DESIGN.md §4): entries in the barrier under the keyed hash of the
 * text with their accessor and parent indexes, the lookup cache, root token adoption, creation,
 * authentication with use counts, and renewal. Called by core.c, token_routes.c, approle.c and
 * lease.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "codec.h"
#include "json.h"
#include "log.h"
#include "identity/lease.h"
#include "secmem.h"
#include "identity/token_int.h"

/* ---- the cache ---- */

static size_t token_cache_bucket(const uint8_t *hash)
{
	uint64_t v;

	memcpy(&v, hash, sizeof(v)); /* a MAC: uniformly distributed */
	return (size_t)(v & (TOKEN_CACHE_BUCKETS - 1));
}

/* Token hashes are compared in constant time: they stand for the token (DESIGN.md §10.5). */
static bool token_hash_eq(const uint8_t *a, const uint8_t *b)
{
	return sodium_memcmp(a, b, COFFER_MAC_LEN) == 0;
}

static struct token_entry *token_cache_get(struct token_store *ts, const uint8_t *hash)
{
	struct token_cache_node *n;
	struct token_entry *e = NULL;

	pthread_rwlock_rdlock(&ts->cache_lock);
	for (n = ts->buckets[token_cache_bucket(hash)]; n != NULL; n = n->next) {
		if (token_hash_eq(n->e->hash, hash)) {
			e = n->e;
			token_entry_ref(e);
			break;
		}
	}
	pthread_rwlock_unlock(&ts->cache_lock);
	return e;
}

/* Drop every cached entry; the caller holds cache_lock exclusively. */
static void token_cache_clear_locked(struct token_store *ts)
{
	for (size_t i = 0; i < TOKEN_CACHE_BUCKETS; i++) {
		while (ts->buckets[i] != NULL) {
			struct token_cache_node *n = ts->buckets[i];

			ts->buckets[i] = n->next;
			token_entry_release(n->e);
			free(n);
		}
	}
	ts->cache_n = 0;
}

/* Cache e (read from storage when the generation was gen) unless an invalidation intervened. */
static void token_cache_put(struct token_store *ts, struct token_entry *e, uint_fast64_t gen)
{
	struct token_cache_node *n = malloc(sizeof(*n));
	size_t i = token_cache_bucket(e->hash);

	if (n == NULL)
		return;
	pthread_rwlock_wrlock(&ts->cache_lock);
	for (struct token_cache_node *m = ts->buckets[i]; m != NULL; m = m->next) {
		if (token_hash_eq(m->e->hash, e->hash))
			gen = ~gen; /* already cached by another thread */
	}
	if (gen != atomic_load(&ts->cache_gen)) {
		pthread_rwlock_unlock(&ts->cache_lock);
		free(n);
		return;
	}
	if (ts->cache_n >= TOKEN_CACHE_MAX)
		token_cache_clear_locked(ts);
	token_entry_ref(e);
	n->e = e;
	n->next = ts->buckets[i];
	ts->buckets[i] = n;
	ts->cache_n++;
	pthread_rwlock_unlock(&ts->cache_lock);
}

void token_cache_invalidate(struct token_store *ts, const uint8_t *hash)
{
	struct token_cache_node **pp;

	pthread_rwlock_wrlock(&ts->cache_lock);
	atomic_fetch_add(&ts->cache_gen, 1);
	for (pp = &ts->buckets[token_cache_bucket(hash)]; *pp != NULL; pp = &(*pp)->next) {
		struct token_cache_node *n = *pp;

		if (token_hash_eq(n->e->hash, hash)) {
			*pp = n->next;
			token_entry_release(n->e);
			free(n);
			ts->cache_n--;
			break;
		}
	}
	pthread_rwlock_unlock(&ts->cache_lock);
}

void token_cache_invalidate_hex(struct token_store *ts, const char *hex)
{
	uint8_t hash[COFFER_MAC_LEN];
	size_t len = 0;

	if (codec_hex_decode(hash, sizeof(hash), &len, hex, strlen(hex)) == 0 &&
	    len == sizeof(hash))
		token_cache_invalidate(ts, hash);
}

void token_store_flush(struct token_store *ts)
{
	pthread_rwlock_wrlock(&ts->cache_lock);
	atomic_fetch_add(&ts->cache_gen, 1);
	token_cache_clear_locked(ts);
	pthread_rwlock_unlock(&ts->cache_lock);
}

/* ---- storage ---- */

/* Read the entry for hash from storage (refs = 1), whether or not it has expired. */
int token_load(struct token_store *ts, const uint8_t *hash, struct token_entry **out)
{
	char path[TOKEN_PATH_CAP];
	struct token_entry *e;
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *o = NULL;
	int err;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return COFFER_ERR_NOMEM;
	e->refs = 1;
	memcpy(e->hash, hash, COFFER_MAC_LEN);
	err = codec_hex_encode(e->hash_hex, sizeof(e->hash_hex), hash, COFFER_MAC_LEN);
	if (err != 0)
		goto out;
	snprintf(path, sizeof(path), "token/id/%s", e->hash_hex);
	err = barrier_get(ts->b, path, &buf, &len);
	if (err != 0)
		goto out;
	if (coffer_json_parse_object((const char *)buf, len, &o, NULL, 0) != 0) {
		err = COFFER_ERR_INTEGRITY;
		goto out;
	}
	err = token_entry_from_json(o, e);
	if (err == 0) {
		*out = e;
		e = NULL;
	}
out:
	json_decref(o);
	if (buf != NULL)
		secmem_freezero(buf, len);
	if (e != NULL)
		token_entry_free(e);
	return err;
}

int token_load_hex(struct token_store *ts, const char *hex, struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	size_t len = 0;

	*out = NULL;
	if (codec_hex_decode(hash, sizeof(hash), &len, hex, strlen(hex)) != 0 ||
	    len != sizeof(hash))
		return COFFER_ERR_INTEGRITY;
	return token_load(ts, hash, out);
}

/* The entry for hash, from the cache or storage (then cached); expired or not. */
static int token_get(struct token_store *ts, const uint8_t *hash, struct token_entry **out)
{
	uint_fast64_t gen;
	int err;

	*out = token_cache_get(ts, hash);
	if (*out != NULL)
		return 0;
	gen = atomic_load(&ts->cache_gen);
	err = token_load(ts, hash, out);
	if (err == 0)
		token_cache_put(ts, *out, gen);
	return err;
}

static int token_hash_text(struct token_store *ts, const char *text, uint8_t hash[COFFER_MAC_LEN])
{
	size_t len = text != NULL ? strnlen(text, TOKEN_TEXT_MAX + 1) : 0;

	if (len == 0 || len > TOKEN_TEXT_MAX)
		return COFFER_ERR_NOT_FOUND;
	return barrier_hash(ts->b, TOKEN_HASH_LABEL, text, len, hash);
}

/* The entry whose token text is text, from the cache or storage; expired or not. */
static int token_get_text(struct token_store *ts, const char *text, struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	int err;

	err = token_hash_text(ts, text, hash);
	if (err == 0)
		err = token_get(ts, hash, out);
	secmem_wipe(hash, sizeof(hash));
	return err;
}

/* Put e's entry, accessor and lease rows (and its parent index row when it has a parent), and
 * delete extra_delete (may be NULL), in one batch. */
static int token_persist_new(struct token_store *ts, const struct token_entry *e,
                             const char *extra_delete)
{
	char id_path[TOKEN_PATH_CAP], acc_path[TOKEN_PATH_CAP], parent_path[TOKEN_PATH_CAP];
	char lease_path[TOKEN_PATH_CAP], acc_json[2 * COFFER_MAC_LEN + 16];
	struct barrier_op ops[5];
	json_t *o = token_entry_to_json(e);
	char *text = o != NULL ? coffer_json_dump(o) : NULL;
	size_t n = 0;
	int err;

	json_decref(o);
	if (text == NULL)
		return COFFER_ERR_NOMEM;
	snprintf(id_path, sizeof(id_path), "token/id/%s", e->hash_hex);
	snprintf(acc_path, sizeof(acc_path), "token/accessor/%s", e->accessor);
	snprintf(acc_json, sizeof(acc_json), "{\"hash\":\"%s\"}", e->hash_hex);
	ops[n++] = (struct barrier_op){BARRIER_PUT, id_path, (const uint8_t *)text, strlen(text)};
	ops[n++] =
	    (struct barrier_op){BARRIER_PUT, acc_path, (const uint8_t *)acc_json, strlen(acc_json)};
	snprintf(lease_path, sizeof(lease_path), "token/lease/%s", e->lease_nonce);
	ops[n++] = (struct barrier_op){BARRIER_PUT, lease_path, (const uint8_t *)acc_json,
	                               strlen(acc_json)};
	if (e->parent_hex[0] != '\0') {
		snprintf(parent_path, sizeof(parent_path), "token/parent/%s/%s", e->parent_hex,
		         e->hash_hex);
		ops[n++] = (struct barrier_op){BARRIER_PUT, parent_path, (const uint8_t *)"{}", 2};
	}
	if (extra_delete != NULL)
		ops[n++] = (struct barrier_op){BARRIER_DELETE, extra_delete, NULL, 0};
	err = barrier_batch(ts->b, ops, n);
	coffer_json_free_text(text);
	return err;
}

/* Rewrite an existing entry (renewal, use count, orphaning). */
static int token_persist_update(struct token_store *ts, const struct token_entry *e)
{
	char path[TOKEN_PATH_CAP];
	json_t *o = token_entry_to_json(e);
	char *text = o != NULL ? coffer_json_dump(o) : NULL;
	int err;

	json_decref(o);
	if (text == NULL)
		return COFFER_ERR_NOMEM;
	snprintf(path, sizeof(path), "token/id/%s", e->hash_hex);
	err = barrier_put(ts->b, path, (const uint8_t *)text, strlen(text));
	coffer_json_free_text(text);
	return err;
}

static int token_track(struct token_store *ts, const struct token_entry *e)
{
	char lease_id[TOKEN_PATH_CAP];

	if (ts->lm == NULL || e->expire_time == 0)
		return 0;
	token_lease_id(e, lease_id, sizeof(lease_id));
	return lease_mgr_track(ts->lm, lease_id, e->expire_time);
}

/* ---- the store ---- */

int token_store_new(struct barrier *b, struct policy_store *ps, struct token_store **out)
{
	struct token_store *ts;

	*out = NULL;
	ts = calloc(1, sizeof(*ts));
	if (ts == NULL)
		return COFFER_ERR_NOMEM;
	ts->b = b;
	ts->ps = ps;
	pthread_mutex_init(&ts->mu, NULL);
	pthread_rwlock_init(&ts->cache_lock, NULL);
	atomic_init(&ts->cache_gen, 0);
	*out = ts;
	return 0;
}

void token_store_free(struct token_store *ts)
{
	if (ts == NULL)
		return;
	token_store_flush(ts);
	pthread_rwlock_destroy(&ts->cache_lock);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}

void token_store_set_leases(struct token_store *ts, struct lease_mgr *lm)
{
	ts->lm = lm;
}

int token_store_stage_root(struct token_store *ts, const char *text)
{
	uint8_t hash[COFFER_MAC_LEN];
	int err;

	err = barrier_hash(ts->b, TOKEN_HASH_LABEL, text, strlen(text), hash);
	if (err == 0)
		err = barrier_put(ts->b, TOKEN_PENDING_ROOT_PATH, hash, sizeof(hash));
	secmem_wipe(hash, sizeof(hash));
	return err;
}

static int token_adopt_root(struct token_store *ts)
{
	struct token_entry *e = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	err = barrier_get(ts->b, TOKEN_PENDING_ROOT_PATH, &buf, &len);
	if (err == COFFER_ERR_NOT_FOUND)
		return 0;
	if (err != 0)
		return err;
	err = COFFER_ERR_INTEGRITY;
	if (len != COFFER_MAC_LEN)
		goto out;
	err = COFFER_ERR_NOMEM;
	e = token_entry_new(buf, token_now());
	if (e == NULL)
		goto out;
	e->policies = json_pack("[s]", "root");
	e->display_name = strdup("root");
	e->path = strdup("auth/token/root");
	if (e->policies == NULL || e->display_name == NULL || e->path == NULL)
		goto out;
	e->is_root = true;
	e->is_orphan = true;
	err = token_persist_new(ts, e, TOKEN_PENDING_ROOT_PATH);
	if (err == 0)
		log_info("adopted the initial root token (accessor %s)", e->accessor);
out:
	token_entry_release(e);
	secmem_freezero(buf, len);
	return err;
}

/* Give every stored token with an expiry to the lease manager (and a lease nonce to those stored
 * before lease ids had one). */
static int token_schedule_all(struct token_store *ts)
{
	char **keys = NULL;
	size_t n = 0;
	int err;

	err = barrier_list(ts->b, "token/id/", &keys, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		struct token_entry *e = NULL;
		int lerr = token_load_hex(ts, keys[i], &e);

		if (lerr != 0) {
			log_warn("token store: cannot load entry %.12s: %s", keys[i],
			         coffer_strerror(lerr));
			continue;
		}
		err = token_lease_migrate(ts, &e);
		if (err == 0)
			err = token_track(ts, e);
		token_entry_release(e);
	}
	barrier_list_free(keys, n);
	return err;
}

int token_store_setup(struct token_store *ts)
{
	int err;

	token_store_flush(ts);
	pthread_mutex_lock(&ts->mu);
	err = token_adopt_root(ts);
	if (err == 0)
		err = token_schedule_all(ts);
	pthread_mutex_unlock(&ts->mu);
	return err;
}

/* ---- the request path ---- */

/* Count one use of e (ts->mu held): *out is the entry with the use counted, and the token is
 * revoked when that was its last use. */
static int token_count_use(struct token_store *ts, const struct token_entry *e,
                           struct token_entry **out)
{
	struct token_entry *cur = NULL, *next = NULL;
	int err;

	*out = NULL;
	/* The cache may lag behind another thread's count: storage is the authority. */
	err = token_load(ts, e->hash, &cur);
	if (err != 0)
		return err == COFFER_ERR_NOT_FOUND ? COFFER_ERR_PERMISSION : err;
	err = COFFER_ERR_PERMISSION;
	if (token_is_expired(cur, token_now()) || cur->num_uses <= 0)
		goto out;
	err = COFFER_ERR_NOMEM;
	next = token_entry_dup(cur);
	if (next == NULL)
		goto out;
	next->num_uses--;
	if (next->num_uses == 0)
		err = token_revoke_locked(ts, cur->hash_hex, false);
	else if ((err = token_persist_update(ts, next)) == 0)
		token_cache_invalidate(ts, next->hash);
	if (err == 0) {
		*out = next;
		next = NULL;
	}
out:
	token_entry_release(next);
	token_entry_release(cur);
	return err;
}

int token_authenticate(struct token_store *ts, const char *token, const char *remote_addr,
                       struct token_entry **out)
{
	struct token_entry *e = NULL;
	int err;

	*out = NULL;
	err = token_get_text(ts, token, &e);
	if (err == COFFER_ERR_NOT_FOUND || err == COFFER_ERR_INVALID)
		err = COFFER_ERR_PERMISSION;
	if (err != 0)
		goto out;
	if (token_is_expired(e, token_now()) || !token_addr_allowed(e, remote_addr)) {
		err = COFFER_ERR_PERMISSION;
		goto out;
	}
	if (e->num_uses > 0) {
		struct token_entry *counted = NULL;

		pthread_mutex_lock(&ts->mu);
		err = token_count_use(ts, e, &counted);
		pthread_mutex_unlock(&ts->mu);
		token_entry_release(e);
		e = counted;
		if (err != 0)
			goto out;
	}
	*out = e;
	e = NULL;
out:
	token_entry_release(e);
	return err;
}

int token_lookup(struct token_store *ts, const char *token, struct token_entry **out)
{
	struct token_entry *e = NULL;
	int err;

	*out = NULL;
	err = token_get_text(ts, token, &e);
	if (err != 0)
		return err;
	if (token_is_expired(e, token_now())) {
		token_entry_release(e);
		return COFFER_ERR_NOT_FOUND;
	}
	*out = e;
	return 0;
}

int token_get_accessor(struct token_store *ts, const char *accessor, struct token_entry **out)
{
	char path[TOKEN_PATH_CAP];

	*out = NULL;
	if (!token_accessor_is_valid(accessor))
		return COFFER_ERR_NOT_FOUND;
	snprintf(path, sizeof(path), "token/accessor/%s", accessor);
	return token_get_indexed(ts, path, out);
}

int token_get_indexed(struct token_store *ts, const char *path, struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	uint8_t *buf = NULL;
	size_t len = 0, hlen = 0;
	json_t *o = NULL;
	const char *hex = NULL;
	int err;

	*out = NULL;
	err = barrier_get(ts->b, path, &buf, &len);
	if (err != 0)
		return err;
	err = COFFER_ERR_INTEGRITY;
	if (coffer_json_parse_object((const char *)buf, len, &o, NULL, 0) == 0 &&
	    coffer_json_get_string(o, "hash", &hex) == 0 &&
	    codec_hex_decode(hash, sizeof(hash), &hlen, hex, strlen(hex)) == 0 &&
	    hlen == sizeof(hash))
		err = token_get(ts, hash, out);
	json_decref(o);
	secmem_freezero(buf, len);
	return err;
}

int token_lookup_accessor(struct token_store *ts, const char *accessor, struct token_entry **out)
{
	int err = token_get_accessor(ts, accessor, out);

	if (err == 0 && token_is_expired(*out, token_now())) {
		token_entry_release(*out);
		*out = NULL;
		err = COFFER_ERR_NOT_FOUND;
	}
	return err;
}

/* ---- create ---- */

/* Insert name into the sorted array arr unless present. */
static int token_policies_add(json_t *arr, const char *name)
{
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		int c = strcmp(json_string_value(json_array_get(arr, i)), name);

		if (c == 0)
			return 0;
		if (c > 0)
			break;
	}
	return json_array_insert_new(arr, i, json_string(name)) == 0 ? 0 : COFFER_ERR_NOMEM;
}

static bool token_policies_has(const json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

/* The sorted, unique policies of a new token: p->policies, plus "default" unless asked not to
 * or the token has "root". */
static int token_policies_build(const struct token_params *p, json_t **out)
{
	json_t *arr = json_array(), *v;
	int err = arr != NULL ? 0 : COFFER_ERR_NOMEM;
	size_t i;

	if (p->policies != NULL && !json_is_array(p->policies))
		err = COFFER_ERR_INVALID;
	json_array_foreach(p->policies, i, v)
	{
		if (err != 0)
			break;
		if (!json_is_string(v) || json_string_length(v) == 0)
			err = COFFER_ERR_INVALID;
		else
			err = token_policies_add(arr, json_string_value(v));
	}
	if (err == 0 && !p->no_default_policy && !token_policies_has(arr, "root"))
		err = token_policies_add(arr, "default");
	if (err != 0) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return 0;
}

/* Everything of a new entry that comes from p (the parent is set under the store's lock). */
static int token_fill(struct token_entry *e, const struct token_params *p)
{
	int64_t ttl;
	int err;

	if (p->ttl_s < 0 || p->max_ttl_s < 0 || p->explicit_max_ttl_s < 0 || p->period_s < 0 ||
	    p->num_uses < 0)
		return COFFER_ERR_INVALID;
	if ((err = token_policies_build(p, &e->policies)) != 0)
		return err;
	e->is_root = token_policies_has(e->policies, "root");
	if (p->meta != NULL) {
		if (!coffer_json_is_string_map(p->meta))
			return COFFER_ERR_INVALID;
		json_decref(e->meta);
		if ((e->meta = json_deep_copy(p->meta)) == NULL)
			return COFFER_ERR_NOMEM;
	}
	if (p->bound_cidrs != NULL) {
		if (!token_cidrs_are_valid(p->bound_cidrs))
			return COFFER_ERR_INVALID;
		if ((e->bound_cidrs = json_deep_copy(p->bound_cidrs)) == NULL)
			return COFFER_ERR_NOMEM;
	}
	e->display_name = strdup(p->display_name != NULL ? p->display_name : "token");
	e->path = strdup(p->path != NULL ? p->path : "auth/token/create");
	e->role = p->role != NULL ? strdup(p->role) : NULL;
	if (e->display_name == NULL || e->path == NULL || (p->role != NULL && e->role == NULL))
		return COFFER_ERR_NOMEM;
	ttl = token_compute_ttl(p->ttl_s, p->max_ttl_s, p->explicit_max_ttl_s, p->period_s,
	                        e->is_root);
	e->creation_ttl_s = ttl;
	e->ttl_s = ttl;
	token_set_expiry(e, token_now_ms(), ttl);
	e->explicit_max_ttl_s = p->explicit_max_ttl_s;
	e->period_s = p->period_s;
	e->num_uses = p->num_uses;
	e->max_ttl_s = p->max_ttl_s;
	e->is_renewable = p->is_renewable;
	return 0;
}

/* The text of a new token: p->id (1..256 printable characters) or a random one, in secmem. */
static int token_new_text(const struct token_params *p, char **out)
{
	size_t len;

	*out = NULL;
	if (p->id == NULL) {
		*out = token_text_generate();
		return *out != NULL ? 0 : COFFER_ERR_NOMEM;
	}
	len = strnlen(p->id, TOKEN_TEXT_MAX + 1);
	if (len == 0 || len > TOKEN_TEXT_MAX)
		return COFFER_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)p->id[i] <= ' ' || p->id[i] == 0x7f)
			return COFFER_ERR_INVALID;
	}
	*out = secmem_strdup(p->id);
	return *out != NULL ? 0 : COFFER_ERR_NOMEM;
}

/* Link e to p->parent and persist it (ts->mu held). A parent revoked since the caller
 * authenticated is refused; a text already in use is COFFER_ERR_EXISTS. */
static int token_create_locked(struct token_store *ts, const struct token_params *p,
                               struct token_entry *e)
{
	struct token_entry *other = NULL;
	int err;

	err = token_load(ts, e->hash, &other);
	token_entry_release(other);
	if (err == 0)
		return COFFER_ERR_EXISTS;
	if (err != COFFER_ERR_NOT_FOUND)
		return err;
	e->is_orphan = true;
	if (p->parent != NULL) {
		err = token_load(ts, p->parent->hash, &other);
		if (err == 0 && token_is_expired(other, token_now()))
			err = COFFER_ERR_NOT_FOUND;
		token_entry_release(other);
		if (err != 0)
			return err == COFFER_ERR_NOT_FOUND ? COFFER_ERR_PERMISSION : err;
		snprintf(e->parent_hex, sizeof(e->parent_hex), "%s", p->parent->hash_hex);
		e->is_orphan = false;
	}
	err = token_persist_new(ts, e, NULL);
	if (err == 0)
		err = token_track(ts, e);
	return err;
}

int token_create(struct token_store *ts, const struct token_params *p, char **token_text,
                 struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	struct token_entry *e = NULL;
	char *text = NULL;
	int err;

	*token_text = NULL;
	*out = NULL;
	if ((err = token_new_text(p, &text)) != 0)
		goto out;
	if ((err = token_hash_text(ts, text, hash)) != 0)
		goto out;
	err = COFFER_ERR_NOMEM;
	if ((e = token_entry_new(hash, token_now())) == NULL)
		goto out;
	if ((err = token_fill(e, p)) != 0)
		goto out;
	pthread_mutex_lock(&ts->mu);
	err = token_create_locked(ts, p, e);
	pthread_mutex_unlock(&ts->mu);
	if (err != 0)
		goto out;
	*token_text = text;
	text = NULL;
	*out = e;
	e = NULL;
out:
	secmem_wipe(hash, sizeof(hash));
	secmem_free(text);
	token_entry_release(e);
	return err;
}

/* ---- renew ---- */

int token_renew(struct token_store *ts, const struct token_entry *e, int64_t increment_s,
                struct token_entry **out)
{
	struct token_entry *cur = NULL, *next = NULL;
	int64_t now = token_now(), base;
	int err;

	*out = NULL;
	if (increment_s < 0)
		return COFFER_ERR_INVALID;
	pthread_mutex_lock(&ts->mu);
	if ((err = token_load(ts, e->hash, &cur)) != 0)
		goto out;
	err = COFFER_ERR_NOT_FOUND;
	if (token_is_expired(cur, now))
		goto out;
	err = COFFER_ERR_INVALID;
	if (!cur->is_renewable)
		goto out;
	err = COFFER_ERR_NOMEM;
	if ((next = token_entry_dup(cur)) == NULL)
		goto out;
	base = token_now_ms();
	/* The renewal is computed in whole seconds from now and kept exact from base. */
	next->ttl_s = token_compute_renewal(cur, increment_s, base / 1000);
	if (next->ttl_s != 0)
		next->ttl_s = next->ttl_s > base / 1000 ? next->ttl_s - base / 1000 : 0;
	token_set_expiry(next, base, next->ttl_s);
	next->last_renewal_time = now;
	if ((err = token_persist_update(ts, next)) != 0)
		goto out;
	token_cache_invalidate(ts, next->hash);
	err = token_track(ts, next);
	*out = next;
	next = NULL;
out:
	pthread_mutex_unlock(&ts->mu);
	token_entry_release(next);
	token_entry_release(cur);
	return err;
}
