# SPDX-License-Identifier: Apache-2.0
"""The `kubernetes` auth method (Vault's auth/kubernetes API): its config (with Coffer's
disable_token_review and max_token_lifetime), roles, and logins with service-account tokens,
checked both locally against pem_keys (disable_token_review) and through the TokenReview API of a
scripted API server (workload_identity.TokenReviewServer: no real one can run here). A refused
login is a 403 with one error, "login refused: <check>: <detail>", and issues no token; the log
never holds a token. Also through hvac's Kubernetes client.

Every test skips when this cofferd has no kubernetes auth method (enabling one at
sys/auth/kubernetes is refused), so the suite stays green until the engine lands."""
import re
import sys
import time

import pytest

from conftest import (assert_denied, assert_error, auth_method_dev, AuthMount, contains,
                      free_port, hvac_client, hvac_written, kv2_write, lookup_self, ok,
                      token_accessors, TOKEN_RE, wait_for, written)
from workload_identity import (alg_none_token, DROP, garbage_tokens, hs256_with_public_key,
                               k8s_kid, new_key, projected_token, public_pem, sa_uid,
                               self_signed_cert_pem, split_token, tampered_token, tls_material,
                               TokenReviewServer, unverified_claims)

if "/usr/lib/python3/dist-packages" not in sys.path:  # Debian's hvac
    sys.path.append("/usr/lib/python3/dist-packages")

REVIEWER = "reviewer-token-xyz"
APP_POLICY = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n'


def refused(check):
    """The one error of a refused login: "login refused: <check>: <detail>", where the check
    part matches the regex fragment check (case-insensitive) and the detail is not empty."""
    return re.compile(rf"(?is)login refused: [^:]*(?:{check})[^:]*: .*\S.*")


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s(module_dev):
    auth_method_dev(module_dev, "kubernetes", "k8s-app-read", APP_POLICY)
    module_dev.tokens_seen = []  # every JWT a test sent: none may reach the log
    return module_dev


pytestmark = pytest.mark.usefixtures("s")


@pytest.fixture(scope="module")
def keys():
    return {"rsa": new_key("rsa"), "ec": new_key("ec256"), "rsa2": new_key("rsa"),
            "stranger": new_key("rsa")}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return tls_material(tmp_path_factory.mktemp("k8s-tls"))


@pytest.fixture
def trs(tls):
    with TokenReviewServer(tls) as server:
        yield server


class Mount(AuthMount):
    """One kubernetes auth mount of the dev server."""
    TYPE = "kubernetes"

    def role(self, name, **body):
        body.setdefault("token_policies", ["k8s-app-read"])
        written(self.write_role(name, **body))

    def login(self, role, jwt):
        """Every JWT sent is remembered for the log check."""
        if isinstance(jwt, str):
            self.s.tokens_seen.append(jwt)
        return super().login(role, jwt)


def assert_refused(s, resp, check):
    """A refused login: 403 with one error matching refused(check)."""
    return assert_error(resp, 403, refused(check))


def refuse(mount, role, jwt, check):
    """Logs in, asserts the refusal, and that no token was issued by it."""
    before = token_accessors(mount.s)
    assert_refused(mount.s, mount.login(role, jwt), check)
    assert token_accessors(mount.s) <= before, "a refused login issued a token"


def assert_not_logged(s, *secrets):
    """None of the secrets (JWTs: the whole text and the signature segment; other strings as they
    are) appears in anything cofferd wrote to stderr."""
    log = s.all_stderr_bytes()
    for secret in secrets:
        needles = {secret}
        if secret.count(".") == 2:
            sig = split_token(secret)[2]
            if len(sig) >= 16:
                needles.add(sig)
        for needle in needles:
            assert needle.encode() not in log, f"cofferd logged a secret: {needle[:40]}..."


@pytest.fixture
def local(s, keys):
    """A mount that checks tokens locally only: disable_token_review with the RSA and EC keys in
    pem_keys; role "app" for default:app with audience "coffer"."""
    m = Mount(s)
    m.configure(disable_token_review=True, pem_keys=[public_pem(keys["rsa"]),
                                                      public_pem(keys["ec"])])
    m.role("app", bound_service_account_names=["app"], bound_service_account_namespaces=["default"],
           audience="coffer", token_ttl="1h", token_max_ttl="4h")
    return m


def review_mount(s, trs, tls, **config):
    """A mount that asks trs (TokenReview) about every login, with role "app" for default:app
    and audience "coffer"."""
    m = Mount(s)
    body = {"kubernetes_host": trs.url, "kubernetes_ca_cert": tls.ca_pem,
            "token_reviewer_jwt": REVIEWER, "disable_local_ca_jwt": True}
    body.update(config)
    m.configure(**{k: v for k, v in body.items() if v is not None})
    m.role("app", bound_service_account_names=["app"], bound_service_account_namespaces=["default"],
           audience="coffer", token_ttl="1h")
    return m


