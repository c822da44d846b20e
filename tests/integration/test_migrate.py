# SPDX-License-Identifier: Apache-2.0
"""cofferd migrate: a vault moved from SQLite to PostgreSQL and back serves the same secrets,
tokens and policies with the same unseal key (records are copied as ciphertext, no key needed);
a non-empty destination and a store a cofferd is serving are refused, and nothing is written.
Needs the tests' PostgreSQL (tests/pg_cluster.sh; tests/run.sh starts it)."""
import json
import os
import secrets
import subprocess

import pytest

from conftest import (base_config, cofferd_path, create_token, kv2_read, kv2_write, lookup_self,
                      put_policy)

PG_URL = os.environ.get("COFFER_TEST_PG_URL")


@pytest.fixture
def pg_url():
    if not PG_URL:
        pytest.fail("COFFER_TEST_PG_URL is not set: start tests/pg_cluster.sh (tests/run.sh does)")
    return PG_URL


def pg_storage(url, table):
    return {"type": "postgresql", "connection_url": url, "table": table,
            "ha_table": table + "_ha"}


def migrate(tmp_path, src, dst):
    a, b = tmp_path / "from.json", tmp_path / "to.json"
    a.write_text(json.dumps({"storage": src}))
    b.write_text(json.dumps({"storage": dst}))
    return subprocess.run([str(cofferd_path()), "migrate", "--from", str(a), "--to", str(b)],
                          capture_output=True, timeout=60, text=True)


def served(factory, storage, keys):
    """A server on storage, unsealed with keys."""
    config = base_config("/nonexistent")
    config["storage"] = storage
    server = factory(config=config)
    server.unseal(keys)
    return server


def test_a_vault_moves_to_postgresql_and_back(cofferd_factory, tmp_path, pg_url):
    sqlite = cofferd_factory()
    init = sqlite.init(1, 1)
    sqlite.unseal(init["keys"])
    root = init["root_token"]
    value = "migrate-canary-" + secrets.token_hex(8)
    kv2_write(sqlite, root, "app/db", {"password": value})
    put_policy(sqlite, root, "reader", 'path "secret/data/app/*" { capabilities = ["read"] }')
    child = create_token(sqlite, root, policies=["reader"])["auth"]["client_token"]
    sqlite.stop()
    src = {"type": "sqlite", "path": str(sqlite.data_dir / "coffer.db")}

    table = "mig_" + secrets.token_hex(6)
    done = migrate(tmp_path, src, pg_storage(pg_url, table))
    assert done.returncode == 0, done.stderr
    assert "copied" in done.stdout and "checked" in done.stdout, done.stdout
    assert "coffer-test-password" not in done.stdout + done.stderr

    pg = served(cofferd_factory, pg_storage(pg_url, table), init["keys"])
    assert kv2_read(pg, child, "app/db")["data"]["password"] == value
    assert lookup_self(pg, child).json()["data"]["policies"] == ["default", "reader"]
    assert kv2_write(pg, root, "app/db", {"password": value + "-2"})["version"] == 2

    # Refused while a cofferd serves the store, and into a non-empty destination.
    back = tmp_path / "back"
    back.mkdir()
    dst = {"type": "sqlite", "path": str(back / "coffer.db")}
    busy = migrate(tmp_path, pg_storage(pg_url, table), dst)
    assert busy.returncode != 0 and "in use by another cofferd" in busy.stderr, busy.stderr
    pg.stop()
    full = migrate(tmp_path, src, pg_storage(pg_url, table))
    assert full.returncode != 0 and "not empty" in full.stderr, full.stderr

    done = migrate(tmp_path, pg_storage(pg_url, table), dst)
    assert done.returncode == 0, done.stderr
    again = served(cofferd_factory, dst, init["keys"])
    got = kv2_read(again, child, "app/db")
    assert got["data"]["password"] == value + "-2"
    assert got["metadata"]["version"] == 2


def test_migrate_needs_both_files(tmp_path):
    done = subprocess.run([str(cofferd_path()), "migrate", "--from", "x.json"],
                          capture_output=True, timeout=30, text=True)
    assert done.returncode == 2 and "usage" in done.stderr
