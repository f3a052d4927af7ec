//! FHIR JSON → model parts, one resource at a time.
//!
//! [`parse_resource`] takes the JSON text of one resource and returns what it contributes to the
//! dataset, with references still unresolved (they are linked by `ingest::resolve`).
//! A resource that cannot be read is rejected with a reason naming the element; data that is
//! odd but usable (an unknown code in a large catalogue) is kept with a warning.
//!
//! This module owns the entry points (`classify`, [`parse_resource`]), what a read yields
//! ([`Outcome`], [`Parsed`]) and the helpers every resource type shares (coded elements, addresses,
//! dates, counts); one submodule per resource type reads its elements: `organization`,
//! `healthcare_service`, `location`.

use std::fmt;

use super::raw::{self, CodeableConcept, RawResource, ResourceHeader};
use super::{FR_CORE_INSEE_CODE_URL, GEOLOCATION_URL, TRE_R30_URL, ror_extension_id, system_is_nos};
use crate::model::labels::{CodeSystem, UnknownCode};
use crate::model::place::InseeCode;
use crate::model::{Address, Code, Eg, Ej, GeoPoint, Location, Offer};
use crate::util::time::{UnixSeconds, parse_fhir_datetime};

/// A field path formatted only when a message needs it (no allocation on the happy path).
struct Lazy<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(formatter)
    }
}

macro_rules! lazy {
    ($($argument:tt)*) => {
        $crate::ingest::fhir::read::Lazy(|formatter: &mut ::std::fmt::Formatter<'_>| write!(formatter, $($argument)*))
    };
}

mod error;
mod healthcare_service;
mod location;
mod organization;

pub use error::{ReadError, Reason};

/// The resource types the engine reads; every other type is counted as ignored.
pub(crate) const READ_TYPES: [&str; 3] = ["Organization", "HealthcareService", "Location"];

/// What one resource contributes, references unresolved.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// An `Organization`: EJ, EG or internal organisation.
    Organization(ParsedOrganization),
    /// A `HealthcareService`.
    Offer(ParsedOffer),
    /// A `Location`.
    Location(Location),
}

/// The three kinds of `Organization` in the ROR.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // boxed once as a whole in `Outcome`
pub enum ParsedOrganization {
    /// Entité juridique.
    Ej(Ej),
    /// Entité géographique, with its `partOf` reference to the EJ.
    Eg {
        /// The site.
        eg: Eg,
        /// `partOf.reference`: the EJ.
        part_of: Option<String>,
    },
    /// Organisation interne (pôle, structure interne, UF), with its `partOf` reference.
    Oi {
        /// FHIR logical id of the `Organization`.
        id: String,
        /// Name of the internal organisation.
        name: Option<String>,
        /// `partOf.reference`: the EG or the internal organisation above it.
        part_of: Option<String>,
    },
}

impl ParsedOrganization {
    /// The FHIR id of the organization.
    pub fn id(&self) -> &str {
        match self {
            ParsedOrganization::Ej(ej) => &ej.id,
            ParsedOrganization::Eg { eg, .. } => &eg.id,
            ParsedOrganization::Oi { id, .. } => id,
        }
    }

    /// `meta.lastUpdated`, used to choose between two copies of a resource.
    pub fn last_updated(&self) -> Option<UnixSeconds> {
        match self {
            ParsedOrganization::Ej(ej) => ej.last_updated,
            ParsedOrganization::Eg { eg, .. } => eg.last_updated,
            ParsedOrganization::Oi { .. } => None,
        }
    }
}

/// A `HealthcareService` with its references.
#[derive(Debug, Clone)]
pub struct ParsedOffer {
    /// The offer, its `eg`, `ej` and `locations` not yet resolved.
    pub offer: Offer,
    /// `providedBy.reference`.
    pub provided_by: String,
    /// `location[].reference`.
    pub location_references: Vec<String>,
}

