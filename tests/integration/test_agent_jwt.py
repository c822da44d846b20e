# SPDX-License-Identifier: Apache-2.0
"""coffer-agent's kubernetes and jwt auth methods, and its config from COFFER_AGENT_CONFIG, without
the server's kubernetes and jwt engines: a scripted proxy in front of a real cofferd --dev answers
POST auth/<mount>/login itself (recording the body, refusing as Vault does when told to, handing
out real cofferd tokens with short TTLs) and forwards every other request. The token file is
replaced the way the kubelet rotates a projected token (a new timestamped directory, the ..data
link swapped by rename): the agent must read it again at each login, never print it, and keep the
files fresh through forced logins. test_workload_clients.py runs the same against the server's
own engines."""
import json
import os
import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import ScriptedHTTP, create_token, put_policy, start_dev, wait_for
from test_agent import RUN_TIMEOUT_S, Setup, Sidecar, agent_env, agent_path, \
    assert_updates_stay_fresh, put_secret, run_agents

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for unshare -m and mount")


@pytest.fixture(scope="module")
def dev(module_cofferd_factory):
    if not agent_path().is_file():
        pytest.fail(f"coffer-agent not found at {agent_path()}")
    server = start_dev(module_cofferd_factory)
    put_policy(server, server.root, "jwt-app", 'path "secret/data/jwt/*" { capabilities = ["read"] }\n'
               'path "sys/watch" { capabilities = ["update"] }')
    return server


def fake_jwt():
    """JWT-shaped text, unique per call; the proxy does not verify it."""
    return "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(300) + "." + secrets.token_urlsafe(200)


class ProjectedToken:
    """A token file kept the way the kubelet keeps a projected token: DIR/..TIMESTAMP/NAME holds
    the text, DIR/..data links to that directory and DIR/NAME to ..data/NAME; write() makes a new
    directory, swaps ..data by rename and removes the old one, so the path stays valid throughout
    and an open by path sees either the old or the new token."""

    def __init__(self, directory, name="coffer"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.path = self.dir / name
        self.n = 0
        self.current = None

    def write(self, text):
        self.n += 1
        new = self.dir / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{self.n:04d}"
        new.mkdir()
        (new / self.name).write_text(text)
        os.chmod(new / self.name, 0o644)  # a projected volume's defaultMode
        old = os.readlink(self.dir / "..data") if (self.dir / "..data").is_symlink() else None
        tmp = self.dir / "..data_tmp"
        os.symlink(new.name, tmp)
        os.rename(tmp, self.dir / "..data")
        if not self.path.is_symlink():
            os.symlink(f"..data/{self.name}", self.path)
        if old is not None:
            (self.dir / old / self.name).unlink()
            (self.dir / old).rmdir()
        self.current = text
        return text


class Rotator:
    """Writes a new token into a ProjectedToken every interval_s seconds until stopped."""

    def __init__(self, token, make, interval_s):
        self.token, self.make, self.interval_s = token, make, interval_s
        self.written = [token.current]
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.wait(self.interval_s):
            self.written.append(self.token.write(self.make()))

    def stop(self):
        self.stop_event.set()
        self.thread.join()


class LoginProxy:
    """A Vault-shaped front for cofferd: POST /v1/auth/<mount>/login is answered here, everything
    else is forwarded. A login is recorded as (mount, body); with refuse = (status, message) it is
    refused with {"errors": [message]}; with accept set (a function of the body), a login whose
    body it rejects gets 403 "stale or unknown token". Accepted logins get a real cofferd token
    with policies [policy], ttl and explicit_max_ttl."""

    def __init__(self, dev, policy="jwt-app", ttl="3s", max_ttl="6s"):
        self.dev, self.policy, self.ttl, self.max_ttl = dev, policy, ttl, max_ttl
        self.logins = []
        self.refuse = None
        self.accept = None
        self.lock = threading.Lock()
        self.http = ScriptedHTTP(self._handle)
        self.url = self.http.url

    def _handle(self, method, path, headers, body):
        parts = path.split("?")[0].strip("/").split("/")
        if method in ("POST", "PUT") and len(parts) >= 4 and parts[:2] == ["v1", "auth"] and \
                parts[-1] == "login" and parts[2] != "token":
            status, answer = self.login("/".join(parts[2:-1]), json.loads(body or b"{}"))
            return status, json.dumps(answer).encode(), "application/json"
        fwd = {k: v for k, v in headers.items() if k.lower() in ("x-vault-token", "content-type")}
        try:
            resp = requests.request(method, self.dev.url + path, headers=fwd, data=body or None,
                                    timeout=400)
        except requests.RequestException as e:
            return 502, json.dumps({"errors": [str(e)]}).encode(), "application/json"
        return resp.status_code, resp.content, resp.headers.get("Content-Type",
                                                                 "application/json")

    def login(self, mount, body):
        with self.lock:
            self.logins.append((mount, body))
            refuse, accept = self.refuse, self.accept
        if refuse is not None:
            return refuse[0], {"errors": [refuse[1]]}
        if accept is not None and not accept(body):
            return 403, {"errors": ["stale or unknown token"]}
        auth = create_token(self.dev, self.dev.root, policies=[self.policy], ttl=self.ttl,
                            explicit_max_ttl=self.max_ttl, no_parent=True)["auth"]
        auth["metadata"] = {"role": body.get("role", "default")}
        return 200, {"auth": auth, "data": None, "lease_duration": 0, "renewable": False}


@pytest.fixture
def proxy(dev):
    p = LoginProxy(dev)
    yield p
    p.http.close()


def one_secret(dev, name, value):
    put_secret(dev, f"jwt/{name}", {"v": value})
    return [{"name": "v", "path": f"secret/data/jwt/{name}", "file": "v", "format": "raw",
             "key": "v"}]


def k8s_auth(token, **extra):
    return {"method": "kubernetes", "role": "app", "token_file": str(token.path), **extra}


def test_init_logs_in_with_the_projected_token_and_its_role(tmp_path, dev, proxy):
    token = ProjectedToken(tmp_path / "tokens")
    jwt = token.write(fake_jwt())
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "init", "from-k8s"), auth=k8s_auth(token),
                       server={"address": proxy.url})
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 0, err
    assert files["v"][3] == b"from-k8s"
    assert proxy.logins == [("kubernetes", {"role": "app", "jwt": jwt})]
    assert jwt not in err and jwt[-40:] not in err


