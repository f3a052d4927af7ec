//! Access profiles 0-5 through every route: each profile's answers against the brute-force
//! reference applying the profile matrix (`model::access`) to the snapshot, and a scan of the
//! raw JSON of every route for what the profile may not see (ids of sensitive units, crisis and
//! operational capacity fields, the ORSAN level).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use ror_search::engine::{CrisisRequest, Engine, reference};
use ror_search::model::access::{Field, MEDICO_SOCIAL_ACTIVITY_FIELD, Profile, ProfileSet};
use ror_search::model::rules::CapacityTotals;
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use serde_json::Value;

use crate::common::{Answer, build_subset, call, temp_dir};

const NOW: &str = "2026-11-15T00:00:00Z";

/// The API key of the test client holding only `profile`.
fn key_of(profile: Profile) -> String {
    format!("key-of-profile-{}", profile.number())
}

struct Fixture {
    _dir: tempfile::TempDir,
    engine: Engine,
    router: axum::Router,
    /// FHIR ids of the sensitive offers.
    sensitive: BTreeSet<String>,
}

/// Marks about one offer in five sensitive (besides the sample's own), so that every kind of
/// offer (medico-social, crisis-capable MCO, psychiatry) has sensitive units.
fn more_sensitive(id: &str, line: String) -> String {
    let hash = id.bytes().fold(7u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte)));
    if id.starts_with("hs-") && hash % 5 == 0 {
        line.replace(
            "ror-healthcareservice-sensitive-unit\",\"valueBoolean\":false",
            "ror-healthcareservice-sensitive-unit\",\"valueBoolean\":true",
        )
    } else {
        line
    }
}

fn access_toml(clients: &[(&str, &str, &str, &str)], extra: &str) -> String {
    let mut text = String::from(extra);
    for (name, key, profiles, roles) in clients {
        let hash = hex::encode(ror_search::auth::sha256(key.as_bytes()));
        text.push_str(&format!(
            "\n[[client]]\nname = \"{name}\"\nkey_sha256 = \"{hash}\"\nprofiles = {profiles}\nroles = {roles}\n"
        ));
    }
    text
}

fn router_over(snapshot: &Path, access: &Path) -> axum::Router {
    let config = ServeConfig {
        index_dir: snapshot.parent().unwrap().to_owned(),
        access_file: Some(access.to_owned()),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(config.index_dir.clone(), Arc::new(Metrics::default())));
    handle.install(load_and_warm(snapshot).unwrap());
    ror_search::http::router(handle, Arc::new(config))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = temp_dir();
        let snapshot = dir.path().join("index/profiles");
        std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        build_subset(&["33", "69", "13"], &snapshot, "2026-11-10T00:00:00Z", &more_sensitive);
        let keys: Vec<(String, String)> =
            Profile::ALL.iter().map(|&profile| (format!("p{}", profile.number()), key_of(profile))).collect();
        let clients: Vec<(&str, &str, String)> = Profile::ALL
            .iter()
            .zip(&keys)
            .map(|(profile, (name, key))| (name.as_str(), key.as_str(), format!("[{}]", profile.number())))
            .collect();
        let clients: Vec<(&str, &str, &str, &str)> =
            clients.iter().map(|(name, key, profiles)| (*name, *key, profiles.as_str(), "[\"read\"]")).collect();
        let access = dir.path().join("access.toml");
        std::fs::write(&access, access_toml(&clients, "allow_anonymous = false\n")).unwrap();
        let engine = Engine::open(&snapshot).unwrap();
        let sensitive: BTreeSet<String> = engine
            .data()
            .dataset
            .offers
            .iter()
            .filter(|offer| offer.sensitive_unit)
            .map(|offer| offer.id.clone())
            .collect();
        let router = router_over(&snapshot, &access);
        Fixture { _dir: dir, engine, router, sensitive }
    })
}

async fn get_as(router: &axum::Router, profile: Profile, uri: &str) -> Answer {
    call(router, "GET", uri, &[("x-api-key", &key_of(profile))], Vec::new()).await
}

fn now() -> i64 {
    ror_search::util::time::parse_fhir_datetime(NOW).unwrap()
}

