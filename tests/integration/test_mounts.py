# SPDX-License-Identifier: Apache-2.0
"""Secrets mounts (issue #4, API.md sys/mounts and sys/internal/ui/mounts): mount KV v1 and v2,
read and tune (default/max lease TTL, description), unmount — which removes the data, so a remount
at the same path starts empty — the sys/mounts listing (under data and at the top level, as hvac
and node-vault read it) and the Vault CLI's preflight sys/internal/ui/mounts."""
import pytest

from conftest import (ENVELOPE_KEYS, UUID_RE, assert_denied, assert_error, assert_plain_404,
                      create_token, enable_secrets, kv2_read, kv2_write, kv_list, ok)

MOUNT_FIELDS = {"type", "description", "accessor", "uuid", "config", "options", "local",
                "seal_wrap"}


@pytest.fixture(scope="module")
def s(module_dev):
    return module_dev


def mounts(s):
    out = ok(s.get("sys/mounts", token=s.root))
    data = out["data"]
    assert list(out.keys())[:len(ENVELOPE_KEYS)] == ENVELOPE_KEYS, list(out.keys())
    for path, entry in data.items():
        assert out[path] == entry, f"top-level copy of {path!r} differs: {out}"
    return data


def test_sys_mounts_listing_shape(s):
    data = mounts(s)
    sec = data["secret/"]
    assert MOUNT_FIELDS <= set(sec), sec
    assert sec["type"] == "kv" and sec["options"] == {"version": "2"}, sec
    assert UUID_RE.match(sec["uuid"]), sec
    assert isinstance(sec["accessor"], str) and sec["accessor"], sec
    assert set(sec["config"]) >= {"default_lease_ttl", "max_lease_ttl"}, sec
    assert sec["local"] is False and sec["seal_wrap"] is False, sec
    assert all(path.endswith("/") for path in data), data
    # sys/mounts is sudo-free but still needs a token with read on it.
    t = create_token(s, s.root, policies=["default"])["auth"]["client_token"]
    assert_denied(s.get("sys/mounts", token=t))
    assert_denied(s.get("sys/mounts"))


def test_mount_v2_and_v1_then_read_each(s):
    enable_secrets(s, s.root, "m-v2", "kv", version=2, description="two")
    enable_secrets(s, s.root, "m-v1", "kv", version=1, description="one")
    enable_secrets(s, s.root, "m/deep", "kv", options={"version": 2})  # several segments
    data = mounts(s)
    assert data["m-v2/"]["type"] == "kv" and data["m-v2/"]["options"]["version"] == "2", data
    assert data["m-v2/"]["description"] == "two", data
    assert data["m-v1/"]["options"]["version"] == "1" and data["m-v1/"]["description"] == "one"
    assert data["m/deep/"]["options"]["version"] == "2", data
    assert data["m-v2/"]["uuid"] != data["m-v1/"]["uuid"], data
    assert data["m-v2/"]["accessor"] != data["m-v1/"]["accessor"], data
    one = ok(s.get("sys/mounts/m-v2", token=s.root))
    assert one["data"]["type"] == "kv" and one["data"]["uuid"] == data["m-v2/"]["uuid"], one
    # They work as the engines they are.
    assert kv2_write(s, s.root, "x", {"a": "1"}, mount="m-v2")["version"] == 1
    ok(s.post("m-v1/x", token=s.root, json={"a": "1"}), 204)
    assert ok(s.get("m-v1/x", token=s.root))["data"] == {"a": "1"}
    assert kv2_write(s, s.root, "y", {"b": "2"}, mount="m/deep")["version"] == 1
    assert kv2_read(s, s.root, "y", mount="m/deep")["data"] == {"b": "2"}


