//! `import-opendata`: builds the sample ROR feed from real public files.
//!
//! Real facts (FINESS 2021 establishments with WGS84 positions, CNSA EHPAD prices, INSEE
//! communes) become EJ/EG `Organization`s with tariffs; the offers each establishment category
//! typically runs become `HealthcareService`s, and their places `Location`s with capacity
//! records. Fields no public source gives (which offers exactly, installed and available
//! places, crisis capacities, update dates) are generated from a seed, per FINESS number, so
//! the same inputs and seed always give the same feed, byte for byte. `data-samples/README.md`
//! says which field comes from where.
//!
//! This module reads the real files and assembles the dataset and the feed; `offers` says
//! which offers a category runs and generates their operational fields.

pub(crate) mod offers;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use rstar::RTree;
use rstar::primitives::GeomWithData;

use offers::{OfferGenerator, templates_for};

use super::IngestError;
use super::communes::{read_communes, write_communes};
use crate::model::place::Commune;
use crate::model::rules::{
    PRICE_TYPE_DEPENDANCE, PRICE_TYPE_HEBERGEMENT, PRICE_UNIT_DAILY, RECEPTION_PERMANENT, RESIDENTIAL_SINGLE_ROOM,
};
use crate::model::{Address, AgeRange, Code, Dataset, Eg, Ej, GeoPoint, Location, Offer, Tariff};
use crate::util::fold::normalize_place_name;
use crate::util::rng::SplitMix64;
use crate::util::time::{DAY_SECONDS, parse_fhir_datetime};

/// Default seed of the generated fields.
pub(crate) const DEFAULT_SEED: u64 = 2026;
/// The date the sample feed stands for: generated update dates are at or before it.
pub const FEED_DATE: &str = "2026-11-01T00:00:00Z";

/// FINESS categories taken besides the EHPAD (500): hospitals, handicap ESMS, résidences autonomie.
pub(crate) const HOSPITAL_CATEGORIES: [&str; 10] =
    ["101", "106", "109", "128", "129", "131", "292", "355", "362", "365"];
/// Handicap ESMS categories taken (IME, MAS, FAM, ITEP, EEAP, EAM).
pub(crate) const HANDICAP_CATEGORIES: [&str; 6] = ["183", "186", "188", "255", "437", "448"];
/// Résidences autonomie (autonomous elderly people, type d'offre 22).
pub(crate) const RESIDENCE_AUTONOMIE: &str = "202";
/// EHPAD.
pub(crate) const EHPAD: &str = "500";

/// Inputs of the import, relative to the real-data folder.
pub(crate) struct OpenDataPaths {
    pub(crate) finess: PathBuf,
    pub(crate) ehpad_prices: PathBuf,
    pub(crate) communes: PathBuf,
}

impl OpenDataPaths {
    /// The staged layout of `shared/data/real/`.
    pub(crate) fn under(real: &Path) -> OpenDataPaths {
        OpenDataPaths {
            finess: real.join("finess-etablissements-2021/finess_etablissements_20210108.csv.gz"),
            ehpad_prices: real.join("ehpad-join/ehpad_finess2021_prix.csv"),
            communes: real.join("communes-france/communes_france.csv"),
        }
    }
}

/// What the import did, for the log and the data README.
#[derive(Debug, Default, Clone)]
pub(crate) struct ImportStats {
    pub(crate) egs_by_category: BTreeMap<String, u64>,
    pub(crate) ejs: u64,
    pub(crate) offers: u64,
    pub(crate) locations: u64,
    pub(crate) capacity_records: u64,
    pub(crate) sensitive_units: u64,
    pub(crate) tariffs: u64,
    pub(crate) ehpad_with_hebergement_price: u64,
    pub(crate) ehpad_with_dependance_prices: u64,
    pub(crate) commune_match: BTreeMap<&'static str, u64>,
    pub(crate) skipped_without_position: u64,
    pub(crate) communes_written: u64,
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

/// Builds the sample dataset from the real files.
pub(crate) fn build_dataset(
    paths: &OpenDataPaths,
    seed: u64,
) -> Result<(Dataset, Vec<Commune>, ImportStats), IngestError> {
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
                synchro_id: Some(format!("ZS{offer_number:03}")),
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
            let offer_id = format!("hs-{finess}-{offer_number}");
            let sensitive_unit = is_sensitive_unit(seed, &offer_id, category, template);
            stats.sensitive_units += u64::from(sensitive_unit);
            dataset.offers.push(Offer {
                id: offer_id,
                sensitive_unit,
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

/// Whether a generated offer is an unité sensible (no public source says which units are):
/// about a quarter of adult psychiatric full hospitalisations (units for detainees, UMD-like
/// secure units) and a fifth of the médecine polyvalente of CHRs (UHSI-like secure units),
/// drawn per offer id from the seed on a stream of its own, so that no other field moves.
fn is_sensitive_unit(seed: u64, offer_id: &str, category: &str, template: &offers::OfferTemplate) -> bool {
    let probability = match (template.offer_type, category) {
        ("174", _) => 0.25,
        ("238", "101") => 0.2,
        _ => return false,
    };
    SplitMix64::for_key(seed ^ 0x5e45_17e5, offer_id).chance(probability)
}

/// Sorts EGs, locations and offers by FHIR id and remaps the dense indexes, the order the
/// resolver produces.
pub(crate) fn sort_dataset(dataset: &mut Dataset) {
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
pub(crate) const FEED_DIR: &str = "ror-feed";

/// Writes a dataset as a FHIR bulk `$export` would: one gzipped NDJSON file per resource type
/// (`Organization.ndjson.gz`, `Location.ndjson.gz`, `HealthcareService.ndjson.gz`) in `dir`.
/// Returns the lines written.
pub(crate) fn write_feed(dataset: &Dataset, dir: &Path) -> Result<u64, IngestError> {
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
pub(crate) fn import(real: &Path, out_dir: &Path, seed: u64) -> Result<ImportStats, IngestError> {
    let paths = OpenDataPaths::under(real);
    let (dataset, communes, mut stats) = build_dataset(&paths, seed)?;
    write_feed(&dataset, &out_dir.join(FEED_DIR))?;
    write_gzipped(&out_dir.join("communes.csv.gz"), |out| write_communes(&communes, out))?;
    stats.communes_written = communes.len() as u64;
    Ok(stats)
}
