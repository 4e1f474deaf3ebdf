//! Prometheus metrics: requests, latency, plugin runs and their duration, and the result cache,
//! plus values read from the pod index, its watch and the plugin directory at scrape time.
//! Exposed in both formats Prometheus reads ([`MetricsFormat`]); counters end in `_total`.

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
struct CallLabels {
    plugin: String,
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    wasmtime: &'static str,
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
struct SampleLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

/// The exposition format of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsFormat {
    /// OpenMetrics 1.0 (`application/openmetrics-text`), what Prometheus asks for first.
    OpenMetrics,
    /// The Prometheus text format 0.0.4 (`text/plain`), for every other scraper.
    Text,
}

impl MetricsFormat {
    /// The `Content-Type` of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            MetricsFormat::OpenMetrics => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
            MetricsFormat::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// wasmtime's version, for `kube_shields_build_info` (compiled plugins are tied to it).
const WASMTIME_VERSION: &str = "48.0.8";

/// A route template as the `route` label of the request metrics.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(&'static str);

/// The request metrics of one route and status ([`Metrics::request_observer`]): counting a
/// request with it skips the two lookups by label (hashing and a shared lock each), which
/// cost a prepared health badge more than its answer.
#[derive(Clone)]
pub struct RequestObserver {
    requests: Counter,
    latency: Histogram,
}

impl RequestObserver {
    /// Counts one request that took `seconds`.
    pub fn observe(&self, seconds: f64) {
        self.requests.inc();
        self.latency.observe(seconds);
    }
}

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
    plugin_call_duration: Family<CallLabels, Histogram>,
    cache: Family<CacheLabels, Counter>,
    pods: Gauge,
    plugins_loaded: Gauge,
    /// Counted by the plugin directory; brought up to its count at each scrape.
    reload_errors: Counter,
    reload_panics: Counter,
    /// Scrapes bring the counters above up to date one at a time.
    scraping: Mutex<()>,
    watch_healthy: Family<ScopeLabels, Gauge>,
    watch_last_success: Family<ScopeLabels, Gauge>,
    peer_up: Family<PeerLabels, Gauge>,
    peer_last_success: Family<PeerLabels, Gauge>,
    peer_latency: Family<PeerLabels, Gauge<f64, AtomicU64>>,
    peer_services: Family<PeerLabels, Gauge>,
    history_samples: Family<SampleLabels, Counter>,
    history_write_errors: Counter,
    history_writer: Gauge,
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
            // 50 µs .. ~6.6 s: past the peer timeout (3 s), which bounds a remote badge.
            || Histogram::new(exponential_buckets(0.000_05, 2.0, 18)),
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
        let plugin_call_duration = Family::<CallLabels, Histogram>::new_with_constructor(
            // 10 µs .. ~10 s: a trivial call to one past a long deadline.
            || Histogram::new(exponential_buckets(0.000_01, 4.0, 11)),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Plugin check calls (fresh instance to answer, waiting for a CPU slot included) by plugin and check",
            plugin_call_duration.clone(),
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
        let reload_errors = Counter::default();
        registry.register(
            "plugin_load_errors",
            "Plugin, settings and directory loads that failed",
            reload_errors.clone(),
        );
        let reload_panics = Counter::default();
        registry.register(
            "plugin_reload_panics",
            "Plugin directory rescans that panicked (survived: the plugins then serving stay)",
            reload_panics.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                wasmtime: WASMTIME_VERSION,
            })
            .set(1);
        registry.register(
            "build_info",
            "The running build: its version and wasmtime's (always 1)",
            build_info,
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
        let history_samples = Family::default();
        registry.register(
            "history_samples",
            "Scheduled check evaluations kept in the history, by outcome (up, down)",
            history_samples.clone(),
        );
        let history_write_errors = Counter::default();
        registry.register(
            "history_write_errors",
            "Batches of history samples the store refused (their samples are lost)",
            history_write_errors.clone(),
        );
        let history_writer = Gauge::default();
        registry.register(
            "history_writer",
            "Whether this replica runs the schedule and writes the history (1) or not (0)",
            history_writer.clone(),
        );
        Metrics {
            registry,
            history_samples,
            history_write_errors,
            history_writer,
            routes: ArcSwap::default(),
            adding_route: Mutex::default(),
            peer_up,
            peer_last_success,
            peer_latency,
            peer_services,
            requests,
            latency,
            plugin_runs,
            plugin_call_duration,
            cache,
            pods,
            plugins_loaded,
            reload_errors,
            reload_panics,
            scraping: Mutex::default(),
            watch_healthy,
            watch_last_success,
        }
    }
}

