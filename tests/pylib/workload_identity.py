# SPDX-License-Identifier: Apache-2.0
"""Workload-identity test material for the `kubernetes` and `jwt` auth methods: signing keys and
their public forms, signed JSON Web Tokens shaped like Kubernetes service-account tokens, tokens
that are wrong on purpose, a throwaway TLS certificate authority, and two scripted HTTPS servers
on loopback (a Kubernetes TokenReview endpoint and a JWKS / OpenID discovery endpoint).

Everything here is written from the public specifications, not from another implementation:
  - JWS / JWT / JWK / JWA: RFC 7515, RFC 7519, RFC 7517, RFC 7518, and RFC 8037 (EdDSA, OKP keys);
  - the service-account token claims, and the key id Kubernetes puts in their header
    (base64url without padding of the SHA-256 of the DER SubjectPublicKeyInfo);
  - the TokenReview API (authentication.k8s.io/v1);
  - OpenID Connect Discovery 1.0 (the openid-configuration document and its jwks_uri).

Signing is done here with `cryptography` (not python3-jwt), so that the self-tests in
tests/integration/test_workload_fixtures.py can verify the tokens with python3-jwt as an
independent check, and so that headers are exactly what a test asks for (no "typ" added).

Quick reference:
    key = new_key("rsa")                       # also "ec256", "ec384", "ec521", "ed25519"
    public_pem(key)                            # SubjectPublicKeyInfo PEM (str)
    k8s_kid(key)                               # the kid Kubernetes would give this key
    jwk(key)                                   # the public JWK (kty, kid, alg, use ...)
    projected_token(key, "RS256", namespace="ns", sa="web")     # a projected SA token
    projected_token(key, "RS256", legacy=True)                  # an old Secret-based SA token
    sign_jwt(key, "ES256", {"sub": "x"})       # any claims
    alg_none_token(claims), hs256_with_public_key(key, claims), tampered_token(tok, sub="y")
    ca = CertAuthority(); tls = ServerTls.make(directory, ca)    # or tls_material(directory)
    with TokenReviewServer(tls) as trs: ...    # trs.url, trs.requests, trs.mode = "401" ...
    with JwksServer(tls, keys=[key]) as js: ...   # js.jwks_url, js.discovery_url, js.fetches
"""
import base64
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import ssl
import tempfile
import threading
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

__all__ = [
    "ALL_ALGS", "DEFAULT_K8S_ISSUER", "LEGACY_K8S_ISSUER", "DROP", "KEY_KINDS",
    "b64url", "b64url_decode", "new_key", "rsa_key", "ec_key", "ed25519_key", "public_key",
    "public_der", "public_pem", "private_pem", "k8s_kid", "jwk", "jwks", "default_alg",
    "algs_for", "sign_jwt", "encode_unsigned", "split_token", "unverified_header",
    "unverified_claims", "apply_claim_changes", "sa_uid", "projected_claims", "legacy_claims", "projected_token",
    "alg_none_token", "hs256_with_public_key", "tampered_token", "garbage_tokens",
    "self_signed_cert_pem", "CertAuthority", "ServerTls", "TlsMaterial", "tls_material",
    "RecordedRequest",
    "TokenReviewServer", "JwksServer",
]

DEFAULT_K8S_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_K8S_ISSUER = "kubernetes/serviceaccount"
# Every JWS algorithm the auth methods are meant to accept (jwt_supported_algs' vocabulary).
ALL_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
            "EdDSA")


class _Drop:
    """The value of a claim override that removes the claim: projected_token(..., exp=DROP)."""

    def __repr__(self):
        return "DROP"


DROP = _Drop()


# --- encoding --------------------------------------------------------------------------------

def b64url(data):
    """base64url without padding (RFC 7515 section 2) of bytes, or of a str encoded as UTF-8."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """The bytes of base64url text with or without padding."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_segment(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def _int_bytes(n, length=None):
    if length is None:
        length = max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(length, "big")


# --- keys ------------------------------------------------------------------------------------

_CURVES = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_CURVE_BY_NAME = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_EC_SIZE = {"P-256": 32, "P-384": 48, "P-521": 66}
# new_key()'s kinds: rsa (2048 bits), ec256 / ec384 / ec521, ed25519.
KEY_KINDS = ("rsa", "ec256", "ec384", "ec521", "ed25519")


