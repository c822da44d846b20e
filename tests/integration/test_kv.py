# SPDX-License-Identifier: Apache-2.0
"""KV version 2 (issue #4, API.md "KV version 2", DESIGN.md §5): every route of the table and its
errors, check-and-set in all its cases, pruning beyond max_versions, delete_version_after, the
404-with-envelope of deleted and destroyed versions, RFC 3339 times with nanoseconds, and ACL paths
that include the engine segment (data/, metadata/, subkeys/)."""
import threading
import time

import pytest
import requests

from conftest import (ENVELOPE_KEYS, KV_VERSION_FIELDS, MERGE_PATCH, assert_denied,
                      assert_enveloped_404, assert_error, assert_plain_404, create_token,
                      enable_secrets, kv2_metadata, kv2_patch, kv2_read, kv2_write, kv_list,
                      kv_time, ok, put_policy, wait_for)

CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"
PATCH_TYPE = "PATCH requires Content-Type application/merge-patch+json"
MAX_VERSIONS = "max_versions must be a non-negative integer"
CAS_BOOL = "cas_required must be a boolean"
DVA_DURATION = 'delete_version_after must be a duration such as "1h"'


@pytest.fixture(scope="module")
def s(module_dev):
    return module_dev


_mounts = iter(range(1000))


@pytest.fixture
def kvm(s):
    """A fresh KV v2 mount for a test that changes the mount's config."""
    name = f"kv2cfg{next(_mounts)}"
    enable_secrets(s, s.root, name, "kv", version=2)
    return name


# --- write and read ---------------------------------------------------------------------------

def test_write_then_read_latest_and_each_version(s):
    before = time.time()
    v1 = kv2_write(s, s.root, "rw/app", {"user": "alice", "n": 1, "nested": {"k": [1, 2]}})
    assert v1["version"] == 1 and v1["destroyed"] is False and v1["deletion_time"] == "", v1
    assert v1["custom_metadata"] is None, v1
    created1 = kv_time(v1["created_time"])
    assert before - 5 <= created1 <= time.time() + 5, v1
    v2 = s.put("secret/data/rw/app", token=s.root, json={"data": {"user": "bob"}})  # PUT = POST
    v2 = ok(v2)["data"]
    assert v2["version"] == 2, v2
    assert kv_time(v2["created_time"]) >= created1

    latest = kv2_read(s, s.root, "rw/app")
    assert latest["data"] == {"user": "bob"}, latest
    assert list(latest["metadata"].keys()) == KV_VERSION_FIELDS, latest
    assert latest["metadata"] == v2, latest
    first = kv2_read(s, s.root, "rw/app", version=1)
    assert first["data"] == {"user": "alice", "n": 1, "nested": {"k": [1, 2]}}, first
    assert first["metadata"] == v1, first
    assert kv2_read(s, s.root, "rw/app", version=2) == latest
    assert kv2_read(s, s.root, "rw/app", version=0) == latest  # 0 = latest


def test_missing_key_or_version_is_a_plain_404(s):
    assert_plain_404(s.get("secret/data/rw/nosuch", token=s.root))
    kv2_write(s, s.root, "rw/one", {"a": "b"})
    assert_plain_404(s.get("secret/data/rw/one", token=s.root, params={"version": 7}))
    assert_plain_404(s.get("secret/metadata/rw/nosuch", token=s.root))
    assert_plain_404(s.get("secret/subkeys/rw/nosuch", token=s.root))
    assert_error(s.get("secret/data/rw/one", token=s.root, params={"version": "x"}), 400,
                 "version must be a non-negative integer")


def test_write_needs_a_data_object(s):
    assert_error(s.post("secret/data/rw/bad", token=s.root, json={"user": "x"}), 400,
                 "no data provided")
    assert_error(s.post("secret/data/rw/bad", token=s.root, json={"data": "x"}), 400,
                 "no data provided")
    assert_error(s.post("secret/data/rw/bad", token=s.root,
                        json={"data": {"a": 1}, "options": {"cas": -1}}), 400,
                 "options.cas must be a non-negative integer")
    assert_plain_404(s.get("secret/data/rw/bad", token=s.root))


def test_times_are_rfc3339_nanoseconds_utc(s):
    kv2_write(s, s.root, "times/a", {"x": "1"})
    assert ok(s.request("DELETE", "secret/data/times/a", token=s.root), 204) is None
    meta = kv2_metadata(s, s.root, "times/a")
    for field in ("created_time", "updated_time"):
        kv_time(meta[field])
    v = meta["versions"]["1"]
    assert kv_time(v["created_time"]) <= kv_time(v["deletion_time"]), v
    # Nanoseconds, not a zero-padded coarser clock: the digits vary across versions.
    stamps = {kv2_write(s, s.root, "times/b", {"i": str(i)})["created_time"][-10:-1]
              for i in range(5)}
    assert len(stamps) == 5, stamps


