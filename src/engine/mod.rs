//! The query engine: orientation (radius), nearest, map (bbox) and text queries over a
//! snapshot, exact and synchronous (no tokio here).
//!
//! [`Engine`] is the facade: it opens a snapshot and answers requests. Behind it, an `Index`
//! holds the data and the structures built for it, and the query code is split by role, the
//! way tantivy separates query, weight, scorer and collector:
//!
//! | file | role |
//! |---|---|
//! | [`request`] | the engine's request types ([`SearchRequest`]) and user error ([`ParamError`]) |
//! | `filter` | a request compiled into checks on the columns and summaries |
//! | `plan` | the walks that find matches: nearest, region, bulk, text; `plan::Strategy` |
//! | `collector` | what a query keeps: the top-k heap, the count, facet counts, a rank |
//! | `search` | one search: centre, filter, strategy, plan, page |
//! | `explain`, `facets` | the explanation of one offer; facet values |
//! | [`crisis`] | the crisis-capacity query, aggregated by EG |
//! | `lookup` | offer and EG details, commune type-ahead |
//! | `render`, [`response`] | the page as it is answered, borrowing from the snapshot |
//! | `fragment`, [`page`], `fields` | each offer's result rendered once, pages written from them |
//! | [`layout`], `columns`, `postings`, `summary`, `text` | the structures built per snapshot |
//! | [`persist`] | `engine.bin`, the layout and columns written with a snapshot |
//! | [`reference`] | a brute-force implementation of the same semantics, the tests' oracle |
//!
//! Doc ids follow a Hilbert order of positions ([`layout`]); see `ARCHITECTURE.md` for why this
//! is fast. The engine is synchronous (no tokio) and knows nothing of HTTP.

pub(crate) mod access;
pub mod clusters;
pub(crate) mod collector;
pub(crate) mod columns;
pub mod crisis;
pub(crate) mod dense;
pub(crate) mod explain;
pub(crate) mod facets;
pub(crate) mod fields;
pub(crate) mod filter;
pub(crate) mod fragment;
pub mod layout;
pub mod live;
pub(crate) mod lookup;
pub mod page;
pub mod persist;
pub(crate) mod plan;
pub(crate) mod postings;
pub mod reference;
pub(crate) mod render;
pub mod request;
pub mod response;
pub(crate) mod search;
pub(crate) mod summary;
pub mod text;
pub mod text_layers;
pub mod tiles;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::model::access::ProfileSet;
use crate::snapshot::{Manifest, Snapshot, SnapshotData, TEXT_DIR};
pub use columns::Columns;
pub use crisis::{CrisisRequest, CrisisResponse};
pub use fields::{FieldSet, ResultField};
pub use layout::Layout;
pub use lookup::CommuneHit;
use lookup::{EgDetail, OfferDetail};
pub use page::Page;
pub use request::{ParamError, SearchRequest, SortKey};
pub use response::SearchResponse;

/// A point on the unit sphere carrying a position id.
pub(crate) type SpherePoint = GeomWithData<[f64; 3], u32>;
/// A lon/lat point carrying a position id.
pub(crate) type PlanePoint = GeomWithData<[f64; 2], u32>;

/// Why an engine could not be built from a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The snapshot itself was refused.
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// The text index does not open or does not match the layout.
    #[error("text index in {path}: {source}")]
    Text {
        /// The text index directory.
        path: String,
        /// Why.
        source: text::TextIndexError,
    },
    /// `engine.bin` is unreadable or does not match the data.
    #[error(transparent)]
    EngineFile(#[from] persist::IndexFilesError),
}

