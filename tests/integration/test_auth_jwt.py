# SPDX-License-Identifier: Apache-2.0
"""The `jwt` auth method (Vault's auth/jwt API, JWT roles): config with exactly one key source
(jwt_validation_pubkeys, a JWKS URL, or OIDC discovery, the last two over TLS from the scripted
workload_identity.JwksServer), roles and their bound constraints, logins for every supported
algorithm, Vault's refusal messages (400), the leeways, the JWKS cache (a refetch for an unknown
kid, rate-limited, reset by a config write), and hvac's jwt_login.

Every test skips when this cofferd has no jwt auth method (enabling one at sys/auth/jwt is
refused), so the suite stays green until the engine lands."""
import re
import sys
import time
import uuid

import pytest

from conftest import (assert_denied, assert_error, auth_method_dev, AuthMount, contains,
                      free_port, hvac_client, hvac_written, lookup_self, ok, token_accessors,
                      TOKEN_RE, written)
from workload_identity import (alg_none_token, ALL_ALGS, apply_claim_changes, DROP,
                               hs256_with_public_key, JwksServer, new_key, public_pem, sign_jwt,
                               tampered_token, tls_material, unverified_claims)

if "/usr/lib/python3/dist-packages" not in sys.path:  # Debian's hvac
    sys.path.append("/usr/lib/python3/dist-packages")

ISS = "https://idp.example.com"
APP_POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'
ONE_SOURCE = "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' " \
             "must be set"
# Seconds the JWKS refetch is rate-limited to (about once per 5 s): a test that needs a refetch
# waits this long after the last fetch.
JWKS_RATE_S = 6.0


def claims(sub="alice", aud=("coffer",), iss=ISS, lifetime=600, now=None, **extra):
    """An identity token's claims: iss, sub, aud (list; None leaves it out), iat, nbf, exp, plus
    extra (claim=DROP removes one)."""
    now = int(now if now is not None else time.time())
    c = {"iss": iss, "sub": sub, "iat": now, "nbf": now, "exp": now + int(lifetime)}
    if aud is not None:
        c["aud"] = list(aud)
    return apply_claim_changes(c, (), extra)


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s(module_dev):
    return auth_method_dev(module_dev, "jwt", "jwt-app-read", APP_POLICY)


pytestmark = pytest.mark.usefixtures("s")


@pytest.fixture(scope="module")
def keys():
    return {"rsa": new_key("rsa"), "ec256": new_key("ec256"), "ec384": new_key("ec384"),
            "ec521": new_key("ec521"), "ed25519": new_key("ed25519"),
            "stranger": new_key("rsa"), "rsa2": new_key("rsa"), "rsa3": new_key("rsa")}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return tls_material(tmp_path_factory.mktemp("jwt-tls"))


class Mount(AuthMount):
    """One jwt auth mount of the dev server."""
    TYPE = "jwt"

    def role(self, name, **body):
        """A JWT role with user_claim "sub", bound_audiences ["coffer"] and the policy
        jwt-app-read unless body says otherwise (a value of DROP leaves a field out)."""
        full = {"role_type": "jwt", "user_claim": "sub", "bound_audiences": ["coffer"],
                "token_policies": ["jwt-app-read"]}
        full.update(body)
        written(self.write_role(name, **{k: v for k, v in full.items() if v is not DROP}))


def refuse(mount, role, jwt, message):
    """Logs in, asserts a 400 whose one error matches message, and that no token was issued."""
    before = token_accessors(mount.s)
    body = assert_error(mount.login(role, jwt), 400, message)
    assert token_accessors(mount.s) <= before, "a refused login issued a token"
    return body


@pytest.fixture
def pub(s, keys):
    """A mount with jwt_validation_pubkeys (the RSA and P-256 keys), RS256 and ES256 allowed,
    bound_issuer ISS; role "dev" maps the email claim and /org/team into the metadata."""
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"]), public_pem(keys["ec256"])],
                jwt_supported_algs=["RS256", "ES256"], bound_issuer=ISS)
    m.role("dev", claim_mappings={"email": "email", "/org/team": "team"}, token_ttl="1h")
    return m


