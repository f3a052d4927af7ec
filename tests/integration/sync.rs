//! `ror-search sync` against the simulated national ROR (`ror_sim`): a full pull through
//! `$export` with the faults of a real network, then deltas (a capacity change, a new EHPAD,
//! a closed EG, a changed tariff, a deleted offer); after each step the synced snapshot holds
//! the dataset a fresh `build` of the upstream's whole feed gives, and answers the engine
//! tests' query mix the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use ror_search::engine::{Engine, SearchRequest};
use ror_search::ingest::fhir::write::write_ndjson;
use ror_search::model::Dataset;
use ror_search::snapshot::SnapshotData;
use serde_json::Value;

use crate::common::crate_path;
use crate::ror_sim::{Fault, FaultKind, ROR_HEADERS, RorSim, SimConfig};

/// The part of the sample feed the tests sync: the EGs of Gironde, Corse-du-Sud and Paris,
/// every EJ (the sim keeps resources as given).
const PREFIXES: [&str; 3] = ["33", "2A", "75"];

struct Fixture {
    sim: RorSim,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Fixture {
    fn new(sim_config: SimConfig, extra_config: &str) -> Fixture {
        let sim = RorSim::start(sim_config);
        let dir = crate::common::temp_dir();
        let feed = dir.path().join("upstream.ndjson");
        crate::common::write_subset_feed(&PREFIXES, &feed, &|_, line| line);
        sim.load_feed(&[feed]);
        // The full pull's mark is the second after the load: the first delta finds nothing loaded.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let headers: String =
            ROR_HEADERS.iter().map(|(name, value)| format!("{} = {value:?}\n", header_key(name))).collect();
        let config = dir.path().join("sync.toml");
        std::fs::write(
            &config,
            format!(
                "base = {:?}\ntoken_url = {:?}\nclient_id = {:?}\nclient_secret = {:?}\n\
                 communes = {:?}\npage_size = 150\nbackoff_initial_ms = 50\nbackoff_max_secs = 2\n\
                 timeout_secs = 5\n{}{extra_config}\n[ror_headers]\n{headers}",
                sim.base_url(),
                sim.token_url(),
                sim.config().client_id,
                sim.config().client_secret,
                crate_path("data-samples/communes.csv.gz").display().to_string(),
                if extra_config.contains("retries") { "" } else { "retries = 6\n" },
            ),
        )
        .unwrap();
        Fixture { sim, dir, config }
    }

    fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// `ror-search sync --once` as a process; its output when it fails.
    fn sync_once(&self, extra: &[&str]) -> Result<Value, String> {
        let output = Command::new(env!("CARGO_BIN_EXE_ror-search"))
            .args(["sync", "--once", "--config"])
            .arg(&self.config)
            .arg("--index")
            .arg(self.index())
            .args(extra)
            .env("RUST_LOG", "info")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(format!("{stdout}{stderr}"));
        }
        let last = stdout.lines().last().unwrap_or_default();
        Ok(serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {stdout}\n{stderr}")))
    }

    fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.index().join("sync/state.json")).unwrap()).unwrap()
    }

    /// The dataset of the snapshot the state names.
    fn synced(&self) -> (PathBuf, ror_search::snapshot::Snapshot) {
        let dir = PathBuf::from(self.state()["snapshot_dir"].as_str().unwrap());
        let snapshot = ror_search::snapshot::load(&dir).unwrap();
        (dir, snapshot)
    }

    /// A fresh build of the upstream's whole feed, as it is now.
    fn fresh(&self, name: &str) -> SnapshotData {
        let feed = self.dir.path().join(format!("{name}.ndjson"));
        self.sim.write_feed(&feed);
        let output = ror_search::ingest::ingest(&[feed], &mut |_| {}).unwrap();
        SnapshotData { dataset: output.dataset, communes: crate::engine_data::communes() }
    }

    /// The synced snapshot holds the fresh build's dataset and answers as it does.
    fn assert_synced(&self, step: &str) {
        let (dir, snapshot) = self.synced();
        let fresh = self.fresh(step);
        assert_same_dataset(&snapshot.data.dataset, &fresh.dataset, step);
        let synced_engine = Engine::open(&dir).unwrap();
        let fresh_dir = self.dir.path().join(format!("fresh-{step}"));
        std::fs::create_dir_all(&fresh_dir).unwrap();
        let fresh_engine = crate::engine_data::engine_of(
            SnapshotData { dataset: fresh.dataset, communes: snapshot.data.communes.clone() },
            &fresh_dir,
        );
        assert_same_answers(&synced_engine, &fresh_engine, step);
    }
}

