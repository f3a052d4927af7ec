//! Model → FHIR R4 JSON in the ROR profiles, the inverse of [`super::read`].
//!
//! Used to write the sample feed (`import-opendata`) and the synthetic national feed, and by
//! the round-trip tests (write, read back, compare).

use std::io::Write;

use serde_json::{Map, Value, json};

use super::{
    FR_CORE_INSEE_CODE_URL, GEOLOCATION_URL, ORGANIZATION_PERIOD_URL, TRE_G07_URL, TRE_R13_URL, TRE_R30_URL,
    TRE_R247_URL, TRE_R354_URL, TRE_R355_URL, ror_extension_url,
};
use crate::model::labels::CodeSystem;
use crate::model::{Address, CapacityRecord, Dataset, Eg, Ej, Location, Offer, Tariff};
use crate::util::time::format_rfc3339;

/// Drops the elements that are empty arrays or objects, at every depth: FHIR JSON has none
/// (ele-1), and the model's empty lists (an EJ without statut juridique, an address without a
/// line) are absent elements.
fn without_empty(mut resource: Value) -> Value {
    prune(&mut resource);
    resource
}

/// Prunes the empty arrays and objects under `value`; whether `value` itself is now empty.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Array(items) => {
            items.retain_mut(|item| !prune(item));
            items.is_empty()
        }
        Value::Object(fields) => {
            fields.retain(|_, field| !prune(field));
            fields.is_empty()
        }
        _ => false,
    }
}

fn coding(system: CodeSystem, code: &str) -> Value {
    let mut coding = Map::new();
    coding.insert("system".into(), system.url().into());
    coding.insert("code".into(), code.into());
    if let Some(label) = system.label(code) {
        coding.insert("display".into(), label.into());
    }
    Value::Object(coding)
}

fn concept(system: CodeSystem, code: &str) -> Value {
    json!({ "coding": [coding(system, code)] })
}

/// A concept without `display`: capacity records repeat the same few codes millions of times,
/// and consumers read their labels from the code tables.
fn bare_concept(system: CodeSystem, code: &str) -> Value {
    json!({ "coding": [{ "system": system.url(), "code": code }] })
}

fn extension(id: &str, value_key: &str, value: Value) -> Value {
    let mut extension = Map::new();
    extension.insert("url".into(), ror_extension_url(id).into());
    extension.insert(value_key.into(), value);
    Value::Object(extension)
}

fn sub(url: &str, value_key: &str, value: Value) -> Value {
    let mut extension = Map::new();
    extension.insert("url".into(), url.into());
    extension.insert(value_key.into(), value);
    Value::Object(extension)
}

fn meta(last_updated: Option<i64>, region: Option<&str>, profile: &str) -> Value {
    let mut meta = Map::new();
    if let Some(last_updated) = last_updated {
        meta.insert("lastUpdated".into(), format_rfc3339(last_updated).into());
    }
    meta.insert(
        "profile".into(),
        json!([format!("https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/{profile}")]),
    );
    if let Some(region) = region {
        meta.insert("tag".into(), json!([{ "system": TRE_R30_URL, "code": region }]));
    }
    Value::Object(meta)
}

fn structure_identifier(type_code: &str, system: &str, value: &str) -> Value {
    json!({
        "type": { "coding": [{ "system": TRE_G07_URL, "code": type_code }] },
        "system": system,
        "value": value,
    })
}

fn address(address: &Address, geolocation: Option<Value>) -> Value {
    let mut object = Map::new();
    let mut extensions = Vec::new();
    if let Some(commune) = &address.commune {
        extensions
            .push(json!({ "url": FR_CORE_INSEE_CODE_URL, "valueCoding": { "system": TRE_R13_URL, "code": commune } }));
    }
    if let Some(geolocation) = geolocation {
        extensions.push(geolocation);
    }
    if !extensions.is_empty() {
        object.insert("extension".into(), Value::Array(extensions));
    }
    if !address.lines.is_empty() {
        object.insert("line".into(), json!(address.lines));
    }
    if let Some(city) = &address.city {
        object.insert("city".into(), city.as_str().into());
    }
    if let Some(postal_code) = &address.postal_code {
        object.insert("postalCode".into(), postal_code.as_str().into());
    }
    Value::Object(object)
}

