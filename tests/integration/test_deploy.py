# SPDX-License-Identifier: Apache-2.0
"""The deployment files (deploy/k8s, deploy/compose, deploy/docker; DESIGN.md §9) agree with the
programs they deploy, without a cluster or a container engine: the cofferd configs they carry
start a real cofferd (paths moved to a temporary directory), the agent configs pass
coffer-agent --check-config with their templates, every container is non-root, read-only and
without capabilities it does not need, the agent runs as an init container and a native sidecar
on a memory emptyDir under the committed seccomp profile and logs in with a projected
service-account token (no Secret in the app's manifest), cofferd's service account may create
TokenReviews, and the runtime images install the Debian package of every shared library the
binaries load."""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import Cofferd, make_cert
from coffer_testlib import REPO, cofferd_path

DEPLOY = REPO / "deploy"
BUILD = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))


def k8s_docs():
    docs = []
    for f in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [(f.name, d) for d in yaml.safe_load_all(f.read_text()) if d]
    return docs


def compose():
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())


def pod_specs():
    for name, d in k8s_docs():
        if d["kind"] in ("Deployment", "StatefulSet"):
            yield name, d["spec"]["template"]["spec"]


def config_maps():
    return {d["metadata"]["name"]: d["data"] for _n, d in k8s_docs() if d["kind"] == "ConfigMap"}


def test_every_container_is_non_root_read_only_and_drops_capabilities():
    specs = list(pod_specs())
    assert len(specs) == 2, specs
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        # Only cofferd gets an API token: the kubernetes auth method's TokenReviews.
        assert spec.get("automountServiceAccountToken") is (name == "cofferd.yaml"), name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, (name, c["name"])
            assert sc["allowPrivilegeEscalation"] is False, (name, c["name"])
            assert sc["capabilities"]["drop"] == ["ALL"], (name, c["name"])
            assert set(sc["capabilities"].get("add", [])) <= {"IPC_LOCK"}, (name, c["name"])
    for svc in compose()["services"].values():
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], svc
        assert not svc["user"].startswith("0"), svc
        assert "no-new-privileges:true" in svc["security_opt"], svc


def test_the_agent_is_an_init_container_then_a_native_sidecar_on_tmpfs():
    spec = dict(pod_specs())["app-with-agent.yaml"]
    init, sidecar = spec["initContainers"]
    assert init["args"][-2:] == ["--mode", "init"] and "restartPolicy" not in init
    assert sidecar["args"][-2:] == ["--mode", "sidecar"]
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    volumes = {v["name"]: v for v in spec["volumes"]}
    for c in (init, sidecar):
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert volumes[mounts["/run/secrets/app"]]["emptyDir"]["medium"] == "Memory"
        profile = c["securityContext"]["seccompProfile"]
        assert profile["type"] == "Localhost"
        assert (DEPLOY / "seccomp" / Path(profile["localhostProfile"]).name).is_file()
    # The app reads the files, it does not write them; the agent signals it.
    app = spec["containers"][0]
    assert all(m["readOnly"] for m in app["volumeMounts"] if m["mountPath"] == "/run/secrets/app")
    assert spec["shareProcessNamespace"] is True
    # The agent runs as the app's user: the files are its own, and it may signal it.
    assert spec["securityContext"]["runAsUser"] == 1000
    agent = compose()["services"]["agent"]
    assert "seccomp=../seccomp/coffer-agent.json" in agent["security_opt"]
    assert (DEPLOY / "compose" / "../seccomp/coffer-agent.json").resolve().is_file()


def test_the_app_logs_in_with_a_projected_token_and_has_no_secret():
    docs = [d for name, d in k8s_docs() if name == "app-with-agent.yaml"]
    assert "Secret" not in {d["kind"] for d in docs}
    spec = dict(pod_specs())["app-with-agent.yaml"]
    assert not [v for v in spec["volumes"] if "secret" in v], spec["volumes"]
    assert spec["serviceAccountName"] == "app"
    assert {(d["kind"], d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs
            if d["kind"] == "ServiceAccount"} == {("ServiceAccount", "app", "app")}
    [token] = [v for v in spec["volumes"] if "projected" in v]
    assert token["projected"]["sources"] == [
        {"serviceAccountToken": {"audience": "coffer", "expirationSeconds": 3600,
                                 "path": "coffer"}}]
    # Mounted into the agents only, where their config reads it.
    for c in spec["initContainers"] + spec["containers"]:
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        if c["name"].startswith("coffer-agent"):
            assert mounts[token["name"]]["mountPath"] == "/var/run/secrets/tokens", c["name"]
            assert mounts[token["name"]]["readOnly"] is True
        else:
            assert token["name"] not in mounts, c["name"]
    auth = json.loads(config_maps()["app-coffer-agent"]["agent.json"])["auth"]
    assert auth == {"method": "kubernetes", "mount": "kubernetes", "role": "app",
                    "token_file": "/var/run/secrets/tokens/coffer"}


def test_cofferd_may_create_token_reviews():
    docs = [d for name, d in k8s_docs() if name == "cofferd.yaml"]
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": "system:auth-delegator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cofferd",
                                    "namespace": "coffer"}]
    assert [d["metadata"] for d in docs if d["kind"] == "ServiceAccount"] == \
        [{"name": "cofferd", "namespace": "coffer"}]
    spec = dict(pod_specs())["cofferd.yaml"]
    assert spec["serviceAccountName"] == "cofferd"
    assert spec["automountServiceAccountToken"] is True


