//! `/v1/tiles/{z}/{x}/{y}.mvt` decoded by an independent reader (`mvt-reader`) and checked
//! against what the test computes itself: for seeded random tiles at zooms 0-18 and random
//! filters over the real data-samples (Gironde and Paris), the features inside the tile add up
//! to the matches of the same `/v1/offers` search that the test's own tile formula puts in the
//! tile (from its NDJSON stream), cells and positions equal a brute-force grid count, the four
//! tiles below a tile add up to it, and the buffer holds exactly the neighbours' features within
//! 64 units. Then the errors, the caching headers, and what each profile sees.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::http::{StatusCode, header};
use mvt_reader::feature::Value as Read;
use ror_search::serve::capacity::CapacityService;
use ror_search::serve::{Metrics, ServeConfig, SnapshotHandle, load_and_warm};
use serde_json::{Value, json};

use crate::clusters::{Lcg, index, router_for, tile};
use crate::common::{Answer, call};

const NOW: &str = "2026-11-15T00:00:00Z";
const EXTENT: i32 = 4096;
const BUFFER: i32 = 64;
const TOKEN: &str = "tiles-admin-token-0123456789";

/// One match of the reference search.
#[derive(Debug, Clone)]
struct Match {
    id: String,
    lat: f64,
    lon: f64,
    available: u64,
    crisis_t0: u64,
    crisis_t60: u64,
}

/// Every positioned match of `/v1/offers?{filter}` (its NDJSON stream).
async fn matches_of(router: &axum::Router, filter: &str) -> Vec<Match> {
    let answer = call(router, "GET", &format!("/v1/offers?now={NOW}{filter}&format=ndjson"), &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK, "{filter}: {}", answer.text());
    answer
        .text()
        .lines()
        .filter_map(|line| {
            let hit: Value = serde_json::from_str(line).unwrap();
            let count = |name: &str| hit["capacity"][name].as_u64().unwrap_or(0);
            Some(Match {
                id: hit["id"].as_str().unwrap().to_owned(),
                lat: hit["lat"].as_f64()?,
                lon: hit["lon"].as_f64()?,
                available: count("available"),
                crisis_t0: count("crisis_t0"),
                crisis_t60: count("crisis_t60"),
            })
        })
        .collect()
}

/// A feature as read back from a tile.
#[derive(Debug, Clone, PartialEq)]
struct Decoded {
    layer: String,
    at: [i32; 2],
    id: Option<u64>,
    properties: BTreeMap<String, Read>,
}

impl Decoded {
    fn inside(&self) -> bool {
        self.at.iter().all(|coordinate| (0..EXTENT).contains(coordinate))
    }

    fn uint(&self, name: &str) -> u64 {
        match &self.properties[name] {
            Read::UInt(value) => *value,
            other => panic!("{name} is not a uint: {other:?}"),
        }
    }

    fn text(&self, name: &str) -> &str {
        match &self.properties[name] {
            Read::String(value) => value,
            other => panic!("{name} is not a string: {other:?}"),
        }
    }

    /// A total order for comparing lists of features.
    fn sort_key(&self) -> String {
        format!("{} {:?} {:?}", self.layer, self.at, self.properties)
    }
}

/// Decodes a tile: two layers at most, `clusters` and `points`, version 2, extent 4096, one
/// point per feature.
fn decode(body: &[u8]) -> Vec<Decoded> {
    if body.is_empty() {
        return Vec::new(); // the empty tile
    }
    let reader = mvt_reader::Reader::new(body.to_vec()).expect("a vector tile");
    let mut features = Vec::new();
    for layer in reader.get_layer_metadata().unwrap() {
        assert!(["clusters", "points"].contains(&layer.name.as_str()), "{}", layer.name);
        assert_eq!((layer.version, layer.extent), (2, 4096));
        assert!(layer.feature_count > 0, "no empty layer");
        for feature in reader.get_features_as::<i32>(layer.layer_index).unwrap() {
            let geo_types::Geometry::MultiPoint(points) = &feature.geometry else {
                panic!("not a point: {:?}", feature.geometry)
            };
            assert_eq!(points.0.len(), 1, "one point per feature");
            let properties: BTreeMap<String, Read> = feature.properties.clone().unwrap().into_iter().collect();
            let cluster = properties["cluster"] == Read::Bool(true);
            assert_eq!(cluster, layer.name == "clusters", "{properties:?}");
            features.push(Decoded {
                layer: layer.name.clone(),
                at: [points.0[0].x(), points.0[0].y()],
                id: feature.id,
                properties,
            });
        }
    }
    features
}

