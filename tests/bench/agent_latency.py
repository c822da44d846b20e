#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""coffer-agent's sidecar latency and footprint (issue #7): how soon after a KV write the file in
the agent's tmpfs shows the new value, and what the agent costs in memory and on disk.

    sudo /usr/bin/python3 tests/bench/agent_latency.py          # build-release/, 20 trials
    COFFERD=... COFFER_AGENT=... TRIALS=50 RSS_AFTER_S=60 \\
        sudo /usr/bin/python3 tests/bench/agent_latency.py

Not a test (ctest never runs it). Needs root (unshare -m and a tmpfs mount) and /usr/bin/time.
Starts `cofferd --dev --disable-mlock --log-level error` on a free loopback port with a fresh data
dir (removed at exit) and stores ten secrets of 100 bytes, secret/data/bench/s0..s9. Then:

1. An init run of the agent over the ten secrets (raw format) in a private mount namespace with a
   tmpfs on the destination, under `/usr/bin/time -v`: its peak RSS ("Maximum resident set size").
2. A sidecar agent over the same ten secrets (watch on, poll interval 5 min) in its own namespace
   and tmpfs. Each trial writes s0 with a new value and measures from just before the write request
   is sent to the moment the file, read through /proc/<agent pid>/root every millisecond, holds
   the new value. Prints the median, p90, min and max in milliseconds (issue #7's goal: median
   <= 100 ms), and the median of the write's own round trip for comparison.
3. The sidecar's VmRSS once it has run RSS_AFTER_S seconds (60 by default), and the size of the
   coffer-agent binary.