/// A searchable snapshot: the data, its layout, columns, spatial and text indexes. Data only:
/// the query code lives in the files of each role (see the module documentation).
pub(crate) struct Index {
    pub(crate) manifest: Manifest,
    pub(crate) data: SnapshotData,
    pub(crate) layout: Layout,
    pub(crate) columns: Columns,
    /// Positions on the unit sphere (distance queries).
    pub(crate) sphere: RTree<SpherePoint>,
    /// Positions in lon/lat (bbox queries).
    pub(crate) plane: RTree<PlanePoint>,
    pub(crate) text: Option<text::TextIndex>,
    /// INSEE code → index in `data.communes` (the current commune first).
    pub(crate) commune_index: rustc_hash::FxHashMap<crate::model::Code, u32>,
    /// Labels of the dictionary ids of the coded columns, for rendering without lookups.
    pub(crate) labels: render::Labels,
    /// Bitmaps per code and flag, for large regions.
    pub(crate) postings: postings::Postings,
    /// Dense bitsets of the frequent codes, GIR policies, aide sociale and range-encoded prices
    /// and ages, for exact counts a word at a time.
    pub(crate) dense: dense::DenseBits,
    /// What the docs at each position can match, for skipping positions in walks.
    pub(crate) summaries: summary::PositionSummaries,
    /// EG and commune indexes for lookups.
    pub(crate) lookups: lookup::Lookups,
    /// The positions on the map grid: in web-mercator fixed point, in Z order of it, in blocks,
    /// and their docs that are sensitive or may close (a search without doc-level filters
    /// matches all the others: the map counts a position, or a block, whole from its live
    /// sums, checking only those).
    pub(crate) map_grid: clusters::MapGrid,
    /// The Hilbert index and unit vector of each position, for cutting a region into runs of
    /// positions (`plan::count`).
    pub(crate) hilbert: plan::count::HilbertCells,
    /// Each offer's result, rendered at its first answer and kept (within a budget).
    pub(crate) fragments: fragment::Fragments,
}

/// One write to the capacities of one location.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityWrite<'a> {
    /// The location (index in the snapshot).
    pub location: u32,
    /// Its changes, applied all or nothing (borrowed from the logged write on a replay).
    pub changes: std::borrow::Cow<'a, [live::CapacityChange]>,
    /// The version the location gets (the write's sequence number).
    pub version: u64,
    /// When the write is applied, Unix seconds.
    pub at: crate::util::time::UnixSeconds,
}

/// Every match of a search ([`Engine::search_all`]), rendered on demand.
pub struct AllMatches<'a> {
    index: &'a Index,
    live: Arc<live::LiveView>,
    hits: Vec<collector::Hit>,
    view: render::HitView,
}

impl AllMatches<'_> {
    /// How many offers match.
    pub fn len(&self) -> usize {
        self.hits.len()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }

    /// Appends the matches of `range` to `out` as NDJSON, one result (as in `results[]` of a
    /// page, with the request's `fields`) a line. The offers' fragments are not kept: a stream
    /// of every match would fill their budget with offers seen once.
    pub fn write_ndjson(&self, range: std::ops::Range<usize>, out: &mut Vec<u8>) {
        for hit in &self.hits[range] {
            self.index.write_hit(out, &self.live, hit, &self.view, false);
            out.push(b'\n');
        }
    }
}

/// A searchable snapshot: opens one and answers every kind of request over it.
pub struct Engine {
    index: Index,
    /// The live capacities: the snapshot's, then each write's (swapped whole).
    live: arc_swap::ArcSwap<live::LiveView>,
    /// One writer at a time (readers never wait).
    write_lock: std::sync::Mutex<()>,
    /// Every instant at which an offer's closure changes, ascending, made at the first tile
    /// request (see [`Engine::closure_changes_until`]).
    closure_instants: std::sync::OnceLock<Vec<i64>>,
    /// The last [`Engine::state_digest`] and the count of applied writes it is of (the state
    /// changes only when a write applies).
    digest: std::sync::Mutex<Option<(u64, String)>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("snapshot", &self.index.manifest.snapshot_id)
            .field("offers", &self.index.data.dataset.offers.len())
            .field("positions", &self.index.layout.positions.len())
            .finish()
    }
}

impl Engine {
    /// Builds the engine of a loaded snapshot (opening its text index, if it has one).
    pub(crate) fn new(snapshot: Snapshot) -> Result<Engine, EngineError> {
        let Snapshot { dir, manifest, data } = snapshot;
        let text_dir = dir.join(TEXT_DIR);
        let text_dir = text_dir.is_dir().then_some(text_dir.as_path());
        match persist::read(&dir, &data)? {
            Some((layout, columns)) => Engine::assemble(manifest, data, layout, columns, text_dir),
            None => Engine::from_parts(manifest, data, text_dir),
        }
    }