/// `Ror-Profil-Utilisateur-Code` → `profil_utilisateur_code`.
fn header_key(name: &str) -> String {
    name.trim_start_matches("Ror-").replace('-', "_").to_lowercase()
}

fn assert_same_dataset(synced: &Dataset, fresh: &Dataset, step: &str) {
    assert_eq!(synced.ejs.len(), fresh.ejs.len(), "{step}: EJs");
    assert_eq!(synced.egs.len(), fresh.egs.len(), "{step}: EGs");
    assert_eq!(synced.offers.len(), fresh.offers.len(), "{step}: offers");
    assert_eq!(synced.locations.len(), fresh.locations.len(), "{step}: locations");
    for (a, b) in synced.egs.iter().zip(&fresh.egs) {
        assert_eq!(a, b, "{step}: EG {}", b.id);
    }
    for (a, b) in synced.locations.iter().zip(&fresh.locations) {
        assert_eq!(a, b, "{step}: location {}", b.id);
    }
    for (a, b) in synced.offers.iter().zip(&fresh.offers) {
        assert_eq!(a, b, "{step}: offer {}", b.id);
    }
    assert!(synced == fresh, "{step}: the datasets differ");
}

/// The engine tests' sample query mix, on both engines: the same answers (the snapshot id aside).
fn assert_same_answers(synced: &Engine, fresh: &Engine, step: &str) {
    let mut runner = TestRunner::deterministic();
    let strategy = crate::engine::sample_request_strategy();
    for case in 0..150 {
        let request: SearchRequest = strategy.new_tree(&mut runner).unwrap().current();
        let request = SearchRequest { now: Some(crate::engine_data::NOW), ..request };
        let answer = |engine: &Engine| -> Value {
            let mut value = serde_json::to_value(engine.search(&request).unwrap()).unwrap();
            value.as_object_mut().unwrap().remove("snapshot");
            value
        };
        assert_eq!(answer(synced), answer(fresh), "{step}: case {case}: {request:?}");
    }
}

/// The sample dataset's record as FHIR (the writer of the facade), to change and upsert.
fn resource_of(dataset: &Dataset, resource_type: &str, id: &str) -> Value {
    resources_of(dataset, resource_type, &[id]).remove(0)
}

/// Several records of one type as FHIR, in the order of `ids`.
fn resources_of(dataset: &Dataset, resource_type: &str, ids: &[&str]) -> Vec<Value> {
    let mut bytes = Vec::new();
    write_ndjson(dataset, &mut bytes).unwrap();
    let mut found: std::collections::HashMap<String, Value> = String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|resource| {
            resource["resourceType"] == resource_type && ids.contains(&resource["id"].as_str().unwrap_or(""))
        })
        .map(|resource| (resource["id"].as_str().unwrap().to_owned(), resource))
        .collect();
    ids.iter().map(|id| found.remove(*id).unwrap_or_else(|| panic!("no {resource_type}/{id}"))).collect()
}

