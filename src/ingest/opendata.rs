//! `import-opendata`: builds the sample ROR feed from real public files.
//!
//! Real facts (FINESS 2021 establishments with WGS84 positions, CNSA EHPAD prices, INSEE
//! communes) become EJ/EG `Organization`s with tariffs; the offers each establishment category
//! typically runs become `HealthcareService`s, and their places `Location`s with capacity
//! records. Fields no public source gives (which offers exactly, installed and available
//! places, crisis capacities, update dates) are generated from a seed, per FINESS number, so
//! the same inputs and seed always give the same feed, byte for byte. `data-samples/README.md`
//! says which field comes from where.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rstar::RTree;
use rstar::primitives::GeomWithData;

use super::IngestError;
use super::communes::{read_communes, write_communes};
use crate::model::place::Commune;
use crate::model::rules::{
    PRICE_TYPE_DEPENDANCE, PRICE_TYPE_HEBERGEMENT, PRICE_UNIT_DAILY, RECEPTION_PERMANENT, RECEPTION_TEMPORARY,
    RESIDENTIAL_SINGLE_ROOM,
};
use crate::model::{Address, AgeRange, CapacityRecord, Code, Dataset, Eg, Ej, GeoPoint, Location, Offer, Tariff};
use crate::util::fold::normalize_place_name;
use crate::util::rng::SplitMix64;
use crate::util::time::{DAY_SECONDS, UnixSeconds, parse_fhir_datetime};

/// Default seed of the generated fields.
pub const DEFAULT_SEED: u64 = 2026;
/// The date the sample feed stands for: generated update dates are at or before it.
pub const FEED_DATE: &str = "2026-11-01T00:00:00Z";

/// FINESS categories taken besides the EHPAD (500): hospitals, handicap ESMS, résidences autonomie.
pub const HOSPITAL_CATEGORIES: [&str; 10] = ["101", "106", "109", "128", "129", "131", "292", "355", "362", "365"];
/// Handicap ESMS categories taken (IME, MAS, FAM, ITEP, EEAP, EAM).
pub const HANDICAP_CATEGORIES: [&str; 6] = ["183", "186", "188", "255", "437", "448"];
/// Résidences autonomie (autonomous elderly people, type d'offre 22).
pub const RESIDENCE_AUTONOMIE: &str = "202";
/// EHPAD.
pub const EHPAD: &str = "500";

/// Inputs of the import, relative to the real-data folder.
pub struct OpenDataPaths {
    pub finess: PathBuf,
    pub ehpad_prices: PathBuf,
    pub communes: PathBuf,
}

impl OpenDataPaths {
    /// The staged layout of `shared/data/real/`.
    pub fn under(real: &Path) -> OpenDataPaths {
        OpenDataPaths {
            finess: real.join("finess-etablissements-2021/finess_etablissements_20210108.csv.gz"),
            ehpad_prices: real.join("ehpad-join/ehpad_finess2021_prix.csv"),
            communes: real.join("communes-france/communes_france.csv"),
        }
    }
}

/// What the import did, for the log and the data README.
#[derive(Debug, Default, Clone)]
pub struct ImportStats {
    pub egs_by_category: BTreeMap<String, u64>,
    pub ejs: u64,
    pub offers: u64,
    pub locations: u64,
    pub capacity_records: u64,
    pub tariffs: u64,
    pub ehpad_with_hebergement_price: u64,
    pub ehpad_with_dependance_prices: u64,
    pub commune_match: BTreeMap<&'static str, u64>,
    pub skipped_without_position: u64,
    pub communes_written: u64,
}

/// Reads a CSV file (gzip detected), returning the header and the rows.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<csv::StringRecord>), IngestError> {
    let io_error = |source| IngestError::Io { path: path.to_owned(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|mut file| file.read_to_end(&mut bytes)).map_err(io_error)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut decoded = Vec::new();
        MultiGzDecoder::new(&bytes[..]).read_to_end(&mut decoded).map_err(io_error)?;
        bytes = decoded;
    }
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let csv_error = |error: csv::Error| IngestError::Io { path: path.to_owned(), source: std::io::Error::other(error) };
    let header = reader.headers().map_err(csv_error)?.iter().map(str::to_owned).collect();
    let rows = reader.records().collect::<Result<Vec<_>, _>>().map_err(csv_error)?;
    Ok((header, rows))
}

