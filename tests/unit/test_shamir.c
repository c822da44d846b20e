/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_shamir.c: Shamir split/combine over GF(2^8): every threshold subset recovers the secret,
 * fewer shares do not, and malformed share sets are rejected.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"
#include "shamir.h"
#include "test.h"

#define SECRET_LEN 32

struct share_set {
	uint8_t *buf;
	uint8_t *ptrs[SHAMIR_MAX_SHARES];
	size_t share_len;
};

static int share_set_make(struct share_set *ss, unsigned n, unsigned t, const uint8_t *secret,
                          size_t len)
{
	unsigned i;

	ss->share_len = len + 1;
	ss->buf = calloc(n, ss->share_len);
	if (ss->buf == NULL)
		return -1;
	for (i = 0; i < n; i++)
		ss->ptrs[i] = ss->buf + i * ss->share_len;
	return shamir_split(ss->ptrs, n, t, secret, len);
}

/*
 * Visit every t-subset of n shares (t <= 10 here, or t >= n - 1) and count subsets that combine to
 * the secret; returns how many did not.
 */
static unsigned check_all_subsets(const struct share_set *ss, unsigned n, unsigned t,
                                  const uint8_t *secret, size_t len)
{
	const uint8_t *pick[SHAMIR_MAX_SHARES];
	unsigned idx[SHAMIR_MAX_SHARES];
	uint8_t got[SECRET_LEN];
	unsigned i, bad = 0;
	int k;

	for (i = 0; i < t; i++)
		idx[i] = i;
	for (;;) {
		for (i = 0; i < t; i++)
			pick[i] = ss->ptrs[idx[i]];
		if (shamir_combine(got, pick, t, ss->share_len) != 0 ||
		    memcmp(got, secret, len) != 0)
			bad++;
		/* Next combination in lexicographic order. */
		for (k = (int)t - 1; k >= 0 && idx[k] == n - t + (unsigned)k; k--)
			;
		if (k < 0)
			break;
		idx[k]++;
		for (i = (unsigned)k + 1; i < t; i++)
			idx[i] = idx[i - 1] + 1;
	}
	return bad;
}

static void check_pair(unsigned n, unsigned t, size_t len, unsigned *bad)
{
	struct share_set ss = {0};
	uint8_t secret[SECRET_LEN];

	*bad = 1;
	coffer_random(secret, len);
	if (share_set_make(&ss, n, t, secret, len) == 0)
		*bad = check_all_subsets(&ss, n, t, secret, len);
	free(ss.buf);
}

static void test_shamir_every_threshold_subset_recovers_secret(void)
{
	static const unsigned pairs[][2] = {{1, 1}, {2, 2}, {3, 2}, {5, 3}, {10, 5}};
	unsigned bad;
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		check_pair(pairs[i][0], pairs[i][1], SECRET_LEN, &bad);
		CHECK_EQ(bad, 0);
	}
}

static void test_shamir_255_shares_threshold_1_each_share_is_secret(void)
{
	unsigned bad;

	check_pair(255, 1, 16, &bad);
	CHECK_EQ(bad, 0);
}

static void test_shamir_255_shares_threshold_254_all_subsets(void)
{
	unsigned bad;

	check_pair(255, 254, 4, &bad);
	CHECK_EQ(bad, 0);
}

static void test_shamir_255_shares_threshold_255(void)
{
	unsigned bad;

	check_pair(255, 255, SECRET_LEN, &bad);
	CHECK_EQ(bad, 0);
}

static void test_shamir_x_coordinates_are_distinct_and_nonzero(void)
{
	struct share_set ss = {0};
	uint8_t secret[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	int seen[256] = {0};
	unsigned i;

	CHECK_EQ_OUT(share_set_make(&ss, 255, 3, secret, sizeof(secret)), 0);
	for (i = 0; i < 255; i++) {
		uint8_t x = ss.ptrs[i][sizeof(secret)];

		if (x == 0 || seen[x]++)
			CHECK_OUT(!"bad x coordinate");
	}
out:
	free(ss.buf);
}

static void test_shamir_fewer_than_threshold_gives_wrong_secret(void)
{
	static const unsigned pairs[][2] = {{2, 2}, {3, 2}, {5, 3}, {10, 5}, {255, 200}};
	struct share_set ss = {0};
	uint8_t secret[SECRET_LEN], got[SECRET_LEN];
	size_t i;
	unsigned n, t;
	int rc;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		n = pairs[i][0];
		t = pairs[i][1];
		coffer_random(secret, sizeof(secret));
		CHECK_EQ_OUT(share_set_make(&ss, n, t, secret, sizeof(secret)), 0);
		rc = shamir_combine(got, (const uint8_t *const *)ss.ptrs, t - 1, ss.share_len);
		free(ss.buf);
		ss.buf = NULL;
		CHECK_EQ_OUT(rc, 0);
		CHECK_OUT(memcmp(got, secret, sizeof(secret)) != 0);
	}
out:
	free(ss.buf);
}

