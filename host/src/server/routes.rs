//! The routes, each reading top to bottom: validate the URL, resolve the service, run the
//! check, render.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::future::join_all;
use serde_json::Value;

use super::render::{self, BadgeQuery};
use super::{AppState, Mode};
use crate::badge::svg::escape;
use crate::badge::{Badge, color};
use crate::checks::{Answer, CheckError, HEALTH, Service};
use crate::pods::health::Health;

/// Longest accepted URL segment: a DNS subdomain name.
const MAX_SEGMENT: usize = 253;

/// An answer that is not a badge: `{"error": "..."}` with its status.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<CheckError> for ApiError {
    fn from(err: CheckError) -> Self {
        ApiError(StatusCode::NOT_FOUND, err.to_string())
    }
}

type Shared = State<Arc<AppState>>;

/// Every route of the service. `get` answers HEAD too.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/_/{service}/{check}/", get(badge_route))
        .route("/_/{service}/{check}", get(badge_route))
        .route("/a/{prefix}/{check}/", get(aggregate_route))
        .route("/a/{prefix}/{check}", get(aggregate_route))
        .route("/services/", get(services_route))
        .route("/services", get(services_route))
        .route("/services/{name}/", get(service_route))
        .route("/services/{name}", get(service_route))
        .route("/plugins", get(plugins_route))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz_route))
        .route("/metrics", get(metrics_route))
        .route("/", get(index_route))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".to_owned()) })
}

/// A service, prefix or check name from the URL: at most 253 bytes of `[A-Za-z0-9._-]`.
fn segment<'a>(what: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_SEGMENT
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(value)
    } else {
        Err(ApiError(StatusCode::BAD_REQUEST, format!("malformed {what} name")))
    }
}

fn format_of(query: &BadgeQuery) -> Result<render::Format, ApiError> {
    query.format().map_err(|format| {
        ApiError(StatusCode::BAD_REQUEST, format!("unknown format `{format}` (svg or json)"))
    })
}

async fn badge_route(
    State(state): Shared,
    Path((service, check)): Path<(String, String)>,
    Query(query): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&query)?;
    let service = state.checker.service(segment("service", &service)?)?;
    let check = segment("check", &check)?;
    let answer = run(&state, &service, check).await?;
    let badge = render::badge(check, &answer);
    Ok(render::respond(format, &badge, || render::raw(&answer), &state.config.shields_base, None))
}

/// Runs one check and counts a plugin answer in the metrics.
async fn run(state: &AppState, service: &Service, check: &str) -> Result<Answer, CheckError> {
    let (answer, cache_use) = state.checker.run(service, check).await?;
    if let Some(cache_use) = cache_use {
        let outcome = match &answer {
            Answer::Plugin(result) => result.as_ref().as_ref().map_or_else(|err| err.badge_text(), |_| "ok"),
            Answer::Health(_) | Answer::Busy => "busy",
        };
        state.metrics.observe_plugin(&service.name, check, cache_use, outcome);
    }
    Ok(answer)
}

/// `/a/<prefix>/<check>/`: health sums ready, total and restarts; other checks join their
/// statuses with `, `; the worst color wins.
async fn aggregate_route(
    State(state): Shared,
    Path((prefix, check)): Path<(String, String)>,
    Query(query): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&query)?;
    let prefix = segment("prefix", &prefix)?;
    let check = segment("check", &check)?;
    let services: Vec<Service> = state
        .checker
        .service_names()
        .iter()
        .filter(|name| name.starts_with(prefix))
        .filter_map(|name| state.checker.service(name).ok())
        .filter(|service| service.has_check(check))
        .collect();
    if services.is_empty() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no service starting with `{prefix}` has check `{check}`"),
        ));
    }
    let answers: Vec<Answer> = join_all(services.iter().map(|service| run(&state, service, check)))
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let (badge, raw) = if check == HEALTH {
        let healths = answers.iter().filter_map(|answer| match answer {
            Answer::Health(health) => Some(*health),
            _ => None,
        });
        let total = Health::sum(healths);
        (Badge::new(check, total.status_text(), total.color), serde_json::json!(total))
    } else {
        let badges: Vec<Badge> = answers.iter().map(|answer| render::badge(check, answer)).collect();
        let status = badges.iter().map(|b| b.status.as_str()).collect::<Vec<_>>().join(", ");
        let worst = color::worst(badges.iter().map(|b| b.color.as_str())).unwrap_or("lightgrey");
        let badge = Badge::new(check, status, worst);
        let raw = serde_json::json!({ "label": badge.label, "status": badge.status, "color": badge.color });
        (badge, raw)
    };
    Ok(render::respond(format, &badge, || (StatusCode::OK, raw), &state.config.shields_base, None))
}

async fn services_route(State(state): Shared) -> impl IntoResponse {
    axum::Json(state.checker.service_names())
}

async fn service_route(State(state): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let service = state.checker.service(segment("service", &name)?)?;
    Ok(axum::Json(service.check_names()).into_response())
}

/// Each plugin's load status, with the last failure of each of its checks.
async fn plugins_route(State(state): Shared) -> impl IntoResponse {
    let mut status = state.plugins.current().status();
    for (service, failures) in state.checker.run_errors() {
        if let Some(plugin) = status.get_mut(&service).and_then(Value::as_object_mut) {
            plugin.insert("check_errors".to_owned(), serde_json::json!(failures));
        }
    }
    axum::Json(status)
}

async fn readyz_route(State(state): Shared) -> Response {
    let pods_synced = state.pods.is_synced();
    let plugins_loaded = state.plugins.is_loaded();
    let status = if pods_synced && plugins_loaded { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({ "pods_synced": pods_synced, "plugins_loaded": plugins_loaded });
    (status, axum::Json(body)).into_response()
}

async fn metrics_route(State(state): Shared) -> impl IntoResponse {
    let text = state.metrics.render(
        state.pods.current().pod_count(),
        state.plugins.current().services().count(),
        state.plugins.reload_errors(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}

/// `/`: every service and check as locally rendered badges, which the browser fills in as
/// each one answers (public mode only).
async fn index_route(State(state): Shared) -> Result<Html<String>, ApiError> {
    if state.config.mode == Mode::Private {
        return Err(ApiError(StatusCode::NOT_FOUND, "no index in private mode".to_owned()));
    }
    let site = escape(&state.config.site_name);
    let mut rows = String::new();
    for name in state.checker.service_names() {
        let Ok(service) = state.checker.service(&name) else { continue };
        let name = escape(&name);
        let badges: String = service
            .check_names()
            .iter()
            .map(|check| {
                let check = escape(check);
                format!(r#"<img loading="lazy" alt="{name} {check}" title="{site}: {name} {check}" src="/_/{name}/{check}/?format=svg"> "#)
            })
            .collect();
        rows.push_str(&format!("<tr><th>{name}</th><td>{badges}</td></tr>\n"));
    }
    Ok(Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{site}</title></head>\
         <body><h1>{site}</h1><table>\n{rows}</table></body></html>\n"
    )))
}
