//! Who may read what, and what every request costs: the `Intra-Shield` check and the request
//! metrics, as middleware around all routes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Mode, ServerState};
use crate::auth::{HEADER as INTRA_SHIELD_HEADER, now_unix};

/// Probes stay open so the kubelet can reach them without a secret.
const OPEN_ROUTES: [&str; 2] = ["/healthz", "/readyz"];
/// Plugin errors and peer errors carry detail meant for operators only: never public.
const ALWAYS_SIGNED: [&str; 2] = ["/plugins", "/peers"];

/// Refuses a request without a valid `Intra-Shield` header where one is needed: everywhere
/// but the probes in private mode, and on `/plugins` and `/peers` in both modes; the answer carries no
/// detail of what was wrong. Counts every request by route template and status, with its
/// latency. One middleware for both, as it runs on every request.
pub async fn guard(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let matched = request.extensions().get::<MatchedPath>();
    let route =
        (state.checker.metrics()).route_label(matched.map_or("unmatched", MatchedPath::as_str));
    let response = match refusal(&state, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    state.checker.metrics().observe_request(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Whether a request for `path` needs a valid `Intra-Shield` header in `mode`.
pub(crate) fn needs_signature(mode: &Mode, path: &str) -> bool {
    match mode {
        Mode::Private => !OPEN_ROUTES.contains(&path),
        Mode::Public { .. } => ALWAYS_SIGNED.contains(&path),
        Mode::Dev => false,
    }
}

fn refusal(state: &ServerState, request: &Request) -> Option<Response> {
    let path = request.uri().path();
    if !needs_signature(&state.config.mode, path) {
        return None;
    }
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
