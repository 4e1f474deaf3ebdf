//! Our SVG against badge-maker 6.0.0's, the renderer shields itself uses: ≥1000 deterministic
//! cases over every style, named color, alias, hex colors, label colors, links and all sorts of
//! text, rendered by `node` with the pinned badge-maker in `tests/corpus/` and by us.
//!
//! Known difference, left out of the corpus: characters XML 1.0 forbids (C0 controls but tab,
//! line feed and carriage return; U+FFFE, U+FFFF) are dropped from our texts and kept in
//! badge-maker's, whose SVG then does not parse.
//!
//! Needs `node` and `npm` on PATH: it installs `tests/corpus/node_modules` with `npm ci` when
//! missing and fails (never skips) when it cannot.

use kube_shields_badge::{Badge, BadgeParams, Color, Style};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// How many cases the corpus holds.
const CASES: usize = 1500;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Installs the pinned badge-maker with `npm ci` unless it is there already; once per test
/// process (tests run in parallel, and two `npm ci` at once would trip over each other).
fn ensure_badge_maker() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install_badge_maker).clone()
}

fn install_badge_maker() -> PathBuf {
    let dir = corpus_dir();
    let installed = dir.join("node_modules/badge-maker/package.json");
    if !installed.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .expect("npm must be installed to run the badge-maker corpus");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    }
    let version: Value =
        serde_json::from_str(&std::fs::read_to_string(&installed).expect("badge-maker installed"))
            .expect("badge-maker package.json");
    assert_eq!(
        version["version"], "6.0.0",
        "the corpus pins badge-maker 6.0.0"
    );
    dir
}

/// badge-maker's output for each format, via `render.mjs`.
fn badge_maker(formats: &[Value]) -> Vec<Value> {
    let dir = ensure_badge_maker();
    let mut child = Command::new("node")
        .arg("render.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node must be installed to run the badge-maker corpus");
    let input = serde_json::to_vec(formats).expect("formats serialize");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(&input)
        .expect("node reads the formats");
    let output = child.wait_with_output().expect("node runs");
    assert!(output.status.success(), "render.mjs failed");
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("render.mjs JSON");
    assert_eq!(results.len(), formats.len());
    results
}

/// A small deterministic generator (SplitMix64), so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every named color and alias, in several spellings.
const COLOR_NAMES: [&str; 19] = [
    "brightgreen",
    "green",
    "yellow",
    "yellowgreen",
    "orange",
    "red",
    "blue",
    "grey",
    "lightgrey",
    "gray",
    "lightgray",
    "critical",
    "important",
    "success",
    "informational",
    "inactive",
    "RED",
    "Success",
    "LightGray",
];

/// Words that make up texts: ASCII, XML specials, non-ASCII from several scripts, characters
/// outside the basic plane, characters the width tables lack.
const WORDS: [&str; 40] = [
    "build",
    "passing",
    "failing",
    "3/3",
    "v1.2.3-rc.1",
    "web",
    "api_gateway",
    "coverage",
    "99%",
    "a&b",
    "<script>",
    "\"quoted\"",
    "it's",
    "x>y",
    "ü",
    "Straße",
    "ßeta",
    "Ωμέγα",
    "日本語",
    "漢字テスト",
    "한국어",
    "שלום",
    "مرحبا",
    "🚀",
    "𝔘𝔫𝔦",
    "e\u{301}",
    "\u{200d}",
    "\u{e000}",
    "tab\there",
    "ÿ",
    "ǆ",
    "ﬁ",
    "İstanbul",
    "ŉ",
    "WWWWWW",
    "iiiiii",
    "0",
    "-",
    "__",
    "~!@#$^*()+={}[]|\\:;,.?`",
];

fn text(rng: &mut Rng) -> String {
    let mut text = match rng.below(10) {
        0 => String::new(),
        1 => {
            // Long: many words.
            let count = 10 + rng.below(30);
            (0..count)
                .map(|_| *rng.pick(&WORDS))
                .collect::<Vec<_>>()
                .join(" ")
        }
        2 => {
            // Random code points from the basic plane and beyond.
            (0..1 + rng.below(12))
                .filter_map(|_| char::from_u32(0x20 + rng.below(0x2_0000) as u32))
                // U+FFFE and U+FFFF are not XML; we drop them and badge-maker keeps them (the
                // one known difference, with the C0 controls).
                .filter(|c| !matches!(c, '\u{fffe}' | '\u{ffff}'))
                .collect()
        }
        _ => (0..1 + rng.below(3))
            .map(|_| *rng.pick(&WORDS))
            .collect::<Vec<_>>()
            .join(" "),
    };
    if rng.below(12) == 0 {
        // Whitespace badge-maker trims (JS white space, including U+FEFF and U+3000).
        let before = *rng.pick(&[" ", "\u{feff}", "\t "]);
        let after = *rng.pick(&[" ", "\u{3000}", "\n"]);
        text = format!("{before}{text}{after}");
    }
    text
}

