//! Query latency on the synthetic national snapshot (100,000 EGs, 1,000,000 offers) and on the
//! sample snapshot: orientation top-20 (dense and rural centres, several selectivities),
//! nearest-10 with crisis capacity, whole-France bbox count, text + geo, and three of them with
//! `exact_total=true`; rendering a page of 20 (`render/`: the typed answer serialised and the
//! pre-rendered fragments; `ROR_BENCH_RENDER_PROBE=1` adds pages without the price, without
//! the capacities and with the static members only, to see what each costs).
//!
//! Criterion measures each scenario at a fixed centre; then a percentile table runs each
//! scenario at 1,000 centres jittered around it (seeded) and prints p50 / p90 / p99 / max.
//! `cargo bench --bench query`; `ROR_BENCH_NATIONAL=0` runs the sample snapshot only;
//! `cargo bench --bench query -- clusters` the map clusters only, `-- tiles` the vector tiles
//! only (the percentile tables still print);
//! `ROR_BENCH_PROFILE=2` asks as access profile 2 (sensitive units masked), default 1;
//! `ROR_BENCH_NATIONAL_DIR=<snapshot>` runs the national part on another snapshot (a layered
//! one `sync` made from a delta, to compare its text queries with a full build's).

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::Criterion;
use ror_search::engine::{Engine, SearchRequest};
use ror_search::util::rng::SplitMix64;

/// A scenario: a name, a centre (or none) and the other parameters.
struct Scenario {
    name: &'static str,
    centre: Option<(f64, f64)>,
    parameters: &'static [(&'static str, &'static str)],
}

const PARIS: (f64, f64) = (48.8566, 2.3522);
const LYON: (f64, f64) = (45.7606, 4.8594);
const RURAL: (f64, f64) = (44.35, 2.57); // Aveyron
const BORDEAUX: (f64, f64) = (44.8378, -0.5792);

const EHPAD_GIR2_90_FREE: &[(&str, &str)] =
    &[("radius_km", "30"), ("category", "500"), ("gir", "2"), ("max_price", "90"), ("min_available", "1")];

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "orientation_top20/paris/ehpad_gir2_90eur_free",
            centre: Some(PARIS),
            parameters: EHPAD_GIR2_90_FREE,
        },
        Scenario {
            name: "orientation_top20/paris/ehpad",
            centre: Some(PARIS),
            parameters: &[("radius_km", "30"), ("category", "500")],
        },
        Scenario {
            name: "orientation_top20/lyon/ehpad_gir2_90eur_free",
            centre: Some(LYON),
            parameters: EHPAD_GIR2_90_FREE,
        },
        Scenario {
            name: "orientation_top20/lyon/permanent_hebergement_age_85",
            centre: Some(LYON),
            parameters: &[("radius_km", "30"), ("offer_type", "21"), ("reception", "02"), ("age", "85")],
        },
        Scenario {
            name: "orientation_top20/rural/ehpad_gir2_90eur_free",
            centre: Some(RURAL),
            parameters: EHPAD_GIR2_90_FREE,
        },
        Scenario { name: "orientation_top20/rural/any", centre: Some(RURAL), parameters: &[("radius_km", "30")] },
        Scenario {
            name: "orientation_top20/paris/price_sorted",
            centre: Some(PARIS),
            parameters: &[("radius_km", "30"), ("category", "500"), ("gir", "2"), ("sort", "price")],
        },
        Scenario {
            name: "nearest10_crisis/paris",
            centre: Some(PARIS),
            parameters: &[("min_crisis_t0", "1"), ("limit", "10")],
        },
        Scenario {
            name: "nearest10_crisis/lyon",
            centre: Some(LYON),
            parameters: &[("min_crisis_t0", "1"), ("limit", "10")],
        },
        Scenario {
            name: "nearest10_crisis/rural",
            centre: Some(RURAL),
            parameters: &[("min_crisis_t0", "1"), ("limit", "10")],
        },
        Scenario {
            name: "bbox_count/france",
            centre: None,
            parameters: &[("bbox", "-5.5,41,10,51.5"), ("limit", "1")],
        },
        Scenario {
            name: "bbox_count/france_ehpad",
            centre: None,
            parameters: &[("bbox", "-5.5,41,10,51.5"), ("category", "500"), ("limit", "1")],
        },
        Scenario {
            name: "text_geo/paris/ehpad_30km",
            centre: Some(PARIS),
            parameters: &[("q", "ehpad"), ("radius_km", "30")],
        },
        Scenario {
            name: "text_geo/lyon/alzheimer_30km",
            centre: Some(LYON),
            parameters: &[("q", "alzheimer"), ("radius_km", "30")],
        },
        Scenario {
            name: "text_geo/paris/prefix_alzh_10km",
            centre: Some(PARIS),
            parameters: &[("q", "alzh"), ("radius_km", "10")],
        },
        Scenario {
            name: "text_geo/rural/cardiologie_nearest",
            centre: Some(RURAL),
            parameters: &[("q", "cardiologie"), ("limit", "10")],
        },
        Scenario {
            name: "exact_total/paris/any_30km",
            centre: Some(PARIS),
            parameters: &[("radius_km", "30"), ("exact_total", "true")],
        },
        Scenario {
            name: "exact_total/paris/ehpad_30km",
            centre: Some(PARIS),
            parameters: &[("radius_km", "30"), ("category", "500"), ("exact_total", "true")],
        },
        Scenario {
            name: "exact_total/paris/nearest10_crisis",
            centre: Some(PARIS),
            parameters: &[("min_crisis_t0", "1"), ("limit", "10"), ("exact_total", "true")],
        },
        Scenario {
            name: "orientation_top20/bordeaux/readme",
            centre: Some(BORDEAUX),
            parameters: &[("radius_km", "20"), ("category", "500"), ("gir", "2"), ("max_price", "80")],
        },
        Scenario {
            name: "facets/paris/ehpad_gir2_90eur_30km",
            centre: Some(PARIS),
            parameters: &[
                ("radius_km", "30"),
                ("category", "500"),
                ("gir", "2"),
                ("max_price", "90"),
                ("facets", "true"),
            ],
        },
        Scenario {
            name: "facets/paris/any_30km",
            centre: Some(PARIS),
            parameters: &[("radius_km", "30"), ("facets", "true")],
        },
    ]
}

