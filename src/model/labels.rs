//! Labels of the NOS code systems used by the ROR.
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
//! Tables marked open ([`CodeSystem::is_closed`] = `false`) are large or evolving catalogues;
//! an unknown code there only means our copy lags behind the NOS.

/// A NOS code system the engine knows labels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum CodeSystem {
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
    pub const ALL: &'static [CodeSystem] = &[
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

    /// The NOS identifier, e.g. `"TRE_R244-CategorieOrganisation"`.
    pub fn nos_id(self) -> &'static str {
        match self {
            CodeSystem::CategorieEtablissement => "TRE_R66-CategorieEtablissement",
            CodeSystem::CategorieOrganisation => "TRE_R244-CategorieOrganisation",
            CodeSystem::ChampActivite => "TRE_R227-ChampActivite",
            CodeSystem::ActiviteOperationnelle => "TRE_R211-ActiviteOperationnelle",
            CodeSystem::ModePriseEnCharge => "TRE_R213-ModePriseEnCharge",
            CodeSystem::TemporaliteAccueil => "TRE_R240-TemporaliteAccueil",
            CodeSystem::PublicPrisEnCharge => "TRE_R239-PublicPrisEnCharge",
            CodeSystem::SpecialisationPriseEnCharge => "TRE_R245-SpecialisationDePriseEnCharge",
            CodeSystem::NatureCapacite => "TRE_R329-NatureCapacite",
            CodeSystem::StatutCapacite => "TRE_R330-TypeStatutCapacite",
            CodeSystem::TemporaliteCapacite => "TRE_R331-TemporaliteCapacite",
            CodeSystem::GenreCapacite => "TRE_R332-GenreCapacite",
            CodeSystem::TypeFermetureCapacite => "TRE_R333-TypeFermetureCapacite",
            CodeSystem::TypeLitSupplementaire => "TRE_R334-TypeLitSupplementaire",
            CodeSystem::TypeSourceCapacite => "TRE_R335-TypeSourceCapacite",
            CodeSystem::TypeCrise => "TRE_R336-TypeCrise",
            CodeSystem::AffectationTemporaire => "TRE_R337-AffectationTemporaire",
            CodeSystem::GroupeTarifaireDependance => "TRE_R237-GroupeTarifaireDependance",
            CodeSystem::TypeTarif => "TRE_R246-TypeTarif",
            CodeSystem::UnitePrix => "TRE_R228-UnitePrix",
            CodeSystem::TypeHabitation => "TRE_R242-TypeHabitation",
            CodeSystem::ConditionTarifaire => "TRE_R250-ConditionTarifaire",
            CodeSystem::AideFinanciere => "TRE_R241-AideFinanciere",
            CodeSystem::NiveauRecoursOrsan => "TRE_R284-NiveauRecoursORSAN",
            CodeSystem::FonctionLieu => "TRE_R343-FonctionLieu",
            CodeSystem::StatutJuridique => "TRE_R72-FinessStatutJuridique",
        }
    }

    /// The canonical FHIR system URL, e.g.
    /// `https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation`
    /// (pattern: `https://mos.esante.gouv.fr/NOS/<TRE_Rxxx-Name>/FHIR/<TRE-Rxxx-Name>`).
    pub fn url(self) -> &'static str {
        match self {
            CodeSystem::CategorieEtablissement => {
                "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
            }
            CodeSystem::CategorieOrganisation => {
                "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation"
            }
            CodeSystem::ChampActivite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R227-ChampActivite/FHIR/TRE-R227-ChampActivite"
            }
            CodeSystem::ActiviteOperationnelle => {
                "https://mos.esante.gouv.fr/NOS/TRE_R211-ActiviteOperationnelle/FHIR/TRE-R211-ActiviteOperationnelle"
            }
            CodeSystem::ModePriseEnCharge => {
                "https://mos.esante.gouv.fr/NOS/TRE_R213-ModePriseEnCharge/FHIR/TRE-R213-ModePriseEnCharge"
            }
            CodeSystem::TemporaliteAccueil => {
                "https://mos.esante.gouv.fr/NOS/TRE_R240-TemporaliteAccueil/FHIR/TRE-R240-TemporaliteAccueil"
            }
            CodeSystem::PublicPrisEnCharge => {
                "https://mos.esante.gouv.fr/NOS/TRE_R239-PublicPrisEnCharge/FHIR/TRE-R239-PublicPrisEnCharge"
            }
            CodeSystem::SpecialisationPriseEnCharge => {
                "https://mos.esante.gouv.fr/NOS/TRE_R245-SpecialisationDePriseEnCharge/FHIR/TRE-R245-SpecialisationDePriseEnCharge"
            }
            CodeSystem::NatureCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R329-NatureCapacite/FHIR/TRE-R329-NatureCapacite"
            }
            CodeSystem::StatutCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite"
            }
            CodeSystem::TemporaliteCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R331-TemporaliteCapacite/FHIR/TRE-R331-TemporaliteCapacite"
            }
            CodeSystem::GenreCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R332-GenreCapacite/FHIR/TRE-R332-GenreCapacite"
            }
            CodeSystem::TypeFermetureCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R333-TypeFermetureCapacite/FHIR/TRE-R333-TypeFermetureCapacite"
            }
            CodeSystem::TypeLitSupplementaire => {
                "https://mos.esante.gouv.fr/NOS/TRE_R334-TypeLitSupplementaire/FHIR/TRE-R334-TypeLitSupplementaire"
            }
            CodeSystem::TypeSourceCapacite => {
                "https://mos.esante.gouv.fr/NOS/TRE_R335-TypeSourceCapacite/FHIR/TRE-R335-TypeSourceCapacite"
            }
            CodeSystem::TypeCrise => "https://mos.esante.gouv.fr/NOS/TRE_R336-TypeCrise/FHIR/TRE-R336-TypeCrise",
            CodeSystem::AffectationTemporaire => {
                "https://mos.esante.gouv.fr/NOS/TRE_R337-AffectationTemporaire/FHIR/TRE-R337-AffectationTemporaire"
            }
            CodeSystem::GroupeTarifaireDependance => {
                "https://mos.esante.gouv.fr/NOS/TRE_R237-GroupeTarifaireDependance/FHIR/TRE-R237-GroupeTarifaireDependance"
            }
            CodeSystem::TypeTarif => "https://mos.esante.gouv.fr/NOS/TRE_R246-TypeTarif/FHIR/TRE-R246-TypeTarif",
            CodeSystem::UnitePrix => "https://mos.esante.gouv.fr/NOS/TRE_R228-UnitePrix/FHIR/TRE-R228-UnitePrix",
            CodeSystem::TypeHabitation => {
                "https://mos.esante.gouv.fr/NOS/TRE_R242-TypeHabitation/FHIR/TRE-R242-TypeHabitation"
            }
            CodeSystem::ConditionTarifaire => {
                "https://mos.esante.gouv.fr/NOS/TRE_R250-ConditionTarifaire/FHIR/TRE-R250-ConditionTarifaire"
            }
            CodeSystem::AideFinanciere => {
                "https://mos.esante.gouv.fr/NOS/TRE_R241-AideFinanciere/FHIR/TRE-R241-AideFinanciere"
            }
            CodeSystem::NiveauRecoursOrsan => {
                "https://mos.esante.gouv.fr/NOS/TRE_R284-NiveauRecoursORSAN/FHIR/TRE-R284-NiveauRecoursORSAN"
            }
            CodeSystem::FonctionLieu => {
                "https://mos.esante.gouv.fr/NOS/TRE_R343-FonctionLieu/FHIR/TRE-R343-FonctionLieu"
            }
            CodeSystem::StatutJuridique => {
                "https://mos.esante.gouv.fr/NOS/TRE_R72-FinessStatutJuridique/FHIR/TRE-R72-FinessStatutJuridique"
            }
        }
    }

    /// The `Rxxx` number of the NOS identifier (66 for TRE_R66).
    fn r_number(self) -> u32 {
        match self {
            CodeSystem::CategorieEtablissement => 66,
            CodeSystem::CategorieOrganisation => 244,
            CodeSystem::ChampActivite => 227,
            CodeSystem::ActiviteOperationnelle => 211,
            CodeSystem::ModePriseEnCharge => 213,
            CodeSystem::TemporaliteAccueil => 240,
            CodeSystem::PublicPrisEnCharge => 239,
            CodeSystem::SpecialisationPriseEnCharge => 245,
            CodeSystem::NatureCapacite => 329,
            CodeSystem::StatutCapacite => 330,
            CodeSystem::TemporaliteCapacite => 331,
            CodeSystem::GenreCapacite => 332,
            CodeSystem::TypeFermetureCapacite => 333,
            CodeSystem::TypeLitSupplementaire => 334,
            CodeSystem::TypeSourceCapacite => 335,
            CodeSystem::TypeCrise => 336,
            CodeSystem::AffectationTemporaire => 337,
            CodeSystem::GroupeTarifaireDependance => 237,
            CodeSystem::TypeTarif => 246,
            CodeSystem::UnitePrix => 228,
            CodeSystem::TypeHabitation => 242,
            CodeSystem::ConditionTarifaire => 250,
            CodeSystem::AideFinanciere => 241,
            CodeSystem::NiveauRecoursOrsan => 284,
            CodeSystem::FonctionLieu => 343,
            CodeSystem::StatutJuridique => 72,
        }
    }

    /// Finds the system from a `coding.system` URL.
    ///
    /// Accepts http and https, a trailing slash, and either the NOS segment (`TRE_Rxxx-Name`) or
    /// the FHIR segment (`TRE-Rxxx-Name`) alone: only the `TRE_Rxxx` / `TRE-Rxxx` part is used.
    ///
    /// The match is case-insensitive (`tre-r66-...` as used by the SMT also works) and looks only
    /// at the number after `TRE_R` / `TRE-R`, so a renamed suffix (e.g. an alias spelled
    /// `TRE_R237-NiveauDependance`) still resolves. `TRE_R24` never matches `TRE_R244`.
    pub fn from_url(url: &str) -> Option<CodeSystem> {
        let n = tre_number(url)?;
        CodeSystem::ALL.iter().copied().find(|s| s.r_number() == n)
    }

    /// True when the table is the complete, closed list (an unknown code there is a data
    /// error); false for large or evolving catalogues where our table may lag (R66, R244, R211,
    /// R239, R245, R72, R343).
    pub fn is_closed(self) -> bool {
        match self {
            CodeSystem::ChampActivite
            | CodeSystem::ModePriseEnCharge
            | CodeSystem::TemporaliteAccueil
            | CodeSystem::NatureCapacite
            | CodeSystem::StatutCapacite
            | CodeSystem::TemporaliteCapacite
            | CodeSystem::GenreCapacite
            | CodeSystem::TypeFermetureCapacite
            | CodeSystem::TypeLitSupplementaire
            | CodeSystem::TypeSourceCapacite
            | CodeSystem::TypeCrise
            | CodeSystem::AffectationTemporaire
            | CodeSystem::GroupeTarifaireDependance
            | CodeSystem::TypeTarif
            | CodeSystem::UnitePrix
            | CodeSystem::TypeHabitation
            | CodeSystem::ConditionTarifaire
            | CodeSystem::AideFinanciere
            | CodeSystem::NiveauRecoursOrsan => true,
            CodeSystem::CategorieEtablissement
            | CodeSystem::CategorieOrganisation
            | CodeSystem::ActiviteOperationnelle
            | CodeSystem::PublicPrisEnCharge
            | CodeSystem::SpecialisationPriseEnCharge
            | CodeSystem::FonctionLieu
            | CodeSystem::StatutJuridique => false,
        }
    }

    /// (code, label) pairs sorted by code (byte order), for binary search.
    pub fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            CodeSystem::CategorieEtablissement => R66,
            CodeSystem::CategorieOrganisation => R244,
            CodeSystem::ChampActivite => R227,
            CodeSystem::ActiviteOperationnelle => R211,
            CodeSystem::ModePriseEnCharge => R213,
            CodeSystem::TemporaliteAccueil => R240,
            CodeSystem::PublicPrisEnCharge => R239,
            CodeSystem::SpecialisationPriseEnCharge => R245,
            CodeSystem::NatureCapacite => R329,
            CodeSystem::StatutCapacite => R330,
            CodeSystem::TemporaliteCapacite => R331,
            CodeSystem::GenreCapacite => R332,
            CodeSystem::TypeFermetureCapacite => R333,
            CodeSystem::TypeLitSupplementaire => R334,
            CodeSystem::TypeSourceCapacite => R335,
            CodeSystem::TypeCrise => R336,
            CodeSystem::AffectationTemporaire => R337,
            CodeSystem::GroupeTarifaireDependance => R237,
            CodeSystem::TypeTarif => R246,
            CodeSystem::UnitePrix => R228,
            CodeSystem::TypeHabitation => R242,
            CodeSystem::ConditionTarifaire => R250,
            CodeSystem::AideFinanciere => R241,
            CodeSystem::NiveauRecoursOrsan => R284,
            CodeSystem::FonctionLieu => R343,
            CodeSystem::StatutJuridique => R72,
        }
    }

    /// The label of a code, or None when unknown.
    pub fn label(self, code: &str) -> Option<&'static str> {
        let table = self.table();
        table.binary_search_by(|(c, _)| (*c).cmp(code)).ok().map(|i| table[i].1)
    }
}

/// Extracts the number that follows the first `TRE_R` / `TRE-R` (any case) of `url`, when that
/// marker starts a path segment or word (not preceded by an ASCII letter or digit).
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

