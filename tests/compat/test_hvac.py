# SPDX-License-Identifier: Apache-2.0
"""hvac 0.11.2 (Debian's python3-hvac) against cofferd: the token, policy, AppRole, lease and
capability calls of hvac's API classes and of its legacy v1 Client, as an application would make
them. Every call's answer is checked, not just that it raised nothing."""
import sys
import warnings

import pytest

if "/usr/lib/python3/dist-packages" not in sys.path:  # Debian's hvac
    sys.path.append("/usr/lib/python3/dist-packages")
from hvac import exceptions  # noqa: E402

from coffer_testlib import TOKEN_RE, new_token_text, put_policy  # noqa: E402
from coffer_testlib import hvac_client as client_for, is_204  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

READ = 'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n'
CREATOR = ('path "auth/token/create" {\n  capabilities = ["update"]\n}\n'
           'path "auth/token/create-orphan" {\n  capabilities = ["update"]\n}\n')


@pytest.fixture(scope="module")
def s(module_dev):
    put_policy(module_dev, module_dev.root, "hvac-read", READ)
    put_policy(module_dev, module_dev.root, "hvac-creator", CREATOR)
    return module_dev


@pytest.fixture
def root(s):
    return client_for(s, s.root)


def dead(s, token):
    return not client_for(s, token).is_authenticated()


# --- tokens ----------------------------------------------------------------------------------------

def test_create_lookup_self_and_is_authenticated(s, root):
    out = root.auth.token.create(policies=["hvac-read"], ttl="1h", meta={"team": "a"},
                                 display_name="hvac")
    auth = out["auth"]
    assert TOKEN_RE.match(auth["client_token"]), auth
    assert auth["policies"] == ["default", "hvac-read"], auth
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True, auth
    assert auth["metadata"] == {"team": "a"}, auth
    t = client_for(s, auth["client_token"])
    assert t.is_authenticated() is True
    me = t.auth.token.lookup_self()["data"]
    assert me["id"] == auth["client_token"] and me["accessor"] == auth["accessor"], me
    assert me["meta"] == {"team": "a"} and me["policies"] == ["default", "hvac-read"], me
    assert t.lookup_token()["data"]["accessor"] == auth["accessor"]  # legacy: lookup-self
    assert client_for(s, new_token_text()).is_authenticated() is False
    assert client_for(s, None).is_authenticated() is False
    with pytest.raises(exceptions.Forbidden):
        client_for(s, new_token_text()).auth.token.lookup_self()
    # The granted read works through hvac, the rest is Forbidden.
    assert t.sys.read_policy("hvac-read")["data"]["rules"] == READ
    with pytest.raises(exceptions.Forbidden):
        t.sys.create_or_update_policy("nope", READ)


def test_create_with_num_uses_and_unknown_policy_warning(s, root):
    out = root.auth.token.create(policies=["hvac-nosuch"], num_uses=1)
    assert out["auth"]["num_uses"] == 1, out
    assert out["warnings"] and any("hvac-nosuch" in w for w in out["warnings"]), out
    t = client_for(s, out["auth"]["client_token"])
    t.auth.token.lookup_self()
    with pytest.raises(exceptions.Forbidden):
        t.auth.token.lookup_self()


def test_lookup_and_lookup_accessor(s, root):
    auth = root.auth.token.create(policies=["default"], meta={"k": "v"})["auth"]
    d = root.auth.token.lookup(auth["client_token"])["data"]
    assert d["accessor"] == auth["accessor"] and d["meta"] == {"k": "v"}, d
    d = root.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert d["accessor"] == auth["accessor"] and d["meta"] == {"k": "v"}, d
    # Legacy v1 Client spellings.
    assert root.lookup_token(auth["client_token"])["data"]["accessor"] == auth["accessor"]
    assert root.lookup_token(auth["accessor"], accessor=True)["data"]["meta"] == {"k": "v"}


