//! History figures, printed (not asserted): everything on loopback, servers built through
//! `App::new` from a pods file of single-pod services (`scripts/gen-pods.py`), history in the
//! embedded SQLite store in a temporary directory.
//!
//! 1. Scheduled evaluation of `SERVICES` `health` checks every `INTERVAL`: over `MEASURE`, the
//!    server's CPU share (the process's, less the client's threads), the samples written, and
//!    the latency of a paced client asking for health badges (and, on the history server,
//!    `uptime/30d` badges) meanwhile; the same client against the same server without history
//!    is the baseline.
//! 2. A history badge (`uptime/30d`) against a cached plugin badge (the `release_info` example
//!    component, `cache_seconds = 3600`), `SEQUENTIAL` sequential requests each (goal: the
//!    history badge within 2× of the cached plugin badge).
//! 3. The store after a simulated year (time injected, nothing waited for): `YEAR_CHECKS`
//!    checks with a sample a minute, an hour of samples per write, pruned daily; its size, per
//!    check and year, and rows per tier.
//! 4. Start-up with a year of history for `STARTUP_CHECKS` checks (written within
//!    `BUILD_BUDGET`, else fewer and extrapolated): `App::new` to the first `/readyz` 200 with
//!    and without the store, and the latency of `uptime/1y?raw` on it.
//!
//! `cargo run --release --features examples --example history_scale -p kube-shields` (from the
//! repository root; build the example plugins first: `scripts/build-plugins.sh`). Takes about
//! 5 minutes and about 1.2 GB in the temporary directory.

#[path = "support/pods.rs"]
mod support_pods;
use support_pods::pods_file;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kube_shields::app::{App, AppConfig, CoreConfig, HistoryConfig, HistoryStore};
use kube_shields::plugin_dir::PluginSource;
use kube_shields::pods::{PodOrigin, PodSourceConfig};
use kube_shields::server::Mode;
use kube_shields_history::{CheckKey, Sample, SqliteStore, Tier, UnixSeconds};
use tokio::runtime::Handle;

/// Services in the pods file (one pod each): one `health` check each.
const SERVICES: usize = 10_000;
/// The history interval of figure 1's server.
const INTERVAL: Duration = Duration::from_secs(60);
/// How long figure 1 measures each server, after the same load unmeasured for `LOAD_WARM_UP`.
const MEASURE: Duration = Duration::from_secs(60);
const LOAD_WARM_UP: Duration = Duration::from_secs(5);
/// Figure 1's health-badge client: this many connections, asking this many badges a second in
/// all (paced, so both servers get the same load and the CPU share stays readable).
const CLIENTS: usize = 4;
const HEALTH_RATE: u32 = 400;
/// Figure 1's `uptime/30d` client: one connection, this many a second.
const UPTIME_RATE: u32 = 40;
/// Figure 2: warm-up and measured requests of each badge, one at a time.
const WARM_UP: usize = 300;
const SEQUENTIAL: usize = 3_000;
/// Figure 3: checks, and days simulated.
const YEAR_CHECKS: usize = 20;
const YEAR_DAYS: i64 = 365;
/// Figure 4: checks with a year of history, written `BUILD_CHUNK` checks per transaction for
/// at most `BUILD_BUDGET` (then fewer, and the figures extrapolated).
const STARTUP_CHECKS: usize = 10_000;
const BUILD_CHUNK: usize = 100;
const BUILD_BUDGET: Duration = Duration::from_secs(150);
/// Figure 4: start-ups timed of each server, and `uptime/1y?raw` requests after the first.
const STARTUP_ROUNDS: usize = 3;
const SETTLE: Duration = Duration::from_secs(5);
const LATER_REQUESTS: usize = 100;

/// The client's threads: their CPU time is left out of the server's.
const CLIENT_THREAD: &str = "bench-client";
/// `/proc` times are in clock ticks of `USER_HZ`, 100 on Linux.
const TICKS_PER_SECOND: f64 = 100.0;
const DAY: i64 = 86_400;

