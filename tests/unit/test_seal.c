/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_seal.c: unit tests of server/store/seal.c over a real SQLite store: init and unseal with
 * Shamir shares and with a key file, bad shares, restart, the root token check, and the at-rest
 * invariant (no name, value, token or key in the database, WAL or shm files: DESIGN.md §10, 1).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/barrier.h"
#include "codec.h"
#include "crypto.h"
#include "json.h"
#include "store/keyring.h"
#include "store/seal.h"
#include "secmem.h"
#include "shamir.h"
#include "store/storage.h"
#include "identity/token.h"
#include "test.h"
#include "testutil.h"

#define SHARE_LEN (COFFER_KEY_LEN + 1)

struct fixture {
	char dir[64];
	char db[128];
	char keyfile[128];
	enum seal_type type;
	struct storage *st;
	struct barrier *b;
	struct seal *s;
};

static int fixture_open(struct fixture *f)
{
	if (testutil_open_barrier(f->db, &f->st, &f->b) != 0)
		return -1;
	return seal_new(f->st, f->b, f->type, f->type == SEAL_KEYFILE ? f->keyfile : NULL, &f->s);
}

static int fixture_create(struct fixture *f, enum seal_type type)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	if (testutil_mkstore(f->dir, sizeof(f->dir), f->db, sizeof(f->db), "seal") != 0)
		return -1;
	snprintf(f->keyfile, sizeof(f->keyfile), "%s/unseal.key", f->dir);
	return fixture_open(f);
}

static void fixture_close(struct fixture *f)
{
	seal_free(f->s);
	f->s = NULL;
	testutil_close_barrier(&f->st, &f->b);
}

static int fixture_restart(struct fixture *f)
{
	fixture_close(f);
	return fixture_open(f);
}

/* Safe on a zeroed or partly built fixture, and a second time. */
static void fixture_destroy(struct fixture *f)
{
	fixture_close(f);
	testutil_rmtree(f->dir);
	f->dir[0] = '\0';
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

#define STAGED_PATH "core/staged"

/* The stage init runs with the new barrier open (core.c stages the initial root token there). */
static int stage_marker(void *arg)
{
	struct fixture *f = arg;

	return barrier_put(f->b, STAGED_PATH, (const uint8_t *)"staged", 6);
}

/* 0 when the staged record reads back: the barrier is open with the root key of init. */
static int staged_check(struct fixture *f)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int err = barrier_get(f->b, STAGED_PATH, &v, &len);

	if (err == 0 && (len != 6 || memcmp(v, "staged", 6) != 0))
		err = COFFER_ERR_INTEGRITY;
	if (v != NULL)
		secmem_freezero(v, len);
	return err;
}

static void status_of(struct fixture *f, struct seal_status *st)
{
	seal_get_status(f->s, st);
}

