/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_storage.c: unit tests of the SQLite physical store (server/store/storage_sqlite.c): round
 * trips, prefix scans, atomic batches, persistence, group commit under concurrency, and file
 * settings.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/storage.h"
#include "test.h"
#include "testutil.h"

#define B(s) ((const uint8_t *)(s))

static char test_dir[64];

/* A fresh database path in the test directory, one per test. */
static void db_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.db", test_dir, name);
}

static struct storage *open_store(const char *name)
{
	char path[256];
	struct storage *st = NULL;

	db_path(path, sizeof(path), name);
	if (storage_sqlite_open(path, &st) != 0)
		return NULL;
	return st;
}

static int put_str(struct storage *st, const char *k, const char *v)
{
	return storage_put(st, B(k), strlen(k), B(v), strlen(v));
}

/* 1 when key holds exactly v, 0 when it holds something else, the error code otherwise. */
static int has_value(struct storage *st, const uint8_t *k, size_t k_len, const char *v)
{
	uint8_t *got = NULL;
	size_t got_len = 0;
	int ret = storage_get(st, k, k_len, &got, &got_len);

	if (ret == 0)
		ret = got_len == strlen(v) && memcmp(got, v, got_len) == 0;
	free(got);
	return ret;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scan collector: keys concatenated as "key," for easy comparison (text keys only). */
struct collect {
	char buf[4096];
	size_t len;
	int n;
	int stop_after; /* return 42 after this many entries; 0 never */
};

static int collect_fn(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                      size_t value_len)
{
	struct collect *c = arg;

	(void)value;
	(void)value_len;
	if (c->len + key_len + 2 > sizeof(c->buf))
		return -100;
	memcpy(c->buf + c->len, key, key_len);
	c->len += key_len;
	c->buf[c->len++] = ',';
	c->buf[c->len] = '\0';
	c->n++;
	if (c->stop_after > 0 && c->n >= c->stop_after)
		return 42;
	return 0;
}

static void test_put_get_delete_round_trip(void)
{
	struct storage *st = open_store("roundtrip");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "alpha", "one"), 0);
	CHECK_EQ_OUT(has_value(st, B("alpha"), 5, "one"), 1);
	CHECK_EQ_OUT(storage_delete(st, B("alpha"), 5), 0);
	CHECK_EQ_OUT(has_value(st, B("alpha"), 5, "one"), COFFER_ERR_NOT_FOUND);
out:
	storage_close(st);
}

static void test_get_absent_key_is_not_found(void)
{
	struct storage *st = open_store("absent");
	uint8_t *v = (uint8_t *)"sentinel";
	size_t v_len = 99;

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_get(st, B("nope"), 4, &v, &v_len), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(v == NULL);
	CHECK_EQ_OUT(v_len, 0);
out:
	storage_close(st);
}

static void test_delete_absent_key_succeeds(void)
{
	struct storage *st = open_store("delabsent");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_delete(st, B("ghost"), 5), 0);
out:
	storage_close(st);
}

static void test_binary_keys_with_nul_and_ff_bytes_are_distinct(void)
{
	static const uint8_t k1[] = {0x00}, k2[] = {0x00, 0x00}, k3[] = {0xff, 0x00, 0xff},
	                     k4[] = {0xff};
	struct storage *st = open_store("binary");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_put(st, k1, sizeof(k1), B("a"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, k2, sizeof(k2), B("b"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, k3, sizeof(k3), B("c"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, k4, sizeof(k4), B("d"), 1), 0);
	CHECK_EQ_OUT(has_value(st, k1, sizeof(k1), "a"), 1);
	CHECK_EQ_OUT(has_value(st, k2, sizeof(k2), "b"), 1);
	CHECK_EQ_OUT(has_value(st, k3, sizeof(k3), "c"), 1);
	CHECK_EQ_OUT(has_value(st, k4, sizeof(k4), "d"), 1);
out:
	storage_close(st);
}

static void test_put_overwrites_value(void)
{
	struct storage *st = open_store("overwrite");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "k", "first"), 0);
	CHECK_EQ_OUT(put_str(st, "k", "second, longer"), 0);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "second, longer"), 1);
out:
	storage_close(st);
}

