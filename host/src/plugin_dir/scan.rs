//! One look at the plugin directory: which plugin and settings files it holds, per service,
//! read in full and hashed, so the reload compares contents, not timestamps.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::runtimes::Language;
use super::{PluginDirError, PluginSource};
use crate::pods::naming::is_service_name;

/// What a plugin file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PluginKind {
    /// `<service>.wasm`: a component, a core module with an embedded type, or WAT.
    Wasm,
    /// `<service>.py` or `<service>.js`: a script for a language runtime.
    Script(Language),
}

/// How a plugin file is stored: its kind, and whether it is gzip-compressed (`.gz`, since a
/// ConfigMap holds at most 1 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PluginFormat {
    pub(crate) kind: PluginKind,
    pub(crate) gzipped: bool,
}

/// What a file name in the plugin directory is for.
#[derive(Debug, PartialEq, Eq)]
enum FileRole<'a> {
    Plugin {
        service: &'a str,
        format: PluginFormat,
    },
    Settings {
        service: &'a str,
        is_toml: bool,
    },
}

/// The kubelet's symlink to the current version of a ConfigMap volume; its atomic rename is
/// the one event a ConfigMap update makes (the key symlinks themselves do not change).
const CONFIGMAP_DATA_LINK: &str = "..data";

/// What `file_name` is for, or `None` for hidden entries and unrelated files.
fn file_role(file_name: &str) -> Option<FileRole<'_>> {
    if file_name.starts_with('.') {
        return None;
    }
    let settings = |service, is_toml| Some(FileRole::Settings { service, is_toml });
    let (unpacked, gzipped) = match file_name.strip_suffix(".gz") {
        Some(unpacked) => (unpacked, true),
        None => (file_name, false),
    };
    // `<service>.wasm`, and a script of each language of the table.
    let kinds = std::iter::once(("wasm", PluginKind::Wasm))
        .chain(Language::ALL.map(|language| (language.extension(), PluginKind::Script(language))));
    let plugin = kinds.into_iter().find_map(|(extension, kind)| {
        let service = unpacked.strip_suffix(extension)?.strip_suffix('.')?;
        Some(FileRole::Plugin {
            service,
            format: PluginFormat { kind, gzipped },
        })
    });
    if plugin.is_some() {
        plugin
    } else if gzipped {
        None
    } else if let Some(service) = file_name.strip_suffix(".toml") {
        settings(service, true)
    } else if let Some(service) = file_name.strip_suffix(".json") {
        settings(service, false)
    } else {
        None
    }
}

/// Whether a change to `file_name` can change the plugin set: the ConfigMap `..data` link, or
/// a visible plugin or settings file.
pub(crate) fn is_relevant(file_name: &OsStr) -> bool {
    file_name == CONFIGMAP_DATA_LINK || file_name.to_str().and_then(file_role).is_some()
}

/// Whether `file_name` is a settings file of `service` (`<service>.toml` or `.json`), as the
/// plugin directory pairs them.
pub(crate) fn is_settings_of(file_name: &OsStr, service: &str) -> bool {
    matches!(
        file_name.to_str().and_then(file_role),
        Some(FileRole::Settings { service: owner, .. }) if owner == service
    )
}

/// A file's name in the directory, its contents and their SHA-256 (hex).
pub(crate) struct FileRead {
    /// File name, e.g. `web.wasm.gz`.
    pub name: String,
    /// Contents as stored (still compressed for `.wasm.gz`).
    pub bytes: Vec<u8>,
    /// SHA-256 of `bytes`, lowercase hex.
    pub sha256: String,
}

/// A service's plugin file as found by a scan.
pub(crate) struct PluginFound {
    /// File name, e.g. `web.wasm`.
    pub name: String,
    /// How it is stored.
    pub format: PluginFormat,
    /// Its contents, or why they could not be read (or why the file is ambiguous).
    pub read: Result<FileRead, PluginDirError>,
}

/// A service's settings file as found by a scan.
pub(crate) struct SettingsFound {
    /// Whether it is TOML (`.toml`) rather than JSON (`.json`).
    pub is_toml: bool,
    /// Its contents, or why they could not be read (or why the file is ambiguous).
    pub read: Result<FileRead, PluginDirError>,
}

