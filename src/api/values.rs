//! The value types of the parameters: each parses from the text of a query string or a CLI flag
//! (`FromStr`), checks its range, and says what it expected, with its unit, when it cannot.
//!
//! The same types back serde (the query strings, through [`super::pairs`]) and clap (the CLI),
//! so a value means the same thing and fails with the same message wherever it comes from.

use std::fmt;
use std::str::FromStr;

use crate::engine::request::{BBox, SortKey};
use crate::model::Code;
use crate::model::rules::PriceBasis;

/// Why a value does not parse; the parameter's name is added by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

/// Implements serde's `Deserialize` through `FromStr`, so that a query-string value and a CLI
/// flag parse the same way.
macro_rules! deserialize_from_str {
    ($($type:ty),* $(,)?) => {$(
        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Text;
                impl serde::de::Visitor<'_> for Text {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("text")
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$type, E> {
                        text.parse().map_err(|error: ValueError| E::custom(error.0))
                    }
                }
                deserializer.deserialize_str(Text)
            }
        }
    )*};
}

fn number(text: &str) -> Result<f64, ValueError> {
    let value: f64 = text.trim().parse().map_err(|_| ValueError(format!("{text:?} is not a number")))?;
    if !value.is_finite() {
        return Err(ValueError(format!("{text:?} is not a finite number")));
    }
    Ok(value)
}

/// A number in `[low, high]`; `unit` (with its leading space) ends the range in messages.
fn number_in(text: &str, low: f64, high: f64, unit: &str) -> Result<f64, ValueError> {
    let value = number(text)?;
    if value < low || value > high {
        return Err(ValueError(format!("{value} is out of range: expected {low} to {high}{unit}")));
    }
    Ok(value)
}

/// A bounded decimal number with a unit.
macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident, $low:expr, $high:expr, $unit:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub(crate) struct $name(pub f64);

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(text: &str) -> Result<Self, ValueError> {
                number_in(text, $low, $high, $unit).map($name)
            }
        }

        deserialize_from_str!($name);
    };
}

bounded_number!(
    /// WGS84 latitude, degrees, [-90, 90].
    Latitude,
    -90.0,
    90.0,
    " degrees"
);
bounded_number!(
    /// WGS84 longitude, degrees, [-180, 180].
    Longitude,
    -180.0,
    180.0,
    " degrees"
);
bounded_number!(
    /// A radius, km, [0, 1000].
    RadiusKm,
    0.0,
    crate::engine::request::MAX_RADIUS_KM,
    " km"
);
bounded_number!(
    /// An age, years, [0, 150].
    AgeYears,
    0.0,
    150.0,
    " years"
);

/// A whole number in `[LOW, HIGH]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Whole<const LOW: u64, const HIGH: u64>(pub u64);

impl<const LOW: u64, const HIGH: u64> FromStr for Whole<LOW, HIGH> {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let value: u64 = text
            .trim()
            .parse()
            .map_err(|_| ValueError(format!("{text:?} is not a whole number (expected {LOW} to {HIGH})")))?;
        if !(LOW..=HIGH).contains(&value) {
            return Err(ValueError(format!("{value} is out of range: expected {LOW} to {HIGH}")));
        }
        Ok(Whole(value))
    }
}

impl<'de, const LOW: u64, const HIGH: u64> serde::Deserialize<'de> for Whole<LOW, HIGH> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(|error: ValueError| serde::de::Error::custom(error.0))
    }
}

/// A count of places or beds, [0, 100000].
pub(crate) type Count = Whole<0, 100_000>;
/// A GIR, 1-6.
pub(crate) type Gir = Whole<1, 6>;
/// A page size of the search routes, [1, 200].
pub(crate) type Limit = Whole<1, { crate::engine::request::MAX_LIMIT as u64 }>;
/// Results skipped, [0, 10000].
pub(crate) type Offset = Whole<0, { crate::engine::request::MAX_OFFSET as u64 }>;

/// `true` / `false` (also `1` / `0`, `yes` / `no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub bool);

impl FromStr for Flag {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text.trim() {
            "true" | "1" | "yes" => Ok(Flag(true)),
            "false" | "0" | "no" => Ok(Flag(false)),
            _ => Err(ValueError(format!("{text:?} is not a boolean (expected true or false)"))),
        }
    }
}

/// A list of codes separated by commas (any of them): letters and digits, up to 16 each, at
/// most [`crate::engine::request::MAX_CODES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Codes(pub Vec<Code>);

/// A comma list of `what`s (codes, names), each at most `max_len` bytes of `allowed` ones
/// (described by `rule`), at most [`crate::engine::request::MAX_CODES`] of them.
fn comma_list(
    text: &str,
    what: &str,
    max_len: usize,
    allowed: fn(u8) -> bool,
    rule: &str,
) -> Result<Vec<Code>, ValueError> {
    use crate::engine::request::MAX_CODES;
    let items: Vec<Code> = text.split(',').map(str::trim).map(Code::from).collect();
    if items.iter().any(|item| item.is_empty()) {
        return Err(ValueError(format!("empty {what} in the list (expected {what}s separated by commas)")));
    }
    if items.len() > MAX_CODES {
        return Err(ValueError(format!("at most {MAX_CODES} {what}s")));
    }
    if let Some(item) = items.iter().find(|item| item.len() > max_len || !item.bytes().all(allowed)) {
        return Err(ValueError(format!("{item:?} is not a {what} ({rule})")));
    }
    Ok(items)
}

impl FromStr for Codes {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        comma_list(text, "code", 16, |b| b.is_ascii_alphanumeric(), "letters and digits, up to 16").map(Codes)
    }
}

/// A list of names separated by commas (any of them): lower-case letters, digits and `_`, up to
/// 40 each (rule codes, severities), at most [`crate::engine::request::MAX_CODES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names(pub Vec<Code>);

