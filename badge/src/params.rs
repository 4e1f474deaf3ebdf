//! Shields' query parameters, read once from a request and applied to a badge in each output
//! form: redirect URL, local SVG and endpoint JSON.

use crate::Badge;
use crate::color::Color;
use crate::encode::{shields_path_segment, uri_component};
use crate::svg::{self, Style, SvgInput};
use serde_json::{Map, Value, json};

/// Longest `label` override kept, in characters; longer ones are cut.
pub const MAX_LABEL_CHARS: usize = 256;
/// Longest `logo` kept, in bytes (a named logo or a base64 SVG data URL); longer ones are
/// dropped.
pub const MAX_LOGO_BYTES: usize = 8192;
/// Longest `link` kept, in bytes; longer ones are dropped.
pub const MAX_LINK_BYTES: usize = 2048;
/// At most this many `link` parameters count (left half, right half), as in badge-maker.
pub const MAX_LINKS: usize = 2;
/// Shields' smallest `cacheSeconds` in endpoint JSON; smaller values are raised to it.
pub const MIN_ENDPOINT_CACHE_SECONDS: u32 = 300;

/// The prefix of the only data URLs `logo` may carry.
const SVG_DATA_URL: &str = "data:image/svg+xml;base64,";

/// Shields' badge query parameters, validated (see the crate docs for the table). Build with
/// [`BadgeParams::from_query`]; the default is no parameters at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BadgeParams {
    style: Option<Style>,
    label: Option<String>,
    label_color: Option<Color>,
    color: Option<Color>,
    logo: Option<String>,
    logo_color: Option<Color>,
    logo_size_auto: bool,
    cache_seconds: Option<u32>,
    links: Vec<String>,
}

impl BadgeParams {
    /// Reads shields' parameters from decoded query pairs. Unknown keys are ignored; for a
    /// repeated key the last value wins, except `link`, whose first two count (in order: left
    /// half, right half). Values that
    /// fail validation are dropped, except a bad `color`, which becomes lightgrey.
    pub fn from_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> BadgeParams {
        let mut params = BadgeParams::default();
        for (key, value) in pairs {
            match key {
                // Unknown styles are flat, like shields.
                "style" => params.style = Style::parse(value),
                // An empty label is a real override: it removes the label half.
                "label" => params.label = Some(value.chars().take(MAX_LABEL_CHARS).collect()),
                "labelColor" | "colorA" if !value.is_empty() => {
                    params.label_color = Color::parse(value);
                }
                "color" | "colorB" if !value.is_empty() => {
                    params.color = Some(Color::or_fallback(value));
                }
                "logo" => params.logo = valid_logo(value).map(str::to_owned),
                "logoColor" => params.logo_color = Color::parse(value),
                "logoSize" => params.logo_size_auto = value == "auto",
                "cacheSeconds" => params.cache_seconds = parse_seconds(value),
                // Links are positional (left half, right half): an empty or refused one keeps
                // its place as "no link here".
                "link" if params.links.len() < MAX_LINKS => {
                    params
                        .links
                        .push(valid_link(value).unwrap_or_default().to_owned());
                }
                _ => {}
            }
        }
        params
    }

    /// The style to draw; flat when none or an unknown one was asked for.
    pub fn style(&self) -> Style {
        self.style.unwrap_or_default()
    }

    /// The `cacheSeconds` asked for, if a valid one was.
    pub fn cache_seconds(&self) -> Option<u32> {
        self.cache_seconds
    }

    /// The badge as the parameters change it: `label` replaces the label; `color` replaces the
    /// color unless the badge is an error (shields' `isError`: a failing check keeps its
    /// failure color).
    pub fn apply(&self, badge: &Badge) -> Badge {
        let mut applied = badge.clone();
        if let Some(label) = &self.label {
            applied.label.clone_from(label);
        }
        if let (Some(color), false) = (&self.color, badge.is_error) {
            applied.color = color.clone();
        }
        applied
    }

