//! Rust bindings for `wit/plugin.wit`, generated at build time.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "check-plugin",
    exports: { default: async },
});
