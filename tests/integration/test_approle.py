# SPDX-License-Identifier: Apache-2.0
"""AppRole (issue #3, API.md auth/approle): enabling the method, roles, role-id, secret-id, login to
a token with the role's policies, secret_id use counts, CIDR binding, secret_id expiry, and list
fields given as comma strings (as hvac sends them)."""
import json
import time

import pytest

from conftest import (TOKEN_RE, assert_denied, assert_error, create_token, lookup_self, ok,
                      put_policy)

APP_POLICY = 'path "sys/policy/*" {\n  capabilities = ["read"]\n}\n'
# Vault's words: an unknown role id, and a secret id that is wrong, spent, expired or destroyed.
BAD_ROLE = "invalid role or secret ID"
BAD_SECRET = "invalid secret id"


@pytest.fixture(scope="module")
def s(module_dev):
    put_policy(module_dev, module_dev.root, "web-read", APP_POLICY)
    ok(module_dev.post("sys/auth/approle", token=module_dev.root, json={"type": "approle"}), 204)
    return module_dev


def make_role(s, name, **body):
    ok(s.post(f"auth/approle/role/{name}", token=s.root, json=body), 204)
    return ok(s.get(f"auth/approle/role/{name}/role-id", token=s.root))["data"]["role_id"]


def new_secret(s, role, **body):
    return ok(s.post(f"auth/approle/role/{role}/secret-id", token=s.root, json=body))["data"]


def login(s, role_id, secret_id):
    # Login needs no token.
    return s.post("auth/approle/login", json={"role_id": role_id, "secret_id": secret_id})


def test_enable_and_list_auth_methods(s):
    body = ok(s.get("sys/auth", token=s.root))
    for key in ("token/", "approle/"):
        assert key in body["data"], body
        assert body[key] == body["data"][key], "legacy top-level copy differs"
    assert body["data"]["token/"]["type"] == "token"
    assert body["data"]["approle/"]["type"] == "approle"
    # Enabling it again at the same path is refused, and a default token may not enable methods.
    assert_error(s.post("sys/auth/approle", token=s.root, json={"type": "approle"}), 400,
                 "path is already in use at approle/")
    t = create_token(s, s.root, policies=["default"])["auth"]["client_token"]
    assert_denied(s.post("sys/auth/approle2", token=t, json={"type": "approle"}))
    assert_denied(s.post("auth/approle/role/sneaky", token=t, json={}))


def test_role_crud_and_role_id(s):
    role_id = make_role(s, "crud", token_policies=["web-read", "other"], secret_id_num_uses=5,
                        secret_id_ttl="10m", token_ttl="1h", token_max_ttl="2h",
                        token_num_uses=0, bind_secret_id=True)
    assert isinstance(role_id, str) and len(role_id) >= 16, role_id
    d = ok(s.get("auth/approle/role/crud", token=s.root))["data"]
    assert sorted(d["token_policies"]) == ["other", "web-read"], d
    assert d["secret_id_num_uses"] == 5 and d["secret_id_ttl"] == 600, d
    assert d["token_ttl"] == 3600 and d["token_max_ttl"] == 7200, d
    assert d["bind_secret_id"] is True and d["token_num_uses"] == 0, d
    assert "crud" in ok(s.request("LIST", "auth/approle/role", token=s.root))["data"]["keys"]
    assert "crud" in ok(s.get("auth/approle/role?list=true", token=s.root))["data"]["keys"]
    # Update keeps the role id; a custom role id can be set.
    ok(s.post("auth/approle/role/crud", token=s.root, json={"token_ttl": "30m"}), 204)
    assert ok(s.get("auth/approle/role/crud", token=s.root))["data"]["token_ttl"] == 1800
    assert ok(s.get("auth/approle/role/crud/role-id", token=s.root))["data"]["role_id"] == role_id
    ok(s.post("auth/approle/role/crud/role-id", token=s.root, json={"role_id": "my-role-id"}), 204)
    assert ok(s.get("auth/approle/role/crud/role-id", token=s.root))["data"]["role_id"] == \
        "my-role-id"
    secret = new_secret(s, "crud")
    ok(login(s, "my-role-id", secret["secret_id"]))
    # Delete: gone, and its credentials no longer log in.
    ok(s.request("DELETE", "auth/approle/role/crud", token=s.root), 204)
    assert_error(s.get("auth/approle/role/crud", token=s.root), 404, 'role "crud" does not exist')
    assert_error(login(s, "my-role-id", secret["secret_id"]), 400, BAD_ROLE)


