# SPDX-License-Identifier: Apache-2.0
"""High availability on PostgreSQL (issue 15) when things fail: kill -9 of the active node under
write load from 8 clients (a standby serves within 2 s; every acknowledged write is readable
afterwards), SIGSTOP of the active longer than lock_ttl (another node takes over within lock_ttl
+ 2 s; the resumed node commits nothing, not even a request that waited in its queue, and becomes
a standby), a PostgreSQL restart under load (503 while it is down, never 500 or a hang; writes
again within seconds, cofferd not restarted; nothing acknowledged lost), sys/watch across failover
(the index never goes backwards; an agent watching from N on the old active gets the later
changes from the new one) and token leases across failover (expiring on schedule on the new
active, renewals kept).

Nodes: keyfile seal on one key file, lock_ttl 3s, api_addr = each node's own URL. Needs the tests'
PostgreSQL (tests/pg_cluster.sh; tests/run.sh starts it); the restart tests make and restart one
of their own (pg_cluster.sh in a /tmp directory), so the shared one is never stopped. Every test
uses its own tables, dropped at its end."""
import threading
import time

import pytest
import requests

from conftest import (assert_error, create_token, enable_secrets, kv2_read, kv2_write,
                      lookup_self, ok, parse_time, put_policy, wait_for, watch_ok)
from pg import (Clusters, PgNode, TestPG, WriteLoad, add_node, first_serving, pg_storage,
                unique_table)
from pg import ha, pg  # noqa: F401 - the fixtures
from conftest import base_config

LOCK_TTL = "3s"
LOCK_TTL_S = 3.0
WRITERS = 8


def all_urls(cluster):
    return lambda: [n.url for n in cluster.nodes]


def summary(load):
    return f"acknowledged {load.acked()}, statuses {load.statuses()}"


# --- kill -9 ---------------------------------------------------------------------------------------

def test_kill9_of_the_active_under_load_a_standby_serves_within_2s(ha):
    c = ha(3)
    old = c.up()
    kv2_write(old, c.root, "probe", {"v": "probe"})
    load = WriteLoad(all_urls(c), c.root, "load", threads=WRITERS).start()
    try:
        assert wait_for(lambda: load.acked() >= 50, 20), "the writers got nothing acknowledged: " \
            + summary(load)
        time.sleep(0.5)
        killed_at = time.monotonic()
        old.kill9()
        serving, served_at = first_serving(c.live(), "secret/data/probe", c.root, timeout_s=15)
        time.sleep(1.5)  # the writers go on against the new active
    finally:
        load.stop()
    assert serving is not None, "no node served a read within 15 s of the kill:\n" + c.describe()
    took = served_at - killed_at
    new = c.wait_active()
    assert new is serving and new is not old, c.describe()
    after = load.acked(since=served_at)
    checked, problems = load.check_readable(new)
    print(f"kill -9: a standby served {took:.3f}s after the kill; {summary(load)}; "
          f"{after} acknowledged after; {checked} keys checked")
    assert not problems, f"{len(problems)} acknowledged writes lost or stale:\n" + \
        "\n".join(problems[:20])
    assert checked >= WRITERS, summary(load)
    assert after > 0, "no write was acknowledged after the failover: " + summary(load)
    assert took <= 2.0, f"a standby served {took:.3f}s after kill -9 of the active (goal: 2 s)"


def test_a_clean_stop_of_the_active_hands_over_within_2s(ha):
    """A rolling restart: SIGTERM to the active node (lock_ttl 10 s) -> it exits 0 and a standby
    serves within 2 s, not after the lock's time."""
    c = ha(3, lock_ttl="10s")
    old = c.up()
    kv2_write(old, c.root, "probe", {"v": "probe"})
    t0 = time.monotonic()
    old.stop()
    serving, served_at = first_serving(c.live(), "secret/data/probe", c.root, timeout_s=15)
    assert serving is not None, c.describe()
    took = served_at - t0
    print(f"SIGTERM of the active: a standby served {took:.3f}s after")
    assert took <= 2.0, f"a standby served {took:.2f}s after a clean stop of the active"
    assert c.wait_active() is serving


# --- SIGSTOP: fencing ------------------------------------------------------------------------------

