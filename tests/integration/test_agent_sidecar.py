# SPDX-License-Identifier: Apache-2.0
"""coffer-agent's sidecar mode under churn, token expiry and a server restart (issue #7, DESIGN.md
§7). Each agent runs in a private mount namespace with its own tmpfs (the Setup and Sidecar helpers
of test_agent.py): a reader in that same namespace, looping on the files during 100 updates, never
sees a partial file or a wrong owner or mode; AppRole tokens that live 3 s (6 s at most) keep the
files fresh for 20 s through renewals and new logins; and a server stopped and started again on the
same port (keyfile seal, so it comes back unsealed with the same data and token) finds the agent
still running, and a change made after the restart reaches the file."""
import hashlib
import json
import os
import subprocess
import time
import types

import pytest

import coffer_testlib
from conftest import enable_secrets, ok, start_dev, wait_for
from test_agent import Setup, Sidecar, agent_env, agent_path, assert_updates_stay_fresh, \
    put_secret

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare -m and mount")

UID, GID = 1234, 2345


@pytest.fixture(scope="module")
def dev(module_cofferd_factory):
    if not agent_path().is_file():
        pytest.fail(f"coffer-agent not found at {agent_path()}")
    return start_dev(module_cofferd_factory)


def value(n):
    """The n-th value written: about 4 KiB, so that a file written in place could be caught half
    done, and self-checking, so that the reader knows every valid content without being told."""
    return f"v{n:03d}:" + hashlib.sha256(str(n).encode()).hexdigest() * 64


# Runs in the agent's mount namespace (nsenter): reads both files through the destination path
# until the stop file appears, checking each read against value(n) and each file's owner and mode
# (fstat of the fd read, and stat of the name). Prints {reads, failures, first_failures, seen}.
READER = r'''
import hashlib, json, os, sys, time
dest, stop, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
modes = {"value.raw": 0o440, "value.json": 0o400}
def value(n):
    return f"v{n:03d}:" + hashlib.sha256(str(n).encode()).hexdigest() * 64
def check(name, body):
    if name == "value.json":
        d = json.loads(body)
        if set(d) != {"n", "v"} or d["v"] != value(d["n"]):
            raise ValueError("json content does not match its n")
        return d["n"]
    text = body.decode()
    n = int(text[1:4])
    if text != value(n):
        raise ValueError(f"raw content of {len(text)} bytes is not value({n})")
    return n
reads, failures, first, last = 0, 0, [], {}
seen = {name: set() for name in modes}
while not os.path.exists(stop):
    for name, mode in modes.items():
        path = os.path.join(dest, name)
        try:
            st = os.stat(path)
            fd = os.open(path, os.O_RDONLY)
            try:
                fst = os.fstat(fd)
                chunks = []
                while True:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            finally:
                os.close(fd)
            reads += 1
            for s in (st, fst):
                if (s.st_mode & 0o7777, s.st_uid, s.st_gid) != (mode, uid, gid):
                    raise ValueError(f"mode {s.st_mode & 0o7777:o} owner {s.st_uid}:{s.st_gid}")
            n = check(name, b"".join(chunks))
            if n < last.get(name, -1):
                raise ValueError(f"went back from {last[name]} to {n}")
            last[name] = n
            seen[name].add(n)
        except Exception as e:
            failures += 1
            if len(first) < 5:
                first.append(f"{name}: {type(e).__name__}: {e}")
print(json.dumps({"reads": reads, "failures": failures, "first_failures": first,
                  "seen": {k: len(v) for k, v in seen.items()}}))
'''


