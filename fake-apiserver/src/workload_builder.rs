//! Test fixtures: workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
//! CronJobs) with the status their controllers write: the same field names, condition types,
//! reasons and messages, and the zero counts left out where the controllers' `omitempty` leaves
//! them out.
//!
//! Every builder starts at `metadata.generation` 1 with `status.observedGeneration` equal to it
//! (Jobs and CronJobs have no observed generation), a `uid` of `uid-<kind>-<name>` (what
//! [`PodBuilder`] puts in owner references), the label `app=<name>` on the object, its selector
//! and its pod template, and one container `app` with image `registry.example/app:1.0` (what
//! [`PodBuilder`] gives its container by default).

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, Deployment,
    DeploymentCondition, DeploymentSpec, DeploymentStatus, DeploymentStrategy, ReplicaSet,
    ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDaemonSet, RollingUpdateDeployment,
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetSpec, StatefulSetStatus,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::batch::v1::{
    CronJob, CronJobSpec, CronJobStatus, Job, JobCondition, JobSpec, JobStatus, JobTemplateSpec,
    UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{Container, ObjectReference, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::pod_builder::{DEFAULT_CREATED, PodBuilder};

/// The image of the template's container unless a builder's `image` says otherwise.
const DEFAULT_IMAGE: &str = "registry.example/app:1.0";

/// What every workload builder has: metadata, generations and the pod template's image.
#[derive(Debug, Clone)]
struct Common {
    namespace: String,
    name: String,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    generation: i64,
    observed_generation: Option<i64>,
    deleting: bool,
    created: Timestamp,
    image: String,
    owner: Option<OwnerReference>,
}

impl Common {
    fn new(namespace: &str, name: &str) -> Self {
        Common {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            labels: BTreeMap::from([("app".to_owned(), name.to_owned())]),
            annotations: BTreeMap::new(),
            generation: 1,
            observed_generation: None,
            deleting: false,
            created: DEFAULT_CREATED.parse().expect("valid timestamp"),
            image: DEFAULT_IMAGE.to_owned(),
            owner: None,
        }
    }

    fn observed(&self) -> Option<i64> {
        Some(self.observed_generation.unwrap_or(self.generation))
    }

    fn metadata(&self, kind: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(self.namespace.clone()),
            name: Some(self.name.clone()),
            uid: Some(uid(kind, &self.name)),
            generation: Some(self.generation),
            creation_timestamp: Some(Time(self.created)),
            labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            owner_references: self.owner.clone().map(|owner| vec![owner]),
            // A deleted object is only still there while a finalizer holds it.
            deletion_timestamp: self
                .deleting
                .then(|| Time(self.created + SignedDuration::from_hours(1))),
            deletion_grace_period_seconds: self.deleting.then_some(0),
            finalizers: self.deleting.then(|| vec!["foregroundDeletion".to_owned()]),
            ..ObjectMeta::default()
        }
    }

    fn selector(&self) -> LabelSelector {
        LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_owned(), self.name.clone())])),
            ..LabelSelector::default()
        }
    }

    /// The pod template: label `app=<name>` plus `extra_labels`, one container `app`.
    fn template(
        &self,
        extra_labels: &[(&str, &str)],
        restart_policy: Option<&str>,
    ) -> PodTemplateSpec {
        let mut labels = BTreeMap::from([("app".to_owned(), self.name.clone())]);
        labels.extend(
            extra_labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..ObjectMeta::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".to_owned(),
                    image: Some(self.image.clone()),
                    ..Container::default()
                }],
                restart_policy: restart_policy.map(str::to_owned),
                ..PodSpec::default()
            }),
        }
    }

    /// A hash of the pod template, spelled as the controllers spell theirs.
    fn template_hash(&self) -> String {
        safe_hash(&format!("{}/{}", self.name, self.image))
    }

    /// A pod of this workload, owned by controller `kind`/`owner`.
    fn pod(&self, name: &str, kind: &str, owner: &str) -> PodBuilder {
        PodBuilder::new(&self.namespace, name)
            .controller(kind, owner)
            .label("app", &self.name)
            .image(&self.image)
            .created(self.created)
    }
}

