//! How kube-shields reaches the Kubernetes API server, and the start-up probe that turns a
//! failure into its cause: unreachable, bad credentials, or a missing RBAC rule.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Client, Config};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::wire::PartialPod;
use crate::error_chain::error_chain;

/// The RBAC rule kube-shields needs, as it goes into a Role or ClusterRole.
pub const RBAC_RULE: &str =
    r#"rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get","list","watch"]}]"#;

/// Connection settings, one field per `--kube-*` flag. Settings left empty fall back, in
/// order, to `kube_url` (for `kubectl proxy`) and then to kube's `Config::infer`
/// (in-cluster service account, else kubeconfig); the explicit TLS and credential settings
/// apply on top of whichever base was chosen.
#[derive(Debug, Clone, Default)]
pub struct KubeConnection {
    /// `--kube-api-server`: the API server URL, e.g. `https://10.0.0.1:6443`.
    pub api_server: Option<String>,
    /// `--kube-ca-file`: PEM bundle of CAs that sign the API server certificate (re-read
    /// about once a minute, so a rotated CA is picked up).
    pub ca_file: Option<PathBuf>,
    /// `--kube-token-file`: file holding a bearer token (re-read as kube refreshes it).
    pub token_file: Option<PathBuf>,
    /// `--kube-client-cert`: PEM client certificate for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// `--kube-client-key`: PEM private key of the client certificate.
    pub client_key: Option<PathBuf>,
    /// `--kube-tls-server-name`: the name to verify the API server certificate against,
    /// instead of the URL's host.
    pub tls_server_name: Option<String>,
    /// `--kube-insecure-skip-tls-verify`: accept any server certificate (testing only).
    pub insecure_skip_tls_verify: bool,
    /// `--kube-url`: a `kubectl proxy` URL such as `http://127.0.0.1:8001` (plain HTTP, the
    /// proxy adds the credentials).
    pub kube_url: Option<String>,
}

/// kube writes a path as `'"/home/x/.kube/config"'` (its `Debug` inside quotes): quoted once.
fn unquoted_paths(text: &str) -> String {
    text.replace("'\"", "'").replace("\"'", "'")
}

/// Why kube-shields cannot use the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Two base URLs were given.
    #[error("--kube-api-server and --kube-url are both set; use one")]
    ConflictingUrls,
    /// A URL setting does not parse.
    #[error("{setting} {url:?} is not a valid URL: {reason}")]
    InvalidUrl {
        /// The flag.
        setting: &'static str,
        /// Its value.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file setting names a file that cannot be read.
    #[error("{setting} {path}: cannot read it: {source}")]
    UnreadableFile {
        /// The flag.
        setting: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The token file's token has surrounding whitespace (kube sends it verbatim).
    #[error(
        "--kube-token-file {path}: the token has leading or trailing whitespace (a final newline?); \
         write it without, e.g. printf %s \"$TOKEN\" > {path}"
    )]
    TokenWhitespace {
        /// The file.
        path: String,
    },
    /// The CA file holds no usable PEM certificate.
    #[error("--kube-ca-file {path}: no PEM certificate in it ({reason})")]
    InvalidCaFile {
        /// The file.
        path: String,
        /// What the PEM parser said.
        reason: String,
    },
    /// No setting was given and kube found neither a service account nor a kubeconfig.
    #[error(
        "no Kubernetes connection configured: set --kube-api-server or --kube-url, run in a \
         cluster, provide a kubeconfig, or use --pods-file ({})",
        unquoted_paths(&.0.to_string())
    )]
    // Not a `source`: the text above holds it whole, and a chain would say it twice.
    Infer(kube::config::InferConfigError),
    /// The client could not be built from the settings (bad client key, TLS setup...).
    #[error("cannot set up the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    /// Nothing answered at the URL (refused, timed out, DNS, TLS handshake).
    #[error("cannot reach the Kubernetes API server at {url}: {cause}")]
    Unreachable {
        /// The API server URL.
        url: String,
        /// The error chain, outermost first.
        cause: String,
    },
    /// The credentials could not be loaded or used by the client.
    #[error("cannot use the Kubernetes credentials for {url}: {cause}")]
    Credentials {
        /// The API server URL.
        url: String,
        /// The error chain.
        cause: String,
    },
    /// 401: the credentials were not accepted.
    #[error(
        "the Kubernetes API server at {url} rejected the credentials (401 Unauthorized: \
         {message}); check --kube-token-file, the client certificate, or the service account \
         token"
    )]
    Unauthorized {
        /// The API server URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// 403: the identity may not read pods where we watch.
    #[error(
        "not allowed to {verb} pods {scope} (403 Forbidden: {message}); grant it with {grant} \
         bound to kube-shields' service account: {rule}",
        rule = RBAC_RULE
    )]
    Forbidden {
        /// `list` or `watch`.
        verb: &'static str,
        /// `in all namespaces` or `in namespace "x"`.
        scope: String,
        /// `a ClusterRole` or `a Role in namespace "x"`.
        grant: String,
        /// The server's message.
        message: String,
    },
    /// Any other failure of the probe.
    #[error("the Kubernetes API server at {url} failed to {verb} pods {scope}: {cause}")]
    Unexpected {
        /// The API server URL.
        url: String,
        /// `list` or `watch`.
        verb: &'static str,
        /// Where.
        scope: String,
        /// The error chain.
        cause: String,
    },
}

