//! Shared by the benches: the sample and synthetic national snapshots, memory readings and a
//! latency-percentile harness.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use ror_search::engine::Engine;
use ror_search::ingest::opendata::FEED_DATE;
use ror_search::snapshot::build::{BuildOptions, build_snapshot};
use ror_search::util::time::parse_fhir_datetime;

/// The crate root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled sample feed.
pub(crate) fn sample_feed() -> PathBuf {
    root().join("data-samples/ror-feed")
}

/// The communes table.
pub(crate) fn communes() -> PathBuf {
    root().join("data-samples/communes.csv.gz")
}

/// Where the synthetic national feed and snapshot live (ignored by git).
pub(crate) fn synthetic_dir() -> PathBuf {
    root().join("index/synthetic")
}

/// Size of the synthetic national feed: 100,000 EGs and 1,000,000 offers, seed 7 (the defaults
/// of `ror-search generate-synthetic`).
pub(crate) const NATIONAL_EGS: usize = 100_000;
pub(crate) const NATIONAL_OFFERS: usize = 1_000_000;

/// Generates the synthetic national feed unless it is already there.
pub(crate) fn ensure_synthetic_feed() -> PathBuf {
    let feed = synthetic_dir().join(format!("feed-{NATIONAL_EGS}-{NATIONAL_OFFERS}.ndjson"));
    if feed.exists() {
        return feed;
    }
    eprintln!("generating the synthetic national feed into {} (about a minute)...", feed.display());
    std::fs::create_dir_all(synthetic_dir()).expect("index/synthetic");
    let sample = ror_search::ingest::ingest(&[sample_feed()], &mut |_| {}).expect("sample feed");
    let communes = ror_search::ingest::communes::read_communes(&communes()).expect("communes");
    let dataset = ror_search::ingest::synth::generate(
        &sample.dataset,
        &communes,
        ror_search::ingest::synth::SynthConfig {
            egs: NATIONAL_EGS,
            offers: NATIONAL_OFFERS,
            seed: 7,
            feed_date: parse_fhir_datetime(FEED_DATE).expect("constant"),
        },
    );
    let temporary = feed.with_extension("tmp");
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&temporary).expect("feed file"));
    ror_search::ingest::fhir::write::write_ndjson(&dataset, &mut writer).expect("feed written");
    drop(writer);
    std::fs::rename(&temporary, &feed).expect("feed renamed");
    feed
}

/// Builds a snapshot of `inputs` at `out` (replacing it).
pub(crate) fn build(inputs: &[PathBuf], out: &Path) -> ror_search::snapshot::build::BuildOutcome {
    build_snapshot(BuildOptions {
        inputs: inputs.to_vec(),
        communes: Some(communes()),
        out: out.to_owned(),
        force: true,
        built_at: parse_fhir_datetime("2026-11-23T00:00:00Z").expect("constant"),
        index_files: Some(&ror_search::engine::persist::write_index_files),
        progress_bar: false,
    })
    .expect("snapshot built")
}

/// The national snapshot, built once if missing.
pub(crate) fn ensure_national_snapshot() -> PathBuf {
    let out = synthetic_dir().join("snapshot");
    if ror_search::snapshot::read_manifest(&out).is_err() || !ror_search::engine::persist::is_current(&out) {
        let feed = ensure_synthetic_feed();
        eprintln!("building the national snapshot into {}...", out.display());
        build(&[feed], &out);
    }
    out
}

/// The sample snapshot, built once if missing.
pub(crate) fn ensure_sample_snapshot() -> PathBuf {
    let out = synthetic_dir().join("sample-snapshot");
    if ror_search::snapshot::read_manifest(&out).is_err() || !ror_search::engine::persist::is_current(&out) {
        build(&[sample_feed()], &out);
    }
    out
}

/// The access profiles the query benches ask as: `ROR_BENCH_PROFILE` (`2`, or `2,4`), default
/// profile 1 (sees everything: no mask). Compare the medians of two runs for the mask's cost.
#[allow(dead_code)] // not every bench asks as a profile
pub(crate) fn bench_profiles() -> ror_search::model::access::ProfileSet {
    use ror_search::model::access::{Profile, ProfileSet};
    match std::env::var("ROR_BENCH_PROFILE") {
        Ok(text) => ProfileSet::from_profiles(text.split(',').map(|number| {
            number.trim().parse().ok().and_then(Profile::from_number).expect("ROR_BENCH_PROFILE: profiles 0 to 5")
        })),
        Err(_) => ProfileSet::default(),
    }
}

/// A field of /proc/self/status, in kB.
pub(crate) fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak resident memory (VmHWM) of this process.
pub(crate) fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Size of a directory tree, bytes.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            total += if path.is_dir() { dir_bytes(&path) } else { entry.metadata().map(|m| m.len()).unwrap_or(0) };
        }
    }
    total
}

/// Loads an engine and reports the time and memory it took.
pub(crate) fn load_engine(dir: &Path) -> (Engine, f64) {
    let started = Instant::now();
    let engine = Engine::open(dir).expect("engine");
    (engine, started.elapsed().as_secs_f64())
}

/// Latency percentiles of a closure run on many inputs, microseconds.
pub(crate) fn percentiles(mut samples_us: Vec<f64>) -> (f64, f64, f64, f64) {
    samples_us.sort_by(f64::total_cmp);
    let at = |fraction: f64| samples_us[((samples_us.len() as f64 - 1.0) * fraction).round() as usize];
    (at(0.5), at(0.9), at(0.99), *samples_us.last().unwrap_or(&0.0))
}
