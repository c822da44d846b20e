/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jose.c: compact JWS parsing, public-key sets from PEM and JWK, signature checks through
 * GnuTLS (gnutls_pubkey_verify_data2), and claim helpers. See jose.h.
 */
#include "identity/jose.h"

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"
#include "secmem.h"
#include "xmalloc.h"

static const struct jose_alg_info {
	const char *name;
	gnutls_sign_algorithm_t sign;
	gnutls_pk_algorithm_t pk;
	unsigned ec_bits; /* ECDSA: bytes of r and of s; 0 otherwise */
} jose_algs[JOSE_ALG_COUNT] = {
    [JOSE_RS256] = {"RS256", GNUTLS_SIGN_RSA_SHA256, GNUTLS_PK_RSA, 0},
    [JOSE_RS384] = {"RS384", GNUTLS_SIGN_RSA_SHA384, GNUTLS_PK_RSA, 0},
    [JOSE_RS512] = {"RS512", GNUTLS_SIGN_RSA_SHA512, GNUTLS_PK_RSA, 0},
    [JOSE_PS256] = {"PS256", GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, GNUTLS_PK_RSA, 0},
    [JOSE_PS384] = {"PS384", GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, GNUTLS_PK_RSA, 0},
    [JOSE_PS512] = {"PS512", GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, GNUTLS_PK_RSA, 0},
    [JOSE_ES256] = {"ES256", GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, GNUTLS_PK_ECDSA, 32},
    [JOSE_ES384] = {"ES384", GNUTLS_SIGN_ECDSA_SECP384R1_SHA384, GNUTLS_PK_ECDSA, 48},
    [JOSE_ES512] = {"ES512", GNUTLS_SIGN_ECDSA_SECP521R1_SHA512, GNUTLS_PK_ECDSA, 66},
    [JOSE_EDDSA] = {"EdDSA", GNUTLS_SIGN_EDDSA_ED25519, GNUTLS_PK_EDDSA_ED25519, 0},
};

const char *jose_alg_name(enum jose_alg alg)
{
	return alg < JOSE_ALG_COUNT ? jose_algs[alg].name : "?";
}

int jose_alg_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < JOSE_ALG_COUNT; i++)
		if (strcmp(name, jose_algs[i].name) == 0)
			return i;
	return -1;
}

/* ---- the compact form ---- */

/* Decode len base64url characters into a new secmem buffer (NUL after the bytes). */
static int jose_b64(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf = secmem_alloc(cap + 1);

	if (codec_b64_decode(buf, cap, out_len, s, len, CODEC_B64_URL) != 0) {
		secmem_free(buf);
		return COFFER_ERR_INVALID;
	}
	buf[*out_len] = '\0';
	*out = buf;
	return 0;
}

/* A base64url segment that holds a JSON object. */
static int jose_b64_object(const char *s, size_t len, json_t **out)
{
	uint8_t *raw = NULL;
	size_t n = 0;
	int rc = jose_b64(s, len, &raw, &n);

	if (rc != 0)
		return rc;
	rc = coffer_json_parse_object((const char *)raw, n, out, NULL, 0);
	secmem_free(raw);
	if (rc == 0 && n == 0) {
		json_decref(*out);
		*out = NULL;
		rc = COFFER_ERR_INVALID;
	}
	return rc;
}

void jose_token_clear(struct jose_token *t)
{
	json_decref(t->header);
	json_decref(t->claims);
	secmem_free(t->signing_input);
	secmem_free(t->sig);
	memset(t, 0, sizeof(*t));
	t->alg = -1;
}