/// Where pods are watched: every namespace, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodScope {
    /// Cluster-wide (needs a ClusterRole).
    AllNamespaces,
    /// One namespace (a Role there is enough).
    Namespace(String),
}

impl PodScope {
    /// The pod API for this scope, reading only what kube-shields keeps of a pod.
    pub fn api(&self, client: Client) -> Api<PartialPod> {
        match self {
            PodScope::AllNamespaces => Api::all(client),
            PodScope::Namespace(ns) => Api::namespaced(client, ns),
        }
    }

    /// The scope as the watch metrics and logs label it: `*` for all namespaces (no namespace
    /// can be called that), else the namespace.
    pub fn metric_label(&self) -> String {
        match self {
            PodScope::AllNamespaces => "*".to_owned(),
            PodScope::Namespace(ns) => ns.clone(),
        }
    }

    /// `in all namespaces` or `in namespace "x"`, for messages.
    pub fn describe(&self) -> String {
        match self {
            PodScope::AllNamespaces => "in all namespaces".to_owned(),
            PodScope::Namespace(ns) => format!("in namespace {ns:?}"),
        }
    }

    fn grant(&self) -> String {
        match self {
            PodScope::AllNamespaces => "a ClusterRole (and ClusterRoleBinding)".to_owned(),
            PodScope::Namespace(ns) => format!("a Role (and RoleBinding) in namespace {ns:?}"),
        }
    }
}

impl KubeConnection {
    /// The kube client configuration: explicit settings, else `kube_url`, else
    /// `Config::infer`; explicit TLS and credential settings override the chosen base.
    pub async fn client_config(&self) -> Result<Config, ConnectionError> {
        let mut config = match (&self.api_server, &self.kube_url) {
            (Some(_), Some(_)) => return Err(ConnectionError::ConflictingUrls),
            (Some(url), None) => Config::new(parse_url("--kube-api-server", url)?),
            (None, Some(url)) => Config::new(parse_url("--kube-url", url)?),
            (None, None) => Config::infer().await.map_err(ConnectionError::Infer)?,
        };
        if let Some(path) = &self.ca_file {
            config.root_cert = Some(read_ca_file(path)?);
            config.root_cert_file = Some(path.clone());
        }
        if let Some(path) = &self.token_file {
            config.auth_info.token = None;
            config.auth_info.token_file = Some(read_token_file(path)?);
        }
        if let Some(path) = &self.client_cert {
            config.auth_info.client_certificate_data = None;
            config.auth_info.client_certificate = Some(readable("--kube-client-cert", path)?);
        }
        if let Some(path) = &self.client_key {
            config.auth_info.client_key_data = None;
            config.auth_info.client_key = Some(readable("--kube-client-key", path)?);
        }
        if let Some(name) = &self.tls_server_name {
            config.tls_server_name = Some(name.clone());
        }
        if self.insecure_skip_tls_verify {
            config.accept_invalid_certs = true;
        }
        Ok(config)
    }
}

fn parse_url(setting: &'static str, url: &str) -> Result<http::Uri, ConnectionError> {
    let invalid = |reason: String| ConnectionError::InvalidUrl {
        setting,
        url: url.to_owned(),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(invalid(
            "expected http://HOST[:PORT] or https://HOST[:PORT]".to_owned(),
        )),
    }
}

/// The path as kube wants it, after checking the file can be read so the error names the flag.
fn readable(setting: &'static str, path: &Path) -> Result<String, ConnectionError> {
    std::fs::File::open(path).map_err(unreadable(setting, path))?;
    Ok(path.display().to_string())
}

