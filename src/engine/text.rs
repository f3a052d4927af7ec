//! Full-text matching over offers with tantivy: French-aware, case and accent folded, stemmed,
//! with prefix matching of the last word for type-ahead.
//!
//! One tantivy document per offer, in doc-id order ([`super::layout`]), so a tantivy `DocId`
//! *is* the engine's doc id. Two indexed fields carry the same text (`doc_text`):
//! * `text`: lowercased, ASCII-folded, French Snowball-stemmed (`hébergements` → `heberg`);
//! * `prefix`: lowercased and folded, not stemmed, for prefix matching of an unfinished word.
//!
//! A query matches an offer when every word matches (AND); each word matches by stem, and the
//! last word also matches as a prefix of any word (two characters or more) unless the query
//! ends with a space. A prefix stands for its [`MAX_PREFIX_EXPANSIONS`] most frequent
//! completions. Ranking is tantivy's BM25.

use std::path::Path;

use rustc_hash::FxHashMap;
use tantivy::query::{BooleanQuery, EnableScoring, Occur, Query, Scorer, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer, TokenizerManager,
};
use tantivy::{DocId, Index, Searcher, TantivyDocument, Term};

use super::layout::{Layout, offer_commune};
use crate::model::labels::CodeSystem;
use crate::model::place::Commune;
use crate::model::{Dataset, Offer};
use crate::snapshot::SnapshotData;

/// Name of the stemmed analyzer.
pub(crate) const STEM_ANALYZER: &str = "ror_fr_stem";
/// Name of the folded (unstemmed) analyzer.
pub(crate) const FOLD_ANALYZER: &str = "ror_fr_fold";
/// Most words in a query.
pub(crate) const MAX_QUERY_WORDS: usize = 12;
/// Shortest last word matched as a prefix.
pub(crate) const MIN_PREFIX_CHARS: usize = 2;
/// Most completions of a prefix: the most frequent ones (then alphabetical), as type-ahead
/// engines cap expansions (Elasticsearch's `max_expansions` is 50).
pub const MAX_PREFIX_EXPANSIONS: usize = 64;

/// The folded analyzer: split on non-alphanumerics, drop words over 40 bytes, lowercase, fold.
pub(crate) fn fold_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The stemmed analyzer: [`fold_analyzer`] then the French Snowball stemmer.
pub(crate) fn stem_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::French))
        .build()
}

/// An analyzer that remembers the tokens of each part of a [`doc_text`] (parts are separated
/// by `" | "`). Offers repeat the same parts (their EG's name, the same labels), so indexing
/// analyses each distinct part once. It gives exactly the tokens of the wrapped analyzer:
/// separators are not word characters, so tokenizing parts one by one or the joined text is
/// the same.
#[derive(Clone)]
pub(crate) struct CachingAnalyzer {
    inner: TextAnalyzer,
    cache: FxHashMap<String, Vec<String>>,
    buffer: Vec<Token>,
}

impl CachingAnalyzer {
    /// Wraps an analyzer.
    pub(crate) fn new(inner: TextAnalyzer) -> CachingAnalyzer {
        CachingAnalyzer { inner, cache: FxHashMap::default(), buffer: Vec::new() }
    }
}

/// The token stream of a [`CachingAnalyzer`].
pub(crate) struct CachedTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl TokenStream for CachedTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for CachingAnalyzer {
    type TokenStream<'a> = CachedTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> CachedTokenStream<'a> {
        let mut count = 0;
        for part in text.split(" | ") {
            if !self.cache.contains_key(part) {
                let words = tokens(&mut self.inner, part);
                self.cache.insert(part.to_owned(), words);
            }
            for word in &self.cache[part] {
                if count == self.buffer.len() {
                    self.buffer.push(Token::default());
                }
                let token = &mut self.buffer[count];
                token.text.clear();
                token.text.push_str(word);
                token.position = count;
                token.offset_from = 0;
                token.offset_to = 0;
                token.position_length = 1;
                count += 1;
            }
        }
        CachedTokenStream { tokens: &mut self.buffer[..count], next: 0 }
    }
}

