//! Turning a check's answer into what the client asked for: a redirect to shields, a local
//! SVG, the shields endpoint JSON, or the raw result.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::checks::Answer;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeRequest {
    /// The representation.
    pub format: Format,
}

impl BadgeRequest {
    /// Reads `format` (`svg` or `json`) and `raw` from the query; other parameters are left to
    /// the badge. A malformed or repeated `format` is an error that says so.
    pub fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut format = None;
        let mut raw = false;
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                "raw" => raw = true,
                "format" if format.is_some() => {
                    return Err("`format` is given more than once".to_owned());
                }
                "format" => {
                    format = Some(match value.as_ref() {
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
        Ok(BadgeRequest { format })
    }
}

/// Renders `answer` to `check` in the requested format.
pub fn respond(
    request: &BadgeRequest,
    check: &str,
    answer: &Answer,
    shields_base: &str,
) -> Response {
    let badge = answer.badge(check);
    match request.format {
        Format::Redirect => {
            let location = badge.redirect_url(shields_base);
            let mut response = StatusCode::FOUND.into_response();
            let headers = response.headers_mut();
            if let Ok(location) = HeaderValue::from_str(&location) {
                headers.insert(header::LOCATION, location);
            }
            // GitHub's image proxy caches badges for a long time otherwise.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, no-store, must-revalidate"),
            );
            response
        }
        Format::Svg => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CONTENT_SECURITY_POLICY, "script-src 'none'"),
                (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
            ],
            badge.svg(None),
        )
            .into_response(),
        Format::Endpoint => axum::Json(badge.endpoint_json()).into_response(),
        Format::Raw => {
            let (available, body) = answer.raw();
            let status = if available {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, axum::Json(body)).into_response()
        }
    }
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
