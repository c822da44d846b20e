/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_codec.c: hex and base64 round trips, RFC 4648 vectors, and strict rejection of anything
 * that is not the one canonical encoding.
 */
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "secmem.h"
#include "test.h"

static int b64_dec(const char *s, size_t len, enum codec_b64 v, uint8_t *out, size_t cap,
                   size_t *out_len)
{
	return codec_b64_decode(out, cap, out_len, s, len, v);
}

static void test_hex_round_trip_lengths_0_to_64(void)
{
	uint8_t in[64], out[64];
	char enc[129];
	size_t len, out_len;

	for (len = 0; len <= 64; len++) {
		coffer_random(in, sizeof(in));
		CHECK_EQ(codec_hex_encode(enc, sizeof(enc), in, len), 0);
		CHECK_EQ(strlen(enc), 2 * len);
		CHECK_EQ(codec_hex_decode(out, len, &out_len, enc, strlen(enc)), 0);
		CHECK_EQ(out_len, len);
		CHECK(memcmp(in, out, len) == 0);
	}
}

static void test_b64_round_trip_lengths_0_to_64_both_variants(void)
{
	static const enum codec_b64 variants[] = {CODEC_B64_STD, CODEC_B64_URL};
	uint8_t in[64], out[64];
	char enc[100];
	size_t len, out_len, v;

	for (v = 0; v < 2; v++) {
		for (len = 0; len <= 64; len++) {
			coffer_random(in, sizeof(in));
			CHECK_EQ(codec_b64_encode(enc, sizeof(enc), in, len, variants[v]), 0);
			CHECK_EQ(strlen(enc), codec_b64_len(len, variants[v]));
			CHECK_EQ(b64_dec(enc, strlen(enc), variants[v], out, len, &out_len), 0);
			CHECK_EQ(out_len, len);
			CHECK(memcmp(in, out, len) == 0);
		}
	}
}

static void test_b64_rfc4648_vectors(void)
{
	static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
	                                  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *const url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	static const uint8_t foobar[] = "foobar";
	char enc[16];
	size_t i;

	for (i = 0; i <= 6; i++) {
		CHECK_EQ(codec_b64_encode(enc, sizeof(enc), foobar, i, CODEC_B64_STD), 0);
		CHECK(strcmp(enc, std[i]) == 0);
		CHECK_EQ(codec_b64_encode(enc, sizeof(enc), foobar, i, CODEC_B64_URL), 0);
		CHECK(strcmp(enc, url[i]) == 0);
	}
}

static void test_b64_url_alphabet_differs_from_std(void)
{
	static const uint8_t in[2] = {0xfb, 0xff};
	uint8_t out[2];
	size_t out_len;
	char enc[8];

	CHECK_EQ(codec_b64_encode(enc, sizeof(enc), in, 2, CODEC_B64_STD), 0);
	CHECK(strcmp(enc, "+/8=") == 0);
	CHECK_EQ(codec_b64_encode(enc, sizeof(enc), in, 2, CODEC_B64_URL), 0);
	CHECK(strcmp(enc, "-_8") == 0);
	CHECK_EQ(b64_dec("+/8=", 4, CODEC_B64_URL, out, 2, &out_len), COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("-_8", 3, CODEC_B64_STD, out, 2, &out_len), COFFER_ERR_INVALID);
}

static void test_hex_encode_is_lowercase_and_decode_accepts_upper(void)
{
	static const uint8_t in[2] = {0xab, 0xcd};
	uint8_t out[2];
	size_t out_len;
	char enc[5];

	CHECK_EQ(codec_hex_encode(enc, sizeof(enc), in, 2), 0);
	CHECK(strcmp(enc, "abcd") == 0);
	CHECK_EQ(codec_hex_decode(out, 2, &out_len, "ABcD", 4), 0);
	CHECK(memcmp(out, in, 2) == 0);
}

static void test_hex_decode_rejects_bad_input(void)
{
	static const char *const bad[] = {"abc", "0g", "zz", " 00", "00 ", "0:00", "00\n", "-1"};
	uint8_t out[8];
	size_t i, out_len = 99;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(codec_hex_decode(out, sizeof(out), &out_len, bad[i], strlen(bad[i])),
		         COFFER_ERR_INVALID);
	/* An embedded NUL inside the counted length. */
	CHECK_EQ(codec_hex_decode(out, sizeof(out), &out_len, "00\0000", 4), COFFER_ERR_INVALID);
	CHECK_EQ(out_len, 0);
}

static void test_hex_rejects_too_small_output(void)
{
	static const uint8_t in[4] = {1, 2, 3, 4};
	uint8_t out[4];
	size_t out_len;
	char enc[9];

	CHECK_EQ(codec_hex_encode(enc, 8, in, 4), COFFER_ERR_INVALID);
	CHECK_EQ(codec_hex_encode(enc, 9, in, 4), 0);
	CHECK_EQ(codec_hex_decode(out, 3, &out_len, enc, 8), COFFER_ERR_INVALID);
	CHECK_EQ(codec_hex_decode(out, 4, &out_len, enc, 8), 0);
}

