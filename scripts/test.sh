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
"$root/example-plugins/c/build.sh"
cd "$root"
cargo test --workspace --locked
bash scripts/validate-manifests.sh
