//! Rust bindings for `wit/plugin.wit`, generated at build time.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "check-plugin",
    imports: {
        "kube-shields:plugin/http.get": async,
        "kube-shields:plugin/http.get-all": async,
    },
    // The world's WASI imports are wasmtime's own implementations, linked by
    // `sandbox::linker` beside this world's interfaces (with `wasi:http/outgoing-handler`,
    // the world `check-plugin-wasi-http`).
    with: {
        "wasi:cli": wasmtime_wasi::p2::bindings::cli,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:filesystem": wasmtime_wasi::p2::bindings::filesystem,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:random": wasmtime_wasi::p2::bindings::random,
        "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
    },
    exports: { default: async },
});

/// The `script-runtime` world: only its `script` import is new; everything else is the
/// `check-plugin` world's, so the same types and `Guest` serve plugins and runtimes.
pub(crate) mod runtime {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "script-runtime",
        with: {
            "kube-shields:plugin/types": super::kube_shields::plugin::types,
            "kube-shields:plugin/logging": super::kube_shields::plugin::logging,
            "kube-shields:plugin/http": super::kube_shields::plugin::http,
            "kube-shields:plugin/workload": super::kube_shields::plugin::workload,
        },
        // `fail` ends the call with a trap.
        imports: { default: trappable },
        exports: { default: async },
    });
}
