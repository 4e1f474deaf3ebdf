//! A kube-apiserver stand-in for tests: serves pods and the workload kinds over list+watch the
//! way kube-apiserver does, so kube's own watcher and reflector run against it unchanged.
//!
//! Routes (`GET`, every one with the same semantics; one handler and one store serve them all):
//!
//! | resource | all namespaces | one namespace |
//! |---|---|---|
//! | pods | `/api/v1/pods` | `/api/v1/namespaces/{ns}/pods` |
//! | deployments, statefulsets, daemonsets, replicasets | `/apis/apps/v1/{plural}` | `/apis/apps/v1/namespaces/{ns}/{plural}` |
//! | jobs, cronjobs | `/apis/batch/v1/{plural}` | `/apis/batch/v1/namespaces/{ns}/{plural}` |
//!
//! Anything else is `404 NotFound`.
//!
//! - Lists: paged (`limit`, `continue`), carrying `metadata.resourceVersion`, `kind`
//!   (`PodList`, `DeploymentList`, ...) and `apiVersion`; items are the stored objects (with
//!   `kind`/`apiVersion`, as k8s-openapi serializes them). `labelSelector` (equality) and
//!   `fieldSelector` (`metadata.namespace`, `metadata.name`; for pods also `status.phase`,
//!   `spec.nodeName`; for ReplicaSets `status.replicas`; for Jobs `status.successful`). With
//!   [`ListMode::Whole`] a list ignores `limit` and comes in one response, as kube-apiserver's
//!   watch cache answers a list at `resourceVersion=0`.
//! - Streaming lists ("watch-list", [`FakeApiServerBuilder::watch_list`]): a watch with
//!   `sendInitialEvents=true` first sends every current object as `ADDED`, then a `BOOKMARK`
//!   annotated `k8s.io/initial-events-end`. Without it such a watch gets `422 Invalid`, as from a
//!   kube-apiserver whose `WatchList` feature gate is off.
//! - `?watch=true`: one JSON `WatchEvent` per line (`{"type":"ADDED","object":{...}}`, the
//!   object with `kind` and `apiVersion`) over a chunked response, replaying history after
//!   `resourceVersion`, `BOOKMARK`s when `allowWatchBookmarks=true`, closing after
//!   `timeoutSeconds`; a compacted `resourceVersion` gets HTTP 200 and one `ERROR` event
//!   carrying a `410 Expired` Status.
//! - One resource version counter for every kind, as etcd's; compaction forgets the history of
//!   every kind.
//! - Optional bearer token (401), 403 per scope ([`FakeApiServerBuilder::forbid_namespace`],
//!   [`forbid_all_namespaces`](FakeApiServerBuilder::forbid_all_namespaces)) and per resource
//!   ([`forbid_resource`](FakeApiServerBuilder::forbid_resource)) with kube-apiserver's RBAC
//!   message, and TLS (with optional client certificates).
//!
//! Tests drive it through [`FakeApiServer`]: upsert and delete pods ([`FakeApiServer::upsert`])
//! or any served kind ([`FakeApiServer::upsert_object`], which stamps `metadata.generation` as
//! the API server does), compact history, drop or hold watches, take the server down. Build
//! pods with [`PodBuilder`] (fixture pod IPs are loopback only) and workloads with
//! [`DeploymentBuilder`], [`StatefulSetBuilder`], [`DaemonSetBuilder`], [`ReplicaSetBuilder`],
//! [`JobBuilder`] and [`CronJobBuilder`], whose statuses are shaped as their controllers write
//! them. Mount ConfigMaps the kubelet's way with [`ConfigMapVolume`].
#![deny(missing_docs)]

mod configmap_volume;
mod http;
mod pod_builder;
mod resource;
mod selector;
mod store;
mod tls;
mod workload_builder;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

pub use configmap_volume::ConfigMapVolume;
pub use pod_builder::{DEFAULT_CREATED, PodBuilder, loopback_ip};
pub use tls::{SERVER_NAMES, TlsMaterial};
pub use workload_builder::{
    CronJobBuilder, DaemonSetBuilder, DeploymentBuilder, JobBuilder, ReplicaSetBuilder,
    StatefulSetBuilder,
};

use resource::{RESOURCES, ResourceType};
use store::{Change, Store};

/// Where a request looks: every namespace, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    AllNamespaces,
    Namespace(String),
}

