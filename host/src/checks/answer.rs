//! What a check answered, and the one place that says what that looks like: the badge every
//! format renders, the raw JSON of `?raw`, and the outcome label of the metrics.

use std::sync::Arc;

use kube_shields_badge::{Badge, Color};

use crate::peers::{CheckState, CheckStatus, UNREACHABLE};
use crate::plugin::{Outcome, PluginError};
use crate::pods::health::{Health, health};
use crate::pods::model::PodInfo;
use crate::pods::rollout::{Rollout, status_word};
use crate::raw::{RawAnswer, RawBody};

/// A plugin run's result, shared between the cache and every request that waited for it.
pub type PluginResult = Arc<Result<Outcome, PluginError>>;

/// What a check answered.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The built-in health check, `stale` when the pod watch has failed for longer than
    /// `--stale-after` (the counts are the last known).
    Health {
        /// Readiness and restarts.
        health: Health,
        /// Whether the pods may be out of date.
        stale: bool,
    },
    /// The built-in rollout check, `stale` when the workload watch has failed for longer than
    /// `--stale-after`.
    Rollout {
        /// Status, detail and counts.
        rollout: Rollout,
        /// Whether the workloads may be out of date.
        stale: bool,
    },
    /// A plugin check that ran (now or within its cache time).
    Plugin(PluginResult),
    /// Every plugin run slot was taken and nothing was cached for this check.
    Busy,
    /// Several services' answers to one plugin check (`/a/`): their statuses joined with `, `,
    /// the worst color.
    Joined(Badge),
    /// A peer's check that could not be answered: the failure it reported (capped), or
    /// `unreachable` when the peer did not answer in time.
    Failed(String),
    /// An aggregate without the parts of these clusters, which did not answer: the badge says
    /// so after the status (`3/4 (0 restarts), eu unreachable`), `?raw` adds `"missing"`.
    Partial {
        /// What the clusters that answered make.
        answer: Box<Answer>,
        /// The clusters that did not.
        missing: Vec<String>,
    },
}

impl Answer {
    /// The `health` answer of a service's pods at `now`; `stale` when the pod watch has been
    /// failing too long to trust them.
    pub fn health(pods: &[Arc<PodInfo>], now: jiff::Timestamp, stale: bool) -> Answer {
        Answer::Health {
            health: health(pods, now),
            stale,
        }
    }

    /// The badge for this answer to `check`. Plugin failures show only `error` or `timeout`:
    /// their detail is for the log and `/plugins`, never a public badge.
    pub fn badge(&self, check: &str) -> Badge {
        match self {
            Answer::Health {
                health,
                stale: false,
            } => Badge::new(check, health.status_text(), health.color.clone()),
            Answer::Health {
                health,
                stale: true,
            } => Badge::failure(check, format!("stale: {}", health.status_text())),
            Answer::Rollout {
                rollout,
                stale: false,
            } => Badge::new(check, rollout.status_text(), rollout.color()),
            Answer::Rollout {
                rollout,
                stale: true,
            } => Badge::failure(check, format!("stale: {}", rollout.status_text())),
            Answer::Plugin(result) => match result.as_ref() {
                Ok(Outcome::Raw(value)) => Badge::new(check, value.as_str(), Color::DEFAULT),
                Ok(Outcome::Shield {
                    label,
                    status,
                    color,
                }) => Badge::new(
                    label.as_deref().unwrap_or(check),
                    status.as_str(),
                    color.as_deref().map_or(Color::DEFAULT, Color::or_fallback),
                ),
                Err(err) => Badge::failure(check, err.badge_text()),
            },
            Answer::Busy => Badge::failure(check, "busy"),
            Answer::Joined(badge) => badge.clone(),
            Answer::Failed(text) => Badge::failure(check, text.as_str()),
            Answer::Partial { answer, missing } => {
                let badge = answer.badge(check);
                let marker = match missing.as_slice() {
                    [cluster] => format!("{cluster} unreachable"),
                    clusters => format!("{} clusters unreachable", clusters.len()),
                };
                Badge::new(
                    badge.label,
                    format!("{}, {marker}", badge.message),
                    badge.color,
                )
            }
        }
    }

