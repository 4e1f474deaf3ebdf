//! Badges drawn locally, element for element as badge-maker 6.0.0 draws them (its
//! `badge-renderers.js`): the same geometry, fills, text colors, widths, `<title>`,
//! `aria-label` and links. No logo is drawn (see the crate docs).

use crate::color::{Color, WHITE_TEXT, text_colors};
use crate::widths::Font;
use crate::xml::{Element, Node, element, xml_chars_only};

/// A badge style, as shields' `style` parameter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Style {
    /// `flat`: 20 px, rounded, a light gradient (the default).
    #[default]
    Flat,
    /// `flat-square`: 20 px, square corners, no gradient.
    FlatSquare,
    /// `plastic`: 18 px, rounded, a glossy gradient.
    Plastic,
    /// `for-the-badge`: 28 px, upper-case, letter-spaced, bold message.
    ForTheBadge,
    /// `social`: GitHub-like button with a message bubble; ignores colors.
    Social,
}

impl Style {
    /// Every style.
    pub const ALL: [Style; 5] = [
        Style::Flat,
        Style::FlatSquare,
        Style::Plastic,
        Style::ForTheBadge,
        Style::Social,
    ];

    /// The style a `style` parameter names; `None` for anything else. Shields also reads the
    /// old `popout` and `popout-square` as `flat` and `flat-square`.
    pub fn parse(name: &str) -> Option<Style> {
        match name {
            "flat" | "popout" => Some(Style::Flat),
            "flat-square" | "popout-square" => Some(Style::FlatSquare),
            "plastic" => Some(Style::Plastic),
            "for-the-badge" => Some(Style::ForTheBadge),
            "social" => Some(Style::Social),
            _ => None,
        }
    }

    /// The style's name as shields spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Style::Flat => "flat",
            Style::FlatSquare => "flat-square",
            Style::Plastic => "plastic",
            Style::ForTheBadge => "for-the-badge",
            Style::Social => "social",
        }
    }
}

/// Everything the renderer needs about one badge.
pub(crate) struct SvgInput<'a> {
    pub(crate) style: Style,
    pub(crate) label: &'a str,
    pub(crate) message: &'a str,
    pub(crate) color: &'a Color,
    pub(crate) label_color: Option<&'a Color>,
    /// Up to two links: clicking the left half, the right half (empty means none).
    pub(crate) links: &'a [String],
    /// Replaces the `<title>` and `aria-label` text when given.
    pub(crate) title: Option<&'a str>,
}

/// The SVG document for a badge.
pub(crate) fn render(input: &SvgInput<'_>) -> String {
    // badge-maker trims both texts before anything else. Characters XML forbids go too, so
    // the document always parses (badge-maker keeps them: its only known difference to us).
    let label = xml_chars_only(js_trim(input.label));
    let message = xml_chars_only(js_trim(input.message));
    let title = input.title.map(xml_chars_only);
    let links = Links::new(input.links);
    let color = input.color.svg_fill();
    let label_color = input.label_color.map(Color::svg_fill);
    let texts = Texts {
        label: &label,
        message: &message,
        title: title.as_deref(),
    };
    let svg = match input.style {
        Style::Flat | Style::FlatSquare | Style::Plastic => {
            let shape = match input.style {
                Style::Flat => Shape::FLAT,
                Style::FlatSquare => Shape::FLAT_SQUARE,
                _ => Shape::PLASTIC,
            };
            classic(shape, &texts, &links, &color, label_color.as_deref())
        }
        Style::ForTheBadge => for_the_badge(&texts, &links, &color, label_color.as_deref()),
        Style::Social => social(&texts, &links),
    };
    let mut out = String::with_capacity(2048);
    svg.render_into(&mut out);
    out
}

/// The texts of a badge after trimming.
struct Texts<'a> {
    label: &'a str,
    message: &'a str,
    title: Option<&'a str>,
}

impl Texts<'_> {
    /// The `<title>` and `aria-label` text: the title override, else `label: message` (just the
    /// message without a label), from the texts as drawn (upper-cased, capitalized).
    fn accessible(&self, label: &str, message: &str) -> String {
        match self.title {
            Some(title) => title.to_owned(),
            None if label.is_empty() => message.to_owned(),
            None => format!("{label}: {message}"),
        }
    }
}

