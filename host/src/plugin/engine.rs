//! The process-wide plugin engine: compiles plugins and prepares them for calls.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::CheckPluginPre;
use super::error::PluginError;
use super::loaded::LoadedPlugin;
use super::sandbox::{self, CallState};
use super::script::{PreparedRuntime, Script};
use super::settings::PluginSettings;
use super::threads::PluginThreads;

/// The interface a check plugin must export. Export lookup is semver-compatible: a plugin
/// built against any `0.1.x` of the package matches.
const CHECKS_INTERFACE: &str = "kube-shields:plugin/checks@0.1.3";
/// How often the epoch advances: the granularity of deadlines and of yields to the executor.
const EPOCH_TICK: Duration = Duration::from_millis(10);

const WASM_MAGIC: &[u8; 4] = b"\0asm";
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Compiles and prepares check plugins; one per process.
///
/// Holds the wasmtime engine (epoch interruption on, advanced by a ticker thread that ends
/// when the engine is gone) and the linkers with every import a plugin, or a language
/// runtime (which may also import `script`), may use.
pub struct PluginEngine {
    engine: Engine,
    /// The same settings, compiling one function at a time: for large modules (see
    /// [`PluginEngine::precompile_serial`]).
    serial: Engine,
    linker: Linker<CallState>,
    runtime_linker: Linker<CallState>,
    threads: PluginThreads,
}

impl PluginEngine {
    /// [`PluginEngine::with_cpus`] with [`default_plugin_cpus`](super::default_plugin_cpus).
    pub fn new() -> Result<Self, PluginError> {
        Self::with_cpus(super::default_plugin_cpus())
    }

    /// Sets up the engine, the linker, the epoch ticker and `cpus` threads plugin calls
    /// execute on (see `threads.rs` for why).
    pub fn with_cpus(cpus: usize) -> Result<Self, PluginError> {
        let engine = Engine::new(&engine_config()).map_err(host_error)?;
        let serial =
            Engine::new(engine_config().parallel_compilation(false)).map_err(host_error)?;
        let linker = sandbox::linker(&engine, false).map_err(host_error)?;
        let runtime_linker = sandbox::linker(&engine, true).map_err(host_error)?;
        start_epoch_ticker(&engine)?;
        Ok(PluginEngine {
            engine,
            serial,
            linker,
            runtime_linker,
            threads: PluginThreads::new(cpus)?,
        })
    }

    /// Compiles a component, a core module with an embedded component type (encoded into a
    /// component here) or WebAssembly text. CPU heavy: run it off the async path.
    pub fn compile(&self, bytes: &[u8]) -> Result<Component, PluginError> {
        compile(&self.engine, bytes)
    }

    /// Compiles what [`compile`](Self::compile) takes, one function at a time, into the
    /// serialized form (the compile cache's artifact), for this engine to map or load.
    ///
    /// For large modules: compiling the Python runtime (20 MB) on every core at once peaked at
    /// 543 MB resident, one function at a time at 464 MB (then 5 s slower on 2 cores, 13 s
    /// in all), and serializing straight from the compiler skips the two further copies of its
    /// 37 MB of code that compiling into memory and then serializing for the cache make.
    pub fn precompile_serial(&self, bytes: &[u8]) -> Result<Vec<u8>, PluginError> {
        unpanicked(PluginError::NotWasm, || {
            let bytes = component_bytes(bytes)?;
            self.serial
                .precompile_component(&bytes)
                .map_err(|err| PluginError::NotWasm(with_build_hint(one_line(&err))))
        })
    }

    /// A component this engine serialized ([`precompile_serial`](Self::precompile_serial)).
    pub fn deserialize_own(&self, artifact: &[u8]) -> Result<Component, PluginError> {
        // SAFETY: the bytes come from `precompile_serial` of this engine, in this process.
        unsafe { Component::deserialize(&self.engine, artifact) }.map_err(host_error)
    }

    /// Checks the component's world, lists its checks once (refusing reserved and invalid
    /// names with a warning) and prepares it for fresh instances.
    pub async fn prepare(
        &self,
        service: &str,
        component: &Component,
        settings: PluginSettings,
    ) -> Result<LoadedPlugin, PluginError> {
        let pre = pre(&self.linker, component)?;
        LoadedPlugin::list_checks(service, pre, None, settings, self.threads.clone()).await
    }

