//! The rollout status of a Kubernetes object, by the rules of **kstatus**
//! (`sigs.k8s.io/cli-utils/pkg/kstatus/status`, the library behind `kubectl`-adjacent tools such
//! as kpt, Flux and cli-utils' applier to tell when an applied object has been reconciled).
//!
//! [`compute`] turns what it reads of one object ([`Object`]) into a [`Status`] and kstatus'
//! human message ([`Outcome`]):
//!
//! 1. the generic rules, for every kind (kstatus' `generic.go`): `metadata.deletionTimestamp` set
//!    → `Terminating`; `metadata.generation` ≠ `status.observedGeneration` (both present) →
//!    `InProgress`; the first condition `Reconciling=True` → `InProgress`, or `Stalled=True` →
//!    `Failed`;
//! 2. otherwise the kind's own rules (kstatus' `core.go`): Deployment, StatefulSet, DaemonSet,
//!    ReplicaSet, Job, Pod, PodDisruptionBudget, Service, PersistentVolumeClaim,
//!    CustomResourceDefinition; Secret, ConfigMap and CronJob are always `Current`;
//! 3. for any other kind (kstatus' `status.go`): a `Ready` condition (`True` → `Current`,
//!    `False`/`Unknown` → `InProgress`), else `Current` ("Resource is current").
//!
//! The rules are encoded from kstatus' source at
//! <https://github.com/kubernetes-sigs/cli-utils/tree/master/pkg/kstatus/status>
//! (`core.go`, `generic.go`, `status.go`); the messages are kstatus' own texts. Where kstatus
//! returns an error (a malformed field, a Pod phase it does not know) the status is
//! [`Status::Unknown`] with a message saying what was wrong. No input panics.
//!
//! ```
//! use kstatus::{Object, Status, compute};
//!
//! let deployment = serde_json::json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web", "generation": 4},
//!     "spec": {"replicas": 3},
//!     "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 2,
//!                "readyReplicas": 3, "availableReplicas": 3},
//! });
//! let outcome = compute(&Object::from_json(&deployment).unwrap());
//! assert_eq!((outcome.status, outcome.message.as_str()), (Status::InProgress, "Updated: 2/3"));
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::Error as _;

mod lenient;
mod rules;
mod time;

/// The computed state of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The object has not yet reached the state its spec asks for.
    InProgress,
    /// Reconciling the object hit an error or made insufficient progress.
    Failed,
    /// The object's actual state matches its spec.
    Current,
    /// The object is being deleted.
    Terminating,
    /// The object does not exist.
    NotFound,
    /// The status could not be determined (e.g. a malformed object).
    Unknown,
}

impl Status {
    /// kstatus' own spelling: "InProgress", "Failed", "Current", "Terminating", "NotFound",
    /// "Unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "InProgress",
            Status::Failed => "Failed",
            Status::Current => "Current",
            Status::Terminating => "Terminating",
            Status::NotFound => "NotFound",
            Status::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Status plus kstatus' human message, e.g. (InProgress, "Updated: 2/3").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The computed status.
    pub status: Status,
    /// Why the object has that status, in kstatus' words.
    pub message: String,
}

impl Outcome {
    /// An outcome with the given status and message.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Outcome {
            status,
            message: message.into(),
        }
    }

    /// The object does not exist: `NotFound`, "Resource not found" (kstatus' poller and
    /// watcher report it so).
    pub fn not_found() -> Self {
        Outcome::new(Status::NotFound, "Resource not found")
    }

    /// The status could not be computed: `Unknown` with what was wrong.
    pub fn unknown(message: impl Into<String>) -> Self {
        Outcome::new(Status::Unknown, message)
    }
}

