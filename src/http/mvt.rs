//! Mapbox Vector Tiles 2.1: the only module that knows the format.
//!
//! A tile of map clusters ([`crate::engine::tiles`]) is written as two layers of POINT
//! features, extent [`TILE_EXTENT`]:
//! - [`CLUSTERS_LAYER`]: the cells of several positions, with supercluster's properties as
//!   `/v1/clusters` names them (`cluster` = true, `cluster_id`, `point_count`,
//!   `point_count_abbreviated`) and the cell's `key`, `positions`, `expansion_zoom`; the
//!   feature id is the cluster id;
//! - [`POINTS_LAYER`]: the positions, `cluster` = false, `point_count` = the offers standing
//!   there, `offers` = their ids joined by commas.
//!
//! Both carry the sums `available`, `crisis_t0`, `crisis_t60` only for the profiles that see
//! those counts somewhere. Values are typed (uint, string, bool), keys and values stored once per
//! layer. A layer without features is left out, so a tile without features is empty: zero
//! bytes, the protobuf encoding of a tile with no layer, which map clients draw as an empty tile.
//!
//! The protobuf is written by hand against the specification's `vector_tile.proto`: the format
//! needs varints, length-delimited fields and packed `uint32`s, and the features are already
//! in integer tile coordinates (the encoding crates take float coordinates through a transform
//! and bring a protobuf runtime). The tests decode with an independent reader.

use rustc_hash::FxHashMap;

use crate::engine::Engine;
use crate::engine::clusters::{Feature, Sums, abbreviate};
use crate::engine::tiles::{TILE_EXTENT, Tile};
use crate::model::access::{Field, ProfileSet};

/// The media type of a tile.
pub const CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The layer of the cells of several positions.
pub const CLUSTERS_LAYER: &str = "clusters";

/// The layer of the positions and their offers.
pub const POINTS_LAYER: &str = "points";

/// The version of the specification the layers follow.
const VERSION: u64 = 2;

/// `Tile.layers`.
const TILE_LAYERS: u32 = 3;
/// `Layer` fields.
const LAYER_NAME: u32 = 1;
const LAYER_FEATURES: u32 = 2;
const LAYER_KEYS: u32 = 3;
const LAYER_VALUES: u32 = 4;
const LAYER_EXTENT: u32 = 5;
const LAYER_VERSION: u32 = 15;
/// `Feature` fields.
const FEATURE_ID: u32 = 1;
const FEATURE_TAGS: u32 = 2;
const FEATURE_TYPE: u32 = 3;
const FEATURE_GEOMETRY: u32 = 4;
/// `GeomType.POINT`.
const POINT: u64 = 1;
/// `Value` fields.
const VALUE_STRING: u32 = 1;
const VALUE_UINT: u32 = 5;
const VALUE_BOOL: u32 = 7;
/// Wire types.
const VARINT: u32 = 0;
const LENGTH_DELIMITED: u32 = 2;
/// The geometry command of one `MoveTo` (command 1, count 1).
const MOVE_TO_ONE: u32 = 1 | (1 << 3);

/// Encodes `tile` as `profiles` see its sums (see the module's documentation).
pub fn encode(engine: &Engine, tile: &Tile, profiles: ProfileSet) -> Vec<u8> {
    encode_with(tile, profiles, |offer| engine.offer_id(offer))
}

