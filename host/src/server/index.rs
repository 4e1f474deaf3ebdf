//! `GET /`: every cluster's services and checks as badges, grouped by cluster and namespace.
//!
//! The page is streaming HTML: the head, this cluster and every peer whose catalog is cached go
//! out at once; a peer still on its first fetch follows when it settles (within the peer
//! timeout), or shows as unreachable. Everything works without JavaScript (the filter box is a
//! GET form); `/index.js` (CSP `script-src 'self'`, no inline script) adds live filtering and
//! marks each badge image as loaded. Every text is escaped here, in one renderer: names come
//! from peers, statuses from plugins (those only ever appear inside badge images).
//!
//! Its cost is bounded, whatever the catalogs hold: a page shows at most [`PAGE_SERVICES`]
//! services (`?page=N` for the rest), it is rendered off the HTTP workers, one render at a time,
//! and a rendered page is reused for [`RENDER_TTL`] by everyone who asks for the same one (a peer
//! catalog of 20,000 services made `/` 26 MB and 0.41 s of CPU per request, and 8 connections on
//! it took health badges from 27,888 to 334 req/s).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::StreamExt;
use futures::stream::{self, FuturesUnordered};
use kube_shields_badge::escape_xml as escape;

use super::ServerState;
use crate::peers::{CatalogEntry, CheckState, Cluster};

/// No external assets, no inline script or style.
const CSP: &str = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The filter and badge-load script, served as `/index.js`.
pub const SCRIPT: &str = include_str!("index.js");
/// The page's style, served as `/index.css`.
pub const STYLE: &str = include_str!("index.css");

/// Services on one page of the index.
pub(crate) const PAGE_SERVICES: usize = 1_000;
/// Up to this many services on a page, each badge's panel holds every snippet format without
/// JavaScript; a larger page holds the Markdown and URL (1,000 services with two checks: all
/// five formats would double the page, 670 kB to 1.3 MB).
const FULL_SNIPPETS: usize = 100;
/// How long a rendered page is reused for everyone who asks for the same one.
const RENDER_TTL: Duration = Duration::from_secs(1);
/// Rendered pages kept at most (distinct filters, pages and origins).
const RENDERED_PAGES: usize = 64;

/// What every section of one page shares.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Page {
    site: String,
    /// This cluster's heading: `--cluster-name`, else "this cluster".
    cluster_name: Option<String>,
    /// `scheme://host` of this instance as the client reached it, for the embed snippets.
    origin: String,
    /// The filter, lowercased; empty shows everything.
    filter: String,
    /// `?state=`: only services with a check in this state (`problems`: any but `ok`).
    state: Option<StateFilter>,
    /// Which page, from 1.
    number: usize,
}

impl Page {
    /// This page's address with another state filter and page number (the text filter kept).
    fn href(&self, state: Option<StateFilter>, number: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !self.filter.is_empty() {
            query.append_pair("q", &self.filter);
        }
        if let Some(state) = state {
            query.append_pair("state", state.name());
        }
        if number > 1 {
            query.append_pair("page", &number.to_string());
        }
        match query.finish() {
            query if query.is_empty() => "/".to_owned(),
            query => format!("/?{query}"),
        }
    }
}

/// One page as rendered: the part known now, and the whole page gzipped for when nothing
/// follows it (no peer on its first fetch), which browsers ask for.
#[derive(Clone)]
struct Rendered {
    known: Bytes,
    whole_gzip: Bytes,
}

impl Rendered {
    fn new(known: String) -> Self {
        let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
        // Writing into a Vec cannot fail.
        gzip.write_all(known.as_bytes()).expect("in memory");
        gzip.write_all(FOOTER).expect("in memory");
        Rendered {
            whole_gzip: Bytes::from(gzip.finish().expect("in memory")),
            known: Bytes::from(known),
        }
    }
}

/// Renders index pages one at a time, off the HTTP workers, and keeps each for a moment.
pub(crate) struct IndexPages {
    rendered: Mutex<HashMap<Page, (Instant, Rendered)>>,
    one_at_a_time: tokio::sync::Semaphore,
}

impl IndexPages {
    pub(crate) fn new() -> Self {
        IndexPages {
            rendered: Mutex::default(),
            one_at_a_time: tokio::sync::Semaphore::new(1),
        }
    }