static void test_init_leaves_vault_sealed(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	status_of(&f, &st);
	CHECK_OUT(!st.initialized && st.sealed && strcmp(st.type, "shamir") == 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(r.n_shares, 5);
	CHECK_EQ_OUT(r.share_len, SHARE_LEN);
	CHECK_OUT(r.root_token ==
	          NULL); /* the root token is the token store's (core.c stages it) */
	status_of(&f, &st);
	CHECK_OUT(st.initialized && st.sealed);
	CHECK_EQ_OUT(st.shares, 5);
	CHECK_EQ_OUT(st.threshold, 3);
	CHECK_EQ_OUT(st.progress, 0);
	CHECK_OUT(barrier_is_sealed(f.b));
	seal_init_result_clear(&r);
	CHECK_OUT(r.shares == NULL && r.root_token == NULL && r.n_shares == 0);
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_unseal_with_threshold_shares(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[4], SHARE_LEN), 0);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 1 && strlen(st.nonce) == 36);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[2], SHARE_LEN), 0);
	status_of(&f, &st);
	CHECK_OUT(!st.sealed && st.progress == 0 && st.nonce[0] == '\0');
	CHECK_EQ_OUT(staged_check(&f), 0);
	seal_seal(f.s);
	CHECK_OUT(barrier_is_sealed(f.b));
	CHECK_EQ_OUT(staged_check(&f), COFFER_ERR_SEALED);
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_unseal_rejects_wrong_share(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;
	uint8_t bad[SHARE_LEN];

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_marker, &f, &r), 0);
	memcpy(bad, r.shares[2], SHARE_LEN);
	bad[0] ^= 0x5a; /* corrupt a y byte, keep the x coordinate */
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, bad, SHARE_LEN), COFFER_ERR_BAD_SHARE);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 0 && st.nonce[0] == '\0');
	/* Progress was reset: the good set still works from scratch. */
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[2], SHARE_LEN), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_unseal_rejects_share_of_wrong_length(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN - 1), COFFER_ERR_BAD_SHARE);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 0);
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_unseal_below_threshold_stays_sealed(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;
	char nonce[37];

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	status_of(&f, &st);
	memcpy(nonce, st.nonce, sizeof(nonce));
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[3], SHARE_LEN), 0);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 2 && strcmp(st.nonce, nonce) == 0);
	seal_reset_progress(f.s);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 0 && st.nonce[0] == '\0');
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_duplicate_share_is_refused_and_keeps_progress(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), COFFER_ERR_EXISTS);
	status_of(&f, &st);
	CHECK_OUT(st.sealed && st.progress == 2);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[2], SHARE_LEN), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_restart_keeps_data_behind_the_seal(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;
	uint8_t *v = NULL;
	size_t len = 0;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[2], SHARE_LEN), 0);
	CHECK_EQ_OUT(barrier_put(f.b, "app/secret", (const uint8_t *)"kept", 4), 0);
	CHECK_EQ_OUT(fixture_restart(&f), 0);
	status_of(&f, &st);
	CHECK_OUT(st.initialized && st.sealed && st.shares == 3 && st.threshold == 2);
	CHECK_EQ_OUT(barrier_get(f.b, "app/secret", &v, &len), COFFER_ERR_SEALED);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
	CHECK_EQ_OUT(barrier_get(f.b, "app/secret", &v, &len), 0);
	CHECK_OUT(len == 4 && memcmp(v, "kept", 4) == 0);
	secmem_freezero(v, len);
	v = NULL;
	CHECK_EQ_OUT(staged_check(&f), 0);
out:
	secmem_freezero(v, len);
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_init_rejects_bad_share_counts(void)
{
	static const unsigned bad[][2] = {{0, 0}, {0, 1}, {256, 2}, {3, 4}, {5, 1}, {2, 1}, {3, 0}};
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_OUT(seal_initialize(f.s, bad[i][0], bad[i][1], stage_marker, &f, &r),
		             COFFER_ERR_INVALID);
		CHECK_OUT(r.shares == NULL && r.root_token == NULL);
	}
	status_of(&f, &st);
	CHECK_OUT(!st.initialized);
	CHECK_EQ_OUT(seal_initialize(f.s, 1, 1, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(r.n_shares, 1);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_second_init_returns_exists(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0}, r2 = {0};

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r2), COFFER_ERR_EXISTS);
	CHECK_EQ_OUT(fixture_restart(&f), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r2), COFFER_ERR_EXISTS);
	CHECK_OUT(r2.shares == NULL && r2.root_token == NULL);
out:
	seal_init_result_clear(&r2);
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_submit_share_before_init_returns_uninit(void)
{
	struct fixture f = {0};
	uint8_t share[SHARE_LEN] = {1};

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, share, SHARE_LEN), COFFER_ERR_UNINIT);
out:
	fixture_destroy(&f);
}

/* A keyring left by an init that stopped before the configuration was written does not block a
 * new init. */