/// TRE_R66-CategorieEtablissement (FINESS establishment categories; `500` = EHPAD).
///
/// Source: ansforge/ig-terminlogie-de-sante,
/// `DM/input/fsh/Done/Ontoserver/TRE_R66_CategorieEtablissement.fsh` (commit 3098660f,
/// CodeSystem version 20250425120000): every concept of that file, deprecated ones included
/// (old data may still carry them). Cross-checked against the 163 distinct `categetab` codes of
/// the FINESS extract of 2021-01-08 (`shared/data/real/finess-etablissements-2021`): all of them
/// are present. For 20 codes that extract carries an older FINESS label (e.g. `460` "Service
/// d'Aide et d'Accompagnement à Domicile (S.A.A.D.)", `209` "...(S.P.A.S.A.D.)"); the current
/// NOS label is kept here. Not closed: FINESS keeps adding categories.
static R66: &[(&str, &str)] = &[
    ("001", "Autres lits de m.R."),
    ("002", "Autres places de l-f."),
    ("003", "Autres lits de l-s"),
    ("101", "Centre Hospitalier Régional (C.H.R.)"),
    ("106", "Centre hospitalier, ex Hôpital local"),
    ("108", "Etablissement de Convalescence et de Repos"),
    ("109", "Etablissement de santé privé autorisé en SSR"),
    ("112", "Centre de Convalescence Cure ou Réadaptation"),
    ("114", "Hôpital des armées"),
    ("115", "Etablissement de Soins du Service de Santé des Armées"),
    ("119", "Maison de Régime"),
    ("122", "Etablissement Soins Obstétriques Chirurgico-Gynécologiques"),
    ("124", "Centre de Santé"),
    ("125", "Centre de Santé Dentaire"),
    ("126", "Etablissement Thermal"),
    ("127", "Hospitalisation à Domicile"),
    ("128", "Etablissement de Soins Chirurgicaux"),
    ("129", "Etablissement de Soins Médicaux"),
    ("130", "Centre de Soins Médicaux"),
    ("131", "Centre de Lutte Contre Cancer"),
    ("132", "Etablissement de Transfusion Sanguine"),
    ("135", "Etablissement Réadaptation Fonctionnelle"),
    ("136", "Banque de Sperme"),
    ("137", "Banque d'Organes"),
    ("138", "Centre de Dialyse Périodique"),
    ("139", "Centre de Dialyse et d'entraînement à la Dialyse"),
    ("140", "Centre d'Entraînement à la Dialyse"),
    ("141", "Centre de dialyse"),
    ("142", "Dispensaire Antituberculeux"),
    ("143", "Centre de Vaccination BCG"),
    ("144", "Etablissement de Lutte Contre la Tuberculose"),
    ("146", "Structure d'Alternative à la dialyse en centre"),
    ("156", "Centre Médico-Psychologique (C.M.P.)"),
    ("157", "Centre de Postcure"),
    ("159", "Centre Parental"),
    ("160", "Centre de Soins Spécifiques pour Toxicomanes (C.S.S.T.)"),
    ("161", "Maison de Santé pour Maladies Mentales"),
    ("162", "Centre de Cure Ambulatoire en Alcoologie (C.C.A.A.)"),
    ("163", "Maison d'Enfants à Caractère Sanitaire Temporaire"),
    ("164", "Etablissements Expérimentaux Accueil de la Petite Enfance"),
    ("165", "Appartement de Coordination Thérapeutique (A.C.T.)"),
    ("166", "Etablissement d'Accueil Mère-Enfant"),
    ("167", "Crèche Collective"),
    ("168", "Service Accueil Familial pour la Petite Enfance"),
    ("169", "Crèche Multi Accueil Collectif et Familial"),
    ("170", "Halte Garderie"),
    ("171", "Garderie et Jardin d'Enfants"),
    ("172", "Pouponnière à Caractère Social"),
    ("173", "Pouponnière à Caractère Sanitaire"),
    ("174", "Etablissement d'Accueil Collectif Régulier et Occasionnel"),
    ("175", "Foyer de l'Enfance"),
    ("176", "Village d'Enfants"),
    ("177", "Maison d'Enfants à Caractère Social"),
    ("178", "Ctre.Accueil- Accomp.Réduc.Risq.Usag. Drogues (C.A.A.R.U.D.)"),
    ("179", "Maison d'Enfants à Caractère Sanitaire Permanente"),
    ("180", "Lits Halte Soins Santé (L.H.S.S.)"),
    ("181", "Maison Familiale de Vacances"),
    ("182", "Service d'Éducation Spéciale et de Soins à Domicile"),
    ("183", "Institut Médico-Educatif (I.M.E.)"),
    ("184", "Institut Médico-Pédagogique (I.M.P.)"),
    ("185", "Institut Médico-Professionnel (I.M.Pro.)"),
    ("186", "Institut Thérapeutique Éducatif et Pédagogique (I.T.E.P.)"),
    ("188", "Etablissement pour Enfants ou Adolescents Polyhandicapés"),
    ("189", "Centre Médico-Psycho-Pédagogique (C.M.P.P.)"),
    ("190", "Centre Action Médico-Sociale Précoce (C.A.M.S.P.)"),
    ("191", "Etablissement pour Déficients Moteurs Cérébraux"),
    ("192", "Institut d'éducation motrice"),
    ("193", "Etablissement pour Déficients Moteurs et Moteurs Cérébraux"),
    ("194", "Institut pour Déficients Visuels"),
    ("195", "Institut pour Déficients Auditifs"),
    ("196", "Institut d'Education Sensorielle Sourd-Aveugle"),
    ("197", "Centre soins accompagnement prévention addictologie (CSAPA)"),
    ("198", "Établissement et Service de Préorientation"),
    ("199", "Hospice"),
    ("200", "Maison de Retraite"),
    ("202", "Résidences autonomie"),
    ("205", "Foyer Club Restaurant"),
    ("207", "Centre de Jour pour Personnes Agées"),
    ("208", "Service d'Aide Ménagère à Domicile"),
    ("209", "Service autonomie aide et soins (SAAS)"),
    ("212", "Alarme Médico-Sociale"),
    ("213", "Lits d'Accueil Médicalisés (L.A.M.)"),
    ("214", "Centre Hébergement & Réinsertion Sociale (C.H.R.S.)"),
    ("215", "Maison Relai"),
    ("216", "Résidence Hôtelière à Vocation Sociale (R.H.V.S)"),
    ("217", "Cité de Transit"),
    ("218", "Aire Station Nomades"),
    ("219", "Autre Centre d'Accueil"),
    ("220", "Centre Social"),
    ("221", "Bureau d'Aide Psychologique Universitaire (B.A.P.U.)"),
    ("223", "Protection Maternelle et Infantile (P.M.I.)"),
    ("224", "Etablissement de Consultation Pré et Post-natale"),
    ("225", "Consultations de Nourrissons"),
    ("228", "Centre de Santé Sexuelle"),
    ("229", "Consultation Problèmes naissance"),
    ("230", "Etablissement Consultation Protection Infantile"),
    ("231", "Etablissement Information Consultation Conseil Familial"),
    ("233", "Lactarium"),
    ("236", "Centre Placement Familial Socio-Educatif (C.P.F.S.E.)"),
    ("237", "Centre de Placement Familial Spécialisé"),
    ("238", "Centre d'Accueil Familial Spécialisé"),
    ("241", "Établissement de Placement"),
    ("242", "Service d’Activité de Jour"),
    ("246", "Etablissement et Service d'Aide par le Travail (E.S.A.T.)"),
    ("247", "Entreprise adaptée"),
    ("249", "Établissement et Service de Réadaptation Professionnelle"),
    ("250", "Centre Réentrainement au travail"),
    ("251", "Maison Vacances pour Handicapés"),
    ("252", "Foyer Hébergement Adultes Handicapés"),
    ("253", "Foyer d'Accueil Polyvalent pour Adultes Handicapés"),
    ("255", "Maison d'Accueil Spécialisée (M.A.S.)"),
    ("256", "Foyer Travailleurs Migrants non transformé en Résidence Soc."),
    ("257", "Foyers de jeunes travailleurs"),
    ("258", "Maisons Relais - Pensions de Famille"),
    ("259", "Autres résidences sociales"),
    ("261", "D.D.A.S.S."),
    ("262", "Etablissement Régional d'Enseignement Adapté"),
    ("265", "Section Education Spéciale Classe Atelier"),
    ("266", "Dispensaire Antivénérien"),
    ("267", "Dispensaire Antihansénien"),
    ("268", "Centre Médico-Scolaire"),
    ("269", "Centre de Médecine Universitaire"),
    ("270", "Centre de Médecine Sportive"),
    ("271", "Maison d'accueil Hospitalière"),
    ("272", "Ecole d'ambulanciers"),
    ("273", "Institut de formation en soins infirmiers (I.F.S.I.)"),
    ("274", "Ecole de sages_femmes"),
    ("275", "Ecole de masseurs-kinésithérapeutes"),
    ("276", "Ecole de laborantins d'analyses médicales"),
    ("277", "Ecole de péricultrices"),
    ("278", "Etablissement de formation polyvalent"),
    ("279", "Ecole de service social"),
    ("280", "Ecole d'éducateurs spécialisés"),
    ("281", "Centre de formation d'aides soignants"),
    ("282", "Ecole de pédicures-podologues"),
    ("283", "Ecole de manipulateurs d'électro-radiologie"),
    ("284", "Ecole de travailleuses familiales"),
    ("285", "Centres de Loisirs sans Hébergement"),
    ("286", "Club Equipe de Prévention"),
    ("289", "Centre de Soins Infirmiers"),
    ("292", "Centre Hospitalier Spécialisé lutte Maladies Mentales"),
    ("294", "Centre de Consultations Cancer"),
    ("295", "Service AEMO et AED"),
    ("297", "Dispensaire Polyvalent"),
    ("300", "Ecoles Formant aux Professions Sanitaires"),
    ("303", "Ecole de conseillers en économie sociale et familiale"),
    ("304", "Ecole d'ergothérapeutes"),
    ("305", "Ecole de psycho-motriciens"),
    ("306", "Ecole d'infirmiers anesthésistes"),
    ("307", "Ecole d'infirmiers de bloc opératoire"),
    ("308", "Centre de formation professionnelle de secteur psychiatrique"),
    ("309", "Ecole de cadres infirmiers"),
    ("310", "Ecole de cadres de secteur psychiatrique"),
    ("311", "Ecole de cadres de masseurs-kinésithérapeutes"),
    ("312", "Ecole de cadres de manipulateurs d'électro-radiologie"),
    ("313", "Ecole d'éducateurs de jeunes enfants"),
    ("314", "Ecole d'éducateurs techniques spécialisés"),
    ("315", "Ecole de moniteurs-éducateurs"),
    ("316", "Ecole d'aides médico-psychologiques"),
    ("317", "Ecole d'animateurs socio-éducatifs"),
    ("319", "Inst. régional de formation des travailleurs sociaux"),
    ("320", "S.A.M.U. et Centre 15"),
    ("321", "Unité Mobile Hospitalière"),
    ("322", "Centre Rég.Informatiq.Hospit."),
    ("324", "Logement Foyer non Spécialisé"),
    ("326", "Ecole de cadres"),
    ("327", "Service d'Ambulances"),
    ("328", "Centre Consultation Soins Dentaire"),
    ("329", "Sectorisation Psychiatrique"),
    ("330", "Ecoles Formant aux Professions Sociales"),
    ("340", "Service mandataire judiciaire à la protection des majeurs"),
    ("341", "Service dédié mesures d'accompagnement social personnalisé"),
    ("342", "Service d'information et de soutien aux tuteurs familiaux"),
    ("343", "Equipe Préparation et Suite Reclassement (EPSR)"),
    ("344", "Service délégué aux prestations familiales"),
    ("345", "Service Tutelle Prestation Sociale"),
    ("346", "Service de Travailleuses Familiales"),
    ("347", "Centre d'Examens de Santé"),
    ("349", "Ecole de cadres de sages-femmes"),
    ("350", "Centre de formation d'auxiliaires de puériculture"),
    ("352", "Centre de Psychothérapie"),
    ("353", "Hôpital de Jour Spécialités Médicales"),
    ("354", "Service de Soins Infirmiers A Domicile (S.S.I.A.D)"),
    ("355", "Centre Hospitalier (C.H.)"),
    ("357", "Association Aide aux Insuffisants Respiratoires"),
    ("359", "Centre Circonscription Sanitaire et Sociale"),
    ("361", "Centre de Cure Médicale"),
    ("362", "Etablissement de Soins Longue Durée"),
    ("363", "Centre moyen et long séjour"),
    ("365", "Etablissement de Soins Pluridisciplinaire"),
    ("366", "Atelier Thérapeutique"),
    ("367", "Maison d'Enfants non Conventionnée ni Habilitée"),
    ("368", "Service de Repas à Domicile"),
    ("369", "Centre Adaptation Vie Active (C.A.V.A.)"),
    ("370", "Etablissement Expérimental pour personnes handicapées"),
    ("371", "Service Action Socio-Educative pour Familles en difficulté"),
    ("373", "Centre de formation supérieure des travailleurs sociaux"),
    ("374", "Ecole Nationale Santé Publique (E.N.S.P.)"),
    ("375", "Classe d'Adaptation"),
    ("376", "Classe Spéciale Ecole Primaire"),
    ("377", "Etablissement Expérimental pour Enfance Handicapée"),
    ("378", "Etablissement Expérimental Enfance Protégée"),
    ("379", "Etablissement Expérimental pour Adultes Handicapés"),
    ("380", "Etablissement Expérimental Autres Adultes"),
    ("381", "Etablissement Expérimental pour Personnes Agées"),
    ("382", "Foyer de Vie pour Adultes Handicapés"),
    ("386", "Ecole Secondaire Spéciale"),
    ("390", "Etablissement d'Accueil Temporaire d'Enfants Handicapés"),
    ("393", "Autre résidence But lucratif pr personnes Âgées"),
    ("394", "Etablissement d'Accueil Temporaire pour Personnes Agées"),
    ("395", "Etablissement d'Accueil Temporaire pour Adultes Handicapés"),
    ("396", "Foyer Hébergement Enfants et Adolescents Handicapés"),
    ("397", "Service Auxiliaire de Vie pour Handicapés"),
    ("398", "Crèche Parentale"),
    ("399", "Halte Garderie Parentale"),
    ("400", "Centre de Services pour Associations"),
    ("401", "D.R.A.S.S."),
    ("402", "Jardin d'Enfants Spécialisé"),
    ("403", "Service Social Spécialisé ou Polyvalent de Catégorie"),
    ("404", "Etablissement Acc.Collect.Parental Régulier & Occasionnel"),
    ("405", "Service Social Polyvalent de Secteur"),
    ("411", "Intermédiaire de Placement Social"),
    ("412", "Appartement Thérapeutique"),
    ("413", "C.E.C.O.S"),
    ("414", "Centre Anti Poison"),
    ("415", "Service Médico-Psychologique Régional (S.M.P.R.)"),
    ("418", "Service d'Enquêtes Sociales (S.E.S.)"),
    ("419", "Centre d'Accueil Toxicomanes"),
    ("420", "Entreprise d'Insertion"),
    ("421", "Centre d'enseignement aux secours d'urgence"),
    ("422", "Traitements Spécialisés à Domicile"),
    ("423", "Ecole des cadres de laborantins d'analyses médicales"),
    ("425", "Centre d'Accueil Thérapeutique à temps partiel (C.A.T.T.P.)"),
    ("426", "Syndicat Inter Hospitalier (S.I.H.)"),
    ("427", "Service Educatif Auprès des Tribunaux (S.E.A.T.)"),
    ("430", "Centre Postcure Malades Mentaux"),
    ("431", "Centre Postcure pour Alcooliques"),
    ("432", "Centre Postcure pour Toxicomanes"),
    ("433", "Etablissement Sanitaire des Prisons"),
    ("434", "Classe Spéciale en Ecole Maternelle"),
    ("435", "Centre de formation d'aide à domicile"),
    ("436", "Ecoles Formant aux Professions Sanitaires et Sociales"),
    ("437", "Foyer d'Accueil Médicalisé pour Adultes Handicapés (F.A.M.)"),
    ("438", "Centre de Médecine collective"),
    ("439", "Centre Santé Polyvalent"),
    ("440", "Service d’Investigation Educative"),
    ("441", "Service d’Intervention Educative en Milieu Ouvert"),
    ("442", "Centre Provisoire Hébergement (C.P.H.)"),
    ("443", "Centre Accueil Demandeurs Asile (C.A.D.A.)"),
    ("444", "Centre Crise Accueil Permanent"),
    ("445", "Service d'accompagnement médico-social adultes handicapés"),
    ("446", "Service d'Accompagnement à la Vie Sociale (S.A.V.S.)"),
    ("447", "Entreprise Intérim Insertion"),
    ("448", "Etab.Acc.Médicalisé en tout ou partie personnes handicapées"),
    ("449", "Etab.Accueil Non Médicalisé pour personnes handicapées"),
    ("450", "Service d'Aide aux Personnes Agées"),
    ("451", "Service d'Aide aux Familles en Difficulté"),
    ("452", "Régie de Quartier"),
    ("453", "Service de Réparation Pénale"),
    ("460", "Service autonomie aide (SAA)"),
    ("461", "Centres de Ressources S.A.I. (Sans Aucune Indication)"),
    ("462", "Lieux de Vie et d’Accueil"),
    ("463", "Centres Locaux Information Coordination P.A.(C.L.I.C.)"),
    ("464", "Unités Evaluation Réentraînement et d'Orient. Soc. et Pro."),
    ("500", "Etablissement d'hébergement pour personnes âgées dépendantes"),
    ("501", "EHPA percevant des crédits d'assurance maladie"),
    ("502", "EHPA ne percevant pas des crédits d'assurance maladie"),
    ("601", "Cabinet Libéral Médical"),
    ("602", "Cabinet de Groupe"),
    ("603", "Maison de santé (L.6223-3)"),
    ("604", "Communauté Professionnelle Territoriale de Santé (CPTS)"),
    ("605", "Cabinet d'Auxiliaires Médicaux"),
    ("606", "Dispositif d'appui à la coordination (DAC)"),
    ("607", "Groupement Régional d'Appui au Développement de la e-Santé (GRADeS)"),
    ("608", "Equipe mobile médico-sociale précarité (EMMSP)"),
    ("609", "Maison Départementale pour Personnes Handicapées (MDPH)"),
    ("610", "Laboratoire d'Analyses"),
    ("611", "Laboratoire de Biologie Médicale"),
    ("612", "Autre Laboratoire de Biologie Médicale sans FSE"),
    ("614", "Dispositif Spécifique Régional du Cancer (DSRC)"),
    ("616", "Services de Prévention et de Santé au Travail (SPST)"),
    ("617", "Maison médicale de garde (MMG)"),
    ("618", "Autre structure de soins non programmés (SNP)"),
    ("620", "Pharmacie d'Officine"),
    ("621", "Lunetterie Médicale"),
    ("622", "Centre d'Appareillage & Prothèse"),
    ("623", "Herboristerie"),
    ("624", "Laboratoire pharmaceutique préparant délivrant allergènes"),
    ("627", "Propharmacie"),
    ("628", "Pharmacie Minière"),
    ("629", "Pharmacie Mutualiste"),
    ("630", "Installation autonome de chirurgie esthétique"),
    ("631", "Maisons de naissance"),
    ("632", "Structure Dispensatrice à domicile d'Oxygène à usage médical"),
    ("633", "Structure Expérimentale en Santé"),
    ("636", "Centre de soins et de prévention"),
    ("637", "Centre de Lutte Antituberculeuse (CLAT)"),
    ("638", "Centre gratuit d'information de dépistage et de diagnostic (CeGIDD)"),
    ("639", "Sociétés de téléconsultation (STLC)"),
    ("640", "Service d'aide et d'accompagnement à domicile aux familles (SAADF)"),
    ("641", "Antenne de Pharmacie d'officine"),
    ("642", "Services départementaux d'incendie et de secours"),
    ("643", "Serv. d'éval de la minorité de l'isolement pour les pers. se déclarant mineures"),
    ("644", "Etab. de mise à l'abri pour les pers. se déclarant mineures non accompagnées"),
    ("645", "Centre de Vaccination"),
    ("646", "Centre de Vaccination Internationale"),
    ("647", "Equipe de Soins Spécialisés"),
    ("648", "Structure qui contribue au Service d'Accès aux Soins"),
    ("690", "Etablissement de Fabrication Annexe à une Officine"),
    ("695", "Groupement de coopération sanitaire de moyens - Exploitant"),
    ("696", "Groupement de coopération sanitaire de moyens"),
    ("697", "Groupement de coopération sanitaire - Etablissement de santé"),
    ("698", "Autre Etablissement Loi Hospitalière"),
    ("699", "Entité Ayant Autorisation"),
    ("700", "Maison sport-santé"),
    ("701", "Maison des adolescents (MDA)"),
    ("702", "Point Accueil Ecoute Jeunes (PAEJ)"),
    ("703", "Espace Santé Jeunes (ESJ)"),
];

