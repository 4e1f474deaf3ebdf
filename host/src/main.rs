//! The `kube-shields` command: `serve`, `check` (the plugin author's loop) and `sign`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use std::io::IsTerminal;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use kube_shields::app::{App, default_runtime_dir};
use kube_shields::auth::{Signer, now_unix};
use kube_shields::check_command::CheckCommand;
use kube_shields::config::{
    LogFormat, SecretArgs, ServeArgs, ServeConfig, Startup, user_cache_dir,
};
use kube_shields::language::Lang;
use kube_shields::new_project::write_project;
use kube_shields::plugin_dir::Language;

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

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeConfig {
        app: config,
        listen,
        developing,
        log_format,
        startup: Startup {
            mode,
            pods,
            plugins,
        },
    } = args.into_config()?;
    init_logging(log_format);
    tracing::info!(mode, pods, plugins, "starting");
    // Quick: it refuses a configuration that cannot work, and leaves plugins to load in the
    // background, so the server listens within a moment of start whatever compiles.
    let app = App::new(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("setting --listen: cannot listen on {}", listen))?;
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
