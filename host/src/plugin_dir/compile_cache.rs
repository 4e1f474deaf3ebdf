//! `--cache-dir`: compiled plugins kept as files, so a restart with a warm cache maps a large
//! component in milliseconds instead of compiling it for seconds.
//!
//! An artifact is named `<plugin sha256>-<engine key>.cwasm`, the engine key being a digest of
//! wasmtime's compatibility hash (its version, target and every setting that changes code), so
//! an upgrade or a config change never loads a mismatched artifact.
//!
//! Artifacts are native code that is mapped and run unchecked, so the directory must be this
//! user's alone (owned by it, writable by no one else: refused otherwise), and each artifact is
//! authenticated before it is loaded: `<artifact>.mac` holds an HMAC-SHA256 of its name and bytes
//! under the cache's own key (`key`, 32 random bytes made when the cache is first used, owner-only).
//! An artifact written by anyone else, or copied under another plugin's hash, fails the check and
//! is compiled again, never run.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PluginDirError;

const ARTIFACT_EXTENSION: &str = "cwasm";
/// The suffix of an artifact's authentication code, beside it.
const MAC_SUFFIX: &str = ".mac";
/// The cache's own key, in the cache directory.
const KEY_FILE: &str = "key";
const KEY_BYTES: usize = 32;
/// Says what the MAC is over, so it is never valid for anything else.
const MAC_CONTEXT: &[u8] = b"kube-shields compile cache artifact v1\0";

type ArtifactMac = Hmac<Sha256>;

/// The file that marks a cache `check` shares (see [`CompileCache::owned`](CompileCache)).
const SHARED_MARK: &str = "SHARED";

