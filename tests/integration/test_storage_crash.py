# SPDX-License-Identifier: Apache-2.0
"""Crash durability of the SQLite store: every write acknowledged before kill -9 survives, and the
database passes integrity_check. Drives tests/integration/crash_writer.c."""
import os
import signal
import sqlite3
import subprocess
import time

from conftest import sqlite_only

pytestmark = sqlite_only("crash_writer drives the SQLite store directly, without cofferd")

BUILD_DIR = os.environ.get("COFFER_BUILD_DIR", "build")
CRASH_WRITER = os.path.join(BUILD_DIR, "tests", "crash_writer")


def acknowledged_keys(out_path):
    """Keys printed before the kill; a last line without newline may be cut and is ignored."""
    with open(out_path, "rb") as f:
        data = f.read().decode()
    lines = data.split("\n")
    return [line for line in lines[:-1] if line]


def test_acknowledged_writes_survive_kill_9(tmp_path):
    db_path = str(tmp_path / "crash.db")
    keys_path = str(tmp_path / "acked.txt")
    all_keys = set()
    for rnd in range(3):
        out_path = str(tmp_path / f"out{rnd}.txt")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen([CRASH_WRITER, db_path], stdout=out)
            time.sleep(1.5)
            assert proc.poll() is None, "crash_writer exited early"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        keys = acknowledged_keys(out_path)
        assert len(keys) > 50, f"round {rnd}: only {len(keys)} acknowledged writes"
        all_keys.update(keys)
        # Every round rewrites the same key names with the same values, so check them all.
        with open(keys_path, "w") as f:
            f.write("\n".join(sorted(all_keys)) + "\n")
        res = subprocess.run([CRASH_WRITER, "--verify", db_path, keys_path],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"{len(all_keys)} passed, 0 failed" in res.stdout
        conn = sqlite3.connect(db_path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
