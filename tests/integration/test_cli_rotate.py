# SPDX-License-Identifier: Apache-2.0
"""`coffer kv rotate` (issue #6): the new value's length and charset, the other keys kept, a
check-and-set conflict reported with exit 1 (made certain by a proxy that lets another writer in
between the rotation's read and its write) or retried with -retries, several rotations started at
once that never lose an update; and the README walk-through (login, put from a file, get -field,
rotate) with no secret on any command line."""
import http.server
import string
import threading

import requests

from conftest import kv2_metadata, kv2_read, kv2_write, start_dev
from test_cli import Cli, cli, s, table  # noqa: F401 (cli and s are the fixtures)

ALNUM = set(string.ascii_letters + string.digits)


_n = iter(range(10000))


def seeded(s, **data):
    """A fresh secret secret/rot<n>/db with data (default user and password); returns its
    relative path."""
    rel = f"rot{next(_n)}/db"
    kv2_write(s, s.root, rel, data or {"user": "alice", "password": "old-password"})
    return rel


class InterposingProxy:
    """An HTTP proxy in front of cofferd that calls hook(method, path) before it forwards a
    request, so that a test can put another write between kv rotate's read and its write."""

    def __init__(self, upstream, hook):
        session = requests.Session()
        session.trust_env = False

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                hook(self.command, self.path)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("x-vault-token", "content-type")}
                r = session.request(self.command, upstream + self.path, headers=headers,
                                    data=body, timeout=10)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = forward

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def interfere_once(s, rel, data):
    """A hook that writes data to secret/rel directly just before the first write of rel
    reaches the server."""
    state = {"done": False}

    def hook(method, path):
        if method in ("POST", "PUT") and path == f"/v1/secret/data/{rel}" and not state["done"]:
            state["done"] = True
            kv2_write(s, s.root, rel, data)
    return hook, state


# --- the value -----------------------------------------------------------------------------------

def test_rotate_sets_a_random_value_of_the_length_and_charset_keeping_other_keys(s, cli):
    rel = seeded(s)
    proc = cli.run("kv", "rotate", f"secret/{rel}", "password", check=0)
    assert table(proc.stdout)["version"] == "2", proc.stdout
    got = kv2_read(s, s.root, rel)["data"]
    assert got["user"] == "alice", got
    assert len(got["password"]) == 32 and set(got["password"]) <= ALNUM, got
    assert got["password"] not in proc.stdout + proc.stderr  # never printed

    cases = [("hex", 48, set("0123456789abcdef")), ("digits", 7, set(string.digits)),
             ("base64url", 64, ALNUM | {"-", "_"}), ("lower", 20, set(string.ascii_lowercase)),
             ("x-y_z", 30, {"x", "-", "y", "_", "z"})]
    for charset, length, allowed in cases:
        cli.ok("kv", "rotate", f"-charset={charset}", f"--length={length}", "-mount=secret", rel,
               "password")
        value = kv2_read(s, s.root, rel)["data"]["password"]
        assert len(value) == length and set(value) <= allowed, (charset, value)
    assert kv2_read(s, s.root, rel)["metadata"]["version"] == 2 + len(cases)
    # A key that is not there yet is added.
    cli.ok("kv", "rotate", f"secret/{rel}", "api_key", "-length=16")
    data = kv2_read(s, s.root, rel)["data"]
    assert len(data["api_key"]) == 16 and data["user"] == "alice", data


def test_rotate_draws_characters_evenly(s, cli):
    rel = seeded(s)
    cli.ok("kv", "rotate", "-charset=ab", "-length=4096", f"secret/{rel}", "password")
    value = kv2_read(s, s.root, rel)["data"]["password"]
    # 4096 fair coin flips: the count of "a" is within 6 standard deviations (32) of 2048.
    assert 2048 - 192 <= value.count("a") <= 2048 + 192, value.count("a")
    other = seeded(s)
    cli.ok("kv", "rotate", "-charset=ab", "-length=4096", f"secret/{other}", "password")
    assert kv2_read(s, s.root, other)["data"]["password"] != value


def test_rotate_usage_and_missing_secret(s, cli):
    rel = seeded(s)
    for bad in (["-length=0"], ["-length=5000"], ["-length=x"], ["-charset=a"],
                ["-charset=a b"], ["-retries=-1"]):
        proc = cli.run("kv", "rotate", *bad, f"secret/{rel}", "password", check=2)
        assert proc.stderr, bad
    assert cli.run("kv", "rotate", f"secret/{rel}", check=2).returncode == 2
    missing = cli.run("kv", "rotate", "secret/rot-none/db", "password", check=2)
    assert "No value found" in missing.stderr, missing.stderr
    cli.ok("kv", "delete", f"secret/{rel}")
    assert "deleted" in cli.run("kv", "rotate", f"secret/{rel}", "password", check=2).stderr
    assert kv2_metadata(s, s.root, rel)["current_version"] == 1


# --- check-and-set -------------------------------------------------------------------------------

