//! The one place that wires the service: [`App::new`] builds the pod source, the plugin engine
//! and plugins, the core and the HTTP layer from an [`AppConfig`]. `kube-shields serve`, the
//! `check` command and the tests all build through it, so they run the same thing.

use std::path::PathBuf;
use std::sync::Arc;

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
use crate::server::{self, HealthRedirects, Mode, ServerConfig, ServerState};

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct AppConfig {
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
    /// The HTTP layer's settings.
    pub server: ServerConfig,
    /// The `Intra-Shield` secret; required in private mode and for peers.
    pub secret: Option<Secret>,
    /// How peers (`OTHER_SHIELDS`) are reached.
    pub peers: PeerSettings,
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
        }
    }
}

/// The running service: pods watched, plugins loaded, ready to serve.
pub struct App {
    state: Arc<ServerState>,
    pod_source: JoinHandle<()>,
    peer_refresh: Option<JoinHandle<()>>,
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

impl App {
    /// Starts the pod source (returning once it is usable), loads the plugins and builds the
    /// core and the HTTP layer. Refuses a configuration that cannot work, saying which setting.
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
        let checker = Checker::new(
            pods,
            plugins,
            peers,
            config.checks,
            Arc::new(Metrics::default()),
        );
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
            pod_source,
            peer_refresh,
        })
    }

    /// The core: services, checks, aggregates.
    pub fn checker(&self) -> &Checker {
        &self.state.checker
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

impl Drop for App {
    fn drop(&mut self) {
        self.pod_source.abort();
        if let Some(refresh) = &self.peer_refresh {
            refresh.abort();
        }
    }
}
