//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! The host allows requests only to the service's own pod IPs unless the plugin's
//! settings allow more hosts; time spent waiting counts against the check's deadline.
//!
//! ```no_run
//! use kube_shields_plugin::http;
//!
//! match http::get("http://127.0.0.7:8080/version") {
//!     Ok(response) if response.is_success() => println!("{}", response.text()),
//!     Ok(response) => println!("status {}", response.status),
//!     Err(error) => println!("{error}"),
//! }
//! ```

use std::io::Read;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingRequest, Scheme,
};

/// The most body bytes [`get`] reads; a longer body is an error, not a truncated read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A response read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole body, at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as text, invalid UTF-8 replaced by `�`.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no complete response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The URL is not `http://` or `https://` followed by a host.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host refused the request: the target is not one of the service's pods
    /// nor a host the plugin's settings allow.
    #[error("HTTP-request-denied")]
    Denied,
    /// The request failed on the way: connection refused, timeout, protocol error, ...
    #[error("request failed: {0}")]
    Failed(String),
    /// The body could not be read to its end.
    #[error("reading the body failed: {0}")]
    Body(String),
    /// The body is longer than [`MAX_BODY_BYTES`].
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::HttpRequestDenied => Self::Denied,
            // The generated Debug reads `ErrorCode::ConnectionRefused`; the prefix says nothing.
            other => Self::Failed(
                format!("{other:?}")
                    .trim_start_matches("ErrorCode::")
                    .to_owned(),
            ),
        }
    }
}

/// Sends `GET url` and waits for the whole response.
///
/// Any status is a response; only transport failures, a denied target and an
/// oversized body are errors.
pub fn get(url: &str) -> Result<Response, HttpError> {
    receive(send(url)?)
}

/// Sends `GET` to every URL at once, then waits for each response: the wait is
/// that of the slowest target, not the sum. Results are in the order of `urls`.
pub fn get_all<S: AsRef<str>>(urls: &[S]) -> Vec<Result<Response, HttpError>> {
    let pending: Vec<_> = urls.iter().map(|url| send(url.as_ref())).collect();
    pending
        .into_iter()
        .map(|sent| sent.and_then(receive))
        .collect()
}

/// Starts `GET url`; the response arrives through the returned future.
fn send(url: &str) -> Result<FutureIncomingResponse, HttpError> {
    let target = Target::parse(url)?;
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |reason| HttpError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    request
        .set_method(&Method::Get)
        .map_err(|()| invalid("method refused"))?;
    request
        .set_scheme(Some(&target.scheme.into()))
        .map_err(|()| invalid("scheme refused"))?;
    request
        .set_authority(Some(target.authority))
        .map_err(|()| invalid("host refused"))?;
    request
        .set_path_with_query(Some(&target.path_with_query))
        .map_err(|()| invalid("path refused"))?;
    Ok(outgoing_handler::handle(request, None)?)
}

/// Waits for a sent request's response and reads its body.
fn receive(pending: FutureIncomingResponse) -> Result<Response, HttpError> {
    pending.subscribe().block();
    let response = pending
        .get()
        .expect("a response is ready once its pollable fired")
        .expect("the response is taken only once")?;
    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| HttpError::Body("body already taken".into()))?;
    let stream = body
        .stream()
        .map_err(|()| HttpError::Body("stream already taken".into()))?;
    // The stream is a child of the body: it must be dropped first, as `read_capped` does.
    let bytes = read_capped(stream, MAX_BODY_BYTES)?;
    Ok(Response {
        status,
        body: bytes,
    })
}

/// Reads `reader` to its end, failing once it yields more than `limit` bytes.
fn read_capped(reader: impl Read, limit: usize) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "too large".
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|error| HttpError::Body(error.to_string()))?;
    if body.len() > limit {
        return Err(HttpError::BodyTooLarge { limit });
    }
    Ok(body)
}

/// The scheme of a URL this client can fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetScheme {
    Http,
    Https,
}

