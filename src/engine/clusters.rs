//! Map clusters: the matches of a search inside a viewport, counted per cell of the web-mercator
//! tile grid (the `z/x/y` keys of Elasticsearch's `geotile_grid`), with the property names map
//! clients style on (supercluster's `cluster`, `cluster_id`, `point_count`,
//! `point_count_abbreviated`).
//!
//! A request at map zoom `z` counts in cells of grid precision `z + CELL_PRECISION_OFFSET` (a
//! 256-pixel tile holds 8 × 8 cells of 32 pixels). A cell whose matches all stand on one
//! position is not a cluster but that position, its co-located offers grouped (thousands of
//! FINESS establishments share a position); so is every position from [`MAX_CLUSTER_ZOOM`]
//! on. The cells partition the matches: their counts add up to the `total` of the same search.

use super::access::{Access, CapacityVisibility};
use super::columns::{Columns, bit};
use super::layout::Layout;
use super::live::PositionCapacity;
use super::plan::envelopes;
use super::request::{BBox, SearchRequest};
use super::search::{Exception, ExceptionalDocs, Positioned};
use super::{Engine, ParamError};
use crate::util::geo::GeoPoint;
use rstar::{AABB, Envelope};

/// Cells per tile side, as a power of two: a 256-pixel tile holds 8 × 8 cells of 32 pixels.
pub const CELL_PRECISION_OFFSET: u8 = 3;

/// From this map zoom on, every position is shown on its own.
pub const MAX_CLUSTER_ZOOM: u8 = 17;

/// The highest map zoom accepted.
pub const MAX_ZOOM: u8 = 22;

/// Web mercator's latitude limit, degrees.
const MAX_MERCATOR_LAT: f64 = 85.051_128_779_806_59;

/// supercluster's abbreviation of a count: `999`, `1.2k`, `12k`.
pub fn abbreviate(count: usize) -> String {
    if count >= 10_000 {
        format!("{}k", (count as f64 / 1000.0).round())
    } else if count >= 1000 {
        format!("{}k", (count as f64 / 100.0).round() / 10.0)
    } else {
        count.to_string()
    }
}

/// What one feature sums over its matches: the counts the caller's profile sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    /// Places available now (status `02`, temporality `01`), over the offers whose operational
    /// capacity the profile sees.
    pub available: u64,
    /// Crisis places at T0, over the offers whose supplementary capacity the profile sees.
    pub crisis_t0: u64,
    /// Crisis places at T60, likewise.
    pub crisis_t60: u64,
}

/// A cell of several positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Grid precision of the cell (the request's zoom + [`CELL_PRECISION_OFFSET`]).
    pub precision: u8,
    /// Tile column.
    pub x: u32,
    /// Tile row.
    pub y: u32,
    /// Matching offers in the cell.
    pub count: usize,
    /// Distinct positions among them.
    pub positions: usize,
    /// The mean position of its matches (where the cluster is drawn).
    pub centre: GeoPoint,
    /// The box of its matches' positions.
    pub bounds: BBox,
    /// The smallest map zoom at which its matches fall in more than one cell (zooming there
    /// splits the cluster).
    pub expansion_zoom: u8,
    /// Sums over its matches.
    pub sums: Sums,
}

impl Cell {
    /// A number naming the cell (precision, x and y packed; below 2^53, exact in JSON).
    pub fn id(&self) -> u64 {
        (u64::from(self.precision) << 48) | (u64::from(self.x) << 24) | u64::from(self.y)
    }

    /// Its `geotile_grid` key, `precision/x/y`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.precision, self.x, self.y)
    }
}

/// One position and the matching offers standing on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The position.
    pub point: GeoPoint,
    /// The offers (dataset indexes, ascending).
    pub offers: Vec<u32>,
    /// Sums over them.
    pub sums: Sums,
}

/// One feature of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    /// Several positions counted together.
    Cell(Cell),
    /// One position.
    Group(Group),
}

/// The clusters of a viewport.
#[derive(Debug, Clone, PartialEq)]
pub struct Clusters {
    /// The map zoom asked.
    pub zoom: u8,
    /// Every match in the viewport (the sum of the features' counts).
    pub total: usize,
    /// The features, in tile order (x, then y, of the cells at the grid precision; the groups
    /// of one cell west to east, then north to south).
    pub features: Vec<Feature>,
}

/// Positions per block of the map grid's scan (see [`MapGrid`]).
const BLOCK_LEN: usize = 32;

/// The positions of a snapshot on the map grid.
#[derive(Debug)]
pub(crate) struct MapGrid {
    /// Every position in Z order of its fixed point ([`z_key`], ties by id), with what a scan
    /// reads of it: the positions of any tile at any precision are one run of it, so a scan
    /// meets the cells one after another, reading memory in order, and nothing is sorted.
    scan: Vec<ScanEntry>,
    /// Per position id, its index in `scan` (see [`MapGrid::entry`]).
    rank: Vec<u32>,
    /// `scan` cut in runs of [`BLOCK_LEN`]: a block inside one cell and inside the viewport
    /// is added to it whole, from what it sums (the live view keeps each block's capacity
    /// sums, [`LiveView::map_block`]), its exceptional positions put right one by one.
    blocks: Vec<Block>,
    /// Indexes in `scan` of the positions with exceptional docs, block after block.
    block_exceptional: Vec<u32>,
    /// Per position, its docs that are sensitive or may close.
    exceptional: ExceptionalDocs,
}

