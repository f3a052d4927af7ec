//! Input files → items of resource JSON text, each with where it came from.
//!
//! Accepted shapes: a FHIR `Bundle` of any type, a bare resource, a JSON array of resources (or
//! bundles), NDJSON (one resource or bundle a line, as `$export` writes), any of these gzipped
//! (detected by magic number), and directories of such files (walked recursively, in name
//! order). NDJSON is streamed line by line; a JSON document is read whole (one file at a time)
//! and its entries are handed out one by one, so memory is bounded by the largest single file,
//! never by the whole feed.
//!
//! Where no resource text can be taken, the item carries a [`SourceError`] instead (an entry
//! without a resource is [`SourceError::EmptyEntry`], counted apart by the resolver). This
//! module depends on no other ingest stage.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::IngestError;

/// Where in the feed a record was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The input file, as given or found in a directory.
    pub(crate) file: Arc<str>,
    /// Position inside the file, outermost first (`line 12`, then `entry 3` of the bundle on it).
    pub(crate) path: Vec<Position>,
}

/// A step of an [`Origin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Position {
    /// 1-based line of an NDJSON file.
    Line(u64),
    /// 0-based index in `Bundle.entry`.
    Entry(u64),
    /// 0-based index in a top-level JSON array.
    Element(u64),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        for position in &self.path {
            match position {
                Position::Line(line) => write!(f, ":{line}")?,
                Position::Entry(entry) => write!(f, " entry {entry}")?,
                Position::Element(element) => write!(f, " element {element}")?,
            }
        }
        Ok(())
    }
}

impl Origin {
    /// The origin one step deeper.
    pub(crate) fn child(&self, position: Position) -> Origin {
        let mut path = self.path.clone();
        path.push(position);
        Origin { file: self.file.clone(), path }
    }
}

/// One resource's JSON text, or why none could be read at that place.
#[derive(Debug, Clone)]
pub(crate) struct SourceItem {
    pub(crate) origin: Origin,
    /// `Bundle.entry.fullUrl`, when the item came from a bundle.
    pub(crate) full_url: Option<String>,
    pub(crate) body: Result<String, SourceError>,
}

/// Why no resource text could be taken at a place of a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SourceError {
    /// A `Bundle.entry` with no `resource` (a transaction entry with only a request): not a
    /// record, only counted.
    #[error("Bundle.entry has no resource")]
    EmptyEntry,
    #[error("line is not valid UTF-8: {0}")]
    LineNotUtf8(std::str::Utf8Error),
    #[error("file is not valid UTF-8: {0}")]
    FileNotUtf8(std::str::Utf8Error),
    /// The `serde_json` message, with its line and column.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("not a JSON object or array (starts with {0:?})")]
    NotObjectOrArray(char),
    #[error("Bundle.entry is not an entry object: {0}")]
    EntryNotObject(String),
}

/// What was read of one input file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    pub(crate) path: String,
    /// Size on disk, in bytes.
    pub(crate) size_bytes: u64,
    /// SHA-256 of the file as stored (compressed if gzipped), hex.
    pub sha256: String,
    /// Whether the file is gzipped.
    pub gzip: bool,
    /// `ndjson`, `bundle`, `resource`, `array` or `empty`.
    pub format: String,
}

/// Lists the files of the inputs: files as given, directories walked recursively (sorted,
/// hidden files skipped) keeping `.json`, `.ndjson`, `.jsonl` and their `.gz`.
pub(crate) fn list_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, IngestError> {
    let mut files = Vec::new();
    for input in inputs {
        let metadata = std::fs::metadata(input).map_err(|source| IngestError::Io { path: input.clone(), source })?;
        if metadata.is_dir() {
            walk(input, &mut files)?;
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn walk(directory: &Path, files: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let io_error = |source| IngestError::Io { path: directory.to_owned(), source };
    let mut entries: Vec<_> =
        std::fs::read_dir(directory).map_err(io_error)?.collect::<Result<Vec<_>, _>>().map_err(io_error)?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if is_feed_file_name(&name) {
            files.push(path);
        }
    }
    Ok(())
}

fn is_feed_file_name(name: &str) -> bool {
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.ends_with(".json") || name.ends_with(".ndjson") || name.ends_with(".jsonl")
}

/// Reads one file and hands its items to `on_batch`, in order, in batches of at most
/// `batch_size` items.
pub(crate) fn read_file(
    path: &Path,
    batch_size: usize,
    on_batch: &mut dyn FnMut(Vec<SourceItem>),
) -> Result<SourceFile, IngestError> {
    let io_error = |source| IngestError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_error)?;
    let size_bytes = file.metadata().map_err(io_error)?.len();
    let mut hashing = HashingReader { inner: BufReader::with_capacity(1 << 20, file), hasher: Sha256::new() };
    let gzip = hashing.fill_buf().map_err(io_error)?.starts_with(&[0x1f, 0x8b]);
    let display: Arc<str> = Arc::from(path.display().to_string());
    let base = Origin { file: display.clone(), path: Vec::new() };
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let declared_ndjson = name.ends_with(".ndjson") || name.ends_with(".jsonl");

    let format;
    {
        let mut reader: Box<dyn BufRead + '_> = if gzip {
            Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(&mut hashing)))
        } else {
            Box::new(&mut hashing)
        };
        if declared_ndjson {
            read_ndjson(&mut *reader, &base, batch_size, on_batch).map_err(io_error)?;
            format = "ndjson";
        } else {
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).map_err(io_error)?;
            format = read_document_bytes(bytes, &base, batch_size, on_batch);
        }
        // Drain what the decoder did not need, so the checksum covers the whole file.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    }
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(io_error)?;
    Ok(SourceFile {
        path: display.to_string(),
        size_bytes,
        sha256: hex::encode(hashing.hasher.finalize()),
        gzip,
        format: format.to_owned(),
    })
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: BufRead> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        Ok(read)
    }
}