def test_rotate_reports_a_cas_conflict_and_writes_nothing(s, tmp_path):
    rel = seeded(s)
    other = {"user": "bob", "password": "set-by-someone-else"}
    hook, state = interfere_once(s, rel, other)
    proxy = InterposingProxy(s.url, hook)
    try:
        cli = Cli(s, tmp_path / "home", token=s.root)
        proc = cli.run("kv", "rotate", f"secret/{rel}", "password",
                       env={"COFFER_ADDR": proxy.url}, check=1)
    finally:
        proxy.close()
    assert state["done"]
    assert "check-and-set" in proc.stderr and f"secret/{rel}" in proc.stderr, proc.stderr
    # The other writer's version stands, and the rotation wrote nothing after it.
    latest = kv2_read(s, s.root, rel)
    assert latest["data"] == other and latest["metadata"]["version"] == 2, latest


def test_rotate_with_retries_rereads_and_keeps_the_other_write(s, tmp_path):
    rel = seeded(s)
    hook, state = interfere_once(s, rel, {"user": "bob", "password": "set-by-someone-else"})
    proxy = InterposingProxy(s.url, hook)
    try:
        cli = Cli(s, tmp_path / "home", token=s.root)
        proc = cli.run("kv", "rotate", "-retries=2", f"secret/{rel}", "password",
                       env={"COFFER_ADDR": proxy.url}, check=0)
    finally:
        proxy.close()
    assert state["done"] and "Retrying" in proc.stderr, proc.stderr
    latest = kv2_read(s, s.root, rel)
    assert latest["metadata"]["version"] == 3, latest
    assert latest["data"]["user"] == "bob", latest  # the other writer's change survived
    assert len(latest["data"]["password"]) == 32, latest


def test_concurrent_rotations_of_one_key_never_lose_an_update(s, cli):
    for _round in range(3):
        rel = seeded(s)
        procs = [cli.popen("kv", "rotate", f"secret/{rel}", "password", "-length=24")
                 for _ in range(6)]
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        ok = [r for r in results if r[0] == 0]
        for rc, out, err in results:
            assert rc in (0, 1), (rc, out, err)
            if rc == 1:
                assert "check-and-set" in err, err
        assert ok, results
        meta = kv2_metadata(s, s.root, rel)
        assert meta["current_version"] == 1 + len(ok), (meta, results)
        values = set()
        for v in range(2, 2 + len(ok)):
            data = kv2_read(s, s.root, rel, version=v)["data"]
            assert data["user"] == "alice" and len(data["password"]) == 24, data
            values.add(data["password"])
        assert len(values) == len(ok)  # each success wrote its own version


def test_concurrent_rotations_of_two_keys_keep_both_or_report(s, cli):
    for retries in ("0", "10"):
        rel = seeded(s, a="a0", b="b0", keep="k")
        procs = {key: cli.popen("kv", "rotate", f"-retries={retries}", f"secret/{rel}", key)
                 for key in ("a", "b")}
        rcs = {key: (p.wait(timeout=60), p.communicate()[1]) for key, p in procs.items()}
        final = kv2_read(s, s.root, rel)
        successes = 0
        for key, (rc, err) in rcs.items():
            assert rc in (0, 1), (key, rc, err)
            if rc == 0:
                successes += 1
                assert final["data"][key] != f"{key}0", (key, final)  # its update is there
            else:
                assert retries == "0" and "check-and-set" in err, err
                assert final["data"][key] == f"{key}0", (key, final)
        assert final["data"]["keep"] == "k", final
        assert final["metadata"]["version"] == 1 + successes, final
        if retries != "0":
            assert successes == 2, rcs


# --- the README walk-through ---------------------------------------------------------------------

def test_readme_walkthrough_keeps_secrets_off_the_command_line(cofferd_factory, tmp_path):
    dev = start_dev(cofferd_factory)
    home = tmp_path / "home"
    user = Cli(dev, home)  # no COFFER_TOKEN: the login below stores the token
    banner = dev.dev_banner()
    runs = []

    def run(*args, stdin=None):
        proc = user.run(*args, stdin=stdin, check=0)
        runs.append((args, proc))
        return proc

    run("login", stdin=banner["Root Token"] + "\n")
    pw = tmp_path / "db-password"
    pw.write_text("correct horse battery staple")
    run("kv", "put", "secret/app/db", f"password=@{pw}", "user=app")
    assert run("kv", "get", "-field=password", "secret/app/db").stdout == \
        "correct horse battery staple"
    run("kv", "rotate", "secret/app/db", "password")
    new = run("kv", "get", "-field=password", "secret/app/db").stdout
    assert len(new) == 32 and new != "correct horse battery staple"
    assert run("kv", "get", "-field=user", "secret/app/db").stdout == "app"
    for args, proc in runs:
        assert "Warning" not in proc.stderr, (args, proc.stderr)
        assert banner["Root Token"] not in " ".join(args) + proc.stdout + proc.stderr
        assert new not in " ".join(args)
