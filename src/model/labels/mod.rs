//! The NOS code systems used by the ROR: which systems the engine knows ([`CodeSystem`]), one
//! static row per system ([`SYSTEMS`]: NOS id, URL pieces, label table, unknown-code policy),
//! and the lookups over it. The `(code, label)` data itself is in `tables`.
//!
//! Every `(code, label)` pair below was copied from an ANS publication; nothing is invented.
//! Codes are kept exactly as the NOS writes them (leading zeros matter: `"01"`, `"021"`).
//! Each table is sorted by code in byte order so that [`CodeSystem::label`] can binary-search it.
//!
//! Where the tables come from (details and versions on each table's doc comment):
//!
//! * **ANS FSH CodeSystems / ValueSets** in the public repository `ansforge/ig-terminlogie-de-sante`
//!   (sic), folder `DM/input/fsh/Done/Ontoserver/`: R66, R211 (+ JDV_J17), R213 (+ JDV_J19),
//!   R227, R239, R241, R329, R332, R343.
//! * **IG "Terminologies de Santé" v1.12.0** (package `ans.fr.terminologies`, pages built in
//!   2026): R72, R245, R330, R242, JDV_J238 (for R244), JDV_J19 (code `60` of R213),
//!   JDV_J36 (R246), JDV_J30 (R240); v0.1.0 page of TRE_R244 for the R244 codes outside J238.
//! * **Built IG "Bac-à-sable"** `ig/Bac-à-sable-dan/CodeSystem-TRE-*.html` in the same repository
//!   (build of 2024-11-25): R228, R237, R240, R246, R250, R284, R331, R333, R334, R335, R336, R337.
//! * The FINESS extract of 2021-01-08 (`shared/data/real/finess-etablissements-2021`) was used to
//!   check that every establishment category seen in real data is in the R66 table.
//!
//! Deprecated codes are kept on purpose: ROR data still carries them.
//!
//! # Unknown codes
//!
//! Each system says what reading a code missing from its table means ([`UnknownCode`]), and
//! FHIR ingest (`ingest::fhir::read`) consults exactly that: [`UnknownCode::Reject`] for the
//! closed lists that drive engine semantics (capacity nature / status / temporality, tariff type
//! / unit / dependency group, temporalité d'accueil, champ d'activité), [`UnknownCode::Warn`]
//! for every other system. Warn covers the large or evolving catalogues (R66, R244, R211, R239,
//! R245, R72, R343) where our copy may lag behind the NOS, but also some complete lists (R213,
//! R241, R242, R250, R284, R332 to R337) that ingest has always accepted with a warning
//! (TRE_R332's legacy code `03` is still sent, see `ror-model.md`).

mod tables;

/// A NOS code system the engine knows labels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) enum CodeSystem {
    /// `TRE_R66-CategorieEtablissement`
    CategorieEtablissement,
    /// `TRE_R244-CategorieOrganisation`
    CategorieOrganisation,
    /// `TRE_R227-ChampActivite`
    ChampActivite,
    /// `TRE_R211-ActiviteOperationnelle`
    ActiviteOperationnelle,
    /// `TRE_R213-ModePriseEnCharge`
    ModePriseEnCharge,
    /// `TRE_R240-TemporaliteAccueil`
    TemporaliteAccueil,
    /// `TRE_R239-PublicPrisEnCharge`
    PublicPrisEnCharge,
    /// `TRE_R245-SpecialisationDePriseEnCharge`
    SpecialisationPriseEnCharge,
    /// `TRE_R329-NatureCapacite`
    NatureCapacite,
    /// `TRE_R330-TypeStatutCapacite`
    StatutCapacite,
    /// `TRE_R331-TemporaliteCapacite`
    TemporaliteCapacite,
    /// `TRE_R332-GenreCapacite`
    GenreCapacite,
    /// `TRE_R333-TypeFermetureCapacite`
    TypeFermetureCapacite,
    /// `TRE_R334-TypeLitSupplementaire`
    TypeLitSupplementaire,
    /// `TRE_R335-TypeSourceCapacite`
    TypeSourceCapacite,
    /// `TRE_R336-TypeCrise`
    TypeCrise,
    /// `TRE_R337-AffectationTemporaire`
    AffectationTemporaire,
    /// `TRE_R237-GroupeTarifaireDependance`
    GroupeTarifaireDependance,
    /// `TRE_R246-TypeTarif`
    TypeTarif,
    /// `TRE_R228-UnitePrix`
    UnitePrix,
    /// `TRE_R242-TypeHabitation`
    TypeHabitation,
    /// `TRE_R250-ConditionTarifaire`
    ConditionTarifaire,
    /// `TRE_R241-AideFinanciere`
    AideFinanciere,
    /// `TRE_R284-NiveauRecoursORSAN`
    NiveauRecoursOrsan,
    /// `TRE_R343-FonctionLieu`
    FonctionLieu,
    /// `TRE_R72-FinessStatutJuridique`
    StatutJuridique,
}

