//! The offers of the sample feed: which offers an establishment category typically runs
//! ([`OfferTemplate`], [`templates_for`]) and the generated operational fields of each offer
//! ([`OfferGenerator`]: capacity records, dates, closure). Shared with `ingest::synth`.

use super::{EHPAD, HOSPITAL_CATEGORIES, RESIDENCE_AUTONOMIE};
use crate::model::CapacityRecord;
use crate::model::rules::{RECEPTION_PERMANENT, RECEPTION_TEMPORARY};
use crate::util::rng::SplitMix64;
use crate::util::time::{DAY_SECONDS, UnixSeconds};

/// One offer template: what an establishment of a category typically runs.
#[derive(Clone, Copy)]
pub(crate) struct OfferTemplate {
    pub(crate) name: &'static str,
    pub(crate) offer_type: &'static str,
    pub(crate) activity_field: &'static str,
    pub(crate) activity: &'static str,
    pub(crate) care_mode: &'static str,
    pub(crate) reception: Option<&'static str>,
    pub(crate) public: Option<&'static str>,
    pub(crate) specialisation: Option<&'static str>,
    /// Age range in years (min, max).
    pub(crate) ages: (f64, f64),
    /// Capacity nature (TRE_R329: `01` lit, `02` place), `None` for offers without places.
    pub(crate) capacity_type: Option<&'static str>,
    /// Installed places, inclusive range.
    pub(crate) installed: (i64, i64),
    /// Whether the offer reports crisis (supplementary) beds T0 / T60.
    pub(crate) crisis: bool,
    /// Probability that an establishment of the category runs it.
    pub(crate) probability: f64,
}

const fn template(
    name: &'static str,
    offer_type: &'static str,
    activity_field: &'static str,
    activity: &'static str,
    care_mode: &'static str,
    probability: f64,
) -> OfferTemplate {
    OfferTemplate {
        name,
        offer_type,
        activity_field,
        activity,
        care_mode,
        reception: None,
        public: None,
        specialisation: None,
        ages: (18.0, 150.0),
        capacity_type: Some("01"),
        installed: (10, 30),
        crisis: false,
        probability,
    }
}

/// The offers of an EHPAD.
pub(crate) fn ehpad_templates() -> Vec<OfferTemplate> {
    let base = |name, offer_type, care_mode, reception, probability, installed| OfferTemplate {
        reception,
        public: Some("01"),
        ages: (60.0, 150.0),
        capacity_type: Some("02"),
        installed,
        ..template(name, offer_type, "04", "298", care_mode, probability)
    };
    vec![
        base("Hébergement permanent", "21", "46", Some(RECEPTION_PERMANENT), 1.0, (25, 160)),
        base("Hébergement temporaire", "21", "46", Some(RECEPTION_TEMPORARY), 0.55, (2, 10)),
        OfferTemplate {
            specialisation: Some("28"),
            ..base("Unité de vie protégée (UVP)", "24", "46", Some(RECEPTION_PERMANENT), 0.40, (10, 28))
        },
        OfferTemplate {
            specialisation: Some("27"),
            ..base("Unité d'hébergement renforcé (UHR)", "23", "46", Some(RECEPTION_PERMANENT), 0.08, (12, 14))
        },
        OfferTemplate {
            activity: "306",
            specialisation: Some("28"),
            capacity_type: None,
            ..base("Pôle d'activités et de soins adaptés (PASA)", "25", "47", None, 0.30, (0, 0))
        },
        OfferTemplate {
            activity: "325",
            ..base("Accueil de jour", "21", "47", Some(RECEPTION_PERMANENT), 0.30, (6, 15))
        },
    ]
}

/// The offers of a résidence autonomie.
pub(crate) fn residence_autonomie_templates() -> Vec<OfferTemplate> {
    vec![OfferTemplate {
        reception: Some(RECEPTION_PERMANENT),
        public: Some("03"),
        ages: (60.0, 150.0),
        capacity_type: Some("03"),
        installed: (20, 90),
        ..template("Résidence autonomie - logement permanent", "22", "04", "298", "46", 1.0)
    }]
}

