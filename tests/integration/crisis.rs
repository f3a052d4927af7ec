//! The crisis-capacity query (`Engine::crisis`, `GET /v1/crisis`) against its brute-force
//! reference (`reference::crisis`), on seeded random data and on the real sample data: same
//! totals, same totals by département, same EGs in the same order at the same distances, with
//! the same offers and crisis beds.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use ror_search::engine::CrisisRequest;
use ror_search::engine::Engine;
use ror_search::engine::reference::{self, ReferenceCrisisTotal};
use ror_search::engine::request::{Centre, SearchRequest};
use ror_search::model::GeoPoint;
use ror_search::model::{Code, Dataset};
use ror_search::snapshot::SnapshotData;
use ror_search::util::rng::SplitMix64;

use crate::engine::sample_engine;

/// Seed of the generated requests (runs are reproducible).
const SEED: u64 = 20_261_201;
use crate::engine_data::{CLUSTERS, NOW, communes, engine_of, random_dataset};

/// The random dataset of the engine tests, plus what crisis queries read that it leaves out:
/// ORSAN levels on EGs, offers without an EG, and offers with neither a position nor a
/// département (or a département but no position).
fn crisis_dataset(seed: u64, eg_count: usize) -> Dataset {
    let mut dataset = random_dataset(seed, eg_count);
    let mut rng = SplitMix64::new(seed ^ 0x0c21_5150);
    for eg in &mut dataset.egs {
        eg.orsan_level = match rng.below(10) {
            0..=3 => None,
            4..=6 => Some("1".into()),
            _ => Some("4".into()),
        };
    }
    // A few EGs lose every way of placing them; their offers keep one only through a location.
    let lost: Vec<usize> = (0..dataset.egs.len()).filter(|_| rng.chance(0.04)).collect();
    for &index in &lost {
        let eg = &mut dataset.egs[index];
        eg.position = None;
        // Unknown commune: a département ("99") but no centroid; or no commune at all.
        eg.address.commune = if rng.chance(0.5) { Some("99999".into()) } else { None };
    }
    for offer in &mut dataset.offers {
        let eg_lost = offer.eg.is_some_and(|eg| lost.contains(&(eg as usize)));
        if eg_lost && rng.chance(0.7) {
            for &location in &offer.locations {
                let location = &mut dataset.locations[location as usize];
                location.position = None;
                location.commune = None;
            }
        }
        if rng.chance(0.02) {
            offer.eg = None;
        }
    }
    dataset
}

/// The random crisis engine, built once.
fn random_engine() -> &'static Engine {
    static ENGINE: OnceLock<(Engine, tempfile::TempDir)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = crate::common::temp_dir();
            let data = SnapshotData { dataset: crisis_dataset(20_261_201, 500), communes: communes() };
            (engine_of(data, dir.path()), dir)
        })
        .0
}

/// Runs a crisis request on the engine and on the reference and compares everything.
/// An answer's totals by département, keyed as the reference keys them (no code: `None`).
pub(crate) fn departement_totals(
    response: &ror_search::engine::CrisisResponse<'_>,
) -> BTreeMap<Option<String>, ReferenceCrisisTotal> {
    response
        .by_departement
        .iter()
        .map(|total| {
            (
                (!total.departement.is_empty()).then(|| total.departement.to_owned()),
                ReferenceCrisisTotal {
                    egs: total.egs,
                    offers: total.offers,
                    crisis_t0: total.crisis_t0,
                    crisis_t60: total.crisis_t60,
                },
            )
        })
        .collect()
}

