//! Pods behave as they did before the workload kinds: the same JSON, selectors, messages.

mod common;

use common::{Watch, get, names, summary};
use fake_apiserver::{DeploymentBuilder, FakeApiServer, PodBuilder};
use serde_json::json;

#[tokio::test]
async fn pod_lists_carry_pods_as_k8s_openapi_serializes_them() {
    let fake = FakeApiServer::start().await;
    let pod = PodBuilder::new("ns", "web-1")
        .deployment("web", "5f7c")
        .build();
    let rv = fake.upsert(pod.clone());
    let (code, list) = get(&fake, "/api/v1/namespaces/ns/pods").await;
    assert_eq!(code, 200);
    assert_eq!(
        (list["kind"].as_str(), list["apiVersion"].as_str()),
        (Some("PodList"), Some("v1"))
    );
    let mut expected = serde_json::to_value(&pod).unwrap();
    expected["metadata"]["resourceVersion"] = json!(rv.to_string());
    expected["metadata"]["uid"] = list["items"][0]["metadata"]["uid"].clone();
    assert_eq!(list["items"][0], expected);
    assert_eq!(
        serde_json::to_string(&list["items"][0]).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "same field order"
    );
    assert_eq!(fake.list_requests(), 1);
}

#[tokio::test]
async fn pod_selectors_paging_and_forbidden_messages_are_unchanged() {
    let fake = FakeApiServer::builder()
        .forbid_namespace("secret")
        .start()
        .await;
    fake.upsert(PodBuilder::new("a", "p1").node("n1").build());
    fake.upsert(PodBuilder::new("a", "p2").phase("Succeeded").build());
    fake.upsert(PodBuilder::new("b", "p3").label("tier", "db").build());
    // A Deployment's change is no pod change.
    fake.upsert_object(DeploymentBuilder::new("a", "p1").build());

    let (_, running) = get(&fake, "/api/v1/pods?fieldSelector=status.phase%3DRunning").await;
    assert_eq!(names(&running), ["p1", "p3"]);
    let (_, on_n1) = get(&fake, "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1").await;
    assert_eq!(names(&on_n1), ["p1"]);
    let (_, db) = get(&fake, "/api/v1/pods?labelSelector=tier").await;
    assert_eq!(names(&db), ["p3"]);
    let (code, bad) = get(&fake, "/api/v1/pods?fieldSelector=status.hostIP%3Dx").await;
    assert_eq!(
        (code, bad["message"].as_str()),
        (400, Some("field label not supported: status.hostIP"))
    );
    let (code, _) = get(
        &fake,
        "/apis/apps/v1/deployments?fieldSelector=status.phase%3DRunning",
    )
    .await;
    assert_eq!(code, 400, "pod fields are pods' only");

    let (_, page) = get(&fake, "/api/v1/pods?limit=2").await;
    assert_eq!(names(&page), ["p1", "p2"]);
    let rv = page["metadata"]["resourceVersion"].as_str().unwrap();
    assert_eq!(page["metadata"]["continue"], format!("{rv}/a/p2"));

    let (code, status) = get(&fake, "/api/v1/namespaces/secret/pods").await;
    assert_eq!(code, 403);
    assert_eq!(
        status,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "pods is forbidden: User \"system:serviceaccount:default:kube-shields\" \
                        cannot list resource \"pods\" in API group \"\" in the namespace \"secret\"",
            "reason": "Forbidden", "details": { "kind": "pods" }, "code": 403,
        })
    );
}

#[tokio::test]
async fn a_pod_watch_sees_only_pods_and_pod_bookmarks() {
    let fake = FakeApiServer::builder()
        .bookmark_interval(std::time::Duration::from_millis(50))
        .start()
        .await;
    let rv = fake.resource_version();
    let mut watch = Watch::open(
        &fake,
        &format!("/api/v1/pods?watch=true&resourceVersion={rv}&allowWatchBookmarks=true"),
    )
    .await;
    fake.upsert_object(DeploymentBuilder::new("a", "web").build());
    let pod = DeploymentBuilder::new("a", "web").pod(0).build();
    let name = pod.metadata.name.clone().unwrap();
    fake.upsert(pod);
    assert_eq!(
        summary(&watch.next_event().await),
        ("ADDED".into(), name.clone())
    );
    let bookmark = watch.next().await.unwrap();
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "Pod");
    assert_eq!(bookmark["object"]["apiVersion"], "v1");
    assert!(fake.delete("a", &name));
    assert!(!fake.delete("a", "web"), "the Deployment is no pod");
    assert_eq!(summary(&watch.next_event().await), ("DELETED".into(), name));
}
