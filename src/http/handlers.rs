//! Route handlers. Each takes one snapshot for the whole request and names it in the answer.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::IntoParams;

use super::auth::CallerExt;
use super::error::AppError;
use super::{AppState, geojson, mvt};
use crate::api::{CommunesQuery, CrisisQuery, ErrorBody, ErrorCode, NoQuery, OffersQuery, ReloadQuery};
use crate::engine::clusters::MAX_ZOOM;
use crate::engine::lookup::{EgDetail, OfferDetail};
use crate::engine::request::ParamError;
use crate::engine::tiles::{TileAddress, TileVersion};
use crate::engine::{CrisisResponse, SearchRequest, SearchResponse};
use crate::model::access::Field;
use crate::serve::{Loaded, Swap};

/// Parses a query string into pairs (percent-decoded, strictly: see `api::decode_query`).
fn pairs(query: &Option<String>) -> Result<Vec<(String, String)>, AppError> {
    Ok(query.as_deref().map(crate::api::decode_query).transpose()?.unwrap_or_default())
}

/// Parses the query string into the route's parameter struct.
pub(super) fn query<T: serde::de::DeserializeOwned>(
    query: &Option<String>,
    also_known: &[&str],
) -> Result<T, AppError> {
    let pairs = pairs(query)?;
    Ok(crate::api::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())), also_known)?)
}

pub(super) fn current(state: &AppState) -> Result<Arc<Loaded>, AppError> {
    state.handle.current().ok_or_else(|| AppError::of(ErrorCode::NotReady))
}

/// The HTTP-only parameter of `GET /v1/offers`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: `format` is read from the pairs before `OffersQuery`.
pub(crate) struct FormatParam {
    /// `json` (default), `geojson` (a FeatureCollection of the results) or `ndjson` (every
    /// match, one result a line, streamed without page limit: `limit` and `offset` are not read;
    /// `X-Total-Count` and `X-Snapshot` headers).
    #[param(pattern = "^(json|geojson|ndjson)$")]
    format: Option<String>,
}

