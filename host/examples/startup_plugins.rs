//! How long the plugin directory takes to be ready with many plugins: 50 distinct plugins (the
//! example plugins, each made distinct by a custom section), opened cold (compiling, a few at a
//! time) and again with the compile cache warm, as a restart with an emptyDir cache does.
//!
//! `cargo run --release --features examples --example startup_plugins -p kube-shields` (build
//! the example plugins first: `scripts/build-plugins.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use kube_shields::plugin::PluginEngine;
use kube_shields::plugin_dir::{PluginDir, PluginSource};

const PLUGINS: usize = 50;

#[tokio::main]
async fn main() {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../example-plugins/target/wasm32-wasip2/release");
    let examples: Vec<Vec<u8>> = ["image_tags", "release_info", "http_probe"]
        .iter()
        .map(|name| {
            let path = built.join(format!("{name}.wasm"));
            std::fs::read(&path).unwrap_or_else(|err| {
                panic!("{}: {err} (run scripts/build-plugins.sh)", path.display())
            })
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    for n in 0..PLUGINS {
        let mut wasm = examples[n % examples.len()].clone();
        // A custom section makes each file distinct (its own sha256, its own compile).
        wasm.extend([0, 4, 1, b'n', (n / 256) as u8, (n % 256) as u8]);
        std::fs::write(dir.path().join(format!("service-{n:02}.wasm")), wasm).unwrap();
    }
    let engine = Arc::new(PluginEngine::new().unwrap());
    for label in ["cold (compiling)", "warm (compile cache)"] {
        let started = Instant::now();
        let plugins = PluginDir::open(
            PluginSource::Directory(dir.path().to_owned()),
            Arc::clone(&engine),
            Some(cache.path().to_owned()),
            None,
        )
        .await
        .unwrap();
        let elapsed = started.elapsed();
        let counts = plugins.compile_counts();
        assert_eq!(plugins.current().services().count(), PLUGINS);
        println!(
            "{PLUGINS} plugins, {label}: ready in {elapsed:?} ({} compiled, {} from the cache, {} cores)",
            counts.compiled,
            counts.from_cache,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
    }
}
