//! The list and watch endpoints of every served resource, answered the way kube-apiserver
//! answers them: paged lists with `metadata.resourceVersion`, and watches streaming one JSON
//! event per line. One handler serves every resource type; [`RESOURCES`] says which.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::resource::{RESOURCES, ResourceType};
use crate::selector::Selector;
use crate::store::{Change, ObjectKey, Store};
use crate::{ListMode, Scope, Shared};

/// The query parameters kube clients send on list and watch requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    watch: Option<String>,
    resource_version: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    limit: Option<usize>,
    #[serde(rename = "continue")]
    continue_token: Option<String>,
    timeout_seconds: Option<u64>,
    allow_watch_bookmarks: Option<bool>,
    send_initial_events: Option<bool>,
    resource_version_match: Option<String>,
}

/// `{base}/{plural}` and `{base}/namespaces/{ns}/{plural}` for every served resource.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for resource in &RESOURCES {
        let base = resource.base_path();
        let plural = resource.plural;
        router = router
            .route(
                &format!("{base}/{plural}"),
                get(
                    move |State(shared): State<Arc<Shared>>,
                          headers: HeaderMap,
                          Query(query): Query<ListQuery>| async move {
                        serve(&shared, &headers, resource, Scope::AllNamespaces, query).await
                    },
                ),
            )
            .route(
                &format!("{base}/namespaces/{{namespace}}/{plural}"),
                get(
                    move |State(shared): State<Arc<Shared>>,
                          Path(namespace): Path<String>,
                          headers: HeaderMap,
                          Query(query): Query<ListQuery>| async move {
                        let scope = Scope::Namespace(namespace);
                        serve(&shared, &headers, resource, scope, query).await
                    },
                ),
            );
    }
    router
        .fallback(|| async {
            status(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
                None,
            )
        })
        .with_state(shared)
}

async fn serve(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    resource: &'static ResourceType,
    scope: Scope,
    query: ListQuery,
) -> Response {
    if let Some(token) = &shared.settings.token {
        let expected = format!("Bearer {token}");
        if headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            != Some(&expected)
        {
            return status(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Unauthorized",
                None,
            );
        }
    }
    let watch = matches!(query.watch.as_deref(), Some("true" | "1"));
    let verb = if watch { "watch" } else { "list" };
    if shared.settings.forbidden.contains(&scope)
        || shared
            .settings
            .forbidden_resources
            .iter()
            .any(|plural| plural == resource.plural)
    {
        let place = match &scope {
            Scope::AllNamespaces => "at the cluster scope".to_owned(),
            Scope::Namespace(ns) => format!("in the namespace \"{ns}\""),
        };
        let message = format!(
            "{} is forbidden: User \"system:serviceaccount:default:kube-shields\" cannot {verb} \
             resource \"{}\" in API group \"{}\" {place}",
            resource.qualified_name(),
            resource.plural,
            resource.group,
        );
        return status(StatusCode::FORBIDDEN, "Forbidden", &message, Some(resource));
    }
    let filter = match Filter::new(resource, scope, &query) {
        Ok(filter) => filter,
        Err(message) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &message,
                Some(resource),
            );
        }
    };
    let counters = shared.counters_of(resource);
    if watch {
        counters.watches.fetch_add(1, Ordering::Relaxed);
        if query.send_initial_events == Some(true) {
            if let Some(refusal) = watch_list_refusal(shared, resource, &query) {
                return refusal;
            }
            counters.watch_lists.fetch_add(1, Ordering::Relaxed);
        }
        watch_objects(shared, filter, &query).await
    } else {
        counters.lists.fetch_add(1, Ordering::Relaxed);
        list_objects(shared, &filter, &query)
    }
}

