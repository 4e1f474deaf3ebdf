//! History bar charts: well-formed standalone SVG, one `<rect>` per bar after the label box,
//! escaped texts, grey short empty bars, bucket colors as fills and a bounded width.

use kube_shields_badge::{ChartBar, Color, bar_chart, escape_xml};
use rstest::rstest;

fn filled(title: &str, color: Color) -> ChartBar {
    ChartBar {
        title: title.to_owned(),
        color,
        filled: true,
    }
}

fn empty(title: &str) -> ChartBar {
    ChartBar {
        title: title.to_owned(),
        // A color that must not show: empty bars are light grey whatever their color.
        color: Color::RED,
        filled: false,
    }
}

/// `count` daily bars, every `empty_every`-th one empty (0: none).
fn history(count: usize, empty_every: usize) -> Vec<ChartBar> {
    (0..count)
        .map(|day| {
            let title = format!("day {day}: 99.9% up");
            if empty_every != 0 && day % empty_every == 0 {
                empty(&title)
            } else {
                filled(&title, Color::BRIGHTGREEN)
            }
        })
        .collect()
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"))
}

/// The `<rect>` elements of the chart in document order.
fn rects<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants()
        .filter(|n| n.has_tag_name("rect"))
        .collect()
}

/// The `<rect>`s that carry a `<title>`: the bars.
fn bars<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    rects(doc)
        .into_iter()
        .filter(|r| r.children().any(|c| c.has_tag_name("title")))
        .collect()
}

fn number(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
    node.attribute(attribute)
        .unwrap_or_else(|| panic!("no {attribute}"))
        .parse()
        .expect("a number")
}

fn title_of(node: roxmltree::Node<'_, '_>) -> String {
    node.children()
        .find(|c| c.has_tag_name("title"))
        .and_then(|t| t.text())
        .unwrap_or_default()
        .to_owned()
}

#[rstest]
#[case::one(1)]
#[case::thirty(30)]
#[case::ninety(90)]
#[case::ninety_one(91)]
#[case::year(365)]
fn one_rect_per_bar_plus_the_label_box(#[case] count: usize) {
    let svg = bar_chart("uptime", &history(count, 7));
    let doc = parse(&svg);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(root.attribute("height"), Some("20"));
    assert_eq!(rects(&doc).len(), count + 1);
    assert_eq!(bars(&doc).len(), count);
    // Oldest first, in input order, left to right.
    let xs: Vec<f64> = bars(&doc).into_iter().map(|b| number(b, "x")).collect();
    assert!(xs.windows(2).all(|pair| pair[0] < pair[1]), "{xs:?}");
    assert_eq!(title_of(bars(&doc)[0]), "day 0: 99.9% up");
}

#[test]
fn accessible_name_is_label_and_summary() {
    let svg = bar_chart("uptime", &history(30, 30));
    let doc = parse(&svg);
    let root = doc.root_element();
    let expected = "uptime: 30 bars, 29 with data";
    assert_eq!(root.attribute("role"), Some("img"));
    assert_eq!(root.attribute("aria-label"), Some(expected));
    let top_title = root
        .children()
        .find(|c| c.has_tag_name("title"))
        .expect("a top-level <title>");
    assert_eq!(top_title.text(), Some(expected));
}

#[test]
fn label_and_titles_are_escaped() {
    let hostile = r#"<script>alert("x")</script>&'"#;
    let bars = vec![filled(hostile, Color::GREEN), empty(hostile)];
    let svg = bar_chart(hostile, &bars);
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains(&escape_xml(hostile)), "{svg}");
    let doc = parse(&svg);
    assert!(!doc.descendants().any(|n| n.has_tag_name("script")));
    for bar in self::bars(&doc) {
        assert_eq!(title_of(bar), hostile);
    }
    let label_text = doc
        .descendants()
        .find(|n| n.has_tag_name("text"))
        .and_then(|t| t.text());
    assert_eq!(label_text, Some(hostile));
    let aria = doc
        .root_element()
        .attribute("aria-label")
        .unwrap_or_default();
    assert!(aria.starts_with(hostile), "{aria}");
}

#[test]
fn no_scripts_or_external_references() {
    let svg = bar_chart("uptime", &history(30, 5));
    let doc = parse(&svg);
    for node in doc.descendants().filter(|n| n.is_element()) {
        assert!(!node.has_tag_name("script") && !node.has_tag_name("a"));
        assert!(!node.has_tag_name("image") && !node.has_tag_name("foreignObject"));
        for attribute in node.attributes() {
            assert!(!attribute.name().starts_with("on"), "{}", attribute.name());
            assert!(attribute.name() != "href", "{svg}");
            assert!(!attribute.value().contains("url("), "{svg}");
        }
    }
}

