//! Scale figure for discovery: 30,000 pods (10,000 Deployments × 3) served by the fake API
//! server, watched through the real `pods::kube` source. Prints the time to the first synced
//! index and this process's resident memory (goals: ≤ 3 s, ≤ 150 MB).
//!
//! `cargo run --release --example discovery_scale -p kube-shields [-- DEPLOYMENTS]`
//!
//! The fake API server runs in a child process (this binary with `serve`), so the memory
//! figure is kube-shields' alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_apiserver::{FakeApiServer, PodBuilder, loopback_ip};
use kube_shields::pods::connection::KubeConnection;
use kube_shields::pods::index::SharedIndex;
use kube_shields::pods::source::{self, PodOrigin, PodSourceConfig};

const PODS_PER_DEPLOYMENT: u32 = 3;
const NAMESPACES: u32 = 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(args[1].parse().expect("deployment count"))),
        other => runtime.block_on(measure(
            other.map_or(10_000, |n| n.parse().expect("deployment count")),
        )),
    }
}

/// Child: serves the pods, prints its URL, and exits when the parent closes stdin.
async fn serve(deployments: u32) {
    let fake = FakeApiServer::start().await;
    for d in 0..deployments {
        let (deployment, namespace) = (
            format!("service-{d:05}"),
            format!("team-{:02}", d % NAMESPACES),
        );
        for p in 0..PODS_PER_DEPLOYMENT {
            let pod = PodBuilder::new(&namespace, &format!("{deployment}-5f7c8d9b6-{p:05}"))
                .deployment(&deployment, "5f7c8d9b6")
                .label("app", &deployment)
                .ip(loopback_ip(d * PODS_PER_DEPLOYMENT + p));
            fake.upsert(pod.build());
        }
    }
    fake.compact();
    println!("{}", fake.url());
    std::io::stdout().flush().expect("stdout");
    tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
        .await
        .expect("stdin reader")
        .expect("stdin");
}

/// Parent: starts the fake, then times discovery against it.
async fn measure(deployments: u32) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["serve", &deployments.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the fake API server");
    let mut url = String::new();
    BufReader::new(child.stdout.take().expect("child stdout"))
        .read_line(&mut url)
        .expect("fake URL");

    let rss_before = memory_kib("VmRSS");
    let shared = SharedIndex::new();
    let started = Instant::now();
    let config = PodSourceConfig {
        origin: PodOrigin::Kube(KubeConnection {
            kube_url: Some(url.trim().to_owned()),
            ..KubeConnection::default()
        }),
        namespaces: Vec::new(),
        exclude: vec!["kube-system".to_owned()],
        label_selector: None,
    };
    let task = source::start(config, Arc::clone(&shared))
        .await
        .expect("pod source");
    while !shared.is_synced() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let index = shared.current();
    let (rss, peak) = (memory_kib("VmRSS"), memory_kib("VmHWM"));

    println!(
        "pods: {}, services: {}",
        index.pod_count(),
        index.names().count()
    );
    println!(
        "time to first synced index: {:.2} s (goal ≤ 3 s)",
        elapsed.as_secs_f64()
    );
    println!(
        "resident memory: {:.1} MB (peak {:.1} MB, {:.1} MB before start; goal ≤ 150 MB)",
        mb(rss),
        mb(peak),
        mb(rss_before)
    );

    task.abort();
    drop(child.stdin.take());
    child.wait().expect("fake API server exits");
}

/// A `/proc/self/status` memory figure in KiB.
fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("memory field")
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1_000_000.0
}
