//! What a user sees from shields' query parameters: in the redirect URL, the local SVG and the
//! endpoint JSON (validated against shields' endpoint schema as written down below).

use kube_shields_badge::{Badge, BadgeParams, Color, Style};
use rstest::rstest;
use serde_json::{Value, json};

fn params(pairs: &[(&str, &str)]) -> BadgeParams {
    BadgeParams::from_query(pairs.iter().copied())
}

/// Shields' endpoint schema, from its documentation of the endpoint badge and its strict
/// validation: only these keys; `schemaVersion` is 1; `label` a string, may be empty;
/// `message` a non-empty string; `color`, `labelColor`, `namedLogo`, `logoSvg`, `logoColor`,
/// `logoSize`, `style` non-empty strings; `isError` a boolean; `cacheSeconds` a non-negative
/// integer; not both `namedLogo` and `logoSvg`. On top of that, shields applies at least 300
/// seconds, so we never send less.
fn shields_endpoint_schema_errors(json: &Value) -> Vec<String> {
    let Some(object) = json.as_object() else {
        return vec!["not an object".into()];
    };
    let mut errors = Vec::new();
    for (key, value) in object {
        let ok = match key.as_str() {
            "schemaVersion" => value == &json!(1),
            "label" => value.is_string(),
            "message" | "color" | "labelColor" | "namedLogo" | "logoSvg" | "logoColor"
            | "logoSize" | "style" => value.as_str().is_some_and(|s| !s.is_empty()),
            "isError" => value.is_boolean(),
            "cacheSeconds" => value.as_u64().is_some_and(|s| s >= 300),
            _ => false,
        };
        if !ok {
            errors.push(format!("{key}: {value}"));
        }
    }
    for required in ["schemaVersion", "label", "message"] {
        if !object.contains_key(required) {
            errors.push(format!("{required} missing"));
        }
    }
    if object.contains_key("namedLogo") && object.contains_key("logoSvg") {
        errors.push("namedLogo and logoSvg".into());
    }
    errors
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
    let badge = Badge::new("my-app", "3/3", Color::or_fallback("success"));
    assert_eq!(badge.redirect_url(base), expected);
}

#[test]
fn redirect_url_with_empty_label_keeps_leading_separator() {
    let badge = Badge::new("", "up", Color::or_fallback("#ABCDEF"));
    assert_eq!(
        badge.redirect_url("http://127.0.0.1:9/shields"),
        "http://127.0.0.1:9/shields/badge/-up-abcdef.svg"
    );
}

#[test]
fn redirect_url_with_empty_message_sends_a_space() {
    let badge = Badge::new("web", "", Color::RED);
    assert_eq!(
        badge.redirect_url("https://img.shields.io"),
        "https://img.shields.io/badge/web-_-red.svg"
    );
}

#[test]
fn redirect_url_applies_label_and_color_and_passes_the_rest_on_encoded() {
    let query = [
        ("label", "prod web"),
        ("color", "Critical"),
        ("style", "for-the-badge"),
        ("labelColor", "#ABC"),
        ("logo", "data:image/svg+xml;base64,PHN2Zz4+/w=="),
        ("logoColor", "white"),
        ("logoSize", "auto"),
        ("cacheSeconds", "600"),
        ("link", "https://example.com/a?b=c&d=e"),
        ("link", "https://example.com/f g"),
        ("unknown", "x"),
    ];
    let badge = Badge::new("web", "3/3", Color::GREEN);
    assert_eq!(
        params(&query).redirect_url("https://img.shields.io", &badge),
        "https://img.shields.io/badge/prod%20web-3%2F3-red.svg?style=for-the-badge&labelColor=abc\
         &logo=data%3Aimage%2Fsvg%2Bxml%3Bbase64%2CPHN2Zz4%2B%2Fw%3D%3D&cacheSeconds=600\
         &link=https%3A%2F%2Fexample.com%2Fa%3Fb%3Dc%26d%3De&link=https%3A%2F%2Fexample.com%2Ff%20g"
            .replace("&cacheSeconds", "&logoSize=auto&cacheSeconds")
    );
}

