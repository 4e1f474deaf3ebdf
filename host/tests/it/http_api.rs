//! The HTTP API as a client sees it: a real server on loopback, pods from the demo pods file or
//! from the fake API server through kube's watcher, and real plugins built from
//! `example-plugins/`.

use crate::common;

use std::time::Duration;

use common::{Pods, TestServerBuilder, WITHIN, eventually, example_plugin, fixture, web_example};
use fake_apiserver::{FakeApiServer, PodBuilder, loopback_ip};
use kube_shields::auth::{Signer, now_unix};
use reqwest::StatusCode;
use rstest::rstest;
use serde_json::{Value, json};

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
    assert_eq!(
        response.headers()["cache-control"],
        "no-cache, no-store, must-revalidate"
    );

    assert_eq!(
        server.json("/_/api/health/?raw").await,
        (
            StatusCode::OK,
            json!({"ready": 3, "total": 4, "restarts": 3, "color": "red"})
        )
    );
    // Keys in the documented order, for clients that compare text.
    assert_eq!(
        server.get("/_/api/health/?raw").await.text().await.unwrap(),
        r#"{"ready":3,"total":4,"restarts":3,"color":"red"}"#
    );
    assert_eq!(
        server
            .get("/_/db/health/?format=json")
            .await
            .text()
            .await
            .unwrap(),
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
        server.json("/_/nightly/health/?format=json").await.1,
        json!({"schemaVersion": 1, "label": "health", "message": "succeeded", "color": "green"})
    );
    assert_eq!(
        server.json("/services/").await,
        (
            StatusCode::OK,
            json!(["api", "db", "log-agent", "nightly", "web"])
        )
    );
}

#[rstest]
#[tokio::test]
async fn plugins_add_checks_and_logical_services(
    #[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods,
) {
    let server = TestServerBuilder::new()
        .pods(pods)
        .demo_plugins()
        .start()
        .await;

    assert_eq!(
        server.json("/services/").await.1,
        json!(["api", "db", "log-agent", "nightly", "version", "web"])
    );
    let (status, checks) = server.json("/services/web/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(checks[0], "health");
    assert!(
        checks.as_array().unwrap().contains(&json!("image")),
        "{checks}"
    );
    assert_eq!(
        server.json("/services/version/").await.1,
        json!(["release"])
    );

    assert_eq!(
        server.location("/_/version/release/").await,
        "https://img.shields.io/badge/release-v0.1.0-orange.svg"
    );
    assert_eq!(
        server.json("/_/version/release/?raw").await.1,
        json!({"raw": "v0.1.0"})
    );
    let image = server.json("/_/web/image/?format=json").await.1;
    assert_eq!(image["label"], "image");
    assert_eq!(image["message"], "1.26, 1.27");
}

/// A service made of a plugin has no `health` (the other bad requests are route tests:
/// `server/route_tests.rs`).
#[tokio::test]
async fn a_plugin_only_service_has_no_health() {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    assert_eq!(
        server.json("/_/version/health/").await,
        (
            StatusCode::NOT_FOUND,
            json!({"error": "service `version` has no check `health`"})
        )
    );
}

#[rstest]
#[tokio::test]
async fn svg_badges_are_rendered_here_and_escaped(
    #[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods,
) {
    let server = TestServerBuilder::new().pods(pods).start().await;
    let response = server.get("/_/web/health/?format=svg").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        response.headers()["content-security-policy"],
        "script-src 'none'"
    );
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert!(svg.contains("3/3 (0 restarts)"), "{svg}");
}

