# SPDX-License-Identifier: Apache-2.0
"""`coffer audit verify` (issue #5, issue #12 finding 4, DESIGN.md §6, §8 and §10.10).

First on signed logs written here with Python's hashlib and an Ed25519 key of the `cryptography`
package, independently of common/audit_chain.c, so that the line and signature formats are
cross-checked: intact logs in one and in rotated files pass; an edited byte, a deleted line,
swapped lines, a truncated tail and a bad start are each named as FILE:LINE; a chain rebuilt
without the key, a cut head, another key are refused; -format=json; exit codes 0, 1 and 2.

Then on logs a real cofferd wrote: the unmodified log passes with -key and with the server; a
forged log (a line deleted and the chain rebuilt), a head-cut log and a tail-cut log are refused;
SIGHUP rotation and a restart continue the signed chain."""
import base64
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import REPO, assert_denied, assert_error, free_port, kv2_read, kv2_write, ok, wait_for

ZERO_PREV = "blake2b:" + "0" * 64
HASHES = {"blake2b": lambda data: hashlib.blake2b(data, digest_size=32).hexdigest(),
          "sha256": lambda data: hashlib.sha256(data).hexdigest()}
KEY = Ed25519PrivateKey.generate()
PK = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
OTHER_PK = base64.b64encode(Ed25519PrivateKey.generate().public_key().public_bytes(
    Encoding.Raw, PublicFormat.Raw)).decode()
TIME = "2024-05-01T12:00:00.000000Z"


def coffer_path():
    if os.environ.get("COFFER"):
        return Path(os.environ["COFFER"]).resolve()
    build = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
    return build / "coffer"


def run(*args, env=None):
    full = dict(os.environ)
    full.pop("COFFER_TOKEN", None)
    full.update(env or {})
    return subprocess.run([str(coffer_path()), *map(str, args)], capture_output=True, text=True,
                          timeout=60, env=full, stdin=subprocess.DEVNULL)


def verify(*files, key=PK):
    """Offline, with a key: only what the files and the key prove."""
    return run("audit", "verify", "-offline", f"-key={key}", *files)


def prev_of(line, alg=None):
    """The prev after line: hashed with alg, else with the function line's own prev names (a
    chain keeps one)."""
    alg = alg or json.loads(line)["prev"].split(":")[0]
    return f"{alg}:" + HASHES[alg](line.encode())


def checkpoint(kind, seq, prev, key=KEY, time_text=TIME, device="file/"):
    """A checkpoint line as the server writes it (common/audit_chain.h)."""
    msg = f"coffer-audit-checkpoint-v1\n{kind}\n{device}\n{time_text}\n{seq}\n{prev}\n"
    sig = base64.b64encode(key.sign(msg.encode())).decode()
    return (f'{{"time":"{time_text}","type":"checkpoint","kind":"{kind}","device":"{device}",'
            f'"sig":"ed25519:{sig}","seq":{seq},"prev":"{prev}"}}')


def body_line(seq, prev, i=0):
    entry = {"time": f"2024-05-01T12:00:{i % 60:02d}Z",
             "type": "request" if i % 2 == 0 else "response",
             "request": {"id": f"req-{seq}", "path": "secret/data/app",
                         "client_token": "hmac-sha256:" + "ab" * 32},
             "response": {"data": {"value": "hmac-sha256:" + "cd" * 32}},
             "seq": seq, "prev": prev}
    return json.dumps(entry, separators=(",", ":"))


def make_log(n, first_seq=1, prev=ZERO_PREV, close="shutdown"):
    """A signed header, n request/response lines, and a closing checkpoint of kind close (None:
    none, the live file's last lines)."""
    lines = [checkpoint("header", first_seq, prev)]
    for i in range(n):
        lines.append(body_line(first_seq + 1 + i, prev_of(lines[-1]), i))
    if close:
        lines.append(checkpoint(close, first_seq + 1 + n, prev_of(lines[-1])))
    return lines


