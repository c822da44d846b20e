# SPDX-License-Identifier: Apache-2.0
"""The coffer CLI (issue #6) for administration against a real cofferd: token
create/lookup/renew/revoke with every flag, policy write/read/list/delete, auth
enable/disable/list, audit enable/disable/list (on a server that allows API audit devices) and
verify of the log it wrote, lease lookup/renew/revoke, and the generic read/write/list/delete."""
import json

import pytest

from test_cli import Cli, cli, s, table  # noqa: F401 (cli and s are the fixtures)


POLICY = 'path "secret/data/team/*" {\n  capabilities = ["read", "list"]\n}\n'


# --- tokens --------------------------------------------------------------------------------------

def test_token_create_with_flags_and_lookup(cli):
    created = cli.json("token", "create", "-policy=default", "--policy=reader", "-ttl=1h",
                       "-explicit-max-ttl=2h", "-use-limit=5", "-display-name=ci")
    auth = created["auth"]
    assert auth["policies"] == ["default", "reader"], created
    assert auth["lease_duration"] == 3600 and auth["num_uses"] == 5, auth
    assert created["warnings"], created  # "reader" does not exist: the server warns
    warned = cli.run("token", "create", "-policy=reader", check=0)
    assert "WARNING!" in warned.stderr, warned.stderr
    rows = table(warned.stdout)
    assert rows["token"].startswith("cof.") and rows["token_accessor"], rows

    tok = auth["client_token"]
    looked = cli.json("token", "lookup", "-", stdin=tok)["data"]
    assert looked["explicit_max_ttl"] == 7200 and looked["display_name"] == "token-ci", looked
    assert looked["num_uses"] == 5 and looked["policies"] == ["default", "reader"], looked
    by_accessor = cli.json("token", "lookup", "-accessor", auth["accessor"])["data"]
    assert by_accessor["accessor"] == auth["accessor"] and by_accessor["id"] == "", by_accessor
    assert cli.ok("token", "lookup", "-field=policies").stdout == '["root"]'
    me = Cli(cli.server, cli.home, token=tok)
    assert me.json("token", "lookup", "-self")["data"]["accessor"] == auth["accessor"]

    periodic = cli.json("token", "create", "-period=30m", "-orphan")["auth"]
    assert periodic["orphan"] is True and periodic["lease_duration"] == 1800, periodic
    assert cli.ok("token", "create", "-field=token").stdout.startswith("cof.")
    assert cli.run("token", "create", "-ttl=nonsense", check=1).returncode == 1
    assert cli.run("token", "create", "extra", check=2).returncode == 2


def test_token_renew_and_revoke(cli, tmp_path):
    tok = cli.json("token", "create", "-ttl=1h", "-policy=default")["auth"]["client_token"]
    renewed = cli.json("token", "renew", "-increment=2h", "-", stdin=tok)
    assert renewed["auth"]["lease_duration"] == 7200, renewed
    child = Cli(cli.server, tmp_path / "child", token=tok)
    assert child.json("token", "renew", "-increment=30m")["auth"]["lease_duration"] == 1800
    tok_file = tmp_path / "tok"
    tok_file.write_text(tok + "\n")
    revoked = cli.ok("token", "revoke", f"@{tok_file}")
    assert "Revoked" in revoked.stdout and tok not in revoked.stdout + revoked.stderr
    gone = cli.run("token", "lookup", f"@{tok_file}", check=1)
    assert "Error" in gone.stderr and tok not in gone.stderr, gone.stderr

    acc = cli.json("token", "create")["auth"]["accessor"]
    cli.ok("token", "revoke", "-accessor", acc)
    assert cli.run("token", "lookup", "-accessor", acc, check=1).returncode == 1
    assert "-self" in cli.run("token", "revoke", check=2).stderr  # revoke needs a target

    other = cli.json("token", "create", "-policy=default")["auth"]["client_token"]
    mine = Cli(cli.server, tmp_path / "self", token=other)
    mine.ok("token", "revoke", "-self")
    assert mine.run("token", "lookup", check=1).returncode == 1
    literal = cli.run("token", "lookup", other, check=1)
    assert "command line" in literal.stderr, literal.stderr


# --- policies ------------------------------------------------------------------------------------

def test_policy_write_read_list_delete(cli, tmp_path):
    f = tmp_path / "team.hcl"
    f.write_text(POLICY)
    assert "Uploaded policy: team" in cli.ok("policy", "write", "team", f).stdout
    assert cli.ok("policy", "read", "team").stdout == POLICY
    assert cli.json("policy", "read", "team")["data"]["policy"] == POLICY
    cli.ok("policy", "write", "team2", "-", stdin=json.dumps(
        {"path": {"secret/data/x": {"capabilities": ["read"]}}}))
    assert {"team", "team2", "default", "root"} <= set(cli.json("policy", "list"))
    assert "team2" in cli.ok("policy", "list").stdout.split()
    cli.ok("policy", "delete", "team2")
    assert cli.run("policy", "read", "team2", check=2).returncode == 2
    bad = cli.run("policy", "write", "bad", "-", stdin='path "x" { capabilities = [nope', check=1)
    assert "Error" in bad.stderr, bad.stderr
    assert cli.run("policy", "write", "x", tmp_path / "missing", check=1).returncode == 1
    assert cli.run("policy", "write", "x", check=2).returncode == 2

    # The policy works through a token made by the CLI.
    cli.ok("kv", "put", "secret/team/db", "user=u")
    tok = cli.json("token", "create", "-policy=team")["auth"]["client_token"]
    team = Cli(cli.server, tmp_path / "team", token=tok)
    assert team.ok("kv", "get", "-field=user", "secret/team/db").stdout == "u"
    assert "permission denied" in team.run("kv", "put", "secret/team/db", "a=b", check=1).stderr


