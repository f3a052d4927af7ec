//! Seeded random datasets for the engine tests, and engines built from them through a real
//! snapshot (data file + text index) in a temporary directory.

use std::path::Path;

use proptest::prelude::*;
use ror_search::engine::{Engine, SearchRequest};
use ror_search::ingest::IngestReport;
use ror_search::model::place::Commune;
use ror_search::model::{Address, AgeRange, CapacityRecord, Code, Dataset, Eg, Ej, GeoPoint, Location, Offer, Tariff};
use ror_search::snapshot::{BuildInput, SnapshotData, write};
use ror_search::util::rng::SplitMix64;

use crate::common::crate_path;

/// Places the random data clusters around: metropolitan cities, Corsica, overseas, and both
/// sides of the antimeridian (Wallis-et-Futuna sits at 176° W).
pub(crate) const CLUSTERS: [(f64, f64, &str); 10] = [
    (48.8566, 2.3522, "75056"),
    (45.7640, 4.8357, "69123"),
    (44.8378, -0.5792, "33063"),
    (41.9267, 8.7369, "2A004"),
    (42.6973, 9.4509, "2B033"),
    (-20.8823, 55.4504, "97411"),
    (4.9224, -52.3135, "97302"),
    (-13.28, -176.17, "97101"),
    (-16.5, 179.9, "97209"),
    (47.8347, 1.9220, "45234"),
];

const WORDS: [&str; 16] = [
    "Résidence",
    "Les",
    "Tilleuls",
    "Saint-Joseph",
    "Hôpital",
    "Clinique",
    "Soins",
    "Alzheimer",
    "Cœur",
    "Étoile",
    "Mer",
    "Montagne",
    "Soleil",
    "Château",
    "Maison",
    "Accueil",
];

/// The communes shipped in data-samples (real INSEE codes and centroids).
pub(crate) fn communes() -> Vec<Commune> {
    ror_search::ingest::communes::read_communes(&crate_path("data-samples/communes.csv.gz")).expect("communes")
}

fn name(rng: &mut SplitMix64, words: usize) -> String {
    (0..words).map(|_| *rng.pick(&WORDS)).collect::<Vec<_>>().join(" ")
}

fn jitter(rng: &mut SplitMix64, centre: (f64, f64), spread_deg: f64) -> GeoPoint {
    let lat = (centre.0 + (rng.unit_f64() - 0.5) * spread_deg).clamp(-90.0, 90.0);
    let mut lon = centre.1 + (rng.unit_f64() - 0.5) * spread_deg;
    if lon > 180.0 {
        lon -= 360.0;
    }
    if lon < -180.0 {
        lon += 360.0;
    }
    GeoPoint { lat, lon }
}