impl<R: BufRead> BufRead for HashingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(buffer) = self.inner.fill_buf() {
            self.hasher.update(&buffer[..amount.min(buffer.len())]);
        }
        self.inner.consume(amount);
    }
}

fn read_ndjson(
    reader: &mut dyn BufRead,
    base: &Origin,
    batch_size: usize,
    on_batch: &mut dyn FnMut(Vec<SourceItem>),
) -> std::io::Result<()> {
    let mut batch = Vec::with_capacity(batch_size);
    let mut line = Vec::new();
    let mut line_number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        line_number += 1;
        let text = trim_ascii(&line);
        if text.is_empty() {
            continue;
        }
        let body = match std::str::from_utf8(text) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(SourceError::LineNotUtf8(error)),
        };
        batch.push(SourceItem { origin: base.child(Position::Line(line_number)), full_url: None, body });
        if batch.len() >= batch_size {
            on_batch(std::mem::replace(&mut batch, Vec::with_capacity(batch_size)));
        }
    }
    if !batch.is_empty() {
        on_batch(batch);
    }
    Ok(())
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|byte| !byte.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|byte| !byte.is_ascii_whitespace()).map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// Reads a whole JSON document (or, when it turns out to be one, NDJSON without the extension).
fn read_document_bytes(
    bytes: Vec<u8>,
    base: &Origin,
    batch_size: usize,
    on_batch: &mut dyn FnMut(Vec<SourceItem>),
) -> &'static str {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            on_batch(vec![SourceItem {
                origin: base.clone(),
                full_url: None,
                body: Err(SourceError::FileNotUtf8(error.utf8_error())),
            }]);
            return "unreadable";
        }
    };
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.is_empty() {
        return "empty";
    }
    if looks_like_ndjson(trimmed) {
        let mut cursor = std::io::Cursor::new(trimmed.as_bytes());
        // Reading from memory cannot fail.
        let _ = read_ndjson(&mut cursor, base, batch_size, on_batch);
        return "ndjson";
    }
    let mut items = Vec::new();
    let format = split_document(trimmed, base, &mut items);
    for chunk in items.chunks(batch_size.max(1)) {
        on_batch(chunk.to_vec());
    }
    format
}

/// True when the first line is a complete JSON value and more follows: NDJSON whatever the
/// file is called.
fn looks_like_ndjson(text: &str) -> bool {
    let Some((first_line, rest)) = text.split_once('\n') else {
        return false;
    };
    !rest.trim().is_empty() && serde_json::from_str::<IgnoredAny>(first_line).is_ok()
}

/// Splits one JSON document (a bundle, an array, or a bare resource) into items.
/// Returns the format name.
pub(crate) fn split_document(text: &str, origin: &Origin, items: &mut Vec<SourceItem>) -> &'static str {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let mut count = 0u64;
        let mut deserializer = serde_json::Deserializer::from_str(trimmed);
        let result = ArraySeed { origin, items, count: &mut count }.deserialize(&mut deserializer);
        if let Err(error) = result.and_then(|()| deserializer.end()) {
            items.push(SourceItem {
                origin: origin.child(Position::Element(count)),
                full_url: None,
                body: Err(SourceError::InvalidJson(error.to_string())),
            });
        }
        return "array";
    }
    if !trimmed.starts_with('{') {
        let first = trimmed.chars().next().unwrap_or(' ');
        items.push(SourceItem {
            origin: origin.clone(),
            full_url: None,
            body: Err(SourceError::NotObjectOrArray(first)),
        });
        return "unreadable";
    }
    let mut count = 0u64;
    let before = items.len();
    let mut deserializer = serde_json::Deserializer::from_str(trimmed);
    let result = DocumentSeed { origin, items, count: &mut count }.deserialize(&mut deserializer);
    match result.and_then(|summary| deserializer.end().map(|()| summary)) {
        Ok(DocumentSummary { resource_type, saw_entries }) => {
            if resource_type.as_deref() == Some("Bundle") || saw_entries {
                "bundle"
            } else {
                items.push(SourceItem { origin: origin.clone(), full_url: None, body: Ok(trimmed.to_owned()) });
                "resource"
            }
        }
        Err(error) => {
            let origin =
                if items.len() > before || count > 0 { origin.child(Position::Entry(count)) } else { origin.clone() };
            items.push(SourceItem { origin, full_url: None, body: Err(SourceError::InvalidJson(error.to_string())) });
            "bundle"
        }
    }
}

