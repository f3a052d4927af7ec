//! Search results as a GeoJSON FeatureCollection (RFC 7946), for maps.

use serde::Serialize;

use crate::engine::Engine;
use crate::engine::clusters::{self, Clusters};
use crate::engine::response::{OfferHit, SearchResponse};
use crate::model::access::{Field, ProfileSet};

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

/// The clusters of a viewport as a FeatureCollection: a cell of several positions is a
/// `cluster: true` feature at the mean position of its matches (supercluster's properties, plus
/// the cell's `key`, `bbox`, `positions`, `expansion_zoom`); a position is a `cluster: false`
/// feature listing its offers. Capacity sums are there only for the profiles that see those
/// counts somewhere.
pub(crate) fn clusters_collection(engine: &Engine, clusters: &Clusters, profiles: ProfileSet) -> serde_json::Value {
    use serde_json::{Map, Value, json};
    let shows_available = profiles.sees_anywhere(Field::OperationalCapacity);
    let shows_crisis = profiles.sees_anywhere(Field::SupplementaryCapacity);
    let sums = |properties: &mut Map<String, Value>, sums: &clusters::Sums| {
        if shows_available {
            properties.insert("available".into(), json!(sums.available));
        }
        if shows_crisis {
            properties.insert("crisis_t0".into(), json!(sums.crisis_t0));
            properties.insert("crisis_t60".into(), json!(sums.crisis_t60));
        }
    };
    let features: Vec<Value> = clusters
        .features
        .iter()
        .map(|feature| match feature {
            clusters::Feature::Cell(cell) => {
                let mut properties = Map::new();
                properties.insert("cluster".into(), json!(true));
                properties.insert("cluster_id".into(), json!(cell.id()));
                properties.insert("key".into(), json!(cell.key()));
                properties.insert("point_count".into(), json!(cell.count));
                properties.insert("point_count_abbreviated".into(), json!(clusters::abbreviate(cell.count)));
                properties.insert("positions".into(), json!(cell.positions));
                properties.insert("expansion_zoom".into(), json!(cell.expansion_zoom));
                let bounds = &cell.bounds;
                properties
                    .insert("bbox".into(), json!([bounds.min_lon, bounds.min_lat, bounds.max_lon, bounds.max_lat]));
                sums(&mut properties, &cell.sums);
                json!({
                    "type": "Feature",
                    "id": cell.id(),
                    "geometry": {"type": "Point", "coordinates": [cell.centre.lon, cell.centre.lat]},
                    "properties": properties,
                })
            }
            clusters::Feature::Group(group) => {
                let mut properties = Map::new();
                properties.insert("cluster".into(), json!(false));
                properties.insert("point_count".into(), json!(group.offers.len()));
                let offers: Vec<&str> = group.offers.iter().map(|offer| engine.offer_id(*offer)).collect();
                properties.insert("offers".into(), json!(offers));
                sums(&mut properties, &group.sums);
                json!({
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [group.point.lon, group.point.lat]},
                    "properties": properties,
                })
            }
        })
        .collect();
    json!({
        "type": "FeatureCollection",
        "snapshot": engine.manifest().snapshot_id,
        "zoom": clusters.zoom,
        "total": clusters.total,
        "features": features,
    })
}
