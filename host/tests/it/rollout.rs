//! The built-in `rollout` check end to end: workloads served by the fake API server, watched by
//! kube's real watcher, answered by a real server over loopback in every format, in aggregates
//! and across a peer.

use std::time::Duration;

use fake_apiserver::{CronJobBuilder, DeploymentBuilder, FakeApiServer, StatefulSetBuilder};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{self, Pods, TestServer, TestServerBuilder, eventually};

/// A change must show within this (one watch event, one debounced rebuild).
const WITHIN: Duration = Duration::from_secs(5);

/// A server over `fake`, started once its pods are listed.
async fn serve(fake: FakeApiServer) -> TestServer {
    TestServerBuilder::new()
        .pods(Pods::Fake(fake))
        .start()
        .await
}

fn api_server(server: &TestServer) -> &FakeApiServer {
    server.fake.as_ref().expect("a fake API server")
}

/// Waits until `path?raw` answers `expected`.
async fn raw_becomes(server: &TestServer, path: &str, expected: Value) {
    raw_until(server, path, &expected.to_string(), |body| {
        *body == expected
    })
    .await;
}

/// Waits until `path?raw` answers what `holds`, and returns it.
async fn raw_until(
    server: &TestServer,
    path: &str,
    what: &str,
    holds: impl Fn(&Value) -> bool,
) -> Value {
    let url = format!("{path}?raw");
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let (_, body) = server.json(&url).await;
        if holds(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {WITHIN:?}: {url} is {body}, not {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn rollout(status: &str, detail: Option<&str>, color: &str) -> Value {
    json!({"rollout": status, "detail": detail, "count": 1, "total": 1, "color": color})
}

/// A Deployment `web` with three replicas and its pods, started at `deployment`'s status.
async fn web_cluster(deployment: DeploymentBuilder) -> FakeApiServer {
    let fake = FakeApiServer::start().await;
    for i in 0..3 {
        fake.upsert(deployment.pod(i).build());
    }
    fake.upsert_object(deployment.build());
    fake
}

#[tokio::test]
async fn a_deployment_rollout_is_followed_to_current_and_a_stuck_one_to_failed() {
    let web = DeploymentBuilder::new("default", "web").replicas(3);
    let server = serve(web_cluster(web.clone().rolling_out(1, 3, 3)).await).await;

    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("in progress", Some("1/3 updated"), "yellow"),
    )
    .await;
    assert_eq!(
        server.location("/_/web/rollout/").await,
        "https://img.shields.io/badge/rollout-in%20progress%3A%201%2F3%20updated-yellow.svg"
    );

    api_server(&server).upsert_object(web.clone().rolling_out(2, 3, 3).build());
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("in progress", Some("2/3 updated"), "yellow"),
    )
    .await;

    api_server(&server).upsert_object(web.clone().available().build());
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("current", None, "green"),
    )
    .await;
    assert_eq!(
        server.json("/_/web/rollout/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "rollout", "message": "current", "color": "green"})
    );

    // The next rollout (a new image: the API server bumps the generation) gets stuck past its
    // progress deadline, then recovers.
    let web = web.image("registry.example/app:2.0").generation(2);
    api_server(&server).upsert_object(web.clone().progress_deadline_exceeded().build());
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("failed", Some("ProgressDeadlineExceeded"), "red"),
    )
    .await;
    let svg = server
        .get("/_/web/rollout/?format=svg")
        .await
        .text()
        .await
        .unwrap();
    assert!(svg.contains("failed: ProgressDeadlineExceeded"), "{svg}");
    assert_eq!(
        server.location("/_/web/rollout/").await,
        "https://img.shields.io/badge/rollout-failed%3A%20ProgressDeadlineExceeded-red.svg"
    );

    api_server(&server).upsert_object(web.clone().available().build());
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("current", None, "green"),
    )
    .await;

    // Health is the pods', unchanged by any of it.
    assert_eq!(server.json("/_/web/health/?raw").await.1["total"], 3);
    assert_eq!(
        server.json("/catalog").await.1[0]["checks"],
        json!(["health", "rollout"])
    );
}

#[tokio::test]
async fn a_workload_being_deleted_is_terminating_and_a_missing_one_not_found() {
    let web = DeploymentBuilder::new("default", "web").replicas(3);
    let server = serve(web_cluster(web.clone()).await).await;
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("current", None, "green"),
    )
    .await;

    api_server(&server).upsert_object(web.clone().deleting().build());
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("terminating", None, "lightgrey"),
    )
    .await;

    api_server(&server).delete_object::<k8s_openapi::api::apps::v1::Deployment>("default", "web");
    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("not found", None, "lightgrey"),
    )
    .await;
}

