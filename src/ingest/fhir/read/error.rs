//! Why a resource is rejected by [`super`]: the element at fault (its path, as the messages of
//! the reject report spell it) and a typed reason. The `Display` texts are the reject report's
//! texts (`rejects.ndjson`); tests assert them, so change them only on purpose.

use crate::util::geo::CoordinateError;
use crate::util::time::DateError;

/// Why one resource could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// Not JSON at all (the header could not be read).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The resource does not deserialize, and no element path could be told.
    #[error("{0}")]
    Shape(String),
    /// An element of the resource is at fault.
    #[error("{path}: {reason}")]
    Element {
        /// Where, e.g. `extension[2] (capacity record 0).extension[1] (capacityStatus)`.
        path: String,
        reason: Reason,
    },
}

impl ReadError {
    /// The element at `path` is at fault for `reason`.
    pub fn at(path: &dyn std::fmt::Display, reason: Reason) -> ReadError {
        ReadError::Element { path: path.to_string(), reason }
    }
}

/// What is wrong with an element.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    /// The JSON of the element has the wrong type or shape (the message of `serde_json`).
    #[error("{0}")]
    Json(String),
    #[error("missing")]
    Missing,
    /// Missing, with why it is needed.
    #[error("missing ({0})")]
    MissingBecause(&'static str),
    /// A named part of the element is missing (`valuePeriod`, `priceType`, `nbCapacity`...).
    #[error("missing {0}")]
    MissingPart(&'static str),
    /// A part of the element has no value (`latitude` has no `valueDecimal`).
    #[error("{part} has no {value}")]
    PartHasNoValue { part: &'static str, value: &'static str },
    #[error("no coding with system {system}")]
    NoCoding { system: &'static str },
    #[error("no coding in {system} (found {found})")]
    NoCodingIn { system: &'static str, found: String },
    #[error("coding in {system} has no code")]
    CodingInSystemHasNoCode { system: &'static str },
    #[error("coding has no code")]
    CodingHasNoCode,
    /// A code outside a closed list ([`crate::model::labels::UnknownCode::Reject`]).
    #[error("code {code:?} is not in {system}")]
    UnknownCode { code: String, system: &'static str },
    #[error("{code:?} is not an INSEE commune code (5 characters, e.g. 45234 or 2A004)")]
    NotInseeCode { code: String },
    #[error("no commune code")]
    NoCommuneCode,
    #[error("{0}")]
    Date(DateError),
    #[error("{value} is not a count (0 to 4294967295)")]
    NotACount { value: i64 },
    #[error("{error} (latitude {lat}, longitude {lon})")]
    Position { error: CoordinateError, lat: f64, lon: f64 },
    #[error("latitude and longitude must both be given")]
    HalfPosition,
    #[error("amount {0} is not a non-negative number")]
    NegativeAmount(f64),
    #[error("{0} is not a non-negative age")]
    NegativeAge(f64),
    #[error("unit {0:?} is not one of a, mo, wk, d")]
    AgeUnit(String),
    #[error("low ({min} years) is above high ({max} years)")]
    AgeBounds { min: f64, max: f64 },
    #[error("reopening date is before the closing date")]
    ReopensBeforeClosing,
    #[error("reference missing")]
    ReferenceMissing,
}
