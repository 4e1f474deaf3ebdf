//! Federation figures, printed (not asserted): everything on loopback, built through `App::new`.
//!
//! 1. Local badge latency (p50, p99) with no peers, then with a hung peer (accepts, never
//!    answers) while remote badges for it are being asked for at the same time.
//! 2. A 3-cluster index of 900 services (300 each; one peer private): time to the first byte of
//!    `/`, and until the last badge image on it is fetched by a client that, like a browser,
//!    opens 6 connections; then, when `chromium` is on the PATH, the same in headless Chromium
//!    (as `/index.js` records it: first byte and last badge filled, since navigation start).
//!
//! `cargo run --release --features examples --example federation_latency -p kube-shields`
//! (from the repository root; `scripts/load.sh` runs it too).

#[path = "support/pods.rs"]
mod support_pods;
use support_pods::pods_file;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube_shields::app::{App, AppConfig, CoreConfig};
use kube_shields::auth::Secret;
use kube_shields::pods::{PodOrigin, PodSourceConfig};
use kube_shields::server::Mode;

// Shared with the integration tests: headless Chromium, and a server that never answers.
#[path = "../tests/it/common/chromium.rs"]
mod chromium;
#[allow(dead_code)]
#[path = "../tests/it/common/net.rs"]
mod net;

const REQUESTS: usize = 20_000;
/// Services of each cluster on the index.
const INDEX_SERVICES: usize = 300;
const CONCURRENCY: usize = 16;

async fn instance(pods: &Path, mode: Mode, secret: &Secret) -> (App, String) {
    let config = AppConfig::new(CoreConfig::new(PodSourceConfig::all(PodOrigin::File(
        pods.to_owned(),
    ))))
    .with_mode(mode)
    .with_site_name("federation figures")
    .with_secret(Some(secret.clone()));
    let app = App::new(config).await.expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.serve(listener, std::future::pending()));
    (app, base)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `REQUESTS` local health badges over `CONCURRENCY` connections; sorted latencies.
