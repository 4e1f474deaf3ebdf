//! A tiny XML element tree that renders exactly like badge-maker's `XmlElement`: attributes in
//! insertion order, every attribute value and text XML-escaped, elements without children
//! self-closing, and no whitespace between elements.

/// Escapes the five XML special characters (`&<>"'`) for text or attribute values, as
/// badge-maker's `escapeXml` does.
pub fn escape_xml(text: &str) -> String {
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

/// The text without the characters XML 1.0 forbids (C0 controls other than tab, line feed and
/// carriage return; U+FFFE, U+FFFF), which badge-maker would copy into a document no XML
/// parser accepts. The C0 controls are zero-width in badge-maker's tables anyway.
pub(crate) fn xml_chars_only(text: &str) -> std::borrow::Cow<'_, str> {
    let forbidden = |c: char| matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}');
    if text.contains(forbidden) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !forbidden(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A number as JavaScript prints it in a template string, for the values badges use (finite,
/// well below 1e21): integers without a fraction, others in the shortest form that round-trips.
pub(crate) fn js_number(value: f64) -> String {
    if value == 0.0 {
        // Also turns -0 into "0", as JS does.
        "0".to_owned()
    } else {
        format!("{value}")
    }
}

/// A value that can be written into an attribute.
pub(crate) trait AttributeValue {
    /// The value as badge-maker would stringify it (before escaping).
    fn into_attribute(self) -> String;
}

impl AttributeValue for &str {
    fn into_attribute(self) -> String {
        self.to_owned()
    }
}

impl AttributeValue for String {
    fn into_attribute(self) -> String {
        self
    }
}

impl AttributeValue for f64 {
    fn into_attribute(self) -> String {
        js_number(self)
    }
}

impl AttributeValue for u32 {
    fn into_attribute(self) -> String {
        self.to_string()
    }
}

/// A node of the tree.
pub(crate) enum Node {
    /// An element.
    Element(Element),
    /// Text content, escaped when rendered.
    Text(String),
    /// Nothing (badge-maker's `''` placeholders for absent parts).
    Empty,
}

/// An element with attributes and children.
pub(crate) struct Element {
    name: &'static str,
    attributes: Vec<(&'static str, String)>,
    children: Vec<Node>,
}

/// A new element without attributes or children.
pub(crate) fn element(name: &'static str) -> Element {
    Element {
        name,
        attributes: Vec::new(),
        children: Vec::new(),
    }
}

impl Element {
    /// Adds an attribute after the existing ones.
    pub(crate) fn attr(mut self, name: &'static str, value: impl AttributeValue) -> Self {
        self.attributes.push((name, value.into_attribute()));
        self
    }

    /// Adds a child after the existing ones.
    pub(crate) fn child(mut self, child: impl Into<Node>) -> Self {
        self.children.push(child.into());
        self
    }

    /// Adds a text child.
    pub(crate) fn text(self, text: &str) -> Self {
        self.child(Node::Text(text.to_owned()))
    }

    /// Renders the element and its children into `out`.
    pub(crate) fn render_into(&self, out: &mut String) {
        out.push('<');
        out.push_str(self.name);
        for (name, value) in &self.attributes {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(&escape_xml(value));
            out.push('"');
        }
        // badge-maker self-closes only elements with no content at all; an element whose only
        // content is an empty string gets a closing tag.
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for child in &self.children {
            child.render_into(out);
        }
        out.push_str("</");
        out.push_str(self.name);
        out.push('>');
    }
}

impl Node {
    /// Renders the node into `out`.
    pub(crate) fn render_into(&self, out: &mut String) {
        match self {
            Node::Element(element) => element.render_into(out),
            Node::Text(text) => out.push_str(&escape_xml(text)),
            Node::Empty => {}
        }
    }
}

impl From<Element> for Node {
    fn from(element: Element) -> Self {
        Node::Element(element)
    }
}

impl From<Option<Element>> for Node {
    fn from(element: Option<Element>) -> Self {
        element.map_or(Node::Empty, Node::Element)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_replaces_all_five_xml_specials() {
        assert_eq!(
            escape_xml(r#"a&b<c>d"e'f"#),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f"
        );
    }

    #[test]
    fn characters_xml_forbids_are_dropped() {
        assert_eq!(xml_chars_only("a\u{0}b\tc\u{1b}d\u{ffff}"), "ab\tcd");
        assert_eq!(xml_chars_only("plain ü"), "plain ü");
    }

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(js_number(37.0), "37");
        assert_eq!(js_number(301.25), "301.25");
        assert_eq!(js_number(-0.0), "0");
        assert_eq!(js_number(0.5), "0.5");
    }

    #[test]
    fn elements_render_like_badge_maker() {
        let mut out = String::new();
        element("g")
            .attr("fill", "a\"b")
            .child(element("rect").attr("width", 3.5))
            .child(element("text").text(""))
            .child(Node::Empty)
            .render_into(&mut out);
        assert_eq!(
            out,
            r#"<g fill="a&quot;b"><rect width="3.5"/><text></text></g>"#
        );
    }
}
