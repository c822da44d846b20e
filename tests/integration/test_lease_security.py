# SPDX-License-Identifier: Apache-2.0
"""Token leases on sys/leases (issue #12, finding 3). The default policy grants sys/leases/renew,
sys/leases/lookup and sys/renew (for the leases of secrets), and a token's lease id used to be
"<path>/<accessor>", with accessors public: any token stretched any other token's TTL. Now those
routes (and sys/leases/revoke, sys/revoke and the legacy forms with the id in the path) act on a
token's lease only for the token itself or a caller with sudo on the path, and refuse everyone
else with 403 whether or not the lease exists; and a lease id is the path and 32 random letters
and digits stored with the token, not its accessor."""
import os
import re
import secrets
import string

import pytest

from conftest import (assert_denied, cofferd_path, create_token, lookup_self, ok, put_policy,
                      sqlite_only)

LEASE_RE = re.compile(r"^auth/token/create/[A-Za-z0-9]{32}$")

# Everything a lease route needs, without sudo: what a non-root operator might be given.
LEASE_USER = "".join(f'path "{p}" {{\n  capabilities = ["update"]\n}}\n' for p in (
    "sys/leases/lookup", "sys/leases/renew", "sys/leases/revoke", "sys/renew", "sys/renew/*",
    "sys/revoke", "sys/revoke/*", "sys/leases/renew/*", "sys/leases/revoke/*"))
LEASE_SUDO = "".join(f'path "{p}" {{\n  capabilities = ["update", "sudo"]\n}}\n' for p in (
    "sys/leases/lookup", "sys/leases/renew", "sys/leases/revoke", "sys/renew", "sys/renew/*",
    "sys/revoke", "sys/revoke/*"))


def refusal(op):
    return {"errors": [f"permission denied: {op} of a token's lease is allowed here only to that "
                       f"token or a caller with sudo on this path; use auth/token/{op}-self or "
                       f"auth/token/{op}"]}


def assert_refused(resp, op):
    assert resp.status_code == 403, resp.text
    assert resp.json() == refusal(op), resp.text


@pytest.fixture(scope="module")
def s(module_dev):
    put_policy(module_dev, module_dev.root, "lease-user", LEASE_USER)
    put_policy(module_dev, module_dev.root, "lease-sudo", LEASE_SUDO)
    return module_dev


def new_token(s, **body):
    body.setdefault("policies", ["default"])
    return create_token(s, s.root, **body)["auth"]


def lease_of(s, token):
    """A token learns its lease id from lookup-self (a Coffer field; Vault has none). Before the
    fix there was no such field and the id was "<path>/<accessor>": the fallback lets these tests
    show that the attack worked then (test_lease_id_is_not_derived_from_the_accessor requires the
    field)."""
    d = ok(lookup_self(s, token))["data"]
    return d.get("lease_id") or f"{d['path']}/{d['accessor']}"


def ttl_of(s, token):
    return ok(lookup_self(s, token))["data"]["ttl"]


def forms(lease_id):
    """The ways a lease id reaches the renew, lookup and revoke handlers: (op, method, path,
    body)."""
    return [
        ("renew", "PUT", "sys/leases/renew", {"lease_id": lease_id, "increment": "9h"}),
        ("renew", "POST", "sys/leases/renew", {"lease_id": lease_id, "increment": 32400}),
        ("renew", "PUT", "sys/renew", {"lease_id": lease_id, "increment": "9h"}),
        ("renew", "PUT", f"sys/renew/{lease_id}", {"increment": "9h"}),
        ("renew", "PUT", f"sys/leases/renew/{lease_id}", {"increment": "9h"}),
        ("lookup", "PUT", "sys/leases/lookup", {"lease_id": lease_id}),
        ("revoke", "PUT", "sys/leases/revoke", {"lease_id": lease_id}),
        ("revoke", "PUT", "sys/revoke", {"lease_id": lease_id}),
        ("revoke", "PUT", f"sys/revoke/{lease_id}", None),
        ("revoke", "PUT", f"sys/leases/revoke/{lease_id}", None),
    ]


def test_default_token_cannot_stretch_another_tokens_lease(s):
    """The exploit as reported: a default-only token renews a victim's 60 s token for 9 h through
    sys/leases/renew and sys/renew, and looks its lease up. Even knowing the real lease id (and
    with the accessor form of old), it is refused and the victim's TTL is unchanged."""
    victim = new_token(s, ttl="60s")
    attacker = new_token(s)["client_token"]
    real = lease_of(s, victim["client_token"])
    for lease_id in (real, f"auth/token/create/{victim['accessor']}"):
        for body in ({"lease_id": lease_id, "increment": "9h"},
                     {"lease_id": lease_id, "increment": 32400}):
            assert_refused(s.put("sys/leases/renew", token=attacker, json=body), "renew")
            assert_refused(s.post("sys/leases/renew", token=attacker, json=body), "renew")
            assert_refused(s.put("sys/renew", token=attacker, json=body), "renew")
        assert_refused(s.put("sys/leases/lookup", token=attacker, json={"lease_id": lease_id}),
                       "lookup")
        # The default policy does not grant revoke at all: the ACL refuses it.
        assert_denied(s.put("sys/leases/revoke", token=attacker, json={"lease_id": lease_id}))
        assert_denied(s.put("sys/revoke", token=attacker, json={"lease_id": lease_id}))
    assert ttl_of(s, victim["client_token"]) <= 60
    d = ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": real}))["data"]
    assert d["ttl"] <= 60 and d["last_renewal"] in (None, ""), d


