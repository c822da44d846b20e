/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_pg_ha.c: the PostgreSQL backend's lock thread, on its own connection.
 *
 * Without HA it holds the store's advisory lock for the process's life, so a second cofferd on
 * the same table refuses to start (the caches assume one writer), and takes it again after a
 * reconnection.
 *
 * With HA (storage.ha_enabled) it decides which node is active:
 *  - A node becomes active only while holding the session-level advisory lock of the store,
 *    which PostgreSQL releases the moment the holder's connection closes: when an active process
 *    dies, the next standby poll (every PG_HA_POLL_MS) wins the lock. A standby that wins it
 *    while the row still names a live node (its time not run out, and its sessions open or
 *    the database restarted since its last renewal) lets it go; the active takes it back.
 *  - Winning, it bumps the epoch in the lock row ('core/lock' of ha_table) and records itself
 *    (holder, api_addr, valid_until = now() + lock_ttl, by the database clock). Every write
 *    transaction checks that epoch and holder in the same transaction (storage_pg_write.c), so
 *    a deposed node can commit nothing.
 *  - The active node renews valid_until several times per lock_ttl; a renewal that finds another
 *    holder or epoch means the lock was lost: the node stops being active at once. A node that
 *    gives the lock up (step-down, seal, shutdown) ends its row's time as it goes.
 *  - A stalled active (SIGSTOP, a partition) keeps its connection and so its advisory lock;
 *    when its row has expired, a standby ends that node's sessions (pg_terminate_backend on the
 *    sessions named cofferd:<its id>: all nodes use the same role, which may end its own
 *    sessions), which frees the lock; it then wins it as above: failover within lock_ttl plus
 *    a poll or two.
 * The callback tells the core when this node's role changes; the core loads or drops the vault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store/storage_pg_int.h"
#include "xmalloc.h"

#define PG_HA_POLL_MS 200
#define PG_HA_MARGIN_MS 250 /* of the lock's time that this node does not count on */

struct pg_ha {
	struct pg_storage *pg;
	pthread_t thread;
	bool has_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool is_stopping;
	/* Under mu. */
	bool is_started; /* ha_start() was called: notify fn */
	bool campaign;
	int64_t hold_off_until_ms;
	char api_addr[256];
	char cluster_addr[256];
	storage_ha_fn fn;
	void *fn_arg;
	struct storage_ha_leader leader;
	bool fenced; /* the writer saw its epoch refused */
	/* The lock thread's own (no lock needed). */
	PGconn *conn;
	bool has_advisory;
	bool is_active;
	int64_t epoch;
	int64_t last_renew_ms;
	bool warned_lock;
	/* The initialization lock's connection (ha_init_lock). */
	PGconn *init_conn;
};

