//! Lookups by id: an offer, an EG with all its offers and tariffs, communes by name or postcode.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::Index;
use super::access::Access;
use super::live::LiveView;
use super::render::View;
use super::response::{Coded, EgView, OfferHit, Timestamp};
use crate::model::labels::CodeSystem;
use crate::model::place::Commune;
use crate::model::{CapacityRecord, Code, Dataset, Tariff};
use crate::util::fold::fold;

/// EG and offer indexes, built at load.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lookups {
    /// FINESS ET number → EG index.
    pub(crate) eg_by_finess: FxHashMap<Code, u32>,
    /// Offers of EG `e` are `eg_offers[eg_offer_start[e]..eg_offer_start[e + 1]]` (offer indexes).
    pub(crate) eg_offer_start: Vec<u32>,
    pub(crate) eg_offers: Vec<u32>,
    /// Communes: folded name words, for type-ahead.
    pub(crate) commune_words: Vec<Vec<String>>,
    pub(crate) commune_names: Vec<String>,
    /// Offers provided at location `l` are `location_offers[location_offer_start[l]..location_offer_start[l + 1]]`.
    pub(crate) location_offer_start: Vec<u32>,
    pub(crate) location_offers: Vec<u32>,
    /// Location FHIR id → location index.
    pub(crate) location_by_id: FxHashMap<String, u32>,
    /// (FINESS of the EG, synchro id) → the locations carrying that synchro id (more than one
    /// is a data error the PATCH answers with 412).
    pub(crate) location_by_synchro: FxHashMap<(Code, String), Vec<u32>>,
    /// Doc → EG index ([`NO_EG`] for an offer without one): walks that aggregate by EG read
    /// this column instead of the offers.
    pub(crate) eg_of_doc: Vec<u32>,
}

/// `eg_of_doc` of an offer without an EG.
pub(crate) const NO_EG: u32 = u32::MAX;

/// Groups `(key, value)` pairs by key into compressed rows: the values of key `k` are
/// `values[start[k]..start[k + 1]]`, in the order given.
pub(crate) fn group(keys: usize, pairs: impl Iterator<Item = (u32, u32)> + Clone) -> (Vec<u32>, Vec<u32>) {
    let mut start = vec![0u32; keys + 1];
    for (key, _) in pairs.clone() {
        start[key as usize + 1] += 1;
    }
    for index in 1..start.len() {
        start[index] += start[index - 1];
    }
    let mut next = start.clone();
    let mut values = vec![0u32; start[keys] as usize];
    for (key, value) in pairs {
        values[next[key as usize] as usize] = value;
        next[key as usize] += 1;
    }
    (start, values)
}

/// The offers provided at each location, as [`group`] rows: the offers of location `l` are
/// `offers[start[l]..start[l + 1]]`, in offer order.
pub(crate) fn location_offer_rows(dataset: &Dataset) -> (Vec<u32>, Vec<u32>) {
    group(
        dataset.locations.len(),
        dataset
            .offers
            .iter()
            .enumerate()
            .flat_map(|(offer, entry)| entry.locations.iter().map(move |&location| (location, offer as u32))),
    )
}