/// The methods every workload builder has.
macro_rules! common_methods {
    () => {
        /// Adds a label to the object (not to its pod template).
        pub fn label(mut self, key: &str, value: &str) -> Self {
            self.common.labels.insert(key.to_owned(), value.to_owned());
            self
        }

        /// Adds an annotation.
        pub fn annotation(mut self, key: &str, value: &str) -> Self {
            self.common
                .annotations
                .insert(key.to_owned(), value.to_owned());
            self
        }

        /// Sets `metadata.generation` (default 1). The server keeps it only when it creates
        /// the object; a replaced object's generation is the server's (see
        /// [`FakeApiServer::upsert_object`](crate::FakeApiServer::upsert_object)).
        pub fn generation(mut self, generation: i64) -> Self {
            self.common.generation = generation;
            self
        }

        /// Sets the pod template's image (default `registry.example/app:1.0`): a spec change,
        /// which bumps the stored generation.
        pub fn image(mut self, image: &str) -> Self {
            self.common.image = image.to_owned();
            self
        }

        /// Marks the object as being deleted: `metadata.deletionTimestamp` (an hour after
        /// creation), the `foregroundDeletion` finalizer holding it.
        pub fn deleting(mut self) -> Self {
            self.common.deleting = true;
            self
        }

        /// Sets `metadata.creationTimestamp` (default [`DEFAULT_CREATED`]).
        pub fn created(mut self, created: Timestamp) -> Self {
            self.common.created = created;
            self
        }
    };
}

/// `common_methods!` plus `observed_generation`, for kinds whose status has one.
macro_rules! common_methods_observed {
    () => {
        common_methods!();

        /// Sets `status.observedGeneration` (default: the builder's generation, i.e. the
        /// controller has seen the latest spec).
        pub fn observed_generation(mut self, observed: i64) -> Self {
            self.common.observed_generation = Some(observed);
            self
        }
    };
}

/// Where a Deployment's rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Progressing,
    Complete,
    DeadlineExceeded,
}

/// Builds a [`Deployment`] with the status the deployment controller writes. By default one
/// replica, rolled out and available (`Available` True `MinimumReplicasAvailable`,
/// `Progressing` True `NewReplicaSetAvailable`).
#[derive(Debug, Clone)]
pub struct DeploymentBuilder {
    common: Common,
    replicas: i32,
    /// `(updated, ready, available)`; `None`: all `replicas`.
    counts: Option<(i32, i32, i32)>,
    progress: Progress,
}

impl DeploymentBuilder {
    /// A Deployment `namespace/name`, one replica, available.
    pub fn new(namespace: &str, name: &str) -> Self {
        DeploymentBuilder {
            common: Common::new(namespace, name),
            replicas: 1,
            counts: None,
            progress: Progress::Complete,
        }
    }

    common_methods_observed!();

