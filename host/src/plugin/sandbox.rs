//! One sandboxed call: a fresh store and instance with no filesystem, no environment, no
//! sockets, a wall-clock deadline enforced by epoch interruption and a memory cap.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::CheckPluginPre;
use super::bindings::exports::kube_shields::plugin::checks::Guest;
use super::bindings::kube_shields::plugin::{http as wit_http, logging, types, workload};
use super::bindings::runtime::kube_shields::plugin::script;
use super::error::PluginError;
use super::http::{AllowList, HttpPolicy};
use super::outcome::{MAX_ERROR_CHARS, cut};
use super::output::{CallOutput, CallTags, Source};
use super::script::Script;
use super::settings::PluginSettings;
use super::threads::PluginThreads;
use crate::pods::model::PodInfo;
use crate::pods::workload::WorkloadInfo;

/// Most elements a table may grow to; Rust and C plugins use a few hundred.
pub(crate) const MAX_TABLE_ELEMENTS: usize = 100_000;
/// How long a trap's stderr excerpt may be.
const MAX_STDERR_EXCERPT_CHARS: usize = 512;

/// The data of one call's store.
pub(crate) struct CallState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    http_policy: HttpPolicy,
    memory: MemoryCap,
    output: Arc<CallOutput>,
    /// The author's script, for a language runtime.
    script: Option<Arc<Script>>,
    /// Why the runtime gave up on the script (`script.fail`).
    script_failure: Option<String>,
    /// The controllers of the context's pods (`workload.controllers`).
    controllers: Vec<Arc<WorkloadInfo>>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_policy,
        }
    }
}

impl logging::Host for CallState {
    fn log(&mut self, level: logging::Level, message: String) {
        self.output.log(level, &message);
    }
}

impl types::Host for CallState {}

impl workload::Host for CallState {
    fn controllers(&mut self) -> Vec<workload::Controller> {
        self.controllers.iter().map(|w| wit_controller(w)).collect()
    }
}

fn wit_controller(workload: &WorkloadInfo) -> workload::Controller {
    workload::Controller {
        kind: workload.kind.name().to_owned(),
        name: workload.name.clone(),
        namespace: workload.namespace.clone(),
        generation: workload.generation,
        observed_generation: workload.observed_generation,
        replicas: workload.replicas,
        conditions: workload
            .conditions
            .iter()
            .map(|c| workload::Condition {
                type_: c.type_.to_string(),
                status: c.status.to_string(),
                reason: c.reason.as_ref().map(ToString::to_string),
                message: c.message.clone(),
            })
            .collect(),
        rollout_status: workload.status.status.as_str().to_owned(),
        rollout_message: workload.status.message.clone(),
    }
}

impl wit_http::Host for CallState {
    async fn get(
        &mut self,
        url: String,
        headers: Vec<(String, String)>,
    ) -> Result<wit_http::Response, wit_http::HttpError> {
        self.http_policy.get(&url, headers).await
    }

    async fn get_all(
        &mut self,
        requests: Vec<wit_http::Request>,
    ) -> Vec<Result<wit_http::Response, wit_http::HttpError>> {
        self.http_policy.get_all(requests).await
    }
}

impl script::Host for CallState {
    fn source(&mut self) -> wasmtime::Result<script::SourceFile> {
        // Only the runtime linker offers `script`, and runtimes always run with a script.
        let script = self
            .script
            .as_ref()
            .ok_or_else(|| wasmtime::Error::msg("no script for this plugin"))?;
        Ok(script::SourceFile {
            file_name: script.file_name.clone(),
            text: script.text.clone(),
        })
    }

    fn fail(&mut self, message: String) -> wasmtime::Result<()> {
        self.script_failure = Some(cut(message, MAX_ERROR_CHARS));
        Err(wasmtime::Error::new(ScriptFailed))
    }
}

/// Links what a plugin may import: WASI 0.2 (with every capability denied per call),
/// `wasi:http` and the `logging`, `workload` and `http` interfaces; for language runtimes
/// (`with_script`) also the `script` interface.
pub(crate) fn linker(
    engine: &wasmtime::Engine,
    with_script: bool,
) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    logging::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    workload::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    wit_http::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    if with_script {
        script::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |state| state)?;
    }
    Ok(linker)
}

/// Caps the total linear memory of a store and remembers that the cap was hit: the guest
/// only sees `memory.grow` fail and usually aborts, which must read as out of memory.
struct MemoryCap {
    limit: usize,
    total: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total - current + desired;
        if total > self.limit {
            self.hit = true;
            return Ok(false);
        }
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Raised by the epoch callback once the wall-clock deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("deadline reached")]
struct DeadlineReached;

/// Raised by `script.fail`: the runtime cannot run the script (the reason is in the state).
#[derive(Debug, thiserror::Error)]
#[error("the script cannot run")]
struct ScriptFailed;

