# SPDX-License-Identifier: Apache-2.0
"""cofferd confines itself (server/confine.c): once started it runs with no_new_privs under its
seccomp allow-list, a forbidden call kills it with SIGSYS (made through the SIGUSR1 trigger that
only test builds have, COFFER_TEST_HOOKS), and `cofferd --print-seccomp-profile` is
deploy/seccomp/cofferd.json byte for byte. Start-up fails closed: a failed mlockall stops cofferd
unless disable_mlock, and a storage directory that is missing or not cofferd's is named as such.
The rest of the integration suite runs against the confined server too (confinement is on by
default)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (REPO, cofferd_path, dev_store_args, free_port, sqlite_only, start_dev,
                      wait_for)

PROFILE = REPO / "deploy" / "seccomp" / "cofferd.json"
# Never allowed, not even at start-up.
FORBIDDEN = {"ptrace", "mount", "umount2", "fork", "vfork", "execveat", "init_module",
             "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf", "setns",
             "unshare", "pivot_root", "chroot", "process_vm_readv", "process_vm_writev",
             "kill", "keyctl", "add_key", "userfaultfd", "perf_event_open"}
# Allowed in the profile for start-up only: the in-process filter kills them.
START_ONLY = {"execve", "bind", "listen", "mlockall", "seccomp", "chmod", "mkdir"}
NOBODY = 65534


def run(args, timeout=30, **kw):
    return subprocess.run([str(cofferd_path()), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def has_test_hooks():
    return "(test hooks)" in run(["--version"]).stdout


def proc_status(pid):
    """{field: value} of /proc/pid/status."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def test_the_profile_is_the_deploy_file_byte_for_byte():
    done = run(["--print-seccomp-profile"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == PROFILE.read_text(), (
        "deploy/seccomp/cofferd.json is stale: regenerate it with "
        "`cofferd --print-seccomp-profile > deploy/seccomp/cofferd.json`")


def test_the_profile_shape():
    p = json.loads(PROFILE.read_text())
    assert p["defaultAction"] == "SCMP_ACT_ERRNO"
    assert set(p["architectures"]) == {"SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"}
    names = set()
    for rule in p["syscalls"]:
        assert set(rule) <= {"names", "action", "args", "errnoRet", "comment"}, rule
        assert len(rule["names"]) == 1 and rule["comment"], rule
        assert rule["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO"), rule
        assert (rule["action"] == "SCMP_ACT_ERRNO") == ("errnoRet" in rule)
        for a in rule.get("args", []):
            assert set(a) == {"index", "value", "valueTwo", "op"}, a
            assert 0 <= a["index"] <= 5 and a["op"] in ("SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ")
        names.update(rule["names"])
    assert not names & FORBIDDEN, names & FORBIDDEN
    for needed in ("accept4", "openat", "pread64", "pwrite64", "fdatasync", "fcntl", "mmap",
                   "msync", "fallocate", "fadvise64", "sync_file_range", "madvise", "shutdown",
                   "epoll_wait", "eventfd2", "getrandom", "rt_sigtimedwait", "prlimit64",
                   "setrlimit", "timerfd_create", "clone", "futex", "exit_group"):
        assert needed in names, needed
    for name in START_ONLY:
        rows = [r for r in p["syscalls"] if r["names"] == [name]]
        assert rows and all(r["comment"].startswith("start-up only") for r in rows), name
    # Sockets after start-up: TCP out over IPv4 or IPv6 only (TokenReview, JWK sets, DNS); an
    # AF_UNIX socket (glibc's nscd probe) fails with EACCES; any other family kills.
    sockets = [r for r in p["syscalls"] if r["names"] == ["socket"]
               and not r["comment"].startswith("start-up only")]
    families = {a["value"]: r["action"] for r in sockets for a in r.get("args", [])
                if a["index"] == 0 and a["op"] == "SCMP_CMP_EQ"}
    assert len(sockets) == 3 and all(r.get("args") for r in sockets), sockets
    assert families == {socket.AF_INET: "SCMP_ACT_ALLOW", socket.AF_INET6: "SCMP_ACT_ALLOW",
                        socket.AF_UNIX: "SCMP_ACT_ERRNO"}, families
    # A thread, never a process: clone needs CLONE_THREAD and no CLONE_NEW* flag.
    clone = [r for r in p["syscalls"] if r["names"] == ["clone"]]
    assert clone and all(r.get("args") for r in clone), clone
    clone3 = [r for r in p["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                       "comment": clone3[0]["comment"]}], clone3
    # Memory never becomes executable after start-up (only the loader's start-up rows allow it).
    for name in ("mmap", "mprotect"):
        run_rows = [r for r in p["syscalls"] if r["names"] == [name]
                    and not r["comment"].startswith("start-up only")]
        assert run_rows and all({"index": 2, "value": 4, "valueTwo": 0,
                                 "op": "SCMP_CMP_MASKED_EQ"} in r["args"] for r in run_rows)


def test_the_deploy_files_use_the_profile():
    import yaml
    compose = yaml.safe_load((REPO / "deploy" / "compose" / "compose.yaml").read_text())
    assert "seccomp=../seccomp/cofferd.json" in compose["services"]["cofferd"]["security_opt"]
    docs = [d for d in yaml.safe_load_all((REPO / "deploy" / "k8s" / "cofferd.yaml").read_text())
            if d]
    sts = [d for d in docs if d["kind"] == "StatefulSet"][0]
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["seccompProfile"] == {
        "type": "Localhost", "localhostProfile": "profiles/cofferd.json"}
    unit = (REPO / "deploy" / "systemd" / "cofferd.service").read_text()
    assert "SystemCallFilter=seccomp\n" in unit and "deploy/seccomp/cofferd.json" in unit
    assert "NoNewPrivileges=yes" in unit and "LimitMEMLOCK=infinity" in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_systemd_filter_lets_every_call_of_the_profile_through():
    """Each call the profile allows (start-up and run time) is in the unit's SystemCallFilter;
    one it lacked would fail with EPERM there."""
    def expand(group):
        out = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                             text=True, check=True).stdout
        calls = set()
        for word in (ln.strip() for ln in out.splitlines()):
            if word.startswith("@") and word != group:
                calls |= expand(word)
            elif word and not word.startswith(("#", "@")):
                calls.add(word)
        return calls
    allowed, denied = set(), set()
    for line in (REPO / "deploy" / "systemd" / "cofferd.service").read_text().splitlines():
        if line.startswith("SystemCallFilter="):
            for item in line.split("=", 1)[1].split():
                if item.startswith("~"):
                    denied |= expand(item[1:]) if item[1:].startswith("@") else {item[1:]}
                else:
                    allowed |= expand(item) if item.startswith("@") else {item}
    allowed -= denied
    known = expand("@known") if "@known" in subprocess.run(
        ["systemd-analyze", "syscall-filter"], capture_output=True, text=True).stdout else None
    # fchown: SQLite calls it only when running as root; the unit runs cofferd as User=coffer.
    not_needed = {"fchown"}
    names = {n for r in json.loads(PROFILE.read_text())["syscalls"] for n in r["names"]
             if r["action"] == "SCMP_ACT_ALLOW"}
    missing = {n for n in names - allowed - not_needed if known is None or n in known}
    assert not missing, f"the systemd unit's SystemCallFilter refuses {sorted(missing)}"


def test_the_running_server_is_confined(cofferd_factory):
    dev = start_dev(cofferd_factory)
    # The listener answers a moment before the filter is loaded.
    assert wait_for(lambda: "confined: seccomp allow-list loaded" in dev.stderr(), 10), \
        dev.stderr()
    status = proc_status(dev.proc.pid)
    assert status["NoNewPrivs"] == "1", status
    assert status["Seccomp"] == "2", status  # filter mode


def test_disable_seccomp_warns_and_loads_no_filter(cofferd_factory):
    dev = start_dev(cofferd_factory, extra_args=["--disable-seccomp"])
    # As above, the listener answers a moment before the confinement step (which here warns).
    assert wait_for(lambda: "[WARN]  --disable-seccomp: the seccomp allow-list is not loaded"
                    in dev.stderr(), 10), dev.stderr()
    assert proc_status(dev.proc.pid)["Seccomp"] == "0"


needs_hooks = pytest.mark.skipif(not has_test_hooks(),
                                 reason="cofferd built without COFFER_TEST_HOOKS")


def trigger(dev, timeout_s=15):
    """SIGUSR1 (the test hook) once the filter is in place (or known to be off), and the exit
    status cofferd then ends with."""
    assert wait_for(lambda: "confined: seccomp allow-list loaded" in dev.stderr()
                    or "--disable-seccomp: " in dev.stderr(), 10), dev.stderr()
    proc = dev.proc
    proc.send_signal(signal.SIGUSR1)
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None  # it survived (the factory stops it)
    finally:
        if proc.poll() is not None:
            dev.server.proc = None  # gone: the factory must not stop it


@needs_hooks
@pytest.mark.parametrize("call", ["execve", "fork", "ptrace", "mount", "socket", "mmap_exec"])
def test_a_forbidden_call_kills_the_confined_server(cofferd_factory, monkeypatch, call):
    monkeypatch.setenv("COFFER_TEST_FORBIDDEN_CALL", call)
    dev = start_dev(cofferd_factory)
    # It serves first: the filter is in place while it works.
    assert dev.get("sys/health").status_code == 200
    rc = trigger(dev)
    assert rc == -signal.SIGSYS, f"{call}: exit {rc}; stderr:\n{dev.stderr()[-2000:]}"
    assert f"test hook: making the forbidden call {call}" in dev.stderr()
    assert f"test hook: {call} returned" not in dev.stderr()


def is_asan_build():
    out = subprocess.run(["ldd", str(cofferd_path())], capture_output=True, text=True).stdout
    return "libasan" in out


@needs_hooks
@pytest.mark.skipif(not is_asan_build(), reason="cofferd built without AddressSanitizer")
def test_an_asan_report_survives_the_filter(cofferd_factory, monkeypatch):
    """A sanitizer report made after confinement is printed whole, symbolized, and aborts: the
    filter does not turn it into a SIGSYS without a report."""
    monkeypatch.setenv("COFFER_TEST_FORBIDDEN_CALL", "asan_report")
    monkeypatch.setenv("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=0")
    dev = start_dev(cofferd_factory)
    rc = trigger(dev)
    err = dev.stderr()
    assert rc == -signal.SIGABRT, f"exit {rc}; stderr:\n{err[-3000:]}"
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in err, err[-3000:]
    assert " in confine_test_forbidden " in err and "server/confine.c:" in err, err[-3000:]


@needs_hooks
def test_without_the_filter_the_same_execve_runs(cofferd_factory, monkeypatch):
    """The control: the same trigger without the filter execs /bin/true, which exits 0."""
    monkeypatch.setenv("COFFER_TEST_FORBIDDEN_CALL", "execve")
    dev = start_dev(cofferd_factory, extra_args=["--disable-seccomp"])
    assert trigger(dev) == 0, dev.stderr()[-2000:]


# --- fail closed at start-up ---------------------------------------------------------------------

needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                                or shutil.which("prlimit") is None,
                                reason="needs root, setpriv(1) and prlimit(1) to run as nobody")


def nobody_cmd(args, memlock=None):
    """args for cofferd as uid and gid 65534 without capabilities (RLIMIT_MEMLOCK lowered to
    memlock bytes if given)."""
    limit = ["prlimit", f"--memlock={memlock}"] if memlock else []
    return [*limit, "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--", str(cofferd_path()), *args]


# LeakSanitizer cannot stop the threads of a non-dumpable process without CAP_SYS_PTRACE, nor
# under the container profile (no ptrace).
NO_LSAN_ENV = {**os.environ, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}


def as_nobody(args, memlock=None, timeout=30):
    """Runs cofferd as nobody (nobody_cmd) to its end."""
    try:
        return subprocess.run(nobody_cmd(args, memlock), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, env=NO_LSAN_ENV)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"cofferd kept running: {e.stderr}")


@pytest.fixture
def open_tmp():
    """A directory that nobody may enter (pytest's tmp_path is root's, mode 0700)."""
    d = Path(tempfile.mkdtemp(prefix="coffer-confine-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def nobody_dir(parent):
    d = parent / "nobody"
    d.mkdir()
    os.chown(d, NOBODY, NOBODY)
    d.chmod(0o700)
    return d


@needs_root
def test_a_failed_mlockall_stops_the_server(open_tmp):
    data = nobody_dir(open_tmp)
    # 64 KiB cannot hold cofferd's mappings: mlockall fails with ENOMEM.
    done = as_nobody(["--dev", "--listen", f"127.0.0.1:{free_port()}", *dev_store_args(data)],
                     memlock="65536")
    assert done.returncode == 1, done.stderr
    assert "[ERROR] mlockall failed (" in done.stderr, done.stderr
    assert "set disable_mlock (--disable-mlock)" in done.stderr, done.stderr
    assert "listening" not in done.stderr, done.stderr
    assert not (data / "coffer.db").exists()


@needs_root
def test_disable_mlock_starts_where_mlockall_would_fail(open_tmp, tmp_path):
    data = nobody_dir(open_tmp)
    cmd = nobody_cmd(["--dev", "--disable-mlock", "--listen", f"127.0.0.1:{free_port()}",
                      *dev_store_args(data)], "65536")
    err = tmp_path / "stderr.log"
    with open(err, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=f, stdin=subprocess.DEVNULL,
                                env=NO_LSAN_ENV)
    try:
        assert wait_for(lambda: "listening on" in err.read_text() or proc.poll() is not None,
                        30)
        assert proc.poll() is None, err.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, err.read_text()


@sqlite_only("the data directory and its coffer.db")
def test_a_missing_data_directory_is_named(tmp_path):
    missing = tmp_path / "missing"
    done = run(["--dev", "--disable-mlock", "--listen", f"127.0.0.1:{free_port()}",
                "--data-dir", str(missing)])
    assert done.returncode == 1, done.stderr
    assert (f"[ERROR] storage: cannot create or open {missing}/coffer.db: the directory "
            f"{missing} does not exist") in done.stderr, done.stderr
    assert f"cofferd cannot start without its storage at {missing}/coffer.db" in done.stderr
    assert "storage or I/O error" not in done.stderr, done.stderr


@sqlite_only("the data directory and its coffer.db")
def test_a_file_that_is_not_a_database_is_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "coffer.db").write_bytes(os.urandom(8192))
    done = run(["--dev", "--disable-mlock", "--listen", f"127.0.0.1:{free_port()}",
                "--data-dir", str(data)])
    assert done.returncode == 1, done.stderr
    assert (f"[ERROR] storage: cannot open the database {data}/coffer.db: file is not a "
            "database") in done.stderr, done.stderr


@needs_root
@sqlite_only("the data directory and its coffer.db")
def test_a_data_directory_cofferd_may_not_enter_is_named(open_tmp):
    locked = open_tmp / "locked"
    locked.mkdir(mode=0o700)  # root's: nobody may not enter it
    done = as_nobody(["--dev", "--disable-mlock", "--listen", f"127.0.0.1:{free_port()}",
                      "--data-dir", str(locked)])
    assert done.returncode == 1, done.stderr
    assert (f"[ERROR] storage: cannot create or open {locked}/coffer.db: permission denied "
            f"(cofferd runs as uid {NOBODY}, gid {NOBODY}") in done.stderr, done.stderr
    assert "storage or I/O error" not in done.stderr, done.stderr


@needs_root
@sqlite_only("the data directory and its coffer.db")
def test_a_database_cofferd_may_not_write_is_named(open_tmp):
    """The directory is cofferd's but the database file is root's, mode 0600."""
    data = nobody_dir(open_tmp)
    db = data / "coffer.db"
    db.write_bytes(b"")
    db.chmod(0o600)
    done = as_nobody(["--dev", "--disable-mlock", "--listen", f"127.0.0.1:{free_port()}",
                      "--data-dir", str(data)])
    assert done.returncode == 1, done.stderr
    assert f"[ERROR] storage: cannot create or open {db}: permission denied" in done.stderr, \
        done.stderr


# --- the committed profile as a container runtime applies it ---------------------------------

def load_profile_then_exec(without=()):
    """preexec_fn: load deploy/seccomp/cofferd.json as runc would (libseccomp, no_new_privs,
    unlisted calls fail with the default errno), in the child, just before its execve; the calls
    named in without are left out."""
    import ctypes

    class ArgCmp(ctypes.Structure):
        _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                    ("datum_b", ctypes.c_uint64)]
    ops = {"SCMP_CMP_EQ": 4, "SCMP_CMP_MASKED_EQ": 7}
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    profile = json.loads(PROFILE.read_text())
    ctx = lib.seccomp_init(0x00050000 | profile["defaultErrnoRet"])
    for rule in profile["syscalls"]:
        action = 0x7fff0000 if rule["action"] == "SCMP_ACT_ALLOW" else \
            0x00050000 | rule["errnoRet"]
        args = rule.get("args", [])
        cmps = (ArgCmp * max(1, len(args)))(*[
            ArgCmp(a["index"], ops[a["op"]], a["value"], a["valueTwo"]) for a in args])
        for name in set(rule["names"]) - set(without):
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr >= 0:
                assert lib.seccomp_rule_add_array(ctx, action, nr, len(args), cmps) == 0, name
    assert lib.seccomp_load(ctx) == 0


def test_the_committed_profile_lets_cofferd_start_serve_and_stop(tmp_path):
    """cofferd under the profile alone (its own filter comes on top), with mlockall: it starts,
    answers, the coffer CLI run in the same profile reaches it, SIGTERM stops it with 0.
    (LeakSanitizer cannot stop the world under the profile, which has no ptrace.)"""
    port = free_port()
    err = tmp_path / "stderr.log"
    data = tmp_path / "data"
    data.mkdir()
    with open(err, "wb") as f:
        proc = subprocess.Popen([str(cofferd_path()), "--dev", "--listen", f"127.0.0.1:{port}",
                                 *dev_store_args(data)], stdout=subprocess.DEVNULL, stderr=f,
                                stdin=subprocess.DEVNULL, preexec_fn=load_profile_then_exec,
                                env=NO_LSAN_ENV)
    try:
        assert wait_for(lambda: "listening on" in err.read_text() or proc.poll() is not None,
                        30), err.read_text()
        assert proc.poll() is None, err.read_text()
        coffer = os.environ.get("COFFER") or cofferd_path().parent / "coffer"
        cli = subprocess.run([str(coffer), "status"],
                             capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL, preexec_fn=load_profile_then_exec,
                             env={**NO_LSAN_ENV, "COFFER_ADDR": f"http://127.0.0.1:{port}"})
        assert cli.returncode == 0 and "Sealed" in cli.stdout, cli.stdout + cli.stderr
        assert proc_status(proc.pid)["Seccomp_filters"] == "2"  # the profile, then its own
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
    assert rc == 0, err.read_text()


def test_a_filter_that_cannot_be_loaded_stops_the_server(tmp_path):
    """Fail closed: where seccomp() is refused, cofferd stops (exit 1) instead of serving
    unconfined."""
    import functools
    done = subprocess.run([str(cofferd_path()), "--dev", "--disable-mlock", "--listen",
                           f"127.0.0.1:{free_port()}", *dev_store_args(tmp_path)],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                          env=NO_LSAN_ENV,
                          preexec_fn=functools.partial(load_profile_then_exec, ("seccomp",)))
    assert done.returncode == 1, done.stderr
    assert "[ERROR] confine: " in done.stderr, done.stderr
    assert "stopping (--disable-seccomp runs without it)" in done.stderr, done.stderr
    assert "listening on" not in done.stderr, done.stderr