def test_mount_errors(s):
    enable_secrets(s, s.root, "m-dup", "kv", version=2)
    assert_error(s.post("sys/mounts/m-dup", token=s.root, json={"type": "kv"}), 400,
                 "path is already in use at m-dup/")
    assert_error(s.post("sys/mounts/secret", token=s.root, json={"type": "kv"}), 400,
                 "path is already in use at secret/")
    assert_error(s.post("sys/mounts/m-bad", token=s.root, json={"type": "nosuch"}), 400,
                 "unsupported secrets engine type: nosuch")
    assert_error(s.post("sys/mounts/m-bad", token=s.root, json={}), 400,
                 "type must be given as a string")
    assert_error(s.post("sys/mounts/m-bad", token=s.root,
                        json={"type": "kv", "options": {"version": "3"}}), 400,
                 'options.version must be "1" or "2"')
    assert_error(s.post("sys/mounts/sys", token=s.root, json={"type": "kv"}), 400,
                 "cannot mount at sys/: reserved path or invalid lease TTLs")
    assert "m-bad/" not in mounts(s)
    t = create_token(s, s.root, policies=["default"])["auth"]["client_token"]
    assert_denied(s.post("sys/mounts/m-nope", token=t, json={"type": "kv"}))
    assert_denied(s.request("DELETE", "sys/mounts/m-dup", token=t))
    assert "m-nope/" not in mounts(s) and "m-dup/" in mounts(s)


def test_tune_read_and_write(s):
    enable_secrets(s, s.root, "m-tune", "kv", version=2, description="before")
    tune = ok(s.get("sys/mounts/m-tune/tune", token=s.root))
    assert tune["data"]["description"] == "before", tune
    assert tune["data"]["default_lease_ttl"] > 0 and tune["data"]["max_lease_ttl"] > 0, tune
    assert tune["description"] == "before", "legacy top-level copy"
    ok(s.post("sys/mounts/m-tune/tune", token=s.root,
              json={"default_lease_ttl": "1h", "max_lease_ttl": 7200, "description": "after"}),
       204)
    tune = ok(s.get("sys/mounts/m-tune/tune", token=s.root))["data"]
    assert tune["default_lease_ttl"] == 3600 and tune["max_lease_ttl"] == 7200, tune
    assert tune["description"] == "after", tune
    entry = mounts(s)["m-tune/"]
    assert entry["description"] == "after", entry
    assert entry["config"]["default_lease_ttl"] == 3600, entry
    assert entry["config"]["max_lease_ttl"] == 7200, entry
    # Only the given fields change.
    ok(s.put("sys/mounts/m-tune/tune", token=s.root, json={"description": "again"}), 204)
    tune = ok(s.get("sys/mounts/m-tune/tune", token=s.root))["data"]
    assert tune["default_lease_ttl"] == 3600 and tune["description"] == "again", tune
    # default above max is refused; a bad duration too; a missing mount too.
    assert_error(s.post("sys/mounts/m-tune/tune", token=s.root,
                        json={"default_lease_ttl": "3h"}), 400,
                 "default_lease_ttl must not exceed max_lease_ttl")
    assert_error(s.post("sys/mounts/m-tune/tune", token=s.root,
                        json={"max_lease_ttl": "eventually"}), 400,
                 "lease TTLs must be durations, description a string")
    assert ok(s.get("sys/mounts/m-tune/tune", token=s.root))["data"] == tune
    assert_error(s.post("sys/mounts/m-none/tune", token=s.root, json={"description": "x"}), 400,
                 "no mount at m-none/")
    # (Vault's words for a read of a missing mount's tune.)
    assert_error(s.get("sys/mounts/m-none/tune", token=s.root), 400,
                 'cannot fetch sysview for path "m-none/"')
    # secret/ can be tuned too.
    ok(s.post("sys/mounts/secret/tune", token=s.root, json={"max_lease_ttl": "48h"}), 204)
    assert ok(s.get("sys/mounts/secret/tune", token=s.root))["data"]["max_lease_ttl"] == 172800


