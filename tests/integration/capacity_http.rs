//! Live capacity writes through the real router (in-process `oneshot`): the ROR documentation's
//! PATCH scenarios verbatim and in the ROR client's order, every negative case of
//! `ror-api.md` §1.8 and a few more, the NDJSON batch route, durability through the log (a
//! fresh service replays it), snapshot swaps carrying the writes, and the metrics.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::http::{StatusCode, header};
use ror_search::serve::capacity::CapacityService;
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use ror_search::util::time::format_rfc3339;
use serde_json::{Value, json};

use crate::common::{Answer, build_subset, call, fixture_text};

const TOKEN: &str = "test-admin-token-0123456789";

/// The EG of the tests (Ain): its Locations `loc-010000024-{0,1,2,3,7,8}` carry the synchro ids
/// `ZS000` … `ZS008`, except `-3`, rewritten to `ZS002` (a duplicate of `-2`).
const EG_ID_NAT_STRUCT: &str = "1010000024";

/// The ROR's expression of the capacity collection (404 "no indicator to update").
const CAPACITY_EXPRESSION: &str = "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')";

/// `loc-010000024-2`'s installed record in the `newer` snapshot: newer than every live write
/// of the tests (one hour ago), with another count.
const NEWER_INSTALLED_COUNT: u32 = 77;

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Gives `loc-010000024-3` the synchro id of `loc-010000024-2`.
fn duplicate_synchro(id: &str, line: String) -> String {
    if id == "loc-010000024-3" {
        let rewritten = line.replace("\"value\":\"ZS003\"", "\"value\":\"ZS002\"");
        assert_ne!(rewritten, line, "the synchro id of loc-010000024-3 is rewritten");
        rewritten
    } else {
        line
    }
}

/// `loc-010000024-7`'s record of the DOC scenarios' key in the `newer` snapshot (older than
/// the scenarios' dates).
const NEWER_GENDER_03_COUNT: u64 = 1;

/// A Location line with a record of the scenarios' key (`02` / `01` / `03` / `01`) of 2024: a
/// copy of its gender-01 available record.
fn with_old_gender_03_record(line: &str) -> String {
    let mut location: Value = serde_json::from_str(line).unwrap();
    let extensions = location["extension"].as_array_mut().unwrap();
    let mut record = extensions
        .iter()
        .find(|extension| {
            let text = extension.to_string();
            text.contains("genderCapacityAvailable") && text.contains("TRE_R332") && text.contains("\"code\":\"01\"")
        })
        .unwrap()
        .clone();
    for field in record["extension"].as_array_mut().unwrap() {
        match field["url"].as_str().unwrap() {
            "genderCapacityAvailable" => field["valueCodeableConcept"]["coding"][0]["code"] = json!("03"),
            "nbCapacity" => field["valueInteger"] = json!(NEWER_GENDER_03_COUNT),
            "capacityUpdateDate" => field["valueDateTime"] = json!("2024-01-01T00:00:00Z"),
            _ => {}
        }
    }
    extensions.push(record);
    location.to_string()
}

/// The snapshots of the tests, built once: `base` (the Ain, with the duplicate synchro id) and
/// `newer` (the same data built earlier, where `loc-010000024-2`'s installed record is newer).
fn snapshots() -> &'static tempfile::TempDir {
    static SNAPSHOTS: OnceLock<tempfile::TempDir> = OnceLock::new();
    SNAPSHOTS.get_or_init(|| {
        let dir = crate::common::temp_dir();
        build_subset(&["01"], &dir.path().join("base"), "2026-11-10T00:00:00Z", &duplicate_synchro);
        let newer_at = format_rfc3339(unix_now() - 60);
        build_subset(&["01"], &dir.path().join("newer"), "2026-11-05T00:00:00Z", &|id, line| {
            let line = duplicate_synchro(id, line);
            if id == "loc-010000024-7" {
                return with_old_gender_03_record(&line);
            }
            if id != "loc-010000024-2" {
                return line;
            }
            let installed = "{\"url\":\"nbCapacity\",\"valueInteger\":32},{\"url\":\"capacityUpdateDate\",\"valueDateTime\":\"2026-10-31T19:24:00Z\"}";
            assert!(line.contains(installed), "loc-010000024-2's installed record: {line}");
            line.replace(
                installed,
                &format!(
                    "{{\"url\":\"nbCapacity\",\"valueInteger\":{NEWER_INSTALLED_COUNT}}},{{\"url\":\"capacityUpdateDate\",\"valueDateTime\":\"{newer_at}\"}}"
                ),
            )
        });
        dir
    })
}