/// A random dataset exercising every field the engine reads.
pub(crate) fn random_dataset(seed: u64, eg_count: usize) -> Dataset {
    let mut rng = SplitMix64::new(seed);
    let mut dataset = Dataset::default();
    for index in 0..eg_count / 4 + 1 {
        dataset.ejs.push(Ej {
            id: format!("ej-{index:05}"),
            name: Some(format!("Gestionnaire {}", name(&mut rng, 1))),
            ..Ej::default()
        });
    }
    let mut shared: Vec<GeoPoint> = Vec::new();
    let base_time = 1_790_000_000; // 2026-09
    for index in 0..eg_count {
        let (lat, lon, commune) = *rng.pick(&CLUSTERS);
        let position = if !shared.is_empty() && rng.chance(0.3) {
            Some(*rng.pick(&shared))
        } else if rng.chance(0.05) {
            None
        } else {
            let point = jitter(&mut rng, (lat, lon), 1.2);
            shared.push(point);
            Some(point)
        };
        let mut tariffs = Vec::new();
        if rng.chance(0.7) {
            tariffs.push(Tariff {
                price_type: "02".into(),
                unit: "2".into(),
                amount_cents: rng.range_inclusive(4_000, 12_000),
                welcome_type: Some("02".into()),
                residential_type: Some(if rng.chance(0.8) { "02" } else { "01" }.into()),
                ..Tariff::default()
            });
        }
        for band in ["01", "02", "03"] {
            if rng.chance(0.75) {
                tariffs.push(Tariff {
                    price_type: "03".into(),
                    unit: "2".into(),
                    amount_cents: rng.range_inclusive(300, 3_000),
                    dependency_level: Some(band.into()),
                    ..Tariff::default()
                });
            }
        }
        dataset.egs.push(Eg {
            id: format!("eg-{index:05}"),
            finess: Some(format!("{:09}", 10_000_000 + index).into()),
            name: format!("{} {}", rng.pick(&["EHPAD", "Centre hospitalier", "Foyer", "Résidence"]), name(&mut rng, 2)),
            category: Some((*rng.pick(&["500", "355", "202", "183", "101"])).into()),
            ej: Some(rng.below(dataset.ejs.len() as u64) as u32),
            address: Address { commune: Some(commune.into()), city: Some("Ville".into()), ..Address::default() },
            position,
            financial_help: if rng.chance(0.5) { vec!["02".into()] } else { Vec::new() },
            closed_at: if rng.chance(0.03) { Some(base_time - 86_400) } else { None },
            tariffs,
            ..Eg::default()
        });
    }
    let offer_count = eg_count * 4;
    for index in 0..offer_count {
        let eg = rng.below(eg_count as u64) as u32;
        let eg_position = dataset.egs[eg as usize].position;
        let location_position = if rng.chance(0.2) {
            Some(jitter(&mut rng, eg_position.map(|p| (p.lat, p.lon)).unwrap_or((46.0, 2.0)), 0.01))
        } else {
            None
        };
        let mut capacities = Vec::new();
        for (status, temporality) in
            [("01", "01"), ("02", "01"), ("02", "01"), ("06", "01"), ("06", "02"), ("04", "01")]
        {
            if rng.chance(0.6) {
                capacities.push(CapacityRecord {
                    capacity_type: "02".into(),
                    status: status.into(),
                    temporality: temporality.into(),
                    count: rng.below(6) as u32,
                    updated_at: Some(base_time - rng.range_inclusive(0, 100_000)),
                    ..CapacityRecord::default()
                });
            }
        }
        let location = dataset.locations.len() as u32;
        dataset.locations.push(Location {
            id: format!("loc-{index:06}"),
            position: location_position,
            commune: if rng.chance(0.5) { Some(rng.pick(&CLUSTERS).2.into()) } else { None },
            capacities,
            ..Location::default()
        });
        let offer_type = *rng.pick(&["21", "22", "23", "24", "25", "27", "157", "20", "48"]);
        let closed_from = if rng.chance(0.05) { Some(base_time - rng.range_inclusive(-50_000, 50_000)) } else { None };
        let age_range = if rng.chance(0.8) {
            let min = rng.range_inclusive(0, 70) as f64;
            let max = min + rng.range_inclusive(0, 90) as f64;
            Some(AgeRange {
                min_years: Some(min / if rng.chance(0.1) { 12.0 } else { 1.0 }),
                max_years: rng.chance(0.9).then_some(max),
            })
        } else {
            None
        };
        dataset.offers.push(Offer {
            id: format!("hs-{index:06}"),
            name: format!(
                "{} {}",
                rng.pick(&["Hébergement permanent", "Accueil de jour", "Unité", "Consultation"]),
                name(&mut rng, 1)
            ),
            eg: Some(eg),
            offer_type: Some(offer_type.into()),
            activity: Some((*rng.pick(&["298", "306", "022", "157", "013"])).into()),
            care_mode: Some((*rng.pick(&["46", "47", "28", "32"])).into()),
            reception: if rng.chance(0.7) { Some((*rng.pick(&["01", "02"])).into()) } else { None },
            age_range,
            closed_from,
            reopens_at: closed_from.filter(|_| rng.chance(0.5)).map(|from| from + rng.range_inclusive(0, 100_000)),
            locations: vec![location],
            publics: if rng.chance(0.3) { vec![Code::from("01")] } else { Vec::new() },
            // Access profiles: some sensitive units, a third medico-social (outside the
            // generator's stream, so that no other field moves).
            sensitive_unit: index % 7 == 3,
            activity_field: Some(if index % 3 == 0 { "04" } else { "01" }.into()),
            ..Offer::default()
        });
    }
    dataset
}

/// The instant the random data is queried at (some closures before, some after).
pub(crate) const NOW: i64 = 1_790_000_000;

/// Builds a snapshot of `data` (with its text index) under `dir` and opens its engine.
pub(crate) fn engine_of(data: SnapshotData, dir: &Path) -> Engine {
    let out = dir.join("snapshot");
    write(
        &out,
        BuildInput {
            data: &data,
            report: &IngestReport::default(),
            sources: Vec::new(),
            built_at: NOW,
            index_files: Some(&ror_search::engine::persist::write_index_files),
            lineage: None,
        },
        true,
    )
    .expect("snapshot written");
    Engine::open(&out).expect("engine opens")
}

/// The instant a property test asks a search at: half the requests (odd `limit`) at the clock's,
/// where the exact counts' block patterns hold the docs open around the instant the snapshot
/// was loaded; the others at `fixed`, where blocks with a closure in between are counted doc by
/// doc.
pub(crate) fn instant_of(request: &SearchRequest, fixed: i64) -> i64 {
    if request.limit % 2 == 1 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    } else {
        fixed
    }
}

/// Checks a search's total against the reference's: every total is exact, on every plan.
pub(crate) fn check_total(
    request: &SearchRequest,
    total: u64,
    total_exact: bool,
    expected: u64,
) -> Result<(), TestCaseError> {
    prop_assert!(total_exact, "total not exact for {:?}", request);
    prop_assert_eq!(total, expected, "total differs for {:?}", request);
    Ok(())
}