impl Lookups {
    /// Indexes a dataset and its communes; `offer_of_doc` is the layout's doc order.
    pub(crate) fn new(dataset: &Dataset, communes: &[Commune], offer_of_doc: &[u32]) -> Lookups {
        let mut eg_by_finess = FxHashMap::default();
        for (index, eg) in dataset.egs.iter().enumerate() {
            if let Some(finess) = &eg.finess {
                eg_by_finess.entry(finess.clone()).or_insert(index as u32);
            }
        }
        let (eg_offer_start, eg_offers) = group(
            dataset.egs.len(),
            dataset.offers.iter().enumerate().filter_map(|(index, offer)| offer.eg.map(|eg| (eg, index as u32))),
        );
        let commune_names: Vec<String> = communes.iter().map(|commune| fold(&commune.name)).collect();
        let commune_words = commune_names
            .iter()
            .map(|name| {
                name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
            })
            .collect();
        let (location_offer_start, location_offers) = location_offer_rows(dataset);
        let location_by_id =
            dataset.locations.iter().enumerate().map(|(index, location)| (location.id.clone(), index as u32)).collect();
        let mut location_by_synchro: FxHashMap<(Code, String), Vec<u32>> = FxHashMap::default();
        for (index, location) in dataset.locations.iter().enumerate() {
            let Some(synchro_id) = &location.synchro_id else { continue };
            let offers =
                &location_offers[location_offer_start[index] as usize..location_offer_start[index + 1] as usize];
            let mut finesses: Vec<&Code> = offers
                .iter()
                .filter_map(|&offer| dataset.offers[offer as usize].eg)
                .filter_map(|eg| dataset.egs[eg as usize].finess.as_ref())
                .collect();
            finesses.sort_unstable();
            finesses.dedup();
            for finess in finesses {
                location_by_synchro.entry((finess.clone(), synchro_id.clone())).or_default().push(index as u32);
            }
        }
        let eg_of_doc = offer_of_doc.iter().map(|&offer| dataset.offers[offer as usize].eg.unwrap_or(NO_EG)).collect();
        Lookups {
            eg_of_doc,
            eg_by_finess,
            eg_offer_start,
            eg_offers,
            commune_words,
            commune_names,
            location_offer_start,
            location_offers,
            location_by_id,
            location_by_synchro,
        }
    }

    /// The offers provided at a location (offer indexes).
    pub(crate) fn offers_of_location(&self, location: u32) -> &[u32] {
        let start = self.location_offer_start[location as usize] as usize;
        let end = self.location_offer_start[location as usize + 1] as usize;
        &self.location_offers[start..end]
    }
}

/// A tariff, with labels and euros.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct TariffView<'a> {
    /// Type de tarif (TRE_R246: `02` forfait socle hébergement, `03` dépendance, ...).
    pub(crate) price_type: Coded<'a>,
    /// Unité de prix (TRE_R228: `2` journalier, `3` mensuel, ...).
    pub(crate) unit: Coded<'a>,
    /// Amount, euro cents.
    pub(crate) amount_cents: i64,
    /// Amount, euros.
    pub(crate) amount_eur: f64,
    /// ISO 4217 currency (`EUR`), when given.
    pub(crate) currency: Option<&'a str>,
    /// Start date of the tariff.
    pub(crate) valid_from: Option<Timestamp>,
    /// Whether the tariff applies to residents under 60.
    pub(crate) under_60: Option<bool>,
    /// Type d'habitation (TRE_R242).
    pub(crate) residential_type: Option<Coded<'a>>,
    /// Temporalité d'accueil of the price (TRE_R240: `01` temporaire, `02` permanent).
    pub(crate) welcome_type: Option<Coded<'a>>,
    /// Condition tarifaire (TRE_R250).
    pub(crate) special_price: Option<Coded<'a>>,
    /// Groupe tarifaire dépendance (TRE_R237: `01` GIR 1-2, `02` GIR 3-4, `03` GIR 5-6).
    pub(crate) dependency_level: Option<Coded<'a>>,
}

fn coded(system: CodeSystem, code: &Code) -> Coded<'_> {
    Coded { code: code.as_str(), label: system.label(code) }
}

fn coded_option(system: CodeSystem, code: Option<&Code>) -> Option<Coded<'_>> {
    code.map(|code| coded(system, code))
}

