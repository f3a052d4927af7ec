//! Feed files → snapshot directory: ingest, quality checks, atomic write.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{BuildInput, IndexWriter, Manifest, SnapshotData, SnapshotError, write};
use crate::ingest::{IngestError, IngestProgress, IngestReport, communes::read_communes, ingest};
use crate::util::time::UnixSeconds;

/// What to build.
pub struct BuildOptions<'a> {
    /// Feed files or directories.
    pub inputs: Vec<PathBuf>,
    /// Communes CSV (plain or gzipped); `None` builds without a communes table.
    pub communes: Option<PathBuf>,
    /// Snapshot directory to create.
    pub out: PathBuf,
    /// Replace `out` if it exists.
    pub force: bool,
    /// Build time recorded in the manifest and used by the quality checks.
    pub built_at: UnixSeconds,
    /// Writes the engine's files (text index, layout, columns); `None` builds without them.
    pub index_files: Option<IndexWriter<'a>>,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress_bar: bool,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The feed could not be read.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// The snapshot could not be written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

/// The result of a build.
#[derive(Debug)]
pub struct BuildOutcome {
    /// The manifest written.
    pub manifest: Manifest,
    /// The ingest accounting of the feed.
    pub report: IngestReport,
    /// Wall-clock time of the build, seconds.
    pub seconds: f64,
}

/// Builds a snapshot from a feed.
pub fn build_snapshot(options: BuildOptions<'_>) -> Result<BuildOutcome, BuildError> {
    let started = Instant::now();
    let span = tracing::info_span!("build", out = %options.out.display());
    let _guard = span.enter();
    let bar = (options.progress_bar && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading feed [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar
    });
    let mut last_log = Instant::now();
    let output = ingest(&options.inputs, &mut |progress: IngestProgress| {
        if let Some(bar) = &bar {
            bar.set_length(progress.bytes_total);
            bar.set_position(progress.bytes_done);
            bar.set_message(format!(
                "{} records, file {}/{}",
                progress.records, progress.files_done, progress.files_total
            ));
        } else if last_log.elapsed().as_secs() >= 5 || progress.files_done == progress.files_total {
            last_log = Instant::now();
            tracing::info!(
                records = progress.records,
                files_done = progress.files_done,
                files_total = progress.files_total,
                bytes_done = progress.bytes_done,
                bytes_total = progress.bytes_total,
                "reading feed"
            );
        }
    })?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = output.report;
    tracing::info!(
        read = report.totals.read,
        accepted = report.totals.accepted,
        rejected = report.totals.rejected,
        ignored = report.totals.ignored,
        warnings = report.warnings.len(),
        seconds = started.elapsed().as_secs_f64(),
        "feed read"
    );
    let communes = match &options.communes {
        Some(path) => read_communes(path)?,
        None => Vec::new(),
    };
    let data = SnapshotData { dataset: output.dataset, communes };
    let manifest = write(
        &options.out,
        BuildInput {
            data: &data,
            report: &report,
            sources: output.sources,
            built_at: options.built_at,
            index_files: options.index_files,
            lineage: None,
        },
        options.force,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(snapshot_id = %manifest.snapshot_id, offers = manifest.counts.offers, seconds, "snapshot written");
    Ok(BuildOutcome { manifest, report, seconds })
}

/// The snapshot directories under an index directory (those with a manifest), newest build
/// first.
pub(crate) fn list_snapshots(index_dir: &Path) -> Vec<(PathBuf, Manifest)> {
    let Ok(entries) = std::fs::read_dir(index_dir) else {
        return Vec::new();
    };
    let mut snapshots: Vec<(PathBuf, Manifest)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')))
        .filter_map(|path| super::read_manifest(&path).ok().map(|manifest| (path, manifest)))
        .collect();
    snapshots.sort_by(|a, b| b.1.built_at_unix.cmp(&a.1.built_at_unix).then_with(|| b.0.cmp(&a.0)));
    snapshots
}
