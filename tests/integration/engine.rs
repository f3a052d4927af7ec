//! Every query type and filter against the brute-force reference, on seeded random data and on
//! the real sample data: same ids, same order, same distances, same counts and facets.

use std::sync::OnceLock;

use proptest::prelude::*;
use ror_search::engine::reference;
use ror_search::engine::request::{BBox, Centre, SearchRequest, SortKey};
use ror_search::engine::{Engine, ParamError};
use ror_search::model::access::ProfileSet;
use ror_search::model::rules::PriceBasis;
use ror_search::model::{Code, GeoPoint};
use ror_search::snapshot::SnapshotData;

use crate::engine_data::{CLUSTERS, NOW, check_total, communes, engine_of, instant_of, random_dataset};

/// The random-data engine, built once.
fn random_engine() -> &'static Engine {
    static ENGINE: OnceLock<(Engine, tempfile::TempDir)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = crate::common::temp_dir();
            let data = SnapshotData { dataset: random_dataset(20_261_123, 600), communes: communes() };
            (engine_of(data, dir.path()), dir)
        })
        .0
}

/// The sample-data engine (data-samples/), built once.
pub(crate) fn sample_engine() -> &'static Engine {
    static ENGINE: OnceLock<(Engine, tempfile::TempDir)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = crate::common::temp_dir();
            let output = ror_search::ingest::ingest(&[crate::common::crate_path("data-samples/ror-feed")], &mut |_| {})
                .expect("sample feed");
            let data = SnapshotData { dataset: output.dataset, communes: communes() };
            (engine_of(data, dir.path()), dir)
        })
        .0
}

/// Runs a request on the engine and on the reference and compares everything.
fn check(engine: &Engine, request: &SearchRequest) -> Result<(), TestCaseError> {
    let now = instant_of(request, request.now.unwrap_or(NOW));
    let request = SearchRequest { now: Some(now), ..request.clone() };
    let response = match engine.search(&request) {
        Ok(response) => response,
        Err(error) => {
            return Err(TestCaseError::fail(format!("engine refused {request:?}: {error}")));
        }
    };
    let expected = reference::search(engine, &request, now);
    let ids: Vec<&str> = response.results.iter().map(|hit| hit.id).collect();
    prop_assert_eq!(&ids, &expected.ids.iter().map(String::as_str).collect::<Vec<_>>(), "ids differ for {:?}", request);
    let distances: Vec<Option<f64>> = response.results.iter().map(|hit| hit.distance_m).collect();
    prop_assert_eq!(&distances, &expected.distances_m, "distances differ for {:?}", request);
    check_total(&request, response.total, response.total_exact, expected.total)?;
    if let Some(facets) = &response.facets {
        let as_map = |values: &[ror_search::engine::response::FacetValue]| {
            values
                .iter()
                .map(|value| (value.code.to_owned(), value.count))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        prop_assert_eq!(as_map(&facets.category), expected.facets[0].clone());
        prop_assert_eq!(as_map(&facets.offer_type), expected.facets[1].clone());
        prop_assert_eq!(as_map(&facets.departement), expected.facets[2].clone());
    }
    crate::rendering::check_page(engine, &request, &response)
}

fn centre_strategy() -> impl Strategy<Value = Option<Centre>> {
    let clusters = prop::sample::select(CLUSTERS.to_vec());
    prop_oneof![
        2 => Just(None),
        4 => (clusters.clone(), -1.0f64..1.0, -1.0f64..1.0).prop_map(|((lat, lon, _), dlat, dlon)| {
            let mut lon = lon + dlon;
            if lon > 180.0 { lon -= 360.0 }
            if lon < -180.0 { lon += 360.0 }
            Some(Centre::Point(GeoPoint { lat: (lat + dlat).clamp(-90.0, 90.0), lon }))
        }),
        1 => clusters.prop_map(|(_, _, commune)| Some(Centre::Commune(commune.to_owned()))),
        1 => any::<prop::sample::Index>().prop_map(|index| {
            // Exactly on an EG's position.
            let engine = random_engine();
            let point = engine.layout().positions[index.index(engine.layout().positions.len())];
            Some(Centre::Point(point))
        }),
        1 => Just(Some(Centre::Point(GeoPoint { lat: -16.5, lon: -179.95 }))),
    ]
}

fn codes(options: &'static [&'static str]) -> impl Strategy<Value = Vec<Code>> {
    prop::collection::vec(prop::sample::select(options), 0..3)
        .prop_map(|codes| codes.into_iter().map(Code::from).collect())
}

