//! The routes without a socket: requests go through the service's router with
//! `tower::ServiceExt::oneshot` (as axum's `examples/testing`), on the demo pods file, in the
//! router [`App::new`] builds. What is asserted is what a client sees: status, headers, JSON.
//! The end-to-end tests (`tests/it/`) keep what needs the real pieces: sockets, the fake API
//! server, plugins, Chromium.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use rstest::rstest;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::access::Access;
use crate::app::{App, AppConfig, CoreConfig};
use crate::auth::{Secret, Signer, now_unix};
use crate::pods::{PodOrigin, PodSourceConfig};
use crate::server::Mode;

/// The demo's configuration on its pods file, in `mode`, with a secret.
fn demo_config(mode: Mode) -> (AppConfig, Secret) {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let pods = PodSourceConfig {
        exclude: vec!["kube-system".to_owned()],
        ..PodSourceConfig::all(PodOrigin::File(manifest.join("../demo/pods.json")))
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "0123456789abcdef0123456789abcdef-route-tests\n").unwrap();
    let secret = Secret::from_file(&file).unwrap();
    let config = AppConfig::new(CoreConfig::new(pods))
        .with_mode(mode)
        .with_secret(Some(secret.clone()));
    (config, secret)
}

/// The demo's service, in `mode`.
async fn demo(mode: Mode) -> (App, Secret) {
    let (config, secret) = demo_config(mode);
    (App::new(config).await.unwrap(), secret)
}

async fn public() -> App {
    demo(Mode::Public { peers: Vec::new() }).await.0
}

/// One request through the router: status, headers and body.
async fn send(
    app: &App,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .router()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, body)
}

async fn get(app: &App, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    send(app, Method::GET, path, &[]).await
}

/// Status and JSON body.
async fn json(app: &App, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = get(app, path).await;
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, body)
}

#[rstest]
#[case::unknown_service("/_/nope/health/", StatusCode::NOT_FOUND, "unknown service `nope`")]
#[case::unknown_check(
    "/_/web/nope/",
    StatusCode::NOT_FOUND,
    "service `web` has no check `nope`"
)]
#[case::unknown_services_entry("/services/nope/", StatusCode::NOT_FOUND, "unknown service `nope`")]
#[case::bad_characters("/_/we%3Cb/health/", StatusCode::BAD_REQUEST, "malformed service name")]
#[case::too_long(&format!("/_/{}/health/", "a".repeat(254)), StatusCode::BAD_REQUEST, "malformed service name")]
#[case::unknown_format(
    "/_/web/health/?format=png",
    StatusCode::BAD_REQUEST,
    "unknown format `png` (svg or json)"
)]
#[case::format_twice(
    "/_/web/health/?format=svg&format=json",
    StatusCode::BAD_REQUEST,
    "`format` is given more than once"
)]
#[case::malformed_check("/_/web/Health/", StatusCode::BAD_REQUEST, "malformed check name")]
#[case::bad_percent_encoding(
    "/_/web%FF/health/",
    StatusCode::BAD_REQUEST,
    "Invalid URL: Invalid UTF-8 in `service`"
)]
#[case::no_such_route("/nope", StatusCode::NOT_FOUND, "no such route")]
#[case::no_aggregate(
    "/a/zzz/health/",
    StatusCode::NOT_FOUND,
    "no service starting with `zzz` has check `health`"
)]
#[case::no_history_kept(
    "/_/web/health/uptime/30d",
    StatusCode::NOT_FOUND,
    "no history is kept here: start kube-shields with --history-dir or --history-url"
)]
#[case::unknown_window(
    "/_/web/health/response-time/1w",
    StatusCode::BAD_REQUEST,
    "window must be 24h, 7d, 30d, 90d or 1y, not \"1w\""
)]
#[case::unknown_measure("/_/web/health/downtime/7d", StatusCode::NOT_FOUND, "no such route")]
#[case::history_of_an_unknown_check(
    "/_/web/nope/chart.svg",
    StatusCode::NOT_FOUND,
    "service `web` has no check `nope`"
)]
#[tokio::test]
async fn bad_requests_get_a_json_error(
    #[case] path: &str,
    #[case] status: StatusCode,
    #[case] error: &str,
) {
    let app = public().await;
    assert_eq!(json(&app, path).await, (status, json!({ "error": error })));
}

