# SPDX-License-Identifier: Apache-2.0
"""Invariants 1 and 3 (DESIGN.md §10) for tokens: a token's text never reaches the database, its
WAL and shared-memory files, or the log (at debug level), in any encoding; only its keyed hash and
accessor are stored. Checked with canaries: a token created with a custom id, the --root-token,
an AppRole secret id and the token a login returns."""
import secrets

from conftest import (assert_error, b64decode_any, create_token, lookup_self, new_token_text, ok,
                      put_policy, secret_encodings, sqlite_only, start_dev, token_needles)

# PostgreSQL's equivalent (no canary in a pg_dump of the database) is in the HA tests.
pytestmark = sqlite_only("reads coffer.db and its WAL and shared-memory files")

DB_FILES = ("coffer.db", "coffer.db-wal", "coffer.db-shm", "coffer.db-journal")


def stored_blobs(server):
    files = {name: (server.data_dir / name).read_bytes() for name in DB_FILES
             if (server.data_dir / name).exists()}
    assert "coffer.db" in files, sorted(p.name for p in server.data_dir.iterdir())
    files["stderr"] = server.all_stderr_bytes()
    return files


def assert_absent(blobs, needles, what):
    for name, blob in blobs.items():
        for needle in needles:
            assert needle not in blob, f"{what} ({needle[:8]!r}...) is in {name}"


def test_token_canaries_never_at_rest_or_in_logs(cofferd_factory):
    root = new_token_text("CANARYroot")
    s = start_dev(cofferd_factory, root_token=root)
    canary = new_token_text("CANARYtok")
    put_policy(s, root, "canary-pol", 'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n')
    out = create_token(s, root, id=canary, policies=["canary-pol"], ttl="1h",
                       display_name="canary")
    assert out["auth"]["client_token"] == canary, out
    accessor = out["auth"]["accessor"]
    # Use it every way a token travels: header, bearer, request bodies, renewal, child creation.
    assert ok(lookup_self(s, canary))["data"]["id"] == canary
    ok(s.get("sys/policy/canary-pol", headers={"Authorization": f"Bearer {canary}"}))
    ok(s.post("auth/token/lookup", token=root, json={"token": canary}))
    ok(s.post("auth/token/renew", token=root, json={"token": canary, "increment": "2h"}))
    ok(s.post("auth/token/renew-self", token=canary, json={}))
    ok(s.post("sys/capabilities-self", token=canary, json={"paths": ["sys/policy/x"]}))
    lease_id = ok(lookup_self(s, canary))["data"]["lease_id"]
    assert accessor not in lease_id, lease_id
    ok(s.put("sys/leases/lookup", token=root, json={"lease_id": lease_id}))
    # Refused requests with the canary in them too.
    assert_error(s.put("sys/rotate", token=canary), 403, "permission denied")
    assert_error(s.post("auth/token/create", token=root, json={"id": canary}), 400,
                 "a token with that id already exists")

    # AppRole: a custom secret id canary and the token its login returns.
    ok(s.post("sys/auth/approle", token=root, json={"type": "approle"}), 204)
    ok(s.post("auth/approle/role/r", token=root, json={"token_policies": ["canary-pol"]}), 204)
    role_id = ok(s.get("auth/approle/role/r/role-id", token=root))["data"]["role_id"]
    secret_id = "CANARYsecret" + secrets.token_hex(16)
    ok(s.post("auth/approle/role/r/custom-secret-id", token=root, json={"secret_id": secret_id}))
    generated = ok(s.post("auth/approle/role/r/secret-id", token=root, json={}))["data"]["secret_id"]
    ok(s.post("auth/approle/role/r/secret-id/lookup", token=root, json={"secret_id": secret_id}))
    login_token = ok(s.post("auth/approle/login", json={"role_id": role_id,
                                                        "secret_id": secret_id}))["auth"]["client_token"]
    ok(lookup_self(s, login_token))
    second_login = ok(s.post("auth/approle/login", json={"role_id": role_id,
                                                         "secret_id": generated}))["auth"]["client_token"]
    ok(lookup_self(s, second_login))
    assert_error(s.post("auth/approle/login", json={"role_id": role_id,
                                                   "secret_id": secret_id + "x"}), 400,
                 "invalid secret id")

    needles = set()
    for t in (root, canary, login_token, second_login):
        needles |= token_needles(t)
    for sid in (secret_id, generated):
        needles.add(sid.encode())
        needles |= secret_encodings(sid.encode())
    # While running (WAL not yet checkpointed) ...
    assert_absent(stored_blobs(s), needles, "a token or secret id")
    # ... after revoking (revocation must not write the token out either) ...
    ok(s.post("auth/token/revoke", token=root, json={"token": canary}), 204)
    assert_absent(stored_blobs(s), needles, "a token or secret id")
    # ... and after a clean stop.
    s.stop()
    assert_absent(stored_blobs(s), needles, "a token or secret id")
    # The check itself works: the dev banner on stdout does hold the root token, and the accessor
    # (which is not secret) is findable as a plain string in the same way.
    assert root.encode() in s.stdout_path.read_bytes()
    assert b64decode_any(canary[4:])  # the canary decodes, so its raw-byte forms were searched