fn request_strategy() -> impl Strategy<Value = SearchRequest> {
    let geo = (
        centre_strategy(),
        prop_oneof![3 => Just(None), 1 => Just(Some(0.0)), 3 => (0.0f64..300.0).prop_map(Some), 1 => (0.0f64..1000.0).prop_map(Some)],
        prop_oneof![
            5 => Just(None),
            1 => (-180.0f64..180.0, -60.0f64..60.0, 1.0f64..120.0, 1.0f64..60.0).prop_map(|(lon, lat, width, height)| {
                let mut max_lon = lon + width;
                if max_lon > 180.0 { max_lon -= 360.0 }
                Some(BBox { min_lon: lon, min_lat: lat, max_lon, max_lat: (lat + height).min(90.0) })
            }),
            1 => Just(Some(BBox { min_lon: 170.0, min_lat: -25.0, max_lon: -170.0, max_lat: -10.0 })),
        ],
    );
    let filters = (
        (
            codes(&["500", "355", "202", "183", "101"]),
            codes(&["21", "22", "23", "24", "25", "27", "157", "20", "48"]),
            codes(&["298", "306", "022", "157", "013"]),
            codes(&["46", "47", "28", "32"]),
            codes(&["01", "02"]),
        ),
        prop::option::of(0.0f64..110.0),
        prop::option::of(1u8..=6),
        prop::option::of(30i64..150).prop_map(|euros| euros.map(|e| e * 100)),
        prop::sample::select(vec![PriceBasis::Gross, PriceBasis::OutOfPocket]),
        prop::option::of(0u32..4),
        prop::option::of(0u32..3),
        prop::option::of(0u32..3),
        prop::option::of(any::<bool>()),
    );
    let text = prop_oneof![
        4 => Just(None),
        1 => prop::sample::select(vec!["soleil", "maison", "heberg", "Résidences", "ehpad tilleul", "ALZHEIMER ", "chât", "s", "accueil de jour", "centre hosp", "xyzzy", "mer montagne"])
            .prop_map(|q| Some(q.to_owned())),
    ];
    let paging = (
        prop::sample::select(vec![
            None,
            Some(SortKey::Distance),
            Some(SortKey::Price),
            Some(SortKey::Available),
            Some(SortKey::Relevance),
            Some(SortKey::Name),
        ]),
        1usize..40,
        prop_oneof![4 => 0usize..20, 1 => 0usize..3000],
        any::<bool>(),
        any::<bool>(),
    );
    (geo, filters, text, paging)
        .prop_map(|(geo, filters, q, paging)| {
            let (centre, radius_km, bbox) = geo;
            let (
                (category, offer_type, activity, care_mode, reception),
                age,
                gir,
                max_price_cents,
                price_basis,
                min_available,
                min_crisis_t0,
                min_crisis_t60,
                aide_sociale,
            ) = filters;
            let (mut sort, limit, offset, facets, exact_total) = paging;
            let radius_km = if centre.is_some() { radius_km } else { None };
            if sort == Some(SortKey::Distance) && centre.is_none() {
                sort = None;
            }
            if sort == Some(SortKey::Relevance) && q.is_none() {
                sort = None;
            }
            SearchRequest {
                centre,
                radius_km,
                bbox,
                q,
                category,
                offer_type,
                activity,
                care_mode,
                reception,
                age,
                gir,
                max_price_cents,
                price_basis,
                min_available,
                min_crisis_t0,
                min_crisis_t60,
                aide_sociale,
                sort,
                limit,
                offset,
                facets,
                exact_total,
                explain: None,
                now: Some(NOW),
                profiles: ProfileSet::default(),
                fields: Default::default(),
            }
        })
        .prop_flat_map(|request| (Just(request), profiles_strategy(), crate::rendering::fields_strategy()))
        .prop_map(|(request, profiles, fields)| SearchRequest { fields, ..for_profiles(request, profiles) })
}

