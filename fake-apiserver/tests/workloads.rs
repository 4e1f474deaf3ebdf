//! The workload kinds over list and watch, as kube-apiserver serves them.

mod common;

use std::time::Duration;

use common::{Watch, get, kube_client, names, summary};
use fake_apiserver::{
    CronJobBuilder, DaemonSetBuilder, DeploymentBuilder, FakeApiServer, JobBuilder, PodBuilder,
    ReplicaSetBuilder, StatefulSetBuilder,
};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::watcher;
use serde_json::json;

#[tokio::test]
async fn deployments_list_in_all_namespaces_and_in_one() {
    let fake = FakeApiServer::start().await;
    fake.upsert_object(DeploymentBuilder::new("team-b", "api").build());
    fake.upsert_object(DeploymentBuilder::new("team-a", "web").replicas(3).build());
    fake.upsert_object(DeploymentBuilder::new("team-a", "cache").build());
    fake.upsert_object(StatefulSetBuilder::new("team-a", "db").build());
    fake.upsert(PodBuilder::new("team-a", "web-1").build());

    let (code, all) = get(&fake, "/apis/apps/v1/deployments").await;
    assert_eq!(code, 200);
    assert_eq!(all["kind"], "DeploymentList");
    assert_eq!(all["apiVersion"], "apps/v1");
    assert_eq!(
        all["metadata"]["resourceVersion"],
        fake.resource_version().to_string()
    );
    assert_eq!(names(&all), ["cache", "web", "api"], "namespace, then name");
    assert_eq!(all["items"][1]["kind"], "Deployment");
    assert_eq!(all["items"][1]["spec"]["replicas"], 3);

    let (code, team_a) = get(&fake, "/apis/apps/v1/namespaces/team-a/deployments").await;
    assert_eq!(code, 200);
    assert_eq!(names(&team_a), ["cache", "web"]);

    let (_, selected) = get(&fake, "/apis/apps/v1/deployments?labelSelector=app%3Dweb").await;
    assert_eq!(names(&selected), ["web"]);
    let (_, by_name) = get(
        &fake,
        "/apis/apps/v1/deployments?fieldSelector=metadata.name%3Dapi",
    )
    .await;
    assert_eq!(names(&by_name), ["api"]);

    // Paged: the continue token carries the list's resource version.
    let (_, first) = get(&fake, "/apis/apps/v1/deployments?limit=2").await;
    assert_eq!(names(&first), ["cache", "web"]);
    let token = first["metadata"]["continue"].as_str().expect("continue");
    fake.upsert_object(DeploymentBuilder::new("team-c", "late").build());
    let (_, rest) = get(
        &fake,
        &format!("/apis/apps/v1/deployments?limit=2&continue={token}"),
    )
    .await;
    assert_eq!(names(&rest), ["api", "late"]);
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert!(rest["metadata"].get("continue").is_none());

    // kube's typed API reads them.
    let api = Api::<Deployment>::namespaced(kube_client(&fake), "team-a");
    let listed = api.list(&ListParams::default()).await.expect("list");
    assert_eq!(listed.items.len(), 2);
    assert_eq!(fake.requests("deployments").lists, 7);
    assert_eq!(fake.list_requests(), 0, "list_requests counts pods only");
}

#[tokio::test]
async fn every_workload_kind_is_served_at_its_group_version() {
    let fake = FakeApiServer::start().await;
    fake.upsert_object(StatefulSetBuilder::new("ns", "db").build());
    fake.upsert_object(DaemonSetBuilder::new("ns", "agent").build());
    fake.upsert_object(ReplicaSetBuilder::new("ns", "rs").build());
    fake.upsert_object(JobBuilder::new("ns", "once").build());
    fake.upsert_object(CronJobBuilder::new("ns", "nightly").build());
    for (path, list_kind, name) in [
        ("/apis/apps/v1/statefulsets", "StatefulSetList", "db"),
        (
            "/apis/apps/v1/namespaces/ns/daemonsets",
            "DaemonSetList",
            "agent",
        ),
        ("/apis/apps/v1/replicasets", "ReplicaSetList", "rs"),
        ("/apis/batch/v1/namespaces/ns/jobs", "JobList", "once"),
        ("/apis/batch/v1/cronjobs", "CronJobList", "nightly"),
    ] {
        let (code, list) = get(&fake, path).await;
        assert_eq!(code, 200, "{path}");
        assert_eq!(list["kind"], list_kind, "{path}");
        assert_eq!(names(&list), [name], "{path}");
    }
    let (code, status) = get(&fake, "/apis/apps/v1/controllerrevisions").await;
    assert_eq!((code, status["reason"].as_str()), (404, Some("NotFound")));
    let (code, _) = get(&fake, "/apis/batch/v1/deployments").await;
    assert_eq!(code, 404, "a resource only at its own group");
}

