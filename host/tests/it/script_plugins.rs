//! Python and JavaScript scripts as plugins, as a user ships them: dropped into the plugin
//! directory (a kubelet-style ConfigMap), served by the real server on the language runtimes
//! `scripts/build-runtimes.sh` builds, and tried with `kube-shields check`.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::{TestServerBuilder, eventually, repo, runtime_dir, web_example};
use fake_apiserver::{ConfigMapVolume, loopback_ip};
use rstest::rstest;
use serde_json::{Value, json};

/// The first script of a language compiles its runtime (the Python one for many seconds in a
/// debug build on a busy machine) unless the shared compile cache has it.
const FIRST_LOAD: Duration = Duration::from_secs(180);

#[rstest]
#[case::python("python/web.py")]
#[case::javascript("js/web.js")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_script_answers_badges_through_the_server(#[case] example: &str) {
    runtime_dir();
    let script = repo().join("example-plugins").join(example);
    web_example::assert_badges(script, loopback_ip(41)).await;
}

/// What the `web` script's `release` check answers now, if it has one.
async fn release(server: &common::TestServer) -> Option<Value> {
    let (status, body) = server.json("/_/web/release/?raw").await;
    (status == reqwest::StatusCode::OK).then_some(body)
}

#[rstest]
#[case::python(
    "web.py",
    "from kube_shields import check\n\n@check\ndef release(ctx):\n    return \"{}\"\n",
    "from kube_shields import check\n\n@check\ndef release(ctx)\n    return 'v3'\n",
    "web.py:4"
)]
#[case::javascript(
    "web.js",
    "check('release', () => '{}');\n",
    "check('release', () => 'v3';\n",
    "web.js:1"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_is_added_changed_broken_and_removed_through_a_configmap_swap(
    #[case] file: &str,
    #[case] template: &str,
    #[case] broken: &str,
    #[case] broken_at: &str,
) {
    runtime_dir();
    let server = TestServerBuilder::new().compile_cache().start().await;
    let volume = ConfigMapVolume::new(&server.plugin_dir);
    let version = |v: &str| template.replace("{}", v);

    volume.write(&[(file, version("v1").as_bytes())]);
    eventually("the script goes live", FIRST_LOAD, async || {
        (release(&server).await? == json!({"raw": "v1"})).then_some(())
    })
    .await;

    volume.write(&[(file, version("v2").as_bytes())]);
    eventually("the change goes live", FIRST_LOAD, async || {
        (release(&server).await? == json!({"raw": "v2"})).then_some(())
    })
    .await;

    // A broken script keeps the last good version serving and says where it is broken.
    volume.write(&[(file, broken.as_bytes())]);
    let error = eventually("the error shows in /plugins", FIRST_LOAD, async || {
        let status: Value = server.get_signed("/plugins").await.json().await.ok()?;
        status["web"]["last_error"]["message"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert!(error.contains(broken_at), "{error}");
    assert_eq!(release(&server).await, Some(json!({"raw": "v2"})));

    volume.write(&[]);
    eventually("the script's checks are gone", FIRST_LOAD, async || {
        (server.json("/services/web/").await.1 == json!(["health", "rollout"])).then_some(())
    })
    .await;
}

#[rstest]
#[case::python("python/web.py")]
#[case::javascript("js/web.js")]
fn kube_shields_check_runs_a_script_with_its_settings(#[case] example: &str) {
    runtime_dir();
    let cache = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kube-shields"))
        .env_clear()
        .env("CACHE_DIR", repo().join("target/test-compile-cache"))
        .env("HOME", cache.path())
        .arg("check")
        .arg(repo().join("example-plugins").join(example))
        .args(["--check", "release"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        concat!(
            r#"{"check":"release","label":"release","status":"2026.11","color":"orange"}"#,
            "\n"
        )
    );
}
