//! The capacity write routes: the ROR's bed-management PATCH, verbatim
//! (`PATCH /fhir/Location?identifier=<IdNatStruct>/<idExterneSynchro>`, the same under
//! `/ws-synchro-dispo-lits-fhir`, and `PATCH /fhir/Location/{id}`), answering as the ROR does
//! (`OperationOutcome`s with its codes and expressions, `ETag`, `Last-Modified`), and
//! `POST /v1/capacity`, an NDJSON batch for feeders and replays.
//!
//! A write is parsed and checked here, then handed to [`crate::serve::capacity`], which logs it
//! durably and applies it in log order before it is acknowledged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppState;
use super::auth::CallerExt;
use super::error::AppError;
use crate::api::{ErrorBody, ErrorCode};
use crate::engine::live::{CapacityChange, ChangeOutcome};
use crate::live::patch::{self, KnownCodesCatalog, OperationOutcome, ValidationPolicy};
use crate::live::write::{LoggedWrite, changes_of};
use crate::model::{CapacityKey, CapacityRecord, Code};
use crate::serve::capacity::{WriteError, WriteResult};
use crate::util::time::{format_rfc3339, now, parse_fhir_datetime};

/// The FHIR media type of the answers.
const FHIR_JSON: &str = "application/fhir+json";

fn outcome_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))], body.to_string()).into_response()
}

fn outcome(outcome: &OperationOutcome) -> Response {
    outcome_response(outcome.http_status(), outcome.to_json())
}

/// An `OperationOutcome` of one issue, for the cases the ROR documentation does not spell out.
fn simple_outcome(status: u16, code: &str, diagnostics: &str) -> Response {
    outcome_response(
        status,
        json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}]}),
    )
}

/// Media types a PATCH body may be declared as (a missing `Content-Type` is accepted: some
/// bed-management clients send none).
const FHIR_BODY_TYPES: &[&str] =
    &["application/fhir+json", "application/json", "application/json-patch+json", "application/fhir+json+patch"];

/// Media types of an NDJSON batch.
const NDJSON_BODY_TYPES: &[&str] = &[
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/json",
    "text/plain",
];

/// The declared media type when it is none of `accepted` (parameters such as `charset` or
/// `fhirVersion` are ignored).
fn unaccepted_media_type(headers: &HeaderMap, accepted: &[&str]) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let text = value.to_str().unwrap_or("(not ASCII)");
    let media_type = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    (!accepted.contains(&media_type.as_str())).then(|| text.to_owned())
}

/// The writer and the snapshot a write applies to, or the answer that refuses it.
fn writer_and_snapshot(
    state: &AppState,
    caller: &CallerExt,
    headers: &HeaderMap,
) -> Result<(String, Arc<crate::serve::Loaded>), Box<Response>> {
    if let Some(media_type) = unaccepted_media_type(headers, FHIR_BODY_TYPES) {
        return Err(Box::new(simple_outcome(
            415,
            "not-supported",
            &format!("Content-Type {media_type:?}: the body must be FHIR JSON (application/fhir+json)"),
        )));
    }
    let who = caller.name.to_string();
    let loaded = state
        .handle
        .current()
        .ok_or_else(|| Box::new(simple_outcome(503, "transient", "no snapshot is loaded yet")))?;
    Ok((who, loaded))
}

/// Why a synchro identifier names no single Location.
enum SynchroMiss {
    /// Not `<IdNatStruct>/<synchro id>`.
    Bad(patch::IdentifierError),
    /// No Location has it.
    Unknown,
    /// Several Locations have it (a data error).
    Several(usize),
}

/// The Location a synchro identifier (`1<FINESS>/<synchro id>`) names.
fn resolve_synchro(engine: &crate::engine::Engine, identifier: &str) -> Result<u32, SynchroMiss> {
    let target = patch::parse_synchro_identifier(identifier).map_err(SynchroMiss::Bad)?;
    match engine.locations_by_synchro(target.finess.as_str(), &target.synchro_id) {
        [location] => Ok(*location),
        [] => Err(SynchroMiss::Unknown),
        several => Err(SynchroMiss::Several(several.len())),
    }
}