def rsa_key(bits=2048):
    """A new RSA private key (public exponent 65537)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ec_key(curve="P-256"):
    """A new EC private key on curve "P-256", "P-384" or "P-521"."""
    return ec.generate_private_key(_CURVES[curve]())


def ed25519_key():
    """A new Ed25519 private key."""
    return ed25519.Ed25519PrivateKey.generate()


def new_key(kind="rsa"):
    """A new private key by kind: "rsa" (or "rsa2048", "rsa3072", "rsa4096"), "ec256" / "p256",
    "ec384" / "p384", "ec521" / "p521", "ed25519"."""
    kind = kind.lower().replace("-", "")
    if kind.startswith("rsa"):
        return rsa_key(int(kind[3:] or 2048))
    if kind in ("ec", "ec256", "p256", "es256"):
        return ec_key("P-256")
    if kind in ("ec384", "p384", "es384"):
        return ec_key("P-384")
    if kind in ("ec521", "p521", "es512"):
        return ec_key("P-521")
    if kind in ("ed25519", "eddsa"):
        return ed25519_key()
    raise ValueError(f"unknown key kind {kind!r}")


def public_key(key):
    """The public key of a private key (a public key is returned as it is)."""
    return key.public_key() if hasattr(key, "public_key") else key


def public_der(key):
    """DER SubjectPublicKeyInfo of the (public part of the) key."""
    return public_key(key).public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(key):
    """PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") of the key, as str."""
    return public_key(key).public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key):
    """Unencrypted PKCS#8 PEM of a private key, as str."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def k8s_kid(key):
    """The key id Kubernetes writes in the header of the tokens it signs with this key:
    base64url without padding of SHA-256 over the DER SubjectPublicKeyInfo."""
    return b64url(hashlib.sha256(public_der(key)).digest())


def _kind_of(key):
    pub = public_key(key)
    if isinstance(pub, rsa.RSAPublicKey):
        return "RSA", None
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "EC", _CURVE_BY_NAME[pub.curve.name]
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "OKP", "Ed25519"
    raise TypeError(f"unsupported key type {type(pub).__name__}")


def default_alg(key):
    """The natural JWS algorithm of a key: RS256, ES256/ES384/ES512 by curve, EdDSA."""
    kty, crv = _kind_of(key)
    if kty == "RSA":
        return "RS256"
    if kty == "EC":
        return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[crv]
    return "EdDSA"


def algs_for(key):
    """Every algorithm of ALL_ALGS that the key can sign with."""
    kty, _ = _kind_of(key)
    if kty == "RSA":
        return ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    return (default_alg(key),)


def jwk(key, kid=None, alg=None, use="sig"):
    """The public JWK (RFC 7517/7518/8037) of a key: RSA {kty,n,e}, EC {kty,crv,x,y} with
    coordinates padded to the curve size, OKP {kty,crv:"Ed25519",x}; plus kid (default
    k8s_kid(key)), alg (default default_alg(key); pass alg=False to leave it out) and use."""
    pub = public_key(key)
    kty, crv = _kind_of(pub)
    out = {"kty": kty}
    if kty == "RSA":
        nums = pub.public_numbers()
        out.update(n=b64url(_int_bytes(nums.n)), e=b64url(_int_bytes(nums.e)))
    elif kty == "EC":
        nums = pub.public_numbers()
        size = _EC_SIZE[crv]
        out.update(crv=crv, x=b64url(_int_bytes(nums.x, size)), y=b64url(_int_bytes(nums.y, size)))
    else:
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out.update(crv="Ed25519", x=b64url(raw))
    out["kid"] = kid if kid is not None else k8s_kid(pub)
    if alg is not False:
        out["alg"] = alg or default_alg(pub)
    if use:
        out["use"] = use
    return out


def jwks(*keys):
    """A JWK Set {"keys": [...]} of the keys (each a key, or an already made JWK dict)."""
    return {"keys": [k if isinstance(k, dict) else jwk(k) for k in keys]}


# --- signing ---------------------------------------------------------------------------------

_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _sign(key, alg, data):
    """The JWS signature (RFC 7518 section 3; RFC 8037 for EdDSA) of data with a private key."""
    family, bits = alg[:2], alg[2:]
    if alg == "EdDSA":
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise TypeError("EdDSA needs an Ed25519 key")
        return key.sign(data)
    if family == "RS":
        return key.sign(data, padding.PKCS1v15(), _HASHES[bits]())
    if family == "PS":
        # RFC 7518 3.5: MGF1 with the same hash, salt as long as the hash output.
        h = _HASHES[bits]()
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if family == "ES":
        # RFC 7518 3.4: R || S, each as long as the curve's size, not the DER structure.
        size = _EC_SIZE[_kind_of(key)[1]]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(_HASHES[bits]())))
        return _int_bytes(r, size) + _int_bytes(s, size)
    raise ValueError(f"unsupported algorithm {alg!r}")


def sign_jwt(key, alg, claims, kid=None, headers=None):
    """A compact JWS of the claims signed with the private key: header {"alg", "kid"} (kid
    default k8s_kid(key); kid=False leaves it out), then any headers given (a None value removes
    that header field). alg None means default_alg(key)."""
    alg = alg or default_alg(key)
    header = {"alg": alg}
    if kid is not False:
        header["kid"] = kid if kid is not None else k8s_kid(key)
    for name, value in (headers or {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    signing_input = _json_segment(header) + "." + _json_segment(claims)
    return signing_input + "." + b64url(_sign(key, alg, signing_input.encode("ascii")))


def encode_unsigned(header, claims, signature=b""):
    """header.claims.signature with the signature bytes given as they are (none by default)."""
    return _json_segment(header) + "." + _json_segment(claims) + "." + b64url(signature)


def split_token(token):
    """(header segment, claims segment, signature segment) of a compact JWS."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three segments")
    return tuple(parts)


