/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_barrier.c: unit tests of server/store/barrier.c over a real SQLite store in a temporary
 * directory: round trips, listing through the directory index and its pruning, sealing, rotation,
 * tampering with records in the database file (invariant 2), and concurrent writers in one folder.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/barrier.h"
#include "crypto.h"
#include "json.h"
#include "secmem.h"
#include "store/storage.h"
#include "test.h"
#include "testutil.h"

struct fixture {
	char dir[64];
	char db[128];
	struct storage *st;
	struct barrier *b;
	uint8_t root_key[COFFER_KEY_LEN];
};

/* A fresh store in a new directory, with a new barrier that is still sealed. */
static int fixture_create(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "barrier") != 0)
		return -1;
	coffer_random(f->root_key, sizeof(f->root_key));
	return testutil_open_barrier(f->db, &f->st, &f->b);
}

/* A fresh store with an initialized, unsealed barrier. */
static int fixture_init(struct fixture *f)
{
	if (fixture_create(f) != 0)
		return -1;
	return barrier_initialize(f->b, f->root_key);
}

static void fixture_close(struct fixture *f)
{
	testutil_close_barrier(&f->st, &f->b);
}

/* Reopen the store and unseal a new barrier with the same root key. */
static int fixture_reopen(struct fixture *f)
{
	if (testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	return barrier_unseal(f->b, f->root_key);
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	fixture_close(f);
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
}

static int put_str(struct barrier *b, const char *path, const char *value)
{
	return barrier_put(b, path, (const uint8_t *)value, strlen(value));
}

/* 1 when path holds exactly value. */
static int get_equals(struct barrier *b, const char *path, const char *value)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int is_equal;

	if (barrier_get(b, path, &v, &len) != 0)
		return 0;
	is_equal = len == strlen(value) && memcmp(v, value, len) == 0;
	secmem_freezero(v, len);
	return is_equal;
}

/* 1 when listing folder gives exactly the n names of want, in order. */
static int list_equals(struct barrier *b, const char *folder, const char *const *want, size_t n)
{
	char **keys = NULL;
	size_t n_keys = 0;
	int is_equal;

	if (barrier_list(b, folder, &keys, &n_keys) != 0)
		return 0;
	is_equal = n_keys == n;
	for (size_t i = 0; is_equal && i < n; i++)
		is_equal = strcmp(keys[i], want[i]) == 0;
	barrier_list_free(keys, n_keys);
	return is_equal;
}

struct raw_rows {
	size_t n;
	uint8_t key[8][80];
	size_t key_len[8];
	uint32_t term[8];
};

static int raw_scan_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *value,
                       size_t value_len)
{
	struct raw_rows *r = arg;

	if (r->n < 8 && key_len <= sizeof(r->key[0]) && value_len >= 5) {
		memcpy(r->key[r->n], key, key_len);
		r->key_len[r->n] = key_len;
		r->term[r->n] = (uint32_t)value[1] << 24 | (uint32_t)value[2] << 16 |
		                (uint32_t)value[3] << 8 | value[4];
	}
	r->n++;
	return 0;
}

/* The physical rows whose key starts with the one-byte prefix c ('d' data, 'i' index). */
static int raw_rows(struct storage *st, char c, struct raw_rows *out)
{
	uint8_t prefix = (uint8_t)c;

	memset(out, 0, sizeof(*out));
	return storage_scan(st, &prefix, 1, raw_scan_cb, out);
}

/* How many physical rows have a key that starts with c, or -1 when the scan fails. */
static long raw_count(struct storage *st, char c)
{
	struct raw_rows r;

	return raw_rows(st, c, &r) == 0 ? (long)r.n : -1;
}

