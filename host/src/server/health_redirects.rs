//! The most common request, `/_/<service>/health/` without a query, answered from a table:
//! every service's redirect is prepared once per published index (and again when a pod's age
//! alone changes a color), so such a request costs one hash lookup and a cloned `Location`.
//! Anything the table does not hold goes the general way, which gives the same answer.
//!
//! [`PreparedFirst`] asks the table before the router: in `perf`, routing, the access and
//! metrics middleware (a boxed clone of the inner service per request) and the handler's
//! extraction cost more than the answer (the profile's largest user-space items beside hyper's
//! own, ~5 % of a request's CPU); looked-up metrics handles skip two label hashes and locks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use futures::future::Either;
use jiff::Timestamp;
use kube_shields_badge::BadgeParams;
use tower::Service;

use super::access::RouteAccess;
use super::{ServerState, render};
use crate::checks::{Answer, HEALTH};
use crate::metrics::RequestObserver;
use crate::pods::health::next_change;
use crate::pods::index::ServiceIndex;
use crate::pods::naming::is_service_name;

/// The prepared redirects, if any, and whether new ones are being prepared.
#[derive(Default)]
pub(crate) struct HealthRedirects {
    table: ArcSwapOption<Table>,
    preparing: AtomicBool,
}

/// The redirects prepared from one index.
struct Table {
    /// Weak: the table never keeps an old index's pods alive, and while it exists no newer
    /// index can take the same address.
    index: Weak<ServiceIndex>,
    /// The clock when they were prepared (health depends on pod ages).
    prepared_at: Timestamp,
    /// foldhash: SipHash of the name was 1 % of a request's CPU.
    by_name: HashMap<Box<str>, Redirect, foldhash::fast::RandomState>,
}

struct Redirect {
    location: HeaderValue,
    /// When the clock alone may change the answer; `None`: never.
    until: Option<Timestamp>,
}

impl HealthRedirects {
    /// The answer to a no-query health badge request of a local service from the table, when
    /// the table was prepared from the current index and still holds; `None` sends the request
    /// the general way (and a table that no longer holds is prepared again, off the request).
    pub(crate) fn answer(state: &Arc<ServerState>, uri: &Uri) -> Option<Response> {
        if uri.query().is_some() {
            return None;
        }
        let rest = uri.path().strip_prefix("/_/")?;
        let service = (rest.strip_suffix("/health/")).or_else(|| rest.strip_suffix("/health"))?;
        let pods = state.checker.pods();
        // Stale health says so: the table holds answers of a working watch only.
        if pods.watch_health().failing_for().is_some() {
            return None;
        }
        let index = pods.current();
        let redirects = &state.health_redirects;
        let table = redirects.table.load();
        let Some(table) = table
            .as_ref()
            .filter(|table| table.index.as_ptr() == Arc::as_ptr(&index))
        else {
            redirects.prepare(state, &index);
            return None;
        };
        let redirect = table.by_name.get(service)?;
        let now = Timestamp::now();
        if now < table.prepared_at || redirect.until.is_some_and(|until| now >= until) {
            redirects.prepare(state, &index);
            return None;
        }
        Some(render::redirect(Some(redirect.location.clone())))
    }

    /// Prepares a table from `index` on the blocking pool, unless one is being prepared.
    fn prepare(&self, state: &Arc<ServerState>, index: &Arc<ServiceIndex>) {
        if self.preparing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (state, index) = (Arc::clone(state), Arc::clone(index));
        tokio::task::spawn_blocking(move || {
            let table = Table::prepare(&index, &state.config.shields_base);
            let redirects = &state.health_redirects;
            redirects.table.store(Some(Arc::new(table)));
            redirects.preparing.store(false, Ordering::Release);
        });
    }
}

/// The badge route's template.
const BADGE_ROUTE: &str = "/_/{service}/{check}/";