impl CodeSystem {
    /// Every variant, in declaration order.
    #[cfg(test)]
    pub(crate) const ALL: &'static [CodeSystem] = &[
        CodeSystem::CategorieEtablissement,
        CodeSystem::CategorieOrganisation,
        CodeSystem::ChampActivite,
        CodeSystem::ActiviteOperationnelle,
        CodeSystem::ModePriseEnCharge,
        CodeSystem::TemporaliteAccueil,
        CodeSystem::PublicPrisEnCharge,
        CodeSystem::SpecialisationPriseEnCharge,
        CodeSystem::NatureCapacite,
        CodeSystem::StatutCapacite,
        CodeSystem::TemporaliteCapacite,
        CodeSystem::GenreCapacite,
        CodeSystem::TypeFermetureCapacite,
        CodeSystem::TypeLitSupplementaire,
        CodeSystem::TypeSourceCapacite,
        CodeSystem::TypeCrise,
        CodeSystem::AffectationTemporaire,
        CodeSystem::GroupeTarifaireDependance,
        CodeSystem::TypeTarif,
        CodeSystem::UnitePrix,
        CodeSystem::TypeHabitation,
        CodeSystem::ConditionTarifaire,
        CodeSystem::AideFinanciere,
        CodeSystem::NiveauRecoursOrsan,
        CodeSystem::FonctionLieu,
        CodeSystem::StatutJuridique,
    ];

    /// This system's row of [`SYSTEMS`].
    fn row(self) -> &'static SystemRow {
        let row = &SYSTEMS[self as usize];
        debug_assert_eq!(row.system, self, "SYSTEMS is in declaration order");
        row
    }

    /// The NOS identifier, e.g. `"TRE_R244-CategorieOrganisation"`.
    pub(crate) fn nos_id(self) -> &'static str {
        self.row().nos_id
    }

    /// The canonical FHIR system URL, e.g.
    /// `https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation`
    /// (pattern: `https://mos.esante.gouv.fr/NOS/<TRE_Rxxx-Name>/FHIR/<TRE-Rxxx-Name>`).
    pub(crate) fn url(self) -> &'static str {
        self.row().url
    }

    /// The `Rxxx` number of the NOS identifier (66 for TRE_R66).
    #[cfg(test)]
    fn r_number(self) -> u32 {
        self.row().r_number
    }

    /// Finds the system from a `coding.system` URL.
    ///
    /// Accepts http and https, a trailing slash, and either the NOS segment (`TRE_Rxxx-Name`) or
    /// the FHIR segment (`TRE-Rxxx-Name`) alone: only the `TRE_Rxxx` / `TRE-Rxxx` part is used.
    ///
    /// The match is case-insensitive (`tre-r66-...` as used by the SMT also works) and looks only
    /// at the number after `TRE_R` / `TRE-R`, so a renamed suffix (e.g. an alias spelled
    /// `TRE_R237-NiveauDependance`) still resolves. `TRE_R24` never matches `TRE_R244`.
    pub(crate) fn from_url(url: &str) -> Option<CodeSystem> {
        let n = tre_number(url)?;
        SYSTEMS.iter().find(|row| row.r_number == n).map(|row| row.system)
    }

    /// What reading a code that is not in [`CodeSystem::table`] means (see the module doc).
    pub(crate) fn unknown_code(self) -> UnknownCode {
        self.row().unknown_code
    }

    /// True when an unknown code of this system is a data error ([`UnknownCode::Reject`]);
    /// false where it is only a warning.
    #[cfg(test)]
    pub(crate) fn is_closed(self) -> bool {
        self.unknown_code() == UnknownCode::Reject
    }

    /// (code, label) pairs sorted by code (byte order), for binary search.
    pub(crate) fn table(self) -> &'static [(&'static str, &'static str)] {
        self.row().table
    }

    /// The label of a code, or None when unknown.
    pub(crate) fn label(self, code: &str) -> Option<&'static str> {
        let table = self.table();
        table.binary_search_by(|(c, _)| (*c).cmp(code)).ok().map(|i| table[i].1)
    }
}

