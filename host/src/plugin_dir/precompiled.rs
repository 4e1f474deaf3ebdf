//! Language runtimes compiled ahead, at image build (`kube-shields precompile`): beside
//! `python.wasm` stand `python.wasm.cwasm` (the compiled runtime, for any CPU of the
//! architecture) and `python.wasm.cwasm.sha256` (the runtime it was compiled from). A new pod then
//! maps the runtime in milliseconds instead of compiling it (13 s of CPU, half a GB for Python).
//!
//! The server loads one only when it was compiled from the very runtime file beside it and the
//! engine accepts it (same wasmtime, settings and OS; CPU features the host has); else it
//! compiles, as without one. The runtime directory ships with the binary and is trusted as it is
//! (not if others can write to it).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::PluginDirError;
use super::runtimes::Language;
use crate::plugin::PluginEngine;

/// The compiled runtime beside `runtime`.
fn artifact_of(runtime: &Path) -> PathBuf {
    let mut path = runtime.as_os_str().to_owned();
    path.push(".cwasm");
    PathBuf::from(path)
}

/// The file naming the runtime an artifact was compiled from (SHA-256, hex).
fn source_of(artifact: &Path) -> PathBuf {
    let mut path = artifact.as_os_str().to_owned();
    path.push(".sha256");
    PathBuf::from(path)
}

/// The runtime `runtime` (whose SHA-256 is `sha256`) as compiled at image build, if it is there
/// and fits this host; `None` (logged) sends the caller to compile it.
pub(crate) fn load(engine: &wasmtime::Engine, runtime: &Path, sha256: &str) -> Option<Component> {
    let artifact = artifact_of(runtime);
    let recorded = fs::read_to_string(source_of(&artifact)).ok()?;
    if recorded.trim() != sha256 {
        tracing::warn!(artifact = %artifact.display(), "precompiled runtime is of another runtime file; compiling");
        return None;
    }
    if let Err(reason) = trusted(&artifact) {
        tracing::warn!(artifact = %artifact.display(), reason, "precompiled runtime not trusted; compiling");
        return None;
    }
    // SAFETY: `deserialize_file` maps the file as code without validating it. It was written by
    // `write` below (its source hash matches the runtime beside it) into the runtime directory,
    // which ships with this binary and that only its owner can write to (checked above): it is
    // as trusted as the binary. wasmtime still checks it was compiled by this wasmtime, with
    // these settings, for this OS and CPU, and refuses it otherwise.
    match unsafe { Component::deserialize_file(engine, &artifact) } {
        Ok(component) => {
            tracing::info!(artifact = %artifact.display(), "loaded precompiled runtime");
            Some(component)
        }
        Err(error) => {
            tracing::info!(artifact = %artifact.display(), error = format!("{error:#}"), "precompiled runtime does not fit this host; compiling");
            None
        }
    }
}

/// Whether only the file's owner can write to it and to its folder.
#[cfg(unix)]
fn trusted(artifact: &Path) -> Result<(), String> {
    let folder = artifact.parent().unwrap_or(Path::new("."));
    for path in [artifact, folder] {
        let metadata = fs::metadata(path).map_err(|err| err.to_string())?;
        if let Some(mode) = super::compile_cache::writable_by_others(&metadata) {
            return Err(format!(
                "{} is writable by others (mode {mode:o})",
                path.display()
            ));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn trusted(_artifact: &Path) -> Result<(), String> {
    Ok(())
}

/// A runtime compiled by [`precompile`].
#[derive(Debug)]
pub struct Precompiled {
    /// The runtime's language.
    pub language: Language,
    /// Where the compiled runtime was written.
    pub artifact: PathBuf,
    /// Its size in bytes.
    pub bytes: usize,
    /// How long compiling took.
    pub seconds: f64,
}

/// Compiles every runtime in `dir` for any CPU of this architecture and writes each beside it
/// (`kube-shields precompile`, at image build). Runtimes not in `dir` are skipped.
pub fn precompile(dir: &Path) -> Result<Vec<Precompiled>, PluginDirError> {
    let mut done = Vec::new();
    for language in Language::ALL {
        let runtime = dir.join(language.runtime_file());
        let file = runtime.display().to_string();
        let source = match fs::read(&runtime) {
            Ok(source) => source,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(PluginDirError::ReadFile { file, source }),
        };
        let started = std::time::Instant::now();
        let compiled = PluginEngine::precompile_portable(&source).map_err(|source| {
            PluginDirError::Plugin {
                file: file.clone(),
                source,
            }
        })?;
        let seconds = started.elapsed().as_secs_f64();
        let artifact = artifact_of(&runtime);
        let sha256 = hex::encode(Sha256::digest(&source));
        let written = fs::write(&artifact, &compiled)
            .and_then(|()| fs::write(source_of(&artifact), format!("{sha256}\n")));
        written.map_err(|source| PluginDirError::ReadFile {
            file: artifact.display().to_string(),
            source,
        })?;
        done.push(Precompiled {
            language,
            artifact,
            bytes: compiled.len(),
            seconds,
        });
    }
    Ok(done)
}
