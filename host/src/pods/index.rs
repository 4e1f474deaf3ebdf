//! The service index: pods grouped by service name, rebuilt from the pod store and swapped in
//! whole, so badge requests read a consistent snapshot without touching the API server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::{ArcSwap, Guard};

use super::model::PodInfo;
use super::naming::{cron_run, service_name, workload_of};
use super::watch_health::WatchHealth;
use super::workload::{WorkloadIndex, WorkloadKind};

/// Pods grouped by service: by flat name across namespaces, and by `name.namespace`.
#[derive(Debug, Default)]
pub struct ServiceIndex {
    /// Flat name → its pods in every namespace, sorted by name for listing.
    by_name: BTreeMap<String, Vec<Arc<PodInfo>>>,
    /// `name.namespace` → the flat name and the pods of that one namespace.
    by_qualified_name: HashMap<String, (String, Vec<Arc<PodInfo>>)>,
    pod_count: usize,
    /// The workload kinds owning the listed pods: the ones whose rollout is followed.
    workload_kinds: BTreeSet<WorkloadKind>,
}

impl ServiceIndex {
    /// Groups pods by the naming rule; bare pods are left out, and so are the pods of a
    /// CronJob's earlier runs: its service shows its latest run.
    pub fn build(pods: impl IntoIterator<Item = Arc<PodInfo>>) -> Self {
        let pods: Vec<Arc<PodInfo>> = pods.into_iter().collect();
        let mut latest_run: HashMap<(&str, &str), u64> = HashMap::new();
        for pod in &pods {
            if let Some((cronjob, minute)) = cron_run(pod) {
                let latest = latest_run
                    .entry((cronjob, pod.namespace.as_str()))
                    .or_default();
                *latest = (*latest).max(minute);
            }
        }
        let earlier_run = |pod: &PodInfo| {
            cron_run(pod).is_some_and(|(cronjob, minute)| {
                latest_run[&(cronjob, pod.namespace.as_str())] > minute
            })
        };
        let mut index = ServiceIndex {
            pod_count: pods.len(),
            ..ServiceIndex::default()
        };
        for pod in pods.iter().filter(|pod| !earlier_run(pod)) {
            let pod = Arc::clone(pod);
            let Some(name) = service_name(&pod) else {
                continue;
            };
            if let Some((kind, _)) = workload_of(&pod) {
                index.workload_kinds.insert(kind);
                // A CronJob's rollout, once the CronJob is current, is its latest run's.
                if kind == WorkloadKind::CronJob {
                    index.workload_kinds.insert(WorkloadKind::Job);
                }
            }
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

    /// Every name a request may address a service by, flat and `name.namespace`, with the
    /// pods [`lookup`](Self::lookup) gives for it.
    pub fn addresses(&self) -> impl Iterator<Item = (&str, &[Arc<PodInfo>])> {
        let qualified = self
            .by_qualified_name
            .iter()
            .filter(|(name, _)| !self.by_name.contains_key(name.as_str()))
            .map(|(name, (_, pods))| (name.as_str(), pods.as_slice()));
        self.services().chain(qualified)
    }

    /// Flat service names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Flat services with their pods, sorted by name.
    pub fn services(&self) -> impl Iterator<Item = (&str, &[Arc<PodInfo>])> {
        self.by_name
            .iter()
            .map(|(name, pods)| (name.as_str(), pods.as_slice()))
    }

    /// The workload kinds owning the listed pods.
    pub fn workload_kinds(&self) -> BTreeSet<WorkloadKind> {
        self.workload_kinds.clone()
    }

    /// Number of pods in the store, bare pods included.
    pub fn pod_count(&self) -> usize {
        self.pod_count
    }
}

/// The current index, shared between the pod source that publishes it and the requests that
/// read it; likewise the workloads owning the pods.
#[derive(Debug)]
pub struct SharedIndex {
    current: ArcSwap<ServiceIndex>,
    synced: AtomicBool,
    watch_health: WatchHealth,
    /// Bumped on each publish: the workload watch starts the kinds a new index needs.
    published: tokio::sync::watch::Sender<u64>,
    workloads: ArcSwap<WorkloadIndex>,
    workload_watch_health: WatchHealth,
}

impl Default for SharedIndex {
    fn default() -> Self {
        SharedIndex {
            current: ArcSwap::default(),
            synced: AtomicBool::default(),
            watch_health: WatchHealth::default(),
            published: tokio::sync::watch::Sender::new(0),
            workloads: ArcSwap::default(),
            workload_watch_health: WatchHealth::of("workload"),
        }
    }
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
        self.published.send_modify(|count| *count += 1);
    }

    /// Tells of each [`publish`](Self::publish).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.published.subscribe()
    }