def test_a_stalled_active_is_replaced_and_after_sigcont_commits_nothing(ha):
    c = ha(3)
    old = c.up()
    root = c.root
    kv2_write(old, root, "fenced", {"v": "v1"})
    stopped_at = time.monotonic()
    old.sigstop()
    try:
        serving, served_at = first_serving(c.live(), "secret/data/fenced", root,
                                           timeout_s=LOCK_TTL_S + 10)
        assert serving is not None, "no node took over from the stalled active:\n" + \
            c.describe()
        took = served_at - stopped_at
        print(f"SIGSTOP of the active: a standby served {took:.3f}s after (lock_ttl {LOCK_TTL})")
        new = c.wait_active(nodes=c.live())
        assert new is serving
        assert took <= LOCK_TTL_S + 2, \
            f"a standby took over {took:.2f}s after SIGSTOP (goal: lock_ttl + 2 = " \
            f"{LOCK_TTL_S + 2:.0f} s)"
        kv2_write(new, root, "fenced", {"v": "v2"})

        # A write sent to the stalled node now waits in its socket's queue; it is read the
        # moment the process runs again, before its lock thread has looked at anything.
        queued = {}

        def send_queued():
            sess = requests.Session()
            sess.trust_env = False
            try:
                queued["r"] = sess.post(f"{old.url}/v1/secret/data/fenced",
                                        headers={"X-Vault-Token": root},
                                        json={"data": {"v": "queued-on-stalled"}},
                                        allow_redirects=False, timeout=30)
            except requests.exceptions.RequestException as e:
                queued["r"] = e
        sender = threading.Thread(target=send_queued, daemon=True)
        sender.start()
        time.sleep(0.3)
    finally:
        old.sigcont()
    # And one straight after SIGCONT.
    r = old.post("secret/data/fenced", token=root, json={"data": {"v": "after-sigcont"}},
                 allow_redirects=False)
    sender.join(timeout=35)
    first = queued.get("r")
    for label, resp in (("queued during the stall", first), ("sent after SIGCONT", r)):
        if isinstance(resp, requests.Response):
            assert not 200 <= resp.status_code < 300, \
                f"the deposed node acknowledged a write {label}: {resp.status_code} {resp.text}"
            assert resp.status_code in (307, 503), f"{label}: {resp.status_code} {resp.text}"
    # The value written through the new active stays.
    assert kv2_read(new, root, "fenced")["data"] == {"v": "v2"}
    # The old node steps down: a standby naming the new active, soon.
    def standby():
        v = old.leader()
        return v is not None and v["is_self"] is False and v["leader_address"] == new.url
    assert wait_for(standby, 5), "the resumed node did not become a standby:\n" + c.describe()
    assert old.get("sys/health").status_code == 429
    assert old.running and old.proc.poll() is None, "the resumed node exited"
    assert kv2_read(old, root, "fenced")["data"] == {"v": "v2"}  # through the redirect
    assert c.wait_active() is new
    kv2_write(new, root, "fenced", {"v": "v3"})
    assert kv2_read(new, root, "fenced")["data"] == {"v": "v3"}


def test_a_stalled_active_under_load_acknowledges_nothing_after_the_takeover(ha):
    """SIGSTOP of the active while 8 writers send to it. After SIGCONT the old node may still
    answer 200 for writes it had committed before the stall (the answer was not sent yet), but
    none that it handled after it resumed: each 2xx it sends after the takeover must be for a
    version created (KV v2 created_time, its own clock) before the SIGCONT. Every acknowledged
    write is readable from the new active."""
    c = ha(3)
    old = c.up()
    kv2_write(old, c.root, "probe", {"v": "probe"})
    load = WriteLoad(lambda: [old.url] + [n.url for n in c.nodes if n is not old], c.root,
                     "load", threads=WRITERS, timeout_s=20).start()
    try:
        assert wait_for(lambda: load.acked() >= 50, 20), summary(load)
        stopped_wall, stopped_at = time.time(), time.monotonic()
        old.sigstop()
        try:
            serving, served_at = first_serving(c.live(), "secret/data/probe", c.root,
                                               timeout_s=LOCK_TTL_S + 10)
            time.sleep(1.0)
        finally:
            resumed_wall = time.time()
            old.sigcont()
        time.sleep(3.0)
    finally:
        load.stop()
    assert serving is not None, c.describe()
    late = [w for w in load.events
            if w.acked and w.url.startswith(old.url + "/") and w.done > served_at]
    print(f"SIGSTOP under load: a standby served {served_at - stopped_at:.3f}s after; "
          f"{len(late)} writes committed before the stall answered after it; {summary(load)}")
    # Frozen from the SIGSTOP to the SIGCONT, it can have created no version in between (a few
    # milliseconds after the kill() call while the signal reaches every thread aside).
    assert all(w.created for w in late), late
    handled_after = [(w.key, w.seq, w.created) for w in late
                     if parse_time(w.created) >= resumed_wall]
    assert not handled_after, f"the deposed node acknowledged writes it handled after it " \
        f"resumed (SIGCONT at {resumed_wall:.3f}): {handled_after[:5]}"
    assert all(parse_time(w.created) < stopped_wall + 0.5 for w in late), late
    new = c.wait_active()
    assert new is serving, c.describe()
    checked, problems = load.check_readable(new)
    assert not problems, f"{len(problems)} acknowledged writes lost or stale:\n" + \
        "\n".join(problems[:20])
    assert checked >= WRITERS
    assert load.acked(since=served_at) > 0, summary(load)


