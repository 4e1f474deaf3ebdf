//! The controllers of the service's pods (`workload.controllers` of the contract, 0.1.3):
//! what [`Context::controllers`](crate::Context::controllers) answers.

use crate::bindings::kube_shields::plugin::workload as wit;

/// The controller of the service's pods in one namespace (a Deployment, StatefulSet,
/// DaemonSet, ReplicaSet, Job or CronJob), as the host watches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controller {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job` or `CronJob`.
    pub kind: String,
    /// Its name: the service's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// `metadata.generation`: bumped by the API server on every spec change.
    pub generation: Option<i64>,
    /// `status.observedGeneration`: the generation the controller last acted on.
    pub observed_generation: Option<i64>,
    /// `spec.replicas`, for the kinds that have it.
    pub replicas: Option<i64>,
    /// `status.conditions`, as the controller wrote them.
    pub conditions: Vec<Condition>,
    /// The rollout status by kstatus' rules, as the built-in `rollout` check reads it.
    pub rollout_status: RolloutStatus,
    /// kstatus' message for it, e.g. `Updated: 2/3`.
    pub rollout_message: String,
}

impl Controller {
    /// The condition of type `type_` (e.g. `Available`), if the controller wrote one.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions
            .iter()
            .find(|condition| condition.type_ == type_)
    }

    /// Whether the condition of type `type_` is there with status `True`.
    pub fn is_condition_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(Condition::is_true)
    }

    /// Whether the controller has acted on the latest spec: it reports a generation and its
    /// observed generation is that one.
    pub fn is_observed(&self) -> bool {
        self.generation.is_some() && self.observed_generation == self.generation
    }
}

impl From<wit::Controller> for Controller {
    fn from(controller: wit::Controller) -> Self {
        Self {
            kind: controller.kind,
            name: controller.name,
            namespace: controller.namespace,
            generation: controller.generation,
            observed_generation: controller.observed_generation,
            replicas: controller.replicas,
            conditions: controller
                .conditions
                .into_iter()
                .map(Condition::from)
                .collect(),
            rollout_status: RolloutStatus::parse(&controller.rollout_status),
            rollout_message: controller.rollout_message,
        }
    }
}

/// A status condition of a controller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// Condition type, e.g. `Available`, `Progressing`, `Complete`.
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason, e.g. `ProgressDeadlineExceeded`.
    pub reason: Option<String>,
    /// Human-readable message (at most 256 characters).
    pub message: Option<String>,
}

impl Condition {
    /// Whether the status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

impl From<wit::Condition> for Condition {
    fn from(condition: wit::Condition) -> Self {
        Self {
            type_: condition.type_,
            status: condition.status,
            reason: condition.reason,
            message: condition.message,
        }
    }
}

/// A controller's rollout status by kstatus' rules (the built-in `rollout` check's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RolloutStatus {
    /// The controller has acted on the latest spec and its pods are all up to date.
    Current,
    /// A rollout (or a scale, a run) is under way.
    InProgress,
    /// The rollout has failed, e.g. past its progress deadline.
    Failed,
    /// The controller is being deleted.
    Terminating,
    /// The rules cannot tell.
    #[default]
    Unknown,
}

impl RolloutStatus {
    /// The status named by the contract's string; anything unexpected is `Unknown`.
    fn parse(status: &str) -> Self {
        match status {
            "Current" => Self::Current,
            "InProgress" => Self::InProgress,
            "Failed" => Self::Failed,
            "Terminating" => Self::Terminating,
            _ => Self::Unknown,
        }
    }

    /// The contract's name of the status: `Current`, `InProgress`, `Failed`, `Terminating`
    /// or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "Current",
            Self::InProgress => "InProgress",
            Self::Failed => "Failed",
            Self::Terminating => "Terminating",
            Self::Unknown => "Unknown",
        }
    }
}

/// Asks the host for the controllers of the call's pods.
pub(crate) fn controllers() -> Vec<Controller> {
    wit::controllers()
        .into_iter()
        .map(Controller::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn wit_controller() -> wit::Controller {
        wit::Controller {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "default".into(),
            generation: Some(4),
            observed_generation: Some(4),
            replicas: Some(3),
            conditions: vec![
                wit::Condition {
                    type_: "Available".into(),
                    status: "True".into(),
                    reason: Some("MinimumReplicasAvailable".into()),
                    message: None,
                },
                wit::Condition {
                    type_: "Progressing".into(),
                    status: "True".into(),
                    reason: Some("ReplicaSetUpdated".into()),
                    message: Some("ReplicaSet \"web-7d4b9\" is progressing.".into()),
                },
            ],
            rollout_status: "InProgress".into(),
            rollout_message: "Updated: 2/3".into(),
        }
    }

    #[test]
    fn controller_converts_with_its_conditions() {
        let controller = Controller::from(wit_controller());
        assert_eq!(controller.kind, "Deployment");
        assert_eq!(controller.replicas, Some(3));
        assert_eq!(controller.rollout_status, RolloutStatus::InProgress);
        assert_eq!(controller.rollout_message, "Updated: 2/3");
        let progressing = controller.condition("Progressing").unwrap();
        assert_eq!(progressing.reason.as_deref(), Some("ReplicaSetUpdated"));
        assert!(controller.is_condition_true("Available"));
        assert!(!controller.is_condition_true("ReplicaFailure"));
    }

    #[rstest]
    #[case::same(Some(4), Some(4), true)]
    #[case::behind(Some(4), Some(3), false)]
    #[case::not_yet_observed(Some(1), None, false)]
    #[case::no_generation(None, None, false)]
    fn is_observed_of(
        #[case] generation: Option<i64>,
        #[case] observed: Option<i64>,
        #[case] expected: bool,
    ) {
        let controller = Controller {
            generation,
            observed_generation: observed,
            ..Controller::default()
        };
        assert_eq!(controller.is_observed(), expected);
    }

    #[rstest]
    #[case("Current", RolloutStatus::Current)]
    #[case("InProgress", RolloutStatus::InProgress)]
    #[case("Failed", RolloutStatus::Failed)]
    #[case("Terminating", RolloutStatus::Terminating)]
    #[case("Unknown", RolloutStatus::Unknown)]
    #[case("Exploded", RolloutStatus::Unknown)]
    fn rollout_status_of(#[case] text: &str, #[case] status: RolloutStatus) {
        assert_eq!(RolloutStatus::parse(text), status);
        if text != "Exploded" {
            assert_eq!(status.as_str(), text);
        }
    }
}