/// The router with the prepared redirects in front of it (see the module docs): answers a
/// `GET` or `HEAD` request the table holds that needs no signature (public mode), counted as
/// the badge route's, and hands everything else to the router.
#[derive(Clone)]
pub(crate) struct PreparedFirst {
    state: Arc<ServerState>,
    router: Router,
    /// Whether the badge routes need no signature in this mode (their [`Access`](super::access::Access)).
    badges_open: bool,
    /// The badge route's metrics for a `302`, with and without the trailing slash.
    with_slash: RequestObserver,
    without_slash: RequestObserver,
}

impl PreparedFirst {
    pub(crate) fn new(state: Arc<ServerState>, router: Router, access: &RouteAccess) -> Self {
        let badges = access.of(BADGE_ROUTE).expect("the badge route is declared");
        let badges_open = !badges.needs_signature(&state.config.mode);
        let metrics = state.checker.metrics();
        let observer = |route| {
            metrics.request_observer(metrics.route_label(route), StatusCode::FOUND.as_u16())
        };
        PreparedFirst {
            with_slash: observer(BADGE_ROUTE),
            without_slash: observer("/_/{service}/{check}"),
            router,
            state,
            badges_open,
        }
    }

    fn answer(&self, request: &Request) -> Option<Response> {
        let started = Instant::now();
        let method = request.method();
        let path = request.uri().path();
        if (method != Method::GET && method != Method::HEAD) || !self.badges_open {
            return None;
        }
        let response = HealthRedirects::answer(&self.state, request.uri())?;
        let observer = match path.ends_with('/') {
            true => &self.with_slash,
            false => &self.without_slash,
        };
        observer.observe(started.elapsed().as_secs_f64());
        Some(response)
    }
}

impl Service<Request> for PreparedFirst {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.answer(&request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.router.call(request)),
        }
    }
}

impl Table {
    /// Each address's health redirect as the general way renders it, now.
    fn prepare(index: &Arc<ServiceIndex>, shields_base: &str) -> Table {
        let now = Timestamp::now();
        let badge = BadgeParams::default();
        let by_name = index
            .addresses()
            // The general way refuses a name that is not a service name (400).
            .filter(|(name, pods)| is_service_name(name) && !pods.is_empty())
            .filter_map(|(name, pods)| {
                let answer = Answer::health(pods, now, false);
                let location =
                    render::redirect_location(&badge, &answer.badge(HEALTH), shields_base)?;
                let until = next_change(pods, now);
                Some((name.into(), Redirect { location, until }))
            })
            .collect();
        Table {
            index: Arc::downgrade(index),
            prepared_at: now,
            by_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, header};
    use fake_apiserver::PodBuilder;

    use super::*;
    use crate::pods::model::PodInfo;
    use crate::server::render::BadgeRequest;

    #[test]
    fn each_prepared_redirect_is_what_the_general_way_renders() {
        let pod = |namespace: &str, name: &str, restarts: u32| {
            let pod = PodBuilder::new(namespace, &format!("{name}-7d4b9c-x7k2p"))
                .deployment(name, "7d4b9c")
                .restarts(restarts);
            Arc::new(PodInfo::from(&pod.build()))
        };
        let index = Arc::new(ServiceIndex::build([
            pod("default", "web", 0),
            pod("staging", "web", 3),
            pod("default", "db-main", 1),
        ]));
        let table = Table::prepare(&index, "https://img.shields.io");
        let mut names: Vec<&str> = table.by_name.keys().map(AsRef::as_ref).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "db-main",
                "db-main.default",
                "web",
                "web.default",
                "web.staging"
            ]
        );
        for (name, redirect) in &table.by_name {
            let pods = index.lookup(name).unwrap();
            let answer = Answer::health(pods, table.prepared_at, false);
            let request = BadgeRequest::parse(None).unwrap();
            let general = render::respond(
                &request,
                HEALTH,
                &answer,
                "https://img.shields.io",
                &HeaderMap::new(),
            );
            assert_eq!(
                general.headers().get(header::LOCATION),
                Some(&redirect.location),
                "{name}"
            );
            assert_eq!(redirect.until, next_change(pods, table.prepared_at));
        }
    }
}