/// An index directory of its own (its own capacity log) holding both snapshots (linked).
fn index_dir() -> tempfile::TempDir {
    let dir = crate::common::temp_dir();
    for name in ["base", "newer"] {
        std::os::unix::fs::symlink(snapshots().path().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

/// A router over `index`: the capacity service of its log attached, then `base` installed.
fn app(index: &Path) -> (axum::Router, Arc<SnapshotHandle>) {
    let config = ServeConfig {
        index_dir: index.to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(crate::common::anonymous_sees_everything()),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(index.to_owned(), Arc::new(Metrics::default())));
    assert!(handle.attach_capacity(Arc::new(CapacityService::open(index).unwrap())));
    handle.install(load_and_warm(&index.join("base")).unwrap());
    (ror_search::http::router(handle.clone(), Arc::new(config)), handle)
}

async fn get(router: &axum::Router, uri: &str) -> Answer {
    let answer = call(router, "GET", uri, &[("authorization", &format!("Bearer {TOKEN}"))], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    answer
}

/// A capacity PATCH with the two headers of the ROR (and `extra` ones).
async fn patch(router: &axum::Router, uri: &str, extra: &[(&str, &str)], body: &str) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("authorization", auth.as_str()), ("content-type", "application/fhir+json")];
    headers.extend_from_slice(extra);
    call(router, "PATCH", uri, &headers, body.as_bytes().to_vec()).await
}

/// `POST /v1/capacity` of `lines`; the answer lines.
async fn post_batch(router: &axum::Router, lines: &[String]) -> Vec<Value> {
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/x-ndjson")];
    let answer = call(router, "POST", "/v1/capacity", &headers, lines.join("\n").into_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.text().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn by_identifier(synchro: &str) -> String {
    format!("/fhir/Location?identifier={EG_ID_NAT_STRUCT}/{synchro}")
}

fn by_identifier_ws(synchro: &str) -> String {
    format!("/ws-synchro-dispo-lits-fhir/Location?identifier={EG_ID_NAT_STRUCT}/{synchro}")
}

/// The capacity records of the (only) location of an offer, as `/v1/offers/{id}` shows them.
async fn records(router: &axum::Router, offer: &str) -> Vec<Value> {
    let detail = get(router, &format!("/v1/offers/{offer}")).await.json();
    detail["locations"][0]["capacities"].as_array().unwrap().clone()
}

/// The `count` of the record of `status` / `temporality` / `gender` (none: absent) an offer shows.
async fn count_of(router: &axum::Router, offer: &str, status: &str, gender: Option<&str>) -> Option<u64> {
    let records = records(router, offer).await;
    let matching: Vec<&Value> = records
        .iter()
        .filter(|record| {
            code_of(record, "status") == Some(status)
                && code_of(record, "temporality") == Some("01")
                && code_of(record, "gender") == gender
        })
        .collect();
    assert!(matching.len() <= 1, "one record per key: {records:#?}");
    matching.first().map(|record| record["count"].as_u64().unwrap())
}

/// The code of a field of a record view (`{"code": …}` or a bare string).
fn code_of<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    let value = &record[field];
    value["code"].as_str().or(value.as_str())
}

/// The offer ids `/v1/offers` finds around Viriat (the EG's commune) with `query`.
async fn offers_found(router: &axum::Router, query: &str) -> Vec<String> {
    let body = get(router, &format!("/v1/offers?commune=01451&radius_km=15&limit=100&{query}")).await.json();
    body["results"].as_array().unwrap().iter().map(|hit| hit["id"].as_str().unwrap().to_owned()).collect()
}

/// A scenario fixture's body, verbatim.
fn scenario(name: &str) -> String {
    fixture_text(&format!("capacity-patch/{name}.json"))
}

/// A scenario's body with the values of some sub-extensions changed (`url`, new code, count
/// or date).
fn edited(name: &str, edits: &[(&str, Value)]) -> String {
    fn walk(value: &mut Value, edits: &[(&str, Value)], done: &mut usize) {
        match value {
            Value::Object(object) => {
                if let Some((_, new)) =
                    edits.iter().find(|(url, _)| object.get("url").and_then(Value::as_str) == Some(url))
                {
                    if let Some(concept) = object.get_mut("valueCodeableConcept") {
                        concept["coding"][0]["code"] = new.clone();
                        *done += 1;
                    } else if let Some(key) =
                        ["valueInteger", "valueDateTime"].into_iter().find(|key| object.contains_key(*key))
                    {
                        object[key] = new.clone();
                        *done += 1;
                    }
                }
                object.values_mut().for_each(|child| walk(child, edits, done));
            }
            Value::Array(items) => items.iter_mut().for_each(|child| walk(child, edits, done)),
            _ => {}
        }
    }
    let mut body: Value = serde_json::from_str(&scenario(name)).unwrap();
    let mut done = 0;
    walk(&mut body, edits, &mut done);
    assert!(done >= edits.len(), "every edit of {name} applied");
    body.to_string()
}

/// Scenario 2 (add) with some values changed.
fn add_with(edits: &[(&str, Value)]) -> String {
    edited("scenario-2-add", edits)
}

fn crisis_t0(body: &Value) -> u64 {
    body["crisis_t0"].as_u64().unwrap()
}

/// The ROR client's order on a real Location, verbatim bodies: replace first → 404 with the
/// capacity expression → add → replace → delete → delete again → 404; then scenario 9 (the
/// deprecated replace-all, malformed as in the DOC) on two Locations; each step's answer and
/// its effect on search, detail, sorting and facets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ror_scenarios_in_client_order() {
    let index = index_dir();
    let (router, _handle) = app(index.path());
    let offer = "hs-010000024-7";
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, None, "no gender-03 record to begin with");
    assert!(!offers_found(&router, "min_available=12").await.contains(&offer.to_owned()));

    // 1. replace first: no such indicator → 404, the capacity expression (the client re-sends as add).
    let answer = patch(&router, &by_identifier_ws("ZS007"), &[], &scenario("scenario-2bis-replace")).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, None, "nothing applied");

    // 2. add (scenario 2): 25 places.
    let answer = patch(&router, &by_identifier_ws("ZS007"), &[], &scenario("scenario-2-add")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/fhir+json");
    assert_eq!(answer.json()["resourceType"], "OperationOutcome");
    assert_eq!(answer.json()["id"], "loc-010000024-7", "the functional id of the resource updated");
    assert_eq!(answer.codes(), ["informational"]);
    assert!(answer.headers.contains_key(header::LAST_MODIFIED));
    let added = answer.etag();
    assert!(added > 0);
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(25));
    let record = records(&router, offer).await.into_iter().find(|record| code_of(record, "gender") == Some("03"));
    let record = record.unwrap();
    assert_eq!(code_of(&record, "capacity_type").or(code_of(&record, "type")), Some("02"), "{record}");
    assert!(offers_found(&router, "min_available=25").await.contains(&offer.to_owned()));
    let sorted = get(&router, "/v1/offers?commune=01451&radius_km=15&sort=available&limit=1").await.json();
    assert_eq!(sorted["results"][0]["id"], offer, "the most places available first");
    assert_eq!(sorted["results"][0]["capacity"]["available"], 25);
    let facets = get(&router, "/v1/offers?commune=01451&radius_km=15&min_available=25&facets=true").await.json();
    assert_eq!(facets["total"], 1, "{facets}");
    assert!(facets["facets"].to_string().contains("\"101\""), "the offer's category is counted: {}", facets["facets"]);

    // 3. replace (scenario 2 BIS): 12 places.
    let answer = patch(&router, &by_identifier_ws("ZS007"), &[], &scenario("scenario-2bis-replace")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let replaced = answer.etag();
    assert!(replaced > added, "ETag increases: {added} then {replaced}");
    assert!(answer.headers.contains_key(header::LAST_MODIFIED));
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(12));
    assert!(!offers_found(&router, "min_available=25").await.contains(&offer.to_owned()));
    assert!(offers_found(&router, "min_available=12").await.contains(&offer.to_owned()));
    let facets = get(&router, "/v1/offers?commune=01451&radius_km=15&min_available=25&facets=true").await.json();
    assert_eq!(facets["total"], 0, "{facets}");

    // 4. delete (scenario 3).
    let answer = patch(&router, &by_identifier_ws("ZS007"), &[], &scenario("scenario-3-delete")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let deleted = answer.etag();
    assert!(deleted > replaced);
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, None);
    assert!(!offers_found(&router, "min_available=1").await.contains(&offer.to_owned()));

    // 5. delete again: nothing to delete → 404 with the capacity expression, nothing changes.
    let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-3-delete")).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));
    let unchanged = records(&router, offer).await;

    // Scenario 9 on a Location with no record: its three records, verbatim (JDV systems,
    // `valueInt` strings, a missing comma).
    let offer_0 = "hs-010000024-0";
    assert!(records(&router, offer_0).await.is_empty());
    let answer = patch(&router, "/fhir/Location/loc-010000024-0", &[], &scenario("scenario-9-replace-all")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.etag() > deleted);
    assert_eq!(records(&router, offer_0).await.len(), 3);
    assert_eq!(count_of(&router, offer_0, "01", None).await, Some(10));
    assert_eq!(count_of(&router, offer_0, "02", Some("02")).await, Some(6));
    assert_eq!(count_of(&router, offer_0, "02", Some("03")).await, Some(4));
    let hit = get(&router, &format!("/v1/offers/{offer_0}")).await.json();
    assert_eq!(hit["offer"]["capacity"]["installed"], 10);
    assert_eq!(hit["offer"]["capacity"]["available"], 10);

    // Scenario 9 on a Location holding newer records: those of its keys are kept (last writer
    // wins by capacityUpdateDate), the others are replaced, the records of other keys dropped.
    let before = records(&router, offer).await;
    assert_eq!(before, unchanged);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-9-replace-all")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(count_of(&router, offer, "01", None).await, Some(42), "the held installed record is newer (2026)");
    assert_eq!(count_of(&router, offer, "02", Some("02")).await, Some(0), "the held gender-02 record is newer");
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(4), "no record held: the DOC's");
    assert_eq!(count_of(&router, offer, "02", Some("01")).await, None, "not in the replace-all: dropped");
    assert_eq!(records(&router, offer).await.len(), 3);
}

