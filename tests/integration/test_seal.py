# SPDX-License-Identifier: Apache-2.0
"""Seal, unseal, status, health, leader, key-status and rotation against the real cofferd."""
import base64

import requests

from conftest import TEST_STORAGE, TOKEN_RE, UUID_RE, assert_error

SEAL_STATUS_KEYS = {"type", "initialized", "sealed", "t", "n", "progress", "nonce", "version",
                    "storage_type"}
HEALTH_KEYS = {"initialized", "sealed", "standby", "server_time_utc", "version", "cluster_name",
               "cluster_id"}
SEALED = "Vault is sealed"
NOT_INITIALIZED = "Vault is not initialized"
BAD_SHARE = "invalid key: invalid unseal key share"


def corrupt(share_hex):
    """The same share with its middle bytes flipped: right length, same x coordinate
    (whichever end holds it), wrong value."""
    raw = bytearray(bytes.fromhex(share_hex))
    for i in range(1, len(raw) - 1):
        raw[i] ^= 0x5A
    return bytes(raw).hex()


def test_init_returns_shares_and_root_token_and_leaves_vault_sealed(cofferd):
    assert cofferd.get("sys/init").json() == {"initialized": False}
    init = cofferd.init(5, 3)
    for hex_key, b64_key in zip(init["keys"], init["keys_base64"]):
        raw = bytes.fromhex(hex_key)
        assert base64.b64decode(b64_key) == raw
        assert len(raw) >= 17
    assert len(set(init["keys"])) == 5
    assert TOKEN_RE.match(init["root_token"])
    assert cofferd.get("sys/init").json() == {"initialized": True}
    status = cofferd.seal_status()
    assert status["initialized"] is True and status["sealed"] is True
    assert (status["t"], status["n"], status["progress"]) == (3, 5, 0)


def test_unseal_with_mixed_hex_and_base64_shares_shows_progress(cofferd):
    init = cofferd.init(5, 3)
    steps = [init["keys"][0], init["keys_base64"][2], init["keys"][4]]
    r = cofferd.put("sys/unseal", json={"key": steps[0]})
    assert r.status_code == 200, r.text
    assert r.json()["sealed"] is True and r.json()["progress"] == 1
    assert cofferd.seal_status()["progress"] == 1
    r = cofferd.put("sys/unseal", json={"key": steps[1]})
    assert r.json()["sealed"] is True and r.json()["progress"] == 2
    r = cofferd.post("sys/unseal", json={"key": steps[2]})
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["sealed"] is False and status["progress"] == 0
    assert SEAL_STATUS_KEYS <= status.keys()
    assert cofferd.key_status(init["root_token"])["term"] == 1


def test_unseal_rejects_wrong_share_set_and_stays_sealed(cofferd):
    init = cofferd.init(5, 3)
    keys = init["keys"]
    cofferd.put("sys/unseal", json={"key": keys[0]})
    cofferd.put("sys/unseal", json={"key": keys[1]})
    r = cofferd.put("sys/unseal", json={"key": corrupt(keys[2])})
    assert_error(r, 400, BAD_SHARE)
    status = cofferd.seal_status()
    assert status["sealed"] is True and status["progress"] == 0
    assert_error(cofferd.get("sys/key-status", token=init["root_token"]), 503, SEALED)
    # The failed attempt left nothing behind: the right shares still work.
    cofferd.unseal(keys[2:5])


def test_unseal_refuses_a_duplicate_share_and_keeps_progress(cofferd):
    init = cofferd.init(5, 3)
    keys = init["keys"]
    assert cofferd.put("sys/unseal", json={"key": keys[0]}).json()["progress"] == 1
    # The same share again, hex or base64: a 400 that says so, and the progress stays.
    for same in [keys[0], init["keys_base64"][0]]:
        r = cofferd.put("sys/unseal", json={"key": same})
        assert_error(r, 400, "invalid key: this share was already submitted (progress 1 of 3)")
    status = cofferd.seal_status()
    assert status["sealed"] is True and status["progress"] == 1
    cofferd.unseal(keys[1:3])
    assert cofferd.seal_status()["sealed"] is False