/// TRE_R244-CategorieOrganisation (type d'offre, `HealthcareService.category`).
///
/// Sources: the 306 codes of JDV_J238-TypeOffre-ROR version 20260730120000 (IG "Terminologies de
/// Santé" v1.12.0, page `ValueSet-JDV-J238-TypeOffre-ROR`), with their labels; plus 13 codes of
/// the TRE_R244 CodeSystem version 20251222120000 (IG page `CodeSystem-TRE-R244-
/// CategorieOrganisation`, 295 concepts) that J238 does not list: `42`, `116`, `118`, `133`,
/// `235`, `243`, `260` (deprecated) and `147`, `252`, `261`, `265`, `266`, `267` (active in the
/// TRE but outside the ROR value set). Not closed: the catalogue grows every few months and the
/// full 2026 TRE was not available.
static R244: &[(&str, &str)] = &[
    ("01", "Appartement thérapeutique en psychiatrie"),
    ("02", "Atelier thérapeutique en psychiatrie"),
    ("03", "Cellule d'Urgences Médico-Psychologique (CUMP)"),
    ("04", "Centre d'Accueil Permanent (CAP)"),
    ("05", "Centre d’Activités Thérapeutiques et de Temps de Groupe (CATTG) – ex CATTP"),
    ("06", "Centre de crise"),
    ("07", "Centre de soins post-aigus (CeSPA)"),
    (
        "08",
        "Centre de Référence Troubles du Neuro-développement (TND) - Centre de Diagnostic et d’évaluation expert (CDE)",
    ),
    ("09", "Centre Expert"),
    ("10", "Centre Médico-Psychologique (CMP) Adulte"),
    ("100", "Soins Médicaux et de Réadaptation (SMR) polyvalent"),
    ("101", "Soins Médicaux et de Réadaptation (SMR) gériatrie"),
    ("102", "Soins Médicaux et de Réadaptation (SMR) locomoteur"),
    ("103", "Soins Médicaux et de Réadaptation (SMR) système nerveux"),
    ("104", "Soins Médicaux et de Réadaptation (SMR) cardio-vasculaire"),
    ("105", "Soins Médicaux et de Réadaptation (SMR) pneumologie"),
    ("106", "Soins Médicaux et de Réadaptation (SMR) système digestif, endocrinologie, diabétologie, nutrition"),
    ("107", "Soins Médicaux et de Réadaptation (SMR) brûlés"),
    ("108", "Soins Médicaux et de Réadaptation (SMR) conduites addictives"),
    ("109", "Soins Médicaux et de Réadaptation (SMR) pédiatriques (enfants et adolescents)"),
    ("11", "Hôpital De Jour (HDJ)"),
    ("110", "Soins Médicaux et de Réadaptation (SMR) pédiatriques (jeunes enfants, enfants et adolescents)"),
    ("111", "Soins Médicaux et de Réadaptation (SMR) oncologie"),
    ("112", "Soins Médicaux et de Réadaptation (SMR) oncologie et hématologie"),
    ("113", "Centre de Réhabilitation Psychosociale"),
    ("114", "Centre Ressource pour les Intervenants auprès des Auteurs de Violences Sexuelles (CRIAVS)"),
    ("115", "Equipe Spécialisée de Soins Infirmiers Précarité (ESSIP)"),
    ("116", "Unité de chirurgie oncologique"),
    ("117", "Unité de radiothérapie"),
    ("118", "Unité de traitements médicamenteux systémiques du cancer"),
    ("119", "Unité mère-enfant"),
    ("12", "Hôpital De Nuit (HDN)"),
    ("120", "Centre de recours Troubles du Comportement Alimentaire (TCA)"),
    ("121", "Unité de réanimation"),
    ("122", "Unité de soins intensifs polyvalents (USIP) contiguë"),
    ("123", "Unité de soins intensifs polyvalents (USIP) dérogatoire"),
    ("124", "Unité de soins intensifs (USI) de spécialité (hors USIC, USINV, USIH)"),
    ("125", "Centre de protection maternelle et infantile (PMI)"),
    ("126", "Structure Douleur Chronique (SDC)"),
    ("127", "Centre régional du psychotraumatisme (CRP)"),
    ("128", "Unité d'hospitalisation à domicile socle"),
    ("129", "Unité d'hospitalisation à domicile ante et post-partum"),
    ("13", "Service d'Accueil Familial Thérapeutique en psychiatrie"),
    ("130", "Unité d'hospitalisation à domicile réadaptation"),
    ("131", "Unité d'hospitalisation à domicile enfants de moins de trois ans"),
    ("132", "Service autonomie à domicile (SAD) aide et soins"),
    ("133", "Service autonomie à domicile (SAD) aide"),
    ("134", "Maison des adolescents (MDA)"),
    ("135", "Points Accueil Ecoute Jeunes (PAEJ)"),
    ("136", "Centre de ressources territorial (CRT)"),
    ("137", "Maison sport-santé"),
    ("138", "Unité de soins non programmés en établissement de santé"),
    ("139", "Unité de soins intensifs polyvalents (USIP) non contiguë"),
    ("14", "Service Médico-Psychologique Régional (SMPR)"),
    ("140", "Equipe Mobile d'Appui à la Scolarisation (EMAS)"),
    ("141", "Espace Santé Jeune (ESJ)"),
    ("142", "Equipes Mobiles Santé Précarité (EMSP)"),
    ("143", "Communauté 360"),
    ("144", "Equipe Mobile de Psychiatrie de la Personne Âgée"),
    ("145", "Unité hospitalière d'addictologie"),
    ("146", "Unité hospitalière de brûlologie"),
    ("147", "Unité de sevrage complexe"),
    ("148", "Unité hospitalière d'allergologie"),
    ("149", "Unité hospitalière de cardiologie"),
    ("15", "Unité de Soins Intensifs Psychiatriques (USIP)"),
    ("150", "Unité hospitalière de chirurgie orthopédique et traumatologique"),
    ("151", "Unité hospitalière de chirurgie thoracique et cardiovasculaire"),
    ("152", "Unité hospitalière de chirurgie vasculaire"),
    ("153", "Unité hospitalière de chirurgie viscérale et digestive"),
    ("154", "Unité hospitalière de dermatologie"),
    ("155", "Unité hospitalière de génétique médicale"),
    ("156", "Unité hospitalière de gériatrie"),
    ("157", "Unité hospitalière de gynécologie"),
    ("158", "Unité hospitalière de médecine vasculaire"),
    ("159", "Unité hospitalière de néphrologie"),
    ("16", "Unité d'hospitalisation (hors HDJ)"),
    ("160", "Unité hospitalière de neurochirurgie"),
    ("161", "Unité hospitalière de neurologie"),
    ("162", "Unité hospitalière de pédiatrie"),
    ("163", "Unité hospitalière de pneumologie"),
    ("164", "Unité hospitalière d'imagerie médicale"),
    ("165", "Unité hospitalière de rhumatologie"),
    ("166", "Unité hospitalière de stomatologie, chirurgie orale et maxillo faciale"),
    ("167", "Unité hospitalière d'endocrinologie, diabétologie et nutrition"),
    ("168", "Unité hospitalière des maladies infectieuses et tropicales (MIT)"),
    ("169", "Unité hospitalière d'hématologie"),
    ("17", "Unité Hospitalière Spécialement Aménagé (UHSA)"),
    ("170", "Unité hospitalière d'hépato-gastro-entérologie (HGE)"),
    ("171", "Unité hospitalière d'oncologie"),
    ("172", "Unité hospitalière d'ophtalmologie"),
    ("173", "Unité hospitalière oto-rhino-laryngologie (ORL)"),
    ("174", "Unité hospitalière de psychiatrie de l’adulte"),
    ("175", "Unités de soins palliatifs"),
    ("176", "Unité hospitalière de médecine interne"),
    ("177", "Dispositif de consultation dédié pour les personnes en situation de handicap"),
    ("178", "Dispositif d'Appui à la Coordination (DAC)"),
    ("179", "Cabinet de ville d'oto-rhino-laryngologie (ORL)"),
    ("18", "Unité Malade Difficile (UMD)"),
    ("180", "Cabinet de ville d'allergologie"),
    ("181", "Cabinet de ville d'anatomo-cytopathologie"),
    ("182", "Cabinet de ville d'anesthésie-réanimation"),
    ("183", "Cabinet de ville de cardiologie"),
    ("184", "Cabinet de ville de chirurgie orthopédique et traumatologique"),
    ("185", "Cabinet de ville de chirurgie pédiatrique"),
    ("186", "Cabinet de ville de chirurgie plastique"),
    ("187", "Cabinet de ville de chirurgie thoracique et cardiovasculaire"),
    ("188", "Cabinet de ville de chirurgie vasculaire"),
    ("189", "Cabinet de ville de chirurgie viscérale et digestive"),
    ("19", "Unités Soins Etudes"),
    ("190", "Cabinet de ville de dermatologie"),
    ("191", "Cabinet de ville de diététique"),
    ("192", "Cabinet de ville de génétique médicale"),
    ("193", "Cabinet de ville de gériatrie"),
    ("194", "Cabinet de ville de gynécologie et/ou obstétrique"),
    ("195", "Cabinet de ville de kinésithérapie"),
    ("196", "Cabinet de ville de médecine générale"),
    ("197", "Cabinet de ville de médecine interne"),
    ("198", "Cabinet de ville de médecine légale et expertise médicale"),
    ("199", "Cabinet de ville de médecine nucléaire"),
    ("20", "Structure des urgences polyvalentes 24h/24 7j/7"),
    ("200", "Cabinet de ville de médecine physique et réadaptation (MPR)"),
    ("201", "Cabinet de ville de médecine vasculaire"),
    ("202", "Cabinet de ville de néphrologie"),
    ("203", "Cabinet de ville de neurochirurgie"),
    ("204", "Cabinet de ville de neurologie"),
    ("205", "Cabinet de ville de pédiatrie"),
    ("206", "Cabinet de ville de pédicurie-podologie"),
    ("207", "Cabinet de ville de pneumologie"),
    ("208", "Cabinet de ville de psychiatrie"),
    ("209", "Cabinet de ville de psychologie"),
    ("21", "Accueil ou hébergement pour personnes âgées dépendantes, sans spécificité"),
    ("210", "Cabinet de ville de psychomotricité"),
    ("211", "Cabinet de ville d'imagerie médicale"),
    ("212", "Cabinet de ville de rhumatologie"),
    ("213", "Cabinet de ville de sages-femmes"),
    ("214", "Cabinet de ville de stomatologie, chirurgie orale et maxillo faciale"),
    ("215", "Cabinet de ville d'endocrinologie, diabétologie et nutrition"),
    ("216", "Cabinet de ville d'ergothérapie"),
    ("217", "Cabinet de ville des maladies infectieuses et tropicales (MIT)"),
    ("218", "Cabinet de ville d'hématologie"),
    ("219", "Cabinet de ville d'hépato-gastro-entérologie"),
    ("22", "Accueil ou hébergement pour personnes âgées autonomes, sans spécificité"),
    ("220", "Cabinet de ville d'oncologie"),
    ("221", "Cabinet de ville d'ophtalmologie"),
    ("222", "Cabinet de ville d'orthophonie"),
    ("223", "Cabinet de ville d'orthoptie"),
    ("224", "Cabinet de ville d'urologie"),
    ("225", "Cabinet de ville infirmier"),
    ("226", "Cabinet dentaire de chirurgie dentaire"),
    ("227", "Cabinet dentaire de chirurgie orale"),
    ("228", "Cabinet dentaire de médecine bucco-dentaire"),
    ("229", "Cabinet dentaire d'orthopédie dento-faciale"),
    (
        "23",
        "Accueil ou hébergement pour personnes âgées dépendantes, avec spécificité Unité d'Hébergement Renforcé (UHR)",
    ),
    ("230", "Unité hospitalière d'anatomo-cytopathologie"),
    ("231", "Unité hospitalière de médecine du sport"),
    ("232", "Unité hospitalière de médecine légale et expertise médicale"),
    ("233", "Unité hospitalière de médecine physique et réadaptation (MPR)"),
    ("234", "Unité hospitalière d'urologie"),
    ("235", "Unité hospitalière de médecine générale"),
    ("236", "Unité hospitalière d'odontologie"),
    ("237", "Unité hospitalière d'anesthésie"),
    ("238", "Unité hospitalière de médecine polyvalente"),
    ("239", "Unité hospitalière de médecine nucléaire"),
    (
        "24",
        "Accueil ou hébergement pour personnes âgées dépendantes, avec spécificité Unité de vie protégée (UVP, Cantou,...)",
    ),
    ("240", "Unité hospitalière de médecine du travail"),
    ("241", "Unité hospitalière de chirurgie pédiatrique"),
    ("242", "Unité hospitalière de chirurgie plastique, reconstructrice et esthétique"),
    ("243", "Cabinet de ville de médecine intensive et réanimation (MIR)"),
    ("244", "Equipe Mobile d'Expertise en Réadaptation (EMER) neuro-locomoteur"),
    ("245", "Centre expert en maladies rares"),
    ("246", "Service d'Aide Médicale Urgente (SAMU)"),
    ("247", "Structure Mobile d'Urgence et de Réanimation (SMUR)"),
    ("248", "Unité de biologie"),
    ("249", "Unité de Soins de Longue Durée (USLD)"),
    ("25", "Pôle d'activité de Soins Adaptés (PASA)"),
    ("250", "Centres Gratuits d'Information, de Dépistage et de Diagnostic (CeGIDD)"),
    ("251", "Centre Périnatal de Proximité (CPP)"),
    ("252", "Equipes Mobiles de Soins Palliatifs (EMSP)"),
    ("253", "Equipe Ressource Régionale de Soins Palliatifs Pédiatriques (ERRSPP)"),
    ("254", "Unité de surveillance continue"),
    ("255", "Communauté Professionnelle Territoriale de Santé (CPTS)"),
    ("256", "Etablissement d'accueil temporaire pour adultes handicapés"),
    ("257", "Unité pour Personnes Handicapées Vieillissantes (UPHV - UPHA)"),
    ("258", "Hébergement Temporaire d'urgence (dont HT-SH)"),
    ("259", "Point d'information local dédié aux personnes âgées"),
    ("26", "Accueil ou hébergement pour personnes âgées dépendantes, avec spécificité Petites unités de vie (PUV)"),
    ("260", "Relayage au domicile"),
    ("261", "Accueil familial pour personne âgée"),
    ("262", "Unité de soins intensifs spécialisés cardiologie (USIC)"),
    ("263", "Unité de soins intensifs spécialisés neurologie vasculaire (USINV)"),
    ("264", "Unité de soins intensifs spécialisés hématologie (USIH)"),
    ("265", "Equipe mobile d'algologie"),
    ("266", "Equipe mobile de gériatrie (EMG)"),
    ("267", "Equipe mobile d'endocrinologie, diabétologie, métabolisme et nutrition"),
    ("268", "Centre de lutte antituberculeuse (CLAT)"),
    ("269", "Centre de vaccination"),
    ("27", "Accueil ou hébergement pour personnes âgées autonomes, avec spécificité Maison d'accueil rural (MARPA)"),
    ("270", "Centre de vaccination internationale"),
    ("271", "Dialyse à Domicile"),
    ("272", "Equipe de Liaison et de Soins en Addictologie (ELSA)"),
    ("273", "Unité d’auto-dialyse assistée (UAD)"),
    ("274", "Unité de dialyse en centre lourd"),
    ("275", "Unité de dialyse Médicalisée (UDM)"),
    ("276", "Unité d’Accueil et de Soins pour personnes Sourdes et malentendantes (UASS)"),
    ("277", "Equipe de coordination hospitalière de tissus et/ou d’organes"),
    ("278", "Unité Hospitalière de Courte Durée (UHCD)"),
    ("279", "Equipe Mobile de Psychiatrie de l’Enfant et de l’Adolescent (EMPEA)"),
    ("28", "Services Soins infirmiers à domicile (SSIAD)"),
    ("280", "Equipe mobile de psychiatrie adulte"),
    ("281", "Centre Médico-Psychologique Enfant et Adolescent (CMPEA)"),
    ("282", "Unité hospitalière de psychiatrie de l’enfant et de l’adolescent (pédopsychiatrie)"),
    ("283", "Equipe mobile de psychiatrie périnatale"),
    ("284", "Equipe Spécialisée de Prévention et de Réadaptation à Domicile (ESPRAD)"),
    ("285", "Centre Anti-Poison et de Toxico-Vigilance (CAPTV)"),
    ("286", "Unité hospitalière de Soins Intensifs Néonatals (USIN)"),
    ("287", "Unité hospitalière de réanimation néonatale"),
    ("288", "Unité hospitalière « kangourou » ou « koala »"),
    ("289", "Unité hospitalière de néonatalogie"),
    ("29", "Equipe spécialisée Alzheimer (ESA)"),
    ("290", "Unité hospitalière de maternité"),
    ("291", "Halte Soins Addiction (HSA)"),
    ("292", "Unité Hospitalière Sécurisée Interrégionale (UHSI)"),
    ("293", "Unité hospitalière dédiée grossesse pathologique (GHR)"),
    ("294", "Unité hospitalière de soins externes"),
    ("295", "Permanence d'Accès aux Soins de Santé (PASS)"),
    ("296", "Groupe d’Entraide Mutuelle (GEM)"),
    ("297", "Centre ressource IntimAgir"),
    (
        "298",
        "Dispositif sanitaire dédié à la prise en charge des femmes victimes de violences (Maison des Femmes Santé)",
    ),
    ("299", "Equipe de Diagnostic de Proximité – Autisme (PDAP, EDAP)"),
    ("30", "Service autonomie à domicile (SAD) aide"),
    ("301", "Unité d'urgences psychiatriques"),
    ("302", "Centre d’Accueil et de Crise (CAC)"),
    ("303", "Cabinet de ville infirmier en pratique avancée en pathologies chroniques stabilisées"),
    ("304", "Cabinet de ville infirmier en pratique avancée en oncologie et hémato-oncologie"),
    ("305", "Cabinet de ville infirmier en pratique avancée en maladie rénale chronique"),
    ("306", "Cabinet de ville infirmier en pratique avancée en santé mentale"),
    ("307", "Unité d’Education Thérapeutique du Patient (ETP)"),
    ("308", "Unité de réanimation des brûlés"),
    ("309", "Unité Sanitaire en Milieu Pénitentiaire (USMP, ex UCSA)"),
    ("31", "Service d'Accompagnement à la Vie Sociale (SAVS)"),
    ("310", "Lactarium"),
    ("311", "Structure des urgences pédiatriques"),
    ("312", "Pharmacie d'officine (dont mutualiste)"),
    ("313", "Antenne des urgences"),
    ("314", "Centre de Prise en Charge des Auteurs et/ou Auteures de violences conjugales (CPCA)"),
    ("315", "Equipe de Soins Spécialisés (ESS)"),
    ("316", "Société de téléconsultation"),
    ("317", "Unité hospitalière de soins de support"),
    ("318", "Groupe plaies et cicatrisation (dont équipe mobile)"),
    ("319", "Centre du sommeil"),
    ("32", "Service d'accompagnement médico-social adultes handicapés (SAMSAH)"),
    ("320", "Offre de relayage au domicile"),
    ("33", "Service de portage de repas à domicile"),
    ("34", "Service de Téléassistance"),
    ("35", "Foyer restaurant"),
    ("36", "Dispositif d'accueil familial social PA-PH"),
    ("37", "Centre d'accueil familial spécialisé (CAFS)"),
    ("38", "Plateforme d'accompagnement et de répit"),
    ("39", "Foyer ou établissement d'accueil médicalisé (FAM ou EAM)"),
    ("40", "Maison d'accueil spécialisée (MAS)"),
    ("41", "Etablissement d'accueil non médicalisé (EANM) dont foyer de vie et foyer d'hébergement"),
    ("42", "Foyer d'hébergement (Etablissement d'accueil non médicalisé)"),
    ("43", "Unité d'aide par le travail (ESAT)"),
    ("44", "Etablissements et Service de Réadaptation Professionnelle (ESRP)"),
    ("45", "Unités évaluation réentraînement et d'orientation sociale et professionnel (UEROS)"),
    ("46", "Établissement et Service de Préorientation (ESPO)"),
    ("47", "Plateforme Emploi Accompagné (PEA)"),
    ("48", "Institut médico-éducatif (IME)"),
    ("49", "Institut d'éducation motrice (IEM)"),
    ("50", "Institut thérapeutique éducatif et pédagogique (ITEP)"),
    ("51", "Etablissement pour enfant ou ado polyhandicapé (EEAP)"),
    ("52", "Institut déficient visuel"),
    ("53", "Institut déficient auditif"),
    ("54", "Institut déficient Visuel et Auditif"),
    ("55", "Unité d'enseignement interne"),
    ("56", "Unité d'enseignement externalisée"),
    ("57", "Service d'accompagnement, Service d'Education Spécialisée de Soins à Domicile (SESSAD)"),
    ("58", "Service d'accompagnement, Service d'Accompagnement Familial et d'Education Précoce (SAFEP)"),
    ("59", "Service d'accompagnement, Services de Soutien à l'Education Familiale et à la Scolarisation (SSEFIS)"),
    (
        "60",
        "Service d'accompagnement, Service d'Aide à l'Acquisition de l'Autonomie et à l'Intégration Scolaire (S3AIS)",
    ),
    ("61", "Centre d'action médico-sociale précoce (CAMSP)"),
    ("62", "Centre médico-psycho-pédagogique (CMPP)"),
    ("63", "Jardin d'enfants spécialisé"),
    ("64", "Bureau d'Aide Psychologique Universitaire (B.A.P.U.)"),
    ("65", "Pôle de compétences et de prestations externalisées (PCPE)"),
    ("66", "Equipe Relais Handicaps Rares (ERHR)"),
    ("67", "Lieu de vie et d'accueil (hors ESMS)"),
    ("68", "Unité d'hospitalisation fermée"),
    ("69", "Consultation externe en établissement de santé"),
    ("70", "Unité d'intervention extra-hospitalière"),
    ("71", "Equipe de liaison et de soins (intra-hospitalière)"),
    ("72", "Guichet d'accueil, écoute, conseil, orientation"),
    ("73", "Gestion de cas MAIA"),
    ("74", "Logement inclusif"),
    ("75", "Services Soins infirmiers à domicile renforcé (SSIAD renforcé)"),
    ("76", "Unité d'évaluation et de régulation des admissions en psychiatrie"),
    ("77", "Equipe Mobile Psychiatrie et Précarité (EMPP)"),
    ("78", "Equipe Mobile Géronto-Psychiatrie (EMGP)"),
    ("79", "Equipe Mobile Ambulatoire de Réadaptation Spécialisé (EARS)"),
    ("80", "Centre de Soins, d'Accompagnement et de Prévention en Addictologie (CSAPA)"),
    ("81", "Centre d'Accueil et d'Accompagnement à la Réduction des risques pour Usagers de Drogues (CAARUD)"),
    ("82", "Pharmacie à Usage Intérieur (PUI)"),
    ("83", "Chambre mortuaire"),
    ("84", "Plateforme de Coordination et d'Orientation (PCO)"),
    ("85", "Equipe Mobile Autisme"),
    ("86", "Consultation Jeune Consommateur (CJC)"),
    ("87", "Dispositif VigilanS"),
    ("88", "Dispositif expérimental"),
    ("89", "Centre de santé sexuelle"),
    ("90", "Equipe mobile de prévention du risque infectieux"),
    ("91", "Equipe opérationnelle d'hygiène (EOH)"),
    ("92", "Soins non programmés de ville"),
    ("93", "Lits halte soins santé (LHSS)"),
    ("94", "Appartement de coordination thérapeutique (ACT)"),
    ("95", "Lits d'accueil médicalisés (L.A.M.)"),
    ("96", "Etablissement d'accueil non médicalisé (EANM) - foyer d'hébergement (classique ou en milieu ouvert)"),
    ("97", "Etablissement d'accueil non médicalisé (EANM) - foyer de vie"),
    ("98", "Espaces de vie affective, relationnelle et sexuelle (EVARS)"),
    ("99", "Maison de santé pluriprofessionnelle (MSP)"),
];

