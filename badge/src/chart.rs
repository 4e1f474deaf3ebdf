//! History bar charts: a badge-like SVG with a grey label box on the left and one thin bar per
//! bucket (an hour or a day) of a check's history, each bar in its bucket's color.

use crate::color::{Color, WHITE_TEXT};
use crate::svg::js_trim;
use crate::widths::Font;
use crate::xml::{Element, element, xml_chars_only};

/// One bar of a history chart: one bucket (an hour or a day) of a check's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartBar {
    /// Hover text of the bar, e.g. "2026-12-07: 99.93% up (1440 checks)"; untrusted, escaped.
    pub title: String,
    /// The bar's color (the uptime color of the bucket); ignored when `filled` is false.
    pub color: Color,
    /// Whether the bucket has samples; an empty bucket is drawn as a short light-grey bar.
    pub filled: bool,
}

/// Height of the chart, as a flat badge.
const HEIGHT: u32 = 20;
/// Space above and below the bars, and left and right of the bar area.
const MARGIN: u32 = 2;
/// Height of the bar drawn for an empty bucket, at the bottom of the bar area.
const EMPTY_HEIGHT: u32 = 4;
/// Fill of an empty bucket's bar: lighter than [`Color::LIGHTGREY`], which is a bucket color.
const EMPTY_FILL: &str = "#e5e5e5";
/// Charts with at most this many bars draw wide bars with gaps.
const WIDE_BARS_MAX: usize = 90;
/// Space left and right of the label text, as in the flat badge.
const HORIZONTAL_PADDING: u32 = 5;
/// Font of the label, as in the flat badge.
const FONT_FAMILY: &str = "Verdana,Geneva,DejaVu Sans,sans-serif";

/// Bar width and gap in pixels for a chart of `count` bars: 4 px bars 1 px apart for up to 90
/// bars (at most 449 px of bars), 2 px bars without gaps beyond (730 px for 365 bars).
fn bar_geometry(count: usize) -> (u32, u32) {
    if count <= WIDE_BARS_MAX {
        (4, 1)
    } else {
        (2, 0)
    }
}

/// A chart of `bars` (oldest first), 20 px high like a badge, with `label` on a grey box at its
/// left as a badge label is drawn.
///
/// The label box is as wide as the flat badge's label part (the label's Verdana 11 px width
/// plus 5 px each side); an empty label draws no box. The bar area follows with a 2 px margin
/// on each side: up to 90 bars are 4 px wide with 1 px gaps, more bars are 2 px wide without
/// gaps, so 365 daily bars take 734 px. Filled bars span the full height less 2 px top and
/// bottom; empty ones are 4 px high, light grey, at the bottom. Each bar carries its `title` as
/// hover text; the chart's `<title>` and `aria-label` are the label and a count of bars and of
/// bars with data. Texts are XML-escaped (characters XML forbids are dropped); the output holds
/// no scripts or external references and is the same for the same input.
pub fn bar_chart(label: &str, bars: &[ChartBar]) -> String {
    let label = xml_chars_only(js_trim(label));
    let label_box_width = if label.is_empty() {
        0
    } else {
        Font::Verdana11.preferred_width(&label) + 2 * HORIZONTAL_PADDING
    };
    let (bar_width, gap) = bar_geometry(bars.len());
    let bars_width = match bars.len() {
        0 => 0,
        count => {
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            2 * MARGIN + count.saturating_mul(bar_width + gap) - gap
        }
    };
    let width = label_box_width.saturating_add(bars_width);
    let accessible = summary(&label, bars);

    let mut svg = element("svg")
        .attr("xmlns", "http://www.w3.org/2000/svg")
        .attr("width", width)
        .attr("height", HEIGHT)
        .attr("role", "img")
        .attr("aria-label", accessible.as_str())
        .child(element("title").text(&accessible));

    if label_box_width > 0 {
        let label_fill = Color::GREY.svg_fill();
        let label_text_width = f64::from(label_box_width - 2 * HORIZONTAL_PADDING);
        svg = svg
            .child(
                element("g").attr("shape-rendering", "crispEdges").child(
                    element("rect")
                        .attr("width", label_box_width)
                        .attr("height", HEIGHT)
                        .attr("fill", &*label_fill),
                ),
            )
            .child(
                element("g")
                    .attr("fill", WHITE_TEXT)
                    .attr("text-anchor", "middle")
                    .attr("font-family", FONT_FAMILY)
                    .attr("text-rendering", "geometricPrecision")
                    .attr("font-size", 110.0)
                    .child(
                        element("text")
                            .attr("aria-hidden", "true")
                            .attr("x", 10.0 * (0.5 * f64::from(label_box_width)))
                            .attr("y", 140.0)
                            .attr("textLength", 10.0 * label_text_width)
                            .attr("transform", "scale(.1)")
                            .text(&label),
                    ),
            );
    }

    if !bars.is_empty() {
        let pitch = bar_width + gap;
        let first_x = label_box_width + MARGIN;
        let group = bars.iter().zip(0u32..).fold(
            element("g").attr("shape-rendering", "crispEdges"),
            |group, (bar, index)| group.child(bar_rect(bar, first_x + index * pitch, bar_width)),
        );
        svg = svg.child(group);
    }

    let mut out = String::with_capacity(256 + 96 * bars.len());
    svg.render_into(&mut out);
    out
}

/// One bar's `<rect>` at `x`, with its hover `<title>`.
fn bar_rect(bar: &ChartBar, x: u32, width: u32) -> Element {
    let (y, height, fill) = if bar.filled {
        (MARGIN, HEIGHT - 2 * MARGIN, bar.color.svg_fill())
    } else {
        (
            HEIGHT - MARGIN - EMPTY_HEIGHT,
            EMPTY_HEIGHT,
            EMPTY_FILL.into(),
        )
    };
    element("rect")
        .attr("x", x)
        .attr("y", y)
        .attr("width", width)
        .attr("height", height)
        .attr("fill", &*fill)
        .child(element("title").text(&xml_chars_only(&bar.title)))
}

/// The chart's `<title>` and `aria-label`: e.g. `uptime: 30 bars, 29 with data`.
fn summary(label: &str, bars: &[ChartBar]) -> String {
    let filled = bars.iter().filter(|bar| bar.filled).count();
    let noun = if bars.len() == 1 { "bar" } else { "bars" };
    let counts = format!("{} {noun}, {filled} with data", bars.len());
    if label.is_empty() {
        counts
    } else {
        format!("{label}: {counts}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_switches_to_narrow_bars_beyond_ninety() {
        assert_eq!(bar_geometry(0), (4, 1));
        assert_eq!(bar_geometry(90), (4, 1));
        assert_eq!(bar_geometry(91), (2, 0));
        assert_eq!(bar_geometry(365), (2, 0));
    }

    #[test]
    fn summary_counts_bars_and_data() {
        let bar = |filled| ChartBar {
            title: String::new(),
            color: Color::GREEN,
            filled,
        };
        assert_eq!(
            summary("up", &[bar(true), bar(false)]),
            "up: 2 bars, 1 with data"
        );
        assert_eq!(summary("", &[bar(true)]), "1 bar, 1 with data");
    }
}