/// The offers of a hospital category.
pub(crate) fn hospital_templates(category: &str) -> Vec<OfferTemplate> {
    let mco = |name, offer_type, activity, probability, installed| OfferTemplate {
        installed,
        crisis: true,
        ..template(name, offer_type, "01", activity, "28", probability)
    };
    let smr = |name, offer_type, activity, probability| OfferTemplate {
        installed: (15, 60),
        ..template(name, offer_type, "02", activity, "28", probability)
    };
    let emergency = OfferTemplate {
        capacity_type: None,
        ages: (0.0, 150.0),
        ..template("Structure des urgences", "20", "01", "157", "33", 0.85)
    };
    let intensive = |probability| OfferTemplate {
        installed: (6, 24),
        ..mco("Réanimation polyvalente", "121", "127", probability, (6, 24))
    };
    let psychiatry = OfferTemplate {
        installed: (15, 40),
        ..template("Psychiatrie adulte - hospitalisation complète", "174", "03", "229", "28", 1.0)
    };
    let psychiatry_day = OfferTemplate {
        capacity_type: Some("02"),
        installed: (8, 20),
        ..template("Psychiatrie adulte - hôpital de jour", "11", "03", "229", "29", 0.7)
    };
    let child_psychiatry = OfferTemplate {
        ages: (0.0, 17.0),
        capacity_type: Some("02"),
        installed: (6, 15),
        ..template("Pédopsychiatrie - hôpital de jour", "11", "03", "227", "29", 0.4)
    };
    let paediatrics = OfferTemplate { ages: (0.0, 17.0), ..mco("Pédiatrie", "162", "088", 0.5, (10, 30)) };
    match category {
        "101" => vec![
            OfferTemplate { probability: 1.0, ..emergency },
            intensive(1.0),
            mco("Médecine polyvalente", "238", "083", 1.0, (20, 60)),
            mco("Chirurgie générale", "153", "021", 1.0, (20, 50)),
            mco("Cardiologie", "149", "013", 0.9, (15, 40)),
            mco("Neurologie", "161", "097", 0.8, (15, 35)),
            mco("Maternité", "290", "100", 0.8, (15, 40)),
            paediatrics,
            mco("Médecine gériatrique aiguë", "156", "491", 0.7, (15, 35)),
        ],
        "355" | "106" => vec![
            OfferTemplate { probability: if category == "355" { 0.85 } else { 0.1 }, ..emergency },
            intensive(if category == "355" { 0.35 } else { 0.0 }),
            mco("Médecine polyvalente", "238", "083", 1.0, (15, 50)),
            mco("Chirurgie générale", "153", "021", if category == "355" { 0.6 } else { 0.05 }, (15, 40)),
            mco("Cardiologie", "149", "013", if category == "355" { 0.4 } else { 0.0 }, (10, 30)),
            mco("Maternité", "290", "100", if category == "355" { 0.4 } else { 0.0 }, (10, 30)),
            mco("Médecine gériatrique aiguë", "156", "491", 0.5, (10, 30)),
            smr("SMR gériatrie", "101", "241", 0.6),
            OfferTemplate {
                ages: (60.0, 150.0),
                ..template("Soins de longue durée (USLD)", "249", "01", "333", "28", 0.4)
            },
        ],
        "109" => vec![
            smr("SMR polyvalent", "100", "172", 0.8),
            smr("SMR locomoteur", "102", "233", 0.5),
            smr("SMR gériatrie", "101", "241", 0.5),
            smr("SMR système nerveux", "103", "234", 0.3),
        ],
        "128" => vec![
            mco("Chirurgie orthopédique et traumatologique", "150", "025", 0.8, (15, 40)),
            mco("Chirurgie viscérale et digestive", "153", "021", 0.7, (10, 30)),
            OfferTemplate {
                capacity_type: Some("02"),
                installed: (8, 25),
                crisis: false,
                ..template("Chirurgie ambulatoire", "11", "01", "021", "09", 0.9)
            },
        ],
        "129" => vec![mco("Médecine polyvalente", "238", "083", 1.0, (15, 40))],
        "131" => vec![
            mco("Oncologie médicale", "171", "186", 1.0, (20, 60)),
            mco("Chirurgie oncologique", "116", "281", 1.0, (15, 40)),
        ],
        "362" => vec![OfferTemplate {
            ages: (60.0, 150.0),
            ..template("Soins de longue durée (USLD)", "249", "01", "333", "28", 1.0)
        }],
        "365" => {
            vec![mco("Médecine polyvalente", "238", "083", 0.8, (10, 30)), smr("SMR polyvalent", "100", "172", 0.7)]
        }
        "292" => vec![psychiatry, psychiatry_day, child_psychiatry],
        _ => Vec::new(),
    }
}

/// The offers of a handicap ESMS category.
pub(crate) fn handicap_templates(category: &str) -> Vec<OfferTemplate> {
    let esms = |name, offer_type, activity, care_mode, probability, ages, installed| OfferTemplate {
        public: Some("02"),
        reception: Some(RECEPTION_PERMANENT),
        ages,
        capacity_type: Some("02"),
        installed,
        ..template(name, offer_type, "04", activity, care_mode, probability)
    };
    match category {
        "183" => vec![
            esms("IME - semi-internat", "48", "300", "47", 1.0, (3.0, 20.0), (20, 70)),
            esms("IME - internat", "48", "298", "46", 0.5, (6.0, 20.0), (8, 30)),
        ],
        "186" => vec![esms("ITEP - accueil de jour", "50", "300", "47", 1.0, (6.0, 20.0), (15, 50))],
        "188" => vec![OfferTemplate {
            specialisation: Some("17"),
            ..esms("EEAP - polyhandicap", "51", "288", "46", 1.0, (0.0, 20.0), (10, 40))
        }],
        "255" => vec![OfferTemplate {
            specialisation: Some("17"),
            ..esms("Maison d'accueil spécialisée", "40", "288", "46", 1.0, (18.0, 150.0), (20, 60))
        }],
        "437" | "448" => vec![esms("Foyer d'accueil médicalisé", "39", "293", "46", 1.0, (18.0, 150.0), (15, 50))],
        _ => Vec::new(),
    }
}