/// Access profiles: mostly 1 (sees everything), every single profile, and two sets.
fn profiles_strategy() -> impl Strategy<Value = ProfileSet> {
    use ror_search::model::access::Profile::*;
    prop_oneof![
        3 => Just(ProfileSet::of(Full)),
        6 => prop::sample::select(vec![Public, Restricted, MedicoSocial, NoContacts, InstalledOnly]).prop_map(ProfileSet::of),
        1 => Just(ProfileSet::from_profiles([Restricted, NoContacts])),
        1 => Just(ProfileSet::from_profiles([Public, MedicoSocial])),
    ]
}

/// A request as `profiles` may ask it: the filters and sorts on capacities it sees nowhere
/// dropped (those are 403s, tested apart).
fn for_profiles(mut request: SearchRequest, profiles: ProfileSet) -> SearchRequest {
    use ror_search::model::access::Field;
    request.profiles = profiles;
    if !profiles.sees_anywhere(Field::OperationalCapacity) {
        request.min_available = None;
        if request.sort == Some(SortKey::Available) {
            request.sort = None;
        }
    }
    if !profiles.sees_anywhere(Field::SupplementaryCapacity) {
        request.min_crisis_t0 = None;
        request.min_crisis_t60 = None;
    }
    request
}

/// Requests that take the nearest walk (centre, distance order, no text, no exact count).
fn nearest_walk_strategy() -> impl Strategy<Value = SearchRequest> {
    (request_strategy(), prop::sample::select(CLUSTERS.to_vec()), -0.7f64..0.7, -0.7f64..0.7).prop_map(
        |(mut request, (lat, lon, _), dlat, dlon)| {
            let mut lon = lon + dlon;
            if lon > 180.0 {
                lon -= 360.0
            }
            if lon < -180.0 {
                lon += 360.0
            }
            request.centre = Some(Centre::Point(GeoPoint { lat: lat + dlat, lon }));
            request.sort = Some(SortKey::Distance);
            request.q = None;
            request.facets = false;
            request.exact_total = false;
            request.offset %= 30;
            request
        },
    )
}

/// Requests with text around a centre (rings when there is no radius).
fn text_geo_strategy() -> impl Strategy<Value = SearchRequest> {
    (
        nearest_walk_strategy(),
        prop::sample::select(vec![
            "soleil",
            "maison",
            "heberg",
            "résidence",
            "ehpad",
            "accueil",
            "ch",
            "mer",
            "unit",
            "tilleul",
        ]),
        prop::sample::select(vec![None, Some(SortKey::Distance), Some(SortKey::Relevance), Some(SortKey::Name)]),
    )
        .prop_map(|(mut request, q, sort)| {
            request.q = Some(q.to_owned());
            request.sort = sort;
            request
        })
}

/// Requests that take the bulk plan (no centre, no text, no per-doc filter, a large region).
fn bulk_strategy() -> impl Strategy<Value = SearchRequest> {
    (
        request_strategy(),
        prop_oneof![2 => Just(None), 1 => Just(Some(BBox { min_lon: -180.0, min_lat: -60.0, max_lon: 180.0, max_lat: 60.0 })),
            1 => Just(Some(BBox { min_lon: -10.0, min_lat: 35.0, max_lon: 20.0, max_lat: 55.0 }))],
        prop::sample::select(vec![None, Some(SortKey::Name), Some(SortKey::Price), Some(SortKey::Available)]),
    )
        .prop_map(|(mut request, bbox, sort)| {
            request.centre = None;
            request.radius_km = None;
            request.q = None;
            request.bbox = bbox;
            request.sort = sort;
            request.age = None;
            request.max_price_cents = None;
            request.min_available = None;
            request.min_crisis_t0 = None;
            request.min_crisis_t60 = None;
            let profiles = request.profiles;
            for_profiles(request, profiles)
        })
}

