//! The naming rule: which service a pod belongs to. Names follow the controller, so a
//! Deployment's badge URL survives rollouts (the old project used `generateName`, which
//! changes with every new ReplicaSet).

use super::model::PodInfo;
use super::workload::WorkloadKind;

/// Whether `name` can be a service: what Kubernetes allows in object names (lowercase
/// letters, digits, `-`, and `.` for `<name>.<namespace>`), which is also safe in a URL path.
pub fn is_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=253).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
}

/// Fewest digits of the scheduled time the CronJob controller appends to a Job's name (minutes
/// since the epoch: 8 digits from 1970-03 to 2160). Fewer, as in `migrate-2`, is a Job's own name.
const MIN_CRON_RUN_DIGITS: usize = 8;

/// The service a pod belongs to, or `None` for a bare pod (no controller, no `generateName`)
/// and for a pod whose name or namespace would not make a service name ([`is_service_name`]):
/// the API server validates names, a pods file or a misbehaving server may not, and a name that
/// could not be addressed is listed nowhere (`/services/`, `/catalog`, `/`).
pub fn service_name(pod: &PodInfo) -> Option<&str> {
    controller_name(pod).filter(|name| is_service_name(name) && is_service_name(&pod.namespace))
}

/// The name [`service_name`] derives, before it is validated: the name of the pod's workload
/// ([`workload_of`]), any other controller's own name (a ReplicationController), or for a pod
/// without a controller its `generateName` minus the trailing `-`.
fn controller_name(pod: &PodInfo) -> Option<&str> {
    if let Some(owner) = &pod.controller {
        return Some(workload_of(pod).map_or(owner.name.as_str(), |(_, name)| name));
    }
    let generate_name = pod.generate_name.as_deref()?;
    let name = generate_name.strip_suffix('-').unwrap_or(generate_name);
    (!name.is_empty()).then_some(name)
}

/// The workload a pod belongs to, whose name is its service's: a ReplicaSet named
/// `<deployment>-<pod-template-hash>` maps to the Deployment; a Job named `<cronjob>-<scheduled
/// minute>` (as the CronJob controller names them) to the CronJob; a DaemonSet, StatefulSet,
/// Job or plain ReplicaSet to itself. `None` without a controller or for other kinds.
pub fn workload_of(pod: &PodInfo) -> Option<(WorkloadKind, &str)> {
    let owner = pod.controller.as_ref()?;
    if owner.kind == "ReplicaSet"
        && let Some(hash) = pod.label("pod-template-hash")
        && let Some(deployment) = owner
            .name
            .strip_suffix(hash)
            .and_then(|rest| rest.strip_suffix('-'))
        && !deployment.is_empty()
    {
        return Some((WorkloadKind::Deployment, deployment));
    }
    if let Some((cronjob, _)) = cron_run(pod) {
        return Some((WorkloadKind::CronJob, cronjob));
    }
    Some((WorkloadKind::from_name(&owner.kind)?, &owner.name))
}