/// What a profile may not find anywhere in an answer.
fn assert_nothing_hidden_leaks(profiles: ProfileSet, sensitive: &BTreeSet<String>, what: &str, body: &[u8]) {
    let text = std::str::from_utf8(body).unwrap();
    if !profiles.sees_sensitive_units() {
        for id in sensitive {
            assert!(!text.contains(&format!("\"{id}\"")), "profile {profiles}: {what} names the sensitive unit {id}");
        }
    }
    let mut hidden: Vec<&str> = Vec::new();
    if !profiles.sees_anywhere(Field::SupplementaryCapacity) {
        hidden.extend(["\"crisis_t0\"", "\"crisis_t60\"", "\"crisis_t0_updated_at\"", "\"crisis_t60_updated_at\""]);
    }
    if !profiles.sees_anywhere(Field::OperationalCapacity) {
        hidden.extend(["\"available\"", "\"available_updated_at\""]);
    }
    if !profiles.sees_anywhere(Field::InstalledCapacity) {
        hidden.extend(["\"installed\"", "\"installed_updated_at\""]);
    }
    if !profiles.sees_anywhere(Field::OrsanLevel) {
        hidden.push("\"orsan_level\"");
    }
    for key in hidden {
        assert!(!text.contains(key), "profile {profiles}: {what} carries {key}");
    }
}

/// The queries each profile asks (a forbidden one must be a 403 naming its parameter).
const QUERIES: [&str; 10] = [
    "lat=45.76&lon=4.84&radius_km=50&limit=60&facets=true&exact_total=true",
    "commune=33063&radius_km=30&sort=name&limit=100&facets=true",
    "bbox=-1.5,43,5.8,46.5&limit=200&facets=true",
    "limit=100&facets=true&exact_total=true",
    "category=500&lat=44.84&lon=-0.58&limit=30&exact_total=true",
    "q=psychiatrie&limit=50&facets=true",
    "lat=45.76&lon=4.84&radius_km=80&min_available=1&sort=available&limit=50&facets=true",
    "lat=43.3&lon=5.4&min_crisis_t0=1&limit=50&exact_total=true",
    "offer_type=174&limit=100&facets=true",
    "lat=43.3&lon=5.4&radius_km=40&sort=available&limit=80",
];

/// The parameter a profile may not use in a query, if any (from the matrix, not the engine).
fn forbidden_parameter(profiles: ProfileSet, query: &str) -> Option<&'static str> {
    let has = |name: &str| query.split('&').any(|pair| pair.split('=').next() == Some(name));
    if !profiles.sees_anywhere(Field::OperationalCapacity) {
        if has("min_available") {
            return Some("min_available");
        }
        if query.contains("sort=available") {
            return Some("sort");
        }
    }
    if !profiles.sees_anywhere(Field::SupplementaryCapacity) && has("min_crisis_t0") {
        return Some("min_crisis_t0");
    }
    None
}

fn request_of(query: &str, profiles: ProfileSet) -> ror_search::engine::SearchRequest {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let mut request =
        ror_search::api::search_request(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str()))).unwrap();
    request.now = Some(now());
    request.profiles = profiles;
    request
}

fn facets_of(body: &Value) -> [BTreeMap<String, u64>; 3] {
    ["category", "offer_type", "departement"].map(|name| {
        body["facets"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| (value["code"].as_str().unwrap().to_owned(), value["count"].as_u64().unwrap()))
            .collect()
    })
}

