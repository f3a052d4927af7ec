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

/// Index of a point on a Hilbert curve of order 16 over lon/lat (65,536 × 65,536 cells).
pub(crate) fn hilbert_index(point: GeoPoint) -> u64 {
    const ORDER: u32 = 16;
    let side = 1u64 << ORDER;
    let scale = |value: f64, low: f64, high: f64| -> u64 {
        (((value - low) / (high - low)) * side as f64).clamp(0.0, (side - 1) as f64) as u64
    };
    let mut x = scale(point.lon, -180.0, 180.0);
    let mut y = scale(point.lat, -90.0, 90.0);
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
    fn departements() {
        assert_eq!(departement_of_commune("45234"), Some("45"));
        assert_eq!(departement_of_commune("2A004"), Some("2A"));
        assert_eq!(departement_of_commune("97411"), Some("974"));
        assert_eq!(departement_of_commune("4523"), None);
    }
}
