# SPDX-License-Identifier: Apache-2.0
"""The audit log (issue #5, DESIGN.md §6, API.md sys/audit and sys/audit-hash): a request line and
a response line per logical request, none for raw routes; no secret in clear (HMACs that
sys/audit-hash reproduces); the hash chain (seq, prev = BLAKE2b-256 of the previous line) across
SIGHUP rotation and restarts; sys/audit list, API creation only when the config allows it and only
inside audit_dir; and fail-closed when the audit file cannot be written (a full tmpfs)."""
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import (Cofferd, assert_error, base_config, cofferd_path, create_token, free_port,
                      kv2_read, kv2_write, lookup_self, ok, put_policy, token_needles, wait_for)

# The chain's hash function: the server starts a chain with sha256 where the CPU has SHA
# instructions, blake2b elsewhere (or as COFFER_AUDIT_HASH says), and keeps it for the chain's life.
CHAIN_HASHES = {"blake2b": lambda raw: hashlib.blake2b(raw, digest_size=32).hexdigest(),
                "sha256": lambda raw: hashlib.sha256(raw).hexdigest()}
LINE_CHAIN_RE = re.compile(rb',"seq":(\d+),"prev":"((blake2b|sha256):[0-9a-f]{64})"\}$')
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
HMAC_RE = re.compile(r"^hmac-sha256:[0-9a-f]{64}$")
RAW_PATHS = {"sys/init", "sys/unseal", "sys/seal-status", "sys/health", "sys/seal", "sys/leader"}


def disk_full(what):
    """The 500 of a request whose audit line cannot be written to a full file system: a change
    fails at "the request" line, a read (deferred) at "the response"; the byte count and the
    temporary path vary."""
    return re.compile(rf"audit: the {what} could not be recorded: file/: "
                      r"(no room for \d+ more bytes in|cannot write) /\S+/audit\.log: "
                      r"No space left on device")


# --- helpers -----------------------------------------------------------------------------------

def audit_config(log_path, path=None, **extra):
    device = {"type": "file", "options": {"file_path": str(log_path)}}
    if path is not None:
        device["path"] = path
    return {"audit": [device], **extra}


def start_unsealed(factory, overrides):
    """A server with the given config overrides, initialized and unsealed; returns (server,
    unseal keys, root token)."""
    server = factory(config_overrides=overrides)
    init = server.init(1, 1)
    server.unseal(init["keys"])
    return server, init["keys"], init["root_token"]


def stage_pending(log_path):
    """Whether the device's staging ring beside log_path (audit_stage.c: magic, cap, head, tail)
    still holds lines that are not in the file yet."""
    try:
        header = Path(f"{log_path}.stage").read_bytes()[:32]
    except FileNotFoundError:
        return False
    if len(header) < 32 or header[:8] != b"CofStg1\n":
        return False
    head, tail = struct.unpack("<QQ", header[16:32])
    return head < tail


def wait_flushed(log_path):
    """Reads are recorded by staging their lines (at once, in the .stage file); the flusher copies
    them into the log within milliseconds. Wait for that before reading the log."""
    assert wait_for(lambda: not stage_pending(log_path), 10, 0.005), \
        f"staged lines of {log_path} did not reach the file"


def read_lines(*paths):
    """The raw lines (bytes, without the newline) of the files, in order."""
    out = []
    for p in paths:
        wait_flushed(p)
        data = Path(p).read_bytes()
        assert data == b"" or data.endswith(b"\n"), f"{p} does not end with a newline"
        out += data.split(b"\n")[:-1]
    return out


def chain_alg(line):
    """The hash function a line's prev names."""
    return LINE_CHAIN_RE.search(line).group(3).decode()


def prev_of(raw, alg):
    """The prev of the line after raw, in a chain hashed with alg (Python's hashlib)."""
    return f"{alg}:" + CHAIN_HASHES[alg](raw)


def check_chain(lines, first_seq=1, first_prev=None):
    """Checks seq and prev of every line (Python's hashlib, independent of the server's; every
    line names the chain's one hash function; first_prev None: the zero prev of seq 1); returns
    the parsed request and response lines (the signed checkpoint lines, test_audit_verify.py's
    subject, are in the chain but not returned)."""
    parsed = []
    alg = chain_alg(lines[0]) if lines and LINE_CHAIN_RE.search(lines[0]) else "blake2b"
    want_seq, want_prev = first_seq, first_prev or f"{alg}:" + "0" * 64
    for raw in lines:
        m = LINE_CHAIN_RE.search(raw)
        assert m, f"line does not end with seq and prev: {raw[-160:]!r}"
        assert int(m.group(1)) == want_seq, f"seq {m.group(1)} where {want_seq} was due"
        assert m.group(2).decode() == want_prev, f"bad prev at seq {want_seq}"
        obj = json.loads(raw)
        assert list(obj)[-2:] == ["seq", "prev"], obj
        if obj["type"] != "checkpoint":
            parsed.append(obj)
        want_seq += 1
        want_prev = prev_of(raw, alg)
    return parsed