def unverified_header(token):
    return json.loads(b64url_decode(split_token(token)[0]))


def unverified_claims(token):
    """The claims of a compact JWS, without checking its signature (as the scripted TokenReview
    server does: it only has to answer like the API server would for a token it issued)."""
    return json.loads(b64url_decode(split_token(token)[1]))


# --- Kubernetes service-account tokens -------------------------------------------------------

def sa_uid(namespace, sa):
    """A stable uid for a service account (the same for the same namespace and name), so that a
    test can predict the service_account_uid a login reports."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"k8s-sa:{namespace}/{sa}"))


def apply_claim_changes(claims, drop=(), overrides=None):
    """claims with the names in drop removed and overrides set (a value of DROP removes that
    claim); changed in place and returned."""
    for name in drop or ():
        claims.pop(name, None)
    for name, value in (overrides or {}).items():
        if value is DROP:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def projected_claims(namespace="default", sa="app", aud=("coffer",),
                     iss=DEFAULT_K8S_ISSUER, lifetime=600, now=None, uid=None,
                     pod=None, pod_uid=None, node="node-1", node_uid=None):
    """The claims of a projected (TokenRequest) service-account token, as the kubelet mounts
    them: aud (list), exp, iat, nbf (= iat), iss, jti, kubernetes.io{namespace, node{name,uid},
    pod{name,uid}, serviceaccount{name,uid}}, sub "system:serviceaccount:<ns>:<sa>"."""
    iat = int(now if now is not None else time.time())
    return {
        "aud": list(aud) if not isinstance(aud, str) else [aud],
        "exp": iat + int(lifetime),
        "iat": iat,
        "iss": iss,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": namespace,
            "node": {"name": node, "uid": node_uid or str(uuid.uuid4())},
            "pod": {"name": pod or f"{sa}-5d8c7b9f4-x2k4q", "uid": pod_uid or str(uuid.uuid4())},
            "serviceaccount": {"name": sa, "uid": uid or sa_uid(namespace, sa)},
        },
        "nbf": iat,
        "sub": f"system:serviceaccount:{namespace}:{sa}",
    }


def legacy_claims(namespace="default", sa="app", iss=LEGACY_K8S_ISSUER, uid=None,
                  secret_name=None):
    """The claims of an old Secret-based service-account token (no aud, no exp, no iat)."""
    return {
        "iss": iss,
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/secret.name": secret_name or f"{sa}-token-7xk2p",
        "kubernetes.io/serviceaccount/service-account.name": sa,
        "kubernetes.io/serviceaccount/service-account.uid": uid or sa_uid(namespace, sa),
        "sub": f"system:serviceaccount:{namespace}:{sa}",
    }


_KID_DEFAULT = object()


def projected_token(key, alg=None, namespace="default", sa="app", aud=("coffer",),
                    iss=None, lifetime=600, now=None, kid=_KID_DEFAULT, legacy=False,
                    drop=(), headers=None, uid=None, **overrides):
    """A service-account token signed with the private key.

    alg: JWS algorithm (None: default_alg(key)). now: the issue time in Unix seconds (default the
    clock; a test moves it to make a token expired or not yet valid). lifetime: exp - iat.
    kid: the header's kid (default k8s_kid(key); None leaves it out). legacy=True: the Secret-
    token layout of legacy_claims() (aud, lifetime and now are then unused) with iss
    "kubernetes/serviceaccount". iss None means the layout's usual issuer. uid: the service
    account uid (default sa_uid(namespace, sa)).
    drop: claim names to leave out (e.g. ("exp",)); overrides: claim=value sets a claim (a
    whole top-level claim: pass "kubernetes.io" via **{"kubernetes.io": {...}}), claim=DROP
    removes it. headers: more header fields, as for sign_jwt()."""
    if legacy:
        claims = legacy_claims(namespace, sa, iss=iss or LEGACY_K8S_ISSUER, uid=uid)
    else:
        claims = projected_claims(namespace, sa, aud=aud, iss=iss or DEFAULT_K8S_ISSUER,
                                  lifetime=lifetime, now=now, uid=uid)
    apply_claim_changes(claims, drop, overrides)
    kid = k8s_kid(key) if kid is _KID_DEFAULT else (False if kid is None else kid)
    return sign_jwt(key, alg, claims, kid=kid, headers=headers)


# --- tokens that must be refused -------------------------------------------------------------

def alg_none_token(claims, header=None):
    """An "unsecured JWS" (RFC 7519 section 6): header {"alg":"none"}, an empty signature."""
    return encode_unsigned(header or {"alg": "none"}, claims)


def hs256_with_public_key(key, claims, kid=_KID_DEFAULT, pem=None):
    """The algorithm-confusion token: HS256 whose HMAC key is the bytes of the public key PEM
    (what a verifier that trusts the header's alg would use as the "secret"). Built by hand:
    python3-jwt refuses to use a PEM as an HMAC key."""
    pem_bytes = (pem if pem is not None else public_pem(key))
    if isinstance(pem_bytes, str):
        pem_bytes = pem_bytes.encode()
    header = {"alg": "HS256"}
    if kid is _KID_DEFAULT:
        header["kid"] = k8s_kid(key)
    elif kid is not None:
        header["kid"] = kid
    signing_input = _json_segment(header) + "." + _json_segment(claims)
    mac = hmac.new(pem_bytes, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def tampered_token(token, drop=(), **changes):
    """The token with its claims changed (changes, claim=DROP or drop removes a claim) and
    re-encoded, keeping the original header and signature: the signature no longer matches."""
    head, _, sig = split_token(token)
    claims = apply_claim_changes(unverified_claims(token), drop, changes)
    return head + "." + _json_segment(claims) + "." + sig


def garbage_tokens():
    """Strings that are not JWTs at all, or are broken ones: no dots, too few or too many
    segments, segments that are not base64url, a header that is not JSON, empty segments."""
    junk_header = b64url(b"not json at all")
    return [
        "garbage",
        "not.a.jwt",
        "a.b",
        "a.b.c.d",
        "...",
        "eyJhbGciOiJSUzI1NiJ9",
        "eyJhbGciOiJSUzI1NiJ9.!!!.@@@",
        junk_header + "." + b64url(b"{}") + "." + b64url(b"sig"),
        b64url(b'{"alg":"RS256"}') + ".." + b64url(b"sig"),
        b64url(b"[1,2,3]") + "." + b64url(b"[]") + ".",
    ]


# --- TLS -------------------------------------------------------------------------------------

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _signing_hash(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def self_signed_cert_pem(key, common_name="service-account-signer", days=2):
    """A self-signed certificate (PEM str) holding the key's public key: a form of pem_keys
    that needs a certificate rather than a bare public key (hvac insists on one)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(public_key(key)).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, _signing_hash(key)))
    return _cert_pem(cert)


