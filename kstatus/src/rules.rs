//! The rules. Generic ones from kstatus' `generic.go`, per-kind ones from `core.go`, the
//! fallback from `status.go`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Condition, Kind, Object, Outcome, Status};

/// An unschedulable Pod younger than this is still `InProgress` (kstatus' `ScheduleWindow`).
const SCHEDULE_WINDOW_SECONDS: i128 = 15;

/// The value kstatus treats as "no progress deadline" (the controller's `math.MaxInt32`).
const NO_PROGRESS_DEADLINE: i64 = i32::MAX as i64;

fn in_progress(message: impl Into<String>) -> Outcome {
    Outcome::new(Status::InProgress, message)
}

fn current(message: impl Into<String>) -> Outcome {
    Outcome::new(Status::Current, message)
}

fn failed(message: impl Into<String>) -> Outcome {
    Outcome::new(Status::Failed, message)
}

/// `a - b` without overflow (kstatus' Go wraps; no real object gets near either bound).
fn minus(a: i64, b: i64) -> i64 {
    a.saturating_sub(b)
}

pub(crate) fn compute(object: &Object, now: SystemTime) -> Outcome {
    if let Some(outcome) = generic(object) {
        return outcome;
    }
    match &object.kind {
        Some(Kind::Deployment) => deployment(object),
        Some(Kind::StatefulSet) => stateful_set(object),
        Some(Kind::DaemonSet) => daemon_set(object),
        Some(Kind::ReplicaSet) => replica_set(object),
        Some(Kind::Job) => job(object),
        Some(Kind::Pod) => pod(object, now),
        Some(Kind::PodDisruptionBudget) => current("AllowedDisruptions has been computed."),
        Some(Kind::Service) => service(object),
        Some(Kind::PersistentVolumeClaim) => persistent_volume_claim(object),
        Some(Kind::CustomResourceDefinition) => custom_resource_definition(object),
        Some(Kind::CronJob | Kind::Secret | Kind::ConfigMap) => current("Resource is always ready"),
        Some(Kind::Other(_)) | None => {
            ready_condition(object).unwrap_or_else(|| current("Resource is current"))
        }
    }
}

/// Deletion, generation and the standard `Reconciling`/`Stalled` conditions.
fn generic(object: &Object) -> Option<Outcome> {
    if object.deleting {
        return Some(Outcome::new(
            Status::Terminating,
            "Resource scheduled for deletion",
        ));
    }
    if let (Some(generation), Some(observed)) =
        (object.generation, object.status.observed_generation)
        && generation != observed
    {
        return Some(in_progress(format!(
            "{} generation is {generation}, but latest observed generation is {observed}",
            object.kind_name()
        )));
    }
    object.status.conditions.iter().find_map(|c| {
        if c.is("Reconciling", "True") {
            Some(in_progress(c.message()))
        } else if c.is("Stalled", "True") {
            Some(failed(c.message()))
        } else {
            None
        }
    })
}

/// Kinds without rules of their own: the first `Ready` condition with a known status.
fn ready_condition(object: &Object) -> Option<Outcome> {
    object
        .status
        .conditions
        .iter()
        .filter(|c| c.type_ == "Ready")
        .find_map(|c| match c.status.as_str() {
            "True" => Some(current("Resource is Ready")),
            "False" | "Unknown" => Some(in_progress(c.message())),
            _ => None,
        })
}

fn condition<'a>(object: &'a Object, type_: &str, status: &str) -> Option<&'a Condition> {
    object
        .status
        .conditions
        .iter()
        .find(|c| c.is(type_, status))
}

