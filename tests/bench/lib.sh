# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmark scripts: a release build, a dev server on a free port, wrk parsing.
# Sourced, not run.

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench_build="${COFFER_BENCH_BUILD:-$bench_root/build-release}"
bench_tmp="$(mktemp -d /tmp/coffer-bench-XXXXXX)"
bench_pids=()

bench_cleanup() {
	local pid
	for pid in "${bench_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${bench_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$bench_tmp"
}
trap bench_cleanup EXIT

bench_build_release() {
	cmake -S "$bench_root" -B "$bench_build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DCOFFER_TESTS=OFF >/dev/null
	ninja -C "$bench_build" cofferd bench_mhd_baseline bench_sqlite_baseline bench_pg_baseline >/dev/null
}

bench_free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bench_wait_http() { # URL
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "bench: $1 did not come up" >&2
	return 1
}

# Start cofferd --dev; sets BENCH_ADDR and BENCH_ROOT. Extra args go to cofferd.
bench_start_cofferd() {
	local port
	port="$(bench_free_port)"
	BENCH_ROOT="cof.bench-root-$RANDOM$RANDOM"
	mkdir -p "$bench_tmp/data"
	"$bench_build/cofferd" --dev --listen "127.0.0.1:$port" --root-token "$BENCH_ROOT" \
		--data-dir "$bench_tmp/data" --log-level warn "$@" >"$bench_tmp/cofferd.out" 2>"$bench_tmp/cofferd.err" &
	bench_pids+=($!)
	BENCH_ADDR="http://127.0.0.1:$port"
	bench_wait_http "$BENCH_ADDR/v1/sys/health"
}

# A token that may only read secret/data/bench/* (policy bench-read), printed.
bench_reader_token() { # ADDR ROOT_TOKEN
	curl -sf -X PUT -H "X-Vault-Token: $2" -d \
		'{"policy":"path \"secret/data/bench/*\" { capabilities = [\"read\"] }"}' \
		"$1/v1/sys/policies/acl/bench-read" >/dev/null
	curl -sf -X POST -H "X-Vault-Token: $2" -d '{"policies":["bench-read"],"ttl":"1h"}' \
		"$1/v1/auth/token/create" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])'
}

# Requests/sec from a wrk report on stdin.
bench_wrk_rps() {
	awk '/^Requests\/sec:/ { print $2 }'
}

# A wrk script that sends a token header, and optionally a method and body.
bench_wrk_script() { # TOKEN [METHOD BODY]
	local f="$bench_tmp/wrk-$RANDOM.lua"
	{
		echo "wrk.headers[\"X-Vault-Token\"] = \"$1\""
		if [[ $# -ge 3 ]]; then
			echo "wrk.method = \"$2\""
			echo "wrk.body = '$3'"
			echo 'wrk.headers["Content-Type"] = "application/json"'
		fi
	} >"$f"
	echo "$f"
}

# A wrk script of durable KV v2 writes, each to a new key (a counter per wrk thread, under the
# folder w/__ROUND__-<thread>/; the caller replaces __ROUND__ per round), printed to stdout.
bench_write_lua() { # TOKEN
	cat <<LUA
wrk.headers["X-Vault-Token"] = "$1"
wrk.headers["Content-Type"] = "application/json"
wrk.method = "POST"
wrk.body = '{"data":{"value":"$(printf 'v%.0s' $(seq 1 90))"}}'
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/secret/data/w/__ROUND__-" .. tid .. "/" .. n)
end
LUA
}

bench_ratio() { # A B
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

# CPU time (user + system) a process has used so far, in clock ticks.
bench_cpu_ticks() { # PID
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Server CPU per request in microseconds: ticks used over a wrk run and the report's request count.
bench_cpu_per_request() { # TICKS_BEFORE TICKS_AFTER WRK_REPORT_FILE
	awk -v t="$(($2 - $1))" -v hz="$(getconf CLK_TCK)" \
		'/ requests in / { n = $1 } END { printf "%.1f", (n > 0 ? t / hz * 1e6 / n : 0) }' "$3"
}

bench_median() { # NUMBER...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
