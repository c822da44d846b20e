# SPDX-License-Identifier: Apache-2.0
"""coffer login -method=kubernetes|jwt and the generic writes that configure those methods, checked
against the requests the CLI sends to a scripted Vault-shaped HTTP server (so the server's
kubernetes and jwt engines are not needed): the login path (the method's name, or -path), the body
({role, jwt} with the token file's text trimmed), the stored token, the refusals with the server's
message and never the JWT, the usage errors; `write` with @FILE values and keys given several times
(a list, as Vault's CLI sends it; a comma string stays a string for the server to split), `read`
with repeated keys (repeated query parameters) and `auth enable kubernetes`. The same against the
real engines: test_workload_clients.py."""
import json
import secrets
import stat

import pytest

from conftest import ScriptedHTTP
from test_cli import Cli, table

LOGIN_TOKEN = "cof." + "L" * 43


class Scripted:
    """An HTTP server that records every request as (method, path with query, JSON body or None)
    and answers from answers[(method, path)] = (status, body), else 404 {"errors": []}."""

    def __init__(self):
        self.requests = []
        self.answers = {}
        self.http = ScriptedHTTP(self._handle)
        self.url = self.http.url

    def _handle(self, method, path, headers, body):
        self.requests.append((method, path, json.loads(body) if body else None))
        status, answer = self.answers.get((method, path.split("?")[0]), (404, {"errors": []}))
        return status, b"" if status == 204 else json.dumps(answer).encode(), "application/json"

    def login_answer(self, mount, role="app"):
        self.answers[("POST", f"/v1/auth/{mount}/login")] = (200, {
            "request_id": "r", "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": None, "warnings": None,
            "auth": {"client_token": LOGIN_TOKEN, "accessor": "acc-1",
                     "policies": ["app", "default"], "token_policies": ["app", "default"],
                     "metadata": {"role": role, "service_account_name": "app",
                                  "service_account_namespace": "default"},
                     "lease_duration": 3600, "renewable": True}})

    def close(self):
        self.http.close()


@pytest.fixture
def scripted():
    s = Scripted()
    yield s
    s.close()


@pytest.fixture
def cli(scripted, tmp_path):
    return Cli(scripted, tmp_path / "home", token="cof." + "R" * 43)


def jwt_file(tmp_path, newline=True):
    text = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ." + secrets.token_urlsafe(200) + "." + \
        secrets.token_urlsafe(100)
    path = tmp_path / "token"
    path.write_text(text + ("\n" if newline else ""))
    return text, path


def test_login_kubernetes_posts_role_and_trimmed_jwt_and_stores_the_token(scripted, tmp_path):
    cli = Cli(scripted, tmp_path / "home")
    jwt, path = jwt_file(tmp_path)
    scripted.login_answer("kubernetes")
    proc = cli.ok("login", "-method=kubernetes", "role=app", f"jwt=@{path}")
    assert scripted.requests == [("POST", "/v1/auth/kubernetes/login",
                                  {"role": "app", "jwt": jwt})]
    rows = table(proc.stdout)
    assert rows["token_accessor"] == "acc-1" and "app" in rows["token_policies"], proc.stdout
    assert LOGIN_TOKEN not in proc.stdout + proc.stderr  # stored, not printed
    token_file = tmp_path / "home" / ".coffer-token"
    assert token_file.read_text().strip() == LOGIN_TOKEN
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert jwt not in proc.stdout + proc.stderr and "Warning" not in proc.stderr, proc.stderr


def test_login_jwt_role_is_optional_and_path_moves_the_mount(cli, scripted, tmp_path):
    jwt, path = jwt_file(tmp_path, newline=False)
    scripted.login_answer("jwt")
    scripted.login_answer("ci/gitlab")
    cli.ok("login", "-method=jwt", "-no-store", f"jwt=@{path}")
    out = cli.json("login", "-method=jwt", "-path=ci/gitlab", "-no-store", "role=deploy",
                   f"jwt=@{path}")
    assert out["auth"]["client_token"] == LOGIN_TOKEN
    assert scripted.requests == [
        ("POST", "/v1/auth/jwt/login", {"jwt": jwt}),
        ("POST", "/v1/auth/ci/gitlab/login", {"role": "deploy", "jwt": jwt}),
    ]
    scripted.login_answer("k8s-east")
    proc = cli.ok("login", "-method=kubernetes", "-path=k8s-east", "-no-store", "-field=token",
                  "role=app", f"jwt=@{path}")
    assert proc.stdout == LOGIN_TOKEN
    assert scripted.requests[-1] == ("POST", "/v1/auth/k8s-east/login",
                                     {"role": "app", "jwt": jwt})


