//! Federation: the other kube-shields named in `OTHER_SHIELDS`. [`Peers`] owns one HTTP client
//! for all of them, each peer's catalog (its services, their namespaces and checks), refreshed
//! in the background for all peers at once and served stale while a refresh runs, each peer's
//! state for operators, and the fetching of remote results. Every request to a peer is signed
//! with a fresh `Intra-Shield` header and carries [`HOP_HEADER`], so the peer answers from its
//! own cluster only: peers never forward to their peers.
//!
//! A peer is named in `OTHER_SHIELDS` (`eu=https://shields.eu.internal`), or else by its
//! authority as configured (`host` or `host:port`); a user addresses one cluster's service as
//! `<service>@<name>`, and `<service>@<host[:port]>` keeps working for a named peer too. Names
//! keep internal host names out of public pages and badge URLs, and survive moving a peer.

mod client;
mod remote;
mod transport;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use remote::RemoteResult;
pub use transport::RouterTransport;
use transport::{HttpTransport, PeerTransport};

use futures::FutureExt;

use crate::auth::{Secret, Signer};
use crate::result_cache::{CacheKey, ResultCache};
use client::PeerClient;

/// Marks a request as coming from a peer: it is answered from local state only.
pub const HOP_HEADER: &str = "Kube-Shields-Hop";
/// Where a kube-shields publishes its catalog for peers: `[{"name","namespaces","checks"}]`.
pub const CATALOG_PATH: &str = "/catalog";
/// Most bytes of a peer's catalog read.
pub const MAX_CATALOG_BYTES: usize = 4 << 20;
/// Most services taken from one peer's catalog.
pub const MAX_CATALOG_SERVICES: usize = 20_000;
/// Most bytes of a peer's result read (a result is a few hundred bytes).
pub const MAX_RESULT_BYTES: usize = 16 << 10;
/// Most bytes of a peer's document read (a year's history is about 60 KB).
pub const MAX_DOCUMENT_BYTES: usize = 256 << 10;
/// The status of a remote badge whose peer did not answer in time, or not usably.
pub const UNREACHABLE: &str = "unreachable";
/// Peer fetches of results at once; past it, the last result or `busy`.
const MAX_RESULT_FETCHES: usize = 256;

/// How peers are reached; the list itself comes from `OTHER_SHIELDS`.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// Extra CA certificates (PEM) trusted for peers, beside the system roots.
    pub ca_file: Option<PathBuf>,
    /// Time to establish a connection to a peer.
    pub connect_timeout: Duration,
    /// Time for a whole request to a peer, connection included.
    pub timeout: Duration,
    /// How often catalogs are refreshed.
    pub refresh: Duration,
    /// How long a peer's result (or its failure to give one) is reused; requests for the same
    /// badge meanwhile share one fetch.
    pub result_ttl: Duration,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            ca_file: None,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(3),
            refresh: Duration::from_secs(30),
            result_ttl: Duration::from_secs(5),
        }
    }
}

/// Why peers cannot be used; each names the setting to fix.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    /// An `OTHER_SHIELDS` entry that is not `[name=]host[:port]` or `[name=]http(s)://host[:port]`.
    #[error(
        "setting OTHER_SHIELDS: `{0}` is not a peer (host[:port] for https, or an http(s)://host[:port] URL without a path, each optionally named: eu=https://shields.eu.internal, a name being a DNS label: [a-z0-9-], at most 63)"
    )]
    BadPeer(String),
    /// The same peer twice.
    #[error("setting OTHER_SHIELDS: peer `{0}` is listed twice")]
    DuplicatePeer(String),
    /// The extra CA file cannot be used.
    #[error("setting --peer-ca-file ({path}): {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The HTTP client cannot be built.
    #[error("peer HTTP client: {0}")]
    Client(String),
}

