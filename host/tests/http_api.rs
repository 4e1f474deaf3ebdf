//! The HTTP API as a client sees it: a real server on loopback, pods from the demo pods file or
//! from the fake API server through kube's watcher, and real plugins built from
//! `example-plugins/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use kube_shields::auth::{Secret, Signer, Verifier, now_unix};
use kube_shields::checks::Checker;
use kube_shields::plugin::PluginEngine;
use kube_shields::plugin_dir::PluginDir;
use kube_shields::pods::connection::KubeConnection;
use kube_shields::pods::index::SharedIndex;
use kube_shields::pods::source::{self, PodOrigin, PodSourceConfig};
use kube_shields::server::{self, AppState, Metrics, Mode, ServerConfig};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

const SHIELDS: &str = "https://img.shields.io";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// An example plugin component; `scripts/test.sh` builds them before the tests.
fn example_plugin(name: &str) -> PathBuf {
    let path = repo().join("example-plugins/target/wasm32-wasip2/release").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/test.sh (it builds the example plugins)", path.display());
    path
}

/// Where the pods come from.
enum Pods {
    /// `demo/pods.json`.
    DemoFile,
    /// The fake API server, filled with the demo pods.
    FakeApiServer,
}

/// A running server and a client for it.
struct TestServer {
    base: String,
    client: reqwest::Client,
    secret: Option<Secret>,
    _fake: Option<FakeApiServer>,
    _dir: tempfile::TempDir,
}

/// Builds a [`TestServer`].
struct TestServerBuilder {
    pods: Pods,
    mode: Mode,
    plugins: Vec<(&'static str, PathBuf, Option<&'static str>)>,
    max_plugin_runs: usize,
}

impl TestServerBuilder {
    fn new() -> Self {
        TestServerBuilder {
            pods: Pods::DemoFile,
            mode: Mode::Public { peers: Vec::new() },
            plugins: Vec::new(),
            max_plugin_runs: 8,
        }
    }

    fn pods(mut self, pods: Pods) -> Self {
        self.pods = pods;
        self
    }

    fn private(mut self) -> Self {
        self.mode = Mode::Private;
        self
    }

    /// Installs `file` as `<service>.wasm`, with optional TOML settings.
    fn plugin(mut self, service: &'static str, file: PathBuf, settings: Option<&'static str>) -> Self {
        self.plugins.push((service, file, settings));
        self
    }

    /// The demo's plugins: `web` (image tags) and `version` (release info, no pods).
    fn demo_plugins(self) -> Self {
        self.plugin("web", example_plugin("image_tags"), None)
            .plugin("version", example_plugin("release_info"), Some("[config]\nrelease = \"v0.1.0\"\n"))
    }

    fn max_plugin_runs(mut self, runs: usize) -> Self {
        self.max_plugin_runs = runs;
        self
    }

