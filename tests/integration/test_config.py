# SPDX-License-Identifier: Apache-2.0
"""Config file handling, keyfile auto-unseal, TLS, --dev and JSON logs."""
import json
import os
import re
import subprocess

import pytest
import requests

from conftest import (PG_MODE, TOKEN_RE, assert_denied, b64decode_any, base_config,
                      cofferd_path, free_port, make_cert)


def run_config(tmp_path, config, timeout_s=15):
    """Runs cofferd with a config that must be refused; returns (exit code, stderr)."""
    path = tmp_path / "bad.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    try:
        done = subprocess.run([str(cofferd_path()), "--config", str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout_s, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cofferd accepted the config and kept running: {config}")
    return done.returncode, done.stderr.decode(errors="replace")


def valid_config(tmp_path, **overrides):
    data = tmp_path / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    config = base_config(data, **overrides)
    config["listen"] = f"127.0.0.1:{free_port()}"
    return config


def test_version_prints_a_version():
    done = subprocess.run([str(cofferd_path()), "--version"], capture_output=True, timeout=15,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert re.search(rb"\d+\.\d+\.\d+", done.stdout + done.stderr)


@pytest.mark.parametrize("key", ["listen_address", "storage_path", "Listen", "bogus"])
def test_unknown_config_key_exits_1_naming_it(tmp_path, key):
    config = valid_config(tmp_path)
    config[key] = "x"
    rc, err = run_config(tmp_path, config)
    assert rc == 1, err
    assert key in err, err


def test_unknown_nested_key_exits_1_naming_it(tmp_path):
    config = valid_config(tmp_path)
    config["storage"]["flavour"] = "x"
    rc, err = run_config(tmp_path, config)
    assert rc == 1 and "flavour" in err, err


@pytest.mark.parametrize("key,value,named", [
    ("max_request_size", "x", "max_request_size"),
    ("max_request_size", -5, "max_request_size"),
    ("listen", 5, "listen"),
    ("listen", "not an address", "listen"),
    ("seal", {"type": "nope"}, "seal"),
    ("seal", {"type": "keyfile"}, "seal"),
    ("storage", {"type": "etcd", "path": "/tmp/x"}, "storage"),
    ("disable_mlock", "yes", "disable_mlock"),
    ("idle_timeout", "soon", "idle_timeout"),
    ("log_level", "loud", "log_level"),
    ("log_format", "xml", "log_format"),
])
def test_bad_config_value_exits_1_naming_the_key(tmp_path, key, value, named):
    config = valid_config(tmp_path)
    config[key] = value
    rc, err = run_config(tmp_path, config)
    assert rc == 1, err
    assert named in err, err


@pytest.mark.parametrize("text", ["", "{", "[]", '{"listen": "127.0.0.1:1",}'])
def test_unparsable_config_exits_1(tmp_path, text):
    rc, err = run_config(tmp_path, text)
    assert rc == 1 and err.strip(), err


def test_missing_tls_cert_exits_1(tmp_path):
    config = valid_config(tmp_path, tls_cert_file=str(tmp_path / "nope.pem"),
                          tls_key_file=str(tmp_path / "nope.key"))
    rc, err = run_config(tmp_path, config)
    assert rc == 1, err
    assert "tls_cert_file" in err or "nope.pem" in err, err


def test_keyfile_seal_unseals_automatically_after_restart(cofferd_factory, tmp_path):
    key_path = tmp_path / "unseal.key"
    key_path.write_bytes(os.urandom(32))
    os.chmod(key_path, 0o600)
    s = cofferd_factory({"seal": {"type": "keyfile", "path": str(key_path)}})
    assert s.get("sys/init").json() == {"initialized": False}
    r = s.put("sys/init", json={})
    assert r.status_code == 200, r.text
    token = r.json()["root_token"]
    assert TOKEN_RE.match(token)
    s.restart()
    status = s.seal_status()
    assert status["initialized"] is True and status["sealed"] is False, status
    assert s.get("sys/health").status_code == 200
    assert s.put("sys/rotate", token=token).status_code == 204
    assert s.key_status(token)["term"] == 2


def test_keyfile_seal_with_another_key_stays_sealed(cofferd_factory, tmp_path):
    key_path = tmp_path / "unseal.key"
    key_path.write_bytes(os.urandom(32))
    os.chmod(key_path, 0o600)
    s = cofferd_factory({"seal": {"type": "keyfile", "path": str(key_path)}})
    assert s.put("sys/init", json={}).status_code == 200
    s.stop()
    key_path.write_bytes(os.urandom(32))
    # Either refuse to start or start sealed; never unseal with the wrong key.
    try:
        s.start()
    except pytest.fail.Exception:
        assert s.last_exit not in (0, None)
        return
    assert s.seal_status()["sealed"] is True


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa"])
def test_tls_listener_serves_https(cofferd_factory, tmp_path, algorithm):
    cert, key = make_cert(tmp_path, algorithm)
    s = cofferd_factory({"tls_cert_file": str(cert), "tls_key_file": str(key)}, ca_file=cert)
    r = requests.get(f"https://127.0.0.1:{s.port}/v1/sys/health", verify=str(cert), timeout=10)
    assert r.status_code == 501 and r.json()["initialized"] is False, r.text  # not yet initialized
    init = s.init(1, 1)
    s.unseal(init["keys"])
    assert s.get("sys/health").status_code == 200
    # No plaintext on the TLS port, and no TLS for a client that does not trust the cert.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{s.port}/v1/sys/health", timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{s.port}/v1/sys/health", timeout=10)


def test_dev_mode_prints_banner_and_is_unsealed(cofferd_factory):
    s = cofferd_factory(dev_args=[])
    banner = s.dev_banner()
    assert banner["Address"] == s.url
    assert len(b64decode_any(banner["Unseal Key"])) >= 16
    token = banner["Root Token"]
    assert TOKEN_RE.match(token), token
    status = s.seal_status()
    assert status["initialized"] is True and status["sealed"] is False
    assert (status["t"], status["n"]) == (1, 1)
    assert s.get("sys/health").status_code == 200
    assert s.put("sys/rotate", token=token).status_code == 204
    # The printed unseal key works.
    assert s.put("sys/seal", token=token).status_code == 204
    s.unseal([banner["Unseal Key"]])
    assert s.key_status(token)["term"] == 2


def test_dev_mode_honours_root_token(cofferd_factory):
    chosen = "cof.devROOTtoken" + "x" * 31
    s = cofferd_factory(dev_args=["--root-token", chosen])
    assert s.dev_banner()["Root Token"] == chosen
    assert s.put("sys/rotate", token=chosen).status_code == 204
    assert s.key_status(chosen)["term"] == 2
    assert_denied(s.put("sys/rotate", token="cof." + "y" * 43))


def test_json_log_format_writes_json_lines(cofferd_factory):
    s = cofferd_factory({"log_format": "json", "log_level": "debug"})
    init = s.init(1, 1)
    s.unseal(init["keys"])
    s.put("sys/rotate", token=init["root_token"])
    s.get("sys/nope", token=init["root_token"])
    s.stop()
    lines = [line for line in s.stderr().splitlines() if line.strip()]
    assert lines, "no log lines on stderr"
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line!r}")
        assert isinstance(record, dict), line


def test_text_log_is_not_json_and_mentions_the_listener(cofferd_factory):
    s = cofferd_factory({"log_format": "text", "log_level": "info"})
    s.stop()
    err = s.stderr()
    assert err.strip(), "no log lines on stderr"
    assert str(s.port) in err, err


def test_a_second_server_on_the_same_store_refuses_to_start(cofferd_factory, tmp_path):
    """One cofferd per store: its caches hold what it committed, so a second process writing the
    same database file (or PostgreSQL table, without ha_enabled) would serve stale answers. The
    second one exits at once and says why; the first keeps serving."""
    s = cofferd_factory({})
    assert s.put("sys/init", json={"secret_shares": 1, "secret_threshold": 1}).status_code == 200
    config = dict(s.config)
    config["listen"] = f"127.0.0.1:{free_port()}"
    code, err = run_config(tmp_path, config)
    assert code == 1, err
    # SQLite names the file; PostgreSQL the table, and that ha_enabled runs several nodes.
    store = (rf"table {config['storage']['table']} is in use by another cofferd \(one server per "
             r"store; set storage\.ha_enabled" if PG_MODE else
             r"\S+coffer\.db is in use by another cofferd \(one server per store\)")
    assert re.search(r"\[ERROR\] storage: " + store, err), err
    assert s.get("sys/health").status_code == 503  # initialized and sealed: the first one answers
