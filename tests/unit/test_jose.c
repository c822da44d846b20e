/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_jose.c: JWS parsing and signature checks (server/identity/jose.c) with keys made here by
 * GnuTLS and tokens signed here: every algorithm verifies with its key from PEM and from a JWK
 * set; a wrong key, a changed payload, "none", HMAC and malformed texts are refused with the
 * documented error; the key id selects the key; JSON pointers and '*' globs (auth_role.c).
 */
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sodium.h>
#include <string.h>

#include "identity/auth_role.h"
#include "identity/jose.h"
#include "codec.h"
#include "json.h"
#include "test.h"

struct test_key {
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
	char *pem;
};

static int key_make(struct test_key *k, gnutls_pk_algorithm_t pk, unsigned bits)
{
	gnutls_datum_t pem = {NULL, 0};

	memset(k, 0, sizeof(*k));
	if (gnutls_privkey_init(&k->priv) < 0 ||
	    gnutls_privkey_generate2(k->priv, pk, bits, 0, NULL, 0) < 0)
		return -1;
	if (gnutls_pubkey_init(&k->pub) < 0 ||
	    gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0) < 0)
		return -1;
	if (gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_PEM, &pem) < 0)
		return -1;
	k->pem = strndup((const char *)pem.data, pem.size);
	gnutls_free(pem.data);
	return 0;
}

static void key_free(struct test_key *k)
{
	if (k->pub != NULL)
		gnutls_pubkey_deinit(k->pub);
	if (k->priv != NULL)
		gnutls_privkey_deinit(k->priv);
	free(k->pem);
	memset(k, 0, sizeof(*k));
}

static char *b64url(const void *p, size_t n)
{
	size_t cap = codec_b64_len(n, CODEC_B64_URL) + 1;
	char *out = malloc(cap);

	if (codec_b64_encode(out, cap, p, n, CODEC_B64_URL) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static const struct {
	const char *alg;
	gnutls_sign_algorithm_t sign;
	unsigned ec_len;
} algs[] = {
    {"RS256", GNUTLS_SIGN_RSA_SHA256, 0},
    {"RS384", GNUTLS_SIGN_RSA_SHA384, 0},
    {"RS512", GNUTLS_SIGN_RSA_SHA512, 0},
    {"PS256", GNUTLS_SIGN_RSA_PSS_RSAE_SHA256, 0},
    {"PS384", GNUTLS_SIGN_RSA_PSS_RSAE_SHA384, 0},
    {"PS512", GNUTLS_SIGN_RSA_PSS_RSAE_SHA512, 0},
    {"ES256", GNUTLS_SIGN_ECDSA_SECP256R1_SHA256, 32},
    {"ES384", GNUTLS_SIGN_ECDSA_SECP384R1_SHA384, 48},
    {"ES512", GNUTLS_SIGN_ECDSA_SECP521R1_SHA512, 66},
    {"EdDSA", GNUTLS_SIGN_EDDSA_ED25519, 0},
};

/* header.payload.signature for header {"alg": alg[, "kid": kid]} and payload claims. */
static char *sign_token(const struct test_key *k, int a, const char *kid, const char *claims)
{
	char header[256], *h, *p, *s = NULL, *input = NULL, *out = NULL;
	gnutls_datum_t data, sig = {NULL, 0}, r0 = {NULL, 0}, s0 = {NULL, 0}, r, sv;
	unsigned char raw[132];

	if (kid != NULL)
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}",
		         algs[a].alg, kid);
	else
		snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[a].alg);
	h = b64url(header, strlen(header));
	p = b64url(claims, strlen(claims));
	if (asprintf(&input, "%s.%s", h, p) < 0)
		input = NULL;
	data = (gnutls_datum_t){(unsigned char *)input, (unsigned)strlen(input)};
	if (gnutls_privkey_sign_data2(k->priv, algs[a].sign, 0, &data, &sig) < 0)
		goto out;
	if (algs[a].ec_len != 0) {
		/* GnuTLS gives the DER SEQUENCE; JWS wants r || s, each left-padded. */
		if (gnutls_decode_rs_value(&sig, &r0, &s0) < 0)
			goto out;
		r = r0;
		sv = s0;
		memset(raw, 0, sizeof(raw));
		while (r.size > algs[a].ec_len && r.data[0] == 0) {
			r.data++;
			r.size--;
		}
		while (sv.size > algs[a].ec_len && sv.data[0] == 0) {
			sv.data++;
			sv.size--;
		}
		memcpy(raw + algs[a].ec_len - r.size, r.data, r.size);
		memcpy(raw + 2 * algs[a].ec_len - sv.size, sv.data, sv.size);
		s = b64url(raw, 2 * algs[a].ec_len);
	} else {
		s = b64url(sig.data, sig.size);
	}
	if (asprintf(&out, "%s.%s", input, s) < 0)
		out = NULL;