def test_login_gives_a_token_with_the_roles_policies(s):
    role_id = make_role(s, "web", token_policies=["web-read"], token_ttl="1h",
                        token_max_ttl="4h", secret_id_num_uses=5, secret_id_ttl="10m")
    secret = new_secret(s, "web", metadata=json.dumps({"team": "payments"}))
    assert isinstance(secret["secret_id"], str) and len(secret["secret_id"]) >= 16, secret
    assert isinstance(secret["secret_id_accessor"], str), secret
    assert secret["secret_id_ttl"] == 600 and secret["secret_id_num_uses"] == 5, secret

    body = ok(login(s, role_id, secret["secret_id"]))
    auth = body["auth"]
    assert TOKEN_RE.match(auth["client_token"]), auth
    assert auth["policies"] == ["default", "web-read"], auth
    assert auth["token_policies"] == ["default", "web-read"], auth
    assert auth["metadata"] == {"role_name": "web"}, auth
    assert auth["lease_duration"] == 3600 and auth["renewable"] is True, auth
    token = auth["client_token"]
    d = ok(lookup_self(s, token))["data"]
    assert d["policies"] == ["default", "web-read"], d
    assert d["path"] == "auth/approle/login", d
    assert d["meta"] == {"role_name": "web"}, d
    assert 3590 <= d["ttl"] <= 3600 and d["explicit_max_ttl"] in (0, 14400), d
    # It reads what web-read grants and nothing else.
    ok(s.get("sys/policy/web-read", token=token))
    assert_denied(s.get("sys/key-status", token=token))
    # Its lease.
    lease = d["lease_id"]
    assert lease.startswith("auth/approle/login/") and auth["accessor"] not in lease, lease
    assert ok(s.put("sys/leases/lookup", token=s.root, json={"lease_id": lease}))["data"]["id"] \
        == lease
    # The secret id's own view: one use spent, metadata kept.
    look = ok(s.post("auth/approle/role/web/secret-id/lookup", token=s.root,
                     json={"secret_id": secret["secret_id"]}))["data"]
    assert look["secret_id_accessor"] == secret["secret_id_accessor"], look
    assert look["metadata"] == {"team": "payments"}, look
    assert look["secret_id_num_uses"] == 4, look
    # Wrong credentials.
    assert_error(login(s, role_id, "not-the-secret"), 400, BAD_SECRET)
    assert_error(login(s, "not-the-role", secret["secret_id"]), 400, BAD_ROLE)
    assert_error(s.post("auth/approle/login", json={"role_id": role_id}), 400, "missing secret_id")
    assert_error(s.post("auth/approle/login", json={}), 400, "missing role_id")


def test_secret_id_accessors_list_lookup_destroy(s):
    role_id = make_role(s, "acc", token_policies=["web-read"])
    a = new_secret(s, "acc")
    b = new_secret(s, "acc")
    keys = ok(s.request("LIST", "auth/approle/role/acc/secret-id", token=s.root))["data"]["keys"]
    assert {a["secret_id_accessor"], b["secret_id_accessor"]} <= set(keys), keys
    assert a["secret_id"] not in json.dumps(keys) and b["secret_id"] not in json.dumps(keys)
    look = ok(s.post("auth/approle/role/acc/secret-id-accessor/lookup", token=s.root,
                     json={"secret_id_accessor": a["secret_id_accessor"]}))["data"]
    assert look["secret_id_accessor"] == a["secret_id_accessor"], look
    assert a["secret_id"] not in json.dumps(look)
    ok(s.post("auth/approle/role/acc/secret-id-accessor/destroy", token=s.root,
              json={"secret_id_accessor": a["secret_id_accessor"]}), 204)
    assert_error(login(s, role_id, a["secret_id"]), 400, BAD_SECRET)
    ok(s.post("auth/approle/role/acc/secret-id/destroy", token=s.root,
              json={"secret_id": b["secret_id"]}), 204)
    assert_error(login(s, role_id, b["secret_id"]), 400, BAD_SECRET)
    # Both were the role's only secret ids: the list is empty, which is a 404 (as in Vault).
    assert_error(s.request("LIST", "auth/approle/role/acc/secret-id", token=s.root), 404, [])


def test_custom_secret_id(s):
    role_id = make_role(s, "custom", token_policies=["web-read"])
    mine = "my-own-secret-id-0123456789"
    d = ok(s.post("auth/approle/role/custom/custom-secret-id", token=s.root,
                  json={"secret_id": mine}))["data"]
    assert d["secret_id"] == mine and d["secret_id_accessor"], d
    assert ok(login(s, role_id, mine))["auth"]["policies"] == ["default", "web-read"]


