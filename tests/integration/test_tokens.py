# SPDX-License-Identifier: Apache-2.0
"""Tokens (issue #3, DESIGN.md §4, API.md auth/token and sys/leases): default deny, parents and
orphans, use counts, TTL expiry within a second, renewal and its explicit max, revocation (by token,
accessor, lease and prefix), the lookup-self field set, token roles and unknown-policy warnings."""
import time

import pytest

from conftest import (AUTH_FIELDS, ENVELOPE_KEYS, TOKEN_FIELDS, TOKEN_RE, UUID_RE,
                      assert_denied, assert_error, capabilities_self, create_token, lookup_self,
                      new_token_text, ok, parse_time, put_policy, wait_for)

POLICIES = {
    "read-policies": 'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n',
    "lookup-other": 'path "auth/token/lookup" {\n  capabilities = ["update"]\n}\n'
                    'path "auth/token/lookup-accessor" {\n  capabilities = ["update"]\n}\n',
    "creator": 'path "auth/token/create" {\n  capabilities = ["update"]\n}\n'
               'path "auth/token/create-orphan" {\n  capabilities = ["update"]\n}\n',
    "lease-revoker": 'path "sys/leases/revoke-prefix/*" {\n  capabilities = ["update"]\n}\n',
}


@pytest.fixture(scope="module")
def s(module_dev):
    for name, text in POLICIES.items():
        put_policy(module_dev, module_dev.root, name, text)
    return module_dev


def new_token(s, creator=None, **body):
    """Creates a token (by root unless creator) and returns its auth block. Without policies a
    token inherits its creator's (Vault): ask for the default policy alone unless told."""
    body.setdefault("policies", ["default"])
    return create_token(s, creator or s.root, **body)["auth"]


def alive(s, token):
    r = lookup_self(s, token)
    if r.status_code == 200:
        return True
    assert_denied(r)
    return False


# --- default deny and authentication -----------------------------------------------------------

def test_missing_or_bad_token_is_403_permission_denied(s):
    assert_denied(s.get("auth/token/lookup-self"))
    assert_denied(s.get("auth/token/lookup-self", token=new_token_text()))
    assert_denied(s.get("auth/token/lookup-self", token="not-a-token"))
    assert_denied(s.get("auth/token/lookup-self", token=""))
    assert_denied(s.get("sys/key-status", token=new_token_text()))
    # Authorization: Bearer is the fallback for X-Vault-Token.
    r = s.get("auth/token/lookup-self", headers={"Authorization": f"Bearer {s.root}"})
    assert ok(r)["data"]["policies"] == ["root"]
    assert_denied(s.get("auth/token/lookup-self",
                        headers={"Authorization": f"Bearer {new_token_text()}"}))


def test_token_reads_what_is_granted_and_gets_403_elsewhere(s):
    t = new_token(s, policies=["read-policies"])["client_token"]
    # Granted: read on sys/policy/*.
    body = ok(s.get("sys/policy/read-policies", token=t))
    assert body["data"]["rules"] == POLICIES["read-policies"], body
    assert ok(s.get("sys/policy/default", token=t))["data"]["name"] == "default"
    # Not granted: write there, the list at sys/policy itself, delete, and other sys routes.
    assert_denied(s.put("sys/policy/x", token=t, json={"policy": POLICIES["creator"]}))
    assert_denied(s.request("DELETE", "sys/policy/read-policies", token=t))
    assert_denied(s.get("sys/policy", token=t))
    assert_denied(s.get("sys/key-status", token=t))
    assert_denied(s.put("sys/rotate", token=t))
    assert_denied(s.post("auth/token/create", token=t, json={}))
    assert_denied(s.post("auth/token/lookup", token=t, json={"token": s.root}))
    assert_denied(s.request("LIST", "auth/token/accessors", token=t))
    # Nothing was written by the refused PUT.
    assert_error(s.get("sys/policy/x", token=s.root), 404, [])
    # The default policy still gives self-service.
    assert ok(lookup_self(s, t))["data"]["policies"] == ["default", "read-policies"]


