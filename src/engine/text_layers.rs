//! A text index in two layers, so that a snapshot made from the previous one plus a delta
//! re-indexes only the offers whose text changed (`ror-search sync`).
//!
//! A full build writes one tantivy segment in doc-id order (`text/`, see [`super::text`]) and
//! `text/docs.bin`: for each of its docs, a hash of its offer id and a hash of what it indexes
//! (its text and its position, which fixes its place in the doc-id order). A layered snapshot
//! keeps that segment as its **base** (its files hard-linked from the previous snapshot, never
//! rewritten) and adds:
//! * `text/delta/`: a small single-segment index of the offers whose text or position changed,
//!   and of the new ones, in doc-id order;
//! * `text/layers.bin`: where each base doc now is (or that it is dead: its offer is gone or
//!   changed), where each delta doc is, and what the dead base docs hold (their tokens per field
//!   and their document frequency per term).
//!
//! Because the doc-id order is by (position, offer id), the base docs still alive keep their
//! relative order, and so do the delta docs: each layer maps to doc ids by an increasing
//! function, and the index reads as one segment in doc-id order ([`LayeredScorer`]). BM25 is
//! computed with the statistics of the alive docs only (the base's, less the dead docs', plus
//! the delta's): the scores are those of a fresh single-segment build of the same data, which
//! the tests check bit for bit.
//!
//! Every layered snapshot is made against the same base (the delta holds every change since
//! it), until the delta outgrows [`MAX_DELTA_FRACTION`] of the base and a full build starts a
//! new base.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tantivy::query::{Bm25StatisticsProvider, Scorer};
use tantivy::schema::Field;
use tantivy::{DocId, DocSet, Index, Score, Searcher, TERMINATED, TantivyDocument, Term};

use super::layout::Layout;
use super::text::{TextIndexError, doc_parts, doc_text, schema};
use crate::snapshot::SnapshotData;
use crate::snapshot::format::{from_framed, to_framed};

/// Per-doc keys of a base segment, in its doc order.
pub(crate) const DOCS_FILE: &str = "docs.bin";
/// The layers of a layered text index.
pub(crate) const LAYERS_FILE: &str = "layers.bin";
/// The delta layer's index, inside `text/`.
pub(crate) const DELTA_DIR: &str = "delta";
const DOCS_MAGIC: &[u8; 8] = b"RORTXDK\0";
const LAYERS_MAGIC: &[u8; 8] = b"RORTXLY\0";
const FORMAT_VERSION: u32 = 2;
/// A base doc that is not in the snapshot any more.
const DEAD: u32 = u32::MAX;
/// Above this fraction of the base's docs in the delta, a full build is cheaper to query and
/// not much dearer to make.
pub(crate) const MAX_DELTA_FRACTION: f64 = 0.25;

/// The keys of a doc: a hash of its offer's FHIR id, and a hash of its text and position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DocKey {
    id: u64,
    content: u64,
}

impl DocKey {
    /// The key of `doc` of `layout`, an offer of id `offer_id` indexing `text`.
    pub(crate) fn new(offer_id: &str, text: &str, layout: &Layout, doc: u32) -> DocKey {
        DocKey::of_parts(offer_id, &[text], layout, doc)
    }

    /// [`DocKey::new`] of the text that `parts` joined by [`super::text::PART_SEPARATOR`] make,
    /// without joining them.
    fn of_parts(offer_id: &str, parts: &[&str], layout: &Layout, doc: u32) -> DocKey {
        let mut content = xxhash_rust::xxh3::Xxh3::new();
        for (index, part) in parts.iter().enumerate() {
            if index > 0 {
                content.update(super::text::PART_SEPARATOR.as_bytes());
            }
            content.update(part.as_bytes());
        }
        match layout.position_of(doc) {
            Some(point) => {
                content.update(&[1]);
                content.update(&point.lat.to_bits().to_le_bytes());
                content.update(&point.lon.to_bits().to_le_bytes());
            }
            None => content.update(&[0]),
        }
        DocKey { id: xxhash_rust::xxh3::xxh3_64(offer_id.as_bytes()), content: content.digest() }
    }
}