static void test_empty_value_round_trips(void)
{
	struct storage *st = open_store("emptyvalue");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_put(st, B("k"), 1, NULL, 0), 0);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, ""), 1);
out:
	storage_close(st);
}

static void test_batch_rejects_null_key_with_length(void)
{
	struct storage *st = open_store("badop");
	struct storage_op op = {STORAGE_PUT, NULL, 3, B("v"), 1};

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_batch(st, &op, 1), COFFER_ERR_INVALID);
out:
	storage_close(st);
}

static void test_scan_returns_exactly_prefixed_keys_in_order(void)
{
	static const char *const keys[] = {"b/2", "a", "b/1", "b0", "b/10", "b", "c/1", "b/"};
	struct storage *st = open_store("scan");
	struct collect c = {0};
	size_t i;

	CHECK_OUT(st != NULL);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK_EQ_OUT(put_str(st, keys[i], "v"), 0);
	CHECK_EQ_OUT(storage_scan(st, B("b/"), 2, collect_fn, &c), 0);
	CHECK_OUT(strcmp(c.buf, "b/,b/1,b/10,b/2,") == 0);
	memset(&c, 0, sizeof(c));
	CHECK_EQ_OUT(storage_scan(st, B("zz"), 2, collect_fn, &c), 0);
	CHECK_EQ_OUT(c.n, 0);
out:
	storage_close(st);
}

static int count_fn(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                    size_t value_len)
{
	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	(*(int *)arg)++;
	return 0;
}

static void test_scan_prefix_ending_in_ff_bytes(void)
{
	static const uint8_t p[] = {'a', 0xff}, in1[] = {'a', 0xff},
	                     in2[] = {'a', 0xff, 0xff, 0x01}, out1[] = {'a', 0xfe, 0xff},
	                     out2[] = {'b'}, all_ff[] = {0xff, 0xff}, in3[] = {0xff, 0xff, 0x00};
	struct storage *st = open_store("scanff");
	int n = 0;

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(storage_put(st, in1, sizeof(in1), B("v"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, in2, sizeof(in2), B("v"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, out1, sizeof(out1), B("v"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, out2, sizeof(out2), B("v"), 1), 0);
	CHECK_EQ_OUT(storage_put(st, in3, sizeof(in3), B("v"), 1), 0);
	CHECK_EQ_OUT(storage_scan(st, p, sizeof(p), count_fn, &n), 0);
	CHECK_EQ_OUT(n, 2);
	/* A prefix of only 0xff bytes has no upper bound. */
	n = 0;
	CHECK_EQ_OUT(storage_scan(st, all_ff, sizeof(all_ff), count_fn, &n), 0);
	CHECK_EQ_OUT(n, 1);
out:
	storage_close(st);
}

static void test_scan_empty_prefix_returns_all_in_order(void)
{
	struct storage *st = open_store("scanall");
	struct collect c = {0};

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "m", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "a", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "z", "v"), 0);
	CHECK_EQ_OUT(storage_scan(st, NULL, 0, collect_fn, &c), 0);
	CHECK_OUT(strcmp(c.buf, "a,m,z,") == 0);
out:
	storage_close(st);
}

static void test_scan_stops_with_callback_value(void)
{
	struct storage *st = open_store("scanstop");
	struct collect c = {.stop_after = 2};

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "p1", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "p2", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "p3", "v"), 0);
	CHECK_EQ_OUT(storage_scan(st, B("p"), 1, collect_fn, &c), 42);
	CHECK_EQ_OUT(c.n, 2);
	/* The cached statement was reset: a new scan starts from the beginning. */
	memset(&c, 0, sizeof(c));
	CHECK_EQ_OUT(storage_scan(st, B("p"), 1, collect_fn, &c), 0);
	CHECK_OUT(strcmp(c.buf, "p1,p2,p3,") == 0);
out:
	storage_close(st);
}

/* Scans from inside a scan callback on the same thread (the cached statement is busy). */
static int nested_fn(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                     size_t value_len)
{
	struct storage *st = arg;
	int n = 0, ret;

	(void)key;
	(void)key_len;
	(void)value;
	(void)value_len;
	ret = storage_scan(st, B("p"), 1, count_fn, &n);
	return ret != 0 ? ret : (n == 3 ? 0 : -200);
}