class CertAuthority:
    """A throwaway certificate authority (EC P-256) that issues server certificates.
    cert_pem: its certificate (str), to trust; issue(): a server certificate and key."""

    def __init__(self, common_name="Coffer test CA", days=2):
        self.key = ec_key("P-256")
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(_name(common_name)).issuer_name(_name(common_name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=days))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                                  crl_sign=True, content_commitment=False,
                                                  key_encipherment=False, data_encipherment=False,
                                                  key_agreement=False, encipher_only=False,
                                                  decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                         self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.cert_pem = _cert_pem(self.cert)

    def issue(self, hosts=("127.0.0.1", "localhost"), common_name=None, days=2):
        """(certificate PEM, private key PEM) of a TLS server certificate for the hosts (IP
        addresses and DNS names, all in subjectAltName), signed by this CA."""
        key = ec_key("P-256")
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = (x509.CertificateBuilder()
                .subject_name(_name(common_name or hosts[0])).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), critical=False)
                .sign(self.key, hashes.SHA256()))
        return _cert_pem(cert), private_pem(key)


class ServerTls:
    """A server certificate and key in files (for ssl.SSLContext.load_cert_chain) with the CA
    that issued it: ca_pem / ca_path to trust, cert_path, key_path, and directory."""

    def __init__(self, directory, ca, cert_pem, key_pem):
        self.directory = Path(directory)
        self.ca = ca
        self.ca_pem = ca.cert_pem
        self.ca_path = self.directory / "ca.pem"
        self.cert_path = self.directory / "server.pem"
        self.key_path = self.directory / "server-key.pem"
        self.ca_path.write_text(self.ca_pem)
        self.cert_path.write_text(cert_pem)
        fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key_pem)

    @classmethod
    def make(cls, directory=None, ca=None, hosts=("127.0.0.1", "localhost")):
        """A server certificate for hosts from ca (a new CertAuthority by default), written under
        directory (a new temporary directory by default)."""
        directory = Path(directory or tempfile.mkdtemp(prefix="coffer-wl-tls-"))
        directory.mkdir(parents=True, exist_ok=True)
        ca = ca or CertAuthority()
        cert_pem, key_pem = ca.issue(hosts)
        return cls(directory, ca, cert_pem, key_pem)

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_path), str(self.key_path))
        return ctx