/// Crisis records (status 06) written through the PATCH change `/v1/crisis` and the crisis
/// filters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crisis_records_change_the_crisis_totals() {
    let index = index_dir();
    let (router, _handle) = app(index.path());
    let crisis = "/v1/crisis?commune=01451&radius_km=15&limit=50";
    let before = get(&router, crisis).await.json();
    let offer = "hs-010000024-0";
    assert!(!offers_found(&router, "min_crisis_t0=40").await.contains(&offer.to_owned()));
    let status_06 = add_with(&[("nbCapacity", json!(40)), ("capacityStatus", json!("06"))]);
    let answer = patch(&router, &by_identifier("ZS000"), &[], &status_06).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let after = get(&router, crisis).await.json();
    assert_eq!(crisis_t0(&after), crisis_t0(&before) + 40, "{before}\n{after}");
    let by_departement: u64 = after["by_departement"].as_array().unwrap().iter().map(crisis_t0).sum();
    assert_eq!(by_departement, crisis_t0(&after));
    assert!(after["egs"].to_string().contains("010000024"), "{after}");
    assert!(offers_found(&router, "min_crisis_t0=40").await.contains(&offer.to_owned()));

    // Deleted again: back to the snapshot's totals.
    let delete = scenario("scenario-3-delete").replacen(
        "valueCodeableConcept.coding.code = '02'",
        "valueCodeableConcept.coding.code = '06'",
        1,
    );
    let answer = patch(&router, &by_identifier("ZS000"), &[], &delete).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(crisis_t0(&get(&router, crisis).await.json()), crisis_t0(&before));
    assert!(!offers_found(&router, "min_crisis_t0=40").await.contains(&offer.to_owned()));
}

