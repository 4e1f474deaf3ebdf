//! The application core: resolving a service as addressed (flat or `name.namespace`), running
//! its checks — the built-in `health` from the pod index, plugin checks through the result
//! cache — aggregating over services, and counting plugin answers in the metrics. The HTTP
//! layer and the `check` command only translate to and from it.

mod answer;
mod history;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::join_all;
use serde_json::Value;

pub use crate::result_cache::CacheUse;
use crate::result_cache::{CacheKey, ResultCache};
pub use answer::{Answer, PluginResult};
pub use history::{HistoryAnswer, Measure};

use crate::metrics::Metrics;
use crate::peers::{
    CatalogEntry, CheckStatus, Cluster, LINK_ANNOTATION, Peers, RemoteResult, UNREACHABLE,
    valid_link,
};
use crate::plugin::{LoadedPlugin, Outcome, PluginError};
use crate::plugin_dir::PluginDir;
use crate::pods::index::SharedIndex;
use crate::pods::model::PodInfo;
use crate::pods::naming::workload_of;
use crate::pods::rollout::{Rollout, controllers, rollout};

/// The built-in pod health check.
pub const HEALTH: &str = kube_shields_check_name::HEALTH;

/// The built-in rollout check: the service's controller by kstatus' rules.
pub const ROLLOUT: &str = kube_shields_check_name::ROLLOUT;

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
    /// `<service>@<cluster>` names no configured peer.
    #[error("unknown cluster `{0}`")]
    UnknownCluster(String),
    /// History is asked for and this cluster keeps none.
    #[error("no history is kept here: start kube-shields with --history-dir or --history-url")]
    NoHistory,
    /// No service of an aggregate has the check.
    #[error("no service starting with `{prefix}` has check `{check}`")]
    NoServiceMatches {
        /// The prefix asked for.
        prefix: String,
        /// The check asked for.
        check: String,
    },
}

impl CheckError {
    /// A short, stable name for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            CheckError::UnknownService(_) => "unknown_service",
            CheckError::UnknownCheck { .. } => "unknown_check",
            CheckError::NoServiceMatches { .. } => "no_service_matches",
            CheckError::UnknownCluster(_) => "unknown_cluster",
            CheckError::NoHistory => "no_history",
        }
    }
}

/// One service as a request addressed it: its pods and its plugin, if any.
pub struct Service {
    /// Flat service name (names the plugin), e.g. `web` for `web.prod`.
    pub name: String,
    /// The service as resolved: `web` (every namespace) or `web.prod` (one); a plugin's result
    /// depends on it, through the pods it sees.
    pub scope: String,
    /// Its pods; empty for a service made of a plugin only.
    pub pods: Vec<Arc<PodInfo>>,
    /// Whether its pods have a workload whose rollout is followed (the `rollout` check).
    has_rollout: bool,
    plugin: Option<(Arc<LoadedPlugin>, u64)>,
}

impl Service {
    /// The check names, `health` first when the service has pods, `rollout` when they have a
    /// followed workload, then the plugin's in order.
    pub fn check_names(&self) -> Vec<&str> {
        let health = (!self.pods.is_empty()).then_some(HEALTH);
        let rollout = self.has_rollout.then_some(ROLLOUT);
        let plugin_checks = self
            .plugin
            .iter()
            .flat_map(|(plugin, _)| plugin.checks().iter().map(|c| c.name.as_str()));
        health
            .into_iter()
            .chain(rollout)
            .chain(plugin_checks)
            .collect()
    }

    /// What each check reports, in a line: the built-in checks' own, the plugin's as it says.
    pub fn descriptions(&self) -> BTreeMap<String, String> {
        let built_in = [
            (HEALTH, "ready containers of the pods, and their restarts"),
            (ROLLOUT, "the workload's rollout, by kstatus' rules"),
        ];
        let built_in = built_in
            .into_iter()
            .filter(|(check, _)| self.has_check(check))
            .map(|(check, text)| (check.to_owned(), text.to_owned()));
        let plugin = self.plugin.iter().flat_map(|(plugin, _)| {
            plugin
                .checks()
                .iter()
                .filter_map(|check| Some((check.name.clone(), check.description.clone()?)))
        });
        built_in.chain(plugin).collect()
    }

