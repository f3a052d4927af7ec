//! Model → FHIR JSON → model gives back the same dataset (property test).

use proptest::prelude::*;
use ror_search::ingest::fhir::write::write_ndjson;
use ror_search::ingest::ingest_str;
use ror_search::model::{Address, AgeRange, CapacityRecord, Code, Dataset, Eg, Ej, GeoPoint, Location, Offer, Tariff};

fn code(options: &'static [&'static str]) -> impl Strategy<Value = Code> {
    prop::sample::select(options).prop_map(Code::from)
}

fn optional_code(options: &'static [&'static str]) -> impl Strategy<Value = Option<Code>> {
    prop::option::of(code(options))
}

fn minute() -> impl Strategy<Value = i64> {
    (1_500_000_000i64 / 60..1_900_000_000 / 60).prop_map(|minutes| minutes * 60)
}

fn capacity() -> impl Strategy<Value = CapacityRecord> {
    (
        code(&["01", "02", "03"]),
        code(&["01", "02", "03", "04", "05", "06"]),
        code(&["01", "02", "03", "04", "05"]),
        optional_code(&["01", "02", "04"]),
        optional_code(&["01", "02", "03"]),
        optional_code(&["02"]),
        0u32..500,
        prop::option::of(minute()),
    )
        .prop_map(
            |(capacity_type, status, temporality, gender, additional_bed_type, crisis_type, count, updated_at)| {
                CapacityRecord {
                    capacity_type,
                    status,
                    temporality,
                    gender,
                    additional_bed_type,
                    crisis_type,
                    temporary_assignment: Some("01".into()),
                    source_type: Some("01".into()),
                    count,
                    updated_at,
                    ..CapacityRecord::default()
                }
            },
        )
}

fn tariff() -> impl Strategy<Value = Tariff> {
    (
        code(&["02", "03"]),
        1i64..50_000,
        optional_code(&["01", "02", "03"]),
        prop::option::of(any::<bool>()),
        optional_code(&["01", "02"]),
    )
        .prop_map(|(price_type, amount_cents, band, under_60, residential_type)| Tariff {
            dependency_level: if price_type == "03" { band } else { None },
            residential_type: if price_type == "02" { residential_type } else { None },
            under_60,
            price_type,
            unit: "2".into(),
            amount_cents,
            currency: Some("EUR".into()),
            ..Tariff::default()
        })
}

fn position() -> impl Strategy<Value = GeoPoint> {
    (-90.0f64..=90.0, -180.0f64..=180.0).prop_map(|(lat, lon)| GeoPoint { lat, lon })
}

fn dataset() -> impl Strategy<Value = Dataset> {
    let egs = prop::collection::vec(
        (
            "[A-Za-zÀ-ÿ' -]{1,30}",
            optional_code(&["500", "355", "202", "183"]),
            prop::option::of(position()),
            prop::collection::vec(tariff(), 0..4),
            prop::option::of(minute()),
            any::<bool>(),
        ),
        1..5,
    );
    let locations =
        prop::collection::vec((prop::option::of(position()), prop::collection::vec(capacity(), 0..6)), 1..5);
    let offers = prop::collection::vec(
        (
            "[A-Za-zÀ-ÿ' -]{1,30}",
            optional_code(&["21", "22", "24", "157"]),
            optional_code(&["01", "04"]),
            optional_code(&["298", "022", "183"]),
            optional_code(&["46", "47", "28"]),
            optional_code(&["01", "02"]),
            prop::option::of((prop::option::of(0u8..100), prop::option::of(0u8..150))),
            any::<bool>(),
            prop::option::of(minute()),
            prop::option::of(minute()),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
        ),
        0..8,
    );
    (egs, locations, offers).prop_map(|(egs, locations, offers)| {
        let mut dataset = Dataset::default();
        dataset.ejs.push(Ej {
            id: "ej-0".into(),
            finess: Some("010780054".into()),
            name: Some("Gestionnaire".into()),
            ..Ej::default()
        });
        for (index, (name, category, position, tariffs, last_updated, aide_sociale)) in egs.into_iter().enumerate() {
            dataset.egs.push(Eg {
                id: format!("eg-{index}"),
                finess: Some(format!("0100000{index:02}").into()),
                name: name.trim().to_owned() + "x",
                category,
                ej: Some(0),
                address: Address {
                    city: Some("ORLEANS".into()),
                    postal_code: Some("45000".into()),
                    commune: Some("45234".into()),
                    ..Address::default()
                },
                position,
                tariffs,
                financial_help: if aide_sociale { vec!["02".into()] } else { Vec::new() },
                last_updated,
                ..Eg::default()
            });
        }
        for (index, (position, capacities)) in locations.into_iter().enumerate() {
            dataset.locations.push(Location {
                id: format!("loc-{index}"),
                commune: Some("45234".into()),
                address: Address { commune: Some("45234".into()), ..Address::default() },
                position,
                capacities,
                ..Location::default()
            });
        }
        let (eg_count, location_count) = (dataset.egs.len(), dataset.locations.len());
        for (index, offer) in offers.into_iter().enumerate() {
            let (
                name,
                offer_type,
                field,
                activity,
                care_mode,
                reception,
                ages,
                sensitive,
                closed_from,
                last_updated,
                eg,
                location,
            ) = offer;
            dataset.offers.push(Offer {
                id: format!("hs-{index}"),
                identifier: Some(format!("24/{index}")),
                name: name.trim().to_owned() + "x",
                eg: Some(eg.index(eg_count) as u32),
                offer_type,
                activity_field: field,
                activity,
                care_mode,
                reception,
                // a range without bounds reads back as none (it restricts nothing)
                age_range: ages.filter(|(min, max)| min.is_some() || max.is_some()).map(|(min, max)| {
                    let (min, max) = (min.map(f64::from), max.map(f64::from));
                    match (min, max) {
                        (Some(a), Some(b)) if a > b => AgeRange { min_years: Some(b), max_years: Some(a) },
                        _ => AgeRange { min_years: min, max_years: max },
                    }
                }),
                sensitive_unit: sensitive,
                closed_from,
                locations: vec![location.index(location_count) as u32],
                last_updated,
                ..Offer::default()
            });
        }
        dataset
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn written_feed_reads_back_identical(dataset in dataset()) {
        let mut bytes = Vec::new();
        write_ndjson(&dataset, &mut bytes).unwrap();
        let (read, report) = ingest_str("feed.ndjson", std::str::from_utf8(&bytes).unwrap());
        prop_assert!(report.rejects.is_empty(), "{:?}", report.rejects);
        prop_assert!(report.reconciles());
        prop_assert_eq!(read, dataset);
    }
}