#[test]
fn full_pull_through_faults_then_deltas_equal_fresh_builds() {
    let fixture = Fixture::new(
        SimConfig { export_batch_size: 400, token_lifetime_secs: 4, ..SimConfig::default() },
        "overlap_secs = 0",
    );
    let sim = &fixture.sim;
    // The network of a bad day: throttled kick-off, a status poll that fails, files cut mid-body
    // and cut short, a dropped connection.
    sim.inject(Fault::new("$export?", FaultKind::Status429 { retry_after_secs: 1 }));
    sim.inject(Fault::new("$export-poll-status", FaultKind::Status503 { retry_after_secs: Some(1) }));
    sim.inject(Fault::new("$export-file", FaultKind::DropMidBody));
    sim.inject(Fault::new("$export-file", FaultKind::Truncated));
    sim.inject(Fault::new("$export-file", FaultKind::DropConnection));
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("full pull failed:\n{output}"));
    assert_eq!(record["kind"], "full (export)", "{record}");
    assert_eq!(record["rejected"], 0);
    assert_eq!(sim.pending_faults(), 0, "every fault was met");
    let requests = sim.requests();
    assert!(requests.iter().filter(|r| !r.path.contains("/token")).all(|r| r.authorization && r.ror_headers));
    assert!(requests.iter().any(|r| r.range.is_some() && r.status == Some(206)), "a download resumed by Range");
    fixture.assert_synced("full");
    let first_snapshot = fixture.state()["snapshot_id"].as_str().unwrap().to_owned();

    // A delta with nothing changed makes no snapshot.
    let record = fixture.sync_once(&[]).unwrap();
    assert_eq!(record["kind"], "delta");
    assert!(record["snapshot"].is_null(), "{record}");

    let (_, snapshot) = fixture.synced();
    let dataset = snapshot.data.dataset;

    // 1. A capacity change, and an EG's tariff.
    let location = dataset.locations.iter().find(|location| !location.capacities.is_empty()).unwrap();
    let mut changed = location.clone();
    changed.capacities[0].count += 3;
    changed.capacities[0].updated_at =
        Some(ror_search::util::time::parse_fhir_datetime("2026-11-30T10:00:00Z").unwrap());
    let mut with = dataset.clone();
    *with.locations.iter_mut().find(|l| l.id == location.id).unwrap() = changed;
    sim.upsert(resource_of(&with, "Location", &location.id));
    let eg_with_tariff = dataset.egs.iter().find(|eg| !eg.tariffs.is_empty()).unwrap();
    let mut with = dataset.clone();
    let eg = with.egs.iter_mut().find(|eg| eg.id == eg_with_tariff.id).unwrap();
    eg.tariffs[0].amount_cents += 150;
    sim.upsert(resource_of(&with, "Organization", &eg_with_tariff.id));
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("delta 1 failed:\n{output}"));
    assert_eq!(record["delta"]["capacity_only"], 1, "{record}");
    assert!(record["delta"]["egs_touched"].as_u64().unwrap() >= 1, "{record}");
    fixture.assert_synced("capacity-and-tariff");

    // 2. A new EHPAD (a new EG under an existing EJ, its offer and Location), and a closed EG.
    let (_, snapshot) = fixture.synced();
    let dataset = snapshot.data.dataset;
    let ehpad = dataset.egs.iter().position(|eg| eg.category.as_deref() == Some("500")).expect("an EHPAD");
    let offer = dataset.offers.iter().position(|offer| offer.eg == Some(ehpad as u32)).expect("an EHPAD offer");
    let mut with = dataset.clone();
    let mut new_eg = with.egs[ehpad].clone();
    new_eg.id = "eg-330999990".into();
    new_eg.finess = Some("330999990".into());
    new_eg.name = "EHPAD Les Tests du Sync".into();
    with.egs.push(new_eg);
    let new_eg_index = (with.egs.len() - 1) as u32;
    let mut new_location = with.locations[with.offers[offer].locations[0] as usize].clone();
    new_location.id = "loc-330999990-0".into();
    new_location.synchro_id = Some("SYNC-TEST-1".into());
    with.locations.push(new_location);
    let mut new_offer = with.offers[offer].clone();
    new_offer.id = "hs-330999990-0".into();
    new_offer.eg = Some(new_eg_index);
    new_offer.locations = vec![(with.locations.len() - 1) as u32];
    with.offers.push(new_offer);
    sim.upsert(resource_of(&with, "Organization", "eg-330999990"));
    sim.upsert(resource_of(&with, "Location", "loc-330999990-0"));
    sim.upsert(resource_of(&with, "HealthcareService", "hs-330999990-0"));
    let closing = dataset.egs.iter().find(|eg| eg.closed_at.is_none() && eg.id != dataset.egs[ehpad].id).unwrap();
    let mut with = dataset.clone();
    let eg = with.egs.iter_mut().find(|eg| eg.id == closing.id).unwrap();
    eg.closed_at = Some(ror_search::util::time::parse_fhir_datetime("2026-11-01").unwrap());
    eg.closing_type = Some("01".into());
    sim.upsert(resource_of(&with, "Organization", &closing.id));
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("delta 2 failed:\n{output}"));
    assert!(record["delta"]["offers_added"].as_u64().unwrap() >= 1, "{record}");
    fixture.assert_synced("new-ehpad-and-closed-eg");
    let (_, snapshot) = fixture.synced();
    assert!(snapshot.data.dataset.offers.iter().any(|offer| offer.id == "hs-330999990-0"));

    // 3. A deleted offer (the ROR bumps its EG), and a whole EG deleted (its EJ bumped).
    let dataset = snapshot.data.dataset;
    let gone =
        dataset.offers.iter().find(|offer| offer.eg.is_some() && offer.id != "hs-330999990-0").unwrap().id.clone();
    assert!(sim.delete("HealthcareService", &gone));
    let gone_eg = dataset
        .egs
        .iter()
        .enumerate()
        .find(|(index, eg)| {
            eg.ej.is_some()
                && dataset.offers.iter().any(|offer| offer.eg == Some(*index as u32))
                && eg.id != "eg-330999990"
        })
        .map(|(_, eg)| eg.id.clone())
        .unwrap();
    for offer in dataset.offers.iter().filter(|offer| offer.eg.is_some_and(|eg| dataset.egs[eg as usize].id == gone_eg))
    {
        sim.delete("HealthcareService", &offer.id);
    }
    assert!(sim.delete("Organization", &gone_eg));
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("delta 3 failed:\n{output}"));
    assert!(record["delta"]["offers_removed"].as_u64().unwrap() >= 1, "{record}");
    fixture.assert_synced("deleted-offer-and-eg");
    let (_, snapshot) = fixture.synced();
    assert!(!snapshot.data.dataset.offers.iter().any(|offer| offer.id == gone));
    assert!(!snapshot.data.dataset.egs.iter().any(|eg| eg.id == gone_eg));
    assert_eq!(snapshot.manifest.lineage.as_ref().unwrap().kind, "delta");
    assert!(sim.tokens_issued() >= 2, "the short-lived token was refreshed");

    // A full re-sync finds that the deltas missed nothing, and the state keeps every pull.
    let record = fixture.sync_once(&["--full"]).unwrap();
    assert_eq!(record["kind"], "full (export)");
    let state = fixture.state();
    assert_eq!(state["reconciliation"]["missing"], serde_json::json!({}), "{state}");
    assert_eq!(state["reconciliation"]["different"], serde_json::json!({}), "{state}");
    assert_ne!(state["snapshot_id"].as_str().unwrap(), first_snapshot);
    assert!(state["pulls"].as_array().unwrap().len() >= 6);
    fixture.assert_synced("resync");
}