def next_of(lines):
    """(seq, prev) of the line after lines."""
    return json.loads(lines[-1])["seq"] + 1, prev_of(lines[-1])


def rechain(lines, start=0, first_seq=1, prev=ZERO_PREV, alg=None):
    """What a forger without the key does: renumber lines[start:] and recompute every prev (with
    alg, else the chain's function) so that the chain is whole again (checkpoint signatures
    cannot be recomputed)."""
    out = list(lines[:start])
    seq = first_seq if start == 0 else json.loads(out[-1])["seq"] + 1
    prev = prev if start == 0 else prev_of(out[-1], alg)
    for line in lines[start:]:
        text = line[:line.rindex(',"seq":')] + f',"seq":{seq},"prev":"{prev}"}}'
        out.append(text)
        seq, prev = seq + 1, prev_of(text, alg)
    return out


def write(path, lines, tail=None):
    data = "".join(line + "\n" for line in lines) + (tail or "")
    path.write_bytes(data.encode())
    return path


def assert_broken(res, path, line, reason_part=None):
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    first = res.stderr.splitlines()[0]
    prefix = f"{path}:{line}: " if line else f"{path}: "
    assert first.startswith(prefix), res.stderr
    # Only the reason: the path holds the test's name, which may contain the same words.
    if reason_part is not None:
        assert reason_part in first[len(prefix):], first


# --- signed logs written here ----------------------------------------------------------------