# --- auth ----------------------------------------------------------------------------------------

def test_auth_enable_list_disable(cli):
    cli.ok("auth", "enable", "-path=robots", "-description=CI robots", "approle")
    mounts = cli.json("auth", "list")
    assert mounts["robots/"]["type"] == "approle", mounts
    assert mounts["robots/"]["description"] == "CI robots", mounts
    text = cli.ok("auth", "list").stdout
    assert text.split("\n")[0].split() == ["Path", "Type", "Accessor", "Description"], text
    assert any(line.startswith("robots/") and "approle" in line for line in text.splitlines())
    again = cli.run("auth", "enable", "-path=robots", "approle", check=1)
    assert "Error" in again.stderr, again.stderr
    cli.ok("auth", "disable", "robots/")
    assert "robots/" not in cli.json("auth", "list")
    assert cli.run("auth", "enable", "nosuchtype", check=1).returncode == 1
    assert cli.run("auth", "enable", check=2).returncode == 2


# --- audit ---------------------------------------------------------------------------------------

def test_audit_enable_list_disable_and_verify(cofferd_factory, tmp_path):
    adir = tmp_path / "audit"
    adir.mkdir()
    server = cofferd_factory(config_overrides={"allow_api_audit": True, "audit_dir": str(adir)})
    init = server.init(1, 1)
    server.unseal(init["keys"])
    cli = Cli(server, tmp_path / "home", token=init["root_token"])
    log = adir / "cli.log"
    cli.ok("audit", "enable", "-path=clilog", "-description=from the CLI", "file",
           f"file_path={log}")
    devices = cli.json("audit", "list")
    assert devices["clilog/"]["type"] == "file", devices
    assert devices["clilog/"]["options"]["file_path"] == str(log), devices
    assert "clilog/" in cli.ok("audit", "list").stdout
    cli.ok("kv", "put", "secret/a", "k=v")
    outside = cli.run("audit", "enable", "-path=x", "file", f"file_path={tmp_path}/x.log",
                      check=1)
    assert "audit" in outside.stderr, outside.stderr
    cli.ok("audit", "disable", "clilog")
    assert "clilog/" not in cli.json("audit", "list")
    verified = cli.json("audit", "verify", log)
    assert verified["ok"] is True and verified["lines"] >= 2, verified


def test_audit_enable_refused_without_allow_api_audit(cli):
    proc = cli.run("audit", "enable", "file", "file_path=/tmp/x.log", check=1)
    assert "allow_api_audit" in proc.stderr, proc.stderr


# --- leases --------------------------------------------------------------------------------------

def test_lease_lookup_renew_revoke(cli):
    acc = cli.json("token", "create", "-ttl=1h")["auth"]["accessor"]
    lease = cli.json("token", "lookup", "-accessor", acc)["data"]["lease_id"]
    assert lease.startswith("auth/token/create/") and acc not in lease, lease
    looked = cli.json("lease", "lookup", lease)["data"]
    assert looked["id"] == lease and 3500 <= looked["ttl"] <= 3600, looked
    renewed = cli.json("lease", "renew", "-increment=2h", lease)
    assert renewed["lease_id"] == lease and renewed["lease_duration"] == 7200, renewed
    assert table(cli.ok("lease", "lookup", lease).stdout)["id"] == lease
    assert "Revoked" in cli.ok("lease", "revoke", lease).stdout
    assert cli.run("lease", "lookup", lease, check=1).returncode == 1
    assert cli.run("token", "lookup", "-accessor", acc, check=1).returncode == 1

    accs = [cli.json("token", "create", "-ttl=1h")["auth"]["accessor"] for _ in range(2)]
    cli.ok("lease", "revoke", "-prefix", "auth/token/create")
    for a in accs:
        assert cli.run("token", "lookup", "-accessor", a, check=1).returncode == 1
    assert cli.run("lease", "revoke", "-force", "x", check=2).returncode == 2


# --- generic -------------------------------------------------------------------------------------

def test_generic_read_write_list_delete(cli, tmp_path):
    f = tmp_path / "v"
    f.write_text("from-file")
    written = cli.ok("write", "secret/data/gen/a", "-", stdin='{"data": {"k": "v"}}')
    assert table(written.stdout)["version"] == "1", written.stdout
    cli.ok("write", "sys/mounts/gen-kv1", "type=kv")
    cli.ok("write", "gen-kv1/x", f"k=@{f}", "n=1")
    assert cli.json("read", "gen-kv1/x")["data"] == {"k": "from-file", "n": "1"}
    assert cli.ok("read", "-field=k", "gen-kv1/x").stdout == "from-file"
    assert cli.json("read", "secret/data/gen/a", "version=1")["data"]["data"] == {"k": "v"}
    assert cli.json("list", "secret/metadata/gen") == ["a"]
    assert cli.json("list", "gen-kv1/") == ["x"]
    assert "Data deleted" in cli.ok("delete", "gen-kv1/x").stdout
    assert "No value found" in cli.run("read", "gen-kv1/x", check=2).stderr
    assert cli.run("list", "gen-kv1/", check=2).returncode == 2
    assert cli.json("read", "sys/key-status")["data"]["term"] >= 1
    bad = cli.run("write", "sys/mounts/gen-bad", "type=nope", check=1)
    assert "Error: POST sys/mounts/gen-bad:" in bad.stderr and "(HTTP 400)" in bad.stderr, \
        bad.stderr
    assert cli.run("read", check=2).returncode == 2