static void test_put_get_delete_round_trip(void)
{
	struct fixture f = {0};
	uint8_t *v = (uint8_t *)1;
	size_t len = 1;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "app/db", "hunter2"), 0);
	CHECK_OUT(get_equals(f.b, "app/db", "hunter2"));
	CHECK_EQ_OUT(put_str(f.b, "app/db", "hunter3"), 0);
	CHECK_OUT(get_equals(f.b, "app/db", "hunter3"));
	CHECK_EQ_OUT(barrier_put(f.b, "empty", NULL, 0), 0);
	CHECK_OUT(get_equals(f.b, "empty", ""));
	CHECK_EQ_OUT(barrier_delete(f.b, "app/db"), 0);
	CHECK_EQ_OUT(barrier_get(f.b, "app/db", &v, &len), COFFER_ERR_NOT_FOUND);
	CHECK_OUT(v == NULL && len == 0);
	CHECK_EQ_OUT(barrier_delete(f.b, "app/db"), 0); /* absent is not an error */
	CHECK_EQ_OUT(barrier_delete(f.b, "never/was"), 0);
out:
	fixture_destroy(&f);
}

static void test_invalid_paths_are_rejected(void)
{
	static const char *const bad[] = {"", "/a", "a/", "a//b"};
	struct fixture f = {0};
	uint8_t *v = NULL;
	size_t len = 0;
	char **keys = NULL;
	size_t n = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_OUT(put_str(f.b, bad[i], "x"), COFFER_ERR_INVALID);
		CHECK_EQ_OUT(barrier_get(f.b, bad[i], &v, &len), COFFER_ERR_INVALID);
		CHECK_EQ_OUT(barrier_delete(f.b, bad[i]), COFFER_ERR_INVALID);
	}
	CHECK_EQ_OUT(barrier_list(f.b, "a", &keys, &n), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(barrier_list(f.b, "/a/", &keys, &n), COFFER_ERR_INVALID);
out:
	barrier_list_free(keys, n);
	secmem_freezero(v, len);
	fixture_destroy(&f);
}

static void test_list_shows_one_level_of_nested_folders(void)
{
	static const char *const root[] = {"a/"};
	static const char *const a[] = {"b/", "d"};
	static const char *const ab[] = {"c"};
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/b/c", "1"), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/d", "2"), 0);
	CHECK_OUT(list_equals(f.b, "", root, 1));
	CHECK_OUT(list_equals(f.b, "a/", a, 2));
	CHECK_OUT(list_equals(f.b, "a/b/", ab, 1));
	CHECK_OUT(list_equals(f.b, "nothing/", NULL, 0));
out:
	fixture_destroy(&f);
}

static void test_list_shows_leaf_and_folder_of_same_name(void)
{
	static const char *const a[] = {"b", "b/", "z"};
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/z", "3"), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/b/c", "1"), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/b", "2"), 0);
	CHECK_OUT(list_equals(f.b, "a/", a, 3));
	CHECK_EQ_OUT(barrier_delete(f.b, "a/b/c"), 0);
	CHECK_OUT(list_equals(f.b, "a/", (const char *const[]){"b", "z"}, 2));
out:
	fixture_destroy(&f);
}

static void test_delete_prunes_empty_folder_rows(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/b/c", "1"), 0);
	CHECK_EQ_OUT(put_str(f.b, "a/d", "2"), 0);
	CHECK_EQ_OUT(put_str(f.b, "x", "3"), 0);
	CHECK_EQ_OUT(barrier_delete(f.b, "a/b/c"), 0);
	CHECK_OUT(list_equals(f.b, "a/", (const char *const[]){"d"}, 1));
	CHECK_OUT(list_equals(f.b, "a/b/", NULL, 0));
	CHECK_EQ_OUT(barrier_delete(f.b, "a/d"), 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"x"}, 1));
	CHECK_EQ_OUT(barrier_delete(f.b, "x"), 0);
	CHECK_OUT(list_equals(f.b, "", NULL, 0));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 0);
	CHECK_EQ_OUT(raw_count(f.st, 'd'), 0);
out:
	fixture_destroy(&f);
}