/// `docs.bin`: per doc of a base segment, its key and its offer (index in the base's dataset).
#[derive(Debug, Serialize, Deserialize)]
struct BaseDocs {
    keys: Vec<DocKey>,
    offers: Vec<u32>,
}

/// Writes the keys of a base segment, its docs being the offers `offer_of_doc`.
pub(crate) fn write_doc_keys(dir: &Path, keys: Vec<DocKey>, offer_of_doc: &[u32]) -> Result<(), TextIndexError> {
    write_framed(&dir.join(DOCS_FILE), DOCS_MAGIC, &BaseDocs { keys, offers: offer_of_doc.to_vec() })
}

fn write_framed<T: Serialize>(path: &Path, magic: &[u8; 8], value: &T) -> Result<(), TextIndexError> {
    let bytes = to_framed(magic, FORMAT_VERSION, value)
        .map_err(|source| TextIndexError::Format { path: path.to_owned(), source })?;
    let mut file = std::fs::File::create(path).map_err(|error| io_error(path, error))?;
    std::io::Write::write_all(&mut file, &bytes).and_then(|()| file.sync_all()).map_err(|error| io_error(path, error))
}

fn read_framed<T: for<'de> Deserialize<'de>>(path: &Path, magic: &[u8; 8]) -> Result<T, TextIndexError> {
    let bytes = std::fs::read(path).map_err(|error| io_error(path, error))?;
    from_framed(magic, FORMAT_VERSION, &bytes)
        .map_err(|source| TextIndexError::Format { path: path.to_owned(), source })
}

fn io_error(path: &Path, source: std::io::Error) -> TextIndexError {
    TextIndexError::Io { path: path.to_owned(), source }
}

/// What the dead base docs hold, taken out of the base's BM25 statistics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Removed {
    /// Tokens per field (by field id).
    tokens: Vec<(u32, u64)>,
    /// Docs holding each term: (field id, term text, docs).
    doc_freq: Vec<(u32, Vec<u8>, u32)>,
}

/// `layers.bin`.
#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    /// Per base doc: its doc id in this snapshot, or [`DEAD`].
    base_to_doc: Vec<u32>,
    /// Per delta doc: its doc id in this snapshot (increasing).
    delta_to_doc: Vec<u32>,
    /// Per offer (index in this snapshot's dataset): its base doc, or [`DEAD`] (in the delta).
    offer_base: Vec<u32>,
    removed: Removed,
}

/// Signed statistics of a set of docs, to add and take out.
#[derive(Debug, Default)]
struct Statistics {
    tokens: FxHashMap<u32, i64>,
    doc_freq: FxHashMap<(u32, Vec<u8>), i64>,
}

impl Statistics {
    fn of_removed(removed: &Removed) -> Statistics {
        Statistics {
            tokens: removed.tokens.iter().map(|&(field, count)| (field, count as i64)).collect(),
            doc_freq: removed
                .doc_freq
                .iter()
                .map(|(field, term, count)| ((*field, term.clone()), i64::from(*count)))
                .collect(),
        }
    }

    /// Adds (`sign` 1) or takes out (`sign` -1) the statistics of an index of some docs.
    fn add_index(&mut self, index: &Index, sign: i64) -> Result<(), TextIndexError> {
        let searcher = index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into()?.searcher();
        let (_, fields) = schema();
        for segment in searcher.segment_readers() {
            for field in [fields.text, fields.prefix] {
                let inverted = segment.inverted_index(field)?;
                *self.tokens.entry(field.field_id()).or_default() += sign * inverted.total_num_tokens() as i64;
                let mut stream = inverted.terms().stream().map_err(tantivy::TantivyError::from)?;
                while stream.advance() {
                    *self.doc_freq.entry((field.field_id(), stream.key().to_vec())).or_default() +=
                        sign * i64::from(stream.value().doc_freq);
                }
            }
        }
        Ok(())
    }