out:
	free(h);
	free(p);
	free(s);
	free(input);
	gnutls_free(sig.data);
	gnutls_free(r0.data);
	gnutls_free(s0.data);
	return out;
}

static int alg_index(const char *name)
{
	for (int i = 0; i < (int)(sizeof(algs) / sizeof(algs[0])); i++)
		if (strcmp(algs[i].alg, name) == 0)
			return i;
	return -1;
}

/* The key of each algorithm family. */
static struct test_key rsa, rsa2, p256, p384, p521, ed;

static const struct test_key *key_for(int a)
{
	const char *n = algs[a].alg;

	if (n[0] == 'R' || n[0] == 'P')
		return &rsa;
	if (strcmp(n, "ES256") == 0)
		return &p256;
	if (strcmp(n, "ES384") == 0)
		return &p384;
	if (strcmp(n, "ES512") == 0)
		return &p521;
	return &ed;
}

static const char *claims = "{\"sub\":\"system:serviceaccount:default:app\",\"aud\":[\"coffer\"],"
                            "\"exp\":4000000000,\"kubernetes.io\":{\"namespace\":\"default\"}}";

static void every_algorithm_verifies_with_its_pem_key(void)
{
	struct jose_keys *ks = jose_keys_new();
	struct jose_token t = {0};
	char *text = NULL, why[256];
	int a;

	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_add_pem(ks, p256.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_add_pem(ks, p384.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_add_pem(ks, p521.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_add_pem(ks, ed.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_count(ks), 5);
	for (a = 0; a < (int)(sizeof(algs) / sizeof(algs[0])); a++) {
		text = sign_token(key_for(a), a, NULL, claims);
		CHECK_OUT(text != NULL);
		CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
		CHECK_EQ_OUT(t.alg, jose_alg_parse(algs[a].alg));
		if (jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)) != 0) {
			fprintf(stderr, "%s: %s\n", algs[a].alg, why);
			CHECK_OUT(0);
		}
		/* Kubernetes never signs with EdDSA. */
		CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_KUBERNETES, false, why, sizeof(why)),
		             strcmp(algs[a].alg, "EdDSA") == 0 ? COFFER_ERR_UNSUPPORTED : 0);
		jose_token_clear(&t);
		free(text);
		text = NULL;
	}
out:
	jose_token_clear(&t);
	free(text);
	jose_keys_release(ks);
}

static void a_wrong_key_or_a_changed_payload_is_refused(void)
{
	struct jose_keys *ks = jose_keys_new();
	struct jose_token t = {0};
	char *text = NULL, *forged = NULL, *dot, why[256];
	const char *other = "{\"sub\":\"system:serviceaccount:kube-system:admin\"}";
	char *p = b64url(other, strlen(other));

	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa2.pem, why, sizeof(why)), 0);
	text = sign_token(&rsa, alg_index("RS256"), NULL, claims);
	CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)),
	             COFFER_ERR_PERMISSION);
	jose_token_clear(&t);
	/* The right key, another payload under the same signature. */
	jose_keys_release(ks);
	ks = jose_keys_new();
	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa.pem, why, sizeof(why)), 0);
	dot = strchr(text, '.');
	CHECK_OUT(asprintf(&forged, "%.*s.%s%s", (int)(dot - text), text, p, strrchr(text, '.')) >
	          0);
	CHECK_EQ_OUT(jose_parse(forged, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)),
	             COFFER_ERR_PERMISSION);
	jose_token_clear(&t);
	/* An ES256 token and only an RSA key: no key can check it. */
	free(text);
	text = sign_token(&p256, alg_index("ES256"), NULL, claims);
	CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)),
	             COFFER_ERR_NOT_FOUND);
out:
	jose_token_clear(&t);
	free(text);
	free(forged);
	free(p);
	jose_keys_release(ks);
}