fn current_fn(state: &AppState) -> Arc<dyn Fn() -> Option<Arc<crate::serve::Loaded>> + Send + Sync> {
    let handle = state.handle.clone();
    Arc::new(move || handle.current())
}

/// The weak ETag of a location's version.
fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// The ROR bed-management capacity PATCH of a Location addressed by its synchro identifier.
#[utoipa::path(patch, path = "/fhir/Location", params(
    ("identifier" = String, Query, description = "`<IdNatStruct of the EG>/<idExterneSynchro>`, e.g. `1350054680/SSR38888` (IdNatStruct = `1` + FINESS)")
), request_body(content = Object, content_type = "application/fhir+json", description = "A FHIR `Parameters` of `replace` / `add` / `delete` operations on `ror-location-supported-capacity`, as the ROR's clients send it"),
responses(
    (status = 200, description = "Applied (or ignored when older, said in the issues); `ETag` and `Last-Modified` of the Location", content_type = "application/fhir+json", body = Object),
    (status = 400, description = "`OperationOutcome` `business-rule`, `structure`, `invalid`, `required` or `value`", content_type = "application/fhir+json", body = Object),
    (status = 401, description = "Missing or wrong bearer token", content_type = "application/fhir+json", body = Object),
    (status = 404, description = "`not-found`: no Location with that synchro id (expression `Location`), or no record to replace or delete (the capacity extension's expression)", content_type = "application/fhir+json", body = Object),
    (status = 412, description = "`multiple-matches`: several Locations carry the synchro id; or `If-Match` does not match", content_type = "application/fhir+json", body = Object),
), security(("bearer" = [])))]
pub(crate) async fn patch_by_identifier(
    State(state): State<AppState>,
    caller: CallerExt,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let (who, loaded) = match writer_and_snapshot(&state, &caller, &headers) {
        Ok(begun) => begun,
        Err(response) => return *response,
    };
    let identifiers: Vec<String> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "identifier")
        .map(|(_, value)| value.into_owned())
        .collect();
    let [identifier] = identifiers.as_slice() else {
        return simple_outcome(
            400,
            "required",
            "expected one identifier=<IdNatStruct EG>/<idExterneSynchro> parameter",
        );
    };
    let location = match resolve_synchro(&loaded.engine, identifier) {
        Ok(location) => location,
        Err(miss) => {
            let (reason, answer) = match miss {
                SynchroMiss::Bad(error) => ("bad_identifier", OperationOutcome::invalid_identifier(&error)),
                SynchroMiss::Unknown => ("unknown_location", OperationOutcome::location_not_found(identifier)),
                SynchroMiss::Several(count) => ("duplicate_location", OperationOutcome::multiple_locations(count)),
            };
            reject(&state, reason);
            return outcome(&answer);
        }
    };
    patch_location(&state, &headers, &loaded, location, &body, who).await
}

/// The same PATCH under the ROR's bed-management path.
#[utoipa::path(patch, path = "/ws-synchro-dispo-lits-fhir/Location", params(
    ("identifier" = String, Query, description = "`<IdNatStruct of the EG>/<idExterneSynchro>`")
), request_body(content = Object, content_type = "application/fhir+json", description = "A FHIR `Parameters` of capacity operations"),
responses(
    (status = 200, description = "As `PATCH /fhir/Location`", content_type = "application/fhir+json", body = Object),
    (status = 404, description = "As `PATCH /fhir/Location`", content_type = "application/fhir+json", body = Object),
), security(("bearer" = [])))]
pub(crate) async fn patch_by_identifier_ws(
    state: State<AppState>,
    caller: CallerExt,
    headers: HeaderMap,
    query: RawQuery,
    body: Bytes,
) -> Response {
    patch_by_identifier(state, caller, headers, query, body).await
}

