//! The FHIR R4 facade's routes (`crate::fhir` does the work): `GET /fhir/metadata`, reads and
//! searches of HealthcareService, Location and Organization, and Bulk Data `$export` (kick-off,
//! status, files, cancellation). Every answer is `application/fhir+json` (NDJSON for the
//! export files), every error an `OperationOutcome`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::auth::CallerExt;
use crate::fhir::export::{ExportFile, ExportRequest};
use crate::fhir::{Facade, Handling, SearchError, SearchErrorKind, SearchRequest};
use crate::ingest::fhir::write::ResourceType;
use crate::serve::Loaded;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// What the FHIR routes share: where the service is reached, and the export jobs.
pub(crate) struct FhirState {
    /// `public_url` of the configuration (no trailing slash).
    public_url: Option<String>,
    tls: bool,
    exports: Exports,
}

impl FhirState {
    pub(crate) fn new(config: &crate::serve::ServeConfig) -> FhirState {
        let dir = config
            .export_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("ror-search-exports-{}", std::process::id())));
        FhirState {
            public_url: config.public_url.clone(),
            tls: config.tls.is_some(),
            exports: Exports { dir, jobs: Mutex::new(HashMap::new()) },
        }
    }
}

/// The FHIR base URL of a request: the configured public URL, else the `Host` it was sent to.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.fhir.public_url {
        return format!("{url}/fhir");
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = if state.fhir.tls { "https" } else { "http" };
    format!("{scheme}://{host}/fhir")
}

fn fhir_json(status: StatusCode, value: &Value) -> Response {
    let mut body = Vec::with_capacity(4096);
    if let Err(error) = sonic_rs::to_writer(&mut body, value) {
        return outcome_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            &format!("serialisation: {error}"),
            None,
        );
    }
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))], body).into_response()
}

fn outcome_response(status: StatusCode, code: &str, diagnostics: &str, expression: Option<&str>) -> Response {
    fhir_json(status, &crate::fhir::outcome(code, diagnostics, expression))
}

fn search_error(error: &SearchError) -> Response {
    let (status, body) = crate::fhir::error_outcome(error);
    fhir_json(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), &body)
}

fn not_ready() -> Response {
    outcome_response(StatusCode::SERVICE_UNAVAILABLE, "transient", "no snapshot is loaded yet", None)
}

fn pairs(query: &Option<String>) -> Result<Vec<(String, String)>, Box<Response>> {
    match query.as_deref().map(crate::api::decode_query).transpose() {
        Ok(pairs) => Ok(pairs.unwrap_or_default()),
        Err(error) => Err(Box::new(outcome_response(StatusCode::BAD_REQUEST, "invalid", &error.message, None))),
    }
}

/// Whether a `Prefer` header asks for `what` (`handling=strict`).
fn prefers(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split([',', ';']).any(|part| part.trim().eq_ignore_ascii_case(what)))
}

fn handling(headers: &HeaderMap) -> Handling {
    if prefers(headers, "handling=strict") { Handling::Strict } else { Handling::Lenient }
}

/// The server's CapabilityStatement.
#[utoipa::path(get, path = "/fhir/metadata", responses(
    (status = 200, description = "CapabilityStatement: resources, interactions, search parameters, includes, `$export`", content_type = "application/fhir+json", body = Object),
))]
pub(crate) async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let built_at = state.handle.current().map_or_else(
        || crate::util::time::format_rfc3339(crate::util::time::now()),
        |loaded| crate::util::time::format_rfc3339(loaded.engine.manifest().built_at_unix),
    );
    fhir_json(StatusCode::OK, &crate::fhir::capability::capability_statement(&base_url(&state, &headers), &built_at))
}

