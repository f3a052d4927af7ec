//! `/v1/clusters` against a brute-force grid count: for seeded random viewports, zooms and
//! filters over the real data-samples (Gironde and Paris), the cells, their counts, sums,
//! positions and boxes, and the co-located groups equal what the test computes itself from
//! every match of the same `/v1/offers` search (its NDJSON stream), with its own tile formula.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use serde_json::Value;

use crate::common::{build_subset, call};

const TOKEN: &str = "clusters-admin-token-0123456789";
const NOW: &str = "2026-11-15T00:00:00Z";

/// The subset's snapshot (Gironde and Paris), built once for the run (the tiles' tests share it).
pub(crate) fn index() -> &'static (tempfile::TempDir, PathBuf) {
    static INDEX: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = crate::common::temp_dir();
        let snapshot = dir.path().join("snapshot");
        build_subset(&["33", "75"], &snapshot, "2026-11-10T00:00:00Z", &|_, line| line);
        (dir, snapshot)
    })
}

/// A router over the subset; anonymous callers hold `profiles` (`[1]`: everything).
pub(crate) fn router_for(anonymous_profiles: &str) -> axum::Router {
    let (dir, snapshot) = index();
    let access = dir.path().join(format!("access-{}.toml", anonymous_profiles.replace(['[', ']', ','], "")));
    std::fs::write(&access, format!("allow_anonymous = true\nanonymous_profiles = {anonymous_profiles}\n")).unwrap();
    let config = ServeConfig {
        index_dir: dir.path().to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(access),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(config.index_dir.clone(), Arc::new(Metrics::default())));
    handle.install(load_and_warm(snapshot).unwrap());
    ror_search::http::router(handle, Arc::new(config))
}

async fn get(router: &axum::Router, uri: &str) -> (u16, String) {
    let answer = call(router, "GET", uri, &[], Vec::new()).await;
    (answer.status.as_u16(), answer.text())
}

/// The test's own slippy-map tile numbering.
pub(crate) fn tile(lat: f64, lon: f64, precision: u32) -> (u32, u32) {
    let n = f64::from(1u32 << precision);
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let y = ((1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * n).floor().clamp(0.0, n - 1.0);
    (x as u32, y as u32)
}

/// One match of the reference search.
#[derive(Debug, Clone)]
struct Match {
    id: String,
    lat: f64,
    lon: f64,
    available: u64,
    crisis_t0: u64,
}

/// What the test expects of one feature, in a comparable form.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Expected {
    /// key, count, distinct positions, [w, s, e, n], available, crisis_t0
    Cell(String, u64, u64, [f64; 4], u64, u64),
    /// lon, lat, offers, available, crisis_t0
    Group(f64, f64, Vec<String>, u64, u64),
}

fn brute_force(matches: &[Match], zoom: u32) -> Vec<Expected> {
    let precision = zoom + 3;
    let mut cells: BTreeMap<(u32, u32), Vec<&Match>> = BTreeMap::new();
    for found in matches {
        cells.entry(tile(found.lat, found.lon, precision)).or_default().push(found);
    }
    let mut expected = Vec::new();
    for ((x, y), members) in cells {
        let mut positions: BTreeMap<(u64, u64), Vec<&Match>> = BTreeMap::new();
        for member in &members {
            positions.entry((member.lat.to_bits(), member.lon.to_bits())).or_default().push(member);
        }
        if positions.len() == 1 || zoom >= 17 {
            for group in positions.values() {
                let mut offers: Vec<String> = group.iter().map(|found| found.id.clone()).collect();
                offers.sort();
                expected.push(Expected::Group(
                    group[0].lon,
                    group[0].lat,
                    offers,
                    group.iter().map(|found| found.available).sum(),
                    group.iter().map(|found| found.crisis_t0).sum(),
                ));
            }
        } else {
            let fold = |pick: fn(&Match) -> f64, min: bool| {
                members.iter().map(|found| pick(found)).fold(if min { f64::MAX } else { f64::MIN }, |acc, value| {
                    if min { acc.min(value) } else { acc.max(value) }
                })
            };
            expected.push(Expected::Cell(
                format!("{precision}/{x}/{y}"),
                members.len() as u64,
                positions.len() as u64,
                [fold(|m| m.lon, true), fold(|m| m.lat, true), fold(|m| m.lon, false), fold(|m| m.lat, false)],
                members.iter().map(|found| found.available).sum(),
                members.iter().map(|found| found.crisis_t0).sum(),
            ));
        }
    }
    expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
    expected
}

