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
pub struct ResourceHeader<'a> {
    #[serde(borrow)]
    pub resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
}

/// `Organization`, `HealthcareService` or `Location`: the union of the elements read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawResource<'a> {
    #[serde(borrow)]
    pub resource_type: Cow<'a, str>,
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub meta: Option<Meta<'a>>,
    #[serde(borrow)]
    pub extension: Vec<Extension<'a>>,
    #[serde(borrow)]
    pub identifier: Vec<Identifier<'a>>,
    pub active: Option<bool>,
    #[serde(borrow)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub alias: Vec<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub type_: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub part_of: Option<Reference<'a>>,
    #[serde(borrow)]
    pub address: OneOrMany<Address<'a>>,
    #[serde(borrow)]
    pub position: Option<Position<'a>>,
    #[serde(borrow)]
    pub provided_by: Option<Reference<'a>>,
    #[serde(borrow)]
    pub category: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub specialty: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub characteristic: Vec<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub location: Vec<Reference<'a>>,
    #[serde(borrow)]
    pub not_available: Vec<NotAvailable<'a>>,
    #[serde(borrow)]
    pub managing_organization: Option<Reference<'a>>,
    #[serde(borrow)]
    pub status: Option<Cow<'a, str>>,
}

/// `Bundle`: only its entries matter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta<'a> {
    #[serde(borrow)]
    pub last_updated: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub tag: Vec<Coding<'a>>,
}

/// An extension, simple or complex; `value[x]` flattened into one optional field per type.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Extension<'a> {
    #[serde(borrow)]
    pub url: Cow<'a, str>,
    #[serde(borrow)]
    pub extension: Vec<Extension<'a>>,
    pub value_boolean: Option<bool>,
    pub value_integer: Option<i64>,
    pub value_decimal: Option<f64>,
    #[serde(borrow)]
    pub value_string: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value_date_time: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value_date: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value_canonical: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value_codeable_concept: Option<CodeableConcept<'a>>,
    #[serde(borrow)]
    pub value_coding: Option<Coding<'a>>,
    #[serde(borrow)]
    pub value_range: Option<Range<'a>>,
    #[serde(borrow)]
    pub value_money: Option<Money<'a>>,
    #[serde(borrow)]
    pub value_period: Option<Period<'a>>,
    #[serde(borrow)]
    pub value_quantity: Option<Quantity<'a>>,
    #[serde(borrow)]
    pub value_reference: Option<Reference<'a>>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct Coding<'a> {
    #[serde(borrow)]
    pub system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub display: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CodeableConcept<'a> {
    #[serde(borrow)]
    pub coding: Vec<Coding<'a>>,
    #[serde(borrow)]
    pub text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Identifier<'a> {
    #[serde(borrow)]
    pub system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub value: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub type_: Option<CodeableConcept<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reference<'a> {
    #[serde(borrow)]
    pub reference: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address<'a> {
    #[serde(borrow)]
    pub line: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    pub city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub postal_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Position<'a> {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    #[serde(borrow)]
    pub extension: Vec<Extension<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Quantity<'a> {
    pub value: Option<f64>,
    #[serde(borrow)]
    pub unit: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub code: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Range<'a> {
    #[serde(borrow)]
    pub low: Option<Quantity<'a>>,
    #[serde(borrow)]
    pub high: Option<Quantity<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Money<'a> {
    pub value: Option<f64>,
    #[serde(borrow)]
    pub currency: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Period<'a> {
    #[serde(borrow)]
    pub start: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub end: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotAvailable<'a> {
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub description: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub during: Option<Period<'a>>,
}

/// An element that is an object in one resource type and an array in another
/// (`Location.address` vs `Organization.address`).
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

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
