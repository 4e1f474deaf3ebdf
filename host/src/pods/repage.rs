//! Pod (and workload) lists handed to the watcher a page at a time, whatever the API server
//! sends.
//!
//! kube's client reads a list response whole before decoding it (`Client::request_text`
//! collects the body, then copies it into a `String`), and the watcher keeps every decoded pod
//! of a page until it has applied them. An API server that ignores `limit` and sends every pod
//! in one response (kube-apiserver's watch cache at `resourceVersion=0`, some proxies and
//! stand-ins) thus costs the raw JSON twice plus every pod at once: 2.45 × the steady memory
//! at 100,000 pods.
//!
//! This layer sits in each scope's watch client. It reads a list response as it arrives (a
//! chunk at a time, never whole), keeps of each pod only what [`PartialPod`] reads, as compact
//! JSON, and answers with at most `limit` pods. When the server sent more, the response goes
//! on being read while the watcher applies that page, and the watcher's next page requests,
//! under continue tokens of this layer's own, are answered from it without asking the server;
//! a page or two waits at most, so the server's connection is held back rather than the list
//! held in memory. A token that is not the one expected next (a list started over) gets `410
//! Expired`, kube-apiserver's answer to an outdated token, and the watcher lists again.

use std::io::{BufReader, Read};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::client::{Body, DynBody};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use tokio::sync::mpsc;
use tower::{BoxError, Layer, Service};

use super::wire::{PartialPod, PartialWorkload};
use super::workload::WorkloadKind;

/// Continue tokens of this layer start so; a server's own tokens are passed on to it.
const TOKEN_PREFIX: &str = "kube-shields-page.";

/// Chunks of a list response buffered between the network and the parser.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Pages parsed ahead of the watcher's requests.
const PAGES_AHEAD: usize = 1;

/// Wraps a kube client's service stack in [`Repage`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RepageLayer;

impl<S> Layer<S> for RepageLayer {
    type Service = Repage<S>;

    fn layer(&self, inner: S) -> Repage<S> {
        Repage {
            inner,
            held: Arc::default(),
        }
    }
}

/// Re-pages pod list responses; every other request passes through untouched.
pub struct Repage<S> {
    inner: S,
    held: Arc<Mutex<Held>>,
}

/// The list being handed out.
#[derive(Default)]
struct Held {
    /// Lists read so far: numbers each list's tokens.
    lists: u64,
    /// The list whose next page is asked for; out of here while a page is awaited.
    pages: Option<ListInProgress>,
}

/// A list the server sent more pods of than asked, still being read.
struct ListInProgress {
    /// Told apart from an earlier list's pages by its tokens.
    list: u64,
    /// The number of the page `pages` gives next.
    next: usize,
    /// Pages as the parser completes them.
    pages: mpsc::Receiver<Result<Page, BoxError>>,
}

impl ListInProgress {
    fn token(&self) -> String {
        format!("{TOKEN_PREFIX}{}.{}", self.list, self.next)
    }
}

/// Up to `limit` pods, comma-separated compact JSON.
struct Page {
    items: Vec<u8>,
    /// Set on the last page: the server's list metadata (its resource version, and its own
    /// continue token if it has more).
    last: Option<ListMeta>,
    /// On other pages: the list's resource version if it came before the pods (as Go writes
    /// it); the watcher reads the last page's.
    resource_version: Option<String>,
}

impl<S> Service<Request<Body>> for Repage<S>
where
    S: Service<Request<Body>, Response = Response<Box<DynBody>>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Box<DynBody>>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let Some(asked) = ListRequest::of(&request) else {
            let answer = self.inner.call(request);
            return Box::pin(async move { answer.await.map_err(Into::into) });
        };
        let held = Arc::clone(&self.held);
        if let Some(token) = asked.continue_token.filter(|t| t.starts_with(TOKEN_PREFIX)) {
            return Box::pin(next_page(held, token));
        }
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await.map_err(Into::into)?;
            if response.status() != StatusCode::OK {
                return Ok(response);
            }
            let (mut parts, body) = response.into_parts();
            let list = {
                let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
                held.lists += 1;
                held.pages = None; // a list started over: the last one's reading stops
                held.lists
            };
            let in_progress = ListInProgress {
                list,
                next: 0,
                pages: read_list(body, asked.limit, asked.items),
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::TRANSFER_ENCODING);
            let body = hand_out(&held, in_progress).await?;
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// What a list holds, and so what is kept of each item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    /// Pods, read as [`PartialPod`]s.
    Pods,
    /// Workloads, read as [`PartialWorkload`]s (their pod templates skipped).
    Workloads,
}