class TlsMaterial:
    """What tls_material() returns: server (a ServerTls for 127.0.0.1/localhost from ca), ca
    (trusted: ca_pem, ca_path), and untrusted_ca (another CA that issued nothing here:
    untrusted_ca_pem, untrusted_ca_path)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.ca = CertAuthority("Coffer test CA")
        self.untrusted_ca = CertAuthority("Coffer untrusted CA")
        self.server = ServerTls.make(self.directory / "server", self.ca)
        self.ca_pem = self.ca.cert_pem
        self.ca_path = self.server.ca_path
        self.untrusted_ca_pem = self.untrusted_ca.cert_pem
        self.untrusted_ca_path = self.directory / "untrusted-ca.pem"
        self.untrusted_ca_path.write_text(self.untrusted_ca_pem)


def tls_material(directory=None):
    """A CA, a server certificate from it for 127.0.0.1 and localhost, and a second, untrusted
    CA, in files under directory (a new temporary directory by default)."""
    directory = Path(directory or tempfile.mkdtemp(prefix="coffer-wl-tls-"))
    directory.mkdir(parents=True, exist_ok=True)
    return TlsMaterial(directory)


# --- scripted HTTPS servers ------------------------------------------------------------------

class RecordedRequest:
    """One request a scripted server received: method, path, headers (a dict with lower-case
    names), body (bytes), json (the parsed body, or None), and time (time.monotonic())."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.time = time.monotonic()
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"RecordedRequest({self.method} {self.path} {self.json or self.body[:80]!r})"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # a client that stalls frees its thread
    # Headers and body go out in two writes; without TCP_NODELAY the body waits for the client's
    # delayed ACK (40 ms on Linux), which a real API server (Go sets TCP_NODELAY) never adds.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # quiet: pytest shows stderr of failing tests only
        pass

    def _read(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._read()
        rec = RecordedRequest(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body)
        status, answer, extra = self.server.owner._answer(rec)
        self.server.owner._record(rec)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _ThreadedHttps(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner, context):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)
        # The handshake is done in each request's thread, at its first read, so that a client
        # that fails or stalls it (an untrusted CA) never holds up the accepting thread.
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        self.owner._note_error()


