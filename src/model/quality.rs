//! The data-quality rules: one table ([`RULES`]), the thresholds they use, and the regions of
//! France by département. The checks themselves are in `crate::quality`; the README's rules
//! table is generated from this one (`ror-search quality --rules-markdown`).
//!
//! Thresholds are ours where the ROR doctrine gives none (`../shared/docs/ror-model.md` §5.2:
//! no normative refresh frequency is published for capacities); each is stated in the table.

use serde::{Deserialize, Serialize};

use crate::util::time::{DAY_SECONDS, UnixSeconds};

/// How urgent a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Wrong data that misleads an orientation (a free place that is not, a site nobody can
    /// find by distance).
    Error,
    /// Suspicious or stale data to check.
    Warning,
    /// Missing data that narrows what the record can be found by.
    Info,
}

impl Severity {
    /// Every severity, most urgent first.
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

    /// The name used in parameters and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// The French label (CSV exports).
    pub fn label_fr(self) -> &'static str {
        match self {
            Severity::Error => "erreur",
            Severity::Warning => "avertissement",
            Severity::Info => "information",
        }
    }
}

/// What kind of record a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// An offre opérationnelle (`HealthcareService`).
    Offer,
    /// An entité géographique (`Organization`).
    Eg,
    /// A lieu (`Location`), where capacities are held.
    Location,
    /// An entité juridique (`Organization` without `partOf`).
    Ej,
}

impl Subject {
    /// The name used in answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Offer => "offer",
            Subject::Eg => "eg",
            Subject::Location => "location",
            Subject::Ej => "ej",
        }
    }

    /// The French label (CSV exports).
    pub fn label_fr(self) -> &'static str {
        match self {
            Subject::Offer => "offre",
            Subject::Eg => "EG",
            Subject::Location => "lieu",
            Subject::Ej => "EJ",
        }
    }
}

/// A rule's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleId {
    /// The offer's `meta.lastUpdated` is more than [`OFFER_STALE_DAYS`] old.
    OfferStale,
    /// The offer has no `meta.lastUpdated`.
    OfferWithoutLastUpdated,
    /// A capacity kind of a location was not updated within its threshold.
    CapacityStale,
    /// The EG has no position.
    EgWithoutCoordinates,
    /// The source flags the EG's position as unreliable.
    EgUnreliableCoordinates,
    /// The EG's position is far from the centroid of its commune.
    EgFarFromCommune,
    /// More places available now than installed.
    AvailableAboveInstalled,
    /// A closed offer still shows free places.
    ClosedWithFreePlaces,
    /// An EHPAD without a daily hébergement price.
    EhpadWithoutHebergementPrice,
    /// An EHPAD without a daily dépendance tariff for some GIR band.
    EhpadWithoutDependanceTariff,
    /// A daily tariff outside the plausible range.
    TariffImplausible,
    /// Age range with its minimum above its maximum.
    AgeRangeInverted,
    /// Age range implausible for the type d'offre.
    AgeRangeImplausible,
    /// The offer's GIR policy (from its type d'offre) contradicts its EG's category.
    GirIncoherent,
    /// Several locations of one EG carry the same synchro id.
    DuplicateSynchroId,
    /// The offer lists no location.
    OfferWithoutLocation,
    /// The offer hangs directly under an EJ.
    OfferWithoutEg,
    /// Neither the offer's locations nor its EG have a position.
    OfferWithoutPosition,
    /// A code not in our NOS tables, kept with a warning at ingest.
    UnknownCode,
    /// Any other remark of the ingest on a record it kept.
    IngestWarning,
}

/// One row of the rules table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Its identity.
    pub id: RuleId,
    /// The name used in parameters, answers and exports (`offer_stale`).
    pub code: &'static str,
    /// How urgent it is.
    pub severity: Severity,
    /// The record it looks at (`None`: any).
    pub subject: Option<Subject>,
    /// Whether live capacity writes change its findings (they are kept current between
    /// snapshots).
    pub live: bool,
    /// French label, as an ARS data steward reads it.
    pub label_fr: &'static str,
    /// What it checks, with its threshold.
    pub description: &'static str,
}