static void test_scan_may_nest_in_callback(void)
{
	struct storage *st = open_store("scannest");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "p1", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "p2", "v"), 0);
	CHECK_EQ_OUT(put_str(st, "p3", "v"), 0);
	CHECK_EQ_OUT(storage_scan(st, B("p"), 1, nested_fn, st), 0);
out:
	storage_close(st);
}

struct atomic_ctx {
	struct storage *st;
	int n_batches;
	int is_writing_done;
	int n_torn; /* reader saw a half-applied batch */
	int n_seen;
};

/* Each batch i sets x=i and y=i, deletes z<i-1> and adds z<i>; readers must never see a mix. */
static void *atomic_writer(void *arg)
{
	struct atomic_ctx *ctx = arg;
	char v[16], z_old[16], z_new[16];
	int i;

	for (i = 1; i <= ctx->n_batches; i++) {
		snprintf(v, sizeof(v), "%05d", i);
		snprintf(z_old, sizeof(z_old), "z%05d", i - 1);
		snprintf(z_new, sizeof(z_new), "z%05d", i);
		struct storage_op ops[] = {
		    {STORAGE_PUT, B("x"), 1, B(v), 5},
		    {STORAGE_DELETE, B(z_old), 6, NULL, 0},
		    {STORAGE_PUT, B(z_new), 6, B(v), 5},
		    {STORAGE_PUT, B("y"), 1, B(v), 5},
		};
		if (storage_batch(ctx->st, ops, 4) != 0)
			break;
	}
	__atomic_store_n(&ctx->is_writing_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* One snapshot of the atomic test's store: x, y and z<i> with their values. */
struct snapshot {
	int n;
	char kv[3][2][16];
};

static int snapshot_fn(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
	struct snapshot *s = arg;

	if (s->n >= 3 || key_len >= 16 || value_len >= 16)
		return -100;
	memcpy(s->kv[s->n][0], key, key_len);
	s->kv[s->n][0][key_len] = '\0';
	memcpy(s->kv[s->n][1], value, value_len);
	s->kv[s->n][1][value_len] = '\0';
	s->n++;
	return 0;
}

/* x = y = v and the only z key is z<v>. */
static int snapshot_is_consistent(const struct snapshot *s)
{
	return s->n == 3 && strcmp(s->kv[0][0], "x") == 0 && strcmp(s->kv[1][0], "y") == 0 &&
	       s->kv[2][0][0] == 'z' && strcmp(s->kv[2][0] + 1, s->kv[0][1]) == 0 &&
	       strcmp(s->kv[0][1], s->kv[1][1]) == 0 && strcmp(s->kv[1][1], s->kv[2][1]) == 0;
}

static void test_batch_is_visible_all_together(void)
{
	struct atomic_ctx ctx = {.n_batches = 150};
	struct storage_op init[] = {
	    {STORAGE_PUT, B("x"), 1, B("00000"), 5},
	    {STORAGE_PUT, B("y"), 1, B("00000"), 5},
	    {STORAGE_PUT, B("z00000"), 6, B("00000"), 5},
	};
	struct snapshot snap;
	pthread_t writer;
	char want[16];

	ctx.st = open_store("atomic");
	CHECK_OUT(ctx.st != NULL);
	CHECK_EQ_OUT(storage_batch(ctx.st, init, 3), 0);
	CHECK_EQ_OUT(pthread_create(&writer, NULL, atomic_writer, &ctx), 0);
	while (!__atomic_load_n(&ctx.is_writing_done, __ATOMIC_ACQUIRE)) {
		memset(&snap, 0, sizeof(snap));
		if (storage_scan(ctx.st, NULL, 0, snapshot_fn, &snap) != 0 ||
		    !snapshot_is_consistent(&snap))
			ctx.n_torn++;
		ctx.n_seen++;
	}
	pthread_join(writer, NULL);
	CHECK_EQ_OUT(ctx.n_torn, 0);
	snprintf(want, sizeof(want), "%05d", ctx.n_batches);
	CHECK_EQ_OUT(has_value(ctx.st, B("x"), 1, want), 1);
	CHECK_EQ_OUT(has_value(ctx.st, B("y"), 1, want), 1);
	fprintf(stderr, "     %d consistent snapshots seen\n", ctx.n_seen);
out:
	storage_close(ctx.st);
}

static void test_batch_applies_puts_and_deletes(void)
{
	struct storage *st = open_store("batch");
	struct storage_op ops[] = {
	    {STORAGE_PUT, B("a"), 1, B("1"), 1},
	    {STORAGE_DELETE, B("old"), 3, NULL, 0},
	    {STORAGE_PUT, B("b"), 1, B("2"), 1},
	    {STORAGE_PUT, B("a"), 1, B("3"), 1}, /* later ops win */
	};

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "old", "x"), 0);
	CHECK_EQ_OUT(storage_batch(st, ops, 4), 0);
	CHECK_EQ_OUT(has_value(st, B("a"), 1, "3"), 1);
	CHECK_EQ_OUT(has_value(st, B("b"), 1, "2"), 1);
	CHECK_EQ_OUT(has_value(st, B("old"), 3, "x"), COFFER_ERR_NOT_FOUND);
out:
	storage_close(st);
}

