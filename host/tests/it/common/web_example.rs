//! The `web` example every plugin language has (`example-plugins/python/web.py`,
//! `js/web.js`, `c/web.c`, the Rust crate `web/`): `running`, `release` and `version`, checked through the server.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use fake_apiserver::{FakeApiServer, PodBuilder};
use serde_json::json;

use super::{Pods, TestServerBuilder};

/// A pod's HTTP server on `ip` answering `GET /version` with `body`, on `port` (0: any free
/// one); returns the port.
pub async fn version_server(ip: Ipv4Addr, port: u16, body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app =
        axum::Router::new().route("/version", axum::routing::get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// Serves `plugin` as the service `web` of two running pods on `ip` that answer `1.2.3`, with
/// the example's settings, and asserts the badges a user sees.
pub async fn assert_badges(plugin: PathBuf, ip: Ipv4Addr) {
    let port = version_server(ip, 0, "1.2.3\n").await;
    let fake = FakeApiServer::start().await;
    for n in 1..=2 {
        let pod = PodBuilder::new("default", &format!("web-7d4b9c-{n}"))
            .deployment("web", "7d4b9c")
            .ip(ip);
        fake.upsert(pod.build());
    }
    let settings = format!("[config]\nrelease = \"2026.11\"\nport = {port}\npath = \"/version\"\n");
    let server = TestServerBuilder::new()
        .pods(Pods::Fake(fake))
        .compile_cache()
        .plugin("web", plugin, Some(&settings))
        .start()
        .await;
    assert_eq!(
        server.json("/services/web/").await.1,
        json!(["health", "rollout", "running", "release", "version"])
    );
    assert_eq!(
        server.json("/_/web/running/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "running", "message": "2/2 running", "color": "green"})
    );
    assert_eq!(
        server.location("/_/web/release/").await,
        "https://img.shields.io/badge/release-2026.11-orange.svg"
    );
    assert_eq!(
        server.json("/_/web/version/?raw").await.1,
        json!({"label": null, "status": "1.2.3", "color": "green"})
    );
}
