//! The pods, their resource versions and the change history watches replay, like etcd behind
//! kube-apiserver: every write bumps one global resource version; compaction forgets history.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

/// What happened to a pod at one resource version.
#[derive(Debug)]
pub(crate) struct Change {
    pub resource_version: u64,
    /// The pod before the change (`None` when it was created).
    pub before: Option<Pod>,
    /// The pod after the change; for a deletion its last state, stamped with the deletion's
    /// resource version.
    pub after: Pod,
    pub deleted: bool,
}

/// A namespace/name key, ordered the way kube-apiserver lists pods.
pub(crate) type PodKey = (String, String);

#[derive(Debug)]
pub(crate) struct Store {
    pods: BTreeMap<PodKey, Pod>,
    resource_version: u64,
    history: Vec<Arc<Change>>,
    /// Watches may start at this resource version or later; older ones get `410 Expired`.
    oldest_watchable: u64,
    next_uid: u64,
}

impl Store {
    pub fn new() -> Self {
        Store {
            pods: BTreeMap::new(),
            resource_version: 1,
            history: Vec::new(),
            oldest_watchable: 1,
            next_uid: 1,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Creates or replaces a pod, stamping `resourceVersion` (and a `uid` if it has none).
    pub fn upsert(&mut self, mut pod: Pod) -> Arc<Change> {
        self.resource_version += 1;
        let key = key_of(&pod);
        let before = self.pods.get(&key).cloned();
        let meta = &mut pod.metadata;
        meta.resource_version = Some(self.resource_version.to_string());
        if meta.uid.is_none() {
            meta.uid = before
                .as_ref()
                .and_then(|p| p.metadata.uid.clone())
                .or_else(|| {
                    self.next_uid += 1;
                    Some(format!("00000000-0000-4000-8000-{:012x}", self.next_uid))
                });
        }
        self.pods.insert(key, pod.clone());
        self.record(Change {
            resource_version: self.resource_version,
            before,
            after: pod,
            deleted: false,
        })
    }

    /// Deletes a pod; `None` when there was no such pod.
    pub fn delete(&mut self, namespace: &str, name: &str) -> Option<Arc<Change>> {
        let mut pod = self.pods.remove(&(namespace.to_owned(), name.to_owned()))?;
        self.resource_version += 1;
        pod.metadata.resource_version = Some(self.resource_version.to_string());
        let change = Change {
            resource_version: self.resource_version,
            before: None,
            after: pod,
            deleted: true,
        };
        Some(self.record(change))
    }

    fn record(&mut self, change: Change) -> Arc<Change> {
        let change = Arc::new(change);
        self.history.push(Arc::clone(&change));
        change
    }

    /// Forgets all history: watches from an older resource version now get `410 Expired`.
    pub fn compact(&mut self) {
        self.history = Vec::new();
        self.oldest_watchable = self.resource_version;
    }

    /// The changes after `resource_version`, or `Err(oldest watchable)` when compaction has
    /// dropped some of them.
    pub fn changes_since(&self, resource_version: u64) -> Result<Vec<Arc<Change>>, u64> {
        if resource_version < self.oldest_watchable {
            return Err(self.oldest_watchable);
        }
        let start = self
            .history
            .partition_point(|c| c.resource_version <= resource_version);
        Ok(self.history[start..].to_vec())
    }

    /// Pods in key order, starting after `after` when given.
    pub fn pods_after<'a>(
        &'a self,
        after: Option<&PodKey>,
    ) -> impl Iterator<Item = (&'a PodKey, &'a Pod)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let lower = after.map_or(Unbounded, |key| Excluded(key.clone()));
        self.pods.range((lower, Unbounded))
    }
}

pub(crate) fn key_of(pod: &Pod) -> PodKey {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}