/// badge-maker's reading of the `links` array.
struct Links<'a> {
    left: Option<&'a str>,
    right: Option<&'a str>,
}

impl<'a> Links<'a> {
    fn new(links: &'a [String]) -> Self {
        let non_empty = |index: usize| {
            links
                .get(index)
                .map(String::as_str)
                .filter(|link| !link.is_empty())
        };
        Links {
            left: non_empty(0),
            right: non_empty(1),
        }
    }

    /// Both halves link somewhere: no `<title>` or `role`, each half its own `<a>`.
    fn both(&self) -> bool {
        self.left.is_some() && self.right.is_some()
    }

    /// Only a left link: it wraps the whole badge.
    fn wraps_body(&self) -> Option<&'a str> {
        match (self.left, self.right) {
            (Some(left), None) => Some(left),
            _ => None,
        }
    }

    /// The link on the label alone (when both halves link).
    fn label_link(&self) -> Option<&'a str> {
        if self.wraps_body().is_some() {
            None
        } else {
            self.left
        }
    }
}

/// An `<a target="_blank">` around `content`.
/// A social badge's text (`text`, which may already carry an `id`) and, under it, the white
/// shadow one pixel lower that badge-maker draws for it.
fn social_text(text: Element, x: f64, text_length: f64, content: &str) -> (Element, Element) {
    let shadow = element("text")
        .attr("aria-hidden", "true")
        .attr("x", x)
        .attr("y", 150.0)
        .attr("fill", "#fff")
        .attr("transform", "scale(.1)")
        .attr("textLength", text_length)
        .text(content);
    let text = text
        .attr("x", x)
        .attr("y", 140.0)
        .attr("transform", "scale(.1)")
        .attr("textLength", text_length)
        .text(content);
    (shadow, text)
}

fn link(href: &str) -> Element {
    element("a").attr("target", "_blank").attr("href", href)
}

/// A transparent rectangle that makes a linked area clickable.
fn transparent_rect() -> Element {
    element("rect")
}

/// badge-maker's `renderBadge`: the `<svg>` root with its title and body.
fn badge_root(
    links: &Links<'_>,
    width: f64,
    height: u32,
    accessible: &str,
    content: Vec<Node>,
) -> Element {
    let mut svg = element("svg")
        .attr("xmlns", "http://www.w3.org/2000/svg")
        .attr("width", width)
        .attr("height", height);
    if !links.both() {
        svg = svg.attr("role", "img").attr("aria-label", accessible);
    }
    let title = (!links.both()).then(|| element("title").text(accessible));
    svg = svg.child(title);
    match links.wraps_body() {
        Some(href) => svg.child(content.into_iter().fold(link(href), Element::child)),
        None => content.into_iter().fold(svg, Element::child),
    }
}

/// The geometry of the three two-rectangle styles.
struct Shape {
    height: u32,
    /// Added to the text baseline (140).
    vertical_margin: i32,
    /// Text drawn over a blurred and a faint shadow copy (flat, plastic).
    shadow: bool,
    /// Corner radius of the clip path; `None` for square corners without gradient.
    rounding: Option<u32>,
    /// The gradient's stops as (offset, stop-color, stop-opacity).
    gradient: &'static [(&'static str, Option<&'static str>, &'static str)],
}

impl Shape {
    const FLAT: Shape = Shape {
        height: 20,
        vertical_margin: 0,
        shadow: true,
        rounding: Some(3),
        gradient: &[("0", Some("#bbb"), ".1"), ("1", None, ".1")],
    };
    const FLAT_SQUARE: Shape = Shape {
        height: 20,
        vertical_margin: 0,
        shadow: false,
        rounding: None,
        gradient: &[],
    };
    const PLASTIC: Shape = Shape {
        height: 18,
        vertical_margin: -10,
        shadow: true,
        rounding: Some(4),
        gradient: &[
            ("0", Some("#fff"), ".7"),
            (".1", Some("#aaa"), ".1"),
            (".9", Some("#000"), ".3"),
            ("1", Some("#000"), ".5"),
        ],
    };
}