# --- PATCH --------------------------------------------------------------------------------------

def test_patch_is_a_merge_patch_of_the_latest_into_a_new_version(s):
    kv2_write(s, s.root, "patch/a", {"keep": "1", "drop": "2", "obj": {"x": 1, "y": 2}})
    r = kv2_patch(s, s.root, "patch/a", {"drop": None, "obj": {"y": None, "z": 3}, "new": "n"})
    out = ok(r)
    assert list(out.keys()) == ENVELOPE_KEYS and list(out["data"].keys()) == KV_VERSION_FIELDS
    assert out["data"]["version"] == 2 and out["data"]["deletion_time"] == "", out
    got = kv2_read(s, s.root, "patch/a")
    assert got["data"] == {"keep": "1", "obj": {"x": 1, "z": 3}, "new": "n"}, got
    assert got["metadata"]["version"] == 2
    # The old version is untouched.
    assert kv2_read(s, s.root, "patch/a", version=1)["data"]["drop"] == "2"


def test_patch_needs_the_merge_patch_content_type(s):
    kv2_write(s, s.root, "patch/ct", {"a": "1"})
    for ctype in ("application/json", "text/plain"):
        r = s.request("PATCH", "secret/data/patch/ct", token=s.root, data='{"data":{"a":"2"}}',
                      headers={"Content-Type": ctype})
        assert_error(r, 415, PATCH_TYPE)
    r = s.request("PATCH", "secret/data/patch/ct", token=s.root, json={"data": {"a": "2"}})
    assert_error(r, 415, PATCH_TYPE)
    got = kv2_read(s, s.root, "patch/ct")
    assert got["data"] == {"a": "1"} and got["metadata"]["version"] == 1, got


def test_patch_of_missing_or_deleted_or_destroyed_latest_is_404(s):
    assert_error(kv2_patch(s, s.root, "patch/missing", {"a": "1"}), 404, [])
    assert_plain_404(s.get("secret/data/patch/missing", token=s.root))
    kv2_write(s, s.root, "patch/del", {"a": "1"})
    ok(s.request("DELETE", "secret/data/patch/del", token=s.root), 204)
    assert_error(kv2_patch(s, s.root, "patch/del", {"a": "2"}), 404, [])
    kv2_write(s, s.root, "patch/del", {"a": "3"})  # a plain write makes a new live version
    assert ok(kv2_patch(s, s.root, "patch/del", {"b": "4"}))["data"]["version"] == 3
    assert kv2_read(s, s.root, "patch/del")["data"] == {"a": "3", "b": "4"}
    kv2_write(s, s.root, "patch/des", {"a": "1"})
    ok(s.post("secret/destroy/patch/des", token=s.root, json={"versions": [1]}), 204)
    assert_error(kv2_patch(s, s.root, "patch/des", {"a": "2"}), 404, [])
    assert kv2_metadata(s, s.root, "patch/des")["current_version"] == 1


def test_patch_honours_cas(s):
    kv2_write(s, s.root, "patch/cas", {"a": "1"})
    assert_error(kv2_patch(s, s.root, "patch/cas", {"a": "2"}, cas=0), 400, CAS_MISMATCH)
    assert ok(kv2_patch(s, s.root, "patch/cas", {"a": "2"}, cas=1))["data"]["version"] == 2


# --- subkeys ------------------------------------------------------------------------------------

def test_subkeys_replaces_leaves_by_null_to_a_depth(s):
    kv2_write(s, s.root, "sub/a", {"a": "1", "b": {"c": {"d": "x"}, "e": [1]}})
    kv2_write(s, s.root, "sub/a", {"only": {"v2": "y"}})
    out = ok(s.get("secret/subkeys/sub/a", token=s.root, params={"version": 1}))
    assert list(out.keys()) == ENVELOPE_KEYS
    assert out["data"]["subkeys"] == {"a": None, "b": {"c": {"d": None}, "e": None}}, out
    assert out["data"]["metadata"]["version"] == 1, out
    assert list(out["data"]["metadata"].keys()) == KV_VERSION_FIELDS, out
    d1 = ok(s.get("secret/subkeys/sub/a", token=s.root, params={"version": 1, "depth": 1}))
    assert d1["data"]["subkeys"] == {"a": None, "b": None}, d1
    d2 = ok(s.get("secret/subkeys/sub/a", token=s.root, params={"version": 1, "depth": 2}))
    assert d2["data"]["subkeys"] == {"a": None, "b": {"c": None, "e": None}}, d2
    latest = ok(s.get("secret/subkeys/sub/a", token=s.root))
    assert latest["data"]["subkeys"] == {"only": {"v2": None}}, latest
    assert latest["data"]["metadata"]["version"] == 2
    assert_error(s.get("secret/subkeys/sub/a", token=s.root, params={"depth": "-1"}), 400,
                 "depth must be a non-negative integer")
    assert_plain_404(s.get("secret/subkeys/sub/a", token=s.root, params={"version": 9}))
    ok(s.request("DELETE", "secret/data/sub/a", token=s.root), 204)
    assert_enveloped_404(s.get("secret/subkeys/sub/a", token=s.root), data_key="subkeys")