static void test_batch_applies_puts_and_deletes_in_order(void)
{
	struct fixture f = {0};
	const struct barrier_op first[] = {
	    {BARRIER_PUT, "f/one", (const uint8_t *)"1", 1},
	    {BARRIER_PUT, "f/g/two", (const uint8_t *)"2", 1},
	    {BARRIER_PUT, "h/three", (const uint8_t *)"3", 1},
	};
	const struct barrier_op second[] = {
	    {BARRIER_DELETE, "f/one", NULL, 0},
	    {BARRIER_DELETE, "f/g/two", NULL, 0},
	    {BARRIER_DELETE, "h/three", NULL, 0},
	    {BARRIER_PUT, "h/three", (const uint8_t *)"4", 1},
	};
	const struct barrier_op third[] = {
	    {BARRIER_PUT, "f/g/two", (const uint8_t *)"5", 1},
	    {BARRIER_DELETE, "f/g/two", NULL, 0},
	    {BARRIER_DELETE, "h/three", NULL, 0},
	};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(barrier_batch(f.b, first, 3), 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"f/", "h/"}, 2));
	CHECK_OUT(list_equals(f.b, "f/", (const char *const[]){"g/", "one"}, 2));
	CHECK_EQ_OUT(barrier_batch(f.b, second, 4), 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"h/"}, 1));
	CHECK_OUT(get_equals(f.b, "h/three", "4"));
	CHECK_EQ_OUT(barrier_batch(f.b, third, 3), 0);
	CHECK_OUT(list_equals(f.b, "", NULL, 0));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 0);
out:
	fixture_destroy(&f);
}

/* Folders pruned by a delete come back when written again: the barrier's memory of stored index
 * rows (which lets a put skip folders it knows) must forget what a delete removed. */
static void test_folder_written_again_after_prune_is_listed(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "x/y/z", "1"), 0);
	CHECK_EQ_OUT(put_str(f.b, "x/y/z", "2"), 0); /* a second put of known folders */
	CHECK_EQ_OUT(barrier_delete(f.b, "x/y/z"), 0);
	CHECK_OUT(list_equals(f.b, "", NULL, 0));
	CHECK_EQ_OUT(put_str(f.b, "x/y/w", "3"), 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"x/"}, 1));
	CHECK_OUT(list_equals(f.b, "x/", (const char *const[]){"y/"}, 1));
	CHECK_OUT(list_equals(f.b, "x/y/", (const char *const[]){"w"}, 1));
	/* Sealing forgets too, and a put after unseal still finds its folders. */
	barrier_seal(f.b);
	CHECK_EQ_OUT(barrier_unseal(f.b, f.root_key), 0);
	CHECK_EQ_OUT(barrier_delete(f.b, "x/y/w"), 0);
	CHECK_EQ_OUT(put_str(f.b, "x/v", "4"), 0);
	CHECK_OUT(list_equals(f.b, "x/", (const char *const[]){"v"}, 1));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 2);
out:
	fixture_destroy(&f);
}

/* Unlisted records: one data row each, readable, never listed, removed by an unlisted delete
 * without touching the index of listed siblings. */
static void test_unlisted_records_have_no_index_rows(void)
{
	struct fixture f = {0};
	const struct barrier_op put[] = {
	    {BARRIER_PUT, "k/listed", (const uint8_t *)"1", 1},
	    {BARRIER_PUT_UNLISTED, "k/hidden/1", (const uint8_t *)"2", 1},
	    {BARRIER_PUT_UNLISTED, "k/hidden/2", (const uint8_t *)"3", 1},
	};
	const struct barrier_op del[] = {
	    {BARRIER_DELETE_UNLISTED, "k/hidden/1", NULL, 0},
	    {BARRIER_DELETE_UNLISTED, "k/hidden/2", NULL, 0},
	};
	char **paths = NULL;
	size_t n = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(barrier_batch(f.b, put, 3), 0);
	CHECK_OUT(get_equals(f.b, "k/hidden/1", "2"));
	CHECK_OUT(get_equals(f.b, "k/hidden/2", "3"));
	CHECK_OUT(list_equals(f.b, "k/", (const char *const[]){"listed"}, 1));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 2); /* "k/" and "k/listed" */
	CHECK_EQ_OUT(raw_count(f.st, 'd'), 3);
	CHECK_EQ_OUT(barrier_list_tree(f.b, "", &paths, &n), 0);
	CHECK_EQ_OUT(n, 1);
	CHECK_OUT(n == 1 && strcmp(paths[0], "k/listed") == 0);
	barrier_list_free(paths, n);
	paths = NULL;
	CHECK_EQ_OUT(barrier_batch(f.b, del, 2), 0);
	CHECK_EQ_OUT(raw_count(f.st, 'd'), 1);
	CHECK_OUT(list_equals(f.b, "k/", (const char *const[]){"listed"}, 1));