/// Which rule set applies.
///
/// kstatus picks its rules by API group and kind: [`Kind::from_api_version`] does the same (a
/// `Deployment` of some other API group is [`Kind::Other`]); [`Kind::from_name`] assumes the
/// standard group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `apps/Deployment` (also `extensions`).
    Deployment,
    /// `apps/StatefulSet`.
    StatefulSet,
    /// `apps/DaemonSet` (also `extensions`).
    DaemonSet,
    /// `apps/ReplicaSet` (also `extensions`).
    ReplicaSet,
    /// `batch/Job`.
    Job,
    /// `batch/CronJob` (always current).
    CronJob,
    /// Core `Pod`.
    Pod,
    /// `policy/PodDisruptionBudget`.
    PodDisruptionBudget,
    /// Core `Service`.
    Service,
    /// Core `PersistentVolumeClaim`.
    PersistentVolumeClaim,
    /// Core `Secret` (always current).
    Secret,
    /// Core `ConfigMap` (always current).
    ConfigMap,
    /// `apiextensions.k8s.io/CustomResourceDefinition`.
    CustomResourceDefinition,
    /// Any other kind: the generic rules and the `Ready` condition only.
    Other(String),
}

impl Kind {
    /// The kind by its name alone (case-sensitive, as Kubernetes spells it), assuming the
    /// kind's standard API group.
    pub fn from_name(kind: &str) -> Kind {
        match kind {
            "Deployment" => Kind::Deployment,
            "StatefulSet" => Kind::StatefulSet,
            "DaemonSet" => Kind::DaemonSet,
            "ReplicaSet" => Kind::ReplicaSet,
            "Job" => Kind::Job,
            "CronJob" => Kind::CronJob,
            "Pod" => Kind::Pod,
            "PodDisruptionBudget" => Kind::PodDisruptionBudget,
            "Service" => Kind::Service,
            "PersistentVolumeClaim" => Kind::PersistentVolumeClaim,
            "Secret" => Kind::Secret,
            "ConfigMap" => Kind::ConfigMap,
            "CustomResourceDefinition" => Kind::CustomResourceDefinition,
            other => Kind::Other(other.to_owned()),
        }
    }

    /// The kind by API group (`""` for the core group) and name, as kstatus looks its rules up:
    /// a kind outside the group kstatus expects for it is [`Kind::Other`].
    pub fn from_group_kind(group: &str, kind: &str) -> Kind {
        let known = matches!(
            (group, kind),
            (
                "",
                "Service" | "Pod" | "Secret" | "ConfigMap" | "PersistentVolumeClaim"
            ) | (
                "apps",
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
            ) | ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet")
                | ("batch", "Job" | "CronJob")
                | ("policy", "PodDisruptionBudget")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
        );
        if known {
            Kind::from_name(kind)
        } else {
            Kind::Other(kind.to_owned())
        }
    }

    /// The kind by an object's `apiVersion` (`v1`, `apps/v1`, …) and `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Kind {
        match api_version.split_once('/') {
            None => Kind::from_group_kind("", kind),
            Some((group, version)) if !version.contains('/') => Kind::from_group_kind(group, kind),
            // Not a group/version: kstatus finds no rules for it.
            Some(_) => Kind::Other(kind.to_owned()),
        }
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::Pod => "Pod",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
            Kind::Service => "Service",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::CustomResourceDefinition => "CustomResourceDefinition",
            Kind::Other(name) => name,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One status condition.
///
/// A missing or `null` `type`/`status` reads as empty (as kstatus' decoder reads it); a value of
/// another JSON type is a deserialization error (kstatus fails on it too).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition type, e.g. `Available`, `Ready`, `Stalled`.
    #[serde(rename = "type", default, deserialize_with = "lenient::null_as_empty")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default, deserialize_with = "lenient::null_as_empty")]
    pub status: String,
    /// The machine-readable reason, e.g. `ProgressDeadlineExceeded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Condition {
    fn is(&self, type_: &str, status: &str) -> bool {
        self.type_ == type_ && self.status == status
    }
    fn reason(&self) -> &str {
        self.reason.as_deref().unwrap_or("")
    }
    fn message(&self) -> &str {
        self.message.as_deref().unwrap_or("")
    }
}

/// `spec.updateStrategy` (StatefulSet).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStrategy {
    /// `RollingUpdate` or `OnDelete`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub type_: Option<String>,
    /// `spec.updateStrategy.rollingUpdate`.
    #[serde(
        default,
        deserialize_with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub rolling_update: Option<RollingUpdate>,
}