/// A `GET` of pods or workloads without `watch`: what the watcher pages through.
struct ListRequest {
    limit: usize,
    continue_token: Option<String>,
    items: Items,
}

impl ListRequest {
    fn of(request: &Request<Body>) -> Option<Self> {
        if request.method() != Method::GET {
            return None;
        }
        let resource = request.uri().path().rsplit('/').next().unwrap_or_default();
        let items = if resource == "pods" {
            Items::Pods
        } else if WorkloadKind::ALL
            .iter()
            .any(|kind| kind.plural() == resource)
        {
            Items::Workloads
        } else {
            return None;
        };
        let query = request.uri().query().unwrap_or_default();
        let mut list = ListRequest {
            limit: usize::MAX,
            continue_token: None,
            items,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "watch" if value != "false" && value != "0" => return None,
                "limit" => list.limit = value.parse().ok().filter(|&l| l > 0)?,
                "continue" if !value.is_empty() => list.continue_token = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(list)
    }
}

/// The page `token` names, if it is the next one of the list in progress; else `410 Expired`.
async fn next_page(
    held: Arc<Mutex<Held>>,
    token: String,
) -> Result<Response<Box<DynBody>>, BoxError> {
    let in_progress = {
        let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
        match held.pages.take() {
            Some(list) if list.token() == token => list,
            other => {
                held.pages = other;
                return Ok(json_response(StatusCode::GONE, expired()));
            }
        }
    };
    let body = hand_out(&held, in_progress).await?;
    Ok(json_response(StatusCode::OK, body))
}

/// Waits for the list's next page; keeps the list for the page after, if any.
async fn hand_out(held: &Mutex<Held>, mut list: ListInProgress) -> Result<Box<DynBody>, BoxError> {
    let page = list
        .pages
        .recv()
        .await
        .unwrap_or_else(|| Err("the list's reading stopped".into()))?;
    let metadata = match page.last {
        Some(metadata) => metadata,
        None => {
            list.next += 1;
            let metadata = ListMeta {
                resource_version: page.resource_version,
                continue_: Some(list.token()),
                ..ListMeta::default()
            };
            let mut held = held.lock().unwrap_or_else(PoisonError::into_inner);
            // Unless a newer list started meanwhile.
            if held.lists == list.list {
                held.pages = Some(list);
            }
            metadata
        }
    };
    Ok(page_body(&metadata, &page.items))
}

/// A `PodList` of `items` (comma-separated pods).
fn page_body(metadata: &ListMeta, items: &[u8]) -> Box<DynBody> {
    let metadata = serde_json::to_vec(metadata).expect("list metadata serializes");
    let mut body = Vec::with_capacity(items.len() + metadata.len() + 64);
    body.extend_from_slice(br#"{"apiVersion":"v1","kind":"PodList","metadata":"#);
    body.extend_from_slice(&metadata);
    body.extend_from_slice(br#","items":["#);
    body.extend_from_slice(items);
    body.extend_from_slice(b"]}");
    boxed(Bytes::from(body))
}

/// kube-apiserver's answer to a continue token it no longer serves.
fn expired() -> Box<DynBody> {
    let status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the list this continue token belongs to is gone; list again",
        "reason": "Expired",
        "code": 410,
    });
    boxed(Bytes::from(
        serde_json::to_vec(&status).expect("status serializes"),
    ))
}

fn json_response(status: StatusCode, body: Box<DynBody>) -> Response<Box<DynBody>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn boxed(bytes: Bytes) -> Box<DynBody> {
    Box::new(Full::new(bytes).map_err(|never| match never {}))
}

/// Reads a list response in the background: the body's chunks go to a parser on a blocking
/// thread, whose pages come out of the returned channel. Dropping the channel stops both.
fn read_list(
    mut body: Box<DynBody>,
    page_size: usize,
    items: Items,
) -> mpsc::Receiver<Result<Page, BoxError>> {
    let (chunks, received) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let (pages, pages_out) = mpsc::channel(PAGES_AHEAD);
    let parsed = pages.clone();
    tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(64 * 1024, ChunkReader::new(received));
        if let Err(error) = parse_list(reader, page_size, items, &parsed) {
            // Nobody to tell when the list was given up.
            let _ = parsed.blocking_send(Err(error.into()));
        }
    });
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if chunks.send(data).await.is_err() {
                        return; // the parser stopped
                    }
                }
                Err(error) => {
                    let _ = pages.send(Err(error)).await;
                    return;
                }
            }
        }
    });
    pages_out
}

