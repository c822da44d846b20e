# SPDX-License-Identifier: Apache-2.0
"""High availability on PostgreSQL (issue 15), without failures: several cofferd on one table
(ha_enabled, lock_ttl 3s, api_addr = each node's own URL), exactly one active; standbys answer
sys/health 429 (200 with standbyok), sys/leader, seal-status and init themselves and send every
other request to the active node with 307 (same path and query, no body), which hvac follows;
sys/init through any node, keyfile nodes started before it unseal themselves, two concurrent
inits make one vault; PUT sys/step-down hands over; pg_dump of the database holds no secret name,
value or token; config errors (ha_enabled as a string; a second cofferd on a table without HA).
The failures (kill -9, SIGSTOP, a PostgreSQL restart, watch and leases across failover) are in
test_ha_pg_failover.py.

Needs the tests' PostgreSQL (tests/pg_cluster.sh; tests/run.sh starts it): COFFER_TEST_PG_URL and
the rest, see tests/pylib/pg.py. Every test uses its own tables, dropped at its end."""
import json
import secrets
import subprocess
import sys
import threading
import time
from urllib.parse import unquote

import pytest
import requests

from conftest import (assert_error, cofferd_path, create_token, free_port, kv2_read, kv2_write,
                      lookup_self, parse_time, put_policy, secret_encodings, token_needles,
                      watch_ok)
from pg import add_node, pg_storage, unique_table
from pg import ha, pg  # noqa: F401 - the fixtures

if "/usr/lib/python3/dist-packages" not in sys.path:  # Debian's hvac
    sys.path.append("/usr/lib/python3/dist-packages")

LOCK_TTL = "3s"


def no_redirect(node, method, path, token=None, **kw):
    return node.request(method, path, token=token, allow_redirects=False, **kw)


def assert_redirect(resp, location):
    """A standby's answer: 307, Location exactly location, no body."""
    assert resp.status_code == 307, f"want 307, got {resp.status_code}: {resp.text[:300]}"
    assert resp.headers.get("Location") == location, resp.headers
    assert resp.content == b"", resp.content[:200]


# --- three nodes: one active, standbys redirect ---------------------------------------------------

