/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_baseline.c: the durable-write baseline for pg_kv.sh: one connection committing one row per
 * transaction (autocommit) into a table shaped like cofferd's (k bytea PRIMARY KEY, v bytea NOT
 * NULL), an upsert of a 32-byte random key (cofferd's names are MACs) and a value of a given
 * size, through a prepared statement in binary, for a number of seconds. Prints the rate.
 * usage: bench_pg_baseline URL TABLE SECONDS VALUE_BYTES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

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

int main(int argc, char **argv)
{
	char sql[256], key[32];
	const char *vals[2];
	int lens[2], fmts[2] = {1, 1};
	double start, secs;
	size_t value_len;
	char *value;
	PGconn *c;
	PGresult *r;
	long n = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: %s URL TABLE SECONDS VALUE_BYTES\n", argv[0]);
		return 2;
	}
	secs = atof(argv[3]);
	value_len = strtoul(argv[4], NULL, 10);
	value = calloc(1, value_len + 1);
	c = PQconnectdb(argv[1]);
	if (value == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg baseline: %s", PQerrorMessage(c));
		return 1;
	}
	memset(value, 'v', value_len);
	snprintf(sql, sizeof(sql),
	         "CREATE TABLE IF NOT EXISTS %s (k bytea PRIMARY KEY, v bytea NOT NULL)", argv[2]);
	if (!exec_ok(c, sql))
		return 1;
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
	    argv[2]);
	r = PQprepare(c, "ins", sql, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "pg baseline: %s", PQerrorMessage(c));
		return 1;
	}
	PQclear(r);
	srand((unsigned)time(NULL));
	vals[0] = key;
	lens[0] = sizeof(key);
	vals[1] = value;
	lens[1] = (int)value_len;
	start = now_s();
	while (now_s() - start < secs) {
		for (size_t i = 0; i < sizeof(key); i++)
			key[i] = (char)rand();
		r = PQexecPrepared(c, "ins", 2, vals, lens, fmts, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "pg baseline: %s", PQerrorMessage(c));
			return 1;
		}
		PQclear(r);
		n++;
	}
	printf("pg baseline: %ld single-row commits in %.1f s = %.0f/s\n", n, now_s() - start,
	       (double)n / (now_s() - start));
	PQfinish(c);
	free(value);
	return 0;
}