/// [`encode`], with the offers' ids given by `offer_id` (dataset index → FHIR id).
fn encode_with<'a>(tile: &Tile, profiles: ProfileSet, offer_id: impl Fn(u32) -> &'a str) -> Vec<u8> {
    let shows_available = profiles.sees_anywhere(Field::OperationalCapacity);
    let shows_crisis = profiles.sees_anywhere(Field::SupplementaryCapacity);
    let sums = |layer: &mut LayerWriter, sums: &Sums| {
        if shows_available {
            layer.tag("available", Value::Uint(sums.available));
        }
        if shows_crisis {
            layer.tag("crisis_t0", Value::Uint(sums.crisis_t0));
            layer.tag("crisis_t60", Value::Uint(sums.crisis_t60));
        }
    };
    let mut clusters = LayerWriter::new(CLUSTERS_LAYER);
    let mut points = LayerWriter::new(POINTS_LAYER);
    let mut offers = String::new();
    for feature in &tile.features {
        match &feature.feature {
            Feature::Cell(cell) => {
                let layer = &mut clusters;
                layer.tag("cluster", Value::Bool(true));
                layer.tag("cluster_id", Value::Uint(cell.id()));
                layer.tag("key", Value::String(&cell.key()));
                layer.tag("point_count", Value::Uint(cell.count as u64));
                layer.tag("point_count_abbreviated", Value::String(&abbreviate(cell.count)));
                layer.tag("positions", Value::Uint(cell.positions as u64));
                layer.tag("expansion_zoom", Value::Uint(u64::from(cell.expansion_zoom)));
                sums(layer, &cell.sums);
                layer.end_feature(Some(cell.id()), feature.at);
            }
            Feature::Group(group) => {
                let layer = &mut points;
                offers.clear();
                for (index, offer) in group.offers.iter().enumerate() {
                    if index > 0 {
                        offers.push(',');
                    }
                    offers.push_str(offer_id(*offer));
                }
                layer.tag("cluster", Value::Bool(false));
                layer.tag("point_count", Value::Uint(group.offers.len() as u64));
                layer.tag("offers", Value::String(&offers));
                sums(layer, &group.sums);
                layer.end_feature(None, feature.at);
            }
        }
    }
    let mut out = Vec::with_capacity(clusters.features.len() + points.features.len() + 1024);
    clusters.write_into(&mut out);
    points.write_into(&mut out);
    out
}

/// A property value, as the layer stores it.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    String(&'a str),
    Uint(u64),
    Bool(bool),
}

/// One layer being written: its features so far, and its keys and values, each stored once.
struct LayerWriter {
    name: &'static str,
    /// The `features` fields, encoded.
    features: Vec<u8>,
    /// The keys, in the order of their first use.
    keys: Vec<&'static str>,
    /// The `values` fields, encoded, and how many.
    values: Vec<u8>,
    value_count: u32,
    strings: FxHashMap<String, u32>,
    uints: FxHashMap<u64, u32>,
    bools: [Option<u32>; 2],
    /// The tags of the feature being written.
    tags: Vec<u32>,
    /// Scratch for one feature.
    feature: Vec<u8>,
}

impl LayerWriter {
    fn new(name: &'static str) -> LayerWriter {
        LayerWriter {
            name,
            features: Vec::new(),
            keys: Vec::new(),
            values: Vec::new(),
            value_count: 0,
            strings: FxHashMap::default(),
            uints: FxHashMap::default(),
            bools: [None; 2],
            tags: Vec::new(),
            feature: Vec::new(),
        }
    }

    /// Adds a property to the feature being written.
    fn tag(&mut self, key: &'static str, value: Value<'_>) {
        let key_index = match self.keys.iter().position(|known| *known == key) {
            Some(index) => index,
            None => {
                self.keys.push(key);
                self.keys.len() - 1
            }
        } as u32;
        let value_index = self.value_index(value);
        self.tags.push(key_index);
        self.tags.push(value_index);
    }

    /// The index of `value` among the layer's values (stored at its first use).
    fn value_index(&mut self, value: Value<'_>) -> u32 {
        let known = match value {
            Value::String(text) => self.strings.get(text).copied(),
            Value::Uint(number) => self.uints.get(&number).copied(),
            Value::Bool(flag) => self.bools[usize::from(flag)],
        };
        if let Some(index) = known {
            return index;
        }
        let index = self.value_count;
        let mut encoded = Vec::new();
        match value {
            Value::String(text) => {
                self.strings.insert(text.to_owned(), index);
                bytes_field(&mut encoded, VALUE_STRING, text.as_bytes());
            }
            Value::Uint(number) => {
                self.uints.insert(number, index);
                varint_field(&mut encoded, VALUE_UINT, number);
            }
            Value::Bool(flag) => {
                self.bools[usize::from(flag)] = Some(index);
                varint_field(&mut encoded, VALUE_BOOL, u64::from(flag));
            }
        }
        bytes_field(&mut self.values, LAYER_VALUES, &encoded);
        self.value_count += 1;
        index
    }