async fn local_latencies(base: &str) -> Vec<Duration> {
    let client = client();
    let mut latencies: Vec<Duration> = futures::stream::iter(0..REQUESTS)
        .map(|n| {
            let (client, url) = (
                client.clone(),
                format!("{base}/_/local-{:05}/health/", n % 100),
            );
            async move {
                let started = Instant::now();
                let response = client.get(url).send().await.unwrap();
                assert_eq!(response.status(), 302);
                started.elapsed()
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    latencies.sort_unstable();
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("secret"),
        "0123456789abcdef0123456789abcdef-figures\n",
    )
    .unwrap();
    let secret = Secret::from_file(&dir.path().join("secret")).unwrap();

    // 1. Local badges, without and with a hung peer.
    let local = pods_file(dir.path(), "local", 100);
    let (_alone, alone) = instance(&local, Mode::Public { peers: vec![] }, &secret).await;
    local_latencies(&alone).await; // warm-up
    let without = local_latencies(&alone).await;

    let hung_address = net::hung_server().await;
    let (_with_hung, with_hung) = instance(
        &local,
        Mode::Public {
            peers: vec![format!("http://{hung_address}")],
        },
        &secret,
    )
    .await;
    // Remote badges for the hung peer keep being asked for meanwhile, 32 at a time (each waits
    // the peer timeout).
    let stop = Arc::new(AtomicBool::new(false));
    let remote_asks = {
        let (client, stop, with_hung) = (client(), Arc::clone(&stop), with_hung.clone());
        let askers = (0..32).map(move |n| {
            // One badge each: 32 fetches of the hung peer in flight, none shared.
            let url = format!("{with_hung}/_/x-{n}@{hung_address}/health/");
            let (stop, client) = (Arc::clone(&stop), client.clone());
            async move {
                let mut asked = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let _ = client.get(&url).send().await;
                    asked += 1;
                }
                asked
            }
        });
        tokio::spawn(async move {
            futures::future::join_all(askers)
                .await
                .iter()
                .sum::<usize>()
        })
    };
    local_latencies(&with_hung).await; // warm-up
    let with = local_latencies(&with_hung).await;
    stop.store(true, Ordering::Relaxed);
    let remote_asked = remote_asks.await.unwrap();
    println!("local badge, {REQUESTS} requests over {CONCURRENCY} connections:");
    println!(
        "  no peers:   p50 {}  p99 {}",
        ms(percentile(&without, 0.5)),
        ms(percentile(&without, 0.99))
    );
    println!(
        "  hung peer:  p50 {}  p99 {}  ({remote_asked} remote badges of the hung peer asked meanwhile)",
        ms(percentile(&with, 0.5)),
        ms(percentile(&with, 0.99))
    );

    // 2. A 3-cluster index.
    let (_b, b) = instance(
        &pods_file(dir.path(), "bee", INDEX_SERVICES),
        Mode::Private,
        &secret,
    )
    .await;
    let (_c, c) = instance(
        &pods_file(dir.path(), "cee", INDEX_SERVICES),
        Mode::Public { peers: vec![] },
        &secret,
    )
    .await;
    let (hub_app, hub) = instance(
        &pods_file(dir.path(), "hub", INDEX_SERVICES),
        Mode::Public {
            peers: vec![b.clone(), c.clone()],
        },
        &secret,
    )
    .await;
    hub_app.checker().peers().refresh_all().await;
    let client = client();
    for round in 1..=3 {
        let started = Instant::now();
        let response = client.get(format!("{hub}/")).send().await.unwrap();
        let first_byte = started.elapsed();
        let page = response.text().await.unwrap();
        let page_done = started.elapsed();
        let sources: Vec<String> = page
            .split("class=\"badge\" alt=")
            .skip(1)
            .filter_map(|rest| {
                let start = rest.find(" src=\"")? + 6;
                Some(rest[start..start + rest[start..].find('"')?].replace("&amp;", "&"))
            })
            .collect();
        let browser = reqwest::Client::builder()
            .pool_max_idle_per_host(6)
            .build()
            .unwrap();
        let loaded: Vec<bool> = futures::stream::iter(sources.iter())
            .map(|src| {
                let (browser, url) = (browser.clone(), format!("{hub}{src}"));
                async move {
                    let response = browser.get(url).send().await.unwrap();
                    let ok = response.status() == 200;
                    let body = response.bytes().await.unwrap();
                    ok && body.starts_with(b"<svg")
                }
            })
            .buffer_unordered(6)
            .collect()
            .await;
        let last_badge = started.elapsed();
        let round = if round == 1 {
            "1 (cold)".to_owned()
        } else {
            format!("{round} (peer results cached)")
        };
        println!(
            "index of 3 clusters, round {round}: first byte {}, page {} ({} KiB), {} badges, all {} by {}",
            ms(first_byte),
            ms(page_done),
            page.len() / 1024,
            sources.len(),
            if loaded.iter().all(|ok| *ok) {
                "loaded"
            } else {
                "NOT loaded"
            },
            ms(last_badge)
        );
    }
    if let Some((first_byte, filled)) = in_chromium(&format!("{hub}/"), dir.path()).await {
        println!(
            "index of 3 clusters in headless Chromium: first byte {first_byte} ms, last of {} badges filled at {filled} ms",
            3 * INDEX_SERVICES
        );
    }
}

/// Loads `url` in headless Chromium (its DOM is dumped after the load event, which waits for
/// every image) and reads what `/index.js` recorded; `None` without Chromium.
async fn in_chromium(url: &str, dir: &Path) -> Option<(String, String)> {
    let dom = chromium::chromium(&dir.join("chromium"), &["--dump-dom", url])
        .await
        .ok()?;
    let read = |name: &str| {
        let start = dom.find(&format!("{name}=\""))? + name.len() + 2;
        Some(dom[start..start + dom[start..].find('"')?].to_owned())
    };
    Some((read("data-first-byte-ms")?, read("data-filled-ms")?))
}