/// An entité juridique as an `Organization`.
pub(crate) fn ej_to_fhir(ej: &Ej) -> Value {
    let mut identifiers = Vec::new();
    if let Some(finess) = &ej.finess {
        identifiers.push(structure_identifier("40", "urn:oid:1.2.250.1.71.4.2.2", &format!("1{finess}")));
        identifiers.push(structure_identifier("1", "https://finess.esante.gouv.fr", finess));
    }
    if let Some(siren) = &ej.siren {
        identifiers.push(structure_identifier("2", "http://sirene.fr", siren));
    }
    let mut types = Vec::new();
    if let Some(legal_status) = &ej.legal_status {
        types.push(concept(CodeSystem::StatutJuridique, legal_status));
    }
    let mut resource = json!({
        "resourceType": "Organization",
        "id": ej.id,
        "meta": meta(ej.last_updated, None, "ror-organization"),
        "identifier": identifiers,
        "type": types,
    });
    if let Some(name) = &ej.name {
        resource["name"] = name.as_str().into();
    }
    if ej.address != Address::default() {
        resource["address"] = json!([address(&ej.address, None)]);
    }
    without_empty(resource)
}

fn tariff_extension(tariff: &Tariff) -> Value {
    let mut subs = vec![
        sub("priceType", "valueCodeableConcept", concept(CodeSystem::TypeTarif, &tariff.price_type)),
        sub("priceUnit", "valueCodeableConcept", concept(CodeSystem::UnitePrix, &tariff.unit)),
        sub(
            "amount",
            "valueMoney",
            json!({ "value": tariff.amount_cents as f64 / 100.0, "currency": tariff.currency.as_deref().unwrap_or("EUR") }),
        ),
    ];
    if let Some(valid_from) = tariff.valid_from {
        subs.push(sub("startDate", "valueDateTime", format_rfc3339(valid_from).into()));
    }
    if let Some(under_60) = tariff.under_60 {
        subs.push(sub("under60", "valueBoolean", under_60.into()));
    }
    let optional = [
        ("residentialType", CodeSystem::TypeHabitation, &tariff.residential_type),
        ("welcomeType", CodeSystem::TemporaliteAccueil, &tariff.welcome_type),
        ("specialPrice", CodeSystem::ConditionTarifaire, &tariff.special_price),
        ("dependencyLevel", CodeSystem::GroupeTarifaireDependance, &tariff.dependency_level),
    ];
    for (url, system, code) in optional {
        if let Some(code) = code {
            subs.push(sub(url, "valueCodeableConcept", concept(system, code)));
        }
    }
    json!({ "url": ror_extension_url("ror-organization-price"), "extension": subs })
}