/// TRE_R227-ChampActivite (`HealthcareService.type`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R227_ChampActivite.fsh`
/// (commit cab5f720, version 20260330120000). Complete.
static R227: &[(&str, &str)] = &[
    ("01", "Médecine Chirurgie Obstétrique (MCO)"),
    ("02", "Soins Médicaux et de réadaptation (SMR)"),
    ("03", "Psychiatrie (PSY)"),
    ("04", "Médico-social (MS)"),
    ("05", "Ville"),
    ("06", "Social"),
];

/// TRE_R211-ActiviteOperationnelle (activité opérationnelle, `HealthcareService.specialty`).
///
/// Sources: the 548 codes of JDV_J17-ActiviteOperationnelle-ROR version 20260629120000
/// (ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/JDV_J17_ActiviteOperationnelle_ROR.fsh`,
/// commit 2f687f9a) with their labels, plus the 81 other concepts of the TRE_R211 CodeSystem
/// version 20260601120000 (`DM/input/fsh/Done/Ontoserver/TRE_R211_ActiviteOperationnelle.fsh`,
/// commit 4465343a), almost all deprecated (e.g. `021` "Chirurgie générale") but still found in
/// old data; `148` "Urgences spécialisées cardiologiques" is active in the TRE but outside J17.
/// Together they cover every code from `001` to `629`. Where the two sources word a label
/// differently (e.g. `334`), the newer J17 wording is kept. Not closed: codes are added several
/// times a year.
static R211: &[(&str, &str)] = &[
    ("001", "Addictologie comportementale (sans substance)"),
    ("002", "Addictologie sans précision"),
    ("003", "Alcoologie"),
    ("004", "Algologie et Médecine de la douleur"),
    ("005", "Allergologie"),
    ("006", "Andrologie (urologie médicale)"),
    ("007", "Anesthésie et Médecine périopératoire"),
    ("008", "Assistance circulatoire (UMAC)"),
    ("009", "Biochimie"),
    ("010", "Biologie du développement et de la reproduction"),
    ("011", "Biostatistique et Informatique médicale"),
    ("012", "Brûlés"),
    ("013", "Cardiologie générale"),
    ("014", "Cardiologie interventionnelle"),
    ("015", "Conseil antipoison et toxicovigilance"),
    ("016", "Chirurgie cervico-faciale et Oto-rhino-laryngologie (ORL)"),
    ("017", "Chirurgie de l'obésité (bariatrique)"),
    ("018", "Chirurgie cardiaque et gros vaisseaux (cardio-vasculaire)"),
    ("019", "Chirurgie de la main SOS main"),
    ("020", "Chirurgie endocrinienne"),
    ("021", "Chirurgie générale"),
    ("022", "Chirurgie gynécologique"),
    ("023", "Chirurgie maxillo-faciale"),
    ("024", "Chirurgie maxillo-faciale et stomatologie"),
    ("025", "Chirurgie orthopédique et traumatologique"),
    ("026", "Chirurgie orthopédique et traumatologie"),
    ("027", "Chirurgie pédiatrique"),
    ("028", "Chirurgie reconstructrice"),
    ("029", "Chirurgie septique"),
    ("030", "Chirurgie thoracique et pulmonaire"),
    ("031", "Urologie (chirurgie urologique)"),
    ("032", "Chirurgie vasculaire et endovasculaire"),
    ("033", "Chirurgie digestive et viscérale fonctionnelle (hors carcinologie)"),
    ("034", "Comité de lutte contre les infections nosocomiales (CLIN)"),
    ("035", "Coordination hospitalière de prélèvement d'organe"),
    ("036", "Coronarographie interventionnelle"),
    ("037", "Dermatologie"),
    ("038", "Dermatologie esthétique et cosmétique"),
    ("039", "Diabétologie"),
    ("040", "Médecine nutritionnelle"),
    ("041", "Endocrinologie"),
    ("042", "Epidémiologie"),
    ("043", "Foetopathologie"),
    ("044", "Foetopathologie et Embryopathologie"),
    ("045", "Formation continue"),
    ("046", "Gastro-entérologie"),
    ("047", "Gastro-entérologie et Hépatologie"),
    ("048", "Génétique chromosomique et moléculaire"),
    ("049", "Génétique médicale et clinique"),
    ("050", "Gériatrie, Gérontologie"),
    ("051", "Psychiatrie du sujet âgé (et géronto-psychiatrie)"),
    ("052", "Gestion de crise, plan blanc"),
    ("053", "Gynécologie médicale"),
    ("054", "Gynécologie-obstétrique"),
    ("055", "Hématologie"),
    ("056", "Hématologie biologique"),
    ("057", "Hémobiologie"),
    ("058", "Hémodialyse en urgence"),
    ("059", "Hémodialyse chronique"),
    ("060", "Hémodialyse péritonéale"),
    ("061", "Hémovigilance"),
    ("062", "Hépatologie"),
    ("063", "Hygiène, prévention, contrôle des infections associées aux soins"),
    ("064", "Hygiène hospitalière"),
    ("065", "Hypertension artérielle (HTA)"),
    ("066", "Imagerie médicale (Radiologie)"),
    ("067", "Imagerie par échographie"),
    ("068", "Imagerie par IRM"),
    ("069", "Imagerie par radiologie conventionnelle"),
    ("070", "Imagerie par scanner (TDM)"),
    ("071", "Immuno-hématologie"),
    ("072", "Immunologie biologique"),
    ("073", "Immunologie clinique"),
    ("074", "Infections sexuellement transmissibles IST"),
    ("075", "Information médicale (DIM)"),
    ("076", "Soins palliatifs avec lits identifiés de soins palliatifs (LISP)"),
    ("077", "Maladies infectieuses et tropicales"),
    ("078", "Médecine aérospatiale-aéronautique"),
    ("079", "Médecine de la douleur (Algologie)"),
    ("080", "Médecine de la reproduction"),
    ("081", "Médecine du sport"),
    ("082", "Médecine du travail (pathologie professionnelle)"),
    ("083", "Médecine polyvalente"),
    ("084", "Médecine hyperbare"),
    ("085", "Médecine interne"),
    ("086", "Médecine légale"),
    ("087", "Médecine nucléaire"),
    ("088", "Médecine pédiatrique"),
    ("089", "Médecine pénitentiaire"),
    ("090", "Médecine physique et de réadaptation"),
    ("091", "Médecine vasculaire (Angiologie, Phlébologie)"),
    ("092", "Evaluation et traitement de la mémoire"),
    ("093", "Microbiologie"),
    ("094", "Néonatalogie"),
    ("095", "Néphrologie"),
    ("096", "Neurochirurgie"),
    ("097", "Neurologie"),
    ("098", "Neurologie vasculaire"),
    ("099", "Médecine de l'obésité"),
    ("100", "Obstétrique"),
    ("101", "Odontologie (dentaire)"),
    ("102", "Oncologie médicale (cancérologie)"),
    ("103", "Ophtalmologie"),
    ("104", "Orthodontie ou orthopédie dento-faciale"),
    ("105", "Orthogénie"),
    ("106", "Orthoptie"),
    ("107", "Oto-rhino-laryngologie (ORL)"),
    ("108", "Permanences d'accès aux soins de santé (PASS)"),
    ("109", "Pharmacie"),
    ("110", "Pharmacologie"),
    ("111", "Pharmacovigilance"),
    ("112", "Physiologie"),
    ("113", "Plan blanc"),
    ("114", "Pneumologie"),
    ("115", "Suivi post urgences"),
    ("116", "Prévention"),
    ("117", "Proctologie médico-chirurgicale"),
    ("118", "Protection maternelle et infantile (PMI)"),
    ("119", "Protonthérapie"),
    ("120", "Radiologie interventionnelle"),
    ("121", "Réanimation spécialisée brûlés"),
    ("122", "Réanimation chirurgicale"),
    ("123", "Réanimation spécialisée chirurgie cardiaque et gros vaisseaux"),
    ("124", "Réanimation spécialisée chirurgie thoracique et pulmonaire"),
    ("125", "Réanimation spécialisée chirurgie viscérale et digestive"),
    ("126", "Réanimation médicale"),
    ("127", "Réanimation polyvalente"),
    ("128", "Réanimation spécialisée néonatale"),
    ("129", "Réanimation spécialisée neurochirurgicale"),
    ("130", "Réanimation spécialisée pédiatrique"),
    ("131", "Rhumatologie"),
    ("132", "Rythmologie"),
    ("133", "Rythmologie interventionnelle"),
    ("134", "SAMU-Centre 15"),
    ("135", "Sexologie médicale"),
    ("136", "SMUR primaire"),
    ("137", "Stomatologie"),
    ("138", "Surveillance post-interventionnelle SSPI (réveil)"),
    ("139", "Tabacologie"),
    ("140", "Tomographie d'émission monophonique (TEMP)"),
    ("141", "Tomographie par émission de positons (pet scan)"),
    ("142", "Toxicologie"),
    ("143", "Toxicomanie"),
    ("144", "Transplantation cardiaque (greffe)"),
    ("145", "Traumatologie"),
    ("146", "Tuberculose"),
    ("147", "Urgences Médico-Psychologiques (CUMP)"),
    ("148", "Urgences spécialisées cardiologiques"),
    ("149", "Urgences Chirurgie"),
    ("150", "Urgences Gynéco-obstétrique"),
    ("151", "Urgences médecine"),
    ("152", "Evaluation Médico-Judiciaire (UMJ)"),
    ("153", "Urgences médico-judiciaires (UMJ)"),
    ("154", "Urgences spécialisées ophtalmologiques"),
    ("155", "Urgences ophtamologique"),
    ("156", "Urgences spécialisées Oto-Rhino-Laryngologiques (ORL)"),
    ("157", "Urgences polyvalentes hospitalières"),
    ("158", "Urgences psychiatriques hospitalières"),
    ("159", "Urgences spécialisées traumatologiques"),
    ("160", "Urgences vitales (SAUV - déchocage)"),
    ("161", "Vaccinations"),
    ("162", "Evaluation et suivi des Infections Sexuellement Transmissibles (IST)"),
    ("163", "Anatomie et Cytologie pathologique"),
    ("164", "Traitements médicamenteux systémiques du cancer (chimiothérapie)"),
    ("165", "Chirurgie esthétique"),
    ("166", "Chirurgie plastique, reconstructrice et esthétique"),
    ("167", "Curiethérapie"),
    ("168", "Radiothérapie externe"),
    ("169", "Scintigraphie"),
    ("170", "Soins palliatifs"),
    ("171", "Rééducation polyvalente"),
    ("172", "Réadaptation polyvalente"),
    ("173", "Etat végétatif chronique ou pauci relationnel"),
    ("174", "Dialyse péritonéale"),
    ("175", "Brûlologie"),
    ("176", "Suivi et rééducation des complications et séquelles de brûlures"),
    ("177", "Chirurgie reconstructrice"),
    ("178", "Chirurgie plastique et esthétique"),
    ("179", "Médecine aéronautique et aérospatiale"),
    ("180", "Médecine d'altitude (médecine de montagne)"),
    ("181", "Médecine du travail des Gens de mer"),
    ("182", "Evaluation et traitement de la mucoviscidose"),
    ("183", "Traitement neurochirurgical de la douleur"),
    ("184", "Neurochirurgie vasculaire"),
    ("185", "Imagerie fonctionnelle"),
    ("186", "Oncologie médicale neurologique (cancérologie)"),
    ("187", "Oncogériatrie médicale (cancérologie)"),
    ("188", "Oncologie médicale dermatologique (cancérologie)"),
    ("189", "Oncologie médicale digestive et viscérale (cancérologie)"),
    ("190", "Oncologie médicale gynécologique (cancérologie)"),
    ("191", "Oncologie médicale hématologique (cancérologie)"),
    ("192", "Oncologie médicale oto-rhino-laryngologique (ORL) et cervico-faciale (cancérologie)"),
    ("193", "Oncologie médicale pneumologique (cancérologie)"),
    ("194", "Oncologie rhumatologique (cancérologie)"),
    ("195", "Oncologie médicale sénologique (cancer du sein) (cancérologie)"),
    ("196", "Oncologie médicale urologique (cancérologie)"),
    ("197", "Ostéopathie (hors actes réservés aux médecins)"),
    ("198", "Parodontologie"),
    ("199", "Chirurgie orale"),
    ("200", "Orthophonie"),
    ("201", "Pédicurie-Podologie (bilan diagnostic et mise en œuvre des activités thérapeutiques si nécessaire)"),
    ("202", "Réunion de Concertation Pluridisciplinaire (RCP) Appareil Digestif"),
    ("203", "Réunion de Concertation Pluridisciplinaire (RCP) Appareil Respiratoire et Autres Thorax"),
    ("204", "Réunion de Concertation Pluridisciplinaire (RCP) Glandes Endocrines"),
    ("205", "Réunion de Concertation Pluridisciplinaire (RCP) Hématologie"),
    ("206", "Réunion de Concertation Pluridisciplinaire (RCP) Oeil"),
    ("207", "Réunion de Concertation Pluridisciplinaire (RCP) Organes génitaux féminins"),
    ("208", "Réunion de Concertation Pluridisciplinaire (RCP) Organes génitaux masculins"),
    ("209", "Réunion de Concertation Pluridisciplinaire (RCP) Os et tissus mous et myélome"),
    ("210", "Réunion de Concertation Pluridisciplinaire (RCP) Peau"),
    ("211", "Réunion de Concertation Pluridisciplinaire (RCP) Sein"),
    ("212", "Réunion de Concertation Pluridisciplinaire (RCP) Système Nerveux"),
    ("213", "Réunion de Concertation Pluridisciplinaire (RCP) Tissus mous, Non Classés Ailleurs (NCA)"),
    ("214", "Réunion de Concertation Pluridisciplinaire (RCP) Voies Aéro-Digestives Supérieures (VADS)"),
    ("215", "Réunion de Concertation Pluridisciplinaire (RCP) Voies urinaires"),
    ("216", "Réunion de Concertation Pluridisciplinaire (RCP) Cancers rares"),
    ("217", "Réunion de Concertation Pluridisciplinaire (RCP) Douleur"),
    ("218", "Réunion de Concertation Pluridisciplinaire (RCP) Métastase osseuse"),
    ("219", "Réunion de Concertation Pluridisciplinaire (RCP) Oncogénétique"),
    ("220", "Réunion de Concertation Pluridisciplinaire (RCP) Oncogériatrie"),
    ("221", "Réunion de Concertation Pluridisciplinaire (RCP) Oncologie médicale"),
    ("222", "Réunion de Concertation Pluridisciplinaire (RCP) Préservation de la fertilité"),
    ("223", "Réunion de Concertation Pluridisciplinaire (RCP) Radiologie interventionnelle"),
    ("224", "Réunion de Concertation Pluridisciplinaire (RCP) Soins de support général"),
    ("225", "Réunion de Concertation Pluridisciplinaire (RCP) Soins palliatifs"),
    ("226", "Expertise des infections osteo-articulaires complexes (CRIOA, CRIOAC)"),
    ("227", "Psychiatrie de l’enfant (pédopsychiatrie)"),
    ("228", "Psychiatrie de l’adolescent (pédopsychiatrie)"),
    ("229", "Psychiatrie adulte"),
    ("230", "Psychiatrie périnatale"),
    ("231", "Evaluation et soins de réhabilitation psychosociale"),
    ("232", "Bilan expert"),
    ("233", "Réadaptation des affections de l'appareil locomoteur"),
    ("234", "Réadaptation des affections du système nerveux"),
    ("235", "Réadaptation des affections cardio-vasculaires"),
    ("236", "Réadaptation des affections respiratoires"),
    ("237", "Réadaptation des affections du système digestif, endocrino-métaboliques et nutrition"),
    ("238", "Réadaptation des affections onco-hématologiques"),
    ("239", "Réadaptation des brulés (dont maladies nécrosantes et bulleuses de la peau)"),
    ("240", "Réadaptation des affections liées aux conduites addictives"),
    ("241", "Réadaptation gériatrique"),
    ("242", "Soins de Suite et de Réadaptation (SSR) polyvalent, reconnaissance affections onco-hématologiques"),
    ("243", "Réadaptation néphrologie"),
    ("244", "Réadaptation Post-Réanimation (SRPR)"),
    ("245", "Réadaptation des personnes en état de conscience altérée (ex EVC/EPR)"),
    ("246", "Réadaptation cognitivo-comportementale (UCC)"),
    ("247", "Réadaptation des déficiences visuelles"),
    ("248", "Réadaptation des déficiences auditives"),
    ("249", "Urgences pédiatriques hospitalières"),
    ("250", "Urgences spécialisées céphalées"),
    ("251", "Urgences spécialisées dermatologiques"),
    ("252", "Urgences spécialisées endocrinologiques"),
    ("253", "Urgences spécialisées hématologiques"),
    ("254", "Urgences spécialisées néphrologiques"),
    ("255", "Urgences spécialisées hépato-gastro-entérologiques"),
    ("256", "Urgences spécialisées neuro-vasculaires"),
    ("257", "Urgences spécialisées odontologiques (dentaires)"),
    ("258", "Urgences spécialisées main"),
    ("259", "Urgences spécialisées gynécologiques"),
    ("260", "Urgences spécialisées obstétricales"),
    ("261", "Urgences spécialisées maxillo-faciales"),
    ("262", "Urgences spécialisées stomatologiques"),
    ("263", "Urgences spécialisées oncologiques"),
    ("264", "Urgences spécialisées chirurgicales viscérales et digestives"),
    ("265", "Urgences spécialisées infectieuses"),
    ("266", "Urgences spécialisées urologiques"),
    ("267", "Urgences spécialisées neuro-chirurgicales"),
    ("268", "Transfert inter-hospitalier (TIH SMUR)"),
    ("269", "Transfert infirmier inter-hospitalier (TIIH SMUR)"),
    ("270", "SMUR pédiatrique"),
    ("271", "Evacuation sanitaire (EVASAN)"),
    ("272", "Régulation médicale libérale (CRRA)"),
    ("273", "Régulation médicale hospitalière (CRRA)"),
    ("274", "Régulation médicale maritime (CRRA)"),
    ("275", "Régulation médicale en montagne (CRRA)"),
    ("276", "Régulation médicale pédiatrique (CRRA)"),
    ("277", "Régulation psychiatrique"),
    ("278", "Régulation des transferts in utero"),
    ("279", "Oncologie médicale pédiatrique (cancérologie)"),
    ("280", "Chirurgie dermatologique"),
    ("281", "Chirurgie oncologique"),
    ("282", "Périnatalité (suivi de grossesse)"),
    ("283", "Rééducation - réadaptation"),
    ("284", "Evaluation et traitement de la drépanocytose"),
    ("285", "Soins médicaux somatiques"),
    ("286", "Soins palliatifs"),
    ("287", "Soins infirmiers"),
    ("288", "Soins de nursing lourds"),
    ("289", "Suivi psychologique"),
    ("290", "Réadaptation des fonctions du langage et de la communication"),
    ("291", "Réadaptation pour la mobilité"),
    ("292", "Réadaptation des fonctions cognitives"),
    ("293", "Accompagnements pour les actes de la vie quotidienne (AVQ)"),
    ("294", "Accompagnements pour la communication"),
    ("295", "Accompagnements pour les relations avec autrui"),
    ("296", "Accompagnements pour prendre des décisions adaptées"),
    ("297", "Accompagnements pour la sécurité"),
    ("298", "Accompagnements pour vivre dans un logement"),
    ("299", "Accompagnements pour accomplir les activités domestiques"),
    ("300", "Accompagnements à la scolarisation"),
    ("301", "Enseignement et/ou formation"),
    ("302", "Accompagnements pour préparer sa vie professionnelle"),
    ("303", "Accompagnements à la recherche d'un emploi"),
    ("304", "Activité professionnelle adaptée"),
    ("305", "Accompagnements pour mener sa vie professionnelle"),
    ("306", "Activités visant la stimulation cognitivo-comportementale"),
    ("307", "Organisation d'activités péri-scolaires-péri-professionnelles"),
    ("308", "Soutien à la parentalité et accompagnement familial"),
    ("309", "Accompagnements à la vie intime, affective et sexuelle"),
    ("310", "Accompagnements pour l'exercice des mandats électoraux, la représentation des pairs"),
    ("311", "Accompagnements pour la pair aidance"),
    ("312", "Accompagnements pour créer ou maintenir le lien social et éviter l'isolement"),
    ("313", "Accompagnements à des activités sociales, culturelles, sportives et de loisirs"),
    ("314", "Activités de bien-être"),
    ("315", "Soins socio-esthétiques"),
    ("316", "Apprentissage et accompagnements à la conduite de véhicule (voiture,...)"),
    (
        "317",
        "Informer, évaluer, accompagner et orienter pour l'ouverture des droits et l'accès aux prestations pour l'aidé et l'aidant",
    ),
    ("318", "Apprentissage et-ou aide à la gestion du budget"),
    ("319", "Conseils et accompagnements dans les démarches afin de mobiliser les mesures de protection adaptées"),
    ("320", "Mettre en oeuvre les mesures de protection juridiques"),
    ("321", "Coopération, convention avec des actes spécialisés et du droit commun"),
    ("322", "Prestation de restauration (dont portage de repas à domicile)"),
    ("323", "Entretien du linge par l'établissement"),
    ("324", "Organisation du transport de la personne"),
    ("325", "Soutien et aide aux aidants et/ou à la famille/entourage"),
    ("326", "Formation des aidants"),
    ("327", "Ateliers de prévention primaire"),
    ("328", "Ateliers de prévention secondaire"),
    ("329", "Ateliers de prévention tertiaire"),
    ("330", "Promouvoir et sensibiliser aux activités physiques adaptées"),
    ("331", "Soins de Suite et de Réadaptation (SSR) polyvalent, Lits identifiés de soins palliatifs (LISP)"),
    ("332", "Préparation et reconstitution centralisée des médicaments cytotoxiques (UPC, URC)"),
    ("333", "Soins de longue durée (SLD)"),
    ("334", "Activité de dépistage et de prévention"),
    ("335", "Coordination de parcours complexes"),
    ("336", "Education thérapeutique"),
    ("337", "Régulation médicale néonatale (CRRA)"),
    ("338", "Neuroradiologie"),
    ("339", "Kinésithérapie"),
    ("340", "Coordination plan de soins"),
    ("341", "Coordination plan d'aide"),
    ("342", "Accompagnement vie familiale"),
    ("343", "Exploration fonctionnelle respiratoire (EFR) pléthysmographie, gaz du sang"),
    ("344", "Exploration fonctionnelle cardiaque"),
    ("345", "Exploration fonctionnelle vasculaire"),
    ("346", "Exploration fonctionnelle neurologique"),
    ("347", "Exploration fonctionnelle ORL"),
    ("348", "Exploration fonctionnelle digestive"),
    ("349", "Exploration fonctionnelle urologique"),
    ("350", "Exploration fonctionnelle ophtalmologique"),
    ("351", "Soins intensifs polyvalents"),
    ("352", "Soins intensifs chirurgicaux"),
    ("353", "Soins intensifs médicaux"),
    ("354", "Soins intensifs spécialisés cardiologie (USIC)"),
    ("355", "Soins intensifs spécialisés en psychiatrie"),
    ("356", "Soins intensifs spécialisés neurologie vasculaire (USINV)"),
    ("357", "Soins intensifs spécialisés pneumologie"),
    ("358", "Soins intensifs spécialisés respiratoire"),
    ("359", "Soins intensifs spécialisés brûlés"),
    ("360", "Soins intensifs spécialisés cancérologie oncologie"),
    ("361", "Soins intensifs spécialisés hématologie (USIH)"),
    ("362", "Soins intensifs spécialisés chirurgie cardiaque et gros vaisseaux"),
    ("363", "Soins intensifs spécialisés chirurgie thoracique et pulmonaire"),
    ("364", "Soins intensifs spécialisés chirurgie urologique"),
    ("365", "Soins intensifs spécialisés chirurgie viscérale et digestive"),
    ("366", "Soins intensifs spécialisés gynécologie obstétrique"),
    ("367", "Soins intensifs spécialisés hépato-gastro-entérologie"),
    ("368", "Soins intensifs spécialisés maladies infectieuses et tropicales"),
    ("369", "Soins intensifs spécialisés néonatalogie"),
    ("370", "Soins intensifs spécialisés pédiatrie"),
    ("371", "Soins intensifs spécialisés néphrologique"),
    ("372", "Soins intensifs spécialisés neurochirurgicaux"),
    ("373", "Surveillance continue polyvalente"),
    ("374", "Surveillance continue chirurgicale"),
    ("375", "Surveillance continue médicale"),
    ("376", "Surveillance continue spécialisée cardiologie"),
    ("377", "Surveillance continue spécialisée neurochirurgie"),
    ("378", "Surveillance continue spécialisée pneumologie"),
    ("379", "Surveillance continue spécialisée brûlés"),
    ("380", "Surveillance continue spécialisée cancérologie oncologie"),
    ("381", "Surveillance continue spécialisée chirurgie cardiaque et gros vaisseaux"),
    ("382", "Surveillance continue spécialisée chirurgie thoracique et pulmonaire"),
    ("383", "Surveillance continue spécialisée chirurgie urologique"),
    ("384", "Surveillance continue spécialisée chirurgie viscérale et digestive"),
    ("385", "Surveillance continue spécialisée gynécologie obstétrique"),
    ("386", "Surveillance continue spécialisée hépato-gastro-entérologie"),
    ("387", "Surveillance continue spécialisée néphrologique"),
    ("388", "Surveillance continue spécialisée neurologique"),
    ("389", "Surveillance continue spécialisée chirurgie maxillo-faciale et stomatologie"),
    ("390", "Surveillance continue spécialisée chirurgie orthopédique et traumatologie"),
    ("391", "Surveillance continue spécialisée pédiatrique"),
    ("392", "Hébergement temporaire d'urgence"),
    ("393", "Hébergement temporaire d'urgence en sortie d'hospitalisation"),
    ("394", "Aide au répit (relayage)"),
    ("395", "Préparation hospitalière"),
    ("396", "Préparation pour essais cliniques"),
    ("397", "Pharmacie à Usage Intérieur (PUI)"),
    ("398", "Stérilisation des dispositifs médicaux"),
    ("399", "Préparation des médicaments radiopharmaceutiques"),
    ("400", "Vente de médicaments au public (rétrocession hospitalière)"),
    ("401", "Evaluation du logement et préconisation d'adaptation pour le maintien à domicile"),
    ("402", "Accompagnement à l'autonomie pour la mobilité et les déplacements"),
    ("403", "Apprentissage de l'autonomie pour la vie courante"),
    ("404", "Addictologie avec substance(s)"),
    ("405", "Immunothérapie"),
    ("406", "Thérapie ciblée"),
    ("407", "Soins des chambres implantables"),
    ("408", "Chambre mortuaire"),
    ("409", "Oncologie médicale endocrinienne et thyroïdienne"),
    ("410", "Oncologie médicale os et tissus mous"),
    ("411", "Oncologie métastases osseuses"),
    ("412", "Onco-génétique"),
    ("413", "Exploration et suivi complexe en oncologie et hématologie"),
    ("414", "Soins de support en oncologie et hématologie"),
    ("415", "Transfusion"),
    ("416", "Soins Prolongés Complexes (USPC)"),
    ("417", "Kinésithérapie orientation Neurologie"),
    ("418", "Kinésithérapie Spécialisée Orthopédie"),
    ("419", "Kinésithérapie orientation Respiratoire"),
    ("420", "Kinésithérapie orientation Cardiologie"),
    ("421", "Kinésithérapie orientation Pelvi-périnéologie"),
    ("422", "Kinésithérapie orientation Vasculaire / Lymphatique"),
    ("423", "Kinésithérapie orientation Troubles de l'équilibre"),
    ("424", "Kinésithérapie orientation Rhumatologie"),
    ("425", "Kinésithérapie orientation Système musculo-squelettique (traumatologie, orthopédie)"),
    ("426", "Kinésithérapie orientation Lésions cutanées et cicatrices (dermatologie, brûlés)"),
    ("427", "Kinésithérapie orientation Sport"),
    ("428", "Kinésithérapie orientation Gériatrie (troubles liés à l'âge)"),
    ("429", "Réunion de Concertation Pluridisciplinaire (RCP) Oncologie pédiatrique"),
    ("430", "Réunion de Concertation Pluridisciplinaire (RCP) cancers rares"),
    ("431", "Endoscopie broncho-pulmonaire diagnostic"),
    ("432", "Endoscopie broncho-pulmonaire interventionnelle"),
    ("433", "Médecine Transfusionnelle et hémovigilance"),
    ("434", "Elaboration du plan d'aide individualisé"),
    ("435", "Expertise médicale (évaluation de préjudice)"),
    ("436", "Chirurgie du rachis"),
    ("437", "Médecine générale"),
    ("438", "Accompagnement dans le cadre d'un dispositif d'emploi accompagné (DEA)"),
    ("439", "Gynécologie endocrinienne"),
    ("440", "Chirurgie intracrânienne"),
    ("441", "Médecine bucco-dentaire"),
    ("442", "Chirurgie dentaire"),
    ("443", "Pédodontie ou odontologie pédiatrique"),
    ("444", "Endodontie"),
    ("445", "Biologie moléculaire sur prélèvement Anapath"),
    ("446", "Cytopathologie"),
    ("447", "Histopathologie"),
    ("448", "Diagnostic lié à un retard ou Trouble du Neuro-Développement (TND)"),
    ("449", "Appui et coopération auprès des acteurs de l'enseignement"),
    ("450", "Accompagnement à la réduction des risques en addictologie"),
    ("451", "Exploration et prise en charge des troubles du sommeil"),
    ("452", "Exploration des troubles psycho-comportementaux et cognitifs"),
    ("453", "Médecine et santé de l'adolescent"),
    ("454", "Radiologie polyvalente générale"),
    ("455", "Médecine thermale"),
    ("456", "Réadaptation des affections de l'appareil locomoteur"),
    (
        "457",
        "Réunion de Concertation Pluridisciplinaire (RCP) Rhumatismes Inflammatoires Chroniques (RIC), maladies auto-immunes et biothérapies en rhumatologie",
    ),
    ("458", "Réadaptation des affections cardio-vasculaires"),
    ("459", "Réadaptation des affections du système nerveux"),
    ("460", "Réadaptation des affections endocrino-métaboliques et nutrition"),
    ("461", "Réadaptation des affections onco-hématologiques"),
    ("462", "Réadaptation des affections respiratoires"),
    ("463", "Réadaptation des brulés"),
    ("464", "Réadaptation des evc-epr/etats de conscience minimaux"),
    ("465", "Réadaptation des fonctions sexuelles et de la reproduction"),
    ("466", "Chirurgie des varices"),
    ("467", "Chirurgie orthopédique et traumatologique spécialisée main"),
    ("468", "Chirurgie orthopédique et traumatologique spécialisée membres inférieurs"),
    ("469", "Chirurgie orthopédique et traumatologique spécialisée membres supérieurs (sauf la main)"),
    ("470", "Chirurgie orthopédique et traumatologique spécialisée tumeur"),
    ("471", "Orientation vers un médecin traitant acceptant de nouveaux patients"),
    ("472", "Veille et prévention de la récidive suicidaire"),
    ("473", "Chirurgie oncologique de la sphère oto-rhino-laryngée, cervico-faciale et maxillo-faciale"),
    ("474", "Chirurgie oncologique viscérale et digestive"),
    ("475", "Coordination de soins non-programmés"),
    ("476", "Exploration fonctionnelle de l'audition"),
    ("477", "Exploration fonctionnelle de la voix et de la déglutition"),
    ("478", "Exploration fonctionnelle des vertiges (audio vestibulaire)"),
    ("479", "Explorations fonctionnelles endocrinologie, diabétologie, métabolisme et nutrition"),
    ("480", "Médecine du sommeil"),
    ("481", "Médecine générale à orientation Allergologie"),
    ("482", "Médecine générale à orientation Andrologie"),
    ("483", "Médecine générale à orientation Diabétologie"),
    ("484", "Médecine générale à orientation Gériatrie, Gérontologie"),
    ("485", "Médecine générale à orientation Gynécologie médicale"),
    ("486", "Médecine générale à orientation Maladies infectieuses, parasitaires et tropicales"),
    ("487", "Médecine générale à orientation Médecine pédiatrique"),
    ("488", "Médecine générale à orientation Médecine vasculaire (Angiologie, Phlébologie)"),
    ("489", "Médecine générale à orientation Oncogériatrie (cancérologie)"),
    ("490", "Médecine générale à orientation Pathologies osseuses médicales"),
    ("491", "Médecine gériatrique aiguë"),
    ("492", "Neuroradiologie interventionnelle"),
    ("493", "Psychomotricité"),
    ("494", "Radiologie abdominale et digestive"),
    ("495", "Radiologie cardio-vasculaire"),
    ("496", "Radiologie gynécologique"),
    ("497", "Radiologie interventionnelle musculosquelettique"),
    ("498", "Radiologie interventionnelle oncologique"),
    ("499", "Radiologie interventionnelle pédiatrique"),
    ("500", "Radiologie interventionnelle vasculaire"),
    ("501", "Radiologie musculo-squelettique"),
    ("502", "Radiologie ORL et maxillo-faciale"),
    ("503", "Radiologie prénatale et pédiatrique"),
    ("504", "Radiologie sénologique (dont mammographie)"),
    ("505", "Radiologie thoracique"),
    ("506", "Transplantation d'organe"),
    ("507", "Uro-Radiologie"),
    ("508", "Exploration fonctionnelle de l'exercice et du sport"),
    ("509", "Traumatologie de l'activité physique et du sport"),
    ("510", "Échographie obstétricale de dépistage (1er, 2ème, 3ème trimestre)"),
    ("511", "Accueil et hébergement spécialisé"),
    ("512", "Accueil et orientation des victimes de violences sexuelles"),
    ("513", "Réadaptation locomotrice des patients amputés"),
    ("514", "Réadaptation PREcoce Post-Aiguë Cardiologique (PREPAC)"),
    ("515", "Réadaptation PREcoce Post-Aiguë Respiratoire (PREPAR)"),
    ("516", "Réadaptation neuro-orthopédique"),
    ("517", "Réadaptation PREcoce Post-Aiguë Neurologique (PREPAN)"),
    ("518", "Réadaptation des troubles cognitifs et comportementaux des patients cérébro-lésés"),
    ("519", "Réadaptation des affections médullaires"),
    ("520", "Réadaptation de l'obésité complexe"),
    ("521", "Réadaptation des troubles cognitifs sévères liés à une conduite addictive"),
    ("522", "Réadaptation polyhandicap"),
    ("523", "Réadaptation des affections oncologiques"),
    ("524", "Réadaptation troubles du langage et des apprentissages"),
    ("525", "Evaluation et orientation des auteurs de violences sexuelles"),
    ("526", "Informer, évaluer, accompagner et orienter dans le cadre d'une orientation professionnelle"),
    ("527", "Suivi gynécologique de prévention et contraception"),
    ("528", "Suivi neuropsychologique"),
    ("529", "Suivi post-natal (dont séances post-natales)"),
    ("530", "Suivi prénatal (suivi de grossesse)"),
    ("531", "Réadaptation viroses chroniques"),
    ("532", "Réadaptation lymphologie"),
    ("533", "Accession à un logement individuel"),
    ("534", "Accompagnement infirmier pour téléconsultation médicale"),
    ("535", "Sexologie clinique"),
    ("536", "Chirurgie oncologique thoracique"),
    ("537", "Chirurgie oncologique urologique"),
    ("538", "Chirurgie oncologique gynécologique"),
    ("539", "Chirurgie oncologique mammaire"),
    ("540", "Chirurgie oncologique neurologique"),
    ("541", "Chirurgie oncologique ophtalmologique"),
    ("542", "Chirurgie oncologique dermatologique"),
    ("543", "Chirurgie oncologique des os et des tissus mous"),
    ("544", "Chirurgie oncologique de la thyroïde"),
    ("545", "Chimiothérapie intensive"),
    ("546", "Exploration et prise en charge de la dénutrition"),
    ("547", "Evaluation de situation sociale préoccupante"),
    ("548", "Coordination de parcours (Care management)"),
    ("549", "Diététique et nutrition"),
    ("550", "Accompagnement puériculteur à la périnatalité"),
    ("551", "Génétique chromosomique"),
    ("552", "Génétique moléculaire"),
    ("553", "Suivi socio-éducatif"),
    ("554", "Promotion de la santé de l'enfant"),
    ("555", "Soins infirmiers orientation Onco-hématologie"),
    ("556", "Soins infirmiers en puériculture"),
    ("557", "Suivi du développement de l'enfant"),
    ("558", "Ergothérapie"),
    ("559", "Kinésithérapie orientation Fonctions sexuelles et de la reproduction"),
    ("560", "Kinésithérapie orientation Obésité complexe"),
    ("561", "Kinésithérapie orientation Cancérologie"),
    ("562", "Kinésithérapie orientation Pédiatrie"),
    ("563", "Kinésithérapie orientation Soins palliatifs"),
    ("564", "Kinésithérapie orientation Santé mentale"),
    ("565", "Kinésithérapie orientation Maxillo-faciale"),
    ("566", "Kinésithérapie orientation Gestion de la douleur"),
    ("567", "Soins infirmiers orientation Gestion de la douleur"),
    ("568", "Soins infirmiers orientation Santé mentale"),
    ("569", "Soins infirmiers orientation Cardiologie"),
    ("570", "Soins infirmiers orientation Respiratoire"),
    ("571", "Soins infirmiers orientation Soins palliatifs"),
    ("572", "Soins infirmiers orientation Neurologie"),
    ("573", "Soins infirmiers orientation Diabète"),
    ("574", "Ergothérapie orientation accompagnement dans le cadre des maladies chroniques"),
    ("575", "Ergothérapie orientation compensation matérielle dans l'environnement de la personne"),
    ("576", "Ergothérapie orientation Gériatrie"),
    ("577", "Ergothérapie orientation Neurologie"),
    ("578", "Ergothérapie orientation Pédiatrie"),
    ("579", "Ergothérapie orientation Psychiatrie et Santé mentale"),
    (
        "580",
        "Evaluation en ergothérapie par l'analyse d'activité et accompagnement dans l'environnement de la personne",
    ),
    ("581", "Interventions éducatives pour renforcer l'autorégulation"),
    ("582", "Orientation vers professionnel pour diagnostic"),
    ("583", "Dialyse péritonéale"),
    ("584", "Diététique des Troubles des Conduites Alimentaires (TCA)"),
    ("585", "Diététique orientation Dénutrition"),
    ("586", "Diététique orientation Gynécologie / Obstétrique"),
    ("587", "Diététique orientation maladies inflammatoires et malabsorptives (MICI, SII, NASH)"),
    ("588", "Diététique orientation Nutrition du sportif"),
    ("589", "Diététique orientation Périnatalité"),
    ("590", "Échographie gynécologique"),
    ("591", "Ostéopathie médicale"),
    ("592", "Prévention et lutte contre la tuberculose"),
    ("593", "Prise en charge coordonnée des patients atteints de maladies rares"),
    ("594", "Coordination hospitalière de prélèvement de tissu"),
    ("595", "Coordination hospitalière de prélèvement de tissu pédiatrique"),
    ("596", "Coordination hospitalière de prélèvement d’organe pédiatrique"),
    ("597", "Evaluation de la mémoire (bilan mémoire)"),
    ("598", "Toxicologie clinique"),
    ("599", "Analyse toxicologique"),
    ("600", "Prise en charge des malaises et surdoses liés à la prise de drogues"),
    ("601", "Médiation pour le maintien en hospitalisation"),
    ("602", "Pair aidance pour l'autodétermination"),
    ("603", "Prise en charge coordonnée des patients atteints de maladies neurodégénératives"),
    ("604", "Chirurgie pédiatrique spécialisée orthopédique"),
    ("605", "Chirurgie pédiatrique spécialisée digestif et viscérale"),
    ("606", "Accompagnement pour l’autodétermination de la personne"),
    ("607", "Fonction-ressource : expertise-conseils auprès des acteurs du secteur sanitaire"),
    ("608", "Fonction-ressource : expertise-conseils auprès des acteurs du milieu ordinaire"),
    ("609", "Fonction-ressource : expertise-conseils auprès de acteurs du secteur judiciaire"),
    ("610", "Pédiatrie spécialisée neurologie"),
    ("611", "Pédiatrie spécialisée pneumologie"),
    ("612", "Psychiatrie de crise"),
    ("613", "Echographie obstétricale de diagnostic"),
    ("614", "Soins infirmiers en pratique avancée en pathologies chroniques stabilisées"),
    ("615", "Soins infirmiers en pratique avancée en oncologie et hémato-oncologie"),
    ("616", "Soins infirmiers en pratique avancée en maladie rénale chronique"),
    ("617", "Soins infirmiers en pratique avancée en santé mentale"),
    ("618", "Collecte de don de lait maternel cru"),
    ("619", "Distribution de lait maternel pasteurisé"),
    ("620", "Bilan psychomoteur"),
    ("621", "Soin psychomoteur"),
    ("622", "Education psychomotrice (pédagogie du développement psychomoteur)"),
    ("623", "Stimulation psychomotrice (stimulation du fonctionnement psychomoteur à visée préventive)"),
    ("624", "Rééducation de la graphomotricité et de l’écriture (dysgraphie)"),
    ("625", "Orthoptie : orientation troubles neuro-visuels (pathologies neurologiques, maladies neurodégénératives)"),
    ("626", "Orthoptie orientation basse vision"),
    ("627", "Orthoptie orientation pédiatrique"),
    ("628", "Dispensation de médicaments et autres produits de santé appartenant au monopole pharmaceutique"),
    ("629", "Conseil et accompagnement dans la gestion des traitements"),
];

