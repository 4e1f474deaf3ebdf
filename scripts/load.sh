#!/usr/bin/env bash
# Load figures: /_/<service>/health/ requests per second and p50/p99 latency against a
# 1,000-service pods file, next to a bare axum handler returning a fixed 302 (goal: ratio >= 0.95),
# a plugin check's result-cache hit and miss rates, and health badges while hostile plugins
# (63 MiB of memory per call; spinning until the deadline; one spinning request at a time) are
# hammered, and while 8 connections fetch the index of a 20,000-service federation. Everything runs on
# loopback and stops by itself.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
duration="${LOAD_SECONDS:-10}"
connections="${LOAD_CONNECTIONS:-64}"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
"$root/scripts/build-plugins.sh"
cd "$root"
# The shipped build (profile `dist`, as deploy/Dockerfile builds it), the yardstick alike;
# LOAD_PROFILE=release for a quicker build while trying things.
profile="${LOAD_PROFILE:-dist}"
cargo build --profile "$profile" --locked --bin kube-shields --features examples --example bare_redirect -q
work="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
python3 scripts/gen-pods.py 1000 3 > "$work/pods.json"
mkdir "$work/plugins"
cp example-plugins/target/wasm32-wasip2/release/release_info.wasm "$work/plugins/version.wasm"
printf 'cache_seconds = 1\n[config]\nrelease = "v1"\n' > "$work/plugins/version.toml"

