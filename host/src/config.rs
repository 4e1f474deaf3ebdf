//! `kube-shields serve`'s configuration: its flags and environment variables (clap derives on
//! [`ServeArgs`], so `--help` is their documentation), and [`ServeArgs::into_config`], the one
//! function that turns them into an [`AppConfig`] and what the command needs around it. `main`
//! only parses, logs and serves; tests parse argument lists with [`ServeArgs::parse_from`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};

use crate::app::{
    AppConfig, CoreConfig, DEFAULT_MAX_PLUGIN_RUNS, DEFAULT_SHIELDS_BASE, DEFAULT_SITE_NAME,
    DEFAULT_STALE_AFTER, HistoryConfig, HistoryStore, default_runtime_dir,
};
use crate::auth::{AuthError, Secret};
use crate::checks::CheckerConfig;
use crate::peers::PeerSettings;
use crate::plugin_dir::PluginSource;
use crate::pods::connection::KubeConnection;
use crate::pods::{PodOrigin, PodSourceConfig};
use crate::server::Mode;

/// Why `serve` cannot start with these settings; each names the setting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--dev` with an address that is not loopback.
    #[error("setting --listen: --dev serves on loopback only, and {0} is not a loopback address")]
    DevNotLoopback(SocketAddr),
    /// The secret file cannot be read or is too short.
    #[error("setting INTRA_SHIELD_SECRET: {0}")]
    Secret(#[source] AuthError),
}

impl ConfigError {
    /// A short, stable name for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ConfigError::DevNotLoopback(_) => "dev_not_loopback",
            ConfigError::Secret(_) => "secret",
        }
    }
}

/// Log format: `text` lines, or one JSON object per line. (The variants carry no doc comments:
/// clap would print them as help of each value and change every command's `--help`.)
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What `serve` runs: the application's configuration and what the command does around it.
#[derive(Debug)]
pub struct ServeConfig {
    /// The service.
    pub app: AppConfig,
    /// Where it listens.
    pub listen: SocketAddr,
    /// `--dev`: an author's loop (the command prints where to look).
    pub developing: bool,
    /// How it logs.
    pub log_format: LogFormat,
    /// What the start-up line says.
    pub startup: Startup,
}

/// The start-up line's parts: the mode (and peers), the pod source, the plugin directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// `private`, `public, no peers`, `public, peers …` or `dev (…)`.
    pub mode: String,
    /// Where pods come from.
    pub pods: String,
    /// The plugin directory and how many files it holds, or `none`.
    pub plugins: String,
}

/// `serve`'s flags alone, for parsing an argument list (tests, tools).
#[derive(Debug, Parser)]
#[command(name = "serve")]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

impl ServeArgs {
    /// Parses `serve`'s flags from `args` (the first is the program name) and the environment;
    /// prints the usage and exits on an error, as the command does.
    pub fn parse_from<I, T>(args: I) -> ServeArgs
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ServeOnly::parse_from(args).args
    }

    /// [`ServeArgs::parse_from`] returning clap's error instead of exiting.
    pub fn try_parse_from<I, T>(args: I) -> Result<ServeArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ServeOnly::try_parse_from(args).map(|only| only.args)
    }
}

