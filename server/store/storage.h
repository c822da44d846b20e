/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h: the physical store: an ordered map of byte keys to byte values with get, prefix scan
 * and atomic batches. It knows nothing of encryption (barrier.c does that) and is small on purpose
 * so that other backends (PostgreSQL for HA) can implement it. All functions are thread-safe.
 * Values are ciphertext, so they need no wiping.
 */
#ifndef COFFER_STORAGE_H
#define COFFER_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct storage;

/* STORAGE_PUT_IF_ABSENT writes only when the key has no value yet (index rows, which are the same
 * whoever writes them first), so callers need not read to find out. */
enum storage_op_type { STORAGE_PUT, STORAGE_DELETE, STORAGE_PUT_IF_ABSENT };

struct storage_op {
	enum storage_op_type type;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value; /* the puts only */
	size_t value_len;
};

/* Called for each entry of a scan in key order; return 0 to go on, non-zero to stop (that value is
 * returned by the scan). The buffers are valid only during the call. */
typedef int (*storage_scan_fn)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                               size_t value_len);

struct storage_ops {
	const char *name; /* "sqlite" */
	int (*get)(struct storage *st, const uint8_t *key, size_t key_len, uint8_t **value,
	           size_t *value_len);
	int (*scan)(struct storage *st, const uint8_t *prefix, size_t prefix_len,
	            storage_scan_fn fn, void *arg);
	int (*batch)(struct storage *st, const struct storage_op *ops, size_t n_ops);
	int (*checkpoint)(struct storage *st);
	void (*close)(struct storage *st);
};

/* Every backend's handle starts with this. */
struct storage {
	const struct storage_ops *ops;
};

/*
 * Open (creating if needed) an SQLite store at path: one WITHOUT ROWID table, WAL,
 * synchronous=FULL, secure_delete=ON, a read connection per thread and one writer thread that
 * commits concurrent batches together (group commit). Returns 0 or COFFER_ERR_IO.
 */
int storage_sqlite_open(const char *path, struct storage **out);

/* Get: *value is malloc'd (free with free()); COFFER_ERR_NOT_FOUND when absent. */
static inline int storage_get(struct storage *st, const uint8_t *key, size_t key_len,
                              uint8_t **value, size_t *value_len)
{
	return st->ops->get(st, key, key_len, value, value_len);
}

/* Scan entries whose key starts with prefix (prefix_len may be 0), in key order. Sees only
 * committed data. */
static inline int storage_scan(struct storage *st, const uint8_t *prefix, size_t prefix_len,
                               storage_scan_fn fn, void *arg)
{
	return st->ops->scan(st, prefix, prefix_len, fn, arg);
}

/* Apply all ops atomically and durably: returns only after the commit is on disk (fsync), so an
 * acknowledged batch survives kill -9 and power loss. Deleting an absent key is not an error. */
static inline int storage_batch(struct storage *st, const struct storage_op *ops, size_t n_ops)
{
	return st->ops->batch(st, ops, n_ops);
}

static inline int storage_put(struct storage *st, const uint8_t *key, size_t key_len,
                              const uint8_t *value, size_t value_len)
{
	struct storage_op op = {STORAGE_PUT, key, key_len, value, value_len};
	return st->ops->batch(st, &op, 1);
}

static inline int storage_delete(struct storage *st, const uint8_t *key, size_t key_len)
{
	struct storage_op op = {STORAGE_DELETE, key, key_len, NULL, 0};
	return st->ops->batch(st, &op, 1);
}

/* Fold the write-ahead log into the main file and truncate it (tests of data at rest use this). */
static inline int storage_checkpoint(struct storage *st)
{
	return st->ops->checkpoint(st);
}

/* Close and free; waits for queued writes. NULL is allowed. */
static inline void storage_close(struct storage *st)
{
	if (st != NULL)
		st->ops->close(st);
}

#endif