#[rstest]
#[tokio::test]
async fn aggregates_sum_health_and_join_plugin_statuses(
    #[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods,
) {
    let server = TestServerBuilder::new()
        .pods(pods)
        .plugin(
            "web",
            example_plugin("release_info"),
            Some("[config]\nrelease = \"v2\"\n"),
        )
        .plugin(
            "webhooks",
            example_plugin("release_info"),
            Some("[config]\nrelease = \"v1\"\n"),
        )
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

/// The trapping plugin's one check, after the built-in `health` and `rollout`.
async fn trap_check(server: &common::TestServer) -> String {
    let (_, checks) = server.json("/services/web/").await;
    let last = checks.as_array().unwrap().last().unwrap();
    last.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_failing_plugin_shows_only_error_and_its_detail_in_plugin_status() {
    let trap = fixture("trap.wat");
    let server = TestServerBuilder::new()
        .plugin("web", trap, None)
        .start()
        .await;
    let check = trap_check(&server).await;
    assert_eq!(
        server.json(&format!("/_/web/{check}/?format=json")).await.1,
        json!({"schemaVersion": 1, "label": check, "message": "error", "color": "lightgrey", "isError": true})
    );
    assert_eq!(
        server.json(&format!("/_/web/{check}/?raw")).await,
        (StatusCode::OK, json!({"failed": "error"}))
    );
    // The detail is for operators: not on the open route, and present on the signed one.
    assert_eq!(server.get("/plugins").await.status(), StatusCode::FORBIDDEN);
    let status: Value = server.get_signed("/plugins").await.json().await.unwrap();
    assert!(status.to_string().contains("unreachable"), "{status}");
}

/// The README's `?raw` section, line by line, against a server: each documented example has the
/// keys, and the JSON types, of what the server answers for that kind; the failed check and
/// `busy` exactly, with their status.
#[tokio::test]
async fn the_raw_shapes_are_as_the_readme_says() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let section = readme
        .split("### Raw answers")
        .nth(1)
        .and_then(|rest| rest.split("\n#").next())
        .expect("a Raw answers section");
    let documented = |kind: &str| -> Value {
        let line = section
            .lines()
            .find(|line| line.starts_with(&format!("- {kind}: `")))
            .unwrap_or_else(|| panic!("no line for {kind}"));
        serde_json::from_str(line.split('`').nth(1).unwrap()).unwrap()
    };
    let shape = |value: &Value| -> Vec<(String, &'static str)> {
        let kind = |value: &Value| match value {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            // `label` and `color` of a shield are either.
            Value::Null => "string",
            _ => "other",
        };
        let mut keys: Vec<_> = value
            .as_object()
            .unwrap()
            .iter()
            .map(|(key, value)| (key.clone(), kind(value)))
            .collect();
        keys.sort();
        keys
    };
    let server = TestServerBuilder::new()
        .plugin("web", fixture("good.wat"), None)
        .start()
        .await;
    for (kind, path) in [
        ("health", "/_/web/health/?raw"),
        ("rollout", "/_/web/rollout/?raw"),
        ("a value", "/_/web/raw/?raw"),
        ("a shield", "/_/web/ok/?raw"),
    ] {
        let (status, answer) = server.json(path).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert_eq!(shape(&answer), shape(&documented(kind)), "{kind}: {answer}");
    }
    assert_eq!(
        server.json("/_/web/fail/?raw").await,
        (StatusCode::OK, documented("a failed check"))
    );
    let busy = TestServerBuilder::new()
        .plugin("web", fixture("good.wat"), None)
        .max_plugin_runs(0)
        .start()
        .await;
    let no_answer = section
        .lines()
        .find(|line| line.starts_with("- no answer"))
        .unwrap();
    let (status, answer) = busy.json("/_/web/raw/?raw").await;
    assert!(
        no_answer.contains(&format!("status `{}`", status.as_u16())),
        "{no_answer}"
    );
    assert!(
        no_answer.contains(&format!("`{answer}`")),
        "{no_answer} vs {answer}"
    );
}

/// The run bound in a pair: one slot answers, zero slots answer `busy` (503 for `?raw`).
#[rstest]
#[case::within_bound(1, StatusCode::OK, json!({"raw": "v0.1.0"}))]
#[case::bound_reached(0, StatusCode::SERVICE_UNAVAILABLE, json!({"error": "busy"}))]
#[tokio::test]
async fn plugin_runs_are_bounded(
    #[case] runs: usize,
    #[case] status: StatusCode,
    #[case] body: Value,
) {
    let server = TestServerBuilder::new()
        .demo_plugins()
        .max_plugin_runs(runs)
        .start()
        .await;
    assert_eq!(server.json("/_/version/release/?raw").await, (status, body));
}

/// `/metrics` read by the Prometheus client library's own parsers (Python's
/// `prometheus_client`, which `scripts/test.sh` installs), in the format the `Accept` header
/// asks for: every family typed (none `unknown`), counters as counters with their `_total`.
#[rstest]
#[case::text(None, "text/plain; version=0.0.4; charset=utf-8", "text")]
#[case::open_metrics(
    Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
    "openmetrics"
)]
#[tokio::test]
async fn metrics_parse_in_both_formats(
    #[case] accept: Option<&str>,
    #[case] content_type: &str,
    #[case] format: &str,
) {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    assert_eq!(
        server.get("/_/version/release/").await.status(),
        StatusCode::FOUND
    );
    let mut request = server.client.get(format!("{}/metrics", server.base));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.headers()["content-type"], content_type);
    let body = response.text().await.unwrap();
    let python = common::repo().join("target/runtime-tools/venv/bin/python");
    let mut parser = std::process::Command::new(&python)
        .arg(common::repo().join("host/tests/support/parse_metrics.py"))
        .arg(format)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err} (scripts/test.sh installs it)", python.display()));
    use std::io::Write as _;
    parser
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let output = parser.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}\n{body}",
        String::from_utf8_lossy(&output.stderr)
    );
    let families: Value = serde_json::from_slice(&output.stdout).unwrap();
    let type_of = |name: &str| families[name]["type"].as_str().map(str::to_owned);
    for (name, family) in families.as_object().unwrap() {
        assert_ne!(family["type"], "unknown", "{name} in {body}");
    }
    for (name, kind) in [
        ("kube_shields_http_requests", "counter"),
        ("kube_shields_plugin_runs", "counter"),
        ("kube_shields_plugin_load_errors", "counter"),
        ("kube_shields_build_info", "gauge"),
        ("kube_shields_pods", "gauge"),
        ("kube_shields_http_request_duration_seconds", "histogram"),
        ("kube_shields_plugin_call_duration_seconds", "histogram"),
    ] {
        assert_eq!(type_of(name).as_deref(), Some(kind), "{name} in {body}");
    }
    let samples = |name: &str| families[name]["samples"].as_array().unwrap().clone();
    assert!(
        samples("kube_shields_plugin_call_duration_seconds")
            .iter()
            .any(|sample| sample[1]["plugin"] == "version" && sample[1]["check"] == "release"),
        "{body}"
    );
    // The request histogram reaches past the peer timeout (3 s).
    assert!(
        samples("kube_shields_http_request_duration_seconds")
            .iter()
            .any(|sample| sample[1]["le"]
                .as_str()
                .and_then(|le| le.parse::<f64>().ok())
                .is_some_and(|le| le > 3.0 && le.is_finite())),
        "{body}"
    );
    assert_eq!(
        samples("kube_shields_build_info")[0][1]["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[tokio::test]
async fn plugin_results_are_cached_and_counted() {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    for _ in 0..5 {
        assert_eq!(
            server.get("/_/version/release/").await.status(),
            StatusCode::FOUND
        );
    }
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"kube_shields_plugin_result_cache_total{result="miss"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kube_shields_plugin_result_cache_total{result="hit"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            r#"kube_shields_plugin_runs_total{plugin="version",check="release",outcome="ok"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("kube_shields_pods 10"), "{metrics}");
}

#[tokio::test]
async fn private_mode_refuses_forged_replayed_skewed_and_misdirected_headers() {
    let server = TestServerBuilder::new().private().start().await;
    let signer = Signer::new(&server.secret);
    let url = format!("{}/services/", server.base);
    let send = |header: String| {
        server
            .client
            .get(&url)
            .header("Intra-Shield", header)
            .send()
    };

    let valid = signer.sign("GET", "/services/", now_unix());
    assert_eq!(send(valid.clone()).await.unwrap().status(), StatusCode::OK);
    let replayed = send(valid).await.unwrap();
    assert_eq!(replayed.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        replayed.json::<Value>().await.unwrap(),
        json!({"error": "forbidden"})
    );

    let skewed = signer.sign("GET", "/services/", now_unix() - 31);
    assert_eq!(send(skewed).await.unwrap().status(), StatusCode::FORBIDDEN);
    let other_path = signer.sign("GET", "/_/web/health/", now_unix());
    assert_eq!(
        send(other_path).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
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
async fn the_index_page_lists_every_service_and_check(
    #[values(Pods::DemoFile, Pods::FakeApiServer)] pods: Pods,
) {
    let server = TestServerBuilder::new()
        .pods(pods)
        .demo_plugins()
        .start()
        .await;
    let page = server.get("/").await.text().await.unwrap();
    assert!(page.contains("<title>test shields</title>"), "{page}");
    assert!(
        page.contains(r#"src="/_/web/health/?format=svg""#),
        "{page}"
    );
    assert!(
        page.contains(r#"src="/_/version/release/?format=svg""#),
        "{page}"
    );
}

/// A browser (`Accept-Encoding: gzip`) gets the same page gzipped; a client that does not ask,
/// or refuses gzip, gets it as it is.
#[tokio::test]
async fn the_index_page_is_gzipped_for_a_client_that_takes_gzip() {
    let server = TestServerBuilder::new().demo_plugins().start().await;
    let fetch = async |accept: Option<&str>| {
        let mut request = server.client.get(format!("{}/", server.base));
        if let Some(accept) = accept {
            request = request.header("accept-encoding", accept);
        }
        let response = request.send().await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let (encoding, vary) = (header("content-encoding"), header("vary"));
        (encoding, vary, response.bytes().await.unwrap().to_vec())
    };
    let (encoding, vary, plain) = fetch(None).await;
    assert_eq!((encoding, vary.as_deref()), (None, Some("accept-encoding")));
    let plain = String::from_utf8(plain).unwrap();
    assert!(
        plain.contains(r#"src="/_/web/health/?format=svg""#),
        "{plain}"
    );
    assert!(plain.ends_with("</html>\n"), "{plain}");

    let (encoding, vary, gzipped) = fetch(Some("gzip, deflate, br, zstd")).await;
    assert_eq!(
        (encoding.as_deref(), vary.as_deref()),
        (Some("gzip"), Some("accept-encoding"))
    );
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);
    assert!(
        gzipped.len() * 3 < plain.len(),
        "{} of {}",
        gzipped.len(),
        plain.len()
    );

    let (encoding, _, refused) = fetch(Some("gzip;q=0, identity")).await;
    assert_eq!(
        (encoding, String::from_utf8(refused).unwrap()),
        (None, plain)
    );
}

/// `/plugins` says, per check of the version serving, when it last answered and its last
/// error: an error is cleared when the check next answers and dropped with its version, and a
/// check the new version no longer lists disappears. (Errors used to stay listed for good.)
#[tokio::test]
async fn plugins_show_each_checks_last_success_and_current_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("web.js");
    std::fs::write(
        &script,
        "check('pods', (ctx) => {\n  if (ctx.pods.length === 0) throw new Error('no pods yet');\n  return ctx.pods.length;\n});\ncheck('idle', () => 'never asked');\n",
    )
    .unwrap();
    let server = TestServerBuilder::new()
        .pods(Pods::Fake(FakeApiServer::start().await))
        .compile_cache()
        .plugin("web", script, Some("cache_seconds = 0\n"))
        .start()
        .await;
    let checks = async || -> Vec<Value> {
        let status: Value = server.get_signed("/plugins").await.json().await.unwrap();
        status["web"]["checks"].as_array().unwrap().clone()
    };
    let check = |checks: &[Value], name: &str| {
        checks
            .iter()
            .find(|check| check["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name} in {checks:?}"))
    };
    let message = |answer: Value| answer["message"].as_str().unwrap().to_owned();
    assert_eq!(
        message(server.json("/_/web/pods/?format=json").await.1),
        "error"
    );
    let failing = checks().await;
    assert_eq!(
        check(&failing, "pods")["last_error"]["message"],
        "check failed: web.js:2: Error: no pods yet"
    );
    assert_eq!(check(&failing, "pods")["last_success"], Value::Null);
    let idle = check(&failing, "idle");
    assert_eq!(
        (&idle["last_success"], &idle["last_error"]),
        (&Value::Null, &Value::Null)
    );

    server.fake.as_ref().unwrap().upsert(
        PodBuilder::new("default", "web-7d4b9c-aaaaa")
            .deployment("web", "7d4b9c")
            .build(),
    );
    eventually(
        "the check answers once its pod is seen",
        WITHIN,
        async || (message(server.json("/_/web/pods/?format=json").await.1) == "1").then_some(()),
    )
    .await;
    let answered = check(&checks().await, "pods");
    assert_eq!(answered["last_error"], Value::Null, "{answered}");
    assert!(
        answered["last_success"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );

    // A new version: nothing carried over, and `idle` is gone.
    std::fs::write(
        server.plugin_dir.join("web.js"),
        "check('pods', (ctx) => ctx.pods.length);\n",
    )
    .unwrap();
    let replaced = eventually("the new version serves", WITHIN, async || {
        let checks = checks().await;
        (checks.len() == 1).then_some(checks)
    })
    .await;
    let fresh = check(&replaced, "pods");
    assert_eq!(
        (&fresh["last_success"], &fresh["last_error"]),
        (&Value::Null, &Value::Null)
    );
}

/// `web` in two namespaces with different image tags, and the image-tags plugin.
async fn web_in_two_namespaces() -> common::TestServer {
    let fake = FakeApiServer::start().await;
    fake.upsert(
        PodBuilder::new("default", "web-7d4b9c-a1")
            .deployment("web", "7d4b9c")
            .image("nginx:1.0")
            .build(),
    );
    fake.upsert(
        PodBuilder::new("staging", "web-5f6a7b-b2")
            .deployment("web", "5f6a7b")
            .image("nginx:2.0")
            .build(),
    );
    TestServerBuilder::new()
        .pods(Pods::Fake(fake))
        .plugin("web", example_plugin("image_tags"), None)
        .start()
        .await
}

/// A plugin's result depends on the pods of the service as addressed, so each scope has its
/// own cached result, whatever the order of the requests.
#[rstest]
#[case::qualified_first(["web.staging", "web.default", "web"])]
#[case::flat_first(["web", "web.default", "web.staging"])]
#[case::default_first(["web.default", "web", "web.staging"])]
#[tokio::test]
async fn each_namespace_scope_has_its_own_plugin_result(#[case] order: [&str; 3]) {
    let server = web_in_two_namespaces().await;
    let expected = |scope: &str| match scope {
        "web.default" => "1.0",
        "web.staging" => "2.0",
        _ => "1.0, 2.0",
    };
    for scope in order {
        let (status, body) = server.json(&format!("/_/{scope}/image/?format=json")).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::OK, Some(expected(scope))),
            "{scope}"
        );
    }
    // And again, now from the cache.
    for scope in order {
        assert_eq!(
            server
                .json(&format!("/_/{scope}/image/?format=json"))
                .await
                .1["message"],
            expected(scope),
            "{scope}"
        );
    }
}

#[tokio::test]
async fn a_cron_job_keeps_its_badge_across_runs() {
    let fake = FakeApiServer::start().await;
    let run = |minute: u64, ready: bool| {
        let job = format!("nightly-{minute}");
        let pod = PodBuilder::new("default", &format!("{job}-x7k2p")).controller("Job", &job);
        pod.phase(if ready { "Running" } else { "Failed" })
            .containers(&[("backup", ready, 0)])
            .build()
    };
    fake.upsert(run(29_923_200, false));
    let server = TestServerBuilder::new()
        .pods(Pods::Fake(fake))
        .start()
        .await;
    assert_eq!(server.json("/services/").await.1, json!(["nightly"]));
    assert_eq!(
        server.json("/_/nightly/health/?raw").await.1["color"],
        "red"
    );

    // The next run succeeds: same service, and its health is the latest run's.
    server.fake.as_ref().unwrap().upsert(run(29_924_640, true));
    eventually("the latest run's health", WITHIN, async || {
        (server.json("/_/nightly/health/?raw").await.1["color"] == "green").then_some(())
    })
    .await;
    assert_eq!(server.json("/services/").await.1, json!(["nightly"]));
}

/// A server on the fake API server with one `web` pod, badges stale after 1 s without the
/// watch; and its fresh health badge (endpoint JSON), checked.
async fn fresh_web_health(builder: TestServerBuilder) -> (common::TestServer, Value) {
    let fake = FakeApiServer::start().await;
    fake.upsert(
        PodBuilder::new("default", "web-7d4b9c-a1")
            .deployment("web", "7d4b9c")
            .build(),
    );
    let server = builder
        .pods(Pods::Fake(fake))
        .stale_after(Duration::from_secs(1))
        .start()
        .await;
    let fresh = json!({"schemaVersion": 1, "label": "health", "message": "1/1 (0 restarts)", "color": "green"});
    assert_eq!(server.json("/_/web/health/?format=json").await.1, fresh);
    (server, fresh)
}

/// Waits for the `web` health badge to change from `fresh`, and checks it turned stale.
async fn turns_stale(server: &common::TestServer, fresh: &Value) {
    let stale = eventually("health turns stale", WITHIN, async || {
        let body = server.json("/_/web/health/?format=json").await.1;
        (body != *fresh).then_some(body)
    })
    .await;
    assert_eq!(
        stale,
        json!({"schemaVersion": 1, "label": "health", "message": "stale: 1/1 (0 restarts)", "color": "lightgrey", "isError": true})
    );
}

#[tokio::test]
async fn health_badges_turn_stale_while_the_api_server_is_gone_and_recover() {
    let builder = TestServerBuilder::new().watch_backoff(common::QUICK_BACKOFF);
    let (server, fresh) = fresh_web_health(builder).await;

    server.fake.as_ref().unwrap().go_down();
    turns_stale(&server, &fresh).await;
    assert_eq!(
        server.json("/_/web/health/?raw").await.1,
        json!({"ready": 1, "total": 1, "restarts": 0, "color": "green", "stale": true})
    );
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"kube_shields_pod_watch_healthy{scope="*"} 0"#),
        "{metrics}"
    );

    server.fake.as_ref().unwrap().come_back();
    // The watcher tries again every 200 ms at most (400 with jitter).
    eventually("health recovers", WITHIN, async || {
        (server.json("/_/web/health/?format=json").await.1 == fresh).then_some(())
    })
    .await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"kube_shields_pod_watch_healthy{scope="*"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"kube_shields_pod_watch_last_success_timestamp_seconds{scope="*"} "#),
        "{metrics}"
    );
}

/// A hung API server (the open watch ends, and the next watch request is never answered) reports
/// no error of its own: its silence past the watch timeout counts as failing (issue 23: 420 s of
/// silence with `--stale-after 10` left badges fresh).
#[tokio::test]
async fn health_badges_turn_stale_while_the_api_server_hangs() {
    let builder = TestServerBuilder::new().watch_timeout(Duration::from_secs(1));
    let (server, fresh) = fresh_web_health(builder).await;

    let fake = server.fake.as_ref().unwrap();
    fake.hold_watches();
    fake.drop_watches();
    turns_stale(&server, &fresh).await;
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"kube_shields_pod_watch_healthy{scope="*"} 0"#),
        "{metrics}"
    );
    fake.release_watches();
}

/// badge-maker 6.0.0 (installed by the badge crate's corpus test, or here) drawing `format`.
fn badge_maker_svg(format: Value) -> String {
    let corpus = common::repo().join("badge/tests/corpus");
    if !corpus.join("node_modules/badge-maker").is_dir() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&corpus)
            .status();
        assert!(
            status.expect("npm must be installed").success(),
            "npm ci in {}",
            corpus.display()
        );
    }
    let mut node = std::process::Command::new("node")
        .arg("render.mjs")
        .current_dir(&corpus)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node must be installed");
    std::io::Write::write_all(
        &mut node.stdin.take().unwrap(),
        json!([format]).to_string().as_bytes(),
    )
    .unwrap();
    let output = node.wait_with_output().unwrap();
    let rendered: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    rendered[0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn shields_parameters_pass_to_the_redirect_and_draw_the_local_svg_as_badge_maker_does() {
    let server = TestServerBuilder::new().start().await;
    assert_eq!(
        server
            .location("/_/web/health/?style=for-the-badge&label=prod")
            .await,
        "https://img.shields.io/badge/prod-3%2F3%20(0%20restarts)-green.svg?style=for-the-badge"
    );
    let svg = server
        .get("/_/web/health/?style=for-the-badge&label=prod&format=svg")
        .await
        .text()
        .await
        .unwrap();
    let expected = badge_maker_svg(
        json!({"label": "prod", "message": "3/3 (0 restarts)", "color": "green", "style": "for-the-badge"}),
    );
    assert_eq!(svg, expected);
    for style in ["flat", "flat-square", "plastic", "social"] {
        let svg = server
            .get(&format!("/_/api/health/?style={style}&format=svg"))
            .await
            .text()
            .await
            .unwrap();
        let expected = badge_maker_svg(
            json!({"label": "health", "message": "3/4 (3 restarts)", "color": "red", "style": style}),
        );
        assert_eq!(svg, expected, "{style}");
    }
}

#[tokio::test]
async fn a_color_override_does_not_recolor_a_failing_check() {
    let server = TestServerBuilder::new()
        .plugin("web", fixture("trap.wat"), None)
        .start()
        .await;
    let check = trap_check(&server).await;
    assert_eq!(
        server
            .location(&format!("/_/web/{check}/?color=blue&label=web"))
            .await,
        format!("https://img.shields.io/badge/web-error-lightgrey.svg")
    );
    assert_eq!(
        server.location("/_/web/health/?color=blue").await,
        "https://img.shields.io/badge/health-3%2F3%20(0%20restarts)-blue.svg"
    );
}

/// The Rust `web` example (`example-plugins/web`): the same three checks as the Python,
/// JavaScript and C ones (context, config, HTTP to every pod at once), through the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_web_example_answers_badges_through_the_server() {
    web_example::assert_badges(example_plugin("web"), loopback_ip(46)).await;
}