/// What one call is about.
pub(crate) struct Call<'a> {
    pub(crate) tags: CallTags,
    pub(crate) settings: &'a PluginSettings,
    pub(crate) pods: &'a [Arc<PodInfo>],
    /// Their controllers.
    pub(crate) controllers: &'a [Arc<WorkloadInfo>],
    /// The author's script, when `pre` is a language runtime.
    pub(crate) script: Option<&'a Arc<Script>>,
    /// The call executes (instantiated, run and torn down) on these.
    pub(crate) threads: &'a PluginThreads,
}

impl Call<'_> {
    /// Instantiates `pre` in a fresh store and runs `call` on its exports within the
    /// deadline; the store's output is logged whatever happens. Besides the answer: whether
    /// the memory cap was hit (interpreters turn that into an exception the check returns).
    pub(crate) async fn run<R: Send + 'static>(
        self,
        pre: &CheckPluginPre<CallState>,
        call: impl for<'s> FnOnce(
            &'s Guest,
            &'s mut Store<CallState>,
        ) -> BoxFuture<'s, wasmtime::Result<R>>
        + Send
        + 'static,
    ) -> Result<(R, bool), PluginError> {
        // The deadline counts from here, the call's start: time spent waiting for a CPU slot
        // (or on the plugin threads' queue) is part of it, so an answer never comes later than
        // the deadline, however many calls are queued.
        let deadline = tokio::time::Instant::now() + self.settings.deadline;
        let output = CallOutput::new(self.tags.clone());
        let mut store = self.store(pre.engine(), &output, deadline.into_std());
        let pre = pre.clone();
        let running = self.threads.run(async move {
            let result = tokio::time::timeout_at(deadline, async {
                let plugin = pre.instantiate_async(&mut store).await?;
                call(plugin.kube_shields_plugin_checks(), &mut store).await
            })
            .await;
            output.finish();
            match result {
                Err(_elapsed) => Err(PluginError::Timeout),
                Ok(Ok(value)) => Ok((value, store.data().memory.hit)),
                Ok(Err(err)) => Err(classify(&err, store.data())),
            }
        });
        // Still queued at the deadline: the caller is answered now; a call already handed to
        // the plugin threads ends at its first epoch tick there.
        tokio::time::timeout_at(deadline, running)
            .await
            .unwrap_or(Err(PluginError::Timeout))
    }

    fn store(
        &self,
        engine: &wasmtime::Engine,
        output: &Arc<CallOutput>,
        deadline: Instant,
    ) -> Store<CallState> {
        let wasi = WasiCtx::builder()
            .stdout(output.pipe(Source::Stdout))
            .stderr(output.pipe(Source::Stderr))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = CallState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            http_policy: HttpPolicy {
                allowed: AllowList::new(self.pods, &self.settings.allowed_hosts),
                max_response_body: self.settings.max_response_body,
                tags: self.tags.clone(),
                deadline,
            },
            memory: MemoryCap {
                limit: self.settings.memory_limit,
                total: 0,
                hit: false,
            },
            output: Arc::clone(output),
            script: self.script.cloned(),
            script_failure: None,
            controllers: self.controllers.to_vec(),
        };
        let mut store = Store::new(engine, state);
        store.limiter(|state| &mut state.memory);
        // The ticker bumps the epoch every few milliseconds: yield to the executor each time
        // (a spinning plugin never holds a worker) until the deadline has passed.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                return Err(wasmtime::Error::new(DeadlineReached));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }
}

/// Names what went wrong in a failed call.
fn classify(err: &wasmtime::Error, state: &CallState) -> PluginError {
    if err.is::<DeadlineReached>() {
        return PluginError::Timeout;
    }
    // The host's limit, not the plugin's fault: a load tries again (see plugin_dir/reload.rs).
    if err
        .chain()
        .any(|cause| cause.is::<wasmtime::PoolConcurrencyLimitError>())
    {
        return PluginError::Host(err.root_cause().to_string());
    }
    if state.memory.hit {
        return PluginError::OutOfMemory;
    }
    if let (true, Some(reason)) = (err.is::<ScriptFailed>(), &state.script_failure) {
        return PluginError::Script(reason.clone());
    }
    let reason = if let Some(exit) = err.downcast_ref::<I32Exit>() {
        format!("the plugin exited with status {}", exit.0)
    } else if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        let text = trap.to_string();
        text.strip_prefix("wasm trap: ").unwrap_or(&text).to_owned()
    } else {
        err.root_cause().to_string()
    };
    match state.output.stderr_tail() {
        Some(stderr) => {
            let stderr = super::outcome::cut(stderr, MAX_STDERR_EXCERPT_CHARS);
            PluginError::Trap(format!("{reason} (stderr: {stderr})"))
        }
        None => PluginError::Trap(reason),
    }
}