struct Columns(HashMap<String, usize>);

impl Columns {
    fn new(header: &[String]) -> Columns {
        Columns(header.iter().enumerate().map(|(index, name)| (name.clone(), index)).collect())
    }

    fn get<'a>(&self, row: &'a csv::StringRecord, name: &str) -> &'a str {
        self.0.get(name).and_then(|&index| row.get(index)).unwrap_or_default().trim()
    }
}

/// Finds the INSEE commune of an establishment from its postcode, city name and position.
struct CommuneMatcher<'a> {
    communes: &'a [Commune],
    by_postal_code: HashMap<&'a str, Vec<usize>>,
    tree: RTree<GeomWithData<[f64; 3], usize>>,
}

impl<'a> CommuneMatcher<'a> {
    fn new(communes: &'a [Commune]) -> Self {
        let mut by_postal_code: HashMap<&str, Vec<usize>> = HashMap::new();
        for (index, commune) in communes.iter().enumerate() {
            for code in &commune.postal_codes {
                by_postal_code.entry(code.as_str()).or_default().push(index);
            }
        }
        let points = communes
            .iter()
            .enumerate()
            .filter(|(_, commune)| commune.kind == "commune-actuelle" || commune.kind == "arrondissement-municipal")
            .map(|(index, commune)| {
                GeomWithData::new(GeoPoint { lat: commune.lat, lon: commune.lon }.unit_vector(), index)
            })
            .collect();
        CommuneMatcher { communes, by_postal_code, tree: RTree::bulk_load(points) }
    }

    /// The commune and how it was found.
    fn find(&self, postal_code: &str, city: &str, position: GeoPoint) -> (usize, &'static str) {
        let wanted = normalize_place_name(city);
        let current = |index: &&usize| {
            let kind = self.communes[**index].kind.as_str();
            kind == "commune-actuelle" || kind == "arrondissement-municipal"
        };
        let nearest_of = |candidates: &[usize]| {
            let target = position.unit_vector();
            candidates
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    let distance = |index: usize| {
                        crate::util::geo::chord_squared(
                            target,
                            GeoPoint { lat: self.communes[index].lat, lon: self.communes[index].lon }.unit_vector(),
                        )
                    };
                    distance(a).total_cmp(&distance(b))
                })
                .expect("non-empty candidates")
        };
        if let Some(candidates) = self.by_postal_code.get(postal_code) {
            let current_candidates: Vec<usize> = candidates.iter().filter(current).copied().collect();
            let named: Vec<usize> = current_candidates
                .iter()
                .copied()
                .filter(|&index| normalize_place_name(&self.communes[index].name) == wanted)
                .collect();
            if named.len() == 1 {
                return (named[0], "postcode_and_name");
            }
            // Paris, Lyon, Marseille: the arrondissement of the postcode.
            let arrondissements: Vec<usize> = current_candidates
                .iter()
                .copied()
                .filter(|&index| self.communes[index].kind == "arrondissement-municipal")
                .collect();
            if arrondissements.len() == 1 {
                return (arrondissements[0], "postcode_arrondissement");
            }
            if current_candidates.len() == 1 {
                return (current_candidates[0], "postcode_unique");
            }
            if !current_candidates.is_empty() {
                return (nearest_of(&current_candidates), "postcode_nearest_centroid");
            }
        }
        let nearest = self.tree.nearest_neighbor(position.unit_vector()).map(|point| point.data).unwrap_or(0);
        (nearest, "nearest_centroid")
    }
}

fn cents_of_euros(text: &str) -> Option<i64> {
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value > 0.0).then(|| (value * 100.0).round() as i64)
}

/// Daily cents from a CNSA 2022 monthly amount (the layer publishes daily × 30, rounded).
fn daily_cents_of_monthly(text: &str) -> Option<i64> {
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value > 0.0).then(|| (value * 100.0 / 30.0).round() as i64)
}

