//! The layered text index (`engine::text_layers`): a snapshot made from the previous one plus a
//! delta indexes only the offers whose text or position changed, over the previous base's
//! segment (hard-linked, not rewritten), and answers exactly as a fresh build of the same data:
//! the same ids, the same order, the same BM25 scores, the same completions of a prefix. Two
//! deltas in a row (the second over the first's layers, with offers changed back, so base docs
//! die and come back), from feeds changed the way the ROR changes them.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use ror_search::engine::Engine;
use ror_search::engine::request::{Centre, SearchRequest};
use ror_search::engine::text_layers::PreviousText;
use ror_search::ingest::IngestReport;
use ror_search::model::{Dataset, Eg, GeoPoint, Location, Offer};
use ror_search::snapshot::{BuildInput, SnapshotData, write};
use serde_json::Value;

use crate::common::write_subset_feed;
use crate::engine_data::NOW;

/// Gironde, Paris, Bouches-du-Rhône, Rhône: dense cities and rural parts.
const PREFIXES: [&str; 4] = ["33", "75", "13", "69"];

fn data_of(feed: &Path) -> SnapshotData {
    let output = ror_search::ingest::ingest(&[feed.to_owned()], &mut |_| {}).unwrap();
    SnapshotData { dataset: output.dataset, communes: crate::engine_data::communes() }
}

fn write_snapshot(data: &SnapshotData, out: &Path, previous: Option<PreviousText<'_>>) {
    write(
        out,
        BuildInput {
            data,
            report: &IngestReport::default(),
            sources: Vec::new(),
            built_at: NOW,
            index_files: Some(&|data: &SnapshotData, dir: &Path| {
                ror_search::engine::persist::write_index_files_over(data, dir, previous)
            }),
            lineage: None,
        },
        true,
    )
    .unwrap();
}

/// The feed's lines, each changed or dropped by `change(index among its type, resource)`.
fn rewrite_feed(from: &Path, to: &Path, change: &dyn Fn(usize, &mut Value) -> bool, extra: &[Value]) {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out = String::new();
    for line in std::fs::read_to_string(from).unwrap().lines() {
        let mut resource: Value = serde_json::from_str(line).unwrap();
        let kind = resource["id"].as_str().unwrap().split('-').next().unwrap().to_owned();
        let index = counts.entry(kind).or_default();
        *index += 1;
        if change(*index, &mut resource) {
            out.push_str(&resource.to_string());
            out.push('\n');
        }
    }
    for resource in extra {
        out.push_str(&resource.to_string());
        out.push('\n');
    }
    std::fs::write(to, out).unwrap();
}

fn kind(resource: &Value) -> &str {
    resource["id"].as_str().unwrap().split('-').next().unwrap()
}

fn rename(resource: &mut Value, suffix: &str) {
    let name = resource["name"].as_str().unwrap_or("").to_owned();
    resource["name"] = Value::String(format!("{name} {suffix}"));
}

/// Text queries of every kind: single words frequent and rare, several words, prefixes, words
/// only the changed offers hold, a word no offer holds.
const QUERIES: [&str; 16] = [
    "ehpad",
    "heberg",
    "accueil de jour",
    "centre hosp",
    "alzh",
    "rénové",
    "renov",
    "nouvelle unite",
    "unite",
    "bordeaux",
    "marseille residence",
    "ma",
    "s",
    "cardiologie",
    "soins de suite",
    "xyzzy",
];

fn requests() -> Vec<SearchRequest> {
    let mut requests = Vec::new();
    for q in QUERIES {
        requests.push(SearchRequest { q: Some(q.to_owned()), limit: 200, now: Some(NOW), ..SearchRequest::default() });
        for (lat, lon) in [(44.8378, -0.5792), (48.8566, 2.3522), (43.2965, 5.3698)] {
            requests.push(SearchRequest {
                q: Some(q.to_owned()),
                centre: Some(Centre::Point(GeoPoint { lat, lon })),
                radius_km: Some(25.0),
                limit: 30,
                now: Some(NOW),
                ..SearchRequest::default()
            });
        }
    }
    let mut runner = TestRunner::deterministic();
    let strategy = crate::engine::sample_request_strategy();
    for _ in 0..200 {
        let request: SearchRequest = strategy.new_tree(&mut runner).unwrap().current();
        requests.push(SearchRequest { now: Some(NOW), ..request });
    }
    requests
}

fn assert_same_answers(layered: &Engine, fresh: &Engine, step: &str) {
    for (case, request) in requests().iter().enumerate() {
        let answer = |engine: &Engine| -> Value {
            let mut value = serde_json::to_value(engine.search(request).unwrap()).unwrap();
            value.as_object_mut().unwrap().remove("snapshot");
            value
        };
        assert_eq!(answer(layered), answer(fresh), "{step}: case {case}: {request:?}");
    }
    for prefix in ["ma", "re", "c", "ehp", "nouv", "ren", "zz"] {
        assert_eq!(
            layered.text().unwrap().prefix_expansions(prefix),
            fresh.text().unwrap().prefix_expansions(prefix),
            "{step}: completions of {prefix:?}"
        );
    }
}