    /// The latest workloads.
    pub fn workloads(&self) -> Guard<Arc<WorkloadIndex>> {
        self.workloads.load()
    }

    /// Replaces the workloads.
    pub fn publish_workloads(&self, index: WorkloadIndex) {
        self.workloads.store(Arc::new(index));
    }

    /// Whether the workload watches work, per kind and scope.
    pub fn workload_watch_health(&self) -> &WatchHealth {
        &self.workload_watch_health
    }

    /// Whether a full pod list has been published at least once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Whether the cluster watch works, per scope (always healthy for a pods file).
    pub fn watch_health(&self) -> &WatchHealth {
        &self.watch_health
    }
}

#[cfg(test)]
mod tests {
    use fake_apiserver::PodBuilder;

    use super::*;

    fn run(namespace: &str, cronjob: &str, minute: u64, phase: &str) -> Arc<PodInfo> {
        let job = format!("{cronjob}-{minute}");
        let pod = PodBuilder::new(namespace, &format!("{job}-x7k2p"))
            .controller("Job", &job)
            .phase(phase);
        Arc::new(PodInfo::from(&pod.build()))
    }

    fn pod_names(index: &ServiceIndex, service: &str) -> Vec<String> {
        index
            .lookup(service)
            .unwrap_or_default()
            .iter()
            .map(|pod| pod.name.clone())
            .collect()
    }

    #[test]
    fn a_cron_job_keeps_one_service_showing_its_latest_run() {
        let index = ServiceIndex::build([
            run("default", "nightly", 29_001_000, "Failed"),
            run("default", "nightly", 29_002_440, "Succeeded"),
            run("default", "nightly", 29_003_880, "Running"),
        ]);
        assert_eq!(index.names().collect::<Vec<_>>(), ["nightly"]);
        assert_eq!(pod_names(&index, "nightly"), ["nightly-29003880-x7k2p"]);
        assert_eq!(index.pod_count(), 3);
    }

    #[test]
    fn two_runs_at_once_show_the_later_one() {
        let index = ServiceIndex::build([
            run("default", "report", 29_001_000, "Running"),
            run("default", "report", 29_001_001, "Running"),
        ]);
        assert_eq!(pod_names(&index, "report"), ["report-29001001-x7k2p"]);
    }

    #[test]
    fn each_namespace_keeps_its_own_latest_run() {
        let index = ServiceIndex::build([
            run("default", "nightly", 29_001_000, "Running"),
            run("staging", "nightly", 29_000_000, "Running"),
        ]);
        assert_eq!(
            pod_names(&index, "nightly.default"),
            ["nightly-29001000-x7k2p"]
        );
        assert_eq!(
            pod_names(&index, "nightly.staging"),
            ["nightly-29000000-x7k2p"]
        );
        assert_eq!(pod_names(&index, "nightly").len(), 2);
    }

    #[test]
    fn every_address_gives_the_pods_its_lookup_gives() {
        let index = ServiceIndex::build([
            run("default", "nightly", 29_001_000, "Running"),
            run("staging", "nightly", 29_000_000, "Running"),
        ]);
        let mut names: Vec<&str> = index.addresses().map(|(name, _)| name).collect();
        names.sort_unstable();
        assert_eq!(names, ["nightly", "nightly.default", "nightly.staging"]);
        for (name, pods) in index.addresses() {
            assert_eq!(Some(pods), index.lookup(name), "{name}");
        }
    }

    #[test]
    fn a_job_whose_name_ends_in_a_short_number_is_its_own_service() {
        let pod = PodBuilder::new("default", "migrate-2-abcde").controller("Job", "migrate-2");
        let index = ServiceIndex::build([Arc::new(PodInfo::from(&pod.build()))]);
        assert_eq!(index.names().collect::<Vec<_>>(), ["migrate-2"]);
    }
}