fn request(scenario: &Scenario, centre: Option<(f64, f64)>) -> SearchRequest {
    let lat;
    let lon;
    let mut pairs: Vec<(&str, &str)> = scenario.parameters.to_vec();
    if let Some((centre_lat, centre_lon)) = centre {
        lat = centre_lat.to_string();
        lon = centre_lon.to_string();
        pairs.push(("lat", &lat));
        pairs.push(("lon", &lon));
    }
    let mut request = ror_search::api::search_request(pairs).expect("valid scenario");
    // Closures at the run's instant, as the server evaluates them (the exact counts' block
    // patterns hold the docs open around the instant the snapshot was loaded).
    request.now = None;
    request.profiles = common::bench_profiles();
    request
}

fn bench_engine(criterion: &mut Criterion, label: &str, engine: &Engine) {
    let mut group = criterion.benchmark_group(format!("query/{label}"));
    group.sample_size(50).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for scenario in scenarios() {
        let request = request(&scenario, scenario.centre);
        if let Err(error) = engine.search(&request) {
            println!("{}: skipped ({error})", scenario.name); // a filter the profile may not use
            continue;
        }
        group.bench_function(scenario.name, |bencher| bencher.iter(|| engine.search(&request).expect("query runs")));
    }
    group.finish();
}

