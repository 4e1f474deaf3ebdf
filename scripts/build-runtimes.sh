#!/usr/bin/env bash
# Builds the language runtimes that run `<service>.py` and `<service>.js` check scripts:
#   OUT_DIR/python.wasm  componentize-py (pinned in runtimes/python/requirements.txt)
#   OUT_DIR/js.wasm      QuickJS through jco (pinned in runtimes/js/package-lock.json)
# Usage: scripts/build-runtimes.sh [OUT_DIR]   (default: target/runtimes)
# Installs the pinned tools when missing (pip into target/runtime-tools, `npm ci` from the
# committed lock) and skips a
# runtime whose inputs (WIT, runtime sources, pins, this script) have not changed.
# KUBE_SHIELDS_JS_BACKEND=starlingmonkey builds js.wasm with StarlingMonkey instead (to compare).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/target/runtimes}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tools="$root/target/runtime-tools"
js_backend="${KUBE_SHIELDS_JS_BACKEND:-qjs}"

# Fingerprint of everything a runtime is built from.
inputs() {
  (cd "$root" && sha256sum scripts/build-runtimes.sh wit/*.wit "$@") | sha256sum | cut -d' ' -f1
}

up_to_date() { # NAME HASH
  [[ -f "$out/$1.wasm" && "$(cat "$out/.$1.inputs" 2>/dev/null)" == "$2" ]]
}

built() { # NAME HASH SECONDS
  echo "$2" > "$out/.$1.inputs"
  echo "built $out/$1.wasm ($(stat -c %s "$out/$1.wasm") bytes) in ${3}s"
}

python_hash="$(inputs runtimes/python/*.py runtimes/python/requirements.txt)"
if up_to_date python "$python_hash"; then
  echo "python.wasm is up to date"
else
  if ! "$tools/venv/bin/pip" freeze 2>/dev/null | grep -qxF -f "$root/runtimes/python/requirements.txt"; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
      -r "$root/runtimes/python/requirements.txt"
  fi
  start=$SECONDS
  # Stale bytecode would be bundled too: same sources, same output.
  rm -rf "$root/runtimes/python/__pycache__"
  # componentize-py snapshots the interpreter after importing app.py: that init is paid at
  # build time, not per call.
  (cd "$root" && "$tools/venv/bin/componentize-py" -d wit -w script-runtime componentize \
    -p runtimes/python app -o "$out/python.wasm.tmp")
  mv "$out/python.wasm.tmp" "$out/python.wasm"
  built python "$python_hash" $((SECONDS - start))
fi

js_hash="$(inputs runtimes/js/runtime.js runtimes/js/package-lock.json)-$js_backend"
if up_to_date js "$js_hash"; then
  echo "js.wasm is up to date"
else
  js="$root/runtimes/js"
  # npm writes node_modules/.package-lock.json on install: older than the lock = stale.
  if [[ ! -f "$js/node_modules/.package-lock.json" \
    || "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]]; then
    # `npm ci`: exactly the committed lock (which lists every platform's optional binary, as
    # npm 11 wants), never rewriting it, so a build leaves the checkout clean.
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  start=$SECONDS
  case "$js_backend" in
    qjs)
      # wasmtime 48 has no component-model async: the QuickJS backend's sync runtime.
      (cd "$js" && npx --no-install jco componentize runtime.js --wit "$root/wit" \
        --world-name script-runtime --backend qjs --backend-qjs-disable-async \
        -o "$out/js.wasm.tmp" >/dev/null) ;;
    starlingmonkey)
      # Through the library: jco's CLI cannot read a WIT directory outside its sandbox.
      (cd "$js" && OUT="$out/js.wasm.tmp" WIT="$root/wit" node --input-type=module -e "
        import { componentize } from '@bytecodealliance/componentize-js';
        import { readFile, writeFile } from 'node:fs/promises';
        const { component } = await componentize(await readFile('runtime.js', 'utf8'), {
          sourceName: 'runtime.js', witPath: process.env.WIT, worldName: 'script-runtime',
          disableFeatures: ['http', 'fetch-event', 'clocks', 'random', 'stdio'] });
        await writeFile(process.env.OUT, component);") ;;
    *) echo "KUBE_SHIELDS_JS_BACKEND must be qjs or starlingmonkey" >&2; exit 2 ;;
  esac
  mv "$out/js.wasm.tmp" "$out/js.wasm"
  built js "$js_hash" $((SECONDS - start))
fi
