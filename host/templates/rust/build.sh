#!/usr/bin/env bash
# Builds {service}.wasm, a WebAssembly component for kube-shields, next to {service}.toml.
# Adds the Rust target wasm32-wasip2 when it is missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{lib}.wasm" {service}.wasm
echo "build.sh: {service}.wasm ($(stat -c %s {service}.wasm) bytes)" >&2
