//! Who may read what, and what every request costs: each route's [`Access`], the
//! `Intra-Shield` check over the routes that need it, and the request metrics around all routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Mode, ServerState};
use crate::auth::{HEADER as INTRA_SHIELD_HEADER, now_unix};

/// Who may call a route: the group it is added to in [`super::routes`], so a new route cannot be
/// added without a decision; a request no route matches counts as [`Access::Read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Access {
    /// The probes: open in every mode, so the kubelet reaches them without a secret.
    Probe,
    /// Badges, listings, the index and the catalog: signed in private mode only.
    Read,
    /// Plugin and peer errors carry detail meant for operators only: signed in every mode but
    /// `--dev` (an author's own machine, on loopback).
    Operator,
}

impl Access {
    /// Whether a request needs a valid `Intra-Shield` header in `mode`.
    pub(crate) fn needs_signature(self, mode: &Mode) -> bool {
        match (mode, self) {
            (Mode::Dev, _) | (_, Access::Probe) => false,
            (Mode::Private, _) => true,
            (Mode::Public { .. }, access) => access == Access::Operator,
        }
    }
}

/// Each route template's [`Access`], as the routes declared it.
#[derive(Debug, Default)]
pub(crate) struct RouteAccess(HashMap<&'static str, Access>);

impl RouteAccess {
    pub(crate) fn declare(&mut self, template: &'static str, access: Access) {
        let earlier = self.0.insert(template, access);
        assert!(earlier.is_none(), "route {template} declared twice");
    }

    /// The access of a declared route template. (A request no route matches is answered by the
    /// reads group: see `Group::unmatched`.)
    pub(crate) fn of(&self, template: &str) -> Option<Access> {
        self.0.get(template).copied()
    }

    #[cfg(test)]
    pub(crate) fn all(&self) -> std::collections::BTreeMap<&'static str, Access> {
        self.0
            .iter()
            .map(|(template, access)| (*template, *access))
            .collect()
    }
}

/// Refuses a request without a valid `Intra-Shield` header; the answer carries no detail of
/// what was wrong. The layer over each group of routes whose [`Access`] needs one in this mode.
pub(crate) async fn require_signature(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(&state, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

/// Counts every request by route template and status, with its latency: the outer layer, so
/// refusals are counted too.
pub(crate) async fn observe(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let route = (state.checker.metrics()).route_label(matched.unwrap_or("unmatched"));
    let response = next.run(request).await;
    state.checker.metrics().observe_request(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The refusal of a request without a valid `Intra-Shield` header, if it has none.
fn refusal(state: &ServerState, request: &Request) -> Option<Response> {
    let path = request.uri().path();
    let header = request
        .headers()
        .get(INTRA_SHIELD_HEADER)
        .and_then(|v| v.to_str().ok());
    let target = request
        .uri()
        .path_and_query()
        .map_or(path, |pq| pq.as_str());
    let verdict = match &state.verifier {
        Some(verifier) => verifier.verify(header, request.method().as_str(), target, now_unix()),
        None => Err(crate::auth::AuthError::Missing),
    };
    let err = verdict.err()?;
    tracing::info!(path, reason = %err, "refused a request without a valid Intra-Shield header");
    Some(
        (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({"error": "forbidden"})),
        )
            .into_response(),
    )
}