impl<'a> TariffView<'a> {
    fn new(tariff: &'a Tariff) -> TariffView<'a> {
        TariffView {
            price_type: coded(CodeSystem::TypeTarif, &tariff.price_type),
            unit: coded(CodeSystem::UnitePrix, &tariff.unit),
            amount_cents: tariff.amount_cents,
            amount_eur: tariff.amount_cents as f64 / 100.0,
            currency: tariff.currency.as_deref(),
            valid_from: tariff.valid_from.map(Timestamp),
            under_60: tariff.under_60,
            residential_type: coded_option(CodeSystem::TypeHabitation, tariff.residential_type.as_ref()),
            welcome_type: coded_option(CodeSystem::TemporaliteAccueil, tariff.welcome_type.as_ref()),
            special_price: coded_option(CodeSystem::ConditionTarifaire, tariff.special_price.as_ref()),
            dependency_level: coded_option(CodeSystem::GroupeTarifaireDependance, tariff.dependency_level.as_ref()),
        }
    }
}

/// One capacity record, every axis of its indicator.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct CapacityRecordView<'a> {
    /// Nature (TRE_R329: `01` lit, `02` place, `03` logement).
    pub(crate) capacity_type: Coded<'a>,
    /// Statut (TRE_R330: `01` installé, `02` disponible, `06` supplémentaire, ...).
    pub(crate) status: Coded<'a>,
    /// Temporalité (TRE_R331: `01` courant, `02` prévisionnel 1 h, ...).
    pub(crate) temporality: Coded<'a>,
    /// Genre (TRE_R332).
    pub(crate) gender: Option<Coded<'a>>,
    /// Type de fermeture (TRE_R333).
    pub(crate) closing_type: Option<Coded<'a>>,
    /// Type de lit supplémentaire (TRE_R334).
    pub(crate) additional_bed_type: Option<Coded<'a>>,
    /// Type de crise (TRE_R336).
    pub(crate) crisis_type: Option<Coded<'a>>,
    /// Affectation temporaire (TRE_R337).
    pub(crate) temporary_assignment: Option<Coded<'a>>,
    /// Source (TRE_R335).
    pub(crate) source_type: Option<Coded<'a>>,
    /// Number of beds / places / dwellings.
    pub(crate) count: u32,
    /// `capacityUpdateDate`: when the source last updated this record.
    pub(crate) updated_at: Option<Timestamp>,
}

impl<'a> CapacityRecordView<'a> {
    fn new(record: &'a CapacityRecord) -> CapacityRecordView<'a> {
        CapacityRecordView {
            capacity_type: coded(CodeSystem::NatureCapacite, &record.capacity_type),
            status: coded(CodeSystem::StatutCapacite, &record.status),
            temporality: coded(CodeSystem::TemporaliteCapacite, &record.temporality),
            gender: coded_option(CodeSystem::GenreCapacite, record.gender.as_ref()),
            closing_type: coded_option(CodeSystem::TypeFermetureCapacite, record.closing_type.as_ref()),
            additional_bed_type: coded_option(CodeSystem::TypeLitSupplementaire, record.additional_bed_type.as_ref()),
            crisis_type: coded_option(CodeSystem::TypeCrise, record.crisis_type.as_ref()),
            temporary_assignment: coded_option(CodeSystem::AffectationTemporaire, record.temporary_assignment.as_ref()),
            source_type: coded_option(CodeSystem::TypeSourceCapacite, record.source_type.as_ref()),
            count: record.count,
            updated_at: record.updated_at.map(Timestamp),
        }
    }
}

/// A location of an offer with its capacity records.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct LocationView<'a> {
    /// FHIR id of the `Location`.
    pub(crate) id: &'a str,
    /// Identifiant du lieu (TRE_R354 `25`, e.g. `24/1073`).
    pub(crate) identifier: Option<&'a str>,
    /// Name of the place.
    pub(crate) name: Option<&'a str>,
    /// INSEE COG code of the commune (`ror-commune-cog`).
    pub(crate) commune: Option<&'a str>,
    /// Latitude of the place, WGS84 degrees.
    pub(crate) lat: Option<f64>,
    /// Longitude of the place, WGS84 degrees.
    pub(crate) lon: Option<f64>,
    /// `ror-coordinate-reliability`: whether the source vouches for the position.
    pub(crate) position_reliable: Option<bool>,
    /// Capacity records of the place.
    pub(crate) capacities: Vec<CapacityRecordView<'a>>,
}

