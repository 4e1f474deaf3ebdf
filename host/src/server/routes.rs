//! The routes, each reading top to bottom: validate the URL, ask the core, render. Every
//! answer that is not a badge or a listing is `{"error": "..."}` JSON with its status.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use super::access::{Access, RouteAccess, require_signature};
use super::health_redirects::HealthRedirects;
use super::render::{self, BadgeRequest};
use super::{Mode, ServerState};
use crate::checks::{CheckError, HistoryAnswer, Measure, Reach, split_cluster};
use crate::metrics::MetricsFormat;
use crate::peers::{CATALOG_PATH, HOP_HEADER};
use crate::pods::naming::is_service_name;
use kube_shields_history::Window;

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

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

type Shared = State<Arc<ServerState>>;

/// Routes of one [`Access`]. A route's access is the group it is added to: the group puts its
/// signature check over all its routes as one `route_layer` ([`Group::into_router`]), so no route
/// decides it alone, and only the probes' group is open in every mode.
struct Group {
    access: Access,
    router: Router<Arc<ServerState>>,
    templates: Vec<&'static str>,
    /// Whether the group answers the requests no route matches.
    answers_unmatched: bool,
}

impl Group {
    fn new(access: Access) -> Self {
        Group {
            access,
            router: Router::new(),
            templates: Vec::new(),
            answers_unmatched: false,
        }
    }

    /// Answers the requests no route matches with `404`, behind this group's check: unsigned,
    /// a private service's `404` would tell which paths exist.
    fn unmatched(mut self) -> Self {
        self.answers_unmatched = true;
        self.router = self
            .router
            .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".to_owned()) });
        self
    }

    fn get(mut self, template: &'static str, route: MethodRouter<Arc<ServerState>>) -> Self {
        self.templates.push(template);
        self.router = self.router.route(template, route);
        self
    }

    /// Records each route's access in `declared`.
    fn declare(&self, declared: &mut RouteAccess) {
        for template in &self.templates {
            declared.declare(template, self.access);
        }
    }

    /// The group's routes, behind the signature check when its access needs one in this mode
    /// (in the other modes they pay no middleware for it). A wrong method is refused behind it.
    fn into_router(self, state: &Arc<ServerState>) -> Router<Arc<ServerState>> {
        let router = self.router.method_not_allowed_fallback(method_not_allowed);
        if !self.access.needs_signature(&state.config.mode) {
            return router;
        }
        let check = axum::middleware::from_fn_with_state(Arc::clone(state), require_signature);
        match self.answers_unmatched {
            // `layer` covers the fallback too; `route_layer` only the routes.
            true => router.layer(check),
            false => router.route_layer(check),
        }
    }
}

/// The routes by who may call them. `get` answers HEAD too.
fn groups() -> [Group; 3] {
    let probes = Group::new(Access::Probe)
        .get("/healthz", get(|| async { "ok" }))
        .get("/readyz", get(readyz_route));
    let operator = Group::new(Access::Operator)
        .get("/plugins", get(plugins_route))
        .get("/peers", get(peers_route));
    let reads = Group::new(Access::Read)
        .get("/_/{service}/{check}/", get(badge_route))
        .get("/_/{service}/{check}", get(badge_route))
        .get(
            "/_/{service}/{check}/{measure}/{window}",
            get(history_badge_route),
        )
        .get(
            "/_/{service}/{check}/{measure}/{window}/",
            get(history_badge_route),
        )
        .get("/_/{service}/{check}/history", get(history_route))
        .get("/_/{service}/{check}/chart.svg", get(chart_route))
        .get("/a/{prefix}/{check}/", get(aggregate_route))
        .get("/a/{prefix}/{check}", get(aggregate_route))
        .get("/services/", get(services_route))
        .get("/services", get(services_route))
        .get("/services/{name}/", get(service_route))
        .get("/services/{name}", get(service_route))
        .get("/metrics", get(metrics_route))
        .get("/", get(index_route))
        .get(
            "/index.js",
            get(|| async { asset("text/javascript; charset=utf-8", super::index::SCRIPT) }),
        )
        .get(
            "/index.css",
            get(|| async { asset("text/css; charset=utf-8", super::index::STYLE) }),
        )
        .get(CATALOG_PATH, get(catalog_route))
        .unmatched();
    [probes, operator, reads]
}