/// Every negative case of `ror-api.md` §1.8, and the other refusals: each answered as the ROR
/// does, and none changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_cases() {
    let index = index_dir();
    let (router, _handle) = app(index.path());
    let offer = "hs-010000024-7";
    let add = scenario("scenario-2-add");
    let initial = records(&router, offer).await;

    // Unknown synchro id: 404, expression ["Location"] (the client must not retry as add).
    let answer = patch(&router, &by_identifier("ZS999"), &[], &add).await;
    answer.assert_outcome(404, "not-found", Some(&["Location"]));
    assert!(answer.json()["issue"][0]["diagnostics"].as_str().unwrap().contains("1010000024/ZS999"));
    let answer = patch(&router, &by_identifier_ws("ZS999"), &[], &add).await;
    answer.assert_outcome(404, "not-found", Some(&["Location"]));
    let answer = patch(&router, "/fhir/Location/loc-nope", &[], &add).await;
    answer.assert_outcome(404, "not-found", Some(&["Location"]));

    // Duplicate synchro id (loc-010000024-2 and -3 share ZS002): 412 multiple-matches.
    let answer = patch(&router, &by_identifier("ZS002"), &[], &add).await;
    answer.assert_outcome(412, "multiple-matches", Some(&["Location"]));
    assert!(answer.json()["issue"][0]["diagnostics"].as_str().unwrap().contains("'2' résultats"), "{}", answer.text());
    assert!(records(&router, "hs-010000024-2").await.iter().all(|record| code_of(record, "gender") != Some("03")));

    // Replace on a missing key: 404 with the capacity expression.
    let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-2bis-replace")).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));

    // Wrong capacityType (an unknown nature code): 400 business-rule.
    let wrong_nature = add_with(&[("capacityType", json!("99"))]);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &wrong_nature).await;
    answer.assert_outcome(400, "business-rule", None);
    assert!(answer.text().contains("capacityType"), "{}", answer.text());

    // Invalid tuple (an unknown status code): 400 business-rule, the ROR's message.
    let bad_status = add_with(&[("capacityStatus", json!("99"))]);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &bad_status).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(answer.codes().iter().all(|code| code == "business-rule"), "{}", answer.text());
    assert!(
        answer.text().contains("ne correspondent pas à un indicateur valide : capacityStatus: 99"),
        "{}",
        answer.text()
    );
    // … and in a selector.
    let bad_selector = scenario("scenario-3-delete").replacen(
        "valueCodeableConcept.coding.code = '02'",
        "valueCodeableConcept.coding.code = '99'",
        1,
    );
    let answer = patch(&router, &by_identifier("ZS007"), &[], &bad_selector).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert!(
        answer.text().contains("Les critères du FhirPath ne correspondent pas à un indicateur valide"),
        "{}",
        answer.text()
    );

    // A capacityUpdateDate far in the future: 400.
    let future = add_with(&[("capacityUpdateDate", json!("2099-01-01T00:00:00Z"))]);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &future).await;
    answer.assert_outcome(400, "business-rule", None);
    assert!(answer.text().contains("futur"), "{}", answer.text());

    // Malformed JSON: 400 OperationOutcome.
    let answer =
        patch(&router, &by_identifier("ZS007"), &[], "{\"resourceType\": \"Parameters\", \"parameter\": [").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["resourceType"], "OperationOutcome");
    let answer = patch(&router, &by_identifier("ZS007"), &[], "{\"resourceType\": \"Patient\"}").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());

    // Missing or wrong token: 401, nothing applied.
    let answer = call(
        &router,
        "PATCH",
        &by_identifier("ZS007"),
        &[("content-type", "application/fhir+json")],
        add.clone().into_bytes(),
    )
    .await;
    answer.assert_outcome(401, "login", None);
    let wrong = [("authorization", "Bearer wrong-token-0123456789"), ("content-type", "application/fhir+json")];
    let answer = call(&router, "PATCH", &by_identifier_ws("ZS007"), &wrong, add.clone().into_bytes()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = call(&router, "PATCH", "/fhir/Location/loc-010000024-7", &wrong, add.clone().into_bytes()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let answer = call(&router, "POST", "/v1/capacity", &[], b"{}".to_vec()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    assert_eq!(records(&router, offer).await, initial, "no refused request changed anything");

    // If-Match: a stale ETag → 412 and nothing applied; the current one → 200.
    let answer = patch(&router, &by_identifier("ZS007"), &[("if-match", "W/\"0\"")], &add).await;
    assert_eq!(answer.status, StatusCode::OK, "version 0 before any write: {}", answer.text());
    let current = answer.etag();
    let replace = scenario("scenario-2bis-replace");
    let stale = format!("W/\"{}\"", current - 1);
    let answer = patch(&router, &by_identifier("ZS007"), &[("if-match", &stale)], &replace).await;
    answer.assert_outcome(412, "conflict", None);
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(25), "nothing applied");
    let answer = patch(&router, &by_identifier("ZS007"), &[("if-match", &format!("W/\"{current}\""))], &replace).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(12));
    let current = answer.etag();

    // An older write than the record held: 200 with a warning, the state and the ETag unchanged.
    let older = edited(
        "scenario-2bis-replace",
        &[("capacityUpdateDate", json!("2025-01-01T00:00:00Z")), ("nbCapacity", json!(99))],
    );
    let answer = patch(&router, &by_identifier("ZS007"), &[], &older).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["issue"][0]["severity"], "warning", "{}", answer.text());
    assert_eq!(answer.etag(), current, "the version did not change");
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(12));

    // `remove`, as the old docs spell `delete`.
    let remove =
        scenario("scenario-3-delete").replacen("\"valueString\": \"delete\"", "\"valueString\": \"remove\"", 1);
    assert_ne!(remove, scenario("scenario-3-delete"));
    let answer = patch(&router, &by_identifier("ZS007"), &[], &remove).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.etag() > current);
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, None);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &remove).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));
}

