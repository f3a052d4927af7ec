//! A snapshot written by an older build (format version 1, `tests/fixtures/snapshot-v1/`) is
//! refused with a message naming the version found and the version this build reads, whether
//! the manifest or only the data file gives the old version away.

use std::path::Path;

use ror_search::snapshot::{CHECKSUMS_FILE, DATA_FILE, FORMAT_VERSION, MANIFEST_FILE, load, read_manifest};
use sha2::Digest;

use crate::common::{fixture, temp_dir};

const OLD_VERSION: u32 = 1;

/// Asserts the message names `file`, the old version, then the version this build reads.
fn assert_names_versions(message: &str, file: &str) {
    assert!(message.contains(file), "does not name {file}: {message}");
    let found = format!("version {OLD_VERSION}");
    let (_, after) = message.split_once(&found).unwrap_or_else(|| panic!("does not name {found:?}: {message}"));
    assert!(after.contains(&FORMAT_VERSION.to_string()), "does not name the version read, {FORMAT_VERSION}: {message}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rewrites `CHECKSUMS` to what the files now hold (to reach the checks behind it).
pub(crate) fn rewrite_checksums(dir: &Path) {
    let checksums = std::fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap();
    let rewritten: String = checksums
        .lines()
        .map(|line| {
            let (_, relative) = line.split_once("  ").unwrap();
            let sha = hex::encode(sha2::Sha256::digest(std::fs::read(dir.join(relative)).unwrap()));
            format!("{sha}  {relative}\n")
        })
        .collect();
    std::fs::write(dir.join(CHECKSUMS_FILE), rewritten).unwrap();
}

#[test]
fn the_fixture_is_an_intact_version_1_snapshot() {
    // So that the refusals below are about the version, not a damaged fixture.
    let dir = fixture("snapshot-v1/snapshot");
    assert_ne!(FORMAT_VERSION, OLD_VERSION, "this build reads version 1 again: the fixture no longer tests anything");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["format_version"], OLD_VERSION);
    assert_eq!(manifest["counts"]["offers"], 5);
    let data = std::fs::read(dir.join(DATA_FILE)).unwrap();
    assert_eq!(&data[..8], b"RORSNAP\0");
    assert_eq!(u32::from_le_bytes(data[8..12].try_into().unwrap()), OLD_VERSION);
    let checksums = std::fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap();
    assert!(checksums.lines().count() >= 3);
    for line in checksums.lines() {
        let (sha, relative) = line.split_once("  ").unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(std::fs::read(dir.join(relative)).unwrap())), sha, "{relative}");
    }
}

#[test]
fn a_version_1_snapshot_is_refused_naming_both_versions() {
    let dir = fixture("snapshot-v1/snapshot");
    let error = load(&dir).expect_err("a version 1 snapshot must not load").to_string();
    assert_names_versions(&error, MANIFEST_FILE);
    let error = read_manifest(&dir).expect_err("inspect refuses it too").to_string();
    assert_names_versions(&error, MANIFEST_FILE);
    let error = ror_search::engine::Engine::open(&dir).expect_err("no engine from it").to_string();
    assert_names_versions(&error, MANIFEST_FILE);
}

#[test]
fn a_version_1_data_file_is_refused_even_under_a_current_manifest() {
    // An old data.bin beside a manifest that claims the current version (checksums consistent):
    // the data file's own header gives it away.
    let temp = temp_dir();
    let dir = temp.path().join("snapshot");
    copy_dir(&fixture("snapshot-v1/snapshot"), &dir);
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["format_version"] = FORMAT_VERSION.into();
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    rewrite_checksums(&dir);
    read_manifest(&dir).expect("the manifest now reads");
    let error = load(&dir).expect_err("a version 1 data file must not load").to_string();
    assert_names_versions(&error, DATA_FILE);
    // The bare decoder says the same.
    let error = ror_search::snapshot::format::decode(&std::fs::read(dir.join(DATA_FILE)).unwrap()).unwrap_err();
    assert_names_versions(&format!("{DATA_FILE}: {error}"), DATA_FILE);
}