/// The ROR bed-management capacity PATCH of a Location addressed by its FHIR id.
#[utoipa::path(patch, path = "/fhir/Location/{id}", params(("id" = String, Path, description = "FHIR id of the Location")),
request_body(content = Object, content_type = "application/fhir+json", description = "A FHIR `Parameters` of capacity operations"),
responses(
    (status = 200, description = "Applied; `ETag` and `Last-Modified` of the Location", content_type = "application/fhir+json", body = Object),
    (status = 400, description = "`OperationOutcome` of the broken rules", content_type = "application/fhir+json", body = Object),
    (status = 404, description = "`not-found`", content_type = "application/fhir+json", body = Object),
), security(("bearer" = [])))]
pub(crate) async fn patch_by_id(
    State(state): State<AppState>,
    caller: CallerExt,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (who, loaded) = match writer_and_snapshot(&state, &caller, &headers) {
        Ok(begun) => begun,
        Err(response) => return *response,
    };
    let Some(location) = loaded.engine.location_by_id(&id) else {
        reject(&state, "unknown_location");
        return outcome(&OperationOutcome::location_not_found(&id));
    };
    patch_location(&state, &headers, &loaded, location, &body, who).await
}

fn reject(state: &AppState, reason: &'static str) {
    if let Some(service) = state.handle.capacity() {
        service.metrics.reject(reason);
    }
}

async fn patch_location(
    state: &AppState,
    headers: &HeaderMap,
    loaded: &crate::serve::Loaded,
    location: u32,
    body: &[u8],
    who: String,
) -> Response {
    let Some(service) = state.handle.capacity() else {
        return simple_outcome(503, "transient", "capacity writes are not enabled on this server");
    };
    let operations = match patch::parse_patch(body) {
        Ok(operations) => operations,
        Err(error) => {
            service.metrics.reject("bad_body");
            return outcome(&OperationOutcome::from_patch_error(&error));
        }
    };
    let received_at = now();
    for operation in &operations {
        if let Err(refused) =
            patch::validate_operation(operation, &KnownCodesCatalog, &ValidationPolicy::default(), received_at)
        {
            service.metrics.reject("business_rule");
            return outcome(&refused);
        }
    }
    if let Some(expected) = headers.get(header::IF_MATCH).and_then(|value| value.to_str().ok()) {
        let (version, _) = loaded.engine.live_view().version_of(location);
        let matches = expected
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string());
        if !matches {
            service.metrics.reject("if_match");
            return simple_outcome(
                412,
                "conflict",
                &format!("If-Match {expected} does not match the current version {}", etag(version)),
            );
        }
    }
    let write = LoggedWrite {
        location_id: loaded.engine.location_id(location).into(),
        changes: changes_of(&operations, received_at),
        received_at,
        who: who.into(),
    };
    let result = match service.write(current_fn(state), vec![write]).await {
        Ok(mut results) => results.remove(0),
        Err(error) => return write_error(&error),
    };
    if !result.location_found {
        return outcome(&OperationOutcome::location_not_found(loaded.engine.location_id(location)));
    }
    if result.outcomes.contains(&ChangeOutcome::NoSuchRecord) {
        return outcome(&OperationOutcome::capacity_not_found());
    }
    let current = state.handle.current();
    let engine = &current.as_ref().map_or(&loaded.engine, |current| &current.engine);
    let (version, changed_at) = engine.live_view().version_of(location);
    let issues: Vec<Value> = result
        .outcomes
        .iter()
        .map(|outcome| match outcome {
            ChangeOutcome::Applied { .. } => {
                json!({"severity": "information", "code": "informational", "diagnostics": "appliqué"})
            }
            ChangeOutcome::Older { held } => json!({
                "severity": "warning",
                "code": "business-rule",
                "diagnostics": format!(
                    "ignoré : la valeur détenue est plus récente (capacityUpdateDate {})",
                    held.updated_at.map(format_rfc3339).unwrap_or_default()
                ),
            }),
            ChangeOutcome::NoSuchRecord => json!({"severity": "error", "code": "not-found"}),
        })
        .collect();
    let body = json!({"resourceType": "OperationOutcome", "id": engine.location_id(location), "issue": issues});
    let mut response = outcome_response(200, body);
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if let Ok(value) =
        HeaderValue::from_str(&crate::util::time::http_date(changed_at.unwrap_or(engine.manifest().built_at_unix)))
    {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}

