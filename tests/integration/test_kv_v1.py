# SPDX-License-Identifier: Apache-2.0
"""KV version 1 (issue #4, API.md "KV version 1"): CRUD and LIST on a mount made with
POST sys/mounts/kv1 {type:"kv", options:{version:"1"}} and on a `generic` mount (what node-vault
mounts). The data is the body itself; no versions, no data/ or metadata/ segment."""
import pytest

from conftest import (ENVELOPE_KEYS, assert_denied, assert_error, assert_plain_404, create_token,
                      enable_secrets, kv_list, ok, put_policy)


@pytest.fixture(scope="module")
def s(module_dev):
    enable_secrets(module_dev, module_dev.root, "kv1", "kv", version=1)
    enable_secrets(module_dev, module_dev.root, "gen", "generic")
    return module_dev


MOUNTS = ["kv1", "gen"]


def test_mounts_are_version_1(s):
    mounts = ok(s.get("sys/mounts", token=s.root))["data"]
    assert mounts["kv1/"]["type"] == "kv" and mounts["kv1/"]["options"]["version"] == "1", mounts
    assert mounts["gen/"]["type"] == "generic", mounts
    assert mounts["gen/"]["options"]["version"] == "1", mounts
    ui = ok(s.get("sys/internal/ui/mounts/kv1/a/b", token=s.root))["data"]
    assert ui["path"] == "kv1/" and ui["options"]["version"] == "1", ui


@pytest.mark.parametrize("m", MOUNTS)
def test_crud(s, m):
    body = {"user": "alice", "n": 3, "nested": {"k": [1, "x"]}, "flag": True}
    assert ok(s.post(f"{m}/app/db", token=s.root, json=body), 204) is None
    out = ok(s.get(f"{m}/app/db", token=s.root))
    assert list(out.keys()) == ENVELOPE_KEYS, out
    assert out["data"] == body, out
    # PUT is POST; a write replaces the whole object (no merge, no versions).
    ok(s.put(f"{m}/app/db", token=s.root, json={"user": "bob"}), 204)
    assert ok(s.get(f"{m}/app/db", token=s.root))["data"] == {"user": "bob"}
    # No version query or data/ segment on v1: data/app/db is just another path.
    assert_plain_404(s.get(f"{m}/data/app/db", token=s.root))
    assert ok(s.request("DELETE", f"{m}/app/db", token=s.root), 204) is None
    assert_plain_404(s.get(f"{m}/app/db", token=s.root))
    ok(s.request("DELETE", f"{m}/app/db", token=s.root), 204)  # deleting again is fine
    assert_plain_404(s.get(f"{m}/never", token=s.root))


@pytest.mark.parametrize("m", MOUNTS)
def test_empty_write_is_400(s, m):
    assert_error(s.post(f"{m}/empty", token=s.root, json={}), 400, "missing data fields")
    assert_plain_404(s.get(f"{m}/empty", token=s.root))


@pytest.mark.parametrize("m", MOUNTS)
def test_list(s, m):
    for p in ("lst/a", "lst/b", "lst/dir/c", "lst/dir/deeper/d"):
        ok(s.post(f"{m}/{p}", token=s.root, json={"v": p}), 204)
    out = ok(kv_list(s, s.root, f"{m}/lst"))
    assert list(out.keys()) == ENVELOPE_KEYS
    assert out["data"] == {"keys": ["a", "b", "dir/"]}, out
    assert ok(s.get(f"{m}/lst/", token=s.root, params={"list": "true"}))["data"]["keys"] == \
        ["a", "b", "dir/"]
    assert ok(kv_list(s, s.root, f"{m}/lst/dir"))["data"]["keys"] == ["c", "deeper/"]
    assert "lst/" in ok(kv_list(s, s.root, f"{m}/"))["data"]["keys"]
    # Deleting the last key of a folder removes the folder from the listing.
    ok(s.request("DELETE", f"{m}/lst/dir/deeper/d", token=s.root), 204)
    assert ok(kv_list(s, s.root, f"{m}/lst/dir"))["data"]["keys"] == ["c"]
    assert_error(kv_list(s, s.root, f"{m}/lst/dir/deeper"), 404, [])
    assert_error(kv_list(s, s.root, f"{m}/nothing-here"), 404, [])


def test_acl_on_v1_paths_has_no_engine_segment(s):
    ok(s.post("kv1/team/key", token=s.root, json={"k": "v"}), 204)
    ok(s.post("kv1/other", token=s.root, json={"k": "v"}), 204)
    put_policy(s, s.root, "kv1-team", 'path "kv1/team/*" {\n  capabilities = ["read", "list"]\n}\n')
    t = create_token(s, s.root, policies=["kv1-team"])["auth"]["client_token"]
    assert ok(s.get("kv1/team/key", token=t))["data"] == {"k": "v"}
    assert ok(kv_list(s, t, "kv1/team/"))["data"]["keys"] == ["key"]
    assert_denied(s.get("kv1/other", token=t))
    assert_denied(s.post("kv1/team/key", token=t, json={"k": "x"}))
    assert_denied(s.request("DELETE", "kv1/team/key", token=t))
    assert ok(s.get("kv1/team/key", token=s.root))["data"] == {"k": "v"}


def test_v1_mounts_are_separate(s):
    ok(s.post("kv1/shared-name", token=s.root, json={"from": "kv1"}), 204)
    ok(s.post("gen/shared-name", token=s.root, json={"from": "gen"}), 204)
    assert ok(s.get("kv1/shared-name", token=s.root))["data"] == {"from": "kv1"}
    assert ok(s.get("gen/shared-name", token=s.root))["data"] == {"from": "gen"}
    assert_plain_404(s.get("secret/data/shared-name", token=s.root))
