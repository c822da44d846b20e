# SPDX-License-Identifier: Apache-2.0
"""The agent's sandbox (agent/sandbox.c, DESIGN.md §7 and §10.8), through the sandbox_probe helper
(tests/integration/sandbox_probe.c): after sandbox_apply() a forbidden syscall kills the process
with SIGSYS, the agent's ordinary work still succeeds, writes outside the destination fail with
EACCES where the kernel has Landlock, and deploy/seccomp/coffer-agent.json is the table's output."""
import ctypes
import http.server
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
PROBE = BUILD / "tests" / "sandbox_probe"
PROFILE = REPO / "deploy" / "seccomp" / "coffer-agent.json"

# Never in the profile, at start-up or run time.
FORBIDDEN = {
    "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2",
    "pivot_root", "chroot", "init_module", "finit_module", "delete_module", "bpf",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "setns", "unshare",
    "fork", "vfork", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "open_by_handle_at", "name_to_handle_at", "io_uring_setup", "mknodat", "mknod",
    "symlinkat", "linkat", "setuid", "setgid", "setresuid", "setresgid", "capset",
    "settimeofday", "clock_settime", "acct", "quotactl", "syslog", "personality",
}


def run_probe(*args, env=None, timeout=60):
    if not PROBE.exists():
        pytest.fail(f"{PROBE} is not built")
    return subprocess.run([str(PROBE), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture
def dest():
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    d = tempfile.mkdtemp(prefix="coffer-sandbox-", dir=base)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b'{"initialized": true, "sealed": false}' if self.path == "/v1/sys/health" else b"{}"
        self.send_response(200 if self.path == "/v1/sys/health" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def landlock_abi():
    nr = {"x86_64": 444, "aarch64": 444}.get(os.uname().machine)
    if nr is None:
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(nr), None, ctypes.c_size_t(0), ctypes.c_uint32(1))


@pytest.mark.parametrize("mode", ["exec", "fork", "ptrace"])
def test_forbidden_syscall_after_apply_kills_with_sigsys(dest, mode):
    r = run_probe(mode, dest)
    assert "applied" in r.stdout, r.stderr
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)


def test_execve_without_sandbox_works():
    # The control for the test above: the same execve succeeds when the sandbox is not applied.
    r = run_probe("exec-unconfined")
    assert r.returncode == 0, (r.returncode, r.stderr)


def test_agent_work_succeeds_after_apply(dest, server):
    r = run_probe("work", dest, server, "localhost")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["applied", "http 200", "resolved localhost", "ok"]
    out = dest / "out"
    assert out.read_text() == "s3cr3t\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o400
    assert sorted(p.name for p in dest.iterdir()) == ["out"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv")
def test_agent_work_succeeds_after_apply_as_non_root(dest, server):
    # Without CAP_IPC_LOCK mlockall fails (best effort) and fchown can only keep the own ids.
    os.chown(dest, 65534, 65534)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(PROBE),
                        "work", str(dest), server], capture_output=True, text=True, timeout=60)
    if r.returncode == 127 or "Permission denied" in r.stderr and "applied" not in r.stdout:
        pytest.skip(f"nobody cannot run {PROBE}: {r.stderr.strip()}")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["applied", "http 200", "ok"]
    assert (dest / "out").stat().st_uid == 65534


NS_SCRIPT = r"""
import http.server, socket, struct, subprocess, sys, threading
hosts, resolv, probe, dest = sys.argv[1:5]
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)

def dns():  # A 127.0.0.1 for every name, no AAAA
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 53))
    while True:
        q, addr = s.recvfrom(512)
        i = 12
        while q[i]:
            i += q[i] + 1
        is_a = struct.unpack(">H", q[i + 1:i + 3])[0] == 1
        ans = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
               if is_a else b"")
        hdr = q[:2] + struct.pack(">HHHHH", 0x8180, 1, int(is_a), 0, 0)
        s.sendto(hdr + q[12:i + 5] + ans, addr)

class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *a):
        pass

threading.Thread(target=dns, daemon=True).start()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 8200), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
r = subprocess.run([probe, "work", dest, "http://coffer-dns.test:8200", "coffer-multi"],
                   capture_output=True, text=True, timeout=60)
sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)
sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None
                    or shutil.which("ip") is None, reason="needs root, unshare and ip")
def test_dns_and_several_addresses_work_after_apply(dest, tmp_path):
    # In private mount and network namespaces: a name from DNS (libcurl's threaded resolver,
    # glibc's stub resolver) and a name with two addresses (getaddrinfo sorts them over netlink).
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n127.0.0.1 coffer-multi\n::1 coffer-multi\n")
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:2 attempts:2\n")
    r = subprocess.run(["unshare", "-mn", sys.executable, "-c", NS_SCRIPT, str(tmp_path / "hosts"),
                        str(tmp_path / "resolv.conf"), str(PROBE), str(dest)],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "unshare failed" in r.stderr:
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert r.stdout.splitlines() == ["applied", "http 200", "resolved coffer-multi", "ok"]


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_write_outside_dest_fails_with_eacces(dest, tmp_path):
    outside = tmp_path / "outside"
    r = run_probe("write-outside", dest, outside)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["applied", "errno 13"]
    assert not outside.exists()
    # The control: the same open below the destination succeeds.
    r = run_probe("write-outside", dest, dest / "inside")
    assert r.stdout.splitlines() == ["applied", "errno 0"], r.stderr
    assert (dest / "inside").exists()


def test_profile_is_the_deploy_file_byte_for_byte():
    r = run_probe("profile")
    assert r.returncode == 0, r.stderr
    assert r.stdout == PROFILE.read_text(), (
        "deploy/seccomp/coffer-agent.json is stale: regenerate it with "
        "`coffer-agent --print-seccomp-profile > deploy/seccomp/coffer-agent.json` "
        "(or `tests/sandbox_probe profile`)")


def test_profile_shape():
    p = json.loads(PROFILE.read_text())
    assert p["defaultAction"] in ("SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS")
    assert set(p["architectures"]) == {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"}
    names = set()
    for rule in p["syscalls"]:
        assert set(rule) <= {"names", "action", "args", "errnoRet", "comment"}, rule
        assert rule["names"] and all(isinstance(n, str) for n in rule["names"])
        assert rule["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"), rule
        assert (rule["action"] == "SCMP_ACT_ERRNO") == ("errnoRet" in rule)
        assert rule["comment"], rule
        for a in rule.get("args", []):
            assert set(a) == {"index", "value", "valueTwo", "op"}, a
            assert 0 <= a["index"] <= 5 and a["op"] in ("SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ")
        names.update(rule["names"])
    assert not names & FORBIDDEN, names & FORBIDDEN
    for needed in ("read", "write", "openat", "renameat", "fchmod", "fchown", "connect",
                   "socket", "clock_nanosleep", "kill", "exit_group", "getrandom"):
        assert needed in names
    # clone is allowed for threads only; execve only at start-up (the in-process filter kills it).
    clone = [r for r in p["syscalls"] if r["names"] == ["clone"]]
    assert clone and all(r.get("args") for r in clone)
    execve = [r for r in p["syscalls"] if r["names"] == ["execve"]]
    assert len(execve) == 1 and execve[0]["comment"].startswith("start-up only")
    sockets = [r for r in p["syscalls"] if r["names"] == ["socket"]]
    assert sockets and all(r.get("args") for r in sockets)