/// TRE_R213-ModePriseEnCharge (`characteristic[careMode]`; `46` Hébergement, `47` Accueil de jour).
///
/// Sources: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R213_ModePriseEnCharge.fsh`
/// (commit cab5f720, version 20260330120000: codes `01`-`59`, deprecated ones included) and
/// JDV_J19-ModePriseEnCharge-ROR version 20260629120000 (IG v1.12.0) for `60` "Dispositif
/// expérimental".
static R213: &[(&str, &str)] = &[
    ("01", "Accueil Permanence des soins en établissement de santé"),
    ("02", "Accueil spécialisé"),
    ("03", "Centre autre (médecine du travail,...)"),
    ("04", "Centre d'analyse et-ou prélèvement"),
    ("05", "Centre de dépistage"),
    ("06", "Centre de référence"),
    ("07", "Centre de vaccination"),
    ("08", "Centre de vaccination internationale"),
    ("09", "Chirurgie ambulatoire"),
    ("10", "Equipe de liaison et de soins"),
    ("11", "Equipe mobile extra-hospitalière"),
    ("12", "Exploration fonctionnelle"),
    ("13", "Hospitalisation courte durée (UHCD)"),
    ("14", "Hospitalisation kangourou"),
    ("15", "Hospitalisation très courte durée (ZHTCD et UHTCD)"),
    ("16", "Lieu d'écoute"),
    ("17", "Précarité, permanence d'accès aux soins de santé (PASS)"),
    ("18", "Régulation médicale hospitalière"),
    ("19", "Régulation médicale libérale"),
    ("20", "Soins externes et traitements ambulatoires"),
    ("21", "Surveillance post interventionnelle (réveil)"),
    ("22", "Unité de soins intensifs (USI)"),
    ("23", "Unité de surveillance continue (USC)"),
    ("24", "Unité hospitalière sécurisée interrégionale (UHSI)"),
    ("25", "Unité sanitaire (ex UCSA)"),
    ("26", "Téléconsultation"),
    ("27", "Régulation médicale téléphonique"),
    ("28", "Hospitalisation complète (HC)"),
    ("29", "Hospitalisation de jour (HJ)"),
    ("30", "Hospitalisation de nuit (HN)"),
    ("31", "Hospitalisation à domicile (HAD)"),
    ("32", "Consultation (CS) ou Séance"),
    ("33", "Accueil des urgences"),
    ("34", "Hospitalisation de semaine (HS)"),
    ("35", "Téléexpertise"),
    ("36", "Téléassistance"),
    ("37", "Télésurveillance médicale"),
    ("38", "Isolement de secteur (unité de cohorting)"),
    ("39", "Réunion de Concertation Pluridisciplinaire (RCP)"),
    ("40", "Réunion de Concertation Pluridisciplinaire (RCP) de recours"),
    ("41", "Accueil familial thérapeutique"),
    ("42", "Prise en charge de groupe"),
    ("43", "Equipe de liaison et de soins"),
    ("44", "Equipe mobile intra-hospitalière"),
    ("45", "Equipe mobile extra-hospitalière"),
    ("46", "Hébergement (accueil jour et nuit)"),
    ("47", "Accueil de jour"),
    ("48", "Accueil de nuit"),
    ("49", "Sur les lieux de vie"),
    ("50", "Placement famille d'accueil"),
    ("51", "Relayage (type baluchonnage)"),
    ("52", "Equipe mobile intra-hospitalière"),
    ("53", "Equipe mobile extra et intra-hospitalière"),
    ("54", "Accueil individuel ou collectif"),
    ("55", "Plateau technique"),
    ("56", "Accueil non programmé"),
    ("57", "Centre spécialisé"),
    ("58", "Suivi ou coordination de parcours"),
    ("59", "Equipe d'intervention mobile"),
    ("60", "Dispositif expérimental"),
];

