# SPDX-License-Identifier: Apache-2.0
"""The HTTP/1.1 client that the coffer CLI and coffer-agent use for http:// (common/http_plain.c),
against scripted servers on loopback: chunked answers, answers that run to the close, a kept
connection the server has closed (the request goes again on a new one), headers it must send
(the token, Content-Type, Content-Length, Host), malformed answers (a clear error, exit 1), and
an address with a path prefix."""
import json
import os
import socket
import subprocess
import threading
from pathlib import Path

from coffer_testlib import REPO

BUILD = Path(os.environ.get("COFFER_BUILD_DIR", REPO / "build-test"))
TOKEN = "cof.http-client-test-token-0123456789abcdefghijklm"


class Scripted:
    """A TCP server that reads each request and answers with the next scripted bytes; an answer
    of None closes the connection without answering, and "close" after an answer closes it."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += conn.recv(65536)
        return head.decode(), body

    def serve(self):
        while self.answers:
            conn, _ = self.sock.accept()
            with conn:
                while self.answers:
                    req = self.read_request(conn)
                    if req is None:
                        break
                    self.requests.append(req)
                    answer = self.answers.pop(0)
                    if answer is None:
                        break
                    close = isinstance(answer, tuple)
                    conn.sendall(answer[0] if close else answer)
                    if close:
                        break

    def addr(self, prefix=""):
        return f"http://127.0.0.1:{self.port}{prefix}"


def coffer(addr, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "COFFER_ADDR": addr,
           "COFFER_TOKEN": TOKEN, "HOME": "/nonexistent"}
    return subprocess.run([str(BUILD / "coffer"), *args], capture_output=True, text=True,
                          timeout=30, env=env, stdin=subprocess.DEVNULL)


def ok_answer(data, extra=b""):
    body = json.dumps({"data": data}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
            str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def chunked(data):
    body = json.dumps({"data": data}).encode()
    parts = [body[:7], body[7:30], body[30:]]
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        out += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    return out + b"0\r\n\r\n"


def read_json(done):
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_chunked_answer_is_put_together():
    srv = Scripted([chunked({"greeting": "hello " * 50})])
    got = read_json(coffer(srv.addr(), "read", "-format=json", "secret/x"))
    assert got["data"]["greeting"] == "hello " * 50


def test_an_answer_without_length_runs_to_the_close():
    body = json.dumps({"data": {"k": "v"}}).encode()
    srv = Scripted([(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body,)])
    got = read_json(coffer(srv.addr(), "read", "-format=json", "secret/x"))
    assert got["data"] == {"k": "v"}


def test_the_request_carries_token_host_type_and_length():
    srv = Scripted([ok_answer({"k": "v"}, b"Connection: close\r\n")])
    done = coffer(srv.addr(), "write", "-format=json", "secret/x", "a=b")
    assert done.returncode == 0, done.stderr
    head, body = srv.requests[0]
    lines = head.split("\r\n")
    assert lines[0] == "PUT /v1/secret/x HTTP/1.1" or lines[0].startswith("POST /v1/secret/x "), \
        lines[0]
    headers = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip() for ln in lines[1:]}
    assert headers["x-vault-token"] == TOKEN
    assert headers["host"] == f"127.0.0.1:{srv.port}"
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body) == {"a": "b"}


def test_a_kept_connection_closed_by_the_server_is_opened_again():
    # The first answer keeps the connection (HTTP/1.1, no close); the server then drops it
    # without a word when the next request comes, and answers on a new connection.
    mount = {"path": "secret/", "type": "kv", "options": {"version": "2"}}
    secret = {"data": {"k": "v"}, "metadata": {"version": 3}}
    srv = Scripted([ok_answer(mount), None, ok_answer(secret)])
    done = coffer(srv.addr(), "kv", "get", "-format=json", "secret/app")
    # kv get asks for the mount first, then reads: two requests, the second one sent twice.
    assert len(srv.requests) == 3, srv.requests
    first_lines = [r[0].split("\r\n")[0] for r in srv.requests]
    assert first_lines[1] == first_lines[2], first_lines
    assert first_lines[1].startswith("GET /v1/secret/data/app"), first_lines
    assert read_json(done)["data"]["data"] == {"k": "v"}


def test_a_malformed_answer_is_an_error_not_a_crash():
    for answer in (b"SSH-2.0-OpenSSH_9\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                   b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        srv = Scripted([(answer,)])
        done = coffer(srv.addr(), "read", "secret/x")
        assert done.returncode == 1, (answer, done.stdout, done.stderr)
        assert "malformed" in done.stderr or "closed" in done.stderr, done.stderr


def test_an_address_with_a_path_prefix_keeps_it():
    srv = Scripted([ok_answer({"k": "v"}, b"Connection: close\r\n")])
    read_json(coffer(srv.addr("/vault/"), "read", "-format=json", "secret/x"))
    assert srv.requests[0][0].startswith("GET /vault/v1/secret/x HTTP/1.1"), srv.requests[0][0]


def test_nobody_listening_says_so():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    done = coffer(f"http://127.0.0.1:{port}", "read", "secret/x")
    assert done.returncode == 1 and "connect" in done.stderr.lower(), done.stderr


def redirect(location, status=b"307 Temporary Redirect"):
    return (b"HTTP/1.1 " + status + b"\r\nLocation: " + location.encode() +
            b"\r\nContent-Length: 0\r\n\r\n")


def test_a_standby_redirect_is_followed_with_method_body_and_token():
    """An HA standby answers 307 with the active node's address (Vault's rule): the CLI and the
    agent repeat the same request there, the token and body included, as the Vault client does."""
    active = Scripted([ok_answer({"k": "v"}, b"Connection: close\r\n")])
    standby = Scripted([redirect(active.addr("/v1/secret/x?x=1"))])
    done = coffer(standby.addr(), "write", "-format=json", "secret/x", "a=b")
    assert done.returncode == 0, done.stderr
    head, body = active.requests[0]
    lines = head.split("\r\n")
    assert lines[0].split(" ")[1] == "/v1/secret/x?x=1", lines[0]
    assert lines[0].split(" ")[0] == standby.requests[0][0].split(" ")[0]
    assert f"X-Vault-Token: {TOKEN}" in lines
    assert json.loads(body) == {"a": "b"}


def test_redirects_stop_after_three_and_never_change_scheme():
    loop = Scripted([b""] * 4)  # replaced below, before the first request: the port is known
    loop.answers[:] = [redirect(loop.addr("/v1/secret/x"))] * 4
    done = coffer(loop.addr(), "read", "secret/x")
    assert done.returncode == 1
    assert len(loop.requests) == 4, loop.requests  # the request and three redirects
    tls = Scripted([redirect("https://127.0.0.1:1/v1/secret/x")])
    done = coffer(tls.addr(), "read", "secret/x")
    assert done.returncode == 1 and "not a http:// address" in done.stderr, done.stderr
