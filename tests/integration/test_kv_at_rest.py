# SPDX-License-Identifier: Apache-2.0
"""Invariant 1 (DESIGN.md §10) for KV (issue #4): a secret's value and its path name never reach
coffer.db, its WAL or shared-memory file, or the log, in any encoding — neither while the secret
lives, nor after it was destroyed (POST secret/destroy) or its mount was removed (DELETE
sys/mounts), when its rows are gone and (secure_delete) their pages zeroed. A clean stop checkpoints
the WAL into the file; the row count shows that destroy and unmount really removed rows."""
import secrets
import sqlite3

from conftest import (assert_error, db_bytes, enable_secrets, kv2_read, kv2_write, ok,
                      secret_encodings, sqlite_only)

# PostgreSQL's equivalent (no canary in a pg_dump of the database) is in the HA tests.
pytestmark = sqlite_only("reads coffer.db, checkpoints its WAL and counts its rows")

def needles(*texts):
    out = set()
    for text in texts:
        raw = text.encode()
        out |= {raw, raw.upper(), raw.lower()} | secret_encodings(raw)
        # UTF-16 (a JSON library could widen strings) and JSON-escaped forms.
        out.add(text.encode("utf-16-le"))
    return {n for n in out if len(n) >= 12}


def assert_absent(blobs, secret_needles, where):
    for name, blob in blobs.items():
        for needle in secret_needles:
            assert needle not in blob, f"a canary ({needle[:12]!r}...) is in {where} {name}"


def checkpointed(data_dir):
    """After a clean stop the WAL must be folded into coffer.db. If the -wal file is still there
    with frames, fold it here (PRAGMA wal_checkpoint(TRUNCATE)) so that the check below reads
    what a later reader of the file would. Returns whether that was needed."""
    wal = data_dir / "coffer.db-wal"
    if not wal.exists() or wal.stat().st_size == 0:
        return False
    con = sqlite3.connect(str(data_dir / "coffer.db"))
    try:
        busy, _log, _done = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "checkpoint blocked after the server stopped"
    finally:
        con.close()
    assert not wal.exists() or wal.stat().st_size == 0
    return True


def row_count(data_dir):
    con = sqlite3.connect(f"file:{data_dir / 'coffer.db'}?immutable=1", uri=True)
    try:
        return con.execute("SELECT count(*) FROM kv").fetchone()[0]
    finally:
        con.close()


def test_destroyed_and_unmounted_canaries_leave_no_trace(cofferd_factory):
    s = cofferd_factory({"log_level": "debug"})
    init = s.init(1, 1)
    s.unseal(init["keys"])
    root = init["root_token"]
    tag = secrets.token_hex(8)
    canary_value = f"CANARYVALUE{tag}v1-" + secrets.token_urlsafe(24)
    canary_value2 = f"CANARYVALUE{tag}v2-" + secrets.token_urlsafe(24)
    canary_key = f"canarykey{tag}"
    canary_path = f"canarypath{tag}"
    canary_mount = f"canarymount{tag}"
    mount_value = f"CANARYMOUNTVALUE{tag}-" + secrets.token_urlsafe(24)
    mount_path = f"canarymountpath{tag}"
    all_needles = needles(canary_value, canary_value2, canary_key, canary_path, mount_value,
                          mount_path, f"CANARYVALUE{tag}", f"CANARYMOUNTVALUE{tag}")

    s.stop()
    checkpointed(s.data_dir)
    rows_empty = row_count(s.data_dir)
    s.start()
    s.unseal(init["keys"])

    # Two versions of a secret whose path and key are canaries too, under a folder.
    kv2_write(s, root, f"{canary_path}/inner", {canary_key: canary_value})
    kv2_write(s, root, f"{canary_path}/inner", {canary_key: canary_value2, "n": 2})
    first = kv2_read(s, root, f"{canary_path}/inner", version=1)
    assert first["data"] == {canary_key: canary_value}
    # A second canary in its own mount (v2 and v1 paths).
    enable_secrets(s, root, canary_mount, "kv", version=2)
    kv2_write(s, root, mount_path, {"value": mount_value}, mount=canary_mount)
    enable_secrets(s, root, canary_mount + "v1", "kv", version=1)
    ok(s.post(f"{canary_mount}v1/{mount_path}", token=root, json={"value": mount_value}), 204)
    # While the secrets live (WAL not yet checkpointed), nothing is in clear.
    assert_absent(db_bytes(s.data_dir), all_needles, "running (live)")
    s.stop()
    assert_absent(db_bytes(s.data_dir), all_needles, "stopped (live)")
    checkpointed(s.data_dir)
    rows_live = row_count(s.data_dir)
    assert rows_live > rows_empty, (rows_empty, rows_live)

    s.start()
    s.unseal(init["keys"])
    ok(s.post(f"secret/destroy/{canary_path}/inner", token=root, json={"versions": [1]}), 204)
    ok(s.post(f"secret/destroy/{canary_path}/inner", token=root, json={"versions": [2]}), 204)
    ok(s.request("DELETE", f"secret/metadata/{canary_path}/inner", token=root), 204)
    ok(s.request("DELETE", f"sys/mounts/{canary_mount}", token=root), 204)
    ok(s.request("DELETE", f"sys/mounts/{canary_mount}v1", token=root), 204)
    r = s.get(f"secret/data/{canary_path}/inner", token=root)
    assert_error(r, 404, [])
    assert "data" not in r.json(), r.text
    assert_absent(db_bytes(s.data_dir), all_needles, "running (destroyed)")

    # A clean stop closes the last connection, which checkpoints the WAL into coffer.db.
    s.stop()
    wal = s.data_dir / "coffer.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, \
        f"the WAL was not checkpointed at a clean stop ({wal.stat().st_size} bytes left)"
    assert not checkpointed(s.data_dir)
    blobs = db_bytes(s.data_dir)
    assert_absent(blobs, all_needles, "stopped (destroyed)")
    # The rows went away: version data, metadata, directory index and both mounts' rows.
    rows_after = row_count(s.data_dir)
    assert rows_after < rows_live, (rows_empty, rows_live, rows_after)
    # The log never carries a secret value or name, at debug level either.
    log = s.all_stderr_bytes()
    assert log, "no log was written at all"
    assert_absent({"stderr": log}, all_needles, "log")