fn deployment(object: &Object) -> Outcome {
    let (spec, status) = (&object.spec, &object.status);
    // Without a progress deadline the controller never sets Progressing to
    // NewReplicaSetAvailable, so that condition is not required.
    let mut progressing = spec
        .progress_deadline_seconds
        .unwrap_or(NO_PROGRESS_DEADLINE)
        == NO_PROGRESS_DEADLINE;
    let mut available = false;
    for c in &status.conditions {
        match c.type_.as_str() {
            "Progressing" if c.reason() == "ProgressDeadlineExceeded" => {
                return failed("Progress deadline exceeded");
            }
            "Progressing" if c.status == "True" && c.reason() == "NewReplicaSetAvailable" => {
                progressing = true;
            }
            "Available" if c.status == "True" => available = true,
            _ => {}
        }
    }

    let spec_replicas = spec.replicas.unwrap_or(1);
    let replicas = status.replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available_replicas = status.available_replicas.unwrap_or(0);

    if spec_replicas > replicas {
        return in_progress(format!("Replicas: {replicas}/{spec_replicas}"));
    }
    if spec_replicas > updated {
        return in_progress(format!("Updated: {updated}/{spec_replicas}"));
    }
    if replicas > spec_replicas {
        return in_progress(format!(
            "Pending termination: {}",
            minus(replicas, spec_replicas)
        ));
    }
    if updated > available_replicas {
        return in_progress(format!("Available: {available_replicas}/{updated}"));
    }
    if spec_replicas > ready {
        return in_progress(format!("Ready: {ready}/{spec_replicas}"));
    }
    if !progressing {
        return in_progress("ReplicaSet not Available");
    }
    if !available {
        return in_progress("Deployment not Available");
    }
    current(format!("Deployment is available. Replicas: {replicas}"))
}

fn stateful_set(object: &Object) -> Outcome {
    let (spec, status) = (&object.spec, &object.status);
    let strategy = spec.update_strategy.as_ref();
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return current("StatefulSet is using the ondelete update strategy");
    }

    let spec_replicas = spec.replicas.unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let current_replicas = status.current_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(-1);

    if spec_replicas > replicas {
        return in_progress(format!("Replicas: {replicas}/{spec_replicas}"));
    }
    if spec_replicas > ready {
        return in_progress(format!("Ready: {ready}/{spec_replicas}"));
    }
    if replicas > spec_replicas {
        return in_progress(format!(
            "Pending termination: {}",
            minus(replicas, spec_replicas)
        ));
    }
    // A partition (any value but kstatus' "unset" -1) only asks for the ordinals at or above it.
    if partition != -1 {
        let wanted = minus(spec_replicas, partition);
        if updated < wanted {
            return in_progress(format!("updated: {updated}/{wanted}"));
        }
        return current(format!("Partition rollout complete. updated: {updated}"));
    }
    if spec_replicas > current_replicas {
        return in_progress(format!("current: {current_replicas}/{spec_replicas}"));
    }
    let current_revision = status.current_revision.as_deref().unwrap_or("");
    let update_revision = status.update_revision.as_deref().unwrap_or("");
    if current_revision != update_revision {
        return in_progress("Waiting for updated revision to match current");
    }
    current(format!(
        "All replicas scheduled as expected. Replicas: {replicas}"
    ))
}

fn daemon_set(object: &Object) -> Outcome {
    // The DaemonSet controller always sets observedGeneration: until both it and generation are
    // there, the controller has not acted on the object.
    if object.generation.is_none() {
        return in_progress(format!(
            "{} metadata.generation not found",
            object.kind_name()
        ));
    }
    if object.status.observed_generation.is_none() {
        return in_progress(format!(
            "{} status.observedGeneration not found",
            object.kind_name()
        ));
    }
    let status = &object.status;
    let Some(desired) = status.desired_number_scheduled else {
        return in_progress("Missing .status.desiredNumberScheduled");
    };
    // kstatus uses -1 as "absent" for this field, so an explicit -1 reads as absent too.
    if desired == -1 {
        return in_progress("Missing .status.desiredNumberScheduled");
    }
    let scheduled = status.current_number_scheduled.unwrap_or(0);
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    let ready = status.number_ready.unwrap_or(0);

    if desired > scheduled {
        return in_progress(format!("Current: {scheduled}/{desired}"));
    }
    if desired > updated {
        return in_progress(format!("Updated: {updated}/{desired}"));
    }
    if desired > available {
        return in_progress(format!("Available: {available}/{desired}"));
    }
    if desired > ready {
        return in_progress(format!("Ready: {ready}/{desired}"));
    }
    current(format!(
        "All replicas scheduled as expected. Replicas: {desired}"
    ))
}

fn replica_set(object: &Object) -> Outcome {
    let (spec, status) = (&object.spec, &object.status);
    if condition(object, "ReplicaFailure", "True").is_some() {
        return in_progress("Replica Failure condition. Check Pods");
    }
    let spec_replicas = spec.replicas.unwrap_or(1);
    let replicas = status.replicas.unwrap_or(0);
    let ready = status.ready_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let labelled = status.fully_labeled_replicas.unwrap_or(0);

    if spec_replicas > labelled {
        return in_progress(format!("Labelled: {labelled}/{spec_replicas}"));
    }
    if spec_replicas > available {
        return in_progress(format!("Available: {available}/{spec_replicas}"));
    }
    if spec_replicas > ready {
        return in_progress(format!("Ready: {ready}/{spec_replicas}"));
    }
    if replicas > spec_replicas {
        return in_progress(format!(
            "Pending termination: {}",
            minus(replicas, spec_replicas)
        ));
    }
    current(format!("ReplicaSet is available. Replicas: {replicas}"))
}

