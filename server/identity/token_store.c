/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token_store.c: where tokens live (DESIGN.md §4): entries in the barrier under the keyed hash of
 * their text, with accessor, lease and parent indexes, and the lookup cache in front of them.
 * token.c (setup, authentication, creation, renewal) and token_revoke.c build on it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "clock.h"
#include "codec.h"
#include "identity/lease.h"
#include "identity/token_int.h"
#include "json.h"
#include "log.h"
#include "secmem.h"
#include "xmalloc.h"

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
	struct token_cache_node *n = xmalloc(sizeof(*n));
	size_t i = token_cache_bucket(e->hash);

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
	e = xcalloc(1, sizeof(*e));
	e->refs = 1;
	memcpy(e->hash, hash, COFFER_MAC_LEN);
	err = codec_hex_encode(e->hash_hex, sizeof(e->hash_hex), hash, COFFER_MAC_LEN);
	if (err != 0)
		goto out;
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", e->hash_hex);
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

int token_hash_text(struct token_store *ts, const char *text, uint8_t hash[COFFER_MAC_LEN])
{
	size_t len = text != NULL ? strnlen(text, TOKEN_TEXT_MAX + 1) : 0;

	if (len == 0 || len > TOKEN_TEXT_MAX)
		return COFFER_ERR_NOT_FOUND;
	return barrier_hash(ts->b, TOKEN_HASH_LABEL, text, len, hash);
}

int token_get_text(struct token_store *ts, const char *text, struct token_entry **out)
{
	uint8_t hash[COFFER_MAC_LEN];
	int err;

	err = token_hash_text(ts, text, hash);
	if (err == 0)
		err = token_get(ts, hash, out);
	secmem_wipe(hash, sizeof(hash));
	return err;
}

int token_persist_new(struct token_store *ts, const struct token_entry *e, const char *extra_delete)
{
	char id_path[TOKEN_PATH_CAP], acc_path[TOKEN_PATH_CAP], parent_path[TOKEN_PATH_CAP];
	char lease_path[TOKEN_PATH_CAP], acc_json[2 * COFFER_MAC_LEN + 16];
	struct barrier_op ops[5];
	json_t *o = token_entry_to_json(e);
	char *text = coffer_json_dump(o);
	size_t n = 0;
	int err;

	json_decref(o);
	snprintf(id_path, sizeof(id_path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", e->hash_hex);
	snprintf(acc_path, sizeof(acc_path), TOKEN_STORE_PREFIX TOKEN_DIR_ACCESSOR "%s",
	         e->accessor);
	snprintf(acc_json, sizeof(acc_json), "{\"hash\":\"%s\"}", e->hash_hex);
	ops[n++] = (struct barrier_op){BARRIER_PUT, id_path, (const uint8_t *)text, strlen(text)};
	ops[n++] =
	    (struct barrier_op){BARRIER_PUT, acc_path, (const uint8_t *)acc_json, strlen(acc_json)};
	snprintf(lease_path, sizeof(lease_path), TOKEN_STORE_PREFIX TOKEN_DIR_LEASE "%s",
	         e->lease_nonce);
	ops[n++] = (struct barrier_op){BARRIER_PUT, lease_path, (const uint8_t *)acc_json,
	                               strlen(acc_json)};
	if (e->parent_hex[0] != '\0') {
		snprintf(parent_path, sizeof(parent_path),
		         TOKEN_STORE_PREFIX TOKEN_DIR_PARENT "%s/%s", e->parent_hex, e->hash_hex);
		ops[n++] = (struct barrier_op){BARRIER_PUT, parent_path, (const uint8_t *)"{}", 2};
	}
	if (extra_delete != NULL)
		ops[n++] = (struct barrier_op){BARRIER_DELETE, extra_delete, NULL, 0};
	err = barrier_batch(ts->b, ops, n);
	coffer_json_free_text(text);
	return err;
}

int token_persist_update(struct token_store *ts, const struct token_entry *e)
{
	char path[TOKEN_PATH_CAP];
	json_t *o = token_entry_to_json(e);
	char *text = coffer_json_dump(o);
	int err;

	json_decref(o);
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ID "%s", e->hash_hex);
	err = barrier_put(ts->b, path, (const uint8_t *)text, strlen(text));
	coffer_json_free_text(text);
	return err;
}

int token_track(struct token_store *ts, const struct token_entry *e)
{
	char lease_id[TOKEN_PATH_CAP];

	if (ts->lm == NULL || e->expire_time == 0)
		return 0;
	token_lease_id(e, lease_id, sizeof(lease_id));
	return lease_mgr_track(ts->lm, lease_id, e->expire_time);
}

/* ---- the store ---- */

struct token_store *token_store_new(struct barrier *b)
{
	struct token_store *ts = xcalloc(1, sizeof(*ts));

	ts->b = b;
	pthread_mutex_init(&ts->mu, NULL);
	pthread_rwlock_init(&ts->cache_lock, NULL);
	atomic_init(&ts->cache_gen, 0);
	return ts;
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

void token_store_set_renew_hook(struct token_store *ts, token_renew_hook_fn fn, void *arg)
{
	ts->renew_hook = fn;
	ts->renew_arg = arg;
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

int token_lookup(struct token_store *ts, const char *token, struct token_entry **out)
{
	struct token_entry *e = NULL;
	int err;

	*out = NULL;
	err = token_get_text(ts, token, &e);
	if (err != 0)
		return err;
	if (token_is_expired(e, coffer_clock_now_s())) {
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
	snprintf(path, sizeof(path), TOKEN_STORE_PREFIX TOKEN_DIR_ACCESSOR "%s", accessor);
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

	if (err == 0 && token_is_expired(*out, coffer_clock_now_s())) {
		token_entry_release(*out);
		*out = NULL;
		err = COFFER_ERR_NOT_FOUND;
	}
	return err;
}
