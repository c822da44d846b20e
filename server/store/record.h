/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record.h: the encrypted record format of everything at rest (DESIGN.md §3):
 * version (1) | key term (4, big endian) | nonce (24) | ciphertext + tag, XChaCha20-Poly1305 with
 * the record's physical key as additional data, so a record moved to another key fails to open.
 * The barrier writes its rows this way under keyring terms; the keyring row and the seal's root
 * key record use term 0 under the root and unseal keys.
 */
#ifndef COFFER_RECORD_H
#define COFFER_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "err.h"

#define RECORD_VERSION 1
#define RECORD_HEADER_LEN 5 /* version | term */
#define RECORD_OVERHEAD (RECORD_HEADER_LEN + COFFER_AEAD_OVERHEAD)

/* Seal pt under key as term into a malloc'd record (*out, *out_len), binding ad. 0, or
 * COFFER_ERR_TOO_LARGE; *out is NULL on failure. */
int record_seal(uint32_t term, const uint8_t key[COFFER_KEY_LEN], const void *ad, size_t ad_len,
                const uint8_t *pt, size_t pt_len, uint8_t **out, size_t *out_len);
/* The term a record was written under; COFFER_ERR_INTEGRITY for a malformed record. */
int record_term(const uint8_t *rec, size_t rec_len, uint32_t *term) COFFER_WUR;
/* Open a record into pt, which has exactly rec_len - RECORD_OVERHEAD bytes (secure memory for
 * keys); COFFER_ERR_INTEGRITY for any failure, with pt wiped. */
int record_open_to(const uint8_t *rec, size_t rec_len, const void *ad, size_t ad_len,
                   const uint8_t key[COFFER_KEY_LEN], uint8_t *pt) COFFER_WUR;
/* The same into a malloc'd buffer, NUL-terminated beyond *out_len; release with
 * secmem_freezero(*out, *out_len + 1). 0 or COFFER_ERR_INTEGRITY. */
int record_open(const uint8_t *rec, size_t rec_len, const void *ad, size_t ad_len,
                const uint8_t key[COFFER_KEY_LEN], uint8_t **out, size_t *out_len) COFFER_WUR;

#endif
