/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_cache.c: the record cache of storage_cache.h: 16 shards, each a hash table with an LRU
 * list and a byte budget, and one commit epoch. storage_sqlite.c calls it on get and commit.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store/storage_cache.h"
#include "xmalloc.h"

#define CACHE_SHARDS 16
#define CACHE_BUCKETS 4096 /* per shard */
#define CACHE_MAX_VALUE (64 * 1024)

struct cache_entry {
	struct cache_entry *hnext;         /* bucket chain */
	struct cache_entry *lprev, *lnext; /* LRU list, most recent first */
	uint64_t hash;
	size_t key_len, value_len;
	bool is_absent; /* a remembered miss */
	uint8_t data[]; /* key, then value */
};

struct cache_shard {
	pthread_mutex_t mu;
	struct cache_entry *buckets[CACHE_BUCKETS];
	struct cache_entry *head, *tail;
	size_t bytes;
};

struct storage_cache {
	_Atomic uint64_t epoch;
	size_t shard_budget;
	struct cache_shard shards[CACHE_SHARDS];
};

/* FNV-1a: keys are MACs or fixed names, so an attacker cannot aim at one bucket. */
static uint64_t cache_hash(const uint8_t *key, size_t len)
{
	return coffer_fnv1a_add(COFFER_FNV1A_INIT, key, len);
}

static struct cache_shard *cache_shard_of(struct storage_cache *c, uint64_t h)
{
	return &c->shards[(h >> 32) % CACHE_SHARDS];
}

static struct cache_entry **cache_slot(struct cache_shard *s, uint64_t h, const uint8_t *key,
                                       size_t key_len)
{
	struct cache_entry **pp = &s->buckets[h % CACHE_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if ((*pp)->hash == h && (*pp)->key_len == key_len &&
		    memcmp((*pp)->data, key, key_len) == 0)
			break;
	}
	return pp;
}

static void cache_lru_unlink(struct cache_shard *s, struct cache_entry *e)
{
	if (e->lprev != NULL)
		e->lprev->lnext = e->lnext;
	else
		s->head = e->lnext;
	if (e->lnext != NULL)
		e->lnext->lprev = e->lprev;
	else
		s->tail = e->lprev;
	e->lprev = e->lnext = NULL;
}

static void cache_lru_push(struct cache_shard *s, struct cache_entry *e)
{
	e->lnext = s->head;
	if (s->head != NULL)
		s->head->lprev = e;
	s->head = e;
	if (s->tail == NULL)
		s->tail = e;
}

/* Remove the entry at *pp (in its bucket chain). */
static void cache_remove(struct cache_shard *s, struct cache_entry **pp)
{
	struct cache_entry *e = *pp;

	*pp = e->hnext;
	cache_lru_unlink(s, e);
	s->bytes -= sizeof(*e) + e->key_len + e->value_len;
	free(e);
}

struct storage_cache *storage_cache_new(size_t budget_bytes)
{
	struct storage_cache *c = xcalloc(1, sizeof(*c));
	size_t i;

	c->shard_budget = budget_bytes / CACHE_SHARDS;
	for (i = 0; i < CACHE_SHARDS; i++)
		pthread_mutex_init(&c->shards[i].mu, NULL);
	return c;
}

void storage_cache_free(struct storage_cache *c)
{
	struct cache_entry *e, *next;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < CACHE_SHARDS; i++) {
		for (e = c->shards[i].head; e != NULL; e = next) {
			next = e->lnext;
			free(e);
		}
		pthread_mutex_destroy(&c->shards[i].mu);
	}
	free(c);
}

uint64_t storage_cache_epoch(struct storage_cache *c)
{
	return atomic_load(&c->epoch);
}

int storage_cache_get(struct storage_cache *c, const uint8_t *key, size_t key_len, uint8_t **value,
                      size_t *value_len)
{
	uint64_t h = cache_hash(key, key_len);
	struct cache_shard *s = cache_shard_of(c, h);
	struct cache_entry *e;
	int ret = COFFER_ERR_NOT_FOUND;

	pthread_mutex_lock(&s->mu);
	e = *cache_slot(s, h, key, key_len);
	if (e != NULL && e->is_absent) {
		cache_lru_unlink(s, e);
		cache_lru_push(s, e);
		ret = STORAGE_CACHE_ABSENT;
	} else if (e != NULL) {
		*value = xmalloc(e->value_len);
		memcpy(*value, e->data + e->key_len, e->value_len);
		*value_len = e->value_len;
		cache_lru_unlink(s, e);
		cache_lru_push(s, e);
		ret = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

void storage_cache_fill(struct storage_cache *c, uint64_t epoch, const uint8_t *key, size_t key_len,
                        const uint8_t *value, size_t value_len)
{
	uint64_t h = cache_hash(key, key_len);
	struct cache_shard *s = cache_shard_of(c, h);
	size_t size = sizeof(struct cache_entry) + key_len + value_len;
	struct cache_entry *e, **pp;

	if (value_len > CACHE_MAX_VALUE || size > c->shard_budget)
		return;
	e = xmalloc(size);
	memset(e, 0, sizeof(*e));
	e->hash = h;
	e->key_len = key_len;
	e->value_len = value != NULL ? value_len : 0;
	e->is_absent = value == NULL;
	memcpy(e->data, key, key_len);
	if (value != NULL)
		memcpy(e->data + key_len, value, value_len);
	pthread_mutex_lock(&s->mu);
	/* Checked under the shard lock, which forget() also takes: an odd epoch is a commit under
	 * way, a changed one a commit since the read. */
	pp = cache_slot(s, h, key, key_len);
	if ((epoch & 1) != 0 || atomic_load(&c->epoch) != epoch || *pp != NULL) {
		pthread_mutex_unlock(&s->mu);
		free(e);
		return;
	}
	*pp = e;
	cache_lru_push(s, e);
	s->bytes += size;
	while (s->bytes > c->shard_budget && s->tail != NULL && s->tail != e) {
		struct cache_entry *old = s->tail;

		cache_remove(s, cache_slot(s, old->hash, old->data, old->key_len));
	}
	pthread_mutex_unlock(&s->mu);
}

void storage_cache_write_begin(struct storage_cache *c)
{
	atomic_fetch_add(&c->epoch, 1);
}

void storage_cache_write_end(struct storage_cache *c)
{
	atomic_fetch_add(&c->epoch, 1);
}

void storage_cache_forget(struct storage_cache *c, const struct storage_op *ops, size_t n_ops)
{
	size_t i;

	for (i = 0; i < n_ops; i++) {
		uint64_t h = cache_hash(ops[i].key, ops[i].key_len);
		struct cache_shard *s = cache_shard_of(c, h);
		struct cache_entry **pp;

		pthread_mutex_lock(&s->mu);
		pp = cache_slot(s, h, ops[i].key, ops[i].key_len);
		if (*pp != NULL)
			cache_remove(s, pp);
		pthread_mutex_unlock(&s->mu);
	}
}

void storage_cache_clear(struct storage_cache *c)
{
	struct cache_entry *e, *next;
	size_t i, b;

	atomic_fetch_add(&c->epoch, 2);
	for (i = 0; i < CACHE_SHARDS; i++) {
		struct cache_shard *s = &c->shards[i];

		pthread_mutex_lock(&s->mu);
		for (e = s->head; e != NULL; e = next) {
			next = e->lnext;
			free(e);
		}
		for (b = 0; b < CACHE_BUCKETS; b++)
			s->buckets[b] = NULL;
		s->head = s->tail = NULL;
		s->bytes = 0;
		pthread_mutex_unlock(&s->mu);
	}
}
