//! The plugin directory (`--plugins DIR`): every `<service>.wasm` (or `.wasm.gz`) in it loaded
//! at start, then kept live as the directory changes, typically a mounted ConfigMap.
//!
//! A change (the kubelet's atomic `..data` rename, or a plain write in a local directory) is
//! debounced ([`crate::changes`]), the directory is read again ([`scan`]), plugins whose contents changed
//! are compiled off the request path ([`reload`], [`compile_cache`], [`gz`]) and the whole
//! [`PluginSet`] is swapped at once. A plugin that fails to load keeps its last good version
//! serving, with the error shown in its [`PluginEntry`].

mod compile_cache;
pub(crate) mod gz;
mod precompiled;
mod reload;
mod runtimes;
mod scan;
mod set;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use tokio::task::AbortHandle;

use crate::plugin::{PluginEngine, PluginError};

pub use precompiled::{Precompiled, precompile};
pub use runtimes::{Language, prepare_runtime_cached};
pub(crate) use scan::is_settings_of;
pub use set::{LoadError, PluginEntry, PluginSet};

/// Why the plugin directory, or one of its files, cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PluginDirError {
    /// The plugin directory cannot be listed.
    #[error("cannot read plugin directory {dir}: {source}")]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The plugin directory is a file.
    #[error("plugin directory {dir} is not a directory")]
    NotADirectory {
        /// The path given.
        dir: PathBuf,
    },
    /// The plugin directory cannot be watched for changes.
    #[error("cannot watch plugin directory {dir}: {source}")]
    Watch {
        /// The directory.
        dir: PathBuf,
        /// The watcher's error.
        source: notify::Error,
    },
    /// The compile cache directory cannot be created or read.
    #[error("cannot use compile cache directory {dir} (--cache-dir, CACHE_DIR): {source}")]
    CacheDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The compile cache directory could be written by someone else.
    #[error(
        "compile cache directory {dir} (--cache-dir, CACHE_DIR) cannot hold compiled plugins, which \
         run as code: {reason}; use a directory of this user's own, e.g. a new subdirectory (it is \
         created owner-only)"
    )]
    CacheDirUnsafe {
        /// The cache directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The compile cache directory is the plugin directory or inside it.
    #[error(
        "compile cache directory {dir} is inside the plugin directory; use a directory of its own"
    )]
    CacheInPluginDir {
        /// The cache directory.
        dir: PathBuf,
    },
    /// A plugin or settings file cannot be read.
    #[error("cannot read {file}: {source}")]
    ReadFile {
        /// The file name.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A plugin or settings file is a symlink to a file outside the plugin directory.
    #[error(
        "{file} is a link to a file outside the plugin directory; refused unread (ConfigMap keys link \
         inside it)"
    )]
    OutsideDirectory {
        /// The file name.
        file: String,
    },
    /// Two files claim one service, e.g. `web.wasm` and `web.wasm.gz`.
    #[error("both {file} and {other} exist; keep one")]
    Ambiguous {
        /// One file.
        file: String,
        /// The other.
        other: String,
    },
    /// A `.wasm.gz` file is not gzip.
    #[error("{file} is not valid gzip: {source}")]
    Gzip {
        /// The file name.
        file: String,
        /// The decompressor's error.
        source: std::io::Error,
    },
    /// A `.wasm.gz` file expands beyond the cap.
    #[error("{file} decompresses to more than {limit_mib} MiB")]
    TooLarge {
        /// The file name.
        file: String,
        /// The cap, in MiB.
        limit_mib: u64,
    },
    /// The engine refused a plugin (not wasm, wrong world, failing `list-checks`, ...).
    #[error("{file}: {source}")]
    Plugin {
        /// The file name.
        file: String,
        /// The engine's error.
        source: PluginError,
    },
    /// A script's language runtime is not in the runtime directory.
    #[error(
        "{file}: no {language} runtime{}: build the runtimes with scripts/build-runtimes.sh, or point \
         --runtime-dir (RUNTIME_DIR) at them",
        path.as_ref().map(|path| format!(" at {}", path.display())).unwrap_or_default()
    )]
    NoRuntime {
        /// The script's file name.
        file: String,
        /// The language, e.g. `Python`.
        language: &'static str,
        /// Where the runtime was looked for; `None` without a runtime directory.
        path: Option<PathBuf>,
    },
    /// A settings file is not valid settings.
    #[error("{file}: {source}")]
    Settings {
        /// The file name.
        file: String,
        /// The parse error.
        source: PluginError,
    },
}

