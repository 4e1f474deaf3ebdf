//! Workloads from the cluster, for the `rollout` check: one kube watcher per kind and scope,
//! started only for the kinds that own pods the index knows (a cluster of Deployments never
//! lists StatefulSets). Workloads are read as [`PartialWorkload`]s (no pod template) and only
//! their [`WorkloadInfo`] is stored; each rebuilds the [`WorkloadIndex`] after a burst of
//! changes. A kind the API server refuses (RBAC) answers `unknown` and is logged once; pods and
//! `health` are not affected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinSet;

use super::connection::PodScope;
use super::index::SharedIndex;
use super::kube::{ObservedBackoff, lookup_by_name, watch_client};
use super::source::WatchBackoff;
use super::wire::PartialWorkload;
use super::workload::{KindAccess, WorkloadIndex, WorkloadInfo, WorkloadKind};
use crate::changes::{self, ChangeSignal};
use crate::error_chain::error_chain;

// The reflector stores [`WorkloadInfo`]; each kind has stores of its own, so keys are
// namespace and name.
lookup_by_name!(WorkloadInfo, "Workload", "apps", "workloads");

/// What the workload watches need: the connection, and per scope the watcher settings (as for
/// pods but without the label selector: it selects pods, not their controllers).
pub(super) struct WorkloadWatch {
    /// The cluster's client settings.
    pub config: kube::Config,
    /// How long a watch may go unanswered.
    pub silence: Duration,
    /// Each scope with its watcher settings.
    pub scopes: Vec<(PodScope, watcher::Config)>,
    /// The waits of a failing watch.
    pub backoff: WatchBackoff,
}

/// Starts watching each kind the published index needs, as it first needs it, and publishes
/// the workload index after each burst of changes. Runs until aborted.
pub(super) async fn watch_workloads(watch: WorkloadWatch, shared: Arc<SharedIndex>) {
    let mut published = shared.subscribe();
    let (changed, changes) = changes::channel();
    let access: Arc<Mutex<BTreeMap<WorkloadKind, Access>>> = Arc::default();
    let stores: Arc<Mutex<Vec<Store<WorkloadInfo>>>> = Arc::default();
    let mut tasks = JoinSet::new();
    tasks.spawn(publish(
        changes,
        Arc::clone(&stores),
        Arc::clone(&access),
        Arc::clone(&shared),
    ));
    let mut started: BTreeSet<WorkloadKind> = BTreeSet::new();
    loop {
        let needed = shared.current().workload_kinds();
        for kind in needed.difference(&started.clone()) {
            started.insert(*kind);
            tracing::debug!(kind = kind.name(), "watching workloads");
            lock(&access).insert(*kind, Access::new(watch.scopes.len()));
            for (at, (scope, config)) in watch.scopes.iter().enumerate() {
                // A client per kind and scope: each re-pages its own lists.
                let label = format!("{}/{}", kind.plural(), scope.metric_label());
                let client = match watch_client(
                    watch.config.clone(),
                    watch.silence,
                    label,
                    SharedIndex::workload_watch_health,
                    &shared,
                ) {
                    Ok(client) => client,
                    Err(error) => {
                        tracing::error!(kind = kind.name(), %error, "cannot watch workloads");
                        continue;
                    }
                };
                let (store, writer) = reflector::store::<WorkloadInfo>();
                lock(&stores).push(store);
                let reflector = KindReflector {
                    kind: *kind,
                    scope: scope.clone(),
                    scope_at: at,
                    access: Arc::clone(&access),
                    shared: Arc::clone(&shared),
                    changed: changed.clone(),
                    backoff: watch.backoff,
                };
                tasks.spawn(reflector.run(client, config.clone(), writer));
            }
            // A new kind is followed (and `unknown`) from now on, not from its first list.
            changed.notify();
        }
        if published.changed().await.is_err() {
            return;
        }
    }
}

