//! The exact count of a request's matches, without visiting every match.
//!
//! Positions are numbered along a Hilbert curve ([`crate::engine::layout`]), so every aligned
//! square cell of its grid holds one run of consecutive positions, and their docs one run of
//! consecutive doc ids. A region (a disc around the centre, a bbox, or both) is cut into such
//! cells from the top of the quadtree down: a cell wholly inside the region is one run of
//! positions, a cell wholly outside is dropped, a cell across the edge is split until it holds
//! few positions, which are then tested one by one. The runs come out in position order,
//! touching ones merged, so a text scorer can seek along them.
//!
//! Counting a run: without doc-level filters every doc matches but the run's exceptional docs
//! (sensitive, or that may close) that fail the filter, read from a list; otherwise each
//! position's summary first, then its docs. No distance is computed inside a run, nothing is
//! collected, nothing sorted.

use std::ops::Range;

use roaring::RoaringBitmap;
use rstar::{AABB, Envelope};
use tantivy::TERMINATED;
use tantivy::query::Scorer;

use super::{BOUND_SLACK_M, Plan, envelopes};
use crate::engine::layout::{HILBERT_ORDER, HilbertSquare, hilbert_index};
use crate::engine::live::{CAPACITY_BLOCK_BITS, CAPACITY_SUPERBLOCK_BITS, CapacityPatterns};
use crate::model::GeoPoint;
use crate::util::geo::{EARTH_RADIUS_M, haversine_m};

/// A cell holding at most this many positions is not split further: its positions are tested
/// one by one.
const LEAF_POSITIONS: u32 = 32;

/// Cell edges are widened by this many degrees in every test, so that a position rounded into
/// a cell is never outside its box.
const CELL_SLACK_DEG: f64 = 1e-9;

/// What cutting a region into cells reads: the Hilbert index and unit vector of every
/// position, and the sines and cosines of the grid's lines.
#[derive(Debug, Default)]
pub(crate) struct HilbertCells {
    /// Per position, ascending (positions are numbered in this order).
    keys: Vec<u64>,
    /// Per position, its point on the unit sphere.
    units: Vec<[f64; 3]>,
    /// Per meridian `x` of the grid (longitude `-180 + x · 360 / 2^16`, slack included on
    /// the side a cell edge needs), `(sin, cos)`: `[west edge, east edge]` of a cell starting
    /// or ending there.
    lon_trig: Vec<[(f64, f64); 2]>,
    /// Per parallel `y` of the grid, likewise `[south edge, north edge]`.
    lat_trig: Vec<[(f64, f64); 2]>,
}

impl HilbertCells {
    pub(crate) fn new(positions: &[GeoPoint]) -> HilbertCells {
        let keys: Vec<u64> = positions.iter().map(|&point| hilbert_index(point)).collect();
        debug_assert!(keys.is_sorted(), "positions are in Hilbert order");
        let lines = (1usize << HILBERT_ORDER) + 1;
        let trig = |degrees: f64| degrees.to_radians().sin_cos();
        let lon_trig = (0..lines)
            .map(|x| {
                let lon = grid_lon(x as u64);
                [trig(lon - CELL_SLACK_DEG), trig(lon + CELL_SLACK_DEG)]
            })
            .collect();
        let lat_trig = (0..lines)
            .map(|y| {
                let lat = grid_lat(y as u64);
                [trig((lat - CELL_SLACK_DEG).max(-90.0)), trig((lat + CELL_SLACK_DEG).min(90.0))]
            })
            .collect();
        HilbertCells { keys, units: positions.iter().map(|point| point.unit_vector()).collect(), lon_trig, lat_trig }
    }

    /// The positions whose index is in `indexes` (its end `u64::MAX`: from its start on),
    /// searched within `within`.
    fn positions(&self, within: Range<u32>, indexes: Range<u64>) -> Range<u32> {
        let slice = &self.keys[within.start as usize..within.end as usize];
        let start = slice.partition_point(|&key| key < indexes.start) as u32;
        let end = if indexes.end == u64::MAX {
            slice.len() as u32
        } else {
            slice.partition_point(|&key| key < indexes.end) as u32
        };
        within.start + start..within.start + end
    }
}

