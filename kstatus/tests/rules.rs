//! One case per kstatus rule and outcome, each from an object's JSON through `Object::from_json`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kstatus::{Kind, Object, Outcome, Spec, Status, compute, compute_at, compute_json_at};
use rstest::rstest;
use serde_json::{Value, json};

/// 2024-01-01T00:00:00Z, the time every case is computed at.
const NOW: u64 = 1_704_067_200;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

/// An object of `apiVersion`/`kind` with `spec` and `status` and plain metadata.
fn obj(api_version: &str, kind: &str, spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "demo", "namespace": "default", "uid": "0b6f3c2e"},
        "spec": spec,
        "status": status,
    })
}

/// `obj` with `metadata.generation`.
fn generation(mut object: Value, generation: i64) -> Value {
    object["metadata"]["generation"] = json!(generation);
    object
}

fn deployment(spec: Value, status: Value) -> Value {
    obj("apps/v1", "Deployment", spec, status)
}

fn sts(spec: Value, status: Value) -> Value {
    obj("apps/v1", "StatefulSet", spec, status)
}

fn ds(status: Value) -> Value {
    generation(obj("apps/v1", "DaemonSet", json!({}), status), 2)
}

fn rs(status: Value) -> Value {
    obj("apps/v1", "ReplicaSet", json!({"replicas": 2}), status)
}

fn job(spec: Value, status: Value) -> Value {
    obj("batch/v1", "Job", spec, status)
}

fn pod(status: Value) -> Value {
    let mut pod = obj(
        "v1",
        "Pod",
        json!({"containers": [{"name": "app", "image": "nginx:1.27"}]}),
        status,
    );
    pod["metadata"]["creationTimestamp"] = json!("2023-12-31T23:00:00Z");
    pod
}

fn svc(spec: Value) -> Value {
    obj("v1", "Service", spec, json!({"loadBalancer": {}}))
}

fn pvc(status: Value) -> Value {
    obj(
        "v1",
        "PersistentVolumeClaim",
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
        status,
    )
}

fn crd(conditions: Value) -> Value {
    obj(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        json!({"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}),
        json!({"conditions": conditions}),
    )
}

fn widget(status: Value) -> Value {
    generation(
        obj("example.com/v1", "Widget", json!({"size": 3}), status),
        3,
    )
}

/// A Deployment as the apiserver returns it, pod template and all.
fn full_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "d4a1c7b0-2f0e-4c36-9a57-5c1f7a0b9e11",
            "resourceVersion": "481516",
            "generation": 7,
            "creationTimestamp": "2023-11-02T09:14:00Z",
            "labels": {"app": "web"},
            "annotations": {"deployment.kubernetes.io/revision": "7"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2023-11-02T09:14:00Z"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "nginx:1.27",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "MODE", "value": "prod"}, {"name": "replicas", "value": "9"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 5},
                        "terminationMessagePath": "/dev/termination-log",
                        "imagePullPolicy": "IfNotPresent"
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler"
                }
            }
        },
        "status": {
            "observedGeneration": 7,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "lastUpdateTime": "2023-11-02T09:15:00Z",
                 "lastTransitionTime": "2023-11-02T09:15:00Z", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "True", "lastUpdateTime": "2023-11-02T09:15:00Z",
                 "lastTransitionTime": "2023-11-02T09:14:00Z", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet \"web-7d9c\" has successfully progressed."}
            ]
        }
    })
}

fn available_conditions() -> Value {
    json!([
        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
    ])
}

fn counts(replicas: i64, updated: i64, ready: i64, available: i64) -> Value {
    json!({
        "replicas": replicas, "updatedReplicas": updated, "readyReplicas": ready,
        "availableReplicas": available, "conditions": available_conditions()
    })
}

#[rstest]
// generic.go: deletion, generation, standard conditions (for every kind)
#[case::generic_deletion_timestamp_is_terminating(
    { let mut d = full_deployment(); d["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z"); d },
    Status::Terminating, "Resource scheduled for deletion")]
