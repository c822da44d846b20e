/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_pg_int.h: what the PostgreSQL backend's files share: the store and its SQL
 * (storage_pg.c), connections (storage_pg_conn.c), the writer and its group commit
 * (storage_pg_write.c), the HA lock (storage_pg_ha.c). Calls run one way:
 * storage_pg -> write -> ha -> conn.
 *
 * Layout in the database (created if absent, under one advisory lock so nodes starting together
 * do not race):
 *   <table>      (k bytea PRIMARY KEY, v bytea NOT NULL): the same keys and values as SQLite's
 *                kv table: barrier ciphertext under keyed-MAC names.
 *   <table>_meta (name text PRIMARY KEY, value text NOT NULL): schema_version.
 *   <ha_table>   (ha_key text PRIMARY KEY, epoch, holder, api_addr, cluster_addr, valid_until,
 *                active_since): the row 'core/lock' says which node is active, under which
 *                leadership epoch, until when (database clock).
 */
#ifndef COFFER_STORAGE_PG_INT_H
#define COFFER_STORAGE_PG_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/storage.h"
#include "store/storage_cache.h"

#define PG_SCHEMA_VERSION 1
#define PG_NODE_ID_LEN 36 /* a UUID */
#define PG_SQL_MAX 512

struct pg_ha;

/* One connection of the readers' pool. */
struct pg_conn {
	PGconn *conn;
	struct pg_conn *next;
};

/* A write request queued for the writer; lives on the caller's stack. */
struct pg_req {
	const struct storage_op *ops;
	size_t n_ops;
	int result;
	sem_t done; /* posted for this request alone: no herd of woken writers */
	struct pg_req *next;
};

struct pg_sql {
	char get[PG_SQL_MAX];
	char scan_bounded[PG_SQL_MAX];
	char scan_open[PG_SQL_MAX];
	char put[PG_SQL_MAX];
	char put_absent[PG_SQL_MAX];
	char del[PG_SQL_MAX];
	char fence[PG_SQL_MAX];
};

struct pg_storage {
	struct storage base; /* first */
	char *url;           /* may hold a password: never logged */
	char table[64];
	char ha_table[64];
	bool ha_enabled;
	int64_t lock_ttl_ms;
	int64_t lock_key; /* the advisory lock of the store (one active node) */
	char node_id[PG_NODE_ID_LEN + 1];
	char app_name[64]; /* "cofferd:<node_id>" on every connection: a new active node ends a
	                    * stalled one's sessions by it */
	struct pg_sql sql;

	/* Connecting: freely while the database answers; after a failure one attempt at a time,
	 * each after a pause that doubles up to 1 s. */
	pthread_mutex_t connect_mu;
	int64_t connect_next_ms;
	int64_t connect_delay_ms;
	unsigned n_connecting;

	/* The readers' pool. */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct pg_conn *idle;
	unsigned n_open, max_readers;

	/* The writer: one connection, one thread, group commit. */
	PGconn *wconn;
	pthread_t writer;
	pthread_mutex_t wmu;
	pthread_cond_t wcv;    /* writer: work or stop */
	pthread_cond_t donecv; /* callers: their request is done */
	struct pg_req *queue, **queue_tail;
	bool is_stopping, has_writer;

	struct storage_cache *cache;
	/* The cache serves reads only while this node is the store's only writer: always without
	 * HA (the advisory lock), only while active with it. */
	atomic_bool cache_on;
	/* HA: the leadership epoch writes are fenced to; 0 while not active, and then writes are
	 * refused, except an initialization's (under the init lock, when no node can be active:
	 * the vault does not exist yet). Without HA, writes are not fenced. */
	_Atomic int64_t fence_epoch;
	atomic_bool init_locked;
	/* Until when (pg_now_ms) this node surely holds the lock: its last renewal's send time
	 * plus lock_ttl, less a margin; 0 while not active. */
	_Atomic int64_t holds_until_ms;
	struct pg_ha *ha;
};

/* storage_pg_conn.c */
int64_t pg_now_ms(void);
/* A connection without the backoff or the prepared statements (start-up). */
PGconn *pg_connect_raw(struct pg_storage *pg);
/* A new connection with the store's settings (application_name, timeouts, keepalives), or NULL
 * (logged, and the next attempt waits for the backoff). */
PGconn *pg_connect(struct pg_storage *pg);
/* Whether a failed result was the connection's fault (then the connection is dropped). */
bool pg_conn_is_broken(PGconn *c);
/* Before reusing an idle connection: whether the server has closed it meanwhile (a restart),
 * so the request goes to a new connection instead of failing. */
bool pg_conn_is_stale(PGconn *c);
/* Exec a parameterless statement; 0 or COFFER_ERR_IO / COFFER_ERR_UNAVAILABLE. */
int pg_exec_simple(PGconn *c, const char *sql);

/* storage_pg_write.c */
int pg_writer_start(struct pg_storage *pg);
void pg_writer_stop(struct pg_storage *pg);
int pg_batch(struct storage *base, const struct storage_op *ops, size_t n_ops);

/* storage_pg_ha.c: the lock thread (HA, and without HA the store's exclusive lock). */
int pg_ha_new(struct pg_storage *pg);
void pg_ha_free(struct pg_storage *pg);
int pg_ha_start(struct storage *base, const struct storage_ha_node *me, storage_ha_fn fn,
                void *arg);
void pg_ha_campaign(struct storage *base, bool on, int64_t hold_off_ms);
void pg_ha_leader(struct storage *base, struct storage_ha_leader *out);
int pg_ha_init_lock(struct storage *base, bool on);
bool pg_ha_holds(struct storage *base);
/* The writer found its epoch fenced off: give up leadership now. */
void pg_ha_fenced(struct pg_storage *pg);

#endif