/// An entité géographique as an `Organization`; `ej_id` is the FHIR id of its EJ.
pub(crate) fn eg_to_fhir(eg: &Eg, ej_id: Option<&str>) -> Value {
    let mut identifiers = Vec::new();
    if let Some(finess) = &eg.finess {
        identifiers.push(structure_identifier("40", "urn:oid:1.2.250.1.71.4.2.2", &format!("1{finess}")));
        identifiers.push(structure_identifier("1", "https://finess.esante.gouv.fr", finess));
    }
    if let Some(siret) = &eg.siret {
        identifiers.push(structure_identifier("3", "http://sirene.fr", siret));
    }
    let mut extensions = Vec::new();
    if let Some(created_at) = eg.created_at {
        extensions.push(extension("ror-meta-creation-date", "valueDateTime", format_rfc3339(created_at).into()));
    }
    for help in &eg.financial_help {
        extensions.push(extension(
            "ror-organization-financial-help-type",
            "valueCodeableConcept",
            concept(CodeSystem::AideFinanciere, help),
        ));
    }
    if let Some(level) = &eg.orsan_level {
        extensions.push(extension(
            "ror-organization-level-recours-orsan",
            "valueCodeableConcept",
            concept(CodeSystem::NiveauRecoursOrsan, level),
        ));
    }
    if let Some(places) = eg.social_help_places_permanent {
        extensions.push(extension("ror-organization-nb-permanent-social-help-place", "valueInteger", places.into()));
    }
    if let Some(places) = eg.social_help_places_temporary {
        extensions.push(extension("ror-organization-nb-temporary-social-help-place", "valueInteger", places.into()));
    }
    if eg.opened_at.is_some() || eg.closed_at.is_some() {
        let mut period = Map::new();
        if let Some(opened_at) = eg.opened_at {
            period.insert("start".into(), format_rfc3339(opened_at).into());
        }
        if let Some(closed_at) = eg.closed_at {
            period.insert("end".into(), format_rfc3339(closed_at).into());
        }
        extensions.push(json!({ "url": ORGANIZATION_PERIOD_URL, "valuePeriod": period }));
    }
    if let Some(closing_type) = &eg.closing_type {
        extensions.push(extension(
            "ror-organization-closing-type",
            "valueCodeableConcept",
            json!({ "coding": [{ "system": "https://mos.esante.gouv.fr/NOS/TRE_R286-TypeFermeture/FHIR/TRE-R286-TypeFermeture", "code": closing_type }] }),
        ));
    }
    for tariff in &eg.tariffs {
        extensions.push(tariff_extension(tariff));
    }
    let geolocation = eg.position.map(|position| {
        let mut subs = vec![
            sub("latitude", "valueDecimal", position.lat.into()),
            sub("longitude", "valueDecimal", position.lon.into()),
        ];
        if let Some(reliable) = eg.position_reliable {
            subs.push(json!({ "url": ror_extension_url("ror-confidence-geolocation"), "valueBoolean": reliable }));
        }
        json!({ "url": GEOLOCATION_URL, "extension": subs })
    });
    let mut types = Vec::new();
    if let Some(category) = &eg.category {
        types.push(concept(CodeSystem::CategorieEtablissement, category));
    }
    let mut resource = json!({
        "resourceType": "Organization",
        "id": eg.id,
        "meta": meta(eg.last_updated, eg.region.as_deref(), "ror-organization"),
        "extension": extensions,
        "identifier": identifiers,
        "type": types,
        "name": eg.name,
        "address": [address(&eg.address, geolocation)],
    });
    if let Some(alias) = &eg.alias {
        resource["alias"] = json!([alias]);
    }
    if let Some(ej_id) = ej_id {
        resource["partOf"] = json!({ "reference": format!("Organization/{ej_id}") });
    }
    without_empty(resource)
}

fn age_quantity(years: f64) -> Value {
    json!({ "value": years, "system": TRE_R247_URL, "code": "a" })
}