/// A position as a scan of the map grid reads it.
#[derive(Debug, Clone)]
struct ScanEntry {
    point: GeoPoint,
    /// Its web-mercator fixed point (see [`mercator`]).
    mercator: [u32; 2],
    position: u32,
    docs: std::ops::Range<u32>,
    /// Its docs in [`MapGrid::exceptional`].
    exceptional: std::ops::Range<u32>,
}

impl ScanEntry {
    /// Whether it has a doc neither sensitive nor closing: one a search without doc-level
    /// filters always matches, so the position is always shown.
    fn is_solid(&self) -> bool {
        self.exceptional.len() < self.docs.len()
    }
}

/// A run of [`BLOCK_LEN`] positions of the scan.
#[derive(Debug, Clone)]
struct Block {
    /// The box of its positions, lon/lat (whether it is inside the viewport).
    extent: AABB<[f64; 2]>,
    /// What its solid positions ([`ScanEntry::is_solid`]) add to a cell, every doc of theirs
    /// counted, sums left to the live view.
    solid: Part,
    /// Its positions with exceptional docs, in [`MapGrid::block_exceptional`].
    exceptional: std::ops::Range<u32>,
}

impl MapGrid {
    /// The docs of each position that are sensitive or may close.
    pub(crate) fn exceptional_docs(&self) -> &ExceptionalDocs {
        &self.exceptional
    }

    pub(crate) fn new(layout: &Layout, columns: &Columns) -> MapGrid {
        let mercator: Vec<[u32; 2]> = layout.positions.iter().map(|point| mercator(*point)).collect();
        let exceptional = ExceptionalDocs::new(layout, columns);
        let order = z_order(&mercator);
        let mut rank = vec![0; order.len()];
        for (index, &position) in order.iter().enumerate() {
            rank[position as usize] = index as u32;
        }
        let scan: Vec<ScanEntry> = order
            .into_iter()
            .map(|position| ScanEntry {
                point: layout.positions[position as usize],
                mercator: mercator[position as usize],
                position,
                docs: layout.docs_at(position),
                exceptional: exceptional.range_of(position),
            })
            .collect();
        let mut block_exceptional = Vec::new();
        let blocks = scan
            .chunks(BLOCK_LEN)
            .enumerate()
            .map(|(block, entries)| {
                let extent = entries
                    .iter()
                    .map(|entry| AABB::from_point([entry.point.lon, entry.point.lat]))
                    .reduce(|extent, point| extent.merged(&point))
                    .expect("a block holds a position");
                let mut solid = Part::EMPTY;
                let first = block_exceptional.len() as u32;
                for (offset, entry) in entries.iter().enumerate() {
                    if !entry.exceptional.is_empty() {
                        block_exceptional.push((block * BLOCK_LEN + offset) as u32);
                    }
                    if entry.is_solid() {
                        solid.add(&Part::of(entry.point, entry.mercator, entry.docs.len(), Sums::default()));
                    }
                }
                Block { extent, solid, exceptional: first..block_exceptional.len() as u32 }
            })
            .collect();
        MapGrid { scan, rank, blocks, block_exceptional, exceptional }
    }

    /// The scan's entry of a position.
    fn entry(&self, position: u32) -> &ScanEntry {
        &self.scan[self.rank[position as usize] as usize]
    }

    /// How many blocks the scan has.
    pub(crate) fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The block of a position.
    pub(crate) fn block_of(&self, position: u32) -> usize {
        self.rank[position as usize] as usize / BLOCK_LEN
    }
}

/// What some positions add to a cell.
#[derive(Debug, Clone, Copy)]
struct Part {
    /// Matches.
    count: usize,
    /// Distinct positions.
    positions: usize,
    /// Latitudes and longitudes of the matches, summed (one per match).
    lat_sum: f64,
    lon_sum: f64,
    /// The box of the positions.
    bounds: BBox,
    /// The bitwise or, and the bitwise and, of the positions' fixed points: the bits in which
    /// they differ are `or ^ and`.
    or: [u32; 2],
    and: [u32; 2],
    sums: Sums,
}

impl Part {
    /// No position.
    const EMPTY: Part = Part {
        count: 0,
        positions: 0,
        lat_sum: 0.0,
        lon_sum: 0.0,
        bounds: BBox {
            min_lon: f64::INFINITY,
            min_lat: f64::INFINITY,
            max_lon: f64::NEG_INFINITY,
            max_lat: f64::NEG_INFINITY,
        },
        or: [0; 2],
        and: [u32::MAX; 2],
        sums: Sums { available: 0, crisis_t0: 0, crisis_t60: 0 },
    };

    /// One position with `count` matches.
    fn of(point: GeoPoint, mercator: [u32; 2], count: usize, sums: Sums) -> Part {
        Part {
            count,
            positions: 1,
            lat_sum: point.lat * count as f64,
            lon_sum: point.lon * count as f64,
            bounds: BBox { min_lon: point.lon, min_lat: point.lat, max_lon: point.lon, max_lat: point.lat },
            or: mercator,
            and: mercator,
            sums,
        }
    }

