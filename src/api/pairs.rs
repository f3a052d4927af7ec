//! A serde deserializer from `name=value` pairs (a query string, or CLI flags) into one of the
//! route structs of [`crate::api`].
//!
//! It owns the rules every route shares: an unknown name is an error listing the known ones,
//! a name given twice is an error, and a value that does not parse is an error naming its
//! parameter with the value type's own message (the types of [`super::values`] say the range
//! and the unit). The route struct's field list comes from serde (`deserialize_struct`), so the
//! struct is the one list of the route's parameters.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use crate::engine::ParamError;

/// Parses `name=value` pairs into the route struct `T`. Names in `also_known` are skipped
/// (they belong to another layer, e.g. HTTP's `format`) but count as known.
pub(crate) fn from_pairs<'a, T: DeserializeOwned>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    also_known: &[&str],
) -> Result<T, ParamError> {
    let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    T::deserialize(PairsDeserializer { pairs: &pairs, also_known }).map_err(|error| error.0)
}

/// Decodes a raw query string into `name=value` pairs, strictly: `+` is a space, `%XX` a byte,
/// and the bytes of every name and value must be UTF-8; a `%` not followed by two hexadecimal
/// digits, or bytes that are not UTF-8, are an error naming the parameter (never a silent
/// replacement character). Empty `&&` segments are skipped.
pub fn decode_query(query: &str) -> Result<Vec<(String, String)>, ParamError> {
    let mut pairs = Vec::new();
    for segment in query.split('&').filter(|segment| !segment.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = decode_component(name).map_err(|why| ParamError::new(&lossy(name), format!("its name {why}")))?;
        let value = decode_component(value).map_err(|why| ParamError::new(&name, format!("the value {why}")))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// A name for an error message, when the name itself does not decode.
fn lossy(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

fn decode_component(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'%' && !(bytes.get(index + 1..index + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))) {
            return Err("has a `%` not followed by two hexadecimal digits");
        }
    }
    let spaced = raw.replace('+', " ");
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
    String::from_utf8(decoded).map_err(|_| "is not UTF-8 once percent-decoded")
}

/// The names of the parameters of the route struct `T`, in declaration order.
pub fn parameter_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Recorder;
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "fields")
        }
    }
    impl std::error::Error for Fields {}
    impl de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    impl<'de> de::Deserializer<'de> for Recorder {
        type Error = Fields;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
            unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Recorder) {
        Ok(_) => &[],
        Err(Fields(fields)) => fields,
    }
}

/// A [`ParamError`] travelling through serde.
#[derive(Debug)]
struct PairsError(ParamError);

impl fmt::Display for PairsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PairsError {}

impl de::Error for PairsError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        // The parameter is filled in by the map access, which knows the current name.
        PairsError(ParamError::new("", message.to_string()))
    }
}

struct PairsDeserializer<'p, 'a> {
    pairs: &'p [(&'a str, &'a str)],
    also_known: &'p [&'p str],
}

impl<'de> de::Deserializer<'de> for PairsDeserializer<'_, '_> {
    type Error = PairsError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, PairsError> {
        Err(PairsError(ParamError::new("", "parameters deserialise into a struct only")))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, PairsError> {
        let mut seen: Vec<&str> = Vec::with_capacity(self.pairs.len());
        for &(name, _) in self.pairs {
            if !fields.contains(&name) && !self.also_known.contains(&name) {
                let known: Vec<&str> = fields.iter().copied().chain(self.also_known.iter().copied()).collect();
                let message = if known.is_empty() {
                    "unknown parameter (this route takes none)".to_owned()
                } else {
                    format!("unknown parameter (known: {})", known.join(", "))
                };
                return Err(PairsError(ParamError::unknown(name, message)));
            }
            if seen.contains(&name) {
                return Err(PairsError(ParamError::new(name, "given more than once (use commas for several codes)")));
            }
            seen.push(name);
        }
        let pairs = self.pairs.iter().filter(|(name, _)| fields.contains(name));
        visitor.visit_map(Pairs { pairs: pairs.copied().collect::<Vec<_>>().into_iter(), current: "" })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

struct Pairs<'a> {
    pairs: std::vec::IntoIter<(&'a str, &'a str)>,
    current: &'a str,
}

impl<'de> MapAccess<'de> for Pairs<'_> {
    type Error = PairsError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, PairsError> {
        let Some(&(name, _)) = self.pairs.as_slice().first() else { return Ok(None) };
        self.current = name;
        let name: de::value::StrDeserializer<'_, PairsError> = name.into_deserializer();
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, PairsError> {
        let (name, value) = self.pairs.next().expect("a value follows its key");
        seed.deserialize(Value(value)).map_err(|PairsError(error)| {
            PairsError(ParamError { parameter: name.to_owned(), message: error.message, kind: error.kind })
        })
    }
}

/// One value: a string, handed to the field type's `FromStr` (see [`super::values`]).
struct Value<'a>(&'a str);

impl<'de> de::Deserializer<'de> for Value<'_> {
    type Error = PairsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairsError> {
        visitor.visit_str(self.0)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PairsError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, PairsError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::api::values::Whole;

    #[test]
    fn query_strings_decode_strictly() {
        let pairs = decode_query("q=ehpad+du+lac&commune=33063&&lat=%34%35&x=").unwrap();
        let expected = [("q", "ehpad du lac"), ("commune", "33063"), ("lat", "45"), ("x", "")];
        assert_eq!(pairs, expected.map(|(name, value)| (name.to_owned(), value.to_owned())));
        assert_eq!(decode_query("q=caf%C3%A9").unwrap()[0].1, "café");
        for bad in ["q=%FF%FE", "q=%", "q=%G1", "q=a%2", "%FF=1"] {
            assert!(decode_query(bad).is_err(), "{bad}");
        }
        assert_eq!(decode_query("q=%FF").unwrap_err().parameter, "q");
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Route {
        limit: Option<Whole<1, 50>>,
        q: Option<String>,
    }

    #[test]
    fn names_values_and_errors() {
        let route: Route = from_pairs([("limit", "5"), ("q", "lyon")], &[]).unwrap();
        assert_eq!(route, Route { limit: Some(Whole(5)), q: Some("lyon".into()) });
        let route: Route = from_pairs([("format", "json")], &["format"]).unwrap();
        assert_eq!(route, Route { limit: None, q: None });
        let error = from_pairs::<Route>([("limit", "51")], &[]).unwrap_err();
        assert_eq!(
            (error.parameter.as_str(), error.message.as_str()),
            ("limit", "51 is out of range: expected 1 to 50")
        );
        let error = from_pairs::<Route>([("colour", "red")], &["format"]).unwrap_err();
        assert_eq!(error.parameter, "colour");
        assert_eq!(error.message, "unknown parameter (known: limit, q, format)");
        assert!(error.is_unknown_parameter());
        let error = from_pairs::<Route>([("q", "a"), ("q", "b")], &[]).unwrap_err();
        assert_eq!(error.message, "given more than once (use commas for several codes)");
        assert_eq!(parameter_names::<Route>(), ["limit", "q"]);
    }
}