def test_a_stall_shorter_than_lock_ttl_moves_nothing(ha):
    """SIGSTOP of the active for a third of lock_ttl: no takeover (a standby may not end a live
    holder's sessions), and after SIGCONT the same node serves writes."""
    c = ha(3)
    old = c.up()
    kv2_write(old, c.root, "short", {"v": "1"})
    old.sigstop()
    try:
        time.sleep(LOCK_TTL_S / 3)
        views = [n.leader() for n in c.live()]
        assert all(v and v["leader_address"] == old.url and not v["is_self"] for v in views), \
            views
    finally:
        old.sigcont()
    kv2_write(old, c.root, "short", {"v": "2"})
    time.sleep(LOCK_TTL_S)
    assert c.wait_active() is old, c.describe()
    assert kv2_read(old, c.root, "short")["data"] == {"v": "2"}


# --- PostgreSQL restarted ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def own_pg():
    """A PostgreSQL of this file's own, to restart (the shared one serves the files that ctest
    runs beside this one)."""
    pg = TestPG.private()
    yield pg
    pg.destroy()


@pytest.fixture
def own_ha(cofferd_factory, own_pg):
    clusters = Clusters(cofferd_factory, own_pg, LOCK_TTL)
    yield clusters
    clusters.close()


@pytest.mark.parametrize("mode", ["single", "ha"])
def test_postgresql_restart_under_load_503_then_recovers(cofferd_factory, own_ha, own_pg, mode):
    """PostgreSQL down for 2 s under 8 writers: every answer is a 2xx or a 503 with a clear
    message (no 500, no request held past its timeout), writes are acknowledged again within
    5 s after it is back without restarting cofferd (with HA: on the same active node), and
    every acknowledged write is readable from the database (after a restart of the single node;
    with HA from the other node once the active was killed), not only from the node's cache."""
    table = None
    try:
        if mode == "single":
            table = unique_table("pgr")
            config = base_config("/nonexistent")
            config["storage"] = pg_storage(own_pg.url, table, ha=False)
            node = add_node(cofferd_factory, config, cls=PgNode)
            init = node.init(1, 1)
            node.unseal(init["keys"])
            root, nodes, active = init["root_token"], [node], node
        else:
            # lock_ttl 10 s (the default) outlasts the outage: the same node stays active.
            c = own_ha(2, lock_ttl="10s")
            active = c.up()
            root, nodes = c.root, c.nodes
        load = restart_checked(own_pg, nodes, active, root, mode)
        if mode == "single":
            node.restart()
            node.unseal(init["keys"])
            reader = node
        else:
            assert c.wait_active() is active, "the active node changed:\n" + c.describe()
            active.kill9()  # the other node loads everything from the database
            reader = c.wait_active(exclude=(active,))
        checked, problems = load.check_readable(reader)
        assert not problems, f"{len(problems)} acknowledged writes lost or stale:\n" + \
            "\n".join(problems[:20]) + ("" if mode == "single" else "\n" + c.describe())
        assert checked >= WRITERS
    finally:
        if table:
            if node.running:
                node.stop()
            own_pg.drop_tables(table, table + "_ha")


