//! Where each offer is, and the order the engine numbers offers in.
//!
//! Every offer gets one search position ([`offer_position`]). Distinct positions are numbered
//! along a Hilbert curve over longitude/latitude, and offers are numbered ("doc ids") by
//! position, so that:
//! * the offers at one position are one contiguous range of doc ids (thousands of EGs share a
//!   position, and a site runs several offers);
//! * offers close on the map are close in doc-id order, so a region of the map is a few doc-id
//!   ranges: the text index's posting lists (in doc-id order) are intersected with a region by
//!   seeking range to range, and per-offer columns are read sequentially.
//!
//! The dataset keeps offers sorted by FHIR id ("offer index"); [`Layout`] maps between the two
//! numberings. The text index is built in doc-id order by the same function, and the engine
//! checks at load that both agree.

use serde::{Deserialize, Serialize};

use crate::model::place::Commune;
use crate::model::{Dataset, GeoPoint, Offer};

/// Sentinel for "no position".
pub(crate) const NO_POSITION: u32 = u32::MAX;

/// Where an offer's search position comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// `Location.position` of the first of the offer's locations that has one.
    Location,
    /// The EG's geolocation.
    Eg,
    /// The centroid of the commune (location's `ror-commune-cog`, else the EG's address).
    CommuneCentroid,
}

/// Finds a commune's centroid by INSEE code in a table sorted by code.
pub(crate) fn commune_by_code<'a>(communes: &'a [Commune], code: &str) -> Option<&'a Commune> {
    let start = communes.partition_point(|commune| commune.code.as_str() < code);
    communes.get(start).filter(|commune| commune.code == code)
}

/// The search position of an offer: its first location with a position, else its EG's
/// position, else the centroid of its commune. `None` when none is known (the offer can still
/// be found by text and filters, never by distance or map).
pub fn offer_position(dataset: &Dataset, communes: &[Commune], offer: &Offer) -> Option<(GeoPoint, PositionSource)> {
    let locations = offer.locations.iter().map(|&location| &dataset.locations[location as usize]);
    if let Some(position) = locations.clone().find_map(|location| location.position) {
        return Some((position, PositionSource::Location));
    }
    let eg = offer.eg.map(|eg| &dataset.egs[eg as usize]);
    if let Some(position) = eg.and_then(|eg| eg.position) {
        return Some((position, PositionSource::Eg));
    }
    let commune_code = locations
        .filter_map(|location| location.commune.as_deref())
        .next()
        .or_else(|| eg.and_then(|eg| eg.address.commune.as_deref()))?;
    let commune = commune_by_code(communes, commune_code)?;
    Some((GeoPoint { lat: commune.lat, lon: commune.lon }, PositionSource::CommuneCentroid))
}

/// The INSEE commune code of an offer: its first location's `ror-commune-cog`, else its EG's.
pub(crate) fn offer_commune<'a>(dataset: &'a Dataset, offer: &Offer) -> Option<&'a str> {
    offer
        .locations
        .iter()
        .filter_map(|&location| dataset.locations[location as usize].commune.as_deref())
        .next()
        .or_else(|| offer.eg.and_then(|eg| dataset.egs[eg as usize].address.commune.as_deref()))
}

/// The département of an INSEE commune code: `2A`, `2B`, the 3-digit overseas codes (`974`),
/// else the first two characters.
pub(crate) fn departement_of_commune(commune: &str) -> Option<&str> {
    if commune.len() != 5 {
        return None;
    }
    if commune.starts_with("97") || commune.starts_with("98") { Some(&commune[..3]) } else { Some(&commune[..2]) }
}

/// Order of the Hilbert curve positions are numbered along: a grid of 2^16 × 2^16 cells over
/// lon/lat.
pub(crate) const HILBERT_ORDER: u32 = 16;

/// The cell of the Hilbert grid a point falls in: (column from longitude -180, row from
/// latitude -90), each in `0..2^HILBERT_ORDER`.
pub(crate) fn hilbert_cell(point: GeoPoint) -> (u64, u64) {
    let side = 1u64 << HILBERT_ORDER;
    let scale = |value: f64, low: f64, high: f64| -> u64 {
        (((value - low) / (high - low)) * side as f64).clamp(0.0, (side - 1) as f64) as u64
    };
    (scale(point.lon, -180.0, 180.0), scale(point.lat, -90.0, 90.0))
}

/// Index of a point on a Hilbert curve of order 16 over lon/lat (65,536 × 65,536 cells).
pub(crate) fn hilbert_index(point: GeoPoint) -> u64 {
    let (x, y) = hilbert_cell(point);
    hilbert_of_cell(x, y)
}