#[test]
fn a_delta_that_fails_applies_nothing_and_the_next_one_catches_up() {
    let fixture = Fixture::new(SimConfig::default(), "retries = 2\nfull_pull = \"paged\"\noverlap_secs = 0");
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("paged full pull failed:\n{output}"));
    assert_eq!(record["kind"], "full (paged)", "{record}");
    fixture.assert_synced("paged");
    let before = fixture.state();

    let (_, snapshot) = fixture.synced();
    let dataset = snapshot.data.dataset;
    let eg = dataset.egs.iter().find(|eg| !eg.tariffs.is_empty()).unwrap();
    let mut with = dataset.clone();
    with.egs.iter_mut().find(|candidate| candidate.id == eg.id).unwrap().name.push_str(" (renommé)");
    sim_upsert_later(&fixture, resource_of(&with, "Organization", &eg.id));
    for _ in 0..3 {
        fixture.sim.inject(Fault::new("HealthcareService?organization", FaultKind::Status500));
    }
    let error = fixture.sync_once(&[]).unwrap_err();
    assert!(error.contains("gave up after 3 attempts"), "{error}");
    let after = fixture.state();
    assert_eq!(after["snapshot_id"], before["snapshot_id"], "nothing applied");
    assert_eq!(after["high_water_mark"], before["high_water_mark"], "the mark did not move");
    assert_eq!(after["failures"], 1);
    assert!(after["last_error"].as_str().unwrap().contains("HTTP 500"), "{after}");

    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("the next delta failed:\n{output}"));
    assert_eq!(
        record["delta"]["egs_touched"], 1,
        "only the renamed EG is read again (its EJ was bumped, not changed): {record}"
    );
    assert_eq!(fixture.state()["failures"], 0);
    fixture.assert_synced("after-failure");
}

fn sim_upsert_later(fixture: &Fixture, resource: Value) {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    fixture.sim.upsert(resource);
}

