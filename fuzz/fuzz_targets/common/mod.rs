//! What the fuzz targets share: paths into the repository, a scratch directory per process, and
//! the small snapshot the `query_string` and `snapshot_load` targets start from.

#![allow(dead_code)] // each target uses part of it

use std::path::{Path, PathBuf};

/// The linked FHIR bundle of the test fixtures (2 organizations, 3 offers, 2 locations, and
/// resource types the engine ignores): the feed of the targets' snapshot.
pub const FIXTURE_FEED: &str = "tests/fixtures/ror-ig/linked-bundle.json";

/// Build time of the targets' snapshot (2026-11-23T00:00:00Z), fixed so that runs repeat.
pub const BUILT_AT: i64 = 1_795_392_000;

/// A path inside the repository (the parent of `fuzz/`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// A fresh, empty directory for this process (`$TMPDIR/ror-search-fuzz-<name>-<pid>`).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ror-search-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

/// Builds the snapshot of [`FIXTURE_FEED`] at `out`, as `ror-search build` does; with
/// `communes`, with the communes table of `data-samples/`; with `engine_files`, with
/// `engine.bin` and the text index.
pub fn build_fixture_snapshot(out: &Path, communes: bool, engine_files: bool) {
    let writer: &dyn ror_search::snapshot::IndexFiles = &ror_search::engine::persist::write_index_files;
    ror_search::snapshot::build::build_snapshot(ror_search::snapshot::build::BuildOptions {
        inputs: vec![repo_path(FIXTURE_FEED)],
        communes: communes.then(|| repo_path("data-samples/communes.csv.gz")),
        out: out.to_owned(),
        force: true,
        built_at: BUILT_AT,
        index_files: engine_files.then_some(writer),
        progress_bar: false,
    })
    .expect("the fixture snapshot builds");
}
