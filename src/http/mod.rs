//! The HTTP API (axum), the only module that knows HTTP.
//!
//! [`router`] builds the whole service from an `AppState`; tests drive it in-process with
//! `oneshot`. Layers around the whole service, outermost first: panic catcher (500), request
//! span and metrics, error shaping (every error body is `{ "error": { "code", "message",
//! "parameter" } }`), CORS, compression, load shedding above the concurrency limit (429),
//! timeout (503), body size limit (413).

pub(crate) mod auth;
pub(crate) mod capacity;
pub(crate) mod error;
pub(crate) mod fhir;
pub(crate) mod geojson;
pub(crate) mod handlers;
pub mod mvt;
pub(crate) mod page;
pub(crate) mod quality;
pub mod server;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::ErrorCode;
use crate::serve::{ServeConfig, SnapshotHandle};
use error::AppError;

/// Every route the service answers: `(method, path)`. The OpenAPI document lists exactly these
/// (checked by a test).
pub const ROUTES: [(&str, &str); 32] = [
    ("get", "/v1/offers"),
    ("get", "/v1/offers/{id}"),
    ("get", "/v1/clusters"),
    ("get", TILE_ROUTE),
    ("get", "/v1/eg/{finess}"),
    ("get", "/v1/crisis"),
    ("get", "/v1/communes"),
    ("get", "/v1/snapshot"),
    ("get", "/v1/version"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/admin/reload"),
    ("post", "/admin/rollback"),
    ("patch", "/fhir/Location"),
    ("patch", "/ws-synchro-dispo-lits-fhir/Location"),
    ("patch", "/fhir/Location/{id}"),
    ("post", "/v1/capacity"),
    ("get", "/v1/quality"),
    ("get", "/v1/quality/eg/{finess}"),
    ("get", "/fhir/metadata"),
    ("get", "/fhir/HealthcareService"),
    ("get", "/fhir/HealthcareService/{id}"),
    ("get", "/fhir/Location"),
    ("get", "/fhir/Location/{id}"),
    ("get", "/fhir/Organization"),
    ("get", "/fhir/Organization/{id}"),
    ("get", "/fhir/$export"),
    ("get", "/fhir/$export-poll-status"),
    ("delete", "/fhir/$export-poll-status"),
    ("get", "/fhir/$export-file/{job}/{file}"),
];

/// The vector-tile route, as documented.
pub const TILE_ROUTE: &str = "/v1/tiles/{z}/{x}/{y}.mvt";

/// The vector-tile route as axum matches it: its router (matchit 0.8) takes no suffix after a
/// parameter, so the last segment is `{y}` and the handler requires the `.mvt` itself.
const TILE_ROUTE_MATCHED: &str = "/v1/tiles/{z}/{x}/{y}";

/// The template of [`ROUTES`] that a path axum matched stands for.
pub(crate) fn route_template(matched: &str) -> Option<&'static str> {
    if matched == TILE_ROUTE_MATCHED {
        return Some(TILE_ROUTE);
    }
    ROUTES.iter().map(|(_, route)| *route).find(|route| *route == matched)
}

/// What every handler can reach: one pointer, cloned by each middleware with state on each
/// request.
#[derive(Clone)]
pub(crate) struct AppState(Arc<AppParts>);

impl std::ops::Deref for AppState {
    type Target = AppParts;
    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub(crate) struct AppParts {
    pub(crate) handle: Arc<SnapshotHandle>,
    pub(crate) openapi: Arc<utoipa::openapi::OpenApi>,
    /// Threads for the requests that take milliseconds, below the workers' priority.
    pub(crate) heavy: Arc<crate::serve::heavy::HeavyPool>,
    /// Who may call (swapped whole when the access file changes).
    pub(crate) access: auth::SharedPolicy,
    /// The audit log, when one is configured.
    pub(crate) audit: Option<crate::auth::audit::AuditLog>,
    /// The FHIR facade's base URL settings and export jobs.
    pub(crate) fhir: Arc<fhir::FhirState>,
    /// The map page as this deployment serves it.
    pub(crate) page: Arc<page::Page>,
}

/// The access policy of a configuration: its access file, or the open policy (anonymous
/// callers get profile 0) without one; the admin token in both.
pub fn access_policy(config: &ServeConfig) -> Result<crate::auth::AccessPolicy, crate::auth::AccessFileError> {
    match &config.access_file {
        Some(path) => crate::auth::AccessPolicy::read(path, config.admin_token.as_deref()),
        None => Ok(crate::auth::AccessPolicy::open(config.admin_token.as_deref())),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ror-search",
        description = "Offer search engine over the French ROR (Répertoire Opérationnel des Ressources): orientation, map, nearest-capacity and text queries. Units: WGS84 degrees, metres (`_m`) or kilometres (`_km`), euro cents (`_cents`) or euros (`_eur`), years.",
    ),
    paths(handlers::tile),
    modifiers(&BearerSecurity, &TileParameters),
    tags((name = "ror-search"))
)]
struct ApiDoc;

