//! The language table: every language plugins are written in, with what each place that lists
//! languages needs of it (file extension, runtime, guide, `kube-shields new` templates, build
//! step). The plugin directory, the script runtimes, `kube-shields new` and the command line
//! read it; adding a language is a row here.

/// A language plugins are written in: a row of the language table ([`Lang::spec`]), which
/// everything that lists languages reads (the plugin directory's file names, the script
/// runtimes, `kube-shields new` and its `--lang` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A `<service>.py` script.
    Python,
    /// A `<service>.js` script.
    Js,
    /// A Rust crate on the plugin SDK, built into `<service>.wasm`.
    Rust,
    /// A C file, built into `<service>.wasm` with clang and wasi-libc.
    C,
}

/// A file of a project: its path and its text, both with `{placeholders}`.
pub type Template = (&'static str, &'static str);

/// What kube-shields knows of a language: a row of the language table.
#[derive(Debug)]
pub struct LangSpec {
    /// Its name in messages and READMEs.
    pub name: &'static str,
    /// Its value of `kube-shields new --lang`.
    pub flag: &'static str,
    /// The extension of its file in the plugin directory (`<service>.<extension>`, maybe
    /// `.gz` after it): a script's own, or `wasm` for a language built into a component.
    pub extension: &'static str,
    /// For a script language: the file of the runtime that runs its scripts, in the runtime
    /// directory (`scripts/build-runtimes.sh` builds it).
    pub runtime: Option<&'static str>,
    /// The guide's file name under `docs/plugins/`, without `.md`.
    pub guide: &'static str,
    /// The files of a new project in the language; the first is the check's source.
    pub templates: &'static [Template],
    /// What `build.sh` does, for the README; `None`: nothing to build.
    pub build: Option<&'static str>,
}

impl Lang {
    /// Every language, in the order they are listed (`--lang`'s values).
    pub const ALL: [Lang; 4] = [Lang::Python, Lang::Js, Lang::Rust, Lang::C];

    /// The language's row of the table.
    pub fn spec(self) -> &'static LangSpec {
        match self {
            Lang::Python => &LangSpec {
                name: "Python",
                flag: "python",
                extension: "py",
                runtime: Some("python.wasm"),
                guide: "python",
                templates: &[("{service}.py", include_str!("../templates/python/check.py"))],
                build: None,
            },
            Lang::Js => &LangSpec {
                name: "JavaScript",
                flag: "js",
                extension: "js",
                runtime: Some("js.wasm"),
                guide: "js",
                templates: &[("{service}.js", include_str!("../templates/js/check.js"))],
                build: None,
            },
            Lang::Rust => &LangSpec {
                name: "Rust",
                flag: "rust",
                extension: "wasm",
                runtime: None,
                guide: "rust",
                templates: &[
                    ("src/lib.rs", include_str!("../templates/rust/src/lib.rs")),
                    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml")),
                    ("build.sh", include_str!("../templates/rust/build.sh")),
                ],
                build: Some(
                    " `build.sh` builds `{service}.wasm` (Rust's `wasm32-wasip2` target, added if \
                     missing; the plugin SDK from the kube-shields checkout at `{sdk}`).",
                ),
            },
            Lang::C => &LangSpec {
                name: "C",
                flag: "c",
                extension: "wasm",
                runtime: None,
                guide: "c",
                templates: &[
                    ("{service}.c", include_str!("../templates/c/check.c")),
                    ("build.sh", include_str!("../templates/c/build.sh")),
                ],
                build: Some(
                    " `build.sh` builds `{service}.wasm` (clang-19 and wasi-libc, installed if \
                     missing; the C bindings from the kube-shields checkout at `{sdk}`).",
                ),
            },
        }
    }

    /// Whether the project builds against a kube-shields source checkout (SDK, bindings tool).
    pub fn needs_checkout(self) -> bool {
        self.spec().build.is_some()
    }
}

/// `--lang`'s values: each language's `flag`.
impl clap::ValueEnum for Lang {
    fn value_variants<'a>() -> &'a [Self] {
        &Lang::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.spec().flag))
    }
}