/// Space left and right of each text in the two-rectangle styles, in pixels.
const HORIZONTAL_PADDING: f64 = 5.0;
/// Font of the two-rectangle styles.
const FONT_FAMILY: &str = "Verdana,Geneva,DejaVu Sans,sans-serif";
/// Default label fill.
const LABEL_FILL: &str = "#555";

/// One text of a two-rectangle badge, placed.
struct PlacedText<'a> {
    content: &'a str,
    left_margin: f64,
    width: f64,
    background: &'a str,
    link: Option<&'a str>,
    link_width: f64,
}

/// flat, flat-square and plastic (badge-maker's `Badge` class and its subclasses).
fn classic(
    shape: Shape,
    texts: &Texts<'_>,
    links: &Links<'_>,
    color: &str,
    label_color: Option<&str>,
) -> Element {
    let (label, message) = (texts.label, texts.message);
    // A label color alone keeps an (empty) label half.
    let has_label = !label.is_empty() || label_color.is_some();
    let label_fill = if has_label {
        label_color.unwrap_or(LABEL_FILL)
    } else {
        color
    };
    let label_width = if label.is_empty() {
        0.0
    } else {
        f64::from(Font::Verdana11.preferred_width(label))
    };
    let left_width = if has_label {
        label_width + 2.0 * HORIZONTAL_PADDING
    } else {
        0.0
    };
    let message_width = f64::from(Font::Verdana11.preferred_width(message));
    let mut message_margin = left_width - if message.is_empty() { 0.0 } else { 1.0 };
    if !has_label {
        message_margin += 1.0;
    }
    let right_width = message_width + 2.0 * HORIZONTAL_PADDING;
    let width = left_width + right_width;
    let height = f64::from(shape.height);

    let text_element = |placed: PlacedText<'_>| -> Option<Element> {
        if placed.content.is_empty() {
            return None;
        }
        let colors = text_colors(placed.background);
        let x = 10.0 * (placed.left_margin + 0.5 * placed.width + HORIZONTAL_PADDING);
        let y = f64::from(140 + shape.vertical_margin);
        let text_length = 10.0 * placed.width;
        let with_fill = |text: Element| {
            if colors.text == WHITE_TEXT {
                text
            } else {
                text.attr("fill", colors.text)
            }
        };
        let drawn = if shape.shadow {
            let text = with_fill(
                element("text")
                    .attr("x", x)
                    .attr("y", y)
                    .attr("textLength", text_length),
            )
            .text(placed.content);
            let shadow_y = y + 10.0;
            let blurred = element("text")
                .attr("x", x)
                .attr("y", shadow_y)
                .attr("fill-opacity", ".8")
                .attr("filter", "url(#blur)")
                .attr("textLength", text_length)
                .text(placed.content);
            let faint = element("text")
                .attr("x", x)
                .attr("y", shadow_y)
                .attr("fill-opacity", ".3")
                .attr("textLength", text_length)
                .text(placed.content);
            let shadows = element("g")
                .attr("aria-hidden", "true")
                .attr("fill", colors.shadow)
                .child(blurred)
                .child(faint);
            element("g")
                .attr("transform", "scale(.1)")
                .child(shadows)
                .child(text)
        } else {
            with_fill(
                element("text")
                    .attr("x", x)
                    .attr("y", y)
                    .attr("textLength", text_length)
                    .attr("transform", "scale(.1)"),
            )
            .text(placed.content)
        };
        Some(match placed.link {
            None => drawn,
            Some(href) => {
                let left = placed.left_margin;
                let rect = transparent_rect()
                    .attr("width", placed.link_width)
                    .attr("x", if left > 1.0 { left + 1.0 } else { 0.0 })
                    .attr("height", height)
                    .attr("fill", "rgba(0,0,0,0)");
                link(href).child(rect).child(drawn)
            }
        })
    };

    let label_text = text_element(PlacedText {
        content: label,
        left_margin: 1.0,
        width: label_width,
        background: label_fill,
        link: links.label_link(),
        link_width: left_width,
    });
    let message_text = text_element(PlacedText {
        content: message,
        left_margin: message_margin,
        width: message_width,
        background: color,
        link: links.right,
        link_width: right_width,
    });
    let foreground = element("g")
        .attr("fill", WHITE_TEXT)
        .attr("text-anchor", "middle")
        .attr("font-family", FONT_FAMILY)
        .attr("text-rendering", "geometricPrecision")
        .attr("font-size", 110.0)
        .child(label_text)
        .child(message_text);

    let mut background = element("g");
    if shape.rounding.is_some() {
        background = background.attr("clip-path", "url(#r)");
    } else {
        background = background.attr("shape-rendering", "crispEdges");
    }
    background = background
        .child(
            element("rect")
                .attr("width", left_width)
                .attr("height", height)
                .attr("fill", label_fill),
        )
        .child(
            element("rect")
                .attr("x", left_width)
                .attr("width", right_width)
                .attr("height", height)
                .attr("fill", color),
        );

    let mut content: Vec<Node> = Vec::new();
    if let Some(rounding) = shape.rounding {
        background = background.child(
            element("rect")
                .attr("width", width)
                .attr("height", height)
                .attr("fill", "url(#s)"),
        );
        let blur = element("filter")
            .attr("id", "blur")
            .child(element("feGaussianBlur").attr("stdDeviation", "16"));
        let gradient = shape.gradient.iter().fold(
            element("linearGradient")
                .attr("id", "s")
                .attr("x2", 0.0)
                .attr("y2", "100%"),
            |gradient, (offset, stop_color, opacity)| {
                let mut stop = element("stop").attr("offset", *offset);
                if let Some(stop_color) = stop_color {
                    stop = stop.attr("stop-color", *stop_color);
                }
                gradient.child(stop.attr("stop-opacity", *opacity))
            },
        );
        let clip = element("clipPath").attr("id", "r").child(
            element("rect")
                .attr("width", width)
                .attr("height", height)
                .attr("rx", rounding),
        );
        content.extend([blur.into(), gradient.into(), clip.into()]);
    }
    content.extend([background.into(), foreground.into()]);
    let accessible = texts.accessible(label, message);
    badge_root(links, width, shape.height, &accessible, content)
}