/// Orientation, nearest, map and text search over offers.
#[utoipa::path(get, path = "/v1/offers", params(OffersQuery, FormatParam), responses(
    (status = 200, description = "Matching offers with distances, prices, capacities; `total`, `facets`, `snapshot`", body = SearchResponse),
    (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
    (status = 503, description = "No snapshot loaded", body = ErrorBody),
))]
pub(crate) async fn offers(
    State(state): State<AppState>,
    caller: CallerExt,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let pairs = pairs(&query)?;
    let mut format = "json";
    if let Some((_, value)) = pairs.iter().find(|(name, _)| name == "format") {
        format = match value.as_str() {
            "json" => "json",
            "geojson" => "geojson",
            "ndjson" => "ndjson",
            other => {
                return Err(ParamError::new(
                    "format",
                    format!("{other:?} is not a format (expected json, geojson or ndjson)"),
                )
                .into());
            }
        };
    }
    let request = offers_request(&pairs, &["format"], &caller)?;
    let loaded = current(&state)?;
    if format == "ndjson" {
        return stream_all(loaded, request).await;
    }
    let page = loaded.engine.search_page(&request)?;
    let mut body = Vec::new();
    if format == "geojson" {
        page.write_geojson(&mut body);
        return Ok(
            ([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/geo+json"))], body).into_response()
        );
    }
    page.write_json(&mut body);
    Ok(([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"))], body).into_response())
}

/// The search of a route that takes every `/v1/offers` parameter plus its own (`http_only`,
/// read by the caller), as the caller's profiles.
fn offers_request(
    pairs: &[(String, String)],
    http_only: &[&str],
    caller: &CallerExt,
) -> Result<SearchRequest, AppError> {
    let request = crate::api::from_pairs::<OffersQuery>(
        pairs
            .iter()
            .filter(|(name, _)| !http_only.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str())),
        http_only,
    )?
    .into_request()?;
    Ok(SearchRequest { profiles: caller.profiles, ..request })
}

/// Results per chunk of a streamed answer.
const STREAM_CHUNK: usize = 512;

/// `format=ndjson`: every match, one result a line, streamed as it is rendered (on a blocking
/// thread, a few chunks ahead of the client). The count and the snapshot are in the headers.
async fn stream_all(loaded: Arc<Loaded>, request: SearchRequest) -> Result<Response, AppError> {
    let (head_sender, head) = tokio::sync::oneshot::channel::<Result<(usize, String), ParamError>>();
    let (chunks, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let all = match loaded.engine.search_all(&request) {
            Ok(all) => all,
            Err(error) => {
                let _ = head_sender.send(Err(error));
                return;
            }
        };
        if head_sender.send(Ok((all.len(), loaded.engine.manifest().snapshot_id.clone()))).is_err() {
            return;
        }
        let mut start = 0;
        while start < all.len() {
            let end = (start + STREAM_CHUNK).min(all.len());
            let mut buffer = Vec::with_capacity(1536 * (end - start));
            all.write_ndjson(start..end, &mut buffer);
            if chunks.blocking_send(Ok(buffer)).is_err() {
                return; // the client went away
            }
            start = end;
        }
    });
    let (total, snapshot) = head.await.map_err(|_| AppError::internal("the streaming thread stopped"))??;
    let mut response = Body::new(ChannelBody { receiver }).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/x-ndjson"));
    headers.insert("x-total-count", header::HeaderValue::from(total));
    if let Ok(value) = header::HeaderValue::from_str(&snapshot) {
        headers.insert("x-snapshot", value);
    }
    Ok(response)
}

/// A response body fed by a channel of chunks.
struct ChannelBody {
    receiver: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
}

impl axum::body::HttpBody for ChannelBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.receiver
            .poll_recv(context)
            .map(|chunk| chunk.map(|chunk| chunk.map(|bytes| http_body::Frame::data(axum::body::Bytes::from(bytes)))))
    }
}

/// A JSON response serialised with sonic-rs (SIMD string escaping) into a buffer sized for the
/// answer: a page of results is tens of kilobytes, and serialising it is most of a search
/// request's cost. Same output as `Json`, up to the spelling of floats.
pub(super) fn fast_json<T: serde::Serialize>(value: &T, capacity_hint: usize) -> Response {
    let mut buffer = Vec::with_capacity(capacity_hint);
    match sonic_rs::to_writer(&mut buffer, value) {
        Ok(()) => {
            ([(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"))], buffer).into_response()
        }
        Err(error) => AppError::internal(format_args!("response serialisation failed: {error}")).into_response(),
    }
}

fn no_query(query_string: &Option<String>) -> Result<(), AppError> {
    query::<NoQuery>(query_string, &[]).map(|NoQuery {}| ())
}

/// One offer with its locations and capacity records.
#[utoipa::path(get, path = "/v1/offers/{id}", params(("id" = String, Path, description = "FHIR id of the HealthcareService")), responses(
    (status = 200, description = "The offer, its EG, locations and capacity records", body = OfferDetail),
    (status = 404, description = "No such offer", body = ErrorBody),
))]
pub(crate) async fn offer(
    State(state): State<AppState>,
    caller: CallerExt,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let live = loaded.engine.live_view();
    let detail = loaded
        .engine
        .offer_detail(&live, &id, caller.profiles)
        .ok_or_else(|| AppError::not_found(format!("no offer with id {id:?}")))?;
    Ok(fast_json(&detail, 8192))
}

/// An EG (by FINESS ET number) with all its offers, capacities and tariffs.
#[utoipa::path(get, path = "/v1/eg/{finess}", params(("finess" = String, Path, description = "FINESS ET number (9 characters)")), responses(
    (status = 200, description = "The EG, its tariffs and offers", body = EgDetail),
    (status = 404, description = "No such EG", body = ErrorBody),
))]
pub(crate) async fn eg(
    State(state): State<AppState>,
    caller: CallerExt,
    Path(finess): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let live = loaded.engine.live_view();
    let detail = loaded
        .engine
        .eg_detail(&live, &finess, caller.profiles)
        .ok_or_else(|| AppError::not_found(format!("no EG with FINESS {finess:?}")))?;
    Ok(fast_json(&detail, 8192))
}

/// The EGs nearest a centre with crisis capacity (supplementary beds T0 / T60), and the
/// totals of T0 and T60 by département over the whole matching set.
#[utoipa::path(get, path = "/v1/crisis", params(CrisisQuery), responses(
    (status = 200, description = "Nearest EGs with crisis beds and totals by département", body = CrisisResponse),
    (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
))]
pub(crate) async fn crisis(
    State(state): State<AppState>,
    caller: CallerExt,
    RawQuery(query_string): RawQuery,
) -> Result<Response, AppError> {
    if !caller.profiles.sees_anywhere(Field::SupplementaryCapacity) {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            format!("access profile {} does not see supplementary (crisis) capacities", caller.profiles),
        ));
    }
    let mut request = query::<CrisisQuery>(&query_string, &[])?.into_request()?;
    request.search.profiles = caller.profiles;
    let loaded = current(&state)?;
    // A national crisis answer costs milliseconds: it runs below the workers' priority, so that
    // capacity writes waiting for their acknowledgement are not held up behind it.
    state.heavy.run(move || Ok(fast_json(&loaded.engine.crisis(&request)?, 8192))).await
}

