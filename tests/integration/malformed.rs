//! Malformed input: every case is rejected (or warned about) with the reason asserted, the
//! counts reconcile, and nothing panics.

use ror_search::ingest::ingest_str;
use serde_json::{Value, json};

use crate::common::{assert_single_reject, reasons};

const ROR: &str = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/";

fn nos(table: &str) -> String {
    format!("https://mos.esante.gouv.fr/NOS/{table}/FHIR/{}", table.replacen('_', "-", 1))
}

fn concept(table: &str, code: &str) -> Value {
    json!({ "coding": [{ "system": nos(table), "code": code }] })
}

fn capacity(status: &str, temporality: &str, count: Value) -> Value {
    json!({
        "url": format!("{ROR}ror-location-supported-capacity"),
        "extension": [
            { "url": "capacityType", "valueCodeableConcept": concept("TRE_R329-NatureCapacite", "02") },
            { "url": "capacityStatus", "valueCodeableConcept": concept("TRE_R330-TypeStatutCapacite", status) },
            { "url": "temporalityCapacity", "valueCodeableConcept": concept("TRE_R331-TemporaliteCapacite", temporality) },
            { "url": "nbCapacity", "valueInteger": count },
            { "url": "capacityUpdateDate", "valueDateTime": "2026-10-30T08:00:00Z" }
        ]
    })
}

/// A small valid feed: EJ, EG (EHPAD with a tariff), a location with capacities, an offer.
fn valid_feed() -> Vec<Value> {
    vec![
        json!({
            "resourceType": "Organization", "id": "ej1",
            "identifier": [{ "type": concept("TRE_G07-TypeIdentifiantStructure", "1"), "value": "010780054" }],
            "name": "Gestionnaire"
        }),
        json!({
            "resourceType": "Organization", "id": "eg1",
            "meta": { "lastUpdated": "2026-10-01T00:00:00Z" },
            "identifier": [{ "type": concept("TRE_G07-TypeIdentifiantStructure", "1"), "value": "010002228" }],
            "type": [concept("TRE_R66-CategorieEtablissement", "500")],
            "name": "EHPAD du test",
            "partOf": { "reference": "Organization/ej1" },
            "address": [{
                "city": "AMBERIEU EN BUGEY", "postalCode": "01500",
                "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/geolocation", "extension": [
                    { "url": "latitude", "valueDecimal": 45.957624 },
                    { "url": "longitude", "valueDecimal": 5.341582 }
                ] }]
            }],
            "extension": [{ "url": format!("{ROR}ror-organization-price"), "extension": [
                { "url": "priceType", "valueCodeableConcept": concept("TRE_R246-TypeTarif", "02") },
                { "url": "priceUnit", "valueCodeableConcept": concept("TRE_R228-UnitePrix", "2") },
                { "url": "amount", "valueMoney": { "value": 110.3, "currency": "EUR" } }
            ] }]
        }),
        json!({
            "resourceType": "Location", "id": "loc1",
            "position": { "latitude": 45.957624, "longitude": 5.341582 },
            "extension": [
                { "url": format!("{ROR}ror-commune-cog"), "valueCodeableConcept": concept("TRE_R13-CommuneOM", "01004") },
                capacity("01", "01", json!(80)),
                capacity("02", "01", json!(2))
            ]
        }),
        json!({
            "resourceType": "HealthcareService", "id": "hs1",
            "name": "Hébergement permanent",
            "providedBy": { "reference": "Organization/eg1" },
            "location": [{ "reference": "Location/loc1" }],
            "category": [concept("TRE_R244-CategorieOrganisation", "21")],
            "type": [concept("TRE_R227-ChampActivite", "04")],
            "characteristic": [concept("TRE_R213-ModePriseEnCharge", "46")],
            "extension": [{ "url": format!("{ROR}ror-healthcareservice-patient-type"), "extension": [
                { "url": "ageRange", "valueRange": { "low": { "value": 60, "code": "a" }, "high": { "value": 150, "code": "a" } } }
            ] }]
        }),
    ]
}

fn ndjson(resources: &[Value]) -> String {
    resources.iter().map(|resource| serde_json::to_string(resource).unwrap() + "\n").collect()
}

/// Ingests the valid feed after `mutate` changed it.
fn ingest_mutated(mutate: impl FnOnce(&mut Vec<Value>)) -> ror_search::ingest::IngestReport {
    let mut feed = valid_feed();
    mutate(&mut feed);
    ingest_str("feed.ndjson", &ndjson(&feed)).1
}

#[test]
fn the_valid_feed_is_accepted_whole() {
    let (dataset, report) = ingest_str("feed.ndjson", &ndjson(&valid_feed()));
    assert!(reasons(&report).is_empty());
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!((dataset.ejs.len(), dataset.egs.len(), dataset.locations.len(), dataset.offers.len()), (1, 1, 1, 1));
    assert_eq!(dataset.egs[0].tariffs[0].amount_cents, 11_030);
}