#[case::generic_generation_not_observed_is_in_progress(
    { let mut d = full_deployment(); d["status"]["observedGeneration"] = json!(6); d },
    Status::InProgress, "Deployment generation is 7, but latest observed generation is 6")]
#[case::generic_reconciling_true_is_in_progress(
    widget(json!({"observedGeneration": 3, "conditions": [
        {"type": "Ready", "status": "True"},
        {"type": "Reconciling", "status": "True", "reason": "Scaling", "message": "Scaling to 3 replicas"}]})),
    Status::InProgress, "Scaling to 3 replicas")]
#[case::generic_stalled_true_is_failed(
    widget(json!({"observedGeneration": 3, "conditions": [
        {"type": "Stalled", "status": "True", "reason": "QuotaExceeded", "message": "quota exceeded for volumes"}]})),
    Status::Failed, "quota exceeded for volumes")]
#[case::generic_stalled_overrides_kind_rules(
    { let mut d = full_deployment();
      d["status"]["conditions"].as_array_mut().unwrap().push(json!({"type": "Stalled", "status": "True", "message": "stuck"})); d },
    Status::Failed, "stuck")]
#[case::generic_stalled_false_is_ignored(
    widget(json!({"observedGeneration": 3, "conditions": [{"type": "Stalled", "status": "False"}]})),
    Status::Current, "Resource is current")]
// status.go: kinds without rules
#[case::other_kind_ready_true_is_current(
    widget(json!({"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True", "reason": "Up"}]})),
    Status::Current, "Resource is Ready")]
#[case::other_kind_ready_false_is_in_progress(
    widget(json!({"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "False", "message": "waiting for database"}]})),
    Status::InProgress, "waiting for database")]
#[case::other_kind_ready_unknown_is_in_progress(
    widget(json!({"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "Unknown", "message": "probing"}]})),
    Status::InProgress, "probing")]
#[case::other_kind_without_status_is_current(
    widget(Value::Null),
    Status::Current,
    "Resource is current"
)]
#[case::deployment_of_another_group_has_no_deployment_rules(
    obj("example.com/v1", "Deployment", json!({"replicas": 3}), json!({})),
    Status::Current, "Resource is current")]
#[case::object_without_kind_is_current(json!({"metadata": {"name": "x"}}), Status::Current, "Resource is current")]
// core.go: Deployment
#[case::deployment_available_is_current(
    full_deployment(),
    Status::Current,
    "Deployment is available. Replicas: 3"
)]
#[case::deployment_progress_deadline_exceeded_is_failed(
    deployment(json!({"replicas": 3, "progressDeadlineSeconds": 600}), json!({"replicas": 3, "updatedReplicas": 1, "conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-5f\" has timed out progressing."}]})),
    Status::Failed, "Progress deadline exceeded")]
#[case::deployment_fewer_replicas_is_in_progress(deployment(json!({"replicas": 3}), counts(1, 1, 1, 1)), Status::InProgress, "Replicas: 1/3")]
#[case::deployment_less_updated_is_in_progress(deployment(json!({"replicas": 3}), counts(3, 2, 3, 3)), Status::InProgress, "Updated: 2/3")]
#[case::deployment_extra_pods_is_in_progress(deployment(json!({"replicas": 3}), counts(4, 3, 4, 4)), Status::InProgress, "Pending termination: 1")]
#[case::deployment_less_available_is_in_progress(deployment(json!({"replicas": 3}), counts(3, 3, 3, 1)), Status::InProgress, "Available: 1/3")]
#[case::deployment_less_ready_is_in_progress(deployment(json!({"replicas": 3}), counts(3, 3, 2, 3)), Status::InProgress, "Ready: 2/3")]
#[case::deployment_new_replicaset_not_available_is_in_progress(
    deployment(json!({"replicas": 1, "progressDeadlineSeconds": 600}), json!({"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "conditions": [
        {"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]})),
    Status::InProgress, "ReplicaSet not Available")]
#[case::deployment_available_false_is_in_progress(
    deployment(json!({"replicas": 1, "progressDeadlineSeconds": 600}), json!({"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "conditions": [
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}, {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})),
    Status::InProgress, "Deployment not Available")]