static void test_interrupted_init_can_be_retried(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	uint8_t root_key[COFFER_KEY_LEN];

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	coffer_random(root_key, sizeof(root_key));
	CHECK_EQ_OUT(barrier_initialize(f.b, root_key), 0);
	barrier_seal(f.b);
	CHECK_EQ_OUT(fixture_restart(&f), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 3, 2, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[0], SHARE_LEN), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[1], SHARE_LEN), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_keyfile_seal_round_trip(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;
	uint8_t key[COFFER_KEY_LEN], share[SHARE_LEN] = {1};

	CHECK_EQ_OUT(fixture_create(&f, SEAL_KEYFILE), 0);
	coffer_random(key, sizeof(key));
	CHECK_EQ_OUT(write_file(f.keyfile, key, sizeof(key)), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 0, 0, stage_marker, &f, &r), 0);
	CHECK_OUT(r.n_shares == 0 && r.shares == NULL);
	status_of(&f, &st);
	CHECK_OUT(st.initialized && st.sealed && strcmp(st.type, "keyfile") == 0);
	CHECK_EQ_OUT(seal_unseal_keyfile(f.s), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
	CHECK_EQ_OUT(staged_check(&f), 0);
	CHECK_EQ_OUT(fixture_restart(&f), 0);
	CHECK_EQ_OUT(seal_submit_share(f.s, share, SHARE_LEN), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(seal_unseal_keyfile(f.s), 0);
	CHECK_OUT(!barrier_is_sealed(f.b));
	/* Another key in the file does not open the root key. */
	seal_seal(f.s);
	key[0] ^= 1;
	CHECK_EQ_OUT(write_file(f.keyfile, key, sizeof(key)), 0);
	CHECK_EQ_OUT(seal_unseal_keyfile(f.s), COFFER_ERR_CONFIG);
	CHECK_OUT(barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

static void test_keyfile_seal_rejects_short_key_file(void)
{
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct seal_status st;
	uint8_t key[COFFER_KEY_LEN + 1];

	CHECK_EQ_OUT(fixture_create(&f, SEAL_KEYFILE), 0);
	coffer_random(key, sizeof(key));
	CHECK_EQ_OUT(seal_initialize(f.s, 0, 0, stage_marker, &f, &r),
	             COFFER_ERR_CONFIG); /* no file */
	CHECK_EQ_OUT(write_file(f.keyfile, key, COFFER_KEY_LEN - 1), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 0, 0, stage_marker, &f, &r), COFFER_ERR_CONFIG);
	CHECK_EQ_OUT(write_file(f.keyfile, key, COFFER_KEY_LEN + 1), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 0, 0, stage_marker, &f, &r), COFFER_ERR_CONFIG);
	status_of(&f, &st);
	CHECK_OUT(!st.initialized);
	CHECK_EQ_OUT(write_file(f.keyfile, key, COFFER_KEY_LEN), 0);
	CHECK_EQ_OUT(seal_initialize(f.s, 0, 0, stage_marker, &f, &r), 0);
	CHECK_EQ_OUT(write_file(f.keyfile, key, COFFER_KEY_LEN - 1), 0);
	CHECK_EQ_OUT(seal_unseal_keyfile(f.s), COFFER_ERR_CONFIG);
	CHECK_OUT(barrier_is_sealed(f.b));
out:
	seal_init_result_clear(&r);
	fixture_destroy(&f);
}

struct needle {
	const char *what;
	const void *buf;
	size_t len;
};

/* 0 when none of the needles occurs in the file (a missing file has none). */
static int file_has_no_needle(const char *path, const struct needle *nd, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int found = 0, ret = testutil_read_file(path, &buf, &len);

	if (ret == -1)
		return 0;
	if (ret != 0)
		return -1;
	for (size_t i = 0; found == 0 && i < n; i++) {
		if (memmem(buf, len, nd[i].buf, nd[i].len) != NULL) {
			fprintf(stderr, "%s: found %s\n", path, nd[i].what);
			found = 1;
		}
	}
	free(buf);
	return found;
}

static int files_have_no_needle(const char *db, const struct needle *nd, size_t n)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char path[160];
	int found = 0;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		found |= file_has_no_needle(path, nd, n);
	}
	return found;
}

/* Reopen the stored root key and keyring as an attacker holding the shares would, to know what
 * must not appear in clear. */
static int recover_keys(struct storage *st, const struct seal_init_result *r, uint8_t *unseal_key,
                        uint8_t *root_key, struct keyring **kr)
{
	uint8_t *rec = NULL, *ser = NULL;
	size_t rec_len = 0;
	int ret = -1;

	if (shamir_combine(unseal_key, (const uint8_t *const *)r->shares, 3, SHARE_LEN) != 0 ||
	    storage_get(st, (const uint8_t *)"s/root-key", 10, &rec, &rec_len) != 0 ||
	    rec_len != 5 + COFFER_KEY_LEN + COFFER_AEAD_OVERHEAD ||
	    coffer_aead_open(root_key, rec + 5, rec_len - 5, (const uint8_t *)"s/root-key", 10,
	                     unseal_key) != 0)
		goto out;
	free(rec);
	rec = NULL;
	if (storage_get(st, (const uint8_t *)"s/keyring", 9, &rec, &rec_len) != 0 ||
	    (ser = malloc(rec_len)) == NULL ||
	    coffer_aead_open(ser, rec + 5, rec_len - 5, (const uint8_t *)"s/keyring", 9,
	                     root_key) != 0 ||
	    keyring_deserialize(ser, rec_len - 5 - COFFER_AEAD_OVERHEAD, kr) != 0)
		goto out;
	ret = 0;
out:
	free(ser);
	free(rec);
	return ret;
}

