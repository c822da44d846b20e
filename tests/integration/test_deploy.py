# SPDX-License-Identifier: Apache-2.0
"""The deployment files (deploy/k8s, deploy/compose, deploy/docker; DESIGN.md §9) agree with the
programs they deploy, without a cluster or a container engine: the cofferd configs they carry
start a real cofferd (paths moved to a temporary directory), the agent configs pass
coffer-agent --check-config with their templates, every container is non-root, read-only and
without capabilities it does not need, the agent runs as an init container and a native sidecar
on a memory emptyDir under the committed seccomp profile and logs in with a projected
service-account token (no Secret in the app's manifest), cofferd's service account may create
TokenReviews, and the runtime images install the Debian package of every shared library the
binaries load. Every Kubernetes object passes the upstream schema (npm kubernetes-models). The
PostgreSQL variants (deploy/k8s/cofferd-ha.yaml, compose's profile "ha") get their URL from a
Secret or the environment, give each node its own api_addr, make only the active pod ready, and
their configs start nodes on a real PostgreSQL (COFFER_TEST_PG_URL) of which one is active and
the others send clients to its api_addr."""
import fcntl
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import Cofferd, make_cert
from coffer_testlib import REPO, cofferd_path, wait_for

DEPLOY = REPO / "deploy"
BUILD = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
PG_URL = os.environ.get("COFFER_TEST_PG_URL")


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


def k8s_objects(file):
    """{(kind, name): object} of one manifest."""
    return {(d["kind"], d["metadata"]["name"]): d for n, d in k8s_docs() if n == file}


COFFERD_MANIFESTS = ("cofferd.yaml", "cofferd-ha.yaml")


def test_every_container_is_non_root_read_only_and_drops_capabilities():
    specs = list(pod_specs())
    assert len(specs) == 3, specs
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        # Only cofferd gets an API token: the kubernetes auth method's TokenReviews.
        assert spec.get("automountServiceAccountToken") is (name in COFFERD_MANIFESTS), name
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


@pytest.mark.parametrize("manifest", COFFERD_MANIFESTS)
def test_cofferd_may_create_token_reviews(manifest):
    docs = [d for name, d in k8s_docs() if name == manifest]
    [binding] = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": "system:auth-delegator"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cofferd",
                                    "namespace": "coffer"}]
    assert [d["metadata"] for d in docs if d["kind"] == "ServiceAccount"] == \
        [{"name": "cofferd", "namespace": "coffer"}]
    spec = dict(pod_specs())[manifest]
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


# --- the Kubernetes schema ------------------------------------------------------------------

# The last kubernetes-models for Debian 12's Node.js 20 (5.x needs Node.js 22), pinned with its
# lock in tests/k8s/ and installed once under the build directory with npm ci, as node-vault is.
K8S_MODELS = ("kubernetes-models", "4.5.1")
K8S_PACKAGE = REPO / "tests" / "k8s"

# Validates the JSON array of objects on stdin with the model of each object's apiVersion and
# kind (the upstream OpenAPI definitions, compiled); prints [{id, error}], error null if valid.
# The upstream definitions allow unknown fields, so a misspelt key passes: the tests below
# check the keys that matter by name.
VALIDATE_JS = r"""
const docs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = docs.map((d) => {
  const id = `${d.apiVersion} ${d.kind} ${d.metadata && d.metadata.name}`;
  const [group, version] =
    d.apiVersion.includes("/") ? d.apiVersion.split("/") : [null, d.apiVersion];
  let Model;
  try {
    Model = require("kubernetes-models/" + (group ? group + "/" : "") + version)[d.kind];
  } catch (e) { return {id, error: "no model: " + e.message}; }
  if (!Model) return {id, error: "no model for this kind"};
  try { new Model(d).validate(); return {id, error: null}; }
  catch (e) { return {id, error: e.message}; }
});
process.stdout.write(JSON.stringify(out));
"""