#[case::deployment_without_progress_deadline_needs_only_available(
    deployment(json!({"replicas": 2}), json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "conditions": [
        {"type": "Available", "status": "True"}]})),
    Status::Current, "Deployment is available. Replicas: 2")]
#[case::deployment_replicas_default_to_one(deployment(json!({}), json!({})), Status::InProgress, "Replicas: 0/1")]
#[case::deployment_replicas_of_wrong_type_default_to_one(deployment(json!({"replicas": "3"}), counts(1, 1, 1, 1)), Status::Current, "Deployment is available. Replicas: 1")]
#[case::deployment_negative_replicas_do_not_panic(deployment(json!({"replicas": -2}), counts(0, 0, 0, 0)), Status::InProgress, "Pending termination: 2")]
// core.go: StatefulSet
#[case::statefulset_on_delete_is_current(
    sts(json!({"replicas": 3, "updateStrategy": {"type": "OnDelete"}}), json!({"replicas": 0})),
    Status::Current, "StatefulSet is using the ondelete update strategy")]
#[case::statefulset_fewer_replicas_is_in_progress(sts(json!({"replicas": 3}), json!({"replicas": 2})), Status::InProgress, "Replicas: 2/3")]
#[case::statefulset_less_ready_is_in_progress(sts(json!({"replicas": 3}), json!({"replicas": 3, "readyReplicas": 2})), Status::InProgress, "Ready: 2/3")]
#[case::statefulset_extra_pods_is_in_progress(sts(json!({"replicas": 3}), json!({"replicas": 5, "readyReplicas": 5})), Status::InProgress, "Pending termination: 2")]
#[case::statefulset_partitioned_rollout_in_progress(
    sts(json!({"replicas": 5, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
        json!({"replicas": 5, "readyReplicas": 5, "currentReplicas": 3, "updatedReplicas": 2})),
    Status::InProgress, "updated: 2/3")]
#[case::statefulset_partitioned_rollout_complete(
    sts(json!({"replicas": 5, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}}),
        json!({"replicas": 5, "readyReplicas": 5, "currentReplicas": 2, "updatedReplicas": 3, "currentRevision": "a", "updateRevision": "b"})),
    Status::Current, "Partition rollout complete. updated: 3")]
#[case::statefulset_less_current_is_in_progress(
    sts(json!({"replicas": 3}), json!({"replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1})),
    Status::InProgress, "current: 2/3")]
#[case::statefulset_revision_mismatch_is_in_progress(
    sts(json!({"replicas": 3}), json!({"replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
        "currentRevision": "web-6b8f", "updateRevision": "web-7c9d"})),
    Status::InProgress, "Waiting for updated revision to match current")]
#[case::statefulset_rolled_out_is_current(
    sts(json!({"replicas": 3, "serviceName": "web", "template": {"spec": {"containers": [{"name": "web"}]}}}),
        json!({"replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
        "currentRevision": "web-7c9d", "updateRevision": "web-7c9d"})),
    Status::Current, "All replicas scheduled as expected. Replicas: 3")]
// core.go: DaemonSet
#[case::daemonset_without_generation_is_in_progress(
    obj("apps/v1", "DaemonSet", json!({}), json!({"observedGeneration": 1})),
    Status::InProgress, "DaemonSet metadata.generation not found")]
#[case::daemonset_without_observed_generation_is_in_progress(ds(json!({"desiredNumberScheduled": 2})), Status::InProgress, "DaemonSet status.observedGeneration not found")]
#[case::daemonset_without_desired_number_is_in_progress(ds(json!({"observedGeneration": 2})), Status::InProgress, "Missing .status.desiredNumberScheduled")]
#[case::daemonset_less_scheduled_is_in_progress(
    ds(json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 1})),
    Status::InProgress, "Current: 1/2")]
