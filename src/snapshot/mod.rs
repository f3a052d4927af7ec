//! Immutable, versioned snapshots on disk.
//!
//! A snapshot is a directory:
//!
//! | file | content |
//! |---|---|
//! | `MANIFEST.json` | format version, id, build time, sources (size + SHA-256), counts, ingest accounting, quality summary |
//! | `data.bin` | the dataset and the communes table ([`mod@format`]: magic, version, postcard, CRC-32) |
//! | `engine.bin` | the engine's doc-id layout and columns (`engine::persist`) |
//! | `text/` | the full-text index (tantivy) over the offers |
//! | `rejects.ndjson` | every rejected record with where and why, then every warning |
//! | `CHECKSUMS` | SHA-256 of every other file, in `sha256sum -c` format |
//!
//! [`build`] writes it into a temporary sibling directory, fsyncs, then renames it into place, so
//! a crash leaves no half snapshot. [`load`] verifies `CHECKSUMS`, the manifest and the data
//! file before anything is used, and names the file at fault when it refuses.

pub mod build;
pub mod format;
pub(crate) mod quality;

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ingest::{IngestReport, Issue, SourceFile, TypeCounts};
use crate::util::time::{UnixSeconds, format_rfc3339};
pub use format::{FORMAT_VERSION, SnapshotData};
pub use quality::QualitySummary;

/// Name of the manifest file.
pub const MANIFEST_FILE: &str = "MANIFEST.json";
/// Name of the data file.
pub const DATA_FILE: &str = "data.bin";
/// Name of the checksums file.
pub const CHECKSUMS_FILE: &str = "CHECKSUMS";
/// Name of the rejects report.
pub(crate) const REJECTS_FILE: &str = "rejects.ndjson";
/// Name of the text index directory.
pub(crate) const TEXT_DIR: &str = "text";

/// Counts of what a snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub(crate) ejs: u64,
    pub(crate) egs: u64,
    /// Offers.
    pub offers: u64,
    pub(crate) locations: u64,
    /// Capacity records, over all locations.
    pub capacity_records: u64,
    pub(crate) tariffs: u64,
    pub(crate) communes: u64,
}

/// The ingest accounting, as stored in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestSummary {
    /// Read / accepted / ignored / rejected records, all resource types together.
    pub totals: TypeCounts,
    pub(crate) by_type: BTreeMap<String, TypeCounts>,
    pub(crate) warnings: u64,
    /// Rejects grouped by resource type and reason head, largest first (at most 30).
    pub(crate) reject_reasons: Vec<(String, u64)>,
}

/// The manifest of a snapshot (`MANIFEST.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub(crate) format_version: u32,
    /// `<build time>-<first 12 hex digits of the data SHA-256>`.
    pub snapshot_id: String,
    /// RFC 3339 build time (UTC).
    pub built_at: String,
    pub(crate) built_at_unix: UnixSeconds,
    /// `ror-search <version>`.
    pub(crate) builder: String,
    /// The feed files read (size and SHA-256).
    pub sources: Vec<SourceFile>,
    /// What the snapshot holds.
    pub counts: Counts,
    /// The ingest accounting.
    pub ingest: IngestSummary,
    /// The data-quality checks, as of the build time.
    pub quality: QualitySummary,
    /// Findings by rule of the quality report as of the build time, and their change since
    /// the snapshot this one replaced (`quality.bin` holds the findings' keys). Absent from
    /// snapshots built before the report existed.
    #[serde(default)]
    pub quality_trend: Option<crate::quality::trend::QualityTrend>,
    /// Size in bytes of every file of the snapshot but the manifest and checksums.
    pub(crate) files: BTreeMap<String, u64>,
    /// How `ror-search sync` made it (absent from snapshots built from files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
}

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file of the snapshot is not there.
    #[error("{path}: missing (not a complete snapshot)")]
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// A file of the snapshot is refused (bad checksum, format or content).
    #[error("{path}: {reason}")]
    Corrupt {
        /// The refused file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The output directory exists and replacing it was not asked for.
    #[error("{path} already exists (use --force to replace it)")]
    Exists {
        /// The output directory.
        path: PathBuf,
    },
    /// The engine's files could not be written.
    #[error("engine files in {path}: {source}")]
    Text {
        /// The snapshot directory being built.
        path: PathBuf,
        /// The engine's error.
        source: IndexFilesError,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_owned(), source }
}