# `wait_for <url> [tries]`: polls every 0.1 s (100 tries unless told).
wait_for() { for _ in $(seq "${2:-100}"); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
# `bench [wrk args] url` prints "req/s p50 p99".
bench() {
  wrk -t2 -c"$connections" -d"${duration}s" --latency "$@" \
    | awk '/Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} END {print rps, p50, p99}'
}
rps() { bench "$@" | cut -d' ' -f1; }
median() { python3 -c "import statistics, sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }
# wrk prints latencies as 812.00us, 1.20ms or 1.01s; medians are taken in ms.
in_ms() { python3 -c "import sys; v = sys.argv[1]; print(next(float(v[:-len(u)]) * f for u, f in (('us', 1e-3), ('ms', 1), ('s', 1e3)) if v.endswith(u)))" "$1"; }

target/$profile/examples/bare_redirect 127.0.0.1:18091 & pids+=($!)
OTHER_SHIELDS=None RUST_LOG=warn target/$profile/kube-shields serve --listen 127.0.0.1:18090 \
  --pods-file "$work/pods.json" --plugins "$work/plugins" 2>"$work/server.log" & pids+=($!)
wait_for http://127.0.0.1:18091/_/a/b/
wait_for http://127.0.0.1:18090/_/svc-00000/health/

# `rotate <path format> <count>` writes a wrk script asking for the formatted path of 0, 1, ...
# count-1 in turn, and prints its file name.
rotate() {
  local file="$work/rotate-$RANDOM.lua"
  cat > "$file" <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format("$1", n % $2))
end
LUA
  echo "$file"
}
# every request asks for another of the 1,000 services
health_lua=$(rotate "/_/svc-%05d/health/" 1000)

# The ratio to the bare handler, measured so that the load generator is not the bottleneck: one
# URL, no Lua, one wrk thread on a core of its own and both servers on the other (as an outside
# benchmark would), in alternating rounds; the median and the spread of the rounds are printed.
cores=$(nproc)
pin_servers() { taskset -a -p -c "$1" "${pids[0]}" >/dev/null; taskset -a -p -c "$1" "${pids[1]}" >/dev/null; }
if [ "$cores" -ge 2 ]; then
  pin_servers 0
  generator=(taskset -c 1 wrk -t1)
else
  generator=(wrk -t1)
fi
one_url() {
  "${generator[@]}" -c"$connections" -d"${duration}s" --latency "$1" \
    | awk '/Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} END {print rps, p50, p99}'
}
ratios=() bare_p50=() bare_p99=() ours_p50=() ours_p99=()
for round in $(seq "${LOAD_ROUNDS:-5}"); do
  read -r bare b50 b99 < <(one_url http://127.0.0.1:18091/_/svc-00042/health/)
  read -r ours o50 o99 < <(one_url http://127.0.0.1:18090/_/svc-00042/health/)
  ratio=$(python3 -c "print(f'{float($ours)/float($bare):.3f}')")
  ratios+=("$ratio")
  bare_p50+=("$(in_ms "$b50")") bare_p99+=("$(in_ms "$b99")")
  ours_p50+=("$(in_ms "$o50")") ours_p99+=("$(in_ms "$o99")")
  echo "round $round (one URL, wrk and servers on separate cores): bare axum 302 ${bare} req/s (p50 $b50, p99 $b99), kube-shields health 302 ${ours} req/s (p50 $o50, p99 $o99), ratio ${ratio}"
done
printf 'median ratio, one URL on separate cores: %.2f (goal >= 0.95; rounds %s to %s)\n' \
  "$(median "${ratios[@]}")" "$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)" "$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1)"
printf 'median latency at %s connections: bare p50 %.3f ms, p99 %.3f ms; kube-shields p50 %.3f ms, p99 %.3f ms\n' \
  "$connections" "$(median "${bare_p50[@]}")" "$(median "${bare_p99[@]}")" \
  "$(median "${ours_p50[@]}")" "$(median "${ours_p99[@]}")"
pin_servers "0-$((cores - 1))"

# The same comparison with every request asking for another of the 1,000 services (a wrk Lua
# script, two wrk threads, nothing pinned): wrk's Lua costs more than either server, so wrk
# saturates first and this ratio is pulled towards 1. It says that rotating names costs
# kube-shields nothing measurable, not how fast it is.
rotating=()
for round in $(seq "${LOAD_ROUNDS:-5}"); do
  bare=$(rps -s "$health_lua" http://127.0.0.1:18091)
  ours=$(rps -s "$health_lua" http://127.0.0.1:18090)
  rotating+=("$(python3 -c "print(f'{float($ours)/float($bare):.3f}')")")
done
printf 'median ratio, rotating services through wrk Lua (load-generator bound): %.2f (rounds %s)\n' \
  "$(median "${rotating[@]}")" "${rotating[*]}"

# Badge latency at 100,000 pods: the same health requests against 33,334 services (100,002
# pods) as against the 1,000 services above, in alternating rounds.
python3 scripts/gen-pods.py 33334 3 > "$work/pods-100k.json"
mkdir "$work/no-plugins"
OTHER_SHIELDS=None RUST_LOG=warn target/$profile/kube-shields serve --listen 127.0.0.1:18092 \
  --pods-file "$work/pods-100k.json" --plugins "$work/no-plugins" 2>"$work/server-100k.log" & large=$!
pids+=("$large")
wait_for http://127.0.0.1:18092/_/svc-33333/health/ 600
large_lua=$(rotate "/_/svc-%05d/health/" 33334)
small_rps=() large_rps=() small_p99=() large_p99=()
for round in $(seq "${LOAD_ROUNDS:-3}"); do
  read -r small s50 s99 < <(bench -s "$health_lua" http://127.0.0.1:18090)
  read -r big l50 l99 < <(bench -s "$large_lua" http://127.0.0.1:18092)
  small_rps+=("$small") large_rps+=("$big") small_p99+=("$(in_ms "$s99")") large_p99+=("$(in_ms "$l99")")
  echo "round $round: health at 3,000 pods ${small} req/s (p50 $s50, p99 $s99), at 100,002 pods ${big} req/s (p50 $l50, p99 $l99)"
done
printf 'median health badges at 100,002 pods: %.0f req/s, p99 %.3f ms; at 3,000 pods: %.0f req/s, p99 %.3f ms\n' \
  "$(median "${large_rps[@]}")" "$(median "${large_p99[@]}")" "$(median "${small_rps[@]}")" "$(median "${small_p99[@]}")"
kill "$large"

plugin=$(rps http://127.0.0.1:18090/_/version/release/)
echo "plugin check (cache 1 s): ${plugin} req/s"
curl -fs http://127.0.0.1:18090/metrics | python3 -c '
import re, sys
counts = {m[0]: float(m[1]) for m in re.findall(r"kube_shields_plugin_result_cache_total\{result=\"(\w+)\"\} (\S+)", sys.stdin.read())}
total = sum(counts.values()) or 1
print("plugin cache:             " + ", ".join(f"{k} {v / total:.4%}" for k, v in sorted(counts.items())) + f" of {int(total)} answers")'

# Hostile plugins: 32 copies of a test fixture (as many as the default --max-plugin-runs, so
# that many run at once), uncached, dropped into the running server's plugin directory. A
# second wrk hammers them with 64 connections while the first measures health badges, right
# after measuring them unloaded. Both wrk share the two cores with the server, so hammering
# even the cheapest route costs health badges about half: that figure is printed too, for scale.
copies=32
# `report <what> <wrk script> [connections] [port]` prints health req/s while the script's
# requests are hammered (64 connections, the server on 18090, unless told).
report() {
  local unloaded hammered hammering="${3:-64}" server="http://127.0.0.1:${4:-18090}"
  unloaded=$(rps -s "$health_lua" "$server")
  wrk -t"$((hammering < 2 ? 1 : 2))" -c"$hammering" -d"$((duration + 2))s" -s "$2" "$server" >"$work/hammer.txt" & local hammer=$!
  sleep 1
  hammered=$(rps -s "$health_lua" "$server")
  wait "$hammer"
  local answered
  answered=$(awk '/Requests\/sec/ {print $2}' "$work/hammer.txt")
  python3 -c "print(f'health badges while $1 is hammered: {$hammered:.0f} req/s ({$hammered / $unloaded:.0%} of unloaded, {$unloaded:.0f} req/s); the hammered route answered {$answered:.0f} req/s')"
}
report "/healthz" "$(rotate "/healthz?%d" 1)"
# `drop_in <service prefix> <fixture>`: the copies, uncached, appear in the plugin directory.
drop_in() {
  for i in $(seq -f %02g 0 $((copies - 1))); do
    cp "host/tests/fixtures/$2" "$work/plugins/$1-$i.wasm"
    printf 'cache_seconds = 0\n' > "$work/plugins/$1-$i.toml"
  done
  wait_for "http://127.0.0.1:18090/services/$1-$((copies - 1))/"
}
drop_out() { rm -f "$work/plugins/$1"-*; sleep 2; }
drop_in hog memory_hog.wat
report "a 63 MiB plugin" "$(rotate "/_/hog-%02d/under-cap/" "$copies")"
drop_out hog
drop_in spin endless_loop.wat
report "a spinning plugin (2 s deadline)" "$(rotate "/_/spin-%02d/spin/" "$copies")"
# One request at a time (one connection): its call's first poll is on an HTTP worker, the rest
# on the plugin threads, so it never spins on a worker for its whole deadline.
for _ in $(seq "${LOAD_ROUNDS:-3}"); do
  report "one spinning request at a time" "$(rotate "/_/spin-%02d/spin/" 1)" 1
done
drop_out spin

# The index of a federation whose peer lists 20,000 services (a catalog at its cap), fetched
# by 8 connections at once, and health badges of the same server meanwhile: pages are capped,
# rendered off the HTTP workers one at a time and reused for a second, and sent in turns of
# 16 kB.
python3 - "$work/peer" <<'PY'
import json, os, sys
os.mkdir(sys.argv[1])
with open(os.path.join(sys.argv[1], "catalog"), "w") as f:
    json.dump([{"name": f"remote-{n:05d}", "namespaces": ["default"], "checks": ["health"]}
               for n in range(20000)], f)
PY
(cd "$work/peer" && exec python3 -m http.server 18094 --bind 127.0.0.1) >/dev/null 2>&1 & pids+=($!)
head -c 32 /dev/urandom | base64 > "$work/secret"
OTHER_SHIELDS=http://127.0.0.1:18094 INTRA_SHIELD_SECRET="$work/secret" RUST_LOG=warn \
  target/$profile/kube-shields serve --listen 127.0.0.1:18093 --pods-file "$work/pods.json" \
  2>"$work/hub.log" & pids+=($!)
wait_for http://127.0.0.1:18093/_/svc-00000/health/
for _ in $(seq 100); do curl -fs "http://127.0.0.1:18093/?q=remote-19999" | grep -q 'remote-19999' && break; sleep 0.1; done
# As browsers ask for it (gzip: 30 kB a page), and as a client that takes no compression (615 kB).
cat > "$work/index-browser.lua" <<'LUA'
request = function() return wrk.format("GET", "/", {["Accept-Encoding"] = "gzip, deflate, br, zstd"}) end
LUA
# For scale: the cheapest route hammered by as many connections costs about as much.
for _ in $(seq "${LOAD_ROUNDS:-3}"); do
  report "the index of 20,000 remote services (gzip, as browsers ask)" "$work/index-browser.lua" 8 18093
  report "/healthz by as many connections" "$(rotate "/healthz?%d" 1)" 8 18093
done
report "the index of 20,000 remote services (uncompressed)" "$(rotate "/?n=%d" 1)" 8 18093

# Federation: local badge p99 with a hung peer vs without, and a 3-cluster index of 300 services.
echo "federation:"
cargo run --release --locked -q --features examples --example federation_latency -p kube-shields