/// Rendering a page of 20 (`render/...`): the typed answer serialised (the renderer before
/// fragments: `Page::response` + sonic-rs) against `Page::write_json` from the pre-rendered
/// fragments (warm: the first run keeps them), both from the same hits; then the whole request
/// (search + JSON) each way, and a `view=summary` page.
fn bench_render(criterion: &mut Criterion, label: &str, engine: &Engine) {
    let scenario =
        Scenario { name: "render", centre: Some(PARIS), parameters: &[("radius_km", "30"), ("category", "500")] };
    let request = request(&scenario, scenario.centre);
    let summary = SearchRequest { fields: ror_search::engine::FieldSet::SUMMARY, ..request.clone() };
    let page = engine.search_page(&request).expect("query runs");
    assert_eq!(page.len(), 20, "a full page");
    let mut out = Vec::with_capacity(64 * 1024);
    page.write_json(&mut out); // keeps the fragments
    assert_eq!(out, sonic_rs::to_vec(&page.response()).unwrap(), "the same bytes");
    println!("render/{label}: a page of 20 is {} bytes", out.len());
    let mut group = criterion.benchmark_group(format!("render/{label}"));
    group.sample_size(50).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    group.bench_function("page20/typed_sonic", |bencher| {
        bencher.iter(|| {
            out.clear();
            sonic_rs::to_writer(&mut out, &page.response()).unwrap();
            out.len()
        })
    });
    group.bench_function("page20/fragments", |bencher| {
        bencher.iter(|| {
            out.clear();
            page.write_json(&mut out);
            out.len()
        })
    });
    let summary_page = engine.search_page(&summary).expect("query runs");
    let mut summary_bytes = Vec::new();
    summary_page.write_json(&mut summary_bytes);
    println!("render/{label}: with view=summary {} bytes", summary_bytes.len());
    group.bench_function("page20/fragments_summary", |bencher| {
        bencher.iter(|| {
            out.clear();
            summary_page.write_json(&mut out);
            out.len()
        })
    });
    if std::env::var("ROR_BENCH_RENDER_PROBE").is_ok() {
        use ror_search::engine::{FieldSet, ResultField};
        let all: Vec<ResultField> = ResultField::ALL.to_vec();
        for (name, left_out) in [
            ("no_price", vec![ResultField::Price]),
            ("no_capacity", vec![ResultField::Capacity]),
            (
                "static_only",
                vec![ResultField::Price, ResultField::Capacity, ResultField::DistanceM, ResultField::Score],
            ),
        ] {
            let fields: Vec<ResultField> = all.iter().copied().filter(|field| !left_out.contains(field)).collect();
            let probe =
                engine.search_page(&SearchRequest { fields: FieldSet::of(&fields), ..request.clone() }).unwrap();
            group.bench_function(format!("probe/{name}"), |bencher| {
                bencher.iter(|| {
                    out.clear();
                    probe.write_json(&mut out);
                    out.len()
                })
            });
        }
    }
    group.bench_function("search_and_page20/typed_sonic", |bencher| {
        bencher.iter(|| {
            out.clear();
            sonic_rs::to_writer(&mut out, &engine.search(&request).unwrap()).unwrap();
            out.len()
        })
    });
    group.bench_function("search_and_page20/fragments", |bencher| {
        bencher.iter(|| {
            out.clear();
            engine.search_page(&request).unwrap().write_json(&mut out);
            out.len()
        })
    });
    group.finish();
}

