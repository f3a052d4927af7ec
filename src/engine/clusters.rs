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

use std::collections::BTreeMap;

use super::access::Access;
use super::request::{BBox, SearchRequest};
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

/// The tile `(x, y)` holding `point` at grid precision `precision` (0-29), as `geotile_grid`
/// and slippy maps number them (x eastwards from 180° W, y southwards from 85.05° N).
pub fn tile_of(point: GeoPoint, precision: u8) -> (u32, u32) {
    let tiles = f64::from(1u32 << precision.min(29));
    let lat = point.lat.clamp(-MAX_MERCATOR_LAT, MAX_MERCATOR_LAT).to_radians();
    let x = (point.lon + 180.0) / 360.0 * tiles;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * tiles;
    let last = tiles - 1.0;
    (x.floor().clamp(0.0, last) as u32, y.floor().clamp(0.0, last) as u32)
}

/// The bounding box of tile `(x, y)` at precision `precision`.
pub fn tile_bbox(precision: u8, x: u32, y: u32) -> BBox {
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
    /// The features, in tile order (x, then y, of the cells at the grid precision; groups of
    /// one cell by position).
    pub features: Vec<Feature>,
}

/// One match, as the clustering reads it.
#[derive(Debug, Clone, Copy)]
struct Member {
    offer: u32,
    point: GeoPoint,
    sums: Sums,
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
        let (hits, _, _) = self.index.all_hits(&live, request)?;
        let index = &self.index;
        let access = Access::new(request.profiles);
        let members: Vec<Member> = hits
            .iter()
            .filter_map(|hit| {
                let position = index.layout.position_of_doc[hit.doc as usize];
                let point = *index.layout.positions.get(position as usize)?;
                let counts = live.counts(hit.doc);
                let seen = access.capacity_of_doc(&index.columns, hit.doc as usize);
                let sums = Sums {
                    available: if seen.operational { u64::from(counts.available) } else { 0 },
                    crisis_t0: if seen.supplementary { u64::from(counts.crisis_t0) } else { 0 },
                    crisis_t60: if seen.supplementary { u64::from(counts.crisis_t60) } else { 0 },
                };
                Some(Member { offer: hit.offer, point, sums })
            })
            .collect();
        Ok(cluster(members, zoom))
    }
}

/// Clusters `members` for map zoom `zoom`.
fn cluster(members: Vec<Member>, zoom: u8) -> Clusters {
    let total = members.len();
    let precision = zoom + CELL_PRECISION_OFFSET;
    let mut cells: BTreeMap<(u32, u32), Vec<Member>> = BTreeMap::new();
    for member in members {
        cells.entry(tile_of(member.point, precision)).or_default().push(member);
    }
    let mut features = Vec::with_capacity(cells.len());
    for ((x, y), mut members) in cells {
        members.sort_by(|a, b| {
            (a.point.lat, a.point.lon, a.offer)
                .partial_cmp(&(b.point.lat, b.point.lon, b.offer))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut groups: Vec<Group> = Vec::new();
        for member in &members {
            match groups.last_mut() {
                Some(group) if group.point == member.point => {
                    group.offers.push(member.offer);
                    add(&mut group.sums, member.sums);
                }
                _ => groups.push(Group { point: member.point, offers: vec![member.offer], sums: member.sums }),
            }
        }
        if groups.len() == 1 || zoom >= MAX_CLUSTER_ZOOM {
            for mut group in groups {
                group.offers.sort_unstable();
                features.push(Feature::Group(group));
            }
            continue;
        }
        let mut sums = Sums::default();
        let (mut lat_sum, mut lon_sum) = (0.0, 0.0);
        let mut bounds = BBox { min_lon: f64::MAX, min_lat: f64::MAX, max_lon: f64::MIN, max_lat: f64::MIN };
        for member in &members {
            add(&mut sums, member.sums);
            lat_sum += member.point.lat;
            lon_sum += member.point.lon;
            bounds.min_lon = bounds.min_lon.min(member.point.lon);
            bounds.max_lon = bounds.max_lon.max(member.point.lon);
            bounds.min_lat = bounds.min_lat.min(member.point.lat);
            bounds.max_lat = bounds.max_lat.max(member.point.lat);
        }
        let count = members.len() as f64;
        let points: Vec<GeoPoint> = groups.iter().map(|group| group.point).collect();
        features.push(Feature::Cell(Cell {
            precision,
            x,
            y,
            count: members.len(),
            positions: groups.len(),
            centre: GeoPoint { lat: lat_sum / count, lon: lon_sum / count },
            bounds,
            expansion_zoom: expansion_zoom(&points, zoom),
            sums,
        }));
    }
    Clusters { zoom, total, features }
}

fn add(sums: &mut Sums, more: Sums) {
    sums.available += more.available;
    sums.crisis_t0 += more.crisis_t0;
    sums.crisis_t60 += more.crisis_t60;
}

/// The smallest zoom above `zoom` at which `points` (distinct, at least two) fall in more than
/// one cell; [`MAX_CLUSTER_ZOOM`] at most (where every position is shown on its own).
fn expansion_zoom(points: &[GeoPoint], zoom: u8) -> u8 {
    for next in zoom + 1..MAX_CLUSTER_ZOOM {
        let first = tile_of(points[0], next + CELL_PRECISION_OFFSET);
        if points[1..].iter().any(|point| tile_of(*point, next + CELL_PRECISION_OFFSET) != first) {
            return next;
        }
    }
    MAX_CLUSTER_ZOOM
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let zoom = expansion_zoom(&points, 3);
        let cells = |zoom: u8| {
            let precision = zoom + CELL_PRECISION_OFFSET;
            (tile_of(points[0], precision), tile_of(points[1], precision))
        };
        assert_ne!(cells(zoom).0, cells(zoom).1);
        assert_eq!(cells(zoom - 1).0, cells(zoom - 1).1);
    }
}