/* The stage core.c runs: the initial root token through the token store. */
static int stage_root(void *arg)
{
	return token_store_stage_root(arg, "cof.canary-root-token-Rt55");
}

static void test_nothing_secret_at_rest(void)
{
	static const char *const clear[] = {"canary-dir-Qp42",   "canary-path-Zq83",
	                                    "canary-path-Zq84",  "canary-value-Xy71",
	                                    "canary-value-Xy72", "canary-root-token-Rt55"};
	struct fixture f = {0};
	struct seal_init_result r = {0};
	struct keyring *kr = NULL;
	struct token_store *ts = NULL;
	uint8_t unseal_key[COFFER_KEY_LEN], root_key[COFFER_KEY_LEN];
	char share_text[10][96];
	struct needle nd[32];
	const struct needle control = {"the seal configuration", "\"secret_threshold\":3", 20};
	size_t n = 0;

	CHECK_EQ_OUT(fixture_create(&f, SEAL_SHAMIR), 0);
	ts = token_store_new(f.b);
	CHECK_EQ_OUT(seal_initialize(f.s, 5, 3, stage_root, ts, &r), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_OUT(seal_submit_share(f.s, r.shares[i], SHARE_LEN), 0);
	CHECK_EQ_OUT(barrier_put(f.b, "canary-dir-Qp42/canary-path-Zq83",
	                         (const uint8_t *)"canary-value-Xy71", 17),
	             0);
	CHECK_EQ_OUT(barrier_put(f.b, "canary-path-Zq84", (const uint8_t *)"canary-value-Xy72", 17),
	             0);
	CHECK_EQ_OUT(recover_keys(f.st, &r, unseal_key, root_key, &kr), 0);

	for (size_t i = 0; i < sizeof(clear) / sizeof(clear[0]); i++)
		nd[n++] = (struct needle){clear[i], clear[i], strlen(clear[i])};
	for (unsigned i = 0; i < 5; i++) {
		char *hex = share_text[2 * i], *b64 = share_text[2 * i + 1];

		CHECK_EQ_OUT(codec_hex_encode(hex, 96, r.shares[i], SHARE_LEN), 0);
		CHECK_EQ_OUT(codec_b64_encode(b64, 96, r.shares[i], SHARE_LEN, CODEC_B64_STD), 0);
		nd[n++] = (struct needle){"a raw share", r.shares[i], 16};
		nd[n++] = (struct needle){"a hex share", hex, strlen(hex)};
		nd[n++] = (struct needle){"a base64 share", b64, strlen(b64)};
	}
	nd[n++] = (struct needle){"the unseal key", unseal_key, 16};
	nd[n++] = (struct needle){"the root key", root_key, 16};
	nd[n++] = (struct needle){"a term key", keyring_term(kr, 1)->key, 16};
	nd[n++] = (struct needle){"the path key", keyring_path_key(kr), 16};
	nd[n++] = (struct needle){"the hash key", keyring_hash_key(kr), 16};

	/* While open (the WAL holds the writes), then after close; the clear seal configuration
	 * shows that the scan does see what is stored. */
	CHECK_EQ_OUT(files_have_no_needle(f.db, &control, 1), 1);
	CHECK_EQ_OUT(files_have_no_needle(f.db, nd, n), 0);
	fixture_close(&f);
	CHECK_EQ_OUT(files_have_no_needle(f.db, &control, 1), 1);
	CHECK_EQ_OUT(files_have_no_needle(f.db, nd, n), 0);
out:
	keyring_free(kr);
	seal_init_result_clear(&r);
	token_store_free(ts);
	fixture_destroy(&f);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	coffer_json_init();
	RUN(test_init_leaves_vault_sealed);
	RUN(test_unseal_with_threshold_shares);
	RUN(test_unseal_rejects_wrong_share);
	RUN(test_unseal_rejects_share_of_wrong_length);
	RUN(test_unseal_below_threshold_stays_sealed);
	RUN(test_duplicate_share_is_refused_and_keeps_progress);
	RUN(test_restart_keeps_data_behind_the_seal);
	RUN(test_init_rejects_bad_share_counts);
	RUN(test_second_init_returns_exists);
	RUN(test_submit_share_before_init_returns_uninit);
	RUN(test_interrupted_init_can_be_retried);
	RUN(test_keyfile_seal_round_trip);
	RUN(test_keyfile_seal_rejects_short_key_file);
	RUN(test_nothing_secret_at_rest);
	return test_summary();
}