    fn add(&mut self, other: &Part) {
        self.count += other.count;
        self.positions += other.positions;
        self.lat_sum += other.lat_sum;
        self.lon_sum += other.lon_sum;
        self.bounds.min_lon = self.bounds.min_lon.min(other.bounds.min_lon);
        self.bounds.max_lon = self.bounds.max_lon.max(other.bounds.max_lon);
        self.bounds.min_lat = self.bounds.min_lat.min(other.bounds.min_lat);
        self.bounds.max_lat = self.bounds.max_lat.max(other.bounds.max_lat);
        self.or = [self.or[0] | other.or[0], self.or[1] | other.or[1]];
        self.and = [self.and[0] & other.and[0], self.and[1] & other.and[1]];
        self.sums.add(other.sums);
    }

    /// The bits in which the positions' fixed points differ (x and y merged).
    fn differing(&self) -> u32 {
        (self.or[0] ^ self.and[0]) | (self.or[1] ^ self.and[1])
    }
}

/// Position ids in Z order of their fixed points (ties by id).
fn z_order(mercator: &[[u32; 2]]) -> Vec<u32> {
    let mut keyed: Vec<(u64, u32)> =
        mercator.iter().enumerate().map(|(position, fixed)| (z_key(*fixed), position as u32)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, position)| position).collect()
}

