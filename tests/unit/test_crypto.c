/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_crypto.c: AEAD round trips and tamper rejection, keyed BLAKE2b known answers, and UUID
 * shape.
 */
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "secmem.h"
#include "test.h"

static void hex_of(char *out, size_t cap, const uint8_t *in, size_t len)
{
	if (codec_hex_encode(out, cap, in, len) != 0)
		out[0] = '\0';
}

static void test_aead_round_trip(void)
{
	uint8_t key[COFFER_KEY_LEN], pt[100], sealed[100 + COFFER_AEAD_OVERHEAD], opened[100];
	static const uint8_t ad[] = "logical/path";
	size_t len;

	coffer_random(key, sizeof(key));
	coffer_random(pt, sizeof(pt));
	for (len = 0; len <= sizeof(pt); len += 25) {
		CHECK_EQ(coffer_aead_seal(sealed, pt, len, ad, sizeof(ad), key), 0);
		CHECK_EQ(coffer_aead_open(opened, sealed, len + COFFER_AEAD_OVERHEAD, ad,
		                          sizeof(ad), key),
		         0);
		CHECK(memcmp(opened, pt, len) == 0);
	}
}

static void test_aead_round_trip_without_ad_and_empty_plaintext(void)
{
	uint8_t key[COFFER_KEY_LEN], sealed[COFFER_AEAD_OVERHEAD], opened[1];

	coffer_random(key, sizeof(key));
	CHECK_EQ(coffer_aead_seal(sealed, NULL, 0, NULL, 0, key), 0);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), NULL, 0, key), 0);
}

static void test_aead_uses_fresh_nonce(void)
{
	uint8_t key[COFFER_KEY_LEN], pt[8] = {0}, a[8 + COFFER_AEAD_OVERHEAD],
	                             b[8 + COFFER_AEAD_OVERHEAD];

	coffer_random(key, sizeof(key));
	CHECK_EQ(coffer_aead_seal(a, pt, sizeof(pt), NULL, 0, key), 0);
	CHECK_EQ(coffer_aead_seal(b, pt, sizeof(pt), NULL, 0, key), 0);
	CHECK(memcmp(a, b, COFFER_NONCE_LEN) != 0);
	CHECK(memcmp(a + COFFER_NONCE_LEN, b + COFFER_NONCE_LEN, sizeof(pt)) != 0);
}

static void test_aead_rejects_every_flipped_bit(void)
{
	uint8_t key[COFFER_KEY_LEN], pt[13], sealed[13 + COFFER_AEAD_OVERHEAD], opened[13];
	static const uint8_t ad[] = "ad";
	size_t bit, i;
	unsigned n_accepted = 0, n_unwiped = 0;

	coffer_random(key, sizeof(key));
	coffer_random(pt, sizeof(pt));
	CHECK_EQ(coffer_aead_seal(sealed, pt, sizeof(pt), ad, sizeof(ad), key), 0);
	for (bit = 0; bit < sizeof(sealed) * 8; bit++) {
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(opened, 0xa5, sizeof(opened));
		if (coffer_aead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), key) !=
		    COFFER_ERR_INTEGRITY)
			n_accepted++;
		for (i = 0; i < sizeof(opened); i++)
			if (opened[i] != 0)
				n_unwiped++;
		sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_EQ(n_accepted, 0);
	CHECK_EQ(n_unwiped, 0);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), ad, sizeof(ad), key), 0);
	CHECK(memcmp(opened, pt, sizeof(pt)) == 0);
}

static void test_aead_rejects_wrong_ad(void)
{
	uint8_t key[COFFER_KEY_LEN], pt[16] = {1}, sealed[16 + COFFER_AEAD_OVERHEAD], opened[16];

	coffer_random(key, sizeof(key));
	CHECK_EQ(coffer_aead_seal(sealed, pt, sizeof(pt), (const uint8_t *)"a/b", 3, key), 0);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), (const uint8_t *)"a/c", 3, key),
	         COFFER_ERR_INTEGRITY);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), (const uint8_t *)"a/", 2, key),
	         COFFER_ERR_INTEGRITY);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), NULL, 0, key),
	         COFFER_ERR_INTEGRITY);
}