#[test]
fn truncated_json_line() {
    let mut text = ndjson(&valid_feed());
    let cut = text.rfind("\"providedBy\"").unwrap();
    text.truncate(cut);
    let (dataset, report) = ingest_str("feed.ndjson", &text);
    assert_single_reject(&report, "invalid JSON: EOF while parsing");
    assert_eq!(report.rejects[0].origin, "feed.ndjson:4");
    assert_eq!(report.rejects[0].resource_type, "unknown");
    assert_eq!(dataset.locations.len(), 1, "the lines before the cut are kept");
}

#[test]
fn truncated_bundle_keeps_what_came_before() {
    let bundle = json!({ "resourceType": "Bundle", "type": "searchset",
        "entry": valid_feed().into_iter().map(|resource| json!({ "resource": resource })).collect::<Vec<_>>() });
    let mut text = serde_json::to_string_pretty(&bundle).unwrap();
    // Cut inside the last entry (the offer).
    let cut = text.rfind("\"providedBy\"").unwrap();
    text.truncate(cut);
    let (dataset, report) = ingest_str("bundle.json", &text);
    let reasons = reasons(&report);
    assert!(reasons.iter().any(|reason| reason.starts_with("invalid JSON: EOF while parsing")), "{reasons:?}");
    assert!(report.rejects.iter().any(|issue| issue.origin == "bundle.json entry 3"), "{:?}", report.rejects);
    assert_eq!(dataset.egs.len(), 1);
}

#[test]
fn not_json_at_all() {
    let report = ingest_str("feed.ndjson", "hello\n").1;
    assert_single_reject(&report, "invalid JSON: expected value");
    let report = ingest_str("feed.json", "42").1;
    assert_single_reject(&report, "not a JSON object or array");
}

#[test]
fn non_numeric_capacity() {
    let report = ingest_mutated(|feed| feed[2]["extension"][1]["extension"][3]["valueInteger"] = json!("quinze"));
    let reasons = reasons(&report);
    assert_eq!(reasons.len(), 2, "the location and the offer that uses it: {reasons:?}");
    assert!(
        reasons[0].contains("extension[1].extension[3].valueInteger: invalid type: string \"quinze\", expected i64"),
        "{reasons:?}"
    );
    assert!(reasons[1].starts_with("location[0]: Location/loc1 was rejected (extension[1]"), "{reasons:?}");
}

#[test]
fn negative_or_fractional_capacity() {
    let report = ingest_mutated(|feed| feed[2]["extension"][2]["extension"][3]["valueInteger"] = json!(-2));
    assert!(reasons(&report)[0].contains("valueInteger: -2 is not a count"), "{:?}", report.rejects);
    let report = ingest_mutated(|feed| feed[2]["extension"][2]["extension"][3]["valueInteger"] = json!(2.5));
    assert!(reasons(&report)[0].contains("invalid type: floating point `2.5`, expected i64"), "{:?}", report.rejects);
}

#[test]
fn latitude_out_of_range() {
    let report = ingest_mutated(|feed| feed[2]["position"]["latitude"] = json!(95.0));
    assert_eq!(reasons(&report)[0], "position: latitude outside [-90, 90] (latitude 95, longitude 5.341582)");
    let report =
        ingest_mutated(|feed| feed[1]["address"][0]["extension"][0]["extension"][1]["valueDecimal"] = json!(200.0));
    assert!(reasons(&report)[0].contains("(geolocation): longitude outside [-180, 180]"), "{:?}", report.rejects);
    let report = ingest_mutated(|feed| {
        feed[2]["position"].as_object_mut().unwrap().remove("longitude");
    });
    assert!(reasons(&report)[0].contains("position: latitude and longitude must both be given"));
}

#[test]
fn wrong_json_types() {
    let report = ingest_mutated(|feed| feed[3]["extension"] = json!({ "url": "x" }));
    assert_single_reject(&report, "extension: invalid type: map, expected a sequence");
    let report = ingest_mutated(|feed| feed[3]["name"] = json!(12));
    assert_single_reject(&report, "name: invalid type: integer `12`, expected a string");
    let report =
        ingest_mutated(|feed| feed[1]["address"][0]["extension"][0]["extension"][0]["valueDecimal"] = json!("45.9"));
    assert!(
        reasons(&report)[0].contains("valueDecimal: invalid type: string \"45.9\", expected f64"),
        "{:?}",
        report.rejects
    );
}

