/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_pg.c: the PostgreSQL backend of storage.h (libpq): opening the store (URL checks, the
 * tables, the exclusive or HA lock), the readers' pool and the reads (get through the record
 * cache, scans in pages). Connections are made by storage_pg_conn.c, writes committed by
 * storage_pg_write.c, the lock kept by storage_pg_ha.c. Opened by storage_open() at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "crypto.h"
#include "hash.h"
#include "log.h"
#include "secmem.h"
#include "store/storage_pg_int.h"
#include "store/storage_util.h"
#include "xmalloc.h"

#define PG_CACHE_BYTES (64u * 1024 * 1024)
#define PG_SCAN_PAGE 256
#define PG_POOL_WAIT_S 10

/* ---- the readers' pool ---- */

static int pg_pool_take(struct pg_storage *pg, struct pg_conn **out)
{
	struct timespec until;
	struct pg_conn *pc = NULL;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += PG_POOL_WAIT_S;
	pthread_mutex_lock(&pg->pool_mu);
	/* Idle connections a database restart closed are dropped first. */
	while (pg->idle != NULL && pg_conn_is_stale(pg->idle->conn)) {
		pc = pg->idle;
		pg->idle = pc->next;
		PQfinish(pc->conn);
		free(pc);
		pg->n_open--;
		pc = NULL;
	}
	while (pg->idle == NULL && pg->n_open >= pg->max_readers) {
		if (pthread_cond_timedwait(&pg->pool_cv, &pg->pool_mu, &until) != 0)
			break;
	}
	if (pg->idle != NULL) {
		pc = pg->idle;
		pg->idle = pc->next;
	} else if (pg->n_open < pg->max_readers) {
		pg->n_open++;
	} else {
		pthread_mutex_unlock(&pg->pool_mu);
		return COFFER_ERR_UNAVAILABLE;
	}
	pthread_mutex_unlock(&pg->pool_mu);
	if (pc == NULL) {
		PGconn *c = pg_connect(pg);

		if (c == NULL) {
			pthread_mutex_lock(&pg->pool_mu);
			pg->n_open--;
			pthread_cond_signal(&pg->pool_cv);
			pthread_mutex_unlock(&pg->pool_mu);
			return COFFER_ERR_UNAVAILABLE;
		}
		pc = xcalloc(1, sizeof(*pc));
		pc->conn = c;
	}
	*out = pc;
	return 0;
}

/* Return a connection; a broken one is closed (the next take opens another). */
static void pg_pool_give(struct pg_storage *pg, struct pg_conn *pc)
{
	bool broken = pg_conn_is_broken(pc->conn);

	if (broken) {
		PQfinish(pc->conn);
		free(pc);
	}
	pthread_mutex_lock(&pg->pool_mu);
	if (broken) {
		pg->n_open--;
	} else {
		pc->next = pg->idle;
		pg->idle = pc;
	}
	pthread_cond_signal(&pg->pool_cv);
	pthread_mutex_unlock(&pg->pool_mu);
}

/* Run a prepared read on a pooled connection; a connection that turns out broken (a database
 * restart closed it) is replaced once. *out is a TUPLES_OK result. */
static int pg_read(struct pg_storage *pg, const char *stmt, int n_params, const char *const *vals,
                   const int *lens, PGresult **out)
{
	static const int fmts[2] = {1, 1};
	struct pg_conn *pc;
	PGresult *r;
	int attempt, ret;

	*out = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if ((ret = pg_pool_take(pg, &pc)) != 0)
			return ret;
		r = PQexecPrepared(pc->conn, stmt, n_params, vals, lens, fmts, 1);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			pg_pool_give(pg, pc);
			*out = r;
			return 0;
		}
		ret = pg_conn_is_broken(pc->conn) ? COFFER_ERR_UNAVAILABLE : COFFER_ERR_IO;
		if (ret == COFFER_ERR_IO)
			log_error("storage: PostgreSQL read failed: %s", PQresultErrorMessage(r));
		PQclear(r);
		pg_pool_give(pg, pc);
		if (ret != COFFER_ERR_UNAVAILABLE)
			break;
	}
	return ret;
}

/* ---- reads ---- */

static const uint8_t pg_empty[1];