def test_secret_id_num_uses_one_then_400(s):
    role_id = make_role(s, "once", token_policies=["web-read"], secret_id_num_uses=1)
    secret = new_secret(s, "once")
    assert secret["secret_id_num_uses"] == 1, secret
    ok(login(s, role_id, secret["secret_id"]))
    assert_error(login(s, role_id, secret["secret_id"]), 400, BAD_SECRET)
    # A fresh secret id works again.
    ok(login(s, role_id, new_secret(s, "once")["secret_id"]))


def test_cidr_binding(s):
    far = make_role(s, "far", token_policies=["web-read"], secret_id_bound_cidrs=["10.1.2.0/24"])
    r = login(s, far, new_secret(s, "far")["secret_id"])
    assert_error(r, 400, "source address unauthorized through CIDR restrictions on the role")
    near = make_role(s, "near", token_policies=["web-read"],
                     secret_id_bound_cidrs=["127.0.0.0/8"])
    ok(login(s, near, new_secret(s, "near")["secret_id"]))
    # Per secret id: cidr_list.
    open_role = make_role(s, "open", token_policies=["web-read"])
    bound = new_secret(s, "open", cidr_list=["10.9.0.0/16"])
    assert_error(login(s, open_role, bound["secret_id"]), 400,
                 "source address unauthorized through CIDR restrictions on the secret ID")
    ok(login(s, open_role, new_secret(s, "open", cidr_list=["127.0.0.1/32"])["secret_id"]))
    # A bad CIDR is refused when the role is written.
    assert_error(s.post("auth/approle/role/badcidr", token=s.root,
                        json={"secret_id_bound_cidrs": ["10.1.2.0/99"]}), 400,
                 "invalid value for secret_id_bound_cidrs")


def test_expired_secret_id_is_refused(s):
    role_id = make_role(s, "short", token_policies=["web-read"], secret_id_ttl="2s")
    secret = new_secret(s, "short")
    assert secret["secret_id_ttl"] == 2, secret
    ok(login(s, role_id, secret["secret_id"]))
    time.sleep(3)  # the point: let the secret id expire
    assert_error(login(s, role_id, secret["secret_id"]), 400, BAD_SECRET)


def test_list_fields_as_comma_strings(s):
    role_id = make_role(s, "csv", token_policies="web-read,extra",
                        secret_id_bound_cidrs="127.0.0.0/8,10.0.0.0/8",
                        token_bound_cidrs="127.0.0.0/8")
    d = ok(s.get("auth/approle/role/csv", token=s.root))["data"]
    assert sorted(d["token_policies"]) == ["extra", "web-read"], d
    assert sorted(d["secret_id_bound_cidrs"]) == ["10.0.0.0/8", "127.0.0.0/8"], d
    assert d["token_bound_cidrs"] == ["127.0.0.0/8"], d
    auth = ok(login(s, role_id, new_secret(s, "csv", cidr_list="127.0.0.0/8")["secret_id"]))["auth"]
    assert auth["policies"] == ["default", "extra", "web-read"], auth
    # Legacy names: policies, bound_cidr_list, period.
    legacy = make_role(s, "legacy", policies="web-read", bound_cidr_list="127.0.0.0/8")
    d = ok(s.get("auth/approle/role/legacy", token=s.root))["data"]
    assert "web-read" in (d.get("token_policies") or d.get("policies")), d
    auth = ok(login(s, legacy, new_secret(s, "legacy")["secret_id"]))["auth"]
    assert auth["policies"] == ["default", "web-read"], auth


def test_token_settings_of_the_role(s):
    role_id = make_role(s, "limits", token_policies=["web-read"], token_num_uses=2,
                        token_ttl="2m", token_max_ttl="5m")
    auth = ok(login(s, role_id, new_secret(s, "limits")["secret_id"]))["auth"]
    assert auth["lease_duration"] == 120 and auth["num_uses"] == 2, auth
    token = auth["client_token"]
    ok(lookup_self(s, token))
    ok(lookup_self(s, token))
    assert_denied(lookup_self(s, token))
    # Renewal is bounded by token_max_ttl.
    auth = ok(login(s, role_id, new_secret(s, "limits")["secret_id"]))["auth"]
    r = ok(s.post("auth/token/renew-self", token=auth["client_token"], json={"increment": "1h"}))
    assert 0 < r["auth"]["lease_duration"] <= 300, r


