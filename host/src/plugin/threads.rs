//! Where plugin code executes.
//!
//! A plugin call holds the thread that polls it for a whole poll: a spinning plugin until the
//! next epoch tick (10 ms), a memory-heavy one while its store is set up and torn down (a
//! 63 MiB memory costs `mprotect`, `memset` and `madvise` of that much per call), where a
//! badge request needs ~20 µs. On the HTTP workers with no bound, 32 such calls (the default
//! `--max-plugin-runs`) held every worker: in `scripts/load.sh` health badges fell to 6 % of
//! their throughput under a hammered 63 MiB plugin and to 0 % under a spinning one. With the
//! [`CpuSlots`] bound alone they kept 46–51 % and 63–76 %, about what hammering the cheapest
//! route costs: the kernel shared the cores evenly between plugin polls and badges.
//!
//! So calls that have to wait for a slot wait, and then execute, on a runtime of their own:
//! `--plugin-cpus` worker threads at the lowest CPU priority, nice 19, while the threads serving
//! HTTP keep the process's. When the cores are contended the kernel gives the badge threads
//! precedence, while on an idle machine plugins still get whole cores. At nice +10 (a tenth of
//! nice 0's weight) health badges kept 77 % and 87 % under the hammered hostile plugins, and
//! 79–80 % with one spinning request. `SCHED_IDLE` (a weight of 3 against nice 0's 1,024) kept
//! 92–102 % with one spinning request, but starved plugin loads whenever anything else of
//! normal priority ran (compiles, another process): a test loading hundreds of scripts timed
//! out with a build beside it. Nice 19 (a weight of 15) is between: a check still gets about
//! 1.5 % of a contended core. A call that finds a slot free starts at once on the caller's thread:
//! a trivial check ends within that first poll (~5 µs), where handing it to another thread
//! costs two thread wake-ups (25–60 µs on this 2-core VM). Only that first poll: a call still
//! running after it (it spun to an epoch tick, or waits for HTTP) goes on on the plugin threads,
//! so one spinning request drove health badges from 33–38k to 20–23k req/s when it spun on an
//! HTTP worker for its whole deadline.

use std::future::Future;
use std::sync::Arc;

use futures::future::Either;
use tokio::runtime::{Builder, Handle, Runtime};
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use super::cpu_slots::CpuSlots;
use super::error::PluginError;

/// How much lower plugin threads' CPU priority is than the process's (in nice steps): to
/// nice 19, the lowest, from the usual 0.
const NICER_BY: i32 = 19;

/// Half the cores, at least one.
pub fn default_plugin_cpus() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get() / 2)
        .max(1)
}

/// The slots and the runtime plugin calls execute on; clones share them, and the last one
/// stops the runtime.
#[derive(Debug, Clone)]
pub(crate) struct PluginThreads {
    slots: CpuSlots,
    handle: Handle,
    _runtime: Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(Option<Runtime>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async context (where engines end) forbids.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl PluginThreads {
    /// `cpus` slots and worker threads (at least one) at a lower CPU priority.
    pub(crate) fn new(cpus: usize) -> Result<Self, PluginError> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(cpus.max(1))
            .thread_name("plugin")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .map_err(|err| PluginError::Host(format!("cannot start plugin threads: {err}")))?;
        Ok(PluginThreads {
            slots: CpuSlots::new(cpus),
            handle: runtime.handle().clone(),
            _runtime: Arc::new(StopOnDrop(Some(runtime))),
        })
    }

    /// Runs `call` holding a slot during each of its polls: its first poll on the caller's
    /// thread when a slot is free, everything else on the plugin threads (where it goes on to
    /// its end if the returned future is dropped; the call's deadline bounds it).
    pub(crate) fn run<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T, PluginError>> + Send + 'static,
    ) -> impl Future<Output = Result<T, PluginError>> + Send + 'static {
        let slots = self.slots.clone();
        if slots.any_free() {
            let threads = self.clone();
            return Either::Left(async move {
                let mut call = Box::pin(call);
                let first = {
                    let first = std::pin::pin!(slots.run(call.as_mut()));
                    futures::poll!(first)
                };
                if let std::task::Poll::Ready(result) = first {
                    return result;
                }
                threads.spawned(call).await
            });
        }
        Either::Right(self.spawned(call))
    }

    /// Runs (the rest of) `call` on the plugin threads, holding a slot during each poll.
    fn spawned<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T, PluginError>> + Send + 'static,
    ) -> impl Future<Output = Result<T, PluginError>> + Send + 'static {
        let slots = self.slots.clone();
        // The caller's span and subscriber go along: the plugin's output is logged as part
        // of the request that ran it.
        let running = self.handle.spawn(
            async move { slots.run(call).await }
                .in_current_span()
                .with_current_subscriber(),
        );
        async move {
            match running.await {
                Ok(result) => result,
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(_) => Err(PluginError::Host(
                    "the plugin threads stopped during the call".to_owned(),
                )),
            }
        }
    }
}