/// `kube-shields serve`'s flags and environment variables.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// An author's loop: serve the plugins in DIR (and its `pods.json`, if any) on loopback
    /// only, every route open (`/plugins` too), compiled plugins kept in `check`'s cache.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plugins", "other_shields"])]
    dev: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Directory of plugins (`<service>.wasm`, `.wasm.gz`, settings `<service>.toml|json`).
    #[arg(long, env = "PLUGIN_DIR")]
    plugins: Option<PathBuf>,
    /// Directory for precompiled plugins (e.g. an emptyDir), so restarts skip compiling. The
    /// server owns it: compiled versions no plugin uses any more are removed.
    #[arg(long, env = "CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Directory of the language runtimes for scripts (default: `runtimes/` beside the binary
    /// or its folder).
    #[arg(long, env = "RUNTIME_DIR")]
    runtime_dir: Option<PathBuf>,
    /// Serve pods from a `kubectl get pods -A -o json` dump instead of a cluster.
    #[arg(long, env = "PODS_FILE")]
    pods_file: Option<PathBuf>,
    #[command(flatten)]
    kube: KubeArgs,
    /// Base URL of redirect targets.
    #[arg(long, env = "SHIELDS_BASE_URL", default_value = DEFAULT_SHIELDS_BASE)]
    shields_base_url: String,
    /// Public mode with these peers (space-separated, `None` for no peers); unset: private mode.
    #[arg(long, env = "OTHER_SHIELDS")]
    other_shields: Option<String>,
    /// Page title and badge hover text on `/`.
    #[arg(long, env = "SHIELD_SITE_NAME", default_value = DEFAULT_SITE_NAME)]
    site_name: String,
    /// This cluster's name, shown on `/` and in `/catalog` (a DNS label, e.g. `us`); peers name
    /// it in their `OTHER_SHIELDS` (`us=https://...`).
    #[arg(long, env = "CLUSTER_NAME", value_parser = cluster_name)]
    cluster_name: Option<String>,
    #[command(flatten)]
    secret: SecretArgs,
    /// Extra CA certificates (PEM) trusted for peers' TLS, beside the system roots.
    #[arg(long, env = "PEER_CA_FILE")]
    peer_ca_file: Option<PathBuf>,
    /// Milliseconds to connect to a peer.
    #[arg(long, env = "PEER_CONNECT_TIMEOUT_MS", default_value_t = 1000)]
    peer_connect_timeout_ms: u64,
    /// Milliseconds for a whole request to a peer; a remote badge waits at most this long.
    #[arg(long, env = "PEER_TIMEOUT_MS", default_value_t = 3000)]
    peer_timeout_ms: u64,
    /// Seconds between refreshes of the peers' catalogs.
    #[arg(long, env = "PEER_REFRESH", default_value_t = 30)]
    peer_refresh: u64,
    /// Seconds a peer's result is reused (requests for the same remote badge share one fetch).
    #[arg(long, env = "PEER_RESULT_CACHE_SECONDS", default_value_t = 5)]
    peer_result_cache_seconds: u64,
    /// Plugin runs allowed at once; past it, cached results or `busy`.
    #[arg(long, env = "MAX_PLUGIN_RUNS", default_value_t = DEFAULT_MAX_PLUGIN_RUNS)]
    max_plugin_runs: usize,
    /// Threads plugin calls execute on, at a lower CPU priority than HTTP (default: half the
    /// cores): at most that many calls execute at once; the others wait their turn.
    #[arg(long, env = "PLUGIN_CPUS", default_value_t = crate::plugin::default_plugin_cpus())]
    plugin_cpus: usize,
    /// Seconds the pod watch may fail before health badges say they are stale.
    #[arg(long, env = "STALE_AFTER", default_value_t = DEFAULT_STALE_AFTER.as_secs())]
    stale_after: u64,
    /// Seconds one pod watch request lasts before the API server ends it and the next starts.
    /// A scope the API server has not answered for this long (plus a sixth, 1 to 15 s) counts
    /// as failing, so badges of a hung API server turn stale after --stale-after more.
    #[arg(long, env = "WATCH_TIMEOUT", default_value_t = crate::pods::DEFAULT_WATCH_TIMEOUT.as_secs())]
    watch_timeout: u64,
    /// Directory of the embedded history store (mount a PersistentVolume; an emptyDir forgets
    /// on reschedule). With it, every check also runs on a schedule and answers uptime and
    /// response-time badges, a history JSON and a chart.
    #[arg(long, env = "HISTORY_DIR", conflicts_with = "history_url")]
    history_dir: Option<PathBuf>,
    /// A PostgreSQL shared by several replicas for the history instead
    /// (`postgres://user:password@host:5432/db?sslmode=disable`); one replica writes at a time.
    #[arg(long, env = "HISTORY_URL", hide_env_values = true)]
    history_url: Option<String>,
    /// How often each check runs for the history: seconds, or milliseconds as `500ms`. A
    /// plugin's `interval_seconds` setting overrides it for its checks.
    #[arg(long, env = "HISTORY_INTERVAL", default_value = "60", value_parser = history_interval)]
    history_interval: Duration,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How `serve` reaches the cluster and which pods it watches.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Watch only these namespaces (repeat or comma-separate); needs only a namespaced Role.
    #[arg(long = "namespace", env = "WATCH_NAMESPACE", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Namespaces left out when watching all.
    #[arg(
        long = "exclude-namespace",
        env = "EXCLUDE_NAMESPACE",
        value_delimiter = ',',
        default_value = "kube-system"
    )]
    exclude_namespaces: Vec<String>,
    /// Only pods matching this label selector.
    #[arg(long, env = "LABEL_SELECTOR")]
    label_selector: Option<String>,
    /// API server URL (explicit connection).
    #[arg(long, env = "KUBE_API_SERVER")]
    kube_api_server: Option<String>,
    /// CA bundle for the API server.
    #[arg(long, env = "KUBE_CA_FILE")]
    kube_ca_file: Option<PathBuf>,
    /// File holding a bearer token (re-read when it rotates).
    #[arg(long, env = "KUBE_TOKEN_FILE")]
    kube_token_file: Option<PathBuf>,
    /// Client certificate (PEM).
    #[arg(long, env = "KUBE_CLIENT_CERT")]
    kube_client_cert: Option<PathBuf>,
    /// Client key (PEM).
    #[arg(long, env = "KUBE_CLIENT_KEY")]
    kube_client_key: Option<PathBuf>,
    /// Server name to verify in the API server's certificate.
    #[arg(long, env = "KUBE_TLS_SERVER_NAME")]
    kube_tls_server_name: Option<String>,
    /// Do not verify the API server's certificate (testing only).
    #[arg(long, env = "KUBE_INSECURE_SKIP_TLS_VERIFY")]
    kube_insecure_skip_tls_verify: bool,
    /// Plain-http API URL of `kubectl proxy`, e.g. http://127.0.0.1:8001.
    #[arg(long, env = "KUBE_URL")]
    kube_url: Option<String>,
}