/// Why a streaming list is refused, if it is: not offered, or not asked for as kube-apiserver
/// requires (with bookmarks and `resourceVersionMatch=NotOlderThan`). Refusals are
/// `422 Invalid`, as kube-apiserver's.
fn watch_list_refusal(
    shared: &Shared,
    resource: &ResourceType,
    query: &ListQuery,
) -> Option<Response> {
    let invalid = |message: &str| {
        status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!("ListOptions.meta.k8s.io \"\" is invalid: {message}"),
            Some(resource),
        )
    };
    if !shared.settings.watch_list {
        return Some(invalid(
            "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the \
             WatchList feature gate is enabled",
        ));
    }
    if query.allow_watch_bookmarks != Some(true) {
        return Some(invalid(
            "allowWatchBookmarks: Forbidden: allowWatchBookmarks must be set when sendInitialEvents is set",
        ));
    }
    if query.resource_version_match.as_deref() != Some("NotOlderThan") {
        return Some(invalid(
            "resourceVersionMatch: Forbidden: sendInitialEvents requires resourceVersionMatch=NotOlderThan",
        ));
    }
    None
}

/// Which objects a request sees: its resource type, namespace, field selector and label
/// selector.
#[derive(Debug)]
struct Filter {
    resource: &'static ResourceType,
    scope: Scope,
    fields: Selector,
    labels: Selector,
}

impl Filter {
    fn new(
        resource: &'static ResourceType,
        scope: Scope,
        query: &ListQuery,
    ) -> Result<Self, String> {
        let fields = Selector::parse(query.field_selector.as_deref().unwrap_or_default())?;
        fields.check_fields(resource)?;
        let labels = Selector::parse(query.label_selector.as_deref().unwrap_or_default())?;
        Ok(Filter {
            resource,
            scope,
            fields,
            labels,
        })
    }

    /// Whether an object of this filter's resource type is seen.
    fn matches(&self, object: &Value) -> bool {
        let in_scope = match &self.scope {
            Scope::AllNamespaces => true,
            Scope::Namespace(ns) => object["metadata"]["namespace"].as_str() == Some(ns),
        };
        in_scope && self.fields.matches_fields(object) && self.labels.matches_labels(object)
    }

    /// The watch event type a change shows this filter: none for other resource types; an
    /// object whose labels stop matching is `DELETED` for it, one that starts matching is
    /// `ADDED`.
    fn event_type(&self, change: &Change) -> Option<&'static str> {
        if !std::ptr::eq(change.resource, self.resource) {
            return None;
        }
        let after = self.matches(&change.after);
        if change.deleted {
            return after.then_some("DELETED");
        }
        match (
            change.before.as_ref().is_some_and(|p| self.matches(p)),
            after,
        ) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListMeta {
    resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    continue_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct List {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    items: Vec<Value>,
}

/// A continue token names the list's resource version and the last key served.
fn parse_continue(token: &str) -> Option<(u64, ObjectKey)> {
    let mut parts = token.splitn(3, '/');
    let resource_version = parts.next()?.parse().ok()?;
    Some((
        resource_version,
        (parts.next()?.to_owned(), parts.next()?.to_owned()),
    ))
}

fn list_objects(shared: &Shared, filter: &Filter, query: &ListQuery) -> Response {
    let continued = match query.continue_token.as_deref().filter(|t| !t.is_empty()) {
        Some(token) => match parse_continue(token) {
            Some(parsed) => Some(parsed),
            None => {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "invalid continue token",
                    Some(filter.resource),
                );
            }
        },
        None => None,
    };
    let limit = match shared.settings.list_mode {
        ListMode::Paged => query.limit.filter(|&l| l > 0).unwrap_or(usize::MAX),
        ListMode::Whole => usize::MAX,
    };
    let (resource_version, items, continue_token) = {
        let store = shared.store.lock().expect("store lock");
        let resource_version = continued
            .as_ref()
            .map_or(store.resource_version(), |(rv, _)| *rv);
        let mut matching = store
            .objects_after(filter.resource, continued.as_ref().map(|(_, key)| key))
            .filter(|(_, object)| filter.matches(object));
        let items: Vec<(ObjectKey, Value)> = matching
            .by_ref()
            .take(limit)
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect();
        let continue_token = match (matching.next(), items.last()) {
            (Some(_), Some(((ns, name), _))) => Some(format!("{resource_version}/{ns}/{name}")),
            _ => None,
        };
        (resource_version, items, continue_token)
    };
    let list = List {
        kind: filter.resource.list_kind,
        api_version: filter.resource.api_version,
        metadata: ListMeta {
            resource_version: resource_version.to_string(),
            continue_token,
        },
        items: items.into_iter().map(|(_, object)| object).collect(),
    };
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&list).expect("list serializes"),
    )
}

