# SPDX-License-Identifier: Apache-2.0
"""ACL policies (issue #3, DESIGN.md §4): CRUD through sys/policy and sys/policies/acl (HCL, Vault's
JSON form, legacy {rules}), parse errors naming the line, the built-in root and default policies,
and the ACL semantics (exact, `*`, `+`, deny, most specific rule, union across policies, sudo)
checked through sys/capabilities-self and through real requests."""
import json
import re

import pytest

from conftest import (assert_denied, assert_error, capabilities_self, create_token, lookup_self,
                      ok, put_policy)

APP = '''# the application's own secrets
path "secret/data/app/*" {
  capabilities = ["read"]
}

path "secret/data/app/admin" {
  capabilities = ["deny"]
}

path "secret/data/app/special/*" {
  capabilities = ["create", "update"]
}

path "secret/data/exact" {
  capabilities = ["create", "read", "update"]
}

path "secret/data/+/config" {
  capabilities = ["list"]
}

path "secret/metadata/app/*" {
  capabilities = ["list"]
}
'''
LISTER = 'path "secret/data/app/*" {\n  capabilities = ["list"]\n}\n'
LOCK = 'path "secret/data/app/locked" {\n  capabilities = ["deny"]\n}\n'
READ_POLICIES_JSON = json.dumps({"path": {"sys/policy/*": {"capabilities": ["read"]}}})


@pytest.fixture(scope="module")
def s(module_dev):
    put_policy(module_dev, module_dev.root, "app", APP)
    put_policy(module_dev, module_dev.root, "lister", LISTER)
    put_policy(module_dev, module_dev.root, "lock", LOCK)
    return module_dev


def token_with(s, *policies, **body):
    """A token with these policies (and default); with none, default alone (not root's)."""
    return create_token(s, s.root, policies=list(policies) or ["default"],
                        **body)["auth"]["client_token"]


# --- CRUD ---------------------------------------------------------------------------------------

def test_sys_policy_crud_with_hcl(s):
    text = 'path "sys/policy/*" {\n  capabilities = ["read", "list"]\n}\n'
    ok(s.put("sys/policy/crud1", token=s.root, json={"policy": text}), 204)
    body = ok(s.get("sys/policy/crud1", token=s.root))
    assert body["data"]["name"] == "crud1" and body["data"]["rules"] == text, body
    # Legacy sys route: the keys of data at the top level too.
    assert body["name"] == "crud1" and body["rules"] == text, body
    listing = ok(s.get("sys/policy", token=s.root))
    for key in ("policies", "keys"):
        assert {"crud1", "default", "root", "app"} <= set(listing[key]), listing
        assert listing["data"][key] == listing[key], listing
    # Update (POST is the same as PUT).
    text2 = 'path "sys/policy/crud1" {\n  capabilities = ["read"]\n}\n'
    ok(s.post("sys/policy/crud1", token=s.root, json={"policy": text2}), 204)
    assert ok(s.get("sys/policy/crud1", token=s.root))["data"]["rules"] == text2
    ok(s.request("DELETE", "sys/policy/crud1", token=s.root), 204)
    assert_error(s.get("sys/policy/crud1", token=s.root), 404, [])
    assert "crud1" not in ok(s.get("sys/policy", token=s.root))["policies"]


def test_legacy_rules_field_as_node_vault_sends_it(s):
    text = 'path "auth/token/lookup" {\n  capabilities = ["update"]\n}\n'
    ok(s.put("sys/policy/legacy", token=s.root, json={"name": "legacy", "rules": text}), 204)
    assert ok(s.get("sys/policy/legacy", token=s.root))["data"]["rules"] == text
    # And it is enforced like any other policy.
    t = token_with(s, "legacy")
    other = token_with(s)
    ok(s.post("auth/token/lookup", token=t, json={"token": other}))
    assert_denied(s.post("auth/token/lookup-accessor", token=t, json={"accessor": "x"}))


def test_sys_policies_acl_crud(s):
    text = 'path "sys/capabilities-self" {\n  capabilities = ["update"]\n}\n'
    ok(s.post("sys/policies/acl/acl1", token=s.root, json={"policy": text}), 204)
    body = ok(s.get("sys/policies/acl/acl1", token=s.root))
    assert body["data"]["name"] == "acl1" and body["data"]["policy"] == text, body
    keys = ok(s.request("LIST", "sys/policies/acl", token=s.root))["data"]["keys"]
    assert {"acl1", "default", "app"} <= set(keys), keys
    assert ok(s.get("sys/policies/acl?list=true", token=s.root))["data"]["keys"] == keys
    # Both routes see the same store.
    assert ok(s.get("sys/policy/acl1", token=s.root))["data"]["rules"] == text
    ok(s.request("DELETE", "sys/policies/acl/acl1", token=s.root), 204)
    assert_error(s.get("sys/policies/acl/acl1", token=s.root), 404, [])
    assert_error(s.get("sys/policy/acl1", token=s.root), 404, [])