#[tokio::test]
async fn health_badges_redirect_render_and_answer_raw() {
    let app = public().await;
    let (status, headers, _) = get(&app, "/_/web/health/").await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        headers["location"],
        "https://img.shields.io/badge/health-3%2F3%20(0%20restarts)-green.svg"
    );
    assert_eq!(
        headers["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    assert_eq!(
        json(&app, "/_/api/health/?raw").await,
        (
            StatusCode::OK,
            json!({"ready": 3, "total": 4, "restarts": 3, "color": "red"})
        )
    );
    let (status, headers, body) = get(&app, "/_/web/health/?format=svg").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/svg+xml");
    assert_eq!(headers["content-security-policy"], "script-src 'none'");
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("3/3 (0 restarts)")
    );
    assert_eq!(
        json(&app, "/services/web/").await,
        (StatusCode::OK, json!(["health", "rollout"]))
    );
}

#[tokio::test]
async fn head_answers_like_get_without_body() {
    let app = public().await;
    let (_, get_headers, _) = get(&app, "/_/web/health/").await;
    let (status, headers, body) = send(&app, Method::HEAD, "/_/web/health/", &[]).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(headers["location"], get_headers["location"]);
    assert!(body.is_empty());
    let (status, _, body) = send(&app, Method::HEAD, "/_/web/health/?format=svg", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty());
}

#[tokio::test]
async fn other_methods_get_a_json_error() {
    let app = public().await;
    let (status, _, body) = send(&app, Method::POST, "/_/web/health/", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"error": "only GET and HEAD are served"})
    );
}

#[rstest]
#[case::svg("/_/web/health/?format=svg")]
#[case::endpoint("/_/web/health/?format=json")]
#[case::raw("/_/web/health/?raw")]
#[case::aggregate("/a/web/health/?format=svg")]
#[tokio::test]
async fn a_client_that_has_the_answer_gets_304_without_a_body(#[case] path: &str) {
    let app = public().await;
    let (status, headers, _) = get(&app, path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-cache");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, headers, body) = send(&app, Method::GET, path, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"], etag.as_str());
    assert!(body.is_empty());
    let (status, _, _) = send(&app, Method::GET, path, &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cache_seconds_sets_max_age_and_the_endpoint_minimum() {
    let app = public().await;
    let (_, headers, body) = get(&app, "/_/web/health/?format=json&cacheSeconds=600").await;
    assert_eq!(headers["cache-control"], "max-age=600");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["cacheSeconds"], 600);
    let (_, short) = json(&app, "/_/web/health/?format=json&cacheSeconds=5").await;
    assert_eq!(short["cacheSeconds"], 300);
    // The redirect is never cached: shields applies cacheSeconds itself.
    let (_, headers, _) = get(&app, "/_/web/health/?cacheSeconds=600").await;
    assert_eq!(
        headers["cache-control"],
        "no-cache, no-store, must-revalidate"
    );
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .ends_with("?cacheSeconds=600")
    );
}

#[rstest]
#[case::services("/services/")]
#[case::badge("/_/web/health/")]
#[case::history("/_/web/health/uptime/30d")]
#[case::metrics("/metrics")]
#[case::plugins("/plugins")]
#[tokio::test]
async fn private_mode_needs_a_valid_signature(#[case] path: &str) {
    let (app, secret) = demo(Mode::Private).await;
    assert_eq!(
        json(&app, path).await,
        (StatusCode::FORBIDDEN, json!({"error": "forbidden"}))
    );
    let signature = Signer::new(&secret).sign("GET", path, now_unix());
    let (status, _, _) = send(&app, Method::GET, path, &[("Intra-Shield", &signature)]).await;
    assert_ne!(status, StatusCode::FORBIDDEN);
    // Probes stay open.
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
}