# --- delete, undelete, destroy --------------------------------------------------------------------

def test_delete_latest_soft_deletes_only_the_latest(s):
    kv2_write(s, s.root, "del/latest", {"v": "1"})
    kv2_write(s, s.root, "del/latest", {"v": "2"})
    before = time.time()
    assert ok(s.request("DELETE", "secret/data/del/latest", token=s.root), 204) is None
    md = assert_enveloped_404(s.get("secret/data/del/latest", token=s.root))
    assert md["version"] == 2 and md["destroyed"] is False, md
    assert before - 5 <= kv_time(md["deletion_time"]) <= time.time() + 5, md
    assert_enveloped_404(s.get("secret/data/del/latest", token=s.root, params={"version": 2}))
    assert kv2_read(s, s.root, "del/latest", version=1)["data"] == {"v": "1"}
    meta = kv2_metadata(s, s.root, "del/latest")
    assert meta["current_version"] == 2
    assert meta["versions"]["2"]["deletion_time"] == md["deletion_time"], meta
    assert meta["versions"]["1"]["deletion_time"] == "", meta
    # Deleting again keeps the first deletion time.
    ok(s.request("DELETE", "secret/data/del/latest", token=s.root), 204)
    assert kv2_metadata(s, s.root, "del/latest")["versions"]["2"] == meta["versions"]["2"]


def test_delete_undelete_destroy_listed_versions(s):
    for i in range(1, 5):
        kv2_write(s, s.root, "del/many", {"v": str(i)})
    ok(s.post("secret/delete/del/many", token=s.root, json={"versions": [1, 2]}), 204)
    for v in (1, 2):
        md = assert_enveloped_404(s.get("secret/data/del/many", token=s.root,
                                        params={"version": v}))
        assert md["version"] == v and md["deletion_time"] != "" and md["destroyed"] is False, md
    assert kv2_read(s, s.root, "del/many", version=3)["data"] == {"v": "3"}
    assert kv2_read(s, s.root, "del/many")["data"] == {"v": "4"}

    ok(s.post("secret/undelete/del/many", token=s.root, json={"versions": [1]}), 204)
    back = kv2_read(s, s.root, "del/many", version=1)
    assert back["data"] == {"v": "1"} and back["metadata"]["deletion_time"] == "", back
    assert_enveloped_404(s.get("secret/data/del/many", token=s.root, params={"version": 2}))

    ok(s.post("secret/destroy/del/many", token=s.root, json={"versions": [2, 3]}), 204)
    for v in (2, 3):
        md = assert_enveloped_404(s.get("secret/data/del/many", token=s.root,
                                        params={"version": v}))
        assert md["destroyed"] is True and md["version"] == v, md
    # Destroyed is final: undelete does not bring it back.
    ok(s.put("secret/undelete/del/many", token=s.root, json={"versions": [2, 3]}), 204)
    md = assert_enveloped_404(s.get("secret/data/del/many", token=s.root, params={"version": 3}))
    assert md["destroyed"] is True, md
    meta = kv2_metadata(s, s.root, "del/many")
    assert [meta["versions"][str(v)]["destroyed"] for v in (1, 2, 3, 4)] == \
        [False, True, True, False], meta
    assert meta["versions"]["1"]["deletion_time"] == "" and \
        meta["versions"]["4"]["deletion_time"] == "", meta
    # Missing versions and keys are not errors (as in Vault).
    ok(s.post("secret/delete/del/many", token=s.root, json={"versions": [99]}), 204)
    ok(s.post("secret/destroy/del/nosuch", token=s.root, json={"versions": [1]}), 204)