/// Everything one scan found, by service name (sorted).
#[derive(Default)]
pub(crate) struct Scan {
    /// Services that have a plugin file.
    pub plugins: BTreeMap<String, PluginFound>,
    /// Settings files by service; those without a plugin file are unused.
    pub settings: BTreeMap<String, SettingsFound>,
}

/// What the plugin source holds now: a directory's plugins, or the one file of
/// `kube-shields check`.
pub(crate) fn scan_source(source: &PluginSource) -> Result<Scan, PluginDirError> {
    match source {
        PluginSource::Directory(dir) => scan(dir),
        PluginSource::File {
            path,
            service,
            settings,
        } => Ok(scan_file(path, service, settings.as_deref())),
    }
}

/// One plugin file for `service`, with its settings: the file given, else `<service>.toml` or
/// `<service>.json` beside the plugin, as the plugin directory would pair them.
fn scan_file(path: &Path, service: &str, settings: Option<&Path>) -> Scan {
    let dir = path.parent().unwrap_or(Path::new(""));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = match file_role(&name) {
        Some(FileRole::Plugin { format, .. }) => format,
        // `.wat` and anything else: the engine tells what the bytes are.
        _ => PluginFormat {
            kind: PluginKind::Wasm,
            gzipped: false,
        },
    };
    let mut scan = Scan::default();
    let read = read_file(dir, &name, None);
    scan.plugins
        .insert(service.to_owned(), PluginFound { name, format, read });
    let settings_found = match settings {
        Some(settings) => {
            let settings_dir = settings.parent().unwrap_or(Path::new(""));
            let name = settings
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some(SettingsFound {
                is_toml: !name.ends_with(".json"),
                read: read_file(settings_dir, &name, None),
            })
        }
        None => {
            let beside: Vec<(String, bool)> = [("toml", true), ("json", false)]
                .into_iter()
                .map(|(ext, is_toml)| (format!("{service}.{ext}"), is_toml))
                .filter(|(name, _)| dir.join(name).is_file())
                .collect();
            beside
                .split_first()
                .map(|((name, is_toml), others)| SettingsFound {
                    is_toml: *is_toml,
                    read: only_file(name, others).and_then(|()| read_file(dir, name, None)),
                })
        }
    };
    if let Some(found) = settings_found {
        scan.settings.insert(service.to_owned(), found);
    }
    scan
}

/// Lists `dir` (following symlinks, skipping hidden entries and dangling links) and reads
/// every plugin and settings file. Blocking: run it off the async threads.
pub(crate) fn scan(dir: &Path) -> Result<Scan, PluginDirError> {
    let unreadable = |source| PluginDirError::Directory {
        dir: dir.to_owned(),
        source,
    };
    // ConfigMap keys are links into `..data`, itself a link to a folder beside them: links are
    // followed, but only to files inside the directory as it resolves.
    let root = dir.canonicalize().map_err(unreadable)?;
    let mut scan = Scan::default();
    // Several files for one service (`a.wasm` and `a.wasm.gz`, `a.toml` and `a.json`).
    let mut plugin_files: BTreeMap<String, Vec<(String, PluginFormat)>> = BTreeMap::new();
    let mut settings_files: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(role) = file_role(&name) else {
            continue;
        };
        // `metadata` follows symlinks: a ConfigMap key is a link into `..data`, and a dangling
        // one (a key being deleted) is no file at all.
        if !std::fs::metadata(entry.path()).is_ok_and(|meta| meta.is_file()) {
            continue;
        }
        match role {
            FileRole::Plugin { service, format } if is_service_name(service) => {
                plugin_files
                    .entry(service.to_owned())
                    .or_default()
                    .push((name.clone(), format));
            }
            FileRole::Settings { service, is_toml } if is_service_name(service) => {
                settings_files
                    .entry(service.to_owned())
                    .or_default()
                    .push((name.clone(), is_toml));
            }
            FileRole::Plugin { .. } => {
                tracing::warn!(
                    file = %name,
                    "ignoring plugin file: a service name is lowercase letters, digits, '-' and '.'"
                );
            }
            FileRole::Settings { .. } => {}
        }
    }
    // Sorted, so the error names the files in the same order on every scan.
    for (service, mut files) in plugin_files {
        files.sort_by(|(a, _), (b, _)| a.cmp(b));
        let (name, format) = files.remove(0);
        let read = only_file(&name, &files).and_then(|()| read_file(dir, &name, Some(&root)));
        scan.plugins
            .insert(service, PluginFound { name, format, read });
    }
    for (service, mut files) in settings_files {
        files.sort_by(|(a, _), (b, _)| a.cmp(b));
        let (name, is_toml) = files.remove(0);
        let read = only_file(&name, &files).and_then(|()| read_file(dir, &name, Some(&root)));
        scan.settings
            .insert(service, SettingsFound { is_toml, read });
    }
    Ok(scan)
}