/// The outcome of reading one resource.
#[derive(Debug)]
pub enum Outcome {
    /// Read; with warnings about data that was kept but is odd.
    Accepted {
        /// What the resource contributes.
        parsed: Box<Parsed>,
        /// Remarks about odd data that was kept.
        warnings: Vec<String>,
    },
    /// Not read: the reason names the element at fault.
    Rejected {
        /// Why, and where.
        reason: ReadError,
    },
    /// A resource type the engine does not use (`PractitionerRole`, `Task`...).
    Ignored,
}

/// Type and id of a resource, read without parsing the rest.
pub(crate) fn read_header(json: &str) -> Result<ResourceHeader<'_>, ReadError> {
    serde_json::from_str::<ResourceHeader>(json).map_err(|error| ReadError::InvalidJson(error.to_string()))
}

/// Reads one resource from its JSON text.
pub fn parse_resource(resource_type: &str, json: &str) -> Outcome {
    if !READ_TYPES.contains(&resource_type) {
        return Outcome::Ignored;
    }
    // Parse fast; only when that fails, parse again tracking the path for the message.
    let raw: RawResource = match serde_json::from_str(json) {
        Ok(raw) => raw,
        Err(plain_error) => {
            let mut deserializer = serde_json::Deserializer::from_str(json);
            return match serde_path_to_error::deserialize::<_, RawResource>(&mut deserializer) {
                Err(error) => {
                    let path = error.path().to_string();
                    Outcome::Rejected { reason: ReadError::at(&path, Reason::Json(error.into_inner().to_string())) }
                }
                Ok(_) => Outcome::Rejected { reason: ReadError::Shape(plain_error.to_string()) },
            };
        }
    };
    read_raw(resource_type, &raw)
}

/// What [`classify`] found in one item of JSON text.
#[derive(Debug)]
pub(crate) enum Classified {
    /// A resource, read (or rejected, or ignored by type).
    Resource { resource_type: String, id: Option<String>, outcome: Outcome },
    /// A `Bundle` to split into its entries.
    Bundle,
    /// Not a resource: invalid JSON or no `resourceType`.
    Unreadable { id: Option<String>, reason: ReadError },
}

/// Reads one item in a single pass when it is a well-formed resource of a type the engine
/// uses (the common case); otherwise reads its header to tell a bundle, an ignored type, or
/// a malformed resource (whose message then carries the JSON path of the fault).
pub(crate) fn classify(json: &str) -> Classified {
    if let Ok(raw) = serde_json::from_str::<RawResource>(json) {
        let resource_type = raw.resource_type.as_ref();
        if resource_type.is_empty() {
            return Classified::Unreadable {
                id: raw.id.as_deref().map(str::to_owned),
                reason: ReadError::at(&"resourceType", Reason::Missing),
            };
        }
        if resource_type == "Bundle" {
            return Classified::Bundle;
        }
        let id = raw.id.as_deref().map(str::to_owned);
        let outcome =
            if READ_TYPES.contains(&resource_type) { read_raw(resource_type, &raw) } else { Outcome::Ignored };
        return Classified::Resource { resource_type: resource_type.to_owned(), id, outcome };
    }
    let header = match read_header(json) {
        Ok(header) => header,
        Err(reason) => return Classified::Unreadable { id: None, reason },
    };
    let id = header.id.as_deref().map(str::to_owned);
    match header.resource_type.as_deref() {
        None | Some("") => Classified::Unreadable { id, reason: ReadError::at(&"resourceType", Reason::Missing) },
        Some("Bundle") => Classified::Bundle,
        Some(resource_type) => Classified::Resource {
            resource_type: resource_type.to_owned(),
            id,
            outcome: parse_resource(resource_type, json),
        },
    }
}

fn read_raw(resource_type: &str, raw: &RawResource) -> Outcome {
    let mut reader = Reader::default();
    let parsed = match resource_type {
        "Organization" => reader.organization(raw).map(Parsed::Organization),
        "HealthcareService" => reader.offer(raw).map(Parsed::Offer),
        _ => reader.location(raw).map(Parsed::Location),
    };
    match parsed {
        Ok(parsed) => Outcome::Accepted { parsed: Box::new(parsed), warnings: reader.warnings },
        Err(reason) => Outcome::Rejected { reason },
    }
}

/// How strictly a coded element is read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
}