#[test]
fn missing_mandatory_fields() {
    let report = ingest_mutated(|feed| {
        feed[3].as_object_mut().unwrap().remove("providedBy");
    });
    assert_single_reject(&report, "providedBy: missing");
    let report = ingest_mutated(|feed| {
        feed[3].as_object_mut().unwrap().remove("id");
    });
    assert_single_reject(&report, "id: missing");
    let report = ingest_mutated(|feed| {
        feed[3].as_object_mut().unwrap().remove("resourceType");
    });
    assert_single_reject(&report, "resourceType: missing");
    let report = ingest_mutated(|feed| {
        feed[3].as_object_mut().unwrap().remove("name");
    });
    assert_single_reject(&report, "name: missing");
    let report = ingest_mutated(|feed| {
        feed[2]["extension"][2]["extension"].as_array_mut().unwrap().remove(1);
    });
    assert!(reasons(&report)[0].contains("(capacity record 1): missing capacityStatus"), "{:?}", report.rejects);
    let report = ingest_mutated(|feed| {
        feed[1]["extension"][0]["extension"].as_array_mut().unwrap().remove(2);
    });
    assert!(reasons(&report)[0].contains("(ror-organization-price): missing amount"), "{:?}", report.rejects);
}

#[test]
fn dangling_references() {
    let report = ingest_mutated(|feed| feed[3]["providedBy"]["reference"] = json!("Organization/nowhere"));
    assert_single_reject(&report, "providedBy: Organization/nowhere is not in the feed (dangling reference)");
    let report = ingest_mutated(|feed| feed[3]["location"][0]["reference"] = json!("Location/nowhere"));
    assert_single_reject(&report, "location[0]: Location/nowhere is not in the feed (dangling reference)");
    let report = ingest_mutated(|feed| feed[1]["partOf"]["reference"] = json!("Organization/nowhere"));
    let reasons = reasons(&report);
    assert_eq!(
        reasons[0],
        "partOf: Organization/nowhere is not in the feed (dangling reference to the entité juridique)"
    );
    assert!(
        reasons[1].starts_with("providedBy: Organization/eg1 was rejected (partOf: Organization/nowhere"),
        "{reasons:?}"
    );
}

#[test]
fn references_in_every_form_resolve() {
    for reference in [
        "Organization/eg1",
        "https://ror.example/fhir/Organization/eg1",
        "https://ror.example/fhir/Organization/eg1/_history/3",
    ] {
        let report = ingest_mutated(|feed| feed[3]["providedBy"]["reference"] = json!(reference));
        assert!(reasons(&report).is_empty(), "{reference}: {:?}", report.rejects);
    }
    // urn:uuid references resolve through Bundle.entry.fullUrl.
    let mut feed = valid_feed();
    feed[3]["providedBy"]["reference"] = json!("urn:uuid:6f1a4c2e-0000-4000-8000-000000000001");
    let entries: Vec<Value> = feed
        .into_iter()
        .enumerate()
        .map(|(index, resource)| {
            let full_url = if index == 1 {
                "urn:uuid:6f1a4c2e-0000-4000-8000-000000000001".to_owned()
            } else {
                format!("urn:uuid:{index}")
            };
            json!({ "fullUrl": full_url, "resource": resource })
        })
        .collect();
    let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries });
    let (dataset, report) = ingest_str("bundle.json", &bundle.to_string());
    assert!(reasons(&report).is_empty(), "{:?}", report.rejects);
    assert_eq!(dataset.offers[0].eg, Some(0));
}

#[test]
fn unknown_codes() {
    // Closed code systems that drive semantics: the record is refused.
    let report = ingest_mutated(|feed| {
        feed[2]["extension"][2]["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = json!("99")
    });
    assert!(
        reasons(&report)[0].contains("(capacityStatus): code \"99\" is not in TRE_R330-TypeStatutCapacite"),
        "{:?}",
        report.rejects
    );
    let report = ingest_mutated(|feed| {
        feed[1]["extension"][0]["extension"][1]["valueCodeableConcept"]["coding"][0]["code"] = json!("9")
    });
    assert!(
        reasons(&report)[0].contains("(priceUnit): code \"9\" is not in TRE_R228-UnitePrix"),
        "{:?}",
        report.rejects
    );
    // Large catalogues that evolve faster than our tables: kept, with a warning.
    let report = ingest_mutated(|feed| feed[3]["category"][0]["coding"][0]["code"] = json!("9999"));
    assert!(reasons(&report).is_empty());
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].reason, "category[0]: code \"9999\" is not in TRE_R244-CategorieOrganisation");
    assert_eq!(report.warnings[0].id.as_deref(), Some("hs1"));
    // A coding of the wrong system where one is required.
    let report = ingest_mutated(|feed| {
        feed[2]["extension"][1]["extension"][2]["valueCodeableConcept"]["coding"][0]["system"] =
            json!("http://example.org/other")
    });
    assert!(
        reasons(&report)[0].contains("no coding in TRE_R331-TemporaliteCapacite (found http://example.org/other)"),
        "{:?}",
        report.rejects
    );
}