def test_update_grant_on_lookup_and_no_default_policy(s):
    other = new_token(s)
    t = new_token(s, policies=["lookup-other"], no_default_policy=True)
    assert t["policies"] == ["lookup-other"], t
    looked = ok(s.post("auth/token/lookup", token=t["client_token"],
                       json={"token": other["client_token"]}))["data"]
    assert looked["accessor"] == other["accessor"]
    # Without the default policy there is no self-service at all.
    assert_denied(lookup_self(s, t["client_token"]))
    assert_denied(s.post("auth/token/renew-self", token=t["client_token"], json={}))
    assert_denied(s.post("sys/capabilities-self", token=t["client_token"],
                         json={"paths": ["auth/token/lookup"]}))
    # A caller that is neither the token nor root/sudo never sees the token's id.
    by_acc = ok(s.post("auth/token/lookup-accessor", token=t["client_token"],
                       json={"accessor": other["accessor"]}))["data"]
    assert by_acc["accessor"] == other["accessor"]
    assert by_acc.get("id", "") in ("", None), by_acc
    assert other["client_token"] not in str(by_acc)


# --- lookup ----------------------------------------------------------------------------------------

def test_create_answer_and_lookup_self_fields_and_types(s):
    before = time.time()
    body = create_token(s, s.root, policies=["read-policies"], meta={"app": "billing"},
                        display_name="ci", ttl="1h", explicit_max_ttl="2h", renewable=True)
    after = time.time()
    assert list(body) == ENVELOPE_KEYS, list(body)
    assert UUID_RE.match(body["request_id"]), body
    assert body["data"] is None and body["wrap_info"] is None, body
    auth = body["auth"]
    assert set(auth) >= AUTH_FIELDS, set(AUTH_FIELDS) - set(auth)
    assert TOKEN_RE.match(auth["client_token"]), auth
    assert isinstance(auth["accessor"], str) and len(auth["accessor"]) >= 16, auth
    assert auth["accessor"] not in auth["client_token"]
    assert auth["policies"] == ["default", "read-policies"], auth
    assert auth["token_policies"] == ["default", "read-policies"], auth
    assert auth["metadata"] == {"app": "billing"}, auth
    assert auth["lease_duration"] == 3600, auth
    assert auth["renewable"] is True and auth["orphan"] is False, auth
    assert auth["token_type"] == "service" and auth["num_uses"] == 0, auth
    assert isinstance(auth["entity_id"], str), auth

    token = auth["client_token"]
    r = lookup_self(s, token)
    look = ok(r)
    assert list(look) == ENVELOPE_KEYS, list(look)
    assert look["auth"] is None, look
    d = look["data"]
    assert set(d) >= TOKEN_FIELDS, TOKEN_FIELDS - set(d)
    assert d["id"] == token
    assert d["accessor"] == auth["accessor"]
    assert isinstance(d["creation_time"], int) and before - 2 <= d["creation_time"] <= after + 2, d
    assert d["creation_ttl"] == 3600 and d["explicit_max_ttl"] == 7200, d
    assert d["display_name"] in ("token-ci", "ci"), d
    assert d["entity_id"] == "" or isinstance(d["entity_id"], str), d
    assert isinstance(d["ttl"], int) and 3590 <= d["ttl"] <= 3600, d
    expire = parse_time(d["expire_time"])
    assert before + 3600 - 2 <= expire <= after + 3600 + 2, d
    issue = parse_time(d["issue_time"])
    assert before - 2 <= issue <= after + 2, d
    assert d["meta"] == {"app": "billing"}, d
    assert d["num_uses"] == 0 and d["orphan"] is False and d["renewable"] is True, d
    assert d["path"] == "auth/token/create", d
    assert d["policies"] == ["default", "read-policies"], d
    assert d["type"] == "service", d

    # The root token: policy root, no TTL, never expires.
    root = ok(lookup_self(s, s.root))["data"]
    assert root["policies"] == ["root"], root
    assert root["ttl"] == 0 and root["expire_time"] in (None, ""), root
    assert root["id"] == s.root


def test_lookup_and_lookup_accessor_by_root(s):
    t = new_token(s, meta={"k": "v"})
    d = ok(s.post("auth/token/lookup", token=s.root, json={"token": t["client_token"]}))["data"]
    assert d["accessor"] == t["accessor"] and d["meta"] == {"k": "v"}, d
    assert d["id"] == t["client_token"], d  # root may see it
    d2 = ok(s.post("auth/token/lookup-accessor", token=s.root,
                   json={"accessor": t["accessor"]}))["data"]
    assert d2["accessor"] == t["accessor"] and d2["meta"] == {"k": "v"}, d2
    # Unknown tokens and accessors are refused with a JSON error.
    # (403 "bad token" for a token, as in Vault; 400 "invalid accessor" for an accessor.)
    assert_error(s.post("auth/token/lookup", token=s.root, json={"token": new_token_text()}),
                 403, "bad token")
    r = s.post("auth/token/lookup-accessor", token=s.root, json={"accessor": "nosuchaccessor0000000000"})
    assert_error(r, 400, "invalid accessor")


