# SPDX-License-Identifier: Apache-2.0
"""The clients of workload identity against the server's own kubernetes and jwt auth methods:
coffer-agent in init and sidecar mode logging in with a projected service-account token that the
test replaces every 2.5 s the way the kubelet does (new file, ..data link swapped by rename),
under role tokens of 3 s (6 s at most) so that it has to log in again and again, with the files
kept fresh through secret updates for 16 s; a refused service account; and coffer login
-method=kubernetes|jwt after the operator's setup done with the CLI's generic writes.

Tokens are minted here exactly like a projected token (RS256, kid = base64url(SHA-256(DER
SubjectPublicKeyInfo)), the kubernetes.io claims) and verified by the server with the public key
(pem_keys, disable_token_review: a Coffer extension), so no API server is needed.

The whole file skips itself while cofferd has no kubernetes auth method (POST sys/auth/kubernetes
answers 400 "unsupported auth type"); the jwt test skips itself while there is no jwt method. The
same client behaviour is covered without the engines by test_agent_jwt.py and
test_cli_login_jwt.py."""
import base64
import hashlib
import os
import time
import uuid

import pytest

from conftest import ok, put_policy, start_dev, wait_for
from test_agent import Setup, Sidecar, assert_updates_stay_fresh, put_secret, run_agents
from test_agent_jwt import ProjectedToken, Rotator
from test_cli import Cli, table

ISSUER = "https://kubernetes.default.svc.cluster.local"
ROLE = {"bound_service_account_names": ["app"], "bound_service_account_namespaces": ["default"],
        "audience": "coffer", "token_policies": ["app"], "token_ttl": "3s",
        "token_max_ttl": "6s"}


def needs_root():
    if os.geteuid() != 0:
        pytest.skip("needs root for unshare -m and mount")


class Signer:
    """An RSA 2048 key that signs tokens shaped like the kubelet's projected tokens (header
    {alg, kid} only, as the API server writes it)."""

    def __init__(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pub = self.key.public_key()
        der = pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
        self.public_pem = pub.public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def token(self, sa="app", namespace="default", aud=("coffer",), ttl_s=600):
        import jwt

        now = int(time.time())
        claims = {
            "aud": list(aud), "exp": now + ttl_s, "iat": now, "nbf": now, "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {
                "namespace": namespace,
                "node": {"name": "n1", "uid": str(uuid.uuid4())},
                "pod": {"name": "app-0", "uid": str(uuid.uuid4())},
                "serviceaccount": {"name": sa, "uid": str(uuid.uuid4())},
            },
            "sub": f"system:serviceaccount:{namespace}:{sa}",
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "typ": None})


@pytest.fixture(scope="module")
def signer():
    return Signer()


@pytest.fixture(scope="module")
def dev(module_cofferd_factory, signer):
    server = start_dev(module_cofferd_factory)
    resp = server.post("sys/auth/kubernetes", token=server.root, json={"type": "kubernetes"})
    if resp.status_code == 400:
        pytest.skip(f"cofferd has no kubernetes auth method yet: {resp.text.strip()}")
    ok(resp, 204)
    assert "kubernetes/" in ok(server.get("sys/auth", token=server.root))["data"]
    ok(server.post("auth/kubernetes/config", token=server.root,
                   json={"pem_keys": [signer.public_pem], "disable_token_review": True}), 204)
    ok(server.post("auth/kubernetes/role/app", token=server.root, json=ROLE), 204)
    put_policy(server, server.root, "app",
               'path "secret/data/wl/*" { capabilities = ["read"] }\n'
               'path "sys/watch" { capabilities = ["update"] }')
    return server


def k8s_auth(token):
    return {"method": "kubernetes", "role": "app", "token_file": str(token.path)}


def one_secret(dev, name, value):
    put_secret(dev, f"wl/{name}", {"v": value})
    return [{"name": "v", "path": f"secret/data/wl/{name}", "file": "v", "format": "raw",
             "key": "v"}]


def test_agent_init_logs_in_with_a_projected_token(tmp_path, dev, signer):
    needs_root()
    token = ProjectedToken(tmp_path / "tokens")
    jwt = token.write(signer.token())
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "init", "from-k8s"), auth=k8s_auth(token))
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 0, err
    assert files["v"][3] == b"from-k8s"
    assert jwt not in err and jwt.split(".")[2] not in err


