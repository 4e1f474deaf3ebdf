//! `kube-shields new`: a ready plugin project for a language, which passes `kube-shields check`
//! unchanged: the check, its settings file, a pods fixture and a README with the command to try.

use std::path::{Path, PathBuf};

use crate::pods::naming::is_service_name;

/// A language `new` writes a project for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// A `<service>.py` script.
    Python,
    /// A `<service>.js` script.
    Js,
}

impl Lang {
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Lang::Python => ("py", include_str!("../templates/python/check.py")),
            Lang::Js => ("js", include_str!("../templates/js/check.js")),
        }
    }

    fn name_and_guide(self) -> (&'static str, &'static str) {
        match self {
            Lang::Python => (
                "Python",
                "docs/plugins/python.md in the kube-shields repository",
            ),
            Lang::Js => (
                "JavaScript",
                "docs/plugins/js.md in the kube-shields repository",
            ),
        }
    }
}

/// Why a project was not written.
#[derive(Debug, thiserror::Error)]
pub enum NewProjectError {
    /// The service name (the directory's name by default) is not one.
    #[error(
        "`{0}` is not a service name (lowercase letters, digits, `-` and `.`, as Kubernetes names): \
         pass --service NAME"
    )]
    ServiceName(String),
    /// The directory exists and is not empty: nothing is overwritten.
    #[error("{0} exists and is not empty; choose a new directory")]
    NotEmpty(PathBuf),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Writes a project for `service` (default: the directory's name) in `dir`; returns the files
/// written.
pub fn write_project(
    lang: Lang,
    dir: &Path,
    service: Option<&str>,
) -> Result<Vec<PathBuf>, NewProjectError> {
    let service = match service {
        Some(service) => service.to_owned(),
        None => dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !is_service_name(&service) {
        return Err(NewProjectError::ServiceName(service));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(NewProjectError::NotEmpty(dir.to_owned()));
    }
    let (extension, source) = lang.source();
    let (language, guide) = lang.name_and_guide();
    let file = format!("{service}.{extension}");
    let fill = |template: &str| {
        template
            .replace("{service}", &service)
            .replace("{file}", &file)
            .replace("{language}", language)
            .replace("{guide}", guide)
    };
    let files = [
        (file.clone(), fill(source)),
        (
            format!("{service}.toml"),
            fill(include_str!("../templates/settings.toml")),
        ),
        (
            "pods.json".to_owned(),
            fill(include_str!("../templates/pods.json")),
        ),
        (
            "README.md".to_owned(),
            fill(include_str!("../templates/README.md")),
        ),
    ];
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| NewProjectError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(write_error(&path))?;
            Ok(path)
        })
        .collect()
}