/// for-the-badge (badge-maker's `forTheBadge`).
fn for_the_badge(
    texts: &Texts<'_>,
    links: &Links<'_>,
    color: &str,
    label_color: Option<&str>,
) -> Element {
    const HEIGHT: u32 = 28;
    const TEXT_MARGIN: f64 = 12.0;
    const LETTER_SPACING: f64 = 1.25;
    let label = texts.label.to_uppercase();
    let message = texts.message.to_uppercase();
    // badge-maker adds letter spacing per UTF-16 code unit (`.length`).
    let text_width = |text: &str, font: Font| {
        if text.is_empty() {
            0.0
        } else {
            f64::from(font.text_width(text) as u32)
                + LETTER_SPACING * text.encode_utf16().count() as f64
        }
    };
    let label_text_width = text_width(&label, Font::Verdana10);
    let message_text_width = text_width(&message, Font::Verdana10Bold);
    let has_label = !label.is_empty();
    let label_fill = label_color.unwrap_or(LABEL_FILL);
    let label_rect_width = has_label.then_some(TEXT_MARGIN + label_text_width + TEXT_MARGIN);
    let message_text_min_x = label_rect_width.unwrap_or(0.0) + TEXT_MARGIN;
    let message_rect_width = 2.0 * TEXT_MARGIN + message_text_width;
    let height = f64::from(HEIGHT);

    let label_element = label_rect_width.map(|label_rect_width| {
        let colors = text_colors(label_fill);
        let mut text = element("text")
            .attr("transform", "scale(.1)")
            .attr("x", 10.0 * (TEXT_MARGIN + 0.5 * label_text_width))
            .attr("y", 175.0)
            .attr("textLength", 10.0 * label_text_width);
        if colors.text != WHITE_TEXT {
            text = text.attr("fill", colors.text);
        }
        let text = text.text(&label);
        match links.label_link() {
            Some(href) => link(href)
                .child(
                    transparent_rect()
                        .attr("width", label_rect_width)
                        .attr("height", height)
                        .attr("fill", "rgba(0,0,0,0)"),
                )
                .child(text),
            None => text,
        }
    });
    let message_element = {
        let colors = text_colors(color);
        let mut text = element("text")
            .attr("transform", "scale(.1)")
            .attr("x", 10.0 * (message_text_min_x + 0.5 * message_text_width))
            .attr("y", 175.0)
            .attr("textLength", 10.0 * message_text_width)
            .attr("font-weight", "bold");
        if colors.text != WHITE_TEXT {
            text = text.attr("fill", colors.text);
        }
        let text = text.text(&message);
        match links.right {
            Some(href) => link(href)
                .child(
                    transparent_rect()
                        .attr("width", message_rect_width)
                        .attr("height", height)
                        .attr("x", label_rect_width.unwrap_or(0.0))
                        .attr("fill", "rgba(0,0,0,0)"),
                )
                .child(text),
            None => text,
        }
    };

    let mut background = element("g").attr("shape-rendering", "crispEdges");
    if let Some(label_rect_width) = label_rect_width {
        background = background.child(
            element("rect")
                .attr("width", label_rect_width)
                .attr("height", height)
                .attr("fill", label_fill),
        );
        background = background.child(
            element("rect")
                .attr("x", label_rect_width)
                .attr("width", message_rect_width)
                .attr("height", height)
                .attr("fill", color),
        );
    } else {
        background = background.child(
            element("rect")
                .attr("width", message_rect_width)
                .attr("height", height)
                .attr("fill", color),
        );
    }
    let foreground = element("g")
        .attr("fill", WHITE_TEXT)
        .attr("text-anchor", "middle")
        .attr("font-family", FONT_FAMILY)
        .attr("text-rendering", "geometricPrecision")
        .attr("font-size", 100.0)
        .child(label_element)
        .child(message_element);
    let accessible = texts.accessible(&label, &message);
    badge_root(
        links,
        label_rect_width.unwrap_or(0.0) + message_rect_width,
        HEIGHT,
        &accessible,
        vec![background.into(), foreground.into()],
    )
}

