//! The engine's derived files, written with the snapshot so that loading is reading:
//! `engine.bin` (the doc-id layout and the columns, framed like `data.bin`) and `text/` (the
//! tantivy index, in the same doc-id order).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::columns::Columns;
use super::layout::Layout;
use crate::snapshot::SnapshotData;
use crate::snapshot::format::{FormatError, from_framed, to_framed};

/// Name of the engine file in a snapshot directory.
pub(crate) const ENGINE_FILE: &str = "engine.bin";
const MAGIC: &[u8; 8] = b"RORENGN\0";
/// Version of `engine.bin`; bump on any change of [`Layout`] or [`Columns`] (3: capacity totals
/// leave out crisis-typed records that are not statut 06).
pub(crate) const ENGINE_FORMAT_VERSION: u32 = 3;

/// Why the engine's files could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexFilesError {
    /// A file cannot be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// `engine.bin` has a bad frame, version or payload.
    #[error("{}: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The error.
        source: FormatError,
    },
    /// `engine.bin` was written for other data.
    #[error("{}: does not belong to this snapshot's data (counts differ)", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
    },
    /// The text index cannot be written.
    #[error("{0}")]
    Text(#[from] super::text::TextIndexError),
}

#[derive(Serialize, Deserialize)]
struct Persisted {
    offers: u64,
    egs: u64,
    locations: u64,
    layout: Layout,
    columns: Columns,
}

/// Writes `engine.bin` and `text/` for `data` into the snapshot directory `dir`; the layout is
/// computed once for both. This is the `snapshot::IndexWriter` of ror-search.
pub fn write_index_files(data: &SnapshotData, dir: &Path) -> Result<(), IndexFilesError> {
    write_index_files_over(data, dir, None)
}

/// [`write_index_files`], the text index as a delta layer over the base of `previous` when it
/// has one (see [`super::text_layers`]): only the offers whose text or position changed are
/// indexed. What `ror-search sync` writes for a delta.
pub fn write_index_files_over(
    data: &SnapshotData,
    dir: &Path,
    previous: Option<super::text_layers::PreviousText<'_>>,
) -> Result<(), IndexFilesError> {
    let layout = Layout::new(&data.dataset, &data.communes);
    let (engine_file, text) = rayon::join(
        || -> Result<(), IndexFilesError> {
            let columns = Columns::new(data, &layout);
            let persisted = Persisted {
                offers: data.dataset.offers.len() as u64,
                egs: data.dataset.egs.len() as u64,
                locations: data.dataset.locations.len() as u64,
                layout: layout.clone(),
                columns,
            };
            let path = dir.join(ENGINE_FILE);
            let bytes = to_framed(MAGIC, ENGINE_FORMAT_VERSION, &persisted)
                .map_err(|source| IndexFilesError::Format { path: path.clone(), source })?;
            let io_error = |source| IndexFilesError::Io { path: path.clone(), source };
            let mut file = std::fs::File::create(&path).map_err(io_error)?;
            std::io::Write::write_all(&mut file, &bytes).and_then(|()| file.sync_all()).map_err(io_error)
        },
        || -> Result<(), IndexFilesError> {
            let text_dir = dir.join(crate::snapshot::TEXT_DIR);
            std::fs::create_dir_all(&text_dir)
                .map_err(|source| IndexFilesError::Io { path: text_dir.clone(), source })?;
            match previous {
                None => super::text::write_index_with_layout(data, &layout, &text_dir)?,
                Some(previous) => {
                    let started = std::time::Instant::now();
                    let written = super::text_layers::write(data, &layout, &text_dir, previous)?;
                    tracing::info!(?written, seconds = started.elapsed().as_secs_f64(), "text index written");
                }
            }
            Ok(())
        },
    );
    engine_file?;
    text
}

/// Reads `engine.bin` when the snapshot has one and it belongs to `data`.
pub(crate) fn read(dir: &Path, data: &SnapshotData) -> Result<Option<(Layout, Columns)>, IndexFilesError> {
    let path = dir.join(ENGINE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(IndexFilesError::Io { path, source }),
    };
    let persisted: Persisted = from_framed(MAGIC, ENGINE_FORMAT_VERSION, &bytes)
        .map_err(|source| IndexFilesError::Format { path: path.clone(), source })?;
    let dataset = &data.dataset;
    let docs = persisted.layout.offer_of_doc.len();
    if persisted.offers != dataset.offers.len() as u64
        || persisted.egs != dataset.egs.len() as u64
        || persisted.locations != dataset.locations.len() as u64
        || docs != dataset.offers.len()
        || persisted.columns.category.len() != docs
        || persisted.layout.doc_of_offer.len() != docs
    {
        return Err(IndexFilesError::Mismatch { path });
    }
    Ok(Some((persisted.layout, persisted.columns)))
}

/// Whether a snapshot directory has an `engine.bin` of the current version (a cheap check of
/// its header, for tools that rebuild stale snapshots).
pub fn is_current(dir: &Path) -> bool {
    let mut header = [0u8; 12];
    std::fs::File::open(dir.join(ENGINE_FILE))
        .and_then(|mut file| std::io::Read::read_exact(&mut file, &mut header))
        .is_ok_and(|()| &header[..8] == MAGIC && header[8..12] == ENGINE_FORMAT_VERSION.to_le_bytes())
}
