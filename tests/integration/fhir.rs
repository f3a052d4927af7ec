//! The FHIR facade in-process: every search parameter, prefix, modifier, chain, include and
//! error against an oracle written here over the feed's own FHIR JSON (the resources as the
//! facade must render them), the IG's canonical queries against the equivalent `/v1` query,
//! paging to the end, access masks, live capacities, `$export` and the round trip
//! ingest → facade → ingest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use ror_search::serve::capacity::CapacityService;
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use ror_search::util::geo::{GeoPoint, haversine_m};
use ror_search::util::time::parse_fhir_datetime;
use serde_json::{Value, json};

use crate::common::{Answer, build_subset, call};

const TOKEN: &str = "test-admin-token-0123456789";
const BASE: &str = "http://localhost/fhir";
const R330: &str = "https://mos.esante.gouv.fr/NOS/TRE_R330-TypeStatutCapacite/FHIR/TRE-R330-TypeStatutCapacite";
const R244: &str = "https://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation/FHIR/TRE-R244-CategorieOrganisation";

/// The feed of the tests (Loire-Atlantique and Gironde) as JSON, by type and id, and the
/// snapshot built from it.
struct Fixture {
    dir: tempfile::TempDir,
    resources: BTreeMap<(String, String), Value>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = crate::common::temp_dir();
        let out = dir.path().join("snapshots/s44");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        build_subset(&["44", "33"], &out, "2026-11-10T00:00:00Z", &|_, line| line);
        let mut resources = BTreeMap::new();
        for line in std::fs::read_to_string(out.with_extension("ndjson")).unwrap().lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let key = (value["resourceType"].as_str().unwrap().to_owned(), value["id"].as_str().unwrap().to_owned());
            resources.insert(key, value);
        }
        Fixture { dir, resources }
    })
}

impl Fixture {
    fn snapshot(&self) -> std::path::PathBuf {
        self.dir.path().join("snapshots/s44")
    }

    fn of_type<'a>(&'a self, resource_type: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.resources.iter().filter(move |((t, _), _)| t == resource_type).map(|(_, value)| value)
    }

    fn get(&self, resource_type: &str, id: &str) -> Option<&Value> {
        self.resources.get(&(resource_type.to_owned(), id.to_owned()))
    }

    fn reference<'a>(&'a self, reference: &Value) -> Option<&'a Value> {
        let (resource_type, id) = reference["reference"].as_str()?.split_once('/')?;
        self.get(resource_type, id)
    }
}

/// A router over a fresh index holding the fixture's snapshot, with its own capacity log.
fn app_with(access_file: std::path::PathBuf) -> (axum::Router, Arc<SnapshotHandle>, tempfile::TempDir) {
    let index = crate::common::temp_dir();
    std::os::unix::fs::symlink(fixture().snapshot(), index.path().join("s44")).unwrap();
    let config = ServeConfig {
        index_dir: index.path().to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(access_file),
        poll_interval_secs: 0,
        export_dir: Some(index.path().join("exports")),
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(index.path().to_owned(), Arc::new(Metrics::default())));
    assert!(handle.attach_capacity(Arc::new(CapacityService::open(index.path()).unwrap())));
    handle.install(load_and_warm(&index.path().join("s44")).unwrap());
    (ror_search::http::router(handle.clone(), Arc::new(config)), handle, index)
}

fn app() -> (axum::Router, Arc<SnapshotHandle>, tempfile::TempDir) {
    app_with(crate::common::anonymous_sees_everything())
}

fn shared_app() -> &'static axum::Router {
    static APP: OnceLock<(axum::Router, Arc<SnapshotHandle>, tempfile::TempDir)> = OnceLock::new();
    &APP.get_or_init(app).0
}

async fn get(router: &axum::Router, uri: &str) -> Answer {
    call(router, "GET", uri, &[], Vec::new()).await
}

fn relative(url: &str) -> String {
    url.strip_prefix("http://localhost").unwrap_or_else(|| panic!("absolute URL of this base: {url}")).to_owned()
}

/// Every match of a search (following `next` to the end), the total of its first page, and the
/// distances of `near`.
async fn search_all(router: &axum::Router, path: &str) -> (usize, Vec<String>, Vec<Option<f64>>) {
    let mut uri = format!("/fhir/{path}");
    let mut total = None;
    let mut ids = Vec::new();
    let mut distances = Vec::new();
    let mut pages = 0;
    loop {
        let answer = get(router, &uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
        assert_eq!(answer.content_type(), "application/fhir+json; charset=utf-8");
        let bundle = answer.json();
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "searchset");
        let page_total = bundle["total"].as_u64().unwrap() as usize;
        assert_eq!(*total.get_or_insert(page_total), page_total, "the total is the same on every page");
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            if entry["search"]["mode"] == "match" {
                ids.push(entry["resource"]["id"].as_str().unwrap().to_owned());
                distances.push(entry["search"]["extension"][0]["valueDistance"]["value"].as_f64());
                assert_eq!(
                    entry["fullUrl"],
                    format!("{BASE}/{}/{}", entry["resource"]["resourceType"].as_str().unwrap(), ids.last().unwrap())
                );
            }
        }
        pages += 1;
        assert!(pages < 10_000, "paging ends");
        match bundle["link"].as_array().unwrap().iter().find(|link| link["relation"] == "next") {
            Some(next) => uri = relative(next["url"].as_str().unwrap()),
            None => break,
        }
    }
    (total.unwrap(), ids, distances)
}