/// What an unknown code of a system means when a feed is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownCode {
    /// The record is rejected: the list is closed and the engine relies on its meaning.
    Reject,
    /// The record is kept with a warning.
    Warn,
}

/// One code system: everything the engine knows about it, in one place.
#[derive(Debug)]
pub(crate) struct SystemRow {
    pub(crate) system: CodeSystem,
    /// The `Rxxx` number (66 for TRE_R66); unique, [`CodeSystem::from_url`] relies on it.
    pub(crate) r_number: u32,
    /// `TRE_R66-CategorieEtablissement`.
    pub(crate) nos_id: &'static str,
    /// `https://mos.esante.gouv.fr/NOS/<nos_id>/FHIR/<nos_id with TRE-R>`.
    pub(crate) url: &'static str,
    /// `(code, label)` pairs sorted by code, from `tables`.
    pub(crate) table: &'static [(&'static str, &'static str)],
    pub(crate) unknown_code: UnknownCode,
}

/// A [`SystemRow`] from the variant, the R number, the name after `TRE_Rxxx-`, the table and the
/// unknown-code policy; the NOS id and the URL are spelled out from the number and the name.
macro_rules! system {
    ($variant:ident, $number:literal, $name:literal, $table:ident, $unknown:ident) => {
        SystemRow {
            system: CodeSystem::$variant,
            r_number: $number,
            nos_id: concat!("TRE_R", $number, "-", $name),
            url: concat!(
                "https://mos.esante.gouv.fr/NOS/TRE_R",
                $number,
                "-",
                $name,
                "/FHIR/TRE-R",
                $number,
                "-",
                $name
            ),
            table: tables::$table,
            unknown_code: UnknownCode::$unknown,
        }
    };
}

/// Every code system, in [`CodeSystem`] declaration order (so `SYSTEMS[system as usize]` is its
/// row).
pub(crate) static SYSTEMS: [SystemRow; 26] = [
    system!(CategorieEtablissement, 66, "CategorieEtablissement", R66, Warn),
    system!(CategorieOrganisation, 244, "CategorieOrganisation", R244, Warn),
    system!(ChampActivite, 227, "ChampActivite", R227, Reject),
    system!(ActiviteOperationnelle, 211, "ActiviteOperationnelle", R211, Warn),
    system!(ModePriseEnCharge, 213, "ModePriseEnCharge", R213, Warn),
    system!(TemporaliteAccueil, 240, "TemporaliteAccueil", R240, Reject),
    system!(PublicPrisEnCharge, 239, "PublicPrisEnCharge", R239, Warn),
    system!(SpecialisationPriseEnCharge, 245, "SpecialisationDePriseEnCharge", R245, Warn),
    system!(NatureCapacite, 329, "NatureCapacite", R329, Reject),
    system!(StatutCapacite, 330, "TypeStatutCapacite", R330, Reject),
    system!(TemporaliteCapacite, 331, "TemporaliteCapacite", R331, Reject),
    system!(GenreCapacite, 332, "GenreCapacite", R332, Warn),
    system!(TypeFermetureCapacite, 333, "TypeFermetureCapacite", R333, Warn),
    system!(TypeLitSupplementaire, 334, "TypeLitSupplementaire", R334, Warn),
    system!(TypeSourceCapacite, 335, "TypeSourceCapacite", R335, Warn),
    system!(TypeCrise, 336, "TypeCrise", R336, Warn),
    system!(AffectationTemporaire, 337, "AffectationTemporaire", R337, Warn),
    system!(GroupeTarifaireDependance, 237, "GroupeTarifaireDependance", R237, Reject),
    system!(TypeTarif, 246, "TypeTarif", R246, Reject),
    system!(UnitePrix, 228, "UnitePrix", R228, Reject),
    system!(TypeHabitation, 242, "TypeHabitation", R242, Warn),
    system!(ConditionTarifaire, 250, "ConditionTarifaire", R250, Warn),
    system!(AideFinanciere, 241, "AideFinanciere", R241, Warn),
    system!(NiveauRecoursOrsan, 284, "NiveauRecoursORSAN", R284, Warn),
    system!(FonctionLieu, 343, "FonctionLieu", R343, Warn),
    system!(StatutJuridique, 72, "FinessStatutJuridique", R72, Warn),
];