# --- mounting and config -----------------------------------------------------------------------

def test_the_method_is_listed(s):
    body = ok(s.get("sys/auth", token=s.root))
    assert body["data"]["kubernetes/"]["type"] == "kubernetes", body


def test_config_is_404_until_written_and_hides_the_reviewer_token(s, keys, tls):
    m = Mount(s)
    assert_error(m.read_config(), 404)
    m.configure(kubernetes_host="https://127.0.0.1:6443", kubernetes_ca_cert=tls.ca_pem,
                token_reviewer_jwt=REVIEWER, pem_keys=[public_pem(keys["rsa"])],
                disable_local_ca_jwt=True, issuer="https://issuer.example")
    r = m.read_config()
    d = ok(r)["data"]
    assert REVIEWER not in r.text, "GET config returned the reviewer token"
    assert "token_reviewer_jwt" not in d, d
    assert d["token_reviewer_jwt_set"] is True, d
    assert d["kubernetes_host"] == "https://127.0.0.1:6443", d
    assert d["kubernetes_ca_cert"].strip() == tls.ca_pem.strip(), d
    assert [p.strip() for p in d["pem_keys"]] == [public_pem(keys["rsa"]).strip()], d
    assert d["issuer"] == "https://issuer.example", d
    assert d["disable_local_ca_jwt"] is True, d
    assert d["disable_iss_validation"] is True, d  # the default
    assert d["disable_token_review"] is False, d
    assert d["max_token_lifetime"] == 24 * 3600, d  # the default, in seconds
    # Written again without a reviewer token: not set any more.
    m.configure(kubernetes_host="https://127.0.0.1:6443", disable_local_ca_jwt=True,
                max_token_lifetime="1h", disable_iss_validation=False)
    d = ok(m.read_config())["data"]
    assert d["token_reviewer_jwt_set"] is False, d
    assert d["max_token_lifetime"] == 3600 and d["disable_iss_validation"] is False, d
    assert_not_logged(s, REVIEWER)


def test_config_validation(s, keys):
    m = Mount(s)
    pem = public_pem(keys["rsa"])
    assert_error(m.write_config(pem_keys=[pem]), 400, contains("no host provided"))
    assert_error(m.write_config(kubernetes_host="https://127.0.0.1:6443",
                                disable_token_review=True), 400, contains("pem_keys"))
    assert_error(m.write_config(disable_token_review=True), 400, contains("pem_keys"))
    assert_error(m.write_config(disable_token_review=True, pem_keys=["not a pem"]), 400)
    assert_error(m.write_config(disable_token_review=True,
                                pem_keys=["-----BEGIN PUBLIC KEY-----\nAAAA\n"
                                          "-----END PUBLIC KEY-----\n"]), 400)
    assert_error(m.write_config(disable_token_review=True, pem_keys=[pem],
                                use_annotations_as_alias_metadata=True), 400,
                 contains("not supported"))
    assert_error(m.read_config(), 404)  # nothing refused was stored
    # Review disabled: no host needed. pem_keys as one comma string; a certificate is a key too.
    cert = self_signed_cert_pem(keys["ec"])
    m.configure(disable_token_review=True, pem_keys=pem + "," + cert)
    d = ok(m.read_config())["data"]
    assert len(d["pem_keys"]) == 2 and d["disable_token_review"] is True, d
    assert d["token_reviewer_jwt_set"] is False, d


# --- roles -------------------------------------------------------------------------------------

