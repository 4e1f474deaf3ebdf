#!/usr/bin/env bash
# Runs every test: builds the example plugins (Rust and C) and the language runtimes (the tests
# load them), runs the workspace tests and validates the Kubernetes manifests offline.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-plugins.sh"
"$root/scripts/build-runtimes.sh"
"$root/example-plugins/c/build.sh"
cd "$root"
cargo test --workspace --locked
bash scripts/validate-manifests.sh