/// An offer as a `HealthcareService`; `provider_id` is the FHIR id of the organization providing
/// it and `location_ids` those of its locations.
pub(crate) fn offer_to_fhir(offer: &Offer, provider_id: &str, location_ids: &[&str]) -> Value {
    let mut extensions =
        vec![extension("ror-healthcareservice-sensitive-unit", "valueBoolean", offer.sensitive_unit.into())];
    let mut patient = Vec::new();
    for public in &offer.publics {
        patient.push(sub(
            "supportedPatientInfo",
            "valueCodeableConcept",
            concept(CodeSystem::PublicPrisEnCharge, public),
        ));
    }
    if let Some(age) = offer.age_range.filter(|age| age.min_years.is_some() || age.max_years.is_some()) {
        let mut range = Map::new();
        if let Some(min) = age.min_years {
            range.insert("low".into(), age_quantity(min));
        }
        if let Some(max) = age.max_years {
            range.insert("high".into(), age_quantity(max));
        }
        patient.push(sub("ageRange", "valueRange", Value::Object(range)));
    }
    if !patient.is_empty() {
        extensions
            .push(json!({ "url": ror_extension_url("ror-healthcareservice-patient-type"), "extension": patient }));
    }
    if let Some(created_at) = offer.created_at {
        extensions.push(extension("ror-meta-creation-date", "valueDateTime", format_rfc3339(created_at).into()));
    }
    let mut resource = json!({
        "resourceType": "HealthcareService",
        "id": offer.id,
        "meta": meta(offer.last_updated, offer.region.as_deref(), "ror-healthcareservice"),
        "extension": extensions,
        "providedBy": { "reference": format!("Organization/{provider_id}") },
        "name": offer.name,
    });
    if let Some(identifier) = &offer.identifier {
        resource["identifier"] = json!([{
            "type": { "coding": [{ "system": TRE_R355_URL, "code": "35" }] },
            "value": identifier,
        }]);
    }
    if let Some(offer_type) = &offer.offer_type {
        resource["category"] = json!([concept(CodeSystem::CategorieOrganisation, offer_type)]);
    }
    if let Some(field) = &offer.activity_field {
        resource["type"] = json!([concept(CodeSystem::ChampActivite, field)]);
    }
    let mut specialties = Vec::new();
    if let Some(activity) = &offer.activity {
        specialties.push(concept(CodeSystem::ActiviteOperationnelle, activity));
    }
    for family in &offer.activity_families {
        specialties.push(json!({ "coding": [{
            "system": "https://mos.esante.gouv.fr/NOS/TRE_R265-PrestationPilotageSerafin/FHIR/TRE-R265-PrestationPilotageSerafin",
            "code": family,
        }] }));
    }
    if !specialties.is_empty() {
        resource["specialty"] = Value::Array(specialties);
    }
    let mut characteristics = Vec::new();
    if let Some(care_mode) = &offer.care_mode {
        characteristics.push(concept(CodeSystem::ModePriseEnCharge, care_mode));
    }
    if let Some(reception) = &offer.reception {
        characteristics.push(concept(CodeSystem::TemporaliteAccueil, reception));
    }
    for specialisation in &offer.specialisations {
        characteristics.push(concept(CodeSystem::SpecialisationPriseEnCharge, specialisation));
    }
    for competence in &offer.competences {
        characteristics.push(json!({ "coding": [{ "system": super::TRE_R243_URL, "code": competence }] }));
    }
    if !characteristics.is_empty() {
        resource["characteristic"] = Value::Array(characteristics);
    }
    if !location_ids.is_empty() {
        resource["location"] =
            location_ids.iter().map(|id| json!({ "reference": format!("Location/{id}") })).collect::<Vec<_>>().into();
    }
    if offer.closed_from.is_some() || offer.reopens_at.is_some() {
        let mut during = Map::new();
        if let Some(from) = offer.closed_from {
            during.insert("start".into(), format_rfc3339(from).into());
        }
        if let Some(reopen) = offer.reopens_at {
            during.insert("end".into(), format_rfc3339(reopen).into());
        }
        resource["notAvailable"] =
            json!([{ "id": "closingReopeningDate", "description": "Fermeture", "during": during }]);
    }
    without_empty(resource)
}

fn capacity_extension(record: &CapacityRecord) -> Value {
    let mut subs = vec![
        sub("capacityType", "valueCodeableConcept", bare_concept(CodeSystem::NatureCapacite, &record.capacity_type)),
        sub("capacityStatus", "valueCodeableConcept", bare_concept(CodeSystem::StatutCapacite, &record.status)),
        sub(
            "temporalityCapacity",
            "valueCodeableConcept",
            bare_concept(CodeSystem::TemporaliteCapacite, &record.temporality),
        ),
        sub("nbCapacity", "valueInteger", record.count.into()),
    ];
    if let Some(updated_at) = record.updated_at {
        subs.push(sub("capacityUpdateDate", "valueDateTime", format_rfc3339(updated_at).into()));
    }
    let optional = [
        ("genderCapacityAvailable", CodeSystem::GenreCapacite, &record.gender),
        ("capacityClosingType", CodeSystem::TypeFermetureCapacite, &record.closing_type),
        ("additionalBedType", CodeSystem::TypeLitSupplementaire, &record.additional_bed_type),
        ("crisisType", CodeSystem::TypeCrise, &record.crisis_type),
        ("temporaryAssignement", CodeSystem::AffectationTemporaire, &record.temporary_assignment),
        ("capacitySourceType", CodeSystem::TypeSourceCapacite, &record.source_type),
    ];
    for (url, system, code) in optional {
        if let Some(code) = code {
            subs.push(sub(url, "valueCodeableConcept", bare_concept(system, code)));
        }
    }
    json!({ "url": ror_extension_url("ror-location-supported-capacity"), "extension": subs })
}

/// A location as a `Location`.
pub(crate) fn location_to_fhir(location: &Location) -> Value {
    location_to_fhir_with(location, &location.capacities, location.last_updated)
}

