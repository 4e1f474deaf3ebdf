//! Shields' static-badge URL grammar: `/badge/{label}-{message}-{color}.svg`, where a literal
//! `-` or `_` inside a segment is doubled (single ones are separators and spaces) and the
//! result is percent-encoded.

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
pub fn shields_path_segment(text: &str) -> String {
    let doubled = text.replace('-', "--").replace('_', "__");
    uri_component(&doubled)
}

/// Percent-encodes like JavaScript's `encodeURIComponent`.
pub(crate) fn uri_component(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
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
        assert_eq!(shields_path_segment(text), expected);
    }
}
