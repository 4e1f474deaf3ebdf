//! Text widths as badge-maker measures them: anafanafo's per-code-point width tables (Verdana
//! and Helvetica at the sizes badge-maker uses), stored as compact binary tables generated from
//! anafanafo's own data by `tests/corpus/gen-width-tables.mjs` and checked against it by the
//! corpus test.

/// A font badge-maker measures text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Font {
    /// `11px Verdana`: flat, flat-square and plastic.
    Verdana11,
    /// `10px Verdana`: for-the-badge labels.
    Verdana10,
    /// `bold 10px Verdana`: for-the-badge messages.
    Verdana10Bold,
    /// `bold 11px Helvetica`: social.
    Helvetica11Bold,
}

/// Bytes per record: first code point (u24 LE), width in hundredths of a pixel (u16 LE).
const RECORD: usize = 5;
/// A width that marks code points the table has no width for.
const NO_WIDTH: u16 = 0xffff;

impl Font {
    /// Every font, for tests that compare all tables.
    #[cfg(test)]
    pub(crate) const ALL: [Font; 4] = [
        Font::Verdana11,
        Font::Verdana10,
        Font::Verdana10Bold,
        Font::Helvetica11Bold,
    ];

    /// The binary width table (see [`RECORD`]); runs are sorted and cover every code point from
    /// 0 on.
    fn table(self) -> &'static [u8] {
        match self {
            Font::Verdana11 => include_bytes!("widths/verdana-11px-normal.bin"),
            Font::Verdana10 => include_bytes!("widths/verdana-10px-normal.bin"),
            Font::Verdana10Bold => include_bytes!("widths/verdana-10px-bold.bin"),
            Font::Helvetica11Bold => include_bytes!("widths/helvetica-11px-bold.bin"),
        }
    }

    /// The table's width for a code point, `None` where it has none.
    fn table_width(self, code_point: u32) -> Option<f64> {
        let table = self.table();
        let records = table.len() / RECORD;
        let first_of = |index: usize| {
            let at = index * RECORD;
            u32::from_le_bytes([table[at], table[at + 1], table[at + 2], 0])
        };
        // The last record whose run starts at or before the code point.
        let (mut low, mut high) = (0, records);
        while high - low > 1 {
            let middle = (low + high) / 2;
            if first_of(middle) <= code_point {
                low = middle;
            } else {
                high = middle;
            }
        }
        let at = low * RECORD + 3;
        match u16::from_le_bytes([table[at], table[at + 1]]) {
            NO_WIDTH => None,
            // Exactly the double JS parses from the table's two-decimal literal.
            hundredths => Some(f64::from(hundredths) / 100.0),
        }
    }

    /// The width of one character: 0 for control characters, the width of `m` where the table
    /// has none (anafanafo's guess).
    pub(crate) fn char_width(self, c: char) -> f64 {
        let code_point = u32::from(c);
        if code_point <= 31 || code_point == 127 {
            return 0.0;
        }
        self.table_width(code_point)
            .or_else(|| self.table_width(u32::from('m')))
            .unwrap_or(0.0)
    }

    /// A text's width in pixels, summed character by character in order as anafanafo does
    /// (so the floating-point result is the same).
    pub(crate) fn text_width(self, text: &str) -> f64 {
        text.chars().fold(0.0, |sum, c| sum + self.char_width(c))
    }

    /// The width badge-maker reserves for a text (`preferredWidthOf`): the width truncated to
    /// whole pixels, then rounded up to an odd number, which keeps the text centre on the
    /// pixel grid. Empty text gets 1.
    pub(crate) fn preferred_width(self, text: &str) -> u32 {
        let width = self.text_width(text) as u32;
        if width.is_multiple_of(2) {
            width + 1
        } else {
            width
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::build("build", 27)]
    #[case::passing("passing", 41)]
    #[case::empty("", 1)]
    #[case::umlaut_has_its_own_width("ü", 7)]
    #[case::cjk("漢字", 23)]
    #[case::control_char_is_zero_wide("a\tb", 13)]
    fn verdana_11_preferred_width_matches_badge_maker(#[case] text: &str, #[case] expected: u32) {
        assert_eq!(Font::Verdana11.preferred_width(text), expected);
    }

    #[test]
    fn unknown_code_point_is_as_wide_as_m() {
        // U+E000 is private use: no font table has it.
        for font in Font::ALL {
            assert_eq!(
                font.char_width('\u{e000}'),
                font.char_width('m'),
                "{font:?}"
            );
            assert!(font.char_width('m') > 5.0);
        }
    }

    #[test]
    fn bold_is_wider_than_normal() {
        assert!(Font::Verdana10Bold.text_width("PASSING") > Font::Verdana10.text_width("PASSING"));
    }
}
