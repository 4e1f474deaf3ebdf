//! The `kube-shields` binary as an operator runs it: `serve` against the fake API server in
//! another process, private mode with headers from `kube-shields sign`, refusals at start-up,
//! and the log of an API server outage.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::common;

use common::eventually;
use fake_apiserver::{FakeApiServer, PodBuilder, loopback_ip};
use reqwest::StatusCode;

const BINARY: &str = env!("CARGO_BIN_EXE_kube-shields");

/// A `kube-shields serve` process, killed when dropped.
struct Served {
    child: Child,
    base: String,
    client: reqwest::Client,
    /// The server's stderr: its log.
    log: tempfile::NamedTempFile,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port: bound, read and released for the child to take.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn command(env: &[(&str, &Path)]) -> Command {
    let mut command = Command::new(BINARY);
    command.env_clear().env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

async fn serve(args: &[&str], env: &[(&str, &Path)], other_shields: Option<&str>) -> Served {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut command = command(env);
    let log = tempfile::NamedTempFile::new().unwrap();
    command
        .arg("serve")
        .arg("--listen")
        .arg(&listen)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap());
    if let Some(value) = other_shields {
        command.env("OTHER_SHIELDS", value);
    }
    let served = Served {
        child: command.spawn().unwrap(),
        base: format!("http://{listen}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        log,
    };
    eventually(
        "kube-shields serve gets ready",
        Duration::from_secs(20),
        async || {
            let response = served
                .client
                .get(format!("{}/readyz", served.base))
                .send()
                .await;
            response
                .is_ok_and(|r| r.status() == StatusCode::OK)
                .then_some(())
        },
    )
    .await;
    served
}

impl Served {
    /// The log lines so far that contain `text`.
    fn log_lines(&self, text: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.log.path()).unwrap();
        log.lines()
            .filter(|line| line.contains(text))
            .map(str::to_owned)
            .collect()
    }

    async fn location(&self, path: &str) -> Option<String> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        let location = response.headers().get("location")?;
        Some(location.to_str().ok()?.to_owned())
    }
}

fn secret_file(dir: &Path) -> PathBuf {
    let path = dir.join("secret");
    std::fs::write(&path, "an operator's secret of more than 32 bytes\n").unwrap();
    path
}

