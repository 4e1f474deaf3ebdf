//! The one place that wires the service: [`Core::new`] builds the pod source, the plugin engine
//! and plugins and the checks from a [`CoreConfig`]; [`App::new`] builds a core and the HTTP
//! layer on it from an [`AppConfig`] (a core's configuration and the server's). `kube-shields
//! serve` and the tests build through [`App::new`], the `check` command through [`Core::new`],
//! so they run the same thing; both configurations start from their defaults (`new`) and
//! change what differs (`with_*`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::{Secret, Verifier};
use crate::checks::{Checker, CheckerConfig};
use crate::metrics::Metrics;
use crate::peers::{PeerSettings, Peers, PeersError};
use crate::plugin::{PluginEngine, PluginError};
use crate::plugin_dir::{PluginDir, PluginDirError, PluginSource};
use crate::pods::index::SharedIndex;
use crate::pods::{PodSourceConfig, PodsError};
use crate::schedule::ScheduleConfig;
use crate::server::{self, HealthRedirects, Mode, ServerConfig, ServerState};
use kube_shields_history::{PostgresStore, Store};

/// The default `--shields-base-url`: where redirects point.
pub const DEFAULT_SHIELDS_BASE: &str = "https://img.shields.io";

/// The default `--site-name`.
pub const DEFAULT_SITE_NAME: &str = "kube-shields";

/// The default `--max-plugin-runs`.
pub const DEFAULT_MAX_PLUGIN_RUNS: usize = 32;

/// The default `--stale-after`.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(60);

/// Where the history of scheduled checks is kept.
#[derive(Clone)]
pub enum HistoryStore {
    /// The embedded store in this directory (`--history-dir`).
    Dir(PathBuf),
    /// A shared PostgreSQL (`--history-url postgres://…`), for several replicas.
    Url(String),
}

impl std::fmt::Debug for HistoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HistoryStore::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            // The URL may carry a password.
            HistoryStore::Url(_) => f.write_str("Url(<redacted>)"),
        }
    }
}

/// Whether checks run on a schedule and where their history goes.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// The store; `None`: no schedule, no history (the history routes say so).
    pub store: Option<HistoryStore>,
    /// How often each check runs, unless its plugin sets `interval_seconds`.
    pub interval: Duration,
    /// How often a replica without the shared store's writer lock tries to take it.
    pub lease_retry: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            store: None,
            interval: crate::schedule::DEFAULT_INTERVAL,
            lease_retry: Duration::from_secs(5),
        }
    }
}

/// What the core (pods, plugins, checks) is configured with: everything `check` needs, and
/// the part of [`AppConfig`] that is not about HTTP or peers.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Where pods come from and which are served.
    pub pods: PodSourceConfig,
    /// Where plugins come from; `None`: no plugins.
    pub plugins: Option<PluginSource>,
    /// Where compiled plugins are kept between runs.
    pub cache_dir: Option<PathBuf>,
    /// Where the language runtimes for scripts are (`python.wasm`, `js.wasm`).
    pub runtime_dir: Option<PathBuf>,
    /// How checks run.
    pub checks: CheckerConfig,
    /// Checks on a schedule and their history.
    pub history: HistoryConfig,
}

impl CoreConfig {
    /// The pods of `pods`, no plugins, no compile cache or runtime directory, and checks as
    /// `serve`'s flags default them.
    pub fn new(pods: PodSourceConfig) -> Self {
        CoreConfig {
            pods,
            plugins: None,
            cache_dir: None,
            runtime_dir: None,
            checks: CheckerConfig {
                max_plugin_runs: DEFAULT_MAX_PLUGIN_RUNS,
                plugin_cpus: crate::plugin::default_plugin_cpus(),
                stale_after: DEFAULT_STALE_AFTER,
            },
            history: HistoryConfig::default(),
        }
    }

    /// Plugins from `source`.
    pub fn with_plugins(mut self, source: PluginSource) -> Self {
        self.plugins = Some(source);
        self
    }

    /// Compiled plugins kept in `dir` (`None`: compiled on every start).
    pub fn with_cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// The language runtimes in `dir` (`None`: scripts do not load).
    pub fn with_runtime_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.runtime_dir = dir;
        self
    }

    /// Checks run as `checks` says.
    pub fn with_checks(mut self, checks: CheckerConfig) -> Self {
        self.checks = checks;
        self
    }

    /// Checks also run on a schedule, their history kept as `history` says.
    pub fn with_history(mut self, history: HistoryConfig) -> Self {
        self.history = history;
        self
    }
}

/// Everything the service is configured with: the core's configuration, the HTTP layer's and
/// the peers'. [`AppConfig::new`] gives `serve`'s defaults; `with_*` changes one part.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Pods, plugins and checks.
    pub core: CoreConfig,
    /// The HTTP layer's settings.
    pub server: ServerConfig,
    /// The `Intra-Shield` secret; required in private mode and for peers.
    pub secret: Option<Secret>,
    /// How peers (`OTHER_SHIELDS`) are reached.
    pub peers: PeerSettings,
}

