//! Badge colors as shields.io understands them: its named colors, their aliases and 3/6-digit
//! hex. This module is the one place that knows color names, their fills, severity and the
//! default and failure colors.

use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// A normalized shields color: one of the nine named colors (aliases resolved) or lowercase
/// 3/6-digit hex without `#`. It never holds anything else, so it is safe in a badge URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Color(Cow<'static, str>);

/// Shields' named colors with the fill badge-maker 6.0.0 paints for each (its `color.js`).
const NAMED: [(&str, &str); 9] = [
    ("brightgreen", "#4b0"),
    ("green", "#67ac09"),
    ("yellow", "#d8b800"),
    ("yellowgreen", "#95991a"),
    ("orange", "#ea7233"),
    ("red", "#dd4343"),
    ("blue", "#007ec6"),
    ("grey", "#555"),
    ("lightgrey", "#939393"),
];

/// Shields' aliases and the named color each stands for.
const ALIASES: [(&str, &str); 7] = [
    ("gray", "grey"),
    ("lightgray", "lightgrey"),
    ("critical", "red"),
    ("important", "orange"),
    ("success", "brightgreen"),
    ("informational", "blue"),
    ("inactive", "lightgrey"),
];

/// Named colors from best to worst; a color's severity is its position here plus one.
const SEVERITY_ORDER: [&str; 6] = [
    "brightgreen",
    "green",
    "yellowgreen",
    "yellow",
    "orange",
    "red",
];

impl Color {
    /// `red`.
    pub const RED: Color = Color(Cow::Borrowed("red"));
    /// `orange`.
    pub const ORANGE: Color = Color(Cow::Borrowed("orange"));
    /// `yellow`.
    pub const YELLOW: Color = Color(Cow::Borrowed("yellow"));
    /// `yellowgreen`.
    pub const YELLOWGREEN: Color = Color(Cow::Borrowed("yellowgreen"));
    /// `green`.
    pub const GREEN: Color = Color(Cow::Borrowed("green"));
    /// `brightgreen`.
    pub const BRIGHTGREEN: Color = Color(Cow::Borrowed("brightgreen"));
    /// `blue`.
    pub const BLUE: Color = Color(Cow::Borrowed("blue"));
    /// `grey`.
    pub const GREY: Color = Color(Cow::Borrowed("grey"));
    /// `lightgrey`.
    pub const LIGHTGREY: Color = Color(Cow::Borrowed("lightgrey"));
    /// The color of a check value that comes without one: orange.
    pub const DEFAULT: Color = Color::ORANGE;
    /// The color of a badge that could not be computed (error, timeout, busy, stale,
    /// unreachable): lightgrey.
    pub const FAILURE: Color = Color::LIGHTGREY;

    /// The shields color `text` names: a named color or alias (case-insensitive, surrounding
    /// whitespace ignored) or 3/6-digit hex with or without `#`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Color> {
        let lower = text.trim().to_ascii_lowercase();
        if let Some((name, _)) = NAMED.iter().find(|(name, _)| *name == lower) {
            return Some(Color(Cow::Borrowed(name)));
        }
        if let Some((_, name)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
            return Some(Color(Cow::Borrowed(name)));
        }
        let hex = lower.strip_prefix('#').unwrap_or(&lower);
        if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Color(Cow::Owned(hex.to_owned())));
        }
        None
    }

    /// Like [`Color::parse`], but anything that is not a shields color becomes
    /// [`Color::LIGHTGREY`], so a badge never carries an arbitrary string.
    pub fn or_fallback(text: &str) -> Color {
        Color::parse(text).unwrap_or(Color::LIGHTGREY)
    }

    /// The color as it goes into a shields URL: a named color or lowercase hex without `#`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How bad a color is for aggregation: red 6 > orange 5 > yellow 4 > yellowgreen 3 > green 2
    /// > brightgreen 1 > anything else 0.
    pub fn severity(&self) -> u8 {
        SEVERITY_ORDER
            .iter()
            .position(|name| *name == self.as_str())
            .map_or(0, |index| index as u8 + 1)
    }

    /// The worst of several colors by [`Color::severity`]; the first one wins a tie; `None` when
    /// there are none.
    pub fn worst(colors: impl IntoIterator<Item = Color>) -> Option<Color> {
        colors.into_iter().fold(None, |worst, color| match worst {
            Some(current) if current.severity() >= color.severity() => Some(current),
            _ => Some(color),
        })
    }

    /// The CSS fill badge-maker paints for this color: its table's hex for named colors, else
    /// `#` and the hex.
    pub(crate) fn svg_fill(&self) -> Cow<'static, str> {
        match NAMED.iter().find(|(name, _)| *name == self.as_str()) {
            Some((_, fill)) => Cow::Borrowed(fill),
            None => Cow::Owned(format!("#{}", self.as_str())),
        }
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Color {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Text on a background: the text fill and its shadow's fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextColors {
    pub(crate) text: &'static str,
    pub(crate) shadow: &'static str,
}