#[test]
fn empty_bars_are_short_and_light_grey() {
    let svg = bar_chart("uptime", &[filled("a", Color::RED), empty("b")]);
    let doc = parse(&svg);
    let bars = bars(&doc);
    let (full, short) = (bars[0], bars[1]);
    assert_eq!(short.attribute("fill"), Some("#e5e5e5"));
    assert_eq!(number(short, "height"), 4.0);
    // At the bottom: ends where the filled bar ends, 2 px above the chart's bottom.
    assert_eq!(number(short, "y") + number(short, "height"), 18.0);
    assert_eq!(number(full, "y"), 2.0);
    assert_eq!(number(full, "height"), 16.0);
    assert!(number(short, "height") < number(full, "height"));
}

#[rstest]
#[case::named(Color::BRIGHTGREEN, "#4b0")]
#[case::red(Color::RED, "#dd4343")]
#[case::lightgrey_is_not_the_empty_grey(Color::LIGHTGREY, "#939393")]
#[case::hex(Color::or_fallback("#FF69B4"), "#ff69b4")]
fn filled_bar_fill_is_the_colors_hex(#[case] color: Color, #[case] fill: &str) {
    let svg = bar_chart("uptime", &[filled("a", color)]);
    let doc = parse(&svg);
    assert_eq!(bars(&doc)[0].attribute("fill"), Some(fill));
}

#[test]
fn label_box_is_grey_and_fits_its_text() {
    let short = bar_chart("up", &history(10, 0));
    let long = bar_chart("uptime of the production web", &history(10, 0));
    let label_box = |svg: &str| {
        let doc = parse(svg);
        let first = rects(&doc)[0];
        assert_eq!(first.attribute("fill"), Some("#555"));
        number(first, "width")
    };
    assert!(label_box(&long) > label_box(&short) + 100.0);
    // The flat badge's label part: Verdana 11 px width of "up" (13 px) plus 5 px each side.
    assert_eq!(label_box(&short), 23.0);
}

fn width(svg: &str) -> f64 {
    number(parse(svg).root_element(), "width")
}

#[test]
fn width_grows_with_bar_count() {
    let widths: Vec<f64> = [1, 2, 30, 90]
        .into_iter()
        .map(|count| width(&bar_chart("uptime", &history(count, 0))))
        .collect();
    assert!(
        widths.windows(2).all(|pair| pair[0] < pair[1]),
        "{widths:?}"
    );
    let narrow: Vec<f64> = [91, 180, 365]
        .into_iter()
        .map(|count| width(&bar_chart("uptime", &history(count, 0))))
        .collect();
    assert!(
        narrow.windows(2).all(|pair| pair[0] < pair[1]),
        "{narrow:?}"
    );
}

#[test]
fn bars_end_at_the_charts_right_edge_less_the_margin() {
    for count in [1, 90, 91, 365] {
        let svg = bar_chart("uptime", &history(count, 0));
        let doc = parse(&svg);
        let last = *bars(&doc).last().expect("bars");
        let right = number(last, "x") + number(last, "width");
        assert_eq!(right + 2.0, width(&svg), "{count} bars");
    }
}

#[test]
fn a_year_of_days_stays_within_800_px() {
    let svg = bar_chart("uptime", &history(365, 10));
    let chart_width = width(&svg);
    assert!(chart_width <= 800.0, "{chart_width}");
    let doc = parse(&svg);
    assert!(bars(&doc).iter().all(|b| number(*b, "width") >= 2.0));
}

#[test]
fn zero_bars_draw_only_the_label_box() {
    let svg = bar_chart("uptime", &[]);
    let doc = parse(&svg);
    let rects = rects(&doc);
    assert_eq!(rects.len(), 1);
    assert_eq!(number(rects[0], "width"), width(&svg));
    assert_eq!(
        doc.root_element().attribute("aria-label"),
        Some("uptime: 0 bars, 0 with data")
    );
}

#[test]
fn empty_label_draws_no_label_box() {
    let svg = bar_chart(" ", &history(3, 0));
    let doc = parse(&svg);
    assert_eq!(rects(&doc).len(), 3);
    assert!(!doc.descendants().any(|n| n.has_tag_name("text")));
    assert_eq!(number(bars(&doc)[0], "x"), 2.0);
    assert_eq!(
        doc.root_element().attribute("aria-label"),
        Some("3 bars, 3 with data")
    );
}

#[test]
fn characters_xml_forbids_are_dropped() {
    let svg = bar_chart("up\u{1b}time", &[filled("a\u{0}b", Color::GREEN)]);
    let doc = parse(&svg);
    assert_eq!(title_of(bars(&doc)[0]), "ab");
}

#[test]
fn output_is_deterministic() {
    let bars = history(120, 3);
    assert_eq!(bar_chart("uptime", &bars), bar_chart("uptime", &bars));
    assert_ne!(bar_chart("uptime", &bars), bar_chart("uptime", &bars[1..]));
}
