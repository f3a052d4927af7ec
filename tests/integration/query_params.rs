//! Property tests of the query-string parser (`api::from_pairs` into the route structs): what
//! valid parameters say arrives in the engine's request unchanged, any text never panics, and an
//! error always names a parameter that was given.

use proptest::prelude::*;
use ror_search::api::{CrisisQuery, OffersQuery, crisis_request, parameter_names, search_request};
use ror_search::engine::request::Centre;
use ror_search::model::GeoPoint;

/// A valid value for each search parameter, with what the request must then hold.
fn valid_pair() -> impl Strategy<Value = (&'static str, String)> {
    prop_oneof![
        (1u32..=1000).prop_map(|km| ("radius_km", format!("{}", f64::from(km) / 10.0))),
        proptest::collection::vec("[0-9]{2,3}", 1..5).prop_map(|codes| ("category", codes.join(","))),
        proptest::collection::vec("[0-9]{2}", 1..5).prop_map(|codes| ("offer_type", codes.join(","))),
        (0u32..=150).prop_map(|age| ("age", age.to_string())),
        (1u8..=6).prop_map(|gir| ("gir", gir.to_string())),
        (1u32..=1_000_000).prop_map(|cents| ("max_price", format!("{}.{:02}", cents / 100, cents % 100))),
        (0u32..=100_000).prop_map(|count| ("min_available", count.to_string())),
        (0u32..=100_000).prop_map(|count| ("min_crisis_t0", count.to_string())),
        prop::bool::ANY.prop_map(|flag| ("aide_sociale", flag.to_string())),
        (1u32..=200).prop_map(|limit| ("limit", limit.to_string())),
        (0u32..=10_000).prop_map(|offset| ("offset", offset.to_string())),
        prop::bool::ANY.prop_map(|flag| ("exact_total", flag.to_string())),
        prop::sample::subsequence(ror_search::engine::ResultField::ALL.to_vec(), 1..6)
            .prop_map(|fields| ("fields", fields.iter().map(|field| field.name()).collect::<Vec<_>>().join(","))),
        prop::sample::select(vec!["ids", "summary", "full"]).prop_map(|view| ("view", view.to_owned())),
        (0i64..4_102_444_800).prop_map(|seconds| ("now", ror_search::util::time::format_rfc3339(seconds))),
    ]
}

