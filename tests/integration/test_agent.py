# SPDX-License-Identifier: Apache-2.0
"""coffer-agent (issue #7, DESIGN.md §7) against a real cofferd --dev. Every agent run happens in a
private mount namespace with its own tmpfs on the destination (unshare -m), and the files are
inspected from inside (a shell that stats them before the namespace ends) or through
/proc/<pid>/root while a sidecar runs: init mode writes every file with the configured owner and
mode plus the ready file, or nothing at all; a non-tmpfs destination is refused unless allowed; a
template with a missing key keeps the old file; AppRole login; sidecar mode follows changes through
sys/watch, notifies the app, renews a short-lived token and removes the files on SIGTERM."""
import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import make_cert, ok, start_dev, wait_for

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare -m and mount")


def agent_path():
    if os.environ.get("COFFER_AGENT"):
        return Path(os.environ["COFFER_AGENT"])
    return Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test")) / "coffer-agent"


@pytest.fixture(scope="module")
def dev(module_cofferd_factory):
    if not agent_path().is_file():
        pytest.fail(f"coffer-agent not found at {agent_path()}")
    return start_dev(module_cofferd_factory)


def put_secret(dev, path, data):
    ok(dev.post(f"secret/data/{path}", token=dev.root, json={"data": data}))


def agent_env(**extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AGENT": str(agent_path())}
    for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Setup:
    """A destination dir, a token file, a template and a config under tmp_path."""

    def __init__(self, tmp_path, dev, token=None):
        self.tmp = Path(tmp_path)
        self.dev = dev
        self.dest = self.tmp / "secrets"
        self.dest.mkdir()
        self.token_file = self.tmp / "token"
        self.token_file.write_text((token or dev.root) + "\n")
        os.chmod(self.token_file, 0o600)

    def config(self, secrets, name="agent.json", **top):
        cfg = {
            "server": {"address": self.dev.url, "ca_cert": None, "timeout": "10s"},
            "auth": {"method": "token_file", "path": str(self.token_file)},
            "destination": {"dir": str(self.dest), "uid": 1234, "gid": 2345, "mode": "0400",
                            "require_tmpfs": True, "ready_file": ".ready"},
            "secrets": secrets,
        }
        for key, value in top.items():
            if key in ("server", "destination"):
                cfg[key].update(value)
            else:
                cfg[key] = value
        path = self.tmp / name
        path.write_text(json.dumps(cfg, indent=2))
        return path

    def template(self, text, name="app.tpl"):
        path = self.tmp / name
        path.write_text(text)
        return str(path)


def run_agents(setup, configs, tmpfs=True, mode=None, wrapper=()):
    """Runs coffer-agent once per config, one after another, in one private mount namespace
    (with a fresh tmpfs on the destination when tmpfs), through the wrapper command when given.
    Returns [(rc, {name: (mode, uid, gid, bytes)})] after each run, and the agents' stderr."""
    script = ""
    if tmpfs:
        script += 'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$DEST" || exit 99\n'
    for i, cfg in enumerate(configs):
        extra = f" --mode {mode}" if mode else ""
        wrap = "".join(f'"{w}" ' for w in wrapper)
        script += f'{wrap}"$AGENT" --config "{cfg}"{extra}; echo "RUN {i} RC=$?"\n'
        script += ('for f in "$DEST"/* "$DEST"/.[!.]*; do [ -e "$f" ] || continue; '
                   f'echo "RUN {i} F $(stat -c "%a %u %g" "$f") $(basename "$f") '
                   '$(base64 -w0 "$f")"; done\n')
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env=agent_env(DEST=setup.dest))
    assert "exit 99" not in proc.stdout and proc.returncode == 0, proc.stderr
    results = [[None, {}] for _ in configs]
    for line in proc.stdout.splitlines():
        parts = line.split(" ")
        if parts[0] != "RUN":
            continue
        i = int(parts[1])
        if parts[2].startswith("RC="):
            results[i][0] = int(parts[2][3:])
        elif parts[2] == "F":
            content = base64.b64decode(parts[7]) if len(parts) > 7 else b""
            results[i][1][parts[6]] = (parts[3], int(parts[4]), int(parts[5]), content)
    return [tuple(r) for r in results], proc.stderr


