//! Access profiles 0-5 of the ROR ("Politique d'accès aux données du ROR" v3.0; the IG's
//! mapping pages, see `../shared/docs/ror-model.md` §5.3 and `ror-api.md` §4): which records
//! and fields each profile sees. [`ACCESS_RULES`] is the whole matrix, one row per group of
//! fields; the engine reads it through [`Profile`]'s methods and the README's table is
//! generated from it ([`rules_markdown`]).
//!
//! Where the sources disagree the stricter reading is kept (each row says so):
//! - capacities for profile 0: the 0.7.0 mapping lists no capacity for profile 0, the
//!   access-policy summary lists installed capacity with affectation "Aucune": profile 0 sees
//!   **no capacity**;
//! - supplementary (crisis) capacities for profiles 2 and 3: the policy table says "no
//!   exceptional / supplementary capacities" for 2 (and 3 is "like 2" on medico-social offers):
//!   only profiles 1 and 4 see them;
//! - profile 3 on a sanitary or city offer sees "public data only", i.e. what profile 0 sees;
//!   "medico-social" is champ d'activité `04` (TRE_R227) only (`06` Social is not counted).

use serde::{Deserialize, Serialize};

use super::CapacityRecord;
use super::quality::CapacityKind;
use Seen::{MedicoSocialOnly as Ms, No, Yes};

/// Champ d'activité (TRE_R227) of medico-social offers.
pub const MEDICO_SOCIAL_ACTIVITY_FIELD: &str = "04";

/// An access profile of the ROR (0 public data ... 5 installed capacities only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(try_from = "u8", into = "u8")]
pub enum Profile {
    /// 0: open data only.
    Public,
    /// 1: everything.
    #[default]
    Full,
    /// 2: everything but "très restreint" data, supplementary capacities and sensitive units.
    Restricted,
    /// 3: medico-social offers like profile 2; sanitary and city offers: public data only.
    MedicoSocial,
    /// 4: everything but contact and personal data (sensitive units and crisis capacities
    /// included).
    NoContacts,
    /// 5: like 2, but of capacities only the installed ones.
    InstalledOnly,
}

impl Profile {
    /// Every profile, by number.
    pub const ALL: [Profile; 6] = [
        Profile::Public,
        Profile::Full,
        Profile::Restricted,
        Profile::MedicoSocial,
        Profile::NoContacts,
        Profile::InstalledOnly,
    ];

    /// The profile's number (0-5).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The profile of a number.
    pub fn from_number(number: u8) -> Option<Profile> {
        Profile::ALL.get(number as usize).copied()
    }

    /// Whether the profile sees a field group on an offer (`medico_social`: the offer's champ
    /// d'activité is `04`; `sensitive`: it is an unité sensible).
    pub fn sees(self, field: Field, medico_social: bool, sensitive: bool) -> bool {
        if sensitive && !ACCESS_RULES[Field::SensitiveUnit as usize].seen_by(self, medico_social) {
            return false;
        }
        ACCESS_RULES[field as usize].seen_by(self, medico_social)
    }

    /// The field group of a capacity kind.
    pub fn capacity_field(kind: CapacityKind) -> Field {
        match kind {
            CapacityKind::Installed => Field::InstalledCapacity,
            CapacityKind::Operational => Field::OperationalCapacity,
            CapacityKind::Supplementary => Field::SupplementaryCapacity,
        }
    }

    /// Whether the profile sees a capacity record of an offer.
    pub fn sees_record(self, record: &CapacityRecord, medico_social: bool, sensitive: bool) -> bool {
        self.sees(Profile::capacity_field(CapacityKind::of_record(record)), medico_social, sensitive)
    }
}

/// The profiles a caller holds (the integration committee grants one or more): it sees what
/// any of them sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileSet(u8);

impl Default for ProfileSet {
    /// Profile 1 (everything): the engine's default, for local tools.
    fn default() -> ProfileSet {
        ProfileSet::of(Profile::Full)
    }
}

impl ProfileSet {
    /// No profile (sees nothing).
    pub const NONE: ProfileSet = ProfileSet(0);

    /// One profile.
    pub const fn of(profile: Profile) -> ProfileSet {
        ProfileSet(1 << profile as u8)
    }

    /// The set of several profiles.
    pub fn from_profiles(profiles: impl IntoIterator<Item = Profile>) -> ProfileSet {
        profiles.into_iter().fold(ProfileSet::NONE, |set, profile| set.with(profile))
    }

    /// This set and `profile`.
    pub const fn with(self, profile: Profile) -> ProfileSet {
        ProfileSet(self.0 | 1 << profile as u8)
    }