#[tokio::test]
async fn serve_against_an_api_server_follows_pod_changes() {
    let fake = FakeApiServer::start().await;
    let web = |n| {
        PodBuilder::new("default", &format!("web-7d4b9c-{n}"))
            .deployment("web", "7d4b9c")
            .ip(loopback_ip(n))
    };
    fake.upsert(web(1).build());
    let served = serve(&["--kube-url", &fake.url()], &[], Some("None")).await;
    assert_eq!(
        served.location("/_/web/health/").await.unwrap(),
        "https://img.shields.io/badge/health-1%2F1%20(0%20restarts)-green.svg"
    );

    fake.upsert(web(2).containers(&[("app", false, 0)]).build());
    eventually("the new pod shows", Duration::from_secs(1), async || {
        let red = "https://img.shields.io/badge/health-1%2F2%20(0%20restarts)-red.svg";
        (served.location("/_/web/health/").await.as_deref() == Some(red)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn private_mode_accepts_headers_from_kube_shields_sign() {
    let dir = tempfile::tempdir().unwrap();
    let secret = secret_file(dir.path());
    let pods = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo/pods.json");
    let env = [("INTRA_SHIELD_SECRET", secret.as_path())];
    let served = serve(&["--pods-file", pods.to_str().unwrap()], &env, None).await;

    let url = format!("{}/services/", served.base);
    assert_eq!(
        served.client.get(&url).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let signed = command(&env)
        .args(["sign", "GET", "/services/"])
        .output()
        .unwrap();
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let header = String::from_utf8(signed.stdout).unwrap();
    let response = served
        .client
        .get(&url)
        .header("Intra-Shield", header.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap(),
        r#"["api","db","log-agent","nightly","web"]"#
    );
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success());
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn private_mode_without_a_secret_refuses_to_start_and_says_how_to_make_one() {
    let output = command(&[])
        .args(["serve", "--pods-file", "pods.json"])
        .output()
        .unwrap();
    assert_eq!(
        refused(&output),
        "kube-shields: private mode (OTHER_SHIELDS unset) needs INTRA_SHIELD_SECRET: the path of a file \
         with at least 32 bytes, e.g. `head -c 32 /dev/urandom | base64 > secret`; or set OTHER_SHIELDS=None \
         for public mode\n"
    );
}

/// Each cause once (it was `cannot read pods file X: No such file or directory (os error 2):
/// cannot read pods file X: No such file or directory (os error 2)`).
#[test]
fn a_missing_pods_file_is_said_once() {
    let output = command(&[])
        .args(["serve", "--pods-file", "/nonexistent.json"])
        .env("OTHER_SHIELDS", "None")
        .output()
        .unwrap();
    let message = refused(&output);
    assert_eq!(message.matches("/nonexistent.json").count(), 1, "{message}");
    assert_eq!(message.matches("os error 2").count(), 1, "{message}");
    assert!(
        message.starts_with("kube-shields: pod source: "),
        "{message}"
    );
}

#[test]
fn a_short_secret_refuses_to_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "too short").unwrap();
    let output = command(&[("INTRA_SECRET", secret.as_path())])
        .args(["serve"])
        .output()
        .unwrap();
    let message = refused(&output);
    assert!(
        message.starts_with("kube-shields: setting INTRA_SHIELD_SECRET: "),
        "{message}"
    );
    assert!(
        message.contains("head -c 32 /dev/urandom | base64 >"),
        "{message}"
    );
}

#[tokio::test]
async fn an_api_server_outage_is_logged_once_each_way_and_health_badges_say_stale() {
    let fake = FakeApiServer::start().await;
    fake.upsert(
        PodBuilder::new("default", "web-7d4b9c-1")
            .deployment("web", "7d4b9c")
            .ip(loopback_ip(1))
            .build(),
    );
    let env = [("RUST_LOG", Path::new("info"))];
    let served = serve(
        &["--kube-url", &fake.url(), "--stale-after", "1"],
        &env,
        Some("None"),
    )
    .await;
    let green = "https://img.shields.io/badge/health-1%2F1%20(0%20restarts)-green.svg";
    assert_eq!(
        served.location("/_/web/health/").await.as_deref(),
        Some(green)
    );

    fake.go_down();
    let stale =
        "https://img.shields.io/badge/health-stale%3A%201%2F1%20(0%20restarts)-lightgrey.svg";
    eventually("health turns stale", Duration::from_secs(15), async || {
        (served.location("/_/web/health/").await.as_deref() == Some(stale)).then_some(())
    })
    .await;

    fake.come_back();
    // kube's watcher backs off up to 30 s between attempts.
    eventually("health recovers", Duration::from_secs(45), async || {
        (served.location("/_/web/health/").await.as_deref() == Some(green)).then_some(())
    })
    .await;
    let failing = served.log_lines("pod watch failing");
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert!(failing[0].contains("retrying in"), "{failing:?}");
    assert_eq!(served.log_lines("pod watch recovered").len(), 1);
}

#[test]
fn peers_without_a_secret_or_a_bad_peer_refuse_to_start_naming_the_setting() {
    let pods = common::repo().join("demo/pods.json");
    let output = command(&[])
        .args(["serve", "--pods-file"])
        .arg(&pods)
        .env("OTHER_SHIELDS", "shields.eu.example.com")
        .output()
        .unwrap();
    assert_eq!(
        refused(&output),
        "kube-shields: OTHER_SHIELDS lists peers, and requests to peers are signed: set INTRA_SHIELD_SECRET \
         to the path of the secret file the peers share (at least 32 bytes)\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let output = command(&[("INTRA_SHIELD_SECRET", secret.as_path())])
        .args(["serve", "--pods-file"])
        .arg(&pods)
        .env("OTHER_SHIELDS", "ftp://shields.eu.example.com")
        .output()
        .unwrap();
    assert!(
        refused(&output).starts_with(
            "kube-shields: setting OTHER_SHIELDS: `ftp://shields.eu.example.com` is not a peer"
        ),
        "{output:?}"
    );
}

/// `serve --dev DIR`: the author's loop on loopback only, every route open (`/plugins` without
/// a secret, which used to answer 403 to the guides' serve command), the URLs printed.
#[tokio::test]
async fn serve_dev_serves_a_folder_on_loopback_with_every_route_open() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    std::fs::copy(common::fixture("good.wat"), plugins.join("web.wasm")).unwrap();
    std::fs::copy(
        common::repo().join("demo/pods.json"),
        plugins.join("pods.json"),
    )
    .unwrap();
    let mut child = command(&[("XDG_CACHE_HOME", &dir.path().join("cache"))])
        .args(["serve", "--dev"])
        .arg(&plugins)
        // Any address is made loopback; port 0 lets the system choose.
        .args(["--listen", "0.0.0.0:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first three lines; the rest is read (and dropped) until the server exits, so it never
    // writes into a closed pipe.
    let (first, lines) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok);
        let _ = first.send(lines.by_ref().take(3).collect::<Vec<_>>());
        lines.for_each(drop);
    });
    let printed = lines.await.unwrap();
    let served = Served {
        child,
        base: printed[1]
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned(),
        client: reqwest::Client::new(),
        log: tempfile::NamedTempFile::new().unwrap(),
    };
    assert!(
        printed[0].starts_with("kube-shields dev server for "),
        "{printed:?}"
    );
    assert!(served.base.starts_with("http://127.0.0.1:"), "{printed:?}");
    assert!(
        printed[2].contains(&format!("{}/plugins", served.base)),
        "{printed:?}"
    );
    let get = async |path: &str| {
        let response = served
            .client
            .get(format!("{}{path}", served.base))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    };
    eventually(
        "the dev server is ready",
        Duration::from_secs(20),
        async || (get("/readyz").await.0 == StatusCode::OK).then_some(()),
    )
    .await;
    let (status, plugins) = get("/plugins").await;
    assert_eq!(status, StatusCode::OK, "{plugins}");
    assert!(plugins.contains(r#""name":"ok""#), "{plugins}");
    let (status, badge) = get("/_/web/ok/?format=json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(badge.contains(r#""message":"ok""#), "{badge}");
    assert_eq!(get("/").await.0, StatusCode::OK);
}

#[test]
fn serve_dev_refuses_an_address_that_is_not_loopback() {
    let output = command(&[])
        .args(["serve", "--dev", ".", "--listen", "10.1.2.3:8080"])
        .output()
        .unwrap();
    assert_eq!(
        refused(&output),
        "kube-shields: setting --listen: --dev serves on loopback only, and 10.1.2.3:8080 is not a loopback address\n"
    );
}

/// The history's count of `web`'s health samples as the server answers it.
async fn served_samples(served: &Served) -> Option<u64> {
    let response = served
        .client
        .get(format!("{}/_/web/health/uptime/24h?raw", served.base))
        .send()
        .await
        .ok()?;
    let body: serde_json::Value = response.json().await.ok()?;
    body["count"].as_u64()
}

#[tokio::test]
async fn a_server_killed_mid_write_keeps_its_history_whole_and_goes_on_after_a_restart() {
    let history = tempfile::tempdir().unwrap();
    let pods = common::repo().join("demo/pods.json");
    let args = [
        "--pods-file",
        pods.to_str().unwrap(),
        "--history-dir",
        history.path().to_str().unwrap(),
        // Every check of the demo 50 times a second: the store is written in every flush.
        "--history-interval",
        "20ms",
    ];
    let mut served = serve(&args, &[], Some("None")).await;
    let before = eventually("samples are kept", Duration::from_secs(10), async || {
        served_samples(&served).await.filter(|count| *count >= 50)
    })
    .await;
    // SIGKILL, as the kubelet does past the grace period or the kernel on OOM.
    served.child.kill().unwrap();
    served.child.wait().unwrap();

    let store = kube_shields_history::SqliteStore::open(history.path()).unwrap();
    assert!(store.integrity_ok().unwrap(), "the store is corrupt");
    let key = kube_shields_history::CheckKey::new("web", "health");
    let kept: u64 = store
        .buckets(&key, kube_shields_history::Tier::Day, 0, i64::MAX)
        .unwrap()
        .iter()
        .map(|bucket| bucket.counts.count)
        .sum();
    // Everything it had answered from is there (and what it wrote after).
    assert!(
        kept >= before,
        "{kept} samples kept, {before} answered before the kill"
    );
    drop(store);

    let served = serve(&args, &[], Some("None")).await;
    eventually(
        "the restarted server goes on",
        Duration::from_secs(10),
        async || served_samples(&served).await.filter(|count| *count > kept),
    )
    .await;
}
