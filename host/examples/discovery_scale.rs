//! Scale figures for discovery: 100,000 pods (Deployments of 3 pods in 20 namespaces) and their
//! 33,334 Deployments served by the fake API server, watched through the real `pods::kube`
//! source (pods, and the workloads of the `rollout` check). For each way an API server can hand
//! out the initial list, prints the time to the first synced index and to every rollout known,
//! the resident memory once synced and settled (steady) and its peak (VmHWM) during the initial
//! lists (goals: ≤ 4 s, ≤ 200 MB steady, peak ≤ 1.3 × steady).
//!
//! `cargo run --release --features examples --example discovery_scale -p kube-shields
//! [-- PODS [MODE [pods-only]]]`
//!
//! MODE is `paged` (lists honour `limit`), `whole` (lists ignore `limit`, as the watch cache at
//! `resourceVersion=0`) or `watch-list` (streaming lists offered); without it every mode runs.
//! `pods-only` serves no Deployments (the figures before workloads were watched: the one
//! Deployment watch then lists nothing).
//! Each measurement runs in a fresh process (this binary with `measure`), and the fake API
//! server in a child of that (`serve`), so the memory figures are kube-shields' alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_apiserver::{DeploymentBuilder, FakeApiServer, ListMode, PodBuilder, loopback_ip};
use kube_shields::pods::KubeConnection;
use kube_shields::pods::SharedIndex;
use kube_shields::pods::{self, PodOrigin, PodSourceConfig};

const PODS_PER_DEPLOYMENT: u32 = 3;
const NAMESPACES: u32 = 20;
const MODES: [&str; 3] = ["paged", "whole", "watch-list"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let pods = |arg: Option<&String>| arg.map_or(100_000, |n| n.parse().expect("pod count"));
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(pods(args.get(1)), &args[2], &args[3])),
        Some("measure") => runtime.block_on(measure(pods(args.get(1)), &args[2], &args[3])),
        _ => {
            let count = pods(args.first());
            let modes: Vec<&str> = match args.get(1) {
                Some(mode) => vec![mode.as_str()],
                None => MODES.to_vec(),
            };
            let workloads = args.get(2).map_or("workloads", String::as_str);
            for mode in modes {
                run_child(&["measure", &count.to_string(), mode, workloads]);
            }
        }
    }
}

/// Runs this binary with `args`, its output going to ours.
fn run_child(args: &[&str]) {
    let status = Command::new(std::env::current_exe().expect("own path"))
        .args(args)
        .status()
        .expect("start a measurement");
    assert!(status.success(), "measurement {args:?} failed");
}

/// Child: serves the pods the way `mode` says, prints its URL, and exits when the parent
/// closes stdin.
async fn serve(pods: u32, mode: &str, workloads: &str) {
    let builder = FakeApiServer::builder();
    let fake = match mode {
        "paged" => builder.list_mode(ListMode::Paged),
        "whole" => builder.list_mode(ListMode::Whole),
        "watch-list" => builder.list_mode(ListMode::Whole).watch_list(true),
        other => panic!("unknown mode {other:?}: one of {MODES:?}"),
    }
    .start()
    .await;
    for n in 0..pods {
        let d = n / PODS_PER_DEPLOYMENT;
        let (deployment, namespace) = (
            format!("service-{d:05}"),
            format!("team-{:02}", d % NAMESPACES),
        );
        let pod = PodBuilder::new(&namespace, &format!("{deployment}-5f7c8d9b6-{n:06}"))
            .deployment(&deployment, "5f7c8d9b6")
            .label("app", &deployment)
            .ip(loopback_ip(n));
        fake.upsert(pod.build());
        if workloads != "pods-only" && n % PODS_PER_DEPLOYMENT == 0 {
            let replicas = PODS_PER_DEPLOYMENT as i32;
            fake.upsert_object(
                DeploymentBuilder::new(&namespace, &deployment)
                    .replicas(replicas)
                    .build(),
            );
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

/// Starts the fake, then times discovery against it.
async fn measure(pods: u32, mode: &str, workloads: &str) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["serve", &pods.to_string(), mode, workloads])
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
        exclude: vec!["kube-system".to_owned()],
        ..PodSourceConfig::all(PodOrigin::Kube(KubeConnection {
            kube_url: Some(url.trim().to_owned()),
            ..KubeConnection::default()
        }))
    };
    let task = pods::start(config, Arc::clone(&shared))
        .await
        .expect("pod source");
    while !shared.is_synced() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let elapsed = started.elapsed();
    let index = shared.current();
    let (pods, services) = (index.pod_count(), index.names().count());
    drop(index);
    // Every rollout known: the Deployment watch has listed.
    use kube_shields::pods::{KindAccess, WorkloadKind};
    while shared.workloads().access(WorkloadKind::Deployment) != KindAccess::Listed {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rollouts_known = started.elapsed();
    let workload_count = shared.workloads().len();
    let rss_synced = memory_kib("VmRSS");
    // Steady: after the list's buffers are gone and the allocator has had time to return them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (steady, peak) = (memory_kib("VmRSS"), memory_kib("VmHWM"));

    println!(
        "[{mode}] pods: {pods}, services: {services}, workloads: {workload_count}; first synced \
         index in {:.2} s (goal ≤ 4 s), every rollout known in {:.2} s",
        elapsed.as_secs_f64(),
        rollouts_known.as_secs_f64()
    );
    println!(
        "[{mode}] resident memory: steady {:.1} MB (goal ≤ 200 MB), peak {:.1} MB = {:.2} × steady \
         (goal ≤ 1.3), {:.1} MB at sync, {:.1} MB before start",
        mb(steady),
        mb(peak),
        peak as f64 / steady as f64,
        mb(rss_synced),
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