def test_update_without_sudo_cannot_act_on_another_tokens_lease(s):
    """A token granted update (not sudo) on every lease route, and so past the ACL on each form,
    legacy and path ones included: renew, lookup and revoke of another token's lease are
    refused; the victim keeps its TTL and stays alive."""
    victim = new_token(s, ttl="60s")
    user = new_token(s, policies=["lease-user"])["client_token"]
    real = lease_of(s, victim["client_token"])
    for op, method, path, body in forms(real):
        assert_refused(s.request(method, path, token=user, json=body), op)
    assert ttl_of(s, victim["client_token"]) <= 60
    # The same answer for a lease that does not exist: no oracle.
    unknown = "auth/token/create/" + "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    for op, method, path, body in forms(unknown):
        assert_refused(s.request(method, path, token=user, json=body), op)


def test_token_manages_its_own_lease(s):
    """The token itself may look up, renew and revoke its own lease on these routes."""
    t = new_token(s, ttl="60s")
    tok = t["client_token"]
    lease_id = lease_of(s, tok)
    d = ok(s.put("sys/leases/lookup", token=tok, json={"lease_id": lease_id}))["data"]
    assert d["id"] == lease_id and d["ttl"] <= 60, d
    r = ok(s.put("sys/leases/renew", token=tok, json={"lease_id": lease_id, "increment": "2m"}))
    assert r["lease_id"] == lease_id and r["lease_duration"] == 120, r
    assert 115 <= ttl_of(s, tok) <= 120
    r = ok(s.put("sys/renew", token=tok, json={"lease_id": lease_id, "increment": 180}))
    assert r["lease_duration"] == 180, r
    # The legacy path form needs its own grant (the default policy has sys/renew only).
    u = new_token(s, policies=["lease-user"], ttl="60s")["client_token"]
    own = lease_of(s, u)
    assert ok(s.put(f"sys/renew/{own}", token=u, json={"increment": 240}))["lease_duration"] == 240
    ok(s.put(f"sys/revoke/{own}", token=u), 204)
    assert_denied(lookup_self(s, u))
    # Another token's lease with one's own path part is still another token's.
    assert_refused(s.put("sys/leases/renew", token=tok, json={"lease_id": own[:-1] + "x"}),
                   "renew")


def test_root_and_sudo_manage_any_token_lease(s):
    victim = new_token(s, ttl="60s")
    lease_id = lease_of(s, victim["client_token"])
    r = ok(s.put("sys/leases/renew", token=s.root, json={"lease_id": lease_id, "increment": 600}))
    assert r["lease_duration"] == 600, r
    assert 595 <= ttl_of(s, victim["client_token"]) <= 600
    sudo = new_token(s, policies=["lease-sudo"])["client_token"]
    r = ok(s.put("sys/renew", token=sudo, json={"lease_id": lease_id, "increment": 900}))
    assert r["lease_duration"] == 900, r
    d = ok(s.put("sys/leases/lookup", token=sudo, json={"lease_id": lease_id}))["data"]
    assert d["id"] == lease_id and 895 <= d["ttl"] <= 900, d
    ok(s.put("sys/leases/revoke", token=sudo, json={"lease_id": lease_id}), 204)
    assert_denied(lookup_self(s, victim["client_token"]))
    # Root: lookup and revoke, also through the legacy path form.
    other = new_token(s, ttl="60s")
    oid = lease_of(s, other["client_token"])
    assert ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": oid}))["data"]["id"] == oid
    ok(s.put(f"sys/revoke/{oid}", token=s.root), 204)
    assert_denied(lookup_self(s, other["client_token"]))


