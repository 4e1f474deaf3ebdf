//! `kube-shields check`: the plugin author's loop. It builds the service's core with
//! [`Core::new`] — the plugin loaded through the plugin directory's pipeline, the pods through
//! the pod source — and asks it for each check, so it answers exactly as the server would.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::app::{AppError, Core, CoreConfig};
use crate::checks::{Answer, CheckError, CheckerConfig};
use crate::plugin_dir::{PluginSource, is_settings_of};
use crate::pods::{PodOrigin, PodSourceConfig};

/// What to run: the arguments of `kube-shields check` (the doc comments are its help texts;
/// `main` fills in the default directories they name).
#[derive(Debug, Clone, clap::Args)]
pub struct CheckCommand {
    /// The plugin file (`.wasm`, `.wat`, a `.py` or `.js` script, any of them `.gz`).
    pub plugin: PathBuf,
    /// Run only this check.
    #[arg(long)]
    pub check: Option<String>,
    /// Service name (default: the file name without extension).
    #[arg(long)]
    pub service: Option<String>,
    /// Pods for the context, from `kubectl get pods -A -o json`.
    #[arg(long)]
    pub pods: Option<PathBuf>,
    /// Settings file (default: `<service>.toml` or `<service>.json` beside the plugin).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Where compiled plugins are kept between runs (default: the user's cache directory);
    /// shared by every plugin checked, nothing is removed.
    #[arg(long, env = "CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Directory of the language runtimes for scripts (default: `runtimes/` beside the binary
    /// or its folder).
    #[arg(long, env = "RUNTIME_DIR")]
    pub runtime_dir: Option<PathBuf>,
}

/// How the command ends, as its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckExit {
    /// Every check answered (exit 0).
    Answered = 0,
    /// At least one check failed: an error, a timeout, an unknown `--check` (exit 1).
    CheckFailed = 1,
    /// The plugin, its settings or the pods cannot be loaded (exit 2).
    CannotLoad = 2,
}

/// One output line.
#[derive(Serialize)]
#[serde(untagged)]
enum Line<'a> {
    Badge {
        check: &'a str,
        label: &'a str,
        status: &'a str,
        color: &'a str,
    },
    Error {
        check: &'a str,
        error: String,
    },
}

/// The service a plugin file runs for when `--service` is not given: `web` for `web.wasm`,
/// `web.wasm.gz`, `web.wat` and `web.py`.
fn default_service(plugin: &Path) -> String {
    let name = plugin.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    stem.rsplit_once('.')
        .map_or(stem, |(stem, _)| stem)
        .to_owned()
}

impl CheckCommand {
    /// The service the plugin runs for: `--service`, else named after the file.
    fn service(&self) -> String {
        self.service
            .clone()
            .unwrap_or_else(|| default_service(&self.plugin))
    }

