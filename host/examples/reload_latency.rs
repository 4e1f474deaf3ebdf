//! How long a ConfigMap update takes to serve: from the kubelet's `..data` rename to the first
//! answer of the new plugin version (debounce, read, hash, compile and prepare included), for
//! the smallest example plugin, over a few updates.
//!
//! `cargo run --release --example reload_latency -p kube-shields` (build the example plugins
//! first: `scripts/build-plugins.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fake_apiserver::ConfigMapVolume;
use kube_shields::plugin::PluginEngine;
use kube_shields::plugin_dir::{PluginDir, PluginSource};

const UPDATES: u8 = 9;

#[tokio::main]
async fn main() {
    let plugin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../example-plugins/target/wasm32-wasip2/release/release_info.wasm");
    let wasm = std::fs::read(&plugin)
        .unwrap_or_else(|err| panic!("{}: {err} (run scripts/build-plugins.sh)", plugin.display()));
    let dir = tempfile::tempdir().unwrap();
    let volume = ConfigMapVolume::new(dir.path());
    volume.write(&[("web.wasm", &wasm)]);
    let engine = Arc::new(PluginEngine::new().unwrap());
    let plugins = PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine,
        None,
        None,
    )
    .await
    .unwrap();
    let mut times = Vec::new();
    for n in 1..=UPDATES {
        // The same plugin with a custom section appended: a new file content, the same behaviour.
        let mut version = wasm.clone();
        version.extend([0, 3, 1, b'v', n]);
        let renamed = volume.write(&[("web.wasm", &version)]);
        let generation = loop {
            let set = plugins.current();
            let entry = set.get("web").unwrap();
            if entry.generation == u64::from(n) + 1 {
                break entry.plugin.clone().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        generation.run("release", &[]).await.unwrap();
        times.push(renamed.elapsed());
    }
    times.sort();
    println!(
        "..data rename -> first answer of the new version ({} bytes, {UPDATES} updates): median {:?}, max {:?}",
        wasm.len(),
        times[times.len() / 2],
        times[times.len() - 1],
    );
}