    /// The check's own result for `?raw` (see [`RawAnswer`]; an aggregate missing a cluster adds
    /// `"missing"`), and whether it is available (`busy` is not: a `503`).
    pub fn raw(&self) -> (bool, RawBody) {
        if let Answer::Partial { answer, missing } = self {
            let (available, body) = answer.raw();
            return (
                available,
                RawBody {
                    missing: missing.clone(),
                    ..body
                },
            );
        }
        let (available, answer) = self.raw_answer();
        (available, answer.into())
    }

    fn raw_answer(&self) -> (bool, RawAnswer) {
        match self {
            Answer::Health { health, stale } => (
                true,
                RawAnswer::Health {
                    ready: health.ready,
                    total: health.total,
                    restarts: health.restarts,
                    color: health.color.to_string(),
                    last_run: health.last_run.clone(),
                    stale: *stale,
                },
            ),
            Answer::Rollout { rollout, stale } => (
                true,
                RawAnswer::Rollout {
                    rollout: status_word(rollout.status).to_owned(),
                    detail: rollout.detail.clone(),
                    count: rollout.count,
                    total: rollout.total,
                    color: rollout.color().to_string(),
                    stale: *stale,
                },
            ),
            Answer::Plugin(result) => match result.as_ref() {
                Ok(Outcome::Raw(raw)) => (true, RawAnswer::Raw { raw: raw.clone() }),
                Ok(Outcome::Shield {
                    label,
                    status,
                    color,
                }) => (
                    true,
                    RawAnswer::Shield {
                        label: label.clone(),
                        status: status.clone(),
                        color: color.clone(),
                    },
                ),
                Err(err) => (
                    true,
                    RawAnswer::Failed {
                        failed: err.badge_text().to_owned(),
                    },
                ),
            },
            Answer::Busy => (
                false,
                RawAnswer::Error {
                    error: "busy".to_owned(),
                },
            ),
            Answer::Failed(text) => (
                true,
                RawAnswer::Failed {
                    failed: text.clone(),
                },
            ),
            Answer::Joined(_) | Answer::Partial { .. } => {
                let badge = self.badge("");
                (
                    true,
                    RawAnswer::Shield {
                        label: Some(badge.label.clone()),
                        status: badge.message.clone(),
                        color: Some(badge.color.to_string()),
                    },
                )
            }
        }
    }

    /// How this answer to `check` stands on the index: by the aggregates' color rule (orange or
    /// red is failing, yellow a warning), after what the color cannot say (stale, unreachable,
    /// error).
    pub fn status(&self, check: &str) -> CheckStatus {
        let badge = self.badge(check);
        let state = match self {
            Answer::Health { stale: true, .. } | Answer::Rollout { stale: true, .. } => {
                CheckState::Stale
            }
            Answer::Failed(text) if text == UNREACHABLE => CheckState::Unreachable,
            Answer::Plugin(result) if result.is_err() => CheckState::Error,
            Answer::Busy | Answer::Failed(_) => CheckState::Error,
            Answer::Partial { answer, .. } => answer.status(check).state,
            _ if badge.color.severity() >= Color::ORANGE.severity() => CheckState::Failing,
            _ if badge.color.severity() >= Color::YELLOW.severity() => CheckState::Warning,
            _ if badge.color == Color::LIGHTGREY => CheckState::Unknown,
            _ => CheckState::Ok,
        };
        CheckStatus {
            state,
            status: badge.message,
        }
    }