fn check(engine: &Engine, request: &CrisisRequest) -> Result<(), TestCaseError> {
    let now = request.search.now.unwrap_or(NOW);
    let mut request = request.clone();
    request.search.now = Some(now);
    let response = match engine.crisis(&request) {
        Ok(response) => response,
        Err(error) => return Err(TestCaseError::fail(format!("engine refused {request:?}: {error}"))),
    };
    let expected = reference::crisis(engine, &request, now);
    prop_assert_eq!(
        (response.total_egs, response.total_offers, response.crisis_t0, response.crisis_t60),
        (expected.total_egs, expected.total_offers, expected.crisis_t0, expected.crisis_t60),
        "totals (egs, offers, T0, T60) differ for {:?}",
        request
    );
    let by_departement = departement_totals(&response);
    prop_assert_eq!(by_departement.len(), response.by_departement.len(), "a département is listed twice");
    prop_assert_eq!(&by_departement, &expected.by_departement, "totals by département differ for {:?}", request);
    let ids: Vec<&str> = response.egs.iter().map(|eg| eg.eg.id).collect();
    let expected_ids: Vec<&str> = expected.egs.iter().map(|eg| eg.id.as_str()).collect();
    prop_assert_eq!(&ids, &expected_ids, "EGs or their order differ for {:?}", request);
    for (eg, reference) in response.egs.iter().zip(&expected.egs) {
        prop_assert_eq!(eg.distance_m, reference.distance_m, "distance of {} for {:?}", reference.id, request);
        prop_assert_eq!(
            (u64::from(eg.crisis_t0), u64::from(eg.crisis_t60)),
            (reference.crisis_t0, reference.crisis_t60),
            "crisis beds of {} for {:?}",
            reference.id,
            request
        );
        prop_assert_eq!(eg.updated_at.map(|t| t.0), reference.updated_at, "updated_at of {}", reference.id);
        let offers: Vec<(String, u32, u32)> =
            eg.offers.iter().map(|offer| (offer.id.to_owned(), offer.crisis_t0, offer.crisis_t60)).collect();
        prop_assert_eq!(&offers, &reference.offers, "offers of {} for {:?}", reference.id, request);
    }
    Ok(())
}

fn codes(options: &'static [&'static str]) -> impl Strategy<Value = Vec<Code>> {
    prop::collection::vec(prop::sample::select(options), 0..3)
        .prop_map(|codes| codes.into_iter().map(Code::from).collect())
}

fn wrap_lon(lon: f64) -> f64 {
    if lon > 180.0 {
        lon - 360.0
    } else if lon < -180.0 {
        lon + 360.0
    } else {
        lon
    }
}

fn centre_strategy() -> impl Strategy<Value = Option<Centre>> {
    let clusters = prop::sample::select(CLUSTERS.to_vec());
    prop_oneof![
        2 => Just(None),
        4 => (clusters.clone(), -1.0f64..1.0, -1.0f64..1.0).prop_map(|((lat, lon, _), dlat, dlon)| {
            Some(Centre::Point(GeoPoint { lat: (lat + dlat).clamp(-90.0, 90.0), lon: wrap_lon(lon + dlon) }))
        }),
        1 => clusters.prop_map(|(_, _, commune)| Some(Centre::Commune(commune.to_owned()))),
        1 => any::<prop::sample::Index>().prop_map(|index| {
            // Exactly on a position (radius 0 then finds what is there).
            let engine = random_engine();
            let point = engine.layout().positions[index.index(engine.layout().positions.len())];
            Some(Centre::Point(GeoPoint { lat: point.lat, lon: point.lon }))
        }),
        // Both sides of the antimeridian (clusters at 179.9° E and 176° W).
        1 => Just(Some(Centre::Point(GeoPoint { lat: -16.5, lon: -179.95 }))),
        1 => Just(Some(Centre::Point(GeoPoint { lat: -13.28, lon: 179.99 }))),
    ]
}

