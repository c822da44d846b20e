#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# KV write benchmark (issue #4): durable KV v2 writes from 32 connections (each request is
# acknowledged only after its commit is on disk; group commit shares fsyncs), against one thread
# doing SQLite inserts with one fsync per transaction, in the same run. Goal: ratio >= 1.0.
# usage: tests/bench/kv_write.sh [SECONDS (default 10)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
secs="${1:-10}"

bench_build_release
bench_start_cofferd
addr="$BENCH_ADDR"

# Each request writes its own key (a counter per wrk thread), so no write waits on another's CAS.
cat >"$bench_tmp/write.lua" <<LUA
wrk.headers["X-Vault-Token"] = "$BENCH_ROOT"
wrk.headers["Content-Type"] = "application/json"
wrk.method = "POST"
wrk.body = '{"data":{"value":"$(printf 'v%.0s' $(seq 1 90))"}}'
local n = 0
local id = tostring(math.random(1, 1000000000))
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/secret/data/w/" .. id .. "/" .. n)
end
LUA
kv="$(wrk -t2 -c32 -d"${secs}s" -s "$bench_tmp/write.lua" "$addr" | tee "$bench_tmp/kv.txt" | bench_wrk_rps)"
grep -q "Non-2xx" "$bench_tmp/kv.txt" && { echo "kv_write: non-2xx responses:" >&2; cat "$bench_tmp/kv.txt" >&2; exit 1; }
base="$("$bench_build/tests/bench/bench_sqlite_baseline" "$bench_tmp/baseline.db" "$secs" 100 | tee "$bench_tmp/base.txt" | awk '{ print $(NF) }' | sed 's|/s||')"

echo "kv_write: wrk -t2 -c32 -d${secs}s, durable KV v2 writes (new key each)"
echo "  cofferd:                                   $kv writes/s"
echo "  SQLite, 1 thread, fsync per transaction:   $base writes/s"
echo "  ratio: $(bench_ratio "$kv" "$base")"