/// A map viewport: name, bbox, zoom, filters.
type Viewport = (&'static str, &'static str, u8, &'static [(&'static str, &'static str)]);

/// Map clusters (`Engine::clusters`, the answer before its JSON).
fn bench_clusters(criterion: &mut Criterion, label: &str, engine: &Engine) {
    const VIEWPORTS: [Viewport; 5] = [
        ("france_zoom5", "-5.5,41.2,9.8,51.2", 5, &[]),
        ("france_zoom6", "-5.5,41.2,9.8,51.2", 6, &[]),
        (
            "france_zoom6_ehpad_gir2_80eur",
            "-5.5,41.2,9.8,51.2",
            6,
            &[("category", "500"), ("gir", "2"), ("max_price", "80")],
        ),
        ("paris_zoom12", "2.25,48.81,2.42,48.9", 12, &[]),
        ("bordeaux_zoom13", "-0.7,44.78,-0.5,44.9", 13, &[]),
    ];
    let mut group = criterion.benchmark_group(format!("clusters/{label}"));
    group.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for (name, bbox, zoom, filters) in VIEWPORTS {
        let mut pairs = vec![("bbox", bbox)];
        pairs.extend_from_slice(filters);
        let mut request = ror_search::api::search_request(pairs).expect("valid viewport");
        request.now = Some(1_795_000_000);
        request.profiles = common::bench_profiles();
        let clusters = engine.clusters(&request, zoom).expect("clusters");
        println!("{label} {name}: {} matches, {} features", clusters.total, clusters.features.len());
        group.bench_function(name, |bencher| bencher.iter(|| engine.clusters(&request, zoom).expect("clusters")));
    }
    group.finish();
}

/// A vector tile: name, z, x, y, filters.
type TileCase = (&'static str, u8, u32, u32, &'static [(&'static str, &'static str)]);

/// Vector tiles: `Engine::tile` and its MVT encoding (the answer of `/v1/tiles` before HTTP).
fn bench_tiles(criterion: &mut Criterion, label: &str, engine: &Engine) {
    use ror_search::engine::tiles::TileAddress;
    const TILES: [TileCase; 7] = [
        ("world_z0", 0, 0, 0, &[]),
        // the meridian of Greenwich is a tile edge at every zoom: Brittany and Aquitaine west of
        // it, Paris, Lyon and Toulouse east
        ("france_east_z5", 5, 16, 11, &[]),
        ("france_west_z5", 5, 15, 11, &[]),
        ("paris_lyon_z6", 6, 32, 22, &[]),
        ("paris_lyon_z6_ehpad_gir2_80eur", 6, 32, 22, &[("category", "500"), ("gir", "2"), ("max_price", "80")]),
        ("paris_z12", 12, 2074, 1409, &[]),
        ("bordeaux_z13", 13, 4082, 2952, &[]),
    ];
    let mut group = criterion.benchmark_group(format!("tiles/{label}"));
    group.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    for (name, z, x, y, filters) in TILES {
        let address = TileAddress::new(z, x, y).expect("a tile");
        let mut request = ror_search::api::search_request(filters.iter().copied()).expect("valid filters");
        request.now = Some(1_795_000_000);
        request.profiles = common::bench_profiles();
        let encode = || {
            let tile = engine.tile(&request, address).expect("tile");
            ror_search::http::mvt::encode(engine, &tile, request.profiles)
        };
        let tile = engine.tile(&request, address).expect("tile");
        println!(
            "{label} {name}: {} matches, {} features ({} in the buffer), {} bytes",
            tile.total,
            tile.features.len(),
            tile.features.iter().filter(|feature| !feature.is_inside()).count(),
            encode().len()
        );
        group.bench_function(name, |bencher| bencher.iter(encode));
    }
    group.finish();
}

fn percentile_table(label: &str, engine: &Engine) {
    println!();
    println!("latency over 1,000 centres jittered ±0.15° around each scenario's centre ({label}), microseconds:");
    println!("{:<58} {:>9} {:>9} {:>9} {:>9} {:>8}", "scenario", "p50", "p90", "p99", "max", "hits p50");
    let mut rng = SplitMix64::new(42);
    for scenario in scenarios() {
        if engine.search(&request(&scenario, scenario.centre)).is_err() {
            continue;
        }
        let mut samples = Vec::with_capacity(1_000);
        let mut hits = Vec::with_capacity(1_000);
        for _ in 0..1_000 {
            let centre = scenario
                .centre
                .map(|(lat, lon)| (lat + (rng.unit_f64() - 0.5) * 0.3, lon + (rng.unit_f64() - 0.5) * 0.3));
            let request = request(&scenario, centre);
            let started = Instant::now();
            let response = engine.search(&request).expect("query runs");
            samples.push(started.elapsed().as_secs_f64() * 1e6);
            hits.push(response.total as f64);
        }
        let (p50, p90, p99, max) = common::percentiles(samples);
        let (hits_p50, ..) = common::percentiles(hits);
        println!("{:<58} {p50:>9.1} {p90:>9.1} {p99:>9.1} {max:>9.1} {hits_p50:>8.0}", scenario.name);
    }
}

fn benches(criterion: &mut Criterion) {
    let sample_dir = common::ensure_sample_snapshot();
    let (sample, _) = common::load_engine(&sample_dir);
    bench_engine(criterion, "sample", &sample);
    bench_render(criterion, "sample", &sample);
    bench_clusters(criterion, "sample", &sample);
    bench_tiles(criterion, "sample", &sample);
    percentile_table("sample data: 42,820 offers", &sample);
    drop(sample);
    if std::env::var("ROR_BENCH_NATIONAL").map(|value| value == "0").unwrap_or(false) {
        return;
    }
    // `ROR_BENCH_NATIONAL_DIR`: another national snapshot (a layered one `sync` made, say).
    let national_dir = std::env::var_os("ROR_BENCH_NATIONAL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(common::ensure_national_snapshot);
    let before_kb = common::status_kb("VmRSS:");
    let (national, load_seconds) = common::load_engine(&national_dir);
    let loaded_kb = common::status_kb("VmRSS:").saturating_sub(before_kb);
    println!(
        "national snapshot loaded in {load_seconds:.2} s; resident memory +{:.2} GiB ({} offers, {} positions)",
        loaded_kb as f64 / 1_048_576.0,
        national.data().dataset.offers.len(),
        national.layout().positions.len()
    );
    bench_engine(criterion, "national", &national);
    bench_render(criterion, "national", &national);
    bench_clusters(criterion, "national", &national);
    bench_tiles(criterion, "national", &national);
    percentile_table("synthetic national: 1,000,000 offers", &national);
}

criterion::criterion_group!(query_benches, benches);
criterion::criterion_main!(query_benches);
