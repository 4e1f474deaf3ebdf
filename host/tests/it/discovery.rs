//! Service discovery end to end: kube's real watcher and reflector (through the `pods::kube`
//! source) against the in-repo fake API server, and the pods-file source.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common;

use common::until;
use fake_apiserver::{FakeApiServer, ListMode, PodBuilder};
use k8s_openapi::api::core::v1::Pod;
use kube_shields::pods::SharedIndex;
use kube_shields::pods::health;
use kube_shields::pods::{self, PodOrigin, PodSourceConfig, PodsError};
use kube_shields::pods::{KubeConnection, RBAC_RULE};
use rstest::rstest;
use tokio::task::JoinHandle;

/// Changes must reach the index within this.
const WITHIN_A_SECOND: Duration = Duration::from_secs(1);
/// First sync, and recovery that includes the watcher's back-off after an error (a few hundred
/// milliseconds with [`common::QUICK_BACKOFF`]; the bound leaves room for a busy machine).
const RECOVERY: Duration = Duration::from_secs(10);

/// Flat service names with their pod counts.
fn services(shared: &SharedIndex) -> Vec<(String, usize)> {
    let index = shared.current();
    index
        .services()
        .map(|(name, pods)| (name.to_owned(), pods.len()))
        .collect()
}

fn expect(pairs: &[(&str, usize)]) -> Vec<(String, usize)> {
    pairs
        .iter()
        .map(|(name, n)| ((*name).to_owned(), *n))
        .collect()
}

fn web(namespace: &str, n: u32) -> PodBuilder {
    PodBuilder::new(namespace, &format!("web-7d4b9c-{n}"))
        .deployment("web", "7d4b9c")
        .ip(fake_apiserver::loopback_ip(n))
}

fn kube_source(connection: KubeConnection, namespaces: &[&str]) -> PodSourceConfig {
    PodSourceConfig {
        namespaces: namespaces.iter().map(|ns| (*ns).to_owned()).collect(),
        exclude: vec!["kube-system".to_owned()],
        backoff: common::QUICK_BACKOFF,
        ..PodSourceConfig::all(PodOrigin::Kube(connection))
    }
}

fn proxy(fake: &FakeApiServer) -> KubeConnection {
    KubeConnection {
        kube_url: Some(fake.url()),
        ..KubeConnection::default()
    }
}

/// Starts the source and waits for its first synced index.
async fn synced(config: PodSourceConfig) -> (Arc<SharedIndex>, JoinHandle<()>) {
    let shared = SharedIndex::new();
    let task = pods::start(config, Arc::clone(&shared))
        .await
        .expect("pod source starts");
    until("first sync", RECOVERY, || shared.is_synced()).await;
    (shared, task)
}