async fn search(
    state: AppState,
    caller: CallerExt,
    headers: HeaderMap,
    query: Option<String>,
    resource: ResourceType,
) -> Response {
    let pairs = match pairs(&query) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(current) = state.handle.current() else { return not_ready() };
    let base = base_url(&state, &headers);
    let profiles = caller.profiles;
    let handle = state.handle.clone();
    let strictness = handling(&headers);
    state
        .heavy
        .run(move || {
            let request = match SearchRequest::parse(&current.engine, resource, &pairs, strictness, profiles) {
                Ok(request) => request,
                Err(error) => return search_error(&error),
            };
            let loaded = match &request.cursor_snapshot {
                Some(snapshot) if *snapshot != current.engine.manifest().snapshot_id => match handle.held(snapshot) {
                    Some(loaded) => loaded,
                    None => {
                        return search_error(&SearchError {
                            parameter: "_cursor".into(),
                            message: format!(
                                "the cursor belongs to snapshot {snapshot}, which this server no longer holds: run the search again"
                            ),
                            kind: SearchErrorKind::Gone,
                        });
                    }
                },
                _ => current,
            };
            let facade = Facade { engine: &loaded.engine, index: loaded.fhir_index(), base: &base };
            fhir_json(StatusCode::OK, &facade.search(&request, profiles))
        })
        .await
}

async fn read(
    state: AppState,
    caller: CallerExt,
    query: Option<String>,
    resource: ResourceType,
    id: String,
) -> Response {
    let pairs = match pairs(&query) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !matches!(name.as_str(), "_format" | "_pretty")) {
        return outcome_response(
            StatusCode::BAD_REQUEST,
            "not-supported",
            &format!("a read takes no parameter {name:?}"),
            Some(name),
        );
    }
    let Some(loaded) = state.handle.current() else { return not_ready() };
    let facade = Facade { engine: &loaded.engine, index: loaded.fhir_index(), base: "" };
    match facade.read(resource, &id, caller.profiles) {
        Some(value) => {
            let mut response = fhir_json(StatusCode::OK, &value);
            let version = match resource {
                ResourceType::Location => loaded
                    .engine
                    .location_by_id(&id)
                    .map_or(0, |location| loaded.engine.live_view().version_of(location).0),
                _ => 0,
            };
            let snapshot = &loaded.engine.manifest().snapshot_id;
            if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{snapshot}-{version}\"")) {
                response.headers_mut().insert(header::ETAG, etag);
            }
            response
        }
        None => outcome_response(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("{}/{id} is not known", resource.name()),
            Some(resource.name()),
        ),
    }
}

macro_rules! type_routes {
    ($search:ident, $read:ident, $type:expr, $name:literal) => {
        #[doc = concat!("FHIR search on ", $name, " (the parameters of `GET /fhir/metadata`).")]
        #[utoipa::path(get, path = concat!("/fhir/", $name), responses(
            (status = 200, description = "searchset Bundle with an exact total and paging links", content_type = "application/fhir+json", body = Object),
            (status = 400, description = "OperationOutcome: a bad value, an unsupported modifier (or parameter, with `Prefer: handling=strict`)", content_type = "application/fhir+json", body = Object),
            (status = 403, description = "OperationOutcome: a parameter the caller's access profile may not use", content_type = "application/fhir+json", body = Object),
            (status = 410, description = "OperationOutcome: a paging cursor of a snapshot no longer held", content_type = "application/fhir+json", body = Object),
        ))]
        pub(crate) async fn $search(
            State(state): State<AppState>,
            caller: CallerExt,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
        ) -> Response {
            search(state, caller, headers, query, $type).await
        }

        #[doc = concat!("FHIR read of one ", $name, ".")]
        #[utoipa::path(get, path = concat!("/fhir/", $name, "/{id}"), params(("id" = String, Path, description = "logical id")), responses(
            (status = 200, description = "the resource (ROR profile), masked by the caller's access profile", content_type = "application/fhir+json", body = Object),
            (status = 404, description = "OperationOutcome `not-found`", content_type = "application/fhir+json", body = Object),
        ))]
        pub(crate) async fn $read(
            State(state): State<AppState>,
            caller: CallerExt,
            Path(id): Path<String>,
            RawQuery(query): RawQuery,
        ) -> Response {
            read(state, caller, query, $type, id).await
        }
    };
}

