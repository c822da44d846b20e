# SPDX-License-Identifier: Apache-2.0
"""The PostgreSQL storage's configuration: every bad value is refused at start with a message that
names the key (Vault's "ha_enabled" string silently turned HA off on a typo), the URL never appears
in the log, and cofferd refuses Unix-socket URLs (its seccomp filter refuses Unix sockets once
start-up is over, so the first reconnection would fail). None of these needs a database."""
import json
import subprocess

import pytest

from conftest import cofferd_path, free_port

URL = "postgresql://coffer:pw-canary-7f3a@127.0.0.1:1/coffer"


def pg_config(**storage):
    config = {
        "listen": f"127.0.0.1:{free_port()}",
        "storage": {"type": "postgresql", "connection_url": URL, **storage},
        "seal": {"type": "shamir"},
        "disable_mlock": True,
    }
    return config


def refused(tmp_path, config, env=None):
    """Runs cofferd with config, which must be refused; returns its stderr."""
    path = tmp_path / "cofferd.json"
    path.write_text(json.dumps(config))
    try:
        done = subprocess.run([str(cofferd_path()), "--config", str(path)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=20, cwd=tmp_path, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cofferd accepted the config and kept running: {config}")
    assert done.returncode != 0
    return done.stderr.decode(errors="replace")


@pytest.mark.parametrize("key,value,words", [
    ("ha_enabled", "true", "JSON boolean"),
    ("ha_enabled", 1, "JSON boolean"),
    ("lock_ttl", "1s", "between 2s and 5m"),
    ("lock_ttl", "10 minutes", "between 2s and 5m"),
    ("max_connections", 2, "3..256"),
    ("max_connections", "16", "3..256"),
    ("table", "Coffer", "a-z"),
    ("table", "coffer; DROP TABLE x", "a-z"),
    ("table", "9lives", "a-z"),
    ("ha_table", "a" * 49, "1 to 48"),
    ("path", "/tmp/x.db", "unknown key"),
])
def test_a_bad_postgresql_key_is_refused_naming_it(tmp_path, key, value, words):
    err = refused(tmp_path, pg_config(**{key: value}))
    assert f"storage.{key}" in err, err
    assert words in err, err
    assert "pw-canary-7f3a" not in err


def test_an_unknown_storage_type_is_refused(tmp_path):
    err = refused(tmp_path, pg_config(type="postgres"))
    assert "storage.type" in err and '"postgresql"' in err, err


def test_ha_needs_api_addr(tmp_path):
    err = refused(tmp_path, pg_config(ha_enabled=True))
    assert "api_addr" in err and "standbys" in err, err


@pytest.mark.parametrize("addr", ["127.0.0.1:8200", "http://", "http://h/v1", "ftp://h",
                                  "http://user@h", "http://h?x"])
def test_a_bad_api_addr_is_refused(tmp_path, addr):
    err = refused(tmp_path, {**pg_config(ha_enabled=True), "api_addr": addr})
    assert "api_addr" in err, err


def test_table_and_ha_table_must_differ(tmp_path):
    err = refused(tmp_path, pg_config(table="same", ha_table="same"))
    assert "storage.ha_table" in err, err


def test_a_url_is_required_unless_the_environment_gives_one(tmp_path):
    config = pg_config()
    del config["storage"]["connection_url"]
    err = refused(tmp_path, config, env={"PATH": "/usr/bin:/bin"})
    assert "storage.connection_url" in err and "COFFER_PG_CONNECTION_URL" in err, err


@pytest.mark.parametrize("url", ["postgresql:///coffer", "postgresql://%2Frun%2Fpostgresql/coffer",
                                 "host=/run/postgresql dbname=coffer", "dbname=coffer"])
def test_a_unix_socket_url_is_refused(tmp_path, url):
    err = refused(tmp_path, pg_config(connection_url=url))
    assert "TCP" in err and "Unix sockets" in err, err


def test_an_unreachable_database_fails_the_start_without_logging_the_password(tmp_path):
    """Port 1 on loopback refuses at once: cofferd says it cannot connect, never the URL's
    password, and exits rather than serving without its store."""
    err = refused(tmp_path, pg_config())
    assert "cannot connect to PostgreSQL" in err, err
    assert "pw-canary-7f3a" not in err


def test_the_environment_url_overrides_the_file(tmp_path):
    """COFFER_PG_CONNECTION_URL wins over connection_url: here the file's URL is a Unix socket
    (refused) but the environment's is TCP, so the start fails only at connecting."""
    config = pg_config(connection_url="postgresql:///coffer")
    err = refused(tmp_path, config, env={"PATH": "/usr/bin:/bin", "COFFER_PG_CONNECTION_URL": URL})
    assert "Unix sockets" not in err, err
    assert "cannot connect to PostgreSQL" in err, err
    assert "pw-canary-7f3a" not in err