    fn into_removed(self) -> Result<Removed, TextIndexError> {
        let negative = || TextIndexError::Mismatch("the removed docs' statistics went negative".into());
        let mut tokens: Vec<(u32, u64)> = Vec::new();
        for (field, count) in self.tokens {
            tokens.push((field, u64::try_from(count).map_err(|_| negative())?));
        }
        tokens.sort_unstable();
        let mut doc_freq: Vec<(u32, Vec<u8>, u32)> = Vec::new();
        for ((field, term), count) in self.doc_freq {
            match count {
                0 => {}
                count => doc_freq.push((field, term, u32::try_from(count).map_err(|_| negative())?)),
            }
        }
        doc_freq.sort_unstable();
        Ok(Removed { tokens, doc_freq })
    }
}

/// A single-segment index of `docs` (offer index, text), in their order, built in `directory`.
fn index_docs<D: tantivy::Directory>(directory: D, docs: &[(u32, String)]) -> Result<Index, TextIndexError> {
    let (schema, fields) = schema();
    let mut writer = Index::builder()
        .schema(schema)
        .tokenizers(super::text::caching_tokenizer_manager())
        .single_segment_index_writer::<TantivyDocument>(directory, 500_000_000)?;
    for (offer_index, text) in docs {
        writer.add_document(super::text::document(&fields, text, *offer_index))?;
    }
    Ok(writer.finalize()?)
}

/// The snapshot a layered text index is made against.
#[derive(Debug, Clone, Copy)]
pub struct PreviousText<'a> {
    /// The previous snapshot's directory.
    pub dir: &'a Path,
    /// Its data.
    pub data: &'a SnapshotData,
    /// What the caller knows did not change (a splice knows): per offer of the new data, the
    /// offer of the previous data it is, unchanged, with its EG, EJs and Locations unchanged
    /// and the same communes (so its text and position are the same). Those are not hashed
    /// again; `None` hashes every offer.
    pub carried: Option<&'a [Option<u32>]>,
}

/// What [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// A full build (no usable base, or the delta outgrew it).
    Full,
    /// A delta layer of `delta_docs` over a base of `base_docs`.
    Layered { base_docs: u32, delta_docs: u32 },
}

/// Writes the text index of `data` into `dir` (empty) as a delta over the base of `previous`,
/// or as a full build when that base is missing or too far behind.
///
/// A previous index that cannot be a base (its files unreadable, altered or not matching its
/// data) is reported and a full build made instead: a delta never fails for it.
pub(crate) fn write(
    data: &SnapshotData,
    layout: &Layout,
    dir: &Path,
    previous: PreviousText<'_>,
) -> Result<Written, TextIndexError> {
    match write_layered(data, layout, dir, previous) {
        Ok(Some(written)) => return Ok(written),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, previous = %previous.dir.display(), "the previous text index cannot be a base: a full build instead");
            std::fs::remove_dir_all(dir).map_err(|error| io_error(dir, error))?;
            std::fs::create_dir_all(dir).map_err(|error| io_error(dir, error))?;
        }
    }
    super::text::write_index_with_layout(data, layout, dir)?;
    Ok(Written::Full)
}

