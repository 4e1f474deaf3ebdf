//! Writes the README's badge gallery: the badges the service draws for `?format=svg` in each
//! style and with shields' overrides, into `docs/gallery/` (or the folder given).
//!
//! `cargo run -p kube-shields-badge --example gallery`

use std::path::PathBuf;

use kube_shields_badge::{Badge, BadgeParams, Color};

fn main() -> std::io::Result<()> {
    let out = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/gallery"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out)?;
    let health = Badge::new("health", "3/3 (0 restarts)", Color::GREEN);
    let cases: [(&str, &[(&str, &str)]); 8] = [
        ("flat", &[]),
        ("flat-square", &[("style", "flat-square")]),
        ("plastic", &[("style", "plastic")]),
        ("for-the-badge", &[("style", "for-the-badge")]),
        ("social", &[("style", "social")]),
        ("label", &[("label", "prod web")]),
        ("color", &[("color", "blue"), ("labelColor", "555")]),
        (
            "label-and-style",
            &[("style", "for-the-badge"), ("label", "prod")],
        ),
    ];
    for (name, query) in cases {
        let svg = BadgeParams::from_query(query.iter().copied()).svg(&health, None);
        std::fs::write(out.join(format!("{name}.svg")), svg)?;
    }
    let failing = Badge::failure("image", "timeout");
    std::fs::write(
        out.join("failing.svg"),
        BadgeParams::from_query([("color", "blue")]).svg(&failing, None),
    )?;
    println!("wrote the gallery to {}", out.display());
    Ok(())
}