    async fn start(self) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let plugin_dir = dir.path().join("plugins");
        std::fs::create_dir(&plugin_dir).unwrap();
        for (service, file, settings) in &self.plugins {
            // The engine also reads `.wat` text, whatever the file is called.
            std::fs::copy(file, plugin_dir.join(format!("{service}.wasm"))).unwrap();
            if let Some(settings) = settings {
                std::fs::write(plugin_dir.join(format!("{service}.toml")), settings).unwrap();
            }
        }
        let demo_pods = repo().join("demo/pods.json");
        let (origin, fake) = match self.pods {
            Pods::DemoFile => (PodOrigin::File(demo_pods), None),
            Pods::FakeApiServer => {
                let fake = FakeApiServer::start().await;
                for pod in kube_shields::pods::file::read_pod_list_raw(&demo_pods).unwrap() {
                    fake.upsert(pod);
                }
                let connection = KubeConnection { kube_url: Some(fake.url()), ..KubeConnection::default() };
                (PodOrigin::Kube(connection), Some(fake))
            }
        };
        let source = PodSourceConfig { exclude: vec!["kube-system".to_owned()], ..PodSourceConfig::all(origin) };
        let pods = SharedIndex::new();
        source::start(source, Arc::clone(&pods)).await.unwrap();
        let engine = Arc::new(PluginEngine::new().unwrap());
        let plugins = PluginDir::open(plugin_dir, engine, None).await.unwrap();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "0123456789abcdef0123456789abcdef-test-secret\n").unwrap();
        let secret = Secret::from_file(&secret_file).unwrap();
        let state = Arc::new(AppState {
            checker: Checker::new(Arc::clone(&pods), Arc::clone(&plugins), self.max_plugin_runs),
            pods: Arc::clone(&pods),
            plugins,
            verifier: Some(Verifier::new(&secret)),
            config: ServerConfig {
                shields_base: SHIELDS.to_owned(),
                mode: self.mode,
                site_name: "test shields".to_owned(),
            },
            metrics: Metrics::default(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::serve(listener, state, std::future::pending()));
        let server = TestServer {
            base,
            client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            secret: Some(secret),
            _fake: fake,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }
}

impl TestServer {
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let response = self.client.get(format!("{}/readyz", self.base)).send().await;
            if response.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "server not ready within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.unwrap()
    }

    async fn get_signed(&self, path: &str) -> reqwest::Response {
        let header = Signer::new(self.secret.as_ref().unwrap()).sign("GET", path, now_unix());
        self.client.get(format!("{}{path}", self.base)).header("Intra-Shield", header).send().await.unwrap()
    }

    async fn json(&self, path: &str) -> (StatusCode, Value) {
        let response = self.get(path).await;
        (response.status(), response.json().await.unwrap())
    }

    async fn location(&self, path: &str) -> String {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::FOUND, "{path}");
        response.headers()["location"].to_str().unwrap().to_owned()
    }
}

#[rstest]
#[case::pods_file(Pods::DemoFile)]
#[case::fake_api_server(Pods::FakeApiServer)]
#[tokio::test]
async fn health_badges_answer_from_either_pod_source(#[case] pods: Pods) {
    let server = TestServerBuilder::new().pods(pods).start().await;

    let response = server.get("/_/web/health/").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        "https://img.shields.io/badge/health-3%2F3%20(0%20restarts)-green.svg"
    );
    assert_eq!(response.headers()["cache-control"], "no-cache, no-store, must-revalidate");

    assert_eq!(
        server.json("/_/api/health/?raw").await,
        (StatusCode::OK, json!({"ready": 3, "total": 4, "restarts": 3, "color": "red"}))
    );
    // Keys in the documented order, for clients that compare text.
    assert_eq!(
        server.get("/_/api/health/?raw").await.text().await.unwrap(),
        r#"{"ready":3,"total":4,"restarts":3,"color":"red"}"#
    );
    assert_eq!(
        server.get("/_/db/health/?format=json").await.text().await.unwrap(),
        r#"{"schemaVersion":1,"label":"health","message":"1/1 (400 restarts)","color":"yellow"}"#
    );
    assert_eq!(
        server.json("/_/api.default/health/?raw").await.1,
        json!({"ready": 2, "total": 2, "restarts": 0, "color": "green"})
    );
    assert_eq!(
        server.json("/_/db/health/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "health", "message": "1/1 (400 restarts)", "color": "yellow"})
    );
    assert_eq!(
        server.json("/_/nightly-29001/health/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "health", "message": "no pods", "color": "lightgrey"})
    );
    assert_eq!(
        server.json("/services/").await,
        (StatusCode::OK, json!(["api", "db", "log-agent", "nightly-29001", "web"]))
    );
}

#[rstest]
#[tokio::test]
async fn plugins_add_checks_and_logical_services(#[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods) {
    let server = TestServerBuilder::new().pods(pods).demo_plugins().start().await;

    assert_eq!(
        server.json("/services/").await.1,
        json!(["api", "db", "log-agent", "nightly-29001", "version", "web"])
    );
    let (status, checks) = server.json("/services/web/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(checks[0], "health");
    assert!(checks.as_array().unwrap().contains(&json!("image")), "{checks}");
    assert_eq!(server.json("/services/version/").await.1, json!(["release"]));

    assert_eq!(
        server.location("/_/version/release/").await,
        "https://img.shields.io/badge/release-v0.1.0-orange.svg"
    );
    assert_eq!(server.json("/_/version/release/?raw").await.1, json!({"raw": "v0.1.0"}));
    let image = server.json("/_/web/image/?format=json").await.1;
    assert_eq!(image["label"], "image");
    assert_eq!(image["message"], "1.26, 1.27");
}

#[rstest]
#[case::unknown_service("/_/nope/health/", StatusCode::NOT_FOUND, "unknown service `nope`")]
#[case::unknown_check("/_/web/nope/", StatusCode::NOT_FOUND, "service `web` has no check `nope`")]
#[case::health_of_logical_service("/_/version/health/", StatusCode::NOT_FOUND, "service `version` has no check `health`")]
#[case::unknown_services_entry("/services/nope/", StatusCode::NOT_FOUND, "unknown service `nope`")]
#[case::bad_characters("/_/we%3Cb/health/", StatusCode::BAD_REQUEST, "malformed service name")]
#[case::too_long(&format!("/_/{}/health/", "a".repeat(254)), StatusCode::BAD_REQUEST, "malformed service name")]
#[case::unknown_format("/_/web/health/?format=png", StatusCode::BAD_REQUEST, "unknown format `png` (svg or json)")]
#[case::no_aggregate("/a/zzz/health/", StatusCode::NOT_FOUND, "no service starting with `zzz` has check `health`")]
#[tokio::test]
async fn bad_requests_get_a_json_error(#[case] path: &str, #[case] status: StatusCode, #[case] error: &str) {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    assert_eq!(server.json(path).await, (status, json!({ "error": error })));
}

#[rstest]
#[tokio::test]
async fn svg_badges_are_rendered_here_and_escaped(#[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods) {
    let server = TestServerBuilder::new().pods(pods).start().await;
    let response = server.get("/_/web/health/?format=svg").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["content-security-policy"], "script-src 'none'");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.contains("3/3 (0 restarts)"), "{svg}");
}