def test_role_crud_and_fields(s):
    m = Mount(s)
    m.configure(kubernetes_host="https://127.0.0.1:6443", disable_local_ca_jwt=True)
    written(m.write_role("Web-Role", bound_service_account_names=["web", "web-*"],
                         bound_service_account_namespaces="prod,staging",
                         audience="coffer", alias_name_source="serviceaccount_name",
                         token_ttl="1h", token_max_ttl="2h", token_policies=["a", "b"],
                         token_bound_cidrs=["127.0.0.0/8"], token_period="30m",
                         token_num_uses=3, token_no_default_policy=True,
                         token_explicit_max_ttl="3h", token_type="service"))
    keys = ok(s.request("LIST", f"{m.path}/role", token=s.root))["data"]["keys"]
    assert keys == ["web-role"], keys  # stored lower-cased
    d = ok(m.read_role("web-role"))["data"]
    assert d["bound_service_account_names"] == ["web", "web-*"], d
    assert d["bound_service_account_namespaces"] == ["prod", "staging"], d
    assert d["audience"] == "coffer" and d["alias_name_source"] == "serviceaccount_name", d
    assert d["token_ttl"] == 3600 and d["token_max_ttl"] == 7200, d
    assert sorted(d["token_policies"]) == ["a", "b"], d
    assert d["token_bound_cidrs"] == ["127.0.0.0/8"], d
    assert d["token_period"] == 1800 and d["token_num_uses"] == 3, d
    assert d["token_no_default_policy"] is True and d["token_explicit_max_ttl"] == 10800, d
    assert d["token_type"] == "service", d
    ok(m.read_role("WEB-ROLE"))  # the name is case-insensitive
    # The default alias source is the service account's uid.
    m.role("plain", bound_service_account_names="*", bound_service_account_namespaces="default")
    d = ok(m.read_role("plain"))["data"]
    assert d["alias_name_source"] == "serviceaccount_uid", d
    assert d["bound_service_account_names"] == ["*"], d
    # Legacy field names land in the token_* fields.
    written(m.write_role("legacy", bound_service_account_names=["app"],
                         bound_service_account_namespaces=["default"], policies="p1,p2",
                         ttl=600, max_ttl="20m", period="0", num_uses=5,
                         bound_cidrs=["10.0.0.0/8"]))
    d = ok(m.read_role("legacy"))["data"]
    assert sorted(d["token_policies"]) == ["p1", "p2"], d
    assert d["token_ttl"] == 600 and d["token_max_ttl"] == 1200, d
    assert d["token_num_uses"] == 5 and d["token_bound_cidrs"] == ["10.0.0.0/8"], d
    keys = ok(s.request("LIST", f"{m.path}/role", token=s.root))["data"]["keys"]
    assert sorted(keys) == ["legacy", "plain", "web-role"], keys
    ok(s.request("DELETE", f"{m.path}/role/legacy", token=s.root), 204)
    assert_error(m.read_role("legacy"), 404)
    keys = ok(s.request("LIST", f"{m.path}/role", token=s.root))["data"]["keys"]
    assert sorted(keys) == ["plain", "web-role"], keys


def test_concurrent_updates_of_one_role_keep_both_fields(s):
    """Role writes read, change and store the role under one lock: two writers changing
    different fields of one role at once both leave their last value."""
    import concurrent.futures
    m = Mount(s)
    m.configure(kubernetes_host="https://127.0.0.1:6443", disable_local_ca_jwt=True)
    m.role("busy", bound_service_account_names=["app"],
           bound_service_account_namespaces=["default"], audience="coffer")

    def ttls():
        for i in range(80):
            written(m.write_role("busy", token_ttl=100 + i))

    def names():
        for i in range(80):
            written(m.write_role("busy", bound_service_account_names=[f"app-{i}"]))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for f in [pool.submit(ttls), pool.submit(names)]:
            f.result()
    # Without the lock one writer's last update can be stored over by the other's stale copy.
    d = ok(m.read_role("busy"))["data"]
    assert d["token_ttl"] == 179 and d["bound_service_account_names"] == ["app-79"], d


def test_role_validation(s):
    m = Mount(s)
    m.configure(kubernetes_host="https://127.0.0.1:6443", disable_local_ca_jwt=True)
    good = {"bound_service_account_names": ["app"],
            "bound_service_account_namespaces": ["default"]}
    for bad in ({"bound_service_account_names": []},
                {"bound_service_account_names": ""},
                {"bound_service_account_names": DROP},
                {"bound_service_account_namespaces": []},
                {"bound_service_account_namespaces": DROP},
                {"bound_service_account_names": ["*", "app"]},
                {"bound_service_account_namespaces": "default,*"},
                {"bound_service_account_names": "*", "bound_service_account_namespaces": ["*"]},
                {"alias_name_source": "pod_name"}):
        body = {**good, **bad}
        body = {k: v for k, v in body.items() if v is not DROP}
        assert_error(m.write_role("bad", **body), 400)
    assert_error(m.read_role("bad"), 404)
    written(m.write_role("ok", **good, alias_name_source="serviceaccount_uid"))


# --- login: local checks (disable_token_review with pem_keys) ------------------------------------

def test_login_requires_role_and_jwt(s, local, keys):
    jwt = projected_token(keys["rsa"], "RS256")
    s.tokens_seen.append(jwt)
    assert_error(s.post(f"{local.path}/login", json={"jwt": jwt}), 400, contains("missing role"))
    assert_error(s.post(f"{local.path}/login", json={"role": "app"}), 400,
                 contains("missing jwt"))
    assert_error(local.login("nosuch", jwt), 400, contains('invalid role name "nosuch"'))


