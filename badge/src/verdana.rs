//! Text widths in 11 px Verdana, the font shields lays badges out with (badge-maker measures
//! with `anafanafo`; these are its widths for printable ASCII).

/// Advance widths in pixels of the characters 32 (space) through 126 (`~`).
const ASCII_WIDTHS: [f64; 95] = [
    3.87, 4.33, 5.05, 9.0, 6.99, 11.84, 7.99, 2.95, 5.0, 5.0, 6.99, 9.0, 4.0, 5.0, 4.0,
    5.0, // ' '..'/'
    6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, // '0'..'9'
    5.0, 5.0, 9.0, 9.0, 9.0, 6.0, 11.0, // ':'..'@'
    7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.0, 7.62, 6.12, 9.27, // 'A'..'M'
    8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54, // 'N'..'Z'
    5.0, 5.0, 5.0, 9.0, 6.99, 6.99, // '['..'`'
    6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.7, // 'a'..'m'
    6.96, 6.68, 6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9.0, 6.51, 6.51, 5.78, // 'n'..'z'
    6.98, 5.0, 6.98, 9.0, // '{'..'~'
];

/// Width of `m`, which anafanafo guesses for characters it has no width for.
const EM_WIDTH: f64 = 10.7;

/// Width of one character; control characters take no space.
fn char_width(c: char) -> f64 {
    match c {
        ' '..='~' => ASCII_WIDTHS[c as usize - ' ' as usize],
        c if c.is_control() => 0.0,
        _ => EM_WIDTH,
    }
}

/// The width badge-maker reserves for a text: the summed character widths truncated to whole
/// pixels, then rounded up to an odd number (which keeps the text centre on the pixel grid).
pub(super) fn preferred_width(text: &str) -> u32 {
    let width = text.chars().map(char_width).sum::<f64>() as u32;
    if width.is_multiple_of(2) {
        width + 1
    } else {
        width
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
    #[case::unknown_char_is_em_wide("ü", 11)]
    #[case::control_char_is_zero_wide("a\tb", 13)]
    fn preferred_width_matches_badge_maker(#[case] text: &str, #[case] expected: u32) {
        assert_eq!(preferred_width(text), expected);
    }
}
