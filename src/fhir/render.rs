//! Resources as the facade answers them: the ROR profiles written from the snapshot
//! (`ingest::fhir::write`, the same writer as the feeds), with the live capacity records and
//! masked by the caller's access profile: unités sensibles absent, capacity records of the
//! kinds it does not see left out, the ORSAN level only for profile 1.

use serde_json::{Map, Value, json};

use super::search::{Context, OrgRef, org_id};
use crate::ingest::fhir::write::{ResourceType, eg_to_fhir, ej_to_fhir, location_to_fhir_with, offer_to_fhir};

/// A resource of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Res {
    Offer(u32),
    Location(u32),
    Org(OrgRef),
}

impl Res {
    pub(crate) fn resource_type(self) -> ResourceType {
        match self {
            Res::Offer(_) => ResourceType::HealthcareService,
            Res::Location(_) => ResourceType::Location,
            Res::Org(_) => ResourceType::Organization,
        }
    }

    /// The resource a search hit of `resource_type` numbers `index` (an offer, a location, a
    /// rank in `FacadeIndex::orgs_by_id`).
    pub(crate) fn of_hit(ctx: &Context<'_>, resource_type: ResourceType, index: u32) -> Res {
        match resource_type {
            ResourceType::HealthcareService => Res::Offer(index),
            ResourceType::Location => Res::Location(index),
            ResourceType::Organization => Res::Org(ctx.index.orgs_by_id[index as usize]),
        }
    }

    pub(crate) fn id<'a>(self, ctx: &Context<'a>) -> &'a str {
        match self {
            Res::Offer(offer) => &ctx.dataset.offers[offer as usize].id,
            Res::Location(location) => &ctx.dataset.locations[location as usize].id,
            Res::Org(org) => org_id(ctx.dataset, org),
        }
    }

    /// `meta.lastUpdated` as answered (a Location's follows its live writes).
    pub(crate) fn last_updated(self, ctx: &Context<'_>) -> Option<i64> {
        match self {
            Res::Offer(offer) => ctx.dataset.offers[offer as usize].last_updated,
            Res::Location(location) => ctx.location_last_updated(location),
            Res::Org(OrgRef::Ej(ej)) => ctx.dataset.ejs[ej as usize].last_updated,
            Res::Org(OrgRef::Eg(eg)) => ctx.dataset.egs[eg as usize].last_updated,
        }
    }

    /// The name `_sort=name` reads.
    pub(crate) fn name<'a>(self, ctx: &Context<'a>) -> Option<&'a str> {
        match self {
            Res::Offer(offer) => Some(&ctx.dataset.offers[offer as usize].name),
            Res::Location(location) => ctx.dataset.locations[location as usize].name.as_deref(),
            Res::Org(OrgRef::Ej(ej)) => ctx.dataset.ejs[ej as usize].name.as_deref(),
            Res::Org(OrgRef::Eg(eg)) => Some(&ctx.dataset.egs[eg as usize].name),
        }
    }
}

/// `ror-organization-level-recours-orsan`, the extension only profile 1 sees.
const ORSAN_LEVEL_URL: &str =
    "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-organization-level-recours-orsan";

/// A resource as the caller may see it (the caller must see it: see [`Context`]).
pub(crate) fn resource(ctx: &Context<'_>, res: Res) -> Value {
    let dataset = ctx.dataset;
    match res {
        Res::Offer(index) => {
            let offer = &dataset.offers[index as usize];
            let provider = ctx.provider(offer).map_or("", |org| org_id(dataset, org));
            let locations: Vec<&str> = offer
                .locations
                .iter()
                .filter(|&&location| ctx.sees_location(location))
                .map(|&location| dataset.locations[location as usize].id.as_str())
                .collect();
            offer_to_fhir(offer, provider, &locations)
        }
        Res::Location(index) => location_to_fhir_with(
            &dataset.locations[index as usize],
            ctx.visible_records(index),
            ctx.location_last_updated(index),
        ),
        Res::Org(OrgRef::Ej(index)) => ej_to_fhir(&dataset.ejs[index as usize]),
        Res::Org(OrgRef::Eg(index)) => {
            let eg = &dataset.egs[index as usize];
            let mut value = eg_to_fhir(eg, eg.ej.map(|ej| dataset.ejs[ej as usize].id.as_str()));
            if !ctx.access.sees_orsan_level()
                && let Some(extensions) = value.get_mut("extension").and_then(Value::as_array_mut)
            {
                extensions.retain(|extension| extension["url"] != ORSAN_LEVEL_URL);
            }
            value
        }
    }
}

/// Whether the caller sees a resource.
pub(crate) fn sees(ctx: &Context<'_>, res: Res) -> bool {
    match res {
        Res::Offer(offer) => ctx.sees_offer(offer),
        Res::Location(location) => ctx.sees_location(location),
        Res::Org(_) => true,
    }
}

/// What of each resource is answered (`_summary`, `_elements`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Subset {
    /// Everything.
    #[default]
    Full,
    /// The summary elements of each type (`_summary=true`).
    Summary,
    /// `id` and `meta` (`_summary=text`: the resources carry no narrative).
    Text,
    /// These elements (`_elements`), with `id` and `meta`.
    Elements(Vec<String>),
}

/// The elements FHIR R4 marks "summary" on the three resource types.
fn summary_elements(resource_type: ResourceType) -> &'static [&'static str] {
    match resource_type {
        ResourceType::HealthcareService => {
            &["identifier", "active", "providedBy", "category", "type", "specialty", "location", "name"]
        }
        ResourceType::Location => &[
            "identifier",
            "status",
            "operationalStatus",
            "name",
            "alias",
            "mode",
            "type",
            "telecom",
            "address",
            "physicalType",
            "position",
            "managingOrganization",
            "partOf",
        ],
        ResourceType::Organization => &["identifier", "active", "type", "name", "alias", "partOf"],
    }
}

/// Keeps the elements a subset asks for, and tags the resource `SUBSETTED`.
pub(crate) fn apply_subset(value: Value, resource_type: ResourceType, subset: &Subset) -> Value {
    let keep: Vec<&str> = match subset {
        Subset::Full => return value,
        Subset::Summary => summary_elements(resource_type).to_vec(),
        Subset::Text => Vec::new(),
        Subset::Elements(elements) => elements.iter().map(String::as_str).collect(),
    };
    let Value::Object(object) = value else { return value };
    let mut out = Map::new();
    for (key, element) in object {
        if matches!(key.as_str(), "resourceType" | "id" | "meta") || keep.contains(&key.as_str()) {
            out.insert(key, element);
        }
    }
    let meta = out.entry("meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        let tags = meta.entry("tag").or_insert_with(|| json!([]));
        if let Some(tags) = tags.as_array_mut() {
            tags.push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
            }));
        }
    }
    Value::Object(out)
}
