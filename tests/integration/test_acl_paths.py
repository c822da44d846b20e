# SPDX-License-Identifier: Apache-2.0
"""One canonical request path (issue 12, findings 1, 2, 7 and 8; DESIGN.md §10.9): the ACL, the
router, the audit line and the handler all see the same path. A trailing '/' is kept only for a
LIST, `%2F` is a '/', policy names are lowercased before the ACL check, and `%00`, `//`, `.` and `..`
are refused with 400. Every exploit of the issue is refused and changes nothing; a seeded property
test sends random spellings of every route family's paths and checks each one is refused or gets
exactly the ACL decision of its canonical path. Also: sys/seal and requests refused while parsing
are audited.

Requests go through http.client with the path exactly as written, so that no client library
normalizes it."""
import http.client
import json
import random
import re
import time

import pytest

from conftest import assert_error, create_token, kv2_read, kv2_write, ok, put_policy

from test_audit import audit_config, read_lines, start_unsealed

# The limited token's policy: for every route family, a broad grant and a deny on one name.
LIMITED_POLICY = """
path "secret/data/*"            { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/data/app/db"       { capabilities = ["deny"] }
path "secret/data/+/pw"         { capabilities = ["deny"] }
path "secret/metadata/*"        { capabilities = ["create", "read", "update", "delete", "list"] }
path "secret/metadata/app/db"   { capabilities = ["deny"] }
path "secret/delete/*"          { capabilities = ["create", "update"] }
path "secret/delete/app/db"     { capabilities = ["deny"] }
path "secret/undelete/*"        { capabilities = ["create", "update"] }
path "secret/undelete/app/db"   { capabilities = ["deny"] }
path "secret/destroy/*"         { capabilities = ["create", "update"] }
path "secret/destroy/app/db"    { capabilities = ["deny"] }
path "kv1/*"                    { capabilities = ["create", "read", "update", "delete", "list"] }
path "kv1/prod/db"              { capabilities = ["deny"] }
path "sys/policy/*"             { capabilities = ["create", "read", "update", "delete"] }
path "sys/policy/admin"         { capabilities = ["deny"] }
path "sys/policies/acl/*"       { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/policies/acl/admin"   { capabilities = ["deny"] }
path "auth/token/roles/*"       { capabilities = ["create", "read", "update", "delete"] }
path "auth/token/roles/locked"  { capabilities = ["deny"] }
path "auth/token/create/*"      { capabilities = ["create", "update"] }
path "auth/token/create/locked" { capabilities = ["deny"] }
path "auth/approle/role/*"      { capabilities = ["create", "read", "update", "delete", "list"] }
path "auth/approle/role/locked" { capabilities = ["deny"] }
path "auth/approle/role/locked/*" { capabilities = ["deny"] }
path "sys/mounts/scratch"       { capabilities = ["create", "read", "update", "delete"] }
path "sys/mounts/kv1"           { capabilities = ["deny"] }
path "sys/mounts/kv1/*"         { capabilities = ["deny"] }
path "sys/auth/scratchauth"     { capabilities = ["create", "read", "update", "delete", "sudo"] }
path "sys/auth/approle"         { capabilities = ["deny"] }
path "sys/leases/lookup/*"      { capabilities = ["list", "sudo"] }
path "sys/leases/lookup/auth/*" { capabilities = ["deny"] }
path "sys/leases/revoke/secret/*" { capabilities = ["update"] }
path "sys/audit-hash/*"         { capabilities = ["update"] }
path "sys/audit-hash/file"      { capabilities = ["deny"] }
"""

ADMIN_POLICY = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'
KV_BODY = {"data": {"password": "overwritten"}}
POLICY_BODY = {"policy": ADMIN_POLICY}