def test_intact_signed_log_passes(tmp_path):
    path = write(tmp_path / "audit.log", make_log(7))
    res = verify(path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok: 1 file, 9 lines, seq 1..9, 2 signed checkpoints"
    assert res.stderr == ""
    # The key may be given as a file, and with the "ed25519:" prefix.
    keyfile = tmp_path / "key.txt"
    keyfile.write_text(f"ed25519:{PK}\n")
    res = run("audit", "verify", "-offline", f"-key=@{keyfile}", path)
    assert res.returncode == 0, res.stderr


def test_sha256_chains_verify_like_blake2b_ones(tmp_path):
    """A chain started with "sha256:" (the server's choice on CPUs with SHA instructions) is
    checked with SHA-256 throughout: intact it passes; an edited byte and a chain rebuilt
    without the key are refused as in a BLAKE2b chain."""
    lines = make_log(4, prev="sha256:" + "0" * 64)
    assert prev_of(lines[0]).startswith("sha256:")
    res = verify(write(tmp_path / "a.log", lines))
    assert res.returncode == 0, res.stdout + res.stderr
    edited = list(lines)
    edited[2] = edited[2].replace("req-3", "req-X")
    assert_broken(verify(write(tmp_path / "b.log", edited)), tmp_path / "b.log", 4,
                  "prev hash does not match line 3")
    forged = rechain(lines[:2] + lines[3:], start=2)
    assert_broken(verify(write(tmp_path / "c.log", forged)), tmp_path / "c.log", 5,
                  "signature does not verify")


def test_a_chain_that_changes_its_hash_function_is_refused(tmp_path):
    """Every prev of a chain names the function of its first line: the right SHA-256 of the line
    before in a BLAKE2b chain is refused, and the other way round."""
    for first, other in (("blake2b", "sha256"), ("sha256", "blake2b")):
        lines = make_log(4, prev=f"{first}:" + "0" * 64)
        switched = rechain(lines, start=3, alg=other)
        path = write(tmp_path / f"{first}.log", switched)
        assert_broken(verify(path), path, 4, "a chain never changes its hash function")


def test_rebuilt_chain_is_refused_at_the_next_checkpoint(tmp_path):
    """Finding 4: delete a line, renumber, recompute prev: the chain is whole again, but the
    next checkpoint's signature covers the original head."""
    lines = make_log(6, close=None)
    lines.append(checkpoint("periodic", 8, prev_of(lines[-1])))
    lines += [body_line(9, prev_of(lines[-1]))]
    lines.append(checkpoint("shutdown", 10, prev_of(lines[-1])))
    forged = rechain(lines[:3] + lines[4:], start=3)
    path = write(tmp_path / "forged.log", forged)
    assert_broken(verify(path), path, 7,
                  "periodic checkpoint's signature does not verify with the trusted key")


def test_rebuilt_log_with_a_new_header_is_refused(tmp_path):
    lines = rechain(make_log(5)[1:4])  # the header dropped, the rest renumbered from seq 1
    path = write(tmp_path / "forged.log", lines)
    assert_broken(verify(path), path, 1, "the first line is not a signed header")


def test_other_key_is_refused(tmp_path):
    path = write(tmp_path / "audit.log", make_log(3))
    assert_broken(verify(path, key=OTHER_PK), path, 1, "does not verify with the trusted key")


def test_head_cut_is_refused(tmp_path):
    path = write(tmp_path / "audit.log", make_log(6)[2:])
    assert_broken(verify(path), path, 1, "the first line is not a signed header")


def test_unsigned_tail_offline_is_a_warning(tmp_path):
    path = write(tmp_path / "audit.log", make_log(4, close=None))
    res = verify(path)
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("warning: the last 4 lines (after seq 1) are not covered by a "
                                 "signed checkpoint yet"), res.stderr
    lines = make_log(4, close="periodic")
    res = verify(write(path, lines))
    assert res.returncode == 0, res.stderr
    assert "warning: the log ends at a periodic checkpoint (seq 6)" in res.stderr


def test_rotated_files_pass_in_order_and_fail_out_of_order(tmp_path):
    old_lines = make_log(3, first_seq=101, prev="blake2b:" + "ef" * 32, close="reopen")
    seq, prev = next_of(old_lines)
    new_lines = make_log(5, first_seq=seq, prev=prev)
    old = write(tmp_path / "audit.log.1", old_lines)
    empty = write(tmp_path / "audit.log.0", [])
    cur = write(tmp_path / "audit.log", new_lines)
    res = verify(old, empty, cur)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok: 3 files, 12 lines, seq 101..112, 4 signed checkpoints"
    assert_broken(verify(cur, old), old, 1, "seq 101 follows seq 112")
    # The newer file alone passes: older files may have been deleted.
    assert verify(cur).returncode == 0


def test_missing_line_between_rotated_files(tmp_path):
    old_lines = make_log(3, close="reopen")
    new_lines = make_log(2, first_seq=7, prev=prev_of(old_lines[-1]))
    old = write(tmp_path / "audit.log.1", old_lines)
    cur = write(tmp_path / "audit.log", new_lines)
    assert_broken(verify(old, cur), cur, 1, "seq 7 follows seq 5")


def test_edited_byte_in_body_names_next_line(tmp_path):
    lines = make_log(6)
    lines[2] = lines[2].replace("secret/data/app", "secret/data/apq")
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 4, "prev hash does not match line 3")


@pytest.mark.parametrize("index", range(0, 400, 7))
def test_any_edited_byte_of_a_middle_line_is_caught(tmp_path, index):
    lines = make_log(5)
    raw = bytearray(lines[3].encode())
    index %= len(raw)
    raw[index] = ord("7") if raw[index] != ord("7") else ord("8")
    lines[3] = raw.decode()
    path = write(tmp_path / "audit.log", lines)
    res = verify(path)
    assert res.returncode == 1, res.stdout
    assert res.stderr.startswith((f"{path}:4: ", f"{path}:5: ")), res.stderr


def test_edited_checkpoint_is_caught(tmp_path):
    lines = make_log(3)
    lines[-1] = lines[-1].replace('"kind":"shutdown"', '"kind":"seal"')
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 5, "seal checkpoint's signature does not verify")


def test_edited_seq_names_that_line(tmp_path):
    lines = make_log(5)
    lines[2] = lines[2].replace(',"seq":3,', ',"seq":30,', 1)
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 3, "seq 30 follows seq 2")


def test_deleted_line_is_named(tmp_path):
    lines = make_log(6)
    del lines[3]
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 4, "seq 5 follows seq 3")