/// An offer with its locations and capacity records (`GET /v1/offers/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct OfferDetail<'a> {
    /// The snapshot the answer comes from.
    pub(crate) snapshot: &'a str,
    /// The offer, as in search results (no distance, no score).
    pub(crate) offer: OfferHit<'a>,
    /// Publics pris en charge (TRE_R239).
    pub(crate) publics: Vec<Coded<'a>>,
    /// Spécialisations de prise en charge (TRE_R245).
    pub(crate) specialisations: Vec<Coded<'a>>,
    /// Unité sensible: visible to access profiles 1 and 4 only.
    pub(crate) sensitive_unit: bool,
    /// Closing date (`notAvailable[closingReopeningDate]`).
    pub(crate) closed_from: Option<Timestamp>,
    /// Planned reopening date (`notAvailable[closingReopeningDate]`).
    pub(crate) reopens_at: Option<Timestamp>,
    /// Where the offer is provided, with capacity records.
    pub(crate) locations: Vec<LocationView<'a>>,
}

/// An EG with its tariffs and every offer (`GET /v1/eg/{finess}`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct EgDetail<'a> {
    /// The snapshot the answer comes from.
    pub(crate) snapshot: &'a str,
    /// The EG.
    pub(crate) eg: EgView<'a>,
    /// The EG's tariffs.
    pub(crate) tariffs: Vec<TariffView<'a>>,
    /// Every offer of the EG.
    pub(crate) offers: Vec<OfferHit<'a>>,
}

/// A commune found by type-ahead.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CommuneHit<'a> {
    /// INSEE COG code (`45234`, `2A004`, `75101`).
    pub code: &'a str,
    /// Name of the commune.
    pub name: &'a str,
    /// `commune-actuelle`, `commune-deleguee`, `commune-associee` or `arrondissement-municipal`.
    pub kind: &'a str,
    /// INSEE département code (`45`, `2A`, `974`).
    pub departement: &'a str,
    /// Postal codes of the commune.
    pub postal_codes: Vec<&'a str>,
    /// Population (inhabitants), when known.
    pub population: Option<u32>,
    /// Latitude of the commune's centroid, WGS84 degrees.
    pub lat: f64,
    /// Longitude of the commune's centroid, WGS84 degrees.
    pub lon: f64,
}

impl Index {
    /// An offer by FHIR id, with its locations and capacity records.
    pub(crate) fn offer_detail<'a>(&'a self, live: &'a LiveView, id: &str, access: Access) -> Option<OfferDetail<'a>> {
        let dataset = &self.data.dataset;
        let index = dataset.offers.binary_search_by(|offer| offer.id.as_str().cmp(id)).ok()? as u32;
        let offer = &dataset.offers[index as usize];
        let doc = self.layout.doc_of_offer[index as usize] as usize;
        if !access.sees_doc(&self.columns, doc) {
            return None; // as if it did not exist
        }
        let seen = access.capacity_of_doc(&self.columns, doc);
        let locations = offer
            .locations
            .iter()
            .map(|&location_index| {
                let location = &dataset.locations[location_index as usize];
                LocationView {
                    id: &location.id,
                    identifier: location.identifier.as_deref(),
                    name: location.name.as_deref(),
                    commune: location.commune.as_deref(),
                    lat: location.position.map(|point| point.lat),
                    lon: location.position.map(|point| point.lon),
                    position_reliable: location.position_reliable,
                    capacities: self
                        .location_records(live, location_index)
                        .iter()
                        .filter(|record| seen.sees(record))
                        .map(CapacityRecordView::new)
                        .collect(),
                }
            })
            .collect();
        Some(OfferDetail {
            snapshot: &self.manifest.snapshot_id,
            offer: self.render_offer(live, index, None, None, &View::lookup(access)),
            publics: offer.publics.iter().map(|code| coded(CodeSystem::PublicPrisEnCharge, code)).collect(),
            specialisations: offer
                .specialisations
                .iter()
                .map(|code| coded(CodeSystem::SpecialisationPriseEnCharge, code))
                .collect(),
            sensitive_unit: offer.sensitive_unit,
            closed_from: offer.closed_from.map(Timestamp),
            reopens_at: offer.reopens_at.map(Timestamp),
            locations,
        })
    }