@pytest.mark.parametrize("kind,alg", [("rsa", "RS256"), ("ec", "ES256")])
def test_login_gives_a_token_with_the_roles_policy(s, local, keys, kind, alg):
    jwt = projected_token(keys[kind], alg)
    auth = local.login_ok("app", jwt)
    assert auth["accessor"] and auth["renewable"] is True, auth
    assert "default" in auth["policies"] and "k8s-app-read" in auth["policies"], auth
    assert "k8s-app-read" in auth["token_policies"], auth
    assert auth["lease_duration"] == 3600, auth
    meta = auth["metadata"]
    assert meta["role"] == "app", meta
    assert meta["service_account_name"] == "app", meta
    assert meta["service_account_namespace"] == "default", meta
    assert meta["service_account_uid"] == sa_uid("default", "app"), meta
    assert "service_account_secret_name" in meta, meta
    token = auth["client_token"]
    d = ok(lookup_self(s, token))["data"]
    assert d["path"] == f"{local.path}/login", d
    # It reads what its policy allows, and nothing outside.
    got = ok(s.get("secret/data/app/db", token=token))["data"]["data"]
    assert got == {"password": "s3cr3t-for-app"}
    assert_denied(s.get("secret/data/other/db", token=token))
    assert_denied(s.post("secret/data/app/db", token=token, json={"data": {"x": "y"}}))
    assert_not_logged(s, jwt, token)


def _expired(k):
    return projected_token(k["rsa"], "RS256", now=time.time() - 720, lifetime=600)


def _future(k):
    return projected_token(k["rsa"], "RS256", now=time.time() + 300)


def _tampered(k):
    good = projected_token(k["rsa"], "RS256")
    claims = unverified_claims(good)
    claims["kubernetes.io"]["serviceaccount"]["uid"] = sa_uid("default", "other")
    return tampered_token(good, sub="system:serviceaccount:default:app",
                          **{"kubernetes.io": claims["kubernetes.io"]}, exp=claims["exp"] + 60)


# (case, token maker, check): every case is refused by the "local" mount's role "app".
LOCAL_REFUSALS = [
    ("expired", _expired, "expired"),
    ("not-yet-valid", _future, "not yet valid"),
    ("audience", lambda k: projected_token(k["rsa"], "RS256", aud=("someone-else",)), "audience"),
    ("namespace", lambda k: projected_token(k["rsa"], "RS256", namespace="kube-system"),
     "namespace"),
    ("service-account", lambda k: projected_token(k["ec"], "ES256", sa="admin"),
     "service account"),
    ("unknown-key", lambda k: projected_token(k["stranger"], "RS256"), "signature"),
    ("unknown-key-claiming-a-known-kid",
     lambda k: projected_token(k["stranger"], "RS256", kid=k8s_kid(k["rsa"])), "signature"),
    ("alg-none", lambda k: alg_none_token(unverified_claims(projected_token(k["rsa"], "RS256"))),
     "algorithm"),
    ("hs256-public-key",
     lambda k: hs256_with_public_key(k["rsa"], unverified_claims(
         projected_token(k["rsa"], "RS256"))), "algorithm"),
    ("tampered", _tampered, "signature"),
    ("no-exp", lambda k: projected_token(k["rsa"], "RS256", drop=("exp",)), "lifetime"),
    ("lifetime-over-24h", lambda k: projected_token(k["ec"], "ES256", lifetime=25 * 3600),
     "lifetime"),
    ("legacy-without-exp", lambda k: projected_token(k["rsa"], "RS256", legacy=True),
     "lifetime"),
]


@pytest.mark.parametrize("case,make,check", LOCAL_REFUSALS, ids=[c[0] for c in LOCAL_REFUSALS])
def test_refused_logins(s, local, keys, case, make, check):
    jwt = make(keys)
    # The legacy token has no audience: its refusal is about the lifetime, so the role here
    # must not ask for one.
    role = "app"
    if case == "legacy-without-exp":
        local.role("noaud", bound_service_account_names=["app"],
                   bound_service_account_namespaces=["default"])
        role = "noaud"
    refuse(local, role, jwt, check)
    assert_not_logged(s, jwt)


def test_hs256_keyed_with_the_ec_public_key_is_refused(s, local, keys):
    claims = unverified_claims(projected_token(keys["ec"], "ES256"))
    refuse(local, "app", hs256_with_public_key(keys["ec"], claims), "algorithm")


def test_garbage_is_malformed(s, local):
    for text in garbage_tokens():
        refuse(local, "app", text, "malformed")


def test_wrong_issuer_when_issuer_validation_is_on(s, keys):
    m = Mount(s)
    m.configure(disable_token_review=True, pem_keys=[public_pem(keys["rsa"])],
                issuer="https://kubernetes.default.svc.cluster.local",
                disable_iss_validation=False)
    m.role("app", bound_service_account_names="app", bound_service_account_namespaces="default",
           audience="coffer")
    refuse(m, "app", projected_token(keys["rsa"], "RS256", iss="https://evil.example"),
           "issuer")
    m.login_ok("app", projected_token(keys["rsa"], "RS256"))
    # With validation off (the default), the issuer is not looked at.
    m.configure(disable_token_review=True, pem_keys=[public_pem(keys["rsa"])],
                issuer="https://kubernetes.default.svc.cluster.local")
    m.login_ok("app", projected_token(keys["rsa"], "RS256", iss="https://evil.example"))


