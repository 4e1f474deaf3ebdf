//! Resolving a service and running one of its checks: the built-in `health` check from the pod
//! index, plugin checks through a per-(service, check) result cache in which concurrent
//! requests share one run, under a global bound on concurrent plugin runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::Semaphore;

use crate::plugin::{LoadedPlugin, Outcome, PluginError};
use crate::plugin_dir::PluginDir;
use crate::pods::health::{Health, health};
use crate::pods::index::SharedIndex;
use crate::pods::model::PodInfo;

/// The name of the built-in check.
pub const HEALTH: &str = "health";

/// Why a check cannot be answered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    /// No pods and no plugin carry this name.
    #[error("unknown service `{0}`")]
    UnknownService(String),
    /// The service exists but has no such check.
    #[error("service `{service}` has no check `{check}`")]
    UnknownCheck {
        /// The service.
        service: String,
        /// The check asked for.
        check: String,
    },
}

/// A plugin run's result, shared between the cache and every request that waited for it.
pub type PluginResult = Arc<Result<Outcome, PluginError>>;

/// What a check answered.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The built-in health check.
    Health(Health),
    /// A plugin check that ran (now or within its cache time).
    Plugin(PluginResult),
    /// Every plugin run slot was taken and nothing was cached for this check.
    Busy,
}

/// How a plugin answer was obtained, counted in the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// A fresh cached result.
    Hit,
    /// Joined a run another request started.
    Joined,
    /// Started a run.
    Miss,
    /// No run slot free: a stale result or `busy`.
    Busy,
}

/// One service as a request sees it: its pods and its plugin, if any.
pub struct Service {
    /// Flat service name (names the plugin), e.g. `web` for `web.prod`.
    pub name: String,
    /// Its pods; empty for a service made of a plugin only.
    pub pods: Vec<Arc<PodInfo>>,
    plugin: Option<(Arc<LoadedPlugin>, u64)>,
}

impl Service {
    /// The check names, `health` first when the service has pods, then the plugin's in order.
    pub fn check_names(&self) -> Vec<&str> {
        let health = (!self.pods.is_empty()).then_some(HEALTH);
        let plugin_checks = self
            .plugin
            .iter()
            .flat_map(|(plugin, _)| plugin.checks().iter().map(|c| c.name.as_str()));
        health.into_iter().chain(plugin_checks).collect()
    }

    /// Whether the service has this check.
    pub fn has_check(&self, check: &str) -> bool {
        if check == HEALTH {
            return !self.pods.is_empty();
        }
        self.plugin
            .as_ref()
            .is_some_and(|(plugin, _)| plugin.checks().iter().any(|c| c.name == check))
    }
}

type CacheKey = (String, String);

/// The last failure of one plugin check, for the authenticated plugin status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunError {
    /// The error in full.
    pub message: String,
    /// When it happened.
    pub at: jiff::Timestamp,
}

/// Last failures by service, then check.
pub type RunErrors = BTreeMap<String, BTreeMap<String, RunError>>;

/// A cached or running plugin result for one (service, check).
#[derive(Default)]
struct Slot {
    /// The plugin generation the slot belongs to: a reload invalidates it.
    generation: u64,
    done: Option<(Instant, PluginResult)>,
    running: Option<Shared<BoxFuture<'static, PluginResult>>>,
}

/// Runs checks for the HTTP layer.
pub struct Checker {
    pods: Arc<SharedIndex>,
    plugins: Arc<PluginDir>,
    slots: Arc<Mutex<HashMap<CacheKey, Slot>>>,
    runs: Arc<Semaphore>,
    run_errors: Arc<Mutex<RunErrors>>,
}

impl Checker {
    /// A checker over the pod index and the plugin directory, running at most
    /// `max_concurrent_runs` plugin calls at once.
    pub fn new(pods: Arc<SharedIndex>, plugins: Arc<PluginDir>, max_concurrent_runs: usize) -> Self {
        Checker {
            pods,
            plugins,
            slots: Arc::default(),
            runs: Arc::new(Semaphore::new(max_concurrent_runs)),
            run_errors: Arc::default(),
        }
    }

