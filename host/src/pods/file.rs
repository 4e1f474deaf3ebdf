//! `--pods-file`: pods from a `kubectl get pods -A -o json` dump instead of a cluster,
//! re-read when the file changes.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::index::{ServiceIndex, SharedIndex};
use super::model::PodInfo;
use super::source::PodSourceConfig;
use super::wire::PartialPod;

/// Why a pods file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PodsFileError {
    /// The file could not be read.
    #[error("cannot read pods file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a pod list.
    #[error("pods file {path} is not a pod list (kubectl get pods -A -o json): {source}")]
    Parse {
        /// The file.
        path: String,
        /// The JSON error, with line and column.
        source: serde_json::Error,
    },
    /// The file's directory cannot be watched for changes.
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        /// The directory.
        path: String,
        /// The watcher error.
        source: notify::Error,
    },
}

/// `kubectl` writes `kind: List` (not `PodList`), so only `items` is read.
#[derive(Deserialize)]
struct PodListFile<T> {
    items: Vec<T>,
}

/// Reads a pod list as `kubectl get pods -A -o json` writes it, keeping only what is served.
pub fn read_pod_list(path: &Path) -> Result<Vec<PodInfo>, PodsFileError> {
    Ok(read_items::<PartialPod>(path)?
        .into_iter()
        .map(PodInfo::from)
        .collect())
}

/// Reads a pod list file as whole Kubernetes pods (to serve them from a fake API server).
pub fn read_pod_list_raw(path: &Path) -> Result<Vec<Pod>, PodsFileError> {
    read_items(path)
}

fn read_items<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, PodsFileError> {
    let display = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PodsFileError::Read {
        path: display.clone(),
        source,
    })?;
    let list: PodListFile<T> =
        serde_json::from_slice(&bytes).map_err(|source| PodsFileError::Parse {
            path: display,
            source,
        })?;
    Ok(list.items)
}

/// Publishes the pods in `path`, then re-reads and republishes whenever the file changes.
/// The first read must succeed; later a malformed or missing file keeps the last good index
/// and logs why. The directory is watched rather than the file, so editors that replace the
/// file and ConfigMap volumes (which swap a `..data` symlink) are followed too.
pub async fn watch_pods_file(
    path: PathBuf,
    config: PodSourceConfig,
    shared: Arc<SharedIndex>,
) -> Result<JoinHandle<()>, PodsFileError> {
    let config = Arc::new(config);
    let first = read_index(path.clone(), Arc::clone(&config)).await?;
    shared.publish(first);

    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().map(OsString::from).unwrap_or_default();
    let (watcher, mut changes) =
        crate::changes::watch_dir(&directory, move |name| is_relevant(name, &file_name)).map_err(
            |source| PodsFileError::Watch {
                path: directory.display().to_string(),
                source,
            },
        )?;

    Ok(tokio::spawn(async move {
        // The watcher stops when dropped: it lives as long as this task.
        let _watcher = watcher;
        while crate::changes::next_burst(&mut changes).await {
            match read_index(path.clone(), Arc::clone(&config)).await {
                Ok(index) => {
                    tracing::info!(file = %path.display(), pods = index.pod_count(), "pods file re-read");
                    shared.publish(index);
                }
                Err(error) => tracing::warn!(%error, "keeping the last good pod list"),
            }
        }
    }))
}

/// Reads, filters by namespace and groups the file off the async workers (a large cluster
/// dump is megabytes of JSON).
async fn read_index(
    path: PathBuf,
    config: Arc<PodSourceConfig>,
) -> Result<ServiceIndex, PodsFileError> {
    tokio::task::spawn_blocking(move || {
        read_pod_list(&path).map(|pods| {
            let admitted = pods
                .into_iter()
                .filter(|pod| config.admits_namespace(&pod.namespace));
            ServiceIndex::build(admitted.map(Arc::new))
        })
    })
    .await
    .expect("reading the pods file does not panic")
}

/// The file itself, or a ConfigMap volume's hidden `..data` entries.
fn is_relevant(name: &OsStr, file_name: &OsStr) -> bool {
    name == file_name || name.to_string_lossy().starts_with("..")
}