/* Run a statement with text parameters; the result (caller clears) or NULL when it failed. */
static PGresult *ha_exec(struct pg_ha *ha, const char *sql, int n, const char *const *vals,
                         ExecStatusType want)
{
	PGresult *r = PQexecParams(ha->conn, sql, n, NULL, vals, NULL, NULL, 0);

	if (PQresultStatus(r) == want)
		return r;
	if (!pg_conn_is_broken(ha->conn))
		log_warn("storage: the HA lock's statement failed: %s", PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

static bool ha_try_advisory(struct pg_ha *ha)
{
	char key[24];
	const char *vals[1] = {key};
	PGresult *r;
	bool got;

	snprintf(key, sizeof(key), "%lld", (long long)ha->pg->lock_key);
	r = ha_exec(ha, "SELECT pg_try_advisory_lock($1::bigint)", 1, vals, PGRES_TUPLES_OK);
	got = r != NULL && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return got;
}

static void ha_release_advisory(struct pg_ha *ha)
{
	char key[24];
	const char *vals[1] = {key};

	if (!ha->has_advisory)
		return;
	snprintf(key, sizeof(key), "%lld", (long long)ha->pg->lock_key);
	PQclear(ha_exec(ha, "SELECT pg_advisory_unlock($1::bigint)", 1, vals, PGRES_TUPLES_OK));
	ha->has_advisory = false;
}

static void ha_notify(struct pg_ha *ha, bool is_active)
{
	storage_ha_fn fn;
	void *arg;

	pthread_mutex_lock(&ha->mu);
	fn = ha->is_started ? ha->fn : NULL;
	arg = ha->fn_arg;
	pthread_mutex_unlock(&ha->mu);
	if (fn != NULL)
		fn(arg, is_active);
}

/* A node that gives up the lock (step-down, seal, shutdown, a fenced write) ends its row's time
 * now, if the row is still its own, so a standby takes over at its next poll instead of
 * waiting for lock_ttl. */
static void ha_expire_row(struct pg_ha *ha)
{
	struct pg_storage *pg = ha->pg;
	char sql[256], epoch[24];
	const char *vals[2] = {pg->node_id, epoch};

	snprintf(epoch, sizeof(epoch), "%lld", (long long)ha->epoch);
	snprintf(sql, sizeof(sql),
	         "UPDATE %s SET valid_until = now() - interval '1 millisecond' "
	         "WHERE ha_key = 'core/lock' AND holder = $1 AND epoch = $2::bigint",
	         pg->ha_table);
	PQclear(ha_exec(ha, sql, 2, vals, PGRES_COMMAND_OK));
}

/* Stop being active: writes are refused from now on, the cache is not trusted, the advisory
 * lock goes (so a standby wins it at once), and the core is told. */
static void ha_lose(struct pg_ha *ha, const char *why)
{
	struct pg_storage *pg = ha->pg;

	if (!ha->is_active)
		return;
	log_warn("ha: this node is no longer active: %s", why);
	atomic_store(&pg->holds_until_ms, 0);
	atomic_store(&pg->fence_epoch, 0);
	atomic_store(&pg->cache_on, false);
	storage_cache_clear(pg->cache);
	if (!pg_conn_is_broken(ha->conn)) {
		ha_expire_row(ha);
		ha_release_advisory(ha);
	}
	ha->is_active = false;
	ha->epoch = 0;
	ha_notify(ha, false);
}

/* Whether the row names another node whose time has not run out and which is not known dead:
 * its sessions are open, or the database started after its last renewal (a restart dropped
 * every lock and session; it reconnects and takes the lock back within its time). A holder
 * with no session on a database that was up at its last renewal has died. */
static bool ha_holder_alive(struct pg_ha *ha)
{
	struct pg_storage *pg = ha->pg;
	char ttl[24];
	const char *vals[2] = {pg->node_id, ttl};
	char sql[512];
	PGresult *r;
	bool alive;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)pg->lock_ttl_ms);
	snprintf(sql, sizeof(sql),
	         "SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
	         "WHERE application_name = 'cofferd:' || h.holder) OR pg_postmaster_start_time() > "
	         "h.valid_until - $2::bigint * interval '1 millisecond' FROM %s h "
	         "WHERE ha_key = 'core/lock' AND valid_until >= now() AND holder <> $1",
	         pg->ha_table);
	r = ha_exec(ha, sql, 2, vals, PGRES_TUPLES_OK);
	alive = r == NULL || (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0);
	PQclear(r);
	return alive;
}

/* Holding the advisory lock: take the next epoch and record this node in the lock row. */
static bool ha_take(struct pg_ha *ha)
{
	struct pg_storage *pg = ha->pg;
	char sql[768], ttl[24];
	const char *vals[4];
	PGresult *r;

	char api_addr[256], cluster_addr[256];
	int64_t sent_ms;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)pg->lock_ttl_ms);
	pthread_mutex_lock(&ha->mu);
	memcpy(api_addr, ha->api_addr, sizeof(api_addr));
	memcpy(cluster_addr, ha->cluster_addr, sizeof(cluster_addr));
	pthread_mutex_unlock(&ha->mu);
	vals[0] = pg->node_id;
	vals[1] = api_addr;
	vals[2] = cluster_addr;
	vals[3] = ttl;
	sent_ms = pg_now_ms();
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO %s AS h (ha_key, epoch, holder, api_addr, cluster_addr, valid_until, "
	    "active_since) VALUES ('core/lock', 1, $1, $2, $3, "
	    "now() + $4::bigint * interval '1 millisecond', now()) "
	    "ON CONFLICT (ha_key) DO UPDATE SET epoch = h.epoch + 1, holder = EXCLUDED.holder, "
	    "api_addr = EXCLUDED.api_addr, cluster_addr = EXCLUDED.cluster_addr, "
	    "valid_until = EXCLUDED.valid_until, active_since = EXCLUDED.active_since "
	    "RETURNING epoch",
	    pg->ha_table);
	r = ha_exec(ha, sql, 4, vals, PGRES_TUPLES_OK);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		return false;
	}
	ha->epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	ha->is_active = true;
	ha->last_renew_ms = sent_ms;
	atomic_store(&pg->holds_until_ms, sent_ms + pg->lock_ttl_ms - PG_HA_MARGIN_MS);
	/* Nothing cached before now can be trusted: the previous active wrote meanwhile. */
	storage_cache_clear(pg->cache);
	atomic_store(&pg->cache_on, true);
	atomic_store(&pg->fence_epoch, ha->epoch);
	pthread_mutex_lock(&ha->mu);
	ha->fenced = false;
	pthread_mutex_unlock(&ha->mu);
	log_info("ha: this node is active (epoch %lld)", (long long)ha->epoch);
	ha_notify(ha, true);
	return true;
}