/// What the test expects of a feature inside a tile, comparable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    /// key, count, distinct positions, available, crisis_t0, crisis_t60
    Cell(String, u64, u64, u64, u64, u64),
    /// offers, available, crisis_t0, crisis_t60
    Point(Vec<String>, u64, u64, u64),
}

/// The test's own tile coordinates of a point in tile `z/x/y` (float slippy-map formulas).
fn tile_coordinates(lat: f64, lon: f64, z: u32, x: u32, y: u32) -> [i64; 2] {
    let units = f64::from(1u32 << z) * f64::from(EXTENT);
    let lat = lat.clamp(-85.051_128_78, 85.051_128_78).to_radians();
    let fx = (lon + 180.0) / 360.0 * units;
    let fy = (1.0 - lat.tan().asinh() / std::f64::consts::PI) / 2.0 * units;
    [fx.floor() as i64 - i64::from(x) * 4096, fy.floor() as i64 - i64::from(y) * 4096]
}

/// The offers of a point and its tile coordinates.
type ExpectedPoint = (Vec<String>, [i64; 2]);

/// The features inside tile `z/x/y`, brute force: the matches the test's tile formula puts in
/// it, counted per cell of precision `z + 3`; a cell of one position, and every position from
/// zoom 17, is a point.
fn brute_force(matches: &[Match], z: u32, x: u32, y: u32) -> (usize, Vec<Expected>, Vec<ExpectedPoint>) {
    let inside: Vec<&Match> = matches.iter().filter(|found| tile(found.lat, found.lon, z) == (x, y)).collect();
    let mut cells: BTreeMap<(u32, u32), Vec<&Match>> = BTreeMap::new();
    for found in &inside {
        cells.entry(tile(found.lat, found.lon, z + 3)).or_default().push(found);
    }
    let sum = |members: &[&Match], pick: fn(&Match) -> u64| members.iter().map(|found| pick(found)).sum::<u64>();
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for ((cell_x, cell_y), members) in cells {
        let mut positions: BTreeMap<(u64, u64), Vec<&Match>> = BTreeMap::new();
        for member in &members {
            positions.entry((member.lat.to_bits(), member.lon.to_bits())).or_default().push(member);
        }
        if positions.len() == 1 || z >= 17 {
            for group in positions.values() {
                let mut offers: Vec<String> = group.iter().map(|found| found.id.clone()).collect();
                offers.sort();
                points.push((offers.clone(), tile_coordinates(group[0].lat, group[0].lon, z, x, y)));
                expected.push(Expected::Point(
                    offers,
                    sum(group, |m| m.available),
                    sum(group, |m| m.crisis_t0),
                    sum(group, |m| m.crisis_t60),
                ));
            }
        } else {
            expected.push(Expected::Cell(
                format!("{}/{cell_x}/{cell_y}", z + 3),
                members.len() as u64,
                positions.len() as u64,
                sum(&members, |m| m.available),
                sum(&members, |m| m.crisis_t0),
                sum(&members, |m| m.crisis_t60),
            ));
        }
    }
    expected.sort();
    (inside.len(), expected, points)
}

fn answered(features: &[Decoded]) -> Vec<Expected> {
    let mut answered: Vec<Expected> = features
        .iter()
        .filter(|feature| feature.inside())
        .map(|feature| {
            if feature.layer == "clusters" {
                Expected::Cell(
                    feature.text("key").to_owned(),
                    feature.uint("point_count"),
                    feature.uint("positions"),
                    feature.uint("available"),
                    feature.uint("crisis_t0"),
                    feature.uint("crisis_t60"),
                )
            } else {
                let mut offers: Vec<String> = feature.text("offers").split(',').map(str::to_owned).collect();
                offers.sort();
                Expected::Point(
                    offers,
                    feature.uint("available"),
                    feature.uint("crisis_t0"),
                    feature.uint("crisis_t60"),
                )
            }
        })
        .collect();
    answered.sort();
    answered
}