@pytest.mark.parametrize("op", ["delete", "undelete", "destroy"])
@pytest.mark.parametrize("body", [{}, {"versions": []}, {"versions": None}])
def test_version_ops_without_a_version_are_400(s, op, body):
    kv2_write(s, s.root, f"nover/{op}", {"a": "1"})
    assert_error(s.post(f"secret/{op}/nover/{op}", token=s.root, json=body), 400,
                 "no version number provided")
    assert kv2_read(s, s.root, f"nover/{op}")["metadata"]["deletion_time"] == ""


# --- LIST and metadata ----------------------------------------------------------------------------

def test_list_metadata_shows_keys_and_folders(s):
    for p in ("lst/a", "lst/dir/b", "lst/dir/c/d", "lst/dir2/x"):
        kv2_write(s, s.root, p, {"v": "1"})
    out = ok(kv_list(s, s.root, "secret/metadata/lst"))
    assert list(out.keys()) == ENVELOPE_KEYS
    assert out["data"] == {"keys": ["a", "dir/", "dir2/"]}, out
    assert ok(kv_list(s, s.root, "secret/metadata/lst/"))["data"]["keys"] == ["a", "dir/", "dir2/"]
    assert ok(s.get("secret/metadata/lst", token=s.root,
                    params={"list": "true"}))["data"]["keys"] == ["a", "dir/", "dir2/"]
    assert ok(kv_list(s, s.root, "secret/metadata/lst/dir"))["data"]["keys"] == ["b", "c/"]
    assert "lst/" in ok(kv_list(s, s.root, "secret/metadata/"))["data"]["keys"]
    # A soft-deleted key is still listed (its metadata lives); a purged one is not, and a folder
    # whose keys are all purged disappears.
    ok(s.request("DELETE", "secret/data/lst/a", token=s.root), 204)
    assert "a" in ok(kv_list(s, s.root, "secret/metadata/lst"))["data"]["keys"]
    ok(s.request("DELETE", "secret/metadata/lst/dir2/x", token=s.root), 204)
    assert ok(kv_list(s, s.root, "secret/metadata/lst"))["data"]["keys"] == ["a", "dir/"]


def test_empty_list_is_404_with_empty_errors(s):
    for path in ("secret/metadata/empty-folder", "secret/metadata/empty-folder/"):
        r = kv_list(s, s.root, path)
        assert_error(r, 404, [])


def test_metadata_read_fields(s):
    w1 = kv2_write(s, s.root, "meta/read", {"a": "1"})
    w2 = kv2_write(s, s.root, "meta/read", {"a": "2"})
    meta = kv2_metadata(s, s.root, "meta/read")
    assert meta["current_version"] == 2 and meta["cas_required"] is False, meta
    assert meta["max_versions"] == 0 and meta["delete_version_after"] == "0s", meta
    assert meta["oldest_version"] in (0, 1) and meta["custom_metadata"] is None, meta
    assert meta["created_time"] == w1["created_time"], meta
    assert meta["updated_time"] == w2["created_time"], meta
    assert meta["versions"] == {
        "1": {"created_time": w1["created_time"], "deletion_time": "", "destroyed": False},
        "2": {"created_time": w2["created_time"], "deletion_time": "", "destroyed": False},
    }, meta


def test_metadata_post_and_patch(s):
    kv2_write(s, s.root, "meta/w", {"a": "1"})
    ok(s.post("secret/metadata/meta/w", token=s.root,
              json={"max_versions": 7, "cas_required": True, "delete_version_after": "1h",
                    "custom_metadata": {"owner": "ops", "tier": "1"}}), 204)
    meta = kv2_metadata(s, s.root, "meta/w")
    assert meta["max_versions"] == 7 and meta["cas_required"] is True, meta
    assert meta["delete_version_after"] in ("1h", "1h0m0s", "3600s"), meta
    assert meta["custom_metadata"] == {"owner": "ops", "tier": "1"}, meta
    # custom_metadata shows in every version's metadata.
    assert kv2_read(s, s.root, "meta/w")["metadata"]["custom_metadata"] == \
        {"owner": "ops", "tier": "1"}
    # PATCH merges: only the given fields change; null removes a custom key.
    r = s.request("PATCH", "secret/metadata/meta/w", token=s.root, headers=MERGE_PATCH,
                  json={"custom_metadata": {"tier": None, "team": "a"}, "max_versions": 5})
    ok(r, 204)
    meta = kv2_metadata(s, s.root, "meta/w")
    assert meta["custom_metadata"] == {"owner": "ops", "team": "a"}, meta
    assert meta["max_versions"] == 5 and meta["cas_required"] is True, meta
    assert meta["delete_version_after"] in ("1h", "1h0m0s", "3600s"), meta
    r = s.request("PATCH", "secret/metadata/meta/w", token=s.root,
                  json={"custom_metadata": {"x": "y"}})
    assert_error(r, 415, PATCH_TYPE)
    r = s.request("PATCH", "secret/metadata/meta/nosuch", token=s.root, headers=MERGE_PATCH,
                  json={"max_versions": 1})
    assert_error(r, 404, [])
    assert_plain_404(s.get("secret/metadata/meta/nosuch", token=s.root))
    # POST replaces custom_metadata as a whole; settings not given are kept.
    ok(s.post("secret/metadata/meta/w", token=s.root,
              json={"custom_metadata": {"only": "this"}, "cas_required": False}), 204)
    meta = kv2_metadata(s, s.root, "meta/w")
    assert meta["custom_metadata"] == {"only": "this"} and meta["cas_required"] is False, meta
    assert meta["max_versions"] == 5, meta
    # Metadata can be made before any version exists.
    ok(s.post("secret/metadata/meta/pre", token=s.root, json={"max_versions": 2}), 204)
    pre = kv2_metadata(s, s.root, "meta/pre")
    assert pre["current_version"] == 0 and pre["versions"] == {} and pre["max_versions"] == 2
    assert_plain_404(s.get("secret/data/meta/pre", token=s.root))
    assert kv2_write(s, s.root, "meta/pre", {"a": "1"})["version"] == 1