/// Index on the Hilbert curve of a cell of its grid ([`hilbert_cell`]). Every aligned square
/// of 4^k cells is one run of 4^k consecutive indexes (see [`HilbertSquare`]).
pub(crate) fn hilbert_of_cell(mut x: u64, mut y: u64) -> u64 {
    let side = 1u64 << HILBERT_ORDER;
    let mut index = 0u64;
    let mut s = side / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        index += s * s * ((3 * rx) ^ ry);
        if ry == 0 {
            if rx == 1 {
                x = side - 1 - x;
                y = side - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    index
}

/// An aligned square of the Hilbert grid and where the curve runs through it: the curve
/// visits its cells as the one run of indexes `start..start + side²`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HilbertSquare {
    /// How many times the whole grid was quartered to get it (0: the whole grid).
    pub(crate) level: u32,
    /// Its first grid cell (column, row).
    pub(crate) x: u64,
    pub(crate) y: u64,
    /// Its first index on the curve.
    pub(crate) start: u64,
    /// How the curve is turned inside it: [`hilbert_of_cell`]'s transform of the lower bits so
    /// far (a transposition, then a flip of both coordinates; the two commute).
    swap: bool,
    flip: bool,
}

impl HilbertSquare {
    /// The whole grid.
    pub(crate) const ROOT: HilbertSquare = HilbertSquare { level: 0, x: 0, y: 0, start: 0, swap: false, flip: false };

    /// Its side, in grid cells.
    pub(crate) fn side(&self) -> u64 {
        1 << (HILBERT_ORDER - self.level)
    }

    /// Its four quarters in curve order (`None` for a single grid cell).
    pub(crate) fn quarters(&self) -> Option<[HilbertSquare; 4]> {
        if self.level == HILBERT_ORDER {
            return None;
        }
        let half = self.side() / 2;
        let run = half * half;
        let mut quarters = [*self; 4];
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (a, b) = if self.flip { (1 - dx, 1 - dy) } else { (dx, dy) };
            let (rx, ry) = if self.swap { (b, a) } else { (a, b) };
            let digit = (3 * rx) ^ ry;
            let turned = ry == 0;
            quarters[digit as usize] = HilbertSquare {
                level: self.level + 1,
                x: self.x + dx * half,
                y: self.y + dy * half,
                start: self.start + digit * run,
                swap: self.swap ^ turned,
                flip: self.flip ^ (turned && rx == 1),
            };
        }
        Some(quarters)
    }
}

/// The doc-id numbering of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Doc id → offer index in the dataset.
    pub(crate) offer_of_doc: Vec<u32>,
    /// Offer index → doc id.
    pub(crate) doc_of_offer: Vec<u32>,
    /// Distinct positions, in Hilbert order.
    pub positions: Vec<GeoPoint>,
    /// Docs of position `p` are `position_start[p]..position_start[p + 1]`; docs from
    /// `position_start[positions.len()]` on have no position.
    pub(crate) position_start: Vec<u32>,
    /// Doc id → position id ([`NO_POSITION`] for offers without one).
    pub(crate) position_of_doc: Vec<u32>,
    /// Offer index → where its position came from.
    pub(crate) position_source: Vec<Option<PositionSource>>,
}