    /// Sets `spec.replicas` (default 1).
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.replicas = replicas;
        self
    }

    /// A rollout in progress: `updated`, `ready` and `available` replicas, `Progressing` True
    /// with reason `ReplicaSetUpdated`; `Available` as the controller decides it (True while at
    /// most 25 % of the replicas, rounded down, are unavailable).
    pub fn rolling_out(mut self, updated: i32, ready: i32, available: i32) -> Self {
        self.counts = Some((updated, ready, available));
        self.progress = Progress::Progressing;
        self
    }

    /// Rolled out: every count equals `replicas`, `Progressing` True with reason
    /// `NewReplicaSetAvailable`, `Available` True (the default).
    pub fn available(mut self) -> Self {
        self.counts = None;
        self.progress = Progress::Complete;
        self
    }

    /// The rollout timed out: `Progressing` False with reason `ProgressDeadlineExceeded`. The
    /// counts are those of [`rolling_out`](Self::rolling_out) if given, else no replica updated
    /// and the old ones all ready and available.
    pub fn progress_deadline_exceeded(mut self) -> Self {
        if self.counts.is_none() {
            self.counts = Some((0, self.replicas, self.replicas));
        }
        self.progress = Progress::DeadlineExceeded;
        self
    }

    /// The pod-template hash of the current template (what the ReplicaSet and pods are
    /// named and labelled with).
    pub fn template_hash(&self) -> String {
        self.common.template_hash()
    }

    /// The name of the current ReplicaSet, `<name>-<template hash>`.
    pub fn replica_set_name(&self) -> String {
        format!("{}-{}", self.common.name, self.template_hash())
    }

    /// The current ReplicaSet of this Deployment, owned by it, with its replicas.
    pub fn replica_set(&self) -> ReplicaSetBuilder {
        let (_, ready, available) = self.counts();
        ReplicaSetBuilder::new(&self.common.namespace, &self.common.name)
            .of_deployment(&self.common.name, &self.template_hash())
            .image(&self.common.image)
            .created(self.common.created)
            .replicas(self.replicas)
            .ready(ready.min(self.replicas))
            .available(available.min(self.replicas))
    }

    /// Pod `i` of the current ReplicaSet: `<name>-<hash>-<suffix>`, owned by the ReplicaSet,
    /// labelled `app=<name>` and `pod-template-hash=<hash>` (as [`PodBuilder::deployment`]).
    pub fn pod(&self, i: u32) -> PodBuilder {
        let hash = self.template_hash();
        let name = format!("{}-{}", self.replica_set_name(), pod_suffix(i));
        self.common
            .pod(&name, "ReplicaSet", &self.replica_set_name())
            .deployment(&self.common.name, &hash)
    }

    fn counts(&self) -> (i32, i32, i32) {
        self.counts
            .unwrap_or((self.replicas, self.replicas, self.replicas))
    }

    /// The Deployment.
    pub fn build(&self) -> Deployment {
        let common = &self.common;
        let (updated, ready, available) = self.counts();
        let at = Some(Time(common.created));
        let condition =
            |type_: &str, status: bool, reason: &str, message: String| DeploymentCondition {
                type_: type_.to_owned(),
                status: if status { "True" } else { "False" }.to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(message),
                last_update_time: at.clone(),
                last_transition_time: at.clone(),
            };
        let max_unavailable = self.replicas / 4;
        let available_condition = if available >= self.replicas - max_unavailable {
            condition(
                "Available",
                true,
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".to_owned(),
            )
        } else {
            condition(
                "Available",
                false,
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".to_owned(),
            )
        };
        let rs = self.replica_set_name();
        let progressing_condition = match self.progress {
            Progress::Progressing => condition(
                "Progressing",
                true,
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs}\" is progressing."),
            ),
            Progress::Complete => condition(
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs}\" has successfully progressed."),
            ),
            Progress::DeadlineExceeded => condition(
                "Progressing",
                false,
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs}\" has timed out progressing."),
            ),
        };
        let mut metadata = common.metadata("Deployment");
        metadata.annotations.get_or_insert_default().insert(
            "deployment.kubernetes.io/revision".to_owned(),
            "1".to_owned(),
        );
        Deployment {
            metadata,
            spec: Some(DeploymentSpec {
                replicas: Some(self.replicas),
                selector: common.selector(),
                template: common.template(&[], None),
                strategy: Some(DeploymentStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::String("25%".to_owned())),
                        max_unavailable: Some(IntOrString::String("25%".to_owned())),
                    }),
                }),
                revision_history_limit: Some(10),
                progress_deadline_seconds: Some(600),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: common.observed(),
                replicas: nonzero(self.replicas),
                updated_replicas: nonzero(updated),
                ready_replicas: nonzero(ready),
                available_replicas: nonzero(available),
                unavailable_replicas: nonzero((self.replicas - available).max(0)),
                conditions: Some(vec![available_condition, progressing_condition]),
                ..DeploymentStatus::default()
            }),
        }
    }
}

/// Builds a [`StatefulSet`] with the status the StatefulSet controller writes. By default one
/// replica, rolling update strategy, every replica updated, ready and available, and
/// `currentRevision` = `updateRevision`.
#[derive(Debug, Clone)]
pub struct StatefulSetBuilder {
    common: Common,
    replicas: i32,
    partition: Option<i32>,
    on_delete: bool,
    /// Replicas at the update revision; `None`: the update is done (all of them, revisions
    /// equal).
    updated: Option<i32>,
    ready: Option<i32>,
}

impl StatefulSetBuilder {
    /// A StatefulSet `namespace/name`, one replica, up to date.
    pub fn new(namespace: &str, name: &str) -> Self {
        StatefulSetBuilder {
            common: Common::new(namespace, name),
            replicas: 1,
            partition: None,
            on_delete: false,
            updated: None,
            ready: None,
        }
    }

    common_methods_observed!();