    /// The shields URL that draws the badge: `{shields_base}/badge/{label}-{message}-{color}.svg`
    /// (one trailing `/` on the base is ignored) with `label` and `color` applied, followed by
    /// the parameters shields applies itself (`style`, `labelColor`, `logo`, `logoColor`,
    /// `logoSize`, `cacheSeconds`, `link`), percent-encoded. The host is always `shields_base`.
    pub fn redirect_url(&self, shields_base: &str, badge: &Badge) -> String {
        let badge = self.apply(badge);
        let base = shields_base.strip_suffix('/').unwrap_or(shields_base);
        // Shields' schema refuses an empty message; `_` is a space there, which badge-maker
        // trims, so the badge looks the same as one with an empty message.
        let message = match shields_path_segment(&badge.message) {
            empty if empty.is_empty() => "_".to_owned(),
            message => message,
        };
        let mut url = format!(
            "{base}/badge/{}-{message}-{}.svg",
            shields_path_segment(&badge.label),
            badge.color.as_str(),
        );
        let query = self.passed_on_query();
        for (index, (key, value)) in query.iter().enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(key);
            url.push('=');
            url.push_str(&uri_component(value));
        }
        url
    }

    /// The parameters shields applies itself, in the order of the crate's table.
    fn passed_on_query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(style) = self.style.filter(|style| *style != Style::Flat) {
            query.push(("style", style.as_str().to_owned()));
        }
        if let Some(label_color) = &self.label_color {
            query.push(("labelColor", label_color.to_string()));
        }
        if let Some(logo) = &self.logo {
            query.push(("logo", logo.clone()));
        }
        if let Some(logo_color) = &self.logo_color {
            query.push(("logoColor", logo_color.to_string()));
        }
        if self.logo_size_auto {
            query.push(("logoSize", "auto".to_owned()));
        }
        if let Some(seconds) = self.cache_seconds {
            query.push(("cacheSeconds", seconds.to_string()));
        }
        if self.links.iter().any(|link| !link.is_empty()) {
            for link in &self.links {
                query.push(("link", link.clone()));
            }
        }
        query
    }

    /// The badge as a standalone SVG in the asked-for style, drawn as badge-maker 6.0.0 draws
    /// it (with `label`, `color`, `labelColor` and `link` applied; no logo). The `<title>` and
    /// `aria-label` are `title` when given, else `label: message`. All text is XML-escaped.
    pub fn svg(&self, badge: &Badge, title: Option<&str>) -> String {
        let badge = self.apply(badge);
        svg::render(&SvgInput {
            style: self.style(),
            label: &badge.label,
            message: &badge.message,
            color: &badge.color,
            label_color: self.label_color.as_ref(),
            links: &self.links,
            title,
        })
    }

    /// The badge in shields' endpoint schema: `schemaVersion`, `label`, `message`, `color`,
    /// then as they apply `isError` (only `true` is written), `labelColor`, `style`, `namedLogo`,
    /// `logoColor`, `logoSize` and `cacheSeconds` (raised to shields' minimum of 300).
    pub fn endpoint_json(&self, badge: &Badge) -> Value {
        let badge = self.apply(badge);
        // Shields' schema refuses an empty message; badge-maker trims a space away.
        let message = if badge.message.is_empty() {
            " ".to_owned()
        } else {
            badge.message
        };
        let mut json = Map::new();
        json.insert("schemaVersion".into(), json!(1));
        json.insert("label".into(), json!(badge.label));
        json.insert("message".into(), json!(message));
        json.insert("color".into(), json!(badge.color));
        if badge.is_error {
            json.insert("isError".into(), json!(true));
        }
        if let Some(label_color) = &self.label_color {
            json.insert("labelColor".into(), json!(label_color));
        }
        if let Some(style) = self.style {
            json.insert("style".into(), json!(style.as_str()));
        }
        // Data-URL logos are left out: the schema wants them decoded (`logoSvg`).
        if let Some(logo) = self.logo.as_ref().filter(|logo| !logo.starts_with("data:")) {
            json.insert("namedLogo".into(), json!(logo));
        }
        if let Some(logo_color) = &self.logo_color {
            json.insert("logoColor".into(), json!(logo_color));
        }
        if self.logo_size_auto {
            json.insert("logoSize".into(), json!("auto"));
        }
        if let Some(seconds) = self.cache_seconds {
            json.insert(
                "cacheSeconds".into(),
                json!(seconds.max(MIN_ENDPOINT_CACHE_SECONDS)),
            );
        }
        Value::Object(json)
    }
}

/// A `logo` worth passing on: a named logo (printable ASCII, as simple-icons names are) or a
/// base64 SVG data URL, within [`MAX_LOGO_BYTES`].
fn valid_logo(value: &str) -> Option<&str> {
    if value.is_empty() || value.len() > MAX_LOGO_BYTES {
        return None;
    }
    match value.strip_prefix(SVG_DATA_URL) {
        Some(base64) => {
            let is_base64 = !base64.is_empty()
                && base64
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            is_base64.then_some(value)
        }
        None if value.starts_with("data:") => None,
        None => value
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b))
            .then_some(value),
    }
}

/// A `link` worth drawing: an `http` or `https` URL (never `javascript:` or other schemes a
/// click on an SVG would run) within [`MAX_LINK_BYTES`], without control characters.
fn valid_link(value: &str) -> Option<&str> {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    let http = lower.starts_with("http://") || lower.starts_with("https://");
    (http && value.len() <= MAX_LINK_BYTES && !value.chars().any(char::is_control)).then_some(value)
}

/// `cacheSeconds`: a non-negative decimal integer that fits a `u32`.
fn parse_seconds(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}