/// One NDJSON line of `POST /v1/capacity`.
fn line(fields: Value) -> String {
    fields.to_string()
}

/// `POST /v1/capacity`: a batch mixing every outcome, answered line by line in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_batch() {
    let index = index_dir();
    let (router, _handle) = app(index.path());
    let recent = format_rfc3339(unix_now() - 3600);
    let lines = vec![
        // applied: a new record.
        line(json!({"location": "loc-010000024-8", "status": "02", "temporality": "01", "gender": "03",
            "temporary_assignment": "01", "capacity_type": "01", "source_type": "02", "count": 7, "updated_at": recent})),
        // ignored: older than the held installed record (2026-10-29).
        line(json!({"location": "loc-010000024-8", "status": "01", "temporality": "01", "temporary_assignment": "01",
            "capacity_type": "01", "source_type": "02", "count": 99, "updated_at": "2026-01-01T00:00:00Z"})),
        // not_found: nothing to delete.
        line(json!({"identifier": "1010000024/ZS008", "status": "02", "temporality": "01", "gender": "03",
            "temporary_assignment": "02", "updated_at": recent, "delete": true})),
        // rejected: unknown location.
        line(json!({"location": "loc-nope", "status": "02", "temporality": "01", "capacity_type": "01", "count": 1,
            "updated_at": recent})),
        // rejected: not a capacity line.
        "{not json".to_owned(),
        // rejected: a duplicate synchro id.
        line(json!({"identifier": "1010000024/ZS002", "status": "02", "temporality": "01", "capacity_type": "01",
            "count": 1, "updated_at": recent})),
        // rejected: an unknown status code.
        line(json!({"location": "loc-010000024-8", "status": "99", "temporality": "01", "capacity_type": "01",
            "count": 1, "updated_at": recent})),
        // applied: by synchro identifier, a crisis record.
        line(
            json!({"identifier": "1010000024/ZS008", "status": "06", "temporality": "01", "temporary_assignment": "01",
            "capacity_type": "01", "source_type": "02", "count": 3, "updated_at": recent}),
        ),
    ];
    let before = get(&router, "/v1/version").await.json();
    assert_eq!(before["capacity_writes"], 0, "{before}");
    assert!(before.get("newest_write_at").is_none(), "{before}");
    let answers = post_batch(&router, &lines).await;
    // `/v1/version` moves with every applied write (what the map page polls).
    let after = get(&router, "/v1/version").await.json();
    assert_eq!(after["snapshot"], before["snapshot"]);
    assert_eq!(after["capacity_writes"], 2, "two lines applied: {after}");
    assert_eq!(after["newest_write_at"].as_str(), Some(recent.as_str()), "{after}");
    let statuses: Vec<(u64, &str)> =
        answers.iter().map(|answer| (answer["line"].as_u64().unwrap(), answer["status"].as_str().unwrap())).collect();
    assert_eq!(
        statuses,
        [
            (1, "applied"),
            (2, "ignored"),
            (3, "not_found"),
            (4, "rejected"),
            (5, "rejected"),
            (6, "rejected"),
            (7, "rejected"),
            (8, "applied")
        ],
        "{answers:#?}"
    );
    for answer in &answers[3..7] {
        assert!(!answer["reason"].as_str().unwrap().is_empty(), "{answer}");
    }
    assert!(answers[1]["reason"].as_str().unwrap().contains("older"));
    assert!(answers[0]["sequence"].as_u64().unwrap() < answers[7]["sequence"].as_u64().unwrap());
    let offer = "hs-010000024-8";
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, Some(7));
    assert_eq!(count_of(&router, offer, "01", None).await, Some(20), "the older line was ignored");
    assert_eq!(count_of(&router, offer, "06", None).await, Some(3));
    let hit = get(&router, &format!("/v1/offers/{offer}")).await.json();
    assert_eq!(hit["offer"]["capacity"]["available"], 7);
    assert_eq!(hit["offer"]["capacity"]["crisis_t0"], 3);
    // The map's sums follow the write (a position counted whole reads the live per-position
    // sums): around the written offer, the clusters add up what the search lists.
    let (lat, lon) = (hit["offer"]["lat"].as_f64().unwrap(), hit["offer"]["lon"].as_f64().unwrap());
    let bbox = format!("{},{},{},{}", lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05);
    let listed = get(&router, &format!("/v1/offers?bbox={bbox}&limit=200&exact_total=true")).await.json();
    let listed_sum = |field: &str| {
        listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hit| hit["capacity"][field].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert!(listed["total"].as_u64().unwrap() <= 200, "{}", listed["total"]);
    for zoom in [5, 17] {
        let clusters = get(&router, &format!("/v1/clusters?bbox={bbox}&zoom={zoom}")).await.json();
        let cluster_sum = |field: &str| {
            clusters["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|feature| feature["properties"][field].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(clusters["total"], listed["total"], "zoom {zoom}");
        for field in ["available", "crisis_t0", "crisis_t60"] {
            assert_eq!(cluster_sum(field), listed_sum(field), "{field} at zoom {zoom}: {clusters}");
        }
    }
    // A delete line, then the same key is gone.
    let delete = line(json!({"location": "loc-010000024-8", "status": "02", "temporality": "01", "gender": "03",
        "temporary_assignment": "01", "updated_at": format_rfc3339(unix_now()), "delete": true}));
    assert_eq!(post_batch(&router, &[delete]).await[0]["status"], "applied");
    assert_eq!(count_of(&router, offer, "02", Some("03")).await, None);
}

/// Writes survive the process: a fresh service on the same index directory replays its log
/// onto a fresh handle's snapshot; versions go on from the log's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_replayed_by_a_fresh_service() {
    let index = index_dir();
    let recent = format_rfc3339(unix_now() - 3600);
    let last = {
        let (router, handle) = app(index.path());
        let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-2-add")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let answer = patch(&router, "/fhir/Location/loc-010000024-0", &[], &scenario("scenario-9-replace-all")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let batch = post_batch(
            &router,
            &[line(json!({"location": "loc-010000024-8", "status": "02", "temporality": "01",
            "gender": "03", "temporary_assignment": "01", "capacity_type": "01", "count": 5, "updated_at": recent}))],
        )
        .await;
        assert_eq!(batch[0]["status"], "applied");
        let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-2bis-replace")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        drop(router);
        drop(handle);
        answer.etag()
    };
    let (router, handle) = app(index.path());
    assert!(handle.capacity().unwrap().history_len() >= 4, "the log's writes are held for the next snapshot");
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, Some(12), "add then replace replayed");
    assert_eq!(records(&router, "hs-010000024-0").await.len(), 3, "scenario 9 replayed");
    assert_eq!(count_of(&router, "hs-010000024-8", "02", Some("03")).await, Some(5), "the batch replayed");
    let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-3-delete")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.etag() > last, "sequences go on from the log's");

    // Attached after the snapshot is installed: replayed all the same.
    drop(router);
    drop(handle);
    let handle = Arc::new(SnapshotHandle::new(index.path().to_owned(), Arc::new(Metrics::default())));
    handle.install(load_and_warm(&index.path().join("base")).unwrap());
    assert!(handle.attach_capacity(Arc::new(CapacityService::open(index.path()).unwrap())));
    let router = ror_search::http::router(
        handle.clone(),
        Arc::new(ServeConfig {
            index_dir: index.path().to_owned(),
            admin_token: Some(TOKEN.into()),
            access_file: Some(crate::common::anonymous_sees_everything()),
            ..ServeConfig::default()
        }),
    );
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, None, "the delete replayed too");
    assert_eq!(count_of(&router, "hs-010000024-8", "02", Some("03")).await, Some(5));
}