/// The tile route takes every `/v1/offers` parameter but `bbox` (the tile is the box).
struct TileParameters;

impl utoipa::Modify for TileParameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operation = openapi.paths.paths.get_mut(TILE_ROUTE).and_then(|item| item.get.as_mut());
        if let Some(parameters) = operation.and_then(|operation| operation.parameters.as_mut()) {
            use utoipa::openapi::RefOr;
            parameters.retain(|parameter| !matches!(parameter, RefOr::T(parameter) if parameter.name == "bbox"));
        }
    }
}

struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The routes and their OpenAPI description, without state.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::offers))
        .routes(routes!(handlers::clusters))
        // documented in `ApiDoc` under `TILE_ROUTE`
        .route(TILE_ROUTE_MATCHED, axum::routing::get(handlers::tile))
        .routes(routes!(handlers::offer))
        .routes(routes!(handlers::eg))
        .routes(routes!(handlers::crisis))
        .routes(routes!(handlers::communes))
        .routes(routes!(handlers::snapshot))
        .routes(routes!(handlers::version))
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::readyz))
        .routes(routes!(handlers::metrics))
        .routes(routes!(handlers::openapi))
        .routes(routes!(handlers::admin_reload))
        .routes(routes!(handlers::admin_rollback))
        .routes(routes!(capacity::patch_by_identifier))
        .routes(routes!(capacity::patch_by_identifier_ws))
        .routes(routes!(capacity::patch_by_id))
        .routes(routes!(capacity::post_capacity))
        .routes(routes!(quality::quality))
        .routes(routes!(quality::quality_eg))
        .routes(routes!(fhir::metadata))
        .routes(routes!(fhir::search_healthcare_service))
        .routes(routes!(fhir::read_healthcare_service))
        .routes(routes!(fhir::search_location))
        .routes(routes!(fhir::read_location))
        .routes(routes!(fhir::search_organization))
        .routes(routes!(fhir::read_organization))
        .routes(routes!(fhir::export_kick_off))
        .routes(routes!(fhir::export_status))
        .routes(routes!(fhir::export_cancel))
        .routes(routes!(fhir::export_file))
}

/// The OpenAPI document of the service.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// The whole service. An access file that cannot be read leaves the service closed (every
/// authenticated route refused) until it is fixed; `serve` checks it before starting.
pub fn router(handle: Arc<SnapshotHandle>, config: Arc<ServeConfig>) -> axum::Router {
    let policy = access_policy(&config).unwrap_or_else(|error| {
        tracing::error!(%error, "access file refused: every authenticated route is closed");
        crate::auth::AccessPolicy::closed()
    });
    let audit = config.audit_log.as_deref().and_then(|path| {
        crate::auth::audit::AuditLog::open(path)
            .map_err(|error| tracing::error!(path = %path.display(), %error, "audit log cannot be opened"))
            .ok()
    });
    router_with(handle, config, Arc::new(arc_swap::ArcSwap::from_pointee(policy)), audit)
}