#[derive(Default)]
struct Reader {
    warnings: Vec<String>,
}

impl Reader {
    /// The code of `concept` in `system`, checked against the label table.
    fn code(
        &mut self,
        concept: &CodeableConcept,
        system: CodeSystem,
        field: &dyn fmt::Display,
        need: Need,
    ) -> Result<Option<Code>, ReadError> {
        let coding = concept
            .coding
            .iter()
            .find(|coding| coding.system.as_deref().and_then(CodeSystem::from_url) == Some(system));
        let Some(coding) = coding else {
            let found: Vec<&str> = concept.coding.iter().filter_map(|coding| coding.system.as_deref()).collect();
            let reason = if found.is_empty() {
                Reason::NoCoding { system: system.nos_id() }
            } else {
                Reason::NoCodingIn { system: system.nos_id(), found: found.join(", ") }
            };
            let error = ReadError::at(field, reason);
            return match need {
                Need::Required => Err(error),
                Need::Optional => {
                    self.warnings.push(format!("{error}; ignored"));
                    Ok(None)
                }
            };
        };
        let Some(code) = coding.code.as_deref().map(str::trim).filter(|code| !code.is_empty()) else {
            return Err(ReadError::at(field, Reason::CodingInSystemHasNoCode { system: system.nos_id() }));
        };
        self.check_known(system, code, field)?;
        Ok(Some(Code::from(code)))
    }

    /// Applies the system's [`UnknownCode`] policy when `code` is not in its table: an error
    /// for closed lists, a warning otherwise.
    fn check_known(&mut self, system: CodeSystem, code: &str, field: &dyn fmt::Display) -> Result<(), ReadError> {
        if system.label(code).is_some() {
            return Ok(());
        }
        let error = ReadError::at(field, Reason::UnknownCode { code: code.to_owned(), system: system.nos_id() });
        match system.unknown_code() {
            UnknownCode::Reject => Err(error),
            UnknownCode::Warn => {
                self.warnings.push(error.to_string());
                Ok(())
            }
        }
    }

    fn required_code(
        &mut self,
        concept: Option<&CodeableConcept>,
        system: CodeSystem,
        field: &dyn fmt::Display,
    ) -> Result<Code, ReadError> {
        let concept = concept.ok_or_else(|| ReadError::at(field, Reason::Missing))?;
        self.code(concept, system, field, Need::Required)?.ok_or_else(|| ReadError::at(field, Reason::Missing))
    }

    fn optional_code(
        &mut self,
        concept: Option<&CodeableConcept>,
        system: CodeSystem,
        field: &dyn fmt::Display,
    ) -> Result<Option<Code>, ReadError> {
        match concept {
            Some(concept) => self.code(concept, system, field, Need::Optional),
            None => Ok(None),
        }
    }

    /// An address and, for organizations, the geolocation extension on it.
    #[allow(clippy::type_complexity)]
    fn address(
        &mut self,
        address: &raw::Address,
        field: &dyn fmt::Display,
    ) -> Result<(Address, Option<(GeoPoint, Option<bool>)>), ReadError> {
        let mut model = Address {
            lines: address.line.iter().map(|line| line.to_string()).collect(),
            postal_code: address.postal_code.as_deref().map(Code::from),
            city: address.city.as_deref().map(str::to_owned),
            commune: None,
        };
        let mut geolocation = None;
        for (index, extension) in address.extension.iter().enumerate() {
            let extension_field = lazy!("{field}.extension[{index}]");
            if extension.url == GEOLOCATION_URL {
                let geolocation_field = lazy!("{extension_field} (geolocation)");
                let mut lat = None;
                let mut lon = None;
                let mut reliable = None;
                for sub in &extension.extension {
                    match sub.url.as_ref() {
                        "latitude" => {
                            lat = Some(sub.value_decimal.ok_or_else(|| {
                                ReadError::at(
                                    &geolocation_field,
                                    Reason::PartHasNoValue { part: "latitude", value: "valueDecimal" },
                                )
                            })?)
                        }
                        "longitude" => {
                            lon = Some(sub.value_decimal.ok_or_else(|| {
                                ReadError::at(
                                    &geolocation_field,
                                    Reason::PartHasNoValue { part: "longitude", value: "valueDecimal" },
                                )
                            })?)
                        }
                        url if ror_extension_id(url) == Some("ror-confidence-geolocation") => {
                            reliable = sub.value_boolean
                        }
                        _ => {}
                    }
                }
                match (lat, lon) {
                    (Some(lat), Some(lon)) => {
                        let point = GeoPoint::new(lat, lon)
                            .map_err(|error| ReadError::at(&geolocation_field, Reason::Position { error, lat, lon }))?;
                        geolocation = Some((point, reliable));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(ReadError::at(&geolocation_field, Reason::HalfPosition));
                    }
                }
            } else if extension.url == FR_CORE_INSEE_CODE_URL
                || extension.url.ends_with("insee-code")
                || extension.url.ends_with("InseeCode")
            {
                let code = extension
                    .value_coding
                    .as_ref()
                    .and_then(|coding| coding.code.as_deref().map(str::to_owned))
                    .or_else(|| first_code(extension.value_codeable_concept.as_ref()).map(String::from));
                model.commune = code.map(|code| self.commune_code(&code, &extension_field)).transpose()?;
            }
        }
        Ok((model, geolocation))
    }