int jose_parse(const char *text, struct jose_token *t, char *why, size_t cap)
{
	const char *dot1, *dot2, *alg;
	size_t len;

	memset(t, 0, sizeof(*t));
	t->alg = -1;
	len = text == NULL ? 0 : strnlen(text, JOSE_TEXT_MAX + 1);
	if (len == 0 || len > JOSE_TEXT_MAX) {
		coffer_errf(why, cap, len == 0 ? "empty token" : "token longer than %d bytes",
		            JOSE_TEXT_MAX);
		return COFFER_ERR_INVALID;
	}
	dot1 = memchr(text, '.', len);
	dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - text));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - text)) != NULL) {
		coffer_errf(why, cap, "not a compact JWS (three base64url parts joined by '.')");
		return COFFER_ERR_INVALID;
	}
	if (jose_b64_object(text, (size_t)(dot1 - text), &t->header) != 0) {
		coffer_errf(why, cap, "the header is not base64url of a JSON object");
		goto bad;
	}
	if (jose_b64_object(dot1 + 1, (size_t)(dot2 - dot1 - 1), &t->claims) != 0) {
		coffer_errf(why, cap, "the payload is not base64url of a JSON object");
		goto bad;
	}
	if (jose_b64(dot2 + 1, len - (size_t)(dot2 + 1 - text), &t->sig, &t->sig_len) != 0) {
		coffer_errf(why, cap, "the signature is not base64url");
		goto bad;
	}
	alg = json_string_value(json_object_get(t->header, "alg"));
	if (alg == NULL) {
		coffer_errf(why, cap, "the header has no \"alg\"");
		goto bad;
	}
	if (json_object_get(t->header, "crit") != NULL) {
		coffer_errf(why, cap,
		            "the header has \"crit\" extensions, which are not supported");
		goto bad;
	}
	t->alg = jose_alg_parse(alg);
	t->kid = json_string_value(json_object_get(t->header, "kid"));
	t->signing_len = (size_t)(dot2 - text);
	t->signing_input = secmem_alloc(t->signing_len + 1);
	memcpy(t->signing_input, text, t->signing_len);
	t->signing_input[t->signing_len] = '\0';
	return 0;
bad:
	jose_token_clear(t);
	return COFFER_ERR_INVALID;
}

/* ---- key sets ---- */

struct jose_key {
	gnutls_pubkey_t pub;
	gnutls_pk_algorithm_t pk;
	gnutls_ecc_curve_t curve; /* ECDSA */
	char kid[128];
};

struct jose_keys {
	struct jose_key *keys;
	size_t n;
	int refs;
};

struct jose_keys *jose_keys_new(void)
{
	struct jose_keys *ks = xcalloc(1, sizeof(*ks));

	ks->refs = 1;
	return ks;
}

void jose_keys_ref(struct jose_keys *ks)
{
	__atomic_add_fetch(&ks->refs, 1, __ATOMIC_RELAXED);
}