def test_list_accessors_needs_sudo(s):
    t = new_token(s)
    body = ok(s.request("LIST", "auth/token/accessors", token=s.root))
    assert t["accessor"] in body["data"]["keys"], body
    again = ok(s.get("auth/token/accessors?list=true", token=s.root))["data"]["keys"]
    assert t["accessor"] in again, again
    assert all(isinstance(k, str) and k for k in again), again
    assert_denied(s.request("LIST", "auth/token/accessors", token=t["client_token"]))


def test_unknown_policy_gives_a_warning(s):
    body = create_token(s, s.root, policies=["no-such-policy-xyz"])
    assert body["auth"]["policies"] == ["default", "no-such-policy-xyz"], body
    assert isinstance(body["warnings"], list) and body["warnings"], body
    assert any("no-such-policy-xyz" in w for w in body["warnings"]), body["warnings"]
    # Known policies give none.
    assert create_token(s, s.root, policies=["creator"])["warnings"] in (None, []), body


# --- parents, children and orphans -----------------------------------------------------------------

def test_children_are_revoked_with_their_parent_and_orphans_survive(s):
    parent = new_token(s, policies=["creator"])["client_token"]
    child = new_token(s, parent, policies=["creator"])["client_token"]
    grandchild = new_token(s, child, policies=["creator"])["client_token"]
    orphan_out = create_token(s, parent, path="auth/token/create-orphan", policies=["creator"])
    orphan = orphan_out["auth"]
    assert orphan["orphan"] is True, orphan
    assert ok(lookup_self(s, orphan["client_token"]))["data"]["path"] == \
        "auth/token/create-orphan"
    assert ok(lookup_self(s, child))["data"]["orphan"] is False
    # A non-root caller cannot make an orphan with no_parent.
    r = s.post("auth/token/create", token=parent, json={"no_parent": True})
    assert_error(r, 400, "root or sudo privileges required to create orphan token")
    # A child may not get policies its parent does not have.
    r = s.post("auth/token/create", token=parent, json={"policies": ["read-policies"]})
    assert_error(r, 400, "child policies must be subset of parent")

    ok(s.post("auth/token/revoke", token=s.root, json={"token": parent}), 204)
    assert not alive(s, parent)
    assert not alive(s, child)
    assert not alive(s, grandchild)
    assert alive(s, orphan["client_token"])


def test_no_parent_by_a_root_token_makes_an_orphan(s):
    # A second root token (a child of the first), so that revoking it leaves the test's root alone.
    root2 = new_token(s, policies=["root"])
    assert "root" in root2["policies"], root2
    orphan = new_token(s, root2["client_token"], no_parent=True, policies=["creator"])
    assert orphan["orphan"] is True, orphan
    child = new_token(s, root2["client_token"], policies=["creator"])
    assert child["orphan"] is False, child
    ok(s.post("auth/token/revoke-self", token=root2["client_token"]), 204)
    assert not alive(s, root2["client_token"])
    assert not alive(s, child["client_token"])
    assert alive(s, orphan["client_token"])
    assert ok(lookup_self(s, orphan["client_token"]))["data"]["orphan"] is True


def test_revoke_orphan_keeps_the_children(s):
    parent = new_token(s, policies=["creator"])["client_token"]
    child = new_token(s, parent, policies=["creator"])["client_token"]
    ok(s.post("auth/token/revoke-orphan", token=s.root, json={"token": parent}), 204)
    assert not alive(s, parent)
    assert alive(s, child)
    assert ok(lookup_self(s, child))["data"]["orphan"] is True
    # revoke-orphan is root/sudo only.
    other = new_token(s, policies=["creator"])["client_token"]
    assert_denied(s.post("auth/token/revoke-orphan", token=other, json={"token": child}))
    assert alive(s, child)


# --- revocation ------------------------------------------------------------------------------------

