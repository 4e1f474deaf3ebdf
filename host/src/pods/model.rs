//! The slice of a pod kube-shields keeps: what the naming rule, the health check and plugin
//! contexts read, and nothing else (no managed fields, no volumes, no env).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::wire::{PartialContainer, PartialContainerState, PartialContainerStatus, PartialPod};

/// One container of a pod: its spec entry joined with its status, if the kubelet reported one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Container name.
    pub name: String,
    /// Image from the pod spec.
    pub image: String,
    /// Ready according to the container status (false without a status).
    pub ready: bool,
    /// Restart count from the container status (0 without a status).
    pub restart_count: u32,
    /// `running`, `waiting`, `terminated` or `unknown`.
    pub state: String,
    /// Reason given for a waiting or terminated state.
    pub reason: Option<String>,
    /// When a terminated container finished.
    pub finished: Option<Timestamp>,
}

/// Who controls a pod: the `kind` and `name` of its controller owner reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Controller {
    /// Owner kind, e.g. `ReplicaSet`.
    pub kind: String,
    /// Owner name, e.g. `web-7d4b9c`.
    pub name: String,
}

/// A pod as kube-shields stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    /// Pod name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `metadata.generateName`, used for naming pods without a controller.
    pub generate_name: Option<String>,
    /// The controller owner reference, if any.
    pub controller: Option<Controller>,
    /// Pod phase (`Pending` when the status has none yet).
    pub phase: String,
    /// Primary pod IP.
    pub pod_ip: Option<String>,
    /// All pod IPs, primary first.
    pub pod_ips: Vec<String>,
    /// Node name.
    pub node_name: Option<String>,
    /// Labels, sorted by key. A list rather than a map: a map node for a pod's few labels
    /// would cost more than the rest of the pod.
    pub labels: Vec<(String, String)>,
    /// Annotations, sorted by key.
    pub annotations: Vec<(String, String)>,
    /// Creation time.
    pub created: Option<Timestamp>,
    /// Containers in spec order; their count is the pod's `total` for the health check.
    pub containers: Vec<ContainerInfo>,
}

impl PodInfo {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        value_of(&self.labels, key)
    }

    /// The value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        value_of(&self.annotations, key)
    }
}

/// The value of `key` in pairs sorted by key.
fn value_of<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let at = pairs.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
    Some(&pairs[at].1)
}

impl From<PartialPod> for PodInfo {
    /// Moves the read fields into place: no string is copied.
    fn from(pod: PartialPod) -> Self {
        let meta = pod.metadata;
        let (spec, status) = (pod.spec.unwrap_or_default(), pod.status.unwrap_or_default());
        let mut statuses = status.container_statuses.unwrap_or_default();
        let containers = spec
            .containers
            .into_iter()
            .map(|c| container_info(c, &mut statuses))
            .collect();
        let mut pod_ips: Vec<String> = status
            .pod_ips
            .unwrap_or_default()
            .into_iter()
            .map(|ip| ip.ip)
            .collect();
        if pod_ips.is_empty() {
            pod_ips.extend(status.pod_ip.clone());
        }
        PodInfo {
            name: meta.name.unwrap_or_default(),
            namespace: meta.namespace.unwrap_or_default(),
            generate_name: meta.generate_name,
            controller: meta
                .owner_references
                .unwrap_or_default()
                .into_iter()
                .find(|r| r.controller == Some(true))
                .map(|r| Controller {
                    kind: r.kind,
                    name: r.name,
                }),
            phase: status.phase.unwrap_or_else(|| "Pending".to_owned()),
            pod_ip: status.pod_ip,
            pod_ips,
            node_name: spec.node_name,
            labels: meta.labels.unwrap_or_default().into_iter().collect(),
            annotations: meta.annotations.unwrap_or_default().into_iter().collect(),
            created: meta.creation_timestamp.map(|t| t.0),
            containers,
        }
    }
}

impl From<&Pod> for PodInfo {
    fn from(pod: &Pod) -> Self {
        PartialPod::of(pod).into()
    }
}

/// A spec container joined with its status (taken out of `statuses`), if the kubelet reported one.
fn container_info(
    container: PartialContainer,
    statuses: &mut Vec<PartialContainerStatus>,
) -> ContainerInfo {
    let status = statuses
        .iter()
        .position(|s| s.name == container.name)
        .map(|at| statuses.swap_remove(at));
    let (ready, restart_count) = status.as_ref().map_or((false, 0), |s| {
        (s.ready, u32::try_from(s.restart_count).unwrap_or(0))
    });
    let (state, reason, finished) = match status.and_then(|s| s.state) {
        Some(s) if s.running.is_some() => ("running", None, None),
        Some(PartialContainerState {
            waiting: Some(w), ..
        }) => ("waiting", w.reason, None),
        Some(PartialContainerState {
            terminated: Some(t),
            ..
        }) => ("terminated", t.reason, t.finished_at),
        _ => ("unknown", None, None),
    };
    ContainerInfo {
        name: container.name,
        image: container.image.unwrap_or_default(),
        ready,
        restart_count,
        state: state.to_owned(),
        reason,
        finished,
    }
}