impl Metrics {
    /// Counts a scheduled evaluation kept in the history.
    pub fn observe_sample(&self, up: bool) {
        let outcome = if up { "up" } else { "down" };
        self.history_samples
            .get_or_create(&SampleLabels { outcome })
            .inc();
    }

    /// Counts a batch of history samples the store refused.
    pub fn history_write_failed(&self) {
        self.history_write_errors.inc();
    }

    /// Whether this replica writes the history now.
    pub fn set_history_writer(&self, writer: bool) {
        self.history_writer.set(i64::from(writer));
    }

    /// Counts one answered request.
    pub fn observe_request(&self, route: RouteLabel, status: u16, seconds: f64) {
        self.request_observer(route, status).observe(seconds);
    }

    /// The request metrics of one route and status, looked up now for many requests.
    pub fn request_observer(&self, route: RouteLabel, status: u16) -> RequestObserver {
        let route = route.0;
        RequestObserver {
            requests: self
                .requests
                .get_or_create(&RequestLabels { route, status })
                .clone(),
            latency: self.latency.get_or_create(&RouteLabels { route }).clone(),
        }
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

    /// Times one plugin check call.
    pub fn observe_plugin_call(&self, plugin: &str, check: &str, seconds: f64) {
        let labels = CallLabels {
            plugin: plugin.to_owned(),
            check: check.to_owned(),
        };
        self.plugin_call_duration
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// The exposition in `format`, with the values read from the pods and plugins now.
    pub fn render(
        &self,
        pods: &SharedIndex,
        plugins: &PluginDir,
        peers: &[PeerStatus],
        format: MetricsFormat,
    ) -> String {
        let _scraping = self
            .scraping
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.pods.set(gauge(pods.current().pod_count() as u64));
        self.plugins_loaded
            .set(gauge(plugins.current().services().count() as u64));
        catch_up(&self.reload_errors, plugins.reload_errors());
        catch_up(&self.reload_panics, plugins.reload_panics());
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
        match format {
            MetricsFormat::OpenMetrics => text,
            MetricsFormat::Text => text_format(&text),
        }
    }
}

/// Brings a counter up to a count kept elsewhere (counts only grow).
fn catch_up(counter: &Counter, count: u64) {
    let have = counter.get();
    if count > have {
        counter.inc_by(count - have);
    }
}

/// The Prometheus text format 0.0.4 of an OpenMetrics exposition, which differs in three ways
/// here: a counter family is named with its `_total` (so its samples are not read as
/// `unknown`), there are no `# UNIT` lines, and no `# EOF`.
fn text_format(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let comment = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|prefix| Some((prefix, line.strip_prefix(prefix)?)));
        match comment {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    text.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    text.push_str(line);
                }
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_counters_with_their_total_and_has_no_eof() {
        let open_metrics = "# HELP x_requests Requests.\n# TYPE x_requests counter\n\
            x_requests_total{route=\"/\"} 3\n# HELP x_pods Pods.\n# TYPE x_pods gauge\nx_pods 5\n# EOF\n";
        assert_eq!(
            text_format(open_metrics),
            "# HELP x_requests_total Requests.\n# TYPE x_requests_total counter\n\
             x_requests_total{route=\"/\"} 3\n# HELP x_pods Pods.\n# TYPE x_pods gauge\nx_pods 5\n"
        );
    }
}