type_routes!(search_healthcare_service, read_healthcare_service, ResourceType::HealthcareService, "HealthcareService");
type_routes!(search_location, read_location, ResourceType::Location, "Location");
type_routes!(search_organization, read_organization, ResourceType::Organization, "Organization");

/// The export jobs of the service.
struct Exports {
    dir: PathBuf,
    jobs: Mutex<HashMap<String, Arc<ExportJob>>>,
}

/// At most this many exports run at once.
const MAX_RUNNING_EXPORTS: usize = 2;
/// A finished export's files are kept this long, seconds.
const EXPORT_TTL_SECS: i64 = 3600;

struct ExportJob {
    id: String,
    /// The caller that asked; only it may poll and download.
    owner: Arc<str>,
    authenticated: bool,
    request_url: String,
    transaction_time: String,
    dir: PathBuf,
    cancel: AtomicBool,
    progress: AtomicU64,
    /// Resources the snapshot holds of the exported types (an upper bound of the export).
    expected: u64,
    state: Mutex<JobState>,
}

enum JobState {
    Running,
    Done { files: Vec<ExportFile>, finished_at: i64 },
    Failed(String),
}

impl Exports {
    /// Forgets finished jobs past their time, and deletes their files.
    fn expire(&self) {
        let now = crate::util::time::now();
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.retain(|_, job| {
            let keep = match &*job.state.lock().unwrap_or_else(PoisonError::into_inner) {
                JobState::Done { finished_at, .. } => now - finished_at < EXPORT_TTL_SECS,
                JobState::Failed(_) | JobState::Running => true,
            };
            if !keep {
                let _ = std::fs::remove_dir_all(&job.dir);
            }
            keep
        });
    }

    fn job(&self, id: &str, caller: &crate::auth::Caller) -> Option<Arc<ExportJob>> {
        let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.get(id).filter(|job| *job.owner == *caller.name).cloned()
    }
}

/// Bulk Data kick-off (always asynchronous: `Prefer: respond-async` is optional at the ROR,
/// and accepted here with or without it): the whole offer (or `_type`, `_since`, `_typeFilter`) of the current
/// snapshot, masked by the caller's profile, written in the background.
#[utoipa::path(get, path = "/fhir/$export", responses(
    (status = 202, description = "Accepted: `Content-Location` is the status URL to poll"),
    (status = 400, description = "OperationOutcome: a bad parameter", content_type = "application/fhir+json", body = Object),
    (status = 429, description = "OperationOutcome: too many exports running", content_type = "application/fhir+json", body = Object),
))]
pub(crate) async fn export_kick_off(
    State(state): State<AppState>,
    caller: CallerExt,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = match pairs(&query) {
        Ok(pairs) => pairs,
        Err(response) => return *response,
    };
    let Some(loaded) = state.handle.current() else { return not_ready() };
    let base = base_url(&state, &headers);
    let exports = &state.fhir.exports;
    exports.expire();
    let running = exports
        .jobs
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .filter(|job| matches!(*job.state.lock().unwrap_or_else(PoisonError::into_inner), JobState::Running))
        .count();
    if running >= MAX_RUNNING_EXPORTS {
        let mut response = outcome_response(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            &format!("{running} exports are running; try again when one is done"),
            None,
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return response;
    }
    let profiles = caller.profiles;
    let request = {
        let facade = Facade { engine: &loaded.engine, index: loaded.fhir_index(), base: &base };
        match ExportRequest::parse(&facade, &pairs, profiles) {
            Ok(request) => request,
            Err(error) => return search_error(&error),
        }
    };
    let id = crate::util::random_hex(16);
    let dataset = &loaded.engine.data().dataset;
    let expected = request
        .types
        .iter()
        .map(|resource_type| match resource_type {
            ResourceType::HealthcareService => dataset.offers.len(),
            ResourceType::Location => dataset.locations.len(),
            ResourceType::Organization => dataset.ejs.len() + dataset.egs.len(),
        } as u64)
        .sum();
    let job = Arc::new(ExportJob {
        id: id.clone(),
        owner: caller.name.clone(),
        authenticated: caller.method != crate::auth::Method::Anonymous,
        request_url: format!("{base}/$export{}", query.as_deref().map(|q| format!("?{q}")).unwrap_or_default()),
        transaction_time: crate::util::time::format_rfc3339(crate::util::time::now()),
        dir: exports.dir.join(&id),
        cancel: AtomicBool::new(false),
        progress: AtomicU64::new(0),
        expected,
        state: Mutex::new(JobState::Running),
    });
    exports.jobs.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), job.clone());
    let worker_job = job.clone();
    let spawned = std::thread::Builder::new().name(format!("export-{}", &id[..8])).spawn(move || {
        run_export(&loaded, &base, &request, profiles, &worker_job);
    });
    if let Err(error) = spawned {
        *job.state.lock().unwrap_or_else(PoisonError::into_inner) = JobState::Failed(format!("cannot start: {error}"));
    }
    let status_url = format!("{}/$export-poll-status?_jobId={id}", base_url(&state, &headers));
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(value) = HeaderValue::from_str(&status_url) {
        response.headers_mut().insert(header::CONTENT_LOCATION, value);
    }
    response
}

