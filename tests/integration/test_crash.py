# SPDX-License-Identifier: Apache-2.0
"""Invariant 7 (DESIGN.md §10): an acknowledged write survives kill -9 of the server at any moment,
and the database stays consistent (SQLite's integrity_check; PostgreSQL keeps its own)."""
import sqlite3
import threading
import time

import requests

from conftest import PG_MODE

WRITERS = 4
RUN_S = 2.0


def rotate_storm(server, token):
    """Four threads send PUT sys/rotate until the server is killed after RUN_S; returns the number
    of rotations acknowledged with 204."""
    acked = 0
    lock = threading.Lock()
    stop = threading.Event()
    url = f"{server.url}/v1/sys/rotate"

    def writer():
        nonlocal acked
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = session.put(url, headers={"X-Vault-Token": token}, timeout=5)
                except requests.exceptions.RequestException:
                    continue
                if r.status_code == 204:
                    with lock:
                        acked += 1

    threads = [threading.Thread(target=writer, daemon=True) for _ in range(WRITERS)]
    for t in threads:
        t.start()
    time.sleep(RUN_S)
    server.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=15)
        assert not t.is_alive(), "a writer thread hung after kill -9"
    return acked


def test_acknowledged_rotations_survive_kill9(cofferd):
    init = cofferd.init(1, 1)
    token = init["root_token"]
    cofferd.unseal(init["keys"])
    expected_min = 1
    for _round in range(2):
        acked = rotate_storm(cofferd, token)
        assert acked > 0, "no rotation was acknowledged in the run"
        expected_min += acked
        cofferd.start()
        assert cofferd.seal_status()["sealed"] is True
        cofferd.unseal(init["keys"])
        term = cofferd.key_status(token)["term"]
        assert term >= expected_min, f"term {term} < {expected_min}: acknowledged rotations lost"
        expected_min = term
    cofferd.stop()
    if PG_MODE:
        return
    db = sqlite3.connect(str(cofferd.data_dir / "coffer.db"))
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