"""
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import session, start_dev  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COFFERD = Path(os.environ.get("COFFERD", REPO / "build-release" / "cofferd"))
AGENT = Path(os.environ.get("COFFER_AGENT", REPO / "build-release" / "coffer-agent"))
TRIALS = int(os.environ.get("TRIALS", "20"))
RSS_AFTER_S = float(os.environ.get("RSS_AFTER_S", "60"))
N_SECRETS = 10
POLL_S = 0.001
TRIAL_TIMEOUT_S = 10


def config(url, token_file, dest, mode):
    cfg = {
        "server": {"address": url, "timeout": "10s"},
        "auth": {"method": "token_file", "path": str(token_file)},
        "destination": {"dir": str(dest), "mode": "0400", "require_tmpfs": True},
        "secrets": [{"name": f"s{i}", "path": f"secret/data/bench/s{i}", "file": f"s{i}",
                     "format": "raw", "key": "value"} for i in range(N_SECRETS)],
        "mode": mode, "watch": True, "poll_interval": "5m",
    }
    return json.dumps(cfg, indent=2)


def in_namespace(dest, command):
    """argv that runs command (a shell fragment) in a private mount namespace with a tmpfs on
    dest."""
    script = f'mount -t tmpfs -o size=1m,mode=0755 tmpfs "{dest}" || exit 99\n{command}\n'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script]


def percentile(sorted_values, q):
    i = int(round(q * len(sorted_values))) - 1
    return sorted_values[min(len(sorted_values) - 1, max(0, i))]


def init_peak_rss_kb(work, url, token_file):
    dest = work / "init-dest"
    dest.mkdir()
    cfg = work / "init.json"
    cfg.write_text(config(url, token_file, dest, "init"))
    proc = subprocess.run(in_namespace(dest, f'/usr/bin/time -v "{AGENT}" --config "{cfg}" && '
                                             f'ls "{dest}" | wc -l'),
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        sys.exit(f"agent_latency: the init run failed:\n{proc.stderr[-3000:]}")
    if proc.stdout.strip() != str(N_SECRETS):
        sys.exit(f"agent_latency: the init run wrote {proc.stdout.strip()} files, not {N_SECRETS}")
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.split(":")[1])
    sys.exit("agent_latency: no 'Maximum resident set size' in /usr/bin/time -v's output")


def main():
    if os.geteuid() != 0:
        sys.exit("agent_latency: needs root (unshare -m and mount -t tmpfs)")
    for binary in (COFFERD, AGENT):
        if not binary.is_file():
            sys.exit(f"agent_latency: no {binary}; build it with\n"
                     "  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release "
                     "-DCOFFER_TESTS=OFF && ninja -C build-release coffer-agent cofferd")
    if not Path("/usr/bin/time").is_file():
        sys.exit("agent_latency: needs /usr/bin/time (Debian package time)")
    work = Path(tempfile.mkdtemp(prefix="coffer-agent-bench-"))
    server, url, root = start_dev(COFFERD, work, "agent_latency")
    sidecar = None
    try:
        writer = session(root)
        for i in range(N_SECRETS):
            writer.post(f"{url}/v1/secret/data/bench/s{i}",
                        json={"data": {"value": secrets.token_hex(50)}},
                        timeout=10).raise_for_status()
        token_file = work / "token"
        token_file.write_text(root + "\n")
        os.chmod(token_file, 0o600)

        init_rss_kb = init_peak_rss_kb(work, url, token_file)

        dest = work / "sidecar-dest"
        dest.mkdir()
        cfg = work / "sidecar.json"
        cfg.write_text(config(url, token_file, dest, "sidecar"))
        sidecar = subprocess.Popen(in_namespace(dest, f'exec "{AGENT}" --config "{cfg}"'),
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=open(work / "agent.log", "wb"))
        started = time.monotonic()
        file_s0 = Path(f"/proc/{sidecar.pid}/root") / str(dest).lstrip("/") / "s0"
        ready = file_s0.parent / ".ready"
        while not ready.exists():
            if sidecar.poll() is not None or time.monotonic() > started + 15:
                sys.exit("agent_latency: the sidecar did not become ready:\n" +
                         (work / "agent.log").read_text(errors="replace")[-2000:])
            time.sleep(0.01)

        latencies, writes = [], []
        for i in range(1, TRIALS + 1):
            want = f"trial-{i}-{secrets.token_hex(16)}".encode()
            start = time.perf_counter()
            w = writer.post(f"{url}/v1/secret/data/bench/s0",
                            json={"data": {"value": want.decode()}}, timeout=10)
            acked = time.perf_counter()
            w.raise_for_status()
            while True:
                try:
                    if file_s0.read_bytes() == want:
                        break
                except OSError:
                    pass
                if time.perf_counter() - start > TRIAL_TIMEOUT_S:
                    sys.exit(f"agent_latency: trial {i}: the file did not change within "
                             f"{TRIAL_TIMEOUT_S}s:\n" +
                             (work / "agent.log").read_text(errors="replace")[-2000:])
                time.sleep(POLL_S)
            latencies.append((time.perf_counter() - start) * 1000)
            writes.append((acked - start) * 1000)
            time.sleep(0.1)  # let the agent park its next watch

        while time.monotonic() < started + RSS_AFTER_S:
            if sidecar.poll() is not None:
                sys.exit("agent_latency: the sidecar exited:\n" +
                         (work / "agent.log").read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        vm_rss = next(line.split(":")[1].strip()
                      for line in Path(f"/proc/{sidecar.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))

        lat = sorted(latencies)
        print(f"cofferd: {COFFERD}")
        print(f"coffer-agent: {AGENT} ({AGENT.stat().st_size} bytes, "
              f"{AGENT.stat().st_size / 1024:.0f} KiB)")
        print(f"trials: {TRIALS}, {N_SECRETS} secrets, file polled every {POLL_S * 1000:.0f} ms")
        print(f"write -> file updated: median {statistics.median(lat):.2f} ms, "
              f"p90 {percentile(lat, 0.9):.2f} ms, min {lat[0]:.2f} ms, max {lat[-1]:.2f} ms")
        print(f"write round trip alone: median {statistics.median(writes):.2f} ms")
        print(f"init run, {N_SECRETS} secrets: peak RSS {init_rss_kb} kB")
        print(f"sidecar after {RSS_AFTER_S:.0f}s: VmRSS {vm_rss}")
    finally:
        if sidecar is not None and sidecar.poll() is None:
            sidecar.send_signal(signal.SIGTERM)
            sidecar.wait(10)
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