/// How the server answers a list's `limit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListMode {
    /// Pages of at most `limit` objects, with a `continue` token (etcd's way).
    #[default]
    Paged,
    /// The whole list in one response, `limit` ignored (the watch cache's way at
    /// `resourceVersion=0`).
    Whole,
}

#[derive(Debug)]
struct Settings {
    token: Option<String>,
    forbidden: Vec<Scope>,
    /// Resource plurals answered 403 at every scope.
    forbidden_resources: Vec<String>,
    bookmark_interval: Duration,
    list_mode: ListMode,
    watch_list: bool,
}

/// Requests of one resource type.
#[derive(Debug, Default)]
struct Counters {
    lists: AtomicUsize,
    watches: AtomicUsize,
    watch_lists: AtomicUsize,
    expired: AtomicUsize,
}

/// State shared by the handle and the request handlers.
#[derive(Debug)]
struct Shared {
    settings: Settings,
    store: Mutex<Store>,
    /// Every change, to the open watches.
    changes: broadcast::Sender<Arc<Change>>,
    /// Bumped by `drop_watches`: open watches end.
    drops: watch::Sender<u64>,
    /// While true, new watch requests wait.
    held: watch::Sender<bool>,
    /// By resource plural.
    counters: HashMap<&'static str, Counters>,
}

impl Shared {
    fn counters_of(&self, resource: &ResourceType) -> &Counters {
        &self.counters[resource.plural]
    }
}

/// Configures a [`FakeApiServer`] before it starts.
#[derive(Debug)]
pub struct FakeApiServerBuilder {
    token: Option<String>,
    forbidden: Vec<Scope>,
    forbidden_resources: Vec<String>,
    bookmark_interval: Duration,
    list_mode: ListMode,
    watch_list: bool,
    tls: bool,
    require_client_cert: bool,
}

impl FakeApiServerBuilder {
    /// How lists answer `limit` (default [`ListMode::Paged`]).
    pub fn list_mode(mut self, mode: ListMode) -> Self {
        self.list_mode = mode;
        self
    }

    /// Offers streaming lists: watches with `sendInitialEvents=true` (default: refused with
    /// `422 Invalid`, as with the `WatchList` feature gate off).
    pub fn watch_list(mut self, offered: bool) -> Self {
        self.watch_list = offered;
        self
    }

    /// Requires `Authorization: Bearer <token>`; anything else gets 401.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Answers 403 to list and watch of every resource in `namespace`, as RBAC does without a
    /// Role there.
    pub fn forbid_namespace(mut self, namespace: &str) -> Self {
        self.forbidden.push(Scope::Namespace(namespace.to_owned()));
        self
    }

    /// Answers 403 to cluster-wide list and watch of every resource, as RBAC does without a
    /// ClusterRole.
    pub fn forbid_all_namespaces(mut self) -> Self {
        self.forbidden.push(Scope::AllNamespaces);
        self
    }

    /// Answers 403 to list and watch of resource `plural` (`"deployments"`, `"pods"`, ...) at
    /// every scope, as RBAC does when no Role or ClusterRole grants it.
    ///
    /// # Panics
    /// When `plural` is not a served resource (a typo would otherwise forbid nothing).
    pub fn forbid_resource(mut self, plural: &str) -> Self {
        assert!(
            ResourceType::by_plural(plural).is_some(),
            "fake-apiserver does not serve {plural:?}; it serves {}",
            resource::served()
        );
        self.forbidden_resources.push(plural.to_owned());
        self
    }

    /// How often watches that asked for bookmarks get one (default 1 s).
    pub fn bookmark_interval(mut self, interval: Duration) -> Self {
        self.bookmark_interval = interval;
        self
    }

    /// Serves HTTPS with a certificate for [`SERVER_NAMES`], signed by a fresh CA
    /// (see [`FakeApiServer::tls_material`]).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Serves HTTPS and refuses clients without a certificate signed by the same CA.
    pub fn require_client_cert(mut self) -> Self {
        self.tls = true;
        self.require_client_cert = true;
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    ///
    /// # Panics
    /// When the port cannot be bound (this is test support).
    pub async fn start(self) -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let (acceptor, tls) = match self.tls {
            true => {
                let (acceptor, material) = tls::acceptor(self.require_client_cert);
                (Some(acceptor), Some(material))
            }
            false => (None, None),
        };
        let shared = Arc::new(Shared {
            settings: Settings {
                token: self.token,
                forbidden: self.forbidden,
                forbidden_resources: self.forbidden_resources,
                bookmark_interval: self.bookmark_interval,
                list_mode: self.list_mode,
                watch_list: self.watch_list,
            },
            store: Mutex::new(Store::new()),
            changes: broadcast::channel(16 * 1024).0,
            drops: watch::channel(0).0,
            held: watch::channel(false).0,
            counters: RESOURCES
                .iter()
                .map(|r| (r.plural, Counters::default()))
                .collect(),
        });
        let router = http::router(Arc::clone(&shared));
        let task = tokio::spawn(accept_loop(listener, router.clone(), acceptor.clone()));
        FakeApiServer {
            shared,
            addr,
            tls,
            router,
            acceptor,
            task: Mutex::new(Some(task)),
        }
    }
}