def tail_state(lines):
    """(seq, prev) that the line after lines must carry."""
    last = lines[-1]
    return int(LINE_CHAIN_RE.search(last).group(1)) + 1, prev_of(last, chain_alg(last))


def coffer_path():
    if os.environ.get("COFFER"):
        return Path(os.environ["COFFER"])
    return cofferd_path().parent / "coffer"


def coffer_verify(server, token, *paths):
    """`coffer audit verify` against server: its key checks the signed checkpoints."""
    binary = coffer_path()
    assert binary.is_file(), f"coffer not built at {binary}"
    env = {**os.environ, "COFFER_ADDR": server.url, "COFFER_TOKEN": token}
    return subprocess.run([str(binary), "audit", "verify", *map(str, paths)],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


def record_count(path):
    """The request and response lines of path (checkpoints come within a second of them)."""
    return len(check_chain(read_lines(path)))


def audit_hash(server, token, value, device="file"):
    body = ok(server.post(f"sys/audit-hash/{device}", token=token, json={"input": value}))
    assert body["hash"] == body["data"]["hash"], body  # legacy top-level copy
    assert HMAC_RE.match(body["data"]["hash"]), body
    return body["data"]["hash"]


def by_request_id(parsed):
    out = {}
    for obj in parsed:
        out.setdefault(obj["request"]["id"], []).append(obj)
    return out


@contextlib.contextmanager
def running(worker, n):
    """n threads of worker(index, stop) for the with-block; stop is set and they are joined after
    it, whatever happened."""
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(i, stop)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join()


@pytest.fixture
def audited(cofferd_factory, tmp_path):
    log = tmp_path / "audit.log"
    server, keys, root = start_unsealed(cofferd_factory, audit_config(log))
    return server, keys, root, log


# --- lines per request ---------------------------------------------------------------------------

def test_every_logical_request_has_a_request_and_a_response_line(audited):
    server, _keys, root, log = audited
    ids = []
    for _ in range(3):
        assert server.get("sys/health").status_code == 200
        server.seal_status()
    assert log.read_bytes() == b"", "init, unseal, health and seal-status must not be audited"

    w = ok(server.post("secret/data/app/db", token=root, json={"data": {"user": "u"}}))
    r = ok(server.get("secret/data/app/db", token=root))
    m = ok(server.get("sys/mounts", token=root))
    ids += [w["request_id"], r["request_id"], m["request_id"]]
    denied = server.get("secret/data/app/db", token="cof.not-a-token")
    assert_error(denied, 403, "permission denied")
    missing = server.get("nowhere/at/all", token=root)
    assert_error(missing, 404, "unsupported path")

    parsed = check_chain(read_lines(log))
    assert len(parsed) == 2 * 5, [p["request"]["path"] for p in parsed]
    groups = by_request_id(parsed)
    assert len(groups) == 5
    for rid in ids:
        assert [g["type"] for g in groups[rid]] == ["request", "response"], groups[rid]
    for rid, (req, resp) in groups.items():
        assert req["request"]["path"] not in RAW_PATHS
        assert TIME_RE.match(req["time"]) and TIME_RE.match(resp["time"]), req
        assert resp["request"]["path"] == req["request"]["path"]
        assert isinstance(resp["response"]["status"], int)
    read_req, read_resp = groups[r["request_id"]]
    assert read_req["request"]["operation"] == "read"
    assert read_req["request"]["mount_type"] == "kv"
    assert read_req["request"]["remote_address"] == "127.0.0.1"
    assert read_req["auth"]["policies"] == ["root"]
    assert HMAC_RE.match(read_req["auth"]["client_token"])
    assert HMAC_RE.match(read_req["auth"]["accessor"])
    assert read_resp["response"]["status"] == 200
    assert HMAC_RE.match(read_resp["response"]["data"]["data"]["user"]), read_resp
    assert groups[w["request_id"]][0]["request"]["operation"] == "create"
    statuses = sorted(g[1]["response"]["status"] for g in groups.values())
    assert statuses == [200, 200, 200, 403, 404], statuses
    errors = {g[1]["response"]["status"]: g[1].get("error") for g in groups.values()}
    assert errors[403] == "permission denied" and errors[200] is None

    # The raw routes stay unaudited after unseal too.
    before = record_count(log)
    server.get("sys/health")
    server.get("sys/leader")
    server.seal_status()
    assert record_count(log) == before


def test_canaries_never_appear_in_clear_and_audit_hash_finds_them(audited):
    server, _keys, root, log = audited
    token_canary = "cof." + "CanaryTok" + "x" * 34
    secret_canary = "s3cr3t-canary-value-7f3a9d"
    create_token(server, root, id=token_canary, policies=["default"])
    ok(server.get("auth/token/lookup-self", token=token_canary))
    # The secret's name is no more in clear than its value (DESIGN.md §10.1).
    kv2_write(server, root, "name-canary-q9z", {"password": secret_canary})
    assert kv2_read(server, root, "name-canary-q9z")["data"]["password"] == secret_canary
    ok(server.post("sys/auth/approle", token=root, json={"type": "approle"}), 204)
    ok(server.post("auth/approle/role/r1", token=root, json={"token_policies": "default"}), 204)
    role_id = ok(server.get("auth/approle/role/r1/role-id", token=root))["data"]["role_id"]
    secret_id = ok(server.post("auth/approle/role/r1/secret-id", token=root))["data"]["secret_id"]
    login = ok(server.post("auth/approle/login",
                           json={"role_id": role_id, "secret_id": secret_id}))
    login_token = login["auth"]["client_token"]

    # Reads are recorded in the staging file first: no canary there either.
    wait_flushed(log)
    text = log.read_bytes() + Path(f"{log}.stage").read_bytes()
    for needle in token_needles(token_canary) | token_needles(login_token) | \
            token_needles(root) | {secret_canary.encode(), secret_id.encode(),
                                   b"name-canary-q9z"}:
        assert needle not in text, f"{needle!r} is in the audit file in clear"

    parsed = check_chain(read_lines(log))
    hashed = {name: audit_hash(server, root, value) for name, value in
              [("token", token_canary), ("secret", secret_canary), ("secret_id", secret_id),
               ("login_token", login_token)]}
    for name, h in hashed.items():
        assert h.encode() in text, f"the HMAC of the {name} canary is not in the log"
    # Where they are: the token's id in the create request and as client_token later; the
    # secret in the write request and the read response; the secret_id in the secret-id
    # response and the login request; the login token in the login response's auth.
    create = next(p for p in parsed if p["type"] == "request"
                  and p["request"]["path"] == "auth/token/create")
    assert create["request"]["data"]["id"] == hashed["token"]
    assert any(p.get("auth", {}).get("client_token") == hashed["token"] for p in parsed)
    secret_path = audit_hash(server, root, "secret/data/name-canary-q9z")
    write = next(p for p in parsed if p["type"] == "request"
                 and p["request"]["path"] == secret_path)
    assert write["request"]["data"]["data"]["password"] == hashed["secret"]
    assert write["request"]["mount_point"] == "secret/"
    read = next(p for p in parsed if p["type"] == "response"
                and p["request"]["path"] == secret_path and p["request"]["operation"] == "read")
    assert read["response"]["data"]["data"]["password"] == hashed["secret"]
    # Paths outside secrets engines stay readable.
    assert any(p["request"]["path"] == "auth/token/lookup-self" for p in parsed)
    login_req = next(p for p in parsed if p["type"] == "request"
                     and p["request"]["path"] == "auth/approle/login")
    assert login_req["request"]["data"]["secret_id"] == hashed["secret_id"]
    login_resp = next(p for p in parsed if p["type"] == "response"
                      and p["request"]["path"] == "auth/approle/login")
    assert login_resp["response"]["auth"]["client_token"] == hashed["login_token"]
    assert login_resp["response"]["auth"]["policies"] == login["auth"]["policies"]
    # Another input gives another hash; a missing input is refused.
    assert audit_hash(server, root, secret_canary + "x") != hashed["secret"]
    assert_error(server.post("sys/audit-hash/file", token=root, json={}), 400,
                 "input must be a string")
    assert_error(server.post("sys/audit-hash/nosuch", token=root, json={"input": "a"}), 400,
                 "unknown audit device: nosuch/")


def test_chain_fields_are_right(audited):
    server, _keys, root, log = audited
    for i in range(5):
        kv2_write(server, root, f"c/{i}", {"v": str(i)})
    lines = read_lines(log)
    check_chain(lines)
    # The first line is the file's signed header, seq 1 with the zero prev.
    first = json.loads(lines[0])
    assert first["kind"] == "header" and first["seq"] == 1
    assert first["prev"] == chain_alg(lines[0]) + ":" + "0" * 64
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"
    # Each line is compact JSON, the chain's members last, no spaces after separators.
    assert all(line.startswith(b'{"time":') and b',"seq":' in line for line in lines)
    done = coffer_verify(server, root, log)
    assert done.returncode == 0, done.stdout + done.stderr
    # An edited line breaks it (the verifier and this test agree).
    tampered = log.parent / "tampered.log"
    tampered.write_bytes(log.read_bytes().replace(b'"type":"request"', b'"type":"requesT"', 1))
    with pytest.raises(AssertionError):
        check_chain(read_lines(tampered))
    assert coffer_verify(server, root, tampered).returncode != 0


def test_sighup_rotation_continues_the_chain_into_the_new_file(audited):
    server, _keys, root, log = audited
    for i in range(3):
        kv2_write(server, root, f"rot/{i}", {"v": "x"})
    old = log.parent / "audit.log.1"
    os.rename(log, old)
    kv2_read(server, root, "rot/0")  # still written to the renamed file until SIGHUP
    server.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: log.exists(), 5), "SIGHUP did not reopen the audit file"
    for i in range(3):
        kv2_read(server, root, f"rot/{i}")
    old_lines, new_lines = read_lines(old), read_lines(log)
    old_parsed = check_chain(old_lines)
    seq, prev = tail_state(old_lines)
    parsed = check_chain(new_lines, seq, prev)
    assert len(parsed) == 6 and len(old_parsed) == 8
    # The old file ends with a signed "reopen" checkpoint, the new one starts with its header.
    assert json.loads(old_lines[-1])["kind"] == "reopen"
    assert json.loads(new_lines[0])["kind"] == "header"
    done = coffer_verify(server, root, old, log)
    assert done.returncode == 0, done.stdout + done.stderr
    # Out of order, the files do not verify.
    assert coffer_verify(server, root, log, old).returncode != 0