/// A tile's decoded features (asserting a 200 and the media type).
async fn tile_features(router: &axum::Router, z: u32, x: u32, y: u32, query: &str) -> Vec<Decoded> {
    let uri = format!("/v1/tiles/{z}/{x}/{y}.mvt?now={NOW}{query}");
    let answer = call(router, "GET", &uri, &[], Vec::new()).await;
    assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text());
    assert_eq!(answer.content_type(), "application/vnd.mapbox-vector-tile", "{uri}");
    decode(&answer.body)
}

fn inside_count(features: &[Decoded]) -> u64 {
    features.iter().filter(|feature| feature.inside()).map(|feature| feature.uint("point_count")).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_equal_a_brute_force_count_and_fit_together() {
    let router = router_for("[1]");
    let filters =
        ["", "&category=500", "&gir=2&max_price=80", "&min_available=1", "&q=ehpad", "&age=85&aide_sociale=true"];
    let mut all: HashMap<&str, Vec<Match>> = HashMap::new();
    for filter in filters {
        all.insert(filter, matches_of(&router, filter).await);
    }
    let mut random = Lcg(2027);
    let (mut cells_seen, mut points_seen, mut buffered_seen, mut empty_seen) = (0, 0, 0, 0);
    for round in 0..96 {
        let filter = filters[(random.next() * filters.len() as f64) as usize];
        let matches = &all[filter];
        let z = if round < 19 { round } else { (random.next() * 19.0) as u32 };
        let n = 1u32 << z;
        // the tile of a random match, one beside it, or one whose buffer a match is in
        let start = (random.next() * matches.len() as f64) as usize;
        let anchor = &matches[start];
        let (mut x, mut y) = tile(anchor.lat, anchor.lon, z);
        match round % 4 {
            3 => {
                x = (x + 1).min(n - 1);
                y = y.saturating_sub(1);
            }
            1 if z > 0 => {
                if let Some(neighbour) = (0..matches.len()).find_map(|offset| {
                    let near = &matches[(start + offset) % matches.len()];
                    let (own_x, own_y) = tile(near.lat, near.lon, z);
                    let at = tile_coordinates(near.lat, near.lon, z, own_x, own_y);
                    let step = |coordinate: i64| match coordinate {
                        c if c < i64::from(BUFFER) => -1,
                        c if c >= i64::from(EXTENT - BUFFER) => 1,
                        _ => 0,
                    };
                    let (nx, ny) = (i64::from(own_x) + step(at[0]), i64::from(own_y) + step(at[1]));
                    let moved = (nx, ny) != (i64::from(own_x), i64::from(own_y));
                    let valid = (0..i64::from(n)).contains(&nx) && (0..i64::from(n)).contains(&ny);
                    (moved && valid).then_some((nx as u32, ny as u32))
                }) {
                    (x, y) = neighbour;
                }
            }
            _ => {}
        }
        let context = format!("tile {z}/{x}/{y}{filter}");
        let features = tile_features(&router, z, x, y, filter).await;

        // inside: the brute-force partition of the matches
        let (total, expected, points) = brute_force(matches, z, x, y);
        assert_eq!(inside_count(&features), total as u64, "{context}");
        assert_eq!(answered(&features), expected, "{context}");
        for feature in features.iter().filter(|feature| feature.inside()) {
            if feature.layer == "clusters" {
                let key: Vec<u32> = feature.text("key").split('/').map(|part| part.parse().unwrap()).collect();
                assert_eq!(key[0], z + 3, "{context}");
                // drawn inside its own cell (512 units of the tile)
                for (axis, index) in [(0, key[1]), (1, key[2])] {
                    let first = (index as i32 - [x, y][axis] as i32 * 8) * 512;
                    assert!((first..first + 512).contains(&feature.at[axis]), "{context}: {feature:?}");
                }
                assert_eq!(feature.id, Some(feature.uint("cluster_id")), "{context}");
                let count = feature.uint("point_count") as usize;
                assert_eq!(feature.text("point_count_abbreviated"), ror_search::engine::clusters::abbreviate(count));
                let expansion = feature.uint("expansion_zoom") as u32;
                assert!(expansion > z && expansion <= 17, "{context}: {feature:?}");
                cells_seen += 1;
            } else {
                let mut offers: Vec<String> = feature.text("offers").split(',').map(str::to_owned).collect();
                offers.sort();
                assert_eq!(feature.uint("point_count"), offers.len() as u64);
                let (_, at) = points.iter().find(|(listed, _)| *listed == offers).expect("an expected point");
                for axis in 0..2 {
                    assert!((i64::from(feature.at[axis]) - at[axis]).abs() <= 1, "{context}: {feature:?} at {at:?}");
                }
                points_seen += 1;
            }
        }
        if features.is_empty() {
            empty_seen += 1;
        }

        // the buffer: exactly the neighbours' features within 64 units of the shared edges
        let mut from_neighbours = Vec::new();
        for (dx, dy) in [(-1i64, -1i64), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
            let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
            if !(0..i64::from(n)).contains(&nx) || !(0..i64::from(n)).contains(&ny) {
                continue;
            }
            for mut feature in tile_features(&router, z, nx as u32, ny as u32, filter).await {
                if !feature.inside() {
                    continue;
                }
                feature.at = [feature.at[0] + dx as i32 * EXTENT, feature.at[1] + dy as i32 * EXTENT];
                if feature.at.iter().all(|coordinate| (-BUFFER..EXTENT + BUFFER).contains(coordinate)) {
                    from_neighbours.push(feature);
                }
            }
        }
        let mut buffer: Vec<Decoded> = features.iter().filter(|feature| !feature.inside()).cloned().collect();
        buffer.sort_by_key(Decoded::sort_key);
        from_neighbours.sort_by_key(Decoded::sort_key);
        assert_eq!(buffer, from_neighbours, "{context}: the buffer");
        buffered_seen += buffer.len();

        // the four tiles below add up to it
        if z < 18 {
            let mut below = 0;
            for (cx, cy) in [(2 * x, 2 * y), (2 * x + 1, 2 * y), (2 * x, 2 * y + 1), (2 * x + 1, 2 * y + 1)] {
                below += inside_count(&tile_features(&router, z + 1, cx, cy, filter).await);
            }
            assert_eq!(below, total as u64, "{context}: the tiles of zoom {}", z + 1);
        }
    }
    assert!(
        cells_seen > 100 && points_seen > 100 && buffered_seen > 20 && empty_seen > 0,
        "the rounds drew every case: {cells_seen} cells, {points_seen} points, {buffered_seen} buffered, {empty_seen} empty"
    );
}

/// A grid of tiles over the whole subset counts every positioned match once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_of_tiles_counts_every_match_once() {
    let router = router_for("[1]");
    let matches = matches_of(&router, "").await;
    for z in [6u32, 9] {
        let mut tiles: Vec<(u32, u32)> = matches.iter().map(|found| tile(found.lat, found.lon, z)).collect();
        tiles.sort();
        tiles.dedup();
        let mut counted = 0;
        for (x, y) in tiles {
            counted += inside_count(&tile_features(&router, z, x, y, "").await);
        }
        assert_eq!(counted, matches.len() as u64, "zoom {z}");
    }
}

