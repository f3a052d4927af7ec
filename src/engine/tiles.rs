//! Vector tiles: the map clusters of one web-mercator tile `z/x/y`, each feature placed in the
//! tile's own coordinates (0 to [`TILE_EXTENT`] from the tile's north-west corner, x eastwards,
//! y southwards, as Mapbox Vector Tiles count them), with the features of the neighbouring
//! tiles that stand within [`TILE_BUFFER`] of its edges, so that a symbol near an edge is drawn
//! whole.
//!
//! A tile at zoom `z` holds exactly 8 × 8 cells of the clusters at that zoom (grid precision
//! `z + CELL_PRECISION_OFFSET`), so a cell belongs to one tile. A feature is placed by the
//! fixed-point web-mercator coordinates that number the cells ([`mercator`]): a position at its
//! own, a cell at its centre clamped into the cell. Every match is therefore counted inside
//! exactly one tile proper: the features inside `[0, TILE_EXTENT)` of a grid of tiles add up to
//! the matches, with no double count at the edges, and the buffer repeats exactly the
//! neighbours' features (the tile's box is enlarged by more than a cell, so that the cells of
//! the buffer are counted whole).
//!
//! # Units
//! Tile coordinates are MVT units, [`TILE_EXTENT`] to a tile side; boxes are WGS84 degrees.
//! Tiles across the antimeridian are not neighbours here: the westmost and eastmost tiles
//! carry no buffer beyond 180°.

use super::clusters::{CELL_PRECISION_OFFSET, Feature, MAX_ZOOM, mercator};
use super::filter::CompiledFilter;
use super::request::{BBox, DEFAULT_LIMIT, SearchRequest};
use super::{Engine, ParamError};

/// Units of tile coordinates across one tile side (the MVT extent).
pub const TILE_EXTENT: i32 = 4096;

/// Units beyond each edge of a tile whose features it also carries.
pub const TILE_BUFFER: i32 = 64;

/// The width of the world in fixed-point web-mercator units (see [`mercator`]).
const WORLD: u64 = 1 << 32;

/// One tile of the web-mercator grid, numbered as slippy maps do: at zoom `z`, `2^z` columns
/// `x` eastwards from 180° W and `2^z` rows `y` southwards from 85.05° N.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileAddress {
    z: u8,
    x: u32,
    y: u32,
}

impl TileAddress {
    /// The tile `z/x/y`: `z` from 0 to [`MAX_ZOOM`], `x` and `y` below `2^z`; else an error
    /// naming the parameter (`z`, `x` or `y`).
    pub fn new(z: u8, x: u32, y: u32) -> Result<TileAddress, ParamError> {
        if z > MAX_ZOOM {
            return Err(ParamError::new("z", format!("{z} is out of range: expected 0 to {MAX_ZOOM}")));
        }
        let last = (1u32 << z) - 1;
        for (name, value) in [("x", x), ("y", y)] {
            if value > last {
                return Err(ParamError::new(
                    name,
                    format!("{value} is out of range at zoom {z}: expected 0 to {last}"),
                ));
            }
        }
        Ok(TileAddress { z, x, y })
    }

    /// The zoom.
    pub fn z(self) -> u8 {
        self.z
    }

    /// The column.
    pub fn x(self) -> u32 {
        self.x
    }

    /// The row.
    pub fn y(self) -> u32 {
        self.y
    }

    /// log2 of the tile's width in fixed-point units (10 at zoom 22, 32 at zoom 0).
    fn shift(self) -> u32 {
        32 - u32::from(self.z)
    }

    /// The tile coordinates of a fixed-point web-mercator point (see [`mercator`]), rounded
    /// down; outside the tile they are negative or from [`TILE_EXTENT`] on.
    pub fn local(self, point: [u32; 2]) -> [i64; 2] {
        let shift = self.shift();
        let axis = |fixed: u32, index: u32| {
            let offset = i64::from(fixed) - (i64::from(index) << shift);
            // |offset| < 2^33, times 2^12: no overflow; the shift rounds towards -infinity
            (offset * i64::from(TILE_EXTENT)) >> shift
        };
        [axis(point[0], self.x), axis(point[1], self.y)]
    }