static void none_and_hmac_are_refused_before_any_key(void)
{
	struct jose_keys *ks = jose_keys_new();
	struct jose_token t = {0};
	const char *hdr[] = {"{\"alg\":\"none\"}", "{\"alg\":\"HS256\"}", "{\"alg\":\"rs256\"}"};
	char *h = NULL, *p = b64url(claims, strlen(claims)), *text = NULL, why[256];
	size_t i;

	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa.pem, why, sizeof(why)), 0);
	for (i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		h = b64url(hdr[i], strlen(hdr[i]));
		CHECK_OUT(asprintf(&text, "%s.%s.%s", h, p, i == 0 ? "" : "c2ln") > 0);
		CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
		CHECK_EQ_OUT(t.alg, -1);
		CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)),
		             COFFER_ERR_UNSUPPORTED);
		CHECK_OUT(strstr(why, "not allowed") != NULL);
		jose_token_clear(&t);
		free(text);
		free(h);
		text = h = NULL;
	}
out:
	jose_token_clear(&t);
	free(text);
	free(h);
	free(p);
	jose_keys_release(ks);
}

static void malformed_texts_are_refused_with_a_reason(void)
{
	static const char *bad[] = {"",
	                            "abc",
	                            "a.b",
	                            "a.b.c.d",
	                            "e30.e30.!!",
	                            "W10.e30.",
	                            "e30.bm90IGpzb24.",
	                            "eyJ0eXAiOiJKV1QifQ.e30."};
	struct jose_token t = {0};
	char why[256], *long_text = NULL;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_EQ(jose_parse(bad[i], &t, why, sizeof(why)), COFFER_ERR_INVALID);
		CHECK(why[0] != '\0');
		CHECK(t.header == NULL && t.claims == NULL && t.sig == NULL);
	}
	long_text = malloc(JOSE_TEXT_MAX + 2);
	memset(long_text, 'a', JOSE_TEXT_MAX + 1);
	long_text[JOSE_TEXT_MAX + 1] = '\0';
	CHECK_EQ_OUT(jose_parse(long_text, &t, why, sizeof(why)), COFFER_ERR_INVALID);
	/* "crit" extensions are refused (RFC 7515 4.1.11: a verifier must understand them). */
	CHECK_EQ_OUT(
	    jose_parse("eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.c2ln", &t, why, sizeof(why)),
	    COFFER_ERR_INVALID);
out:
	free(long_text);
}

/* The Kubernetes key id: base64url(SHA-256(DER SubjectPublicKeyInfo)). */
static void kid_is_the_kubernetes_key_id_and_selects_the_key(void)
{
	struct jose_keys *ks = jose_keys_new();
	struct jose_token t = {0};
	gnutls_datum_t der = {NULL, 0};
	unsigned char digest[32];
	char *want = NULL, *text = NULL, why[256];

	CHECK_EQ_OUT(gnutls_pubkey_export2(rsa2.pub, GNUTLS_X509_FMT_DER, &der), 0);
	crypto_hash_sha256(digest, der.data, der.size);
	want = b64url(digest, sizeof(digest));
	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa.pem, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_add_pem(ks, rsa2.pem, why, sizeof(why)), 0);
	CHECK_OUT(strcmp(jose_keys_kid(ks, 1), want) == 0);
	CHECK_OUT(jose_keys_has_kid(ks, want));
	/* Signed by rsa2 with its kid: verified (only that key is tried). */
	text = sign_token(&rsa2, alg_index("RS256"), want, claims);
	CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, true, why, sizeof(why)), 0);
	jose_token_clear(&t);
	free(text);
	/* Signed by rsa but naming rsa2's kid: only rsa2 is tried, so refused. */
	text = sign_token(&rsa, alg_index("RS256"), want, claims);
	CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)),
	             COFFER_ERR_PERMISSION);
	jose_token_clear(&t);
	free(text);
	/* An unknown kid: every key is tried, unless the caller wants the kid only. */
	text = sign_token(&rsa, alg_index("RS256"), "no-such-kid", claims);
	CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, true, why, sizeof(why)),
	             COFFER_ERR_NOT_FOUND);
out:
	jose_token_clear(&t);
	free(text);
	free(want);
	gnutls_free(der.data);
	jose_keys_release(ks);
}