async fn start_error(config: PodSourceConfig) -> String {
    pods::start(config, SharedIndex::new())
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

/// The ways an API server hands out the initial list.
#[derive(Debug, Clone, Copy)]
enum InitialList {
    /// Pages of `limit` pods (etcd).
    Paged,
    /// Everything in one response, `limit` ignored (the watch cache at `resourceVersion=0`).
    Whole,
    /// Streaming lists offered (and lists whole, so only the streaming path pages nothing).
    WatchList,
}

impl InitialList {
    async fn server(self) -> FakeApiServer {
        let builder = FakeApiServer::builder();
        match self {
            InitialList::Paged => builder.list_mode(ListMode::Paged),
            InitialList::Whole => builder.list_mode(ListMode::Whole),
            InitialList::WatchList => builder.list_mode(ListMode::Whole).watch_list(true),
        }
        .start()
        .await
    }

    /// Requests that fetched pods for an initial list so far (the start-up probe's included).
    fn requests(self, fake: &FakeApiServer) -> usize {
        match self {
            InitialList::Paged | InitialList::Whole => fake.list_requests(),
            InitialList::WatchList => fake.watch_list_requests(),
        }
    }
}

#[rstest]
#[case::paged(InitialList::Paged)]
#[case::whole(InitialList::Whole)]
#[case::watch_list(InitialList::WatchList)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_modify_and_delete_reach_the_index_within_a_second(#[case] initial: InitialList) {
    let fake = initial.server().await;
    fake.upsert(web("default", 1).build());
    fake.upsert(web("default", 2).build());
    fake.upsert(PodBuilder::new("default", "debug-shell").build());
    fake.upsert(
        PodBuilder::new("kube-system", "coredns-5d78c-abcde")
            .deployment("coredns", "5d78c")
            .build(),
    );
    let (shared, _task) = synced(kube_source(proxy(&fake), &[])).await;
    assert_eq!(services(&shared), expect(&[("web", 2)]));
    assert_eq!(
        shared.current().pod_count(),
        3,
        "bare pods are stored, kube-system is not"
    );
    assert!(
        initial.requests(&fake) >= 2,
        "the probe and the watcher fetched the initial list as {initial:?}"
    );

    fake.upsert(web("default", 3).build());
    until("added pod", WITHIN_A_SECOND, || {
        services(&shared) == expect(&[("web", 3)])
    })
    .await;

    fake.upsert(web("default", 1).containers(&[("app", false, 4)]).build());
    let web_health = || {
        let index = shared.current();
        health(
            index.lookup("web").unwrap_or_default(),
            jiff::Timestamp::now(),
        )
        .status_text()
    };
    until("modified pod", WITHIN_A_SECOND, || {
        web_health() == "2/3 (4 restarts)"
    })
    .await;

    fake.delete("default", "web-7d4b9c-2");
    until("deleted pod", WITHIN_A_SECOND, || {
        web_health() == "1/2 (4 restarts)"
    })
    .await;

    fake.upsert(
        PodBuilder::new("default", "cron-1-xyz")
            .controller("Job", "cron-1")
            .build(),
    );
    until("new service", WITHIN_A_SECOND, || {
        services(&shared) == expect(&[("cron-1", 1), ("web", 2)])
    })
    .await;
}

/// More pods than the watcher's page of 500: whichever way the server hands them out, every
/// pod reaches the index, and a server that sends them whole is asked once.
#[rstest]
#[case::paged(InitialList::Paged, 3 + 1)]
#[case::whole(InitialList::Whole, 1 + 1)]
#[case::watch_list(InitialList::WatchList, 1 + 1)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_pods_than_a_page_reach_the_index_however_the_server_lists(
    #[case] initial: InitialList,
    #[case] requests: usize,
) {
    let fake = initial.server().await;
    for n in 1..=1_234 {
        fake.upsert(web("default", n).build());
    }
    let (shared, _task) = synced(kube_source(proxy(&fake), &[])).await;
    let pods = shared.current().lookup("web").unwrap_or_default().len();
    assert_eq!(pods, 1_234);
    assert_eq!(
        initial.requests(&fake),
        requests,
        "initial-list requests, the start-up probe's included, as {initial:?}"
    );

    fake.upsert(web("default", 2_000).build());
    until("a pod added after the list", WITHIN_A_SECOND, || {
        shared.current().pod_count() == 1_235
    })
    .await;
}

