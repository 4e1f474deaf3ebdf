#!/usr/bin/env bash
# Runs every test: builds the example plugins (the tests load them), then the workspace tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-plugins.sh"
cd "$root"
cargo test --workspace --locked
