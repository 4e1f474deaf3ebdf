//! `--cache-dir`: compiled plugins kept as files, so a restart with a warm cache maps a large
//! component in milliseconds instead of compiling it for seconds.
//!
//! An artifact is named `<plugin sha256>-<engine key>.cwasm`, the engine key being a digest of
//! wasmtime's compatibility hash (its version, target and every setting that changes code), so
//! an upgrade or a config change never loads a mismatched artifact.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PluginDirError;

const ARTIFACT_EXTENSION: &str = "cwasm";

/// The compile cache directory.
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Hex digest of the engine's precompile compatibility hash.
    engine_key: String,
    /// Whether [`CompileCache::prune`] removes what is not in use: a server watching a plugin
    /// directory owns its cache (old versions of its plugins would pile up); `check` shares the
    /// user's cache with every other plugin an author tries, so it never removes anything.
    owned: bool,
}

impl CompileCache {
    /// Creates `dir` if needed (owner-only on Unix: artifacts are code this process maps as
    /// executable). It may not be the plugin directory or inside it, whose files are not ours.
    /// With a `plugin_dir` the cache is the server's own and pruned; without, it is shared.
    pub(crate) fn open(
        dir: &Path,
        plugin_dir: Option<&Path>,
        engine: &wasmtime::Engine,
    ) -> Result<Self, PluginDirError> {
        let unusable = |source| PluginDirError::CacheDir {
            dir: dir.to_owned(),
            source,
        };
        create_private_dir(dir).map_err(unusable)?;
        let dir = dir.canonicalize().map_err(unusable)?;
        // A cache inside a watched plugin directory would trigger rescans of its own writes.
        if let Some(plugin_dir) = plugin_dir {
            let plugin_dir =
                plugin_dir
                    .canonicalize()
                    .map_err(|source| PluginDirError::Directory {
                        dir: plugin_dir.to_owned(),
                        source,
                    })?;
            if dir.starts_with(&plugin_dir) {
                return Err(PluginDirError::CacheInPluginDir { dir });
            }
        }
        let mut hasher = Sha256Hasher::default();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        Ok(CompileCache {
            dir,
            engine_key,
            owned: plugin_dir.is_some(),
        })
    }

    fn artifact_path(&self, sha256: &str) -> PathBuf {
        self.dir
            .join(format!("{sha256}-{}.{ARTIFACT_EXTENSION}", self.engine_key))
    }

    /// The component compiled earlier from the plugin with this SHA-256, if cached.
    pub(crate) fn load(&self, engine: &wasmtime::Engine, sha256: &str) -> Option<Component> {
        let path = self.artifact_path(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` maps the file as code without validating it, so it must be
        // an artifact wasmtime produced for a compatible engine and unchanged since. It is: only
        // `store` below writes `<sha256>-<engine key>.cwasm` (whole, by rename), the name pins
        // the engine, and the cache directory is this process's own (owner-only, never the
        // plugin directory: precompiled files that operators drop in are never loaded). Anyone
        // who can write there can already replace this binary's code.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "discarding unusable compile cache entry");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Saves a freshly compiled component. Failure only costs a compile on the next start, so
    /// it is logged, not returned.
    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let path = self.artifact_path(sha256);
        if let Err(error) = component
            .serialize()
            .map_err(io::Error::other)
            .and_then(|bytes| write_atomically(&path, &bytes))
        {
            tracing::warn!(path = %path.display(), %error, "cannot write compile cache entry");
        }
    }

    /// Removes every artifact (and leftover temporary file) this cache wrote that is not for one
    /// of `in_use` under the current engine key; other files in the directory are left alone.
    /// Does nothing to a shared cache.
    pub(crate) fn prune(&self, in_use: &HashSet<String>) {
        if !self.owned {
            return;
        }
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let stale = match parse_artifact_name(name) {
                Some((sha256, engine_key, temporary)) => {
                    temporary || engine_key != self.engine_key || !in_use.contains(sha256)
                }
                None => false,
            };
            if stale && let Err(error) = fs::remove_file(entry.path()) {
                tracing::warn!(file = name, %error, "cannot remove stale compile cache entry");
            }
        }
    }
}

/// Splits `<sha256>-<engine key>.cwasm` (or its temporary `.cwasm.tmp`) into sha256, engine
/// key and whether it is temporary; `None` for any other name.
fn parse_artifact_name(name: &str) -> Option<(&str, &str, bool)> {
    let (stem, temporary) = match name.strip_suffix(".tmp") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let (sha256, engine_key) = stem
        .strip_suffix(ARTIFACT_EXTENSION)?
        .strip_suffix('.')?
        .split_once('-')?;
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    (sha256.len() == 64 && is_hex(sha256) && is_hex(engine_key))
        .then_some((sha256, engine_key, temporary))
}

/// Writes to a temporary file and renames it into place, so `load` never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = options
        .open(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Feeds a `Hash` value into SHA-256: unlike `DefaultHasher`, its output is stable across
/// Rust releases, so a rebuilt binary with the same wasmtime keeps its warm cache.
#[derive(Default)]
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a SHA-256 digest has 32 bytes"),
        )
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[rstest]
    #[case::artifact(format!("{SHA}-00ff.cwasm"), Some((SHA, "00ff", false)))]
    #[case::temporary(format!("{SHA}-00ff.cwasm.tmp"), Some((SHA, "00ff", true)))]
    #[case::short_sha("abc-00ff.cwasm".to_owned(), None)]
    #[case::other_extension(format!("{SHA}-00ff.wasm"), None)]
    #[case::unrelated("notes.txt".to_owned(), None)]
    fn artifact_names(#[case] name: String, #[case] parsed: Option<(&str, &str, bool)>) {
        assert_eq!(parse_artifact_name(&name), parsed);
    }
}