def test_concurrent_reads_writes_and_rotations_keep_one_whole_chain(audited):
    """Staged reads and direct writes from several threads at once, the file rotated twice
    meanwhile: the files verify as one chain, and every answered request has both its lines."""
    server, _keys, root, log = audited
    for i in range(4):
        kv2_write(server, root, f"conc/{i}", {"v": str(i)})
    answered, errors = [], []
    lock = threading.Lock()

    def worker(n, stop):
        session = requests.Session()
        session.trust_env = False
        i = 0
        while not stop.is_set():
            i += 1
            if i % 5 == 0:
                r = session.post(f"{server.url}/v1/secret/data/conc/w{n}",
                                 headers={"X-Vault-Token": root},
                                 json={"data": {"i": str(i)}}, timeout=10)
            else:
                r = session.get(f"{server.url}/v1/secret/data/conc/{i % 4}",
                                headers={"X-Vault-Token": root}, timeout=10)
            with lock:
                (answered if r.status_code == 200 else errors).append(
                    (r.status_code, r.json().get("request_id")))

    rotated = []
    with running(worker, 6):
        for k in (1, 2):
            time.sleep(1.0)
            old = log.parent / f"audit.log.{k}"
            os.rename(log, old)
            rotated.append(old)
            server.proc.send_signal(signal.SIGHUP)
            assert wait_for(lambda: log.exists(), 5), "SIGHUP did not reopen the audit file"
        time.sleep(1.0)
    assert errors == [], errors[:5]
    assert len(answered) > 200, len(answered)
    lines = read_lines(*rotated, log)
    parsed = check_chain(lines)
    assert all(read_lines(p) for p in rotated), "a rotated file holds no line"
    groups = by_request_id(parsed)
    for _status, rid in answered:
        assert [g["type"] for g in groups.get(rid, [])] == ["request", "response"], rid
    done = coffer_verify(server, root, *rotated, log)
    assert done.returncode == 0, done.stdout + done.stderr


