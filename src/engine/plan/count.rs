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
//! Counting a run ([`Counting`], chosen once per request): without doc-level filters, its doc
//! range less its exceptional docs (sensitive, may close) that fail; with only code, GIR or
//! aide-sociale filters, their bitmap's cardinality over the range; with only capacity minima
//! of 1, the live view's per-block pattern counts; otherwise the filter's dense bitsets
//! ([`crate::engine::dense`]), 64 docs a word, the few docs a range-encoded bound cannot decide
//! checked one by one (or, with a rare code, the docs of its posting list, each checked). No
//! distance is computed inside a run, nothing is collected, nothing sorted.

use std::ops::Range;

use roaring::RoaringBitmap;
use rstar::{AABB, Envelope};
use tantivy::TERMINATED;
use tantivy::query::Scorer;

use super::{BOUND_SLACK_M, Plan, envelopes};
use crate::engine::collector::FacetCounts;
use crate::engine::dense::{DenseTerms, WordSet};
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

/// What cutting a region into cells reads of a snapshot: the Hilbert index and unit vector of
/// every position.
#[derive(Debug, Default)]
pub(crate) struct HilbertCells {
    /// Per position, ascending (positions are numbered in this order).
    keys: Vec<u64>,
    /// Per position, its point on the unit sphere.
    units: Vec<[f64; 3]>,
}

impl HilbertCells {
    pub(crate) fn new(positions: &[GeoPoint]) -> HilbertCells {
        let keys: Vec<u64> = positions.iter().map(|&point| hilbert_index(point)).collect();
        debug_assert!(keys.is_sorted(), "positions are in Hilbert order");
        HilbertCells { keys, units: positions.iter().map(|point| point.unit_vector()).collect() }
    }

    /// The first of `within` whose index is at least `key`.
    fn first_at(&self, within: Range<u32>, key: u64) -> u32 {
        within.start + self.keys[within.start as usize..within.end as usize].partition_point(|&k| k < key) as u32
    }
}

/// The sines and cosines of the Hilbert grid's lines, widened by the slack on the side a cell
/// edge needs: the same for every snapshot, computed once per process.
struct GridTrig {
    /// Per meridian `x` (longitude `-180 + x · 360 / 2^16`), `(sin, cos)` of `[west edge,
    /// east edge]` of a cell starting or ending there.
    lon: Vec<[(f64, f64); 2]>,
    /// Per parallel `y`, likewise `[south edge, north edge]`.
    lat: Vec<[(f64, f64); 2]>,
}

impl GridTrig {
    fn get() -> &'static GridTrig {
        static TRIG: std::sync::OnceLock<GridTrig> = std::sync::OnceLock::new();
        TRIG.get_or_init(|| {
            let lines = (1u64 << HILBERT_ORDER) + 1;
            let trig = |degrees: f64| degrees.to_radians().sin_cos();
            GridTrig {
                lon: (0..lines)
                    .map(|x| [trig(grid_lon(x) - CELL_SLACK_DEG), trig(grid_lon(x) + CELL_SLACK_DEG)])
                    .collect(),
                lat: (0..lines)
                    .map(|y| {
                        let lat = grid_lat(y);
                        [trig((lat - CELL_SLACK_DEG).max(-90.0)), trig((lat + CELL_SLACK_DEG).min(90.0))]
                    })
                    .collect(),
            }
        })
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

/// The docs of a request's text query, as its count reads them.
pub(crate) enum TextDocs<'s> {
    /// A frequent query's docs as a dense bitset (one more term of the filter's).
    Words(&'s [u64]),
    /// A rarer query's posting list, sought along the region.
    Walk(&'s mut dyn Scorer),
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
    /// Any other filter: its docs' bitsets or a rare code's posting list.
    Docs(DocCounting<'a>),
}

/// What counts any filter, and enumerates its matches (for facets): its dense bitsets, or its
/// rare code's posting list.
enum DocCounting<'a> {
    /// Dense bitsets of every criterion (the text query's docs one more), 64 docs a word, the
    /// docs they cannot decide checked one by one.
    Dense(DenseTerms<'a>),
    /// A filter with a rare code: the docs of its field's bitmap (and of the text query's
    /// bitset, if any), each checked.
    Lead { docs: std::borrow::Cow<'a, RoaringBitmap>, text: Option<&'a [u64]> },
}

impl Counting<'_> {
    fn of<'a>(plan: &Plan<'a>) -> Counting<'a> {
        let (filter, index) = (&plan.filter, plan.index);
        if filter.only_masks() {
            return Counting::Masks;
        }
        if let Some(accepted) = filter.capacity_patterns() {
            return Counting::Patterns(accepted);
        }
        // Dense bitsets first: a word covers 64 docs, where a bitmap's rank over a range counts
        // its containers from their start (and a mask of several criteria is built per request).
        match filter.dense_terms(&index.dense, &index.columns) {
            Some(terms) => Counting::Docs(DocCounting::Dense(terms)),
            None => match filter.mask_borrowed(&index.postings) {
                Some(mask) if !filter.needs_per_doc() => Counting::Mask(mask),
                _ => Counting::Docs(DocCounting::lead(plan, None)),
            },
        }
    }
}

