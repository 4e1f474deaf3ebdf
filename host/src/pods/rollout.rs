//! The built-in `rollout` check: the status of the workload that owns a service's pods, by
//! kstatus' rules (computed when the workload changes, [`WorkloadInfo::read`]), as a badge:
//! `current` green, `in progress: 2/3 updated` yellow, `failed: ProgressDeadlineExceeded` red,
//! `terminating`, `not found` and `unknown` lightgrey.

use std::sync::Arc;

use kstatus::Status;
use kube_shields_badge::Color;

use super::model::PodInfo;
use super::naming::workload_of;
use super::workload::{KindAccess, WorkloadIndex, WorkloadInfo, WorkloadKind};

/// The rollout of one workload, or the worst of several (a service in several namespaces, an
/// aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// The worst status among the parts.
    pub status: Status,
    /// What the status is about, for one part: `2/3 updated`, `ProgressDeadlineExceeded`.
    pub detail: Option<String>,
    /// How many parts have `status`.
    pub count: u32,
    /// How many parts there are.
    pub total: u32,
}

/// Longest detail shown on a badge.
const MAX_DETAIL_CHARS: usize = 64;

/// Statuses from worst to best: an aggregate shows the first one any part has.
const SEVERITY: [Status; 6] = [
    Status::Failed,
    Status::InProgress,
    Status::Unknown,
    Status::Terminating,
    Status::NotFound,
    Status::Current,
];

fn severity(status: Status) -> usize {
    SEVERITY
        .iter()
        .position(|s| *s == status)
        .unwrap_or(SEVERITY.len())
}

/// The badge word of a status.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Current => "current",
        Status::InProgress => "in progress",
        Status::Failed => "failed",
        Status::Terminating => "terminating",
        Status::NotFound => "not found",
        Status::Unknown => "unknown",
    }
}

/// The status a badge word names (a peer's raw answer).
pub fn status_of_word(word: &str) -> Option<Status> {
    SEVERITY.into_iter().find(|s| status_word(*s) == word)
}

impl Rollout {
    /// One part with this status and detail.
    pub fn one(status: Status, detail: Option<String>) -> Rollout {
        let detail = detail.map(|text| cut(&text));
        Rollout {
            status,
            detail,
            count: 1,
            total: 1,
        }
    }

    /// The rollout of one workload.
    pub fn of_workload(workload: &WorkloadInfo) -> Rollout {
        let detail = match workload.status.status {
            Status::InProgress => Some(progress_detail(&workload.status.message)),
            Status::Failed => Some(failure_reason(workload)),
            _ => None,
        };
        Rollout::one(workload.status.status, detail)
    }

    /// The badge text: `current`, `in progress: 2/3 updated`, `failed: 1 of 12` (an aggregate
    /// where one part of 12 failed), or `current` when every part is.
    pub fn status_text(&self) -> String {
        let word = status_word(self.status);
        match (&self.detail, self.total) {
            (Some(detail), 1) => format!("{word}: {detail}"),
            (_, 0 | 1) => word.to_owned(),
            _ if self.count == self.total => word.to_owned(),
            _ => format!("{word}: {} of {}", self.count, self.total),
        }
    }

    /// Green when current, yellow in progress, red failed, lightgrey otherwise.
    pub fn color(&self) -> Color {
        match self.status {
            Status::Current => Color::GREEN,
            Status::InProgress => Color::YELLOW,
            Status::Failed => Color::RED,
            Status::Terminating | Status::NotFound | Status::Unknown => Color::LIGHTGREY,
        }
    }

    /// Several rollouts as one: the worst status, how many parts have it, of how many.
    pub fn combine(parts: impl IntoIterator<Item = Rollout>) -> Option<Rollout> {
        parts.into_iter().reduce(|sum, part| {
            let total = sum.total.saturating_add(part.total);
            match severity(part.status).cmp(&severity(sum.status)) {
                std::cmp::Ordering::Less => Rollout { total, ..part },
                std::cmp::Ordering::Greater => Rollout { total, ..sum },
                std::cmp::Ordering::Equal => Rollout {
                    status: sum.status,
                    detail: None,
                    count: sum.count.saturating_add(part.count),
                    total,
                },
            }
        })
    }
}

/// The rollout of a service's pods: one part per workload owning them (one per namespace),
/// `None` when no pod has a workload. A CronJob shows its own status unless it is current,
/// then its latest run's (the Job the service's pods belong to).
pub fn rollout(pods: &[Arc<PodInfo>], workloads: &WorkloadIndex) -> Option<Rollout> {
    let parts = owners(pods).into_iter().map(|owner| {
        let own = part(workloads, owner.kind, owner.namespace, owner.name);
        match owner.run {
            Some(job) if own.status == Status::Current => {
                part(workloads, WorkloadKind::Job, owner.namespace, job)
            }
            _ => own,
        }
    });
    Rollout::combine(parts)
}

/// The workloads owning `pods` (one per namespace), as a plugin's context shows them: a
/// CronJob's own, not its run's.
pub fn controllers(pods: &[Arc<PodInfo>], workloads: &WorkloadIndex) -> Vec<Arc<WorkloadInfo>> {
    owners(pods)
        .into_iter()
        .filter_map(|owner| workloads.get_shared(owner.kind, owner.namespace, owner.name))
        .collect()
}

/// A workload owning some of a service's pods.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Owner<'a> {
    kind: WorkloadKind,
    namespace: &'a str,
    name: &'a str,
    /// For a CronJob: the Job of the run its pods belong to.
    run: Option<&'a str>,
}

