//! Federation as a user sees it: three real kube-shields on loopback, each with its own fake
//! API server — `hub` (public, with both others as peers), `private` (private mode, reached only
//! with signed requests) and `public` (public, no peers; stopped mid-test) — plus peers that
//! answer garbage, 50 MB, or nothing at all.

use crate::common;

use std::time::Duration;

use common::{TestServer, TestServerBuilder, WITHIN, eventually, fake_cluster};
use fake_apiserver::PodBuilder;
use kube_shields::auth::{Secret, Signer, now_unix};
use kube_shields::peers::PeerSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Federation {
    hub: TestServer,
    private: TestServer,
    public: TestServer,
}

/// `private` has `billing` (2 containers) and a plugin-only `version` whose status is markup;
/// `public` has `web` (2 containers, a name `hub` has too) and `cart`; `hub` has `web` and `api`.
async fn federation() -> Federation {
    let private = TestServerBuilder::new()
        .private()
        .pods(fake_cluster(&[("billing", "billing", 2)]).await)
        .hostile_release_plugin()
        .start()
        .await;
    let public = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "web", 2), ("shop", "cart", 1)]).await)
        .start()
        .await;
    let hub = TestServerBuilder::new()
        .pods(fake_cluster(&[("default", "web", 1), ("default", "api", 1)]).await)
        .peers(&[&private.base, &public.base])
        .start()
        .await;
    let federation = Federation {
        hub,
        private,
        public,
    };
    // Both catalogs fetched once.
    eventually("both peers are up", WITHIN, async || {
        let peers = federation
            .hub
            .get_signed("/peers")
            .await
            .json::<Value>()
            .await
            .ok()?;
        peers
            .as_array()?
            .iter()
            .all(|peer| peer["up"] == json!(true))
            .then_some(())
    })
    .await;
    federation
}

#[tokio::test]
async fn a_remote_badge_answers_in_every_format_through_this_instance() {
    let f = federation().await;
    let hub = &f.hub;

    assert_eq!(
        hub.location("/_/billing/health/").await,
        "https://img.shields.io/badge/health-2%2F2%20(0%20restarts)-green.svg"
    );
    assert_eq!(
        hub.json("/_/billing/health/?raw").await,
        (
            StatusCode::OK,
            json!({"ready": 2, "total": 2, "restarts": 0, "color": "green"})
        )
    );
    assert_eq!(
        hub.json("/_/billing/health/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "health", "message": "2/2 (0 restarts)", "color": "green"})
    );
    let svg = hub
        .get("/_/billing/health/?format=svg&style=flat-square")
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("2/2 (0 restarts)"));

    // A plugin's status from a peer is text: escaped in the SVG, encoded in the redirect.
    let svg = hub
        .get("/_/version/release/?format=svg")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{svg}"
    );
    assert!(!svg.contains("<script>"), "{svg}");
    assert_eq!(
        hub.location("/_/version/release/").await,
        "https://img.shields.io/badge/release-%3Cscript%3Ealert(1)%3C%2Fscript%3E-orange.svg"
    );

    // Unknown anywhere: 404 JSON, as for a local name.
    assert_eq!(
        hub.json("/_/nope/health/").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "unknown service `nope`"})
        )
    );
    assert_eq!(hub.json("/_/billing/nope/").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn local_wins_a_name_clash_and_service_at_cluster_picks_one() {
    let f = federation().await;
    let hub = &f.hub;
    let public = f.public.peer_name();

    assert_eq!(hub.json("/_/web/health/?raw").await.1["total"], 1);
    assert_eq!(
        hub.json(&format!("/_/web@{public}/health/?raw")).await.1["total"],
        2
    );
    assert_eq!(
        hub.json(&format!("/_/web.shop@{public}/health/?raw"))
            .await
            .1["total"],
        2
    );
    assert_eq!(
        hub.json("/_/web@elsewhere:1/health/").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "unknown cluster `elsewhere:1`"})
        )
    );
}