/// The capacity fields of a hit against the matrix and the records.
fn check_capacity(engine: &Engine, profiles: ProfileSet, hit: &Value) {
    let dataset = &engine.data().dataset;
    let id = hit["id"].as_str().unwrap();
    let offer = dataset.offers.iter().find(|offer| offer.id == id).unwrap();
    let medico_social = offer.activity_field.as_deref() == Some(MEDICO_SOCIAL_ACTIVITY_FIELD);
    let seen = |field| profiles.sees(field, medico_social, offer.sensitive_unit);
    let totals = CapacityTotals::of_records(
        offer.locations.iter().flat_map(|&location| dataset.locations[location as usize].capacities.iter()),
    );
    let capacity = &hit["capacity"];
    for (key, field, value) in [
        ("installed", Field::InstalledCapacity, totals.installed),
        ("available", Field::OperationalCapacity, totals.available),
        ("crisis_t0", Field::SupplementaryCapacity, totals.crisis_t0),
        ("crisis_t60", Field::SupplementaryCapacity, totals.crisis_t60),
    ] {
        if seen(field) {
            assert_eq!(capacity[key].as_u64(), Some(u64::from(value)), "profile {profiles}, {id}: {key}");
        } else {
            assert!(capacity.get(key).is_none(), "profile {profiles}, {id}: {key} must be absent");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_searches_what_the_matrix_lets_it_see() {
    let fixture = fixture();
    assert!(fixture.sensitive.len() > 20, "the fixture has sensitive units ({})", fixture.sensitive.len());
    let dataset = &fixture.engine.data().dataset;
    let ms_sensitive = dataset
        .offers
        .iter()
        .filter(|offer| offer.sensitive_unit && offer.activity_field.as_deref() == Some(MEDICO_SOCIAL_ACTIVITY_FIELD))
        .count();
    assert!(ms_sensitive > 0, "some sensitive units are medico-social");
    for profile in Profile::ALL {
        let profiles = ProfileSet::of(profile);
        for query in QUERIES {
            let uri = format!("/v1/offers?{query}&now={NOW}");
            let answer = get_as(&fixture.router, profile, &uri).await;
            if let Some(parameter) = forbidden_parameter(profiles, query) {
                assert_eq!(answer.status.as_u16(), 403, "profile {profile}: {uri}: {}", answer.text());
                assert_eq!(answer.error_code(), "forbidden");
                assert_eq!(answer.json()["error"]["parameter"], parameter, "{uri}");
                continue;
            }
            assert_eq!(answer.status.as_u16(), 200, "profile {profile}: {uri}: {}", answer.text());
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, &uri, &answer.body);
            let body = answer.json();
            let request = request_of(query, profiles);
            let expected = reference::search(&fixture.engine, &request, now());
            let ids: Vec<&str> =
                body["results"].as_array().unwrap().iter().map(|hit| hit["id"].as_str().unwrap()).collect();
            assert_eq!(ids, expected.ids, "profile {profile}: {uri}");
            assert_eq!(body["total_exact"], true, "profile {profile}: {uri}");
            assert_eq!(body["total"].as_u64(), Some(expected.total), "profile {profile}: {uri}");
            if request.facets {
                assert_eq!(facets_of(&body), expected.facets, "profile {profile}: {uri}");
            }
            for hit in body["results"].as_array().unwrap() {
                check_capacity(&fixture.engine, profiles, hit);
            }
            let geojson = get_as(&fixture.router, profile, &format!("{uri}&format=geojson")).await;
            assert_eq!(geojson.status.as_u16(), 200);
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, &format!("{uri} (geojson)"), &geojson.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_explain_and_crisis_per_profile() {
    let fixture = fixture();
    let dataset = &fixture.engine.data().dataset;
    let sensitive_sample: Vec<&String> = fixture.sensitive.iter().step_by(7).take(25).collect();
    let egs_with_sensitive: BTreeSet<&str> = dataset
        .offers
        .iter()
        .filter(|offer| offer.sensitive_unit)
        .filter_map(|offer| offer.eg.and_then(|eg| dataset.egs[eg as usize].finess.as_deref()))
        .take(25)
        .collect();
    let some_visible: Vec<&str> = dataset
        .offers
        .iter()
        .filter(|offer| !offer.sensitive_unit)
        .step_by(97)
        .take(25)
        .map(|offer| offer.id.as_str())
        .collect();
    for profile in Profile::ALL {
        let profiles = ProfileSet::of(profile);
        let sees_sensitive = profiles.sees_sensitive_units();
        for id in &sensitive_sample {
            let answer = get_as(&fixture.router, profile, &format!("/v1/offers/{id}")).await;
            assert_eq!(answer.status.as_u16(), if sees_sensitive { 200 } else { 404 }, "profile {profile}: {id}");
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, id, &answer.body);
            let explain = get_as(&fixture.router, profile, &format!("/v1/offers?explain={id}&now={NOW}")).await;
            if sees_sensitive {
                assert_eq!(explain.status.as_u16(), 200, "{}", explain.text());
            } else {
                assert_eq!(explain.status.as_u16(), 400, "an unseen offer is as unknown: {}", explain.text());
                assert_eq!(explain.json()["error"]["parameter"], "explain");
            }
        }
        for id in &some_visible {
            let answer = get_as(&fixture.router, profile, &format!("/v1/offers/{id}")).await;
            assert_eq!(answer.status.as_u16(), 200);
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, id, &answer.body);
            let body = answer.json();
            check_capacity(&fixture.engine, profiles, &body["offer"]);
            let offer = dataset.offers.iter().find(|offer| offer.id == *id).unwrap();
            let medico_social = offer.activity_field.as_deref() == Some(MEDICO_SOCIAL_ACTIVITY_FIELD);
            // every capacity record shown is of a kind the profile sees, and none is missing
            let shown: usize = body["locations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|location| location["capacities"].as_array().unwrap().len())
                .sum();
            let expected = offer
                .locations
                .iter()
                .flat_map(|&location| dataset.locations[location as usize].capacities.iter())
                .filter(|record| profile.sees_record(record, medico_social, false))
                .count();
            assert_eq!(shown, expected, "profile {profile}: records of {id}");
        }
        for finess in &egs_with_sensitive {
            let answer = get_as(&fixture.router, profile, &format!("/v1/eg/{finess}")).await;
            assert_eq!(answer.status.as_u16(), 200);
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, finess, &answer.body);
            let body = answer.json();
            let shown: BTreeSet<&str> =
                body["offers"].as_array().unwrap().iter().map(|offer| offer["id"].as_str().unwrap()).collect();
            let expected: BTreeSet<&str> = dataset
                .offers
                .iter()
                .filter(|offer| {
                    offer.eg.is_some_and(|eg| dataset.egs[eg as usize].finess.as_deref() == Some(finess))
                        && (sees_sensitive || !offer.sensitive_unit)
                })
                .map(|offer| offer.id.as_str())
                .collect();
            assert_eq!(shown, expected, "profile {profile}: offers of {finess}");
        }
        // crisis: only the profiles that see supplementary capacities
        for query in ["lat=43.3&lon=5.4&radius_km=150&limit=20", "limit=10", "lat=44.84&lon=-0.58&orsan_level=1"] {
            let uri = format!("/v1/crisis?{query}&now={NOW}");
            let answer = get_as(&fixture.router, profile, &uri).await;
            if !profiles.sees_anywhere(Field::SupplementaryCapacity) {
                assert_eq!(answer.status.as_u16(), 403, "profile {profile}: {uri}");
                assert_eq!(answer.error_code(), "forbidden");
                continue;
            }
            if query.contains("orsan_level") && !profiles.sees_anywhere(Field::OrsanLevel) {
                assert_eq!(answer.status.as_u16(), 403, "profile {profile}: {uri}");
                assert_eq!(answer.json()["error"]["parameter"], "orsan_level");
                continue;
            }
            assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, &uri, &answer.body);
            let body = answer.json();
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            let mut request: CrisisRequest =
                ror_search::api::crisis_request(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
                    .unwrap();
            request.search.profiles = profiles;
            let expected = reference::crisis(&fixture.engine, &request, now());
            assert_eq!(body["total_egs"].as_u64(), Some(expected.total_egs), "profile {profile}: {uri}");
            let egs: Vec<&str> =
                body["egs"].as_array().unwrap().iter().map(|eg| eg["eg"]["id"].as_str().unwrap()).collect();
            let expected_egs: Vec<&str> = expected.egs.iter().map(|eg| eg.id.as_str()).collect();
            assert_eq!(egs, expected_egs, "profile {profile}: {uri}");
            assert_eq!(body["crisis_t0"].as_u64(), Some(expected.crisis_t0), "profile {profile}: {uri}");
            assert_eq!(body["crisis_t60"].as_u64(), Some(expected.crisis_t60), "profile {profile}: {uri}");
        }
        for uri in ["/v1/communes?q=Bord", "/v1/snapshot"] {
            let answer = get_as(&fixture.router, profile, uri).await;
            assert_eq!(answer.status.as_u16(), 200, "{uri}");
            assert_nothing_hidden_leaks(profiles, &fixture.sensitive, uri, &answer.body);
        }
        let quality = get_as(&fixture.router, profile, "/v1/quality").await;
        assert_eq!(quality.status.as_u16(), 403, "the quality report needs the admin role");
    }
}

/// The README's profile table is the matrix's (`ROR_UPDATE_README=1` rewrites it).
#[test]
fn the_readme_profile_table_is_the_matrix() {
    let path = crate::common::crate_path("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- access:begin -->\n", "<!-- access:end -->");
    let start = readme.find(begin).expect("access:begin marker") + begin.len();
    let stop = readme[start..].find(end).expect("access:end marker") + start;
    let table = ror_search::model::access::rules_markdown();
    if std::env::var("ROR_UPDATE_README").is_ok_and(|value| value == "1") {
        std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[stop..])).unwrap();
        return;
    }
    assert_eq!(&readme[start..stop], table, "run with ROR_UPDATE_README=1 to regenerate");
}