void jose_keys_release(struct jose_keys *ks)
{
	size_t i;

	if (ks == NULL || __atomic_sub_fetch(&ks->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (i = 0; i < ks->n; i++)
		gnutls_pubkey_deinit(ks->keys[i].pub);
	free(ks->keys);
	free(ks);
}

size_t jose_keys_count(const struct jose_keys *ks)
{
	return ks->n;
}

const char *jose_keys_kid(const struct jose_keys *ks, size_t i)
{
	return i < ks->n ? ks->keys[i].kid : NULL;
}

bool jose_keys_has_kid(const struct jose_keys *ks, const char *kid)
{
	size_t i;

	for (i = 0; kid != NULL && i < ks->n; i++)
		if (strcmp(ks->keys[i].kid, kid) == 0)
			return true;
	return false;
}

/* The Kubernetes key id of pub: base64url(SHA-256(DER SubjectPublicKeyInfo)). */
static int jose_compute_kid(gnutls_pubkey_t pub, char *out, size_t cap)
{
	gnutls_datum_t der = {NULL, 0};
	uint8_t digest[crypto_hash_sha256_BYTES];
	int rc;

	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		return COFFER_ERR_INVALID;
	crypto_hash_sha256(digest, der.data, der.size);
	gnutls_free(der.data);
	rc = codec_b64_encode(out, cap, digest, sizeof(digest), CODEC_B64_URL);
	return rc == 0 ? 0 : COFFER_ERR_INVALID;
}

/* Take pub into ks with the id kid (NULL: the computed one). Frees pub on error. */
static int jose_keys_take(struct jose_keys *ks, gnutls_pubkey_t pub, const char *kid, char *why,
                          size_t cap)
{
	struct jose_key k = {.pub = pub};
	unsigned bits = 0;
	int pk = gnutls_pubkey_get_pk_algorithm(pub, &bits);

	if (pk == GNUTLS_PK_ECDSA &&
	    gnutls_pubkey_export_ecc_raw2(pub, &k.curve, NULL, NULL, GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
		pk = GNUTLS_PK_UNKNOWN;
	if (pk != GNUTLS_PK_RSA && pk != GNUTLS_PK_ECDSA && pk != GNUTLS_PK_EDDSA_ED25519) {
		coffer_errf(why, cap, "a key of type %s cannot verify JWTs (RSA, ECDSA or Ed25519)",
		            gnutls_pk_get_name((gnutls_pk_algorithm_t)pk));
		gnutls_pubkey_deinit(pub);
		return COFFER_ERR_INVALID;
	}
	k.pk = (gnutls_pk_algorithm_t)pk;
	if (kid != NULL && (size_t)snprintf(k.kid, sizeof(k.kid), "%s", kid) < sizeof(k.kid)) {
		/* the JWK's own id */
	} else if (jose_compute_kid(pub, k.kid, sizeof(k.kid)) != 0) {
		coffer_errf(why, cap, "the key cannot be exported");
		gnutls_pubkey_deinit(pub);
		return COFFER_ERR_INVALID;
	}
	ks->keys = xreallocarray(ks->keys, ks->n + 1, sizeof(*ks->keys));
	ks->keys[ks->n++] = k;
	return 0;
}

/* One PEM block (begin to end, inclusive) of the given label. */
static int jose_pem_block(struct jose_keys *ks, const char *label, const char *block, size_t len,
                          char *why, size_t cap)
{
	gnutls_datum_t d = {(unsigned char *)block, (unsigned)len};
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	int rc;

	if (gnutls_pubkey_init(&pub) < 0)
		return COFFER_ERR_NOMEM;
	if (strcmp(label, "CERTIFICATE") == 0) {
		rc = gnutls_x509_crt_init(&crt);
		if (rc >= 0)
			rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
		if (rc >= 0)
			rc = gnutls_pubkey_import_x509(pub, crt, 0);
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
	} else if (strcmp(label, "PUBLIC KEY") == 0) {
		rc = gnutls_pubkey_import(pub, &d, GNUTLS_X509_FMT_PEM);
	} else {
		coffer_errf(why, cap, "PEM block \"%s\" is not a public key or a certificate",
		            label);
		gnutls_pubkey_deinit(pub);
		return COFFER_ERR_INVALID;
	}
	if (rc < 0) {
		coffer_errf(why, cap, "PEM block \"%s\" does not parse: %s", label,
		            gnutls_strerror(rc));
		gnutls_pubkey_deinit(pub);
		return COFFER_ERR_INVALID;
	}
	return jose_keys_take(ks, pub, NULL, why, cap);
}

int jose_keys_add_pem(struct jose_keys *ks, const char *pem, char *why, size_t cap)
{
	static const char begin[] = "-----BEGIN ", dashes[] = "-----";
	const char *p = pem, *lend, *end;
	char label[64], endline[96];
	size_t llen, found = 0;
	int rc;

	while ((p = strstr(p, begin)) != NULL) {
		lend = strstr(p + sizeof(begin) - 1, dashes);
		llen = lend == NULL ? 0 : (size_t)(lend - p - (sizeof(begin) - 1));
		if (lend == NULL || llen == 0 || llen >= sizeof(label)) {
			coffer_errf(why, cap, "a PEM header line is malformed");
			return COFFER_ERR_INVALID;
		}
		memcpy(label, p + sizeof(begin) - 1, llen);
		label[llen] = '\0';
		snprintf(endline, sizeof(endline), "-----END %s-----", label);
		end = strstr(lend, endline);
		if (end == NULL) {
			coffer_errf(why, cap, "PEM block \"%s\" has no END line", label);
			return COFFER_ERR_INVALID;
		}
		end += strlen(endline);
		rc = jose_pem_block(ks, label, p, (size_t)(end - p), why, cap);
		if (rc != 0)
			return rc;
		found++;
		p = end;
	}
	if (found == 0) {
		coffer_errf(why, cap, "no PEM public key or certificate found");
		return COFFER_ERR_INVALID;
	}
	return 0;
}

/* A base64url member of a JWK as a GnuTLS datum (secmem; gnutls copies what it imports). */
static int jose_jwk_member(const json_t *jwk, const char *name, gnutls_datum_t *d)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	uint8_t *raw = NULL;
	size_t n = 0;

	if (s == NULL || s[0] == '\0' || jose_b64(s, strlen(s), &raw, &n) != 0 || n == 0) {
		secmem_free(raw);
		return COFFER_ERR_INVALID;
	}
	d->data = raw;
	d->size = (unsigned)n;
	return 0;
}

static gnutls_ecc_curve_t jose_curve(const char *crv)
{
	if (crv == NULL)
		return GNUTLS_ECC_CURVE_INVALID;
	if (strcmp(crv, "P-256") == 0)
		return GNUTLS_ECC_CURVE_SECP256R1;
	if (strcmp(crv, "P-384") == 0)
		return GNUTLS_ECC_CURVE_SECP384R1;
	if (strcmp(crv, "P-521") == 0)
		return GNUTLS_ECC_CURVE_SECP521R1;
	if (strcmp(crv, "Ed25519") == 0)
		return GNUTLS_ECC_CURVE_ED25519;
	return GNUTLS_ECC_CURVE_INVALID;
}

/* One JWK: 1 when added, 0 when skipped (another use or key type), or an error. */
static int jose_jwk(struct jose_keys *ks, const json_t *jwk, char *why, size_t cap)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *kid = json_string_value(json_object_get(jwk, "kid"));
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	gnutls_ecc_curve_t curve;
	gnutls_pubkey_t pub = NULL;
	int rc = COFFER_ERR_INVALID;

	if (!json_is_object(jwk) || kty == NULL || (use != NULL && strcmp(use, "sig") != 0))
		return 0;
	curve = jose_curve(json_string_value(json_object_get(jwk, "crv")));
	if (gnutls_pubkey_init(&pub) < 0)
		return COFFER_ERR_NOMEM;
	if (strcmp(kty, "RSA") == 0) {
		if (jose_jwk_member(jwk, "n", &a) == 0 && jose_jwk_member(jwk, "e", &b) == 0)
			rc = gnutls_pubkey_import_rsa_raw(pub, &a, &b) < 0 ? COFFER_ERR_INVALID : 0;
	} else if (strcmp(kty, "EC") == 0 && curve != GNUTLS_ECC_CURVE_INVALID &&
	           curve != GNUTLS_ECC_CURVE_ED25519) {
		if (jose_jwk_member(jwk, "x", &a) == 0 && jose_jwk_member(jwk, "y", &b) == 0)
			rc = gnutls_pubkey_import_ecc_raw(pub, curve, &a, &b) < 0
			         ? COFFER_ERR_INVALID
			         : 0;
	} else if (strcmp(kty, "OKP") == 0 && curve == GNUTLS_ECC_CURVE_ED25519) {
		if (jose_jwk_member(jwk, "x", &a) == 0)
			rc = gnutls_pubkey_import_ecc_raw(pub, curve, &a, NULL) < 0
			         ? COFFER_ERR_INVALID
			         : 0;
	} else {
		gnutls_pubkey_deinit(pub);
		return 0;
	}
	secmem_free(a.data);
	secmem_free(b.data);
	if (rc != 0) {
		coffer_errf(why, cap, "JWK %s (kty %s) does not parse", kid != NULL ? kid : "",
		            kty);
		gnutls_pubkey_deinit(pub);
		return rc;
	}
	rc = jose_keys_take(ks, pub, kid, why, cap);
	return rc == 0 ? 1 : rc;
}

int jose_keys_add_jwks(struct jose_keys *ks, const json_t *jwks, char *why, size_t cap)
{
	const json_t *keys = json_object_get(jwks, "keys");
	size_t i, added = 0;
	int rc;

	if (!json_is_array(keys)) {
		coffer_errf(why, cap, "not a JWK set (no \"keys\" array)");
		return COFFER_ERR_INVALID;
	}
	for (i = 0; i < json_array_size(keys); i++) {
		rc = jose_jwk(ks, json_array_get(keys, i), why, cap);
		if (rc < 0)
			return rc;
		added += (size_t)rc;
	}
	if (added == 0) {
		coffer_errf(why, cap, "the JWK set has no signing key of a supported type");
		return COFFER_ERR_INVALID;
	}
	return 0;
}

/* ---- signatures ---- */

static bool jose_key_fits(const struct jose_key *k, const struct jose_alg_info *a)
{
	if (k->pk != a->pk)
		return false;
	if (a->pk != GNUTLS_PK_ECDSA)
		return true;
	return (a->ec_bits == 32 && k->curve == GNUTLS_ECC_CURVE_SECP256R1) ||
	       (a->ec_bits == 48 && k->curve == GNUTLS_ECC_CURVE_SECP384R1) ||
	       (a->ec_bits == 66 && k->curve == GNUTLS_ECC_CURVE_SECP521R1);
}

/* 0 when k verifies t's signature with a. */
static int jose_check(const struct jose_token *t, const struct jose_key *k,
                      const struct jose_alg_info *a)
{
	gnutls_datum_t data = {(unsigned char *)t->signing_input, (unsigned)t->signing_len};
	gnutls_datum_t sig = {t->sig, (unsigned)t->sig_len}, r, s, der = {NULL, 0};
	int rc;

	if (a->ec_bits != 0) {
		/* JWS carries r || s; GnuTLS wants the DER SEQUENCE of the two. */
		if (t->sig_len != 2 * a->ec_bits)
			return COFFER_ERR_PERMISSION;
		r = (gnutls_datum_t){t->sig, a->ec_bits};
		s = (gnutls_datum_t){t->sig + a->ec_bits, a->ec_bits};
		if (gnutls_encode_rs_value(&der, &r, &s) < 0)
			return COFFER_ERR_PERMISSION;
		sig = der;
	}
	rc = gnutls_pubkey_verify_data2(k->pub, a->sign, 0, &data, &sig);
	gnutls_free(der.data);
	return rc >= 0 ? 0 : COFFER_ERR_PERMISSION;
}

int jose_verify(const struct jose_token *t, const struct jose_keys *ks, unsigned algs,
                bool by_kid_only, char *why, size_t cap)
{
	const struct jose_alg_info *a;
	bool kid_known, tried = false;
	size_t i;

	if (t->alg < 0 || (algs & JOSE_ALG_BIT(t->alg)) == 0) {
		coffer_errf(why, cap, "algorithm \"%s\" is not allowed",
		            json_string_value(json_object_get(t->header, "alg")));
		return COFFER_ERR_UNSUPPORTED;
	}
	a = &jose_algs[t->alg];
	kid_known = jose_keys_has_kid(ks, t->kid);
	if (t->kid != NULL && !kid_known && by_kid_only) {
		coffer_errf(why, cap, "no key has the token's key id");
		return COFFER_ERR_NOT_FOUND;
	}
	for (i = 0; i < ks->n; i++) {
		if (kid_known && strcmp(ks->keys[i].kid, t->kid) != 0)
			continue;
		if (!jose_key_fits(&ks->keys[i], a))
			continue;
		tried = true;
		if (jose_check(t, &ks->keys[i], a) == 0)
			return 0;
	}
	if (!tried) {
		coffer_errf(why, cap, "no configured key can verify %s", a->name);
		return COFFER_ERR_NOT_FOUND;
	}
	coffer_errf(why, cap, "no configured key verifies the signature");
	return COFFER_ERR_PERMISSION;
}

/* ---- claims ---- */

int jose_claim_time(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);
	double d;

	if (v == NULL || json_is_null(v))
		return COFFER_ERR_NOT_FOUND;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
	} else {
		if (!json_is_real(v))
			return COFFER_ERR_INVALID;
		d = json_real_value(v);
		if (!(d > -9.2e18 && d < 9.2e18))
			return COFFER_ERR_INVALID;
		*out = (int64_t)d;
	}
	if (*out > JOSE_TIME_MAX)
		*out = JOSE_TIME_MAX;
	else if (*out < -JOSE_TIME_MAX)
		*out = -JOSE_TIME_MAX;
	return 0;
}