/// The HTTP-only parameter of `GET /v1/clusters`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only: `zoom` is read from the pairs before `OffersQuery`.
pub(crate) struct ZoomParam {
    /// The map zoom (0-22): matches are counted in the cells of the tile grid of precision
    /// `zoom + 3`; from zoom 17 on, every position is shown on its own.
    #[param(minimum = 0, maximum = 22)]
    zoom: u8,
}

/// Map clusters of a viewport: the matches of the search inside `bbox` (required), counted per
/// cell of the web-mercator tile grid, a GeoJSON FeatureCollection. Every `/v1/offers` filter
/// applies; the counts add up to that search's `total` over the same box.
#[utoipa::path(get, path = "/v1/clusters", params(OffersQuery, ZoomParam), responses(
    (status = 200, description = "A FeatureCollection: `cluster: true` cells (supercluster's properties, `key`, `bbox`, `expansion_zoom`, capacity sums) and `cluster: false` positions with their offers", content_type = "application/geo+json"),
    (status = 400, description = "A bad, unknown or missing parameter (`bbox`, `zoom`)", body = ErrorBody),
    (status = 503, description = "No snapshot loaded", body = ErrorBody),
))]
pub(crate) async fn clusters(
    State(state): State<AppState>,
    caller: CallerExt,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let pairs = pairs(&query)?;
    let zoom = match pairs.iter().find(|(name, _)| name == "zoom") {
        None => return Err(ParamError::new("zoom", "is required: the map zoom, 0 to 22").into()),
        Some((_, value)) => value
            .parse::<u8>()
            .map_err(|_| ParamError::new("zoom", format!("{value:?} is not a zoom (a whole number, 0 to 22)")))?,
    };
    let request = offers_request(&pairs, &["zoom"], &caller)?;
    let loaded = current(&state)?;
    let clusters = loaded.engine.clusters(&request, zoom)?;
    let collection = geojson::ClustersCollection::new(&loaded.engine, &clusters, request.profiles);
    let mut http = fast_json(&collection, 256 + 256 * clusters.features.len());
    http.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/geo+json"));
    Ok(http)
}

/// Map clusters as a Mapbox Vector Tile: the clusters of `/v1/clusters` at zoom `z` inside
/// the web-mercator tile `x`/`y` (slippy-map numbering), with those of the neighbouring tiles
/// within 64 of the 4096 units of its edges. Every `/v1/offers` filter applies but `bbox` (the
/// tile is the box). Layers `clusters` (cells: `cluster`, `cluster_id`, `key`, `point_count`,
/// `point_count_abbreviated`, `positions`, `expansion_zoom`) and `points` (positions:
/// `cluster`, `point_count`, `offers`), with the capacity sums (`available`, `crisis_t0`,
/// `crisis_t60`) for the profiles that see them; a tile without features is an empty body.
/// `ETag` (snapshot, live writes, closures, filters and profiles) and `Cache-Control:
/// no-cache`: `If-None-Match` with the current tag is a 304.
#[utoipa::path(get, path = "/v1/tiles/{z}/{x}/{y}.mvt", params(
    ("z" = u8, Path, description = "Zoom, 0 to 22 (cells of grid precision z + 3; every position on its own from 17)"),
    ("x" = u32, Path, description = "Tile column, 0 to 2^z - 1, eastwards from 180° W"),
    ("y" = u32, Path, description = "Tile row, 0 to 2^z - 1, southwards from 85.05° N; the path segment is `{y}.mvt`"),
    OffersQuery,
), responses(
    (status = 200, description = "A Mapbox Vector Tile 2.1 (extent 4096): layers `clusters` and `points`; empty when the tile has no feature", content_type = "application/vnd.mapbox-vector-tile"),
    (status = 304, description = "Not modified: `If-None-Match` holds the current `ETag`"),
    (status = 400, description = "A bad tile address (`z`, `x`, `y`), a `bbox`, or a bad or unknown parameter", body = ErrorBody),
    (status = 403, description = "A filter on capacities the caller's profile does not see", body = ErrorBody),
    (status = 503, description = "No snapshot loaded", body = ErrorBody),
))]
pub(crate) async fn tile(
    State(state): State<AppState>,
    caller: CallerExt,
    Path((z, x, y)): Path<(String, String, String)>,
    headers: header::HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let address = tile_address(&z, &x, &y)?;
    let pairs = pairs(&query)?;
    let mut request = offers_request(&pairs, &[], &caller)?;
    // One instant for the tile and its version.
    request.now = Some(request.now.unwrap_or_else(crate::util::time::now));
    let loaded = current(&state)?;
    let etag = tile_etag(&loaded.engine.tile_version(&request)?, loaded.loaded_at, address);
    let caching = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"))];
    if none_match_hits(&headers, &etag) {
        return Ok((axum::http::StatusCode::NOT_MODIFIED, caching).into_response());
    }
    // A tile over a whole country costs milliseconds, and a map asks for a dozen at once: below
    // the workers' priority, as `/v1/crisis`.
    state
        .heavy
        .run(move || {
            let tile = loaded.engine.tile(&request, address)?;
            let body = mvt::encode(&loaded.engine, &tile, request.profiles);
            let content_type = [(header::CONTENT_TYPE, header::HeaderValue::from_static(mvt::CONTENT_TYPE))];
            Ok((caching, content_type, body).into_response())
        })
        .await
}