def kubernetes_models():
    """The directory whose node_modules holds K8S_MODELS: npm ci of tests/k8s on first use, under
    a file lock (ctest runs this file against SQLite and PostgreSQL at the same time)."""
    where = BUILD / "k8s-schema"
    where.mkdir(parents=True, exist_ok=True)
    installed = where / "node_modules" / K8S_MODELS[0] / "package.json"
    with open(where / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.is_file() or json.loads(installed.read_text())["version"] != K8S_MODELS[1]:
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(K8S_PACKAGE / name, where / name)
            done = subprocess.run(["npm", "ci", "--prefix", str(where), "--no-audit", "--no-fund",
                                   "--loglevel=error"], capture_output=True, text=True,
                                  timeout=300, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, f"npm ci of tests/k8s: {done.stderr}"
    return where


def schema_errors(docs):
    where = kubernetes_models()
    done = subprocess.run(["node", "-e", VALIDATE_JS], input=json.dumps(docs), capture_output=True,
                          text=True, timeout=60, cwd=where,
                          env={**os.environ, "NODE_PATH": str(where / "node_modules")})
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == len(docs), done.stdout
    return {r["id"]: r["error"] for r in results}


def test_every_kubernetes_object_passes_the_upstream_schema():
    for name in sorted({n for n, _d in k8s_docs()}):
        errors = schema_errors([d for n, d in k8s_docs() if n == name])
        assert not {k: v for k, v in errors.items() if v}, (name, errors)
    # And the check does check: a wrong type, a missing required field, an unknown kind.
    sts = json.loads(json.dumps(k8s_objects("cofferd-ha.yaml")[("StatefulSet", "cofferd")]))
    sts["spec"]["replicas"] = "3"
    svc = json.loads(json.dumps(k8s_objects("cofferd-ha.yaml")[("Service", "cofferd")]))
    del svc["spec"]["ports"][0]["port"]
    bad = schema_errors([sts, svc, {"apiVersion": "v1", "kind": "Pdo", "metadata": {"name": "x"}}])
    assert all(bad.values()), bad
    assert "replicas" in bad["apps/v1 StatefulSet cofferd"], bad
    assert "port" in bad["v1 Service cofferd"], bad


# --- the PostgreSQL variants ------------------------------------------------------------------

def test_the_ha_manifest_runs_three_pods_and_only_the_active_one_is_ready():
    objs = k8s_objects("cofferd-ha.yaml")
    [sts] = [d for (kind, _), d in objs.items() if kind == "StatefulSet"]
    spec = sts["spec"]
    assert spec["replicas"] == 3
    # Standbys are never ready: an ordered start or a rolling update would wait for them forever.
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "OnDelete"}
    labels = spec["template"]["metadata"]["labels"]
    # Clients: the ready pods, i.e. the active one. The headless Service: every pod, ready or
    # not, with its own DNS name (the StatefulSet's serviceName).
    client = objs[("Service", "cofferd")]["spec"]
    assert client.get("clusterIP") != "None" and not client.get("publishNotReadyAddresses")
    headless = objs[("Service", spec["serviceName"])]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    for svc in (client, headless):
        assert svc["selector"].items() <= labels.items(), svc
    [c] = spec["template"]["spec"]["containers"]
    # 200 on the active node, 429 on a standby: only the active one is ready.
    ready = c["readinessProbe"]["httpGet"]
    assert ready["path"] == "/v1/sys/health" and ready["scheme"] == "HTTPS", ready
    assert "standbyok=true" in c["livenessProbe"]["httpGet"]["path"]
    # The URL (and its password) from a Secret, never the ConfigMap: a CloudNativePG cluster's
    # <cluster>-app Secret has it under "uri".
    env = {e["name"]: e for e in c["env"]}
    assert env["COFFER_PG_CONNECTION_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "coffer-db-app", "key": "uri"}}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # The same confinement as the single-node manifest.
    single = dict(pod_specs())["cofferd.yaml"]
    assert spec["template"]["spec"]["securityContext"] == single["securityContext"]
    assert c["securityContext"] == single["containers"][0]["securityContext"]
    assert c["image"] == single["containers"][0]["image"]


def ha_pod_configs():
    """{pod name: its config} of cofferd-ha.yaml: the file its args name, $(POD_NAME) expanded."""
    objs = k8s_objects("cofferd-ha.yaml")
    [sts] = [d for (kind, _), d in objs.items() if kind == "StatefulSet"]
    pod = sts["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["args"][:1] == ["--config"], c["args"]
    path = Path(c["args"][1])
    assert path.name == "$(POD_NAME).json", path
    [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == str(path.parent)]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    data = config_maps()[volume["configMap"]["name"]]
    names = [f"{sts['metadata']['name']}-{i}" for i in range(sts["spec"]["replicas"])]
    assert sorted(data) == sorted(f"{n}.json" for n in names), "one config per pod"
    return {n: json.loads(data[f"{n}.json"]) for n in names}


def test_each_ha_pod_has_its_own_api_addr_and_no_password_in_its_config():
    objs = k8s_objects("cofferd-ha.yaml")
    [sts] = [d for (kind, _), d in objs.items() if kind == "StatefulSet"]
    ns, headless = sts["metadata"]["namespace"], sts["spec"]["serviceName"]
    [port] = sts["spec"]["template"]["spec"]["containers"][0]["ports"]
    configs = ha_pod_configs()
    assert len(configs) == 3
    for name, cfg in configs.items():
        # The pod's own DNS name under the headless Service: what a standby sends clients to.
        assert cfg["api_addr"] == f"https://{name}.{headless}.{ns}.svc:{port['containerPort']}"
        assert cfg["storage"]["type"] == "postgresql" and cfg["storage"]["ha_enabled"] is True
        assert "connection_url" not in cfg["storage"], cfg
        assert cfg["seal"]["type"] == "keyfile" and cfg["audit"], cfg
    # Alike but for api_addr.
    rest = [{k: v for k, v in cfg.items() if k != "api_addr"} for cfg in configs.values()]
    assert all(r == rest[0] for r in rest), rest


def compose_ha_nodes():
    """{service: (its config, its environment)} of compose's cofferd nodes on PostgreSQL."""
    c = compose()
    nodes = {}
    for name, svc in c["services"].items():
        for ref in svc.get("configs", []):
            if ref["target"] == "/etc/coffer/cofferd.json":
                cfg = json.loads(c["configs"][ref["source"]]["content"])
                if cfg["storage"]["type"] == "postgresql":
                    nodes[name] = (cfg, svc.get("environment", {}))
    return nodes


def test_the_compose_ha_pair_waits_for_the_database_and_each_node_has_its_own_api_addr():
    services = compose()["services"]
    nodes = compose_ha_nodes()
    assert sorted(nodes) == ["cofferd-1", "cofferd-2"]
    pg = services["postgres"]
    assert pg["image"].startswith("postgres:") and "bookworm" in pg["image"], pg["image"]
    # Ready when it answers over TCP, as cofferd connects (the image's first start serves the
    # Unix socket only).
    test = pg["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"] and "--host=127.0.0.1" in test, test
    for name, (cfg, env) in nodes.items():
        svc = services[name]
        assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}, name
        assert cfg["storage"]["ha_enabled"] is True, name
        # The password in the environment (COFFER_PG_CONNECTION_URL), the same one PostgreSQL
        # was given, never in the config.
        assert "connection_url" not in cfg["storage"], name
        url = urlsplit(env["COFFER_PG_CONNECTION_URL"])
        assert url.scheme == "postgresql" and url.hostname == "postgres", url
        assert url.password == pg["environment"]["POSTGRES_PASSWORD"], url
        assert url.username == pg["environment"]["POSTGRES_USER"], url
        assert url.path == "/" + pg["environment"]["POSTGRES_DB"], url
        # Its api_addr is its own name on the compose network.
        assert urlsplit(cfg["api_addr"]).hostname == name, cfg["api_addr"]
        assert svc["security_opt"] == services["cofferd"]["security_opt"], name
        assert svc["profiles"] == ["ha"], name
    assert len({cfg["api_addr"] for cfg, _env in nodes.values()}) == 2
    assert pg["profiles"] == ["ha"]
    # A plain `up` still starts the single node and the agent only.
    assert "profiles" not in services["cofferd"] and "profiles" not in services["agent"]


@pytest.fixture
def pg_url():
    if not PG_URL:
        pytest.fail("COFFER_TEST_PG_URL is not set: start tests/pg_cluster.sh (tests/run.sh does)")
    return PG_URL


@pytest.mark.parametrize("where", ["k8s", "compose"])
def test_the_ha_configs_start_one_active_node_and_standbys_that_send_clients_to_it(
        tmp_path, pg_url, where):
    if where == "k8s":
        configs = list(ha_pod_configs().values())
        [sts] = [d for (kind, _), d in k8s_objects("cofferd-ha.yaml").items()
                 if kind == "StatefulSet"]
        [c] = sts["spec"]["template"]["spec"]["containers"]
        # The probes as deployed.
        probes = {p: c[p]["httpGet"]["path"].removeprefix("/v1/")
                  for p in ("readinessProbe", "livenessProbe")}
    else:
        configs = [cfg for cfg, _env in compose_ha_nodes().values()]
        probes = {"readinessProbe": "sys/health"}  # compose has no load balancer to steer
    table = "deploy_" + uuid.uuid4().hex[:12]  # a vault of its own in the shared database
    cert, key = make_cert(tmp_path)
    seal = tmp_path / "seal.key"  # one key file for all, as the Secret or compose secret
    seal.write_bytes(os.urandom(32))
    seal.chmod(0o600)
    servers = []
    for i, cfg in enumerate(configs):
        cfg = json.loads(json.dumps(cfg))
        cfg["storage"].update(table=table, ha_table=table + "_ha")
        cfg["seal"]["path"] = str(seal)
        (tmp_path / f"audit{i}").mkdir()
        for device in cfg["audit"]:
            device["options"]["file_path"] = str(tmp_path / f"audit{i}" / "audit.log")
        if "tls_cert_file" in cfg:
            cfg["tls_cert_file"], cfg["tls_key_file"] = str(cert), str(key)
        cfg["disable_mlock"] = True
        server = Cofferd(tmp_path / f"node{i}", config=cfg,
                         ca_file=cert if "tls_cert_file" in cfg else None)
        server.env = {"COFFER_PG_CONNECTION_URL": pg_url}  # as the Secret or compose gives it
        servers.append(server)

    def probe(name):
        """Each node's answer to the probe (none where it is not deployed)."""
        return [s.get(probes[name]).status_code for s in servers if name in probes]

    try:
        for server in servers:
            server.start()
        # Before sys/init: alive, and not ready.
        assert all(code == 501 for code in probe("readinessProbe")), probe("readinessProbe")
        assert all(code == 200 for code in probe("livenessProbe")), probe("livenessProbe")
        # Initialized through the last node; the others unseal themselves with the key file.
        root = servers[-1].put("sys/init", json={}).json()["root_token"]

        def one_active():
            codes = probe("readinessProbe")
            return codes if sorted(codes) == [200] + [429] * (len(servers) - 1) else None
        codes = wait_for(one_active, 20, 0.2)
        assert codes, [s.get("sys/health").text for s in servers]
        # Only the active node is ready; all are alive.
        assert all(code == 200 for code in probe("livenessProbe")), probe("livenessProbe")
        active = codes.index(200)
        addr = configs[active]["api_addr"]  # as deployed, not localized
        assert servers[active].get("sys/mounts", token=root).status_code == 200
        for i, server in enumerate(servers):
            if i == active:
                continue
            leader = server.get("sys/leader").json()
            assert leader["is_self"] is False and leader["leader_address"] == addr, leader
            r = server.get("sys/mounts", token=root, allow_redirects=False)
            assert r.status_code == 307 and r.headers["Location"] == addr + "/v1/sys/mounts", \
                (r.status_code, r.headers)
    finally:
        for server in servers:
            if server.running:
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