fn answered(collection: &Value) -> Vec<Expected> {
    let mut features: Vec<Expected> = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|feature| {
            let properties = &feature["properties"];
            let number = |name: &str| properties[name].as_u64().unwrap();
            // a sum the profile does not see is left out (the reference counts it 0)
            let sum = |name: &str| properties[name].as_u64().unwrap_or(0);
            if properties["cluster"] == true {
                let bbox: Vec<f64> =
                    properties["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                Expected::Cell(
                    properties["key"].as_str().unwrap().to_owned(),
                    number("point_count"),
                    number("positions"),
                    [bbox[0], bbox[1], bbox[2], bbox[3]],
                    sum("available"),
                    sum("crisis_t0"),
                )
            } else {
                let coordinates = &feature["geometry"]["coordinates"];
                Expected::Group(
                    coordinates[0].as_f64().unwrap(),
                    coordinates[1].as_f64().unwrap(),
                    properties["offers"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_owned()).collect(),
                    sum("available"),
                    sum("crisis_t0"),
                )
            }
        })
        .collect();
    features.sort_by(|a, b| a.partial_cmp(b).unwrap());
    features
}

/// A deterministic generator (the test must not depend on a seed it does not print).
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    /// The next number, uniform in [0, 1).
    pub(crate) fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_equal_a_brute_force_grid_count() {
    let (cells_seen, groups_seen) = compare_with_brute_force(&router_for("[1]"), 2026, 60).await;
    assert!(
        cells_seen > 50 && groups_seen > 50,
        "the rounds drew both kinds: {cells_seen} cells, {groups_seen} groups"
    );
}

/// The same as profiles that do not see the sensitive units (their docs out of the counts,
/// their places out of the sums): profile 2, which sees the places of every offer, and profile
/// 3, which sees those of medico-social offers only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_equal_a_brute_force_grid_count_as_other_profiles() {
    for (profiles, seed) in [("[2]", 7), ("[3]", 11)] {
        let (cells_seen, groups_seen) = compare_with_brute_force(&router_for(profiles), seed, 30).await;
        assert!(cells_seen > 20 && groups_seen > 20, "{profiles}: {cells_seen} cells, {groups_seen} groups");
    }
}

