//! The naming rule: which service a pod belongs to. Names follow the controller, so a
//! Deployment's badge URL survives rollouts (the old project used `generateName`, which
//! changes with every new ReplicaSet).

use super::model::PodInfo;

/// The service a pod belongs to, or `None` for a bare pod (no controller, no `generateName`).
///
/// A ReplicaSet named `<deployment>-<pod-template-hash>` maps to the Deployment; any other
/// controller (DaemonSet, StatefulSet, ReplicationController, Job, a plain ReplicaSet) maps to
/// its own name; a pod without a controller maps to its `generateName` minus the trailing `-`.
pub fn service_name(pod: &PodInfo) -> Option<&str> {
    if let Some(owner) = &pod.controller {
        if owner.kind == "ReplicaSet"
            && let Some(hash) = pod.labels.get("pod-template-hash")
            && let Some(deployment) = owner
                .name
                .strip_suffix(hash.as_str())
                .and_then(|rest| rest.strip_suffix('-'))
            && !deployment.is_empty()
        {
            return Some(deployment);
        }
        return Some(&owner.name);
    }
    let generate_name = pod.generate_name.as_deref()?;
    let name = generate_name.strip_suffix('-').unwrap_or(generate_name);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use fake_apiserver::PodBuilder;
    use rstest::rstest;

    use super::*;

    fn pod(name: &str) -> PodBuilder {
        PodBuilder::new("default", name)
    }

    #[rstest]
    #[case::deployment_replica_set_with_hash(pod("web-7d4b9c-x2x9p").deployment("web", "7d4b9c"), Some("web"))]
    #[case::deployment_name_with_dashes(pod("my-web-app-5f7c8d9b6-abcde").deployment("my-web-app", "5f7c8d9b6"), Some("my-web-app"))]
    #[case::plain_replica_set(pod("cache-k2j4h").controller("ReplicaSet", "cache"), Some("cache"))]
    #[case::replica_set_whose_name_lacks_the_hash(
        pod("cache-k2j4h").controller("ReplicaSet", "cache").label("pod-template-hash", "7d4b9c"), Some("cache"))]
    #[case::daemon_set(pod("node-agent-q8w7e").controller("DaemonSet", "node-agent"), Some("node-agent"))]
    #[case::stateful_set(pod("db-0").controller("StatefulSet", "db"), Some("db"))]
    #[case::replication_controller(pod("legacy-x7k2p").controller("ReplicationController", "legacy"), Some("legacy"))]
    #[case::job(pod("migrate-29000000-abcde").controller("Job", "migrate-29000000"), Some("migrate-29000000"))]
    #[case::generate_name_without_controller(pod("worker-abcde").generate_name("worker-"), Some("worker"))]
    #[case::bare_pod(pod("debug-shell"), None)]
    fn service_of_a_pod(#[case] pod: PodBuilder, #[case] expected: Option<&str>) {
        let info = PodInfo::from(&pod.build());
        assert_eq!(service_name(&info), expected);
    }
}