def test_reopen_under_reads_keeps_staged_lines_before_its_checkpoint(audited):
    """SIGHUP (no rename: the same file is reopened) many times while readers stage lines: the
    signed "reopen" checkpoint goes after every line staged before it, so the file stays one
    chain in order. A reader that staged a pair between the reopen's flush and its checkpoint
    once left a gap (seq N+2 where N was due) and wrote the pair after the checkpoint."""
    server, _keys, root, log = audited
    kv2_write(server, root, "reopen/a", {"v": "1"})
    errors = []

    def reader(_n, stop):
        session = requests.Session()
        session.trust_env = False
        while not stop.is_set():
            r = session.get(f"{server.url}/v1/secret/data/reopen/a",
                            headers={"X-Vault-Token": root}, timeout=10)
            if r.status_code != 200:
                errors.append(r.status_code)

    with running(reader, 6):
        for _ in range(150):
            server.proc.send_signal(signal.SIGHUP)
            time.sleep(0.01)
        time.sleep(0.2)
    assert errors == [], errors[:5]
    lines = read_lines(log)
    parsed = check_chain(lines)
    assert len(parsed) > 300, len(parsed)
    reopens = sum(1 for raw in lines if b'"kind":"reopen"' in raw)
    assert reopens > 50, reopens
    done = coffer_verify(server, root, log)
    assert done.returncode == 0, done.stdout + done.stderr