/// Requests sorted by a static key (price, places, name) around a centre, where positions are
/// skipped once the page is full: ties on the key are frequent (many offers have 0 places).
fn static_sort_strategy() -> impl Strategy<Value = SearchRequest> {
    (
        nearest_walk_strategy(),
        prop::sample::select(vec![SortKey::Price, SortKey::Available, SortKey::Name]),
        prop::option::of(5.0f64..300.0),
    )
        .prop_map(|(mut request, sort, radius)| {
            request.sort = Some(sort);
            request.radius_km = radius;
            request.limit = request.limit.min(8);
            request.age = None;
            let profiles = request.profiles;
            for_profiles(request, profiles)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn static_sorts_around_a_centre_match_the_reference(request in static_sort_strategy()) {
        check(random_engine(), &request)?;
    }

    #[test]
    fn bulk_queries_match_the_reference(request in bulk_strategy()) {
        check(random_engine(), &request)?;
    }

    #[test]
    fn random_data_matches_the_reference(request in request_strategy()) {
        check(random_engine(), &request)?;
    }

    #[test]
    fn nearest_walks_match_the_reference(request in nearest_walk_strategy()) {
        check(random_engine(), &request)?;
    }

    #[test]
    fn text_around_a_centre_matches_the_reference(request in text_geo_strategy()) {
        check(random_engine(), &request)?;
    }
}

/// Requests around real places for the sample data.
pub(crate) fn sample_request_strategy() -> impl Strategy<Value = SearchRequest> {
    let places = prop::sample::select(vec![
        (44.8378, -0.5792),  // Bordeaux
        (48.8566, 2.3522),   // Paris
        (45.7606, 4.8594),   // Lyon Part-Dieu
        (43.2965, 5.3698),   // Marseille
        (44.5594, 2.0285),   // rural Aveyron
        (41.9267, 8.7369),   // Ajaccio
        (-20.8823, 55.4504), // Saint-Denis (Réunion)
        (4.9224, -52.3135),  // Cayenne
    ]);
    (request_strategy(), places, prop::option::of(1.0f64..80.0)).prop_map(|(mut request, (lat, lon), radius)| {
        if request.centre.is_some() {
            request.centre = Some(Centre::Point(GeoPoint { lat, lon }));
            request.radius_km = radius;
        }
        request.bbox = None;
        request.q = request.q.map(|q| match q.as_str() {
            "soleil" => "ehpad".to_owned(),
            "maison" => "hopital".to_owned(),
            "mer montagne" => "bordeaux".to_owned(),
            other => other.to_owned(),
        });
        request
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sample_data_matches_the_reference(request in sample_request_strategy()) {
        check(sample_engine(), &request)?;
    }
}

/// Selective queries over dense radii of the sample data: few matches among thousands of
/// positions, where a nearest walk gives up and enumerates the radius instead.
fn selective_dense_strategy() -> impl Strategy<Value = SearchRequest> {
    let places = prop::sample::select(vec![(48.8566, 2.3522), (45.7606, 4.8594), (43.2965, 5.3698), (50.6292, 3.0573)]);
    (
        places,
        -0.05f64..0.05,
        -0.05f64..0.05,
        5u32..60,
        prop::option::of(1u8..=6),
        45u32..110,
        0u32..3,
        0usize..3,
        prop::sample::select(vec![1usize, 5, 20]),
    )
        .prop_map(|((lat, lon), dlat, dlon, radius_km, gir, max_price, min_available, offset, limit)| {
            let mut pairs = vec![
                ("lat".to_owned(), (lat + dlat).to_string()),
                ("lon".to_owned(), (lon + dlon).to_string()),
                ("radius_km".to_owned(), radius_km.to_string()),
                ("category".to_owned(), "500".to_owned()),
                ("max_price".to_owned(), max_price.to_string()),
                ("min_available".to_owned(), min_available.to_string()),
                ("offset".to_owned(), offset.to_string()),
                ("limit".to_owned(), limit.to_string()),
            ];
            if let Some(gir) = gir {
                pairs.push(("gir".to_owned(), gir.to_string()));
            }
            let mut request =
                ror_search::api::search_request(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
                    .expect("valid request");
            request.now = Some(NOW);
            request
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 60, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn selective_queries_over_dense_radii_match_the_reference(request in selective_dense_strategy()) {
        check(sample_engine(), &request)?;
    }
}

fn request(pairs: &[(&str, &str)]) -> SearchRequest {
    let mut request = ror_search::api::search_request(pairs.iter().copied()).expect("valid request");
    request.now = Some(NOW);
    request
}

#[test]
fn radius_zero_finds_exactly_the_offers_at_the_centre() {
    let engine = random_engine();
    let position = engine.layout().positions[7];
    let request = request(&[
        ("lat", &position.lat.to_string()),
        ("lon", &position.lon.to_string()),
        ("radius_km", "0"),
        ("limit", "200"),
    ]);
    let response = engine.search(&request).unwrap();
    assert!(!response.results.is_empty());
    assert!(response.results.iter().all(|hit| hit.distance_m == Some(0.0)));
    check(engine, &request).unwrap();
}

#[test]
fn antimeridian_neighbours_are_found_across_it() {
    let engine = random_engine();
    // Centre just east of 180°: the cluster at 179.9° E is a few km away across the line.
    let request = request(&[("lat", "-16.5"), ("lon", "-179.95"), ("radius_km", "150"), ("limit", "50")]);
    let response = engine.search(&request).unwrap();
    assert!(response.results.iter().any(|hit| hit.lon.unwrap() > 179.0), "no hit west of the line");
    check(engine, &request).unwrap();
    let bbox = request_bbox("179,-18,-179,-15");
    check(engine, &bbox).unwrap();
    assert!(!engine.search(&bbox).unwrap().results.is_empty());
}

fn request_bbox(bbox: &str) -> SearchRequest {
    request(&[("bbox", bbox), ("limit", "100")])
}

#[test]
fn overseas_and_corsica_centres_by_commune() {
    let engine = sample_engine();
    for commune in ["97411", "97302", "2A004", "2B033"] {
        let request = request(&[("commune", commune), ("limit", "10")]);
        let response = engine.search(&request).unwrap();
        assert_eq!(response.results.len(), 10, "{commune}");
        let departement = &commune[..if commune.starts_with("97") { 3 } else { 2 }];
        let first = &response.results[0];
        assert!(
            first.eg.as_ref().unwrap().commune.as_ref().unwrap().code.starts_with(departement),
            "{commune}: nearest offer is in {:?}",
            first.eg.as_ref().unwrap().commune
        );
        check(engine, &request).unwrap();
    }
}

#[test]
fn empty_results_and_paging_past_the_end() {
    let engine = random_engine();
    let nothing = request(&[("q", "xyzzy")]);
    let response = engine.search(&nothing).unwrap();
    assert_eq!((response.total, response.results.len()), (0, 0));
    let past = request(&[("category", "500"), ("offset", "10000"), ("limit", "200")]);
    let response = engine.search(&past).unwrap();
    assert!(response.results.is_empty());
    assert!(response.total > 0);
    check(engine, &past).unwrap();
}

#[test]
fn the_readme_query_finds_real_ehpad_in_bordeaux() {
    // "EHPAD within 20 km of Bordeaux for GIR 2 under 80 EUR/day".
    let engine = sample_engine();
    let request = request(&[
        ("commune", "33063"),
        ("radius_km", "20"),
        ("category", "500"),
        ("gir", "2"),
        ("max_price", "80"),
        ("exact_total", "true"),
    ]);
    let response = engine.search(&request).unwrap();
    assert!(response.total >= 5, "{}", response.total);
    for hit in &response.results {
        let price = hit.price.as_ref().expect("a price");
        assert!(price.daily_total_cents <= 8_000);
        assert_eq!(price.dependance_band.code, "01");
        assert!(hit.distance_m.unwrap() <= 20_000.0);
        assert_eq!(hit.eg.as_ref().unwrap().category.as_ref().unwrap().code, "500");
    }
    check(engine, &request).unwrap();
}

#[test]
fn explain_says_which_filter_excluded_an_offer() {
    let engine = sample_engine();
    // EHPAD L'AMBARROISE AMBERIEU: 110.30 + 19.53 EUR/day for GIR 2.
    let mut request = request(&[
        ("commune", "01004"),
        ("radius_km", "10"),
        ("gir", "2"),
        ("max_price", "90"),
        ("explain", "hs-010002228-0"),
    ]);
    let explanation = engine.search(&request).unwrap().explain.unwrap();
    assert!(!explanation.matched);
    let price = explanation.criteria.iter().find(|c| c.parameter == "max_price").unwrap();
    assert!(!price.passed);
    assert_eq!(price.detail, "daily price 129.83 EUR against at most 90.00 EUR");
    request.max_price_cents = Some(15_000);
    let explanation = engine.search(&request).unwrap().explain.unwrap();
    assert!(explanation.matched, "{:?}", explanation.criteria);
    assert!(explanation.rank.is_some());
    let error = engine.search(&SearchRequest { explain: Some("nope".into()), ..request }).unwrap_err();
    assert_eq!(error.parameter, "explain");
}

#[test]
fn unknown_commune_and_codes_are_parameter_errors() {
    let engine = sample_engine();
    let error: ParamError = engine.search(&request(&[("commune", "99999")])).unwrap_err();
    assert_eq!((error.parameter.as_str(), error.message.as_str()), ("commune", "unknown INSEE commune code \"99999\""));
    let error = engine.search(&request(&[("category", "500,XYZ")])).unwrap_err();
    assert_eq!(error.parameter, "category");
    assert!(error.message.contains("XYZ"));
    // A real code absent from the snapshot is not an error; it matches nothing.
    let response = engine.search(&request(&[("offer_type", "196")])).unwrap();
    assert_eq!(response.total, 0);
}

#[test]
fn closed_offers_never_match() {
    let engine = random_engine();
    let closed: Vec<&ror_search::model::Offer> = engine
        .data()
        .dataset
        .offers
        .iter()
        .filter(|offer| {
            ror_search::model::rules::offer_closed_at(
                offer,
                offer.eg.map(|eg| &engine.data().dataset.egs[eg as usize]),
                NOW,
            )
        })
        .collect();
    assert!(!closed.is_empty());
    for offer in closed.iter().take(20) {
        let mut request = request(&[("explain", &offer.id), ("limit", "1")]);
        request.now = Some(NOW);
        let explanation = engine.search(&request).unwrap().explain.unwrap();
        assert!(!explanation.matched);
        assert!(explanation.criteria.iter().any(|c| c.parameter == "closed" && !c.passed));
    }
}

#[test]
fn nearest_crisis_beds_and_facets() {
    let engine = sample_engine();
    let nearest = request(&[("lat", "45.7606"), ("lon", "4.8594"), ("min_crisis_t0", "1"), ("limit", "10")]);
    let response = engine.search(&nearest).unwrap();
    assert_eq!(response.results.len(), 10);
    assert!(response.results.iter().all(|hit| hit.capacity.crisis_t0 >= Some(1)));
    check(engine, &nearest).unwrap();
    let faceted = request(&[("bbox", "-5.5,41,10,51.5"), ("facets", "true"), ("limit", "1")]);
    let response = engine.search(&faceted).unwrap();
    let facets = response.facets.as_ref().unwrap();
    assert_eq!(facets.category.iter().map(|value| value.count).sum::<u64>(), response.total);
    check(engine, &faceted).unwrap();
}

#[test]
fn persisted_layout_and_columns_equal_freshly_computed_ones() {
    let engine = random_engine();
    let layout = ror_search::engine::Layout::new(&engine.data().dataset, &engine.data().communes);
    let columns = ror_search::engine::Columns::new(engine.data(), &layout);
    assert_eq!(engine.layout(), &layout);
    assert_eq!(engine.columns(), &columns);
}

#[test]
fn short_prefixes_use_their_most_frequent_completions() {
    let engine = sample_engine();
    let text = engine.text().unwrap();
    let completions = text.prefix_expansions("ch");
    assert_eq!(completions.len(), ror_search::engine::text::MAX_PREFIX_EXPANSIONS, "the cap is exercised");
    assert!(completions.iter().all(|word| word.starts_with("ch")));
    for q in ["ch", "centre ch", "hebergement perm"] {
        for centre in [None, Some("33063")] {
            let mut pairs = vec![("q", q), ("limit", "30")];
            if let Some(commune) = centre {
                pairs.push(("commune", commune));
                pairs.push(("radius_km", "40"));
            }
            check(engine, &request(&pairs)).unwrap();
        }
    }
}

/// The exact counts of capacity minima of 0 or 1 (the live blocks' patterns): every
/// combination of the three minima, for every single profile and two sets (each sees free
/// places on other docs), over a whole-country, a radius and a bbox region, on both datasets,
/// at the clock's instant (the patterns' interval) and at the tests' fixed one (doc by doc).
#[test]
fn capacity_minima_counts_match_the_reference_for_every_profile() {
    use ror_search::model::access::Profile::*;
    let profile_sets = [
        ProfileSet::of(Full),
        ProfileSet::of(Public),
        ProfileSet::of(Restricted),
        ProfileSet::of(MedicoSocial),
        ProfileSet::of(NoContacts),
        ProfileSet::of(InstalledOnly),
        ProfileSet::from_profiles([Restricted, NoContacts]),
        ProfileSet::from_profiles([Public, MedicoSocial]),
    ];
    let regions: [&[(&str, &str)]; 3] = [
        &[("lat", "46.5"), ("lon", "2.5")],
        &[("lat", "48.8566"), ("lon", "2.3522"), ("radius_km", "40")],
        &[("bbox", "-1.5,43,6,47")],
    ];
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut checked = 0;
    for engine in [sample_engine(), random_engine()] {
        for minima in 1..8u32 {
            for region in regions {
                let mut pairs = region.to_vec();
                let values = [minima & 1, minima >> 1 & 1, minima >> 2 & 1].map(|bit| bit.to_string());
                for (name, value) in ["min_available", "min_crisis_t0", "min_crisis_t60"].into_iter().zip(&values) {
                    if value == "1" {
                        pairs.push((name, value)); // (a minimum given at all must be one the profile sees)
                    }
                }
                pairs.push(("limit", "4")); // (even: `check` keeps the instant given)
                for profiles in profile_sets {
                    for now in [clock, NOW] {
                        let mut request = request(&pairs);
                        request.profiles = profiles;
                        request.now = Some(now);
                        if engine.search(&request).is_err() {
                            continue; // a minimum this profile may not ask (403 over HTTP)
                        }
                        check(engine, &request).unwrap();
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100, "{checked} requests checked");
}

/// Totals of nearest walks that stop at their first hit, with codes frequent (counted by dense
/// bitsets) and rare (their posting list leads), and filters checked per doc (price, age,
/// capacity minima above 1), on both datasets: the count apart must equal the reference's.
#[test]
fn counts_with_rare_and_frequent_codes_match_the_reference() {
    let mut checked = 0;
    for engine in [sample_engine(), random_engine()] {
        let mut counts: std::collections::HashMap<String, usize> = Default::default();
        for offer in &engine.data().dataset.offers {
            if let Some(activity) = &offer.activity {
                *counts.entry(activity.to_string()).or_default() += 1;
            }
        }
        let mut by_count: Vec<(usize, String)> = counts.into_iter().map(|(code, count)| (count, code)).collect();
        by_count.sort();
        let rare = by_count.iter().filter(|(count, _)| *count >= 3).take(3);
        let frequent = by_count.iter().rev().take(3);
        let activities: Vec<String> = rare.chain(frequent).map(|(_, code)| code.clone()).collect();
        assert!(activities.len() >= 4, "{activities:?}");
        let filters: [&[(&str, &str)]; 6] = [
            &[("max_price", "90")],
            &[("age", "80")],
            &[("min_available", "2")],
            &[("max_price", "150"), ("min_available", "1"), ("gir", "2")],
            &[("age", "15"), ("aide_sociale", "true")],
            &[("max_price", "70"), ("age", "70"), ("min_crisis_t0", "2")],
        ];
        let centres = (0..4).map(|k| engine.layout().positions[k * engine.layout().positions.len() / 4]);
        for centre in centres {
            let (lat, lon) = (centre.lat.to_string(), centre.lon.to_string());
            for activity in &activities {
                for &filter in &filters {
                    for extra in [None, Some(activity.as_str())] {
                        let mut pairs = vec![("lat", lat.as_str()), ("lon", lon.as_str()), ("limit", "1")];
                        pairs.extend_from_slice(filter);
                        if let Some(activity) = extra {
                            pairs.push(("activity", activity));
                        }
                        let mut request = request(&pairs);
                        request.profiles = ProfileSet::of(ror_search::model::access::Profile::Full);
                        check(engine, &request).unwrap();
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 200, "{checked} requests checked");
}