fn daily_tariff(price_type: &str, amount_cents: i64) -> Tariff {
    Tariff {
        price_type: price_type.into(),
        unit: PRICE_UNIT_DAILY.into(),
        amount_cents,
        currency: Some("EUR".into()),
        ..Tariff::default()
    }
}

/// The EHPAD tariffs of one row of `ehpad_finess2021_prix.csv`.
fn ehpad_tariffs(columns: &Columns, row: &csv::StringRecord) -> Vec<Tariff> {
    let mut tariffs = Vec::new();
    let single_2023 = cents_of_euros(columns.get(row, "prix_heb_perm_cs_2023_eur_jour"));
    let single_2022 = daily_cents_of_monthly(columns.get(row, "prix_chambre_simple_2022_eur_mois"));
    if let Some(amount) = single_2023.or(single_2022) {
        let mut tariff = daily_tariff(PRICE_TYPE_HEBERGEMENT, amount);
        tariff.welcome_type = Some(RECEPTION_PERMANENT.into());
        tariff.residential_type = Some(RESIDENTIAL_SINGLE_ROOM.into());
        tariff.under_60 = Some(false);
        tariffs.push(tariff);
    }
    if let Some(amount) = daily_cents_of_monthly(columns.get(row, "prix_chambre_double_2022_eur_mois")) {
        let mut tariff = daily_tariff(PRICE_TYPE_HEBERGEMENT, amount);
        tariff.welcome_type = Some(RECEPTION_PERMANENT.into());
        tariff.residential_type = Some("01".into());
        tariff.under_60 = Some(false);
        tariffs.push(tariff);
    }
    for (band, column) in
        [("01", "tarif_gir12_2022_eur_mois"), ("02", "tarif_gir34_2022_eur_mois"), ("03", "tarif_gir56_2022_eur_mois")]
    {
        if let Some(amount) = daily_cents_of_monthly(columns.get(row, column)) {
            let mut tariff = daily_tariff(PRICE_TYPE_DEPENDANCE, amount);
            tariff.dependency_level = Some(band.into());
            tariffs.push(tariff);
        }
    }
    tariffs
}

