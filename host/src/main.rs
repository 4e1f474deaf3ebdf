//! The `kube-shields` command: `serve`, `check` (the plugin author's loop) and `sign`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kube_shields::app::{
    App, AppConfig, CoreConfig, DEFAULT_MAX_PLUGIN_RUNS, DEFAULT_SHIELDS_BASE, DEFAULT_SITE_NAME,
    DEFAULT_STALE_AFTER, default_runtime_dir,
};
use kube_shields::auth::{Secret, Signer, now_unix};
use kube_shields::check_command::CheckCommand;
use kube_shields::checks::CheckerConfig;
use kube_shields::language::Lang;
use kube_shields::new_project::write_project;
use kube_shields::peers::PeerSettings;
use kube_shields::plugin_dir::{Language, PluginSource};
use kube_shields::pods::connection::KubeConnection;
use kube_shields::pods::{PodOrigin, PodSourceConfig};
use kube_shields::server::Mode;

#[derive(Parser)]
#[command(
    name = "kube-shields",
    version,
    about = "Status badges for every workload in a Kubernetes cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the badge server.
    Serve(Box<ServeArgs>),
    /// Run a plugin's checks exactly as the server would, one JSON result per line.
    Check(CheckArgs),
    /// Print an `Intra-Shield` header value for one request.
    Sign(SignArgs),
    /// Write a ready plugin project that passes `kube-shields check` as it is.
    New(NewArgs),
    /// Compile the language runtimes ahead (at image build), for any CPU of this architecture:
    /// `python.wasm.cwasm` beside `python.wasm`, which the server then maps instead of compiling.
    Precompile(PrecompileArgs),
}

#[derive(Args)]
struct PrecompileArgs {
    /// Directory of the language runtimes (default: `runtimes/` beside the binary or its folder).
    #[arg(long, env = "RUNTIME_DIR")]
    runtime_dir: Option<PathBuf>,
}

#[derive(Args)]
struct NewArgs {
    /// The plugin's language.
    #[arg(long, value_enum)]
    lang: Lang,
    /// The service the plugin is for (default: the directory's name).
    #[arg(long)]
    service: Option<String>,
    /// The kube-shields source checkout Rust and C projects build against (its plugin-sdk/
    /// and tools/wit-c/); default: the one this binary was built from.
    #[arg(long, env = "KUBE_SHIELDS_SRC")]
    sdk: Option<PathBuf>,
    /// The directory to create (must be new or empty).
    dir: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
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
    #[arg(long, env = "PLUGIN_CPUS", default_value_t = kube_shields::plugin::default_plugin_cpus())]
    plugin_cpus: usize,
    /// Seconds the pod watch may fail before health badges say they are stale.
    #[arg(long, env = "STALE_AFTER", default_value_t = DEFAULT_STALE_AFTER.as_secs())]
    stale_after: u64,
    /// Seconds one pod watch request lasts before the API server ends it and the next starts.
    /// A scope the API server has not answered for this long (plus a sixth, 1 to 15 s) counts
    /// as failing, so badges of a hung API server turn stale after --stale-after more.
    #[arg(long, env = "WATCH_TIMEOUT", default_value_t = kube_shields::pods::DEFAULT_WATCH_TIMEOUT.as_secs())]
    watch_timeout: u64,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Args)]
struct KubeArgs {
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

#[derive(Args)]
struct SecretArgs {
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