    /// Where its badges link: the first of its pods' `kube-shields.io/link` annotations that is
    /// an `http(s)` URL (set it on the pod template).
    pub fn link(&self) -> Option<String> {
        self.pods
            .iter()
            .find_map(|pod| valid_link(pod.annotation(LINK_ANNOTATION)?))
    }

    /// How often its plugin wants `check` run for the history (`interval_seconds`); `None`
    /// for the server's default (and for the built-in checks).
    pub fn interval(&self, check: &str) -> Option<Duration> {
        if check == HEALTH || check == ROLLOUT {
            return None;
        }
        let (plugin, _) = self.plugin.as_ref()?;
        plugin.settings().interval
    }

    /// Whether the service has this check.
    pub fn has_check(&self, check: &str) -> bool {
        if check == HEALTH {
            return !self.pods.is_empty();
        }
        if check == ROLLOUT {
            return self.has_rollout;
        }
        self.plugin
            .as_ref()
            .is_some_and(|(plugin, _)| plugin.checks().iter().any(|c| c.name == check))
    }
}

/// How one check of one plugin version last ran, for the authenticated plugin status.
#[derive(Debug, Clone, Default)]
struct CheckRuns {
    /// When it last answered.
    last_success: Option<jiff::Timestamp>,
    /// Its last failure, cleared when it next answers.
    last_error: Option<(String, jiff::Timestamp)>,
    /// How long its last run took (the history's latency of a plugin check).
    last_duration: Option<Duration>,
}

/// The runs of one service's plugin version (its generation); a new version starts afresh.
#[derive(Debug, Default)]
struct PluginRuns {
    generation: u64,
    checks: BTreeMap<String, CheckRuns>,
}

impl PluginRuns {
    fn record(
        &mut self,
        generation: u64,
        check: &str,
        result: &Result<Outcome, PluginError>,
        took: Duration,
    ) {
        if generation != self.generation {
            *self = PluginRuns {
                generation,
                checks: BTreeMap::new(),
            };
        }
        let runs = self.checks.entry(check.to_owned()).or_default();
        let now = jiff::Timestamp::now();
        runs.last_duration = Some(took);
        match result {
            Ok(_) => (runs.last_success, runs.last_error) = (Some(now), None),
            Err(err) => runs.last_error = Some((err.to_string(), now)),
        }
    }
}

/// Runs by service.
type RunsByService = BTreeMap<String, PluginRuns>;

/// How the core runs checks.
#[derive(Debug, Clone, Copy)]
pub struct CheckerConfig {
    /// Plugin runs at once; past it, cached results or `busy`.
    pub max_plugin_runs: usize,
    /// Plugin calls executing at once (the others wait their turn): the cores plugins may
    /// take from serving badges.
    pub plugin_cpus: usize,
    /// How long the pod watch may fail before health answers say they are stale.
    pub stale_after: Duration,
}

/// Where a request may be answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// This cluster only: a request from a peer (peers never forward to their peers).
    Local,
    /// This cluster first, then the peers.
    Federated,
}

/// Splits `<service>@<cluster>` (one cluster's service) from a plain service name.
pub fn split_cluster(name: &str) -> (&str, Option<&str>) {
    match name.split_once('@') {
        Some((service, cluster)) => (service, Some(cluster)),
        None => (name, None),
    }
}