#[test]
fn redirect_url_host_is_always_the_shields_base() {
    let query = [
        ("link", "https://evil.example/"),
        ("logo", "//evil.example/x"),
    ];
    let url =
        params(&query).redirect_url("https://img.shields.io", &Badge::new("a", "b", Color::BLUE));
    assert!(
        url.starts_with("https://img.shields.io/badge/a-b-blue.svg?"),
        "{url}"
    );
    assert!(!url.contains("//evil"), "{url}");
}

#[test]
fn error_badge_keeps_its_color_but_takes_label_and_label_color() {
    let badge = Badge::failure("web", "timeout");
    let query = params(&[
        ("color", "brightgreen"),
        ("label", ""),
        ("labelColor", "red"),
    ]);
    assert_eq!(
        query.apply(&badge),
        Badge {
            label: String::new(),
            message: "timeout".into(),
            color: Color::LIGHTGREY,
            is_error: true
        }
    );
    assert_eq!(
        query.redirect_url("https://img.shields.io", &badge),
        "https://img.shields.io/badge/-timeout-lightgrey.svg?labelColor=red"
    );
    let svg = query.svg(&badge, None);
    assert!(
        svg.contains(r##"fill="#939393""##) && !svg.contains("#4b0"),
        "{svg}"
    );
    assert!(
        svg.contains(r##"<rect width="10" height="20" fill="#dd4343"/>"##),
        "{svg}"
    );
}

#[rstest]
#[case::bad_style(&[("style", "3d")], Style::Flat)]
#[case::popout(&[("style", "popout-square")], Style::FlatSquare)]
#[case::social(&[("style", "social")], Style::Social)]
#[case::last_wins(&[("style", "plastic"), ("style", "for-the-badge")], Style::ForTheBadge)]
fn style_parameter(#[case] query: &[(&str, &str)], #[case] expected: Style) {
    assert_eq!(params(query).style(), expected);
}

#[rstest]
#[case::bad_color_is_lightgrey(&[("color", "purple")], "lightgrey")]
#[case::legacy_color_b(&[("colorB", "ff0000")], "ff0000")]
#[case::empty_color_is_ignored(&[("color", "")], "green")]
fn color_parameter(#[case] query: &[(&str, &str)], #[case] expected: &str) {
    let badge = params(query).apply(&Badge::new("a", "b", Color::GREEN));
    assert_eq!(badge.color.as_str(), expected);
}

#[test]
fn bad_label_color_is_ignored() {
    let url = params(&[("labelColor", "url(#x)"), ("logoColor", "javascript:")])
        .redirect_url("https://img.shields.io", &Badge::new("a", "b", Color::BLUE));
    assert_eq!(url, "https://img.shields.io/badge/a-b-blue.svg");
}

#[test]
fn links_keep_their_halves_refuse_scripts_and_stop_at_two() {
    let query = params(&[
        ("link", "javascript:alert(1)"),
        ("link", "https://example.com/right"),
        ("link", "https://example.com/third"),
    ]);
    let svg = query.svg(&Badge::new("left", "right", Color::BLUE), None);
    assert!(
        !svg.contains("javascript") && !svg.contains("third"),
        "{svg}"
    );
    // Only the message half links; the badge keeps its title.
    assert_eq!(svg.matches("<a ").count(), 1, "{svg}");
    assert!(svg.contains(r#"<a target="_blank" href="https://example.com/right"><rect width="35" x="27" height="20" fill="rgba(0,0,0,0)"/>"#), "{svg}");
    assert!(svg.contains("<title>left: right</title>"));
    assert!(
        query
            .redirect_url("https://img.shields.io", &Badge::new("a", "b", Color::BLUE))
            .ends_with("?link=&link=https%3A%2F%2Fexample.com%2Fright")
    );
}

#[rstest]
#[case::plain("600", Some(600))]
#[case::zero("0", Some(0))]
#[case::negative("-1", None)]
#[case::fraction("1.5", None)]
#[case::too_big("99999999999", None)]
#[case::empty("", None)]
fn cache_seconds_parameter(#[case] value: &str, #[case] expected: Option<u32>) {
    assert_eq!(params(&[("cacheSeconds", value)]).cache_seconds(), expected);
}

#[test]
fn long_label_is_cut() {
    let long = "é".repeat(1000);
    let badge = params(&[("label", &long)]).apply(&Badge::new("a", "b", Color::BLUE));
    assert_eq!(
        badge.label.chars().count(),
        kube_shields_badge::MAX_LABEL_CHARS
    );
}

#[test]
fn local_svg_draws_no_logo() {
    let badge = Badge::new("build", "passing", Color::BRIGHTGREEN);
    let plain = BadgeParams::default().svg(&badge, None);
    for logo in [
        "github",
        "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciPjxzY3JpcHQ+YWxlcnQoMSk8L3NjcmlwdD48L3N2Zz4=",
    ] {
        let with_logo = params(&[("logo", logo), ("logoColor", "red"), ("logoSize", "auto")]);
        assert_eq!(with_logo.svg(&badge, None), plain, "{logo}");
    }
}

#[test]
fn svg_is_badge_maker_flat_badge() {
    // badge-maker 6.0.0: makeBadge({label: "build", message: "passing", color: "brightgreen"}).
    assert_eq!(
        Badge::new("build", "passing", Color::BRIGHTGREEN).svg(None),
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="88" height="20" role="img" aria-label="build: passing"><title>build: passing</title><filter id="blur"><feGaussianBlur stdDeviation="16"/></filter><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="88" height="20" rx="3"/></clipPath><g clip-path="url(#r)"><rect width="37" height="20" fill="#555"/><rect x="37" width="51" height="20" fill="#4b0"/><rect width="88" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><g transform="scale(.1)"><g aria-hidden="true" fill="#010101"><text x="195" y="150" fill-opacity=".8" filter="url(#blur)" textLength="270">build</text><text x="195" y="150" fill-opacity=".3" textLength="270">build</text></g><text x="195" y="140" textLength="270">build</text></g><g transform="scale(.1)"><g aria-hidden="true" fill="#010101"><text x="615" y="150" fill-opacity=".8" filter="url(#blur)" textLength="410">passing</text><text x="615" y="150" fill-opacity=".3" textLength="410">passing</text></g><text x="615" y="140" textLength="410">passing</text></g></g></svg>"##
    );
}

#[test]
fn svg_texts_and_title_are_xml_escaped() {
    let svg = Badge::new("<script>alert('x')</script>", "a&b \"c\"", Color::RED).svg(None);
    assert!(!svg.contains("<script>"));
    assert!(svg.contains(">&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;</text>"));
    assert!(svg.contains(">a&amp;b &quot;c&quot;</text>"));
    assert!(svg.contains(
        "<title>&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt;: a&amp;b &quot;c&quot;</title>"
    ));
}

#[test]
fn svg_title_overrides_accessible_text() {
    let svg = Badge::new("web", "3/3", Color::GREEN).svg(Some("prod <eu>: web"));
    assert!(
        svg.contains(r#"aria-label="prod &lt;eu&gt;: web"><title>prod &lt;eu&gt;: web</title>"#)
    );
    assert!(svg.contains(">web</text>") && svg.contains(">3/3</text>"));
}

#[test]
fn svg_in_each_style_has_its_height() {
    let badge = Badge::new("web", "up", Color::BLUE);
    for (style, height) in [
        ("flat", 20),
        ("flat-square", 20),
        ("plastic", 18),
        ("for-the-badge", 28),
        ("social", 20),
    ] {
        let svg = params(&[("style", style)]).svg(&badge, None);
        assert!(
            svg.contains(&format!(r#" height="{height}" role="img""#)),
            "{style}: {svg}"
        );
    }
    let loud = params(&[("style", "for-the-badge")]).svg(&badge, None);
    assert!(loud.contains(">WEB</text>") && loud.contains("<title>WEB: UP</title>"));
    let social = params(&[("style", "social")]).svg(&Badge::new("stars", "12", Color::RED), None);
    assert!(social.contains("<title>Stars: 12</title>") && !social.contains("#dd4343"));
}

#[test]
fn endpoint_json_is_shields_schema() {
    let badge = Badge::new("web", "3/3", Color::or_fallback("#4C1"));
    assert_eq!(
        badge.endpoint_json().to_string(),
        r##"{"schemaVersion":1,"label":"web","message":"3/3","color":"4c1"}"##
    );
}

#[test]
fn endpoint_json_in_full() {
    let query = params(&[
        ("style", "plastic"),
        ("labelColor", "blue"),
        ("logo", "kubernetes"),
        ("logoColor", "fff"),
        ("logoSize", "auto"),
        ("cacheSeconds", "60"),
        ("link", "https://example.com/"),
    ]);
    let json = query.endpoint_json(&Badge::failure("web", "error"));
    assert_eq!(
        json,
        json!({
            "schemaVersion": 1, "label": "web", "message": "error", "color": "lightgrey",
            "isError": true, "labelColor": "blue", "style": "plastic", "namedLogo": "kubernetes",
            "logoColor": "fff", "logoSize": "auto", "cacheSeconds": 300
        })
    );
    assert_eq!(shields_endpoint_schema_errors(&json), Vec::<String>::new());
}

#[test]
fn endpoint_json_passes_shields_schema_for_every_kind_of_badge() {
    let badges = [
        Badge::new("web", "3/3", Color::GREEN),
        Badge::new("", "up", Color::or_fallback("abc")),
        Badge::new("web", "", Color::RED),
        Badge::failure("", "timeout"),
    ];
    let queries: [&[(&str, &str)]; 6] = [
        &[],
        &[
            ("label", ""),
            ("color", "nonsense"),
            ("labelColor", "nonsense"),
        ],
        &[
            ("style", "nonsense"),
            ("cacheSeconds", "0"),
            ("logoSize", "big"),
        ],
        &[("cacheSeconds", "86400"), ("style", "social")],
        &[
            ("logo", "data:image/svg+xml;base64,PHN2Zz4="),
            ("logoColor", "red"),
        ],
        &[
            ("logo", "data:text/html;base64,PHN2Zz4="),
            ("link", "https://example.com/"),
        ],
    ];
    for badge in &badges {
        for query in queries {
            let json = params(query).endpoint_json(badge);
            assert_eq!(
                shields_endpoint_schema_errors(&json),
                Vec::<String>::new(),
                "{json}"
            );
        }
    }
}

#[test]
fn schema_check_rejects_what_shields_rejects() {
    for bad in [
        json!({"schemaVersion": 1, "label": "a", "message": ""}),
        json!({"schemaVersion": 2, "label": "a", "message": "b"}),
        json!({"schemaVersion": 1, "message": "b"}),
        json!({"schemaVersion": 1, "label": "a", "message": "b", "link": ["x"]}),
        json!({"schemaVersion": 1, "label": "a", "message": "b", "isError": "true"}),
        json!({"schemaVersion": 1, "label": "a", "message": "b", "cacheSeconds": 299}),
        json!({"schemaVersion": 1, "label": "a", "message": "b", "namedLogo": "x", "logoSvg": "<svg/>"}),
    ] {
        assert!(!shields_endpoint_schema_errors(&bad).is_empty(), "{bad}");
    }
}
