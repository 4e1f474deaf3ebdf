//! What the integration tests share: one way to wait for something, the example plugins, and a
//! real server on loopback built through [`App::new`] as `kube-shields serve` builds it.
#![allow(dead_code, unreachable_pub)]

pub mod chromium;
pub mod net;
/// A real PostgreSQL server in a temporary directory (the history crate's fixture).
#[path = "../../../../history/tests/support/mod.rs"]
#[allow(dead_code)]
pub mod pg;
pub mod web_example;

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use kube_shields::app::{App, AppConfig, CoreConfig, HistoryConfig, HistoryStore};
use kube_shields::auth::{Secret, Signer, now_unix};
use kube_shields::checks::CheckerConfig;
use kube_shields::peers::PeerSettings;
use kube_shields::plugin::{PluginEngine, PreparedRuntime};
use kube_shields::plugin_dir::PluginSource;
use kube_shields::pods::KubeConnection;
use kube_shields::pods::WatchBackoff;
use kube_shields::pods::{PodOrigin, PodSourceConfig};
use kube_shields::server::Mode;
use reqwest::StatusCode;
use serde_json::Value;

/// Where redirects point in tests.
pub const SHIELDS: &str = "https://img.shields.io";

/// How long a test waits for something that happens in the background: a watch event, a
/// reload, a recovery after kube's back-off.
pub const WITHIN: Duration = Duration::from_secs(15);

/// A watch back-off for tests of outages: a watch tries again within a few hundred
/// milliseconds once the API server is back, instead of kube's up to 30 s (up to 60 with jitter).
pub const QUICK_BACKOFF: WatchBackoff = WatchBackoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(200),
};

/// Polls `probe` until it gives a value, and returns it; fails naming `what` after `within`.
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An example plugin component; `scripts/test.sh` builds them before the tests.
pub fn example_plugin(name: &str) -> PathBuf {
    let path = repo()
        .join("example-plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh (it builds the example plugins)",
        path.display()
    );
    path
}

/// A test fixture of `host/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    repo().join("host/tests/fixtures").join(name)
}

/// Where the pods come from.
pub enum Pods {
    /// `demo/pods.json`.
    DemoFile,
    /// The fake API server, filled with the demo pods.
    FakeApiServer,
    /// A fake API server the test fills and controls itself.
    Fake(FakeApiServer),
    /// The API server at this URL, which another test server owns: replicas sharing one.
    Shared(String),
}

/// A running server and a client for it.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    pub secret: Secret,
    pub app: App,
    pub fake: Option<FakeApiServer>,
    pub plugin_dir: PathBuf,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

/// Builds a [`TestServer`].
pub struct TestServerBuilder {
    pods: Pods,
    mode: Mode,
    plugins: Vec<(String, PathBuf, Option<String>)>,
    max_plugin_runs: usize,
    stale_after: Duration,
    watch_timeout: Duration,
    backoff: WatchBackoff,
    compile_cache: bool,
    peer_settings: PeerSettings,
    site_name: String,
    cluster_name: Option<String>,
    history: HistoryConfig,
}

/// The language runtimes `scripts/build-runtimes.sh` builds (`scripts/test.sh` runs it first).
pub fn runtime_dir() -> PathBuf {
    let dir = repo().join("target/runtimes");
    for runtime in ["python.wasm", "js.wasm"] {
        assert!(
            dir.join(runtime).is_file(),
            "{} is missing: run scripts/build-runtimes.sh",
            dir.join(runtime).display()
        );
    }
    dir
}

/// Compiled plugins and runtimes, kept across tests and test runs (see
/// [`TestServerBuilder::compile_cache`] and [`prepared_runtime`]).
pub fn test_compile_cache() -> PathBuf {
    repo().join("target/test-compile-cache")
}

/// A language runtime (`python.wasm`, `js.wasm`) of `KUBE_SHIELDS_RUNTIMES` (default
/// `target/runtimes`) prepared on `engine`, through the shared [`test_compile_cache`]: compiled
/// once per machine (and runtime build), not once per test run, and the same artifact a test
/// server with [`TestServerBuilder::compile_cache`] maps. Blocking.
pub fn prepared_runtime(engine: &PluginEngine, file: &str) -> PreparedRuntime {
    let dir = std::env::var_os("KUBE_SHIELDS_RUNTIMES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/runtimes"));
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "{} is missing: build the language runtimes first with scripts/build-runtimes.sh",
        path.display()
    );
    kube_shields::plugin_dir::prepare_runtime_cached(engine, &path, &test_compile_cache())
        .unwrap_or_else(|error| panic!("runtime {}: {error}", path.display()))
}

