//! The subset of FHIR R4 JSON the ingest reads, as serde types.
//!
//! Only the elements the ROR profiles use for `Organization`, `HealthcareService` and
//! `Location` are declared; every other element is skipped by serde. Types are strict where
//! FHIR is (an `integer` must be a JSON integer, a `decimal` a JSON number), so a wrong type is
//! reported with its JSON path (see [`super::read`]).

use serde::{Deserialize, Deserializer};

/// The first pass over a resource: only its type and id.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceHeader {
    pub resource_type: Option<String>,
    pub id: Option<String>,
}

/// `Organization`, `HealthcareService` or `Location`: the union of the elements read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawResource {
    pub resource_type: String,
    pub id: Option<String>,
    pub meta: Option<Meta>,
    pub extension: Vec<Extension>,
    pub identifier: Vec<Identifier>,
    pub active: Option<bool>,
    pub name: Option<String>,
    pub alias: Vec<String>,
    #[serde(rename = "type")]
    pub type_: Vec<CodeableConcept>,
    pub part_of: Option<Reference>,
    pub address: OneOrMany<Address>,
    pub position: Option<Position>,
    pub provided_by: Option<Reference>,
    pub category: Vec<CodeableConcept>,
    pub specialty: Vec<CodeableConcept>,
    pub characteristic: Vec<CodeableConcept>,
    pub location: Vec<Reference>,
    pub not_available: Vec<NotAvailable>,
    pub managing_organization: Option<Reference>,
    pub status: Option<String>,
}

/// `Bundle`: only its entries matter.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    pub last_updated: Option<String>,
    pub tag: Vec<Coding>,
}

/// An extension, simple or complex; `value[x]` flattened into one optional field per type.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Extension {
    pub url: String,
    pub extension: Vec<Extension>,
    pub value_boolean: Option<bool>,
    pub value_integer: Option<i64>,
    pub value_decimal: Option<f64>,
    pub value_string: Option<String>,
    pub value_code: Option<String>,
    pub value_date_time: Option<String>,
    pub value_date: Option<String>,
    pub value_canonical: Option<String>,
    pub value_codeable_concept: Option<CodeableConcept>,
    pub value_coding: Option<Coding>,
    pub value_range: Option<Range>,
    pub value_money: Option<Money>,
    pub value_period: Option<Period>,
    pub value_quantity: Option<Quantity>,
    pub value_reference: Option<Reference>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase", default)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CodeableConcept {
    pub coding: Vec<Coding>,
    pub text: Option<String>,
    pub extension: Vec<Extension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<CodeableConcept>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reference {
    pub reference: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    pub line: Vec<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub extension: Vec<Extension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Position {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub extension: Vec<Extension>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Quantity {
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub system: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Range {
    pub low: Option<Quantity>,
    pub high: Option<Quantity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Money {
    pub value: Option<f64>,
    pub currency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NotAvailable {
    pub id: Option<String>,
    pub description: Option<String>,
    pub during: Option<Period>,
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

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let item = T::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(OneOrMany(vec![item]))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(std::marker::PhantomData))
    }
}