#[test]
fn bad_dates_units_and_communes() {
    let report = ingest_mutated(|feed| feed[1]["meta"]["lastUpdated"] = json!("2026-13-01"));
    assert!(reasons(&report)[0].starts_with("meta.lastUpdated: invalid FHIR date \"2026-13-01\": month out of range"));
    let report =
        ingest_mutated(|feed| feed[3]["extension"][0]["extension"][0]["valueRange"]["low"]["code"] = json!("kg"));
    assert!(reasons(&report)[0].contains("unit \"kg\" is not one of a, mo, wk, d"), "{:?}", report.rejects);
    let report =
        ingest_mutated(|feed| feed[3]["extension"][0]["extension"][0]["valueRange"]["low"]["value"] = json!(200));
    assert!(reasons(&report)[0].contains("low (200 years) is above high (150 years)"), "{:?}", report.rejects);
    let report =
        ingest_mutated(|feed| feed[2]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("ABCDE"));
    assert!(reasons(&report)[0].contains("\"ABCDE\" is not an INSEE commune code"), "{:?}", report.rejects);
}

#[test]
fn ages_in_months_weeks_and_days_are_normalised() {
    let mut feed = valid_feed();
    feed[3]["extension"][0]["extension"][0]["valueRange"] =
        json!({ "low": { "value": 6, "code": "mo" }, "high": { "value": 156, "code": "wk" } });
    let (dataset, report) = ingest_str("feed.ndjson", &ndjson(&feed));
    assert!(reasons(&report).is_empty());
    let age = dataset.offers[0].age_range.unwrap();
    assert_eq!(age.min_years, Some(0.5));
    assert!((age.max_years.unwrap() - 156.0 * 7.0 / 365.25).abs() < 1e-12);
}

#[test]
fn duplicates_keep_the_newest() {
    let mut feed = valid_feed();
    let mut newer = feed[1].clone();
    newer["meta"]["lastUpdated"] = json!("2026-11-01T00:00:00Z");
    newer["name"] = json!("EHPAD renommé");
    feed.insert(0, newer);
    let (dataset, report) = ingest_str("feed.ndjson", &ndjson(&feed));
    assert_single_reject(&report, "duplicate id: superseded by the copy at feed.ndjson:1");
    assert_eq!(report.rejects[0].origin, "feed.ndjson:3");
    assert_eq!(dataset.egs[0].name, "EHPAD renommé");
}

#[test]
fn internal_organisation_chains_and_cycles() {
    let oi = |id: &str, parent: &str| {
        json!({
            "resourceType": "Organization", "id": id, "name": format!("Pôle {id}"),
            "identifier": [{ "type": concept("TRE_R345-TypeIdentifiantAutre", "42"), "value": format!("84/{id}") }],
            "partOf": { "reference": format!("Organization/{parent}") }
        })
    };
    let mut feed = valid_feed();
    feed.push(oi("uf", "pole"));
    feed.push(oi("pole", "eg1"));
    feed[3]["providedBy"]["reference"] = json!("Organization/uf");
    let (dataset, report) = ingest_str("feed.ndjson", &ndjson(&feed));
    assert!(reasons(&report).is_empty(), "{:?}", report.rejects);
    assert_eq!(dataset.offers[0].eg, Some(0));
    assert_eq!(dataset.offers[0].internal_organisation.as_deref(), Some("Pôle uf"));

    let mut feed = valid_feed();
    feed.push(oi("a", "b"));
    feed.push(oi("b", "a"));
    feed[3]["providedBy"]["reference"] = json!("Organization/a");
    let report = ingest_str("feed.ndjson", &ndjson(&feed)).1;
    assert_single_reject(&report, "leads to a partOf chain longer than 16 (cycle?)");
}

#[test]
fn invalid_utf8_line_is_rejected_and_the_rest_read() {
    let dir = crate::common::temp_dir();
    let path = dir.path().join("feed.ndjson");
    let mut bytes = ndjson(&valid_feed()).into_bytes();
    bytes.extend_from_slice(b"{\"resourceType\":\"Location\",\"id\":\"\xff\"}\n");
    std::fs::write(&path, bytes).unwrap();
    let output = ror_search::ingest::ingest(&[path], &mut |_| {}).unwrap();
    let reasons = reasons(&output.report);
    assert_eq!(reasons.len(), 1);
    assert!(reasons[0].starts_with("line is not valid UTF-8"), "{reasons:?}");
    assert_eq!(output.dataset.offers.len(), 1);
}
