//! `GET /v1/quality` and `GET /v1/quality/eg/{finess}`: the data-quality work list of the
//! snapshot served, with its live capacities (admin token until access profiles land).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::CallerExt;
use super::error::AppError;
use super::handlers::{current, fast_json, query};
use crate::api::{ErrorBody, QualityFormat, QualityQuery, QualityRequest};
use crate::quality::trend::QualityTrend;
use crate::quality::{FindingView, QualityCounts, QualityFilter, QualityReport, Selection, read_remarks};
use crate::serve::Loaded;
use crate::util::time::{format_rfc3339, now};

/// The answer of `/v1/quality` in JSON.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QualityAnswer<'a> {
    /// The snapshot the findings are about.
    snapshot: &'a str,
    /// When the rules were evaluated (their `now`), RFC 3339.
    computed_at: String,
    /// Live capacity writes applied since the snapshot (the capacity rules include them).
    live_writes_applied: u64,
    /// Counts of the findings kept, by rule, severity, région, département and category.
    counts: QualityCounts,
    /// Counts by rule at build time and their change since the previous snapshot.
    trend: Option<&'a QualityTrend>,
    /// First finding of the page.
    offset: usize,
    /// The page.
    findings: Vec<FindingView<'a>>,
    /// Offset of the next page, when there is one.
    next_offset: Option<usize>,
}

/// The parameters of `GET /v1/quality/eg/{finess}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct QualitySheetQuery {
    /// `json` (default), `csv` or `ndjson`.
    #[param(value_type = Option<String>, pattern = "^(json|csv|ndjson)$")]
    format: Option<crate::api::values::Text<6>>,
}

/// One establishment's quality sheet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QualitySheet<'a> {
    /// The snapshot the findings are about.
    snapshot: &'a str,
    /// When the rules were evaluated, RFC 3339.
    computed_at: String,
    /// The EG.
    eg: crate::engine::response::EgView<'a>,
    /// Counts of its findings.
    counts: QualityCounts,
    /// Every finding on the EG, its offers and its locations.
    findings: Vec<FindingView<'a>>,
}

/// Runs `answer` on the report of `loaded`, computed or brought up to date first (on the
/// heavy-query threads: at national scale the first computation takes seconds).
async fn with_report(
    state: &AppState,
    loaded: std::sync::Arc<Loaded>,
    answer: impl FnOnce(&Loaded, &QualityReport) -> Result<Response, AppError> + Send + 'static,
) -> Result<Response, AppError> {
    state
        .heavy
        .run(move || {
            let mut held = loaded.quality.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let at = now();
            match held.as_mut() {
                Some(report) => report.refresh(&loaded.engine, at),
                None => {
                    let remarks = read_remarks(&loaded.dir).map_err(AppError::internal)?;
                    *held = Some(QualityReport::compute(&loaded.engine, remarks, at));
                }
            }
            let report = held.as_ref().ok_or_else(|| AppError::internal("no quality report"))?;
            answer(&loaded, report)
        })
        .await
}