def test_jwt_method_sends_no_role_when_none_is_set_and_uses_its_mount(tmp_path, dev, proxy):
    token = ProjectedToken(tmp_path / "ci")
    jwt = token.write(fake_jwt() + "\n")
    setup = Setup(tmp_path, dev)
    auth = {"method": "jwt", "token_file": str(token.path)}
    cfg = setup.config(one_secret(dev, "ci", "from-jwt"), auth=auth, server={"address": proxy.url})
    cfg2 = setup.config(one_secret(dev, "ci", "from-jwt"), name="mount.json",
                        auth={**auth, "mount": "ci/gitlab", "role": "deploy"},
                        server={"address": proxy.url})
    [(rc, files), (rc2, _)], err = run_agents(setup, [cfg, cfg2])
    assert (rc, rc2) == (0, 0), err
    assert files["v"][3] == b"from-jwt"
    # The trailing newline of the file is not part of the token.
    assert proxy.logins == [("jwt", {"jwt": jwt.strip()}),
                            ("ci/gitlab", {"role": "deploy", "jwt": jwt.strip()})]


def test_a_refused_login_logs_the_server_message_and_never_the_jwt(tmp_path, dev, proxy):
    token = ProjectedToken(tmp_path / "tokens")
    jwt = token.write(fake_jwt())
    proxy.refuse = (403, 'service account name not authorized for role "app"')
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "refused", "x"), auth=k8s_auth(token),
                       server={"address": proxy.url})
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 1 and files == {}, err
    assert 'Kubernetes login: HTTP 403: service account name not authorized for role "app"' in err
    proxy.refuse = (400, "no known key successfully validated the token signature")
    cfg = setup.config(one_secret(dev, "refused", "x"), name="jwt.json",
                       auth={"method": "jwt", "token_file": str(token.path)},
                       server={"address": proxy.url})
    [(rc, files)], err2 = run_agents(setup, [cfg])
    assert rc == 1 and files == {}, err2
    assert "JWT login: HTTP 400: no known key successfully validated the token signature" in err2
    for text in (err, err2):
        assert jwt not in text and jwt[-40:] not in text


