//! The ROR domain model, as the engine keeps it (ROR modèle d'exposition 3.0.1, FHIR IG
//! `ans.fhir.fr.ror`; see `../shared/docs/ror-model.md`).
//!
//! Pure data types, no I/O. Inside a [`Dataset`] every entity is addressed by a dense `u32`
//! index ([`EjId`], [`EgId`], [`OfferId`], [`LocationId`]); FHIR ids and FINESS numbers are
//! kept as fields and only used at the edges; [`place`] validates them and holds the communes.
//!
//! # Units
//! Positions are WGS84 degrees ([`GeoPoint`]), timestamps UTC Unix seconds, money euro cents,
//! ages years. Codes stay codes (e.g. `"500"` for an EHPAD, TRE_R66); labels come from
//! `labels::CodeSystem`.

pub mod access;
pub(crate) mod labels;
pub mod place;
pub mod quality;
pub mod rules;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub use crate::util::geo::GeoPoint;
use crate::util::time::UnixSeconds;

/// A code of a NOS code system, kept as written (leading zeros matter: `"01"`, `"0320"`).
pub type Code = CompactString;

/// Dense index of an [`Ej`] in [`Dataset::ejs`].
pub type EjId = u32;
/// Dense index of an [`Eg`] in [`Dataset::egs`].
pub type EgId = u32;
/// Dense index of an [`Offer`] in [`Dataset::offers`].
pub type OfferId = u32;
/// Dense index of a [`Location`] in [`Dataset::locations`].
pub type LocationId = u32;

/// Everything a snapshot holds: the resolved graph EJ ← EG ← offer → location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Legal entities, addressed by [`EjId`].
    pub ejs: Vec<Ej>,
    /// Establishment sites, addressed by [`EgId`].
    pub egs: Vec<Eg>,
    /// Offers, addressed by [`OfferId`].
    pub offers: Vec<Offer>,
    /// Places where offers are provided, addressed by [`LocationId`].
    pub locations: Vec<Location>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Address lines, in order.
    pub lines: Vec<String>,
    /// Postal code (`45000`).
    pub postal_code: Option<Code>,
    /// City name, as written by the feed.
    pub city: Option<String>,
    /// INSEE COG code of the commune (`45234`, `2A004`), when the feed gives it.
    pub commune: Option<Code>,
}

/// Entité juridique (legal entity): `Organization` without `partOf`, typed by statut juridique.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ej {
    /// FHIR logical id of the `Organization`.
    pub id: String,
    /// FINESS EJ number (9 characters).
    pub finess: Option<Code>,
    /// SIREN number (9 digits).
    pub siren: Option<Code>,
    /// Raison sociale; optional in the ROR profile (`name` 0..1).
    pub name: Option<String>,
    /// Statut juridique (TRE_R72).
    pub legal_status: Option<Code>,
    /// Postal address of the legal entity.
    pub address: Address,
    /// `meta.lastUpdated`, Unix seconds.
    pub last_updated: Option<UnixSeconds>,
}

/// Entité géographique (establishment site): where offers are provided, with tariffs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Eg {
    /// FHIR logical id of the `Organization`.
    pub id: String,
    /// FINESS ET number (9 characters; `2A`/`2B` in Corsica).
    pub finess: Option<Code>,
    /// SIRET number (14 digits).
    pub siret: Option<Code>,
    /// Dénomination (FINESS raison sociale).
    pub name: String,
    /// Nom opérationnel.
    pub alias: Option<String>,
    /// Catégorie d'établissement (TRE_R66; `500` = EHPAD).
    pub category: Option<Code>,
    /// The legal entity running the site.
    pub ej: Option<EjId>,
    /// Postal address of the site.
    pub address: Address,
    /// WGS84 position of the site (`address.extension[geolocation]`).
    pub position: Option<GeoPoint>,
    /// `ror-confidence-geolocation`: whether the source vouches for the position.
    pub position_reliable: Option<bool>,
    /// Aides financières accepted (TRE_R241; `02` = habilité aide sociale).
    pub financial_help: Vec<Code>,
    /// Niveau de recours ORSAN (TRE_R284: `1` première ligne, `4` deuxième ligne).
    pub orsan_level: Option<Code>,
    /// Opening date (`organization-period` start), Unix seconds.
    pub opened_at: Option<UnixSeconds>,
    /// Closing date (`organization-period` end), Unix seconds.
    pub closed_at: Option<UnixSeconds>,
    /// Type de fermeture (TRE_R286).
    pub closing_type: Option<Code>,
    /// Places habilitées à l'aide sociale, permanent accommodation.
    pub social_help_places_permanent: Option<u32>,
    /// Places habilitées à l'aide sociale, temporary accommodation.
    pub social_help_places_temporary: Option<u32>,
    /// The site's tariffs (`ror-organization-price`).
    pub tariffs: Vec<Tariff>,
    /// Source region (TRE_R30, `meta.tag`).
    pub region: Option<Code>,
    /// `ror-meta-creation-date`, Unix seconds.
    pub created_at: Option<UnixSeconds>,
    /// `meta.lastUpdated`, Unix seconds.
    pub last_updated: Option<UnixSeconds>,
}