def three_secrets(setup, prefix):
    put_secret(setup.dev, f"{prefix}/db", {"USER": "app", "PASS": "it's $HOME `id`\nline2"})
    put_secret(setup.dev, f"{prefix}/api", {"token": "tok-123", "other": "x"})
    tpl = setup.template("dsn=postgres://{{ db.USER }}:{{ db.PASS | urlquery }}@db\n"
                         "key={{ api.token | base64 }}\n")
    return [
        {"name": "db", "path": f"secret/data/{prefix}/db", "file": "db.env", "format": "env"},
        {"name": "api", "path": f"secret/data/{prefix}/api", "file": "api-key", "format": "raw",
         "key": "token", "mode": "0440"},
        {"name": "cfg", "file": "app.conf", "template": tpl},
    ]


def test_init_writes_every_file_with_owner_mode_and_ready_file(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    cfg = setup.config(three_secrets(setup, "agent/init"))
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 0, err
    assert set(files) == {"db.env", "api-key", "app.conf", ".ready"}, files
    assert files["db.env"][:3] == ("400", 1234, 2345)
    assert files["api-key"][:3] == ("440", 1234, 2345)
    assert files["app.conf"][:3] == ("400", 1234, 2345)
    assert files[".ready"][:3] == ("400", 1234, 2345)
    assert files["api-key"][3] == b"tok-123"
    assert files["db.env"][3] == b"USER='app'\nPASS='it'\\''s $HOME `id`\nline2'\n"
    assert files["app.conf"][3] == (b"dsn=postgres://app:it%27s%20%24HOME%20%60id%60%0Aline2@db\n"
                                    b"key=" + base64.b64encode(b"tok-123") + b"\n")
    # The env file reads back exactly in a shell.
    env_file = tmp_path / "db.env"
    env_file.write_bytes(files["db.env"][3])
    back = subprocess.run(["sh", "-c", f'. {env_file} && printf %s "$PASS"'],
                          capture_output=True, text=True, check=True)
    assert back.stdout == "it's $HOME `id`\nline2"
    # Nothing secret in the logs, and no temp file left behind.
    for value in ("tok-123", "it's", "line2", dev.root):
        assert value not in err, err
    assert not any(name.startswith(".coffer-tmp") for name in files)


def test_bad_credentials_exit_nonzero_and_write_nothing(tmp_path, dev):
    setup = Setup(tmp_path, dev, token="cof." + "A" * 43)
    cfg = setup.config(three_secrets(setup, "agent/badcred"))
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc != 0
    assert files == {}, files
    assert "permission denied" in err, err


def test_a_missing_secret_writes_no_file_at_all(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/partial")
    secrets.append({"name": "gone", "path": "secret/data/agent/partial/nosuch", "file": "gone"})
    [(rc, files)], err = run_agents(setup, [setup.config(secrets)])
    assert rc != 0
    assert files == {}, files
    assert "secret gone" in err, err


def test_non_tmpfs_destination_is_refused_unless_allowed(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/disk")
    [(rc, files)], err = run_agents(setup, [setup.config(secrets)], tmpfs=False)
    assert rc != 0
    assert "not tmpfs" in err, err
    assert list(setup.dest.iterdir()) == []
    cfg = setup.config(secrets, name="allowed.json", destination={"require_tmpfs": False})
    [(rc, files)], err = run_agents(setup, [cfg], tmpfs=False)
    assert rc == 0, err
    assert files["api-key"] == ("440", 1234, 2345, b"tok-123")


def test_template_with_missing_key_keeps_the_old_file(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/tplkeep")
    good = setup.config(secrets)
    bad_secrets = [dict(s) for s in secrets]
    bad_secrets[2]["template"] = setup.template("user={{ db.USER }} x={{ db.NOSUCH }}\n",
                                                name="bad.tpl")
    bad = setup.config(bad_secrets, name="bad.json")
    results, err = run_agents(setup, [good, bad])
    (rc1, files1), (rc2, files2) = results
    assert rc1 == 0
    assert rc2 != 0
    assert files2 == files1
    assert files2["app.conf"][3].startswith(b"dsn=postgres://app:")
    assert 'no key "NOSUCH" in secret db' in err, err


def test_config_errors_name_the_key(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/cfgerr")
    secrets[1]["format"] = "yaml"
    [(rc, files)], err = run_agents(setup, [setup.config(secrets)])
    assert rc != 0 and files == {}
    assert "secrets[1].format: must be raw, json, env or template" in err, err


def probe_path():
    return Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test")) / "tests" / "sandbox_probe"


def test_without_landlock_the_agent_warns_or_refuses_when_required(tmp_path, dev):
    """A kernel without Landlock, simulated by sandbox_probe nolandlock (a seccomp filter that
    makes landlock_create_ruleset fail with EOPNOTSUPP, then exec): the agent warns at warning
    level and writes its files; with "require_landlock": true it refuses and writes nothing."""
    if not probe_path().is_file():
        pytest.fail(f"{probe_path()} is not built")
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/landlock")
    plain = setup.config(secrets)
    required = setup.config(secrets, name="required.json", require_landlock=True)
    wrap = (str(probe_path()), "nolandlock")
    [(rc, files)], err = run_agents(setup, [plain], wrapper=wrap)
    assert rc == 0, err
    assert files["api-key"][3] == b"tok-123"
    assert "[WARN]  sandbox: the kernel has no Landlock (Operation not supported)" in err, err
    [(rc, files)], err = run_agents(setup, [required], wrapper=wrap)
    assert rc == 1 and files == {}, err
    assert ("[ERROR] sandbox: require_landlock is true but the kernel has no Landlock "
            "(Operation not supported)") in err, err
    # The same config where the kernel has Landlock: it runs, without the warning.
    [(rc, files)], err = run_agents(setup, [required])
    if landlock_abi() >= 1:
        assert rc == 0 and files["api-key"][3] == b"tok-123", err
        assert "no Landlock" not in err, err
    else:
        assert rc == 1 and "require_landlock is true" in err, err


def test_require_landlock_must_be_a_boolean(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    cfg = setup.config(three_secrets(setup, "agent/llbool"), require_landlock="yes")
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 1 and files == {}
    assert "require_landlock: must be true or false" in err, err


def landlock_abi():
    import ctypes
    if os.uname().machine not in ("x86_64", "aarch64"):
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0), ctypes.c_uint32(1))


def test_approle_login_and_secret_id_file_removal(tmp_path, dev):
    ok(dev.post("sys/auth/approle", token=dev.root, json={"type": "approle"}), 204)
    ok(dev.post("sys/policy/agent-read", token=dev.root,
                json={"policy": 'path "secret/data/agent/*" { capabilities = ["read"] }'}), 204)
    ok(dev.post("auth/approle/role/agent", token=dev.root,
                json={"token_policies": "agent-read", "token_ttl": "1h"}), 204)
    role_id = ok(dev.get("auth/approle/role/agent/role-id", token=dev.root))["data"]["role_id"]
    secret_id = ok(dev.post("auth/approle/role/agent/secret-id", token=dev.root,
                            json={}))["data"]["secret_id"]
    setup = Setup(tmp_path, dev)
    (tmp_path / "role_id").write_text(role_id + "\n")
    (tmp_path / "secret_id").write_text(secret_id + "\n")
    os.chmod(tmp_path / "secret_id", 0o600)
    auth = {"method": "approle", "mount": "approle", "role_id_file": str(tmp_path / "role_id"),
            "secret_id_file": str(tmp_path / "secret_id"), "remove_secret_id_file": True}
    cfg = setup.config(three_secrets(setup, "agent/approle"), auth=auth)
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 0, err
    assert files["api-key"][3] == b"tok-123"
    assert not (tmp_path / "secret_id").exists()
    assert secret_id not in err
    # A wrong secret_id fails and writes nothing.
    (tmp_path / "secret_id").write_text("not-the-secret-id\n")
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc != 0 and files == {}


class Sidecar:
    """A sidecar agent in its own mount namespace; files read through /proc/<pid>/root."""

    def __init__(self, setup, cfg, tmpfs=True, **env):
        self.setup = setup
        self.stderr_path = setup.tmp / "sidecar.log"
        script = f'exec "$AGENT" --config "{cfg}" --mode sidecar\n'
        if tmpfs:
            script = 'mount -t tmpfs -o size=1m,mode=0755 tmpfs "$DEST" || exit 99\n' + script
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                env=agent_env(DEST=setup.dest, **env))

    def path(self, name):
        return Path(f"/proc/{self.proc.pid}/root") / str(self.setup.dest).lstrip("/") / name

    def read(self, name):
        try:
            return self.path(name).read_bytes()
        except OSError:
            return None

    def log(self):
        return self.stderr_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


def assert_updates_stay_fresh(side, dev, path, file, n, prefix, period_s=2.0):
    """Writes {"v": f"{prefix}{i}"} to secret path for i in 1..n, one every period_s seconds;
    each value must be in the sidecar's file within period_s. Returns the seconds it all took."""
    late = []
    start = time.monotonic()
    for i in range(1, n + 1):
        t0 = time.monotonic()
        want = f"{prefix}{i}".encode()
        put_secret(dev, path, {"v": want.decode()})
        if not wait_for(lambda: side.read(file) == want, period_s, interval_s=0.02):
            late.append((i, round(time.monotonic() - start, 1)))
        time.sleep(max(0.0, t0 + period_s - time.monotonic()))
    assert late == [], f"updates late (>{period_s} s): {late}; log:\n{side.log()[-4000:]}"
    assert side.proc.poll() is None, side.log()
    return time.monotonic() - start


def test_sidecar_follows_changes_notifies_and_cleans_up(tmp_path, dev):
    hups = []
    old = signal.signal(signal.SIGUSR1, lambda *_: hups.append(1))
    setup = Setup(tmp_path, dev)
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    secrets = three_secrets(setup, "agent/sidecar")
    cfg = setup.config(secrets, mode="sidecar", watch=True, poll_interval="5m",
                       notify={"signal": "SIGUSR1", "pid_file": str(pid_file)},
                       on_exit={"remove_files": True})
    side = Sidecar(setup, cfg)
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert side.read("api-key") == b"tok-123"
        stat = os.stat(side.path("api-key"))
        assert (stat.st_mode & 0o777, stat.st_uid, stat.st_gid) == (0o440, 1234, 2345)
        # A change arrives through sys/watch within a second or two and notifies the app.
        put_secret(dev, "agent/sidecar/api", {"token": "tok-456"})
        assert wait_for(lambda: side.read("api-key") == b"tok-456", 10), side.log()
        assert wait_for(lambda: hups, 5), side.log()
        assert b"key=" + base64.b64encode(b"tok-456") in side.read("app.conf")
        # The template's key disappears: an error is logged and the old file stays.
        before = side.read("app.conf")
        put_secret(dev, "agent/sidecar/db", {"USER": "app2"})
        assert wait_for(lambda: "keeping the old file" in side.log(), 10), side.log()
        assert side.read("app.conf") == before
        assert side.read("db.env") == b"USER='app2'\n"
        # A secret that disappears keeps its old file; the others still follow their changes,
        # and the agent picks the secret up again when it comes back.
        ok(dev.request("DELETE", "secret/data/agent/sidecar/api", token=dev.root), 204)
        put_secret(dev, "agent/sidecar/db", {"USER": "app3"})
        assert wait_for(lambda: side.read("db.env") == b"USER='app3'\n", 10), side.log()
        assert side.read("api-key") == b"tok-456"
        put_secret(dev, "agent/sidecar/api", {"token": "tok-789"})
        assert wait_for(lambda: side.read("api-key") == b"tok-789", 10), side.log()
        for value in ("tok-456", "tok-789", "app3"):
            assert value not in side.log()
    finally:
        rc = side.stop()
        signal.signal(signal.SIGUSR1, old)
    assert rc == 0, side.log()


def test_sidecar_renews_a_short_token(tmp_path, dev):
    token = ok(dev.post("auth/token/create", token=dev.root,
                        json={"ttl": "3s", "policies": ["root"]}))["auth"]["client_token"]
    setup = Setup(tmp_path, dev, token=token)
    secrets = three_secrets(setup, "agent/renew")
    cfg = setup.config(secrets, mode="sidecar", poll_interval="5m",
                       destination={"require_tmpfs": False}, on_exit={"remove_files": True})
    side = Sidecar(setup, cfg, tmpfs=False, COFFER_LOG_LEVEL="debug")
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        time.sleep(5)  # past the first TTL: only renewals keep the token alive
        put_secret(dev, "agent/renew/api", {"token": "tok-renewed"})
        assert wait_for(lambda: side.read("api-key") == b"tok-renewed", 10), side.log()
        assert ok(dev.post("auth/token/lookup", token=dev.root,
                           json={"token": token}))["data"]["ttl"] > 0
        assert "token renewed" in side.log()
        assert side.log().count("logged in") == 1, side.log()
    finally:
        rc = side.stop()
    assert rc == 0, side.log()
    # on_exit.remove_files: SIGTERM removed every file (visible here: no private tmpfs).
    assert list(setup.dest.iterdir()) == []


def test_print_seccomp_profile_and_version():
    proc = subprocess.run([str(agent_path()), "--print-seccomp-profile"], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, env=agent_env())
    assert proc.returncode == 0, proc.stderr
    profile = json.loads(proc.stdout)
    assert "syscalls" in profile
    proc = subprocess.run([str(agent_path()), "--version"], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S, env=agent_env())
    assert proc.returncode == 0 and proc.stdout.startswith("coffer-agent ")


def test_sidecar_polls_when_watch_is_off(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    secrets = three_secrets(setup, "agent/poll")
    cfg = setup.config(secrets, mode="sidecar", watch=False, poll_interval="1s")
    side = Sidecar(setup, cfg)
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        put_secret(dev, "agent/poll/api", {"token": "tok-polled"})
        assert wait_for(lambda: side.read("api-key") == b"tok-polled", 10), side.log()
        assert "by polling" in side.log()
    finally:
        rc = side.stop()
    assert rc == 0, side.log()


def test_more_paths_than_one_watch_takes_fall_back_to_polling(tmp_path, dev):
    """sys/watch takes at most 256 paths (API.md): with 300 secrets the server refuses the watch
    with 400 and the agent polls instead, and still follows a change. (Most of the secrets only
    feed a template, so that the files fit the test's small tmpfs.)"""
    setup = Setup(tmp_path, dev)
    secrets = []
    for i in range(300):
        put_secret(dev, f"agent/many/s{i}", {"v": f"value-{i}"})
        secrets.append({"name": f"s{i}", "path": f"secret/data/agent/many/s{i}"})
    secrets[123].update({"file": "s123", "format": "raw", "key": "v"})
    secrets.append({"name": "all", "file": "all.txt", "template": setup.template(
        "".join(f"{{{{ s{i}.v }}}}\n" for i in range(300)))})
    cfg = setup.config(secrets, mode="sidecar", watch=True, poll_interval="1s")
    side = Sidecar(setup, cfg)
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 30), side.log()
        assert side.read("all.txt").splitlines()[299] == b"value-299"
        put_secret(dev, "agent/many/s123", {"v": "changed"})
        assert wait_for(lambda: side.read("s123") == b"changed", 15), side.log()
        assert "sys/watch unavailable (HTTP 400)" in side.log(), side.log()
    finally:
        rc = side.stop()
    assert rc == 0, side.log()


def test_owner_and_mode_are_set_before_any_content(tmp_path, dev):
    """Traced with strace: each temp file is created O_EXCL|O_NOFOLLOW with its final mode relative
    to the directory fd, gets fchown before its first write, is synced and closed, and only then
    renamed over its final name. No chmod of any kind (the sandbox forbids them all)."""
    import re
    import shutil
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    setup = Setup(tmp_path, dev)
    cfg = setup.config(three_secrets(setup, "agent/strace"))
    trace = tmp_path / "trace.txt"
    # LeakSanitizer cannot run under ptrace.
    asan_no_leaks = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    script = ('mount -t tmpfs -o size=1m,mode=0755 tmpfs "$DEST" || exit 99\n'
              f'strace -f -qq -s 0 -o "{trace}" -e trace=openat,fchown,fchmod,fchmodat,chmod,write,'
              f'fsync,close,renameat,renameat2,rename "$AGENT" --config "{cfg}"\n')
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env=agent_env(DEST=setup.dest, ASAN_OPTIONS=asan_no_leaks))
    assert proc.returncode == 0, proc.stderr
    events = {}  # temp name -> list of calls on its fd, then "rename <final>"
    fd_name = {}
    modes = {}  # temp name -> the mode it was created with
    for line in trace.read_text().splitlines():
        m = re.match(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if not m:
            continue
        call, args, ret = m.group(1), m.group(2), int(m.group(3))
        if call == "openat" and ".coffer-tmp" in args:
            name = re.search(r'"([^"]+)"', args).group(1)
            assert "O_CREAT" in args and "O_EXCL" in args and "O_NOFOLLOW" in args, line
            assert not args.startswith("AT_FDCWD"), line
            assert ret >= 0, line
            modes[name] = args.rstrip().rsplit(", ", 1)[1]
            fd_name[ret] = name
            events[name] = ["open"]
        elif call in ("fchmod", "fchmodat", "chmod"):
            assert False, line
        elif call in ("fchown", "write", "fsync", "close"):
            fd = int(args.split(",")[0])
            if fd in fd_name:
                events[fd_name[fd]].append(call)
                if call == "close":
                    del fd_name[fd]
        elif call.startswith("rename") and ".coffer-tmp" in args:
            assert not args.startswith("AT_FDCWD"), line
            names = re.findall(r'"([^"]+)"', args)
            events[names[0]].append("rename " + names[1])
    finals = {}
    for name, calls in events.items():
        assert calls[:2] == ["open", "fchown"], (name, calls)
        assert calls[-3:-1] == ["fsync", "close"] and calls[-1].startswith("rename "), (name, calls)
        assert set(calls[2:-3]) <= {"write"}, (name, calls)
        finals[calls[-1][7:]] = modes[name]
    # Created with the final mode (api-key's own 0440, the default 0400 for the others).
    assert finals == {"db.env": "0400", "api-key": "0440", "app.conf": "0400", ".ready": "0400"}, \
        finals


def test_sidecar_logs_in_again_when_the_max_ttl_ends(tmp_path, dev):
    """AppRole tokens that live 4 s at most: renewal runs into the max TTL and the agent logs in
    again with the secret_id it kept in memory (its file is gone)."""
    if ok(dev.get("sys/auth", token=dev.root)).get("data", {}).get("approle/") is None:
        ok(dev.post("sys/auth/approle", token=dev.root, json={"type": "approle"}), 204)
    ok(dev.post("auth/approle/role/short", token=dev.root,
                json={"token_policies": "root", "token_ttl": "2s", "token_max_ttl": "4s"}), 204)
    role_id = ok(dev.get("auth/approle/role/short/role-id", token=dev.root))["data"]["role_id"]
    secret_id = ok(dev.post("auth/approle/role/short/secret-id", token=dev.root,
                            json={}))["data"]["secret_id"]
    setup = Setup(tmp_path, dev)
    (tmp_path / "role_id").write_text(role_id)
    (tmp_path / "secret_id").write_text(secret_id)
    auth = {"method": "approle", "role_id_file": str(tmp_path / "role_id"),
            "secret_id_file": str(tmp_path / "secret_id"), "remove_secret_id_file": True}
    cfg = setup.config(three_secrets(setup, "agent/relogin"), auth=auth, mode="sidecar")
    side = Sidecar(setup, cfg, COFFER_LOG_LEVEL="debug")
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert not (tmp_path / "secret_id").exists()
        assert wait_for(lambda: side.log().count("logged in") >= 2, 15), side.log()
        log = side.log()
        first, second = log.index("logged in"), log.index("logged in", log.index("logged in") + 1)
        assert "token renewed" in log[first:second], log
        put_secret(dev, "agent/relogin/api", {"token": "tok-relogin"})
        assert wait_for(lambda: side.read("api-key") == b"tok-relogin", 10), side.log()
        assert secret_id not in side.log()
    finally:
        rc = side.stop()
    assert rc == 0, side.log()


def test_init_over_https_verifies_the_server_with_ca_cert(tmp_path, cofferd_factory):
    # TLS is read and checked after the sandbox is on: the CA file, the handshake, then the files.
    cert, key = make_cert(tmp_path)
    server = cofferd_factory({"tls_cert_file": str(cert), "tls_key_file": str(key)},
                             ca_file=cert)
    assert server.url.startswith("https://")
    init = server.init(1, 1)
    server.unseal(init["keys"])
    server.root = init["root_token"]
    put_secret(server, "agent/tls", {"token": "tls-secret"})
    setup = Setup(tmp_path, server)
    secrets = [{"name": "a", "path": "secret/data/agent/tls", "file": "a", "format": "raw",
                "key": "token"}]
    trusted = setup.config(secrets, name="trusted.json", server={"ca_cert": str(cert)})
    untrusted = setup.config(secrets, name="untrusted.json")
    [(rc_bad, files_bad), (rc_ok, files_ok)], err = run_agents(setup, [untrusted, trusted])
    assert rc_bad != 0 and files_bad == {}, err
    assert rc_ok == 0, err
    assert files_ok["a"][3] == b"tls-secret"