    /// Whether this answer counts as up in the history (DESIGN.md, "history"): down when the
    /// check failed (a plugin's error, timeout or crash) or its badge is red; up otherwise,
    /// warnings and unknowns included. `None` when it says nothing about the service now (busy,
    /// stale, a peer unreachable): no sample is kept.
    pub fn up(&self, check: &str) -> Option<bool> {
        match self.status(check).state {
            CheckState::Stale | CheckState::Unreachable => None,
            CheckState::Error if matches!(self, Answer::Busy) => None,
            CheckState::Error => Some(false),
            _ => Some(self.badge(check).color != Color::RED),
        }
    }

    /// The `outcome` label of the plugin run metric: `ok`, `error`, `timeout` or `busy`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Answer::Plugin(result) => result
                .as_ref()
                .as_ref()
                .map_or_else(PluginError::badge_text, |_| "ok"),
            Answer::Busy => "busy",
            Answer::Failed(_) => "error",
            Answer::Health { .. } | Answer::Rollout { .. } | Answer::Joined(_) => "ok",
            Answer::Partial { answer, .. } => answer.metric_label(),
        }
    }

    /// Several services' answers to `check` as one: health sums ready, total and restarts (stale
    /// when any part is); rollouts show the worst status and how many parts have it; others join
    /// their statuses with `, ` under the worst color.
    pub fn combine(check: &str, parts: &[Answer]) -> Answer {
        let rollouts: Vec<(Rollout, bool)> = parts
            .iter()
            .filter_map(|part| match part {
                Answer::Rollout { rollout, stale } => Some((rollout.clone(), *stale)),
                _ => None,
            })
            .collect();
        if rollouts.len() == parts.len()
            && let Some(rollout) = Rollout::combine(rollouts.iter().map(|(r, _)| r.clone()))
        {
            let stale = rollouts.iter().any(|(_, stale)| *stale);
            return Answer::Rollout { rollout, stale };
        }
        let healths: Vec<(Health, bool)> = parts
            .iter()
            .filter_map(|part| match part {
                Answer::Health { health, stale } => Some((health.clone(), *stale)),
                _ => None,
            })
            .collect();
        if healths.len() == parts.len() && !parts.is_empty() {
            let stale = healths.iter().any(|(_, stale)| *stale);
            return Answer::Health {
                health: Health::sum(healths.into_iter().map(|(health, _)| health)),
                stale,
            };
        }
        let badges: Vec<Badge> = parts.iter().map(|part| part.badge(check)).collect();
        let message = badges
            .iter()
            .map(|badge| badge.message.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let worst =
            Color::worst(badges.into_iter().map(|badge| badge.color)).unwrap_or(Color::FAILURE);
        Answer::Joined(Badge::new(check, message, worst))
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use serde_json::json;

    fn health(ready: u32, total: u32, restarts: u32, color: Color) -> Answer {
        Answer::Health {
            health: Health {
                ready,
                total,
                restarts,
                color,
                last_run: None,
            },
            stale: false,
        }
    }

    fn plugin(result: Result<Outcome, PluginError>) -> Answer {
        Answer::Plugin(Arc::new(result))
    }

    fn shield(status: &str, color: Option<&str>) -> Answer {
        plugin(Ok(Outcome::Shield {
            label: None,
            status: status.into(),
            color: color.map(Into::into),
        }))
    }

    /// What counts as up in the history, for each kind of answer.
    #[rstest]
    #[case::green_health(health(3, 3, 0, Color::BRIGHTGREEN), Some(true))]
    #[case::degraded_health_is_up(health(2, 3, 0, Color::ORANGE), Some(true))]
    #[case::red_health_is_down(health(0, 3, 0, Color::RED), Some(false))]
    #[case::stale_says_nothing(
        Answer::Health { health: Health { ready: 0, total: 2, restarts: 0, color: Color::RED, last_run: None }, stale: true },
        None)]
    #[case::warning_shield_is_up(shield("slow", Some("yellow")), Some(true))]
    #[case::red_alias_is_down(shield("down", Some("critical")), Some(false))]
    #[case::raw_value_is_up(plugin(Ok(Outcome::Raw("1.2".into()))), Some(true))]
    #[case::error_is_down(plugin(Err(PluginError::Plugin("refused".into()))), Some(false))]
    #[case::timeout_is_down(plugin(Err(PluginError::Timeout)), Some(false))]
    #[case::busy_says_nothing(Answer::Busy, None)]
    #[case::unreachable_says_nothing(Answer::Failed("unreachable".into()), None)]
    #[case::a_peers_failure_is_down(Answer::Failed("timeout".into()), Some(false))]
    fn what_counts_as_up(#[case] answer: Answer, #[case] up: Option<bool>) {
        assert_eq!(answer.up("check"), up);
    }

    #[rstest]
    #[case::health(health(2, 3, 1, Color::RED), "health", "2/3 (1 restart)", "red")]
    #[case::stale_health(
        Answer::Health { health: Health { ready: 2, total: 2, restarts: 0, color: Color::GREEN, last_run: None }, stale: true },
        "health", "stale: 2/2 (0 restarts)", "lightgrey")]
    #[case::raw_value_is_orange(plugin(Ok(Outcome::Raw("1.2".into()))), "image", "1.2", "orange")]
    #[case::shield_without_color_is_orange(shield("up", None), "image", "up", "orange")]
    #[case::shield_color_is_normalized(shield("up", Some("critical")), "image", "up", "red")]
    #[case::not_a_color_is_lightgrey(shield("up", Some("not-a-color")), "image", "up", "lightgrey")]
    #[case::error_hides_its_detail(plugin(Err(PluginError::Plugin("db password wrong".into()))), "image", "error", "lightgrey")]
    #[case::timeout(plugin(Err(PluginError::Timeout)), "image", "timeout", "lightgrey")]
    #[case::busy(Answer::Busy, "image", "busy", "lightgrey")]
    #[case::unreachable_peer(Answer::Failed("unreachable".into()), "health", "unreachable", "lightgrey")]
    fn each_answer_has_one_badge(
        #[case] answer: Answer,
        #[case] check: &str,
        #[case] status: &str,
        #[case] color: &str,
    ) {
        let badge = answer.badge(check);
        assert_eq!(
            (
                badge.label.as_str(),
                badge.message.as_str(),
                badge.color.as_str()
            ),
            (check, status, color)
        );
    }

    #[test]
    fn a_shield_label_replaces_the_check_name() {
        let answer = plugin(Ok(Outcome::Shield {
            label: Some("version".into()),
            status: "2".into(),
            color: None,
        }));
        assert_eq!(answer.badge("image").label, "version");
    }

    #[test]
    fn combined_health_sums_and_the_worst_color_wins() {
        let combined = Answer::combine(
            "health",
            &[health(2, 2, 0, Color::GREEN), health(1, 2, 3, Color::RED)],
        );
        assert_eq!(combined.badge("health").message, "3/4 (3 restarts)");
        assert_eq!(combined.badge("health").color, Color::RED);
    }

    #[test]
    fn combined_plugin_answers_join_their_statuses() {
        let combined = Answer::combine(
            "image",
            &[shield("1.0", Some("green")), shield("2.0", Some("yellow"))],
        );
        let badge = combined.badge("image");
        assert_eq!(
            (badge.message.as_str(), badge.color.as_str()),
            ("1.0, 2.0", "yellow")
        );
        assert_eq!(
            serde_json::to_value(combined.raw().1).unwrap(),
            json!({"label": "image", "status": "1.0, 2.0", "color": "yellow"})
        );
    }

    #[test]
    fn stale_health_says_so_in_raw() {
        let stale = Answer::Health {
            health: Health {
                ready: 1,
                total: 1,
                restarts: 0,
                color: Color::GREEN,
                last_run: None,
            },
            stale: true,
        };
        let (available, raw) = stale.raw();
        assert_eq!(
            (available, serde_json::to_string(&raw).unwrap()),
            (
                true,
                r#"{"ready":1,"total":1,"restarts":0,"color":"green","stale":true}"#.to_owned()
            )
        );
    }
}