def test_lease_id_is_not_derived_from_the_accessor(s):
    tokens = [new_token(s, ttl="10m") for _ in range(3)]
    ids = [ok(lookup_self(s, t["client_token"]))["data"]["lease_id"] for t in tokens]
    for t, lease_id in zip(tokens, ids):
        assert LEASE_RE.match(lease_id), lease_id
        assert t["accessor"] not in lease_id, (t["accessor"], lease_id)
        # The accessor form names nothing, even for root.
        r = s.put("sys/leases/lookup", token=s.root,
                  json={"lease_id": f"auth/token/create/{t['accessor']}"})
        assert r.status_code == 400 and r.json() == {"errors": ["invalid lease"]}, r.text
        r = s.put("sys/leases/renew", token=s.root,
                  json={"lease_id": f"auth/token/create/{t['accessor']}"})
        assert r.status_code == 400 and r.json() == {"errors": ["invalid lease"]}, r.text
        # The create answer does not carry it; lookups by a privileged caller do.
        assert "lease_id" not in t
        look = ok(s.post("auth/token/lookup-accessor", token=s.root,
                         json={"accessor": t["accessor"]}))["data"]
        assert look["lease_id"] == lease_id, look
    assert len(set(ids)) == 3
    # The sudo-only list shows the random part, never the accessors.
    keys = ok(s.request("LIST", "sys/leases/lookup/auth/token/create/", token=s.root))["data"]["keys"]
    for t, lease_id in zip(tokens, ids):
        assert lease_id.rsplit("/", 1)[1] in keys and t["accessor"] not in keys, keys
    # A token that never expires has no lease to show.
    assert "lease_id" not in ok(lookup_self(s, s.root))["data"]


def test_approle_login_lease(s):
    ok(s.post("sys/auth/approle", token=s.root, json={"type": "approle"}), 204)
    ok(s.post("auth/approle/role/r", token=s.root, json={"token_policies": ["default"],
                                                         "token_ttl": "60s"}), 204)
    role_id = ok(s.get("auth/approle/role/r/role-id", token=s.root))["data"]["role_id"]
    secret_id = ok(s.post("auth/approle/role/r/secret-id", token=s.root, json={}))["data"][
        "secret_id"]
    auth = ok(s.post("auth/approle/login", json={"role_id": role_id, "secret_id": secret_id}))[
        "auth"]
    lease_id = lease_of(s, auth["client_token"])
    assert re.match(r"^auth/approle/login/[A-Za-z0-9]{32}$", lease_id), lease_id
    attacker = new_token(s)["client_token"]
    assert_refused(s.put("sys/leases/renew", token=attacker,
                         json={"lease_id": lease_id, "increment": "9h"}), "renew")
    assert ttl_of(s, auth["client_token"]) <= 60


def test_lease_id_survives_restart(cofferd_factory):
    server = cofferd_factory()
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    t = create_token(server, root, policies=["default"], ttl="1h")["auth"]
    lease_id = lease_of(server, t["client_token"])
    server.restart()
    server.unseal(init["keys"])
    assert lease_of(server, t["client_token"]) == lease_id
    d = ok(server.put("sys/leases/lookup", token=t["client_token"],
                      json={"lease_id": lease_id}))["data"]
    assert d["id"] == lease_id and 3500 < d["ttl"] <= 3600, d
    attacker = create_token(server, root, policies=["default"])["auth"]["client_token"]
    assert_refused(server.put("sys/leases/renew", token=attacker,
                              json={"lease_id": lease_id, "increment": "9h"}), "renew")
    ok(server.put("sys/leases/revoke", token=root, json={"lease_id": lease_id}), 204)
    assert_denied(lookup_self(server, t["client_token"]))


@pytest.mark.skipif(not os.environ.get("COFFERD_OLD"),
                    reason="set COFFERD_OLD to a cofferd built before lease nonces")
@sqlite_only("a cofferd from before lease nonces has no PostgreSQL storage")
def test_tokens_from_an_older_version_get_a_lease_id(cofferd_factory, monkeypatch):
    """Upgrade: tokens stored by a cofferd without lease nonces (COFFERD_OLD) keep working after
    the new one unseals their store; each gets a random lease id, and the accessor form of old
    names nothing."""
    new = os.environ.get("COFFERD") or str(cofferd_path())
    monkeypatch.setenv("COFFERD", os.environ["COFFERD_OLD"])
    server = cofferd_factory()
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    victim = create_token(server, root, policies=["default"], ttl="60s")["auth"]
    assert "lease_id" not in ok(lookup_self(server, victim["client_token"]))["data"]
    server.stop()
    monkeypatch.setenv("COFFERD", new)
    server.start()
    server.unseal(init["keys"])
    d = ok(lookup_self(server, victim["client_token"]))["data"]
    assert LEASE_RE.match(d["lease_id"]) and victim["accessor"] not in d["lease_id"], d
    old_form = f"auth/token/create/{victim['accessor']}"
    attacker = create_token(server, root, policies=["default"])["auth"]["client_token"]
    for lease_id in (d["lease_id"], old_form):
        assert_refused(server.put("sys/leases/renew", token=attacker,
                                  json={"lease_id": lease_id, "increment": "9h"}), "renew")
    r = server.put("sys/leases/lookup", token=root, json={"lease_id": old_form})
    assert r.status_code == 400 and r.json() == {"errors": ["invalid lease"]}, r.text
    r = ok(server.put("sys/leases/renew", token=victim["client_token"],
                      json={"lease_id": d["lease_id"], "increment": 120}))
    assert r["lease_duration"] == 120, r
    # Kept across the next restart.
    server.restart()
    server.unseal(init["keys"])
    assert ok(lookup_self(server, victim["client_token"]))["data"]["lease_id"] == d["lease_id"]