/// The Z-order (Morton) key of a fixed-point position: the bits of x and y interleaved from the
/// top, x first. The tile of precision `p` is the key's top `2p` bits.
fn z_key([x, y]: [u32; 2]) -> u64 {
    fn spread(value: u32) -> u64 {
        let mut bits = u64::from(value);
        bits = (bits | (bits << 16)) & 0x0000_ffff_0000_ffff;
        bits = (bits | (bits << 8)) & 0x00ff_00ff_00ff_00ff;
        bits = (bits | (bits << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        bits = (bits | (bits << 2)) & 0x3333_3333_3333_3333;
        (bits | (bits << 1)) & 0x5555_5555_5555_5555
    }
    (spread(x) << 1) | spread(y)
}

/// The matches standing on one position.
#[derive(Debug, Clone)]
struct Tally {
    /// Its position id.
    position: u32,
    point: GeoPoint,
    /// Web-mercator fixed point (see [`mercator`]).
    mercator: [u32; 2],
    /// Its matches.
    matches: Matches,
    sums: Sums,
}

/// Where a position's matches are.
#[derive(Debug, Clone)]
enum Matches {
    /// `offers[start..end]` of the walk (its offers, collected doc by doc).
    Collected { start: usize, end: usize },
    /// Every doc of the position (counted whole, its offers read only if it is shown alone).
    Whole(std::ops::Range<u32>),
    /// Every doc of the position but the docs `offers[excluded]` of the walk (ascending).
    WholeBut { docs: std::ops::Range<u32>, excluded: std::ops::Range<usize> },
}

impl Tally {
    fn count(&self) -> usize {
        match &self.matches {
            Matches::Collected { start, end } => end - start,
            Matches::Whole(docs) => docs.len(),
            Matches::WholeBut { docs, excluded } => docs.len() - excluded.len(),
        }
    }

    /// Where its part of the walk's `offers` starts (their length when it has none).
    fn offers_start(&self, offers_len: usize) -> usize {
        match &self.matches {
            Matches::Collected { start, .. } | Matches::WholeBut { excluded: std::ops::Range { start, .. }, .. } => {
                *start
            }
            Matches::Whole(_) => offers_len,
        }
    }

    /// Its part of the walk's `offers` moved `by` places down.
    fn shift_offers(&mut self, by: usize) {
        match &mut self.matches {
            Matches::Collected { start, end } | Matches::WholeBut { excluded: std::ops::Range { start, end }, .. } => {
                (*start, *end) = (*start - by, *end - by);
            }
            Matches::Whole(_) => {}
        }
    }

    /// Its matching offers, ascending.
    fn offers(&self, offers: &[u32], offer_of_doc: &[u32]) -> Vec<u32> {
        let mut group: Vec<u32> = match &self.matches {
            Matches::Collected { start, end } => offers[*start..*end].to_vec(),
            Matches::Whole(docs) => docs.clone().map(|doc| offer_of_doc[doc as usize]).collect(),
            Matches::WholeBut { docs, excluded } => {
                let excluded = &offers[excluded.clone()];
                docs.clone()
                    .filter(|doc| excluded.binary_search(doc).is_err())
                    .map(|doc| offer_of_doc[doc as usize])
                    .collect()
            }
        };
        group.sort_unstable();
        group
    }
}

/// A point in web-mercator fixed point: x and y in units of 2^-32 of the world's width, as
/// tiles number them; the tile at precision `p` is `(x >> (32 - p), y >> (32 - p))`.
pub fn mercator(point: GeoPoint) -> [u32; 2] {
    let lat = point.lat.clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT).to_radians();
    let x = (point.lon + 180.0) / 360.0;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    let fixed = |fraction: f64| (fraction * 4_294_967_296.0).floor().clamp(0.0, f64::from(u32::MAX)) as u32;
    [fixed(x), fixed(y)]
}

fn tile_at(mercator: [u32; 2], precision: u8) -> (u32, u32) {
    let shift = 32 - u32::from(precision.min(29));
    // precision 0: one tile (a shift by 32 would overflow)
    (mercator[0].checked_shr(shift).unwrap_or(0), mercator[1].checked_shr(shift).unwrap_or(0))
}

impl Engine {
    /// The matches of `request` (which must have a `bbox`: the viewport) clustered for map zoom
    /// `zoom` (0-[`MAX_ZOOM`]). Filters, live capacities and the caller's profiles apply as in
    /// [`Engine::search`]; sorting, paging and the centre do not change the answer.
    pub fn clusters(&self, request: &SearchRequest, zoom: u8) -> Result<Clusters, ParamError> {
        if request.bbox.is_none() {
            return Err(ParamError::new("bbox", "is required: the viewport, min_lon,min_lat,max_lon,max_lat"));
        }
        if zoom > MAX_ZOOM {
            return Err(ParamError::new("zoom", format!("{zoom} is out of range: expected 0 to {MAX_ZOOM}")));
        }
        let live = self.live.load_full();
        let index = &self.index;
        let grid = &index.map_grid;
        let access = Access::new(request.profiles);
        let columns = &index.columns;
        // What the profile sees of a position's sums, [medico-social], for its docs that are not
        // sensitive (the sums count every doc; the exceptional ones are put right one by one).
        let seen = [false, true].map(|medico_social| access.capacity(medico_social, false));
        let counts_of = |doc: u32| {
            let counts = live.counts(doc);
            [counts.available, counts.crisis_t0, counts.crisis_t60].map(u64::from)
        };
        // Sums counted from live position sums as `seen`, put right for the exceptions (docs
        // counted there): those that do not match taken out, the others as the profile sees them.
        let correct = |sums: &mut Sums, exceptions: &[Exception]| {
            for exception in exceptions {
                let doc = exception.doc as usize;
                let class = usize::from(bit(&columns.medico_social, doc));
                let shown = exception.matches.then(|| access.capacity_of_doc(columns, doc));
                if shown == Some(seen[class]) {
                    continue; // counted in the sums as it is seen
                }
                let counts = counts_of(exception.doc);
                sums.remove_seen(seen[class], counts);
                if let Some(shown) = shown {
                    sums.add_seen(shown, counts);
                }
            }
        };
        // What the profile sees of a position's live sums.
        let plain = |capacity: &PositionCapacity| {
            let mut sums = Sums::default();
            for (class, seen) in seen.iter().enumerate() {
                sums.add_seen(*seen, capacity.sums[class].map(u64::from));
            }
            sums
        };
        // The tally of a position counted whole but for the exceptions that do not match; its
        // excluded docs go to `offers`.
        let whole = |position: u32, range: std::ops::Range<u32>, exceptions: &[Exception], offers: &mut Vec<u32>| {
            let capacity = live.position(position);
            let sums = if capacity.saturated() {
                // a saturated sum: every doc counted on its own
                let mut sums = Sums::default();
                let mut exception = exceptions.iter().peekable();
                for doc in range.clone() {
                    let skipped = exception.next_if(|exception| exception.doc == doc);
                    if skipped.is_none_or(|exception| exception.matches) {
                        sums.add_seen(access.capacity_of_doc(columns, doc as usize), counts_of(doc));
                    }
                }
                sums
            } else {
                let mut sums = plain(capacity);
                correct(&mut sums, exceptions);
                sums
            };
            let matches = if exceptions.iter().all(|exception| exception.matches) {
                Matches::Whole(range)
            } else {
                let start = offers.len();
                offers.extend(exceptions.iter().filter(|exception| !exception.matches).map(|exception| exception.doc));
                Matches::WholeBut { docs: range, excluded: start..offers.len() }
            };
            (matches, sums)
        };
        let walk = index.positioned_walk(&live, request)?;
        let offer_of_doc = &index.layout.offer_of_doc;
        let mut exceptions = Vec::new();
        if walk.is_whole_scan() {
            // the map grid's scan: its positions in Z order, streamed into cells, a block at a
            // time where a block lies inside a cell and the viewport
            let mut builder = CellBuilder::new(zoom, offer_of_doc);
            let bbox = walk.bbox();
            let envelopes = bbox.map(envelopes);
            let scan = &grid.scan;
            let visit = |entry: &ScanEntry, builder: &mut CellBuilder, exceptions: &mut Vec<Exception>| {
                if bbox.is_some_and(|bbox| !bbox.contains(entry.point)) {
                    return;
                }
                exceptions.clear();
                if !entry.exceptional.is_empty() {
                    let excluded = walk.exceptions(grid.exceptional.slice(entry.exceptional.clone()), exceptions);
                    if excluded == entry.docs.len() {
                        return;
                    }
                }
                let (matches, sums) = whole(entry.position, entry.docs.clone(), exceptions, &mut builder.offers);
                let (position, point, mercator) = (entry.position, entry.point, entry.mercator);
                builder.push(Tally { position, point, mercator, matches, sums });
            };
            // Adds block `number` (inside the cell `key`) whole; false when it must be visited
            // position by position (partly outside the viewport, a saturated sum, fewer than
            // two solid positions: then it could be a cell's only position).
            let add_block = |number: usize, key: u64, builder: &mut CellBuilder, exceptions: &mut Vec<Exception>| {
                let block = &grid.blocks[number];
                if let Some(envelopes) = &envelopes {
                    if !envelopes.iter().any(|envelope| envelope.intersects(&block.extent)) {
                        return true; // outside
                    }
                    if !envelopes.iter().any(|envelope| envelope.contains_envelope(&block.extent)) {
                        return false;
                    }
                }
                let held = live.map_block(number);
                if held.saturated > 0 || block.solid.positions < 2 {
                    return false;
                }
                let mut part = block.solid;
                for (class, seen) in seen.iter().enumerate() {
                    part.sums.add_seen(*seen, held.sums[class]);
                }
                for &index in &grid.block_exceptional[block.exceptional.start as usize..block.exceptional.end as usize]
                {
                    let entry = &scan[index as usize];
                    if entry.is_solid() {
                        // shown: its count and sums put right
                        let excluded = walk.exceptions(grid.exceptional.slice(entry.exceptional.clone()), exceptions);
                        correct(&mut part.sums, exceptions);
                        part.count -= excluded;
                        part.lat_sum -= entry.point.lat * excluded as f64;
                        part.lon_sum -= entry.point.lon * excluded as f64;
                    } else {
                        // counted on its own, if it is shown at all
                        part.sums.remove(plain(live.position(entry.position)));
                        visit(entry, builder, exceptions);
                    }
                }
                let range = number * BLOCK_LEN..((number + 1) * BLOCK_LEN).min(scan.len());
                let last = &scan[range.end - 1];
                builder.push_part(key, scan[range.start].mercator, part, (z_key(last.mercator), last.position));
                true
            };
            if zoom >= MAX_CLUSTER_ZOOM {
                // every position shown on its own
                for entry in scan {
                    visit(entry, &mut builder, &mut exceptions);
                }
                return Ok(builder.finish());
            }
            let cell_shift = builder.cell_shift;
            let key_of = |entry: &ScanEntry| z_key(entry.mercator) >> cell_shift;
            let mut start = 0;
            while start < scan.len() {
                // the cell of `scan[start]`: a run of the scan
                let key = key_of(&scan[start]);
                let end = start + scan[start..].partition_point(|entry| key_of(entry) == key);
                let mut next = start;
                for number in start.div_ceil(BLOCK_LEN)..end / BLOCK_LEN {
                    let block_start = number * BLOCK_LEN;
                    for entry in &scan[next..block_start] {
                        visit(entry, &mut builder, &mut exceptions);
                    }
                    if !add_block(number, key, &mut builder, &mut exceptions) {
                        for entry in &scan[block_start..block_start + BLOCK_LEN] {
                            visit(entry, &mut builder, &mut exceptions);
                        }
                    }
                    next = block_start + BLOCK_LEN;
                }
                for entry in &scan[next..end] {
                    visit(entry, &mut builder, &mut exceptions);
                }
                start = end;
            }
            return Ok(builder.finish());
        }
        if walk.scans_positions() {
            // doc-level filters over every position: the grid's scan, each position's matches
            // collected, streamed into cells
            let mut builder = CellBuilder::new(zoom, offer_of_doc);
            let bbox = walk.bbox();
            for entry in &grid.scan {
                if bbox.is_some_and(|bbox| !bbox.contains(entry.point)) {
                    continue;
                }
                let start = builder.offers.len();
                let mut sums = Sums::default();
                walk.position_matches(entry.position, entry.docs.clone(), |doc| {
                    builder.offers.push(offer_of_doc[doc as usize]);
                    sums.add_seen(access.capacity_of_doc(columns, doc as usize), counts_of(doc));
                });
                let end = builder.offers.len();
                if end > start {
                    let (position, point, mercator) = (entry.position, entry.point, entry.mercator);
                    builder.push(Tally { position, point, mercator, matches: Matches::Collected { start, end }, sums });
                }
            }
            return Ok(builder.finish());
        }
        // any other walk: its tallies collected, then sorted into Z order
        let mut tallies: Vec<Tally> = Vec::new();
        let mut offers = Vec::new();
        let tally = |position: u32, matches: Matches, sums: Sums| {
            let &ScanEntry { point, mercator, .. } = grid.entry(position);
            Tally { position, point, mercator, matches, sums }
        };
        walk.run(&grid.exceptional, &mut |step| match step {
            Positioned::Whole { position, docs, exceptions } => {
                let (matches, sums) = whole(position, docs, exceptions, &mut offers);
                tallies.push(tally(position, matches, sums));
            }
            Positioned::Doc(position, doc) => {
                let start = offers.len();
                offers.push(offer_of_doc[doc as usize]);
                let seen = access.capacity_of_doc(columns, doc as usize);
                match tallies.last_mut() {
                    // the next doc of the position being collected
                    Some(Tally { position: last, matches: Matches::Collected { end, .. }, sums, .. })
                        if *last == position =>
                    {
                        *end = offers.len();
                        sums.add_seen(seen, counts_of(doc));
                    }
                    _ => {
                        let mut sums = Sums::default();
                        sums.add_seen(seen, counts_of(doc));
                        tallies.push(tally(position, Matches::Collected { start, end: offers.len() }, sums));
                    }
                }
            }
        });
        Ok(cluster_unordered(tallies, offers, offer_of_doc, zoom))
    }
}

/// Clusters tallies met in any order: sorted into Z order, then streamed into cells; `offers`
/// holds every tally's (none is dropped as cells close).
fn cluster_unordered(mut tallies: Vec<Tally>, offers: Vec<u32>, offer_of_doc: &[u32], zoom: u8) -> Clusters {
    tallies.sort_by_cached_key(|tally| (z_key(tally.mercator), tally.position));
    let mut builder = CellBuilder::new(zoom, offer_of_doc);
    (builder.offers, builder.keep_offers) = (offers, true);
    for tally in tallies {
        builder.push(tally);
    }
    builder.finish()
}

/// Builds the features of a clustering from the positions' tallies, pushed in Z order (ties by
/// position id): they are grouped into cells as they come, a cell being a run of that order,
/// and only the open cell is held.
struct CellBuilder<'a> {
    zoom: u8,
    precision: u8,
    /// A tally's cell is its Z key shifted by this.
    cell_shift: u32,
    offer_of_doc: &'a [u32],
    /// The offers of the tallies collected doc by doc (`Matches::Collected` ranges) and the
    /// docs excluded from those counted whole (`Matches::WholeBut`): those from the open cell
    /// on, unless `keep_offers`.
    offers: Vec<u32>,
    /// Whether `offers` holds every tally's, pushed or not (tallies collected, then sorted):
    /// none is dropped as cells close.
    keep_offers: bool,
    /// The last tally streamed, `(z, position)` (checked in debug builds).
    last: Option<(u64, u32)>,
    cell: Option<OpenCell>,
    /// The open cell's tallies, when each is shown on its own (from [`MAX_CLUSTER_ZOOM`] on).
    members: Vec<Tally>,
    features: Vec<((u32, u32), Feature)>,
    total: usize,
}

