#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KV read benchmark (issue #4): wrk, 32 connections, a KV v2 read of a 100-byte secret with a
# non-root token, against a minimal libmicrohttpd server that returns a body of the same size,
# in the same run. Prints both rates and the ratio (goal >= 0.6).
# usage: tests/bench/kv_read.sh [SECRETS_STORED (default 100)] [SECONDS (default 10)] [ROUNDS (default 3)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stored="${1:-100}"
secs="${2:-10}"
rounds="${3:-3}"

bench_build_release
bench_start_cofferd
addr="$BENCH_ADDR"
root="$BENCH_ROOT"

# A reader token: read on secret/data/bench/*, nothing else.
reader="$(bench_reader_token "$addr" "$root")"

# The secrets: s0 is read; the rest only make the store bigger.
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/populate.py" "$addr" "$root" "$stored"

size="$(curl -sf -H "X-Vault-Token: $reader" "$addr/v1/secret/data/bench/s0" | wc -c)"
bport="$(bench_free_port)"
"$bench_build/tests/bench/bench_mhd_baseline" "$bport" "$size" &
bench_pids+=($!)
bench_wait_http "http://127.0.0.1:$bport/"

script="$(bench_wrk_script "$reader")"
echo "kv_read: $stored secrets stored, response body $size bytes, wrk -t2 -c32 -d${secs}s, $rounds rounds"
# Rounds alternate the two servers, so that a slow spell of a shared machine hits both; the
# ratio of each round compares neighbours, and the median ratio is the figure.
ratios=()
for round in $(seq 1 "$rounds"); do
	kv="$(wrk -t2 -c32 -d"${secs}s" -s "$script" "$addr/v1/secret/data/bench/s0" | tee "$bench_tmp/kv.txt" | bench_wrk_rps)"
	grep -q "Non-2xx" "$bench_tmp/kv.txt" && { echo "kv_read: non-2xx responses:" >&2; cat "$bench_tmp/kv.txt" >&2; exit 1; }
	base="$(wrk -t2 -c32 -d"${secs}s" "http://127.0.0.1:$bport/" | tee "$bench_tmp/base.txt" | bench_wrk_rps)"
	ratios+=("$(bench_ratio "$kv" "$base")")
	echo "  round $round: cofferd KV v2 read (non-root token) $kv req/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/kv.txt")), libmicrohttpd baseline $base req/s, ratio ${ratios[-1]}"
done
echo "  ratio (median of $rounds rounds): $(bench_median "${ratios[@]}")"