    fn commune_code(&mut self, code: &str, field: &dyn fmt::Display) -> Result<Code, ReadError> {
        if let Some(code) = InseeCode::parse(code) {
            Ok(code.into_code())
        } else {
            Err(ReadError::at(field, Reason::NotInseeCode { code: code.to_owned() }))
        }
    }
}

fn resource_id(raw: &RawResource) -> Result<String, ReadError> {
    match raw.id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(ReadError::at(&"id", Reason::MissingBecause("every resource needs a logical id"))),
    }
}

fn required_name(raw: &RawResource) -> Result<String, ReadError> {
    match raw.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(ReadError::at(&"name", Reason::Missing)),
    }
}

fn last_updated(raw: &RawResource) -> Result<Option<UnixSeconds>, ReadError> {
    optional_date(raw.meta.as_ref().and_then(|meta| meta.last_updated.as_deref()), &"meta.lastUpdated")
}

fn region(raw: &RawResource) -> Option<Code> {
    raw.meta
        .as_ref()?
        .tag
        .iter()
        .find(|coding| {
            coding.system.as_deref().is_some_and(|system| system == TRE_R30_URL || system_is_nos(system, "R30"))
        })
        .and_then(|coding| coding.code.as_deref())
        .map(Code::from)
}

fn optional_date(text: Option<&str>, field: &dyn fmt::Display) -> Result<Option<UnixSeconds>, ReadError> {
    text.map(|text| parse_fhir_datetime(text).map_err(|error| ReadError::at(field, Reason::Date(error)))).transpose()
}

fn non_negative(value: Option<i64>, field: &dyn fmt::Display) -> Result<u32, ReadError> {
    let value = value.ok_or_else(|| ReadError::at(field, Reason::MissingBecause("an integer is required")))?;
    u32::try_from(value).map_err(|_| ReadError::at(field, Reason::NotACount { value }))
}

fn has_system(concept: &CodeableConcept, nos_number: &str) -> bool {
    concept.coding.iter().any(|coding| coding.system.as_deref().is_some_and(|system| system_is_nos(system, nos_number)))
}

fn first_code(concept: Option<&CodeableConcept>) -> Option<Code> {
    concept?.coding.iter().find_map(|coding| coding.code.as_deref()).map(Code::from)
}

/// The `type.coding.code` of an identifier, when its system is the NOS table `nos_number`
/// (`G07` for structures, `R355` offers, `R354` locations, `R345` OI).
fn identifier_type_code<'a>(identifier: &'a raw::Identifier, nos_number: &str) -> Option<&'a str> {
    identifier
        .type_
        .as_ref()?
        .coding
        .iter()
        .find(|coding| coding.system.as_deref().is_some_and(|system| system_is_nos(system, nos_number)))
        .and_then(|coding| coding.code.as_deref())
}