impl AppConfig {
    /// `core` served as `serve` does with no flag but the pods': private mode (which needs a
    /// secret, see [`AppConfig::with_secret`]), redirects to shields.io, peer defaults.
    pub fn new(core: CoreConfig) -> Self {
        AppConfig {
            core,
            server: ServerConfig {
                shields_base: DEFAULT_SHIELDS_BASE.to_owned(),
                mode: Mode::Private,
                site_name: DEFAULT_SITE_NAME.to_owned(),
                cluster_name: None,
            },
            secret: None,
            peers: PeerSettings::default(),
        }
    }

    /// Who may read, and the peers.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.server.mode = mode;
        self
    }

    /// Redirects to `base` (e.g. `https://img.shields.io`).
    pub fn with_shields_base(mut self, base: impl Into<String>) -> Self {
        self.server.shields_base = base.into();
        self
    }

    /// The page title and hover text on `/`.
    pub fn with_site_name(mut self, name: impl Into<String>) -> Self {
        self.server.site_name = name.into();
        self
    }

    /// This cluster's name on `/` and in `/catalog`.
    pub fn with_cluster_name(mut self, name: Option<String>) -> Self {
        self.server.cluster_name = name;
        self
    }

    /// The `Intra-Shield` secret.
    pub fn with_secret(mut self, secret: Option<Secret>) -> Self {
        self.secret = secret;
        self
    }

    /// How peers are reached.
    pub fn with_peer_settings(mut self, peers: PeerSettings) -> Self {
        self.peers = peers;
        self
    }
}