/// Runs checks: the one entry point of the HTTP layer and of `kube-shields check`.
pub struct Checker {
    pods: Arc<SharedIndex>,
    plugins: Arc<PluginDir>,
    peers: Arc<Peers>,
    cache: ResultCache<PluginResult>,
    runs: Arc<Mutex<RunsByService>>,
    metrics: Arc<Metrics>,
    stale_after: Duration,
    /// Whether this cluster keeps history (`--history-dir`, `--history-url`).
    keeps_history: bool,
    /// Where it is kept, once the store is open (a shared database may come up after the
    /// server: history answers `unavailable` until then).
    history: std::sync::OnceLock<kube_shields_history::Store>,
}

impl Checker {
    /// A checker over the pod index, the plugins and the peers.
    pub fn new(
        pods: Arc<SharedIndex>,
        plugins: Arc<PluginDir>,
        peers: Arc<Peers>,
        config: CheckerConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Checker {
            pods,
            plugins,
            peers,
            cache: ResultCache::new(config.max_plugin_runs),
            runs: Arc::default(),
            metrics,
            stale_after: config.stale_after,
            keeps_history: false,
            history: std::sync::OnceLock::new(),
        }
    }

    /// The same checker, keeping history: in the store given to [`Checker::set_history`] once
    /// it is open, `unavailable` until then.
    pub fn keeping_history(mut self) -> Self {
        self.keeps_history = true;
        self
    }

    /// The store the history is kept in, now open; a second store is ignored.
    pub fn set_history(&self, store: kube_shields_history::Store) {
        let _ = self.history.set(store);
    }

    /// Every service name, from pods and from plugins, sorted and unique.
    pub fn service_names(&self) -> Vec<String> {
        let index = self.pods.current();
        let plugins = self.plugins.current();
        let mut names: Vec<String> = index
            .names()
            .chain(plugins.services())
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Finds a service by flat name or `name.namespace` (an exact flat name wins).
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
        let workloads = self.pods.workloads();
        let has_rollout = pods
            .iter()
            .any(|pod| workload_of(pod).is_some_and(|(kind, _)| workloads.follows(kind)));
        Ok(Service {
            name: flat.to_owned(),
            scope: name.to_owned(),
            pods: pods.to_vec(),
            has_rollout,
            plugin,
        })
    }

    /// Runs `check` of `service`: health from the pods, anything else through its plugin.
    pub async fn run(&self, service: &Service, check: &str) -> Result<Answer, CheckError> {
        if let Some(answer) = self.built_in(service, check) {
            return Ok(answer);
        }
        match &service.plugin {
            Some((plugin, generation)) if service.has_check(check) => {
                let (answer, cache_use) =
                    self.run_plugin(service, check, plugin, *generation).await;
                self.metrics.observe_plugin(
                    &service.name,
                    check,
                    cache_use.metric_label(),
                    answer.metric_label(),
                );
                Ok(answer)
            }
            _ => Err(CheckError::UnknownCheck {
                service: service.scope.clone(),
                check: check.to_owned(),
            }),
        }
    }

    /// A built-in check's answer (`health`, `rollout`): computed from the pod and workload
    /// indexes, at once. `None` for a plugin's check.
    fn built_in(&self, service: &Service, check: &str) -> Option<Answer> {
        if check == HEALTH && !service.pods.is_empty() {
            let stale = self
                .pods
                .watch_health()
                .failing_for()
                .is_some_and(|failing| failing >= self.stale_after);
            return Some(Answer::health(&service.pods, jiff::Timestamp::now(), stale));
        }
        if check == ROLLOUT && service.has_rollout {
            let stale = self
                .pods
                .workload_watch_health()
                .failing_for()
                .is_some_and(|failing| failing >= self.stale_after);
            let workloads = self.pods.workloads();
            let rollout = rollout(&service.pods, &workloads)
                .unwrap_or_else(|| Rollout::one(kstatus::Status::Unknown, None));
            return Some(Answer::Rollout { rollout, stale });
        }
        None
    }