static void test_data_persists_across_reopen(void)
{
	struct storage *st = open_store("persist");

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "kept", "value"), 0);
	CHECK_EQ_OUT(put_str(st, "gone", "value"), 0);
	CHECK_EQ_OUT(storage_delete(st, B("gone"), 4), 0);
	storage_close(st);
	st = open_store("persist");
	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(has_value(st, B("kept"), 4, "value"), 1);
	CHECK_EQ_OUT(has_value(st, B("gone"), 4, "value"), COFFER_ERR_NOT_FOUND);
out:
	storage_close(st);
}

#define CONC_THREADS 16
#define CONC_PUTS 200

struct conc_ctx {
	struct storage *st;
	int id;
	int n_failed;
};

static void *conc_writer(void *arg)
{
	struct conc_ctx *ctx = arg;
	char k[32];
	int i;

	for (i = 0; i < CONC_PUTS; i++) {
		snprintf(k, sizeof(k), "t%02d-%04d", ctx->id, i);
		if (put_str(ctx->st, k, k) != 0)
			ctx->n_failed++;
	}
	return NULL;
}

static void test_concurrent_puts_all_commit(void)
{
	struct conc_ctx ctx[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	struct storage *st = open_store("concurrent");
	char k[32];
	double t0, t_conc, t_seq;
	int i, j, n = 0, n_started = 0, n_joined = 0;

	CHECK_OUT(st != NULL);
	t0 = now_s();
	for (i = 0; i < CONC_THREADS; i++) {
		ctx[i] = (struct conc_ctx){.st = st, .id = i};
		CHECK_EQ_OUT(pthread_create(&th[i], NULL, conc_writer, &ctx[i]), 0);
		n_started++;
	}
	for (i = 0; i < CONC_THREADS; i++) {
		pthread_join(th[i], NULL);
		n_joined++;
	}
	t_conc = now_s() - t0;
	for (i = 0; i < CONC_THREADS; i++) {
		CHECK_EQ_OUT(ctx[i].n_failed, 0);
		for (j = 0; j < CONC_PUTS; j++) {
			snprintf(k, sizeof(k), "t%02d-%04d", i, j);
			CHECK_EQ_OUT(has_value(st, B(k), strlen(k), k), 1);
		}
	}
	CHECK_EQ_OUT(storage_scan(st, B("t"), 1, count_fn, &n), 0);
	CHECK_EQ_OUT(n, CONC_THREADS * CONC_PUTS);
	/* The same number of puts from one thread: one fsync each, no grouping possible. */
	t0 = now_s();
	for (i = 0; i < CONC_THREADS * CONC_PUTS; i++) {
		snprintf(k, sizeof(k), "s%05d", i);
		CHECK_EQ_OUT(put_str(st, k, k), 0);
	}
	t_seq = now_s() - t0;
	fprintf(stderr, "     %d puts: %d threads %.2f s, one thread %.2f s (%.1fx)\n",
	        CONC_THREADS * CONC_PUTS, CONC_THREADS, t_conc, t_seq, t_seq / t_conc);
out:
	/* The writers use the store: join those still running before it goes. */
	while (n_joined < n_started)
		pthread_join(th[n_joined++], NULL);
	storage_close(st);
}

/* Checkpoints go through the writer, so they are safe beside concurrent writes. */
static void test_checkpoint_truncates_wal_beside_writes(void)
{
	struct conc_ctx ctx[4];
	pthread_t th[4];
	struct storage *st = open_store("checkpoint");
	char path[256];
	struct stat sb;
	int i, n_started = 0, n_joined = 0;

	CHECK_OUT(st != NULL);
	for (i = 0; i < 4; i++) {
		ctx[i] = (struct conc_ctx){.st = st, .id = i};
		CHECK_EQ_OUT(pthread_create(&th[i], NULL, conc_writer, &ctx[i]), 0);
		n_started++;
	}
	for (i = 0; i < 20; i++)
		CHECK_EQ_OUT(storage_checkpoint(st), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		n_joined++;
		CHECK_EQ_OUT(ctx[i].n_failed, 0);
	}
	CHECK_EQ_OUT(storage_checkpoint(st), 0);
	db_path(path, sizeof(path), "checkpoint");
	strcat(path, "-wal");
	CHECK_EQ_OUT(stat(path, &sb), 0);
	CHECK_EQ_OUT(sb.st_size, 0);
	CHECK_EQ_OUT(has_value(st, B("t03-0199"), 8, "t03-0199"), 1);
out:
	/* The writers use the store: join those still running before it goes. */
	while (n_joined < n_started)
		pthread_join(th[n_joined++], NULL);
	storage_close(st);
}

/* Reads one text row of sql from an independent connection. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t out_len)
{
	sqlite3_stmt *stmt = NULL;
	int ret = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
	    sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL) {
		snprintf(out, out_len, "%s", (const char *)sqlite3_column_text(stmt, 0));
		ret = 0;
	}
	sqlite3_finalize(stmt);
	return ret;
}

static void test_file_is_private_wal_without_rowid(void)
{
	struct storage *st = open_store("pragmas");
	char path[256], wal[300], text[256];
	struct stat sb;
	sqlite3 *db = NULL;

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(put_str(st, "k", "v"), 0);
	db_path(path, sizeof(path), "pragmas");
	CHECK_EQ_OUT(stat(path, &sb), 0);
	CHECK_EQ_OUT(sb.st_mode & 0777, 0600);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK_EQ_OUT(stat(wal, &sb), 0);
	CHECK_EQ_OUT(sb.st_mode & 0777, 0600);
	CHECK_EQ_OUT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CHECK_EQ_OUT(query_text(db, "PRAGMA journal_mode", text, sizeof(text)), 0);
	CHECK_OUT(strcmp(text, "wal") == 0);
	CHECK_EQ_OUT(
	    query_text(db, "SELECT sql FROM sqlite_schema WHERE name = 'kv'", text, sizeof(text)),
	    0);
	CHECK_OUT(strstr(text, "WITHOUT ROWID") != NULL);
out:
	sqlite3_close(db);
	storage_close(st);
}

static void test_existing_loose_file_is_made_private(void)
{
	char path[256];
	struct stat sb;
	struct storage *st = NULL;
	FILE *f;

	db_path(path, sizeof(path), "loose");
	f = fopen(path, "w");
	CHECK_OUT(f != NULL);
	fclose(f);
	CHECK_EQ_OUT(chmod(path, 0644), 0);
	st = open_store("loose");
	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(stat(path, &sb), 0);
	CHECK_EQ_OUT(sb.st_mode & 0777, 0600);
out:
	storage_close(st);
}

static void test_open_fails_in_missing_directory(void)
{
	struct storage *st = (struct storage *)&st;

	CHECK_EQ(storage_sqlite_open("/nonexistent-coffer-dir/x.db", &st), COFFER_ERR_IO);
	CHECK(st == NULL);
	storage_close(NULL);
}

/* The record cache: a read after a write, a delete, or a put-if-absent sees the new state, never
 * a value (or an absence) remembered from before. */
static void test_cache_never_serves_a_replaced_value(void)
{
	struct storage *st = open_store("cache");
	struct storage_op op = {STORAGE_PUT_IF_ABSENT, B("k"), 1, B("ignored"), 7};

	CHECK_OUT(st != NULL);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "x"), COFFER_ERR_NOT_FOUND); /* remembered absent */
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "x"), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(put_str(st, "k", "v1"), 0);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "v1"), 1); /* fills the cache */
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "v1"), 1);
	CHECK_EQ_OUT(put_str(st, "k", "v2"), 0);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "v2"), 1);
	CHECK_EQ_OUT(storage_batch(st, &op, 1), 0); /* present: ignored */
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "v2"), 1);
	CHECK_EQ_OUT(storage_delete(st, B("k"), 1), 0);
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "v2"), COFFER_ERR_NOT_FOUND);
	CHECK_EQ_OUT(storage_batch(st, &op, 1), 0); /* absent: written */
	CHECK_EQ_OUT(has_value(st, B("k"), 1, "ignored"), 1);