/// The `Intra-Shield` secret's file.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// File holding the shared Intra-Shield secret (≥ 32 bytes); env alias INTRA_SECRET.
    #[arg(long, env = "INTRA_SHIELD_SECRET")]
    intra_shield_secret: Option<PathBuf>,
}

impl SecretArgs {
    fn path(&self) -> Option<PathBuf> {
        self.intra_shield_secret
            .clone()
            .or_else(|| std::env::var_os("INTRA_SECRET").map(PathBuf::from))
    }

    /// The secret from the file the flag or environment names, if one does.
    pub fn load(&self) -> Result<Option<Secret>, ConfigError> {
        self.path()
            .map(|path| Secret::from_file(&path).map_err(ConfigError::Secret))
            .transpose()
    }
}

impl ServeArgs {
    /// `--dev DIR`: the plugins and pods of DIR, on loopback (port as `--listen` says), with
    /// the user's compile cache.
    fn for_development(&mut self, dir: PathBuf) -> Result<(), ConfigError> {
        if self.listen.ip().is_unspecified() {
            self.listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        } else if !self.listen.ip().is_loopback() {
            return Err(ConfigError::DevNotLoopback(self.listen));
        }
        let pods = dir.join("pods.json");
        if self.pods_file.is_none() && pods.is_file() {
            self.pods_file = Some(pods);
        }
        // `check`'s cache (marked shared, so this server prunes nothing in it): a language
        // runtime `check` compiled is not compiled again.
        self.cache_dir = self.cache_dir.take().or_else(user_cache_dir);
        self.plugins = Some(dir);
        Ok(())
    }