impl FromStr for Names {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        comma_list(
            text,
            "name",
            40,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
            "lower-case letters, digits and _, up to 40",
        )
        .map(Names)
    }
}

/// An INSEE commune code (5 characters, e.g. `33063` or `2A004`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InseeCommune(pub String);

impl FromStr for InseeCommune {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let code = text.trim();
        if !crate::model::place::is_insee_commune(code) {
            return Err(ValueError(format!(
                "{code:?} is not an INSEE commune code (5 characters, e.g. 33063 or 2A004)"
            )));
        }
        Ok(InseeCommune(code.to_owned()))
    }
}

/// Free text of at most `MAX` characters (kept as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<const MAX: usize>(pub String);

impl<const MAX: usize> FromStr for Text<MAX> {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        if text.chars().count() > MAX {
            return Err(ValueError(format!("longer than {MAX} characters")));
        }
        Ok(Text(text.to_owned()))
    }
}

impl<'de, const MAX: usize> serde::Deserialize<'de> for Text<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(|error: ValueError| serde::de::Error::custom(error.0))
    }
}

/// The FHIR id of an offer (1 to 64 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OfferId(pub String);

impl FromStr for OfferId {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let id = text.trim();
        if id.is_empty() || id.len() > 64 {
            return Err(ValueError("expected the FHIR id of an offer".into()));
        }
        Ok(OfferId(id.to_owned()))
    }
}

/// A daily price in euros with at most 2 decimals, [0.01, 10000], held in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PriceEur {
    /// The price, euro cents.
    pub(crate) cents: i64,
}

impl FromStr for PriceEur {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let euros = number_in(text, 0.01, 10_000.0, " EUR per day")?;
        let cents = (euros * 100.0).round();
        if (euros * 100.0 - cents).abs() > 1e-6 {
            return Err(ValueError(format!("{text} has more than 2 decimals (euros and cents)")));
        }
        Ok(PriceEur { cents: cents as i64 })
    }
}

/// An instant, RFC 3339 (`2026-11-15T00:00:00Z`), held in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instant(pub i64);

impl FromStr for Instant {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        crate::util::time::parse_fhir_datetime(text.trim())
            .map(Instant)
            .map_err(|error| ValueError(format!("{error} (expected an RFC 3339 date-time)")))
    }
}

/// `gross` or `out_of_pocket` (see [`PriceBasis`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Basis(pub PriceBasis);

impl FromStr for Basis {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        match text.trim() {
            "gross" => Ok(Basis(PriceBasis::Gross)),
            "out_of_pocket" => Ok(Basis(PriceBasis::OutOfPocket)),
            other => Err(ValueError(format!("{other:?} is not a price basis (expected gross or out_of_pocket)"))),
        }
    }
}

/// `distance`, `price`, `available`, `relevance` or `name` (see [`SortKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort(pub SortKey);

impl FromStr for Sort {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let sort = match text.trim() {
            "distance" => SortKey::Distance,
            "price" => SortKey::Price,
            "available" => SortKey::Available,
            "relevance" => SortKey::Relevance,
            "name" => SortKey::Name,
            _ => {
                return Err(ValueError(format!(
                    "{text:?} is not a sort (expected distance, price, available, relevance or name)"
                )));
            }
        };
        Ok(Sort(sort))
    }
}

/// `min_lon,min_lat,max_lon,max_lat`, degrees; `min_lon > max_lon` crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BBoxParam(pub BBox);

impl FromStr for BBoxParam {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let parts: Vec<&str> = text.split(',').collect();
        if parts.len() != 4 {
            return Err(ValueError("expected min_lon,min_lat,max_lon,max_lat".into()));
        }
        let bbox = BBox {
            min_lon: number_in(parts[0], -180.0, 180.0, " degrees (min_lon)")?,
            min_lat: number_in(parts[1], -90.0, 90.0, " degrees (min_lat)")?,
            max_lon: number_in(parts[2], -180.0, 180.0, " degrees (max_lon)")?,
            max_lat: number_in(parts[3], -90.0, 90.0, " degrees (max_lat)")?,
        };
        if bbox.min_lat > bbox.max_lat {
            return Err(ValueError("min_lat is above max_lat".into()));
        }
        Ok(BBoxParam(bbox))
    }
}

/// The members of each result (`fields=name,eg,distance_m`): names of top-level result members,
/// separated by commas; `id` is always written, the members come in the result's own order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields(pub crate::engine::FieldSet);

impl FromStr for Fields {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        use crate::engine::ResultField;
        let mut fields = Vec::new();
        for name in text.split(',').map(str::trim) {
            if name.is_empty() {
                return Err(ValueError("empty field name in the list (expected names separated by commas)".into()));
            }
            let field = ResultField::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = ResultField::ALL.iter().map(|field| field.name()).collect();
                ValueError(format!("{name:?} is not a result field (expected some of {})", known.join(", ")))
            })?;
            fields.push(field);
        }
        Ok(Fields(crate::engine::FieldSet::of(&fields)))
    }
}

/// A preset of result members: `ids` (id, distance_m), `summary` (what a list or a map marker
/// shows) or `full` (every member, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResultView(pub crate::engine::FieldSet);

impl FromStr for ResultView {
    type Err = ValueError;
    fn from_str(text: &str) -> Result<Self, ValueError> {
        crate::engine::FieldSet::view(text.trim())
            .map(ResultView)
            .ok_or_else(|| ValueError(format!("{text:?} is not a view (expected ids, summary or full)")))
    }
}

deserialize_from_str!(Fields, ResultView);

deserialize_from_str!(Flag, Codes, Names, InseeCommune, OfferId, PriceEur, Instant, Basis, Sort, BBoxParam);