/// The compile cache directory.
pub(crate) struct CompileCache {
    dir: PathBuf,
    /// Hex digest of the engine's precompile compatibility hash.
    engine_key: String,
    /// Whether [`CompileCache::prune`] removes what is not in use: a server watching a plugin
    /// directory owns its cache (old versions of its plugins would pile up); `check` shares the
    /// user's cache with every other plugin an author tries, so it never removes anything, and
    /// marks it shared ([`SHARED_MARK`]) so that `serve --dev` can use it too without pruning.
    owned: bool,
    /// Authenticates artifacts (see the module docs).
    key: [u8; KEY_BYTES],
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
        refuse_shared_dir(&dir)?;
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
        let key = read_or_make_key(&dir.join(KEY_FILE)).map_err(unusable)?;
        let shared_mark = dir.join(SHARED_MARK);
        if plugin_dir.is_none() && !shared_mark.exists() {
            fs::write(
                &shared_mark,
                b"kube-shields check shares this cache: nothing prunes it\n",
            )
            .map_err(unusable)?;
        }
        Ok(CompileCache {
            owned: plugin_dir.is_some() && !shared_mark.exists(),
            dir,
            engine_key,
            key,
        })
    }

    /// The authentication code of an artifact of this name with these bytes.
    fn mac(
        &self,
        path: &Path,
        read: impl FnOnce(&mut ArtifactMac) -> io::Result<()>,
    ) -> io::Result<Vec<u8>> {
        let mut mac = ArtifactMac::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(MAC_CONTEXT);
        let name = path
            .file_name()
            .map(|name| name.as_encoded_bytes())
            .unwrap_or_default();
        mac.update(name);
        mac.update(b"\0");
        read(&mut mac)?;
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// Whether the artifact at `path` is one this cache wrote, unchanged: its code, recomputed
    /// from the file as it is now, matches the one stored beside it (compared in constant time).
    fn is_authentic(&self, path: &Path) -> bool {
        let Ok(stored) = fs::read(mac_path(path)) else {
            return false;
        };
        let computed = self.mac(path, |mac| {
            let mut file = fs::File::open(path)?;
            let mut buffer = vec![0; 1 << 16];
            loop {
                match io::Read::read(&mut file, &mut buffer)? {
                    0 => return Ok(()),
                    n => mac.update(&buffer[..n]),
                }
            }
        });
        computed
            .is_ok_and(|computed| subtle::ConstantTimeEq::ct_eq(&computed[..], &stored[..]).into())
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
        if !self.is_authentic(&path) {
            tracing::warn!(path = %path.display(), "compile cache entry failed authentication (not written by this cache, or changed since); compiling again");
            let _ = fs::remove_file(&path);
            let _ = fs::remove_file(mac_path(&path));
            return None;
        }
        // SAFETY: `deserialize_file` maps the file as code without validating it, so it must be
        // an artifact wasmtime produced for a compatible engine and unchanged since. It is: its
        // MAC under this cache's key (checked just above) says `store` below wrote these bytes
        // under this name, the name pins the plugin and the engine, and the directory is this
        // user's alone (refused otherwise), so nobody else can swap the file in between. Never
        // the plugin directory: precompiled files that operators drop in are never loaded.
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
        match component.serialize() {
            Ok(bytes) => {
                self.store_artifact(sha256, &bytes);
            }
            Err(error) => tracing::warn!(sha256, %error, "cannot serialize a compiled plugin"),
        }
    }

    /// Saves a compiled component in its serialized form (the engine's own); `true` when it was
    /// written, so [`load`](Self::load) can map it.
    pub(crate) fn store_artifact(&self, sha256: &str, bytes: &[u8]) -> bool {
        let path = self.artifact_path(sha256);
        // The artifact first, then its code: an artifact without its code is never loaded, so a
        // crash between the two writes costs a compile, nothing more.
        let _ = fs::remove_file(mac_path(&path));
        let written = write_atomically(&path, bytes).and_then(|()| {
            let mac = self.mac(&path, |mac| {
                mac.update(bytes);
                Ok(())
            })?;
            write_atomically(&mac_path(&path), &mac)
        });
        if let Err(error) = &written {
            tracing::warn!(path = %path.display(), %error, "cannot write compile cache entry");
        }
        written.is_ok()
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

/// Splits `<sha256>-<engine key>.cwasm` (or its code `.cwasm.mac`, or either's temporary
/// `.tmp`) into sha256, engine key and whether it is temporary; `None` for any other name.
fn parse_artifact_name(name: &str) -> Option<(&str, &str, bool)> {
    let (stem, temporary) = match name.strip_suffix(".tmp") {
        Some(stem) => (stem, true),
        None => (name, false),
    };
    let stem = stem.strip_suffix(MAC_SUFFIX).unwrap_or(stem);
    let (sha256, engine_key) = stem
        .strip_suffix(ARTIFACT_EXTENSION)?
        .strip_suffix('.')?
        .split_once('-')?;
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    (sha256.len() == 64 && is_hex(sha256) && is_hex(engine_key))
        .then_some((sha256, engine_key, temporary))
}

/// Where the authentication code of the artifact at `path` is kept.
fn mac_path(path: &Path) -> PathBuf {
    let mut mac = path.as_os_str().to_owned();
    mac.push(MAC_SUFFIX);
    PathBuf::from(mac)
}

/// Refuses a cache directory that someone else could write to: its artifacts are run as code.
#[cfg(unix)]
fn refuse_shared_dir(dir: &Path) -> Result<(), PluginDirError> {
    use std::os::unix::fs::MetadataExt;
    let unsafe_dir = |reason: String| PluginDirError::CacheDirUnsafe {
        dir: dir.to_owned(),
        reason,
    };
    let metadata = fs::metadata(dir).map_err(|source| PluginDirError::CacheDir {
        dir: dir.to_owned(),
        source,
    })?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[cfg(target_os = "linux")]
    let user = unsafe { libc::geteuid() };
    #[cfg(not(target_os = "linux"))]
    let user = metadata.uid();
    if metadata.uid() != user {
        return Err(unsafe_dir(format!(
            "it is owned by user {}, not by this process's user {user}",
            metadata.uid()
        )));
    }
    if let Some(mode) = writable_by_others(&metadata) {
        return Err(unsafe_dir(format!(
            "others can write to it (mode {mode:o})"
        )));
    }
    Ok(())
}

/// The permission bits of a file or folder that its group or others may write to (and so
/// replace code this process would run); `None` when only its owner may.
#[cfg(unix)]
pub(super) fn writable_by_others(metadata: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let mode = metadata.mode() & 0o7777;
    (mode & 0o022 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn refuse_shared_dir(_dir: &Path) -> Result<(), PluginDirError> {
    Ok(())
}

/// The cache's key: read from `path`, or made (32 random bytes, owner-only) when there is none
/// or it is not a key.
fn read_or_make_key(path: &Path) -> io::Result<[u8; KEY_BYTES]> {
    if let Ok(bytes) = fs::read(path)
        && let Ok(key) = <[u8; KEY_BYTES]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let key: [u8; KEY_BYTES] = rand::random();
    write_atomically(path, &key)?;
    Ok(key)
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
    #[case::code(format!("{SHA}-00ff.cwasm.mac"), Some((SHA, "00ff", false)))]
    #[case::temporary_code(format!("{SHA}-00ff.cwasm.mac.tmp"), Some((SHA, "00ff", true)))]
    #[case::key("key".to_owned(), None)]
    #[case::short_sha("abc-00ff.cwasm".to_owned(), None)]
    #[case::other_extension(format!("{SHA}-00ff.wasm"), None)]
    #[case::unrelated("notes.txt".to_owned(), None)]
    fn artifact_names(#[case] name: String, #[case] parsed: Option<(&str, &str, bool)>) {
        assert_eq!(parse_artifact_name(&name), parsed);
    }
}