    /// How each check of `service` stands without running anything: built-in checks now, a
    /// plugin's checks by their last result (if any).
    fn states(&self, service: &Service) -> BTreeMap<String, CheckStatus> {
        service
            .check_names()
            .into_iter()
            .filter_map(|check| {
                let answer = self.built_in(service, check).or_else(|| {
                    let (_, generation) = service.plugin.as_ref()?;
                    let key = CacheKey {
                        scope: service.scope.clone(),
                        check: check.to_owned(),
                    };
                    self.cache.peek(&key, *generation).map(Answer::Plugin)
                })?;
                Some((check.to_owned(), answer.status(check)))
            })
            .collect()
    }

    /// The one resolution path of a badge: `name` in this cluster first, then (when `reach`
    /// allows) the first peer whose catalog lists it; `<service>@<cluster>` asks that peer only.
    /// A peer that does not answer in time gives [`Answer::Failed`] (`unreachable`).
    pub async fn answer(
        &self,
        name: &str,
        check: &str,
        reach: Reach,
    ) -> Result<Answer, CheckError> {
        match self.locate(name, check, reach)? {
            Located::Local(service) => self.run(&service, check).await,
            Located::Remote { cluster, service } => Ok(self
                .remote(&cluster, &format!("/_/{service}/{check}/?raw"))
                .await),
        }
    }

    /// Where `check` of `name` is answered: this cluster's service, or a peer's (see
    /// [`Checker::answer`]). A peer whose catalog is known must list the service and check; one
    /// that is unknown or down is asked anyway.
    pub(crate) fn locate(
        &self,
        name: &str,
        check: &str,
        reach: Reach,
    ) -> Result<Located, CheckError> {
        let (service, cluster) = split_cluster(name);
        let Some(cluster) = cluster else {
            let local = self.service(name);
            return match local {
                Ok(service) => Ok(Located::Local(service)),
                Err(err) if reach == Reach::Local => Err(err),
                Err(err) => {
                    let clusters = self.peers.clusters();
                    let Some((cluster, entry)) = clusters
                        .iter()
                        .find_map(|cluster| Some((cluster, catalog_entry(cluster, name)?)))
                    else {
                        return Err(err);
                    };
                    remote_check(&cluster.name, name, entry, check)
                }
            };
        };
        let Some(cluster) = self
            .peers
            .canonical(cluster)
            .filter(|_| reach == Reach::Federated)
        else {
            return Err(CheckError::UnknownCluster(cluster.to_owned()));
        };
        let known = self
            .peers
            .clusters()
            .into_iter()
            .find(|known| known.name == cluster)
            .filter(|known| known.up == Some(true));
        match known {
            // A catalog that works and lacks the service: the peer would say 404 too.
            Some(known) => match catalog_entry(&known, service) {
                Some(entry) => remote_check(cluster, service, entry, check),
                None => Err(CheckError::UnknownService(name.to_owned())),
            },
            // Unknown or down: ask anyway, within the timeout.
            None => Ok(Located::Remote {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
            }),
        }
    }

    /// A peer's answer to a `?raw` path, as an answer of this cluster.
    async fn remote(&self, cluster: &str, path_and_query: &str) -> Answer {
        match self.peers.result(cluster, path_and_query).await {
            RemoteResult::Health { health, stale } => Answer::Health { health, stale },
            RemoteResult::Rollout { rollout, stale } => Answer::Rollout { rollout, stale },
            RemoteResult::Outcome(outcome) => Answer::Plugin(Arc::new(Ok(outcome))),
            RemoteResult::Failed(text) => Answer::Failed(text),
        }
    }