impl TestServerBuilder {
    pub fn new() -> Self {
        TestServerBuilder {
            pods: Pods::DemoFile,
            mode: Mode::Public { peers: Vec::new() },
            plugins: Vec::new(),
            max_plugin_runs: 8,
            stale_after: Duration::from_secs(60),
            watch_timeout: kube_shields::pods::DEFAULT_WATCH_TIMEOUT,
            backoff: WatchBackoff::default(),
            compile_cache: false,
            peer_settings: PeerSettings {
                refresh: Duration::from_millis(200),
                result_ttl: Duration::from_millis(200),
                ..PeerSettings::default()
            },
            site_name: "test shields".to_owned(),
            cluster_name: None,
            history: HistoryConfig::default(),
        }
    }

    /// Checks run every `interval` and their history is kept in `store`.
    pub fn history(mut self, store: HistoryStore, interval: Duration) -> Self {
        self.history = HistoryConfig {
            store: Some(store),
            interval,
            lease_retry: Duration::from_millis(100),
        };
        self
    }

    /// Public mode with these peers (`OTHER_SHIELDS` entries, e.g. a test server's `base`).
    pub fn peers(mut self, peers: &[&str]) -> Self {
        self.mode = Mode::Public {
            peers: peers.iter().map(|peer| (*peer).to_owned()).collect(),
        };
        self
    }

    pub fn peer_settings(mut self, settings: PeerSettings) -> Self {
        self.peer_settings = settings;
        self
    }

    pub fn cluster_name(mut self, name: &str) -> Self {
        self.cluster_name = Some(name.to_owned());
        self
    }

    pub fn site_name(mut self, name: &str) -> Self {
        self.site_name = name.to_owned();
        self
    }

    /// Keeps compiled plugins and runtimes in `target/test-compile-cache`, shared by every test
    /// run: the Python runtime then compiles once, not once per test.
    pub fn compile_cache(mut self) -> Self {
        self.compile_cache = true;
        self
    }

    pub fn pods(mut self, pods: Pods) -> Self {
        self.pods = pods;
        self
    }

    pub fn private(mut self) -> Self {
        self.mode = Mode::Private;
        self
    }

    /// Installs `file` as `<service>.py` / `.js` (a script) or `<service>.wasm` (anything else),
    /// with optional TOML settings.
    pub fn plugin(mut self, service: &str, file: PathBuf, settings: Option<&str>) -> Self {
        self.plugins
            .push((service.to_owned(), file, settings.map(str::to_owned)));
        self
    }

    /// The demo's plugins: `web` (image tags) and `version` (release info, no pods).
    pub fn demo_plugins(self) -> Self {
        self.plugin("web", example_plugin("image_tags"), None)
            .plugin(
                "version",
                example_plugin("release_info"),
                Some("[config]\nrelease = \"v0.1.0\"\n"),
            )
    }

    /// A plugin-only service `version` whose `release` status is markup (`<script>…`): text
    /// that must stay text wherever it shows.
    pub fn hostile_release_plugin(self) -> Self {
        self.plugin(
            "version",
            example_plugin("release_info"),
            Some("[config]\nrelease = \"<script>alert(1)</script>\"\n"),
        )
    }

    pub fn max_plugin_runs(mut self, runs: usize) -> Self {
        self.max_plugin_runs = runs;
        self
    }

    pub fn watch_timeout(mut self, watch_timeout: Duration) -> Self {
        self.watch_timeout = watch_timeout;
        self
    }

