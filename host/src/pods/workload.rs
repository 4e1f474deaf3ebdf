//! The workloads that own the served pods (Deployments, StatefulSets, …): what kube-shields
//! keeps of each — its rollout status by kstatus' rules, computed once when the workload
//! changes, and the few fields a plugin's context shows — and the index they are looked up in.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::wire::PartialWorkload;

/// The workload kinds whose rollout is followed: the controllers the naming rule knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment (its pods are owned by its ReplicaSets).
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `apps/v1` ReplicaSet not made by a Deployment.
    ReplicaSet,
    /// `batch/v1` Job (a CronJob's run, or a Job of its own).
    Job,
    /// `batch/v1` CronJob.
    CronJob,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
    ];

    /// The kind's name, e.g. `Deployment`.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
    }

    /// The kind named so (as an owner reference or a list item says it).
    pub fn from_name(name: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// API group: `apps` or `batch`.
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
            _ => "apps",
        }
    }

    /// API version: `v1` for all of them.
    pub fn version(self) -> &'static str {
        "v1"
    }

    /// The resource's plural, as RBAC rules and URLs name it.
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
        }
    }

    fn kstatus(self) -> kstatus::Kind {
        kstatus::Kind::from_name(self.name())
    }
}

/// Longest condition message kept: the plugin context shows it, the badge never does.
const MAX_CONDITION_MESSAGE: usize = 256;

/// Condition types, statuses and reasons the workload controllers write: kept as these
/// constants rather than one string each per workload (tens of thousands of workloads).
const KNOWN_WORDS: &[&str] = &[
    "True",
    "False",
    "Unknown",
    "Available",
    "Progressing",
    "ReplicaFailure",
    "Complete",
    "Failed",
    "Suspended",
    "SuccessCriteriaMet",
    "FailureTarget",
    "Reconciling",
    "Stalled",
    "Ready",
    "MinimumReplicasAvailable",
    "MinimumReplicasUnavailable",
    "NewReplicaSetAvailable",
    "NewReplicaSetCreated",
    "FoundNewReplicaSet",
    "ReplicaSetUpdated",
    "ProgressDeadlineExceeded",
    "DeploymentPaused",
    "DeploymentResumed",
    "FailedCreate",
    "CompletionsReached",
    "BackoffLimitExceeded",
    "DeadlineExceeded",
    "PodFailurePolicy",
    "JobSuspended",
];

fn word(text: String) -> Cow<'static, str> {
    KNOWN_WORDS
        .iter()
        .find(|known| **known == text)
        .map_or(Cow::Owned(text), |known| Cow::Borrowed(known))
}

/// A status condition of a workload, as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Condition type, e.g. `Available`.
    pub type_: Cow<'static, str>,
    /// `True`, `False` or `Unknown`.
    pub status: Cow<'static, str>,
    /// Machine-readable reason.
    pub reason: Option<Cow<'static, str>>,
    /// Human-readable message, cut to 256 characters.
    pub message: Option<String>,
}

impl From<kstatus::Condition> for Condition {
    fn from(condition: kstatus::Condition) -> Self {
        let message = condition.message.map(|mut message| {
            if let Some((cut, _)) = message.char_indices().nth(MAX_CONDITION_MESSAGE) {
                message.truncate(cut);
            }
            message
        });
        Condition {
            type_: word(condition.type_),
            status: word(condition.status),
            reason: condition.reason.map(word),
            message,
        }
    }
}

/// A workload as kube-shields stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadInfo {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `metadata.generation`: bumped by the API server on each spec change.
    pub generation: Option<i64>,
    /// `status.observedGeneration`: the generation the controller last acted on.
    pub observed_generation: Option<i64>,
    /// `spec.replicas`, for the kinds that have it.
    pub replicas: Option<i64>,
    /// Status conditions.
    pub conditions: Vec<Condition>,
    /// Owned by a Deployment (a ReplicaSet of one): not a service's own controller.
    pub owned_by_deployment: bool,
    /// Its rollout status by kstatus' rules.
    pub status: kstatus::Outcome,
}

impl WorkloadInfo {
    /// Reads a workload of `kind`, computing its rollout status once, here.
    pub fn read(kind: WorkloadKind, workload: PartialWorkload) -> WorkloadInfo {
        let meta = workload.metadata;
        let object = kstatus::Object {
            kind: Some(kind.kstatus()),
            generation: meta.generation,
            deleting: meta.deletion_timestamp.is_some(),
            spec: workload.spec,
            status: workload.status,
            ..kstatus::Object::default()
        };
        let status = kstatus::compute(&object);
        let conditions: Vec<Condition> = object
            .status
            .conditions
            .into_iter()
            .map(Condition::from)
            .collect();
        WorkloadInfo {
            kind,
            name: meta.name.unwrap_or_default(),
            namespace: meta.namespace.unwrap_or_default(),
            generation: meta.generation,
            observed_generation: object.status.observed_generation,
            replicas: object.spec.replicas,
            conditions,
            owned_by_deployment: meta
                .owner_references
                .unwrap_or_default()
                .iter()
                .any(|owner| owner.controller == Some(true) && owner.kind == "Deployment"),
            status,
        }
    }