/// [`write`] as a delta layer; `None` when a full build is due (no base, or a delta too large).
fn write_layered(
    data: &SnapshotData,
    layout: &Layout,
    dir: &Path,
    previous: PreviousText<'_>,
) -> Result<Option<Written>, TextIndexError> {
    let previous_text = previous.dir.join(crate::snapshot::TEXT_DIR);
    if !previous_text.join(DOCS_FILE).exists() {
        return Ok(None);
    }
    let base: BaseDocs = read_framed(&previous_text.join(DOCS_FILE), DOCS_MAGIC)?;
    let base_keys = &base.keys;
    let previous_layers = match previous_text.join(LAYERS_FILE).exists() {
        true => Some(read_framed::<Persisted>(&previous_text.join(LAYERS_FILE), LAYERS_MAGIC)?),
        false => None,
    };
    let previous_offers = previous.data.dataset.offers.len();
    let mismatch = || TextIndexError::Mismatch(format!("{}: does not match its base or data", previous_text.display()));
    // Per offer of the previous data: its base doc, or DEAD.
    let previous_offer_base: Vec<u32> = match &previous_layers {
        Some(layers) => {
            if layers.base_to_doc.len() != base_keys.len() || layers.offer_base.len() != previous_offers {
                return Err(mismatch());
            }
            layers.offer_base.clone()
        }
        None => {
            if base.offers.len() != base_keys.len() || base.offers.len() != previous_offers {
                return Err(mismatch());
            }
            let mut offer_base = vec![DEAD; previous_offers];
            for (doc, &offer) in base.offers.iter().enumerate() {
                *offer_base.get_mut(offer as usize).ok_or_else(mismatch)? = doc as u32;
            }
            offer_base
        }
    };
    let dataset = &data.dataset;
    // The base doc an offer is known to still be, when the caller says it did not change.
    let carried_base = |offer: u32| -> Option<u32> {
        let previous_offer = previous.carried?.get(offer as usize).copied().flatten()?;
        previous_offer_base.get(previous_offer as usize).copied().filter(|&doc| doc != DEAD)
    };
    // Per doc: the base doc it is known to be (carried), else its key to look up.
    let candidates: Vec<Result<u32, DocKey>> = layout
        .offer_of_doc
        .par_iter()
        .enumerate()
        .map(|(doc, &offer)| {
            carried_base(offer).ok_or_else(|| {
                let offer = &dataset.offers[offer as usize];
                DocKey::of_parts(&offer.id, &doc_parts(dataset, &data.communes, offer), layout, doc as u32)
            })
        })
        .collect();
    let text_of = |doc: u32| {
        let offer = layout.offer_of_doc[doc as usize];
        (offer, doc_text(dataset, &data.communes, &dataset.offers[offer as usize]))
    };

    // Each doc keeps its base doc when its key is unchanged and the order holds.
    let mut base_by_id: Vec<(u64, u32)> = base_keys.iter().enumerate().map(|(doc, key)| (key.id, doc as u32)).collect();
    base_by_id.par_sort_unstable();
    let mut base_to_doc = vec![DEAD; base_keys.len()];
    let mut offer_base = vec![DEAD; dataset.offers.len()];
    let mut delta_to_doc: Vec<u32> = Vec::new();
    let mut last_base: Option<u32> = None;
    let after_last = |base: u32, last: Option<u32>| last.is_none_or(|last| base > last);
    for (doc, candidate) in candidates.iter().enumerate() {
        let offer = layout.offer_of_doc[doc];
        let base = match candidate {
            Ok(base) => Some(*base).filter(|&base| after_last(base, last_base)),
            Err(key) => {
                let start = base_by_id.partition_point(|&(id, _)| id < key.id);
                base_by_id[start..]
                    .iter()
                    .take_while(|&&(id, _)| id == key.id)
                    .map(|&(_, base)| base)
                    .find(|&base| base_keys[base as usize] == *key && after_last(base, last_base))
            }
        };
        match base {
            Some(base) => {
                base_to_doc[base as usize] = doc as u32;
                offer_base[offer as usize] = base;
                last_base = Some(base);
            }
            None => delta_to_doc.push(doc as u32),
        }
    }
    if base_keys.is_empty() || delta_to_doc.len() as f64 > MAX_DELTA_FRACTION * base_keys.len() as f64 {
        return Ok(None);
    }

    // The base docs that died or came back since the previous snapshot change the statistics.
    let was_dead = |base: usize| previous_layers.as_ref().is_some_and(|layers| layers.base_to_doc[base] == DEAD);
    let mut newly_dead: Vec<usize> = Vec::new();
    let mut revived: Vec<(u32, String)> = Vec::new();
    for (base, &doc) in base_to_doc.iter().enumerate() {
        match (doc == DEAD, was_dead(base)) {
            (true, false) => newly_dead.push(base),
            (false, true) => revived.push(text_of(doc)),
            _ => {}
        }
    }
    // A base doc alive in the previous snapshot held its offer's text there.
    let previous_dataset = &previous.data.dataset;
    let mut dead_texts: Vec<(u32, String)> = Vec::with_capacity(newly_dead.len());
    if !newly_dead.is_empty() {
        let mut previous_offer_of_base = vec![DEAD; base_keys.len()];
        for (offer, &doc) in previous_offer_base.iter().enumerate().filter(|(_, doc)| **doc != DEAD) {
            previous_offer_of_base[doc as usize] = offer as u32;
        }
        for base in newly_dead {
            let offer = previous_offer_of_base[base];
            let previous_offer = previous_dataset.offers.get(offer as usize).ok_or_else(|| {
                TextIndexError::Mismatch(format!("base doc {base} is in neither the previous data nor this one"))
            })?;
            dead_texts.push((offer, doc_text(previous_dataset, &previous.data.communes, previous_offer)));
        }
    }
    let mut statistics =
        previous_layers.as_ref().map(|layers| Statistics::of_removed(&layers.removed)).unwrap_or_default();
    if !dead_texts.is_empty() {
        statistics.add_index(&index_docs(tantivy::directory::RamDirectory::create(), &dead_texts)?, 1)?;
    }
    if !revived.is_empty() {
        statistics.add_index(&index_docs(tantivy::directory::RamDirectory::create(), &revived)?, -1)?;
    }
    let removed = statistics.into_removed()?;

    // The base's files, linked; the delta, indexed.
    link_base_files(&previous_text, dir)?;
    let delta_dir = dir.join(DELTA_DIR);
    std::fs::create_dir_all(&delta_dir).map_err(|error| io_error(&delta_dir, error))?;
    let delta_docs: Vec<(u32, String)> = delta_to_doc.par_iter().map(|&doc| text_of(doc)).collect();
    index_docs(tantivy::directory::MmapDirectory::open(&delta_dir)?, &delta_docs)?;
    let written = Written::Layered { base_docs: base_keys.len() as u32, delta_docs: delta_to_doc.len() as u32 };
    write_framed(&dir.join(LAYERS_FILE), LAYERS_MAGIC, &Persisted { base_to_doc, delta_to_doc, offer_base, removed })?;
    Ok(Some(written))
}