    /// Sets `spec.replicas` (default 1).
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.replicas = replicas;
        self
    }

    /// An update in progress: `updated` replicas at the update revision, the others at the
    /// current one (`currentRevision` ≠ `updateRevision`).
    pub fn updating(mut self, updated: i32) -> Self {
        self.updated = Some(updated);
        self
    }

    /// A partitioned rolling update (`spec.updateStrategy.rollingUpdate.partition`) that has
    /// updated `updated` replicas: `currentRevision` ≠ `updateRevision`.
    pub fn partitioned_update(mut self, partition: i32, updated: i32) -> Self {
        self.partition = Some(partition);
        self.updated = Some(updated);
        self
    }

    /// Update finished: every replica updated, `currentRevision` = `updateRevision` (the
    /// default).
    pub fn updated(mut self) -> Self {
        self.updated = None;
        self
    }

    /// `spec.updateStrategy.type: OnDelete` (pods are updated only when deleted); combine with
    /// [`updating`](Self::updating) for a pending update.
    pub fn on_delete(mut self) -> Self {
        self.on_delete = true;
        self
    }

    /// Sets `readyReplicas` and `availableReplicas` (default: all).
    pub fn ready(mut self, ready: i32) -> Self {
        self.ready = Some(ready);
        self
    }

    /// `<name>-<hash>` of the update revision (the current template).
    pub fn update_revision(&self) -> String {
        format!("{}-{}", self.common.name, self.common.template_hash())
    }

    /// `<name>-<hash>` of the current revision: the update revision once updated, else the
    /// revision before it.
    pub fn current_revision(&self) -> String {
        match self.updated {
            None => self.update_revision(),
            Some(_) => format!(
                "{}-{}",
                self.common.name,
                safe_hash(&format!("{}/previous", self.common.name))
            ),
        }
    }

    /// Pod `<name>-<ordinal>`, owned by the StatefulSet, labelled as the controller labels it
    /// (at the update revision when `ordinal` is at or above the partition or among the last
    /// `updated`, as a rolling update goes from the highest ordinal down).
    pub fn pod(&self, ordinal: u32) -> PodBuilder {
        let name = format!("{}-{ordinal}", self.common.name);
        let updated = self.updated.unwrap_or(self.replicas);
        let at_update = i64::from(ordinal) >= i64::from(self.replicas - updated);
        let revision = if at_update {
            self.update_revision()
        } else {
            self.current_revision()
        };
        self.common
            .pod(&name, "StatefulSet", &self.common.name)
            .without_generate_name()
            .label("controller-revision-hash", &revision)
            .label("statefulset.kubernetes.io/pod-name", &name)
            .label("apps.kubernetes.io/pod-index", &ordinal.to_string())
    }

    /// The StatefulSet.
    pub fn build(&self) -> StatefulSet {
        let common = &self.common;
        let updated = self.updated.unwrap_or(self.replicas);
        let ready = self.ready.unwrap_or(self.replicas);
        let update_strategy = if self.on_delete {
            StatefulSetUpdateStrategy {
                type_: Some("OnDelete".to_owned()),
                rolling_update: None,
            }
        } else {
            StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(self.partition.unwrap_or(0)),
                    ..RollingUpdateStatefulSetStrategy::default()
                }),
            }
        };
        StatefulSet {
            metadata: common.metadata("StatefulSet"),
            spec: Some(StatefulSetSpec {
                replicas: Some(self.replicas),
                selector: common.selector(),
                service_name: Some(common.name.clone()),
                template: common.template(&[], None),
                update_strategy: Some(update_strategy),
                pod_management_policy: Some("OrderedReady".to_owned()),
                revision_history_limit: Some(10),
                ..StatefulSetSpec::default()
            }),
            status: Some(StatefulSetStatus {
                observed_generation: common.observed(),
                replicas: self.replicas,
                ready_replicas: nonzero(ready),
                available_replicas: Some(ready),
                current_replicas: nonzero(if self.updated.is_none() {
                    self.replicas
                } else {
                    self.replicas - updated
                }),
                updated_replicas: nonzero(updated),
                current_revision: Some(self.current_revision()),
                update_revision: Some(self.update_revision()),
                collision_count: Some(0),
                ..StatefulSetStatus::default()
            }),
        }
    }
}

/// Builds a [`DaemonSet`] with the status the DaemonSet controller writes. By default one
/// node desired, its pod updated, ready and available.
#[derive(Debug, Clone)]
pub struct DaemonSetBuilder {
    common: Common,
    desired: i32,
    updated: Option<i32>,
    ready: Option<i32>,
    available: Option<i32>,
}

impl DaemonSetBuilder {
    /// A DaemonSet `namespace/name` on one node, up to date.
    pub fn new(namespace: &str, name: &str) -> Self {
        DaemonSetBuilder {
            common: Common::new(namespace, name),
            desired: 1,
            updated: None,
            ready: None,
            available: None,
        }
    }