def test_restart_continues_the_chain_from_the_last_line(audited):
    server, keys, root, log = audited
    kv2_write(server, root, "restart/a", {"v": "1"})
    before = read_lines(log)
    server.restart()
    server.unseal(keys)
    kv2_read(server, root, "restart/a")
    lines = read_lines(log)
    assert lines[:len(before)] == before
    # The stop signed the file's last line; the chain goes on after it.
    assert json.loads(lines[len(before)])["kind"] == "shutdown"
    parsed = check_chain(lines)
    n_before = len(check_chain(before))
    assert parsed[n_before]["seq"] == len(before) + 2
    # The device's key survived the restart: the same value hashes the same.
    assert parsed[n_before + 1]["response"]["data"]["data"]["v"] == \
        audit_hash(server, root, "1")
    write_req = parsed[0]
    assert write_req["request"]["data"]["data"]["v"] == audit_hash(server, root, "1")


def test_a_reused_token_id_is_audited_with_its_own_auth(cofferd_factory, tmp_path):
    """The auth member of an audit line is cached per token: a token created again with the id of
    a revoked one (same text, same keyed hash) must be recorded with its own accessor, name and
    policies, not the revoked token's."""
    log = tmp_path / "audit.log"
    server, _, root = start_unsealed(cofferd_factory, audit_config(log))
    put_policy(server, root, "p1", 'path "secret/*" { capabilities = ["read"] }')
    tid = "cof.Reuse" + "x" * 38
    first = create_token(server, root, id=tid, policies=["default"], display_name="first")
    ok(lookup_self(server, tid))
    ok(server.post("auth/token/revoke-self", token=tid), 204)
    second = create_token(server, root, id=tid, policies=["p1"], display_name="second")
    body = ok(lookup_self(server, tid))
    wait_flushed(log)
    last = [p for p in check_chain(read_lines(log))
            if p["type"] == "response" and p["request"]["path"] == "auth/token/lookup-self"][-1]
    assert last["auth"]["accessor"] == audit_hash(server, root, second["auth"]["accessor"])
    assert last["auth"]["accessor"] != audit_hash(server, root, first["auth"]["accessor"])
    assert last["auth"]["display_name"] == "token-second"
    assert last["auth"]["policies"] == body["data"]["policies"]


def test_sys_audit_lists_the_config_devices_and_needs_sudo(audited):
    server, _keys, root, log = audited
    body = ok(server.get("sys/audit", token=root))
    want = {"type": "file", "description": "", "options": {"file_path": str(log)},
            "local": False, "path": "file/"}
    # "head": the last checkpoint the server recorded (test_audit_verify.py), or null.
    head = body["data"]["file/"].pop("head")
    assert head is None or set(head) == {"seq", "hash"}, head
    assert body["data"] == {"file/": want}, body
    body["file/"].pop("head")
    assert body["file/"] == want, body  # legacy: top level too (node-vault reads it there)
    user = create_token(server, root, policies=["default"])["auth"]["client_token"]
    assert_error(server.get("sys/audit", token=user), 403, "permission denied")
    assert_error(server.put("sys/audit/other", token=user,
                            json={"type": "file", "options": {"file_path": "/tmp/x"}}), 403,
                 "permission denied")
    # A config device cannot be disabled through the API.
    assert_error(server.request("DELETE", "sys/audit/file", token=root), 400,
                 "audit: audit device file/ is declared in the config file; remove it there")
    assert "file/" in ok(server.get("sys/audit", token=root))["data"]


def test_deepest_allowed_secret_is_written_patched_read_and_audited(audited):
    # 128 levels is the request limit; every recursive walk (the write's dump, the merge patch,
    # the audit of request and response) runs on the write pool's small stacks and must hold.
    server, _keys, root, log = audited
    deep = {"leaf": "deep-secret-value"}
    for _ in range(124):
        deep = {"n": deep}
    kv2_write(server, root, "deep", deep)
    patched = ok(server.request("PATCH", "secret/data/deep", token=root,
                                headers={"Content-Type": "application/merge-patch+json"},
                                json={"data": {"extra": "x"}}))
    assert patched["data"]["version"] == 2
    got = kv2_read(server, root, "deep")["data"]
    assert got["extra"] == "x" and got["n"]["n"]["n"] is not None
    assert b"deep-secret-value" not in log.read_bytes()
    check_chain(read_lines(log))