def test_unseal_rejects_malformed_keys(cofferd):
    init = cofferd.init(3, 2)
    for bad in ["zz-not-a-key", "abcd", "", "0" * 1000]:
        assert_error(cofferd.put("sys/unseal", json={"key": bad}), 400, BAD_SHARE)
    for bad in [42, ["x"]]:
        assert_error(cofferd.put("sys/unseal", json={"key": bad}), 400,
                     "key must be a string and reset a boolean")
    assert_error(cofferd.put("sys/unseal", json={}), 400,
                 "'key' must be specified in request body as JSON, or 'reset' set to true")
    status = cofferd.seal_status()
    assert status["sealed"] is True
    cofferd.unseal(init["keys"][:2])


def test_unseal_reset_clears_progress(cofferd):
    init = cofferd.init(5, 3)
    r = cofferd.put("sys/unseal", json={"key": init["keys"][0]})
    assert r.json()["progress"] == 1
    r = cofferd.put("sys/unseal", json={"reset": True})
    assert r.status_code == 200, r.text
    assert r.json()["progress"] == 0 and r.json()["sealed"] is True
    # After a reset, two more shares are not enough: the first one was forgotten.
    cofferd.put("sys/unseal", json={"key": init["keys"][1]})
    r = cofferd.put("sys/unseal", json={"key": init["keys"][2]})
    assert r.json()["sealed"] is True and r.json()["progress"] == 2
    cofferd.unseal(init["keys"][3:4])


def test_restart_comes_back_sealed_and_keeps_rotations(cofferd):
    init = cofferd.init(5, 3)
    token = init["root_token"]
    cofferd.unseal(init["keys"][:3])
    assert cofferd.put("sys/rotate", token=token).status_code == 204
    assert cofferd.key_status(token)["term"] == 2
    cofferd.restart()
    status = cofferd.seal_status()
    assert status["initialized"] is True and status["sealed"] is True
    assert (status["t"], status["n"]) == (3, 5)
    assert_error(cofferd.get("sys/key-status", token=token), 503, SEALED)
    cofferd.unseal(init["keys_base64"][2:5])
    assert cofferd.key_status(token)["term"] == 2


def test_seal_makes_data_routes_answer_503(unsealed):
    s, token = unsealed.server, unsealed.root_token
    assert s.key_status(token)["term"] == 1
    r = s.put("sys/seal", token=token)
    assert r.status_code == 204, r.text
    assert s.seal_status()["sealed"] is True
    assert_error(s.get("sys/key-status", token=token), 503, SEALED)
    assert_error(s.put("sys/rotate", token=token), 503, SEALED)
    assert s.get("sys/health").status_code == 503
    s.unseal(unsealed.keys)
    assert s.key_status(token)["term"] == 1


def test_seal_requires_root_token(unsealed):
    s = unsealed.server
    for token in (None, "cof." + "A" * 43, "garbage"):
        assert_error(s.put("sys/seal", token=token), 403, "permission denied")
    assert s.seal_status()["sealed"] is False


def test_data_routes_answer_501_before_init(cofferd):
    assert_error(cofferd.get("sys/key-status", token="cof." + "A" * 43), 501, NOT_INITIALIZED)
    assert_error(cofferd.put("sys/rotate", token="cof." + "A" * 43), 501, NOT_INITIALIZED)