/// The workloads owning `pods`, each once (by kind, namespace and name).
fn owners(pods: &[Arc<PodInfo>]) -> Vec<Owner<'_>> {
    let mut owners: Vec<Owner> = pods
        .iter()
        .filter_map(|pod| {
            let (kind, name) = workload_of(pod)?;
            let run = (kind == WorkloadKind::CronJob)
                .then(|| pod.controller.as_ref().map(|job| job.name.as_str()))
                .flatten();
            Some(Owner {
                kind,
                namespace: &pod.namespace,
                name,
                run,
            })
        })
        .collect();
    owners.sort_unstable();
    owners.dedup_by(|a, b| (a.kind, a.namespace, a.name) == (b.kind, b.namespace, b.name));
    owners
}

/// One workload's rollout, `not found` when its kind is listed and it is not there, `unknown`
/// while its kind cannot be read.
fn part(workloads: &WorkloadIndex, kind: WorkloadKind, namespace: &str, name: &str) -> Rollout {
    match (workloads.get(kind, namespace, name), workloads.access(kind)) {
        (Some(workload), _) => Rollout::of_workload(workload),
        (None, KindAccess::Listed) => Rollout::one(Status::NotFound, None),
        (None, KindAccess::Pending | KindAccess::Denied) => Rollout::one(Status::Unknown, None),
    }
}

/// kstatus' progress messages (`Updated: 2/3`, `Ready: 1/3`) as badge text (`2/3 updated`);
/// any other message as it is.
fn progress_detail(message: &str) -> String {
    if let Some((what, counts)) = message.split_once(": ")
        && let Some((done, of)) = counts.split_once('/')
        && !done.is_empty()
        && !of.is_empty()
        && done.bytes().chain(of.bytes()).all(|b| b.is_ascii_digit())
        && what.bytes().all(|b| b.is_ascii_alphabetic() || b == b' ')
    {
        return format!("{counts} {}", what.to_ascii_lowercase());
    }
    message.to_owned()
}

/// Why a workload failed: the reason of the condition that says so (`Progressing` false with
/// `ProgressDeadlineExceeded`, `Stalled` true, a Job's `Failed` true), else kstatus' message.
fn failure_reason(workload: &WorkloadInfo) -> String {
    let failing = [
        ("Progressing", "False"),
        ("Stalled", "True"),
        ("Failed", "True"),
    ];
    failing
        .iter()
        .find_map(|(type_, status)| {
            let condition = workload.condition(type_)?;
            (condition.status == *status)
                .then_some(condition.reason.as_deref())
                .flatten()
                .filter(|reason| !reason.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| workload.status.message.clone())
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn rollout(status: Status, detail: Option<&str>) -> Rollout {
        Rollout::one(status, detail.map(str::to_owned))
    }

    #[rstest]
    #[case::updated("Updated: 2/3", "2/3 updated")]
    #[case::ready("Ready: 1/3", "1/3 ready")]
    #[case::pending_termination("Pending termination: 1", "Pending termination: 1")]
    #[case::free_text(
        "Deployment generation is 3, but latest observed generation is 2",
        "Deployment generation is 3, but latest observed generation is 2"
    )]
    fn progress_messages_read_as_counts(#[case] message: &str, #[case] detail: &str) {
        assert_eq!(progress_detail(message), detail);
    }

    #[rstest]
    #[case::current(rollout(Status::Current, None), "current", "green")]
    #[case::in_progress(
        rollout(Status::InProgress, Some("2/3 updated")),
        "in progress: 2/3 updated",
        "yellow"
    )]
    #[case::failed(
        rollout(Status::Failed, Some("ProgressDeadlineExceeded")),
        "failed: ProgressDeadlineExceeded",
        "red"
    )]
    #[case::terminating(rollout(Status::Terminating, None), "terminating", "lightgrey")]
    #[case::not_found(rollout(Status::NotFound, None), "not found", "lightgrey")]
    #[case::unknown(rollout(Status::Unknown, None), "unknown", "lightgrey")]
    fn each_status_has_one_badge(
        #[case] rollout: Rollout,
        #[case] text: &str,
        #[case] color: &str,
    ) {
        assert_eq!(
            (rollout.status_text().as_str(), rollout.color().as_str()),
            (text, color)
        );
    }

    #[test]
    fn several_parts_show_the_worst_and_how_many() {
        let combined = Rollout::combine([
            rollout(Status::Current, None),
            rollout(Status::Failed, Some("ProgressDeadlineExceeded")),
            rollout(Status::InProgress, Some("1/2 updated")),
        ])
        .unwrap();
        assert_eq!(combined.status_text(), "failed: 1 of 3");
        let all_current = Rollout::combine([
            rollout(Status::Current, None),
            rollout(Status::Current, None),
        ])
        .unwrap();
        assert_eq!(all_current.status_text(), "current");
        let two_failed = Rollout::combine([
            rollout(Status::Failed, Some("a")),
            rollout(Status::Current, None),
            rollout(Status::Failed, Some("b")),
        ])
        .unwrap();
        assert_eq!(two_failed.status_text(), "failed: 2 of 3");
    }

    #[test]
    fn every_status_word_reads_back() {
        for status in SEVERITY {
            assert_eq!(status_of_word(status_word(status)), Some(status));
        }
        assert_eq!(status_of_word("fine"), None);
    }
}
