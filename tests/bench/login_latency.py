#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Login latency of the workload-identity methods (issue: Kubernetes and JWT auth), against an
AppRole login measured in the same run as the baseline (both create a token the same way; the
difference is the token check).

    /usr/bin/python3 tests/bench/login_latency.py              # build-release/cofferd
    COFFERD=build-test/cofferd LOGINS=200 ROUNDS=3 /usr/bin/python3 tests/bench/login_latency.py

Not a test (ctest never runs it). Starts `cofferd --dev --disable-mlock --log-level error` on a free
loopback port, and one scripted TokenReview endpoint over HTTPS (tests/pylib/workload_identity.py:
no Kubernetes API server runs here, so a Python stand-in speaking the TokenReview wire format
answers; its own time is part of the TokenReview figure). Methods, one keep-alive connection each:
  approle        role_id + secret_id (bind_secret_id with unlimited uses)
  k8s-local      kubernetes, disable_token_review with pem_keys: RS256 signature checked locally
  k8s-review     kubernetes, TokenReview against the stand-in (pem_keys too, as in production)
  jwt            jwt, jwt_validation_pubkeys, RS256
Each round runs LOGINS/ROUNDS logins of every method in turn (alternating, so drift hits all
alike); every login must answer 200. Tokens are signed before timing. Prints, per method, the
median and p90 of the per-login round trip in milliseconds and the median's ratio to AppRole's.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "pylib"))
from benchlib import session, start_dev  # noqa: E402
from workload_identity import (TokenReviewServer, new_key, projected_token,  # noqa: E402
                               public_pem, tls_material)

ROOT = HERE.parent.parent
COFFERD = Path(os.environ.get("COFFERD", ROOT / "build-release" / "cofferd"))
LOGINS = int(os.environ.get("LOGINS", "1000"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))


def ok(resp):
    if resp.status_code not in (200, 204):
        sys.exit(f"login_latency: {resp.request.method} {resp.url}: {resp.status_code} {resp.text}")
    return resp


def main():
    work = Path(tempfile.mkdtemp(prefix="coffer-bench-login-"))
    proc = None
    try:
        proc, url, root = start_dev(COFFERD, work, "login_latency")
        admin = session(root)
        v1 = url + "/v1/"
        key = new_key("rsa")
        tls = tls_material(work / "tls")
        review = TokenReviewServer(tls.server)
        ok(admin.post(v1 + "sys/auth/approle", json={"type": "approle"}))
        ok(admin.post(v1 + "auth/approle/role/bench", json={"token_ttl": "1h"}))
        role_id = ok(admin.get(v1 + "auth/approle/role/bench/role-id")).json()["data"]["role_id"]
        secret_id = ok(admin.post(v1 + "auth/approle/role/bench/secret-id")).json()["data"][
            "secret_id"]
        role = {"bound_service_account_names": "app", "bound_service_account_namespaces": "default",
                "audience": "coffer", "token_ttl": "1h"}
        for mount, config in (("k8s-local", {"pem_keys": [public_pem(key)],
                                             "disable_token_review": True}),
                              ("k8s-review", {"pem_keys": [public_pem(key)],
                                              "kubernetes_host": review.url,
                                              "kubernetes_ca_cert": tls.ca_pem,
                                              "token_reviewer_jwt": "bench-reviewer",
                                              "disable_local_ca_jwt": True})):
            ok(admin.post(v1 + "sys/auth/" + mount, json={"type": "kubernetes"}))
            ok(admin.post(v1 + f"auth/{mount}/config", json=config))
            ok(admin.post(v1 + f"auth/{mount}/role/app", json=role))
        ok(admin.post(v1 + "sys/auth/jwt", json={"type": "jwt"}))
        ok(admin.post(v1 + "auth/jwt/config", json={"jwt_validation_pubkeys": [public_pem(key)]}))
        ok(admin.post(v1 + "auth/jwt/role/app", json={"role_type": "jwt", "user_claim": "sub",
                                                       "bound_audiences": ["coffer"],
                                                       "token_ttl": "1h"}))
        per_round = max(1, LOGINS // ROUNDS)
        bodies = {
            "approle": lambda i: {"role_id": role_id, "secret_id": secret_id},
            "k8s-local": lambda i: {"role": "app", "jwt": tokens[i]},
            "k8s-review": lambda i: {"role": "app", "jwt": tokens[i]},
            "jwt": lambda i: {"role": "app", "jwt": tokens[i]},
        }
        paths = {"approle": "auth/approle/login", "k8s-local": "auth/k8s-local/login",
                 "k8s-review": "auth/k8s-review/login", "jwt": "auth/jwt/login"}
        tokens = [projected_token(key, "RS256", lifetime=3600) for _ in range(per_round)]
        clients = {m: session("") for m in bodies}
        for c in clients.values():
            c.headers.pop("X-Vault-Token", None)
        times = {m: [] for m in bodies}
        for _ in range(ROUNDS):
            for m in bodies:
                c, path = clients[m], v1 + paths[m]
                for i in range(per_round):
                    body = bodies[m](i)
                    t0 = time.perf_counter()
                    r = c.post(path, json=body)
                    times[m].append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        sys.exit(f"login_latency: {m}: {r.status_code} {r.text}")
        base = statistics.median(times["approle"])
        print(f"{'method':<12} {'logins':>6} {'median ms':>10} {'p90 ms':>8} {'vs approle':>10}")
        for m, ts in times.items():
            ts.sort()
            med = statistics.median(ts)
            print(f"{m:<12} {len(ts):>6} {med * 1000:>10.3f} {ts[int(len(ts) * 0.9)] * 1000:>8.3f} "
                  f"{med / base:>10.2f}")
        print(f"TokenReview requests answered by the stand-in: {len(review.requests)}")
        review.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
