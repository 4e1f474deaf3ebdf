//! Pods from the cluster: kube-runtime's watcher and reflector, one per watched scope, feeding
//! the service index. Pods are read as [`PartialPod`]s and only the [`PodInfo`] of each is
//! stored. The watcher lists (a streaming list where the API server offers one, else pages),
//! watches, backs off on errors and relists after a `410 Expired` on its own.

use std::sync::Arc;

use std::sync::Mutex;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::Client;
use kube::client::{ClientBuilder, DynBody};
use kube::runtime::reflector::{self, Store};
use kube::runtime::utils::{Backoff, ResetTimerBackoff};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::{JoinHandle, JoinSet};

use super::connection::{ConnectionError, InitialList, KubeConnection, PodScope, probe};
use super::index::{ServiceIndex, SharedIndex};
use super::model::PodInfo;
use super::repage::RepageLayer;
use super::source::WatchBackoff;
use super::watch_health::WatchHealth;
use super::wire::PartialPod;
use super::workload::WorkloadIndex;
use super::workload_watch::{WorkloadWatch, watch_workloads};
use crate::changes::{self, ChangeSignal, Changes};
use crate::error_chain::error_chain;

/// A reflector store keyed on namespace and name only: versions and uids would cost memory per
/// object. `$kind` etc. only name the store's objects; a store of each kind is its own.
macro_rules! lookup_by_name {
    ($type:ty, $kind:literal, $group:literal, $plural:literal) => {
        impl kube::runtime::reflector::Lookup for $type {
            type DynamicType = ();

            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                $kind.into()
            }

            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                $group.into()
            }

            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                "v1".into()
            }

            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                $plural.into()
            }

            fn name(&self) -> Option<std::borrow::Cow<'_, str>> {
                Some(std::borrow::Cow::Borrowed(&self.name))
            }

            fn namespace(&self) -> Option<std::borrow::Cow<'_, str>> {
                Some(std::borrow::Cow::Borrowed(&self.namespace))
            }

            fn resource_version(&self) -> Option<std::borrow::Cow<'_, str>> {
                None
            }

            fn uid(&self) -> Option<std::borrow::Cow<'_, str>> {
                None
            }
        }
    };
}
pub(super) use lookup_by_name;

// The reflector stores [`PodInfo`] (what we read of a pod) rather than whole pods.
lookup_by_name!(PodInfo, "Pod", "", "pods");

/// The scopes to watch: the given namespaces (a Role in each is enough), or all namespaces
/// when none is given.
pub fn scopes(namespaces: &[String]) -> Vec<PodScope> {
    if namespaces.is_empty() {
        vec![PodScope::AllNamespaces]
    } else {
        namespaces
            .iter()
            .map(|ns| PodScope::Namespace(ns.clone()))
            .collect()
    }
}

/// The watcher settings: how the pods are first fetched, the label selector, and
/// (cluster-wide only) a field selector that leaves the excluded namespaces out on the server
/// side.
pub fn watcher_config(
    scope: &PodScope,
    initial_list: InitialList,
    exclude: &[String],
    label_selector: Option<&str>,
    watch_timeout: Duration,
) -> watcher::Config {
    let mut config = match initial_list {
        InitialList::Streaming => watcher::Config::default().streaming_lists(),
        InitialList::Paged => watcher::Config::default(),
    };
    let seconds = u32::try_from(watch_timeout.as_secs()).unwrap_or(u32::MAX);
    config = config.timeout(seconds.max(1));
    if let Some(selector) = label_selector.filter(|s| !s.is_empty()) {
        config = config.labels(selector);
    }
    if *scope == PodScope::AllNamespaces && !exclude.is_empty() {
        let fields: Vec<String> = exclude
            .iter()
            .map(|ns| format!("metadata.namespace!={ns}"))
            .collect();
        config = config.fields(&fields.join(","));
    }
    config
}

