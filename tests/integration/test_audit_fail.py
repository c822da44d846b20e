# SPDX-License-Identifier: Apache-2.0
"""What a full audit disk does (issue 12, finding 9): a change is refused before it runs, so a 500
never hides a committed change (or, where the room set aside for its response line could not hold
it, the answer says the change was applied); sys/health answers 503 (auditfailcode) while no audit
device can write and 200 again once the disk is freed, without a restart. And finding 7: the
sys/capabilities* audit lines name the paths asked about only by their HMAC."""
import json
import os
import ctypes
import re
import shutil
from pathlib import Path

import pytest
import requests

from conftest import (Cofferd, assert_error, base_config, create_token, kv2_read, kv2_write, ok,
                      wait_for)

needs_namespace = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare(1) for a private tmpfs")


def audit_config(log_path):
    return {"audit": [{"type": "file", "options": {"file_path": str(log_path)}}]}


# The device's error on a full tmpfs (the byte count and the temporary path vary).
DISK_FULL = (r"file/: (no room for \d+ more bytes in|cannot write) /\S+/audit\.log: "
             r"No space left on device")
REQUEST_NOT_RECORDED = re.compile("audit: the request could not be recorded: " + DISK_FULL)
APPLIED_NOT_RECORDED = re.compile(
    "audit: the change was applied but its response could not be recorded: " + DISK_FULL)
BAD_CODE = "invalid status code in query"


class TmpfsCofferd(Cofferd):
    """cofferd in a private mount namespace whose audit directory is a small tmpfs; the test
    reaches it through /proc/PID/root."""

    def __init__(self, workdir, config, mount_dir, size="4m"):
        super().__init__(workdir, config=config)
        self.mount_dir = mount_dir
        self.size = size

    def argv(self):
        inner = super().argv()
        script = (f"mount -t tmpfs -o size={self.size},mode=0700 tmpfs '{self.mount_dir}' && "
                  f"exec '{inner[0]}' --config '{inner[2]}'")
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]

    def inside(self, name):
        return Path(f"/proc/{self.proc.pid}/root{self.mount_dir}") / name