/// TRE_R240-TemporaliteAccueil (`characteristic[receptionType]`, price `welcomeType`).
///
/// Sources: JDV_J30-TemporaliteAccueil-ROR (IG "Terminologies de Santé" v1.10.0) and
/// `ig/Bac-à-sable-dan/CodeSystem-TRE-R240-TemporaliteAccueil.html` (ansforge/ig-terminlogie-de-sante).
static R240: &[(&str, &str)] = &[("01", "Temporaire"), ("02", "Permanent")];

/// TRE_R239-PublicPrisEnCharge (patientèle `supportedPatientInfo`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R239_PublicPrisEnCharge.fsh`
/// (commit 2f687f9a, version 20260629120000), complete at that version. Not closed: `10` was added in 2026.
static R239: &[(&str, &str)] = &[
    ("01", "Personnes âgées en perte d'autonomie et aidants"),
    ("02", "Personnes en situation de handicap et aidants"),
    ("03", "Personnes âgées autonomes"),
    ("04", "Personnes présentant une conduite addictive"),
    ("05", "Personnes handicapées vieillissantes"),
    ("06", "Personnes en situation de précarité"),
    ("07", "Tout public"),
    ("08", "Etudiants"),
    ("09", "Personnes atteintes de pathologies chroniques ou présentant une ALD"),
    ("10", "Victime de violence"),
];