def test_swapped_lines_are_named(tmp_path):
    lines = make_log(6)
    lines[2], lines[3] = lines[3], lines[2]
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 3, "seq 4 follows seq 2")


def test_truncated_tail_is_named(tmp_path):
    lines = make_log(5)
    path = write(tmp_path / "audit.log", lines[:5], tail=lines[5][:40])
    assert_broken(verify(path), path, 6, "truncated")


def test_seq_1_must_have_zero_prev(tmp_path):
    lines = make_log(3, prev="blake2b:" + "11" * 32)
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 1, "not zero")


def test_non_json_line_is_named(tmp_path):
    lines = make_log(4)
    lines[2] = "GET /v1/secret/data/app"
    path = write(tmp_path / "audit.log", lines)
    assert_broken(verify(path), path, 3, "not a JSON object")


def test_long_lines_pass(tmp_path):
    lines = [checkpoint("header", 1, ZERO_PREV)]
    for seq in range(2, 5):
        lines.append(json.dumps({"data": "x" * 300000, "seq": seq, "prev": prev_of(lines[-1])},
                                separators=(",", ":")))
    lines.append(checkpoint("shutdown", 5, prev_of(lines[-1])))
    path = write(tmp_path / "audit.log", lines)
    res = verify(path)
    assert res.returncode == 0, res.stderr


def test_json_format(tmp_path):
    lines = make_log(5)
    good = write(tmp_path / "good.log", lines)
    res = run("audit", "verify", "-offline", f"-key={PK}", "-format=json", good)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "ok": True, "files": 1, "lines": 7, "first_seq": 1, "last_seq": 7, "checkpoints": 2,
        "signed_seq": 7, "unsigned_lines": 0, "closed": True, "warnings": [],
        "key_source": "flag", "head_seq": None, "file": None, "line": None, "reason": None}
    del lines[3]
    bad = write(tmp_path / "bad.log", lines)
    res = run("audit", "verify", "-offline", "-key", PK, "--format", "json", bad)
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False
    assert out["file"] == str(bad)
    assert out["line"] == 4
    assert out["lines"] == 3
    assert "seq 5 follows seq 3" in out["reason"]