/// The templates of a FINESS category.
pub(crate) fn templates_for(category: &str) -> Vec<OfferTemplate> {
    match category {
        EHPAD => ehpad_templates(),
        RESIDENCE_AUTONOMIE => residence_autonomie_templates(),
        _ if HOSPITAL_CATEGORIES.contains(&category) => hospital_templates(category),
        _ => handicap_templates(category),
    }
}

/// Generates the operational fields of one offer: capacities, dates, closure.
pub(crate) struct OfferGenerator {
    pub(crate) feed_date: UnixSeconds,
}

impl OfferGenerator {
    /// The capacity records of an offer's location.
    pub(crate) fn capacities(
        &self,
        template: &OfferTemplate,
        rng: &mut SplitMix64,
        closed: bool,
    ) -> Vec<CapacityRecord> {
        let Some(capacity_type) = template.capacity_type else {
            return Vec::new();
        };
        let updated_at = |rng: &mut SplitMix64| {
            if rng.chance(0.9) {
                Some(self.feed_date - 60 * rng.range_inclusive(0, 3 * DAY_SECONDS / 60))
            } else {
                Some(self.feed_date - 60 * rng.range_inclusive(3 * DAY_SECONDS / 60, 60 * DAY_SECONDS / 60))
            }
        };
        let record = |status: &str, temporality: &str, count: i64, updated: Option<UnixSeconds>| CapacityRecord {
            capacity_type: capacity_type.into(),
            status: status.into(),
            temporality: temporality.into(),
            count: count.max(0) as u32,
            updated_at: updated,
            temporary_assignment: Some("01".into()),
            source_type: Some(if template.crisis { "02" } else { "01" }.into()),
            ..CapacityRecord::default()
        };
        let installed = rng.range_inclusive(template.installed.0, template.installed.1);
        let mut records = vec![record("01", "01", installed, updated_at(rng))];
        // Available now, split by gender as the ROR reports it (Femme / Homme / Indéterminé).
        let mut available = if rng.chance(0.5) { 0 } else { rng.range_inclusive(1, (installed / 8).clamp(1, 6)) };
        if closed && rng.chance(0.8) {
            available = 0;
        }
        if rng.chance(0.004) {
            // A few inconsistent reports, as real feeds have (caught by the quality summary).
            available = installed + rng.range_inclusive(1, 3);
        }
        let updated = updated_at(rng);
        if capacity_type == "01" {
            // Beds are reported by gender (Femme / Homme / Indéterminé), as in the IG example.
            let women = rng.range_inclusive(0, available);
            let men = rng.range_inclusive(0, available - women);
            for (gender, count) in [("01", women), ("02", men), ("04", available - women - men)] {
                let mut available_record = record("02", "01", count, updated);
                available_record.gender = Some(gender.into());
                records.push(available_record);
            }
        } else {
            records.push(record("02", "01", available, updated));
        }
        if template.crisis {
            let crisis_updated = updated_at(rng);
            let t0 = rng.range_inclusive(0, (installed / 10).max(1));
            let t60 = t0 + rng.range_inclusive(0, (installed / 5).max(1));
            for (temporality, count) in [("01", t0), ("02", t60)] {
                let mut crisis = record("06", temporality, count, crisis_updated);
                crisis.additional_bed_type = Some("03".into());
                crisis.crisis_type = Some("02".into());
                records.push(crisis);
            }
        }
        records
    }

    /// `meta.lastUpdated` of an offer: within the 14 months before the feed date, so that some
    /// are more than a year old as in real feeds. Generated times are whole minutes.
    pub(crate) fn last_updated(&self, rng: &mut SplitMix64) -> UnixSeconds {
        self.feed_date - 60 * rng.range_inclusive(0, 425 * DAY_SECONDS / 60)
    }

    /// A closure: about 1% of offers closed in the last months, a third of them with a planned
    /// reopening.
    pub(crate) fn closure(&self, rng: &mut SplitMix64) -> (Option<UnixSeconds>, Option<UnixSeconds>) {
        if !rng.chance(0.01) {
            return (None, None);
        }
        let from = self.feed_date - DAY_SECONDS * rng.range_inclusive(1, 200);
        let reopen = rng.chance(0.33).then(|| self.feed_date + DAY_SECONDS * rng.range_inclusive(10, 120));
        (Some(from), reopen)
    }
}