#[derive(Serialize)]
struct WatchLine<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: &'a Value,
}

fn event_line(event_type: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&WatchLine { event_type, object }).expect("event serializes");
    line.push(b'\n');
    Bytes::from(line)
}

fn json_line(value: &serde_json::Value) -> Bytes {
    let mut line = serde_json::to_vec(value).expect("json serializes");
    line.push(b'\n');
    Bytes::from(line)
}

/// The objects a watch shows as ADDED when it starts without a resource version.
fn current_objects(store: &Store, filter: &Filter) -> Vec<Bytes> {
    store
        .objects_after(filter.resource, None)
        .filter(|(_, object)| filter.matches(object))
        .map(|(_, object)| event_line("ADDED", object))
        .collect()
}

/// A `BOOKMARK` at `resource_version`; `initial_events_end` annotates the one that ends a
/// streaming list's initial events.
fn bookmark_line(
    resource: &ResourceType,
    resource_version: u64,
    initial_events_end: bool,
) -> Bytes {
    let mut metadata = json!({ "resourceVersion": resource_version.to_string() });
    if initial_events_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    json_line(&json!({
        "type": "BOOKMARK",
        "object": {
            "kind": resource.kind, "apiVersion": resource.api_version, "metadata": metadata,
        },
    }))
}

/// Where a watch starts: the events to replay first and the resource version they reach.
enum WatchStart {
    Replay {
        lines: Vec<Bytes>,
        progress: u64,
        changes: broadcast::Receiver<Arc<Change>>,
    },
    /// Compaction dropped history the watch needs: `410 Expired`.
    Expired { requested: u64, oldest: u64 },
}

