//! Snapshots: build, load, compare; every corruption is refused naming the file.

use std::path::Path;

use ror_search::snapshot::build::{BuildOptions, build_snapshot};
use ror_search::snapshot::{CHECKSUMS_FILE, DATA_FILE, MANIFEST_FILE, load, read_manifest};
use ror_search::util::time::parse_fhir_datetime;

use crate::common::{crate_path, fixture, temp_dir};

fn build(
    out: &Path,
    force: bool,
) -> Result<ror_search::snapshot::build::BuildOutcome, ror_search::snapshot::build::BuildError> {
    build_snapshot(BuildOptions {
        inputs: vec![fixture("ror-ig/linked-bundle.json")],
        communes: Some(crate_path("data-samples/communes.csv.gz")),
        out: out.to_owned(),
        force,
        built_at: parse_fhir_datetime("2026-11-01T00:00:00Z").unwrap(),
        index_files: None,
        progress_bar: false,
    })
}

#[test]
fn build_load_round_trip() {
    let dir = temp_dir();
    let out = dir.path().join("snap");
    let outcome = build(&out, false).unwrap();
    let snapshot = load(&out).unwrap();
    assert_eq!(snapshot.manifest, outcome.manifest);
    let (dataset, report) = ror_search::ingest::ingest_str(
        "x.json",
        &std::fs::read_to_string(fixture("ror-ig/linked-bundle.json")).unwrap(),
    );
    assert_eq!(snapshot.data.dataset, dataset);
    assert!(snapshot.data.communes.len() > 34_000);
    let manifest = &snapshot.manifest;
    assert_eq!(manifest.counts.offers, 1);
    assert_eq!(manifest.counts.capacity_records, 5);
    assert_eq!(manifest.ingest.totals, report.totals);
    assert_eq!(manifest.built_at, "2026-11-01T00:00:00Z");
    assert!(manifest.snapshot_id.starts_with("20261101T000000Z-"));
    assert_eq!(manifest.sources[0].format, "bundle");
    // The rejects file lists the two rejected offers with where and why.
    let rejects = std::fs::read_to_string(out.join("rejects.ndjson")).unwrap();
    assert_eq!(rejects.lines().count(), 2);
    assert!(rejects.contains("\"origin\":") && rejects.contains("Organization/999999"));
    // The quality summary is stored: the neurosurgery offer was last updated in 2023.
    assert_eq!(manifest.quality.offers_not_updated_for_a_year, 1);
    // No temporary directory is left beside it.
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).filter(|e| e.file_name() != "snap").collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn existing_snapshot_is_not_overwritten_without_force() {
    let dir = temp_dir();
    let out = dir.path().join("snap");
    build(&out, false).unwrap();
    let error = build(&out, false).unwrap_err();
    assert!(error.to_string().contains("already exists"), "{error}");
    build(&out, true).unwrap();
    load(&out).unwrap();
}

#[test]
fn any_flipped_byte_is_refused_naming_the_file() {
    let dir = temp_dir();
    let out = dir.path().join("snap");
    build(&out, false).unwrap();
    for file in [DATA_FILE, MANIFEST_FILE, CHECKSUMS_FILE, "rejects.ndjson"] {
        let path = out.join(file);
        let original = std::fs::read(&path).unwrap();
        for position in [0, original.len() / 2, original.len() - 1] {
            let mut altered = original.clone();
            altered[position] ^= 0x20;
            std::fs::write(&path, &altered).unwrap();
            let error = load(&out).expect_err("a corrupted snapshot must not load").to_string();
            assert!(error.contains(file), "flip in {file} at {position}: error does not name the file: {error}");
        }
        std::fs::write(&path, &original).unwrap();
    }
    load(&out).unwrap();
}

#[test]
fn truncated_or_missing_files_are_refused() {
    let dir = temp_dir();
    let out = dir.path().join("snap");
    build(&out, false).unwrap();
    let data = out.join(DATA_FILE);
    let original = std::fs::read(&data).unwrap();
    std::fs::write(&data, &original[..original.len() - 100]).unwrap();
    let error = load(&out).unwrap_err().to_string();
    assert!(error.contains("data.bin") && error.contains("does not match"), "{error}");
    std::fs::remove_file(&data).unwrap();
    let error = load(&out).unwrap_err().to_string();
    assert!(error.contains("lists \"data.bin\", which is missing"), "{error}");
    assert!(read_manifest(&out).is_ok(), "the manifest alone still reads for inspection");
    let error = load(&dir.path().join("nowhere")).unwrap_err().to_string();
    assert!(error.contains("nowhere: missing"), "{error}");
}

#[test]
fn data_file_with_consistent_checksums_but_bad_crc_is_refused() {
    // Someone rewrites data.bin and CHECKSUMS together: the CRC inside data.bin still catches it.
    let dir = temp_dir();
    let out = dir.path().join("snap");
    build(&out, false).unwrap();
    let data = out.join(DATA_FILE);
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&data, &bytes).unwrap();
    let checksums = std::fs::read_to_string(out.join(CHECKSUMS_FILE)).unwrap();
    use sha2::Digest;
    let new_sha = hex::encode(sha2::Sha256::digest(&bytes));
    let rewritten: String = checksums
        .lines()
        .map(|line| if line.ends_with("  data.bin") { format!("{new_sha}  data.bin\n") } else { format!("{line}\n") })
        .collect();
    std::fs::write(out.join(CHECKSUMS_FILE), rewritten).unwrap();
    let error = load(&out).unwrap_err().to_string();
    assert!(error.contains("data.bin") && error.contains("CRC-32 mismatch"), "{error}");
}