/// One service of a catalog, local or a peer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Flat service name.
    pub name: String,
    /// Namespaces of its pods, sorted; empty for a service made of a plugin only.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Its checks, `health` first when it has pods.
    pub checks: Vec<String>,
    /// How its checks stand, where known without running anything: the built-in checks
    /// always, a plugin's check once it has answered (its last result). Older peers send none.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "known_states"
    )]
    pub states: BTreeMap<String, CheckStatus>,
    /// What each check reports, in a line, as its plugin describes it (built-in checks have
    /// theirs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub descriptions: BTreeMap<String, String>,
    /// Where a badge of this service should link (the pod-template annotation
    /// `kube-shields.io/link`, an `http(s)` URL): the index's snippets use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Whether its cluster keeps history (uptime badges and charts answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

/// The pod annotation naming where a service's badges link.
pub const LINK_ANNOTATION: &str = "kube-shields.io/link";

/// Longest link kept.
const MAX_LINK_CHARS: usize = 2048;

/// `text` if it is an `http(s)` URL fit to put in a page (no spaces, quotes or controls), at
/// most 2,048 characters: a link from a pod annotation or a peer is untrusted.
pub fn valid_link(text: &str) -> Option<String> {
    let fits = text.len() <= MAX_LINK_CHARS
        && (text.starts_with("https://") || text.starts_with("http://"))
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b));
    (fits && reqwest::Url::parse(text).is_ok()).then(|| text.to_owned())
}

/// A peer's states, leaving out any this version does not know (a newer peer's) rather than
/// refusing its catalog.
fn known_states<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, CheckStatus>, D::Error> {
    let states: BTreeMap<String, serde_json::Value> = Deserialize::deserialize(deserializer)?;
    Ok(states
        .into_iter()
        .filter_map(|(check, status)| Some((check, serde_json::from_value(status).ok()?)))
        .collect())
}

/// How one check stands: its state and its badge text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// The state ([`CheckState`]).
    pub state: CheckState,
    /// The badge's text, e.g. `2/3 (1 restart)`.
    pub status: String,
}

/// A check's state on the index's overview, by the aggregates' color rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Its color is orange or red.
    Failing,
    /// Its color is yellow (a rollout in progress, frequent restarts).
    Warning,
    /// A plugin error, a timeout, or busy.
    Error,
    /// The watch behind it has failed for longer than `--stale-after`.
    Stale,
    /// Its cluster does not answer.
    Unreachable,
    /// Lightgrey without a failure (`no pods`, rollout `unknown`), or not known yet.
    Unknown,
    /// Anything better than yellow.
    Ok,
}

impl CheckState {
    /// Every state, problems first.
    pub const ALL: [CheckState; 7] = [
        CheckState::Failing,
        CheckState::Warning,
        CheckState::Error,
        CheckState::Stale,
        CheckState::Unreachable,
        CheckState::Unknown,
        CheckState::Ok,
    ];

    /// Its name: `failing`, `warning`, `error`, `stale`, `unreachable`, `unknown`, `ok`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Failing => "failing",
            CheckState::Warning => "warning",
            CheckState::Error => "error",
            CheckState::Stale => "stale",
            CheckState::Unreachable => "unreachable",
            CheckState::Unknown => "unknown",
            CheckState::Ok => "ok",
        }
    }

    /// The state of this name.
    pub fn from_name(name: &str) -> Option<CheckState> {
        CheckState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }

    /// Whether it needs someone's attention (all but `ok`).
    pub fn is_problem(self) -> bool {
        self != CheckState::Ok
    }
}

/// A peer's catalog as last fetched, and whether the last fetch worked.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The peer's name: as named in `OTHER_SHIELDS`, else its `host[:port]`.
    pub name: String,
    /// `None` before the first fetch finished; then whether the last one worked.
    pub up: Option<bool>,
    /// Since when its catalog fetches fail (while `up` is `Some(false)`).
    pub down_since: Option<jiff::Timestamp>,
    /// The last catalog fetched (kept while the peer is down: its services stay listed, and
    /// their badges say unreachable).
    pub services: Arc<Vec<CatalogEntry>>,
}

