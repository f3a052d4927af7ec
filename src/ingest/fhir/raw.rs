//! The subset of FHIR R4 JSON the ingest reads, as serde types.
//!
//! Only the elements the ROR profiles use for `Organization`, `HealthcareService` and
//! `Location` are declared; every other element is skipped by serde. Types are strict where
//! FHIR is (an `integer` must be a JSON integer, a `decimal` a JSON number), so a wrong type is
//! reported with its JSON path (see [`super::read`]).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

/// The first pass over a resource: only its type and id.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ResourceHeader<'a> {
    #[serde(borrow)]
    pub(crate) resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) id: Option<Cow<'a, str>>,
}

/// `Organization`, `HealthcareService` or `Location`: the union of the elements read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawResource<'a> {
    #[serde(borrow)]
    pub(crate) resource_type: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) meta: Option<Meta<'a>>,
    #[serde(borrow)]
    pub(crate) extension: Vec<Extension<'a>>,
    #[serde(borrow)]
    pub(crate) identifier: Vec<Identifier<'a>>,
    pub(crate) active: Option<bool>,
    #[serde(borrow)]
    pub(crate) name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) alias: Vec<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub(crate) type_: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub(crate) part_of: Option<Reference<'a>>,
    #[serde(borrow)]
    pub(crate) address: OneOrMany<Address<'a>>,
    #[serde(borrow)]
    pub(crate) position: Option<Position<'a>>,
    #[serde(borrow)]
    pub(crate) provided_by: Option<Reference<'a>>,
    #[serde(borrow)]
    pub(crate) category: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub(crate) specialty: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub(crate) characteristic: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub(crate) location: Vec<Reference<'a>>,
    #[serde(borrow)]
    pub(crate) not_available: Vec<NotAvailable<'a>>,
    #[serde(borrow)]
    pub(crate) managing_organization: Option<Reference<'a>>,
    #[serde(borrow)]
    pub(crate) status: Option<Cow<'a, str>>,
}

/// `Bundle`: only its entries matter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Meta<'a> {
    #[serde(borrow)]
    pub(crate) last_updated: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) tag: Vec<Coding<'a>>,
}

/// An extension, simple or complex; `value[x]` flattened into one optional field per type.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Extension<'a> {
    #[serde(borrow)]
    pub(crate) url: Cow<'a, str>,
    #[serde(borrow)]
    pub(crate) extension: Vec<Extension<'a>>,
    pub(crate) value_boolean: Option<bool>,
    pub(crate) value_integer: Option<i64>,
    pub(crate) value_decimal: Option<f64>,
    #[serde(borrow)]
    pub(crate) value_string: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value_date_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value_date: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value_canonical: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub(crate) value_coding: Option<Coding<'a>>,
    #[serde(borrow)]
    pub(crate) value_range: Option<Range<'a>>,
    #[serde(borrow)]
    pub(crate) value_money: Option<Money<'a>>,
    #[serde(borrow)]
    pub(crate) value_period: Option<Period<'a>>,
    #[serde(borrow)]
    pub(crate) value_quantity: Option<Quantity<'a>>,
    #[serde(borrow)]
    pub(crate) value_reference: Option<Reference<'a>>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Coding<'a> {
    #[serde(borrow)]
    pub(crate) system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) display: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct CodeableConcept<'a> {
    #[serde(borrow)]
    pub(crate) coding: Vec<Coding<'a>>,
    #[serde(borrow)]
    pub(crate) text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Identifier<'a> {
    #[serde(borrow)]
    pub(crate) system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) value: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub(crate) type_: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Reference<'a> {
    #[serde(borrow)]
    pub(crate) reference: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Address<'a> {
    #[serde(borrow)]
    pub(crate) line: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) postal_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Position<'a> {
    pub(crate) latitude: Option<f64>,
    pub(crate) longitude: Option<f64>,
    #[serde(borrow)]
    pub(crate) extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Quantity<'a> {
    pub(crate) value: Option<f64>,
    #[serde(borrow)]
    pub(crate) unit: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) code: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Range<'a> {
    #[serde(borrow)]
    pub(crate) low: Option<Quantity<'a>>,
    #[serde(borrow)]
    pub(crate) high: Option<Quantity<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Money<'a> {
    pub(crate) value: Option<f64>,
    #[serde(borrow)]
    pub(crate) currency: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Period<'a> {
    #[serde(borrow)]
    pub(crate) start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) end: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NotAvailable<'a> {
    #[serde(borrow)]
    pub(crate) id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) description: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(crate) during: Option<Period<'a>>,
}

/// An element that is an object in one resource type and an array in another
/// (`Location.address` vs `Organization.address`).
#[derive(Debug)]
pub(crate) struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object or an array of objects")
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OneOrMany(Vec::new()))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let item = T::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany(vec![item]))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(std::marker::PhantomData))
    }
}