    /// Ends the feature being written: a point at tile coordinates `at`, its id if any.
    fn end_feature(&mut self, id: Option<u64>, at: [i32; 2]) {
        let feature = &mut self.feature;
        feature.clear();
        if let Some(id) = id {
            varint_field(feature, FEATURE_ID, id);
        }
        packed_field(feature, FEATURE_TAGS, &self.tags);
        varint_field(feature, FEATURE_TYPE, POINT);
        // one MoveTo from the feature's origin (0, 0): the point's own coordinates
        packed_field(feature, FEATURE_GEOMETRY, &[MOVE_TO_ONE, zigzag(at[0]), zigzag(at[1])]);
        bytes_field(&mut self.features, LAYER_FEATURES, feature);
        self.tags.clear();
    }

    /// Appends the layer, as a `Tile.layers` field, to `out` (nothing when it has no feature).
    fn write_into(&self, out: &mut Vec<u8>) {
        if self.features.is_empty() {
            return;
        }
        let mut layer = Vec::with_capacity(self.features.len() + self.values.len() + 256);
        bytes_field(&mut layer, LAYER_NAME, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for key in &self.keys {
            bytes_field(&mut layer, LAYER_KEYS, key.as_bytes());
        }
        layer.extend_from_slice(&self.values);
        varint_field(&mut layer, LAYER_EXTENT, TILE_EXTENT as u64);
        varint_field(&mut layer, LAYER_VERSION, VERSION);
        bytes_field(out, TILE_LAYERS, &layer);
    }
}

/// Appends a base-128 varint.
fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a field's key.
fn key(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    varint(out, u64::from(field << 3 | wire_type));
}

fn varint_field(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, VARINT);
    varint(out, value);
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, LENGTH_DELIMITED);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A packed repeated `uint32` field.
fn packed_field(out: &mut Vec<u8>, field: u32, values: &[u32]) {
    let mut packed = Vec::with_capacity(values.len() * 2);
    for value in values {
        varint(&mut packed, u64::from(*value));
    }
    bytes_field(out, field, &packed);
}