pub(crate) fn caching_tokenizer_manager() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(STEM_ANALYZER, CachingAnalyzer::new(stem_analyzer()));
    manager.register(FOLD_ANALYZER, CachingAnalyzer::new(fold_analyzer()));
    manager
}

pub(crate) fn tokenizer_manager() -> TokenizerManager {
    let manager = TokenizerManager::default();
    manager.register(STEM_ANALYZER, stem_analyzer());
    manager.register(FOLD_ANALYZER, fold_analyzer());
    manager
}

/// Runs an analyzer over a text.
pub(crate) fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The fields of the text index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub(crate) text: Field,
    pub(crate) prefix: Field,
    /// The offer index in the dataset, to check the doc order at load.
    pub(crate) offer: Field,
}

/// The schema of the text index.
pub(crate) fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = builder.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(STEM_ANALYZER).set_index_option(IndexRecordOption::WithFreqs),
        ),
    );
    let prefix = builder.add_text_field(
        "prefix",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(FOLD_ANALYZER)
                .set_index_option(IndexRecordOption::Basic)
                .set_fieldnorms(false),
        ),
    );
    let offer = builder.add_u64_field("offer", FAST);
    (builder.build(), Fields { text, prefix, offer })
}

/// The searchable text of an offer: its name, its EG's name and alias, its EJ's name, its
/// internal organisation, its commune, and the labels of its catégorie, type d'offre,
/// activité, mode de prise en charge, publics and spécialisations.
pub(crate) fn doc_text(dataset: &Dataset, communes: &[Commune], offer: &Offer) -> String {
    doc_parts(dataset, communes, offer).join(PART_SEPARATOR)
}

/// What [`doc_text`] puts between the parts of an offer's text.
pub(crate) const PART_SEPARATOR: &str = " | ";

/// The parts [`doc_text`] joins; tokenizing them one by one gives the same tokens as
/// tokenizing the joined text (separators are not word characters).
pub(crate) fn doc_parts<'a>(dataset: &'a Dataset, communes: &'a [Commune], offer: &'a Offer) -> Vec<&'a str> {
    let mut parts: Vec<&str> = vec![offer.name.as_str()];
    let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
    if let Some(eg) = eg {
        parts.push(&eg.name);
        if let Some(alias) = &eg.alias {
            parts.push(alias);
        }
        if let Some(label) = eg.category.as_deref().and_then(|code| CodeSystem::CategorieEtablissement.label(code)) {
            parts.push(label);
        }
    }
    let ej = offer.ej.or_else(|| eg.and_then(|eg| eg.ej)).map(|ej| &dataset.ejs[ej as usize]);
    if let Some(name) = ej.and_then(|ej| ej.name.as_deref()) {
        parts.push(name);
    }
    if let Some(name) = &offer.internal_organisation {
        parts.push(name);
    }
    if let Some(commune) = offer_commune(dataset, offer).and_then(|code| super::layout::commune_by_code(communes, code))
    {
        parts.push(&commune.name);
    }
    let coded = [
        (CodeSystem::CategorieOrganisation, offer.offer_type.as_deref()),
        (CodeSystem::ActiviteOperationnelle, offer.activity.as_deref()),
        (CodeSystem::ModePriseEnCharge, offer.care_mode.as_deref()),
    ];
    for (system, code) in coded {
        if let Some(label) = code.and_then(|code| system.label(code)) {
            parts.push(label);
        }
    }
    for code in &offer.publics {
        if let Some(label) = CodeSystem::PublicPrisEnCharge.label(code) {
            parts.push(label);
        }
    }
    for code in &offer.specialisations {
        if let Some(label) = CodeSystem::SpecialisationPriseEnCharge.label(code) {
            parts.push(label);
        }
    }
    parts
}

