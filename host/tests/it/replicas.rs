//! Several replicas behind one Service: two servers watching one fake API server give the same
//! answer on every route; what each keeps to itself (the `Intra-Shield` nonce cache) shows.

use crate::common;

use common::{Pods, TestServer, TestServerBuilder};
use kube_shields::auth::{Signer, now_unix};
use reqwest::StatusCode;

/// Status, `Location` and body of one answer.
/// The answer to `path`, asked as through the Service in front of both replicas: with the same
/// `Host` (the index page builds its badge URLs from it).
async fn answer(server: &TestServer, path: &str) -> (StatusCode, Option<String>, String) {
    let url = format!("{}{path}", server.base);
    let response = server
        .client
        .get(url)
        .header("Host", "shields.example.org")
        .send()
        .await
        .unwrap();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (response.status(), location, response.text().await.unwrap())
}

/// Every read route a user can ask: the catalog, each service's checks, every badge format
/// of every check, and aggregates by each service's first letter.
async fn every_route(server: &TestServer) -> Vec<String> {
    let (_, services) = server.json("/services/").await;
    let services: Vec<String> = serde_json::from_value(services).unwrap();
    let mut paths = vec!["/".to_owned(), "/services/".to_owned()];
    for service in &services {
        paths.push(format!("/services/{service}/"));
        let (_, checks) = server.json(&format!("/services/{service}/")).await;
        let checks: Vec<String> = serde_json::from_value(checks).unwrap();
        let prefix = &service[..1];
        for check in checks {
            for route in [
                format!("/_/{service}/{check}/"),
                format!("/a/{prefix}/{check}/"),
            ] {
                for query in ["", "?raw", "?format=json", "?format=svg"] {
                    paths.push(format!("{route}{query}"));
                }
            }
        }
    }
    paths.push("/_/no-such-service/health/".to_owned());
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_api_server_give_the_same_answers() {
    let first = TestServerBuilder::new()
        .pods(Pods::FakeApiServer)
        .demo_plugins()
        .start()
        .await;
    let url = first.fake.as_ref().unwrap().url();
    let second = TestServerBuilder::new()
        .pods(Pods::Shared(url))
        .demo_plugins()
        .start()
        .await;

    let paths = every_route(&first).await;
    assert!(
        paths.len() > 40,
        "the demo has services and checks: {paths:?}"
    );
    for path in &paths {
        let (a, b) = (answer(&first, path).await, answer(&second, path).await);
        assert_eq!(a, b, "{path}");
    }
}

/// Each replica remembers the nonces it has seen, and only those: within the ±30 s window a
/// header one replica accepted is refused by it again but accepted once by another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_cache_is_per_replica() {
    let first = TestServerBuilder::new()
        .pods(Pods::FakeApiServer)
        .private()
        .start()
        .await;
    let url = first.fake.as_ref().unwrap().url();
    let second = TestServerBuilder::new()
        .pods(Pods::Shared(url))
        .private()
        .start()
        .await;

    let path = "/services/";
    let header = Signer::new(&first.secret).sign("GET", path, now_unix());
    let send = async |server: &TestServer| {
        server
            .client
            .get(format!("{}{path}", server.base))
            .header("Intra-Shield", &header)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(send(&first).await, StatusCode::OK);
    assert_eq!(
        send(&first).await,
        StatusCode::FORBIDDEN,
        "replayed to the same replica"
    );
    assert_eq!(
        send(&second).await,
        StatusCode::OK,
        "replayed to another replica"
    );
    assert_eq!(send(&second).await, StatusCode::FORBIDDEN);
}
