//! The bundled sample feed (data-samples/) reads whole and carries the real facts it claims.

use std::sync::OnceLock;

use ror_search::ingest::{IngestOutput, ingest};
use ror_search::model::rules::{EgPrices, GirPolicy};

use crate::common::crate_path;

fn sample() -> &'static IngestOutput {
    static SAMPLE: OnceLock<IngestOutput> = OnceLock::new();
    SAMPLE.get_or_init(|| ingest(&[crate_path("data-samples/ror-feed")], &mut |_| {}).expect("sample feed"))
}

#[test]
fn sample_feed_is_read_without_rejects() {
    let output = sample();
    assert!(output.report.rejects.is_empty(), "{:?}", &output.report.rejects[..output.report.rejects.len().min(5)]);
    assert!(output.report.warnings.is_empty(), "{:?}", &output.report.warnings[..output.report.warnings.len().min(5)]);
    assert!(output.report.reconciles());
    let dataset = &output.dataset;
    let ehpad = dataset.egs.iter().filter(|eg| eg.category.as_deref() == Some("500")).count();
    assert_eq!(ehpad, 7_501, "every EHPAD of FINESS 2021 with coordinates");
    assert!(dataset.egs.iter().all(|eg| eg.position.is_some()));
    assert!(dataset.offers.len() > 40_000);
}

#[test]
fn real_ehpad_prices_come_through() {
    let dataset = &sample().dataset;
    // FINESS 010002228, EHPAD L'AMBARROISE AMBERIEU: 110.30 EUR/day single room (CNSA 2023),
    // dependency 586 / 371 / 158 EUR per month (CNSA 2022) = 19.53 / 12.37 / 5.27 EUR per day.
    let eg = dataset.egs.iter().find(|eg| eg.finess.as_deref() == Some("010002228")).unwrap();
    assert_eq!(eg.name, "EHPAD L'AMBARROISE AMBERIEU");
    assert_eq!(eg.category.as_deref(), Some("500"));
    let position = eg.position.unwrap();
    assert_eq!((position.lat, position.lon), (45.957624, 5.341582));
    assert_eq!(eg.address.commune.as_deref(), Some("01004"), "Ambérieu-en-Bugey");
    let prices = EgPrices::of_tariffs(&eg.tariffs);
    assert_eq!(prices.hebergement_cents, Some(11_030));
    assert_eq!(prices.dependance_cents, [Some(1_953), Some(1_237), Some(527)]);
    assert!(!eg.aide_sociale(), "CNSA: tarif partiel, non habilité aide sociale");
    let ehpad_offer = dataset
        .offers
        .iter()
        .find(|offer| {
            offer.eg.map(|index| &dataset.egs[index as usize].id) == Some(&eg.id)
                && offer.offer_type.as_deref() == Some("21")
        })
        .unwrap();
    assert_eq!(GirPolicy::of_offer_type(ehpad_offer.offer_type.as_deref()), GirPolicy::Dependent);
}

#[test]
fn overseas_and_corsica_are_in() {
    let dataset = &sample().dataset;
    // By INSEE commune code (FINESS numbers of overseas sites start with 970).
    let in_department = |prefix: &str| {
        dataset.egs.iter().filter(|eg| eg.address.commune.as_deref().is_some_and(|c| c.starts_with(prefix))).count()
    };
    assert!(in_department("2A") > 0 && in_department("2B") > 0);
    assert!(in_department("974") > 0, "La Réunion");
    assert!(in_department("973") > 0, "Guyane");
    let reunion =
        dataset.egs.iter().find(|eg| eg.address.commune.as_deref().is_some_and(|c| c.starts_with("974"))).unwrap();
    let position = reunion.position.unwrap();
    assert!((-21.5..-20.8).contains(&position.lat) && (55.1..55.9).contains(&position.lon), "{position:?}");
}