    /// Every service name, from pods and from plugins, sorted and unique.
    pub fn service_names(&self) -> Vec<String> {
        let index = self.pods.current();
        let plugins = self.plugins.current();
        let mut names: Vec<String> =
            index.names().chain(plugins.services()).map(str::to_owned).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Finds a service by flat name or `name.namespace`.
    pub fn service(&self, name: &str) -> Result<Service, CheckError> {
        let index = self.pods.current();
        let (flat, pods) = index.resolve(name).unwrap_or((name, &[]));
        let plugins = self.plugins.current();
        let plugin = plugins
            .get(flat)
            .and_then(|entry| Some((Arc::clone(entry.plugin.as_ref()?), entry.generation)));
        if pods.is_empty() && plugin.is_none() {
            return Err(CheckError::UnknownService(name.to_owned()));
        }
        Ok(Service { name: flat.to_owned(), pods: pods.to_vec(), plugin })
    }

    /// Runs `check` of `service`: health from the pods, anything else through the plugin.
    pub async fn run(&self, service: &Service, check: &str) -> Result<(Answer, Option<CacheUse>), CheckError> {
        if check == HEALTH && !service.pods.is_empty() {
            return Ok((Answer::Health(health(&service.pods, jiff::Timestamp::now())), None));
        }
        match &service.plugin {
            Some((plugin, generation)) if service.has_check(check) => {
                let (answer, cache_use) = self.run_plugin(service, check, plugin, *generation).await;
                Ok((answer, Some(cache_use)))
            }
            _ => Err(CheckError::UnknownCheck { service: service.name.clone(), check: check.to_owned() }),
        }
    }

    /// The last failure of every plugin check that failed since start.
    pub fn run_errors(&self) -> RunErrors {
        self.run_errors.lock().expect("run error lock").clone()
    }

    async fn run_plugin(
        &self,
        service: &Service,
        check: &str,
        plugin: &Arc<LoadedPlugin>,
        generation: u64,
    ) -> (Answer, CacheUse) {
        let key = (service.name.clone(), check.to_owned());
        let running = {
            let mut slots = self.slots.lock().expect("result cache lock");
            let slot = slots.entry(key.clone()).or_default();
            if slot.generation != generation {
                *slot = Slot { generation, ..Slot::default() };
            }
            if let Some((expires, result)) = &slot.done
                && *expires > Instant::now()
            {
                return (Answer::Plugin(Arc::clone(result)), CacheUse::Hit);
            }
            if let Some(running) = &slot.running {
                (running.clone(), CacheUse::Joined)
            } else {
                let Ok(permit) = Arc::clone(&self.runs).try_acquire_owned() else {
                    let stale = slot.done.as_ref().map(|(_, result)| Arc::clone(result));
                    return (stale.map_or(Answer::Busy, Answer::Plugin), CacheUse::Busy);
                };
                let running = self.start_run(key, generation, plugin, service.pods.clone(), permit);
                slot.running = Some(running.clone());
                (running, CacheUse::Miss)
            }
        };
        let (running, cache_use) = running;
        (Answer::Plugin(running.await), cache_use)
    }

    /// Starts a run in its own task, so a request that goes away does not cancel it, and the
    /// task stores the result for the requests that come after.
    fn start_run(
        &self,
        key: CacheKey,
        generation: u64,
        plugin: &Arc<LoadedPlugin>,
        pods: Vec<Arc<PodInfo>>,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Shared<BoxFuture<'static, PluginResult>> {
        let plugin = Arc::clone(plugin);
        let slots = Arc::clone(&self.slots);
        let run_errors = Arc::clone(&self.run_errors);
        let task = tokio::spawn(async move {
            let result = Arc::new(plugin.run(&key.1, &pods).await);
            drop(permit);
            if let Err(err) = result.as_ref() {
                let (service, check) = &key;
                tracing::warn!(plugin = %service, check = %check, error = %err, "plugin check failed");
                let failure = RunError { message: err.to_string(), at: jiff::Timestamp::now() };
                let mut run_errors = run_errors.lock().expect("run error lock");
                run_errors.entry(service.clone()).or_default().insert(check.clone(), failure);
            }
            let expires = Instant::now() + plugin.settings().cache_ttl;
            let mut slots = slots.lock().expect("result cache lock");
            if let Some(slot) = slots.get_mut(&key)
                && slot.generation == generation
            {
                slot.done = Some((expires, Arc::clone(&result)));
                slot.running = None;
            }
            result
        });
        task.map(|joined| {
            joined.unwrap_or_else(|err| Arc::new(Err(PluginError::Trap(format!("host task failed: {err}")))))
        })
        .boxed()
        .shared()
    }
}