/// The cell being built, what it sums so far.
struct OpenCell {
    key: u64,
    /// Its tile at the grid precision.
    tile: (u32, u32),
    part: Part,
    /// Its first tally, when a tally opened it (the group it is if it holds no other; a block
    /// adds at least two positions).
    first: Option<Tally>,
}

impl<'a> CellBuilder<'a> {
    fn new(zoom: u8, offer_of_doc: &'a [u32]) -> CellBuilder<'a> {
        let precision = zoom + CELL_PRECISION_OFFSET;
        CellBuilder {
            zoom,
            precision,
            cell_shift: 64 - 2 * u32::from(precision),
            offer_of_doc,
            offers: Vec::new(),
            keep_offers: false,
            last: None,
            cell: None,
            members: Vec::new(),
            features: Vec::new(),
            total: 0,
        }
    }

    #[inline]
    fn push(&mut self, mut tally: Tally) {
        let z = z_key(tally.mercator);
        debug_assert!(self.last < Some((z, tally.position)), "tallies pushed out of Z order");
        self.last = Some((z, tally.position));
        let key = z >> self.cell_shift;
        if self.cell.as_ref().is_some_and(|cell| cell.key != key) {
            // the offers before this tally's belong to the closed cell
            let keep_from = tally.offers_start(self.offers.len());
            self.close();
            if !self.keep_offers {
                self.offers.drain(..keep_from);
                tally.shift_offers(keep_from);
            }
        }
        let count = tally.count();
        self.total += count;
        let part = Part::of(tally.point, tally.mercator, count, tally.sums);
        match &mut self.cell {
            Some(cell) => {
                cell.part.add(&part);
                if self.zoom >= MAX_CLUSTER_ZOOM {
                    self.members.push(tally);
                }
            }
            None => {
                if self.zoom >= MAX_CLUSTER_ZOOM {
                    self.members.push(tally.clone());
                }
                let tile = tile_at(tally.mercator, self.precision);
                self.cell = Some(OpenCell { key, tile, part, first: Some(tally) });
            }
        }
    }

    /// Adds positions of the cell `key` (one of them at fixed point `mercator`) counted
    /// together: at least two, none shown on its own (below [`MAX_CLUSTER_ZOOM`]); `last` is
    /// the Z key and id of the last position of the scan they stand for.
    fn push_part(&mut self, key: u64, mercator: [u32; 2], part: Part, last: (u64, u32)) {
        debug_assert!(self.zoom < MAX_CLUSTER_ZOOM && part.positions >= 2 && !self.keep_offers);
        debug_assert!(self.last < Some(last), "positions pushed out of Z order");
        self.last = Some(last);
        if self.cell.as_ref().is_some_and(|cell| cell.key != key) {
            self.close();
            self.offers.clear(); // the closed cell's
        }
        self.total += part.count;
        match &mut self.cell {
            Some(cell) => cell.part.add(&part),
            None => {
                let tile = tile_at(mercator, self.precision);
                self.cell = Some(OpenCell { key, tile, part, first: None });
            }
        }
    }

    /// Turns the open cell into its features: one cell, or its positions' groups.
    fn close(&mut self) {
        let Some(cell) = self.cell.take() else { return };
        let (x, y) = cell.tile;
        let alone = cell.part.positions == 1 && cell.first.is_some();
        if alone || self.zoom >= MAX_CLUSTER_ZOOM {
            let mut members = if self.zoom >= MAX_CLUSTER_ZOOM {
                std::mem::take(&mut self.members)
            } else {
                cell.first.into_iter().collect()
            };
            // west to east, then north to south
            members.sort_unstable_by_key(|tally| (tally.mercator, tally.position));
            for tally in members {
                let group = tally.offers(&self.offers, self.offer_of_doc);
                self.features
                    .push(((x, y), Feature::Group(Group { point: tally.point, offers: group, sums: tally.sums })));
            }
            return;
        }
        let part = cell.part;
        let feature = Cell {
            precision: self.precision,
            x,
            y,
            count: part.count,
            positions: part.positions,
            centre: GeoPoint { lat: part.lat_sum / part.count as f64, lon: part.lon_sum / part.count as f64 },
            bounds: part.bounds,
            expansion_zoom: expansion_zoom(part.differing(), self.zoom),
            sums: part.sums,
        };
        self.features.push(((x, y), Feature::Cell(feature)));
    }

    /// The clusters: features in tile order (x, then y; a cell's groups keep their order).
    fn finish(mut self) -> Clusters {
        self.close();
        self.features.sort_by_key(|(cell, _)| *cell);
        Clusters {
            zoom: self.zoom,
            total: self.total,
            features: self.features.into_iter().map(|(_, feature)| feature).collect(),
        }
    }
}

impl Sums {
    fn add(&mut self, more: Sums) {
        self.available += more.available;
        self.crisis_t0 += more.crisis_t0;
        self.crisis_t60 += more.crisis_t60;
    }