def test_reader_never_sees_a_partial_file_or_a_wrong_mode_during_100_updates(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    put_secret(dev, "sidecar/churn", {"n": 0, "v": value(0)})
    secrets = [
        {"name": "raw", "path": "secret/data/sidecar/churn", "file": "value.raw",
         "format": "raw", "key": "v", "mode": "0440"},
        {"name": "js", "path": "secret/data/sidecar/churn", "file": "value.json"},
    ]
    cfg = setup.config(secrets, mode="sidecar", watch=True, poll_interval="5m")
    side = Sidecar(setup, cfg)
    stop = tmp_path / "reader.stop"
    reader = None
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert side.read("value.raw") == value(0).encode()
        reader = subprocess.Popen(
            ["nsenter", "--mount", f"--target={side.proc.pid}", "/usr/bin/python3", "-c", READER,
             str(setup.dest), str(stop), str(UID), str(GID)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=agent_env())
        time.sleep(0.2)  # the reader is looping before the first update
        assert reader.poll() is None, reader.communicate()
        for n in range(1, 101):
            put_secret(dev, "sidecar/churn", {"n": n, "v": value(n)})
            # Each update is on disk before the next one, so the files really change 100 times.
            assert wait_for(lambda: side.read("value.raw") == value(n).encode(), 5), \
                f"update {n} did not arrive; log:\n{side.log()[-3000:]}"
        stop.touch()
        out, err = reader.communicate(timeout=20)
        assert reader.returncode == 0, err
        result = json.loads(out)
        print("reader:", result)
        assert result["failures"] == 0, result
        assert result["reads"] >= 1000, result
        # The reader watched the files change under it, not one settled state.
        assert min(result["seen"].values()) >= 20, result
        assert side.read("value.raw") == value(100).encode()
        assert json.loads(side.read("value.json")) == {"n": 100, "v": value(100)}
        assert side.log().count("secret raw changed") >= 100, side.log()[-3000:]
    finally:
        stop.touch()
        if reader is not None and reader.poll() is None:
            reader.kill()
            reader.wait()
        rc = side.stop()
    assert rc == 0, side.log()


def test_short_approle_tokens_keep_the_files_fresh_for_20s(tmp_path, dev):
    """token_ttl 3 s, token_explicit_max_ttl 6 s: the agent renews at 2/3 of the TTL, runs into
    the max TTL and logs in again with the secret_id it kept, over and over; a change every 2 s
    must reach the file within 2 s throughout."""
    if "approle/" not in ok(dev.get("sys/auth", token=dev.root)).get("data", {}):
        ok(dev.post("sys/auth/approle", token=dev.root, json={"type": "approle"}), 204)
    ok(dev.post("sys/policy/sidecar-read", token=dev.root,
                json={"policy": 'path "secret/data/sidecar/*" { capabilities = ["read"] }'}), 204)
    ok(dev.post("auth/approle/role/sidecar3s", token=dev.root,
                json={"token_policies": "sidecar-read", "token_ttl": "3s",
                      "token_explicit_max_ttl": "6s"}), 204)
    role_id = ok(dev.get("auth/approle/role/sidecar3s/role-id", token=dev.root))["data"]["role_id"]
    secret_id = ok(dev.post("auth/approle/role/sidecar3s/secret-id", token=dev.root,
                            json={}))["data"]["secret_id"]
    setup = Setup(tmp_path, dev)
    (tmp_path / "role_id").write_text(role_id + "\n")
    (tmp_path / "secret_id").write_text(secret_id + "\n")
    os.chmod(tmp_path / "secret_id", 0o600)
    auth = {"method": "approle", "role_id_file": str(tmp_path / "role_id"),
            "secret_id_file": str(tmp_path / "secret_id"), "remove_secret_id_file": True}
    put_secret(dev, "sidecar/fresh", {"v": "fresh-0"})
    secrets = [{"name": "fresh", "path": "secret/data/sidecar/fresh", "file": "fresh",
                "format": "raw", "key": "v"}]
    cfg = setup.config(secrets, auth=auth, mode="sidecar", watch=True, poll_interval="5m")
    side = Sidecar(setup, cfg, COFFER_LOG_LEVEL="debug")
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert side.read("fresh") == b"fresh-0"
        took = assert_updates_stay_fresh(side, dev, "sidecar/fresh", "fresh", 10, "fresh-")
        assert took >= 19.5
        log = side.log()
        assert "token renewed" in log, log
        # 20 s of 6 s tokens: the first login and at least two more.
        assert log.count("logged in") >= 3, log
        first, second = log.index("logged in"), log.index("logged in", log.index("logged in") + 1)
        assert "token renewed" in log[first:second], log
        assert secret_id not in log and "fresh-" not in log
    finally:
        rc = side.stop()
    assert rc == 0, side.log()


def test_sidecar_survives_a_server_restart_on_the_same_port(tmp_path, cofferd_factory,
                                                            monkeypatch):
    if not agent_path().is_file():
        pytest.fail(f"coffer-agent not found at {agent_path()}")
    key_path = tmp_path / "unseal.key"
    key_path.write_bytes(os.urandom(32))
    os.chmod(key_path, 0o600)
    server = cofferd_factory({"seal": {"type": "keyfile", "path": str(key_path)}})
    root = ok(server.put("sys/init", json={}))["root_token"]
    if "secret/" not in ok(server.get("sys/mounts", token=root)).get("data", {}):
        enable_secrets(server, root, "secret", version=2)
    srv = types.SimpleNamespace(url=server.url, root=root, post=server.post)
    put_secret(srv, "sidecar/restart", {"v": "before"})
    setup = Setup(tmp_path, srv)
    secrets = [{"name": "r", "path": "secret/data/sidecar/restart", "file": "r", "format": "raw",
                "key": "v"}]
    cfg = setup.config(secrets, mode="sidecar", watch=True, poll_interval="5m")
    side = Sidecar(setup, cfg)
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert side.read("r") == b"before"
        port = server.port
        server.stop()
        # Down long enough for the agent to notice and back off at least once.
        assert wait_for(lambda: "retrying in" in side.log(), 10), side.log()
        time.sleep(1)
        monkeypatch.setattr(coffer_testlib, "free_port", lambda: port)
        server.start()
        assert server.port == port
        status = server.seal_status()
        assert status["sealed"] is False, status
        assert side.proc.poll() is None, side.log()
        put_secret(srv, "sidecar/restart", {"v": "after"})
        assert wait_for(lambda: side.read("r") == b"after", 20), side.log()
        assert side.proc.poll() is None, side.log()
        assert side.read(".ready") is not None
    finally:
        rc = side.stop()
    assert rc == 0, side.log()
