//! The HTTP layer: routes that translate requests to the [`Checker`] and its answers to
//! responses, with access control and request metrics around them.

mod access;
mod health_redirects;
mod index;
mod parse_errors;
mod render;
#[cfg(test)]
mod route_tests;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use tokio::net::TcpListener;

use crate::auth::Verifier;
use crate::checks::Checker;
pub(crate) use health_redirects::HealthRedirects;
use health_redirects::PreparedFirst;
pub(crate) use index::IndexPages;

/// Who may read: the old project's `OTHER_SHIELDS` switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `OTHER_SHIELDS` unset: every route but `/healthz` and `/readyz` needs `Intra-Shield`.
    Private,
    /// `OTHER_SHIELDS` set: read routes are open; the peers are other kube-shields.
    Public {
        /// Peer kube-shields (`host[:port]` or a URL); empty for `None`.
        peers: Vec<String>,
    },
    /// `serve --dev`: an author's own machine, on loopback only: every route open (`/plugins`
    /// too), no peers.
    Dev,
}

impl Mode {
    /// Parses `OTHER_SHIELDS`: unset → private; `None` → public without peers; else a
    /// space-separated peer list.
    pub fn from_other_shields(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            None => Mode::Private,
            Some("None" | "") => Mode::Public { peers: Vec::new() },
            Some(list) => Mode::Public {
                peers: list.split_whitespace().map(str::to_owned).collect(),
            },
        }
    }
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base of redirect targets, e.g. `https://img.shields.io`.
    pub shields_base: String,
    /// Private or public.
    pub mode: Mode,
    /// Page title and hover text on `/`.
    pub site_name: String,
    /// This cluster's name (`--cluster-name`): its heading on `/`, and each `/catalog` entry's
    /// `cluster`. Peers name it themselves in their `OTHER_SHIELDS`.
    pub cluster_name: Option<String>,
}

/// What every handler shares.
pub(crate) struct ServerState {
    pub(crate) checker: Arc<Checker>,
    /// Checks `Intra-Shield` headers; `None` when no secret is configured.
    pub(crate) verifier: Option<Verifier>,
    pub(crate) config: ServerConfig,
    /// The no-query health badges, prepared.
    pub(crate) health_redirects: HealthRedirects,
    /// The index pages, rendered one at a time and kept for a moment.
    pub(crate) index_pages: IndexPages,
}

/// The application's routes with access control and metrics, and each route's access.
pub(crate) fn router(state: Arc<ServerState>) -> (Router, access::RouteAccess) {
    let (routes, access) = routes::routes(&state);
    let router = routes
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            access::observe,
        ))
        .with_state(state);
    (router, access)
}

/// Serves until `shutdown` completes, then drains open requests.
pub(crate) async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (router, access) = router(Arc::clone(&state));
    let service = PreparedFirst::new(state, router, &access);
    axum::serve(
        parse_errors::JsonParseErrors(listener),
        axum::ServiceExt::<Request>::into_make_service(service),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
