//! What a search returns (serialised as JSON by the CLI and the HTTP API).

use serde::Serialize;

use super::layout::PositionSource;
use crate::model::rules::PriceBasis;

/// A code and its label (`null` when the code is not in our tables).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coded {
    pub code: String,
    pub label: Option<&'static str>,
}

/// An address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressView {
    pub lines: Vec<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
}

/// A commune.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommuneView {
    pub code: String,
    pub name: Option<String>,
    pub departement: Option<String>,
}

/// The EG of an offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EgView {
    /// FHIR id.
    pub id: String,
    pub finess: Option<String>,
    pub name: String,
    pub category: Option<Coded>,
    pub address: AddressView,
    pub commune: Option<CommuneView>,
    /// WGS84 degrees.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub aide_sociale: bool,
    pub orsan_level: Option<Coded>,
    /// Entité juridique: FHIR id, FINESS and name.
    pub ej_id: Option<String>,
    pub ej_finess: Option<String>,
    pub ej_name: Option<String>,
}

/// The daily price of an offer for the requested GIR and basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceView {
    pub basis: PriceBasis,
    /// The GIR asked for, if any.
    pub gir: Option<u8>,
    /// The TRE_R237 band whose dépendance tariff is used.
    pub dependance_band: Coded,
    pub hebergement_cents: i64,
    pub dependance_cents: i64,
    pub daily_total_cents: i64,
    pub hebergement_eur: f64,
    pub dependance_eur: f64,
    pub daily_total_eur: f64,
}

/// Capacities of an offer (over its locations) with the newest update date of each.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityView {
    pub installed: u32,
    pub installed_updated_at: Option<String>,
    pub available: u32,
    pub available_updated_at: Option<String>,
    pub crisis_t0: u32,
    pub crisis_t0_updated_at: Option<String>,
    pub crisis_t60: u32,
    pub crisis_t60_updated_at: Option<String>,
}

/// One offer in the results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferHit {
    /// FHIR id of the `HealthcareService`.
    pub id: String,
    /// Identifiant fonctionnel (`06/0099999`).
    pub identifier: Option<String>,
    pub name: String,
    pub offer_type: Option<Coded>,
    pub activity_field: Option<Coded>,
    pub activity: Option<Coded>,
    pub care_mode: Option<Coded>,
    pub reception: Option<Coded>,
    pub age_min_years: Option<f64>,
    pub age_max_years: Option<f64>,
    pub eg: Option<EgView>,
    /// The search position and where it came from.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub position_source: Option<PositionSource>,
    /// Great-circle distance from the centre, metres.
    pub distance_m: Option<f64>,
    pub price: Option<PriceView>,
    pub capacity: CapacityView,
    /// BM25 score, when the query has text.
    pub score: Option<f32>,
    pub last_updated: Option<String>,
}

/// One facet value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FacetValue {
    pub code: String,
    pub label: Option<&'static str>,
    pub count: u64,
}

/// Counts of matching offers, largest first (then by code).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Facets {
    pub category: Vec<FacetValue>,
    pub offer_type: Vec<FacetValue>,
    pub departement: Vec<FacetValue>,
}

/// One criterion of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    /// The parameter (`category`, `max_price`, `radius_km`, `q`, `closed`...).
    pub parameter: String,
    pub passed: bool,
    /// What the offer has against what was asked.
    pub detail: String,
}

/// Why an offer matched or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub offer_id: String,
    pub matched: bool,
    /// 1-based rank among all matches, when it matched.
    pub rank: Option<u64>,
    /// Whether it is on the returned page.
    pub on_this_page: bool,
    pub criteria: Vec<Criterion>,
}

/// The centre the distances are measured from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CentreView {
    pub lat: f64,
    pub lon: f64,
    pub commune: Option<CommuneView>,
}

/// A search response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResponse {
    /// The snapshot the answer comes from.
    pub snapshot: String,
    /// Number of matching offers: exact when `total_exact`, else a lower bound (the nearest
    /// offers were found without visiting every match; ask `exact_total=true` to count all).
    pub total: u64,
    pub total_exact: bool,
    pub offset: usize,
    pub limit: usize,
    pub sort: super::request::SortKey,
    pub centre: Option<CentreView>,
    pub results: Vec<OfferHit>,
    pub facets: Option<Facets>,
    pub explain: Option<Explanation>,
}