    /// What `serve` runs with these flags and environment: the application's configuration,
    /// the address and log format, and the start-up line. Reads only the secret file (and the
    /// plugin directory, to count its files for the start-up line).
    pub fn into_config(mut self) -> Result<ServeConfig, ConfigError> {
        let dev = self.dev.take();
        let developing = dev.is_some();
        if let Some(dir) = dev {
            self.for_development(dir)?;
        }
        let pods = PodSourceConfig {
            namespaces: self.kube.namespaces.clone(),
            exclude: self.kube.exclude_namespaces.clone(),
            label_selector: self.kube.label_selector.clone(),
            watch_timeout: Duration::from_secs(self.watch_timeout.max(1)),
            ..PodSourceConfig::all(match &self.pods_file {
                Some(path) => PodOrigin::File(path.clone()),
                None if developing => PodOrigin::Empty,
                None => PodOrigin::Kube(self.kube.connection()),
            })
        };
        let mut core = CoreConfig::new(pods)
            .with_cache_dir(self.cache_dir.clone())
            .with_runtime_dir(self.runtime_dir.clone().or_else(default_runtime_dir))
            .with_checks(CheckerConfig {
                max_plugin_runs: self.max_plugin_runs,
                plugin_cpus: self.plugin_cpus,
                stale_after: Duration::from_secs(self.stale_after),
            });
        if let Some(dir) = &self.plugins {
            core = core.with_plugins(PluginSource::Directory(dir.clone()));
        }
        let history_store = match (&self.history_dir, &self.history_url) {
            (Some(dir), _) => Some(HistoryStore::Dir(dir.clone())),
            (None, Some(url)) => Some(HistoryStore::Url(url.clone())),
            (None, None) => None,
        };
        core = core.with_history(HistoryConfig {
            store: history_store,
            interval: self.history_interval,
            ..HistoryConfig::default()
        });
        let config = AppConfig::new(core)
            .with_mode(match developing {
                true => Mode::Dev,
                false => Mode::from_other_shields(self.other_shields.as_deref()),
            })
            .with_shields_base(self.shields_base_url.clone())
            .with_site_name(self.site_name.clone())
            .with_cluster_name(self.cluster_name.clone())
            .with_secret(self.secret.load()?)
            .with_peer_settings(PeerSettings {
                ca_file: self.peer_ca_file.clone(),
                connect_timeout: Duration::from_millis(self.peer_connect_timeout_ms),
                timeout: Duration::from_millis(self.peer_timeout_ms),
                refresh: Duration::from_secs(self.peer_refresh.max(1)),
                result_ttl: Duration::from_secs(self.peer_result_cache_seconds),
            });
        let mode = match &config.server.mode {
            Mode::Private => "private".to_owned(),
            Mode::Public { peers } if peers.is_empty() => "public, no peers".to_owned(),
            Mode::Public { peers } => format!("public, peers {}", peers.join(" ")),
            Mode::Dev => "dev (loopback only, every route open)".to_owned(),
        };
        let pods = match &self.pods_file {
            Some(path) => format!("pods file {}", path.display()),
            None if developing => "none".to_owned(),
            None => "the cluster's API server".to_owned(),
        };
        let plugins = self.plugins.as_ref().map_or_else(
            || "none".to_owned(),
            |dir| format!("{} ({} files)", dir.display(), count_files(dir)),
        );
        Ok(ServeConfig {
            app: config,
            listen: self.listen,
            developing,
            log_format: self.log_format,
            startup: Startup {
                mode,
                pods,
                plugins,
            },
        })
    }
}

impl KubeArgs {
    fn connection(&self) -> KubeConnection {
        KubeConnection {
            api_server: self.kube_api_server.clone(),
            ca_file: self.kube_ca_file.clone(),
            token_file: self.kube_token_file.clone(),
            client_cert: self.kube_client_cert.clone(),
            client_key: self.kube_client_key.clone(),
            tls_server_name: self.kube_tls_server_name.clone(),
            insecure_skip_tls_verify: self.kube_insecure_skip_tls_verify,
            kube_url: self.kube_url.clone(),
        }
    }
}

/// Visible files in the plugin directory, for the start-up line.
fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