def test_sixty_seconds_of_clock_skew(s, local, keys):
    local.login_ok("app", projected_token(keys["rsa"], "RS256", now=time.time() - 630,
                                          lifetime=600))  # expired 30 s ago
    local.login_ok("app", projected_token(keys["ec"], "ES256", now=time.time() + 30))


def test_max_token_lifetime(s, keys):
    m = Mount(s)
    m.configure(disable_token_review=True, pem_keys=[public_pem(keys["rsa"])],
                max_token_lifetime="1h")
    m.role("app", bound_service_account_names="app", bound_service_account_namespaces="default",
           audience="coffer")
    m.login_ok("app", projected_token(keys["rsa"], "RS256", lifetime=3000))
    refuse(m, "app", projected_token(keys["rsa"], "RS256", lifetime=7200), "lifetime")


INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def test_extreme_time_claims_are_refused_without_overflow(s, local, keys, tls, trs):
    """exp, nbf and iat at the ends of int64 (or as far apart as they go) are refused by the
    time checks, not wrapped around: before the TokenReview they are read from a token nobody
    has verified yet."""
    m = review_mount(s, trs, tls)
    good = projected_token(keys["rsa"], "RS256")
    refuse(m, "app", tampered_token(good, exp=INT64_MIN), "expired")
    refuse(m, "app", tampered_token(good, exp=INT64_MIN, iat=INT64_MIN, nbf=INT64_MIN),
           "expired")
    refuse(m, "app", tampered_token(good, nbf=INT64_MAX, iat=INT64_MAX), "not yet valid")
    # Signed, checked locally: a lifetime of exp - iat that does not fit in int64 is over
    # max_token_lifetime, not negative.
    for iat, exp in ((INT64_MIN, INT64_MAX), (-9.1e18, 9.1e18)):
        refuse(local, "app", projected_token(keys["rsa"], "RS256", iat=iat, nbf=DROP, exp=exp),
               "lifetime")
    assert not trs.requests, trs.requests


def test_globs_in_bound_names_and_namespaces(s, local, keys):
    local.role("web", bound_service_account_names=["web-*"],
               bound_service_account_namespaces=["team-*", "default"], audience="coffer")
    auth = local.login_ok("web", projected_token(keys["rsa"], "RS256", sa="web-1"))
    assert auth["metadata"]["service_account_name"] == "web-1", auth
    local.login_ok("web", projected_token(keys["rsa"], "RS256", sa="web-2", namespace="team-a"))
    refuse(local, "web", projected_token(keys["rsa"], "RS256", sa="api-1"), "service account")
    refuse(local, "web", projected_token(keys["rsa"], "RS256", sa="web-1", namespace="prod"),
           "namespace")
    # "*" in one list.
    local.role("anyns", bound_service_account_names=["app"],
               bound_service_account_namespaces=["*"], audience="coffer")
    local.login_ok("anyns", projected_token(keys["ec"], "ES256", namespace="anything"))


def test_legacy_layout_is_read(s, local, keys):
    """The Secret-token claim layout (kubernetes.io/serviceaccount/...): a real one has no exp,
    which review-less mode refuses (test_refused_logins); with an exp it is read like a projected
    token, the secret name included."""
    local.role("old", bound_service_account_names=["builder"],
               bound_service_account_namespaces=["ci"])
    jwt = projected_token(keys["rsa"], "RS256", sa="builder", namespace="ci", legacy=True,
                          exp=int(time.time()) + 600)
    auth = local.login_ok("old", jwt)
    meta = auth["metadata"]
    assert meta["service_account_name"] == "builder", meta
    assert meta["service_account_namespace"] == "ci", meta
    assert meta["service_account_uid"] == sa_uid("ci", "builder"), meta
    assert meta["service_account_secret_name"] == \
        unverified_claims(jwt)["kubernetes.io/serviceaccount/secret.name"], meta
    refuse(local, "old", projected_token(keys["rsa"], "RS256", sa="builder", namespace="prod",
                                         legacy=True, exp=int(time.time()) + 600), "namespace")


def test_the_kid_picks_the_key(s, keys):
    m = Mount(s)
    m.configure(disable_token_review=True,
                pem_keys=[public_pem(keys["rsa"]), public_pem(keys["rsa2"])])
    m.role("app", bound_service_account_names="app", bound_service_account_namespaces="default",
           audience="coffer")
    jwt = projected_token(keys["rsa2"], "RS256")
    assert k8s_kid(keys["rsa2"]) != k8s_kid(keys["rsa"])
    m.login_ok("app", jwt)
    m.login_ok("app", projected_token(keys["rsa"], "RS256"))