static int pg_get(struct storage *base, const uint8_t *key, size_t key_len, uint8_t **value,
                  size_t *value_len)
{
	struct pg_storage *pg = (struct pg_storage *)base;
	bool use_cache = atomic_load(&pg->cache_on);
	const char *vals[1] = {key != NULL ? (const char *)key : (const char *)pg_empty};
	int lens[1] = {(int)key_len};
	PGresult *r = NULL;
	uint64_t epoch = 0;
	size_t len;
	int rc;

	*value = NULL;
	*value_len = 0;
	if (key_len > INT32_MAX || (key == NULL && key_len > 0))
		return COFFER_ERR_INVALID;
	if (use_cache) {
		rc = storage_cache_get(pg->cache, key, key_len, value, value_len);
		if (rc == 0)
			return 0;
		if (rc == STORAGE_CACHE_ABSENT)
			return COFFER_ERR_NOT_FOUND;
		epoch = storage_cache_epoch(pg->cache);
	}
	if ((rc = pg_read(pg, "coffer_get", 1, vals, lens, &r)) != 0)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		if (use_cache)
			storage_cache_fill(pg->cache, epoch, key, key_len, NULL, 0);
		return COFFER_ERR_NOT_FOUND;
	}
	len = (size_t)PQgetlength(r, 0, 0);
	*value = xmalloc(len > 0 ? len : 1);
	memcpy(*value, PQgetvalue(r, 0, 0), len);
	*value_len = len;
	PQclear(r);
	if (use_cache)
		storage_cache_fill(pg->cache, epoch, key, key_len, *value, len);
	return 0;
}

/*
 * Scans read pages of PG_SCAN_PAGE rows in key order and call fn with no connection held (a
 * callback may read again). The next page starts just above the last key (the key followed by a
 * zero byte). Unlike SQLite's, a scan is not one snapshot: a record written during it may or may
 * not be seen, as with any read that races a write.
 */
static int pg_scan(struct storage *base, const uint8_t *prefix, size_t prefix_len,
                   storage_scan_fn fn, void *arg)
{
	struct pg_storage *pg = (struct pg_storage *)base;
	uint8_t *start, *upper;
	size_t start_len = prefix_len, upper_len, klen;
	const char *vals[2];
	int lens[2], i, n, ret = 0;
	PGresult *r;

	if (prefix_len > INT32_MAX - 1 || (prefix == NULL && prefix_len > 0))
		return COFFER_ERR_INVALID;
	upper = xmalloc(prefix_len + 1);
	storage_prefix_upper_bound(prefix, prefix_len, upper, &upper_len);
	start = xmalloc(prefix_len + 1);
	if (prefix_len > 0)
		memcpy(start, prefix, prefix_len);
	for (;;) {
		vals[0] = (const char *)start;
		lens[0] = (int)start_len;
		vals[1] = (const char *)upper;
		lens[1] = (int)upper_len;
		ret = pg_read(pg, upper_len > 0 ? "coffer_scan_bounded" : "coffer_scan_open",
		              upper_len > 0 ? 2 : 1, vals, lens, &r);
		if (ret != 0)
			break;
		n = PQntuples(r);
		for (i = 0; i < n && ret == 0; i++)
			ret = fn(arg, (const uint8_t *)PQgetvalue(r, i, 0),
			         (size_t)PQgetlength(r, i, 0), (const uint8_t *)PQgetvalue(r, i, 1),
			         (size_t)PQgetlength(r, i, 1));
		if (ret == 0 && n == PG_SCAN_PAGE) {
			klen = (size_t)PQgetlength(r, n - 1, 0);
			start = xreallocarray(start, klen + 1, 1);
			memcpy(start, PQgetvalue(r, n - 1, 0), klen);
			start[klen] = 0;
			start_len = klen + 1;
		}
		PQclear(r);
		if (ret != 0 || n < PG_SCAN_PAGE)
			break;
	}
	free(start);
	free(upper);
	return ret;
}

/* The SQL of the store's statements, with its table names (checked by the configuration:
 * lowercase letters, digits and '_', so they need no quoting). */