#[rstest]
#[tokio::test]
async fn aggregates_sum_health_and_join_plugin_statuses(#[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods) {
    let server = TestServerBuilder::new()
        .pods(pods)
        .plugin("web", example_plugin("release_info"), Some("[config]\nrelease = \"v2\"\n"))
        .plugin("webhooks", example_plugin("release_info"), Some("[config]\nrelease = \"v1\"\n"))
        .start()
        .await;
    // web (3/3) and log-agent do not share a prefix; `a` matches only api.
    assert_eq!(
        server.json("/a/a/health/?raw").await.1,
        json!({"ready": 3, "total": 4, "restarts": 3, "color": "red"})
    );
    assert_eq!(
        server.json("/a/web/release/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "release", "message": "v2, v1", "color": "orange"})
    );
    assert_eq!(
        server.location("/a/d/health/").await,
        "https://img.shields.io/badge/health-1%2F1%20(400%20restarts)-yellow.svg"
    );
}

#[tokio::test]
async fn head_answers_like_get_without_body() {
    let server = TestServerBuilder::new().start().await;
    let response = server.client.head(format!("{}/_/web/health/", server.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.headers().contains_key("location"));
}

#[tokio::test]
async fn a_failing_plugin_shows_only_error_and_its_detail_in_plugin_status() {
    let trap = repo().join("host/tests/fixtures/trap.wat");
    let server = TestServerBuilder::new().plugin("web", trap, None).start().await;
    let (_, checks) = server.json("/services/web/").await;
    let check = checks[1].as_str().unwrap().to_owned();
    assert_eq!(
        server.json(&format!("/_/web/{check}/?format=json")).await.1,
        json!({"schemaVersion": 1, "label": check, "message": "error", "color": "lightgrey"})
    );
    assert_eq!(server.json(&format!("/_/web/{check}/?raw")).await.1, json!({"error": "error"}));
    // The detail is for operators: not on the open route, and present on the signed one.
    assert_eq!(server.get("/plugins").await.status(), StatusCode::FORBIDDEN);
    let status: Value = server.get_signed("/plugins").await.json().await.unwrap();
    assert!(status.to_string().contains("unreachable"), "{status}");
}

/// The run bound in a pair: one slot answers, zero slots answer `busy` (503 for `?raw`).
#[rstest]
#[case::within_bound(1, StatusCode::OK, json!({"raw": "v0.1.0"}))]
#[case::bound_reached(0, StatusCode::SERVICE_UNAVAILABLE, json!({"error": "busy"}))]
#[tokio::test]
async fn plugin_runs_are_bounded(#[case] runs: usize, #[case] status: StatusCode, #[case] body: Value) {
    let server = TestServerBuilder::new().demo_plugins().max_plugin_runs(runs).start().await;
    assert_eq!(server.json("/_/version/release/?raw").await, (status, body));
}

#[tokio::test]
async fn plugin_results_are_cached_and_counted() {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    for _ in 0..5 {
        assert_eq!(server.get("/_/version/release/").await.status(), StatusCode::FOUND);
    }
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"kube_shields_plugin_result_cache_total{result="miss"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"kube_shields_plugin_result_cache_total{result="hit"} 4"#), "{metrics}");
    assert!(metrics.contains(r#"kube_shields_plugin_runs_total{plugin="version",check="release",outcome="ok"} 1"#), "{metrics}");
    assert!(metrics.contains("kube_shields_pods 10"), "{metrics}");
}

#[rstest]
#[case::services("/services/")]
#[case::badge("/_/web/health/")]
#[case::metrics("/metrics")]
#[case::plugins("/plugins")]
#[tokio::test]
async fn private_mode_needs_a_valid_signature(#[case] path: &str) {
    let server = TestServerBuilder::new().private().start().await;
    assert_eq!(server.get(path).await.status(), StatusCode::FORBIDDEN);
    assert_ne!(server.get_signed(path).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn private_mode_refuses_forged_replayed_skewed_and_misdirected_headers() {
    let server = TestServerBuilder::new().private().start().await;
    let signer = Signer::new(server.secret.as_ref().unwrap());
    let url = format!("{}/services/", server.base);
    let send = |header: String| server.client.get(&url).header("Intra-Shield", header).send();

    let valid = signer.sign("GET", "/services/", now_unix());
    assert_eq!(send(valid.clone()).await.unwrap().status(), StatusCode::OK);
    let replayed = send(valid).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    assert_eq!(replayed.json::<Value>().await.unwrap(), json!({"error": "forbidden"}));

    let skewed = signer.sign("GET", "/services/", now_unix() - 31);
    assert_eq!(send(skewed).await.unwrap().status(), StatusCode::FORBIDDEN);
    let other_path = signer.sign("GET", "/_/web/health/", now_unix());
    assert_eq!(send(other_path).await.unwrap().status(), StatusCode::FORBIDDEN);
    let mut forged = signer.sign("GET", "/services/", now_unix());
    forged.replace_range(forged.len() - 4.., "AAAA");
    assert_eq!(send(forged).await.unwrap().status(), StatusCode::FORBIDDEN);
    // The probes stay open, and the index page does not exist in private mode.
    assert_eq!(server.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(server.get("/readyz").await.status(), StatusCode::OK);
    assert_eq!(server.get_signed("/").await.status(), StatusCode::NOT_FOUND);
}

#[rstest]
#[tokio::test]
async fn the_index_page_lists_every_service_and_check(#[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods) {
    let server = TestServerBuilder::new().pods(pods).demo_plugins().start().await;
    let page = server.get("/").await.text().await.unwrap();
    assert!(page.contains("<title>test shields</title>"), "{page}");
    assert!(page.contains(r#"src="/_/web/health/?format=svg""#), "{page}");
    assert!(page.contains(r#"src="/_/version/release/?format=svg""#), "{page}");
}