    /// Builds an engine from data and an optional text index directory, computing the layout
    /// and columns (snapshots written by ror-search carry them in `engine.bin`).
    pub(crate) fn from_parts(
        manifest: Manifest,
        data: SnapshotData,
        text_dir: Option<&Path>,
    ) -> Result<Engine, EngineError> {
        let layout = Layout::new(&data.dataset, &data.communes);
        let columns = Columns::new(&data, &layout);
        Engine::assemble(manifest, data, layout, columns, text_dir)
    }

    /// Builds the spatial trees and opens the text index around a layout and columns.
    pub(crate) fn assemble(
        manifest: Manifest,
        data: SnapshotData,
        layout: Layout,
        mut columns: Columns,
        text_dir: Option<&Path>,
    ) -> Result<Engine, EngineError> {
        let started = Instant::now();
        if columns.sensitive.is_empty() && !layout.offer_of_doc.is_empty() {
            columns.fill_access(&data, &layout); // read from engine.bin, which does not keep them
        }
        let hilbert = plan::count::HilbertCells::new(&layout.positions);
        let (((sphere, plane), (postings, summaries)), ((text, map_grid), (dense, dense_seconds))) = rayon::join(
            || {
                let sphere = RTree::bulk_load(
                    layout
                        .positions
                        .iter()
                        .enumerate()
                        .map(|(id, point)| SpherePoint::new(point.unit_vector(), id as u32))
                        .collect(),
                );
                let plane = RTree::bulk_load(
                    layout
                        .positions
                        .iter()
                        .enumerate()
                        .map(|(id, point)| PlanePoint::new([point.lon, point.lat], id as u32))
                        .collect(),
                );
                (
                    (sphere, plane),
                    (postings::Postings::new(&columns), summary::PositionSummaries::new(&layout, &columns)),
                )
            },
            || {
                let text = text_dir.map(|dir| {
                    text::TextIndex::open(dir, &layout)
                        .map_err(|source| EngineError::Text { path: dir.display().to_string(), source })
                });
                let dense_started = Instant::now();
                let dense = dense::DenseBits::new(&columns);
                ((text, clusters::MapGrid::new(&layout, &columns)), (dense, dense_started.elapsed().as_secs_f64()))
            },
        );
        let text = text.transpose()?;
        tracing::debug!(
            snapshot = %manifest.snapshot_id,
            offers = data.dataset.offers.len(),
            positions = layout.positions.len(),
            dense_bytes = dense.bytes(),
            dense_seconds,
            seconds = started.elapsed().as_secs_f64(),
            "engine ready"
        );
        let mut commune_index = rustc_hash::FxHashMap::default();
        for (index, commune) in data.communes.iter().enumerate() {
            commune_index.entry(commune.code.clone()).or_insert(index as u32);
        }
        let labels = render::Labels::new(&columns.dictionaries);
        let data_offers = data.dataset.offers.len();
        let lookups = lookup::Lookups::new(&data.dataset, &data.communes, &layout.offer_of_doc);
        let index = Index {
            manifest,
            data,
            layout,
            columns,
            sphere,
            plane,
            text,
            commune_index,
            labels,
            postings,
            dense,
            summaries,
            lookups,
            fragments: fragment::Fragments::new(data_offers, fragment::FRAGMENT_BUDGET_BYTES),
            map_grid,
            hilbert,
        };
        let view = index.snapshot_view();
        Ok(Engine {
            index,
            live: arc_swap::ArcSwap::from_pointee(view),
            write_lock: std::sync::Mutex::new(()),
            closure_instants: std::sync::OnceLock::new(),
            digest: std::sync::Mutex::new(None),
        })
    }