/// An offer not updated for more than this many days is stale (ESMS must update their offer at
/// each change and at least once a year).
pub const OFFER_STALE_DAYS: i64 = 365;
/// Installed capacity (statut `01`) not updated for more than this many days.
pub const INSTALLED_STALE_DAYS: i64 = 365;
/// Operational capacity (statuts `02`-`05`, `07`-`99`: disponible, occupé, réservé, fermé...)
/// not updated for more than this many days ("disponible" means free within 24 h).
pub const OPERATIONAL_STALE_DAYS: i64 = 7;
/// Supplementary (crisis, statut `06`) capacity not updated for more than this many days.
pub const SUPPLEMENTARY_STALE_DAYS: i64 = 30;
/// An EG more than this far from its commune's centroid, kilometres (the largest communes of
/// metropolitan France span about 20 km from their centroid).
pub const FAR_FROM_COMMUNE_KM: f64 = 25.0;
/// The same in French Guiana, whose communes are the size of départements.
pub const FAR_FROM_COMMUNE_GUYANE_KM: f64 = 150.0;
/// Plausible daily hébergement price, euro cents (the CNSA 2023 single-room prices of the
/// 6,479 EHPAD that publish one lie between 34.50 and 238 EUR).
pub const HEBERGEMENT_DAILY_CENTS: std::ops::RangeInclusive<i64> = 3_000..=30_000;
/// Plausible daily dépendance tariff of a GIR band, euro cents.
pub const DEPENDANCE_DAILY_CENTS: std::ops::RangeInclusive<i64> = 100..=10_000;
/// Highest plausible age bound, years (feeds write 150 for "no upper limit").
pub const MAX_AGE_YEARS: f64 = 150.0;
/// Youngest maximum age an elderly-care offer can plausibly have, years.
pub const ELDERLY_MIN_MAX_AGE_YEARS: f64 = 60.0;