def wait_for_rate_window(js):
    """Sleeps until JWKS_RATE_S have passed since the server's last JWKS fetch."""
    times = [r.time for r in js.requests if r.path.split("?")[0] == JwksServer.JWKS_PATH]
    if times:
        left = times[-1] + JWKS_RATE_S - time.monotonic()
        if left > 0:
            time.sleep(left)  # the point: the refetch limit of the server under test


# --- mounting and config -----------------------------------------------------------------------

def test_the_method_is_listed(s):
    body = ok(s.get("sys/auth", token=s.root))
    assert body["data"]["jwt/"]["type"] == "jwt", body


def test_config_needs_exactly_one_key_source(s, keys, tls):
    m = Mount(s)
    pem = public_pem(keys["rsa"])
    assert_error(m.write_config(bound_issuer=ISS), 400, contains(re.escape(ONE_SOURCE)))
    assert_error(m.write_config(jwt_validation_pubkeys=[pem], jwks_url="https://127.0.0.1:1/k"),
                 400, contains(re.escape(ONE_SOURCE)))
    assert_error(m.write_config(jwt_validation_pubkeys=[pem],
                                oidc_discovery_url="https://127.0.0.1:1"),
                 400, contains(re.escape(ONE_SOURCE)))
    assert_error(m.write_config(jwt_validation_pubkeys=[pem], jwt_supported_algs=["HS256"]), 400,
                 contains("invalid jwt_supported_algs"))
    assert_error(m.write_config(jwt_validation_pubkeys=[pem],
                                jwt_supported_algs=["RS256", "none"]), 400,
                 contains("invalid jwt_supported_algs"))
    assert_error(m.write_config(jwt_validation_pubkeys=["not a pem"]), 400)
    # A JWKS URL that cannot be fetched: nothing listens, or the CA does not match.
    assert_error(m.write_config(jwks_url=f"https://127.0.0.1:{free_port()}/jwks",
                                jwks_ca_pem=tls.ca_pem), 400, contains("jwks"))
    with JwksServer(tls, keys=[keys["rsa"]]) as js:
        assert_error(m.write_config(jwks_url=js.jwks_url, jwks_ca_pem=tls.untrusted_ca_pem), 400,
                     contains("jwks"))


def test_config_is_read_back(s, keys):
    m = Mount(s)
    pems = [public_pem(keys["rsa"]), public_pem(keys["ed25519"])]
    m.configure(jwt_validation_pubkeys=pems, bound_issuer=ISS,
                jwt_supported_algs=["RS256", "EdDSA"], default_role="dev")
    d = ok(m.read_config())["data"]
    assert [p.strip() for p in d["jwt_validation_pubkeys"]] == [p.strip() for p in pems], d
    assert d["bound_issuer"] == ISS and d["default_role"] == "dev", d
    assert d["jwt_supported_algs"] == ["RS256", "EdDSA"], d
    assert not d.get("jwks_url") and not d.get("oidc_discovery_url"), d
    # The keys as one comma string; every algorithm of the list at once.
    m.configure(jwt_validation_pubkeys=",".join(pems), jwt_supported_algs=list(ALL_ALGS))
    d = ok(m.read_config())["data"]
    assert len(d["jwt_validation_pubkeys"]) == 2, d
    assert sorted(d["jwt_supported_algs"]) == sorted(ALL_ALGS), d


# --- roles -------------------------------------------------------------------------------------

