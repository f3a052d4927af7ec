//! FHIR R4 JSON of the ROR profiles: reading ([`read`]) and writing ([`mod@write`]).
//!
//! Extensions are dispatched on their full URL (`ror_extension_id`); sub-extensions of complex
//! extensions on their bare `url`. Organization identifiers are matched on their type code
//! (TRE_G07), and `characteristic` / `specialty` codings are bucketed by code system, as
//! `ror-model.md` §1.7 asks.

pub(crate) mod raw;
pub mod read;
pub mod write;

/// Base URL of every ROR extension.
pub(crate) const ROR_EXTENSION_BASE: &str = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/";
/// The HL7 core geolocation extension (EG coordinates on `Organization.address`).
pub(crate) const GEOLOCATION_URL: &str = "http://hl7.org/fhir/StructureDefinition/geolocation";
/// The HL7 core organization-period extension (opening / closing dates).
pub(crate) const ORGANIZATION_PERIOD_URL: &str = "http://hl7.org/fhir/StructureDefinition/organization-period";
/// FR Core address INSEE code extension (commune of an address).
pub(crate) const FR_CORE_INSEE_CODE_URL: &str =
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code";

/// TRE_G07 (type d'identifiant de structure) system.
pub(crate) const TRE_G07_URL: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_G07-TypeIdentifiantStructure/FHIR/TRE-G07-TypeIdentifiantStructure";
/// TRE_R355 (type d'identifiant de l'offre; `35`).
pub(crate) const TRE_R355_URL: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R355-TypeIdentifiantOffre/FHIR/TRE-R355-TypeIdentifiantOffre";
/// TRE_R354 (type d'identifiant de ressource opérationnelle; `25` = lieu).
pub(crate) const TRE_R354_URL: &str = "https://mos.esante.gouv.fr/NOS/TRE_R354-TypeIdentifiantRessourceOperationnelle/FHIR/TRE-R354-TypeIdentifiantRessourceOperationnelle";
/// TRE_R13 (communes, COG) system.
pub(crate) const TRE_R13_URL: &str = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM";
/// TRE_R30 (régions) system used in `meta.tag`.
pub(crate) const TRE_R30_URL: &str = "https://mos.esante.gouv.fr/NOS/TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM";
/// TRE_R247 (UCUM units) system used in `ageRange`.
pub(crate) const TRE_R247_URL: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R247-UcumUniteMesure/FHIR/TRE-R247-UcumUniteMesure";
/// TRE_R243 (compétence spécifique) system.
pub(crate) const TRE_R243_URL: &str =
    "https://mos.esante.gouv.fr/NOS/TRE_R243-CompetenceSpecifique/FHIR/TRE-R243-CompetenceSpecifique";

/// The id of a ROR extension (`ror-location-supported-capacity`) from its full URL; `http` and
/// `https` are both accepted. Other URLs give `None`.
pub(crate) fn ror_extension_id(url: &str) -> Option<&str> {
    url.strip_prefix(ROR_EXTENSION_BASE)
        .or_else(|| url.strip_prefix("http://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"))
}

/// Whether a coding system URL names the NOS table `nos_number` (e.g. `"R13"` matches
/// `.../TRE_R13-CommuneOM/...` and `.../TRE_R13-Commune/...`).
pub(crate) fn system_is_nos(system: &str, nos_number: &str) -> bool {
    let underscore = format!("TRE_{nos_number}-");
    let hyphen = format!("TRE-{nos_number}-");
    system.contains(&underscore) || system.contains(&hyphen)
}

/// The full URL of a ROR extension id.
pub(crate) fn ror_extension_url(id: &str) -> String {
    format!("{ROR_EXTENSION_BASE}{id}")
}