#[test]
fn wrong_credentials_and_missing_headers_are_reported() {
    let fixture = Fixture::new(SimConfig::default(), "");
    let text = std::fs::read_to_string(&fixture.config)
        .unwrap()
        .replace("client_secret = \"secret\"", "client_secret = \"wrong\"");
    std::fs::write(&fixture.config, text).unwrap();
    let error = fixture.sync_once(&[]).unwrap_err();
    assert!(error.contains("token endpoint") && error.contains("401"), "{error}");
    let text = std::fs::read_to_string(&fixture.config).unwrap().replace("\"wrong\"", "\"secret\"");
    let text = text.split("[ror_headers]").next().unwrap().to_owned();
    std::fs::write(&fixture.config, text).unwrap();
    let error = fixture.sync_once(&[]).unwrap_err();
    assert!(error.contains("403"), "{error}");
}

fn get_json(agent: &ureq::Agent, url: &str) -> Value {
    let mut response = agent.get(url).call().unwrap();
    let text = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status().as_u16(), 200, "GET {url}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Polls `probe` every 200 ms for at most a minute until it gives a value.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: not within a minute");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn serve_with_sync_serves_the_upstream_and_takes_capacity_changes_live() {
    let fixture = Fixture::new(SimConfig::default(), "overlap_secs = 0\ndelta_interval_secs = 1");
    let config = fixture.config.clone();
    let server = crate::external::Server::start(
        fixture.dir.path(),
        &format!(
            "allow_anonymous = true\nanonymous_profiles = [1]\n[[client]]\nname = \"prometheus\"\nkey_sha256 = {:?}\nprofiles = [1]\nroles = [\"metrics\"]\n",
            hex::encode(ror_search::auth::sha256(b"metrics-key"))
        ),
        &[std::ffi::OsStr::new("--sync"), config.as_os_str()],
    );
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(10))).build().into();
    let first = get_json(&agent, &format!("{}/v1/version", server.url()));
    // What it serves is the upstream, not the bootstrap sample.
    fixture.assert_synced("served");
    let (_, snapshot) = fixture.synced();
    assert_eq!(first["snapshot"], snapshot.manifest.snapshot_id.as_str(), "{first}");
    let dataset = snapshot.data.dataset;

    // A capacity change upstream: served at once through the live path, no new snapshot.
    let offer = dataset
        .offers
        .iter()
        .find(|offer| offer.locations.iter().any(|&l| !dataset.locations[l as usize].capacities.is_empty()))
        .unwrap();
    let location_index =
        *offer.locations.iter().find(|&&l| !dataset.locations[l as usize].capacities.is_empty()).unwrap();
    let mut with = dataset.clone();
    let record = &mut with.locations[location_index as usize].capacities[0];
    record.count += 11;
    record.updated_at = Some(unix_now());
    let wanted = record.count;
    let location_id = with.locations[location_index as usize].id.clone();
    fixture.sim.upsert(resource_of(&with, "Location", &location_id));
    eventually("the live capacity", || {
        let offer = get_json(&agent, &format!("{}/v1/offers/{}", server.url(), offer.id));
        let location =
            offer["locations"].as_array().unwrap().iter().find(|l| l["id"] == location_id.as_str()).cloned().unwrap();
        location["capacities"].as_array().unwrap().iter().any(|c| c["count"] == wanted).then_some(())
    });
    let version = get_json(&agent, &format!("{}/v1/version", server.url()));
    assert_eq!(version["snapshot"], first["snapshot"], "a capacity change makes no snapshot: {version}");
    assert!(version["capacity_writes"].as_u64().unwrap() >= 1, "{version}");

    // An EG renamed upstream: a new snapshot is swapped in, and the live capacity stays.
    let eg = &dataset.egs[offer.eg.unwrap() as usize];
    let mut renamed = dataset.clone();
    renamed.egs[offer.eg.unwrap() as usize].name = "Renommé par le ROR".into();
    fixture.sim.upsert(resource_of(&renamed, "Organization", &eg.id));
    let version = eventually("the new snapshot", || {
        let version = get_json(&agent, &format!("{}/v1/version", server.url()));
        (version["snapshot"] != first["snapshot"]).then_some(version)
    });
    let offer_now = get_json(&agent, &format!("{}/v1/offers/{}", server.url(), offer.id));
    assert_eq!(offer_now["offer"]["eg"]["name"], "Renommé par le ROR", "{offer_now}");
    let location =
        offer_now["locations"].as_array().unwrap().iter().find(|l| l["id"] == location_id.as_str()).cloned().unwrap();
    assert!(location["capacities"].as_array().unwrap().iter().any(|c| c["count"] == wanted), "{location}");
    assert_eq!(fixture.state()["snapshot_id"], version["snapshot"]);
    let metrics = agent
        .get(format!("{}/metrics", server.url()))
        .header("x-api-key", "metrics-key")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for line in ["ror_sync_failures 0", "ror_sync_last_pull_records{kind=\"delta\",outcome=\"rejected\"} 0"] {
        assert!(metrics.contains(line), "{line} not in /metrics:\n{metrics}");
    }
    assert!(metrics.contains("ror_sync_high_water_mark_seconds 17"), "{metrics}");
    fixture.assert_synced("served-after-rename");
}