    /// Loads a snapshot directory (verifying every checksum) and builds its engine.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        let snapshot = crate::snapshot::load(dir)?;
        Engine::new(snapshot)
    }

    /// Answers a search request: orientation, nearest, map or text.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResponse<'_>, ParamError> {
        self.index.search(&self.live.load(), request)
    }

    /// Bytes of the offers' pre-rendered results kept now (see [`Engine::search_page`]).
    pub fn result_fragment_bytes(&self) -> usize {
        self.index.fragments.kept_bytes()
    }

    /// Answers a search request as a page to write ([`Page::write_json`]: the bytes of
    /// serialising [`Engine::search`]'s answer, from each offer's pre-rendered result).
    pub fn search_page(&self, request: &SearchRequest) -> Result<Page<'_>, ParamError> {
        let live = self.live.load_full();
        let parts = self.index.search_parts(&live, request)?;
        Ok(Page::new(&self.index, live, parts))
    }

    /// Every match of a search request in its order, without page limits (`offset` and `limit`
    /// are not read), rendered a slice at a time: the streamed `format=ndjson` answer.
    pub fn search_all(&self, request: &SearchRequest) -> Result<AllMatches<'_>, ParamError> {
        let live = self.live.load_full();
        let (hits, view) = self.index.all_hits(&live, request)?;
        Ok(AllMatches { index: &self.index, live, hits, view })
    }

    /// Answers a crisis-capacity request.
    pub fn crisis(&self, request: &CrisisRequest) -> Result<CrisisResponse<'_>, ParamError> {
        self.index.crisis(&self.live.load(), request)
    }

    /// One offer (by FHIR id) with its EG, locations and every capacity record `profile` sees;
    /// `None` also when the profile does not see the offer (an unité sensible).
    pub(crate) fn offer_detail<'a>(
        &'a self,
        live: &'a live::LiveView,
        id: &str,
        profiles: ProfileSet,
    ) -> Option<OfferDetail<'a>> {
        self.index.offer_detail(live, id, access::Access::new(profiles))
    }

    /// One EG (by FINESS ET number) with its tariffs and the offers `profile` sees.
    pub(crate) fn eg_detail<'a>(
        &'a self,
        live: &'a live::LiveView,
        finess: &str,
        profiles: ProfileSet,
    ) -> Option<EgDetail<'a>> {
        self.index.eg_detail(live, finess, access::Access::new(profiles))
    }

    /// The live capacities now: hold it for a whole request that renders capacity records.
    pub fn live_view(&self) -> Arc<live::LiveView> {
        self.live.load_full()
    }

    /// Applies capacity changes, location by location, as one write: queries see all of it or
    /// none of it. Returns the outcome of every change, in order.
    /// Each write is `(location, changes, version, at)`: the changes of one location, all or
    /// nothing, stamped with `version` (a sequence number) and `at` (Unix seconds).
    pub fn apply_capacity(&self, writes: &[CapacityWrite<'_>]) -> Vec<Vec<live::ChangeOutcome>> {
        let mut outcomes = Vec::with_capacity(writes.len());
        self.apply_capacity_with(writes, |_, write_outcomes| outcomes.push(write_outcomes));
        outcomes
    }

    /// [`Engine::apply_capacity`], handing `each` the outcomes of every write (its index in
    /// `writes`, in order) instead of collecting them.
    pub fn apply_capacity_with(&self, writes: &[CapacityWrite<'_>], each: impl FnMut(usize, Vec<live::ChangeOutcome>)) {
        let _writer = self.write_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut view = live::LiveView::clone(&self.live.load());
        self.index.apply_batch(&mut view, writes, each);
        self.live.store(Arc::new(view));
    }

    /// The index of the EG of a FINESS ET number.
    pub(crate) fn eg_index_by_finess(&self, finess: &str) -> Option<u32> {
        self.index.lookups.eg_by_finess.get(finess).copied()
    }

    /// The summary of an EG, as answers show it to `profile`.
    pub(crate) fn eg_view(&self, eg_index: u32, profiles: ProfileSet) -> response::EgView<'_> {
        self.index.eg_view(eg_index, access::Access::new(profiles))
    }

    /// The index of a location by FHIR id.
    pub fn location_by_id(&self, id: &str) -> Option<u32> {
        self.index.lookups.location_by_id.get(id).copied()
    }

    /// The locations an EG (by FINESS ET number) addresses by a synchro id (TRE_R354 `26`):
    /// one, or several when the data has duplicates.
    pub fn locations_by_synchro(&self, finess: &str, synchro_id: &str) -> &[u32] {
        self.index
            .lookups
            .location_by_synchro
            .get(&(crate::model::Code::from(finess), synchro_id.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The FHIR id of an offer (HealthcareService), by dataset index.
    pub fn offer_id(&self, offer: u32) -> &str {
        &self.index.data.dataset.offers[offer as usize].id
    }

    /// The FHIR id of a location.
    pub fn location_id(&self, location: u32) -> &str {
        &self.index.data.dataset.locations[location as usize].id
    }

    /// The capacity records a location holds in `live`.
    pub fn location_records<'a>(
        &'a self,
        live: &'a live::LiveView,
        location: u32,
    ) -> &'a [crate::model::CapacityRecord] {
        self.index.location_records(live, location)
    }

    /// The offers provided at a location (offer indexes, ascending).
    pub(crate) fn offers_of_location(&self, location: u32) -> &[u32] {
        self.index.lookups.offers_of_location(location)
    }

    /// The offers of an EG (offer indexes, ascending).
    pub(crate) fn offers_of_eg(&self, eg: u32) -> &[u32] {
        let lookups = &self.index.lookups;
        &lookups.eg_offers
            [lookups.eg_offer_start[eg as usize] as usize..lookups.eg_offer_start[eg as usize + 1] as usize]
    }

    /// The centroid of an INSEE commune (current or former code).
    pub(crate) fn commune_centre(&self, code: &str) -> Option<crate::model::GeoPoint> {
        // the same resolution as `/v1`'s `commune=`
        self.index.resolve_centre(&request::Centre::Commune(code.to_owned())).ok().map(|(point, _)| point)
    }

    /// The offers matching a text query (the engine's French analysis: every word, the last
    /// also as a prefix), as sorted offer indexes; an error names what is wrong with `q`.
    pub(crate) fn text_offer_matches(&self, parameter: &str, q: &str) -> Result<Vec<u32>, ParamError> {
        let Some(query) = self.index.text_query(parameter, q)? else { return Ok(Vec::new()) };
        let Some(text) = &self.index.text else { return Ok(Vec::new()) }; // text_query checked it
        let offer_of_doc = &self.index.layout.offer_of_doc;
        let mut offers: Vec<u32> =
            text.all_matches(&query).into_iter().map(|(doc, _)| offer_of_doc[doc as usize]).collect();
        offers.sort_unstable();
        Ok(offers)
    }

    /// Type-ahead on commune names, postcodes and INSEE codes.
    pub fn communes_search(&self, q: &str, limit: usize) -> Vec<CommuneHit<'_>> {
        self.index.communes_search(q, limit)
    }

    /// The snapshot id.
    pub(crate) fn snapshot_id(&self) -> &str {
        &self.index.manifest.snapshot_id
    }

    /// A digest of the state served: the snapshot id, then every location whose records a
    /// write changed, with its FHIR id, version (the sequence of the write that last changed it)
    /// and records; SHA-256, the first 16 bytes in hex. Replicas serving the same snapshot with
    /// the same writes applied in the same order report the same digest.
    /// Computed once per state (a walk over every location) and kept until a write applies.
    pub fn state_digest(&self) -> String {
        use sha2::Digest as _;
        let view = self.live_view();
        let mut held = self.digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((writes, digest)) = held.as_ref()
            && *writes == view.writes_applied()
        {
            return digest.clone();
        }
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.snapshot_id().as_bytes());
        hasher.update([0]);
        let mut buffer = Vec::new();
        for location in 0..self.data().dataset.locations.len() {
            let Some(live) = view.records.get(location).as_deref() else { continue };
            buffer.clear();
            let id = &self.data().dataset.locations[location].id;
            buffer.extend_from_slice(&(id.len() as u64).to_le_bytes());
            buffer.extend_from_slice(id.as_bytes());
            buffer.extend_from_slice(&live.version.to_le_bytes());
            let records = postcard::to_allocvec(&live.records).expect("capacity records serialise");
            buffer.extend_from_slice(&(records.len() as u64).to_le_bytes());
            buffer.extend_from_slice(&records);
            hasher.update(&buffer);
        }
        let digest = hex::encode(&hasher.finalize()[..16]);
        *held = Some((view.writes_applied(), digest.clone()));
        digest
    }

    /// The snapshot's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.index.manifest
    }

    /// The snapshot's data (dataset and communes).
    pub fn data(&self) -> &SnapshotData {
        &self.index.data
    }

    /// The doc-id layout.
    pub fn layout(&self) -> &Layout {
        &self.index.layout
    }

    /// The per-doc columns.
    pub fn columns(&self) -> &Columns {
        &self.index.columns
    }

    /// The text index, when the snapshot has one.
    pub fn text(&self) -> Option<&text::TextIndex> {
        self.index.text.as_ref()
    }
}
