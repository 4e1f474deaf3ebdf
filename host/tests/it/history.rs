//! History end to end: checks run on a schedule (every 50 ms here) into the embedded store,
//! and the uptime and response-time badges, the history JSON and the chart answer from it, in
//! every format, across a peer, and with the store's errors said plainly.

use std::time::Duration;

use kube_shields::app::HistoryStore;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestServer, TestServerBuilder, eventually, example_plugin, fake_cluster};

const INTERVAL: Duration = Duration::from_millis(50);
/// Samples show within this (a flush a second, and the first runs spread over an interval).
const WITHIN: Duration = Duration::from_secs(10);

async fn with_history(builder: TestServerBuilder, dir: &tempfile::TempDir) -> TestServer {
    builder
        .history(HistoryStore::Dir(dir.path().to_owned()), INTERVAL)
        .start()
        .await
}

/// Waits until `path?raw` has at least `samples` samples, and returns it.
async fn samples(server: &TestServer, path: &str, samples: u64) -> Value {
    let url = format!("{path}?raw");
    eventually(
        &format!("{url} has {samples} samples"),
        WITHIN,
        async || {
            let (_, body) = server.json(&url).await;
            (body["count"].as_u64()? >= samples).then_some(body)
        },
    )
    .await
}

#[tokio::test]
async fn scheduled_checks_answer_uptime_and_response_time_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let pods = fake_cluster(&[("default", "web", 2)]).await;
    let server = with_history(TestServerBuilder::new().pods(pods), &dir).await;

    let raw = samples(&server, "/_/web/health/uptime/24h", 5).await;
    assert_eq!(raw["measure"], "uptime");
    assert_eq!(raw["window"], "24h");
    assert_eq!(raw["uptime"], 100.0);
    assert_eq!(raw["up"], raw["count"]);
    // Redirect, SVG (every style), endpoint JSON.
    let location = server.location("/_/web/health/uptime/24h").await;
    assert_eq!(
        location,
        "https://img.shields.io/badge/uptime%2024h-100%25-brightgreen.svg"
    );
    let location = server
        .location("/_/web/health/uptime/30d/?style=flat-square")
        .await;
    assert!(
        location.ends_with("/badge/uptime%2030d-100%25-brightgreen.svg?style=flat-square"),
        "{location}"
    );
    for style in ["flat", "flat-square", "plastic", "for-the-badge", "social"] {
        let response = server
            .get(&format!("/_/web/health/uptime/7d?format=svg&style={style}"))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.headers().contains_key("etag"));
        let svg = response.text().await.unwrap().to_lowercase();
        assert!(
            svg.contains("uptime 7d") && svg.contains("100%"),
            "{style}: {svg}"
        );
    }
    let (status, endpoint) = server
        .json("/_/web/health/uptime/1y?format=json&label=web")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        endpoint,
        json!({"schemaVersion": 1, "label": "web", "message": "100%", "color": "brightgreen"})
    );
    let raw = samples(&server, "/_/web/health/response-time/24h", 1).await;
    assert_eq!(raw["measure"], "response-time");
    let mean = raw["mean_ms"].as_f64().unwrap();
    assert!(mean >= 0.0 && raw["min_ms"].as_f64().unwrap() <= raw["max_ms"].as_f64().unwrap());
    let (_, endpoint) = server
        .json("/_/web/health/response-time/24h?format=json")
        .await;
    assert_eq!(endpoint["label"], "response time 24h");
    assert!(
        endpoint["message"].as_str().unwrap().ends_with(" ms"),
        "{endpoint}"
    );

    // The pod stops being ready: health is red, so samples are down and uptime falls.
    let fake = server.fake.as_ref().unwrap();
    fake.upsert(
        fake_apiserver::PodBuilder::new("default", "web-5d8f7-abcde")
            .deployment("web", "5d8f7")
            .containers(&[("c0", false, 0), ("c1", false, 0)])
            .build(),
    );
    let raw = eventually("samples are down", WITHIN, async || {
        let (_, body) = server.json("/_/web/health/uptime/24h?raw").await;
        (body["up"].as_u64()? + 3 <= body["count"].as_u64()?).then_some(body)
    })
    .await;
    let uptime = raw["uptime"].as_f64().unwrap();
    assert!(uptime < 100.0, "{raw}");
    // Operators see the schedule in the metrics.
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(writes(&server).await, "{metrics}");
    for outcome in ["up", "down"] {
        let counted = format!("kube_shields_history_samples_total{{outcome=\"{outcome}\"}} ");
        assert!(
            metrics.lines().any(|line| line.starts_with(&counted)),
            "{counted} in {metrics}"
        );
    }
    let (_, endpoint) = server.json("/_/web/health/uptime/24h?format=json").await;
    assert_ne!(endpoint["color"], "brightgreen", "{endpoint}");
    assert!(endpoint["message"].as_str().unwrap().ends_with('%'));
}

