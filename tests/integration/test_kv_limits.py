# SPDX-License-Identifier: Apache-2.0
"""The per-version size limit of KV (issue #4): configurable with kv_max_value_size, 413 past it,
and nothing is written when it is refused."""
import subprocess

from conftest import assert_error, kv2_write, ok


def test_value_size_limit_is_configurable(cofferd_factory):
    server = cofferd_factory(config_overrides={"kv_max_value_size": 2048})
    init = server.init(1, 1)
    server.unseal(init["keys"])
    root = init["root_token"]
    assert kv2_write(server, root, "small", {"v": "x" * 1000})["version"] == 1
    resp = server.post("secret/data/big", token=root, json={"data": {"v": "x" * 3000}})
    assert_error(resp, 413, "value too large: at most 2048 bytes of JSON per version")
    # Refused means not written: no version exists.
    assert_error(server.get("secret/data/big", token=root), 404, [])
    # A v1 mount has the same limit.
    ok(server.post("sys/mounts/kv1", token=root, json={"type": "kv"}), 204)
    assert_error(server.post("kv1/big", token=root, json={"v": "x" * 3000}), 413,
                 "value too large: at most 2048 bytes of JSON")
    ok(server.post("kv1/small", token=root, json={"v": "x" * 1000}), 204)


def test_bad_limit_is_a_config_error(cofferd_factory):
    server = cofferd_factory(config_overrides={"kv_max_value_size": "big"}, start=False)
    proc = subprocess.run(server.argv(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "kv_max_value_size" in proc.stderr, proc.stderr