fn main() {
    // The client runs on its own threads, so the server's CPU time can be told from its own.
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()
        .expect("client runtime");
    let server = tokio::runtime::Runtime::new().expect("server runtime");
    server.block_on(figures(client.handle().clone()));
}

async fn figures(client: Handle) {
    let dir = tempfile::tempdir().unwrap();
    let pods = pods_file(dir.path(), "svc", SERVICES);
    let history = dir.path().join("history");
    scheduled_minute(&client, &pods, &history).await;
    history_vs_plugin(&client, &pods, &history, dir.path()).await;
    simulated_year();
    startup(&client, &pods, dir.path()).await;
}

// ---------------------------------------------------------------------------------------------
// Servers and clients.

fn core(pods: &Path) -> CoreConfig {
    CoreConfig::new(PodSourceConfig::all(PodOrigin::File(pods.to_owned())))
}

fn with_history(core: CoreConfig, dir: &Path) -> CoreConfig {
    core.with_history(HistoryConfig {
        store: Some(HistoryStore::Dir(dir.to_owned())),
        interval: INTERVAL,
        ..HistoryConfig::default()
    })
}

/// A running server; stops serving when dropped.
struct Server {
    base: String,
    _app: App,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Builds the app (public mode, no peers) and serves it on loopback.
async fn start(core: CoreConfig) -> Server {
    let config = AppConfig::new(core)
        .with_mode(Mode::Public { peers: vec![] })
        .with_site_name("history figures");
    let app = App::new(config).await.expect("app starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    Server {
        base,
        _app: app,
        _stop: stop,
    }
}

/// Starts a server and waits (polling from the client's threads) for its first `/readyz` 200;
/// the server and the time that took.
async fn start_ready(client: &Handle, core: CoreConfig) -> (Server, Duration) {
    let started = Instant::now();
    let server = start(core).await;
    let url = format!("{}/readyz", server.base);
    client
        .spawn(async move {
            let client = http_client();
            loop {
                if let Ok(response) = client.get(&url).send().await
                    && response.status() == 200
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("readiness poll");
    (server, started.elapsed())
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Latencies of answered requests (sorted when read) and how many were not 200.
#[derive(Default)]
struct Timings {
    latencies: Vec<Duration>,
    failed: usize,
}

impl Timings {
    /// One request, its body read whole.
    async fn get(&mut self, client: &reqwest::Client, url: String) -> Option<bytes::Bytes> {
        let started = Instant::now();
        let body = match client.get(url).send().await {
            Ok(response) if response.status() == 200 => response.bytes().await.ok(),
            _ => None,
        };
        self.latencies.push(started.elapsed());
        self.failed += usize::from(body.is_none());
        body
    }

    fn merge(mut self, other: Timings) -> Timings {
        self.latencies.extend(other.latencies);
        self.failed += other.failed;
        self
    }

    fn percentile(&mut self, p: f64) -> Duration {
        self.latencies.sort_unstable();
        let sorted = &self.latencies;
        sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
    }

    /// `n requests: p50 …  p99 …` (and the failures, if any).
    fn summary(&mut self) -> String {
        let failed = match self.failed {
            0 => String::new(),
            n => format!(", {n} NOT 200"),
        };
        format!(
            "{} requests: p50 {}  p99 {}{failed}",
            self.latencies.len(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99))
        )
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

fn list_ms(durations: &[Duration]) -> String {
    let list: Vec<String> = durations.iter().map(|d| ms(*d)).collect();
    list.join(", ")
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn service(n: usize) -> String {
    format!("svc-{:05}", n % SERVICES)
}

// ---------------------------------------------------------------------------------------------
// 1. Scheduled evaluation.

/// CPU seconds used so far (user + system): the whole process's and the client threads'.
fn cpu_seconds() -> (f64, f64) {
    let client = std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim() == CLIENT_THREAD)
        })
        .map(|task| stat_ticks(&task.path().join("stat")))
        .sum::<u64>();
    let total = stat_ticks(Path::new("/proc/self/stat"));
    (
        total as f64 / TICKS_PER_SECOND,
        client as f64 / TICKS_PER_SECOND,
    )
}

/// `utime + stime` of a `/proc` `stat` file (fields 14 and 15; the name before may hold spaces).
fn stat_ticks(path: &Path) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let field = |n: usize| fields.get(n).and_then(|v| v.parse::<u64>().ok());
    field(11).unwrap_or(0) + field(12).unwrap_or(0)
}

/// What the paced clients saw over a measured span, and the CPU used meanwhile.
struct Load {
    health: Timings,
    uptime: Timings,
    /// Share of all cores used by the server (the process less the client threads).
    server_cpu: f64,
    /// Share of all cores used by the whole process.
    process_cpu: f64,
}

/// Runs the paced clients against `base` for `LOAD_WARM_UP`, unmeasured.
async fn warm_up(client: &Handle, base: &str) {
    client
        .spawn(paced_clients(base.to_owned(), LOAD_WARM_UP))
        .await
        .expect("clients");
}

/// Runs the paced clients against `base` for `MEASURE`, measuring the CPU used meanwhile.
async fn steady_load(client: &Handle, base: &str) -> Load {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (cpu_before, client_before) = cpu_seconds();
    let started = Instant::now();
    let (health, uptime) = client
        .spawn(paced_clients(base.to_owned(), MEASURE))
        .await
        .expect("clients");
    let wall = started.elapsed().as_secs_f64();
    let (cpu_after, client_after) = cpu_seconds();
    let process = cpu_after - cpu_before;
    let server = process - (client_after - client_before);
    Load {
        health,
        uptime,
        server_cpu: server / wall / cores,
        process_cpu: process / wall / cores,
    }
}

/// `CLIENTS` connections asking health badges and one asking `uptime/30d` badges, each paced,
/// for `span`, cycling over the services.
async fn paced_clients(base: String, span: Duration) -> (Timings, Timings) {
    let (client, base) = (http_client(), &base);
    let deadline = Instant::now() + span;
    let health_period = Duration::from_secs(1) * CLIENTS as u32 / HEALTH_RATE;
    let health = futures::future::join_all((0..CLIENTS).map(|worker| {
        paced(&client, health_period, deadline, move |n| {
            format!(
                "{base}/_/{}/health/?format=svg",
                service(n * CLIENTS + worker)
            )
        })
    }));
    let uptime = paced(
        &client,
        Duration::from_secs(1) / UPTIME_RATE,
        deadline,
        |n| {
            // Another order than the health badges'.
            format!(
                "{base}/_/{}/health/uptime/30d?format=svg",
                service(n * 7_919)
            )
        },
    );
    let (health, uptime) = tokio::join!(health, uptime);
    let health = health.into_iter().fold(Timings::default(), Timings::merge);
    (health, uptime)
}

/// One request every `period` (or as soon as the previous answers, when it is late) until
/// `deadline`, the `n`th to `url(n)`.
async fn paced(
    client: &reqwest::Client,
    period: Duration,
    deadline: Instant,
    url: impl Fn(usize) -> String,
) -> Timings {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut timings = Timings::default();
    for n in 0.. {
        ticks.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        timings.get(client, url(n)).await;
    }
    timings
}

/// Samples in the store: the counts of every service's `health` day buckets.
fn stored_samples(store: &SqliteStore) -> u64 {
    (0..SERVICES)
        .map(|n| {
            let key = CheckKey::new(service(n), "health");
            let buckets = store
                .buckets(&key, Tier::Day, UnixSeconds::MIN, UnixSeconds::MAX)
                .expect("history readable");
            buckets
                .iter()
                .map(|bucket| bucket.counts.count)
                .sum::<u64>()
        })
        .sum()
}

async fn scheduled_minute(client: &Handle, pods: &Path, history: &Path) {
    println!(
        "1. scheduled evaluation of {SERVICES} health checks every {}s; paced clients for {}s: \
         {HEALTH_RATE} health badges/s over {CLIENTS} connections, {UPTIME_RATE} uptime/30d \
         badges/s over 1",
        INTERVAL.as_secs(),
        MEASURE.as_secs()
    );
    let (server, ready) = start_ready(client, core(pods)).await;
    warm_up(client, &server.base).await;
    let mut baseline = steady_load(client, &server.base).await;
    drop(server);
    println!(
        "   without history (ready in {}): server CPU {:.1}% of all cores (process with the \
         client {:.1}%)",
        ms(ready),
        baseline.server_cpu * 100.0,
        baseline.process_cpu * 100.0
    );
    println!("     health badge:  {}", baseline.health.summary());

    let (server, ready) = start_ready(client, with_history(core(pods), history)).await;
    let store = SqliteStore::open(history).expect("history store opens");
    // The schedule lists the checks shortly after start; from then, every span of an interval
    // holds one run of each.
    let first_sample = Instant::now();
    while stored_samples(&store) == 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let waited = first_sample.elapsed();
    warm_up(client, &server.base).await;
    let before = stored_samples(&store);
    let mut load = steady_load(client, &server.base).await;
    let written = stored_samples(&store) - before;
    drop(server);
    println!(
        "   with history (ready in {}, first sample {} later): server CPU {:.1}% of all cores \
         (process with the client {:.1}%), {:+.1} points over the baseline; {written} samples \
         written in the {}s (goal ≈ {SERVICES})",
        ms(ready),
        ms(waited),
        load.server_cpu * 100.0,
        load.process_cpu * 100.0,
        (load.server_cpu - baseline.server_cpu) * 100.0,
        MEASURE.as_secs()
    );
    println!("     health badge:  {}", load.health.summary());
    println!("     uptime/30d:    {}", load.uptime.summary());
    println!(
        "     health badge p50 {:.2}×, p99 {:.2}× the baseline's",
        ratio(load.health.percentile(0.5), baseline.health.percentile(0.5)),
        ratio(
            load.health.percentile(0.99),
            baseline.health.percentile(0.99)
        ),
    );
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// 2. History badge against a cached plugin badge.

/// The `release_info` example component, found as the integration tests find it.
fn example_plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../example-plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-plugins.sh",
        path.display()
    );
    path
}

async fn history_vs_plugin(client: &Handle, pods: &Path, history: &Path, dir: &Path) {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(example_plugin("release_info"), plugins.join("version.wasm")).unwrap();
    std::fs::write(
        plugins.join("version.toml"),
        "cache_seconds = 3600\n[config]\nrelease = \"v1\"\n",
    )
    .unwrap();
    let core = with_history(core(pods), history).with_plugins(PluginSource::Directory(plugins));
    let (server, _) = start_ready(client, core).await;
    let base = server.base.clone();
    let (mut uptime, mut plugin) = client
        .spawn(async move {
            let client = http_client();
            let (mut uptime, mut plugin) = (Timings::default(), Timings::default());
            // Alternating, so both see the same background (the schedule runs meanwhile).
            for n in 0..WARM_UP + SEQUENTIAL {
                if n == WARM_UP {
                    (uptime, plugin) = (Timings::default(), Timings::default());
                }
                let history_badge = format!("{base}/_/{}/health/uptime/30d?format=svg", service(n));
                uptime.get(&client, history_badge).await;
                plugin
                    .get(&client, format!("{base}/_/version/release/?format=svg"))
                    .await;
            }
            (uptime, plugin)
        })
        .await
        .expect("sequential client");
    drop(server);
    println!("2. sequential requests, after {WARM_UP} of each to warm up:");
    println!("   uptime/30d badge (history):    {}", uptime.summary());
    println!("   version/release (cached plugin): {}", plugin.summary());
    let (p50, p99) = (
        ratio(uptime.percentile(0.5), plugin.percentile(0.5)),
        ratio(uptime.percentile(0.99), plugin.percentile(0.99)),
    );
    let verdict = if p50 <= 2.0 && p99 <= 2.0 {
        "within 2×: the goal holds"
    } else {
        "SLOWER than 2× of the cached plugin badge: the goal does NOT hold"
    };
    println!("   history / plugin: p50 {p50:.2}×, p99 {p99:.2}× ({verdict})");
}

// ---------------------------------------------------------------------------------------------
// 3. A simulated year.

fn key(n: usize) -> CheckKey {
    CheckKey::new(format!("svc-{n:05}"), "health")
}

/// A synthetic sample of check `n` at `at`: now and then down, latency varying.
fn sample(n: usize, at: UnixSeconds) -> Sample {
    let mix = (at / 60) as u64 ^ (n as u64).wrapping_mul(0x9e37_79b9);
    Sample {
        at,
        up: !mix.is_multiple_of(997),
        latency_us: 500 + mix % 4_000,
    }
}

/// Rows of check `key` in each tier.
fn rows(store: &SqliteStore, key: &CheckKey) -> [usize; 3] {
    Tier::ALL.map(|tier| {
        store
            .buckets(key, tier, UnixSeconds::MIN, UnixSeconds::MAX)
            .expect("history readable")
            .len()
    })
}

fn simulated_year() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).expect("store opens");
    let keys: Vec<CheckKey> = (0..YEAR_CHECKS).map(key).collect();
    // 2025-01-01T00:00:00Z.
    let start: UnixSeconds = 1_735_689_600;
    let started = Instant::now();
    let mut pruned = 0;
    for hour in 0..YEAR_DAYS * 24 {
        let from = start + hour * 3_600;
        let batch: Vec<(CheckKey, Sample)> = keys
            .iter()
            .enumerate()
            .flat_map(|(n, key)| {
                (0..60).map(move |minute| (key.clone(), sample(n, from + minute * 60 + n as i64)))
            })
            .collect();
        store.record(&batch).expect("history written");
        if (hour + 1) % 24 == 0 {
            pruned += store.prune(from + 3_600).expect("history pruned");
        }
    }
    store.checkpoint().expect("checkpoint");
    let took = started.elapsed();
    let size = store.size_bytes();
    let [minute, hour, day] = rows(&store, &keys[0]);
    println!(
        "3. a simulated year: {YEAR_CHECKS} checks, a sample a minute for {YEAR_DAYS} days \
         ({} samples), an hour per write, pruned daily: {:.1} s",
        YEAR_CHECKS as i64 * YEAR_DAYS * 1_440,
        took.as_secs_f64()
    );
    println!(
        "   store {} ({} bytes) after the checkpoint: {:.1} KB per check per year; rows per \
         check: {minute} minute + {hour} hour + {day} day = {}; {pruned} buckets pruned",
        mb(size),
        size,
        size as f64 / YEAR_CHECKS as f64 / 1e3,
        minute + hour + day
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Start-up with a year of history.

/// What check `n` has after a year, one sample per bucket: every minute of the last 24 h,
/// every hour of the 30 days before, every day of the 365 days before that.
fn year_of(n: usize, now: UnixSeconds) -> impl Iterator<Item = (CheckKey, Sample)> {
    let key = key(n);
    let minutes = (0..1_440).map(move |k| now - k * 60);
    let hours = (0..720).map(move |k| now - DAY - k * 3_600);
    let days = (0..365).map(move |k| now - 31 * DAY - k * DAY);
    minutes
        .chain(hours)
        .chain(days)
        .map(move |at| (key.clone(), sample(n, at)))
}

/// The year-old store: how many checks it holds and how long building it took.
struct Built {
    checks: usize,
    took: Duration,
    size: u64,
    rows: [usize; 3],
    scan: Duration,
}

fn build_year_store(dir: &Path, now: UnixSeconds) -> Built {
    let store = SqliteStore::open(dir).expect("store opens");
    let started = Instant::now();
    let mut checks = 0;
    while checks < STARTUP_CHECKS && started.elapsed() < BUILD_BUDGET {
        let chunk = BUILD_CHUNK.min(STARTUP_CHECKS - checks);
        let batch: Vec<(CheckKey, Sample)> = (checks..checks + chunk)
            .flat_map(|n| year_of(n, now))
            .collect();
        store.record(&batch).expect("history written");
        checks += chunk;
    }
    // What the server's pruning would have removed by now (the finer tiers' older buckets).
    store.prune(now).expect("history pruned");
    store.checkpoint().expect("checkpoint");
    let took = started.elapsed();
    // A prune with nothing left to delete: what the server's first (and every hourly) one
    // costs on this store.
    let scanned = Instant::now();
    store.prune(now).expect("history pruned");
    Built {
        checks,
        took,
        size: store.size_bytes(),
        rows: rows(&store, &key(0)),
        scan: scanned.elapsed(),
    }
}

async fn startup(client: &Handle, pods: &Path, dir: &Path) {
    let history = dir.join("year");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as UnixSeconds;
    let built = build_year_store(&history, now);
    let [minute, hour, day] = built.rows;
    println!(
        "4. a year of history for {} checks (rows per check: {minute} minute + {hour} hour + \
         {day} day), written {BUILD_CHUNK} checks a transaction, pruned, checkpointed: {:.1} s, \
         {}",
        built.checks,
        built.took.as_secs_f64(),
        mb(built.size)
    );
    if built.checks < STARTUP_CHECKS {
        let scale = STARTUP_CHECKS as f64 / built.checks as f64;
        println!(
            "   ONLY {} of {STARTUP_CHECKS} checks built within {}s; {STARTUP_CHECKS} extrapolated \
             linearly: ~{:.0} s, ~{}",
            built.checks,
            BUILD_BUDGET.as_secs(),
            built.took.as_secs_f64() * scale,
            mb((built.size as f64 * scale) as u64)
        );
    }
    println!(
        "   a prune with nothing to delete (the server's first and hourly \
         one) took {:.2} s",
        built.scan.as_secs_f64()
    );
    // Alternating, each server stopped once ready; a pause after each with the store, for its
    // schedule's first write and prune (a second in) to end.
    let (mut without, mut with) = (Timings::default(), Timings::default());
    for _ in 0..STARTUP_ROUNDS {
        without
            .latencies
            .push(start_ready(client, core(pods)).await.1);
        let history = with_history(core(pods), &history);
        with.latencies.push(start_ready(client, history).await.1);
        tokio::time::sleep(SETTLE).await;
    }
    println!(
        "   App::new to the first /readyz 200 ({SERVICES} services), {STARTUP_ROUNDS} rounds: \
         without history {} (median {}), with this store {} (median {})",
        list_ms(&without.latencies),
        ms(without.percentile(0.5)),
        list_ms(&with.latencies),
        ms(with.percentile(0.5))
    );
    let (server, _) = start_ready(client, with_history(core(pods), &history)).await;
    // The first request comes right after ready, before the schedule's first write and prune.
    let (base, checks) = (server.base.clone(), built.checks);
    let (mut first, mut later, count) = client
        .spawn(async move {
            let client = http_client();
            let url = |n: usize| format!("{base}/_/{}/health/uptime/1y?raw", service(n % checks));
            let mut first = Timings::default();
            let body = first.get(&client, url(0)).await.unwrap_or_default();
            let count = serde_json::from_slice::<serde_json::Value>(&body)
                .map(|raw| raw["count"].clone())
                .unwrap_or_default();
            let mut later = Timings::default();
            for n in 1..=LATER_REQUESTS {
                later.get(&client, url(n * 97)).await;
            }
            (first, later, count)
        })
        .await
        .expect("uptime client");
    drop(server);
    println!(
        "   uptime/1y?raw on it: first {} (count {count}), then {LATER_REQUESTS} others p50 {}{}",
        ms(first.percentile(0.5)),
        ms(later.percentile(0.5)),
        match first.failed + later.failed {
            0 => String::new(),
            n => format!(" ({n} NOT 200)"),
        }
    );
}