    /// The tile's box, WGS84 degrees. The rows at the top and bottom of the grid reach the
    /// poles (web mercator counts the latitudes beyond ±85.05° in them).
    pub fn bbox(self) -> BBox {
        self.bbox_around(0)
    }

    /// The tile's box enlarged by `margin` fixed-point units on each side (within the world).
    fn bbox_around(self, margin: u64) -> BBox {
        let shift = self.shift();
        let span = |index: u32| {
            let first = u64::from(index) << shift;
            (first.saturating_sub(margin), (first + (1 << shift)).saturating_add(margin).min(WORLD))
        };
        let ((west, east), (north, south)) = (span(self.x), span(self.y));
        let lon = |fixed: u64| fixed as f64 / WORLD as f64 * 360.0 - 180.0;
        let lat =
            |fixed: u64| (std::f64::consts::PI * (1.0 - 2.0 * fixed as f64 / WORLD as f64)).sinh().atan().to_degrees();
        BBox {
            min_lon: lon(west),
            max_lon: lon(east),
            max_lat: if north == 0 { 90.0 } else { lat(north) },
            min_lat: if south == WORLD { -90.0 } else { lat(south) },
        }
    }
}

impl std::fmt::Display for TileAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// A feature of a tile and where it is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    /// The cell or the position, as [`Engine::clusters`] counts it at the tile's zoom.
    pub feature: Feature,
    /// Tile coordinates, from `-TILE_BUFFER` to `TILE_EXTENT + TILE_BUFFER` (excluded).
    pub at: [i32; 2],
}

impl TileFeature {
    /// Whether it stands in the tile proper (not in the buffer).
    pub fn is_inside(&self) -> bool {
        self.at.iter().all(|coordinate| (0..TILE_EXTENT).contains(coordinate))
    }

    /// The matches it counts.
    pub fn count(&self) -> usize {
        match &self.feature {
            Feature::Cell(cell) => cell.count,
            Feature::Group(group) => group.offers.len(),
        }
    }
}

/// The clusters of one tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// Which tile.
    pub address: TileAddress,
    /// The matches inside the tile proper (the sum of its inside features' counts).
    pub total: usize,
    /// Its features and the buffer's, in the order of [`Engine::clusters`].
    pub features: Vec<TileFeature>,
}

/// What the answer of a tile request depends on besides its address, for caching: two
/// requests with equal versions get equal tiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileVersion<'a> {
    /// The snapshot.
    pub snapshot_id: &'a str,
    /// Live capacity writes applied to it (they change sums and capacity filters). Read before
    /// the tile is computed, so that a tile is never older than its version says.
    pub writes_applied: u64,
    /// How many closing and reopening instants have passed at the request's `now`.
    pub closure_changes: usize,
    /// The request's filters and the caller's profiles, as one canonical text (what does not
    /// change the tile left out: sort, page, facets, explain, `now`, a centre without radius).
    pub filters: String,
}

/// Refuses what a tile request may not carry: a `bbox` (the tile is the box).
pub fn check_request(request: &SearchRequest) -> Result<(), ParamError> {
    if request.bbox.is_some() {
        return Err(ParamError::new("bbox", "is not taken by a tile: the tile is the box"));
    }
    Ok(())
}

/// The fixed-point point a feature is drawn at: a position's own, a cell's centre clamped into
/// the cell (a mean of its positions, which float rounding could put a unit outside).
fn anchor(feature: &Feature) -> [u32; 2] {
    match feature {
        Feature::Group(group) => mercator(group.point),
        Feature::Cell(cell) => {
            let shift = 32 - u32::from(cell.precision);
            let centre = mercator(cell.centre);
            let clamp = |fixed: u32, index: u32| {
                let first = index << shift;
                fixed.clamp(first, first + ((1 << shift) - 1))
            };
            [clamp(centre[0], cell.x), clamp(centre[1], cell.y)]
        }
    }
}

