//! The checks of the rules of [`crate::model::quality::RULES`] over a dataset: pure functions of
//! the records, their capacity records (the snapshot's or the live ones) and `now`.

use rustc_hash::FxHashMap;

use super::{Finding, RecordRef};
use crate::engine::layout::{commune_by_code, departement_of_commune, offer_commune};
use crate::model::place::Commune;
use crate::model::quality::{
    CapacityKind, DEPENDANCE_DAILY_CENTS, ELDERLY_MIN_MAX_AGE_YEARS, FAR_FROM_COMMUNE_GUYANE_KM, FAR_FROM_COMMUNE_KM,
    HEBERGEMENT_DAILY_CENTS, MAX_AGE_YEARS, OFFER_STALE_DAYS, RuleId,
};
use crate::model::rules::{
    CapacityTotals, GIR_BANDS, GirPolicy, daily_dependance_cents, offer_closed_at, select_hebergement,
};
use crate::model::{CapacityRecord, Code, Dataset, Eg};
use crate::util::geo::haversine_m;
use crate::util::time::{DAY_SECONDS, UnixSeconds, format_rfc3339};

/// Catégorie d'établissement of an EHPAD (TRE_R66).
const CATEGORY_EHPAD: &str = "500";
/// Catégorie d'établissement of a résidence autonomie (TRE_R66).
const CATEGORY_RESIDENCE_AUTONOMIE: &str = "202";

/// The indexes of a dataset the checks walk (owned, so that a report keeps them between
/// refreshes).
pub(crate) struct CheckIndex {
    /// Offers of location `l`: `location_offers[location_start[l]..location_start[l + 1]]`.
    location_start: Vec<u32>,
    location_offers: Vec<u32>,
    /// Département of each offer (its first location's commune, else its EG's).
    offer_departement: Vec<Option<Code>>,
    /// Département of each EG (its address's commune, else its first offer's).
    eg_departement: Vec<Option<Code>>,
}

impl CheckIndex {
    /// Indexes a dataset for the checks.
    pub(crate) fn new(dataset: &Dataset) -> CheckIndex {
        // The engine's rows (a build has no engine).
        let (location_start, location_offers) = crate::engine::lookup::location_offer_rows(dataset);
        let offer_departement: Vec<Option<Code>> = dataset
            .offers
            .iter()
            .map(|offer| offer_commune(dataset, offer).and_then(departement_of_commune).map(Code::from))
            .collect();
        let mut eg_departement: Vec<Option<Code>> = dataset
            .egs
            .iter()
            .map(|eg| eg.address.commune.as_deref().and_then(departement_of_commune).map(Code::from))
            .collect();
        for (offer, departement) in dataset.offers.iter().zip(&offer_departement) {
            if let Some(eg) = offer.eg
                && eg_departement[eg as usize].is_none()
            {
                eg_departement[eg as usize] = departement.clone();
            }
        }
        CheckIndex { location_start, location_offers, offer_departement, eg_departement }
    }
}

/// The checks over one dataset: its records, communes and [`CheckIndex`].
pub(crate) struct Checker<'a> {
    index: &'a CheckIndex,
    pub(crate) dataset: &'a Dataset,
    pub(crate) communes: &'a [Commune],
}

