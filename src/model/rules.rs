//! Business rules in one place: GIR bands and acceptance, which tariff makes the daily price,
//! which capacity records make "available now" and the crisis counts.
//!
//! The engine, the brute-force reference of the tests and the documentation all follow these
//! functions; change a rule here and everywhere follows.

use super::{CapacityRecord, Eg, Offer, Tariff};
use crate::util::time::UnixSeconds;

/// TRE_R241 aide financière code "Habilité Aide Sociale".
pub(crate) const AIDE_SOCIALE_CODE: &str = "02";

/// TRE_R246 type de tarif "Forfait socle hébergement".
pub(crate) const PRICE_TYPE_HEBERGEMENT: &str = "02";
/// TRE_R246 type de tarif "Dépendance".
pub(crate) const PRICE_TYPE_DEPENDANCE: &str = "03";
/// TRE_R228 unité de prix "Tarif journalier".
pub(crate) const PRICE_UNIT_DAILY: &str = "2";
/// TRE_R240 temporalité d'accueil "Permanent".
pub(crate) const RECEPTION_PERMANENT: &str = "02";
/// TRE_R240 temporalité d'accueil "Temporaire".
pub(crate) const RECEPTION_TEMPORARY: &str = "01";
/// TRE_R242 type d'habitation "Chambre simple".
pub(crate) const RESIDENTIAL_SINGLE_ROOM: &str = "02";

/// TRE_R330 statut "Installé".
pub(crate) const STATUS_INSTALLED: &str = "01";
/// TRE_R330 statut "Disponible".
pub(crate) const STATUS_AVAILABLE: &str = "02";
/// TRE_R330 statut "Supplémentaire" (tension / crisis beds).
pub(crate) const STATUS_SUPPLEMENTARY: &str = "06";
/// TRE_R331 temporalité "Courant" (now; T0).
pub(crate) const TEMPORALITY_CURRENT: &str = "01";
/// TRE_R331 temporalité "Prévisionnel 1 heure" (T60).
pub(crate) const TEMPORALITY_ONE_HOUR: &str = "02";

/// The three GIR tariff bands of TRE_R237, as codes.
pub(crate) const GIR_BANDS: [&str; 3] = ["01", "02", "03"];

/// The TRE_R237 tariff band of a GIR (1-2 → `01`, 3-4 → `02`, 5-6 → `03`), `None` outside 1-6.
pub(crate) fn gir_band(gir: u8) -> Option<&'static str> {
    match gir {
        1 | 2 => Some("01"),
        3 | 4 => Some("02"),
        5 | 6 => Some("03"),
        _ => None,
    }
}

/// Band index 0..3 of a TRE_R237 code.
pub(crate) fn gir_band_index(band: &str) -> Option<usize> {
    GIR_BANDS.iter().position(|&candidate| candidate == band)
}

/// Which GIR an offer accepts, by type d'offre (TRE_R244). The one GIR table of the project.
///
/// | type d'offre | public | accepted GIR |
/// |---|---|---|
/// | 21, 23, 24, 25, 26 | personnes âgées dépendantes (EHPAD, UHR, UVP, PASA, PUV) | 1-6 |
/// | 22, 27 | personnes âgées autonomes (résidence, MARPA) | 5-6 |
/// | anything else, or none | not an elderly-care offer | not filtered by GIR |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GirPolicy {
    /// Dependent elderly people: every GIR.
    Dependent,
    /// Autonomous elderly people: GIR 5-6 only.
    Autonomous,
    /// The offer is not filtered by GIR.
    NotApplicable,
}

impl GirPolicy {
    /// The policy of a type d'offre code.
    pub fn of_offer_type(offer_type: Option<&str>) -> GirPolicy {
        match offer_type {
            Some("21" | "23" | "24" | "25" | "26") => GirPolicy::Dependent,
            Some("22" | "27") => GirPolicy::Autonomous,
            _ => GirPolicy::NotApplicable,
        }
    }

    /// Whether a person of this GIR (1-6) is accepted.
    pub fn accepts(self, gir: u8) -> bool {
        match self {
            GirPolicy::Dependent | GirPolicy::NotApplicable => (1..=6).contains(&gir),
            GirPolicy::Autonomous => (5..=6).contains(&gir),
        }
    }
}

/// The daily hébergement price of an EG, in cents: the forfait socle hébergement (type `02`),
/// daily (unit `2`), permanent (welcome type `02`, or unspecified), not the under-60 tariff.
/// When several qualify, the first by: explicit permanent, single room (TRE_R242 `02`), no
/// condition tarifaire, newest `valid_from`, lowest amount.
pub(crate) fn daily_hebergement_cents(tariffs: &[Tariff]) -> Option<i64> {
    select_hebergement(tariffs).map(|tariff| tariff.amount_cents)
}

