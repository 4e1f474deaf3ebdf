//! Badges: a label, a status and a color, rendered as a shields.io redirect URL
//! ([`Badge::redirect_url`]), a local flat SVG ([`Badge::svg`]) or shields' endpoint JSON
//! ([`Badge::endpoint_json`]). Output size caps belong to the plugin engine, not here.

pub mod color;
pub mod encode;
pub mod svg;
mod verdana;

use serde_json::json;

/// One badge as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Left-hand text, e.g. the service name; may be empty.
    pub label: String,
    /// Right-hand text, e.g. `3/3` or `passing`.
    pub status: String,
    /// A normalized shields color (see [`color::normalize`]).
    pub color: String,
}

impl Badge {
    /// A badge whose color is normalized to a shields color (anything else becomes `lightgrey`).
    pub fn new(label: impl Into<String>, status: impl Into<String>, color: &str) -> Self {
        Self {
            label: label.into(),
            status: status.into(),
            color: color::normalize(color),
        }
    }

    /// The badge in shields' endpoint schema: `{"schemaVersion":1,"label","message","color"}`.
    pub fn endpoint_json(&self) -> serde_json::Value {
        json!({
            "schemaVersion": 1,
            "label": self.label,
            "message": self.status,
            "color": self.color,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_normalizes_color() {
        let badge = Badge::new("web", "1/2", "important");
        assert_eq!(
            badge,
            Badge {
                label: "web".into(),
                status: "1/2".into(),
                color: "orange".into()
            }
        );
    }

    #[test]
    fn endpoint_json_is_shields_schema() {
        let badge = Badge::new("web", "3/3", "#4C1");
        assert_eq!(
            badge.endpoint_json().to_string(),
            r##"{"schemaVersion":1,"label":"web","message":"3/3","color":"4c1"}"##
        );
    }
}