/// The fill badge-maker gives text that sits on no particular background.
pub(crate) const WHITE_TEXT: &str = "#fff";

/// Text and shadow colors for text on a `#`-hex fill, chosen like badge-maker's
/// `colorsForBackground`: dark text when the background is bright, else white.
pub(crate) fn text_colors(background_fill: &str) -> TextColors {
    if is_bright(background_fill) {
        TextColors {
            text: "#333",
            shadow: "#ccc",
        }
    } else {
        TextColors {
            text: WHITE_TEXT,
            shadow: "#010101",
        }
    }
}

/// Whether a `#`-prefixed 3/6-digit hex fill is bright by badge-maker's rule: perceived
/// brightness (W3C weights), rounded with `toFixed(2)`, above 0.69. Anything unparsable is dark.
fn is_bright(fill: &str) -> bool {
    let hex = fill.strip_prefix('#').unwrap_or(fill);
    let expanded: String = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect(),
        _ => hex.to_owned(),
    };
    let channel = |at: usize| {
        expanded
            .get(at..at + 2)
            .and_then(|pair| u32::from_str_radix(pair, 16).ok())
    };
    match (channel(0), channel(2), channel(4)) {
        (Some(r), Some(g), Some(b)) if expanded.len() == 6 => {
            // The same double JS computes. `toFixed(2)` rounds its exact binary value, so it
            // gives more than 0.69 exactly when the double is above 0.695, i.e. above the
            // nearest double to 0.695 (which lies just below 0.695).
            let brightness = f64::from(r * 299 + g * 587 + b * 114) / 255_000.0;
            brightness > 0.695
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::named("brightgreen", Some("brightgreen"))]
    #[case::named_upper_case("Green", Some("green"))]
    #[case::surrounding_space(" red ", Some("red"))]
    #[case::yellowgreen("yellowgreen", Some("yellowgreen"))]
    #[case::blue("blue", Some("blue"))]
    #[case::grey("grey", Some("grey"))]
    #[case::alias_gray("gray", Some("grey"))]
    #[case::alias_lightgray("LightGray", Some("lightgrey"))]
    #[case::alias_success("success", Some("brightgreen"))]
    #[case::alias_important("important", Some("orange"))]
    #[case::alias_critical("critical", Some("red"))]
    #[case::alias_informational("informational", Some("blue"))]
    #[case::alias_inactive("inactive", Some("lightgrey"))]
    #[case::hex6("FF69B4", Some("ff69b4"))]
    #[case::hex6_with_hash("#ff69b4", Some("ff69b4"))]
    #[case::hex3("#0F0", Some("0f0"))]
    #[case::hex_wrong_length("abcd", None)]
    #[case::two_hashes("##abc", None)]
    #[case::not_hex("ggg", None)]
    #[case::css_name("purple", None)]
    #[case::injection("red/../x", None)]
    #[case::empty("", None)]
    fn parse_accepts_only_shields_colors(#[case] input: &str, #[case] expected: Option<&str>) {
        assert_eq!(Color::parse(input).as_ref().map(Color::as_str), expected);
    }

    #[rstest]
    #[case::color("Critical", "red")]
    #[case::not_a_color("purple", "lightgrey")]
    fn or_fallback_is_lightgrey_for_non_colors(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(Color::or_fallback(input).as_str(), expected);
    }

    #[test]
    fn consts_are_what_parse_returns() {
        for (name, color) in [
            ("red", Color::RED),
            ("orange", Color::ORANGE),
            ("yellow", Color::YELLOW),
            ("yellowgreen", Color::YELLOWGREEN),
            ("green", Color::GREEN),
            ("brightgreen", Color::BRIGHTGREEN),
            ("blue", Color::BLUE),
            ("grey", Color::GREY),
            ("lightgrey", Color::LIGHTGREY),
        ] {
            assert_eq!(Color::parse(name), Some(color));
        }
        assert_eq!(Color::DEFAULT.as_str(), "orange");
        assert_eq!(Color::FAILURE.as_str(), "lightgrey");
    }

    #[rstest]
    #[case::red("red", 6)]
    #[case::critical_is_red("critical", 6)]
    #[case::orange("orange", 5)]
    #[case::important_is_orange("important", 5)]
    #[case::yellow("yellow", 4)]
    #[case::yellowgreen("yellowgreen", 3)]
    #[case::green("green", 2)]
    #[case::brightgreen("brightgreen", 1)]
    #[case::success_is_brightgreen("success", 1)]
    #[case::blue("blue", 0)]
    #[case::hex_of_red("dd4343", 0)]
    #[case::lightgrey("lightgrey", 0)]
    fn severity_ranks_red_worst(#[case] color: &str, #[case] expected: u8) {
        assert_eq!(Color::or_fallback(color).severity(), expected);
    }

    #[rstest]
    #[case::red_beats_all(&["brightgreen", "red", "orange"], Some("red"))]
    #[case::yellow_beats_yellowgreen(&["yellowgreen", "yellow"], Some("yellow"))]
    #[case::green_beats_others(&["blue", "green", "lightgrey"], Some("green"))]
    #[case::first_wins_tie(&["blue", "lightgrey"], Some("blue"))]
    #[case::empty(&[], None)]
    fn worst_picks_most_severe(#[case] colors: &[&str], #[case] expected: Option<&str>) {
        let worst = Color::worst(colors.iter().map(|c| Color::or_fallback(c)));
        assert_eq!(worst.as_ref().map(Color::as_str), expected);
    }

    #[test]
    fn serializes_and_displays_as_its_name() {
        let color = Color::or_fallback("#ABC");
        assert_eq!(serde_json::to_string(&color).unwrap(), r#""abc""#);
        assert_eq!(color.to_string(), "abc");
    }

    #[rstest]
    #[case::named("brightgreen", "#4b0")]
    #[case::alias("critical", "#dd4343")]
    #[case::hex("ABC", "#abc")]
    #[case::fallback("nonsense", "#939393")]
    fn svg_fill_is_badge_maker_hex(#[case] color: &str, #[case] expected: &str) {
        assert_eq!(Color::or_fallback(color).svg_fill(), expected);
    }

    #[rstest]
    #[case::label_grey("#555", "#fff")]
    #[case::yellow_is_bright("#d8b800", "#fff")]
    #[case::white("#fff", "#333")]
    // Exactly 0.695 in decimals, a double just below it: `toFixed(2)` gives 0.69, white text.
    #[case::exactly_at_threshold("#77ee11", "#fff")]
    #[case::just_below_threshold("#6bdd88", "#fff")]
    #[case::just_above_threshold("#eb88ee", "#333")]
    fn text_colors_follow_background_brightness(#[case] fill: &str, #[case] expected: &str) {
        assert_eq!(text_colors(fill).text, expected);
    }
}