/// Links (or copies, across file systems) the base segment's files of `from` into `to`.
fn link_base_files(from: &Path, to: &Path) -> Result<(), TextIndexError> {
    std::fs::create_dir_all(to).map_err(|error| io_error(to, error))?;
    for entry in std::fs::read_dir(from).map_err(|error| io_error(from, error))? {
        let entry = entry.map_err(|error| io_error(from, error))?;
        let name = entry.file_name();
        if name == LAYERS_FILE || !entry.file_type().map_err(|error| io_error(&entry.path(), error))?.is_file() {
            continue;
        }
        let target: PathBuf = to.join(&name);
        if std::fs::hard_link(entry.path(), &target).is_err() {
            std::fs::copy(entry.path(), &target).map_err(|error| io_error(&target, error))?;
        }
    }
    Ok(())
}

/// The delta layer of an opened text index.
pub(crate) struct Layers {
    pub(crate) delta: Searcher,
    base_to_doc: Arc<[u32]>,
    base_seek: Arc<[u32]>,
    base_alive: usize,
    delta_to_doc: Arc<[u32]>,
    delta_seek: Arc<[u32]>,
    removed_tokens: FxHashMap<u32, u64>,
    /// Per field id, per term: its docs among the dead base docs.
    removed_doc_freq: FxHashMap<u32, FxHashMap<Vec<u8>, u32>>,
}

impl std::fmt::Debug for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layers").field("base_alive", &self.base_alive).field("delta", &self.delta_to_doc.len()).finish()
    }
}