/* The JWK of a test key. */
static json_t *jwk_of(const struct test_key *k, const char *kid)
{
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	gnutls_ecc_curve_t curve;
	json_t *jwk = NULL;
	char *x, *y;
	int pk = gnutls_pubkey_get_pk_algorithm(k->pub, NULL);

	if (pk == GNUTLS_PK_RSA) {
		gnutls_pubkey_export_rsa_raw2(k->pub, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ);
		x = b64url(a.data, a.size);
		y = b64url(b.data, b.size);
		jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "n", x, "e", y, "kid", kid,
		                "use", "sig");
	} else {
		gnutls_pubkey_export_ecc_raw2(k->pub, &curve, &a, &b, GNUTLS_EXPORT_FLAG_NO_LZ);
		x = b64url(a.data, a.size);
		y = b.size > 0 ? b64url(b.data, b.size) : NULL;
		if (curve == GNUTLS_ECC_CURVE_ED25519)
			jwk = json_pack("{s:s,s:s,s:s,s:s}", "kty", "OKP", "crv", "Ed25519", "x", x,
			                "kid", kid);
		else
			jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv",
			                curve == GNUTLS_ECC_CURVE_SECP256R1   ? "P-256"
			                : curve == GNUTLS_ECC_CURVE_SECP384R1 ? "P-384"
			                                                      : "P-521",
			                "x", x, "y", y, "kid", kid);
	}
	free(x);
	free(y);
	gnutls_free(a.data);
	gnutls_free(b.data);
	return jwk;
}

static void a_jwk_set_verifies_every_algorithm(void)
{
	struct jose_keys *ks = jose_keys_new();
	struct jose_token t = {0};
	json_t *jwks = json_pack("{s:[]}", "keys");
	char *text = NULL, why[256];
	int a;

	json_array_append_new(json_object_get(jwks, "keys"), jwk_of(&rsa, "r"));
	json_array_append_new(json_object_get(jwks, "keys"), jwk_of(&p256, "p256"));
	json_array_append_new(json_object_get(jwks, "keys"), jwk_of(&p384, "p384"));
	json_array_append_new(json_object_get(jwks, "keys"), jwk_of(&p521, "p521"));
	json_array_append_new(json_object_get(jwks, "keys"), jwk_of(&ed, "ed"));
	/* An encryption key and an unknown type are skipped. */
	json_array_append_new(json_object_get(jwks, "keys"),
	                      json_pack("{s:s,s:s}", "kty", "RSA", "use", "enc"));
	json_array_append_new(json_object_get(jwks, "keys"),
	                      json_pack("{s:s,s:s}", "kty", "oct", "k", "c2VjcmV0"));
	CHECK_EQ_OUT(jose_keys_add_jwks(ks, jwks, why, sizeof(why)), 0);
	CHECK_EQ_OUT(jose_keys_count(ks), 5);
	for (a = 0; a < (int)(sizeof(algs) / sizeof(algs[0])); a++) {
		text = sign_token(key_for(a), a, NULL, claims);
		CHECK_EQ_OUT(jose_parse(text, &t, why, sizeof(why)), 0);
		CHECK_EQ_OUT(jose_verify(&t, ks, JOSE_ALGS_ALL, false, why, sizeof(why)), 0);
		jose_token_clear(&t);
		free(text);
		text = NULL;
	}
	/* Not a JWK set; a set without a usable key. */
	CHECK_EQ_OUT(jose_keys_add_jwks(ks, json_object_get(jwks, "keys"), why, sizeof(why)),
	             COFFER_ERR_INVALID);
	json_decref(jwks);
	jwks = json_pack("{s:[{s:s,s:s,s:s}]}", "keys", "kty", "RSA", "n", "!!", "e", "AQAB");
	CHECK_EQ_OUT(jose_keys_add_jwks(ks, jwks, why, sizeof(why)), COFFER_ERR_INVALID);
out:
	jose_token_clear(&t);
	free(text);
	json_decref(jwks);
	jose_keys_release(ks);
}