    common_methods_observed!();

    /// Sets `desiredNumberScheduled` (and `currentNumberScheduled`; default 1). Counts not
    /// set otherwise follow it.
    pub fn desired(mut self, desired: i32) -> Self {
        self.desired = desired;
        self
    }

    /// Sets `updatedNumberScheduled` (default: desired).
    pub fn updated(mut self, updated: i32) -> Self {
        self.updated = Some(updated);
        self
    }

    /// Sets `numberAvailable` (default: desired); `numberUnavailable` is the rest.
    pub fn available(mut self, available: i32) -> Self {
        self.available = Some(available);
        self
    }

    /// Sets `numberReady` (default: available).
    pub fn ready(mut self, ready: i32) -> Self {
        self.ready = Some(ready);
        self
    }

    /// The pod on node `node-<i>`, owned by the DaemonSet.
    pub fn pod(&self, i: u32) -> PodBuilder {
        let name = format!("{}-{}", self.common.name, pod_suffix(i));
        self.common
            .pod(&name, "DaemonSet", &self.common.name)
            .node(&format!("node-{i}"))
            .label("controller-revision-hash", &self.common.template_hash())
            .label(
                "pod-template-generation",
                &self.common.generation.to_string(),
            )
    }

    /// The DaemonSet.
    pub fn build(&self) -> DaemonSet {
        let common = &self.common;
        let available = self.available.unwrap_or(self.desired);
        DaemonSet {
            metadata: common.metadata("DaemonSet"),
            spec: Some(DaemonSetSpec {
                selector: common.selector(),
                template: common.template(&[], None),
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: Some("RollingUpdate".to_owned()),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_surge: Some(IntOrString::Int(0)),
                        max_unavailable: Some(IntOrString::Int(1)),
                    }),
                }),
                revision_history_limit: Some(10),
                ..DaemonSetSpec::default()
            }),
            status: Some(DaemonSetStatus {
                observed_generation: common.observed(),
                desired_number_scheduled: self.desired,
                current_number_scheduled: self.desired,
                number_misscheduled: 0,
                number_ready: self.ready.unwrap_or(available),
                updated_number_scheduled: nonzero(self.updated.unwrap_or(self.desired)),
                number_available: nonzero(available),
                number_unavailable: nonzero((self.desired - available).max(0)),
                ..DaemonSetStatus::default()
            }),
        }
    }
}

/// Builds a [`ReplicaSet`] with the status the ReplicaSet controller writes. By default one
/// replica, ready and available, owned by nothing.
#[derive(Debug, Clone)]
pub struct ReplicaSetBuilder {
    common: Common,
    replicas: i32,
    ready: Option<i32>,
    available: Option<i32>,
    hash: Option<String>,
}

impl ReplicaSetBuilder {
    /// A ReplicaSet `namespace/name`, one replica.
    pub fn new(namespace: &str, name: &str) -> Self {
        ReplicaSetBuilder {
            common: Common::new(namespace, name),
            replicas: 1,
            ready: None,
            available: None,
            hash: None,
        }
    }

    common_methods_observed!();

    /// A ReplicaSet of Deployment `deployment`: named `<deployment>-<hash>`, owned by the
    /// Deployment, labelled (with its selector and template) `pod-template-hash=<hash>` and
    /// `app=<deployment>`.
    pub fn of_deployment(mut self, deployment: &str, hash: &str) -> Self {
        self.common.name = format!("{deployment}-{hash}");
        self.common
            .labels
            .insert("app".to_owned(), deployment.to_owned());
        self.common
            .labels
            .insert("pod-template-hash".to_owned(), hash.to_owned());
        self.common.owner = Some(controller_reference("apps/v1", "Deployment", deployment));
        self.hash = Some(hash.to_owned());
        self
    }