/// A loaded, verified snapshot.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) dir: PathBuf,
    /// The verified manifest.
    pub manifest: Manifest,
    /// The dataset and the communes.
    pub data: SnapshotData,
}

/// Writes the engine's derived files (text index, layout and columns) into the snapshot
/// directory being built (see `engine::persist`); given to [`write()`] so this module does not
/// depend on the engine.
pub type IndexWriter<'a> = &'a dyn IndexFiles;

/// What [`IndexWriter`] points at: any `Fn(&SnapshotData, &Path) -> Result<(), E>` whose error
/// converts into a boxed error (a `String`, an error enum) is one.
pub trait IndexFiles: Sync {
    /// Writes the files for `data` into the snapshot directory `dir`.
    fn write_files(&self, data: &SnapshotData, dir: &Path) -> Result<(), IndexFilesError>;
}

impl<F, E> IndexFiles for F
where
    F: Fn(&SnapshotData, &Path) -> Result<(), E> + Sync,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn write_files(&self, data: &SnapshotData, dir: &Path) -> Result<(), IndexFilesError> {
        self(data, dir).map_err(|error| IndexFilesError(error.into()))
    }
}

/// Why the engine's files could not be written (the engine's own error, kept as the source).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct IndexFilesError(Box<dyn std::error::Error + Send + Sync>);

/// Everything [`write()`] needs.
pub struct BuildInput<'a> {
    /// The dataset and the communes to store.
    pub data: &'a SnapshotData,
    /// The ingest accounting of the feed (manifest and `rejects.ndjson`).
    pub report: &'a IngestReport,
    /// The feed files read.
    pub sources: Vec<SourceFile>,
    /// Build time, Unix seconds (manifest and snapshot id).
    pub built_at: UnixSeconds,
    /// Writes the engine's files; `None` writes none.
    pub index_files: Option<IndexWriter<'a>>,
    /// Where the data came from when it was not a build of files (`ror-search sync`).
    pub lineage: Option<Lineage>,
}

/// How a snapshot made by `ror-search sync` came about: a full pull of the upstream, or a
/// delta applied to an earlier snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// `full` or `delta`.
    pub kind: String,
    /// The upstream's FHIR base.
    pub upstream: String,
    /// The upstream's time of the content (RFC 3339): the export's `transactionTime`, or the
    /// server time of the delta.
    pub as_of: String,
    /// For a delta: the snapshot it was applied to.
    pub base_snapshot: Option<String>,
    /// For a delta: the `_lastUpdated` bound asked (RFC 3339).
    pub since: Option<String>,
    /// Figures of the pull (resources changed, EGs read again, offers added...).
    pub figures: BTreeMap<String, u64>,
}

/// Writes a snapshot directory at `out`, atomically: everything goes to a temporary sibling
/// directory first, is fsynced, and is renamed into place. With `force`, an existing `out` is
/// replaced (the old one is removed after the rename).
pub fn write(out: &Path, input: BuildInput<'_>, force: bool) -> Result<Manifest, SnapshotError> {
    if out.exists() && !force {
        return Err(SnapshotError::Exists { path: out.to_owned() });
    }
    let parent = out.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(parent))?;
    let name = out.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_else(|| "snapshot".into());
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let temporary = parent.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let previous = previous_quality(out);
    let result = write_into(&temporary, input, previous);
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(error) => {
            let _ = fs::remove_dir_all(&temporary);
            return Err(error);
        }
    };
    if out.exists() {
        let trash = parent.join(format!(".{name}.old-{}-{nanos}", std::process::id()));
        fs::rename(out, &trash).map_err(io_error(out))?;
        fs::rename(&temporary, out).map_err(io_error(out))?;
        let _ = fs::remove_dir_all(&trash);
    } else {
        fs::rename(&temporary, out).map_err(io_error(out))?;
    }
    if let Ok(directory) = File::open(parent) {
        let _ = directory.sync_all();
    }
    Ok(manifest)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let mut file = File::create(path).map_err(io_error(path))?;
    file.write_all(bytes).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// The quality keys of the snapshot at `out` that a build replaces, with its id and build