static void test_aead_rejects_wrong_key(void)
{
	uint8_t key[COFFER_KEY_LEN], other[COFFER_KEY_LEN],
	    pt[16] = {1}, sealed[16 + COFFER_AEAD_OVERHEAD], opened[16];

	coffer_random(key, sizeof(key));
	memcpy(other, key, sizeof(key));
	other[31] ^= 0x80;
	CHECK_EQ(coffer_aead_seal(sealed, pt, sizeof(pt), NULL, 0, key), 0);
	CHECK_EQ(coffer_aead_open(opened, sealed, sizeof(sealed), NULL, 0, other),
	         COFFER_ERR_INTEGRITY);
}

static void test_aead_rejects_truncated_input(void)
{
	uint8_t key[COFFER_KEY_LEN], pt[16] = {1}, sealed[16 + COFFER_AEAD_OVERHEAD], opened[16];
	size_t len;

	coffer_random(key, sizeof(key));
	CHECK_EQ(coffer_aead_seal(sealed, pt, sizeof(pt), NULL, 0, key), 0);
	for (len = 0; len < COFFER_AEAD_OVERHEAD; len++)
		CHECK_EQ(coffer_aead_open(opened, sealed, len, NULL, 0, key), COFFER_ERR_INVALID);
	for (; len < sizeof(sealed); len++)
		CHECK_EQ(coffer_aead_open(opened, sealed, len, NULL, 0, key), COFFER_ERR_INTEGRITY);
}

static void test_mac_known_answer(void)
{
	uint8_t key[COFFER_KEY_LEN], mac[COFFER_MAC_LEN];
	static const char msg[] = "coffer mac test vector";
	char hex[2 * COFFER_MAC_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	/* Python: hashlib.blake2b(msg, key=bytes(range(32)), digest_size=32) */
	coffer_mac(mac, msg, strlen(msg), key);
	hex_of(hex, sizeof(hex), mac, sizeof(mac));
	CHECK(strcmp(hex, "261c9e2bd02609c22907ce1665bd9fd10a4673538ee8c6d93af7bc1e4d5e98e5") == 0);
	/* Length-prefixed label, the label, a 0 separator, then the message. */
	coffer_mac2(mac, "token", msg, strlen(msg), key);
	hex_of(hex, sizeof(hex), mac, sizeof(mac));
	CHECK(strcmp(hex, "b0aeff607e74a38376a0871e485b9399855bca2cf8fbcbd2089274dcda326eb7") == 0);
}

static void test_mac_is_deterministic_and_keyed(void)
{
	uint8_t key[COFFER_KEY_LEN], key2[COFFER_KEY_LEN], a[COFFER_MAC_LEN], b[COFFER_MAC_LEN];

	coffer_random(key, sizeof(key));
	memcpy(key2, key, sizeof(key));
	key2[0] ^= 1;
	coffer_mac(a, "hello", 5, key);
	coffer_mac(b, "hello", 5, key);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	coffer_mac(b, "hello", 5, key2);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	coffer_mac(b, "hellp", 5, key);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

static void test_mac2_separates_label_and_message(void)
{
	uint8_t key[COFFER_KEY_LEN], a[COFFER_MAC_LEN], b[COFFER_MAC_LEN];

	coffer_random(key, sizeof(key));
	coffer_mac2(a, "ab", "c", 1, key);
	coffer_mac2(b, "a", "bc", 2, key);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	coffer_mac2(b, "ab", "c", 1, key);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	coffer_mac(b, "abc", 3, key);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

static void test_uuid_is_version_4(void)
{
	char a[37], b[37];
	size_t i;

	coffer_uuid(a);
	coffer_uuid(b);
	CHECK_EQ(strlen(a), 36);
	CHECK(strcmp(a, b) != 0);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			CHECK(a[i] == '-');
		else
			CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	}
	CHECK(a[14] == '4');
	CHECK(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

static void test_random_fills_buffer(void)
{
	uint8_t a[32] = {0}, zero[32] = {0};

	coffer_random(a, sizeof(a));
	CHECK(memcmp(a, zero, sizeof(a)) != 0);
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	RUN(test_aead_round_trip);
	RUN(test_aead_round_trip_without_ad_and_empty_plaintext);
	RUN(test_aead_uses_fresh_nonce);
	RUN(test_aead_rejects_every_flipped_bit);
	RUN(test_aead_rejects_wrong_ad);
	RUN(test_aead_rejects_wrong_key);
	RUN(test_aead_rejects_truncated_input);
	RUN(test_mac_known_answer);
	RUN(test_mac_is_deterministic_and_keyed);
	RUN(test_mac2_separates_label_and_message);
	RUN(test_uuid_is_version_4);
	RUN(test_random_fills_buffer);
	return test_summary();
}