def test_renewal_needs_the_role(s, local, keys):
    local.role("renew", bound_service_account_names="app",
               bound_service_account_namespaces="default", audience="coffer", token_ttl="10m",
               token_max_ttl="1h")
    auth = local.login_ok("renew", projected_token(keys["rsa"], "RS256"))
    token = auth["client_token"]
    r = ok(s.post("auth/token/renew-self", token=token, json={"increment": "20m"}))
    assert r["auth"]["client_token"] == token and 0 < r["auth"]["lease_duration"] <= 3600, r
    ok(s.request("DELETE", f"{local.path}/role/renew", token=s.root), 204)
    assert_error(s.post("auth/token/renew-self", token=token, json={}), 400,
                 contains(r"role.*(does not|doesn't|no longer) exist"))


def test_a_refused_login_is_logged_without_the_token(s, keys):
    m = Mount(s)
    m.configure(disable_token_review=True, pem_keys=[public_pem(keys["rsa"])])
    m.role("audit-me-role", bound_service_account_names=["audit-me-sa"],
           bound_service_account_namespaces=["prod"], audience="coffer")
    jwt = projected_token(keys["rsa"], "RS256", sa="audit-me-sa", namespace="dev")
    refuse(m, "audit-me-role", jwt, "namespace")

    def named():
        log = s.all_stderr_bytes()
        return b"audit-me-role" in log and b"audit-me-sa" in log
    assert wait_for(named, 5), "the log does not name the role and service account of a " \
                               "refused login"
    assert_not_logged(s, jwt)


# --- login through the TokenReview API ---------------------------------------------------------

def test_review_accepts_and_is_asked_properly(s, keys, tls, trs):
    m = review_mount(s, trs, tls)
    jwt = projected_token(keys["rsa"], "RS256")
    auth = m.login_ok("app", jwt)
    assert auth["metadata"]["service_account_uid"] == sa_uid("default", "app"), auth
    reviews = [r for r in trs.requests if r.path == TokenReviewServer.PATH]
    assert len(reviews) == 1, trs.requests
    rec = reviews[0]
    assert rec.method == "POST", rec
    assert rec.headers["authorization"] == f"Bearer {REVIEWER}", rec.headers
    assert rec.headers.get("content-type", "").startswith("application/json"), rec.headers
    assert rec.json["apiVersion"] == "authentication.k8s.io/v1", rec.json
    assert rec.json["kind"] == "TokenReview", rec.json
    assert rec.json["spec"]["token"] == jwt, rec.json
    assert rec.json["spec"]["audiences"] == ["coffer"], rec.json
    # The token works.
    ok(s.get("secret/data/app/db", token=auth["client_token"]))
    assert_not_logged(s, jwt, REVIEWER, auth["client_token"])


def test_review_survives_a_slow_api_server(s, keys, tls, trs):
    m = review_mount(s, trs, tls)
    trs.set_mode("ok", delay=1.0)
    m.login_ok("app", projected_token(keys["rsa"], "RS256"))


def test_a_stalled_api_server_does_not_hold_the_server(s, keys, tls, trs):
    """Logins wait for TokenReview on the write pool; with the API server stalled, at most
    OUTBOUND_MAX_IN_FLIGHT (16) wait, the others get 429 "API server busy" at once, and other
    writes keep being served meanwhile."""
    import concurrent.futures
    m = review_mount(s, trs, tls)
    trs.set_mode("ok", delay=3.0)
    jwts = [projected_token(keys["rsa"], "RS256") for _ in range(40)]
    try:
        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            logins = [pool.submit(m.login, "app", j) for j in jwts]
            time.sleep(1.0)  # the first 16 are waiting on the API server now
            t0 = time.monotonic()
            kv2_write(s, s.root, "app/while-stalled", {"v": "1"})
            write_s = time.monotonic() - t0
            answers = [f.result() for f in logins]
    finally:
        trs.set_mode("ok", delay=0)
    assert write_s < 1.0, write_s
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) == 16 and codes.count(429) == 24, codes
    busy = next(r for r in answers if r.status_code == 429)
    assert_error(busy, 429, refused("API server busy"))


@pytest.mark.parametrize("mode,check", [
    ("unauthenticated", "review refused"),
    ("401", "review refused"),
    ("403", ""),
    ("500", ""),
    ("bad_json", ""),
    ("wrong_user", ""),
    ("wrong_uid", ""),  # Vault too checks the review's uid against the token's
])
def test_review_refusals(s, keys, tls, trs, mode, check):
    m = review_mount(s, trs, tls)
    trs.set_mode(mode)
    jwt = projected_token(keys["rsa"], "RS256")
    refuse(m, "app", jwt, check)
    assert len(trs.reviews) == 1, f"the API server was asked {len(trs.reviews)} times"
    assert_not_logged(s, jwt, REVIEWER)


