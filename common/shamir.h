/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shamir.h: Shamir secret sharing over GF(2^8) (the AES field, polynomial 0x11b), as Vault does it:
 * a share is the secret's length plus one byte, the last byte being the share's x coordinate
 * (1..255). Field arithmetic is branch-free and uses no secret-indexed tables.
 */
#ifndef COFFER_SHAMIR_H
#define COFFER_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHAMIR_MAX_SHARES 255

/*
 * Split secret (secret_len >= 1 bytes) into n shares with threshold t, 1 <= t <= n <= 255.
 * (Which (n, t) are allowed for unseal keys is seal.c's policy.) shares[i] must each hold
 * secret_len + 1 bytes; x coordinates are distinct and random.
 * Returns 0 or COFFER_ERR_INVALID. The polynomial coefficients are wiped.
 */
int shamir_split(uint8_t *const *shares, unsigned n, unsigned t, const uint8_t *secret,
                 size_t secret_len);

/*
 * Combine count shares of share_len bytes each (share_len >= 2) into secret (share_len - 1 bytes).
 * Rejects with COFFER_ERR_INVALID: count 0, share_len < 2, an x coordinate of 0, or two shares with
 * the same x coordinate. With fewer than the threshold the result is a wrong secret, not an error:
 * the caller detects that by authenticating what the secret opens.
 */
int shamir_combine(uint8_t *secret, const uint8_t *const *shares, unsigned count,
                   size_t share_len) COFFER_WUR;

#endif
