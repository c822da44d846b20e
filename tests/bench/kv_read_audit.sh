#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KV read benchmark with the audit log (issue #5): wrk, 2 threads, 32 connections, a KV v2 read of
# a 100-byte secret with a non-root token, against the same cofferd (same data, keyfile seal)
# without and then with a file audit device, in one run. Prints both rates and the ratio
# (goal >= 0.8). The audit file goes to $COFFER_BENCH_AUDIT_DIR (default: the temporary dir).
# usage: tests/bench/kv_read_audit.sh [SECRETS_STORED (default 100)] [SECONDS (default 10)] [ROUNDS (default 3)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stored="${1:-100}"
secs="${2:-10}"
rounds="${3:-3}"
audit_dir="${COFFER_BENCH_AUDIT_DIR:-$bench_tmp}"

bench_build_release
port="$(bench_free_port)"
addr="http://127.0.0.1:$port"
mkdir -p "$bench_tmp/data"
head -c 32 /dev/urandom >"$bench_tmp/seal.key"
chmod 600 "$bench_tmp/seal.key"

# A config file for the same server, with the audit device or without ($1 = the "audit" JSON).
bench_config() { # FILE AUDIT_JSON
	cat >"$1" <<JSON
{"listen": "127.0.0.1:$port", "log_level": "warn",
 "storage": {"type": "sqlite", "path": "$bench_tmp/data/coffer.db"},
 "seal": {"type": "keyfile", "path": "$bench_tmp/seal.key"},
 "audit": $2}
JSON
}

server_pid=""
bench_start() { # CONFIG
	"$bench_build/cofferd" --config "$1" >>"$bench_tmp/cofferd.out" 2>>"$bench_tmp/cofferd.err" &
	server_pid=$!
	bench_pids+=("$server_pid")
	bench_wait_http "$addr/v1/sys/health"
}
bench_stop() {
	kill "$server_pid"
	wait "$server_pid" || true
}

bench_config "$bench_tmp/off.json" '[]'
bench_config "$bench_tmp/on.json" \
	"[{\"type\": \"file\", \"options\": {\"file_path\": \"$audit_dir/kv-read-audit.log\"}}]"
rm -f "$audit_dir/kv-read-audit.log"

# First start: init (the keyfile seal unseals at once), a reader token, the secrets.
bench_start "$bench_tmp/off.json"
root="$(curl -sf -X PUT -d '{}' "$addr/v1/sys/init" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])')"
reader="$(bench_reader_token "$addr" "$root")"
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/populate.py" "$addr" "$root" "$stored"
size="$(curl -sf -H "X-Vault-Token: $reader" "$addr/v1/secret/data/bench/s0" | wc -c)"
script="$(bench_wrk_script "$reader")"

run_wrk() { # NAME
	local before
	before="$(bench_cpu_ticks "$server_pid")"
	wrk -t2 -c32 -d"${secs}s" -s "$script" "$addr/v1/secret/data/bench/s0" |
		tee "$bench_tmp/$1.txt" | bench_wrk_rps
	if grep -q "Non-2xx" "$bench_tmp/$1.txt"; then
		echo "kv_read_audit: non-2xx responses ($1):" >&2
		cat "$bench_tmp/$1.txt" >&2
		exit 1
	fi
	bench_cpu_per_request "$before" "$(bench_cpu_ticks "$server_pid")" "$bench_tmp/$1.txt" \
		>"$bench_tmp/$1.cpu"
}

# Alternating rounds (as kv_read.sh): the median of neighbouring ratios is the figure.
echo "kv_read_audit: $stored secrets stored, response body $size bytes, wrk -t2 -c32 -d${secs}s, $rounds rounds"
ratios=()
cpu_ratios=()
for round in $(seq 1 "$rounds"); do
	off="$(run_wrk off)"
	bench_stop
	bench_start "$bench_tmp/on.json"
	on="$(run_wrk on)"
	bench_stop
	off_cpu="$(<"$bench_tmp/off.cpu")"
	on_cpu="$(<"$bench_tmp/on.cpu")"
	ratios+=("$(bench_ratio "$on" "$off")")
	cpu_ratios+=("$(bench_ratio "$on_cpu" "$off_cpu")")
	echo "  round $round: audit off $off req/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/off.txt"), server CPU $off_cpu us/req), audit on $on req/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/on.txt"), $on_cpu us/req), ratio ${ratios[-1]}"
	bench_start "$bench_tmp/off.json"
done
bench_stop
lines="$(wc -l <"$audit_dir/kv-read-audit.log")"
audit_bytes="$(wc -c <"$audit_dir/kv-read-audit.log")"
echo "  audit file: $lines lines, $audit_bytes bytes in $audit_dir/kv-read-audit.log"
echo "  server CPU per request on/off (median): $(bench_median "${cpu_ratios[@]}")"
echo "  ratio on/off (median of $rounds rounds): $(bench_median "${ratios[@]}")"