# (method, canonical path, body, folded segment index or None). LIST cases name folders.
CASES = [
    ("GET", "secret/data/app/db", None, None),
    ("POST", "secret/data/app/db", KV_BODY, None),
    ("DELETE", "secret/data/app/db", None, None),
    ("GET", "secret/data/app/web", None, None),
    ("POST", "secret/data/app/web", {"data": {"k": "v"}}, None),
    ("GET", "secret/data/team/pw", None, None),
    ("PUT", "secret/data/team/pw", KV_BODY, None),
    ("GET", "secret/data/team/other", None, None),
    ("GET", "secret/metadata/app/db", None, None),
    ("DELETE", "secret/metadata/app/db", None, None),
    ("GET", "secret/metadata/app/web", None, None),
    ("LIST", "secret/metadata/app/", None, None),
    ("POST", "secret/delete/app/db", {"versions": [1]}, None),
    ("POST", "secret/delete/app/web", {"versions": [99]}, None),
    ("POST", "secret/undelete/app/db", {"versions": [1]}, None),
    ("POST", "secret/undelete/app/web", {"versions": [99]}, None),
    ("POST", "secret/destroy/app/db", {"versions": [1]}, None),
    ("POST", "secret/destroy/app/web", {"versions": [99]}, None),
    ("GET", "kv1/prod/db", None, None),
    ("PUT", "kv1/prod/db", {"password": "overwritten"}, None),
    ("DELETE", "kv1/prod/db", None, None),
    ("GET", "kv1/prod/web", None, None),
    ("PUT", "kv1/prod/web", {"k": "v"}, None),
    ("LIST", "kv1/prod/", None, None),
    ("GET", "sys/policy/admin", None, 2),
    ("PUT", "sys/policy/admin", POLICY_BODY, 2),
    ("DELETE", "sys/policy/admin", None, 2),
    ("GET", "sys/policy/open", None, 2),
    ("PUT", "sys/policy/open", {"policy": 'path "x/*" { capabilities = ["read"] }'}, 2),
    ("GET", "sys/policies/acl/admin", None, 3),
    ("PUT", "sys/policies/acl/admin", POLICY_BODY, 3),
    ("DELETE", "sys/policies/acl/admin", None, 3),
    ("PUT", "sys/policies/acl/open2", {"policy": 'path "y/*" { capabilities = ["read"] }'}, 3),
    ("GET", "sys/policies/acl/open2", None, 3),
    ("GET", "auth/token/roles/locked", None, None),
    ("POST", "auth/token/roles/locked", {"allowed_policies": ["admin"]}, None),
    ("GET", "auth/token/roles/open", None, None),
    ("POST", "auth/token/roles/open", {"allowed_policies": ["open"]}, None),
    ("POST", "auth/token/create/locked", {"policies": ["admin"]}, None),
    ("GET", "auth/approle/role/locked", None, None),
    ("POST", "auth/approle/role/locked", {"token_policies": ["admin"]}, None),
    ("GET", "auth/approle/role/locked/role-id", None, None),
    ("POST", "auth/approle/role/locked/secret-id", {}, None),
    ("GET", "auth/approle/role/open", None, None),
    ("POST", "auth/approle/role/open", {"token_policies": ["open"]}, None),
    ("GET", "sys/mounts/kv1", None, None),
    ("DELETE", "sys/mounts/kv1", None, None),
    ("POST", "sys/mounts/kv1/tune", {"max_lease_ttl": "1h"}, None),
    ("GET", "sys/mounts/scratch", None, None),
    ("POST", "sys/auth/approle/tune", {"max_lease_ttl": "1h"}, None),
    ("DELETE", "sys/auth/approle", None, None),
    ("GET", "sys/auth/scratchauth", None, None),
    ("LIST", "sys/leases/lookup/auth/token/create/", None, None),
    ("LIST", "sys/leases/lookup/secret/", None, None),
    ("PUT", "sys/leases/revoke/auth/token/create/x", {}, None),
    ("PUT", "sys/leases/revoke/secret/x", {}, None),
    ("PUT", "sys/audit-hash/file", {"input": "x"}, None),
    ("PUT", "sys/audit-hash/other", {"input": "x"}, None),
    ("GET", "sys/audit", None, None),
    ("PUT", "sys/audit/other", {"type": "file", "options": {"file_path": "/tmp/x"}}, None),
]

DENIED_STATUS = 403
SEED = 20261203
N_SPELLINGS = 400
TIME_BUDGET_S = 120