static void pem_text_that_is_not_a_key_is_refused(void)
{
	struct jose_keys *ks = jose_keys_new();
	char why[256];

	CHECK_EQ_OUT(jose_keys_add_pem(ks, "not pem", why, sizeof(why)), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(jose_keys_add_pem(ks,
	                               "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC "
	                               "KEY-----\n",
	                               why, sizeof(why)),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(jose_keys_add_pem(ks,
	                               "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
	                               "KEY-----\n",
	                               why, sizeof(why)),
	             COFFER_ERR_INVALID);
	CHECK_EQ_OUT(jose_keys_count(ks), 0);
out:
	jose_keys_release(ks);
}

static void claims_pointers_times_and_audiences(void)
{
	json_t *c = json_loads("{\"a\":{\"b/c\":\"x\",\"d~e\":[\"y\",\"z\"]},\"aud\":\"one\","
	                       "\"exp\":12.5,\"nbf\":\"soon\",\"lo\":-9223372036854775808,"
	                       "\"hi\":9223372036854775807,\"big\":9.1e18}",
	                       0, NULL);
	int64_t t = 0;

	CHECK_OUT(json_is_string(jose_claim(c, "/a/b~1c")));
	CHECK_OUT(strcmp(json_string_value(jose_claim(c, "/a/d~0e/1")), "z") == 0);
	CHECK_OUT(jose_claim(c, "/a/d~0e/7") == NULL);
	CHECK_OUT(jose_claim(c, "/nope") == NULL);
	CHECK_OUT(jose_claim(c, "aud") != NULL);
	CHECK_EQ_OUT(jose_claim_time(c, "exp", &t), 0);
	CHECK_EQ_OUT(t, 12);
	CHECK_EQ_OUT(jose_claim_time(c, "nbf", &t), COFFER_ERR_INVALID);
	CHECK_EQ_OUT(jose_claim_time(c, "iat", &t), COFFER_ERR_NOT_FOUND);
	/* Bounded, so that exp - iat or now - exp cannot overflow. */
	CHECK_EQ_OUT(jose_claim_time(c, "lo", &t), 0);
	CHECK_EQ_OUT(t, -JOSE_TIME_MAX);
	CHECK_EQ_OUT(jose_claim_time(c, "hi", &t), 0);
	CHECK_EQ_OUT(t, JOSE_TIME_MAX);
	CHECK_EQ_OUT(jose_claim_time(c, "big", &t), 0);
	CHECK_EQ_OUT(t, JOSE_TIME_MAX);
	CHECK_OUT(jose_aud_contains(c, "one") && !jose_aud_contains(c, "two"));
	CHECK_OUT(jose_has_aud(c));
out:
	json_decref(c);
}

static void globs_have_only_the_star(void)
{
	CHECK(auth_glob_match("web-*", "web-1"));
	CHECK(auth_glob_match("*", ""));
	CHECK(auth_glob_match("a*b*c", "axxbyyc"));
	CHECK(!auth_glob_match("web-*", "db-1"));
	CHECK(!auth_glob_match("web-?", "web-1"));
	CHECK(auth_glob_match("web-?", "web-?"));
	CHECK(!auth_glob_match("app", "app2"));
	CHECK(auth_role_name_is_valid("app") && auth_role_name_is_valid("a.b-c_d"));
	CHECK(!auth_role_name_is_valid("-a") && !auth_role_name_is_valid("a/b") &&
	      !auth_role_name_is_valid(""));
}

int main(void)
{
	coffer_json_init();
	if (sodium_init() < 0 || key_make(&rsa, GNUTLS_PK_RSA, 2048) != 0 ||
	    key_make(&rsa2, GNUTLS_PK_RSA, 2048) != 0 ||
	    key_make(&p256, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1)) !=
	        0 ||
	    key_make(&p384, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1)) !=
	        0 ||
	    key_make(&p521, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP521R1)) !=
	        0 ||
	    key_make(&ed, GNUTLS_PK_EDDSA_ED25519, 256) != 0) {
		fprintf(stderr, "cannot make the test keys\n");
		return 1;
	}
	RUN(every_algorithm_verifies_with_its_pem_key);
	RUN(a_wrong_key_or_a_changed_payload_is_refused);
	RUN(none_and_hmac_are_refused_before_any_key);
	RUN(malformed_texts_are_refused_with_a_reason);
	RUN(kid_is_the_kubernetes_key_id_and_selects_the_key);
	RUN(a_jwk_set_verifies_every_algorithm);
	RUN(pem_text_that_is_not_a_key_is_refused);
	RUN(claims_pointers_times_and_audiences);
	RUN(globs_have_only_the_star);
	key_free(&rsa);
	key_free(&rsa2);
	key_free(&p256);
	key_free(&p384);
	key_free(&p521);
	key_free(&ed);
	return test_summary();
}