def test_concurrent_requests_keep_one_whole_chain(audited):
    # Many threads at once: one of them writes the lines of all waiting (one writev), then hands
    # the writing on; the file must still be one chain with every request and response in it.
    import threading
    server, _keys, root, log = audited
    before = record_count(log)
    errors = []

    def worker(n):
        try:
            for i in range(25):
                kv2_write(server, root, f"conc/{n}", {"i": str(i)})
                assert kv2_read(server, root, f"conc/{n}")["data"] == {"i": str(i)}
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    parsed = check_chain(read_lines(log))
    assert len(parsed) - before == 8 * 25 * 2 * 2, len(parsed) - before
    pairs = by_request_id(parsed[before:])
    assert all(sorted(p["type"] for p in v) == ["request", "response"] for v in pairs.values())
    done = coffer_verify(server, root, log)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_creation_is_refused_without_allow_api_audit(audited, tmp_path):
    server, _keys, root, _log = audited
    target = tmp_path / "api.log"
    assert_error(server.put("sys/audit/api", token=root,
                            json={"type": "file", "options": {"file_path": str(target)}}),
                 403, "audit: enabling audit devices through the API is disabled; declare them "
                      'in the config file, or set "allow_api_audit": true and "audit_dir"')
    assert not target.exists()
    assert list(ok(server.get("sys/audit", token=root))["data"]) == ["file/"]


def test_api_creation_only_inside_audit_dir(cofferd_factory, tmp_path):
    adir = tmp_path / "adir"
    adir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (adir / "escape").symlink_to(outside)
    (adir / "link.log").symlink_to(outside / "x.log")
    server, keys, root = start_unsealed(cofferd_factory, {
        **audit_config(tmp_path / "audit.log"), "allow_api_audit": True, "audit_dir": str(adir)})

    def enable(name, file_path, **extra):
        return server.put(f"sys/audit/{name}", token=root,
                          json={"type": "file", "options": {"file_path": str(file_path)},
                                **extra})

    inside = "audit: file_path must be inside audit_dir"
    plain = "audit: file_path must be an absolute path without . or .. segments"
    no_link = "audit: file_path must be a regular file, not a symlink"
    for bad, message in [(outside / "x.log", inside), (f"{adir}/../outside/x.log", plain),
                         (adir / "escape" / "x.log", inside),
                         (adir / "link.log", no_link),
                         ("relative.log", plain),
                         # (a missing folder inside audit_dir is refused with the same words)
                         (adir / "nodir" / "x.log", inside)]:
        assert_error(enable("bad", bad), 400, message)
    assert_error(server.put("sys/audit/bad", token=root,
                            json={"type": "syslog", "options": {"file_path": str(adir / "a")}}),
                 400, 'audit: type must be "file"')
    assert_error(enable("file", adir / "dup.log"), 400, "audit: path already in use: file/")
    assert not any(outside.iterdir()), "nothing may be created outside audit_dir"

    ok(enable("api", adir / "api.log", description="made through the API"), 204)
    listed = ok(server.get("sys/audit", token=root))["data"]
    listed["api/"].pop("head")
    assert listed["api/"] == {"type": "file", "description": "made through the API",
                              "options": {"file_path": str(adir / "api.log")},
                              "local": False, "path": "api/"}, listed
    kv2_write(server, root, "api/x", {"k": "api-secret-value"})
    api_lines = check_chain(read_lines(adir / "api.log"))
    assert api_lines and b"api-secret-value" not in (adir / "api.log").read_bytes()
    # Each device has its own key.
    assert audit_hash(server, root, "v", "api") != audit_hash(server, root, "v", "file")
    write = next(p for p in api_lines if p["type"] == "request"
                 and p["request"]["path"] == audit_hash(server, root, "secret/data/api/x", "api"))
    assert write["request"]["data"]["data"]["k"] == \
        audit_hash(server, root, "api-secret-value", "api")

    # API-created devices are persisted in the barrier: back after a restart, chain intact.
    server.restart()
    server.unseal(keys)
    assert "api/" in ok(server.get("sys/audit", token=root))["data"]
    check_chain(read_lines(adir / "api.log"))
    ok(server.request("DELETE", "sys/audit/api", token=root), 204)
    assert list(ok(server.get("sys/audit", token=root))["data"]) == ["file/"]
    ok(server.request("DELETE", "sys/audit/api", token=root), 204)  # absent: as Vault
    server.restart()
    server.unseal(keys)
    assert list(ok(server.get("sys/audit", token=root))["data"]) == ["file/"]


def test_no_device_means_no_audit_and_requests_work(unsealed, tmp_path):
    server, root = unsealed.server, unsealed.root_token
    kv2_write(server, root, "plain", {"a": "b"})
    assert ok(server.get("sys/audit", token=root))["data"] == {}
    assert_error(server.post("sys/audit-hash/file", token=root, json={"input": "a"}), 400,
                 "unknown audit device: file/")