impl<'a> DocCounting<'a> {
    /// The filter's dense terms (with `text`, the text query's docs, as one more), else its rare
    /// code's posting list.
    fn of(plan: &Plan<'a>, text: Option<&'a [u64]>) -> DocCounting<'a> {
        let (filter, index) = (&plan.filter, plan.index);
        match filter.dense_terms(&index.dense, &index.columns) {
            Some(mut terms) => {
                if let Some(words) = text {
                    terms.exact(WordSet::Slice(words));
                }
                DocCounting::Dense(terms)
            }
            None => DocCounting::lead(plan, text),
        }
    }

    /// The rare code's posting list (dense terms are missing only for a selected rare code).
    fn lead(plan: &Plan<'a>, text: Option<&'a [u64]>) -> DocCounting<'a> {
        let index = plan.index;
        DocCounting::Lead { docs: plan.filter.rare_lead(&index.postings, &index.dense), text }
    }

    /// The matches among `docs`, each given to `visit` when there is one (else the sure ones
    /// are only counted).
    fn count<F: FnMut(u32)>(
        &self,
        plan: &Plan<'_>,
        docs: Range<u32>,
        scratch: &mut Vec<u64>,
        visit: Option<&mut F>,
    ) -> u64 {
        let (columns, live, filter) = (&plan.index.columns, plan.live, &plan.filter);
        let matches = |doc: u32| filter.matches(columns, live, doc);
        match (self, visit) {
            (DocCounting::Dense(terms), None) => terms.count(live, docs, scratch, matches),
            (DocCounting::Dense(terms), Some(visit)) => terms.for_each(live, docs, scratch, matches, visit),
            (DocCounting::Lead { docs: lead, text }, mut visit) => {
                let in_text = |doc: u32| text.is_none_or(|words| crate::engine::columns::bit(words, doc as usize));
                let mut count = 0;
                for doc in lead.range(docs).filter(|&doc| in_text(doc) && matches(doc)) {
                    if let Some(visit) = visit.as_mut() {
                        visit(doc);
                    }
                    count += 1;
                }
                count
            }
        }
    }
}