fn run_export(
    loaded: &Loaded,
    base: &str,
    request: &ExportRequest,
    profiles: crate::model::access::ProfileSet,
    job: &ExportJob,
) {
    let started = std::time::Instant::now();
    let facade = Facade { engine: &loaded.engine, index: loaded.fhir_index(), base };
    let result = crate::fhir::export::write_export(&facade, request, profiles, &job.dir, &job.cancel, &job.progress);
    let state = match result {
        Ok(files) => {
            tracing::info!(
                job = %job.id,
                resources = job.progress.load(Ordering::Relaxed),
                seconds = started.elapsed().as_secs_f64(),
                "export written"
            );
            JobState::Done { files, finished_at: crate::util::time::now() }
        }
        Err(error) => {
            tracing::warn!(job = %job.id, %error, "export stopped");
            let _ = std::fs::remove_dir_all(&job.dir);
            JobState::Failed(error.to_string())
        }
    };
    *job.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
}

fn job_id(query: &Option<String>) -> Result<String, Box<Response>> {
    let pairs = pairs(query)?;
    pairs.into_iter().find(|(name, _)| name == "_jobId").map(|(_, id)| id).ok_or_else(|| {
        Box::new(outcome_response(
            StatusCode::BAD_REQUEST,
            "required",
            "the _jobId parameter is required",
            Some("_jobId"),
        ))
    })
}

fn unknown_job(id: &str) -> Response {
    outcome_response(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("no export job {id:?} (unknown, expired, or another caller's)"),
        None,
    )
}

