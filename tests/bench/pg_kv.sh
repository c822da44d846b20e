#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PostgreSQL storage benchmarks (issue 15), each against a baseline measured in the same run, on
# one throwaway PostgreSQL (tests/pg_cluster.sh; fsync on), in alternating rounds, median ratio:
#   write: durable KV v2 writes through cofferd on PostgreSQL (wrk, 32 connections, a new key per
#          request; group commit shares each transaction) against a raw libpq loop of one
#          single-row commit per transaction on one connection (bench_pg_baseline). Goal: ratio
#          >= 2. Each round also runs the loop on BASE_CONNECTIONS connections (default 32, as
#          many as wrk's), each still one row per transaction, and prints that ratio apart: it
#          is PostgreSQL's own sharing of WAL flushes between concurrent commits, not the goal.
#   read:  KV v2 reads (non-root token) from cofferd on PostgreSQL against the same from cofferd
#          on SQLite, same secrets, same load. Goal: ratio >= 0.9 (reads come from the cache).
# PG_FSYNC_DELAY_US=N preloads slow_fsync.c into PostgreSQL: each WAL flush takes N us longer (a
# simulated slower disk, for machines whose flush is far cheaper than a network block device's).
# usage: [BASE_CONNECTIONS=32] [PG_FSYNC_DELAY_US=N] tests/bench/pg_kv.sh write|read [SECONDS (default 10)] [ROUNDS (default 3)]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mode="${1:-}"
secs="${2:-10}"
rounds="${3:-3}"
base_conns="${BASE_CONNECTIONS:-32}"
[[ $mode == write || $mode == read ]] || { echo "usage: $0 write|read [SECONDS] [ROUNDS]" >&2; exit 2; }

bench_build_release
# The cluster's directory must be reachable by the postgres user (bench_tmp is private).
pg_dir="$(mktemp -d /tmp/coffer-bench-pg-XXXXXX)"
chmod 755 "$pg_dir"
bench_cleanup_pg() {
	local p
	for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	bash "$bench_root/tests/pg_cluster.sh" stop "$pg_dir" || true
	rm -rf "$pg_dir"
	bench_cleanup
}
trap bench_cleanup_pg EXIT
fsync_delay="${PG_FSYNC_DELAY_US:-}"
if [[ -n $fsync_delay ]]; then
	[[ $fsync_delay =~ ^[0-9]+$ ]] || { echo "pg_kv: PG_FSYNC_DELAY_US must be a number of microseconds" >&2; exit 2; }
	ninja -C "$bench_build" bench_slow_fsync >/dev/null
	# A copy the postgres user can read, whatever the permissions of the build directory.
	install -m 755 "$bench_build/tests/bench/libbench_slow_fsync.so" "$pg_dir/slow_fsync.so"
	eval "$(LD_PRELOAD="$pg_dir/slow_fsync.so" BENCH_FSYNC_DELAY_US="$fsync_delay" \
		bash "$bench_root/tests/pg_cluster.sh" start "$pg_dir")"
	grep -q slow_fsync "/proc/$(head -n1 "$COFFER_TEST_PGDATA/postmaster.pid")/maps" ||
		{ echo "pg_kv: PostgreSQL did not load slow_fsync.so" >&2; exit 1; }
	fsync_note=", PostgreSQL's WAL flushes slowed by $fsync_delay us each (PG_FSYNC_DELAY_US: a simulated slower disk)"
else
	eval "$(bash "$bench_root/tests/pg_cluster.sh" start "$pg_dir")"
	fsync_note=""
fi

# cofferd --dev on PostgreSQL: its own table in the cluster's database.
cat >"$bench_tmp/pg.json" <<JSON
{"storage": {"type": "postgresql", "connection_url": "$COFFER_TEST_PG_URL", "table": "bench_kv"}}
JSON
chmod 600 "$bench_tmp/pg.json"
bench_start_cofferd --config "$bench_tmp/pg.json"
pg_addr="$BENCH_ADDR"
root="$BENCH_ROOT"