def agent_check(tmp_path, text, templates):
    """coffer-agent --check-config on text, with template paths pointing at local copies."""
    cfg = json.loads(text)
    for s in cfg["secrets"]:
        if "template" in s:
            local = tmp_path / Path(s["template"]).name
            local.write_text(templates[Path(s["template"]).name])
            s["template"] = str(local)
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(cfg))
    return subprocess.run([str(BUILD / "coffer-agent"), "--config", str(path), "--check-config"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_the_agent_configs_pass_the_agents_own_check(tmp_path):
    data = config_maps()["app-coffer-agent"]
    done = agent_check(tmp_path, data["agent.json"], data)
    assert done.returncode == 0, done.stderr
    assert "ok (3 secrets" in done.stdout, done.stdout  # the containers give --mode
    done = agent_check(tmp_path, compose()["configs"]["agent-config"]["content"], {})
    assert done.returncode == 0, done.stderr
    # And the check does check: a bad key is named.
    bad = json.loads(data["agent.json"])
    bad["destination"]["moed"] = "0400"
    done = agent_check(tmp_path, json.dumps(bad), data)
    assert done.returncode != 0 and "moed" in done.stderr, done.stderr


def localize(cfg, tmp_path):
    """A deployed cofferd config with its files moved under tmp_path and a free port."""
    cert, key = make_cert(tmp_path)
    seal = tmp_path / "seal.key"
    seal.write_bytes(os.urandom(32))
    seal.chmod(0o600)
    cfg = dict(cfg)
    (tmp_path / "data").mkdir()
    cfg["storage"] = {**cfg["storage"], "path": str(tmp_path / "data" / "coffer.db")}
    cfg["seal"] = {**cfg["seal"], "path": str(seal)}
    for device in cfg.get("audit", []):
        device["options"]["file_path"] = str(tmp_path / "data" / "audit.log")
    if "tls_cert_file" in cfg:
        cfg["tls_cert_file"], cfg["tls_key_file"] = str(cert), str(key)
    cfg.pop("listen")
    cfg["disable_mlock"] = True  # the deployed one locks; a test need not
    return cfg, cert


@pytest.mark.parametrize("where", ["k8s", "compose"])
def test_the_cofferd_configs_start_a_server_that_unseals_itself(tmp_path, where):
    if where == "k8s":
        text = config_maps()["cofferd-config"]["cofferd.json"]
    else:
        text = compose()["configs"]["cofferd-config"]["content"]
    cfg, cert = localize(json.loads(text), tmp_path)
    assert cfg["seal"]["type"] == "keyfile" and cfg["audit"], cfg
    server = Cofferd(tmp_path / "srv", config=cfg,
                     ca_file=cert if "tls_cert_file" in cfg else None)
    server.start()
    try:
        # A keyfile seal: init gives a root token and no shares.
        init = server.put("sys/init", json={}).json()
        assert init["root_token"] and init["keys"] == [], init
        # The keyfile seal unsealed it: a restart needs no key share.
        server.restart()
        assert server.seal_status()["sealed"] is False
    finally:
        server.stop()


def dockerfile_stages():
    """{stage: set of apt packages installed in it, counting the stages it is built FROM}."""
    stages, parent, current = {}, {}, None
    text = (DEPLOY / "docker" / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        m = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line)
        if m:
            current = m.group(2)
            stages[current] = set()
            parent[current] = m.group(1)
            continue
        m = re.search(r"apt-get install -y (.*?)(&&|$)", line)
        if m and current:
            stages[current] |= {p for p in m.group(1).split() if not p.startswith("-")}
    for name in stages:
        p = parent[name]
        while p in stages:
            stages[name] |= stages[p]
            p = parent[p]
    return stages


def packages_of(binary):
    """The Debian packages of the shared libraries binary loads (one dpkg -S for all: a library
    is known by its real path or by the path the loader found)."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    libs = [m.group(1) for m in re.finditer(r"=>\s+(/\S+)", out)]
    paths = sorted({os.path.realpath(p) for p in libs} | set(libs))
    owners = subprocess.run(["dpkg", "-S", *paths], capture_output=True, text=True).stdout
    found = {}
    for line in owners.splitlines():
        pkg, _, path = line.partition(": ")
        found[path] = pkg.split(":")[0]
    pkgs = set()
    for lib in libs:
        pkg = found.get(os.path.realpath(lib)) or found.get(lib)
        assert pkg, f"no Debian package owns {lib} ({binary} loads it)"
        pkgs.add(pkg)
    return pkgs


def test_the_runtime_images_install_every_library_the_binaries_load():
    stages = dockerfile_stages()
    # Packages that every Debian image has, and those that the installed ones pull in.
    for stage, binaries in (("cofferd", ["cofferd", "coffer"]), ("agent", ["coffer-agent"])):
        have = set(stages[stage])
        deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                               "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                               "--no-enhances", "--installed", *sorted(have)],
                              capture_output=True, text=True, check=True).stdout
        have |= {ln.strip() for ln in deps.splitlines() if not ln.startswith(" ")}
        essential = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libzstd1", "liblzma5",
                     "libasan8", "libubsan1"}  # the last two: a sanitizer build's own
        for b in binaries:
            missing = packages_of(BUILD / b) - have - essential
            assert not missing, f"{b} needs {missing}, not installed in the {stage} image"
    assert "libsqlite3-0" not in stages["agent"], "the agent image carries the server's store"
    # https loads libcurl at run time (dlopen): ldd does not show it, the images need it.
    assert "libcurl4" in stages["agent"] and "libcurl4" in stages["cofferd"], stages
