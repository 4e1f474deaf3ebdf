#!/usr/bin/env bash
# Load figures: /_/<service>/health/ requests per second against a 1,000-service pods file,
# next to a bare axum handler returning a fixed 302 (goal: ratio >= 0.7), and a plugin check's
# result-cache hit and miss rates. Everything runs on loopback and stops by itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
duration="${LOAD_SECONDS:-10}"
connections="${LOAD_CONNECTIONS:-64}"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
"$root/scripts/build-plugins.sh"
cd "$root"
cargo build --release --locked --bin kube-shields --example bare_redirect -q
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
python3 scripts/gen-pods.py 1000 3 > "$work/pods.json"
mkdir "$work/plugins"
cp example-plugins/target/wasm32-wasip2/release/release_info.wasm "$work/plugins/version.wasm"
printf 'cache_seconds = 1\n[config]\nrelease = "v1"\n' > "$work/plugins/version.toml"

wait_for() { for _ in $(seq 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
rps() { wrk -t2 -c"$connections" -d"${duration}s" "$@" | awk '/Requests\/sec/ {print $2}'; }

target/release/examples/bare_redirect 127.0.0.1:18091 & pids+=($!)
OTHER_SHIELDS=None RUST_LOG=warn target/release/kube-shields serve --listen 127.0.0.1:18090 \
  --pods-file "$work/pods.json" --plugins "$work/plugins" & pids+=($!)
wait_for http://127.0.0.1:18091/_/a/b/
wait_for http://127.0.0.1:18090/_/svc-00000/health/

cat > "$work/rotate.lua" <<'LUA'
-- every request asks for another of the 1,000 services
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/_/svc-%05d/health/", n % 1000))
end
LUA
# The same request mix (and the same Lua cost in wrk) for both servers, in alternating rounds:
# wrk and the servers share two cores, so one round alone is noisy.
ratios=()
for round in $(seq "${LOAD_ROUNDS:-3}"); do
  bare=$(rps -s "$work/rotate.lua" http://127.0.0.1:18091)
  ours=$(rps -s "$work/rotate.lua" http://127.0.0.1:18090)
  ratio=$(python3 -c "print(f'{float($ours)/float($bare):.3f}')")
  ratios+=("$ratio")
  echo "round $round: bare axum 302 ${bare} req/s, kube-shields health 302 ${ours} req/s, ratio ${ratio}"
done
python3 -c "import statistics, sys; print(f'median ratio: {statistics.median(map(float, sys.argv[1:])):.2f} (goal >= 0.7)')" "${ratios[@]}"

plugin=$(rps http://127.0.0.1:18090/_/version/release/)
echo "plugin check (cache 1 s): ${plugin} req/s"
curl -fs http://127.0.0.1:18090/metrics | python3 -c '
import re, sys
counts = {m[0]: float(m[1]) for m in re.findall(r"kube_shields_plugin_result_cache_total\{result=\"(\w+)\"\} (\S+)", sys.stdin.read())}
total = sum(counts.values()) or 1
print("plugin cache:             " + ", ".join(f"{k} {v / total:.4%}" for k, v in sorted(counts.items())) + f" of {int(total)} answers")'

# Federation: local badge p99 with a hung peer vs without, and a 3-cluster index of 300 services.
echo "federation:"
cargo run --release --locked -q --example federation_latency -p kube-shields