def test_orphans_children_and_revoke_and_orphan_children(s, root):
    parent_auth = root.auth.token.create(policies=["hvac-creator"])["auth"]
    parent = client_for(s, parent_auth["client_token"])
    child = parent.auth.token.create(policies=["hvac-creator"])["auth"]
    assert child["orphan"] is False, child
    orphan = parent.create_token(orphan=True, policies=["hvac-creator"])["auth"]  # create-orphan
    assert orphan["orphan"] is True, orphan
    no_parent = root.auth.token.create(policies=["default"], no_parent=True)["auth"]
    assert no_parent["orphan"] is True, no_parent
    legacy = root.create_token(policies=["hvac-read"], ttl="10m", display_name="legacy")["auth"]
    assert legacy["policies"] == ["default", "hvac-read"] and legacy["lease_duration"] == 600

    assert is_204(root.auth.token.revoke(parent_auth["client_token"]))
    assert dead(s, parent_auth["client_token"]) and dead(s, child["client_token"])
    assert not dead(s, orphan["client_token"]) and not dead(s, no_parent["client_token"])

    p2 = root.auth.token.create(policies=["hvac-creator"])["auth"]
    c2 = client_for(s, p2["client_token"]).auth.token.create(policies=["hvac-creator"])["auth"]
    assert is_204(root.auth.token.revoke_and_orphan_children(p2["client_token"]))
    assert dead(s, p2["client_token"]) and not dead(s, c2["client_token"])
    assert client_for(s, c2["client_token"]).auth.token.lookup_self()["data"]["orphan"] is True


def test_renew_family(s, root):
    auth = root.auth.token.create(policies=["default"], ttl="10m")["auth"]
    token, accessor = auth["client_token"], auth["accessor"]
    t = client_for(s, token)
    assert root.auth.token.renew(token, increment="1h")["auth"]["lease_duration"] == 3600
    assert t.auth.token.renew_self(increment=1800)["auth"]["lease_duration"] == 1800
    assert root.auth.token.renew_accessor(accessor, increment="20m")["auth"]["lease_duration"] \
        == 1200
    assert root.renew_token(token, increment=900)["auth"]["lease_duration"] == 900  # legacy
    assert t.renew_self_token(increment=700)["auth"]["lease_duration"] == 700  # legacy
    assert 690 <= t.auth.token.lookup_self()["data"]["ttl"] <= 700
    # Without an increment the lease's current period is used again (Vault: the last renewal's).
    assert t.auth.token.renew_self()["auth"]["lease_duration"] == 700


def test_revoke_family(s, root):
    a = root.auth.token.create(policies=["default"])["auth"]
    assert is_204(client_for(s, a["client_token"]).auth.token.revoke_self())
    assert dead(s, a["client_token"])

    b = root.auth.token.create(policies=["default"])["auth"]
    assert is_204(root.auth.token.revoke_accessor(b["accessor"]))
    assert dead(s, b["client_token"])

    c = root.auth.token.create(policies=["default"])["auth"]
    root.revoke_token(c["accessor"], accessor=True)  # legacy
    assert dead(s, c["client_token"])
    d = root.auth.token.create(policies=["default"])["auth"]
    root.revoke_token(d["client_token"])  # legacy
    assert dead(s, d["client_token"])
    e = root.auth.token.create(policies=["default"])["auth"]
    client_for(s, e["client_token"]).revoke_self_token()  # legacy, PUT
    assert dead(s, e["client_token"])
    f = root.auth.token.create(policies=["default"])["auth"]
    fc = client_for(s, f["client_token"])
    fc.logout(revoke_token=True)
    assert fc.token is None and dead(s, f["client_token"])


def test_list_accessors(s, root):
    auth = root.auth.token.create(policies=["default"])["auth"]
    keys = root.auth.token.list_accessors()["data"]["keys"]
    assert auth["accessor"] in keys, keys
    with pytest.raises(exceptions.Forbidden):
        client_for(s, auth["client_token"]).auth.token.list_accessors()