out:
	barrier_list_free(paths, n);
	fixture_destroy(&f);
}

static void test_list_tree_walks_every_level(void)
{
	static const char *const want[] = {"t/a", "t/b/c", "t/b/d/e", "t/f"};
	struct fixture f = {0};
	char **paths = NULL;
	size_t n = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ_OUT(put_str(f.b, want[i], "v"), 0);
	CHECK_EQ_OUT(put_str(f.b, "u/other", "v"), 0);
	CHECK_EQ_OUT(barrier_list_tree(f.b, "t/", &paths, &n), 0);
	CHECK_EQ_OUT(n, 4);
	for (size_t i = 0; i < n && i < 4; i++)
		CHECK_OUT(strcmp(paths[i], want[i]) == 0);
out:
	barrier_list_free(paths, n);
	fixture_destroy(&f);
}

static void test_sealed_barrier_refuses_every_call(void)
{
	struct fixture f = {0};
	struct barrier_key_status ks;
	struct barrier_op op = {BARRIER_PUT, "a", (const uint8_t *)"x", 1};
	uint8_t mac[COFFER_MAC_LEN], *v = NULL;
	size_t len = 0, n = 0;
	char **keys = NULL;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
	CHECK_EQ_OUT(put_str(f.b, "a", "x"), 0);
	barrier_seal(f.b);
	CHECK_OUT(barrier_is_sealed(f.b));
	CHECK_EQ_OUT(barrier_get(f.b, "a", &v, &len), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(put_str(f.b, "a", "y"), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_delete(f.b, "a"), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_batch(f.b, &op, 1), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_list(f.b, "", &keys, &n), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_rotate(f.b), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_key_status(f.b, &ks), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(barrier_hash(f.b, "l", "m", 1, mac), COFFER_ERR_SEALED);
out:
	barrier_list_free(keys, n);
	secmem_freezero(v, len);
	fixture_destroy(&f);
}

static void test_unseal_needs_the_right_root_key(void)
{
	struct fixture f = {0};
	uint8_t wrong[COFFER_KEY_LEN];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "a", "x"), 0);
	CHECK_EQ_OUT(barrier_initialize(f.b, f.root_key), COFFER_ERR_EXISTS);
	barrier_seal(f.b);
	memcpy(wrong, f.root_key, sizeof(wrong));
	wrong[0] ^= 1;
	CHECK_EQ_OUT(barrier_unseal(f.b, wrong), COFFER_ERR_INTEGRITY);
	CHECK_OUT(barrier_is_sealed(f.b));
	CHECK_EQ_OUT(barrier_unseal(f.b, f.root_key), 0);
	CHECK_OUT(get_equals(f.b, "a", "x"));
	fixture_close(&f);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_OUT(get_equals(f.b, "a", "x"));
out:
	fixture_destroy(&f);
}

static void test_unseal_of_empty_store_is_uninitialized(void)
{
	struct fixture f = {0};

	CHECK_EQ_OUT(fixture_create(&f), 0);
	CHECK_OUT(barrier_is_sealed(f.b));
	CHECK_EQ_OUT(barrier_unseal(f.b, f.root_key), COFFER_ERR_UNINIT);
out:
	fixture_destroy(&f);
}

static void test_rotate_keeps_old_data_and_writes_with_new_term(void)
{
	struct fixture f = {0};
	struct barrier_key_status ks;
	struct raw_rows r;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "old", "before"), 0);
	CHECK_EQ_OUT(barrier_key_status(f.b, &ks), 0);
	CHECK_EQ_OUT(ks.term, 1);
	CHECK_OUT(ks.encryptions >= 2); /* the data row and its index row */
	CHECK_EQ_OUT(barrier_rotate(f.b), 0);
	CHECK_EQ_OUT(barrier_key_status(f.b, &ks), 0);
	CHECK_EQ_OUT(ks.term, 2);
	CHECK_EQ_OUT(ks.encryptions, 0);
	CHECK_OUT(get_equals(f.b, "old", "before"));
	CHECK_EQ_OUT(raw_rows(f.st, 'd', &r), 0);
	CHECK_EQ_OUT(r.n, 1);
	CHECK_EQ_OUT(r.term[0], 1);
	CHECK_EQ_OUT(put_str(f.b, "new", "after"), 0);
	CHECK_EQ_OUT(raw_rows(f.st, 'd', &r), 0);
	CHECK_EQ_OUT(r.n, 2);
	CHECK_EQ_OUT(r.term[0] + r.term[1], 3); /* one row of each term */
	CHECK_OUT(r.term[0] != r.term[1]);
	/* The rotated keyring is what was persisted. */
	fixture_close(&f);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_EQ_OUT(barrier_key_status(f.b, &ks), 0);
	CHECK_EQ_OUT(ks.term, 2);
	CHECK_OUT(get_equals(f.b, "old", "before"));
	CHECK_OUT(get_equals(f.b, "new", "after"));
