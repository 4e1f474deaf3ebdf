//! Per-plugin settings: the optional `<service>.toml` or `<service>.json` beside the plugin.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::error::PluginError;

const MIB: usize = 1024 * 1024;
/// Bounds that keep one plugin's settings from starving the host.
const MAX_DEADLINE_MS: u64 = 60_000;
const MAX_MEMORY_LIMIT_MIB: usize = 4096;
const MAX_RESPONSE_KIB: usize = 64 * 1024;
const MAX_INTERVAL_SECONDS: u64 = 86_400;

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
    /// How often the scheduler runs each of its checks for the history; `None`: the server's
    /// `--history-interval`.
    pub interval: Option<Duration>,
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
            interval: None,
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
    interval_seconds: Option<u64>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    config: BTreeMap<String, ConfigValue>,
}

/// A configuration value: authors write `port = 8080` as readily as `port = "8080"`, and the
/// plugin receives text either way: scalars as they are written, tables and arrays as JSON
/// text (`hosts = ["a", "b"]` arrives as `["a","b"]`), for the plugin to parse.
#[derive(Deserialize)]
#[serde(untagged)]
enum ConfigValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Structured(serde_json::Value),
}

impl ConfigValue {
    fn into_text(self) -> String {
        match self {
            ConfigValue::Text(text) => text,
            ConfigValue::Integer(n) => n.to_string(),
            ConfigValue::Float(x) => x.to_string(),
            ConfigValue::Bool(b) => b.to_string(),
            ConfigValue::Structured(value) => value.to_string(),
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
        let interval = self
            .interval_seconds
            .map(|seconds| in_range("interval_seconds", seconds, 1, MAX_INTERVAL_SECONDS))
            .transpose()?
            .map(Duration::from_secs);
        let cache_ttl = self
            .cache_seconds
            .map_or(defaults.cache_ttl, Duration::from_secs);
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
            config: self
                .config
                .into_iter()
                .map(|(k, v)| (k, v.into_text()))
                .collect(),
            max_response_body,
            interval,
        })
    }
}

fn in_range<N: PartialOrd + std::fmt::Display>(
    key: &str,
    value: N,
    min: N,
    max: N,
) -> Result<N, PluginError> {
    if value < min || value > max {
        return Err(PluginError::Settings(format!(
            "{key} = {value} is outside {min}..={max}"
        )));
    }
    Ok(value)
}