/// The pairs with one value per parameter (and `fields` or `view`, not both).
fn unique(pairs: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let group = |name: &str| if name == "view" { "fields" } else { name }.to_owned();
    let mut kept: Vec<(&'static str, String)> = Vec::new();
    for (name, value) in pairs {
        if kept.iter().all(|(kept_name, _)| group(kept_name) != group(name)) {
            kept.push((name, value));
        }
    }
    kept
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn valid_parameters_arrive_in_the_request(
        lat in -90.0f64..=90.0,
        lon in -180.0f64..=180.0,
        pairs in proptest::collection::vec(valid_pair(), 0..8).prop_map(unique),
    ) {
        let lat_text = lat.to_string();
        let lon_text = lon.to_string();
        let mut all: Vec<(&str, &str)> = vec![("lat", &lat_text), ("lon", &lon_text)];
        all.extend(pairs.iter().map(|(name, value)| (*name, value.as_str())));
        let request = search_request(all.iter().copied()).expect("valid parameters parse");
        prop_assert_eq!(request.centre, Some(Centre::Point(GeoPoint { lat, lon })));
        for (name, value) in &pairs {
            match *name {
                "radius_km" => prop_assert_eq!(request.radius_km, Some(value.parse::<f64>().unwrap())),
                "category" => prop_assert_eq!(request.category.join(","), value.clone()),
                "offer_type" => prop_assert_eq!(request.offer_type.join(","), value.clone()),
                "age" => prop_assert_eq!(request.age, Some(value.parse::<f64>().unwrap())),
                "gir" => prop_assert_eq!(request.gir.map(u32::from), Some(value.parse::<u32>().unwrap())),
                "max_price" => {
                    let (euros, cents) = value.split_once('.').unwrap();
                    let expected = euros.parse::<i64>().unwrap() * 100 + cents.parse::<i64>().unwrap();
                    prop_assert_eq!(request.max_price_cents, Some(expected));
                }
                "min_available" => prop_assert_eq!(request.min_available, Some(value.parse().unwrap())),
                "min_crisis_t0" => prop_assert_eq!(request.min_crisis_t0, Some(value.parse().unwrap())),
                "aide_sociale" => prop_assert_eq!(request.aide_sociale, Some(value == "true")),
                "limit" => prop_assert_eq!(request.limit, value.parse::<usize>().unwrap()),
                "offset" => prop_assert_eq!(request.offset, value.parse::<usize>().unwrap()),
                "exact_total" => prop_assert_eq!(request.exact_total, value == "true"),
                "fields" => {
                    let names: Vec<&str> = request.fields.iter().map(|field| field.name()).collect();
                    let mut asked: Vec<&str> = value.split(',').chain(["id"]).collect();
                    asked.sort_by_key(|name| ror_search::engine::ResultField::from_name(name).unwrap() as u8);
                    asked.dedup();
                    prop_assert_eq!(names, asked);
                }
                "view" => prop_assert_eq!(request.fields, ror_search::engine::FieldSet::view(value).unwrap()),
                "now" => prop_assert_eq!(
                    request.now,
                    Some(ror_search::util::time::parse_fhir_datetime(value).unwrap())
                ),
                other => unreachable!("{other}"),
            }
        }
    }

    #[test]
    fn any_text_is_parsed_or_refused_naming_a_given_parameter(
        pairs in proptest::collection::vec(
            (prop::sample::select(parameter_names::<OffersQuery>().to_vec()), ".{0,40}"),
            0..6,
        ),
        unknown in proptest::option::of("[a-z_]{1,12}"),
    ) {
        let mut all: Vec<(&str, &str)> = pairs.iter().map(|(name, value)| (*name, value.as_str())).collect();
        if let Some(name) = &unknown {
            all.push((name.as_str(), "1"));
        }
        match search_request(all.iter().copied()) {
            Ok(request) => prop_assert!(request.validate().is_ok()),
            Err(error) => {
                let named = all.iter().any(|(name, _)| *name == error.parameter)
                    // Combinations name the missing half or the conflicting one.
                    || ["lat", "lon", "commune"].contains(&error.parameter.as_str());
                prop_assert!(named, "{:?} names no given parameter of {:?}", error, all);
                prop_assert!(!error.message.is_empty());
                if error.is_unknown_parameter() {
                    prop_assert!(!parameter_names::<OffersQuery>().contains(&error.parameter.as_str()));
                }
            }
        }
        if let Some(name) = &unknown
            && !parameter_names::<OffersQuery>().contains(&name.as_str())
            && pairs.iter().all(|(given, _)| given != name)
        {
            let only_unknown = search_request([(name.as_str(), "1")]).unwrap_err();
            prop_assert!(only_unknown.is_unknown_parameter());
            prop_assert_eq!(only_unknown.parameter, name.clone());
        }
    }

    #[test]
    fn crisis_parameters_are_a_subset_with_their_own_limit(
        limit in proptest::option::of(1u32..=200),
        t0 in proptest::option::of(0u32..=100_000),
    ) {
        let limit_text = limit.map(|limit| limit.to_string());
        let t0_text = t0.map(|t0| t0.to_string());
        let mut pairs = vec![("commune", "75056")];
        if let Some(limit) = &limit_text { pairs.push(("limit", limit)); }
        if let Some(t0) = &t0_text { pairs.push(("min_crisis_t0", t0)); }
        let request = crisis_request(pairs.iter().copied()).unwrap();
        prop_assert_eq!(request.search.limit, limit.map_or(10, |limit| limit as usize));
        prop_assert_eq!(request.search.min_crisis_t0, t0);
        prop_assert_eq!(request.search.centre, Some(Centre::Commune("75056".into())));
        for name in parameter_names::<CrisisQuery>() {
            if *name != "orsan_level" {
                prop_assert!(parameter_names::<OffersQuery>().contains(name), "{} is a search parameter too", name);
            }
        }
    }
}