@pytest.mark.parametrize("version", [1, 2])
def test_unmount_removes_the_data(s, version):
    m = f"m-gone{version}"
    enable_secrets(s, s.root, m, "kv", version=version)
    if version == 2:
        kv2_write(s, s.root, "app/db", {"pw": "old"}, mount=m)
        ok(s.post(f"{m}/config", token=s.root, json={"max_versions": 3}), 204)
        read = f"{m}/data/app/db"
        listing = f"{m}/metadata/app"
    else:
        ok(s.post(f"{m}/app/db", token=s.root, json={"pw": "old"}), 204)
        read = f"{m}/app/db"
        listing = f"{m}/app"
    assert ok(s.get(read, token=s.root))["data"]
    assert ok(s.request("DELETE", f"sys/mounts/{m}", token=s.root), 204) is None
    assert f"{m}/" not in mounts(s)
    r = s.get(read, token=s.root)
    assert_error(r, 404, "unsupported path")  # no mount there
    assert "data" not in r.json(), r.text
    # Remount at the same path: the old secret is gone.
    enable_secrets(s, s.root, m, "kv", version=version)
    assert_plain_404(s.get(read, token=s.root))
    assert_error(kv_list(s, s.root, listing), 404, [])
    if version == 2:
        cfg = ok(s.get(f"{m}/config", token=s.root))["data"]
        assert cfg["max_versions"] == 0, cfg
        assert_plain_404(s.get(f"{m}/metadata/app/db", token=s.root))
        assert kv2_write(s, s.root, "app/db", {"pw": "new"}, mount=m)["version"] == 1
    # Unmounting what is not mounted succeeds (as in Vault).
    ok(s.request("DELETE", "sys/mounts/m-never-mounted", token=s.root), 204)


def test_unmount_leaves_other_mounts_alone(s):
    enable_secrets(s, s.root, "m-a", "kv", version=2)
    enable_secrets(s, s.root, "m-ab", "kv", version=2)  # a name with m-a as prefix
    kv2_write(s, s.root, "k", {"v": "a"}, mount="m-a")
    kv2_write(s, s.root, "k", {"v": "ab"}, mount="m-ab")
    kv2_write(s, s.root, "m-keep", {"v": "s"})
    ok(s.request("DELETE", "sys/mounts/m-a", token=s.root), 204)
    assert kv2_read(s, s.root, "k", mount="m-ab")["data"] == {"v": "ab"}
    assert kv2_read(s, s.root, "m-keep")["data"] == {"v": "s"}


def test_internal_ui_mounts_finds_the_mount(s):
    out = ok(s.get("sys/internal/ui/mounts/secret/app/db", token=s.root))
    assert list(out.keys()) == ENVELOPE_KEYS, out
    data = out["data"]
    assert data["path"] == "secret/" and data["type"] == "kv", data
    assert data["options"] == {"version": "2"}, data
    assert ok(s.get("sys/internal/ui/mounts/secret", token=s.root))["data"]["path"] == "secret/"
    enable_secrets(s, s.root, "m-ui1", "kv", version=1)
    data = ok(s.get("sys/internal/ui/mounts/m-ui1/x", token=s.root))["data"]
    assert data["path"] == "m-ui1/" and data["options"]["version"] == "1", data
    # No mount there: Vault's 403 and words, even for root (a caller learns nothing of mounts).
    r = s.get("sys/internal/ui/mounts/no-mount-here/x", token=s.root)
    assert_error(r, 403, "preflight capability check returned 403, please ensure client's "
                         "policies grant access to the path")
    assert "data" not in r.json(), r.text


def test_a_mount_path_that_is_not_utf8_is_refused(s):
    # path_normalize() keeps bytes above 0x7f; the mount table is JSON, so such a path is the
    # client's mistake (400), and the table goes on as it was.
    before = mounts(s)
    r = s.post("sys/mounts/bad%FF", token=s.root, json={"type": "kv"})
    assert_error(r, 400)
    assert mounts(s) == before