/// The rules, in report order.
pub const RULES: [Rule; 20] = [
    Rule {
        id: RuleId::AvailableAboveInstalled,
        code: "available_above_installed",
        severity: Severity::Error,
        subject: Some(Subject::Offer),
        live: true,
        label_fr: "Places disponibles supérieures aux places installées",
        description: "Available places now (statut 02, temporalité 01) above the installed places (statut 01), installed known and above 0.",
    },
    Rule {
        id: RuleId::ClosedWithFreePlaces,
        code: "closed_with_free_places",
        severity: Severity::Error,
        subject: Some(Subject::Offer),
        live: true,
        label_fr: "Offre fermée affichant des places disponibles",
        description: "The offer (or its EG) is closed today and still reports available places (RG_EXP_047).",
    },
    Rule {
        id: RuleId::EgWithoutCoordinates,
        code: "eg_without_coordinates",
        severity: Severity::Error,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "EG sans coordonnées géographiques",
        description: "The EG has no WGS84 position: its offers are placed at a location's position or their commune's centroid, or not at all.",
    },
    Rule {
        id: RuleId::OfferWithoutPosition,
        code: "offer_without_position",
        severity: Severity::Error,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Offre sans position (introuvable par distance)",
        description: "Neither the offer's locations nor its EG have a position, and no commune centroid is known: no search by distance finds it.",
    },
    Rule {
        id: RuleId::DuplicateSynchroId,
        code: "duplicate_synchro_id",
        severity: Severity::Error,
        subject: Some(Subject::Location),
        live: false,
        label_fr: "Identifiant externe de synchronisation en double",
        description: "Several locations of one EG carry the same synchro id (TRE_R354 26): bed-management PATCHes to it are refused (412 multiple-matches).",
    },
    Rule {
        id: RuleId::EhpadWithoutHebergementPrice,
        code: "ehpad_without_hebergement_price",
        severity: Severity::Error,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "EHPAD sans prix d'hébergement journalier",
        description: "An EHPAD (catégorie 500) with no daily permanent forfait socle hébergement (type de tarif 02, unité 2): no price filter or sort can place it.",
    },
    Rule {
        id: RuleId::EhpadWithoutDependanceTariff,
        code: "ehpad_without_dependance_tariff",
        severity: Severity::Warning,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "EHPAD sans tarif dépendance pour un groupe GIR",
        description: "An EHPAD (catégorie 500) missing the daily dépendance tariff (type 03, unité 2) of a GIR band (01 GIR 1-2, 02 GIR 3-4, 03 GIR 5-6).",
    },
    Rule {
        id: RuleId::TariffImplausible,
        code: "tariff_implausible",
        severity: Severity::Warning,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "Tarif journalier invraisemblable",
        description: "A daily hébergement price outside 30-300 EUR, or a daily dépendance tariff outside 1-100 EUR.",
    },
    Rule {
        id: RuleId::AgeRangeInverted,
        code: "age_range_inverted",
        severity: Severity::Error,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Tranche d'âge inversée",
        description: "The offer's minimum age is above its maximum age: nobody matches an age filter.",
    },
    Rule {
        id: RuleId::AgeRangeImplausible,
        code: "age_range_implausible",
        severity: Severity::Warning,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Tranche d'âge invraisemblable pour le type d'offre",
        description: "An age bound below 0 or above 150 years (150 is the usual \"no upper limit\"), or an elderly-care offer (types d'offre 21-27) whose maximum age is under 60.",
    },
    Rule {
        id: RuleId::GirIncoherent,
        code: "gir_incoherent",
        severity: Severity::Warning,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Politique GIR incohérente avec le type d'offre",
        description: "A type d'offre for autonomous elderly people (22, 27: GIR 5-6) at an EHPAD (catégorie 500), or one for dependent people (21, 23-26: GIR 1-6) at a résidence autonomie (catégorie 202).",
    },
    Rule {
        id: RuleId::CapacityStale,
        code: "capacity_stale",
        severity: Severity::Warning,
        subject: Some(Subject::Location),
        live: true,
        label_fr: "Capacité non mise à jour",
        description: "The newest capacityUpdateDate of a capacity kind of the location is older than its threshold: installed (statut 01) 365 days, operational (other statuts) 7 days, supplementary (statut 06) 30 days; a record without a date counts as never updated.",
    },
    Rule {
        id: RuleId::OfferStale,
        code: "offer_stale",
        severity: Severity::Warning,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Offre non mise à jour depuis plus d'un an",
        description: "The offer's meta.lastUpdated is more than 365 days old (an offer must be updated at each change and at least once a year).",
    },
    Rule {
        id: RuleId::EgUnreliableCoordinates,
        code: "eg_unreliable_coordinates",
        severity: Severity::Warning,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "Coordonnées de l'EG non fiables",
        description: "The source flags the EG's position as unreliable (ror-confidence-geolocation false).",
    },
    Rule {
        id: RuleId::EgFarFromCommune,
        code: "eg_far_from_commune",
        severity: Severity::Warning,
        subject: Some(Subject::Eg),
        live: false,
        label_fr: "EG éloigné du centre de sa commune",
        description: "The EG's position is more than 25 km (150 km in French Guiana) from the centroid of the commune of its address.",
    },
    Rule {
        id: RuleId::UnknownCode,
        code: "unknown_code",
        severity: Severity::Warning,
        subject: None,
        live: false,
        label_fr: "Code inconnu des nomenclatures",
        description: "A code that is not in our NOS tables, kept with a warning at ingest (on an EJ, an EG, an offer or a location: the finding names it).",
    },
    Rule {
        id: RuleId::OfferWithoutLastUpdated,
        code: "offer_without_last_updated",
        severity: Severity::Info,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Offre sans date de mise à jour",
        description: "The offer has no meta.lastUpdated: its freshness cannot be judged.",
    },
    Rule {
        id: RuleId::OfferWithoutLocation,
        code: "offer_without_location",
        severity: Severity::Info,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Offre sans lieu de réalisation",
        description: "The offer lists no Location: it has no capacity and takes its EG's position.",
    },
    Rule {
        id: RuleId::OfferWithoutEg,
        code: "offer_without_eg",
        severity: Severity::Info,
        subject: Some(Subject::Offer),
        live: false,
        label_fr: "Offre rattachée directement à l'EJ",
        description: "The offer is provided by an entité juridique, not an EG: it has no tariffs and no EG position.",
    },
    Rule {
        id: RuleId::IngestWarning,
        code: "ingest_warning",
        severity: Severity::Info,
        subject: None,
        live: false,
        label_fr: "Remarque de l'import",
        description: "Any other remark of the ingest on a record it kept (a malformed FINESS, a currency other than EUR, a second activité opérationnelle ignored...), as in rejects.ndjson.",
    },
];

impl RuleId {
    /// This rule's row of [`RULES`].
    pub fn rule(self) -> &'static Rule {
        RULES.iter().find(|rule| rule.id == self).expect("every rule is in RULES")
    }

    /// The rule of a code (`offer_stale`).
    pub fn from_code(code: &str) -> Option<RuleId> {
        RULES.iter().find(|rule| rule.code == code).map(|rule| rule.id)
    }
}