#[test]
fn profiles_1_to_5_authenticate_with_a_client_certificate() {
    let tls = crate::ror_sim::SimTls::generate();
    let fixture = Fixture::new(SimConfig { tls: Some(tls.clone()), ..SimConfig::default() }, "");
    let dir = fixture.dir.path();
    std::fs::write(dir.join("ca.pem"), &tls.ca_pem).unwrap();
    std::fs::write(dir.join("client.pem"), &tls.client_certificate_pem).unwrap();
    std::fs::write(dir.join("client.key"), &tls.client_key_pem).unwrap();
    let text = std::fs::read_to_string(&fixture.config).unwrap();
    let with_certificate = text.replace(
        "client_secret = \"secret\"\n",
        &format!(
            "client_cert = {:?}\nclient_key = {:?}\nca_file = {:?}\n",
            dir.join("client.pem").display().to_string(),
            dir.join("client.key").display().to_string(),
            dir.join("ca.pem").display().to_string()
        ),
    );
    assert_ne!(with_certificate, text);
    // Without the certificate the server refuses the connection, and the error says so.
    let without = text.replace(
        "client_secret = \"secret\"\n",
        &format!("ca_file = {:?}\nclient_secret = \"secret\"\n", dir.join("ca.pem").display().to_string()),
    );
    std::fs::write(&fixture.config, without).unwrap();
    let error = fixture.sync_once(&[]).unwrap_err();
    assert!(error.contains("token endpoint"), "{error}");
    std::fs::write(&fixture.config, with_certificate).unwrap();
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("mTLS full pull failed:\n{output}"));
    assert_eq!(record["kind"], "full (export)");
    fixture.assert_synced("mtls");
}