#[rstest]
#[case::paged(InitialList::Paged)]
#[case::whole(InitialList::Whole)]
#[case::watch_list(InitialList::WatchList)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_watch_relists_and_the_index_is_correct(#[case] initial: InitialList) {
    let fake = initial.server().await;
    fake.upsert(web("default", 1).build());
    fake.upsert(web("default", 2).build());
    let (shared, _task) = synced(kube_source(proxy(&fake), &[])).await;
    let lists_before = initial.requests(&fake);

    // The watch goes away and, while it is down, pods change and history is compacted:
    // resuming from the old resource version is impossible.
    fake.hold_watches();
    fake.drop_watches();
    fake.delete("default", "web-7d4b9c-1");
    fake.upsert(
        PodBuilder::new("default", "api-6f9c-1")
            .deployment("api", "6f9c")
            .build(),
    );
    fake.compact();
    fake.release_watches();

    until("relisted index", RECOVERY, || {
        services(&shared) == expect(&[("api", 1), ("web", 1)])
    })
    .await;
    assert!(
        fake.expired_watches() >= 1,
        "the resumed watch got 410 Expired"
    );
    assert!(
        initial.requests(&fake) > lists_before,
        "the watcher listed again"
    );

    fake.upsert(web("default", 3).build());
    until("watching again", WITHIN_A_SECOND, || {
        services(&shared) == expect(&[("api", 1), ("web", 2)])
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_mode_watches_only_its_namespaces_and_needs_no_cluster_scope() {
    let fake = FakeApiServer::builder()
        .forbid_all_namespaces()
        .start()
        .await;
    for namespace in ["team-a", "team-b", "team-c"] {
        fake.upsert(web(namespace, 1).build());
    }
    let (shared, _task) = synced(kube_source(proxy(&fake), &["team-a", "team-b"])).await;
    assert_eq!(services(&shared), expect(&[("web", 2)]));
    let index = shared.current();
    assert_eq!(index.lookup("web.team-a").map(<[_]>::len), Some(1));
    assert_eq!(index.lookup("web.team-c").map(<[_]>::len), None);

    fake.upsert(web("team-b", 2).build());
    fake.upsert(web("team-c", 2).build());
    until("change in a watched namespace", WITHIN_A_SECOND, || {
        shared.current().lookup("web.team-b").map(<[_]>::len) == Some(2)
    })
    .await;
    assert_eq!(services(&shared), expect(&[("web", 3)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_selector_and_excluded_namespaces_filter_on_the_server() {
    let fake = FakeApiServer::start().await;
    fake.upsert(web("default", 1).label("tier", "front").build());
    fake.upsert(
        PodBuilder::new("default", "batch-x")
            .controller("Job", "batch")
            .build(),
    );
    fake.upsert(
        PodBuilder::new("monitoring", "prom-0")
            .controller("StatefulSet", "prom")
            .label("tier", "front")
            .build(),
    );
    let config = PodSourceConfig {
        exclude: vec!["monitoring".to_owned()],
        label_selector: Some("tier=front".to_owned()),
        ..PodSourceConfig::all(PodOrigin::Kube(proxy(&fake)))
    };
    let (shared, _task) = synced(config).await;
    assert_eq!(services(&shared), expect(&[("web", 1)]));

    // A pod that stops matching the selector leaves the index.
    fake.upsert(web("default", 1).build());
    until("pod no longer selected", WITHIN_A_SECOND, || {
        services(&shared).is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_forbidden_namespace_names_the_verb_the_namespace_and_the_rbac_rule() {
    let fake = FakeApiServer::builder()
        .forbid_namespace("team-b")
        .start()
        .await;
    let message = start_error(kube_source(proxy(&fake), &["team-a", "team-b"])).await;
    assert_eq!(
        message,
        format!(
            "not allowed to list pods in namespace \"team-b\" (403 Forbidden: pods is forbidden: \
             User \"system:serviceaccount:default:kube-shields\" cannot list resource \"pods\" in \
             API group \"\" in the namespace \"team-b\"); grant it with a Role (and RoleBinding) in \
             namespace \"team-b\" bound to kube-shields' service account: {RBAC_RULE}"
        )
    );
}

#[tokio::test]
async fn cluster_scope_forbidden_asks_for_a_cluster_role() {
    let fake = FakeApiServer::builder()
        .forbid_all_namespaces()
        .start()
        .await;
    let message = start_error(kube_source(proxy(&fake), &[])).await;
    assert!(
        message.starts_with("not allowed to list pods in all namespaces (403 Forbidden: ")
            && message.ends_with(&format!(
                "grant it with a ClusterRole (and ClusterRoleBinding) bound to kube-shields' \
                 service account: {RBAC_RULE}"
            )),
        "{message}"
    );
}

fn write_file(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn a_rejected_token_is_reported_as_bad_credentials() {
    let fake = FakeApiServer::builder().token("right-token").start().await;
    let dir = tempfile::tempdir().unwrap();
    let connection = KubeConnection {
        api_server: Some(fake.url()),
        token_file: Some(write_file(dir.path(), "token", "wrong-token")),
        ..KubeConnection::default()
    };
    assert_eq!(
        start_error(kube_source(connection, &[])).await,
        format!(
            "the Kubernetes API server at {}/ rejected the credentials (401 Unauthorized: \
             Unauthorized); check --kube-token-file, the client certificate, or the service \
             account token",
            fake.url()
        )
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let connection = KubeConnection {
        kube_url: Some(url.clone()),
        ..KubeConnection::default()
    };
    let message = start_error(kube_source(connection, &[])).await;
    let prefix = format!("cannot reach the Kubernetes API server at {url}/: ");
    assert!(
        message.starts_with(&prefix) && message.contains("Connection refused"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_style_token_file_and_ca_over_tls() {
    let fake = FakeApiServer::builder()
        .tls()
        .token("sa-token")
        .start()
        .await;
    fake.upsert(web("default", 1).build());
    let tls = fake.tls_material().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write_file(dir.path(), "ca.crt", &tls.ca_pem);
    let token_file = write_file(dir.path(), "token", "sa-token");

    // By IP, as KUBERNETES_SERVICE_HOST gives it, and by the in-cluster DNS name.
    for tls_server_name in [None, Some("kubernetes.default.svc".to_owned())] {
        let connection = KubeConnection {
            api_server: Some(fake.url()),
            ca_file: Some(ca_file.clone()),
            token_file: Some(token_file.clone()),
            tls_server_name,
            ..KubeConnection::default()
        };
        let (shared, _task) = synced(kube_source(connection, &[])).await;
        assert_eq!(services(&shared), expect(&[("web", 1)]));
    }

    // Without the CA, the server's certificate is not trusted.
    let untrusted = KubeConnection {
        api_server: Some(fake.url()),
        ..KubeConnection::default()
    };
    let message = start_error(kube_source(untrusted, &[])).await;
    assert!(
        message.starts_with(&format!(
            "cannot reach the Kubernetes API server at {}/: ",
            fake.url()
        )),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_over_tls() {
    let fake = FakeApiServer::builder().require_client_cert().start().await;
    fake.upsert(web("default", 1).build());
    let tls = fake.tls_material().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let connection = KubeConnection {
        api_server: Some(fake.url()),
        ca_file: Some(write_file(dir.path(), "ca.crt", &tls.ca_pem)),
        client_cert: Some(write_file(dir.path(), "client.crt", &tls.client_cert_pem)),
        client_key: Some(write_file(dir.path(), "client.key", &tls.client_key_pem)),
        ..KubeConnection::default()
    };
    let (shared, _task) = synced(kube_source(connection, &[])).await;
    assert_eq!(services(&shared), expect(&[("web", 1)]));
}

/// Writes a `kubectl get pods -A -o json` style list atomically, as tools replacing a file do.
fn write_pod_list(path: &Path, pods: &[Pod]) {
    let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": pods });
    replace_file(path, &serde_json::to_string_pretty(&list).unwrap());
}

fn replace_file(path: &Path, contents: &str) {
    let staging = path.with_extension("tmp");
    std::fs::write(&staging, contents).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

/// Log lines written by the code under test (on this test's thread).
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Current-thread runtime: the source's task logs on this thread, into the captured log.
#[tokio::test]
async fn pods_file_is_reread_on_change_and_a_malformed_file_keeps_the_last_good_state() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pods.json");
    write_pod_list(&path, &[web("default", 1).build()]);
    let (shared, _task) = synced(PodSourceConfig::all(PodOrigin::File(path.clone()))).await;
    assert_eq!(services(&shared), expect(&[("web", 1)]));

    write_pod_list(
        &path,
        &[web("default", 1).build(), web("default", 2).build()],
    );
    until("re-read after a change", WITHIN_A_SECOND, || {
        services(&shared) == expect(&[("web", 2)])
    })
    .await;

    replace_file(&path, "{\"items\": [");
    until("the malformed file is reported", WITHIN_A_SECOND, || {
        log.text().contains("keeping the last good pod list")
    })
    .await;
    assert!(
        log.text()
            .contains("is not a pod list (kubectl get pods -A -o json): EOF while parsing"),
        "{}",
        log.text()
    );
    assert_eq!(services(&shared), expect(&[("web", 2)]));

    write_pod_list(&path, &[web("default", 3).build()]);
    until("re-read after the fix", WITHIN_A_SECOND, || {
        services(&shared) == expect(&[("web", 1)])
    })
    .await;
}

#[tokio::test]
async fn a_malformed_pods_file_at_start_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "pods.json", "not json");
    let error = pods::start(
        PodSourceConfig::all(PodOrigin::File(path.clone())),
        SharedIndex::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, PodsError::File(_)));
    assert_eq!(
        error.to_string(),
        format!(
            "pods file {} is not a pod list (kubectl get pods -A -o json): expected ident at line 1 column 2",
            path.display()
        )
    );
}

/// The watch protocol details kube's watcher relies on, seen on the wire.
#[tokio::test]
async fn the_fake_streams_watch_events_bookmarks_and_410_like_kube_apiserver() {
    let fake = FakeApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await;
    let start = fake.resource_version();
    let added = fake.upsert(web("default", 1).build());
    let watch = |from: u64| {
        reqwest::get(format!(
            "{}/api/v1/namespaces/default/pods?watch=true&resourceVersion={from}\
             &allowWatchBookmarks=true&timeoutSeconds=1",
            fake.url()
        ))
    };
    let lines = |body: String| -> Vec<serde_json::Value> {
        body.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };

    let response = watch(start).await.unwrap();
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    let events = lines(response.text().await.unwrap());
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types[0], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "web-7d4b9c-1");
    assert!(
        types.len() > 1 && types[1..].iter().all(|t| *t == "BOOKMARK"),
        "{types:?}"
    );
    assert_eq!(
        events[1]["object"]["metadata"]["resourceVersion"],
        added.to_string()
    );

    fake.compact();
    let expired = lines(watch(start).await.unwrap().text().await.unwrap());
    assert_eq!(
        expired,
        vec![serde_json::json!({
            "type": "ERROR",
            "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {start} ({added})"),
                "reason": "Expired", "code": 410,
            },
        })]
    );
}

#[rstest]
#[case::all_but_excluded(&[], &["kube-system"], &[("web", 2)])]
#[case::only_watched(&["staging"], &["kube-system"], &[("web", 1)])]
#[case::watched_wins_over_excluded(&["kube-system"], &["kube-system"], &[("coredns", 1)])]
#[tokio::test]
async fn pods_file_namespaces_filter_like_a_cluster(
    #[case] namespaces: &[&str],
    #[case] exclude: &[&str],
    #[case] services_seen: &[(&str, usize)],
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pods.json");
    let coredns = PodBuilder::new("kube-system", "coredns-5d78c9869d-abcde")
        .deployment("coredns", "5d78c9869d");
    write_pod_list(
        &path,
        &[
            web("default", 1).build(),
            web("staging", 2).build(),
            coredns.build(),
        ],
    );
    let config = PodSourceConfig {
        namespaces: namespaces.iter().map(|ns| (*ns).to_owned()).collect(),
        exclude: exclude.iter().map(|ns| (*ns).to_owned()).collect(),
        ..PodSourceConfig::all(PodOrigin::File(path))
    };
    let (shared, _task) = synced(config).await;
    assert_eq!(services(&shared), expect(services_seen));
}

#[tokio::test]
async fn a_label_selector_with_a_pods_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pods.json");
    write_pod_list(&path, &[web("default", 1).build()]);
    let config = PodSourceConfig {
        label_selector: Some("tier=front".to_owned()),
        ..PodSourceConfig::all(PodOrigin::File(path))
    };
    let error = pods::start(config, SharedIndex::new()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "--label-selector selects pods on the API server; it does not apply to --pods-file"
    );
}
