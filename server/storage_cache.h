/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_cache.h: a bounded in-memory cache of committed records for a storage backend, so that
 * hot reads (tokens, policies, secrets) skip the database. It holds only what the store holds
 * (ciphertext under hidden names), is filled by readers and invalidated by the writer after each
 * commit and before it acknowledges; an epoch stops a reader from filling in a value that a commit
 * has since replaced. Thread-safe; sharded to keep readers apart.
 */
#ifndef COFFER_STORAGE_CACHE_H
#define COFFER_STORAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "storage.h"

struct storage_cache;

/* budget_bytes: keys and values kept at most (entries are evicted least recently used first). */
int storage_cache_new(size_t budget_bytes, struct storage_cache **out);
void storage_cache_free(struct storage_cache *c);

/* Take before reading the database for a fill. */
uint64_t storage_cache_epoch(struct storage_cache *c);
/* 0 and a malloc'd copy on a hit, COFFER_ERR_NOT_FOUND on a miss. */
int storage_cache_get(struct storage_cache *c, const uint8_t *key, size_t key_len,
		      uint8_t **value, size_t *value_len);
/* Remember a value read from the database, unless a commit came since epoch. */
void storage_cache_fill(struct storage_cache *c, uint64_t epoch, const uint8_t *key,
			size_t key_len, const uint8_t *value, size_t value_len);
/* After a commit (or a failed one): forget the keys the ops touched. */
void storage_cache_invalidate(struct storage_cache *c, const struct storage_op *ops, size_t n_ops);

#endif
