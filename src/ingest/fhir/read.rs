//! FHIR JSON → model parts, one resource at a time.
//!
//! [`parse_resource`] takes the JSON text of one resource and returns what it contributes to the
//! dataset, with references still unresolved (they are linked by [`crate::ingest::resolve`]).
//! A resource that cannot be read is rejected with a reason naming the element; data that is
//! odd but usable (an unknown code in a large catalogue) is kept with a warning.

use std::fmt;

use super::raw::{self, CodeableConcept, Extension, RawResource, ResourceHeader};
use super::{
    FR_CORE_INSEE_CODE_URL, GEOLOCATION_URL, ORGANIZATION_PERIOD_URL, TRE_R30_URL, ror_extension_id, system_is_nos,
};
use crate::model::labels::{CodeSystem, UnknownCode};
use crate::model::place::{Finess, InseeCode};
use crate::model::rules::age_in_years;
use crate::model::{Address, AgeRange, CapacityRecord, Code, Eg, Ej, GeoPoint, Location, Offer, Tariff};
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
        Lazy(|formatter: &mut fmt::Formatter<'_>| write!(formatter, $($argument)*))
    };
}

/// The resource types the engine reads; every other type is counted as ignored.
pub const READ_TYPES: [&str; 3] = ["Organization", "HealthcareService", "Location"];

/// What one resource contributes, references unresolved.
#[derive(Debug, Clone)]
pub enum Parsed {
    Organization(ParsedOrganization),
    Offer(ParsedOffer),
    Location(Location),
}

/// The three kinds of `Organization` in the ROR.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // boxed once as a whole in `Outcome`
pub enum ParsedOrganization {
    /// Entité juridique.
    Ej(Ej),
    /// Entité géographique, with its `partOf` reference to the EJ.
    Eg { eg: Eg, part_of: Option<String> },
    /// Organisation interne (pôle, structure interne, UF), with its `partOf` reference.
    Oi { id: String, name: Option<String>, part_of: Option<String> },
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
    Accepted { parsed: Box<Parsed>, warnings: Vec<String> },
    /// Not read: the reason names the element at fault.
    Rejected { reason: String },
    /// A resource type the engine does not use (`PractitionerRole`, `Task`...).
    Ignored,
}

/// Type and id of a resource, read without parsing the rest.
pub fn read_header(json: &str) -> Result<ResourceHeader<'_>, String> {
    serde_json::from_str::<ResourceHeader>(json).map_err(|error| format!("invalid JSON: {error}"))
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
                    Outcome::Rejected { reason: format!("{path}: {}", error.into_inner()) }
                }
                Ok(_) => Outcome::Rejected { reason: plain_error.to_string() },
            };
        }
    };
    read_raw(resource_type, &raw)
}

/// What [`classify`] found in one item of JSON text.
#[derive(Debug)]
pub enum Classified {
    /// A resource, read (or rejected, or ignored by type).
    Resource { resource_type: String, id: Option<String>, outcome: Outcome },
    /// A `Bundle` to split into its entries.
    Bundle,
    /// Not a resource: invalid JSON or no `resourceType`.
    Unreadable { id: Option<String>, reason: String },
}

