# SPDX-License-Identifier: Apache-2.0
"""`coffer audit verify` (issue #5, DESIGN.md §6 and §8) on audit chains written here with Python's
hashlib, independently of common/audit_chain.c, so that the line format is cross-checked: intact
chains in one and in rotated files pass; an edited byte, a deleted line, swapped lines, a truncated
tail and a bad start are each named as FILE:LINE; -format=json; exit codes 0, 1 and 2."""
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

ZERO_PREV = "blake2b:" + "0" * 64


def coffer_path():
    if os.environ.get("COFFER"):
        return Path(os.environ["COFFER"]).resolve()
    build = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
    return build / "coffer"


def run(*args):
    return subprocess.run([str(coffer_path()), *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def prev_of(line):
    return "blake2b:" + hashlib.blake2b(line.encode(), digest_size=32).hexdigest()


def make_chain(n, first_seq=1, prev=ZERO_PREV):
    """n audit lines (str, without newlines) as the server writes them: seq and prev first."""
    lines = []
    for i in range(n):
        seq = first_seq + i
        entry = {"seq": seq, "prev": prev, "time": f"2024-05-01T12:00:{i % 60:02d}Z",
                 "type": "request" if i % 2 == 0 else "response",
                 "request": {"id": f"req-{seq}", "path": "secret/data/app",
                             "client_token": "hmac-sha256:" + "ab" * 32},
                 "response": {"data": {"value": "hmac-sha256:" + "cd" * 32}}}
        line = json.dumps(entry, separators=(",", ":"))
        lines.append(line)
        prev = prev_of(line)
    return lines


def write(path, lines, tail=None):
    data = "".join(line + "\n" for line in lines) + (tail or "")
    path.write_bytes(data.encode())
    return path


def assert_broken(res, path, line, reason_part=None):
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    first = res.stderr.splitlines()[0]
    prefix = f"{path}:{line}: "
    assert first.startswith(prefix), res.stderr
    # Only the reason: the path holds the test's name, which may contain the same words.
    if reason_part is not None:
        assert reason_part in first[len(prefix):], first


def test_intact_chain_passes(tmp_path):
    path = write(tmp_path / "audit.log", make_chain(7))
    res = run("audit", "verify", path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok: 1 file, 7 lines, seq 1..7"
    assert res.stderr == ""


def test_rotated_files_pass_in_order_and_fail_out_of_order(tmp_path):
    lines = make_chain(10, first_seq=101, prev="blake2b:" + "ef" * 32)
    old = write(tmp_path / "audit.log.1", lines[:4])
    empty = write(tmp_path / "audit.log.0", [])
    cur = write(tmp_path / "audit.log", lines[4:])
    res = run("audit", "verify", old, empty, cur)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok: 3 files, 10 lines, seq 101..110"
    assert_broken(run("audit", "verify", cur, old), old, 1, "seq 101 follows seq 110")


def test_missing_line_between_rotated_files(tmp_path):
    lines = make_chain(6)
    old = write(tmp_path / "audit.log.1", lines[:3])
    cur = write(tmp_path / "audit.log", lines[4:])
    assert_broken(run("audit", "verify", old, cur), cur, 1, "seq 5 follows seq 3")


def test_edited_byte_in_body_names_next_line(tmp_path):
    lines = make_chain(6)
    lines[2] = lines[2].replace("secret/data/app", "secret/data/apq")
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 4, "prev hash does not match line 3")


@pytest.mark.parametrize("index", range(0, 400, 7))
def test_any_edited_byte_of_a_middle_line_is_caught(tmp_path, index):
    lines = make_chain(5)
    raw = bytearray(lines[2].encode())
    index %= len(raw)
    raw[index] = ord("7") if raw[index] != ord("7") else ord("8")
    lines[2] = raw.decode()
    path = write(tmp_path / "audit.log", lines)
    res = run("audit", "verify", path)
    assert res.returncode == 1, res.stdout
    assert res.stderr.startswith((f"{path}:3: ", f"{path}:4: ")), res.stderr


def test_edited_seq_names_that_line(tmp_path):
    lines = make_chain(5)
    lines[2] = lines[2].replace('{"seq":3,', '{"seq":30,', 1)
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 3, "seq 30 follows seq 2")


def test_deleted_line_is_named(tmp_path):
    lines = make_chain(6)
    del lines[3]
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 4, "seq 5 follows seq 3")


def test_swapped_lines_are_named(tmp_path):
    lines = make_chain(6)
    lines[1], lines[2] = lines[2], lines[1]
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 2, "seq 3 follows seq 1")


def test_truncated_tail_is_named(tmp_path):
    lines = make_chain(5)
    path = write(tmp_path / "audit.log", lines[:4], tail=lines[4][:40])
    assert_broken(run("audit", "verify", path), path, 5, "truncated")


def test_seq_1_must_have_zero_prev(tmp_path):
    lines = make_chain(3, prev="blake2b:" + "11" * 32)
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 1, "not zero")


def test_non_json_line_is_named(tmp_path):
    lines = make_chain(4)
    lines[1] = "GET /v1/secret/data/app"
    path = write(tmp_path / "audit.log", lines)
    assert_broken(run("audit", "verify", path), path, 2, "not a JSON object")


def test_long_lines_pass(tmp_path):
    lines = []
    prev = ZERO_PREV
    for seq in range(1, 4):
        line = json.dumps({"seq": seq, "prev": prev, "data": "x" * 300000},
                          separators=(",", ":"))
        lines.append(line)
        prev = prev_of(line)
    path = write(tmp_path / "audit.log", lines)
    res = run("audit", "verify", path)
    assert res.returncode == 0, res.stderr


def test_json_format(tmp_path):
    lines = make_chain(5)
    good = write(tmp_path / "good.log", lines)
    res = run("audit", "verify", "-format=json", good)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"ok": True, "files": 1, "lines": 5, "first_seq": 1,
                                      "last_seq": 5, "file": None, "line": None,
                                      "reason": None}
    del lines[2]
    bad = write(tmp_path / "bad.log", lines)
    res = run("audit", "verify", "--format", "json", bad)
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False
    assert out["file"] == str(bad)
    assert out["line"] == 3
    assert out["lines"] == 2
    assert "seq 4 follows seq 2" in out["reason"]


def test_flags_after_files_and_double_dash(tmp_path):
    path = write(tmp_path / "-odd.log", make_chain(2))
    res = subprocess.run([str(coffer_path()), "audit", "verify", "--", "-odd.log"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    res = run("audit", "verify", path, "-format=json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True


def test_missing_file_is_an_error(tmp_path):
    res = run("audit", "verify", tmp_path / "absent.log")
    assert res.returncode == 1
    assert "absent.log" in res.stderr


@pytest.mark.parametrize("args", [
    ("audit", "verify"),
    ("audit", "verify", "-nosuchflag", "x.log"),
    ("audit", "verify", "-format=yaml", "x.log"),
    ("audit", "verify", "-format"),
    ("audit", "nosuchcommand"),
    ("audit",),
    ("nosuchcommand",),
    ("--nosuchflag",),
    (),
])
def test_usage_errors_exit_2(args):
    res = run(*args)
    assert res.returncode == 2, (args, res.stdout, res.stderr)
    assert "Usage: coffer" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("args", [
    ("-h",), ("--help",), ("audit", "-h"), ("audit", "verify", "-h"),
    ("audit", "verify", "--help"), ("audit", "verify", "-help"),
])
def test_help_exits_0(args):
    res = run(*args)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Usage: coffer")


def test_version():
    for flag in ("--version", "-version", "version"):
        res = run(flag)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("coffer ")