/// A new snapshot swapped in keeps the live writes newer than its records; its records win
/// where they are newer (and the writes it covers leave the log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_snapshot_keeps_newer_live_writes() {
    let index = index_dir();
    let (router, handle) = app(index.path());
    let two_hours_ago = format_rfc3339(unix_now() - 7200);
    let batch = post_batch(
        &router,
        &[
            // Newer than `base`'s installed record (32 on 2026-10-31), older than `newer`'s.
            line(
                json!({"location": "loc-010000024-2", "status": "01", "temporality": "01", "temporary_assignment": "01",
                "capacity_type": "01", "source_type": "02", "count": 50, "updated_at": two_hours_ago}),
            ),
            // A key neither snapshot has.
            line(json!({"location": "loc-010000024-7", "status": "02", "temporality": "01", "gender": "03",
                "temporary_assignment": "01", "capacity_type": "02", "source_type": "02", "count": 25,
                "updated_at": two_hours_ago})),
        ],
    )
    .await;
    assert!(batch.iter().all(|answer| answer["status"] == "applied"), "{batch:#?}");
    assert_eq!(count_of(&router, "hs-010000024-2", "01", None).await, Some(50));
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, Some(25));
    let service = handle.capacity().unwrap().clone();
    assert_eq!(service.history_len(), 2);

    let auth = format!("Bearer {TOKEN}");
    let answer = call(&router, "POST", "/admin/reload?snapshot=newer", &[("authorization", &auth)], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.json()["dir"].as_str().unwrap().ends_with("newer"), "{}", answer.text());
    assert_eq!(
        count_of(&router, "hs-010000024-2", "01", None).await,
        Some(u64::from(NEWER_INSTALLED_COUNT)),
        "the snapshot's record is newer"
    );
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, Some(25), "the live write is kept");
    assert_eq!(service.history_len(), 1, "the covered write is compacted out of the log");

    // A write after the swap goes to the new snapshot, and `install` carries the log too.
    let replace = edited("scenario-2bis-replace", &[("capacityUpdateDate", json!(format_rfc3339(unix_now() - 3600)))]);
    let answer = patch(&router, &by_identifier("ZS007"), &[], &replace).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.codes(), ["informational"], "{}", answer.text());
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, Some(12));
    handle.install(load_and_warm(&index.path().join("base")).unwrap());
    assert_eq!(count_of(&router, "hs-010000024-7", "02", Some("03")).await, Some(12));
}

