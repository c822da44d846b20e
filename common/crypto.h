/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto.h: the primitives the vault is built from, over libsodium: XChaCha20-Poly1305 AEAD with
 * additional data, keyed BLAKE2b MACs, and random bytes. Functions are prefixed coffer_ because
 * libsodium owns the crypto_ namespace.
 */
#ifndef COFFER_CRYPTO_H
#define COFFER_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define COFFER_KEY_LEN 32   /* AEAD and MAC keys */
#define COFFER_NONCE_LEN 24 /* XChaCha20-Poly1305 nonce */
#define COFFER_TAG_LEN 16   /* Poly1305 tag */
#define COFFER_MAC_LEN 32   /* keyed BLAKE2b-256 output */
/* Bytes that coffer_aead_seal adds to a plaintext: nonce, then tag. */
#define COFFER_AEAD_OVERHEAD (COFFER_NONCE_LEN + COFFER_TAG_LEN)

/* Fill buf with len bytes from the system CSPRNG. */
void coffer_random(void *buf, size_t len);

/*
 * Encrypt pt (pt_len bytes) under key with a fresh random nonce, binding ad (ad_len bytes, may be
 * NULL/0). out receives nonce | ciphertext | tag and must hold pt_len + COFFER_AEAD_OVERHEAD bytes.
 * Returns 0 or COFFER_ERR_INVALID.
 */
int coffer_aead_seal(uint8_t *out, const uint8_t *pt, size_t pt_len, const uint8_t *ad,
                     size_t ad_len, const uint8_t key[COFFER_KEY_LEN]);

/*
 * Decrypt and authenticate in (nonce | ciphertext | tag, in_len bytes) with ad. out must hold
 * in_len - COFFER_AEAD_OVERHEAD bytes; on failure it is wiped. Returns 0, COFFER_ERR_INVALID for a
 * short input, or COFFER_ERR_INTEGRITY when authentication fails (wrong key, data or ad).
 */
int coffer_aead_open(uint8_t *out, const uint8_t *in, size_t in_len, const uint8_t *ad,
                     size_t ad_len, const uint8_t key[COFFER_KEY_LEN]) COFFER_WUR;

/* out = keyed BLAKE2b-256(key, msg). */
void coffer_mac(uint8_t out[COFFER_MAC_LEN], const void *msg, size_t len,
                const uint8_t key[COFFER_KEY_LEN]);
/* Same, over the concatenation of a domain label and msg, so one key can serve several purposes. */
void coffer_mac2(uint8_t out[COFFER_MAC_LEN], const char *label, const void *msg, size_t len,
                 const uint8_t key[COFFER_KEY_LEN]);

/* A random RFC 4122 version-4 UUID as 36 characters plus NUL. */
void coffer_uuid(char out[37]);
/* The same shape, unique but cheaper (no system call); for request ids, never for secrets. */
void coffer_request_id(char out[37]);

#endif