/// The longitude of meridian `x` of the Hilbert grid.
fn grid_lon(x: u64) -> f64 {
    -180.0 + x as f64 * 360.0 / (1u64 << HILBERT_ORDER) as f64
}

/// The latitude of parallel `y` of the Hilbert grid.
fn grid_lat(y: u64) -> f64 {
    -90.0 + y as f64 * 180.0 / (1u64 << HILBERT_ORDER) as f64
}

/// How the runs of a request's region are counted, decided once.
enum Counting<'a> {
    /// No doc-level filter: every doc but the exceptional ones that fail (hidden or closed).
    Masks,
    /// Code, GIR or aide-sociale filters and nothing checked per doc: the cardinality of
    /// their bitmap over the run's docs, less the exceptional docs in it that fail.
    Mask(std::borrow::Cow<'a, RoaringBitmap>),
    /// Only "some free place / some crisis bed" minima: the live blocks' capacity patterns.
    Patterns([[[bool; 8]; 2]; 2]),
    /// Each position's summary, then its docs.
    Docs,
}

impl Counting<'_> {
    fn of<'a>(plan: &Plan<'a>) -> Counting<'a> {
        let filter = &plan.filter;
        if filter.only_masks() {
            return Counting::Masks;
        }
        if let Some(accepted) = filter.capacity_patterns() {
            return Counting::Patterns(accepted);
        }
        if !filter.needs_per_doc()
            && let Some(mask) = filter.mask_borrowed(&plan.index.postings)
        {
            return Counting::Mask(mask);
        }
        Counting::Docs
    }
}

/// A disc on the sphere, with the lat/lon bounds of its points.
struct Disc {
    centre: GeoPoint,
    radius_m: f64,
    /// The centre as a unit vector.
    unit: [f64; 3],
    /// A point is surely within the radius (less a slack) when the dot product of its unit
    /// vector with the centre's is at least this; `None` for a disc too small to bother.
    min_dot: Option<f64>,
    /// A position whose dot product with the centre is above `dot_inside` is within the
    /// radius, below `dot_outside` beyond it; between, its haversine decides (as in every walk).
    dot_inside: f64,
    dot_outside: f64,
    min_lat: f64,
    max_lat: f64,
    /// Every point of the disc is within this many degrees of longitude of the centre (180:
    /// any longitude, the disc reaches a pole).
    max_delta_lon: f64,
}

/// Below this radius no cell is taken whole (its positions are tested one by one): the dot
/// product of unit vectors is too coarse to decide a few millimetres.
const MIN_WHOLE_RADIUS_M: f64 = 100.0;

impl Disc {
    /// The bounds of Matuschek, "Finding points within a distance of a latitude/longitude".
    fn new(centre: GeoPoint, radius_m: f64) -> Disc {
        let angle = radius_m / EARTH_RADIUS_M;
        let angle_deg = angle.to_degrees() + CELL_SLACK_DEG;
        let (min_lat, max_lat) = (centre.lat - angle_deg, centre.lat + angle_deg);
        let ratio = angle.sin() / centre.lat.to_radians().cos();
        let max_delta_lon =
            if angle >= std::f64::consts::FRAC_PI_2 || min_lat <= -90.0 || max_lat >= 90.0 || ratio >= 1.0 {
                180.0
            } else {
                ratio.asin().to_degrees() + CELL_SLACK_DEG
            };
        // Far more slack than the rounding of a dot product (about 1e-16 / sin(angle) radians),
        // and a margin against the haversine the edge positions are tested with.
        let min_dot = (radius_m >= MIN_WHOLE_RADIUS_M)
            .then(|| ((radius_m * (1.0 - 1e-9) - BOUND_SLACK_M) / EARTH_RADIUS_M).min(std::f64::consts::PI).cos());
        let cos_of = |distance_m: f64| (distance_m.max(0.0) / EARTH_RADIUS_M).min(std::f64::consts::PI).cos();
        // (1e-6 relative plus 1 m: far beyond the rounding of either computation)
        let margin_m = radius_m * 1e-6 + 1.0;
        Disc {
            centre,
            radius_m,
            unit: centre.unit_vector(),
            min_dot,
            dot_inside: if radius_m >= MIN_WHOLE_RADIUS_M { cos_of(radius_m - margin_m) } else { f64::INFINITY },
            dot_outside: cos_of(radius_m + margin_m),
            min_lat,
            max_lat,
            max_delta_lon,
        }
    }