#[tokio::test]
async fn an_aggregate_sums_health_across_clusters_and_peers_do_not_forward() {
    let f = federation().await;
    let hub = &f.hub;

    // hub's web (1/1) and public's web (2/2).
    assert_eq!(
        hub.json("/a/web/health/?raw").await.1,
        json!({"ready": 3, "total": 3, "restarts": 0, "color": "green"})
    );
    // billing lives in private only; every cluster with a match takes part.
    assert_eq!(hub.json("/a/b/health/?raw").await.1["total"], 2);

    // A request from a peer is answered from local state only.
    let from_peer = |path: &str| {
        hub.client
            .get(format!("{}{path}", hub.base))
            .header("Kube-Shields-Hop", "1")
            .send()
    };
    let local: Value = from_peer("/a/web/health/?raw")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(local["total"], 1);
    assert_eq!(
        from_peer("/_/billing/health/?raw").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_catalog_follows_a_peer_that_gains_a_service() {
    let f = federation().await;
    assert_eq!(
        f.hub.json("/_/search/health/").await.0,
        StatusCode::NOT_FOUND
    );

    f.public.fake.as_ref().unwrap().upsert(
        PodBuilder::new("shop", "search-6c9d-xyz12")
            .deployment("search", "6c9d")
            .build(),
    );
    let answer = eventually("the hub answers for the new service", WITHIN, async || {
        let (status, body) = f.hub.json("/_/search/health/?format=json").await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(answer["message"], "1/1 (0 restarts)");
}

#[tokio::test]
async fn a_stopped_peer_is_unreachable_and_costs_local_badges_nothing() {
    let mut f = federation().await;
    let public = f.public.peer_name();
    assert_eq!(f.hub.json("/_/cart/health/?raw").await.1["total"], 1);

    f.public.stop();
    // Its badges: lightgrey `unreachable`, never a 5xx; the redirect too.
    let badge = eventually("the peer's badge says unreachable", WITHIN, async || {
        let (status, body) = f.hub.json("/_/cart/health/?format=json").await;
        (body["message"] == "unreachable").then_some((status, body))
    })
    .await;
    assert_eq!(
        badge,
        (
            StatusCode::OK,
            json!({"schemaVersion": 1, "label": "health", "message": "unreachable", "color": "lightgrey", "isError": true})
        )
    );
    assert_eq!(
        f.hub.location("/_/cart/health/").await,
        "https://img.shields.io/badge/health-unreachable-lightgrey.svg"
    );
    // Local badges and the other peer are unaffected; the aggregate leaves the dead peer out.
    assert_eq!(f.hub.json("/_/web/health/?raw").await.1["total"], 1);
    assert_eq!(f.hub.json("/_/billing/health/?raw").await.1["total"], 2);
    assert_eq!(f.hub.json("/a/web/health/?raw").await.1["total"], 1);

    // Operators see it, signed only.
    assert_eq!(f.hub.get("/peers").await.status(), StatusCode::FORBIDDEN);
    let status = eventually("/peers says the peer is down", WITHIN, async || {
        let peers: Value = f.hub.get_signed("/peers").await.json().await.ok()?;
        let peer = peers
            .as_array()?
            .iter()
            .find(|p| p["name"] == public)?
            .clone();
        (peer["up"] == json!(false)).then_some(peer)
    })
    .await;
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("request failed"),
        "{status}"
    );
    let metrics = f.hub.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(&format!("kube_shields_peer_up{{peer=\"{public}\"}} 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "kube_shields_peer_up{{peer=\"{}\"}} 1",
            f.private.peer_name()
        )),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_private_peer_refuses_forged_replayed_and_skewed_headers() {
    let f = federation().await;
    let private = &f.private;
    let get = |header: String| {
        private
            .client
            .get(format!("{}/catalog", private.base))
            .header("Intra-Shield", header)
            .send()
    };
    let signer = Signer::new(&private.secret);
    let header = signer.sign("GET", "/catalog", now_unix());
    assert_eq!(get(header.clone()).await.unwrap().status(), StatusCode::OK);
    // Replayed: the same header twice.
    assert_eq!(get(header).await.unwrap().status(), StatusCode::FORBIDDEN);
    // Skewed: two minutes old.
    let old = signer.sign("GET", "/catalog", now_unix() - 120);
    assert_eq!(get(old).await.unwrap().status(), StatusCode::FORBIDDEN);
    // Forged: another secret.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s"), "another-secret-another-secret-xx!").unwrap();
    let other = Signer::new(&Secret::from_file(&dir.path().join("s")).unwrap());
    let forged = other.sign("GET", "/catalog", now_unix());
    let refused = get(forged).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "forbidden"})
    );
    // Signed for another path.
    let elsewhere = signer.sign("GET", "/services/", now_unix());
    assert_eq!(
        get(elsewhere).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

/// A peer that answers every request with `answer` (status line, headers and body) and closes.
async fn raw_peer(answer: impl Fn() -> Vec<u8> + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let answer = std::sync::Arc::clone(&answer);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&answer()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

#[tokio::test]
async fn peers_answering_garbage_50_mb_or_nothing_are_refused_within_limits() {
    let garbage = raw_peer(|| {
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n<html>{\"name\":"
            .to_vec()
    })
    .await;
    // 50 MB with no length announced: read until the cap, then dropped.
    let huge = raw_peer(|| {
        let mut answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n["
                .to_vec();
        answer.resize(50 << 20, b' ');
        answer
    })
    .await;
    let announced = raw_peer(|| {
        b"HTTP/1.1 200 OK\r\ncontent-length: 52428800\r\nconnection: close\r\n\r\n[".to_vec()
    })
    .await;
    let hung = format!("http://{}", common::net::hung_server().await);
    let hub = TestServerBuilder::new()
        .peers(&[&garbage, &huge, &announced, &hung])
        // Long enough for the answering peers on a busy machine; the hung one still times out.
        .peer_settings(PeerSettings {
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(4),
            refresh: Duration::from_secs(3600),
            ..PeerSettings::default()
        })
        .start()
        .await;
    let peers = eventually("every peer was tried", WITHIN, async || {
        let peers: Value = hub.get_signed("/peers").await.json().await.ok()?;
        let all_tried = peers.as_array()?.iter().all(|peer| !peer["up"].is_null());
        all_tried.then_some(peers)
    })
    .await;
    let errors: Vec<(&str, &str)> = peers
        .as_array()
        .unwrap()
        .iter()
        .map(|peer| {
            assert_eq!(peer["up"], json!(false), "{peer}");
            (
                peer["url"].as_str().unwrap(),
                peer["last_error"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(errors[0].1.starts_with("answer is not valid"), "{errors:?}");
    assert_eq!(errors[1].1, "answer longer than 4194304 bytes");
    assert_eq!(errors[2].1, "answer longer than 4194304 bytes");
    assert!(errors[3].1.contains("timed out"), "{errors:?}");

    // A badge addressed to any of them: unreachable, lightgrey, no 5xx; local ones unaffected.
    for peer in [&garbage, &huge, &hung] {
        let name = peer.trim_start_matches("http://");
        let (status, body) = hub
            .json(&format!("/_/web@{name}/health/?format=json"))
            .await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::OK, &json!("unreachable"))
        );
        assert_eq!(body["color"], "lightgrey");
    }
    assert_eq!(hub.json("/_/web/health/?raw").await.1["total"], 3);
    // The index marks them and still lists this cluster.
    let page = hub.get("/").await.text().await.unwrap();
    assert_eq!(
        page.matches("data-state=\"unreachable\">\n<h2>").count(),
        4,
        "{page}"
    );
}

#[tokio::test]
async fn an_https_peer_is_trusted_through_the_peer_ca_file_only() {
    let peer = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "cart", 1)]).await)
        .start()
        .await;
    let target = peer.base.trim_start_matches("http://").parse().unwrap();
    let (front, ca_pem) = common::net::tls_front(target).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("peer-ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    // `host:port` means https.
    let peer_entry = front.to_string();
    let settings = |ca_file| PeerSettings {
        ca_file,
        ..PeerSettings::default()
    };
    let trusting = TestServerBuilder::new()
        .peers(&[&peer_entry])
        .peer_settings(settings(Some(ca_file)))
        .start()
        .await;
    let answer = eventually("the https peer's badge", WITHIN, async || {
        let (status, body) = trusting.json("/_/cart/health/?raw").await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(answer["total"], 1);

    // Without the CA: the system roots do not know it; the peer is down, its badges unreachable.
    let distrusting = TestServerBuilder::new()
        .peers(&[&peer_entry])
        .peer_settings(settings(None))
        .start()
        .await;
    let status = eventually("the untrusted peer is down", WITHIN, async || {
        let peers: Value = distrusting.get_signed("/peers").await.json().await.ok()?;
        (peers[0]["up"] == json!(false)).then(|| peers[0].clone())
    })
    .await;
    let error = status["last_error"].as_str().unwrap();
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(
        distrusting
            .json(&format!("/_/cart@{peer_entry}/health/?format=json"))
            .await
            .1["message"],
        "unreachable"
    );
}

/// A peer of an older kube-shields: no `/catalog`, only `/services/` and each service's checks.
async fn older_peer() -> String {
    let router = axum::Router::new()
        .route(
            "/services/",
            axum::routing::get(|| async { axum::Json(json!(["legacy"])) }),
        )
        .route(
            "/services/legacy/",
            axum::routing::get(|| async { axum::Json(json!(["health"])) }),
        )
        .route(
            "/_/legacy/health/",
            axum::routing::get(|| async {
                axum::Json(json!({"ready": 1, "total": 2, "restarts": 0, "color": "red"}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn a_peer_without_a_catalog_route_is_read_service_by_service() {
    let older = older_peer().await;
    let hub = TestServerBuilder::new().peers(&[&older]).start().await;
    let answer = eventually("the older peer's badge", WITHIN, async || {
        let (status, body) = hub.json("/_/legacy/health/?format=json").await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(
        answer,
        json!({"schemaVersion": 1, "label": "health", "message": "1/2 (0 restarts)", "color": "red"})
    );
}

/// An older peer that lists 1,000 services and answers each one's checks after 2 s (within a
/// request's timeout): its legacy crawl, 16 at a time, would take about 125 s.
async fn slow_older_peer() -> String {
    let names: Vec<String> = (0..1000).map(|n| format!("legacy-{n}")).collect();
    let router = axum::Router::new()
        .route(
            "/services/",
            axum::routing::get(move || {
                let names = names.clone();
                async move { axum::Json(names) }
            }),
        )
        .route(
            "/services/{name}/",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                axum::Json(json!(["health"]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// Each peer is refreshed on its own, within a deadline (issue 23: a slow legacy peer froze an
/// honest peer's catalog for about 125 s, its new service 404 meanwhile).
#[tokio::test]
async fn a_slow_older_peer_does_not_hold_back_another_peers_catalog() {
    let slow = slow_older_peer().await;
    let public = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "web", 1)]).await)
        .start()
        .await;
    let hub = TestServerBuilder::new()
        .peers(&[&slow, &public.base])
        .start()
        .await;
    eventually("the honest peer's badge", WITHIN, async || {
        (hub.get("/_/web/health/").await.status() == StatusCode::FOUND).then_some(())
    })
    .await;
    public.fake.as_ref().unwrap().upsert(
        PodBuilder::new("shop", "search-6c9d-xyz12")
            .deployment("search", "6c9d")
            .build(),
    );
    let answer = eventually("the honest peer's new service", WITHIN, async || {
        let (status, body) = hub.json("/_/search/health/?format=json").await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(answer["message"], "1/1 (0 restarts)");
    // The slow peer's refresh is abandoned at its deadline (the request timeout, 3 s here).
    let slow_status = eventually(
        "the slow peer's refresh to be abandoned",
        WITHIN,
        async || {
            let peers = hub.get_signed("/peers").await.json::<Value>().await.ok()?;
            let slow = peers.as_array()?[0].clone();
            (slow["up"] == json!(false)).then_some(slow)
        },
    )
    .await;
    assert_eq!(
        slow_status["last_error"],
        "catalog refresh took longer than 3 s; abandoned"
    );
}

/// A TCP switch in front of a peer: while up it forwards every connection; switched down it
/// cuts the open ones and refuses new ones, as a peer that goes away.
struct Switch {
    url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Switch {
    async fn to(target: &str) -> Switch {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_owned();
        let switch = Switch {
            url,
            up: std::sync::Arc::default(),
            open: std::sync::Arc::default(),
        };
        switch.up.store(true, Ordering::SeqCst);
        let (up, open) = (switch.up.clone(), switch.open.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes unanswered
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                open.lock().unwrap().push(task.abort_handle());
            }
        });
        switch
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            for task in self.open.lock().unwrap().drain(..) {
                task.abort();
            }
        }
    }

    fn authority(&self) -> &str {
        self.url.trim_start_matches("http://")
    }
}

/// The page `/` of `hub` as headless Chromium renders it (its scripts run).
async fn browser_dom(hub: &TestServer) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/", hub.base);
    common::chromium::chromium(
        profile.path(),
        &["--virtual-time-budget=5000", "--dump-dom", &url],
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"))
}

async fn peer_up(hub: &TestServer, name: &str) -> Option<bool> {
    let peers: Value = hub.get_signed("/peers").await.json().await.ok()?;
    let peer = peers.as_array()?.iter().find(|p| p["name"] == name)?;
    peer["up"].as_bool()
}

#[tokio::test]
async fn a_named_cluster_keeps_its_services_through_an_outage_and_comes_back() {
    let eu = TestServerBuilder::new()
        .cluster_name("eu")
        .pods(fake_cluster(&[("billing", "billing", 2)]).await)
        .start()
        .await;
    let switch = Switch::to(&eu.base).await;
    let hub = TestServerBuilder::new()
        .cluster_name("us")
        .pods(fake_cluster(&[("default", "bill", 1)]).await)
        .peers(&[&format!("eu={}", switch.url)])
        .start()
        .await;
    eventually("eu is up", WITHIN, async || {
        (peer_up(&hub, "eu").await == Some(true)).then_some(())
    })
    .await;

    // Badge URLs name the cluster; the old `@host:port` form still answers.
    let expected = json!({"ready": 2, "total": 2, "restarts": 0, "color": "green"});
    assert_eq!(hub.json("/_/billing@eu/health/?raw").await.1, expected);
    let by_address = format!("/_/billing@{}/health/?raw", switch.authority());
    assert_eq!(hub.json(&by_address).await.1, expected);
    assert_eq!(
        hub.json("/_/billing@nowhere/health/?raw").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "unknown cluster `nowhere`"})
        )
    );
    // The page names clusters, never the peer's address.
    let page = hub.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<section class=\"cluster\" data-cluster=\"eu\" data-state=\"up\">"),
        "{page}"
    );
    assert!(page.contains("<h2>us <span class=\"state\">"), "{page}");
    assert!(page.contains("/_/billing@eu/health/?format=svg"), "{page}");
    assert!(!page.contains(switch.authority()), "{page}");
    assert_eq!(eu.json("/catalog").await.1[0]["cluster"], "eu");

    // eu goes away: its services stay listed (greyed, since when), its badges say unreachable,
    // and an aggregate over both clusters says which one is missing.
    switch.set(false);
    eventually("eu is down", WITHIN, async || {
        (peer_up(&hub, "eu").await == Some(false)).then_some(())
    })
    .await;
    // (A rendered page is reused for a second.)
    let page = eventually("the page shows eu down", WITHIN, async || {
        let page = hub.get("/").await.text().await.ok()?;
        page.contains("data-cluster=\"eu\" data-state=\"unreachable\"")
            .then_some(page)
    })
    .await;
    assert!(page.contains("unreachable since "), "{page}");
    // What a browser shows of it.
    let dom = browser_dom(&hub).await;
    assert!(
        dom.contains("data-cluster=\"eu\" data-state=\"unreachable\""),
        "{dom}"
    );
    assert!(dom.contains("unreachable since "), "{dom}");
    assert!(
        dom.contains("src=\"/_/billing@eu/health/?format=svg\""),
        "{dom}"
    );
    assert!(page.contains("/_/billing@eu/health/?format=svg"), "{page}");
    assert_eq!(
        hub.json("/_/billing@eu/health/?format=json").await.1["message"],
        "unreachable"
    );
    assert_eq!(
        hub.json("/a/b/health/?raw").await.1,
        json!({"ready": 1, "total": 1, "restarts": 0, "color": "green", "missing": ["eu"]})
    );
    assert_eq!(
        hub.json("/a/b/health/?format=json").await.1["message"],
        "1/1 (0 restarts), eu unreachable"
    );

    // Back: the refresh after a failure comes within seconds, not at the next 30 s.
    switch.set(true);
    let back = std::time::Instant::now();
    eventually(
        "the aggregate has eu again",
        Duration::from_secs(10),
        async || {
            let (_, body) = hub.json("/a/b/health/?raw").await;
            (body == json!({"ready": 3, "total": 3, "restarts": 0, "color": "green"})).then_some(())
        },
    )
    .await;
    assert!(back.elapsed() < Duration::from_secs(10));
    assert_eq!(peer_up(&hub, "eu").await, Some(true));
    let page = eventually("the page shows eu up again", WITHIN, async || {
        let page = hub.get("/").await.text().await.ok()?;
        page.contains("data-cluster=\"eu\" data-state=\"up\"")
            .then_some(page)
    })
    .await;
    assert!(!page.contains("unreachable since "), "{page}");
    let dom = browser_dom(&hub).await;
    assert!(
        dom.contains("data-cluster=\"eu\" data-state=\"up\""),
        "{dom}"
    );
}
