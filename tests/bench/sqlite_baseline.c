/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite_baseline.c: the durable-write baseline for kv_write.sh: one thread inserting rows of a
 * given size into an SQLite file in WAL mode with synchronous=FULL, one transaction (one fsync)
 * per row, for a number of seconds. Prints the rate.
 * usage: bench_sqlite_baseline DBFILE SECONDS VALUE_BYTES
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	char *value;
	size_t value_len;
	double start, secs;
	long n = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: %s DBFILE SECONDS VALUE_BYTES\n", argv[0]);
		return 2;
	}
	secs = atof(argv[2]);
	value_len = strtoul(argv[3], NULL, 10);
	value = calloc(1, value_len + 1);
	if (value == NULL || sqlite3_open(argv[1], &db) != SQLITE_OK)
		return 1;
	memset(value, 'v', value_len);
	sqlite3_exec(
	    db,
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
	    NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", -1, &ins,
	                       NULL) != SQLITE_OK)
		return 1;
	start = now_s();
	while (now_s() - start < secs) {
		char key[32];

		snprintf(key, sizeof(key), "k%ld", n);
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_blob(ins, 1, key, (int)strlen(key), SQLITE_STATIC);
		sqlite3_bind_blob(ins, 2, value, (int)value_len, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return 1;
		sqlite3_reset(ins);
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return 1;
		n++;
	}
	printf("sqlite baseline: %ld durable inserts in %.1f s = %.0f/s\n", n, now_s() - start,
	       (double)n / (now_s() - start));
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(value);
	return 0;
}