def test_review_through_an_untrusted_ca_is_unreachable(s, keys, tls, trs):
    m = review_mount(s, trs, tls, kubernetes_ca_cert=tls.untrusted_ca_pem)
    refuse(m, "app", projected_token(keys["rsa"], "RS256"), "API server unreachable")
    assert trs.requests == [], "a request went over a TLS connection that should have failed"


def test_review_with_nothing_listening_is_unreachable(s, keys, tls, trs):
    m = review_mount(s, trs, tls, kubernetes_host=f"https://127.0.0.1:{free_port()}")
    refuse(m, "app", projected_token(keys["rsa"], "RS256"), "API server unreachable")


def test_without_a_reviewer_token_the_login_jwt_is_the_bearer(s, keys, tls, trs):
    m = review_mount(s, trs, tls, token_reviewer_jwt=None)
    assert ok(m.read_config())["data"]["token_reviewer_jwt_set"] is False
    jwt = projected_token(keys["ec"], "ES256")
    m.login_ok("app", jwt)
    rec = trs.requests[-1]
    assert rec.headers["authorization"] == f"Bearer {jwt}", rec.headers
    assert rec.json["spec"]["token"] == jwt, rec.json
    assert_not_logged(s, jwt)


def test_the_pods_own_files_give_bearer_and_ca_and_are_read_again_when_replaced(
        cofferd_factory, keys, tls, trs, tmp_path):
    """Without token_reviewer_jwt and kubernetes_ca_cert, cofferd uses its own service-account
    files (kubernetes_service_account_dir): the token as the TokenReview bearer, ca.crt as the API
    server's CA. The kubelet rotates the token by swapping the folder's ..data link; the next
    login sends the new token (Vault users' top complaint is a copied reviewer token that
    expired after an hour)."""
    sa = tmp_path / "serviceaccount"
    sa.mkdir()

    def kubelet_writes(token):  # the kubelet's atomic swap: a new folder, then the link
        gen = sa / f"..{time.monotonic_ns()}"
        gen.mkdir()
        (gen / "token").write_text(token + "\n")
        (gen / "ca.crt").write_text(tls.ca_pem)
        tmp = sa / "..data_tmp"
        tmp.symlink_to(gen.name)
        tmp.replace(sa / "..data")
        for name in ("token", "ca.crt"):
            if not (sa / name).is_symlink():
                (sa / name).symlink_to(f"..data/{name}")
    kubelet_writes("first-reviewer-token")
    server = cofferd_factory(config_overrides={"kubernetes_service_account_dir": str(sa)})
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    ok(server.post("sys/auth/kubernetes", token=root, json={"type": "kubernetes"}), 204)
    written(server.post("auth/kubernetes/config", token=root, json={"kubernetes_host": trs.url}))
    written(server.post("auth/kubernetes/role/app", token=root, json={
        "bound_service_account_names": "app", "bound_service_account_namespaces": "default",
        "audience": "coffer"}))

    def login():
        return ok(server.post("auth/kubernetes/login", json={
            "role": "app", "jwt": projected_token(keys["rsa"], "RS256")}))
    login()
    assert trs.requests[-1].headers["authorization"] == "Bearer first-reviewer-token"
    kubelet_writes("second-reviewer-token")
    login()
    assert trs.requests[-1].headers["authorization"] == "Bearer second-reviewer-token"
    # A config that names a reviewer token wins over the file.
    written(server.post("auth/kubernetes/config", token=root, json={
        "kubernetes_host": trs.url, "token_reviewer_jwt": REVIEWER}))
    login()
    assert trs.requests[-1].headers["authorization"] == f"Bearer {REVIEWER}"
    assert b"second-reviewer-token" not in server.all_stderr_bytes()


def test_the_audit_log_holds_no_login_jwt_and_no_issued_token(cofferd_factory, keys, tmp_path):
    """A login's request carries the JWT and its response the new token: the audit device
    records both only as HMACs, as every other secret (DESIGN.md: nothing secret in clear)."""
    log = tmp_path / "audit.log"
    server = cofferd_factory(config_overrides={"audit": [
        {"type": "file", "options": {"file_path": str(log)}}]})
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    ok(server.post("sys/auth/kubernetes", token=root, json={"type": "kubernetes"}), 204)
    written(server.post("auth/kubernetes/config", token=root, json={
        "disable_token_review": True, "pem_keys": [public_pem(keys["rsa"])]}))
    written(server.post("auth/kubernetes/role/app", token=root, json={
        "bound_service_account_names": "app", "bound_service_account_namespaces": "default",
        "audience": "coffer"}))
    jwt = projected_token(keys["rsa"], "RS256")
    auth = ok(server.post("auth/kubernetes/login", json={"role": "app", "jwt": jwt}))["auth"]
    refused_jwt = projected_token(keys["stranger"], "RS256")
    assert server.post("auth/kubernetes/login",
                       json={"role": "app", "jwt": refused_jwt}).status_code == 403
    text = log.read_text()
    assert "auth/kubernetes/login" in text
    for secret in (jwt, split_token(jwt)[2], refused_jwt, split_token(refused_jwt)[2],
                   auth["client_token"]):
        assert secret not in text, secret[:40]