struct DocumentSummary {
    resource_type: Option<String>,
    saw_entries: bool,
}

struct DocumentSeed<'a> {
    origin: &'a Origin,
    items: &'a mut Vec<SourceItem>,
    count: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = DocumentSummary;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = DocumentSummary;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a FHIR resource or Bundle")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut resource_type = None;
        let mut saw_entries = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "resourceType" => resource_type = Some(map.next_value::<String>()?),
                "entry" => {
                    saw_entries = true;
                    map.next_value_seed(EntriesSeed { origin: self.origin, items: self.items, count: self.count })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(DocumentSummary { resource_type, saw_entries })
    }
}

struct EntriesSeed<'a> {
    origin: &'a Origin,
    items: &'a mut Vec<SourceItem>,
    count: &'a mut u64,
}

#[derive(Deserialize)]
struct EntryRef<'a> {
    #[serde(rename = "fullUrl", default)]
    full_url: Option<String>,
    #[serde(borrow, default)]
    resource: Option<&'a RawValue>,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("Bundle.entry as an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let index = *self.count;
            let origin = self.origin.child(Position::Entry(index));
            // An entry that is not an object is a data error of that entry, not of the file.
            let entry: Option<&'de RawValue> = seq.next_element()?;
            let Some(entry) = entry else { break };
            *self.count += 1;
            let item = match serde_json::from_str::<EntryRef>(entry.get()) {
                Ok(EntryRef { full_url, resource: Some(resource) }) => {
                    SourceItem { origin, full_url, body: Ok(resource.get().to_owned()) }
                }
                Ok(EntryRef { full_url, resource: None }) => {
                    SourceItem { origin, full_url, body: Err(SourceError::EmptyEntry) }
                }
                Err(error) => {
                    SourceItem { origin, full_url: None, body: Err(SourceError::EntryNotObject(error.to_string())) }
                }
            };
            self.items.push(item);
        }
        Ok(())
    }
}

struct ArraySeed<'a> {
    origin: &'a Origin,
    items: &'a mut Vec<SourceItem>,
    count: &'a mut u64,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON array of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<&'de RawValue>()? {
            let origin = self.origin.child(Position::Element(*self.count));
            *self.count += 1;
            self.items.push(SourceItem { origin, full_url: None, body: Ok(element.get().to_owned()) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin { file: Arc::from("feed.json"), path: Vec::new() }
    }

    #[test]
    fn splits_bundles_arrays_and_resources() {
        let mut items = Vec::new();
        let bundle = r#"{"entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Location","id":"a"}},{"request":{}}],"resourceType":"Bundle","type":"collection"}"#;
        assert_eq!(split_document(bundle, &origin(), &mut items), "bundle");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].full_url.as_deref(), Some("urn:uuid:1"));
        assert_eq!(items[0].origin.to_string(), "feed.json entry 0");
        assert_eq!(items[1].body.as_ref().unwrap_err(), &SourceError::EmptyEntry);
        assert_eq!(items[1].body.as_ref().unwrap_err().to_string(), "Bundle.entry has no resource");

        items.clear();
        assert_eq!(
            split_document(r#"[{"resourceType":"Location"},{"resourceType":"Task"}]"#, &origin(), &mut items),
            "array"
        );
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].origin.to_string(), "feed.json element 1");

        items.clear();
        assert_eq!(split_document(r#"{"resourceType":"Location","id":"x"}"#, &origin(), &mut items), "resource");
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn truncated_bundle_keeps_entries_before_the_cut() {
        let mut items = Vec::new();
        let truncated = r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Location","id":"a"}},{"resource":{"resourceType":"Loc"#;
        split_document(truncated, &origin(), &mut items);
        assert_eq!(items.len(), 2);
        assert!(items[0].body.is_ok());
        assert_eq!(items[1].origin.to_string(), "feed.json entry 1");
        assert!(items[1].body.as_ref().unwrap_err().to_string().contains("EOF while parsing"), "{:?}", items[1].body);
    }
}