    /// An EG by FINESS number, with its tariffs and offers (in offer id order).
    pub(crate) fn eg_detail<'a>(&'a self, live: &'a LiveView, finess: &str, access: Access) -> Option<EgDetail<'a>> {
        let eg_index = *self.lookups.eg_by_finess.get(finess)?;
        let eg = &self.data.dataset.egs[eg_index as usize];
        let range = self.lookups.eg_offer_start[eg_index as usize] as usize
            ..self.lookups.eg_offer_start[eg_index as usize + 1] as usize;
        let offers = self.lookups.eg_offers[range]
            .iter()
            .filter(|&&offer| access.sees_doc(&self.columns, self.layout.doc_of_offer[offer as usize] as usize))
            .map(|&offer| self.render_offer(live, offer, None, None, &View::lookup(access)))
            .collect();
        Some(EgDetail {
            snapshot: &self.manifest.snapshot_id,
            eg: self.eg_view(eg_index, access),
            tariffs: eg.tariffs.iter().map(TariffView::new).collect(),
            offers,
        })
    }

    /// Communes whose name starts with, or has a word starting with, the folded query, or
    /// whose postcode starts with it (digits). Exact names first, then name prefixes, then
    /// word prefixes; then by population, largest first; then by code.
    pub(crate) fn communes_search(&self, q: &str, limit: usize) -> Vec<CommuneHit<'_>> {
        let query = fold(q.trim());
        let query_words: Vec<&str> =
            query.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        if query_words.is_empty() {
            return Vec::new();
        }
        let joined = query_words.join(" ");
        let is_postcode = query_words.len() == 1
            && query_words[0].bytes().any(|b| b.is_ascii_digit())
            && query_words[0].bytes().all(|b| b.is_ascii_digit() || b == b'a' || b == b'b');
        let mut scored: Vec<(u8, std::cmp::Reverse<u32>, usize)> = Vec::new();
        for (index, commune) in self.data.communes.iter().enumerate() {
            let rank = if is_postcode {
                if commune.code.eq_ignore_ascii_case(query_words[0]) {
                    Some(0)
                } else if commune.postal_codes.iter().any(|code| code.starts_with(query_words[0])) {
                    Some(1)
                } else {
                    None
                }
            } else {
                let name = &self.lookups.commune_names[index];
                let words = &self.lookups.commune_words[index];
                let normalised: String = words.join(" ");
                if normalised == joined {
                    Some(0)
                } else if normalised.starts_with(&joined) {
                    Some(1)
                } else if query_words.iter().all(|query_word| words.iter().any(|word| word.starts_with(query_word))) {
                    Some(2)
                } else if name.contains(&joined) {
                    Some(3)
                } else {
                    None
                }
            };
            if let Some(rank) = rank {
                scored.push((rank, std::cmp::Reverse(commune.population.unwrap_or(0)), index));
            }
        }
        scored.sort_by(|a, b| a.cmp(b).then_with(|| self.data.communes[a.2].code.cmp(&self.data.communes[b.2].code)));
        scored
            .into_iter()
            .take(limit)
            .map(|(_, _, index)| {
                let commune = &self.data.communes[index];
                CommuneHit {
                    code: &commune.code,
                    name: &commune.name,
                    kind: &commune.kind,
                    departement: &commune.departement,
                    postal_codes: commune.postal_codes.iter().map(|code| code.as_str()).collect(),
                    population: commune.population,
                    lat: commune.lat,
                    lon: commune.lon,
                }
            })
            .collect()
    }
}