fn job(object: &Object) -> Outcome {
    let (spec, status) = (&object.spec, &object.status);
    let parallelism = spec.parallelism.unwrap_or(1);
    let completions = spec.completions.unwrap_or(parallelism);
    let succeeded = status.succeeded.unwrap_or(0);
    let active = status.active.unwrap_or(0);
    let failed_pods = status.failed.unwrap_or(0);
    let suspend = spec.suspend.unwrap_or(false);

    for c in status.conditions.iter().filter(|c| c.status == "True") {
        match c.type_.as_str() {
            "Complete" => {
                return current(format!(
                    "Job Completed. succeeded: {succeeded}/{completions}"
                ));
            }
            "Failed" => return failed(format!("Job Failed. failed: {failed_pods}/{completions}")),
            "Suspended" if suspend => return current("Job is suspended"),
            _ => {}
        }
    }
    if status.start_time.as_deref().unwrap_or("").is_empty() {
        return in_progress("Job not started");
    }
    current(format!(
        "Job in progress. success:{succeeded}, active: {active}, failed: {failed_pods}"
    ))
}

fn pod(object: &Object, now: SystemTime) -> Outcome {
    let status = &object.status;
    match status.phase.as_deref().unwrap_or("") {
        "Succeeded" => current("Pod has completed successfully"),
        "Failed" => current("Pod has completed, but not successfully"),
        "Running" => {
            if condition(object, "Ready", "True").is_some() {
                return current("Pod is Ready");
            }
            let crash_looping: Vec<&str> = status
                .container_statuses
                .iter()
                .filter(|cs| {
                    cs.state
                        .as_ref()
                        .and_then(|s| s.waiting.as_ref())
                        .and_then(|w| w.reason.as_deref())
                        == Some("CrashLoopBackOff")
                })
                .filter_map(|cs| cs.name.as_deref())
                .collect();
            if !crash_looping.is_empty() {
                return failed(format!(
                    "Containers in CrashLoop state: {}",
                    crash_looping.join(",")
                ));
            }
            in_progress("Pod is running but is not Ready")
        }
        "Pending" => {
            let unschedulable = condition(object, "PodScheduled", "False")
                .is_some_and(|c| c.reason() == "Unschedulable");
            if !unschedulable {
                return in_progress("Pod is in the Pending phase");
            }
            if within_schedule_window(object.created, now) {
                in_progress("Pod has not been scheduled")
            } else {
                failed("Pod could not be scheduled")
            }
        }
        "" => in_progress("Pod phase not available"),
        other => Outcome::unknown(format!("unknown phase {other}")),
    }
}

/// `created` is less than the schedule window before `now`. An absent creation time is the
/// distant past, as in kstatus (Go's zero time).
fn within_schedule_window(created: Option<i64>, now: SystemTime) -> bool {
    let Some(created) = created else {
        return false;
    };
    let now_nanos: i128 = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    now_nanos - SCHEDULE_WINDOW_SECONDS * 1_000_000_000 < i128::from(created) * 1_000_000_000
}

fn service(object: &Object) -> Outcome {
    let spec = &object.spec;
    let type_ = spec.type_.as_deref().unwrap_or("ClusterIP");
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or("");
    if type_ == "LoadBalancer" && cluster_ip.is_empty() {
        return in_progress("ClusterIP not set. Service type: LoadBalancer");
    }
    current("Service is ready")
}

fn persistent_volume_claim(object: &Object) -> Outcome {
    match object.status.phase.as_deref().unwrap_or("unknown") {
        "Bound" => current("PVC is Bound"),
        phase => in_progress(format!("PVC is not Bound. phase: {phase}")),
    }
}

fn custom_resource_definition(object: &Object) -> Outcome {
    for c in &object.status.conditions {
        match (c.type_.as_str(), c.status.as_str()) {
            ("NamesAccepted", "False") => return failed(c.message()),
            ("Established", "False") if c.reason() != "Installing" => return failed(c.message()),
            ("Established", "True") => return current("CRD is established"),
            _ => {}
        }
    }
    in_progress("Install in progress")
}