@pytest.mark.parametrize("audit,named", [
    ([{"type": "syslog", "options": {"file_path": "/tmp/a"}}], "audit[0].type"),
    ([{"type": "file", "options": {"file_path": "/tmp/a"}, "bogus": 1}], "audit[0].bogus"),
    ([{"type": "file", "options": {"file_path": "/tmp/a", "mode": "0600"}}],
     "audit[0].options.mode"),
    ([{"type": "file", "options": {}}], "audit[0].options.file_path"),
    ([{"type": "file", "options": {"file_path": "rel.log"}}], "audit[0].options.file_path"),
    ([{"type": "file", "path": "a/b", "options": {"file_path": "/tmp/a"}}], "audit[0].path"),
    ({"type": "file"}, "audit"),
])
def test_bad_audit_config_exits_1_naming_the_key(tmp_path, audit, named):
    config = base_config(tmp_path, audit=audit)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([str(cofferd_path()), "--config", str(path)], capture_output=True,
                          timeout=15, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    assert named in done.stderr.decode(), done.stderr


def test_allow_api_audit_needs_audit_dir_and_a_boolean(tmp_path):
    for extra, named in [({"allow_api_audit": True}, "audit_dir"),
                         ({"allow_api_audit": "yes", "audit_dir": "/tmp"}, "allow_api_audit"),
                         ({"audit_dir": "relative"}, "audit_dir")]:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(base_config(tmp_path, **extra)))
        done = subprocess.run([str(cofferd_path()), "--config", str(path)],
                              capture_output=True, timeout=15, stdin=subprocess.DEVNULL)
        assert done.returncode == 1 and named in done.stderr.decode(), done.stderr


def test_unwritable_audit_file_stops_the_start(tmp_path):
    config = base_config(tmp_path, **audit_config(tmp_path / "no" / "such" / "dir" / "a.log"))
    config["listen"] = f"127.0.0.1:{free_port()}"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([str(cofferd_path()), "--config", str(path)], capture_output=True,
                          timeout=15, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    assert b"a.log" in done.stderr


# --- fail closed -----------------------------------------------------------------------------

class NamespacedCofferd(Cofferd):
    """cofferd in a private mount namespace whose audit directory is a small tmpfs."""

    def __init__(self, workdir, config, mount_dir):
        super().__init__(workdir, config=config)
        self.mount_dir = mount_dir

    def argv(self):
        inner = super().argv()
        script = (f"mount -t tmpfs -o size=2m,mode=0700 tmpfs '{self.mount_dir}' && "
                  f"exec '{inner[0]}' --config '{inner[2]}'")
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]


