//! Live capacities on the synthetic national snapshot (100,000 EGs, 1,000,000 offers):
//!
//! * **replay**: the start-up path of `serve` over a capacity log of 1,000,000 writes (each a
//!   `replace` of one crisis or available record of one of 2,000 Locations, as
//!   `benches/orsan.sh` sends them): opening the log (read, checksums, decode) and applying it
//!   onto the snapshot, timed separately;
//! * **apply**: one write applied to the engine alone (the live path after the log), p50 / p99;
//! * **crisis**: `/v1/crisis` answered by the engine (national nearest-10 with T0 beds, no
//!   radius: the whole country's totals by département; and within 50 km), criterion medians.
//!
//! `cargo bench --bench live`; `ROR_BENCH_WRITES` sets the number of logged writes;
//! `ROR_BENCH_ONLY=crisis` or `replay` runs one part.

#[path = "common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use criterion::Criterion;
use ror_search::engine::live::CapacityChange;
use ror_search::engine::{CapacityWrite, Engine};
use ror_search::live::write::LoggedWrite;
use ror_search::model::CapacityRecord;
use ror_search::serve::capacity::CapacityService;
use ror_search::util::rng::SplitMix64;

const TARGETS: usize = 2_000;
const NOW: i64 = 1_795_000_000;

/// Locations holding a crisis record (status `06`), spread over the dataset, with their records.
fn targets(engine: &Engine) -> Vec<(u32, String, Vec<CapacityRecord>)> {
    let locations = &engine.data().dataset.locations;
    let with_crisis: Vec<usize> = (0..locations.len())
        .filter(|&index| locations[index].capacities.iter().any(|record| record.status == "06"))
        .collect();
    let step = (with_crisis.len() / TARGETS).max(1);
    with_crisis
        .iter()
        .step_by(step)
        .take(TARGETS)
        .map(|&index| (index as u32, locations[index].id.clone(), locations[index].capacities.clone()))
        .collect()
}

/// `count` writes, each a replace of one crisis (06) or available (02) record of a target, with a
/// new count and a newer update date (seeded).
fn writes(targets: &[(u32, String, Vec<CapacityRecord>)], count: usize) -> Vec<(u32, LoggedWrite)> {
    let mut rng = SplitMix64::new(8);
    (0..count)
        .map(|sequence| {
            let (location, id, records) = &targets[rng.below(targets.len() as u64) as usize];
            let candidates: Vec<&CapacityRecord> =
                records.iter().filter(|record| record.status == "06" || record.status == "02").collect();
            let mut record = candidates[rng.below(candidates.len() as u64) as usize].clone();
            record.count = rng.below(40) as u32;
            record.updated_at = Some(NOW - 2_000_000 + sequence as i64);
            let write = LoggedWrite {
                location_id: id.as_str().into(),
                changes: vec![CapacityChange::Replace(record)],
                received_at: NOW,
                who: "bench".into(),
            };
            (*location, write)
        })
        .collect()
}

fn replay(engine: &Engine, writes: &[(u32, LoggedWrite)]) {
    let dir = tempfile::Builder::new().prefix("live-bench").tempdir_in(common::synthetic_dir()).expect("temp dir");
    {
        let (log, _) = ror_search::live::log::Log::open(dir.path().join("capacity.log")).expect("log");
        for chunk in writes.chunks(10_000) {
            log.append(chunk.iter().map(|(_, write)| write.encode()).collect()).expect("appended");
        }
    }
    let bytes = std::fs::metadata(dir.path().join("capacity.log")).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let service = CapacityService::open(dir.path()).expect("log opens");
    let opened = started.elapsed();
    let applying = Instant::now();
    service.carry_onto(engine, || ());
    let applied = applying.elapsed();
    println!(
        "replay of {} logged writes ({:.1} MB): open (read + decode) {:.2} s, apply {:.2} s, total {:.2} s",
        writes.len(),
        bytes as f64 / 1e6,
        opened.as_secs_f64(),
        applied.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

fn single_writes(engine: &Engine, writes: &[(u32, LoggedWrite)]) {
    let mut samples = Vec::with_capacity(writes.len());
    for (sequence, (location, write)) in writes.iter().enumerate() {
        let write = CapacityWrite {
            location: *location,
            changes: write.changes.as_slice().into(),
            version: 2_000_000 + sequence as u64,
            at: NOW,
        };
        let started = Instant::now();
        engine.apply_capacity(std::slice::from_ref(&write));
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let (p50, p90, p99, max) = common::percentiles(samples);
    println!(
        "one write applied (engine only, {} writes): p50 {p50:.1} µs, p90 {p90:.1} µs, p99 {p99:.1} µs, max {max:.1} µs",
        writes.len()
    );
}

fn crisis(criterion: &mut Criterion, engine: &Engine) {
    let mut group = criterion.benchmark_group("crisis/national");
    group.sample_size(30).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_millis(500));
    let scenarios: [(&str, &[(&str, &str)]); 3] = [
        ("paris/t0_nearest10_whole_country", &[("lat", "48.8566"), ("lon", "2.3522"), ("min_crisis_t0", "1")]),
        ("rural/t0_nearest10_whole_country", &[("lat", "44.35"), ("lon", "2.57"), ("min_crisis_t0", "1")]),
        (
            "lyon/t0_nearest10_50km",
            &[("lat", "45.7606"), ("lon", "4.8594"), ("min_crisis_t0", "1"), ("radius_km", "50")],
        ),
    ];
    for (name, pairs) in scenarios {
        let mut request = ror_search::api::crisis_request(pairs.to_vec()).expect("valid scenario");
        request.search.now = Some(NOW);
        request.search.profiles = common::bench_profiles();
        let answer = engine.crisis(&request).expect("query runs");
        println!(
            "{name}: {} EGs, {} offers, {} départements in the totals",
            answer.total_egs,
            answer.total_offers,
            answer.by_departement.len()
        );
        group.bench_function(name, |bencher| bencher.iter(|| engine.crisis(&request).expect("query runs")));
    }
    group.finish();
}

fn benches(criterion: &mut Criterion) {
    let national_dir = common::ensure_national_snapshot();
    let count = std::env::var("ROR_BENCH_WRITES").ok().and_then(|value| value.parse().ok()).unwrap_or(1_000_000);
    let only = std::env::var("ROR_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "crisis" {
        let (engine, _) = common::load_engine(&national_dir);
        crisis(criterion, &engine);
    }
    if only == "crisis" {
        return;
    }
    let (engine, _) = common::load_engine(&national_dir);
    let targets = targets(&engine);
    let writes = writes(&targets, count);
    replay(&engine, &writes);
    single_writes(&engine, &writes[..writes.len().min(20_000)]);
}

criterion::criterion_group!(live_benches, benches);
criterion::criterion_main!(live_benches);
