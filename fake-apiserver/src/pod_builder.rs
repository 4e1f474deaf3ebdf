//! Test fixtures: pods as a controller would create them, with loopback pod IPs only.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Pod,
    PodIP, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

/// The creation time every built pod has unless [`PodBuilder::created`] says otherwise.
pub const DEFAULT_CREATED: &str = "2025-01-01T00:00:00Z";

/// The `n`-th address of 127.0.0.0/8 (skipping 127.0.0.0), for fixtures that need many pod IPs.
pub fn loopback_ip(n: u32) -> Ipv4Addr {
    let [_, b, c, d] = (n % 0x00ff_ffff + 1).to_be_bytes();
    Ipv4Addr::new(127, b, c, d)
}

/// One container: its name, readiness and restart count.
#[derive(Debug, Clone)]
struct ContainerFixture {
    name: String,
    ready: bool,
    restarts: u32,
}

/// Builds a [`Pod`] the way the kubelet reports it: by default `Running` in namespace
/// `default`, one ready container `app` without restarts, pod IP 127.0.0.1, created at
/// [`DEFAULT_CREATED`].
#[derive(Debug, Clone)]
pub struct PodBuilder {
    namespace: String,
    name: String,
    generate_name: Option<String>,
    controller: Option<(String, String)>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    phase: String,
    container_statuses: bool,
    containers: Vec<ContainerFixture>,
    ip: Option<Ipv4Addr>,
    node: Option<String>,
    image: Option<String>,
    created: Timestamp,
}

impl PodBuilder {
    /// A running bare pod (no controller, no `generateName`).
    pub fn new(namespace: &str, name: &str) -> Self {
        PodBuilder {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            generate_name: None,
            controller: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            phase: "Running".to_owned(),
            container_statuses: true,
            containers: vec![ContainerFixture {
                name: "app".to_owned(),
                ready: true,
                restarts: 0,
            }],
            ip: Some(Ipv4Addr::LOCALHOST),
            node: Some("node-1".to_owned()),
            image: None,
            created: DEFAULT_CREATED.parse().expect("valid timestamp"),
        }
    }

    /// A pod of Deployment `deployment`: owned by ReplicaSet `<deployment>-<hash>`, labelled
    /// `pod-template-hash=<hash>`, with `generateName` `<deployment>-<hash>-`.
    pub fn deployment(self, deployment: &str, hash: &str) -> Self {
        let replica_set = format!("{deployment}-{hash}");
        self.controller("ReplicaSet", &replica_set)
            .label("pod-template-hash", hash)
    }

    /// Owned by controller `kind`/`name` (DaemonSet, StatefulSet, Job, ...), with the
    /// `generateName` `<name>-` a controller gives its pods.
    pub fn controller(mut self, kind: &str, name: &str) -> Self {
        self.controller = Some((kind.to_owned(), name.to_owned()));
        self.generate_name = Some(format!("{name}-"));
        self
    }

    /// Clears `metadata.generateName` (StatefulSet pods have none).
    pub(crate) fn without_generate_name(mut self) -> Self {
        self.generate_name = None;
        self
    }

    /// Sets `metadata.generateName`.
    pub fn generate_name(mut self, prefix: &str) -> Self {
        self.generate_name = Some(prefix.to_owned());
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets `status.phase` (`Running`, `Succeeded`, ...).
    pub fn phase(mut self, phase: &str) -> Self {
        self.phase = phase.to_owned();
        self
    }

    /// A pod just scheduled: `Pending`, no container statuses and no IP yet.
    pub fn pending_without_statuses(mut self) -> Self {
        self.phase = "Pending".to_owned();
        self.container_statuses = false;
        self.ip = None;
        self
    }

    /// Replaces the containers with `(name, ready, restarts)` entries.
    pub fn containers(mut self, containers: &[(&str, bool, u32)]) -> Self {
        self.containers = containers
            .iter()
            .map(|&(name, ready, restarts)| ContainerFixture {
                name: name.to_owned(),
                ready,
                restarts,
            })
            .collect();
        self
    }

    /// Sets the restart count of the first container.
    pub fn restarts(mut self, restarts: u32) -> Self {
        if let Some(first) = self.containers.first_mut() {
            first.restarts = restarts;
        }
        self
    }

    /// Sets the pod IP.
    ///
    /// # Panics
    /// When `ip` is not in 127.0.0.0/8: fixtures never point at real networks.
    pub fn ip(mut self, ip: Ipv4Addr) -> Self {
        assert!(
            ip.is_loopback(),
            "fixture pod IPs must be loopback addresses, got {ip}"
        );
        self.ip = Some(ip);
        self
    }

    /// Sets `spec.nodeName`.
    pub fn node(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    /// Sets the image of every container (default `registry.example/<container>:1.0`).
    pub fn image(mut self, image: &str) -> Self {
        self.image = Some(image.to_owned());
        self
    }

    /// Sets `metadata.creationTimestamp`.
    pub fn created(mut self, created: Timestamp) -> Self {
        self.created = created;
        self
    }

    fn image_of(&self, container: &ContainerFixture) -> String {
        self.image
            .clone()
            .unwrap_or_else(|| format!("registry.example/{}:1.0", container.name))
    }

    /// The pod.
    pub fn build(&self) -> Pod {
        let owner_references = self.controller.as_ref().map(|(kind, name)| {
            vec![OwnerReference {
                api_version: owner_api_version(kind).to_owned(),
                kind: kind.clone(),
                name: name.clone(),
                uid: format!("uid-{}-{name}", kind.to_lowercase()),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]
        });
        let containers = self
            .containers
            .iter()
            .map(|c| Container {
                name: c.name.clone(),
                image: Some(self.image_of(c)),
                ..Container::default()
            })
            .collect();
        let container_statuses = self.container_statuses.then(|| {
            self.containers
                .iter()
                .map(|c| container_status(c, self.image_of(c), &self.phase))
                .collect()
        });
        let ip = self.ip.map(|ip| ip.to_string());
        Pod {
            metadata: ObjectMeta {
                namespace: Some(self.namespace.clone()),
                name: Some(self.name.clone()),
                generate_name: self.generate_name.clone(),
                owner_references,
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
                creation_timestamp: Some(Time(self.created)),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                containers,
                node_name: self.node.clone(),
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(self.phase.clone()),
                pod_ip: ip.clone(),
                pod_ips: ip.map(|ip| vec![PodIP { ip }]),
                container_statuses,
                ..PodStatus::default()
            }),
        }
    }
}

fn owner_api_version(kind: &str) -> &'static str {
    match kind {
        "Job" | "CronJob" => "batch/v1",
        "ReplicationController" => "v1",
        _ => "apps/v1",
    }
}

fn container_status(container: &ContainerFixture, image: String, phase: &str) -> ContainerStatus {
    let state = if container.ready || phase != "Running" {
        ContainerState {
            running: Some(ContainerStateRunning::default()),
            ..ContainerState::default()
        }
    } else {
        ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some("CrashLoopBackOff".to_owned()),
                ..ContainerStateWaiting::default()
            }),
            ..ContainerState::default()
        }
    };
    ContainerStatus {
        name: container.name.clone(),
        image,
        image_id: String::new(),
        ready: container.ready,
        restart_count: i32::try_from(container.restarts).unwrap_or(i32::MAX),
        started: Some(container.ready),
        state: Some(state),
        ..ContainerStatus::default()
    }
}