/// Reads one item in a single pass when it is a well-formed resource of a type the engine
/// uses (the common case); otherwise reads its header to tell a bundle, an ignored type, or
/// a malformed resource (whose message then carries the JSON path of the fault).
pub fn classify(json: &str) -> Classified {
    if let Ok(raw) = serde_json::from_str::<RawResource>(json) {
        let resource_type = raw.resource_type.as_ref();
        if resource_type.is_empty() {
            return Classified::Unreadable {
                id: raw.id.as_deref().map(str::to_owned),
                reason: "resourceType: missing".into(),
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
        None | Some("") => Classified::Unreadable { id, reason: "resourceType: missing".into() },
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
    ) -> Result<Option<Code>, String> {
        let coding = concept
            .coding
            .iter()
            .find(|coding| coding.system.as_deref().and_then(CodeSystem::from_url) == Some(system));
        let Some(coding) = coding else {
            let found: Vec<&str> = concept.coding.iter().filter_map(|coding| coding.system.as_deref()).collect();
            let message = if found.is_empty() {
                format!("{field}: no coding with system {}", system.nos_id())
            } else {
                format!("{field}: no coding in {} (found {})", system.nos_id(), found.join(", "))
            };
            return match need {
                Need::Required => Err(message),
                Need::Optional => {
                    self.warnings.push(format!("{message}; ignored"));
                    Ok(None)
                }
            };
        };
        let Some(code) = coding.code.as_deref().map(str::trim).filter(|code| !code.is_empty()) else {
            return Err(format!("{field}: coding in {} has no code", system.nos_id()));
        };
        if system.label(code).is_none() {
            let message = format!("{field}: code {code:?} is not in {}", system.nos_id());
            match system.unknown_code() {
                UnknownCode::Reject => return Err(message),
                UnknownCode::Warn => self.warnings.push(message),
            }
        }
        Ok(Some(Code::from(code)))
    }

    fn required_code(
        &mut self,
        concept: Option<&CodeableConcept>,
        system: CodeSystem,
        field: &dyn fmt::Display,
    ) -> Result<Code, String> {
        let concept = concept.ok_or_else(|| format!("{field}: missing"))?;
        self.code(concept, system, field, Need::Required)?.ok_or_else(|| format!("{field}: missing"))
    }

    fn optional_code(
        &mut self,
        concept: Option<&CodeableConcept>,
        system: CodeSystem,
        field: &dyn fmt::Display,
    ) -> Result<Option<Code>, String> {
        match concept {
            Some(concept) => self.code(concept, system, field, Need::Optional),
            None => Ok(None),
        }
    }

    fn organization(&mut self, raw: &RawResource) -> Result<ParsedOrganization, String> {
        let id = resource_id(raw)?;
        let last_updated = last_updated(raw)?;
        let is_oi = raw.identifier.iter().any(|identifier| identifier_type_code(identifier, "R345") == Some("42"))
            || raw.type_.iter().any(|concept| has_system(concept, "R207"));
        let part_of = raw.part_of.as_ref().and_then(|reference| reference.reference.as_deref().map(str::to_owned));
        if is_oi {
            return Ok(ParsedOrganization::Oi { id, name: raw.name.as_deref().map(str::to_owned), part_of });
        }
        let mut category = None;
        let mut legal_status = None;
        let mut has_ej_type = false;
        for concept in &raw.type_ {
            if let Some(coding) = concept.coding.iter().find(|coding| {
                coding
                    .system
                    .as_deref()
                    .is_some_and(|system| system_is_nos(system, "R66") || system_is_nos(system, "R02"))
            }) {
                let code = coding.code.as_deref().ok_or("type[categorieEtablissement]: coding has no code")?;
                if coding.system.as_deref().is_some_and(|system| system_is_nos(system, "R66"))
                    && CodeSystem::CategorieEtablissement.label(code).is_none()
                {
                    self.warnings.push(format!(
                        "type[categorieEtablissement]: code {code:?} is not in TRE_R66-CategorieEtablissement"
                    ));
                }
                category = Some(Code::from(code));
            } else if has_system(concept, "R72") {
                legal_status =
                    self.optional_code(Some(concept), CodeSystem::StatutJuridique, &"type[statutJuridiqueINSEE]")?;
                has_ej_type = true;
            } else if has_system(concept, "R69") {
                has_ej_type = true;
            }
        }
        let address = raw.address.0.first();
        let (mut address_model, geolocation) = match address {
            Some(address) => self.address(address, &"address[0]")?,
            None => (Address::default(), None),
        };
        if address_model.commune.is_none() {
            address_model.commune = None;
        }
        let is_eg = category.is_some() || (!has_ej_type && part_of.is_some());
        if !is_eg {
            let name = raw.name.as_deref().map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned);
            return Ok(ParsedOrganization::Ej(Ej {
                id,
                finess: structure_identifier(raw, "1").or_else(|| prefixed_national_id(raw, '1')),
                siren: structure_identifier(raw, "2"),
                name,
                legal_status,
                address: address_model,
                last_updated,
            }));
        }
        if category.is_none() {
            self.warnings
                .push("type[categorieEtablissement]: missing; read as an entité géographique because of partOf".into());
        }
        let name = required_name(raw)?;
        let mut eg = Eg {
            id,
            finess: structure_identifier(raw, "1").or_else(|| prefixed_national_id(raw, '1')),
            siret: structure_identifier(raw, "3"),
            name,
            alias: raw.alias.first().map(|alias| alias.to_string()),
            category,
            address: address_model,
            region: region(raw),
            last_updated,
            ..Eg::default()
        };
        if let Some((position, reliable)) = geolocation {
            eg.position = Some(position);
            eg.position_reliable = reliable;
        }
        if let Some(finess) = &eg.finess
            && Finess::parse(finess).is_none()
        {
            self.warnings.push(format!("identifier[finess]: {finess:?} is not a 9-character FINESS number"));
        }
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            if extension.url == ORGANIZATION_PERIOD_URL {
                let period = extension
                    .value_period
                    .as_ref()
                    .ok_or_else(|| format!("{field} (organization-period): missing valuePeriod"))?;
                eg.opened_at = optional_date(period.start.as_deref(), &lazy!("{field}.valuePeriod.start"))?;
                eg.closed_at = optional_date(period.end.as_deref(), &lazy!("{field}.valuePeriod.end"))?;
                continue;
            }
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-organization-financial-help-type" => {
                    if let Some(code) = self.optional_code(
                        extension.value_codeable_concept.as_ref(),
                        CodeSystem::AideFinanciere,
                        &field,
                    )? {
                        eg.financial_help.push(code);
                    }
                }
                "ror-organization-level-recours-orsan" => {
                    eg.orsan_level = self.optional_code(
                        extension.value_codeable_concept.as_ref(),
                        CodeSystem::NiveauRecoursOrsan,
                        &field,
                    )?;
                }
                "ror-organization-closing-type" => {
                    eg.closing_type = first_code(extension.value_codeable_concept.as_ref());
                }
                "ror-organization-nb-permanent-social-help-place" => {
                    eg.social_help_places_permanent =
                        Some(non_negative(extension.value_integer, &lazy!("{field}.valueInteger"))?);
                }
                "ror-organization-nb-temporary-social-help-place" => {
                    eg.social_help_places_temporary =
                        Some(non_negative(extension.value_integer, &lazy!("{field}.valueInteger"))?);
                }
                "ror-meta-creation-date" => {
                    eg.created_at =
                        optional_date(extension.value_date_time.as_deref(), &lazy!("{field}.valueDateTime"))?;
                }
                "ror-organization-price" => {
                    let tariff = self.tariff(extension, &field)?;
                    eg.tariffs.push(tariff);
                }
                _ => {}
            }
        }
        Ok(ParsedOrganization::Eg { eg, part_of })
    }

    /// An address and, for organizations, the geolocation extension on it.
    #[allow(clippy::type_complexity)]
    fn address(
        &mut self,
        address: &raw::Address,
        field: &dyn fmt::Display,
    ) -> Result<(Address, Option<(GeoPoint, Option<bool>)>), String> {
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
                let mut lat = None;
                let mut lon = None;
                let mut reliable = None;
                for sub in &extension.extension {
                    match sub.url.as_ref() {
                        "latitude" => {
                            lat = Some(sub.value_decimal.ok_or_else(|| {
                                format!("{extension_field} (geolocation): latitude has no valueDecimal")
                            })?)
                        }
                        "longitude" => {
                            lon = Some(sub.value_decimal.ok_or_else(|| {
                                format!("{extension_field} (geolocation): longitude has no valueDecimal")
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
                        let point = GeoPoint::new(lat, lon).map_err(|error| {
                            format!("{extension_field} (geolocation): {error} (latitude {lat}, longitude {lon})")
                        })?;
                        geolocation = Some((point, reliable));
                    }
                    (None, None) => {}
                    _ => {
                        return Err(format!(
                            "{extension_field} (geolocation): latitude and longitude must both be given"
                        ));
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

    fn commune_code(&mut self, code: &str, field: &dyn fmt::Display) -> Result<Code, String> {
        if let Some(code) = InseeCode::parse(code) {
            Ok(code.into_code())
        } else {
            Err(format!("{field}: {code:?} is not an INSEE commune code (5 characters, e.g. 45234 or 2A004)"))
        }
    }

    fn tariff(&mut self, extension: &Extension, field: &dyn fmt::Display) -> Result<Tariff, String> {
        let mut price_type = None;
        let mut unit = None;
        let mut amount = None;
        let mut tariff = Tariff::default();
        for (index, sub) in extension.extension.iter().enumerate() {
            let sub_field = lazy!("{field}.extension[{index}] ({})", sub.url);
            let concept = sub.value_codeable_concept.as_ref();
            match sub.url.as_ref() {
                "priceType" => price_type = Some(self.required_code(concept, CodeSystem::TypeTarif, &sub_field)?),
                "priceUnit" => unit = Some(self.required_code(concept, CodeSystem::UnitePrix, &sub_field)?),
                "amount" => {
                    let money = sub.value_money.as_ref().ok_or_else(|| format!("{sub_field}: missing valueMoney"))?;
                    let value = money.value.ok_or_else(|| format!("{sub_field}: valueMoney has no value"))?;
                    if !value.is_finite() || value < 0.0 {
                        return Err(format!("{sub_field}: amount {value} is not a non-negative number"));
                    }
                    if let Some(currency) = &money.currency
                        && currency != "EUR"
                    {
                        self.warnings.push(format!("{sub_field}: currency {currency:?} is not EUR"));
                    }
                    tariff.currency = money.currency.as_deref().map(Code::from);
                    amount = Some((value * 100.0).round() as i64);
                }
                "startDate" => {
                    tariff.valid_from =
                        optional_date(sub.value_date_time.as_deref().or(sub.value_date.as_deref()), &sub_field)?
                }
                "under60" => tariff.under_60 = sub.value_boolean,
                "residentialType" => {
                    tariff.residential_type = self.optional_code(concept, CodeSystem::TypeHabitation, &sub_field)?
                }
                "welcomeType" => {
                    tariff.welcome_type = self.optional_code(concept, CodeSystem::TemporaliteAccueil, &sub_field)?
                }
                "specialPrice" => {
                    tariff.special_price = self.optional_code(concept, CodeSystem::ConditionTarifaire, &sub_field)?
                }
                "dependencyLevel" => {
                    tariff.dependency_level =
                        self.optional_code(concept, CodeSystem::GroupeTarifaireDependance, &sub_field)?;
                }
                _ => {}
            }
        }
        tariff.price_type = price_type.ok_or_else(|| format!("{field} (ror-organization-price): missing priceType"))?;
        tariff.unit = unit.ok_or_else(|| format!("{field} (ror-organization-price): missing priceUnit"))?;
        tariff.amount_cents = amount.ok_or_else(|| format!("{field} (ror-organization-price): missing amount"))?;
        Ok(tariff)
    }

    fn offer(&mut self, raw: &RawResource) -> Result<ParsedOffer, String> {
        let id = resource_id(raw)?;
        let name = required_name(raw)?;
        let provided_by = raw
            .provided_by
            .as_ref()
            .and_then(|reference| reference.reference.as_deref().map(str::to_owned))
            .ok_or("providedBy: missing (an offer must name the organization that provides it)")?;
        let identifier = raw
            .identifier
            .iter()
            .find(|identifier| identifier_type_code(identifier, "R355") == Some("35"))
            .or(raw.identifier.first())
            .and_then(|identifier| identifier.value.as_deref().map(str::to_owned));
        let mut offer =
            Offer { id, identifier, name, region: region(raw), last_updated: last_updated(raw)?, ..Offer::default() };
        for (index, concept) in raw.category.iter().enumerate() {
            if has_system(concept, "R244") {
                offer.offer_type =
                    self.code(concept, CodeSystem::CategorieOrganisation, &lazy!("category[{index}]"), Need::Optional)?;
            }
        }
        for (index, concept) in raw.type_.iter().enumerate() {
            if has_system(concept, "R227") {
                offer.activity_field =
                    self.code(concept, CodeSystem::ChampActivite, &lazy!("type[{index}]"), Need::Required)?;
            }
        }
        for (index, concept) in raw.specialty.iter().enumerate() {
            let field = lazy!("specialty[{index}]");
            if has_system(concept, "R211") {
                let code = self.code(concept, CodeSystem::ActiviteOperationnelle, &field, Need::Required)?;
                if offer.activity.is_none() {
                    offer.activity = code;
                } else {
                    self.warnings.push(format!("{field}: second activité opérationnelle ignored"));
                }
            } else if let Some(code) = first_code(Some(concept)) {
                offer.activity_families.push(code);
            }
        }
        for (index, concept) in raw.characteristic.iter().enumerate() {
            let field = lazy!("characteristic[{index}]");
            if has_system(concept, "R213") {
                offer.care_mode = self.code(concept, CodeSystem::ModePriseEnCharge, &field, Need::Required)?;
            } else if has_system(concept, "R240") {
                offer.reception = self.code(concept, CodeSystem::TemporaliteAccueil, &field, Need::Required)?;
            } else if has_system(concept, "R245") {
                if let Some(code) =
                    self.code(concept, CodeSystem::SpecialisationPriseEnCharge, &field, Need::Required)?
                {
                    offer.specialisations.push(code);
                }
            } else if has_system(concept, "R243")
                && let Some(code) = first_code(Some(concept))
            {
                offer.competences.push(code);
            }
        }
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-healthcareservice-sensitive-unit" => {
                    offer.sensitive_unit = extension.value_boolean.ok_or_else(|| {
                        format!("{field} (ror-healthcareservice-sensitive-unit): missing valueBoolean")
                    })?;
                }
                "ror-healthcareservice-patient-type" => {
                    for (sub_index, sub) in extension.extension.iter().enumerate() {
                        let sub_field = lazy!("{field}.extension[{sub_index}] ({})", sub.url);
                        match sub.url.as_ref() {
                            "supportedPatientInfo" => {
                                if let Some(code) = self.optional_code(
                                    sub.value_codeable_concept.as_ref(),
                                    CodeSystem::PublicPrisEnCharge,
                                    &sub_field,
                                )? {
                                    offer.publics.push(code);
                                }
                            }
                            "ageRange" => {
                                let range = sub
                                    .value_range
                                    .as_ref()
                                    .ok_or_else(|| format!("{sub_field}: missing valueRange"))?;
                                offer.age_range = Some(age_range(range, &sub_field)?);
                            }
                            _ => {}
                        }
                    }
                }
                "ror-meta-creation-date" => {
                    offer.created_at =
                        optional_date(extension.value_date_time.as_deref(), &lazy!("{field}.valueDateTime"))?;
                }
                _ => {}
            }
        }
        for (index, not_available) in raw.not_available.iter().enumerate() {
            let field = lazy!("notAvailable[{index}]");
            let Some(during) = &not_available.during else {
                continue;
            };
            if not_available.id.as_deref().is_some_and(|id| id != "closingReopeningDate") {
                continue;
            }
            offer.closed_from = optional_date(during.start.as_deref(), &lazy!("{field}.during.start"))?;
            offer.reopens_at = optional_date(during.end.as_deref(), &lazy!("{field}.during.end"))?;
            if let (Some(from), Some(reopen)) = (offer.closed_from, offer.reopens_at)
                && reopen < from
            {
                return Err(format!("{field}.during: reopening date is before the closing date"));
            }
        }
        let mut location_references = Vec::with_capacity(raw.location.len());
        for (index, reference) in raw.location.iter().enumerate() {
            let reference = reference
                .reference
                .as_deref()
                .map(str::to_owned)
                .ok_or_else(|| format!("location[{index}]: reference missing"))?;
            location_references.push(reference);
        }
        Ok(ParsedOffer { offer, provided_by, location_references })
    }

    fn location(&mut self, raw: &RawResource) -> Result<Location, String> {
        let id = resource_id(raw)?;
        let identifier = raw
            .identifier
            .iter()
            .find(|identifier| identifier_type_code(identifier, "R354") == Some("25"))
            .or(raw.identifier.first())
            .and_then(|identifier| identifier.value.as_deref().map(str::to_owned));
        let mut location = Location {
            id,
            identifier,
            name: raw.name.as_deref().map(str::to_owned),
            last_updated: last_updated(raw)?,
            ..Location::default()
        };
        if let Some(address) = raw.address.0.first() {
            location.address = self.address(address, &"address")?.0;
        }
        for (index, concept) in raw.type_.iter().enumerate() {
            if has_system(concept, "R343") {
                location.function =
                    self.code(concept, CodeSystem::FonctionLieu, &lazy!("type[{index}]"), Need::Optional)?;
            }
        }
        if let Some(position) = &raw.position {
            match (position.latitude, position.longitude) {
                (Some(lat), Some(lon)) => {
                    location.position = Some(
                        GeoPoint::new(lat, lon)
                            .map_err(|error| format!("position: {error} (latitude {lat}, longitude {lon})"))?,
                    );
                }
                (None, None) => {}
                _ => return Err("position: latitude and longitude must both be given".into()),
            }
            location.position_reliable = position
                .extension
                .iter()
                .find(|extension| ror_extension_id(&extension.url) == Some("ror-coordinate-reliability"))
                .and_then(|extension| extension.value_boolean);
        }
        let mut record_index = 0;
        for (index, extension) in raw.extension.iter().enumerate() {
            let field = lazy!("extension[{index}]");
            let Some(extension_id) = ror_extension_id(&extension.url) else {
                continue;
            };
            match extension_id {
                "ror-commune-cog" => {
                    let code = extension
                        .value_codeable_concept
                        .as_ref()
                        .and_then(|concept| {
                            concept
                                .coding
                                .iter()
                                .find(|coding| {
                                    coding.system.as_deref().is_some_and(|system| system_is_nos(system, "R13"))
                                })
                                .or(concept.coding.first())
                        })
                        .and_then(|coding| coding.code.clone())
                        .ok_or_else(|| format!("{field} (ror-commune-cog): no commune code"))?;
                    location.commune = Some(self.commune_code(&code, &lazy!("{field} (ror-commune-cog)"))?);
                }
                "ror-location-supported-capacity" => {
                    let record = self.capacity(extension, &lazy!("{field} (capacity record {record_index})"))?;
                    location.capacities.push(record);
                    record_index += 1;
                }
                _ => {}
            }
        }
        if location.address.commune.is_none() {
            location.address.commune = location.commune.clone();
        }
        Ok(location)
    }

    fn capacity(&mut self, extension: &Extension, field: &dyn fmt::Display) -> Result<CapacityRecord, String> {
        let mut capacity_type = None;
        let mut status = None;
        let mut temporality = None;
        let mut count = None;
        let mut record = CapacityRecord::default();
        for (index, sub) in extension.extension.iter().enumerate() {
            let sub_field = lazy!("{field}.extension[{index}] ({})", sub.url);
            let concept = sub.value_codeable_concept.as_ref();
            match sub.url.as_ref() {
                "capacityType" => {
                    capacity_type = Some(self.required_code(concept, CodeSystem::NatureCapacite, &sub_field)?)
                }
                "capacityStatus" => {
                    status = Some(self.required_code(concept, CodeSystem::StatutCapacite, &sub_field)?)
                }
                "temporalityCapacity" => {
                    temporality = Some(self.required_code(concept, CodeSystem::TemporaliteCapacite, &sub_field)?);
                }
                "nbCapacity" => {
                    count = Some(non_negative(sub.value_integer, &lazy!("{sub_field}.valueInteger"))?);
                }
                "capacityUpdateDate" => {
                    record.updated_at =
                        optional_date(sub.value_date_time.as_deref(), &lazy!("{sub_field}.valueDateTime"))?;
                }
                "genderCapacityAvailable" => {
                    record.gender = self.optional_code(concept, CodeSystem::GenreCapacite, &sub_field)?
                }
                "capacityClosingType" => {
                    record.closing_type = self.optional_code(concept, CodeSystem::TypeFermetureCapacite, &sub_field)?;
                }
                "additionalBedType" => {
                    record.additional_bed_type =
                        self.optional_code(concept, CodeSystem::TypeLitSupplementaire, &sub_field)?;
                }
                "crisisType" => record.crisis_type = self.optional_code(concept, CodeSystem::TypeCrise, &sub_field)?,
                "temporaryAssignement" | "temporaryAssignment" => {
                    record.temporary_assignment =
                        self.optional_code(concept, CodeSystem::AffectationTemporaire, &sub_field)?;
                }
                "capacitySourceType" => {
                    record.source_type = self.optional_code(concept, CodeSystem::TypeSourceCapacite, &sub_field)?
                }
                _ => {}
            }
        }
        record.capacity_type = capacity_type.ok_or_else(|| format!("{field}: missing capacityType"))?;
        record.status = status.ok_or_else(|| format!("{field}: missing capacityStatus"))?;
        record.temporality = temporality.ok_or_else(|| format!("{field}: missing temporalityCapacity"))?;
        record.count = count.ok_or_else(|| format!("{field}: missing nbCapacity"))?;
        Ok(record)
    }
}

fn resource_id(raw: &RawResource) -> Result<String, String> {
    match raw.id.as_deref().map(str::trim) {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err("id: missing (every resource needs a logical id)".into()),
    }
}

fn required_name(raw: &RawResource) -> Result<String, String> {
    match raw.name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err("name: missing".into()),
    }
}

fn last_updated(raw: &RawResource) -> Result<Option<UnixSeconds>, String> {
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

fn optional_date(text: Option<&str>, field: &dyn fmt::Display) -> Result<Option<UnixSeconds>, String> {
    text.map(|text| parse_fhir_datetime(text).map_err(|error| format!("{field}: {error}"))).transpose()
}

fn non_negative(value: Option<i64>, field: &dyn fmt::Display) -> Result<u32, String> {
    let value = value.ok_or_else(|| format!("{field}: missing (an integer is required)"))?;
    u32::try_from(value).map_err(|_| format!("{field}: {value} is not a count (0 to 4294967295)"))
}

fn age_range(range: &raw::Range, field: &dyn fmt::Display) -> Result<AgeRange, String> {
    let bound = |quantity: Option<&raw::Quantity>, which: &str| -> Result<Option<f64>, String> {
        let Some(quantity) = quantity else {
            return Ok(None);
        };
        let Some(value) = quantity.value else {
            return Ok(None);
        };
        if !value.is_finite() || value < 0.0 {
            return Err(format!("{field}.{which}: {value} is not a non-negative age"));
        }
        let unit = quantity.code.as_deref().or(quantity.unit.as_deref());
        age_in_years(value, unit)
            .map(Some)
            .ok_or_else(|| format!("{field}.{which}: unit {:?} is not one of a, mo, wk, d", unit.unwrap_or_default()))
    };
    let age = AgeRange { min_years: bound(range.low.as_ref(), "low")?, max_years: bound(range.high.as_ref(), "high")? };
    if let (Some(min), Some(max)) = (age.min_years, age.max_years)
        && min > max
    {
        return Err(format!("{field}: low ({min} years) is above high ({max} years)"));
    }
    Ok(age)
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

/// The value of the structure identifier whose TRE_G07 type code is `type_code`.
fn structure_identifier(raw: &RawResource, type_code: &str) -> Option<Code> {
    raw.identifier
        .iter()
        .find(|identifier| identifier_type_code(identifier, "G07") == Some(type_code))
        .and_then(|identifier| identifier.value.as_deref())
        .map(|value| Code::from(value.trim()))
}

/// The idNatSt (TRE_G07 `40`) without its one-character prefix, when the prefix is `prefix`
/// (`1` = FINESS).
fn prefixed_national_id(raw: &RawResource, prefix: char) -> Option<Code> {
    let value = structure_identifier(raw, "40")?;
    value.strip_prefix(prefix).and_then(Finess::parse).map(Finess::into_code)
}
