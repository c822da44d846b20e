/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shamir.c: Shamir secret sharing over GF(2^8) in Vault's share layout (y bytes, then x). Used by
 * server/store/seal.c to split the unseal key at init and rekey, and to combine shares at unseal.
 */
#include <string.h>

#include <sodium.h>

#include "secmem.h"
#include "shamir.h"

/*
 * Multiply in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (0x11b). Shift-and-add with masks instead of
 * branches and no tables, so timing does not depend on the (secret) operands.
 */
static uint8_t gf_mul(uint8_t a, uint8_t b)
{
	unsigned r = 0, x = a, y = b;
	int i;

	for (i = 0; i < 8; i++) {
		r ^= (0u - (y & 1u)) & x;
		x = ((x << 1) ^ ((0u - (x >> 7)) & 0x1bu)) & 0xffu;
		y >>= 1;
	}
	return (uint8_t)r;
}

/* Inverse as a^254 (a^255 = 1 for a != 0); maps 0 to 0, which callers exclude. */
static uint8_t gf_inv(uint8_t a)
{
	uint8_t sq = gf_mul(a, a); /* a^2 */
	uint8_t r = sq;
	int i;

	/* r = a^2 * a^4 * ... * a^128 = a^254 */
	for (i = 2; i < 8; i++) {
		sq = gf_mul(sq, sq);
		r = gf_mul(r, sq);
	}
	return r;
}

/* Evaluate the polynomial with coefficients c[0..t-1] (c[0] constant) at x by Horner's rule. */
static uint8_t poly_eval(const uint8_t *c, unsigned t, uint8_t x)
{
	uint8_t r = 0;
	unsigned i;

	for (i = t; i-- > 0;)
		r = (uint8_t)(gf_mul(r, x) ^ c[i]);
	return r;
}

/* The first n entries of a uniformly random permutation of 1..255. */
static void pick_xs(uint8_t xs[SHAMIR_MAX_SHARES])
{
	unsigned i, j;
	uint8_t tmp;

	for (i = 0; i < SHAMIR_MAX_SHARES; i++)
		xs[i] = (uint8_t)(i + 1);
	for (i = SHAMIR_MAX_SHARES - 1; i > 0; i--) {
		j = randombytes_uniform(i + 1);
		tmp = xs[i];
		xs[i] = xs[j];
		xs[j] = tmp;
	}
}

int shamir_split(uint8_t *const *shares, unsigned n, unsigned t, const uint8_t *secret,
                 size_t secret_len)
{
	uint8_t xs[SHAMIR_MAX_SHARES];
	uint8_t coeffs[SHAMIR_MAX_SHARES];
	size_t b;
	unsigned i;
	int rc = COFFER_ERR_INVALID;

	if (shares == NULL || secret == NULL || secret_len < 1 || t < 1 || t > n ||
	    n > SHAMIR_MAX_SHARES)
		goto out;
	for (i = 0; i < n; i++)
		if (shares[i] == NULL)
			goto out;
	if (secmem_init() != 0) {
		rc = COFFER_ERR_INTERNAL;
		goto out;
	}
	pick_xs(xs);
	for (i = 0; i < n; i++)
		shares[i][secret_len] = xs[i];
	for (b = 0; b < secret_len; b++) {
		coeffs[0] = secret[b];
		randombytes_buf(coeffs + 1, t - 1);
		for (i = 0; i < n; i++)
			shares[i][b] = poly_eval(coeffs, t, xs[i]);
	}
	rc = COFFER_OK;
out:
	sodium_memzero(coeffs, sizeof(coeffs));
	sodium_memzero(xs, sizeof(xs));
	return rc;
}

/* Check the x coordinates: each nonzero and all distinct. */
static int check_xs(const uint8_t *const *shares, unsigned count, size_t x_off)
{
	unsigned i, j;

	for (i = 0; i < count; i++) {
		if (shares[i] == NULL || shares[i][x_off] == 0)
			return COFFER_ERR_INVALID;
		for (j = 0; j < i; j++)
			if (shares[j][x_off] == shares[i][x_off])
				return COFFER_ERR_INVALID;
	}
	return COFFER_OK;
}

int shamir_combine(uint8_t *secret, const uint8_t *const *shares, unsigned count, size_t share_len)
{
	uint8_t basis[SHAMIR_MAX_SHARES];
	size_t len, b;
	unsigned i, j;
	uint8_t num, den, xi, xj, acc = 0;
	int rc = COFFER_ERR_INVALID;

	if (secret == NULL || shares == NULL || count == 0 || count > SHAMIR_MAX_SHARES ||
	    share_len < 2)
		goto out;
	len = share_len - 1;
	rc = check_xs(shares, count, len);
	if (rc != 0)
		goto out;
	/* Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR. */
	for (i = 0; i < count; i++) {
		xi = shares[i][len];
		num = 1;
		den = 1;
		for (j = 0; j < count; j++) {
			if (j == i)
				continue;
			xj = shares[j][len];
			num = gf_mul(num, xj);
			den = gf_mul(den, (uint8_t)(xj ^ xi));
		}
		basis[i] = gf_mul(num, gf_inv(den));
	}
	for (b = 0; b < len; b++) {
		acc = 0;
		for (i = 0; i < count; i++)
			acc ^= gf_mul(shares[i][b], basis[i]);
		secret[b] = acc;
	}
	rc = COFFER_OK;
out:
	sodium_memzero(&acc, sizeof(acc));
	sodium_memzero(basis, sizeof(basis));
	return rc;
}