def test_revoke_by_accessor_token_and_self(s):
    a = new_token(s)
    ok(s.post("auth/token/revoke-accessor", token=s.root, json={"accessor": a["accessor"]}), 204)
    assert not alive(s, a["client_token"])
    r = s.post("auth/token/lookup-accessor", token=s.root, json={"accessor": a["accessor"]})
    assert_error(r, 400, "invalid accessor")

    b = new_token(s)["client_token"]
    ok(s.post("auth/token/revoke", token=s.root, json={"token": b}), 204)
    assert not alive(s, b)

    c = new_token(s)["client_token"]
    ok(s.post("auth/token/revoke-self", token=c), 204)
    assert not alive(s, c)
    # A revoked token can do nothing, not even revoke itself again.
    assert_denied(s.post("auth/token/revoke-self", token=c))
    assert_denied(s.post("sys/capabilities-self", token=c, json={"paths": ["sys/health"]}))


# --- use counts ------------------------------------------------------------------------------------

def test_num_uses_two_means_the_third_use_is_403(s):
    t = new_token(s, num_uses=2)
    assert t["num_uses"] == 2, t
    first = ok(lookup_self(s, t["client_token"]))["data"]
    assert first["num_uses"] == 1, f"num_uses after the first use: {first['num_uses']}"
    caps = capabilities_self(s, t["client_token"], ["auth/token/lookup-self"])
    assert caps == {"auth/token/lookup-self": ["read"]}
    assert_denied(lookup_self(s, t["client_token"]))
    assert_denied(s.post("sys/capabilities-self", token=t["client_token"],
                         json={"paths": ["x"]}))
    # Refused requests did not bring it back, and root cannot find it any more.
    r = s.post("auth/token/lookup", token=s.root, json={"token": t["client_token"]})
    assert_error(r, 403, "bad token")


def test_num_uses_one_is_a_single_use_token(s):
    t = new_token(s, num_uses=1)["client_token"]
    ok(lookup_self(s, t))
    assert_denied(lookup_self(s, t))


# --- TTL, renewal, explicit max --------------------------------------------------------------------

def test_ttl_expiry_is_enforced_within_one_second(s):
    ttl = 2.0
    t0 = time.monotonic()
    t = new_token(s, ttl="2s")
    t1 = time.monotonic()
    assert t["lease_duration"] == 2, t
    token = t["client_token"]
    expiry_lo, expiry_hi = t0 + ttl, t1 + ttl  # the server made the token between t0 and t1
    start = t1 + ttl - 0.5
    while time.monotonic() < start:
        time.sleep(0.01)
    seen = []  # (request start, request end, status)
    first_denied = None
    deadline = expiry_hi + 1.0
    while True:
        a = time.monotonic()
        r = lookup_self(s, token)
        b = time.monotonic()
        seen.append((round(a - t1, 3), round(b - t1, 3), r.status_code))
        # Either, by design: the poll straddles the expiry instant, so which answer comes is timing.
        assert r.status_code in (200, 403), r.text
        if r.status_code == 200:
            # A 200 is only fine while the token may still be valid.
            assert a <= expiry_hi + 1.0, f"token still valid >1s after expiry: {seen}"
        else:
            assert_denied(r)
            # Never refused before its TTL is up.
            assert b >= expiry_lo, f"refused before its TTL ran out: {seen}"
            first_denied = a
            break
        if a > deadline:
            break
        time.sleep(max(0.0, 0.1 - (time.monotonic() - a)))
    assert first_denied is not None, f"still valid 1s after expiry (times from create): {seen}"
    assert first_denied <= expiry_hi + 1.0, seen
    # There was at least one 200 shortly before expiry (the polling started at ttl-0.5s).
    assert any(status == 200 for _, _, status in seen), seen
    assert_denied(lookup_self(s, token))


def test_renew_self_extends_and_is_clipped_at_explicit_max_ttl(s):
    t0 = time.monotonic()
    t = new_token(s, ttl="3s", explicit_max_ttl="6s", renewable=True)
    token = t["client_token"]
    assert t["lease_duration"] == 3 and t["renewable"] is True, t
    time.sleep(1.5)  # let the TTL run down
    ttl = ok(lookup_self(s, token))["data"]["ttl"]
    assert ttl <= 2, ttl
    renewed = ok(s.post("auth/token/renew-self", token=token, json={}))
    assert renewed["auth"]["client_token"] == token
    assert renewed["auth"]["lease_duration"] == 3, renewed
    d = ok(lookup_self(s, token))["data"]
    assert 2 <= d["ttl"] <= 3, d
    # An increment past the explicit max is clipped to what is left of it.
    renewed = ok(s.post("auth/token/renew-self", token=token, json={"increment": "1h"}))
    left = 6 - (time.monotonic() - t0)
    dur = renewed["auth"]["lease_duration"]
    assert 0 < dur <= left + 1, (dur, left)
    assert dur >= left - 2, (dur, left)
    if renewed.get("warnings") is not None:
        assert isinstance(renewed["warnings"], list)
    # However renewed, the token dies at its explicit max (6 s after creation).
    first_403 = wait_for(lambda: not alive(s, token), 6 - (time.monotonic() - t0) + 1.5, 0.1)
    assert first_403, "token outlived its explicit_max_ttl"
    assert time.monotonic() - t0 >= 5.0, "token died well before its explicit_max_ttl"