#[case::daemonset_less_updated_is_in_progress(
    ds(json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 1})),
    Status::InProgress, "Updated: 1/2")]
#[case::daemonset_less_available_is_in_progress(
    ds(json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1})),
    Status::InProgress, "Available: 1/2")]
#[case::daemonset_less_ready_is_in_progress(
    ds(json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 1})),
    Status::InProgress, "Ready: 1/2")]
#[case::daemonset_all_scheduled_is_current(
    ds(json!({"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2, "numberReady": 2})),
    Status::Current, "All replicas scheduled as expected. Replicas: 2")]
// core.go: ReplicaSet
#[case::replicaset_replica_failure_is_in_progress(
    rs(json!({"conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}]})),
    Status::InProgress, "Replica Failure condition. Check Pods")]
#[case::replicaset_less_labelled_is_in_progress(rs(json!({"replicas": 2, "fullyLabeledReplicas": 1})), Status::InProgress, "Labelled: 1/2")]
#[case::replicaset_less_available_is_in_progress(rs(json!({"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 1})), Status::InProgress, "Available: 1/2")]
#[case::replicaset_less_ready_is_in_progress(
    rs(json!({"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 1})),
    Status::InProgress, "Ready: 1/2")]
#[case::replicaset_extra_pods_is_in_progress(
    rs(json!({"replicas": 3, "fullyLabeledReplicas": 3, "availableReplicas": 3, "readyReplicas": 3})),
    Status::InProgress, "Pending termination: 1")]
#[case::replicaset_available_is_current(
    rs(json!({"replicas": 2, "fullyLabeledReplicas": 2, "availableReplicas": 2, "readyReplicas": 2})),
    Status::Current, "ReplicaSet is available. Replicas: 2")]
// core.go: Job, CronJob
#[case::job_complete_is_current(
    job(json!({"backoffLimit": 6}), json!({"succeeded": 1, "startTime": "2024-01-01T00:00:00Z",
        "conditions": [{"type": "Complete", "status": "True"}]})),
    Status::Current, "Job Completed. succeeded: 1/1")]
#[case::job_failed_is_failed(
    job(json!({"completions": 3, "parallelism": 1}), json!({"failed": 7, "startTime": "2024-01-01T00:00:00Z",
        "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]})),
    Status::Failed, "Job Failed. failed: 7/3")]
#[case::job_suspended_is_current(
    job(json!({"suspend": true}), json!({"conditions": [{"type": "Suspended", "status": "True", "reason": "JobSuspended"}]})),
    Status::Current, "Job is suspended")]
#[case::job_suspended_condition_without_spec_suspend_is_not_suspended(
    job(json!({"suspend": false}), json!({"conditions": [{"type": "Suspended", "status": "True"}]})),
    Status::InProgress, "Job not started")]
#[case::job_not_started_is_in_progress(job(json!({}), json!({})), Status::InProgress, "Job not started")]
#[case::job_running_is_current(
    job(json!({"parallelism": 2, "completions": 5}), json!({"startTime": "2024-01-01T00:00:00Z", "active": 2, "succeeded": 1})),
    Status::Current, "Job in progress. success:1, active: 2, failed: 0")]
#[case::cronjob_is_always_current(
    obj("batch/v1", "CronJob", json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {}}}), json!({})),
    Status::Current, "Resource is always ready")]
// core.go: Pod
#[case::pod_succeeded_is_current(pod(json!({"phase": "Succeeded"})), Status::Current, "Pod has completed successfully")]
#[case::pod_failed_phase_is_current(pod(json!({"phase": "Failed"})), Status::Current, "Pod has completed, but not successfully")]
#[case::pod_running_ready_is_current(
    pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]})),
    Status::Current, "Pod is Ready")]
#[case::pod_crash_loop_is_failed(
    pod(json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 5, "image": "app:1", "imageID": "",
             "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}},
            {"name": "proxy", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2023-12-31T23:00:05Z"}}},
            {"name": "sidecar", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})),
    Status::Failed, "Containers in CrashLoop state: app,sidecar")]
