//! The engine's search request: one type for every query (orientation, nearest, map, text), in
//! the engine's units, and the user error of the engine, [`ParamError`].
//!
//! The text of the parameters is parsed by [`crate::api`] (syntax and ranges); the engine checks
//! what needs the snapshot (that a commune or a code exists). Both report a [`ParamError`]
//! naming the parameter.

use std::fmt;

use serde::Serialize;

use crate::model::rules::PriceBasis;
use crate::model::{Code, GeoPoint};

/// Largest radius, in kilometres.
pub(crate) const MAX_RADIUS_KM: f64 = 1000.0;
/// Largest page size.
pub(crate) const MAX_LIMIT: usize = 200;
/// Default page size.
pub(crate) const DEFAULT_LIMIT: usize = 20;
/// Largest offset (deep paging is for exports, not for search).
pub(crate) const MAX_OFFSET: usize = 10_000;
/// Most codes in one list parameter.
pub(crate) const MAX_CODES: usize = 50;
/// Longest `q`, in characters.
pub(crate) const MAX_Q_CHARS: usize = 200;

/// A bad parameter: which one and why (with the allowed values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamError {
    /// The parameter's name, as in the query string.
    pub parameter: String,
    /// What was wrong and what was expected.
    pub message: String,
    /// Whether the name is unknown or the value is bad.
    #[serde(skip)]
    pub(crate) kind: ParamErrorKind,
}

/// What kind of [`ParamError`] it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ParamErrorKind {
    /// A bad value, or values that do not go together.
    #[default]
    BadValue,
    /// A name the route does not take.
    Unknown,
    /// A parameter the caller's access profile may not use (a filter on data it does not see).
    Forbidden,
}

impl ParamError {
    /// An error about the value of `parameter`.
    pub(crate) fn new(parameter: &str, message: impl Into<String>) -> ParamError {
        ParamError { parameter: parameter.to_owned(), message: message.into(), kind: ParamErrorKind::BadValue }
    }

    /// An unknown parameter.
    pub(crate) fn unknown(parameter: &str, message: impl Into<String>) -> ParamError {
        ParamError { parameter: parameter.to_owned(), message: message.into(), kind: ParamErrorKind::Unknown }
    }

    /// A parameter the caller's access profile may not use.
    pub(crate) fn forbidden(parameter: &str, message: impl Into<String>) -> ParamError {
        ParamError { parameter: parameter.to_owned(), message: message.into(), kind: ParamErrorKind::Forbidden }
    }

    /// Whether the parameter is one the caller's access profile may not use.
    pub fn is_forbidden(&self) -> bool {
        self.kind == ParamErrorKind::Forbidden
    }

    /// Whether the parameter is one the route does not take.
    pub fn is_unknown_parameter(&self) -> bool {
        self.kind == ParamErrorKind::Unknown
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parameter, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Where distances are measured from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Centre {
    /// A point, WGS84 degrees.
    Point(GeoPoint),
    /// The centroid of an INSEE commune (the ROR's `near-insee-code`).
    Commune(String),
}

/// A lon/lat rectangle; `min_lon > max_lon` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BBox {
    /// West edge, longitude, WGS84 degrees.
    pub min_lon: f64,
    /// South edge, latitude, WGS84 degrees.
    pub min_lat: f64,
    /// East edge, longitude, WGS84 degrees.
    pub max_lon: f64,
    /// North edge, latitude, WGS84 degrees.
    pub max_lat: f64,
}

impl BBox {
    /// Whether a point is inside (edges included).
    pub(crate) fn contains(&self, point: GeoPoint) -> bool {
        let GeoPoint { lat, lon } = point;
        let lat_inside = self.min_lat <= lat && lat <= self.max_lat;
        let lon_inside = if self.min_lon <= self.max_lon {
            self.min_lon <= lon && lon <= self.max_lon
        } else {
            lon >= self.min_lon || lon <= self.max_lon
        };
        lat_inside && lon_inside
    }
}

/// The order of results. Ties are broken by distance (when there is a centre), then by offer
/// id ascending, so that the order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Nearest first.
    Distance,
    /// Cheapest daily price first (see [`PriceBasis`]); offers without a price last.
    Price,
    /// Most places available now first.
    Available,
    /// Best text match first (BM25).
    Relevance,
    /// EG name, then offer name, alphabetically (case and accents folded).
    Name,
}