def test_renew_with_increment_and_by_token_and_accessor(s):
    t = new_token(s, ttl="10m")
    token = t["client_token"]
    r = ok(s.post("auth/token/renew-self", token=token, json={"increment": 3600}))
    assert r["auth"]["lease_duration"] == 3600, r
    assert 3590 <= ok(lookup_self(s, token))["data"]["ttl"] <= 3600
    r = ok(s.post("auth/token/renew", token=s.root, json={"token": token, "increment": "20m"}))
    assert r["auth"]["lease_duration"] == 1200 and r["auth"]["accessor"] == t["accessor"], r
    r = ok(s.post("auth/token/renew-accessor", token=s.root,
                  json={"accessor": t["accessor"], "increment": "30m"}))
    assert r["auth"]["lease_duration"] == 1800, r
    assert r["auth"].get("client_token", "") in ("", None), \
        "renew-accessor must not hand out the token"
    assert 1790 <= ok(lookup_self(s, token))["data"]["ttl"] <= 1800


def test_non_renewable_token_cannot_be_renewed(s):
    t = new_token(s, ttl="10m", renewable=False)
    assert t["renewable"] is False, t
    r = s.post("auth/token/renew-self", token=t["client_token"], json={})
    assert_error(r, 400, "lease is not renewable")
    assert ok(lookup_self(s, t["client_token"]))["data"]["renewable"] is False


def test_root_token_does_not_expire_and_renew_is_harmless(s):
    d = ok(lookup_self(s, s.root))["data"]
    assert d["ttl"] == 0 and d["expire_time"] in (None, "")


# --- token roles ------------------------------------------------------------------------------------

def test_token_roles_apply_allowed_policies(s):
    ok(s.post("auth/token/roles/deployer", token=s.root,
              json={"allowed_policies": ["creator", "read-policies"], "orphan": True,
                    "renewable": True}), 204)
    role = ok(s.get("auth/token/roles/deployer", token=s.root))["data"]
    assert sorted(role["allowed_policies"]) == ["creator", "read-policies"], role
    assert role["orphan"] is True and role["renewable"] is True, role
    assert "deployer" in ok(s.request("LIST", "auth/token/roles", token=s.root))["data"]["keys"]

    out = create_token(s, s.root, path="auth/token/create/deployer", policies=["creator"])
    auth = out["auth"]
    assert auth["policies"] == ["creator", "default"], auth
    assert auth["orphan"] is True, auth
    d = ok(lookup_self(s, auth["client_token"]))["data"]
    assert d["path"] == "auth/token/create/deployer", d
    assert d["policies"] == ["creator", "default"], d
    # The role's lease prefix (then a random part, not the accessor).
    lease_id = d["lease_id"]
    assert lease_id.startswith("auth/token/create/deployer/"), lease_id
    assert auth["accessor"] not in lease_id, lease_id
    lease = ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": lease_id}))
    assert lease["data"]["id"] == lease_id, lease
    # With no policies asked for, the token gets the role's allowed policies.
    auth2 = create_token(s, s.root, path="auth/token/create/deployer")["auth"]
    assert auth2["policies"] == ["creator", "default", "read-policies"], auth2
    # Policies outside allowed_policies are refused.
    r = s.post("auth/token/create/deployer", token=s.root, json={"policies": ["lookup-other"]})
    assert_error(r, 400, "token policies must be subset of the role's allowed policies")
    # List fields may be comma strings (node-vault sends allowed_policies so).
    ok(s.post("auth/token/roles/csvrole", token=s.root,
              json={"allowed_policies": "creator,read-policies"}), 204)
    assert sorted(ok(s.get("auth/token/roles/csvrole", token=s.root))["data"][
        "allowed_policies"]) == ["creator", "read-policies"]
    # Deleted: gone from the list, and creating against it fails.
    ok(s.request("DELETE", "auth/token/roles/deployer", token=s.root), 204)
    assert_error(s.get("auth/token/roles/deployer", token=s.root), 404, [])
    r = s.post("auth/token/create/deployer", token=s.root, json={})
    assert_error(r, 400, "unknown role deployer")


