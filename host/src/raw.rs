//! The JSON of a `?raw` answer: one type, written by the core for its own checks
//! (`checks::Answer::raw`) and read back from peers (`peers::remote`, as untrusted input), so
//! the two cannot drift apart. The README's "Raw answers" lists the shapes (a test reads it).

use serde::{Deserialize, Serialize};

use crate::pods::health::LastRun;

/// One `?raw` answer. Read from a peer, the shapes are tried in this order and anything else is
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawAnswer {
    /// A failed check: `error` or `timeout`, or why a peer's answer is missing (`unreachable`).
    Failed {
        /// The badge's text for it.
        failed: String,
    },
    /// No answer: `busy` (with a `503`), the shape of every HTTP error; also how peers before
    /// the `failed` shape said a check failed.
    Error {
        /// What it was.
        error: String,
    },
    /// A health check (or a health aggregate).
    Health {
        /// Ready containers.
        ready: u32,
        /// Containers counted.
        total: u32,
        /// Their restarts.
        restarts: u32,
        /// The badge's color name.
        color: String,
        /// How a CronJob's latest run ended, once it has.
        #[serde(default, rename = "lastRun", skip_serializing_if = "Option::is_none")]
        last_run: Option<LastRun>,
        /// Whether the pod watch is failing (only written when it is).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stale: bool,
    },
    /// The rollout check (or a rollout aggregate).
    Rollout {
        /// The status word: `current`, `in progress`, `failed`, `terminating`, `not found`,
        /// `unknown`; the worst part's in an aggregate.
        rollout: String,
        /// What it is about, for one part: `2/3 updated`, `ProgressDeadlineExceeded`.
        #[serde(default)]
        detail: Option<String>,
        /// Parts with that status.
        count: u32,
        /// Parts in all (workloads: one per namespace, more in an aggregate).
        total: u32,
        /// The badge's color name.
        color: String,
        /// Whether the workload watch is failing (only written when it is).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stale: bool,
    },
    /// A plugin check's plain value.
    Raw {
        /// The value as text.
        raw: String,
    },
    /// A plugin check's own badge, or joined statuses of an aggregate.
    Shield {
        /// Left-hand text; `null` for the check name.
        label: Option<String>,
        /// Right-hand text.
        status: String,
        /// Color name; `null` for the default.
        color: Option<String>,
    },
}

/// A `?raw` body: the answer, and for an aggregate that lacks the part of a cluster that did
/// not answer, `"missing": ["eu"]` beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawBody {
    /// The answer's own shape.
    #[serde(flatten)]
    pub answer: RawAnswer,
    /// Clusters whose part is missing (only written when one is).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl From<RawAnswer> for RawBody {
    fn from(answer: RawAnswer) -> Self {
        RawBody {
            answer,
            missing: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::pods::health::RunOutcome;

    fn text() -> impl Strategy<Value = String> {
        ".{0,40}"
    }

    fn last_run() -> impl Strategy<Value = LastRun> {
        let outcome = prop_oneof![Just(RunOutcome::Succeeded), Just(RunOutcome::Failed)];
        let finished = proptest::option::of(
            (0i64..4_000_000_000)
                .prop_map(|seconds| jiff::Timestamp::from_second(seconds).expect("in range")),
        );
        (outcome, finished, proptest::option::of(any::<u64>())).prop_map(
            |(outcome, finished, seconds_ago)| LastRun {
                outcome,
                finished,
                seconds_ago,
            },
        )
    }

    fn answer() -> impl Strategy<Value = RawAnswer> {
        prop_oneof![
            text().prop_map(|failed| RawAnswer::Failed { failed }),
            text().prop_map(|error| RawAnswer::Error { error }),
            (
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                text(),
                proptest::option::of(last_run()),
                any::<bool>()
            )
                .prop_map(|(ready, total, restarts, color, last_run, stale)| {
                    RawAnswer::Health {
                        ready,
                        total,
                        restarts,
                        color,
                        last_run,
                        stale,
                    }
                }),
            (
                text(),
                proptest::option::of(text()),
                any::<u32>(),
                any::<u32>(),
                text(),
                any::<bool>()
            )
                .prop_map(|(rollout, detail, count, total, color, stale)| {
                    RawAnswer::Rollout {
                        rollout,
                        detail,
                        count,
                        total,
                        color,
                        stale,
                    }
                }),
            text().prop_map(|raw| RawAnswer::Raw { raw }),
            (
                proptest::option::of(text()),
                text(),
                proptest::option::of(text())
            )
                .prop_map(|(label, status, color)| RawAnswer::Shield {
                    label,
                    status,
                    color
                }),
        ]
    }

    proptest! {
        /// What the core writes, a peer reads back as the same answer.
        #[test]
        fn every_answer_reads_back_as_written(answer in answer()) {
            let json = serde_json::to_string(&answer).unwrap();
            prop_assert_eq!(serde_json::from_str::<RawAnswer>(&json).unwrap(), answer);
        }
    }

    #[test]
    fn the_shapes_are_the_readmes() {
        let health = RawAnswer::Health {
            ready: 2,
            total: 3,
            restarts: 0,
            color: "yellow".into(),
            last_run: None,
            stale: false,
        };
        let written = |answer: &RawAnswer| serde_json::to_string(answer).unwrap();
        assert_eq!(
            written(&health),
            r#"{"ready":2,"total":3,"restarts":0,"color":"yellow"}"#
        );
        assert_eq!(
            written(&RawAnswer::Failed {
                failed: "error".into()
            }),
            r#"{"failed":"error"}"#
        );
        assert_eq!(
            written(&RawAnswer::Shield {
                label: None,
                status: "2/2 running".into(),
                color: Some("green".into())
            }),
            r#"{"label":null,"status":"2/2 running","color":"green"}"#
        );
    }
}
