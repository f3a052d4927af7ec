//! Build throughput (resources read per second) on the sample feed and on the synthetic
//! national feed (100,000 EGs, 1,000,000 offers), then the load time, peak memory and size of
//! the national snapshot.
//!
//! `cargo bench --bench build`; set `ROR_BENCH_NATIONAL=0` to skip the national feed (it
//! generates a 4 GB feed into index/synthetic/ the first time).

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use criterion::{Criterion, Throughput};

fn national_enabled() -> bool {
    std::env::var("ROR_BENCH_NATIONAL").map(|value| value != "0").unwrap_or(true)
}

fn bench_build(criterion: &mut Criterion) {
    let out = common::synthetic_dir().join("bench-build");
    let sample = common::sample_feed();
    let records = common::build(std::slice::from_ref(&sample), &out).report.totals.read;
    let mut group = criterion.benchmark_group("build");
    group.sample_size(10).measurement_time(Duration::from_secs(30)).throughput(Throughput::Elements(records));
    group.bench_function("sample_feed", |bencher| bencher.iter(|| common::build(std::slice::from_ref(&sample), &out)));
    group.finish();

    if !national_enabled() {
        return;
    }
    let feed = common::ensure_synthetic_feed();
    common::reset_peak_memory();
    let outcome = common::build(std::slice::from_ref(&feed), &out);
    let peak_kb = common::status_kb("VmHWM:");
    let records = outcome.report.totals.read;
    let mut group = criterion.benchmark_group("build");
    group.sample_size(10).measurement_time(Duration::from_secs(300)).throughput(Throughput::Elements(records));
    group.bench_function("national_1m_offers", |bencher| {
        bencher.iter(|| common::build(std::slice::from_ref(&feed), &out))
    });
    group.finish();

    let mut load_seconds = Vec::new();
    let mut loaded_kb = 0;
    for _ in 0..5 {
        let before_kb = common::status_kb("VmRSS:");
        let (engine, seconds) = common::load_engine(&out);
        loaded_kb = common::status_kb("VmRSS:").saturating_sub(before_kb);
        load_seconds.push(seconds);
        drop(engine);
    }
    load_seconds.sort_by(f64::total_cmp);
    println!();
    println!(
        "national build: {} records ({} offers) in {:.1} s (first run)",
        records, outcome.manifest.counts.offers, outcome.seconds
    );
    println!("national build peak memory (VmHWM): {:.2} GiB", peak_kb as f64 / 1_048_576.0);
    println!("national snapshot size: {:.1} MiB", common::dir_bytes(&out) as f64 / 1_048_576.0);
    println!(
        "national snapshot load (verify + decode + engine): median {:.2} s, max {:.2} s over 5 loads; resident after load +{:.2} GiB",
        load_seconds[2],
        load_seconds[4],
        loaded_kb as f64 / 1_048_576.0
    );
}

criterion::criterion_group!(benches, bench_build);
criterion::criterion_main!(benches);