/// The tile of the path segments `z`, `x` and `{y}.mvt`: whole numbers, `z` from 0 to 22, `x`
/// and `y` below `2^z`; else a 400 naming the segment.
fn tile_address(z: &str, x: &str, y: &str) -> Result<TileAddress, ParamError> {
    let whole = |name: &str, text: &str, expected: &str| {
        let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
        digits
            .then(|| text.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| ParamError::new(name, format!("{text:?} is not {expected}")))
    };
    let zoom = whole("z", z, "a zoom (a whole number, 0 to 22)")?;
    let zoom = u8::try_from(zoom)
        .ok()
        .filter(|zoom| *zoom <= MAX_ZOOM)
        .ok_or_else(|| ParamError::new("z", format!("{zoom} is out of range: expected 0 to {MAX_ZOOM}")))?;
    let x = whole("x", x, "a tile column (a whole number below 2^z)")?;
    let y = y
        .strip_suffix(".mvt")
        .ok_or_else(|| ParamError::new("y", format!("{y:?} must end in .mvt (the only tile format served)")))?;
    TileAddress::new(zoom, x, whole("y", y, "a tile row (a whole number below 2^z)")?)
}

/// The `ETag` of a tile: a digest of its version, of when its snapshot was swapped in (a
/// snapshot loaded again counts its writes anew) and of its address. Weak, since the
/// compression layer may re-encode the body.
fn tile_etag(version: &TileVersion<'_>, loaded_at: i64, address: TileAddress) -> header::HeaderValue {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for part in [
        version.snapshot_id,
        &loaded_at.to_string(),
        &version.writes_applied.to_string(),
        &version.closure_changes.to_string(),
        &version.filters,
        &address.to_string(),
    ] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    let tag = format!("W/\"{}\"", hex::encode(&digest.finalize()[..16]));
    header::HeaderValue::from_str(&tag).expect("hex digits are a valid header value")
}

/// Whether the request's `If-None-Match` names `etag` (weak comparison, RFC 9110 §13.1.2) or
/// is `*`.
pub(super) fn none_match_hits(headers: &header::HeaderMap, etag: &header::HeaderValue) -> bool {
    let opaque = |tag: &str| -> String { tag.trim().trim_start_matches("W/").to_owned() };
    let current = opaque(etag.to_str().unwrap_or_default());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == current)
}

/// The answer of `/v1/communes`.
#[derive(Serialize, utoipa::ToSchema)]
struct CommunesAnswer<'a> {
    snapshot: &'a str,
    communes: Vec<crate::engine::lookup::CommuneHit<'a>>,
}

