//! `kube-shields check`: load a plugin exactly as the server does and run its checks once,
//! printing one JSON object per check and line.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::engine::PluginEngine;
use super::error::PluginError;
use super::outcome::Outcome;
use super::settings::PluginSettings;
use crate::plugin_dir::gz::{MAX_DECOMPRESSED_BYTES, gunzip};
use crate::pods::file::read_pod_list;
use crate::pods::index::ServiceIndex;

/// The color a badge gets when the check names none.
const DEFAULT_COLOR: &str = "orange";

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

/// Loads `plugin` (with its settings file beside it), runs `check` or every check for
/// `service` (default: the file stem) with the service's pods from `pods_file`, and writes
/// `{"check":..,"label":..,"status":..,"color":..}` or `{"check":..,"error":..}` per check.
///
/// Load failures are the error; check failures are output lines. Refused check names are
/// logged as warnings.
pub async fn check_command(
    engine: &PluginEngine,
    plugin: &Path,
    check: Option<&str>,
    service: Option<&str>,
    pods_file: Option<&Path>,
    out: &mut impl Write,
) -> Result<(), PluginError> {
    let bytes = std::fs::read(plugin)
        .map_err(|err| PluginError::Read(format!("cannot read {}: {err}", plugin.display())))?;
    let file_name = plugin.file_name().unwrap_or_default().to_string_lossy();
    // `web.wasm.gz` is the plugin of `web`, unpacked as the plugin directory does.
    let (stem, bytes) = match file_name.strip_suffix(".wasm.gz") {
        Some(stem) => {
            let unpacked = gunzip(&file_name, &bytes, MAX_DECOMPRESSED_BYTES)
                .map_err(|err| PluginError::Read(err.to_string()))?;
            (stem.to_owned(), unpacked)
        }
        None => {
            let stem = plugin.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            (stem, bytes)
        }
    };
    let directory = plugin.parent().unwrap_or(Path::new("."));
    let settings = PluginSettings::for_plugin(directory, &stem)?;
    let service = service.unwrap_or(&stem);
    let pods = match pods_file {
        Some(path) => {
            let pods = read_pod_list(path).map_err(|err| PluginError::Read(err.to_string()))?;
            let index = ServiceIndex::build(pods.into_iter().map(Arc::new));
            index.lookup(service).unwrap_or_default().to_vec()
        }
        None => Vec::new(),
    };
    let loaded = engine.load(service, &bytes, settings).await?;
    for warning in loaded.warnings() {
        tracing::warn!(plugin = service, "{warning}");
    }
    let names: Vec<&str> = match check {
        Some(name) => vec![name],
        None => loaded
            .checks()
            .iter()
            .map(|info| info.name.as_str())
            .collect(),
    };
    for name in names {
        let result = loaded.run(name, &pods).await;
        let line = match &result {
            Ok(Outcome::Raw(value)) => Line::Badge {
                check: name,
                label: name,
                status: value,
                color: DEFAULT_COLOR,
            },
            Ok(Outcome::Shield {
                label,
                status,
                color,
            }) => Line::Badge {
                check: name,
                label: label.as_deref().unwrap_or(name),
                status,
                color: color.as_deref().unwrap_or(DEFAULT_COLOR),
            },
            Err(err) => Line::Error {
                check: name,
                error: err.to_string(),
            },
        };
        let json = serde_json::to_string(&line).expect("output lines serialize");
        writeln!(out, "{json}").map_err(|err| PluginError::Write(err.to_string()))?;
    }
    Ok(())
}
