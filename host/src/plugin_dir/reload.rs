//! One rescan: compare what the directory holds with what is loaded, compile and prepare only
//! what changed (a few at a time, off the async threads), then publish the whole set at once.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::Component;

use super::compile_cache::CompileCache;
use super::gz::{MAX_DECOMPRESSED_BYTES, gunzip};
use super::runtimes::{Language, RuntimeError, Runtimes};
use super::scan::{self, PluginFormat, PluginFound, PluginKind, SettingsFound};
use super::set::{LoadError, PluginEntry, PluginSet};
use super::{PluginDirError, PluginSource, Shared};
use crate::plugin::{
    LoadedPlugin, MAX_SCRIPT_BYTES, PluginEngine, PluginError, PluginSettings, Script,
};

/// Loads (compile, then one `list-checks` call) under way at once. Each in flight holds a
/// fresh instance while its call runs: unbounded, a few thousand files written at once took the
/// whole instance pool, and loads failed that had nothing wrong with them. Loads are CPU work
/// on a few cores, and a call's deadline counts while it waits for one: more at once would only
/// make them wait past it.
const LOADS_AT_ONCE: usize = 8;
/// From this size on, a compile is logged at `info` with its duration.
const LARGE_MODULE_BYTES: usize = 1 << 20;
/// Tries of a load whose failure is not the plugin's fault ([`is_transient`]).
const LOAD_TRIES: u32 = 3;
/// The wait before the second try; doubled before the third.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Compiles a large module (a language runtime) within bounded memory: one function at a time,
/// straight into its serialized form, which goes to the compile cache and is mapped from there
/// (file-backed pages the kernel can reclaim) or, without a cache, loaded from memory; the
/// allocator gives freed memory back to the system meanwhile.
pub(super) fn compile_large(
    engine: &PluginEngine,
    cache: Option<&CompileCache>,
    sha256: &str,
    wasm: Vec<u8>,
) -> Result<Component, PluginError> {
    let _returning = crate::allocator::PromptReturn::start();
    let artifact = engine.precompile_serial(&wasm);
    drop(wasm);
    let artifact = artifact?;
    let cached = cache.filter(|cache| cache.store_artifact(sha256, &artifact));
    let component = match cached.and_then(|cache| cache.load(engine.wasmtime(), sha256)) {
        Some(component) => Ok(component),
        None => engine.deserialize_own(&artifact),
    };
    drop(artifact);
    component
}

/// Whether a failed load is worth trying again: the host was at a limit (the instance pool,
/// its threads) or the one call of a load ran out of time while the machine was busy.
fn is_transient(error: &PluginDirError) -> bool {
    matches!(
        error,
        PluginDirError::Plugin {
            source: PluginError::Host(_) | PluginError::Timeout,
            ..
        }
    )
}