#[case::pod_running_not_ready_is_in_progress(
    pod(json!({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}]})),
    Status::InProgress, "Pod is running but is not Ready")]
#[case::pod_pending_is_in_progress(pod(json!({"phase": "Pending"})), Status::InProgress, "Pod is in the Pending phase")]
#[case::pod_unschedulable_within_window_is_in_progress(
    { let mut p = pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}));
      p["metadata"]["creationTimestamp"] = json!("2023-12-31T23:59:50Z"); p },
    Status::InProgress, "Pod has not been scheduled")]
#[case::pod_unschedulable_is_failed(
    pod(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient cpu."}]})),
    Status::Failed, "Pod could not be scheduled")]
#[case::pod_without_phase_is_in_progress(pod(json!({})), Status::InProgress, "Pod phase not available")]
#[case::pod_unknown_phase_is_unknown(pod(json!({"phase": "Exploded"})), Status::Unknown, "unknown phase Exploded")]
// core.go: PodDisruptionBudget, Service, PersistentVolumeClaim, Secret/ConfigMap, CRD
#[case::pdb_is_current(
    generation(obj("policy/v1", "PodDisruptionBudget", json!({"minAvailable": 1}), json!({"observedGeneration": 1, "disruptionsAllowed": 0})), 1),
    Status::Current, "AllowedDisruptions has been computed.")]
#[case::pdb_not_observed_is_in_progress(
    generation(obj("policy/v1", "PodDisruptionBudget", json!({"minAvailable": 1}), json!({"observedGeneration": 1})), 2),
    Status::InProgress, "PodDisruptionBudget generation is 2, but latest observed generation is 1")]
#[case::service_load_balancer_without_cluster_ip_is_in_progress(svc(json!({"type": "LoadBalancer"})), Status::InProgress, "ClusterIP not set. Service type: LoadBalancer")]
#[case::service_load_balancer_with_cluster_ip_is_current(
    svc(json!({"type": "LoadBalancer", "clusterIP": "10.0.0.12", "ports": [{"port": 80}]})),
    Status::Current, "Service is ready")]
#[case::service_cluster_ip_is_current(svc(json!({"ports": [{"port": 80}]})), Status::Current, "Service is ready")]
#[case::pvc_bound_is_current(pvc(json!({"phase": "Bound"})), Status::Current, "PVC is Bound")]
#[case::pvc_pending_is_in_progress(pvc(json!({"phase": "Pending"})), Status::InProgress, "PVC is not Bound. phase: Pending")]
#[case::pvc_without_phase_is_in_progress(pvc(json!({})), Status::InProgress, "PVC is not Bound. phase: unknown")]
#[case::configmap_is_always_current(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}), Status::Current, "Resource is always ready")]
#[case::crd_established_is_current(crd(json!([{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}])), Status::Current, "CRD is established")]
#[case::crd_names_not_accepted_is_failed(
    crd(json!([{"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict", "message": "\"WidgetList\" is already in use"}])),
    Status::Failed, "\"WidgetList\" is already in use")]
#[case::crd_installing_is_in_progress(crd(json!([{"type": "Established", "status": "False", "reason": "Installing"}])), Status::InProgress, "Install in progress")]
// where kstatus returns an error
#[case::malformed_generation_is_unknown(
    { let mut d = full_deployment(); d["metadata"]["generation"] = json!("7"); d },
    Status::Unknown, "malformed object: metadata.generation: unexpected value \"7\"")]
#[case::malformed_conditions_is_unknown(
    widget(json!({"conditions": {"type": "Ready"}})),
    Status::Unknown, "malformed object: status: invalid type: map, expected a sequence")]
#[case::malformed_observed_generation_is_unknown(
    widget(json!({"observedGeneration": 3.5})),
    Status::Unknown, "malformed object: status: invalid type: floating point `3.5`, expected i64")]