impl From<TargetScheme> for Scheme {
    fn from(scheme: TargetScheme) -> Self {
        match scheme {
            TargetScheme::Http => Scheme::Http,
            TargetScheme::Https => Scheme::Https,
        }
    }
}

/// A URL split into the parts wasi:http sets one by one.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    scheme: TargetScheme,
    authority: &'a str,
    path_with_query: String,
}

impl<'a> Target<'a> {
    fn parse(url: &'a str) -> Result<Self, HttpError> {
        let invalid = |reason| HttpError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("no scheme"))?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            TargetScheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            TargetScheme::Https
        } else {
            return Err(invalid("scheme is not http or https"));
        };
        // The fragment stays with the client; it is never sent.
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = rest
            .find(['/', '?'])
            .map_or((rest, ""), |at| rest.split_at(at));
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        let path_with_query = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Ok(Self {
            scheme,
            authority,
            path_with_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::host_port_and_path(
        "http://127.0.0.7:8080/version",
        TargetScheme::Http,
        "127.0.0.7:8080",
        "/version"
    )]
    #[case::no_path_means_root("http://127.0.0.7:8080", TargetScheme::Http, "127.0.0.7:8080", "/")]
    #[case::query_without_path("http://web?x=1", TargetScheme::Http, "web", "/?x=1")]
    #[case::query_kept(
        "https://example.com/a/b?c=d&e",
        TargetScheme::Https,
        "example.com",
        "/a/b?c=d&e"
    )]
    #[case::fragment_dropped("http://web/status#top", TargetScheme::Http, "web", "/status")]
    #[case::ipv6_literal("http://[fd00::7]:8080/", TargetScheme::Http, "[fd00::7]:8080", "/")]
    #[case::scheme_case_ignored("HTTP://web/", TargetScheme::Http, "web", "/")]
    fn parses(
        #[case] url: &str,
        #[case] scheme: TargetScheme,
        #[case] authority: &str,
        #[case] path_with_query: &str,
    ) {
        assert_eq!(
            Target::parse(url),
            Ok(Target {
                scheme,
                authority,
                path_with_query: path_with_query.to_owned()
            })
        );
    }

    #[rstest]
    #[case::no_scheme("127.0.0.7:8080/", "invalid URL `127.0.0.7:8080/`: no scheme")]
    #[case::other_scheme(
        "ftp://host/",
        "invalid URL `ftp://host/`: scheme is not http or https"
    )]
    #[case::no_host("http:///path", "invalid URL `http:///path`: no host")]
    #[case::credentials(
        "http://u:p@host/",
        "invalid URL `http://u:p@host/`: credentials in the URL are not supported"
    )]
    fn refuses(#[case] url: &str, #[case] message: &str) {
        assert_eq!(Target::parse(url).unwrap_err().to_string(), message);
    }

    #[test]
    fn body_at_the_limit_is_read_whole() {
        assert_eq!(read_capped(Cursor::new(b"12345"), 5), Ok(b"12345".to_vec()));
    }

    #[test]
    fn body_over_the_limit_is_an_error() {
        assert_eq!(
            read_capped(Cursor::new(b"123456"), 5)
                .unwrap_err()
                .to_string(),
            "body larger than 5 bytes"
        );
    }

    #[test]
    fn denied_request_reads_as_wasi_http_names_it() {
        assert_eq!(
            HttpError::from(ErrorCode::HttpRequestDenied).to_string(),
            "HTTP-request-denied"
        );
    }

    #[test]
    fn other_failures_name_the_error_code() {
        assert_eq!(
            HttpError::from(ErrorCode::ConnectionRefused).to_string(),
            "request failed: ConnectionRefused"
        );
    }

    #[test]
    fn response_text_and_success() {
        let response = Response {
            status: 204,
            body: b"ok\n".to_vec(),
        };
        assert!(response.is_success());
        assert_eq!(response.text(), "ok\n");
        assert!(
            !Response {
                status: 302,
                body: vec![]
            }
            .is_success()
        );
    }
}
