# SPDX-License-Identifier: Apache-2.0
"""Invariant 1 (DESIGN.md §10): the root token and the unseal key never reach the database, its
WAL and shared-memory files, or the log, in any encoding."""
import base64
import secrets

from conftest import b64decode_any, db_bytes, sqlite_only

# PostgreSQL's equivalent (no canary in a pg_dump of the database) is in the HA tests.
pytestmark = sqlite_only("reads coffer.db and its WAL and shared-memory files")


def encodings(raw):
    """The ways a secret of bytes could be written down."""
    out = {raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw),
           base64.urlsafe_b64encode(raw), base64.b64encode(raw).rstrip(b"="),
           base64.urlsafe_b64encode(raw).rstrip(b"=")}
    return {x for x in out if len(x) >= 16}


def needles(root_token, unseal_key_text):
    found = {root_token.encode(), root_token[4:].encode()}
    found |= encodings(b64decode_any(root_token[4:]))
    share = b64decode_any(unseal_key_text)
    found |= encodings(share)
    found.add(unseal_key_text.encode())
    # The share is the unseal key plus its x coordinate at one end: look for the key alone too.
    for part in (share[1:], share[:-1]):
        found |= encodings(part)
    return found


def assert_absent(blobs, secret_needles, where):
    for name, blob in blobs.items():
        for needle in secret_needles:
            assert needle not in blob, f"a secret ({needle[:6]!r}...) is in {where} {name}"


def test_root_token_and_unseal_key_never_at_rest_or_in_logs(cofferd_factory):
    canary = "cof.CANARYroot" + secrets.token_urlsafe(32)[:33]
    assert len(canary) == 47
    s = cofferd_factory(dev_args=["--root-token", canary])
    banner = s.dev_banner()
    assert banner["Root Token"] == canary
    unseal_key = banner["Unseal Key"]
    secret_needles = needles(canary, unseal_key)

    for _ in range(5):
        assert s.put("sys/rotate", token=canary).status_code == 204
    # Seal and unseal, so that the key travels through the unseal path too.
    assert s.put("sys/seal", token=canary).status_code == 204
    s.unseal([unseal_key])
    assert s.put("sys/rotate", token=canary).status_code == 204
    assert s.key_status(canary)["term"] == 7

    # While running (WAL not yet checkpointed) and after a clean stop.
    assert_absent(db_bytes(s.data_dir), secret_needles, "running")
    s.stop()
    assert_absent(db_bytes(s.data_dir), secret_needles, "stopped")
    assert_absent({"stderr": s.all_stderr_bytes()}, secret_needles, "log")
    # The check itself works: the banner on stdout does hold both.
    stdout = s.stdout_path.read_bytes()
    assert canary.encode() in stdout and unseal_key.encode() in stdout


def test_config_server_keeps_shares_and_token_out_of_db_and_logs(cofferd_factory):
    s = cofferd_factory({"log_level": "debug"})
    init = s.init(3, 2)
    s.unseal(init["keys"][:2])
    token = init["root_token"]
    assert s.put("sys/rotate", token=token).status_code == 204
    s.restart()
    s.unseal(init["keys_base64"][1:3])
    assert s.key_status(token)["term"] == 2
    s.stop()
    secret_needles = {token.encode(), token[4:].encode()} | encodings(b64decode_any(token[4:]))
    for hex_key, b64_key in zip(init["keys"], init["keys_base64"]):
        secret_needles |= {hex_key.encode(), b64_key.encode()} | encodings(bytes.fromhex(hex_key))
    assert_absent(db_bytes(s.data_dir), secret_needles, "stopped")
    assert_absent({"stderr": s.all_stderr_bytes()}, secret_needles, "log")