/// Runs a load step, again (after a short wait) while it fails for a transient reason.
async fn retrying<T, F: Future<Output = Result<T, PluginDirError>>>(
    mut step: impl FnMut() -> F,
) -> Result<T, PluginDirError> {
    let mut tries = 1;
    loop {
        match step().await {
            Err(error) if is_transient(&error) && tries < LOAD_TRIES => {
                tokio::time::sleep(RETRY_AFTER * 2u32.pow(tries - 1)).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// What a loaded version was made from: equal inputs give an equal plugin, so they are not
/// loaded twice (and a version that failed is not retried until a file changes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inputs {
    plugin_sha256: String,
    /// `None`: no settings file, defaults.
    settings_sha256: Option<String>,
}

/// Settings in effect for a service, and the file they came from.
#[derive(Default)]
struct AppliedSettings {
    sha256: Option<String>,
    value: PluginSettings,
}

/// What the reloader remembers about one service between rescans.
struct ServiceState {
    /// What requests see.
    entry: PluginEntry,
    /// Inputs of `entry.plugin`.
    serving: Option<Inputs>,
    /// Inputs of the last load that failed.
    failed: Option<Inputs>,
    /// The last component compiled for this service, by plugin SHA-256: a settings change
    /// prepares it again without compiling.
    compiled: Option<(String, Component)>,
    settings: AppliedSettings,
}

impl ServiceState {
    fn new(file: String) -> Self {
        ServiceState {
            entry: PluginEntry::new(file),
            serving: None,
            failed: None,
            compiled: None,
            settings: AppliedSettings::default(),
        }
    }

    /// Applies the settings file as found by the scan. A file that cannot be read or parsed
    /// leaves the settings in effect unchanged and is reported once.
    fn update_settings(&mut self, service: &str, found: Option<SettingsFound>, shared: &Shared) {
        let changed = match found {
            None => Ok(self
                .settings
                .sha256
                .is_some()
                .then(AppliedSettings::default)),
            Some(SettingsFound { is_toml, read }) => read.and_then(|read| {
                if self.settings.sha256.as_deref() == Some(read.sha256.as_str()) {
                    return Ok(None);
                }
                let value = PluginSettings::parse(&read.bytes, is_toml).map_err(|source| {
                    PluginDirError::Settings {
                        file: read.name,
                        source,
                    }
                })?;
                Ok(Some(AppliedSettings {
                    sha256: Some(read.sha256),
                    value,
                }))
            }),
        };
        match changed {
            Ok(changed) => {
                if let Some(settings) = changed {
                    self.settings = settings;
                }
                self.entry.settings_error = None;
            }
            Err(error) => {
                let message = error.to_string();
                if self.entry.settings_error.as_ref() != Some(&message) {
                    if shared.log_load_errors {
                        tracing::warn!(service, error = %message, "plugin settings rejected; the previous settings stay in effect");
                    }
                    shared.reload_errors.fetch_add(1, Ordering::Relaxed);
                    self.entry.settings_error = Some(message);
                }
            }
        }
    }

    /// Takes in the plugin file as found by the scan; returns the load to run when its
    /// contents or settings changed since the last load (or failed attempt).
    fn plan_load(
        &mut self,
        service: String,
        found: PluginFound,
        shared: &Shared,
    ) -> Option<LoadJob> {
        self.entry.file = found.name;
        let read = match found.read {
            Ok(read) => read,
            Err(error) => {
                self.entry.sha256 = None;
                self.failed = None;
                // Unreadable files are seen again on every rescan: report each error once.
                if self
                    .entry
                    .last_error
                    .as_ref()
                    .is_none_or(|last| last.message != error.to_string())
                {
                    self.record_failure(&service, &error, shared);
                }
                return None;
            }
        };
        let inputs = Inputs {
            plugin_sha256: read.sha256,
            settings_sha256: self.settings.sha256.clone(),
        };
        self.entry.sha256 = Some(inputs.plugin_sha256.clone());
        if self.serving.as_ref() == Some(&inputs) {
            // Back to the version serving (e.g. a broken update reverted). The failed version
            // is forgotten with its error: should it come back, it is tried (and reported) again.
            self.entry.last_error = None;
            self.failed = None;
            return None;
        }
        if self.failed.as_ref() == Some(&inputs) {
            return None;
        }
        let source = match &self.compiled {
            Some((sha256, component)) if *sha256 == inputs.plugin_sha256 => {
                ComponentSource::Compiled(component.clone())
            }
            _ => ComponentSource::File {
                format: found.format,
                bytes: read.bytes,
            },
        };
        Some(LoadJob {
            service,
            file: self.entry.file.clone(),
            inputs,
            source,
            settings: self.settings.value.clone(),
        })
    }

    /// Records that the file on disk failed to load, with one warning and one count.
    fn record_failure(&mut self, service: &str, error: &PluginDirError, shared: &Shared) {
        let message = error.to_string();
        if shared.log_load_errors {
            tracing::warn!(
                service,
                error = %message,
                serving_sha256 = self.entry.loaded_sha256.as_deref().unwrap_or("none"),
                "plugin failed to load; the last good version (if any) keeps serving"
            );
        }
        shared.reload_errors.fetch_add(1, Ordering::Relaxed);
        let since = self
            .entry
            .last_error
            .as_ref()
            .map_or_else(Timestamp::now, |error| error.since);
        let refused_checks = match error {
            PluginDirError::Plugin {
                source: PluginError::NoCheck(refused),
                ..
            } => refused.clone(),
            _ => Vec::new(),
        };
        self.entry.last_error = Some(LoadError {
            message,
            refused_checks,
            since,
        });
    }
}

/// Where a load gets its component.
enum ComponentSource {
    /// Compiled earlier from the same file.
    Compiled(Component),
    /// The file's contents: compile them (or load them from the compile cache).
    File {
        format: PluginFormat,
        bytes: Vec<u8>,
    },
}

/// One plugin to load, with everything it needs, so loads run side by side.
struct LoadJob {
    service: String,
    file: String,
    inputs: Inputs,
    source: ComponentSource,
    settings: PluginSettings,
}

/// A finished load: the component, if it compiled, and the plugin, if it also prepared.
struct LoadResult {
    service: String,
    file: String,
    inputs: Inputs,
    component: Option<Component>,
    plugin: Result<LoadedPlugin, PluginDirError>,
}

/// Keeps the directory's state between rescans and runs them.
pub(crate) struct Reloader {
    source: PluginSource,
    engine: Arc<PluginEngine>,
    cache: Option<Arc<CompileCache>>,
    shared: Arc<Shared>,
    /// Bounds concurrent compiles: each one is CPU-heavy (and itself parallel).
    compile_slots: Arc<Semaphore>,
    /// How many slots there are: a large module's compile takes them all.
    slots: usize,
    runtimes: Runtimes,
    services: BTreeMap<String, ServiceState>,
    next_generation: u64,
}

impl Reloader {
    pub(crate) fn new(
        source: PluginSource,
        engine: Arc<PluginEngine>,
        cache: Option<CompileCache>,
        runtime_dir: Option<PathBuf>,
        shared: Arc<Shared>,
    ) -> Self {
        let slots = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        Reloader {
            slots,
            source,
            engine,
            cache: cache.map(Arc::new),
            shared,
            compile_slots: Arc::new(Semaphore::new(slots)),
            runtimes: Runtimes::new(runtime_dir),
            services: BTreeMap::new(),
            next_generation: 1,
        }
    }

    /// Counts a failed rescan.
    pub(crate) fn count_error(&self) {
        self.shared.reload_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Rescans the directory, loads what changed and publishes the new set. Fails (changing
    /// nothing) only when the directory cannot be listed.
    pub(crate) async fn reload(&mut self) -> Result<(), PluginDirError> {
        let source = self.source.clone();
        let mut scan = tokio::task::spawn_blocking(move || scan::scan_source(&source))
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))?;
        self.services.retain(|service, _| {
            let present = scan.plugins.contains_key(service);
            if !present {
                tracing::info!(service, "plugin removed");
            }
            present
        });
        let mut jobs = Vec::new();
        for (service, found) in scan.plugins {
            let state = self
                .services
                .entry(service.clone())
                .or_insert_with(|| ServiceState::new(found.name.clone()));
            state.update_settings(&service, scan.settings.remove(&service), &self.shared);
            jobs.extend(state.plan_load(service, found, &self.shared));
        }
        let results: Vec<LoadResult> = futures::stream::iter(jobs)
            .map(|job| self.load(job))
            .buffer_unordered(LOADS_AT_ONCE)
            .collect()
            .await;
        for result in results {
            self.apply(result);
        }
        self.publish().await;
        Ok(())
    }

    /// Compiles (unless already compiled) and prepares one plugin, or loads a script on its
    /// language's runtime.
    async fn load(&self, job: LoadJob) -> LoadResult {
        let LoadJob {
            service,
            file,
            inputs,
            source,
            settings,
        } = job;
        let (component, plugin) = match source {
            ComponentSource::Compiled(component) => {
                self.prepare(&service, &file, component, settings).await
            }
            ComponentSource::File {
                format:
                    PluginFormat {
                        kind: PluginKind::Script(language),
                        gzipped,
                    },
                bytes,
            } => (
                None,
                retrying(|| {
                    let (bytes, settings) = (bytes.clone(), settings.clone());
                    let (service, file) = (&service, &file);
                    async move {
                        self.load_script(service, file, language, gzipped, bytes, settings)
                            .await
                    }
                })
                .await,
            ),
            ComponentSource::File { format, bytes } => {
                match self
                    .compile(&file, format.gzipped, &inputs.plugin_sha256, bytes)
                    .await
                {
                    Ok(component) => self.prepare(&service, &file, component, settings).await,
                    Err(error) => (None, Err(error)),
                }
            }
        };
        LoadResult {
            service,
            file,
            inputs,
            component,
            plugin,
        }
    }

    async fn prepare(
        &self,
        service: &str,
        file: &str,
        component: Component,
        settings: PluginSettings,
    ) -> (Option<Component>, Result<LoadedPlugin, PluginDirError>) {
        let plugin = retrying(|| {
            let (settings, component) = (settings.clone(), &component);
            async move {
                self.engine
                    .prepare(service, component, settings)
                    .await
                    .map_err(|source| PluginDirError::Plugin {
                        file: file.to_owned(),
                        source,
                    })
            }
        })
        .await;
        (Some(component), plugin)
    }

    /// Loads a script on its language's runtime (compiled and prepared once, when the first
    /// script of the language loads): one `list-checks` call, nothing compiled.
    async fn load_script(
        &self,
        service: &str,
        file: &str,
        language: Language,
        gzipped: bool,
        bytes: Vec<u8>,
        settings: PluginSettings,
    ) -> Result<LoadedPlugin, PluginDirError> {
        let plugin_error = |source| PluginDirError::Plugin {
            file: file.to_owned(),
            source,
        };
        let bytes = if gzipped {
            gunzip(file, &bytes, MAX_SCRIPT_BYTES as u64)?
        } else {
            bytes
        };
        let script = Script::from_bytes(file, bytes).map_err(plugin_error)?;
        let runtime = self
            .runtimes
            .get(language, async |path| {
                let runtime_file = path.display().to_string();
                let bytes = std::fs::read(&path).map_err(|source| PluginDirError::ReadFile {
                    file: runtime_file.clone(),
                    source,
                })?;
                let sha256 = hex::encode(Sha256::digest(&bytes));
                let component =
                    match super::precompiled::load(self.engine.wasmtime(), &path, &sha256) {
                        Some(component) => component,
                        None => self.compile(&runtime_file, false, &sha256, bytes).await?,
                    };
                let runtime = self.engine.prepare_runtime(&component).map_err(|source| {
                    PluginDirError::Plugin {
                        file: runtime_file,
                        source,
                    }
                })?;
                Ok((sha256, runtime))
            })
            .await
            .map_err(|error| match error {
                RuntimeError::NoDirectory(language) => PluginDirError::NoRuntime {
                    file: file.to_owned(),
                    language: language.name(),
                    path: None,
                },
                RuntimeError::Missing { language, path } => PluginDirError::NoRuntime {
                    file: file.to_owned(),
                    language: language.name(),
                    path: Some(path),
                },
                RuntimeError::Prepare(error) => error,
            })?;
        self.engine
            .load_script(service, &runtime, script, settings)
            .await
            .map_err(plugin_error)
    }

    /// Turns a plugin file into a component on a blocking thread, once a compile slot is free:
    /// from the compile cache when it has this file, else by decompressing and compiling it
    /// (and then caching the result).
    async fn compile(
        &self,
        file: &str,
        gzipped: bool,
        sha256: &str,
        bytes: Vec<u8>,
    ) -> Result<Component, PluginDirError> {
        // A large module compiles alone: its memory is the most any compile may add at once.
        let wanted = match bytes.len() >= LARGE_MODULE_BYTES {
            true => u32::try_from(self.slots).unwrap_or(u32::MAX),
            false => 1,
        };
        let _slots = self
            .compile_slots
            .acquire_many(wanted)
            .await
            .expect("the compile semaphore is never closed");
        let (engine, cache, shared) = (
            Arc::clone(&self.engine),
            self.cache.clone(),
            Arc::clone(&self.shared),
        );
        let (file, sha256, file_name) = (file.to_owned(), sha256.to_owned(), file.to_owned());
        tokio::task::spawn_blocking(move || {
            if let Some(component) = cache
                .as_ref()
                .and_then(|cache| cache.load(engine.wasmtime(), &sha256))
            {
                shared.from_cache.fetch_add(1, Ordering::Relaxed);
                return Ok(component);
            }
            let wasm = match gzipped {
                false => bytes,
                true => gunzip(&file, &bytes, MAX_DECOMPRESSED_BYTES)?,
            };
            // A large module (a language runtime) compiles for seconds: say so, and how long
            // it took; small plugins compile in milliseconds, and say so at debug level.
            let large = wasm.len() >= LARGE_MODULE_BYTES;
            if large {
                tracing::info!(
                    file,
                    bytes = wasm.len(),
                    "compiling (takes seconds; not ready until done)"
                );
            } else {
                tracing::debug!(file, bytes = wasm.len(), "compiling");
            }
            let started = std::time::Instant::now();
            let compiled = match large {
                true => compile_large(&engine, cache.as_deref(), &sha256, wasm),
                false => engine.compile(&wasm),
            };
            let seconds = started.elapsed().as_secs_f64();
            let component = compiled.map_err(|source| PluginDirError::Plugin {
                file: file.clone(),
                source,
            })?;
            if large {
                tracing::info!(file, seconds, "compiled");
            } else {
                tracing::debug!(file, seconds, "compiled");
            }
            shared.compiled.fetch_add(1, Ordering::Relaxed);
            if let (Some(cache), false) = (&cache, large) {
                cache.store(&sha256, &component);
            }
            Ok(component)
        })
        .await
        .unwrap_or_else(|failed| {
            let reason = match failed.try_into_panic() {
                Ok(panic) => crate::plugin::panic_text(panic.as_ref()),
                Err(failed) => failed.to_string(),
            };
            Err(PluginDirError::Plugin {
                file: file_name,
                source: PluginError::Host(format!("compiling failed: {reason}")),
            })
        })
    }

    /// Records a finished load in its service's state.
    fn apply(&mut self, result: LoadResult) {
        let LoadResult {
            service,
            file,
            inputs,
            component,
            plugin,
        } = result;
        let state = self
            .services
            .get_mut(&service)
            .expect("services are only removed before loads start");
        if let Some(component) = component {
            state.compiled = Some((inputs.plugin_sha256.clone(), component));
        }
        match plugin {
            Ok(plugin) => {
                tracing::info!(
                    service,
                    file,
                    sha256 = inputs.plugin_sha256,
                    checks = plugin.checks().len(),
                    "plugin loaded"
                );
                if self.shared.log_load_errors {
                    for warning in plugin.warnings() {
                        tracing::warn!(service, file, "{warning}");
                    }
                }
                let entry = &mut state.entry;
                entry.plugin = Some(Arc::new(plugin));
                entry.generation = self.next_generation;
                self.next_generation += 1;
                entry.loaded_sha256 = Some(inputs.plugin_sha256.clone());
                entry.loaded_at = Some(Timestamp::now());
                entry.last_error = None;
                state.serving = Some(inputs);
                state.failed = None;
            }
            Err(error) => {
                state.record_failure(&service, &error, &self.shared);
                // A transient failure is tried again at the next change of the directory; any
                // other waits for the file (or its settings) to change.
                state.failed = (!is_transient(&error)).then_some(inputs);
            }
        }
    }

    /// Swaps in the new set, then drops cache entries no plugin uses any more.
    async fn publish(&self) {
        let entries = self
            .services
            .iter()
            .map(|(service, state)| (service.clone(), state.entry.clone()))
            .collect();
        self.shared.set.store(Arc::new(PluginSet::new(entries)));
        if let Some(cache) = &self.cache {
            let mut in_use: HashSet<String> = self
                .services
                .values()
                .filter_map(|state| Some(state.compiled.as_ref()?.0.clone()))
                .collect();
            in_use.extend(self.runtimes.sha256s().await);
            let cache = Arc::clone(cache);
            let _ = tokio::task::spawn_blocking(move || cache.prune(&in_use)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The reloader's state machine, one rescan at a time: a temporary plugin directory, the
    //! engine and [`Reloader::reload`] called directly (no watcher, no debounce, no server). The
    //! plugins are the `answer` fixture (WebAssembly text, which the engine reads whatever the
    //! file is called), one version per four-character answer.

    use std::sync::LazyLock;

    use rstest::rstest;

    use super::*;
    use crate::plugin::Outcome;

    static ENGINE: LazyLock<Arc<PluginEngine>> =
        LazyLock::new(|| Arc::new(PluginEngine::new().expect("the plugin engine starts")));

    /// The `answer` plugin answering `answer` (four characters), as WebAssembly text.
    fn answer_plugin(answer: &str) -> Vec<u8> {
        assert_eq!(answer.len(), 4, "the fixture's answer is four bytes");
        include_str!("../../tests/fixtures/reload/answer.wat")
            .replace("\"v000\"", &format!("\"{answer}\""))
            .into_bytes()
    }

    fn sha256(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// A plugin directory and its reloader, rescanned on demand.
    struct Fixture {
        dir: tempfile::TempDir,
        shared: Arc<Shared>,
        reloader: Reloader,
    }

    impl Fixture {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let shared = Arc::new(Shared {
                log_load_errors: true,
                ..Shared::default()
            });
            let reloader = Reloader::new(
                PluginSource::Directory(dir.path().to_owned()),
                Arc::clone(&ENGINE),
                None,
                None,
                Arc::clone(&shared),
            );
            Fixture {
                dir,
                shared,
                reloader,
            }
        }

        fn path(&self, name: &str) -> std::path::PathBuf {
            self.dir.path().join(name)
        }

        fn write(&self, name: &str, bytes: impl AsRef<[u8]>) {
            std::fs::write(self.path(name), bytes).unwrap();
        }

        fn remove(&self, name: &str) {
            std::fs::remove_file(self.path(name)).unwrap();
        }

        async fn rescan(&mut self) {
            self.reloader.reload().await.expect("the directory rescans");
        }

        fn services(&self) -> Vec<String> {
            self.shared
                .set
                .load()
                .services()
                .map(str::to_owned)
                .collect()
        }

        fn entry(&self, service: &str) -> PluginEntry {
            self.shared
                .set
                .load()
                .get(service)
                .cloned()
                .unwrap_or_else(|| panic!("no entry for {service}"))
        }

        /// What the serving version of `service` answers.
        async fn answer(&self, service: &str) -> String {
            let plugin = self.entry(service).plugin.expect("a plugin serves");
            match plugin.run("answer", &[]).await.expect("the check runs") {
                Outcome::Raw(value) => value,
                other => panic!("expected a raw answer, got {other:?}"),
            }
        }

        fn compiled(&self) -> u64 {
            self.shared.compiled.load(Ordering::Relaxed)
        }

        fn errors(&self) -> u64 {
            self.shared.reload_errors.load(Ordering::Relaxed)
        }

        fn error_message(&self, service: &str) -> Option<String> {
            self.entry(service).last_error.map(|error| error.message)
        }
    }

    fn cache_ttl(entry: &PluginEntry) -> Duration {
        entry.plugin.as_ref().unwrap().settings().cache_ttl
    }

    #[tokio::test]
    async fn a_plugin_is_added_changed_broken_reverted_fixed_and_removed() {
        let mut dir = Fixture::new();
        dir.rescan().await;
        assert_eq!(dir.services(), Vec::<String>::new());

        // Added: loaded, first generation.
        let v001 = answer_plugin("v001");
        dir.write("shop.wasm", &v001);
        dir.rescan().await;
        assert_eq!(dir.services(), ["shop"]);
        let entry = dir.entry("shop");
        assert_eq!((entry.generation, entry.file.as_str()), (1, "shop.wasm"));
        assert_eq!(entry.sha256.as_deref(), Some(sha256(&v001).as_str()));
        assert_eq!(entry.loaded_sha256, entry.sha256);
        assert!(entry.loaded_at.is_some());
        assert_eq!(entry.last_error, None);
        assert_eq!(dir.answer("shop").await, "v001");

        // Unchanged: nothing is loaded again.
        dir.rescan().await;
        assert_eq!(dir.entry("shop").generation, 1);
        assert_eq!(dir.compiled(), 1);

        // Changed: a new generation serves.
        let v002 = answer_plugin("v002");
        dir.write("shop.wasm", &v002);
        dir.rescan().await;
        assert_eq!(dir.entry("shop").generation, 2);
        assert_eq!(dir.answer("shop").await, "v002");

        // Broken: the last good version keeps serving, the error says why, once.
        let broken = b"\xffnot a plugin";
        dir.write("shop.wasm", broken);
        dir.rescan().await;
        let entry = dir.entry("shop");
        let entry_error = entry.last_error.as_ref().map(|error| error.message.clone());
        assert_eq!(
            entry.last_error.as_ref().unwrap().message,
            "shop.wasm: not a WebAssembly component: neither a WebAssembly binary (no `\\0asm` \
             header) nor WebAssembly text"
        );
        assert_eq!(entry.sha256.as_deref(), Some(sha256(broken).as_str()));
        assert_eq!(entry.loaded_sha256.as_deref(), Some(sha256(&v002).as_str()));
        assert_eq!(entry.generation, 2);
        assert_eq!(dir.answer("shop").await, "v002");
        assert_eq!(dir.errors(), 1);
        let compiled = dir.compiled();

        // The same broken file is not tried again, nor reported again.
        dir.rescan().await;
        assert_eq!(dir.entry("shop").last_error, entry.last_error);
        assert_eq!((dir.errors(), dir.compiled()), (1, compiled));

        // Reverted to the version serving: the error clears, nothing loads.
        dir.write("shop.wasm", &v002);
        dir.rescan().await;
        let entry = dir.entry("shop");
        assert_eq!((entry.last_error, entry.generation), (None, 2));
        assert_eq!(entry.sha256, entry.loaded_sha256);

        // The same broken file again: reported again (not taken for the failure forgotten on
        // the revert), then fixed by a new version.
        dir.write("shop.wasm", broken);
        dir.rescan().await;
        assert_eq!(
            dir.entry("shop").last_error.map(|error| error.message),
            entry_error
        );
        assert_eq!(dir.errors(), 2);
        dir.write("shop.wasm", answer_plugin("v003"));
        dir.rescan().await;
        let entry = dir.entry("shop");
        assert_eq!((entry.last_error, entry.generation), (None, 3));
        assert_eq!(dir.answer("shop").await, "v003");

        // Removed: gone.
        dir.remove("shop.wasm");
        dir.rescan().await;
        assert_eq!(dir.services(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn plugins_keep_their_own_state_and_generations_count_across_them() {
        let mut dir = Fixture::new();
        dir.write("web.wasm", answer_plugin("w001"));
        dir.write("api.wasm", answer_plugin("a001"));
        dir.write(".hidden.wasm", answer_plugin("nope"));
        dir.rescan().await;
        assert_eq!(dir.services(), ["api", "web"]);
        let mut generations = [dir.entry("api").generation, dir.entry("web").generation];
        generations.sort_unstable();
        assert_eq!(generations, [1, 2], "each load takes the next generation");

        dir.write("web.wasm", answer_plugin("w002"));
        dir.write("api.wasm", b"broken");
        dir.rescan().await;
        assert_eq!(dir.entry("web").generation, 3);
        assert_eq!(dir.answer("web").await, "w002");
        assert!(dir.error_message("api").is_some());
        assert_eq!(dir.answer("api").await, "a001");
        assert_eq!(dir.entry("web").last_error, None);

        dir.remove("api.wasm");
        dir.rescan().await;
        assert_eq!(dir.services(), ["web"]);
        // A plugin that comes back starts afresh, with the next generation.
        dir.write("api.wasm", answer_plugin("a001"));
        dir.rescan().await;
        let entry = dir.entry("api");
        assert_eq!((entry.generation, entry.last_error), (4, None));
    }

    #[tokio::test]
    async fn settings_changes_prepare_again_without_compiling_and_bad_settings_keep_the_last() {
        let mut dir = Fixture::new();
        dir.write("web.wasm", answer_plugin("v001"));
        dir.write("web.toml", "cache_seconds = 5\n");
        dir.rescan().await;
        let first = dir.entry("web");
        assert_eq!(cache_ttl(&first), Duration::from_secs(5));

        // New settings: a new generation of the same component, not compiled again.
        dir.write("web.toml", "cache_seconds = 7\n");
        dir.rescan().await;
        let second = dir.entry("web");
        assert_eq!(cache_ttl(&second), Duration::from_secs(7));
        assert_eq!(second.generation, first.generation + 1);
        assert_eq!(dir.compiled(), 1);

        // Bad settings: reported once; the settings in effect and the plugin stay.
        dir.write("web.toml", "cache_seconds = \"soon\"\n");
        dir.rescan().await;
        dir.rescan().await;
        let rejected = dir.entry("web");
        let error = rejected.settings_error.clone().unwrap();
        assert!(
            error.starts_with("web.toml: invalid plugin settings: "),
            "{error}"
        );
        assert_eq!(rejected.generation, second.generation);
        assert_eq!(cache_ttl(&rejected), Duration::from_secs(7));
        assert_eq!(rejected.last_error, None);
        assert_eq!(dir.errors(), 1);

        // The same settings again: the error clears, nothing reloads.
        dir.write("web.toml", "cache_seconds = 7\n");
        dir.rescan().await;
        let restored = dir.entry("web");
        assert_eq!(restored.settings_error, None);
        assert_eq!(restored.generation, second.generation);

        // No settings file: the defaults, in a new generation.
        dir.remove("web.toml");
        dir.rescan().await;
        let defaults = dir.entry("web");
        assert_eq!(cache_ttl(&defaults), Duration::from_secs(10));
        assert_eq!(defaults.generation, second.generation + 1);

        // Settings in JSON work alike.
        dir.write("web.json", r#"{"cache_seconds": 3}"#);
        dir.rescan().await;
        assert_eq!(cache_ttl(&dir.entry("web")), Duration::from_secs(3));
        assert_eq!(dir.compiled(), 1);
    }

    #[tokio::test]
    async fn a_plugin_that_failed_loads_again_when_its_settings_change() {
        let mut dir = Fixture::new();
        dir.write("web.wasm", b"broken");
        dir.rescan().await;
        assert!(dir.error_message("web").is_some());
        assert!(dir.entry("web").plugin.is_none());

        // A new settings file changes the inputs: the (still broken) file is tried again.
        dir.write("web.toml", "cache_seconds = 5\n");
        dir.rescan().await;
        assert_eq!(dir.errors(), 2);

        dir.write("web.wasm", answer_plugin("v001"));
        dir.rescan().await;
        let entry = dir.entry("web");
        assert_eq!((entry.last_error, entry.generation), (None, 1));
        assert_eq!(cache_ttl(&dir.entry("web")), Duration::from_secs(5));
    }

    /// The `answer` plugin with its one check renamed `health` (reserved for the built-in check).
    fn reserved_check_plugin() -> Vec<u8> {
        String::from_utf8(answer_plugin("v001"))
            .unwrap()
            .replace("(i32.const 0) \"answer\"", "(i32.const 0) \"health\"")
            .into_bytes()
    }

    /// Files that never load: each is an entry with its error (reported once, however many
    /// rescans see it) and no plugin, until a file changes.
    #[rstest]
    #[case::not_wasm(
        vec![("web.wasm", b"\0asm but not really".to_vec())],
        "web.wasm: not a WebAssembly component: "
    )]
    #[case::only_a_reserved_check(
        vec![("web.wasm", reserved_check_plugin())],
        "web.wasm: the plugin offers no check it can serve: check `health` is reserved"
    )]
    #[case::script_without_runtimes(
        vec![("web.py", b"from kube_shields import check\n".to_vec())],
        "web.py: no Python runtime: build the runtimes with scripts/build-runtimes.sh"
    )]
    #[case::not_gzip(
        vec![("web.wasm.gz", b"not gzip".to_vec())],
        "web.wasm.gz is not valid gzip: "
    )]
    #[case::two_files_for_one_service(
        vec![("web.wasm", answer_plugin("v001")), ("web.wasm.gz", Vec::new())],
        "both web.wasm"
    )]
    #[tokio::test]
    async fn a_file_that_does_not_load_is_an_entry_with_its_error(
        #[case] files: Vec<(&str, Vec<u8>)>,
        #[case] message: &str,
    ) {
        let mut dir = Fixture::new();
        for (name, bytes) in &files {
            dir.write(name, bytes);
        }
        dir.rescan().await;
        dir.rescan().await;
        let entry = dir.entry("web");
        let error = entry.last_error.expect("an error");
        assert!(error.message.starts_with(message), "{}", error.message);
        assert!(entry.plugin.is_none());
        assert_eq!(dir.errors(), 1);
    }
}