    /// The watches' back-off (kube's by default), e.g. [`QUICK_BACKOFF`].
    pub fn watch_backoff(mut self, backoff: WatchBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn stale_after(mut self, stale_after: Duration) -> Self {
        self.stale_after = stale_after;
        self
    }

    pub async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir(&plugin_dir).unwrap();
        for (service, file, settings) in &self.plugins {
            // The engine also reads `.wat` text, whatever the file is called.
            let extension = file
                .extension()
                .and_then(|ext| ext.to_str())
                .filter(|ext| ["py", "js"].contains(ext));
            std::fs::copy(
                file,
                plugin_dir.join(format!("{service}.{}", extension.unwrap_or("wasm"))),
            )
            .unwrap();
            if let Some(settings) = settings {
                std::fs::write(plugin_dir.join(format!("{service}.toml")), settings).unwrap();
            }
        }
        let demo_pods = repo().join("demo/pods.json");
        let proxy = |url: String| KubeConnection {
            kube_url: Some(url),
            ..KubeConnection::default()
        };
        let (origin, fake) = match self.pods {
            Pods::DemoFile => (PodOrigin::File(demo_pods), None),
            Pods::FakeApiServer => {
                let fake = FakeApiServer::start().await;
                for pod in kube_shields::pods::read_pod_list_raw(&demo_pods).unwrap() {
                    fake.upsert(pod);
                }
                serve_demo_workloads(&fake, &demo_pods);
                (PodOrigin::Kube(proxy(fake.url())), Some(fake))
            }
            Pods::Fake(fake) => (PodOrigin::Kube(proxy(fake.url())), Some(fake)),
            Pods::Shared(url) => (PodOrigin::Kube(proxy(url)), None),
        };
        let secret_file = dir.path().join("secret");
        std::fs::write(
            &secret_file,
            "0123456789abcdef0123456789abcdef-test-secret\n",
        )
        .unwrap();
        let secret = Secret::from_file(&secret_file).unwrap();
        let pods = PodSourceConfig {
            exclude: vec!["kube-system".to_owned()],
            watch_timeout: self.watch_timeout,
            backoff: self.backoff,
            ..PodSourceConfig::all(origin)
        };
        let core = CoreConfig::new(pods)
            .with_plugins(PluginSource::Directory(plugin_dir.clone()))
            .with_cache_dir(self.compile_cache.then(test_compile_cache))
            .with_runtime_dir(Some(repo().join("target/runtimes")))
            .with_checks(CheckerConfig {
                max_plugin_runs: self.max_plugin_runs,
                plugin_cpus: kube_shields::plugin::default_plugin_cpus(),
                stale_after: self.stale_after,
            })
            .with_history(self.history);
        let config = AppConfig::new(core)
            .with_shields_base(SHIELDS)
            .with_mode(self.mode)
            .with_site_name(self.site_name)
            .with_cluster_name(self.cluster_name)
            .with_secret(Some(secret.clone()))
            .with_peer_settings(self.peer_settings);
        let app = App::new(config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve(listener, async move {
            let _ = stopped.await;
        }));
        let server = TestServer {
            base,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            secret,
            app,
            fake,
            plugin_dir,
            shutdown: Some(shutdown),
            _dir: dir,
        };
        // Plugins load in the background (a language runtime's cold compile takes a minute
        // in a debug build), as `App::new` used to wait for them without a bound.
        eventually(
            "the server is ready",
            Duration::from_secs(300),
            async || {
                let response = server
                    .client
                    .get(format!("{}/readyz", server.base))
                    .send()
                    .await
                    .ok()?;
                (response.status() == StatusCode::OK).then_some(())
            },
        )
        .await;
        server
    }
}

impl TestServer {
    /// Stops serving: the listener closes and open connections end after their request.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// The name peers know this server by: its `host:port`.
    pub fn peer_name(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_signed(&self, path: &str) -> reqwest::Response {
        let header = Signer::new(&self.secret).sign("GET", path, now_unix());
        self.client
            .get(format!("{}{path}", self.base))
            .header("Intra-Shield", header)
            .send()
            .await
            .unwrap()
    }

    /// Status and JSON body; fails when the body is not JSON.
    pub async fn json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("{path}: not JSON ({err}): {text}"));
        (status, body)
    }

    pub async fn location(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        response.headers()["location"].to_str().unwrap().to_owned()
    }
}

/// [`eventually`] for a plain condition.
pub async fn until(what: &str, within: Duration, mut holds: impl FnMut() -> bool) {
    eventually(what, within, async || holds().then_some(())).await
}

/// Serves the workloads of the demo pods file (its Deployments, StatefulSet, DaemonSet,
/// CronJob and Job) from `fake`, as a cluster would.
pub fn serve_demo_workloads(fake: &FakeApiServer, demo_pods: &Path) {
    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
    use k8s_openapi::api::batch::v1::{CronJob, Job};
    let file: Value = serde_json::from_slice(&std::fs::read(demo_pods).unwrap()).unwrap();
    for item in file["items"].as_array().unwrap() {
        let item = item.clone();
        match item["kind"].as_str() {
            Some("Deployment") => {
                fake.upsert_object(serde_json::from_value::<Deployment>(item).unwrap())
            }
            Some("StatefulSet") => {
                fake.upsert_object(serde_json::from_value::<StatefulSet>(item).unwrap())
            }
            Some("DaemonSet") => {
                fake.upsert_object(serde_json::from_value::<DaemonSet>(item).unwrap())
            }
            Some("CronJob") => fake.upsert_object(serde_json::from_value::<CronJob>(item).unwrap()),
            Some("Job") => fake.upsert_object(serde_json::from_value::<Job>(item).unwrap()),
            _ => continue,
        };
    }
}

/// A fake API server (the `Pods::Fake` of a cluster) with one ready pod per
/// `(namespace, deployment, containers)`, and its Deployment (current).
pub async fn fake_cluster(services: &[(&str, &str, u32)]) -> Pods {
    let fake = FakeApiServer::start().await;
    for (namespace, deployment, containers) in services {
        let names: Vec<String> = (0..*containers).map(|i| format!("c{i}")).collect();
        let containers: Vec<(&str, bool, u32)> =
            names.iter().map(|name| (name.as_str(), true, 0)).collect();
        fake.upsert(
            fake_apiserver::PodBuilder::new(namespace, &format!("{deployment}-5d8f7-abcde"))
                .deployment(deployment, "5d8f7")
                .containers(&containers)
                .build(),
        );
        fake.upsert_object(
            fake_apiserver::DeploymentBuilder::new(namespace, deployment)
                .replicas(1)
                .build(),
        );
    }
    Pods::Fake(fake)
}