def test_token_roles(s, root):
    assert is_204(root.auth.token.create_or_update_role("hvac-role", allowed_policies=["hvac-read"],
                                                        orphan=True))
    role = root.auth.token.read_role("hvac-role")["data"]
    assert role["allowed_policies"] == ["hvac-read"] and role["orphan"] is True, role
    assert "hvac-role" in root.auth.token.list_roles()["data"]["keys"]
    auth = root.auth.token.create(role_name="hvac-role", policies=["hvac-read"])["auth"]
    assert auth["policies"] == ["default", "hvac-read"] and auth["orphan"] is True, auth
    me = client_for(s, auth["client_token"]).auth.token.lookup_self()["data"]
    assert me["path"] == "auth/token/create/hvac-role", me
    with pytest.raises(exceptions.InvalidRequest):
        root.auth.token.create(role_name="hvac-role", policies=["hvac-creator"])
    # Legacy v1 spellings.
    root.create_token_role("hvac-legacy", allowed_policies=["hvac-creator"], orphan=False)
    assert root.token_role("hvac-legacy")["data"]["allowed_policies"] == ["hvac-creator"]
    assert {"hvac-role", "hvac-legacy"} <= set(root.list_token_roles()["data"]["keys"])
    made = root.create_token(role="hvac-legacy")["auth"]
    assert made["policies"] == ["default", "hvac-creator"], made
    root.delete_token_role("hvac-legacy")
    assert is_204(root.auth.token.delete_role("hvac-role"))
    with pytest.raises(exceptions.InvalidPath):
        root.auth.token.read_role("hvac-role")
    assert root.list_token_roles() is None or \
        "hvac-role" not in root.list_token_roles()["data"]["keys"]


# --- policies --------------------------------------------------------------------------------------

def test_policy_calls(s, root):
    text = 'path "sys/leases/lookup/*" {\n  capabilities = ["list", "sudo"]\n}\n'
    assert is_204(root.sys.create_or_update_policy("hvac-p", text))
    read = root.sys.read_policy("hvac-p")
    assert read["data"]["rules"] == text and read["rules"] == text and read["name"] == "hvac-p"
    listed = root.sys.list_policies()
    assert {"hvac-p", "default", "root"} <= set(listed["data"]["policies"]), listed
    assert listed["policies"] == listed["data"]["policies"]
    assert root.get_policy("hvac-p") == text  # legacy
    # A dict is sent as pretty-printed JSON: Vault's JSON form.
    root.sys.create_or_update_policy("hvac-json", {"path": {"sys/key-status": {
        "capabilities": ["read"]}}})
    t = client_for(s, root.auth.token.create(policies=["hvac-json"])["auth"]["client_token"])
    assert t.key_status["term"] >= 1  # legacy property reading sys/key-status
    with pytest.raises(exceptions.InvalidRequest) as err:
        root.sys.create_or_update_policy("hvac-bad", 'path "a" {\n  capabilities = ["read"\n')
    assert "line" in str(err.value), str(err.value)
    assert is_204(root.sys.delete_policy("hvac-p"))
    with pytest.raises(exceptions.InvalidPath):
        root.sys.read_policy("hvac-p")
    assert root.get_policy("hvac-p") is None
    with pytest.raises(exceptions.InvalidRequest):
        root.sys.delete_policy("root")


def test_get_capabilities(s, root):
    t = client_for(s, root.auth.token.create(policies=["hvac-read"])["auth"]["client_token"])
    out = t.sys.get_capabilities(paths=["sys/policy/x", "sys/key-status"])
    assert out["data"]["sys/policy/x"] == ["read"], out
    assert out["data"]["sys/key-status"] == ["deny"], out
    one = t.sys.get_capabilities(paths=["auth/token/lookup-self"])
    assert one["data"]["capabilities"] == ["read"] and one["capabilities"] == ["read"], one
    assert root.sys.get_capabilities(paths=["x/y"])["data"]["x/y"] == ["root"]