class _ScriptedHttps:
    """The common part: an HTTPS server on 127.0.0.1 and an ephemeral port, run in a thread,
    with the requests it got recorded. Use as a context manager, or call close()."""

    def __init__(self, tls):
        self.tls = tls if isinstance(tls, ServerTls) else tls.server
        self.ca_pem = self.tls.ca_pem
        self.ca_path = self.tls.ca_path
        self._lock = threading.Lock()
        self._requests = []
        self.errors = 0  # connections that failed (a refused TLS handshake, a reset)
        self._httpd = _ThreadedHttps(self, self.tls.server_context())
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def _record(self, rec):
        with self._lock:
            self._requests.append(rec)

    def _note_error(self):
        with self._lock:
            self.errors += 1

    @property
    def requests(self):
        """A copy of the list of RecordedRequest received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear(self):
        with self._lock:
            self._requests.clear()
            self.errors = 0

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _status(code, reason, message):
    """A Kubernetes Status object (what the API server answers on a failed call)."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class TokenReviewServer(_ScriptedHttps):
    """A scripted stand-in for the Kubernetes API server's TokenReview endpoint, over HTTPS.

    No Kubernetes API server can run on the test machines, so this speaks the documented wire
    format (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/
    token-review-v1/) and nothing more: POST /apis/authentication.k8s.io/v1/tokenreviews with
    {"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":JWT,
    "audiences":[...]}} answers 201 with the TokenReview and its status. It does NOT verify the
    token: it decodes the claims (projected or legacy layout) and answers as the API server would
    for a token it had issued: status.authenticated true, user.username
    "system:serviceaccount:<ns>:<sa>", user.uid the service account's uid, groups
    system:serviceaccounts, system:serviceaccounts:<ns> and system:authenticated, extra
    authentication.kubernetes.io/pod-name and pod-uid (projected tokens only), and audiences the
    requested ones (or api_audiences when none were requested).

    mode (an attribute; change it between logins) scripts the answer:
      "ok"              the review above;
      "unauthenticated" 201, status {"authenticated": false, "error": error_text};
      "401"             HTTP 401 with a Status object (the reviewer's own token was refused);
      "403"             HTTP 403 with a Status object (the reviewer may not create reviews);
      "500"             HTTP 500 with a Status object;
      "wrong_user"      authenticated, but the username names another service account;
      "wrong_uid"       authenticated, but user.uid is another uid;
      "bad_json"        201 with a body that is not JSON.
    delay (seconds, default 0) holds every answer back first (a slow API server).

    requests: every RecordedRequest (headers include authorization; json is the parsed body).
    reviews: the parsed bodies of the tokenreviews POSTs only.
    """

    PATH = "/apis/authentication.k8s.io/v1/tokenreviews"
    MODES = ("ok", "unauthenticated", "401", "403", "500", "wrong_user", "wrong_uid", "bad_json")

    def __init__(self, tls, mode="ok", delay=0.0, error_text="[invalid bearer token, "
                 "service account token has been invalidated]",
                 api_audiences=(DEFAULT_K8S_ISSUER,)):
        self.mode = mode
        self.delay = delay
        self.error_text = error_text
        self.api_audiences = list(api_audiences)
        super().__init__(tls)

    @property
    def reviews(self):
        return [r.json for r in self.requests if r.method == "POST" and r.path == self.PATH]

    def set_mode(self, mode, delay=None):
        assert mode in self.MODES, mode
        self.mode = mode
        if delay is not None:
            self.delay = delay

    @staticmethod
    def identity(token):
        """(namespace, service account name, service account uid, pod name, pod uid) from the
        token's claims, projected or legacy layout; None where the token cannot be read."""
        try:
            claims = unverified_claims(token)
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict):
            return None
        k8s = claims.get("kubernetes.io")
        if isinstance(k8s, dict):
            sa = k8s.get("serviceaccount") or {}
            pod = k8s.get("pod") or {}
            return (k8s.get("namespace"), sa.get("name"), sa.get("uid"), pod.get("name"),
                    pod.get("uid"))
        prefix = "kubernetes.io/serviceaccount/"
        if prefix + "namespace" in claims:
            return (claims.get(prefix + "namespace"), claims.get(prefix + "service-account.name"),
                    claims.get(prefix + "service-account.uid"), None, None)
        return None

    def _answer(self, rec):
        if self.delay:
            time.sleep(self.delay)
        if rec.path.split("?")[0] != self.PATH:
            return 404, _status(404, "NotFound", "the server could not find the requested "
                                "resource"), None
        if rec.method != "POST":
            return 405, _status(405, "MethodNotAllowed", f"{rec.method} is not allowed"), None
        mode = self.mode
        if mode == "401":
            return 401, _status(401, "Unauthorized", "Unauthorized"), None
        if mode == "403":
            return 403, _status(403, "Forbidden", 'tokenreviews.authentication.k8s.io is '
                                'forbidden: User "system:anonymous" cannot create resource '
                                '"tokenreviews"'), None
        if mode == "500":
            return 500, _status(500, "InternalError", "Internal error occurred: scripted"), None
        if mode == "bad_json":
            return 201, b"this is not json", None
        body = rec.json
        if not isinstance(body, dict) or body.get("kind") != "TokenReview" or \
                not isinstance(body.get("spec"), dict):
            return 400, _status(400, "BadRequest", "the body is not a TokenReview"), None
        spec = body["spec"]
        audiences = spec.get("audiences") or self.api_audiences
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                  "metadata": {"creationTimestamp": None}, "spec": spec}
        who = self.identity(spec.get("token") or "")
        if mode == "unauthenticated" or who is None:
            review["status"] = {"authenticated": False, "user": {},
                                "error": self.error_text if who else "[invalid bearer token]"}
            return 201, review, None
        namespace, name, uid, pod_name, pod_uid = who
        if mode == "wrong_user":
            name = f"{name}-impostor"
        if mode == "wrong_uid":
            uid = str(uuid.uuid4())
        user = {"username": f"system:serviceaccount:{namespace}:{name}", "uid": uid,
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                           "system:authenticated"]}
        if pod_name:
            user["extra"] = {"authentication.kubernetes.io/pod-name": [pod_name],
                             "authentication.kubernetes.io/pod-uid": [pod_uid]}
        review["status"] = {"authenticated": True, "user": user, "audiences": list(audiences)}
        return 201, review, None