/// time (none when there is none, or it has no readable `quality.bin`).
fn previous_quality(out: &Path) -> Option<(String, String, Vec<crate::quality::trend::FindingKey>)> {
    let manifest = read_manifest(out).ok()?;
    let bytes = fs::read(out.join(crate::quality::trend::FILE)).ok()?;
    let keys = crate::quality::trend::decode(&bytes).ok()?;
    Some((manifest.snapshot_id, manifest.built_at, keys))
}

fn write_into(
    dir: &Path,
    input: BuildInput<'_>,
    previous: Option<(String, String, Vec<crate::quality::trend::FindingKey>)>,
) -> Result<Manifest, SnapshotError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let BuildInput { data, report, sources, built_at, index_files, lineage } = input;

    // The engine files (the text index is the slowest part) and the quality findings are made
    // on their own threads while the data file is encoded, hashed and written.
    let remarks: Vec<crate::quality::IngestRemark> = report
        .warnings
        .iter()
        .map(|issue| crate::quality::IngestRemark {
            resource_type: issue.resource_type.clone(),
            id: issue.id.clone(),
            reason: issue.reason.clone(),
        })
        .collect();
    type Quality = (Vec<crate::quality::trend::FindingKey>, QualitySummary);
    let (data_sha, text_result, (quality_keys, quality_summary)) =
        std::thread::scope(|scope| -> Result<(String, Result<(), SnapshotError>, Quality), SnapshotError> {
            let quality_thread = scope.spawn(|| {
                let keys = crate::quality::trend::finding_keys(&data.dataset, &data.communes, &remarks, built_at);
                (keys, QualitySummary::of_dataset(&data.dataset, built_at))
            });
            let text_thread = index_files.map(|index_files| {
                scope.spawn(move || {
                    let started = std::time::Instant::now();
                    index_files
                        .write_files(data, dir)
                        .map_err(|source| SnapshotError::Text { path: dir.to_owned(), source })?;
                    tracing::info!(seconds = started.elapsed().as_secs_f64(), "engine files written");
                    Ok(())
                })
            });
            let started = std::time::Instant::now();
            let data_bytes = format::encode(data)
                .map_err(|error| SnapshotError::Corrupt { path: dir.join(DATA_FILE), reason: error.to_string() })?;
            let data_sha = hex::encode(Sha256::digest(&data_bytes));
            write_file(&dir.join(DATA_FILE), &data_bytes)?;
            tracing::info!(bytes = data_bytes.len(), seconds = started.elapsed().as_secs_f64(), "data file written");
            let text_result = match text_thread {
                Some(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                None => Ok(()),
            };
            let quality = quality_thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            Ok((data_sha, text_result, quality))
        })?;
    text_result?;

    let rejects_path = dir.join(REJECTS_FILE);
    {
        let file = File::create(&rejects_path).map_err(io_error(&rejects_path))?;
        let mut writer = BufWriter::new(file);
        let write_issue = |writer: &mut BufWriter<File>, kind: &str, issue: &Issue| -> std::io::Result<()> {
            let line = serde_json::json!({
                "kind": kind,
                "origin": issue.origin,
                "resource_type": issue.resource_type,
                "id": issue.id,
                "reason": issue.reason,
            });
            serde_json::to_writer(&mut *writer, &line)?;
            writer.write_all(b"\n")
        };
        for issue in &report.rejects {
            write_issue(&mut writer, "rejected", issue).map_err(io_error(&rejects_path))?;
        }
        for issue in &report.warnings {
            write_issue(&mut writer, "warning", issue).map_err(io_error(&rejects_path))?;
        }
        let file = writer
            .into_inner()
            .map_err(|error| SnapshotError::Io { path: rejects_path.clone(), source: error.into_error() })?;
        file.sync_all().map_err(io_error(&rejects_path))?;
    }

    let dataset = &data.dataset;
    let counts = Counts {
        ejs: dataset.ejs.len() as u64,
        egs: dataset.egs.len() as u64,
        offers: dataset.offers.len() as u64,
        locations: dataset.locations.len() as u64,
        capacity_records: dataset.locations.iter().map(|location| location.capacities.len() as u64).sum(),
        tariffs: dataset.egs.iter().map(|eg| eg.tariffs.len() as u64).sum(),
        communes: data.communes.len() as u64,
    };
    write_file(&dir.join(crate::quality::trend::FILE), &crate::quality::trend::encode(&quality_keys))?;
    let quality_trend = crate::quality::trend::trend(
        &quality_keys,
        previous.as_ref().map(|(id, built_at, keys)| (id.clone(), built_at.clone(), keys.as_slice())),
    );
    let mut files = BTreeMap::new();
    for relative in list_relative_files(dir)? {
        let size = fs::metadata(dir.join(&relative)).map_err(io_error(&dir.join(&relative)))?.len();
        files.insert(relative, size);
    }
    let compact_time: String = format_rfc3339(built_at).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        snapshot_id: format!("{compact_time}-{}", &data_sha[..12]),
        built_at: format_rfc3339(built_at),
        built_at_unix: built_at,
        builder: format!("ror-search {}", env!("CARGO_PKG_VERSION")),
        sources,
        counts,
        ingest: IngestSummary {
            totals: report.totals,
            by_type: report.by_type.clone(),
            warnings: report.warnings.len() as u64 + report.warnings_dropped,
            reject_reasons: report.reject_summary().into_iter().take(30).collect(),
        },
        quality: quality_summary,
        quality_trend: Some(quality_trend),
        files,
        lineage,
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)
        .map_err(|error| SnapshotError::Corrupt { path: dir.join(MANIFEST_FILE), reason: error.to_string() })?;
    write_file(&dir.join(MANIFEST_FILE), &manifest_bytes)?;

    // Every file hashed in parallel; `data.bin` was hashed as it was written.
    let relatives: Vec<String> =
        list_relative_files(dir)?.into_iter().filter(|relative| relative != CHECKSUMS_FILE).collect();
    let shas = relatives
        .par_iter()
        .map(|relative| match relative == DATA_FILE {
            true => Ok(data_sha.clone()),
            false => sha256_file(&dir.join(relative)),
        })
        .collect::<Result<Vec<String>, SnapshotError>>()?;
    let mut checksums = String::new();
    for (relative, sha) in relatives.iter().zip(&shas) {
        checksums.push_str(&format!("{sha}  {relative}\n"));
    }
    write_file(&dir.join(CHECKSUMS_FILE), checksums.as_bytes())?;
    if let Ok(directory) = File::open(dir) {
        let _ = directory.sync_all();
    }
    Ok(manifest)
}

