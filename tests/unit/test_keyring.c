/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_keyring.c: unit tests of server/store/keyring.c: creation, rotation that keeps old terms,
 * and the strict binary form (round trip, and rejection of truncated or corrupted input).
 */
#include <stdint.h>
#include <string.h>

#include "store/keyring.h"
#include "secmem.h"
#include "test.h"

/* Offsets in the serialized form: version | active | path key | hash key | count | terms. */
#define OFF_ACTIVE 1
#define OFF_COUNT (1 + 4 + 2 * COFFER_KEY_LEN)
#define OFF_TERMS (OFF_COUNT + 4)
#define TERM_LEN (4 + 8 + COFFER_KEY_LEN)

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int keyrings_equal(const struct keyring *a, const struct keyring *b, uint32_t n_terms)
{
	if (memcmp(keyring_path_key(a), keyring_path_key(b), COFFER_KEY_LEN) != 0 ||
	    memcmp(keyring_hash_key(a), keyring_hash_key(b), COFFER_KEY_LEN) != 0 ||
	    keyring_active(a)->term != keyring_active(b)->term)
		return 0;
	for (uint32_t t = 1; t <= n_terms; t++) {
		const struct keyring_term *ta = keyring_term(a, t), *tb = keyring_term(b, t);

		if (ta == NULL || tb == NULL || ta->install_time != tb->install_time ||
		    memcmp(ta->key, tb->key, COFFER_KEY_LEN) != 0)
			return 0;
	}
	return 1;
}

/* A keyring with three terms, serialized into a plain heap copy the tests may corrupt. */
static uint8_t *serialized_three_terms(size_t *len)
{
	struct keyring *k1 = keyring_new(), *k2 = NULL, *k3 = NULL;
	uint8_t *ser = NULL, *copy = NULL;

	*len = 0;
	if (keyring_rotate(k1, &k2) == 0 && keyring_rotate(k2, &k3) == 0) {
		keyring_serialize(k3, &ser, len);
		if ((copy = malloc(*len)) != NULL)
			memcpy(copy, ser, *len);
	}
	secmem_free(ser);
	keyring_free(k3);
	keyring_free(k2);
	keyring_free(k1);
	return copy;
}

static int deserialize_fails(const uint8_t *buf, size_t len)
{
	struct keyring *kr = (struct keyring *)1;
	int ret = keyring_deserialize(buf, len, &kr);

	if (ret == 0)
		keyring_free(kr);
	return ret == COFFER_ERR_INTEGRITY && kr == NULL;
}

static void test_new_keyring_has_term_one_and_distinct_keys(void)
{
	struct keyring *kr = keyring_new();

	kr = keyring_new();
	CHECK_EQ_OUT(keyring_active(kr)->term, 1);
	CHECK_OUT(keyring_active(kr)->install_time > 1600000000);
	CHECK_OUT(keyring_term(kr, 1) == keyring_active(kr));
	CHECK_OUT(keyring_term(kr, 0) == NULL);
	CHECK_OUT(keyring_term(kr, 2) == NULL);
	CHECK_OUT(memcmp(keyring_path_key(kr), keyring_hash_key(kr), COFFER_KEY_LEN) != 0);
	CHECK_OUT(memcmp(keyring_path_key(kr), keyring_active(kr)->key, COFFER_KEY_LEN) != 0);
out:
	keyring_free(kr);
}

static void test_serialize_round_trip(void)
{
	struct keyring *kr = keyring_new(), *rot = NULL, *back = NULL;
	uint8_t *ser = NULL;
	size_t len = 0;

	kr = keyring_new();
	CHECK_EQ_OUT(keyring_rotate(kr, &rot), 0);
	keyring_serialize(rot, &ser, &len);
	CHECK_EQ_OUT(len, OFF_TERMS + 2 * TERM_LEN);
	CHECK_EQ_OUT(keyring_deserialize(ser, len, &back), 0);
	CHECK_OUT(keyrings_equal(rot, back, 2));
	CHECK_EQ_OUT(keyring_active(back)->term, 2);
out:
	secmem_free(ser);
	keyring_free(back);
	keyring_free(rot);
	keyring_free(kr);
}