def test_role_validation(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])])
    assert_error(m.write_role("r", role_type="jwt", bound_audiences=["coffer"]), 400,
                 contains("a user claim must be defined on the role"))
    assert_error(m.write_role("r", role_type="jwt", user_claim="sub"), 400,
                 contains("must have at least one bound constraint when creating/updating a "
                          "role"))
    assert_error(m.write_role("r", role_type="jwt", user_claim="sub", bound_audiences=["c"],
                              bound_claims_type="regex"), 400)
    assert_error(m.read_role("r"), 404)
    # Each bound constraint alone is enough.
    for bound in ({"bound_audiences": ["coffer"]}, {"bound_subject": "alice"},
                  {"bound_claims": {"team": "payments"}},
                  {"token_bound_cidrs": ["127.0.0.0/8"]}):
        written(m.write_role("r", role_type="jwt", user_claim="sub", **bound))


def test_role_fields_are_read_back(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])])
    written(m.write_role("full", role_type="jwt", user_claim="email",
                         bound_audiences=["coffer", "other"], bound_subject="alice",
                         bound_claims={"/org/team": ["payments", "billing"], "env": "prod"},
                         bound_claims_type="string",
                         claim_mappings={"email": "mail", "/org/team": "team"},
                         clock_skew_leeway=30, expiration_leeway=-1, not_before_leeway=0,
                         token_policies=["jwt-app-read"], token_ttl="1h", token_max_ttl="2h",
                         token_num_uses=4, token_type="service"))
    d = ok(m.read_role("full"))["data"]
    assert d["role_type"] == "jwt" and d["user_claim"] == "email", d
    assert d["bound_audiences"] == ["coffer", "other"] and d["bound_subject"] == "alice", d
    assert d["bound_claims"] == {"/org/team": ["payments", "billing"], "env": "prod"}, d
    assert d["bound_claims_type"] == "string", d
    assert d["claim_mappings"] == {"email": "mail", "/org/team": "team"}, d
    assert d["clock_skew_leeway"] == 30 and d["expiration_leeway"] == -1, d
    assert d["token_policies"] == ["jwt-app-read"], d
    assert d["token_ttl"] == 3600 and d["token_max_ttl"] == 7200 and d["token_num_uses"] == 4, d
    # The role type is oidc unless said, as in Vault.
    written(m.write_role("browser", user_claim="sub", bound_audiences=["coffer"],
                         allowed_redirect_uris=["http://localhost:8250/oidc/callback"]))
    assert ok(m.read_role("browser"))["data"]["role_type"] == "oidc"
    keys_ = ok(s.request("LIST", f"{m.path}/role", token=s.root))["data"]["keys"]
    assert sorted(keys_) == ["browser", "full"], keys_
    ok(s.request("DELETE", f"{m.path}/role/full", token=s.root), 204)
    assert_error(m.read_role("full"), 404)


# --- login -------------------------------------------------------------------------------------

def test_login_gives_a_token_with_the_roles_policy(s, pub, keys):
    jwt = sign_jwt(keys["rsa"], "RS256", claims(email="alice@example.com",
                                                org={"team": "payments"}))
    auth = pub.login_ok("dev", jwt)
    assert "default" in auth["policies"] and "jwt-app-read" in auth["policies"], auth
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True, auth
    meta = auth["metadata"]
    assert meta["role"] == "dev", meta
    assert meta["email"] == "alice@example.com" and meta["team"] == "payments", meta
    token = auth["client_token"]
    looked = ok(lookup_self(s, token))["data"]
    display = auth.get("display_name") or looked["display_name"]
    assert display == "alice" or display.endswith("-alice"), (auth, looked)
    assert looked["path"] == f"{pub.path}/login", looked
    got = ok(s.get("secret/data/app/db", token=token))["data"]["data"]
    assert got == {"password": "s3cr3t-for-app"}
    assert_denied(s.get("secret/data/other/db", token=token))
    # ES256 with the other key.
    pub.login_ok("dev", sign_jwt(keys["ec256"], "ES256", claims(sub="bob")))


def test_default_role(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"],
                default_role="fallback")
    m.role("fallback")
    auth = m.login_ok(None, sign_jwt(keys["rsa"], "RS256", claims()))
    assert auth["metadata"]["role"] == "fallback", auth


