/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage.h: the physical store: an ordered map of byte keys to byte values with get, prefix scan
 * and atomic batches. It knows nothing of encryption (barrier.c does that) and is small on purpose
 * so that several backends implement it: SQLite (storage_sqlite.c) and PostgreSQL
 * (storage_pg.c, with high availability in storage_pg_ha.c). All functions are thread-safe.
 * Values are ciphertext, so they need no wiping.
 */
#ifndef COFFER_STORAGE_H
#define COFFER_STORAGE_H

#include <stdbool.h>
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

/* Where the store is: the "storage" section of the configuration. */
enum storage_kind { STORAGE_SQLITE, STORAGE_POSTGRESQL };

struct storage_config {
	enum storage_kind kind;
	char *path; /* SQLite: the database file */
	/* PostgreSQL: a libpq URL or key=value string (COFFER_PG_CONNECTION_URL overrides the
	 * file's), the table of records (and <table>_meta, its schema version), the HA lock table,
	 * the lock's time to live, connections at most (lock + writer + readers). */
	char *pg_url;
	char *table;
	char *ha_table;
	bool ha_enabled;
	int64_t lock_ttl_ms;
	unsigned max_connections;
};

/* High availability (backends with ha_enabled): one active node at a time. */
struct storage_ha_node {
	const char *api_addr;     /* where clients are sent */
	const char *cluster_addr; /* reported only; may be "" */
};

/* Who is active, as this node last saw it (refreshed several times a second). */
struct storage_ha_leader {
	bool is_known; /* a node holds the lock and its time to live has not run out */
	bool is_self;
	char api_addr[256];
	char cluster_addr[256];
	int64_t active_since; /* unix seconds */
};

/*
 * Called from the backend's lock thread when this node becomes active (is_active true: it holds
 * the lock under a new epoch, every later write is fenced to that epoch, the record cache is
 * empty) or stops being active (the lock was lost or taken over: writes now fail). It must only
 * record the change and wake whoever acts on it.
 */
typedef void (*storage_ha_fn)(void *arg, bool is_active);

struct storage_ops {
	const char *name; /* "sqlite", "postgresql" */
	int (*get)(struct storage *st, const uint8_t *key, size_t key_len, uint8_t **value,
	           size_t *value_len);
	int (*scan)(struct storage *st, const uint8_t *prefix, size_t prefix_len,
	            storage_scan_fn fn, void *arg);
	int (*batch)(struct storage *st, const struct storage_op *ops, size_t n_ops);
	int (*checkpoint)(struct storage *st);
	void (*close)(struct storage *st);
	/* HA; NULL when the backend or its configuration has none. ha_start: begin watching the
	 * lock (fn is called on each change of this node's role); ha_campaign: try to become active
	 * (on) or give up the lock and stop trying (off; after a step-down, hold_off_ms passes
	 * before trying again); ha_leader: the last view of the lock; ha_init_lock: hold (on) or
	 * release (off) the store's initialization lock, so two nodes never initialize at once. */
	int (*ha_start)(struct storage *st, const struct storage_ha_node *me, storage_ha_fn fn,
	                void *arg);
	void (*ha_campaign)(struct storage *st, bool on, int64_t hold_off_ms);
	void (*ha_leader)(struct storage *st, struct storage_ha_leader *out);
	int (*ha_init_lock)(struct storage *st, bool on);
	/* Whether this node holds the lock now: active, and its last renewal, counted from when
	 * it was sent, has not run out (a node that was stalled stops serving at once, before its
	 * lock thread has looked). */
	bool (*ha_holds)(struct storage *st);
};

/* Every backend's handle starts with this. */
struct storage {
	const struct storage_ops *ops;
};

/* Open the store sc describes (storage_sqlite_open() or storage_pg_open()). */
int storage_open(const struct storage_config *sc, struct storage **out);
void storage_config_free(struct storage_config *sc);

/* A PostgreSQL store (storage_pg.c): tables created if absent, a pool of connections, group
 * commit over one writer connection, the record cache; with ha_enabled the lock of
 * storage_pg_ha.c. COFFER_ERR_CONFIG for a bad URL, COFFER_ERR_IO when unreachable,
 * COFFER_ERR_EXISTS when another cofferd holds the store without HA. */
int storage_pg_open(const struct storage_config *sc, struct storage **out);

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

static inline bool storage_has_ha(const struct storage *st)
{
	return st->ops->ha_start != NULL;
}

static inline int storage_ha_start(struct storage *st, const struct storage_ha_node *me,
                                   storage_ha_fn fn, void *arg)
{
	return st->ops->ha_start(st, me, fn, arg);
}

static inline void storage_ha_campaign(struct storage *st, bool on, int64_t hold_off_ms)
{
	st->ops->ha_campaign(st, on, hold_off_ms);
}

static inline void storage_ha_leader(struct storage *st, struct storage_ha_leader *out)
{
	st->ops->ha_leader(st, out);
}

static inline bool storage_ha_holds(struct storage *st)
{
	return st->ops->ha_holds(st);
}

static inline int storage_ha_init_lock(struct storage *st, bool on)
{
	return st->ops->ha_init_lock(st, on);
}

/* Close and free; waits for queued writes. NULL is allowed. */
static inline void storage_close(struct storage *st)
{
	if (st != NULL)
		st->ops->close(st);
}

#endif