/// Type-ahead on commune names and postcodes: INSEE code and centroid.
#[utoipa::path(get, path = "/v1/communes", params(CommunesQuery), responses(
    (status = 200, description = "Matching communes, exact names first then by population", body = CommunesAnswer),
    (status = 400, description = "Missing or bad `q` or `limit`", body = ErrorBody),
))]
pub(crate) async fn communes(
    State(state): State<AppState>,
    RawQuery(query_string): RawQuery,
) -> Result<Response, AppError> {
    let parameters = query::<CommunesQuery>(&query_string, &[])?;
    let limit = parameters.limit.map_or(10, |limit| limit.0 as usize);
    let q = parameters
        .q
        .map(|text| text.0)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ParamError::new("q", "missing: the beginning of a name or postcode"))?;
    let loaded = current(&state)?;
    let answer =
        CommunesAnswer { snapshot: loaded.engine.snapshot_id(), communes: loaded.engine.communes_search(&q, limit) };
    Ok(Json(answer).into_response())
}

#[derive(Serialize)]
struct SnapshotAnswer<'a> {
    snapshot: &'a str,
    built_at: &'a str,
    loaded_at: crate::engine::response::Timestamp,
    /// Where it is served from and its manifest (counts over every record, sensitive units
    /// included): for admins and the profiles that see sensitive units.
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<&'a crate::snapshot::Manifest>,
    /// A digest of the state served (the snapshot and every live capacity record, versions
    /// included): replicas that agree report the same.
    state_digest: String,
    /// Capacity writes applied over the snapshot.
    capacity_writes: u64,
    /// In cluster mode, where this replica stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<crate::cluster::replica::ReplicaStatus>,
}

/// The snapshot being served: id, build and load times; for admins and the profiles that see
/// sensitive units also its directory and manifest (source feed, counts, ingest accounting,
/// quality).
#[utoipa::path(get, path = "/v1/snapshot", responses(
    (status = 200, description = "The snapshot being served (and its manifest, for admins and profiles 1 and 4)", body = Object),
    (status = 503, description = "No snapshot loaded", body = ErrorBody),
))]
pub(crate) async fn snapshot(
    State(state): State<AppState>,
    caller: CallerExt,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let everything = caller.roles.has(crate::auth::Role::Admin) || caller.profiles.sees_sensitive_units();
    let manifest = loaded.engine.manifest();
    let answer = SnapshotAnswer {
        snapshot: loaded.engine.snapshot_id(),
        built_at: &manifest.built_at,
        loaded_at: crate::engine::response::Timestamp(loaded.loaded_at),
        dir: everything.then(|| loaded.dir.display().to_string()),
        manifest: everything.then_some(manifest),
        state_digest: loaded.engine.state_digest(),
        capacity_writes: loaded.engine.live_view().writes_applied(),
        cluster: state.handle.replica().map(|replica| replica.status(true)),
    };
    Ok(Json(answer).into_response())
}

/// The answer of `/v1/version`.
#[derive(Serialize, utoipa::ToSchema)]
struct VersionAnswer<'a> {
    /// The snapshot served.
    snapshot: &'a str,
    /// Capacity writes applied over it: a change means some counts changed.
    capacity_writes: u64,
    /// The newest capacity update date written (RFC 3339), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_write_at: Option<crate::engine::response::Timestamp>,
}