def test_three_nodes_one_active_standbys_redirect(ha):
    c = ha(3)
    active = c.up(via=c.nodes[1])
    standbys = c.standbys(active)
    assert len(standbys) == 2
    root = c.root
    now = time.time()

    # sys/leader: is_self on exactly one; the others name its api_addr and cluster_addr.
    views = c.leaders()
    assert [n for n, v in views.items() if v["is_self"]] == [active], views
    for n, v in views.items():
        assert v["ha_enabled"] is True, v
        assert v["leader_address"] == active.url, (n.url, v)
        assert v["leader_cluster_address"] == f"https://node{active.index}.cluster.test:8201", v
        assert abs(parse_time(v["active_time"]) - now) < 60, v

    # sys/health: 200 on the active; 429 on a standby, 200 with standbyok=true.
    h = active.get("sys/health")
    assert h.status_code == 200 and h.json()["standby"] is False, h.text
    for s in standbys:
        h = s.get("sys/health")
        assert h.status_code == 429, h.text
        assert h.json()["standby"] is True and h.json()["sealed"] is False, h.text
        h = s.get("sys/health", params={"standbyok": "true"})
        assert h.status_code == 200 and h.json()["standby"] is True, h.text
        # seal-status and init are answered by the standby itself.
        st = no_redirect(s, "GET", "sys/seal-status")
        assert st.status_code == 200, st.text
        assert st.json()["sealed"] is False and st.json()["initialized"] is True, st.text
        init = no_redirect(s, "GET", "sys/init")
        assert init.status_code == 200 and init.json() == {"initialized": True}, init.text

    kv2_write(active, root, "app/db", {"password": "p1"})
    s = standbys[0]
    # A read, a read with a query, a write, a LIST, a token call: 307 to the same path and query.
    base = active.url + "/v1/"
    assert_redirect(no_redirect(s, "GET", "secret/data/app/db", token=root),
                    base + "secret/data/app/db")
    assert_redirect(no_redirect(s, "GET", "secret/data/app/db?version=1", token=root),
                    base + "secret/data/app/db?version=1")
    assert_redirect(no_redirect(s, "POST", "secret/data/app/db", token=root,
                                json={"data": {"password": "via-standby"}}),
                    base + "secret/data/app/db")
    assert_redirect(no_redirect(s, "LIST", "secret/metadata/app/", token=root),
                    base + "secret/metadata/app/")
    # (A LIST of "app" is sent to "app/": the same listing, as Vault lists either form.)
    r = no_redirect(s, "LIST", "secret/metadata/app", token=root)
    assert r.headers.get("Location") in (base + "secret/metadata/app",
                                         base + "secret/metadata/app/"), r.headers
    assert_redirect(r, r.headers.get("Location"))
    r = no_redirect(s, "GET", "secret/metadata/app?list=true", token=root)
    assert r.headers.get("Location") in (base + "secret/metadata/app?list=true",
                                         base + "secret/metadata/app/?list=true"), r.headers
    assert_redirect(r, r.headers.get("Location"))
    assert_redirect(no_redirect(s, "GET", "auth/token/lookup-self", token=root),
                    base + "auth/token/lookup-self")
    # Without a token too: the standby does not judge the request, the active node does.
    assert_redirect(no_redirect(s, "GET", "secret/data/app/db"), base + "secret/data/app/db")
    # The redirected write above was not followed: nothing changed.
    assert kv2_read(active, root, "app/db")["data"] == {"password": "p1"}

    # Names that need encoding: the Location names the same path (the same after decoding).
    for name in ("a b", "caf\u00e9", "a+b", "50%"):
        r = no_redirect(s, "GET", f"secret/data/odd/{name}", token=root)
        assert r.status_code == 307, r.text
        location = r.headers["Location"]
        assert location.startswith(base), location
        assert unquote(location[len(base):]) == f"secret/data/odd/{name}", location
        kv2_write(s, root, f"odd/{name}", {"name": name})
        assert kv2_read(active, root, f"odd/{name}")["data"] == {"name": name}

    # A client that follows redirects (requests, as hvac does) reads and writes through a standby.
    out = kv2_write(s, root, "app/db", {"password": "p2"})
    assert out["version"] == 2, out
    assert kv2_read(s, root, "app/db")["data"] == {"password": "p2"}
    assert kv2_read(standbys[1], root, "app/db")["data"] == {"password": "p2"}