    /// Checks a language runtime's world (`script-runtime`) and prepares it once; every
    /// script it runs ([`PluginEngine::load_script`]) shares this preparation.
    pub fn prepare_runtime(&self, component: &Component) -> Result<PreparedRuntime, PluginError> {
        Ok(PreparedRuntime {
            pre: pre(&self.runtime_linker, component)?,
        })
    }

    /// Compiles (on the blocking pool) and prepares a language runtime, e.g. `python.wasm`.
    pub async fn load_runtime(&self, bytes: &[u8]) -> Result<PreparedRuntime, PluginError> {
        let component = self.compile_off_thread(bytes).await?;
        self.prepare_runtime(&component)
    }

    /// Makes a plugin of an author's script run by `runtime`: lists its checks once (a
    /// script that does not load fails with [`PluginError::Script`] naming file and line).
    /// Nothing is compiled: a changed script costs one `list-checks` call.
    pub async fn load_script(
        &self,
        service: &str,
        runtime: &PreparedRuntime,
        script: Script,
        settings: PluginSettings,
    ) -> Result<LoadedPlugin, PluginError> {
        let script = Arc::new(script.checked()?);
        let pre = runtime.pre.clone();
        LoadedPlugin::list_checks(service, pre, Some(script), settings, self.threads.clone()).await
    }

    /// Compiles (on the blocking pool) and prepares a plugin.
    pub async fn load(
        &self,
        service: &str,
        bytes: &[u8],
        settings: PluginSettings,
    ) -> Result<LoadedPlugin, PluginError> {
        let component = self.compile_off_thread(bytes).await?;
        self.prepare(service, &component, settings).await
    }

    async fn compile_off_thread(&self, bytes: &[u8]) -> Result<Component, PluginError> {
        let engine = self.engine.clone();
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || compile(&engine, &bytes))
            .await
            .map_err(|err| PluginError::Host(format!("compile task failed: {err}")))?
    }

    /// The wasmtime engine, e.g. to serialize compiled components for a cache.
    pub fn wasmtime(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component for any CPU of this machine's architecture (no CPU feature beyond
    /// the architecture's baseline: x86-64 without SSE3 and later, which every x86-64 node has)
    /// with the server engine's settings otherwise, and serializes it: the language runtimes the
    /// image ships precompiled. The server's engine loads the result on any such CPU (features
    /// the code does not use are never required).
    pub fn precompile_portable(bytes: &[u8]) -> Result<Vec<u8>, PluginError> {
        let mut config = engine_config();
        config
            .target(&format!(
                "{}-unknown-{}-gnu",
                std::env::consts::ARCH,
                std::env::consts::OS
            ))
            .map_err(host_error)?;
        let engine = Engine::new(&config).map_err(host_error)?;
        unpanicked(PluginError::NotWasm, || {
            engine
                .precompile_component(bytes)
                .map_err(|err| PluginError::NotWasm(one_line(&err)))
        })
    }
}

/// The engine's settings, in one place: a runtime precompiled for the image
/// ([`PluginEngine::precompile_portable`]) must match the server's engine in all but the CPU.
fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    // Every call instantiates afresh: memories start as copy-on-write mappings of the
    // compiled image (an interpreter's snapshot heap is tens of MB) and come from a pool
    // of reserved slots instead of fresh mmaps.
    config.memory_init_cow(true);
    let mut pool = PoolingAllocationConfig::new();
    pool.table_elements(sandbox::MAX_TABLE_ELEMENTS);
    pool.linear_memory_keep_resident(2 << 20);
    pool.table_keep_resident(1 << 20);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // No map from machine code back to wasm offsets (backtraces of a plugin's trap name its
    // functions, not their offsets): the Python runtime's map cost ~20 MB while compiling and
    // 2.5 MB (7 %) of its compiled form.
    config.generate_address_map(false);
    config
}

/// Checks the exports, links the imports and resolves the `checks` export once.
fn pre(
    linker: &Linker<CallState>,
    component: &Component,
) -> Result<CheckPluginPre<CallState>, PluginError> {
    unpanicked(PluginError::WrongWorld, || pre_unguarded(linker, component))
}

fn pre_unguarded(
    linker: &Linker<CallState>,
    component: &Component,
) -> Result<CheckPluginPre<CallState>, PluginError> {
    check_exports(linker.engine(), component)?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|err| PluginError::WrongWorld(format!("{err:#}")))?;
    CheckPluginPre::new(instance_pre).map_err(|err| PluginError::WrongWorld(format!("{err:#}")))
}

fn host_error(err: wasmtime::Error) -> PluginError {
    PluginError::Host(format!("{err:#}"))
}

