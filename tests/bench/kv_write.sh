#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KV write benchmark (issue #4): durable KV v2 writes from 32 connections (each request is
# acknowledged only after its commit is on disk; group commit shares fsyncs), against one thread
# doing SQLite inserts with one fsync per transaction, in the same run. Goal: ratio >= 1.0.
# usage: tests/bench/kv_write.sh [SECONDS (default 10)] [ROUNDS (default 3)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs="${1:-10}"
rounds="${2:-3}"

bench_build_release
bench_start_cofferd
addr="$BENCH_ADDR"

# Each request writes its own key (a counter per wrk thread, under a folder per round), so no
# write waits on another's CAS and every write creates a key.
bench_write_lua "$BENCH_ROOT" >"$bench_tmp/write.lua"
echo "kv_write: wrk -t2 -c32 -d${secs}s, durable KV v2 writes (new key each), $rounds rounds"
# Alternating rounds, as in kv_read.sh: the median of neighbouring ratios is the figure.
ratios=()
for round in $(seq 1 "$rounds"); do
	sed "s/__ROUND__/$round/" "$bench_tmp/write.lua" >"$bench_tmp/write-$round.lua"
	kv="$(wrk -t2 -c32 -d"${secs}s" -s "$bench_tmp/write-$round.lua" "$addr" | tee "$bench_tmp/kv.txt" | bench_wrk_rps)"
	grep -q "Non-2xx" "$bench_tmp/kv.txt" && { echo "kv_write: non-2xx responses:" >&2; cat "$bench_tmp/kv.txt" >&2; exit 1; }
	rm -f "$bench_tmp"/baseline.db*
	base="$("$bench_build/tests/bench/bench_sqlite_baseline" "$bench_tmp/baseline.db" "$secs" 100 | tee "$bench_tmp/base.txt" | awk '{ print $(NF) }' | sed 's|/s||')"
	ratios+=("$(bench_ratio "$kv" "$base")")
	echo "  round $round: cofferd $kv writes/s, SQLite 1 thread fsync per transaction $base writes/s, ratio ${ratios[-1]}"
done
echo "  ratio (median of $rounds rounds): $(bench_median "${ratios[@]}")"
