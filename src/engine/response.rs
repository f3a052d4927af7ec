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
    pub(crate) fn rfc3339(self) -> Option<[u8; 20]> {
        let seconds = self.0;
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        if !(0..=9999).contains(&year) {
            return None;
        }
        let second_of_day = seconds.rem_euclid(86_400) as u32;
        let (year, minute_of_day) = (year as u32, second_of_day / 60);
        let mut out = *b"0000-00-00T00:00:00Z";
        // Two digits at a time from a table: a page of results writes a few hundred of these.
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        let mut put = |at: usize, value: u32| {
            let index = 2 * value as usize;
            out[at..at + 2].copy_from_slice(&PAIRS[index..index + 2]);
        };
        put(0, year / 100);
        put(2, year % 100);
        put(5, month);
        put(8, day);
        put(11, minute_of_day / 60);
        put(14, minute_of_day % 60);
        put(17, second_of_day % 60);
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
    /// The code, as the NOS writes it (`500`, `01`).
    pub code: &'a str,
    /// Its label from the NOS table, `null` when the code is not in our tables.
    pub label: Option<&'static str>,
}

/// An address.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AddressView<'a> {
    /// Address lines, in order.
    pub lines: &'a [String],
    /// Postal code (`45000`).
    pub postal_code: Option<&'a str>,
    /// City name, as the feed writes it.
    pub city: Option<&'a str>,
}

/// A commune.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommuneView<'a> {
    /// INSEE COG code (`45234`, `2A004`).
    pub code: &'a str,
    /// Name of the commune, when it is in the communes table.
    pub name: Option<&'a str>,
    /// INSEE département code (`45`, `2A`, `974`).
    pub departement: Option<&'a str>,
}

/// The EG of an offer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct EgView<'a> {
    /// FHIR id of the EG's `Organization`.
    pub id: &'a str,
    /// FINESS ET number (9 characters).
    pub finess: Option<&'a str>,
    /// Dénomination of the EG.
    pub name: &'a str,
    /// Catégorie d'établissement (TRE_R66; `500` = EHPAD).
    pub category: Option<Coded<'a>>,
    /// Postal address of the EG.
    pub address: AddressView<'a>,
    /// The commune of the EG's address.
    pub commune: Option<CommuneView<'a>>,
    /// Latitude of the EG's position, WGS84 degrees.
    pub lat: Option<f64>,
    /// Longitude of the EG's position, WGS84 degrees.
    pub lon: Option<f64>,
    /// Whether the EG is habilité à l'aide sociale (aide financière `02`, TRE_R241).
    pub aide_sociale: bool,
    /// Niveau de recours ORSAN (TRE_R284: `1` première ligne, `4` deuxième ligne); absent for
    /// the access profiles that do not see it (all but 1), `null` when the EG has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Coded>)]
    pub orsan_level: Option<Option<Coded<'a>>>,
    /// FHIR id of the entité juridique.
    pub(crate) ej_id: Option<&'a str>,
    /// FINESS EJ number of the entité juridique.
    pub(crate) ej_finess: Option<&'a str>,
    /// Name (raison sociale) of the entité juridique.
    pub(crate) ej_name: Option<&'a str>,
}

/// The daily price of an offer for the requested GIR and basis.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PriceView {
    /// How the price is computed (`gross` or `out_of_pocket`).
    pub(crate) basis: PriceBasis,
    /// The GIR asked for, if any.
    pub gir: Option<u8>,
    /// The TRE_R237 band whose dépendance tariff is used.
    pub dependance_band: Coded<'static>,
    /// Daily forfait socle hébergement, euro cents.
    pub hebergement_cents: i64,
    /// Daily dépendance tariff of the band, euro cents.
    pub dependance_cents: i64,
    /// Hébergement + dépendance per day, euro cents.
    pub daily_total_cents: i64,
    /// Daily forfait socle hébergement, euros.
    pub(crate) hebergement_eur: f64,
    /// Daily dépendance tariff of the band, euros.
    pub(crate) dependance_eur: f64,
    /// Hébergement + dépendance per day, euros.
    pub daily_total_eur: f64,
}