/// [`router`] with the policy handle (swapped by the access-file watcher) and the audit log.
pub(crate) fn router_with(
    handle: Arc<SnapshotHandle>,
    config: Arc<ServeConfig>,
    access: auth::SharedPolicy,
    audit: Option<crate::auth::audit::AuditLog>,
) -> axum::Router {
    let (router, openapi) = routes().split_for_parts();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let state = AppState(Arc::new(AppParts {
        handle,
        openapi: Arc::new(openapi),
        heavy: Arc::new(crate::serve::heavy::HeavyPool::new(threads)),
        access,
        audit,
        fhir: Arc::new(fhir::FhirState::new(&config)),
        page: Arc::new(page::Page::new(&config)),
    }));
    let inner = router
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::gate))
        // The page is public (its calls to the API carry the user's key): after the gate.
        .route(page::PAGE_ROUTES[0], axum::routing::get(page::index))
        .route(page::PAGE_ROUTES[1], axum::routing::get(page::asset))
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(config.max_batch_bytes.max(config.max_body_bytes)))
        .with_state(state.clone());
    // Limits apply to the whole service (a layer on the router would wrap each route apart).
    let service = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(config.tls.is_some(), auth::security_headers))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state, observe))
        .layer(middleware::from_fn(shape_errors))
        .option_layer(cors_layer(&config.cors_origins))
        .layer(
            // Fastest: a page of results compresses 10-15x even so, and the default levels
            // cost several times the query itself.
            CompressionLayer::new().gzip(true).br(true).quality(tower_http::CompressionLevel::Fastest),
        )
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async { AppError::of(ErrorCode::TooManyRequests) }))
        .load_shed()
        .concurrency_limit(config.concurrency_limit)
        .layer(middleware::from_fn_with_state(
            BodyLimits {
                body_bytes: config.max_body_bytes,
                batch_bytes: config.max_batch_bytes,
                read_timeout: Duration::from_millis(config.body_read_timeout_ms),
            },
            limit_body,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(config.request_timeout_ms),
        ))
        .service(inner);
    axum::Router::new().fallback_service(service)
}

/// The answer to a request whose handler panicked: `internal`, the details in the log.
fn panic_response(_: Box<dyn std::any::Any + Send>) -> Response {
    AppError::internal("handler panicked").into_response()
}

/// The route template of a path, for metrics and logs.
pub(crate) fn route_label(path: &str) -> &'static str {
    if let Some((_, route)) = ROUTES.iter().find(|(_, route)| *route == path) {
        return route;
    }
    match path {
        path if path.starts_with("/v1/offers/") && path.len() > "/v1/offers/".len() => "/v1/offers/{id}",
        path if path.starts_with("/v1/eg/") && path.len() > "/v1/eg/".len() => "/v1/eg/{finess}",
        path if path.starts_with("/v1/tiles/") => TILE_ROUTE,
        path if path.starts_with("/fhir/Location/") && path.len() > "/fhir/Location/".len() => "/fhir/Location/{id}",
        path if path.starts_with("/fhir/HealthcareService/") && path.len() > "/fhir/HealthcareService/".len() => {
            "/fhir/HealthcareService/{id}"
        }
        path if path.starts_with("/fhir/Organization/") && path.len() > "/fhir/Organization/".len() => {
            "/fhir/Organization/{id}"
        }
        "/" => page::PAGE_ROUTES[0],
        path if path.starts_with("/assets/") => page::PAGE_ROUTES[1],
        path if path.starts_with("/fhir/$export-file/") => "/fhir/$export-file/{job}/{file}",
        path if path.starts_with("/v1/quality/eg/") && path.len() > "/v1/quality/eg/".len() => {
            "/v1/quality/eg/{finess}"
        }
        _ => "unmatched",
    }
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|origin| origin == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::HeaderName::from_static("x-api-key")]),
    )
}

/// No such route: the API's JSON error, or an `OperationOutcome` under the FHIR base.
async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/fhir/") || uri.path() == "/fhir" {
        let body = crate::fhir::outcome("not-supported", &format!("{} is not served here", uri.path()), None);
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+json; charset=utf-8"))],
            body.to_string(),
        )
            .into_response();
    }
    AppError::of(ErrorCode::NotFound).into_response()
}

/// The limits of request bodies.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    /// Every route but `POST /v1/capacity`, bytes.
    body_bytes: usize,
    /// `POST /v1/capacity`, bytes.
    batch_bytes: usize,
    /// The whole body must arrive within this.
    read_timeout: Duration,
}