fn write_error(error: &WriteError) -> Response {
    tracing::error!(%error, "capacity write failed");
    match error {
        WriteError::NotReady => simple_outcome(503, "transient", "no snapshot is loaded yet"),
        WriteError::Log(_) | WriteError::Interrupted | WriteError::Stream(_) => {
            simple_outcome(503, "transient", "the write could not be made durable; nothing was applied, retry")
        }
        WriteError::NotAppliedYet => simple_outcome(
            503,
            "transient",
            "the write was stored by the cluster but this replica has not applied it yet; it will be applied (a retry is harmless)",
        ),
    }
}

/// One line of `POST /v1/capacity`: one capacity record of one Location, or its deletion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CapacityLine {
    /// FHIR id of the Location, or `identifier` instead.
    location: Option<String>,
    /// `<IdNatStruct EG>/<idExterneSynchro>`, instead of `location`.
    identifier: Option<String>,
    /// `capacityStatus` (TRE_R330).
    status: String,
    /// `temporalityCapacity` (TRE_R331).
    temporality: String,
    /// `genderCapacityAvailable` (TRE_R332).
    gender: Option<String>,
    /// `temporaryAssignement` (TRE_R337).
    temporary_assignment: Option<String>,
    /// `capacityClosingType` (TRE_R333).
    closing_type: Option<String>,
    /// `additionalBedType` (TRE_R334).
    additional_bed_type: Option<String>,
    /// `crisisType` (TRE_R336).
    crisis_type: Option<String>,
    /// `capacityType` (TRE_R329), required unless `delete`.
    capacity_type: Option<String>,
    /// `capacitySourceType` (TRE_R335).
    source_type: Option<String>,
    /// `nbCapacity`, required unless `delete`.
    count: Option<u32>,
    /// `capacityUpdateDate`, RFC 3339.
    updated_at: String,
    /// `true`: remove the record of this key.
    #[serde(default)]
    delete: bool,
}

/// The answer for one line.
#[derive(Debug, Serialize)]
struct LineResult {
    line: usize,
    /// `applied`, `ignored` (older than the record held), `not_found` (no record to delete) or
    /// `rejected`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Capacity records as NDJSON lines (`{location | identifier, status, temporality, gender,
/// temporary_assignment, …, capacity_type, count, updated_at, delete}`), each applied, ignored
/// (older than the record held) or rejected on its own; the answer is one NDJSON line per line.
#[utoipa::path(post, path = "/v1/capacity", request_body(content = String, content_type = "application/x-ndjson"),
responses(
    (status = 200, description = "One line per input line: `applied`, `ignored`, `not_found` or `rejected` with the reason", content_type = "application/x-ndjson", body = String),
    (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
    (status = 503, description = "No snapshot loaded, or the batch could not be made durable", body = ErrorBody),
), security(("bearer" = [])))]
pub(crate) async fn post_capacity(
    State(state): State<AppState>,
    caller: CallerExt,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(media_type) = unaccepted_media_type(&headers, NDJSON_BODY_TYPES) {
        return AppError::new(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type {media_type:?}: the body must be NDJSON (application/x-ndjson)"),
        )
        .into_response();
    }
    let Some(service) = state.handle.capacity() else {
        return AppError::new(ErrorCode::NotReady, "capacity writes are not enabled on this server").into_response();
    };
    let Some(loaded) = state.handle.current() else {
        return AppError::of(ErrorCode::NotReady).into_response();
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return AppError::new(ErrorCode::BadRequest, "the body is not UTF-8 NDJSON").into_response();
    };
    let received_at = now();
    let mut results: Vec<LineResult> = Vec::new();
    let mut writes = Vec::new();
    let mut write_lines = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let number = index + 1;
        match line_write(&loaded.engine, line, received_at, &caller.name) {
            Ok(write) => {
                writes.push(write);
                write_lines.push(number);
            }
            Err(reason) => {
                service.metrics.reject("bad_line");
                results.push(LineResult { line: number, status: "rejected", sequence: None, reason: Some(reason) });
            }
        }
    }
    if !writes.is_empty() {
        match service.write(current_fn(&state), writes).await {
            Ok(written) => {
                for (number, result) in write_lines.into_iter().zip(written) {
                    results.push(line_result(number, &result));
                }
            }
            Err(error) => {
                tracing::error!(%error, "capacity batch failed");
                return AppError::new(ErrorCode::NotReady, "the batch could not be made durable; nothing was applied")
                    .into_response();
            }
        }
    }
    results.sort_by_key(|result| result.line);
    let mut out = String::new();
    for result in &results {
        out.push_str(&serde_json::to_string(result).unwrap_or_default());
        out.push('\n');
    }
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"))], out).into_response()
}