out:
	fixture_destroy(&f);
}

static void test_hash_is_keyed_and_labelled(void)
{
	struct fixture f = {0}, g = {0};
	uint8_t h1[COFFER_MAC_LEN], h2[COFFER_MAC_LEN], h3[COFFER_MAC_LEN], h4[COFFER_MAC_LEN];

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(fixture_init(&g), 0);
	CHECK_EQ_OUT(barrier_hash(f.b, "token", "abc", 3, h1), 0);
	CHECK_EQ_OUT(barrier_hash(f.b, "token", "abc", 3, h2), 0);
	CHECK_EQ_OUT(barrier_hash(f.b, "other", "abc", 3, h3), 0);
	CHECK_EQ_OUT(barrier_hash(g.b, "token", "abc", 3, h4), 0);
	CHECK_OUT(memcmp(h1, h2, sizeof(h1)) == 0);
	CHECK_OUT(memcmp(h1, h3, sizeof(h1)) != 0);
	CHECK_OUT(memcmp(h1, h4, sizeof(h1)) != 0);
out:
	fixture_destroy(&g);
	fixture_destroy(&f);
}

/* Run sql on the closed database file with key blobs bound to ?1 and ?2. */
static int sql_run(const char *db_path, const char *sql, const uint8_t *k1, size_t k1_len,
                   const uint8_t *k2, size_t k2_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int rc = -1;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_blob(stmt, 1, k1, (int)k1_len, SQLITE_TRANSIENT);
	if (k2 != NULL)
		sqlite3_bind_blob(stmt, 2, k2, (int)k2_len, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) != SQLITE_DONE || sqlite3_changes(db) != 1)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc;
}

/* Flip the bits of byte off of the value stored under key, in the closed database file. */
static int sql_flip_byte(const char *db_path, const uint8_t *key, size_t key_len, size_t off)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	uint8_t *v = NULL;
	int len = 0, rc = -1;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?1", -1, &stmt, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_blob(stmt, 1, key, (int)key_len, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) != SQLITE_ROW || (len = sqlite3_column_bytes(stmt, 0)) <= (int)off ||
	    (v = malloc((size_t)len)) == NULL)
		goto out;
	memcpy(v, sqlite3_column_blob(stmt, 0), (size_t)len);
	v[off] ^= 0xff;
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (sqlite3_prepare_v2(db, "UPDATE kv SET v = ?2 WHERE k = ?1", -1, &stmt, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_bind_blob(stmt, 1, key, (int)key_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 2, v, len, SQLITE_TRANSIENT);
	if (sqlite3_step(stmt) == SQLITE_DONE && sqlite3_changes(db) == 1)
		rc = 0;
out:
	free(v);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return rc;
}

static void test_record_moved_or_edited_fails_integrity(void)
{
	struct fixture f = {0};
	struct raw_rows r;
	uint8_t key_a[80], key_b[80], *v = NULL;
	size_t len_a, len_b, len = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "rec-a", "value-a"), 0);
	CHECK_EQ_OUT(raw_rows(f.st, 'd', &r), 0);
	CHECK_EQ_OUT(r.n, 1);
	memcpy(key_a, r.key[0], len_a = r.key_len[0]);
	CHECK_EQ_OUT(put_str(f.b, "rec-b", "value-b"), 0);
	CHECK_EQ_OUT(raw_rows(f.st, 'd', &r), 0);
	CHECK_EQ_OUT(r.n, 2);
	len_b = r.key_len[0] == len_a && memcmp(r.key[0], key_a, len_a) == 0 ? 1 : 0;
	memcpy(key_b, r.key[len_b], r.key_len[len_b]);
	len_b = r.key_len[len_b];
	fixture_close(&f);

	/* A's record under B's key. */
	CHECK_EQ_OUT(sql_run(f.db, "UPDATE kv SET v = (SELECT v FROM kv WHERE k = ?1) WHERE k = ?2",
	                     key_a, len_a, key_b, len_b),
	             0);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_EQ_OUT(barrier_get(f.b, "rec-b", &v, &len), COFFER_ERR_INTEGRITY);
	CHECK_OUT(v == NULL && len == 0);
	CHECK_OUT(get_equals(f.b, "rec-a", "value-a"));
	fixture_close(&f);

	/* One flipped ciphertext byte, then one flipped term byte. */
	CHECK_EQ_OUT(sql_flip_byte(f.db, key_a, len_a, 40), 0);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_EQ_OUT(barrier_get(f.b, "rec-a", &v, &len), COFFER_ERR_INTEGRITY);
	CHECK_EQ_OUT(put_str(f.b, "rec-a", "value-a"), 0);
	fixture_close(&f);
	CHECK_EQ_OUT(sql_flip_byte(f.db, key_a, len_a, 4), 0);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_EQ_OUT(barrier_get(f.b, "rec-a", &v, &len), COFFER_ERR_INTEGRITY);
