//! Turning a check's answer into what the client asked for: a redirect to shields, a local
//! SVG, the shields endpoint JSON, or the raw result.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::badge::Badge;
use crate::checks::Answer;
use crate::plugin::Outcome;

/// Color of a plugin value that names none.
const DEFAULT_COLOR: &str = "orange";
/// Color of `error`, `timeout` and `busy` badges.
const FAILURE_COLOR: &str = "lightgrey";

/// The `format` and `raw` query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct BadgeQuery {
    format: Option<String>,
    raw: Option<String>,
}

/// The representation a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `302` to the shields badge.
    Redirect,
    /// A badge rendered here.
    Svg,
    /// shields' endpoint schema.
    Endpoint,
    /// The check's own result.
    Raw,
}

impl BadgeQuery {
    /// The format, or the unknown `format` value.
    pub fn format(&self) -> Result<Format, String> {
        if self.raw.is_some() {
            return Ok(Format::Raw);
        }
        match self.format.as_deref() {
            None => Ok(Format::Redirect),
            Some("svg") => Ok(Format::Svg),
            Some("json") => Ok(Format::Endpoint),
            Some(other) => Err(other.to_owned()),
        }
    }
}

/// The badge for a check's answer. Plugin failures show only `error` or `timeout`: their
/// detail is for the log and `/plugins`, never a public badge.
pub fn badge(check: &str, answer: &Answer) -> Badge {
    match answer {
        Answer::Health(health) => Badge::new(check, health.status_text(), health.color),
        Answer::Plugin(result) => match result.as_ref() {
            Ok(Outcome::Raw(value)) => Badge::new(check, value.as_str(), DEFAULT_COLOR),
            Ok(Outcome::Shield { label, status, color }) => Badge::new(
                label.as_deref().unwrap_or(check),
                status.as_str(),
                color.as_deref().unwrap_or(DEFAULT_COLOR),
            ),
            Err(err) => Badge::new(check, err.badge_text(), FAILURE_COLOR),
        },
        Answer::Busy => Badge::new(check, "busy", FAILURE_COLOR),
    }
}

/// The raw JSON of an answer and its status code (`503` when busy).
pub fn raw(answer: &Answer) -> (StatusCode, serde_json::Value) {
    match answer {
        Answer::Health(health) => (StatusCode::OK, serde_json::json!(health)),
        Answer::Plugin(result) => match result.as_ref() {
            Ok(outcome) => (StatusCode::OK, serde_json::json!(outcome)),
            Err(err) => (StatusCode::OK, serde_json::json!({ "error": err.badge_text() })),
        },
        Answer::Busy => (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({ "error": "busy" })),
    }
}

/// Renders the answer in the requested format; `raw` gives the raw JSON and its status.
pub fn respond(
    format: Format,
    badge: &Badge,
    raw: impl FnOnce() -> (StatusCode, serde_json::Value),
    shields_base: &str,
    title: Option<&str>,
) -> Response {
    match format {
        Format::Redirect => {
            let location = badge.redirect_url(shields_base);
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            // GitHub's image proxy caches badges for a long time otherwise.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-store, must-revalidate"));
            response
        }
        Format::Svg => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CONTENT_SECURITY_POLICY, "script-src 'none'"),
                (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            ],
            badge.svg(title),
        )
            .into_response(),
        Format::Endpoint => axum::Json(badge.endpoint_json()).into_response(),
        Format::Raw => {
            let (status, body) = raw();
            (status, axum::Json(body)).into_response()
        }
    }
}
