//! The index page `/` in a real browser: headless Chromium (`scripts/test.sh` installs Debian's
//! `chromium`) against a federation on loopback — `hub` (public), a private and a public peer,
//! each with its own fake API server, and a dead peer. Chromium runs the page with its scripts
//! and dumps the DOM; the assertions read what a user would see. A screenshot is kept in
//! `target/test-artifacts/index.png`.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube_shields::app::HistoryStore;

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
    // shop-us keeps history: its services show their last 24 hours as a bar chart.
    let history = tempfile::tempdir().unwrap();
    let public = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "cart", 1), ("shop", "web", 1)]).await)
        .history(
            HistoryStore::Dir(history.path().to_owned()),
            Duration::from_millis(200),
        )
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
    // shop-us keeps history: each of its services shows its last 24 hours, loaded, with alt
    // text; the clusters without history show none.
    let charts = tags(&dom, "img", "class=\"history\"");
    let chart_sources: Vec<&str> = charts.iter().map(|tag| attr(tag, "src").unwrap()).collect();
    assert_eq!(
        chart_sources,
        [
            format!("/_/cart@{public_name}/health/chart.svg?window=24h"),
            format!("/_/web@{public_name}/health/chart.svg?window=24h"),
        ],
        "{dom}"
    );
    for chart in &charts {
        assert!(
            attr(chart, "alt")
                .unwrap()
                .ends_with("health, last 24 hours (30 days: follow the link)"),
            "{chart}"
        );
    }
    // Each badge offers its URL as Markdown (and more), ready to paste, linking to the
    // service's own page of the index (it has no link of its own), never to the picture.
    let markdown = format!(
        "<code>[![billing health]({0}/_/billing@{private_name}/health/)]({0}/?q=billing)</code>",
        hub.base
    );
    assert!(dom.contains(&markdown), "{markdown} not in {dom}");

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

/// The services a page lists, by their row's name cell.
fn listed(page: &str) -> Vec<&str> {
    page.split("<th scope=\"row\">")
        .skip(1)
        .map(|rest| &rest[..rest.find('<').unwrap()])
        .collect()
}

#[tokio::test]
async fn the_overview_counts_each_state_and_shows_problems_first() {
    // The demo: api's health is red (3/4), db's yellow (400 restarts), web mid-rollout (yellow);
    // the other checks are green.
    let hub = TestServerBuilder::new().cluster_name("demo").start().await;
    let page = hub.get("/").await.text().await.unwrap();
    for (state, n) in [("failing", 1), ("warning", 2), ("error", 0), ("ok", 7)] {
        let count = format!(
            "<li class=\"count\" data-state=\"{state}\"><a href=\"/?state={state}\"><span class=\"n\">{n}</span> {state}</a></li>"
        );
        assert!(page.contains(&count), "{count} in {page}");
    }
    assert!(
        page.contains("<h2>demo <span class=\"state\">5 services</span> <span class=\"problems\">1 failing · 2 warning</span></h2>"),
        "{page}"
    );
    // Alt text carries the status; the snippets to paste name the badge only.
    assert!(
        page.contains("alt=\"web rollout: in progress: 2/3 updated\""),
        "{page}"
    );
    // web's pods name its link (the annotation `kube-shields.io/link`): its snippets link there.
    assert!(
        page.contains("<code>[![web rollout](http://")
            && page.contains("/_/web/rollout/)](https://github.com/example/web)</code>"),
        "{page}"
    );
    // Each check's description, next to its badge.
    assert!(
        page.contains(
            "<figcaption>the workload&apos;s rollout, by kstatus&apos; rules</figcaption>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<a id=\"toggle\" href=\"/?state=problems\">problems only (3)</a>"),
        "{page}"
    );

    // Problems only, and the filter reads states and statuses too.
    let problems = hub.get("/?state=problems").await.text().await.unwrap();
    assert_eq!(listed(&problems), ["db", "web", "api"]);
    assert!(
        problems.contains("<a id=\"toggle\" href=\"/\">every check</a>"),
        "{problems}"
    );
    let failing = hub.get("/?state=failing").await.text().await.unwrap();
    assert_eq!(listed(&failing), ["api"]);
    let by_text = hub.get("/?q=in%20progress").await.text().await.unwrap();
    assert_eq!(listed(&by_text), ["web"]);
    assert_eq!(
        hub.json("/?state=bad").await,
        (
            reqwest::StatusCode::BAD_REQUEST,
            json!({"error": "state must be problems, failing, warning, error, stale, unreachable, unknown or ok, not \"bad\""})
        )
    );
}