/// Why a text index could not be written or opened.
#[derive(Debug, thiserror::Error)]
pub enum TextIndexError {
    /// Tantivy refused.
    #[error("{0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The directory cannot be opened.
    #[error("{0}")]
    Directory(#[from] tantivy::directory::error::OpenDirectoryError),
    /// The index does not hold the snapshot's documents in its doc-id order.
    #[error("{0}")]
    Mismatch(String),
    /// A file of the index cannot be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file of the index (`docs.bin`, `layers.bin`) has a bad frame, version or payload.
    #[error("{}: {source}", path.display())]
    Format {
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: crate::snapshot::format::FormatError,
    },
}

/// A text query that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TextQueryError {
    /// More words than [`MAX_QUERY_WORDS`].
    #[error("at most {MAX_QUERY_WORDS} words")]
    TooManyWords,
}

/// Builds the text index of a snapshot into `dir` (empty), in the doc-id order of `layout`.
pub(crate) fn write_index_with_layout(data: &SnapshotData, layout: &Layout, dir: &Path) -> Result<(), TextIndexError> {
    let (schema, fields) = schema();
    let directory = tantivy::directory::MmapDirectory::open(dir)?;
    let mut writer = Index::builder()
        .schema(schema)
        .tokenizers(caching_tokenizer_manager())
        .single_segment_index_writer::<TantivyDocument>(directory, 2_000_000_000)?;
    let mut keys = Vec::with_capacity(layout.offer_of_doc.len());
    for (doc, &offer_index) in layout.offer_of_doc.iter().enumerate() {
        let offer = &data.dataset.offers[offer_index as usize];
        let text = doc_text(&data.dataset, &data.communes, offer);
        keys.push(super::text_layers::DocKey::new(&offer.id, &text, layout, doc as u32));
        writer.add_document(document(&fields, &text, offer_index))?;
    }
    writer.finalize()?;
    super::text_layers::write_doc_keys(dir, keys, &layout.offer_of_doc)
}

/// The tantivy document of an offer (by dataset index) of text `text`.
pub(crate) fn document(fields: &Fields, text: &str, offer_index: u32) -> TantivyDocument {
    let mut document = TantivyDocument::default();
    document.add_text(fields.text, text);
    document.add_text(fields.prefix, text);
    document.add_u64(fields.offer, u64::from(offer_index));
    document
}

/// The indexed words of `field` in the (one) segment of `searcher` that start with `prefix`,
/// in term order, each with its document frequency.
fn indexed_completions(searcher: &Searcher, field: Field, prefix: &str) -> Vec<(String, u32)> {
    let Some(inverted) = searcher.segment_readers().first().and_then(|segment| segment.inverted_index(field).ok())
    else {
        return Vec::new();
    };
    let mut upper = prefix.as_bytes().to_vec();
    upper.push(0xff);
    let Ok(mut stream) = inverted.terms().range().ge(prefix.as_bytes()).lt(&upper).into_stream() else {
        return Vec::new();
    };
    let mut completions = Vec::new();
    while stream.advance() {
        if let Ok(word) = std::str::from_utf8(stream.key()) {
            completions.push((word.to_owned(), stream.value().doc_freq));
        }
    }
    completions
}

/// An opened text index.
pub struct TextIndex {
    searcher: Searcher,
    fields: Fields,
    stem: TextAnalyzer,
    fold: TextAnalyzer,
    /// The docs of the frequent queries asked, as dense bitsets, most recently used last.
    dense_docs: std::sync::Mutex<Vec<(String, std::sync::Arc<[u64]>)>>,
    /// The delta layer over this base, for a snapshot made from the previous one plus a delta.
    layers: Option<super::text_layers::Layers>,
}

/// At most this many queries keep their docs as a dense bitset (a national snapshot's bitset is
/// 122 KiB: 7.8 MiB at most).
const DENSE_QUERIES: usize = 64;

/// A query's docs are kept as a dense bitset when it matches at least one doc in this many
/// (a sparser query's posting list is walked over the region instead).
const DENSE_QUERY_FRACTION: u64 = 1024;

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex").field("docs", &self.searcher.num_docs()).finish()
    }
}

/// A parsed text query.
pub(crate) struct TextQuery {
    query: Box<dyn Query>,
    /// Folded words of the query.
    pub(crate) words: Vec<String>,
    /// What the query is made of (its words, and whether the last is a prefix): queries with
    /// the same key match the same docs.
    key: String,
}