fn computes_kstatus_outcome(#[case] object: Value, #[case] status: Status, #[case] message: &str) {
    let outcome = compute_json_at(&object, now());
    assert_eq!(
        outcome,
        Outcome {
            status,
            message: message.to_owned()
        }
    );
    // The parsed object computes the same, at any rate where no error is involved.
    if let Ok(parsed) = Object::from_json(&object) {
        assert_eq!(compute_at(&parsed, now()), outcome);
    }
}

#[test]
fn not_found_outcome() {
    assert_eq!(
        Outcome::not_found(),
        Outcome {
            status: Status::NotFound,
            message: "Resource not found".to_owned()
        }
    );
}

#[test]
fn status_names_are_kstatus_spelling() {
    let names: Vec<_> = [
        Status::InProgress,
        Status::Failed,
        Status::Current,
        Status::Terminating,
        Status::NotFound,
        Status::Unknown,
    ]
    .map(Status::as_str)
    .into();
    assert_eq!(
        names,
        [
            "InProgress",
            "Failed",
            "Current",
            "Terminating",
            "NotFound",
            "Unknown"
        ]
    );
    assert_eq!(Status::Current.to_string(), "Current");
}

#[test]
fn kinds_by_name_and_group() {
    for name in [
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "Job",
        "CronJob",
        "Pod",
        "PodDisruptionBudget",
        "Service",
        "PersistentVolumeClaim",
        "Secret",
        "ConfigMap",
        "CustomResourceDefinition",
        "Widget",
    ] {
        assert_eq!(Kind::from_name(name).as_str(), name);
    }
    assert_eq!(Kind::from_name("Widget"), Kind::Other("Widget".into()));
    assert_eq!(
        Kind::from_name("deployment"),
        Kind::Other("deployment".into())
    );
    assert_eq!(
        Kind::from_api_version("apps/v1", "Deployment"),
        Kind::Deployment
    );
    assert_eq!(
        Kind::from_api_version("extensions/v1beta1", "Deployment"),
        Kind::Deployment
    );
    assert_eq!(
        Kind::from_api_version("v1", "Deployment"),
        Kind::Other("Deployment".into())
    );
    assert_eq!(Kind::from_api_version("v1", "Pod"), Kind::Pod);
    assert_eq!(
        Kind::from_api_version("apps/v1", "Pod"),
        Kind::Other("Pod".into())
    );
    assert_eq!(
        Kind::from_api_version("a/b/c", "Pod"),
        Kind::Other("Pod".into())
    );
}

#[test]
fn spec_parses_from_text_and_skips_the_pod_template() {
    let text = full_deployment()["spec"].to_string();
    let spec: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(
        spec,
        Spec {
            replicas: Some(3),
            progress_deadline_seconds: Some(600),
            ..Spec::default()
        }
    );
    // It serializes back to just what it read.
    assert_eq!(
        serde_json::to_value(&spec).unwrap(),
        json!({"replicas": 3, "progressDeadlineSeconds": 600})
    );
}

#[test]
fn object_fields_from_json() {
    let object = Object::from_json(&full_deployment()).unwrap();
    assert_eq!(object.kind, Some(Kind::Deployment));
    assert_eq!(object.generation, Some(7));
    assert!(!object.deleting);
    assert_eq!(object.created, Some(1_698_916_440));
    assert_eq!(object.status.observed_generation, Some(7));
    assert_eq!(object.status.conditions.len(), 2);
    assert_eq!(
        object.status.conditions[1].reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    assert!(Object::from_json(&json!([1, 2])).is_err());
    assert!(Object::from_json(&json!({"metadata": "x"})).is_err());
}

#[test]
fn compute_uses_the_clock() {
    // A pod created "now" and unschedulable is still within kstatus' 15 s window.
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut object = Object::from_json(&pod(json!({"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]})))
    .unwrap();
    object.created = Some(created);
    assert_eq!(compute(&object).message, "Pod has not been scheduled");
    object.created = None;
    assert_eq!(compute(&object).status, Status::Failed);
}

#[test]
fn default_object_is_current() {
    assert_eq!(
        compute(&Object::default()),
        Outcome::new(Status::Current, "Resource is current")
    );
}