def punch_beyond_end(path):
    """Free the blocks allocated beyond the end of path (fallocate PUNCH_HOLE | KEEP_SIZE)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    with open(path, "rb+") as f:
        size = os.fstat(f.fileno()).st_size
        assert libc.fallocate(f.fileno(), 2 | 1, size, 64 << 20) == 0, ctypes.get_errno()


def fill(path):
    """Write to path until the file system is full."""
    chunk = b"\0" * 4096
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        for size in (1024, 256, 64, 16, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a private tmpfs")
def test_fail_closed_when_the_audit_file_cannot_be_written(tmp_path):
    mount_dir = tmp_path / "auditfs"
    mount_dir.mkdir()
    workdir = tmp_path / "srv"
    workdir.mkdir(mode=0o700)
    config = base_config(workdir / "data", **audit_config(mount_dir / "audit.log"))
    server = NamespacedCofferd(workdir, config, mount_dir)
    server.start()
    try:
        init = server.init(1, 1)
        server.unseal(init["keys"])
        root = init["root_token"]
        kv2_write(server, root, "fc/key", {"v": "before"})
        inside = Path(f"/proc/{server.proc.pid}/root{mount_dir}")
        assert (inside / "audit.log").exists(), "the audit file is not on the private tmpfs"
        assert not (mount_dir / "audit.log").exists(), "the tmpfs leaked out of the namespace"

        fill(inside / "filler")
        # The file's last page may still hold a few lines: use it up with the shortest line
        # there is (the request line of a request to no route), so no longer line fits after.
        last = []
        assert wait_for(lambda: last.append(server.post("sys/no-such-route", token=root,
                                                        json={})) or
                        last[-1].status_code == 500, 10, 0), \
            "requests kept succeeding on a full audit file system"
        assert_error(last[-1], 500, disk_full("request"))
        assert_error(server.get("sys/mounts", token=root), 500, disk_full("response"))
        r = server.post("secret/data/fc/key", token=root, json={"data": {"v": "after"}})
        assert_error(r, 500, disk_full("request"))
        r = server.post("secret/data/fc/new", token=root, json={"data": {"v": "x"}})
        assert_error(r, 500, disk_full("request"))

        (inside / "filler").unlink()
        # Not applied: the old version is still the latest, the new key does not exist.
        got = kv2_read(server, root, "fc/key")
        assert got["data"] == {"v": "before"} and got["metadata"]["version"] == 1, got
        assert_error(server.get("secret/data/fc/new", token=root), 404, [])
        # Service resumes, and the chain in the file is whole (failed lines left nothing).
        kv2_write(server, root, "fc/key", {"v": "after"})
        assert kv2_read(server, root, "fc/key")["data"] == {"v": "after"}
        parsed = check_chain(read_lines(inside / "audit.log"))
        new_path = audit_hash(server, root, "secret/data/fc/new")
        refused = [p for p in parsed if p["request"]["path"] == new_path
                   and p["request"]["operation"] != "read"]
        assert refused == [], refused
        key_path = audit_hash(server, root, "secret/data/fc/key")
        assert [p["request"]["operation"] for p in parsed
                if p["request"]["path"] == key_path
                and p["type"] == "request"] == ["create", "read", "update", "read"]
        done = coffer_verify(server, root, inside / "audit.log")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.stop()


# --- staging ---------------------------------------------------------------------------------

class HeldNamespace:
    """A private mount namespace with a small tmpfs at mount_dir, held by a sleeping process so
    that cofferd can be killed and started again inside it (nsenter)."""

    def __init__(self, mount_dir, size="2m"):
        script = (f"mount -t tmpfs -o size={size},mode=0700 tmpfs '{mount_dir}' && "
                  "echo ready && exec sleep 600")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.proc.stdout.readline() == b"ready\n", "the tmpfs could not be mounted"

    def inside(self, path):
        return Path(f"/proc/{self.proc.pid}/root{path}")

    def close(self):
        self.proc.kill()
        self.proc.wait()


class NsenterCofferd(Cofferd):
    def __init__(self, workdir, config, ns):
        super().__init__(workdir, config=config)
        self.ns = ns

    def argv(self):
        return ["nsenter", f"--mount=/proc/{self.ns.proc.pid}/ns/mnt", "--", *super().argv()]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or shutil.which("nsenter") is None,
                    reason="needs root, unshare(1) and nsenter(1) for a private tmpfs")
def test_staged_lines_survive_a_crash_and_reach_the_file_at_the_next_start(tmp_path):
    """A read is answered once its lines are staged (in the page cache, like a write()); when the
    file cannot take them and the process is killed, the next start copies them into the file:
    every read that was answered is in the log, and the chain is whole."""
    mount_dir = tmp_path / "auditfs"
    mount_dir.mkdir()
    workdir = tmp_path / "srv"
    workdir.mkdir(mode=0o700)
    config = base_config(workdir / "data", **audit_config(mount_dir / "audit.log"))
    ns = HeldNamespace(mount_dir)
    server = NsenterCofferd(workdir, config, ns)
    try:
        server.start()
        init = server.init(1, 1)
        server.unseal(init["keys"])
        root = init["root_token"]
        kv2_write(server, root, "sc/key", {"v": "staged"})
        log = ns.inside(mount_dir / "audit.log")
        answered = [server.get("secret/data/sc/key", token=root) for _ in range(3)]
        assert [r.status_code for r in answered] == [200] * 3
        wait_flushed(log)

        fill(ns.inside(mount_dir / "filler"))
        # The log keeps room allocated beyond its end (audit_write.c), which staged lines always
        # fit in: take it away behind the server's back, so that the flusher meets a full disk.
        punch_beyond_end(log)
        fill(ns.inside(mount_dir / "filler"))
        # Reads are staged and answered until the flusher finds the file full; from then on
        # they are written directly, and refused.
        for _ in range(200):
            r = server.get("secret/data/sc/key", token=root)
            if r.status_code != 200:
                break
            answered.append(r)
        assert_error(r, 500, disk_full("response"))
        assert len(answered) > 3, "no read was staged after the file system filled"
        assert stage_pending(log), "nothing stayed staged"
        server.kill9()

        ns.inside(mount_dir / "filler").unlink()
        server.start()
        server.unseal(init["keys"])
        assert "copied" in server.stderr() and "staged lines" in server.stderr(), \
            server.stderr()[-2000:]
        parsed = check_chain(read_lines(log))
        groups = by_request_id(parsed)
        for r in answered:
            rid = r.json()["request_id"]
            assert [g["type"] for g in groups.get(rid, [])] == ["request", "response"], rid
        done = coffer_verify(server, init["root_token"], log)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (ns.inside(mount_dir / "audit.log.stage").stat().st_mode & 0o777) == 0o600
    finally:
        if server.running:
            server.stop()
        ns.close()