/// The capacity kinds [`RuleId::CapacityStale`] judges, with their thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapacityKind {
    /// Statut `01` installé.
    Installed,
    /// Every other statut but `06`.
    Operational,
    /// Statut `06` supplémentaire (crisis).
    Supplementary,
}

impl CapacityKind {
    /// The kind of a capacity statut (TRE_R330).
    pub fn of_status(status: &str) -> CapacityKind {
        match status {
            "01" => CapacityKind::Installed,
            "06" => CapacityKind::Supplementary,
            _ => CapacityKind::Operational,
        }
    }

    /// The kind of a capacity record: supplementary when its statut is `06` or it has a type de
    /// lit supplémentaire or a type de crise (the crisis records of the access policy), else
    /// by statut.
    pub fn of_record(record: &crate::model::CapacityRecord) -> CapacityKind {
        if record.additional_bed_type.is_some() || record.crisis_type.is_some() {
            CapacityKind::Supplementary
        } else {
            CapacityKind::of_status(&record.status)
        }
    }

    /// Its staleness threshold, seconds.
    pub fn stale_after_seconds(self) -> UnixSeconds {
        DAY_SECONDS
            * match self {
                CapacityKind::Installed => INSTALLED_STALE_DAYS,
                CapacityKind::Operational => OPERATIONAL_STALE_DAYS,
                CapacityKind::Supplementary => SUPPLEMENTARY_STALE_DAYS,
            }
    }

    /// Its French label.
    pub fn label_fr(self) -> &'static str {
        match self {
            CapacityKind::Installed => "capacité installée",
            CapacityKind::Operational => "capacité opérationnelle",
            CapacityKind::Supplementary => "capacité supplémentaire (crise)",
        }
    }
}

/// The INSEE région code of a département (COG 2024: 18 régions).
pub fn region_of_departement(departement: &str) -> Option<&'static str> {
    Some(match departement {
        "75" | "77" | "78" | "91" | "92" | "93" | "94" | "95" => "11",
        "18" | "28" | "36" | "37" | "41" | "45" => "24",
        "21" | "25" | "39" | "58" | "70" | "71" | "89" | "90" => "27",
        "14" | "27" | "50" | "61" | "76" => "28",
        "02" | "59" | "60" | "62" | "80" => "32",
        "08" | "10" | "51" | "52" | "54" | "55" | "57" | "67" | "68" | "88" => "44",
        "44" | "49" | "53" | "72" | "85" => "52",
        "22" | "29" | "35" | "56" => "53",
        "16" | "17" | "19" | "23" | "24" | "33" | "40" | "47" | "64" | "79" | "86" | "87" => "75",
        "09" | "11" | "12" | "30" | "31" | "32" | "34" | "46" | "48" | "65" | "66" | "81" | "82" => "76",
        "01" | "03" | "07" | "15" | "26" | "38" | "42" | "43" | "63" | "69" | "73" | "74" => "84",
        "04" | "05" | "06" | "13" | "83" | "84" => "93",
        "2A" | "2B" => "94",
        "971" => "01",
        "972" => "02",
        "973" => "03",
        "974" => "04",
        "976" => "06",
        _ => return None,
    })
}

/// The rules table as Markdown (the README's).
pub fn rules_markdown() -> String {
    let mut out = String::from("| rule | severity | record | live | what it checks |\n|---|---|---|---|---|\n");
    for rule in &RULES {
        out.push_str(&format!(
            "| `{}` ({}) | {} | {} | {} | {} |\n",
            rule.code,
            rule.label_fr,
            rule.severity.as_str(),
            rule.subject.map_or("any", Subject::as_str),
            if rule.live { "yes" } else { "no" },
            rule.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_once_with_a_unique_code() {
        let mut codes: Vec<&str> = RULES.iter().map(|rule| rule.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), RULES.len());
        for rule in &RULES {
            assert_eq!(RuleId::from_code(rule.code), Some(rule.id));
            assert_eq!(rule.id.rule().code, rule.code);
            // The serde name is the code.
            assert_eq!(serde_json::to_value(rule.id).unwrap(), serde_json::json!(rule.code));
        }
    }

    #[test]
    fn every_departement_has_its_region() {
        for departement in (1..=95).map(|n| format!("{n:02}")).filter(|d| d != "20") {
            assert!(region_of_departement(&departement).is_some(), "{departement}");
        }
        assert_eq!(region_of_departement("2A"), Some("94"));
        assert_eq!(region_of_departement("974"), Some("04"));
        assert_eq!(region_of_departement("975"), None);
    }
}