/// One peer's state, for `/peers` and `/metrics`; errors never carry the secret.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    /// The peer's name.
    pub name: String,
    /// Where it is reached.
    pub url: String,
    /// `null` before the first fetch; then whether the last catalog fetch worked.
    pub up: Option<bool>,
    /// When a catalog fetch last worked.
    pub last_success: Option<jiff::Timestamp>,
    /// Since when its catalog fetches fail; `null` while they work.
    pub down_since: Option<jiff::Timestamp>,
    /// The last failure (of a catalog or a result fetch).
    pub last_error: Option<String>,
    /// When it happened.
    pub last_error_at: Option<jiff::Timestamp>,
    /// Latency of the last catalog fetch that worked, in seconds.
    pub latency_seconds: Option<f64>,
    /// Services in its catalog.
    pub services: usize,
}

struct Slot {
    client: PeerClient,
    /// `host[:port]`: also addresses a named peer (`<service>@<host[:port]>`).
    authority: String,
    status: Mutex<PeerStatus>,
    catalog: Mutex<Arc<Vec<CatalogEntry>>>,
    /// `true` once the first catalog fetch finished, either way.
    settled: watch::Sender<bool>,
}

/// The peers and what is known of them.
pub struct Peers {
    slots: Vec<Arc<Slot>>,
    refresh: Duration,
    /// `PeerSettings::timeout`: one request's bound.
    request_timeout: Duration,
    results: ResultCache<RemoteResult>,
    result_ttl: Duration,
}

impl Peers {
    /// No peers (private mode, or `OTHER_SHIELDS=None`).
    pub fn none() -> Arc<Peers> {
        let settings = PeerSettings::default();
        Arc::new(Peers {
            slots: Vec::new(),
            refresh: settings.refresh,
            request_timeout: settings.timeout,
            results: ResultCache::new(1),
            result_ttl: settings.result_ttl,
        })
    }

    /// Peers from `OTHER_SHIELDS` entries, over HTTP(S); requests are signed with `secret`.
    pub fn new(
        entries: &[String],
        settings: &PeerSettings,
        secret: &Secret,
    ) -> Result<Arc<Peers>, PeersError> {
        let http = client::http_client(settings)?;
        let peers = entries.iter().map(|entry| {
            let peer = parse_peer(entry).ok_or_else(|| PeersError::BadPeer(entry.clone()))?;
            let transport = HttpTransport {
                base: peer.base.clone(),
                http: http.clone(),
            };
            Ok((peer, Box::new(transport) as Box<dyn PeerTransport>))
        });
        Peers::over(peers.collect::<Result<_, _>>()?, settings, secret)
    }

    /// Peers reached in memory, each its name and another kube-shields' router: federation
    /// without sockets, for tests.
    pub fn in_memory(
        peers: Vec<(String, RouterTransport)>,
        settings: &PeerSettings,
        secret: &Secret,
    ) -> Result<Arc<Peers>, PeersError> {
        let peers = peers.into_iter().map(|(name, transport)| {
            let peer = PeerEntry {
                authority: format!("{name}.memory"),
                base: format!("memory://{name}"),
                name,
            };
            (peer, Box::new(transport) as Box<dyn PeerTransport>)
        });
        Peers::over(peers.collect(), settings, secret)
    }

    fn over(
        peers: Vec<(PeerEntry, Box<dyn PeerTransport>)>,
        settings: &PeerSettings,
        secret: &Secret,
    ) -> Result<Arc<Peers>, PeersError> {
        let signer = Arc::new(Signer::new(secret));
        let mut slots: Vec<Arc<Slot>> = Vec::new();
        for (peer, transport) in peers {
            let PeerEntry {
                name,
                authority,
                base,
            } = peer;
            let taken = |slot: &Arc<Slot>| {
                [&slot.client.name, &slot.authority].contains(&&name)
                    || [&slot.client.name, &slot.authority].contains(&&authority)
            };
            if slots.iter().any(taken) {
                return Err(PeersError::DuplicatePeer(name));
            }
            let status = PeerStatus {
                name: name.clone(),
                url: base,
                up: None,
                down_since: None,
                last_success: None,
                last_error: None,
                last_error_at: None,
                latency_seconds: None,
                services: 0,
            };
            slots.push(Arc::new(Slot {
                client: PeerClient::new(name, transport, Arc::clone(&signer)),
                authority,
                status: Mutex::new(status),
                catalog: Mutex::default(),
                settled: watch::Sender::new(false),
            }));
        }
        Ok(Arc::new(Peers {
            slots,
            refresh: settings.refresh,
            request_timeout: settings.timeout,
            results: ResultCache::new(MAX_RESULT_FETCHES),
            result_ttl: settings.result_ttl,
        }))
    }