impl Eg {
    /// Whether the site is habilité à l'aide sociale (aide financière `02`).
    pub fn aide_sociale(&self) -> bool {
        self.financial_help.iter().any(|code| code == rules::AIDE_SOCIALE_CODE)
    }
}

/// One tariff of an EG (`ror-organization-price`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tariff {
    /// Type de tarif (TRE_R246: `02` forfait socle hébergement, `03` dépendance, ...).
    pub price_type: Code,
    /// Unité de prix (TRE_R228: `2` journalier, `3` mensuel, ...).
    pub unit: Code,
    /// Amount in euro cents.
    pub amount_cents: i64,
    /// ISO 4217 currency, `EUR` when given.
    pub currency: Option<Code>,
    /// Start date of the tariff (`startDate`), Unix seconds.
    pub valid_from: Option<UnixSeconds>,
    /// Tarif applicable to residents under 60.
    pub under_60: Option<bool>,
    /// Type d'habitation (TRE_R242).
    pub residential_type: Option<Code>,
    /// Temporalité d'accueil of the price (TRE_R240: `01` temporaire, `02` permanent).
    pub welcome_type: Option<Code>,
    /// Condition tarifaire (TRE_R250).
    pub special_price: Option<Code>,
    /// Groupe tarifaire dépendance (TRE_R237: `01` GIR 1-2, `02` GIR 3-4, `03` GIR 5-6).
    pub dependency_level: Option<Code>,
}

/// An age range normalised to years, bounds inclusive; a missing bound is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AgeRange {
    /// Lowest age accepted, years.
    pub min_years: Option<f64>,
    /// Highest age accepted, years.
    pub max_years: Option<f64>,
}

impl AgeRange {
    /// Whether someone `age_years` old is in the range.
    pub fn contains(&self, age_years: f64) -> bool {
        self.min_years.is_none_or(|min| min <= age_years) && self.max_years.is_none_or(|max| age_years <= max)
    }
}

/// Offre opérationnelle (`HealthcareService`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// FHIR logical id of the `HealthcareService`.
    pub id: String,
    /// Identifiant fonctionnel de l'offre (TRE_R355 `35`, e.g. `06/0099999`).
    pub identifier: Option<String>,
    /// Name of the offer.
    pub name: String,
    /// The EG the offer hangs under (through internal organisations); `None` when the provider
    /// is an entité juridique.
    pub eg: Option<EgId>,
    /// The legal entity, set when `providedBy` is the EJ itself.
    pub ej: Option<EjId>,
    /// Name of the internal organisation (pôle, service, UF) providing the offer, if any.
    pub internal_organisation: Option<String>,
    /// Type d'offre (TRE_R244).
    pub offer_type: Option<Code>,
    /// Champ d'activité (TRE_R227).
    pub activity_field: Option<Code>,
    /// Activité opérationnelle (TRE_R211).
    pub activity: Option<Code>,
    /// Famille d'activité (SERAFIN-PH codes), when given.
    pub activity_families: Vec<Code>,
    /// Mode de prise en charge (TRE_R213).
    pub care_mode: Option<Code>,
    /// Temporalité d'accueil (TRE_R240).
    pub reception: Option<Code>,
    /// Publics pris en charge (TRE_R239).
    pub publics: Vec<Code>,
    /// Spécialisations de prise en charge (TRE_R245).
    pub specialisations: Vec<Code>,
    /// Compétences spécifiques (TRE_R243).
    pub competences: Vec<Code>,
    /// Ages accepted (`ror-healthcareservice-patient-type` age range), in years.
    pub age_range: Option<AgeRange>,
    /// Unité sensible: visible to access profiles 1 and 4 only.
    pub sensitive_unit: bool,
    /// Closing date (`notAvailable[closingReopeningDate]`), Unix seconds.
    pub closed_from: Option<UnixSeconds>,
    /// Planned reopening date (`notAvailable[closingReopeningDate]`), Unix seconds.
    pub reopens_at: Option<UnixSeconds>,
    /// Where the offer is provided (`location`).
    pub locations: Vec<LocationId>,
    /// Source region (TRE_R30, `meta.tag`).
    pub region: Option<Code>,
    /// `ror-meta-creation-date`, Unix seconds.
    pub created_at: Option<UnixSeconds>,
    /// `meta.lastUpdated`, Unix seconds.
    pub last_updated: Option<UnixSeconds>,
}