/// Limits request bodies: `batch_bytes` for `POST /v1/capacity`, `body_bytes` for every other
/// route. A declared length over the limit is refused at once; a streamed body is cut there. A
/// body that has not arrived within `read_timeout` fails its reading, and the answer is 408.
async fn limit_body(State(limits): State<BodyLimits>, request: Request, next: Next) -> Response {
    let limit = if request.uri().path() == "/v1/capacity" { limits.batch_bytes } else { limits.body_bytes };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return AppError::of(ErrorCode::PayloadTooLarge).into_response();
    }
    if axum::body::HttpBody::size_hint(request.body()).exact() == Some(0) {
        return next.run(request).await; // nothing to wait for (every GET)
    }
    let state = Arc::new(BodyState::default());
    let request = request.map(|body| {
        Body::new(TimedBody {
            inner: http_body_util::Limited::new(body, limit),
            deadline: Box::pin(tokio::time::sleep(limits.read_timeout)),
            state: state.clone(),
        })
    });
    let response = next.run(request).await;
    // Inside the request timeout's 503 too: a body still arriving is the client's slowness.
    let still_arriving = state.reading.load(Relaxed) && !state.done.load(Relaxed);
    if state.timed_out.load(Relaxed) || (response.status() == StatusCode::SERVICE_UNAVAILABLE && still_arriving) {
        return AppError::of(ErrorCode::RequestTimeout).into_response();
    }
    response
}

/// What became of a request body.
#[derive(Debug, Default)]
struct BodyState {
    /// The handler began reading it.
    reading: AtomicBool,
    /// It ended (or failed).
    done: AtomicBool,
    /// Its deadline passed.
    timed_out: AtomicBool,
}

/// A request body that fails once its deadline passes (and tells `state`).
struct TimedBody<B> {
    inner: B,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    state: Arc<BodyState>,
}

impl<B> axum::body::HttpBody for TimedBody<B>
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Unpin,
    B::Error: Into<tower::BoxError>,
{
    type Data = axum::body::Bytes;
    type Error = tower::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        self.state.reading.store(true, Relaxed);
        if let Poll::Ready(frame) = std::pin::Pin::new(&mut self.inner).poll_frame(context) {
            if !matches!(frame, Some(Ok(_))) {
                self.state.done.store(true, Relaxed);
            }
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(context).is_ready() {
            self.state.timed_out.store(true, Relaxed);
            self.state.done.store(true, Relaxed);
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Gives every error response made outside the handlers (413 from the body limit, 405 from
/// the router, 503 from the timeout) the API's JSON error shape.
async fn shape_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json") || value.starts_with("application/fhir+json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        return AppError::of(ErrorCode::for_foreign_status(status.as_u16())).into_response();
    }
    response
}

/// A span per request, and the request metrics.
async fn observe(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    let route = route_label(request.uri().path());
    // The span is at debug level: at the default level it is disabled and formats nothing;
    // a failing request's error names the request itself.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let span = tracing::debug_span!("request", %method, route = %route, %uri);
    let started = Instant::now();
    let response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.handle.metrics.observe(route, status, seconds);
    span.in_scope(|| {
        let micros = (seconds * 1e6) as u64;
        if status >= 500 {
            tracing::error!(%method, route, %uri, status, micros, "request failed");
        } else {
            tracing::debug!(status, micros, "request");
        }
    });
    response
}

/// SIGHUP: reads the access file again and looks for a newer snapshot.
async fn reload_on_sighup(handle: Arc<SnapshotHandle>, access: auth::SharedPolicy, config: Arc<ServeConfig>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            if config.access_file.is_some() {
                server::reload_access(&access, &config);
            }
            tracing::info!("SIGHUP: looking for a newer snapshot");
            let candidate = handle.newest_candidate(true);
            if candidate.is_some() {
                let _ = handle.reload(candidate).await;
            } else {
                tracing::info!("no other snapshot in the index");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (handle, access, config);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_an_internal_error_with_the_json_shape() {
        use tower::ServiceExt;
        async fn buggy() -> &'static str {
            panic!("a bug")
        }
        let router = axum::Router::new()
            .route("/panic", axum::routing::get(buggy))
            .layer(CatchPanicLayer::custom(panic_response));
        let response = router.oneshot(Request::builder().uri("/panic").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status().as_u16(), ErrorCode::Internal.status());
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], ErrorCode::Internal.as_str());
        assert_eq!(body["error"]["message"], "internal error (logged)", "no detail leaks");
    }
}
