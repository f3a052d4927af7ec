//! The data-quality report: computing it (every rule over every record, as `/v1/quality` does
//! at its first request and `ror-search quality` does offline), a filtered selection with its
//! counts, and the CSV export, on the sample snapshot and on the synthetic national one.
//! Targets: sample <= 1 s, national <= 10 s.
//!
//! `cargo bench --bench quality`; `ROR_BENCH_NATIONAL=0` runs the sample snapshot only.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use ror_search::engine::Engine;
use ror_search::quality::{QualityFilter, QualityReport};

const NOW: i64 = 1_795_000_000;

fn run(label: &str, engine: &Engine) {
    let mut compute = Vec::new();
    let mut report = None;
    for _ in 0..3 {
        let started = Instant::now();
        report = Some(QualityReport::compute(engine, Vec::new(), NOW));
        compute.push(started.elapsed().as_secs_f64());
    }
    let report = report.expect("computed");
    compute.sort_by(f64::total_cmp);
    let started = Instant::now();
    let selection = report.select(engine, &QualityFilter::default());
    let counts = selection.counts();
    let select_all = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut csv = Vec::new();
    ror_search::quality::export::write_csv(&selection, &mut csv).expect("csv");
    let csv_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let region = report.select(engine, &QualityFilter { regions: vec!["84".into()], ..QualityFilter::default() });
    let region_counts = region.counts();
    let select_region = started.elapsed().as_secs_f64();
    println!(
        "{label}: {} offers, {} findings; report computed in {:.3} s (median of 3, min {:.3}); all findings sorted + counted {:.3} s; CSV of all {:.3} s ({:.1} MB); région 84 ({} findings) {:.3} s",
        engine.data().dataset.offers.len(),
        counts.total,
        compute[1],
        compute[0],
        select_all,
        csv_seconds,
        csv.len() as f64 / 1e6,
        region_counts.total,
        select_region,
    );
}

fn main() {
    let sample_dir = common::ensure_sample_snapshot();
    let (sample, _) = common::load_engine(&sample_dir);
    run("sample", &sample);
    drop(sample);
    if std::env::var("ROR_BENCH_NATIONAL").map(|value| value == "0").unwrap_or(false) {
        return;
    }
    let national_dir = common::ensure_national_snapshot();
    let (national, _) = common::load_engine(&national_dir);
    run("national", &national);
}