def test_login_refusals(s, pub, keys):
    good = sign_jwt(keys["rsa"], "RS256", claims())
    assert_error(pub.s.post(f"{pub.path}/login", json={"role": "dev"}), 400,
                 contains("missing token"))
    refuse(pub, "nosuch", good, contains('role "nosuch" could not be found'))
    # Signatures.
    refuse(pub, "dev", tampered_token(good, sub="mallory"),
           contains("error validating token", "signature"))
    refuse(pub, "dev", sign_jwt(keys["stranger"], "RS256", claims()),
           contains("error validating token", "signature"))
    # Algorithms: outside jwt_supported_algs, none, HS256 keyed with the public key.
    refuse(pub, "dev", sign_jwt(keys["rsa"], "RS384", claims()), contains("invalid algorithm"))
    refuse(pub, "dev", sign_jwt(keys["rsa"], "PS256", claims()), contains("invalid algorithm"))
    refuse(pub, "dev", alg_none_token(claims()), contains("invalid algorithm"))
    refuse(pub, "dev", hs256_with_public_key(keys["rsa"], claims()),
           contains("invalid algorithm"))
    # Time: expired well beyond the leeways.
    refuse(pub, "dev", sign_jwt(keys["rsa"], "RS256", claims(now=time.time() - 1200)),
           contains("token is expired"))
    # Audience, issuer.
    refuse(pub, "dev", sign_jwt(keys["rsa"], "RS256", claims(aud=("someone-else",))),
           contains("aud"))
    refuse(pub, "dev", sign_jwt(keys["rsa"], "RS256", claims(iss="https://evil.example")),
           contains("iss"))
    # Garbage.
    refuse(pub, "dev", "not-a-jwt", None)