    /// Refreshes every catalog now and then every `refresh`, each peer on its own schedule (a
    /// slow peer never holds back another's refresh), until the handle is aborted. After a
    /// failed refresh the next comes sooner ([`retry_after`]), so a peer back from an outage
    /// shows again within seconds.
    pub fn start(self: &Arc<Self>) -> Option<JoinHandle<()>> {
        if self.slots.is_empty() {
            return None;
        }
        let peers = Arc::clone(self);
        Some(tokio::spawn(async move {
            let each_peer = peers.slots.iter().map(|slot| async {
                let mut failures = 0;
                loop {
                    let started = tokio::time::Instant::now();
                    let worked = peers.refresh_one(slot).await;
                    failures = if worked { 0 } else { failures + 1 };
                    let wait = retry_after(failures, peers.refresh);
                    tokio::time::sleep_until(started + wait).await;
                }
            });
            futures::future::join_all(each_peer).await;
        }))
    }

    /// Fetches every peer's catalog at once; each replaces the cached one as it arrives.
    pub async fn refresh_all(&self) {
        futures::future::join_all(self.slots.iter().map(|slot| self.refresh_one(slot))).await;
    }

    /// How long one refresh of one peer's catalog may take, the legacy service-by-service crawl
    /// included: the refresh interval, and at least one request's timeout. Past it the refresh
    /// is abandoned (the last catalog keeps serving) and the next one starts on schedule.
    fn refresh_deadline(&self) -> Duration {
        self.refresh.max(self.request_timeout)
    }

    /// Refreshes one peer's catalog; whether it worked.
    async fn refresh_one(&self, slot: &Slot) -> bool {
        let started = Instant::now();
        let deadline = self.refresh_deadline();
        let fetched = tokio::time::timeout(deadline, slot.client.catalog())
            .await
            .unwrap_or(Err(client::FetchError::TooSlow(deadline)));
        let mut status = slot.status.lock().expect("peer status lock");
        let worked = fetched.is_ok();
        match fetched {
            Ok(catalog) => {
                if let Some(since) = status.down_since.take() {
                    let down = jiff::Timestamp::now().duration_since(since);
                    tracing::info!(
                        peer = %slot.client.name,
                        down_secs = down.as_secs(),
                        "peer catalog available again"
                    );
                }
                status.up = Some(true);
                status.last_success = Some(jiff::Timestamp::now());
                status.latency_seconds = Some(started.elapsed().as_secs_f64());
                status.services = catalog.len();
                *slot.catalog.lock().expect("peer catalog lock") = Arc::new(catalog);
            }
            Err(err) => {
                if status.up != Some(false) {
                    tracing::warn!(peer = %slot.client.name, error = %err, "peer catalog unavailable; its services stay listed as unreachable, retrying with back-off");
                    status.down_since = Some(jiff::Timestamp::now());
                }
                status.up = Some(false);
                note_error(&mut status, err);
            }
        }
        drop(status);
        slot.settled.send_replace(true);
        worked
    }