static void pg_sql_build(struct pg_storage *pg)
{
	struct pg_sql *q = &pg->sql;
	const char *t = pg->table;

	snprintf(q->get, sizeof(q->get), "SELECT v FROM %s WHERE k = $1::bytea", t);
	snprintf(q->scan_bounded, sizeof(q->scan_bounded),
	         "SELECT k, v FROM %s WHERE k >= $1::bytea AND k < $2::bytea ORDER BY k LIMIT %d",
	         t, PG_SCAN_PAGE);
	snprintf(q->scan_open, sizeof(q->scan_open),
	         "SELECT k, v FROM %s WHERE k >= $1::bytea ORDER BY k LIMIT %d", t, PG_SCAN_PAGE);
	snprintf(q->put, sizeof(q->put),
	         "INSERT INTO %s (k, v) VALUES ($1::bytea, $2::bytea) "
	         "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	         t);
	snprintf(q->put_absent, sizeof(q->put_absent),
	         "INSERT INTO %s (k, v) VALUES ($1::bytea, $2::bytea) ON CONFLICT (k) DO NOTHING",
	         t);
	snprintf(q->del, sizeof(q->del), "DELETE FROM %s WHERE k = $1::bytea", t);
	/* Fencing: the transaction fails (division by zero) unless this node still holds the
	 * epoch, and the row stays share-locked until the commit, so a new active node's
	 * takeover waits for this transaction instead of passing it. */
	snprintf(q->fence, sizeof(q->fence),
	         "SELECT 1 / count(*)::int FROM (SELECT 1 FROM %s WHERE ha_key = 'core/lock' AND "
	         "holder = $1::text AND epoch = $2::bigint FOR SHARE) AS f",
	         pg->ha_table);
}

/* Create the tables if absent, under a transaction-level advisory lock (nodes starting at once
 * would otherwise race in CREATE TABLE), and check the schema version. */
static int pg_schema(struct pg_storage *pg, PGconn *c)
{
	char sql[2048], lock[64];
	PGresult *r;
	int ret = COFFER_ERR_IO;
	long version;

	snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%lld)",
	         (long long)(pg->lock_key + 1));
	snprintf(sql, sizeof(sql),
	         "CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v bytea NOT NULL);"
	         "CREATE TABLE IF NOT EXISTS %s_meta (name text PRIMARY KEY, value text NOT NULL);"
	         "INSERT INTO %s_meta (name, value) VALUES ('schema_version', '%d') "
	         "ON CONFLICT (name) DO NOTHING;"
	         "CREATE TABLE IF NOT EXISTS %s (ha_key text PRIMARY KEY, epoch bigint NOT NULL, "
	         "holder text NOT NULL, api_addr text NOT NULL, cluster_addr text NOT NULL, "
	         "valid_until timestamptz NOT NULL, active_since timestamptz NOT NULL)",
	         pg->table, pg->table, pg->table, PG_SCHEMA_VERSION, pg->ha_table);
	if (pg_exec_simple(c, "BEGIN") != 0)
		return COFFER_ERR_IO;
	if (pg_exec_simple(c, lock) != 0)
		goto out;
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("storage: cannot create the tables %s, %s_meta and %s: %s", pg->table,
		          pg->table, pg->ha_table, PQresultErrorMessage(r));
		PQclear(r);
		goto out;
	}
	PQclear(r);
	snprintf(sql, sizeof(sql), "SELECT value FROM %s_meta WHERE name = 'schema_version'",
	         pg->table);
	r = PQexec(c, sql);
	version = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
	              ? strtol(PQgetvalue(r, 0, 0), NULL, 10)
	              : -1;
	PQclear(r);
	if (version != PG_SCHEMA_VERSION) {
		log_error("storage: table %s has schema version %ld; this cofferd knows version %d",
		          pg->table, version, PG_SCHEMA_VERSION);
		goto out;
	}
	ret = pg_exec_simple(c, "COMMIT");
out:
	if (ret != 0)
		pg_exec_simple(c, "ROLLBACK");
	return ret;
}

/*
 * cofferd reaches PostgreSQL over TCP only: once start-up is over, its seccomp filter refuses
 * Unix sockets, so a socket that worked at start would fail at the first reconnection. Checked
 * on the parsed URL: every host must be a name or an address (libpq's default is a socket).
 */
static int pg_check_url(const char *url)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err), *o;
	const char *host = NULL, *hostaddr = NULL;
	int ret = 0;

	if (opts == NULL) {
		log_error("storage: storage.connection_url is not a valid PostgreSQL URL: %s",
		          err != NULL ? err : "out of memory");
		PQfreemem(err);
		return COFFER_ERR_CONFIG;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	}
	if ((hostaddr == NULL || hostaddr[0] == '\0') &&
	    (host == NULL || host[0] == '\0' || host[0] == '/' || host[0] == '@' ||
	     strstr(host, ",/") != NULL)) {
		log_error("storage: storage.connection_url must name a TCP host (host=... or "
		          "postgresql://host:port/...): cofferd does not use Unix sockets");
		ret = COFFER_ERR_CONFIG;
	}
	PQconninfoFree(opts);
	return ret;
}

