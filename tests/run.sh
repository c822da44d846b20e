#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one test entry (CI runs it through .ci/run): installs the dependencies, builds everything with
# AddressSanitizer and UndefinedBehaviorSanitizer and -Werror, starts a throwaway PostgreSQL, runs
# the fuzz smoke and a ThreadSanitizer pass over the busiest integration files, then every ctest
# test (the C unit tests, and the pytest integration files and client-compatibility tests once on
# SQLite and once on PostgreSQL). Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh

# Debian's python3 has pytest, requests and hvac; a python3 earlier on PATH (pyenv) may not.
/usr/bin/python3 -c 'import pytest, requests' ||
	{ echo "tests/run.sh: /usr/bin/python3 lacks pytest or requests" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# COFFER_TEST_HOOKS: cofferd's test-only trigger of a forbidden call (test_server_sandbox.py).
cmake -S . -B build-test -G Ninja -DCOFFER_SANITIZE=ON -DCOFFER_WERROR=ON \
	-DCMAKE_BUILD_TYPE=Debug -DCOFFER_PYTHON=/usr/bin/python3 -DCOFFER_TEST_HOOKS=ON
ninja -C build-test

# node-vault for tests/compat/node_vault.test.js (ctest gives it NODE_PATH=build-test/compat/
# node_modules): installed from the committed package.json and package-lock.json, never committed.
mkdir -p build-test/compat
cp tests/compat/package.json tests/compat/package-lock.json build-test/compat/
npm ci --prefix build-test/compat --no-audit --no-fund --loglevel=error

# PostgreSQL for the suite's second pass (ctest's integration-pg/* and compat-pg/*: every server on
# a table of its own) and for the tests about PostgreSQL itself (test_ha*.py, test_migrate.py): a
# cluster made afresh in build-test/pg by tests/pg_cluster.sh and stopped when this script exits.
# Its env (COFFER_TEST_PG_URL, COFFER_TEST_PGDATA, ...) reaches ctest and the ThreadSanitizer pass.
# (The env is assigned before eval so that a failed start stops this script.)
pg_dir="$root/build-test/pg"
tests/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true
rm -rf "$pg_dir"
trap 'tests/pg_cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
pg_env="$(tests/pg_cluster.sh start "$pg_dir")"
eval "$pg_env"

# Fuzz smoke: every libFuzzer target (clang) runs briefly over its seed corpus. It runs before
# ctest so that ctest's summary stays the last thing printed.
CC=clang cmake -S . -B build-fuzz -G Ninja -DCOFFER_FUZZ=ON -DCOFFER_TESTS=OFF \
	-DCMAKE_BUILD_TYPE=Debug >/dev/null
ninja -C build-fuzz >/dev/null
for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
	name="$(basename "$fuzzer")"
	work="build-fuzz/corpus/${name#fuzz_}"
	mkdir -p "$work"
	cp -n tests/fuzz/corpus/"${name#fuzz_}"/* "$work"/ 2>/dev/null || true
	echo "fuzz: $name for ${COFFER_FUZZ_SECONDS:-10}s"
	"$fuzzer" -max_total_time="${COFFER_FUZZ_SECONDS:-10}" -print_final_stats=0 \
		-artifact_prefix=build-fuzz/ "$work" >"build-fuzz/$name.log" 2>&1 ||
		{ tail -n 40 "build-fuzz/$name.log" >&2; echo "tests/run.sh: $name found a crash" >&2; exit 1; }
done

# ThreadSanitizer: cofferd built with -fsanitize=thread serves the integration files that drive
# it from the most threads at once (staged and direct audit writes with rotations, watches, KV
# writes, tokens, the connection limits' reaper, the audit room on a full disk, concurrent
# logins sharing the outbound connections and the JWK-set refetch, and the PostgreSQL HA nodes:
# lock thread, writer, readers' pool, the HA worker loading and dropping the vault). A race report
# makes cofferd exit 66 at its clean stop, which fails the test. Its audit chains are BLAKE2b
# (COFFER_AUDIT_HASH): where the CPU has SHA instructions, ctest's are SHA-256, so the audit tests
# run with both hash functions.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCOFFER_TESTS=OFF \
	-DCMAKE_C_FLAGS="-fsanitize=thread -O1" >/dev/null
ninja -C build-tsan cofferd >/dev/null
tsan_tests=(test_audit.py test_watch.py test_kv.py test_tokens.py test_connections.py
	test_audit_fail.py test_auth_kubernetes.py test_auth_jwt.py test_ha_pg.py)
echo "tsan: cofferd under ThreadSanitizer for ${tsan_tests[*]}"
COFFERD="$root/build-tsan/cofferd" COFFER_BUILD_DIR="$root/build-test" \
	COFFER="$root/build-test/coffer" COFFER_AGENT="$root/build-test/coffer-agent" \
	TSAN_OPTIONS=halt_on_error=0:exitcode=66 COFFER_AUDIT_HASH=blake2b \
	/usr/bin/python3 -m pytest -q -p no:cacheprovider \
	"${tsan_tests[@]/#/tests/integration/}" >build-tsan/pytest.log 2>&1 ||
	{ tail -n 60 build-tsan/pytest.log >&2; echo "tests/run.sh: the ThreadSanitizer run failed" >&2; exit 1; }

rc=0
ctest --test-dir build-test --output-on-failure --no-tests=error -j2 || rc=$?
if ((rc != 0)); then
	echo "tests/run.sh: FAILED (ctest exit $rc); logs in build-test/Testing/Temporary/LastTest.log" >&2
fi
exit "$rc"