/// One offer template: what an establishment of a category typically runs.
#[derive(Clone, Copy)]
pub struct OfferTemplate {
    pub name: &'static str,
    pub offer_type: &'static str,
    pub activity_field: &'static str,
    pub activity: &'static str,
    pub care_mode: &'static str,
    pub reception: Option<&'static str>,
    pub public: Option<&'static str>,
    pub specialisation: Option<&'static str>,
    /// Age range in years (min, max).
    pub ages: (f64, f64),
    /// Capacity nature (TRE_R329: `01` lit, `02` place), `None` for offers without places.
    pub capacity_type: Option<&'static str>,
    /// Installed places, inclusive range.
    pub installed: (i64, i64),
    /// Whether the offer reports crisis (supplementary) beds T0 / T60.
    pub crisis: bool,
    /// Probability that an establishment of the category runs it.
    pub probability: f64,
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
pub fn ehpad_templates() -> Vec<OfferTemplate> {
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
pub fn residence_autonomie_templates() -> Vec<OfferTemplate> {
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
pub fn hospital_templates(category: &str) -> Vec<OfferTemplate> {
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
pub fn handicap_templates(category: &str) -> Vec<OfferTemplate> {
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
pub fn templates_for(category: &str) -> Vec<OfferTemplate> {
    match category {
        EHPAD => ehpad_templates(),
        RESIDENCE_AUTONOMIE => residence_autonomie_templates(),
        _ if HOSPITAL_CATEGORIES.contains(&category) => hospital_templates(category),
        _ => handicap_templates(category),
    }
}

/// Generates the operational fields of one offer: capacities, dates, closure.
pub struct OfferGenerator {
    pub feed_date: UnixSeconds,
}

impl OfferGenerator {
    /// The capacity records of an offer's location.
    pub fn capacities(&self, template: &OfferTemplate, rng: &mut SplitMix64, closed: bool) -> Vec<CapacityRecord> {
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
    pub fn last_updated(&self, rng: &mut SplitMix64) -> UnixSeconds {
        self.feed_date - 60 * rng.range_inclusive(0, 425 * DAY_SECONDS / 60)
    }

    /// A closure: about 1% of offers closed in the last months, a third of them with a planned
    /// reopening.
    pub fn closure(&self, rng: &mut SplitMix64) -> (Option<UnixSeconds>, Option<UnixSeconds>) {
        if !rng.chance(0.01) {
            return (None, None);
        }
        let from = self.feed_date - DAY_SECONDS * rng.range_inclusive(1, 200);
        let reopen = rng.chance(0.33).then(|| self.feed_date + DAY_SECONDS * rng.range_inclusive(10, 120));
        (Some(from), reopen)
    }
}

/// Builds the sample dataset from the real files.
pub fn build_dataset(paths: &OpenDataPaths, seed: u64) -> Result<(Dataset, Vec<Commune>, ImportStats), IngestError> {
    let communes = read_communes(&paths.communes)?;
    let matcher = CommuneMatcher::new(&communes);
    let region_of: HashMap<String, String> = {
        let (header, rows) = read_csv(&paths.communes)?;
        let columns = Columns::new(&header);
        rows.iter()
            .map(|row| (columns.get(row, "code_insee").to_owned(), columns.get(row, "region").to_owned()))
            .collect()
    };
    let (price_header, price_rows) = read_csv(&paths.ehpad_prices)?;
    let price_columns = Columns::new(&price_header);
    let prices: HashMap<String, &csv::StringRecord> =
        price_rows.iter().map(|row| (price_columns.get(row, "nofinesset").to_owned(), row)).collect();
    let (header, rows) = read_csv(&paths.finess)?;
    let columns = Columns::new(&header);
    let feed_date = parse_fhir_datetime(FEED_DATE).expect("valid constant");
    let generator = OfferGenerator { feed_date };

    let mut stats = ImportStats::default();
    let mut dataset = Dataset::default();
    let mut ej_ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut selected: Vec<&csv::StringRecord> = rows
        .iter()
        .filter(|row| {
            let category = columns.get(row, "categetab");
            category == EHPAD
                || category == RESIDENCE_AUTONOMIE
                || HOSPITAL_CATEGORIES.contains(&category)
                || HANDICAP_CATEGORIES.contains(&category)
        })
        .collect();
    selected.sort_by(|a, b| columns.get(a, "nofinesset").cmp(columns.get(b, "nofinesset")));
    for row in &selected {
        let ej = columns.get(row, "nofinessej");
        if !ej.is_empty() {
            ej_ids.entry(ej.to_owned()).or_insert(0);
        }
    }
    for (index, (finess, id)) in ej_ids.iter_mut().enumerate() {
        *id = index as u32;
        dataset.ejs.push(Ej { id: format!("ej-{finess}"), finess: Some(finess.as_str().into()), ..Ej::default() });
    }
    stats.ejs = dataset.ejs.len() as u64;

    for row in selected {
        let finess = columns.get(row, "nofinesset");
        let category = columns.get(row, "categetab");
        let (Ok(lat), Ok(lon)) = (columns.get(row, "lat").parse::<f64>(), columns.get(row, "lon").parse::<f64>())
        else {
            stats.skipped_without_position += 1;
            continue;
        };
        let Ok(position) = GeoPoint::new(lat, lon) else {
            stats.skipped_without_position += 1;
            continue;
        };
        let postal_code = columns.get(row, "postal_code");
        let city = columns.get(row, "city");
        let (commune_index, method) = matcher.find(postal_code, city, position);
        *stats.commune_match.entry(method).or_default() += 1;
        let commune = &communes[commune_index];
        let region = region_of
            .get(commune.code.as_str())
            .filter(|region| !region.is_empty())
            .map(|region| Code::from(region.as_str()));
        let mut rng = SplitMix64::for_key(seed, finess);
        let mut eg = Eg {
            id: format!("eg-{finess}"),
            finess: Some(finess.into()),
            siret: Some(columns.get(row, "siret")).filter(|siret| !siret.is_empty()).map(Code::from),
            name: columns.get(row, "rs").to_owned(),
            category: Some(category.into()),
            ej: ej_ids.get(columns.get(row, "nofinessej")).copied(),
            address: Address {
                lines: columns
                    .get(row, "address_lines")
                    .split(" | ")
                    .filter(|line| !line.is_empty())
                    .map(str::to_owned)
                    .collect(),
                postal_code: Some(postal_code.into()),
                city: Some(city.to_owned()),
                commune: Some(commune.code.clone()),
            },
            position: Some(position),
            opened_at: parse_fhir_datetime(columns.get(row, "dateouv")).ok().filter(|&opened| opened > -5_364_662_400),
            region: region.clone(),
            last_updated: parse_fhir_datetime(columns.get(row, "datemaj")).ok(),
            ..Eg::default()
        };
        if category == EHPAD
            && let Some(price_row) = prices.get(finess)
        {
            eg.tariffs = ehpad_tariffs(&price_columns, price_row);
            let mode = price_columns.get(price_row, "libmft_2024").to_lowercase();
            if mode.contains("habilité aide sociale") && !mode.contains("non habilité") {
                eg.financial_help.push("02".into());
            }
            if eg.tariffs.iter().any(|tariff| tariff.price_type == PRICE_TYPE_HEBERGEMENT) {
                stats.ehpad_with_hebergement_price += 1;
            }
            if eg.tariffs.iter().filter(|tariff| tariff.price_type == PRICE_TYPE_DEPENDANCE).count() == 3 {
                stats.ehpad_with_dependance_prices += 1;
            }
        }
        if category == "101" {
            eg.orsan_level = Some("4".into());
        } else if category == "355" {
            eg.orsan_level = Some("1".into());
        }
        stats.tariffs += eg.tariffs.len() as u64;
        *stats.egs_by_category.entry(category.to_owned()).or_default() += 1;
        let eg_index = dataset.egs.len() as u32;
        let region_prefix = region.as_deref().unwrap_or("00").to_owned();
        for (offer_number, template) in templates_for(category).iter().enumerate() {
            if !rng.chance(template.probability) {
                continue;
            }
            let (closed_from, reopens_at) = generator.closure(&mut rng);
            let closed = closed_from.is_some() && reopens_at.is_none();
            let location_index = dataset.locations.len() as u32;
            let capacities = generator.capacities(template, &mut rng, closed);
            stats.capacity_records += capacities.len() as u64;
            dataset.locations.push(Location {
                id: format!("loc-{finess}-{offer_number}"),
                identifier: Some(format!("{region_prefix}/L{finess}{offer_number}")),
                name: Some(format!("{} - {}", template.name, eg.name)),
                commune: Some(commune.code.clone()),
                position: Some(position),
                address: Address {
                    lines: Vec::new(),
                    postal_code: eg.address.postal_code.clone(),
                    city: eg.address.city.clone(),
                    commune: Some(commune.code.clone()),
                },
                capacities,
                last_updated: Some(feed_date - 60 * rng.range_inclusive(0, 3 * DAY_SECONDS / 60)),
                ..Location::default()
            });
            let last_updated = generator.last_updated(&mut rng);
            dataset.offers.push(Offer {
                id: format!("hs-{finess}-{offer_number}"),
                identifier: Some(format!("{region_prefix}/{finess}{offer_number}")),
                name: template.name.to_owned(),
                eg: Some(eg_index),
                offer_type: Some(template.offer_type.into()),
                activity_field: Some(template.activity_field.into()),
                activity: Some(template.activity.into()),
                care_mode: Some(template.care_mode.into()),
                reception: template.reception.map(Code::from),
                publics: template.public.map(Code::from).into_iter().collect(),
                specialisations: template.specialisation.map(Code::from).into_iter().collect(),
                age_range: Some(AgeRange { min_years: Some(template.ages.0), max_years: Some(template.ages.1) }),
                closed_from,
                reopens_at,
                locations: vec![location_index],
                region: region.clone(),
                created_at: eg.opened_at.map(|opened| opened.max(parse_fhir_datetime("2017-01-01").expect("valid"))),
                last_updated: Some(last_updated),
                ..Offer::default()
            });
        }
        dataset.egs.push(eg);
    }
    stats.offers = dataset.offers.len() as u64;
    stats.locations = dataset.locations.len() as u64;
    sort_dataset(&mut dataset);
    Ok((dataset, communes, stats))
}

/// Sorts EGs, locations and offers by FHIR id and remaps the dense indexes, the order the
/// resolver produces.
pub fn sort_dataset(dataset: &mut Dataset) {
    fn permutation<T>(items: &[T], key: impl Fn(&T) -> &str) -> (Vec<usize>, Vec<u32>) {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&a, &b| key(&items[a]).cmp(key(&items[b])));
        let mut new_index = vec![0u32; items.len()];
        for (position, &old) in order.iter().enumerate() {
            new_index[old] = position as u32;
        }
        (order, new_index)
    }
    fn apply<T>(items: &mut Vec<T>, order: &[usize]) {
        let mut slots: Vec<Option<T>> = items.drain(..).map(Some).collect();
        items.extend(order.iter().map(|&old| slots[old].take().expect("each index once")));
    }
    let (ej_order, ej_new) = permutation(&dataset.ejs, |ej| &ej.id);
    apply(&mut dataset.ejs, &ej_order);
    let (eg_order, eg_new) = permutation(&dataset.egs, |eg| &eg.id);
    apply(&mut dataset.egs, &eg_order);
    for eg in &mut dataset.egs {
        eg.ej = eg.ej.map(|ej| ej_new[ej as usize]);
    }
    let (location_order, location_new) = permutation(&dataset.locations, |location| &location.id);
    apply(&mut dataset.locations, &location_order);
    let (offer_order, _) = permutation(&dataset.offers, |offer| &offer.id);
    apply(&mut dataset.offers, &offer_order);
    for offer in &mut dataset.offers {
        offer.eg = offer.eg.map(|eg| eg_new[eg as usize]);
        offer.ej = offer.ej.map(|ej| ej_new[ej as usize]);
        for location in &mut offer.locations {
            *location = location_new[*location as usize];
        }
    }
}

/// The sample feed's directory under the output folder.
pub const FEED_DIR: &str = "ror-feed";

/// Writes a dataset as a FHIR bulk `$export` would: one gzipped NDJSON file per resource type
/// (`Organization.ndjson.gz`, `Location.ndjson.gz`, `HealthcareService.ndjson.gz`) in `dir`.
/// Returns the lines written.
pub fn write_feed(dataset: &Dataset, dir: &Path) -> Result<u64, IngestError> {
    std::fs::create_dir_all(dir).map_err(|source| IngestError::Io { path: dir.to_owned(), source })?;
    let mut lines = 0;
    for resource_type in super::fhir::write::ResourceType::ALL {
        let path = dir.join(format!("{}.ndjson.gz", resource_type.name()));
        lines += write_gzipped(&path, |out| super::fhir::write::write_ndjson_of(dataset, resource_type, out))?;
    }
    Ok(lines)
}

/// Creates `path` and writes it gzipped (best compression; no name or time in the header, so
/// the same content always gives the same bytes).
fn write_gzipped<T>(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<T>) -> Result<T, IngestError> {
    let io_error = |source| IngestError::Io { path: path.to_owned(), source };
    let file = std::fs::File::create(path).map_err(io_error)?;
    let mut encoder = GzEncoder::new(BufWriter::new(file), Compression::best());
    let written = write(&mut encoder).map_err(io_error)?;
    encoder.finish().and_then(|mut writer| writer.flush()).map_err(io_error)?;
    Ok(written)
}

/// Runs the whole import: reads the real files, writes the feed into `out_dir/ror-feed/` (see
/// [`write_feed`]) and `communes.csv.gz` into `out_dir`.
pub fn import(real: &Path, out_dir: &Path, seed: u64) -> Result<ImportStats, IngestError> {
    let paths = OpenDataPaths::under(real);
    let (dataset, communes, mut stats) = build_dataset(&paths, seed)?;
    write_feed(&dataset, &out_dir.join(FEED_DIR))?;
    write_gzipped(&out_dir.join("communes.csv.gz"), |out| write_communes(&communes, out))?;
    stats.communes_written = communes.len() as u64;
    Ok(stats)
}