async fn watch_objects(shared: &Arc<Shared>, filter: Filter, query: &ListQuery) -> Response {
    // A held watch waits here, like a request to an API server that is not answering.
    let mut held = shared.held.subscribe();
    let _ = held.wait_for(|held| !held).await;

    let requested = query
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty() && *rv != "0")
        .map(str::parse::<u64>);
    let requested = match requested.transpose() {
        Ok(requested) => requested,
        Err(_) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "invalid resourceVersion",
                Some(filter.resource),
            );
        }
    };
    let initial_events = query.send_initial_events == Some(true);
    let start = {
        let store = shared.store.lock().expect("store lock");
        // Subscribing under the store lock means no change falls between replay and live events.
        let changes = shared.changes.subscribe();
        match requested {
            // "Start at any", or a streaming list (the current state is never older than the
            // version asked for): the current objects as ADDED events, then live changes; a
            // streaming list marks the end of the initial events with a bookmark.
            _ if initial_events => {
                let mut lines = current_objects(&store, &filter);
                lines.push(bookmark_line(
                    filter.resource,
                    store.resource_version(),
                    true,
                ));
                WatchStart::Replay {
                    lines,
                    progress: store.resource_version(),
                    changes,
                }
            }
            None => WatchStart::Replay {
                lines: current_objects(&store, &filter),
                progress: store.resource_version(),
                changes,
            },
            Some(requested) => match store.changes_since(requested) {
                Ok(history) => WatchStart::Replay {
                    lines: history
                        .iter()
                        .filter_map(|c| filter.event_type(c).map(|t| event_line(t, &c.after)))
                        .collect(),
                    progress: history.last().map_or(requested, |c| c.resource_version),
                    changes,
                },
                Err(oldest) => WatchStart::Expired { requested, oldest },
            },
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    match start {
        WatchStart::Expired { requested, oldest } => {
            shared
                .counters_of(filter.resource)
                .expired
                .fetch_add(1, Ordering::Relaxed);
            let error = json!({
                "type": "ERROR",
                "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("too old resource version: {requested} ({oldest})"),
                    "reason": "Expired", "code": 410,
                },
            });
            tx.try_send(json_line(&error))
                .expect("fresh channel has room");
        }
        WatchStart::Replay {
            lines,
            progress,
            changes,
        } => {
            let stream = WatchStream {
                tx,
                filter,
                changes,
                progress,
                bookmarks: query
                    .allow_watch_bookmarks
                    .unwrap_or(false)
                    .then_some(shared.settings.bookmark_interval),
                deadline: query
                    .timeout_seconds
                    .map(|s| Instant::now() + Duration::from_secs(s)),
                drops: shared.drops.subscribe(),
            };
            tokio::spawn(stream.run(lines));
        }
    }
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|line| (Ok::<_, Infallible>(line), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .expect("valid response")
}

/// One open watch: forwards matching changes, sends bookmarks, ends on timeout, on
/// `drop_watches` or when the client goes away.
struct WatchStream {
    tx: mpsc::Sender<Bytes>,
    filter: Filter,
    changes: broadcast::Receiver<Arc<Change>>,
    /// The resource version this watch has seen every change up to (what a bookmark reports).
    progress: u64,
    bookmarks: Option<Duration>,
    deadline: Option<Instant>,
    drops: tokio::sync::watch::Receiver<u64>,
}

impl WatchStream {
    async fn run(mut self, replay: Vec<Bytes>) {
        for line in replay {
            if self.tx.send(line).await.is_err() {
                return;
            }
        }
        let period = self.bookmarks.unwrap_or(A_YEAR);
        let mut bookmark = tokio::time::interval_at(Instant::now() + period, period);
        let deadline =
            tokio::time::sleep_until(self.deadline.unwrap_or_else(|| Instant::now() + A_YEAR));
        tokio::pin!(deadline);
        loop {
            let line = tokio::select! {
                // Ending wins over a change that arrives at the same time: a dropped watch
                // must not deliver anything that happened after the drop.
                biased;
                _ = self.drops.changed() => return,
                _ = self.tx.closed() => return,
                _ = &mut deadline => return,
                change = self.changes.recv() => match change {
                    Ok(change) => {
                        self.progress = change.resource_version;
                        match self.filter.event_type(&change) {
                            Some(event_type) => event_line(event_type, &change.after),
                            None => continue,
                        }
                    }
                    // A watcher that fell behind is cut off; it resumes from its last version.
                    Err(_) => return,
                },
                _ = bookmark.tick(), if self.bookmarks.is_some() => {
                    bookmark_line(self.filter.resource, self.progress, false)
                }
            };
            if self.tx.send(line).await.is_err() {
                return;
            }
        }
    }
}

/// Stands in for "never" where tokio wants a time (bookmarks off, no watch timeout).
const A_YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn json_response(code: StatusCode, body: Vec<u8>) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A `Status` object, the body kube-apiserver sends with every error; `details` name the
/// resource asked for, when there was one.
fn status(
    code: StatusCode,
    reason: &str,
    message: &str,
    resource: Option<&ResourceType>,
) -> Response {
    let details = match resource {
        Some(r) if r.group.is_empty() => json!({ "kind": r.plural }),
        Some(r) => json!({ "group": r.group, "kind": r.plural }),
        None => json!({}),
    };
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "details": details, "code": code.as_u16(),
    });
    json_response(code, serde_json::to_vec(&body).expect("status serializes"))
}