#[tokio::test]
async fn the_history_json_and_the_chart_have_a_bar_per_hour_or_day() {
    let dir = tempfile::tempdir().unwrap();
    let server = with_history(
        TestServerBuilder::new()
            .pods(fake_cluster(&[("default", "web", 1)]).await)
            .plugin(
                "version",
                example_plugin("release_info"),
                Some("interval_seconds = 1\n[config]\nrelease = \"v1\"\n"),
            ),
        &dir,
    )
    .await;
    samples(&server, "/_/web/health/uptime/24h", 2).await;

    for (window, tier, bars) in [
        ("24h", "hour", 24),
        ("7d", "hour", 168),
        ("30d", "day", 30),
        ("90d", "day", 90),
        ("1y", "day", 365),
    ] {
        let (status, history) = server
            .json(&format!("/_/web/health/history?window={window}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{history}");
        assert_eq!(history["window"], window);
        assert_eq!(history["tier"], tier);
        let buckets = history["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), bars, "{window}");
        // The last bucket holds the samples so far; the total counts them all.
        assert!(buckets.last().unwrap()["count"].as_u64().unwrap() >= 2);
        assert!(history["total"]["count"].as_u64().unwrap() >= 2);
        assert_eq!(
            history["thresholds"]["uptime"],
            json!([99.9, 99.0, 97.0, 95.0, 90.0])
        );
    }
    // No window: 30 days.
    assert_eq!(
        server.json("/_/web/health/history").await.1["window"],
        "30d"
    );

    let response = server.get("/_/web/health/chart.svg?window=24h").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        response.headers()["content-security-policy"],
        "script-src 'none'"
    );
    let svg = response.text().await.unwrap();
    assert!(svg.contains("health 24h"), "{svg}");
    // The samples so far fill the last bar (two, when the test crossed an hour).
    let filled = svg.matches("% up (").count();
    assert!((1..=2).contains(&filled), "{svg}");
    assert_eq!(
        filled + svg.matches(": no data</title>").count(),
        24,
        "{svg}"
    );

    // A plugin's check is scheduled too, at its own interval.
    let raw = samples(&server, "/_/version/release/uptime/24h", 1).await;
    assert_eq!(raw["uptime"], 100.0);
    let health = server.json("/_/web/health/uptime/24h?raw").await.1["count"]
        .as_u64()
        .unwrap();
    let release = server.json("/_/version/release/uptime/24h?raw").await.1["count"]
        .as_u64()
        .unwrap();
    assert!(
        release < health,
        "every 1 s ({release}) runs less than every 50 ms ({health})"
    );
}

#[tokio::test]
async fn history_urls_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let server = with_history(TestServerBuilder::new(), &dir).await;
    let cases = [
        (
            "/_/web/health/uptime/2y",
            StatusCode::BAD_REQUEST,
            "window must be 24h, 7d, 30d, 90d or 1y, not \"2y\"",
        ),
        (
            "/_/web/health/history?window=week",
            StatusCode::BAD_REQUEST,
            "window must be 24h, 7d, 30d, 90d or 1y, not \"week\"",
        ),
        (
            "/_/web/nope/uptime/24h",
            StatusCode::NOT_FOUND,
            "service `web` has no check `nope`",
        ),
        (
            "/_/nosuch/health/chart.svg",
            StatusCode::NOT_FOUND,
            "unknown service `nosuch`",
        ),
        (
            "/_/web/health/downtime/24h",
            StatusCode::NOT_FOUND,
            "no such route",
        ),
    ];
    for (path, status, error) in cases {
        assert_eq!(
            server.json(path).await,
            (status, json!({ "error": error })),
            "{path}"
        );
    }

    // A server that keeps no history says so.
    let plain = TestServerBuilder::new().start().await;
    assert_eq!(
        plain.json("/_/web/health/uptime/24h").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "no history is kept here: start kube-shields with --history-dir or --history-url"})
        )
    );
}

#[tokio::test]
async fn a_remote_services_history_is_answered_by_its_own_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let eu = with_history(
        TestServerBuilder::new()
            .cluster_name("eu")
            .pods(fake_cluster(&[("billing", "billing", 2)]).await),
        &dir,
    )
    .await;
    // The hub keeps no history of its own: the peer's is read through the peer protocol.
    let hub = TestServerBuilder::new()
        .pods(fake_cluster(&[("default", "web", 1)]).await)
        .peers(&[&format!("eu={}", eu.base)])
        .start()
        .await;
    let raw = samples(&hub, "/_/billing@eu/health/uptime/24h", 2).await;
    assert_eq!(raw["uptime"], 100.0);
    let location = hub.location("/_/billing@eu/health/uptime/30d").await;
    assert_eq!(
        location,
        "https://img.shields.io/badge/uptime%2030d-100%25-brightgreen.svg"
    );
    // A flat name found in the peer's catalog works too.
    assert_eq!(
        hub.json("/_/billing/health/response-time/7d?format=json")
            .await
            .1["label"],
        "response time 7d"
    );
    let (status, history) = hub.json("/_/billing@eu/health/history?window=7d").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["buckets"].as_array().unwrap().len(), 168);
    let svg = hub
        .get("/_/billing@eu/health/chart.svg?window=30d")
        .await
        .text()
        .await
        .unwrap();
    assert!((1..=2).contains(&svg.matches("% up (").count()), "{svg}");

    // The index shows each service's last 24 hours beside its badges where history is kept:
    // eu's services, on eu and on the hub; not the hub's own.
    let page = hub.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<a class=\"history\" href=\"/_/billing@eu/health/chart.svg?window=30d\"><img class=\"history\" alt=\"billing health, last 24 hours (30 days: follow the link)\" src=\"/_/billing@eu/health/chart.svg?window=24h\""),
        "{page}"
    );
    assert!(!page.contains("/_/web/health/chart.svg"), "{page}");
    let page = eu.get("/").await.text().await.unwrap();
    assert!(
        page.contains("src=\"/_/billing/health/chart.svg?window=24h\""),
        "{page}"
    );

    // The peer goes away: the badge says unreachable.
    drop(eu);
    let (_, endpoint) = eventually("eu is unreachable", WITHIN, async || {
        let answer = hub
            .json("/_/billing@eu/health/uptime/24h?format=json")
            .await;
        (answer.1["message"] == "unreachable").then_some(answer)
    })
    .await;
    assert_eq!(endpoint["color"], "lightgrey");
}

