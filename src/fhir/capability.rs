//! The CapabilityStatement (`GET /fhir/metadata`), modelled on the IG's `ror-serveur`, made
//! from the one table of parameters ([`super::params::PARAMS`]); and the README's table of it.

use serde_json::{Value, json};

use super::params::PARAMS;
use super::{DEFAULT_COUNT, MAX_COUNT};
use crate::ingest::fhir::write::ResourceType;

/// The includes and revincludes each resource type declares.
fn includes(resource_type: ResourceType) -> (&'static [&'static str], &'static [&'static str]) {
    match resource_type {
        ResourceType::HealthcareService => (
            &[
                "HealthcareService:organization",
                "HealthcareService:location",
                "Organization:partof",
                "PractitionerRole:practitioner",
            ],
            &["PractitionerRole:service", "Task:focus"],
        ),
        ResourceType::Location => (&[], &["HealthcareService:location"]),
        ResourceType::Organization => {
            (&["Organization:partof"], &["HealthcareService:organization", "Organization:partof"])
        }
    }
}

fn profile(resource_type: ResourceType) -> &'static str {
    match resource_type {
        ResourceType::HealthcareService => {
            "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-healthcareservice"
        }
        ResourceType::Location => "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location",
        ResourceType::Organization => "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-organization",
    }
}

const SEMANTICS: &str = "ror-search FHIR R4 facade over the ROR (IG ans.fhir.fr.ror). Differences from the national ROR server: \
every result is exact at record level: the capacity parameters of Location (capacity-type, capacity-status, temporality-capacity, \
nb-capacity, gender-capacity-available, ..., chained as location.* from HealthcareService) are evaluated on the SAME capacity record, \
and all the location.* parameters of a search on the same Location (the ROR does not guarantee either); the price parameters of \
Organization on the same tariff (the ROR documents them but does not implement them). No 10,000-result cap: page with the `next` \
links (an opaque cursor bound to the snapshot; 410 once that snapshot is no longer held). _count defaults to 200 (RG_RECH_52), at most 1000 a page; \
_count=0 and _summary=count give the total only. Capacities are live (the bed-management PATCH under /fhir). What each resource shows \
depends on the caller's access profile (0-5): unités sensibles, capacity kinds, ORSAN level. Unknown parameters are ignored (and said \
in an OperationOutcome entry) unless `Prefer: handling=strict`; unsupported modifiers are a 400. Ror-* headers are accepted and ignored. \
Not held: PractitionerRole, Practitioner, Task (their includes return nothing).";

/// The CapabilityStatement of a facade at `base`.
pub(crate) fn capability_statement(base: &str, snapshot_built_at: &str) -> Value {
    let resources: Vec<Value> = ResourceType::ALL
        .into_iter()
        .rev() // HealthcareService, Location, Organization
        .map(|resource_type| {
            let mut interactions = vec![json!({"code": "read"}), json!({"code": "search-type"})];
            if resource_type == ResourceType::Location {
                interactions.push(json!({
                    "code": "patch",
                    "documentation": "the bed-management capacity PATCH (FHIRPath Patch Parameters), by id or by `identifier=<IdNatStruct EG>/<idExterneSynchro>`",
                }));
            }
            let params: Vec<Value> = PARAMS
                .iter()
                .filter(|def| def.resource == resource_type)
                .map(|def| {
                    json!({
                        "name": def.name,
                        "definition": def.definition(),
                        "type": def.declared_type(),
                        "documentation": def.doc,
                    })
                })
                .collect();
            let (include, revinclude) = includes(resource_type);
            let mut resource = json!({
                "type": resource_type.name(),
                "profile": profile(resource_type),
                "interaction": interactions,
                "searchParam": params,
            });
            // FHIR JSON has no empty arrays
            if !include.is_empty() {
                resource["searchInclude"] = json!(include);
            }
            if !revinclude.is_empty() {
                resource["searchRevInclude"] = json!(revinclude);
            }
            if resource_type == ResourceType::HealthcareService {
                resource["documentation"] = json!(
                    "chained: location.<any Location parameter>, organization.<any Organization parameter>, organization:above.<...> (the EG or its EJ)"
                );
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "id": "ror-search",
        "url": format!("{base}/metadata"),
        "version": env!("CARGO_PKG_VERSION"),
        "name": "RorSearchFhirFacade",
        "title": "ror-search FHIR R4 facade",
        "status": "active",
        "experimental": false,
        "date": snapshot_built_at,
        "publisher": "ror-search",
        "description": SEMANTICS,
        "kind": "instance",
        "instantiates": ["https://interop.esante.gouv.fr/ig/fhir/ror/CapabilityStatement/ror-serveur"],
        "software": {"name": "ror-search", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "ror-search", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": format!("{SEMANTICS} Page size: {DEFAULT_COUNT} by default, {MAX_COUNT} at most."),
            "security": {
                "cors": true,
                "description": "API key (Authorization: Bearer or X-API-Key), JWT (RS256/ES256 from a JWKS), or mutual TLS; anonymous callers get profile 0",
            },
            "resource": resources,
            "operation": [{
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                "documentation": "system-level Bulk Data export (kick-off, $export-poll-status, NDJSON files by type; _type, _since, _typeFilter), from one snapshot and one instant of the live capacities",
            }],
        }],
    })
}

/// The README's table of the search parameters, from [`PARAMS`].
pub fn params_markdown() -> String {
    let mut out = String::from("| resource | parameter | type | matches |\n|---|---|---|---|\n");
    for def in PARAMS {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            def.resource.name(),
            def.name,
            def.declared_type(),
            def.doc.replace('|', "\\|")
        ));
    }
    out
}
