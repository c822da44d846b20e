# SPDX-License-Identifier: Apache-2.0
"""The agent's sandbox (agent/sandbox.c, DESIGN.md §7 and §10.8), through the sandbox_probe helper
(tests/integration/sandbox_probe.c): after sandbox_apply() a forbidden syscall kills the process
with SIGSYS (exec, fork, ptrace, every path-based chown and chmod, fchmod on any descriptor, kill
with a signal other than the notify signal, tgkill of another process), fchown gives no other owner
than the configured one, no capability is left to a root agent whose files keep its own ids, the
agent's ordinary work still succeeds, writes outside the destination and reads outside the files it
needs (/etc/shadow) fail with EACCES where the kernel has Landlock, and
deploy/seccomp/coffer-agent.json is the table's output."""
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
    "symlinkat", "linkat", "setuid", "setgid", "setresuid", "setresgid",
    "settimeofday", "clock_settime", "acct", "quotactl", "syslog", "personality",
    # No chmod of any kind, no chown by path: files get their mode at creation and their owner
    # through their own fd (fchown, pinned in-process to the configured uid:gid).
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
}
# Only before the in-process filter (capabilities are dropped by sandbox_apply()).
START_ONLY = {"execve", "capset", "capget", "mlockall", "seccomp", "landlock_restrict_self"}


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
    for needed in ("read", "write", "openat", "renameat", "fchown", "connect",
                   "socket", "clock_nanosleep", "kill", "exit_group", "getrandom"):
        assert needed in names
    for name in START_ONLY:
        rows = [r for r in p["syscalls"] if r["names"] == [name]]
        assert rows and all(r["comment"].startswith("start-up only") for r in rows), name
    # kill: never to a negative pid (a process group, or -1: every process) in the profile either.
    kill = [r for r in p["syscalls"] if r["names"] == ["kill"]]
    assert kill and all({"index": 0, "value": 2**31, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
                        in r.get("args", []) for r in kill), kill
    # clone is allowed for threads only; execve only at start-up (the in-process filter kills it).
    clone = [r for r in p["syscalls"] if r["names"] == ["clone"]]
    assert clone and all(r.get("args") for r in clone)
    execve = [r for r in p["syscalls"] if r["names"] == ["execve"]]
    assert len(execve) == 1 and execve[0]["comment"].startswith("start-up only")
    sockets = [r for r in p["syscalls"] if r["names"] == ["socket"]]
    assert sockets and all(r.get("args") for r in sockets)


@pytest.fixture
def victim(tmp_path):
    """A file outside the destination, owned by 1234:2345, mode 0644."""
    f = tmp_path / "victim"
    f.write_text("x\n")
    os.chmod(f, 0o644)
    if os.geteuid() == 0:
        os.chown(f, 1234, 2345)
    return f


def owner_mode(path):
    st = path.stat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("mode", ["fchownat", "chown", "chmod", "fchmodat", "fchmodat2"])
def test_path_based_chown_and_chmod_kill_after_apply(dest, victim, mode):
    before = owner_mode(victim)
    r = run_probe(mode, dest, victim)
    assert "applied" in r.stdout, r.stderr
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert owner_mode(victim) == before
    # Inside the destination too: the agent has no use for them.
    inside = dest / "f"
    inside.write_text("x")
    r = run_probe(mode, dest, inside)
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)


def test_fchmod_on_a_descriptor_kills_after_apply(dest, victim):
    # The descriptor is opened before the sandbox (as the agent's CA file or destination are):
    # no fchmod at all is allowed, so no descriptor can have its mode changed, inside the
    # destination or outside (files are created with their final mode).
    before = owner_mode(victim)
    r = run_probe("fchmod", dest, victim)
    assert "applied" in r.stdout, r.stderr
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert owner_mode(victim) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_fchown_gives_only_the_configured_owner(dest, victim):
    before = owner_mode(victim)
    # Another uid:gid than the configured one (the probe's own, root's): killed.
    r = run_probe("fchown", dest, victim, 4321, 5432)
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    # The configured owner is allowed, but with no capability left (the files keep the agent's
    # ids) the kernel refuses to give a file of another user to root: EPERM.
    r = run_probe("fchown", dest, victim, 0, 0)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["applied", "errno 1"]
    assert owner_mode(victim) == before


@pytest.fixture
def sleeper():
    p = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


def test_kill_with_another_signal_kills_after_apply(dest, sleeper):
    # The notify signal is SIGHUP (the probe's default): SIGTERM to the app is a kill of the
    # probe by SIGSYS, and the app lives on.
    r = run_probe("kill", dest, sleeper.pid, int(signal.SIGTERM))
    assert "applied" in r.stdout, r.stderr
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert sleeper.poll() is None
    # A process group (a negative pid) even with the notify signal.
    r = run_probe("kill", dest, -sleeper.pid, int(signal.SIGHUP))
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert sleeper.poll() is None
    # tgkill reaches the process itself only (raise, abort).
    r = run_probe("tgkill", dest, sleeper.pid)
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert sleeper.poll() is None
    # No notify signal configured: no kill at all.
    env = dict(os.environ, SANDBOX_PROBE_SIGNAL="0")
    r = run_probe("kill", dest, sleeper.pid, int(signal.SIGHUP), env=env)
    assert r.returncode == -signal.SIGSYS, (r.returncode, r.stdout, r.stderr)
    assert sleeper.poll() is None
    # The control: the notify signal reaches the app.
    r = run_probe("kill", dest, sleeper.pid, int(signal.SIGHUP))
    assert r.returncode == 0 and r.stdout.splitlines() == ["applied", "errno 0"], r.stderr
    assert sleeper.wait(timeout=10) == -signal.SIGHUP


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock (reads cannot be "
                    "confined; landlock_create_ruleset reports no ABI version)")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, for whom /etc/shadow is readable")