/// What a raw HTTP/1.1 exchange answers: status line, `content-type`, body.
async fn raw_exchange(base: &str, request: &[u8]) -> (String, Option<String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    let content_type = head
        .lines()
        .find_map(|line| line.strip_prefix("content-type: "))
        .map(str::to_owned);
    (status, content_type, body.to_owned())
}

/// hyper answers these before any route runs; they carry the same `{"error"}` JSON as every
/// other error (issue 23: a 70,000-character path, 300 headers and a tab in the request line
/// got empty bodies with no content type).
#[rstest]
#[case::target_too_long(
    format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000)),
    "HTTP/1.1 414 URI Too Long",
    "the request target is too long (at most 65,534 bytes)"
)]
#[case::too_many_headers(
    format!("GET / HTTP/1.1\r\nhost: x\r\n{}\r\n", (0..300).map(|n| format!("x-h{n}: v\r\n")).collect::<String>()),
    "HTTP/1.1 431 Request Header Fields Too Large",
    "the request has too many or too large headers"
)]
#[case::tab_in_the_request_line(
    "GET\t/ HTTP/1.1\r\nhost: x\r\n\r\n".to_owned(),
    "HTTP/1.1 400 Bad Request",
    "the request could not be parsed"
)]
#[tokio::test]
async fn requests_hyper_cannot_parse_get_json_errors(
    #[case] request: String,
    #[case] status: &str,
    #[case] error: &str,
) {
    let server = TestServerBuilder::new().start().await;
    let (line, content_type, body) = raw_exchange(&server.base, request.as_bytes()).await;
    assert_eq!(line, status);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({ "error": error })
    );
    // The server goes on: a badge still answers.
    assert_eq!(
        server.get("/_/web/health/").await.status(),
        StatusCode::FOUND
    );
}
