#!/usr/bin/env bash
# Builds the example plugins as wasm32-wasip2 components (installs the target if missing).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cd "$root/example-plugins"
cargo build --release --target wasm32-wasip2 --locked