def test_json_form_is_accepted_and_enforced(s):
    ok(s.put("sys/policy/jsonform", token=s.root, json={"policy": READ_POLICIES_JSON}), 204)
    t = token_with(s, "jsonform")
    assert ok(s.get("sys/policy/app", token=t))["data"]["rules"] == APP
    assert_denied(s.put("sys/policy/app", token=t, json={"policy": LISTER}))
    assert capabilities_self(s, t, ["sys/policy/anything"]) == {"sys/policy/anything": ["read"]}


@pytest.mark.parametrize("text,line,message", [
    ('path "a/*" {\n  capabilities = ["read]\n}\n', 2, "unterminated string"),
    ('path "a/*" {\n  capabilities = ["read"]\n  @\n}\n', 3, "unexpected character '@'"),
    ('path "a/*" {\n  capabilities = ["read"]\n}\n\npath "b" {\n  capabilities = = ["read"]\n}\n', 6,
     'capabilities must be a list of strings, such as ["read"]'),
    ('# comment\npath "a/*" {\n  capabilities = ["read"]\n}\n}\n', 5,
     "expected a path block, found '}'"),
    ('path "a/*" {\n  capabilities = ["read"]\n}\npath {\n  capabilities = ["read"]\n}\n', 4,
     "expected a quoted path after path, found '{'"),
])
def test_hcl_parse_error_is_400_naming_the_line(s, text, line, message):
    r = s.put("sys/policy/broken", token=s.root, json={"policy": text})
    assert_error(r, 400, f"line {line}: {message}")
    assert_error(s.get("sys/policy/broken", token=s.root), 404, [])


@pytest.mark.parametrize("text,message", [
    ('path "a/*" {\n  capabilities = ["read", "fly"]\n}\n',
     'line 2: unknown capability "fly" in path "a/*"'),
    # (The JSON form's errors name no line.)
    ('{"path": {"a/*": {"capabilities": ["fly"]}}}', 'unknown capability "fly" in path "a/*"'),
    # The position exactly; the reason after it is jansson's wording.
    ('{"path": ', re.compile(r"line 1 column 9: .+")),
    ('', "'policy' parameter not supplied or empty"),
])
def test_bad_policies_are_400_and_change_nothing(s, text, message):
    r = s.put("sys/policy/bad", token=s.root, json={"policy": text})
    assert_error(r, 400, message)
    assert_error(s.get("sys/policy/bad", token=s.root), 404, [])


def test_root_and_default_are_protected(s):
    for route in ("sys/policy/root", "sys/policies/acl/root"):
        assert_error(s.put(route, token=s.root, json={"policy": LISTER}), 400,
                     "cannot update root policy")
        assert_error(s.request("DELETE", route, token=s.root), 400, "cannot delete root policy")
    assert_error(s.request("DELETE", "sys/policy/default", token=s.root), 400,
                 "cannot delete default policy")
    assert_error(s.request("DELETE", "sys/policies/acl/default", token=s.root), 400,
                 "cannot delete default policy")
    # Both are still there and root still works.
    assert "root" in ok(s.get("sys/policy", token=s.root))["policies"]
    default = ok(s.get("sys/policy/default", token=s.root))["data"]["rules"]
    assert "auth/token/lookup-self" in default, default
    assert ok(lookup_self(s, s.root))["data"]["policies"] == ["root"]


def test_policy_writes_need_permission(s):
    t = token_with(s, "app")
    assert_denied(s.put("sys/policy/mine", token=t, json={"policy": LISTER}))
    assert_denied(s.request("DELETE", "sys/policy/app", token=t))
    assert_denied(s.post("sys/policies/acl/mine", token=t, json={"policy": LISTER}))
    assert_denied(s.request("LIST", "sys/policies/acl", token=t))
    assert_error(s.get("sys/policy/mine", token=s.root), 404, [])


# --- ACL semantics through capabilities-self ----------------------------------------------------

