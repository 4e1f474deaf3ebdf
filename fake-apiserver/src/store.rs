//! The objects of every served resource, their resource versions and the change history
//! watches replay, like etcd behind kube-apiserver: every write, of any kind, bumps one global
//! resource version; compaction forgets history.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::resource::{RESOURCES, ResourceType};

/// What happened to an object at one resource version.
#[derive(Debug)]
pub(crate) struct Change {
    pub resource: &'static ResourceType,
    pub resource_version: u64,
    /// The object before the change (`None` when it was created).
    pub before: Option<Value>,
    /// The object after the change; for a deletion its last state, stamped with the
    /// deletion's resource version.
    pub after: Value,
    pub deleted: bool,
}

/// A namespace/name key, ordered the way kube-apiserver lists objects.
pub(crate) type ObjectKey = (String, String);

#[derive(Debug)]
pub(crate) struct Store {
    /// By resource plural, then namespace/name. Objects are JSON as served: `kind` and
    /// `apiVersion` set, metadata stamped.
    objects: HashMap<&'static str, BTreeMap<ObjectKey, Value>>,
    resource_version: u64,
    history: Vec<Arc<Change>>,
    /// Watches may start at this resource version or later; older ones get `410 Expired`.
    oldest_watchable: u64,
    next_uid: u64,
}

impl Store {
    pub fn new() -> Self {
        Store {
            objects: RESOURCES
                .iter()
                .map(|r| (r.plural, BTreeMap::new()))
                .collect(),
            resource_version: 1,
            history: Vec::new(),
            oldest_watchable: 1,
            next_uid: 1,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    fn objects_mut(&mut self, resource: &ResourceType) -> &mut BTreeMap<ObjectKey, Value> {
        self.objects
            .get_mut(resource.plural)
            .expect("every served resource has a map")
    }

    /// One object, as stored.
    pub fn get(&self, resource: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects[resource.plural].get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Creates or replaces an object (keyed by namespace and name), stamping what the API
    /// server stamps: `kind`/`apiVersion`, `resourceVersion`, a `uid` if it has none (kept
    /// from the stored object on replace) and, for resources that track it,
    /// `metadata.generation` (see [`generation`]).
    pub fn upsert(&mut self, resource: &'static ResourceType, object: Value) -> Arc<Change> {
        let Value::Object(fields) = object else {
            panic!("a {} must serialize to a JSON object", resource.kind);
        };
        // `apiVersion` and `kind` first, as served.
        let mut object = Map::new();
        object.insert("apiVersion".to_owned(), json!(resource.api_version));
        object.insert("kind".to_owned(), json!(resource.kind));
        object.extend(
            fields
                .into_iter()
                .filter(|(k, _)| k != "apiVersion" && k != "kind"),
        );
        let mut object = Value::Object(object);
        if !object["metadata"].is_object() {
            object["metadata"] = json!({});
        }

        self.resource_version += 1;
        let key = key_of(&object);
        let before = self.objects_mut(resource).get(&key).cloned();
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(self.resource_version.to_string());
        if meta.get("uid").is_none_or(Value::is_null) {
            let uid = match before.as_ref().map(|b| &b["metadata"]["uid"]) {
                Some(Value::String(uid)) => uid.clone(),
                _ => {
                    self.next_uid += 1;
                    format!("00000000-0000-4000-8000-{:012x}", self.next_uid)
                }
            };
            meta["uid"] = json!(uid);
        }
        if resource.generation {
            object["metadata"]["generation"] = json!(generation(before.as_ref(), &object));
        }
        self.objects_mut(resource).insert(key, object.clone());
        self.record(Change {
            resource,
            resource_version: self.resource_version,
            before,
            after: object,
            deleted: false,
        })
    }

    /// Deletes an object; `None` when there was no such object.
    pub fn delete(
        &mut self,
        resource: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<Change>> {
        let mut object = self
            .objects_mut(resource)
            .remove(&(namespace.to_owned(), name.to_owned()))?;
        self.resource_version += 1;
        object["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        let change = Change {
            resource,
            resource_version: self.resource_version,
            before: None,
            after: object,
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

    /// The changes (of every resource) after `resource_version`, or `Err(oldest watchable)`
    /// when compaction has dropped some of them.
    pub fn changes_since(&self, resource_version: u64) -> Result<Vec<Arc<Change>>, u64> {
        if resource_version < self.oldest_watchable {
            return Err(self.oldest_watchable);
        }
        let start = self
            .history
            .partition_point(|c| c.resource_version <= resource_version);
        Ok(self.history[start..].to_vec())
    }

    /// Objects of `resource` in key order, starting after `after` when given.
    pub fn objects_after<'a>(
        &'a self,
        resource: &ResourceType,
        after: Option<&ObjectKey>,
    ) -> impl Iterator<Item = (&'a ObjectKey, &'a Value)> {
        use std::ops::Bound::{Excluded, Unbounded};
        let lower = after.map_or(Unbounded, |key| Excluded(key.clone()));
        self.objects[resource.plural].range((lower, Unbounded))
    }
}

/// `metadata.generation` after a write, the API server's rule: a new object keeps the
/// generation it was given (1 if none; the API server always starts at 1, fixtures may start
/// later); a replaced one keeps the stored generation, plus one when `spec` changed or when
/// `metadata.deletionTimestamp` was set for the first time. A status-only write keeps it.
fn generation(before: Option<&Value>, after: &Value) -> i64 {
    let Some(before) = before else {
        return after["metadata"]["generation"]
            .as_i64()
            .filter(|&g| g > 0)
            .unwrap_or(1);
    };
    let stored = before["metadata"]["generation"].as_i64().unwrap_or(1);
    let spec_changed = before.get("spec") != after.get("spec");
    let deleting = |o: &Value| !o["metadata"]["deletionTimestamp"].is_null();
    let deletion_started = !deleting(before) && deleting(after);
    stored + i64::from(spec_changed || deletion_started)
}

pub(crate) fn key_of(object: &Value) -> ObjectKey {
    let field = |name: &str| {
        object["metadata"][name]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    (field("namespace"), field("name"))
}