/// Every finding of a selection in an export format.
fn export(selection: &Selection<'_>, format: QualityFormat, name: &str) -> Result<Response, AppError> {
    let mut body = Vec::with_capacity(selection.len() * 200 + 256);
    let content_type = match format {
        QualityFormat::Csv => {
            crate::quality::export::write_csv(selection, &mut body).map_err(AppError::internal)?;
            "text/csv; charset=utf-8"
        }
        _ => {
            crate::quality::export::write_ndjson(selection, &mut body).map_err(AppError::internal)?;
            "application/x-ndjson"
        }
    };
    let extension = if format == QualityFormat::Csv { "csv" } else { "ndjson" };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{extension}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The data-quality findings of the snapshot served (with its live capacities): counts by
/// rule, severity, région, département and EG category, and the findings in report order
/// (severity, rule, région, département, FINESS), filterable; CSV and NDJSON export every
/// finding kept. Needs the admin token.
/// The report covers every record, sensitive units and capacities of every kind included:
/// only a profile-1 caller may read it.
fn everything_seen(caller: &CallerExt) -> Result<(), AppError> {
    if caller.profiles.contains(crate::model::access::Profile::Full) {
        Ok(())
    } else {
        Err(AppError::new(
            crate::api::ErrorCode::Forbidden,
            format!("the quality report covers every record: it needs profile 1 (the caller has {})", caller.profiles),
        ))
    }
}

#[utoipa::path(get, path = "/v1/quality", params(QualityQuery), security(("bearer" = [])), responses(
    (status = 200, description = "Counts and a page of findings (JSON), or every finding (`format=csv`: UTF-8 with BOM, `;`, French column names; `format=ndjson`)", body = QualityAnswer),
    (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
    (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
    (status = 403, description = "The caller lacks the admin role or profile 1", body = ErrorBody),
))]
pub(crate) async fn quality(
    State(state): State<AppState>,
    RawQuery(query_string): RawQuery,
    caller: CallerExt,
) -> Result<Response, AppError> {
    everything_seen(&caller)?;
    let request: QualityRequest = query::<QualityQuery>(&query_string, &[])?.into_request()?;
    let loaded = current(&state)?;
    with_report(&state, loaded, move |loaded, report| {
        let engine = &loaded.engine;
        let selection = report.select(engine, &request.filter);
        let snapshot = &engine.manifest().snapshot_id;
        if request.format != QualityFormat::Json {
            return export(&selection, request.format, &format!("qualite-{snapshot}"));
        }
        let findings = selection.page(request.offset, request.limit);
        let next = request.offset + findings.len();
        let answer = QualityAnswer {
            snapshot,
            computed_at: format_rfc3339(selection.computed_at()),
            live_writes_applied: engine.live_view().writes_applied(),
            counts: selection.counts(),
            trend: engine.manifest().quality_trend.as_ref(),
            offset: request.offset,
            findings,
            next_offset: (next < selection.len()).then_some(next),
        };
        Ok(fast_json(&answer, 64 * 1024))
    })
    .await
}

/// One establishment's quality sheet: every finding on the EG, its offers and its locations,
/// with their counts. Needs the admin token.
#[utoipa::path(get, path = "/v1/quality/eg/{finess}", params(("finess" = String, Path, description = "FINESS ET number"), QualitySheetQuery), security(("bearer" = [])), responses(
    (status = 200, description = "The EG's findings", body = QualitySheet),
    (status = 400, description = "A bad or unknown parameter", body = ErrorBody),
    (status = 401, description = "Missing or wrong credentials", body = ErrorBody),
    (status = 403, description = "The caller lacks the admin role or profile 1", body = ErrorBody),
    (status = 404, description = "No EG with that FINESS", body = ErrorBody),
))]
pub(crate) async fn quality_eg(
    State(state): State<AppState>,
    Path(finess): Path<String>,
    RawQuery(query_string): RawQuery,
    caller: CallerExt,
) -> Result<Response, AppError> {
    everything_seen(&caller)?;
    let parameters = query::<QualitySheetQuery>(&query_string, &[])?;
    let format = crate::api::quality::parse_format(parameters.format)?;
    let loaded = current(&state)?;
    let Some(eg_index) = loaded.engine.eg_index_by_finess(&finess) else {
        return Err(AppError::not_found(format!("no EG with FINESS {finess:?}")));
    };
    with_report(&state, loaded, move |loaded, report| {
        let engine = &loaded.engine;
        let filter =
            QualityFilter { finess: Some(crate::model::Code::from(finess.as_str())), ..QualityFilter::default() };
        let selection = report.select(engine, &filter);
        if format != QualityFormat::Json {
            return export(&selection, format, &format!("qualite-{finess}"));
        }
        let sheet = QualitySheet {
            snapshot: &engine.manifest().snapshot_id,
            computed_at: format_rfc3339(selection.computed_at()),
            eg: engine.eg_view(eg_index, caller.profiles),
            counts: selection.counts(),
            findings: selection.views().collect(),
        };
        Ok(fast_json(&sheet, 16 * 1024))
    })
    .await
}
