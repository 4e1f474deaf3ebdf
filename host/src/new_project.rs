//! `kube-shields new`: a ready plugin project for a language, which passes `kube-shields check`
//! unchanged: the check, its settings file, a pods fixture, a `build.sh` where a build is needed
//! and a README with the one command to try it.

use std::path::{Path, PathBuf};

pub use crate::language::{Lang, LangSpec, Template};
use crate::pods::naming::is_service_name;

/// The kube-shields checkout this binary was built from, when it is still there: the Rust and
/// C templates build against its `plugin-sdk/` and `tools/wit-c/`.
pub fn default_checkout() -> Option<PathBuf> {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    checkout
        .join("plugin-sdk/Cargo.toml")
        .is_file()
        .then(|| checkout.to_owned())
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
    /// A Rust or C project needs a kube-shields checkout and none was given or found.
    #[error(
        "{0} projects build against a kube-shields source checkout (plugin-sdk/, tools/wit-c/): \
         pass --sdk DIR (or set KUBE_SHIELDS_SRC)"
    )]
    NoCheckout(&'static str),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// A project written by [`write_project`].
#[derive(Debug)]
pub struct NewProject {
    /// The files written, the check's source first.
    pub files: Vec<PathBuf>,
    /// The one command that builds (if needed) and tries it, run in the project's directory.
    pub try_command: String,
}

/// Writes a project for `service` (default: the directory's name) in `dir`. `checkout` is the
/// kube-shields source the Rust and C projects build against (default [`default_checkout`]).
pub fn write_project(
    lang: Lang,
    dir: &Path,
    service: Option<&str>,
    checkout: Option<&Path>,
) -> Result<NewProject, NewProjectError> {
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
    let spec = lang.spec();
    let checkout = match checkout.map(Path::to_owned).or_else(default_checkout) {
        Some(checkout) => std::path::absolute(&checkout).unwrap_or(checkout),
        None if spec.build.is_some() => return Err(NewProjectError::NoCheckout(spec.name)),
        None => PathBuf::new(),
    };
    let plugin = format!("{{service}}.{}", spec.extension);
    let try_command = match spec.build {
        Some(_) => format!("./build.sh && kube-shields check {plugin} --pods pods.json"),
        None => format!("kube-shields check {plugin} --pods pods.json"),
    };
    // A crate name may not contain `.`; Cargo names the artefact with `_` for `-`.
    let crate_name = service.replace('.', "-");
    let placeholders = [
        ("{source}", spec.templates[0].0.to_owned()),
        ("{build_note}", spec.build.unwrap_or_default().to_owned()),
        ("{try}", try_command),
        ("{plugin}", plugin),
        ("{service}", service.clone()),
        ("{crate}", crate_name.clone()),
        ("{lib}", crate_name.replace('-', "_")),
        ("{sdk}", checkout.display().to_string()),
        ("{language}", spec.name.to_owned()),
        ("{guide}", spec.guide.to_owned()),
    ];
    // In order: earlier values may hold later placeholders.
    let fill = |template: &str| {
        placeholders
            .iter()
            .fold(template.to_owned(), |text, (key, value)| {
                text.replace(key, value)
            })
    };
    let common: [Template; 3] = [
        ("{service}.toml", include_str!("../templates/settings.toml")),
        ("pods.json", include_str!("../templates/pods.json")),
        ("README.md", include_str!("../templates/README.md")),
    ];
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| NewProjectError::Write { path, source }
    };
    let mut files = Vec::new();
    for (name, text) in spec.templates.iter().chain(&common) {
        let path = dir.join(fill(name));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error(parent))?;
        }
        std::fs::write(&path, fill(text)).map_err(write_error(&path))?;
        if name.ends_with(".sh") {
            make_executable(&path).map_err(write_error(&path))?;
        }
        files.push(path);
    }
    Ok(NewProject {
        files,
        try_command: fill("{try}"),
    })
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's first line used to say "`{service}.c` is the check": a placeholder left
    /// unfilled because it was filled after `{service}`.
    #[test]
    fn every_placeholder_of_every_language_is_filled() {
        for lang in Lang::ALL {
            let dir = tempfile::tempdir().unwrap();
            let project = dir.path().join("web");
            let written = write_project(lang, &project, None, Some(dir.path())).unwrap();
            for file in &written.files {
                let text = std::fs::read_to_string(file).unwrap();
                let names = [
                    "{service}",
                    "{source}",
                    "{plugin}",
                    "{try}",
                    "{sdk}",
                    "{guide}",
                    "{lib}",
                    "{crate}",
                ];
                for placeholder in names {
                    assert!(
                        !text.contains(placeholder),
                        "{placeholder} in {}:\n{text}",
                        file.display()
                    );
                }
            }
            let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
            let source = written.files[0]
                .strip_prefix(&project)
                .unwrap()
                .display()
                .to_string();
            assert!(
                readme.contains(&format!("`{source}` is the check")),
                "{readme}"
            );
        }
    }
}
