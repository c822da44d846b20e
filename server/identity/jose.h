/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jose.h: JSON Web Tokens as the kubernetes and jwt auth methods receive them: the compact JWS
 * form (RFC 7515) parsed from untrusted text, the public keys that verify it (PEM keys and
 * certificates, JWK sets; RFC 7517/7518) and its claims. Signatures are checked by GnuTLS; the
 * algorithms are the asymmetric ones of RFC 7518 plus EdDSA (RFC 8037). "none" and the HMAC
 * algorithms are never accepted: a token that names them is refused before any key is looked at.
 */
#ifndef COFFER_JOSE_H
#define COFFER_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

enum jose_alg {
	JOSE_RS256,
	JOSE_RS384,
	JOSE_RS512,
	JOSE_PS256,
	JOSE_PS384,
	JOSE_PS512,
	JOSE_ES256,
	JOSE_ES384,
	JOSE_ES512,
	JOSE_EDDSA,
	JOSE_ALG_COUNT
};

/* Sets of algorithms: bit (1u << alg). Kubernetes signs with RSA or ECDSA keys. */
#define JOSE_ALG_BIT(a) (1u << (a))
#define JOSE_ALGS_ALL ((1u << JOSE_ALG_COUNT) - 1)
#define JOSE_ALGS_KUBERNETES (JOSE_ALGS_ALL & ~JOSE_ALG_BIT(JOSE_EDDSA))

/* The JOSE name of alg ("RS256"). */
const char *jose_alg_name(enum jose_alg alg);
/* The algorithm named name, or -1 for any other name ("none", "HS256", "rs256"). */
int jose_alg_parse(const char *name);

/* Upper bound of a token's text (projected tokens are about 1 KB). */
#define JOSE_TEXT_MAX 16384

/* A parsed compact JWS. The signature has not been checked. */
struct jose_token {
	json_t *header;
	json_t *claims;
	int alg;             /* enum jose_alg, or -1 when the header names another algorithm */
	const char *kid;     /* the header's "kid", or NULL; points into header */
	char *signing_input; /* "<header>.<payload>" as received, NUL-terminated */
	size_t signing_len;
	uint8_t *sig;
	size_t sig_len;
};

/*
 * Parse text (untrusted: length-limited, strict base64url, JSON objects, no duplicate-free
 * pretence). 0, or COFFER_ERR_INVALID with the reason in why ("token has 2 parts, not 3"). On
 * error t is cleared. jose_token_clear() releases t (and wipes the copies of the text).
 */
int jose_parse(const char *text, struct jose_token *t, char *why, size_t cap);
void jose_token_clear(struct jose_token *t);

/* A set of public keys. Built once, then read by many threads; counted references. */
struct jose_keys;

struct jose_keys *jose_keys_new(void);
void jose_keys_ref(struct jose_keys *ks);
void jose_keys_release(struct jose_keys *ks);
/*
 * Add the keys of the PEM text: "PUBLIC KEY" blocks (SubjectPublicKeyInfo) and "CERTIFICATE"
 * blocks (their key). Each key's id is the Kubernetes one: base64url of the SHA-256 of its DER
 * SubjectPublicKeyInfo. 0, or COFFER_ERR_INVALID with the reason in why (no block, a block that
 * does not parse, a key type that cannot sign JWTs).
 */
int jose_keys_add_pem(struct jose_keys *ks, const char *pem, char *why, size_t cap);
/*
 * Add the keys of a JWK set ({"keys": [...]}): RSA, EC (P-256/384/521) and OKP (Ed25519) keys
 * whose "use" is absent or "sig"; others are skipped. A key without "kid" gets the computed id.
 * 0, or COFFER_ERR_INVALID (not a JWK set, a supported key that does not parse, no usable key).
 */
int jose_keys_add_jwks(struct jose_keys *ks, const json_t *jwks, char *why, size_t cap);
size_t jose_keys_count(const struct jose_keys *ks);
bool jose_keys_has_kid(const struct jose_keys *ks, const char *kid);
/* The id of key i (for tests and messages). */
const char *jose_keys_kid(const struct jose_keys *ks, size_t i);

/*
 * Check t's signature with ks. The algorithm must be in algs (JOSE_ALG_BIT set). When the token
 * names a kid that a key of ks has, only that key is tried; otherwise every key whose type fits
 * the algorithm. 0, or:
 *   COFFER_ERR_UNSUPPORTED  the algorithm is not allowed ("none", HMAC, or outside algs)
 *   COFFER_ERR_NOT_FOUND    no key of a type that fits, or the kid names no key and by_kid_only
 *   COFFER_ERR_PERMISSION   no key verifies the signature
 * with the reason in why.
 */
int jose_verify(const struct jose_token *t, const struct jose_keys *ks, unsigned algs,
                bool by_kid_only, char *why, size_t cap);

/* The NumericDate claim name (exp, nbf, iat): 0, COFFER_ERR_NOT_FOUND when absent,
 * COFFER_ERR_INVALID when not a number. A time beyond +-JOSE_TIME_MAX reads as that bound (285
 * million years either way), so that sums and differences of times and leeways cannot overflow. */
#define JOSE_TIME_MAX ((int64_t)1 << 53)
int jose_claim_time(const json_t *claims, const char *name, int64_t *out);
/* Whether the "aud" claim (a string or an array of strings) contains aud. */
bool jose_aud_contains(const json_t *claims, const char *aud);
/* Whether the token has a non-empty "aud" claim. */
bool jose_has_aud(const json_t *claims);
/* The claim at key: a JSON pointer (RFC 6901) when it starts with '/', else a top-level name.
 * NULL when absent. */
const json_t *jose_claim(const json_t *claims, const char *key);

#endif