/// A write refused (a `replace` of a key the Location does not hold: 404, "nothing applied")
/// never takes effect later, when a snapshot that holds the key is swapped in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_never_applies_later() {
    let index = index_dir();
    let (router, handle) = app(index.path());
    let answer = patch(&router, &by_identifier("ZS007"), &[], &scenario("scenario-2bis-replace")).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));
    let delete = line(json!({"location": "loc-010000024-7", "status": "02", "temporality": "01", "gender": "03",
        "temporary_assignment": "01", "updated_at": format_rfc3339(unix_now() - 3600), "delete": true}));
    assert_eq!(post_batch(&router, &[delete]).await[0]["status"], "not_found");
    let service = handle.capacity().unwrap().clone();
    assert_eq!(service.history_len(), 0, "nothing to carry onto the next snapshot");
    let auth = format!("Bearer {TOKEN}");
    let answer = call(&router, "POST", "/admin/reload?snapshot=newer", &[("authorization", &auth)], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        count_of(&router, "hs-010000024-7", "02", Some("03")).await,
        Some(NEWER_GENDER_03_COUNT),
        "the snapshot's record: neither the replace answered 404 nor the delete answered not_found"
    );
    assert_eq!(service.log().unwrap().metrics().records, 0, "the refused writes are compacted out of the log");
}

/// `/metrics` counts every write by what became of it, and the refusals by reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_writes() {
    let index = index_dir();
    let (router, _handle) = app(index.path());
    let add = scenario("scenario-2-add");
    let older = add_with(&[("capacityUpdateDate", json!("2025-01-01T00:00:00Z"))]);
    // applied ×2
    assert_eq!(patch(&router, &by_identifier("ZS007"), &[], &add).await.status, StatusCode::OK);
    assert_eq!(patch(&router, "/fhir/Location/loc-010000024-0", &[], &add).await.status, StatusCode::OK);
    // ignored_older ×1
    assert_eq!(patch(&router, &by_identifier("ZS007"), &[], &older).await.status, StatusCode::OK);
    // no_such_record ×2 (a PATCH replace, an NDJSON delete)
    let replace_missing = scenario("scenario-2bis-replace");
    let answer = patch(&router, "/fhir/Location/loc-010000024-8", &[], &replace_missing).await;
    answer.assert_outcome(404, "not-found", Some(&[CAPACITY_EXPRESSION]));
    let delete = line(json!({"location": "loc-010000024-7", "status": "02", "temporality": "01", "gender": "04",
        "temporary_assignment": "02", "updated_at": "2026-11-01T00:00:00Z", "delete": true}));
    assert_eq!(post_batch(&router, &[delete, "{".to_owned()]).await[0]["status"], "not_found");
    // rejected before the log: unknown location ×1, duplicate ×1, bad body ×1, business rule ×1, bad line ×1
    patch(&router, &by_identifier("ZS999"), &[], &add).await.assert_outcome(404, "not-found", Some(&["Location"]));
    patch(&router, &by_identifier("ZS002"), &[], &add).await.assert_outcome(412, "multiple-matches", None);
    assert_eq!(patch(&router, &by_identifier("ZS007"), &[], "{").await.status, StatusCode::BAD_REQUEST);
    let future = add_with(&[("capacityUpdateDate", json!("2099-01-01T00:00:00Z"))]);
    assert_eq!(patch(&router, &by_identifier("ZS007"), &[], &future).await.status, StatusCode::BAD_REQUEST);

    let text = get(&router, "/metrics").await.text();
    for expected in [
        "ror_search_capacity_writes_total{result=\"applied\"} 2",
        "ror_search_capacity_writes_total{result=\"ignored_older\"} 1",
        "ror_search_capacity_writes_total{result=\"no_such_record\"} 2",
        "ror_search_capacity_writes_total{result=\"location_gone\"} 0",
        "ror_search_capacity_rejected_total{reason=\"unknown_location\"} 1",
        "ror_search_capacity_rejected_total{reason=\"duplicate_location\"} 1",
        "ror_search_capacity_rejected_total{reason=\"bad_body\"} 1",
        "ror_search_capacity_rejected_total{reason=\"business_rule\"} 1",
        "ror_search_capacity_rejected_total{reason=\"bad_line\"} 1",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
}

