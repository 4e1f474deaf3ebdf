#!/usr/bin/env bash
# Builds web.c into target/web.wasm: a wasm32-wasip1 core module (reactor) with the
# check-plugin component type linked in; kube-shields turns it into a component when it
# loads it. target/web.toml is a copy of the settings, so target/ is a plugin directory.
#
# Installs what is missing (Debian/Ubuntu, as root): clang-19, lld-19, wasi-libc and the
# wasm32 compiler-rt builtins. Generates the C bindings with the workspace tool
# tools/wit-c (cargo). Run it again any time: it only redoes what changed.
#
# Environment: CC (default clang-19), CARGO_TARGET_DIR (where cargo builds the tool).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/target"
cc="${CC:-clang-19}"

# Debian's wasi-libc (bookworm: 0.0~git20220510) puts the headers under
# /usr/include/wasm32-wasi and the libraries under /usr/lib/wasm32-wasi; the compiler-rt
# builtins for wasm32 come from libclang-rt-19-dev-wasm32.
wasi_include=/usr/include/wasm32-wasi
wasi_lib=/usr/lib/wasm32-wasi
llvm_resource="$("$cc" -print-resource-dir 2>/dev/null || echo /usr/lib/llvm-19/lib/clang/19)"
builtins="$llvm_resource/lib/wasi/libclang_rt.builtins-wasm32.a"

missing=()
command -v clang-19 >/dev/null || missing+=(clang-19)
command -v wasm-ld-19 >/dev/null || command -v wasm-ld >/dev/null || missing+=(lld-19)
dpkg -s wasi-libc >/dev/null 2>&1 && [[ -f $wasi_lib/libc.a ]] || missing+=(wasi-libc)
[[ -f $builtins ]] || missing+=(libclang-rt-19-dev-wasm32)
if ((${#missing[@]})); then
  echo "build.sh: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "build.sh: run as root, or install them: apt-get install -y clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32 >/dev/null
  llvm_resource="$("$cc" -print-resource-dir)"
  builtins="$llvm_resource/lib/wasi/libclang_rt.builtins-wasm32.a"
fi

mkdir -p "$out/bindings" "$out/sysroot/include" "$out/sysroot/lib"
# clang looks for a wasm32-wasip1 sysroot under <sysroot>/{include,lib}/wasm32-wasip1;
# Debian names them wasm32-wasi (the same ABI). --sysroot=/usr would also search the
# host's /usr/include, so a sysroot of two links keeps the glibc headers out.
ln -sfn "$wasi_include" "$out/sysroot/include/wasm32-wasip1"
ln -sfn "$wasi_lib" "$out/sysroot/lib/wasm32-wasip1"

# check_plugin.h, check_plugin.c, check_plugin_component_type.o
(cd "$root" && cargo run --quiet --locked -p kube-shields-wit-c -- "$out/bindings")

# -nodefaultlibs -lc <builtins>: clang 19 looks for the builtins under
# lib/wasm32-unknown-wasip1/, Debian ships them as lib/wasi/libclang_rt.builtins-wasm32.a.
"$cc" --target=wasm32-wasip1 --sysroot="$out/sysroot" -mexec-model=reactor \
  -Oz -flto -Wall -Wextra -Werror \
  -I"$out/bindings" \
  "$here/web.c" "$out/bindings/check_plugin.c" "$out/bindings/check_plugin_component_type.o" \
  -nodefaultlibs -lc "$builtins" \
  -Wl,--gc-sections -Wl,--strip-all \
  -o "$out/web.wasm"
cp "$here/web.toml" "$out/web.toml"
echo "build.sh: $out/web.wasm ($(stat -c %s "$out/web.wasm") bytes)" >&2