    /// Takes back sums added (these hold at least them).
    fn remove(&mut self, less: Sums) {
        self.available -= less.available;
        self.crisis_t0 -= less.crisis_t0;
        self.crisis_t60 -= less.crisis_t60;
    }

    /// Adds counts `[available, crisis T0, crisis T60]` as a profile that sees `seen` of them.
    fn add_seen(&mut self, seen: CapacityVisibility, [available, crisis_t0, crisis_t60]: [u64; 3]) {
        if seen.operational {
            self.available += available;
        }
        if seen.supplementary {
            self.crisis_t0 += crisis_t0;
            self.crisis_t60 += crisis_t60;
        }
    }

    /// Takes back what [`Sums::add_seen`] added (the sums hold at least that).
    fn remove_seen(&mut self, seen: CapacityVisibility, [available, crisis_t0, crisis_t60]: [u64; 3]) {
        if seen.operational {
            self.available -= available;
        }
        if seen.supplementary {
            self.crisis_t0 -= crisis_t0;
            self.crisis_t60 -= crisis_t60;
        }
    }
}

/// The smallest zoom above `zoom` at which a cell's positions (distinct, at least two) fall in
/// more than one cell, from `differing`, the bits in which their fixed points differ from one
/// of them; [`MAX_CLUSTER_ZOOM`] at most (where every position is shown on its own).
fn expansion_zoom(differing: u32, zoom: u8) -> u8 {
    // The first zoom whose cells tell two positions apart: where their fixed-point coordinates
    // first differ, bit by bit from the top; the highest differing bit is bit 31 - p at
    // precision p (0-based from the top)
    let precision = differing.leading_zeros() as u8 + 1;
    precision.saturating_sub(CELL_PRECISION_OFFSET).clamp(zoom + 1, MAX_CLUSTER_ZOOM)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The float formulas of slippy maps: the oracle of the fixed-point ones.
    /// The tile `(x, y)` holding `point` at grid precision `precision` (0-29), as `geotile_grid`
    /// and slippy maps number them (x eastwards from 180° W, y southwards from 85.05° N).
    fn tile_of(point: GeoPoint, precision: u8) -> (u32, u32) {
        let tiles = f64::from(1u32 << precision.min(29));
        let lat = point.lat.clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT).to_radians();
        let x = (point.lon + 180.0) / 360.0 * tiles;
        let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * tiles;
        let last = tiles - 1.0;
        (x.floor().clamp(0.0, last) as u32, y.floor().clamp(0.0, last) as u32)
    }