#[tokio::test]
async fn one_resource_version_counter_for_every_kind() {
    let fake = FakeApiServer::start().await;
    let pod = fake.upsert(PodBuilder::new("ns", "p").build());
    let deployment = fake.upsert_object(DeploymentBuilder::new("ns", "d").build());
    let job = fake.upsert_object(JobBuilder::new("ns", "j").build());
    assert_eq!([deployment, job], [pod + 1, pod + 2]);
    assert!(fake.delete_object::<Deployment>("ns", "d"));
    assert!(!fake.delete_object::<Deployment>("ns", "d"));
    assert!(!fake.delete_object::<Job>("ns", "d"), "keyed by kind too");
    assert_eq!(fake.resource_version(), job + 1);
    let (_, pods) = get(&fake, "/api/v1/pods").await;
    assert_eq!(pods["metadata"]["resourceVersion"], (job + 1).to_string());
}

#[tokio::test]
async fn a_statefulset_watch_sees_added_modified_deleted() {
    let fake = FakeApiServer::start().await;
    let (_, list) = get(&fake, "/apis/apps/v1/namespaces/ns/statefulsets").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut watch = Watch::open(
        &fake,
        &format!("/apis/apps/v1/namespaces/ns/statefulsets?watch=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(watch.code, 200);
    fake.upsert_object(StatefulSetBuilder::new("other", "db").build());
    fake.upsert_object(DeploymentBuilder::new("ns", "db").build());
    fake.upsert(PodBuilder::new("ns", "db-0").build());
    fake.upsert_object(StatefulSetBuilder::new("ns", "db").replicas(3).build());
    fake.upsert_object(
        StatefulSetBuilder::new("ns", "db")
            .replicas(3)
            .updating(1)
            .build(),
    );
    fake.delete_object::<StatefulSet>("ns", "db");

    let added = watch.next_event().await;
    assert_eq!(summary(&added), ("ADDED".into(), "db".into()));
    assert_eq!(added["object"]["kind"], "StatefulSet");
    assert_eq!(added["object"]["apiVersion"], "apps/v1");
    assert_eq!(added["object"]["metadata"]["namespace"], "ns");
    let modified = watch.next_event().await;
    assert_eq!(summary(&modified), ("MODIFIED".into(), "db".into()));
    assert_eq!(modified["object"]["status"]["updatedReplicas"], 1);
    let deleted = watch.next_event().await;
    assert_eq!(summary(&deleted), ("DELETED".into(), "db".into()));
    assert_eq!(
        deleted["object"]["metadata"]["resourceVersion"],
        fake.resource_version().to_string()
    );

    // Replay after a resource version: the same three, and nothing of other kinds.
    let mut replay = Watch::open(
        &fake,
        &format!("/apis/apps/v1/statefulsets?watch=true&resourceVersion={rv}&timeoutSeconds=1"),
    )
    .await;
    let mut seen = Vec::new();
    while let Some(event) = replay.next().await {
        seen.push(summary(&event));
    }
    let expected: Vec<(String, String)> = [
        ("ADDED", "db"),
        ("ADDED", "db"),
        ("MODIFIED", "db"),
        ("DELETED", "db"),
    ]
    .iter()
    .map(|(t, n)| ((*t).to_owned(), (*n).to_owned()))
    .collect();
    assert_eq!(seen, expected, "other/db, then ns/db");
}

#[tokio::test]
async fn kube_watcher_follows_statefulsets() {
    let fake = FakeApiServer::builder()
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await;
    fake.upsert_object(StatefulSetBuilder::new("ns", "db").build());
    let api = Api::<StatefulSet>::all(kube_client(&fake));
    let mut events = watcher(api, watcher::Config::default()).boxed();
    let mut next = async || {
        tokio::time::timeout(common::WAIT, events.try_next())
            .await
            .expect("an event in time")
            .expect("no watcher error")
            .expect("the stream goes on")
    };
    assert!(matches!(next().await, watcher::Event::Init));
    let watcher::Event::InitApply(first) = next().await else {
        panic!("InitApply first")
    };
    assert_eq!(first.metadata.name.as_deref(), Some("db"));
    assert!(matches!(next().await, watcher::Event::InitDone));

    fake.upsert_object(
        StatefulSetBuilder::new("ns", "db")
            .partitioned_update(2, 1)
            .build(),
    );
    let watcher::Event::Apply(modified) = next().await else {
        panic!("Apply")
    };
    let status = modified.status.expect("status");
    assert_ne!(status.current_revision, status.update_revision);
    fake.delete_object::<StatefulSet>("ns", "db");
    let watcher::Event::Delete(deleted) = next().await else {
        panic!("Delete")
    };
    assert_eq!(deleted.metadata.name.as_deref(), Some("db"));
    assert_eq!(fake.requests("statefulsets").watches, 1);
    assert_eq!(fake.watch_requests(), 0, "watch_requests counts pods only");
}

#[tokio::test]
async fn kube_watcher_streams_lists_of_jobs() {
    let fake = FakeApiServer::builder().watch_list(true).start().await;
    fake.upsert_object(
        CronJobBuilder::new("ns", "nightly")
            .job(29_000_000)
            .complete()
            .build(),
    );
    let api = Api::<Job>::all(kube_client(&fake));
    let config = watcher::Config::default().streaming_lists();
    let mut events = watcher(api, config).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(common::WAIT, events.try_next()).await {
            Ok(Ok(Some(watcher::Event::InitDone))) => break,
            Ok(Ok(Some(watcher::Event::InitApply(job)))) => initial.push(job),
            Ok(Ok(Some(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial.len(), 1);
    assert_eq!(
        initial[0].metadata.name.as_deref(),
        Some("nightly-29000000")
    );
    assert_eq!(fake.requests("jobs").watch_lists, 1);
    assert_eq!(fake.requests("jobs").lists, 0);
    assert_eq!(fake.watch_list_requests(), 0);
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let fake = FakeApiServer::start().await;
    let generation = || {
        fake.object::<Deployment>("ns", "web")
            .expect("stored")
            .metadata
            .generation
            .expect("generation")
    };
    let web = || DeploymentBuilder::new("ns", "web").replicas(2);
    fake.upsert_object(web().build());
    assert_eq!(generation(), 1);
    fake.upsert_object(web().rolling_out(1, 1, 1).build());
    assert_eq!(generation(), 1, "status only");
    fake.upsert_object(web().replicas(3).build());
    assert_eq!(generation(), 2, "spec.replicas");
    fake.upsert_object(web().replicas(3).generation(7).build());
    assert_eq!(generation(), 2, "a replace's own generation is ignored");
    fake.upsert_object(web().replicas(3).image("registry.example/app:2.0").build());
    assert_eq!(generation(), 3, "the pod template");
    let stored = fake.object::<Deployment>("ns", "web").unwrap();
    assert_eq!(
        stored.status.unwrap().observed_generation,
        Some(1),
        "the builder's observedGeneration is kept: the controller is behind"
    );
    fake.upsert_object(
        web()
            .replicas(3)
            .image("registry.example/app:2.0")
            .label("x", "y")
            .build(),
    );
    assert_eq!(generation(), 3, "metadata only");
    fake.upsert_object(
        web()
            .replicas(3)
            .image("registry.example/app:2.0")
            .deleting()
            .build(),
    );
    assert_eq!(generation(), 4, "deletion started");
    fake.upsert_object(
        web()
            .replicas(3)
            .image("registry.example/app:2.0")
            .deleting()
            .build(),
    );
    assert_eq!(generation(), 4, "still being deleted");

    // A new object keeps the generation it comes with; the watch sees the stamped one.
    fake.upsert_object(
        StatefulSetBuilder::new("ns", "db")
            .generation(5)
            .observed_generation(4)
            .build(),
    );
    let (_, list) = get(&fake, "/apis/apps/v1/statefulsets").await;
    assert_eq!(list["items"][0]["metadata"]["generation"], 5);
    assert_eq!(list["items"][0]["status"]["observedGeneration"], 4);
    assert!(list["items"][0]["metadata"]["uid"].is_string());

    // Pods have none, as before.
    fake.upsert(PodBuilder::new("ns", "p").build());
    fake.upsert(PodBuilder::new("ns", "p").phase("Succeeded").build());
    assert_eq!(
        fake.object::<Pod>("ns", "p").unwrap().metadata.generation,
        None
    );
}

#[tokio::test]
async fn a_forbidden_resource_gets_403_at_every_scope() {
    let fake = FakeApiServer::builder()
        .forbid_resource("deployments")
        .start()
        .await;
    fake.upsert_object(DeploymentBuilder::new("ns", "web").build());
    let (code, status) = get(&fake, "/apis/apps/v1/deployments").await;
    assert_eq!(code, 403);
    assert_eq!(
        status,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "deployments.apps is forbidden: User \"system:serviceaccount:default:kube-shields\" \
                        cannot list resource \"deployments\" in API group \"apps\" at the cluster scope",
            "reason": "Forbidden", "details": { "group": "apps", "kind": "deployments" }, "code": 403,
        })
    );
    let (code, status) = get(&fake, "/apis/apps/v1/namespaces/ns/deployments?watch=true").await;
    assert_eq!(code, 403);
    assert_eq!(
        status["message"],
        "deployments.apps is forbidden: User \"system:serviceaccount:default:kube-shields\" \
         cannot watch resource \"deployments\" in API group \"apps\" in the namespace \"ns\""
    );
    let error = Api::<Deployment>::namespaced(kube_client(&fake), "ns")
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    let kube::Error::Api(response) = error else {
        panic!("an API error, got {error:?}")
    };
    assert_eq!(
        (response.code, response.reason.as_str()),
        (403, "Forbidden")
    );

    // Other resources are allowed.
    let (code, _) = get(&fake, "/apis/apps/v1/statefulsets").await;
    assert_eq!(code, 200);
    let (code, _) = get(&fake, "/api/v1/pods").await;
    assert_eq!(code, 200);
    assert_eq!(
        fake.requests("deployments").lists,
        0,
        "refusals are not counted"
    );
}

#[tokio::test]
async fn namespace_scopes_and_tokens_apply_to_workloads_too() {
    let fake = FakeApiServer::builder()
        .token("secret")
        .forbid_namespace("kube-system")
        .start()
        .await;
    let (code, _) = get(&fake, "/apis/batch/v1/cronjobs").await;
    assert_eq!(code, 401);
    let mut config = kube::Config::new(fake.url().parse().unwrap());
    config.auth_info.token = Some("secret".to_owned().into());
    let client = kube::Client::try_from(config).unwrap();
    let listed = Api::<CronJob>::all(client.clone())
        .list(&ListParams::default())
        .await;
    assert!(listed.is_ok(), "{listed:?}");
    let error = Api::<CronJob>::namespaced(client, "kube-system")
        .list(&ListParams::default())
        .await
        .expect_err("forbidden");
    let kube::Error::Api(response) = error else {
        panic!("{error:?}")
    };
    assert_eq!(response.code, 403);
    assert_eq!(
        response.message,
        "cronjobs.batch is forbidden: User \"system:serviceaccount:default:kube-shields\" cannot \
         list resource \"cronjobs\" in API group \"batch\" in the namespace \"kube-system\""
    );
}

#[tokio::test]
async fn compaction_expires_a_workload_watch() {
    let fake = FakeApiServer::start().await;
    let (_, list) = get(&fake, "/apis/apps/v1/daemonsets").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.upsert_object(DaemonSetBuilder::new("ns", "agent").desired(3).build());
    fake.compact();
    let mut watch = Watch::open(
        &fake,
        &format!("/apis/apps/v1/daemonsets?watch=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(watch.code, 200);
    let error = watch.next().await.expect("an event");
    assert_eq!(error["type"], "ERROR");
    assert_eq!(error["object"]["code"], 410);
    assert_eq!(error["object"]["reason"], "Expired");
    assert!(watch.next().await.is_none(), "then the response ends");
    assert_eq!(fake.requests("daemonsets").expired, 1);
    assert_eq!(
        fake.expired_watches(),
        0,
        "expired_watches counts pods only"
    );

    // From the current version it goes on.
    let now = fake.resource_version();
    let mut watch = Watch::open(
        &fake,
        &format!("/apis/apps/v1/daemonsets?watch=true&resourceVersion={now}"),
    )
    .await;
    fake.upsert_object(
        DaemonSetBuilder::new("ns", "agent")
            .desired(3)
            .available(2)
            .build(),
    );
    assert_eq!(
        summary(&watch.next_event().await),
        ("MODIFIED".into(), "agent".into())
    );
}

#[tokio::test]
async fn workload_watches_send_bookmarks_and_end_on_drop_and_go_down() {
    let fake = FakeApiServer::builder()
        .bookmark_interval(Duration::from_millis(50))
        .start()
        .await;
    fake.upsert_object(ReplicaSetBuilder::new("ns", "rs").build());
    let mut watch = Watch::open(
        &fake,
        "/apis/apps/v1/replicasets?watch=true&allowWatchBookmarks=true",
    )
    .await;
    assert_eq!(
        summary(&watch.next().await.unwrap()),
        ("ADDED".into(), "rs".into())
    );
    let bookmark = watch.next().await.unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "ReplicaSet");
    assert_eq!(bookmark["object"]["apiVersion"], "apps/v1");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        fake.resource_version().to_string()
    );
    fake.drop_watches();
    while watch.next().await.is_some() {}

    // Held watches wait; changes meanwhile are replayed once released.
    fake.hold_watches();
    let rv = fake.resource_version();
    let path = format!("/apis/apps/v1/replicasets?watch=true&resourceVersion={rv}");
    let open = Watch::open(&fake, &path);
    tokio::pin!(open);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut open)
            .await
            .is_err(),
        "held"
    );
    fake.upsert_object(ReplicaSetBuilder::new("ns", "rs").replicas(2).build());
    fake.release_watches();
    let mut watch = open.await;
    assert_eq!(
        summary(&watch.next_event().await),
        ("MODIFIED".into(), "rs".into())
    );

    fake.go_down();
    while let Some(event) = watch.next().await {
        assert_eq!(event["type"], "BOOKMARK");
    }
    fake.come_back();
    let (code, list) = get(&fake, "/apis/apps/v1/replicasets").await;
    assert_eq!((code, names(&list)), (200, vec!["rs".to_owned()]));
}

#[tokio::test]
async fn a_watch_list_of_deployments_ends_its_initial_events_with_a_bookmark() {
    let fake = FakeApiServer::builder().watch_list(true).start().await;
    fake.upsert_object(DeploymentBuilder::new("ns", "web").build());
    let mut watch = Watch::open(
        &fake,
        "/apis/apps/v1/deployments?watch=true&sendInitialEvents=true&allowWatchBookmarks=true\
         &resourceVersionMatch=NotOlderThan",
    )
    .await;
    assert_eq!(
        summary(&watch.next().await.unwrap()),
        ("ADDED".into(), "web".into())
    );
    let end = watch.next().await.unwrap();
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(end["object"]["kind"], "Deployment");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );

    let refused = FakeApiServer::start().await;
    let (code, status) = get(
        &refused,
        "/apis/apps/v1/deployments?watch=true&sendInitialEvents=true&allowWatchBookmarks=true\
         &resourceVersionMatch=NotOlderThan",
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
}