def test_reads_outside_the_allowed_files_fail_with_eacces(dest, tmp_path):
    # The control: without the sandbox, root reads /etc/shadow.
    shadow = Path("/etc/shadow")
    if not shadow.exists():
        pytest.skip("no /etc/shadow")
    shadow.read_bytes()
    # The CA file is read as it is (its directory is not: a CA file beside private keys must not
    # open them); the pid file may be replaced by rename, so its directory is readable.
    ca_dir, run_dir = tmp_path / "ca", tmp_path / "run"
    ca_dir.mkdir()
    run_dir.mkdir()
    for f in (ca_dir / "ca.pem", ca_dir / "server.key", run_dir / "app.pid", run_dir / "app.new"):
        f.write_text("x")
    other = tmp_path / "other"
    other.write_text("x")
    env = dict(os.environ, SANDBOX_PROBE_CACERT=str(ca_dir / "ca.pem"),
               SANDBOX_PROBE_PIDFILE=str(run_dir / "app.pid"))
    expect = {
        shadow: 13,
        Path("/etc/passwd"): 13,
        other: 13,
        ca_dir / "server.key": 13,   # beside the CA file
        Path("/etc/ssl/private/ssl-cert-snakeoil.key"): 13,   # beside the CA store
        Path("/etc/ssl/certs/ca-certificates.crt"): 0,       # the CA store
        Path("/etc/hosts"): 0,       # name resolution
        Path("/etc/resolv.conf"): 0,
        ca_dir / "ca.pem": 0,        # a configured file
        run_dir / "app.pid": 0,
        run_dir / "app.new": 0,      # the pid file's directory (a new pid file by rename)
    }
    for path, errno_ in expect.items():
        if not path.exists():
            continue
        r = run_probe("read", dest, path, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == ["applied", f"errno {errno_}"], path


def capabilities(stdout):
    caps = {}
    for line in stdout.splitlines():
        if line.startswith("Cap"):
            name, value = line.split(":")
            caps[name] = int(value, 16)
    return caps


def may_keep_ipc_lock():
    """sandbox_lock_memory(): where RLIMIT_MEMLOCK is finite and cannot be raised (root without
    CAP_SYS_RESOURCE, as in some containers), a non-sanitizer build keeps CAP_IPC_LOCK so that
    its mlockall(MCL_FUTURE) does not make every allocation past the limit fail."""
    import resource
    with open("/proc/self/status") as f:
        eff = int([ln for ln in f if ln.startswith("CapEff")][0].split(":")[1], 16)
    return (resource.getrlimit(resource.RLIMIT_MEMLOCK)[1] != resource.RLIM_INFINITY
            and not eff & (1 << 24))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (an ordinary user has none to drop)")
def test_root_with_its_own_ids_keeps_no_capability(dest):
    r = run_probe("caps", dest)
    assert r.returncode == 0, r.stderr
    caps = capabilities(r.stdout)
    assert set(caps) == {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}, r.stdout
    allowed = 1 << 14 if may_keep_ipc_lock() else 0   # CAP_IPC_LOCK
    assert caps["CapEff"] & ~allowed == 0 and caps["CapPrm"] & ~allowed == 0, r.stdout
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, r.stdout
    assert caps["CapBnd"] & ~allowed == 0, r.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_writing_for_another_owner_keeps_cap_chown_only(dest):
    # The destination (mode 0700, root's, not sticky): CAP_CHOWN to give files to 1234:2345.
    env = dict(os.environ, SANDBOX_PROBE_UID="1234", SANDBOX_PROBE_GID="2345")
    r = run_probe("caps", dest, env=env)
    assert r.returncode == 0, r.stderr
    caps = capabilities(r.stdout)
    allowed = 1 << 14 if may_keep_ipc_lock() else 0
    assert caps["CapEff"] & ~allowed == 1 << 0, r.stdout     # CAP_CHOWN
    assert caps["CapPrm"] & ~allowed == 1 << 0, r.stdout
    # A sticky destination owned by another user: CAP_FOWNER too (replacing that user's files).
    os.chmod(dest, 0o1777)
    os.chown(dest, 4321, 4321)
    r = run_probe("caps", dest, env=env)
    caps = capabilities(r.stdout)
    assert caps["CapEff"] & ~allowed == (1 << 0) | (1 << 3), r.stdout   # + CAP_FOWNER