    fn load(&self) -> anyhow::Result<Option<Secret>> {
        self.path()
            .map(|path| Secret::from_file(&path).with_context(|| "setting INTRA_SHIELD_SECRET"))
            .transpose()
    }
}

#[derive(Args)]
struct CheckArgs {
    #[command(flatten)]
    command: CheckCommand,
    /// Log format (logs go to stderr; stdout has the JSON lines only).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Run again whenever the plugin, its settings or the pods file is saved (until Ctrl-C).
    #[arg(long)]
    watch: bool,
}

#[derive(Args)]
struct SignArgs {
    /// HTTP method, e.g. GET.
    method: String,
    /// Path and query, e.g. /services/.
    path: String,
    #[command(flatten)]
    secret: SecretArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> ExitCode {
    kube_shields::commit_lazily();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Check(args) => return runtime.block_on(check(args)),
        Command::Sign(args) => sign(&args),
        Command::New(args) => new_project(&args),
        Command::Precompile(args) => precompile(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kube-shields: {}", each_cause_once(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message already
/// holds (many errors here name their cause in their own text, and also keep it as `source`).
fn each_cause_once(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Logs to stderr (stdout is for answers), in color only on a terminal.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

impl ServeArgs {
    /// `--dev DIR`: the plugins and pods of DIR, on loopback (port as `--listen` says), with
    /// the user's compile cache.
    fn for_development(&mut self, dir: PathBuf) -> anyhow::Result<()> {
        if self.listen.ip().is_unspecified() {
            self.listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        } else if !self.listen.ip().is_loopback() {
            anyhow::bail!(
                "setting --listen: --dev serves on loopback only, and {} is not a loopback address",
                self.listen
            );
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
}

async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let dev = args.dev.take();
    let developing = dev.is_some();
    if let Some(dir) = dev {
        args.for_development(dir)?;
    }
    let pods = PodSourceConfig {
        namespaces: args.kube.namespaces.clone(),
        exclude: args.kube.exclude_namespaces.clone(),
        label_selector: args.kube.label_selector.clone(),
        watch_timeout: Duration::from_secs(args.watch_timeout.max(1)),
        ..PodSourceConfig::all(match &args.pods_file {
            Some(path) => PodOrigin::File(path.clone()),
            None if developing => PodOrigin::Empty,
            None => PodOrigin::Kube(args.kube.connection()),
        })
    };
    let mut core = CoreConfig::new(pods)
        .with_cache_dir(args.cache_dir.clone())
        .with_runtime_dir(args.runtime_dir.clone().or_else(default_runtime_dir))
        .with_checks(CheckerConfig {
            max_plugin_runs: args.max_plugin_runs,
            plugin_cpus: args.plugin_cpus,
            stale_after: Duration::from_secs(args.stale_after),
        });
    if let Some(dir) = &args.plugins {
        core = core.with_plugins(PluginSource::Directory(dir.clone()));
    }
    let config = AppConfig::new(core)
        .with_mode(match developing {
            true => Mode::Dev,
            false => Mode::from_other_shields(args.other_shields.as_deref()),
        })
        .with_shields_base(args.shields_base_url.clone())
        .with_site_name(args.site_name.clone())
        .with_cluster_name(args.cluster_name.clone())
        .with_secret(args.secret.load()?)
        .with_peer_settings(PeerSettings {
            ca_file: args.peer_ca_file.clone(),
            connect_timeout: Duration::from_millis(args.peer_connect_timeout_ms),
            timeout: Duration::from_millis(args.peer_timeout_ms),
            refresh: Duration::from_secs(args.peer_refresh.max(1)),
            result_ttl: Duration::from_secs(args.peer_result_cache_seconds),
        });
    let mode = match &config.server.mode {
        Mode::Private => "private".to_owned(),
        Mode::Public { peers } if peers.is_empty() => "public, no peers".to_owned(),
        Mode::Public { peers } => format!("public, peers {}", peers.join(" ")),
        Mode::Dev => "dev (loopback only, every route open)".to_owned(),
    };
    let pods = match &args.pods_file {
        Some(path) => format!("pods file {}", path.display()),
        None if developing => "none".to_owned(),
        None => "the cluster's API server".to_owned(),
    };
    let plugins = args.plugins.as_ref().map_or_else(
        || "none".to_owned(),
        |dir| format!("{} ({} files)", dir.display(), count_files(dir)),
    );
    tracing::info!(mode, pods, plugins, "starting");
    // Quick: it refuses a configuration that cannot work, and leaves plugins to load in the
    // background, so the server listens within a moment of start whatever compiles.
    let app = App::new(config).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("setting --listen: cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening; ready once pods are listed and plugins loaded (/readyz)");
    if developing {
        let base = format!("http://{}", listener.local_addr()?);
        // One write, and a reader that went away (a closed pipe) does not stop the server:
        // `println!` would panic on it.
        let _ = writeln!(
            std::io::stdout().lock(),
            "kube-shields dev server for {plugins}, pods: {pods} (Ctrl-C stops it)\n  \
             {base}/                    every badge\n  \
             {base}/plugins             load errors, and each check's last success and error\n  \
             {base}/_/<service>/<check>/?format=svg   one badge\n\
             Save a plugin or its settings and it reloads; the log says what failed."
        );
    }
    app.serve(listener, shutdown_signal()).await?;
    Ok(())
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

/// SIGTERM (the kubelet) or Ctrl-C.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// One JSON line per check on stdout; exit 0 when every check answered, 1 when one failed,
/// 2 when the plugin cannot load.
async fn check(args: CheckArgs) -> ExitCode {
    init_logging(args.log_format);
    let mut command = args.command;
    command.cache_dir = command.cache_dir.or_else(user_cache_dir);
    command.runtime_dir = command.runtime_dir.or_else(default_runtime_dir);
    let mut out = std::io::stdout().lock();
    if args.watch {
        return match command.run_on_changes(&mut out).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kube-shields: {err}");
                ExitCode::from(2)
            }
        };
    }
    match command.run(&mut out).await {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            eprintln!("kube-shields: {err}");
            ExitCode::from(2)
        }
    }
}

/// `$XDG_CACHE_HOME/kube-shields`, else `~/.cache/kube-shields`: where `check` keeps compiled
/// plugins, so the second run of a large plugin starts at once.
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    // Created by the compile cache itself, owner-only (it refuses a folder others can write).
    Some(base.join("kube-shields"))
}

fn new_project(args: &NewArgs) -> anyhow::Result<()> {
    let project = write_project(
        args.lang,
        &args.dir,
        args.service.as_deref(),
        args.sdk.as_deref(),
    )?;
    for file in &project.files {
        println!("wrote {}", file.display());
    }
    println!(
        "try it: cd {} && {}",
        args.dir.display(),
        project.try_command
    );
    Ok(())
}

fn precompile(args: &PrecompileArgs) -> anyhow::Result<()> {
    let Some(dir) = args.runtime_dir.clone().or_else(default_runtime_dir) else {
        bail!(
            "no runtime directory: pass --runtime-dir (RUNTIME_DIR), or build the runtimes with scripts/build-runtimes.sh"
        );
    };
    let done = kube_shields::plugin_dir::precompile(&dir)?;
    if done.is_empty() {
        let files: Vec<&str> = Language::ALL.map(Language::runtime_file).to_vec();
        bail!("no runtime ({}) in {}", files.join(", "), dir.display());
    }
    for runtime in done {
        println!(
            "{} runtime: {} ({} bytes) in {:.1} s",
            runtime.language.name(),
            runtime.artifact.display(),
            runtime.bytes,
            runtime.seconds
        );
    }
    Ok(())
}

fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let Some(secret) = args.secret.load()? else {
        bail!(
            "sign needs INTRA_SHIELD_SECRET (or --intra-shield-secret): the path of the shared secret file"
        );
    };
    println!(
        "{}",
        Signer::new(&secret).sign(&args.method, &args.path, now_unix())
    );
    Ok(())
}

/// `--cluster-name`: a DNS label, as peers' names are.
fn cluster_name(value: &str) -> Result<String, String> {
    if kube_shields::peers::is_cluster_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{}` is not a cluster name: a DNS label ([a-z0-9-], at most 63, no leading or trailing -)",
            value.escape_debug()
        ))
    }
}