def test_audience_without_bound_audiences(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"])
    m.role("subject", bound_audiences=DROP, bound_subject="alice")
    refuse(m, "subject", sign_jwt(keys["rsa"], "RS256", claims()),
           contains("audience claim found in JWT but no audiences bound to the role"))
    m.login_ok("subject", sign_jwt(keys["rsa"], "RS256", claims(aud=None)))
    refuse(m, "subject", sign_jwt(keys["rsa"], "RS256", claims(sub="bob", aud=None)), None)


def test_bound_claims(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"])
    m.role("exact", bound_claims={"/org/team": ["payments", "billing"], "groups": "admins"})
    m.role("glob", bound_claims={"env": "prod-*"}, bound_claims_type="glob")

    def tok(**extra):
        return sign_jwt(keys["rsa"], "RS256", claims(**extra))
    m.login_ok("exact", tok(org={"team": "billing"}, groups=["dev", "admins"]))
    m.login_ok("exact", tok(org={"team": "payments"}, groups="admins"))
    refuse(m, "exact", tok(org={"team": "marketing"}, groups=["admins"]),
           contains("error validating claims"))
    refuse(m, "exact", tok(org={"team": "payments"}, groups=["dev"]),
           contains("error validating claims"))
    refuse(m, "exact", tok(groups=["admins"]), contains("error validating claims"))
    m.login_ok("glob", tok(env="prod-eu-1"))
    refuse(m, "glob", tok(env="staging-1"), contains("error validating claims"))
    # With bound_claims_type string, a glob is a literal.
    m.role("literal", bound_claims={"env": "prod-*"})
    refuse(m, "literal", tok(env="prod-eu-1"), contains("error validating claims"))
    m.login_ok("literal", tok(env="prod-*"))


def test_oidc_role_cannot_log_in_here(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"])
    m.role("browser", role_type=DROP,
           allowed_redirect_uris=["http://localhost:8250/oidc/callback"])
    refuse(m, "browser", sign_jwt(keys["rsa"], "RS256", claims()),
           contains("role with oidc role_type is not allowed"))


def test_leeways(s, keys):
    """cap's validateAll, which Vault uses: only clock_skew_leeway (60 s; 0 means the default, -1
    none) widens the exp, nbf and iat checks; expiration_leeway (150 s) stands in for a missing
    exp (latest of iat and nbf, plus it), not_before_leeway for a missing nbf and iat. A token
    that carries exp is not extended by expiration_leeway."""
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"])
    m.role("default")
    m.role("strict", clock_skew_leeway=-1, expiration_leeway=-1, not_before_leeway=-1)
    m.role("zero", clock_skew_leeway=0, expiration_leeway=0, not_before_leeway=0)
    m.role("thirty", clock_skew_leeway=-1, expiration_leeway=30, not_before_leeway=-1)

    def expired_ago(seconds):
        return sign_jwt(keys["rsa"], "RS256", claims(now=time.time() - 600 - seconds))

    def starts_in(seconds):  # no iat: only nbf is in the future
        return sign_jwt(keys["rsa"], "RS256", claims(now=time.time() + seconds, iat=DROP))

    def issued_ago_without_exp(seconds):
        return sign_jwt(keys["rsa"], "RS256", claims(now=time.time() - seconds, exp=DROP,
                                                     nbf=DROP))
    for role in ("default", "zero"):
        m.login_ok(role, expired_ago(20))
        refuse(m, role, expired_ago(120), contains("token is expired"))
        m.login_ok(role, starts_in(20))
        refuse(m, role, starts_in(120), contains("not yet valid"))
        # No exp: iat + 150 s, checked with the 60 s skew.
        m.login_ok(role, issued_ago_without_exp(180))
        refuse(m, role, issued_ago_without_exp(240), contains("token is expired"))
    refuse(m, "strict", expired_ago(5), contains("token is expired"))
    refuse(m, "strict", starts_in(30), contains("not yet valid"))
    m.login_ok("strict", sign_jwt(keys["rsa"], "RS256", claims()))
    # -1 is no leeway: without exp the token expires when issued.
    refuse(m, "strict", issued_ago_without_exp(5), contains("token is expired"))
    m.login_ok("thirty", issued_ago_without_exp(10))
    refuse(m, "thirty", issued_ago_without_exp(60), contains("token is expired"))
    refuse(m, "thirty", expired_ago(10), contains("token is expired"))


def test_extreme_time_claims_are_refused_without_overflow(s, keys):
    """exp, nbf and iat at the ends of int64, with or without exp (whose stand-in adds
    expiration_leeway) and with a huge leeway, are refused by the time checks, not wrapped
    around."""
    lo, hi = -(2 ** 63), 2 ** 63 - 1
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])], jwt_supported_algs=["RS256"])
    m.role("default")
    m.role("huge", clock_skew_leeway=hi, expiration_leeway=hi, not_before_leeway=hi)

    def token(**times):
        return sign_jwt(keys["rsa"], "RS256", claims(**times))
    refuse(m, "default", token(exp=lo), contains("token is expired"))
    refuse(m, "default", token(exp=lo, nbf=DROP, iat=DROP), contains("token is expired"))
    refuse(m, "default", token(iat=hi, nbf=DROP, exp=DROP), contains("not yet valid"))
    refuse(m, "default", token(nbf=hi, iat=DROP, exp=DROP), contains("not yet valid"))
    refuse(m, "default", token(nbf=hi, iat=hi, exp=hi), contains("not yet valid"))
    # A leeway as large as int64 goes is no overflow either: the login is answered.
    for times in ({"exp": lo, "nbf": DROP, "iat": DROP}, {"iat": hi, "nbf": DROP, "exp": DROP},
                  {"exp": hi, "nbf": lo, "iat": lo}):
        assert m.login("huge", token(**times)).status_code in (200, 400), times
    m.login_ok("default", token())


ALG_KEYS = {"RS256": "rsa", "RS384": "rsa", "RS512": "rsa", "PS256": "rsa", "PS384": "rsa",
            "PS512": "rsa", "ES256": "ec256", "ES384": "ec384", "ES512": "ec521",
            "EdDSA": "ed25519"}