/// Every file under `dir`, as `/`-separated relative paths, sorted.
fn list_relative_files(dir: &Path) -> Result<Vec<String>, SnapshotError> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).map_err(io_error(&current))? {
            let entry = entry.map_err(io_error(&current))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap_or(&path);
                let relative =
                    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                files.push(relative);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn sha256_file(path: &Path) -> Result<String, SnapshotError> {
    let bytes = fs::read(path).map_err(io_error(path))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// Whether a `CHECKSUMS` entry names a file inside the snapshot directory: a relative path of
/// plain components, as [`list_relative_files`] writes them. An absolute path (`/dev/zero`) would
/// make [`load`] read any file of the machine, and `..` climb out of the directory.
/// Whether `name` may name a snapshot directory of an index: letters, digits, `-`, `_`, `.`,
/// not starting with `.` (no path, no hidden or temporary directory).
pub(crate) fn is_snapshot_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The entries of a `CHECKSUMS` text, `(SHA-256 hex, relative path)` in order, each checked:
/// the `sha256sum` format, a path inside the snapshot, no path listed twice. The error says
/// which line and why.
pub(crate) fn checksum_entries(text: &str) -> Result<Vec<(&str, &str)>, String> {
    let mut entries: Vec<(&str, &str)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let (sha, relative) =
            line.split_once("  ").ok_or_else(|| format!("line {}: expected '<sha256>  <file>'", index + 1))?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) || !is_inside_snapshot(relative) {
            return Err(format!("line {}: malformed entry", index + 1));
        }
        if entries.iter().any(|(_, earlier)| *earlier == relative) {
            return Err(format!("line {}: lists {relative:?} a second time", index + 1));
        }
        entries.push((sha, relative));
    }
    Ok(entries)
}