/// Paris, Notre-Dame, at zoom 12 (OpenStreetMap's numbering).
const PARIS_TILE: &str = "/v1/tiles/12/2074/1409.mvt";

async fn get(router: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Answer {
    call(router, "GET", uri, headers, Vec::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_addresses_and_parameters_are_400s_naming_them() {
    let router = router_for("[1]");
    for (uri, parameter, code) in [
        ("/v1/tiles/23/0/0.mvt", "z", "bad_parameter"),
        ("/v1/tiles/-1/0/0.mvt", "z", "bad_parameter"),
        ("/v1/tiles/abc/0/0.mvt", "z", "bad_parameter"),
        ("/v1/tiles/4294967296/0/0.mvt", "z", "bad_parameter"),
        ("/v1/tiles/3/8/0.mvt", "x", "bad_parameter"),
        ("/v1/tiles/3/+1/0.mvt", "x", "bad_parameter"),
        ("/v1/tiles/3/0/8.mvt", "y", "bad_parameter"),
        ("/v1/tiles/3/0/0.pbf", "y", "bad_parameter"),
        ("/v1/tiles/3/0/0", "y", "bad_parameter"),
        ("/v1/tiles/3/0/.mvt", "y", "bad_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?bbox=2.3,48.8,2.4,48.9", "bbox", "bad_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?gir=9", "gir", "bad_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?radius_km=5", "radius_km", "bad_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?colour=red", "colour", "unknown_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?zoom=12", "zoom", "unknown_parameter"),
        ("/v1/tiles/12/2074/1409.mvt?format=geojson", "format", "unknown_parameter"),
    ] {
        let answer = get(&router, uri, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}: {}", answer.text());
        let error = answer.json();
        assert_eq!(
            (error["error"]["code"].as_str(), error["error"]["parameter"].as_str()),
            (Some(code), Some(parameter)),
            "{uri}: {error}"
        );
    }
    // and the route is not confused with its neighbours
    assert_eq!(get(&router, "/v1/tiles/3/0", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&router, "/v1/tiles/3/0/0/1.mvt", &[]).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_headers_and_conditional_requests() {
    let router = router_for("[1]");
    let uri = format!("{PARIS_TILE}?now={NOW}");
    let first = get(&router, &uri, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.content_type(), "application/vnd.mapbox-vector-tile");
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-cache");
    let vary: Vec<&str> = first.headers.get_all(header::VARY).iter().map(|value| value.to_str().unwrap()).collect();
    assert!(vary.iter().any(|value| value.contains("Authorization")), "{vary:?}");
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() > 20, "{etag}");
    let paris = inside_count(&decode(&first.body));
    assert!(paris > 100, "Paris at zoom 12: {paris}");

    // the same request: the same tag; a 304 with no body for it, alone, in a list, or `*`
    let again = get(&router, &uri, &[]).await;
    assert_eq!(again.headers[header::ETAG], etag.as_str());
    assert_eq!(again.body, first.body, "deterministic");
    let strong = etag.trim_start_matches("W/").to_owned();
    for condition in [etag.clone(), strong, format!("\"other\", {etag}"), "*".to_owned()] {
        let revalidated = get(&router, &uri, &[("if-none-match", &condition)]).await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{condition}");
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.headers[header::ETAG], etag.as_str());
        assert_eq!(revalidated.headers[header::CACHE_CONTROL], "no-cache");
    }
    let stale = get(&router, &uri, &[("if-none-match", "W/\"0123\"")]).await;
    assert_eq!((stale.status, stale.body.len()), (StatusCode::OK, first.body.len()));
    // what does not change the tile does not change the tag; a filter does
    let paged = get(&router, &format!("{uri}&limit=5&sort=name&facets=true"), &[]).await;
    assert_eq!(paged.headers[header::ETAG], etag.as_str());
    let reordered = get(&router, &format!("{uri}&category=500,202"), &[]).await;
    let ordered = get(&router, &format!("{uri}&category=202,500"), &[]).await;
    assert_eq!(reordered.headers[header::ETAG], ordered.headers[header::ETAG]);
    assert_ne!(reordered.headers[header::ETAG], etag.as_str());
    let other_tile = get(&router, &format!("/v1/tiles/12/2074/1410.mvt?now={NOW}"), &[]).await;
    assert_ne!(other_tile.headers[header::ETAG], etag.as_str());
    // a bad request is not answered from the cache, whatever the engine finds wrong
    for (bad, parameter) in [("gir=9", "gir"), ("commune=33999&radius_km=5", "commune")] {
        let refused = get(&router, &format!("{uri}&{bad}"), &[("if-none-match", "*")]).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}: {}", refused.text());
        assert_eq!(refused.json()["error"]["parameter"], parameter, "{bad}");
    }

    // an empty tile (the Pacific): 200, an empty body, still tagged
    let empty = get(&router, &format!("/v1/tiles/4/0/7.mvt?now={NOW}"), &[]).await;
    assert_eq!((empty.status, empty.body.len()), (StatusCode::OK, 0));
    assert!(empty.headers.contains_key(header::ETAG));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_profile_its_sums_and_its_tag() {
    let everything = router_for("[1]");
    let public = router_for("[0]");
    let uri = format!("{PARIS_TILE}?now={NOW}");
    let full = get(&everything, &uri, &[]).await;
    let masked = get(&public, &uri, &[]).await;
    assert_eq!(masked.status, StatusCode::OK);
    assert_ne!(full.headers[header::ETAG], masked.headers[header::ETAG], "another profile, another tag");
    let features = decode(&masked.body);
    assert!(!features.is_empty());
    for feature in &features {
        for name in ["available", "crisis_t0", "crisis_t60"] {
            assert!(!feature.properties.contains_key(name), "profile 0 sees no {name}: {feature:?}");
        }
    }
    // profile 0 does not see the unités sensibles either
    let (seen, all) = (inside_count(&features), inside_count(&decode(&full.body)));
    assert!(0 < seen && seen <= all, "{seen} of {all}");
    let full_features = decode(&full.body);
    assert!(full_features.iter().all(|feature| feature.properties.contains_key("crisis_t60")));
    // the public profile may not filter on crisis capacities
    let forbidden = get(&public, &format!("{uri}&min_crisis_t0=1"), &[]).await;
    assert_eq!(
        (forbidden.status, forbidden.json()["error"]["parameter"].clone()),
        (StatusCode::FORBIDDEN, json!("min_crisis_t0"))
    );
}

/// A router over the subset with a capacity log of its own (in a fresh index directory).
fn writable_router() -> (tempfile::TempDir, axum::Router) {
    let (_, snapshot) = index();
    let dir = crate::common::temp_dir();
    std::os::unix::fs::symlink(snapshot, dir.path().join("snapshot")).unwrap();
    let config = ServeConfig {
        index_dir: dir.path().to_owned(),
        admin_token: Some(TOKEN.into()),
        access_file: Some(crate::common::anonymous_sees_everything()),
        poll_interval_secs: 0,
        ..ServeConfig::default()
    };
    let handle = Arc::new(SnapshotHandle::new(dir.path().to_owned(), Arc::new(Metrics::default())));
    assert!(handle.attach_capacity(Arc::new(CapacityService::open(dir.path()).unwrap())));
    handle.install(load_and_warm(&dir.path().join("snapshot")).unwrap());
    let router = ror_search::http::router(handle, Arc::new(config));
    (dir, router)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_write_changes_the_tag() {
    let (_dir, router) = writable_router();
    let offer = "hs-330782780-0";
    let detail = get(&router, &format!("/v1/offers/{offer}"), &[]).await.json();
    let location = detail["locations"][0]["id"].as_str().unwrap().to_owned();
    let matches = matches_of(&router, "").await;
    let found = matches.iter().find(|found| found.id == offer).expect("the offer has a position");
    let (x, y) = tile(found.lat, found.lon, 13);
    let uri = format!("/v1/tiles/13/{x}/{y}.mvt?now={NOW}");
    let before = get(&router, &uri, &[]).await;
    let etag = before.headers[header::ETAG].to_str().unwrap().to_owned();
    let available = |answer: &Answer| -> u64 {
        decode(&answer.body).iter().filter(|feature| feature.inside()).map(|feature| feature.uint("available")).sum()
    };

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let write = json!({"location": location, "status": "02", "temporality": "01", "gender": "03",
        "temporary_assignment": "01", "capacity_type": "01", "source_type": "02", "count": 7,
        "updated_at": ror_search::util::time::format_rfc3339(now - 60)});
    let auth = format!("Bearer {TOKEN}");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/x-ndjson")];
    let written = call(&router, "POST", "/v1/capacity", &headers, write.to_string().into_bytes()).await;
    assert_eq!(written.status, StatusCode::OK, "{}", written.text());
    assert!(written.text().contains("\"applied\""), "{}", written.text());

    let after = get(&router, &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(after.status, StatusCode::OK, "the old tag is stale after a write");
    assert_ne!(after.headers[header::ETAG], etag.as_str());
    assert!(available(&after) >= available(&before) + 7, "the write is in the tile's sums");
    let revalidated = get(&router, &uri, &[("if-none-match", after.headers[header::ETAG].to_str().unwrap())]).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
}