static void pg_free(struct pg_storage *pg)
{
	struct pg_conn *pc;

	if (pg == NULL)
		return;
	pg_ha_free(pg);
	pg_writer_stop(pg);
	while ((pc = pg->idle) != NULL) {
		pg->idle = pc->next;
		PQfinish(pc->conn);
		free(pc);
	}
	PQfinish(pg->wconn);
	storage_cache_free(pg->cache);
	pthread_mutex_destroy(&pg->connect_mu);
	pthread_mutex_destroy(&pg->pool_mu);
	pthread_cond_destroy(&pg->pool_cv);
	pthread_mutex_destroy(&pg->wmu);
	pthread_cond_destroy(&pg->wcv);
	if (pg->url != NULL)
		secmem_wipe(pg->url, strlen(pg->url));
	free(pg->url);
	free(pg);
}

static void pg_close(struct storage *base)
{
	pg_free((struct pg_storage *)base);
}

/* PostgreSQL has no write-ahead log of ours to fold: nothing to do. */
static int pg_checkpoint(struct storage *base)
{
	(void)base;
	return 0;
}

/* The store's operations; with ha_enabled, the HA ones too. */
#define PG_STORE_OPS                                                                               \
	.name = "postgresql", .get = pg_get, .scan = pg_scan, .batch = pg_batch,                   \
	.checkpoint = pg_checkpoint, .close = pg_close

static const struct storage_ops pg_ops = {PG_STORE_OPS};

static const struct storage_ops pg_ha_ops = {
    PG_STORE_OPS,
    .ha_start = pg_ha_start,
    .ha_campaign = pg_ha_campaign,
    .ha_leader = pg_ha_leader,
    .ha_init_lock = pg_ha_init_lock,
    .ha_holds = pg_ha_holds,
};

static struct pg_storage *pg_new(const struct storage_config *sc, const char *url)
{
	struct pg_storage *pg = xcalloc(1, sizeof(*pg));
	char lock_name[160];

	pg->base.ops = sc->ha_enabled ? &pg_ha_ops : &pg_ops;
	pg->url = xstrdup(url);
	snprintf(pg->table, sizeof(pg->table), "%s", sc->table);
	snprintf(pg->ha_table, sizeof(pg->ha_table), "%s", sc->ha_table);
	pg->ha_enabled = sc->ha_enabled;
	pg->lock_ttl_ms = sc->lock_ttl_ms;
	/* Two of the connections are the lock's and the writer's. */
	pg->max_readers = sc->max_connections > 2 ? sc->max_connections - 2 : 1;
	/* The store's advisory lock, from its table name: vaults in other tables of the same
	 * database do not collide. A multiple of 4: key + 1 is the schema lock, key + 2 the
	 * initialization lock. */
	snprintf(lock_name, sizeof(lock_name), "coffer:%s", pg->table);
	pg->lock_key = (int64_t)(coffer_fnv1a_add(COFFER_FNV1A_INIT, lock_name, strlen(lock_name)) &
	                         0x7ffffffffffffffcULL);
	coffer_uuid(pg->node_id);
	snprintf(pg->app_name, sizeof(pg->app_name), "cofferd:%s", pg->node_id);
	pg_sql_build(pg);
	pthread_mutex_init(&pg->connect_mu, NULL);
	pthread_mutex_init(&pg->pool_mu, NULL);
	pthread_cond_init(&pg->pool_cv, NULL);
	pthread_mutex_init(&pg->wmu, NULL);
	pthread_cond_init(&pg->wcv, NULL);
	pg->queue_tail = &pg->queue;
	pg->cache = storage_cache_new(PG_CACHE_BYTES);
	return pg;
}

int storage_pg_open(const struct storage_config *sc, struct storage **out)
{
	const char *env = getenv("COFFER_PG_CONNECTION_URL");
	const char *url = env != NULL && env[0] != '\0' ? env : sc->pg_url;
	struct pg_storage *pg = NULL;
	PGconn *c = NULL;
	int ret;

	*out = NULL;
	if (url == NULL)
		return COFFER_ERR_CONFIG;
	if ((ret = pg_check_url(url)) != 0)
		return ret;
	pg = pg_new(sc, url);
	ret = COFFER_ERR_IO;
	c = pg_connect_raw(pg);
	if (c == NULL)
		goto out;
	if ((ret = pg_schema(pg, c)) != 0)
		goto out;
	PQfinish(c);
	c = NULL;
	/* The lock: without HA, the store's exclusive lock (taken now: a second cofferd on the
	 * same table refuses to start); with HA, the lock thread that campaigns when asked. */
	if ((ret = pg_ha_new(pg)) != 0)
		goto out;
	if ((ret = pg_writer_start(pg)) != 0)
		goto out;
	log_info("storage: PostgreSQL table %s%s", pg->table,
	         pg->ha_enabled ? " with high availability" : "");
	*out = &pg->base;
	pg = NULL;
	ret = 0;
out:
	PQfinish(c);
	pg_free(pg);
	return ret;
}
