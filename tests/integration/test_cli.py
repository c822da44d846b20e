# SPDX-License-Identifier: Apache-2.0
"""The coffer CLI (issue #6, DESIGN.md §8) against a real cofferd: status and operator
init/unseal/seal/rotate/key-status on an uninitialized server, login (token from stdin, AppRole,
the 0600 token file), every kv command on KV v2 and v1 mounts with k=v, k=@file and k=- values,
-format=json, -field, exit codes 0/1/2, readable errors, the warning for secrets typed on the command
line, and -h on every command. The helpers here (Cli, table) are shared by the other test_cli_*.py
files. Tokens, policies, auth, audit, leases and generic paths: test_cli_admin.py; kv rotate and
the README walk-through: test_cli_rotate.py."""
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import make_cert, start_dev


REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60


def coffer_path():
    if os.environ.get("COFFER"):
        return Path(os.environ["COFFER"])
    return Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test")) / "coffer"


class Cli:
    """coffer against one server, with HOME in a temp dir and an optional token."""

    def __init__(self, server, home, token=None):
        self.server = server
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.token = token
        if not coffer_path().is_file():
            pytest.fail(f"coffer binary not found at {coffer_path()}")

    def env(self, **extra):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "COFFER_ADDR": self.server.url}
        for key in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if key in os.environ:
                env[key] = os.environ[key]
        if self.token is not None:
            env["COFFER_TOKEN"] = self.token
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def run(self, *args, stdin=None, env=None, check=None):
        """Runs coffer args; returns the CompletedProcess (text). check: the wanted exit code."""
        proc = subprocess.run([str(coffer_path()), *map(str, args)], input=stdin,
                              capture_output=True, text=True, env=self.env(**(env or {})),
                              timeout=RUN_TIMEOUT_S)
        if check is not None:
            assert proc.returncode == check, \
                f"coffer {' '.join(map(str, args))}: want exit {check}, got {proc.returncode}\n" \
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    def ok(self, *args, stdin=None, env=None):
        return self.run(*args, stdin=stdin, env=env, check=0)

    def json(self, *args, stdin=None, env=None):
        """Runs coffer args -format=json, which must exit 0; returns the parsed stdout."""
        proc = self.run(*args, "-format=json", stdin=stdin, env=env, check=0)
        return json.loads(proc.stdout)

    def popen(self, *args, env=None):
        return subprocess.Popen([str(coffer_path()), *map(str, args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=self.env(**(env or {})))


def table(text):
    """The Key/Value rows of a table printed by coffer -> {key: value text}."""
    rows = {}
    for line in text.splitlines():
        parts = line.split(None, 1)
        if not parts or parts[0] in ("Key", "---") or line.startswith("=="):
            continue
        rows[parts[0]] = parts[1].strip() if len(parts) > 1 else ""
    return rows


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s(module_cofferd_factory):
    return start_dev(module_cofferd_factory)


@pytest.fixture
def cli(s, tmp_path):
    """coffer with the root token in COFFER_TOKEN and a private HOME."""
    return Cli(s, tmp_path / "home", token=s.root)


_n = iter(range(10000))


def fresh(prefix="app"):
    """A secret path not used by another test: secret/<prefix><n>/db."""
    return f"secret/{prefix}{next(_n)}/db"


# --- status and operator -------------------------------------------------------------------------

def test_operator_init_unseal_seal_on_an_uninitialized_server(cofferd, tmp_path):
    cli = Cli(cofferd, tmp_path / "home")
    st = cli.run("status", check=2)
    assert table(st.stdout)["Initialized"] == "false", st.stdout
    assert json.loads(cli.run("status", "-format=json", check=2).stdout)["initialized"] is False

    init = cli.json("operator", "init", "-key-shares=3", "-key-threshold=2")
    assert len(init["keys"]) == 3 and len(init["keys_base64"]) == 3, init
    assert init["root_token"].startswith("cof."), init
    # The table form of a second init is an error with the server's message.
    again = cli.run("operator", "init", check=1)
    assert "already initialized" in again.stderr, again.stderr

    # The first share from stdin (no echo needed: not a terminal), the second from a file.
    first = cli.json("operator", "unseal", stdin=init["keys"][0] + "\n")
    assert first["sealed"] is True and first["progress"] == 1, first
    assert "Warning" not in cli.run("status", check=2).stderr
    keyfile = tmp_path / "share"
    keyfile.write_text(init["keys_base64"][1])
    done = cli.run("operator", "unseal", f"@{keyfile}", check=0)
    assert table(done.stdout)["Sealed"] == "false", done.stdout
    assert init["keys_base64"][1] not in done.stdout + done.stderr
    assert table(cli.run("status", check=0).stdout)["Sealed"] == "false"

    cli.token = init["root_token"]
    assert cli.json("operator", "key-status")["data"]["term"] == 1
    rotated = cli.ok("operator", "rotate")
    assert "Success!" in rotated.stdout and table(rotated.stdout)["term"] == "2", rotated.stdout
    assert cli.json("operator", "key-status")["data"]["term"] == 2
    assert "sealed" in cli.ok("operator", "seal").stdout
    assert cli.run("status", check=2).returncode == 2
    # A share on the command line works but warns; a wrong one is exit 1 with the reason.
    bad = cli.run("operator", "unseal", "zz-not-a-key", check=1)
    assert "command line" in bad.stderr and "Error" in bad.stderr, bad.stderr
    cli.ok("operator", "unseal", "-reset")
    cli.run("operator", "unseal", "-", stdin=init["keys"][2], check=0)
    cli.run("operator", "unseal", "-", stdin=init["keys"][0], check=0)
    assert cli.run("status", check=0).returncode == 0


def test_status_exit_1_when_no_server_answers(tmp_path):
    class Nowhere:
        url = "http://127.0.0.1:1"
    proc = Cli(Nowhere, tmp_path).run("status", check=1)
    assert "Error" in proc.stderr, proc.stderr
    bad = Cli(Nowhere, tmp_path).run("status", env={"COFFER_ADDR": "ftp://x"}, check=1)
    assert "http://" in bad.stderr, bad.stderr


def test_unseal_prompt_reads_the_key_from_stdin_not_argv(cofferd, tmp_path):
    cli = Cli(cofferd, tmp_path)
    init = cli.json("operator", "init", "-key-shares=1", "-key-threshold=1")
    proc = cli.run("operator", "unseal", stdin=init["keys"][0], check=0)
    assert "Warning" not in proc.stderr, proc.stderr
    assert cofferd.seal_status()["sealed"] is False


# --- login ---------------------------------------------------------------------------------------

def token_file(home):
    return Path(home) / ".coffer-token"


def test_login_token_from_stdin_writes_token_file_0600(s, tmp_path):
    cli = Cli(s, tmp_path / "home")
    cli.run("kv", "list", "secret/", check=1)  # no token yet: permission denied
    proc = cli.run("login", stdin=s.root + "\n", check=0)
    assert "Warning" not in proc.stderr, proc.stderr
    assert s.root not in proc.stdout + proc.stderr  # the table leaves the token out
    f = token_file(cli.home)
    assert f.read_text().strip() == s.root
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert sorted(p.name for p in cli.home.iterdir()) == [".coffer-token"]  # no temp file left
    cli.ok("kv", "put", fresh(), "a=b")  # later commands use the file
    # COFFER_TOKEN wins over the file.
    denied = cli.run("kv", "put", fresh(), "a=b", env={"COFFER_TOKEN": "cof." + "x" * 43}, check=1)
    assert "permission denied" in denied.stderr, denied.stderr


def test_login_with_a_bad_token_fails_and_never_prints_it(s, tmp_path):
    cli = Cli(s, tmp_path / "home")
    bad = "cof." + "B" * 43
    proc = cli.run("login", "-", stdin=bad, check=1)
    assert bad not in proc.stdout + proc.stderr
    assert not token_file(cli.home).exists()
    literal = cli.run("login", s.root, check=0)
    assert "command line" in literal.stderr, literal.stderr
    assert cli.run("login", "-method=nope", check=2).returncode == 2


def test_login_approle_writes_token_file_0600(s, tmp_path):
    admin = Cli(s, tmp_path / "admin", token=s.root)
    admin.ok("auth", "enable", "approle")
    admin.ok("policy", "write", "cli-app", "-",
             stdin='path "secret/data/approle/*" { capabilities = ["read", "create", "update"] }\n')
    admin.ok("write", "auth/approle/role/cli", "token_policies=cli-app", "token_ttl=1h")
    role_id = admin.ok("read", "-field=role_id", "auth/approle/role/cli/role-id").stdout
    secret = admin.json("write", "auth/approle/role/cli/secret-id")["data"]["secret_id"]
    sid_file = tmp_path / "sid"
    sid_file.write_text(secret)

    app = Cli(s, tmp_path / "apphome")
    proc = app.run("login", "-method=approle", f"role_id={role_id}", f"secret_id=@{sid_file}",
                   check=0)
    assert "secret_id" not in proc.stderr, proc.stderr  # no warning: it came from a file
    assert "cli-app" in table(proc.stdout)["token_policies"], proc.stdout
    f = token_file(app.home)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    tok = f.read_text().strip()
    assert tok.startswith("cof.") and tok not in proc.stdout + proc.stderr
    assert app.json("token", "lookup")["data"]["policies"] == ["cli-app", "default"]
    app.ok("kv", "put", "secret/approle/x", "k=v")
    app.run("kv", "put", "secret/other/x", "k=v", check=1)

    # A secret_id on the command line works, with a warning; stdin works too (-field=token).
    again = admin.json("write", "auth/approle/role/cli/secret-id")["data"]["secret_id"]
    warned = app.run("login", "-method=approle", "-no-store", f"role_id={role_id}",
                     f"secret_id={again}", check=0)
    assert "secret_id=@FILE" in warned.stderr, warned.stderr
    third = admin.json("write", "auth/approle/role/cli/secret-id")["data"]["secret_id"]
    out = app.run("login", "-method=approle", "-no-store", "-field=token", f"role_id={role_id}",
                  "secret_id=-", stdin=third, check=0)
    assert out.stdout.startswith("cof.") and out.stdout != tok
    assert f.read_text().strip() == tok  # -no-store kept the file
    wrong = app.run("login", "-method=approle", f"role_id={role_id}", "secret_id=-",
                    stdin="nope", check=1)
    assert "Error" in wrong.stderr, wrong.stderr


# --- kv v2 ---------------------------------------------------------------------------------------

def test_kv_put_get_with_file_stdin_and_literal_values(cli, tmp_path):
    path = fresh()
    pw = tmp_path / "pw"
    pw.write_bytes(b"line1\nline2 with spaces\n")
    put = cli.run("kv", "put", path, f"password=@{pw}", "api_token=-", "user=alice",
                  stdin="tok-from-stdin", check=0)
    assert "Warning" not in put.stderr, put.stderr
    assert table(put.stdout)["version"] == "1", put.stdout
    got = cli.json("kv", "get", path)
    assert got["data"]["data"] == {"password": "line1\nline2 with spaces\n",
                                   "api_token": "tok-from-stdin", "user": "alice"}, got
    assert got["data"]["metadata"]["version"] == 1
    # -field prints the raw value, without a newline (not a terminal).
    assert cli.ok("kv", "get", "-field=password", path).stdout == "line1\nline2 with spaces\n"
    assert cli.ok("kv", "get", "--field=user", path).stdout == "alice"
    assert cli.run("kv", "get", "-field=nope", path, check=2).returncode == 2
    # The table shows metadata and data.
    text = cli.ok("kv", "get", path).stdout
    assert "== Metadata ==" in text and "== Data ==" in text and "alice" in text, text
    # A literal secret-looking value warns (but works); a literal \@ is not a file.
    lit = cli.run("kv", "put", path, "password=hunter2", r"note=\@home", check=0)
    assert "password=@FILE" in lit.stderr, lit.stderr
    random_looking = cli.run("kv", "put", path, "x=Zq8vN2kLp4Rt7YwX3mB9", check=0)
    assert "Warning" in random_looking.stderr, random_looking.stderr
    quiet = cli.run("kv", "put", path, "color=blue", "path=/etc/app/config.yaml", check=0)
    assert "Warning" not in quiet.stderr, quiet.stderr
    assert cli.json("kv", "get", path)["data"]["data"] == {"color": "blue",
                                                           "path": "/etc/app/config.yaml"}
    assert cli.json("kv", "get", "-version=2", path)["data"]["data"]["note"] == "@home"


def test_kv_bad_values_are_usage_errors(cli, tmp_path):
    path = fresh()
    assert "KEY=VALUE" in cli.run("kv", "put", path, "novalue", check=2).stderr
    assert "cannot open" in cli.run("kv", "put", path, f"a=@{tmp_path}/missing", check=2).stderr
    both = cli.run("kv", "put", path, "a=-", "b=-", stdin="x", check=2)
    assert "stdin" in both.stderr, both.stderr
    assert cli.run("kv", "put", path, check=2).returncode == 2  # no data
    assert "Usage:" in cli.run("kv", "get", check=2).stderr
    assert "unknown flag" in cli.run("kv", "get", "-nope", path, check=2).stderr
    assert cli.run("kv", "get", "-format=yaml", path, check=2).returncode == 2
    assert cli.run("kv", "get", path, env={"COFFER_FORMAT": "xml"}, check=2).returncode == 2
    assert cli.run("kv", "nope", check=2).returncode == 2
    # A lone "-" is a JSON object on stdin, which keeps its types.
    cli.ok("kv", "put", path, "-", stdin='{"n": 5, "list": [1, 2]}')
    assert cli.json("kv", "get", path)["data"]["data"] == {"n": 5, "list": [1, 2]}
    assert cli.run("kv", "put", path, "-", stdin="[1]", check=2).returncode == 2


def test_kv_missing_and_deleted_secrets_exit_2(cli):
    path = fresh()
    miss = cli.run("kv", "get", path, check=2)
    assert "No value found" in miss.stderr, miss.stderr
    cli.ok("kv", "put", path, "a=1")
    cli.ok("kv", "put", path, "a=2")
    cli.ok("kv", "delete", path)
    deleted = cli.run("kv", "get", path, check=2)
    assert "deleted" in deleted.stderr, deleted.stderr
    assert cli.json("kv", "get", "-version=1", path)["data"]["data"] == {"a": "1"}
    cli.ok("kv", "undelete", "-versions=2", path)
    assert cli.json("kv", "get", path)["data"]["data"] == {"a": "2"}
    cli.ok("kv", "destroy", "-versions=1", path)
    destroyed = cli.run("kv", "get", "-version=1", path, check=2)
    assert "destroyed" in destroyed.stderr, destroyed.stderr
    cli.ok("kv", "delete", "-versions=2", path)
    assert cli.run("kv", "get", path, check=2).returncode == 2
    assert cli.run("kv", "undelete", path, check=2).returncode == 2  # -versions is required
    assert cli.run("kv", "destroy", "-versions=x", path, check=2).returncode == 2
    assert cli.run("kv", "get", "-version=abc", path, check=2).returncode == 2


def test_kv_patch_cas_rollback_and_list(cli):
    base = f"secret/pl{next(_n)}"
    path = f"{base}/db"
    cli.ok("kv", "put", "-cas=0", path, "user=alice", "password=-", stdin="p1")
    again = cli.run("kv", "put", "-cas=0", path, "user=x", check=1)
    assert "check-and-set" in again.stderr, again.stderr
    patched = cli.json("kv", "patch", path, "user=bob")
    assert patched["data"]["version"] == 2, patched
    assert cli.json("kv", "get", path)["data"]["data"] == {"user": "bob", "password": "p1"}
    assert cli.run("kv", "patch", "-cas=1", path, "user=carol", check=1).returncode == 1
    cli.ok("kv", "patch", "-cas=2", path, "user=carol")
    assert cli.run("kv", "patch", fresh(), "a=b", check=2).returncode == 2  # missing: 404

    rolled = cli.json("kv", "rollback", "-version=1", path)
    assert rolled["data"]["version"] == 4, rolled
    assert cli.json("kv", "get", path)["data"]["data"] == {"user": "alice", "password": "p1"}
    assert cli.run("kv", "rollback", path, check=2).returncode == 2  # -version is required
    assert cli.run("kv", "rollback", "-version=99", path, check=2).returncode == 2

    cli.ok("kv", "put", f"{base}/sub/x", "a=b")
    assert cli.json("kv", "list", base) == ["db", "sub/"]
    assert cli.ok("kv", "list", "-mount=secret", base[len("secret/"):]).stdout.split() == \
        ["Keys", "----", "db", "sub/"]
    empty = cli.run("kv", "list", f"{base}/none", check=2)
    assert "No value found" in empty.stderr, empty.stderr


def test_kv_mount_flag_and_unknown_mount(cli):
    path = fresh()
    rel = path[len("secret/"):]
    cli.ok("kv", "put", "-mount=secret", rel, "a=b")
    assert cli.json("kv", "get", "--mount=secret/", rel)["data"]["data"] == {"a": "b"}
    assert cli.ok("kv", "get", "-field=a", path).stdout == "b"
    nomount = cli.run("kv", "get", "nomount/x", check=1)
    assert "Error" in nomount.stderr and "preflight" in nomount.stderr, nomount.stderr
    notkv = cli.run("kv", "get", "sys/x", check=1)
    assert "Error" in notkv.stderr, notkv.stderr


def test_kv_metadata_get_put_delete(cli):
    path = fresh()
    for i in range(3):
        cli.ok("kv", "put", path, f"v={i}")
    cli.ok("kv", "metadata", "put", "-max-versions=2", "-cas-required=true",
           "-custom-metadata=owner=team-a", "-custom-metadata=env=prod",
           "-delete-version-after=1h", path)
    meta = cli.json("kv", "metadata", "get", path)["data"]
    assert meta["max_versions"] == 2 and meta["cas_required"] is True, meta
    assert meta["custom_metadata"] == {"owner": "team-a", "env": "prod"}, meta
    assert meta["current_version"] == 3, meta
    text = cli.ok("kv", "metadata", "get", path).stdout
    assert "== Version 3 ==" in text and "current_version" in text, text
    # cas_required now refuses a put without -cas.
    assert "check-and-set" in cli.run("kv", "put", path, "v=x", check=1).stderr
    cli.ok("kv", "put", "-cas=3", path, "v=x")
    assert cli.run("kv", "metadata", "put", "-max-versions=x", path, check=2).returncode == 2
    assert cli.run("kv", "metadata", "put", "-cas-required=maybe", path,
                   check=2).returncode == 2
    cli.ok("kv", "metadata", "delete", path)
    assert cli.run("kv", "metadata", "get", path, check=2).returncode == 2
    assert cli.run("kv", "get", path, check=2).returncode == 2


def test_kv_version_1_mount(cli):
    cli.ok("write", "sys/mounts/cli-kv1", "type=kv", "-", stdin='{"options": {"version": "1"}}')
    put = cli.ok("kv", "put", "cli-kv1/app/db", "password=-", "user=u", stdin="pw1")
    assert "Success! Data written to: cli-kv1/app/db" in put.stdout, put.stdout
    got = cli.json("kv", "get", "cli-kv1/app/db")
    assert got["data"] == {"password": "pw1", "user": "u"}, got
    assert cli.ok("kv", "get", "-field=password", "-mount=cli-kv1", "app/db").stdout == "pw1"
    assert cli.json("kv", "list", "cli-kv1/app") == ["db"]
    for args in (["patch", "cli-kv1/app/db", "a=b"], ["rollback", "-version=1", "cli-kv1/app/db"],
                 ["metadata", "get", "cli-kv1/app/db"], ["rotate", "cli-kv1/app/db", "password"],
                 ["undelete", "-versions=1", "cli-kv1/app/db"]):
        proc = cli.run("kv", *args, check=1)
        assert "version 2" in proc.stderr, (args, proc.stderr)
    cli.ok("kv", "delete", "cli-kv1/app/db")
    assert cli.run("kv", "get", "cli-kv1/app/db", check=2).returncode == 2


def test_permission_denied_is_exit_1_with_the_message(s, tmp_path):
    cli = Cli(s, tmp_path, token="cof." + "Z" * 43)
    proc = cli.run("kv", "get", "secret/x", check=1)
    assert "permission denied" in proc.stderr and "cof.ZZZ" not in proc.stderr, proc.stderr


# --- help ----------------------------------------------------------------------------------------

def subcommands(help_text):
    """The names listed under "Subcommands:" of a help text."""
    names, inside = [], False
    for line in help_text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
        elif inside and line.startswith("    ") and line.strip():
            names.append(line.split()[0])
        elif inside:
            inside = False
    return names


def test_every_command_has_help(s, tmp_path):
    cli = Cli(s, tmp_path)
    seen = []

    def walk(path):
        for flag in ("-h", "--help"):
            proc = cli.run(*path, flag, check=0)
            assert proc.stdout.startswith("Usage: coffer"), (path, proc.stdout)
        seen.append(" ".join(path))
        for sub in subcommands(cli.run(*path, "-h").stdout):
            walk([*path, sub])

    walk([])
    for want in ["status", "login", "operator init", "operator unseal", "operator seal",
                 "operator rotate", "operator key-status", "kv put", "kv get", "kv patch",
                 "kv list", "kv delete", "kv undelete", "kv destroy", "kv rollback", "kv rotate",
                 "kv metadata get", "kv metadata put", "kv metadata delete", "token create",
                 "token lookup", "token renew", "token revoke", "policy write", "policy read",
                 "policy list", "policy delete", "auth enable", "auth disable", "auth list",
                 "audit enable", "audit disable", "audit list", "audit verify", "lease renew",
                 "lease revoke", "lease lookup", "read", "write", "list", "delete"]:
        assert want in seen, f"{want} missing from the help tree {seen}"
    assert "-format=FORMAT" in cli.ok("kv", "get", "-h").stdout
    assert cli.run(check=2).returncode == 2
    assert cli.ok("-version").stdout.startswith("coffer ")


def test_bash_completion_follows_the_command_tree(tmp_path):
    script = REPO / "deploy" / "completion" / "coffer.bash"
    probe = (f'source {script}\n'
             't() { COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); '
             'COMPREPLY=(); _coffer; echo "${COMPREPLY[*]}"; }\n'
             't coffer k\nt coffer kv ""\nt coffer kv rotate -ch\nt coffer kv get -format = j\n')
    env = {"PATH": f"{coffer_path().parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.splitlines()
    assert out[0] == "kv", out
    assert out[1].split()[:3] == ["put", "get", "patch"] and "rotate" in out[1], out
    assert out[2] == "-charset=", out
    assert out[3] == "json", out


def test_https_with_coffer_cacert(cofferd_factory, tmp_path):
    cert, key = make_cert(tmp_path)
    server = cofferd_factory({"tls_cert_file": str(cert), "tls_key_file": str(key)},
                             ca_file=cert)
    cli = Cli(server, tmp_path / "home")
    assert server.url.startswith("https://")
    untrusted = cli.run("status", check=1)
    assert "Error" in untrusted.stderr and "certificate" in untrusted.stderr.lower(), \
        untrusted.stderr
    init = cli.json("operator", "init", "-key-shares=1", "-key-threshold=1",
                    env={"COFFER_CACERT": str(cert)})
    cli.ok("operator", "unseal", "-", stdin=init["keys"][0], env={"COFFER_CACERT": str(cert)})
    assert cli.run("status", env={"COFFER_CACERT": str(cert)}, check=0).returncode == 0


def test_ctrl_c_at_a_hidden_prompt_gives_the_terminal_its_echo_back():
    import pty
    import signal
    import termios
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: coffer login prompts for the token with echo off
        os.environ["COFFER_ADDR"] = "http://127.0.0.1:1"
        os.execv(str(coffer_path()), ["coffer", "login"])
    try:
        deadline = time.monotonic() + 10
        while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not termios.tcgetattr(fd)[3] & termios.ECHO, "the prompt did not turn echo off"
        os.write(fd, b"\x03")  # Ctrl-C
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT, status
        assert termios.tcgetattr(fd)[3] & termios.ECHO, "echo stayed off after Ctrl-C"
    finally:
        os.close(fd)
