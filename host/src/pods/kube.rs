//! Pods from the cluster: kube-runtime's watcher and reflector, one per watched scope, feeding
//! the service index. Only the [`PodInfo`] slice of each pod is stored; the watcher lists,
//! watches, backs off on errors and relists after a `410 Expired` on its own.

use std::borrow::Cow;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::runtime::reflector::{self, Lookup, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use super::coalesce::rebuild_on_change;
use super::connection::{ConnectionError, KubeConnection, PodScope, error_chain, probe};
use super::index::{ServiceIndex, SharedIndex};
use super::model::PodInfo;

/// The reflector stores [`PodInfo`] (what we read of a pod) rather than whole pods.
impl Lookup for PodInfo {
    type DynamicType = ();

    fn kind(_: &()) -> Cow<'_, str> {
        "Pod".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "pods".into()
    }

    fn name(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.name))
    }

    fn namespace(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.namespace))
    }

    // The store keys on namespace and name only; versions and uids would cost memory per pod.
    fn resource_version(&self) -> Option<Cow<'_, str>> {
        None
    }

    fn uid(&self) -> Option<Cow<'_, str>> {
        None
    }
}

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

/// The watcher settings: the label selector, and (cluster-wide only) a field selector that
/// leaves the excluded namespaces out on the server side.
pub fn watcher_config(
    scope: &PodScope,
    exclude: &[String],
    label_selector: Option<&str>,
) -> watcher::Config {
    let mut config = watcher::Config::default();
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
    shared: Arc<SharedIndex>,
) -> Result<JoinHandle<()>, ConnectionError> {
    let config = connection.client_config().await?;
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(ConnectionError::Client)?;
    let scopes = scopes(namespaces);
    probe(&client, &url, &scopes).await?;
    let changed = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    let mut stores = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let (store, writer) = reflector::store::<PodInfo>();
        stores.push(store);
        let config = watcher_config(&scope, exclude, label_selector);
        let api = scope.api(client.clone());
        tasks.spawn(reflect(scope, api, config, writer, Arc::clone(&changed)));
    }
    tasks.spawn(publish(stores, changed, shared));
    // Dropping the set (when this task is aborted) aborts the watchers with it.
    Ok(tokio::spawn(async move {
        while tasks.join_next().await.is_some() {}
    }))
}

/// Runs one scope's watcher into its store, signalling `changed` whenever the stored pods
/// change. Errors are logged; the watcher backs off and recovers by itself.
async fn reflect(
    scope: PodScope,
    api: kube::Api<Pod>,
    config: watcher::Config,
    writer: reflector::store::Writer<PodInfo>,
    changed: Arc<Notify>,
) {
    let events = watcher(api, config).default_backoff().map_ok(keep_pod_info);
    let mut events = std::pin::pin!(reflector::reflector(writer, events));
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {
                changed.notify_one();
            }
            Ok(_) => {}
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                tracing::info!(scope = %scope.describe(), "pod watch expired (410), listing again");
            }
            Err(error) => {
                tracing::warn!(scope = %scope.describe(), error = %error_chain(&error), "pod watch failed, retrying");
            }
        }
    }
}

/// Converts a watcher event to the slice we keep, dropping the rest of the pod right away.
fn keep_pod_info(event: watcher::Event<Pod>) -> watcher::Event<PodInfo> {
    use watcher::Event;
    match event {
        Event::Apply(pod) => Event::Apply(PodInfo::from(&pod)),
        Event::Delete(pod) => Event::Delete(PodInfo::from(&pod)),
        Event::InitApply(pod) => Event::InitApply(PodInfo::from(&pod)),
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
    }
}

/// Publishes the first index once every scope is listed, then one per burst of changes.
async fn publish(stores: Vec<Store<PodInfo>>, changed: Arc<Notify>, shared: Arc<SharedIndex>) {
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
    rebuild_on_change(&changed, rebuild).await;
}