/// Every route of the service, each behind its group's signature check, and each route's
/// access.
pub(crate) fn routes(state: &Arc<ServerState>) -> (Router<Arc<ServerState>>, RouteAccess) {
    let mut declared = RouteAccess::default();
    let mut router = Router::new();
    for group in groups() {
        group.declare(&mut declared);
        router = router.merge(group.into_router(state));
    }
    (router, declared)
}

/// Each route's access, as [`routes`] declares it.
#[cfg(test)]
pub(crate) fn declared() -> RouteAccess {
    let mut declared = RouteAccess::default();
    groups()
        .iter()
        .for_each(|group| group.declare(&mut declared));
    declared
}

async fn method_not_allowed() -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        "only GET and HEAD are served".to_owned(),
    )
}

/// A service or prefix from the URL: a Kubernetes name, optionally `.namespace`, optionally
/// `@<cluster>` (a peer's `host[:port]`).
fn service_segment(value: &str) -> Result<&str, ApiError> {
    let (service, cluster) = split_cluster(value);
    let cluster_ok = cluster.is_none_or(|cluster| {
        !cluster.is_empty()
            && cluster
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    });
    if is_service_name(service) && cluster_ok {
        Ok(value)
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            "malformed service name".to_owned(),
        ))
    }
}

/// A check from the URL: the check-name rule every plugin's checks follow.
fn check_segment(value: &str) -> Result<&str, ApiError> {
    if kube_shields_check_name::is_check_name(value) {
        Ok(value)
    } else {
        Err(ApiError(
            StatusCode::BAD_REQUEST,
            "malformed check name".to_owned(),
        ))
    }
}

fn badge_request(query: Option<&str>) -> Result<BadgeRequest, ApiError> {
    BadgeRequest::parse(query).map_err(|message| ApiError(StatusCode::BAD_REQUEST, message))
}

async fn badge_route(state: Shared, request: Request) -> Result<Response, ApiError> {
    if let Some(prepared) = HealthRedirects::answer(&state.0, request.uri()) {
        return Ok(prepared);
    }
    let (mut parts, _) = request.into_parts();
    let Path((service, check)) = Path::from_request_parts(&mut parts, &()).await?;
    badge(
        state,
        Target::Service(service),
        check,
        parts.uri.query(),
        &parts.headers,
    )
    .await
}

/// A request from a peer ([`HOP_HEADER`]) is answered from this cluster only.
fn reach(headers: &HeaderMap) -> Reach {
    if headers.contains_key(HOP_HEADER) {
        Reach::Local
    } else {
        Reach::Federated
    }
}

async fn aggregate_route(
    state: Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((prefix, check)) = path?;
    badge(
        state,
        Target::Prefix(prefix),
        check,
        query.as_deref(),
        &headers,
    )
    .await
}

/// What a badge is about: one service (`/_/`) or every service with a prefix (`/a/`).
enum Target {
    Service(String),
    Prefix(String),
}

/// Both badge routes: validate, ask the core, render.
async fn badge(
    State(state): Shared,
    target: Target,
    check: String,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let request = badge_request(query)?;
    let reach = reach(headers);
    let answer = match target {
        Target::Service(name) => {
            state
                .checker
                .answer(service_segment(&name)?, check_segment(&check)?, reach)
                .await?
        }
        Target::Prefix(prefix) => {
            let prefix = service_segment(&prefix)?;
            if split_cluster(prefix).1.is_some() {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "an aggregate spans every cluster: no `@cluster` in its prefix".to_owned(),
                ));
            }
            state
                .checker
                .aggregate(prefix, check_segment(&check)?, reach)
                .await?
        }
    };
    Ok(render::respond(
        &request,
        &check,
        &answer,
        &state.config.shields_base,
        headers,
    ))
}

