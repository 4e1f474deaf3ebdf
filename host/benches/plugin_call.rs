//! Plugin engine costs: one check call in a fresh instance (goal: median ≤ 100 µs), and
//! compiling each example plugin. The examples must be built first
//! (`cargo build --release --target wasm32-wasip2` in example-plugins/).
//!
//! Scripts: a trivial check in each language runtime of `target/runtimes` (built by
//! `scripts/build-runtimes.sh`; goals: JS ≤ 2 ms, Python ≤ 10 ms median), fresh instance
//! and script evaluation per call, and the first compile of each runtime. Every
//! `python*.wasm` / `js*.wasm` there is measured, so another build of a runtime (e.g.
//! `KUBE_SHIELDS_JS_BACKEND=starlingmonkey scripts/build-runtimes.sh target/runtimes-sm`,
//! copied in as `js-starlingmonkey.wasm`) can be compared. Sizes are printed, raw and gzipped.
//!
//! C: the `example-plugins/c` core module (built by its `build.sh`), one call of `running`
//! and of `release` (adapter included), and its compile (encoding into a component included).

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use std::io::Write;

use kube_shields::plugin::{PluginEngine, PluginSettings, Script};
use kube_shields::pods::{ContainerInfo, PodInfo};

const EXAMPLES: [&str; 3] = ["image_tags", "release_info", "http_probe"];

fn read(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn example(name: &str) -> Vec<u8> {
    read(&format!(
        "../example-plugins/target/wasm32-wasip2/release/{name}.wasm"
    ))
}

fn web_pod(n: usize) -> Arc<PodInfo> {
    Arc::new(PodInfo {
        name: format!("web-7d4b9c-{n}"),
        namespace: "default".into(),
        generate_name: None,
        controller: None,
        phase: "Running".into(),
        pod_ip: Some(format!("10.0.0.{n}")),
        pod_ips: vec![format!("10.0.0.{n}")],
        node_name: Some(format!("node-{n}")),
        labels: [("app".to_owned(), "web".to_owned())].into(),
        annotations: Default::default(),
        created: None,
        containers: vec![ContainerInfo {
            name: "app".into(),
            image: "nginx:1.27".into(),
            ready: true,
            restart_count: 0,
            state: "running".into(),
            reason: None,
            finished: None,
        }],
    })
}

fn calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = PluginEngine::new().expect("plugin engine");
    let trivial = runtime
        .block_on(engine.load(
            "web",
            &read("tests/fixtures/good.wat"),
            PluginSettings::default(),
        ))
        .expect("good fixture loads");
    let image_tags = runtime
        .block_on(engine.load("web", &example("image_tags"), PluginSettings::default()))
        .expect("image_tags loads");
    let pods: Vec<Arc<PodInfo>> = (1..=3).map(web_pod).collect();

    let mut group = c.benchmark_group("call");
    group.bench_function("trivial_wat", |b| {
        b.to_async(&runtime)
            .iter(|| async { trivial.run("ok", &[]).await.expect("ok runs") })
    });
    group.bench_function("image_tags_3_pods", |b| {
        b.to_async(&runtime)
            .iter(|| async { image_tags.run("image", &pods).await.expect("image runs") })
    });
    group.finish();
}

fn c_example(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = PluginEngine::new().expect("plugin engine");
    let bytes = read("../example-plugins/c/target/web.wasm");
    let settings =
        PluginSettings::parse(b"[config]\nrelease = \"2026.11\"\n", true).expect("settings");
    let web = runtime
        .block_on(engine.load("web", &bytes, settings))
        .expect("the C example loads");
    let pods: Vec<Arc<PodInfo>> = (1..=3).map(web_pod).collect();
    let mut group = c.benchmark_group("c_call");
    group.bench_function("running_3_pods", |b| {
        b.to_async(&runtime)
            .iter(|| async { web.run("running", &pods).await.expect("running runs") })
    });
    group.bench_function("release", |b| {
        b.to_async(&runtime)
            .iter(|| async { web.run("release", &[]).await.expect("release runs") })
    });
    group.finish();
    let mut group = c.benchmark_group("c_compile");
    group.sample_size(10);
    group.bench_function("web", |b| {
        b.iter(|| engine.compile(&bytes).expect("the C example compiles"))
    });
    group.finish();
}

fn compiles(c: &mut Criterion) {
    let engine = PluginEngine::new().expect("plugin engine");
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    for name in EXAMPLES {
        let bytes = example(name);
        group.bench_function(name, |b| {
            b.iter(|| engine.compile(&bytes).expect("example compiles"))
        });
    }
    group.finish();
}

/// The language runtimes to measure: (name, file name of scripts, trivial script, bytes).
fn runtimes() -> Vec<(String, &'static str, &'static str, Vec<u8>)> {
    let dir = std::env::var_os("KUBE_SHIELDS_RUNTIMES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/runtimes"));
    let mut found: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| {
            panic!(
                "{}: {err}: run scripts/build-runtimes.sh first",
                dir.display()
            )
        })
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_stem()?.to_str()?.to_owned();
            if path.extension()? != "wasm" {
                return None;
            }
            let (file, script) = if name.starts_with("python") {
                (
                    "web.py",
                    "from kube_shields import check\n@check\ndef ok(ctx):\n    return 'ok'\n",
                )
            } else if name.starts_with("js") {
                ("web.js", "check('ok', () => 'ok');\n")
            } else {
                return None;
            };
            Some((name, file, script, std::fs::read(&path).ok()?))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, _, _, bytes) in &found {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).expect("gzip");
        let gzipped = gz.finish().expect("gzip").len();
        eprintln!(
            "runtime {name}: {:.2} MiB raw, {:.2} MiB gzipped",
            bytes.len() as f64 / 1048576.0,
            gzipped as f64 / 1048576.0
        );
    }
    found
}

fn script_calls(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engine = PluginEngine::new().expect("plugin engine");
    let mut group = c.benchmark_group("script_call");
    for (name, file, text, bytes) in runtimes() {
        let prepared = engine
            .prepare_runtime(&engine.compile(&bytes).expect("runtime compiles"))
            .expect("runtime prepares");
        let script = Script {
            file_name: file.into(),
            text: text.into(),
        };
        let plugin = runtime
            .block_on(engine.load_script("web", &prepared, script, PluginSettings::default()))
            .expect("trivial script loads");
        group.bench_function(format!("{name}_trivial"), |b| {
            b.to_async(&runtime)
                .iter(|| async { plugin.run("ok", &[]).await.expect("ok runs") })
        });
    }
    group.finish();
}

fn runtime_compiles(c: &mut Criterion) {
    let engine = PluginEngine::new().expect("plugin engine");
    let mut group = c.benchmark_group("runtime_compile");
    group.sample_size(10);
    for (name, _, _, bytes) in runtimes() {
        group.bench_function(&name, |b| {
            b.iter(|| engine.compile(&bytes).expect("runtime compiles"))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    calls,
    compiles,
    c_example,
    script_calls,
    runtime_compiles
);
criterion_main!(benches);
