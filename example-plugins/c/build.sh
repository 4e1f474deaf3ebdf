#!/usr/bin/env bash
# Builds web.c into target/web.wasm and copies web.toml beside it, so target/ is a plugin
# directory. The build is the one `kube-shields new --lang c` writes into a project
# (host/templates/c/build.sh): installs clang-19 / wasi-libc when missing, generates the C
# bindings with tools/wit-c, compiles a wasm32-wasip1 reactor with the component type.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
SERVICE=web PROJECT_DIR="$here" OUT_DIR="$here/target" KUBE_SHIELDS_SRC="$root" \
  exec bash "$root/host/templates/c/build.sh"