/// A disc on the sphere, with the lat/lon bounds of its points.
struct Disc {
    centre: GeoPoint,
    radius_m: f64,
    /// The centre as a unit vector.
    unit: [f64; 3],
    /// A cell corner is surely within the radius (less a slack) when the dot product of its
    /// unit vector with the centre's is at least this (infinite: a disc too small to take a
    /// cell whole).
    min_dot: f64,
    /// A position whose dot product with the centre is above `dot_inside` is within the
    /// radius (infinite for a small disc), below `dot_outside` beyond it; between, its
    /// haversine decides (as in every walk).
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
        let cos_of = |distance_m: f64| (distance_m.max(0.0) / EARTH_RADIUS_M).min(std::f64::consts::PI).cos();
        let small = radius_m < MIN_WHOLE_RADIUS_M;
        // Far more slack than the rounding of a dot product (about 1e-16 / sin(angle) radians),
        // and a margin against the haversine the edge positions are tested with; the edge test's
        // margin, 1e-6 relative plus 1 m, far beyond the rounding of either computation.
        let margin_m = radius_m * 1e-6 + 1.0;
        Disc {
            centre,
            radius_m,
            unit: centre.unit_vector(),
            min_dot: if small { f64::INFINITY } else { cos_of(radius_m * (1.0 - 1e-9) - BOUND_SLACK_M) },
            dot_inside: if small { f64::INFINITY } else { cos_of(radius_m - margin_m) },
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
    fn holds(&self, cell: &CellBox) -> bool {
        let within_quarter = |lon: f64| lon_gap(self.centre.lon, lon, lon) <= 90.0;
        if cell.max_lon - cell.min_lon > 90.0 || !within_quarter(cell.min_lon) || !within_quarter(cell.max_lon) {
            return false;
        }
        let ([x, y, z], trig) = (self.unit, GridTrig::get());
        let lats = [trig.lat[cell.y.start as usize][0], trig.lat[cell.y.end as usize][1]];
        let lons = [trig.lon[cell.x.start as usize][0], trig.lon[cell.x.end as usize][1]];
        lats.iter().all(|&(sin_lat, cos_lat)| {
            lons.iter().all(|&(sin_lon, cos_lon)| cos_lat * (cos_lon * x + sin_lon * y) + sin_lat * z >= self.min_dot)
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
    /// The exact number of matches of the request, with `text` the docs of its text query;
    /// with `facets`, each match's catégorie, type d'offre and département added to them (the
    /// matches then enumerated from the same runs and bitsets). No distance is computed, nothing
    /// collected. Not for a request without geography (the bulk plan counts those, docs without
    /// a position included).
    pub(crate) fn count(&self, text: Option<TextDocs<'_>>, mut facets: Option<&mut FacetCounts>) -> u64 {
        let mut runs = Vec::new();
        self.region_runs(&mut runs);
        let layout = &self.index.layout;
        let columns = &self.index.columns;
        let tallying = facets.is_some();
        let mut visit = |doc: u32| {
            if let Some(facets) = facets.as_deref_mut() {
                facets.add(columns, doc);
            }
        };
        let mut scratch = Vec::new();
        let text = match text {
            Some(TextDocs::Walk(scorer)) => {
                return runs.into_iter().map(|positions| self.count_text(scorer, positions, &mut visit)).sum();
            }
            Some(TextDocs::Words(words)) => Some(words),
            None => None,
        };
        if !tallying && text.is_none() {
            let counting = Counting::of(self);
            return runs.into_iter().map(|positions| self.count_positions(&counting, positions, &mut scratch)).sum();
        }
        let counting = DocCounting::of(self, text);
        let mut count = 0;
        for positions in runs {
            let visit = tallying.then_some(&mut visit);
            count += counting.count(self, layout.docs_of_positions(positions), &mut scratch, visit);
        }
        count
    }

    /// The matches at `positions`, no text.
    fn count_positions(&self, counting: &Counting<'_>, positions: Range<u32>, scratch: &mut Vec<u64>) -> u64 {
        let (index, filter, live) = (self.index, &self.filter, self.live);
        let (layout, columns) = (&index.layout, &index.columns);
        let exceptional = || index.map_grid.exceptional_docs().of_positions(positions.clone());
        let docs = layout.docs_of_positions(positions.clone());
        match counting {
            Counting::Masks => {
                let excluded = exceptional().iter().filter(|&&doc| !filter.matches(columns, live, doc)).count();
                (docs.len() - excluded) as u64
            }
            Counting::Mask(mask) => {
                let excluded = exceptional()
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
                // Whole blocks (whole superblocks first) from their patterns when the query's
                // instant is in their open interval; partial blocks and the others doc by doc.
                let now = filter.now;
                let of_patterns = |patterns: &CapacityPatterns| {
                    (patterns.open_from <= now && now < patterns.open_until).then(|| {
                        let pairs = patterns.docs.iter().flatten().flatten().zip(accepted.iter().flatten().flatten());
                        pairs.map(|(&docs, &yes)| if yes { u64::from(docs) } else { 0 }).sum::<u64>()
                    })
                };
                let doc_by_doc = |positions: Range<u32>| {
                    layout.docs_of_positions(positions).filter(|&doc| filter.matches(columns, live, doc)).count() as u64
                };
                let of_block = |block: u32| {
                    of_patterns(live.capacity_block(block as usize))
                        .unwrap_or_else(|| doc_by_doc(block << CAPACITY_BLOCK_BITS..(block + 1) << CAPACITY_BLOCK_BITS))
                };
                let of_superblock = |superblock: u32| {
                    of_patterns(live.capacity_superblock(superblock as usize)).unwrap_or_else(|| {
                        let first = superblock << CAPACITY_SUPERBLOCK_BITS;
                        (first..first + (1 << CAPACITY_SUPERBLOCK_BITS)).map(of_block).sum()
                    })
                };
                let of_blocks = |blocks: Range<u32>| {
                    sum_aligned(blocks, CAPACITY_SUPERBLOCK_BITS, &|part| part.map(of_block).sum(), &|superblocks| {
                        superblocks.map(of_superblock).sum()
                    })
                };
                sum_aligned(positions, CAPACITY_BLOCK_BITS, &doc_by_doc, &of_blocks)
            }
            Counting::Docs(counting) => counting.count(self, docs, scratch, None::<&mut fn(u32)>),
        }
    }

    /// The matches at `positions` that `scorer` matches (it is sought forward), each given to
    /// `visit`.
    fn count_text(&self, scorer: &mut dyn Scorer, positions: Range<u32>, visit: &mut dyn FnMut(u32)) -> u64 {
        let (index, filter) = (self.index, &self.filter);
        let docs = index.layout.docs_of_positions(positions);
        let mut doc = scorer.doc();
        if doc < docs.start {
            doc = scorer.seek(docs.start);
        }
        let mut count = 0;
        while doc != TERMINATED && doc < docs.end {
            if filter.matches(&index.columns, self.live, doc) {
                visit(doc);
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

    /// Cuts `square`, whose positions are `positions`, into runs of the region (appended to
    /// `out`).
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
        if bbox_holds && region.disc.as_ref().is_none_or(|disc| disc.holds(&cell)) {
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
                Some(next) => cells.first_at(start..positions.end, next.start),
                None => positions.end,
            };
            self.descend(region, quarter, start..end, out);
            start = end;
        }
    }
}

/// Sums over `range` split at multiples of `2^bits`: `groups(g)` for the run of whole aligned
/// groups `g` it covers (group numbers), `part(sub-range)` for what is left at either end.
fn sum_aligned(
    range: Range<u32>,
    bits: u32,
    part: &dyn Fn(Range<u32>) -> u64,
    groups: &dyn Fn(Range<u32>) -> u64,
) -> u64 {
    let len = 1u32 << bits;
    let (first, end) = (range.start.next_multiple_of(len), range.end / len * len);
    if first >= end {
        return part(range);
    }
    part(range.start..first) + groups(first >> bits..end >> bits) + part(end..range.end)
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