/// The tariff `daily_hebergement_cents` reads.
pub(crate) fn select_hebergement(tariffs: &[Tariff]) -> Option<&Tariff> {
    tariffs
        .iter()
        .filter(|tariff| {
            tariff.price_type == PRICE_TYPE_HEBERGEMENT
                && tariff.unit == PRICE_UNIT_DAILY
                && tariff.welcome_type.as_deref().is_none_or(|welcome| welcome == RECEPTION_PERMANENT)
                && tariff.under_60 != Some(true)
        })
        .min_by_key(|tariff| {
            (
                tariff.welcome_type.is_none(),
                tariff.residential_type.as_deref() != Some(RESIDENTIAL_SINGLE_ROOM),
                tariff.special_price.is_some(),
                std::cmp::Reverse(tariff.valid_from.unwrap_or(i64::MIN)),
                tariff.amount_cents,
            )
        })
}

/// The daily dépendance tariff of a band (`01`, `02`, `03`), in cents: type `03`, unit `2`;
/// the newest `valid_from` when several, then the lowest amount.
pub(crate) fn daily_dependance_cents(tariffs: &[Tariff], band: &str) -> Option<i64> {
    tariffs
        .iter()
        .filter(|tariff| {
            tariff.price_type == PRICE_TYPE_DEPENDANCE
                && tariff.unit == PRICE_UNIT_DAILY
                && tariff.dependency_level.as_deref() == Some(band)
        })
        .min_by_key(|tariff| (std::cmp::Reverse(tariff.valid_from.unwrap_or(i64::MIN)), tariff.amount_cents))
        .map(|tariff| tariff.amount_cents)
}

/// How a daily price is computed for a GIR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// Hébergement + dépendance tariff of the person's GIR band.
    #[default]
    Gross,
    /// Hébergement + dépendance tariff of band `03` (GIR 5-6, the ticket modérateur the
    /// resident pays whatever the GIR; the APA pays the rest).
    OutOfPocket,
}

/// The EG prices an offer's daily price is made of, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EgPrices {
    /// Daily hébergement (see `daily_hebergement_cents`).
    pub hebergement_cents: Option<i64>,
    /// Daily dépendance tariff by band `01`, `02`, `03`.
    pub dependance_cents: [Option<i64>; 3],
}

impl EgPrices {
    /// Reads the prices of an EG's tariffs.
    pub fn of_tariffs(tariffs: &[Tariff]) -> EgPrices {
        EgPrices {
            hebergement_cents: daily_hebergement_cents(tariffs),
            dependance_cents: GIR_BANDS.map(|band| daily_dependance_cents(tariffs, band)),
        }
    }

    /// The band whose dépendance tariff counts for `gir` (or none given) under `basis`.
    pub(crate) fn band_index(gir: Option<u8>, basis: PriceBasis) -> usize {
        match (basis, gir.and_then(gir_band)) {
            (PriceBasis::Gross, Some(band)) => gir_band_index(band).unwrap_or(2),
            _ => 2,
        }
    }

    /// The daily total in cents: hébergement + dépendance of the band; `None` when either is
    /// missing.
    pub fn daily_total_cents(&self, gir: Option<u8>, basis: PriceBasis) -> Option<i64> {
        let dependance = self.dependance_cents[Self::band_index(gir, basis)]?;
        Some(self.hebergement_cents? + dependance)
    }
}

/// Capacity totals of an offer (over its locations), with the newest update date that fed each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CapacityTotals {
    /// Installed: status `01`, temporality `01`, summed over genders.
    pub installed: u32,
    pub(crate) installed_updated_at: Option<UnixSeconds>,
    /// Available now: status `02` disponible, temporality `01` courant, summed over genders.
    pub available: u32,
    /// Newest `capacityUpdateDate` among the records counted in `available`, Unix seconds.
    pub available_updated_at: Option<UnixSeconds>,
    /// Crisis T0: status `06` supplémentaire, temporality `01`.
    pub crisis_t0: u32,
    pub(crate) crisis_t0_updated_at: Option<UnixSeconds>,
    /// Crisis T60: status `06` supplémentaire, temporality `02` (prévisionnel 1 h).
    pub crisis_t60: u32,
    pub(crate) crisis_t60_updated_at: Option<UnixSeconds>,
}

impl CapacityTotals {
    /// Adds one capacity record to the totals it belongs to.
    pub(crate) fn add(&mut self, record: &CapacityRecord) {
        // A disponible or installé record with a type de lit supplémentaire or de crise is a
        // crisis record (it is masked with them, `model::access`): it counts in no total.
        let crisis_fields = record.additional_bed_type.is_some() || record.crisis_type.is_some();
        if crisis_fields && record.status != STATUS_SUPPLEMENTARY {
            return;
        }
        let slot = match (record.status.as_str(), record.temporality.as_str()) {
            (STATUS_INSTALLED, TEMPORALITY_CURRENT) => Some((&mut self.installed, &mut self.installed_updated_at)),
            (STATUS_AVAILABLE, TEMPORALITY_CURRENT) => Some((&mut self.available, &mut self.available_updated_at)),
            (STATUS_SUPPLEMENTARY, TEMPORALITY_CURRENT) => Some((&mut self.crisis_t0, &mut self.crisis_t0_updated_at)),
            (STATUS_SUPPLEMENTARY, TEMPORALITY_ONE_HOUR) => {
                Some((&mut self.crisis_t60, &mut self.crisis_t60_updated_at))
            }
            _ => None,
        };
        if let Some((count, updated_at)) = slot {
            *count = count.saturating_add(record.count);
            if record.updated_at > *updated_at {
                *updated_at = record.updated_at;
            }
        }
    }