static void test_rotate_keeps_old_terms(void)
{
	struct keyring *k1 = keyring_new(), *k2 = NULL, *k3 = NULL;

	k1 = keyring_new();
	CHECK_EQ_OUT(keyring_rotate(k1, &k2), 0);
	CHECK_EQ_OUT(keyring_rotate(k2, &k3), 0);
	CHECK_EQ_OUT(keyring_active(k3)->term, 3);
	CHECK_EQ_OUT(keyring_active(k1)->term, 1); /* the original is unchanged */
	CHECK_OUT(keyring_term(k1, 2) == NULL);
	CHECK_OUT(memcmp(keyring_term(k3, 1)->key, keyring_term(k1, 1)->key, COFFER_KEY_LEN) == 0);
	CHECK_OUT(memcmp(keyring_term(k3, 2)->key, keyring_term(k2, 2)->key, COFFER_KEY_LEN) == 0);
	CHECK_OUT(memcmp(keyring_term(k3, 3)->key, keyring_term(k3, 2)->key, COFFER_KEY_LEN) != 0);
	CHECK_OUT(memcmp(keyring_path_key(k3), keyring_path_key(k1), COFFER_KEY_LEN) == 0);
	CHECK_OUT(memcmp(keyring_hash_key(k3), keyring_hash_key(k1), COFFER_KEY_LEN) == 0);
out:
	keyring_free(k3);
	keyring_free(k2);
	keyring_free(k1);
}

static void test_deserialize_rejects_truncated_input(void)
{
	size_t len = 0;
	uint8_t *buf = serialized_three_terms(&len);
	size_t n_accepted = 0;

	CHECK_OUT(buf != NULL);
	for (size_t i = 0; i < len; i++)
		n_accepted += !deserialize_fails(buf, i);
	free(buf);
	buf = NULL;
	CHECK_EQ_OUT(n_accepted, 0);
	CHECK_OUT(deserialize_fails(NULL, 0));
out:
	free(buf);
}

static void test_deserialize_rejects_trailing_bytes(void)
{
	size_t len = 0;
	uint8_t *buf = serialized_three_terms(&len);
	uint8_t *longer = buf != NULL ? calloc(1, len + 1) : NULL;
	int is_rejected;

	CHECK_OUT(longer != NULL);
	memcpy(longer, buf, len);
	is_rejected = deserialize_fails(longer, len + 1);
	CHECK_OUT(is_rejected);
out:
	free(longer);
	free(buf);
}

/* Each corruption of a valid serialization must be rejected. */
static void test_deserialize_rejects_corrupted_fields(void)
{
	size_t len = 0;
	uint8_t *good = serialized_three_terms(&len);
	uint8_t *buf = good != NULL ? malloc(len) : NULL;
	int n_accepted = 0;

	CHECK_OUT(buf != NULL);
	for (int c = 0; c < 8; c++) {
		memcpy(buf, good, len);
		switch (c) {
		case 0: /* version */
			buf[0] ^= 0xff;
			break;
		case 1: /* no terms */
			put_u32(buf + OFF_COUNT, 0);
			break;
		case 2: /* count too small */
			put_u32(buf + OFF_COUNT, 2);
			break;
		case 3: /* count too large */
			put_u32(buf + OFF_COUNT, 4);
			break;
		case 4: /* duplicate term */
			put_u32(buf + OFF_TERMS + TERM_LEN, 1);
			break;
		case 5: /* term 0 */
			put_u32(buf + OFF_TERMS, 0);
			break;
		case 6: /* active not newest */
			put_u32(buf + OFF_ACTIVE, 2);
			break;
		case 7: /* huge count */
			put_u32(buf + OFF_COUNT, 0xffffffffu);
			break;
		}
		n_accepted += !deserialize_fails(buf, len);
	}
	CHECK_EQ_OUT(n_accepted, 0);
out:
	free(buf);
	free(good);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	RUN(test_new_keyring_has_term_one_and_distinct_keys);
	RUN(test_serialize_round_trip);
	RUN(test_rotate_keeps_old_terms);
	RUN(test_deserialize_rejects_truncated_input);
	RUN(test_deserialize_rejects_trailing_bytes);
	RUN(test_deserialize_rejects_corrupted_fields);
	return test_summary();
}