/// `rounds` random viewports, zooms and filters from `seed`: `/v1/clusters` equals a grid count
/// of `/v1/offers`' matches; the cells and groups seen.
async fn compare_with_brute_force(router: &axum::Router, seed: u64, rounds: usize) -> (usize, usize) {
    let mut random = Lcg(seed);
    let filters =
        ["", "&category=500", "&gir=2&max_price=80", "&min_available=1", "&q=ehpad", "&age=85&aide_sociale=true"];
    let centres = [(44.84, -0.58), (48.86, 2.35), (45.0, -0.5), (46.5, 2.0)];
    let mut cells_seen = 0;
    let mut groups_seen = 0;
    for round in 0..rounds {
        let (lat, lon) = centres[round % centres.len()];
        let half_lat = 0.01 + random.next() * 3.0;
        let half_lon = 0.01 + random.next() * 4.0;
        let bbox = format!("{},{},{},{}", lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat);
        let zoom = (random.next() * 19.0) as u32;
        let filter = filters[(random.next() * filters.len() as f64) as usize];
        let query = format!("bbox={bbox}{filter}&now={NOW}");

        let (status, stream) = get(router, &format!("/v1/offers?{query}&format=ndjson")).await;
        assert_eq!(status, 200, "{query}: {stream}");
        let matches: Vec<Match> = stream
            .lines()
            .map(|line| {
                let hit: Value = serde_json::from_str(line).unwrap();
                Match {
                    id: hit["id"].as_str().unwrap().to_owned(),
                    lat: hit["lat"].as_f64().unwrap(),
                    lon: hit["lon"].as_f64().unwrap(),
                    available: hit["capacity"]["available"].as_u64().unwrap_or(0),
                    crisis_t0: hit["capacity"]["crisis_t0"].as_u64().unwrap_or(0),
                }
            })
            .collect();
        let (_, page) = get(router, &format!("/v1/offers?{query}&exact_total=true&limit=1")).await;
        let total = serde_json::from_str::<Value>(&page).unwrap()["total"].as_u64().unwrap();
        assert_eq!(matches.len() as u64, total, "{query}");

        let (status, body) = get(router, &format!("/v1/clusters?{query}&zoom={zoom}")).await;
        assert_eq!(status, 200, "{query} zoom {zoom}: {body}");
        let collection: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(collection["type"], "FeatureCollection");
        assert_eq!(collection["total"].as_u64().unwrap(), total, "{query} zoom {zoom}");
        let counted: u64 = collection["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["point_count"].as_u64().unwrap())
            .sum();
        assert_eq!(counted, total, "the features partition the matches: {query} zoom {zoom}");
        let expected = brute_force(&matches, zoom);
        let features = answered(&collection);
        assert_eq!(features, expected, "{query} zoom {zoom}");
        for feature in collection["features"].as_array().unwrap() {
            let properties = &feature["properties"];
            if properties["cluster"] == true {
                let count = properties["point_count"].as_u64().unwrap() as usize;
                assert_eq!(properties["point_count_abbreviated"], ror_search::engine::clusters::abbreviate(count));
                let expansion = properties["expansion_zoom"].as_u64().unwrap() as u32;
                assert!(expansion > zoom && expansion <= 17, "{query} zoom {zoom}: {properties}");
                assert_eq!(feature["id"], properties["cluster_id"]);
            }
        }
        cells_seen += expected.iter().filter(|feature| matches!(feature, Expected::Cell(..))).count();
        groups_seen += expected.iter().filter(|feature| matches!(feature, Expected::Group(..))).count();
    }
    (cells_seen, groups_seen)
}

/// Zooming to a cluster's expansion zoom over its box splits it; a profile that sees no
/// capacity gets no capacity sums; bad parameters are a 400 naming them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expansion_profiles_and_errors() {
    let router = router_for("[1]");
    let (_, body) = get(&router, &format!("/v1/clusters?bbox=-1.5,44.3,0.3,45.3&zoom=6&now={NOW}")).await;
    let collection: Value = serde_json::from_str(&body).unwrap();
    let cluster = collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|feature| feature["properties"]["cluster"] == true)
        .expect("Bordeaux at zoom 6 is a cluster")
        .clone();
    let bbox: Vec<String> =
        cluster["properties"]["bbox"].as_array().unwrap().iter().map(|value| value.to_string()).collect();
    let expansion = cluster["properties"]["expansion_zoom"].as_u64().unwrap();
    let (_, body) = get(&router, &format!("/v1/clusters?bbox={}&zoom={expansion}&now={NOW}", bbox.join(","))).await;
    let inside: Value = serde_json::from_str(&body).unwrap();
    assert!(inside["features"].as_array().unwrap().len() >= 2, "zooming to {expansion} splits the cluster");
    assert_eq!(inside["total"], cluster["properties"]["point_count"]);

    let public = router_for("[0]");
    let (status, body) = get(&public, &format!("/v1/clusters?bbox=-1.5,44.3,0.3,45.3&zoom=6&now={NOW}")).await;
    assert_eq!(status, 200);
    assert!(!body.contains("\"available\"") && !body.contains("crisis"), "profile 0 sees no capacity: {body}");
    let (_, sums) = get(&router, &format!("/v1/clusters?bbox=-1.5,44.3,0.3,45.3&zoom=6&now={NOW}")).await;
    assert!(sums.contains("\"available\"") && sums.contains("\"crisis_t0\""));

    for (query, parameter) in [
        ("zoom=5", "bbox"),
        ("bbox=-1.5,44.3,0.3,45.3", "zoom"),
        ("bbox=-1.5,44.3,0.3,45.3&zoom=23", "zoom"),
        ("bbox=-1.5,44.3,0.3,45.3&zoom=-1", "zoom"),
        ("bbox=-1.5,44.3,0.3,45.3&zoom=six", "zoom"),
        ("bbox=-1.5,44.3&zoom=5", "bbox"),
        ("bbox=-1.5,44.3,0.3,45.3&zoom=5&gir=9", "gir"),
        ("bbox=-1.5,44.3,0.3,45.3&zoom=5&colour=red", "colour"),
    ] {
        let (status, body) = get(&router, &format!("/v1/clusters?{query}")).await;
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, error["error"]["parameter"].as_str()), (400, Some(parameter)), "{query}: {body}");
    }
}