out:
	storage_close(st);
}

struct cache_race {
	struct storage *st;
	int is_stopping;
	int has_stale;
};

/* Readers must see a counter that never goes back while a writer raises it. */
static void *cache_race_reader(void *arg)
{
	struct cache_race *r = arg;
	long last = -1, v;
	uint8_t *got;
	size_t len;
	char buf[32];

	while (!__atomic_load_n(&r->is_stopping, __ATOMIC_ACQUIRE)) {
		got = NULL;
		if (storage_get(r->st, B("counter"), 7, &got, &len) != 0)
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)len, (const char *)got);
		free(got);
		v = strtol(buf, NULL, 10);
		if (v < last)
			__atomic_store_n(&r->has_stale, 1, __ATOMIC_RELEASE);
		last = v;
	}
	return NULL;
}

static void test_cache_readers_never_go_back_in_time(void)
{
	struct cache_race r = {open_store("cacherace"), 0, 0};
	pthread_t readers[4];
	char v[32];
	int i, n_started = 0;

	CHECK_OUT(r.st != NULL);
	for (i = 0; i < 4; i++) {
		CHECK_EQ_OUT(pthread_create(&readers[i], NULL, cache_race_reader, &r), 0);
		n_started++;
	}
	for (i = 0; i < 300; i++) {
		snprintf(v, sizeof(v), "%d", i);
		CHECK_EQ_OUT(put_str(r.st, "counter", v), 0);
	}
	__atomic_store_n(&r.is_stopping, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 4; i++)
		pthread_join(readers[i], NULL);
	n_started = 0;
	CHECK_EQ_OUT(has_value(r.st, B("counter"), 7, "299"), 1);
	CHECK_EQ_OUT(r.has_stale, 0);
out:
	/* The readers use the store: stop and join those still running before it goes. */
	__atomic_store_n(&r.is_stopping, 1, __ATOMIC_RELEASE);
	while (n_started > 0)
		pthread_join(readers[--n_started], NULL);
	storage_close(r.st);
}

