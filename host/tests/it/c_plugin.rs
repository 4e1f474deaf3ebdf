//! The C example plugin (`example-plugins/c/web.c`) as a user ships it: the core module
//! clang builds for `wasm32-wasip1` (`example-plugins/c/build.sh`, run by `scripts/test.sh`),
//! dropped into the plugin directory as `web.wasm`, served by the real server and tried with
//! `kube-shields check`.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::web_example::{self, version_server};
use common::{Pods, TestServerBuilder, repo};
use fake_apiserver::{FakeApiServer, PodBuilder, loopback_ip};
use serde_json::json;

/// `example-plugins/c/target/web.wasm`, or a clear failure saying how to build it.
fn c_plugin() -> PathBuf {
    let path = repo().join("example-plugins/c/target/web.wasm");
    assert!(
        path.exists(),
        "{} is missing: run example-plugins/c/build.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_example_answers_badges_through_the_server() {
    web_example::assert_badges(c_plugin(), loopback_ip(47)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_c_example_tells_a_pending_pod_and_differing_versions() {
    let (old, new) = (loopback_ip(48), loopback_ip(49));
    let port = version_server(old, 0, "1.2.3\n").await;
    // The same port on another loopback IP: a pod of the next release.
    version_server(new, port, "1.3.0").await;
    let fake = FakeApiServer::start().await;
    for (name, ip) in [("web-7d4b9c-1", old), ("web-8e5c0d-1", new)] {
        fake.upsert(
            PodBuilder::new("default", name)
                .deployment("web", &name[4..10])
                .ip(ip)
                .build(),
        );
    }
    fake.upsert(
        PodBuilder::new("default", "web-8e5c0d-2")
            .deployment("web", "8e5c0d")
            .pending_without_statuses()
            .build(),
    );
    let settings = format!("[config]\nport = {port}\n");
    let server = TestServerBuilder::new()
        .pods(Pods::Fake(fake))
        .plugin("web", c_plugin(), Some(&settings))
        .start()
        .await;
    assert_eq!(
        server.json("/_/web/running/?raw").await.1,
        json!({"label": null, "status": "2/3 running", "color": "red"})
    );
    // No `release` in [config].
    assert_eq!(
        server.json("/_/web/release/?raw").await.1,
        json!({"raw": "unknown"})
    );
    assert_eq!(
        server.json("/_/web/version/?raw").await.1,
        json!({"label": null, "status": "1.2.3, 1.3.0", "color": "yellow"})
    );
}

#[test]
fn kube_shields_check_runs_the_c_example_with_its_settings() {
    let plugin = c_plugin();
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kube-shields"))
        .env_clear()
        .env("HOME", cache.path())
        .current_dir(repo().join("example-plugins/c"))
        .arg("check")
        .arg(
            plugin
                .strip_prefix(repo().join("example-plugins/c"))
                .unwrap(),
        )
        .args(["--service", "web"])
        .arg("--cache-dir")
        .arg(cache.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        concat!(
            r#"{"check":"running","label":"running","status":"no pods","color":"lightgrey"}"#,
            "\n",
            r#"{"check":"release","label":"release","status":"2026.11","color":"orange"}"#,
            "\n",
            r#"{"check":"version","label":"version","status":"no answer","color":"red"}"#,
            "\n",
        )
    );
    // printf went through WASI preview 1 (the adapter) to the log on stderr.
    assert!(stderr.contains("running: 0 of 0 pods"), "{stderr}");
}