/// The ids of the resources of `resource_type` that `keep` keeps, in logical-id order.
fn expected(resource_type: &str, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    fixture()
        .of_type(resource_type)
        .filter(|value| keep(value))
        .map(|value| value["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks a search against the oracle's ids (same ids, same order, total exact).
async fn check(path: &str, want: Vec<String>) {
    let (total, ids, _) =
        search_all(shared_app(), &format!("{path}{}_count=37", if path.contains('?') { "&" } else { "?" })).await;
    assert_eq!(ids, want, "{path}");
    assert_eq!(total, want.len(), "{path}: total");
}

// ---- the oracle's view of the JSON -------------------------------------------------------

fn codings(concepts: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let list: Vec<&Value> = match concepts {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        single => vec![single],
    };
    for concept in list {
        for coding in concept["coding"].as_array().into_iter().flatten() {
            out.push((
                coding["system"].as_str().unwrap_or_default().to_owned(),
                coding["code"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// `meta.tag` holds codings, not concepts.
fn has_tag(resource: &Value, code: &str) -> bool {
    resource["meta"]["tag"].as_array().into_iter().flatten().any(|coding| coding["code"] == code)
}

fn has_code(concepts: &Value, code: &str) -> bool {
    codings(concepts).iter().any(|(_, c)| c == code)
}

fn extensions<'a>(resource: &'a Value, suffix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    resource["extension"].as_array().into_iter().flatten().filter(move |e| e["url"].as_str().unwrap().ends_with(suffix))
}

fn sub<'a>(extension: &'a Value, url: &str) -> Option<&'a Value> {
    extension["extension"].as_array()?.iter().find(|e| e["url"] == url)
}

fn instant(value: &Value) -> Option<i64> {
    value.as_str().map(|text| parse_fhir_datetime(text).unwrap())
}

fn last_updated(resource: &Value) -> Option<i64> {
    instant(&resource["meta"]["lastUpdated"])
}

fn fold(text: &str) -> String {
    ror_search::util::fold::fold(text)
}

fn hs_locations(hs: &Value) -> Vec<&'static Value> {
    hs["location"].as_array().into_iter().flatten().filter_map(|r| fixture().reference(r)).collect()
}

fn provider(hs: &Value) -> &'static Value {
    fixture().reference(&hs["providedBy"]).unwrap()
}

fn capacities(location: &Value) -> impl Iterator<Item = &Value> {
    extensions(location, "ror-location-supported-capacity")
}

fn record_code(record: &Value, field: &str) -> Option<String> {
    sub(record, field).map(|f| codings(&f["valueCodeableConcept"])[0].1.clone())
}

fn tariffs(org: &Value) -> impl Iterator<Item = &Value> {
    extensions(org, "ror-organization-price")
}

fn position(location: &Value) -> Option<GeoPoint> {
    let p = &location["position"];
    Some(GeoPoint { lat: p["latitude"].as_f64()?, lon: p["longitude"].as_f64()? })
}

fn identifier_values(resource: &Value) -> Vec<(String, String)> {
    resource["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| (i["system"].as_str().unwrap_or_default().to_owned(), i["value"].as_str().unwrap().to_owned()))
        .collect()
}

fn age(hs: &Value, bound: &str) -> Option<f64> {
    let patient = extensions(hs, "ror-healthcareservice-patient-type").next()?;
    sub(patient, "ageRange")?["valueRange"][bound]["value"].as_f64()
}

// ---- HealthcareService ----------------------------------------------------------------------

#[tokio::test]
async fn healthcare_service_parameters_match_the_oracle() {
    let some: Vec<String> = expected("HealthcareService", |_| true).into_iter().step_by(97).take(3).collect();
    check(&format!("HealthcareService?_id={}", some.join(",")), some.clone()).await;
    check("HealthcareService?_id=nope", vec![]).await;

    let since = parse_fhir_datetime("2026-10-01").unwrap();
    check(
        "HealthcareService?_lastUpdated=ge2026-10-01",
        expected("HealthcareService", |hs| last_updated(hs).is_some_and(|t| t >= since)),
    )
    .await;
    check(
        "HealthcareService?_lastUpdated=lt2026-10",
        expected("HealthcareService", |hs| last_updated(hs).is_some_and(|t| t < since)),
    )
    .await;
    let (start, end) = (parse_fhir_datetime("2026-08").unwrap(), parse_fhir_datetime("2026-09").unwrap());
    check(
        "HealthcareService?_lastUpdated=2026-08",
        expected("HealthcareService", |hs| last_updated(hs).is_some_and(|t| start <= t && t < end)),
    )
    .await;
    check(
        "HealthcareService?_lastUpdated=ne2026-08",
        expected("HealthcareService", |hs| last_updated(hs).is_some_and(|t| !(start <= t && t < end))),
    )
    .await;
    check(
        "HealthcareService?_lastUpdated=ge2026-01-01&_lastUpdated=lt2026-07-01",
        expected("HealthcareService", |hs| {
            last_updated(hs).is_some_and(|t| {
                t >= parse_fhir_datetime("2026-01-01").unwrap() && t < parse_fhir_datetime("2026-07-01").unwrap()
            })
        }),
    )
    .await;
    check("HealthcareService?_tag=75", expected("HealthcareService", |hs| has_tag(hs, "75"))).await;

    let identifier = fixture().of_type("HealthcareService").nth(5).unwrap()["identifier"][0]["value"].as_str().unwrap();
    check(
        &format!("HealthcareService?identifier={identifier}"),
        expected("HealthcareService", |hs| identifier_values(hs).iter().any(|(_, v)| v == identifier)),
    )
    .await;

    check(
        "HealthcareService?name=unite%20d",
        expected("HealthcareService", |hs| fold(hs["name"].as_str().unwrap()).starts_with("unite d")),
    )
    .await;
    check(
        "HealthcareService?name:contains=HEBERG",
        expected("HealthcareService", |hs| fold(hs["name"].as_str().unwrap()).contains("heberg")),
    )
    .await;
    check(
        "HealthcareService?name:exact=Structure%20des%20urgences",
        expected("HealthcareService", |hs| hs["name"] == "Structure des urgences"),
    )
    .await;
    check("HealthcareService?name:exact=structure%20des%20urgences", vec![]).await;

    check("HealthcareService?service-category=20", expected("HealthcareService", |hs| has_code(&hs["category"], "20")))
        .await;
    check(
        &format!("HealthcareService?service-category={R244}|20"),
        expected("HealthcareService", |hs| has_code(&hs["category"], "20")),
    )
    .await;
    check(
        "HealthcareService?service-category=http://mos.esante.gouv.fr/NOS/TRE_R244-CategorieOrganisation|20",
        expected("HealthcareService", |hs| has_code(&hs["category"], "20")),
    )
    .await;
    check("HealthcareService?service-category=|20", vec![]).await;
    check(
        &format!("HealthcareService?service-category={R244}|"),
        expected("HealthcareService", |hs| !codings(&hs["category"]).is_empty()),
    )
    .await;
    check(&format!("HealthcareService?service-category={R330}|20"), vec![]).await;
    check(
        "HealthcareService?service-category=20,21",
        expected("HealthcareService", |hs| has_code(&hs["category"], "20") || has_code(&hs["category"], "21")),
    )
    .await;
    check("HealthcareService?service-type=04", expected("HealthcareService", |hs| has_code(&hs["type"], "04"))).await;
    check("HealthcareService?specialty=157", expected("HealthcareService", |hs| has_code(&hs["specialty"], "157")))
        .await;
    check(
        "HealthcareService?characteristic=33",
        expected("HealthcareService", |hs| has_code(&hs["characteristic"], "33")),
    )
    .await;
    check(
        "HealthcareService?characteristic:not=33",
        expected("HealthcareService", |hs| !has_code(&hs["characteristic"], "33")),
    )
    .await;
    check(
        "HealthcareService?characteristic=33&characteristic=40",
        expected("HealthcareService", |hs| {
            has_code(&hs["characteristic"], "33") && has_code(&hs["characteristic"], "40")
        }),
    )
    .await;
    let publics = |hs: &Value| -> Vec<String> {
        extensions(hs, "ror-healthcareservice-patient-type")
            .flat_map(|p| p["extension"].as_array().unwrap().iter())
            .filter(|e| e["url"] == "supportedPatientInfo")
            .map(|e| codings(&e["valueCodeableConcept"])[0].1.clone())
            .collect()
    };
    let some_public =
        fixture().of_type("HealthcareService").flat_map(&publics).next().expect("a public in the fixture");
    check(
        &format!("HealthcareService?patient-type={some_public}"),
        expected("HealthcareService", |hs| publics(hs).contains(&some_public)),
    )
    .await;

    check(
        "HealthcareService?age-range-low=ge18|http://unitsofmeasure.org|a",
        expected("HealthcareService", |hs| age(hs, "low").is_some_and(|a| a >= 18.0)),
    )
    .await;
    check(
        "HealthcareService?age-range-high=le60|https://unitsofmeasure.org|a",
        expected("HealthcareService", |hs| age(hs, "high").is_some_and(|a| a <= 60.0)),
    )
    .await;
    check(
        "HealthcareService?age-range-low=ge216|http://unitsofmeasure.org|mo",
        expected("HealthcareService", |hs| age(hs, "low").is_some_and(|a| a >= 18.0)),
    )
    .await;
    check("HealthcareService?age-range-low:missing=true", expected("HealthcareService", |hs| age(hs, "low").is_none()))
        .await;

    let hs = fixture().of_type("HealthcareService").nth(11).unwrap();
    let location_ref = hs["location"][0]["reference"].as_str().unwrap();
    check(
        &format!("HealthcareService?location={location_ref}"),
        expected("HealthcareService", |other| {
            other["location"].as_array().into_iter().flatten().any(|r| r["reference"] == location_ref)
        }),
    )
    .await;
    let provider_ref = hs["providedBy"]["reference"].as_str().unwrap();
    let provider_id = provider_ref.split_once('/').unwrap().1;
    check(
        &format!("HealthcareService?organization={provider_id}"),
        expected("HealthcareService", |other| other["providedBy"]["reference"] == provider_ref),
    )
    .await;
    check(&format!("HealthcareService?organization=Location/{provider_id}"), vec![]).await;
}

#[tokio::test]
async fn text_search_is_the_engines() {
    // `_content` is the engine's French text search: the same matches as `/v1/offers?q=`.
    for q in ["ehpad nantes", "urgences", "soins de suite bordeaux"] {
        let v1 = get(shared_app(), &format!("/v1/offers?q={}&limit=200&exact_total=true", q.replace(' ', "%20")))
            .await
            .json();
        let v1_ids: BTreeSet<String> =
            v1["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        assert!(v1["total"].as_u64().unwrap() <= 200, "the query fits one /v1 page");
        let (_, ids, _) =
            search_all(shared_app(), &format!("HealthcareService?_content={}", q.replace(' ', "%20"))).await;
        let closed: BTreeSet<String> = ids.iter().filter(|id| is_closed(id)).cloned().collect();
        let open: BTreeSet<String> = ids.iter().filter(|id| !closed.contains(*id)).cloned().collect();
        assert_eq!(open, v1_ids, "{q}");
        let (_, text_ids, _) =
            search_all(shared_app(), &format!("HealthcareService?_text={}", q.replace(' ', "%20"))).await;
        assert_eq!(text_ids, ids);
    }
}

/// Whether an offer is closed now (`/v1` leaves closed offers out; FHIR gives them with their
/// `notAvailable`).
fn is_closed(id: &str) -> bool {
    let hs = fixture().get("HealthcareService", id).unwrap();
    let now = ror_search::util::time::parse_fhir_datetime("2026-12-01").unwrap().max(unix_now());
    let offer_closed = hs["notAvailable"].as_array().into_iter().flatten().any(|n| {
        instant(&n["during"]["start"]).is_some_and(|start| start <= now)
            && instant(&n["during"]["end"]).is_none_or(|end| end > now)
    });
    let eg_closed = extensions(provider(hs), "organization-period")
        .any(|p| instant(&p["valuePeriod"]["end"]).is_some_and(|end| end <= now));
    offer_closed || eg_closed
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn chains_match_on_one_location_one_record_and_one_tariff() {
    // location.near: the offers with a location within 15 km of Nantes, nearest first.
    let centre = GeoPoint { lat: 47.218, lon: -1.636 };
    let near = |hs: &Value| -> Option<f64> {
        hs_locations(hs)
            .iter()
            .filter_map(|l| position(l))
            .map(|p| haversine_m(centre, p))
            .filter(|&d| d <= 15_000.0)
            .reduce(f64::min)
    };
    let mut want: Vec<(f64, String)> = fixture()
        .of_type("HealthcareService")
        .filter_map(|hs| near(hs).map(|d| (d, hs["id"].as_str().unwrap().to_owned())))
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (total, ids, distances) =
        search_all(shared_app(), "HealthcareService?location.near=47.218|-1.636|15|km&_count=50").await;
    assert_eq!(ids, want.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    assert_eq!(total, want.len());
    assert!(want.len() > 100, "a dense enough test: {}", want.len());
    for ((distance_m, _), distance_km) in want.iter().zip(distances) {
        assert!((distance_m / 1000.0 - distance_km.unwrap()).abs() < 1e-5);
    }
    let (_, in_metres, _) = search_all(shared_app(), "HealthcareService?location.near=47.218|-1.636|15000|m").await;
    assert_eq!(in_metres, ids);

    // the capacity parameters on the SAME record: available (02) with a count > 0
    let free_now = |location: &Value| {
        capacities(location).any(|r| {
            record_code(r, "capacityStatus").as_deref() == Some("02")
                && sub(r, "nbCapacity").unwrap()["valueInteger"].as_u64().unwrap() > 0
        })
    };
    let loose = |location: &Value| {
        capacities(location).any(|r| record_code(r, "capacityStatus").as_deref() == Some("02"))
            && capacities(location).any(|r| sub(r, "nbCapacity").unwrap()["valueInteger"].as_u64().unwrap() > 0)
    };
    let strict_ids = expected("HealthcareService", |hs| hs_locations(hs).iter().any(|l| free_now(l)));
    let loose_ids = expected("HealthcareService", |hs| hs_locations(hs).iter().any(|l| loose(l)));
    assert!(strict_ids.len() < loose_ids.len(), "the fixture tells record-level from location-level");
    check(&format!("HealthcareService?location.capacity-status={R330}|02&location.nb-capacity=gt0"), strict_ids).await;
    check("Location?capacity-status=02&nb-capacity=gt0", expected("Location", |l| free_now(l))).await;

    // organization.*: the provider; organization:above.*: the provider or its EJ
    check(
        "HealthcareService?organization.type=500",
        expected("HealthcareService", |hs| has_code(&provider(hs)["type"], "500")),
    )
    .await;
    let parent_of_some = fixture().of_type("Organization").find_map(|o| o["partOf"]["reference"].as_str()).unwrap();
    let ej = fixture().reference(&json!({"reference": parent_of_some})).unwrap();
    let ej_finess = identifier_values(ej).into_iter().find(|(s, _)| s == "https://finess.esante.gouv.fr").unwrap().1;
    let ej_ref = format!("Organization/{}", ej["id"].as_str().unwrap());
    let under_ej = expected("HealthcareService", |hs| {
        provider(hs)["partOf"]["reference"] == ej_ref.as_str() || hs["providedBy"]["reference"] == ej_ref.as_str()
    });
    assert!(!under_ej.is_empty());
    check(
        &format!("HealthcareService?organization:above.identifier=https://finess.esante.gouv.fr|{ej_finess}"),
        under_ej,
    )
    .await;
    check(
        &format!("HealthcareService?organization.identifier=https://finess.esante.gouv.fr|{ej_finess}"),
        expected("HealthcareService", |hs| hs["providedBy"]["reference"] == ej_ref.as_str()),
    )
    .await;

    // price parameters on the SAME tariff: a dépendance GIR 1-2 price under 20 EUR
    let cheap_gir12 = |org: &Value| {
        tariffs(org).any(|t| {
            record_code(t, "priceType").as_deref() == Some("03")
                && record_code(t, "dependencyLevel").as_deref() == Some("01")
                && sub(t, "amount").unwrap()["valueMoney"]["value"].as_f64().unwrap() < 20.0
        })
    };
    let query = "price-type=03&price-dependency-level=01&price-amount-value=lt20";
    check(&format!("Organization?{query}"), expected("Organization", |o| cheap_gir12(o))).await;
    check(
        &format!("HealthcareService?{}", query.replace("price-", "organization.price-")),
        expected("HealthcareService", |hs| cheap_gir12(provider(hs))),
    )
    .await;
    check(
        "Organization?special-price=01",
        expected("Organization", |o| tariffs(o).any(|t| record_code(t, "specialPrice").as_deref() == Some("01"))),
    )
    .await;
}

// ---- Location -------------------------------------------------------------------------------

#[tokio::test]
async fn location_parameters_match_the_oracle() {
    // near-insee-code: around the centroid of Nantes (44109) from the communes table
    let centroid = {
        let communes =
            ror_search::ingest::communes::read_communes(&crate::common::crate_path("data-samples/communes.csv.gz"))
                .unwrap();
        let nantes = communes.iter().find(|c| c.code == "44109").unwrap();
        GeoPoint { lat: nantes.lat, lon: nantes.lon }
    };
    let mut want: Vec<(f64, String)> = fixture()
        .of_type("Location")
        .filter_map(|l| position(l).map(|p| (haversine_m(centroid, p), l["id"].as_str().unwrap().to_owned())))
        .filter(|(d, _)| *d <= 10_000.0)
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (_, ids, _) = search_all(shared_app(), "Location?near-insee-code=44109|10|km").await;
    assert_eq!(ids, want.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    let (_, chained, _) =
        search_all(shared_app(), "HealthcareService?location.near-insee-code=44109|10|km&_count=500").await;
    let mut via_locations: Vec<String> = Vec::new();
    for id in &ids {
        for hs in fixture().of_type("HealthcareService") {
            if hs["location"].as_array().into_iter().flatten().any(|r| r["reference"] == format!("Location/{id}"))
                && !via_locations.iter().any(|v| v == hs["id"].as_str().unwrap())
            {
                via_locations.push(hs["id"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(chained.iter().collect::<BTreeSet<_>>(), via_locations.iter().collect::<BTreeSet<_>>());
    // an unknown commune: no match, and an outcome entry that says why
    let bundle = get(shared_app(), "/fhir/Location?near-insee-code=99999|10|km").await.json();
    assert_eq!(bundle["total"], 0);
    assert_eq!(bundle["entry"][0]["search"]["mode"], "outcome", "{bundle}");

    check(
        "Location?address-postalcode=441",
        expected("Location", |l| l["address"]["postalCode"].as_str().is_some_and(|p| p.starts_with("441"))),
    )
    .await;
    check(
        "Location?address-city=saint",
        expected("Location", |l| l["address"]["city"].as_str().is_some_and(|c| fold(c).starts_with("saint"))),
    )
    .await;
    check(
        "Location?commune-cog=44109",
        expected("Location", |l| {
            extensions(l, "ror-commune-cog").any(|e| has_code(&e["valueCodeableConcept"], "44109"))
        }),
    )
    .await;
    let some = fixture().of_type("Location").nth(3).unwrap();
    let synchro = &identifier_values(some)[1].1;
    check(
        &format!("Location?identifier={synchro}"),
        expected("Location", |l| identifier_values(l).iter().any(|(_, v)| v == synchro)),
    )
    .await;
    check("Location?status=active", expected("Location", |_| true)).await;
    let update = parse_fhir_datetime("2026-10-31").unwrap();
    let crisis_recent = |l: &Value| {
        capacities(l).any(|r| {
            record_code(r, "capacityStatus").as_deref() == Some("06")
                && sub(r, "capacityUpdateDate").and_then(|d| instant(&d["valueDateTime"])).is_some_and(|t| t >= update)
        })
    };
    check("Location?capacity-status=06&capacity-update-date=ge2026-10-31", expected("Location", |l| crisis_recent(l)))
        .await;
    check(
        "Location?crisis-type=02&temporality-capacity=02",
        expected("Location", |l| {
            capacities(l).any(|r| {
                record_code(r, "crisisType").as_deref() == Some("02")
                    && record_code(r, "temporalityCapacity").as_deref() == Some("02")
            })
        }),
    )
    .await;
    check(
        "Location?gender-capacity-available=02&nb-capacity=ge2",
        expected("Location", |l| {
            capacities(l).any(|r| {
                record_code(r, "genderCapacityAvailable").as_deref() == Some("02")
                    && sub(r, "nbCapacity").unwrap()["valueInteger"].as_u64().unwrap() >= 2
            })
        }),
    )
    .await;
    check(
        "Location?capacity-type=01&capacity-status=01&nb-capacity=100",
        expected("Location", |l| {
            capacities(l).any(|r| {
                record_code(r, "capacityType").as_deref() == Some("01")
                    && record_code(r, "capacityStatus").as_deref() == Some("01")
                    && sub(r, "nbCapacity").unwrap()["valueInteger"] == 100
            })
        }),
    )
    .await;
}

// ---- Organization ---------------------------------------------------------------------------

#[tokio::test]
async fn organization_parameters_match_the_oracle() {
    let eg = fixture().of_type("Organization").find(|o| o.get("partOf").is_some()).unwrap();
    let finess = identifier_values(eg).into_iter().find(|(s, _)| s == "https://finess.esante.gouv.fr").unwrap().1;
    let with_finess = |f: &str| {
        expected("Organization", |o| {
            identifier_values(o).iter().any(|(s, v)| s == "https://finess.esante.gouv.fr" && v == f)
        })
    };
    check(&format!("Organization?identifier=https://finess.esante.gouv.fr|{finess}"), with_finess(&finess)).await;
    check(&format!("Organization?identifier=http://finess.esante.gouv.fr|{finess}"), with_finess(&finess)).await;
    check(&format!("Organization?identifier=urn:oid:1.2.250.1.71.4.2.2|1{finess}"), with_finess(&finess)).await;
    check(&format!("Organization?identifier={finess}"), with_finess(&finess)).await;
    check("Organization?type=500", expected("Organization", |o| has_code(&o["type"], "500"))).await;
    check(
        "Organization?name=ehpad",
        expected("Organization", |o| {
            o["name"].as_str().is_some_and(|n| fold(n).starts_with("ehpad"))
                || o["alias"].as_array().into_iter().flatten().any(|a| fold(a.as_str().unwrap()).starts_with("ehpad"))
        }),
    )
    .await;
    let parent = eg["partOf"]["reference"].as_str().unwrap();
    check(&format!("Organization?partof={parent}"), expected("Organization", |o| o["partOf"]["reference"] == parent))
        .await;
    check(
        "Organization?address-postalcode=33",
        expected("Organization", |o| o["address"][0]["postalCode"].as_str().is_some_and(|p| p.starts_with("33"))),
    )
    .await;
    check("Organization?_tag=52", expected("Organization", |o| has_tag(o, "52"))).await;
    check(
        "Organization?price-amount-value=ge100&price-unit=2",
        expected("Organization", |o| {
            tariffs(o).any(|t| {
                sub(t, "amount").unwrap()["valueMoney"]["value"].as_f64().unwrap() >= 100.0
                    && record_code(t, "priceUnit").as_deref() == Some("2")
            })
        }),
    )
    .await;
}

// ---- sort, paging, summary, elements, includes, errors ---------------------------------------

#[tokio::test]
async fn sorts_are_total_and_pages_continue() {
    let (_, ids, _) = search_all(shared_app(), "Organization?type=500&_sort=-_lastUpdated&_count=13").await;
    let mut want: Vec<&Value> = fixture().of_type("Organization").filter(|o| has_code(&o["type"], "500")).collect();
    want.sort_by(|a, b| last_updated(b).cmp(&last_updated(a)).then(a["id"].as_str().cmp(&b["id"].as_str())));
    assert_eq!(ids, want.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>());
    let (_, by_name, _) = search_all(shared_app(), "HealthcareService?specialty=157&_sort=name,-_id").await;
    let mut want: Vec<&Value> =
        fixture().of_type("HealthcareService").filter(|hs| has_code(&hs["specialty"], "157")).collect();
    want.sort_by(|a, b| {
        fold(a["name"].as_str().unwrap())
            .cmp(&fold(b["name"].as_str().unwrap()))
            .then(b["id"].as_str().cmp(&a["id"].as_str()))
    });
    assert_eq!(by_name, want.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>());

    // paging the whole type, 500 a page: every resource once
    let (total, all, _) = search_all(shared_app(), "HealthcareService?_count=500").await;
    assert_eq!(all, expected("HealthcareService", |_| true));
    assert_eq!(total, all.len());
    // the links: self shows what was used, previous goes back
    let first = get(shared_app(), "/fhir/Location?commune-cog=44109&_count=5&bogus=1").await.json();
    let link = |bundle: &Value, relation: &str| {
        bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == relation)
            .map(|l| relative(l["url"].as_str().unwrap()))
    };
    assert_eq!(link(&first, "self").unwrap(), "/fhir/Location?commune-cog=44109&_count=5");
    assert!(link(&first, "previous").is_none());
    let second = get(shared_app(), &link(&first, "next").unwrap()).await.json();
    let back = get(shared_app(), &link(&second, "previous").unwrap()).await.json();
    assert_eq!(
        back["entry"],
        Value::from(first["entry"].as_array().unwrap()[..5].to_vec()),
        "previous is the first page again"
    );
    // _count over the page maximum is lowered, and said in the links
    let big = get(shared_app(), "/fhir/HealthcareService?_count=100000").await.json();
    assert_eq!(big["entry"].as_array().unwrap().len(), ror_search::fhir::MAX_COUNT);
    assert!(link(&big, "self").unwrap().ends_with(&format!("_count={}", ror_search::fhir::MAX_COUNT)));
}

#[tokio::test]
async fn count_only_summaries_and_elements() {
    for query in ["_count=0", "_summary=count"] {
        let bundle = get(shared_app(), &format!("/fhir/HealthcareService?service-type=04&{query}")).await.json();
        assert_eq!(bundle["total"], expected("HealthcareService", |hs| has_code(&hs["type"], "04")).len());
        assert!(bundle.get("entry").is_none(), "{query}: no entries");
        assert!(bundle["link"].as_array().unwrap().iter().all(|l| l["relation"] == "self"), "{query}: no paging links");
    }
    let bundle = get(shared_app(), "/fhir/HealthcareService?_count=3&_elements=name,identifier").await.json();
    for entry in bundle["entry"].as_array().unwrap() {
        let resource = entry["resource"].as_object().unwrap();
        let keys: BTreeSet<&str> = resource.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["resourceType", "id", "meta", "name", "identifier"]), "{entry}");
        assert!(resource["meta"]["tag"].as_array().unwrap().iter().any(|t| t["code"] == "SUBSETTED"));
    }
    let bundle = get(shared_app(), "/fhir/Location?_count=2&_summary=true").await.json();
    for entry in bundle["entry"].as_array().unwrap() {
        assert!(entry["resource"].get("extension").is_none(), "extensions are not summary elements");
        assert!(entry["resource"].get("position").is_some());
    }
    let bundle = get(shared_app(), "/fhir/Location?_count=2&_total=accurate&_summary=false").await.json();
    assert!(bundle["entry"][0]["resource"].get("extension").is_some());
}

#[tokio::test]
async fn includes_come_with_the_page_of_their_matches() {
    let query = "/fhir/HealthcareService?service-type=04&_include=HealthcareService:organization&_include:iterate=Organization:partof&_include=HealthcareService:location&_revinclude=PractitionerRole:service&_include=PractitionerRole:practitioner&_count=7";
    let mut uri = query.to_owned();
    let mut pages = 0;
    loop {
        let bundle = get(shared_app(), &uri).await.json();
        let entries = bundle["entry"].as_array().unwrap();
        let matches: Vec<&Value> =
            entries.iter().filter(|e| e["search"]["mode"] == "match").map(|e| &e["resource"]).collect();
        let included: BTreeSet<String> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .map(|e| {
                format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap(), e["resource"]["id"].as_str().unwrap())
            })
            .collect();
        let mut want = BTreeSet::new();
        for hs in &matches {
            let provider = provider(hs);
            want.insert(format!("Organization/{}", provider["id"].as_str().unwrap()));
            if let Some(parent) = provider["partOf"]["reference"].as_str() {
                want.insert(parent.to_owned());
            }
            for location in hs["location"].as_array().into_iter().flatten() {
                want.insert(location["reference"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(included, want, "page {pages}: each page carries the includes of its own matches");
        pages += 1;
        match bundle["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next") {
            Some(next) if pages < 4 => uri = relative(next["url"].as_str().unwrap()),
            _ => break,
        }
    }
    assert_eq!(pages, 4);
    // _revinclude on Location: the offers at each location
    let bundle = get(shared_app(), "/fhir/Location?commune-cog=44109&_revinclude=HealthcareService:location&_count=4")
        .await
        .json();
    let entries = bundle["entry"].as_array().unwrap();
    for location in entries.iter().filter(|e| e["search"]["mode"] == "match") {
        let reference = format!("Location/{}", location["resource"]["id"].as_str().unwrap());
        let offers = expected("HealthcareService", |hs| {
            hs["location"].as_array().into_iter().flatten().any(|r| r["reference"] == reference.as_str())
        });
        for offer in offers {
            assert!(
                entries.iter().any(|e| e["search"]["mode"] == "include" && e["resource"]["id"] == offer.as_str()),
                "{reference}: {offer}"
            );
        }
    }
    // Organization: partof (the EJ) and its reverse (the EGs)
    let bundle = get(shared_app(), "/fhir/Organization?type=500&_include=Organization:partof&_count=3").await.json();
    let entries = bundle["entry"].as_array().unwrap();
    for eg in entries.iter().filter(|e| e["search"]["mode"] == "match") {
        let parent = eg["resource"]["partOf"]["reference"].as_str().unwrap().split_once('/').unwrap().1;
        assert!(entries.iter().any(|e| e["search"]["mode"] == "include" && e["resource"]["id"] == parent));
    }
}

#[tokio::test]
async fn errors_are_operation_outcomes() {
    let app = shared_app();
    /// (uri, headers, status, issue code, expression)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], u16, &'a str, &'a str);
    let cases: &[Case] = &[
        ("/fhir/HealthcareService?name:foo=x", &[], 400, "not-supported", "http.name:foo"),
        ("/fhir/HealthcareService?specialty:below=1", &[], 400, "not-supported", "http.specialty:below"),
        ("/fhir/Location?near=95|2|1", &[], 400, "invalid", "http.near"),
        ("/fhir/Location?near=45|2|1|parsec", &[], 400, "invalid", "http.near"),
        ("/fhir/Location?nb-capacity=gtx", &[], 400, "invalid", "http.nb-capacity"),
        ("/fhir/HealthcareService?_lastUpdated=ge2022-13-01", &[], 400, "invalid", "http._lastUpdated"),
        (
            "/fhir/HealthcareService?age-range-low=18|http://unitsofmeasure.org|cm",
            &[],
            400,
            "invalid",
            "http.age-range-low",
        ),
        ("/fhir/HealthcareService?_count=-1", &[], 400, "invalid", "http._count"),
        ("/fhir/HealthcareService?_sort=price", &[], 400, "not-supported", "http._sort"),
        ("/fhir/HealthcareService?_summary=maybe", &[], 400, "invalid", "http._summary"),
        ("/fhir/HealthcareService?_cursor=zz", &[], 400, "invalid", "http._cursor"),
        ("/fhir/HealthcareService?_format=xml", &[], 400, "not-supported", "http._format"),
        ("/fhir/HealthcareService?bogus=1", &[("prefer", "handling=strict")], 400, "not-supported", "http.bogus"),
        (
            "/fhir/HealthcareService?location.bogus=1",
            &[("prefer", "handling=strict")],
            400,
            "not-supported",
            "http.location.bogus",
        ),
        (
            "/fhir/HealthcareService?_include=Patient:link",
            &[("prefer", "handling=strict")],
            400,
            "not-supported",
            "http._include",
        ),
        (
            "/fhir/Organization?location.near=1|2",
            &[("prefer", "handling=strict")],
            400,
            "not-supported",
            "http.location.near",
        ),
    ];
    for (uri, headers, status, code, expression) in cases {
        let answer = call(app, "GET", uri, headers, Vec::new()).await;
        assert_eq!(answer.status.as_u16(), *status, "{uri}: {}", answer.text());
        assert_eq!(answer.content_type(), "application/fhir+json; charset=utf-8", "{uri}");
        let body = answer.json();
        assert_eq!(body["resourceType"], "OperationOutcome", "{uri}");
        assert_eq!(body["issue"][0]["code"], *code, "{uri}: {body}");
        assert_eq!(body["issue"][0]["expression"], json!([expression]), "{uri}: {body}");
    }
    // lenient (the default): unknown parameters are ignored and said in an outcome entry
    let bundle = get(app, "/fhir/HealthcareService?bogus=1&_count=1&_has:PractitionerRole:service:x=1").await.json();
    assert_eq!(bundle["total"], expected("HealthcareService", |_| true).len());
    let outcome = bundle["entry"].as_array().unwrap().iter().find(|e| e["search"]["mode"] == "outcome").unwrap();
    assert_eq!(outcome["resource"]["issue"].as_array().unwrap().len(), 2, "{outcome}");
    // the Ror-* headers are accepted and ignored
    let with_headers = call(
        app,
        "GET",
        "/fhir/HealthcareService?_count=0",
        &[("Ror-Profil-Utilisateur-Code", "CU22"), ("Ror-Role-Metier-Code", "AUTOMATE")],
        Vec::new(),
    )
    .await;
    assert_eq!(with_headers.status, StatusCode::OK);
    // reads
    let hs_id = expected("HealthcareService", |_| true).remove(0);
    let read = get(app, &format!("/fhir/HealthcareService/{hs_id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["id"], hs_id.as_str());
    assert!(read.headers.get("etag").is_some());
    let missing = get(app, "/fhir/Organization/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["issue"][0]["code"], "not-found");
    let with_parameter = get(app, &format!("/fhir/HealthcareService/{hs_id}?x=1")).await;
    assert_eq!(with_parameter.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_capability_statement_declares_what_is_answered() {
    let statement = get(shared_app(), "/fhir/metadata").await.json();
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    let rest = &statement["rest"][0];
    for resource in rest["resource"].as_array().unwrap() {
        let resource_type = resource["type"].as_str().unwrap();
        let declared: BTreeSet<&str> =
            resource["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        // each declared parameter is accepted in strict mode (a value of its type)
        for name in &declared {
            let value = match *name {
                "near" => "47.2|-1.5|1|km",
                "near-insee-code" => "44109|1|km",
                "_lastUpdated" | "capacity-update-date" | "price-validity-start-date" => "ge2020-01-01",
                "nb-capacity" | "price-amount-value" => "gt0",
                "age-range-low" | "age-range-high" => "ge1",
                "location" | "organization" | "partof" => "x",
                _ => "x",
            };
            let answer = call(
                shared_app(),
                "GET",
                &format!("/fhir/{resource_type}?{name}={value}&_count=0"),
                &[("prefer", "handling=strict")],
                Vec::new(),
            )
            .await;
            assert_eq!(answer.status, StatusCode::OK, "{resource_type}?{name}: {}", answer.text());
        }
        let interactions: Vec<&str> =
            resource["interaction"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert!(interactions.contains(&"read") && interactions.contains(&"search-type"));
        assert_eq!(interactions.contains(&"patch"), resource_type == "Location");
    }
    assert_eq!(rest["operation"][0]["name"], "export");
}

#[test]
fn the_readme_parameter_table_is_the_capability_statement() {
    let readme_path = crate::common::crate_path("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (begin, end) = ("<!-- fhir-params:begin -->\n", "<!-- fhir-params:end -->");
    let start = readme.find(begin).expect("README has the FHIR parameter table markers") + begin.len();
    let stop = readme[start..].find(end).unwrap() + start;
    let table = ror_search::fhir::capability::params_markdown();
    if std::env::var_os("ROR_UPDATE_README").is_some() {
        std::fs::write(&readme_path, format!("{}{}{}", &readme[..start], table, &readme[stop..])).unwrap();
        return;
    }
    assert_eq!(&readme[start..stop], table, "run with ROR_UPDATE_README=1 to regenerate");
}

// ---- the IG's canonical queries = the equivalent /v1 query ----------------------------------

#[tokio::test]
async fn canonical_queries_match_v1() {
    let app = shared_app();
    let ids_of_v1 = |body: &Value| -> Vec<String> {
        body["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    let open_only = |ids: &[String]| -> Vec<String> { ids.iter().filter(|id| !is_closed(id)).cloned().collect() };
    // location.near with a specialty (urgences polyvalentes), nearest first
    let (_, fhir, _) = search_all(app, "HealthcareService?specialty=157&location.near=47.218|-1.636|15|km").await;
    let v1 = get(app, "/v1/offers?activity=157&lat=47.218&lon=-1.636&radius_km=15&limit=200").await.json();
    assert_eq!(open_only(&fhir), ids_of_v1(&v1));
    // location.near-insee-code (Nantes, 15 km)
    let (_, fhir, _) = search_all(app, "HealthcareService?specialty=157&location.near-insee-code=44109|15|km").await;
    let v1 = get(app, "/v1/offers?activity=157&commune=44109&radius_km=15&limit=200").await.json();
    assert_eq!(open_only(&fhir), ids_of_v1(&v1));
    // the capacity search: EHPAD hébergement (service-category 21?) with an available place
    let (_, fhir, _) = search_all(
        app,
        &format!("HealthcareService?organization.type=500&location.capacity-status={R330}|02&location.temporality-capacity=01&location.nb-capacity=gt0&location.near=44.8378|-0.5792|30|km&_include=HealthcareService:location"),
    )
    .await;
    let v1 =
        get(app, "/v1/offers?category=500&min_available=1&lat=44.8378&lon=-0.5792&radius_km=30&limit=200").await.json();
    assert!(v1["total"].as_u64().unwrap() > 5);
    assert_eq!(open_only(&fhir), ids_of_v1(&v1));
    // the full-offer delta query
    let (total, fhir, _) = search_all(
        app,
        "HealthcareService?_lastUpdated=ge2026-10-15T15:00&_include=HealthcareService:organization&_include:iterate=Organization:partof&_include=HealthcareService:location&_revinclude=PractitionerRole:service&_include=PractitionerRole:practitioner&_count=200",
    )
    .await;
    let since = parse_fhir_datetime("2026-10-15T15:00").unwrap();
    assert_eq!(fhir, expected("HealthcareService", |hs| last_updated(hs).is_some_and(|t| t >= since)));
    assert_eq!(total, fhir.len());
}

// ---- access profiles and live capacities ----------------------------------------------------

fn access_file(dir: &Path, profile: u8) -> std::path::PathBuf {
    let path = dir.join(format!("access-{profile}.toml"));
    std::fs::write(&path, format!("allow_anonymous = true\nanonymous_profiles = [{profile}]\n")).unwrap();
    path
}

#[tokio::test]
async fn what_a_profile_does_not_see_is_absent() {
    let dir = crate::common::temp_dir();
    let (public, _, _index) = app_with(access_file(dir.path(), 0));
    let sensitive: Vec<String> =
        expected("HealthcareService", |hs| extensions(hs, "sensitive-unit").any(|e| e["valueBoolean"] == true));
    assert!(!sensitive.is_empty(), "the fixture has unités sensibles");
    let (total, ids, _) = search_all(&public, "HealthcareService?_count=1000").await;
    assert_eq!(total, expected("HealthcareService", |_| true).len() - sensitive.len());
    assert!(ids.iter().all(|id| !sensitive.contains(id)));
    assert_eq!(get(&public, &format!("/fhir/HealthcareService/{}", sensitive[0])).await.status, StatusCode::NOT_FOUND);
    // profile 0 sees no capacity: no record in a Location, a capacity parameter is 403
    let bundle = get(&public, "/fhir/Location?_count=20").await.json();
    for entry in bundle["entry"].as_array().unwrap() {
        assert_eq!(capacities(&entry["resource"]).count(), 0, "{}", entry["resource"]["id"]);
    }
    let forbidden = get(&public, "/fhir/Location?nb-capacity=gt0").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.json()["issue"][0]["code"], "forbidden");
    let chained = get(&public, "/fhir/HealthcareService?location.capacity-status=02").await;
    assert_eq!(chained.status, StatusCode::FORBIDDEN);
    // profile 2 sees installed and operational capacities, not the crisis (supplementary) ones
    let (restricted, _, _index2) = app_with(access_file(dir.path(), 2));
    let (_, with_crisis, _) = search_all(shared_app(), "Location?capacity-status=06").await;
    assert!(!with_crisis.is_empty());
    let (_, seen_by_2, _) = search_all(&restricted, "Location?capacity-status=06").await;
    assert!(seen_by_2.is_empty(), "profile 2 matches no crisis record");
    let location = get(&restricted, &format!("/fhir/Location/{}", with_crisis[0])).await.json();
    assert!(capacities(&location).all(|r| record_code(r, "capacityStatus").as_deref() != Some("06")));
    assert!(capacities(&location).count() > 0);
    // the ORSAN level is for profile 1 only
    let orsan = fixture().of_type("Organization").find(|o| extensions(o, "level-recours-orsan").next().is_some());
    if let Some(org) = orsan {
        let id = org["id"].as_str().unwrap();
        assert!(
            extensions(&get(shared_app(), &format!("/fhir/Organization/{id}")).await.json(), "level-recours-orsan")
                .next()
                .is_some()
        );
        assert!(
            extensions(&get(&restricted, &format!("/fhir/Organization/{id}")).await.json(), "level-recours-orsan")
                .next()
                .is_none()
        );
    }
}

#[tokio::test]
async fn live_capacity_writes_are_in_the_resources_and_searches() {
    let (router, _, _index) = app();
    // a location of an EG with a synchro id, and its available record (status 02, temporality 01)
    let location = fixture()
        .of_type("Location")
        .find(|l| {
            capacities(l).any(|r| {
                record_code(r, "capacityStatus").as_deref() == Some("02")
                    && sub(r, "nbCapacity").unwrap()["valueInteger"] == 0
                    && record_code(r, "genderCapacityAvailable").is_none()
            })
        })
        .expect("a location with an empty available record");
    let id = location["id"].as_str().unwrap();
    let before = get(&router, &format!("/fhir/Location?_id={id}&capacity-status=02&nb-capacity=ge4321")).await.json();
    assert_eq!(before["total"], 0);
    let record = capacities(location)
        .find(|r| {
            record_code(r, "capacityStatus").as_deref() == Some("02")
                && record_code(r, "genderCapacityAvailable").is_none()
        })
        .unwrap()
        .clone();
    let mut line = json!({
        "location": id,
        "status": "02",
        "capacity_type": record_code(&record, "capacityType").unwrap(),
        "temporality": record_code(&record, "temporalityCapacity").unwrap(),
        "count": 4321,
        "updated_at": ror_search::util::time::format_rfc3339(unix_now() - 5),
    });
    if let Some(assignment) = record_code(&record, "temporaryAssignement") {
        line["temporary_assignment"] = json!(assignment);
    }
    let patched = call(
        &router,
        "POST",
        "/v1/capacity",
        &[("authorization", &format!("Bearer {TOKEN}")), ("content-type", "application/x-ndjson")],
        line.to_string().into_bytes(),
    )
    .await;
    assert!(patched.text().contains("applied"), "{}", patched.text());
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let after = get(&router, &format!("/fhir/Location?_id={id}&capacity-status=02&nb-capacity=ge4321")).await.json();
    assert_eq!(after["total"], 1, "the write is searchable at once");
    let read = get(&router, &format!("/fhir/Location/{id}")).await.json();
    assert!(capacities(&read).any(|r| sub(r, "nbCapacity").unwrap()["valueInteger"] == 4321));
    let (_, recent, _) = search_all(
        &router,
        &format!("Location?_lastUpdated=ge{}", ror_search::util::time::format_rfc3339(unix_now() - 60)),
    )
    .await;
    assert!(recent.contains(&id.to_owned()), "meta.lastUpdated follows the live write");
}

#[tokio::test]
async fn a_cursor_of_a_snapshot_no_longer_held_is_gone() {
    let (router, handle, index) = app();
    let first = get(&router, "/fhir/HealthcareService?_count=10").await.json();
    let next = first["link"].as_array().unwrap().iter().find(|l| l["relation"] == "next").unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    // two newer snapshots: the cursor's is neither current nor previous any more
    for (name, at) in [("n1", "2026-11-20T00:00:00Z"), ("n2", "2026-11-21T00:00:00Z")] {
        build_subset(&["44"], &index.path().join(name), at, &|_, line| line);
        handle.install(load_and_warm(&index.path().join(name)).unwrap());
    }
    let gone = get(&router, &relative(&next)).await;
    assert_eq!(gone.status, StatusCode::GONE, "{}", gone.text());
    assert_eq!(gone.json()["resourceType"], "OperationOutcome");
}

// ---- $export and the round trip -------------------------------------------------------------

async fn run_export(router: &axum::Router, query: &str) -> Value {
    let kick_off =
        call(router, "GET", &format!("/fhir/$export{query}"), &[("prefer", "respond-async")], Vec::new()).await;
    assert_eq!(kick_off.status, StatusCode::ACCEPTED, "{}", kick_off.text());
    let status_url = relative(kick_off.headers["content-location"].to_str().unwrap());
    for _ in 0..600 {
        let status = get(router, &status_url).await;
        match status.status {
            StatusCode::ACCEPTED => {
                assert!(status.headers.get("x-progress").is_some());
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            StatusCode::OK => return status.json(),
            other => panic!("export status {other}: {}", status.text()),
        }
    }
    panic!("the export did not finish");
}

async fn export_lines(router: &axum::Router, manifest: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut out = BTreeMap::new();
    for file in manifest["output"].as_array().unwrap() {
        let answer = get(router, &relative(file["url"].as_str().unwrap())).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type(), "application/fhir+ndjson");
        let lines: Vec<Value> = answer.text().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len() as u64, file["count"].as_u64().unwrap());
        out.insert(file["type"].as_str().unwrap().to_owned(), lines);
    }
    out
}

#[tokio::test]
async fn export_writes_every_resource_and_reingests_identically() {
    let (router, _, index) = app();
    let manifest = run_export(&router, "").await;
    let files = export_lines(&router, &manifest).await;
    for resource_type in ["Organization", "Location", "HealthcareService"] {
        let ids: BTreeSet<String> = files[resource_type].iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, expected(resource_type, |_| true).into_iter().collect::<BTreeSet<_>>(), "{resource_type}");
    }
    // the round trip: the export re-ingests into the same dataset and the same answers
    let feed = index.path().join("reingest.ndjson");
    let mut text = String::new();
    for lines in files.values() {
        for line in lines {
            text.push_str(&line.to_string());
            text.push('\n');
        }
    }
    std::fs::write(&feed, text).unwrap();
    let out = index.path().join("reingested");
    ror_search::snapshot::build::build_snapshot(ror_search::snapshot::build::BuildOptions {
        inputs: vec![feed],
        communes: Some(crate::common::crate_path("data-samples/communes.csv.gz")),
        out: out.clone(),
        force: true,
        built_at: parse_fhir_datetime("2026-11-10T00:00:00Z").unwrap(),
        index_files: Some(&ror_search::engine::persist::write_index_files),
        progress_bar: false,
    })
    .unwrap();
    let original = ror_search::engine::Engine::open(&fixture().snapshot()).unwrap();
    let reingested = ror_search::engine::Engine::open(&out).unwrap();
    assert_eq!(original.manifest().counts, reingested.manifest().counts);
    assert_eq!(original.data().dataset, reingested.data().dataset, "the same dataset, field by field");
    for query in [
        "category=500&lat=47.218&lon=-1.636&radius_km=20&gir=2&max_price=90",
        "q=urgences&limit=50",
        "min_available=1&commune=33063&radius_km=25",
    ] {
        let pairs: Vec<(&str, &str)> = query.split('&').map(|pair| pair.split_once('=').unwrap()).collect();
        let request = ror_search::api::search_request(pairs).unwrap();
        let a = original.search(&request).unwrap();
        let b = reingested.search(&request).unwrap();
        assert_eq!(serde_json::to_value(&a.results).unwrap(), serde_json::to_value(&b.results).unwrap(), "{query}");
        assert_eq!(a.total, b.total);
    }
}

#[tokio::test]
async fn export_types_since_type_filters_and_cancellation() {
    let (router, _, _index) = app();
    let manifest = run_export(&router, "?_type=Location,Organization&_since=2026-10-31T00:00:00Z").await;
    let files = export_lines(&router, &manifest).await;
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), ["Location", "Organization"]);
    let since = parse_fhir_datetime("2026-10-31T00:00:00Z").unwrap();
    let ids: BTreeSet<String> = files["Location"].iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, expected("Location", |l| last_updated(l).is_some_and(|t| t > since)).into_iter().collect());
    let manifest = run_export(&router, "?_type=HealthcareService&_typeFilter=HealthcareService%3Fservice-type%3D04,HealthcareService%3Fspecialty%3D157").await;
    let files = export_lines(&router, &manifest).await;
    let ids: Vec<String> = files["HealthcareService"].iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        ids,
        expected("HealthcareService", |hs| has_code(&hs["type"], "04") || has_code(&hs["specialty"], "157"))
    );
    // errors of the kick-off
    for query in
        ["?_type=Patient", "?_since=yesterday", "?_outputFormat=text/csv", "?_typeFilter=HealthcareService%3Fbogus%3D1"]
    {
        let answer = get(&router, &format!("/fhir/$export{query}")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}: {}", answer.text());
        assert_eq!(answer.json()["resourceType"], "OperationOutcome");
    }
    // cancel: the job and its files are gone
    let kick_off = get(&router, "/fhir/$export").await;
    let status_url = relative(kick_off.headers["content-location"].to_str().unwrap());
    assert_eq!(call(&router, "DELETE", &status_url, &[], Vec::new()).await.status, StatusCode::ACCEPTED);
    assert_eq!(get(&router, &status_url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&router, "/fhir/$export-poll-status?_jobId=nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&router, "/fhir/$export-poll-status").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v1_ndjson_streams_every_match_in_page_order() {
    let app = shared_app();
    for query in [
        "category=500&lat=47.218&lon=-1.636&radius_km=40",
        "q=soins",
        "category=500&sort=name",
        "gir=2&max_price=110&sort=price",
    ] {
        let answer = get(app, &format!("/v1/offers?{query}&format=ndjson")).await;
        assert_eq!(answer.status, StatusCode::OK, "{query}: {}", answer.text());
        assert_eq!(answer.content_type(), "application/x-ndjson");
        let lines: Vec<Value> = answer.text().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        let total: usize = answer.headers["x-total-count"].to_str().unwrap().parse().unwrap();
        assert_eq!(lines.len(), total, "{query}");
        // the same results, in the same order, as the pages of the JSON answer
        let mut paged = Vec::new();
        let mut offset = 0;
        loop {
            let page = get(app, &format!("/v1/offers?{query}&limit=200&offset={offset}&exact_total=true")).await.json();
            assert_eq!(page["total"].as_u64().unwrap() as usize, total, "{query}: the exact total");
            let results = page["results"].as_array().unwrap().clone();
            if results.is_empty() {
                break;
            }
            offset += results.len();
            paged.extend(results);
        }
        assert!(total > 200, "{query}: more than a page ({total})");
        assert_eq!(lines, paged, "{query}");
    }
    let bad = get(app, "/v1/offers?format=ndjson&radius_km=5").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "bad_parameter");
}

#[tokio::test]
async fn the_other_parameters_and_prefixes_match_the_oracle() {
    // dates: every prefix on Location._lastUpdated (a minute-precision value is its minute)
    let minute = parse_fhir_datetime("2026-10-30T12:00:00Z").unwrap();
    type Keep = Box<dyn Fn(i64) -> bool>;
    let cases: [(&str, Keep); 8] = [
        ("eq", Box::new(move |t| (minute..minute + 60).contains(&t))),
        ("ne", Box::new(move |t| !(minute..minute + 60).contains(&t))),
        ("gt", Box::new(move |t| t >= minute + 60)),
        ("ge", Box::new(move |t| t >= minute)),
        ("lt", Box::new(move |t| t < minute)),
        ("le", Box::new(move |t| t < minute + 60)),
        ("sa", Box::new(move |t| t >= minute + 60)),
        ("eb", Box::new(move |t| t < minute)),
    ];
    for (prefix, keep) in &cases {
        check(
            &format!("Location?_lastUpdated={prefix}2026-10-30T12:00"),
            expected("Location", |l| last_updated(l).is_some_and(keep)),
        )
        .await;
    }
    check(
        "Organization?_lastUpdated=lt2018",
        expected("Organization", |o| last_updated(o).is_some_and(|t| t < parse_fhir_datetime("2018").unwrap())),
    )
    .await;
    // numbers: every prefix on nb-capacity (on one record)
    let count_is = |l: &Value, keep: &dyn Fn(u64) -> bool| {
        capacities(l).any(|r| keep(sub(r, "nbCapacity").unwrap()["valueInteger"].as_u64().unwrap()))
    };
    check(
        "Location?nb-capacity=ge30&nb-capacity=le32",
        expected("Location", |l| count_is(l, &|n| (30..=32).contains(&n))),
    )
    .await;
    check("Location?nb-capacity=ap100", expected("Location", |l| count_is(l, &|n| (90..=110).contains(&n)))).await;
    check(
        "Location?nb-capacity=lt1&capacity-status=01",
        expected("Location", |l| {
            capacities(l).any(|r| {
                record_code(r, "capacityStatus").as_deref() == Some("01")
                    && sub(r, "nbCapacity").unwrap()["valueInteger"] == 0
            })
        }),
    )
    .await;
    check(
        "Organization?price-amount-value=eq62.92",
        expected("Organization", |o| {
            tariffs(o)
                .any(|t| (sub(t, "amount").unwrap()["valueMoney"]["value"].as_f64().unwrap() - 62.92).abs() < 0.005)
        }),
    )
    .await;
    check(
        "Organization?price-amount-value=sa150",
        expected("Organization", |o| {
            tariffs(o).any(|t| sub(t, "amount").unwrap()["valueMoney"]["value"].as_f64().unwrap() > 150.0)
        }),
    )
    .await;
    // the codes of capacity records and of tariffs not covered above
    for (parameter, field) in [
        ("capacity-closing-type", "capacityClosingType"),
        ("additional-bed-type", "additionalBedType"),
        ("temporary-assignement", "temporaryAssignement"),
        ("capacity-type", "capacityType"),
    ] {
        // a code of the fixture, else one it does not hold (then nothing may match)
        let code = fixture().of_type("Location").flat_map(capacities).find_map(|r| record_code(r, field));
        let code = code.unwrap_or_else(|| "01".to_owned());
        check(
            &format!("Location?{parameter}={code}"),
            expected("Location", |l| capacities(l).any(|r| record_code(r, field).as_deref() == Some(code.as_str()))),
        )
        .await;
    }
    for (parameter, field) in [
        ("price-residential-type", "residentialType"),
        ("price-welcome-type", "welcomeType"),
        ("price-unit", "priceUnit"),
    ] {
        let code = fixture().of_type("Organization").flat_map(tariffs).find_map(|t| record_code(t, field)).unwrap();
        check(
            &format!("Organization?{parameter}={code}"),
            expected("Organization", |o| tariffs(o).any(|t| record_code(t, field).as_deref() == Some(code.as_str()))),
        )
        .await;
    }
    check("Organization?price-amount-currency=EUR", expected("Organization", |o| tariffs(o).next().is_some())).await;
    check("Organization?price-amount-currency=USD", vec![]).await;
    check(
        "Organization?price-validity-start-date=ge2025",
        expected("Organization", |o| {
            tariffs(o).any(|t| {
                sub(t, "startDate")
                    .and_then(|d| instant(&d["valueDateTime"]))
                    .is_some_and(|t| t >= parse_fhir_datetime("2025").unwrap())
            })
        }),
    )
    .await;
    // strings and tokens of Location and Organization
    check(
        "Location?name=reanimation",
        expected("Location", |l| l["name"].as_str().is_some_and(|n| fold(n).starts_with("reanimation"))),
    )
    .await;
    check("Location?name:missing=true", expected("Location", |l| l.get("name").is_none())).await;
    // the sample's Locations carry no fonction du lieu: nothing may match a code of it
    let function = fixture().of_type("Location").find_map(|l| codings(&l["type"]).first().map(|c| c.1.clone()));
    let function = function.unwrap_or_else(|| "01".to_owned());
    check(&format!("Location?type={function}"), expected("Location", |l| has_code(&l["type"], &function))).await;
    check(
        "Organization?address-city=nantes",
        expected("Organization", |o| o["address"][0]["city"].as_str().is_some_and(|c| fold(c).starts_with("nantes"))),
    )
    .await;
    check("Organization?type:not=500", expected("Organization", |o| !has_code(&o["type"], "500"))).await;
    check("Organization?partof:missing=true", expected("Organization", |o| o.get("partOf").is_none())).await;
    // chains of every kind of parameter
    check(
        "HealthcareService?location.address-postalcode=441&service-type=01",
        expected("HealthcareService", |hs| {
            has_code(&hs["type"], "01")
                && hs_locations(hs)
                    .iter()
                    .any(|l| l["address"]["postalCode"].as_str().is_some_and(|p| p.starts_with("441")))
        }),
    )
    .await;
    check(
        "HealthcareService?organization.name:contains=hopital",
        expected("HealthcareService", |hs| provider(hs)["name"].as_str().is_some_and(|n| fold(n).contains("hopital"))),
    )
    .await;
}

/// Names the parser knows (every parameter, chained, with modifiers), and some it does not.
fn parameter_names() -> Vec<String> {
    let statement = ror_search::fhir::capability::params_markdown();
    let mut names: Vec<String> =
        statement.lines().skip(2).filter_map(|line| line.split('`').nth(1).map(str::to_owned)).collect();
    let chained: Vec<String> =
        names.iter().flat_map(|name| [format!("location.{name}"), format!("organization:above.{name}")]).collect();
    names.extend(chained);
    for extra in [
        "_count",
        "_sort",
        "_summary",
        "_elements",
        "_include",
        "_include:iterate",
        "_revinclude",
        "_cursor",
        "_total",
        "name:exact",
        "name:contains",
        "type:not",
        "near:missing",
        "x:y:z",
        "location..near",
        "",
    ] {
        names.push(extra.to_owned());
    }
    names
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 400,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261201),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Any search the parser can be sent is a Bundle (200) or an OperationOutcome (400/403/410),
    /// never a panic or a 500.
    #[test]
    fn random_searches_answer_a_bundle_or_an_outcome(
        resource in proptest::sample::select(vec!["HealthcareService", "Location", "Organization"]),
        pairs in proptest::collection::vec(
            (proptest::sample::select(parameter_names()), proptest::prop_oneof![
                "[a-z0-9|,.:\\\\-]{0,20}",
                "(eq|ne|gt|lt|ge|le|sa|eb|ap)?[0-9]{1,4}(\\.[0-9]{1,3})?",
                "(ge|lt)?20[0-9]{2}(-[01][0-9](-[0-3][0-9](T[0-2][0-9]:[0-5][0-9])?)?)?",
                "-?[0-9]{1,2}\\.[0-9]{1,4}\\|-?[0-9]{1,3}\\.[0-9]{1,4}(\\|[0-9]{1,5}(\\|(km|m|mi))?)?",
                proptest::prelude::any::<String>(),
            ]),
            0..5,
        ),
        strict in proptest::prelude::any::<bool>(),
    ) {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &pairs {
            query.append_pair(name, value);
        }
        let uri = format!("/fhir/{resource}?{}&_count=5", query.finish());
        let headers: &[(&str, &str)] = if strict { &[("prefer", "handling=strict")] } else { &[] };
        let answer = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(call(shared_app(), "GET", &uri, headers, Vec::new()));
        let status = answer.status.as_u16();
        proptest::prop_assert!(matches!(status, 200 | 400 | 403 | 410), "{uri}: {status} {}", answer.text());
        let body = answer.json();
        let expected = if status == 200 { "Bundle" } else { "OperationOutcome" };
        proptest::prop_assert_eq!(body["resourceType"].as_str(), Some(expected), "{}: {}", uri, body);
    }
}