/// `spec.updateStrategy.rollingUpdate` (StatefulSet).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// Ordinals at or above the partition are updated; those below keep the old revision.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub partition: Option<i64>,
}

/// The fields of `spec` the rules read (every kind's, all optional).
///
/// Deserializes from a Kubernetes object's `spec` JSON and skips everything else (the pod
/// template is never kept). As in kstatus, a field of the wrong JSON type counts as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// Deployment, StatefulSet, ReplicaSet: desired replicas (absent: 1).
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub replicas: Option<i64>,
    /// Deployment: absent (or 2147483647) means the controller never reports a stuck rollout.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub progress_deadline_seconds: Option<i64>,
    /// StatefulSet: the update strategy.
    #[serde(
        default,
        deserialize_with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_strategy: Option<UpdateStrategy>,
    /// Job: pods run at once (absent: 1).
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub parallelism: Option<i64>,
    /// Job: successful pods needed (absent: `parallelism`).
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub completions: Option<i64>,
    /// Job: suspended.
    #[serde(
        default,
        deserialize_with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub suspend: Option<bool>,
    /// Service: `ClusterIP` (absent), `NodePort`, `LoadBalancer`, `ExternalName`.
    #[serde(
        rename = "type",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub type_: Option<String>,
    /// Service: `spec.clusterIP`.
    #[serde(
        rename = "clusterIP",
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_ip: Option<String>,
}

/// `status.containerStatuses[].state.waiting` (Pod).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateWaiting {
    /// e.g. `CrashLoopBackOff`, `ContainerCreating`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `status.containerStatuses[].state` (Pod); only `waiting` is read.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// Set while the container waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<ContainerStateWaiting>,
}

/// One of `status.containerStatuses` (Pod).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// The container's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The container's current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContainerState>,
}

/// The fields of `status` the rules read (every kind's, all optional).
///
/// As in kstatus, a count or text of the wrong JSON type counts as absent; a malformed
/// `observedGeneration`, `conditions` or `containerStatuses` is a deserialization error
/// (kstatus fails on those).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedStatus {
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet: pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub replicas: Option<i64>,
    /// Deployment, StatefulSet, ReplicaSet: ready pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub ready_replicas: Option<i64>,
    /// Deployment, ReplicaSet: available pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub available_replicas: Option<i64>,
    /// Deployment, StatefulSet: pods of the newest revision.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_replicas: Option<i64>,
    /// StatefulSet: pods of `currentRevision`.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_replicas: Option<i64>,
    /// ReplicaSet: pods whose labels match the template's.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub fully_labeled_replicas: Option<i64>,
    /// StatefulSet: the revision the current pods run.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_revision: Option<String>,
    /// StatefulSet: the revision being rolled out.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_revision: Option<String>,
    /// DaemonSet: nodes that should run the pod.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub desired_number_scheduled: Option<i64>,
    /// DaemonSet: nodes running the pod.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub current_number_scheduled: Option<i64>,
    /// DaemonSet: nodes running the newest pod.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_number_scheduled: Option<i64>,
    /// DaemonSet: nodes with an available pod.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub number_available: Option<i64>,
    /// DaemonSet: nodes with a ready pod.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub number_ready: Option<i64>,
    /// Job: running pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub active: Option<i64>,
    /// Job: succeeded pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub succeeded: Option<i64>,
    /// Job: failed pods.
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub failed: Option<i64>,
    /// Job: when the job started (RFC 3339).
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_time: Option<String>,
    /// Pod, PersistentVolumeClaim: the phase.
    #[serde(
        default,
        deserialize_with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub phase: Option<String>,
    /// The generation the controller last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The object's conditions.
    #[serde(
        default,
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<Condition>,
    /// Pod: the containers' states.
    #[serde(
        default,
        deserialize_with = "lenient::list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub container_statuses: Vec<ContainerStatus>,
}