    /// `check` over every service whose name starts with `prefix` and has it, as one answer
    /// (see [`Answer::combine`]); with `reach` federated, over every cluster: each peer whose
    /// catalog has a match answers its own part (`/a/` with the hop marker). Peers that do not
    /// answer are left out while any part answered, and named ([`Answer::Partial`]); with none,
    /// the answer is `unreachable`.
    pub async fn aggregate(
        &self,
        prefix: &str,
        check: &str,
        reach: Reach,
    ) -> Result<Answer, CheckError> {
        let remote_parts = async {
            if reach == Reach::Local {
                return Vec::new();
            }
            let path = format!("/a/{prefix}/{check}/?raw");
            let clusters = self.peers.clusters();
            let matching: Vec<&Cluster> = clusters
                .iter()
                .filter(|cluster| {
                    cluster.services.iter().any(|entry| {
                        entry.name.starts_with(prefix) && entry.checks.iter().any(|c| c == check)
                    })
                })
                .collect();
            let answers = join_all(
                matching
                    .iter()
                    .map(|cluster| self.remote(&cluster.name, &path)),
            );
            let names = matching.iter().map(|cluster| cluster.name.clone());
            names.zip(answers.await).collect::<Vec<(String, Answer)>>()
        };
        let local_parts = self.local_aggregate_parts(prefix, check);
        let (remote_parts, local_parts) = futures::join!(remote_parts, local_parts);
        let mut answers = local_parts?;
        let any_remote = !remote_parts.is_empty();
        let mut missing = Vec::new();
        for (cluster, answer) in remote_parts {
            match answer {
                Answer::Failed(text) if text == UNREACHABLE => missing.push(cluster),
                answer => answers.push(answer),
            }
        }
        match answers.is_empty() {
            false if missing.is_empty() => Ok(Answer::combine(check, &answers)),
            false => Ok(Answer::Partial {
                answer: Box::new(Answer::combine(check, &answers)),
                missing,
            }),
            true if any_remote => Ok(Answer::Failed(UNREACHABLE.to_owned())),
            true => Err(CheckError::NoServiceMatches {
                prefix: prefix.to_owned(),
                check: check.to_owned(),
            }),
        }
    }

    async fn local_aggregate_parts(
        &self,
        prefix: &str,
        check: &str,
    ) -> Result<Vec<Answer>, CheckError> {
        let services: Vec<Service> = self
            .service_names()
            .iter()
            .filter(|name| name.starts_with(prefix))
            .filter_map(|name| self.service(name).ok())
            .filter(|service| service.has_check(check))
            .collect();
        join_all(services.iter().map(|service| self.run(service, check)))
            .await
            .into_iter()
            .collect()
    }

    /// This cluster's catalog for peers (`GET /catalog`): every service with the namespaces
    /// of its pods and its checks.
    pub fn catalog(&self) -> Vec<CatalogEntry> {
        self.service_names()
            .into_iter()
            .filter_map(|name| self.service(&name).ok())
            .map(|service| {
                let mut namespaces: Vec<String> = service
                    .pods
                    .iter()
                    .map(|pod| pod.namespace.clone())
                    .collect();
                namespaces.sort_unstable();
                namespaces.dedup();
                CatalogEntry {
                    checks: service
                        .check_names()
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    states: self.states(&service),
                    descriptions: service.descriptions(),
                    link: service.link(),
                    history: self.keeps_history(),
                    name: service.name,
                    namespaces,
                }
            })
            .collect()
    }

    /// The pod index the health check reads.
    pub fn pods(&self) -> &SharedIndex {
        &self.pods
    }

    /// The peers: their catalogs and state.
    pub fn peers(&self) -> &Arc<Peers> {
        &self.peers
    }

    /// `GET /plugins`: each plugin's load status; each check of the version serving with
    /// `last_success` and `last_error` (`{message, at}`, cleared when the check next answers).
    pub fn plugin_status(&self) -> Value {
        let plugins = self.plugins.current();
        let mut status = plugins.status();
        let runs = self.runs.lock().expect("runs lock");
        for (service, entry) in status.as_object_mut().into_iter().flatten() {
            let generation = plugins.get(service).map(|entry| entry.generation);
            let runs = runs
                .get(service)
                .filter(|runs| Some(runs.generation) == generation);
            let checks = entry.get_mut("checks").and_then(Value::as_array_mut);
            for check in checks.into_iter().flatten() {
                let name = check["name"].as_str().unwrap_or_default();
                let last = runs
                    .and_then(|runs| runs.checks.get(name))
                    .cloned()
                    .unwrap_or_default();
                check["last_success"] =
                    serde_json::json!(last.last_success.map(|at| at.to_string()));
                check["last_error"] = serde_json::json!(last.last_error.map(
                    |(message, at)| serde_json::json!({"message": message, "at": at.to_string()})
                ));
            }
        }
        status
    }