if [[ $mode == write ]]; then
	bench_write_lua "$root" >"$bench_tmp/write.lua"
	echo "pg_kv write: wrk -t2 -c32 -d${secs}s durable KV v2 writes (new key each) vs libpq one row per transaction on 1 connection (the goal's baseline) and on $base_conns connections, $rounds rounds$fsync_note"
	ratios=() ratios_n=() kvs=() bases=() bases_n=()
	for round in $(seq 1 "$rounds"); do
		sed "s/__ROUND__/$round/" "$bench_tmp/write.lua" >"$bench_tmp/write-$round.lua"
		kv="$(wrk -t2 -c32 -d"${secs}s" -s "$bench_tmp/write-$round.lua" "$pg_addr" | tee "$bench_tmp/kv.txt" | bench_wrk_rps)"
		grep -q "Non-2xx" "$bench_tmp/kv.txt" && { echo "pg_kv: non-2xx responses:" >&2; cat "$bench_tmp/kv.txt" >&2; exit 1; }
		# A value of the size cofferd stores for such a write (its version record).
		base="$("$bench_build/tests/bench/bench_pg_baseline" "$COFFER_TEST_PG_URL" "bench_raw_$round" "$secs" 250 1 | awk '{ print $(NF) }' | sed 's|/s||')"
		base_n="$("$bench_build/tests/bench/bench_pg_baseline" "$COFFER_TEST_PG_URL" "bench_rawn_$round" "$secs" 250 "$base_conns" | awk '{ print $(NF) }' | sed 's|/s||')"
		kvs+=("$kv") bases+=("$base") bases_n+=("$base_n")
		ratios+=("$(bench_ratio "$kv" "$base")")
		ratios_n+=("$(bench_ratio "$kv" "$base_n")")
		echo "  round $round: cofferd on PostgreSQL $kv writes/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/kv.txt")); libpq 1 connection $base commits/s, ratio ${ratios[-1]}; libpq $base_conns connections $base_n commits/s, ratio ${ratios_n[-1]}"
	done
	echo "  medians of $rounds rounds: cofferd $(bench_median "${kvs[@]}") writes/s, libpq 1 connection $(bench_median "${bases[@]}") commits/s, libpq $base_conns connections $(bench_median "${bases_n[@]}") commits/s"
	echo "  ratio to libpq $base_conns connections (median of $rounds rounds, not the goal): $(bench_median "${ratios_n[@]}")"
	echo "  ratio to libpq 1 connection, one row per transaction (median of $rounds rounds, goal >= 2): $(bench_median "${ratios[@]}")"
	exit 0
fi

# read: the same secrets in both servers, read with the same non-root token policy.
pg_reader="$(bench_reader_token "$pg_addr" "$root")"
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/populate.py" "$pg_addr" "$root" 100
mkdir -p "$bench_tmp/sqlite"
port="$(bench_free_port)"
"$bench_build/cofferd" --dev --listen "127.0.0.1:$port" --root-token "$root" \
	--data-dir "$bench_tmp/sqlite" --log-level warn >/dev/null 2>"$bench_tmp/sqlite.err" &
bench_pids+=($!)
sq_addr="http://127.0.0.1:$port"
bench_wait_http "$sq_addr/v1/sys/health"
sq_reader="$(bench_reader_token "$sq_addr" "$root")"
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/populate.py" "$sq_addr" "$root" 100
pg_script="$(bench_wrk_script "$pg_reader")"
sq_script="$(bench_wrk_script "$sq_reader")"
echo "pg_kv read: wrk -t2 -c32 -d${secs}s KV v2 reads (non-root token), PostgreSQL vs SQLite storage, $rounds rounds$fsync_note"
ratios=() pgs=() sqs=()
for round in $(seq 1 "$rounds"); do
	pg="$(wrk -t2 -c32 -d"${secs}s" -s "$pg_script" "$pg_addr/v1/secret/data/bench/s0" | tee "$bench_tmp/pg.txt" | bench_wrk_rps)"
	sq="$(wrk -t2 -c32 -d"${secs}s" -s "$sq_script" "$sq_addr/v1/secret/data/bench/s0" | tee "$bench_tmp/sq.txt" | bench_wrk_rps)"
	grep -q "Non-2xx" "$bench_tmp/pg.txt" "$bench_tmp/sq.txt" && { echo "pg_kv: non-2xx responses" >&2; exit 1; }
	pgs+=("$pg") sqs+=("$sq")
	ratios+=("$(bench_ratio "$pg" "$sq")")
	echo "  round $round: cofferd on PostgreSQL $pg req/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/pg.txt")), on SQLite $sq req/s (p50 $(awk '/Latency/ {print $2}' "$bench_tmp/sq.txt")), ratio ${ratios[-1]}"
done
echo "  medians of $rounds rounds: cofferd on PostgreSQL $(bench_median "${pgs[@]}") req/s, on SQLite $(bench_median "${sqs[@]}") req/s"
echo "  ratio (median of $rounds rounds, goal >= 0.9): $(bench_median "${ratios[@]}")"
