/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage_pg_conn.c: the PostgreSQL backend's connections: the settings every connection gets
 * (timeouts, keepalives, the node's application_name), its prepared statements, and the
 * reconnection backoff (one attempt at a time, then a pause that doubles up to 1 s), used by
 * the readers' pool (storage_pg.c), the writer and the lock thread.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "store/storage_pg_int.h"

#define PG_CONNECT_DELAY_MIN_MS 100
#define PG_CONNECT_DELAY_MAX_MS 1000

int64_t pg_now_ms(void)
{
	return coffer_clock_mono_ns() / 1000000;
}

bool pg_conn_is_broken(PGconn *c)
{
	return c == NULL || PQstatus(c) != CONNECTION_OK;
}

bool pg_conn_is_stale(PGconn *c)
{
	/* A server that restarted or ended the session has sent its goodbye and closed the
	 * socket: reading what is there (without blocking) turns the status bad. */
	if (c != NULL && PQstatus(c) == CONNECTION_OK && !PQisBusy(c))
		(void)PQconsumeInput(c);
	return pg_conn_is_broken(c);
}

int pg_exec_simple(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ret = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		ret = pg_conn_is_broken(c) ? COFFER_ERR_UNAVAILABLE : COFFER_ERR_IO;
	PQclear(r);
	return ret;
}

/* Prepare the statements readers and the writer use on a new connection. */
static int pg_prepare_all(struct pg_storage *pg, PGconn *c)
{
	static const char *const names[] = {"coffer_get", "coffer_scan_bounded", "coffer_scan_open",
	                                    "coffer_put", "coffer_put_absent",   "coffer_del"};
	const char *texts[] = {pg->sql.get, pg->sql.scan_bounded, pg->sql.scan_open,
	                       pg->sql.put, pg->sql.put_absent,   pg->sql.del};
	PGresult *r;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		r = PQprepare(c, names[i], texts[i], 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			log_error("storage: PostgreSQL refused a statement of table %s: %s",
			          pg->table, PQresultErrorMessage(r));
			PQclear(r);
			return COFFER_ERR_IO;
		}
		PQclear(r);
	}
	if (pg->ha_enabled) {
		r = PQprepare(c, "coffer_fence", pg->sql.fence, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			return COFFER_ERR_IO;
		}
		PQclear(r);
	}
	return 0;
}

/* The first line of libpq's message (it may span lines; it never holds the password). */
static void pg_log_connect_error(struct pg_storage *pg, PGconn *c)
{
	char msg[256];
	size_t len;

	snprintf(msg, sizeof(msg), "%s", c != NULL ? PQerrorMessage(c) : "out of memory");
	len = strcspn(msg, "\n");
	msg[len] = '\0';
	log_warn("storage: cannot connect to PostgreSQL (table %s): %s; retrying", pg->table, msg);
}

/* Whether a connection attempt may start now: any number while the database answers (a pool
 * growing under load), one at a time after a failure, and none until the pause is over. */
static bool pg_connect_begin(struct pg_storage *pg)
{
	bool ok;

	pthread_mutex_lock(&pg->connect_mu);
	ok = pg_now_ms() >= pg->connect_next_ms &&
	     (pg->connect_delay_ms == 0 || pg->n_connecting == 0);
	if (ok)
		pg->n_connecting++;
	pthread_mutex_unlock(&pg->connect_mu);
	return ok;
}

static void pg_connect_end(struct pg_storage *pg, bool ok)
{
	pthread_mutex_lock(&pg->connect_mu);
	pg->n_connecting--;
	if (ok) {
		pg->connect_delay_ms = 0;
		pg->connect_next_ms = 0;
	} else {
		pg->connect_delay_ms =
		    pg->connect_delay_ms == 0 ? PG_CONNECT_DELAY_MIN_MS : pg->connect_delay_ms * 2;
		if (pg->connect_delay_ms > PG_CONNECT_DELAY_MAX_MS)
			pg->connect_delay_ms = PG_CONNECT_DELAY_MAX_MS;
		pg->connect_next_ms = pg_now_ms() + pg->connect_delay_ms;
	}
	pthread_mutex_unlock(&pg->connect_mu);
}

/* PostgreSQL's notices ("relation already exists, skipping") are not the operator's concern. */
static void pg_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("storage: PostgreSQL: %.*s", (int)strcspn(message, "\n"), message);
}

/* Connect with the store's settings: the defaults first, so the URL may override them, then
 * the application name, which identifies this node's sessions. */
PGconn *pg_connect_raw(struct pg_storage *pg)
{
	const char *keys[] = {"connect_timeout",
	                      "keepalives",
	                      "keepalives_idle",
	                      "keepalives_interval",
	                      "keepalives_count",
	                      "tcp_user_timeout",
	                      "dbname",
	                      "application_name",
	                      NULL};
	const char *vals[] = {"5", "1", "5", "2", "3", "10000", pg->url, pg->app_name, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if (c != NULL)
		PQsetNoticeProcessor(c, pg_notice, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		pg_log_connect_error(pg, c);
		PQfinish(c);
		return NULL;
	}
	return c;
}

PGconn *pg_connect(struct pg_storage *pg)
{
	PGconn *c;

	if (!pg_connect_begin(pg))
		return NULL;
	c = pg_connect_raw(pg);
	if (c != NULL && pg_prepare_all(pg, c) != 0) {
		PQfinish(c);
		c = NULL;
	}
	pg_connect_end(pg, c != NULL);
	return c;
}