/// Extracts the number that follows the first `TRE_R` / `TRE-R` (any case) of `url`, when that
/// marker starts a path segment or word (not preceded by an ASCII letter or digit).
/// The `Rxxx` number of a NOS system URL (`TRE_R330…` → 330), if it names one.
pub(crate) fn tre_number_of(url: &str) -> Option<u32> {
    tre_number(url)
}

fn tre_number(url: &str) -> Option<u32> {
    let b = url.as_bytes();
    let mut i = 0;
    while i + 5 <= b.len() {
        let at_boundary = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_boundary
            && b[i].eq_ignore_ascii_case(&b't')
            && b[i + 1].eq_ignore_ascii_case(&b'r')
            && b[i + 2].eq_ignore_ascii_case(&b'e')
            && (b[i + 3] == b'_' || b[i + 3] == b'-')
            && b[i + 4].eq_ignore_ascii_case(&b'r')
        {
            let start = i + 5;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end > start && end - start <= 6 {
                return url[start..end].parse::<u32>().ok();
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_variant_once() {
        let mut seen = std::collections::HashSet::new();
        for s in CodeSystem::ALL {
            assert!(seen.insert(*s), "{s:?} twice in ALL");
        }
        assert_eq!(CodeSystem::ALL.len(), 26);
        // Declaration order is the derived Ord order.
        assert!(CodeSystem::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn tables_are_strictly_sorted_and_searchable() {
        for s in CodeSystem::ALL {
            let t = s.table();
            assert!(!t.is_empty(), "{s:?} has an empty table");
            for w in t.windows(2) {
                assert!(w[0].0.as_bytes() < w[1].0.as_bytes(), "{s:?}: {:?} is not before {:?}", w[0].0, w[1].0);
            }
            for (code, label) in t {
                assert!(!code.is_empty() && !label.is_empty(), "{s:?}: empty entry");
                assert_eq!(code.trim(), *code, "{s:?}: code {code:?} has spaces");
                assert_eq!(label.trim(), *label, "{s:?}: label of {code} has edge spaces");
                assert_eq!(s.label(code), Some(*label), "{s:?}: label({code})");
            }
            assert_eq!(s.label(""), None);
            assert_eq!(s.label("zzz-not-a-code"), None);
        }
    }

    #[test]
    fn url_round_trip_and_nos_id_consistency() {
        for s in CodeSystem::ALL {
            assert_eq!(CodeSystem::from_url(s.url()), Some(*s), "{s:?}");
            let nos = s.nos_id();
            assert!(nos.starts_with("TRE_R"), "{nos}");
            let fhir = nos.replacen('_', "-", 1);
            assert_eq!(s.url(), format!("https://mos.esante.gouv.fr/NOS/{nos}/FHIR/{fhir}"));
        }
        // R-numbers are unique, so from_url is unambiguous.
        let mut nums: Vec<u32> = CodeSystem::ALL.iter().map(|s| s.r_number()).collect();
        nums.sort_unstable();
        nums.dedup();
        assert_eq!(nums.len(), CodeSystem::ALL.len());
    }

    #[test]
    fn from_url_variants() {
        let cases = [
            "http://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation",
            "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation/",
            "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation",
            "TRE-R244-CategorieOrganisation",
            "https://smt.esante.gouv.fr/fhir/CodeSystem/tre-r244-categorie-organisation",
        ];
        for u in cases {
            assert_eq!(CodeSystem::from_url(u), Some(CodeSystem::CategorieOrganisation), "{u}");
        }
        assert_eq!(
            CodeSystem::from_url(
                "https://mos.esante.gouv.fr/NOS/TRE_R237-NiveauDependance/FHIR/TRE-R237-NiveauDependance"
            ),
            Some(CodeSystem::GroupeTarifaireDependance)
        );
        assert_eq!(
            CodeSystem::from_url(
                "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
            ),
            Some(CodeSystem::CategorieEtablissement)
        );
        // Unknown or non-TRE systems.
        assert_eq!(
            CodeSystem::from_url(
                "https://mos.esante.gouv.fr/NOS/TRE_R24-TypeActiviteLiberale/FHIR/TRE-R24-TypeActiviteLiberale"
            ),
            None
        );
        assert_eq!(
            CodeSystem::from_url("https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"),
            None
        );
        assert_eq!(
            CodeSystem::from_url("https://mos.esante.gouv.fr/NOS/JDV_J238-TypeOffre-ROR/FHIR/JDV-J238-TypeOffre-ROR"),
            None
        );
        assert_eq!(CodeSystem::from_url("http://unitsofmeasure.org"), None);
        assert_eq!(CodeSystem::from_url(""), None);
        assert_eq!(CodeSystem::from_url("https://example.org/CentreR66"), None);
    }

    #[test]
    fn known_values() {
        use CodeSystem::*;
        assert!(CategorieEtablissement.label("500").unwrap().contains("personnes âgées dépendantes"));
        assert!(CategorieEtablissement.label("355").unwrap().starts_with("Centre Hospitalier"));
        assert_eq!(
            CategorieOrganisation.label("21"),
            Some("Accueil ou hébergement pour personnes âgées dépendantes, sans spécificité")
        );
        assert_eq!(CategorieOrganisation.label("25"), Some("Pôle d'activité de Soins Adaptés (PASA)"));
        assert_eq!(CategorieOrganisation.label("40"), Some("Maison d'accueil spécialisée (MAS)"));
        assert_eq!(CategorieOrganisation.label("157"), Some("Unité hospitalière de gynécologie"));
        assert_eq!(ChampActivite.label("04"), Some("Médico-social (MS)"));
        assert_eq!(ActiviteOperationnelle.label("013"), Some("Cardiologie générale"));
        assert_eq!(ActiviteOperationnelle.label("437"), Some("Médecine générale"));
        assert_eq!(ActiviteOperationnelle.label("021"), Some("Chirurgie générale"));
        assert_eq!(ActiviteOperationnelle.label("13"), None, "leading zeros matter");
        assert_eq!(ActiviteOperationnelle.table().len(), 629);
        assert_eq!(ModePriseEnCharge.label("46"), Some("Hébergement (accueil jour et nuit)"));
        assert_eq!(ModePriseEnCharge.label("47"), Some("Accueil de jour"));
        assert_eq!(ModePriseEnCharge.label("48"), Some("Accueil de nuit"));
        assert_eq!(ModePriseEnCharge.label("28"), Some("Hospitalisation complète (HC)"));
        assert_eq!(TemporaliteAccueil.label("01"), Some("Temporaire"));
        assert_eq!(TemporaliteAccueil.label("02"), Some("Permanent"));
        assert_eq!(StatutCapacite.label("01"), Some("Installé"));
        assert_eq!(StatutCapacite.label("02"), Some("Disponible"));
        assert_eq!(StatutCapacite.label("06"), Some("Supplémentaire"));
        assert_eq!(StatutCapacite.table().len(), 9);
        assert_eq!(NatureCapacite.label("01"), Some("Lit"));
        assert_eq!(NatureCapacite.label("02"), Some("Place"));
        assert_eq!(GenreCapacite.label("03"), Some("Indifférencié"));
        assert_eq!(TemporaliteCapacite.label("02"), Some("Prévisionnel 1 heure"));
        assert_eq!(GroupeTarifaireDependance.label("01"), Some("GIR 1-2"));
        assert_eq!(GroupeTarifaireDependance.label("02"), Some("GIR 3-4"));
        assert_eq!(GroupeTarifaireDependance.label("03"), Some("GIR 5-6"));
        assert_eq!(TypeTarif.label("02"), Some("Forfait socle hébergement"));
        assert_eq!(TypeTarif.label("03"), Some("Dépendance"));
        assert_eq!(UnitePrix.label("2"), Some("Tarif journalier"));
        assert_eq!(TypeHabitation.label("02"), Some("Chambre simple"));
        assert_eq!(ConditionTarifaire.label("03"), Some("Tarif agréé ASH"));
        assert_eq!(AideFinanciere.label("02"), Some("Habilité Aide Sociale"));
        assert_eq!(NiveauRecoursOrsan.label("1"), Some("Première ligne"));
        assert_eq!(NiveauRecoursOrsan.label("4"), Some("Deuxième ligne"));
        assert_eq!(StatutJuridique.label("72"), Some("Société A Responsabilité Limitée (S.A.R.L.)"));
        assert_eq!(
            SpecialisationPriseEnCharge.label("24").map(|l| l.starts_with("Handicap à prédominance cognitive")),
            Some(true)
        );
        assert_eq!(PublicPrisEnCharge.label("01"), Some("Personnes âgées en perte d'autonomie et aidants"));
        assert_eq!(TypeCrise.label("01"), Some("PMIE 1"));
        assert_eq!(AffectationTemporaire.label("01"), Some("Aucune"));
        assert_eq!(TypeSourceCapacite.label("02"), Some("Bed management"));
        assert_eq!(TypeLitSupplementaire.label("03"), Some("Mobilisable avec ressources humaines"));
        assert_eq!(TypeFermetureCapacite.label("01"), Some("Réactivable"));
        assert_eq!(FonctionLieu.label("001"), Some("Hébergement MCO"));
    }

    #[test]
    fn closedness() {
        use CodeSystem::*;
        for s in [
            CategorieEtablissement,
            CategorieOrganisation,
            ActiviteOperationnelle,
            PublicPrisEnCharge,
            SpecialisationPriseEnCharge,
            StatutJuridique,
        ] {
            assert!(!s.is_closed(), "{s:?}");
        }
        for s in [ChampActivite, StatutCapacite, GroupeTarifaireDependance, TemporaliteAccueil, UnitePrix] {
            assert!(s.is_closed(), "{s:?}");
        }
    }

    #[test]
    fn rows_are_in_declaration_order() {
        assert_eq!(SYSTEMS.len(), CodeSystem::ALL.len());
        for (row, system) in SYSTEMS.iter().zip(CodeSystem::ALL) {
            assert_eq!(row.system, *system);
        }
    }

    #[test]
    fn unknown_code_policy_is_what_ingest_always_applied() {
        use CodeSystem::*;
        let rejecting: Vec<CodeSystem> =
            CodeSystem::ALL.iter().copied().filter(|s| s.unknown_code() == UnknownCode::Reject).collect();
        assert_eq!(
            rejecting,
            [
                ChampActivite,
                TemporaliteAccueil,
                NatureCapacite,
                StatutCapacite,
                TemporaliteCapacite,
                GroupeTarifaireDependance,
                TypeTarif,
                UnitePrix
            ]
        );
    }

    #[test]
    fn derives_serde() {
        fn assert_serde<T: serde::Serialize + for<'de> serde::Deserialize<'de>>() {}
        assert_serde::<CodeSystem>();
    }
}