fn named_color(rng: &mut Rng) -> Color {
    let name = *rng.pick(&COLOR_NAMES);
    Color::parse(name).expect("a shields color")
}

fn hex_color(rng: &mut Rng) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefABCDEF";
    let len = if rng.below(2) == 0 { 3 } else { 6 };
    (0..len).map(|_| char::from(*rng.pick(DIGITS))).collect()
}

/// One corpus case: what we are asked to draw.
struct Case {
    label: String,
    message: String,
    color: Color,
    label_color: Option<Color>,
    style: Style,
    links: Vec<String>,
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(0x6b75_6265_2d73_6869);
    const LINKS: [&str; 4] = [
        "https://example.com/",
        "https://example.com/a?b=c&d=<e>\"f'",
        "http://127.0.0.1:8080/_/web/health/",
        "",
    ];
    (0..CASES)
        .map(|index| {
            let style = Style::ALL[index % Style::ALL.len()];
            // The first rounds go through every named color and alias in every style.
            let color_text = if index < COLOR_NAMES.len() * Style::ALL.len() {
                COLOR_NAMES[index / Style::ALL.len()].to_owned()
            } else if rng.below(2) == 0 {
                (*rng.pick(&COLOR_NAMES)).to_owned()
            } else {
                hex_color(&mut rng)
            };
            let label_color = match rng.below(4) {
                0 => Some(named_color(&mut rng)),
                1 => Some(Color::or_fallback(&hex_color(&mut rng))),
                _ => None,
            };
            let links = match rng.below(6) {
                0 => vec![(*rng.pick(&LINKS)).to_owned()],
                1 => vec![
                    (*rng.pick(&LINKS)).to_owned(),
                    (*rng.pick(&LINKS)).to_owned(),
                ],
                _ => Vec::new(),
            };
            let label = if rng.below(6) == 0 {
                String::new()
            } else {
                text(&mut rng)
            };
            Case {
                label,
                message: text(&mut rng),
                color: Color::or_fallback(&color_text),
                label_color,
                style,
                links,
            }
        })
        .collect()
}

/// The case as badge-maker's `makeBadge` format.
fn badge_maker_format(case: &Case) -> Value {
    let mut format = json!({
        "label": case.label,
        "message": case.message,
        "color": case.color.as_str(),
        "style": case.style.as_str(),
    });
    if let Some(label_color) = &case.label_color {
        format["labelColor"] = json!(label_color.as_str());
    }
    if !case.links.is_empty() {
        format["links"] = json!(case.links);
    }
    format
}

/// The case drawn by us, through the public API as the host calls it.
fn ours(case: &Case) -> String {
    let label_color = case.label_color.as_ref().map(Color::to_string);
    let mut query = vec![("style", case.style.as_str())];
    if let Some(label_color) = &label_color {
        query.push(("labelColor", label_color));
    }
    for link in &case.links {
        query.push(("link", link));
    }
    let badge = Badge::new(case.label.clone(), case.message.clone(), case.color.clone());
    BadgeParams::from_query(query).svg(&badge, None)
}

/// An SVG in a canonical form: one line per element with its attributes sorted and numbers
/// rounded to one decimal, and text nodes as they are.
fn normalized(svg: &str) -> String {
    fn number_or_text(value: &str) -> String {
        match value.parse::<f64>() {
            Ok(number) => format!("{number:.1}"),
            Err(_) => value.to_owned(),
        }
    }
    let document = roxmltree::Document::parse(svg).expect("well-formed SVG");
    let mut out = String::new();
    for node in document.root().descendants() {
        if node.is_element() {
            let mut attributes: Vec<String> = node
                .attributes()
                .map(|a| format!("{}={}", a.name(), number_or_text(a.value())))
                .collect();
            attributes.sort();
            out.push_str(&format!(
                "<{} {}>\n",
                node.tag_name().name(),
                attributes.join(" ")
            ));
        } else if let Some(text) = node.text() {
            out.push_str(&format!("text {text:?}\n"));
        }
    }
    out
}