# --- leases ----------------------------------------------------------------------------------------

def test_lease_calls(s, root):
    auth = root.auth.token.create(policies=["default"], ttl="5m")["auth"]
    # Coffer's lookup names the lease (its id is random, not the accessor).
    lease_id = root.auth.token.lookup(auth["client_token"])["data"]["lease_id"]
    d = root.sys.read_lease(lease_id)["data"]
    assert d["id"] == lease_id and 290 <= d["ttl"] <= 300 and d["renewable"] is True, d
    keys = root.sys.list_leases("auth/token/create/")["data"]["keys"]
    assert lease_id.rsplit("/", 1)[1] in keys, keys
    renewed = root.sys.renew_lease(lease_id, increment=600)
    duration = renewed.get("lease_duration") or (renewed.get("auth") or {}).get("lease_duration")
    assert duration == 600, renewed
    assert 590 <= root.sys.read_lease(lease_id)["data"]["ttl"] <= 600
    assert is_204(root.sys.revoke_lease(lease_id))
    assert dead(s, auth["client_token"])

    root.auth.token.create_or_update_role("hvac-prefix", allowed_policies=["hvac-read"])
    batch = [root.auth.token.create(role_name="hvac-prefix")["auth"] for _ in range(2)]
    forced = [root.auth.token.create(role_name="hvac-prefix")["auth"]]
    other = root.auth.token.create(policies=["default"])["auth"]
    assert is_204(root.sys.revoke_prefix("auth/token/create/hvac-prefix"))
    assert all(dead(s, a["client_token"]) for a in batch + forced)
    assert not dead(s, other["client_token"])
    again = root.auth.token.create(role_name="hvac-prefix")["auth"]
    assert is_204(root.sys.revoke_force("auth/token/create/hvac-prefix"))
    assert dead(s, again["client_token"])
    assert not dead(s, other["client_token"])


# --- AppRole ---------------------------------------------------------------------------------------