static void test_b64_std_rejects_bad_input(void)
{
	static const char *const bad[] = {
	    "Zg",           /* missing padding */
	    "Zg=",          /* short padding */
	    "Zg===",        /* extra padding */
	    "Zm9v=",        /* padding where none belongs */
	    "Zh==",         /* non-zero trailing bits */
	    "Zm9v Yg==",    /* embedded space */
	    " Zm9v",        /* leading space */
	    "Zm9v\n",       /* trailing newline */
	    "Zm9vYg==x",    /* trailing junk */
	    "Zm9vYg==Zg==", /* data after padding */
	    "Zm9-",         /* URL alphabet */
	    "Z",            /* impossible length */
	    "Zm9v*",        /* non-alphabet */
	};
	uint8_t out[16];
	size_t i, out_len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(b64_dec(bad[i], strlen(bad[i]), CODEC_B64_STD, out, sizeof(out), &out_len),
		         COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("Zm9v\0Zg==", 9, CODEC_B64_STD, out, sizeof(out), &out_len),
	         COFFER_ERR_INVALID);
}

static void test_b64_url_rejects_bad_input(void)
{
	static const char *const bad[] = {"Zg==",    "Zg=",   "Zm8=",  "Zh",       "Z",
	                                  "Zm9v Yg", "Zm9v+", "Zm9v/", "Zm9vYg\n", "Zm9vYgx!"};
	uint8_t out[16];
	size_t i, out_len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(b64_dec(bad[i], strlen(bad[i]), CODEC_B64_URL, out, sizeof(out), &out_len),
		         COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("Zm9v\0Zg", 7, CODEC_B64_URL, out, sizeof(out), &out_len),
	         COFFER_ERR_INVALID);
}

static void test_b64_rejects_too_small_output(void)
{
	uint8_t out[6];
	size_t out_len;
	char enc[9];

	CHECK_EQ(codec_b64_encode(enc, 8, (const uint8_t *)"foobar", 6, CODEC_B64_STD),
	         COFFER_ERR_INVALID);
	CHECK_EQ(codec_b64_encode(enc, 8, (const uint8_t *)"foobar", 6, CODEC_B64_URL),
	         COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("Zm9vYmFy", 8, CODEC_B64_STD, out, 5, &out_len), COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("Zm9vYmFy", 8, CODEC_B64_STD, out, 6, &out_len), 0);
	CHECK_EQ(out_len, 6);
	CHECK_EQ(b64_dec("Zm9vYmE", 7, CODEC_B64_URL, out, 4, &out_len), COFFER_ERR_INVALID);
	CHECK_EQ(b64_dec("Zm9vYmE", 7, CODEC_B64_URL, out, 5, &out_len), 0);
	CHECK_EQ(out_len, 5);
}

/* The redirect's path and query: unreserved bytes as they are, the rest %XX (uppercase), '/'
 * kept only when asked; what does not fit leaves "" and *pos at the end. */
static void test_percent_encode(void)
{
	char out[32];
	size_t pos = 0;

	codec_percent_encode(out, sizeof(out), &pos, "secret/data/a b", "/");
	CHECK(strcmp(out, "secret/data/a%20b") == 0);
	CHECK_EQ(pos, strlen(out));
	codec_percent_encode(out, sizeof(out), &pos, "?&=\xc3\xa9", NULL);
	CHECK_EQ(pos, sizeof(out)); /* 17 + 15 bytes and the NUL do not fit in 32 */
	CHECK(strcmp(out, "") == 0);
	pos = 0;
	codec_percent_encode(out, sizeof(out), &pos, "a/b-c_d.e~f", NULL);
	CHECK(strcmp(out, "a%2Fb-c_d.e~f") == 0);
	pos = 0;
	codec_percent_encode(out, 4, &pos, "abcd", NULL);
	CHECK_EQ(pos, 4u);
	CHECK(out[0] == '\0');
}

int main(void)
{
	if (secmem_init() != 0)
		return 1;
	RUN(test_hex_round_trip_lengths_0_to_64);
	RUN(test_b64_round_trip_lengths_0_to_64_both_variants);
	RUN(test_b64_rfc4648_vectors);
	RUN(test_b64_url_alphabet_differs_from_std);
	RUN(test_hex_encode_is_lowercase_and_decode_accepts_upper);
	RUN(test_hex_decode_rejects_bad_input);
	RUN(test_hex_rejects_too_small_output);
	RUN(test_b64_std_rejects_bad_input);
	RUN(test_b64_url_rejects_bad_input);
	RUN(test_b64_rejects_too_small_output);
	RUN(test_percent_encode);
	return test_summary();
}
