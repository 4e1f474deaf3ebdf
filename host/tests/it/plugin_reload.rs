//! The plugin directory live: a ConfigMap volume updated the way the kubelet does it, a plain
//! directory, requests running through reloads, compressed plugins and the compile cache.
//!
//! Figures (time from a ConfigMap update to the new version answering; warm cache against a
//! cold compile) print with `--nocapture`; the large-component one is `--ignored`.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common;

use common::eventually;
use fake_apiserver::ConfigMapVolume;
use flate2::Compression;
use flate2::write::GzEncoder;
use kube_shields::plugin::{Outcome, PluginEngine};
use kube_shields::plugin_dir::{CompileCounts, PluginDir, PluginEntry, PluginSource};
use sha2::{Digest, Sha256};

/// Long enough for a debug-build compile on a busy 2-core machine; reloads take well under 1 s.
const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The `answer` plugin: one check, `answer`, returning a raw value of four characters.
struct AnswerPlugin {
    answer: String,
}

impl AnswerPlugin {
    fn new(answer: &str) -> Self {
        assert_eq!(answer.len(), 4, "the fixture's answer is four bytes");
        AnswerPlugin {
            answer: answer.to_owned(),
        }
    }

    fn wat(&self) -> String {
        let template = include_str!("../fixtures/reload/answer.wat");
        template.replace("\"v000\"", &format!("\"{}\"", self.answer))
    }

    /// The component in binary form.
    fn wasm(&self) -> Vec<u8> {
        wat::parse_str(self.wat()).expect("the fixture is valid WAT")
    }