def test_approle_calls(s, root):
    assert is_204(root.sys.enable_auth_method("approle"))
    methods = root.sys.list_auth_methods()
    assert {"token/", "approle/"} <= set(methods["data"]), methods
    assert methods["approle/"]["type"] == "approle"

    assert is_204(root.auth.approle.create_or_update_approle(
        "hvac-app", token_policies=["hvac-read", "hvac-creator"], secret_id_num_uses=3,
        secret_id_ttl="10m", token_ttl="1h", token_max_ttl="2h",
        secret_id_bound_cidrs=["127.0.0.0/8", "10.0.0.0/8"]))  # sent as comma strings
    role = root.auth.approle.read_role("hvac-app")["data"]
    assert sorted(role["token_policies"]) == ["hvac-creator", "hvac-read"], role
    assert sorted(role["secret_id_bound_cidrs"]) == ["10.0.0.0/8", "127.0.0.0/8"], role
    assert role["secret_id_num_uses"] == 3 and role["token_ttl"] == 3600, role
    assert "hvac-app" in root.auth.approle.list_roles()["data"]["keys"]
    role_id = root.auth.approle.read_role_id("hvac-app")["data"]["role_id"]
    assert isinstance(role_id, str) and role_id
    assert is_204(root.auth.approle.update_role_id("hvac-app", "hvac-role-id"))
    assert root.auth.approle.read_role_id("hvac-app")["data"]["role_id"] == "hvac-role-id"
    assert root.get_role_id("hvac-app") == "hvac-role-id"  # legacy

    gen = root.auth.approle.generate_secret_id("hvac-app", metadata={"env": "ci"},
                                               cidr_list=["127.0.0.0/8"])["data"]
    assert gen["secret_id"] and gen["secret_id_accessor"], gen
    assert gen["secret_id_num_uses"] == 3 and gen["secret_id_ttl"] == 600, gen
    custom = root.auth.approle.create_custom_secret_id("hvac-app", "hvac-custom-secret-1")["data"]
    assert custom["secret_id"] == "hvac-custom-secret-1", custom
    legacy = root.create_role_secret_id("hvac-app", meta={"via": "legacy"})["data"]
    assert legacy["secret_id"], legacy

    looked = root.auth.approle.read_secret_id("hvac-app", gen["secret_id"])["data"]
    assert looked["metadata"] == {"env": "ci"}, looked
    assert looked["secret_id_accessor"] == gen["secret_id_accessor"], looked
    accessors = root.auth.approle.list_secret_id_accessors("hvac-app")["data"]["keys"]
    assert {gen["secret_id_accessor"], custom["secret_id_accessor"]} <= set(accessors)
    by_acc = root.auth.approle.read_secret_id_accessor("hvac-app", gen["secret_id_accessor"])
    assert by_acc["data"]["metadata"] == {"env": "ci"}, by_acc

    app = client_for(s)
    out = app.auth.approle.login("hvac-role-id", gen["secret_id"])
    assert out["auth"]["policies"] == ["default", "hvac-creator", "hvac-read"], out
    assert out["auth"]["metadata"] == {"role_name": "hvac-app"}, out
    assert app.token == out["auth"]["client_token"]  # use_token=True
    assert app.is_authenticated()
    assert app.auth.token.lookup_self()["data"]["path"] == "auth/approle/login"
    assert app.sys.read_policy("hvac-read")["data"]["rules"] == READ
    legacy_app = client_for(s)
    legacy_app.auth_approle("hvac-role-id", custom["secret_id"])  # legacy login
    assert legacy_app.is_authenticated()

    assert is_204(root.auth.approle.destroy_secret_id("hvac-app", gen["secret_id"]))
    with pytest.raises(exceptions.InvalidRequest):
        client_for(s).auth.approle.login("hvac-role-id", gen["secret_id"])
    assert is_204(root.auth.approle.destroy_secret_id_accessor("hvac-app",
                                                               custom["secret_id_accessor"]))
    with pytest.raises(exceptions.InvalidRequest):
        client_for(s).auth.approle.login("hvac-role-id", custom["secret_id"])
    assert is_204(root.auth.approle.delete_role("hvac-app"))
    with pytest.raises(exceptions.InvalidPath):
        root.auth.approle.read_role("hvac-app")


def test_approle_secret_id_use_count_and_cidr(s, root):
    try:
        root.sys.enable_auth_method("approle", path="hvac-approle2")
        root.auth.approle.create_or_update_approle("once", token_policies=["hvac-read"],
                                                   secret_id_num_uses=1,
                                                   mount_point="hvac-approle2")
        role_id = root.auth.approle.read_role_id("once", mount_point="hvac-approle2")["data"][
            "role_id"]
        sid = root.auth.approle.generate_secret_id("once", mount_point="hvac-approle2")["data"][
            "secret_id"]
        client_for(s).auth.approle.login(role_id, sid, mount_point="hvac-approle2")
        with pytest.raises(exceptions.InvalidRequest):
            client_for(s).auth.approle.login(role_id, sid, mount_point="hvac-approle2")
        root.auth.approle.create_or_update_approle("far", secret_id_bound_cidrs=["10.1.2.0/24"],
                                                   mount_point="hvac-approle2")
        far_id = root.auth.approle.read_role_id("far", mount_point="hvac-approle2")["data"][
            "role_id"]
        far_sid = root.auth.approle.generate_secret_id("far", mount_point="hvac-approle2")[
            "data"]["secret_id"]
        with pytest.raises(exceptions.InvalidRequest):
            client_for(s).auth.approle.login(far_id, far_sid, mount_point="hvac-approle2")
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root.sys.disable_auth_method("hvac-approle2")
    assert "hvac-approle2/" not in root.sys.list_auth_methods()["data"]