@pytest.mark.parametrize("custom,message", [
    ({"k": 1}, 'custom_metadata value of key "k" must be a string'),
    ({"j": ["x"]}, 'custom_metadata value of key "j" must be a string'),
    ({"": "empty key"}, "custom_metadata keys must be 1 to 128 bytes long (0 given)"),
    ({f"k{i}": "v" for i in range(65)}, "custom_metadata has 65 keys; at most 64 are allowed"),
    ({"k" * 129: "v"}, "custom_metadata keys must be 1 to 128 bytes long (129 given)"),
    ({"k": "v" * 513}, 'custom_metadata value of key "k" is longer than 512 bytes'),
    ("not-an-object", "custom_metadata must be an object of strings"),
])
def test_custom_metadata_limits_are_400(s, custom, message):
    kv2_write(s, s.root, "meta/limits", {"a": "1"})
    ok(s.post("secret/metadata/meta/limits", token=s.root,
              json={"custom_metadata": {"good": "1"}}), 204)
    assert_error(s.post("secret/metadata/meta/limits", token=s.root,
                        json={"custom_metadata": custom}), 400, message)
    assert kv2_metadata(s, s.root, "meta/limits")["custom_metadata"] == {"good": "1"}


def test_custom_metadata_at_the_limits_is_accepted(s):
    kv2_write(s, s.root, "meta/edge", {"a": "1"})
    big = {f"k{i:02d}": "v" for i in range(63)}
    big["k" * 128] = "v" * 512
    ok(s.post("secret/metadata/meta/edge", token=s.root, json={"custom_metadata": big}), 204)
    assert kv2_metadata(s, s.root, "meta/edge")["custom_metadata"] == big


def test_metadata_settings_are_validated(s):
    kv2_write(s, s.root, "meta/bad", {"a": "1"})
    for body, message in (({"max_versions": -1}, MAX_VERSIONS),
                          ({"max_versions": "x"}, MAX_VERSIONS),
                          ({"cas_required": "maybe"}, CAS_BOOL),
                          ({"delete_version_after": "soon"}, DVA_DURATION)):
        assert_error(s.post("secret/metadata/meta/bad", token=s.root, json=body), 400, message)
    meta = kv2_metadata(s, s.root, "meta/bad")
    assert meta["max_versions"] == 0 and meta["cas_required"] is False, meta


def test_delete_metadata_removes_all_versions(s):
    for i in range(3):
        kv2_write(s, s.root, "meta/gone", {"i": str(i)})
    ok(s.post("secret/metadata/meta/gone", token=s.root, json={"custom_metadata": {"a": "b"}}), 204)
    assert ok(s.request("DELETE", "secret/metadata/meta/gone", token=s.root), 204) is None
    assert_plain_404(s.get("secret/metadata/meta/gone", token=s.root))
    for v in (None, 1, 2, 3):
        params = {"version": v} if v else None
        assert_plain_404(s.get("secret/data/meta/gone", token=s.root, params=params))
    assert "gone" not in (kv_list(s, s.root, "secret/metadata/meta").json().get("data") or
                          {}).get("keys", [])
    # A new write starts over at version 1 with fresh metadata.
    assert kv2_write(s, s.root, "meta/gone", {"new": "1"})["version"] == 1
    meta = kv2_metadata(s, s.root, "meta/gone")
    assert meta["custom_metadata"] is None and list(meta["versions"]) == ["1"], meta
    ok(s.request("DELETE", "secret/metadata/meta/never", token=s.root), 204)