def test_health_codes_follow_init_and_seal_state(cofferd):
    def health(query="", method="GET"):
        return requests.request(method, f"{cofferd.url}/v1/sys/health{query}", timeout=10,
                                headers={"Connection": "close"})

    assert health().status_code == 501
    assert health(method="HEAD").status_code == 501
    assert health("?uninitcode=204").status_code == 204
    body = health().json()
    assert HEALTH_KEYS <= body.keys() and body["initialized"] is False

    init = cofferd.init(1, 1)
    assert health().status_code == 503
    assert health(method="HEAD").status_code == 503
    assert health("?sealedcode=299").status_code == 299
    body = health().json()
    assert body["initialized"] is True and body["sealed"] is True

    cofferd.unseal(init["keys"])
    r = health()
    assert r.status_code == 200
    assert r.headers.get("Content-Type") == "application/json"
    body = r.json()
    assert HEALTH_KEYS <= body.keys()
    assert body["sealed"] is False and body["standby"] is False
    assert isinstance(body["server_time_utc"], int) and body["server_time_utc"] > 1_600_000_000
    assert body["version"]
    r = health(method="HEAD")
    assert r.status_code == 200 and r.content == b""
    assert health("?activecode=299").status_code == 299
    assert health("?standbyok=true").status_code == 200
    assert health("?sealedcode=299&uninitcode=204").status_code == 200


def test_seal_status_shape(cofferd):
    status = cofferd.seal_status()
    assert status["initialized"] is False and status["sealed"] is True
    init = cofferd.init(3, 2)
    status = cofferd.seal_status()
    assert SEAL_STATUS_KEYS <= status.keys(), status
    assert status["type"] == "shamir"
    assert status["storage_type"] == TEST_STORAGE
    assert isinstance(status["nonce"], str) and isinstance(status["version"], str)
    cofferd.unseal(init["keys"][:2])
    status = cofferd.seal_status()
    assert SEAL_STATUS_KEYS | {"cluster_name", "cluster_id"} <= status.keys(), status
    assert status["sealed"] is False and status["progress"] == 0
    assert status["cluster_name"] and status["cluster_id"]


def test_key_status_is_enveloped_with_top_level_copies(unsealed):
    s, token = unsealed.server, unsealed.root_token
    r = s.get("sys/key-status", token=token)
    assert r.status_code == 200 and r.headers.get("Content-Type") == "application/json"
    body = r.json()
    assert UUID_RE.match(body["request_id"]), body
    assert body["lease_id"] == "" and body["renewable"] is False and body["lease_duration"] == 0
    assert body["wrap_info"] is None and body["auth"] is None
    data = body["data"]
    assert data["term"] == 1
    assert isinstance(data["install_time"], str) and data["install_time"]
    assert isinstance(data["encryptions"], int) and data["encryptions"] >= 0
    for key in ("term", "install_time", "encryptions"):
        assert body[key] == data[key]
    # The same through Authorization: Bearer, and nothing without a token.
    r = s.get("sys/key-status", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["data"]["term"] == 1
    assert_error(s.get("sys/key-status"), 403, "permission denied")
    assert_error(s.get("sys/key-status", token="cof." + "B" * 43), 403, "permission denied")


def test_rotate_increments_term(unsealed):
    s, token = unsealed.server, unsealed.root_token
    assert s.key_status(token)["term"] == 1
    r = s.put("sys/rotate", token=token)
    assert r.status_code == 204 and r.content == b""
    assert s.key_status(token)["term"] == 2
    r = s.post("sys/rotate", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    assert s.key_status(token)["term"] == 3


def test_rotate_without_valid_token_is_refused(unsealed):
    s, token = unsealed.server, unsealed.root_token
    assert_error(s.put("sys/rotate"), 403, "permission denied")
    assert_error(s.put("sys/rotate", token="cof." + "C" * 43), 403, "permission denied")
    assert_error(s.put("sys/rotate", headers={"Authorization": "Bearer nope"}), 403,
                 "permission denied")
    assert s.key_status(token)["term"] == 1


def test_leader_shape(unsealed):
    r = unsealed.server.get("sys/leader")
    assert r.status_code == 200 and r.headers.get("Content-Type") == "application/json"
    body = r.json()
    assert body["ha_enabled"] is False and body["is_self"] is True
    assert isinstance(body["leader_address"], str)