    /// The condition of this type, if the controller set it.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// Whether a kind's workloads can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindAccess {
    /// Listed: a missing workload of this kind does not exist.
    Listed,
    /// Not listed yet (the watch is starting, or failing before its first list).
    Pending,
    /// The API server refused the list (RBAC): rollouts of this kind are unknown.
    Denied,
}

/// Workloads by kind, namespace and name, and how far each kind's watch got.
#[derive(Debug, Default)]
pub struct WorkloadIndex {
    workloads: HashMap<(WorkloadKind, String, String), Arc<WorkloadInfo>>,
    access: BTreeMap<WorkloadKind, KindAccess>,
    /// A cluster: every kind is followed (`unknown` until first listed). A pods file: only the
    /// kinds it lists.
    every_kind: bool,
}

impl WorkloadIndex {
    /// An index of `workloads`, with each watched kind's access.
    pub fn build(
        workloads: impl IntoIterator<Item = Arc<WorkloadInfo>>,
        access: BTreeMap<WorkloadKind, KindAccess>,
    ) -> WorkloadIndex {
        let workloads = workloads
            .into_iter()
            .filter(|workload| !workload.owned_by_deployment)
            .map(|workload| {
                let key = (
                    workload.kind,
                    workload.namespace.clone(),
                    workload.name.clone(),
                );
                (key, workload)
            })
            .collect();
        WorkloadIndex {
            workloads,
            access,
            every_kind: false,
        }
    }

    /// An empty index of a cluster, before any kind is watched: every kind is followed.
    pub fn cluster() -> WorkloadIndex {
        WorkloadIndex {
            every_kind: true,
            ..WorkloadIndex::default()
        }
    }

    /// The same workloads, following every kind (a cluster's).
    pub fn of_cluster(self) -> WorkloadIndex {
        WorkloadIndex {
            every_kind: true,
            ..self
        }
    }

    /// The workload of this kind, namespace and name.
    pub fn get(&self, kind: WorkloadKind, namespace: &str, name: &str) -> Option<&WorkloadInfo> {
        self.workloads
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .map(Arc::as_ref)
    }

    /// The workload of this kind, namespace and name, to keep beyond this index.
    pub fn get_shared(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<WorkloadInfo>> {
        self.workloads
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// How far the watch of `kind` got; [`KindAccess::Pending`] for a kind not watched.
    pub fn access(&self, kind: WorkloadKind) -> KindAccess {
        self.access
            .get(&kind)
            .copied()
            .unwrap_or(KindAccess::Pending)
    }

    /// Whether rollouts of `kind` are followed: always in a cluster, for the kinds it lists in
    /// a pods file.
    pub fn follows(&self, kind: WorkloadKind) -> bool {
        self.every_kind || self.access.contains_key(&kind)
    }

    /// Number of workloads kept.
    pub fn len(&self) -> usize {
        self.workloads.len()
    }

    /// Whether no workload is kept.
    pub fn is_empty(&self) -> bool {
        self.workloads.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(kind: WorkloadKind, object: serde_json::Value) -> WorkloadInfo {
        WorkloadInfo::read(kind, serde_json::from_value(object).unwrap())
    }

    #[test]
    fn a_workload_keeps_what_the_context_shows_and_its_status() {
        let long = "x".repeat(1000);
        let web = read(
            WorkloadKind::Deployment,
            json!({
                "metadata": {"name": "web", "namespace": "shop", "generation": 4, "managedFields": [{"manager": "kubectl"}]},
                "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}},
                "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
                           "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated", "message": long}]}
            }),
        );
        assert_eq!(
            (
                web.name.as_str(),
                web.namespace.as_str(),
                web.generation,
                web.observed_generation,
                web.replicas
            ),
            ("web", "shop", Some(4), Some(4), Some(3))
        );
        assert_eq!(
            web.status,
            kstatus::Outcome::new(kstatus::Status::InProgress, "Updated: 2/3")
        );
        let message = web
            .condition("Progressing")
            .unwrap()
            .message
            .as_deref()
            .unwrap();
        assert_eq!(message.chars().count(), MAX_CONDITION_MESSAGE);
    }

    #[test]
    fn a_deployments_replica_sets_are_not_services_controllers() {
        let owned = read(
            WorkloadKind::ReplicaSet,
            json!({"metadata": {"name": "web-7d4b9c", "namespace": "shop",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u", "controller": true}]}}),
        );
        let plain = read(
            WorkloadKind::ReplicaSet,
            json!({"metadata": {"name": "cache", "namespace": "shop"}}),
        );
        let listed = BTreeMap::from([(WorkloadKind::ReplicaSet, KindAccess::Listed)]);
        let index = WorkloadIndex::build([Arc::new(owned), Arc::new(plain)], listed);
        assert_eq!(index.len(), 1);
        assert!(
            index
                .get(WorkloadKind::ReplicaSet, "shop", "cache")
                .is_some()
        );
        assert!(index.follows(WorkloadKind::ReplicaSet));
        assert!(
            !index.follows(WorkloadKind::Deployment),
            "a file follows what it lists"
        );
        assert!(WorkloadIndex::cluster().follows(WorkloadKind::Deployment));
        assert_eq!(
            WorkloadIndex::cluster().access(WorkloadKind::Deployment),
            KindAccess::Pending
        );
    }
}
