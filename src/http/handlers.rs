//! Route handlers. Each takes one snapshot for the whole request and names it in the answer.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::IntoParams;

use super::error::AppError;
use super::{AppState, geojson};
use crate::engine::request::{CrisisRequest, ParamError, SearchRequest};
use crate::serve::Loaded;

/// Parses a query string into pairs (percent-decoded).
fn pairs(query: &Option<String>) -> Vec<(String, String)> {
    query
        .as_deref()
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn current(state: &AppState) -> Result<Arc<Loaded>, AppError> {
    state.handle.current().ok_or_else(AppError::not_ready)
}

/// The parameters of `GET /v1/offers` (documentation; parsing is `SearchRequest::from_pairs`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct OffersParams {
    /// Latitude of the centre, WGS84 degrees [-90, 90] (with `lon`).
    lat: Option<f64>,
    /// Longitude of the centre, WGS84 degrees [-180, 180] (with `lat`).
    lon: Option<f64>,
    /// Centre at the centroid of an INSEE commune code (e.g. `33063`, `2A004`), instead of lat/lon.
    commune: Option<String>,
    /// Radius around the centre, km, inclusive, [0, 1000]. With a centre and no radius: the nearest offers.
    radius_km: Option<f64>,
    /// Map rectangle `min_lon,min_lat,max_lon,max_lat` (degrees; `min_lon > max_lon` crosses the antimeridian).
    bbox: Option<String>,
    /// Text over EG, EJ and offer names, commune and activity labels; accents and case folded, stemmed; the last word is also a prefix.
    q: Option<String>,
    /// EG catégorie codes (TRE_R66), comma = any of (`500` EHPAD).
    category: Option<String>,
    /// Type d'offre codes (TRE_R244), comma = any of.
    offer_type: Option<String>,
    /// Activité opérationnelle codes (TRE_R211), comma = any of.
    activity: Option<String>,
    /// Mode de prise en charge codes (TRE_R213), comma = any of.
    care_mode: Option<String>,
    /// Temporalité d'accueil codes (TRE_R240): `01` temporaire, `02` permanent.
    reception: Option<String>,
    /// Age of the person, years [0, 150].
    age: Option<f64>,
    /// GIR of the person, 1-6.
    gir: Option<u8>,
    /// Highest daily price, EUR (hébergement + dépendance).
    max_price: Option<f64>,
    /// `gross` (dépendance of the person's GIR band) or `out_of_pocket` (band GIR 5-6).
    price_basis: Option<String>,
    /// At least this many places available now.
    min_available: Option<u32>,
    /// At least this many crisis beds now (T0).
    min_crisis_t0: Option<u32>,
    /// At least this many crisis beds within the hour (T60).
    min_crisis_t60: Option<u32>,
    /// `true`: only EGs habilités à l'aide sociale; `false`: only the others.
    aide_sociale: Option<bool>,
    /// `distance`, `price`, `available`, `relevance` or `name`.
    sort: Option<String>,
    /// Page size [1, 200], default 20.
    limit: Option<u32>,
    /// Results skipped [0, 10000].
    offset: Option<u32>,
    /// `true`: counts by catégorie, type d'offre and département.
    facets: Option<bool>,
    /// FHIR id of an offer: why it matched or which filter excluded it.
    explain: Option<String>,
    /// `true`: count every match even when the first page is found early.
    exact_total: Option<bool>,
    /// Evaluate closures at this instant (RFC 3339; default now).
    now: Option<String>,
    /// `json` (default) or `geojson` (a FeatureCollection of the results).
    format: Option<String>,
}

/// Orientation, nearest, map and text search over offers.
#[utoipa::path(get, path = "/v1/offers", params(OffersParams), responses(
    (status = 200, description = "Matching offers with distances, prices, capacities; `total`, `facets`, `snapshot`", body = Object),
    (status = 400, description = "A bad or unknown parameter", body = Object),
    (status = 503, description = "No snapshot loaded", body = Object),
))]
pub async fn offers(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let pairs = pairs(&query);
    let mut geojson_format = false;
    if let Some((_, format)) = pairs.iter().find(|(name, _)| name == "format") {
        geojson_format = match format.as_str() {
            "json" => false,
            "geojson" => true,
            other => {
                return Err(
                    ParamError::new("format", format!("{other:?} is not a format (expected json or geojson)")).into()
                );
            }
        };
    }
    let request = SearchRequest::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let loaded = current(&state)?;
    let response = loaded.engine.search(&request)?;
    if geojson_format {
        let collection = geojson::FeatureCollection::new(&response);
        let mut http = fast_json(&collection, 1024 + 1536 * response.results.len());
        http.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/geo+json"));
        return Ok(http);
    }
    Ok(fast_json(&response, 1024 + 1536 * response.results.len()))
}