impl TextIndex {
    /// Opens the index in `dir` and checks that its documents are in the doc-id order of
    /// `layout`.
    pub(crate) fn open(dir: &Path, layout: &Layout) -> Result<TextIndex, TextIndexError> {
        let mut index = Index::open_in_dir(dir)?;
        index.set_tokenizers(tokenizer_manager());
        let (_, fields) = schema();
        let reader = index.reader_builder().reload_policy(tantivy::ReloadPolicy::Manual).try_into()?;
        let searcher = reader.searcher();
        let layers = super::text_layers::Layers::open(dir, &searcher, layout)?;
        // A layered index's base is checked by `Layers::open`; a single segment holds every doc.
        if layers.is_none() {
            let segments = searcher.segment_readers();
            let docs = segments.iter().map(|segment| segment.max_doc()).sum::<u32>();
            if docs != layout.doc_count() || segments.len() > 1 {
                return Err(TextIndexError::Mismatch(format!(
                    "holds {docs} documents in {} segments, expected {} in one",
                    segments.len(),
                    layout.doc_count()
                )));
            }
            if let Some(segment) = segments.first() {
                let column = segment.fast_fields().u64("offer")?;
                for (doc, &offer) in layout.offer_of_doc.iter().enumerate() {
                    if column.first(doc as DocId) != Some(u64::from(offer)) {
                        return Err(TextIndexError::Mismatch(format!(
                            "document {doc} is not offer {offer}: the index does not match the data"
                        )));
                    }
                }
            }
        }
        Ok(TextIndex {
            searcher,
            fields,
            stem: stem_analyzer(),
            fold: fold_analyzer(),
            dense_docs: std::sync::Mutex::new(Vec::new()),
            layers,
        })
    }