bool jose_aud_contains(const json_t *claims, const char *aud)
{
	const json_t *v = json_object_get(claims, "aud"), *item;
	size_t i;

	if (json_is_string(v))
		return strcmp(json_string_value(v), aud) == 0;
	json_array_foreach(v, i, item)
	{
		if (json_is_string(item) && strcmp(json_string_value(item), aud) == 0)
			return true;
	}
	return false;
}

bool jose_has_aud(const json_t *claims)
{
	const json_t *v = json_object_get(claims, "aud");

	return (json_is_string(v) && json_string_length(v) > 0) ||
	       (json_is_array(v) && json_array_size(v) > 0);
}

const json_t *jose_claim(const json_t *claims, const char *key)
{
	const json_t *cur = claims;
	char seg[256];
	const char *p, *end;
	size_t n, i, o;
	char *tail;
	long idx;

	if (key == NULL)
		return NULL;
	if (key[0] != '/')
		return json_object_get(claims, key);
	for (p = key; cur != NULL && *p == '/'; p = end) {
		end = strchr(p + 1, '/');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - p - 1);
		if (n >= sizeof(seg))
			return NULL;
		/* RFC 6901 escapes: ~1 is '/', ~0 is '~'. */
		for (i = 0, o = 0; i < n; i++) {
			if (p[1 + i] == '~' && i + 1 < n && (p[2 + i] == '0' || p[2 + i] == '1')) {
				seg[o++] = p[2 + i] == '0' ? '~' : '/';
				i++;
			} else {
				seg[o++] = p[1 + i];
			}
		}
		seg[o] = '\0';
		if (json_is_array(cur)) {
			idx = strtol(seg, &tail, 10);
			cur = (*tail == '\0' && seg[0] != '\0' && idx >= 0)
			          ? json_array_get(cur, (size_t)idx)
			          : NULL;
		} else {
			cur = json_object_get(cur, seg);
		}
	}
	return cur;
}