impl<'a> Checker<'a> {
    /// The checks of `dataset`, indexed by `index` (made of the same dataset).
    pub(crate) fn new(index: &'a CheckIndex, dataset: &'a Dataset, communes: &'a [Commune]) -> Checker<'a> {
        Checker { index, dataset, communes }
    }

    /// The offers provided at a location.
    pub(crate) fn offers_of_location(&self, location: u32) -> &[u32] {
        let index = self.index;
        &index.location_offers
            [index.location_start[location as usize] as usize..index.location_start[location as usize + 1] as usize]
    }

    /// The EG of a location: that of its first offer with one.
    pub(crate) fn eg_of_location(&self, location: u32) -> Option<u32> {
        self.offers_of_location(location).iter().find_map(|&offer| self.dataset.offers[offer as usize].eg)
    }

    /// The rules that do not read capacities, on one offer.
    pub(crate) fn offer_static(&self, index: u32, now: UnixSeconds, out: &mut Vec<Finding>) {
        let dataset = self.dataset;
        let offer = &dataset.offers[index as usize];
        let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
        let record = RecordRef::Offer(index);
        let mut add = |rule: RuleId, values: String| {
            out.push(Finding { rule, record, values, updated_at: offer.last_updated });
        };
        match offer.last_updated {
            None => add(RuleId::OfferWithoutLastUpdated, "meta.lastUpdated absent".into()),
            Some(updated) if updated < now - OFFER_STALE_DAYS * DAY_SECONDS => add(
                RuleId::OfferStale,
                format!("dernière mise à jour {} (il y a {} jours)", day(updated), (now - updated) / DAY_SECONDS),
            ),
            Some(_) => {}
        }
        if offer.locations.is_empty() {
            add(RuleId::OfferWithoutLocation, "aucune Location".into());
        }
        if eg.is_none() {
            add(RuleId::OfferWithoutEg, "providedBy: entité juridique".into());
        }
        let has_position =
            offer.locations.iter().any(|&location| dataset.locations[location as usize].position.is_some())
                || eg.is_some_and(|eg| eg.position.is_some())
                || offer_commune(dataset, offer).is_some_and(|code| commune_by_code(self.communes, code).is_some());
        if !has_position {
            add(RuleId::OfferWithoutPosition, "ni lieu, ni EG, ni commune géolocalisés".into());
        }
        if let Some(range) = offer.age_range {
            if let (Some(min), Some(max)) = (range.min_years, range.max_years)
                && min > max
            {
                add(RuleId::AgeRangeInverted, format!("âge min {min} > âge max {max}"));
            }
            let out_of_bounds = |age: Option<f64>| age.is_some_and(|age| !(0.0..=MAX_AGE_YEARS).contains(&age));
            let elderly = GirPolicy::of_offer_type(offer.offer_type.as_deref()) != GirPolicy::NotApplicable;
            if out_of_bounds(range.min_years) || out_of_bounds(range.max_years) {
                add(
                    RuleId::AgeRangeImplausible,
                    format!("âges {} - {}", years(range.min_years), years(range.max_years)),
                );
            } else if elderly && range.max_years.is_some_and(|max| max < ELDERLY_MIN_MAX_AGE_YEARS) {
                add(
                    RuleId::AgeRangeImplausible,
                    format!(
                        "type d'offre {} (personnes âgées) avec un âge max de {}",
                        offer.offer_type.as_deref().unwrap_or(""),
                        years(range.max_years)
                    ),
                );
            }
        }
        let policy = GirPolicy::of_offer_type(offer.offer_type.as_deref());
        let category = eg.and_then(|eg| eg.category.as_deref());
        let incoherent = matches!(
            (policy, category),
            (GirPolicy::Autonomous, Some(CATEGORY_EHPAD)) | (GirPolicy::Dependent, Some(CATEGORY_RESIDENCE_AUTONOMIE))
        );
        if incoherent {
            add(
                RuleId::GirIncoherent,
                format!(
                    "type d'offre {} (GIR {}) dans un EG de catégorie {}",
                    offer.offer_type.as_deref().unwrap_or(""),
                    if policy == GirPolicy::Autonomous { "5-6" } else { "1-6" },
                    category.unwrap_or("")
                ),
            );
        }
    }

    /// The rules that read capacities, on one offer: its records are those `records` gives
    /// for each of its locations.
    pub(crate) fn offer_capacity<'r>(
        &self,
        index: u32,
        records: &(dyn Fn(u32) -> &'r [CapacityRecord] + Sync),
        now: UnixSeconds,
        out: &mut Vec<Finding>,
    ) {
        let dataset = self.dataset;
        let offer = &dataset.offers[index as usize];
        let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
        let totals = CapacityTotals::of_records(offer.locations.iter().flat_map(|&location| records(location).iter()));
        let record = RecordRef::Offer(index);
        if totals.installed > 0 && totals.available > totals.installed {
            out.push(Finding {
                rule: RuleId::AvailableAboveInstalled,
                record,
                values: format!("disponibles {} > installées {}", totals.available, totals.installed),
                updated_at: totals.available_updated_at,
            });
        }
        if totals.available > 0 && offer_closed_at(offer, eg, now) {
            let closed = match (offer.closed_from, eg.and_then(|eg| eg.closed_at)) {
                (Some(from), _) if from <= now => format!("offre fermée depuis le {}", day(from)),
                (_, Some(closed)) => format!("EG fermé depuis le {}", day(closed)),
                _ => "fermée".into(),
            };
            out.push(Finding {
                rule: RuleId::ClosedWithFreePlaces,
                record,
                values: format!("{closed}, {} places disponibles", totals.available),
                updated_at: totals.available_updated_at,
            });
        }
    }

    /// The capacity-freshness rule on one location's records.
    pub(crate) fn location_capacity(
        &self,
        location: u32,
        records: &[CapacityRecord],
        now: UnixSeconds,
        out: &mut Vec<Finding>,
    ) {
        // Newest update per kind; a record without a date is never updated.
        let mut newest: [Option<Option<UnixSeconds>>; 3] = [None; 3];
        for record in records {
            let slot = &mut newest[CapacityKind::of_status(&record.status) as usize];
            *slot = Some(match *slot {
                None => record.updated_at,
                Some(held) => held.max(record.updated_at),
            });
        }
        for kind in [CapacityKind::Installed, CapacityKind::Operational, CapacityKind::Supplementary] {
            let Some(updated) = newest[kind as usize] else { continue };
            let stale = updated.is_none_or(|at| at < now - kind.stale_after_seconds());
            if stale {
                let days = kind.stale_after_seconds() / DAY_SECONDS;
                let values = match updated {
                    Some(at) => format!(
                        "{} mise à jour le {} (il y a {} jours, seuil {days} jours)",
                        kind.label_fr(),
                        day(at),
                        (now - at) / DAY_SECONDS
                    ),
                    None => format!("{} sans capacityUpdateDate", kind.label_fr()),
                };
                out.push(Finding {
                    rule: RuleId::CapacityStale,
                    record: RecordRef::Location(location),
                    values,
                    updated_at: updated,
                });
            }
        }
    }

    /// The rules on one EG.
    pub(crate) fn eg(&self, index: u32, out: &mut Vec<Finding>) {
        let eg: &Eg = &self.dataset.egs[index as usize];
        let record = RecordRef::Eg(index);
        let mut add =
            |rule: RuleId, values: String| out.push(Finding { rule, record, values, updated_at: eg.last_updated });
        match eg.position {
            None => add(RuleId::EgWithoutCoordinates, "address.extension[geolocation] absente".into()),
            Some(position) => {
                if eg.position_reliable == Some(false) {
                    add(
                        RuleId::EgUnreliableCoordinates,
                        format!("{:.6}, {:.6} marquées non fiables", position.lat, position.lon),
                    );
                }
                if let Some(commune) =
                    eg.address.commune.as_deref().and_then(|code| commune_by_code(self.communes, code))
                {
                    let distance_km =
                        haversine_m(position, crate::model::GeoPoint { lat: commune.lat, lon: commune.lon }) / 1000.0;
                    let threshold =
                        if commune.departement == "973" { FAR_FROM_COMMUNE_GUYANE_KM } else { FAR_FROM_COMMUNE_KM };
                    if distance_km > threshold {
                        add(
                            RuleId::EgFarFromCommune,
                            format!(
                                "{:.6}, {:.6} à {distance_km:.1} km du centre de {} ({})",
                                position.lat, position.lon, commune.name, commune.code
                            ),
                        );
                    }
                }
            }
        }
        let tariffs = &eg.tariffs;
        if eg.category.as_deref() == Some(CATEGORY_EHPAD) {
            if select_hebergement(tariffs).is_none() {
                add(RuleId::EhpadWithoutHebergementPrice, "aucun tarif 02 (hébergement) journalier permanent".into());
            }
            let missing: Vec<&str> =
                GIR_BANDS.iter().copied().filter(|band| daily_dependance_cents(tariffs, band).is_none()).collect();
            if !missing.is_empty() {
                add(
                    RuleId::EhpadWithoutDependanceTariff,
                    format!("groupes tarifaires sans tarif dépendance: {}", missing.join(", ")),
                );
            }
        }
        if let Some(hebergement) = select_hebergement(tariffs)
            && !HEBERGEMENT_DAILY_CENTS.contains(&hebergement.amount_cents)
        {
            add(RuleId::TariffImplausible, format!("hébergement {} EUR/jour", euros(hebergement.amount_cents)));
        }
        for band in GIR_BANDS {
            if let Some(cents) = daily_dependance_cents(tariffs, band)
                && !DEPENDANCE_DAILY_CENTS.contains(&cents)
            {
                add(RuleId::TariffImplausible, format!("dépendance groupe {band} {} EUR/jour", euros(cents)));
            }
        }
    }

    /// Duplicate synchro ids: every location of an EG whose synchro id another of its locations
    /// also carries.
    pub(crate) fn duplicate_synchro_ids(&self, out: &mut Vec<Finding>) {
        let dataset = self.dataset;
        let mut by_key: FxHashMap<(u32, &str), Vec<u32>> = FxHashMap::default();
        for (index, location) in dataset.locations.iter().enumerate() {
            let Some(synchro) = location.synchro_id.as_deref() else { continue };
            let mut egs: Vec<u32> = self
                .offers_of_location(index as u32)
                .iter()
                .filter_map(|&offer| dataset.offers[offer as usize].eg)
                .collect();
            egs.sort_unstable();
            egs.dedup();
            for eg in egs {
                by_key.entry((eg, synchro)).or_default().push(index as u32);
            }
        }
        let mut duplicates: Vec<(u32, &str, Vec<u32>)> =
            by_key.into_iter().filter(|(_, locations)| locations.len() > 1).map(|((eg, s), l)| (eg, s, l)).collect();
        duplicates.sort_unstable();
        for (eg, synchro, locations) in duplicates {
            let finess = dataset.egs[eg as usize].finess.as_deref().unwrap_or("");
            for &location in &locations {
                out.push(Finding {
                    rule: RuleId::DuplicateSynchroId,
                    record: RecordRef::Location(location),
                    values: format!("{synchro} porté par {} lieux de l'EG {finess}", locations.len()),
                    updated_at: dataset.locations[location as usize].last_updated,
                });
            }
        }
    }

    /// The département of the offer, EG or location a finding is about.
    pub(crate) fn departement_of(&self, record: RecordRef) -> Option<&str> {
        match record {
            RecordRef::Offer(offer) => self.index.offer_departement[offer as usize].as_deref(),
            RecordRef::Eg(eg) => self.index.eg_departement[eg as usize].as_deref(),
            RecordRef::Location(location) => {
                let own = self.dataset.locations[location as usize].commune.as_deref().and_then(departement_of_commune);
                own.or_else(|| {
                    self.eg_of_location(location).and_then(|eg| self.index.eg_departement[eg as usize].as_deref())
                })
            }
            RecordRef::Ej(_) => None,
        }
    }

    /// The EG a finding is about or belongs to.
    pub(crate) fn eg_of(&self, record: RecordRef) -> Option<u32> {
        match record {
            RecordRef::Offer(offer) => self.dataset.offers[offer as usize].eg,
            RecordRef::Eg(eg) => Some(eg),
            RecordRef::Location(location) => self.eg_of_location(location),
            RecordRef::Ej(_) => None,
        }
    }
}

/// A date as `YYYY-MM-DD`.
pub(crate) fn day(at: UnixSeconds) -> String {
    format_rfc3339(at).chars().take(10).collect()
}

fn years(age: Option<f64>) -> String {
    age.map_or_else(|| "?".into(), |age| format!("{age}"))
}

fn euros(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}