/// What the rules read of one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Object {
    /// The rule set; `None` (no kind known) gets the generic rules and the `Ready` condition.
    pub kind: Option<Kind>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// `metadata.creationTimestamp`, seconds since the Unix epoch (Pod: an unschedulable pod
    /// younger than 15 s is still `InProgress`; absent counts as old, as in kstatus).
    pub created: Option<i64>,
    /// What the rules read of `spec`.
    pub spec: Spec,
    /// What the rules read of `status`.
    pub status: ObservedStatus,
}

fn malformed(what: &str, value: &serde_json::Value) -> serde_json::Error {
    serde_json::Error::custom(format!("{what}: unexpected value {value}"))
}

impl Object {
    /// Reads kind (by `apiVersion` and `kind`, see [`Kind::from_api_version`]),
    /// `metadata.generation`, `metadata.deletionTimestamp`, `metadata.creationTimestamp`, spec
    /// and status from an object's JSON.
    ///
    /// Fails where kstatus fails: the value is not an object, `metadata` is not an object, or
    /// `metadata.generation`, `metadata.deletionTimestamp`, `status` or one of the status fields
    /// named in [`ObservedStatus`] has the wrong type. [`compute_json`] turns such a failure
    /// into [`Status::Unknown`].
    pub fn from_json(value: &serde_json::Value) -> Result<Object, serde_json::Error> {
        use serde_json::Value;
        let object = value
            .as_object()
            .ok_or_else(|| malformed("the object is not a JSON object", value))?;
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .map(|kind| Kind::from_api_version(api_version, kind));
        let empty = serde_json::Map::new();
        let metadata = match object.get("metadata") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(metadata)) => metadata,
            Some(other) => return Err(malformed("metadata", other)),
        };
        let generation = match metadata.get("generation") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| malformed("metadata.generation", v))?,
            ),
        };
        let deleting = match metadata.get("deletionTimestamp") {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.is_empty(),
            Some(other) => return Err(malformed("metadata.deletionTimestamp", other)),
        };
        let created = metadata
            .get("creationTimestamp")
            .and_then(Value::as_str)
            .and_then(time::parse_rfc3339);
        let spec = match object.get("spec") {
            Some(spec @ Value::Object(_)) => Spec::deserialize(spec)
                .map_err(|e| serde_json::Error::custom(format!("spec: {e}")))?,
            // kstatus reads a spec that is not an object as one without fields.
            _ => Spec::default(),
        };
        let status = match object.get("status") {
            None | Some(Value::Null) => ObservedStatus::default(),
            Some(status) => ObservedStatus::deserialize(status)
                .map_err(|e| serde_json::Error::custom(format!("status: {e}")))?,
        };
        Ok(Object {
            kind,
            generation,
            deleting,
            created,
            spec,
            status,
        })
    }

    fn kind_name(&self) -> &str {
        self.kind.as_ref().map_or("", Kind::as_str)
    }
}

/// kstatus' rules: the generic ones first (deletionTimestamp → Terminating; generation ≠
/// status.observedGeneration → InProgress; Reconciling=True → InProgress; Stalled=True →
/// Failed), then the kind's own rules; kinds without rules → a `Ready` condition if there is
/// one, else Current (kstatus' default).
///
/// Uses the current time for the one time-dependent rule (a Pod unschedulable for less than
/// 15 s is still `InProgress`); [`compute_at`] takes the time.
pub fn compute(object: &Object) -> Outcome {
    compute_at(object, SystemTime::now())
}

/// [`compute`] at the given time.
pub fn compute_at(object: &Object, now: SystemTime) -> Outcome {
    rules::compute(object, now)
}

/// [`compute`] of an object's JSON: [`Object::from_json`], with a malformed object
/// `Unknown` (message "malformed object: " and what was wrong).
pub fn compute_json(value: &serde_json::Value) -> Outcome {
    compute_json_at(value, SystemTime::now())
}

/// [`compute_json`] at the given time.
pub fn compute_json_at(value: &serde_json::Value, now: SystemTime) -> Outcome {
    match Object::from_json(value) {
        Ok(object) => compute_at(&object, now),
        Err(e) => Outcome::unknown(format!("malformed object: {e}")),
    }
}