/// Parses a list, sending pages of what is kept of each item as they fill.
fn parse_list(
    reader: impl Read,
    page_size: usize,
    items: Items,
    pages: &mpsc::Sender<Result<Page, BoxError>>,
) -> Result<(), serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let mut pager = Pager {
        items,
        page_size,
        pages,
        resource_version: None,
        page: Vec::new(),
        in_page: 0,
    };
    let metadata = ListSeed { pager: &mut pager }.deserialize(&mut deserializer)?;
    deserializer.end()?;
    pager.send(Some(metadata))
}

/// Reads chunks from the channel as one byte stream.
struct ChunkReader {
    received: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    fn new(received: mpsc::Receiver<Bytes>) -> Self {
        ChunkReader {
            received,
            current: Bytes::new(),
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.received.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Fills pages of items and sends each when the next item shows there is more.
struct Pager<'a> {
    items: Items,
    page_size: usize,
    pages: &'a mpsc::Sender<Result<Page, BoxError>>,
    resource_version: Option<String>,
    page: Vec<u8>,
    in_page: usize,
}

impl Pager<'_> {
    fn push(&mut self, item: &impl serde::Serialize) -> Result<(), serde_json::Error> {
        if self.in_page == self.page_size {
            self.send(None)?;
        }
        if self.in_page > 0 {
            self.page.push(b',');
        }
        self.in_page += 1;
        serde_json::to_writer(&mut self.page, item)
    }

    /// Sends the page filled so far; `last` carries the list's metadata.
    fn send(&mut self, last: Option<ListMeta>) -> Result<(), serde_json::Error> {
        self.page.shrink_to_fit();
        let page = Page {
            items: std::mem::take(&mut self.page),
            last,
            resource_version: self.resource_version.clone(),
        };
        self.in_page = 0;
        self.pages
            .blocking_send(Ok(page))
            .map_err(|_| serde::de::Error::custom("the list was given up"))
    }
}

/// The list object: `metadata` and `items`; anything else is skipped.
struct ListSeed<'a, 'b> {
    pager: &'a mut Pager<'b>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ListMeta;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ListMeta, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ListMeta;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of pods")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListMeta, A::Error> {
        let mut metadata = ListMeta::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "metadata" => {
                    metadata = map.next_value()?;
                    self.pager.resource_version = metadata.resource_version.clone();
                }
                "items" => map.next_value_seed(ItemsSeed {
                    pager: &mut *self.pager,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(metadata)
    }
}

/// `items`: each read as a [`PartialPod`] (or [`PartialWorkload`]) and written back compactly
/// into its page.
struct ItemsSeed<'a, 'b> {
    pager: &'a mut Pager<'b>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of pods")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(()) // `"items": null`, as Go writes an empty list
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let pushed =
            |pushed: Result<(), serde_json::Error>| pushed.map_err(serde::de::Error::custom);
        match self.pager.items {
            Items::Pods => {
                while let Some(pod) = items.next_element::<PartialPod>()? {
                    pushed(self.pager.push(&pod))?;
                }
            }
            Items::Workloads => {
                while let Some(workload) = items.next_element::<PartialWorkload>()? {
                    pushed(self.pager.push(&workload))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use fake_apiserver::{FakeApiServer, ListMode, PodBuilder};
    use futures::TryStreamExt;
    use kube::api::{Api, ListParams, WatchEvent, WatchParams};
    use kube::client::ClientBuilder;
    use kube::{Client, Config};

    use super::*;
    use crate::pods::model::PodInfo;

    async fn server(mode: ListMode, pods: u32) -> FakeApiServer {
        let fake = FakeApiServer::builder().list_mode(mode).start().await;
        for n in 0..pods {
            let pod = PodBuilder::new(&format!("team-{}", n % 3), &format!("web-5f7c-{n:04}"))
                .deployment("web", "5f7c")
                .label("app", "web");
            fake.upsert(pod.build());
        }
        fake
    }

    fn client(fake: &FakeApiServer, repage: bool) -> Client {
        let config = Config::new(fake.url().parse().expect("fake URL"));
        let builder = ClientBuilder::try_from(config).expect("client");
        if repage {
            builder.with_layer(&RepageLayer).build()
        } else {
            builder.build()
        }
    }

    /// Every page the watcher would fetch, as `PodInfo`s, and the continue tokens seen.
    async fn all_pages(api: &Api<PartialPod>, limit: u32) -> (Vec<PodInfo>, Vec<String>) {
        let (mut pods, mut tokens) = (Vec::new(), Vec::new());
        let mut params = ListParams::default().limit(limit);
        loop {
            let page = api.list(&params).await.expect("page");
            assert!(
                page.items.len() <= limit as usize,
                "a page holds at most `limit` pods"
            );
            pods.extend(page.items.into_iter().map(PodInfo::from));
            match page.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(token) => {
                    tokens.push(token.clone());
                    params = params.continue_token(&token);
                }
                None => {
                    assert!(
                        page.metadata.resource_version.is_some(),
                        "the last page has it"
                    );
                    return (pods, tokens);
                }
            }
        }
    }

    #[tokio::test]
    async fn a_whole_list_reaches_the_watcher_in_pages_read_from_one_response() {
        let whole = server(ListMode::Whole, 1_234).await;
        let api = Api::<PartialPod>::all(client(&whole, true));
        let (pods, tokens) = all_pages(&api, 500).await;
        assert_eq!(pods.len(), 1_234);
        assert_eq!(tokens.len(), 2, "pages of 500, 500 and 234");
        assert_eq!(whole.list_requests(), 1, "later pages came from the layer");

        // The same pods as the server's own paging gives without the layer.
        let paged = server(ListMode::Paged, 1_234).await;
        let (expected, _) = all_pages(&Api::all(client(&paged, false)), 500).await;
        assert_eq!(pods, expected);
    }

    #[tokio::test]
    async fn a_server_that_pages_is_asked_for_every_page() {
        let paged = server(ListMode::Paged, 1_234).await;
        let (pods, tokens) = all_pages(&Api::all(client(&paged, true)), 500).await;
        assert_eq!(pods.len(), 1_234);
        assert!(tokens.iter().all(|t| !t.starts_with(TOKEN_PREFIX)));
        assert_eq!(paged.list_requests(), 3);
    }

    #[tokio::test]
    async fn a_token_of_a_list_started_over_is_expired() {
        let whole = server(ListMode::Whole, 20).await;
        let api = Api::<PartialPod>::all(client(&whole, true));
        let first = api
            .list(&ListParams::default().limit(5))
            .await
            .expect("list");
        let old = first.metadata.continue_.expect("more pages");
        let again = api
            .list(&ListParams::default().limit(5))
            .await
            .expect("list again");

        let error = api
            .list(&ListParams::default().limit(5).continue_token(&old))
            .await
            .expect_err("the old list's token");
        assert!(
            matches!(&error, kube::Error::Api(status) if status.code == 410 && status.reason == "Expired"),
            "{error:?}"
        );
        let token = again.metadata.continue_.expect("more pages");
        let next = api
            .list(&ListParams::default().limit(5).continue_token(&token))
            .await
            .expect("the new list's next page");
        assert_eq!(next.items.len(), 5);
    }

    #[tokio::test]
    async fn unlimited_lists_and_watches_are_answered_as_before() {
        let whole = server(ListMode::Whole, 3).await;
        let api = Api::<PartialPod>::namespaced(client(&whole, true), "team-0");
        let all = api
            .list(&ListParams::default())
            .await
            .expect("list without limit");
        assert_eq!(all.items.len(), 1);
        let version = all.metadata.resource_version.expect("resource version");

        let events = api
            .watch(&WatchParams::default(), &version)
            .await
            .expect("watch");
        let mut events = std::pin::pin!(events);
        whole.upsert(PodBuilder::new("team-0", "api-1").build());
        let event = events.try_next().await.expect("event").expect("an event");
        assert!(
            matches!(&event, WatchEvent::Added(pod) if pod.metadata.name.as_deref() == Some("api-1")),
            "{event:?}"
        );
    }

    #[test]
    fn a_pod_written_back_reads_as_the_same_pod() {
        let pod = PodBuilder::new("default", "web-7d4b9c-1")
            .deployment("web", "7d4b9c")
            .containers(&[("app", true, 2), ("sidecar", false, 5)])
            .build();
        let partial = PartialPod::of(&pod);
        let written = serde_json::to_vec(&partial).expect("serializes");
        let again: PartialPod = serde_json::from_slice(&written).expect("reads back");
        assert_eq!(PodInfo::from(again), PodInfo::from(partial));
        assert!(written.len() < serde_json::to_vec(&pod).expect("pod").len());
    }

    #[test]
    fn broken_json_is_an_error_naming_where() {
        let (pages, _received) = mpsc::channel(8);
        let broken = &br#"{"items":[{"metadata":{"name":"a"}},"#[..];
        let error = parse_list(broken, 500, Items::Pods, &pages).unwrap_err();
        assert!(error.to_string().contains("EOF"), "{error}");
    }
}
