//! The slice of a pod kube-shields keeps: what the naming rule, the health check and plugin
//! contexts read, and nothing else (no managed fields, no volumes, no env).

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

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
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Creation time.
    pub created: Option<Timestamp>,
    /// Containers in spec order; their count is the pod's `total` for the health check.
    pub containers: Vec<ContainerInfo>,
}

impl From<&Pod> for PodInfo {
    fn from(pod: &Pod) -> Self {
        let meta = &pod.metadata;
        let status = pod.status.as_ref();
        let statuses: &[ContainerStatus] = status
            .and_then(|s| s.container_statuses.as_deref())
            .unwrap_or_default();
        let containers = pod
            .spec
            .as_ref()
            .map(|spec| {
                spec.containers
                    .iter()
                    .map(|c| container_info(&c.name, c.image.as_deref(), statuses))
                    .collect()
            })
            .unwrap_or_default();
        let pod_ip = status.and_then(|s| s.pod_ip.clone());
        let mut pod_ips: Vec<String> = status
            .and_then(|s| s.pod_ips.as_ref())
            .map(|ips| ips.iter().map(|ip| ip.ip.clone()).collect())
            .unwrap_or_default();
        if pod_ips.is_empty() {
            pod_ips.extend(pod_ip.clone());
        }
        PodInfo {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().unwrap_or_default(),
            generate_name: meta.generate_name.clone(),
            controller: meta
                .owner_references
                .as_ref()
                .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
                .map(|r| Controller {
                    kind: r.kind.clone(),
                    name: r.name.clone(),
                }),
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".to_owned()),
            pod_ip,
            pod_ips,
            node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            created: meta.creation_timestamp.as_ref().map(|t| t.0),
            containers,
        }
    }
}

fn container_info(name: &str, image: Option<&str>, statuses: &[ContainerStatus]) -> ContainerInfo {
    let status = statuses.iter().find(|s| s.name == name);
    let state = status.and_then(|s| s.state.as_ref());
    let (state, reason) = match state {
        Some(s) if s.running.is_some() => ("running", None),
        Some(s) if s.waiting.is_some() => {
            ("waiting", s.waiting.as_ref().and_then(|w| w.reason.clone()))
        }
        Some(s) if s.terminated.is_some() => (
            "terminated",
            s.terminated.as_ref().and_then(|t| t.reason.clone()),
        ),
        _ => ("unknown", None),
    };
    ContainerInfo {
        name: name.to_owned(),
        image: image.unwrap_or_default().to_owned(),
        ready: status.is_some_and(|s| s.ready),
        restart_count: status.map_or(0, |s| u32::try_from(s.restart_count).unwrap_or(0)),
        state: state.to_owned(),
        reason,
    }
}
