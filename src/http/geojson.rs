//! Search results as a GeoJSON FeatureCollection (RFC 7946), for maps.

use serde::Serialize;

use crate::engine::response::{OfferHit, SearchResponse};

/// A point geometry: `[lon, lat]`.
#[derive(Debug, Serialize)]
pub(crate) struct Point {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) coordinates: [f64; 2],
}

/// One offer as a feature; offers without a position have a `null` geometry.
#[derive(Debug, Serialize)]
pub(crate) struct Feature<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) id: &'a str,
    pub(crate) geometry: Option<Point>,
    pub(crate) properties: &'a OfferHit<'a>,
}

/// The results of a search as a FeatureCollection, with the search's metadata as foreign
/// members.
#[derive(Debug, Serialize)]
pub(crate) struct FeatureCollection<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) snapshot: &'a str,
    pub(crate) total: u64,
    pub(crate) total_exact: bool,
    pub(crate) features: Vec<Feature<'a>>,
}

impl<'a> FeatureCollection<'a> {
    /// The collection of a response's results.
    pub(crate) fn new(response: &'a SearchResponse<'a>) -> FeatureCollection<'a> {
        FeatureCollection {
            kind: "FeatureCollection",
            snapshot: response.snapshot,
            total: response.total,
            total_exact: response.total_exact,
            features: response
                .results
                .iter()
                .map(|hit| Feature {
                    kind: "Feature",
                    id: hit.id,
                    geometry: hit.lat.zip(hit.lon).map(|(lat, lon)| Point { kind: "Point", coordinates: [lon, lat] }),
                    properties: hit,
                })
                .collect(),
        }
    }
}
