#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start: install the dependencies, build cofferd and the coffer CLI in release mode (in
# build-release/) and run a dev server in the
# foreground (initialized, unsealed, in-memory keys; NOT for production). Extra arguments go to
# cofferd, e.g. `deploy/quickstart.sh --listen 127.0.0.1:8300`. Stop it with Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash deploy/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOFFER_TESTS=OFF
ninja -C build-release cofferd coffer
# cofferd refuses to start when it cannot lock its memory (mlockall): a user other than root
# whose memlock limit is not unlimited runs the dev server unlocked instead.
if [[ $(id -u) -ne 0 && $(ulimit -l) != unlimited ]]; then
	echo "quickstart: memory cannot be locked here (ulimit -l $(ulimit -l)): --disable-mlock" >&2
	set -- --disable-mlock "$@"
fi
exec build-release/cofferd --dev "$@"
