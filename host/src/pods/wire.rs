//! A pod as read from the API server: only the fields [`PodInfo`](super::model::PodInfo) is made
//! from. Everything else in the JSON (managed fields, the rest of the spec, volumes, env,
//! conditions) is skipped while parsing and never allocated, so a list of 100,000 pods costs
//! little more than what is kept of it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::workload::WorkloadKind;

/// The parts of a pod kube-shields reads; used with kube's `Api` and watcher in place of
/// [`Pod`], under the same API path.
///
/// It writes back as compact JSON that reads as the same partial pod
/// ([`repage`](super::repage) holds pods so).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PartialPod {
    /// Name, namespace, resource version, `generateName`, owners, labels, annotations and
    /// creation time; nothing else of the metadata is read.
    #[serde(default, deserialize_with = "partial_meta")]
    pub metadata: ObjectMeta,
    /// Containers and node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<PartialSpec>,
    /// Phase, IPs and container statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PartialStatus>,
}

/// The metadata fields read; the watcher needs `resourceVersion`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartialMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    generate_name: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
}

fn partial_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = PartialMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        resource_version: meta.resource_version,
        generate_name: meta.generate_name,
        owner_references: meta.owner_references,
        labels: meta.labels,
        annotations: meta.annotations,
        creation_timestamp: meta.creation_timestamp,
        ..ObjectMeta::default()
    })
}

/// `spec`: containers and node.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialSpec {
    /// Containers in spec order.
    #[serde(default)]
    pub containers: Vec<PartialContainer>,
    /// The node the pod is scheduled on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

/// A container of the spec: name and image.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PartialContainer {
    /// Container name.
    pub name: String,
    /// Image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// `status`: phase, IPs and container statuses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialStatus {
    /// Pod phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Primary pod IP.
    #[serde(rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    /// All pod IPs.
    #[serde(rename = "podIPs", skip_serializing_if = "Option::is_none")]
    pub pod_ips: Option<Vec<PartialPodIp>>,
    /// Container statuses as the kubelet reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_statuses: Option<Vec<PartialContainerStatus>>,
}

/// One entry of `status.podIPs`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PartialPodIp {
    /// The address.
    pub ip: String,
}

/// One container status: readiness, restarts and state.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialContainerStatus {
    /// Container name.
    pub name: String,
    /// Ready.
    #[serde(default)]
    pub ready: bool,
    /// Restart count.
    #[serde(default)]
    pub restart_count: i32,
    /// Current state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<PartialContainerState>,
}

/// A container state: which one, and the reason of a waiting or terminated one.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PartialContainerState {
    /// Present when running (its contents are not read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<Present>,
    /// Present when waiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<StateReason>,
    /// Present when terminated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated: Option<StateReason>,
}

/// A field whose presence is all that is read: any value reads as it, and it writes as `{}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Present)
    }
}

impl Serialize for Present {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

/// The reason of a waiting or terminated state (and when a terminated one finished).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct StateReason {
    /// Reason, e.g. `CrashLoopBackOff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `finishedAt` of a terminated state: a CronJob's health says when its last run ended.
    #[serde(
        rename = "finishedAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<jiff::Timestamp>,
}

impl PartialPod {
    /// The same slice of a whole pod (the pods file, tests).
    pub fn of(pod: &Pod) -> Self {
        serde_json::to_value(pod)
            .and_then(serde_json::from_value)
            .expect("a serialized pod reads back as a partial pod")
    }
}

/// Pods' API path and kind: `Api<PartialPod>` lists and watches `/api/v1/.../pods`.
impl kube::Resource for PartialPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        <Pod as k8s_openapi::Resource>::KIND.into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        <Pod as k8s_openapi::Resource>::GROUP.into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        <Pod as k8s_openapi::Resource>::VERSION.into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        <Pod as k8s_openapi::Resource>::URL_PATH_SEGMENT.into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A workload (Deployment, StatefulSet, …) as read from the API server: the metadata the
/// rollout rules and the plugin context use, and only the `spec` and `status` fields kstatus'
/// rules read ([`kstatus::Spec`], [`kstatus::ObservedStatus`]). The pod template, the largest
/// part of a workload, is skipped while parsing and never allocated. It writes back as compact
/// JSON that reads as the same partial workload (`repage` holds workload lists so).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PartialWorkload {
    /// Name, namespace, resource version, generation, deletion time and owners.
    #[serde(default, deserialize_with = "workload_meta")]
    pub metadata: ObjectMeta,
    /// What the rules read of the spec.
    #[serde(default)]
    pub spec: kstatus::Spec,
    /// What the rules read of the status.
    #[serde(default)]
    pub status: kstatus::ObservedStatus,
}

/// The metadata fields a workload is read with.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    deletion_timestamp: Option<Time>,
    owner_references: Option<Vec<OwnerReference>>,
}

fn workload_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    let meta = WorkloadMeta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        resource_version: meta.resource_version,
        generation: meta.generation,
        deletion_timestamp: meta.deletion_timestamp,
        owner_references: meta.owner_references,
        ..ObjectMeta::default()
    })
}

/// Workloads' API paths: `Api<PartialWorkload>` lists and watches the kind it is made with.
impl kube::Resource for PartialWorkload {
    type DynamicType = WorkloadKind;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(kind: &WorkloadKind) -> Cow<'_, str> {
        kind.name().into()
    }

    fn group(kind: &WorkloadKind) -> Cow<'_, str> {
        kind.group().into()
    }

    fn version(kind: &WorkloadKind) -> Cow<'_, str> {
        kind.version().into()
    }

    fn plural(kind: &WorkloadKind) -> Cow<'_, str> {
        kind.plural().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}
