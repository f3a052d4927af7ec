//! The query engine: orientation (radius), nearest, map (bbox) and text queries over a
//! snapshot, exact and synchronous (no tokio here).
//!
//! # How a query runs
//! 1. [`request`] parses and checks parameters; [`filter`] compiles the code filters into bit
//!    sets over small per-snapshot dictionaries.
//! 2. [`search`] picks a plan: a nearest-first walk of the R-tree that stops as soon as the
//!    page is certain (distance order, no text), an enumeration of the positions of a region
//!    (radius, bbox, or everything), or a walk of the text posting list restricted to the
//!    doc-id ranges of a region.
//! 3. Candidates are checked against dense per-offer columns ([`columns`]), kept in a bounded
//!    top-k heap, and only the page is rendered ([`render`]).
//!
//! Doc ids follow a Hilbert order of positions ([`layout`]); see `ARCHITECTURE.md` for why this
//! is fast. [`reference`] is a brute-force implementation of the same semantics used by the
//! tests as an oracle.

pub mod columns;
pub mod filter;
pub mod layout;
pub mod lookup;
pub mod persist;
pub mod postings;
pub mod reference;
pub mod render;
pub mod request;
pub mod response;
pub mod search;
pub mod summary;
pub mod text;

use std::path::Path;
use std::time::Instant;

use rstar::RTree;
use rstar::primitives::GeomWithData;

use crate::snapshot::{Manifest, Snapshot, SnapshotData, TEXT_DIR};
pub use columns::Columns;
pub use layout::Layout;
pub use request::{ParamError, SearchRequest, SortKey};
pub use response::SearchResponse;

/// A point on the unit sphere carrying a position id.
pub type SpherePoint = GeomWithData<[f64; 3], u32>;
/// A lon/lat point carrying a position id.
pub type PlanePoint = GeomWithData<[f64; 2], u32>;

/// Why an engine could not be built from a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("text index in {path}: {reason}")]
    Text { path: String, reason: String },
    #[error("{0}")]
    EngineFile(String),
}

/// A searchable snapshot: the data, its layout, columns, spatial and text indexes.
pub struct Engine {
    pub manifest: Manifest,
    pub data: SnapshotData,
    pub layout: Layout,
    pub columns: Columns,
    /// Positions on the unit sphere (distance queries).
    pub sphere: RTree<SpherePoint>,
    /// Positions in lon/lat (bbox queries).
    pub plane: RTree<PlanePoint>,
    pub text: Option<text::TextIndex>,
    /// Bounding box of all positions, degrees: (min_lon, min_lat, max_lon, max_lat).
    pub extent: [f64; 4],
    /// INSEE code → index in `data.communes` (the current commune first).
    pub commune_index: rustc_hash::FxHashMap<crate::model::Code, u32>,
    /// Labels of the dictionary ids of the coded columns, for rendering without lookups.
    pub labels: render::Labels,
    /// Bitmaps per code and flag, for large regions.
    pub postings: postings::Postings,
    /// What the docs at each position can match, for skipping positions in walks.
    pub summaries: summary::PositionSummaries,
    /// EG and commune indexes for lookups.
    pub lookups: lookup::Lookups,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("snapshot", &self.manifest.snapshot_id)
            .field("offers", &self.data.dataset.offers.len())
            .field("positions", &self.layout.positions.len())
            .finish()
    }
}

impl Engine {
    /// Builds the engine of a loaded snapshot (opening its text index, if it has one).
    pub fn new(snapshot: Snapshot) -> Result<Engine, EngineError> {
        let Snapshot { dir, manifest, data } = snapshot;
        let text_dir = dir.join(TEXT_DIR);
        let text_dir = text_dir.is_dir().then_some(text_dir.as_path());
        match persist::read(&dir, &data).map_err(EngineError::EngineFile)? {
            Some((layout, columns)) => Engine::assemble(manifest, data, layout, columns, text_dir),
            None => Engine::from_parts(manifest, data, text_dir),
        }
    }

    /// Builds an engine from data and an optional text index directory, computing the layout
    /// and columns (snapshots written by ror-search carry them in `engine.bin`).
    pub fn from_parts(manifest: Manifest, data: SnapshotData, text_dir: Option<&Path>) -> Result<Engine, EngineError> {
        let layout = Layout::new(&data.dataset, &data.communes);
        let columns = Columns::new(&data, &layout);
        Engine::assemble(manifest, data, layout, columns, text_dir)
    }

    /// Builds the spatial trees and opens the text index around a layout and columns.
    pub fn assemble(
        manifest: Manifest,
        data: SnapshotData,
        layout: Layout,
        columns: Columns,
        text_dir: Option<&Path>,
    ) -> Result<Engine, EngineError> {
        let started = Instant::now();
        let (((sphere, plane), (postings, summaries)), text) = rayon::join(
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
                text_dir.map(|dir| {
                    text::TextIndex::open(dir, &layout)
                        .map_err(|reason| EngineError::Text { path: dir.display().to_string(), reason })
                })
            },
        );
        let text = text.transpose()?;
        let mut extent = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for point in &layout.positions {
            extent[0] = extent[0].min(point.lon);
            extent[1] = extent[1].min(point.lat);
            extent[2] = extent[2].max(point.lon);
            extent[3] = extent[3].max(point.lat);
        }
        tracing::debug!(
            snapshot = %manifest.snapshot_id,
            offers = data.dataset.offers.len(),
            positions = layout.positions.len(),
            seconds = started.elapsed().as_secs_f64(),
            "engine ready"
        );
        let mut commune_index = rustc_hash::FxHashMap::default();
        for (index, commune) in data.communes.iter().enumerate() {
            commune_index.entry(commune.code.clone()).or_insert(index as u32);
        }
        let labels = render::Labels::new(&columns.dictionaries);
        let lookups = lookup::Lookups::new(&data.dataset, &data.communes);
        Ok(Engine {
            manifest,
            data,
            layout,
            columns,
            sphere,
            plane,
            text,
            extent,
            commune_index,
            labels,
            postings,
            summaries,
            lookups,
        })
    }

    /// Loads a snapshot directory and builds its engine.
    pub fn open(dir: &Path) -> Result<Engine, anyhow::Error> {
        let snapshot = crate::snapshot::load(dir)?;
        Ok(Engine::new(snapshot)?)
    }

    /// The snapshot id.
    pub fn snapshot_id(&self) -> &str {
        &self.manifest.snapshot_id
    }

    /// Approximate heap memory of the engine's own structures (columns, layout, trees), bytes;
    /// the dataset itself is measured by the benches with the process's resident memory.
    pub fn index_bytes(&self) -> usize {
        self.columns.heap_bytes()
            + self.layout.offer_of_doc.len() * 12
            + self.layout.positions.len() * (16 + 4 + 24 + 16 + 8)
    }
}
