/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.c: AEAD, MACs, randomness and UUIDs over libsodium. Called by the barrier, keyring and
 * seal code for storage encryption, and by the token store for MACs.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"
#include "secmem.h"

/*
 * Small requests (nonces, ids, keys) come from a per-thread ChaCha20 generator with fast key
 * erasure: each call draws the next key along with its output, so earlier output cannot be
 * recomputed from the state. It is seeded from the kernel, reseeded every MiB, and reset in a
 * forked child. This saves a system call per nonce on the write path. Large requests go to the
 * kernel directly.
 */
#define DRBG_MAX_CHUNK 256
#define DRBG_RESEED_BYTES (1u << 20)

struct coffer_drbg {
	uint8_t key[crypto_stream_chacha20_ietf_KEYBYTES];
	size_t used;
	bool is_seeded;
};

static _Thread_local struct coffer_drbg drbg;
static pthread_once_t drbg_once = PTHREAD_ONCE_INIT;

static void drbg_forget(void)
{
	sodium_memzero(&drbg, sizeof(drbg));
}

static void drbg_register(void)
{
	pthread_atfork(NULL, NULL, drbg_forget);
}

void coffer_random(void *buf, size_t len)
{
	static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES];
	uint8_t block[sizeof(drbg.key) + DRBG_MAX_CHUNK];

	(void)secmem_init();
	if (len > DRBG_MAX_CHUNK) {
		randombytes_buf(buf, len);
		return;
	}
	pthread_once(&drbg_once, drbg_register);
	if (!drbg.is_seeded || drbg.used > DRBG_RESEED_BYTES) {
		randombytes_buf(drbg.key, sizeof(drbg.key));
		drbg.used = 0;
		drbg.is_seeded = true;
	}
	/* The key changes on every call, so one nonce serves. */
	crypto_stream_chacha20_ietf(block, sizeof(drbg.key) + len, nonce, drbg.key);
	memcpy(drbg.key, block, sizeof(drbg.key));
	memcpy(buf, block + sizeof(drbg.key), len);
	sodium_memzero(block, sizeof(block));
	drbg.used += len;
}

int coffer_aead_seal(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad,
                     size_t ad_len, const uint8_t key[COFFER_KEY_LEN])
{
	unsigned long long ct_len = 0;
	int rc = COFFER_ERR_INVALID;

	if (out == NULL || key == NULL || (pt == NULL && pt_len > 0) ||
	    (ad == NULL && ad_len > 0) ||
	    pt_len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
		goto out;
	if (secmem_init() != 0) {
		rc = COFFER_ERR_INTERNAL;
		goto out;
	}
	coffer_random(out, COFFER_NONCE_LEN);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + COFFER_NONCE_LEN, &ct_len, pt, pt_len,
	                                               ad, ad_len, NULL, out, key) != 0)
		goto out;
	rc = COFFER_OK;
out:
	return rc;
}

int coffer_aead_open(uint8_t *out, const uint8_t *in, size_t in_len, const uint8_t *ad,
                     size_t ad_len, const uint8_t key[COFFER_KEY_LEN])
{
	unsigned long long pt_len = 0;
	int rc = COFFER_ERR_INVALID;

	if (in == NULL || key == NULL || in_len < COFFER_AEAD_OVERHEAD ||
	    (ad == NULL && ad_len > 0) || (out == NULL && in_len > COFFER_AEAD_OVERHEAD))
		goto out;
	if (secmem_init() != 0) {
		rc = COFFER_ERR_INTERNAL;
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &pt_len, NULL, in + COFFER_NONCE_LEN,
	                                               in_len - COFFER_NONCE_LEN, ad, ad_len, in,
	                                               key) != 0) {
		/* libsodium writes nothing on failure, but the contract promises a wiped buffer. */
		secmem_wipe(out, in_len - COFFER_AEAD_OVERHEAD);
		rc = COFFER_ERR_INTEGRITY;
		goto out;
	}
	rc = COFFER_OK;
out:
	return rc;
}

void coffer_mac(uint8_t out[COFFER_MAC_LEN], const void *msg, size_t len,
                const uint8_t key[COFFER_KEY_LEN])
{
	(void)secmem_init();
	crypto_generichash(out, COFFER_MAC_LEN, msg, len, key, COFFER_KEY_LEN);
}

void coffer_mac2(uint8_t out[COFFER_MAC_LEN], const char *label, const void *msg, size_t len,
                 const uint8_t key[COFFER_KEY_LEN])
{
	crypto_generichash_state st;
	uint8_t label_len_le[8];
	uint8_t sep = 0;
	size_t label_len = label != NULL ? strlen(label) : 0;
	size_t i;

	(void)secmem_init();
	/* Prefix the label's length so ("ab", "c") and ("a", "bc") can never collide. */
	for (i = 0; i < sizeof(label_len_le); i++)
		label_len_le[i] = (uint8_t)((uint64_t)label_len >> (8 * i));
	crypto_generichash_init(&st, key, COFFER_KEY_LEN, COFFER_MAC_LEN);
	crypto_generichash_update(&st, label_len_le, sizeof(label_len_le));
	crypto_generichash_update(&st, (const uint8_t *)label, label_len);
	crypto_generichash_update(&st, &sep, 1);
	crypto_generichash_update(&st, msg, len);
	crypto_generichash_final(&st, out, COFFER_MAC_LEN);
	sodium_memzero(&st, sizeof(st));
}

static void coffer_uuid_format(const uint8_t b_in[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t i, o = 0;

	memcpy(b, b_in, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
	sodium_memzero(b, sizeof(b));
}

void coffer_uuid(char out[37])
{
	uint8_t b[16];

	coffer_random(b, sizeof(b));
	coffer_uuid_format(b, out);
	sodium_memzero(b, sizeof(b));
}

void coffer_request_id(char out[37])
{
	/* coffer_random() no longer costs a system call; kept apart so that request ids could
	 * change shape without touching the ids of secrets. */
	coffer_uuid(out);
}