/// The data-quality report over HTTP: the admin token, filters, paging, both exports, an EG's
/// sheet, and the capacity rules kept current by live writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quality_report() {
    let index = index_dir();
    let (router, handle) = app(index.path());
    let answer = call(&router, "GET", "/v1/quality", &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let get = |uri: String| {
        let router = router.clone();
        async move {
            let auth = format!("Bearer {TOKEN}");
            call(&router, "GET", &uri, &[("authorization", auth.as_str())], Vec::new()).await
        }
    };
    let all = get("/v1/quality".into()).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    let total = all["counts"]["total"].as_u64().unwrap();
    assert!(total > 100, "{total}");
    assert_eq!(all["findings"].as_array().unwrap().len(), 100);
    assert_eq!(all["next_offset"], 100);
    let sum: u64 = all["counts"]["by_rule"].as_array().unwrap().iter().map(|row| row["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, total);
    assert!(all["trend"]["by_rule"].is_array());
    // The duplicate synchro id of the test data, on both locations.
    let duplicates = get("/v1/quality?rule=duplicate_synchro_id".into()).await.json();
    let ids: Vec<&str> =
        duplicates["findings"].as_array().unwrap().iter().map(|f| f["record_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["loc-010000024-2", "loc-010000024-3"]);
    assert_eq!(duplicates["findings"][0]["finess"], "010000024");
    // Pages follow each other.
    let first = get("/v1/quality?limit=14".into()).await.json();
    let a = get("/v1/quality?limit=7".into()).await.json();
    let b = get("/v1/quality?limit=7&offset=7".into()).await.json();
    let joined: Vec<Value> =
        a["findings"].as_array().unwrap().iter().chain(b["findings"].as_array().unwrap()).cloned().collect();
    assert_eq!(&joined, first["findings"].as_array().unwrap());
    // Filters keep exactly their part.
    for (query, field, value) in [
        ("finess=010000024", "finess", "010000024"),
        ("departement=01", "departement", "01"),
        ("region=84", "region", "84"),
        ("severity=error", "severity", "error"),
    ] {
        let kept = get(format!("/v1/quality?{query}&limit=1000")).await.json();
        let findings = kept["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{query}");
        assert!(findings.iter().all(|finding| finding[field] == value), "{query}");
        assert!(kept["counts"]["total"].as_u64().unwrap() <= total);
    }
    for (query, parameter) in
        [("rule=bogus", "rule"), ("severity=fatal", "severity"), ("format=xml", "format"), ("limit=5000", "limit")]
    {
        let answer = get(format!("/v1/quality?{query}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.json()["error"]["parameter"], parameter, "{query}");
    }
    // Exports: every finding.
    let csv = get("/v1/quality?format=csv".into()).await;
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    assert!(csv.body.starts_with("\u{feff}".as_bytes()));
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(&csv.body[3..]);
    assert_eq!(&reader.headers().unwrap()[0], "règle");
    assert_eq!(reader.records().count() as u64, total);
    let ndjson = get("/v1/quality?format=ndjson&rule=duplicate_synchro_id".into()).await;
    assert_eq!(ndjson.text().lines().count(), 2);
    // One EG's sheet.
    let sheet = get("/v1/quality/eg/010000024".into()).await;
    assert_eq!(sheet.status, StatusCode::OK);
    let sheet = sheet.json();
    assert_eq!(sheet["eg"]["finess"], "010000024");
    assert!(sheet["findings"].as_array().unwrap().iter().all(|finding| finding["finess"] == "010000024"));
    assert_eq!(get("/v1/quality/eg/999999999".into()).await.status, StatusCode::NOT_FOUND);
    // A live write that puts more places available than installed is a finding at once; its
    // delete takes it back.
    let offer_id = {
        let loaded = handle.current().unwrap();
        let dataset = &loaded.engine.data().dataset;
        let location = dataset.locations.iter().position(|location| location.id == "loc-010000024-8").unwrap() as u32;
        dataset.offers.iter().find(|offer| offer.locations.contains(&location)).unwrap().id.clone()
    };
    let flagged = |answer: &Value| {
        answer["findings"].as_array().unwrap().iter().any(|finding| finding["record_id"] == offer_id.as_str())
    };
    let uri = "/v1/quality?rule=available_above_installed&finess=010000024&limit=1000".to_owned();
    let before = flagged(&get(uri.clone()).await.json());
    let recent = format_rfc3339(unix_now() - 3600);
    let record = json!({"location": "loc-010000024-8", "status": "02", "temporality": "01", "gender": "03",
        "temporary_assignment": "01", "capacity_type": "01", "source_type": "02", "count": 10_000, "updated_at": recent});
    let answers = post_batch(&router, &[line(record.clone())]).await;
    assert_eq!(answers[0]["status"], "applied", "{answers:?}");
    let after = get(uri.clone()).await.json();
    assert!(flagged(&after), "{after}");
    assert!(after["live_writes_applied"].as_u64().unwrap() >= 1);
    let mut delete = record;
    delete["delete"] = json!(true);
    delete["updated_at"] = json!(format_rfc3339(unix_now() - 60));
    let answers = post_batch(&router, &[line(delete)]).await;
    assert_eq!(answers[0]["status"], "applied", "{answers:?}");
    assert_eq!(flagged(&get(uri).await.json()), before);
}
