//! `GET /`: every cluster's services and checks as badges, grouped by cluster and namespace.
//!
//! The page is streaming HTML: the head, this cluster and every peer whose catalog is cached go
//! out at once; a peer still on its first fetch follows when it settles (within the peer
//! timeout), or shows as unreachable. Everything works without JavaScript (the filter box is a
//! GET form); `/index.js` (CSP `script-src 'self'`, no inline script) adds live filtering and
//! marks each badge image as loaded. Every text is escaped here, in one renderer: names come
//! from peers, statuses from plugins (those only ever appear inside badge images).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::{self, FuturesUnordered};
use kube_shields_badge::escape_xml as escape;

use super::ServerState;
use crate::peers::{CatalogEntry, Cluster};

/// No external assets, no inline script or style.
const CSP: &str = "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The filter and badge-load script, served as `/index.js`.
pub const SCRIPT: &str = include_str!("index.js");
/// The page's style, served as `/index.css`.
pub const STYLE: &str = include_str!("index.css");

/// What every section of one page shares.
struct Page {
    site: String,
    /// `scheme://host` of this instance as the client reached it, for the embed snippets.
    origin: String,
    /// The filter, lowercased; empty shows everything.
    filter: String,
}

/// The index as a stream: everything known now, then each peer that settles.
pub(crate) fn respond(state: &Arc<ServerState>, headers: &HeaderMap, filter: &str) -> Response {
    let page = Arc::new(Page {
        site: state.config.site_name.clone(),
        origin: origin(headers),
        filter: filter.trim().to_lowercase(),
    });
    let peers = Arc::clone(state.checker.peers());
    let clusters = peers.clusters();
    let mut first = head(&page, clusters.len() + 1);
    first.push_str(&section(&page, None, Some(true), &state.checker.catalog()));
    let mut pending = Vec::new();
    for cluster in clusters {
        match cluster.up {
            Some(_) => first.push_str(&peer_section(&page, &cluster)),
            None => pending.push(cluster.name),
        }
    }
    let later: FuturesUnordered<_> = pending
        .into_iter()
        .map(|name| {
            let (peers, page) = (Arc::clone(&peers), Arc::clone(&page));
            async move {
                let cluster = peers.settled_cluster(&name).await;
                cluster.map_or_else(String::new, |cluster| peer_section(&page, &cluster))
            }
        })
        .collect();
    let body = stream::once(async move { first })
        .chain(later)
        .chain(stream::once(async {
            "</main>\n<footer>kube-shields</footer>\n</body>\n</html>\n".to_owned()
        }))
        .map(|chunk| Ok::<_, Infallible>(Bytes::from(chunk)));
    let mut response = Body::from_stream(body).into_response();
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
         <p id=\"progress\" aria-live=\"polite\">{clusters} clusters</p>\n</header>\n<main>\n"
    )
}

fn peer_section(page: &Page, cluster: &Cluster) -> String {
    section(page, Some(&cluster.name), cluster.up, &cluster.services)
}

/// One cluster: this one (`name` `None`) or a peer; `up` `None` while its first fetch runs.
fn section(page: &Page, name: Option<&str>, up: Option<bool>, services: &[CatalogEntry]) -> String {
    let title = escape(name.unwrap_or("this cluster"));
    let cluster_attr = escape(name.unwrap_or(""));
    let (state, state_text) = match up {
        Some(true) => ("up", format!("{} services", services.len())),
        Some(false) => ("unreachable", "unreachable".to_owned()),
        None => ("loading", "loading".to_owned()),
    };
    let mut html = format!(
        "<section class=\"cluster\" data-cluster=\"{cluster_attr}\" data-state=\"{state}\">\n\
         <h2>{title} <span class=\"state\">{state_text}</span></h2>\n"
    );
    if up != Some(true) {
        if up == Some(false) {
            html.push_str(
                "<p class=\"notice\">This cluster did not answer: its badges are not shown.</p>\n",
            );
        }
        html.push_str("</section>\n");
        return html;
    }
    // Grouped by the namespaces of the service's pods, in order; plugin-only services last.
    let mut groups: Vec<(String, Vec<&CatalogEntry>)> = Vec::new();
    for entry in services.iter().filter(|entry| matches(page, name, entry)) {
        let key = if entry.namespaces.is_empty() {
            "\u{2002}no pods".to_owned()
        } else {
            entry.namespaces.join(", ")
        };
        match groups.iter_mut().find(|(group, _)| *group == key) {
            Some((_, members)) => members.push(entry),
            None => groups.push((key, vec![entry])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    if groups.is_empty() {
        html.push_str("<p class=\"notice\">No service matches.</p>\n");
    }
    for (namespace, entries) in groups {
        let _ = write!(
            html,
            "<section class=\"namespace\"><h3>{}</h3>\n<table>\n",
            escape(namespace.trim_start())
        );
        for entry in entries {
            html.push_str(&service_row(page, name, entry));
        }
        html.push_str("</table></section>\n");
    }
    html.push_str("</section>\n");
    html
}

fn matches(page: &Page, cluster: Option<&str>, entry: &CatalogEntry) -> bool {
    page.filter.is_empty() || search_text(cluster, entry).contains(&page.filter)
}

/// What the filter searches: service, namespaces, checks and cluster.
fn search_text(cluster: Option<&str>, entry: &CatalogEntry) -> String {
    let mut text = entry.name.clone();
    for word in entry.namespaces.iter().chain(&entry.checks) {
        text.push(' ');
        text.push_str(word);
    }
    if let Some(cluster) = cluster {
        text.push(' ');
        text.push_str(cluster);
    }
    text.to_lowercase()
}

fn service_row(page: &Page, cluster: Option<&str>, entry: &CatalogEntry) -> String {
    let address = match cluster {
        Some(cluster) => format!("{}@{cluster}", entry.name),
        None => entry.name.clone(),
    };
    let mut row = format!(
        "<tr class=\"service\" data-search=\"{}\"><th scope=\"row\">{}</th><td>",
        escape(&search_text(cluster, entry)),
        escape(&entry.name)
    );
    for check in &entry.checks {
        let path = format!("/_/{address}/{check}/");
        let alt = format!("{} {check}", entry.name);
        let url = format!("{}{path}", page.origin);
        let markdown = format!("[![{alt}]({url})]({url}?format=svg)");
        let html = format!("<img alt=\"{}\" src=\"{}\">", escape(&alt), escape(&url));
        let _ = write!(
            row,
            "<figure class=\"badge\"><img class=\"badge\" alt=\"{alt}\" title=\"{site}: {address} {check}\" \
             src=\"{path}?format=svg\"><details><summary>embed</summary>\
             <label>Markdown <input readonly value=\"{markdown}\"></label>\
             <label>HTML <input readonly value=\"{html}\"></label></details></figure>",
            alt = escape(&alt),
            site = escape(&page.site),
            address = escape(&address),
            check = escape(check),
            path = escape(&path),
            markdown = escape(&markdown),
            html = escape(&html),
        );
    }
    row.push_str("</td></tr>\n");
    row
}
