# SPDX-License-Identifier: Apache-2.0
"""The tests' PostgreSQL (tests/pg_cluster.sh; tests/run.sh starts one): where it is, psql as the
coffer role and as the superuser, stopping and restarting it, pg_dump of the coffer database,
unique table names and the storage section of a cofferd config. Also HA clusters of cofferd on
one table (PgNode, HACluster) and a write load that records which writes were acknowledged
(WriteLoad), for tests/integration/test_ha_pg*.py.

The environment that pg_cluster.sh prints: COFFER_TEST_PG_URL (the coffer role, password auth,
owner of database "coffer", not a superuser), COFFER_TEST_PGDATA, COFFER_TEST_PGBIN,
COFFER_TEST_PGPORT and COFFER_TEST_PGHOST (the socket directory: psql -h there -U postgres is the
superuser, run as the postgres user through runuser). A test that needs the database fails (not
skips) when the environment is missing: the issue's tests must run.

Restarting stops the cluster it was given: a test that does so makes one of its own
(TestPG.private()), as ctest runs the test files in parallel on the shared one."""
import collections
import copy
import getpass
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from coffer_testlib import Cofferd, base_config, wait_for

REPO = Path(__file__).resolve().parents[2]
PG_CLUSTER = REPO / "tests" / "pg_cluster.sh"
ENV_KEYS = ("COFFER_TEST_PG_URL", "COFFER_TEST_PGDATA", "COFFER_TEST_PGBIN", "COFFER_TEST_PGPORT",
            "COFFER_TEST_PGHOST")