    /// Whether any peer is configured.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The peers' names, in configured order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|slot| slot.client.name.as_str())
    }

    /// Every peer's cached catalog, in configured order.
    pub fn clusters(&self) -> Vec<Cluster> {
        self.slots
            .iter()
            .map(|slot| Self::cluster_of(slot))
            .collect()
    }

    /// A peer's catalog once its first fetch has finished (at once after that).
    pub async fn settled_cluster(&self, name: &str) -> Option<Cluster> {
        let slot = self.slot(name)?;
        let mut settled = slot.settled.subscribe();
        // The sender lives as long as `self`, so this only ends when settled.
        let _ = settled.wait_for(|done| *done).await;
        Some(Self::cluster_of(slot))
    }

    fn cluster_of(slot: &Slot) -> Cluster {
        let status = slot.status.lock().expect("peer status lock");
        Cluster {
            name: slot.client.name.clone(),
            up: status.up,
            down_since: status.down_since,
            services: Arc::clone(&slot.catalog.lock().expect("peer catalog lock")),
        }
    }

    /// The peer `name` addresses: its name, or the `host[:port]` it is reached at.
    fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        let name = name.to_ascii_lowercase();
        self.slots
            .iter()
            .find(|slot| slot.client.name == name)
            .or_else(|| self.slots.iter().find(|slot| slot.authority == name))
    }

    /// The name of the peer `name` addresses (by name or by `host[:port]`), if configured.
    pub fn canonical(&self, name: &str) -> Option<&str> {
        self.slot(name).map(|slot| slot.client.name.as_str())
    }

    /// Whether a peer of this name is configured.
    pub fn knows(&self, name: &str) -> bool {
        self.slot(name).is_some()
    }

    /// The peer's answer to `path_and_query` (a `?raw` badge URL), or [`UNREACHABLE`] when it
    /// does not give one within the timeout or within [`MAX_RESULT_BYTES`]. Reused for
    /// `result_ttl`; concurrent requests for it share one fetch.
    pub async fn result(&self, peer: &str, path_and_query: &str) -> RemoteResult {
        let Some(slot) = self.slot(peer) else {
            return RemoteResult::Failed(UNREACHABLE.to_owned());
        };
        let key = CacheKey {
            scope: peer.to_owned(),
            check: path_and_query.to_owned(),
        };
        let fetch = || {
            let (slot, path) = (Arc::clone(slot), path_and_query.to_owned());
            async move {
                match slot.client.result(&path).await {
                    Ok(result) => result,
                    Err(err) => {
                        tracing::info!(peer = %slot.client.name, error = %err, "peer result unavailable");
                        note_error(&mut slot.status.lock().expect("peer status lock"), err);
                        RemoteResult::Failed(UNREACHABLE.to_owned())
                    }
                }
            }
            .boxed()
        };
        let (result, _) = self.results.get(key, 0, self.result_ttl, fetch).await;
        result.unwrap_or_else(|| RemoteResult::Failed("busy".to_owned()))
    }

    /// The peer's `200` answer to `path_and_query` (a history document) of at most
    /// [`MAX_DOCUMENT_BYTES`], unchecked: `None` when it gives none within the timeout.
    pub async fn document(&self, peer: &str, path_and_query: &str) -> Option<Vec<u8>> {
        let slot = self.slot(peer)?;
        match slot
            .client
            .document(path_and_query, MAX_DOCUMENT_BYTES)
            .await
        {
            Ok(body) => Some(body),
            Err(err) => {
                tracing::info!(peer = %slot.client.name, error = %err, "peer document unavailable");
                note_error(&mut slot.status.lock().expect("peer status lock"), err);
                None
            }
        }
    }

    /// Every peer's state, in configured order.
    pub fn status(&self) -> Vec<PeerStatus> {
        self.slots
            .iter()
            .map(|slot| slot.status.lock().expect("peer status lock").clone())
            .collect()
    }
}

/// How long after a refresh the next one starts: `refresh` while they work; after `failures`
/// failed ones in a row 1 s, 2 s, 4 s, … up to `refresh`.
fn retry_after(failures: u32, refresh: Duration) -> Duration {
    if failures == 0 {
        return refresh;
    }
    let backoff = Duration::from_secs(1u64 << (failures - 1).min(16));
    backoff.min(refresh)
}

fn note_error(status: &mut PeerStatus, err: client::FetchError) {
    status.last_error = Some(err.to_string());
    status.last_error_at = Some(jiff::Timestamp::now());
}

/// An `OTHER_SHIELDS` entry.
#[derive(Debug, PartialEq, Eq)]
struct PeerEntry {
    /// Its name: as given, else its authority.
    name: String,
    /// `host[:port]`, lowercase.
    authority: String,
    /// Its base URL (no trailing slash).
    base: String,
}

