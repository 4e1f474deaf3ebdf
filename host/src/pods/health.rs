//! The built-in `health` check: readiness and restarts of a service's pods, per DESIGN.

use std::sync::Arc;

use jiff::Timestamp;
use kube_shields_badge::Color;
use serde::{Deserialize, Serialize};

use super::model::PodInfo;
use super::naming::cron_run;

/// Health of a service (or a sum of services); serializes as the `?raw` answer
/// `{"ready":R,"total":T,"restarts":N,"color":C}`, plus `lastRun` for a CronJob whose latest
/// run is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Ready containers over the counted pods.
    pub ready: u32,
    /// Containers in the counted pods' specs.
    pub total: u32,
    /// Sum of the counted pods' container restarts.
    pub restarts: u32,
    /// `red`, `yellow`, `green`, or `lightgrey` when no pod is counted.
    pub color: Color,
    /// How a CronJob's latest run ended, once it has (its pods are then not counted).
    #[serde(rename = "lastRun", skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
}

/// How a CronJob's latest run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// Whether it succeeded.
    pub outcome: RunOutcome,
    /// When its last container finished, when the kubelet said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<Timestamp>,
    /// Seconds from then to the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_ago: Option<u64>,
}

/// The end of a run: `succeeded` (green) or `failed` (red).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// A pod of the run succeeded.
    Succeeded,
    /// Every pod of the run failed.
    Failed,
}

/// Health of a service's pods at `now`.
///
/// Pods in phase `Succeeded` are not counted. Red when a counted pod has fewer ready
/// containers than containers; else yellow when a pod restarted more than once every other day
/// (`restarts / max(whole days since creation, 1) > 0.5`); else green. No counted pods:
/// lightgrey. A CronJob's service (the index keeps its latest run's pods) whose run is over
/// says how it ended instead ([`finished_cron_run`]).
pub fn health(pods: &[Arc<PodInfo>], now: Timestamp) -> Health {
    if let Some(last_run) = finished_cron_run(pods, now) {
        let color = match last_run.outcome {
            RunOutcome::Succeeded => Color::GREEN,
            RunOutcome::Failed => Color::RED,
        };
        return Health {
            ready: 0,
            total: 0,
            restarts: 0,
            color,
            last_run: Some(last_run),
        };
    }
    let mut sum = Health {
        ready: 0,
        total: 0,
        restarts: 0,
        color: Color::LIGHTGREY,
        last_run: None,
    };
    let (mut any_unready, mut any_restarting) = (false, false);
    for pod in pods.iter().filter(|p| p.phase != "Succeeded") {
        let total = count(pod.containers.len());
        let ready = count(pod.containers.iter().filter(|c| c.ready).count());
        let restarts = restarts(pod);
        sum.ready += ready;
        sum.total += total;
        sum.restarts = sum.restarts.saturating_add(restarts);
        any_unready |= ready < total;
        any_restarting |= restarts_often(pod, restarts, now);
        sum.color = Color::GREEN;
    }
    if any_unready {
        sum.color = Color::RED;
    } else if any_restarting {
        sum.color = Color::YELLOW;
    }
    sum
}