# --- raw requests ---------------------------------------------------------------------------------

def raw(server, method, path, token=None, body=None, query=""):
    """Send METHOD /v1/<path><query> exactly as written; returns (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {}
    if token is not None:
        headers["X-Vault-Token"] = token
    data = None
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, "/v1/" + path + query, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def refused(status):
    return 400 <= status < 500


def assert_raw_error(status, text, want=DENIED_STATUS, message="permission denied"):
    """A raw answer: the status want and exactly {"errors": [message]} (a str), or one error that
    message (a re.Pattern) matches in full."""
    assert status == want, f"want {want}, got {status}: {text[:300]!r}"
    errors = json.loads(text)["errors"]
    if isinstance(message, re.Pattern):
        assert len(errors) == 1 and message.fullmatch(errors[0]), errors
    else:
        assert errors == [message], errors


# --- the server under attack ------------------------------------------------------------------------

SENTINEL_SECRET = {"password": "orig-db"}


@pytest.fixture(scope="module")
def world(module_cofferd_factory):
    """A server with: secret/ (KV v2) app/db, app/web and team/pw; kv1/ (KV v1) prod/db; the
    policies admin and limited; token role and AppRole role "locked"; and a token with only
    "limited". Returns (server, root, limited token)."""
    server = module_cofferd_factory()
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    kv2_write(server, root, "app/db", SENTINEL_SECRET)
    kv2_write(server, root, "app/web", {"k": "v"})
    kv2_write(server, root, "team/pw", {"pw": "orig-pw"})
    ok(server.post("sys/mounts/kv1", token=root, json={"type": "kv", "options": {"version": "1"}}),
       204)
    ok(server.put("kv1/prod/db", token=root, json={"password": "orig-kv1"}), 204)
    ok(server.post("sys/auth/approle", token=root, json={"type": "approle"}), 204)
    ok(server.post("auth/approle/role/locked", token=root, json={"token_policies": ["default"]}),
       204)
    ok(server.post("auth/token/roles/locked", token=root, json={"allowed_policies": ["default"]}),
       204)
    put_policy(server, root, "admin", 'path "secret/*" { capabilities = ["read"] }')
    put_policy(server, root, "limited", LIMITED_POLICY)
    limited = create_token(server, root, policies=["limited"])["auth"]["client_token"]
    return server, root, limited


def snapshot(server, root):
    """What the exploits must not change."""
    out = {
        "app/db": kv2_read(server, root, "app/db")["data"],
        "app/db versions": ok(server.get("secret/metadata/app/db", token=root))["data"][
            "current_version"],
        "team/pw": kv2_read(server, root, "team/pw")["data"],
        "kv1": ok(server.get("kv1/prod/db", token=root))["data"],
        "admin": ok(server.get("sys/policy/admin", token=root))["rules"],
        "role": ok(server.get("auth/token/roles/locked", token=root))["data"]["allowed_policies"],
        "approle": ok(server.get("auth/approle/role/locked", token=root))["data"][
            "token_policies"],
        "mounts": sorted(ok(server.get("sys/mounts", token=root))["data"].keys()),
        "auth": sorted(ok(server.get("sys/auth", token=root))["data"].keys()),
        "audit": ok(server.get("sys/audit", token=root))["data"],
    }
    assert out["app/db"] == SENTINEL_SECRET
    return out


# --- finding 1: trailing slash, %2F ------------------------------------------------------------------

TRAILING = ["/", "%2F", "%2f"]


@pytest.mark.parametrize("suffix", TRAILING)
def test_trailing_slash_does_not_pass_a_deny(world, suffix):
    server, root, limited = world
    before = snapshot(server, root)
    status, text = raw(server, "GET", "secret/data/app/db" + suffix, token=limited)
    assert_raw_error(status, text)
    assert b"orig-db" not in text
    status, text = raw(server, "GET", "secret/data/app%2Fdb" + suffix, token=limited)
    assert_raw_error(status, text)
    for method in ("POST", "PUT"):
        status, text = raw(server, method, "secret/data/app/db" + suffix, limited, KV_BODY)
        assert_raw_error(status, text)
    status, text = raw(server, "DELETE", "secret/metadata/app/db" + suffix, token=limited)
    assert_raw_error(status, text)
    status, text = raw(server, "DELETE", "secret/data/app/db" + suffix, token=limited)
    assert_raw_error(status, text)
    # A "+" rule (secret/data/+/pw) and KV v1.
    status, text = raw(server, "GET", "secret/data/team/pw" + suffix, token=limited)
    assert_raw_error(status, text)
    assert b"orig-pw" not in text, text
    status, text = raw(server, "POST", "secret/data/team/pw" + suffix, limited, KV_BODY)
    assert_raw_error(status, text)
    status, text = raw(server, "GET", "kv1/prod/db" + suffix, token=limited)
    assert_raw_error(status, text)
    assert b"orig-kv1" not in text, text
    status, text = raw(server, "PUT", "kv1/prod/db" + suffix, limited, {"password": "x"})
    assert_raw_error(status, text)
    status, text = raw(server, "DELETE", "kv1/prod/db" + suffix, token=limited)
    assert_raw_error(status, text)
    # sys/policy/* granted, sys/policy/admin denied: no rewrite of admin.
    status, text = raw(server, "PUT", "sys/policy/admin" + suffix, limited, POLICY_BODY)
    assert_raw_error(status, text)
    status, text = raw(server, "PUT", "sys/policies/acl/admin" + suffix, limited, POLICY_BODY)
    assert_raw_error(status, text)
    assert snapshot(server, root) == before


def test_trailing_slash_is_the_same_entry_for_allowed_requests(world):
    """The canonical path is what the handler serves too: app/web/ reads app/web."""
    server, _root, limited = world
    status, text = raw(server, "GET", "secret/data/app/web/", token=limited)
    assert status == 200, text
    assert json.loads(text)["data"]["data"] == {"k": "v"}
    # A LIST keeps its folder, with or without the '/'.
    for path in ("secret/metadata/app", "secret/metadata/app/", "secret/metadata/app%2F"):
        status, text = raw(server, "LIST", path, token=limited)
        assert status == 200, (path, text)
        assert sorted(json.loads(text)["data"]["keys"]) == ["db", "web"]


# --- finding 2: policy-name case ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["sys/policy/ADMIN", "sys/policy/Admin", "sys/policies/acl/Admin",
                                  "sys/policies/acl/ADMIN/", "sys/policy/aDmIn%2F"])
def test_policy_name_case_does_not_pass_a_deny(world, path):
    server, root, limited = world
    before = snapshot(server, root)
    for method, body in (("PUT", POLICY_BODY), ("POST", POLICY_BODY), ("DELETE", None),
                         ("GET", None)):
        status, text = raw(server, method, path, limited, body)
        assert_raw_error(status, text)
    assert snapshot(server, root) == before


def test_policy_name_case_is_folded_for_allowed_requests(world):
    server, root, limited = world
    status, text = raw(server, "PUT", "sys/policy/MixedCase", limited,
                       {"policy": 'path "z/*" { capabilities = ["read"] }'})
    assert status == 204, text
    assert ok(server.get("sys/policy/mixedcase", token=root))["name"] == "mixedcase"
    status, text = raw(server, "DELETE", "sys/policies/acl/MIXEDCASE", limited)
    assert status == 204, text
    assert_error(server.get("sys/policy/mixedcase", token=root), 404, [])


# --- finding 8: %00 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,stored", [("secret/data/a%00b", "secret/data/a"),
                                         ("sys/policies/acl/p%00q", "sys/policies/acl/p"),
                                         ("secret/data/a%00", "secret/data/a"),
                                         ("secret/data/a%00/b", "secret/data/a")])
def test_nul_in_a_path_is_400_and_writes_nothing(world, path, stored):
    server, root, _limited = world
    body = POLICY_BODY if path.startswith("sys/") else KV_BODY
    for method in ("PUT", "POST", "GET", "DELETE"):
        status, text = raw(server, method, path, root, body if method in ("PUT", "POST") else None)
        assert status == 400, (method, text)
        assert json.loads(text) == {"errors": ["invalid request path"]}
    assert_error(server.get(stored, token=root), 404, [])


def test_nul_in_the_list_argument_is_400(world):
    server, root, _limited = world
    status, text = raw(server, "GET", "secret/metadata/app", root, query="?list=true%00")
    # The %00 is unescaped to DEL (0x7f, path_unescape), which the message echoes as it is.
    assert_raw_error(status, text, 400, "invalid value for list: true\x7f")


# --- the property: random spellings get the canonical path's decision ---------------------------------

def spell(rng, method, path, fold_seg):
    """A random spelling of path, and whether it must be refused with 400 (an invalid spelling)."""
    segs = path.rstrip("/").split("/")
    is_folder = path.endswith("/")
    if fold_seg is not None and rng.random() < 0.6:
        name = segs[fold_seg]
        segs[fold_seg] = "".join(ch.upper() if rng.random() < 0.5 else ch for ch in name)
    seps = [rng.choice(["/", "/", "%2F", "%2f"]) for _ in range(len(segs) - 1)]
    invalid = False
    roll = rng.random()
    if roll < 0.3 and seps:
        i = rng.randrange(len(seps))
        seps[i] = rng.choice(["//", "/./", "/../", "%2F%2F", "/%2E/", "%2F..%2F", "/x/../"])
        invalid = True
    out = segs[0] + "".join(sep + seg for sep, seg in zip(seps, segs[1:]))
    if is_folder:
        out += rng.choice(["/", "%2F", "%2f", ""] if method == "LIST" else ["/"])
    else:
        out += rng.choice(["", "", "/", "%2F", "%2f"])
    if 0.3 <= roll < 0.4:
        i = rng.randrange(len(out) + 1)
        # Not inside an escape ("%2" + "%00" + "F" would be two escapes, still refused).
        out = out[:i] + "%00" + out[i:]
        invalid = True
    return out, invalid


def send(rng, server, token, method, path, body):
    """Send a case; LIST goes as the LIST method or as GET ?list=true at random."""
    if method == "LIST" and rng.random() < 0.5:
        return raw(server, "GET", path, token, None, query="?list=true")
    return raw(server, method, path, token, body)


def test_random_spellings_get_the_canonical_decision(world):
    server, root, limited = world
    before = snapshot(server, root)
    rng = random.Random(SEED)
    deadline = time.monotonic() + TIME_BUDGET_S
    checked = {"same": 0, "refused": 0, "denied": 0, "allowed": 0}
    for n in range(N_SPELLINGS):
        assert time.monotonic() < deadline, f"only {n} spellings in {TIME_BUDGET_S} s"
        method, path, body, fold_seg = CASES[n % len(CASES)]
        canon_status, _ = send(rng, server, limited, method, path, body)
        spelled, invalid = spell(rng, method, path, fold_seg)
        status, text = send(rng, server, limited, method, spelled, body)
        what = f"{method} {spelled} (canonical {path}: {canon_status})"
        if invalid:
            assert status == 400, f"{what}: want 400, got {status} {text[:200]}"
            assert_raw_error(status, text, 400, "invalid request path")
            checked["refused"] += 1
        else:
            assert (status == DENIED_STATUS) == (canon_status == DENIED_STATUS), \
                f"{what}: got {status} {text[:200]}"
            if status == DENIED_STATUS:
                assert_raw_error(status, text)
            checked["same"] += 1
            checked["denied" if status == DENIED_STATUS else "allowed"] += 1
    assert checked["same"] > N_SPELLINGS // 2 and checked["refused"] > N_SPELLINGS // 10, checked
    assert min(checked["denied"], checked["allowed"]) > N_SPELLINGS // 5, checked
    # Every denied case stayed denied, and nothing it guards changed.
    assert snapshot(server, root) == before


def test_the_cases_cover_both_decisions_in_every_family(world):
    """The property test means something only if each family has an allowed and a denied case."""
    server, _root, limited = world
    families = {}
    rng = random.Random(SEED)
    for method, path, body, _fold in CASES:
        fam = "/".join(path.split("/")[:2])
        status, _ = send(rng, server, limited, method, path, body)
        families.setdefault(fam, set()).add(status == DENIED_STATUS)
    missing = {f: d for f, d in families.items() if d != {True, False} and f not in
               ("sys/audit",)}
    assert not missing, missing


# --- finding 7: audit of sys/seal and of requests refused while parsing ---------------------------------

def audit_lines(log):
    """The request and response lines of the log (not the chain's own lines, if any)."""
    parsed = [json.loads(x) for x in read_lines(log)]
    return [x for x in parsed if x.get("type") in ("request", "response")]


def lines_for(log, path):
    return [x for x in audit_lines(log) if x["request"]["path"] == path]


def test_seal_is_audited_refused_and_accepted(cofferd_factory, tmp_path):
    log = tmp_path / "audit.log"
    server, _keys, root = start_unsealed(cofferd_factory, audit_config(log))
    put_policy(server, root, "sealer", 'path "sys/seal" { capabilities = ["update"] }')
    sealer = create_token(server, root, policies=["sealer"])["auth"]["client_token"]

    status, text = raw(server, "PUT", "sys/seal", sealer)
    assert status == 403 and json.loads(text) == {"errors": ["permission denied"]}, text
    status, text = raw(server, "PUT", "sys/seal/", "cof." + "A" * 43)
    assert_raw_error(status, text)
    assert server.seal_status()["sealed"] is False
    seal_lines = lines_for(log, "sys/seal")
    assert [(x["type"], x.get("response", {}).get("status")) for x in seal_lines] == \
        [("request", None), ("response", 403), ("request", None), ("response", 403)], seal_lines
    assert seal_lines[0]["auth"]["policies"] == ["default", "sealer"], seal_lines[0]
    assert seal_lines[1]["error"] == "permission denied"
    assert seal_lines[0]["request"]["operation"] == "update"

    status, text = raw(server, "PUT", "sys/seal", root)
    assert status == 204, text
    assert server.seal_status()["sealed"] is True
    seal_lines = lines_for(log, "sys/seal")
    assert [(x["type"], x.get("response", {}).get("status")) for x in seal_lines[4:]] == \
        [("request", None), ("response", 204)], seal_lines
    assert seal_lines[4]["auth"]["policies"] == ["root"]


def test_requests_refused_while_parsing_are_audited(cofferd_factory, tmp_path):
    log = tmp_path / "audit.log"
    server, _keys, root = start_unsealed(cofferd_factory, audit_config(log))
    start = len(audit_lines(log))

    status, text = raw(server, "PUT", "secret/data/x/", root, b'{"data": {')
    assert_raw_error(status, text, 400,
                     re.compile(r"failed to parse JSON input: .+ at line 1 column 10"))
    status, text = raw(server, "GET", "sys/policy", root, query="?list=maybe")
    assert status == 400 and json.loads(text) == {"errors": ["invalid value for list: maybe"]}
    status, text = raw(server, "POST", "sys/policy/ADMIN", "cof." + "B" * 43, b"[1]")
    assert_raw_error(status, text, 400,
                     "failed to parse JSON input: the body must be a JSON object")

    parsed = audit_lines(log)[start:]
    assert [(x["type"], x.get("response", {}).get("status")) for x in parsed] == \
        [("request", None), ("response", 400)] * 3, parsed
    kv_req, _kv_resp, list_req, list_resp, pol_req, _pol_resp = parsed
    assert kv_req["request"]["mount_type"] == "kv" and kv_req["auth"]["policies"] == ["root"]
    assert kv_req["request"]["path"].startswith("hmac-sha256:"), kv_req
    assert list_req["request"]["path"] == "sys/policy"
    assert list_req["request"]["operation"] == "read"
    assert list_resp["error"] == "invalid value for list: maybe"
    # An unknown token is recorded by its HMAC, and the canonical (folded) path.
    assert pol_req["request"]["path"] == "sys/policy/admin"
    assert pol_req["auth"]["client_token"].startswith("hmac-sha256:")
    assert "policies" not in pol_req["auth"]
