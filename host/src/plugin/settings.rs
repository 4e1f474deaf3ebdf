//! Per-plugin settings: the optional `<service>.toml` or `<service>.json` beside the plugin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::PluginError;

const MIB: usize = 1024 * 1024;
/// Bounds that keep one plugin's settings from starving the host.
const MAX_DEADLINE_MS: u64 = 60_000;
const MAX_MEMORY_LIMIT_MIB: usize = 4096;
const MAX_RESPONSE_KIB: usize = 64 * 1024;

/// How a plugin runs: its limits, the hosts it may call and its configuration map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    /// Wall-clock time one call may take, HTTP waits included.
    pub deadline: Duration,
    /// Most linear memory one instance may grow to, in bytes.
    pub memory_limit: usize,
    /// How long a check's result is reused before the check runs again.
    pub cache_ttl: Duration,
    /// Hosts (names or IPs, any port) the plugin may call besides its service's pod IPs.
    pub allowed_hosts: Vec<String>,
    /// The configuration map handed to every check.
    pub config: BTreeMap<String, String>,
    /// Most bytes of one HTTP response body the plugin may read.
    pub max_response_body: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            deadline: Duration::from_secs(2),
            memory_limit: 64 * MIB,
            cache_ttl: Duration::from_secs(10),
            allowed_hosts: Vec::new(),
            config: BTreeMap::new(),
            max_response_body: MIB,
        }
    }
}

/// The settings file as written; every key is optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    deadline_ms: Option<u64>,
    memory_limit_mib: Option<usize>,
    cache_seconds: Option<u64>,
    max_response_kib: Option<usize>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    config: BTreeMap<String, ConfigValue>,
}

/// A configuration value: authors write `port = 8080` as readily as `port = "8080"`, and the
/// plugin receives text either way.
#[derive(Deserialize)]
#[serde(untagged)]
enum ConfigValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl ConfigValue {
    fn into_text(self) -> String {
        match self {
            ConfigValue::Text(text) => text,
            ConfigValue::Integer(n) => n.to_string(),
            ConfigValue::Float(x) => x.to_string(),
            ConfigValue::Bool(b) => b.to_string(),
        }
    }
}

impl PluginSettings {
    /// Parses a settings file: TOML when `is_toml`, JSON otherwise. Unknown keys are refused.
    pub fn parse(bytes: &[u8], is_toml: bool) -> Result<Self, PluginError> {
        let file: SettingsFile = if is_toml {
            toml::from_slice(bytes).map_err(|err| toml_error(bytes, &err))?
        } else {
            serde_json::from_slice(bytes).map_err(|err| PluginError::Settings(err.to_string()))?
        };
        file.validate()
    }

    /// Reads the settings file beside a plugin (`web.wasm` → `web.toml` or `web.json`);
    /// the defaults when there is none.
    pub fn for_plugin(plugin: &Path) -> Result<Self, PluginError> {
        let [toml_path, json_path] = settings_paths(plugin);
        match (toml_path.is_file(), json_path.is_file()) {
            (true, true) => Err(PluginError::Settings(format!(
                "both {} and {} exist; keep one",
                toml_path.display(),
                json_path.display()
            ))),
            (true, false) => Self::read(&toml_path, true),
            (false, true) => Self::read(&json_path, false),
            (false, false) => Ok(Self::default()),
        }
    }

    fn read(path: &Path, is_toml: bool) -> Result<Self, PluginError> {
        let bytes = std::fs::read(path)
            .map_err(|err| PluginError::Read(format!("cannot read {}: {err}", path.display())))?;
        Self::parse(&bytes, is_toml).map_err(|err| match err {
            PluginError::Settings(detail) => {
                PluginError::Settings(format!("{}: {detail}", path.display()))
            }
            other => other,
        })
    }
}

/// The settings files that belong to a plugin file: `<stem>.toml` and `<stem>.json`.
pub fn settings_paths(plugin: &Path) -> [PathBuf; 2] {
    [plugin.with_extension("toml"), plugin.with_extension("json")]
}

impl SettingsFile {
    fn validate(self) -> Result<PluginSettings, PluginError> {
        let defaults = PluginSettings::default();
        let deadline = match self.deadline_ms {
            Some(ms) => Duration::from_millis(in_range("deadline_ms", ms, 1, MAX_DEADLINE_MS)?),
            None => defaults.deadline,
        };
        let memory_limit = match self.memory_limit_mib {
            Some(mib) => in_range("memory_limit_mib", mib, 1, MAX_MEMORY_LIMIT_MIB)? * MIB,
            None => defaults.memory_limit,
        };
        let max_response_body = match self.max_response_kib {
            Some(kib) => in_range("max_response_kib", kib, 1, MAX_RESPONSE_KIB)? * 1024,
            None => defaults.max_response_body,
        };
        let cache_ttl = self.cache_seconds.map_or(defaults.cache_ttl, Duration::from_secs);
        let allowed_hosts = self
            .allowed_hosts
            .into_iter()
            .map(|host| normalize_host(&host))
            .collect::<Result<_, _>>()?;
        Ok(PluginSettings {
            deadline,
            memory_limit,
            cache_ttl,
            allowed_hosts,
            config: self.config.into_iter().map(|(k, v)| (k, v.into_text())).collect(),
            max_response_body,
        })
    }
}

fn in_range<N: PartialOrd + std::fmt::Display>(key: &str, value: N, min: N, max: N) -> Result<N, PluginError> {
    if value < min || value > max {
        return Err(PluginError::Settings(format!("{key} = {value} is outside {min}..={max}")));
    }
    Ok(value)
}

/// An allowed host is a bare DNS name or IP address (IPv6 with or without brackets), matched
/// case-insensitively; a scheme, port or path would never match, so it is refused up front.
fn normalize_host(host: &str) -> Result<String, PluginError> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_ascii_lowercase());
    }
    let is_name = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !is_name {
        return Err(PluginError::Settings(format!(
            "allowed_hosts entry `{host}` is not a host name or IP address (no scheme, port or path)"
        )));
    }
    Ok(bare.to_ascii_lowercase())
}

/// TOML errors render over several lines with a source excerpt; the settings error is one
/// line: `line N: message`.
fn toml_error(bytes: &[u8], err: &toml::de::Error) -> PluginError {
    let message = err.message().trim();
    match err.span() {
        Some(span) => {
            let line = 1 + bytes[..span.start.min(bytes.len())].iter().filter(|&&b| b == b'\n').count();
            PluginError::Settings(format!("line {line}: {message}"))
        }
        None => PluginError::Settings(message.to_owned()),
    }
}
