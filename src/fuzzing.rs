//! Entry points for the fuzz targets of `fuzz/` (cargo-fuzz), hidden from the documentation.
//!
//! Each function is a thin wrapper that reaches a `pub(crate)` parser the way the feed reader
//! or an HTTP route calls it, and returns what that caller would get as text, so that a target
//! exercises the `Display` and `Debug` of the results too. None of them is part of the API.

use serde::de::DeserializeOwned;

use crate::api::{CommunesQuery, CrisisQuery, OffersQuery};
use crate::engine::{CrisisRequest, ParamError, SearchRequest};
use crate::live::patch::{self, KnownCodesCatalog, OperationOutcome, ValidationPolicy};
use crate::util::time::UnixSeconds;

/// What the feed reader makes of one item of JSON text (an NDJSON line, a bundle entry):
/// `ingest::fhir::read::classify`, its outcome in `Debug` form.
pub fn classify(json: &str) -> String {
    format!("{:?}", crate::ingest::fhir::read::classify(json))
}

/// `api::from_pairs`: percent-decoded `name=value` pairs into the route struct `T`, names in
/// `also_known` skipped (as the HTTP handlers call it).
pub fn from_pairs<'a, T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    also_known: &[&str],
) -> Result<T, ParamError> {
    crate::api::from_pairs(pairs, also_known)
}

/// `OffersQuery::into_request`: the checks that need several parameters of `GET /v1/offers`.
pub fn offers_request(query: OffersQuery) -> Result<SearchRequest, ParamError> {
    query.into_request()
}

/// `CrisisQuery::into_request`: the engine's request of `GET /v1/crisis`.
pub fn crisis_request(query: CrisisQuery) -> Result<CrisisRequest, ParamError> {
    query.into_request()
}

/// The text and limit `GET /v1/communes` searches with, as its handler reads them from the
/// parameters (`q` required and not blank, `limit` default 10).
pub fn communes_request(query: CommunesQuery) -> Result<(String, usize), ParamError> {
    let limit = query.limit.map_or(10, |limit| limit.0 as usize);
    let q = query
        .q
        .map(|text| text.0)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ParamError::new("q", "missing: the beginning of a name or postcode"))?;
    Ok((q, limit))
}

/// What the capacity PATCH route answers for `body` received at `now`, before it looks up the
/// Location and writes: the body read (`live::patch::parse_patch_report`), then the business
/// rules of every operation (`validate_operation`, with the route's catalog and policy).
/// Returns the HTTP status and the answer: the `OperationOutcome` JSON of a refusal, or the
/// operations (`Debug`) and the commas the lenient JSON read inserted.
pub fn capacity_patch(body: &[u8], now: UnixSeconds) -> (u16, String) {
    let parsed = match patch::parse_patch_report(body) {
        Ok(parsed) => parsed,
        Err(error) => {
            let outcome = OperationOutcome::from_patch_error(&error);
            return (outcome.http_status(), outcome.to_json().to_string());
        }
    };
    for operation in &parsed.operations {
        if let Err(outcome) =
            patch::validate_operation(operation, &KnownCodesCatalog, &ValidationPolicy::default(), now)
        {
            return (outcome.http_status(), outcome.to_json().to_string());
        }
    }
    (200, format!("{:?} {:?}", parsed.operations, parsed.inserted_commas))
}

/// `live::patch::parse_synchro_identifier` on an `identifier` query value (percent-decoded):
/// the identifier as the ROR writes it, or the error message.
pub fn synchro_identifier(value: &str) -> Result<String, String> {
    patch::parse_synchro_identifier(value)
        .map(|identifier| format!("{identifier} {identifier:?}"))
        .map_err(|error| error.to_string())
}

/// `live::patch::parse_selector` on an operation `path`: the selector (`Debug`), or the error
/// message with its byte offset.
pub fn capacity_selector(path: &str) -> Result<String, String> {
    patch::parse_selector(path).map(|selector| format!("{selector:?}")).map_err(|error| error.to_string())
}
