//! The language runtimes that run scripts (`<service>.py`, `<service>.js`): components built by
//! `scripts/build-runtimes.sh` into the runtime directory, each compiled (or taken from the
//! compile cache) and prepared once, the first time a script of its language loads. A script
//! change never compiles anything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::PluginDirError;
use super::compile_cache::CompileCache;
use crate::language::Lang;
use crate::plugin::{PluginEngine, PreparedRuntime};

/// A language scripts can be written in: a language of the language table ([`Lang`]) that has
/// a runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// `<service>.py`, run by CPython (componentize-py).
    Python,
    /// `<service>.js`, run by QuickJS.
    JavaScript,
}

impl Language {
    /// Every language, in the order runtimes are listed.
    pub const ALL: [Language; 2] = [Language::Python, Language::JavaScript];

    /// The language's row of the language table.
    pub fn lang(self) -> Lang {
        match self {
            Language::Python => Lang::Python,
            Language::JavaScript => Lang::Js,
        }
    }

    /// The runtime component's file in the runtime directory.
    pub fn runtime_file(self) -> &'static str {
        self.lang()
            .spec()
            .runtime
            .expect("a script language has a runtime in the language table")
    }

    /// A script's extension (`py` for `<service>.py`).
    pub fn extension(self) -> &'static str {
        self.lang().spec().extension
    }

    /// The language's name, for messages.
    pub fn name(self) -> &'static str {
        self.lang().spec().name
    }
}

/// The runtime directory and the runtimes prepared from it so far.
pub(crate) struct Runtimes {
    dir: Option<PathBuf>,
    /// By language: the runtime file's SHA-256 (its compile cache entry) and the runtime.
    prepared: Mutex<HashMap<Language, (String, PreparedRuntime)>>,
}

impl Runtimes {
    pub(crate) fn new(dir: Option<PathBuf>) -> Self {
        Runtimes {
            dir,
            prepared: Mutex::default(),
        }
    }

    /// The prepared runtime of `language`, preparing it with `prepare` (given the runtime
    /// file's path; answering its SHA-256 and the runtime) the first time. A failure is not
    /// kept: a runtime built later is found.
    pub(crate) async fn get<E>(
        &self,
        language: Language,
        prepare: impl AsyncFnOnce(PathBuf) -> Result<(String, PreparedRuntime), E>,
    ) -> Result<PreparedRuntime, RuntimeError<E>> {
        // Held while preparing, so scripts loading side by side compile the runtime once.
        let mut prepared = self.prepared.lock().await;
        if let Some((_, runtime)) = prepared.get(&language) {
            return Ok(runtime.clone());
        }
        let dir = self
            .dir
            .as_ref()
            .ok_or(RuntimeError::NoDirectory(language))?;
        let path = dir.join(language.runtime_file());
        if !path.is_file() {
            return Err(RuntimeError::Missing { language, path });
        }
        let (sha256, runtime) = prepare(path).await.map_err(RuntimeError::Prepare)?;
        prepared.insert(language, (sha256, runtime.clone()));
        Ok(runtime)
    }

    /// The SHA-256 of every runtime prepared: compile cache entries still in use.
    pub(crate) async fn sha256s(&self) -> Vec<String> {
        self.prepared
            .lock()
            .await
            .values()
            .map(|(sha256, _)| sha256.clone())
            .collect()
    }
}

/// Why a script's runtime is not there.
#[derive(Debug)]
pub(crate) enum RuntimeError<E> {
    /// No runtime directory is configured.
    NoDirectory(Language),
    /// The runtime file is not in the runtime directory.
    Missing { language: Language, path: PathBuf },
    /// The runtime file did not compile or prepare.
    Prepare(E),
}

/// The language runtime at `path`, compiled through the compile cache at `cache_dir` as a server
/// compiles it for its first script (the same artifact, so each maps what the other compiled):
/// mapped from the cache when it has this runtime, else compiled one function at a time and
/// cached. The cache is opened shared, so nothing in it is removed. Blocking: seconds of CPU on a
/// miss. For running scripts on a runtime without a plugin directory (the integration tests, which
/// compile the Python runtime once per machine instead of once per run).
pub fn prepare_runtime_cached(
    engine: &PluginEngine,
    path: &Path,
    cache_dir: &Path,
) -> Result<PreparedRuntime, PluginDirError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PluginDirError::ReadFile {
        file: file.clone(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let cache = CompileCache::open(cache_dir, None, engine.wasmtime())?;
    let component = match cache.load(engine.wasmtime(), &sha256) {
        Some(component) => Ok(component),
        None => super::reload::compile_large(engine, Some(&cache), &sha256, bytes),
    };
    component
        .and_then(|component| engine.prepare_runtime(&component))
        .map_err(|source| PluginDirError::Plugin { file, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script languages are the table's languages with a runtime, each once.
    #[test]
    fn the_script_languages_are_the_tables_languages_with_a_runtime() {
        let with_runtime: Vec<Lang> = Lang::ALL
            .into_iter()
            .filter(|lang| lang.spec().runtime.is_some())
            .collect();
        let scripts: Vec<Lang> = Language::ALL.into_iter().map(Language::lang).collect();
        assert_eq!(scripts, with_runtime);
        for language in Language::ALL {
            assert!(!language.runtime_file().is_empty(), "{language:?}");
        }
    }
}