#[tokio::test]
async fn a_partitioned_stateful_set_update_is_in_progress_until_its_partition_is_updated() {
    let db = StatefulSetBuilder::new("default", "db").replicas(3);
    let fake = FakeApiServer::start().await;
    for ordinal in 0..3 {
        fake.upsert(db.pod(ordinal).build());
    }
    // Partition 1: ordinals 1 and 2 are to be updated; one of them is.
    fake.upsert_object(db.clone().partitioned_update(1, 1).build());
    let server = serve(fake).await;

    raw_becomes(
        &server,
        "/_/db/rollout/",
        rollout("in progress", Some("1/2 updated"), "yellow"),
    )
    .await;

    api_server(&server).upsert_object(db.clone().partitioned_update(1, 2).build());
    raw_becomes(&server, "/_/db/rollout/", rollout("current", None, "green")).await;
    assert_eq!(
        api_server(&server).requests("deployments").lists
            + api_server(&server).requests("deployments").watch_lists,
        0,
        "only kinds that own pods are watched"
    );
}

#[tokio::test]
async fn a_cron_jobs_rollout_is_its_latest_runs() {
    let nightly = CronJobBuilder::new("default", "nightly");
    let minute = 29_923_200;
    let run = nightly.job(minute);
    let fake = FakeApiServer::start().await;
    fake.upsert(run.pod(0).phase("Running").build());
    fake.upsert_object(nightly.clone().running(minute).build());
    fake.upsert_object(run.clone().active(1).build());
    let server = serve(fake).await;

    // kstatus: a Job that started is current (its controller acts on its spec); how the run
    // goes is the `health` badge's.
    raw_becomes(
        &server,
        "/_/nightly/rollout/",
        rollout("current", None, "green"),
    )
    .await;

    api_server(&server).upsert_object(run.clone().succeeded(1).complete().build());
    raw_becomes(
        &server,
        "/_/nightly/rollout/",
        rollout("current", None, "green"),
    )
    .await;

    // The next run fails.
    let next = nightly.job(minute + 1440);
    api_server(&server).upsert(next.pod(0).phase("Failed").build());
    api_server(&server).upsert_object(next.clone().failed(7).backoff_limit_exceeded().build());
    raw_becomes(
        &server,
        "/_/nightly/rollout/",
        rollout("failed", Some("BackoffLimitExceeded"), "red"),
    )
    .await;
}

#[tokio::test]
async fn without_rights_on_a_kind_rollout_is_unknown_and_health_keeps_working() {
    let web = DeploymentBuilder::new("default", "web").replicas(3);
    let fake = FakeApiServer::builder()
        .forbid_resource("deployments")
        .start()
        .await;
    for i in 0..3 {
        fake.upsert(web.pod(i).build());
    }
    fake.upsert_object(web.build());
    let server = serve(fake).await;

    raw_becomes(
        &server,
        "/_/web/rollout/",
        rollout("unknown", None, "lightgrey"),
    )
    .await;
    let (status, health) = server.json("/_/web/health/?raw").await;
    assert_eq!(
        (status, health),
        (
            StatusCode::OK,
            json!({"ready": 3, "total": 3, "restarts": 0, "color": "green"})
        )
    );
}

#[tokio::test]
async fn rollouts_aggregate_and_cross_a_peer() {
    // The demo cluster: `web` mid-rollout (2/3 updated), `api` current in two namespaces.
    let peer = TestServerBuilder::new()
        .pods(Pods::FakeApiServer)
        .start()
        .await;
    raw_becomes(
        &peer,
        "/_/web/rollout/",
        rollout("in progress", Some("2/3 updated"), "yellow"),
    )
    .await;
    assert_eq!(
        peer.json("/_/api/rollout/?raw").await.1,
        json!({"rollout": "current", "detail": null, "count": 2, "total": 2, "color": "green"})
    );
    assert_eq!(
        peer.json("/a/a/rollout/?raw").await.1,
        json!({"rollout": "current", "detail": null, "count": 2, "total": 2, "color": "green"})
    );

    let hub = TestServerBuilder::new()
        .pods(common::fake_cluster(&[("shop", "cart", 1)]).await)
        .peers(&[&peer.base])
        .start()
        .await;
    let name = peer.peer_name();
    let remote = eventually("the peer's catalog lists web", WITHIN, async || {
        let (status, body) = hub.json(&format!("/_/web@{name}/rollout/?raw")).await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(
        remote,
        rollout("in progress", Some("2/3 updated"), "yellow")
    );
    assert_eq!(
        hub.location("/_/web/rollout/").await,
        "https://img.shields.io/badge/rollout-in%20progress%3A%202%2F3%20updated-yellow.svg"
    );
}
