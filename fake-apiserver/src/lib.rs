//! A kube-apiserver stand-in for tests: serves pods over list+watch the way kube-apiserver
//! does, so kube's own watcher and reflector run against it unchanged.
//!
//! - `GET /api/v1/pods` and `/api/v1/namespaces/{ns}/pods`: paged lists (`limit`, `continue`)
//!   carrying `metadata.resourceVersion`; `labelSelector` (equality) and `fieldSelector`
//!   (`metadata.namespace`, `metadata.name`, `status.phase`, `spec.nodeName`).
//! - `?watch=true`: one JSON `WatchEvent` per line over a chunked response, replaying history
//!   after `resourceVersion`, `BOOKMARK`s when `allowWatchBookmarks=true`, closing after
//!   `timeoutSeconds`; a compacted `resourceVersion` gets HTTP 200 and one `ERROR` event
//!   carrying a `410 Expired` Status.
//! - Optional bearer token (401), per-scope 403 and TLS (with optional client certificates).
//!
//! Tests drive it through [`FakeApiServer`]: upsert and delete pods, compact history, drop or
//! hold watches. Build pods with [`PodBuilder`]; fixture pod IPs are loopback only. Mount
//! ConfigMaps the kubelet's way with [`ConfigMapVolume`].
#![deny(missing_docs)]

mod configmap_volume;
mod http;
mod pod_builder;
mod selector;
mod store;
mod tls;

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

use store::{Change, Store};

/// Where a request looks: every namespace, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    AllNamespaces,
    Namespace(String),
}

#[derive(Debug)]
struct Settings {
    token: Option<String>,
    forbidden: Vec<Scope>,
    bookmark_interval: Duration,
}

#[derive(Debug, Default)]
struct Counters {
    lists: AtomicUsize,
    watches: AtomicUsize,
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
    counters: Counters,
}

/// Configures a [`FakeApiServer`] before it starts.
#[derive(Debug)]
pub struct FakeApiServerBuilder {
    token: Option<String>,
    forbidden: Vec<Scope>,
    bookmark_interval: Duration,
    tls: bool,
    require_client_cert: bool,
}

impl FakeApiServerBuilder {
    /// Requires `Authorization: Bearer <token>`; anything else gets 401.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    /// Answers 403 to list and watch in `namespace`, as RBAC does without a Role there.
    pub fn forbid_namespace(mut self, namespace: &str) -> Self {
        self.forbidden.push(Scope::Namespace(namespace.to_owned()));
        self
    }

    /// Answers 403 to cluster-wide list and watch, as RBAC does without a ClusterRole.
    pub fn forbid_all_namespaces(mut self) -> Self {
        self.forbidden.push(Scope::AllNamespaces);
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
                bookmark_interval: self.bookmark_interval,
            },
            store: Mutex::new(Store::new()),
            changes: broadcast::channel(16 * 1024).0,
            drops: watch::channel(0).0,
            held: watch::channel(false).0,
            counters: Counters::default(),
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
    /// A server to configure: token, 403 scopes, bookmarks, TLS.
    pub fn builder() -> FakeApiServerBuilder {
        FakeApiServerBuilder {
            token: None,
            forbidden: Vec::new(),
            bookmark_interval: Duration::from_secs(1),
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
        let mut store = self.shared.store.lock().expect("store lock");
        let change = store.upsert(pod);
        let resource_version = change.resource_version;
        // No open watch is not an error.
        let _ = self.shared.changes.send(change);
        resource_version
    }

    /// Deletes a pod and tells the watches; false when there was no such pod.
    pub fn delete(&self, namespace: &str, name: &str) -> bool {
        let mut store = self.shared.store.lock().expect("store lock");
        let Some(change) = store.delete(namespace, name) else {
            return false;
        };
        let _ = self.shared.changes.send(change);
        true
    }

    /// Forgets the change history: a watch resuming from an older resource version gets
    /// `410 Expired` and has to list again.
    pub fn compact(&self) {
        self.shared.store.lock().expect("store lock").compact();
    }

    /// Ends every open watch response (cleanly, as a server-side timeout would).
    pub fn drop_watches(&self) {
        self.shared.drops.send_modify(|generation| *generation += 1);
    }

    /// Makes new watch requests wait until [`release_watches`](Self::release_watches), so a
    /// test can change pods while no watch is open.
    pub fn hold_watches(&self) {
        self.shared.held.send_replace(true);
    }

    /// Lets held and new watch requests through.
    pub fn release_watches(&self) {
        self.shared.held.send_replace(false);
    }

    /// The latest resource version.
    pub fn resource_version(&self) -> u64 {
        self.shared
            .store
            .lock()
            .expect("store lock")
            .resource_version()
    }

    /// Pod list requests served so far (pages count one each).
    pub fn list_requests(&self) -> usize {
        self.shared.counters.lists.load(Ordering::Relaxed)
    }

    /// Pod watch requests received so far.
    pub fn watch_requests(&self) -> usize {
        self.shared.counters.watches.load(Ordering::Relaxed)
    }

    /// Watches answered with `410 Expired` so far.
    pub fn expired_watches(&self) -> usize {
        self.shared.counters.expired.load(Ordering::Relaxed)
    }
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
    /// new ones are refused. The pods and their history are kept for [`come_back`](Self::come_back).
    pub fn go_down(&self) {
        if let Some(task) = self.task.lock().expect("task lock").take() {
            task.abort();
        }
    }

    /// Serves again on the same address, with the pods as they were.
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
