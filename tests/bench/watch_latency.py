#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""sys/watch wake-up latency (issue #4): how soon after a KV write a held watch on its path answers.

    /usr/bin/python3 tests/bench/watch_latency.py                 # build-release/cofferd, 50 trials
    COFFERD=build-kvt/cofferd TRIALS=100 /usr/bin/python3 tests/bench/watch_latency.py

Not a test (ctest never runs it). Starts `cofferd --dev --disable-mlock --log-level error` on a free
loopback port with a fresh data dir (removed at exit). Each trial: read the current index, send a
watch {paths:[p], index, wait:"30s"} on its own connection and thread, wait until the server has
surely parked it (a fixed 50 ms, then check it is still unanswered), write p, and measure from just
before the write request is sent to the moment the watch answer is received. Each answer must be
200 with changed == [p]. Prints the median, p90, min and max in milliseconds, and the median of the
write's own round trip for comparison (the write is acknowledged only after its commit; the watch is
woken after the commit too, so the two are close).
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import session, start_dev  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COFFERD = Path(os.environ.get("COFFERD", REPO / "build-release" / "cofferd"))
TRIALS = int(os.environ.get("TRIALS", "50"))
PATH = "secret/data/bench/watched"


def main():
    if not COFFERD.is_file():
        sys.exit(f"watch_latency: no cofferd at {COFFERD}; build it with\n"
                 "  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release "
                 "-DCOFFER_TESTS=OFF && ninja -C build-release cofferd")
    work = Path(tempfile.mkdtemp(prefix="coffer-watch-bench-"))
    proc, url, root = start_dev(COFFERD, work, "watch_latency")
    try:
        writer = session(root)
        watcher = session(root)
        r = writer.post(f"{url}/v1/{PATH}", json={"data": {"n": 0}}, timeout=10)
        r.raise_for_status()
        latencies, writes = [], []
        for i in range(1, TRIALS + 1):
            index = watcher.post(f"{url}/v1/sys/watch", json={"paths": [PATH], "index": 0},
                                 timeout=10).json()["data"]["index"]
            result = {}

            def hold():
                resp = watcher.post(f"{url}/v1/sys/watch",
                                    json={"paths": [PATH], "index": index, "wait": "30s"},
                                    timeout=40)
                result["at"] = time.perf_counter()
                result["resp"] = resp

            t = threading.Thread(target=hold)
            t.start()
            time.sleep(0.05)  # let the server park the request
            if result:
                sys.exit(f"watch_latency: trial {i}: the watch answered before the write: "
                         f"{result['resp'].text}")
            start = time.perf_counter()
            w = writer.post(f"{url}/v1/{PATH}", json={"data": {"n": i}}, timeout=10)
            acked = time.perf_counter()
            t.join(40)
            w.raise_for_status()
            resp = result["resp"]
            data = resp.json()["data"] if resp.status_code == 200 else None
            if data is None or data["changed"] != [PATH]:
                sys.exit(f"watch_latency: trial {i}: unexpected answer {resp.status_code} "
                         f"{resp.text[:300]}")
            latencies.append((result["at"] - start) * 1000)
            writes.append((acked - start) * 1000)
        lat = sorted(latencies)
        p90 = lat[min(len(lat) - 1, int(round(0.9 * len(lat))) - 1)]
        print(f"cofferd: {COFFERD}")
        print(f"trials: {TRIALS}")
        print(f"write -> watch answer: median {statistics.median(lat):.2f} ms, p90 {p90:.2f} ms, "
              f"min {lat[0]:.2f} ms, max {lat[-1]:.2f} ms")
        print(f"write round trip (for comparison): median {statistics.median(writes):.2f} ms")
        print(json.dumps({"median_ms": round(statistics.median(lat), 3), "p90_ms": round(p90, 3),
                          "trials": TRIALS}))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
