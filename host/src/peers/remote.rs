//! A peer's `?raw` answer, read as untrusted input: the shapes a kube-shields sends and nothing
//! else, texts cut by the plugin outcome rule, colors normalized where badges are made.

use kube_shields_badge::Color;

use crate::RawAnswer;
use crate::plugin::{Outcome, cut_status};
use crate::pods::health::Health;
use crate::pods::rollout::{Rollout, status_of_word};

/// What a peer answered for one of its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteResult {
    /// Its health check (or a health aggregate).
    Health {
        /// Counts and color.
        health: Health,
        /// Whether the peer's pod watch is failing.
        stale: bool,
    },
    /// Its rollout check (or a rollout aggregate).
    Rollout {
        /// Status, detail and counts.
        rollout: Rollout,
        /// Whether the peer's workload watch is failing.
        stale: bool,
    },
    /// A plugin check's value or shield (or joined statuses).
    Outcome(Outcome),
    /// A failure it reported (`error`, `timeout`, `busy`, ...), or [`super::UNREACHABLE`].
    Failed(String),
}

/// Reads a `?raw` body.
pub(crate) fn parse(body: &[u8]) -> Result<RemoteResult, String> {
    let answer: RawAnswer =
        serde_json::from_slice(body).map_err(|_| "not a kube-shields result".to_owned())?;
    Ok(match answer {
        RawAnswer::Failed { failed: text } | RawAnswer::Error { error: text } => {
            RemoteResult::Failed(cut_status(text))
        }
        RawAnswer::Health {
            ready,
            total,
            restarts,
            color,
            last_run,
            stale,
        } => RemoteResult::Health {
            health: Health {
                ready,
                total,
                restarts,
                color: Color::or_fallback(&color),
                last_run,
            },
            stale,
        },
        RawAnswer::Rollout {
            rollout,
            detail,
            count,
            total,
            color: _,
            stale,
        } => {
            let status =
                status_of_word(&rollout).ok_or_else(|| "not a kube-shields result".to_owned())?;
            RemoteResult::Rollout {
                rollout: Rollout {
                    total: total.max(1),
                    count: count.clamp(1, total.max(1)),
                    ..Rollout::one(status, detail)
                },
                stale,
            }
        }
        RawAnswer::Raw { raw } => RemoteResult::Outcome(Outcome::Raw(raw).capped()),
        RawAnswer::Shield {
            label,
            status,
            color,
        } => RemoteResult::Outcome(
            Outcome::Shield {
                label,
                status,
                color,
            }
            .capped(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::health(r#"{"ready":1,"total":2,"restarts":3,"color":"red"}"#, Ok(RemoteResult::Health {
        health: Health { ready: 1, total: 2, restarts: 3, color: Color::RED, last_run: None }, stale: false }))]
    #[case::unknown_color_is_lightgrey(r#"{"ready":1,"total":1,"restarts":0,"color":"url(x)","stale":true}"#, Ok(RemoteResult::Health {
        health: Health { ready: 1, total: 1, restarts: 0, color: Color::LIGHTGREY, last_run: None }, stale: true }))]
    #[case::rollout(r#"{"rollout":"in progress","detail":"2/3 updated","count":1,"total":1,"color":"yellow"}"#,
        Ok(RemoteResult::Rollout { rollout: Rollout::one(kstatus::Status::InProgress, Some("2/3 updated".into())), stale: false }))]
    #[case::raw(r#"{"raw":"v1"}"#, Ok(RemoteResult::Outcome(Outcome::Raw("v1".into()))))]
    #[case::shield(r#"{"label":null,"status":"<b>up</b>","color":"green"}"#, Ok(RemoteResult::Outcome(Outcome::Shield {
        label: None, status: "<b>up</b>".into(), color: Some("green".into()) })))]
    #[case::failed(r#"{"failed":"timeout"}"#, Ok(RemoteResult::Failed("timeout".into())))]
    #[case::error_of_an_older_peer(r#"{"error":"timeout"}"#, Ok(RemoteResult::Failed("timeout".into())))]
    #[case::negative_count(r#"{"ready":-1,"total":1,"restarts":0,"color":"red"}"#, Err("not a kube-shields result".into()))]
    #[case::garbage("<html>", Err("not a kube-shields result".into()))]
    #[case::number_status(r#"{"status":5}"#, Err("not a kube-shields result".into()))]
    fn peer_results_are_read_strictly(
        #[case] body: &str,
        #[case] expected: Result<RemoteResult, String>,
    ) {
        assert_eq!(parse(body.as_bytes()), expected);
    }

    #[test]
    fn counts_in_a_color_outside_shields_set_keep_their_counts() {
        let body = r#"{"ready":1,"total":1,"restarts":0,"color":"url(#x)"}"#;
        let Ok(RemoteResult::Health { health, .. }) = parse(body.as_bytes()) else {
            panic!("not a health result");
        };
        assert_eq!(
            (health.status_text().as_str(), health.color),
            ("1/1 (0 restarts)", Color::LIGHTGREY)
        );
    }

    #[test]
    fn long_texts_are_cut_like_plugin_outputs() {
        let body = serde_json::json!({ "raw": "x".repeat(10_000) }).to_string();
        let Ok(RemoteResult::Outcome(Outcome::Raw(value))) = parse(body.as_bytes()) else {
            panic!("not a raw value");
        };
        assert_eq!(value.chars().count(), crate::plugin::MAX_STATUS_CHARS);
    }
}