impl Engine {
    /// The clusters of tile `address` for `request` (which must have no `bbox`): those of
    /// [`Engine::clusters`] at the tile's zoom, inside the tile or within [`TILE_BUFFER`] of
    /// it, each with its tile coordinates. Filters, live capacities and the caller's profiles
    /// apply as in [`Engine::search`].
    pub fn tile(&self, request: &SearchRequest, address: TileAddress) -> Result<Tile, ParamError> {
        check_request(request)?;
        // One cell and a quarter around the tile: the cells of the buffer (64 units, an eighth
        // of a cell) whole, and room for float rounding at the box's edges; the partial cells
        // beyond are more than a cell away, outside the buffer.
        let cell = 1u64 << (address.shift() - u32::from(CELL_PRECISION_OFFSET));
        let around = SearchRequest { bbox: Some(address.bbox_around(cell + cell / 4)), ..request.clone() };
        let clusters = self.clusters(&around, address.z)?;
        let kept = i64::from(-TILE_BUFFER)..i64::from(TILE_EXTENT + TILE_BUFFER);
        let features: Vec<TileFeature> = clusters
            .features
            .into_iter()
            .filter_map(|feature| {
                let [x, y] = address.local(anchor(&feature));
                if !(kept.contains(&x) && kept.contains(&y)) {
                    return None;
                }
                // in range, so the conversions are exact
                Some(TileFeature { feature, at: [x as i32, y as i32] })
            })
            .collect();
        let total = features.iter().filter(|feature| feature.is_inside()).map(TileFeature::count).sum();
        Ok(Tile { address, total, features })
    }

    /// The version of the answer to a tile request (see [`TileVersion`]), after the checks
    /// [`Engine::tile`] makes of its parameters before any walk (ranges, combinations, the
    /// profile's rights, codes, the centre, the text), so that a cached answer never stands in
    /// for an error.
    pub fn tile_version(&self, request: &SearchRequest) -> Result<TileVersion<'_>, ParamError> {
        check_request(request)?;
        SearchRequest { limit: 1, offset: 0, ..request.clone() }.validate()?;
        let now = request.now.unwrap_or_else(crate::util::time::now);
        CompiledFilter::new(request, &self.index.columns, now)?;
        self.index.centre_of(request.centre.as_ref())?;
        if let Some(q) = &request.q {
            self.index.text_query("q", q)?;
        }
        let writes_applied = self.live.load().writes_applied();
        let mut filters = SearchRequest {
            sort: None,
            limit: DEFAULT_LIMIT,
            offset: 0,
            facets: false,
            explain: None,
            exact_total: false,
            now: None,
            centre: request.centre.clone().filter(|_| request.radius_km.is_some()),
            ..request.clone()
        };
        for codes in [
            &mut filters.category,
            &mut filters.offer_type,
            &mut filters.activity,
            &mut filters.care_mode,
            &mut filters.reception,
        ] {
            codes.sort();
            codes.dedup();
        }
        let text = serde_json::to_string(&filters).unwrap_or_else(|_| format!("{filters:?}"));
        Ok(TileVersion {
            snapshot_id: self.snapshot_id(),
            writes_applied,
            closure_changes: self.closure_changes_until(now),
            filters: format!("{text} profiles {}", request.profiles),
        })
    }

    /// How many of the instants at which an offer closes or reopens, or its EG closes, are at
    /// or before `now` (Unix seconds). Two instants with the same count see the same offers
    /// closed: an answer cached at one is still the answer at the other.
    pub fn closure_changes_until(&self, now: i64) -> usize {
        let instants = self.closure_instants.get_or_init(|| closure_instants(&self.index.columns));
        instants.partition_point(|&instant| instant <= now)
    }
}

