#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's postgresql package, a
# cluster made by initdb as the postgres user in DIR, listening on 127.0.0.1 only (and a Unix
# socket in DIR for the tools), with a password-authenticated role "coffer" that owns a database
# "coffer" (not a superuser: what an operator would give cofferd).
#
#   tests/pg_cluster.sh start DIR [PORT]   make (if needed) and start; prints the env to export
#   tests/pg_cluster.sh stop DIR           stop (fast); the directory stays
#   tests/pg_cluster.sh env DIR            print the env again
#
# The env: COFFER_TEST_PG_URL (the coffer role's URL), COFFER_TEST_PGDATA, COFFER_TEST_PGBIN,
# COFFER_TEST_PGPORT, COFFER_TEST_PGHOST (the socket directory, for psql/pg_dump as postgres).
set -euo pipefail

cmd="${1:-}"
dir="${2:-}"
[[ -n $cmd && -n $dir ]] || { echo "usage: $0 start|stop|env DIR [PORT]" >&2; exit 2; }

pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
[[ -x $pgbin/initdb ]] || { echo "pg_cluster: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
	if [[ $(id -un) == postgres ]]; then
		"$@"
	else
		runuser -u postgres -- "$@"
	fi
}

password=coffer-test-password
data="$dir/data"

print_env() {
	local port
	port="$(cat "$dir/port")"
	echo "export COFFER_TEST_PG_URL=postgresql://coffer:$password@127.0.0.1:$port/coffer"
	echo "export COFFER_TEST_PGDATA=$data"
	echo "export COFFER_TEST_PGBIN=$pgbin"
	echo "export COFFER_TEST_PGPORT=$port"
	echo "export COFFER_TEST_PGHOST=$dir/run"
}

case "$cmd" in
start)
	port="${3:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
	mkdir -p "$dir/run"
	chown postgres: "$dir" "$dir/run" 2>/dev/null || true
	chmod 0755 "$dir"
	if [[ ! -f $data/PG_VERSION ]]; then
		as_pg "$pgbin/initdb" -D "$data" -U postgres --auth-local=trust \
			--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
		echo "$port" >"$dir/port"
		chown postgres: "$dir/port"
	fi
	port="$(cat "$dir/port")"
	# fsync stays on: the benchmarks compare durable commits. max_connections covers the HA
	# tests' nodes and the suite's servers running one after another.
	as_pg "$pgbin/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c max_connections=400 -c shared_buffers=128MB" \
		>/dev/null || { tail -n 30 "$dir/postgres.log" >&2; exit 1; }
	if ! as_pg "$pgbin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -tAc \
		"SELECT 1 FROM pg_roles WHERE rolname = 'coffer'" | grep -q 1; then
		as_pg "$pgbin/psql" -q -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
			-c "CREATE ROLE coffer LOGIN PASSWORD '$password'" \
			-c "CREATE DATABASE coffer OWNER coffer" >/dev/null
	fi
	print_env
	;;
stop)
	[[ -f $data/postmaster.pid ]] && as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	;;
env)
	print_env
	;;
*)
	echo "usage: $0 start|stop|env DIR [PORT]" >&2
	exit 2
	;;
esac