int main(void)
{
	int ret;

	if (testutil_mkdtemp(test_dir, sizeof(test_dir), "storage") != 0) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_put_get_delete_round_trip);
	RUN(test_cache_never_serves_a_replaced_value);
	RUN(test_cache_readers_never_go_back_in_time);
	RUN(test_get_absent_key_is_not_found);
	RUN(test_delete_absent_key_succeeds);
	RUN(test_binary_keys_with_nul_and_ff_bytes_are_distinct);
	RUN(test_put_overwrites_value);
	RUN(test_empty_value_round_trips);
	RUN(test_batch_rejects_null_key_with_length);
	RUN(test_scan_returns_exactly_prefixed_keys_in_order);
	RUN(test_scan_prefix_ending_in_ff_bytes);
	RUN(test_scan_empty_prefix_returns_all_in_order);
	RUN(test_scan_stops_with_callback_value);
	RUN(test_scan_may_nest_in_callback);
	RUN(test_batch_applies_puts_and_deletes);
	RUN(test_batch_is_visible_all_together);
	RUN(test_data_persists_across_reopen);
	RUN(test_concurrent_puts_all_commit);
	RUN(test_checkpoint_truncates_wal_beside_writes);
	RUN(test_file_is_private_wal_without_rowid);
	RUN(test_existing_loose_file_is_made_private);
	RUN(test_open_fails_in_missing_directory);
	ret = test_summary();
	testutil_rmtree(test_dir);
	return ret;
}
