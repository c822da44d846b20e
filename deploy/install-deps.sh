#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages that Coffer needs to build, run and test (tests/run.sh,
# deploy/quickstart.sh and CI call it). Idempotent: apt is not touched when every package is
# already installed. Runs as root, or through sudo when not root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
	# build
	build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
	libsodium-dev libsqlite3-dev libmicrohttpd-dev libjansson-dev libseccomp-dev nettle-dev
	libcurl4-openssl-dev libgnutls28-dev # cofferd: outbound TokenReview/JWKS (libcurl), JWT signatures (GnuTLS)
	libpq-dev # cofferd: the PostgreSQL storage backend (libpq)
	# run and test
	sqlite3 python3 python3-pytest python3-requests python3-hvac python3-yaml
	python3-cryptography # Ed25519 in tests/integration/test_audit_verify.py; keys for signed JWTs
	python3-jwt # signed service-account and JWT-auth tokens in the workload-identity tests
	wrk curl openssl nodejs npm util-linux iproute2
	postgresql # the tests' throwaway cluster (tests/pg_cluster.sh: initdb, pg_ctl, psql, pg_dump)
)

# Names that an installed package Provides count as installed: NodeSource's nodejs, for one,
# ships npm and conflicts with Debian's npm package.
provided="$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null |
	awk -F'|' '$1 ~ /^ii/ { print $2 }' | tr ',' '\n' |
	sed -E 's/\(.*\)//; s/:[a-z0-9]+//; s/^[[:space:]]+//; s/[[:space:]]+$//' | sort -u)"

missing=()
for pkg in "${packages[@]}"; do
	status="$(dpkg-query -W -f='${db:Status-Abbrev}\n' "$pkg" 2>/dev/null | head -n1 || true)"
	[[ $status == ii* ]] && continue
	grep -qxF -- "$pkg" <<<"$provided" && continue
	missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "install-deps: not root and sudo is missing; install as root: ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
apt_opts=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y \
	--no-install-recommends "${missing[@]}"