/// social (badge-maker's `social`); colors do not apply.
fn social(texts: &Texts<'_>, links: &Links<'_>) -> Element {
    const EXTERNAL_HEIGHT: u32 = 20;
    const INTERNAL_HEIGHT: f64 = 19.0;
    const LABEL_PADDING: f64 = 5.0;
    const MESSAGE_PADDING: f64 = 4.0;
    const GUTTER: f64 = 6.0;
    let label = capitalize(texts.label);
    let message = texts.message;
    let has_message = !message.is_empty();
    let label_text_width = f64::from(Font::Helvetica11Bold.preferred_width(&label));
    let message_text_width = f64::from(Font::Helvetica11Bold.preferred_width(message));
    let label_rect_width = label_text_width + 2.0 * LABEL_PADDING;
    let message_rect_width = message_text_width + 2.0 * MESSAGE_PADDING;

    let message_bubble: Vec<Node> = if has_message {
        let main_x = label_rect_width + GUTTER + 0.5;
        let notch_x = label_rect_width + GUTTER;
        vec![
            element("rect")
                .attr("x", main_x)
                .attr("y", ".5")
                .attr("width", message_rect_width)
                .attr("height", INTERNAL_HEIGHT)
                .attr("rx", 2.0)
                .attr("fill", "#fafafa")
                .into(),
            element("rect")
                .attr("x", notch_x)
                .attr("y", 7.5)
                .attr("width", ".5")
                .attr("height", 5.0)
                .attr("stroke", "#fafafa")
                .into(),
            element("path")
                .attr(
                    "d",
                    format!("M{} 6.5 l-3 3v1 l3 3", crate::xml::js_number(main_x)),
                )
                .attr("fill", "#fafafa")
                .into(),
        ]
    } else {
        Vec::new()
    };

    let label_text: Vec<Node> = {
        let x = 10.0 * (label_text_width / 2.0 + LABEL_PADDING);
        let text_length = 10.0 * label_text_width;
        let rect = element("rect")
            .attr("id", "llink")
            .attr("stroke", "#d5d5d5")
            .attr("fill", "url(#a)")
            .attr("x", ".5")
            .attr("y", ".5")
            .attr("width", label_rect_width)
            .attr("height", INTERNAL_HEIGHT)
            .attr("rx", 2.0);
        let (shadow, text) = social_text(element("text"), x, text_length, &label);
        match links.label_link() {
            Some(href) => vec![link(href).child(shadow).child(text).child(rect).into()],
            None => vec![rect.into(), shadow.into(), text.into()],
        }
    };

    let message_text: Vec<Node> = if has_message {
        let x = 10.0 * (label_rect_width + GUTTER + message_rect_width / 2.0);
        let text_length = 10.0 * message_text_width;
        let (shadow, text) =
            social_text(element("text").attr("id", "rlink"), x, text_length, message);
        match links.right {
            Some(href) => {
                let rect = transparent_rect()
                    .attr("width", message_rect_width + 1.0)
                    .attr("x", label_rect_width + GUTTER)
                    .attr("height", INTERNAL_HEIGHT + 1.0)
                    .attr("fill", "rgba(0,0,0,0)");
                vec![link(href).child(rect).child(shadow).child(text).into()]
            }
            None => vec![shadow.into(), text.into()],
        }
    } else {
        Vec::new()
    };

    let style = element("style")
        .text("a:hover #llink{fill:url(#b);stroke:#ccc}a:hover #rlink{fill:#4183c4}");
    let gradient = |id: &'static str, stop_color: &'static str, opacity: f64| {
        let first_opacity = if opacity == 0.0 { "0" } else { ".1" };
        element("linearGradient")
            .attr("id", id)
            .attr("x2", 0.0)
            .attr("y2", "100%")
            .child(
                element("stop")
                    .attr("offset", 0.0)
                    .attr("stop-color", stop_color)
                    .attr("stop-opacity", first_opacity),
            )
            .child(
                element("stop")
                    .attr("offset", 1.0)
                    .attr("stop-opacity", ".1"),
            )
    };
    let label_rect = element("rect")
        .attr("stroke", "none")
        .attr("fill", "#fcfcfc")
        .attr("x", ".5")
        .attr("y", ".5")
        .attr("width", label_rect_width)
        .attr("height", INTERNAL_HEIGHT)
        .attr("rx", 2.0);
    let background = message_bubble.into_iter().fold(
        element("g").attr("stroke", "#d5d5d5").child(label_rect),
        Element::child,
    );
    let foreground = label_text.into_iter().chain(message_text).fold(
        element("g")
            .attr("aria-hidden", if links.both() { "false" } else { "true" })
            .attr("fill", "#333")
            .attr("text-anchor", "middle")
            .attr("font-family", "Helvetica Neue,Helvetica,Arial,sans-serif")
            .attr("text-rendering", "geometricPrecision")
            .attr("font-weight", 700.0)
            .attr("font-size", "110px")
            .attr("line-height", "14px"),
        Element::child,
    );
    let accessible = texts.accessible(&label, message);
    let right_width = if has_message {
        GUTTER + message_rect_width
    } else {
        0.0
    };
    badge_root(
        links,
        label_rect_width + 1.0 + right_width,
        EXTERNAL_HEIGHT,
        &accessible,
        vec![
            style.into(),
            gradient("a", "#fcfcfc", 0.0).into(),
            gradient("b", "#ccc", 0.1).into(),
            background.into(),
            foreground.into(),
        ],
    )
}

/// JavaScript's `String.prototype.trim`: strips JS white space and line terminators (which,
/// unlike Rust's `trim`, include U+FEFF and exclude U+0085).
pub(crate) fn js_trim(text: &str) -> &str {
    let is_js_space = |c: char| {
        matches!(
            c,
            '\u{9}'..='\u{d}'
                | ' '
                | '\u{a0}'
                | '\u{1680}'
                | '\u{2000}'..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
        )
    };
    text.trim_matches(is_js_space)
}

/// badge-maker's `capitalize`: the first UTF-16 unit upper-cased. A character outside the
/// basic plane is two units in JS, and its first one (a lone surrogate) stays as it is.
fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if u32::from(first) < 0x1_0000 => first.to_uppercase().chain(chars).collect(),
        _ => text.to_owned(),
    }
}
