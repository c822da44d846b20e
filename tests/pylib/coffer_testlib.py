# SPDX-License-Identifier: Apache-2.0
"""Shared helpers and fixtures that run the real cofferd on loopback, for the integration
(tests/integration) and client-compatibility (tests/compat) tests. Each of those folders has a
conftest.py that puts this folder on sys.path and re-exports everything here.

The binary comes from $COFFERD (set by tests/CMakeLists.txt), else $COFFER_BUILD_DIR/cofferd, else
build-test/cofferd. Every server gets a fresh port, a private data dir and a config file with
disable_mlock (mlockall under ASan pins gigabytes of shadow memory). A server that is still running at
teardown gets SIGTERM and must exit 0: a clean shutdown is part of every test.

Storage: SQLite in the server's data dir, or, with COFFER_TEST_STORAGE=postgresql, a table of its
own in the tests' PostgreSQL (COFFER_TEST_PG_URL: tests/pg_cluster.sh, which tests/run.sh starts);
ctest runs the suite both ways (integration-pg/*, compat-pg/*). Tests about the SQLite file itself
are marked sqlite_only(reason).
"""
import base64
import json
import secrets
import os
import re
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
# Every request goes to loopback: a proxy from the environment must not intercept it.
for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)
START_TIMEOUT_S = float(os.environ.get("COFFER_TEST_START_TIMEOUT", "15"))
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
TOKEN_RE = re.compile(r"^cof\.[A-Za-z0-9_-]{43}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def cofferd_path():
    if os.environ.get("COFFERD"):
        return Path(os.environ["COFFERD"])
    build = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
    return build / "cofferd"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s, interval_s=0.05):
    """Polls predicate() until it returns something truthy; returns that, or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval_s)


def assert_error(resp, status, message=None):
    """An error answer: the status, Content-Type exactly application/json, a list of errors; and,
    when message is given, the errors themselves:
      a str        -> errors is exactly [message];
      a re.Pattern -> errors is one message, which the pattern matches in full (for messages that
                      embed variable data: a path, a number, a byte count);
      a list       -> errors is exactly that list (e.g. [] for an empty LIST).
    Returns the JSON body."""
    assert resp.status_code == status, f"want {status}, got {resp.status_code}: {resp.text[:300]}"
    assert resp.headers.get("Content-Type") == "application/json", resp.headers
    body = resp.json()
    assert isinstance(body.get("errors"), list), body
    if message is None:
        return body
    errors = body["errors"]
    if isinstance(message, re.Pattern):
        assert len(errors) == 1 and isinstance(errors[0], str) and message.fullmatch(errors[0]), \
            f"want one error matching {message.pattern!r}, got {errors!r}"
    elif isinstance(message, list):
        assert errors == message, f"want errors {message!r}, got {errors!r}"
    else:
        assert errors == [message], f"want errors [{message!r}], got {errors!r}"
    return body


def b64decode_any(text):
    pad = "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text + pad, validate=True)
    except ValueError:
        return base64.urlsafe_b64decode(text + pad)


# --- storage: SQLite, or PostgreSQL when COFFER_TEST_STORAGE=postgresql ---------------------------

TEST_STORAGE = os.environ.get("COFFER_TEST_STORAGE") or "sqlite"
PG_MODE = TEST_STORAGE == "postgresql"


def pytest_configure(config):
    """A wrong storage mode stops the run before any test: the PostgreSQL pass must never pass by
    skipping (pytest finds this hook through the conftest.py files that re-export this module)."""
    if TEST_STORAGE not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"COFFER_TEST_STORAGE={TEST_STORAGE!r}: want sqlite or postgresql")
    if PG_MODE and not os.environ.get("COFFER_TEST_PG_URL"):
        raise pytest.UsageError("COFFER_TEST_STORAGE=postgresql needs COFFER_TEST_PG_URL: start "
                                "tests/pg_cluster.sh and export its output (tests/run.sh does)")


def sqlite_only(reason):
    """Marks a test (or, as pytestmark, a file) about the SQLite store itself (its file, WAL, data
    dir): skipped when the suite runs against PostgreSQL, with the reason."""
    return pytest.mark.skipif(PG_MODE, reason=f"SQLite-specific: {reason}")


def pg_storage():
    """A PostgreSQL storage block on the tests' database with a new table of its own (an empty
    vault; its HA lock table next to it)."""
    table = "t_" + secrets.token_hex(12)
    return {"type": "postgresql", "connection_url": os.environ["COFFER_TEST_PG_URL"],
            "table": table, "ha_table": table + "_ha"}


def dev_store_args(data_dir):
    """The arguments that give `cofferd --dev` its store: --data-dir DATA_DIR, or in PostgreSQL
    mode --config FILE holding only a new pg_storage() (FILE in DATA_DIR, owned by DATA_DIR's
    owner, which may be the one cofferd runs as)."""
    if not PG_MODE:
        return ["--data-dir", str(data_dir)]
    path = Path(data_dir) / "dev-storage.json"
    path.write_text(json.dumps({"storage": pg_storage()}, indent=2))
    os.chmod(path, 0o600)
    owner = os.stat(data_dir)
    if (owner.st_uid, owner.st_gid) != (os.geteuid(), os.getegid()):
        os.chown(path, owner.st_uid, owner.st_gid)
    return ["--config", str(path)]


def base_config(data_dir, **overrides):
    storage = pg_storage() if PG_MODE else {"type": "sqlite",
                                            "path": str(Path(data_dir) / "coffer.db")}
    config = {
        "listen": "127.0.0.1:0",
        "storage": storage,
        "seal": {"type": "shamir"},
        "disable_mlock": True,
        "log_level": "debug",
        "log_format": "text",
    }
    config.update(overrides)
    return config


class Cofferd:
    """One cofferd process (restartable) with its data dir, config and logs.

    Config mode writes `config` to a file before each start, with a new free port in "listen".
    Dev mode (dev_args not None) runs `cofferd --dev --listen ADDR --disable-mlock --data-dir DIR`
    (in PostgreSQL mode `--config FILE` with a table of its own instead of --data-dir) plus
    dev_args; its store stays the same across restarts.
    """

    def __init__(self, workdir, config=None, dev_args=None, ca_file=None):
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.config = config
        self.config_path = self.workdir / "cofferd.json"
        self.dev_args = dev_args
        self.dev_store = dev_store_args(self.data_dir) if dev_args is not None else None
        self.ca_file = ca_file
        self.scheme = "https" if ca_file else "http"
        self.proc = None
        self.port = None
        self.starts = 0
        self.session = None
        self.stderr_path = None
        self.stdout_path = None
        self.last_exit = None
        self.env = {}  # added to the test's environment at each start

    # --- process ---------------------------------------------------------------------------

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def verify(self):
        return str(self.ca_file) if self.ca_file else True

    def argv(self):
        addr = f"127.0.0.1:{self.port}"
        if self.dev_args is not None:
            return [str(cofferd_path()), "--dev", "--listen", addr, "--disable-mlock",
                    *self.dev_store, *self.dev_args]
        config = dict(self.config)
        config["listen"] = addr
        self.config_path.write_text(json.dumps(config, indent=2))
        os.chmod(self.config_path, 0o600)
        return [str(cofferd_path()), "--config", str(self.config_path)]

    def start(self):
        binary = cofferd_path()
        if not binary.is_file():
            pytest.fail(f"cofferd binary not found at {binary} (set COFFERD or COFFER_BUILD_DIR)")
        assert self.proc is None, "already running"
        # A port picked by free_port() can be taken before cofferd binds it: try a few.
        for _attempt in range(3):
            self.port = free_port()
            self.starts += 1
            self.stderr_path = self.workdir / f"stderr.{self.starts}.log"
            self.stdout_path = self.workdir / f"stdout.{self.starts}.log"
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=err, cwd=self.workdir, start_new_session=True,
                                             env={**os.environ, **self.env})
            self.session = requests.Session()
            # No proxies, netrc or REQUESTS_CA_BUNDLE from the environment: loopback only.
            self.session.trust_env = False
            self.session.verify = self.verify
            answered = wait_for(self._answers, START_TIMEOUT_S)
            rc = self.proc.poll()
            if answered and rc is None:
                return self
            if rc is None:
                self._terminate()
                pytest.fail(f"cofferd did not answer sys/health within {START_TIMEOUT_S}s; "
                            f"stderr:\n{self.stderr()[-3000:]}")
            self.proc = None
            self.last_exit = rc
            if "in use" not in self.stderr().lower():
                pytest.fail(f"cofferd exited {rc} at start; stderr:\n{self.stderr()[-3000:]}")
        pytest.fail("cofferd could not bind a free port three times")

    def _answers(self):
        if self.proc.poll() is not None:
            return True  # checked by the caller
        try:
            requests.get(self.url + "/v1/sys/health", timeout=1, verify=self.verify)
            return True
        except requests.exceptions.RequestException:
            return False

    def _terminate(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; returns (exit code, was killed)."""
        proc, self.proc = self.proc, None
        if self.session:
            self.session.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=STOP_TIMEOUT_S)
            killed = False
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            killed = True
        self.last_exit = rc
        return rc, killed

    @property
    def running(self):
        return self.proc is not None

    def stop(self):
        """Clean shutdown: SIGTERM must make cofferd exit 0 within STOP_TIMEOUT_S."""
        rc, killed = self._terminate()
        assert not killed, f"cofferd ignored SIGTERM for {STOP_TIMEOUT_S}s; stderr:\n" + \
            self.stderr()[-3000:]
        assert rc == 0, f"cofferd exited {rc} after SIGTERM; stderr:\n{self.stderr()[-3000:]}"

    def kill9(self):
        proc, self.proc = self.proc, None
        proc.kill()
        self.last_exit = proc.wait()
        if self.session:
            self.session.close()

    def restart(self):
        self.stop()
        return self.start()

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    def all_stderr_bytes(self):
        return b"".join(p.read_bytes() for p in sorted(self.workdir.glob("stderr.*.log")))

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") if self.stdout_path else ""

    # --- HTTP --------------------------------------------------------------------------------

    def request(self, method, path, token=None, headers=None, **kw):
        headers = dict(headers or {})
        if token is not None:
            headers["X-Vault-Token"] = token
        kw.setdefault("timeout", HTTP_TIMEOUT_S)
        kw.setdefault("verify", self.verify)
        return self.session.request(method, f"{self.url}/v1/{path}", headers=headers, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def seal_status(self):
        r = self.get("sys/seal-status")
        assert r.status_code == 200, r.text
        return r.json()

    def init(self, shares=1, threshold=1):
        r = self.put("sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["keys"]) == shares and len(body["keys_base64"]) == shares, body
        assert TOKEN_RE.match(body["root_token"]), body["root_token"]
        return body

    def unseal(self, keys):
        status = None
        for key in keys:
            r = self.put("sys/unseal", json={"key": key})
            assert r.status_code == 200, r.text
            status = r.json()
        assert status["sealed"] is False, status
        return status

    def key_status(self, token):
        r = self.get("sys/key-status", token=token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["data"]["term"] == body["term"], body
        return body

    def dev_banner(self, timeout_s=10):
        """The Address, Unseal Key and Root Token lines of --dev. cofferd must flush stdout: under
        docker or systemd it is a pipe or a file, never a terminal."""
        def parse():
            text = self.stdout()
            found = {}
            for label in ("Address", "Unseal Key", "Root Token"):
                m = re.search(rf"^\s*{label}:\s+(\S+)\s*$", text, re.M)
                if not m:
                    return None
                found[label] = m.group(1)
            return found
        banner = wait_for(parse, timeout_s)
        assert banner, f"--dev banner (Address/Unseal Key/Root Token) not on stdout; is stdout " \
                       f"flushed? stdout:\n{self.stdout()[-2000:]}"
        return banner


class _Factory:
    """Makes servers under one directory; finish() stops the running ones and checks exit 0."""

    def __init__(self, base_dir):
        self.base_dir = Path(base_dir)
        self.servers = []

    def __call__(self, config_overrides=None, dev_args=None, ca_file=None, start=True,
                 config=None):
        workdir = self.base_dir / f"cofferd{len(self.servers)}"
        workdir.mkdir(mode=0o700)
        if dev_args is None and config is None:
            config = base_config(workdir / "data", **(config_overrides or {}))
        server = Cofferd(workdir, config=config, dev_args=dev_args, ca_file=ca_file)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def finish(self):
        failures = []
        for server in self.servers:
            if server.running:
                try:
                    server.stop()
                except AssertionError as e:
                    failures.append(str(e))
        assert not failures, "\n\n".join(failures)


@pytest.fixture
def cofferd_factory(tmp_path):
    """make(config_overrides=None, dev_args=None, ca_file=None, start=True) -> Cofferd."""
    factory = _Factory(tmp_path)
    yield factory
    factory.finish()


@pytest.fixture(scope="module")
def module_cofferd_factory(tmp_path_factory):
    """Like cofferd_factory, for servers shared by the tests of one file."""
    factory = _Factory(tmp_path_factory.mktemp("module"))
    yield factory
    factory.finish()


@pytest.fixture
def cofferd(cofferd_factory):
    """A started, uninitialized server with the default config (shamir seal)."""
    return cofferd_factory()


class Unsealed:
    def __init__(self, server, init):
        self.server = server
        self.keys = init["keys"]
        self.keys_base64 = init["keys_base64"]
        self.root_token = init["root_token"]


@pytest.fixture
def unsealed(cofferd):
    """A server initialized with one share and unsealed."""
    init = cofferd.init(1, 1)
    cofferd.unseal(init["keys"])
    return Unsealed(cofferd, init)


@pytest.fixture(scope="module")
def module_unsealed(module_cofferd_factory):
    """One server per test file, initialized with one share and unsealed; for read-only tests."""
    server = module_cofferd_factory()
    init = server.init(1, 1)
    server.unseal(init["keys"])
    return Unsealed(server, init)


# --- tokens, policies and dev servers (issue #3) ---------------------------------------------------

TOKEN_FIELDS = {"accessor", "creation_time", "creation_ttl", "display_name", "entity_id",
                "expire_time", "explicit_max_ttl", "id", "issue_time", "meta", "num_uses",
                "orphan", "path", "policies", "renewable", "ttl", "type"}
AUTH_FIELDS = {"client_token", "accessor", "policies", "token_policies", "metadata",
               "lease_duration", "renewable", "entity_id", "token_type", "orphan", "num_uses"}
ENVELOPE_KEYS = ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info",
                 "warnings", "auth"]
DENIED = {"errors": ["permission denied"]}


def new_token_text(tag=""):
    """A token-shaped string ("cof." + 43 base64url characters), optionally starting with tag."""
    body = (tag + secrets.token_urlsafe(48))[:43]
    text = "cof." + body
    assert TOKEN_RE.match(text), text
    return text


def ok(resp, status=200):
    """Asserts the status (200 by default; 204 means an empty body) and returns the JSON body."""
    assert resp.status_code == status, \
        f"{resp.request.method} {resp.url}: want {status}, got {resp.status_code}: {resp.text[:500]}"
    if status == 204:
        assert resp.content == b"", resp.content[:200]
        return None
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    return resp.json()


def contains(*fragments):
    """A regex matching a message that contains every fragment (regexes), in any order."""
    return re.compile("(?is)" + "".join(f"(?=.*(?:{f}))" for f in fragments) + ".*")


def auth_method_dev(dev, method, policy, policy_text):
    """The module's dev server with the auth method enabled at auth/<method>, the policy
    written, and the KV v2 secrets app/db and other/db; every test of the module skips when this
    cofferd has no such method."""
    r = dev.post(f"sys/auth/{method}", token=dev.root, json={"type": method})
    if r.status_code != 204:
        pytest.skip(f"this cofferd has no {method} auth method: enabling it answered "
                    f"{r.status_code} {r.text[:200]}")
    put_policy(dev, dev.root, policy, policy_text)
    kv2_write(dev, dev.root, "app/db", {"password": "s3cr3t-for-app"})
    kv2_write(dev, dev.root, "other/db", {"password": "not-for-app"})
    return dev


def written(resp):
    """A config or role write: 204 (as Vault answers) or 200 with a body (warnings)."""
    assert resp.status_code in (200, 204), \
        f"{resp.request.method} {resp.url}: {resp.status_code}: {resp.text[:500]}"
    return resp


def hvac_written(answer):
    """What hvac's JSON adapter gives for a write: the Response of a 204, or the decoded body of
    a 200."""
    assert isinstance(answer, dict) or answer.status_code in (200, 204), answer
    return answer


def token_accessors(s):
    """The accessors of every token of the server s (root token s.root)."""
    return set(ok(s.request("LIST", "auth/token/accessors", token=s.root))["data"]["keys"])


class AuthMount:
    """One mount of an auth method (TYPE, set by a subclass) on the dev server s, at
    auth/<name>: a new mount named <TYPE><n> unless name is given (then it must exist)."""
    TYPE = None
    count = 0

    def __init__(self, s, name=None):
        AuthMount.count += 1
        self.s = s
        self.name = name or f"{self.TYPE}{AuthMount.count}"
        self.path = f"auth/{self.name}"
        if name is None:
            ok(s.post(f"sys/auth/{self.name}", token=s.root, json={"type": self.TYPE}), 204)

    def write_config(self, **body):
        return self.s.post(f"{self.path}/config", token=self.s.root, json=body)

    def configure(self, **body):
        written(self.write_config(**body))

    def read_config(self):
        return self.s.get(f"{self.path}/config", token=self.s.root)

    def write_role(self, name, **body):
        return self.s.post(f"{self.path}/role/{name}", token=self.s.root, json=body)

    def read_role(self, name):
        return self.s.get(f"{self.path}/role/{name}", token=self.s.root)

    def login_body(self, role, jwt):
        body = {"jwt": jwt}
        if role is not None:
            body["role"] = role
        return body

    def login(self, role, jwt):
        """POST login without a token (role None: left out of the body)."""
        return self.s.post(f"{self.path}/login", json=self.login_body(role, jwt))

    def login_ok(self, role, jwt):
        auth = ok(self.login(role, jwt))["auth"]
        assert TOKEN_RE.match(auth["client_token"]), auth
        return auth


def assert_denied(resp):
    """403 with exactly {"errors":["permission denied"]}."""
    assert_error(resp, 403)
    assert resp.json() == DENIED, resp.text
    return resp


def create_token(server, token, path="auth/token/create", **body):
    """POST auth/token/create (or path) with body; returns the whole 200 body (auth inside)."""
    out = ok(server.post(path, token=token, json=body))
    auth = out["auth"]
    assert isinstance(auth, dict), out
    assert TOKEN_RE.match(auth["client_token"]) or body.get("id") == auth["client_token"], auth
    return out


def put_policy(server, token, name, text):
    ok(server.put(f"sys/policy/{name}", token=token, json={"policy": text}), 204)


def lookup_self(server, token):
    return server.get("auth/token/lookup-self", token=token)


def capabilities_self(server, token, paths):
    """POST sys/capabilities-self; returns {path: sorted capabilities} (from data, checked against
    the legacy top-level copy)."""
    body = ok(server.post("sys/capabilities-self", token=token, json={"paths": list(paths)}))
    data = body["data"]
    out = {}
    for p in paths:
        assert p in data, body
        assert isinstance(data[p], list), body
        assert body.get(p) == data[p], f"legacy top-level copy of {p!r} differs: {body}"
        out[p] = sorted(data[p])
    if len(paths) == 1:
        assert sorted(data["capabilities"]) == out[paths[0]], body
    return out


def secret_encodings(raw):
    """The ways a secret of bytes could be written down (at least 16 bytes long)."""
    out = {raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw),
           base64.urlsafe_b64encode(raw), base64.b64encode(raw).rstrip(b"="),
           base64.urlsafe_b64encode(raw).rstrip(b"=")}
    return {x for x in out if len(x) >= 16}


def token_needles(token):
    """Byte strings that would betray a token: its text, the part after "cof.", and the raw bytes
    that part stands for, in the usual encodings."""
    found = {token.encode(), token[4:].encode()}
    try:
        found |= secret_encodings(b64decode_any(token[4:]))
    except ValueError:
        pass
    return found


class Dev:
    """A --dev server (initialized, unsealed) with a known root token."""

    def __init__(self, server, root_token):
        self.server = server
        self.root = root_token

    def __getattr__(self, name):
        return getattr(self.server, name)


def start_dev(factory, root_token=None, extra_args=()):
    root_token = root_token or new_token_text()
    server = factory(dev_args=["--root-token", root_token, "--log-level", "debug", *extra_args])

    def active():
        try:
            return server.get("sys/health").status_code == 200
        except requests.exceptions.RequestException:
            return False
    assert wait_for(active, START_TIMEOUT_S), \
        f"--dev server not active; stderr:\n{server.stderr()[-3000:]}"
    return Dev(server, root_token)


@pytest.fixture
def dev(cofferd_factory):
    """A fresh --dev server for one test."""
    return start_dev(cofferd_factory)


@pytest.fixture(scope="module")
def module_dev(module_cofferd_factory):
    """One --dev server shared by the tests of a file."""
    return start_dev(module_cofferd_factory)


def parse_time(text):
    """RFC 3339 (with up to nanoseconds, "Z" or an offset) -> Unix seconds as a float."""
    import datetime
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    assert m, f"not an RFC 3339 time: {text!r}"
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    base = datetime.datetime.fromisoformat(m.group(1) + zone)
    return base.timestamp() + (float("0." + m.group(2)) if m.group(2) else 0.0)


# --- KV engine, mounts and watch (issue #4) -------------------------------------------------------

KV_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
KV_VERSION_FIELDS = ["created_time", "custom_metadata", "deletion_time", "destroyed", "version"]
KV_METADATA_FIELDS = {"cas_required", "created_time", "current_version", "delete_version_after",
                      "max_versions", "oldest_version", "updated_time", "custom_metadata",
                      "versions"}


def kv_time(text, empty_ok=False):
    """Asserts an RFC 3339 UTC time with nanoseconds ("...T01:45:25.123456789Z"), or "" when
    empty_ok; returns Unix seconds (None for "")."""
    if empty_ok and text == "":
        return None
    assert isinstance(text, str) and KV_TIME_RE.match(text), \
        f"not RFC 3339 with nanoseconds in UTC: {text!r}"
    return parse_time(text)


def kv2_write(server, token, path, data, cas=None, mount="secret", method="POST"):
    """POST mount/data/path {"data": data[, "options": {"cas": cas}]} -> the new version's data."""
    body = {"data": data}
    if cas is not None:
        body["options"] = {"cas": cas}
    out = ok(server.request(method, f"{mount}/data/{path}", token=token, json=body))
    assert list(out.keys()) == ENVELOPE_KEYS, out
    assert list(out["data"].keys()) == KV_VERSION_FIELDS, out
    return out["data"]


def kv2_read(server, token, path, version=None, mount="secret"):
    """GET mount/data/path[?version=N] -> data{data, metadata} of a live version (200)."""
    params = {"version": version} if version is not None else None
    out = ok(server.get(f"{mount}/data/{path}", token=token, params=params))
    assert list(out.keys()) == ENVELOPE_KEYS, out
    assert set(out["data"].keys()) == {"data", "metadata"}, out
    return out["data"]


def kv2_patch(server, token, path, data, mount="secret", cas=None):
    body = {"data": data}
    if cas is not None:
        body["options"] = {"cas": cas}
    return server.request("PATCH", f"{mount}/data/{path}", token=token, json=body,
                          headers=MERGE_PATCH)


def kv2_metadata(server, token, path, mount="secret"):
    out = ok(server.get(f"{mount}/metadata/{path}", token=token))
    assert set(out["data"].keys()) == KV_METADATA_FIELDS, out
    return out["data"]


def assert_plain_404(resp, message=[]):  # noqa: B006 - the default is never mutated
    """A missing key or version: 404 with no envelope and, as Vault answers, {"errors": []};
    message as in assert_error (None: any errors list)."""
    body = assert_error(resp, 404, message)
    assert "data" not in body, body
    return body


def assert_enveloped_404(resp, data_key="data"):
    """A deleted or destroyed version: 404 with the full envelope, data{<data_key>: null,
    metadata{...}} and no errors; returns the metadata."""
    assert resp.status_code == 404, f"want 404, got {resp.status_code}: {resp.text[:300]}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert list(body.keys()) == ENVELOPE_KEYS, body
    assert "errors" not in body, body
    assert set(body["data"].keys()) == {data_key, "metadata"}, body
    assert body["data"][data_key] is None, body
    assert list(body["data"]["metadata"].keys()) == KV_VERSION_FIELDS, body
    return body["data"]["metadata"]


def kv_list(server, token, path):
    """LIST path -> the response (200 with data.keys, or 404)."""
    return server.request("LIST", path, token=token)


def enable_secrets(server, token, path, type_="kv", version=None, **body):
    """POST sys/mounts/path {type, options{version}} -> 204."""
    body["type"] = type_
    if version is not None:
        body.setdefault("options", {})["version"] = str(version)
    ok(server.post(f"sys/mounts/{path}", token=token, json=body), 204)


def watch(server, token, paths, index, wait=None, timeout=None):
    """POST sys/watch; returns the response (the caller checks the status)."""
    body = {"paths": list(paths), "index": index}
    if wait is not None:
        body["wait"] = wait
    return server.post("sys/watch", token=token, json=body,
                       timeout=timeout if timeout is not None else HTTP_TIMEOUT_S + 30)


def watch_ok(server, token, paths, index, wait=None, timeout=None):
    """A 200 answer of sys/watch -> data{index, changed}."""
    out = ok(watch(server, token, paths, index, wait, timeout))
    assert list(out.keys()) == ENVELOPE_KEYS, out
    data = out["data"]
    assert set(data.keys()) == {"index", "changed"}, out
    assert isinstance(data["index"], int) and data["index"] > 0, out
    assert isinstance(data["changed"], list), out
    return data


# ---- at-rest checks (tests/integration/test_*at_rest.py) ----

DB_FILES = ("coffer.db", "coffer.db-wal", "coffer.db-shm", "coffer.db-journal")


def db_bytes(data_dir):
    """{name: bytes} of coffer.db and whichever of its WAL, shared-memory and journal files exist."""
    files = {name: (data_dir / name).read_bytes() for name in DB_FILES
             if (data_dir / name).exists()}
    assert "coffer.db" in files, f"no coffer.db in {sorted(p.name for p in data_dir.iterdir())}"
    return files


# ---- hvac (tests/compat/test_hvac*.py, which put Debian's hvac on sys.path first) ----

def hvac_client(server, token=None):
    """An hvac Client for server that never goes through a proxy from the environment."""
    import hvac
    session = requests.Session()
    session.trust_env = False  # loopback only: no proxy from the environment
    return hvac.Client(url=server.url, token=token, session=session, timeout=10)


def is_204(resp):
    return isinstance(resp, requests.Response) and resp.status_code == 204


def make_cert(tmp_path, algorithm="ed25519"):
    """A self-signed certificate for 127.0.0.1 and localhost and its key (mode 0600) under
    tmp_path: (cert, key) paths."""
    cert, key = tmp_path / f"cert-{algorithm}.pem", tmp_path / f"key-{algorithm}.pem"
    newkey = ["-newkey", "ed25519"] if algorithm == "ed25519" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


class ScriptedHTTP:
    """A Vault-shaped HTTP/1.1 server on loopback that the test scripts: handle(method, path
    with query, headers, body bytes) returns (status, body bytes, content type) for every
    request, from a thread per connection. For checking what a client sends, or standing in
    front of a cofferd (tests/integration/test_agent_jwt.py, test_cli_login_jwt.py)."""

    def __init__(self, handle):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status, data, ctype = handle(self.command, self.path, self.headers, body)
                try:
                    self.send_response(status)
                    if data:
                        self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client left (a sidecar stopped mid-watch)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_LIST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
