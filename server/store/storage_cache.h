/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_cache.h: a bounded in-memory cache of committed records for a storage backend, so that
 * hot reads (tokens, policies, secrets) skip the database. It holds only what the store holds
 * (ciphertext under hidden names), is filled by readers and emptied of the keys a commit touches
 * before that commit; an epoch stops a reader from filling in a value that a commit has since
 * replaced. Thread-safe; sharded to keep readers apart.
 */
#ifndef COFFER_STORAGE_CACHE_H
#define COFFER_STORAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store/storage.h"

struct storage_cache;

/* budget_bytes: keys and values kept at most (entries are evicted least recently used first). */
struct storage_cache *storage_cache_new(size_t budget_bytes);
void storage_cache_free(struct storage_cache *c);

/* Take before reading the database for a fill. */
uint64_t storage_cache_epoch(struct storage_cache *c);
/* 0 and a malloc'd copy on a hit; STORAGE_CACHE_ABSENT when the key is known to be absent;
 * COFFER_ERR_NOT_FOUND when the cache does not know. */
#define STORAGE_CACHE_ABSENT 1
int storage_cache_get(struct storage_cache *c, const uint8_t *key, size_t key_len, uint8_t **value,
                      size_t *value_len);
/* Remember a value read from the database (value NULL: the key is absent), unless a commit came
 * since epoch. */
void storage_cache_fill(struct storage_cache *c, uint64_t epoch, const uint8_t *key, size_t key_len,
                        const uint8_t *value, size_t value_len);
/*
 * The writer brackets every commit: write_begin() makes the epoch odd (no fill is kept while it
 * is), forget() drops the keys the commit will touch, and write_end() after the commit (or its
 * failure) makes the epoch even again. So no reader can see a new value from the database and
 * then an older one from the cache.
 */
void storage_cache_write_begin(struct storage_cache *c);
void storage_cache_forget(struct storage_cache *c, const struct storage_op *ops, size_t n_ops);
void storage_cache_write_end(struct storage_cache *c);
/* Drop every entry, and every fill begun before (the epoch moves by two, so a commit under way
 * keeps its odd epoch). For a store that another process may have written meanwhile. */
void storage_cache_clear(struct storage_cache *c);

#endif