#[test]
fn ror_search_s_own_facade_is_an_upstream() {
    let upstream_dir = crate::common::temp_dir();
    std::fs::create_dir_all(upstream_dir.path().join("index")).unwrap();
    crate::common::build_subset(
        &["33"],
        &upstream_dir.path().join("index/subset"),
        "2026-11-20T00:00:00Z",
        &|_, line| line,
    );
    let access = format!(
        "allow_anonymous = true\nanonymous_profiles = [1]\n[[client]]\nname = \"writer\"\nkey_sha256 = {:?}\nprofiles = [1]\nroles = [\"read\", \"capacity_write\"]\n",
        hex::encode(ror_search::auth::sha256(b"sync-writer-key"))
    );
    let server = crate::external::Server::start(upstream_dir.path(), &access, &[]);
    let dir = crate::common::temp_dir();
    let config = dir.path().join("sync.toml");
    std::fs::write(
        &config,
        format!(
            "communes = {:?}\noverlap_secs = 0\n",
            crate_path("data-samples/communes.csv.gz").display().to_string()
        ),
    )
    .unwrap();
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_ror-search"))
            .args(["sync", "--once", "--config"])
            .arg(&config)
            .args(["--base", &format!("{}/fhir", server.url()), "--index"])
            .arg(dir.path().join("index"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_str::<Value>(stdout.lines().last().unwrap()).unwrap()
    };
    let record = run();
    assert_eq!(record["kind"], "full (export)", "{record}");
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index/sync/state.json")).unwrap()).unwrap();
    let synced = ror_search::snapshot::load(Path::new(state["snapshot_dir"].as_str().unwrap())).unwrap();
    let served = ror_search::snapshot::load(&upstream_dir.path().join("index/subset")).unwrap();
    assert_same_dataset(&synced.data.dataset, &served.data.dataset, "facade");

    // A capacity written to the facade's server reaches the sync's next delta.
    let location = served.data.dataset.locations.iter().find(|location| !location.capacities.is_empty()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let line = format!(
        "{{\"location\":{:?},\"status\":\"01\",\"temporality\":\"01\",\"capacity_type\":\"01\",\"count\":4321,\"updated_at\":{:?}}}\n",
        location.id,
        ror_search::util::time::format_rfc3339(unix_now())
    );
    let mut response = ureq::post(format!("{}/v1/capacity", server.url()))
        .header("content-type", "application/x-ndjson")
        .header("x-api-key", "sync-writer-key")
        .send(line.as_bytes())
        .unwrap();
    let answer = response.body_mut().read_to_string().unwrap();
    assert!(answer.contains("\"applied\""), "{answer}");
    let record = run();
    assert_eq!(record["delta"]["capacity_only"], 1, "{record}");
    let state: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index/sync/state.json")).unwrap()).unwrap();
    let synced = ror_search::snapshot::load(Path::new(state["snapshot_dir"].as_str().unwrap())).unwrap();
    let held = synced.data.dataset.locations.iter().find(|held| held.id == location.id).unwrap();
    assert!(held.capacities.iter().any(|record| record.count == 4321 && record.status == "01"), "{held:?}");
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn searches_cut_by_the_server_s_cap_are_split_or_replaced_by_a_full_pull() {
    let fixture = Fixture::new(SimConfig { search_cap: 40, ..SimConfig::default() }, "overlap_secs = 0");
    fixture.sync_once(&[]).unwrap_or_else(|output| panic!("full pull failed:\n{output}"));
    let (_, snapshot) = fixture.synced();
    let dataset = snapshot.data.dataset;
    // 15 EGs with the most offers: their offers are more than one search returns, so the
    // re-read asks for them in smaller batches.
    let mut offers_per_eg = vec![0usize; dataset.egs.len()];
    for offer in &dataset.offers {
        if let Some(eg) = offer.eg {
            offers_per_eg[eg as usize] += 1;
        }
    }
    let mut busiest: Vec<usize> = (0..dataset.egs.len()).collect();
    busiest.sort_by_key(|&eg| std::cmp::Reverse(offers_per_eg[eg]));
    busiest.truncate(15);
    assert!(busiest.iter().map(|&eg| offers_per_eg[eg]).sum::<usize>() > 40);
    let mut with = dataset.clone();
    for &eg in &busiest {
        with.egs[eg].name.push_str(" (renommé)");
    }
    let ids: Vec<&str> = busiest.iter().map(|&eg| with.egs[eg].id.as_str()).collect();
    for resource in resources_of(&with, "Organization", &ids) {
        fixture.sim.upsert(resource);
    }
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("delta failed:\n{output}"));
    assert_eq!(record["kind"], "delta", "{record}");
    assert_eq!(record["delta"]["egs_touched"], 15, "{record}");
    fixture.assert_synced("split-batches");

    // 60 offers renamed: more changes than a search returns, a full pull instead.
    let (_, snapshot) = fixture.synced();
    let dataset = snapshot.data.dataset;
    let mut with = dataset.clone();
    for offer in with.offers.iter_mut().take(60) {
        offer.name.push_str(" (modifié)");
    }
    let ids: Vec<&str> = with.offers.iter().take(60).map(|offer| offer.id.as_str()).collect();
    for resource in resources_of(&with, "HealthcareService", &ids) {
        fixture.sim.upsert(resource);
    }
    let record = fixture.sync_once(&[]).unwrap_or_else(|output| panic!("the step failed:\n{output}"));
    assert_eq!(record["kind"], "full (export)", "{record}");
    fixture.assert_synced("truncated-delta");
}

#[test]
fn an_export_that_never_finishes_is_given_up_and_cancelled() {
    let fixture =
        Fixture::new(SimConfig { export_polls_before_ready: 1_000, ..SimConfig::default() }, "export_timeout_secs = 2");
    let error = fixture.sync_once(&[]).unwrap_err();
    assert!(error.contains("still in progress after 2 s"), "{error}");
    let requests = fixture.sim.requests();
    assert!(
        requests.iter().any(|r| r.method == "DELETE" && r.path.contains("$export-poll-status")),
        "the job was cancelled"
    );
    assert!(!fixture.index().join("sync/state.json").exists() || fixture.state()["snapshot_id"].is_null());
}
