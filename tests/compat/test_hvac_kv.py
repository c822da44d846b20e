# SPDX-License-Identifier: Apache-2.0
"""hvac 0.11.2 (Debian's python3-hvac) against cofferd, issue #4: every call of hvac's KV v2 class
(hvac/api/secrets_engines/kv_v2.py), the KV v1 class on a version 1 mount, and the sys mount calls
(enable, list, tune, read tune, disable), as an application would make them. Every call's answer is
checked, not just that it raised nothing."""
import sys

import pytest

if "/usr/lib/python3/dist-packages" not in sys.path:  # Debian's hvac
    sys.path.append("/usr/lib/python3/dist-packages")
from hvac import exceptions  # noqa: E402

from coffer_testlib import KV_TIME_RE, create_token, put_policy  # noqa: E402
from coffer_testlib import hvac_client as client_for, is_204  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def s(module_dev):
    return module_dev


@pytest.fixture
def root(s):
    return client_for(s, s.root)


@pytest.fixture
def kv2(root):
    return root.secrets.kv.v2


def check_version_meta(meta, version, deleted=False, destroyed=False):
    assert meta["version"] == version, meta
    assert KV_TIME_RE.match(meta["created_time"]), meta
    assert meta["destroyed"] is destroyed, meta
    if deleted:
        assert KV_TIME_RE.match(meta["deletion_time"]), meta
    else:
        assert meta["deletion_time"] == "", meta


# --- KV v2 ---------------------------------------------------------------------------------------