    /// Totals over a list of records.
    pub fn of_records<'a>(records: impl IntoIterator<Item = &'a CapacityRecord>) -> CapacityTotals {
        let mut totals = CapacityTotals::default();
        for record in records {
            totals.add(record);
        }
        totals
    }
}

/// Whether an offer is closed at `now`: its own closing date has passed and its reopening
/// date (if any) has not, or its EG closed (closing an upper level closes everything below it,
/// RG_EXP_043/044).
pub fn offer_closed_at(offer: &Offer, eg: Option<&Eg>, now: UnixSeconds) -> bool {
    let offer_closed =
        offer.closed_from.is_some_and(|from| from <= now) && offer.reopens_at.is_none_or(|reopen| reopen > now);
    let eg_closed = eg.and_then(|eg| eg.closed_at).is_some_and(|closed| closed <= now);
    offer_closed || eg_closed
}

/// Converts an age quantity to years from its UCUM unit (`a`, `mo`, `wk`, `d`; none = years).
pub(crate) fn age_in_years(value: f64, unit: Option<&str>) -> Option<f64> {
    match unit {
        None | Some("a") | Some("") => Some(value),
        Some("mo") => Some(value / 12.0),
        Some("wk") => Some(value * 7.0 / 365.25),
        Some("d") => Some(value / 365.25),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tariff(price_type: &str, amount_cents: i64) -> Tariff {
        Tariff { price_type: price_type.into(), unit: PRICE_UNIT_DAILY.into(), amount_cents, ..Tariff::default() }
    }

    #[test]
    fn gir_bands_and_policy() {
        assert_eq!(gir_band(2), Some("01"));
        assert_eq!(gir_band(4), Some("02"));
        assert_eq!(gir_band(6), Some("03"));
        assert_eq!(gir_band(0), None);
        assert!(GirPolicy::of_offer_type(Some("21")).accepts(1));
        assert!(!GirPolicy::of_offer_type(Some("27")).accepts(4));
        assert!(GirPolicy::of_offer_type(Some("22")).accepts(5));
        assert!(GirPolicy::of_offer_type(Some("157")).accepts(2));
    }

    #[test]
    fn hebergement_prefers_single_room_permanent_not_under_60() {
        let mut under_60 = tariff(PRICE_TYPE_HEBERGEMENT, 5_000);
        under_60.under_60 = Some(true);
        let mut double = tariff(PRICE_TYPE_HEBERGEMENT, 6_000);
        double.welcome_type = Some(RECEPTION_PERMANENT.into());
        double.residential_type = Some("01".into());
        let mut single = tariff(PRICE_TYPE_HEBERGEMENT, 7_000);
        single.welcome_type = Some(RECEPTION_PERMANENT.into());
        single.residential_type = Some(RESIDENTIAL_SINGLE_ROOM.into());
        let mut temporary = tariff(PRICE_TYPE_HEBERGEMENT, 1_000);
        temporary.welcome_type = Some(RECEPTION_TEMPORARY.into());
        let tariffs = vec![under_60, double, single, temporary];
        assert_eq!(daily_hebergement_cents(&tariffs), Some(7_000));
    }

    #[test]
    fn daily_totals_by_basis() {
        let mut gir12 = tariff(PRICE_TYPE_DEPENDANCE, 2_000);
        gir12.dependency_level = Some("01".into());
        let mut gir56 = tariff(PRICE_TYPE_DEPENDANCE, 600);
        gir56.dependency_level = Some("03".into());
        let prices = EgPrices::of_tariffs(&[tariff(PRICE_TYPE_HEBERGEMENT, 7_000), gir12, gir56]);
        assert_eq!(prices.daily_total_cents(Some(2), PriceBasis::Gross), Some(9_000));
        assert_eq!(prices.daily_total_cents(Some(2), PriceBasis::OutOfPocket), Some(7_600));
        assert_eq!(prices.daily_total_cents(None, PriceBasis::Gross), Some(7_600));
        assert_eq!(prices.daily_total_cents(Some(3), PriceBasis::Gross), None);
    }

    #[test]
    fn ages_normalise_to_years() {
        assert_eq!(age_in_years(18.0, Some("a")), Some(18.0));
        assert_eq!(age_in_years(6.0, Some("mo")), Some(0.5));
        assert_eq!(age_in_years(3.0, Some("kg")), None);
    }
}
