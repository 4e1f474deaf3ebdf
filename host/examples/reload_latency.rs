//! How long a ConfigMap update takes to serve: from the kubelet's `..data` rename to the first
//! answer of the new version (debounce, read, hash, compile or script load, and list-checks
//! included), for the smallest example component and the Python and JavaScript example scripts
//! (their runtime already prepared, as on a running server), over a few updates each.
//!
//! `cargo run --release --features examples --example reload_latency -p kube-shields` (build
//! the example plugins and the runtimes first: `scripts/build-plugins.sh`,
//! `scripts/build-runtimes.sh`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_apiserver::ConfigMapVolume;
use kube_shields::plugin::PluginEngine;
use kube_shields::plugin_dir::{PluginDir, PluginSource};

const UPDATES: u8 = 9;

#[tokio::main]
async fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugins = [
        (
            "web.wasm",
            repo.join("example-plugins/target/wasm32-wasip2/release/release_info.wasm"),
        ),
        ("web.py", repo.join("example-plugins/python/web.py")),
        ("web.js", repo.join("example-plugins/js/web.js")),
    ];
    let engine = Arc::new(PluginEngine::new().unwrap());
    let cache = tempfile::tempdir().unwrap();
    for (file, source) in plugins {
        let original = std::fs::read(&source).unwrap_or_else(|err| {
            panic!("{}: {err} (run scripts/build-plugins.sh)", source.display())
        });
        let dir = tempfile::tempdir().unwrap();
        let volume = ConfigMapVolume::new(dir.path());
        let started = Instant::now();
        volume.write(&[(file, &original)]);
        let source = PluginSource::Directory(dir.path().to_owned());
        let runtimes = Some(repo.join("target/runtimes"));
        let dir_plugins = PluginDir::open(
            source,
            Arc::clone(&engine),
            Some(cache.path().to_owned()),
            runtimes,
        )
        .await
        .unwrap();
        answer_of_generation(&dir_plugins, 1).await;
        let first = started.elapsed();
        let mut times = Vec::new();
        for n in 1..=UPDATES {
            let renamed = volume.write(&[(file, &new_version(file, &original, n))]);
            answer_of_generation(&dir_plugins, u64::from(n) + 1).await;
            times.push(renamed.elapsed());
        }
        times.sort();
        println!(
            "{file} ({} bytes): first load {first:?}; ..data rename -> first answer of a new version, \
             {UPDATES} updates: median {:?}, max {:?}",
            original.len(),
            times[times.len() / 2],
            times[times.len() - 1],
        );
    }
}

/// The same plugin with a different content: a custom section appended to a component, a
/// comment to a script.
fn new_version(file: &str, original: &[u8], n: u8) -> Vec<u8> {
    let mut version = original.to_vec();
    match file.ends_with(".wasm") {
        true => version.extend([0, 3, 1, b'v', n]),
        false => version.extend(
            format!("\n// version {n}\n")
                .replace("//", if file.ends_with(".py") { "#" } else { "//" })
                .bytes(),
        ),
    }
    version
}

/// Waits until the plugin of `web` has reached `generation`, then asks its `release` check.
async fn answer_of_generation(plugins: &PluginDir, generation: u64) {
    let plugin = loop {
        let set = plugins.current();
        let entry = set.get("web").expect("web is in the directory");
        if let Some(error) = &entry.last_error {
            panic!("{}", error.message);
        }
        if entry.generation == generation {
            break entry.plugin.clone().unwrap();
        }
        drop(set);
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    plugin.run("release", &[]).await.unwrap();
}
