//! The ROR feed ingest: FHIR R4 JSON files → a linked [`Dataset`] and an [`IngestReport`].
//!
//! Pipeline: `source` turns files into items of resource JSON text (streaming NDJSON, splitting
//! bundles and arrays) on a reader thread; [`fhir::read`] parses items in parallel (rayon) into
//! model parts; `resolve` follows the references and links the dataset. Every record read is
//! accounted for in the report.
//!
//! Dependencies run one way: `source` knows nothing of FHIR, [`fhir::read`] nothing of files,
//! and `resolve` uses both. Each stage has its typed reject reasons (`source::SourceError`,
//! [`fhir::read::ReadError`], `resolve::RecordError`, `resolve::LinkError`); their `Display`
//! is the reason written to the report and `rejects.ndjson`. This module owns the pipeline
//! (files → batches → parser threads → resolver) and [`IngestError`], why an ingest cannot run.

pub mod communes;
pub mod fhir;
pub mod opendata;
pub(crate) mod report;
pub(crate) mod resolve;
pub(crate) mod source;
pub mod synth;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rayon::prelude::*;

use crate::model::Dataset;
pub use report::{IngestReport, Issue, TypeCounts};
use resolve::{Processed, Resolver, process_item};
pub use source::SourceFile;

/// Why an ingest could not run at all (as opposed to records it rejected).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The communes CSV was refused.
    #[error("cannot read {path}: {source}")]
    Communes {
        /// The communes file.
        path: PathBuf,
        /// Why it was refused.
        source: communes::CommunesError,
    },
    /// The inputs hold no feed file (the inputs given).
    #[error("no input files found in {0:?} (expected .json, .ndjson, .jsonl, optionally .gz)")]
    NoInputs(Vec<PathBuf>),
}

/// What an ingest produced.
#[derive(Debug)]
pub struct IngestOutput {
    /// The linked dataset.
    pub dataset: Dataset,
    /// The accounting of every record read.
    pub report: IngestReport,
    /// The input files read, with size and SHA-256.
    pub sources: Vec<SourceFile>,
}

/// Progress of an ingest, reported after each batch.
#[derive(Debug, Clone, Copy)]
pub struct IngestProgress {
    /// Records read so far.
    pub records: u64,
    /// Input bytes (on disk) of the files finished so far.
    pub bytes_done: u64,
    /// Input bytes (on disk) of all the files.
    pub bytes_total: u64,
    /// Files finished so far.
    pub files_done: usize,
    /// Files to read.
    pub files_total: usize,
}

/// Items per batch handed to the parser threads.
pub(crate) const BATCH_SIZE: usize = 2048;

/// Reads the inputs (files or directories) into a dataset.
pub fn ingest(inputs: &[PathBuf], progress: &mut dyn FnMut(IngestProgress)) -> Result<IngestOutput, IngestError> {
    let files = source::list_files(inputs)?;
    if files.is_empty() {
        return Err(IngestError::NoInputs(inputs.to_vec()));
    }
    let sizes: Vec<u64> = files.iter().map(|file| std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)).collect();
    let bytes_total = sizes.iter().sum();
    let mut resolver = Resolver::new();
    let mut sources = Vec::with_capacity(files.len());
    let mut records = 0u64;
    let mut bytes_done = 0u64;
    for (index, file) in files.iter().enumerate() {
        let source = ingest_file(file, &mut resolver, &mut |count| {
            records += count;
            progress(IngestProgress { records, bytes_done, bytes_total, files_done: index, files_total: files.len() });
        })?;
        bytes_done += sizes[index];
        progress(IngestProgress { records, bytes_done, bytes_total, files_done: index + 1, files_total: files.len() });
        tracing::debug!(file = %source.path, format = %source.format, size_bytes = source.size_bytes, "read input file");
        sources.push(source);
    }
    let (dataset, report) = resolver.finish();
    Ok(IngestOutput { dataset, report, sources })
}

/// Reads one file as a three-stage pipeline: a reader thread splits it into items, a parser
/// thread parses each batch in parallel (rayon), and this thread links the records, so that
/// reading, parsing and linking overlap.
fn ingest_file(
    path: &Path,
    resolver: &mut Resolver,
    on_records: &mut dyn FnMut(u64),
) -> Result<SourceFile, IngestError> {
    let (item_sender, item_receiver) = mpsc::sync_channel::<Vec<source::SourceItem>>(4);
    let (record_sender, record_receiver) = mpsc::sync_channel::<Vec<Vec<Processed>>>(4);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            source::read_file(path, BATCH_SIZE, &mut |batch| {
                // The receiver only hangs up when another stage panicked.
                let _ = item_sender.send(batch);
            })
        });
        let parser = scope.spawn(move || {
            for batch in item_receiver {
                let processed: Vec<Vec<Processed>> = batch
                    .into_par_iter()
                    .map(|item| {
                        let mut out = Vec::with_capacity(1);
                        process_item(item, &mut out);
                        out
                    })
                    .collect();
                if record_sender.send(processed).is_err() {
                    break;
                }
            }
        });
        for processed in record_receiver {
            let mut count = 0;
            for record in processed.into_iter().flatten() {
                count += 1;
                resolver.add(record);
            }
            on_records(count);
        }
        parser.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Reads JSON text given in memory (tests, tools); `name` stands for the file name in origins.
pub fn ingest_str(name: &str, text: &str) -> (Dataset, IngestReport) {
    let mut resolver = Resolver::new();
    let origin = source::Origin { file: name.into(), path: Vec::new() };
    let mut items = Vec::new();
    let is_ndjson = name.ends_with(".ndjson") || name.ends_with(".jsonl");
    if is_ndjson {
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            items.push(source::SourceItem {
                origin: origin.child(source::Position::Line(index as u64 + 1)),
                full_url: None,
                body: Ok(line.to_owned()),
            });
        }
    } else {
        source::split_document(text, &origin, &mut items);
    }
    for item in items {
        let mut out = Vec::new();
        process_item(item, &mut out);
        for record in out {
            resolver.add(record);
        }
    }
    resolver.finish()
}
