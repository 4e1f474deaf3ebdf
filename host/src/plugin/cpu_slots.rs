//! The cores plugins may take from serving badges.
//!
//! Plugin calls run on the same tokio workers as HTTP requests, and a call holds its worker for
//! a whole poll: a spinning plugin until the next epoch tick (10 ms), a memory-heavy one while
//! its store is set up and torn down (a 63 MiB memory costs ~0.3 ms of `mprotect`, `memset`
//! and `madvise` per call), where a badge request needs ~20 µs. Without a bound, 32 such calls
//! (the default `--max-plugin-runs`) hold every worker: in `scripts/load.sh` health badges fell
//! to 6 % of their throughput under a hammered 63 MiB plugin, to 0 % under a spinning one.
//!
//! So at most `--plugin-cpus` calls execute at any moment, half the cores by default: whatever
//! plugins do, the other half keeps serving badges. A call holds a slot only while it is
//! polled: it gives the slot back at each epoch tick (calls take turns, first come first
//! served) and while it waits for HTTP. Linear memory in flight follows the same bound for
//! calls that finish within one poll, which is every call that does not spin or wait.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// Half the cores, at least one.
pub fn default_plugin_cpus() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get() / 2)
        .max(1)
}

/// How many plugin calls may execute at once.
#[derive(Debug, Clone)]
pub(crate) struct CpuSlots(Arc<Semaphore>);

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

impl CpuSlots {
    /// `cpus` slots (at least one).
    pub(crate) fn new(cpus: usize) -> Self {
        CpuSlots(Arc::new(Semaphore::new(cpus.max(1))))
    }

    /// Runs `call`, holding a slot during each of its polls.
    pub(crate) async fn run<F: Future>(&self, call: F) -> F::Output {
        let mut call = pin!(call);
        let mut queued: Option<Acquire> = None;
        std::future::poll_fn(|cx| {
            // Queued: wait for our turn. Else take a free slot; the semaphore is fair, so a
            // slot is free only while nobody is queued.
            let mut acquire = match queued.take() {
                Some(acquire) => acquire,
                None => match Arc::clone(&self.0).try_acquire_owned() {
                    Ok(permit) => return poll_holding(permit, call.as_mut(), cx),
                    Err(_) => Box::pin(Arc::clone(&self.0).acquire_owned()),
                },
            };
            match acquire.as_mut().poll(cx) {
                Poll::Ready(permit) => {
                    let permit = permit.expect("the slots are never closed");
                    poll_holding(permit, call.as_mut(), cx)
                }
                Poll::Pending => {
                    queued = Some(acquire);
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Polls `call` once; the slot is given back right after.
fn poll_holding<F: Future>(
    _permit: OwnedSemaphorePermit,
    call: Pin<&mut F>,
    cx: &mut std::task::Context<'_>,
) -> Poll<F::Output> {
    call.poll(cx)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_calls_execute_at_once_than_there_are_slots() {
        let slots = CpuSlots::new(2);
        let (executing, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let calls = (0..16).map(|_| {
            let (slots, executing, most) =
                (slots.clone(), Arc::clone(&executing), Arc::clone(&most));
            tokio::spawn(async move {
                slots
                    .run(async {
                        for _ in 0..20 {
                            let now = executing.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            // Busy within one poll, as wasm between two epoch ticks.
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            executing.fetch_sub(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                        }
                    })
                    .await;
            })
        });
        for call in futures::future::join_all(calls).await {
            call.unwrap();
        }
        assert!((1..=2).contains(&most.load(Ordering::SeqCst)));
    }
}
