//! Helpers shared by the integration tests.

use std::path::PathBuf;

use ror_search::ingest::IngestReport;
use ror_search::model::{Dataset, Location, Offer};

/// A path under the crate root.
pub(crate) fn crate_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A fixture of `tests/fixtures/`.
pub(crate) fn fixture(relative: &str) -> PathBuf {
    crate_path("tests/fixtures").join(relative)
}

/// The text of a fixture.
pub(crate) fn fixture_text(relative: &str) -> String {
    std::fs::read_to_string(fixture(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// The offer with a FHIR id.
pub(crate) fn offer<'a>(dataset: &'a Dataset, id: &str) -> &'a Offer {
    dataset.offers.iter().find(|offer| offer.id == id).unwrap_or_else(|| panic!("no offer {id}"))
}

/// The location with a FHIR id.
pub(crate) fn location<'a>(dataset: &'a Dataset, id: &str) -> &'a Location {
    dataset.locations.iter().find(|location| location.id == id).unwrap_or_else(|| panic!("no location {id}"))
}

/// Asserts the report reconciles and returns the reasons of its rejects.
pub(crate) fn reasons(report: &IngestReport) -> Vec<String> {
    assert!(report.reconciles(), "counts do not reconcile: {:?}", report.by_type);
    report.rejects.iter().map(|issue| issue.reason.clone()).collect()
}

/// Asserts there is exactly one reject and that its reason contains `expected`.
pub(crate) fn assert_single_reject(report: &IngestReport, expected: &str) {
    let reasons = reasons(report);
    assert_eq!(reasons.len(), 1, "expected one reject containing {expected:?}, got {reasons:#?}");
    assert!(reasons[0].contains(expected), "reason {:?} does not contain {expected:?}", reasons[0]);
}

/// A temporary directory removed on drop.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("ror-search-test-").tempdir().expect("temporary directory")
}
