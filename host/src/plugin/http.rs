//! The outgoing HTTP policy: a plugin may call its service's own pod IPs (any port) and the
//! hosts its settings allow; anything else fails inside the plugin (`HTTP-request-denied` in
//! `wasi:http`, `denied` in the one-call `http.get`). Response bodies are cut off at the
//! settings' cap. Both ways out go through [`HttpPolicy::send`].

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::bindings::kube_shields::plugin::http as wit;
use super::output::CallTags;
use crate::pods::model::PodInfo;

/// Time `http.get` leaves the check before the call's deadline, to answer without the data.
const MAX_ANSWER_MARGIN: Duration = Duration::from_millis(100);
/// Most request headers one `http.get` may send.
const MAX_REQUEST_HEADERS: usize = 64;
/// Most requests one `http.get-all` takes: a service's pods, with room to spare.
const MAX_GET_ALL_REQUESTS: usize = 256;
/// Most requests of one `http.get-all` in flight at once: each may hold a body up to the
/// cap in host memory until the guest takes it.
const MAX_GET_ALL_IN_FLIGHT: usize = 16;
/// Hosts one call may reach.
#[derive(Debug, Default)]
pub(crate) struct AllowList {
    ips: HashSet<IpAddr>,
    names: HashSet<String>,
}

impl AllowList {
    /// The pods' IPs plus the settings' allowed hosts (already lower-cased by the settings).
    pub(crate) fn new(pods: &[Arc<PodInfo>], allowed_hosts: &[String]) -> Self {
        let mut list = AllowList::default();
        let pod_ips = pods
            .iter()
            .flat_map(|pod| pod.pod_ip.iter().chain(&pod.pod_ips));
        for host in pod_ips.chain(allowed_hosts) {
            match host.parse::<IpAddr>() {
                Ok(ip) => list.ips.insert(ip),
                Err(_) => list.names.insert(host.to_ascii_lowercase()),
            };
        }
        list
    }

    /// Whether a URI host (`127.0.0.7`, `[fd00::7]`, `example.org`) may be called.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>() {
            Ok(ip) => self.ips.contains(&ip),
            Err(_) => {
                let name = bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase();
                self.names.contains(&name)
            }
        }
    }
}

/// The outgoing HTTP policy of one call, for `wasi:http` and `http.get` alike.
pub(crate) struct HttpPolicy {
    pub(crate) allowed: AllowList,
    pub(crate) max_response_body: usize,
    pub(crate) tags: CallTags,
    /// When the call's deadline passes: `http.get` gives up a little before it.
    pub(crate) deadline: Instant,
}

type Connection = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, Connection), HttpError>> + Send>;