/// Rebuilds the workload index from every store after each burst of changes.
async fn publish(
    mut changes: changes::Changes,
    stores: Arc<Mutex<Vec<Store<WorkloadInfo>>>>,
    access: Arc<Mutex<BTreeMap<WorkloadKind, Access>>>,
    shared: Arc<SharedIndex>,
) {
    while changes::next_burst(&mut changes).await {
        let access = lock(&access)
            .iter()
            .map(|(kind, access)| (*kind, access.state()))
            .collect();
        let stores = lock(&stores).clone();
        let index = WorkloadIndex::build(stores.iter().flat_map(Store::state), access);
        shared.publish_workloads(index.of_cluster());
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How far each scope of a kind got.
#[derive(Debug)]
struct Access {
    listed: Vec<bool>,
    denied: bool,
}

impl Access {
    fn new(scopes: usize) -> Self {
        Access {
            listed: vec![false; scopes],
            denied: false,
        }
    }

    fn state(&self) -> KindAccess {
        if self.listed.iter().all(|listed| *listed) {
            KindAccess::Listed
        } else if self.denied {
            KindAccess::Denied
        } else {
            KindAccess::Pending
        }
    }
}

/// One kind's watcher in one scope, feeding its store.
struct KindReflector {
    kind: WorkloadKind,
    scope: PodScope,
    scope_at: usize,
    access: Arc<Mutex<BTreeMap<WorkloadKind, Access>>>,
    shared: Arc<SharedIndex>,
    changed: ChangeSignal,
    backoff: WatchBackoff,
}

impl KindReflector {
    async fn run(
        self,
        client: kube::Client,
        config: watcher::Config,
        writer: reflector::store::Writer<WorkloadInfo>,
    ) {
        let kind = self.kind;
        let label = format!("{}/{}", kind.plural(), self.scope.metric_label());
        let api: Api<PartialWorkload> = match &self.scope {
            PodScope::AllNamespaces => Api::all_with(client, &kind),
            PodScope::Namespace(ns) => Api::namespaced_with(client, ns, &kind),
        };
        let backoff = ObservedBackoff::new(self.backoff);
        let last_delay = backoff.last_delay();
        let events = watcher(api, config)
            .backoff(backoff)
            .map_ok(move |event| event.map_workload(kind));
        let mut events = std::pin::pin!(reflector::reflector(writer, events));
        while let Some(event) = events.next().await {
            tracing::trace!(kind = kind.name(), ok = event.is_ok(), "workload event");
            match event {
                Ok(watcher::Event::InitDone) => {
                    self.set(|access| access.listed[self.scope_at] = true);
                    self.changed.notify();
                }
                Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => self.changed.notify(),
                Ok(_) => {}
                Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                    tracing::info!(scope = %label, "workload watch expired (410), listing again");
                }
                Err(error) => {
                    let forbidden = is_forbidden(&error);
                    if forbidden && !self.get(|access| access.denied) {
                        tracing::warn!(
                            kind = kind.name(),
                            scope = %self.scope.describe(),
                            error = %error_chain(&error),
                            "cannot list {}: `rollout` answers `unknown` for them until the \
                             service account may get, list and watch {}.{} (health is not affected)",
                            kind.plural(), kind.plural(), kind.group()
                        );
                        self.set(|access| access.denied = true);
                        self.changed.notify();
                    }
                    let retry_in = *lock(&last_delay);
                    self.shared.workload_watch_health().failed(
                        &label,
                        &error_chain(&error),
                        retry_in,
                    );
                }
            }
        }
    }

    fn set(&self, change: impl FnOnce(&mut Access)) {
        if let Some(access) = lock(&self.access).get_mut(&self.kind) {
            change(access);
        }
    }

    fn get(&self, read: impl FnOnce(&Access) -> bool) -> bool {
        lock(&self.access).get(&self.kind).is_some_and(read)
    }
}

/// Whether the API server refused the request (`403`), the one failure that waiting does not fix.
fn is_forbidden(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => {
            matches!(e, kube::Error::Api(status) if status.code == 403)
        }
        watcher::Error::WatchError(status) => status.code == 403,
        _ => false,
    }
}

/// Converts a watcher event to the model kept, computing the rollout status once.
trait MapWorkload {
    fn map_workload(self, kind: WorkloadKind) -> watcher::Event<WorkloadInfo>;
}

impl MapWorkload for watcher::Event<PartialWorkload> {
    fn map_workload(self, kind: WorkloadKind) -> watcher::Event<WorkloadInfo> {
        use watcher::Event;
        let read = |workload| WorkloadInfo::read(kind, workload);
        match self {
            Event::Apply(w) => Event::Apply(read(w)),
            Event::Delete(w) => Event::Delete(read(w)),
            Event::InitApply(w) => Event::InitApply(read(w)),
            Event::Init => Event::Init,
            Event::InitDone => Event::InitDone,
        }
    }
}
