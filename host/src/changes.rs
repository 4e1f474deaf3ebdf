//! Bursts of changes turned into one reaction each: a pod list arriving in thousands of
//! events, a ConfigMap update touching several files, an editor writing a file in pieces.
//! Every watcher in the service signals here, and one debouncer decides when to react.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

/// A burst is over after this long without a change…
const QUIET: Duration = Duration::from_millis(50);
/// …or this long after its first change, whichever comes first: changes that never stop (a
/// file written slowly, a busy cluster) must not hold a reaction back forever.
const MAX_DEBOUNCE: Duration = Duration::from_millis(250);

/// Pending changes: at most one signal is queued, since one reaction covers any number of them.
pub(crate) type Changes = mpsc::Receiver<()>;

/// Signals a change; cheap, never blocks, and a change signalled during a reaction is kept.
#[derive(Debug, Clone)]
pub(crate) struct ChangeSignal(mpsc::Sender<()>);

impl ChangeSignal {
    pub(crate) fn notify(&self) {
        // Full means a reaction is already pending, which will see this change too.
        let _ = self.0.try_send(());
    }
}

/// A signal and the changes it sends.
pub(crate) fn channel() -> (ChangeSignal, Changes) {
    let (signal, changes) = mpsc::channel(1);
    (ChangeSignal(signal), changes)
}

/// Waits for a change, then until the burst it starts is over (see [`QUIET`] and
/// [`MAX_DEBOUNCE`]). `false` once every signal is gone.
pub(crate) async fn next_burst(changes: &mut Changes) -> bool {
    if changes.recv().await.is_none() {
        return false;
    }
    let end = Instant::now() + MAX_DEBOUNCE;
    loop {
        let quiet_until = (Instant::now() + QUIET).min(end);
        match timeout_at(quiet_until, changes.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) => return false,
            Err(_elapsed) => return true,
        }
    }
}

/// Watches `dir` (not recursively: a watch on a file or on a ConfigMap's `..data` would die
/// with the first update, which replaces them) and signals changes to entries whose file name
/// is `relevant`. The watch lasts as long as the returned watcher.
pub(crate) fn watch_dir(
    dir: &Path,
    relevant: impl Fn(&OsStr) -> bool + Send + 'static,
) -> Result<(RecommendedWatcher, Changes), notify::Error> {
    let (signal, changes) = channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let changed = match event {
            // Overflowed or failed: changes may have been lost, so look again.
            Err(_) => true,
            Ok(event) => {
                event.need_rescan()
                    || (changes_contents(&event.kind)
                        && event
                            .paths
                            .iter()
                            .any(|path| path.file_name().is_none_or(&relevant)))
            }
        };
        if changed {
            signal.notify();
        }
    })?;
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    Ok((watcher, changes))
}

/// Whether an event can change what a reader of the directory sees. Opening and reading files
/// (as every rescan does) and metadata changes cannot; a writer closing its file can.
fn changes_contents(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(access) => matches!(access, AccessKind::Close(AccessMode::Write)),
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        EventKind::Any | EventKind::Other => false,
        EventKind::Create(_) | EventKind::Remove(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_signals_is_one_reaction() {
        let (signal, mut changes) = channel();
        signal.notify();
        let burst = tokio::spawn(async move {
            let reacted = next_burst(&mut changes).await;
            (reacted, changes)
        });
        for _ in 0..3 {
            tokio::time::sleep(QUIET / 2).await;
            signal.notify();
        }
        let (reacted, mut changes) = burst.await.unwrap();
        assert!(reacted);
        // Everything signalled was covered: nothing is pending.
        assert!(changes.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn endless_changes_still_react_after_the_longest_debounce() {
        let (signal, mut changes) = channel();
        signal.notify();
        let started = Instant::now();
        let burst = tokio::spawn(async move { next_burst(&mut changes).await });
        while !burst.is_finished() {
            tokio::time::sleep(QUIET / 5).await;
            signal.notify();
        }
        assert!(burst.await.unwrap());
        assert!(started.elapsed() <= MAX_DEBOUNCE + QUIET / 5);
    }

    #[tokio::test]
    async fn no_signal_left_means_no_reaction() {
        let (signal, mut changes) = channel();
        drop(signal);
        assert!(!next_burst(&mut changes).await);
    }
}