/// Where plugins come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// `--plugins DIR`: every plugin in it, kept live as it changes.
    Directory(PathBuf),
    /// One plugin file for one service, read once (`kube-shields check`).
    File {
        /// The plugin file (`.wasm`, `.wasm.gz`, `.wat`).
        path: PathBuf,
        /// The service it runs for.
        service: String,
        /// The settings file; `None`: `<service>.toml` or `.json` beside the plugin, if any.
        settings: Option<PathBuf>,
    },
}

/// How plugins were turned into code since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileCounts {
    /// Compiled from their wasm.
    pub compiled: u64,
    /// Loaded from the compile cache instead.
    pub from_cache: u64,
}

/// What the reload task shares with request handlers.
#[derive(Default)]
struct Shared {
    /// Whether load failures are logged here; the `check` command reports them itself.
    log_load_errors: bool,
    set: ArcSwap<PluginSet>,
    loaded: AtomicBool,
    reload_errors: AtomicU64,
    /// Rescans that panicked (a bug, or bytes no parser expected) and were survived.
    reload_panics: AtomicU64,
    compiled: AtomicU64,
    from_cache: AtomicU64,
}

/// The live plugin directory: a shared handle to the current [`PluginSet`]. Dropping it stops
/// the watch.
pub struct PluginDir {
    shared: Arc<Shared>,
    /// Keeps the directory watched; `None` for [`PluginDir::empty`].
    _watcher: Option<notify::RecommendedWatcher>,
    reload_task: Option<AbortHandle>,
}

impl PluginDir {
    /// Loads every plugin of `source` (compiling a few at a time, or loading them from
    /// `cache_dir`; scripts on the language runtimes of `runtime_dir`); a directory is then
    /// watched for changes. Plugins that fail to load are reported in the set, not here: this
    /// fails only when the directory (or `cache_dir`) is unusable.
    pub async fn open(
        source: PluginSource,
        engine: Arc<PluginEngine>,
        cache_dir: Option<PathBuf>,
        runtime_dir: Option<PathBuf>,
    ) -> Result<Arc<PluginDir>, PluginDirError> {
        Self::open_loading(source, engine, cache_dir, runtime_dir, FirstLoad::Wait).await
    }

    /// Like [`open`](Self::open), but returns as soon as the directory and the cache are
    /// usable: the first load (compiles of plugins and runtimes, which take seconds) goes on in
    /// the background, and [`is_loaded`](Self::is_loaded) says when it is done. The server
    /// listens meanwhile, so liveness probes pass while it compiles.
    pub async fn start(
        source: PluginSource,
        engine: Arc<PluginEngine>,
        cache_dir: Option<PathBuf>,
        runtime_dir: Option<PathBuf>,
    ) -> Result<Arc<PluginDir>, PluginDirError> {
        Self::open_loading(
            source,
            engine,
            cache_dir,
            runtime_dir,
            FirstLoad::Background,
        )
        .await
    }