/// What the answers reflect, cheaply: the snapshot and how many capacity writes were applied
/// over it. The map page polls it to follow live capacities; any client can, before it asks
/// again for a page it holds.
#[utoipa::path(get, path = "/v1/version", responses(
    (status = 200, description = "The snapshot and the count of capacity writes applied over it", body = VersionAnswer),
    (status = 503, description = "No snapshot loaded", body = ErrorBody),
))]
pub(crate) async fn version(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    no_query(&query)?;
    let loaded = current(&state)?;
    let live = loaded.engine.live_view();
    let answer = VersionAnswer {
        snapshot: loaded.engine.snapshot_id(),
        capacity_writes: live.writes_applied(),
        newest_write_at: live.newest_write_at().map(crate::engine::response::Timestamp),
    };
    let mut http = Json(answer).into_response();
    http.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    Ok(http)
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive", body = Object)))]
pub(crate) async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// Readiness: a snapshot is loaded.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "A snapshot is loaded", body = Object),
    (status = 503, description = "No snapshot loaded yet", body = ErrorBody),
))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Response, AppError> {
    if let Some(replica) = state.handle.replica() {
        let loaded = state.handle.current();
        let status = replica.status(loaded.is_some());
        let snapshot = loaded.as_ref().map(|loaded| loaded.engine.snapshot_id().to_owned());
        let code = if status.ready { axum::http::StatusCode::OK } else { axum::http::StatusCode::SERVICE_UNAVAILABLE };
        let body = serde_json::json!({
            "status": if status.ready { "ready" } else { "not_ready" },
            "snapshot": snapshot,
            "cluster": status,
        });
        return Ok((code, Json(body)).into_response());
    }
    let loaded = current(&state)?;
    Ok(Json(serde_json::json!({ "status": "ready", "snapshot": loaded.engine.snapshot_id() })).into_response())
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = state.handle.current().map(|loaded| loaded.gauges()).unwrap_or_default();
    let mut text = state.handle.metrics.render(&gauges, crate::util::time::now());
    if let Some(loaded) = state.handle.current() {
        use std::fmt::Write as _;
        let _ = writeln!(
            text,
            "# HELP ror_search_state_info The state served: its snapshot and digest (equal on replicas that agree)."
        );
        let _ = writeln!(text, "# TYPE ror_search_state_info gauge");
        let _ = writeln!(
            text,
            "ror_search_state_info{{snapshot=\"{}\",digest=\"{}\"}} 1",
            loaded.engine.snapshot_id(),
            loaded.engine.state_digest()
        );
    }
    if let Some(service) = state.handle.capacity() {
        let newest_write_at = state.handle.current().and_then(|loaded| loaded.engine.live_view().newest_write_at());
        crate::serve::capacity::render_metrics(service, newest_write_at, crate::util::time::now(), &mut text);
    }
    // A sync of this index (inside the service or beside it) writes its state there.
    if let Ok(Some(sync)) = crate::sync::state::SyncState::load(&state.handle.index_dir.join(crate::sync::SYNC_DIR)) {
        sync.render_metrics(&mut text);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3.1 description of every route", body = Object)))]
pub(crate) async fn openapi(State(state): State<AppState>) -> Response {
    Json(state.openapi.as_ref().clone()).into_response()
}

fn reload_error(error: crate::serve::ReloadError) -> AppError {
    use crate::serve::ReloadError;
    let code = match &error {
        ReloadError::NoSnapshot(_) | ReloadError::NotInIndex(_) => ErrorCode::NotFound,
        ReloadError::Refused { .. } => ErrorCode::SnapshotRefused,
        ReloadError::NoPrevious => ErrorCode::NoPreviousSnapshot,
    };
    AppError::new(code, error.to_string())
}

/// Loads a snapshot of the index (`?snapshot=<directory name>`, default the newest) and swaps
/// it in; a snapshot that fails to load is refused and the current one keeps serving.
#[utoipa::path(post, path = "/admin/reload", params(ReloadQuery), responses(
    (status = 200, description = "Swapped in", body = Swap),
    (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
    (status = 403, description = "The caller lacks the admin role", body = ErrorBody),
    (status = 404, description = "No such snapshot", body = ErrorBody),
    (status = 422, description = "The snapshot failed to load; the current one keeps serving", body = ErrorBody),
), security(("bearer" = [])))]
pub(crate) async fn admin_reload(
    State(state): State<AppState>,
    RawQuery(query_string): RawQuery,
) -> Result<Response, AppError> {
    let parameters = query::<ReloadQuery>(&query_string, &[])?;
    replica_refuses(&state)?;
    let dir = match parameters.snapshot {
        Some(name) => Some(state.handle.snapshot_dir(&name).map_err(reload_error)?),
        None => None,
    };
    let swap = state.handle.reload(dir).await.map_err(reload_error)?;
    Ok(Json(swap).into_response())
}

/// A replica serves what the cluster's current key names, as every other replica: a reload or a
/// rollback of one replica alone would make it differ from the others (and miss the writes the
/// stream no longer holds). Publishing a snapshot (`ror-search publish`, the previous one to roll
/// back) changes what every replica serves.
fn replica_refuses(state: &AppState) -> Result<(), AppError> {
    match state.handle.replica() {
        Some(_) => Err(AppError::new(
            ErrorCode::Forbidden,
            "this server is a replica: it serves the snapshot the cluster names; publish one (ror-search publish) to change it on every replica",
        )),
        None => Ok(()),
    }
}

/// Swaps the previous snapshot back in.
#[utoipa::path(post, path = "/admin/rollback", responses(
    (status = 200, description = "Rolled back", body = Swap),
    (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
    (status = 403, description = "The caller lacks the admin role", body = ErrorBody),
    (status = 409, description = "No previous snapshot", body = ErrorBody),
), security(("bearer" = [])))]
pub(crate) async fn admin_rollback(State(state): State<AppState>) -> Result<Response, AppError> {
    replica_refuses(&state)?;
    let swap = state.handle.rollback().await.map_err(reload_error)?;
    Ok(Json(swap).into_response())
}
