//! How many plugin calls may execute at any moment: `--plugin-cpus`, half the cores by default.
//!
//! A call holds a slot only while it is polled: it gives the slot back at each epoch tick
//! (calls take turns, first come first served) and while it waits for HTTP. Linear memory in
//! flight follows the same bound for calls that finish within one poll, which is every call
//! that does not spin or wait. Where the calls execute, and why: `threads.rs`.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore};

/// How many plugin calls may execute at once.
#[derive(Debug, Clone)]
pub(crate) struct CpuSlots(Arc<Semaphore>);

type Acquire = Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send>>;

impl CpuSlots {
    /// `cpus` slots (at least one).
    pub(crate) fn new(cpus: usize) -> Self {
        CpuSlots(Arc::new(Semaphore::new(cpus.max(1))))
    }

    /// Whether a call would get a slot at once (none free while calls are queued).
    pub(crate) fn any_free(&self) -> bool {
        self.0.available_permits() > 0
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
