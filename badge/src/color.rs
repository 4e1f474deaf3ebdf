//! Badge colors as shields.io understands them: its named colors, their aliases and 3/6-digit
//! hex; anything else becomes `lightgrey` so a badge URL never carries an arbitrary string.

/// The color a badge gets when the requested one is not a shields color.
pub const FALLBACK: &str = "lightgrey";

/// Shields' named colors with the fill badge-maker paints for each (badge-maker `color.js`).
const NAMED: [(&str, &str); 9] = [
    ("brightgreen", "#4c1"),
    ("green", "#97ca00"),
    ("yellow", "#dfb317"),
    ("yellowgreen", "#a4a61d"),
    ("orange", "#fe7d37"),
    ("red", "#e05d44"),
    ("blue", "#007ec6"),
    ("grey", "#555"),
    ("lightgrey", "#9f9f9f"),
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

/// Normalizes a requested color to what a badge URL may carry: a shields named color (aliases
/// resolve to the color they stand for, names match case-insensitively) or lowercase 3/6-digit hex
/// without `#`; anything else is [`FALLBACK`].
pub fn normalize(color: &str) -> String {
    let lower = color.trim().to_ascii_lowercase();
    if let Some((name, _)) = NAMED.iter().find(|(name, _)| *name == lower) {
        return (*name).to_owned();
    }
    if let Some((_, name)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return (*name).to_owned();
    }
    let hex = lower.strip_prefix('#').unwrap_or(&lower);
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex.to_owned();
    }
    FALLBACK.to_owned()
}

/// How bad a color is for aggregation: red 6 > orange 5 > yellow 4 > yellowgreen 3 > green 2 >
/// brightgreen 1 > anything else 0. Aliases count as the color they stand for.
pub fn severity(color: &str) -> u8 {
    let canonical = normalize(color);
    SEVERITY_ORDER
        .iter()
        .position(|name| *name == canonical)
        .map_or(0, |index| index as u8 + 1)
}

/// The worst of several colors by [`severity`], as given (not normalized); the first one wins a
/// tie; `None` when there are none.
pub fn worst<'a>(colors: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    colors.into_iter().fold(None, |worst, color| match worst {
        Some(current) if severity(current) >= severity(color) => Some(current),
        _ => Some(color),
    })
}

/// The CSS fill badge-maker paints for a color: `#`-prefixed hex for names, aliases and hex,
/// the `lightgrey` fill for anything else.
pub(super) fn svg_fill(color: &str) -> String {
    let normalized = normalize(color);
    match NAMED.iter().find(|(name, _)| *name == normalized) {
        Some((_, fill)) => (*fill).to_owned(),
        None => format!("#{normalized}"),
    }
}

/// Text and shadow colors for text on a background, chosen like badge-maker's
/// `colorsForBackground`: dark text on bright backgrounds (brightness above 0.69), else white.
pub(super) fn text_colors(background_fill: &str) -> (&'static str, &'static str) {
    if brightness_percent(background_fill) <= 69 {
        ("#fff", "#010101")
    } else {
        ("#333", "#ccc")
    }
}

/// Perceived brightness of a `#`-prefixed 3/6-digit hex fill, in hundredths (0..=100), with the
/// W3C weights badge-maker uses; anything unparsable counts as dark.
fn brightness_percent(fill: &str) -> u32 {
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
            // Rounded to two decimals like badge-maker's `toFixed(2)`.
            ((r * 299 + g * 587 + b * 114) * 100 + 127_500) / 255_000
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::named("brightgreen", "brightgreen")]
    #[case::named_upper_case("Green", "green")]
    #[case::yellowgreen("yellowgreen", "yellowgreen")]
    #[case::blue("blue", "blue")]
    #[case::grey("grey", "grey")]
    #[case::alias_gray("gray", "grey")]
    #[case::alias_lightgray("lightgray", "lightgrey")]
    #[case::alias_success("success", "brightgreen")]
    #[case::alias_important("important", "orange")]
    #[case::alias_critical("critical", "red")]
    #[case::alias_informational("informational", "blue")]
    #[case::alias_inactive("inactive", "lightgrey")]
    #[case::hex6("FF69B4", "ff69b4")]
    #[case::hex6_with_hash("#ff69b4", "ff69b4")]
    #[case::hex3("#0F0", "0f0")]
    #[case::hex_wrong_length("abcd", "lightgrey")]
    #[case::not_hex("ggg", "lightgrey")]
    #[case::css_name("purple", "lightgrey")]
    #[case::injection("red/../x", "lightgrey")]
    #[case::empty("", "lightgrey")]
    fn normalize_accepts_only_shields_colors(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(normalize(input), expected);
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
    #[case::hex("e05d44", 0)]
    #[case::unknown("nonsense", 0)]
    fn severity_ranks_red_worst(#[case] color: &str, #[case] expected: u8) {
        assert_eq!(severity(color), expected);
    }

    #[rstest]
    #[case::red_beats_all(&["brightgreen", "red", "orange"], Some("red"))]
    #[case::alias_counts_as_canonical(&["orange", "critical"], Some("critical"))]
    #[case::green_beats_others(&["blue", "green", "lightgrey"], Some("green"))]
    #[case::first_wins_tie(&["blue", "lightgrey"], Some("blue"))]
    #[case::empty(&[], None)]
    fn worst_picks_most_severe(#[case] colors: &[&str], #[case] expected: Option<&str>) {
        assert_eq!(worst(colors.iter().copied()), expected);
    }

    #[rstest]
    #[case::named("brightgreen", "#4c1")]
    #[case::alias("critical", "#e05d44")]
    #[case::hex("ABC", "#abc")]
    #[case::fallback("nonsense", "#9f9f9f")]
    fn svg_fill_is_badge_maker_hex(#[case] color: &str, #[case] expected: &str) {
        assert_eq!(svg_fill(color), expected);
    }

    #[rstest]
    #[case::label_grey("#555", ("#fff", "#010101"))]
    #[case::yellow_is_still_dark_enough("#dfb317", ("#fff", "#010101"))]
    #[case::white("#fff", ("#333", "#ccc"))]
    fn text_colors_follow_background_brightness(
        #[case] fill: &str,
        #[case] expected: (&str, &str),
    ) {
        assert_eq!(text_colors(fill), expected);
    }
}
