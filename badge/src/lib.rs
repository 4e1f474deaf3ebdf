//! Status badges as shields.io draws them: a label, a message and a [`Color`], turned into a
//! shields redirect URL, a locally drawn SVG (element for element what npm `badge-maker` 6.0.0,
//! shields' own renderer, draws) or shields' endpoint JSON, with shields' query parameters
//! ([`BadgeParams`]) applied to each.
//!
//! ```
//! use kube_shields_badge::{Badge, BadgeParams, Color};
//!
//! let badge = Badge::new("web", "3/3", Color::BRIGHTGREEN);
//! let params = BadgeParams::from_query([("style", "flat-square"), ("label", "prod web")]);
//! assert_eq!(
//!     params.redirect_url("https://img.shields.io", &badge),
//!     "https://img.shields.io/badge/prod%20web-3%2F3-brightgreen.svg?style=flat-square",
//! );
//! assert!(params.svg(&badge, None).contains("<title>prod web: 3/3</title>"));
//! assert_eq!(params.endpoint_json(&badge)["label"], "prod web");
//! ```
//!
//! # Query parameters
//!
//! | parameter | accepted values | redirect | local SVG | endpoint JSON |
//! |---|---|---|---|---|
//! | `style` | `flat` (default), `flat-square`, `plastic`, `for-the-badge`, `social` (also the old `popout`, `popout-square`); anything else is `flat` | passed on (not `flat`) | drawn | `style` |
//! | `label` | any text, cut to [`MAX_LABEL_CHARS`] characters; empty removes the label | in the path | drawn | `label` |
//! | `labelColor` (old name `colorA`) | a shields color; anything else is ignored (grey, as badge-maker) | passed on | drawn | `labelColor` |
//! | `color` (old name `colorB`) | a shields color; anything else is lightgrey; ignored on error badges | in the path | drawn | `color` |
//! | `logo` | a named logo (printable ASCII) or `data:image/svg+xml;base64,…`, at most [`MAX_LOGO_BYTES`]; other data URLs are dropped | passed on | **not drawn** | `namedLogo` (named only) |
//! | `logoColor` | a shields color; anything else is ignored | passed on | not drawn | `logoColor` |
//! | `logoSize` | `auto`; anything else is ignored | passed on | not drawn | `logoSize` |
//! | `cacheSeconds` | a non-negative integer (`u32`) | passed on | — ([`BadgeParams::cache_seconds`] for the host) | `cacheSeconds`, at least [`MIN_ENDPOINT_CACHE_SECONDS`] |
//! | `link` | up to [`MAX_LINKS`]: left half, right half; `http(s)` URLs of at most [`MAX_LINK_BYTES`] only | passed on | drawn as badge-maker does | — (not in shields' schema) |
//!
//! Unknown parameters are ignored; a repeated one counts last (`link`: first two); empty
//! values are ignored except `label`. Shields publishes no length limits for these parameters;
//! the caps above are ours and generous.
//!
//! Logos: the local SVG draws none, named or data URL. Named logos need shields' icon set, and
//! an SVG data URL is a document from the request that we would embed in ours; refusing it is
//! simpler and safer than sanitising it. Redirects pass logos on to shields, which draws them.
//!
//! Colors: only shields' named colors, their aliases and hex (see [`Color`]). Shields also
//! accepts CSS colors such as `purple`; here they are not colors.
//!
//! History charts: [`bar_chart`] draws a check's history as a badge-high SVG of [`ChartBar`]s,
//! one colored bar per hour or day, after a grey label box.
#![deny(missing_docs)]

mod chart;
mod color;
mod encode;
mod params;
mod svg;
mod widths;
mod xml;

pub use chart::{ChartBar, bar_chart};
pub use color::Color;
pub use encode::shields_path_segment;
pub use params::{
    BadgeParams, MAX_LABEL_CHARS, MAX_LINK_BYTES, MAX_LINKS, MAX_LOGO_BYTES,
    MIN_ENDPOINT_CACHE_SECONDS,
};
pub use svg::Style;
pub use xml::escape_xml;

/// One badge as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    /// Left-hand text, e.g. the service name; may be empty.
    pub label: String,
    /// Right-hand text, e.g. `3/3` or `passing`.
    pub message: String,
    /// The message's background.
    pub color: Color,
    /// A failing check (shields' `isError`): a `color` parameter does not recolor it.
    pub is_error: bool,
}

impl Badge {
    /// A badge for a check that answered.
    pub fn new(label: impl Into<String>, message: impl Into<String>, color: Color) -> Self {
        Self {
            label: label.into(),
            message: message.into(),
            color,
            is_error: false,
        }
    }

    /// A badge for a check that could not answer (error, timeout, busy, stale, unreachable):
    /// [`Color::FAILURE`] and `is_error`.
    pub fn failure(label: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            message: message.into(),
            color: Color::FAILURE,
            is_error: true,
        }
    }

    /// [`BadgeParams::redirect_url`] without parameters.
    pub fn redirect_url(&self, shields_base: &str) -> String {
        BadgeParams::default().redirect_url(shields_base, self)
    }

    /// [`BadgeParams::svg`] without parameters: a flat badge.
    pub fn svg(&self, title: Option<&str>) -> String {
        BadgeParams::default().svg(self, title)
    }

    /// [`BadgeParams::endpoint_json`] without parameters.
    pub fn endpoint_json(&self) -> serde_json::Value {
        BadgeParams::default().endpoint_json(self)
    }
}