/// Capacities of an offer (over its locations) with the newest update date of each. A count
/// the caller's access profile does not see is absent, with its date (`model::access`:
/// installed, operational and supplementary capacities are ruled apart).
#[derive(Debug, Clone, PartialEq, Default, Serialize, utoipa::ToSchema)]
pub struct CapacityView {
    /// Installed places (status `01` installé, temporality `01` courant), summed over genders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<u32>,
    /// Newest `capacityUpdateDate` of the records counted in `installed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timestamp>)]
    pub(crate) installed_updated_at: Option<Option<Timestamp>>,
    /// Places available now (status `02` disponible, temporality `01` courant), summed over
    /// genders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<u32>,
    /// Newest `capacityUpdateDate` of the records counted in `available`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timestamp>)]
    pub available_updated_at: Option<Option<Timestamp>>,
    /// Crisis places now, T0 (status `06` supplémentaire, temporality `01`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_t0: Option<u32>,
    /// Newest `capacityUpdateDate` of the records counted in `crisis_t0`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timestamp>)]
    pub(crate) crisis_t0_updated_at: Option<Option<Timestamp>>,
    /// Crisis places within the hour, T60 (status `06` supplémentaire, temporality `02`
    /// prévisionnel 1 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crisis_t60: Option<u32>,
    /// Newest `capacityUpdateDate` of the records counted in `crisis_t60`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timestamp>)]
    pub(crate) crisis_t60_updated_at: Option<Option<Timestamp>>,
}

/// One offer in the results.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OfferHit<'a> {
    /// FHIR id of the `HealthcareService`.
    pub id: &'a str,
    /// Identifiant fonctionnel (`06/0099999`).
    pub identifier: Option<&'a str>,
    /// Name of the offer.
    pub name: &'a str,
    /// Type d'offre (TRE_R244).
    pub offer_type: Option<Coded<'a>>,
    /// Champ d'activité (TRE_R227).
    pub activity_field: Option<Coded<'a>>,
    /// Activité opérationnelle (TRE_R211).
    pub activity: Option<Coded<'a>>,
    /// Mode de prise en charge (TRE_R213).
    pub care_mode: Option<Coded<'a>>,
    /// Temporalité d'accueil (TRE_R240: `01` temporaire, `02` permanent).
    pub reception: Option<Coded<'a>>,
    /// Lowest age accepted, years; `null`: no lower bound.
    pub(crate) age_min_years: Option<f64>,
    /// Highest age accepted, years; `null`: no upper bound.
    pub(crate) age_max_years: Option<f64>,
    /// The EG the offer hangs under; `null` when it is provided by an entité juridique.
    pub eg: Option<EgView<'a>>,
    /// Latitude of the search position, WGS84 degrees.
    pub lat: Option<f64>,
    /// Longitude of the search position, WGS84 degrees.
    pub lon: Option<f64>,
    /// Where the search position comes from (a location, the EG, a commune centroid).
    pub(crate) position_source: Option<PositionSource>,
    /// Distance from the centre, metres (haversine); `null` without a centre.
    pub distance_m: Option<f64>,
    /// The daily price for the GIR and basis asked; `null` when the EG lacks a needed tariff.
    pub price: Option<PriceView>,
    /// Capacities over the offer's locations.
    pub capacity: CapacityView,
    /// BM25 score, when the query has text.
    pub(crate) score: Option<f32>,
    /// `meta.lastUpdated` of the offer.
    pub last_updated: Option<Timestamp>,
}

/// One facet value.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FacetValue<'a> {
    /// The code (`500`, `45`).
    pub code: &'a str,
    /// Its label, `null` when the code is not in our tables (or for a département).
    pub label: Option<&'static str>,
    /// Matching offers with this value.
    pub count: u64,
}

/// Counts of matching offers, largest first (then by code).
#[derive(Debug, Clone, PartialEq, Serialize, Default, utoipa::ToSchema)]
pub struct Facets<'a> {
    /// By catégorie d'établissement of the EG (TRE_R66).
    pub category: Vec<FacetValue<'a>>,
    /// By type d'offre (TRE_R244).
    pub offer_type: Vec<FacetValue<'a>>,
    /// By INSEE département.
    pub departement: Vec<FacetValue<'a>>,
}

/// One criterion of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Criterion {
    /// The parameter (`category`, `max_price`, `radius_km`, `q`, `closed`...).
    pub parameter: String,
    /// Whether the offer passes it.
    pub passed: bool,
    /// What the offer has against what was asked.
    pub detail: String,
}