def restart_checked(pg, nodes, active, root, mode):
    """8 writers through active; PostgreSQL stopped for 2 s and started again; the answers
    checked. Returns the WriteLoad."""
    pids = [n.proc.pid for n in nodes]
    starts = [n.starts for n in nodes]
    load = WriteLoad(lambda: [active.url] + [n.url for n in nodes if n is not active], root,
                     "load", threads=WRITERS, timeout_s=15).start()
    try:
        assert wait_for(lambda: load.acked() >= 50, 20), summary(load)
        stopped_at, back_at = pg.restart(down_s=2.0)
        recovered_at = wait_for(lambda: load.first_ack_after(back_at), 15)
        time.sleep(1.0)
    finally:
        load.stop()
    statuses = load.statuses()
    print(f"PostgreSQL restart ({mode}): down {back_at - stopped_at:.2f}s; writes acknowledged "
          f"again {(recovered_at - back_at) if recovered_at else float('nan'):.2f}s after it "
          f"was back; {summary(load)}")
    bad = {k: v for k, v in statuses.items() if not (isinstance(k, int) and
                                                     (200 <= k < 300 or k == 503))}
    assert not bad, f"answers other than 2xx and 503 (500s, hangs, errors): {bad}; " + \
        "\n".join(f"{w.status} {w.error}" for w in load.events if w.status in bad)[:3000]
    outage = load.statuses(since=stopped_at + 0.2, until=back_at - 0.2)
    assert outage.get(503), f"no 503 while PostgreSQL was down: {outage}"
    messages = {w.error for w in load.events if w.status == 503}
    for m in messages:
        assert "storage unavailable" in m or "no active node" in m, m
    assert any("storage unavailable" in m for m in messages), messages
    slowest = max(w.done - w.sent for w in load.events)
    assert slowest < 10, f"a request took {slowest:.1f}s (held instead of a 503)"
    assert recovered_at is not None and recovered_at - back_at <= 5, \
        f"writes not acknowledged within 5 s after PostgreSQL was back: {summary(load)}"
    for n, pid, st in zip(nodes, pids, starts):
        assert n.proc is not None and n.proc.poll() is None and n.proc.pid == pid and \
            n.starts == st, "cofferd exited or was restarted"
    return load


# --- no stale state when the lead moves back --------------------------------------------------------

def test_a_node_active_again_serves_what_the_other_changed_meanwhile(ha):
    """Node a is active and its caches are warm (a secret, a KV v1 mount, a policy's compiled ACL,
    tokens, an AppRole secret-id); a steps down and b changes all of it; b steps down and a is
    active again: a serves b's state, nothing from its caches of its first term."""
    c = ha(2)
    a = c.up()
    b = c.standbys(a)[0]
    root = c.root
    kv2_write(a, root, "pp/s", {"v": "a1"})
    put_policy(a, root, "pp", 'path "secret/data/pp/*" {\n  capabilities = ["read"]\n}\n')
    enable_secrets(a, root, "ppkv", version=1)
    ok(a.post("ppkv/x", token=root, json={"v": "a1"}), 204)
    ok(a.post("sys/auth/approle", token=root, json={"type": "approle"}), 204)
    ok(a.post("auth/approle/role/pp", token=root,
              json={"token_policies": ["pp"], "secret_id_num_uses": 2}), 204)
    role_id = ok(a.get("auth/approle/role/pp/role-id", token=root))["data"]["role_id"]
    secret_id = ok(a.post("auth/approle/role/pp/secret-id", token=root))["data"]["secret_id"]
    reader = create_token(a, root, policies=["pp"])["auth"]["client_token"]
    victim = create_token(a, root, policies=["pp"])["auth"]["client_token"]
    login = {"role_id": role_id, "secret_id": secret_id}
    # Warm every cache of a.
    assert kv2_read(a, reader, "pp/s")["data"] == {"v": "a1"}
    assert kv2_read(a, victim, "pp/s")["data"] == {"v": "a1"}
    assert ok(a.get("ppkv/x", token=root))["data"] == {"v": "a1"}
    ok(a.post("auth/approle/login", json=login))  # the secret-id's first use of two

    ok(a.put("sys/step-down", token=root), 204)
    assert c.wait_active(exclude=(a,)) is b
    kv2_write(b, root, "pp/s", {"v": "b1"})
    put_policy(b, root, "pp", 'path "secret/data/other/*" {\n  capabilities = ["read"]\n}\n')
    ok(b.post("ppkv/x", token=root, json={"v": "b1"}), 204)
    enable_secrets(b, root, "ppkv2", version=1)
    ok(b.post("ppkv2/y", token=root, json={"v": "b1"}), 204)
    ok(b.post("auth/approle/login", json=login))  # its second and last use
    ok(b.post("auth/token/revoke", token=root, json={"token": victim}), 204)

    ok(b.put("sys/step-down", token=root), 204)
    assert c.wait_active(exclude=(b,), timeout_s=20) is a
    assert kv2_read(a, root, "pp/s")["data"] == {"v": "b1"}
    assert ok(a.get("ppkv/x", token=root))["data"] == {"v": "b1"}
    assert ok(a.get("ppkv2/y", token=root))["data"] == {"v": "b1"}
    # The policy as b left it: the reader lost read on secret/data/pp/*.
    assert_error(a.get("secret/data/pp/s", token=reader), 403)
    # The token b revoked is refused; the secret-id b used up logs in no more.
    assert_error(lookup_self(a, victim), 403)
    r = a.post("auth/approle/login", json=login)
    assert r.status_code in (400, 403) and r.json()["errors"], r.text