/// Connects, probes every scope (failing with the cause), then watches pods in the
/// background and publishes a rebuilt index into `shared` after each burst of changes. The
/// index is marked synced once every scope has been listed. Aborting the handle stops it.
pub async fn start(
    connection: &KubeConnection,
    namespaces: &[String],
    exclude: &[String],
    label_selector: Option<&str>,
    watch_timeout: Duration,
    backoff: WatchBackoff,
    shared: Arc<SharedIndex>,
) -> Result<JoinHandle<()>, ConnectionError> {
    let config = connection.client_config().await?;
    let silence = silence_bound(watch_timeout);
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config.clone()).map_err(ConnectionError::Client)?;
    let scopes = scopes(namespaces);
    let initial_lists = probe(&client, &url, &scopes).await?;
    let (changed, changes) = changes::channel();
    let mut tasks = JoinSet::new();
    let mut stores = Vec::with_capacity(scopes.len());
    let mut workload_scopes = Vec::new();
    for (scope, initial_list) in scopes.into_iter().zip(initial_lists) {
        tracing::debug!(scope = %scope.describe(), ?initial_list, "watching pods");
        let (store, writer) = reflector::store::<PodInfo>();
        stores.push(store);
        let watch_config =
            watcher_config(&scope, initial_list, exclude, label_selector, watch_timeout);
        let client = watch_client(
            config.clone(),
            silence,
            scope.metric_label(),
            SharedIndex::watch_health,
            &shared,
        )?;
        let workload_config = watcher_config(&scope, initial_list, exclude, None, watch_timeout);
        workload_scopes.push((scope.clone(), workload_config));
        let reflector = Reflector {
            scope,
            shared: Arc::clone(&shared),
            changed: changed.clone(),
            backoff,
        };
        tasks.spawn(reflector.run(client, watch_config, writer));
    }
    tasks.spawn(notice_silence(Arc::clone(&shared), silence));
    let workloads = WorkloadWatch {
        config: config.clone(),
        silence,
        scopes: workload_scopes,
        backoff,
    };
    // Rollouts are followed from the start: `unknown` until their kind is first listed.
    shared.publish_workloads(WorkloadIndex::cluster());
    tasks.spawn(watch_workloads(workloads, Arc::clone(&shared)));
    tasks.spawn(publish(stores, changes, shared));
    // Dropping the set (when this task is aborted) aborts the watchers with it.
    Ok(tokio::spawn(async move {
        while tasks.join_next().await.is_some() {}
    }))
}

/// How long a scope may go without an answer from the API server before its watch counts as
/// failing: one watch request's lifetime (the server ends it, the watcher opens the next, which
/// is an answer) plus a margin for the reconnect. kube's watcher itself only reconnects a silent
/// watch, and a request the server never answers would wait forever.
fn silence_bound(watch_timeout: Duration) -> Duration {
    let margin = (watch_timeout / 6).clamp(Duration::from_secs(1), Duration::from_secs(15));
    watch_timeout.max(Duration::from_secs(1)) + margin
}

/// Checks every scope for silence a few times per bound, so a hung API server turns health
/// badges stale within `--stale-after` plus the bound (see [`silence_bound`]).
async fn notice_silence(shared: Arc<SharedIndex>, silence: Duration) {
    let mut ticks = tokio::time::interval(silence / 4);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        shared.watch_health().notice_silence(silence);
        shared.workload_watch_health().notice_silence(silence);
    }
}

/// A client for one scope's watch. It tells the scope's watch health whenever the API server
/// answers (kube's watcher emits nothing when a watch resumes after an outage with no pod
/// changed, so its events alone cannot say that the watch works again), and hands the watcher
/// a list the server sent whole a page at a time ([`RepageLayer`]).
pub(super) fn watch_client(
    mut config: kube::Config,
    silence: Duration,
    label: String,
    health: fn(&SharedIndex) -> &WatchHealth,
    shared: &Arc<SharedIndex>,
) -> Result<Client, ConnectionError> {
    // A request (or a response) the API server stops sending fails after the silence bound,
    // and the watcher retries, instead of waiting on it for good.
    config.read_timeout = Some(silence);
    config.reset_reader_on_write = true;
    let shared = Arc::clone(shared);
    let report = move |response: http::Response<Box<DynBody>>| {
        if response.status().is_success() {
            health(&shared).answered(&label);
        }
        response
    };
    let builder = ClientBuilder::try_from(config).map_err(ConnectionError::Client)?;
    Ok(builder
        .with_layer(&tower::util::MapResponseLayer::new(report))
        .with_layer(&RepageLayer)
        .build())
}

/// After this long without a failure, a watch's back-off starts again from its first wait
/// (as kube's `DefaultBackoff`).
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(120);

/// The watch back-off ([`WatchBackoff`]: kube's default one unless configured), remembering its
/// last delay so a failure can say when it retries.
pub(super) struct ObservedBackoff {
    inner: ResetTimerBackoff<ExponentialBackoff>,
    last: Arc<Mutex<Option<Duration>>>,
}

impl ObservedBackoff {
    pub(super) fn new(config: WatchBackoff) -> Self {
        ObservedBackoff {
            inner: ResetTimerBackoff::new(ExponentialBackoff::new(config), BACKOFF_RESET_AFTER),
            last: Arc::default(),
        }
    }

    /// The delay before the next retry, shared with the back-off.
    pub(super) fn last_delay(&self) -> Arc<Mutex<Option<Duration>>> {
        Arc::clone(&self.last)
    }
}

impl Iterator for ObservedBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.inner.next();
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = delay;
        delay
    }
}

