//! Outgoing HTTP in one call, over the host's `kube-shields:plugin/http` import.
//!
//! The host allows requests only to the service's own pod IPs unless the plugin's
//! settings allow more hosts (`allowed_hosts`), reads bodies up to the settings'
//! `max_response_kib` (default 1 MiB), and counts the wait against the check's deadline:
//! a request still waiting shortly before it fails with [`HttpError::Timeout`], leaving
//! the check time to answer.
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

use crate::bindings::kube_shields::plugin::http as wit;

/// A response read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers in the order received; names are lower case.
    pub headers: Vec<(String, String)>,
    /// The whole body, at most the settings' `max_response_kib`.
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

    /// The body parsed as JSON: into [`serde_json::Value`] (`response.json::<Value>()`), or
    /// into your own `#[derive(Deserialize)]` type (add `serde` with its `derive` feature).
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a request got no complete response. Any status is a response, not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The target is neither a pod of the service nor in the settings' `allowed_hosts`;
    /// the text names the host.
    #[error("denied: {0}")]
    Denied(String),
    /// No complete answer before the check's deadline drew near.
    #[error("timed out")]
    Timeout,
    /// The body is longer than the settings' cap.
    #[error("body larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// Anything else: a malformed URL or header, connection refused, TLS, protocol.
    #[error("request failed: {0}")]
    Failed(String),
}

impl From<wit::HttpError> for HttpError {
    fn from(error: wit::HttpError) -> Self {
        match error {
            wit::HttpError::Denied(host) => Self::Denied(host),
            wit::HttpError::Timeout => Self::Timeout,
            wit::HttpError::BodyTooLarge(limit) => Self::BodyTooLarge { limit },
            wit::HttpError::Failed(reason) => Self::Failed(reason),
        }
    }
}

impl From<wit::Response> for Response {
    fn from(response: wit::Response) -> Self {
        Response {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}

/// Sends `GET url` (`http://host[:port]/path?query` or `https://...`) and waits for the
/// whole response.
pub fn get(url: &str) -> Result<Response, HttpError> {
    get_with_headers(url, &[])
}

/// [`get`] with extra request headers, e.g. `[("accept", "application/json")]`.
pub fn get_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    convert(wit::get(url, &owned(headers)))
}

/// Sends `GET` to every URL at once and waits for all: the wait is that of the slowest
/// target, not the sum. Results are in the order of `urls` (at most 256 per call).
pub fn get_all<S: AsRef<str>>(urls: &[S]) -> Vec<Result<Response, HttpError>> {
    let requests: Vec<wit::Request> = urls
        .iter()
        .map(|url| wit::Request {
            url: url.as_ref().to_owned(),
            headers: Vec::new(),
        })
        .collect();
    wit::get_all(&requests).into_iter().map(convert).collect()
}

fn convert(answer: Result<wit::Response, wit::HttpError>) -> Result<Response, HttpError> {
    answer.map(Response::from).map_err(HttpError::from)
}

fn owned(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_the_host_reports_them() {
        let cases = [
            (
                wit::HttpError::Denied(
                    "`10.0.0.9` is neither a pod of the service nor in allowed_hosts".into(),
                ),
                "denied: `10.0.0.9` is neither a pod of the service nor in allowed_hosts",
            ),
            (wit::HttpError::Timeout, "timed out"),
            (
                wit::HttpError::BodyTooLarge(1024),
                "body larger than 1024 bytes",
            ),
            (
                wit::HttpError::Failed("connection refused".into()),
                "request failed: connection refused",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(HttpError::from(error).to_string(), text);
        }
    }

    #[test]
    fn response_json_reads_the_body_and_says_where_it_is_not_json() {
        let response = |body: &str| Response {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        };
        let value: serde_json::Value = response(r#"{"days": 30, "ok": true}"#).json().unwrap();
        assert_eq!(
            (value["days"].as_u64(), value["ok"].as_bool()),
            (Some(30), Some(true))
        );
        let days: Vec<u32> = response("[1, 2]").json().unwrap();
        assert_eq!(days, [1, 2]);
        let error = response("<html>").json::<serde_json::Value>().unwrap_err();
        assert_eq!(error.to_string(), "expected value at line 1 column 1");
    }

    #[test]
    fn response_text_success_and_headers() {
        let response = Response {
            status: 204,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"ok\n".to_vec(),
        };
        assert!(response.is_success());
        assert_eq!(response.text(), "ok\n");
        assert_eq!(response.header("Content-Type"), Some("text/plain"));
        assert_eq!(response.header("etag"), None);
        assert!(
            !Response {
                status: 302,
                headers: vec![],
                body: vec![]
            }
            .is_success()
        );
    }
}