impl Layers {
    /// Opens the layers of the text index in `dir` over its `base`, when it has some; checks them
    /// against `layout`.
    pub(crate) fn open(dir: &Path, base: &Searcher, layout: &Layout) -> Result<Option<Layers>, TextIndexError> {
        let path = dir.join(LAYERS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let persisted: Persisted = read_framed(&path, LAYERS_MAGIC)?;
        let mismatch = |what: &str| TextIndexError::Mismatch(format!("{}: {what}", path.display()));
        let mut delta = Index::open_in_dir(dir.join(DELTA_DIR))?;
        delta.set_tokenizers(super::text::tokenizer_manager());
        let delta = delta.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into()?.searcher();
        let base_docs = base.segment_readers().iter().map(|segment| segment.max_doc()).sum::<u32>();
        let delta_docs = delta.segment_readers().iter().map(|segment| segment.max_doc()).sum::<u32>();
        if base.segment_readers().len() != 1 || delta.segment_readers().len() > 1 {
            return Err(mismatch("each layer must be one segment"));
        }
        if persisted.base_to_doc.len() != base_docs as usize || persisted.delta_to_doc.len() != delta_docs as usize {
            return Err(mismatch("the layers do not match their indexes"));
        }
        let base_alive_docs: Vec<u32> = persisted.base_to_doc.iter().copied().filter(|&doc| doc != DEAD).collect();
        let increasing = |docs: &[u32]| docs.windows(2).all(|pair| pair[0] < pair[1]);
        if !increasing(&base_alive_docs)
            || !increasing(&persisted.delta_to_doc)
            || base_alive_docs.len() + persisted.delta_to_doc.len() != layout.doc_count() as usize
            || base_alive_docs
                .last()
                .into_iter()
                .chain(persisted.delta_to_doc.last())
                .any(|&doc| doc >= layout.doc_count())
        {
            return Err(mismatch("the layers do not cover the snapshot's docs once each, in order"));
        }
        if let Some(segment) = delta.segment_readers().first() {
            let column = segment.fast_fields().u64("offer")?;
            for (delta_doc, &doc) in persisted.delta_to_doc.iter().enumerate() {
                if column.first(delta_doc as DocId) != Some(u64::from(layout.offer_of_doc[doc as usize])) {
                    return Err(mismatch("a delta document is not the offer of its doc"));
                }
            }
        }
        Ok(Some(Layers {
            delta,
            base_seek: seek_table(&persisted.base_to_doc, layout.doc_count()).into(),
            delta_seek: seek_table(&persisted.delta_to_doc, layout.doc_count()).into(),
            base_to_doc: persisted.base_to_doc.into(),
            base_alive: base_alive_docs.len(),
            delta_to_doc: persisted.delta_to_doc.into(),
            removed_tokens: persisted.removed.tokens.into_iter().collect(),
            removed_doc_freq: persisted.removed.doc_freq.into_iter().fold(
                FxHashMap::default(),
                |mut by_field: FxHashMap<u32, FxHashMap<Vec<u8>, u32>>, (field, term, count)| {
                    by_field.entry(field).or_default().insert(term, count);
                    by_field
                },
            ),
        }))
    }

    /// Docs of a term among the dead base docs.
    pub(crate) fn removed_doc_freq(&self, field: Field, term: &[u8]) -> u32 {
        self.removed_doc_freq.get(&field.field_id()).and_then(|terms| terms.get(term)).copied().unwrap_or(0)
    }

    /// The BM25 statistics of the alive docs.
    pub(crate) fn statistics<'a>(&'a self, base: &'a Searcher) -> LayeredStatistics<'a> {
        LayeredStatistics { base, layers: self }
    }

    /// The scorers of the two layers as one, in doc-id order.
    pub(crate) fn scorer(&self, base: Box<dyn Scorer>, delta: Option<Box<dyn Scorer>>) -> Box<dyn Scorer> {
        let base = Mapped::new(base, self.base_to_doc.clone(), self.base_seek.clone());
        match delta {
            None => Box::new(base),
            Some(delta) => {
                Box::new(Union { base, delta: Mapped::new(delta, self.delta_to_doc.clone(), self.delta_seek.clone()) })
            }
        }
    }
}

/// [`Bm25StatisticsProvider`] of the alive docs of a layered index.
pub(crate) struct LayeredStatistics<'a> {
    base: &'a Searcher,
    layers: &'a Layers,
}