    /// The page as rendered within [`RENDER_TTL`], else rendered now by `render`.
    async fn get(&self, page: &Page, render: impl FnOnce() -> String + Send + 'static) -> Rendered {
        let fresh = |rendered: &HashMap<Page, (Instant, Rendered)>| {
            rendered
                .get(page)
                .filter(|(at, _)| at.elapsed() < RENDER_TTL)
                .map(|(_, page)| page.clone())
        };
        if let Some(page) = fresh(&self.lock()) {
            return page;
        }
        let _turn = self.one_at_a_time.acquire().await.expect("never closed");
        // Rendered by the request that held the turn before this one?
        if let Some(page) = fresh(&self.lock()) {
            return page;
        }
        let fresh_page = match tokio::task::spawn_blocking(move || Rendered::new(render())).await {
            Ok(page) => page,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        let mut rendered = self.lock();
        if rendered.len() >= RENDERED_PAGES {
            rendered.retain(|_, (at, _)| at.elapsed() < RENDER_TTL);
        }
        if rendered.len() < RENDERED_PAGES {
            rendered.insert(page.clone(), (Instant::now(), fresh_page.clone()));
        }
        fresh_page
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Page, (Instant, Rendered)>> {
        self.rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The index as a stream: everything known now (one page of it), then each peer that settles.
pub(crate) async fn respond(
    state: &Arc<ServerState>,
    headers: &HeaderMap,
    filter: &str,
    state_filter: Option<StateFilter>,
    number: usize,
) -> Response {
    let page = Page {
        site: state.config.site_name.clone(),
        cluster_name: state.config.cluster_name.clone(),
        origin: origin(headers),
        filter: filter.trim().to_lowercase(),
        state: state_filter,
        number: number.max(1),
    };
    let peers = Arc::clone(state.checker.peers());
    let clusters = peers.clusters();
    let pending: Vec<String> = clusters
        .iter()
        .filter(|cluster| cluster.up.is_none())
        .map(|cluster| cluster.name.clone())
        .collect();
    let rendered = {
        // The local catalog is built only when the page is rendered (1,000 services: about
        // as much work as the page's render).
        let (page, renderer) = (page.clone(), Arc::clone(state));
        state
            .index_pages
            .get(&page.clone(), move || {
                known_clusters(&page, &renderer.checker.catalog(), &clusters)
            })
            .await
    };
    // Nothing follows: the whole page at once, gzipped for a client that takes it (every
    // browser): a 1,000-service page is 810 kB of HTML and about 34 kB gzipped, small enough
    // to go out in one write, with its length.
    if pending.is_empty() && accepts_gzip(headers) {
        let mut response = page_response(Body::from(rendered.whole_gzip));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        return response;
    }
    // Peers still on their first fetch follow on the first page, each within a page's bound.
    let page = Arc::new(page);
    let later: FuturesUnordered<_> = pending
        .into_iter()
        .filter(|_| page.number == 1)
        .map(|name| {
            let (peers, page) = (Arc::clone(&peers), Arc::clone(&page));
            async move {
                let cluster = peers.settled_cluster(&name).await;
                cluster.map_or_else(String::new, |cluster| {
                    let part = Part::peer(&cluster);
                    let rows = rows(&page, &part, &cluster.services);
                    let shown = &rows[..rows.len().min(PAGE_SERVICES)];
                    let problems = problems_text(&state_counts(&page, &part, &cluster.services));
                    let full = shown.len() <= FULL_SNIPPETS;
                    section(&page, &part, shown, rows.len(), &problems, full)
                })
            }
        })
        .collect();
    let body = in_turns(rendered.known)
        .chain(later.map(Bytes::from))
        .chain(stream::once(async { Bytes::from_static(FOOTER) }));
    let mut response = page_response(Body::from_stream(body.map(Ok::<_, Infallible>)));
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

/// The end of every page.
const FOOTER: &[u8] = b"</main>\n<footer>kube-shields</footer>\n</body>\n</html>\n";

/// An HTML page of `body`, with the page's headers.
fn page_response(body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Whether `Accept-Encoding` takes gzip (by name or `*`, with a quality above zero).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The bytes of one turn: a connection sending a page yields to other ready tasks (badge
/// requests) after each, instead of writing the whole page in one poll.
const TURN_BYTES: usize = 16 * 1024;

/// `bytes` in slices of [`TURN_BYTES`], yielding after each.
fn in_turns(bytes: Bytes) -> impl futures::Stream<Item = Bytes> + Send + 'static {
    let slices = (0..bytes.len())
        .step_by(TURN_BYTES)
        .map(move |start| bytes.slice(start..(start + TURN_BYTES).min(bytes.len())));
    stream::iter(slices).then(|slice| async move {
        tokio::task::yield_now().await;
        slice
    })
}

/// `scheme://host` from `X-Forwarded-Proto` and `Host`; empty (relative snippets) when the
/// host is not a plain authority.
fn origin(headers: &HeaderMap) -> String {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
    };
    let host = text(header::HOST.as_str()).unwrap_or_default();
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !plain {
        return String::new();
    }
    let scheme = match text("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn head(page: &Page, clusters: usize) -> String {
    let site = escape(&page.site);
    let filter = escape(&page.filter);
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{site}</title>\n<link rel=\"stylesheet\" href=\"/index.css\">\n\
         <script src=\"/index.js\" defer></script>\n</head>\n<body>\n<header>\n\
         <h1 id=\"site\">{site}</h1>\n\
         <form method=\"get\" action=\"/\" role=\"search\">\
         <label for=\"filter\">Filter</label> \
         <input id=\"filter\" name=\"q\" type=\"search\" value=\"{filter}\" \
         placeholder=\"service, namespace, check or cluster\" autocomplete=\"off\"> \
         <button type=\"submit\">Filter</button></form>\n\
         <p id=\"progress\" aria-live=\"polite\">{}</p>\n</header>\n<main>\n",
        count(clusters, "cluster")
    )
}

/// `1 cluster`, `2 clusters`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The head, this cluster and every peer whose catalog is known: the page's
/// [`PAGE_SERVICES`] of their matching services (in order: this cluster, then the peers), and
/// links to the other pages.
fn known_clusters(page: &Page, local: &[CatalogEntry], clusters: &[Cluster]) -> String {
    let mut known: Vec<(Part, &[CatalogEntry])> = vec![(Part::LOCAL, local)];
    for cluster in clusters.iter().filter(|cluster| cluster.up.is_some()) {
        known.push((Part::peer(cluster), &cluster.services));
    }
    let mut html = head(page, clusters.len() + 1);
    html.push_str(&overview(page, &known));
    let parts: Vec<(&Part, Vec<&CatalogEntry>, String)> = known
        .iter()
        .map(|(part, services)| {
            let problems = problems_text(&state_counts(page, part, services));
            (part, rows(page, part, services), problems)
        })
        .collect();
    let total: usize = parts.iter().map(|(_, rows, _)| rows.len()).sum();
    let pages = total.div_ceil(PAGE_SERVICES).max(1);
    let (from, to) = (
        (page.number - 1) * PAGE_SERVICES,
        page.number * PAGE_SERVICES,
    );
    // Every snippet format in each badge's panel on a page of a few services; the Markdown and
    // URL on a larger one (`/index.js` builds them all, and each badge links to its service's
    // page with all of them).
    let full = total.saturating_sub(from).min(PAGE_SERVICES) <= FULL_SNIPPETS;
    let mut before = 0;
    for (part, rows, problems) in &parts {
        let (start, end) = (before, before + rows.len());
        before = end;
        // A cluster with no row on this page shows on the first page only (its state).
        let shown = &rows[from.clamp(start, end) - start..to.clamp(start, end) - start];
        if !shown.is_empty() || (page.number == 1 && rows.is_empty()) {
            html.push_str(&section(page, part, shown, rows.len(), problems, full));
        }
    }
    html.push_str(&pager(page, pages, total));
    html
}

/// `?state=`: which services the page shows by how their checks stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StateFilter {
    /// `problems`: a check in any state but `ok`.
    Problems,
    /// A check in this state.
    One(CheckState),
}

impl StateFilter {
    /// `problems` or a state's name.
    pub(crate) fn parse(text: &str) -> Option<StateFilter> {
        match text {
            "problems" => Some(StateFilter::Problems),
            other => CheckState::from_name(other).map(StateFilter::One),
        }
    }

    fn name(self) -> &'static str {
        match self {
            StateFilter::Problems => "problems",
            StateFilter::One(state) => state.as_str(),
        }
    }

    fn admits(self, state: CheckState) -> bool {
        match self {
            StateFilter::Problems => state.is_problem(),
            StateFilter::One(wanted) => state == wanted,
        }
    }
}

/// The counts per state over every service the text filter leaves, in all known clusters, with
/// a link to each state's services; when the page was made; a refresh link (`/index.js`
/// refreshes by itself).
fn overview(page: &Page, known: &[(Part, &[CatalogEntry])]) -> String {
    let mut total: BTreeMap<CheckState, usize> = BTreeMap::new();
    for (part, services) in known {
        for (state, n) in state_counts(page, part, services) {
            *total.entry(state).or_default() += n;
        }
    }
    let link = |state: Option<StateFilter>| page.href(state, 1);
    let mut html = String::from("<nav id=\"overview\" aria-label=\"Overview\"><ul>\n");
    for state in CheckState::ALL {
        let n = total.get(&state).copied().unwrap_or(0);
        let current = page.state == Some(StateFilter::One(state));
        let _ = writeln!(
            html,
            "<li class=\"count\" data-state=\"{state}\"><a href=\"{href}\"{aria}>\
             <span class=\"n\">{n}</span> {state}</a></li>",
            state = state.as_str(),
            href = escape(&link(Some(StateFilter::One(state)))),
            aria = if current {
                " aria-current=\"page\""
            } else {
                ""
            },
        );
    }
    let problems: usize = total
        .iter()
        .filter(|(state, _)| state.is_problem())
        .map(|(_, n)| n)
        .sum();
    let (toggle, toggle_text) = match page.state {
        None => (
            link(Some(StateFilter::Problems)),
            format!("problems only ({problems})"),
        ),
        Some(_) => (link(None), "every check".to_owned()),
    };
    let now = jiff::Timestamp::now().strftime("%H:%M:%S UTC");
    let _ = write!(
        html,
        "</ul>\n<p><a id=\"toggle\" href=\"{}\">{}</a> · <span id=\"updated\">updated {now}</span> · \
         <a id=\"refresh\" href=\"{}\">refresh</a></p>\n</nav>\n",
        escape(&toggle),
        escape(&toggle_text),
        escape(&link(page.state)),
    );
    html
}

/// How many checks of a cluster's services (those the text filter leaves) are in each state.
fn state_counts(
    page: &Page,
    part: &Part,
    services: &[CatalogEntry],
) -> BTreeMap<CheckState, usize> {
    let mut counts = BTreeMap::new();
    for entry in services
        .iter()
        .filter(|entry| text_matches(page, part, entry))
    {
        for check in &entry.checks {
            *counts.entry(status_of(part, entry, check).0).or_default() += 1;
        }
    }
    counts
}

/// A cluster's problems for its heading: `1 failing · 2 unknown`, empty without any.
fn problems_text(counts: &BTreeMap<CheckState, usize>) -> String {
    let problems: Vec<String> = counts
        .iter()
        .filter(|(state, _)| state.is_problem())
        .map(|(state, n)| format!("{n} {}", state.as_str()))
        .collect();
    problems.join(" · ")
}

/// How `check` of `entry` stands on this page: unreachable while its cluster is; else as its
/// catalog says (`unknown` when it says nothing).
fn status_of<'e>(
    part: &Part,
    entry: &'e CatalogEntry,
    check: &str,
) -> (CheckState, Option<&'e str>) {
    if part.up == Some(false) {
        return (CheckState::Unreachable, Some("unreachable"));
    }
    entry
        .states
        .get(check)
        .map_or((CheckState::Unknown, None), |status| {
            (status.state, Some(status.status.as_str()))
        })
}

/// One cluster's section: this cluster (no name in its URLs) or a peer, and its state.
struct Part<'a> {
    /// The peer's name; `None` for this cluster.
    name: Option<&'a str>,
    /// `None` while its first catalog fetch runs; then whether the last one worked.
    up: Option<bool>,
    /// Since when it does not answer.
    down_since: Option<jiff::Timestamp>,
}

impl<'a> Part<'a> {
    const LOCAL: Part<'static> = Part {
        name: None,
        up: Some(true),
        down_since: None,
    };