/// Per offer of `next`, the offer of `previous` it is when it, its EG, its EJs and its
/// Locations are all equal there (capacities aside): what `sync`'s splice tells the text index.
fn carried_of(previous: &Dataset, next: &Dataset) -> Vec<Option<u32>> {
    let by_id = |dataset: &Dataset, id: &str| dataset.offers.binary_search_by(|offer| offer.id.as_str().cmp(id)).ok();
    let bare = |offer: &Offer| Offer { eg: None, ej: None, locations: Vec::new(), ..offer.clone() };
    let eg_of = |dataset: &Dataset, offer: &Offer| {
        offer.eg.map(|eg| {
            let eg = &dataset.egs[eg as usize];
            (Eg { ej: None, ..eg.clone() }, eg.ej.map(|ej| dataset.ejs[ej as usize].clone()))
        })
    };
    let ej_of = |dataset: &Dataset, offer: &Offer| offer.ej.map(|ej| dataset.ejs[ej as usize].clone());
    let locations_of = |dataset: &Dataset, offer: &Offer| -> Vec<Location> {
        offer
            .locations
            .iter()
            .map(|&location| Location { capacities: Vec::new(), ..dataset.locations[location as usize].clone() })
            .collect()
    };
    next.offers
        .iter()
        .map(|offer| {
            let index = by_id(previous, &offer.id)?;
            let old = &previous.offers[index];
            (bare(old) == bare(offer)
                && eg_of(previous, old) == eg_of(next, offer)
                && ej_of(previous, old) == ej_of(next, offer)
                && locations_of(previous, old) == locations_of(next, offer))
            .then_some(index as u32)
        })
        .collect()
}

fn segment_files(text_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(text_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.is_file() && path.extension().is_some_and(|ext| ext == "idx" || ext == "term" || ext == "pos")
        })
        .collect()
}

/// The sample feed of `prefixes` in `dir` (`a.ndjson`), its data and its full snapshot (`a`).
fn base_of(dir: &Path, prefixes: &[&str]) -> (PathBuf, SnapshotData, PathBuf) {
    let feed = dir.join("a.ndjson");
    write_subset_feed(prefixes, &feed, &|_, line| line);
    let data = data_of(&feed);
    let snapshot = dir.join("a");
    write_snapshot(&data, &snapshot, None);
    (feed, data, snapshot)
}

/// `snapshot` answers as a full build of `data` (written to `dir/fresh-<name>`) does.
fn assert_as_fresh_build(data: &SnapshotData, snapshot: &Path, dir: &Path, name: &str) {
    let fresh = dir.join(format!("fresh-{name}"));
    write_snapshot(data, &fresh, None);
    assert!(!fresh.join("text/layers.bin").exists());
    assert_same_answers(&Engine::open(snapshot).unwrap(), &Engine::open(&fresh).unwrap(), name);
}

/// The segment files of the base's text index are the same files (hard links) in `text_dir`.
fn assert_links_base(base_text: &Path, text_dir: &Path) {
    let files = segment_files(base_text);
    assert!(!files.is_empty());
    for file in files {
        let linked = text_dir.join(file.file_name().unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), std::fs::metadata(&linked).unwrap().ino(), "{linked:?}");
    }
}

/// Every offer (`hs`) of the feed whose index is a multiple of `every` renamed with `suffix`.
fn rename_offers(from: &Path, to: &Path, every: usize, suffix: &str) {
    rewrite_feed(
        from,
        to,
        &|index, resource| {
            if kind(resource) == "hs" && index % every == 0 {
                rename(resource, suffix);
            }
            true
        },
        &[],
    );
}

