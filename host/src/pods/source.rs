//! Choosing and starting the pod source: a cluster (kube watcher) or a pods file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::connection::{ConnectionError, KubeConnection};
use super::file::{PodsFileError, watch_pods_file};
use super::index::SharedIndex;

/// Where pods come from.
#[derive(Debug, Clone)]
pub enum PodOrigin {
    /// `--pods-file FILE`: a `kubectl get pods -A -o json` dump, re-read when it changes.
    File(PathBuf),
    /// A cluster, through its API server (`--kube-*` flags).
    Kube(KubeConnection),
    /// No pods at all (`kube-shields check` without `--pods`).
    Empty,
}

/// Which pods to serve, and from where. The namespace settings apply to both origins.
#[derive(Debug, Clone)]
pub struct PodSourceConfig {
    /// Where pods come from.
    pub origin: PodOrigin,
    /// `--namespace` (repeatable) / `WATCH_NAMESPACE`: only these; empty means all.
    pub namespaces: Vec<String>,
    /// `--exclude-namespace`: left out when watching all namespaces (default `kube-system`);
    /// ignored when `namespaces` is given.
    pub exclude: Vec<String>,
    /// `--label-selector`: only pods matching it (cluster only).
    pub label_selector: Option<String>,
    /// `--watch-timeout`: how long one watch request lasts before the API server ends it (and
    /// the watcher opens the next). It bounds silence too: a scope the API server has not
    /// answered for longer (plus a margin) is failing, so a hung API server turns badges stale.
    pub watch_timeout: Duration,
    /// How long a failed watch waits before it tries again (cluster only). No flag sets it:
    /// the default is kube's; tests shorten it so that recovery takes milliseconds.
    pub backoff: WatchBackoff,
}

/// The default `--watch-timeout`.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(60);

/// The waits of a failing watch (pods and workloads alike) between its attempts: `initial`
/// after the first failure, then doubling up to `max`, each plus up to as much again at random
/// so that many watchers do not retry in step. A watch that works again (or one that has not
/// failed for two minutes) starts again from `initial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchBackoff {
    /// The first wait (before jitter).
    pub initial: Duration,
    /// The longest wait (before jitter).
    pub max: Duration,
}

impl Default for WatchBackoff {
    /// kube's `DefaultBackoff` (client-go's numbers): 800 ms, doubling up to 30 s.
    fn default() -> Self {
        WatchBackoff {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
        }
    }
}

impl PodSourceConfig {
    /// All namespaces of `origin`, no exclusions, no selector.
    pub fn all(origin: PodOrigin) -> Self {
        PodSourceConfig {
            origin,
            namespaces: Vec::new(),
            exclude: Vec::new(),
            label_selector: None,
            watch_timeout: DEFAULT_WATCH_TIMEOUT,
            backoff: WatchBackoff::default(),
        }
    }

    /// Whether a pod of this namespace is served.
    pub fn admits_namespace(&self, namespace: &str) -> bool {
        if self.namespaces.is_empty() {
            !self.exclude.iter().any(|excluded| excluded == namespace)
        } else {
            self.namespaces.iter().any(|watched| watched == namespace)
        }
    }
}

/// Why the pod source could not start.
#[derive(Debug, thiserror::Error)]
pub enum PodsError {
    /// The cluster could not be used (see the cause).
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The pods file could not be used.
    #[error(transparent)]
    File(#[from] PodsFileError),
    /// `--label-selector` was given with `--pods-file`.
    #[error("--label-selector selects pods on the API server; it does not apply to --pods-file")]
    SelectorWithFile,
}

/// Starts the pod source, publishing into `shared`. Returns once the source is usable (the
/// file read, or the API server probed); the returned task keeps the index current until
/// aborted. A pods file is published before this returns; a cluster's pods once listed
/// ([`SharedIndex::is_synced`]).
pub async fn start(
    config: PodSourceConfig,
    shared: Arc<SharedIndex>,
) -> Result<JoinHandle<()>, PodsError> {
    Ok(match &config.origin {
        PodOrigin::File(_) if config.label_selector.is_some() => {
            return Err(PodsError::SelectorWithFile);
        }
        PodOrigin::File(path) => watch_pods_file(path.clone(), config, shared).await?,
        PodOrigin::Empty => {
            shared.publish(super::index::ServiceIndex::default());
            tokio::spawn(async {})
        }
        PodOrigin::Kube(connection) => {
            super::kube::start(
                connection,
                &config.namespaces,
                &config.exclude,
                config.label_selector.as_deref(),
                config.watch_timeout,
                config.backoff,
                shared,
            )
            .await?
        }
    })
}