# --- leases -----------------------------------------------------------------------------------------

def test_token_lease_lookup_renew_revoke(s):
    t = new_token(s, ttl="5m")
    before = time.time()
    lease_id = ok(lookup_self(s, t["client_token"]))["data"]["lease_id"]
    d = ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": lease_id}))["data"]
    assert set(d) >= {"id", "issue_time", "expire_time", "last_renewal", "renewable", "ttl"}, d
    assert d["id"] == lease_id and d["renewable"] is True, d
    assert 290 <= d["ttl"] <= 300, d
    assert d["last_renewal"] in (None, ""), d
    assert abs(parse_time(d["expire_time"]) - (before + 300)) < 5, d
    # The token may look up its own lease (default policy).
    own = ok(s.post("sys/leases/lookup", token=t["client_token"], json={"lease_id": lease_id}))
    assert own["data"]["id"] == lease_id

    r = ok(s.put("sys/leases/renew", token=s.root, json={"lease_id": lease_id, "increment": 600}))
    assert r["lease_duration"] == 600 or (r.get("auth") or {}).get("lease_duration") == 600, r
    d = ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": lease_id}))["data"]
    assert 590 <= d["ttl"] <= 600 and d["last_renewal"] not in (None, ""), d
    assert 590 <= ok(lookup_self(s, t["client_token"]))["data"]["ttl"] <= 600

    listed = ok(s.request("LIST", "sys/leases/lookup/auth/token/create/", token=s.root))
    keys = listed["data"]["keys"]
    assert lease_id.rsplit("/", 1)[1] in keys and t["accessor"] not in keys, keys

    ok(s.put("sys/leases/revoke", token=s.root, json={"lease_id": lease_id}), 204)
    assert not alive(s, t["client_token"])
    r = s.put("sys/leases/lookup", token=s.root, json={"lease_id": lease_id})
    assert_error(r, 400, "invalid lease")


def test_revoke_prefix_needs_sudo_and_revokes_only_the_prefix(s):
    ok(s.post("auth/token/roles/batchjob", token=s.root, json={"allowed_policies": ["creator"]}),
       204)
    in_prefix = [create_token(s, s.root, path="auth/token/create/batchjob")["auth"]
                 for _ in range(3)]
    outside = new_token(s)
    revoker = new_token(s, policies=["lease-revoker"])["client_token"]
    # update without sudo is not enough.
    assert_denied(s.put("sys/leases/revoke-prefix/auth/token/create/batchjob", token=revoker))
    assert all(alive(s, a["client_token"]) for a in in_prefix)
    ok(s.put("sys/leases/revoke-prefix/auth/token/create/batchjob", token=s.root), 204)
    for a in in_prefix:
        assert not alive(s, a["client_token"])
    assert alive(s, outside["client_token"])
    assert alive(s, revoker)


# --- custom ids and periodic tokens -----------------------------------------------------------------

def test_custom_id_needs_root_and_must_be_unique(s):
    custom = new_token_text("custom")
    auth = new_token(s, id=custom)
    assert auth["client_token"] == custom, auth
    assert ok(lookup_self(s, custom))["data"]["id"] == custom
    assert_error(s.post("auth/token/create", token=s.root,
                        json={"id": custom, "policies": ["default"]}), 400,
                 "a token with that id already exists")
    parent = new_token(s, policies=["creator"])["client_token"]
    r = s.post("auth/token/create", token=parent,
               json={"id": new_token_text("byparent"), "policies": ["creator"]})
    assert_error(r, 400, "root or sudo privileges required to specify token id")


def test_periodic_token_renews_to_its_period(s):
    auth = new_token(s, period="1h")
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True, auth
    token = auth["client_token"]
    r = ok(s.post("auth/token/renew-self", token=token, json={"increment": "10h"}))
    assert r["auth"]["lease_duration"] == 3600, r
    d = ok(lookup_self(s, token))["data"]
    assert 3590 <= d["ttl"] <= 3600, d
