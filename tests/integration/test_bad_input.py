# SPDX-License-Identifier: Apache-2.0
"""Bad input gets a clear 4xx with a JSON error, changes nothing, and never brings cofferd down."""
import select
import socket
import time

import pytest

from conftest import assert_error

GOOD_TOKEN_SHAPE = "cof." + "A" * 43


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
    for body in [b"{", b"{\"secret_shares\": 1,", b"not json", b"[1, 2", b"\xff\xfe{}",
                 b"{\"secret_shares\": 1} trailing", b"[]", b"\"str\"", b"42", b"null"]:
        r = cofferd.put("sys/init", data=body, headers={"Content-Type": "application/json"})
        assert_error(r, 400)
    assert_error(cofferd.put("sys/init", data=b'{"secret_shares": "\xff\xfe"}'), 400)
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_deeply_nested_json_is_400(cofferd):
    body = b"[" * 100_000 + b"]" * 100_000
    assert_error(cofferd.put("sys/init", data=body), 400)
    body = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert_error(cofferd.put("sys/init", data=body), 400)
    # Past the server's own limit (128 levels), though jansson would take 2048: every later walk
    # of a body (dump, merge patch, audit) stays shallow on the small stacks of the write pool.
    body = b'{"a":' * 129 + b"1" + b"}" * 129
    msg = assert_error(cofferd.put("sys/init", data=body), 400)["errors"][0]
    assert "nested deeper than 128" in msg, msg
    # Brackets inside strings do not count.
    body = b'{"secret_shares":"' + b"[" * 500 + b'"}'
    assert "nested" not in assert_error(cofferd.put("sys/init", data=body), 400)["errors"][0]
    assert cofferd.get("sys/health").status_code == 501


def test_wrong_types_for_shares_are_400(cofferd):
    # Threshold 1 makes a server that coerces true or 1.5 to 1 init successfully, and fail here.
    failures = []
    for bad in ["abc", True, 1.5, [1], {"n": 1}, -1, 2**64, 2**32 + 1]:
        for body in ({"secret_shares": bad, "secret_threshold": 1},
                     {"secret_shares": 1, "secret_threshold": bad}):
            r = cofferd.put("sys/init", json=body)
            if r.status_code != 400 or "errors" not in r.json():
                failures.append(f"{body} -> {r.status_code} {r.text[:100]}")
    assert not failures, failures
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_bad_share_counts_are_400(cofferd):
    failures = []
    for shares, threshold in [(0, 0), (0, 1), (256, 2), (3, 5), (5, 1), (5, 0), (1, 2), (2, 1),
                              (1, 0)]:
        r = cofferd.put("sys/init", json={"secret_shares": shares, "secret_threshold": threshold})
        if r.status_code != 400 or r.headers.get("Content-Type") != "application/json":
            failures.append(f"{shares}/{threshold} -> {r.status_code} {r.text[:100]}")
    assert not failures, failures
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_init_without_shares_is_400(cofferd):
    assert_error(cofferd.put("sys/init"), 400)
    assert_error(cofferd.put("sys/init", json={}), 400)
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
    assert_error(s.put("sys/init", json={"secret_shares": 1, "secret_threshold": 1}), 400)
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
    assert cofferd.get("sys/init").json() == {"initialized": False}
    assert cofferd.get("sys/health").status_code == 501


def test_oversize_chunked_body_is_413(cofferd_factory):
    s = cofferd_factory({"max_request_size": 4096})
    head = (f"PUT /v1/sys/init HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b" " * 1024
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(16)] + [b"0\r\n\r\n"]
    status, headers, _ = raw_exchange(s.port, head, chunks)
    assert status == 413
    assert headers.get("content-type") == "application/json", headers
    # Under the limit is fine.
    r = s.put("sys/init", data=b'{"secret_shares":1,"secret_threshold":1}' + b" " * 3000)
    assert r.status_code == 200, r.text


def test_unknown_routes_are_404(unsealed):
    s, token = unsealed.server, unsealed.root_token
    for path in ["sys/nope", "sys/key-status/extra", "nope", "nope/deeper/path", "sys/",
                 "sys/init/x"]:
        for method in ("GET", "PUT"):
            assert_error(s.request(method, path, token=token), 404)
    r = s.session.get(f"{s.url}/not-v1", timeout=10)
    assert r.status_code == 404


@pytest.mark.parametrize("method,path", [("DELETE", "sys/init"), ("POST", "sys/seal-status"),
                                         ("GET", "sys/unseal"), ("DELETE", "sys/health"),
                                         ("PUT", "sys/health"), ("GET", "sys/seal"),
                                         ("DELETE", "sys/rotate"), ("PUT", "sys/key-status"),
                                         ("POST", "sys/leader")])
def test_wrong_method_is_405(module_unsealed, method, path):
    s = module_unsealed.server
    assert_error(s.request(method, path, token=module_unsealed.root_token), 405)


def test_unseal_before_init_is_refused(cofferd):
    r = cofferd.put("sys/unseal", json={"key": "00" * 33})
    assert r.status_code in (400, 501), r.text
    assert_error(r, r.status_code)
    assert cofferd.get("sys/init").json() == {"initialized": False}


def test_unseal_with_wrong_types_is_400(cofferd):
    cofferd.init(1, 1)
    for body in [{"key": 1}, {"key": True}, {"key": {"a": 1}}, {"reset": "yes"}]:
        assert_error(cofferd.put("sys/unseal", json=body), 400)
    assert cofferd.seal_status()["sealed"] is True


def test_server_survives_a_barrage_of_bad_input(unsealed):
    s, token = unsealed.server, unsealed.root_token
    # Only malformed JSON here: a valid body would seal or rotate.
    junk = [b"{", b"\x00" * 100, b'{"key": "' + b"a" * 100000, b"[" * 5000,
            b'{"secret_shares":1e400}', b'{"\\ud800":1}', b"{'single': 1}"]
    for path in ("sys/init", "sys/unseal", "sys/seal", "sys/rotate"):
        for body in junk:
            r = s.put(path, data=body, token=token)
            assert 400 <= r.status_code < 500, (path, body[:20], r.status_code, r.text[:200])
            assert r.headers.get("Content-Type") == "application/json"
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
