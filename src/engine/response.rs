//! What a search returns (serialised as JSON by the CLI and the HTTP API).
//!
//! Responses borrow from the engine (`'a`): names, codes and addresses are references into the
//! snapshot, labels are `'static`, dates are formatted only when serialised. Rendering a page
//! allocates a handful of vectors, not a string per field.

use std::fmt;

use serde::{Serialize, Serializer};

use super::layout::PositionSource;
use crate::model::rules::PriceBasis;
use crate::util::time::civil_from_days;

/// A UTC instant (Unix seconds) serialised as RFC 3339 (`2024-07-08T18:15:39Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("UTC instant, RFC 3339"))
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ` into a fixed buffer (no formatter machinery: a page of results
    /// writes a few hundred of these). Years outside 0-9999 fall back to `Display`.
    fn rfc3339(self) -> Option<[u8; 20]> {
        let seconds = self.0;
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return None;
        }
        let second_of_day = seconds.rem_euclid(86_400);
        let mut out = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, value: i64, width: usize| {
            let mut value = value;
            for index in (at..at + width).rev() {
                out[index] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, year, 4);
        put(5, i64::from(month), 2);
        put(8, i64::from(day), 2);
        put(11, second_of_day / 3600, 2);
        put(14, (second_of_day % 3600) / 60, 2);
        put(17, second_of_day % 60, 2);
        Some(out)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rfc3339() {
            Some(bytes) => f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?),
            None => self.fmt_general(f),
        }
    }
}

impl Timestamp {
    fn fmt_general(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0;
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let second_of_day = seconds.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            second_of_day / 3600,
            (second_of_day % 3600) / 60,
            second_of_day % 60
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.rfc3339() {
            Some(bytes) => serializer.serialize_str(std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?),
            None => serializer.collect_str(self),
        }
    }
}

/// A code and its label (`null` when the code is not in our tables).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Coded<'a> {
    pub code: &'a str,
    pub label: Option<&'static str>,
}

/// An address.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AddressView<'a> {
    pub lines: &'a [String],
    pub postal_code: Option<&'a str>,
    pub city: Option<&'a str>,
}

/// A commune.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommuneView<'a> {
    pub code: &'a str,
    pub name: Option<&'a str>,
    pub departement: Option<&'a str>,
}

/// The EG of an offer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EgView<'a> {
    /// FHIR id.
    pub id: &'a str,
    pub finess: Option<&'a str>,
    pub name: &'a str,
    pub category: Option<Coded<'a>>,
    pub address: AddressView<'a>,
    pub commune: Option<CommuneView<'a>>,
    /// WGS84 degrees.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub aide_sociale: bool,
    pub orsan_level: Option<Coded<'a>>,
    /// Entité juridique: FHIR id, FINESS and name.
    pub ej_id: Option<&'a str>,
    pub ej_finess: Option<&'a str>,
    pub ej_name: Option<&'a str>,
}

/// The daily price of an offer for the requested GIR and basis.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriceView {
    pub basis: PriceBasis,
    /// The GIR asked for, if any.
    pub gir: Option<u8>,
    /// The TRE_R237 band whose dépendance tariff is used.
    pub dependance_band: Coded<'static>,
    pub hebergement_cents: i64,
    pub dependance_cents: i64,
    pub daily_total_cents: i64,
    pub hebergement_eur: f64,
    pub dependance_eur: f64,
    pub daily_total_eur: f64,
}

/// Capacities of an offer (over its locations) with the newest update date of each.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CapacityView {
    pub installed: u32,
    pub installed_updated_at: Option<Timestamp>,
    pub available: u32,
    pub available_updated_at: Option<Timestamp>,
    pub crisis_t0: u32,
    pub crisis_t0_updated_at: Option<Timestamp>,
    pub crisis_t60: u32,
    pub crisis_t60_updated_at: Option<Timestamp>,
}

/// One offer in the results.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OfferHit<'a> {
    /// FHIR id of the `HealthcareService`.
    pub id: &'a str,
    /// Identifiant fonctionnel (`06/0099999`).
    pub identifier: Option<&'a str>,
    pub name: &'a str,
    pub offer_type: Option<Coded<'a>>,
    pub activity_field: Option<Coded<'a>>,
    pub activity: Option<Coded<'a>>,
    pub care_mode: Option<Coded<'a>>,
    pub reception: Option<Coded<'a>>,
    pub age_min_years: Option<f64>,
    pub age_max_years: Option<f64>,
    pub eg: Option<EgView<'a>>,
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
    pub last_updated: Option<Timestamp>,
}

/// One facet value.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FacetValue<'a> {
    pub code: &'a str,
    pub label: Option<&'static str>,
    pub count: u64,
}

/// Counts of matching offers, largest first (then by code).
#[derive(Debug, Clone, PartialEq, Serialize, Default, utoipa::ToSchema)]
pub struct Facets<'a> {
    pub category: Vec<FacetValue<'a>>,
    pub offer_type: Vec<FacetValue<'a>>,
    pub departement: Vec<FacetValue<'a>>,
}

/// One criterion of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Criterion {
    /// The parameter (`category`, `max_price`, `radius_km`, `q`, `closed`...).
    pub parameter: String,
    pub passed: bool,
    /// What the offer has against what was asked.
    pub detail: String,
}

/// Why an offer matched or not.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation<'a> {
    pub offer_id: &'a str,
    pub matched: bool,
    /// 1-based rank among all matches, when it matched.
    pub rank: Option<u64>,
    /// Whether it is on the returned page.
    pub on_this_page: bool,
    /// The plan the request took.
    pub strategy: Option<crate::engine::plan::Strategy>,
    pub criteria: Vec<Criterion>,
}

/// The centre the distances are measured from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CentreView<'a> {
    pub lat: f64,
    pub lon: f64,
    pub commune: Option<CommuneView<'a>>,
}

/// A search response.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResponse<'a> {
    /// The snapshot the answer comes from.
    pub snapshot: &'a str,
    /// Number of matching offers: exact when `total_exact`, else a lower bound (the nearest
    /// offers were found without visiting every match; ask `exact_total=true` to count all).
    pub total: u64,
    pub total_exact: bool,
    pub offset: usize,
    pub limit: usize,
    pub sort: super::request::SortKey,
    pub centre: Option<CentreView<'a>>,
    pub results: Vec<OfferHit<'a>>,
    pub facets: Option<Facets<'a>>,
    pub explain: Option<Explanation<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_serialise_as_rfc3339() {
        assert_eq!(Timestamp(1_720_462_539).to_string(), "2024-07-08T18:15:39Z");
        assert_eq!(serde_json::to_string(&Timestamp(0)).unwrap(), "\"1970-01-01T00:00:00Z\"");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59Z");
    }

    struct General(Timestamp);
    impl fmt::Display for General {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fmt_general(f)
        }
    }

    #[test]
    fn the_fast_timestamp_format_agrees_with_the_general_one() {
        let mut rng = crate::util::rng::SplitMix64::new(11);
        for _ in 0..20_000 {
            // 1900 .. 2200, and the edges of the fast path's range
            let seconds = -2_208_988_800 + (rng.next_u64() % 9_467_280_000) as i64;
            for timestamp in [Timestamp(seconds), Timestamp(seconds.rem_euclid(86_400))] {
                assert_eq!(timestamp.to_string(), General(timestamp).to_string());
                let json = serde_json::to_string(&timestamp).unwrap();
                assert_eq!(json, format!("\"{}\"", General(timestamp)));
            }
        }
        let last = Timestamp(253_402_300_799); // 9999-12-31T23:59:59Z
        assert_eq!(last.to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(Timestamp(253_402_300_800).to_string(), General(Timestamp(253_402_300_800)).to_string());
        assert_eq!(Timestamp(-62_167_219_200).to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(Timestamp(-62_167_219_201).to_string(), General(Timestamp(-62_167_219_201)).to_string());
    }
}
