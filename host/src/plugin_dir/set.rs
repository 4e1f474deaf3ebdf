//! The plugin set: every plugin of the directory at one moment, swapped in whole on a reload.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::plugin::{LoadedPlugin, RefusedCheck};

/// Why the file on disk is not the version serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// What went wrong, with the file name.
    pub message: String,
    /// The checks the plugin listed and why each was refused, when it offers none to serve.
    pub refused_checks: Vec<RefusedCheck>,
    /// When the plugin started failing to load (a later different error keeps this time).
    pub since: Timestamp,
}

/// One service's plugin: the version serving and the state of its file.
#[derive(Debug, Clone)]
pub struct PluginEntry {
    /// The version serving requests: the last one that loaded, `None` if none ever did.
    pub plugin: Option<Arc<LoadedPlugin>>,
    /// Changes whenever `plugin` does (0 while none ever loaded), so results cached under
    /// another generation are stale.
    pub generation: u64,
    /// The plugin file's name: `<service>.wasm` or `<service>.wasm.gz`.
    pub file: String,
    /// SHA-256 (hex) of the file as last read; `None` when it could not be read.
    pub sha256: Option<String>,
    /// SHA-256 of the file `plugin` was loaded from (differs from `sha256` after a failed update).
    pub loaded_sha256: Option<String>,
    /// When `plugin` was loaded.
    pub loaded_at: Option<Timestamp>,
    /// Why the file on disk failed to load; `None` when it is the version serving.
    pub last_error: Option<LoadError>,
    /// Why the settings file was rejected; the previous settings stay in effect.
    pub settings_error: Option<String>,
}

impl PluginEntry {
    /// A service's entry before any load attempt.
    pub(crate) fn new(file: String) -> Self {
        PluginEntry {
            plugin: None,
            generation: 0,
            file,
            sha256: None,
            loaded_sha256: None,
            loaded_at: None,
            last_error: None,
            settings_error: None,
        }
    }

    /// The JSON `GET /plugins` shows for this entry.
    fn status(&self) -> Value {
        let plugin = self.plugin.as_deref();
        json!({
            "file": self.file,
            "sha256": self.sha256,
            "loaded_sha256": self.loaded_sha256,
            "checks": plugin.map_or_else(Vec::new, |plugin| plugin.checks().iter().map(|check| json!({
                "name": check.name,
                "description": check.description,
            })).collect()),
            "warnings": plugin.map_or(&[][..], |plugin| plugin.warnings()),
            "loaded_at": self.loaded_at.map(|at| at.to_string()),
            "generation": self.generation,
            "last_error": self.last_error.as_ref().map(|error| json!({
                "message": error.message,
                "since": error.since.to_string(),
            })),
            "settings_error": self.settings_error,
        })
    }
}

/// Every plugin of the directory at one moment. Requests hold one set for their whole run, so
/// they see the old plugins or the new ones, never a mix.
#[derive(Default)]
pub struct PluginSet {
    entries: BTreeMap<String, PluginEntry>,
}

impl PluginSet {
    pub(crate) fn new(entries: BTreeMap<String, PluginEntry>) -> Self {
        PluginSet { entries }
    }

    /// The service's plugin entry, also when its plugin never loaded (then `plugin` is `None`).
    pub fn get(&self, service: &str) -> Option<&PluginEntry> {
        self.entries.get(service)
    }

    /// Services with a loaded plugin (the last good version), sorted.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.plugin.is_some())
            .map(|(service, _)| service.as_str())
    }

    /// `GET /plugins`: an object with one member per plugin file, keyed by service:
    /// `{file, sha256, loaded_sha256, checks: [{name, description}], warnings, loaded_at,
    /// generation, last_error: {message, since} | null, settings_error}`; times are RFC 3339.
    pub fn status(&self) -> Value {
        Value::Object(
            self.entries
                .iter()
                .map(|(service, entry)| (service.clone(), entry.status()))
                .collect(),
        )
    }
}
