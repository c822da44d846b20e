/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_baseline.c: the durable-write baseline for pg_kv.sh: connections committing one row per
 * transaction (autocommit) into a table shaped like cofferd's (k bytea PRIMARY KEY, v bytea NOT
 * NULL), an upsert of a 32-byte random key (cofferd's names are MACs) and a value of a given
 * size, through a prepared statement in binary, for a number of seconds. Prints the rate of all
 * the connections together.
 * usage: bench_pg_baseline URL TABLE SECONDS VALUE_BYTES [CONNECTIONS (default 1)]
 * With CONNECTIONS > 1, each connection has its own thread and still commits one row per
 * transaction; PostgreSQL may then flush several of their commits with one WAL fsync.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

struct worker {
	pthread_t thread;
	PGconn *conn;
	uint64_t seed;
	long commits;
	int failed;
};

static const char *table;
static double secs, start;
static size_t value_len;
static char *value;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "pg baseline: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	char sql[256], key[32];
	const char *vals[2] = {key, value};
	int lens[2] = {sizeof(key), (int)value_len}, fmts[2] = {1, 1};
	PGresult *r;

	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	    table);
	r = PQprepare(w->conn, "ins", sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg baseline: %s", PQerrorMessage(w->conn));
		PQclear(r);
		w->failed = 1;
		return NULL;
	}
	PQclear(r);
	while (now_s() - start < secs) {
		for (size_t i = 0; i < sizeof(key); i += 8) {
			uint64_t x = xorshift(&w->seed);

			memcpy(key + i, &x, 8);
		}
		r = PQexecPrepared(w->conn, "ins", 2, vals, lens, fmts, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pg baseline: %s", PQerrorMessage(w->conn));
			PQclear(r);
			w->failed = 1;
			return NULL;
		}
		PQclear(r);
		w->commits++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *w;
	char sql[256];
	double elapsed;
	long n = 0, nconn = 1;
	int failed = 0;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s URL TABLE SECONDS VALUE_BYTES [CONNECTIONS]\n", argv[0]);
		return 2;
	}
	table = argv[2];
	secs = atof(argv[3]);
	value_len = strtoul(argv[4], NULL, 10);
	if (argc == 6)
		nconn = strtol(argv[5], NULL, 10);
	if (nconn < 1 || nconn > 1024) {
		fprintf(stderr, "pg baseline: CONNECTIONS must be 1..1024\n");
		return 2;
	}
	value = calloc(1, value_len + 1);
	w = calloc((size_t)nconn, sizeof(*w));
	if (value == NULL || w == NULL)
		return 1;
	memset(value, 'v', value_len);
	/* Every connection is made before the clock starts. */
	for (long i = 0; i < nconn; i++) {
		w[i].conn = PQconnectdb(argv[1]);
		if (PQstatus(w[i].conn) != CONNECTION_OK) {
			fprintf(stderr, "pg baseline: %s", PQerrorMessage(w[i].conn));
			return 1;
		}
		w[i].seed = ((uint64_t)time(NULL) << 20) ^ ((uint64_t)i * 0x9e3779b97f4a7c15u) ^ 1u;
	}
	snprintf(sql, sizeof(sql),
	         "CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v bytea NOT NULL)", table);
	if (!exec_ok(w[0].conn, sql))
		return 1;
	start = now_s();
	for (long i = 0; i < nconn; i++)
		if (pthread_create(&w[i].thread, NULL, run, &w[i]) != 0)
			return 1;
	for (long i = 0; i < nconn; i++) {
		pthread_join(w[i].thread, NULL);
		n += w[i].commits;
		failed |= w[i].failed;
	}
	elapsed = now_s() - start;
	for (long i = 0; i < nconn; i++)
		PQfinish(w[i].conn);
	free(w);
	free(value);
	if (failed)
		return 1;
	printf("pg baseline: %ld connection%s, %ld single-row commits in %.1f s = %.0f/s\n", nconn,
	       nconn == 1 ? "" : "s", n, elapsed, (double)n / elapsed);
	return 0;
}
