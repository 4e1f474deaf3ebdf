//! Writes the C bindings of the kube-shields `check-plugin` world: `check_plugin.h`,
//! `check_plugin.c` and `check_plugin_component_type.o` (the world's component type, which
//! must be linked into the plugin), and beside them `kube_shields.h` and `kube_shields.c`: the
//! helpers every check in C uses and the two exports over the plugin's table of checks.
//!
//! ```text
//! kube-shields-wit-c [--wit <dir>] [--world <name>] <out-dir>
//! ```
//!
//! `--wit` defaults to the repository's `wit/` folder, `--world` to `check-plugin`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wit_bindgen_core::Files;
use wit_bindgen_core::wit_parser::Resolve;

/// The helpers and exports over the bindings, the same for every plugin.
const SUPPORT: [(&str, &str); 2] = [
    ("kube_shields.h", include_str!("../c/kube_shields.h")),
    ("kube_shields.c", include_str!("../c/kube_shields.c")),
];

const USAGE: &str = "usage: kube-shields-wit-c [--wit <dir>] [--world <name>] <out-dir>";

struct Args {
    wit: PathBuf,
    world: String,
    out: PathBuf,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args> {
    let mut wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let mut world = "check-plugin".to_owned();
    let mut out = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--wit" => wit = args.next().context("`--wit` needs a folder")?.into(),
            "--world" => world = args.next().context("`--world` needs a name")?,
            "-h" | "--help" => bail!("{USAGE}"),
            flag if flag.starts_with('-') => bail!("unknown option `{flag}`\n{USAGE}"),
            _ if out.is_some() => bail!("more than one output folder given\n{USAGE}"),
            _ => out = Some(PathBuf::from(arg)),
        }
    }
    let out = out.with_context(|| format!("no output folder given\n{USAGE}"))?;
    Ok(Args { wit, world, out })
}

/// Generates the bindings of `world` from the WIT package in `wit` and returns the files.
fn generate(wit: &Path, world: &str) -> Result<Files> {
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_path(wit)
        .with_context(|| format!("cannot read the WIT package in {}", wit.display()))?;
    let world = resolve
        .select_world(&[package], Some(world))
        .with_context(|| format!("no world `{world}` in {}", wit.display()))?;
    let mut files = Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .context("wit-bindgen-c failed")?;
    Ok(files)
}

fn run() -> Result<()> {
    let args = parse_args(std::env::args().skip(1))?;
    let files = generate(&args.wit, &args.world)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let support = SUPPORT.iter().map(|(name, text)| (*name, text.as_bytes()));
    for (name, contents) in files.iter().chain(support) {
        let path = args.out.join(name);
        // Unchanged files keep their modification time: `make` and friends skip a rebuild.
        if std::fs::read(&path).is_ok_and(|old| old == contents) {
            continue;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kube-shields-wit-c: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_plugin_world_gives_a_header_a_source_and_the_component_type_object() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let files = generate(&wit, "check-plugin").unwrap();
        let mut names: Vec<&str> = files.iter().map(|(name, _)| name).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "check_plugin.c",
                "check_plugin.h",
                "check_plugin_component_type.o"
            ]
        );
        let header = files
            .iter()
            .find(|(name, _)| *name == "check_plugin.h")
            .map(|(_, text)| String::from_utf8_lossy(text).into_owned())
            .unwrap();
        assert!(header.contains("exports_kube_shields_plugin_checks_run_check"));
        assert!(header.contains("kube_shields_plugin_http_get"));
    }

    #[test]
    fn an_unknown_world_is_named_in_the_error() {
        let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
        let err = generate(&wit, "nope").err().unwrap();
        assert!(format!("{err:#}").contains("no world `nope`"), "{err:#}");
    }
}
