//! The `kube-shields` command: `serve`, `check` (the plugin author's loop) and `sign`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use kube_shields::auth::{Secret, Signer, Verifier, now_unix};
use kube_shields::checks::Checker;
use kube_shields::plugin::PluginEngine;
use kube_shields::plugin_dir::PluginDir;
use kube_shields::pods::connection::KubeConnection;
use kube_shields::pods::index::SharedIndex;
use kube_shields::pods::source::{self, PodOrigin, PodSourceConfig};
use kube_shields::server::{self, AppState, Metrics, Mode, ServerConfig};

#[derive(Parser)]
#[command(name = "kube-shields", version, about = "Status badges for every workload in a Kubernetes cluster")]
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
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Directory of plugins (`<service>.wasm`, `.wasm.gz`, settings `<service>.toml|json`).
    #[arg(long, env = "PLUGIN_DIR")]
    plugins: Option<PathBuf>,
    /// Directory for precompiled plugins (e.g. an emptyDir), so restarts skip compiling.
    #[arg(long, env = "CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Serve pods from a `kubectl get pods -A -o json` dump instead of a cluster.
    #[arg(long, env = "PODS_FILE")]
    pods_file: Option<PathBuf>,
    #[command(flatten)]
    kube: KubeArgs,
    /// Base URL of redirect targets.
    #[arg(long, env = "SHIELDS_BASE_URL", default_value = "https://img.shields.io")]
    shields_base_url: String,
    /// Public mode with these peers (space-separated, `None` for no peers); unset: private mode.
    #[arg(long, env = "OTHER_SHIELDS")]
    other_shields: Option<String>,
    /// Page title and badge hover text on `/`.
    #[arg(long, env = "SHIELD_SITE_NAME", default_value = "kube-shields")]
    site_name: String,
    #[command(flatten)]
    secret: SecretArgs,
    /// Plugin runs allowed at once; past it, cached results or `busy`.
    #[arg(long, env = "MAX_PLUGIN_RUNS", default_value_t = 32)]
    max_plugin_runs: usize,
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
    #[arg(long = "exclude-namespace", env = "EXCLUDE_NAMESPACE", value_delimiter = ',', default_value = "kube-system")]
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
    /// The plugin file (`.wasm`, `.wasm.gz` or `.wat`).
    plugin: PathBuf,
    /// Run only this check.
    #[arg(long)]
    check: Option<String>,
    /// Service name (default: the file name without extension).
    #[arg(long)]
    service: Option<String>,
    /// Pods for the context, from `kubectl get pods -A -o json`.
    #[arg(long)]
    pods: Option<PathBuf>,
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
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Check(args) => return runtime.block_on(check(args)),
        Command::Sign(args) => sign(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kube-shields: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let mode = Mode::from_other_shields(args.other_shields.as_deref());
    let secret = args.secret.load()?;
    if mode == Mode::Private && secret.is_none() {
        bail!(
            "private mode (OTHER_SHIELDS unset) needs INTRA_SHIELD_SECRET: the path of a file with at least \
             32 bytes, e.g. `head -c 32 /dev/urandom | base64 > secret`; or set OTHER_SHIELDS=None for public mode"
        );
    }
    let pods = SharedIndex::new();
    let source = PodSourceConfig {
        origin: match &args.pods_file {
            Some(path) => PodOrigin::File(path.clone()),
            None => PodOrigin::Kube(args.kube.connection()),
        },
        namespaces: args.kube.namespaces.clone(),
        exclude: args.kube.exclude_namespaces.clone(),
        label_selector: args.kube.label_selector.clone(),
    };
    let _pod_source = source::start(source, Arc::clone(&pods)).await.context("pod source")?;
    let engine = Arc::new(PluginEngine::new().context("plugin engine")?);
    let plugins = match &args.plugins {
        Some(dir) => PluginDir::open(dir.clone(), engine, args.cache_dir.clone())
            .await
            .context("setting PLUGIN_DIR")?,
        None => PluginDir::empty(),
    };
    let state = Arc::new(AppState {
        checker: Checker::new(Arc::clone(&pods), Arc::clone(&plugins), args.max_plugin_runs),
        pods,
        plugins,
        verifier: secret.as_ref().map(Verifier::new),
        config: ServerConfig { shields_base: args.shields_base_url, mode, site_name: args.site_name },
        metrics: Metrics::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("setting --listen: cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    server::serve(listener, state, shutdown_signal()).await?;
    Ok(())
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

/// Exit 0 with one line per check; exit 2 when the plugin cannot load.
async fn check(args: CheckArgs) -> ExitCode {
    init_logging(LogFormat::Text);
    let engine = match PluginEngine::new() {
        Ok(engine) => engine,
        Err(err) => {
            eprintln!("kube-shields: {err}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let outcome = kube_shields::plugin::author::check_command(
        &engine,
        &args.plugin,
        args.check.as_deref(),
        args.service.as_deref(),
        args.pods.as_deref(),
        &mut out,
    )
    .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kube-shields: {}: {err}", args.plugin.display());
            ExitCode::from(2)
        }
    }
}

fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let Some(secret) = args.secret.load()? else {
        bail!("sign needs INTRA_SHIELD_SECRET (or --intra-shield-secret): the path of the shared secret file");
    };
    println!("{}", Signer::new(&secret).sign(&args.method, &args.path, now_unix()));
    Ok(())
}