def test_a_refused_login_prints_the_server_message_and_never_the_jwt(cli, scripted, tmp_path):
    jwt, path = jwt_file(tmp_path)
    scripted.answers[("POST", "/v1/auth/kubernetes/login")] = (
        403, {"errors": ['service account name not authorized for role "app"']})
    scripted.answers[("POST", "/v1/auth/jwt/login")] = (
        400, {"errors": ["error validating token: invalid audience (aud) claim"]})
    proc = cli.run("login", "-method=kubernetes", "role=app", f"jwt=@{path}", check=1)
    assert 'service account name not authorized for role "app"' in proc.stderr, proc.stderr
    proc2 = cli.run("login", "-method=jwt", f"jwt=@{path}", check=1)
    assert "error validating token: invalid audience (aud) claim" in proc2.stderr, proc2.stderr
    for p in (proc, proc2):
        assert jwt not in p.stdout + p.stderr
    assert not (cli.home / ".coffer-token").exists()


def test_login_usage_errors_send_nothing(cli, scripted, tmp_path):
    _, path = jwt_file(tmp_path)
    proc = cli.run("login", "-method=kubernetes", f"jwt=@{path}", check=2)
    assert "-method=kubernetes needs role=ROLE" in proc.stderr, proc.stderr
    proc = cli.run("login", "-method=jwt", "role=ci", check=2)
    assert "-method=jwt needs jwt=@FILE (the token file)" in proc.stderr, proc.stderr
    (tmp_path / "empty").write_text("")
    proc = cli.run("login", "-method=jwt", f"jwt=@{tmp_path}/empty", check=2)
    assert "-method=jwt needs jwt=@FILE" in proc.stderr, proc.stderr
    proc = cli.run("login", "-method=oidc", "role=x", check=2)
    assert "-method must be token, approle, kubernetes or jwt" in proc.stderr, proc.stderr
    proc = cli.run("login", "-method=kubernetes", "role=app", f"jwt=@{tmp_path}/nope", check=2)
    assert f"{tmp_path}/nope" in proc.stderr, proc.stderr
    assert scripted.requests == []


def test_a_jwt_typed_on_the_command_line_is_warned_about(cli, scripted, tmp_path):
    jwt, _ = jwt_file(tmp_path)
    scripted.login_answer("kubernetes")
    proc = cli.ok("login", "-method=kubernetes", "-no-store", "role=app", f"jwt={jwt}")
    assert 'Warning: the value of "jwt" is on the command line' in proc.stderr, proc.stderr
    assert scripted.requests[0][2] == {"role": "app", "jwt": jwt}


def test_write_reads_file_values_and_makes_lists_of_repeated_keys(cli, scripted, tmp_path):
    pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n" \
          "-----END PUBLIC KEY-----\n"
    (tmp_path / "key.pem").write_text(pem)
    (tmp_path / "key2.pem").write_text(pem.replace("MFkw", "MFkx"))
    scripted.answers[("POST", "/v1/auth/kubernetes/config")] = (204, None)
    scripted.answers[("POST", "/v1/auth/kubernetes/role/app")] = (204, None)
    cli.ok("write", "auth/kubernetes/config", f"pem_keys=@{tmp_path}/key.pem",
           "kubernetes_host=https://kubernetes.default.svc")
    cli.ok("write", "auth/kubernetes/config", f"pem_keys=@{tmp_path}/key.pem",
           f"pem_keys=@{tmp_path}/key2.pem", "disable_token_review=true")
    cli.ok("write", "auth/kubernetes/role/app", "bound_service_account_names=app",
           "bound_service_account_names=web", "bound_service_account_names=batch",
           "bound_service_account_namespaces=default,jobs", "audience=coffer",
           "token_policies=app")
    assert [r[2] for r in scripted.requests] == [
        {"pem_keys": pem, "kubernetes_host": "https://kubernetes.default.svc"},
        {"pem_keys": [pem, pem.replace("MFkw", "MFkx")], "disable_token_review": "true"},
        {"bound_service_account_names": ["app", "web", "batch"],
         # A comma string is sent as typed; the server splits it (Vault's comma-string fields).
         "bound_service_account_namespaces": "default,jobs", "audience": "coffer",
         "token_policies": "app"},
    ]


def test_read_sends_repeated_keys_as_repeated_parameters(cli, scripted):
    scripted.answers[("GET", "/v1/sys/thing")] = (200, {"data": {"ok": True}})
    cli.ok("read", "sys/thing", "k=a b", "k=c", "x=1")
    assert scripted.requests == [("GET", "/v1/sys/thing?k=a%20b&k=c&x=1", None)]


def test_auth_enable_kubernetes_and_jwt(cli, scripted):
    scripted.answers[("POST", "/v1/sys/auth/kubernetes")] = (204, None)
    scripted.answers[("POST", "/v1/sys/auth/ci-jwt")] = (204, None)
    cli.ok("auth", "enable", "kubernetes")
    cli.ok("auth", "enable", "-path=ci-jwt", "jwt")
    assert [(m, p, b["type"]) for m, p, b in scripted.requests] == [
        ("POST", "/v1/sys/auth/kubernetes", "kubernetes"), ("POST", "/v1/sys/auth/ci-jwt", "jwt")]
