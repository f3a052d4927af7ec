//! `ror-search sync` at national scale, against the simulated ROR (`tests/integration/ror_sim.rs`)
//! loaded with the synthetic national feed (100,000 EGs, 1,000,000 offers, 367,004 Locations):
//! the full pull's throughput (`$export`, NDJSON files, over HTTP on 127.0.0.1), then a delta of
//! 1,000 changed resources (offers, EGs, Locations; 100 of the Locations capacity-only) into an
//! incremental snapshot, by stage. Not a criterion bench: each step takes seconds to minutes.
//!
//! `cargo bench --bench sync` (generates the 4 GB feed into index/synthetic/ the first time;
//! `ROR_SYNC_BENCH_DELTAS=3` repeats the delta).

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/integration/ror_sim.rs"]
mod ror_sim;

use std::time::Instant;

use ror_search::sync::{SyncConfig, Syncer};
use serde_json::Value;

fn config(sim: &ror_sim::RorSim) -> SyncConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.toml");
    let headers: String = ror_sim::ROR_HEADERS
        .iter()
        .map(|(name, value)| {
            format!("{} = {value:?}\n", name.trim_start_matches("Ror-").replace('-', "_").to_lowercase())
        })
        .collect();
    std::fs::write(
        &path,
        format!(
            "base = {:?}\ntoken_url = {:?}\nclient_id = {:?}\nclient_secret = {:?}\ncommunes = {:?}\n\
             overlap_secs = 0\nexport_parameters = \"_outputFormat=application/fhir%2Bndjson\"\n[ror_headers]\n{headers}",
            sim.base_url(),
            sim.token_url(),
            sim.config().client_id,
            sim.config().client_secret,
            common::communes().display().to_string(),
        ),
    )
    .unwrap();
    SyncConfig::load(Some(&path), None).unwrap()
}

/// Changes 1,000 resources upstream: 500 offers renamed, 200 EGs with a tariff raised (or
/// renamed), 200 Locations renamed, 100 Locations with a capacity count changed.
fn change_1000(sim: &ror_sim::RorSim, round: usize) -> usize {
    let mut changed = 0;
    let every = |resource_type: &str, count: usize, offset: usize| -> Vec<String> {
        let ids = sim.ids(resource_type);
        let step = (ids.len() / count).max(1);
        ids.into_iter().skip(offset + round * 7).step_by(step).take(count).collect()
    };
    for id in every("HealthcareService", 500, 0) {
        let mut resource = sim.get("HealthcareService", &id).unwrap();
        resource["name"] = Value::String(format!("{} (modifié {round})", resource["name"].as_str().unwrap_or("")));
        sim.upsert(resource);
        changed += 1;
    }
    let egs: Vec<String> = sim
        .ids("Organization")
        .into_iter()
        .filter(|id| id.starts_with("eg-") || sim.get("Organization", id).is_some_and(|o| o["partOf"].is_object()))
        .collect();
    let step = (egs.len() / 200).max(1);
    for id in egs.iter().skip(3 + round).step_by(step).take(200) {
        let mut resource = sim.get("Organization", id).unwrap();
        resource["name"] = Value::String(format!("{} (modifié {round})", resource["name"].as_str().unwrap_or("")));
        sim.upsert(resource);
        changed += 1;
    }
    for (index, id) in every("Location", 300, 1).into_iter().enumerate() {
        let mut resource = sim.get("Location", &id).unwrap();
        if index < 100 {
            // A capacity count: the first nbCapacity sub-extension found.
            let mut done = false;
            if let Some(extensions) = resource["extension"].as_array_mut() {
                for extension in extensions
                    .iter_mut()
                    .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with("supported-capacity")))
                {
                    for sub in extension["extension"].as_array_mut().into_iter().flatten() {
                        if sub["url"] == "nbCapacity" && !done {
                            let count = sub["valueInteger"].as_i64().unwrap_or(0);
                            sub["valueInteger"] = Value::from(count + 1 + round as i64);
                            done = true;
                        }
                    }
                }
            }
            if !done {
                resource["name"] = Value::String(format!("Lieu modifié {round}"));
            }
        } else {
            resource["name"] =
                Value::String(format!("{} (modifié {round})", resource["name"].as_str().unwrap_or("Lieu")));
        }
        sim.upsert(resource);
        changed += 1;
    }
    changed
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let feed = common::ensure_synthetic_feed();
    let feed_bytes = std::fs::metadata(&feed).map(|m| m.len()).unwrap_or(0);
    let sim = ror_sim::RorSim::start(ror_sim::SimConfig {
        export_ndjson: true,
        export_batch_size: 100_000,
        export_polls_before_ready: 1,
        token_lifetime_secs: 3600,
        ..ror_sim::SimConfig::default()
    });
    let started = Instant::now();
    let resources = sim.load_feed(std::slice::from_ref(&feed));
    println!("simulator loaded {resources} resources ({feed_bytes} bytes) in {:.1} s", started.elapsed().as_secs_f64());
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let index = common::synthetic_dir().join("sync-bench");
    let _ = std::fs::remove_dir_all(&index);
    std::fs::create_dir_all(&index).unwrap();
    let mut syncer = Syncer::open(config(&sim), &index).unwrap();
    let started = Instant::now();
    let report = syncer.step(true).unwrap();
    let total = started.elapsed().as_secs_f64();
    let pull = report.stages.iter().find(|(stage, _)| *stage == "pull").map_or(0.0, |(_, seconds)| *seconds);
    let bytes = syncer.upstream().stats.bytes.load(std::sync::atomic::Ordering::Relaxed);
    println!("full pull: {:?}", report.stages);
    println!(
        "full pull: {} resources, {:.0} MB in {pull:.1} s = {:.0} resources/s, {:.0} MB/s; whole step (pull + ingest + snapshot) {total:.1} s",
        report.record.read,
        bytes as f64 / 1e6,
        report.record.read as f64 / pull,
        bytes as f64 / 1e6 / pull
    );

    let rounds: usize = std::env::var("ROR_SYNC_BENCH_DELTAS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    for round in 0..rounds {
        let changed = change_1000(&sim, round);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let started = Instant::now();
        let report = syncer.step(false).unwrap();
        let total = started.elapsed().as_secs_f64();
        let delta = report.record.delta.clone().unwrap_or_default();
        println!(
            "delta {round}: {changed} resources changed upstream -> changed {:?}, {} EGs read again, {} offers replaced, {} locations replaced, {} capacity-only; stages {:?}; incremental snapshot in {total:.2} s",
            delta.changed,
            delta.egs_touched,
            delta.offers_added,
            delta.locations_replaced,
            delta.capacity_only,
            report.stages
        );
    }
    let _ = std::fs::remove_dir_all(&index);
}
