//! Turning a check's answer into what the client asked for: a redirect to shields, a local
//! SVG, the shields endpoint JSON, or the raw result.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kube_shields_badge::{Badge, BadgeParams};
use sha2::{Digest, Sha256};

use crate::checks::Answer;

/// What the redirect sends: GitHub's image proxy caches badges for a long time otherwise.
const NO_STORE: &str = "no-cache, no-store, must-revalidate";
/// What rendered answers send without `cacheSeconds`: keep them, but ask every time (an
/// `If-None-Match` then costs a `304` with no body).
const REVALIDATE: &str = "no-cache";

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

/// What a badge request's query asks for.
#[derive(Debug, Clone)]
pub struct BadgeRequest {
    /// The representation.
    pub format: Format,
    /// shields' parameters (`style`, `label`, `color`, ...), validated.
    pub params: BadgeParams,
}

impl BadgeRequest {
    /// Reads `format` (`svg` or `json`), `raw` and shields' parameters from the query. A
    /// malformed or repeated `format` is an error that says so.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut format = None;
        let mut raw = false;
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect();
        for (key, value) in &pairs {
            match key.as_str() {
                "raw" => raw = true,
                "format" if format.is_some() => {
                    return Err("`format` is given more than once".to_owned());
                }
                "format" => {
                    format = Some(match value.as_str() {
                        "svg" => Format::Svg,
                        "json" => Format::Endpoint,
                        other => {
                            return Err(format!(
                                "unknown format `{}` (svg or json)",
                                other.escape_debug()
                            ));
                        }
                    });
                }
                _ => {}
            }
        }
        let format = if raw {
            Format::Raw
        } else {
            format.unwrap_or(Format::Redirect)
        };
        let params = BadgeParams::from_query(
            pairs
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        );
        Ok(BadgeRequest { format, params })
    }
}

/// Renders `answer` to `check` in the requested format. Rendered answers carry an `ETag`;
/// one the client already has (`If-None-Match`) is answered `304` without a body.
pub fn respond(
    request: &BadgeRequest,
    check: &str,
    answer: &Answer,
    shields_base: &str,
    headers: &HeaderMap,
) -> Response {
    let raw = || {
        let (available, body) = answer.raw();
        (
            available,
            serde_json::to_string(&body).expect("a raw answer serializes"),
        )
    };
    respond_badge(request, &answer.badge(check), raw, shields_base, headers)
}

/// Renders `badge` in the requested format; `raw` gives `?raw`'s body and whether the result
/// is available (else `503`).
pub fn respond_badge(
    request: &BadgeRequest,
    badge: &Badge,
    raw: impl FnOnce() -> (bool, String),
    shields_base: &str,
    headers: &HeaderMap,
) -> Response {
    let params = &request.params;
    let (status, content_type, body) = match request.format {
        Format::Redirect => return redirect(redirect_location(params, badge, shields_base)),
        Format::Svg => (StatusCode::OK, "image/svg+xml", params.svg(badge, None)),
        Format::Endpoint => (
            StatusCode::OK,
            "application/json",
            params.endpoint_json(badge).to_string(),
        ),
        Format::Raw => {
            let (available, body) = raw();
            let status = if available {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, "application/json", body)
        }
    };
    rendered(status, content_type, body, params.cache_seconds(), headers)
}

/// A rendered body (badge, chart, JSON) with its `ETag` and cache policy (`max-age` from
/// `cacheSeconds`, else revalidate); `304` without a body when the client has it. SVG gets a
/// policy that forbids scripts.
pub fn rendered(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    cache_seconds: Option<u32>,
    headers: &HeaderMap,
) -> Response {
    let etag = etag(&body);
    let cache_control = match cache_seconds {
        Some(seconds) => {
            HeaderValue::from_str(&format!("max-age={seconds}")).expect("digits are a header value")
        }
        None => HeaderValue::from_static(REVALIDATE),
    };
    let mut response = if status == StatusCode::OK && client_has(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if content_type == "image/svg+xml" {
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("script-src 'none'"),
            );
        }
        response
    };
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    response_headers.insert(header::CACHE_CONTROL, cache_control);
    response
}

/// Where a redirect to shields for `badge` with `params` points; `None` when the URL cannot be a
/// header value.
pub fn redirect_location(
    params: &BadgeParams,
    badge: &Badge,
    shields_base: &str,
) -> Option<HeaderValue> {
    HeaderValue::from_str(&params.redirect_url(shields_base, badge)).ok()
}

/// A `302` to `location` that no cache keeps.
pub fn redirect(location: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    if let Some(location) = location {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    response
}

/// A strong entity tag: the first 128 bits of the body's SHA-256, quoted.
fn etag(body: &str) -> String {
    format!(
        "\"{}\"",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    )
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn client_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*")
        })
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::none(None, Ok(Format::Redirect))]
    #[case::svg(Some("format=svg"), Ok(Format::Svg))]
    #[case::json(Some("format=json"), Ok(Format::Endpoint))]
    #[case::raw_wins(Some("format=svg&raw"), Ok(Format::Raw))]
    #[case::shields_parameters_are_not_ours(Some("style=flat&label=x"), Ok(Format::Redirect))]
    #[case::unknown(Some("format=png"), Err("unknown format `png` (svg or json)".to_owned()))]
    #[case::twice(Some("format=svg&format=json"), Err("`format` is given more than once".to_owned()))]
    fn the_query_names_the_format(
        #[case] query: Option<&str>,
        #[case] expected: Result<Format, String>,
    ) {
        assert_eq!(
            BadgeRequest::parse(query).map(|request| request.format),
            expected
        );
    }
}