/// The window of a history URL (`24h`, `7d`, `30d`, `90d`, `1y`).
fn window_segment(value: &str) -> Result<Window, ApiError> {
    value
        .parse()
        .map_err(|err: kube_shields_history::UnknownWindow| {
            ApiError(StatusCode::BAD_REQUEST, err.to_string())
        })
}

/// A history query's `window`, `30d` when absent.
fn window_parameter(query: Option<&str>) -> Result<Window, ApiError> {
    let window = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "window")
        .map(|(_, value)| value.into_owned());
    window.map_or(Ok(Window::Month), |window| window_segment(&window))
}

/// The history a history route asks for: `check` of `service` over `window`, validated and
/// resolved like a badge (a peer's service from its cluster).
async fn history_of(
    state: &ServerState,
    service: &str,
    check: &str,
    window: Window,
    headers: &HeaderMap,
) -> Result<HistoryAnswer, ApiError> {
    let answer = state
        .checker
        .history(
            service_segment(service)?,
            check_segment(check)?,
            window,
            reach(headers),
        )
        .await?;
    Ok(answer)
}

/// `/_/<service>/<check>/uptime/<window>` and `/response-time/<window>`: a badge of the
/// check's history, in every format a badge has.
async fn history_badge_route(
    State(state): Shared,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((service, check, measure, window)) = path?;
    let measure = Measure::from_segment(&measure)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such route".to_owned()))?;
    let window = window_segment(&window)?;
    let request = badge_request(query.as_deref())?;
    let answer = history_of(&state, &service, &check, window, &headers).await?;
    let raw = || {
        let (available, body) = answer.raw(measure, window);
        (available, body.to_string())
    };
    let badge = answer.badge(measure, window);
    Ok(render::respond_badge(
        &request,
        &badge,
        raw,
        &state.config.shields_base,
        &headers,
    ))
}

/// `/_/<service>/<check>/history?window=30d`: the totals and the chart's buckets as JSON
/// (what peers read); `503` when the history cannot be read.
async fn history_route(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((service, check)) = path?;
    let window = window_parameter(query.as_deref())?;
    match history_of(&state, &service, &check, window, &headers).await? {
        HistoryAnswer::Report(report) => {
            let body = serde_json::to_string(&report).expect("a report serializes");
            Ok(render::rendered(
                StatusCode::OK,
                "application/json",
                body,
                None,
                &headers,
            ))
        }
        HistoryAnswer::Failed(text) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("history {text}"),
        )),
    }
}

/// `/_/<service>/<check>/chart.svg?window=30d`: one bar per hour (24 h, 7 d) or day, colored
/// by its uptime, with the numbers on hover.
async fn chart_route(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path((service, check)) = path?;
    let window = window_parameter(query.as_deref())?;
    let request = badge_request(query.as_deref())?;
    let answer = history_of(&state, &service, &check, window, &headers).await?;
    let label = format!("{check} {window}");
    let svg = kube_shields_badge::bar_chart(&label, &answer.bars());
    Ok(render::rendered(
        StatusCode::OK,
        "image/svg+xml",
        svg,
        request.params.cache_seconds(),
        &headers,
    ))
}

async fn services_route(State(state): Shared) -> impl IntoResponse {
    axum::Json(state.checker.service_names())
}

async fn service_route(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(name) = path?;
    let service = state.checker.service(service_segment(&name)?)?;
    Ok(axum::Json(service.check_names()).into_response())
}

async fn plugins_route(State(state): Shared) -> impl IntoResponse {
    axum::Json(state.checker.plugin_status())
}

async fn readyz_route(State(state): Shared) -> Response {
    let (pods_synced, plugins_loaded) = state.checker.readiness();
    let status = if pods_synced && plugins_loaded {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "pods_synced": pods_synced, "plugins_loaded": plugins_loaded });
    (status, axum::Json(body)).into_response()
}