/// A running fake API server; dropping it stops it and closes its connections.
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Option<TlsMaterial>,
    router: axum::Router,
    acceptor: Option<TlsAcceptor>,
    /// The accept loop; `None` while the server is down.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl FakeApiServer {
    /// A server to configure: token, 403 scopes and resources, bookmarks, list mode,
    /// watch-list, TLS.
    pub fn builder() -> FakeApiServerBuilder {
        FakeApiServerBuilder {
            token: None,
            forbidden: Vec::new(),
            forbidden_resources: Vec::new(),
            bookmark_interval: Duration::from_secs(1),
            list_mode: ListMode::Paged,
            watch_list: false,
            tls: false,
            require_client_cert: false,
        }
    }

    /// A plain-HTTP server without authentication, like `kubectl proxy`.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (`https` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The CA and client identity, when serving TLS.
    pub fn tls_material(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    /// Creates or replaces a pod (keyed by namespace and name) and tells the watches;
    /// returns its new resource version.
    pub fn upsert(&self, pod: Pod) -> u64 {
        self.upsert_object(pod)
    }

    /// Deletes a pod and tells the watches; false when there was no such pod.
    pub fn delete(&self, namespace: &str, name: &str) -> bool {
        self.delete_object::<Pod>(namespace, name)
    }

    /// Creates or replaces an object of any served kind (pods, Deployments, StatefulSets,
    /// DaemonSets, ReplicaSets, Jobs, CronJobs; keyed by kind, namespace and name) and tells
    /// the watches; returns its new resource version, from the one counter all kinds share.
    ///
    /// Stamps what kube-apiserver stamps: `resourceVersion`, a `uid` when it has none (a
    /// replaced object keeps its stored one) and, for the workload kinds,
    /// `metadata.generation`: a new object keeps the generation it carries (1 if none); a
    /// replaced one gets the stored generation, plus one when its `spec` changed or its
    /// `metadata.deletionTimestamp` was just set, whatever generation it carries. A
    /// status-only change keeps the generation, so an object's `status.observedGeneration`
    /// says whether "the controller" has seen its latest spec. Pods are stored without a
    /// generation, as before.
    ///
    /// # Panics
    /// When `K` is not a served kind or does not serialize to a JSON object (test support).
    pub fn upsert_object<K>(&self, object: K) -> u64
    where
        K: k8s_openapi::Resource + serde::Serialize,
    {
        let resource = ResourceType::of::<K>();
        let object = serde_json::to_value(object).expect("object serializes to JSON");
        let mut store = self.shared.store.lock().expect("store lock");
        let change = store.upsert(resource, object);
        let resource_version = change.resource_version;
        // No open watch is not an error.
        let _ = self.shared.changes.send(change);
        resource_version
    }

    /// Deletes an object of kind `K` and tells the watches; false when there was none.
    ///
    /// # Panics
    /// When `K` is not a served kind.
    pub fn delete_object<K: k8s_openapi::Resource>(&self, namespace: &str, name: &str) -> bool {
        let resource = ResourceType::of::<K>();
        let mut store = self.shared.store.lock().expect("store lock");
        let Some(change) = store.delete(resource, namespace, name) else {
            return false;
        };
        let _ = self.shared.changes.send(change);
        true
    }

    /// The stored object of kind `K`, as the server would serve it (resource version, uid
    /// and generation stamped); `None` when there is none.
    ///
    /// # Panics
    /// When `K` is not a served kind, or the stored JSON does not deserialize as `K`.
    pub fn object<K>(&self, namespace: &str, name: &str) -> Option<K>
    where
        K: k8s_openapi::Resource + serde::de::DeserializeOwned,
    {
        let resource = ResourceType::of::<K>();
        let store = self.shared.store.lock().expect("store lock");
        let object = store.get(resource, namespace, name)?.clone();
        drop(store);
        Some(serde_json::from_value(object).expect("stored object deserializes"))
    }

    /// Forgets the change history (of every kind): a watch resuming from an older resource
    /// version gets `410 Expired` and has to list again.
    pub fn compact(&self) {
        self.shared.store.lock().expect("store lock").compact();
    }

    /// Ends every open watch response (cleanly, as a server-side timeout would).
    pub fn drop_watches(&self) {
        self.shared.drops.send_modify(|generation| *generation += 1);
    }

    /// Makes new watch requests (of every kind) wait until
    /// [`release_watches`](Self::release_watches), so a test can change objects while no
    /// watch is open.
    pub fn hold_watches(&self) {
        self.shared.held.send_replace(true);
    }

    /// Lets held and new watch requests through.
    pub fn release_watches(&self) {
        self.shared.held.send_replace(false);
    }

    /// The latest resource version (one counter for every kind, as etcd's).
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .expect("store lock")
            .resource_version()
    }

    /// Pod list requests served so far (pages count one each). Pods only; see
    /// [`requests`](Self::requests) for other resources.
    pub fn list_requests(&self) -> usize {
        self.requests("pods").lists
    }

    /// Pod streaming lists (watches with `sendInitialEvents=true`) answered so far.
    pub fn watch_list_requests(&self) -> usize {
        self.requests("pods").watch_lists
    }

    /// Pod watch requests received so far.
    pub fn watch_requests(&self) -> usize {
        self.requests("pods").watches
    }

    /// Pod watches answered with `410 Expired` so far.
    pub fn expired_watches(&self) -> usize {
        self.requests("pods").expired
    }

    /// The requests of resource `plural` (`"pods"`, `"deployments"`, ...) so far; refused
    /// requests (401, 403, 400) are not counted, 422-refused streaming lists count as watches.
    ///
    /// # Panics
    /// When `plural` is not a served resource.
    pub fn requests(&self, plural: &str) -> RequestCounts {
        let resource = ResourceType::by_plural(plural).unwrap_or_else(|| {
            panic!(
                "fake-apiserver does not serve {plural:?}; it serves {}",
                resource::served()
            )
        });
        let counters = self.shared.counters_of(resource);
        RequestCounts {
            lists: counters.lists.load(Ordering::Relaxed),
            watches: counters.watches.load(Ordering::Relaxed),
            watch_lists: counters.watch_lists.load(Ordering::Relaxed),
            expired: counters.expired.load(Ordering::Relaxed),
        }
    }
}