pub(crate) fn is_inside_snapshot(relative: &str) -> bool {
    !relative.is_empty()
        && !relative.contains("..")
        && Path::new(relative).components().all(|component| matches!(component, std::path::Component::Normal(_)))
}

/// Reads a file of a snapshot, refusing anything but a regular file (a device such as
/// `/dev/zero` never ends, a FIFO blocks): the error is `InvalidInput`.
fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    if !fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"));
    }
    fs::read(path)
}

/// Verifies every file listed in `CHECKSUMS` (and that no listed file is missing); `data_bytes`
/// are the bytes of `data.bin` when the caller already read them.
fn verify_checksums(dir: &Path, data_bytes: Option<&[u8]>) -> Result<(), SnapshotError> {
    let checksums_path = dir.join(CHECKSUMS_FILE);
    let text = match read_regular_file(&checksums_path).and_then(|bytes| {
        String::from_utf8(bytes).map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(SnapshotError::Missing { path: checksums_path });
        }
        Err(error) => {
            return Err(SnapshotError::Corrupt { path: checksums_path, reason: format!("unreadable: {error}") });
        }
    };
    let entries =
        checksum_entries(&text).map_err(|reason| SnapshotError::Corrupt { path: checksums_path.clone(), reason })?;
    let mut listed = Vec::with_capacity(entries.len());
    for (sha, relative) in entries {
        let path = dir.join(relative);
        let read = match data_bytes {
            Some(bytes) if relative == DATA_FILE => Ok(std::borrow::Cow::Borrowed(bytes)),
            _ => read_regular_file(&path).map(std::borrow::Cow::Owned),
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(SnapshotError::Corrupt {
                    path: checksums_path.clone(),
                    reason: format!(
                        "lists {relative:?}, which is missing (incomplete snapshot or altered {CHECKSUMS_FILE})"
                    ),
                });
            }
            Err(error) => {
                return Err(SnapshotError::Io { path, source: error });
            }
        };
        let computed = hex::encode(Sha256::digest(&bytes));
        if computed != sha {
            return Err(SnapshotError::Corrupt {
                path,
                reason: format!(
                    "SHA-256 {computed} does not match {sha} in {CHECKSUMS_FILE} (file altered or truncated)"
                ),
            });
        }
        listed.push(relative.to_owned());
    }
    for required in [MANIFEST_FILE, DATA_FILE] {
        if !listed.iter().any(|relative| relative == required) {
            return Err(SnapshotError::Corrupt {
                path: checksums_path.clone(),
                reason: format!("does not list {required}"),
            });
        }
    }
    Ok(())
}

/// Reads and verifies the manifest only (no checksum of the data): for `inspect` and listings.
pub fn read_manifest(dir: &Path) -> Result<Manifest, SnapshotError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match read_regular_file(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(SnapshotError::Missing { path });
        }
        Err(error) => {
            return Err(SnapshotError::Io { path, source: error });
        }
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|error| SnapshotError::Corrupt {
        path: path.clone(),
        reason: format!("not a valid manifest: {error}"),
    })?;
    if manifest.format_version != FORMAT_VERSION {
        return Err(SnapshotError::Corrupt {
            path,
            reason: format!(
                "format version {} is not supported (this build reads {FORMAT_VERSION})",
                manifest.format_version
            ),
        });
    }
    Ok(manifest)
}

