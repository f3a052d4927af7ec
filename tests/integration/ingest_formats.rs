//! Every input shape reads to the same dataset: NDJSON, bundles, arrays, gzip, directories.

use std::io::Write;

use ror_search::ingest::ingest;
use sha2::{Digest, Sha256};

use crate::common::{fixture_text, reasons, temp_dir};

fn resources() -> Vec<serde_json::Value> {
    let bundle: serde_json::Value = serde_json::from_str(&fixture_text("ror-ig/linked-bundle.json")).unwrap();
    bundle["entry"].as_array().unwrap().iter().map(|entry| entry["resource"].clone()).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn all_shapes_give_the_same_dataset() {
    let dir = temp_dir();
    let resources = resources();
    let ndjson: String = resources.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    let array = serde_json::to_string_pretty(&resources).unwrap();
    let bundle = fixture_text("ror-ig/linked-bundle.json");
    let shapes: Vec<(&str, Vec<u8>)> = vec![
        ("feed.ndjson", ndjson.clone().into_bytes()),
        ("feed.ndjson.gz", gzip(ndjson.as_bytes())),
        ("array.json", array.clone().into_bytes()),
        ("bundle.json", bundle.clone().into_bytes()),
        ("bundle.json.gz", gzip(bundle.as_bytes())),
        ("noext-ndjson.json", ndjson.clone().into_bytes()),
    ];
    let mut datasets = Vec::new();
    for (name, bytes) in &shapes {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = ingest(std::slice::from_ref(&path), &mut |_| {}).unwrap();
        assert_eq!(output.report.totals.read, 10, "{name}");
        assert_eq!(reasons(&output.report).len(), 2, "{name}");
        assert_eq!(
            output.sources[0].sha256,
            hex::encode(Sha256::digest(bytes)),
            "{name}: checksum of the file as stored"
        );
        assert_eq!(output.sources[0].gzip, name.ends_with(".gz"));
        datasets.push(output.dataset);
    }
    for dataset in &datasets[1..] {
        assert_eq!(dataset, &datasets[0]);
    }
}

#[test]
fn one_resource_per_file_in_a_directory_tree() {
    let dir = temp_dir();
    for (index, resource) in resources().iter().enumerate() {
        let sub = dir.path().join(format!("part{}", index % 3));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("r{index}.json")), serde_json::to_vec_pretty(resource).unwrap()).unwrap();
    }
    std::fs::write(dir.path().join("README.md"), "not a feed file").unwrap();
    std::fs::write(dir.path().join("empty.json"), "").unwrap();
    let output = ingest(&[dir.path().to_owned()], &mut |_| {}).unwrap();
    assert_eq!(output.sources.len(), 11, "10 resources and the empty file; README skipped");
    assert_eq!(output.report.totals.read, 10);
    assert_eq!(output.report.totals.accepted, 5);
    assert_eq!(output.dataset.offers.len(), 1);
    assert!(output.sources.iter().any(|source| source.format == "empty"));
}

#[test]
fn bundles_inside_ndjson_lines_and_arrays() {
    let bundle: serde_json::Value = serde_json::from_str(&fixture_text("ror-ig/linked-bundle.json")).unwrap();
    let text = format!("{}\n", serde_json::to_string(&bundle).unwrap());
    let (dataset, report) = ror_search::ingest::ingest_str("bundles.ndjson", &text);
    assert_eq!(report.totals.read, 10);
    assert_eq!(dataset.offers.len(), 1);
    assert!(
        report.rejects.iter().all(|issue| issue.origin.starts_with("bundles.ndjson:1 entry ")),
        "{:?}",
        report.rejects
    );

    let array = serde_json::to_string(&vec![bundle.clone(), bundle]).unwrap();
    let (_, report) = ror_search::ingest::ingest_str("bundles.json", &array);
    assert_eq!(report.totals.read, 20);
    assert!(report.rejects.iter().any(|issue| issue.reason.starts_with("duplicate id")));
    assert!(report.reconciles());
}

#[test]
fn missing_input_is_an_error_not_an_empty_snapshot() {
    let error = ingest(&["/nonexistent/feed.ndjson".into()], &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("/nonexistent/feed.ndjson"), "{error}");
    let dir = temp_dir();
    let error = ingest(&[dir.path().to_owned()], &mut |_| {}).unwrap_err();
    assert!(error.to_string().starts_with("no input files found"), "{error}");
}