/// `/metrics` in the format the scraper asks for: OpenMetrics when its `Accept` names it
/// (Prometheus does by default), else the Prometheus text format 0.0.4.
async fn metrics_route(State(state): Shared, headers: HeaderMap) -> impl IntoResponse {
    let open_metrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    let format = if open_metrics {
        MetricsFormat::OpenMetrics
    } else {
        MetricsFormat::Text
    };
    (
        [(header::CONTENT_TYPE, format.content_type())],
        state.checker.metrics_text(format),
    )
}

/// `/`: every cluster's services and checks (public mode only); see [`super::index`].
async fn index_route(
    State(state): Shared,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.config.mode == Mode::Private {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no index in private mode".to_owned(),
        ));
    }
    let query = query.unwrap_or_default();
    let parameter = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let filter = parameter("q").unwrap_or_default();
    let page = match parameter("page") {
        None => 1,
        Some(page) => page.parse().ok().filter(|page| *page >= 1).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("page must be a number from 1, not {page:?}"),
            )
        })?,
    };
    let state_filter = match parameter("state").filter(|value| !value.is_empty()) {
        None => None,
        Some(value) => Some(super::index::StateFilter::parse(&value).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "state must be problems, failing, warning, error, stale, unreachable, unknown or ok, not {value:?}"
                ),
            )
        })?),
    };
    Ok(super::index::respond(&state, &headers, &filter, state_filter, page).await)
}

/// A static asset of the index, cached for a while.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `/catalog`: this cluster's services with namespaces and checks, for peers; each entry names
/// the cluster (`"cluster"`) when `--cluster-name` is set.
async fn catalog_route(State(state): Shared) -> impl IntoResponse {
    let catalog = state.checker.catalog();
    let Some(cluster) = &state.config.cluster_name else {
        return axum::Json(serde_json::json!(catalog));
    };
    let named = catalog.into_iter().map(|entry| {
        let mut entry = serde_json::json!(entry);
        entry["cluster"] = serde_json::json!(cluster);
        entry
    });
    axum::Json(serde_json::Value::Array(named.collect()))
}

/// `/peers`: each peer's state, for operators (always signed, like `/plugins`).
async fn peers_route(State(state): Shared) -> impl IntoResponse {
    axum::Json(state.checker.peers().status())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::server::Mode;

    /// Every route and who may call it: a new route fails this test until it is listed here,
    /// with its access chosen on purpose.
    #[test]
    fn every_route_says_who_may_call_it() {
        use Access::{Operator, Probe, Read};
        let expected = BTreeMap::from([
            ("/", Read),
            ("/_/{service}/{check}", Read),
            ("/_/{service}/{check}/", Read),
            ("/_/{service}/{check}/{measure}/{window}", Read),
            ("/_/{service}/{check}/{measure}/{window}/", Read),
            ("/_/{service}/{check}/history", Read),
            ("/_/{service}/{check}/chart.svg", Read),
            ("/a/{prefix}/{check}", Read),
            ("/a/{prefix}/{check}/", Read),
            (CATALOG_PATH, Read),
            ("/healthz", Probe),
            ("/index.css", Read),
            ("/index.js", Read),
            ("/metrics", Read),
            ("/peers", Operator),
            ("/plugins", Operator),
            ("/readyz", Probe),
            ("/services", Read),
            ("/services/", Read),
            ("/services/{name}", Read),
            ("/services/{name}/", Read),
        ]);
        assert_eq!(declared().all(), expected);
    }

    /// Who needs a signature, by access and mode (a request no route matches is signed as a read:
    /// `route_tests::each_route_is_signed_as_its_group_says`).
    #[test]
    fn signatures_by_access_and_mode() {
        let public = Mode::Public { peers: Vec::new() };
        let cases = [
            (Access::Probe, [false, false, false]),
            (Access::Read, [true, false, false]),
            (Access::Operator, [true, true, false]),
        ];
        for (access, [private, public_mode, dev]) in cases {
            assert_eq!(
                access.needs_signature(&Mode::Private),
                private,
                "{access:?}"
            );
            assert_eq!(access.needs_signature(&public), public_mode, "{access:?}");
            assert_eq!(access.needs_signature(&Mode::Dev), dev, "{access:?}");
        }
    }
}
