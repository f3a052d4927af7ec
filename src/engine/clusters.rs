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
use super::request::{BBox, SearchRequest};
use super::search::Positioned;
use super::{Engine, ParamError};
use crate::util::geo::GeoPoint;

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

/// The matches standing on one position.
#[derive(Debug, Clone)]
struct Tally {
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
}

impl Tally {
    fn count(&self) -> usize {
        match &self.matches {
            Matches::Collected { start, end } => end - start,
            Matches::Whole(docs) => docs.len(),
        }
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
        let mercator =
            self.mercator.get_or_init(|| index.layout.positions.iter().map(|point| mercator(*point)).collect());
        let plain = self.plain_positions.get_or_init(|| index.plain_positions());
        let access = Access::new(request.profiles);
        // What the profile sees of a position's sums, [medico-social] (no doc there is sensitive).
        let seen = [false, true].map(|medico_social| access.capacity(medico_social, false));
        let mut tallies: Vec<Tally> = Vec::new();
        let mut docs = Vec::new();
        let mut current = None;
        let tally = |position: u32, matches: Matches, sums: Sums| Tally {
            point: index.layout.positions[position as usize],
            mercator: mercator[position as usize],
            matches,
            sums,
        };
        index.for_each_positioned_match(&live, request, plain, &mut |step| match step {
            Positioned::Whole(position, range) => {
                current = None;
                let capacity = live.position(position);
                let mut sums = Sums::default();
                for (class, seen) in seen.iter().enumerate() {
                    sums.add_seen(*seen, capacity.sums[class].map(u64::from));
                }
                tallies.push(tally(position, Matches::Whole(range), sums));
            }
            Positioned::Doc(position, doc) => {
                if current != Some(position) {
                    current = Some(position);
                    let start = docs.len();
                    tallies.push(tally(position, Matches::Collected { start, end: start }, Sums::default()));
                }
                let Some(last) = tallies.last_mut() else { return };
                let counts = live.counts(doc);
                let seen = access.capacity_of_doc(&index.columns, doc as usize);
                last.sums.add_seen(seen, [counts.available, counts.crisis_t0, counts.crisis_t60].map(u64::from));
                docs.push(index.layout.offer_of_doc[doc as usize]);
                if let Matches::Collected { end, .. } = &mut last.matches {
                    *end = docs.len();
                }
            }
        })?;
        Ok(cluster(&tallies, &docs, &index.layout.offer_of_doc, zoom))
    }
}

/// Clusters the positions' tallies for map zoom `zoom`; `offers` holds their collected
/// matches, `offer_of_doc` names those of the positions counted whole.
fn cluster(tallies: &[Tally], offers: &[u32], offer_of_doc: &[u32], zoom: u8) -> Clusters {
    let total = tallies.iter().map(Tally::count).sum();
    let precision = zoom + CELL_PRECISION_OFFSET;
    let mut order: Vec<(u32, u32, usize)> = tallies
        .iter()
        .enumerate()
        .map(|(index, tally)| {
            let (x, y) = tile_at(tally.mercator, precision);
            (x, y, index)
        })
        .collect();
    order.sort_unstable_by_key(|&(x, y, index)| (x, y, tallies[index].mercator, index));
    let mut features = Vec::new();
    for cell in order.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (x, y) = (cell[0].0, cell[0].1);
        let members: Vec<&Tally> = cell.iter().map(|&(_, _, index)| &tallies[index]).collect();
        if members.len() == 1 || zoom >= MAX_CLUSTER_ZOOM {
            for tally in members {
                let mut group: Vec<u32> = match &tally.matches {
                    Matches::Collected { start, end } => offers[*start..*end].to_vec(),
                    Matches::Whole(docs) => docs.clone().map(|doc| offer_of_doc[doc as usize]).collect(),
                };
                group.sort_unstable();
                features.push(Feature::Group(Group { point: tally.point, offers: group, sums: tally.sums }));
            }
            continue;
        }
        let mut sums = Sums::default();
        let (mut lat_sum, mut lon_sum, mut count) = (0.0, 0.0, 0usize);
        let mut bounds = BBox { min_lon: f64::MAX, min_lat: f64::MAX, max_lon: f64::MIN, max_lat: f64::MIN };
        for tally in &members {
            let matches = tally.count();
            add(&mut sums, tally.sums);
            count += matches;
            lat_sum += tally.point.lat * matches as f64;
            lon_sum += tally.point.lon * matches as f64;
            bounds.min_lon = bounds.min_lon.min(tally.point.lon);
            bounds.max_lon = bounds.max_lon.max(tally.point.lon);
            bounds.min_lat = bounds.min_lat.min(tally.point.lat);
            bounds.max_lat = bounds.max_lat.max(tally.point.lat);
        }
        features.push(Feature::Cell(Cell {
            precision,
            x,
            y,
            count,
            positions: members.len(),
            centre: GeoPoint { lat: lat_sum / count as f64, lon: lon_sum / count as f64 },
            bounds,
            expansion_zoom: expansion_zoom(&members, zoom),
            sums,
        }));
    }
    Clusters { zoom, total, features }
}

impl Sums {
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
}

fn add(sums: &mut Sums, more: Sums) {
    sums.available += more.available;
    sums.crisis_t0 += more.crisis_t0;
    sums.crisis_t60 += more.crisis_t60;
}

/// The smallest zoom above `zoom` at which `points` (distinct, at least two) fall in more than
/// one cell; [`MAX_CLUSTER_ZOOM`] at most (where every position is shown on its own).
fn expansion_zoom(positions: &[&Tally], zoom: u8) -> u8 {
    // The first zoom whose cells tell two positions apart: where their fixed-point coordinates
    // first differ, bit by bit from the top.
    let first = positions[0].mercator;
    let differing = positions[1..]
        .iter()
        .map(|tally| (tally.mercator[0] ^ first[0]) | (tally.mercator[1] ^ first[1]))
        .fold(0u32, |all, bits| all | bits);
    // the highest differing bit is bit 31 - p at precision p (0-based from the top)
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
        let tallies: Vec<Tally> = points
            .iter()
            .map(|point| Tally {
                point: *point,
                mercator: mercator(*point),
                matches: Matches::Collected { start: 0, end: 1 },
                sums: Sums::default(),
            })
            .collect();
        let zoom = expansion_zoom(&[&tallies[0], &tallies[1]], 3);
        let cells = |zoom: u8| {
            let precision = zoom + CELL_PRECISION_OFFSET;
            (tile_of(points[0], precision), tile_of(points[1], precision))
        };
        assert_ne!(cells(zoom).0, cells(zoom).1);
        assert_eq!(cells(zoom - 1).0, cells(zoom - 1).1);
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