/// An error when other files compete with `name` for the same service.
fn only_file<T>(name: &str, others: &[(String, T)]) -> Result<(), PluginDirError> {
    match others.first() {
        None => Ok(()),
        Some((other, _)) => Err(PluginDirError::Ambiguous {
            file: name.to_owned(),
            other: other.clone(),
        }),
    }
}

/// Reads and hashes one file of the directory; with `within`, only if it resolves (through
/// any symlinks) to a file inside that directory: a link out of the plugin directory is refused
/// unread, so nothing of the file it names reaches a log or `/plugins`.
fn read_file(dir: &Path, name: &str, within: Option<&Path>) -> Result<FileRead, PluginDirError> {
    let mut path: PathBuf = dir.join(name);
    if let Some(root) = within {
        // The resolved path is what is read: a link changed after this check is not followed.
        path = path
            .canonicalize()
            .map_err(|source| PluginDirError::ReadFile {
                file: name.to_owned(),
                source,
            })?;
        if !path.starts_with(root) {
            return Err(PluginDirError::OutsideDirectory {
                file: name.to_owned(),
            });
        }
    }
    let bytes = std::fs::read(&path).map_err(|source: io::Error| PluginDirError::ReadFile {
        file: name.to_owned(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(FileRead {
        name: name.to_owned(),
        bytes,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn plugin(service: &str, kind: PluginKind, gzipped: bool) -> FileRole<'_> {
        FileRole::Plugin {
            service,
            format: PluginFormat { kind, gzipped },
        }
    }

    #[rstest]
    #[case::plugin("web.wasm", Some(plugin("web", PluginKind::Wasm, false)))]
    #[case::compressed("web.wasm.gz", Some(plugin("web", PluginKind::Wasm, true)))]
    #[case::python(
        "web.py",
        Some(plugin("web", PluginKind::Script(Language::Python), false))
    )]
    #[case::javascript(
        "web.js",
        Some(plugin("web", PluginKind::Script(Language::JavaScript), false))
    )]
    #[case::compressed_script(
        "web.py.gz",
        Some(plugin("web", PluginKind::Script(Language::Python), true))
    )]
    #[case::compressed_settings("web.toml.gz", None)]
    #[case::toml("web.toml", Some(FileRole::Settings { service: "web", is_toml: true }))]
    #[case::json("web.prod.json", Some(FileRole::Settings { service: "web.prod", is_toml: false }))]
    #[case::hidden(".web.wasm", None)]
    #[case::configmap_data("..data", None)]
    #[case::other("README.md", None)]
    #[case::gz_only("web.gz", None)]
    fn file_roles(#[case] name: &str, #[case] role: Option<FileRole<'static>>) {
        assert_eq!(file_role(name), role);
    }

    #[rstest]
    #[case::configmap_data("..data", true)]
    #[case::plugin("web.wasm", true)]
    #[case::settings("web.toml", true)]
    #[case::timestamped_folder("..2026_11_22_18_43_20.123", false)]
    #[case::configmap_tmp("..data_tmp", false)]
    #[case::other("notes.txt", false)]
    fn relevant_names(#[case] name: &str, #[case] relevant: bool) {
        assert_eq!(is_relevant(OsStr::new(name)), relevant);
    }
}