    /// Sets `spec.replicas` (and `status.replicas`; default 1).
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.replicas = replicas;
        self
    }

    /// Sets `readyReplicas` (default: replicas).
    pub fn ready(mut self, ready: i32) -> Self {
        self.ready = Some(ready);
        self
    }

    /// Sets `availableReplicas` (default: ready).
    pub fn available(mut self, available: i32) -> Self {
        self.available = Some(available);
        self
    }

    /// Pod `i`: `<name>-<suffix>`, owned by the ReplicaSet.
    pub fn pod(&self, i: u32) -> PodBuilder {
        let name = format!("{}-{}", self.common.name, pod_suffix(i));
        let pod = self.common.pod(&name, "ReplicaSet", &self.common.name);
        match &self.hash {
            Some(hash) => pod.label("pod-template-hash", hash),
            None => pod,
        }
    }

    /// The ReplicaSet.
    pub fn build(&self) -> ReplicaSet {
        let common = &self.common;
        let ready = self.ready.unwrap_or(self.replicas);
        let hash: Vec<(&str, &str)> = self
            .hash
            .iter()
            .map(|h| ("pod-template-hash", h.as_str()))
            .collect();
        let mut selector = common.selector();
        if let (Some(labels), Some(hash)) = (selector.match_labels.as_mut(), &self.hash) {
            labels.insert("pod-template-hash".to_owned(), hash.clone());
        }
        let mut template = common.template(&hash, None);
        // A Deployment's ReplicaSet selects the Deployment's pods, `app=<deployment>`.
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.insert("app".to_owned(), common.labels["app"].clone());
        }
        if let Some(labels) = selector.match_labels.as_mut() {
            labels.insert("app".to_owned(), common.labels["app"].clone());
        }
        ReplicaSet {
            metadata: common.metadata("ReplicaSet"),
            spec: Some(ReplicaSetSpec {
                replicas: Some(self.replicas),
                selector,
                template: Some(template),
                ..ReplicaSetSpec::default()
            }),
            status: Some(ReplicaSetStatus {
                observed_generation: common.observed(),
                replicas: self.replicas,
                fully_labeled_replicas: nonzero(self.replicas),
                ready_replicas: nonzero(ready),
                available_replicas: nonzero(self.available.unwrap_or(ready)),
                ..ReplicaSetStatus::default()
            }),
        }
    }
}

/// How a Job ended, if it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobOutcome {
    Running,
    Complete,
    Failed,
}

/// Builds a [`Job`] with the status the Job controller writes. By default one completion,
/// one active pod (ready), no condition.
#[derive(Debug, Clone)]
pub struct JobBuilder {
    common: Common,
    completions: i32,
    active: i32,
    succeeded: i32,
    failed: i32,
    outcome: JobOutcome,
    scheduled: Option<Timestamp>,
}

impl JobBuilder {
    /// A running Job `namespace/name` with one active pod.
    pub fn new(namespace: &str, name: &str) -> Self {
        JobBuilder {
            common: Common::new(namespace, name),
            completions: 1,
            active: 1,
            succeeded: 0,
            failed: 0,
            outcome: JobOutcome::Running,
            scheduled: None,
        }
    }

    common_methods!();

    /// A Job of CronJob `cron_job` scheduled at `scheduled_minute` (minutes since the Unix
    /// epoch): named `<cron_job>-<scheduled_minute>`, with a controller reference to the
    /// CronJob, the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation and created
    /// at that minute.
    pub fn of_cron_job(mut self, cron_job: &str, scheduled_minute: i64) -> Self {
        let scheduled = Timestamp::from_second(scheduled_minute * 60).expect("minute in range");
        self.common.name = format!("{cron_job}-{scheduled_minute}");
        self.common.owner = Some(controller_reference("batch/v1", "CronJob", cron_job));
        self.common.created = scheduled;
        self.common.annotations.insert(
            "batch.kubernetes.io/cronjob-scheduled-timestamp".to_owned(),
            scheduled.to_string(),
        );
        self.scheduled = Some(scheduled);
        self
    }

    /// Sets `spec.completions` (default 1).
    pub fn completions(mut self, completions: i32) -> Self {
        self.completions = completions;
        self
    }

    /// Sets `status.active` (and `status.ready`; default 1).
    pub fn active(mut self, active: i32) -> Self {
        self.active = active;
        self
    }

    /// Sets `status.succeeded` (default 0).
    pub fn succeeded(mut self, succeeded: i32) -> Self {
        self.succeeded = succeeded;
        self
    }

    /// Sets `status.failed` (default 0).
    pub fn failed(mut self, failed: i32) -> Self {
        self.failed = failed;
        self
    }

    /// Finished successfully: no pod active, `succeeded` at least `completions`,
    /// `completionTime`, conditions `SuccessCriteriaMet` and `Complete` True with reason
    /// `CompletionsReached`.
    pub fn complete(mut self) -> Self {
        self.outcome = JobOutcome::Complete;
        self.active = 0;
        self.succeeded = self.succeeded.max(self.completions);
        self
    }