/// Requests of one resource type served so far (see [`FakeApiServer::requests`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// List requests (pages count one each).
    pub lists: usize,
    /// Watch requests, streaming lists included.
    pub watches: usize,
    /// Streaming lists (watches with `sendInitialEvents=true`) answered.
    pub watch_lists: usize,
    /// Watches answered with `410 Expired`.
    pub expired: usize,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Stops answering, as a crashed or unreachable API server: open connections close and
    /// new ones are refused. The objects and their history are kept for [`come_back`](Self::come_back).
    pub fn go_down(&self) {
        if let Some(task) = self.task.lock().expect("task lock").take() {
            task.abort();
        }
    }

    /// Serves again on the same address, with the objects as they were.
    ///
    /// # Panics
    /// When the address cannot be bound again (this is test support).
    pub fn come_back(&self) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("bind the same address again");
        let listener = socket.listen(1024).expect("listen");
        let task = tokio::spawn(accept_loop(
            listener,
            self.router.clone(),
            self.acceptor.clone(),
        ));
        if let Some(old) = self.task.lock().expect("task lock").replace(task) {
            old.abort();
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.drop_watches();
        self.go_down();
    }
}

/// Accepts connections until aborted; aborting drops the `JoinSet`, closing every connection.
async fn accept_loop(listener: TcpListener, router: axum::Router, tls: Option<TlsAcceptor>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let router = router.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                Some(tls) => match tls.accept(tcp).await {
                    Ok(stream) => serve_connection(stream, router).await,
                    Err(error) => tracing::debug!(%error, "TLS handshake failed"),
                },
                None => serve_connection(tcp, router).await,
            }
        });
    }
}

async fn serve_connection<S>(stream: S, router: axum::Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    if let Err(error) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(%error, "connection ended with an error");
    }
}
