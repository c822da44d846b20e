# SPDX-License-Identifier: Apache-2.0
"""Self-tests of tests/pylib/workload_identity.py, the material of the kubernetes and jwt auth
method tests: the tokens it signs verify with python3-jwt (an independent implementation) for
every algorithm, the key ids and JWKs are what the specifications say, the refused-on-purpose
tokens are broken the way they claim, and the scripted TokenReview and JWKS servers answer over
TLS, trusted through the test CA and refused through the other one. No cofferd is needed."""
import hashlib
import hmac
import json
import socket
import ssl
import time

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from workload_identity import (ALL_ALGS, DROP, JwksServer, TokenReviewServer, algs_for,
                               alg_none_token, b64url, b64url_decode, default_alg,
                               garbage_tokens, hs256_with_public_key, jwk, jwks, k8s_kid,
                               new_key, projected_token, public_der, public_pem, sa_uid,
                               self_signed_cert_pem, sign_jwt, split_token, tampered_token,
                               tls_material, unverified_claims, unverified_header)

KINDS = {"rsa": "RS256", "ec256": "ES256", "ec384": "ES384", "ec521": "ES512",
         "ed25519": "EdDSA"}


@pytest.fixture(scope="module")
def keys():
    return {kind: new_key(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return tls_material(tmp_path_factory.mktemp("tls"))


def session():
    s = requests.Session()
    s.trust_env = False  # loopback only: no proxy from the environment
    return s


def verify(token, key, alg, audience="coffer", **options):
    return jwt.decode(token, public_pem(key), algorithms=[alg], audience=audience, **options)


def test_key_kinds_and_default_algs(keys):
    assert isinstance(keys["rsa"], rsa.RSAPrivateKey) and keys["rsa"].key_size == 2048
    assert keys["ec256"].curve.name == "secp256r1"
    assert keys["ec384"].curve.name == "secp384r1"
    assert keys["ec521"].curve.name == "secp521r1"
    assert isinstance(keys["ed25519"], ed25519.Ed25519PrivateKey)
    for kind, alg in KINDS.items():
        assert default_alg(keys[kind]) == alg
    assert set(algs_for(keys["rsa"])) == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert {a for k in keys.values() for a in algs_for(k)} == set(ALL_ALGS)


def test_public_pem_is_subject_public_key_info(keys):
    for key in keys.values():
        pem = public_pem(key)
        assert pem.startswith("-----BEGIN PUBLIC KEY-----\n"), pem
        loaded = serialization.load_pem_public_key(pem.encode())
        assert public_der(loaded) == public_der(key)


def test_k8s_kid_is_sha256_of_the_der_spki(keys):
    for key in keys.values():
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        want = b64url(hashlib.sha256(der).digest())
        assert k8s_kid(key) == want and "=" not in want and len(want) == 43
    assert k8s_kid(keys["rsa"]) == k8s_kid(keys["rsa"].public_key())
    assert len({k8s_kid(k) for k in keys.values()}) == len(keys)


@pytest.mark.parametrize("kind,alg", [("rsa", a) for a in ALL_ALGS[:6]] +
                         [("ec256", "ES256"), ("ec384", "ES384"), ("ec521", "ES512"),
                          ("ed25519", "EdDSA")])
def test_every_algorithm_verifies_with_python_jwt(keys, kind, alg):
    key = keys[kind]
    token = projected_token(key, alg, namespace="payments", sa="web")
    header = unverified_header(token)
    assert header == {"alg": alg, "kid": k8s_kid(key)}, header
    claims = verify(token, key, alg)
    assert claims["sub"] == "system:serviceaccount:payments:web"
    # The JWK of the key verifies it too (python3-jwt builds the key from the JWK alone).
    from_jwk = jwt.PyJWK(jwk(key, alg=alg)).key
    jwt.decode(token, from_jwk, algorithms=[alg], audience="coffer")
    # A different key of the same kind does not.
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, new_key(kind), alg)


def test_projected_token_claims(keys):
    now = int(time.time())
    token = projected_token(keys["rsa"], "RS256", namespace="ns1", sa="api", aud=("a", "b"),
                            lifetime=900, now=now)
    c = unverified_claims(token)
    assert set(c) == {"aud", "exp", "iat", "nbf", "iss", "jti", "kubernetes.io", "sub"}, c
    assert c["aud"] == ["a", "b"] and c["iat"] == now and c["nbf"] == now
    assert c["exp"] == now + 900
    assert c["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert c["sub"] == "system:serviceaccount:ns1:api"
    k8s = c["kubernetes.io"]
    assert set(k8s) == {"namespace", "node", "pod", "serviceaccount"}
    assert k8s["namespace"] == "ns1"
    assert k8s["serviceaccount"] == {"name": "api", "uid": sa_uid("ns1", "api")}
    assert set(k8s["pod"]) == {"name", "uid"} and set(k8s["node"]) == {"name", "uid"}
    # jti is a fresh uuid4 each time.
    assert unverified_claims(projected_token(keys["rsa"], "RS256"))["jti"] != c["jti"]


def test_projected_token_options(keys):
    key = keys["ec256"]
    c = unverified_claims(projected_token(key, "ES256", drop=("exp", "nbf")))
    assert "exp" not in c and "nbf" not in c and "iat" in c
    c = unverified_claims(projected_token(key, "ES256", iat=DROP, iss="other", extra="x"))
    assert "iat" not in c and c["iss"] == "other" and c["extra"] == "x"
    assert unverified_header(projected_token(key, "ES256", kid=None)) == {"alg": "ES256"}
    assert unverified_header(projected_token(key, "ES256", kid="k1"))["kid"] == "k1"
    assert unverified_header(projected_token(key, None))["alg"] == "ES256"
    past = projected_token(key, "ES256", now=time.time() - 1000, lifetime=600)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(past, key, "ES256")


def test_legacy_token_layout(keys):
    token = projected_token(keys["rsa"], "RS256", namespace="ns2", sa="old", legacy=True)
    c = unverified_claims(token)
    assert c == {
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": "ns2",
        "kubernetes.io/serviceaccount/secret.name": c["kubernetes.io/serviceaccount/secret.name"],
        "kubernetes.io/serviceaccount/service-account.name": "old",
        "kubernetes.io/serviceaccount/service-account.uid": sa_uid("ns2", "old"),
        "sub": "system:serviceaccount:ns2:old",
    }, c
    assert c["kubernetes.io/serviceaccount/secret.name"].startswith("old-token-")
    jwt.decode(token, public_pem(keys["rsa"]), algorithms=["RS256"],
               options={"verify_aud": False, "require": []})


def test_jwk_shapes(keys):
    r = jwk(keys["rsa"])
    assert set(r) == {"kty", "n", "e", "kid", "alg", "use"} and r["kty"] == "RSA"
    assert r["e"] == "AQAB" and len(b64url_decode(r["n"])) == 256
    assert r["kid"] == k8s_kid(keys["rsa"]) and r["alg"] == "RS256" and r["use"] == "sig"
    for kind, size in (("ec256", 32), ("ec384", 48), ("ec521", 66)):
        e = jwk(keys[kind])
        assert set(e) == {"kty", "crv", "x", "y", "kid", "alg", "use"} and e["kty"] == "EC"
        assert len(b64url_decode(e["x"])) == size and len(b64url_decode(e["y"])) == size
    o = jwk(keys["ed25519"], kid="ed")
    assert o["kty"] == "OKP" and o["crv"] == "Ed25519" and o["kid"] == "ed"
    assert len(b64url_decode(o["x"])) == 32 and o["alg"] == "EdDSA"
    assert "alg" not in jwk(keys["rsa"], alg=False)
    assert jwks(keys["rsa"], o)["keys"][1] is o
    # python3-jwt reads them back as the same public keys.
    for key in keys.values():
        back = jwt.PyJWK(jwk(key)).key
        assert public_der(back) == public_der(key)


def test_refused_on_purpose_tokens(keys):
    key = keys["rsa"]
    claims = unverified_claims(projected_token(key, "RS256"))
    none = alg_none_token(claims)
    assert none.endswith(".") and unverified_header(none) == {"alg": "none"}
    assert unverified_claims(none) == claims
    # HS256 keyed with the PEM text of the public key, checked by hand.
    hs = hs256_with_public_key(key, claims)
    head, body, sig = split_token(hs)
    assert unverified_header(hs) == {"alg": "HS256", "kid": k8s_kid(key)}
    want = hmac.new(public_pem(key).encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert b64url_decode(sig) == want
    with pytest.raises(jwt.InvalidKeyError):  # python3-jwt itself refuses such a key
        jwt.decode(hs, public_pem(key), algorithms=["HS256"], audience="coffer")
    # Tampered: same header and signature, changed claims, and the signature fails.
    good = projected_token(key, "RS256", sa="web")
    bad = tampered_token(good, sub="system:serviceaccount:default:admin")
    assert split_token(bad)[0] == split_token(good)[0]
    assert split_token(bad)[2] == split_token(good)[2]
    assert unverified_claims(bad)["sub"].endswith(":admin")
    verify(good, key, "RS256")
    with pytest.raises(jwt.InvalidSignatureError):
        verify(bad, key, "RS256")
    for text in garbage_tokens():
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(text, public_pem(key), algorithms=["RS256"])


def test_self_signed_cert_holds_the_key(keys):
    from cryptography import x509
    for key in keys.values():
        cert = x509.load_pem_x509_certificate(self_signed_cert_pem(key).encode())
        assert public_der(cert.public_key()) == public_der(key)


def test_sign_jwt_headers(keys):
    token = sign_jwt(keys["ec384"], "ES384", {"sub": "x"}, kid=False, headers={"typ": "JWT"})
    assert unverified_header(token) == {"alg": "ES384", "typ": "JWT"}
    assert jwt.decode(token, public_pem(keys["ec384"]), algorithms=["ES384"]) == {"sub": "x"}


def test_token_review_server_answers_over_tls(tls, keys):
    token = projected_token(keys["rsa"], "RS256", namespace="ns3", sa="web")
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["coffer"]}}
    with TokenReviewServer(tls) as trs, session() as s:
        url = trs.url + TokenReviewServer.PATH
        assert trs.url.startswith("https://127.0.0.1:")
        r = s.post(url, json=body, headers={"Authorization": "Bearer reviewer-xyz"},
                   verify=str(tls.ca_path), timeout=10)
        assert r.status_code == 201, r.text
        review = r.json()
        assert review["apiVersion"] == "authentication.k8s.io/v1"
        assert review["kind"] == "TokenReview"
        st = review["status"]
        assert st["authenticated"] is True and st["audiences"] == ["coffer"]
        user = st["user"]
        assert user["username"] == "system:serviceaccount:ns3:web"
        assert user["uid"] == sa_uid("ns3", "web")
        assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:ns3",
                                  "system:authenticated"]
        claims = unverified_claims(token)["kubernetes.io"]
        assert user["extra"] == {
            "authentication.kubernetes.io/pod-name": [claims["pod"]["name"]],
            "authentication.kubernetes.io/pod-uid": [claims["pod"]["uid"]]}
        rec = trs.requests[-1]
        assert rec.method == "POST" and rec.path == TokenReviewServer.PATH
        assert rec.headers["authorization"] == "Bearer reviewer-xyz"
        assert rec.json == body and trs.reviews == [body]

        def post(tok=token):
            return s.post(url, json={**body, "spec": {"token": tok}}, verify=str(tls.ca_path),
                          timeout=10)
        # Legacy tokens, and no audiences requested: the API server's own audiences.
        legacy = post(projected_token(keys["rsa"], "RS256", namespace="ns3", sa="old",
                                      legacy=True)).json()["status"]
        assert legacy["user"]["username"] == "system:serviceaccount:ns3:old"
        assert "extra" not in legacy["user"]
        assert legacy["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
        assert post("garbage").json()["status"]["authenticated"] is False
        # The scripted modes.
        trs.set_mode("unauthenticated")
        st = post().json()["status"]
        assert st["authenticated"] is False and st["error"], st
        for mode, code in (("401", 401), ("403", 403), ("500", 500)):
            trs.set_mode(mode)
            r = post()
            assert r.status_code == code and r.json()["kind"] == "Status", r.text
            assert r.json()["code"] == code
        trs.set_mode("wrong_user")
        assert post().json()["status"]["user"]["username"] == \
            "system:serviceaccount:ns3:web-impostor"
        trs.set_mode("wrong_uid")
        assert post().json()["status"]["user"]["uid"] != sa_uid("ns3", "web")
        trs.set_mode("bad_json")
        assert post().content == b"this is not json"
        trs.set_mode("ok", delay=0.5)
        started = time.monotonic()
        assert post().json()["status"]["authenticated"] is True
        assert time.monotonic() - started >= 0.5
        assert s.get(trs.url + "/api", verify=str(tls.ca_path), timeout=10).status_code == 404
        assert len(trs.reviews) == 11


def test_tls_is_refused_through_the_untrusted_ca(tls):
    with TokenReviewServer(tls) as trs, session() as s:
        with pytest.raises(requests.exceptions.SSLError):
            s.post(trs.url + TokenReviewServer.PATH, json={}, verify=str(tls.untrusted_ca_path),
                   timeout=10)
        # The server survives a failed handshake, and one that never starts.
        idle = socket.create_connection(("127.0.0.1", trs.port))
        r = s.post(trs.url + TokenReviewServer.PATH, json={"kind": "nope"},
                   verify=str(tls.ca_path), timeout=10)
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
        idle.close()
    # The certificate names localhost too.
    ctx = ssl.create_default_context(cafile=str(tls.ca_path))
    with TokenReviewServer(tls) as trs:
        with socket.create_connection(("127.0.0.1", trs.port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")


def test_jwks_server(tls, keys):
    with JwksServer(tls, keys=[keys["rsa"]]) as js, session() as s:
        disc = s.get(js.discovery_url + "/.well-known/openid-configuration",
                     verify=str(tls.ca_path), timeout=10).json()
        assert disc["issuer"] == js.url == js.discovery_url
        assert disc["jwks_uri"] == js.jwks_url == js.url + "/jwks"
        assert js.discovery_fetches == 1 and js.fetches == 0
        got = s.get(js.jwks_url, verify=str(tls.ca_path), timeout=10).json()
        assert got == {"keys": [jwk(keys["rsa"])]}
        assert js.fetches == 1
        added = js.add_key(keys["ec256"], kid="second")
        assert added["kid"] == "second"
        got = s.get(js.jwks_url, verify=str(tls.ca_path), timeout=10).json()
        assert [k["kid"] for k in got["keys"]] == [k8s_kid(keys["rsa"]), "second"]
        assert js.fetches == 2
        # A token signed by the second key verifies with the served JWK of that kid.
        token = sign_jwt(keys["ec256"], "ES256", {"sub": "x"}, kid="second")
        client = jwt.PyJWKSet.from_dict(got)
        match = [k for k in client.keys if k.key_id == unverified_header(token)["kid"]]
        assert jwt.decode(token, match[0].key, algorithms=["ES256"]) == {"sub": "x"}
        js.set_keys([])
        assert s.get(js.jwks_url, verify=str(tls.ca_path), timeout=10).json() == {"keys": []}
    with JwksServer(tls, issuer="https://elsewhere.example") as js, session() as s:
        disc = s.get(js.url + "/.well-known/openid-configuration", verify=str(tls.ca_path),
                     timeout=10).json()
        assert disc["issuer"] == "https://elsewhere.example"
        assert json.loads(json.dumps(disc))["jwks_uri"] == js.jwks_url