    /// The bounding box of tile `(x, y)` at precision `precision`.
    fn tile_bbox(precision: u8, x: u32, y: u32) -> BBox {
        let tiles = f64::from(1u32 << precision.min(29));
        let lon = |x: f64| x / tiles * 360.0 - 180.0;
        let lat = |y: f64| (std::f64::consts::PI * (1.0 - 2.0 * y / tiles)).sinh().atan().to_degrees();
        BBox {
            min_lon: lon(f64::from(x)),
            max_lon: lon(f64::from(x) + 1.0),
            min_lat: lat(f64::from(y) + 1.0),
            max_lat: lat(f64::from(y)),
        }
    }

    #[test]
    fn tiles_as_slippy_maps_number_them() {
        // Paris, Notre-Dame, at zoom 10: tile 518/352 (OpenStreetMap's numbering)
        assert_eq!(tile_of(GeoPoint { lat: 48.853, lon: 2.3499 }, 10), (518, 352));
        assert_eq!(tile_of(GeoPoint { lat: 0.0, lon: 0.0 }, 1), (1, 1));
        assert_eq!(tile_of(GeoPoint { lat: 89.9, lon: -180.0 }, 3), (0, 0));
        assert_eq!(tile_of(GeoPoint { lat: -89.9, lon: 180.0 }, 3), (7, 7));
        for precision in [0, 5, 12, 20] {
            let (x, y) = tile_of(GeoPoint { lat: 43.6, lon: 1.44 }, precision);
            assert!(tile_bbox(precision, x, y).contains(GeoPoint { lat: 43.6, lon: 1.44 }));
        }
    }