out:
	secmem_freezero(v, len);
	fixture_destroy(&f);
}

static void test_index_row_moved_fails_listing(void)
{
	struct fixture f = {0};
	struct raw_rows r;
	char **keys = NULL;
	size_t n = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	CHECK_EQ_OUT(put_str(f.b, "rec-a", "value-a"), 0);
	CHECK_EQ_OUT(put_str(f.b, "rec-b", "value-b"), 0);
	CHECK_EQ_OUT(raw_rows(f.st, 'i', &r), 0);
	CHECK_EQ_OUT(r.n, 2);
	fixture_close(&f);
	CHECK_EQ_OUT(sql_run(f.db, "UPDATE kv SET v = (SELECT v FROM kv WHERE k = ?1) WHERE k = ?2",
	                     r.key[0], r.key_len[0], r.key[1], r.key_len[1]),
	             0);
	CHECK_EQ_OUT(fixture_reopen(&f), 0);
	CHECK_EQ_OUT(barrier_list(f.b, "", &keys, &n), COFFER_ERR_INTEGRITY);
	CHECK_OUT(keys == NULL && n == 0);
out:
	barrier_list_free(keys, n);
	fixture_destroy(&f);
}

#define N_LARGE 3000

/* Fill ops with n puts (or deletes) of "big/<i % 7>/k<i>"; names live in names[n][32]. */
static void large_ops(struct barrier_op *ops, char (*names)[32], size_t n, bool is_put)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "big/%zu/k%zu", i % 7, i);
		ops[i] = (struct barrier_op){is_put ? BARRIER_PUT : BARRIER_DELETE, names[i],
		                             (const uint8_t *)"v", is_put ? 1 : 0};
	}
}

static void test_large_batch_puts_and_prunes_everything(void)
{
	static struct barrier_op ops[N_LARGE];
	static char names[N_LARGE][32];
	struct fixture f = {0};
	char **keys = NULL;
	size_t n = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	large_ops(ops, names, N_LARGE, true);
	CHECK_EQ_OUT(barrier_batch(f.b, ops, N_LARGE), 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"big/"}, 1));
	CHECK_EQ_OUT(barrier_list(f.b, "big/3/", &keys, &n), 0);
	barrier_list_free(keys, n);
	keys = NULL;
	CHECK_EQ_OUT(n, 429); /* i = 3, 10, ..., 2999 */
	CHECK_OUT(get_equals(f.b, "big/3/k2999", "v"));
	/* Deleting all but the last leaves one chain; deleting it too leaves nothing. */
	large_ops(ops, names, N_LARGE, false);
	CHECK_EQ_OUT(barrier_batch(f.b, ops, N_LARGE - 1), 0);
	CHECK_OUT(list_equals(f.b, "big/", (const char *const[]){"3/"}, 1));
	CHECK_EQ_OUT(barrier_batch(f.b, ops + N_LARGE - 1, 1), 0);
	CHECK_OUT(list_equals(f.b, "", NULL, 0));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 0);
	CHECK_EQ_OUT(raw_count(f.st, 'd'), 0);