@pytest.fixture(scope="module")
def every_alg(s, keys):
    m = Mount(s)
    m.configure(jwt_validation_pubkeys=[public_pem(keys[k]) for k in
                                        ("rsa", "ec256", "ec384", "ec521", "ed25519")],
                jwt_supported_algs=list(ALL_ALGS))
    m.role("any")
    return m


@pytest.mark.parametrize("alg", ALL_ALGS)
def test_every_algorithm(s, every_alg, keys, alg):
    auth = every_alg.login_ok("any", sign_jwt(keys[ALG_KEYS[alg]], alg, claims(sub=f"u-{alg}")))
    assert "jwt-app-read" in auth["policies"], auth


# --- JWKS and OIDC discovery over TLS ----------------------------------------------------------

def test_jwks_url_with_refetch_rate_limit_and_reset(s, keys, tls):
    with JwksServer(tls, keys=[keys["rsa"]]) as js:
        m = Mount(s)
        m.configure(jwks_url=js.jwks_url, jwks_ca_pem=tls.ca_pem,
                    jwt_supported_algs=["RS256", "ES256"])
        m.role("dev")
        m.login_ok("dev", sign_jwt(keys["rsa"], "RS256", claims()))
        assert js.fetches >= 1
        # A new key, served with a new kid: an unknown kid makes cofferd fetch the set again.
        js.add_key(keys["ec256"])
        wait_for_rate_window(js)
        before = js.fetches
        m.login_ok("dev", sign_jwt(keys["ec256"], "ES256", claims(sub="bob")))
        assert js.fetches == before + 1, (before, js.fetches)
        # Unknown kids in a row: refused, and the set is not fetched for each of them.
        before, started = js.fetches, time.monotonic()
        for _ in range(5):
            jwt = sign_jwt(keys["stranger"], "RS256", claims(), kid=str(uuid.uuid4()))
            refuse(m, "dev", jwt, contains("error validating token"))
        elapsed = time.monotonic() - started
        assert js.fetches - before <= 1 + int(elapsed / 5), (before, js.fetches, elapsed)
        # A config write resets the cache: the keys served now count at once, the old ones not.
        js.set_keys([keys["rsa2"]])
        m.configure(jwks_url=js.jwks_url, jwks_ca_pem=tls.ca_pem,
                    jwt_supported_algs=["RS256", "ES256"])
        m.login_ok("dev", sign_jwt(keys["rsa2"], "RS256", claims()))
        refuse(m, "dev", sign_jwt(keys["rsa"], "RS256", claims()),
               contains("error validating token"))


def test_a_withdrawn_key_stops_verifying_once_the_sets_max_age_passes(s, keys, tls):
    """The JWK set is used for its Cache-Control max-age (at least 5 s), then fetched again
    before the next login: a key the provider withdrew (a compromised one) stops verifying,
    where Vault keeps it until a token names an unknown kid."""
    with JwksServer(tls, keys=[keys["rsa"], keys["rsa2"]], max_age=5) as js:
        m = Mount(s)
        m.configure(jwks_url=js.jwks_url, jwks_ca_pem=tls.ca_pem, jwt_supported_algs=["RS256"])
        m.role("dev")
        fetched = time.monotonic()
        m.login_ok("dev", sign_jwt(keys["rsa"], "RS256", claims()))
        js.set_keys([keys["rsa2"]])
        before = js.fetches
        # Within the max age the set held is used, without a fetch.
        m.login_ok("dev", sign_jwt(keys["rsa"], "RS256", claims()))
        assert js.fetches == before and time.monotonic() - fetched < 5
        time.sleep(max(0.0, 5.5 - (time.monotonic() - fetched)))
        refuse(m, "dev", sign_jwt(keys["rsa"], "RS256", claims()),
               contains("error validating token"))
        assert js.fetches == before + 1, (before, js.fetches)
        m.login_ok("dev", sign_jwt(keys["rsa2"], "RS256", claims()))
        assert js.fetches == before + 1, (before, js.fetches)


