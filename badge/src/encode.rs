//! Shields' static-badge URL grammar: `/badge/{label}-{message}-{color}.svg`, where a literal
//! `-` or `_` inside a segment is doubled (single ones are separators and spaces) and the
//! result is percent-encoded.

use super::Badge;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What `encodeURIComponent` leaves alone, which is what shields' own badge URLs use.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Escapes one badge segment (label or message) for a shields badge path: doubles every `-` and
/// `_`, then percent-encodes (space → `%20`, `/` → `%2F`, non-ASCII as UTF-8 bytes).
pub fn segment(text: &str) -> String {
    let doubled = text.replace('-', "--").replace('_', "__");
    utf8_percent_encode(&doubled, URI_COMPONENT).to_string()
}

impl Badge {
    /// The shields URL that renders this badge: `{base}/badge/{label}-{status}-{color}.svg`
    /// (one trailing `/` on the base is ignored).
    pub fn redirect_url(&self, shields_base: &str) -> String {
        let base = shields_base.strip_suffix('/').unwrap_or(shields_base);
        format!(
            "{base}/badge/{}-{}-{}.svg",
            segment(&self.label),
            segment(&self.status),
            segment(&self.color),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::dash("do-right", "do--right")]
    #[case::underscore("it_is_a_snake", "it__is__a__snake")]
    #[case::space("happy go lucky", "happy%20go%20lucky")]
    #[case::slash("/", "%2F")]
    #[case::percent("%", "%25")]
    #[case::question_mark("?", "%3F")]
    #[case::hash("#", "%23")]
    #[case::non_ascii("ü", "%C3%BC")]
    #[case::health_counts("3/3 (1)", "3%2F3%20(1)")]
    #[case::empty("", "")]
    fn segment_follows_shields_grammar(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(segment(text), expected);
    }

    #[rstest]
    #[case::plain(
        "https://img.shields.io",
        "https://img.shields.io/badge/my--app-3%2F3-brightgreen.svg"
    )]
    #[case::trailing_slash(
        "https://img.shields.io/",
        "https://img.shields.io/badge/my--app-3%2F3-brightgreen.svg"
    )]
    fn redirect_url_joins_base_and_segments(#[case] base: &str, #[case] expected: &str) {
        let badge = Badge::new("my-app", "3/3", "success");
        assert_eq!(badge.redirect_url(base), expected);
    }

    #[test]
    fn redirect_url_with_empty_label_keeps_leading_separator() {
        let badge = Badge::new("", "up", "#ABCDEF");
        assert_eq!(
            badge.redirect_url("http://127.0.0.1:9/shields"),
            "http://127.0.0.1:9/shields/badge/-up-abcdef.svg"
        );
    }
}
