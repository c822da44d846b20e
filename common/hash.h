/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.h: FNV-1a (64-bit), the one non-cryptographic hash of the tree: bucket and stripe choice
 * for in-memory tables keyed by data an attacker may know but that is not secret (policy rules,
 * lease ids, watched paths, KV key locks). Never for anything that must resist forgery or leak
 * nothing: those use keyed BLAKE2b (crypto.h).
 */
#ifndef COFFER_HASH_H
#define COFFER_HASH_H

#include <stddef.h>
#include <stdint.h>

#define COFFER_FNV1A_INIT UINT64_C(1469598103934665603)
#define COFFER_FNV1A_PRIME UINT64_C(1099511628211)

/* h (COFFER_FNV1A_INIT to start) extended by len bytes at p. */
static inline uint64_t coffer_fnv1a_add(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * COFFER_FNV1A_PRIME;
	return h;
}

/* h extended by the bytes of the string s (without its NUL). */
static inline uint64_t coffer_fnv1a_add_str(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * COFFER_FNV1A_PRIME;
	return h;
}

#endif