/// Every request is counted by its route and status, the refused and the unmatched too: the
/// metrics are the outer layer, around each group's signature check.
#[tokio::test]
async fn refused_and_unmatched_requests_are_counted_by_route_and_status() {
    let (app, secret) = demo(Mode::Private).await;
    assert_eq!(get(&app, "/plugins").await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/nope").await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/healthz").await.0, StatusCode::OK);
    let signature = Signer::new(&secret).sign("GET", "/metrics", now_unix());
    let (status, _, body) = send(
        &app,
        Method::GET,
        "/metrics",
        &[("Intra-Shield", &signature)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(body).unwrap();
    for counted in [
        r#"kube_shields_http_requests_total{route="/plugins",status="403"} 1"#,
        r#"kube_shields_http_requests_total{route="unmatched",status="403"} 1"#,
        r#"kube_shields_http_requests_total{route="/healthz",status="200"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|line| line == counted),
            "{counted} in\n{metrics}"
        );
    }
}

/// Every route, unsigned, in each mode: refused exactly where its group's access needs a
/// signature. The list of routes is the one the router declares, so a new route is covered here
/// as soon as it is added; a wrong method and an unknown path are checked like the rest.
#[rstest]
#[case::private(Mode::Private)]
#[case::public(Mode::Public { peers: Vec::new() })]
#[case::dev(Mode::Dev)]
#[tokio::test]
async fn each_route_is_signed_as_its_group_says(#[case] mode: Mode) {
    let (app, _) = demo(mode.clone()).await;
    let routes = super::routes::declared().all();
    assert!(routes.len() > 20, "{routes:?}");
    let example = |template: &str| {
        template
            .replace("{service}", "web")
            .replace("{prefix}", "web")
            .replace("{name}", "web")
            .replace("{check}", "health")
            .replace("{measure}", "uptime")
            .replace("{window}", "24h")
    };
    let mut requests: Vec<(Method, String, Access)> = routes
        .iter()
        .map(|(template, access)| (Method::GET, example(template), *access))
        .collect();
    requests.push((Method::POST, "/plugins".to_owned(), Access::Operator));
    requests.push((Method::DELETE, "/_/web/health/".to_owned(), Access::Read));
    requests.push((Method::POST, "/healthz".to_owned(), Access::Probe));
    requests.push((Method::GET, "/no/such/route".to_owned(), Access::Read));
    for (method, path, access) in requests {
        let (status, _, body) = send(&app, method.clone(), &path, &[]).await;
        let refused = status == StatusCode::FORBIDDEN;
        assert_eq!(
            refused,
            access.needs_signature(&mode),
            "{method} {path} ({access:?}) in {mode:?}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// A cluster `eu` with one ready pod of `webhooks` (namespace `billing`), in a pods file.
fn eu_pods(dir: &std::path::Path) -> std::path::PathBuf {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "webhooks-7d4b9c-ax0", "namespace": "billing", "uid": "uid-webhooks",
            "generateName": "webhooks-7d4b9c-", "labels": {"pod-template-hash": "7d4b9c"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": "webhooks-7d4b9c", "uid": "uid-rs", "controller": true}]
        },
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
        "status": {"phase": "Running", "podIP": "127.0.0.31", "containerStatuses": [
            {"name": "app", "image": "app:1", "imageID": "", "ready": true, "restartCount": 0}
        ]}
    });
    let path = dir.join("eu.json");
    std::fs::write(
        &path,
        json!({"apiVersion": "v1", "kind": "List", "items": [pod]}).to_string(),
    )
    .unwrap();
    path
}

/// The demo's service (`hub`) federated with `eu` in memory: the hub's peer requests go to
/// eu's router through [`RouterTransport`], which the test can switch off.
struct Federation {
    hub: App,
    _eu: App,
    eu_link: crate::peers::RouterTransport,
    _dir: tempfile::TempDir,
}

async fn federation() -> Federation {
    use crate::peers::{PeerSettings, Peers, RouterTransport};
    let dir = tempfile::tempdir().unwrap();
    let (hub_config, secret) = demo_config(Mode::Public {
        peers: vec!["eu".to_owned()],
    });
    let eu = App::new(
        AppConfig::new(CoreConfig::new(PodSourceConfig::all(PodOrigin::File(
            eu_pods(dir.path()),
        ))))
        .with_mode(Mode::Public { peers: Vec::new() })
        .with_secret(Some(secret.clone())),
    )
    .await
    .unwrap();
    let eu_link = RouterTransport::new(eu.router());
    let settings = PeerSettings {
        refresh: std::time::Duration::from_millis(50),
        result_ttl: std::time::Duration::ZERO,
        ..PeerSettings::default()
    };
    let peers =
        Peers::in_memory(vec![("eu".to_owned(), eu_link.clone())], &settings, &secret).unwrap();
    let hub = App::with_peers(hub_config, peers).await.unwrap();
    // Until the hub has eu's catalog: the aggregate over both counts eu's pod.
    for _ in 0..250 {
        if json(&hub, "/a/web/health/?raw").await.1["total"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Federation {
        hub,
        _eu: eu,
        eu_link,
        _dir: dir,
    }
}

/// How the core resolves a name across clusters: local first, `@cluster` for one peer, a
/// flat name found in a peer's catalog, and the errors of each.
#[rstest]
#[case::remote_by_cluster(
    "/_/webhooks@eu/health/?raw",
    StatusCode::OK,
    json!({"ready": 1, "total": 1, "restarts": 0, "color": "green"})
)]
#[case::remote_by_flat_name(
    "/_/webhooks/health/?raw",
    StatusCode::OK,
    json!({"ready": 1, "total": 1, "restarts": 0, "color": "green"})
)]
#[case::remote_namespace_scope(
    "/_/webhooks.billing/health/?raw",
    StatusCode::OK,
    json!({"ready": 1, "total": 1, "restarts": 0, "color": "green"})
)]
#[case::local_first(
    "/_/web/health/?raw",
    StatusCode::OK,
    json!({"ready": 3, "total": 3, "restarts": 0, "color": "green"})
)]
#[case::aggregate_over_both(
    "/a/web/health/?raw",
    StatusCode::OK,
    json!({"ready": 4, "total": 4, "restarts": 0, "color": "green"})
)]
#[case::unknown_cluster(
    "/_/webhooks@us/health/?raw",
    StatusCode::NOT_FOUND,
    json!({"error": "unknown cluster `us`"})
)]
#[case::unknown_remote_service(
    "/_/nobody@eu/health/?raw",
    StatusCode::NOT_FOUND,
    json!({"error": "unknown service `nobody@eu`"})
)]
#[case::unknown_remote_check(
    "/_/webhooks@eu/release/?raw",
    StatusCode::NOT_FOUND,
    json!({"error": "service `webhooks@eu` has no check `release`"})
)]
#[case::no_cluster_in_an_aggregate(
    "/a/web@eu/health/?raw",
    StatusCode::BAD_REQUEST,
    json!({"error": "an aggregate spans every cluster: no `@cluster` in its prefix"})
)]
#[case::remote_history_without_history(
    "/_/webhooks@eu/health/history",
    StatusCode::SERVICE_UNAVAILABLE,
    json!({"error": "history unreachable"})
)]
#[tokio::test]
async fn names_resolve_across_clusters(
    #[case] path: &str,
    #[case] status: StatusCode,
    #[case] body: Value,
) {
    let federation = federation().await;
    assert_eq!(json(&federation.hub, path).await, (status, body));
}

/// A peer that stops answering: its badges say `unreachable`, an aggregate names it, and both
/// recover when it is back.
#[tokio::test]
async fn an_unreachable_peer_is_named_and_its_return_is_seen() {
    let federation = federation().await;
    let hub = &federation.hub;
    federation.eu_link.set_up(false);
    let (_, badge) = json(hub, "/_/webhooks@eu/health/?format=json").await;
    assert_eq!(
        (badge["message"].as_str(), badge["color"].as_str()),
        (Some("unreachable"), Some("lightgrey"))
    );
    let (_, aggregate) = json(hub, "/a/web/health/?format=json").await;
    assert_eq!(aggregate["message"], "3/3 (0 restarts), eu unreachable");
    let (_, raw) = json(hub, "/a/web/health/?raw").await;
    assert_eq!(raw["missing"], json!(["eu"]));
    federation.eu_link.set_up(true);
    let (_, badge) = json(hub, "/_/webhooks@eu/health/?format=json").await;
    assert_eq!(badge["message"], "1/1 (0 restarts)");
}