def test_oidc_discovery(s, keys, tls):
    with JwksServer(tls, keys=[keys["rsa"]]) as js:
        m = Mount(s)
        m.configure(oidc_discovery_url=js.discovery_url, oidc_discovery_ca_pem=tls.ca_pem,
                    jwt_supported_algs=["RS256"])
        d = ok(m.read_config())["data"]
        assert d["oidc_discovery_url"] == js.discovery_url, d
        m.role("dev")
        auth = m.login_ok("dev", sign_jwt(keys["rsa"], "RS256", claims(iss=js.issuer)))
        assert auth["metadata"]["role"] == "dev", auth
        assert js.discovery_fetches >= 1 and js.fetches >= 1
        refuse(m, "dev", sign_jwt(keys["stranger"], "RS256", claims(iss=js.issuer)),
               contains("error validating token"))
    # The discovery document must name the URL itself as the issuer.
    with JwksServer(tls, keys=[keys["rsa"]], issuer="https://elsewhere.example") as js:
        m = Mount(s)
        r = m.write_config(oidc_discovery_url=js.discovery_url, oidc_discovery_ca_pem=tls.ca_pem,
                           jwt_supported_algs=["RS256"])
        if r.status_code == 400:
            return
        written(r)
        m.role("dev")
        assert m.login("dev", sign_jwt(keys["rsa"], "RS256", claims(
            iss="https://elsewhere.example"))).status_code == 400


def test_oidc_discovery_through_an_untrusted_ca(s, keys, tls):
    with JwksServer(tls, keys=[keys["rsa"]]) as js:
        m = Mount(s)
        r = m.write_config(oidc_discovery_url=js.discovery_url,
                           oidc_discovery_ca_pem=tls.untrusted_ca_pem,
                           jwt_supported_algs=["RS256"])
        if r.status_code == 400:
            return
        written(r)
        m.role("dev")
        assert m.login("dev", sign_jwt(keys["rsa"], "RS256", claims(iss=js.issuer))
                       ).status_code == 400
        assert js.requests == []


# --- hvac --------------------------------------------------------------------------------------

def test_hvac_jwt_client(s, keys):
    import hvac
    client = hvac_client(s, s.root)
    mount = "jwt"
    r = client.auth.jwt.configure(jwt_validation_pubkeys=[public_pem(keys["rsa"])],
                                  jwt_supported_algs=["RS256"], bound_issuer=ISS, path=mount)
    hvac_written(r)
    r = client.auth.jwt.create_role("hvac-role", user_claim="sub", allowed_redirect_uris=[],
                                    role_type="jwt", bound_audiences=["coffer"],
                                    token_policies=["jwt-app-read"], token_ttl="30m", path=mount)
    hvac_written(r)
    role = client.auth.jwt.read_role("hvac-role", path=mount)["data"]
    assert role["role_type"] == "jwt" and role["bound_audiences"] == ["coffer"], role
    assert "hvac-role" in client.auth.jwt.list_roles(path=mount)["data"]["keys"]

    login = hvac_client(s)
    jwt = sign_jwt(keys["rsa"], "RS256", claims())
    body = login.auth.jwt.jwt_login("hvac-role", jwt, path=mount)
    auth = body["auth"]
    assert TOKEN_RE.match(auth["client_token"]) and auth["lease_duration"] == 1800, auth
    assert login.token == auth["client_token"]  # use_token=True
    assert login.secrets.kv.v2.read_secret_version(path="app/db", mount_point="secret")[
        "data"]["data"] == {"password": "s3cr3t-for-app"}
    assert unverified_claims(jwt)["sub"] == "alice"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac_client(s).auth.jwt.jwt_login("hvac-role",
                                          sign_jwt(keys["stranger"], "RS256", claims()),
                                          path=mount)
    r = client.auth.jwt.delete_role("hvac-role", path=mount)
    assert r.status_code == 204, r