impl Bm25StatisticsProvider for LayeredStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let base = Bm25StatisticsProvider::total_num_tokens(self.base, field)?;
        let delta = Bm25StatisticsProvider::total_num_tokens(&self.layers.delta, field)?;
        let removed = self.layers.removed_tokens.get(&field.field_id()).copied().unwrap_or(0);
        Ok((base + delta).saturating_sub(removed))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok((self.layers.base_alive + self.layers.delta_to_doc.len()) as u64)
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        let base = self.base.doc_freq(term)?;
        let delta = self.layers.delta.doc_freq(term)?;
        let removed = self.layers.removed_doc_freq(term.field(), term.serialized_value_bytes());
        Ok((base + delta).saturating_sub(u64::from(removed)))
    }
}

/// Per doc id (and one past the last), the first segment doc of a layer mapped at or after it
/// ([`TERMINATED`] when none): a seek is one read.
fn seek_table(to_doc: &[u32], doc_count: u32) -> Vec<u32> {
    let mut table = vec![TERMINATED; doc_count as usize + 1];
    for (segment_doc, &doc) in to_doc.iter().enumerate() {
        if doc != DEAD {
            table[doc as usize] = segment_doc as u32;
        }
    }
    let mut next = TERMINATED;
    for entry in table.iter_mut().rev() {
        match *entry {
            TERMINATED => *entry = next,
            segment_doc => next = segment_doc,
        }
    }
    table
}

/// A layer's scorer with its docs mapped to the snapshot's doc ids (increasing), dead docs
/// skipped.
struct Mapped {
    inner: Box<dyn Scorer>,
    /// Segment doc → doc id, or [`DEAD`].
    to_doc: Arc<[u32]>,
    /// [`seek_table`].
    seek_table: Arc<[u32]>,
    doc: DocId,
}

impl Mapped {
    fn new(inner: Box<dyn Scorer>, to_doc: Arc<[u32]>, seek_table: Arc<[u32]>) -> Mapped {
        let mut mapped = Mapped { inner, to_doc, seek_table, doc: TERMINATED };
        let segment_doc = mapped.inner.doc();
        mapped.doc = mapped.settle(segment_doc);
        mapped
    }

    /// The doc id of the first alive segment doc from `segment_doc` on.
    fn settle(&mut self, mut segment_doc: DocId) -> DocId {
        loop {
            if segment_doc == TERMINATED {
                return TERMINATED;
            }
            match self.to_doc[segment_doc as usize] {
                DEAD => segment_doc = self.inner.advance(),
                doc => return doc,
            }
        }
    }
}

impl DocSet for Mapped {
    fn advance(&mut self) -> DocId {
        if self.doc != TERMINATED {
            let segment_doc = self.inner.advance();
            self.doc = self.settle(segment_doc);
        }
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        let last = self.seek_table.len() - 1;
        let segment_target = self.seek_table[(target as usize).min(last)];
        if segment_target == TERMINATED {
            self.doc = TERMINATED;
            return TERMINATED;
        }
        let segment_doc = self.inner.seek(segment_target);
        self.doc = self.settle(segment_doc);
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.inner.size_hint()
    }
}

impl Scorer for Mapped {
    fn score(&mut self) -> Score {
        self.inner.score()
    }
}

/// Two disjoint doc sets as one, in doc-id order.
struct Union {
    base: Mapped,
    delta: Mapped,
}

impl DocSet for Union {
    fn advance(&mut self) -> DocId {
        match self.base.doc() < self.delta.doc() {
            true => self.base.advance(),
            false => self.delta.advance(),
        };
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        self.base.seek(target);
        self.delta.seek(target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.base.doc().min(self.delta.doc())
    }

    fn size_hint(&self) -> u32 {
        self.base.size_hint().saturating_add(self.delta.size_hint())
    }
}

impl Scorer for Union {
    fn score(&mut self) -> Score {
        match self.base.doc() <= self.delta.doc() {
            true => self.base.score(),
            false => self.delta.score(),
        }
    }
}