/// Whether `name` can name a cluster: a DNS label (`[a-z0-9]`, `-` inside, at most 63), so it
/// reads as a plain word in a badge URL (`/_/billing@eu/health/`).
pub fn is_cluster_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `[name=]host[:port]` → https; `[name=]http(s)://host[:port][/]` as written.
fn parse_peer(entry: &str) -> Option<PeerEntry> {
    let (name, address) = match entry.split_once('=') {
        Some((name, address)) => (Some(name), address),
        None => (None, entry),
    };
    if name.is_some_and(|name| !is_cluster_name(name)) {
        return None;
    }
    let (authority, base) = parse_address(address)?;
    Some(PeerEntry {
        name: name.map_or_else(|| authority.clone(), str::to_owned),
        authority,
        base,
    })
}

/// `host[:port]` → https; `http(s)://host[:port][/]` as written. Gives the authority and the
/// base URL (no trailing slash).
fn parse_address(entry: &str) -> Option<(String, String)> {
    let (scheme, rest) = match entry.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some(_) => return None,
        None => ("https", entry),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    let uri: http::uri::Authority = authority.parse().ok()?;
    (valid && !uri.host().is_empty()).then(|| {
        let name = authority.to_ascii_lowercase();
        (name.clone(), format!("{scheme}://{name}"))
    })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::host("shields.eu.example.com", Some(("shields.eu.example.com", "shields.eu.example.com", "https://shields.eu.example.com")))]
    #[case::host_port("shields.eu:8443", Some(("shields.eu:8443", "shields.eu:8443", "https://shields.eu:8443")))]
    #[case::http_url("http://127.0.0.1:8080/", Some(("127.0.0.1:8080", "127.0.0.1:8080", "http://127.0.0.1:8080")))]
    #[case::https_url("https://a.example", Some(("a.example", "a.example", "https://a.example")))]
    #[case::named_url("eu=https://shields.eu.internal", Some(("eu", "shields.eu.internal", "https://shields.eu.internal")))]
    #[case::named_host("us-east-1=shields.us:8443", Some(("us-east-1", "shields.us:8443", "https://shields.us:8443")))]
    #[case::named_http("dev=http://127.0.0.1:8081", Some(("dev", "127.0.0.1:8081", "http://127.0.0.1:8081")))]
    #[case::upper_case_name("EU=https://a.example", None)]
    #[case::dotted_name("eu.west=https://a.example", None)]
    #[case::empty_name("=https://a.example", None)]
    #[case::path("https://a.example/shields", None)]
    #[case::other_scheme("ftp://a.example", None)]
    #[case::userinfo("https://user:pw@a.example", None)]
    #[case::empty("https://", None)]
    fn peers_are_host_port_or_a_url_each_optionally_named(
        #[case] entry: &str,
        #[case] expected: Option<(&str, &str, &str)>,
    ) {
        assert_eq!(
            parse_peer(entry),
            expected.map(|(name, authority, base)| PeerEntry {
                name: name.to_owned(),
                authority: authority.to_owned(),
                base: base.to_owned()
            })
        );
    }

    #[rstest]
    #[case::https("https://github.com/example/web", true)]
    #[case::http_with_query("http://wiki.internal/page?id=3#top", true)]
    #[case::javascript("javascript:alert(1)", false)]
    #[case::quote("https://a.example/\"onmouseover=x", false)]
    #[case::angle("https://a.example/<script>", false)]
    #[case::space("https://a.example/a b", false)]
    #[case::relative("/_/web/health/", false)]
    #[case::too_long(&format!("https://a.example/{}", "a".repeat(2100)), false)]
    fn links_are_http_urls_fit_for_a_page(#[case] text: &str, #[case] valid: bool) {
        assert_eq!(valid_link(text).is_some(), valid);
    }

    #[rstest]
    #[case::working(0, 30)]
    #[case::first_failure(1, 1)]
    #[case::second(2, 2)]
    #[case::third(3, 4)]
    #[case::capped_at_the_refresh(6, 30)]
    #[case::many(1000, 30)]
    fn a_failed_refresh_is_retried_sooner_with_back_off(
        #[case] failures: u32,
        #[case] seconds: u64,
    ) {
        assert_eq!(
            retry_after(failures, Duration::from_secs(30)),
            Duration::from_secs(seconds)
        );
    }
}