def test_hvac_pointed_at_a_standby_reads_and_writes(ha):
    import hvac
    from conftest import hvac_client
    c = ha(2)
    active = c.up()
    standby = c.standbys(active)[0]
    client = hvac_client(standby, token=c.root)
    assert client.is_authenticated()
    kv = client.secrets.kv.v2
    out = kv.create_or_update_secret("hvac/app", {"user": "alice"})
    assert out["data"]["version"] == 1, out
    out = kv.create_or_update_secret("hvac/app", {"user": "bob"}, cas=1)
    assert out["data"]["version"] == 2, out
    assert kv.read_secret_version("hvac/app")["data"]["data"] == {"user": "bob"}
    assert kv.read_secret_version("hvac/app", version=1)["data"]["data"] == {"user": "alice"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("hvac/nosuch")
    # The same data on the active node: hvac followed the redirect, not a local copy.
    assert kv2_read(active, c.root, "hvac/app")["data"] == {"user": "bob"}
    leader = client.sys.read_leader_status()
    assert leader["leader_address"] == active.url and leader["is_self"] is False, leader
    # A token made through the standby works on both.
    child = client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    assert lookup_self(active, child).status_code == 200
    assert hvac_client(standby, token=child).auth.token.lookup_self()["data"]["policies"] == \
        ["default"]


def test_shamir_nodes_are_unsealed_each_and_then_one_is_active(ha):
    c = ha(3, seal="shamir")
    c.init(via=c.nodes[2], shares=3, threshold=2)
    assert len(c.keys) == 3
    # Unsealed nodes only campaign: while one node is unsealed, it is the active one.
    c.nodes[1].unseal(c.keys[:2])
    first = c.wait_active(nodes=[c.nodes[1]])
    assert first is c.nodes[1]
    for n in (c.nodes[0], c.nodes[2]):
        st = n.seal_status()
        assert st["sealed"] is True and st["initialized"] is True, st
        assert n.get("sys/health").status_code == 503
        # A sealed node redirects nothing: it is sealed.
        r = no_redirect(n, "GET", "secret/data/x", token=c.root)
        assert r.status_code == 503, r.text
    c.nodes[0].unseal(c.keys[1:])
    c.nodes[2].unseal([c.keys[0], c.keys[2]])
    assert c.wait_active() is first


# --- sys/init -------------------------------------------------------------------------------------

def test_keyfile_nodes_started_before_init_unseal_themselves(ha):
    c = ha(3)
    for n in c.nodes:
        assert n.get("sys/init").json() == {"initialized": False}
        assert n.seal_status()["initialized"] is False
    t0 = time.monotonic()
    c.init(via=c.nodes[2])
    assert c.wait_unsealed(timeout_s=5), "the other keyfile nodes did not unseal within 5 s " \
        "of sys/init:\n" + c.describe()
    took = time.monotonic() - t0
    active = c.wait_active()
    assert took <= 3.0, f"the keyfile nodes unsealed {took:.1f}s after sys/init (spec: ~2 s)"
    kv2_write(active, c.root, "after/init", {"v": "1"})
    for n in c.nodes:
        assert kv2_read(n, c.root, "after/init")["data"] == {"v": "1"}
        assert n.seal_status()["initialized"] is True
    # Initializing again, through any node, is refused by that node.
    for n in c.nodes:
        r = no_redirect(n, "PUT", "sys/init", json={})
        assert r.status_code == 400, r.text


@pytest.mark.parametrize("seal", ["shamir", "keyfile"])
def test_concurrent_init_on_two_nodes_makes_one_vault(ha, seal):
    c = ha(2, seal=seal)
    body = {} if seal == "keyfile" else {"secret_shares": 1, "secret_threshold": 1}
    barrier = threading.Barrier(2)
    answers = [None, None]

    def init(i):
        sess = requests.Session()
        sess.trust_env = False
        barrier.wait()
        answers[i] = sess.put(f"{c.nodes[i].url}/v1/sys/init", json=body, timeout=30)
    threads = [threading.Thread(target=init, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=40)
    codes = sorted(a.status_code for a in answers)
    assert codes[0] == 200 and codes[1] != 200, [(a.status_code, a.text) for a in answers]
    loser = next(a for a in answers if a.status_code != 200)
    assert 400 <= loser.status_code < 600 and loser.json()["errors"], loser.text
    won = next(a for a in answers if a.status_code == 200).json()
    c.root = won["root_token"]
    c.keys = won.get("keys")
    if seal == "shamir":
        c.unseal_all()  # the winner's key unseals both: one vault
    assert c.wait_unsealed(timeout_s=5), c.describe()
    active = c.wait_active()
    kv2_write(active, c.root, "one/vault", {"v": "1"})
    for n in c.nodes:
        assert kv2_read(n, c.root, "one/vault")["data"] == {"v": "1"}


# --- step-down ------------------------------------------------------------------------------------

def test_step_down_hands_over_to_another_node(ha):
    """With the default-like lock_ttl of 10 s: the handover must not wait for the old node's
    lock time to run out (it gave the lock up), as Vault's step-down does not."""
    c = ha(3, lock_ttl="10s")
    old = c.up()
    kv2_write(old, c.root, "handover", {"v": "before"})
    reader = create_token(old, c.root, policies=["default"])["auth"]["client_token"]
    # sudo is needed: a default token is refused, and nothing moves.
    r = old.put("sys/step-down", token=reader)
    assert_error(r, 403)
    assert c.agreed_active() is old
    # A watch held on the active node is answered at the step-down (an agent then watches on
    # through the new active), not held until its wait runs out on a node that hears no writes.
    index = watch_ok(old, c.root, ["secret/data/handover"], 0)["index"]
    held = {}

    def hold():
        sess = requests.Session()
        sess.trust_env = False
        try:
            held["r"] = sess.post(f"{old.url}/v1/sys/watch", headers={"X-Vault-Token": c.root},
                                  json={"paths": ["secret/data/handover"], "index": index,
                                        "wait": "60s"}, allow_redirects=False, timeout=70)
        except requests.exceptions.RequestException as e:
            held["r"] = e
        held["t"] = time.monotonic()
    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    time.sleep(0.5)
    assert "r" not in held, held
    t0 = time.monotonic()
    r = no_redirect(old, "PUT", "sys/step-down", token=c.root)
    assert r.status_code == 204, r.text
    new = c.wait_active(exclude=(old,), timeout_s=15)
    took = time.monotonic() - t0
    print(f"step-down: a new active {took:.2f}s after PUT sys/step-down (lock_ttl 10s)")
    assert took <= 2.0, f"step-down: a new active only after {took:.1f}s (lock_ttl 10s)"
    holder.join(timeout=5)
    assert "t" in held and held["t"] - t0 < 2.0, f"the held watch was not answered at the " \
        f"step-down: {held}"
    # 503 that says why (the node is standing by, not sealed): the agent watches again and is
    # sent to the new active.
    assert held["r"].status_code == 503, held["r"].text
    assert "not the active node" in held["r"].text, held["r"].text
    view = old.leader()
    assert view["is_self"] is False and view["leader_address"] == new.url, view
    assert old.get("sys/health").status_code == 429
    # The new active serves the data, and the old one now redirects.
    assert kv2_read(new, c.root, "handover")["data"] == {"v": "before"}
    kv2_write(new, c.root, "handover", {"v": "after"})
    assert_redirect(no_redirect(old, "GET", "secret/data/handover", token=c.root),
                    new.url + "/v1/secret/data/handover")
    assert kv2_read(old, c.root, "handover")["data"] == {"v": "after"}
    # The old node does not take the lock straight back: still the same active a moment later.
    time.sleep(1)
    assert c.agreed_active() is new


def test_sealing_the_active_hands_over(ha):
    c = ha(3, lock_ttl="10s")
    old = c.up()
    kv2_write(old, c.root, "sealed", {"v": "1"})
    t0 = time.monotonic()
    r = no_redirect(old, "PUT", "sys/seal", token=c.root)
    assert r.status_code == 204, r.text
    assert old.seal_status()["sealed"] is True
    new = c.wait_active(exclude=(old,), nodes=[n for n in c.live() if n is not old],
                        timeout_s=15)
    took = time.monotonic() - t0
    assert took <= 2.0, f"sys/seal of the active: a new active only after {took:.1f}s"
    assert old.get("sys/health").status_code == 503
    assert kv2_read(new, c.root, "sealed")["data"] == {"v": "1"}


# --- what PostgreSQL sees -------------------------------------------------------------------------

def needles(*texts):
    out = set()
    for text in texts:
        raw = text.encode()
        out |= {raw, raw.upper(), raw.lower(), text.encode("utf-16-le")} | secret_encodings(raw)
    return {n for n in out if len(n) >= 12}


def test_pg_dump_holds_no_secret_name_value_or_token(ha, pg):
    c = ha(1)
    s = c.up()
    tag = secrets.token_hex(8)
    value = f"CANARYVALUE{tag}-" + secrets.token_urlsafe(24)
    key = f"canarykey{tag}"
    path = f"canarypath{tag}"
    policy = f"canarypolicy{tag}"
    kv2_write(s, c.root, f"{path}/inner", {key: value})
    kv2_write(s, c.root, f"{path}/inner", {key: value + "-v2"})
    put_policy(s, c.root, policy, f'path "secret/data/{path}/*" {{ capabilities = ["read"] }}')
    child = create_token(s, c.root, policies=[policy], ttl="1h",
                         display_name=f"canarydisplay{tag}")["auth"]
    assert kv2_read(s, child["client_token"], f"{path}/inner")["data"] == {key: value + "-v2"}
    secret_needles = needles(value, value + "-v2", key, path, f"CANARYVALUE{tag}")
    for token in (c.root, child["client_token"]):
        secret_needles |= token_needles(token)
    # The names of policies and the token's display name are hidden from the database too
    # (record names are keyed MACs, records ciphertext), though the log may show them.
    all_needles = secret_needles | needles(policy, f"canarydisplay{tag}")

    def check(dump, when):
        text = dump.decode(errors="replace")
        assert f"CREATE TABLE public.{c.table} " in text, f"{c.table} not in the dump ({when})"
        for needle in all_needles:
            assert needle not in dump, f"a canary ({needle[:12]!r}...) is in pg_dump {when}"
    assert pg.row_count(c.table) > 10
    check(pg.pg_dump_bytes(), "while the node runs")
    s.stop()
    check(pg.pg_dump_bytes(), "after a clean stop")
    log = s.all_stderr_bytes()
    for needle in secret_needles:
        assert needle not in log, f"a canary ({needle[:12]!r}...) is in the log"


# --- configuration --------------------------------------------------------------------------------

def run_refused(tmp_path, config, name="refused.json"):
    """Runs cofferd with config, which must exit non-zero within 30 s; returns its stderr."""
    path = tmp_path / name
    path.write_text(json.dumps(config))
    try:
        done = subprocess.run([str(cofferd_path()), "--config", str(path)],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                              cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cofferd accepted the config and kept running: {config}")
    assert done.returncode != 0, done.stderr
    return done.stderr.decode(errors="replace")


def pg_config(url, table, **storage):
    return {"listen": f"127.0.0.1:{free_port()}", "storage": pg_storage(url, table, **storage),
            "seal": {"type": "shamir"}, "disable_mlock": True, "log_format": "text"}


def test_ha_enabled_as_a_string_is_refused_naming_the_key(tmp_path, pg):
    table = unique_table("cfg")
    config = pg_config(pg.url, table, ha=False, ha_enabled="true")
    config["api_addr"] = "http://127.0.0.1:8200"
    err = run_refused(tmp_path, config)
    assert "storage.ha_enabled" in err, err
    assert "coffer-test-password" not in err
    pg.drop_tables(table, table + "_ha")


def test_without_ha_a_second_cofferd_on_the_table_refuses_to_start(cofferd_factory, tmp_path, pg):
    table = unique_table("solo")
    config = pg_config(pg.url, table, ha=False)
    try:
        first = add_node(cofferd_factory, config)
        init = first.init(1, 1)
        first.unseal(init["keys"])
        kv2_write(first, init["root_token"], "solo", {"v": "1"})
        config["listen"] = f"127.0.0.1:{free_port()}"
        err = run_refused(tmp_path, config)
        assert "in use by another cofferd" in err, err
        assert "coffer-test-password" not in err
        # An HA node on that table never becomes active while the first serves it (it would
        # write beside it, unfenced): it stands by, with no active node to send clients to.
        ha_config = pg_config(pg.url, table, ha=True)
        ha_node = add_node(cofferd_factory, ha_config)
        ha_node.unseal(init["keys"])
        time.sleep(2)
        view = ha_node.leader()
        assert view["is_self"] is False and view["leader_address"] == "", view
        assert_error(ha_node.post("secret/data/solo", token=init["root_token"],
                                  json={"data": {"v": "from-ha"}}), 503)
        kv2_write(first, init["root_token"], "solo", {"v": "1"})
        ha_node.stop()
        # The first one still serves; once it stopped, another may take the table.
        assert kv2_read(first, init["root_token"], "solo")["data"] == {"v": "1"}
        first.stop()
        second = add_node(cofferd_factory, config)
        second.unseal(init["keys"])
        assert kv2_read(second, init["root_token"], "solo")["data"] == {"v": "1"}
        second.stop()
    finally:
        cofferd_factory.finish()
        pg.drop_tables(table, table + "_ha")
