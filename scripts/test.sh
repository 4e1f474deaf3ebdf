#!/usr/bin/env bash
# Runs every test: builds the example plugins (Rust and C) and the language runtimes (the tests
# load them), installs Debian's chromium when missing (the index page test drives it headless),
# runs the workspace tests, validates the Kubernetes manifests offline and runs the binary
# the way the kubelet runs the shipped Deployment (scripts/kubelet-test.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Each step's wall time, printed as it ends.
step_start=$SECONDS
step_done() { echo "test.sh: $1 took $((SECONDS - step_start)) s"; step_start=$SECONDS; }
# The workspace's test build needs none of what follows (packages, plugins, runtimes, tools), so
# it runs beside them: most of that is downloads and single-threaded tools.
mkdir -p "$root/target"
build_log="$root/target/test-build.log"
(cd "$root" && cargo test --workspace --locked --no-run) >"$build_log" 2>&1 &
test_build=$!
trap 'kill "$test_build" 2>/dev/null || true' EXIT
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The history crate's tests run a real PostgreSQL server (history/tests/support).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
"$root/scripts/build-plugins.sh"
"$root/scripts/build-runtimes.sh"
# The tests' Python helpers (host/tests/support: the Prometheus client library parses /metrics;
# scripts/kubelet-test.py reads the manifests) share the runtime tools' venv.
venv="$root/target/runtime-tools/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF -f "$root/host/tests/support/requirements.txt"; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/host/tests/support/requirements.txt"
fi
# The index page's browser check (host/tests/support/index-check.js): playwright-core and
# axe-core at the versions package-lock.json pins, installed again when the lock changes.
support="$root/host/tests/support"
if ! cmp -s "$support/package-lock.json" "$support/node_modules/.installed-lock.json"; then
  npm ci --prefix "$support" --no-audit --no-fund --loglevel=error
  cp "$support/package-lock.json" "$support/node_modules/.installed-lock.json"
fi
# The C plugin's binding generator (tools/wit-c) is built in this workspace: cargo starts it once
# the test build releases target/, so this step usually ends with the test build.
"$root/example-plugins/c/build.sh"
step_done "packages, plugins, runtimes and test tools, beside the test build"
if ! wait "$test_build"; then
  cat "$build_log"
  exit 1
fi
tail -1 "$build_log"
step_done "what was left of the test build"
cd "$root"
cargo test --workspace --locked
step_done "the tests"
bash scripts/validate-manifests.sh
# The shipped Deployment as the kubelet runs it: the binary under the manifest's memory limit and
# probes, with a plugin of each language, runtimes compiled at start and precompiled. The binary
# is the tests' own (debug, cranelift optimized): slower to start and larger in memory than the
# release build (ready after 27 s, cgroup peak up to 342 MiB, against 17 s and 304 MiB), so it is
# the stricter case, and a second, optimized build of wasmtime would take 9 of a cold run's 20
# minutes. The release binary runs the same way: scripts/kubelet-test.py target/release/kube-shields
"$venv/bin/python" scripts/kubelet-test.py target/debug/kube-shields
"$venv/bin/python" scripts/kubelet-test.py target/debug/kube-shields --precompiled
step_done "manifests and kubelet test"