# --- config -------------------------------------------------------------------------------------

def test_config_read_and_write(s, kvm):
    cfg = ok(s.get(f"{kvm}/config", token=s.root))
    assert list(cfg.keys()) == ENVELOPE_KEYS
    assert cfg["data"] == {"max_versions": 0, "cas_required": False,
                           "delete_version_after": "0s"}, cfg
    ok(s.post(f"{kvm}/config", token=s.root,
              json={"max_versions": 4, "cas_required": True, "delete_version_after": "30m"}), 204)
    data = ok(s.get(f"{kvm}/config", token=s.root))["data"]
    assert data["max_versions"] == 4 and data["cas_required"] is True, data
    assert data["delete_version_after"] in ("30m", "30m0s", "1800s"), data
    # Only the fields given change.
    ok(s.put(f"{kvm}/config", token=s.root, json={"cas_required": False}), 204)
    data = ok(s.get(f"{kvm}/config", token=s.root))["data"]
    assert data["max_versions"] == 4 and data["cas_required"] is False, data
    for body, message in (({"max_versions": -2}, MAX_VERSIONS), ({"cas_required": 3}, CAS_BOOL),
                          ({"delete_version_after": "x"}, DVA_DURATION)):
        assert_error(s.post(f"{kvm}/config", token=s.root, json=body), 400, message)
    assert ok(s.get(f"{kvm}/config", token=s.root))["data"] == data
    # secret/'s config is its own.
    assert ok(s.get("secret/config", token=s.root))["data"]["max_versions"] == 0


def test_max_versions_zero_means_ten(s, kvm):
    ok(s.post(f"{kvm}/config", token=s.root, json={"max_versions": 0}), 204)
    for i in range(1, 13):
        assert kv2_write(s, s.root, "ten", {"i": str(i)}, mount=kvm)["version"] == i
    meta = kv2_metadata(s, s.root, "ten", mount=kvm)
    assert sorted(meta["versions"], key=int) == [str(v) for v in range(3, 13)], meta
    assert meta["oldest_version"] == 3 and meta["current_version"] == 12, meta
    assert_plain_404(s.get(f"{kvm}/data/ten", token=s.root, params={"version": 2}))
    assert kv2_read(s, s.root, "ten", version=3, mount=kvm)["data"] == {"i": "3"}


def test_mount_config_cas_required(s, kvm):
    ok(s.post(f"{kvm}/config", token=s.root, json={"cas_required": True}), 204)
    r = s.post(f"{kvm}/data/c", token=s.root, json={"data": {"a": "1"}})
    assert_error(r, 400, CAS_REQUIRED)
    assert_plain_404(s.get(f"{kvm}/data/c", token=s.root))
    assert kv2_write(s, s.root, "c", {"a": "1"}, cas=0, mount=kvm)["version"] == 1
    r = kv2_patch(s, s.root, "c", {"b": "2"}, mount=kvm)
    assert_error(r, 400, CAS_REQUIRED)
    assert ok(kv2_patch(s, s.root, "c", {"b": "2"}, mount=kvm, cas=1))["data"]["version"] == 2
    # Key metadata cas_required=false does not lift the mount's requirement.
    ok(s.post(f"{kvm}/metadata/c", token=s.root, json={"cas_required": False}), 204)
    assert_error(s.post(f"{kvm}/data/c", token=s.root, json={"data": {"a": "3"}}), 400,
                 CAS_REQUIRED)


def test_mount_config_delete_version_after_applies_to_new_versions(s, kvm):
    ok(s.post(f"{kvm}/config", token=s.root, json={"delete_version_after": "1h"}), 204)
    w = kv2_write(s, s.root, "dva", {"a": "1"}, mount=kvm)
    assert abs(kv_time(w["deletion_time"]) - kv_time(w["created_time"]) - 3600) < 1, w
    assert kv2_read(s, s.root, "dva", mount=kvm)["data"] == {"a": "1"}  # not yet


def test_effective_max_versions_is_the_larger_of_key_and_mount(s, kvm):
    ok(s.post(f"{kvm}/config", token=s.root, json={"max_versions": 4}), 204)
    ok(s.post(f"{kvm}/metadata/k", token=s.root, json={"max_versions": 2}), 204)
    for i in range(1, 7):
        kv2_write(s, s.root, "k", {"i": str(i)}, mount=kvm)
    meta = kv2_metadata(s, s.root, "k", mount=kvm)
    assert sorted(meta["versions"], key=int) == ["3", "4", "5", "6"], meta
    assert meta["oldest_version"] == 3, meta


