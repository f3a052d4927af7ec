//! The IG example instances (JSON as published, FSH turned into JSON by hand) read right.

use ror_search::ingest::fhir::read::{Outcome, Parsed, ParsedOrganization, parse_resource};
use ror_search::ingest::ingest_str;
use ror_search::model::GeoPoint;
use ror_search::model::rules::CapacityTotals;
use ror_search::util::time::parse_fhir_datetime;

use crate::common::{fixture_text, location, offer, reasons};

fn parse(relative: &str) -> (Parsed, Vec<String>) {
    let text = fixture_text(relative);
    let resource_type =
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["resourceType"].as_str().unwrap().to_owned();
    match parse_resource(&resource_type, &text) {
        Outcome::Accepted { parsed, warnings } => (*parsed, warnings),
        other => panic!("{relative} not accepted: {other:?}"),
    }
}

fn time(text: &str) -> Option<i64> {
    Some(parse_fhir_datetime(text).unwrap())
}

#[test]
fn orleans_location_capacities_and_position() {
    let (Parsed::Location(location), warnings) = parse("ror-ig/fsh-as-json/Location-ror-location-exemple-1.json")
    else {
        panic!("not a location")
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(location.id, "ror-location-exemple-1");
    assert_eq!(location.identifier.as_deref(), Some("24/1073"));
    assert_eq!(location.name.as_deref(), Some("UNITE DE SURVEILLANCE CONTINUE CHIR"));
    assert_eq!(location.position, Some(GeoPoint { lat: 47.834781, lon: 1.92204 }));
    assert_eq!(location.position_reliable, Some(true));
    assert_eq!(location.commune.as_deref(), Some("45234"));
    assert_eq!(location.function.as_deref(), Some("001"));
    assert_eq!(location.address.city.as_deref(), Some("ORLEANS"));
    assert_eq!(location.address.postal_code.as_deref(), Some("45000"));
    assert_eq!(location.last_updated, time("2024-12-05T01:42:39Z"));
    assert_eq!(location.capacities.len(), 5);

    let totals = CapacityTotals::of_records(&location.capacities);
    assert_eq!(totals.installed, 15);
    assert_eq!(totals.available, 3, "0 Homme + 0 Femme + 3 Indifférencié");
    assert_eq!(totals.available_updated_at, time("2024-07-08T18:15:39Z"));
    assert_eq!(totals.crisis_t0, 0);

    let crisis = location.capacities.iter().find(|record| record.status == "06").unwrap();
    assert_eq!(crisis.additional_bed_type.as_deref(), Some("03"));
    assert_eq!(crisis.crisis_type.as_deref(), Some("02"));
    assert_eq!(crisis.capacity_type, "01");
    assert_eq!(crisis.temporality, "01");
    assert_eq!(crisis.source_type.as_deref(), Some("01"));
    assert_eq!(crisis.temporary_assignment.as_deref(), Some("01"));
    let genders: Vec<_> =
        location.capacities.iter().filter(|r| r.status == "02").map(|r| r.gender.as_deref().unwrap()).collect();
    assert_eq!(genders, ["02", "01", "03"]);
}

#[test]
fn versailles_location_from_the_built_json() {
    let (Parsed::Location(location), _) = parse("ror-ig/json-examples/Location-ror-location-exemple.json") else {
        panic!("not a location")
    };
    assert_eq!(location.commune.as_deref(), Some("78646"));
    assert_eq!(location.address.lines, ["7 rue porte de Buc"]);
    assert_eq!(location.address.city.as_deref(), Some("Versailles"));
    assert_eq!(location.position, None);
    assert!(location.capacities.is_empty());
    assert_eq!(location.last_updated, time("2023-12-20T09:00:00Z"));
}

#[test]
fn gynaecology_offer_from_the_built_json() {
    let (Parsed::Offer(parsed), warnings) = parse("ror-ig/json-examples/HealthcareService-1234564.json") else {
        panic!("not an offer")
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    let offer = &parsed.offer;
    assert_eq!(offer.id, "1234564");
    assert_eq!(offer.identifier.as_deref(), Some("06/0099999"));
    assert_eq!(offer.name, "5812  Chirurgie gynécologique - HOSPITALISATION COMPLETE");
    assert_eq!(offer.offer_type.as_deref(), Some("157"));
    assert_eq!(offer.activity_field.as_deref(), Some("01"));
    assert_eq!(offer.activity.as_deref(), Some("022"));
    assert_eq!(offer.care_mode, None, "the example has no TRE_R213 characteristic");
    assert_eq!(offer.region.as_deref(), Some("06"));
    let age = offer.age_range.unwrap();
    assert_eq!((age.min_years, age.max_years), (Some(15.0), Some(150.0)));
    assert!(!offer.sensitive_unit);
    assert_eq!(offer.created_at, time("2017-11-27T17:12:28Z"));
    assert_eq!(offer.last_updated, time("2025-04-08T13:05:27Z"));
    assert_eq!(parsed.provided_by, "Organization/999999");
    assert_eq!(parsed.location_references, ["Location/888888"]);
}

#[test]
fn neurosurgery_offer_from_fsh() {
    let (Parsed::Offer(parsed), _) = parse("ror-ig/fsh-as-json/HealthcareService-ror-healthcareservice-exemple.json")
    else {
        panic!("not an offer")
    };
    let offer = &parsed.offer;
    assert_eq!(offer.name, "Hospitalisation complète de Neurochirurgie");
    assert_eq!(offer.identifier.as_deref(), Some("ZZZ"));
    assert_eq!(offer.activity_field.as_deref(), Some("01"));
    assert_eq!(offer.activity.as_deref(), Some("183"));
    assert_eq!(offer.care_mode.as_deref(), Some("28"));
    let age = offer.age_range.unwrap();
    assert_eq!((age.min_years, age.max_years), (Some(18.0), Some(90.0)));
    assert_eq!(offer.created_at, time("2023-12-09T13:30:00Z"));
    assert_eq!(parsed.provided_by, "Organization/5958");
}

#[test]
fn city_offer_from_fsh() {
    let (Parsed::Offer(parsed), _) =
        parse("ror-ig/fsh-as-json/HealthcareService-ror-healthcareservice-exemple-ville.json")
    else {
        panic!("not an offer")
    };
    let offer = &parsed.offer;
    assert_eq!(offer.name, "Cabinet du Dr Julie JOURDIN");
    assert_eq!(offer.activity_field.as_deref(), Some("05"));
    assert_eq!(offer.activity.as_deref(), Some("437"));
    assert_eq!(offer.care_mode.as_deref(), Some("32"));
    let age = offer.age_range.unwrap();
    assert_eq!((age.min_years, age.max_years), (Some(0.0), Some(120.0)));
}

#[test]
fn eg_and_ej_from_fsh() {
    let (Parsed::Organization(ParsedOrganization::Eg { eg, part_of }), _) =
        parse("ror-ig/fsh-as-json/Organization-ror-organisation-exemple-eg.json")
    else {
        panic!("not an EG")
    };
    assert_eq!(eg.name, "Quiétude BOIS COLOMBES");
    assert_eq!(eg.finess.as_deref(), Some("458174839"));
    assert_eq!(eg.siret, None, "the FSH numSIRET slice has no value");
    assert_eq!(eg.category.as_deref(), Some("460"));
    assert!(eg.aide_sociale());
    assert_eq!(eg.address.city.as_deref(), Some("BOIS-COLOMBES"));
    assert_eq!(eg.address.postal_code.as_deref(), Some("92270"));
    assert_eq!(eg.created_at, time("2023-12-09T13:30:00Z"));
    assert_eq!(part_of.as_deref(), Some("Organization/1111"));

    let (Parsed::Organization(ParsedOrganization::Ej(ej)), _) =
        parse("ror-ig/fsh-as-json/Organization-ror-organization-exemple-ej.json")
    else {
        panic!("not an EJ")
    };
    assert_eq!(ej.name.as_deref(), Some("Quiétude"));
    assert_eq!(ej.siren.as_deref(), Some("921317258"));
    assert_eq!(ej.legal_status.as_deref(), Some("72"));
    assert_eq!(ej.finess, None, "idNatSt prefix 2 is a SIREN, not a FINESS");
}

#[test]
fn linked_bundle_resolves_the_chain_and_accounts_for_everything() {
    let (dataset, report) = ingest_str("linked-bundle.json", &fixture_text("ror-ig/linked-bundle.json"));
    let reasons = reasons(&report);
    assert_eq!(report.totals.read, 10);
    assert_eq!(report.totals.accepted, 5, "EJ, EG, 2 locations, neurosurgery offer");
    assert_eq!(report.totals.ignored, 3, "PractitionerRole, Practitioner, Task");
    assert_eq!(report.totals.rejected, 2);
    assert!(
        reasons.iter().any(|r| r == "providedBy: Organization/999999 is not in the feed (dangling reference)"),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r == "providedBy: Organization/4947 is not in the feed (dangling reference)"),
        "{reasons:?}"
    );
    assert_eq!(report.rejects[0].origin, "linked-bundle.json entry 4");

    let neurosurgery = offer(&dataset, "ror-healthcareservice-exemple");
    let eg = &dataset.egs[neurosurgery.eg.unwrap() as usize];
    assert_eq!(eg.id, "5958");
    let ej = &dataset.ejs[eg.ej.unwrap() as usize];
    assert_eq!(ej.id, "1111");
    assert_eq!(ej.name.as_deref(), Some("Quiétude"));
    let orleans = &dataset.locations[neurosurgery.locations[0] as usize];
    assert_eq!(orleans.id, "5253");
    assert_eq!(CapacityTotals::of_records(&orleans.capacities).available, 3);
    assert_eq!(location(&dataset, "ror-location-exemple").commune.as_deref(), Some("78646"));
}