/// For a pod of a Job the CronJob controller made: the CronJob's name and the run's scheduled
/// minute, which orders runs (the latest run is the one a CronJob's health shows).
pub fn cron_run(pod: &PodInfo) -> Option<(&str, u64)> {
    let owner = pod
        .controller
        .as_ref()
        .filter(|owner| owner.kind == "Job")?;
    let (cronjob, minute) = owner.name.rsplit_once('-')?;
    let is_scheduled_minute = minute.len() >= MIN_CRON_RUN_DIGITS
        && !minute.starts_with('0')
        && minute.bytes().all(|b| b.is_ascii_digit());
    if cronjob.is_empty() || !is_scheduled_minute {
        return None;
    }
    Some((cronjob, minute.parse().ok()?))
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
    #[case::job_of_a_cron_job(pod("nightly-29001000-abcde").controller("Job", "nightly-29001000"), Some("nightly"))]
    #[case::cron_job_with_dashes(pod("db-backup-29001000-x").controller("Job", "db-backup-29001000"), Some("db-backup"))]
    #[case::job_ending_in_a_short_number(pod("migrate-2-abcde").controller("Job", "migrate-2"), Some("migrate-2"))]
    #[case::job_ending_in_a_leading_zero(pod("export-01234567-x").controller("Job", "export-01234567"), Some("export-01234567"))]
    #[case::plain_job(pod("migrate-abcde").controller("Job", "migrate"), Some("migrate"))]
    #[case::replica_set_named_like_a_cron_run(pod("cache-29001000-x").controller("ReplicaSet", "cache-29001000"), Some("cache-29001000"))]
    #[case::generate_name_without_controller(pod("worker-abcde").generate_name("worker-"), Some("worker"))]
    #[case::bare_pod(pod("debug-shell"), None)]
    #[case::markup_controller(pod("x").controller("ReplicaSet", "<script>"), None)]
    #[case::upper_case_controller(pod("x").controller("StatefulSet", "UPPER"), None)]
    #[case::non_ascii_controller(pod("x").controller("DaemonSet", "café"), None)]
    #[case::line_break_in_generate_name(pod("x").generate_name("a\r\nb-"), None)]
    #[case::right_to_left_override(pod("x").controller("Job", "web\u{202e}gpj"), None)]
    #[case::invalid_namespace(PodBuilder::new("Prod", "web-7d4b9c-x2x9p").deployment("web", "7d4b9c"), None)]
    fn service_of_a_pod(#[case] pod: PodBuilder, #[case] expected: Option<&str>) {
        let info = PodInfo::from(&pod.build());
        assert_eq!(service_name(&info), expected);
    }

    #[rstest]
    #[case::deployment(pod("web-7d4b9c-x2x9p").deployment("web", "7d4b9c"), Some((WorkloadKind::Deployment, "web")))]
    #[case::plain_replica_set(pod("cache-k2j4h").controller("ReplicaSet", "cache"), Some((WorkloadKind::ReplicaSet, "cache")))]
    #[case::stateful_set(pod("db-0").controller("StatefulSet", "db"), Some((WorkloadKind::StatefulSet, "db")))]
    #[case::daemon_set(pod("agent-q8w7e").controller("DaemonSet", "agent"), Some((WorkloadKind::DaemonSet, "agent")))]
    #[case::cron_job_run(pod("nightly-29001000-abcde").controller("Job", "nightly-29001000"), Some((WorkloadKind::CronJob, "nightly")))]
    #[case::plain_job(pod("migrate-abcde").controller("Job", "migrate"), Some((WorkloadKind::Job, "migrate")))]
    #[case::replication_controller(pod("legacy-x7k2p").controller("ReplicationController", "legacy"), None)]
    #[case::bare_pod(pod("debug-shell").generate_name("debug-"), None)]
    fn workload_of_a_pod(#[case] pod: PodBuilder, #[case] expected: Option<(WorkloadKind, &str)>) {
        let info = PodInfo::from(&pod.build());
        assert_eq!(workload_of(&info), expected);
    }

    #[rstest]
    #[case::deployment("web", true)]
    #[case::qualified("web.prod", true)]
    #[case::digits("0day", true)]
    #[case::empty("", false)]
    #[case::upper("Web", false)]
    #[case::space("my web", false)]
    #[case::leading_dash("-web", false)]
    #[case::slash_encoded("a%2Fb", false)]
    fn service_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(is_service_name(name), valid);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// `name` percent-encoded as a URL path segment, keeping `also` as they are.
        fn as_path_segment(name: &str, also: &[(&str, &str)]) -> String {
            let encoded =
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
            also.iter()
                .fold(encoded.to_string(), |text, (escaped, kept)| {
                    text.replace(escaped, kept)
                })
        }

        proptest! {
            /// A service name the URL accepts is a path segment as it is: nothing to escape, no
            /// `/`, `%`, `?` or `#` to change what the path means.
            #[test]
            fn accepted_service_names_need_no_escaping(name in "\\PC{0,80}") {
                if is_service_name(&name) {
                    prop_assert_eq!(as_path_segment(&name, &[("%2D", "-"), ("%2E", ".")]), name);
                }
            }

            /// The same holds for check names, and a plugin may never offer `health`.
            #[test]
            fn accepted_check_names_need_no_escaping(name in "\\PC{0,80}") {
                use kube_shields_check_name::{is_check_name, is_plugin_check_name};
                if is_check_name(&name) {
                    prop_assert_eq!(as_path_segment(&name, &[("%2D", "-"), ("%5F", "_")]), name.clone());
                }
                prop_assert!(!(is_plugin_check_name(&name) && name == "health"));
            }
        }
    }
}