out:
	barrier_list_free(keys, n);
	fixture_destroy(&f);
}

#define N_THREADS 4
#define N_ROUNDS 40

struct worker {
	struct barrier *b;
	int id;
	int n_errors;
};

/* Each worker creates and empties its own subfolder of "f/" again and again, beside the others. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char sub[64], shared[64], final[64];
	char **keys = NULL;
	size_t n = 0;

	snprintf(sub, sizeof(sub), "f/t%d/k", w->id);
	snprintf(shared, sizeof(shared), "f/shared-%d", w->id);
	snprintf(final, sizeof(final), "f/final-%d", w->id);
	for (int i = 0; i < N_ROUNDS; i++) {
		w->n_errors += put_str(w->b, sub, "v") != 0;
		w->n_errors += put_str(w->b, shared, "s") != 0;
		w->n_errors += barrier_list(w->b, "f/", &keys, &n) != 0;
		barrier_list_free(keys, n);
		w->n_errors += barrier_delete(w->b, sub) != 0;
		if (i % 2 == 0)
			w->n_errors += barrier_delete(w->b, shared) != 0;
	}
	w->n_errors += put_str(w->b, final, "x") != 0;
	return NULL;
}

static void test_concurrent_writers_keep_listing_consistent(void)
{
	static const char *const want[] = {"final-0",  "final-1",  "final-2",  "final-3",
	                                   "shared-0", "shared-1", "shared-2", "shared-3"};
	struct fixture f = {0};
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	int n_started = 0, n_errors = 0;

	CHECK_EQ_OUT(fixture_init(&f), 0);
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){f.b, i, 0};
		CHECK_EQ_OUT(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
		n_started++;
	}
	CHECK_EQ_OUT(barrier_rotate(f.b), 0);
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		n_errors += w[i].n_errors;
	}
	n_started = 0;
	CHECK_EQ_OUT(n_errors, 0);
	CHECK_OUT(list_equals(f.b, "", (const char *const[]){"f/"}, 1));
	CHECK_OUT(list_equals(f.b, "f/", want, 8));
	for (int i = 0; i < 8; i++) {
		char path[64];

		snprintf(path, sizeof(path), "f/%s", want[i]);
		CHECK_EQ_OUT(barrier_delete(f.b, path), 0);
	}
	CHECK_OUT(list_equals(f.b, "", NULL, 0));
	CHECK_EQ_OUT(raw_count(f.st, 'i'), 0);
out:
	/* The workers use the barrier: join those still running before it goes. */
	while (n_started > 0)
		pthread_join(th[--n_started], NULL);
	fixture_destroy(&f);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_put_get_delete_round_trip);
	RUN(test_invalid_paths_are_rejected);
	RUN(test_list_shows_one_level_of_nested_folders);
	RUN(test_list_shows_leaf_and_folder_of_same_name);
	RUN(test_delete_prunes_empty_folder_rows);
	RUN(test_batch_applies_puts_and_deletes_in_order);
	RUN(test_large_batch_puts_and_prunes_everything);
	RUN(test_folder_written_again_after_prune_is_listed);
	RUN(test_unlisted_records_have_no_index_rows);
	RUN(test_list_tree_walks_every_level);
	RUN(test_sealed_barrier_refuses_every_call);
	RUN(test_unseal_needs_the_right_root_key);
	RUN(test_unseal_of_empty_store_is_uninitialized);
	RUN(test_rotate_keeps_old_data_and_writes_with_new_term);
	RUN(test_hash_is_keyed_and_labelled);
	RUN(test_record_moved_or_edited_fails_integrity);
	RUN(test_index_row_moved_fails_listing);
	RUN(test_concurrent_writers_keep_listing_consistent);
	return test_summary();
}
