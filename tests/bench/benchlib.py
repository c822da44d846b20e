# SPDX-License-Identifier: Apache-2.0
"""What the Python benchmarks share: no proxies, a client session with a token, and a
`cofferd --dev` on a free loopback port. Imported, not run."""
import os
import secrets
import socket
import subprocess
import sys
import time

for _name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
    os.environ.pop(_name, None)

import requests  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(token):
    sess = requests.Session()
    sess.trust_env = False
    sess.headers["X-Vault-Token"] = token
    return sess


def start_dev(cofferd, work, who):
    """Start `cofferd --dev` with its data and log (cofferd.log) in work and wait until it
    answers; exits naming who when it does not. Returns (process, url, root token)."""
    root = "cof." + secrets.token_urlsafe(32)[:43]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(work / "cofferd.log", "wb") as log:
        proc = subprocess.Popen([str(cofferd), "--dev", "--disable-mlock", "--log-level", "error",
                                 "--listen", f"127.0.0.1:{port}", "--root-token", root,
                                 "--data-dir", str(work)], stdout=subprocess.DEVNULL,
                                stderr=log, start_new_session=True)
    deadline = time.monotonic() + 15
    while True:
        try:
            if requests.get(url + "/v1/sys/health", timeout=1).status_code == 200:
                return proc, url, root
        except requests.exceptions.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"{who}: cofferd did not start:\n" +
                     (work / "cofferd.log").read_text(errors="replace")[-2000:])
        time.sleep(0.05)