static void test_shamir_rejects_duplicate_share(void)
{
	struct share_set ss = {0};
	uint8_t secret[4] = {9, 8, 7, 6}, got[4];
	const uint8_t *pick[3];
	int rc;

	CHECK_EQ_OUT(share_set_make(&ss, 3, 2, secret, sizeof(secret)), 0);
	pick[0] = ss.ptrs[0];
	pick[1] = ss.ptrs[1];
	pick[2] = ss.ptrs[0];
	rc = shamir_combine(got, pick, 3, ss.share_len);
	CHECK_EQ_OUT(rc, COFFER_ERR_INVALID);
out:
	free(ss.buf);
}

static void test_shamir_rejects_same_x_different_y(void)
{
	uint8_t a[3] = {1, 2, 7}, b[3] = {3, 4, 7}, got[2];
	const uint8_t *pick[2] = {a, b};

	CHECK_EQ(shamir_combine(got, pick, 2, 3), COFFER_ERR_INVALID);
}

static void test_shamir_rejects_zero_x(void)
{
	uint8_t a[3] = {1, 2, 0}, b[3] = {3, 4, 5}, got[2];
	const uint8_t *pick[2] = {b, a};

	CHECK_EQ(shamir_combine(got, pick, 2, 3), COFFER_ERR_INVALID);
}

static void test_shamir_rejects_empty_share_set(void)
{
	uint8_t a[3] = {1, 2, 3}, got[2];
	const uint8_t *pick[1] = {a};

	CHECK_EQ(shamir_combine(got, pick, 0, 3), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_combine(got, pick, 1, 1), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_combine(got, pick, 1, 0), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_combine(got, pick, 1, 2), 0);
}

static void test_shamir_corrupted_share_gives_different_secret(void)
{
	struct share_set ss = {0};
	uint8_t secret[SECRET_LEN], got[SECRET_LEN];
	size_t b;
	int rc = 0, is_same = 0;

	coffer_random(secret, sizeof(secret));
	CHECK_EQ_OUT(share_set_make(&ss, 5, 3, secret, sizeof(secret)), 0);
	for (b = 0; b < SECRET_LEN && rc == 0 && !is_same; b++) {
		ss.ptrs[1][b] ^= 0x01;
		rc = shamir_combine(got, (const uint8_t *const *)ss.ptrs, 3, ss.share_len);
		is_same = memcmp(got, secret, sizeof(secret)) == 0;
		ss.ptrs[1][b] ^= 0x01;
	}
	CHECK_EQ_OUT(rc, 0);
	CHECK_OUT(!is_same);
out:
	free(ss.buf);
}

static void test_shamir_split_rejects_bad_parameters(void)
{
	uint8_t secret[4] = {1, 2, 3, 4};
	uint8_t bufs[3][5];
	uint8_t *ptrs[3] = {bufs[0], bufs[1], bufs[2]};

	CHECK_EQ(shamir_split(ptrs, 3, 0, secret, 4), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_split(ptrs, 2, 3, secret, 4), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_split(ptrs, 256, 2, secret, 4), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_split(ptrs, 3, 2, secret, 0), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_split(ptrs, 0, 0, secret, 4), COFFER_ERR_INVALID);
	CHECK_EQ(shamir_split(ptrs, 3, 2, secret, 4), 0);
}

/*
 * Known answer in the AES field (0x11b), computed with an independent reference: secret
 * {0x42, 0x00, 0xff}, quadratic coefficients {0x80, 0xd3}, {0x01, 0xfe}, {0x57, 0x83}, shares at
 * x = 5, 0x80, 0xff in Vault's layout (x last). A different reduction polynomial fails this.
 */
static void test_shamir_combines_known_shares(void)
{
	static const uint8_t a[4] = {0xb8, 0x82, 0x84, 0x05}, b[4] = {0xac, 0x4a, 0x47, 0x80},
	                     c[4] = {0xd6, 0x9f, 0x94, 0xff};
	static const uint8_t want[3] = {0x42, 0x00, 0xff};
	const uint8_t *pick[3] = {c, a, b};
	uint8_t got[3];

	CHECK_EQ(shamir_combine(got, pick, 3, 4), 0);
	CHECK(memcmp(got, want, 3) == 0);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	RUN(test_shamir_every_threshold_subset_recovers_secret);
	RUN(test_shamir_255_shares_threshold_1_each_share_is_secret);
	RUN(test_shamir_255_shares_threshold_254_all_subsets);
	RUN(test_shamir_255_shares_threshold_255);
	RUN(test_shamir_x_coordinates_are_distinct_and_nonzero);
	RUN(test_shamir_fewer_than_threshold_gives_wrong_secret);
	RUN(test_shamir_rejects_duplicate_share);
	RUN(test_shamir_rejects_same_x_different_y);
	RUN(test_shamir_rejects_zero_x);
	RUN(test_shamir_rejects_empty_share_set);
	RUN(test_shamir_corrupted_share_gives_different_secret);
	RUN(test_shamir_split_rejects_bad_parameters);
	RUN(test_shamir_combines_known_shares);
	return test_summary();
}