impl Layout {
    /// Computes the layout of a dataset. Deterministic: the same dataset and communes always
    /// give the same layout.
    pub fn new(dataset: &Dataset, communes: &[Commune]) -> Layout {
        let offer_count = dataset.offers.len();
        let mut offer_positions: Vec<Option<GeoPoint>> = Vec::with_capacity(offer_count);
        let mut position_source = Vec::with_capacity(offer_count);
        for offer in &dataset.offers {
            let found = offer_position(dataset, communes, offer);
            offer_positions.push(found.map(|(point, _)| point));
            position_source.push(found.map(|(_, source)| source));
        }
        // Distinct positions, keyed by their exact bits, in Hilbert order (ties: lat, lon).
        let mut distinct: Vec<(u64, u64, u64)> = offer_positions
            .iter()
            .flatten()
            .map(|point| (hilbert_index(*point), point.lat.to_bits(), point.lon.to_bits()))
            .collect();
        distinct.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| f64::from_bits(a.1).total_cmp(&f64::from_bits(b.1)))
                .then_with(|| f64::from_bits(a.2).total_cmp(&f64::from_bits(b.2)))
        });
        distinct.dedup();
        let positions: Vec<GeoPoint> = distinct
            .iter()
            .map(|&(_, lat, lon)| GeoPoint { lat: f64::from_bits(lat), lon: f64::from_bits(lon) })
            .collect();
        let position_id = |point: &GeoPoint| -> u32 {
            let key = (hilbert_index(*point), point.lat.to_bits(), point.lon.to_bits());
            distinct
                .binary_search_by(|probe| {
                    probe
                        .0
                        .cmp(&key.0)
                        .then_with(|| f64::from_bits(probe.1).total_cmp(&f64::from_bits(key.1)))
                        .then_with(|| f64::from_bits(probe.2).total_cmp(&f64::from_bits(key.2)))
                })
                .expect("every offer position is among the distinct positions") as u32
        };
        let mut keyed: Vec<(u32, u32)> = offer_positions
            .iter()
            .enumerate()
            .map(|(offer, point)| (point.as_ref().map_or(NO_POSITION, position_id), offer as u32))
            .collect();
        rayon::slice::ParallelSliceMut::par_sort_unstable(&mut keyed[..]);
        let offer_of_doc: Vec<u32> = keyed.iter().map(|&(_, offer)| offer).collect();
        let position_of_doc: Vec<u32> = keyed.iter().map(|&(position, _)| position).collect();
        let mut doc_of_offer = vec![0u32; offer_count];
        for (doc, &offer) in offer_of_doc.iter().enumerate() {
            doc_of_offer[offer as usize] = doc as u32;
        }
        let mut position_start = vec![0u32; positions.len() + 1];
        let mut doc = 0usize;
        for (position, start) in position_start.iter_mut().enumerate() {
            while doc < position_of_doc.len() && position_of_doc[doc] < position as u32 {
                doc += 1;
            }
            *start = doc as u32;
        }
        Layout { offer_of_doc, doc_of_offer, positions, position_start, position_of_doc, position_source }
    }

    /// Number of docs (offers).
    pub(crate) fn doc_count(&self) -> u32 {
        self.offer_of_doc.len() as u32
    }

    /// Docs at position `position`.
    pub(crate) fn docs_at(&self, position: u32) -> std::ops::Range<u32> {
        self.position_start[position as usize]..self.position_start[position as usize + 1]
    }

    /// The docs of a run of positions (consecutive doc ids).
    pub(crate) fn docs_of_positions(&self, positions: std::ops::Range<u32>) -> std::ops::Range<u32> {
        self.position_start[positions.start as usize]..self.position_start[positions.end as usize]
    }

    /// The position of a doc, if it has one.
    pub(crate) fn position_of(&self, doc: u32) -> Option<GeoPoint> {
        let position = self.position_of_doc[doc as usize];
        (position != NO_POSITION).then(|| self.positions[position as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_neighbours_are_close() {
        let paris = hilbert_index(GeoPoint { lat: 48.8566, lon: 2.3522 });
        let paris_nearby = hilbert_index(GeoPoint { lat: 48.857, lon: 2.353 });
        let lyon = hilbert_index(GeoPoint { lat: 45.764, lon: 4.8357 });
        assert!(paris.abs_diff(paris_nearby) < paris.abs_diff(lyon));
        assert!(hilbert_index(GeoPoint { lat: 90.0, lon: 180.0 }) < 1 << 32);
    }

    #[test]
    fn hilbert_squares_quarter_along_the_curve() {
        // Every square reached from the whole grid is the run of indexes it says: the first
        // index of its run is that of each of its cells rounded down to the run's length, and
        // its quarters follow one another along it.
        let mut rng = crate::util::rng::SplitMix64::new(11);
        for _ in 0..500 {
            let mut square = HilbertSquare::ROOT;
            while let Some(quarters) = square.quarters() {
                let run = 1u64 << (2 * (HILBERT_ORDER - square.level - 1));
                for (k, quarter) in quarters.iter().enumerate() {
                    assert_eq!(quarter.start, square.start + k as u64 * run);
                    let (dx, dy) = (rng.next_u64() % quarter.side(), rng.next_u64() % quarter.side());
                    assert_eq!(quarter.start, hilbert_of_cell(quarter.x + dx, quarter.y + dy) / run * run);
                }
                square = quarters[(rng.next_u64() % 4) as usize];
            }
            assert_eq!(square.start, hilbert_of_cell(square.x, square.y));
        }
    }

    #[test]
    fn departements() {
        assert_eq!(departement_of_commune("45234"), Some("45"));
        assert_eq!(departement_of_commune("2A004"), Some("2A"));
        assert_eq!(departement_of_commune("97411"), Some("974"));
        assert_eq!(departement_of_commune("4523"), None);
    }
}
