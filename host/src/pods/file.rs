//! `--pods-file`: pods from a `kubectl get pods -A -o json` dump instead of a cluster,
//! re-read when the file changes. The dump may hold the pods' workloads too (`kubectl get
//! pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs -A -o json`): the
//! `rollout` check then follows the kinds it lists.

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
use super::wire::{PartialPod, PartialWorkload};
use super::workload::{KindAccess, WorkloadIndex, WorkloadInfo, WorkloadKind};

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

/// One item of a dump: a pod (an item without `kind` too), a workload, or anything else.
enum FileItem {
    Pod(Box<PartialPod>),
    Workload(WorkloadKind, Box<PartialWorkload>),
    Other,
}

impl<'de> Deserialize<'de> for FileItem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        let kind = value.get("kind").and_then(serde_json::Value::as_str);
        Ok(
            match kind.map(|kind| (kind, WorkloadKind::from_name(kind))) {
                None | Some(("Pod", _)) => {
                    FileItem::Pod(serde_json::from_value(value).map_err(D::Error::custom)?)
                }
                Some((_, Some(kind))) => FileItem::Workload(
                    kind,
                    serde_json::from_value(value).map_err(D::Error::custom)?,
                ),
                Some((_, None)) => FileItem::Other,
            },
        )
    }
}

/// A dump's pods and workloads, keeping only what is served.
struct Dump {
    pods: Vec<PodInfo>,
    workloads: Vec<WorkloadInfo>,
}

/// Reads a pod list as `kubectl get pods -A -o json` writes it (with workloads, if listed).
fn read_dump(path: &Path) -> Result<Dump, PodsFileError> {
    let mut dump = Dump {
        pods: Vec::new(),
        workloads: Vec::new(),
    };
    for item in read_items::<FileItem>(path)? {
        match item {
            FileItem::Pod(pod) => dump.pods.push(PodInfo::from(*pod)),
            FileItem::Workload(kind, workload) => {
                dump.workloads.push(WorkloadInfo::read(kind, *workload));
            }
            FileItem::Other => {}
        }
    }
    Ok(dump)
}

/// Reads the pods of a pods file as whole Kubernetes pods (to serve them from a fake API
/// server); its other items are left out.
pub fn read_pod_list_raw(path: &Path) -> Result<Vec<Pod>, PodsFileError> {
    let items: Vec<serde_json::Value> = read_items(path)?;
    let pods = items.into_iter().filter(|item| {
        item.get("kind")
            .is_none_or(|kind| kind == <Pod as k8s_openapi::Resource>::KIND)
    });
    pods.map(serde_json::from_value)
        .collect::<Result<_, _>>()
        .map_err(|source| PodsFileError::Parse {
            path: path.display().to_string(),
            source,
        })
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
    publish(&shared, first);

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
                Ok(indexes) => {
                    tracing::info!(file = %path.display(), pods = indexes.0.pod_count(), workloads = indexes.1.len(), "pods file re-read");
                    publish(&shared, indexes);
                }
                Err(error) => tracing::warn!(%error, "keeping the last good pod list"),
            }
        }
    }))
}

/// Workloads first: a service's `rollout` check is offered once its pods are published.
fn publish(shared: &SharedIndex, (pods, workloads): (ServiceIndex, WorkloadIndex)) {
    shared.publish_workloads(workloads);
    shared.publish(pods);
}

/// Reads, filters by namespace and groups the file off the async workers (a large cluster
/// dump is megabytes of JSON). The kinds the file lists are followed (a workload missing from
/// them is `not found`); the others are not.
async fn read_index(
    path: PathBuf,
    config: Arc<PodSourceConfig>,
) -> Result<(ServiceIndex, WorkloadIndex), PodsFileError> {
    tokio::task::spawn_blocking(move || {
        read_dump(&path).map(|dump| {
            let pods = dump
                .pods
                .into_iter()
                .filter(|pod| config.admits_namespace(&pod.namespace));
            let workloads: Vec<Arc<WorkloadInfo>> = dump
                .workloads
                .into_iter()
                .filter(|workload| config.admits_namespace(&workload.namespace))
                .map(Arc::new)
                .collect();
            let listed = workloads
                .iter()
                .map(|workload| (workload.kind, KindAccess::Listed))
                .collect();
            (
                ServiceIndex::build(pods.map(Arc::new)),
                WorkloadIndex::build(workloads, listed),
            )
        })
    })
    .await
    .expect("reading the pods file does not panic")
}

/// The file itself, or a ConfigMap volume's hidden `..data` entries.
fn is_relevant(name: &OsStr, file_name: &OsStr) -> bool {
    name == file_name || name.to_string_lossy().starts_with("..")
}