/// A search request. Units: degrees, kilometres, years, euro cents.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SearchRequest {
    /// Where distances are measured from; `None`: no distance.
    pub centre: Option<Centre>,
    /// Inclusive radius around the centre, km, in [0, 1000].
    pub radius_km: Option<f64>,
    /// Only offers whose position is inside this rectangle.
    pub bbox: Option<BBox>,
    /// Full-text query: every word must match (the last one also as a prefix).
    pub q: Option<String>,
    /// EG catégorie (TRE_R66), any of.
    pub category: Vec<Code>,
    /// Type d'offre (TRE_R244), any of.
    pub offer_type: Vec<Code>,
    /// Activité opérationnelle (TRE_R211), any of.
    pub activity: Vec<Code>,
    /// Mode de prise en charge (TRE_R213), any of.
    pub care_mode: Vec<Code>,
    /// Temporalité d'accueil (TRE_R240), any of.
    pub reception: Vec<Code>,
    /// Age of the person, years.
    pub age: Option<f64>,
    /// GIR of the person, 1-6.
    pub gir: Option<u8>,
    /// Highest daily price, euro cents.
    pub max_price_cents: Option<i64>,
    /// How the daily price is computed for `max_price_cents` and the price sort.
    pub price_basis: PriceBasis,
    /// Fewest places available now (status `02`, temporality `01`).
    pub min_available: Option<u32>,
    /// Fewest crisis places at T0 (status `06`, temporality `01`).
    pub min_crisis_t0: Option<u32>,
    /// Fewest crisis places at T60 (status `06`, temporality `02`).
    pub min_crisis_t60: Option<u32>,
    /// Whether the EG must (or must not) be habilité à l'aide sociale.
    pub aide_sociale: Option<bool>,
    /// `None`: distance with a centre, else relevance with `q`, else name.
    pub sort: Option<SortKey>,
    /// Results per page, 1-200.
    pub limit: usize,
    /// Results skipped before the page, 0-10000.
    pub offset: usize,
    /// Count facet values (and every match).
    pub facets: bool,
    /// FHIR id of an offer to explain.
    pub explain: Option<String>,
    /// Accepted for compatibility: every total is exact (`engine::plan::count`).
    pub exact_total: bool,
    /// The instant closures are evaluated at (Unix seconds); `None` = now.
    pub now: Option<i64>,
    /// The caller's access profiles: what it may see and filter on (`model::access`). The
    /// engine's default is profile 1 (everything, for local tools); the HTTP service always
    /// sets the caller's.
    #[serde(skip)]
    pub profiles: crate::model::access::ProfileSet,
    /// The members of each result the JSON answers write (`fields=` / `view=`; `id` always);
    /// the typed [`super::SearchResponse`] has them all.
    #[serde(skip)]
    pub fields: super::FieldSet,
}

impl SearchRequest {
    /// Checks combinations of parameters.
    pub fn validate(&self) -> Result<(), ParamError> {
        if self.radius_km.is_some() && self.centre.is_none() {
            return Err(ParamError::new("radius_km", "needs a centre (lat and lon, or commune)"));
        }
        if self.sort == Some(SortKey::Distance) && self.centre.is_none() {
            return Err(ParamError::new("sort", "distance needs a centre (lat and lon, or commune)"));
        }
        if self.sort == Some(SortKey::Relevance) && self.q.is_none() {
            return Err(ParamError::new("sort", "relevance needs a text query (q)"));
        }
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(ParamError::new("limit", format!("{} is out of range: expected 1 to {MAX_LIMIT}", self.limit)));
        }
        if self.offset > MAX_OFFSET {
            return Err(ParamError::new(
                "offset",
                format!("{} is out of range: expected 0 to {MAX_OFFSET}", self.offset),
            ));
        }
        Ok(())
    }

    /// The sort that applies.
    pub(crate) fn effective_sort(&self) -> SortKey {
        self.sort.unwrap_or(if self.centre.is_some() {
            SortKey::Distance
        } else if self.q.is_some() {
            SortKey::Relevance
        } else {
            SortKey::Name
        })
    }
}