#[test]
fn deltas_over_a_base_answer_as_fresh_builds() {
    let dir = crate::common::temp_dir();
    let (feed_a, data_a, snapshot_a) = base_of(dir.path(), &PREFIXES);

    // B: offers renamed, offers removed, offers added, an EG renamed (its offers' text), some
    // Locations moved (their offers' place in the doc order).
    let template = std::fs::read_to_string(&feed_a)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|resource| kind(resource) == "hs")
        .unwrap();
    let added: Vec<Value> = (0..25)
        .map(|n| {
            let mut resource = template.clone();
            resource["id"] = Value::String(format!("hs-new-{n:03}"));
            resource["name"] = Value::String(format!("Nouvelle unité {n}"));
            resource
        })
        .collect();
    let feed_b = dir.path().join("b.ndjson");
    rewrite_feed(
        &feed_a,
        &feed_b,
        &|index, resource| {
            match kind(resource) {
                "hs" if index % 11 == 0 => return false,
                "hs" if index % 7 == 0 => rename(resource, "rénové"),
                "eg" if index % 97 == 0 => rename(resource, "Marseille"),
                "loc" if index % 13 == 0 => {
                    if let Some(lat) = resource["position"]["latitude"].as_f64() {
                        resource["position"]["latitude"] = serde_json::json!(lat + 0.01);
                    }
                }
                _ => {}
            }
            true
        },
        &added,
    );
    let data_b = data_of(&feed_b);
    assert!(data_b.dataset.offers.len() != data_a.dataset.offers.len());
    let snapshot_b = dir.path().join("b");
    write_snapshot(&data_b, &snapshot_b, Some(PreviousText { dir: &snapshot_a, data: &data_a, carried: None }));
    let text_b = snapshot_b.join("text");
    assert!(text_b.join("layers.bin").is_file(), "a delta this small is layered");
    assert!(text_b.join("delta/meta.json").is_file());
    assert_links_base(&snapshot_a.join("text"), &text_b);
    assert_as_fresh_build(&data_b, &snapshot_b, dir.path(), "b-over-a");

    // C over B: some of B's renames undone (their base docs come back), more offers removed and
    // renamed, the added ones renamed again.
    let feed_c = dir.path().join("c.ndjson");
    rewrite_feed(
        &feed_b,
        &feed_c,
        &|index, resource| {
            match kind(resource) {
                "hs" if index % 41 == 0 => return false,
                "hs" if index % 31 == 0 => rename(resource, "cardiologie"),
                "hs" if index % 2 == 0 => {
                    let name = resource["name"].as_str().unwrap_or("").to_owned();
                    if let Some(original) = name.strip_suffix(" rénové") {
                        resource["name"] = Value::String(original.to_owned());
                    }
                }
                _ => {}
            }
            true
        },
        &[],
    );
    let data_c = data_of(&feed_c);
    let snapshot_c = dir.path().join("c");
    // What a splice knows: the offers carried over unchanged are not hashed again.
    let carried = carried_of(&data_b.dataset, &data_c.dataset);
    assert!(carried.iter().filter(|c| c.is_some()).count() > data_c.dataset.offers.len() / 2);
    write_snapshot(
        &data_c,
        &snapshot_c,
        Some(PreviousText { dir: &snapshot_b, data: &data_b, carried: Some(&carried) }),
    );
    assert!(snapshot_c.join("text/layers.bin").is_file());
    assert_links_base(&snapshot_a.join("text"), &snapshot_c.join("text"));
    // The previous snapshots can go: the base's files live on through their links.
    std::fs::remove_dir_all(&snapshot_a).unwrap();
    std::fs::remove_dir_all(&snapshot_b).unwrap();
    assert_as_fresh_build(&data_c, &snapshot_c, dir.path(), "c-over-b");

    // Everything changed: a full build instead of a delta larger than the base allows.
    let feed_d = dir.path().join("d.ndjson");
    rename_offers(&feed_c, &feed_d, 1, "réorganisé");
    let data_d = data_of(&feed_d);
    let snapshot_d = dir.path().join("d");
    write_snapshot(&data_d, &snapshot_d, Some(PreviousText { dir: &snapshot_c, data: &data_c, carried: None }));
    assert!(!snapshot_d.join("text/layers.bin").exists(), "a delta of every offer is a full build");
    assert_as_fresh_build(&data_d, &snapshot_d, dir.path(), "d-over-c");
}

#[test]
fn a_broken_layered_index_is_refused_and_is_no_base() {
    let dir = crate::common::temp_dir();
    let (feed_a, data_a, snapshot_a) = base_of(dir.path(), &["2A"]);
    let over_a = |name: &str, every: usize| -> (SnapshotData, PathBuf) {
        let feed = dir.path().join(format!("{name}.ndjson"));
        rename_offers(&feed_a, &feed, every, "changé");
        let data = data_of(&feed);
        let snapshot = dir.path().join(name);
        write_snapshot(&data, &snapshot, Some(PreviousText { dir: &snapshot_a, data: &data_a, carried: None }));
        assert!(snapshot.join("text/layers.bin").is_file());
        (data, snapshot)
    };
    let (data_b, snapshot_b) = over_a("b", 10);
    assert!(Engine::open(&snapshot_b).is_ok());

    // A previous snapshot whose layers cannot be read: the next one is a full build, never a
    // failed delta.
    let over_b = dir.path().join("over-b");
    let layers_b = snapshot_b.join("text/layers.bin");
    let original = std::fs::read(&layers_b).unwrap();
    std::fs::write(&layers_b, &original[..original.len() / 2]).unwrap();
    write_snapshot(&data_b, &over_b, Some(PreviousText { dir: &snapshot_b, data: &data_b, carried: None }));
    assert!(!over_b.join("text/layers.bin").exists() && over_b.join("text/docs.bin").is_file());
    std::fs::write(&layers_b, &original).unwrap();
    assert_as_fresh_build(&data_b, &over_b, dir.path(), "full-over-a-broken-base");

    // B with the layers of another delta over the same base, its checksums made to agree: the
    // layers do not match B's delta index, and B is refused naming the file.
    let (_, snapshot_other) = over_a("other", 5);
    std::fs::copy(snapshot_other.join("text/layers.bin"), &layers_b).unwrap();
    crate::old_snapshot::rewrite_checksums(&snapshot_b);
    let error = Engine::open(&snapshot_b).unwrap_err().to_string();
    assert!(error.contains("layers.bin") && error.contains("do not match"), "{error}");
}