def test_flags_after_files_and_double_dash(tmp_path):
    path = write(tmp_path / "-odd.log", make_log(2))
    res = subprocess.run([str(coffer_path()), "audit", "verify", "-offline", f"-key={PK}", "--",
                          "-odd.log"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    res = run("audit", "verify", path, "-format=json", "-offline", f"-key={PK}")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["ok"] is True


def test_no_key_to_trust_is_an_error(tmp_path):
    """Without a key nothing proves the log came from the server (§10.10): exit 1."""
    path = write(tmp_path / "audit.log", make_log(2))
    res = run("audit", "verify", "-offline", path)
    assert res.returncode == 1, res.stdout
    assert "no key to trust" in res.stderr
    assert res.stdout == ""
    # Nothing answers at COFFER_ADDR: said, then the same.
    res = run("audit", "verify", path, env={"COFFER_ADDR": "http://127.0.0.1:9"})
    assert res.returncode == 1
    assert "the server cannot be reached: verifying offline" in res.stderr
    assert "no key to trust" in res.stderr


def test_missing_file_is_an_error(tmp_path):
    res = verify(tmp_path / "absent.log")
    assert res.returncode == 1
    assert "absent.log" in res.stderr


@pytest.mark.parametrize("args", [
    ("audit", "verify"),
    ("audit", "verify", "-nosuchflag", "x.log"),
    ("audit", "verify", "-format=yaml", "x.log"),
    ("audit", "verify", "-format"),
    ("audit", "verify", "-offline", "-key=notakey", "x.log"),
    ("audit", "key", "extra"),
    ("audit", "nosuchcommand"),
    ("audit",),
    ("nosuchcommand",),
    ("--nosuchflag",),
    (),
])
def test_usage_errors_exit_2(args):
    res = run(*args)
    assert res.returncode == 2, (args, res.stdout, res.stderr)
    if "-key=notakey" in args:
        assert "-key: not an Ed25519 public key in base64" in res.stderr
    else:
        assert "Usage: coffer" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("args", [
    ("-h",), ("--help",), ("audit", "-h"), ("audit", "verify", "-h"),
    ("audit", "verify", "--help"), ("audit", "verify", "-help"), ("audit", "key", "-h"),
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


# --- logs a real cofferd wrote -----------------------------------------------------------------

def log_lines(path):
    return path.read_text().splitlines()


def kinds(lines):
    return [json.loads(line).get("kind") if '"type":"checkpoint"' in line else None
            for line in lines]


def wait_checkpointed(server, token, log):
    """Wait until the live file's last line is a periodic checkpoint the server recorded as its
    head (within about a second of the last line)."""
    def done():
        if not log.exists():
            return False
        lines = log_lines(log)
        if not lines or '"kind":"periodic"' not in lines[-1]:
            return False
        head = ok(server.get("sys/audit", token=token))["data"]["file/"]["head"]
        return head is not None and head["seq"] == json.loads(lines[-1])["seq"]
    assert wait_for(done, 10, 0.05), "no periodic checkpoint within 10 s"


class Audited:
    def __init__(self, server, keys, root, log):
        self.server, self.keys, self.root, self.log = server, keys, root, log

    @property
    def env(self):
        return {"COFFER_ADDR": self.server.url, "COFFER_TOKEN": self.root}

    def traffic(self, tag, n=3):
        for i in range(n):
            kv2_write(self.server, self.root, f"{tag}/{i}", {"v": str(i)})
            kv2_read(self.server, self.root, f"{tag}/{i}")


@pytest.fixture
def audited(cofferd_factory, tmp_path):
    log = tmp_path / "audit.log"
    server = cofferd_factory(config_overrides={
        "audit": [{"type": "file", "options": {"file_path": str(log)}}]})
    init = server.init(1, 1)
    server.unseal(init["keys"])
    return Audited(server, init["keys"], init["root_token"], log)


def test_server_key_is_published(audited):
    body = ok(audited.server.get("sys/audit-key", token=audited.root))
    assert body["data"]["algorithm"] == "ed25519"
    assert len(base64.b64decode(body["data"]["public_key"], validate=True)) == 32
    res = run("audit", "key", env=audited.env)
    assert res.returncode == 0, res.stderr
    assert res.stdout == body["data"]["public_key"] + "\n"
    # Without a token: refused like any other path.
    assert_denied(audited.server.get("sys/audit-key"))
    # The same key after a restart (kept in the barrier).
    audited.server.restart()
    audited.server.unseal(audited.keys)
    again = ok(audited.server.get("sys/audit-key", token=audited.root))
    assert again["data"]["public_key"] == body["data"]["public_key"]


def test_unmodified_log_passes_with_key_and_with_server(audited):
    a = audited
    a.traffic("ok")
    lines = log_lines(a.log)
    assert kinds(lines)[0] == "header" and json.loads(lines[0])["seq"] == 1
    wait_checkpointed(a.server, a.root, a.log)
    # Live, against the server: the key is fetched, the head reached.
    res = run("audit", "verify", a.log, env=a.env)
    assert res.returncode == 0, res.stderr
    head = ok(a.server.get("sys/audit", token=a.root))["data"]["file/"]["head"]
    assert f"reaches the head file/ recorded (seq {head['seq']})" in res.stdout, res.stdout
    # The lines of verify's own requests (sys/audit-key, sys/audit), once staged lines reach the
    # file, are the live file's unsigned last lines: a warning, not an error.
    assert res.stderr == "" or (res.stderr.startswith("warning: the last ") and
                                "not covered by a signed checkpoint yet" in res.stderr), res.stderr
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    # Stopped: the last line is the signed shutdown checkpoint; offline with -key, no warning.
    lines = log_lines(a.log)
    assert kinds(lines)[-1] == "shutdown"
    res = run("audit", "verify", "-offline", f"-key={key}", a.log)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout.startswith(f"ok: 1 file, {len(lines)} lines, seq 1..{len(lines)}, ")


def forge_delete(lines, index):
    """Delete lines[index], renumber and recompute BLAKE2b prev from there on: what
    `coffer audit verify` accepted before the signatures (finding 4)."""
    return rechain(lines[:index] + lines[index + 1:], start=index)


def test_forged_log_is_refused(audited, tmp_path):
    a = audited
    a.traffic("forge", 4)
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    lines = log_lines(a.log)
    victim = next(i for i, line in enumerate(lines)
                  if '"type":"request"' in line and '"operation":"create"' in line)
    forged = write(tmp_path / "forged.log", forge_delete(lines, victim))
    # The forgery is a whole chain (checked here with Python's BLAKE2b)...
    flines = log_lines(forged)
    for prev_line, line in zip(flines, flines[1:]):
        assert json.loads(line)["prev"] == prev_of(prev_line)
        assert json.loads(line)["seq"] == json.loads(prev_line)["seq"] + 1
    # ...and is refused at the first checkpoint after the deleted line.
    res = run("audit", "verify", "-offline", f"-key={key}", forged)
    assert res.returncode == 1, res.stdout
    assert "checkpoint's signature does not verify with the trusted key" in res.stderr
    first_ckpt = next(i for i, k in enumerate(kinds(flines)) if i >= victim and k)
    assert res.stderr.startswith(f"{forged}:{first_ckpt + 1}: "), res.stderr


def test_head_cut_log_is_refused(audited, tmp_path):
    a = audited
    a.traffic("head")
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    lines = log_lines(a.log)
    for cut in (1, 2, 5):
        path = write(tmp_path / f"headcut{cut}.log", lines[cut:])
        res = run("audit", "verify", "-offline", f"-key={key}", path)
        assert res.returncode == 1, res.stdout
        assert res.stderr.startswith(f"{path}:1: the first line is not a signed header"), \
            res.stderr


def test_tail_cut_log_is_refused_against_the_server(audited, tmp_path):
    a = audited
    a.traffic("tail1")
    wait_checkpointed(a.server, a.root, a.log)
    # (the lines of the sys/audit reads that waited for it may follow already)
    first_ckpt = kinds(log_lines(a.log)).index("periodic") + 1
    a.traffic("tail2")
    wait_checkpointed(a.server, a.root, a.log)
    lines = log_lines(a.log)
    assert len(lines) > first_ckpt
    # Cut back to the first periodic checkpoint: a signed, intact log on its own...
    cut = write(tmp_path / "cut.log", lines[:first_ckpt])
    res = run("audit", "verify", "-offline", f"-key={PK}", cut)  # another key: refused
    assert res.returncode == 1
    key = run("audit", "key", env=a.env).stdout.strip()
    res = run("audit", "verify", "-offline", f"-key={key}", cut)
    assert res.returncode == 0, res.stderr
    assert "warning: the log ends at a periodic checkpoint" in res.stderr
    # ...but it ends before the head the server recorded.
    res = run("audit", "verify", "-device=file", cut, env=a.env)
    assert res.returncode == 1, res.stdout
    head = ok(a.server.get("sys/audit", token=a.root))["data"]["file/"]["head"]
    assert res.stderr.strip().endswith(
        f"{cut}: the log ends at seq {first_ckpt}, before the head the server recorded "
        f"(seq {head['seq']}): its tail was cut"), res.stderr
    # The live file itself, cut in place, is refused too: it ends before the head, or (once the
    # lines of verify's own requests reach it) the server's next lines leave a gap after the cut.
    a.log.write_text("".join(line + "\n" for line in lines[:first_ckpt]))
    res = run("audit", "verify", a.log, env=a.env)
    assert res.returncode == 1, res.stdout
    assert res.stderr.startswith((
        f"{a.log}: the log ends at seq {first_ckpt}, before the head the server recorded",
        f"{a.log}:{first_ckpt + 1}: seq ")), res.stderr
    assert "its tail was cut" in res.stderr or \
        f"follows seq {first_ckpt} (a line is missing or moved)" in res.stderr


def test_sighup_rotation_continues_the_signed_chain(audited):
    a = audited
    a.traffic("rot1")
    old = a.log.parent / "audit.log.1"
    os.rename(a.log, old)
    a.server.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: a.log.exists() and a.log.stat().st_size > 0, 5), \
        "SIGHUP did not reopen the audit file with its header"
    a.traffic("rot2")
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    old_lines, new_lines = log_lines(old), log_lines(a.log)
    assert kinds(old_lines)[0] == "header" and kinds(old_lines)[-1] == "reopen"
    assert kinds(new_lines)[0] == "header" and kinds(new_lines)[-1] == "shutdown"
    header = json.loads(new_lines[0])
    assert header["seq"] == json.loads(old_lines[-1])["seq"] + 1
    assert header["prev"] == prev_of(old_lines[-1])
    res = run("audit", "verify", "-offline", f"-key={key}", old, a.log)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert run("audit", "verify", "-offline", f"-key={key}", a.log, old).returncode == 1
    # Each file alone: the old one ends closed, the new one starts with its signed header.
    assert run("audit", "verify", "-offline", f"-key={key}", a.log).returncode == 0


def test_restart_continues_the_signed_chain(audited):
    a = audited
    a.traffic("rs1", 2)
    a.server.restart()
    a.server.unseal(a.keys)
    a.traffic("rs2", 2)
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    lines = log_lines(a.log)
    k = kinds(lines)
    assert k[0] == "header" and k.count("header") == 1, k
    assert k.count("shutdown") == 2 and k[-1] == "shutdown", k
    res = run("audit", "verify", "-offline", f"-key={key}", a.log)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_file_cut_while_the_server_was_down_is_reported(audited):
    """The server records its head in the barrier: a file cut while it was stopped does not
    continue from the cut; the gap stays visible to verify."""
    a = audited
    a.traffic("down1")
    key = run("audit", "key", env=a.env).stdout.strip()
    a.server.stop()
    lines = log_lines(a.log)
    a.log.write_text("".join(line + "\n" for line in lines[:3]))
    a.server.start()
    a.server.unseal(a.keys)
    a.traffic("down2", 1)
    a.server.stop()
    assert "lines were removed or replaced" in a.server.stderr()
    res = run("audit", "verify", "-offline", f"-key={key}", a.log)
    assert res.returncode == 1, res.stdout
    assert res.stderr.startswith(f"{a.log}:4: seq {len(lines) + 1} follows seq 3"), res.stderr


def test_unsigned_lines_are_signed_within_about_a_second(audited):
    a = audited
    a.traffic("sec", 1)
    start = time.monotonic()
    wait_checkpointed(a.server, a.root, a.log)
    assert time.monotonic() - start < 2.5


def test_seal_writes_a_signed_checkpoint_and_unseal_goes_on(audited):
    a = audited
    a.traffic("seal", 1)
    key = run("audit", "key", env=a.env).stdout.strip()
    ok(a.server.put("sys/seal", token=a.root), 204)
    # The "seal" checkpoint is written as the key goes, between the seal's request line and its
    # response line: that last line is signed by the first checkpoint after the next unseal.
    lines = log_lines(a.log)
    assert kinds(lines)[-2] == "seal", lines[-3:]
    assert '"path":"sys/seal"' in lines[-1] and '"type":"response"' in lines[-1], lines[-1]
    res = run("audit", "verify", "-offline", f"-key={key}", a.log)
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("warning: the last 1 line (after seq "), res.stderr
    # Sealed: no key to publish.
    assert_error(a.server.get("sys/audit-key", token=a.root), 503, "Vault is sealed")
    a.server.unseal(a.keys)
    a.traffic("seal2", 1)
    a.server.stop()
    k = kinds(log_lines(a.log))
    assert k.count("header") == 1 and "seal" in k and k[-1] == "shutdown", k
    res = run("audit", "verify", "-offline", f"-key={key}", a.log)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""


def test_a_chain_keeps_its_hash_function_across_restarts(audited, tmp_path):
    """COFFER_AUDIT_HASH chooses the function of new chains (default: sha256 where the CPU has
    SHA instructions, else blake2b); a chain keeps the one it started with when the server
    restarts with another choice, through its file, a SIGHUP reopen and the recorded head."""
    a = audited
    a.traffic("alg1", 1)
    key = run("audit", "key", env=a.env).stdout.strip()
    wait_checkpointed(a.server, a.root, a.log)
    first = json.loads(log_lines(a.log)[0])["prev"].split(":")[0]
    other = "blake2b" if first == "sha256" else "sha256"
    a.server.env["COFFER_AUDIT_HASH"] = other
    a.server.restart()
    a.server.unseal(a.keys)
    a.traffic("alg2", 1)
    # A rotated file continues the chain too.
    old = a.log.parent / "audit.log.1"
    os.rename(a.log, old)
    a.server.proc.send_signal(signal.SIGHUP)
    assert wait_for(a.log.exists, 5), "SIGHUP did not reopen the audit file"
    a.traffic("alg3", 1)
    # The head the server publishes names the chain's function.
    wait_checkpointed(a.server, a.root, a.log)
    head = ok(a.server.get("sys/audit", token=a.root))["data"]["file/"]["head"]
    assert head["hash"].startswith(f"{first}:"), head
    res = run("audit", "verify", old, a.log, env=a.env)
    assert res.returncode == 0, res.stderr
    a.server.stop()
    lines = log_lines(old) + log_lines(a.log)
    assert {json.loads(line)["prev"].split(":")[0] for line in lines} == {first}
    # Continued from the file itself, not mended from the recorded head.
    assert kinds(log_lines(old)).count("header") == 1
    assert "lines were removed or replaced" not in a.server.stderr()
    res = run("audit", "verify", "-offline", f"-key={key}", old, a.log)
    assert res.returncode == 0, res.stderr
    # The file moved away while the server is down: the recorded head's chain goes on, with its
    # function, though new chains would take the other.
    os.rename(a.log, a.log.parent / "audit.log.2")
    a.server.start()
    a.server.unseal(a.keys)
    a.traffic("alg4", 1)
    a.server.stop()
    assert {json.loads(line)["prev"].split(":")[0] for line in log_lines(a.log)} == {first}


def test_new_chains_take_the_chosen_hash_function(cofferd_factory, tmp_path):
    for alg in ("sha256", "blake2b"):
        log = tmp_path / f"{alg}.log"
        server = cofferd_factory(config_overrides={
            "audit": [{"type": "file", "options": {"file_path": str(log)}}]}, start=False)
        server.env["COFFER_AUDIT_HASH"] = alg
        server.start()
        init = server.init(1, 1)
        server.unseal(init["keys"])
        kv2_write(server, init["root_token"], "a", {"v": "1"})
        key = ok(server.get("sys/audit-key", token=init["root_token"]))["data"]["public_key"]
        server.stop()
        lines = log_lines(log)
        assert lines[0].endswith(f'"seq":1,"prev":"{alg}:' + "0" * 64 + '"}'), lines[0]
        for before, line in zip(lines, lines[1:]):
            assert json.loads(line)["prev"] == prev_of(before, alg)
        res = run("audit", "verify", "-offline", f"-key={key}", log)
        assert res.returncode == 0, res.stderr


def test_an_unknown_audit_hash_stops_the_server(cofferd_factory, tmp_path):
    server = cofferd_factory(config_overrides={
        "audit": [{"type": "file", "options": {"file_path": str(tmp_path / "a.log")}}]},
        start=False)
    server.env["COFFER_AUDIT_HASH"] = "md5"
    server.port = free_port()
    done = subprocess.run(server.argv(), capture_output=True, text=True, timeout=30,
                          env={**os.environ, **server.env}, stdin=subprocess.DEVNULL)
    assert done.returncode == 1, done.stderr
    assert 'COFFER_AUDIT_HASH=md5: the audit chain\'s hash is "sha256" or "blake2b"' \
        in done.stderr
