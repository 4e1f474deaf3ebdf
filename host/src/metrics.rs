//! Prometheus metrics: requests, latency, plugin runs and the result cache, plus gauges read
//! from the pod index, its watch and the plugin directory at scrape time.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::peers::PeerStatus;
use crate::plugin_dir::PluginDir;
use crate::pods::index::SharedIndex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    plugin: String,
    check: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

/// A route template as the `route` label of the request metrics.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(&'static str);

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Route templates as `'static` labels: there are few (the router's), so each is kept for
    /// good the first time it is seen, and counting a request allocates nothing.
    routes: ArcSwap<Vec<&'static str>>,
    adding_route: Mutex<()>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    plugin_runs: Family<RunLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
    pods: Gauge,
    plugins_loaded: Gauge,
    reload_errors: Gauge,
    watch_healthy: Family<ScopeLabels, Gauge>,
    watch_last_success: Family<ScopeLabels, Gauge>,
    peer_up: Family<PeerLabels, Gauge>,
    peer_last_success: Family<PeerLabels, Gauge>,
    peer_latency: Family<PeerLabels, Gauge<f64, AtomicU64>>,
    peer_services: Family<PeerLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kube_shields");
        let requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            // 50 µs .. ~1.6 s
            || Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
        );
        registry.register(
            "http_request_duration_seconds",
            "Request latency by route",
            latency.clone(),
        );
        let plugin_runs = Family::default();
        registry.register(
            "plugin_runs",
            "Plugin check runs by plugin, check and outcome",
            plugin_runs.clone(),
        );
        let cache = Family::default();
        registry.register(
            "plugin_result_cache",
            "Plugin answers by cache use (hit, joined, miss, busy)",
            cache.clone(),
        );
        let pods = Gauge::default();
        registry.register("pods", "Pods in the store", pods.clone());
        let plugins_loaded = Gauge::default();
        registry.register(
            "plugins_loaded",
            "Plugins with a loaded version",
            plugins_loaded.clone(),
        );
        let reload_errors = Gauge::default();
        registry.register(
            "plugin_load_errors",
            "Plugin loads that failed since start",
            reload_errors.clone(),
        );
        let watch_healthy = Family::default();
        registry.register(
            "pod_watch_healthy",
            "1 while the pod watch of a scope (`*`: all namespaces) works, 0 while it fails",
            watch_healthy.clone(),
        );
        let watch_last_success = Family::default();
        registry.register(
            "pod_watch_last_success_timestamp_seconds",
            "When the API server last answered the pod list or watch of a scope (Unix time)",
            watch_last_success.clone(),
        );
        let peer_up = Family::default();
        registry.register(
            "peer_up",
            "1 while the last catalog fetch from a peer worked, 0 when it failed",
            peer_up.clone(),
        );
        let peer_last_success = Family::default();
        registry.register(
            "peer_last_success_timestamp_seconds",
            "When a peer's catalog was last fetched (Unix time)",
            peer_last_success.clone(),
        );
        let peer_latency = Family::default();
        registry.register(
            "peer_catalog_latency_seconds",
            "How long the last successful catalog fetch from a peer took",
            peer_latency.clone(),
        );
        let peer_services = Family::default();
        registry.register(
            "peer_services",
            "Services in a peer's cached catalog",
            peer_services.clone(),
        );
        Metrics {
            registry,
            routes: ArcSwap::default(),
            adding_route: Mutex::default(),
            peer_up,
            peer_last_success,
            peer_latency,
            peer_services,
            requests,
            latency,
            plugin_runs,
            cache,
            pods,
            plugins_loaded,
            reload_errors,
            watch_healthy,
            watch_last_success,
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn observe_request(&self, route: RouteLabel, status: u16, seconds: f64) {
        let route = route.0;
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(seconds);
    }

    /// The label of a route template (or `unmatched`) for [`observe_request`](Self::observe_request).
    pub fn route_label(&self, route: &str) -> RouteLabel {
        let find = |routes: &[&'static str]| routes.iter().copied().find(|known| *known == route);
        if let Some(known) = find(&self.routes.load()) {
            return RouteLabel(known);
        }
        let _adding = self.adding_route.lock().expect("route label lock");
        let routes = self.routes.load_full();
        if let Some(known) = find(&routes) {
            return RouteLabel(known);
        }
        let label: &'static str = Box::leak(route.into());
        let routes = routes.iter().copied().chain([label]).collect();
        self.routes.store(Arc::new(routes));
        RouteLabel(label)
    }

    /// Counts one plugin answer: how the cache served it (`hit`, `joined`, `miss`, `busy`) and,
    /// for a run (`miss`), its outcome.
    pub fn observe_plugin(
        &self,
        plugin: &str,
        check: &str,
        cache_use: &'static str,
        outcome: &'static str,
    ) {
        self.cache
            .get_or_create(&CacheLabels { result: cache_use })
            .inc();
        if cache_use == "miss" {
            let labels = RunLabels {
                plugin: plugin.to_owned(),
                check: check.to_owned(),
                outcome,
            };
            self.plugin_runs.get_or_create(&labels).inc();
        }
    }

    /// The Prometheus text exposition, with the gauges read from the pods and plugins now.
    pub fn render(&self, pods: &SharedIndex, plugins: &PluginDir, peers: &[PeerStatus]) -> String {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.pods.set(gauge(pods.current().pod_count() as u64));
        self.plugins_loaded
            .set(gauge(plugins.current().services().count() as u64));
        self.reload_errors.set(gauge(plugins.reload_errors()));
        for (scope, health) in pods.watch_health().scopes() {
            let labels = ScopeLabels { scope };
            self.watch_healthy
                .get_or_create(&labels)
                .set(i64::from(health.is_healthy()));
            if let Some(at) = health.last_success {
                self.watch_last_success
                    .get_or_create(&labels)
                    .set(at.as_second());
            }
        }
        for peer in peers {
            let labels = PeerLabels {
                peer: peer.name.clone(),
            };
            if let Some(up) = peer.up {
                self.peer_up.get_or_create(&labels).set(i64::from(up));
            }
            if let Some(at) = peer.last_success {
                self.peer_last_success
                    .get_or_create(&labels)
                    .set(at.as_second());
            }
            if let Some(latency) = peer.latency_seconds {
                self.peer_latency.get_or_create(&labels).set(latency);
            }
            self.peer_services
                .get_or_create(&labels)
                .set(gauge(peer.services as u64));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