/// An allowed host is a bare DNS name or IP address (IPv6 with or without brackets), matched
/// case-insensitively; a scheme, port or path would never match, so it is refused up front.
fn normalize_host(host: &str) -> Result<String, PluginError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_ascii_lowercase());
    }
    let is_name = !bare.is_empty()
        && bare.len() <= 253
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
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
            let line = 1 + bytes[..span.start.min(bytes.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            PluginError::Settings(format!("line {line}: {message}"))
        }
        None => PluginError::Settings(message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn every_key_is_read_from_toml() {
        let toml = br#"
            deadline_ms = 500
            memory_limit_mib = 16
            cache_seconds = 30
            max_response_kib = 64
            interval_seconds = 300
            allowed_hosts = ["Status.Example.org", "[fd00::1]"]

            [config]
            path = "/version"
            port = 8080
            verbose = true
        "#;
        let expected = PluginSettings {
            deadline: Duration::from_millis(500),
            memory_limit: 16 * MIB,
            cache_ttl: Duration::from_secs(30),
            allowed_hosts: vec!["status.example.org".into(), "fd00::1".into()],
            config: BTreeMap::from([
                ("path".into(), "/version".into()),
                ("port".into(), "8080".into()),
                ("verbose".into(), "true".into()),
            ]),
            max_response_body: 64 * 1024,
            interval: Some(Duration::from_secs(300)),
        };
        assert_eq!(PluginSettings::parse(toml, true), Ok(expected));
    }

    #[test]
    fn json_works_and_missing_keys_keep_their_defaults() {
        let json = br#"{"cache_seconds": 0, "config": {"release": "2026.11"}}"#;
        let expected = PluginSettings {
            cache_ttl: Duration::ZERO,
            config: BTreeMap::from([("release".into(), "2026.11".into())]),
            ..PluginSettings::default()
        };
        assert_eq!(PluginSettings::parse(json, false), Ok(expected));
    }

    #[rstest]
    #[case::toml_array(b"[config]\nhosts = [\"a\", \"b\"]\n".as_slice(), true, r#"["a","b"]"#)]
    #[case::toml_table(b"[config.limits]\ncpu = 2\n".as_slice(), true, r#"{"cpu":2}"#)]
    #[case::json_object(br#"{"config": {"limits": {"cpu": 2}}}"#.as_slice(), false, r#"{"cpu":2}"#)]
    #[case::float(b"[config]\nratio = 0.5\n".as_slice(), true, "0.5")]
    fn structured_config_values_arrive_as_json_text(
        #[case] bytes: &[u8],
        #[case] is_toml: bool,
        #[case] text: &str,
    ) {
        let settings = PluginSettings::parse(bytes, is_toml).unwrap();
        assert_eq!(
            settings.config.values().next().map(String::as_str),
            Some(text)
        );
    }

    #[test]
    fn defaults_match_the_design() {
        let defaults = PluginSettings::default();
        assert_eq!(defaults.deadline, Duration::from_secs(2));
        assert_eq!(defaults.memory_limit, 64 * MIB);
        assert_eq!(defaults.cache_ttl, Duration::from_secs(10));
        assert_eq!(defaults.max_response_body, MIB);
    }

    #[rstest]
    #[case::unknown_toml_key(
        b"deadline = 5\n".as_slice(), true,
        "line 1: unknown field `deadline`, expected one of `deadline_ms`, `memory_limit_mib`, \
         `cache_seconds`, `max_response_kib`, `interval_seconds`, `allowed_hosts`, `config`"
    )]
    #[case::unknown_json_key(
        br#"{"timeout": 5}"#.as_slice(), false,
        "unknown field `timeout`, expected one of `deadline_ms`, `memory_limit_mib`, \
         `cache_seconds`, `max_response_kib`, `interval_seconds`, `allowed_hosts`, `config` at line 1 column 10"
    )]
    #[case::toml_syntax(b"\n\ndeadline_ms = \n".as_slice(), true, "line 3: string values must be quoted, expected literal string")]
    #[case::zero_deadline(b"deadline_ms = 0".as_slice(), true, "deadline_ms = 0 is outside 1..=60000")]
    #[case::huge_memory(b"memory_limit_mib = 5000".as_slice(), true, "memory_limit_mib = 5000 is outside 1..=4096")]
    #[case::zero_interval(b"interval_seconds = 0".as_slice(), true, "interval_seconds = 0 is outside 1..=86400")]
    #[case::host_with_port(
        br#"allowed_hosts = ["example.org:8080"]"#.as_slice(), true,
        "allowed_hosts entry `example.org:8080` is not a host name or IP address (no scheme, port or path)"
    )]
    #[case::url_as_host(
        br#"allowed_hosts = ["http://example.org"]"#.as_slice(), true,
        "allowed_hosts entry `http://example.org` is not a host name or IP address (no scheme, port or path)"
    )]
    fn invalid_settings_say_what_is_wrong(
        #[case] bytes: &[u8],
        #[case] is_toml: bool,
        #[case] message: &str,
    ) {
        assert_eq!(
            PluginSettings::parse(bytes, is_toml),
            Err(PluginError::Settings(message.to_owned()))
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Whatever a settings file holds, reading it answers settings or a settings error.
            #[test]
            fn any_bytes_give_settings_or_a_settings_error(bytes in proptest::collection::vec(any::<u8>(), 0..400), is_toml: bool) {
                match PluginSettings::parse(&bytes, is_toml) {
                    Ok(_) | Err(PluginError::Settings(_)) => {}
                    Err(other) => prop_assert!(false, "not a settings error: {other:?}"),
                }
            }

            /// Every value in range is read as written, and config scalars become their text.
            #[test]
            fn values_in_range_are_read_as_written(
                deadline_ms in 1u64..=MAX_DEADLINE_MS,
                memory_limit_mib in 1usize..=MAX_MEMORY_LIMIT_MIB,
                cache_seconds in 0u64..100_000,
                port in any::<i64>(),
                name in "[a-zA-Z0-9 ./:-]{0,40}",
            ) {
                let toml = format!(
                    "deadline_ms = {deadline_ms}\nmemory_limit_mib = {memory_limit_mib}\ncache_seconds = {cache_seconds}\n\
                     [config]\nport = {port}\nname = {name:?}\n"
                );
                let settings = PluginSettings::parse(toml.as_bytes(), true).unwrap();
                prop_assert_eq!(settings.deadline, Duration::from_millis(deadline_ms));
                prop_assert_eq!(settings.memory_limit, memory_limit_mib * MIB);
                prop_assert_eq!(settings.cache_ttl, Duration::from_secs(cache_seconds));
                prop_assert_eq!(&settings.config["port"], &port.to_string());
                prop_assert_eq!(&settings.config["name"], &name);
            }
        }
    }
}