/// A JSON response serialised with sonic-rs (SIMD string escaping) into a buffer sized for the
/// answer: a page of results is tens of kilobytes, and serialising it is most of a search
/// request's cost. Same output as `Json`, up to the spelling of floats.
fn fast_json<T: serde::Serialize>(value: &T, capacity_hint: usize) -> Response {
    let mut buffer = Vec::with_capacity(capacity_hint);
    match sonic_rs::to_writer(&mut buffer, value) {
        Ok(()) => {
            ([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"))], buffer).into_response()
        }
        Err(error) => AppError::internal(format_args!("response serialisation failed: {error}")).into_response(),
    }
}

fn no_query(query: &Option<String>) -> Result<(), AppError> {
    match pairs(query).first() {
        Some((name, _)) => Err(ParamError::new(name, "unknown parameter (this route takes none)").into()),
        None => Ok(()),
    }
}

/// One offer with its locations and capacity records.
#[utoipa::path(get, path = "/v1/offers/{id}", params(("id" = String, Path, description = "FHIR id of the HealthcareService")), responses(
    (status = 200, description = "The offer, its EG, locations and capacity records", body = Object),
    (status = 404, description = "No such offer", body = Object),
))]
pub async fn offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let detail =
        loaded.engine.offer_detail(&id).ok_or_else(|| AppError::not_found(format!("no offer with id {id:?}")))?;
    Ok(fast_json(&detail, 8192))
}

/// An EG (by FINESS ET number) with all its offers, capacities and tariffs.
#[utoipa::path(get, path = "/v1/eg/{finess}", params(("finess" = String, Path, description = "FINESS ET number (9 characters)")), responses(
    (status = 200, description = "The EG, its tariffs and offers", body = Object),
    (status = 404, description = "No such EG", body = Object),
))]
pub async fn eg(
    State(state): State<AppState>,
    Path(finess): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let detail =
        loaded.engine.eg_detail(&finess).ok_or_else(|| AppError::not_found(format!("no EG with FINESS {finess:?}")))?;
    Ok(fast_json(&detail, 8192))
}

/// The parameters of `GET /v1/crisis`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CrisisParams {
    /// Latitude of the centre, WGS84 degrees (with `lon`).
    lat: Option<f64>,
    /// Longitude of the centre, WGS84 degrees (with `lat`).
    lon: Option<f64>,
    /// Centre at an INSEE commune's centroid.
    commune: Option<String>,
    /// Radius around the centre, km [0, 1000]; without it, all of France.
    radius_km: Option<f64>,
    /// Activité opérationnelle codes (TRE_R211), comma = any of.
    activity: Option<String>,
    /// Type d'offre codes (TRE_R244), comma = any of.
    offer_type: Option<String>,
    /// Niveau de recours ORSAN of the EG (TRE_R284: `1`, `4`), comma = any of.
    orsan_level: Option<String>,
    /// At least this many crisis beds now (T0) per offer.
    min_crisis_t0: Option<u32>,
    /// At least this many crisis beds within the hour (T60) per offer.
    min_crisis_t60: Option<u32>,
    /// Number of EGs returned [1, 200], default 10.
    limit: Option<u32>,
    /// Evaluate closures at this instant (RFC 3339).
    now: Option<String>,
}

/// The EGs nearest a centre with crisis capacity (supplementary beds T0 / T60), and the
/// totals of T0 and T60 by département over the whole matching set.
#[utoipa::path(get, path = "/v1/crisis", params(CrisisParams), responses(
    (status = 200, description = "Nearest EGs with crisis beds and totals by département", body = Object),
    (status = 400, description = "A bad or unknown parameter", body = Object),
))]
pub async fn crisis(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let pairs = pairs(&query);
    let request = CrisisRequest::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
    let loaded = current(&state)?;
    Ok(fast_json(&loaded.engine.crisis(&request)?, 8192))
}

/// The parameters of `GET /v1/communes`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CommunesParams {
    /// Beginning of a commune name (accents and case folded) or of a postcode / INSEE code.
    q: String,
    /// Number of communes [1, 50], default 10.
    limit: Option<u32>,
}

#[derive(Serialize)]
struct CommunesAnswer<'a> {
    snapshot: &'a str,
    communes: Vec<crate::engine::lookup::CommuneHit<'a>>,
}