def fill(path):
    """Write to path until the file system is full."""
    with open(path, "ab", buffering=0) as f:
        for size in (65536, 4096, 1024, 64, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass


def available(log):
    """Bytes the log can still grow by: its last allocated page (and any room allocated beyond its
    end) plus the free space of its file system."""
    st = os.stat(log)
    vfs = os.statvfs(log)
    return st.st_blocks * 512 - st.st_size + vfs.f_bavail * vfs.f_frsize


def last_write_request_len(log):
    """Length (newline included) and data key length of the last request line of a KV write."""
    for raw in reversed(log.read_bytes().split(b"\n")[:-1]):
        obj = json.loads(raw)
        if obj["type"] == "request" and obj["request"]["operation"] in ("create", "update"):
            data = obj["request"].get("data", {}).get("data", {})
            if len(data) == 1:
                return len(raw) + 1, len(next(iter(data)))
    raise AssertionError("no KV write in the audit log")


def punch_beyond_end(path):
    """Free the blocks allocated beyond the end of path (fallocate PUNCH_HOLE | KEEP_SIZE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    with open(path, "rb+") as f:
        size = os.fstat(f.fileno()).st_size
        assert libc.fallocate(f.fileno(), 2 | 1, size, 64 << 20) == 0, ctypes.get_errno()


def write_until_refused(server, token, log, expected):
    """KV writes to af/key until one is not a 200, the data key sized (when the log has only its
    own last page left) so that the request line just fits and the response line cannot.
    Returns (the refused answer, its data, the data and version of the last accepted write)."""
    data, version = expected
    for i in range(3000):
        line_len, key_len = last_write_request_len(log)
        base = line_len - key_len
        spare = available(log)
        if spare - base < 64 and (log.parent / "pad").exists():
            (log.parent / "pad").unlink()
            spare = available(log)
        k = spare - base - 1 if 0 < spare - base - 1 < 3500 else 8
        new = {("k%d" % i).ljust(k, "x"): "v%d" % i}
        r = server.post("secret/data/af/key", token=token, json={"data": new})
        if r.status_code != 200:
            return r, new, (data, version)
        data, version = new, version + 1
    pytest.fail("3000 writes were recorded on a full disk")


def health(server, query=""):
    return requests.get(f"{server.url}/v1/sys/health{query}", timeout=10,
                        headers={"Connection": "close"})


@needs_namespace
def test_full_audit_disk_refuses_a_change_before_it_runs_and_health_reports_it(tmp_path):
    mount_dir = tmp_path / "auditfs"
    mount_dir.mkdir()
    workdir = tmp_path / "srv"
    workdir.mkdir(mode=0o700)
    config = base_config(workdir / "data", **audit_config(mount_dir / "audit.log"))
    server = TmpfsCofferd(workdir, config, mount_dir)
    server.start()
    try:
        init = server.init(1, 1)
        server.unseal(init["keys"])
        root = init["root_token"]
        log = server.inside("audit.log")
        kv2_write(server, root, "af/key", {"k0": "v0"})
        assert log.exists() and not (mount_dir / "audit.log").exists(), "no private tmpfs"
        before = health(server)

        # One page left for the log beyond what it has allocated, then nothing.
        (server.inside("pad")).write_bytes(b"\0" * 4096)
        fill(server.inside("filler"))
        # Write until a write is refused; where the log has only its own last page left (no
        # room set aside beyond it), the write that used to be committed behind a 500.
        r, data, (expected, version) = write_until_refused(server, root, log, ({"k0": "v0"}, 1))
        body = assert_error(r, 500)
        message = body["errors"][0]
        assert message.startswith("audit: "), body
        if "the change was applied" in message:
            expected, version = data, version + 1
        # While full: what health says (checked below), and every logical request fails.
        full = [health(server), health(server, "?auditfailcode=299"),
                health(server, "?auditfailcode=x")]
        assert_error(server.post("secret/data/af/other", token=root,
                                 json={"data": {"a": "b"}}), 500, REQUEST_NOT_RECORDED)

        # Freed. A 500 that does not say the change was applied left nothing changed.
        server.inside("filler").unlink()
        recovered = wait_for(lambda: health(server).status_code == 200, 5, 0.1)
        got = kv2_read(server, root, "af/key")
        assert got["data"] == expected and got["metadata"]["version"] == version, \
            (f"a write answered {message!r} and left the secret at version "
             f"{got['metadata']['version']} (keys of {list(map(len, got['data']))} letters), "
             f"not at version {version}")
        assert_error(r, 500, REQUEST_NOT_RECORDED)
        assert_error(server.get("secret/data/af/other", token=root), 404, [])

        # Health: 503 by default (like sealed), the code from auditfailcode, the reason in the
        # body; 200 again once freed, with no request and no restart.
        assert full[0].status_code == 503, f"health while the audit disk was full: {full[0].text}"
        assert before.status_code == 200 and before.json().get("audit_writable") is True, \
            before.text
        assert full[0].json()["audit_writable"] is False and full[0].json()["sealed"] is False
        assert full[1].status_code == 299
        assert_error(full[2], 400, BAD_CODE)
        assert recovered, "health did not recover after the audit disk was freed"
        assert health(server).json()["audit_writable"] is True
        kv2_write(server, root, "af/key", {"after": "freed"})
        assert kv2_read(server, root, "af/key")["data"] == {"after": "freed"}
    except BaseException:
        server.kill9()
        raise
    server.stop()


def test_health_auditfailcode_must_be_a_status_code(unsealed):
    base = f"{unsealed.server.url}/v1/sys/health"
    assert requests.get(base + "?auditfailcode=299", timeout=10).status_code == 200
    assert_error(requests.get(base + "?auditfailcode=1000", timeout=10), 400, BAD_CODE)
    assert requests.get(base, timeout=10).json()["audit_writable"] is True


def test_capabilities_audit_lines_hmac_the_paths_asked_about(cofferd_factory, tmp_path):
    log = tmp_path / "caps.log"
    server = cofferd_factory(config_overrides=audit_config(log))
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    other = create_token(server, root, policies=["default"])["auth"]
    paths = ["secret/data/needle-one-payroll", "kv1/needle-two-launch-codes"]
    ok(server.post("sys/capabilities-self", token=root, json={"paths": paths}))
    ok(server.post("sys/capabilities", token=root,
                   json={"token": other["client_token"], "paths": [paths[0]]}))
    ok(server.post("sys/capabilities-accessor", token=root,
                   json={"accessor": other["accessor"], "paths": paths}))
    text = log.read_text()
    for needle in ("needle-one", "needle-two"):
        assert needle not in text, [ln for ln in text.splitlines() if needle in ln][0][:600]
    hashes = {p: ok(server.post("sys/audit-hash/file", token=root,
                                json={"input": p}))["data"]["hash"] for p in paths}
    responses = [json.loads(ln) for ln in text.splitlines()
                 if json.loads(ln)["type"] == "response"
                 and json.loads(ln)["request"]["path"].startswith("sys/capabilities")]
    assert len(responses) == 3, responses
    for obj in responses:
        data = obj["response"]["data"]
        assert "capabilities" in data, obj
        assert set(data) - {"capabilities"} <= set(hashes.values()), obj
        assert hashes[paths[0]] in data, obj


@needs_namespace
def test_a_change_whose_response_line_cannot_be_written_says_it_was_applied(tmp_path):
    """Where the room set aside cannot help (taken away here behind the server's back, as an
    I/O error would), the answer says the change was applied, and it was."""
    mount_dir = tmp_path / "auditfs"
    mount_dir.mkdir()
    workdir = tmp_path / "srv"
    workdir.mkdir(mode=0o700)
    config = base_config(workdir / "data", **audit_config(mount_dir / "audit.log"))
    server = TmpfsCofferd(workdir, config, mount_dir)
    server.start()
    try:
        init = server.init(1, 1)
        server.unseal(init["keys"])
        root = init["root_token"]
        log = server.inside("audit.log")
        kv2_write(server, root, "af/key", {"k0": "v0"})
        server.inside("pad").write_bytes(b"\0" * 4096)
        fill(server.inside("filler"))
        punch_beyond_end(log)
        fill(server.inside("filler"))
        r, data, (_, version) = write_until_refused(server, root, log, ({"k0": "v0"}, 1))
        assert_error(r, 500, APPLIED_NOT_RECORDED)
        server.inside("filler").unlink()
        got = kv2_read(server, root, "af/key")
        assert got["data"] == data and got["metadata"]["version"] == version + 1, \
            f"version {got['metadata']['version']}, want {version + 1}"
    except BaseException:
        server.kill9()
        raise
    server.stop()