/// Lowers the calling thread's CPU priority by [`NICER_BY`] (Linux keeps a nice value per
/// thread). Lowering needs no privilege; failing to only costs the precedence.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain system calls about the calling thread, with no pointers.
    let result = unsafe {
        let thread = libc::gettid() as libc::id_t;
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, thread);
        libc::setpriority(libc::PRIO_PROCESS, thread, (current + NICER_BY).min(19))
    };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "plugin thread keeps its CPU priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_calls_execute_at_once_than_there_are_slots() {
        let threads = PluginThreads::new(2).unwrap();
        let (executing, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let calls = (0..16).map(|_| {
            let (executing, most) = (Arc::clone(&executing), Arc::clone(&most));
            // Started from the callers' runtime, as requests do.
            tokio::spawn(threads.run(async move {
                for _ in 0..20 {
                    let now = executing.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Busy within one poll, as wasm between two epoch ticks.
                    std::thread::sleep(Duration::from_micros(200));
                    executing.fetch_sub(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
                Ok(())
            }))
        });
        for call in futures::future::join_all(calls).await {
            call.unwrap().unwrap();
        }
        assert!((1..=2).contains(&most.load(Ordering::SeqCst)));
    }

    /// This thread's nice value, from `/proc/thread-self/stat` (field 19).
    #[cfg(target_os = "linux")]
    fn nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name.split(' ').nth(16).unwrap().parse().unwrap()
    }

    /// The priority plugin threads run at, from a caller's.
    #[cfg(target_os = "linux")]
    fn lowered(nice: i32) -> i32 {
        (nice + NICER_BY).min(19)
    }

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_that_waits_for_a_slot_executes_at_a_lower_cpu_priority() {
        let caller = nice();
        let threads = PluginThreads::new(1).unwrap();
        let alone = threads.run(async { Ok(nice()) }).await.unwrap();
        assert_eq!(
            alone, caller,
            "a free slot: executed at once on the caller's thread"
        );

        let (busy, is_busy) = std::sync::mpsc::channel();
        let holder = tokio::spawn(threads.run(async move {
            busy.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300)); // holds the only slot
            Ok(())
        }));
        tokio::task::spawn_blocking(move || is_busy.recv().unwrap())
            .await
            .unwrap();
        let waited = threads.run(async { Ok(nice()) }).await.unwrap();
        assert_eq!(waited, lowered(caller));
        holder.await.unwrap().unwrap();
        assert_eq!(nice(), caller, "the caller's priority is unchanged");
    }

    /// One spinning request must not run on an HTTP worker for its whole deadline: a call that
    /// is not done after its first poll (an epoch tick, an HTTP wait) goes on on the plugin
    /// threads.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_still_running_after_its_first_poll_goes_on_on_the_plugin_threads() {
        let caller = nice();
        let threads = PluginThreads::new(1).unwrap();
        let (first, later) = threads
            .run(async {
                let first = nice();
                tokio::task::yield_now().await;
                Ok((first, nice()))
            })
            .await
            .unwrap();
        assert_eq!(first, caller, "the first poll on the caller's thread");
        assert_eq!(later, lowered(caller), "the rest on the plugin threads");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_call_on_stopped_threads_is_a_host_error() {
        let threads = PluginThreads::new(1).unwrap();
        let (busy, is_busy) = std::sync::mpsc::channel();
        let holder = tokio::spawn(threads.run(async move {
            busy.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        }));
        tokio::task::spawn_blocking(move || is_busy.recv().unwrap())
            .await
            .unwrap();
        let waiting = tokio::spawn(threads.run(std::future::pending::<Result<(), PluginError>>()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(threads);
        let err = waiting.await.unwrap().unwrap_err();
        assert!(matches!(err, PluginError::Host(_)), "{err:?}");
        holder.await.unwrap().unwrap();
    }
}