    /// Whether no point of `cell` can be in the disc.
    fn misses(&self, cell: &CellBox) -> bool {
        if cell.max_lat < self.min_lat || cell.min_lat > self.max_lat {
            return true;
        }
        self.max_delta_lon < 180.0 && lon_gap(self.centre.lon, cell.min_lon, cell.max_lon) > self.max_delta_lon
    }

    /// Whether every point of `cell` is in the disc (certain; `false` may be wrong). The
    /// farthest point of a lat/lon box from a point is a corner when the box lies within 90
    /// degrees of longitude of it: along a parallel, the distance grows with the difference of
    /// longitude; along a meridian less than 90 degrees away, it falls then rises.
    fn holds(&self, cell: &CellBox, trig: &HilbertCells) -> bool {
        let Some(min_dot) = self.min_dot else { return false };
        let within_quarter = |lon: f64| lon_gap(self.centre.lon, lon, lon) <= 90.0;
        if cell.max_lon - cell.min_lon > 90.0 || !within_quarter(cell.min_lon) || !within_quarter(cell.max_lon) {
            return false;
        }
        let [x, y, z] = self.unit;
        let lats = [trig.lat_trig[cell.y.start as usize][0], trig.lat_trig[cell.y.end as usize][1]];
        let lons = [trig.lon_trig[cell.x.start as usize][0], trig.lon_trig[cell.x.end as usize][1]];
        lats.iter().all(|&(sin_lat, cos_lat)| {
            lons.iter().all(|&(sin_lon, cos_lon)| cos_lat * (cos_lon * x + sin_lon * y) + sin_lat * z >= min_dot)
        })
    }

    /// Whether a position is in the disc, as [`Plan::place`] decides it.
    fn contains(&self, unit: [f64; 3], point: GeoPoint) -> bool {
        let dot = unit[0] * self.unit[0] + unit[1] * self.unit[1] + unit[2] * self.unit[2];
        if dot > self.dot_inside {
            return true;
        }
        dot >= self.dot_outside && haversine_m(self.centre, point) <= self.radius_m
    }
}

/// Degrees of longitude from `lon` to the nearest point of `[min_lon, max_lon]` (0 inside),
/// the short way round.
fn lon_gap(lon: f64, min_lon: f64, max_lon: f64) -> f64 {
    if min_lon <= lon && lon <= max_lon {
        return 0.0;
    }
    let apart = |a: f64, b: f64| {
        let difference = (a - b).rem_euclid(360.0);
        difference.min(360.0 - difference)
    };
    apart(lon, min_lon).min(apart(lon, max_lon))
}

/// The lat/lon box of a cell of the Hilbert grid, widened by [`CELL_SLACK_DEG`].
struct CellBox {
    /// Its meridians and parallels on the grid.
    x: Range<u64>,
    y: Range<u64>,
    min_lon: f64,
    max_lon: f64,
    min_lat: f64,
    max_lat: f64,
}

impl CellBox {
    /// The cell of side `side` grid cells whose first grid cell is `(x, y)`.
    fn new(x: u64, y: u64, side: u64) -> CellBox {
        CellBox {
            x: x..x + side,
            y: y..y + side,
            min_lon: grid_lon(x) - CELL_SLACK_DEG,
            max_lon: grid_lon(x + side) + CELL_SLACK_DEG,
            min_lat: grid_lat(y) - CELL_SLACK_DEG,
            max_lat: grid_lat(y + side) + CELL_SLACK_DEG,
        }
    }

    fn envelope(&self) -> AABB<[f64; 2]> {
        AABB::from_corners([self.min_lon, self.min_lat], [self.max_lon, self.max_lat])
    }
}

/// What the region is made of, for the descent.
struct Region {
    disc: Option<Disc>,
    /// The bbox as envelopes (two across the antimeridian); empty: no bbox.
    bbox: Vec<AABB<[f64; 2]>>,
}