    /// Runs the checks, writing one JSON line per check to `out`; problems go to the log.
    /// The error is why nothing could run (exit 2), with the file it concerns.
    pub async fn run(&self, out: &mut impl Write) -> Result<CheckExit, String> {
        let service = self.service();
        let origin = self.pods.clone().map_or(PodOrigin::Empty, PodOrigin::File);
        let pods = PodSourceConfig {
            exclude: vec!["kube-system".to_owned()],
            ..PodSourceConfig::all(origin)
        };
        let config = CoreConfig::new(pods)
            .with_plugins(PluginSource::File {
                path: self.plugin.clone(),
                service: service.clone(),
                settings: self.settings.clone(),
            })
            .with_cache_dir(self.cache_dir.clone())
            .with_runtime_dir(self.runtime_dir.clone())
            .with_checks(CheckerConfig {
                max_plugin_runs: 1,
                plugin_cpus: 1,
                stale_after: Duration::MAX,
            });
        let core = Core::new(config)
            .await
            .map_err(|err: AppError| err.to_string())?;
        let checker = core.checker();
        let entry = checker
            .plugin_entry(&service)
            .ok_or_else(|| format!("{}: no plugin loaded", self.plugin.display()))?;
        if let Some(error) = &entry.settings_error {
            return Err(error.clone());
        }
        let plugin = match (&entry.plugin, &entry.last_error) {
            (Some(plugin), None) => plugin,
            (_, Some(error)) => {
                // No check to serve: one line per refused name, as for a check that failed.
                for refused in &error.refused_checks {
                    let line = Line::Error {
                        check: &refused.name,
                        error: refused.to_string(),
                    };
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&line).expect("lines serialize")
                    )
                    .map_err(|err| err.to_string())?;
                }
                return Err(error.message.clone());
            }
            (None, None) => return Err(format!("{}: no plugin loaded", self.plugin.display())),
        };
        for warning in plugin.warnings() {
            tracing::warn!(plugin = %service, "{warning}");
        }
        let target = checker.service(&service).map_err(|err| err.to_string())?;
        if self.pods.is_some() && target.pods.is_empty() {
            tracing::warn!(
                service,
                "--service `{service}` matches no pod in the pods file: the checks run with an empty pod list"
            );
        }
        let names: Vec<String> = match &self.check {
            Some(name) => vec![name.clone()],
            None => plugin
                .checks()
                .iter()
                .map(|info| info.name.clone())
                .collect(),
        };
        let mut exit = CheckExit::Answered;
        for name in &names {
            let line = match checker.run(&target, name).await {
                Ok(Answer::Plugin(result)) if result.is_err() => {
                    let error = result
                        .as_ref()
                        .as_ref()
                        .err()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    Line::Error { check: name, error }
                }
                Ok(answer) => {
                    let badge = answer.badge(name);
                    let json = serde_json::to_string(&Line::Badge {
                        check: name,
                        label: &badge.label,
                        status: &badge.message,
                        color: badge.color.as_str(),
                    });
                    writeln!(out, "{}", json.expect("lines serialize"))
                        .map_err(|err| err.to_string())?;
                    continue;
                }
                Err(err @ CheckError::UnknownCheck { .. }) => Line::Error {
                    check: name,
                    error: err.to_string(),
                },
                Err(err) => return Err(err.to_string()),
            };
            exit = CheckExit::CheckFailed;
            writeln!(
                out,
                "{}",
                serde_json::to_string(&line).expect("lines serialize")
            )
            .map_err(|err| err.to_string())?;
        }
        Ok(exit)
    }
}

impl CheckCommand {
    /// `check --watch`: runs the checks now and again after every change to the files they
    /// read in the plugin's folder (the plugin, its settings, the pods file), until the
    /// process is stopped; each run's lines go to `out`, what came of it to the log.
    pub async fn run_on_changes(&self, out: &mut impl Write) -> Result<(), String> {
        let dir = match self.plugin.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => Path::new(".").to_owned(),
        };
        let service = self.service();
        let read: Vec<std::ffi::OsString> = [
            Some(self.plugin.as_path()),
            self.settings.as_deref(),
            self.pods.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(|path| path.file_name().map(ToOwned::to_owned))
        .collect();
        let relevant = move |name: &std::ffi::OsStr| {
            read.iter().any(|file| file == name) || is_settings_of(name, &service)
        };
        let (_watcher, mut changes) = crate::changes::watch_dir(&dir, relevant)
            .map_err(|err| format!("{}: cannot watch for changes: {err}", dir.display()))?;
        loop {
            match self.run(out).await {
                Ok(CheckExit::Answered) => tracing::info!("every check answered"),
                Ok(CheckExit::CheckFailed) => tracing::warn!("a check failed (its line says why)"),
                Ok(CheckExit::CannotLoad) => tracing::error!("the plugin cannot load"),
                Err(error) => tracing::error!("{error}"),
            }
            out.flush().map_err(|err| err.to_string())?;
            tracing::info!(
                "watching {} for changes to the plugin, its settings and the pods (Ctrl-C stops)",
                dir.display()
            );
            if !crate::changes::next_burst(&mut changes).await {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::wasm("target/web.wasm", "web")]
    #[case::gzipped("web.wasm.gz", "web")]
    #[case::text("fixtures/web.wat", "web")]
    #[case::qualified("web.prod.wasm", "web.prod")]
    fn the_service_defaults_to_the_file_name(#[case] path: &str, #[case] service: &str) {
        assert_eq!(default_service(Path::new(path)), service);
    }
}
