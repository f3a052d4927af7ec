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

/// A fresh, empty directory for this process, `ror-search-fuzz-<name>-<pid>` in `/dev/shm` when
/// there is one (targets write files at every run: on tmpfs that costs no disk journal), else
/// in the temporary directory; the directories of earlier processes that ended are removed.
pub fn scratch_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() { shm.to_owned() } else { std::env::temp_dir() };
    // Remove what earlier processes of this target left (those that are no longer running).
    let prefix = format!("ror-search-fuzz-{name}-");
    for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = file_name.strip_prefix(&prefix)
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = parent.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create the scratch directory");
    dir
}

/// Writes a part of the communes table of `data-samples/` beside `out` and returns its path:
/// the départements of the fixture (45, 78, 92) and a few large ones (33, 69, 75, 974, 2A),
/// and one commune in 50 of the others (about 2,300 of the 37,432), so that the linear
/// type-ahead of `/v1/communes` costs a fuzz run a millisecond rather than tens.
fn communes_subset(out: &Path) -> PathBuf {
    use std::io::{BufRead, Write};
    let path = out.with_extension("communes.csv");
    let file = std::fs::File::open(repo_path("data-samples/communes.csv.gz")).expect("the communes table opens");
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&path).expect("cannot write the communes"));
    for (index, line) in reader.lines().enumerate() {
        let line = line.expect("the communes table reads");
        let keep = index == 0
            || ["45", "78", "92", "33", "69", "75", "974", "2A"].iter().any(|prefix| line.starts_with(prefix))
            || index % 50 == 0;
        if keep {
            writeln!(writer, "{line}").expect("cannot write the communes");
        }
    }
    writer.flush().expect("cannot write the communes");
    path
}

/// Builds the snapshot of [`FIXTURE_FEED`] at `out`, as `ror-search build` does; with
/// `communes`, with part of the communes table of `data-samples/` ([`communes_subset`]); with
/// `engine_files`, with `engine.bin` and the text index.
pub fn build_fixture_snapshot(out: &Path, communes: bool, engine_files: bool) {
    let writer: &dyn ror_search::snapshot::IndexFiles = &ror_search::engine::persist::write_index_files;
    ror_search::snapshot::build::build_snapshot(ror_search::snapshot::build::BuildOptions {
        inputs: vec![repo_path(FIXTURE_FEED)],
        communes: communes.then(|| communes_subset(out)),
        out: out.to_owned(),
        force: true,
        built_at: BUILT_AT,
        index_files: engine_files.then_some(writer),
        progress_bar: false,
    })
    .expect("the fixture snapshot builds");
}