# --- check-and-set ---------------------------------------------------------------------------

def test_cas_every_case(s):
    # cas=0 on an absent key writes version 1.
    assert kv2_write(s, s.root, "cas/a", {"v": "1"}, cas=0)["version"] == 1
    # cas=0 on an existing key is a mismatch.
    r = s.post("secret/data/cas/a", token=s.root, json={"data": {"v": "x"}, "options": {"cas": 0}})
    assert_error(r, 400, CAS_MISMATCH)
    # cas=current writes.
    assert kv2_write(s, s.root, "cas/a", {"v": "2"}, cas=1)["version"] == 2
    # cas=stale (and cas=future) are mismatches.
    for stale in (1, 3, 42):
        r = s.post("secret/data/cas/a", token=s.root,
                   json={"data": {"v": "x"}, "options": {"cas": stale}})
        assert_error(r, 400, CAS_MISMATCH)
    got = kv2_read(s, s.root, "cas/a")
    assert got["data"] == {"v": "2"} and got["metadata"]["version"] == 2, got
    # No cas and no requirement: any write goes.
    assert kv2_write(s, s.root, "cas/a", {"v": "3"})["version"] == 3
    # cas on an absent key other than 0 is a mismatch.
    r = s.post("secret/data/cas/absent", token=s.root,
               json={"data": {"v": "1"}, "options": {"cas": 1}})
    assert_error(r, 400, CAS_MISMATCH)
    assert_plain_404(s.get("secret/data/cas/absent", token=s.root))