    fn peer(cluster: &'a Cluster) -> Part<'a> {
        Part {
            name: Some(&cluster.name),
            up: cluster.up,
            down_since: cluster.down_since,
        }
    }
}

/// Links to the other pages, when there are several.
fn pager(page: &Page, pages: usize, total: usize) -> String {
    if pages <= 1 {
        return String::new();
    }
    let link = |number: usize, text: &str| {
        format!(
            "<a href=\"{}\">{text}</a>",
            escape(&page.href(page.state, number))
        )
    };
    let first = (page.number - 1) * PAGE_SERVICES + 1;
    let last = (page.number * PAGE_SERVICES).min(total);
    let mut nav = format!(
        "<nav class=\"pages\" aria-label=\"pages\"><p>Services {first}–{last} of {total} \
         (page {} of {pages}); the filter narrows them.</p>",
        page.number
    );
    if page.number > 1 {
        nav.push_str(&link(page.number - 1, "previous page"));
    }
    if page.number < pages {
        nav.push(' ');
        nav.push_str(&link(page.number + 1, "next page"));
    }
    nav.push_str("</nav>\n");
    nav
}

/// A cluster's services that match the filter, in the page's order: grouped by the namespaces
/// of their pods (sorted), plugin-only services last.
fn rows<'a>(page: &Page, part: &Part, services: &'a [CatalogEntry]) -> Vec<&'a CatalogEntry> {
    let mut groups: Vec<(String, Vec<&CatalogEntry>)> = Vec::new();
    for entry in services.iter().filter(|entry| matches(page, part, entry)) {
        let key = group_of(entry);
        match groups.iter_mut().find(|(group, _)| *group == key) {
            Some((_, members)) => members.push(entry),
            None => groups.push((key, vec![entry])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
        .into_iter()
        .flat_map(|(_, members)| members)
        .collect()
}

/// The namespace group of a service: its pods' namespaces, or no pods (sorted last).
fn group_of(entry: &CatalogEntry) -> String {
    if entry.namespaces.is_empty() {
        "\u{2002}no pods".to_owned()
    } else {
        entry.namespaces.join(", ")
    }
}

/// One cluster: this one (`name` `None`) or a peer; `up` `None` while its first fetch runs.
/// `shown` are its rows on this page (in [`rows`] order), of `matching` in all.
fn section(
    page: &Page,
    part: &Part,
    shown: &[&CatalogEntry],
    matching: usize,
    problems: &str,
    full: bool,
) -> String {
    let name = part.name;
    let title = escape(
        name.or(page.cluster_name.as_deref())
            .unwrap_or("this cluster"),
    );
    let cluster_attr = escape(name.unwrap_or(""));
    let since = part
        .down_since
        .map(|since| since.strftime("%Y-%m-%d %H:%M:%S UTC").to_string());
    let (state, state_text) = match (part.up, &since) {
        (Some(true), _) => ("up", count(matching, "service")),
        (Some(false), Some(since)) => ("unreachable", format!("unreachable since {since}")),
        (Some(false), None) => ("unreachable", "unreachable".to_owned()),
        (None, _) => ("loading", "loading".to_owned()),
    };
    let problems = match problems {
        "" => String::new(),
        problems => format!(" <span class=\"problems\">{}</span>", escape(problems)),
    };
    let mut html = format!(
        "<section class=\"cluster\" data-cluster=\"{cluster_attr}\" data-state=\"{state}\">\n\
         <h2>{title} <span class=\"state\">{state_text}</span>{problems}</h2>\n"
    );
    let known_before = part.up == Some(false) && matching > 0;
    if part.up != Some(true) && !known_before {
        if part.up == Some(false) {
            html.push_str(
                "<p class=\"notice\">This cluster did not answer: its badges are not shown.</p>\n",
            );
        }
        html.push_str("</section>\n");
        return html;
    }
    if known_before {
        html.push_str(
            "<p class=\"notice\">This cluster does not answer: its services as last known; their \
             badges say unreachable until it is back.</p>\n",
        );
    }
    if shown.is_empty() {
        html.push_str("<p class=\"notice\">No service matches.</p>\n");
    }
    // The rows come grouped (see `rows`): a namespace heading wherever the group changes.
    let mut group: Option<String> = None;
    for entry in shown {
        let key = group_of(entry);
        if group.as_ref() != Some(&key) {
            if group.is_some() {
                html.push_str("</table></section>\n");
            }
            let _ = write!(
                html,
                "<section class=\"namespace\"><h3>{}</h3>\n<table>\n",
                escape(key.trim_start())
            );
            group = Some(key);
        }
        html.push_str(&service_row(page, part, entry, full));
    }
    if group.is_some() {
        html.push_str("</table></section>\n");
    }
    html.push_str("</section>\n");
    html
}

/// Whether `entry` is on the page: the text filter and the state filter.
fn matches(page: &Page, part: &Part, entry: &CatalogEntry) -> bool {
    let in_state = |filter: StateFilter| {
        entry
            .checks
            .iter()
            .any(|check| filter.admits(status_of(part, entry, check).0))
    };
    text_matches(page, part, entry) && page.state.is_none_or(in_state)
}

/// Whether `entry` matches the text filter.
fn text_matches(page: &Page, part: &Part, entry: &CatalogEntry) -> bool {
    page.filter.is_empty() || search_text(part, entry).contains(&page.filter)
}

/// What the filter searches: service, namespaces, checks and cluster.
/// What the filter reads of a service: its name, namespaces, cluster, and each check's name,
/// state and status text.
fn search_text(part: &Part, entry: &CatalogEntry) -> String {
    let mut text = entry.name.clone();
    for word in entry
        .namespaces
        .iter()
        .chain(part.name.map(str::to_owned).as_ref())
    {
        text.push(' ');
        text.push_str(word);
    }
    for check in &entry.checks {
        let (state, status) = status_of(part, entry, check);
        for word in [check.as_str(), state.as_str(), status.unwrap_or_default()] {
            text.push(' ');
            text.push_str(word);
        }
    }
    text.to_lowercase()
}

/// One service: its name, then per check the badge, what the check reports, and the snippets to
/// embed it (see [`Snippets`]), all as selectable text in a `<details>` whose panel overlays the
/// page (opening one moves nothing). `/index.js` adds a copy button per snippet and one shared
/// builder (style, label, live preview) to whichever is open. The row carries the link target.
fn service_row(page: &Page, part: &Part, entry: &CatalogEntry, full: bool) -> String {
    let address = match part.name {
        Some(cluster) => format!("{}@{cluster}", entry.name),
        None => entry.name.clone(),
    };
    let target = link_target(page, entry);
    let mut row = format!(
        "<tr class=\"service\" data-search=\"{}\" data-link=\"{}\"><th scope=\"row\">{}</th><td>",
        escape(&search_text(part, entry)),
        escape(&target),
        escape(&entry.name)
    );
    if let Some(check) = entry.checks.first().filter(|_| entry.history) {
        // The last 24 hours of its first check, a bar an hour; the 30 days behind a link.
        let chart = format!("/_/{address}/{check}/chart.svg");
        let _ = write!(
            row,
            "<a class=\"history\" href=\"{chart}?window=30d\"><img class=\"history\" \
             alt=\"{name} {check}, last 24 hours (30 days: follow the link)\" \
             src=\"{chart}?window=24h\" loading=\"lazy\"></a>",
            chart = escape(&chart),
            name = escape(&entry.name),
            check = escape(check),
        );
    }
    for check in &entry.checks {
        let path = format!("/_/{address}/{check}/");
        let (state, status) = status_of(part, entry, check);
        // The page's alt text says what the badge says now, for whoever cannot see it; the
        // snippets' names the badge only (their status changes after they are pasted).
        let name = format!("{} {check}", entry.name);
        let alt = match status {
            Some(status) => format!("{name}: {status}"),
            None => name.clone(),
        };
        let description = entry
            .descriptions
            .get(check)
            .map(|text| format!("<figcaption>{}</figcaption>", escape(text)))
            .unwrap_or_default();
        let snippets = Snippets {
            url: format!("{}{path}", page.origin),
            name: &name,
            target: &target,
        };
        let _ = write!(
            row,
            "<figure class=\"badge\" data-state=\"{state}\"><img class=\"badge\" alt=\"{alt}\" \
             src=\"{path}?format=svg\">{description}<details class=\"embed\"><summary>embed\
             <span class=\"vh\"> {name}</span></summary><div class=\"panel\"><dl class=\"snippets\">",
            alt = escape(&alt),
            state = state.as_str(),
            path = escape(&path),
            name = escape(&name),
        );
        for (format, snippet) in snippets.all() {
            if full || format == "Markdown" || format == "URL" {
                let _ = write!(
                    row,
                    "<dt>{format}</dt><dd><code>{}</code></dd>",
                    escape(&snippet)
                );
            }
        }
        row.push_str("</dl>");
        if !full {
            let _ = write!(
                row,
                "<a class=\"more\" href=\"{}\">all formats</a>",
                escape(&service_page(&entry.name))
            );
        }
        row.push_str("</div></details></figure>");
    }
    row.push_str("</td></tr>\n");
    row
}

/// Where a badge of `entry` links in its snippets: the service's own link (the pod-template
/// annotation `kube-shields.io/link`), else this index filtered to the service — never the
/// badge's own image.
fn link_target(page: &Page, entry: &CatalogEntry) -> String {
    match &entry.link {
        Some(link) => link.clone(),
        None => format!("{}{}", page.origin, service_page(&entry.name)),
    }
}

/// This index filtered to one service: `/?q=<name>`.
fn service_page(name: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", name)
        .finish();
    format!("/?{query}")
}

/// The snippets that embed one badge (`/index.js` builds the same ones with a style and label).
struct Snippets<'a> {
    /// The badge's URL (a redirect to shields.io, which every renderer of a README follows).
    url: String,
    /// Its alt text: service and check.
    name: &'a str,
    /// Where it links.
    target: &'a str,
}

impl Snippets<'_> {
    /// `(format, snippet)` in the order the page shows them.
    fn all(&self) -> [(&'static str, String); 5] {
        let Snippets { url, name, target } = self;
        // Parentheses would end a Markdown link; a valid link has no space, quote or `<>`.
        let md = |text: &str| text.replace('(', "%28").replace(')', "%29");
        [
            (
                "Markdown",
                format!("[![{name}]({})]({})", md(url), md(target)),
            ),
            (
                "HTML",
                format!(
                    "<a href=\"{}\"><img alt=\"{}\" src=\"{}\"></a>",
                    escape(target),
                    escape(name),
                    escape(url)
                ),
            ),
            ("URL", url.clone()),
            (
                "reStructuredText",
                format!(".. image:: {url}\n   :alt: {name}\n   :target: {target}"),
            ),
            ("AsciiDoc", format!("image:{url}[{name},link=\"{target}\"]")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(services: usize) -> Vec<CatalogEntry> {
        (0..services)
            .map(|n| CatalogEntry {
                name: format!("svc-{n:05}"),
                namespaces: vec![format!("ns-{}", n % 3)],
                checks: vec!["health".to_owned()],
                states: Default::default(),
                descriptions: Default::default(),
                link: None,
                history: false,
            })
            .collect()
    }

    fn page(number: usize, filter: &str) -> Page {
        Page {
            cluster_name: None,
            state: None,
            site: "test".to_owned(),
            origin: String::new(),
            filter: filter.to_owned(),
            number,
        }
    }

    fn rows_on(html: &str) -> usize {
        html.matches("<tr class=\"service\"").count()
    }

    /// A page holds at most PAGE_SERVICES services, whatever the catalogs hold, and says where
    /// the rest are.
    #[test]
    fn a_large_federation_is_paged() {
        let local = catalog(300);
        let peer = Cluster {
            name: "eu".to_owned(),
            up: Some(true),
            down_since: None,
            services: Arc::new(catalog(20_000)),
        };
        let clusters = [peer];
        let first = known_clusters(&page(1, ""), &local, &clusters);
        assert_eq!(rows_on(&first), PAGE_SERVICES);
        assert!(
            first.contains("Services 1–1000 of 20300 (page 1 of 21)"),
            "{}",
            &first[first.len() - 400..]
        );
        assert!(first.contains("<a href=\"/?page=2\">next page</a>"));
        assert!(first.contains("this cluster <span class=\"state\">300 services</span>"));
        let last = known_clusters(&page(21, ""), &local, &clusters);
        assert_eq!(rows_on(&last), 300);
        assert!(
            !last.contains("this cluster"),
            "this cluster's rows are all on page 1"
        );
        assert!(last.contains("<a href=\"/?page=20\">previous page</a>"));
        let filtered = known_clusters(&page(1, "svc-0001"), &local, &clusters);
        assert_eq!(rows_on(&filtered), 20);
        assert!(!filtered.contains("next page"));
    }
}
