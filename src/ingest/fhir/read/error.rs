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
        /// What is wrong with it.
        reason: Reason,
    },
}

impl ReadError {
    /// The element at `path` is at fault for `reason`.
    pub(crate) fn at(path: &dyn std::fmt::Display, reason: Reason) -> ReadError {
        ReadError::Element { path: path.to_string(), reason }
    }
}

/// What is wrong with an element.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Reason {
    /// The JSON of the element has the wrong type or shape (the message of `serde_json`).
    #[error("{0}")]
    Json(String),
    /// The element is missing.
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
    PartHasNoValue {
        /// The part (`latitude`).
        part: &'static str,
        /// The value element it lacks (`valueDecimal`).
        value: &'static str,
    },
    /// No coding of the element is in the expected code system.
    #[error("no coding with system {system}")]
    NoCoding {
        /// The expected code system.
        system: &'static str,
    },
    /// No coding of the element is in the expected code system; others were found.
    #[error("no coding in {system} (found {found})")]
    NoCodingIn {
        /// The expected code system.
        system: &'static str,
        /// The systems found instead.
        found: String,
    },
    /// The coding in the expected code system has no `code`.
    #[error("coding in {system} has no code")]
    CodingInSystemHasNoCode {
        /// The code system.
        system: &'static str,
    },
    /// The coding has no `code`.
    #[error("coding has no code")]
    CodingHasNoCode,
    /// A code outside a closed list (`model::labels::UnknownCode::Reject`).
    #[error("code {code:?} is not in {system}")]
    UnknownCode {
        /// The code read.
        code: String,
        /// The code system.
        system: &'static str,
    },
    /// A commune code that is not an INSEE COG code.
    #[error("{code:?} is not an INSEE commune code (5 characters, e.g. 45234 or 2A004)")]
    NotInseeCode {
        /// The code read.
        code: String,
    },
    /// The commune extension has no code.
    #[error("no commune code")]
    NoCommuneCode,
    /// A date that is not a FHIR date.
    #[error("{0}")]
    Date(DateError),
    /// An integer that is not a count.
    #[error("{value} is not a count (0 to 4294967295)")]
    NotACount {
        /// The integer read.
        value: i64,
    },
    /// A latitude / longitude pair that is not a WGS84 position.
    #[error("{error} (latitude {lat}, longitude {lon})")]
    Position {
        /// What is wrong with it.
        error: CoordinateError,
        /// Latitude read, degrees.
        lat: f64,
        /// Longitude read, degrees.
        lon: f64,
    },
    /// Only one of latitude and longitude is given.
    #[error("latitude and longitude must both be given")]
    HalfPosition,
    /// A negative (or not finite) amount (the amount read, euros).
    #[error("amount {0} is not a non-negative number")]
    NegativeAmount(f64),
    /// A negative (or not finite) age (the value read).
    #[error("{0} is not a non-negative age")]
    NegativeAge(f64),
    /// An age unit other than years, months, weeks or days (the unit read).
    #[error("unit {0:?} is not one of a, mo, wk, d")]
    AgeUnit(String),
    /// The age range's low bound is above its high bound.
    #[error("low ({min} years) is above high ({max} years)")]
    AgeBounds {
        /// Low bound, years.
        min: f64,
        /// High bound, years.
        max: f64,
    },
    /// The planned reopening date is before the closing date.
    #[error("reopening date is before the closing date")]
    ReopensBeforeClosing,
    /// A reference has no `reference`.
    #[error("reference missing")]
    ReferenceMissing,
}
