//! Coalesced rebuilds: changes only mark the index dirty, and a rebuild runs at most once per
//! window, so a burst (30,000 pods listed at start-up, a rollout) costs a handful of rebuilds.

use std::time::Duration;

use tokio::sync::Notify;

/// How long a rebuild waits after the first change for more to arrive.
pub const REBUILD_WINDOW: Duration = Duration::from_millis(100);

/// Runs `rebuild` after changes are signalled on `changed`: the first change after a quiet
/// period starts a [`REBUILD_WINDOW`] wait, then one rebuild covers everything signalled so far.
/// A change signalled during a rebuild leaves a permit, so it is never lost.
pub(crate) async fn rebuild_on_change<F, Fut>(changed: &Notify, mut rebuild: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        changed.notified().await;
        tokio::time::sleep(REBUILD_WINDOW).await;
        rebuild().await;
    }
}