def test_agent_init_with_another_service_account_is_refused(tmp_path, dev, signer):
    needs_root()
    token = ProjectedToken(tmp_path / "tokens")
    jwt = token.write(signer.token(sa="intruder"))
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "refused", "x"), auth=k8s_auth(token))
    [(rc, files)], err = run_agents(setup, [cfg])
    assert rc == 1 and files == {}, err
    assert "Kubernetes login: HTTP 403: " in err, err
    assert jwt not in err and jwt.split(".")[2] not in err


def test_agent_sidecar_stays_fresh_while_the_token_rotates_and_logins_are_forced(tmp_path, dev,
                                                                                  signer):
    needs_root()
    token = ProjectedToken(tmp_path / "tokens")
    token.write(signer.token())
    rot = Rotator(token, signer.token, 2.5)
    setup = Setup(tmp_path, dev)
    cfg = setup.config(one_secret(dev, "fresh", "fresh-0"), auth=k8s_auth(token),
                       mode="sidecar", watch=True, poll_interval="5m")
    side = Sidecar(setup, cfg, COFFER_LOG_LEVEL="debug")
    try:
        assert wait_for(lambda: side.read(".ready") is not None, 15), side.log()
        took = assert_updates_stay_fresh(side, dev, "wl/fresh", "v", 8, "fresh-")
        assert took >= 15.5
    finally:
        rot.stop()
        rc = side.stop()
    assert rc == 0, side.log()
    log = side.log()
    # 16 s of 6 s tokens: the first login and at least two more, each with the file's token.
    assert log.count("logged in") >= 3, log
    assert "Kubernetes login: HTTP" not in log, log
    assert len(rot.written) >= 6
    for jwt in rot.written:
        assert jwt.split(".")[2] not in log


def test_cli_sets_up_kubernetes_and_logs_in(tmp_path, dev, signer):
    admin = Cli(dev, tmp_path / "admin", token=dev.root)
    admin.ok("auth", "enable", "-path=k8s-cli", "kubernetes")
    (tmp_path / "sa.pem").write_text(signer.public_pem)
    admin.ok("write", "auth/k8s-cli/config", f"pem_keys=@{tmp_path}/sa.pem",
             "disable_token_review=true")
    admin.ok("write", "auth/k8s-cli/role/app", "bound_service_account_names=app",
             "bound_service_account_names=web", "bound_service_account_namespaces=default",
             "audience=coffer", "token_policies=app")
    put_secret(dev, "wl/cli", {"v": "from-cli"})
    jwt = signer.token(sa="web")
    (tmp_path / "token").write_text(jwt + "\n")
    app = Cli(dev, tmp_path / "app")
    proc = app.ok("login", "-method=kubernetes", "-path=k8s-cli", "role=app",
                  f"jwt=@{tmp_path}/token")
    assert "app" in table(proc.stdout)["token_policies"], proc.stdout
    assert jwt not in proc.stdout + proc.stderr
    assert app.ok("kv", "get", "-field=v", "secret/wl/cli").stdout == "from-cli"
    (tmp_path / "other").write_text(signer.token(sa="intruder"))
    refused = app.run("login", "-method=kubernetes", "-path=k8s-cli", "-no-store", "role=app",
                      f"jwt=@{tmp_path}/other", check=1)
    assert "Error" in refused.stderr, refused.stderr


def test_cli_logs_in_with_the_jwt_method(tmp_path, dev, signer):
    resp = dev.post("sys/auth/jwt", token=dev.root, json={"type": "jwt"})
    if resp.status_code == 400:
        pytest.skip(f"cofferd has no jwt auth method yet: {resp.text.strip()}")
    ok(resp, 204)
    admin = Cli(dev, tmp_path / "admin", token=dev.root)
    (tmp_path / "sa.pem").write_text(signer.public_pem)
    admin.ok("write", "auth/jwt/config", f"jwt_validation_pubkeys=@{tmp_path}/sa.pem",
             f"bound_issuer={ISSUER}", "default_role=app")
    admin.ok("write", "auth/jwt/role/app", "role_type=jwt", "bound_audiences=coffer",
             "user_claim=sub", "token_policies=app")
    put_secret(dev, "wl/jwt", {"v": "from-jwt"})
    (tmp_path / "token").write_text(signer.token())
    app = Cli(dev, tmp_path / "app")
    app.ok("login", "-method=jwt", f"jwt=@{tmp_path}/token")  # default_role
    assert app.ok("kv", "get", "-field=v", "secret/wl/jwt").stdout == "from-jwt"
    (tmp_path / "aud").write_text(signer.token(aud=("someone-else",)))
    refused = app.run("login", "-method=jwt", "-no-store", "role=app", f"jwt=@{tmp_path}/aud",
                      check=1)
    assert "Error" in refused.stderr, refused.stderr