/// Why the service cannot start; each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Private mode without a secret.
    #[error(
        "private mode (OTHER_SHIELDS unset) needs INTRA_SHIELD_SECRET: the path of a file with at least \
         32 bytes, e.g. `head -c 32 /dev/urandom | base64 > secret`; or set OTHER_SHIELDS=None for public mode"
    )]
    SecretRequired,
    /// Peers without a secret to sign requests to them.
    #[error(
        "OTHER_SHIELDS lists peers, and requests to peers are signed: set INTRA_SHIELD_SECRET to the path of \
         the secret file the peers share (at least 32 bytes)"
    )]
    PeerSecretRequired,
    /// The peers cannot be used.
    #[error(transparent)]
    Peers(#[from] PeersError),
    /// The pod source cannot be used.
    #[error("pod source: {0}")]
    Pods(#[from] PodsError),
    /// The plugin engine cannot start.
    #[error("plugin engine: {0}")]
    Engine(#[source] PluginError),
    /// The plugin directory cannot be used.
    #[error("setting PLUGIN_DIR: {0}")]
    Plugins(#[source] PluginDirError),
    /// The compile cache cannot be used (the text names the setting).
    #[error(transparent)]
    CompileCache(PluginDirError),
    /// The history store cannot be opened.
    #[error("setting HISTORY_DIR or HISTORY_URL: {0}")]
    History(#[source] kube_shields_history::HistoryError),
}

impl AppError {
    /// A short, stable name for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            AppError::SecretRequired => "secret_required",
            AppError::PeerSecretRequired => "peer_secret_required",
            AppError::Peers(_) => "peers",
            AppError::Pods(_) => "pods",
            AppError::Engine(_) => "engine",
            AppError::Plugins(_) => "plugins",
            AppError::CompileCache(_) => "compile_cache",
            AppError::History(_) => "history",
        }
    }
}

/// The tasks a core runs in the background, stopped when it goes.
struct Tasks {
    pod_source: JoinHandle<()>,
    peer_refresh: Option<JoinHandle<()>>,
    schedule: Option<JoinHandle<()>>,
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.pod_source.abort();
        for task in [&self.peer_refresh, &self.schedule].into_iter().flatten() {
            task.abort();
        }
    }
}

/// The core without HTTP: pods watched, plugins loaded, checks answered. [`App`] serves one;
/// `check` uses one alone.
pub struct Core {
    checker: Arc<Checker>,
    tasks: Tasks,
}

/// The running service: a [`Core`] and the HTTP layer, ready to serve.
pub struct App {
    state: Arc<ServerState>,
    _tasks: Tasks,
}

/// The runtime directory when none is configured: `runtimes/` beside the binary (the image), or
/// beside its folder (`target/runtimes` for `target/debug/kube-shields` in a checkout, where
/// `scripts/build-runtimes.sh` builds them).
pub fn default_runtime_dir() -> Option<PathBuf> {
    let binary = std::env::current_exe().ok()?;
    let folder = binary.parent()?;
    [Some(folder), folder.parent()]
        .into_iter()
        .flatten()
        .map(|dir| dir.join("runtimes"))
        .find(|dir| dir.is_dir())
}

/// Connects to the shared history database, trying again after 1, 2, 4 … 30 s while it does
/// not answer (logged each time, without the URL's password).
async fn connect_until_up(url: &str, lease_retry: Duration) -> Store {
    let mut wait = Duration::from_secs(1);
    loop {
        match Store::connect_url(url, lease_retry).await {
            Ok(store) => return store,
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?wait, "history database not reachable; badges serve meanwhile");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

impl Core {
    /// Starts the pod source (returning once it is usable) and loads the plugins, for this
    /// cluster alone (no peers). A plugin directory loads in the background; one file
    /// (`check`'s) is loaded before this returns.
    pub async fn new(config: CoreConfig) -> Result<Core, AppError> {
        Core::start(config, Peers::none()).await
    }

    async fn start(config: CoreConfig, peers: Arc<Peers>) -> Result<Core, AppError> {
        let pods = SharedIndex::new();
        let pod_source = crate::pods::start(config.pods, Arc::clone(&pods)).await?;
        let plugins = match config.plugins {
            Some(source) => {
                let engine = PluginEngine::with_cpus(config.checks.plugin_cpus);
                let engine = Arc::new(engine.map_err(AppError::Engine)?);
                // A directory loads in the background (the server listens meanwhile, not ready
                // until it is done); one file (`check`) is loaded before this returns.
                let (cache_dir, runtime_dir) = (config.cache_dir, config.runtime_dir);
                let opened = match &source {
                    PluginSource::Directory(_) => {
                        PluginDir::start(source, engine, cache_dir, runtime_dir).await
                    }
                    PluginSource::File { .. } => {
                        PluginDir::open(source, engine, cache_dir, runtime_dir).await
                    }
                };
                opened.map_err(|error| match error {
                    PluginDirError::CacheDir { .. } | PluginDirError::CacheDirUnsafe { .. } => {
                        AppError::CompileCache(error)
                    }
                    error => AppError::Plugins(error),
                })?
            }
            None => PluginDir::empty(),
        };
        let peer_refresh = peers.start();
        let mut checker = Checker::new(
            pods,
            plugins,
            peers,
            config.checks,
            Arc::new(Metrics::default()),
        );
        let history = config.history;
        if history.store.is_some() {
            checker = checker.keeping_history();
        }
        let checker = Arc::new(checker);
        let schedule = ScheduleConfig {
            interval: history.interval,
            concurrency: (config.checks.max_plugin_runs / 2).max(1),
        };
        let schedule = match history.store {
            None => None,
            // A directory that cannot hold the store is a setting to fix: refuse to start.
            Some(HistoryStore::Dir(dir)) => {
                let store = Store::open_dir(dir).await.map_err(AppError::History)?;
                checker.set_history(store.clone());
                Some(tokio::spawn(crate::schedule::run(
                    Arc::clone(&checker),
                    store,
                    schedule,
                )))
            }
            // A URL that cannot work too; a database that is down is waited for.
            Some(HistoryStore::Url(url)) => {
                PostgresStore::check_url(&url).map_err(AppError::History)?;
                let checker = Arc::clone(&checker);
                Some(tokio::spawn(async move {
                    let store = connect_until_up(&url, history.lease_retry).await;
                    checker.set_history(store.clone());
                    crate::schedule::run(checker, store, schedule).await;
                }))
            }
        };
        Ok(Core {
            checker,
            tasks: Tasks {
                pod_source,
                peer_refresh,
                schedule,
            },
        })
    }

    /// Services, checks, aggregates.
    pub fn checker(&self) -> &Checker {
        &self.checker
    }
}

impl App {
    /// Starts the [`Core`] with the peers the configuration names and builds the HTTP layer.
    /// Refuses a configuration that cannot work, saying which setting.
    pub async fn new(config: AppConfig) -> Result<App, AppError> {
        if config.server.mode == Mode::Private && config.secret.is_none() {
            return Err(AppError::SecretRequired);
        }
        let peers = match (&config.server.mode, &config.secret) {
            (Mode::Public { peers }, _) if peers.is_empty() => Peers::none(),
            (Mode::Private | Mode::Dev, _) => Peers::none(),
            (Mode::Public { .. }, None) => return Err(AppError::PeerSecretRequired),
            (Mode::Public { peers }, Some(secret)) => Peers::new(peers, &config.peers, secret)?,
        };
        App::with_peers(config, peers).await
    }

    /// [`App::new`] with `peers` instead of those the configuration names: peers reached in
    /// memory ([`Peers::in_memory`]), so federation is tested without sockets.
    pub async fn with_peers(config: AppConfig, peers: Arc<Peers>) -> Result<App, AppError> {
        let Core { checker, tasks } = Core::start(config.core, peers).await?;
        let verifier = config.secret.as_ref().map(Verifier::new);
        let state = Arc::new(ServerState {
            checker,
            verifier,
            config: config.server,
            health_redirects: HealthRedirects::default(),
            index_pages: crate::server::IndexPages::new(),
        });
        Ok(App {
            state,
            _tasks: tasks,
        })
    }

    /// The core: services, checks, aggregates.
    pub fn checker(&self) -> &Checker {
        &self.state.checker
    }

    /// The service's routes, access control and metrics as one router: requests without a
    /// socket (`tower::ServiceExt::oneshot`) for the route tests.
    pub fn router(&self) -> axum::Router {
        server::router(Arc::clone(&self.state)).0
    }

    /// Serves on `listener` until `shutdown` completes, then drains open requests.
    pub fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        server::serve(listener, Arc::clone(&self.state), shutdown)
    }
}
