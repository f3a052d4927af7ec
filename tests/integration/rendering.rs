//! The pages written from pre-rendered fragments against the typed answer serialised: the same
//! bytes for every member, the members of `fields` only otherwise, and GeoJSON as a reference
//! FeatureCollection built from the typed answer. Called by the engine's and the live
//! capacities' brute-force suites on every query they make.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ror_search::engine::request::SearchRequest;
use ror_search::engine::response::SearchResponse;
use ror_search::engine::{Engine, FieldSet, ResultField};
use serde_json::{Value, json};

/// Random `fields`: mostly every member, else a view or any subset.
pub(crate) fn fields_strategy() -> impl Strategy<Value = FieldSet> {
    prop_oneof![
        6 => Just(FieldSet::FULL),
        1 => Just(FieldSet::IDS),
        1 => Just(FieldSet::SUMMARY),
        2 => prop::sample::subsequence(ResultField::ALL.to_vec(), 0..ResultField::ALL.len())
            .prop_map(|fields| FieldSet::of(&fields)),
    ]
}

/// The answer's JSON with only `fields` in each result.
fn restricted(response: &SearchResponse<'_>, fields: FieldSet) -> Value {
    // Through the text: `score` is an f32, which `to_value` would widen.
    let text = serde_json::to_string(response).expect("a response serialises");
    let mut value: Value = serde_json::from_str(&text).expect("a response parses");
    for result in value["results"].as_array_mut().expect("results") {
        let object = result.as_object_mut().expect("a result is an object");
        object.retain(|name, _| ResultField::from_name(name).is_some_and(|field| fields.contains(field)));
    }
    value
}

/// The reference GeoJSON of an answer: a Feature per result, its geometry its position.
fn reference_geojson(response: &SearchResponse<'_>, fields: FieldSet) -> Value {
    let results = restricted(response, fields);
    let features: Vec<Value> = response
        .results
        .iter()
        .zip(results["results"].as_array().expect("results"))
        .map(|(hit, properties)| {
            let geometry = match (hit.lat, hit.lon) {
                (Some(lat), Some(lon)) => json!({"type": "Point", "coordinates": [lon, lat]}),
                _ => Value::Null,
            };
            json!({"type": "Feature", "id": hit.id, "geometry": geometry, "properties": properties})
        })
        .collect();
    json!({
        "type": "FeatureCollection",
        "snapshot": response.snapshot,
        "total": response.total,
        "total_exact": response.total_exact,
        "features": features,
    })
}

/// Checks the page of `request` against `response`, the typed answer of the same request over
/// the same state.
pub(crate) fn check_page(
    engine: &Engine,
    request: &SearchRequest,
    response: &SearchResponse<'_>,
) -> Result<(), TestCaseError> {
    let page = engine.search_page(request).map_err(|error| TestCaseError::fail(format!("page refused: {error}")))?;
    let typed = sonic_rs::to_string(response).expect("a response serialises");
    prop_assert_eq!(
        sonic_rs::to_string(&page.response()).expect("a response serialises"),
        typed.clone(),
        "the page's typed answer is the search's"
    );
    let mut json = Vec::new();
    page.write_json(&mut json);
    let json = String::from_utf8(json).map_err(|error| TestCaseError::fail(format!("page not UTF-8: {error}")))?;
    if request.fields.is_full() {
        prop_assert_eq!(&json, &typed, "page bytes for {:?}", request);
    } else {
        let written: Value =
            serde_json::from_str(&json).map_err(|error| TestCaseError::fail(format!("{error}: {json}")))?;
        prop_assert_eq!(
            &written,
            &restricted(response, request.fields),
            "fields {:?} of {:?}",
            request.fields,
            request
        );
        // Each result's members in the order of a full result (serde_json's map sorts them;
        // sonic-rs's keeps them as written).
        use sonic_rs::JsonContainerTrait;
        let in_order: sonic_rs::Value =
            sonic_rs::from_str(&json).map_err(|error| TestCaseError::fail(format!("{error}")))?;
        let expected_names: Vec<&str> = request.fields.iter().map(ResultField::name).collect();
        for result in in_order["results"].as_array().expect("results").iter() {
            let names: Vec<&str> = result.as_object().expect("object").iter().map(|(name, _)| name).collect();
            prop_assert_eq!(&names, &expected_names, "member order for {:?}", request.fields);
        }
    }
    let mut geojson = Vec::new();
    page.write_geojson(&mut geojson);
    let geojson: Value =
        serde_json::from_slice(&geojson).map_err(|error| TestCaseError::fail(format!("GeoJSON: {error}")))?;
    let reference = reference_geojson(response, request.fields);
    if geojson != reference {
        let (written, expected) = (geojson["features"].as_array(), reference["features"].as_array());
        let first = written.zip(expected).and_then(|(written, expected)| {
            written
                .iter()
                .zip(expected)
                .position(|(one, other)| one != other)
                .map(|at| (at, first_difference(&written[at], &expected[at])))
        });
        return Err(TestCaseError::fail(format!(
            "GeoJSON of {request:?}: first differing feature {first:?}; envelopes {} / {}",
            geojson["total"], reference["total"]
        )));
    }
    Ok(())
}

/// The path and the two values where `one` and `other` first differ.
fn first_difference(one: &Value, other: &Value) -> String {
    match (one, other) {
        (Value::Object(one), Value::Object(other)) => {
            for (name, value) in one {
                match other.get(name) {
                    Some(theirs) if theirs == value => {}
                    Some(theirs) => return format!("{name}.{}", first_difference(value, theirs)),
                    None => return format!("{name}: only written"),
                }
            }
            other
                .keys()
                .find(|name| !one.contains_key(*name))
                .map_or_else(String::new, |name| format!("{name}: missing"))
        }
        _ => format!(" {one} != {other}"),
    }
}
