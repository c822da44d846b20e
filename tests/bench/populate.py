# SPDX-License-Identifier: Apache-2.0
"""Writes secret/data/bench/s0 (a 100-byte value) and s1..sN-1 through the HTTP API, from 16
threads over keep-alive connections. usage: populate.py ADDR TOKEN N"""
import http.client
import json
import sys
import threading
import urllib.parse


def worker(addr, token, keys):
    u = urllib.parse.urlparse(addr)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    body = json.dumps({"data": {"value": "v" * 90}})
    for k in keys:
        conn.request("POST", f"/v1/secret/data/bench/s{k}", body,
                     {"X-Vault-Token": token, "Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise SystemExit(f"populate: s{k}: HTTP {resp.status}")
    conn.close()


def main():
    addr, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = [threading.Thread(target=worker, args=(addr, token, range(i, n, 16)))
               for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