def test_keyring_rotated_on_the_old_active_is_used_by_the_new(ha):
    """Terms added by sys/rotate on the old active: the new active reads with them and writes
    with the newest (key-status), and rotates on from there."""
    c = ha(2)
    old = c.up()
    kv2_write(old, c.root, "rot", {"v": "term1"})
    ok(old.put("sys/rotate", token=c.root), 204)
    ok(old.put("sys/rotate", token=c.root), 204)
    kv2_write(old, c.root, "rot3", {"v": "term3"})
    assert old.key_status(c.root)["term"] == 3
    old.kill9()
    new = c.wait_active(exclude=(old,))
    assert new.key_status(c.root)["term"] == 3
    assert kv2_read(new, c.root, "rot")["data"] == {"v": "term1"}
    assert kv2_read(new, c.root, "rot3")["data"] == {"v": "term3"}
    ok(new.put("sys/rotate", token=c.root), 204)
    assert new.key_status(c.root)["term"] == 4
    kv2_write(new, c.root, "rot4", {"v": "term4"})
    old.start()  # back as a standby (keyfile): it reads the term-4 keyring when it leads
    assert c.wait_unsealed(timeout_s=10), c.describe()
    ok(new.put("sys/step-down", token=c.root), 204)
    assert c.wait_active(exclude=(new,), timeout_s=15) is old
    assert old.key_status(c.root)["term"] == 4
    assert kv2_read(old, c.root, "rot4")["data"] == {"v": "term4"}


# --- sys/watch across failover -------------------------------------------------------------------

P = "secret/data/watch/p"
Q = "secret/data/watch/q"


class Agent(threading.Thread):
    """An agent-style watcher: POST sys/watch {paths, index, wait} to the first of urls()
    that answers 200 (following redirects), moving on after an error; after each answer that
    names the watched path it reads the secret; it stops when the secret holds want["v"]. Records
    every answer as (index, changed, value read)."""

    def __init__(self, urls, token, paths, index, secret, want, timeout_s=40):
        super().__init__(daemon=True)
        self.urls, self.token, self.paths, self.index = urls, token, paths, index
        self.secret, self.want, self.timeout_s = secret, want, timeout_s
        self.answers = []
        self.errors = []
        self.done = False

    def run(self):
        sess = requests.Session()
        sess.trust_env = False
        sess.headers["X-Vault-Token"] = self.token
        at = 0
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            urls = self.urls()
            base = urls[at % len(urls)]
            try:
                r = sess.post(f"{base}/v1/sys/watch", timeout=25,
                              json={"paths": self.paths, "index": self.index, "wait": "20s"})
            except requests.exceptions.RequestException as e:
                self.errors.append(type(e).__name__)
                at += 1
                time.sleep(0.05)
                continue
            if r.status_code != 200:
                self.errors.append(r.status_code)
                at += 1
                time.sleep(0.05)
                continue
            d = r.json()["data"]
            value = None
            if d["changed"]:
                g = sess.get(f"{base}/v1/{self.secret}", timeout=10)
                value = g.json()["data"]["data"]["v"] if g.status_code == 200 else g.status_code
            self.answers.append((d["index"], d["changed"], value))
            self.index = d["index"]
            if self.want.get("v") is not None and value == self.want["v"]:
                self.done = True
                return