/// `--cluster-name`: a DNS label, as peers' names are.
fn cluster_name(value: &str) -> Result<String, String> {
    if crate::peers::is_cluster_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{}` is not a cluster name: a DNS label ([a-z0-9-], at most 63, no leading or trailing -)",
            value.escape_debug()
        ))
    }
}

/// `$XDG_CACHE_HOME/kube-shields`, else `~/.cache/kube-shields`: where `check` keeps compiled
/// plugins, so the second run of a large plugin starts at once.
pub fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    // Created by the compile cache itself, owner-only (it refuses a folder others can write).
    Some(base.join("kube-shields"))
}

/// `--history-interval`: whole seconds (`60`), or milliseconds (`500ms`); at least 10 ms.
fn history_interval(text: &str) -> Result<Duration, String> {
    let interval = match text.strip_suffix("ms") {
        Some(ms) => ms.parse().map(Duration::from_millis),
        None => text.parse().map(Duration::from_secs),
    };
    interval
        .ok()
        .filter(|interval| *interval >= Duration::from_millis(10))
        .ok_or_else(|| {
            format!(
                "{text:?} is not an interval: seconds (60) or milliseconds (500ms), at least 10ms"
            )
        })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        ServeArgs::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
    }

    fn config(args: &[&str]) -> ServeConfig {
        parse(args).unwrap().into_config().unwrap()
    }

    #[test]
    fn without_flags_serve_is_private_on_every_address_with_no_history() {
        let config = config(&[]);
        assert_eq!(config.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.app.server.mode, Mode::Private);
        assert_eq!(config.app.server.shields_base, DEFAULT_SHIELDS_BASE);
        assert!(config.app.core.history.store.is_none());
        assert_eq!(config.app.core.history.interval, Duration::from_secs(60));
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.startup.mode, "private");
        assert_eq!(config.startup.pods, "the cluster's API server");
    }

    #[test]
    fn history_flags_make_the_history_config() {
        let dir = config(&["--history-dir", "/var/lib/h", "--history-interval", "500ms"]);
        let history = &dir.app.core.history;
        assert!(
            matches!(&history.store, Some(HistoryStore::Dir(dir)) if dir == std::path::Path::new("/var/lib/h"))
        );
        assert_eq!(history.interval, Duration::from_millis(500));
        let config = config(&["--history-url", "postgres://u:pw@db/h"]);
        assert!(
            matches!(&config.app.core.history.store, Some(HistoryStore::Url(url)) if url == "postgres://u:pw@db/h")
        );
        // The URL's password stays out of the configuration's debug text (logs).
        assert!(!format!("{:?}", config.app).contains("pw"));
        let both = parse(&["--history-dir", "/h", "--history-url", "postgres://db/h"]);
        assert_eq!(
            both.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
    }

    #[rstest]
    #[case("60", Ok(Duration::from_secs(60)))]
    #[case("500ms", Ok(Duration::from_millis(500)))]
    #[case("10ms", Ok(Duration::from_millis(10)))]
    #[case("5ms", Err(()))]
    #[case("1m", Err(()))]
    #[case("", Err(()))]
    fn history_intervals(#[case] text: &str, #[case] expected: Result<Duration, ()>) {
        assert_eq!(history_interval(text).map_err(|_| ()), expected);
    }

    #[test]
    fn other_shields_makes_public_mode_with_its_peers() {
        let public = config(&[
            "--other-shields",
            "eu=https://shields.eu.internal us.internal",
        ]);
        assert_eq!(
            public.app.server.mode,
            Mode::Public {
                peers: vec![
                    "eu=https://shields.eu.internal".to_owned(),
                    "us.internal".to_owned()
                ]
            }
        );
        assert_eq!(
            public.startup.mode,
            "public, peers eu=https://shields.eu.internal us.internal"
        );
        let none = config(&["--other-shields", "None"]);
        assert_eq!(none.app.server.mode, Mode::Public { peers: Vec::new() });
    }

    #[test]
    fn dev_serves_a_folder_on_loopback_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pods.json"), "{\"items\": []}").unwrap();
        let folder = dir.path().to_str().unwrap();
        let config = config(&["--dev", folder, "--listen", "0.0.0.0:9000"]);
        assert_eq!(config.app.server.mode, Mode::Dev);
        assert!(config.developing);
        assert_eq!(config.listen, "127.0.0.1:9000".parse().unwrap());
        assert!(
            config.startup.pods.starts_with("pods file "),
            "{}",
            config.startup.pods
        );
        let refused = parse(&["--dev", folder, "--listen", "10.1.2.3:9000"])
            .unwrap()
            .into_config();
        assert_eq!(
            refused.unwrap_err().to_string(),
            "setting --listen: --dev serves on loopback only, and 10.1.2.3:9000 is not a loopback address"
        );
    }

    #[test]
    fn a_cluster_name_must_be_a_dns_label() {
        assert_eq!(
            config(&["--cluster-name", "eu-west"])
                .app
                .server
                .cluster_name
                .as_deref(),
            Some("eu-west")
        );
        assert!(parse(&["--cluster-name", "EU West"]).is_err());
    }
}