/// Bulk Data status: 202 with `X-Progress` while running, then the manifest.
#[utoipa::path(get, path = "/fhir/$export-poll-status", params(("_jobId" = String, Query, description = "the job, from the kick-off's Content-Location")), responses(
    (status = 200, description = "Done: the manifest (transactionTime, request, output files by type with counts)", body = Object),
    (status = 202, description = "Running: `X-Progress`, `Retry-After`"),
    (status = 404, description = "OperationOutcome: no such job", content_type = "application/fhir+json", body = Object),
))]
pub(crate) async fn export_status(
    State(state): State<AppState>,
    caller: CallerExt,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let id = match job_id(&query) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    state.fhir.exports.expire();
    let Some(job) = state.fhir.exports.job(&id, &caller) else { return unknown_job(&id) };
    let base = base_url(&state, &headers);
    let job_state = job.state.lock().unwrap_or_else(PoisonError::into_inner);
    match &*job_state {
        JobState::Running => {
            let mut response = StatusCode::ACCEPTED.into_response();
            let progress =
                format!("{} of at most {} resources written", job.progress.load(Ordering::Relaxed), job.expected);
            if let Ok(value) = HeaderValue::from_str(&progress) {
                response.headers_mut().insert("x-progress", value);
            }
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        JobState::Failed(message) => outcome_response(StatusCode::INTERNAL_SERVER_ERROR, "exception", message, None),
        JobState::Done { files, .. } => {
            let output: Vec<Value> = files
                .iter()
                .map(|file| {
                    json!({
                        "type": file.resource_type,
                        "url": format!("{base}/$export-file/{}/{}", job.id, file.name),
                        "count": file.count,
                        "extension": {"sha256": file.sha256, "bytes": file.bytes},
                    })
                })
                .collect();
            let manifest = json!({
                "transactionTime": job.transaction_time,
                "request": job.request_url,
                "requiresAccessToken": job.authenticated,
                "output": output,
                "error": [],
            });
            let mut response = fhir_json(StatusCode::OK, &manifest);
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let expires = crate::util::time::format_rfc3339(crate::util::time::now() + EXPORT_TTL_SECS);
            if let Ok(value) = HeaderValue::from_str(&expires) {
                response.headers_mut().insert(header::EXPIRES, value);
            }
            response
        }
    }
}

/// Bulk Data cancellation (or deletion of a finished export's files).
#[utoipa::path(delete, path = "/fhir/$export-poll-status", params(("_jobId" = String, Query, description = "the job")), responses(
    (status = 202, description = "Cancelled, files deleted"),
    (status = 404, description = "OperationOutcome: no such job", content_type = "application/fhir+json", body = Object),
))]
pub(crate) async fn export_cancel(
    State(state): State<AppState>,
    caller: CallerExt,
    RawQuery(query): RawQuery,
) -> Response {
    let id = match job_id(&query) {
        Ok(id) => id,
        Err(response) => return *response,
    };
    let Some(job) = state.fhir.exports.job(&id, &caller) else { return unknown_job(&id) };
    job.cancel.store(true, Ordering::Relaxed);
    state.fhir.exports.jobs.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    let running = matches!(*job.state.lock().unwrap_or_else(PoisonError::into_inner), JobState::Running);
    if !running {
        let _ = std::fs::remove_dir_all(&job.dir);
    } // a running job deletes its own files when it sees the cancellation
    StatusCode::ACCEPTED.into_response()
}

/// One file of a finished export, streamed (`application/fhir+ndjson`).
#[utoipa::path(get, path = "/fhir/$export-file/{job}/{file}", params(
    ("job" = String, Path, description = "the job"),
    ("file" = String, Path, description = "the file name of the manifest's url"),
), responses(
    (status = 200, description = "NDJSON, one resource a line", content_type = "application/fhir+ndjson"),
    (status = 404, description = "OperationOutcome: no such file", content_type = "application/fhir+json", body = Object),
))]
pub(crate) async fn export_file(
    State(state): State<AppState>,
    caller: CallerExt,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let Some(job) = state.fhir.exports.job(&id, &caller) else { return unknown_job(&id) };
    let file = {
        let job_state = job.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*job_state {
            JobState::Done { files, .. } => files.iter().find(|file| file.name == name).cloned(),
            _ => None,
        }
    };
    let Some(file) = file else {
        return outcome_response(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("export {id} has no file {name:?}"),
            None,
        );
    };
    match tokio::fs::File::open(job.dir.join(&file.name)).await {
        Ok(handle) => {
            let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(handle, 1 << 16));
            let mut response = (StatusCode::OK, body).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/fhir+ndjson"));
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.bytes));
            response
        }
        Err(error) => {
            outcome_response(StatusCode::INTERNAL_SERVER_ERROR, "exception", &format!("export file: {error}"), None)
        }
    }
}