impl Backoff for ObservedBackoff {
    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Waits doubling from [`WatchBackoff::initial`] to [`WatchBackoff::max`], each plus up to as
/// much again at random: what kube's `DefaultBackoff` does (through `backon`, with factor 2 and
/// jitter), with the two bounds configurable.
struct ExponentialBackoff {
    config: WatchBackoff,
    /// The last wait before jitter; `None` before the first (or after a reset).
    current: Option<Duration>,
}

impl ExponentialBackoff {
    fn new(config: WatchBackoff) -> Self {
        ExponentialBackoff {
            config,
            current: None,
        }
    }
}

impl Iterator for ExponentialBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let WatchBackoff { initial, max } = self.config;
        let wait = match self.current {
            None => initial,
            Some(current) => current.saturating_mul(2).min(max),
        };
        self.current = Some(wait);
        Some(wait.saturating_add(wait.mul_f32(rand::random::<f32>())))
    }
}

impl Backoff for ExponentialBackoff {
    fn reset(&mut self) {
        self.current = None;
    }
}

/// One scope's watcher feeding its store.
struct Reflector {
    scope: PodScope,
    shared: Arc<SharedIndex>,
    changed: ChangeSignal,
    backoff: WatchBackoff,
}

impl Reflector {
    /// Runs the watcher into the store, signalling `changed` whenever the stored pods change.
    /// Failures go to the watch health (logged once per change of state); the watcher backs
    /// off and recovers by itself.
    async fn run(
        self,
        client: Client,
        config: watcher::Config,
        writer: reflector::store::Writer<PodInfo>,
    ) {
        let label = self.scope.metric_label();
        let backoff = ObservedBackoff::new(self.backoff);
        let last_delay = backoff.last_delay();
        let api = self.scope.api(client);
        let events = watcher(api, config).backoff(backoff).map_ok(keep_pod_info);
        let mut events = std::pin::pin!(reflector::reflector(writer, events));
        while let Some(event) = events.next().await {
            match event {
                Ok(
                    watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone,
                ) => {
                    self.changed.notify();
                }
                Ok(_) => {}
                Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                    tracing::info!(scope = %self.scope.describe(), "pod watch expired (410), listing again");
                }
                Err(error) => {
                    let retry_in = *last_delay
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    self.shared
                        .watch_health()
                        .failed(&label, &error_chain(&error), retry_in);
                }
            }
        }
    }
}

/// Converts a watcher event to the model we keep, moving the read fields into place.
fn keep_pod_info(event: watcher::Event<PartialPod>) -> watcher::Event<PodInfo> {
    use watcher::Event;
    match event {
        Event::Apply(pod) => Event::Apply(PodInfo::from(pod)),
        Event::Delete(pod) => Event::Delete(PodInfo::from(pod)),
        Event::InitApply(pod) => Event::InitApply(PodInfo::from(pod)),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    }
}

/// Publishes the first index once every scope is listed, then one per burst of changes.
async fn publish(stores: Vec<Store<PodInfo>>, mut changes: Changes, shared: Arc<SharedIndex>) {
    for store in &stores {
        if store.wait_until_ready().await.is_err() {
            return;
        }
    }
    let rebuild = || {
        let stores = stores.clone();
        let shared = Arc::clone(&shared);
        async move {
            // Grouping tens of thousands of pods is CPU work: keep it off the async workers.
            let built = tokio::task::spawn_blocking(move || {
                shared.publish(ServiceIndex::build(stores.iter().flat_map(Store::state)));
            });
            if let Err(error) = built.await {
                tracing::error!(%error, "rebuilding the service index failed");
            }
        }
    };
    rebuild().await;
    while changes::next_burst(&mut changes).await {
        rebuild().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The next `n` waits of a back-off (jitter included).
    fn waits(backoff: &mut impl Iterator<Item = Duration>, n: usize) -> Vec<Duration> {
        backoff.take(n).collect()
    }

    #[test]
    fn the_default_back_off_is_kubes_800_ms_doubling_to_30_s_with_jitter() {
        let mut backoff = ObservedBackoff::new(WatchBackoff::default());
        let last = backoff.last_delay();
        let bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0];
        for (wait, base) in waits(&mut backoff, bases.len()).into_iter().zip(bases) {
            let base = Duration::from_secs_f64(base);
            assert!(base <= wait && wait <= base * 2, "{wait:?} for {base:?}");
        }
        assert!(
            last.lock()
                .unwrap()
                .is_some_and(|last| last >= Duration::from_secs(30))
        );
    }

    #[test]
    fn a_configured_back_off_doubles_to_its_max_and_starts_over_after_a_reset() {
        let config = WatchBackoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(200),
        };
        let mut backoff = ObservedBackoff::new(config);
        let bases = [50, 100, 200, 200];
        for (wait, base) in waits(&mut backoff, bases.len()).into_iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(base <= wait && wait <= base * 2, "{wait:?} for {base:?}");
        }
        backoff.reset();
        let first = backoff.next().unwrap();
        assert!(first < Duration::from_millis(100), "{first:?}");
        assert_eq!(*backoff.last_delay().lock().unwrap(), Some(first));
    }
}