    /// Parses a query; `None` when it has no word. Errors name the problem.
    pub(crate) fn parse(&self, q: &str) -> Result<Option<TextQuery>, TextQueryError> {
        let words = tokens(&mut self.fold.clone(), q);
        if words.is_empty() {
            return Ok(None);
        }
        if words.len() > MAX_QUERY_WORDS {
            return Err(TextQueryError::TooManyWords);
        }
        let last_is_prefix =
            !q.ends_with(char::is_whitespace) && words.last().is_some_and(|w| w.chars().count() >= MIN_PREFIX_CHARS);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(words.len());
        let mut stem = self.stem.clone();
        for (index, word) in words.iter().enumerate() {
            let stems = tokens(&mut stem, word);
            let stemmed = stems.first().cloned().unwrap_or_else(|| word.clone());
            let term_query: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(self.fields.text, &stemmed),
                IndexRecordOption::WithFreqs,
            ));
            let clause: Box<dyn Query> = if index + 1 == words.len() && last_is_prefix {
                let mut alternatives: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, term_query)];
                for completion in self.prefix_expansions(word) {
                    alternatives.push((
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(self.fields.prefix, &completion),
                            IndexRecordOption::Basic,
                        )),
                    ));
                }
                Box::new(BooleanQuery::new(alternatives))
            } else {
                term_query
            };
            clauses.push((Occur::Must, clause));
        }
        let query: Box<dyn Query> = if clauses.len() == 1 {
            clauses.pop().expect("one clause").1
        } else {
            Box::new(BooleanQuery::new(clauses))
        };
        let key = format!("{}{}", words.join(" "), if last_is_prefix { "*" } else { "" });
        Ok(Some(TextQuery { query, words, key }))
    }

    /// The completions of a prefix among the indexed (folded, unstemmed) words: all of them
    /// when there are at most [`MAX_PREFIX_EXPANSIONS`], else the most frequent (ties in
    /// alphabetical order).
    pub fn prefix_expansions(&self, prefix: &str) -> Vec<String> {
        let mut completions = indexed_completions(&self.searcher, self.fields.prefix, prefix);
        if let Some(layers) = &self.layers {
            // The words of the alive docs: the base's less the dead docs', plus the delta's.
            let mut merged: std::collections::BTreeMap<String, u32> = completions
                .into_iter()
                .map(|(word, docs)| {
                    let removed = layers.removed_doc_freq(self.fields.prefix, word.as_bytes());
                    (word, docs.saturating_sub(removed))
                })
                .collect();
            for (word, docs) in indexed_completions(&layers.delta, self.fields.prefix, prefix) {
                *merged.entry(word).or_default() += docs;
            }
            completions = merged.into_iter().filter(|(_, docs)| *docs > 0).collect();
        }
        if completions.len() > MAX_PREFIX_EXPANSIONS {
            completions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            completions.truncate(MAX_PREFIX_EXPANSIONS);
        }
        completions.into_iter().map(|(word, _)| word).collect()
    }

    /// A scorer over the docs matching a query, in doc-id order; `None` for an empty index.
    pub(crate) fn scorer(&self, query: &TextQuery) -> Option<Box<dyn Scorer>> {
        self.scorer_with(query, true)
    }

    fn scorer_with(&self, query: &TextQuery, scored: bool) -> Option<Box<dyn Scorer>> {
        let segment = self.searcher.segment_readers().first()?;
        let Some(layers) = &self.layers else {
            let scoring = match scored {
                true => EnableScoring::enabled_from_searcher(&self.searcher),
                false => EnableScoring::disabled_from_searcher(&self.searcher),
            };
            return query.query.weight(scoring).ok()?.scorer(segment, 1.0).ok();
        };
        let statistics = layers.statistics(&self.searcher);
        let scoring = match scored {
            true => EnableScoring::enabled_from_statistics_provider(&statistics, &self.searcher),
            false => EnableScoring::disabled_from_searcher(&self.searcher),
        };
        let weight = query.query.weight(scoring).ok()?;
        let base = weight.scorer(segment, 1.0).ok()?;
        let delta = match layers.delta.segment_readers().first() {
            Some(delta) => Some(weight.scorer(delta, 1.0).ok()?),
            None => None,
        };
        Some(layers.scorer(base, delta))
    }

    /// The docs matching a query, in doc-id order, unscored (posting lists read without their
    /// frequencies): for counting. `None` for an empty index.
    pub(crate) fn matcher(&self, query: &TextQuery) -> Option<Box<dyn Scorer>> {
        self.scorer_with(query, false)
    }

    /// The docs of a frequent query (one doc in [`DENSE_QUERY_FRACTION`] or more) as a dense
    /// bitset of `docs` bits, made at its first count and kept for the snapshot's next ones (at
    /// most [`DENSE_QUERIES`], the least recently used dropped); `None` for a rarer query, whose
    /// posting list is cheaper to walk over a region.
    pub(crate) fn dense_docs(&self, query: &TextQuery, docs: usize) -> Option<std::sync::Arc<[u64]>> {
        {
            let mut cache = self.dense_docs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(index) = cache.iter().position(|(key, _)| *key == query.key) {
                let entry = cache.remove(index);
                let words = entry.1.clone();
                cache.push(entry);
                return Some(words);
            }
        }
        let mut matcher = self.matcher(query)?;
        if u64::from(matcher.size_hint()) * DENSE_QUERY_FRACTION < docs as u64 {
            return None;
        }
        let mut words = vec![0u64; docs.div_ceil(64)];
        let mut doc = matcher.doc();
        while doc != tantivy::TERMINATED && (doc as usize) < docs {
            words[doc as usize >> 6] |= 1 << (doc & 63);
            doc = matcher.advance();
        }
        let words: std::sync::Arc<[u64]> = words.into();
        let mut cache = self.dense_docs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !cache.iter().any(|(key, _)| *key == query.key) {
            if cache.len() >= DENSE_QUERIES {
                cache.remove(0);
            }
            cache.push((query.key.clone(), words.clone()));
        }
        Some(words)
    }

    /// Every (doc, score) matching a query, in doc-id order (the slow, simple path used by the
    /// reference and by `explain`).
    pub(crate) fn all_matches(&self, query: &TextQuery) -> Vec<(DocId, f32)> {
        let mut out = Vec::new();
        if let Some(mut scorer) = self.scorer(query) {
            let mut doc = scorer.doc();
            while doc != tantivy::TERMINATED {
                out.push((doc, scorer.score()));
                doc = scorer.advance();
            }
        }
        out
    }
}