    /// Whether `profile` is in the set.
    pub const fn contains(self, profile: Profile) -> bool {
        self.0 >> profile as u8 & 1 == 1
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The profiles, by number.
    pub fn iter(self) -> impl Iterator<Item = Profile> {
        Profile::ALL.into_iter().filter(move |&profile| self.contains(profile))
    }

    /// Whether some profile of the set sees a field group on an offer.
    pub fn sees(self, field: Field, medico_social: bool, sensitive: bool) -> bool {
        self.iter().any(|profile| profile.sees(field, medico_social, sensitive))
    }

    /// Whether some profile of the set sees sensitive units (their offers, locations and
    /// capacities).
    pub fn sees_sensitive_units(self) -> bool {
        self.sees(Field::SensitiveUnit, true, false)
    }

    /// Whether the set sees a field group on some offer.
    pub fn sees_anywhere(self, field: Field) -> bool {
        self.sees(field, true, false)
    }

    /// Whether the set sees a field group on every offer it sees.
    pub fn sees_everywhere(self, field: Field) -> bool {
        self.sees(field, false, false)
    }
}

impl From<Profile> for ProfileSet {
    fn from(profile: Profile) -> ProfileSet {
        ProfileSet::of(profile)
    }
}

impl std::fmt::Display for ProfileSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let numbers: Vec<String> = self.iter().map(|profile| profile.number().to_string()).collect();
        f.write_str(&numbers.join(","))
    }
}

impl TryFrom<u8> for Profile {
    type Error = String;
    fn try_from(number: u8) -> Result<Profile, String> {
        Profile::from_number(number).ok_or_else(|| format!("{number} is not a ROR access profile (0 to 5)"))
    }
}