    /// The plugin entry of a service: the version serving, load errors and warnings.
    pub fn plugin_entry(&self, service: &str) -> Option<crate::plugin_dir::PluginEntry> {
        self.plugins.current().get(service).cloned()
    }

    /// Whether the pods have been listed once and the plugins loaded once (`/readyz`).
    pub fn readiness(&self) -> (bool, bool) {
        (self.pods.is_synced(), self.plugins.is_loaded())
    }

    /// The Prometheus text, with the gauges read now.
    pub fn metrics_text(&self, format: crate::metrics::MetricsFormat) -> String {
        self.metrics
            .render(&self.pods, &self.plugins, &self.peers.status(), format)
    }

    /// The metrics the core and the HTTP layer count into.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn run_plugin(
        &self,
        service: &Service,
        check: &str,
        plugin: &Arc<LoadedPlugin>,
        generation: u64,
    ) -> (Answer, CacheUse) {
        let key = CacheKey {
            scope: service.scope.clone(),
            check: check.to_owned(),
        };
        let run = || {
            let controllers = controllers(&service.pods, &self.pods.workloads());
            let (plugin, pods, runs, metrics) = (
                Arc::clone(plugin),
                service.pods.clone(),
                Arc::clone(&self.runs),
                Arc::clone(&self.metrics),
            );
            let (service, check) = (service.name.clone(), check.to_owned());
            async move {
                let started = std::time::Instant::now();
                let result = plugin.run_with(&check, &pods, &controllers).await;
                let took = started.elapsed();
                metrics.observe_plugin_call(&service, &check, took.as_secs_f64());
                if let Err(err) = &result {
                    tracing::warn!(plugin = %service, check = %check, error = %err, "plugin check failed");
                }
                let mut runs = runs.lock().expect("runs lock");
                runs.entry(service)
                    .or_default()
                    .record(generation, &check, &result, took);
                Arc::new(result)
            }
            .boxed()
        };
        let (result, cache_use) = self
            .cache
            .get(key, generation, plugin.settings().cache_ttl, run)
            .await;
        (result.map_or(Answer::Busy, Answer::Plugin), cache_use)
    }
}

/// Where a check is answered.
pub(crate) enum Located {
    /// By this cluster: its service.
    Local(Service),
    /// By a peer: the peer's name and the service as that peer knows it.
    Remote {
        /// The peer.
        cluster: String,
        /// The service in the peer (flat, or `name.namespace`).
        service: String,
    },
}

/// `check` of `service` in `cluster`, whose catalog `entry` lists the service: located there
/// when the entry lists the check.
fn remote_check(
    cluster: &str,
    service: &str,
    entry: &CatalogEntry,
    check: &str,
) -> Result<Located, CheckError> {
    if !entry.checks.iter().any(|known| known == check) {
        return Err(CheckError::UnknownCheck {
            service: format!("{service}@{cluster}"),
            check: check.to_owned(),
        });
    }
    Ok(Located::Remote {
        cluster: cluster.to_owned(),
        service: service.to_owned(),
    })
}

/// The entry of a cluster's catalog that `name` (flat, or `name.namespace`) addresses.
fn catalog_entry<'a>(cluster: &'a Cluster, name: &str) -> Option<&'a CatalogEntry> {
    cluster.services.iter().find(|entry| {
        entry.name == name
            || name.strip_prefix(entry.name.as_str()).is_some_and(|rest| {
                rest.strip_prefix('.')
                    .is_some_and(|ns| entry.namespaces.iter().any(|known| known == ns))
            })
    })
}
