//! What a check answers, cut to the lengths a badge shows.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::bindings::kube_shields::plugin::types;

/// Most characters of a label a badge shows.
pub const MAX_LABEL_CHARS: usize = 64;
/// Most characters of a status (or raw value) a badge shows.
pub const MAX_STATUS_CHARS: usize = 256;
/// No color name or hex code is longer; a longer one is not a color anyway.
const MAX_COLOR_CHARS: usize = 64;
/// A plugin's error text goes to the log and the status page: long enough to explain.
pub(crate) const MAX_ERROR_CHARS: usize = 1024;

/// A check the plugin offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInfo {
    /// URL-safe name, unique within the plugin.
    pub name: String,
    /// One line saying what the check reports.
    pub description: Option<String>,
}

/// The result of a successful check, with over-long texts cut (ending in `…`).
///
/// Serializes for `?raw` as `{"raw":"..."}` or `{"label":..,"status":..,"color":..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A plain value: label = check name, color = orange.
    Raw(String),
    /// A badge the check chose itself.
    Shield {
        /// Left-hand text; the check name when absent.
        label: Option<String>,
        /// Right-hand text.
        status: String,
        /// Color as the plugin named it; the badge layer normalizes it.
        color: Option<String>,
    },
}

impl From<types::Outcome> for Outcome {
    fn from(outcome: types::Outcome) -> Self {
        match outcome {
            types::Outcome::Raw(value) => Outcome::Raw(value),
            types::Outcome::Shield(shield) => Outcome::Shield {
                label: shield.label,
                status: shield.status,
                color: shield.color,
            },
        }
        .capped()
    }
}

impl Outcome {
    /// The outcome with every text cut to what a badge shows: the one rule for untrusted
    /// results, a plugin's or a peer's. (Colors are normalized where badges are made.)
    pub fn capped(self) -> Self {
        match self {
            Outcome::Raw(value) => Outcome::Raw(cut_status(value)),
            Outcome::Shield {
                label,
                status,
                color,
            } => Outcome::Shield {
                label: label.map(|label| cut(label, MAX_LABEL_CHARS)),
                status: cut_status(status),
                color: color.map(|color| cut(color, MAX_COLOR_CHARS)),
            },
        }
    }
}

/// A status (or raw value, or error word from a peer) cut to [`MAX_STATUS_CHARS`].
pub fn cut_status(text: String) -> String {
    cut(text, MAX_STATUS_CHARS)
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Outcome::Raw(value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("raw", value)?;
                map.end()
            }
            Outcome::Shield {
                label,
                status,
                color,
            } => {
                let mut map = serializer.serialize_map(Some(3))?;
                map.serialize_entry("label", label)?;
                map.serialize_entry("status", status)?;
                map.serialize_entry("color", color)?;
                map.end()
            }
        }
    }
}

/// Cuts `text` to at most `max` characters, the last being `…` when anything was cut.
pub(crate) fn cut(mut text: String, max: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(max) {
        let keep = text[..end]
            .char_indices()
            .last()
            .map_or(0, |(last, _)| last);
        text.truncate(keep);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::short("ok", 4, "ok")]
    #[case::exact("abcd", 4, "abcd")]
    #[case::one_over("abcde", 4, "abc…")]
    #[case::multibyte("ééééé", 4, "ééé…")]
    #[case::empty("", 4, "")]
    fn cut_keeps_at_most_max_characters(
        #[case] text: &str,
        #[case] max: usize,
        #[case] expected: &str,
    ) {
        assert_eq!(cut(text.to_owned(), max), expected);
    }

    #[rstest]
    #[case::raw(Outcome::Raw("1.2.3".into()), r#"{"raw":"1.2.3"}"#)]
    #[case::shield(
        Outcome::Shield { label: None, status: "up".into(), color: Some("green".into()) },
        r#"{"label":null,"status":"up","color":"green"}"#
    )]
    fn outcome_serializes_for_raw_requests(#[case] outcome: Outcome, #[case] json: &str) {
        assert_eq!(serde_json::to_string(&outcome).unwrap(), json);
    }
}