class TestPG:
    """The test PostgreSQL named by the environment."""

    __test__ = False  # not a pytest test class

    def __init__(self, env=None):
        env = os.environ if env is None else env
        missing = [k for k in ENV_KEYS if not env.get(k)]
        if missing:
            pytest.fail(f"the tests' PostgreSQL is not configured ({', '.join(missing)} unset): "
                        f"eval \"$(tests/pg_cluster.sh start DIR)\" first (tests/run.sh does)")
        self.url = env["COFFER_TEST_PG_URL"]
        self.pgdata = Path(env["COFFER_TEST_PGDATA"])
        self.bin = Path(env["COFFER_TEST_PGBIN"])
        self.port = env["COFFER_TEST_PGPORT"]
        self.host = env["COFFER_TEST_PGHOST"]  # the socket directory
        self.cluster_dir = self.pgdata.parent   # what pg_cluster.sh was given

    # --- running the tools ------------------------------------------------------------------

    def _as_postgres(self, argv):
        if getpass.getuser() == "postgres":
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def psql(self, sql, timeout=30):
        """Runs sql as the coffer role (through the URL, over TCP); returns stdout (-tA: bare
        rows, | between columns)."""
        done = subprocess.run([str(self.bin / "psql"), self.url, "-X", "-q", "-tA",
                               "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"psql as coffer: {sql!r}: {done.stderr}"
        return done.stdout

    def psql_super(self, sql, db="coffer", timeout=30):
        """Runs sql as the superuser postgres on database db (Unix socket); returns stdout."""
        argv = self._as_postgres([str(self.bin / "psql"), "-h", self.host, "-p", self.port,
                                  "-U", "postgres", "-d", db, "-X", "-q", "-tA",
                                  "-v", "ON_ERROR_STOP=1", "-c", sql])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"psql as postgres: {sql!r}: {done.stderr}"
        return done.stdout

    def pg_dump_bytes(self, timeout=120):
        """pg_dump (plain SQL) of database coffer as the superuser: every table of every test,
        bytea as hex."""
        argv = self._as_postgres([str(self.bin / "pg_dump"), "-h", self.host, "-p", self.port,
                                  "-U", "postgres", "-d", "coffer", "--no-owner"])
        done = subprocess.run(argv, capture_output=True, timeout=timeout)
        assert done.returncode == 0, f"pg_dump: {done.stderr.decode(errors='replace')}"
        return done.stdout

    def is_up(self):
        argv = [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", self.port, "-t", "1"]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0

    # --- stopping and starting --------------------------------------------------------------

    def stop(self, mode="fast"):
        """pg_ctl stop -m mode (fast: sessions ended, clean shutdown; immediate: as a crash)."""
        argv = self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", mode,
                                  "-w", "-t", "60", "stop"])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, f"pg_ctl stop: {done.stdout}{done.stderr}"

    def start(self):
        """Starts the cluster again with pg_cluster.sh's options (same port and socket dir)."""
        done = subprocess.run(["bash", str(PG_CLUSTER), "start", str(self.cluster_dir)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"pg_cluster.sh start: {done.stdout}{done.stderr}"
        assert f"COFFER_TEST_PGPORT={self.port}" in done.stdout, \
            f"PostgreSQL came back elsewhere: {done.stdout}"

    def restart(self, down_s=0.0, mode="fast"):
        """Stops the cluster, leaves it down for down_s seconds, starts it again; returns the
        monotonic times (stopped, back) — back is when pg_ctl start -w returned."""
        self.stop(mode)
        stopped = time.monotonic()
        try:
            time.sleep(down_s)
        finally:
            self.start()
        return stopped, time.monotonic()

    # --- a cluster of one's own ------------------------------------------------------------------

    @classmethod
    def private(cls):
        """A new throwaway cluster (pg_cluster.sh start) in a new directory under /tmp, for a
        test that stops or restarts PostgreSQL: ctest runs files in parallel, and the shared
        cluster serves the others. destroy() stops it and removes the directory."""
        work = Path(tempfile.mkdtemp(prefix="coffer-pg-"))
        os.chmod(work, 0o755)  # the postgres user goes through it
        done = subprocess.run(["bash", str(PG_CLUSTER), "start", str(work / "pg")],
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            pytest.fail(f"pg_cluster.sh start: {done.stdout}{done.stderr}")
        env = {}
        for line in done.stdout.splitlines():
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].split("=", 1)
                env[k] = v
        pg = cls(env)
        pg.owned_dir = work
        return pg

    owned_dir = None

    def destroy(self):
        """Stops and removes a cluster made by private()."""
        if self.owned_dir is None:
            return
        subprocess.run(["bash", str(PG_CLUSTER), "stop", str(self.cluster_dir)],
                       capture_output=True, timeout=120)
        shutil.rmtree(self.owned_dir, ignore_errors=True)
        self.owned_dir = None

    # --- tables ------------------------------------------------------------------------------

    def drop_tables(self, *tables):
        """Drops each table and what cofferd makes beside it (<table>_meta), if they exist."""
        names = []
        for t in tables:
            names += [t, f"{t}_meta"]
        self.psql_super("DROP TABLE IF EXISTS " + ", ".join(names))

    def row_count(self, table):
        return int(self.psql(f"SELECT count(*) FROM {table}").strip())


def unique_table(prefix="t"):
    """A table name no other test uses: prefix_<10 hex digits> (within cofferd's
    [a-z_][a-z0-9_]{0,47}, room left for the _meta and _ha suffixes)."""
    assert prefix and prefix[0].isalpha() and prefix.islower() and len(prefix) <= 20, prefix
    return f"{prefix}_{secrets.token_hex(5)}"


def pg_storage(url, table, ha=True, lock_ttl="3s", ha_table=None, **extra):
    """The "storage" section of a cofferd config on the tests' PostgreSQL: table, its HA table
    (<table>_ha unless given) and, with ha, ha_enabled true and the lock TTL."""
    storage = {"type": "postgresql", "connection_url": url, "table": table,
               "ha_table": ha_table or f"{table}_ha"}
    if ha:
        storage["ha_enabled"] = True
        if lock_ttl is not None:
            storage["lock_ttl"] = lock_ttl
    storage.update(extra)
    return storage


# --- HA clusters of cofferd nodes on one table ---------------------------------------------------


class PgNode(Cofferd):
    """A cofferd whose api_addr is its own URL: the port is picked at each start (Cofferd.start),
    so api_addr is written into the config then, just before the file is."""

    def argv(self):
        if self.config is not None and self.config.get("storage", {}).get("ha_enabled") is True:
            self.config["api_addr"] = self.url
        return super().argv()

    def sigstop(self):
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.stopped = False

    stopped = False

    def leader(self, timeout=2):
        """sys/leader's body, or None when the node does not answer 200."""
        try:
            r = self.get("sys/leader", timeout=timeout)
        except requests.exceptions.RequestException:
            return None
        return r.json() if r.status_code == 200 else None


def add_node(factory, config, cls=PgNode, start=True):
    """A node made like cofferd_factory's servers (its own dir under the factory's, stopped and
    checked for exit 0 by factory.finish())."""
    workdir = factory.base_dir / f"cofferd{len(factory.servers)}"
    workdir.mkdir(mode=0o700)
    node = cls(workdir, config=copy.deepcopy(config))
    factory.servers.append(node)
    if start:
        node.start()
    return node


class HACluster:
    """n cofferd nodes with ha_enabled on one unique table of the tests' PostgreSQL.

    seal "keyfile": every node has the keyfile seal on one shared key file, so a node unseals
    itself (after sys/init through any node); seal "shamir": each node is unsealed with
    unseal(keys). Each node's cluster_addr is https://nodeN.cluster.test:8201 (reported only)."""

    def __init__(self, factory, pg, n=3, seal="keyfile", lock_ttl="3s", table=None, start=True,
                 **storage):
        self.factory = factory
        self.pg = pg
        self.table = table or unique_table("ha")
        self.seal = seal
        self.lock_ttl = lock_ttl
        self.storage = pg_storage(pg.url, self.table, ha=True, lock_ttl=lock_ttl, **storage)
        self.key_path = Path(factory.base_dir) / f"{self.table}.key"
        if seal == "keyfile":
            self.key_path.write_bytes(os.urandom(32))
            os.chmod(self.key_path, 0o600)
        self.nodes = []
        self.root = None
        self.keys = None
        for _ in range(n):
            self.add(start=start)

    def add(self, start=True):
        i = len(self.nodes)
        config = base_config("/nonexistent")
        config["storage"] = self.storage
        config["seal"] = ({"type": "keyfile", "path": str(self.key_path)}
                          if self.seal == "keyfile" else {"type": "shamir"})
        config["cluster_addr"] = f"https://node{i}.cluster.test:8201"
        node = add_node(self.factory, config, start=start)
        node.index = i
        self.nodes.append(node)
        return node

    # --- bringing it up -----------------------------------------------------------------------

    def init(self, via=None, shares=1, threshold=1):
        """sys/init through node via (default the first); returns the body. Sets root (and keys)."""
        via = via or self.nodes[0]
        body = {} if self.seal == "keyfile" else {"secret_shares": shares,
                                                  "secret_threshold": threshold}
        r = via.put("sys/init", json=body)
        assert r.status_code == 200, f"sys/init through {via.url}: {r.status_code} {r.text}"
        out = r.json()
        self.root = out["root_token"]
        self.keys = out.get("keys")
        return out

    def unseal_all(self, nodes=None):
        for node in nodes or self.nodes:
            if node.seal_status()["sealed"]:
                node.unseal(self.keys)

    def up(self, via=None, timeout_s=20):
        """Initialized, every node unsealed, one active: returns the active node."""
        self.init(via)
        if self.seal == "shamir":
            self.unseal_all()
        assert self.wait_unsealed(timeout_s=timeout_s), self.describe()
        return self.wait_active(timeout_s=timeout_s)

    def wait_unsealed(self, nodes=None, timeout_s=10):
        nodes = nodes or self.live()

        def unsealed():
            try:
                return all(not n.get("sys/seal-status", timeout=2).json()["sealed"]
                           for n in nodes)
            except (requests.exceptions.RequestException, ValueError, KeyError):
                return False
        return wait_for(unsealed, timeout_s, 0.05)

    # --- who is active ------------------------------------------------------------------------

    def live(self):
        """The running nodes that are not SIGSTOPped."""
        return [n for n in self.nodes if n.running and not n.stopped]

    def leaders(self, nodes=None):
        return {n: n.leader() for n in (nodes or self.live())}

    def agreed_active(self, nodes=None):
        """The node that every one of nodes (default: the live ones) names as the active one, when
        exactly one says is_self and the others name its api_addr; else None."""
        views = self.leaders(nodes)
        selfs = [n for n, v in views.items() if v is not None and v.get("is_self") is True]
        if len(selfs) != 1:
            return None
        active = selfs[0]
        for n, v in views.items():
            if v is None or v.get("leader_address") != active.url:
                return None
        return active

    def wait_active(self, exclude=(), timeout_s=15, nodes=None):
        """Waits until the live nodes (or nodes) agree on one active node not in exclude;
        returns it, failing the test with every node's view when they do not."""
        def agreed():
            a = self.agreed_active(nodes)
            return a if a is not None and a not in exclude else None
        active = wait_for(agreed, timeout_s, 0.05)
        assert active is not None, f"no agreed active node within {timeout_s}s:\n" + \
            self.describe()
        return active

    def standbys(self, active):
        return [n for n in self.live() if n is not active]

    def describe(self):
        """Every node's view (sys/leader, sys/health) and its log tail, for failure messages."""
        lines = []
        for n in self.nodes:
            state = "killed/stopped" if not n.running else ("SIGSTOPped" if n.stopped else "")
            view = health = None
            if n.running and not n.stopped:
                view = n.leader()
                try:
                    h = n.get("sys/health", timeout=2)
                    health = f"{h.status_code} {h.text[:200]}"
                except requests.exceptions.RequestException as e:
                    health = repr(e)
            lines.append(f"node{n.index} {n.url} {state} leader={view} health={health}\n"
                         f"  stderr tail:\n    " +
                         "\n    ".join(n.stderr().splitlines()[-15:]))
        return "\n".join(lines)

    def finish(self):
        """SIGCONT every stopped node (so that the factory can stop it cleanly)."""
        for n in self.nodes:
            if n.running and n.stopped:
                n.sigcont()


class Clusters:
    """What a test's `ha` fixture gives: clusters(n=3, seal="keyfile", **kw) -> a new HACluster
    (nodes started, not initialized) on its own table. close() continues SIGSTOPped nodes, stops
    every node of the factory (each must exit 0) and drops the clusters' tables."""

    def __init__(self, factory, pg, lock_ttl="3s"):
        self.factory = factory
        self.pg = pg
        self.lock_ttl = lock_ttl
        self.made = []

    def __call__(self, n=3, seal="keyfile", **kw):
        kw.setdefault("lock_ttl", self.lock_ttl)
        cluster = HACluster(self.factory, self.pg, n=n, seal=seal, **kw)
        self.made.append(cluster)
        return cluster

    def close(self):
        for c in self.made:
            c.finish()
        try:
            self.factory.finish()
        finally:
            if self.pg.is_up():
                for c in self.made:
                    self.pg.drop_tables(c.table, c.storage["ha_table"])


def first_serving(nodes, path, token, timeout_s, interval_s=0.01):
    """Polls GET /v1/<path> on every node (no redirects followed, 0.5 s per request) until one
    answers 200; returns (that node, monotonic time of the answer), or (None, None)."""
    sessions = {}
    for n in nodes:
        sess = requests.Session()
        sess.trust_env = False
        sess.headers["X-Vault-Token"] = token
        sessions[n] = sess
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            for n, sess in sessions.items():
                try:
                    r = sess.get(f"{n.url}/v1/{path}", timeout=0.5, allow_redirects=False)
                except requests.exceptions.RequestException:
                    continue
                if r.status_code == 200:
                    return n, time.monotonic()
            time.sleep(interval_s)
        return None, None
    finally:
        for sess in sessions.values():
            sess.close()


class Write(collections.namedtuple("Write", "sent done status error url key seq created")):
    """One write of a WriteLoad: monotonic times sent and answered, the status (or the name of
    the exception), the error text of a non-2xx, the URL that answered (after redirects), the
    key and sequence number written, and the version's created_time of a 2xx."""

    @property
    def acked(self):
        return isinstance(self.status, int) and 200 <= self.status < 300


class WriteLoad:
    """Writers (8 threads by default), each writing its own keys, KV v2 secret/data/<prefix>/
    w<thread>/k<key>, round robin over keys_per_thread keys with an increasing sequence number.
    Each write goes to one of urls() (following a 307 to the active node); after a failure or a
    non-2xx the thread moves on to the next URL. Every write is recorded: acknowledged (2xx) or
    unknown (no answer, or another status: it may have committed or not).

    After stop(), check_readable(node) reads every key (following redirects) and checks that it
    holds its last acknowledged value, or a later value whose write's outcome is unknown."""

    def __init__(self, urls, token, prefix, threads=8, keys_per_thread=4, timeout_s=10,
                 pause_s=0.0):
        self.urls = urls  # a callable returning the base URLs to try
        self.token = token
        self.prefix = prefix
        self.n_threads = threads
        self.keys_per_thread = keys_per_thread
        self.timeout_s = timeout_s
        self.pause_s = pause_s
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.history = {}   # key -> {seq: "ack" | "unknown"}
        self.events = []    # Write(...) of every write, in the order of their answers
        self.threads = []

    def key(self, t, k):
        return f"{self.prefix}/w{t}/k{k}"

    def start(self):
        for t in range(self.n_threads):
            th = threading.Thread(target=self._run, args=(t,), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def _run(self, t):
        session = requests.Session()
        session.trust_env = False
        session.headers["X-Vault-Token"] = self.token
        seq = 0
        at = t
        while not self.stop_event.is_set():
            urls = self.urls()
            base = urls[at % len(urls)]
            seq += 1
            key = self.key(t, seq % self.keys_per_thread)
            sent = time.monotonic()
            status, err, final, created = None, "", base, None
            try:
                r = session.post(f"{base}/v1/secret/data/{key}", json={"data": {"v": seq}},
                                 timeout=self.timeout_s)
                status, final = r.status_code, r.url
                if not 200 <= status < 300:
                    err = r.text[:300]
                else:
                    try:
                        created = r.json()["data"]["created_time"]
                    except (ValueError, KeyError, TypeError):
                        pass
            except requests.exceptions.RequestException as e:
                status, err = type(e).__name__, str(e)[:300]
            done = time.monotonic()
            acked = isinstance(status, int) and 200 <= status < 300
            with self.lock:
                self.history.setdefault(key, {})[seq] = "ack" if acked else "unknown"
                self.events.append(Write(sent, done, status, err, final, key, seq, created))
            if not acked:
                at += 1
                time.sleep(0.02)
            elif self.pause_s:
                time.sleep(self.pause_s)
        session.close()

    def stop(self):
        self.stop_event.set()
        for th in self.threads:
            th.join(timeout=self.timeout_s + 10)
            assert not th.is_alive(), "a writer thread hung"

    def acked(self, since=None, until=None):
        """How many writes were acknowledged (whose answer came between since and until)."""
        with self.lock:
            return sum(1 for w in self.events if w.acked
                       and (since is None or w.done >= since) and (until is None or w.done <= until))

    def first_ack_after(self, t):
        with self.lock:
            done = [w.done for w in self.events if w.acked and w.done >= t]
        return min(done) if done else None

    def check_readable(self, node, token=None):
        """Reads every key written through node (following redirects): a key with an
        acknowledged write must hold the last acknowledged value or a later unknown one.
        Returns (acknowledged keys, problems)."""
        problems = []
        checked = 0
        session = requests.Session()
        session.trust_env = False
        session.headers["X-Vault-Token"] = token or self.token
        for key, writes in sorted(self.history.items()):
            acks = [s for s, o in writes.items() if o == "ack"]
            if not acks:
                continue
            last = max(acks)
            checked += 1
            r = session.get(f"{node.url}/v1/secret/data/{key}", timeout=10)
            if r.status_code != 200:
                problems.append(f"{key}: acknowledged v={last} but read {r.status_code} "
                                f"{r.text[:200]}")
                continue
            got = r.json()["data"]["data"].get("v")
            if got != last and not (isinstance(got, int) and got > last and
                                    writes.get(got) == "unknown"):
                problems.append(f"{key}: acknowledged v={last} but read v={got}")
        session.close()
        return checked, problems

    def statuses(self, since=None, until=None):
        """{status: count} of the answers sent between since and until."""
        out = {}
        with self.lock:
            for w in self.events:
                if (since is None or w.sent >= since) and (until is None or w.sent <= until):
                    out[w.status] = out.get(w.status, 0) + 1
        return out


# --- the fixtures of the HA test files (imported by them: `from pg import ha, pg`) ------------

@pytest.fixture(scope="module")
def pg():
    """The tests' PostgreSQL; fails (not skips) when the environment names none."""
    return TestPG()


@pytest.fixture
def ha(request, cofferd_factory, pg):  # noqa: F811 - pg is the fixture above
    """ha(n=3, seal="keyfile", **storage) -> an HACluster (nodes started, vault not initialized)
    on its own tables, with the test module's LOCK_TTL; at the end every node is stopped (exit 0)
    and the tables dropped."""
    clusters = Clusters(cofferd_factory, pg, request.module.LOCK_TTL)
    yield clusters
    clusters.close()
