#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (run by hand, not a test): what a token check costs. Starts a release cofferd --dev on
# a free loopback port, creates a non-root token with only the default policy, and runs wrk
# against GET /v1/auth/token/lookup-self with that token and against GET /v1/sys/health (no token,
# no ACL, no storage) in the same run. Prints req/s and latency p50/p99 of both and the ratio
# lookup-self/health. See tests/bench/README.md.
#
#   tests/bench/lookup_self.sh            # builds build-release/ if needed
#   COFFERD=path/to/cofferd DURATION=10s THREADS=2 CONNECTIONS=32 tests/bench/lookup_self.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
PY=/usr/bin/python3

for tool in wrk curl "$PY"; do
	command -v "$tool" >/dev/null || { echo "lookup_self.sh: $tool is missing (deploy/install-deps.sh)" >&2; exit 1; }
done

if [[ -z ${COFFERD:-} ]]; then
	COFFERD="$root/build-release/cofferd"
	if [[ ! -x $COFFERD || ${REBUILD:-0} == 1 ]]; then
		echo "== building a release cofferd in build-release/" >&2
		cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOFFER_TESTS=OFF >/dev/null
		ninja -C build-release cofferd >/dev/null
	fi
fi
[[ -x $COFFERD ]] || { echo "lookup_self.sh: no cofferd at $COFFERD" >&2; exit 1; }

work="$(mktemp -d /tmp/coffer-bench.XXXXXX)"
server_pid=""
cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

port="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
addr="http://127.0.0.1:$port"
root_token="cof.$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')"
mkdir -m 700 "$work/data"
"$COFFERD" --dev --disable-mlock --listen "127.0.0.1:$port" --root-token "$root_token" \
	--data-dir "$work/data" --log-level error >"$work/stdout.log" 2>"$work/stderr.log" &
server_pid=$!

for _ in $(seq 200); do
	[[ $(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' "$addr/v1/sys/health") == 200 ]] && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr.log" >&2; exit 1; }
	sleep 0.05
done

token="$(curl -sf --noproxy '*' -H "X-Vault-Token: $root_token" -X POST \
	-d '{"policies":["default"],"ttl":"1h","display_name":"bench"}' "$addr/v1/auth/token/create" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])')"
policies="$(curl -sf --noproxy '*' -H "X-Vault-Token: $token" "$addr/v1/auth/token/lookup-self" |
	"$PY" -c 'import json,sys; print(",".join(json.load(sys.stdin)["data"]["policies"]))')"
[[ $policies == default ]] || { echo "lookup_self.sh: token policies are '$policies'" >&2; exit 1; }

# wrk's done() prints one machine-readable line; the header carries the token.
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d socket_errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout))
end
LUA
{ printf 'wrk.headers["X-Vault-Token"] = "%s"\n' "$token"; cat "$work/report.lua"; } >"$work/lookup.lua"
chmod 600 "$work/lookup.lua"

run() { # name url script
	echo "== $1: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $2" >&2
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$3" "$2" >"$work/$1.out"
	grep '^RESULT ' "$work/$1.out" | sed 's/^RESULT //'
}
field() { sed -n "s/.*\b$2=\([0-9.]*\).*/\1/p" <<<"$1"; }

health="$(run health "$addr/v1/sys/health" "$work/report.lua")"
lookup="$(run lookup-self "$addr/v1/auth/token/lookup-self" "$work/lookup.lua")"

for name in health lookup; do
	line="${!name}"
	if [[ $(field "$line" non2xx) != 0 || $(field "$line" socket_errors) != 0 ]]; then
		echo "lookup_self.sh: $name had errors: $line" >&2
		cat "$work/${name/lookup/lookup-self}.out" >&2
		exit 1
	fi
done

printf '\n%-28s %12s %10s %10s\n' "endpoint" "req/s" "p50 ms" "p99 ms"
printf '%-28s %12s %10s %10s\n' "GET sys/health" "$(field "$health" rps)" \
	"$(field "$health" p50_ms)" "$(field "$health" p99_ms)"
printf '%-28s %12s %10s %10s\n' "GET auth/token/lookup-self" "$(field "$lookup" rps)" \
	"$(field "$lookup" p50_ms)" "$(field "$lookup" p99_ms)"
"$PY" -c 'import sys; h, l = float(sys.argv[1]), float(sys.argv[2]); print(f"\nratio lookup-self/health: {l / h:.2f} (req/s)")' \
	"$(field "$health" rps)" "$(field "$lookup" rps)"
echo "(cofferd: $COFFERD; $(nproc) cores shared by wrk and the server; wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"
