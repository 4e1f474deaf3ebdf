//! Choosing and starting the pod source: a cluster (kube watcher) or a pods file.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::connection::{ConnectionError, KubeConnection};
use super::file::{PodsFileError, watch_pods_file};
use super::index::SharedIndex;

/// Where pods come from.
#[derive(Debug, Clone)]
pub enum PodSourceConfig {
    /// `--pods-file FILE`: a `kubectl get pods -A -o json` dump, re-read when it changes.
    File(PathBuf),
    /// A cluster, through its API server.
    Kube {
        /// How to connect (`--kube-*` flags).
        connection: KubeConnection,
        /// `--namespace` (repeatable) / `WATCH_NAMESPACE`: watch only these; empty means all.
        namespaces: Vec<String>,
        /// `--exclude-namespace`: left out when watching all namespaces (default
        /// `kube-system`); ignored when `namespaces` is given.
        exclude: Vec<String>,
        /// `--label-selector`: only pods matching it.
        label_selector: Option<String>,
    },
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
}

/// Starts the pod source, publishing into `shared`. Returns once the source is usable (the
/// file read, or the API server probed); the returned task keeps the index current until
/// aborted. A pods file is published before this returns; a cluster's pods once listed
/// ([`SharedIndex::is_synced`]).
pub async fn start(config: PodSourceConfig, shared: Arc<SharedIndex>) -> Result<JoinHandle<()>, PodsError> {
    Ok(match config {
        PodSourceConfig::File(path) => watch_pods_file(path, shared).await?,
        PodSourceConfig::Kube { connection, namespaces, exclude, label_selector } => {
            super::kube::start(&connection, &namespaces, &exclude, label_selector.as_deref(), shared).await?
        }
    })
}