def test_configure_and_read_configuration(s, root):
    assert is_204(root.sys.enable_secrets_engine("kv", path="hvac-cfg", options={"version": "2"}))
    kv2 = root.secrets.kv.v2
    assert is_204(kv2.configure(max_versions=5, cas_required=False, delete_version_after="1h",
                                mount_point="hvac-cfg"))
    cfg = kv2.read_configuration(mount_point="hvac-cfg")
    assert cfg["data"]["max_versions"] == 5 and cfg["data"]["cas_required"] is False, cfg
    assert cfg["data"]["delete_version_after"] in ("1h", "1h0m0s"), cfg
    assert is_204(kv2.configure(max_versions=3, cas_required=True, mount_point="hvac-cfg"))
    cfg = kv2.read_configuration(mount_point="hvac-cfg")["data"]
    assert cfg["max_versions"] == 3 and cfg["cas_required"] is True, cfg
    assert cfg["delete_version_after"] == "0s", cfg  # hvac sends "0s" by default
    # cas_required on the mount: a write without cas fails, with cas it works.
    with pytest.raises(exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("x", {"a": "1"}, mount_point="hvac-cfg")
    assert e.value.errors == ["check-and-set parameter required for this call"]
    out = kv2.create_or_update_secret("x", {"a": "1"}, cas=0, mount_point="hvac-cfg")
    assert out["data"]["version"] == 1
    # The default mount answers too.
    assert root.secrets.kv.v2.read_configuration()["data"]["cas_required"] is False


def test_create_or_update_and_read_secret_version(kv2):
    out = kv2.create_or_update_secret("hvac/app", {"user": "alice", "n": 1})
    check_version_meta(out["data"], 1)
    assert out["data"]["custom_metadata"] is None
    out = kv2.create_or_update_secret("hvac/app", {"user": "bob"}, cas=1)
    check_version_meta(out["data"], 2)
    latest = kv2.read_secret_version("hvac/app")
    assert latest["data"]["data"] == {"user": "bob"}, latest
    check_version_meta(latest["data"]["metadata"], 2)
    first = kv2.read_secret_version("hvac/app", version=1)
    assert first["data"]["data"] == {"user": "alice", "n": 1}, first
    check_version_meta(first["data"]["metadata"], 1)
    assert kv2.read_secret("hvac/app")["data"]["data"] == {"user": "bob"}  # the alias
    # The kv wrapper's default version is 2.
    assert kv2.read_secret_version(path="hvac/app")["data"]["metadata"]["version"] == 2
    with pytest.raises(exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("hvac/app", {"user": "eve"}, cas=1)
    assert e.value.errors == ["check-and-set parameter did not match the current version"]
    with pytest.raises(exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("hvac/app", {"user": "eve"}, cas=0)
    assert e.value.errors == ["check-and-set parameter did not match the current version"]
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_version("hvac/app", version=9)
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_version("hvac/nosuch")


def test_patch_reads_then_writes_with_cas(kv2):
    # hvac 0.11.2's patch is a read, a dict update and a write with cas=<read version>.
    kv2.create_or_update_secret("hvac/patch", {"keep": "1", "change": "old"})
    out = kv2.patch("hvac/patch", {"change": "new", "add": "x"})
    check_version_meta(out["data"], 2)
    got = kv2.read_secret_version("hvac/patch")["data"]
    assert got["data"] == {"keep": "1", "change": "new", "add": "x"}, got
    with pytest.raises(exceptions.InvalidPath):
        kv2.patch("hvac/patch-missing", {"a": "1"})
    kv2.delete_latest_version_of_secret("hvac/patch")
    with pytest.raises(exceptions.InvalidPath):
        kv2.patch("hvac/patch", {"a": "1"})


def test_delete_latest_undelete_delete_destroy(kv2):
    for i in range(1, 4):
        kv2.create_or_update_secret("hvac/del", {"i": str(i)})
    assert is_204(kv2.delete_latest_version_of_secret("hvac/del"))
    with pytest.raises(exceptions.InvalidPath):  # the 404 with the envelope
        kv2.read_secret_version("hvac/del")
    assert kv2.read_secret_version("hvac/del", version=2)["data"]["data"] == {"i": "2"}
    meta = kv2.read_secret_metadata("hvac/del")["data"]
    assert KV_TIME_RE.match(meta["versions"]["3"]["deletion_time"]), meta

    assert is_204(kv2.undelete_secret_versions("hvac/del", versions=[3]))
    got = kv2.read_secret_version("hvac/del")["data"]
    assert got["data"] == {"i": "3"}, got
    check_version_meta(got["metadata"], 3)

    assert is_204(kv2.delete_secret_versions("hvac/del", versions=[1, 2]))
    for v in (1, 2):
        with pytest.raises(exceptions.InvalidPath):
            kv2.read_secret_version("hvac/del", version=v)
    assert is_204(kv2.destroy_secret_versions("hvac/del", versions=[2]))
    assert is_204(kv2.undelete_secret_versions("hvac/del", versions=[1, 2]))
    assert kv2.read_secret_version("hvac/del", version=1)["data"]["data"] == {"i": "1"}
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_version("hvac/del", version=2)
    versions = kv2.read_secret_metadata("hvac/del")["data"]["versions"]
    assert versions["2"]["destroyed"] is True and versions["1"]["destroyed"] is False, versions
    assert versions["1"]["deletion_time"] == "" and versions["3"]["deletion_time"] == ""
    # hvac checks versions itself (a non-empty list); the server's 400 is in test_kv.py.
    with pytest.raises(exceptions.ParamValidationError):
        kv2.delete_secret_versions("hvac/del", versions=[])
    with pytest.raises(exceptions.ParamValidationError):
        kv2.destroy_secret_versions("hvac/del", versions=2)


def test_list_secrets(kv2):
    for p in ("hvac-list/a", "hvac-list/b", "hvac-list/dir/c"):
        kv2.create_or_update_secret(p, {"v": "1"})
    assert kv2.list_secrets("hvac-list")["data"]["keys"] == ["a", "b", "dir/"]
    assert kv2.list_secrets("hvac-list/dir")["data"]["keys"] == ["c"]
    with pytest.raises(exceptions.InvalidPath):
        kv2.list_secrets("hvac-list/nothing")


def test_read_and_update_metadata_then_delete_all(kv2):
    w1 = kv2.create_or_update_secret("hvac/meta", {"v": "1"})["data"]
    w2 = kv2.create_or_update_secret("hvac/meta", {"v": "2"})["data"]
    meta = kv2.read_secret_metadata("hvac/meta")["data"]
    assert meta["current_version"] == 2 and meta["max_versions"] == 0, meta
    assert meta["created_time"] == w1["created_time"], meta
    assert meta["updated_time"] == w2["created_time"], meta
    assert sorted(meta["versions"]) == ["1", "2"], meta

    assert is_204(kv2.update_metadata("hvac/meta", max_versions=2, cas_required=True,
                                      delete_version_after="30m"))
    meta = kv2.read_secret_metadata("hvac/meta")["data"]
    assert meta["max_versions"] == 2 and meta["cas_required"] is True, meta
    assert meta["delete_version_after"] in ("30m", "30m0s"), meta
    with pytest.raises(exceptions.InvalidRequest) as e:
        kv2.create_or_update_secret("hvac/meta", {"v": "3"})
    assert e.value.errors == ["check-and-set parameter required for this call"]
    kv2.create_or_update_secret("hvac/meta", {"v": "3"}, cas=2)
    meta = kv2.read_secret_metadata("hvac/meta")["data"]
    assert sorted(meta["versions"]) == ["2", "3"] and meta["oldest_version"] == 2, meta
    assert KV_TIME_RE.match(meta["versions"]["3"]["deletion_time"]), meta  # scheduled
    with pytest.raises(exceptions.ParamValidationError):
        kv2.update_metadata("hvac/meta", cas_required="yes")

    assert is_204(kv2.delete_metadata_and_all_versions("hvac/meta"))
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_metadata("hvac/meta")
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_version("hvac/meta", version=3)
    assert kv2.create_or_update_secret("hvac/meta", {"v": "new"})["data"]["version"] == 1


def test_kv2_acl_through_hvac(s):
    put_policy(s, s.root, "hvac-kv-read",
               'path "secret/data/hvac-acl/*" {\n  capabilities = ["read"]\n}\n'
               'path "secret/metadata/hvac-acl/*" {\n  capabilities = ["list"]\n}\n')
    root = client_for(s, s.root)
    root.secrets.kv.v2.create_or_update_secret("hvac-acl/db", {"pw": "x"})
    token = create_token(s, s.root, policies=["hvac-kv-read"])["auth"]["client_token"]
    kv2 = client_for(s, token).secrets.kv.v2
    assert kv2.read_secret_version("hvac-acl/db")["data"]["data"] == {"pw": "x"}
    assert kv2.list_secrets("hvac-acl/")["data"]["keys"] == ["db"]
    with pytest.raises(exceptions.Forbidden):
        kv2.read_secret_metadata("hvac-acl/db")
    with pytest.raises(exceptions.Forbidden):
        kv2.create_or_update_secret("hvac-acl/db", {"pw": "y"})
    with pytest.raises(exceptions.Forbidden):
        kv2.read_secret_version("other")


# --- KV v1 ---------------------------------------------------------------------------------------

def test_kv_v1_on_a_version_1_mount(root):
    assert is_204(root.sys.enable_secrets_engine("kv", path="hvac-v1", options={"version": "1"}))
    kv1 = root.secrets.kv.v1
    # method=None: hvac reads first to pick POST (absent) or PUT (present).
    assert is_204(kv1.create_or_update_secret("app/db", {"user": "a", "pw": "1"},
                                              mount_point="hvac-v1"))
    got = kv1.read_secret("app/db", mount_point="hvac-v1")
    assert got["data"] == {"user": "a", "pw": "1"}, got
    assert is_204(kv1.create_or_update_secret("app/db", {"user": "b"}, mount_point="hvac-v1"))
    assert kv1.read_secret("app/db", mount_point="hvac-v1")["data"] == {"user": "b"}
    assert is_204(kv1.create_or_update_secret("app/other", {"x": "1"}, method="PUT",
                                              mount_point="hvac-v1"))
    assert is_204(kv1.create_or_update_secret("app/dir/y", {"y": "1"}, method="POST",
                                              mount_point="hvac-v1"))
    assert kv1.list_secrets("app", mount_point="hvac-v1")["data"]["keys"] == \
        ["db", "dir/", "other"]
    assert is_204(kv1.delete_secret("app/db", mount_point="hvac-v1"))
    with pytest.raises(exceptions.InvalidPath):
        kv1.read_secret("app/db", mount_point="hvac-v1")
    assert kv1.list_secrets("app", mount_point="hvac-v1")["data"]["keys"] == ["dir/", "other"]
    with pytest.raises(exceptions.InvalidPath):
        kv1.list_secrets("nothing", mount_point="hvac-v1")
    # The v1 wrapper through client.secrets.kv with default_kv_version 1.
    root.secrets.kv.default_kv_version = 1
    assert root.secrets.kv.read_secret("app/other", mount_point="hvac-v1")["data"] == {"x": "1"}


# --- sys mounts ----------------------------------------------------------------------------------

def test_sys_mount_calls(root):
    assert is_204(root.sys.enable_secrets_engine(
        "kv", path="hvac-mnt", description="from hvac", options={"version": "2"},
        config={"default_lease_ttl": "1h", "max_lease_ttl": "2h"}))
    mounts = root.sys.list_mounted_secrets_engines()
    entry = mounts["data"]["hvac-mnt/"]
    assert mounts["hvac-mnt/"] == entry, "legacy top-level copy"
    assert entry["type"] == "kv" and entry["description"] == "from hvac", entry
    assert entry["options"]["version"] == "2", entry
    assert entry["config"]["default_lease_ttl"] == 3600, entry
    assert entry["config"]["max_lease_ttl"] == 7200, entry
    assert mounts["data"]["secret/"]["options"]["version"] == "2", mounts["data"]
    assert root.sys.retrieve_mount_option("secret", "version") == "2"
    assert root.sys.retrieve_mount_option("hvac-mnt", "version") == "2"

    assert is_204(root.sys.tune_mount_configuration("hvac-mnt", default_lease_ttl="30m",
                                                     max_lease_ttl="3h",
                                                     description="tuned"))
    tune = root.sys.read_mount_configuration("hvac-mnt")
    assert tune["data"]["default_lease_ttl"] == 1800, tune
    assert tune["data"]["max_lease_ttl"] == 10800, tune
    assert tune["data"]["description"] == "tuned", tune
    assert root.sys.list_mounted_secrets_engines()["data"]["hvac-mnt/"]["description"] == "tuned"
    with pytest.raises(exceptions.InvalidRequest):
        root.sys.tune_mount_configuration("hvac-mnt", default_lease_ttl="5h")
    with pytest.raises(exceptions.InvalidRequest):
        root.sys.enable_secrets_engine("kv", path="hvac-mnt")

    kv2 = root.secrets.kv.v2
    kv2.create_or_update_secret("gone", {"v": "1"}, mount_point="hvac-mnt")
    assert is_204(root.sys.disable_secrets_engine("hvac-mnt"))
    assert "hvac-mnt/" not in root.sys.list_mounted_secrets_engines()["data"]
    assert is_204(root.sys.enable_secrets_engine("kv", path="hvac-mnt", options={"version": "2"}))
    with pytest.raises(exceptions.InvalidPath):
        kv2.read_secret_version("gone", mount_point="hvac-mnt")
    # generic is KV v1 (what node-vault mounts).
    assert is_204(root.sys.enable_secrets_engine("generic", path="hvac-gen"))
    assert root.sys.list_mounted_secrets_engines()["data"]["hvac-gen/"]["type"] == "generic"
    assert is_204(root.secrets.kv.v1.create_or_update_secret("k", {"a": "b"}, method="PUT",
                                                             mount_point="hvac-gen"))
    assert root.secrets.kv.v1.read_secret("k", mount_point="hvac-gen")["data"] == {"a": "b"}
    assert is_204(root.sys.disable_secrets_engine("hvac-gen"))