/// Whether `server` says it runs the schedule and writes (`kube_shields_history_writer`).
async fn writes(server: &TestServer) -> bool {
    let metrics = server.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .any(|line| line == "kube_shields_history_writer 1")
}

#[tokio::test]
async fn replicas_share_a_postgresql_history_and_hand_the_writing_over() {
    let postgres = crate::common::pg::PgServer::start();
    let store = || HistoryStore::Url(postgres.url("postgres"));
    let a = TestServerBuilder::new()
        .history(store(), INTERVAL)
        .start()
        .await;
    let b = TestServerBuilder::new()
        .history(store(), INTERVAL)
        .start()
        .await;

    // One writer: the replica holding the database lock runs the schedule.
    let (writer, other) = eventually("one replica writes", WITHIN, async || {
        match (writes(&a).await, writes(&b).await) {
            (true, false) => Some((a.base.clone(), b.base.clone())),
            (false, true) => Some((b.base.clone(), a.base.clone())),
            _ => None,
        }
    })
    .await;
    let (writer, survivor) = if writer == a.base { (a, b) } else { (b, a) };
    assert_eq!(survivor.base, other);
    // Both answer the one history.
    let written = samples(&writer, "/_/web/health/uptime/24h", 5).await["count"]
        .as_u64()
        .unwrap();
    samples(&survivor, "/_/web/health/uptime/24h", written).await;
    assert!(!writes(&survivor).await);

    // The writer goes away: the other takes the lock and goes on from where it was.
    drop(writer);
    eventually("the other replica writes", WITHIN, async || {
        writes(&survivor).await.then_some(())
    })
    .await;
    samples(&survivor, "/_/web/health/uptime/24h", written + 20).await;
    // The tiers agree: the hours' buckets add up to the minutes' total.
    let (_, history) = survivor.json("/_/web/health/history?window=24h").await;
    let total = history["total"]["count"].as_u64().unwrap();
    let by_hour: u64 = history["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, by_hour, "{history}");
}

#[tokio::test]
async fn a_database_that_is_down_at_start_leaves_badges_serving_and_history_unavailable() {
    // Nothing listens there: the server starts anyway and keeps trying.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://kube:secret-pw@127.0.0.1:{port}/shields?sslmode=disable");
    let server = TestServerBuilder::new()
        .history(HistoryStore::Url(url), INTERVAL)
        .start()
        .await;
    assert_eq!(server.json("/_/web/health/?raw").await.1["ready"], 3);
    let (_, badge) = server.json("/_/web/health/uptime/24h?format=json").await;
    assert_eq!(
        (badge["message"].as_str(), badge["color"].as_str()),
        (Some("unavailable"), Some("lightgrey"))
    );
    assert_eq!(
        server.json("/_/web/health/history").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "history unavailable"})
        )
    );
}

#[tokio::test]
async fn a_database_url_that_cannot_work_is_refused_at_start_without_its_password() {
    use kube_shields::app::{App, AppConfig, CoreConfig, HistoryConfig};
    use kube_shields::pods::{PodOrigin, PodSourceConfig};
    let pods = PodSourceConfig::all(PodOrigin::File(
        crate::common::repo().join("demo/pods.json"),
    ));
    let url = "postgres://kube:secret-pw@db:5432/shields?sslmode=require".to_owned();
    let core = CoreConfig::new(pods).with_history(HistoryConfig {
        store: Some(HistoryStore::Url(url)),
        ..HistoryConfig::default()
    });
    let config =
        AppConfig::new(core).with_mode(kube_shields::server::Mode::Public { peers: Vec::new() });
    let Err(err) = App::new(config).await else {
        panic!("started with sslmode=require");
    };
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert!(
        text.starts_with("setting HISTORY_DIR or HISTORY_URL"),
        "{text}"
    );
    assert!(text.contains("sslmode must be disable or prefer"), "{text}");
    assert!(!text.contains("secret-pw"), "{text}");
}