def test_concurrent_cas_writes_have_one_winner(s):
    kv2_write(s, s.root, "cas/race", {"v": "0"})
    results = []

    # One requests.Session is not thread-safe: each thread gets its own.
    def attempt_own_session(i):
        with requests.Session() as sess:
            sess.trust_env = False
            r = sess.post(f"{s.url}/v1/secret/data/cas/race", headers={"X-Vault-Token": s.root},
                          json={"data": {"v": str(i)}, "options": {"cas": 1}}, timeout=30)
            results.append((r.status_code, r.json()))

    threads = [threading.Thread(target=attempt_own_session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [body for status, body in results if status == 200]
    assert len(winners) == 1, results
    assert winners[0]["data"]["version"] == 2, winners
    # Which write wins is a race; every other one is the same 400.
    assert all(status == 400 and body == {"errors": [CAS_MISMATCH]}
               for status, body in results if status != 200), results
    meta = kv2_metadata(s, s.root, "cas/race")
    assert meta["current_version"] == 2 and sorted(meta["versions"]) == ["1", "2"], meta


def test_key_metadata_cas_required(s):
    kv2_write(s, s.root, "cas/req", {"v": "1"})
    ok(s.post("secret/metadata/cas/req", token=s.root, json={"cas_required": True}), 204)
    r = s.post("secret/data/cas/req", token=s.root, json={"data": {"v": "2"}})
    assert_error(r, 400, CAS_REQUIRED)
    r = s.post("secret/data/cas/req", token=s.root, json={"data": {"v": "2"}, "options": {}})
    assert_error(r, 400, CAS_REQUIRED)
    assert_error(s.post("secret/data/cas/req", token=s.root,
                        json={"data": {"v": "2"}, "options": {"cas": 0}}), 400, CAS_MISMATCH)
    assert kv2_write(s, s.root, "cas/req", {"v": "2"}, cas=1)["version"] == 2
    assert kv2_read(s, s.root, "cas/req")["data"] == {"v": "2"}
    # Metadata made first, with cas_required: the first write needs cas=0.
    ok(s.post("secret/metadata/cas/req0", token=s.root, json={"cas_required": True}), 204)
    assert_error(s.post("secret/data/cas/req0", token=s.root, json={"data": {"v": "1"}}), 400,
                 CAS_REQUIRED)
    assert kv2_write(s, s.root, "cas/req0", {"v": "1"}, cas=0)["version"] == 1


# --- pruning and delete_version_after ----------------------------------------------------------

def test_versions_beyond_max_versions_are_removed(s):
    ok(s.post("secret/metadata/prune/a", token=s.root, json={"max_versions": 3}), 204)
    for i in range(1, 6):
        kv2_write(s, s.root, "prune/a", {"i": str(i)})
    meta = kv2_metadata(s, s.root, "prune/a")
    assert sorted(meta["versions"], key=int) == ["3", "4", "5"], meta
    assert meta["oldest_version"] == 3 and meta["current_version"] == 5, meta
    for v in (1, 2):
        assert_plain_404(s.get("secret/data/prune/a", token=s.root, params={"version": v}))
    assert kv2_read(s, s.root, "prune/a", version=3)["data"] == {"i": "3"}
    # Lowering max_versions prunes at once.
    ok(s.post("secret/metadata/prune/a", token=s.root, json={"max_versions": 1}), 204)
    meta = kv2_metadata(s, s.root, "prune/a")
    assert list(meta["versions"]) == ["5"] and meta["oldest_version"] == 5, meta
    assert_plain_404(s.get("secret/data/prune/a", token=s.root, params={"version": 4}))
    assert kv2_read(s, s.root, "prune/a")["data"] == {"i": "5"}


def test_delete_version_after_on_a_key(s):
    ok(s.post("secret/metadata/dva/a", token=s.root, json={"delete_version_after": "2s"}), 204)
    assert kv2_metadata(s, s.root, "dva/a")["delete_version_after"] == "2s"
    w = kv2_write(s, s.root, "dva/a", {"short": "lived"})
    written = time.monotonic()
    due = kv_time(w["deletion_time"])
    assert abs(due - kv_time(w["created_time"]) - 2.0) < 0.01, w
    got = kv2_read(s, s.root, "dva/a")  # before it is due: readable, deletion scheduled
    assert got["data"] == {"short": "lived"}, got
    assert got["metadata"]["deletion_time"] == w["deletion_time"], got
    # Time passing is the point here: poll until the version is due (at most ~2 s plus slack).
    # (A requests.Response of a 404 is falsy: wrap it for wait_for.)
    found = wait_for(lambda: (lambda r: [r] if r.status_code == 404 else None)(
        s.get("secret/data/dva/a", token=s.root)), 6, interval_s=0.1)
    assert found, "the version was still readable 6 s after a 2 s delete_version_after"
    r = found[0]
    assert time.monotonic() - written >= 1.9
    md = assert_enveloped_404(r)
    assert md["deletion_time"] != "" and md["deletion_time"] == w["deletion_time"], md
    assert md["destroyed"] is False and md["version"] == 1, md
    assert_error(kv2_patch(s, s.root, "dva/a", {"x": "y"}), 404, [])
    # Undelete brings it back for good (the scheduled deletion is cancelled).
    ok(s.post("secret/undelete/dva/a", token=s.root, json={"versions": [1]}), 204)
    back = kv2_read(s, s.root, "dva/a")
    assert back["data"] == {"short": "lived"} and back["metadata"]["deletion_time"] == "", back


# --- ACL paths include the engine segment -------------------------------------------------------

def test_acl_paths_include_the_engine_segment(s):
    put_policy(s, s.root, "kv-app-read",
               'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n')
    put_policy(s, s.root, "kv-lister",
               'path "secret/metadata/*" {\n  capabilities = ["list"]\n}\n')
    kv2_write(s, s.root, "app/db", {"password": "pw"})
    kv2_write(s, s.root, "other", {"x": "1"})
    reader = create_token(s, s.root, policies=["kv-app-read"])["auth"]["client_token"]
    lister = create_token(s, s.root, policies=["kv-lister"])["auth"]["client_token"]

    assert kv2_read(s, reader, "app/db")["data"] == {"password": "pw"}
    assert kv2_read(s, reader, "app/db", version=1)["data"] == {"password": "pw"}
    assert_denied(s.get("secret/metadata/app/db", token=reader))
    assert_denied(s.get("secret/data/other", token=reader))
    assert_denied(s.get("secret/subkeys/app/db", token=reader))
    assert_denied(kv_list(s, reader, "secret/metadata/app"))
    assert_denied(s.post("secret/data/app/db", token=reader, json={"data": {"password": "x"}}))
    assert_denied(s.request("DELETE", "secret/data/app/db", token=reader))
    assert_denied(s.post("secret/destroy/app/db", token=reader, json={"versions": [1]}))
    assert_denied(kv2_patch(s, reader, "app/db", {"password": "x"}))
    # The ACL path is secret/data/app/db: secret/app/db is no KV v2 route (nor granted); the
    # route is looked up first, so the answer is 404, not 403.
    r = s.get("secret/app/db", token=reader)
    assert_error(r, 404, "unsupported path")
    assert "data" not in r.json(), r.text

    out = ok(kv_list(s, lister, "secret/metadata/"))
    assert {"app/", "other"} <= set(out["data"]["keys"]), out
    assert ok(kv_list(s, lister, "secret/metadata/app"))["data"]["keys"] == ["db"]
    assert_denied(s.get("secret/metadata/app/db", token=lister))
    assert_denied(s.get("secret/data/app/db", token=lister))
    assert kv2_read(s, s.root, "app/db")["metadata"]["version"] == 1