def test_watch_index_never_goes_backwards_across_failover(ha):
    c = ha(3)
    old = c.up()
    root = c.root
    kv2_write(old, root, "watch/p", {"v": "p1"})
    kv2_write(old, root, "watch/q", {"v": "q1"})
    n1 = watch_ok(old, root, [P, Q], 0)["index"]
    # An agent holds a watch on P from n1 on the active node.
    want = {}
    first = [old.url]
    agent = Agent(lambda: first + [n.url for n in c.nodes if n is not old], root, [P], n1, P,
                  want)
    agent.start()
    time.sleep(0.5)
    # A change the agent does not watch, on the old active: its index is after n1.
    kv2_write(old, root, "watch/q", {"v": "q2"})
    nq = watch_ok(old, root, [Q], n1)
    assert nq["changed"] == [Q] and nq["index"] > n1, nq
    assert not agent.answers, agent.answers  # Q does not wake a watch on P
    old.kill9()
    new = c.wait_active(exclude=(old,))
    # The new active starts above every index the old one handed out.
    zero = watch_ok(new, root, [P, Q], 0)
    assert zero["index"] >= nq["index"], (zero, nq)
    # A client at n1 hears of the change made on the old active after n1, at once.
    since = watch_ok(new, root, [Q], n1, wait="1s")
    assert Q in since["changed"] and since["index"] >= nq["index"], (since, nq)
    # The agent, whose held watch died with the old node, watches on from n1 through the
    # survivors and gets the change made on the new active.
    time.sleep(0.5)
    want["v"] = "p2"
    kv2_write(new, root, "watch/p", {"v": "p2"})
    agent.join(timeout=45)
    assert agent.done, f"the agent never read p2: answers {agent.answers}, errors " \
        f"{agent.errors}\n" + c.describe()
    indexes = [n1] + [a[0] for a in agent.answers]
    assert indexes == sorted(indexes), f"a watch index went backwards: {indexes}"
    assert agent.answers[-1][0] > nq["index"] and P in agent.answers[-1][1], agent.answers
    # And a held watch from the agent's last index is woken by the next write there.
    last = agent.answers[-1][0]
    got = {}
    t = threading.Thread(target=lambda: got.update(watch_ok(new, root, [P], last, wait="20s")))
    t.start()
    time.sleep(0.5)
    kv2_write(new, root, "watch/p", {"v": "p3"})
    t.join(timeout=25)
    assert got.get("changed") == [P] and got["index"] > last, got


# --- token leases across failover ----------------------------------------------------------------

def lease_lookup(node, root, lease_id):
    return node.put("sys/leases/lookup", token=root, json={"lease_id": lease_id})


def test_token_leases_expire_on_schedule_on_the_new_active(ha):
    c = ha(3)
    old = c.up()
    root = c.root
    short = create_token(old, root, policies=["default"], ttl="12s")["auth"]
    renewed = create_token(old, root, policies=["default"], ttl="12s")["auth"]
    lasting = create_token(old, root, policies=["default"], ttl="1h")["auth"]
    lease = ok(lookup_self(old, short["client_token"]))["data"]["lease_id"]
    expire = parse_time(ok(lease_lookup(old, root, lease))["data"]["expire_time"])
    renewed_lease = ok(lookup_self(old, renewed["client_token"]))["data"]["lease_id"]
    ok(old.put("sys/leases/renew", token=root,
               json={"lease_id": renewed_lease, "increment": 60}))
    old.kill9()
    new = c.wait_active(exclude=(old,))
    assert time.time() < expire - 2, "the failover took too long for this test's TTL"
    # Before its time the token works on the new active, with the same expiry.
    assert lookup_self(new, short["client_token"]).status_code == 200
    d = ok(lease_lookup(new, root, lease))["data"]
    assert abs(parse_time(d["expire_time"]) - expire) < 1.0, (d, expire)
    # After it, the token is refused and its lease revoked by the new active's lease manager
    # (not only refused at use): the lease and the accessor are gone within a few seconds.
    wait_for(lambda: time.time() > expire + 0.2, 30)
    assert_error(lookup_self(new, short["client_token"]), 403)

    def revoked():
        r = lease_lookup(new, root, lease)
        return time.time() if r.status_code == 400 else None
    revoked_at = wait_for(revoked, 10)
    assert revoked_at is not None, ok(lease_lookup(new, root, lease))
    assert revoked_at - expire <= 5, f"revoked {revoked_at - expire:.1f}s after its expiry"
    assert_error(lease_lookup(new, root, lease), 400, "invalid lease")
    assert_error(new.post("auth/token/lookup-accessor", token=root,
                          json={"accessor": short["accessor"]}), 400, "invalid accessor")
    # The renewal made on the old active holds: that token lives on, as does the long one.
    assert lookup_self(new, renewed["client_token"]).status_code == 200
    d = ok(lease_lookup(new, root, renewed_lease))["data"]
    assert parse_time(d["expire_time"]) > expire + 30, d
    assert lookup_self(new, lasting["client_token"]).status_code == 200