    /// Failed: no pod active, `failed` past the backoff limit (6), conditions `FailureTarget`
    /// and `Failed` True with reason `BackoffLimitExceeded`.
    pub fn backoff_limit_exceeded(mut self) -> Self {
        self.outcome = JobOutcome::Failed;
        self.active = 0;
        self.failed = self.failed.max(BACKOFF_LIMIT + 1);
        self
    }

    /// Pod `i`: `<name>-<suffix>`, owned by the Job, with the Job controller's labels.
    pub fn pod(&self, i: u32) -> PodBuilder {
        let name = format!("{}-{}", self.common.name, pod_suffix(i));
        let uid = uid("Job", &self.common.name);
        self.common
            .pod(&name, "Job", &self.common.name)
            .label("batch.kubernetes.io/job-name", &self.common.name)
            .label("job-name", &self.common.name)
            .label("batch.kubernetes.io/controller-uid", &uid)
            .label("controller-uid", &uid)
    }

    fn job_labels(&self) -> [(&'static str, String); 4] {
        let uid = uid("Job", &self.common.name);
        [
            ("batch.kubernetes.io/controller-uid", uid.clone()),
            ("batch.kubernetes.io/job-name", self.common.name.clone()),
            ("controller-uid", uid),
            ("job-name", self.common.name.clone()),
        ]
    }

    /// The Job.
    pub fn build(&self) -> Job {
        let common = &self.common;
        let labels = self.job_labels();
        let label_refs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut metadata = common.metadata("Job");
        metadata
            .labels
            .get_or_insert_default()
            .extend(labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let started = self.scheduled.unwrap_or(common.created);
        let finished = Time(started + SignedDuration::from_secs(30));
        let condition = |type_: &str, reason: &str, message: &str| JobCondition {
            type_: type_.to_owned(),
            status: "True".to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            last_probe_time: Some(finished.clone()),
            last_transition_time: Some(finished.clone()),
        };
        let (conditions, completion_time) = match self.outcome {
            JobOutcome::Running => (None, None),
            JobOutcome::Complete => {
                let message = "Reached expected number of succeeded pods";
                (
                    Some(vec![
                        condition("SuccessCriteriaMet", "CompletionsReached", message),
                        condition("Complete", "CompletionsReached", message),
                    ]),
                    Some(finished.clone()),
                )
            }
            JobOutcome::Failed => {
                let message = "Job has reached the specified backoff limit";
                (
                    Some(vec![
                        condition("FailureTarget", "BackoffLimitExceeded", message),
                        condition("Failed", "BackoffLimitExceeded", message),
                    ]),
                    None,
                )
            }
        };
        Job {
            metadata,
            spec: Some(JobSpec {
                completions: Some(self.completions),
                parallelism: Some(1),
                backoff_limit: Some(BACKOFF_LIMIT),
                completion_mode: Some("NonIndexed".to_owned()),
                suspend: Some(false),
                manual_selector: None,
                pod_replacement_policy: Some("TerminatingOrFailed".to_owned()),
                selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "batch.kubernetes.io/controller-uid".to_owned(),
                        uid("Job", &common.name),
                    )])),
                    ..LabelSelector::default()
                }),
                template: common.template(&label_refs, Some("Never")),
                ..JobSpec::default()
            }),
            status: Some(JobStatus {
                start_time: Some(Time(started)),
                completion_time,
                active: nonzero(self.active),
                ready: Some(self.active),
                terminating: Some(0),
                succeeded: nonzero(self.succeeded),
                failed: nonzero(self.failed),
                conditions,
                uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
                ..JobStatus::default()
            }),
        }
    }
}

/// The Job controller's default `spec.backoffLimit`.
const BACKOFF_LIMIT: i32 = 6;

/// Builds a [`CronJob`] with the status the CronJob controller writes. By default scheduled
/// `*/5 * * * *`, never run yet (no `lastScheduleTime`, no active Job).
#[derive(Debug, Clone)]
pub struct CronJobBuilder {
    common: Common,
    schedule: String,
    suspend: bool,
    active: Vec<String>,
    last_schedule: Option<Timestamp>,
    last_successful: Option<Timestamp>,
}

