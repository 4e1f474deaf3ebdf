//! The outgoing HTTP policy: a plugin may call its service's own pod IPs (any port) and the
//! hosts its settings allow; anything else fails inside the plugin with `HTTP-request-denied`.
//! Response bodies are cut off at the settings' cap.

use std::collections::HashSet;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::output::CallTags;
use crate::pods::model::PodInfo;

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

/// The `wasi:http` hooks of one call.
pub(crate) struct HttpPolicy {
    pub(crate) allowed: AllowList,
    pub(crate) max_response_body: usize,
    pub(crate) tags: CallTags,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_done: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
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
            Ok((
                response,
                Box::new(connection) as Box<dyn Future<Output = _> + Send>,
            ))
        })
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