/// Lieu de réalisation de l'offre (`Location`), carrying capacities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// FHIR logical id of the `Location`.
    pub id: String,
    /// Identifiant du lieu (TRE_R354 `25`, e.g. `24/1073`).
    pub identifier: Option<String>,
    /// Identifiant externe de synchronisation (TRE_R354 `26`): the zone code a region gives the
    /// EG's bed-management software, which addresses its capacity PATCHes to
    /// `<IdNatStruct of the EG>/<this>` (e.g. `1350054680/SSR38888`).
    pub synchro_id: Option<String>,
    /// Name of the place.
    pub name: Option<String>,
    /// INSEE COG code of the commune (`ror-commune-cog`).
    pub commune: Option<Code>,
    /// WGS84 position of the place.
    pub position: Option<GeoPoint>,
    /// `ror-coordinate-reliability`.
    pub position_reliable: Option<bool>,
    /// Postal address of the place.
    pub address: Address,
    /// Fonction du lieu (TRE_R343).
    pub function: Option<Code>,
    /// Capacity records (`ror-location-supported-capacity`).
    pub capacities: Vec<CapacityRecord>,
    /// `meta.lastUpdated`, Unix seconds.
    pub last_updated: Option<UnixSeconds>,
}

/// One capacity record (`ror-location-supported-capacity`): one indicator and its count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityRecord {
    /// Nature (TRE_R329: `01` lit, `02` place, `03` logement).
    pub capacity_type: Code,
    /// Statut (TRE_R330: `01` installé, `02` disponible, `06` supplémentaire, ...).
    pub status: Code,
    /// Temporalité (TRE_R331: `01` courant, `02` prévisionnel 1 h, ...).
    pub temporality: Code,
    /// Genre (TRE_R332).
    pub gender: Option<Code>,
    /// Type de fermeture (TRE_R333).
    pub closing_type: Option<Code>,
    /// Type de lit supplémentaire (TRE_R334).
    pub additional_bed_type: Option<Code>,
    /// Type de crise (TRE_R336).
    pub crisis_type: Option<Code>,
    /// Affectation temporaire (TRE_R337).
    pub temporary_assignment: Option<Code>,
    /// Source (TRE_R335).
    pub source_type: Option<Code>,
    /// Number of beds / places / dwellings.
    pub count: u32,
    /// `capacityUpdateDate`: when the source last updated this record.
    pub updated_at: Option<UnixSeconds>,
}

/// What identifies a capacity record within its location: the whole indicator tuple. Two
/// records that differ only by temporary assignment are two records (IG issue #382), so an
/// update replaces the record of its own key and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CapacityKey {
    /// Statut (TRE_R330).
    pub status: Code,
    /// Temporalité (TRE_R331).
    pub temporality: Code,
    /// Genre (TRE_R332).
    pub gender: Option<Code>,
    /// Affectation temporaire (TRE_R337).
    pub temporary_assignment: Option<Code>,
    /// Type de fermeture (TRE_R333).
    pub closing_type: Option<Code>,
    /// Type de lit supplémentaire (TRE_R334).
    pub additional_bed_type: Option<Code>,
    /// Type de crise (TRE_R336).
    pub crisis_type: Option<Code>,
}

impl CapacityRecord {
    /// The record's key within its location.
    pub fn key(&self) -> CapacityKey {
        CapacityKey {
            status: self.status.clone(),
            temporality: self.temporality.clone(),
            gender: self.gender.clone(),
            temporary_assignment: self.temporary_assignment.clone(),
            closing_type: self.closing_type.clone(),
            additional_bed_type: self.additional_bed_type.clone(),
            crisis_type: self.crisis_type.clone(),
        }
    }
}
