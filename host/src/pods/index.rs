//! The service index: pods grouped by service name, rebuilt from the pod store and swapped in
//! whole, so badge requests read a consistent snapshot without touching the API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::{ArcSwap, Guard};

use super::model::PodInfo;
use super::naming::service_name;

/// Pods grouped by service: by flat name across namespaces, and by `name.namespace`.
#[derive(Debug, Default)]
pub struct ServiceIndex {
    /// Flat name → its pods in every namespace, sorted by name for listing.
    by_name: BTreeMap<String, Vec<Arc<PodInfo>>>,
    /// `name.namespace` → the flat name and the pods of that one namespace.
    by_qualified_name: HashMap<String, (String, Vec<Arc<PodInfo>>)>,
    pod_count: usize,
}

impl ServiceIndex {
    /// Groups pods by the naming rule; bare pods are left out.
    pub fn build(pods: impl IntoIterator<Item = Arc<PodInfo>>) -> Self {
        let mut index = ServiceIndex::default();
        for pod in pods {
            index.pod_count += 1;
            let Some(name) = service_name(&pod) else { continue };
            index
                .by_qualified_name
                .entry(format!("{name}.{}", pod.namespace))
                .or_insert_with(|| (name.to_owned(), Vec::new()))
                .1
                .push(Arc::clone(&pod));
            index.by_name.entry(name.to_owned()).or_default().push(pod);
        }
        index
    }

    /// The pods of a service addressed by flat name (all namespaces) or `name.namespace`;
    /// an exact flat name wins when both parse.
    pub fn lookup<'a>(&'a self, name: &'a str) -> Option<&'a [Arc<PodInfo>]> {
        self.resolve(name).map(|(_, pods)| pods)
    }

    /// Like [`lookup`](Self::lookup), also giving the flat service name (`web` for `web.prod`),
    /// which names the service's plugin.
    pub fn resolve<'a>(&'a self, name: &'a str) -> Option<(&'a str, &'a [Arc<PodInfo>])> {
        if let Some(pods) = self.by_name.get(name) {
            return Some((name, pods));
        }
        self.by_qualified_name
            .get(name)
            .map(|(flat, pods)| (flat.as_str(), pods.as_slice()))
    }

    /// Flat service names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Flat services with their pods, sorted by name.
    pub fn services(&self) -> impl Iterator<Item = (&str, &[Arc<PodInfo>])> {
        self.by_name.iter().map(|(name, pods)| (name.as_str(), pods.as_slice()))
    }

    /// Number of pods in the store, bare pods included.
    pub fn pod_count(&self) -> usize {
        self.pod_count
    }
}

/// The current index, shared between the pod source that publishes it and the requests that
/// read it.
#[derive(Debug, Default)]
pub struct SharedIndex {
    current: ArcSwap<ServiceIndex>,
    synced: AtomicBool,
}

impl SharedIndex {
    /// An empty, not yet synced index.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The latest published snapshot. A guard rather than an `Arc`: reading it on every
    /// request then writes to no shared reference count.
    pub fn current(&self) -> Guard<Arc<ServiceIndex>> {
        self.current.load()
    }

    /// Replaces the snapshot and marks the source synced (it has seen a full pod list).
    pub fn publish(&self, index: ServiceIndex) {
        self.current.store(Arc::new(index));
        self.synced.store(true, Ordering::Release);
    }

    /// Whether a full pod list has been published at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}