impl Plan<'_> {
    /// The exact number of matches of the request, with `text` its text scorer (sought along
    /// the region in doc order). Not for a request without geography (the bulk plan counts
    /// those, docs without a position included).
    pub(crate) fn count(&self, mut text: Option<&mut dyn Scorer>) -> u64 {
        let mut runs = Vec::new();
        self.region_runs(&mut runs);
        let counting = match text {
            Some(_) => Counting::Docs,
            None => Counting::of(self),
        };
        let mut count = 0;
        for positions in runs {
            count += match text.as_deref_mut() {
                Some(scorer) => self.count_text(scorer, positions),
                None => self.count_positions(&counting, positions),
            };
        }
        count
    }

    /// Whether [`Plan::count`] without text reads only runs and blocks of the region, not its
    /// docs: no doc-level filter, or only capacity minima of 1.
    pub(crate) fn counts_cheaply(&self) -> bool {
        self.filter.only_masks() || self.filter.capacity_patterns().is_some()
    }

    /// The matches at `positions`, no text.
    fn count_positions(&self, counting: &Counting<'_>, positions: Range<u32>) -> u64 {
        let (index, filter, live) = (self.index, &self.filter, self.live);
        let (layout, columns) = (&index.layout, &index.columns);
        let exceptional = index.map_grid.exceptional_docs().of_positions(positions.clone());
        let docs = layout.docs_of_positions(positions.clone());
        match counting {
            Counting::Masks => {
                let excluded = exceptional.iter().filter(|&&doc| !filter.matches(columns, live, doc)).count();
                (docs.len() - excluded) as u64
            }
            Counting::Mask(mask) => {
                let excluded = exceptional
                    .iter()
                    .filter(|&&doc| mask.contains(doc) && !filter.matches(columns, live, doc))
                    .count() as u64;
                // (a bitmap container's rank counts from its start: per doc is cheaper for a few)
                let in_mask = if docs.len() < 64 {
                    docs.filter(|&doc| mask.contains(doc)).count() as u64
                } else {
                    mask.range_cardinality(docs)
                };
                in_mask - excluded
            }
            Counting::Patterns(accepted) => {
                // Whole blocks from their patterns when the query's instant is in their open
                // interval; partial blocks and the others doc by doc.
                let doc_by_doc = |positions: Range<u32>| {
                    layout.docs_of_positions(positions).filter(|&doc| filter.matches(columns, live, doc)).count() as u64
                };
                let block_len = 1u32 << CAPACITY_BLOCK_BITS;
                let first_whole = positions.start.next_multiple_of(block_len);
                let end_whole = positions.end / block_len * block_len;
                if first_whole >= end_whole {
                    return doc_by_doc(positions);
                }
                let mut count = doc_by_doc(positions.start..first_whole) + doc_by_doc(end_whole..positions.end);
                let now = filter.now;
                let of_patterns = |patterns: &CapacityPatterns| {
                    (patterns.open_from <= now && now < patterns.open_until).then(|| {
                        let mut count = 0;
                        for (&docs, &yes) in
                            patterns.docs.iter().flatten().flatten().zip(accepted.iter().flatten().flatten())
                        {
                            count += if yes { u64::from(docs) } else { 0 };
                        }
                        count
                    })
                };
                let of_block = |block: u32| {
                    of_patterns(live.capacity_block(block as usize))
                        .unwrap_or_else(|| doc_by_doc(block << CAPACITY_BLOCK_BITS..(block + 1) << CAPACITY_BLOCK_BITS))
                };
                let blocks = first_whole >> CAPACITY_BLOCK_BITS..end_whole >> CAPACITY_BLOCK_BITS;
                let per_superblock = 1u32 << CAPACITY_SUPERBLOCK_BITS;
                let (first_super, end_super) =
                    (blocks.start.next_multiple_of(per_superblock), blocks.end / per_superblock * per_superblock);
                if first_super >= end_super {
                    return count + blocks.map(of_block).sum::<u64>();
                }
                count += (blocks.start..first_super).chain(end_super..blocks.end).map(of_block).sum::<u64>();
                for superblock in first_super >> CAPACITY_SUPERBLOCK_BITS..end_super >> CAPACITY_SUPERBLOCK_BITS {
                    count += of_patterns(live.capacity_superblock(superblock as usize)).unwrap_or_else(|| {
                        let first = superblock << CAPACITY_SUPERBLOCK_BITS;
                        (first..first + per_superblock).map(of_block).sum()
                    });
                }
                count
            }
            Counting::Docs => {
                let mut count = 0;
                for position in positions {
                    if filter.position_may_match(&index.summaries, live, position as usize) {
                        count += layout.docs_at(position).filter(|&doc| filter.matches(columns, live, doc)).count();
                    }
                }
                count as u64
            }
        }
    }

    /// The matches at `positions` that `scorer` matches (it is sought forward).
    fn count_text(&self, scorer: &mut dyn Scorer, positions: Range<u32>) -> u64 {
        let (index, filter) = (self.index, &self.filter);
        let docs = index.layout.docs_of_positions(positions);
        let mut doc = scorer.doc();
        if doc < docs.start {
            doc = scorer.seek(docs.start);
        }
        let mut count = 0;
        while doc != TERMINATED && doc < docs.end {
            if filter.matches(&index.columns, self.live, doc) {
                count += 1;
            }
            doc = scorer.advance();
        }
        count
    }

    /// The region of the request (its disc, its bbox, or both; every position with neither)
    /// as runs of positions in order, touching runs merged.
    pub(crate) fn region_runs(&self, out: &mut Vec<Range<u32>>) {
        out.clear();
        let positions = self.index.layout.positions.len() as u32;
        let disc = match (self.centre, self.radius_m) {
            (Some(centre), Some(radius_m)) => Some(Disc::new(centre, radius_m)),
            _ => None,
        };
        let bbox = self.bbox.as_ref().map(envelopes).unwrap_or_default();
        if disc.is_none() && bbox.is_empty() {
            if positions > 0 {
                out.push(0..positions);
            }
            return;
        }
        let region = Region { disc, bbox };
        self.descend(&region, HilbertSquare::ROOT, 0..positions, out);
    }

    /// Cuts the cell at `level` whose first grid cell is `(x, y)` and whose positions are
    /// `positions`.
    fn descend(&self, region: &Region, square: HilbertSquare, positions: Range<u32>, out: &mut Vec<Range<u32>>) {
        if positions.is_empty() {
            return;
        }
        let cells = &self.index.hilbert;
        let cell = CellBox::new(square.x, square.y, square.side());
        let envelope = cell.envelope();
        let bbox_holds = region.bbox.is_empty() || region.bbox.iter().any(|bbox| bbox.contains_envelope(&envelope));
        if !bbox_holds && !region.bbox.iter().any(|bbox| bbox.intersects(&envelope)) {
            return;
        }
        if region.disc.as_ref().is_some_and(|disc| disc.misses(&cell)) {
            return;
        }
        // (the whole world, level 0, spans more than 90 degrees of longitude: never held)
        if bbox_holds && region.disc.as_ref().is_none_or(|disc| disc.holds(&cell, cells)) {
            push_run(out, positions);
            return;
        }
        let quarters = match square.quarters() {
            Some(quarters) if positions.len() as u32 > LEAF_POSITIONS => quarters,
            _ => {
                let points = &self.index.layout.positions;
                for position in positions {
                    let point = points[position as usize];
                    let in_bbox = bbox_holds || self.bbox.as_ref().is_none_or(|bbox| bbox.contains(point));
                    if in_bbox
                        && region.disc.as_ref().is_none_or(|disc| disc.contains(cells.units[position as usize], point))
                    {
                        push_run(out, position..position + 1);
                    }
                }
                return;
            }
        };
        // The quarters are consecutive runs of the curve: three cuts split the positions.
        let mut start = positions.start;
        for (k, quarter) in quarters.into_iter().enumerate() {
            let end = match quarters.get(k + 1) {
                Some(next) => cells.positions(start..positions.end, next.start..u64::MAX).start,
                None => positions.end,
            };
            self.descend(region, quarter, start..end, out);
            start = end;
        }
    }
}

/// Appends a run of positions, merged with the previous one when they touch.
fn push_run(out: &mut Vec<Range<u32>>, positions: Range<u32>) {
    if let Some(last) = out.last_mut()
        && last.end == positions.start
    {
        last.end = positions.end;
        return;
    }
    out.push(positions);
}