    async fn open_loading(
        source: PluginSource,
        engine: Arc<PluginEngine>,
        cache_dir: Option<PathBuf>,
        runtime_dir: Option<PathBuf>,
        first_load: FirstLoad,
    ) -> Result<Arc<PluginDir>, PluginDirError> {
        if let PluginSource::Directory(dir) = &source {
            let metadata = std::fs::metadata(dir).map_err(|source| PluginDirError::Directory {
                dir: dir.clone(),
                source,
            })?;
            if !metadata.is_dir() {
                return Err(PluginDirError::NotADirectory { dir: dir.clone() });
            }
        }
        let cache = cache_dir
            .map(|cache_dir| {
                let watched = match &source {
                    PluginSource::Directory(dir) => Some(dir.as_path()),
                    PluginSource::File { .. } => None,
                };
                compile_cache::CompileCache::open(&cache_dir, watched, engine.wasmtime())
            })
            .transpose()?;
        // Watching starts before the first scan, so a change made during it is not missed.
        let watch = match &source {
            PluginSource::Directory(dir) => Some(
                crate::changes::watch_dir(dir, scan::is_relevant).map_err(|source| {
                    PluginDirError::Watch {
                        dir: dir.clone(),
                        source,
                    }
                })?,
            ),
            PluginSource::File { .. } => None,
        };
        let log_load_errors = matches!(source, PluginSource::Directory(_));
        let shared = Arc::new(Shared {
            log_load_errors,
            ..Shared::default()
        });
        let mut reloader =
            reload::Reloader::new(source, engine, cache, runtime_dir, Arc::clone(&shared));
        let background = match first_load {
            FirstLoad::Wait => {
                if let Some(Err(error)) = supervised(reloader.reload(), &shared).await {
                    return Err(error);
                }
                shared.loaded.store(true, Ordering::Release);
                false
            }
            FirstLoad::Background => true,
        };
        let (watcher, reload_task) = match watch {
            Some((watcher, mut changes)) => {
                let shared = Arc::clone(&shared);
                let task = tokio::spawn(async move {
                    if background {
                        let started = std::time::Instant::now();
                        if let Some(Err(error)) = supervised(reloader.reload(), &shared).await {
                            reloader.count_error();
                            tracing::warn!(%error, "plugin directory scan failed; serving no plugins until it changes");
                        }
                        shared.loaded.store(true, Ordering::Release);
                        tracing::info!(
                            plugins = shared.set.load().services().count(),
                            seconds = started.elapsed().as_secs_f64(),
                            "plugins loaded"
                        );
                    }
                    while crate::changes::next_burst(&mut changes).await {
                        if let Some(Err(error)) = supervised(reloader.reload(), &shared).await {
                            reloader.count_error();
                            tracing::warn!(%error, "plugin directory rescan failed; keeping the current plugins");
                        }
                    }
                });
                (Some(watcher), Some(task.abort_handle()))
            }
            None => {
                if background {
                    // Nothing to watch (one file): the load itself is all there is to do.
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let _ = supervised(reloader.reload(), &shared).await;
                        shared.loaded.store(true, Ordering::Release);
                    });
                }
                (None, None)
            }
        };
        Ok(Arc::new(PluginDir {
            shared,
            _watcher: watcher,
            reload_task,
        }))
    }

    /// No plugin directory (`--plugins` not given): no plugins, and nothing to wait for.
    pub fn empty() -> Arc<PluginDir> {
        let shared = Shared::default();
        shared.loaded.store(true, Ordering::Release);
        Arc::new(PluginDir {
            shared: Arc::new(shared),
            _watcher: None,
            reload_task: None,
        })
    }

    /// The plugins now: a snapshot that later reloads do not change. A guard rather than an
    /// `Arc`: reading it on every request then writes to no shared reference count.
    pub fn current(&self) -> arc_swap::Guard<Arc<PluginSet>> {
        self.shared.set.load()
    }

    /// Whether the first scan has loaded (or failed to load) every plugin and the directory is
    /// still watched, for `/readyz`: a server whose plugins can no longer change is not ready.
    pub fn is_loaded(&self) -> bool {
        self.shared.loaded.load(Ordering::Acquire)
            && self
                .reload_task
                .as_ref()
                .is_none_or(|task| !task.is_finished())
    }

    /// How many rescans panicked since the start (each logged, the plugins then serving kept).
    pub fn reload_panics(&self) -> u64 {
        self.shared.reload_panics.load(Ordering::Relaxed)
    }

    /// How many plugin or settings loads (and rescans) have failed since the start.
    pub fn reload_errors(&self) -> u64 {
        self.shared.reload_errors.load(Ordering::Relaxed)
    }

    /// How many plugins were compiled and how many came from the compile cache since the start.
    pub fn compile_counts(&self) -> CompileCounts {
        CompileCounts {
            compiled: self.shared.compiled.load(Ordering::Relaxed),
            from_cache: self.shared.from_cache.load(Ordering::Relaxed),
        }
    }
}

/// Whether opening waits for the first load of every plugin.
#[derive(Clone, Copy)]
enum FirstLoad {
    Wait,
    Background,
}

/// Runs one rescan so that a panic anywhere in it ends that rescan only: it is logged and
/// counted, the plugins then serving stay, and the task that keeps the directory live goes on
/// to the next change. `None`: it panicked.
async fn supervised<T>(rescan: impl Future<Output = T>, shared: &Shared) -> Option<T> {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(rescan).catch_unwind().await {
        Ok(result) => Some(result),
        Err(panic) => {
            shared.reload_panics.fetch_add(1, Ordering::Relaxed);
            shared.reload_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                panic = crate::plugin::panic_text(panic.as_ref()),
                "plugin directory rescan panicked; keeping the current plugins, watching on"
            );
            None
        }
    }
}

impl Drop for PluginDir {
    fn drop(&mut self) {
        if let Some(task) = &self.reload_task {
            task.abort();
        }
    }
}
