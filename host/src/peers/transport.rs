//! How requests reach a peer: [`HttpTransport`] over HTTP(S) in a cluster, or
//! [`RouterTransport`], another kube-shields' router called in memory (route and core tests
//! of federation without sockets). The client above it signs, marks the hop and reads the
//! answer the same way over either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;

use super::client::FetchError;
use crate::error_chain::error_chain;

/// A GET to a peer: the status and at most `limit` bytes of the body, or why there is none.
pub(crate) type Fetched = Result<(u16, Vec<u8>), FetchError>;

/// Carries requests to one peer.
pub(crate) trait PeerTransport: Send + Sync + 'static {
    /// GETs `path_and_query` with `headers`.
    fn get(
        &self,
        path_and_query: &str,
        headers: Vec<(&'static str, String)>,
        limit: usize,
    ) -> BoxFuture<'static, Fetched>;
}

/// HTTP(S) to the peer's base URL with the shared client (its roots, timeouts, no redirects).
pub(crate) struct HttpTransport {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
}

impl PeerTransport for HttpTransport {
    fn get(
        &self,
        path_and_query: &str,
        headers: Vec<(&'static str, String)>,
        limit: usize,
    ) -> BoxFuture<'static, Fetched> {
        let mut request = self.http.get(format!("{}{path_and_query}", self.base));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move {
            let transport =
                |err: reqwest::Error| FetchError::Transport(error_chain(&err.without_url()));
            let mut response = request.send().await.map_err(transport)?;
            if response
                .content_length()
                .is_some_and(|length| length > limit as u64)
            {
                return Err(FetchError::TooLarge(limit));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if body.len() + chunk.len() > limit {
                    return Err(FetchError::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((response.status().as_u16(), body))
        }
        .boxed()
    }
}

/// Another kube-shields' router, called in memory; [`RouterTransport::set_up`] switches it
/// off and on (a peer outage) without sockets.
#[derive(Clone)]
pub struct RouterTransport {
    router: axum::Router,
    up: Arc<AtomicBool>,
}

impl RouterTransport {
    /// Requests go to `router` (a peer's [`crate::app::App::router`]).
    pub fn new(router: axum::Router) -> Self {
        RouterTransport {
            router,
            up: Arc::new(AtomicBool::new(true)),
        }
    }

    /// While `false`, every request fails as a refused connection would.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

impl PeerTransport for RouterTransport {
    fn get(
        &self,
        path_and_query: &str,
        headers: Vec<(&'static str, String)>,
        limit: usize,
    ) -> BoxFuture<'static, Fetched> {
        use tower::ServiceExt;

        let (router, up) = (self.router.clone(), self.up.load(Ordering::SeqCst));
        let mut request = axum::http::Request::get(path_and_query);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move {
            if !up {
                return Err(FetchError::Transport("connection refused".to_owned()));
            }
            let request = request
                .body(axum::body::Body::empty())
                .map_err(|err| FetchError::Transport(err.to_string()))?;
            let response = router
                .oneshot(request)
                .await
                .expect("a router is infallible");
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), limit)
                .await
                .map_err(|_| FetchError::TooLarge(limit))?;
            Ok((status, body.to_vec()))
        }
        .boxed()
    }
}