impl HttpPolicy {
    /// Sends `request` when its host is allowed (else logs and fails with
    /// `HttpRequestDenied`); the response body fails past the cap.
    fn send<B>(&self, request: http::Request<B>, options: Option<RequestOptions>) -> SendFuture
    where
        B: hyper::body::Body<Data = Bytes, Error = HttpError> + Send + 'static,
    {
        let host = request.uri().host().unwrap_or_default();
        if !self.allowed.allows(host) {
            tracing::warn!(
                plugin = %self.tags.plugin,
                check = %self.tags.check,
                "outgoing HTTP request to `{host}` denied: not a pod of the service nor in allowed_hosts"
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        let max = self.max_response_body;
        Box::new(async move {
            let (response, connection) =
                wasmtime_wasi_http::default_send_request(request, options).await?;
            let response = response.map(|body| {
                Limited::new(body, max)
                    .map_err(move |err| match err.downcast::<HttpError>() {
                        Ok(err) => *err,
                        // The only other error `Limited` raises is the length limit.
                        Err(_) => HttpError::HttpResponseBodySize(Some(max as u64)),
                    })
                    .boxed_unsync()
            });
            Ok((response, Box::new(connection) as Connection))
        })
    }

    /// `http.get`: one GET, read whole, within the allow-list, the body cap and the deadline.
    pub(crate) async fn get(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
    ) -> Result<wit::Response, wit::HttpError> {
        let request = get_request(url, headers)?;
        let host = request.uri().host().unwrap_or_default().to_owned();
        let exchange = async {
            let (response, connection) = Box::into_pin(self.send(request, None)).await?;
            // The connection must be driven while the body is read, and end with the call
            // (also when the deadline drops this future).
            let _connection = AbortOnDrop(tokio::spawn(Box::into_pin(connection)));
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, HttpError>((parts, body))
        };
        let wait = self
            .deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(MAX_ANSWER_MARGIN);
        let (parts, body) = match tokio::time::timeout(wait, exchange).await {
            Err(_elapsed) => return Err(wit::HttpError::Timeout),
            Ok(Err(HttpError::HttpRequestDenied)) => {
                return Err(wit::HttpError::Denied(format!(
                    "`{}` is neither a pod of the service nor in allowed_hosts",
                    shown(&host)
                )));
            }
            Ok(Err(HttpError::HttpResponseBodySize(_))) => {
                return Err(wit::HttpError::BodyTooLarge(self.max_response_body as u64));
            }
            Ok(Err(err)) => return Err(wit::HttpError::Failed(describe(&err))),
            Ok(Ok(answer)) => answer,
        };
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        Ok(wit::Response {
            status: parts.status.as_u16(),
            headers,
            body: body.to_vec(),
        })
    }

    /// `http.get-all`: every request as `get`, concurrently, answers in request order.
    pub(crate) async fn get_all(
        &self,
        requests: Vec<wit::Request>,
    ) -> Vec<Result<wit::Response, wit::HttpError>> {
        use futures::stream::{self, StreamExt};
        let count = requests.len();
        let mut answers: Vec<_> = stream::iter(requests.into_iter().take(MAX_GET_ALL_REQUESTS))
            .map(|request| async move { self.get(&request.url, request.headers).await })
            .buffered(MAX_GET_ALL_IN_FLIGHT)
            .collect()
            .await;
        answers.extend((MAX_GET_ALL_REQUESTS..count).map(|_| {
            Err(wit::HttpError::Failed(format!(
                "{count} requests in one get-all; at most {MAX_GET_ALL_REQUESTS}"
            )))
        }));
        answers
    }
}

/// Ends a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The request `http.get` sends: `url` must be absolute `http` or `https`; `host` comes from
/// the URL (hyper's client connection does not add it).
fn get_request(
    url: &str,
    headers: Vec<(String, String)>,
) -> Result<http::Request<WasiBody>, wit::HttpError> {
    let failed = |text: String| wit::HttpError::Failed(text);
    let uri: http::Uri = url
        .parse()
        .map_err(|err| failed(format!("invalid URL `{}`: {err}", shown(url))))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(failed(format!(
                "invalid URL `{}`: only absolute http:// and https:// URLs",
                shown(url)
            )));
        }
    }
    let Some(authority) = uri.authority().cloned() else {
        return Err(failed(format!("invalid URL `{}`: no host", shown(url))));
    };
    if headers.len() > MAX_REQUEST_HEADERS {
        return Err(failed(format!(
            "{} request headers; at most {MAX_REQUEST_HEADERS}",
            headers.len()
        )));
    }
    let mut builder = http::Request::get(uri);
    let mut has_host = false;
    for (name, value) in headers {
        let name = http::HeaderName::try_from(name.as_str())
            .map_err(|_| failed(format!("invalid header name `{}`", shown(&name))))?;
        let value = http::HeaderValue::try_from(value.as_str())
            .map_err(|_| failed(format!("invalid value for header `{name}`")))?;
        has_host |= name == http::header::HOST;
        builder = builder.header(name, value);
    }
    if !has_host {
        builder = builder.header(http::header::HOST, authority.as_str());
    }
    let body = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    builder
        .body(body)
        .map_err(|err| failed(format!("invalid request: {err}")))
}

/// Plugin-supplied text quoted in an error: escaped and short.
fn shown(text: &str) -> String {
    super::outcome::cut(text.escape_debug().to_string(), 200)
}

/// What went wrong, in words.
fn describe(err: &HttpError) -> String {
    format!("{err}")
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        self.send(request, options)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    fn pod_with_ips(ips: &[&str]) -> Arc<PodInfo> {
        Arc::new(PodInfo {
            name: "web-1".into(),
            namespace: "default".into(),
            generate_name: None,
            controller: None,
            phase: "Running".into(),
            pod_ip: ips.first().map(|ip| (*ip).to_owned()),
            pod_ips: ips.iter().map(|ip| (*ip).to_owned()).collect(),
            node_name: None,
            labels: Default::default(),
            annotations: Default::default(),
            created: None,
            containers: Vec::new(),
        })
    }

    #[rstest]
    #[case::pod_ip("127.0.0.7", true)]
    #[case::second_pod_ip_v6("[fd00::7]", true)]
    #[case::v6_other_spelling("[fd00:0::7]", true)]
    #[case::other_ip("127.0.0.8", false)]
    #[case::allowed_name("Status.Example.org", true)]
    #[case::allowed_name_fqdn("status.example.org.", true)]
    #[case::allowed_ip("192.0.2.1", true)]
    #[case::other_name("example.org", false)]
    #[case::empty("", false)]
    fn allows_pod_ips_and_allowed_hosts_only(#[case] host: &str, #[case] allowed: bool) {
        let list = AllowList::new(
            &[pod_with_ips(&["127.0.0.7", "fd00::7"])],
            &["status.example.org".to_owned(), "192.0.2.1".to_owned()],
        );
        assert_eq!(list.allows(host), allowed);
    }
}
