//! The index page `/` in a real browser: headless Chromium (`scripts/test.sh` installs Debian's
//! `chromium`) against a federation on loopback — `hub` (public), a private and a public peer,
//! each with its own fake API server, and a dead peer. Chromium runs the page with its scripts
//! and dumps the DOM; the assertions read what a user would see. A screenshot is kept in
//! `target/test-artifacts/index.png`.

use crate::common;

use std::path::{Path, PathBuf};

use common::{TestServerBuilder, WITHIN, eventually, fake_cluster};
use serde_json::{Value, json};

const SITE: &str = "<img src=x onerror=alert(1)> ops & \"co\"";

/// Runs headless Chromium; fails the test when it cannot.
async fn chromium(profile: &Path, args: &[&str]) -> String {
    common::chromium::chromium(profile, args)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

/// `target/` of this build (the test binary is `target/debug/deps/<name>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// Every `<tag ...>` start tag of the dumped DOM with `needle` in it.
fn tags<'a>(dom: &'a str, tag: &str, needle: &str) -> Vec<&'a str> {
    dom.split(&format!("<{tag} "))
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())])
        .filter(|attrs| attrs.contains(needle))
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(&tag[start..start + tag[start..].find('"')?])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_shows_every_cluster_in_a_real_browser() {
    let private = TestServerBuilder::new()
        .private()
        .pods(fake_cluster(&[("billing", "billing", 1), ("billing", "ledger", 1)]).await)
        .hostile_release_plugin()
        .start()
        .await;
    let public = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "cart", 1), ("shop", "web", 1)]).await)
        .start()
        .await;
    // A peer that is gone: a port nobody listens on.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let hub = TestServerBuilder::new()
        .pods(fake_cluster(&[("default", "web", 1), ("default", "api", 1)]).await)
        // Two named clusters, and one named by its address (the older form).
        .peers(&[
            &format!("billing-eu={}", private.base),
            &format!("shop-us={}", public.base),
            &dead,
        ])
        .site_name(SITE)
        .start()
        .await;
    eventually("every peer was tried", WITHIN, async || {
        let peers: Value = hub.get_signed("/peers").await.json().await.ok()?;
        let up: Vec<&Value> = peers.as_array()?.iter().map(|peer| &peer["up"]).collect();
        (up == [&json!(true), &json!(true), &json!(false)]).then_some(())
    })
    .await;

    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(
        profile.path(),
        &[
            "--virtual-time-budget=15000",
            "--dump-dom",
            &format!("{}/", hub.base),
        ],
    )
    .await;

    // The title and heading show the hostile site name as text; no element came of it.
    assert!(
        dom.contains("<title>&lt;img src=x onerror=alert(1)&gt; ops &amp; \"co\"</title>"),
        "{dom}"
    );
    assert!(
        dom.contains("<h1 id=\"site\">&lt;img src=x onerror=alert(1)&gt; ops &amp; \"co\"</h1>"),
        "{dom}"
    );
    assert!(tags(&dom, "img", "src=\"x\"").is_empty(), "{dom}");
    assert!(!dom.contains("<script>alert"), "{dom}");

    // Every cluster: this one and the live peers with all their services; the dead one marked.
    let clusters = tags(&dom, "section", "class=\"cluster\"");
    let states: Vec<(&str, &str)> = clusters
        .iter()
        .map(|tag| {
            (
                attr(tag, "data-cluster").unwrap(),
                attr(tag, "data-state").unwrap(),
            )
        })
        .collect();
    let (private_name, public_name) = ("billing-eu".to_owned(), "shop-us".to_owned());
    // Named clusters' addresses appear nowhere on the page.
    for address in [private.peer_name(), public.peer_name()] {
        assert!(!dom.contains(&address), "{address} in {dom}");
    }
    let dead_name = dead.trim_start_matches("http://");
    for expected in [
        ("", "up"),
        (private_name.as_str(), "up"),
        (public_name.as_str(), "up"),
        (dead_name, "unreachable"),
    ] {
        assert!(states.contains(&expected), "{expected:?} not in {states:?}");
    }
    let badges = tags(&dom, "img", "class=\"badge\"");
    let sources: Vec<&str> = badges.iter().map(|tag| attr(tag, "src").unwrap()).collect();
    for expected in [
        "/_/web/health/?format=svg".to_owned(),
        "/_/web/rollout/?format=svg".to_owned(),
        "/_/api/health/?format=svg".to_owned(),
        format!("/_/billing@{private_name}/health/?format=svg"),
        format!("/_/billing@{private_name}/rollout/?format=svg"),
        format!("/_/ledger@{private_name}/health/?format=svg"),
        format!("/_/version@{private_name}/release/?format=svg"),
        format!("/_/cart@{public_name}/health/?format=svg"),
        format!("/_/web@{public_name}/health/?format=svg"),
    ] {
        assert!(
            sources.contains(&expected.as_str()),
            "{expected} not in {sources:?}"
        );
    }
    // Each service's health and rollout (its pods have a Deployment), and the plugin's release.
    assert_eq!(badges.len(), 13, "{sources:?}");
    // Every badge image loaded (index.js marks naturalWidth > 0) and the progress line says so.
    for badge in &badges {
        assert_eq!(attr(badge, "data-loaded"), Some("1"), "not loaded: {badge}");
        let width: u32 = attr(badge, "data-width").unwrap().parse().unwrap();
        assert!(width > 0, "{badge}");
    }
    assert!(
        dom.contains("4 clusters (1 unreachable), 13 of 13 badges loaded"),
        "{dom}"
    );
    // Each badge offers its URL as Markdown and HTML, ready to paste.
    let markdown = format!(
        "[![billing health]({0}/_/billing@{private_name}/health/)]({0}/_/billing@{private_name}/health/?format=svg)",
        hub.base
    );
    assert!(
        dom.contains(&markdown.replace('"', "&quot;")),
        "{markdown} not in {dom}"
    );

    // The screenshot, for a person to look at.
    let artifacts = target_dir().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("index.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        profile.path(),
        &[
            "--virtual-time-budget=15000",
            "--window-size=1280,1100",
            &format!("--screenshot={}", screenshot.display()),
            &format!("{}/", hub.base),
        ],
    )
    .await;
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
}

#[tokio::test]
async fn the_index_filters_and_answers_without_javascript() {
    let hub = TestServerBuilder::new().site_name(SITE).start().await;
    let response = hub.get("/?q=api").await;
    assert_eq!(
        response.headers()["content-security-policy"],
        "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("src=\"/_/api/health/?format=svg\""), "{page}");
    assert!(
        !page.contains("src=\"/_/web/health/?format=svg\""),
        "{page}"
    );
    assert!(!page.contains("<script>"), "no inline script: {page}");
    assert!(
        page.contains("<script src=\"/index.js\" defer></script>"),
        "{page}"
    );
    let script = hub.get("/index.js").await;
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}