impl CronJobBuilder {
    /// A CronJob `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        CronJobBuilder {
            common: Common::new(namespace, name),
            schedule: "*/5 * * * *".to_owned(),
            suspend: false,
            active: Vec::new(),
            last_schedule: None,
            last_successful: None,
        }
    }

    common_methods!();

    /// Sets `spec.schedule` (default `*/5 * * * *`).
    pub fn schedule(mut self, schedule: &str) -> Self {
        self.schedule = schedule.to_owned();
        self
    }

    /// Sets `spec.suspend: true`.
    pub fn suspend(mut self) -> Self {
        self.suspend = true;
        self
    }

    /// Adds Job `job` to `status.active` (a reference with the uid [`JobBuilder`] gives it).
    pub fn active_job(mut self, job: &str) -> Self {
        self.active.push(job.to_owned());
        self
    }

    /// A run scheduled at `scheduled_minute` (minutes since the Unix epoch) and still going:
    /// Job `<name>-<scheduled_minute>` active, `lastScheduleTime` at that minute.
    pub fn running(self, scheduled_minute: i64) -> Self {
        let job = format!("{}-{scheduled_minute}", self.common.name);
        self.active_job(&job).last_schedule_minute(scheduled_minute)
    }

    /// Sets `status.lastScheduleTime` to `scheduled_minute` (minutes since the Unix epoch).
    pub fn last_schedule_minute(mut self, scheduled_minute: i64) -> Self {
        self.last_schedule =
            Some(Timestamp::from_second(scheduled_minute * 60).expect("minute in range"));
        self
    }

    /// Sets `status.lastSuccessfulTime`.
    pub fn last_successful_time(mut self, at: Timestamp) -> Self {
        self.last_successful = Some(at);
        self
    }

    /// The Job this CronJob creates for `scheduled_minute`, see [`JobBuilder::of_cron_job`].
    pub fn job(&self, scheduled_minute: i64) -> JobBuilder {
        JobBuilder::new(&self.common.namespace, &self.common.name)
            .image(&self.common.image)
            .of_cron_job(&self.common.name, scheduled_minute)
    }

    /// The CronJob.
    pub fn build(&self) -> CronJob {
        let common = &self.common;
        let active = self
            .active
            .iter()
            .map(|job| ObjectReference {
                api_version: Some("batch/v1".to_owned()),
                kind: Some("Job".to_owned()),
                namespace: Some(common.namespace.clone()),
                name: Some(job.clone()),
                uid: Some(uid("Job", job)),
                ..ObjectReference::default()
            })
            .collect::<Vec<_>>();
        CronJob {
            metadata: common.metadata("CronJob"),
            spec: Some(CronJobSpec {
                schedule: self.schedule.clone(),
                suspend: Some(self.suspend),
                concurrency_policy: Some("Allow".to_owned()),
                successful_jobs_history_limit: Some(3),
                failed_jobs_history_limit: Some(1),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(JobSpec {
                        backoff_limit: Some(BACKOFF_LIMIT),
                        completions: Some(1),
                        parallelism: Some(1),
                        template: common.template(&[], Some("Never")),
                        ..JobSpec::default()
                    }),
                },
                ..CronJobSpec::default()
            }),
            status: Some(CronJobStatus {
                active: (!active.is_empty()).then_some(active),
                last_schedule_time: self.last_schedule.map(Time),
                last_successful_time: self.last_successful.map(Time),
            }),
        }
    }
}

/// The uid a fixture of `kind`/`name` has, as [`PodBuilder`] writes it in owner references.
fn uid(kind: &str, name: &str) -> String {
    format!("uid-{}-{name}", kind.to_lowercase())
}

fn controller_reference(api_version: &str, kind: &str, name: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: uid(kind, name),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `omitempty`: a zero count is left out.
fn nonzero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// The alphabet of Kubernetes' generated names and hashes (no vowels, no look-alikes).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a of `text`, spelled the way the controllers spell a template hash
/// (`rand.SafeEncodeString` of the decimal hash).
fn safe_hash(text: &str) -> String {
    let hash = text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash.to_string()
        .bytes()
        .map(|digit| char::from(ALPHANUMS[usize::from(digit) % ALPHANUMS.len()]))
        .collect()
}

/// A five-character generated-name suffix for pod `i`.
fn pod_suffix(i: u32) -> String {
    let base = ALPHANUMS.len() as u32;
    (0..5)
        .rev()
        .map(|place| char::from(ALPHANUMS[(i / base.pow(place) % base) as usize]))
        .collect()
}