/// The end of a CronJob's latest run: every pod is a CronJob's run and none is still running
/// (all `Succeeded` or `Failed`). Succeeded when any pod succeeded (a Job retries failed pods);
/// finished when its last container did. `None` while the run runs, and for other services.
fn finished_cron_run(pods: &[Arc<PodInfo>], now: Timestamp) -> Option<LastRun> {
    let over = |pod: &Arc<PodInfo>| pod.phase == "Succeeded" || pod.phase == "Failed";
    if pods.is_empty() || !pods.iter().all(|pod| cron_run(pod).is_some() && over(pod)) {
        return None;
    }
    let outcome = if pods.iter().any(|pod| pod.phase == "Succeeded") {
        RunOutcome::Succeeded
    } else {
        RunOutcome::Failed
    };
    let finished = pods
        .iter()
        .flat_map(|pod| &pod.containers)
        .filter_map(|container| container.finished)
        .max();
    let seconds_ago = finished.map(|at| now.duration_since(at).as_secs().max(0).unsigned_abs());
    Some(LastRun {
        outcome,
        finished,
        seconds_ago,
    })
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The pod's container restarts, summed.
fn restarts(pod: &PodInfo) -> u32 {
    pod.containers
        .iter()
        .map(|c| c.restart_count)
        .fold(0, u32::saturating_add)
}

/// A pod restarts often while it has lived fewer whole days (at least one) than this many per
/// restart: more than one restart every other day.
const DAYS_PER_RESTART: i64 = 2;
const DAY_SECONDS: i64 = 86_400;

/// Whether the pod restarts often at `now` (see [`DAYS_PER_RESTART`]).
fn restarts_often(pod: &PodInfo, restarts: u32, now: Timestamp) -> bool {
    let days = pod
        .created
        .map_or(0, |created| {
            now.duration_since(created).as_secs() / DAY_SECONDS
        })
        .max(1);
    days < DAYS_PER_RESTART * i64::from(restarts)
}

/// The first moment after `now` at which [`health`] of the same pods may answer otherwise: by
/// the clock alone, only [`restarts_often`] changes, and only once per pod, when its age
/// reaches [`DAYS_PER_RESTART`] days per restart. `None`: never.
pub fn next_change(pods: &[Arc<PodInfo>], now: Timestamp) -> Option<Timestamp> {
    pods.iter()
        .filter(|pod| pod.phase != "Succeeded")
        .filter_map(|pod| {
            let restarts = restarts(pod);
            let age = jiff::SignedDuration::from_secs(
                DAYS_PER_RESTART * i64::from(restarts) * DAY_SECONDS,
            );
            // Out of jiff's range is never.
            let calm_from = pod.created?.checked_add(age).ok()?;
            (restarts > 0 && calm_from > now).then_some(calm_from)
        })
        .min()
}

impl Health {
    /// The badge text: `R/T (N restarts)`, `restart` when N is 1, `succeeded` or `failed` for a
    /// CronJob's finished run, or `no pods` (lightgrey with nothing counted: a peer's counts in
    /// a color outside shields' set keep their counts).
    pub fn status_text(&self) -> String {
        if let Some(run) = &self.last_run {
            return match run.outcome {
                RunOutcome::Succeeded => "succeeded".to_owned(),
                RunOutcome::Failed => "failed".to_owned(),
            };
        }
        if self.color == Color::LIGHTGREY && self.total == 0 {
            return "no pods".to_owned();
        }
        let noun = if self.restarts == 1 {
            "restart"
        } else {
            "restarts"
        };
        format!("{}/{} ({} {noun})", self.ready, self.total, self.restarts)
    }

    /// The health of several services together (`/a/<prefix>/health/`): ready, total and
    /// restarts add up; the worst color wins; lightgrey only when every part has no pods.
    pub fn sum(parts: impl IntoIterator<Item = Health>) -> Health {
        let none = Health {
            ready: 0,
            total: 0,
            restarts: 0,
            color: Color::LIGHTGREY,
            last_run: None,
        };
        parts.into_iter().fold(none, |sum, part| Health {
            ready: sum.ready.saturating_add(part.ready),
            total: sum.total.saturating_add(part.total),
            restarts: sum.restarts.saturating_add(part.restarts),
            color: Color::worst([sum.color, part.color]).unwrap_or(Color::LIGHTGREY),
            last_run: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use fake_apiserver::PodBuilder;
    use rstest::rstest;

    use super::*;

    const RED: Color = Color::RED;
    const YELLOW: Color = Color::YELLOW;
    const GREEN: Color = Color::GREEN;
    const LIGHTGREY: Color = Color::LIGHTGREY;

    fn created() -> Timestamp {
        fake_apiserver::DEFAULT_CREATED.parse().unwrap()
    }

    fn days_after_creation(days: i64) -> Timestamp {
        created() + jiff::SignedDuration::from_hours(24 * days)
    }

    fn pods(builders: &[PodBuilder]) -> Vec<Arc<PodInfo>> {
        builders
            .iter()
            .map(|b| Arc::new(PodInfo::from(&b.build())))
            .collect()
    }

    /// A pod of the CronJob `nightly`'s run at one scheduled minute.
    fn run(n: usize) -> PodBuilder {
        PodBuilder::new("default", &format!("nightly-29001000-{n}"))
            .controller("Job", "nightly-29001000")
    }

    fn web(n: usize) -> PodBuilder {
        PodBuilder::new("default", &format!("web-7d4b9c-{n}")).deployment("web", "7d4b9c")
    }

    #[rstest]
    #[case::all_ready_is_green(vec![web(1), web(2)], 1, "2/2 (0 restarts)", GREEN)]
    #[case::one_container_not_ready_is_red(
        vec![web(1), web(2).containers(&[("app", true, 0), ("sidecar", false, 0)])],
        1, "2/3 (0 restarts)", RED)]
    #[case::ten_day_old_pod_with_8_restarts_is_yellow(vec![web(1).restarts(8)], 10, "1/1 (8 restarts)", YELLOW)]
    #[case::three_four_day_old_pods_with_one_restart_each_are_green(
        vec![web(1).restarts(1), web(2).restarts(1), web(3).restarts(1)], 4, "3/3 (3 restarts)", GREEN)]
    #[case::new_pod_with_one_restart_is_yellow(vec![web(1).restarts(1)], 0, "1/1 (1 restart)", YELLOW)]
    #[case::succeeded_pods_are_not_counted(
        vec![web(1), web(2).phase("Succeeded").containers(&[("app", false, 0)])], 1, "1/1 (0 restarts)", GREEN)]
    #[case::pending_without_statuses_counts_spec_containers(
        vec![web(1).pending_without_statuses()], 1, "0/1 (0 restarts)", RED)]
    #[case::unready_wins_over_restarts(
        vec![web(1).restarts(9), web(2).containers(&[("app", false, 0)])], 1, "1/2 (9 restarts)", RED)]
    #[case::no_pods(vec![], 1, "no pods", LIGHTGREY)]
    #[case::only_succeeded_pods_is_no_pods(vec![web(1).phase("Succeeded")], 1, "no pods", LIGHTGREY)]
    #[case::cron_run_running_counts_its_pod(vec![run(1)], 1, "1/1 (0 restarts)", GREEN)]
    #[case::cron_run_succeeded(vec![run(1).phase("Succeeded").containers(&[("job", false, 0)])], 1, "succeeded", GREEN)]
    #[case::cron_run_succeeded_after_a_failed_try(
        vec![run(1).phase("Failed").containers(&[("job", false, 0)]), run(2).phase("Succeeded").containers(&[("job", false, 0)])],
        1, "succeeded", GREEN)]
    #[case::cron_run_failed(vec![run(1).phase("Failed").containers(&[("job", false, 0)])], 1, "failed", RED)]
    #[case::cron_run_retrying_after_a_failure_counts_as_today(
        vec![run(1).phase("Failed").containers(&[("job", false, 0)]), run(2)], 1, "1/2 (0 restarts)", RED)]
    fn health_of_a_service(
        #[case] builders: Vec<PodBuilder>,
        #[case] age_days: i64,
        #[case] status: &str,
        #[case] color: Color,
    ) {
        let health = health(&pods(&builders), days_after_creation(age_days));
        assert_eq!(
            (health.status_text().as_str(), health.color),
            (status, color)
        );
    }

    #[rstest]
    #[case::never_restarted(vec![web(1)], None)]
    #[case::calm_after_two_days_per_restart(vec![web(1).restarts(3)], Some(6))]
    #[case::the_first_pod_to_calm_down(vec![web(1).restarts(3), web(2).restarts(1)], Some(2))]
    #[case::succeeded_pods_do_not_count(vec![web(1).restarts(2).phase("Succeeded")], None)]
    fn health_changes_by_the_clock_only_when_a_pod_calms_down(
        #[case] builders: Vec<PodBuilder>,
        #[case] change_day: Option<i64>,
    ) {
        let pods = pods(&builders);
        let now = days_after_creation(1) + jiff::SignedDuration::from_hours(5);
        let change = next_change(&pods, now);
        assert_eq!(change, change_day.map(days_after_creation));
        // The answer holds until the change (one pod: and differs from it on).
        if let Some(change) = change {
            let just_before = change - jiff::SignedDuration::from_secs(1);
            assert_eq!(health(&pods, now), health(&pods, just_before));
            if pods.len() == 1 {
                assert_ne!(health(&pods, now), health(&pods, change));
            }
        } else {
            let much_later = now + jiff::SignedDuration::from_hours(24 * 3650);
            assert_eq!(health(&pods, now), health(&pods, much_later));
        }
    }

    #[test]
    fn one_restart_is_singular() {
        let health = Health {
            ready: 1,
            total: 1,
            restarts: 1,
            color: GREEN,
            last_run: None,
        };
        assert_eq!(health.status_text(), "1/1 (1 restart)");
    }

    #[test]
    fn a_finished_run_says_when_in_raw() {
        let mut pod = run(1).phase("Succeeded").build();
        let finished: Timestamp = "2026-11-02T08:00:00Z".parse().unwrap();
        let status = pod.status.as_mut().unwrap();
        for container in status.container_statuses.iter_mut().flatten() {
            container.state = Some(k8s_openapi::api::core::v1::ContainerState {
                terminated: Some(k8s_openapi::api::core::v1::ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".into()),
                    finished_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        finished,
                    )),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let pods = vec![Arc::new(PodInfo::from(&pod))];
        let health = health(&pods, finished + jiff::SignedDuration::from_secs(90));
        assert_eq!(
            serde_json::to_value(&health).unwrap(),
            serde_json::json!({"ready": 0, "total": 0, "restarts": 0, "color": "green",
                "lastRun": {"outcome": "succeeded", "finished": "2026-11-02T08:00:00Z", "secondsAgo": 90}})
        );
    }

    #[test]
    fn raw_json_has_the_documented_shape() {
        let health = Health {
            ready: 2,
            total: 3,
            restarts: 1,
            color: RED,
            last_run: None,
        };
        assert_eq!(
            serde_json::to_string(&health).unwrap(),
            r#"{"ready":2,"total":3,"restarts":1,"color":"red"}"#
        );
    }

    fn h(ready: u32, total: u32, restarts: u32, color: Color) -> Health {
        Health {
            ready,
            total,
            restarts,
            color,
            last_run: None,
        }
    }

    #[rstest]
    #[case::counts_add_up_and_red_wins(vec![h(2, 2, 0, GREEN), h(1, 2, 3, RED), h(1, 1, 5, YELLOW)], h(4, 5, 8, RED))]
    #[case::yellow_beats_green(vec![h(1, 1, 0, GREEN), h(1, 1, 5, YELLOW)], h(2, 2, 5, YELLOW))]
    #[case::no_pods_does_not_hide_green(vec![h(0, 0, 0, LIGHTGREY), h(1, 1, 0, GREEN)], h(1, 1, 0, GREEN))]
    #[case::all_without_pods_is_lightgrey(vec![h(0, 0, 0, LIGHTGREY), h(0, 0, 0, LIGHTGREY)], h(0, 0, 0, LIGHTGREY))]
    #[case::nothing_is_lightgrey(vec![], h(0, 0, 0, LIGHTGREY))]
    fn sum_over_services(#[case] parts: Vec<Health>, #[case] expected: Health) {
        assert_eq!(Health::sum(parts), expected);
    }
}
