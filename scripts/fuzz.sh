#!/usr/bin/env bash
# Fuzzes the plugin load pipeline for SECONDS (default 300) and prints how many inputs ran and
# whether any panicked (kept in host/tests/fixtures/fuzz-crashes/, which the tests load); see
# host/examples/fuzz_load.rs. FUZZ_SEED=N repeats a run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The example plugins are among the inputs it mutates.
"$root/scripts/build-plugins.sh" >/dev/null
cd "$root"
exec cargo run --release --locked --features fuzz -p kube-shields --example fuzz_load -- "${1:-300}"