def test_a_missing_or_empty_token_file_is_an_error_and_writes_nothing(tmp_path, dev, proxy):
    setup = Setup(tmp_path, dev)
    secrets_ = one_secret(dev, "missing", "x")
    missing = setup.config(secrets_, name="missing.json", server={"address": proxy.url},
                           auth={"method": "kubernetes", "role": "app",
                                 "token_file": str(tmp_path / "none" / "coffer")})
    (tmp_path / "empty").write_text("\n")
    empty = setup.config(secrets_, name="empty.json", server={"address": proxy.url},
                         auth={"method": "kubernetes", "role": "app",
                               "token_file": str(tmp_path / "empty")})
    [(rc1, files1), (rc2, files2)], err = run_agents(setup, [missing, empty])
    assert (rc1, files1, rc2, files2) == (1, {}, 1, {}), err
    assert f"Kubernetes login: {tmp_path}/none/coffer: cannot open: No such file or directory" \
        in err, err
    assert f"Kubernetes login: {tmp_path}/empty: empty or not text" in err, err
    assert proxy.logins == []


def test_sidecar_logs_in_again_with_each_rotated_token_and_stays_fresh(tmp_path, dev, proxy):
    """Tokens of 3 s (6 s at most) force a login every few seconds while the token file is
    replaced every 2 s; the proxy refuses any JWT but the file's current one (or the one before,
    for a login racing a rotation), so only an agent that reads the file again at each login stays
    logged in, and a change every 2 s must reach the file within 2 s for 16 s."""
    token = ProjectedToken(tmp_path / "tokens")
    token.write(fake_jwt())
    rot = Rotator(token, fake_jwt, 2.0)
    proxy.accept = lambda body: body.get("jwt") in rot.written[-2:] and body.get("role") == "app"
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "fresh", "fresh-0"), auth=k8s_auth(token),
                       server={"address": proxy.url}, mode="sidecar", watch=True,
                       poll_interval="5m")
    side = Sidecar(setup, cfg, COFFER_LOG_LEVEL="debug")
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        assert_updates_stay_fresh(side, dev, "jwt/fresh", "v", 8, "fresh-")
    finally:
        rot.stop()
        rc = side.stop()
    assert rc == 0, side.log()
    log = side.log()
    used = [body["jwt"] for _, body in proxy.logins]
    assert len(used) >= 3, (len(used), log)
    assert len(set(used)) >= 3, "the agent kept logging in with an old token"
    assert "stale or unknown token" not in log, log
    assert log.count("logged in") >= 3, log
    for jwt in rot.written:
        assert jwt not in log and jwt[-40:] not in log


def test_config_comes_from_coffer_agent_config_without_config(tmp_path, dev):
    setup = Setup(tmp_path, dev)
    put_secret(dev, "jwt/env", {"v": "from-env"})
    secrets_ = [{"name": "v", "path": "secret/data/jwt/env", "file": "v", "format": "raw",
                 "key": "v"}]
    text = setup.config(secrets_).read_text()
    script = ('mount -t tmpfs -o size=1m,mode=0755 tmpfs "$DEST" || exit 99\n'
              '"$AGENT" --check-config || exit 98\n'
              '"$AGENT"; echo "RC=$?"; cat "$DEST/v"\n')
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env=agent_env(DEST=setup.dest, COFFER_AGENT_CONFIG=text))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["COFFER_AGENT_CONFIG: ok (1 secrets, init mode)", "RC=0",
                                        "from-env"], proc.stdout + proc.stderr
    # --config wins over the environment; a bad config in the environment names the variable.
    bad = subprocess.run([str(agent_path()), "--check-config"], capture_output=True, text=True,
                         env=agent_env(COFFER_AGENT_CONFIG='{"server": 1}'))
    assert bad.returncode == 1
    assert "config COFFER_AGENT_CONFIG: server: must be an object" in bad.stderr, bad.stderr
    cfg_file = setup.config(secrets_, name="file.json")
    both = subprocess.run([str(agent_path()), "--config", str(cfg_file), "--check-config"],
                          capture_output=True, text=True,
                          env=agent_env(COFFER_AGENT_CONFIG='{"server": 1}'))
    assert both.returncode == 0 and both.stdout.startswith(f"{cfg_file}: ok"), both.stderr
    none = subprocess.run([str(agent_path())], capture_output=True, text=True, env=agent_env())
    assert none.returncode == 2 and none.stderr.startswith("usage: coffer-agent"), none.stderr
