//! The workload builders write what the controllers write.

use fake_apiserver::{
    CronJobBuilder, DaemonSetBuilder, DeploymentBuilder, JobBuilder, ReplicaSetBuilder,
    StatefulSetBuilder,
};
use serde_json::{Value, json};

fn conditions(object: &Value) -> Vec<(String, String, String)> {
    object["status"]["conditions"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap().to_owned(),
                        c["status"].as_str().unwrap().to_owned(),
                        c["reason"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn owned(triples: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    triples
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn deployment_statuses() {
    let available =
        serde_json::to_value(DeploymentBuilder::new("ns", "web").replicas(4).build()).unwrap();
    assert_eq!(available["metadata"]["generation"], 1);
    assert_eq!(
        available["status"],
        json!({
            "availableReplicas": 4, "conditions": available["status"]["conditions"],
            "observedGeneration": 1, "readyReplicas": 4, "replicas": 4, "updatedReplicas": 4,
        })
    );
    assert_eq!(
        conditions(&available),
        owned(&[
            ("Available", "True", "MinimumReplicasAvailable"),
            ("Progressing", "True", "NewReplicaSetAvailable"),
        ])
    );

    let builder = DeploymentBuilder::new("ns", "web")
        .replicas(4)
        .rolling_out(1, 2, 2)
        .observed_generation(1)
        .generation(2);
    let rolling = serde_json::to_value(builder.build()).unwrap();
    assert_eq!(rolling["status"]["unavailableReplicas"], 2);
    assert_eq!(rolling["status"]["observedGeneration"], 1);
    assert_eq!(rolling["metadata"]["generation"], 2);
    assert_eq!(
        conditions(&rolling),
        owned(&[
            ("Available", "False", "MinimumReplicasUnavailable"),
            ("Progressing", "True", "ReplicaSetUpdated"),
        ])
    );
    let rs = builder.replica_set_name();
    assert_eq!(
        rolling["status"]["conditions"][1]["message"],
        format!("ReplicaSet \"{rs}\" is progressing.")
    );

    let stuck = serde_json::to_value(
        DeploymentBuilder::new("ns", "web")
            .replicas(4)
            .progress_deadline_exceeded()
            .build(),
    )
    .unwrap();
    assert_eq!(
        conditions(&stuck),
        owned(&[
            ("Available", "True", "MinimumReplicasAvailable"),
            ("Progressing", "False", "ProgressDeadlineExceeded"),
        ])
    );
    assert!(
        stuck["status"].get("updatedReplicas").is_none(),
        "omitempty"
    );

    let deleting = DeploymentBuilder::new("ns", "web").deleting().build();
    assert!(deleting.metadata.deletion_timestamp.is_some());

    // Its pods are its ReplicaSet's, hashed by template.
    let pod = builder.pod(3).build();
    let hash = builder.template_hash();
    assert_eq!(
        pod.metadata.labels.as_ref().unwrap()["pod-template-hash"],
        hash
    );
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("ReplicaSet", rs.as_str())
    );
    assert!(pod.metadata.name.unwrap().starts_with(&format!("{rs}-")));
    let replica_set = builder.replica_set().build();
    assert_eq!(replica_set.metadata.name.as_deref(), Some(rs.as_str()));
    assert_eq!(
        replica_set.metadata.uid.as_deref(),
        Some(owner.uid.as_str())
    );
    assert_eq!(
        replica_set.metadata.owner_references.unwrap()[0].kind,
        "Deployment"
    );
    let other = DeploymentBuilder::new("ns", "web").image("registry.example/app:2.0");
    assert_ne!(other.template_hash(), hash);
}

#[test]
fn statefulset_statuses() {
    let done = StatefulSetBuilder::new("ns", "db")
        .replicas(3)
        .build()
        .status
        .unwrap();
    assert_eq!(done.current_revision, done.update_revision);
    assert_eq!(
        (done.replicas, done.updated_replicas, done.current_replicas),
        (3, Some(3), Some(3))
    );

    let builder = StatefulSetBuilder::new("ns", "db")
        .replicas(3)
        .partitioned_update(2, 1);
    let set = builder.build();
    let status = set.status.unwrap();
    assert_ne!(status.current_revision, status.update_revision);
    assert_eq!(
        (status.updated_replicas, status.current_replicas),
        (Some(1), Some(2))
    );
    let strategy = set.spec.unwrap().update_strategy.unwrap();
    assert_eq!(strategy.rolling_update.unwrap().partition, Some(2));
    let newest = builder.pod(2).build();
    assert_eq!(
        newest.metadata.labels.unwrap()["controller-revision-hash"],
        status.update_revision.unwrap()
    );
    assert_eq!(newest.metadata.generate_name, None);

    let on_delete = StatefulSetBuilder::new("ns", "db")
        .on_delete()
        .updating(0)
        .build();
    assert_eq!(
        on_delete
            .spec
            .unwrap()
            .update_strategy
            .unwrap()
            .type_
            .as_deref(),
        Some("OnDelete")
    );
    assert_eq!(
        on_delete.status.unwrap().updated_replicas,
        None,
        "omitempty"
    );
}

#[test]
fn daemonset_and_replicaset_statuses() {
    let ds = DaemonSetBuilder::new("ns", "agent")
        .desired(5)
        .updated(3)
        .available(4)
        .build();
    let status = ds.status.unwrap();
    assert_eq!(
        (
            status.desired_number_scheduled,
            status.current_number_scheduled,
            status.updated_number_scheduled
        ),
        (5, 5, Some(3))
    );
    assert_eq!(
        (
            status.number_available,
            status.number_unavailable,
            status.number_ready
        ),
        (Some(4), Some(1), 4)
    );
    assert_eq!(status.observed_generation, Some(1));

    let rs = ReplicaSetBuilder::new("ns", "x")
        .of_deployment("web", "abc")
        .replicas(2)
        .ready(1)
        .build();
    assert_eq!(rs.metadata.name.as_deref(), Some("web-abc"));
    let status = rs.status.unwrap();
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.available_replicas
        ),
        (2, Some(1), Some(1))
    );
    let selector = rs.spec.unwrap().selector.match_labels.unwrap();
    assert_eq!(selector["pod-template-hash"], "abc");
    assert_eq!(selector["app"], "web");
}

#[test]
fn job_and_cronjob_statuses() {
    let cron = CronJobBuilder::new("ns", "nightly")
        .schedule("0 3 * * *")
        .running(29_000_000);
    let job = cron.job(29_000_000).build();
    assert_eq!(job.metadata.name.as_deref(), Some("nightly-29000000"));
    let owner = &job.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("CronJob", "nightly", Some(true))
    );
    let cron_job = cron.build();
    assert_eq!(owner.uid, cron_job.metadata.uid.clone().unwrap());
    let status = cron_job.status.unwrap();
    let active = &status.active.unwrap()[0];
    assert_eq!(active.name.as_deref(), Some("nightly-29000000"));
    assert_eq!(active.uid, job.metadata.uid);
    assert_eq!(
        status.last_schedule_time.unwrap().0.as_second(),
        29_000_000 * 60
    );
    let job_status = job.status.unwrap();
    assert_eq!(
        (job_status.active, job_status.ready, job_status.conditions),
        (Some(1), Some(1), None)
    );

    let done = serde_json::to_value(JobBuilder::new("ns", "once").complete().build()).unwrap();
    assert_eq!(
        conditions(&done),
        owned(&[
            ("SuccessCriteriaMet", "True", "CompletionsReached"),
            ("Complete", "True", "CompletionsReached")
        ])
    );
    assert_eq!(done["status"]["succeeded"], 1);
    assert!(done["status"].get("active").is_none());
    assert!(done["status"]["completionTime"].is_string());
    assert_eq!(done["status"]["uncountedTerminatedPods"], json!({}));

    let failed = serde_json::to_value(
        JobBuilder::new("ns", "once")
            .backoff_limit_exceeded()
            .build(),
    )
    .unwrap();
    assert_eq!(
        conditions(&failed),
        owned(&[
            ("FailureTarget", "True", "BackoffLimitExceeded"),
            ("Failed", "True", "BackoffLimitExceeded")
        ])
    );
    assert_eq!(failed["status"]["failed"], 7);
}