fn line_result(line: usize, result: &WriteResult) -> LineResult {
    let (status, reason) = if !result.location_found {
        ("rejected", Some("the location is not in the snapshot served".to_owned()))
    } else if result.outcomes.contains(&ChangeOutcome::NoSuchRecord) {
        ("not_found", Some("no record of this key to delete".to_owned()))
    } else if result.applied() {
        ("applied", None)
    } else {
        let held = result.outcomes.iter().find_map(|outcome| match outcome {
            ChangeOutcome::Older { held } => held.updated_at,
            _ => None,
        });
        ("ignored", Some(format!("older than the record held ({})", held.map(format_rfc3339).unwrap_or_default())))
    };
    LineResult { line, status, sequence: Some(result.sequence), reason }
}

/// The write of one NDJSON line, or why it is refused.
fn line_write(engine: &crate::engine::Engine, line: &str, received_at: i64, who: &str) -> Result<LoggedWrite, String> {
    let parsed: CapacityLine = serde_json::from_str(line).map_err(|error| format!("not a capacity line: {error}"))?;
    let location = match (&parsed.location, &parsed.identifier) {
        (Some(id), None) => engine.location_by_id(id).ok_or_else(|| format!("no Location with id {id:?}"))?,
        (None, Some(identifier)) => resolve_synchro(engine, identifier).map_err(|miss| match miss {
            SynchroMiss::Bad(error) => error.to_string(),
            SynchroMiss::Unknown => format!("no Location has the synchro identifier {identifier:?}"),
            SynchroMiss::Several(count) => format!("{count} Locations have the synchro identifier {identifier:?}"),
        })?,
        _ => return Err("give either location or identifier".to_owned()),
    };
    let updated_at = parse_fhir_datetime(&parsed.updated_at).map_err(|error| format!("updated_at: {error}"))?;
    let code = |value: &Option<String>| value.as_deref().map(Code::from);
    let key = CapacityKey {
        status: Code::from(parsed.status.as_str()),
        temporality: Code::from(parsed.temporality.as_str()),
        gender: code(&parsed.gender),
        temporary_assignment: code(&parsed.temporary_assignment),
        closing_type: code(&parsed.closing_type),
        additional_bed_type: code(&parsed.additional_bed_type),
        crisis_type: code(&parsed.crisis_type),
    };
    let change = if parsed.delete {
        CapacityChange::Delete { key, at: Some(updated_at) }
    } else {
        let record = CapacityRecord {
            capacity_type: code(&parsed.capacity_type).ok_or("capacity_type is required")?,
            status: key.status,
            temporality: key.temporality,
            gender: key.gender,
            closing_type: key.closing_type,
            additional_bed_type: key.additional_bed_type,
            crisis_type: key.crisis_type,
            temporary_assignment: key.temporary_assignment,
            source_type: code(&parsed.source_type),
            count: parsed.count.ok_or("count is required")?,
            updated_at: Some(updated_at),
        };
        let issues: Vec<String> = patch::check_known_codes(&record)
            .into_iter()
            .chain(patch::check_count(&record, &ValidationPolicy::default()))
            .chain(patch::check_update_date(&record, received_at, &ValidationPolicy::default()))
            .map(|issue| issue.diagnostics)
            .collect();
        if !issues.is_empty() {
            return Err(issues.join("; "));
        }
        CapacityChange::Upsert(record)
    };
    Ok(LoggedWrite {
        location_id: engine.location_id(location).into(),
        changes: vec![change],
        received_at,
        who: who.into(),
    })
}