/// Why an offer matched or not.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Explanation<'a> {
    /// FHIR id of the offer explained.
    pub offer_id: &'a str,
    /// Whether the offer matches the request.
    pub matched: bool,
    /// 1-based rank among all matches, when it matched.
    pub rank: Option<u64>,
    /// Whether it is on the returned page.
    pub(crate) on_this_page: bool,
    /// The plan the request took.
    pub(crate) strategy: Option<crate::engine::plan::Strategy>,
    /// Each criterion of the request, passed or failed.
    pub criteria: Vec<Criterion>,
}

/// The centre the distances are measured from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CentreView<'a> {
    /// Latitude of the centre, WGS84 degrees.
    pub lat: f64,
    /// Longitude of the centre, WGS84 degrees.
    pub lon: f64,
    /// The commune, when the centre is a commune's centroid.
    pub commune: Option<CommuneView<'a>>,
}

/// A search response.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResponse<'a> {
    /// The snapshot the answer comes from.
    pub snapshot: &'a str,
    /// Number of matching offers, exact: a walk that found its page early has its matches
    /// counted apart (`engine::plan::count`).
    pub total: u64,
    /// Whether `total` is exact: always true (kept for the clients that read it).
    pub total_exact: bool,
    /// Results skipped before this page.
    pub offset: usize,
    /// Results per page asked for.
    pub limit: usize,
    /// The order of the results.
    pub sort: super::request::SortKey,
    /// The centre the distances are measured from, when one was given.
    pub centre: Option<CentreView<'a>>,
    /// The page of results.
    pub results: Vec<OfferHit<'a>>,
    /// Counts of matching offers by value, when `facets` was asked.
    pub facets: Option<Facets<'a>>,
    /// The explanation of the offer named by `explain`, when asked.
    pub explain: Option<Explanation<'a>>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A result with every member and every optional field set, strings that need escaping.
    pub(crate) fn full_hit() -> OfferHit<'static> {
        let lines: &'static [String] = Box::leak(vec!["1 rue \"A\"".to_owned(), "BP 12".to_owned()].into_boxed_slice());
        let coded = |code| Some(Coded { code, label: Some("Label \"é\" \\ \u{1}") });
        OfferHit {
            id: "hs-\"1\"",
            identifier: Some("06/0099999"),
            name: "EHPAD {les [Tilleuls]}, \"l'Étang\"",
            offer_type: coded("21"),
            activity_field: coded("03"),
            activity: coded("657"),
            care_mode: Some(Coded { code: "46", label: None }),
            reception: coded("02"),
            age_min_years: Some(60.0),
            age_max_years: Some(120.5),
            eg: Some(EgView {
                id: "eg-1",
                finess: Some("450000000"),
                name: "Résidence, \"}\"",
                category: coded("500"),
                address: AddressView { lines, postal_code: Some("45000"), city: Some("Orléans") },
                commune: Some(CommuneView { code: "45234", name: Some("Orléans"), departement: Some("45") }),
                lat: Some(47.9),
                lon: Some(1.9),
                aide_sociale: true,
                orsan_level: Some(coded("1")),
                ej_id: Some("ej-1"),
                ej_finess: None,
                ej_name: Some("Association ,\"orsan_level\":"),
            }),
            lat: Some(47.902_964),
            lon: Some(1.909_251),
            position_source: Some(PositionSource::Location),
            distance_m: Some(1_234.567_89),
            price: Some(PriceView {
                basis: PriceBasis::Gross,
                gir: Some(2),
                dependance_band: Coded { code: "01", label: Some("GIR 1-2") },
                hebergement_cents: 6_512,
                dependance_cents: 2_107,
                daily_total_cents: 8_619,
                hebergement_eur: 65.12,
                dependance_eur: 21.07,
                daily_total_eur: 86.19,
            }),
            capacity: CapacityView {
                installed: Some(80),
                installed_updated_at: Some(Some(Timestamp(1_720_462_539))),
                available: Some(3),
                available_updated_at: Some(None),
                crisis_t0: None,
                crisis_t0_updated_at: None,
                crisis_t60: Some(0),
                crisis_t60_updated_at: Some(Some(Timestamp(0))),
            },
            score: Some(3.25),
            last_updated: Some(Timestamp(1_700_000_000)),
        }
    }

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
