/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_jwt.c: the JWT text of a login (identity/jose.c) and what follows the parse: the
 * signature check against RSA, ECDSA and Ed25519 keys, the claim readers and the Kubernetes
 * identity of the claims; and, when the input starts with '{', a JWK set from an identity
 * provider (jose_keys_add_jwks). Untrusted input either way.
 */
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jose.h"
#include "identity/kubernetes/kubernetes_int.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jose_keys *fuzz_keys;

/* One key of each family, made once. */
static void fuzz_setup(void)
{
	static const struct {
		gnutls_pk_algorithm_t pk;
		unsigned bits;
	} kinds[] = {{GNUTLS_PK_RSA, 1024},
	             {GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1)},
	             {GNUTLS_PK_EDDSA_ED25519, 256}};
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
	gnutls_datum_t pem;
	char *text;
	size_t i;

	coffer_json_init();
	fuzz_keys = jose_keys_new();
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (gnutls_privkey_init(&priv) < 0 ||
		    gnutls_privkey_generate2(priv, kinds[i].pk, kinds[i].bits, 0, NULL, 0) < 0 ||
		    gnutls_pubkey_init(&pub) < 0 ||
		    gnutls_pubkey_import_privkey(pub, priv, 0, 0) < 0 ||
		    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &pem) < 0)
			abort();
		text = strndup((const char *)pem.data, pem.size);
		if (jose_keys_add_pem(fuzz_keys, text, NULL, 0) != 0)
			abort();
		free(text);
		gnutls_free(pem.data);
		gnutls_pubkey_deinit(pub);
		gnutls_privkey_deinit(priv);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jose_token t;
	struct k8s_identity id;
	struct jose_keys *ks;
	char *text, why[256];
	json_t *jwks;
	int64_t v;

	if (fuzz_keys == NULL)
		fuzz_setup();
	text = strndup((const char *)data, size);
	if (text == NULL)
		return 0;
	if (size > 0 && data[0] == '{') {
		jwks = json_loads(text, 0, NULL);
		ks = jose_keys_new();
		if (jwks != NULL)
			(void)jose_keys_add_jwks(ks, jwks, why, sizeof(why));
		jose_keys_release(ks);
		json_decref(jwks);
	} else if (jose_parse(text, &t, why, sizeof(why)) == 0) {
		(void)jose_verify(&t, fuzz_keys, JOSE_ALGS_ALL, false, why, sizeof(why));
		(void)jose_claim_time(t.claims, "exp", &v);
		(void)jose_aud_contains(t.claims, "coffer");
		(void)jose_claim(t.claims, "/kubernetes.io/pod/name");
		(void)k8s_identity_of(t.claims, &id);
		jose_token_clear(&t);
	}
	free(text);
	return 0;
}
