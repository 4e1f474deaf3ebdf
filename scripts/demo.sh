#!/usr/bin/env bash
# Runs kube-shields with no cluster: the demo pods file and the example plugins, public mode.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-plugins.sh"
release="$root/example-plugins/target/wasm32-wasip2/release"
# One plugin per service, named after it.
cp "$release/image_tags.wasm" "$root/demo/plugins/web.wasm"
cp "$release/http_probe.wasm" "$root/demo/plugins/api.wasm"
cp "$release/release_info.wasm" "$root/demo/plugins/version.wasm"
cd "$root"
cargo build --release --locked --bin kube-shields
base=http://127.0.0.1:8080
cat <<URLS
kube-shields demo: open
  $base/                          every service and check
  $base/services/                 service names
  $base/_/web/health/?format=svg  a badge rendered here
  $base/_/web/image/              a redirect to img.shields.io
  $base/a/api/health/?raw         health of api in all namespaces, as JSON
  $base/_/version/release/?format=json
Ctrl-C stops it.
URLS
OTHER_SHIELDS=None exec "$root/target/release/kube-shields" serve \
  --listen 127.0.0.1:8080 --pods-file "$root/demo/pods.json" --plugins "$root/demo/plugins" \
  --site-name "kube-shields demo"
