#!/usr/bin/env bash
# Runs kube-shields with no cluster: the demo pods file, the example plugins and the example
# scripts (Python and JavaScript), public mode.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/build-plugins.sh"
"$root/scripts/build-runtimes.sh"
release="$root/example-plugins/target/wasm32-wasip2/release"
# One plugin per service, named after it.
cp "$release/image_tags.wasm" "$root/demo/plugins/web.wasm"
cp "$release/release_info.wasm" "$root/demo/plugins/version.wasm"
# Scripts run on the language runtimes beside the binary's folder (target/runtimes).
rm -f "$root/demo/plugins/api.wasm"
cp "$root/example-plugins/python/web.py" "$root/demo/plugins/api.py"
cp "$root/example-plugins/js/web.js" "$root/demo/plugins/log-agent.js"
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
  $base/_/api/version/?raw        api.py (Python) asks its pods over HTTP: here kube-shields' /healthz
  $base/_/log-agent/running/?format=svg   log-agent.js (JavaScript): running pods
  $base/_/version/release/?format=json
  $base/_/web/health/uptime/24h?format=svg   uptime from the history (every check runs every 10 s)
  $base/_/web/health/chart.svg?window=24h     the last 24 hours, a bar an hour
Ctrl-C stops it.
URLS
OTHER_SHIELDS=None exec "$root/target/release/kube-shields" serve \
  --listen 127.0.0.1:8080 --pods-file "$root/demo/pods.json" --plugins "$root/demo/plugins" \
  --site-name "kube-shields demo" \
  --history-dir "$root/target/demo-history" --history-interval 10
