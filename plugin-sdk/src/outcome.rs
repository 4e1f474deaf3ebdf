//! What a check answers: a raw value or a shield of its own.

use crate::bindings::kube_shields::plugin::types as wit;

/// The result of a successful check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A plain value: the badge shows it with the check name as label, in orange.
    Raw(String),
    /// A badge with the check's own label, status and color.
    Shield(Shield),
}

impl Outcome {
    /// A plain value, shown with the check name as label, in orange.
    pub fn raw(value: impl Into<String>) -> Self {
        Self::Raw(value.into())
    }
}

impl From<Shield> for Outcome {
    fn from(shield: Shield) -> Self {
        Self::Shield(shield)
    }
}

impl From<String> for Outcome {
    fn from(value: String) -> Self {
        Self::Raw(value)
    }
}

impl From<&str> for Outcome {
    fn from(value: &str) -> Self {
        Self::Raw(value.to_owned())
    }
}

impl From<Outcome> for wit::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Raw(value) => wit::Outcome::Raw(value),
            Outcome::Shield(Shield {
                label,
                status,
                color,
            }) => wit::Outcome::Shield(wit::Shield {
                label,
                status,
                color,
            }),
        }
    }
}

/// A badge the check chooses itself: `Shield::new("1.27").label("nginx").color("blue")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shield {
    /// Left-hand text; the check name when `None`. At most 64 characters are shown.
    pub label: Option<String>,
    /// Right-hand text. At most 256 characters are shown.
    pub status: String,
    /// A shields.io color name or alias (`green`, `critical`, ...) or 3/6-digit hex;
    /// orange when `None`, lightgrey when not a color.
    pub color: Option<String>,
}

impl Shield {
    /// A shield with this status, the check name as label and the default color.
    pub fn new(status: impl Into<String>) -> Self {
        Self {
            label: None,
            status: status.into(),
            color: None,
        }
    }

    /// Sets the left-hand text.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the color: a shields.io name or alias, or 3/6-digit hex without `#`.
    #[must_use]
    pub fn color(mut self, color: impl Into<String>) -> Self {
        self.color = Some(color.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shield_builder_sets_label_and_color() {
        let outcome: wit::Outcome =
            Outcome::from(Shield::new("1.27").label("nginx").color("blue")).into();
        let wit::Outcome::Shield(shield) = outcome else {
            panic!("expected a shield")
        };
        assert_eq!(shield.label.as_deref(), Some("nginx"));
        assert_eq!(shield.status, "1.27");
        assert_eq!(shield.color.as_deref(), Some("blue"));
    }

    #[test]
    fn shield_without_label_or_color_leaves_them_to_the_host() {
        assert_eq!(
            Shield::new("ok"),
            Shield {
                label: None,
                status: "ok".into(),
                color: None
            }
        );
    }

    #[test]
    fn raw_outcome_keeps_its_value() {
        let outcome: wit::Outcome = Outcome::raw("v1.2.3").into();
        assert!(matches!(outcome, wit::Outcome::Raw(value) if value == "v1.2.3"));
    }
}