def login_token(s, role):
    role_id = ok(s.get(f"auth/approle/role/{role}/role-id", token=s.root))["data"]["role_id"]
    return ok(login(s, role_id, new_secret(s, role)["secret_id"]))["auth"]


def test_renewal_requires_the_role_to_exist(s):
    make_role(s, "doomed", token_policies=["web-read"], token_ttl="2m")
    auth = login_token(s, "doomed")
    token, accessor = auth["client_token"], auth["accessor"]
    lease_id = ok(lookup_self(s, token))["data"]["lease_id"]
    before = ok(lookup_self(s, token))["data"]["expire_time"]
    ok(s.request("DELETE", "auth/approle/role/doomed", token=s.root), 204)
    # Vault's words, on every path that renews a token; nothing changes.
    gone = 'role "doomed" does not exist during renewal'
    assert_error(s.post("auth/token/renew-self", token=token, json={}), 400, gone)
    assert_error(s.post("auth/token/renew", token=s.root, json={"token": token}), 400, gone)
    assert_error(s.post("auth/token/renew-accessor", token=s.root, json={"accessor": accessor}),
                 400, gone)
    assert_error(s.put("sys/leases/renew", token=token, json={"lease_id": lease_id}), 400, gone)
    assert_error(s.put("sys/renew", token=token, json={"lease_id": lease_id}), 400, gone)
    d = ok(lookup_self(s, token))["data"]
    assert d["expire_time"] == before and "last_renewal" not in d, d
    # A role of the same name again: renewal works again, with its settings.
    make_role(s, "doomed", token_policies=["web-read"], token_ttl="3m")
    assert ok(s.post("auth/token/renew-self", token=token, json={}))["auth"][
        "lease_duration"] == 180


def test_renewal_rereads_the_roles_ttl_max_ttl_and_period(s):
    make_role(s, "moving", token_policies=["web-read"], token_ttl="2m", token_max_ttl="1h")
    auth = login_token(s, "moving")
    token = auth["client_token"]
    assert auth["lease_duration"] == 120, auth
    ok(s.post("auth/approle/role/moving", token=s.root, json={"token_ttl": "10m"}), 204)
    r = ok(s.post("auth/token/renew-self", token=token, json={}))
    assert r["auth"]["lease_duration"] == 600, r
    # A lower max TTL on the role caps the renewal (counted from the token's creation).
    ok(s.post("auth/approle/role/moving", token=s.root,
              json={"token_ttl": "1m", "token_max_ttl": "5m"}), 204)
    r = ok(s.post("auth/token/renew-self", token=token, json={"increment": "1h"}))
    assert 290 <= r["auth"]["lease_duration"] <= 300, r
    lease_id = ok(lookup_self(s, token))["data"]["lease_id"]
    r = ok(s.put("sys/leases/renew", token=token, json={"lease_id": lease_id}))
    assert r["lease_duration"] == 60, r
    # A period on the role: the renewal is the period, past the old max.
    ok(s.post("auth/approle/role/moving", token=s.root, json={"token_period": "20m"}), 204)
    r = ok(s.post("auth/token/renew-self", token=token, json={}))
    assert r["auth"]["lease_duration"] == 1200, r
    assert ok(lookup_self(s, token))["data"]["period"] == 1200


def test_tokens_not_from_a_login_renew_by_their_own_settings(s):
    t = create_token(s, s.root, policies=["default"], ttl="3m")["auth"]["client_token"]
    r = ok(s.post("auth/token/renew-self", token=t, json={}))
    assert r["auth"]["lease_duration"] == 180, r


def test_disabling_the_method_revokes_its_tokens(s):
    ok(s.post("sys/auth/approle-gone", token=s.root, json={"type": "approle"}), 204)
    ok(s.post("auth/approle-gone/role/r", token=s.root, json={"token_policies": ["default"]}), 204)
    role_id = ok(s.get("auth/approle-gone/role/r/role-id", token=s.root))["data"]["role_id"]
    secret = ok(s.post("auth/approle-gone/role/r/secret-id", token=s.root, json={}))["data"]
    auth = ok(s.post("auth/approle-gone/login",
                     json={"role_id": role_id, "secret_id": secret["secret_id"]}))["auth"]
    other = create_token(s, s.root, policies=["default"])["auth"]["client_token"]
    assert lookup_self(s, auth["client_token"]).status_code == 200
    ok(s.request("DELETE", "sys/auth/approle-gone", token=s.root), 204)
    assert_denied(s.get("auth/token/lookup-self", token=auth["client_token"]))
    # Tokens from elsewhere stay.
    assert lookup_self(s, other).status_code == 200