/// Every instant at which a doc's closure changes (see `filter::is_closed`), ascending.
fn closure_instants(columns: &super::columns::Columns) -> Vec<i64> {
    let mut instants: Vec<i64> = (0..columns.closed_from.len())
        .filter(|&doc| super::columns::bit(&columns.may_close, doc))
        .flat_map(|doc| super::filter::closure_instants(columns, doc))
        .collect();
    instants.sort_unstable();
    instants.dedup();
    instants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::geo::GeoPoint;

    #[test]
    fn addresses_are_checked() {
        assert!(TileAddress::new(0, 0, 0).is_ok());
        assert!(TileAddress::new(22, (1 << 22) - 1, 0).is_ok());
        assert_eq!(TileAddress::new(23, 0, 0).unwrap_err().parameter, "z");
        assert_eq!(TileAddress::new(0, 1, 0).unwrap_err().parameter, "x");
        assert_eq!(TileAddress::new(3, 0, 8).unwrap_err().parameter, "y");
        assert_eq!(TileAddress::new(5, 15, 11).unwrap().to_string(), "5/15/11");
    }

    #[test]
    fn local_coordinates_run_from_the_north_west_corner() {
        let tile = TileAddress::new(1, 1, 1).unwrap();
        // (0°, 0°) is the north-west corner of tile 1/1/1
        assert_eq!(tile.local(mercator(GeoPoint { lat: 0.0, lon: 0.0 })), [0, 0]);
        assert_eq!(tile.local([u32::MAX, u32::MAX]), [4095, 4095]);
        assert_eq!(tile.local([0, 0]), [-4096, -4096]);
        // one fixed-point unit is a quarter of a tile unit at zoom 22
        let deep = TileAddress::new(22, 5, 7).unwrap();
        let corner = [5u32 << 10, 7u32 << 10];
        assert_eq!(deep.local(corner), [0, 0]);
        assert_eq!(deep.local([corner[0] + 1, corner[1] - 1]), [4, -4]);
        // the whole world at zoom 0
        let world = TileAddress::new(0, 0, 0).unwrap();
        assert_eq!(world.local([1 << 31, 1 << 31]), [2048, 2048]);
    }

    #[test]
    fn a_tile_box_holds_the_points_of_the_tile() {
        for (lat, lon) in [(48.853, 2.3499), (44.84, -0.58), (-21.11, 55.53), (16.24, -61.53)] {
            let point = GeoPoint { lat, lon };
            let fixed = mercator(point);
            for z in [0u8, 3, 9, 14, 22] {
                let shift = 32 - u32::from(z);
                let index = |fixed: u32| fixed.checked_shr(shift).unwrap_or(0); // one tile at zoom 0
                let tile = TileAddress::new(z, index(fixed[0]), index(fixed[1])).unwrap();
                assert!(tile.bbox().contains(point), "{point:?} in {tile}");
                let [x, y] = tile.local(fixed);
                assert!((0..4096).contains(&x) && (0..4096).contains(&y), "{point:?} at {x},{y} in {tile}");
            }
        }
        let world = TileAddress::new(0, 0, 0).unwrap().bbox();
        assert_eq!((world.min_lon, world.min_lat, world.max_lon, world.max_lat), (-180.0, -90.0, 180.0, 90.0));
    }

    #[test]
    fn a_cell_is_drawn_inside_itself() {
        use crate::engine::clusters::{Cell, Sums};
        // a centre on the cell's west and north edges, nudged out by rounding
        let precision = 13;
        let (x, y) = (4055u32, 2887u32);
        let shift = 32 - precision;
        let edge = BBox { min_lon: 0.0, min_lat: 0.0, max_lon: 0.0, max_lat: 0.0 };
        let west = (f64::from(x << shift) - 0.5) / WORLD as f64 * 360.0 - 180.0;
        let cell = Cell {
            precision: precision as u8,
            x,
            y,
            count: 2,
            positions: 2,
            centre: GeoPoint { lat: 89.0, lon: west },
            bounds: edge,
            expansion_zoom: 11,
            sums: Sums::default(),
        };
        let [fixed_x, fixed_y] = anchor(&Feature::Cell(cell));
        assert_eq!((fixed_x >> shift, fixed_y >> shift), (x, y));
    }
}