/// The page in Chromium driven by playwright-core (`host/tests/support/index-check.js`;
/// `scripts/test.sh` installs its pinned packages), at 1280 and 360 px: axe-core finds nothing
/// serious or critical, nothing scrolls sideways, the overview counts every badge, the filters
/// work, every Tab stop shows its focus, and a badge of a named cluster opens its embed panel
/// from the keyboard without moving the page, copies its Markdown, and takes a style and label
/// with a live preview. Screenshots: `target/test-artifacts/index-{desktop,mobile}.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embed_builder_and_accessibility_at_desktop_and_mobile_widths() {
    let support = common::repo().join("host/tests/support");
    assert!(
        support.join("node_modules/playwright-core").is_dir()
            && support.join("node_modules/axe-core").is_dir(),
        "npm ci --prefix host/tests/support (scripts/test.sh does) installs playwright-core and axe-core"
    );
    let private = TestServerBuilder::new()
        .private()
        .pods(fake_cluster(&[("billing", "billing", 1), ("billing", "ledger", 1)]).await)
        .start()
        .await;
    let public = TestServerBuilder::new()
        .pods(fake_cluster(&[("shop", "cart", 1), ("shop", "web", 1)]).await)
        .start()
        .await;
    // The demo pods: api failing, db and web warning, web's link annotation; with history, so
    // each service's 24-hour chart is on the page too.
    let history = tempfile::tempdir().unwrap();
    let hub = TestServerBuilder::new()
        .cluster_name("demo")
        .history(
            HistoryStore::Dir(history.path().to_owned()),
            Duration::from_millis(200),
        )
        .peers(&[
            &format!("billing-eu={}", private.base),
            &format!("shop-us={}", public.base),
        ])
        .start()
        .await;
    eventually("both peers answered", WITHIN, async || {
        let peers: Value = hub.get_signed("/peers").await.json().await.ok()?;
        let up: Vec<&Value> = peers.as_array()?.iter().map(|peer| &peer["up"]).collect();
        (up == [&json!(true), &json!(true)]).then_some(())
    })
    .await;
    let page = hub.get("/").await.text().await.unwrap();
    // Without JavaScript every format is there as text; web links to its own link.
    for snippet in [
        format!(
            "<code>[![web health]({0}/_/web/health/)](https://github.com/example/web)</code>",
            hub.base
        ),
        format!(
            "<dt>HTML</dt><dd><code>&lt;a href=&quot;https://github.com/example/web&quot;&gt;&lt;img alt=&quot;web health&quot; src=&quot;{0}/_/web/health/&quot;&gt;&lt;/a&gt;</code></dd>",
            hub.base
        ),
        format!(
            "<dt>URL</dt><dd><code>{0}/_/web/health/</code></dd>",
            hub.base
        ),
        format!(
            "<dt>reStructuredText</dt><dd><code>.. image:: {0}/_/web/health/\n   :alt: web health\n   :target: https://github.com/example/web</code></dd>",
            hub.base
        ),
        format!(
            "<dt>AsciiDoc</dt><dd><code>image:{0}/_/web/health/[web health,link=&quot;https://github.com/example/web&quot;]</code></dd>",
            hub.base
        ),
    ] {
        assert!(page.contains(&snippet), "{snippet} not in {page}");
    }

    let artifacts = target_dir().join("test-artifacts");
    let badge = "/_/billing@billing-eu/health/";
    let output = tokio::process::Command::new("node")
        .arg(support.join("index-check.js"))
        .arg(format!("{}/", hub.base))
        .arg(&artifacts)
        .arg(badge)
        .env(
            "CHROMIUM",
            std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
        )
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs (Node 20)");
    assert!(
        output.status.success(),
        "index-check.js failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let markdown = format!("[![billing health]({0}{badge})]({0}/?q=billing)", hub.base);
    for width in ["desktop", "mobile"] {
        let at = &result[width];
        let context = format!("{width}: {at:#}");
        assert_eq!(at["errors"], json!([]), "{context}");
        // axe-core: nothing serious or critical, with the panel closed and open.
        for run in ["axe", "axeOpen"] {
            println!("{width} {run}: {}", at[run]);
            let bad: Vec<&Value> = at[run]
                .as_array()
                .unwrap()
                .iter()
                .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
                .collect();
            assert!(bad.is_empty(), "{run}: {bad:#?}");
        }
        for overflow in ["overflow", "overflowOpen"] {
            assert!(
                at[overflow]["scrollWidth"].as_u64() <= at[overflow]["innerWidth"].as_u64(),
                "sideways scroll: {context}"
            );
        }
        // The overview counts every badge on the page, the demo's problems among them.
        let badges = at["badges"].as_array().unwrap();
        let counted: u64 = at["overview"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(counted, badges.len() as u64, "{context}");
        assert_eq!(at["overview"]["failing"], 1, "{context}");
        assert_eq!(at["overview"]["warning"], 2, "{context}");
        for named in [
            "/_/billing@billing-eu/health/?format=svg",
            "/_/ledger@billing-eu/rollout/?format=svg",
            "/_/cart@shop-us/health/?format=svg",
        ] {
            assert!(badges.contains(&json!(named)), "{named}: {context}");
        }
        assert!(
            at["descriptions"]
                .as_array()
                .unwrap()
                .contains(&json!("ready containers of the pods, and their restarts")),
            "{context}"
        );
        // Every Tab stop shows its focus.
        let focus = at["focus"].as_array().unwrap();
        assert!(focus.len() > 10, "{context}");
        assert!(
            focus.iter().all(|stop| stop["outline"] == true),
            "{context}"
        );
        // The panel opens from the keyboard, over the page: nothing moves.
        assert_eq!(at["shift"], 0.0, "{context}");
        assert_eq!(at["snippets"]["Markdown"], markdown, "{context}");
        assert_eq!(at["copied"], markdown, "{context}");
        assert_eq!(
            at["snippets"]["URL"],
            format!("{}{badge}", hub.base),
            "{context}"
        );
        assert_eq!(
            at["styled"]["Markdown"],
            format!(
                "[![billing health]({0}{badge}?style=for-the-badge&label=prod%20web)]({0}/?q=billing)",
                hub.base
            ),
            "{context}"
        );
        assert_eq!(
            at["preview"]["src"],
            format!("{badge}?format=svg&style=for-the-badge&label=prod%20web"),
            "{context}"
        );
        assert!(at["preview"]["width"].as_u64().unwrap() > 100, "{context}");
        assert_eq!(at["closedByEscape"], true, "{context}");
        assert_eq!(at["filtered"], json!(["ledger"]), "{context}");
        assert_eq!(at["failing"], json!(["api"]), "{context}");
        let screenshot = artifacts.join(format!("index-{width}.png"));
        assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);
    }
}