/* The active node extends its lock; 0 rows means another node has taken it. */
static void ha_renew(struct pg_ha *ha)
{
	struct pg_storage *pg = ha->pg;
	char sql[320], ttl[24], epoch[24];
	const char *vals[3] = {pg->node_id, epoch, ttl};
	PGresult *r;
	int64_t sent_ms = pg_now_ms();
	bool held;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)pg->lock_ttl_ms);
	snprintf(epoch, sizeof(epoch), "%lld", (long long)ha->epoch);
	snprintf(sql, sizeof(sql),
	         "UPDATE %s SET valid_until = now() + $3::bigint * interval '1 millisecond' "
	         "WHERE ha_key = 'core/lock' AND holder = $1 AND epoch = $2::bigint",
	         pg->ha_table);
	r = ha_exec(ha, sql, 3, vals, PGRES_COMMAND_OK);
	if (r == NULL)
		return; /* the connection: retried, and lost after lock_ttl without a renewal */
	held = strcmp(PQcmdTuples(r), "1") == 0;
	PQclear(r);
	if (!held) {
		ha_lose(ha, "another node holds the lock");
		return;
	}
	ha->last_renew_ms = sent_ms;
	atomic_store(&pg->holds_until_ms, sent_ms + pg->lock_ttl_ms - PG_HA_MARGIN_MS);
}

/* Read the lock row into the leader view; *expired_holder gets the holder when its time ran out
 * (a stalled node). */
