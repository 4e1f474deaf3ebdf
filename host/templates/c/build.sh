#!/usr/bin/env bash
# Builds {service}.c into {service}.wasm: a wasm32-wasip1 core module (reactor) with the
# check-plugin component type linked in; kube-shields turns it into a component when it
# loads it (applying the WASI preview1 adapter itself).
#
# Installs what is missing (Debian/Ubuntu, as root): clang-19, lld-19, wasi-libc and the
# wasm32 compiler-rt builtins. Generates the C bindings (target/bindings/check_plugin.h)
# with the tool tools/wit-c of the kube-shields source checkout (cargo). Run it again any
# time: it only redoes what changed.
#
# Environment: CC (default clang-19); KUBE_SHIELDS_SRC (the kube-shields checkout, default
# the one `kube-shields new` was built from); SERVICE, PROJECT_DIR (where the source and
# settings are, default this script's folder) and OUT_DIR (where the .wasm goes, default
# PROJECT_DIR; the settings file is copied there too).
set -euo pipefail
# Filled in by `kube-shields new`.
new_service='{service}'
new_checkout='{sdk}'
service="${SERVICE:-$new_service}"
project="${PROJECT_DIR:-$(cd "$(dirname "$0")" && pwd)}"
src="${KUBE_SHIELDS_SRC:-$new_checkout}"
out="${OUT_DIR:-$project}"
work="$project/target"
cc="${CC:-clang-19}"

# Debian's wasi-libc puts the headers under /usr/include/wasm32-wasi and the libraries under
# /usr/lib/wasm32-wasi; the compiler-rt builtins for wasm32 come from libclang-rt-19-dev-wasm32.
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
if [[ ! -f $src/tools/wit-c/Cargo.toml ]]; then
  echo "build.sh: no kube-shields checkout at $src: set KUBE_SHIELDS_SRC to one" >&2
  exit 1
fi

mkdir -p "$work/bindings" "$work/sysroot/include" "$work/sysroot/lib" "$out"
# clang looks for a wasm32-wasip1 sysroot under <sysroot>/{include,lib}/wasm32-wasip1;
# Debian names them wasm32-wasi (the same ABI). --sysroot=/usr would also search the
# host's /usr/include, so a sysroot of two links keeps the glibc headers out.
ln -sfn "$wasi_include" "$work/sysroot/include/wasm32-wasip1"
ln -sfn "$wasi_lib" "$work/sysroot/lib/wasm32-wasip1"

# check_plugin.h, check_plugin.c, check_plugin_component_type.o; kube_shields.h, kube_shields.c
cargo run --quiet --locked --manifest-path "$src/Cargo.toml" -p kube-shields-wit-c -- "$work/bindings"

# -nodefaultlibs -lc <builtins>: clang 19 looks for the builtins under
# lib/wasm32-unknown-wasip1/, Debian ships them as lib/wasi/libclang_rt.builtins-wasm32.a.
"$cc" --target=wasm32-wasip1 --sysroot="$work/sysroot" -mexec-model=reactor \
  -Oz -flto -Wall -Wextra -Werror \
  -I"$work/bindings" \
  "$project/$service.c" "$work/bindings/kube_shields.c" \
  "$work/bindings/check_plugin.c" "$work/bindings/check_plugin_component_type.o" \
  -nodefaultlibs -lc "$builtins" \
  -Wl,--gc-sections -Wl,--strip-all \
  -o "$out/$service.wasm"
if [[ $out != "$project" && -f $project/$service.toml ]]; then
  cp "$project/$service.toml" "$out/$service.toml"
fi
echo "build.sh: $out/$service.wasm ($(stat -c %s "$out/$service.wasm") bytes)" >&2