#[test]
fn svg_matches_badge_maker_for_every_case() {
    let cases = cases();
    let formats: Vec<Value> = cases.iter().map(badge_maker_format).collect();
    let theirs = badge_maker(&formats);
    let mut identical = 0;
    let mut equal_normalized = 0;
    let mut differences = Vec::new();
    for ((case, format), theirs) in cases.iter().zip(&formats).zip(&theirs) {
        let theirs = theirs
            .as_str()
            .unwrap_or_else(|| panic!("badge-maker refused {format}: {theirs}"));
        let ours = ours(case);
        if ours == theirs {
            identical += 1;
        } else if normalized(&ours) == normalized(theirs) {
            equal_normalized += 1;
        } else {
            differences.push(format!("{format}\n  ours:   {ours}\n  theirs: {theirs}"));
        }
    }
    eprintln!(
        "badge-maker corpus: {} cases, {identical} byte-identical, {equal_normalized} equal after \
         normalising, {} different",
        cases.len(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {} cases differ from badge-maker; first ones:\n{}",
        differences.len(),
        cases.len(),
        differences
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn corpus_covers_what_it_claims() {
    let cases = cases();
    assert!(cases.len() >= 1000);
    for style in Style::ALL {
        assert!(
            cases.iter().filter(|c| c.style == style).count() >= 200,
            "{style:?}"
        );
    }
    for name in COLOR_NAMES {
        let color = Color::parse(name).expect("a shields color");
        assert!(cases.iter().any(|c| c.color == color), "{name}");
    }
    let count = |predicate: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| predicate(c)).count();
    assert!(count(&|c| c.label.is_empty()) >= 100);
    assert!(count(&|c| c.message.is_empty()) >= 50);
    assert!(count(&|c| !c.label.is_ascii() || !c.message.is_ascii()) >= 300);
    assert!(count(&|c| c.label.chars().count() > 80) >= 50);
    assert!(count(&|c| c.color.as_str().len() == 3) >= 50);
    assert!(count(&|c| c.color.as_str().len() == 6) >= 50);
    assert!(count(&|c| c.label_color.is_some()) >= 200);
    assert!(count(&|c| c.links.len() == 1 && !c.links[0].is_empty()) >= 50);
    assert!(count(&|c| c.links.len() == 2 && c.links.iter().all(|l| !l.is_empty())) >= 50);
}

/// Our binary width tables, rebuilt from anafanafo's JSON in the documented format.
#[test]
fn width_tables_are_anafanafo_tables() {
    let data = ensure_badge_maker().join("node_modules/anafanafo/data");
    let ours: [(&str, &[u8]); 4] = [
        (
            "verdana-11px-normal",
            include_bytes!("../src/widths/verdana-11px-normal.bin"),
        ),
        (
            "verdana-10px-normal",
            include_bytes!("../src/widths/verdana-10px-normal.bin"),
        ),
        (
            "verdana-10px-bold",
            include_bytes!("../src/widths/verdana-10px-bold.bin"),
        ),
        (
            "helvetica-11px-bold",
            include_bytes!("../src/widths/helvetica-11px-bold.bin"),
        ),
    ];
    for (name, table) in ours {
        let json = std::fs::read_to_string(data.join(format!("{name}.json"))).expect(name);
        let ranges: Vec<(u32, u32, f64)> = serde_json::from_str(&json).expect(name);
        let mut expected = Vec::new();
        let mut record = |first: u32, hundredths: u16| {
            expected.extend_from_slice(&first.to_le_bytes()[..3]);
            expected.extend_from_slice(&hundredths.to_le_bytes());
        };
        let mut next = 0;
        for (lower, upper, width) in ranges {
            if lower > next {
                record(next, 0xffff);
            }
            let hundredths = (width * 100.0).round();
            assert_eq!(
                hundredths / 100.0,
                width,
                "{name}: {width} has two decimals at most"
            );
            record(lower, hundredths as u16);
            next = upper + 1;
        }
        record(next, 0xffff);
        assert!(
            expected == table,
            "{name}: table differs from anafanafo's; rerun gen-width-tables.mjs"
        );
    }
}