/// The zigzag encoding of a geometry parameter: 0, -1, 1, -2 … as 0, 1, 2, 3 …
fn zigzag(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clusters::{Cell, Group};
    use crate::engine::request::BBox;
    use crate::engine::tiles::{TileAddress, TileFeature};
    use crate::model::access::Profile;
    use crate::util::geo::GeoPoint;

    /// `vector_tile.proto` as prost reads it: the raw layers, to check what a feature-level
    /// reader does not show (the keys and values tables, the geometry commands).
    mod raw {
        #[derive(Clone, PartialEq, prost::Message)]
        pub(super) struct Tile {
            #[prost(message, repeated, tag = "3")]
            pub(super) layers: Vec<Layer>,
        }

        #[derive(Clone, PartialEq, prost::Message)]
        pub(super) struct Layer {
            #[prost(uint32, required, tag = "15")]
            pub(super) version: u32,
            #[prost(string, required, tag = "1")]
            pub(super) name: String,
            #[prost(message, repeated, tag = "2")]
            pub(super) features: Vec<Feature>,
            #[prost(string, repeated, tag = "3")]
            pub(super) keys: Vec<String>,
            #[prost(message, repeated, tag = "4")]
            pub(super) values: Vec<Value>,
            #[prost(uint32, optional, tag = "5")]
            pub(super) extent: Option<u32>,
        }

        #[derive(Clone, PartialEq, prost::Message)]
        pub(super) struct Feature {
            #[prost(uint64, optional, tag = "1")]
            pub(super) id: Option<u64>,
            #[prost(uint32, repeated, tag = "2")]
            pub(super) tags: Vec<u32>,
            #[prost(int32, optional, tag = "3")]
            pub(super) r#type: Option<i32>,
            #[prost(uint32, repeated, tag = "4")]
            pub(super) geometry: Vec<u32>,
        }

        #[derive(Clone, PartialEq, prost::Message)]
        pub(super) struct Value {
            #[prost(string, optional, tag = "1")]
            pub(super) string_value: Option<String>,
            #[prost(float, optional, tag = "2")]
            pub(super) float_value: Option<f32>,
            #[prost(double, optional, tag = "3")]
            pub(super) double_value: Option<f64>,
            #[prost(int64, optional, tag = "4")]
            pub(super) int_value: Option<i64>,
            #[prost(uint64, optional, tag = "5")]
            pub(super) uint_value: Option<u64>,
            #[prost(sint64, optional, tag = "6")]
            pub(super) sint_value: Option<i64>,
            #[prost(bool, optional, tag = "7")]
            pub(super) bool_value: Option<bool>,
        }
    }

    fn cell(x: u32, y: u32, count: usize, at: [i32; 2]) -> TileFeature {
        TileFeature {
            feature: Feature::Cell(Cell {
                precision: 8,
                x,
                y,
                count,
                positions: 3,
                centre: GeoPoint { lat: 44.8, lon: -0.6 },
                bounds: BBox { min_lon: -0.7, min_lat: 44.7, max_lon: -0.5, max_lat: 44.9 },
                expansion_zoom: 7,
                sums: Sums { available: 4, crisis_t0: 2, crisis_t60: 1 },
            }),
            at,
        }
    }

    fn group(offers: Vec<u32>, at: [i32; 2]) -> TileFeature {
        TileFeature {
            feature: Feature::Group(Group {
                point: GeoPoint { lat: 44.8, lon: -0.6 },
                offers,
                sums: Sums { available: 4, crisis_t0: 0, crisis_t60: 0 },
            }),
            at,
        }
    }

    fn sample() -> Tile {
        Tile {
            address: TileAddress::new(5, 15, 11).unwrap(),
            total: 0,
            features: vec![
                cell(126, 92, 1234, [25, 17]),
                cell(127, 92, 4, [-64, 4159]),
                group(vec![0, 2], [4095, 0]),
                group(vec![1], [100, -3]),
            ],
        }
    }

    fn offer_id(offer: u32) -> &'static str {
        ["hs-a", "hs-b", "hs-c"][offer as usize]
    }

    fn decode(bytes: &[u8]) -> raw::Tile {
        <raw::Tile as prost::Message>::decode(bytes).expect("a protobuf tile")
    }

    #[test]
    fn layers_follow_the_specification() {
        let tile = decode(&encode_with(&sample(), ProfileSet::default(), offer_id));
        let names: Vec<&str> = tile.layers.iter().map(|layer| layer.name.as_str()).collect();
        assert_eq!(names, [CLUSTERS_LAYER, POINTS_LAYER]);
        for layer in &tile.layers {
            assert_eq!((layer.version, layer.extent), (2, Some(4096)));
            let mut keys = layer.keys.clone();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), layer.keys.len(), "keys stored once: {:?}", layer.keys);
            for (index, value) in layer.values.iter().enumerate() {
                let set = [
                    value.string_value.is_some(),
                    value.float_value.is_some(),
                    value.double_value.is_some(),
                    value.int_value.is_some(),
                    value.uint_value.is_some(),
                    value.sint_value.is_some(),
                    value.bool_value.is_some(),
                ];
                assert_eq!(set.iter().filter(|set| **set).count(), 1, "one typed value: {value:?}");
                assert!(!layer.values[..index].contains(value), "values stored once: {value:?}");
            }
            for feature in &layer.features {
                assert_eq!(feature.r#type, Some(1), "POINT");
                assert_eq!(feature.tags.len() % 2, 0);
                for pair in feature.tags.chunks(2) {
                    assert!((pair[0] as usize) < layer.keys.len() && (pair[1] as usize) < layer.values.len());
                }
            }
        }
        let clusters = &tile.layers[0];
        // the specification's example: a point at (25, 17) is [9, 50, 34]
        assert_eq!(clusters.features[0].geometry, [9, 50, 34]);
        // negative and past-the-extent coordinates in the buffer, zigzag-encoded
        assert_eq!(clusters.features[1].geometry, [9, 127, 8318]);
        assert_eq!(clusters.features[0].id, Some((8 << 48) | (126 << 24) | 92));
        // `cluster: true`, the sums and positions 3 … shared by both cells
        assert_eq!(clusters.features[0].tags.len(), clusters.features[1].tags.len());
        let points = &tile.layers[1];
        assert_eq!(points.features[0].id, None);
        assert_eq!(points.features[1].geometry, [9, 200, 5]);
    }

    #[test]
    fn properties_read_back_typed() {
        use mvt_reader::feature::Value as Read;
        let bytes = encode_with(&sample(), ProfileSet::default(), offer_id);
        let reader = mvt_reader::Reader::new(bytes).expect("mvt-reader reads it");
        let layers = reader.get_layer_metadata().unwrap();
        assert_eq!(
            layers.iter().map(|layer| (layer.name.as_str(), layer.feature_count)).collect::<Vec<_>>(),
            [(CLUSTERS_LAYER, 2), (POINTS_LAYER, 2)]
        );
        let clusters = reader.get_features_as::<i32>(0).unwrap();
        let properties = clusters[0].properties.clone().unwrap();
        let expected = [
            ("cluster", Read::Bool(true)),
            ("cluster_id", Read::UInt((8 << 48) | (126 << 24) | 92)),
            ("key", Read::String("8/126/92".into())),
            ("point_count", Read::UInt(1234)),
            ("point_count_abbreviated", Read::String("1.2k".into())),
            ("positions", Read::UInt(3)),
            ("expansion_zoom", Read::UInt(7)),
            ("available", Read::UInt(4)),
            ("crisis_t0", Read::UInt(2)),
            ("crisis_t60", Read::UInt(1)),
        ];
        assert_eq!(properties.len(), expected.len(), "{properties:?}");
        for (name, value) in expected {
            assert_eq!(properties[name], value, "{name}");
        }
        // a single point reads back as a MultiPoint of one
        let point = |x, y| geo_types::Geometry::MultiPoint(geo_types::MultiPoint(vec![geo_types::Point::new(x, y)]));
        assert_eq!(clusters[1].geometry, point(-64, 4159));
        let points = reader.get_features_as::<i32>(1).unwrap();
        let first = points[0].properties.clone().unwrap();
        assert_eq!(first["cluster"], Read::Bool(false));
        assert_eq!(first["point_count"], Read::UInt(2));
        assert_eq!(first["offers"], Read::String("hs-a,hs-c".into()));
        assert_eq!(points[1].properties.clone().unwrap()["offers"], Read::String("hs-b".into()));
    }

    #[test]
    fn sums_only_for_the_profiles_that_see_them() {
        let public = decode(&encode_with(&sample(), ProfileSet::of(Profile::Public), offer_id));
        for layer in &public.layers {
            for key in ["available", "crisis_t0", "crisis_t60"] {
                assert!(!layer.keys.iter().any(|known| known == key), "{key} in {}", layer.name);
            }
        }
        let everything = decode(&encode_with(&sample(), ProfileSet::default(), offer_id));
        assert!(everything.layers[1].keys.iter().any(|key| key == "crisis_t60"));
    }

    #[test]
    fn an_empty_tile_is_empty() {
        let empty = Tile { address: TileAddress::new(0, 0, 0).unwrap(), total: 0, features: Vec::new() };
        assert!(encode_with(&empty, ProfileSet::default(), offer_id).is_empty());
        let only_points = Tile { features: vec![group(vec![1], [1, 1])], ..empty.clone() };
        let decoded = decode(&encode_with(&only_points, ProfileSet::default(), offer_id));
        assert_eq!(decoded.layers.iter().map(|layer| layer.name.as_str()).collect::<Vec<_>>(), [POINTS_LAYER]);
    }

    #[test]
    fn varints_and_zigzag() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!([zigzag(0), zigzag(-1), zigzag(1), zigzag(-2), zigzag(4159)], [0, 1, 2, 3, 8318]);
        assert_eq!(zigzag(i32::MIN), u32::MAX);
    }
}