    /// The component, gzip-compressed.
    fn wasm_gz(&self) -> Vec<u8> {
        gzip(&self.wasm())
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Log lines at WARN and above from the whole test binary (the reload task runs on runtime
/// threads, so a per-thread subscriber would miss them); tests look for their own lines.
#[derive(Clone, Default)]
struct CapturedWarnings(Arc<Mutex<Vec<u8>>>);

impl CapturedWarnings {
    fn global() -> &'static CapturedWarnings {
        static CAPTURED: OnceLock<CapturedWarnings> = OnceLock::new();
        CAPTURED.get_or_init(|| {
            let captured = CapturedWarnings::default();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .without_time()
                .with_writer(captured.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("only this installs a subscriber");
            captured
        })
    }

    fn lines_mentioning(&self, text: &str) -> Vec<String> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter(|line| line.contains(text))
            .map(str::to_owned)
            .collect()
    }
}

impl Write for CapturedWarnings {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedWarnings {
    type Writer = CapturedWarnings;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn engine() -> Arc<PluginEngine> {
    Arc::new(PluginEngine::new().expect("the plugin engine starts"))
}

async fn open(dir: &Path) -> Arc<PluginDir> {
    PluginDir::open(
        PluginSource::Directory(dir.to_owned()),
        engine(),
        None,
        None,
    )
    .await
    .expect("the plugin directory opens")
}

/// What the service's plugin's `answer` check says now; `None` without a loaded plugin.
async fn answer(plugins: &PluginDir, service: &str) -> Option<String> {
    let set = plugins.current();
    let plugin = set.get(service)?.plugin.clone()?;
    match plugin
        .run("answer", &[])
        .await
        .expect("the answer check runs")
    {
        Outcome::Raw(value) => Some(value),
        other => panic!("expected a raw answer, got {other:?}"),
    }
}

async fn wait_for_answer(plugins: &PluginDir, service: &str, expected: &str) {
    eventually(
        &format!("{service} to answer {expected}"),
        DEADLINE,
        async || (answer(plugins, service).await.as_deref() == Some(expected)).then_some(()),
    )
    .await;
}

async fn wait_for_entry(
    plugins: &PluginDir,
    service: &str,
    what: &str,
    condition: impl Fn(&PluginEntry) -> bool,
) -> PluginEntry {
    eventually(what, DEADLINE, async || {
        plugins
            .current()
            .get(service)
            .filter(|entry| condition(entry))
            .cloned()
    })
    .await
}

fn services(plugins: &PluginDir) -> Vec<String> {
    plugins.current().services().map(str::to_owned).collect()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn configmap_updates_add_change_break_and_remove_a_plugin() {
    let warnings = CapturedWarnings::global();
    let dir = tempfile::tempdir().unwrap();
    let volume = ConfigMapVolume::new(dir.path());
    let plugins = open(dir.path()).await;
    assert!(plugins.is_loaded());
    assert_eq!(services(&plugins), Vec::<String>::new());

    volume.write(&[("shop.wasm", &AnswerPlugin::new("v001").wasm())]);
    wait_for_answer(&plugins, "shop", "v001").await;
    assert_eq!(services(&plugins), ["shop"]);

    let v002 = AnswerPlugin::new("v002").wasm();
    volume.write(&[("shop.wasm", &v002)]);
    wait_for_answer(&plugins, "shop", "v002").await;

    let broken = b"\xffnot a plugin".as_slice();
    volume.write(&[("shop.wasm", broken)]);
    let entry = wait_for_entry(&plugins, "shop", "the broken update's error", |entry| {
        entry.last_error.is_some()
    })
    .await;
    assert_eq!(
        entry.last_error.unwrap().message,
        "shop.wasm: not a WebAssembly component: neither a WebAssembly binary (no `\\0asm` header) nor WebAssembly text"
    );
    assert_eq!(entry.sha256.as_deref(), Some(sha256(broken).as_str()));
    assert_eq!(entry.loaded_sha256.as_deref(), Some(sha256(&v002).as_str()));
    assert_eq!(
        answer(&plugins, "shop").await.as_deref(),
        Some("v002"),
        "the last good version keeps serving"
    );
    assert_eq!(plugins.reload_errors(), 1);
    let warning_lines = warnings.lines_mentioning("shop.wasm");
    assert_eq!(warning_lines.len(), 1, "{warning_lines:?}");
    assert!(
        warning_lines[0].contains("plugin failed to load"),
        "{}",
        warning_lines[0]
    );
    assert!(
        warning_lines[0].contains("shop.wasm: not a WebAssembly component"),
        "{}",
        warning_lines[0]
    );

    volume.write(&[("shop.wasm", &AnswerPlugin::new("v003").wasm())]);
    wait_for_answer(&plugins, "shop", "v003").await;
    assert_eq!(plugins.current().get("shop").unwrap().last_error, None);

    volume.write(&[]);
    eventually("shop to disappear", DEADLINE, async || {
        plugins.current().get("shop").is_none().then_some(())
    })
    .await;
    assert_eq!(services(&plugins), Vec::<String>::new());
    assert_eq!(plugins.reload_errors(), 1);
}

#[tokio::test]
async fn plain_directory_writes_renames_and_removals_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join(".hidden.wasm"),
        AnswerPlugin::new("nope").wasm(),
    )
    .unwrap();
    let plugins = open(dir.path()).await;
    assert_eq!(
        answer(&plugins, "web").await.as_deref(),
        Some("v001"),
        "loaded before open returns"
    );
    assert_eq!(services(&plugins), ["web"]);

    std::fs::write(
        dir.path().join("web.wasm"),
        AnswerPlugin::new("v002").wasm(),
    )
    .unwrap();
    wait_for_answer(&plugins, "web", "v002").await;

    // Written under a hidden name, then renamed into place: the usual atomic copy.
    std::fs::write(
        dir.path().join(".api.wasm.part"),
        AnswerPlugin::new("a001").wasm(),
    )
    .unwrap();
    std::fs::rename(
        dir.path().join(".api.wasm.part"),
        dir.path().join("api.wasm"),
    )
    .unwrap();
    wait_for_answer(&plugins, "api", "a001").await;
    assert_eq!(services(&plugins), ["api", "web"]);

    std::fs::remove_file(dir.path().join("web.wasm")).unwrap();
    eventually("web to disappear", DEADLINE, async || {
        plugins.current().get("web").is_none().then_some(())
    })
    .await;
    assert_eq!(services(&plugins), ["api"]);
    assert_eq!(plugins.reload_errors(), 0);
}

#[tokio::test]
async fn settings_changes_reprepare_without_compiling_and_bad_settings_keep_the_previous() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    std::fs::write(dir.path().join("web.toml"), "cache_seconds = 5\n").unwrap();
    let plugins = open(dir.path()).await;
    let first = plugins.current().get("web").unwrap().clone();
    assert_eq!(
        first.plugin.as_ref().unwrap().settings().cache_ttl,
        Duration::from_secs(5)
    );

    std::fs::write(dir.path().join("web.toml"), "cache_seconds = 7\n").unwrap();
    let second = wait_for_entry(&plugins, "web", "the new settings", |entry| {
        entry
            .plugin
            .as_ref()
            .is_some_and(|plugin| plugin.settings().cache_ttl == Duration::from_secs(7))
    })
    .await;
    assert_ne!(second.generation, first.generation);
    assert_eq!(
        plugins.compile_counts(),
        CompileCounts {
            compiled: 1,
            from_cache: 0
        }
    );

    std::fs::write(dir.path().join("web.toml"), "cache_seconds = \"soon\"\n").unwrap();
    let rejected = wait_for_entry(&plugins, "web", "the settings error", |entry| {
        entry.settings_error.is_some()
    })
    .await;
    assert!(
        rejected
            .settings_error
            .as_deref()
            .unwrap()
            .starts_with("web.toml: invalid plugin settings: "),
        "{:?}",
        rejected.settings_error
    );
    assert_eq!(
        rejected.generation, second.generation,
        "the plugin is not reloaded"
    );
    assert_eq!(
        rejected.plugin.unwrap().settings().cache_ttl,
        Duration::from_secs(7)
    );
    assert_eq!(rejected.last_error, None);
    assert_eq!(plugins.reload_errors(), 1);

    std::fs::remove_file(dir.path().join("web.toml")).unwrap();
    let defaults = wait_for_entry(&plugins, "web", "the default settings", |entry| {
        entry.settings_error.is_none() && entry.generation != second.generation
    })
    .await;
    assert_eq!(
        defaults.plugin.unwrap().settings().cache_ttl,
        Duration::from_secs(10)
    );
    assert_eq!(
        plugins.compile_counts(),
        CompileCounts {
            compiled: 1,
            from_cache: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_fail_through_20_swaps() {
    let dir = tempfile::tempdir().unwrap();
    let volume = ConfigMapVolume::new(dir.path());
    volume.write(&[("web.wasm", &AnswerPlugin::new("v000").wasm())]);
    let plugins = open(dir.path()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let client = tokio::spawn({
        let (plugins, stop, requests) = (
            Arc::clone(&plugins),
            Arc::clone(&stop),
            Arc::clone(&requests),
        );
        async move {
            let mut seen = BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                let set = plugins.current();
                let plugin = set
                    .get("web")
                    .and_then(|entry| entry.plugin.clone())
                    .expect("web is always in the set");
                match plugin.run("answer", &[]).await {
                    Ok(Outcome::Raw(value)) => seen.insert(value),
                    other => panic!("request failed during a reload: {other:?}"),
                };
                requests.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            seen
        }
    });
    let versions: Vec<String> = (1..=20).map(|n| format!("v{n:03}")).collect();
    for version in &versions {
        volume.write(&[("web.wasm", &AnswerPlugin::new(version).wasm())]);
        wait_for_answer(&plugins, "web", version).await;
    }
    let before = requests.load(Ordering::Relaxed);
    eventually("one more request", DEADLINE, async || {
        (requests.load(Ordering::Relaxed) > before + 1).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let seen = client.await.expect("no request failed");
    assert!(seen.contains("v020"), "{seen:?}");
    assert_eq!(plugins.reload_errors(), 0);
    println!(
        "{} requests through 20 swaps, none failed",
        requests.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn warm_cache_loads_without_compiling_and_drops_stale_entries() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("compiled");
    let v001 = AnswerPlugin::new("v001").wasm();
    std::fs::write(dir.path().join("web.wasm"), &v001).unwrap();
    std::fs::write(cache.path().join("unrelated.txt"), "not ours").unwrap();

    let cold = PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine(),
        Some(cache_dir.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        cold.compile_counts(),
        CompileCounts {
            compiled: 1,
            from_cache: 0
        }
    );
    drop(cold);
    let artifacts = cache_artifacts(&cache_dir);
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert!(
        artifacts[0].starts_with(&format!("{}-", sha256(&v001))),
        "{artifacts:?}"
    );
    assert!(artifacts[0].ends_with(".cwasm"), "{artifacts:?}");

    let warm = PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine(),
        Some(cache_dir.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        warm.compile_counts(),
        CompileCounts {
            compiled: 0,
            from_cache: 1
        }
    );
    assert_eq!(answer(&warm, "web").await.as_deref(), Some("v001"));

    let v002 = AnswerPlugin::new("v002").wasm();
    std::fs::write(dir.path().join("web.wasm"), &v002).unwrap();
    wait_for_answer(&warm, "web", "v002").await;
    let artifacts = eventually(
        "the old version's entry to be pruned",
        DEADLINE,
        async || Some(cache_artifacts(&cache_dir)).filter(|artifacts| artifacts.len() == 1),
    )
    .await;
    assert!(
        artifacts[0].starts_with(&format!("{}-", sha256(&v002))),
        "{artifacts:?}"
    );
    assert!(cache.path().join("unrelated.txt").exists());
}

/// `check`'s cache is shared by every plugin an author tries: a server using it (`serve --dev`
/// does, so a runtime `check` compiled is not compiled again) prunes nothing in it.
#[tokio::test]
async fn a_cache_check_made_is_never_pruned_by_a_server() {
    let (checked, served) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("kube-shields");
    let other = checked.path().join("other.wasm");
    std::fs::write(&other, AnswerPlugin::new("othr").wasm()).unwrap();
    let check = PluginDir::open(
        PluginSource::File {
            path: other,
            service: "other".to_owned(),
            settings: None,
        },
        engine(),
        Some(cache_dir.clone()),
        None,
    )
    .await
    .unwrap();
    drop(check);
    assert_eq!(cache_artifacts(&cache_dir).len(), 1);

    std::fs::write(
        served.path().join("web.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    let server = PluginDir::open(
        PluginSource::Directory(served.path().to_owned()),
        engine(),
        Some(cache_dir.clone()),
        None,
    )
    .await
    .unwrap();
    std::fs::write(
        served.path().join("web.wasm"),
        AnswerPlugin::new("v002").wasm(),
    )
    .unwrap();
    wait_for_answer(&server, "web", "v002").await;
    // `other`, `v001` and `v002`: nothing removed.
    assert_eq!(cache_artifacts(&cache_dir).len(), 3);
}

/// The compiled plugins in the cache (not their authentication codes, nor the cache's key).
fn cache_artifacts(cache_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cache_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".cwasm"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn precompiled_files_in_the_plugin_directory_are_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let precompiled = engine
        .wasmtime()
        .precompile_component(&AnswerPlugin::new("v001").wasm())
        .unwrap();
    std::fs::write(dir.path().join("web.wasm"), &precompiled).unwrap();
    let plugins = PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine,
        None,
        None,
    )
    .await
    .unwrap();
    let entry = plugins.current().get("web").unwrap().clone();
    assert!(entry.plugin.is_none());
    assert!(
        entry
            .last_error
            .unwrap()
            .message
            .starts_with("web.wasm: not a WebAssembly component: "),
        "a precompiled artifact is not wasm"
    );
}

/// Why opening the plugin directory `dir` with the compile cache `cache` is refused.
async fn refused_cache(dir: &Path, cache: &Path) -> String {
    PluginDir::open(
        PluginSource::Directory(dir.to_owned()),
        engine(),
        Some(cache.to_owned()),
        None,
    )
    .await
    .err()
    .expect("refused")
    .to_string()
}

#[tokio::test]
async fn a_cache_directory_inside_the_plugin_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        refused_cache(dir.path(), &dir.path().join("cache")).await,
        format!(
            "compile cache directory {} is inside the plugin directory; use a directory of its own",
            dir.path().canonicalize().unwrap().join("cache").display()
        )
    );
}

#[tokio::test]
async fn an_unusable_plugin_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let error = PluginDir::open(
        PluginSource::Directory(missing.clone()),
        engine(),
        None,
        None,
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot read plugin directory {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let error = PluginDir::open(PluginSource::Directory(file.clone()), engine(), None, None)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        error.to_string(),
        format!("plugin directory {} is not a directory", file.display())
    );
}

#[tokio::test]
async fn compressed_plugins_load() {
    let dir = tempfile::tempdir().unwrap();
    let compressed = AnswerPlugin::new("v001").wasm_gz();
    std::fs::write(dir.path().join("web.wasm.gz"), &compressed).unwrap();
    let plugins = open(dir.path()).await;
    assert_eq!(answer(&plugins, "web").await.as_deref(), Some("v001"));
    let entry = plugins.current().get("web").unwrap().clone();
    assert_eq!(entry.file, "web.wasm.gz");
    assert_eq!(entry.sha256.as_deref(), Some(sha256(&compressed).as_str()));
}

#[tokio::test]
async fn a_gzip_bomb_is_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    // 65 gzip members of 1 MiB of zeros each: about 70 KB that would expand to 65 MiB.
    let member = gzip(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 65)
        .collect();
    std::fs::write(dir.path().join("bomb.wasm.gz"), &bomb).unwrap();
    let plugins = open(dir.path()).await;
    let entry = plugins.current().get("bomb").unwrap().clone();
    assert!(entry.plugin.is_none());
    assert_eq!(
        entry.last_error.unwrap().message,
        "bomb.wasm.gz decompresses to more than 64 MiB"
    );
    assert_eq!(plugins.reload_errors(), 1);
}

#[tokio::test]
async fn two_files_for_one_service_are_an_error_until_one_goes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("web.wasm.gz"),
        AnswerPlugin::new("v002").wasm_gz(),
    )
    .unwrap();
    let plugins = open(dir.path()).await;
    let entry = plugins.current().get("web").unwrap().clone();
    assert_eq!(
        entry.last_error.unwrap().message,
        "both web.wasm and web.wasm.gz exist; keep one"
    );
    assert_eq!(entry.sha256, None);

    std::fs::remove_file(dir.path().join("web.wasm")).unwrap();
    wait_for_answer(&plugins, "web", "v002").await;
}

#[tokio::test]
async fn status_shows_every_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let good = AnswerPlugin::new("v001").wasm();
    std::fs::write(dir.path().join("web.wasm"), &good).unwrap();
    std::fs::write(dir.path().join("bad.wasm"), "(component").unwrap();
    let plugins = open(dir.path()).await;
    let mut status = plugins.current().status();
    let web = status["web"].as_object_mut().unwrap();
    let loaded_at = web.remove("loaded_at").unwrap();
    assert!(
        loaded_at
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok(),
        "{loaded_at}"
    );
    let generation = web.remove("generation").unwrap();
    assert!(generation.as_u64().unwrap() > 0);
    assert_eq!(
        status["web"],
        serde_json::json!({
            "file": "web.wasm",
            "sha256": sha256(&good),
            "loaded_sha256": sha256(&good),
            "checks": [{"name": "answer", "description": null}],
            "warnings": [],
            "last_error": null,
            "settings_error": null,
        })
    );
    let bad = &status["bad"];
    assert_eq!(bad["file"], "bad.wasm");
    assert_eq!(bad["loaded_at"], serde_json::Value::Null);
    assert_eq!(bad["checks"], serde_json::json!([]));
    assert!(
        bad["last_error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("bad.wasm: not a WebAssembly component: ")
    );
    assert!(
        bad["last_error"]["since"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(
        services(&plugins),
        ["web"],
        "a plugin that never loaded offers no service"
    );
}

#[tokio::test]
async fn no_plugin_directory_means_no_plugins() {
    let plugins = PluginDir::empty();
    assert!(plugins.is_loaded());
    assert_eq!(services(&plugins), Vec::<String>::new());
    assert_eq!(plugins.current().status(), serde_json::json!({}));
}

// ---------------------------------------------------------------------------------------------
// A real plugin, updated through a ConfigMap

/// The smallest example plugin, a real component.
fn small_plugin() -> Vec<u8> {
    std::fs::read(common::example_plugin("release_info")).unwrap()
}

/// Another version of `wasm` that behaves the same: a custom section appended (a new sha256).
fn new_version(wasm: &[u8], n: u8) -> Vec<u8> {
    let name = b"kube-shields-figure";
    let mut version = wasm.to_vec();
    version.extend([0, (1 + name.len() + 1) as u8, name.len() as u8]);
    version.extend(name);
    version.push(n);
    version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_configmap_update_serves_its_new_version() {
    let wasm = small_plugin();
    let dir = tempfile::tempdir().unwrap();
    let volume = ConfigMapVolume::new(dir.path());
    volume.write(&[("web.wasm", &wasm)]);
    let plugins = open(dir.path()).await;
    let check = plugins
        .current()
        .get("web")
        .unwrap()
        .plugin
        .as_ref()
        .expect("the plugin loads")
        .checks()[0]
        .name
        .clone();
    for n in 1..=5 {
        let version = new_version(&wasm, n);
        let new_sha256 = sha256(&version);
        volume.write(&[("web.wasm", &version)]);
        eventually("the new version to answer", DEADLINE, async || {
            let set = plugins.current();
            let entry = set.get("web")?;
            let plugin = entry
                .plugin
                .as_ref()
                .filter(|_| entry.loaded_sha256.as_deref() == Some(new_sha256.as_str()))?;
            plugin.run(&check, &[]).await.ok()
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile files (issue 23)

/// Issue 23's 21 bytes: a core module whose code section claims more bytes than the file has.
/// They panicked inside wit-component: a server started with the file present exited before it
/// listened, and one hot-dropped ended the reload task for good.
const OVERRUNNING_CORE_MODULE: &[u8] =
    b"\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x0a\x64\x01";

#[tokio::test]
async fn a_malformed_core_module_is_a_load_error_and_the_directory_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("crash.wasm"), OVERRUNNING_CORE_MODULE).unwrap();
    let plugins = open(dir.path()).await;
    let refused = |entry: &PluginEntry| {
        entry.plugin.is_none()
            && entry.last_error.as_ref().is_some_and(|error| {
                error
                    .message
                    .contains(".wasm: not a WebAssembly component: invalid core module: ")
            })
    };
    assert!(refused(plugins.current().get("crash").unwrap()));

    std::fs::write(dir.path().join("again.wasm"), OVERRUNNING_CORE_MODULE).unwrap();
    wait_for_entry(
        &plugins,
        "again",
        "the hot-dropped copy to be refused",
        refused,
    )
    .await;
    std::fs::write(
        dir.path().join("web.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    wait_for_answer(&plugins, "web", "v001").await;
    assert!(plugins.is_loaded(), "the directory is still watched");
    assert_eq!(plugins.reload_panics(), 0);
}

#[tokio::test]
async fn a_link_to_a_file_outside_the_plugin_directory_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let hostname = outside.path().join("hostname");
    std::fs::write(&hostname, "node-secret-name\n").unwrap();
    std::os::unix::fs::symlink(&hostname, dir.path().join("web.py")).unwrap();
    // A link that stays inside (as a ConfigMap's keys do) is followed.
    std::fs::create_dir(dir.path().join("..data")).unwrap();
    std::fs::write(
        dir.path().join("..data/api.wasm"),
        AnswerPlugin::new("v001").wasm(),
    )
    .unwrap();
    std::os::unix::fs::symlink("..data/api.wasm", dir.path().join("api.wasm")).unwrap();
    let plugins = open(dir.path()).await;
    assert_eq!(answer(&plugins, "api").await.as_deref(), Some("v001"));
    let entry = plugins.current().get("web").unwrap().clone();
    assert!(entry.plugin.is_none());
    assert_eq!(entry.sha256, None, "nothing of the file was read");
    assert_eq!(
        entry.last_error.unwrap().message,
        "web.py is a link to a file outside the plugin directory; refused unread (ConfigMap keys \
         link inside it)"
    );
}

#[tokio::test]
async fn a_cache_directory_others_can_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        refused_cache(dir.path(), cache.path()).await,
        format!(
            "compile cache directory {} (--cache-dir, CACHE_DIR) cannot hold compiled plugins, which \
             run as code: others can write to it (mode 777); use a directory of this user's own, \
             e.g. a new subdirectory (it is created owner-only)",
            cache.path().canonicalize().unwrap().display()
        )
    );
    // A new folder inside it is created owner-only, and accepted.
    let private = cache.path().join("compiled");
    PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine(),
        Some(private.clone()),
        None,
    )
    .await
    .expect("a private subdirectory is accepted");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[tokio::test]
async fn an_artifact_planted_under_another_plugins_hash_is_compiled_again_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().join("compiled");
    let (web, api) = (
        AnswerPlugin::new("v001").wasm(),
        AnswerPlugin::new("evil").wasm(),
    );
    std::fs::write(dir.path().join("web.wasm"), &web).unwrap();
    std::fs::write(dir.path().join("api.wasm"), &api).unwrap();
    let open_cached = async || {
        PluginDir::open(
            PluginSource::Directory(dir.path().to_owned()),
            engine(),
            Some(cache_dir.clone()),
            None,
        )
        .await
        .unwrap()
    };
    drop(open_cached().await);
    let artifact_of = |bytes: &[u8]| {
        let prefix = format!("{}-", sha256(bytes));
        let name = cache_artifacts(&cache_dir)
            .into_iter()
            .find(|name| name.starts_with(&prefix))
            .expect("cached");
        cache_dir.join(name)
    };
    let (web_artifact, api_artifact) = (artifact_of(&web), artifact_of(&api));
    // An attacker copies api's artifact, and its code, over web's.
    std::fs::copy(&api_artifact, &web_artifact).unwrap();
    let mac = |path: &Path| Path::new(&format!("{}.mac", path.display())).to_owned();
    std::fs::copy(mac(&api_artifact), mac(&web_artifact)).unwrap();

    let warm = open_cached().await;
    assert_eq!(answer(&warm, "web").await.as_deref(), Some("v001"));
    assert_eq!(answer(&warm, "api").await.as_deref(), Some("evil"));
    assert_eq!(
        warm.compile_counts(),
        CompileCounts {
            compiled: 1,
            from_cache: 1
        }
    );
}

/// Hundreds of scripts written at once, each busy for a few epoch ticks while its checks are
/// listed (so unbounded loads hold their instances all at once): every one loads (issue 23:
/// 2,000 scripts and 1,000 components at once left 128–131 plugins failed on the instance
/// pool's limit, never retried).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_scripts_written_at_once_all_load() {
    const SCRIPTS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    for n in 0..SCRIPTS {
        let script = format!(
            "let sum = 0;\nfor (let i = 0; i < 200000; i++) sum += i;\n\
             check('answer', 'Answers.', () => 'v{n:03}');\n"
        );
        std::fs::write(dir.path().join(format!("s{n:03}.js")), script).unwrap();
    }
    let plugins = PluginDir::open(
        PluginSource::Directory(dir.path().to_owned()),
        engine(),
        Some(common::repo().join("target/test-compile-cache")),
        Some(common::runtime_dir()),
    )
    .await
    .unwrap();
    let set = plugins.current();
    let failed: Vec<String> = (0..SCRIPTS)
        .filter_map(|n| {
            let service = format!("s{n:03}");
            let entry = set.get(&service)?;
            let error = entry.last_error.as_ref()?;
            Some(format!("{service}: {}", error.message))
        })
        .collect();
    assert_eq!(failed, Vec::<String>::new());
    assert_eq!(set.services().count(), SCRIPTS);
    assert_eq!(answer(&plugins, "s299").await.as_deref(), Some("v299"));
}

/// `kube-shields precompile` at image build: the runtime beside its compiled form is mapped, not
/// compiled; compiled again when the artifact is of another runtime file.
#[tokio::test]
async fn a_precompiled_runtime_is_mapped_not_compiled() {
    let runtimes = tempfile::tempdir().unwrap();
    std::fs::copy(
        common::runtime_dir().join("js.wasm"),
        runtimes.path().join("js.wasm"),
    )
    .unwrap();
    let done = kube_shields::plugin_dir::precompile(runtimes.path()).unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].artifact, runtimes.path().join("js.wasm.cwasm"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("web.js"),
        "check('answer', 'Answers.', () => 'v001');\n",
    )
    .unwrap();
    let open = async || {
        PluginDir::open(
            PluginSource::Directory(dir.path().to_owned()),
            engine(),
            None,
            Some(runtimes.path().to_owned()),
        )
        .await
        .unwrap()
    };
    let mapped = open().await;
    assert_eq!(answer(&mapped, "web").await.as_deref(), Some("v001"));
    assert_eq!(mapped.compile_counts(), CompileCounts::default());

    std::fs::write(runtimes.path().join("js.wasm.cwasm.sha256"), "0".repeat(64)).unwrap();
    let compiled = open().await;
    assert_eq!(answer(&compiled, "web").await.as_deref(), Some("v001"));
    assert_eq!(
        compiled.compile_counts(),
        CompileCounts {
            compiled: 1,
            from_cache: 0
        }
    );
}
