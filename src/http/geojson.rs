//! Map clusters as a GeoJSON FeatureCollection (RFC 7946); search results are written as one
//! by `engine::Page::write_geojson`.

use serde::Serialize;

use crate::engine::Engine;
use crate::engine::clusters::{self, Clusters};
use crate::engine::page::Point;
use crate::model::access::{Field, ProfileSet};

/// The clusters of a viewport as a FeatureCollection: a cell of several positions is a
/// `cluster: true` feature at the mean position of its matches (supercluster's properties, plus
/// the cell's `key`, `bbox`, `positions`, `expansion_zoom`); a position is a `cluster: false`
/// feature listing its offers. Capacity sums are there only for the profiles that see those
/// counts somewhere.
#[derive(Debug, Serialize)]
pub(crate) struct ClustersCollection<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    snapshot: &'a str,
    zoom: u8,
    total: usize,
    features: Vec<ClusterFeature<'a>>,
}

#[derive(Debug, Serialize)]
struct ClusterFeature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u64>,
    geometry: Point,
    properties: ClusterProperties<'a>,
}

#[derive(Debug, Serialize)]
struct ClusterProperties<'a> {
    cluster: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    point_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    point_count_abbreviated: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    positions: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expansion_zoom: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bbox: Option<[f64; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offers: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    available: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crisis_t0: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crisis_t60: Option<u64>,
}

impl<'a> ClustersCollection<'a> {
    /// The collection of `clusters`, as `profiles` see its sums.
    pub(crate) fn new(engine: &'a Engine, clusters: &Clusters, profiles: ProfileSet) -> ClustersCollection<'a> {
        let shows_available = profiles.sees_anywhere(Field::OperationalCapacity);
        let shows_crisis = profiles.sees_anywhere(Field::SupplementaryCapacity);
        let properties = |cluster: bool, point_count: usize, sums: &clusters::Sums| ClusterProperties {
            cluster,
            cluster_id: None,
            key: None,
            point_count,
            point_count_abbreviated: None,
            positions: None,
            expansion_zoom: None,
            bbox: None,
            offers: None,
            available: shows_available.then_some(sums.available),
            crisis_t0: shows_crisis.then_some(sums.crisis_t0),
            crisis_t60: shows_crisis.then_some(sums.crisis_t60),
        };
        let features = clusters
            .features
            .iter()
            .map(|feature| match feature {
                clusters::Feature::Cell(cell) => {
                    let bounds = &cell.bounds;
                    ClusterFeature {
                        kind: "Feature",
                        id: Some(cell.id()),
                        geometry: Point { kind: "Point", coordinates: [cell.centre.lon, cell.centre.lat] },
                        properties: ClusterProperties {
                            cluster_id: Some(cell.id()),
                            key: Some(cell.key()),
                            point_count_abbreviated: Some(clusters::abbreviate(cell.count)),
                            positions: Some(cell.positions),
                            expansion_zoom: Some(cell.expansion_zoom),
                            bbox: Some([bounds.min_lon, bounds.min_lat, bounds.max_lon, bounds.max_lat]),
                            ..properties(true, cell.count, &cell.sums)
                        },
                    }
                }
                clusters::Feature::Group(group) => ClusterFeature {
                    kind: "Feature",
                    id: None,
                    geometry: Point { kind: "Point", coordinates: [group.point.lon, group.point.lat] },
                    properties: ClusterProperties {
                        offers: Some(group.offers.iter().map(|offer| engine.offer_id(*offer)).collect()),
                        ..properties(false, group.offers.len(), &group.sums)
                    },
                },
            })
            .collect();
        ClustersCollection {
            kind: "FeatureCollection",
            snapshot: &engine.manifest().snapshot_id,
            zoom: clusters.zoom,
            total: clusters.total,
            features,
        }
    }
}