fn request_strategy() -> impl Strategy<Value = CrisisRequest> {
    (
        centre_strategy(),
        prop_oneof![3 => Just(None), 2 => Just(Some(0.0)), 3 => (0.0f64..300.0).prop_map(Some), 1 => (0.0f64..1000.0).prop_map(Some)],
        codes(&["298", "306", "022", "157", "013"]),
        codes(&["21", "22", "23", "24", "25", "27", "157", "20", "48"]),
        codes(&["1", "4"]),
        prop::option::of(0u32..5),
        prop::option::of(0u32..5),
        prop_oneof![6 => 1usize..40, 1 => Just(0usize), 1 => 150usize..400],
        prop_oneof![3 => Just(NOW), 1 => NOW - 60_000..NOW + 60_000],
    )
        .prop_map(
            |(centre, radius_km, activity, offer_type, orsan_level, min_crisis_t0, min_crisis_t60, limit, now)| {
                let radius_km = if centre.is_some() { radius_km } else { None };
                Flat {
                    centre,
                    radius_km,
                    activity,
                    offer_type,
                    orsan_level,
                    min_crisis_t0,
                    min_crisis_t60,
                    limit,
                    now: Some(now),
                }
                .request()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(SEED),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_crisis_queries_match_the_reference(request in request_strategy()) {
        check(random_engine(), &request)?;
    }
}

/// The distinct codes of a field among the sample offers that have crisis beds.
fn sample_codes(field: fn(&ror_search::model::Offer) -> Option<&Code>) -> Vec<Code> {
    let engine = sample_engine();
    let mut codes: Vec<Code> = engine
        .data()
        .dataset
        .offers
        .iter()
        .filter_map(|offer| field(offer).cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    codes.truncate(40);
    codes
}

fn sample_request_strategy() -> impl Strategy<Value = CrisisRequest> {
    let places = prop::sample::select(vec![
        (44.8378, -0.5792),  // Bordeaux
        (48.8566, 2.3522),   // Paris
        (45.7606, 4.8594),   // Lyon Part-Dieu
        (43.2965, 5.3698),   // Marseille
        (44.5594, 2.0285),   // rural Aveyron
        (41.9267, 8.7369),   // Ajaccio
        (-20.8823, 55.4504), // Saint-Denis (Réunion)
        (4.9224, -52.3135),  // Cayenne
        (16.2411, -61.5331), // Pointe-à-Pitre
    ]);
    let activities = sample_codes(|offer| offer.activity.as_ref());
    let offer_types = sample_codes(|offer| offer.offer_type.as_ref());
    (
        prop_oneof![1 => Just(None), 4 => places.prop_map(Some), 1 => Just(Some((-16.5, -179.95)))],
        prop_oneof![2 => Just(None), 1 => Just(Some(0.0)), 3 => (1.0f64..120.0).prop_map(Some)],
        prop_oneof![2 => Just(Vec::new()), 1 => prop::sample::subsequence(activities.clone(), 1..4)],
        prop_oneof![2 => Just(Vec::new()), 1 => prop::sample::subsequence(offer_types.clone(), 1..4)],
        prop_oneof![2 => Just(Vec::new()), 1 => Just(vec![Code::from("1")]), 1 => Just(vec![Code::from("4")])],
        prop::option::of(0u32..4),
        prop::option::of(0u32..4),
        1usize..30,
    )
        .prop_map(|(place, radius_km, activity, offer_type, orsan_level, min_crisis_t0, min_crisis_t60, limit)| {
            Flat {
                centre: place.map(|(lat, lon)| Centre::Point(GeoPoint { lat, lon })),
                radius_km: place.and(radius_km),
                activity,
                offer_type,
                orsan_level,
                min_crisis_t0,
                min_crisis_t60,
                limit,
                now: Some(NOW),
            }
            .request()
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 60,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(SEED),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sample_crisis_queries_match_the_reference(request in sample_request_strategy()) {
        check(sample_engine(), &request)?;
    }
}

fn request(pairs: &[(&str, &str)]) -> CrisisRequest {
    let mut request = ror_search::api::crisis_request(pairs.iter().copied()).expect("valid request");
    request.search.now = Some(NOW);
    request
}

/// The fields of a crisis request as the generators draw them.
#[derive(Debug, Clone, Default)]
struct Flat {
    centre: Option<Centre>,
    radius_km: Option<f64>,
    activity: Vec<Code>,
    offer_type: Vec<Code>,
    orsan_level: Vec<Code>,
    min_crisis_t0: Option<u32>,
    min_crisis_t60: Option<u32>,
    limit: usize,
    now: Option<i64>,
}

impl Flat {
    fn request(self) -> CrisisRequest {
        CrisisRequest {
            search: SearchRequest {
                centre: self.centre,
                radius_km: self.radius_km,
                activity: self.activity,
                offer_type: self.offer_type,
                min_crisis_t0: self.min_crisis_t0,
                min_crisis_t60: self.min_crisis_t60,
                limit: self.limit,
                now: self.now,
                ..SearchRequest::default()
            },
            orsan_level: self.orsan_level,
        }
    }
}

#[test]
fn the_random_data_exercises_every_case() {
    // Guards the generator: without these the property above would test less than it says.
    let engine = random_engine();
    let everything = reference::crisis(engine, &Flat { limit: 200, ..Flat::default() }.request(), NOW);
    assert!(everything.total_egs > 100, "{}", everything.total_egs);
    assert!(everything.by_departement.contains_key(&None), "an offer without département has crisis beds");
    assert!(everything.by_departement.contains_key(&Some("99".to_owned())));
    let dataset = &engine.data().dataset;
    assert!(dataset.offers.iter().any(|offer| offer.eg.is_none()));
    assert!(dataset.egs.iter().any(|eg| eg.orsan_level.is_none()));
    assert!(
        dataset.offers.iter().any(|offer| ror_search::engine::layout::offer_position(
            dataset,
            &engine.data().communes,
            offer
        )
        .is_none())
    );
    check(engine, &Flat { limit: 200, now: Some(NOW), ..Flat::default() }.request()).unwrap();
}

#[test]
fn radius_zero_finds_the_egs_at_the_centre() {
    let engine = random_engine();
    // A position with crisis beds (an offer with T0 > 0 that is open and placed).
    let everything = reference::crisis(engine, &Flat { limit: 200, ..Flat::default() }.request(), NOW);
    let dataset = &engine.data().dataset;
    let offer = everything
        .egs
        .iter()
        .flat_map(|eg| &eg.offers)
        .find_map(|(id, _, _)| {
            let offer = crate::common::offer(dataset, id);
            ror_search::engine::layout::offer_position(dataset, &engine.data().communes, offer)
        })
        .expect("a placed offer with crisis beds")
        .0;
    let request = request(&[
        ("lat", &offer.lat.to_string()),
        ("lon", &offer.lon.to_string()),
        ("radius_km", "0"),
        ("limit", "200"),
    ]);
    let response = engine.crisis(&request).unwrap();
    assert!(!response.egs.is_empty());
    assert!(response.egs.iter().all(|eg| eg.distance_m == Some(0.0)));
    check(engine, &request).unwrap();
}

#[test]
fn antimeridian_egs_are_found_across_it() {
    let engine = random_engine();
    let request = request(&[("lat", "-16.5"), ("lon", "-179.95"), ("radius_km", "150"), ("limit", "50")]);
    let response = engine.crisis(&request).unwrap();
    assert!(
        response.egs.iter().any(|eg| eg.eg.lon.is_some_and(|lon| lon > 179.0)),
        "no EG west of the line: {:?}",
        response.egs.iter().map(|eg| (eg.eg.id, eg.eg.lon)).collect::<Vec<_>>()
    );
    check(engine, &request).unwrap();
}

#[test]
fn sample_crisis_by_commune_overseas_and_corsica() {
    let engine = sample_engine();
    for commune in ["97411", "97302", "2A004", "33063", "69123"] {
        for extra in [&[][..], &[("radius_km", "50")][..], &[("orsan_level", "4")][..]] {
            let mut pairs = vec![("commune", commune), ("limit", "5")];
            pairs.extend_from_slice(extra);
            let request = request(&pairs);
            let response = engine.crisis(&request).unwrap();
            assert!(!response.egs.is_empty() || extra.iter().any(|(name, _)| *name == "orsan_level"), "{commune}");
            check(engine, &request).unwrap();
        }
    }
    // Without a centre: every EG of France with crisis beds, in EG order, no distances.
    let request = request(&[("limit", "200")]);
    let response = engine.crisis(&request).unwrap();
    assert_eq!(response.egs.len(), 200);
    assert!(response.egs.iter().all(|eg| eg.distance_m.is_none()));
    check(engine, &request).unwrap();
}
