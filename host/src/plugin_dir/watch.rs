//! Notices changes to the plugin directory and turns each burst of them into one rescan.
//!
//! The watch is on the directory itself, not recursive: a watch on a file or on `..data` would
//! die with the first ConfigMap update, which replaces them.

use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::PluginDirError;
use super::scan::is_relevant;

/// A burst is over after this long without a change…
const QUIET: Duration = Duration::from_millis(50);
/// …or this long after its first change, whichever comes first: a file written slowly and
/// steadily must not hold back a reload forever.
const MAX_DEBOUNCE: Duration = Duration::from_millis(250);

/// Pending changes: at most one signal is queued, since one rescan covers any number of them.
pub(crate) type Changes = mpsc::Receiver<()>;

/// Starts watching `dir`. The watch lasts as long as the returned watcher; once it is dropped,
/// [`next_burst`] returns `false`.
pub(crate) fn watch(dir: &Path) -> Result<(RecommendedWatcher, Changes), PluginDirError> {
    let (signal, changes) = mpsc::channel(1);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match event {
            // Overflowed or failed: changes may have been lost, so look again.
            Err(_) => true,
            Ok(event) => {
                event.need_rescan()
                    || (changes_contents(&event.kind)
                        && event
                            .paths
                            .iter()
                            .any(|path| path.file_name().is_none_or(is_relevant)))
            }
        };
        if relevant {
            // Full means a rescan is already pending, which will see this change too.
            let _ = signal.try_send(());
        }
    })
    .map_err(|source| PluginDirError::Watch {
        dir: dir.to_owned(),
        source,
    })?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|source| PluginDirError::Watch {
            dir: dir.to_owned(),
            source,
        })?;
    Ok((watcher, changes))
}

/// Whether an event can change what a scan reads. Opening and reading files (as every scan
/// does) and metadata changes cannot; a writer closing its file can.
fn changes_contents(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(access) => matches!(access, AccessKind::Close(AccessMode::Write)),
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        _ => true,
    }
}

/// Waits for a change, then until the burst it starts is over (see [`QUIET`] and
/// [`MAX_DEBOUNCE`]). `false` once the watch has ended.
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
