# SPDX-License-Identifier: Apache-2.0
"""Bad input gets a clear 4xx with a JSON error, changes nothing, and never brings cofferd down."""
import json
import re
import select
import socket
import time

import pytest

from conftest import assert_error

GOOD_TOKEN_SHAPE = "cof." + "A" * 43
NESTED = "failed to parse JSON input: nested deeper than 128 levels"
NOT_OBJECT = "failed to parse JSON input: the body must be a JSON object"
SHARES_RANGE = "secret_shares must be between 1 and 255"
THRESHOLD_RANGE = "secret_threshold must be between 1 and secret_shares"


def parse_error(line, column):
    """The server's message for a body jansson refuses: its own frame and the position exactly;
    the reason between them is jansson's wording, which the server passes on as it is."""
    return re.compile(r"failed to parse JSON input: .+ at line %d column %d" % (line, column))


def raw_exchange(port, head, body_chunks, timeout_s=15):
    """Sends a request head, then body chunks while watching for an early answer (a server may
    answer 413 from the headers alone and stop reading). Returns (status, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    try:
        sock.sendall(head)
        sock.setblocking(False)
        pending = b""
        chunks = iter(body_chunks)
        sending = True
        received = b""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if sending and not pending:
                pending = next(chunks, b"")
                sending = bool(pending)
            readable, writable, _ = select.select([sock], [sock] if sending else [], [], 0.2)
            if readable:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if not data:
                    break
                received += data
                if complete_response(received):
                    break
            if writable and sending:
                try:
                    pending = pending[sock.send(pending):]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
        return parse_response(received)
    finally:
        sock.close()


def complete_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def parse_response(data):
    assert data, "no response before the connection closed"
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def test_malformed_json_is_400_and_changes_nothing(cofferd):
    for body, message in [(b"{", parse_error(1, 1)),
                          (b"{\"secret_shares\": 1,", parse_error(1, 20)),
                          (b"not json", parse_error(1, 3)), (b"[1, 2", parse_error(1, 5)),
                          (b"\xff\xfe{}", parse_error(1, 0)),
                          (b"{\"secret_shares\": 1} trailing", parse_error(1, 29)),
                          (b"[]", NOT_OBJECT), (b"\"str\"", parse_error(1, 5)),
                          (b"42", parse_error(1, 2)), (b"null", parse_error(1, 4))]:
        r = cofferd.put("sys/init", data=body, headers={"Content-Type": "application/json"})
        assert_error(r, 400, message)
    assert_error(cofferd.put("sys/init", data=b'{"secret_shares": "\xff\xfe"}'), 400,
                 parse_error(1, 19))
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_deeply_nested_json_is_400(cofferd):
    body = b"[" * 100_000 + b"]" * 100_000
    assert_error(cofferd.put("sys/init", data=body), 400, NESTED)
    body = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert_error(cofferd.put("sys/init", data=body), 400, NESTED)
    # Past the server's own limit (128 levels), though jansson would take 2048: every later walk
    # of a body (dump, merge patch, audit) stays shallow on the small stacks of the write pool.
    body = b'{"a":' * 129 + b"1" + b"}" * 129
    assert_error(cofferd.put("sys/init", data=body), 400, NESTED)
    # Brackets inside strings do not count.
    body = b'{"secret_shares":"' + b"[" * 500 + b'"}'
    assert_error(cofferd.put("sys/init", data=body), 400, "secret_shares must be an integer")
    assert cofferd.get("sys/health").status_code == 501


def test_wrong_types_for_shares_are_400(cofferd):
    # Threshold 1 makes a server that coerces true or 1.5 to 1 init successfully, and fail here.
    failures = []
    for bad in ["abc", True, 1.5, [1], {"n": 1}, -1, 2**64, 2**32 + 1]:
        if isinstance(bad, int) and not isinstance(bad, bool):
            # 2**64 does not fit jansson's json_int_t: refused at parse time, at its position.
            want = ((parse_error(1, 38), parse_error(1, 61)) if bad == 2**64 else
                    (SHARES_RANGE, THRESHOLD_RANGE))
        else:
            want = ("secret_shares must be an integer", "secret_threshold must be an integer")
        for body, message in (({"secret_shares": bad, "secret_threshold": 1}, want[0]),
                              ({"secret_shares": 1, "secret_threshold": bad}, want[1])):
            r = cofferd.put("sys/init", json=body)
            try:
                assert_error(r, 400, message)
            except AssertionError as e:
                failures.append(f"{body} -> {e}")
    assert not failures, failures
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_bad_share_counts_are_400(cofferd):
    failures = []
    at_least_2 = "secret_threshold must be at least 2 when secret_shares > 1"
    for shares, threshold, message in [(0, 0, SHARES_RANGE), (0, 1, SHARES_RANGE),
                                       (256, 2, SHARES_RANGE), (3, 5, THRESHOLD_RANGE),
                                       (5, 1, at_least_2), (5, 0, THRESHOLD_RANGE),
                                       (1, 2, THRESHOLD_RANGE), (2, 1, at_least_2),
                                       (1, 0, THRESHOLD_RANGE)]:
        r = cofferd.put("sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
        try:
            assert_error(r, 400, message)
        except AssertionError as e:
            failures.append(f"{shares}/{threshold} -> {e}")
    assert not failures, failures
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_init_without_shares_is_400(cofferd):
    # A missing secret_shares is refused as out of range (it counts as 0).
    assert_error(cofferd.put("sys/init"), 400, SHARES_RANGE)
    assert_error(cofferd.put("sys/init", json={}), 400, SHARES_RANGE)
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_edge_share_counts_are_accepted(cofferd_factory):
    big = cofferd_factory()
    assert len(big.init(255, 255)["keys"]) == 255
    two = cofferd_factory()
    assert len(two.init(2, 2)["keys"]) == 2


def test_unknown_fields_and_nulls_are_ignored(cofferd):
    r = cofferd.put("sys/init", json={"secret_shares": 1, "secret_threshold": 1,
                                      "root_token_pgp_key": None, "pgp_keys": None,
                                      "stored_shares": 0, "extra": {"x": [1]}})
    assert r.status_code == 200, r.text


def test_second_init_is_400(unsealed):
    s = unsealed.server
    assert_error(s.put("sys/init", json={"secret_shares": 1, "secret_threshold": 1}), 400,
                 "Vault is already initialized")
    # The first init still holds: its root token works.
    assert s.key_status(unsealed.root_token)["term"] == 1


def test_oversize_body_is_413_and_server_stays_up(cofferd):
    size = 1048576 + 4096
    head = (f"PUT /v1/sys/init HTTP/1.1\r\nHost: 127.0.0.1:{cofferd.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode()
    chunks = (b" " * 65536 for _ in range(size // 65536 + 1))
    status, headers, body = raw_exchange(cofferd.port, head, chunks)
    assert status == 413, body[:300]
    assert headers.get("content-type") == "application/json", headers
    assert json.loads(body) == {"errors": ["request body too large (limit 1048576 bytes)"]}, body
    assert cofferd.get("sys/init").json() == {"initialized": False}
    assert cofferd.get("sys/health").status_code == 501


def test_oversize_chunked_body_is_413(cofferd_factory):
    s = cofferd_factory({"max_request_size": 4096})
    head = (f"PUT /v1/sys/init HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b" " * 1024
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(16)] + [b"0\r\n\r\n"]
    status, headers, body = raw_exchange(s.port, head, chunks)
    assert status == 413, body[:300]
    assert headers.get("content-type") == "application/json", headers
    assert json.loads(body) == {"errors": ["request body too large (limit 4096 bytes)"]}, body
    # Under the limit is fine.
    r = s.put("sys/init", data=b'{"secret_shares":1,"secret_threshold":1}' + b" " * 3000)
    assert r.status_code == 200, r.text


def test_unknown_routes_are_404(unsealed):
    s, token = unsealed.server, unsealed.root_token
    for path in ["sys/nope", "sys/key-status/extra", "nope", "nope/deeper/path", "sys/",
                 "sys/init/x"]:
        for method in ("GET", "PUT"):
            assert_error(s.request(method, path, token=token), 404, "unsupported path")
    assert_error(s.session.get(f"{s.url}/not-v1", timeout=10), 404, "unsupported path")


@pytest.mark.parametrize("method,path", [("DELETE", "sys/init"), ("POST", "sys/seal-status"),
                                         ("GET", "sys/unseal"), ("DELETE", "sys/health"),
                                         ("PUT", "sys/health"), ("GET", "sys/seal"),
                                         ("DELETE", "sys/rotate"), ("PUT", "sys/key-status"),
                                         ("POST", "sys/leader")])
def test_wrong_method_is_405(module_unsealed, method, path):
    s = module_unsealed.server
    assert_error(s.request(method, path, token=module_unsealed.root_token), 405,
                 "unsupported operation")


def test_unseal_before_init_is_refused(cofferd):
    # 400 here (as Vault's sys/unseal), where data routes answer 501 with the same words.
    r = cofferd.put("sys/unseal", json={"key": "00" * 33})
    assert_error(r, 400, "Vault is not initialized")
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_unseal_with_wrong_types_is_400(cofferd):
    cofferd.init(1, 1)
    for body in [{"key": 1}, {"key": True}, {"key": {"a": 1}}, {"reset": "yes"}]:
        assert_error(cofferd.put("sys/unseal", json=body), 400,
                     "key must be a string and reset a boolean")
    assert cofferd.seal_status()["sealed"] is True


def test_server_survives_a_barrage_of_bad_input(unsealed):
    s, token = unsealed.server, unsealed.root_token
    # Only malformed JSON here: a valid body would seal or rotate.
    junk = [(b"{", parse_error(1, 1)), (b"\x00" * 100, parse_error(1, 1)),
            (b'{"key": "' + b"a" * 100000, parse_error(1, 100009)), (b"[" * 5000, NESTED),
            (b'{"secret_shares":1e400}', parse_error(1, 22)),
            (b'{"\\ud800":1}', parse_error(1, 9)), (b"{'single': 1}", parse_error(1, 2))]
    for path in ("sys/init", "sys/unseal", "sys/seal", "sys/rotate"):
        for body, message in junk:
            r = s.put(path, data=body, token=token)
            assert r.status_code == 400, (path, body[:20], r.status_code, r.text[:200])
            assert_error(r, 400, message)
    # A raw garbage request line, and a connection dropped mid-body.
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01garbage \r\n\r\n")
        sock.settimeout(10)
        try:
            sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            pass
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
        sock.sendall(b"PUT /v1/sys/init HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"se")
    assert s.get("sys/health").status_code == 200
    assert s.key_status(token)["term"] == 1
    assert s.seal_status()["sealed"] is False