/// Type-ahead on commune names and postcodes: INSEE code and centroid.
#[utoipa::path(get, path = "/v1/communes", params(CommunesParams), responses(
    (status = 200, description = "Matching communes, exact names first then by population", body = Object),
    (status = 400, description = "Missing or bad `q` or `limit`", body = Object),
))]
pub async fn communes(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let mut q = None;
    let mut limit = 10usize;
    for (name, value) in pairs(&query) {
        match name.as_str() {
            "q" => {
                if value.chars().count() > 100 {
                    return Err(ParamError::new("q", "longer than 100 characters").into());
                }
                q = Some(value);
            }
            "limit" => {
                limit =
                    value.parse().ok().filter(|limit| (1..=50).contains(limit)).ok_or_else(|| {
                        ParamError::new("limit", format!("{value:?} is out of range: expected 1 to 50"))
                    })?;
            }
            other => return Err(ParamError::new(other, "unknown parameter (known: q, limit)").into()),
        }
    }
    let q = q
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ParamError::new("q", "missing: the beginning of a name or postcode"))?;
    let loaded = current(&state)?;
    let answer = CommunesAnswer {
        snapshot: &loaded.engine.manifest.snapshot_id,
        communes: loaded.engine.communes_search(&q, limit),
    };
    Ok(Json(answer).into_response())
}

#[derive(Serialize)]
struct SnapshotAnswer<'a> {
    snapshot: &'a str,
    dir: String,
    loaded_at: crate::engine::response::Timestamp,
    manifest: &'a crate::snapshot::Manifest,
}

/// The snapshot being served: id, build time, source feed, counts, ingest accounting, quality.
#[utoipa::path(get, path = "/v1/snapshot", responses(
    (status = 200, description = "The manifest of the snapshot being served", body = Object),
    (status = 503, description = "No snapshot loaded", body = Object),
))]
pub async fn snapshot(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let answer = SnapshotAnswer {
        snapshot: &loaded.engine.manifest.snapshot_id,
        dir: loaded.dir.display().to_string(),
        loaded_at: crate::engine::response::Timestamp(loaded.loaded_at),
        manifest: &loaded.engine.manifest,
    };
    Ok(Json(answer).into_response())
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = Object)))]
pub async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// Readiness: a snapshot is loaded.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "A snapshot is loaded", body = Object),
    (status = 503, description = "No snapshot loaded yet", body = Object),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Response, AppError> {
    let loaded = current(&state)?;
    Ok(Json(serde_json::json!({ "status": "ready", "snapshot": loaded.engine.manifest.snapshot_id })).into_response())
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = state.handle.current().map(|loaded| loaded.gauges()).unwrap_or_default();
    let text = state.handle.metrics.render(&gauges, crate::util::time::now());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 description of every route", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    Json(state.openapi.as_ref().clone()).into_response()
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(token) = &state.config.admin_token else {
        return Err(AppError::not_found("admin routes are disabled (no admin token configured)"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    // Compare in constant time.
    let matches = given.is_some_and(|given| {
        given.len() == token.len() && given.bytes().zip(token.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    });
    if matches { Ok(()) } else { Err(AppError::from_status(StatusCode::UNAUTHORIZED)) }
}

fn reload_error(error: crate::serve::ReloadError) -> AppError {
    use crate::serve::ReloadError;
    let (status, code) = match &error {
        ReloadError::NoSnapshot(_) | ReloadError::NotInIndex(_) => (StatusCode::NOT_FOUND, "not_found"),
        ReloadError::Refused { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "snapshot_refused"),
        ReloadError::NoPrevious => (StatusCode::CONFLICT, "no_previous_snapshot"),
    };
    AppError { status, code, message: error.to_string(), parameter: None }
}

/// Loads a snapshot of the index (`?snapshot=<directory name>`, default the newest) and swaps
/// it in; a snapshot that fails to load is refused and the current one keeps serving.
#[utoipa::path(post, path = "/admin/reload", params(("snapshot" = Option<String>, Query, description = "Directory name of the snapshot in the index; default the newest")), responses(
    (status = 200, description = "Swapped in", body = Object),
    (status = 401, description = "Missing or wrong bearer token", body = Object),
    (status = 404, description = "Admin disabled, or no such snapshot", body = Object),
    (status = 422, description = "The snapshot failed to load; the current one keeps serving", body = Object),
), security(("bearer" = [])))]
pub async fn admin_reload(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let mut dir = None;
    for (name, value) in pairs(&query) {
        match name.as_str() {
            "snapshot" => dir = Some(state.handle.snapshot_dir(&value).map_err(reload_error)?),
            other => return Err(ParamError::new(other, "unknown parameter (known: snapshot)").into()),
        }
    }
    let swap = state.handle.reload(dir).await.map_err(reload_error)?;
    Ok(Json(swap).into_response())
}

/// Swaps the previous snapshot back in.
#[utoipa::path(post, path = "/admin/rollback", responses(
    (status = 200, description = "Rolled back", body = Object),
    (status = 401, description = "Missing or wrong bearer token", body = Object),
    (status = 404, description = "Admin disabled", body = Object),
    (status = 409, description = "No previous snapshot", body = Object),
), security(("bearer" = [])))]
pub async fn admin_rollback(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    authorize(&state, &headers)?;
    let swap = state.handle.rollback().await.map_err(reload_error)?;
    Ok(Json(swap).into_response())
}
