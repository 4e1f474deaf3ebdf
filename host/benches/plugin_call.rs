//! Plugin engine costs: one check call in a fresh instance (goal: median ≤ 100 µs), and
//! compiling each example plugin. The examples must be built first
//! (`cargo build --release --target wasm32-wasip2` in example-plugins/).

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use kube_shields::plugin::{PluginEngine, PluginSettings};
use kube_shields::pods::model::{ContainerInfo, PodInfo};

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

criterion_group!(benches, calls, compiles);
criterion_main!(benches);
