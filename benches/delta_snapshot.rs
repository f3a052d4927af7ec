//! Writing a snapshot from the previous one plus a delta, at national scale (the synthetic
//! snapshot, 1,000,000 offers): a full write of the base, then a delta of 9,010 offers renamed
//! (one in 111) written over it, with the other offers said carried over (what `sync`'s splice
//! tells the text index) and with every offer hashed. Each write's stages are logged (`data
//! file written`, `text index written`, `engine files written`). Not a criterion bench: each
//! write takes seconds.
//!
//! `cargo bench --bench delta_snapshot` (`ROR_DELTA_BENCH_RUNS=3` by default). The layered
//! snapshot is kept in `index/synthetic/delta-snapshot` (and its base in
//! `index/synthetic/delta-base`) for the query bench:
//! `ROR_BENCH_NATIONAL_DIR=index/synthetic/delta-snapshot cargo bench --bench query`.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::time::Instant;

use ror_search::engine::text_layers::PreviousText;
use ror_search::ingest::IngestReport;
use ror_search::snapshot::{BuildInput, SnapshotData};

/// Writes `data` at `out` (replacing it), its text over `previous` when given; seconds.
fn write(data: &SnapshotData, out: &Path, previous: Option<PreviousText<'_>>) -> f64 {
    let started = Instant::now();
    ror_search::snapshot::write(
        out,
        BuildInput {
            data,
            report: &IngestReport::default(),
            sources: Vec::new(),
            built_at: 1_790_000_000,
            index_files: Some(&|data: &SnapshotData, dir: &Path| {
                ror_search::engine::persist::write_index_files_over(data, dir, previous)
            }),
            lineage: None,
        },
        true,
    )
    .expect("snapshot written");
    started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter("ror_search::snapshot=info,ror_search::engine=info")
        .with_target(false)
        .without_time()
        .init();
    let runs: usize = std::env::var("ROR_DELTA_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let national = common::ensure_national_snapshot();
    let base_data = ror_search::snapshot::load(&national).expect("national snapshot").data;
    let base = common::synthetic_dir().join("delta-base");
    let full_seconds = write(&base_data, &base, None);
    println!("full write of {} offers: {full_seconds:.2} s", base_data.dataset.offers.len());

    let mut data = base_data.clone();
    let mut renamed = 0;
    for offer in data.dataset.offers.iter_mut().step_by(111) {
        offer.name.push_str(" (modifié)");
        renamed += 1;
    }
    let carried: Vec<Option<u32>> =
        (0..data.dataset.offers.len() as u32).map(|offer| (offer % 111 != 0).then_some(offer)).collect();
    let layered = common::synthetic_dir().join("delta-snapshot");
    let every_hashed = common::synthetic_dir().join("delta-snapshot-hashed");
    for run in 0..runs {
        let with_carried =
            write(&data, &layered, Some(PreviousText { dir: &base, data: &base_data, carried: Some(&carried) }));
        let hashed = write(&data, &every_hashed, Some(PreviousText { dir: &base, data: &base_data, carried: None }));
        println!(
            "run {run}: delta of {renamed} offers renamed: {with_carried:.2} s with the others carried, {hashed:.2} s with every offer hashed"
        );
    }
    let _ = std::fs::remove_dir_all(&every_hashed);
}
