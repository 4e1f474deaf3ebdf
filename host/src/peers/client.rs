//! Requests to one peer: signed, marked as a peer hop, within the connect and total timeouts
//! and within a byte limit per answer.

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};

use super::remote::{self, RemoteResult};
use super::transport::PeerTransport;
use super::{
    CATALOG_PATH, CatalogEntry, HOP_HEADER, MAX_CATALOG_BYTES, MAX_CATALOG_SERVICES,
    MAX_RESULT_BYTES, PeerSettings, PeersError,
};
use crate::auth::{HEADER as INTRA_SHIELD_HEADER, Signer, now_unix};
use crate::pods::naming::is_service_name;

/// Requests at once when a catalog is read service by service.
const LEGACY_CATALOG_FETCHES: usize = 16;

/// Why a peer gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// No connection, a timeout, or a broken transfer.
    #[error("request failed: {0}")]
    Transport(String),
    /// The answer was not the expected status.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The answer was longer than allowed.
    #[error("answer longer than {0} bytes")]
    TooLarge(usize),
    /// The answer is not what a kube-shields sends.
    #[error("answer is not valid: {0}")]
    Invalid(String),
    /// A catalog refresh (the legacy crawl included) ran past its deadline.
    #[error("catalog refresh took longer than {} s; abandoned", .0.as_secs_f64())]
    TooSlow(std::time::Duration),
}

/// The one HTTP client for every peer: system roots plus `--peer-ca-file`, timeouts, no redirects.
pub(crate) fn http_client(settings: &PeerSettings) -> Result<reqwest::Client, PeersError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kube-shields/", env!("CARGO_PKG_VERSION")))
        .tls_built_in_native_certs(true);
    if let Some(path) = &settings.ca_file {
        let ca_error = |message: String| PeersError::CaFile {
            path: path.clone(),
            message,
        };
        let pem = std::fs::read(path).map_err(|err| ca_error(err.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|err| ca_error(format!("not a PEM certificate bundle: {err}")))?;
        if certificates.is_empty() {
            return Err(ca_error("no certificate in the file".to_owned()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|err| PeersError::Client(err.to_string()))
}

/// One peer.
pub(crate) struct PeerClient {
    pub(crate) name: String,
    transport: Box<dyn PeerTransport>,
    signer: Arc<Signer>,
}

impl PeerClient {
    pub(crate) fn new(
        name: String,
        transport: Box<dyn PeerTransport>,
        signer: Arc<Signer>,
    ) -> Self {
        PeerClient {
            name,
            transport,
            signer,
        }
    }

    /// The peer's catalog; entries whose names are not valid service or check names are dropped.
    /// A peer without `/catalog` (an older kube-shields) is read the old way: `/services/` and
    /// each service's checks.
    pub(crate) async fn catalog(&self) -> Result<Vec<CatalogEntry>, FetchError> {
        let (status, body) = self.get(CATALOG_PATH, MAX_CATALOG_BYTES).await?;
        let entries = match status {
            200 => serde_json::from_slice(&body)
                .map_err(|err| FetchError::Invalid(format!("catalog: {err}")))?,
            404 => self.catalog_from_services().await?,
            _ => return Err(FetchError::Status(status)),
        };
        let total = entries.len();
        let valid: Vec<CatalogEntry> = entries
            .into_iter()
            .filter(|entry| {
                is_service_name(&entry.name)
                    && entry.namespaces.iter().all(|ns| is_service_name(ns))
                    && entry
                        .checks
                        .iter()
                        .all(|check| kube_shields_check_name::is_check_name(check))
            })
            .take(MAX_CATALOG_SERVICES)
            .map(|mut entry| {
                // A peer's texts are untrusted: states only for its listed checks, cut as a
                // plugin's status is.
                let checks = &entry.checks;
                entry.states.retain(|check, _| checks.contains(check));
                entry.descriptions.retain(|check, _| checks.contains(check));
                for status in entry.states.values_mut() {
                    status.status = crate::plugin::cut_status(std::mem::take(&mut status.status));
                }
                for description in entry.descriptions.values_mut() {
                    *description = crate::plugin::cut_status(std::mem::take(description));
                }
                entry.link = entry.link.as_deref().and_then(super::valid_link);
                entry
            })
            .collect();
        if valid.len() < total {
            tracing::warn!(
                peer = %self.name,
                dropped = total - valid.len(),
                "dropped catalog entries with invalid names (or past {MAX_CATALOG_SERVICES})"
            );
        }
        Ok(valid)
    }

    /// `/services/`, then each valid name's `/services/<name>/`, a few at a time.
    async fn catalog_from_services(&self) -> Result<Vec<CatalogEntry>, FetchError> {
        let names: Vec<String> = self.get_json("/services/", MAX_CATALOG_BYTES).await?;
        let names = names
            .into_iter()
            .filter(|name| is_service_name(name))
            .take(MAX_CATALOG_SERVICES);
        futures::stream::iter(names)
            .map(|name| async move {
                let checks = self
                    .get_json(&format!("/services/{name}/"), MAX_RESULT_BYTES)
                    .await?;
                Ok(CatalogEntry {
                    name,
                    namespaces: Vec::new(),
                    checks,
                    states: Default::default(),
                    descriptions: Default::default(),
                    link: None,
                    history: false,
                })
            })
            .buffered(LEGACY_CATALOG_FETCHES)
            .try_collect()
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<T, FetchError> {
        let (status, body) = self.get(path, limit).await?;
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        serde_json::from_slice(&body).map_err(|err| FetchError::Invalid(format!("{path}: {err}")))
    }

    /// The peer's `?raw` answer to a badge path.
    pub(crate) async fn result(&self, path_and_query: &str) -> Result<RemoteResult, FetchError> {
        let (status, body) = self.get(path_and_query, MAX_RESULT_BYTES).await?;
        // 200, and 503 `busy`, carry a result; 404 an `{"error"}` about the name.
        if !matches!(status, 200 | 404 | 503) {
            return Err(FetchError::Status(status));
        }
        remote::parse(&body).map_err(FetchError::Invalid)
    }

    /// A document the peer serves with `200` (a check's history), of at most `limit` bytes.
    pub(crate) async fn document(
        &self,
        path_and_query: &str,
        limit: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let (status, body) = self.get(path_and_query, limit).await?;
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        Ok(body)
    }

    /// GET with a fresh signature and the hop marker; reads at most `limit` bytes.
    async fn get(&self, path_and_query: &str, limit: usize) -> Result<(u16, Vec<u8>), FetchError> {
        let signature = self.signer.sign("GET", path_and_query, now_unix());
        let headers = vec![
            (INTRA_SHIELD_HEADER, signature),
            (HOP_HEADER, "1".to_owned()),
        ];
        self.transport.get(path_and_query, headers, limit).await
    }
}