    #[test]
    fn abbreviations_as_supercluster_writes_them() {
        assert_eq!(abbreviate(999), "999");
        assert_eq!(abbreviate(1000), "1k");
        assert_eq!(abbreviate(1234), "1.2k");
        assert_eq!(abbreviate(9960), "10k");
        assert_eq!(abbreviate(12_499), "12k");
    }

    #[test]
    fn expansion_zoom_splits_the_cell() {
        let points = [GeoPoint { lat: 44.84, lon: -0.58 }, GeoPoint { lat: 44.85, lon: -0.57 }];
        let [a, b] = points.map(mercator);
        let zoom = expansion_zoom((a[0] ^ b[0]) | (a[1] ^ b[1]), 3);
        let cells = |zoom: u8| {
            let precision = zoom + CELL_PRECISION_OFFSET;
            (tile_of(points[0], precision), tile_of(points[1], precision))
        };
        assert_ne!(cells(zoom).0, cells(zoom).1);
        assert_eq!(cells(zoom - 1).0, cells(zoom - 1).1);
    }

    /// `count` points drawn uniformly in a box (WGS84 degrees), from `seed`.
    fn random_points(seed: u64, count: usize, [min_lat, min_lon, max_lat, max_lon]: [f64; 4]) -> Vec<GeoPoint> {
        let mut rng = crate::util::rng::SplitMix64::new(seed);
        (0..count)
            .map(|_| GeoPoint {
                lat: min_lat + rng.unit_f64() * (max_lat - min_lat),
                lon: min_lon + rng.unit_f64() * (max_lon - min_lon),
            })
            .collect()
    }

    #[test]
    fn every_tile_is_one_run_of_the_z_order() {
        let points = random_points(0x9e37_79b9_7f4a_7c15, 2_000, [41.0, -5.0, 51.0, 10.0]);
        let order = z_order(&points.iter().map(|point| mercator(*point)).collect::<Vec<_>>());
        for precision in [0, 3, 8, 12, 20, 25] {
            let tiles: Vec<(u32, u32)> =
                order.iter().map(|&position| tile_of(points[position as usize], precision)).collect();
            let mut seen = std::collections::HashSet::new();
            for run in tiles.chunk_by(|a, b| a == b) {
                assert!(seen.insert(run[0]), "tile {:?} at precision {precision} is split", run[0]);
            }
        }
    }

    #[test]
    fn clusters_do_not_depend_on_the_walk_order() {
        let points = random_points(7, 500, [43.0, -1.0, 49.0, 6.0]);
        let fixed: Vec<[u32; 2]> = points.iter().map(|point| mercator(*point)).collect();
        let order = z_order(&fixed);
        let tally = |position: u32| {
            let docs = position * 3..position * 3 + 1 + position % 3;
            let sums = Sums { available: u64::from(position % 5), crisis_t0: 1, crisis_t60: 2 };
            let (point, mercator) = (points[position as usize], fixed[position as usize]);
            Tally { position, point, mercator, matches: Matches::Whole(docs), sums }
        };
        let offer_of_doc: Vec<u32> = (0..1_500).rev().collect();
        for zoom in [0, 4, 7, 10, 17] {
            let by_id = cluster_unordered((0..500).map(tally).collect(), Vec::new(), &offer_of_doc, zoom);
            let mut builder = CellBuilder::new(zoom, &offer_of_doc);
            order.iter().for_each(|&position| builder.push(tally(position)));
            let by_z = builder.finish();
            assert_eq!(by_id, by_z, "zoom {zoom}");
            let precision = zoom + CELL_PRECISION_OFFSET;
            let keys: Vec<(u32, u32)> = by_z
                .features
                .iter()
                .map(|feature| match feature {
                    Feature::Cell(cell) => (cell.x, cell.y),
                    Feature::Group(group) => tile_of(group.point, precision),
                })
                .collect();
            assert!(keys.is_sorted(), "zoom {zoom}: features not in tile order");
            assert_eq!(
                by_z.total,
                by_z.features
                    .iter()
                    .map(|feature| match feature {
                        Feature::Cell(cell) => cell.count,
                        Feature::Group(group) => group.offers.len(),
                    })
                    .sum::<usize>()
            );
        }
    }

    #[test]
    fn fixed_point_tiles_equal_the_float_ones() {
        for (lat, lon) in
            [(48.853, 2.3499), (-21.11, 55.53), (16.24, -61.53), (0.0, 0.0), (85.1, 180.0), (-85.1, -180.0)]
        {
            let point = GeoPoint { lat, lon };
            for precision in 0..=29 {
                assert_eq!(tile_at(mercator(point), precision), tile_of(point, precision), "{point:?} {precision}");
            }
        }
    }
}
