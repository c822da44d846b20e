/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyring.h: the data-encryption keys. A keyring is a list of terms (a 256-bit key each, numbered
 * from 1) of which the newest encrypts; older terms stay for decryption. It also holds the path key
 * that hides logical paths (barrier.c) and the hash key for stored token hashes. A keyring lives
 * in secmem and is immutable once built: rotation makes a new one (copy-on-write), so readers need
 * only hold a reference under the barrier's lock.
 */
#ifndef COFFER_KEYRING_H
#define COFFER_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "err.h"

struct keyring_term {
	uint32_t term;
	int64_t install_time; /* Unix seconds */
	uint8_t key[COFFER_KEY_LEN];
};

struct keyring;

/* A new keyring with term 1 and fresh random path and hash keys. */
struct keyring *keyring_new(void);
/* Wipe and free; NULL allowed. */
void keyring_free(struct keyring *kr);
/* A copy of kr with one more term (a fresh random key, installed now) that becomes active. */
int keyring_rotate(const struct keyring *kr, struct keyring **out);

const struct keyring_term *keyring_active(const struct keyring *kr);
/* The term numbered term, or NULL. */
const struct keyring_term *keyring_term(const struct keyring *kr, uint32_t term);
const uint8_t *keyring_path_key(const struct keyring *kr);
const uint8_t *keyring_hash_key(const struct keyring *kr);

/* Binary form (versioned): *out is secmem, free with secmem_free(). */
void keyring_serialize(const struct keyring *kr, uint8_t **out, size_t *out_len);
/* Strict: COFFER_ERR_INTEGRITY on any malformed input. */
int keyring_deserialize(const uint8_t *buf, size_t len, struct keyring **out) COFFER_WUR;

#endif
