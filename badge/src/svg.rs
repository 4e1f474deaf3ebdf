//! A flat-style badge drawn locally with badge-maker's `flat` geometry (20 px high, 5 px
//! horizontal padding, text measured in 11 px Verdana and drawn at 10x scale).

use super::{Badge, color, verdana};
use std::fmt::Write;

/// Badge height in pixels.
const HEIGHT: u32 = 20;
/// Space left and right of each text, in pixels.
const PADDING: u32 = 5;
/// Fill of the label half.
const LABEL_FILL: &str = "#555";

/// One of the badge's two texts, placed.
struct PlacedText<'a> {
    content: &'a str,
    /// Left edge of the text's box, in pixels.
    margin: u32,
    /// Reserved text width from [`verdana::preferred_width`], in pixels (always odd).
    width: u32,
    /// Fill of the rectangle behind it, which picks the text color.
    background: &'a str,
}

impl PlacedText<'_> {
    /// A shadow and a text element, in the 10x-scaled coordinates badge-maker uses; nothing for
    /// empty text.
    fn write_to(&self, svg: &mut String) {
        if self.content.is_empty() {
            return;
        }
        let (fill, shadow) = color::text_colors(self.background);
        // 10 * (margin + width / 2 + padding); exact because the width is odd.
        let x = 10 * (self.margin + PADDING) + 5 * self.width;
        let length = 10 * self.width;
        let text = escape(self.content);
        let _ = write!(
            svg,
            r#"<text aria-hidden="true" x="{x}" y="150" fill="{shadow}" fill-opacity=".3" transform="scale(.1)" textLength="{length}">{text}</text><text x="{x}" y="140" transform="scale(.1)" fill="{fill}" textLength="{length}">{text}</text>"#
        );
    }
}

impl Badge {
    /// The badge as a standalone flat-style SVG. The hover `<title>` and `aria-label` are `title`
    /// when given, else `label: status` (just `status` for an empty label); all text is
    /// XML-escaped.
    pub fn svg(&self, title: Option<&str>) -> String {
        let status_fill = color::svg_fill(&self.color);
        let has_label = !self.label.is_empty();
        // Without a label badge-maker draws no left half and paints it in the status color.
        let label_fill = if has_label {
            LABEL_FILL
        } else {
            status_fill.as_str()
        };
        let label_width = if has_label {
            verdana::preferred_width(&self.label)
        } else {
            0
        };
        let left_width = if has_label {
            label_width + 2 * PADDING
        } else {
            0
        };
        let status_width = verdana::preferred_width(&self.status);
        let right_width = status_width + 2 * PADDING;
        let width = left_width + right_width;
        // The status box overlaps the label half by one pixel (badge-maker's `messageMargin`).
        let status_margin = match (has_label, self.status.is_empty()) {
            (true, false) => left_width - 1,
            (true, true) | (false, false) => left_width,
            (false, true) => left_width + 1,
        };

        let accessible = match title {
            Some(title) => title.to_owned(),
            None if has_label => format!("{}: {}", self.label, self.status),
            None => self.status.clone(),
        };
        let accessible = escape(&accessible);

        let mut svg = String::with_capacity(1200);
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" role="img" aria-label="{accessible}"><title>{accessible}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{width}" height="{HEIGHT}" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{left_width}" height="{HEIGHT}" fill="{label_fill}"/><rect x="{left_width}" width="{right_width}" height="{HEIGHT}" fill="{status_fill}"/><rect width="{width}" height="{HEIGHT}" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110">"##
        );
        let label = PlacedText {
            content: &self.label,
            margin: 1,
            width: label_width,
            background: label_fill,
        };
        label.write_to(&mut svg);
        let status = PlacedText {
            content: &self.status,
            margin: status_margin,
            width: status_width,
            background: &status_fill,
        };
        status.write_to(&mut svg);
        svg.push_str("</g></svg>");
        svg
    }
}

/// Escapes the five XML special characters (`&<>"'`) for text or attribute values, as badge-maker's
/// `escapeXml` does.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute `name="…"` of the first element that has it.
    fn attribute<'a>(svg: &'a str, name: &str) -> &'a str {
        let start = svg.find(&format!(" {name}=\"")).expect("attribute present") + name.len() + 3;
        let len = svg[start..].find('"').expect("attribute closed");
        &svg[start..start + len]
    }

    #[test]
    fn build_passing_matches_shields_flat_badge() {
        let svg = Badge::new("build", "passing", "brightgreen").svg(None);
        assert_eq!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="88" height="20" role="img" aria-label="build: passing"><title>build: passing</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="88" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="37" height="20" fill="#555"/><rect x="37" width="51" height="20" fill="#4c1"/><rect width="88" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="195" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="270">build</text><text x="195" y="140" transform="scale(.1)" fill="#fff" textLength="270">build</text><text aria-hidden="true" x="615" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="410">passing</text><text x="615" y="140" transform="scale(.1)" fill="#fff" textLength="410">passing</text></g></svg>"##
        );
    }

    #[test]
    fn texts_and_title_are_xml_escaped() {
        let svg = Badge::new("<script>alert('x')</script>", "a&b \"c\"", "red").svg(None);
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(">&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;</text>"));
        assert!(svg.contains(">a&amp;b &quot;c&quot;</text>"));
        assert!(svg.contains(
            "<title>&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;: a&amp;b &quot;c&quot;</title>"
        ));
    }

    #[test]
    fn escape_replaces_all_five_xml_specials() {
        assert_eq!(escape(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
    }

    #[test]
    fn title_overrides_accessible_text() {
        let svg = Badge::new("web", "3/3", "green").svg(Some("prod <eu>: web"));
        assert!(svg.contains("<title>prod &lt;eu&gt;: web</title>"));
        assert_eq!(attribute(&svg, "aria-label"), "prod &lt;eu&gt;: web");
        assert!(svg.contains(">web</text>") && svg.contains(">3/3</text>"));
    }

    #[test]
    fn width_grows_with_text() {
        let short = Badge::new("web", "up", "green").svg(None);
        let long = Badge::new("web", "up and running", "green").svg(None);
        let width = |svg: &str| {
            attribute(svg, "width")
                .parse::<u32>()
                .expect("numeric width")
        };
        assert_eq!(width(&short), 56);
        assert!(width(&long) > width(&short));
    }

    #[test]
    fn empty_label_draws_only_the_status_half() {
        let svg = Badge::new("", "up", "blue").svg(None);
        assert!(svg.contains(r##"<rect width="0" height="20" fill="#007ec6"/><rect x="0" width="23" height="20" fill="#007ec6"/>"##));
        assert!(svg.contains("<title>up</title>"));
        assert!(svg.contains(r##"<text x="115" y="140" transform="scale(.1)" fill="#fff" textLength="130">up</text>"##));
    }

    #[test]
    fn bright_background_gets_dark_text() {
        let svg = Badge::new("", "ok", "fff").svg(None);
        assert!(svg.contains(r##"fill="#333" textLength"##));
    }
}
