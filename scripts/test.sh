#!/usr/bin/env bash
# Runs every test: builds the example plugins (Rust and C) and the language runtimes (the tests
# load them), installs Debian's chromium when missing (the index page test drives it headless),
# runs the workspace tests and validates the Kubernetes manifests offline.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"$root/scripts/build-plugins.sh"
"$root/scripts/build-runtimes.sh"
# The tests' Python helpers (host/tests/support: the Prometheus client library parses /metrics)
# share the runtime tools' venv.
venv="$root/target/runtime-tools/venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qxF -f "$root/host/tests/support/requirements.txt"; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/host/tests/support/requirements.txt"
fi
"$root/example-plugins/c/build.sh"
cd "$root"
cargo test --workspace --locked
bash scripts/validate-manifests.sh