/// TRE_R245-SpecialisationDePriseEnCharge (`characteristic[takingCareSpeciality]`).
///
/// Source: IG "Terminologies de Santé" v1.12.0, page `CodeSystem-TRE-R245-SpecialisationDePriseEnCharge`
/// (version 20260730120000, count 68), complete at that version (`15` and `20` are deprecated).
/// Not closed: the list keeps growing.
static R245: &[(&str, &str)] = &[
    ("01", "Troubles des conduites alimentaires (TCA)"),
    ("02", "Troubles du spectre de l'autisme"),
    ("03", "Troubles du déficit de l'attention avec ou sans hyperactivité (TDAH)"),
    ("04", "Troubles psychiques des victimes de violences sexuelles"),
    ("05", "Troubles psychiques des auteurs de violences sexuelles"),
    ("06", "Schizophrénie émergente"),
    ("07", "Troubles psychotiques (schizophrénie, délires)"),
    ("08", "Troubles de l'humeur (bipolaire, dépression...)"),
    ("09", "Troubles Obsessionnels Compulsifs (TOC)"),
    ("10", "Conduites addictives"),
    (
        "11",
        "Troubles spécifiques de la communication (dysphasie, bégaiement, etc.) et / ou des apprentissages (dyslexie, dysorthographie, dyscalculie) hors TSA",
    ),
    ("12", "Troubles psychiques dûs à une affection organique ou à une lésion cérébrale (épilepsie...)"),
    ("13", "Démence dégénérative"),
    ("14", "Troubles du développement intellectuel (TDI)"),
    ("15", "Personnes présentant des troubles du spectre de l'autisme"),
    ("16", "Handicap psychique"),
    ("17", "Polyhandicap"),
    ("18", "Déficience auditive grave"),
    ("19", "Déficience visuelle grave"),
    ("20", "Personnes présentant trouble spécif langage, apprentissages et moteurs"),
    ("21", "Handicap rare"),
    ("22", "Déficience à prédominance motrice"),
    ("23", "Handicap cognitif spécifique"),
    (
        "24",
        "Handicap à prédominance cognitive avec trouble du comportement (dont traumatisé crânien, syndrome de Korsakoff,...)",
    ),
    ("25", "Surdi-cécité avec ou sans troubles associés"),
    ("26", "Difficulté psychologique avec troubles du comportement"),
    (
        "27",
        "Troubles neuro-cognitifs chroniques (Alzheimer et apparentées) avec troubles du comportement perturbateurs",
    ),
    ("28", "Maladies d'Alzheimer et apparentées"),
    ("29", "Maladies rares liées à une anomalie du développement embryonnaire"),
    ("30", "Maladies rares de l'infertilité"),
    ("31", "Maladies rares allergiques"),
    ("32", "Maladies rares cardiaques"),
    ("33", "Maladies rares chirurgicales abdominales"),
    ("34", "Maladies rares endocriniennes"),
    ("35", "Maladies rares gastro-entérologiques"),
    ("36", "Maladies rares génétiques"),
    ("37", "Maladies rares gynécologiques et obstétriques"),
    ("38", "Maladies rares hématologiques"),
    ("39", "Maladies rares hépatiques"),
    ("40", "Maladies rares immunologiques"),
    ("41", "Maladies rares infectieuses"),
    ("42", "Maladies rares métaboliques"),
    ("43", "Maladies rares néoplasiques"),
    ("44", "Maladies rares neurologiques"),
    ("45", "Maladies rares odontologiques"),
    ("46", "Maladies rares ophtalmiques"),
    ("47", "Maladies rares osseuses"),
    ("48", "Maladies rares oto-rhino-laryngologiques"),
    ("49", "Maladies rares de la peau"),
    ("50", "Maladies rares du système circulatoire"),
    ("51", "Maladies rares dues à des effets toxiques"),
    ("52", "Maladies rares liées à la transplantation"),
    ("53", "Maladies rares rénales"),
    ("54", "Maladies rares respiratoires"),
    ("55", "Maladies rares systémiques et rhumatologiques"),
    ("56", "Maladies rares systémiques ou rhumatologiques de l'enfant"),
    ("57", "Maladies rares thoraciques chirurgicales"),
    ("58", "Maladies rares urogénitales"),
    ("59", "Maladies rares liées à une malformation cardiaque"),
    ("60", "Maladies rares chirurgicales maxillo-faciales"),
    ("61", "Maladies rares liées à un trouble tératologique rare"),
    ("62", "Suicidant"),
    ("63", "Troubles de la personnalité sévères"),
    ("64", "Endométriose"),
    ("65", "Troubles anxieux"),
    (
        "66",
        "Troubles du neurodéveloppement à prédominance motrice (dont Trouble Développemental de la Coordination TDC, dyspraxie, mouvements stéréotypés, tics)",
    ),
    ("67", "Trouble psychotraumatique (dont Troubles Stress Post-Traumatique)"),
    ("68", "Troubles cognitifs ou du comportement et de la relation affective dus à une lésion cérébrale acquise"),
];