static void ha_read_leader(struct pg_ha *ha, char *expired_holder, size_t len)
{
	struct pg_storage *pg = ha->pg;
	struct storage_ha_leader l = {0};
	char sql[320];
	PGresult *r;

	expired_holder[0] = '\0';
	snprintf(sql, sizeof(sql),
	         "SELECT holder, api_addr, cluster_addr, "
	         "extract(epoch FROM active_since)::bigint, valid_until >= now() "
	         "FROM %s WHERE ha_key = 'core/lock'",
	         pg->ha_table);
	r = ha_exec(ha, sql, 0, NULL, PGRES_TUPLES_OK);
	if (r == NULL)
		return;
	if (PQntuples(r) == 1) {
		l.is_known = strcmp(PQgetvalue(r, 0, 4), "t") == 0;
		l.is_self = l.is_known && strcmp(PQgetvalue(r, 0, 0), pg->node_id) == 0;
		snprintf(l.api_addr, sizeof(l.api_addr), "%s", PQgetvalue(r, 0, 1));
		snprintf(l.cluster_addr, sizeof(l.cluster_addr), "%s", PQgetvalue(r, 0, 2));
		l.active_since = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
		if (!l.is_known && strcmp(PQgetvalue(r, 0, 0), pg->node_id) != 0)
			snprintf(expired_holder, len, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	/* The row may still name this node just after it lost the lock. */
	if (l.is_self && !ha->is_active)
		l.is_known = false;
	pthread_mutex_lock(&ha->mu);
	ha->leader = l;
	pthread_mutex_unlock(&ha->mu);
}

/* A holder whose time ran out still holds the advisory lock (its connection lives): end its
 * sessions so that the lock is freed. */
static void ha_end_stalled(struct pg_ha *ha, const char *holder)
{
	char app[64];
	const char *vals[1] = {app};
	PGresult *r;

	snprintf(app, sizeof(app), "cofferd:%s", holder);
	r = ha_exec(ha,
	            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
	            "WHERE application_name = $1 AND pid <> pg_backend_pid()",
	            1, vals, PGRES_TUPLES_OK);
	if (r != NULL && strcmp(PQgetvalue(r, 0, 0), "0") != 0)
		log_warn("ha: the active node %s stopped renewing its lock; its %s database "
		         "sessions were ended",
		         holder, PQgetvalue(r, 0, 0));
	PQclear(r);
}

/* Without HA: keep the store's exclusive lock. */
static void ha_keep_exclusive(struct pg_ha *ha)
{
	if (ha->has_advisory)
		return;
	ha->has_advisory = ha_try_advisory(ha);
	if (!ha->has_advisory && !ha->warned_lock && !pg_conn_is_broken(ha->conn)) {
		log_error("storage: another cofferd now holds the lock of table %s (set "
		          "storage.ha_enabled to run several nodes)",
		          ha->pg->table);
		ha->warned_lock = true;
	}
}

/* One round of the HA lock. */
static void ha_round(struct pg_ha *ha)
{
	struct pg_storage *pg = ha->pg;
	char stalled[PG_NODE_ID_LEN + 1];
	int64_t now = pg_now_ms(), renew_every = pg->lock_ttl_ms / 5;
	bool campaign, fenced;

	pthread_mutex_lock(&ha->mu);
	campaign = ha->campaign && now >= ha->hold_off_until_ms;
	fenced = ha->fenced;
	pthread_mutex_unlock(&ha->mu);
	if (ha->is_active && (fenced || !campaign)) {
		ha_lose(ha, fenced ? "a write was fenced off"
		                   : "it stopped campaigning (step-down, seal or shutdown)");
		return;
	}
	if (ha->is_active) {
		if (now - ha->last_renew_ms >= renew_every)
			ha_renew(ha);
		if (ha->is_active && !ha->has_advisory)
			ha->has_advisory = ha_try_advisory(ha);
	} else if (campaign) {
		if (!ha->has_advisory)
			ha->has_advisory = ha_try_advisory(ha);
		if (ha->has_advisory && (ha_holder_alive(ha) || !ha_take(ha)))
			ha_release_advisory(ha);
	}
	ha_read_leader(ha, stalled, sizeof(stalled));
	if (!ha->is_active && campaign && stalled[0] != '\0')
		ha_end_stalled(ha, stalled);
}

static void *ha_main(void *arg)
{
	struct pg_ha *ha = arg;
	struct pg_storage *pg = ha->pg;
	struct timespec until;
	int64_t ns;

	pthread_mutex_lock(&ha->mu);
	while (!ha->is_stopping) {
		pthread_mutex_unlock(&ha->mu);
		if (pg_conn_is_stale(ha->conn)) {
			PQfinish(ha->conn);
			ha->has_advisory = false;
			ha->conn = pg_connect(pg);
		}
		/* No renewal for a whole lock_ttl: another node may have taken over. */
		if (ha->is_active && pg_now_ms() - ha->last_renew_ms > pg->lock_ttl_ms)
			ha_lose(ha, "the lock could not be renewed within lock_ttl");
		if (!pg_conn_is_broken(ha->conn)) {
			if (pg->ha_enabled)
				ha_round(ha);
			else
				ha_keep_exclusive(ha);
		}
		pthread_mutex_lock(&ha->mu);
		if (ha->is_stopping)
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		ns = until.tv_nsec + (int64_t)PG_HA_POLL_MS * 1000000;
		until.tv_sec += ns / 1000000000;
		until.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&ha->cv, &ha->mu, &until);
	}
	pthread_mutex_unlock(&ha->mu);
	ha_lose(ha, "shutting down");
	ha_release_advisory(ha);
	return NULL;
}

int pg_ha_new(struct pg_storage *pg)
{
	struct pg_ha *ha = xcalloc(1, sizeof(*ha));

	ha->pg = pg;
	pthread_mutex_init(&ha->mu, NULL);
	pthread_cond_init(&ha->cv, NULL);
	pg->ha = ha;
	ha->conn = pg_connect(pg);
	if (ha->conn == NULL)
		return COFFER_ERR_IO;
	if (!pg->ha_enabled) {
		ha->has_advisory = ha_try_advisory(ha);
		if (!ha->has_advisory) {
			log_error("storage: table %s is in use by another cofferd (one server per "
			          "store; set storage.ha_enabled to run several nodes)",
			          pg->table);
			return COFFER_ERR_EXISTS;
		}
		/* The only writer: the cache is always right. */
		atomic_store(&pg->cache_on, true);
	}
	if (pthread_create(&ha->thread, NULL, ha_main, ha) != 0)
		return COFFER_ERR_IO;
	pthread_setname_np(ha->thread, "store-lock");
	ha->has_thread = true;
	return 0;
}

void pg_ha_free(struct pg_storage *pg)
{
	struct pg_ha *ha = pg->ha;

	if (ha == NULL)
		return;
	if (ha->has_thread) {
		pthread_mutex_lock(&ha->mu);
		ha->is_stopping = true;
		pthread_cond_signal(&ha->cv);
		pthread_mutex_unlock(&ha->mu);
		pthread_join(ha->thread, NULL);
	}
	PQfinish(ha->conn);
	PQfinish(ha->init_conn);
	pthread_mutex_destroy(&ha->mu);
	pthread_cond_destroy(&ha->cv);
	free(ha);
	pg->ha = NULL;
}

int pg_ha_start(struct storage *base, const struct storage_ha_node *me, storage_ha_fn fn, void *arg)
{
	struct pg_ha *ha = ((struct pg_storage *)base)->ha;

	pthread_mutex_lock(&ha->mu);
	snprintf(ha->api_addr, sizeof(ha->api_addr), "%s", me->api_addr);
	snprintf(ha->cluster_addr, sizeof(ha->cluster_addr), "%s",
	         me->cluster_addr != NULL ? me->cluster_addr : "");
	ha->fn = fn;
	ha->fn_arg = arg;
	ha->is_started = true;
	pthread_mutex_unlock(&ha->mu);
	return 0;
}

void pg_ha_campaign(struct storage *base, bool on, int64_t hold_off_ms)
{
	struct pg_storage *pg = (struct pg_storage *)base;
	struct pg_ha *ha = pg->ha;

	pthread_mutex_lock(&ha->mu);
	ha->campaign = on || hold_off_ms > 0;
	ha->hold_off_until_ms = hold_off_ms > 0 ? pg_now_ms() + hold_off_ms : 0;
	pthread_cond_signal(&ha->cv);
	pthread_mutex_unlock(&ha->mu);
}

void pg_ha_leader(struct storage *base, struct storage_ha_leader *out)
{
	struct pg_ha *ha = ((struct pg_storage *)base)->ha;

	pthread_mutex_lock(&ha->mu);
	*out = ha->leader;
	pthread_mutex_unlock(&ha->mu);
}

bool pg_ha_holds(struct storage *base)
{
	struct pg_storage *pg = (struct pg_storage *)base;

	return pg_now_ms() < atomic_load(&pg->holds_until_ms);
}

void pg_ha_fenced(struct pg_storage *pg)
{
	struct pg_ha *ha = pg->ha;

	atomic_store(&pg->holds_until_ms, 0);
	atomic_store(&pg->fence_epoch, 0);
	pthread_mutex_lock(&ha->mu);
	ha->fenced = true;
	pthread_cond_signal(&ha->cv);
	pthread_mutex_unlock(&ha->mu);
}

/* Initialization takes a second advisory lock of the store on a connection of its own, so that
 * two nodes asked to initialize at once do it one after the other (the second then finds the
 * vault initialized). */
int pg_ha_init_lock(struct storage *base, bool on)
{
	struct pg_storage *pg = (struct pg_storage *)base;
	struct pg_ha *ha = pg->ha;
	char sql[96];

	if (!on) {
		atomic_store(&pg->init_locked, false);
		PQfinish(ha->init_conn); /* ends the session: the lock goes with it */
		ha->init_conn = NULL;
		return 0;
	}
	ha->init_conn = pg_connect(pg);
	if (ha->init_conn == NULL)
		return COFFER_ERR_UNAVAILABLE;
	snprintf(sql, sizeof(sql), "SET lock_timeout = '10s'; SELECT pg_advisory_lock(%lld)",
	         (long long)(pg->lock_key + 2));
	if (pg_exec_simple(ha->init_conn, sql) != 0) {
		PQfinish(ha->init_conn);
		ha->init_conn = NULL;
		return COFFER_ERR_UNAVAILABLE;
	}
	atomic_store(&pg->init_locked, true);
	return 0;
}