impl From<Profile> for u8 {
    fn from(profile: Profile) -> u8 {
        profile.number()
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// What a profile sees of a field group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Everywhere.
    Yes,
    /// Nowhere.
    No,
    /// Only on medico-social offers (champ d'activité `04`).
    MedicoSocialOnly,
}

/// A group of fields ruled together, the rows of [`ACCESS_RULES`] (in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// An unité sensible: the offer, its locations and capacities, in every answer and count.
    SensitiveUnit,
    /// Descriptive data of offers, EGs, EJs and locations: names, types, activities, ages,
    /// addresses, positions, tariffs, aide sociale, closing dates.
    Description,
    /// Installed capacity (statut `01`).
    InstalledCapacity,
    /// Operational capacities and availability (every statut but `01` and `06`: disponible,
    /// occupé, réservé, fermé...).
    OperationalCapacity,
    /// Supplementary (crisis) capacities: statut `06`, or a type de lit supplémentaire or type
    /// de crise; the crisis route and its filters.
    SupplementaryCapacity,
    /// Niveau de recours ORSAN of the EG.
    OrsanLevel,
    /// Zone de poser (helipad) of the EG.
    DropZone,
    /// Contacts and telecoms, by confidentiality level (TRE_R283).
    Contacts,
    /// Practitioners (PractitionerRole / Practitioner).
    Practitioners,
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct AccessRule {
    /// The field group.
    pub field: Field,
    /// Its name, in the README.
    pub name: &'static str,
    /// What profiles 0 to 5 see of it.
    pub seen: [Seen; 6],
    /// Where the rule comes from, and how a disagreement of the sources was settled.
    pub note: &'static str,
}

impl AccessRule {
    /// Whether `profile` sees the group on an offer (medico-social or not).
    pub fn seen_by(&self, profile: Profile, medico_social: bool) -> bool {
        match self.seen[profile as usize] {
            Seen::Yes => true,
            Seen::No => false,
            Seen::MedicoSocialOnly => medico_social,
        }
    }
}

/// The whole matrix: what each profile (columns 0 to 5) sees of each field group.
pub static ACCESS_RULES: [AccessRule; 9] = [
    AccessRule {
        field: Field::SensitiveUnit,
        name: "Unités sensibles (offre, lieux, capacités; dans les totaux et facettes aussi)",
        seen: [No, Yes, No, No, Yes, No],
        note: "uniteSensible = true: profiles 1 and 4 only (ror-model §5.3); absent from results, totals, facets, crisis totals, lookups",
    },
    AccessRule {
        field: Field::Description,
        name: "Offres, EG, EJ, lieux: noms, types, activités, âges, adresses, positions, tarifs",
        seen: [Yes, Yes, Yes, Yes, Yes, Yes],
        note: "every profile, unless the unit is sensitive (FSH mappings 0.5/0.6)",
    },
    AccessRule {
        field: Field::InstalledCapacity,
        name: "Capacité installée (statut 01)",
        seen: [No, Yes, Yes, Ms, Yes, Yes],
        note: "profile 0: none (the 0.7.0 mapping lists no capacity for profile 0; the stricter of the two sources)",
    },
    AccessRule {
        field: Field::OperationalCapacity,
        name: "Capacités opérationnelles et disponibilité (statuts 02-05, 07-09: places libres...)",
        seen: [No, Yes, Yes, Ms, Yes, No],
        note: "profile 5: installed beds only; profile 3: medico-social offers only",
    },
    AccessRule {
        field: Field::SupplementaryCapacity,
        name: "Capacités supplémentaires / de crise (statut 06, lit supplémentaire, type de crise; /v1/crisis)",
        seen: [No, Yes, No, No, Yes, No],
        note: "profiles 1 and 4; 2 and 3 \"without the supplementary capacities\" (0.7.0 mapping, policy table)",
    },
    AccessRule {
        field: Field::OrsanLevel,
        name: "Niveau de recours ORSAN (EG)",
        seen: [No, Yes, No, No, No, No],
        note: "profile 1 only",
    },
    AccessRule {
        field: Field::DropZone,
        name: "Zone de poser hélicoptère (EG)",
        seen: [No, Yes, No, No, No, No],
        note: "profile 1 only; not ingested yet (no answer carries it)",
    },
    AccessRule {
        field: Field::Contacts,
        name: "Contacts et télécoms",
        seen: [No, Yes, Yes, Ms, No, Yes],
        note: "by TRE_R283 level; profile 4 sees no contact data; not ingested yet (no answer carries them)",
    },
    AccessRule {
        field: Field::Practitioners,
        name: "Professionnels (PractitionerRole, Practitioner)",
        seen: [No, Yes, No, No, No, No],
        note: "profile 1 only (0.7.0 mapping); not ingested yet (no answer carries them)",
    },
];

/// The matrix as a Markdown table (the README's, kept equal by a test).
pub fn rules_markdown() -> String {
    let mut out = String::from("| Données | 0 | 1 | 2 | 3 | 4 | 5 | Règle |\n|---|---|---|---|---|---|---|---|\n");
    for rule in &ACCESS_RULES {
        out.push_str(&format!("| {} |", rule.name));
        for seen in rule.seen {
            out.push_str(match seen {
                Seen::Yes => " oui |",
                Seen::No => " non |",
                Seen::MedicoSocialOnly => " MS |",
            });
        }
        out.push_str(&format!(" {} |\n", rule.note));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_are_in_field_order() {
        for (index, rule) in ACCESS_RULES.iter().enumerate() {
            assert_eq!(rule.field as usize, index, "{:?}", rule.field);
        }
    }

    #[test]
    fn the_matrix_says_what_the_policy_says() {
        use Profile::*;
        let sensitive: Vec<Profile> =
            Profile::ALL.into_iter().filter(|&p| ProfileSet::of(p).sees_sensitive_units()).collect();
        assert_eq!(sensitive, [Full, NoContacts]);
        for profile in Profile::ALL {
            let set = ProfileSet::of(profile);
            assert_eq!(set.sees_anywhere(Field::OrsanLevel), profile == Full);
            assert_eq!(set.sees_anywhere(Field::SupplementaryCapacity), matches!(profile, Full | NoContacts));
            // nothing of a sensitive unit leaks to a profile without them, whatever the field
            for field in ACCESS_RULES.iter().map(|rule| rule.field) {
                if !set.sees_sensitive_units() {
                    assert!(!profile.sees(field, true, true));
                }
            }
        }
        assert!(!ProfileSet::of(Public).sees_anywhere(Field::InstalledCapacity));
        assert!(ProfileSet::of(InstalledOnly).sees_everywhere(Field::InstalledCapacity));
        assert!(!ProfileSet::of(InstalledOnly).sees_anywhere(Field::OperationalCapacity));
        assert!(MedicoSocial.sees(Field::OperationalCapacity, true, false));
        assert!(!MedicoSocial.sees(Field::OperationalCapacity, false, false));
        assert_eq!(Profile::default(), Full);
        assert_eq!(Profile::try_from(6u8).unwrap_err(), "6 is not a ROR access profile (0 to 5)");
        // a set sees what any of its profiles sees
        let set = ProfileSet::from_profiles([Restricted, NoContacts]);
        assert!(set.sees_sensitive_units() && set.sees_anywhere(Field::SupplementaryCapacity));
        assert!(!set.sees_anywhere(Field::OrsanLevel));
        assert!(set.sees(Field::OperationalCapacity, false, true), "profile 4 sees a sensitive unit's places");
        assert_eq!(set.to_string(), "2,4");
        assert!(ProfileSet::NONE.iter().next().is_none());
    }
}