fn unreadable(
    setting: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> ConnectionError {
    let path = path.display().to_string();
    move |source| ConnectionError::UnreadableFile {
        setting,
        path,
        source,
    }
}

/// Kube reads the token file itself (and again as it rotates); this checks it once up front
/// so a bad file is reported by its flag.
fn read_token_file(path: &Path) -> Result<String, ConnectionError> {
    let token = std::fs::read_to_string(path).map_err(unreadable("--kube-token-file", path))?;
    if token.trim() != token {
        return Err(ConnectionError::TokenWhitespace {
            path: path.display().to_string(),
        });
    }
    Ok(path.display().to_string())
}

fn read_ca_file(path: &Path) -> Result<Vec<Vec<u8>>, ConnectionError> {
    let pem = std::fs::read(path).map_err(unreadable("--kube-ca-file", path))?;
    let invalid = |reason: String| ConnectionError::InvalidCaFile {
        path: path.display().to_string(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .map(|cert| cert.map(|der| der.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}

/// How a scope's pods are first fetched (and fetched again after a `410 Expired`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialList {
    /// A streaming list: one watch with `sendInitialEvents=true`, pods arriving one event at a
    /// time (kube-apiserver's `WatchList`), so no list response is ever held whole.
    Streaming,
    /// Paginated lists (`limit`/`continue`), then a watch.
    Paged,
}

/// A field selector no pod matches: the probes then cost the API server no more than an
/// empty answer, even one that ignores `limit` or streams its initial events.
const NO_POD: &str = "metadata.name=-";

/// Checks, once per scope, that pods can be listed and watched, so a misconfiguration stops
/// start-up with its cause instead of retrying in the background forever; and finds out
/// whether the API server offers streaming lists (it refuses `sendInitialEvents` with
/// `422 Invalid`, or `400` from older versions, when it does not; a server that ignores the
/// parameter never sends the bookmark that ends the initial events).
pub async fn probe(
    client: &Client,
    url: &str,
    scopes: &[PodScope],
) -> Result<Vec<InitialList>, ConnectionError> {
    let mut strategies = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let api = scope.api(client.clone());
        let failed = |verb, error| classify(error, url, verb, scope);
        let list = api
            .list(&ListParams::default().fields(NO_POD).limit(1))
            .await
            .map_err(|e| failed("list", e))?;
        let streaming = WatchParams::streaming_lists().timeout(1).fields(NO_POD);
        let offered = match api.watch(&streaming, "0").await {
            // A server that ignores `sendInitialEvents` answers too, but never marks the end.
            Ok(events) => marks_initial_events_end(events).await,
            Err(kube::Error::Api(status)) if matches!(status.code, 400 | 422) => false,
            Err(error) => return Err(failed("watch", error)),
        };
        let strategy = match offered {
            true => InitialList::Streaming,
            false => {
                // Watching from the list's version sends no events; the answer's status is
                // the check.
                let resource_version = list.metadata.resource_version.unwrap_or_default();
                let watch = api
                    .watch(&WatchParams::default().timeout(1), &resource_version)
                    .await
                    .map_err(|e| failed("watch", e))?;
                drop(watch);
                InitialList::Paged
            }
        };
        strategies.push(strategy);
    }
    Ok(strategies)
}

/// Whether a watch's events include the bookmark that ends a streaming list's initial events
/// (the probe's watch times out after a second, ending the stream either way).
async fn marks_initial_events_end(
    events: impl futures::Stream<Item = kube::Result<WatchEvent<PartialPod>>>,
) -> bool {
    let mut events = std::pin::pin!(events);
    while let Some(Ok(event)) = events.next().await {
        if let WatchEvent::Bookmark(bookmark) = event
            && bookmark
                .metadata
                .annotations
                .contains_key("k8s.io/initial-events-end")
        {
            return true;
        }
    }
    false
}

fn classify(
    error: kube::Error,
    url: &str,
    verb: &'static str,
    scope: &PodScope,
) -> ConnectionError {
    match error {
        kube::Error::Api(status) if status.code == 401 => ConnectionError::Unauthorized {
            url: url.to_owned(),
            message: status.message,
        },
        kube::Error::Api(status) if status.code == 403 => ConnectionError::Forbidden {
            verb,
            scope: scope.describe(),
            grant: scope.grant(),
            message: status.message,
        },
        error @ kube::Error::Auth(_) => ConnectionError::Credentials {
            url: url.to_owned(),
            cause: error_chain(&error),
        },
        // The auth layer reports through the service stack too.
        error @ kube::Error::Service(_) if caused_by::<kube::client::AuthError>(&error) => {
            ConnectionError::Credentials {
                url: url.to_owned(),
                cause: error_chain(&error),
            }
        }
        error @ (kube::Error::HyperError(_) | kube::Error::Service(_)) => {
            ConnectionError::Unreachable {
                url: url.to_owned(),
                cause: error_chain(&error),
            }
        }
        error => ConnectionError::Unexpected {
            url: url.to_owned(),
            verb,
            scope: scope.describe(),
            cause: error_chain(&error),
        },
    }
}

fn caused_by<E: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(cause) = source {
        if cause.is::<E>() {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn a_path_in_kubes_message_is_quoted_once() {
        assert_eq!(
            unquoted_paths(
                r#"failed to read kubeconfig from '"/home/x/.kube/config"': No such file"#
            ),
            "failed to read kubeconfig from '/home/x/.kube/config': No such file"
        );
    }

    #[rstest]
    #[case::both_urls(
        KubeConnection { api_server: Some("https://127.0.0.1:6443".into()), kube_url: Some("http://127.0.0.1:8001".into()), ..Default::default() },
        "--kube-api-server and --kube-url are both set; use one")]
    #[case::kube_url_without_scheme(
        KubeConnection { kube_url: Some("127.0.0.1:8001".into()), ..Default::default() },
        r#"--kube-url "127.0.0.1:8001" is not a valid URL: expected http://HOST[:PORT] or https://HOST[:PORT]"#)]
    #[case::missing_token_file(
        KubeConnection { kube_url: Some("http://127.0.0.1:8001".into()), token_file: Some("/nonexistent/token".into()), ..Default::default() },
        "--kube-token-file /nonexistent/token: cannot read it: No such file or directory (os error 2)")]
    #[case::missing_ca_file(
        KubeConnection { api_server: Some("https://127.0.0.1:6443".into()), ca_file: Some("/nonexistent/ca.crt".into()), ..Default::default() },
        "--kube-ca-file /nonexistent/ca.crt: cannot read it: No such file or directory (os error 2)")]
    #[tokio::test]
    async fn bad_settings_name_the_flag(#[case] connection: KubeConnection, #[case] message: &str) {
        let error = connection.client_config().await.unwrap_err();
        assert_eq!(error.to_string(), message);
    }

    /// The error for a connection whose `file` setting points at a file holding `contents`.
    async fn error_with_file(
        contents: &str,
        set: impl FnOnce(&mut KubeConnection, PathBuf),
    ) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, contents).unwrap();
        let mut connection = KubeConnection {
            api_server: Some("https://127.0.0.1:6443".into()),
            ..Default::default()
        };
        set(&mut connection, path.clone());
        let error = connection.client_config().await.unwrap_err();
        (error.to_string(), path.display().to_string())
    }

    #[tokio::test]
    async fn a_ca_file_without_certificates_is_refused() {
        let (message, path) =
            error_with_file("not a certificate\n", |c, p| c.ca_file = Some(p)).await;
        assert_eq!(
            message,
            format!("--kube-ca-file {path}: no PEM certificate in it (no CERTIFICATE block)")
        );
    }

    #[tokio::test]
    async fn a_token_with_a_final_newline_is_refused() {
        let (message, path) = error_with_file("token\n", |c, p| c.token_file = Some(p)).await;
        assert_eq!(
            message,
            format!(
                "--kube-token-file {path}: the token has leading or trailing whitespace (a final \
                 newline?); write it without, e.g. printf %s \"$TOKEN\" > {path}"
            )
        );
    }

    #[tokio::test]
    async fn kube_url_is_used_as_is_with_overrides_on_top() {
        let connection = KubeConnection {
            kube_url: Some("http://127.0.0.1:8001".into()),
            tls_server_name: Some("kubernetes.default.svc".into()),
            insecure_skip_tls_verify: true,
            ..Default::default()
        };
        let config = connection.client_config().await.unwrap();
        assert_eq!(
            (
                config.cluster_url.to_string(),
                config.tls_server_name.as_deref(),
                config.accept_invalid_certs
            ),
            (
                "http://127.0.0.1:8001/".to_owned(),
                Some("kubernetes.default.svc"),
                true
            )
        );
    }
}