fn start_epoch_ticker(engine: &Engine) -> Result<(), PluginError> {
    let weak = engine.weak();
    thread::Builder::new()
        .name("plugin-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|err| PluginError::Host(format!("cannot start the epoch ticker: {err}")))?;
    Ok(())
}

/// Compiles whatever the bytes are, as a load error of that file when a parser panics.
fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, PluginError> {
    unpanicked(PluginError::NotWasm, || compile_unguarded(engine, bytes))
}

/// Runs one step of preparing a plugin, turning a panic into that plugin's error (made by
/// `error` from the panic's text). The parsers and encoders a plugin passes through
/// (wit-component above all) are not all hardened against hostile bytes: a panic there is that
/// file's load error, never the end of the server or of its reload task.
fn unpanicked<T>(
    error: fn(String) -> PluginError,
    step: impl FnOnce() -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        Err(error(format!(
            "the file crashed the plugin loader ({})",
            panic_text(panic.as_ref())
        )))
    })
}

/// The text of a caught panic's payload (`panic!` gives a `&str` or a `String`).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

fn compile_unguarded(engine: &Engine, bytes: &[u8]) -> Result<Component, PluginError> {
    let bytes = component_bytes(bytes)?;
    // A binary component, or WebAssembly text (which `new` parses).
    Component::new(engine, &bytes)
        .map_err(|err| PluginError::NotWasm(with_build_hint(one_line(&err))))
}

/// What the compiler takes: a component as given, a core module encoded into one, or text.
fn component_bytes(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, PluginError> {
    if bytes.is_empty() {
        return Err(PluginError::NotWasm("the file is empty".into()));
    }
    if bytes.starts_with(WASM_MAGIC) {
        if bytes.get(4..8) == Some(&CORE_MODULE_VERSION) {
            return Ok(encode_core_module(bytes)?.into());
        }
        return Ok(bytes.into());
    }
    if std::str::from_utf8(bytes).is_ok() {
        return Ok(bytes.into());
    }
    Err(PluginError::NotWasm(
        "neither a WebAssembly binary (no `\\0asm` header) nor WebAssembly text".into(),
    ))
}

/// wasmtime 48 runs no component-model async (nor does kube-shields enable it): a component
/// built for it is refused, saying how to build one that runs.
fn with_build_hint(message: String) -> String {
    if message.contains("component model async") {
        format!(
            "{message}; the component uses component-model async, which kube-shields does not run: \
             build it without (jco's QuickJS backend: `--backend-qjs-disable-async`)"
        )
    } else {
        message
    }
}

/// WebAssembly text errors span several lines (message, location, source excerpt); the
/// reason is one line: the message and where it applies.
fn one_line(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    let mut lines = text.lines();
    let message = lines.next().unwrap_or_default();
    let location = lines.find_map(|line| {
        let mut parts = line.trim_start().strip_prefix("--> ")?.rsplitn(3, ':');
        Some((parts.next()?, parts.next()?))
    });
    match location {
        Some((column, line)) => format!("{message} at line {line}, column {column}"),
        None => message.to_owned(),
    }
}

/// wit-bindgen's C output is a core module carrying its component type in a custom section.
///
/// C (clang `--target=wasm32-wasi`, even a lone `snprintf`) imports WASI preview 1: the preview 1
/// reactor adapter of this wasmtime version bridges it to the WASI 0.2 the host links.
fn encode_core_module(bytes: &[u8]) -> Result<Vec<u8>, PluginError> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    // wit-component reads the module's sections before it validates them: validated first, a
    // malformed module is refused with the parser's reason instead of reaching that code.
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map_err(|err| PluginError::NotWasm(format!("invalid core module: {err}")))?;
    wit_component::ComponentEncoder::default()
        .module(bytes)
        .and_then(|encoder| {
            encoder.adapter(
                WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|err| {
            PluginError::WrongWorld(format!(
                "a core module that cannot become a component: {err:#}"
            ))
        })
}

/// Says precisely what is missing when the component is not a check plugin.
fn check_exports(engine: &Engine, component: &Component) -> Result<(), PluginError> {
    // `get_export_index` (unlike the component type's map) matches semver-compatible names.
    if component.get_export_index(None, CHECKS_INTERFACE).is_some() {
        return Ok(());
    }
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let found = if exports.is_empty() {
        "nothing".to_owned()
    } else {
        exports.join(", ")
    };
    Err(PluginError::WrongWorld(format!(
        "the component does not export `{CHECKS_INTERFACE}` or a semver-compatible 0.1.x \
         (it exports {found})"
    )))
}