/// TRE_R329-NatureCapacite (capacity `capacityType`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R329_NatureCapacite.fsh`
/// (version 20250328120000; `03` Logement added in 2025).
static R329: &[(&str, &str)] = &[("01", "Lit"), ("02", "Place"), ("03", "Logement")];

/// TRE_R330-TypeStatutCapacite (capacity `capacityStatus`; `02` Disponible).
///
/// Source: IG "Terminologies de Santé" v1.12.0, page `CodeSystem-TRE-R330-TypeStatutCapacite`
/// (version 20250328120000, count 9). `07` Opérationnel is deprecated since 2025-01-31 (computed
/// value); `08` and `09` are flagged for FINESS use.
static R330: &[(&str, &str)] = &[
    ("01", "Installé"),
    ("02", "Disponible"),
    ("03", "Occupé"),
    ("04", "Réservé"),
    ("05", "Fermé"),
    ("06", "Supplémentaire"),
    ("07", "Opérationnel"),
    ("08", "Installé constaté"),
    ("09", "Autorisé"),
];

/// TRE_R331-TemporaliteCapacite (capacity `temporalityCapacity`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R331-TemporaliteCapacite.html`
/// (ansforge/ig-terminlogie-de-sante, build of 2024-11-25).
static R331: &[(&str, &str)] = &[
    ("01", "Courant"),
    ("02", "Prévisionnel 1 heure"),
    ("03", "Prévisionnel 24 heures"),
    ("04", "Prévisionnel 48 heures"),
    ("05", "Prévisionnel 7 jours"),
];

/// TRE_R332-GenreCapacite (capacity `genderCapacityAvailable`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R332_GenreCapacite.fsh`
/// (version 20250828120000). `03` "Indifférencié" is legacy: deprecated on 2025-08-28, but the IG
/// capacity example and PATCH error messages still use it, so it is kept.
static R332: &[(&str, &str)] = &[("01", "Femme"), ("02", "Homme"), ("03", "Indifférencié"), ("04", "Indéterminé")];

/// TRE_R333-TypeFermetureCapacite (capacity `capacityClosingType`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R333-TypeFermetureCapacite.html`.
static R333: &[(&str, &str)] = &[("01", "Réactivable"), ("02", "Non réactivable"), ("03", "Indéterminé")];

/// TRE_R334-TypeLitSupplementaire (capacity `additionalBedType`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R334-TypeLitSupplementaire.html`.
static R334: &[(&str, &str)] = &[
    ("01", "Mobilisé"),
    ("02", "Mobilisable sans ressources humaines"),
    ("03", "Mobilisable avec ressources humaines"),
];

/// TRE_R335-TypeSourceCapacite (capacity `capacitySourceType`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R335-TypeSourceCapacite.html`.
static R335: &[(&str, &str)] = &[
    ("01", "Saisie manuelle"),
    ("02", "Bed management"),
    ("03", "Gestion administrative du malade (GAM)"),
    ("04", "Dossier patient informatisé (DPI)"),
];

/// TRE_R336-TypeCrise (capacity `crisisType`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R336-TypeCrise.html`.
static R336: &[(&str, &str)] = &[("01", "PMIE 1"), ("02", "Situation sanitaire Exceptionnelle (SSE) (Plan blanc)")];

/// TRE_R337-AffectationTemporaire (capacity `temporaryAssignement`).
///
/// Sources: `ig/Bac-à-sable-dan/CodeSystem-TRE-R337-AffectationTemporaire.html`, confirmed by IG
/// "Terminologies de Santé" v1.12.0 (version 20231215120000).
static R337: &[(&str, &str)] = &[("01", "Aucune"), ("02", "Covid+"), ("03", "Covid-")];

/// TRE_R237-GroupeTarifaireDependance (price `dependencyLevel`; a "GIR 2" person is band `01`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R237-GroupeTarifaireDependance.html`.
static R237: &[(&str, &str)] = &[("01", "GIR 1-2"), ("02", "GIR 3-4"), ("03", "GIR 5-6")];

/// TRE_R246-TypeTarif (price `priceType`).
///
/// Sources: `ig/Bac-à-sable-dan/CodeSystem-TRE-R246-TypeTarif.html` (version 20231215120000) and
/// JDV_J36-TypeTarif-ROR (IG v1.12.0), which agree.
static R246: &[(&str, &str)] = &[
    ("01", "Supplément tarif Hébergement SMR"),
    ("02", "Forfait socle hébergement"),
    ("03", "Dépendance"),
    ("04", "Prestation supplémentaire tarifée"),
    ("05", "Accueil de jour"),
    ("06", "Aide humaine à domicile"),
    ("07", "Portage de repas à domicile"),
];

/// TRE_R228-UnitePrix (price `priceUnit`; codes have a single digit).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R228-UnitePrix.html`.
static R228: &[(&str, &str)] =
    &[("1", "Tarif horaire"), ("2", "Tarif journalier"), ("3", "Tarif mensuel"), ("4", "Tarif unitaire")];

/// TRE_R242-TypeHabitation (price `residentialType`, residential capacity).
///
/// Source: IG "Terminologies de Santé" v1.12.0, page `CodeSystem-TRE-R242-TypeHabitation`
/// (version 20231215120000), same as the Bac-à-sable build.
static R242: &[(&str, &str)] = &[
    ("01", "Chambre double"),
    ("02", "Chambre simple"),
    ("03", "F1"),
    ("04", "F2"),
    ("05", "F1bis"),
    ("06", "F3"),
    ("07", "F4"),
];

/// TRE_R250-ConditionTarifaire (price `specialPrice`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R250-ConditionTarifaire.html`.
static R250: &[(&str, &str)] = &[("01", "Tarif public"), ("02", "Tarif agréé Aide Sociale"), ("03", "Tarif agréé ASH")];

/// TRE_R241-AideFinanciere (EG `ror-organization-financial-help-type`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R241_AideFinanciere.fsh`
/// (version 20231215120000); `03` APA is deprecated since 2018.
static R241: &[(&str, &str)] = &[
    ("01", "Conventionné aides au logement"),
    ("02", "Habilité Aide Sociale"),
    ("03", "Allocation Personnalisée d'Autonomie (APA)"),
];

/// TRE_R284-NiveauRecoursORSAN (EG `ror-organization-level-recours-orsan`).
///
/// Source: `ig/Bac-à-sable-dan/CodeSystem-TRE-R284-NiveauRecoursORSAN.html`; `2` and `3` are
/// deprecated since 2019-12-13, `1` and `4` are the values in use.
static R284: &[(&str, &str)] = &[("1", "Première ligne"), ("2", "Recours"), ("3", "Repli"), ("4", "Deuxième ligne")];

/// TRE_R343-FonctionLieu (`Location.type`).
///
/// Source: ansforge/ig-terminlogie-de-sante `DM/input/fsh/Done/Ontoserver/TRE_R343_FonctionLieu.fsh`
/// (version 20250620120000). Until 2025 the list held only `001` "Hébergement" (Bac-à-sable
/// build of 2024); the 2025 version relabels it "Hébergement MCO" and adds `002`-`013`. The
/// research note `ror-model.md` gives `002` "Consultation", which no ANS source read here
/// confirms (the 2025 FSH has "Hébergement PSY"). Not closed: recently reshaped.
static R343: &[(&str, &str)] = &[
    ("001", "Hébergement MCO"),
    ("002", "Hébergement PSY"),
    ("003", "Hébergement MS"),
    ("004", "Hébergement SMR"),
    ("005", "Adresse"),
    ("006", "Bloc opératoire"),
    ("007", "Caisson hyperbare"),
    ("008", "Chambre mortuaire"),
    ("009", "Plateau d’endoscopie"),
    ("010", "Plateau d’imagerie conventionnelle"),
    ("011", "Plateau d’imagerie interventionnelle"),
    ("012", "Plateau de réadaptation"),
    ("013", "Salle de travail (salle de naissance)"),
];

/// TRE_R72-FinessStatutJuridique (EJ `type[statutJuridiqueINSEE]`).
///
/// Source: IG "Terminologies de Santé" v1.12.0, page `CodeSystem-TRE-R72-FinessStatutJuridique`
/// (version 20240329120000), complete at that version (codes `000` and `100`-`110` come from
/// the RPPS, not from FINESS). Not closed: FINESS-managed.
static R72: &[(&str, &str)] = &[
    ("000", "En cours de vérification"),
    ("01", "Etat"),
    ("02", "Département"),
    ("03", "Commune"),
    ("04", "Région"),
    ("05", "Territoire d'Outre Mer"),
    ("06", "Autre Collectivité Territoriale"),
    ("07", "Métropole ou pôle métropolitain"),
    ("08", "Centre Intercommunal d'Action Sociale"),
    ("10", "Etablissement Public National d'Hospitalisation"),
    ("100", "Société d'exercice libéral à responsabilité limitée unipersonnelle (SELURL)"),
    ("101", "Société d'exercice libéral par actions simplifiée (SELAS)"),
    ("102", "Société d'exercice libéral par actions simplifiée unipersonnelle (SELASU)"),
    ("103", "Société en commandite simple (SCS)"),
    ("104", "Société en commandite par actions (SCA)"),
    ("105", "Société par actions simplifiée (SAS)"),
    ("106", "Société anonyme à directoire (SADI)"),
    ("107", "Société Anonyme à conseil d'administration (SACA)"),
    ("11", "Etablissement Public Départemental d'Hospitalisation"),
    ("110", "Société en participation (SEP)"),
    ("12", "Etablissement Public Interdépartemental d'Hospitalisation"),
    ("13", "Etablissement Public Communal d'Hospitalisation"),
    ("14", "Etablissement Public Intercommunal d'Hospitalisation"),
    ("15", "Etablissement Public Régional d'Hospitalisation"),
    ("16", "Syndicat Inter Hospitalier"),
    ("17", "Centre Communal d'Action Sociale"),
    ("18", "Etablissement Social et Médico-Social National"),
    ("19", "Etablissement Social et Médico-Social Départemental"),
    ("20", "Etablissement Social et Médico-Social Interdépartemental"),
    ("21", "Etablissement Social et Médico-Social Communal"),
    ("22", "Etablissement Social et Médico-Social Intercommunal"),
    ("23", "Etablissement Social et Médico-Social Régional"),
    ("24", "Office Public d'H.L.M."),
    ("25", "Caisse des Ecoles"),
    ("26", "Autre Etablissement Public à Caractère Administratif"),
    ("27", "Etablissement Public à Caractère Industriel ou Commercial"),
    ("28", "Groupement d'Intérêt Public (G.I.P.)"),
    ("29", "Groupement de Coopération Sanitaire public"),
    ("30", "Groupement de Coopération Sociale ou Médico-Sociale public"),
    ("40", "Régime Général de Sécurité Sociale"),
    ("41", "Régime Spécial de Sécurité Sociale"),
    ("42", "Institution de Prévoyance"),
    ("43", "Mutualité Sociale Agricole (M.S.A.)"),
    ("44", "Régime Maladie des non Salariés non Agricole"),
    ("45", "Régime Vieillesse Particulier"),
    ("46", "Autre Régime de Prévoyance Sociale"),
    ("47", "Société Mutualiste"),
    ("48", "Assurance Mutuelle Agricole"),
    ("49", "Autre Organisme Mutualiste"),
    ("50", "Comité d'Entreprise ou Comité d'Etablissement"),
    ("51", "Syndicat"),
    ("52", "Syndicat de Propriétaires"),
    ("60", "Association Loi 1901 non Reconnue d'Utilité Publique"),
    ("61", "Association Loi 1901 Reconnue d'Utilité Publique"),
    ("62", "Association de Droit Local"),
    ("63", "Fondation"),
    ("64", "Congrégation"),
    ("65", "Autre Organisme Privé à But non Lucratif"),
    ("66", "Groupement de Coopération Sociale ou Médico-Sociale privé"),
    ("70", "Personne Physique"),
    ("71", "Société en Nom Collectif (S.N.C.)"),
    ("72", "Société A Responsabilité Limitée (S.A.R.L.)"),
    ("73", "Société Anonyme (S.A.)"),
    ("74", "Société Civile"),
    ("75", "Autre Société"),
    ("76", "Groupement d'Intérêt Economique (G.I.E.)"),
    ("77", "Autre Organisme Privé à Caractère Commercial"),
    ("78", "Entreprise Unipersonnelle Responsabilité Limitée (E.U.R.L.)"),
    ("79", "Société Civile de Moyens (S.C.M.)"),
    ("80", "Société Interprofessionnelle Soins Ambulatoires (S.I.S.A.)"),
    ("85", "Soc. Exercice Libéral Responsabilité Limitée (S.E.L.A.R.L.)"),
    ("86", "Société d'Exercice Libéral à Forme Anonyme (S.E.L.A.F.A.)"),
    ("87", "Société Exercice Libéral Commandite par Actions (S.E.L.C.A.)"),
    ("88", "Société Civile Professionnelle (S.C.P.)"),
    ("89", "Groupement de Coopération Sanitaire Privé"),
    ("90", "Organisme de Droit Etranger"),
    ("91", "Société Exercice Libéral par Actions Simplifiée (S.E.L.A.S.)"),
    ("93", "Société en commandite"),
    ("95", "Société par Actions Simplifiée (S.A.S.)"),
];

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
    fn derives_serde() {
        fn assert_serde<T: serde::Serialize + for<'de> serde::Deserialize<'de>>() {}
        assert_serde::<CodeSystem>();
    }
}