def test_capabilities_self_exact_glob_plus_deny_most_specific(s):
    t = token_with(s, "app")
    want = {
        "secret/data/app/db": ["read"],              # glob
        "secret/data/app/a/b/c": ["read"],           # glob spans segments
        "secret/data/other": ["deny"],               # nothing matches: default deny
        "secret/data/app": ["deny"],                 # "app/*" does not match "app"
        "secret/data/app/admin": ["deny"],           # exact deny beats the glob
        "secret/data/app/special/x": ["create", "update"],  # most specific glob, no union
        "secret/data/exact": ["create", "read", "update"],
        "secret/data/exact/x": ["deny"],             # exact is not a prefix
        "secret/data/team1/config": ["list"],        # + is one segment
        "secret/data/a/b/config": ["deny"],          # + is not two
        "secret/metadata/app/": ["list"],
        "sys/key-status": ["deny"],
    }
    got = capabilities_self(s, t, list(want))
    assert got == {p: sorted(c) for p, c in want.items()}
    # One path: the answer's "capabilities" is that path's.
    assert capabilities_self(s, t, ["secret/data/app/db"]) == {"secret/data/app/db": ["read"]}


def test_capabilities_union_across_policies_and_deny_wins(s):
    t = token_with(s, "app", "lister", "lock")
    got = capabilities_self(s, t, ["secret/data/app/db", "secret/data/app/locked",
                                   "secret/data/app/admin", "secret/data/exact"])
    assert got == {
        "secret/data/app/db": ["list", "read"],   # union of app and lister
        "secret/data/app/locked": ["deny"],       # lock's deny beats both
        "secret/data/app/admin": ["deny"],        # app's deny beats lister's list
        "secret/data/exact": ["create", "read", "update"],
    }


def test_default_policy_grants_self_service_only(s):
    t = token_with(s)
    got = capabilities_self(s, t, ["auth/token/lookup-self", "auth/token/renew-self",
                                   "auth/token/revoke-self", "sys/capabilities-self",
                                   "sys/leases/lookup", "sys/leases/renew",
                                   "auth/token/create", "sys/policy/default", "sys/key-status"])
    assert got == {
        "auth/token/lookup-self": ["read"],
        "auth/token/renew-self": ["update"],
        "auth/token/revoke-self": ["update"],
        "sys/capabilities-self": ["update"],
        "sys/leases/lookup": ["update"],
        "sys/leases/renew": ["update"],
        "auth/token/create": ["deny"],
        "sys/policy/default": ["deny"],
        "sys/key-status": ["deny"],
    }


def test_root_token_capabilities_are_root(s):
    got = capabilities_self(s, s.root, ["secret/data/anything", "sys/rotate"])
    assert got == {"secret/data/anything": ["root"], "sys/rotate": ["root"]}


# --- enforcement through real requests ----------------------------------------------------------

def test_sudo_is_needed_for_sudo_routes(s):
    put_policy(s, s.root, "rotate-nosudo", 'path "sys/rotate" {\n  capabilities = ["update"]\n}\n')
    put_policy(s, s.root, "rotate-sudo",
               'path "sys/rotate" {\n  capabilities = ["update", "sudo"]\n}\n'
               'path "sys/key-status" {\n  capabilities = ["read"]\n}\n')
    weak = token_with(s, "rotate-nosudo")
    strong = token_with(s, "rotate-sudo")
    assert_denied(s.put("sys/rotate", token=weak))
    term = ok(s.get("sys/key-status", token=strong))["data"]["term"]
    ok(s.put("sys/rotate", token=strong), 204)
    assert ok(s.get("sys/key-status", token=strong))["data"]["term"] == term + 1
    assert capabilities_self(s, strong, ["sys/rotate"]) == {"sys/rotate": ["sudo", "update"]}


def test_policy_changes_apply_to_existing_tokens_at_once(s):
    put_policy(s, s.root, "mutable", READ_POLICIES_JSON)
    t = token_with(s, "mutable")
    ok(s.get("sys/policy/app", token=t))
    # Narrow it: the same token is refused at once.
    put_policy(s, s.root, "mutable", 'path "sys/policy/lister" {\n  capabilities = ["read"]\n}\n')
    assert_denied(s.get("sys/policy/app", token=t))
    ok(s.get("sys/policy/lister", token=t))
    # Delete it: the token keeps the name but the grant is gone.
    ok(s.request("DELETE", "sys/policy/mutable", token=s.root), 204)
    assert_denied(s.get("sys/policy/lister", token=t))
    assert "mutable" in ok(lookup_self(s, t))["data"]["policies"]
    # Recreate it: the grant comes back.
    put_policy(s, s.root, "mutable", READ_POLICIES_JSON)
    ok(s.get("sys/policy/app", token=t))