/// Loads a snapshot: checks every checksum, the manifest, then the data file's magic, version
/// and CRC, and decodes. Any failure names the file at fault.
pub fn load(dir: &Path) -> Result<Snapshot, SnapshotError> {
    if !dir.is_dir() {
        return Err(SnapshotError::Missing { path: dir.to_owned() });
    }
    let started = std::time::Instant::now();
    let manifest = read_manifest(dir)?;
    let data_path = dir.join(DATA_FILE);
    let data_bytes = read_regular_file(&data_path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => SnapshotError::Corrupt {
            path: dir.join(CHECKSUMS_FILE),
            reason: format!("lists \"{DATA_FILE}\", which is missing (incomplete snapshot)"),
        },
        _ => SnapshotError::Io { path: data_path.clone(), source: error },
    })?;
    // Check every SHA-256 while the data decodes (decoding refuses a bad CRC first, and
    // nothing decoded is used unless every checksum matched).
    let (verified, decoded) = rayon::join(
        || verify_checksums(dir, Some(&data_bytes)),
        || {
            format::decode(&data_bytes)
                .map_err(|error| SnapshotError::Corrupt { path: data_path.clone(), reason: error.to_string() })
        },
    );
    verified?;
    let data = decoded?;
    tracing::debug!(seconds = started.elapsed().as_secs_f64(), "snapshot verified and decoded");
    if data.dataset.offers.len() as u64 != manifest.counts.offers
        || data.dataset.egs.len() as u64 != manifest.counts.egs
    {
        return Err(SnapshotError::Corrupt {
            path: data_path,
            reason: "counts do not match the manifest (files from different snapshots?)".into(),
        });
    }
    Ok(Snapshot { dir: dir.to_owned(), manifest, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot of no data, written as `build` writes one.
    fn empty_snapshot() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("snapshot");
        let report = IngestReport::default();
        let input = BuildInput {
            data: &SnapshotData::default(),
            report: &report,
            sources: Vec::new(),
            built_at: 0,
            index_files: None,
            lineage: None,
        };
        write(&dir, input, false).unwrap();
        load(&dir).unwrap();
        (root, dir)
    }

    fn refusal(dir: &Path) -> String {
        load(dir).expect_err("the snapshot must be refused").to_string()
    }

    /// Seen while writing `fuzz/snapshot_load` and confirmed through it (its `CHECKSUMS` case,
    /// this input, which `cargo fuzz tmin` could not shorten): a `CHECKSUMS` that lists
    /// `/dev/zero` made `load` read it until memory ran out (libFuzzer: out-of-memory,
    /// malloc(4294967296)); any absolute path was read and hashed.
    #[test]
    fn checksums_naming_a_file_outside_the_snapshot_are_refused() {
        let (_root, dir) = empty_snapshot();
        let minimised = format!("{}  /dev/zero\n", "0".repeat(64));
        fs::write(dir.join(CHECKSUMS_FILE), minimised).unwrap();
        assert!(refusal(&dir).ends_with("CHECKSUMS: line 1: malformed entry"), "{}", refusal(&dir));

        let listed = fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap();
        let hostname = hex::encode(Sha256::digest(fs::read("/etc/hostname").unwrap_or_default()));
        for outside in [format!("{hostname}  /etc/hostname"), format!("{hostname}  text/../../x")] {
            fs::write(dir.join(CHECKSUMS_FILE), format!("{outside}\n{listed}")).unwrap();
            assert!(refusal(&dir).contains("line 1: malformed entry"), "{outside}: {}", refusal(&dir));
        }
    }

    #[test]
    fn checksums_listing_a_file_twice_are_refused() {
        let (_root, dir) = empty_snapshot();
        let listed = fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap();
        let first = listed.lines().next().unwrap();
        fs::write(dir.join(CHECKSUMS_FILE), format!("{listed}{first}\n")).unwrap();
        let count = listed.lines().count() + 1;
        assert!(refusal(&dir).contains(&format!("line {count}: lists")), "{}", refusal(&dir));
    }

    #[cfg(unix)]
    #[test]
    fn a_snapshot_file_that_is_not_a_regular_file_is_refused() {
        let (_root, dir) = empty_snapshot();
        let listed = fs::read_to_string(dir.join(CHECKSUMS_FILE)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        fs::write(dir.join(CHECKSUMS_FILE), format!("{}  zero\n{listed}", "0".repeat(64))).unwrap();
        assert!(refusal(&dir).ends_with("zero: not a regular file"), "{}", refusal(&dir));
        fs::remove_file(dir.join(DATA_FILE)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join(DATA_FILE)).unwrap();
        assert!(refusal(&dir).ends_with("data.bin: not a regular file"), "{}", refusal(&dir));
    }
}