/// A location as a `Location` with these capacity records and `meta.lastUpdated` (the live
/// ones, as the FHIR facade answers it).
pub(crate) fn location_to_fhir_with<'a>(
    location: &Location,
    capacities: impl IntoIterator<Item = &'a CapacityRecord>,
    last_updated: Option<i64>,
) -> Value {
    let mut extensions = Vec::new();
    if let Some(commune) = &location.commune {
        extensions.push(extension(
            "ror-commune-cog",
            "valueCodeableConcept",
            json!({ "coding": [{ "system": TRE_R13_URL, "code": commune }] }),
        ));
    }
    for record in capacities {
        extensions.push(capacity_extension(record));
    }
    let mut resource = json!({
        "resourceType": "Location",
        "id": location.id,
        "meta": meta(last_updated, None, "ror-location"),
        "extension": extensions,
        "status": "active",
    });
    let mut identifiers = Vec::new();
    if let Some(identifier) = &location.identifier {
        identifiers.push(json!({
            "type": { "coding": [{ "system": TRE_R354_URL, "code": "25" }] },
            "value": identifier,
        }));
    }
    if let Some(synchro_id) = &location.synchro_id {
        identifiers.push(json!({
            "type": { "coding": [{ "system": TRE_R354_URL, "code": "26" }] },
            "value": synchro_id,
        }));
    }
    if !identifiers.is_empty() {
        resource["identifier"] = identifiers.into();
    }
    if let Some(name) = &location.name {
        resource["name"] = name.as_str().into();
    }
    if let Some(function) = &location.function {
        resource["type"] = json!([concept(CodeSystem::FonctionLieu, function)]);
    }
    let mut plain_address = location.address.clone();
    plain_address.commune = None;
    if plain_address != Address::default() {
        resource["address"] = address(&plain_address, None);
    }
    if let Some(position) = location.position {
        let mut value = json!({ "latitude": position.lat, "longitude": position.lon });
        if let Some(reliable) = location.position_reliable {
            value["extension"] =
                json!([{ "url": ror_extension_url("ror-coordinate-reliability"), "valueBoolean": reliable }]);
        }
        resource["position"] = value;
    }
    without_empty(resource)
}

/// Writes a dataset as NDJSON, one resource a line: EJs, EGs, locations, then offers.
pub fn write_ndjson(dataset: &Dataset, out: &mut dyn Write) -> std::io::Result<u64> {
    let mut lines = 0;
    for resource_type in ResourceType::ALL {
        lines += write_ndjson_of(dataset, resource_type, out)?;
    }
    Ok(lines)
}

/// The resource types a feed carries, in the order [`write_ndjson`] writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceType {
    /// EJs, then EGs.
    Organization,
    Location,
    HealthcareService,
}

impl ResourceType {
    pub(crate) const ALL: [ResourceType; 3] =
        [ResourceType::Organization, ResourceType::Location, ResourceType::HealthcareService];

    /// The FHIR name, as in a `$export` file name (`Organization.ndjson`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            ResourceType::Organization => "Organization",
            ResourceType::Location => "Location",
            ResourceType::HealthcareService => "HealthcareService",
        }
    }
}

/// Writes the resources of one type as NDJSON, one resource a line; returns the lines written.
pub(crate) fn write_ndjson_of(
    dataset: &Dataset,
    resource_type: ResourceType,
    out: &mut dyn Write,
) -> std::io::Result<u64> {
    let mut lines = 0;
    let mut write_line = |value: Value, out: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &value)?;
        out.write_all(b"\n")?;
        lines += 1;
        Ok(())
    };
    match resource_type {
        ResourceType::Organization => {
            for ej in &dataset.ejs {
                write_line(ej_to_fhir(ej), out)?;
            }
            for eg in &dataset.egs {
                let ej_id = eg.ej.map(|ej| dataset.ejs[ej as usize].id.as_str());
                write_line(eg_to_fhir(eg, ej_id), out)?;
            }
        }
        ResourceType::Location => {
            for location in &dataset.locations {
                write_line(location_to_fhir(location), out)?;
            }
        }
        ResourceType::HealthcareService => {
            for offer in &dataset.offers {
                let provider = match (offer.eg, offer.ej) {
                    (Some(eg), _) => dataset.egs[eg as usize].id.as_str(),
                    (None, Some(ej)) => dataset.ejs[ej as usize].id.as_str(),
                    (None, None) => "",
                };
                let location_ids: Vec<&str> =
                    offer.locations.iter().map(|&location| dataset.locations[location as usize].id.as_str()).collect();
                write_line(offer_to_fhir(offer, provider, &location_ids), out)?;
            }
        }
    }
    Ok(lines)
}