def test_concurrent_logins_through_review_and_locally(s, local, keys, tls, trs):
    """Logins from many threads at once (the TokenReview connection is shared and reused): each
    gets its own token, none is refused."""
    import concurrent.futures
    m = review_mount(s, trs, tls)
    jwts = [projected_token(keys["rsa"], "RS256") for _ in range(48)]

    def one(i):
        mount = m if i % 2 == 0 else local
        return mount.login_ok("app", jwts[i])["accessor"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one, range(len(jwts))))
    assert len(set(got)) == len(jwts)
    assert len(trs.reviews) == len(jwts) // 2


def test_review_and_pem_keys_both_apply(s, keys, tls, trs):
    m = review_mount(s, trs, tls, pem_keys=[public_pem(keys["rsa"])])
    m.login_ok("app", projected_token(keys["rsa"], "RS256"))
    # A token the API server would vouch for but not signed by a known key: refused.
    refuse(m, "app", projected_token(keys["stranger"], "RS256"), "signature")


def test_legacy_token_through_review(s, keys, tls, trs):
    m = review_mount(s, trs, tls)
    m.role("old", bound_service_account_names="builder", bound_service_account_namespaces="ci")
    jwt = projected_token(keys["rsa"], "RS256", sa="builder", namespace="ci", legacy=True)
    auth = m.login_ok("old", jwt)
    meta = auth["metadata"]
    assert meta["service_account_name"] == "builder", meta
    assert meta["service_account_namespace"] == "ci", meta
    assert meta["service_account_secret_name"] == \
        unverified_claims(jwt)["kubernetes.io/serviceaccount/secret.name"], meta
    assert trs.reviews[-1]["spec"]["token"] == jwt
    # The role's bindings still apply after the review.
    refuse(m, "old", projected_token(keys["rsa"], "RS256", sa="builder", namespace="dev",
                                     legacy=True), "namespace")


# --- hvac --------------------------------------------------------------------------------------

def test_hvac_kubernetes_client(s, keys, tls, trs):
    import hvac
    client = hvac_client(s, s.root)
    mount = "kubernetes"
    cert = self_signed_cert_pem(keys["rsa"])  # hvac wants pem_keys as certificates
    r = client.auth.kubernetes.configure(kubernetes_host=trs.url, kubernetes_ca_cert=tls.ca_pem,
                                         token_reviewer_jwt=REVIEWER, pem_keys=[cert],
                                         mount_point=mount)
    hvac_written(r)
    cfg = client.auth.kubernetes.read_config(mount_point=mount)
    assert cfg["kubernetes_host"] == trs.url and cfg["token_reviewer_jwt_set"] is True, cfg
    r = client.auth.kubernetes.create_role("hvac-role", bound_service_account_names=["app"],
                                           bound_service_account_namespaces=["default"],
                                           policies=["k8s-app-read"], ttl="30m",
                                           mount_point=mount)
    hvac_written(r)
    role = client.auth.kubernetes.read_role("hvac-role", mount_point=mount)
    assert role["bound_service_account_names"] == ["app"], role
    assert role["token_ttl"] == 1800 and "k8s-app-read" in role["token_policies"], role
    assert "hvac-role" in client.auth.kubernetes.list_roles(mount_point=mount)["keys"]

    jwt = projected_token(keys["rsa"], "RS256")
    s.tokens_seen.append(jwt)
    login = hvac_client(s)
    body = login.auth.kubernetes.login("hvac-role", jwt, mount_point=mount)
    auth = body["auth"]
    assert TOKEN_RE.match(auth["client_token"]) and auth["lease_duration"] == 1800, auth
    assert login.token == auth["client_token"]  # use_token=True
    assert login.secrets.kv.v2.read_secret_version(path="app/db", mount_point="secret")[
        "data"]["data"] == {"password": "s3cr3t-for-app"}
    assert trs.reviews[-1]["spec"]["token"] == jwt
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac_client(s).auth.kubernetes.login("hvac-role",
                                             projected_token(keys["rsa"], "RS256", sa="nope"),
                                             mount_point=mount)
    r = client.auth.kubernetes.delete_role("hvac-role", mount_point=mount)
    assert r.status_code == 204, r
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.auth.kubernetes.read_role("hvac-role", mount_point=mount)


def test_the_log_never_held_a_login_token(s):
    """Last: no JWT that any test above sent, and not the reviewer token, is in the log."""
    assert_not_logged(s, REVIEWER, *s.tokens_seen)
