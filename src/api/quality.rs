//! `QualityQuery`: the parameters of `GET /v1/quality` (the data-quality work list), and their
//! conversion into a [`QualityFilter`].

use serde::Deserialize;
use utoipa::IntoParams;

use super::values::{Codes, Names, Text, Whole};
use crate::engine::request::ParamError;
use crate::model::quality::{RULES, RuleId, Severity};
use crate::quality::QualityFilter;

/// Findings a JSON page holds by default.
pub(crate) const DEFAULT_QUALITY_LIMIT: usize = 100;

/// Data-quality report parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QualityQuery {
    /// Rule codes (`offer_stale`, `available_above_installed`...; see the README), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) rule: Option<Names>,
    /// Severities (`error`, `warning`, `info`), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) severity: Option<Names>,
    /// INSEE région codes (`11` Île-de-France, `84` Auvergne-Rhône-Alpes, `04` La Réunion...), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) region: Option<Codes>,
    /// INSEE département codes (`45`, `2A`, `974`), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) departement: Option<Codes>,
    /// FINESS ET number of an EG: the findings on it, its offers and its locations.
    #[param(value_type = Option<String>, max_length = 9)]
    pub(crate) finess: Option<Text<9>>,
    /// Catégories d'établissement of the EG (TRE_R66, `500` EHPAD), comma = any of.
    #[param(value_type = Option<String>)]
    pub(crate) category: Option<Codes>,
    /// `json` (default: counts and one page of findings), `csv` (every finding: UTF-8 with BOM, `;`, French column names) or `ndjson` (every finding, one per line).
    #[param(value_type = Option<String>, pattern = "^(json|csv|ndjson)$")]
    pub(crate) format: Option<Text<6>>,
    /// First finding of the JSON page [0, 100000000], default 0.
    #[param(value_type = Option<u64>, minimum = 0, maximum = 100000000)]
    pub(crate) offset: Option<Whole<0, 100_000_000>>,
    /// Findings in the JSON page [0, 1000], default 100.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 1000)]
    pub(crate) limit: Option<Whole<0, 1000>>,
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QualityFormat {
    /// Counts and one page of findings.
    #[default]
    Json,
    /// Every finding as CSV.
    Csv,
    /// Every finding as NDJSON.
    Ndjson,
}

impl QualityFormat {
    /// Reads `json`, `csv` or `ndjson`.
    pub fn parse(text: &str) -> Option<QualityFormat> {
        match text {
            "json" => Some(QualityFormat::Json),
            "csv" => Some(QualityFormat::Csv),
            "ndjson" => Some(QualityFormat::Ndjson),
            _ => None,
        }
    }
}

/// Reads the `format` parameter of the quality routes (default `json`).
pub(crate) fn parse_format(format: Option<Text<6>>) -> Result<QualityFormat, ParamError> {
    match format {
        None => Ok(QualityFormat::Json),
        Some(text) => QualityFormat::parse(&text.0)
            .ok_or_else(|| ParamError::new("format", format!("{:?} is not json, csv or ndjson", text.0))),
    }
}

/// A report request: what to keep, how to write it, which page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityRequest {
    /// What to keep.
    pub filter: QualityFilter,
    /// How to write it.
    pub format: QualityFormat,
    /// First finding of the JSON page.
    pub offset: usize,
    /// Findings in the JSON page.
    pub limit: usize,
}

/// Reads rule codes.
pub(crate) fn parse_rules(codes: &[crate::model::Code]) -> Result<Vec<RuleId>, ParamError> {
    codes
        .iter()
        .map(|code| {
            RuleId::from_code(code).ok_or_else(|| {
                let known: Vec<&str> = RULES.iter().map(|rule| rule.code).collect();
                ParamError::new("rule", format!("unknown rule {code:?} (one of {})", known.join(", ")))
            })
        })
        .collect()
}

/// Reads severities.
pub(crate) fn parse_severities(codes: &[crate::model::Code]) -> Result<Vec<Severity>, ParamError> {
    codes
        .iter()
        .map(|code| {
            Severity::ALL.into_iter().find(|severity| severity.as_str() == code.as_str()).ok_or_else(|| {
                ParamError::new("severity", format!("unknown severity {code:?} (error, warning or info)"))
            })
        })
        .collect()
}

impl QualityQuery {
    /// The report request these parameters ask for.
    pub fn into_request(self) -> Result<QualityRequest, ParamError> {
        let codes = |codes: Option<Codes>| codes.map(|codes| codes.0).unwrap_or_default();
        let format = parse_format(self.format)?;
        Ok(QualityRequest {
            filter: QualityFilter {
                rules: parse_rules(&self.rule.map(|names| names.0).unwrap_or_default())?,
                severities: parse_severities(&self.severity.map(|names| names.0).unwrap_or_default())?,
                regions: codes(self.region),
                departements: codes(self.departement),
                finess: self.finess.map(|finess| crate::model::Code::from(finess.0)),
                categories: codes(self.category),
            },
            format,
            offset: self.offset.map_or(0, |offset| offset.0 as usize),
            limit: self.limit.map_or(DEFAULT_QUALITY_LIMIT, |limit| limit.0 as usize),
        })
    }
}