class JwksServer(_ScriptedHttps):
    """A scripted OpenID provider's key endpoints over HTTPS:
      GET /.well-known/openid-configuration -> {"issuer": issuer, "jwks_uri": jwks_url, ...}
      GET /jwks                             -> {"keys": [JWK, ...]} from the mutable key list.
    url is the base (https://127.0.0.1:PORT, no trailing slash): it is the discovery URL (the
    issuer the discovery document names, unless issuer= says otherwise). keys holds public JWKs;
    add_key() / set_keys() change them between logins. fetches counts GET /jwks and
    discovery_fetches GET of the discovery document (for cache and rate-limit checks)."""

    DISCOVERY_PATH = "/.well-known/openid-configuration"
    JWKS_PATH = "/jwks"

    def __init__(self, tls, keys=(), issuer=None, delay=0.0, max_age=None):
        self.delay = delay
        self.max_age = max_age  # seconds: sent as Cache-Control: max-age on /jwks
        self._keys = []
        self._issuer = issuer
        super().__init__(tls)
        self.set_keys(keys)

    @property
    def issuer(self):
        return self._issuer or self.url

    @property
    def discovery_url(self):
        return self.url

    @property
    def jwks_url(self):
        return self.url + self.JWKS_PATH

    @property
    def keys(self):
        with self._lock:
            return list(self._keys)

    def set_keys(self, keys):
        """Serve exactly these keys (private or public keys, or JWK dicts)."""
        made = [k if isinstance(k, dict) else jwk(k) for k in keys]
        with self._lock:
            self._keys = made

    def add_key(self, key, kid=None, alg=None):
        """Serve one more key (a key, or a JWK dict); returns its JWK."""
        made = key if isinstance(key, dict) else jwk(key, kid=kid, alg=alg)
        with self._lock:
            self._keys.append(made)
        return made

    def _count(self, path):
        return sum(1 for r in self.requests if r.method == "GET" and r.path.split("?")[0] == path)

    @property
    def fetches(self):
        return self._count(self.JWKS_PATH)

    @property
    def discovery_fetches(self):
        return self._count(self.DISCOVERY_PATH)

    def _answer(self, rec):
        if self.delay:
            time.sleep(self.delay)
        path = rec.path.split("?")[0]
        if rec.method != "GET":
            return 405, {"error": "method not allowed"}, None
        if path == self.JWKS_PATH:
            extra = None if self.max_age is None else {
                "Cache-Control": f"public, max-age={int(self.max_age)}"}
            return 200, {"keys": self.keys}, extra
        if path == self.DISCOVERY_PATH:
            algs = sorted({k.get("alg") for k in self.keys if k.get("alg")}) or ["RS256"]
            return 200, {
                "issuer": self.issuer,
                "jwks_uri": self.jwks_url,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": algs,
            }, None
        return 404, {"error": "not found"}, None
