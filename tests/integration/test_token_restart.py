# SPDX-License-Identifier: Apache-2.0
"""Tokens and their leases survive a restart (issue #3): a config-file server is stopped with
SIGTERM, kept down until a short token's TTL has passed, then started and unsealed again. The
long-lived token, its child, its lease, use counts and revocations are as they were; the token
that expired while the server was down is refused."""
import time

from conftest import (assert_denied, assert_error, create_token, lookup_self, ok, put_policy)

CREATOR = ('path "auth/token/create" {\n  capabilities = ["update"]\n}\n'
           'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n')


def test_tokens_and_leases_survive_restart_and_expiry_while_down(cofferd_factory):
    s = cofferd_factory()
    init = s.init(1, 1)
    s.unseal(init["keys"])
    root = init["root_token"]
    put_policy(s, root, "creator", CREATOR)

    long_auth = create_token(s, root, policies=["creator"], ttl="1h",
                             meta={"who": "long"})["auth"]
    long_token = long_auth["client_token"]
    child = create_token(s, long_token, policies=["creator"], ttl="30m")["auth"]["client_token"]
    short_made = time.monotonic()
    short = create_token(s, root, policies=["default"], ttl="3s")["auth"]["client_token"]
    counted = create_token(s, root, policies=["default"], num_uses=3)["auth"]["client_token"]
    ok(lookup_self(s, counted))  # one use of three
    revoked = create_token(s, root, policies=["default"], ttl="1h")["auth"]["client_token"]
    ok(s.post("auth/token/revoke", token=root, json={"token": revoked}), 204)
    ok(s.post("sys/auth/approle", token=root, json={"type": "approle"}), 204)
    ok(s.post("auth/approle/role/r1", token=root, json={"token_policies": ["creator"]}), 204)
    role_id = ok(s.get("auth/approle/role/r1/role-id", token=root))["data"]["role_id"]
    secret_id = ok(s.post("auth/approle/role/r1/secret-id", token=root, json={}))["data"]["secret_id"]
    for t in (long_token, child, short):
        ok(lookup_self(s, t))
    long_lease_id = ok(lookup_self(s, long_token))["data"]["lease_id"]

    s.stop()
    # Stay down until the short token has certainly expired.
    while time.monotonic() < short_made + 3.5:
        time.sleep(0.05)
    s.start()
    assert s.seal_status()["sealed"] is True
    # Sealed: a token check cannot succeed.
    assert_error(lookup_self(s, long_token), 503, "Vault is sealed")
    s.unseal(init["keys"])

    d = ok(lookup_self(s, long_token))["data"]
    assert d["policies"] == ["creator", "default"] and d["meta"] == {"who": "long"}, d
    assert 3000 < d["ttl"] <= 3600, d
    assert ok(lookup_self(s, child))["data"]["orphan"] is False
    ok(lookup_self(s, root))
    assert_denied(lookup_self(s, short))
    assert_denied(lookup_self(s, revoked))
    # The use count was kept: two uses left.
    ok(lookup_self(s, counted))
    ok(lookup_self(s, counted))
    assert_denied(lookup_self(s, counted))

    lease_id = ok(lookup_self(s, long_token))["data"]["lease_id"]
    assert lease_id == long_lease_id, (lease_id, long_lease_id)  # persisted, not regenerated
    lease = ok(s.put("sys/leases/lookup", token=root, json={"lease_id": lease_id}))["data"]
    assert lease["id"] == lease_id and 3000 < lease["ttl"] <= 3600, lease
    ok(s.put("sys/leases/renew", token=root, json={"lease_id": lease_id, "increment": 7200}))
    assert 7100 < ok(lookup_self(s, long_token))["data"]["ttl"] <= 7200
    # Policies and the approle method came back too.
    ok(s.get("sys/policy/creator", token=long_token))
    login = ok(s.post("auth/approle/login", json={"role_id": role_id, "secret_id": secret_id}))
    assert login["auth"]["policies"] == ["creator", "default"], login

    # Parent/child links survived: revoking the parent by accessor takes the child.
    ok(s.post("auth/token/revoke-accessor", token=root,
              json={"accessor": long_auth["accessor"]}), 204)
    assert_denied(lookup_self(s, long_token))
    assert_denied(lookup_self(s, child))

    # And a revocation made after the restart is persisted across the next one.
    s.restart()
    s.unseal(init["keys"])
    assert_denied(lookup_self(s, long_token))
    assert_denied(lookup_self(s, child))
    ok(lookup_self(s, root))
