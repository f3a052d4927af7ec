//! The FHIR R4 facade: the ROR's search API (`../shared/docs/ror-model.md` §2) over the same
//! engine, live capacities and access profiles as `/v1`, exact at record level and without the
//! 10,000-result cap; and bulk export.
//!
//! | file | role |
//! |---|---|
//! | [`params`] | the supported search parameters ([`params::PARAMS`], one table read by the parser, the CapabilityStatement and the README) and the FHIR value syntaxes |
//! | `search` | a search compiled into criteria and evaluated over a snapshot: candidates, checks (capacity criteria on one record, price criteria on one tariff), total order |
//! | `render` | resources from the snapshot and live capacities, masked by profile; `_summary`, `_elements` |
//! | `capability` | the CapabilityStatement |
//! | [`export`] | `$export`: one snapshot written as NDJSON files by type |
//!
//! Knows FHIR search and Bundles; not HTTP (`http::fhir` serves it).

pub mod capability;
pub mod export;
pub(crate) mod params;
pub(crate) mod render;
pub(crate) mod search;

use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::access::Access;
use crate::ingest::fhir::write::ResourceType;
use crate::model::access::ProfileSet;
pub(crate) use params::{SearchError, SearchErrorKind};
use render::{Res, Subset};
pub(crate) use search::FacadeIndex;
use search::{Context, Criteria, OrgRef, SortField};

/// Results per page when `_count` is not given (the ROR's RG_RECH_52).
pub const DEFAULT_COUNT: usize = 200;
/// Most results in one page; a larger `_count` is lowered to this (FHIR: a server "may return
/// less"). Paging has no limit.
pub const MAX_COUNT: usize = 1000;

/// The resource types the facade serves, by name.
pub(crate) fn resource_type(name: &str) -> Option<ResourceType> {
    ResourceType::ALL.into_iter().find(|resource_type| resource_type.name() == name)
}

/// How unknown parameters are handled (`Prefer: handling=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Handling {
    #[default]
    Lenient,
    Strict,
}

/// An include: `_include=Source:param[:Target]` or `_revinclude=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Include {
    /// As written (`_include`, `_include:iterate`...), for the self link.
    name: String,
    value: String,
    rule: IncludeRule,
    iterate: bool,
}

/// The includes the facade resolves (and those it accepts but holds nothing for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IncludeRule {
    /// `HealthcareService:organization`: the Organization providing each offer.
    OfferOrganization,
    /// `HealthcareService:location`: the Locations of each offer.
    OfferLocation,
    /// `Organization:partof`: the parent of each Organization.
    PartOf,
    /// `_revinclude=HealthcareService:location`: the offers at each Location.
    RevOfferLocation,
    /// `_revinclude=HealthcareService:organization`: the offers of each Organization.
    RevOfferOrganization,
    /// `_revinclude=Organization:partof`: the children of each Organization.
    RevPartOf,
    /// PractitionerRole, Practitioner, Task: not held by ror-search, so never any resource.
    NotHeld,
}

fn include_rule(reverse: bool, value: &str) -> Option<IncludeRule> {
    let mut parts = value.split(':');
    let source = parts.next()?;
    let param = parts.next()?;
    let target = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let rule = match (reverse, source, param) {
        (false, "HealthcareService", "organization") => IncludeRule::OfferOrganization,
        (false, "HealthcareService", "location") => IncludeRule::OfferLocation,
        (false, "Organization", "partof") => IncludeRule::PartOf,
        (true, "HealthcareService", "location") => IncludeRule::RevOfferLocation,
        (true, "HealthcareService", "organization") => IncludeRule::RevOfferOrganization,
        (true, "Organization", "partof") => IncludeRule::RevPartOf,
        (false, "PractitionerRole", "practitioner" | "service" | "location" | "organization")
        | (true, "PractitionerRole", "service" | "location" | "organization" | "practitioner")
        | (true, "Task", "focus") => IncludeRule::NotHeld,
        _ => return None,
    };
    let expected_target = match rule {
        IncludeRule::OfferOrganization | IncludeRule::PartOf | IncludeRule::RevPartOf => "Organization",
        IncludeRule::OfferLocation => "Location",
        IncludeRule::RevOfferLocation | IncludeRule::RevOfferOrganization | IncludeRule::NotHeld => {
            target.unwrap_or_default()
        }
    };
    if target.is_some_and(|target| target != expected_target) {
        return None;
    }
    Some(rule)
}

/// A search request as the facade reads it.
#[derive(Debug, Clone)]
pub(crate) struct SearchRequest {
    pub(crate) resource: ResourceType,
    criteria: Criteria,
    /// The criteria as written, for the self link: `(name, value)`.
    used: Vec<(String, String)>,
    sort: Vec<(SortField, bool)>,
    sort_text: Option<String>,
    pub(crate) count: usize,
    /// `_count` was given.
    count_given: bool,
    pub(crate) offset: usize,
    /// The snapshot the cursor was made on.
    pub(crate) cursor_snapshot: Option<String>,
    summary_count: bool,
    subset: Subset,
    subset_text: Vec<(String, String)>,
    includes: Vec<Include>,
    total_text: Option<String>,
    /// Parameters ignored (unknown, in lenient handling), for the outcome entry.
    ignored: Vec<String>,
    /// Warnings for the outcome entry (an unknown commune...).
    warnings: Vec<String>,
}

/// The opaque paging cursor: the snapshot and the offset, in hex.
fn cursor(snapshot_id: &str, offset: usize) -> String {
    hex::encode(format!("1\n{snapshot_id}\n{offset}"))
}

fn parse_cursor(value: &str) -> Result<(String, usize), SearchError> {
    let bad = || SearchError::value("_cursor", "not a cursor of this server (take the `next` link as it is)");
    let bytes = hex::decode(value).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split('\n');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("1"), Some(snapshot), Some(offset), None) => {
            Ok((snapshot.to_owned(), offset.parse().map_err(|_| bad())?))
        }
        _ => Err(bad()),
    }
}

impl SearchRequest {
    /// Reads the decoded query pairs of a search on `resource`.
    pub(crate) fn parse(
        engine: &Engine,
        resource: ResourceType,
        pairs: &[(String, String)],
        handling: Handling,
        profiles: ProfileSet,
    ) -> Result<SearchRequest, SearchError> {
        let access = Access::new(profiles);
        let mut request = SearchRequest {
            resource,
            criteria: Criteria::default(),
            used: Vec::new(),
            sort: Vec::new(),
            sort_text: None,
            count: DEFAULT_COUNT,
            count_given: false,
            offset: 0,
            cursor_snapshot: None,
            summary_count: false,
            subset: Subset::Full,
            subset_text: Vec::new(),
            includes: Vec::new(),
            total_text: None,
            ignored: Vec::new(),
            warnings: Vec::new(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "_count" => {
                    let count: usize = value.parse().map_err(|_| {
                        SearchError::value("_count", format!("{value:?} is not a non-negative integer"))
                    })?;
                    request.count = count.min(MAX_COUNT);
                    request.count_given = true;
                }
                "_cursor" => {
                    let (snapshot, offset) = parse_cursor(value)?;
                    request.cursor_snapshot = Some(snapshot);
                    request.offset = offset;
                }
                "_sort" => {
                    for key in value.split(',') {
                        let (descending, key) = match key.strip_prefix('-') {
                            Some(rest) => (true, rest),
                            None => (false, key),
                        };
                        let field = match key {
                            "_id" => SortField::Id,
                            "_lastUpdated" => SortField::LastUpdated,
                            "name" => SortField::Name,
                            other => {
                                return Err(SearchError::not_supported(
                                    "_sort",
                                    format!(
                                        "cannot sort by {other:?} (expected _id, _lastUpdated or name, `-` for descending)"
                                    ),
                                ));
                            }
                        };
                        request.sort.push((field, descending));
                    }
                    request.sort_text = Some(value.clone());
                }
                "_total" => match value.as_str() {
                    "none" | "estimate" | "accurate" => request.total_text = Some(value.clone()),
                    other => {
                        return Err(SearchError::value(
                            "_total",
                            format!("{other:?}: expected none, estimate or accurate"),
                        ));
                    }
                },
                "_summary" => {
                    match value.as_str() {
                        "count" => request.summary_count = true,
                        "true" => request.subset = Subset::Summary,
                        "text" => request.subset = Subset::Text,
                        "data" | "false" => request.subset = Subset::Full,
                        other => {
                            return Err(SearchError::value(
                                "_summary",
                                format!("{other:?}: expected true, false, text, data or count"),
                            ));
                        }
                    }
                    request.subset_text.push((name.clone(), value.clone()));
                }
                "_elements" => {
                    let elements: Vec<String> =
                        value.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).collect();
                    request.subset = Subset::Elements(elements);
                    request.subset_text.push((name.clone(), value.clone()));
                }
                "_format" => match value.as_str() {
                    "json" | "application/json" | "application/fhir+json" | "application/json+fhir" => {}
                    other => {
                        return Err(SearchError::not_supported(
                            "_format",
                            format!("{other:?}: this server speaks JSON only"),
                        ));
                    }
                },
                "_pretty" => {}
                "_include" | "_include:iterate" | "_revinclude" | "_revinclude:iterate" => {
                    match include_rule(name.starts_with("_revinclude"), value) {
                        Some(rule) => request.includes.push(Include {
                            name: name.clone(),
                            value: value.clone(),
                            rule,
                            iterate: name.ends_with(":iterate"),
                        }),
                        None => request.unknown(name, handling, &format!("unsupported {name} value {value:?}"))?,
                    }
                }
                _ => request.add_criterion(engine, name, value, handling, access)?,
            }
        }
        Ok(request)
    }

    /// The criteria, by where they apply.
    pub(crate) fn criteria(&self) -> &Criteria {
        &self.criteria
    }

    fn add_criterion(
        &mut self,
        engine: &Engine,
        name: &str,
        value: &str,
        handling: Handling,
        access: Access,
    ) -> Result<(), SearchError> {
        // `chain.param` on HealthcareService: location.*, organization.*, organization:above.*
        let (scope, inner_resource, inner_name) = match name.split_once('.') {
            Some((head, tail)) => {
                if self.resource != ResourceType::HealthcareService {
                    return self.unknown(name, handling, "chained parameters are supported on HealthcareService");
                }
                match head {
                    "location" | "location:Location" => (Scope::Location, ResourceType::Location, tail),
                    "organization" | "organization:Organization" => {
                        (Scope::Organization, ResourceType::Organization, tail)
                    }
                    "organization:above" => (Scope::OrganizationAbove, ResourceType::Organization, tail),
                    other => return self.unknown(name, handling, &format!("no chain through {other:?}")),
                }
            }
            None => (Scope::Own, self.resource, name),
        };
        let (bare, modifier) = match inner_name.split_once(':') {
            Some((bare, modifier)) => (bare, Some(modifier)),
            None => (inner_name, None),
        };
        if bare.contains('.') {
            return self.unknown(name, handling, "one level of chaining is supported");
        }
        if params::param(inner_resource, bare).is_none() {
            return self.unknown(
                name,
                handling,
                &format!("{} has no search parameter {bare:?}", inner_resource.name()),
            );
        }
        let criterion = search::compile(engine, inner_resource, name, bare, modifier, value, access)?;
        if matches!(criterion.test, search::Test::Nothing) {
            self.warnings.push(format!("{name}={value}: unknown INSEE commune code, no location can match"));
        }
        match scope {
            Scope::Own => self.criteria.own.push(criterion),
            Scope::Location => self.criteria.location.push(criterion),
            Scope::Organization => self.criteria.organization.push(criterion),
            Scope::OrganizationAbove => self.criteria.organization_above.push(criterion),
        }
        self.used.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    fn unknown(&mut self, name: &str, handling: Handling, why: &str) -> Result<(), SearchError> {
        match handling {
            Handling::Strict => Err(SearchError::not_supported(name, why.to_owned())),
            Handling::Lenient => {
                self.ignored.push(format!("{name}: {why}"));
                Ok(())
            }
        }
    }

    /// The query string of the parameters used, with `_count` and the cursor of `offset`.
    fn link_query(&self, snapshot_id: &str, offset: Option<usize>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.used {
            query.append_pair(name, value);
        }
        if let Some(sort) = &self.sort_text {
            query.append_pair("_sort", sort);
        }
        for include in &self.includes {
            query.append_pair(&include.name, &include.value);
        }
        for (name, value) in &self.subset_text {
            query.append_pair(name, value);
        }
        if let Some(total) = &self.total_text {
            query.append_pair("_total", total);
        }
        if self.count_given || offset.is_some() {
            query.append_pair("_count", &self.count.to_string());
        }
        if let Some(offset) = offset.filter(|&offset| offset > 0) {
            query.append_pair("_cursor", &cursor(snapshot_id, offset));
        }
        query.finish()
    }
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    Own,
    Location,
    Organization,
    OrganizationAbove,
}

/// What a search or a read runs on: one snapshot, its live view, the facade's index.
pub(crate) struct Facade<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) index: &'a FacadeIndex,
    /// The FHIR base URL (`https://host/fhir`), for `fullUrl` and links.
    pub(crate) base: &'a str,
}

impl Facade<'_> {
    /// Answers a search with a `searchset` Bundle.
    pub(crate) fn search(&self, request: &SearchRequest, profiles: ProfileSet) -> Value {
        let live = self.engine.live_view();
        let ctx = Context::new(self.engine, &live, self.index, Access::new(profiles));
        let snapshot_id = self.engine.manifest().snapshot_id.as_str();
        // the search's identity: its type, what it used, who asks, the live capacities' version
        let key = format!(
            "{}?{}#{profiles:?}#{}",
            request.resource.name(),
            request.link_query(snapshot_id, None),
            live.writes_applied()
        );
        let hits = match self.index.cached_hits(&key) {
            Some(hits) => hits,
            None => {
                let mut hits = search::evaluate(&ctx, request.resource, &request.criteria);
                search::sort_hits(&ctx, request.resource, &mut hits, &request.sort);
                let hits = std::sync::Arc::new(hits);
                if !request.summary_count && request.count > 0 && hits.len() > request.offset + request.count {
                    self.index.cache_hits(key, hits.clone());
                }
                hits
            }
        };
        let total = hits.len();
        let type_base = format!("{}/{}", self.base, request.resource.name());
        let mut links = vec![
            json!({"relation": "self", "url": format!("{type_base}?{}", request.link_query(snapshot_id, Some(request.offset).filter(|&o| o > 0)))}),
        ];
        let mut entries = Vec::new();
        if !request.summary_count && request.count > 0 {
            let start = request.offset.min(total);
            let end = (start + request.count).min(total);
            let page = &hits[start..end];
            links.push(json!({"relation": "first", "url": format!("{type_base}?{}", request.link_query(snapshot_id, Some(0)))}));
            if start > 0 {
                let previous = start.saturating_sub(request.count);
                links.push(json!({"relation": "previous", "url": format!("{type_base}?{}", request.link_query(snapshot_id, Some(previous)))}));
            }
            if end < total {
                links.push(json!({"relation": "next", "url": format!("{type_base}?{}", request.link_query(snapshot_id, Some(end)))}));
            }
            let mut seen: rustc_hash::FxHashSet<Res> = rustc_hash::FxHashSet::default();
            let matched: Vec<Res> = page.iter().map(|hit| Res::of_hit(&ctx, request.resource, hit.index)).collect();
            for (hit, &res) in page.iter().zip(&matched) {
                seen.insert(res);
                let mut entry = self.entry(&ctx, res, &request.subset, "match");
                if let Some(distance_m) = hit.distance_m {
                    entry["search"]["extension"] = json!([{
                        "url": "http://hl7.org/fhir/StructureDefinition/location-distance",
                        "valueDistance": {
                            "value": (distance_m / 1000.0 * 1e6).round() / 1e6,
                            "unit": "km",
                            "system": "http://unitsofmeasure.org",
                            "code": "km",
                        },
                    }]);
                }
                entries.push(entry);
            }
            for res in includes(&ctx, &request.includes, &matched) {
                if seen.insert(res) {
                    entries.push(self.entry(&ctx, res, &request.subset, "include"));
                }
            }
        }
        let mut issues: Vec<Value> = request
            .ignored
            .iter()
            .map(|text| json!({"severity": "warning", "code": "not-supported", "diagnostics": format!("ignored {text}")}))
            .collect();
        issues.extend(
            request
                .warnings
                .iter()
                .map(|text| json!({"severity": "warning", "code": "not-found", "diagnostics": text})),
        );
        if !issues.is_empty() {
            entries.push(json!({
                "resource": {"resourceType": "OperationOutcome", "issue": issues},
                "search": {"mode": "outcome"},
            }));
        }
        let mut bundle = json!({
            "resourceType": "Bundle",
            "id": crate::util::unique_hex(16),
            "meta": {"lastUpdated": crate::util::time::format_rfc3339(crate::util::time::now())},
            "type": "searchset",
            "total": total,
            "link": links,
        });
        if !entries.is_empty() {
            bundle["entry"] = Value::Array(entries);
        }
        bundle
    }

    fn entry(&self, ctx: &Context<'_>, res: Res, subset: &Subset, mode: &str) -> Value {
        let resource_type = res.resource_type();
        json!({
            "fullUrl": format!("{}/{}/{}", self.base, resource_type.name(), res.id(ctx)),
            "resource": render::apply_subset(render::resource(ctx, res), resource_type, subset),
            "search": {"mode": mode},
        })
    }

    /// Reads one resource by logical id, as the caller may see it (`None`: none, or hidden).
    pub(crate) fn read(&self, resource: ResourceType, id: &str, profiles: ProfileSet) -> Option<Value> {
        let live = self.engine.live_view();
        let ctx = Context::new(self.engine, &live, self.index, Access::new(profiles));
        let res = find(&ctx, resource, id)?;
        render::sees(&ctx, res).then(|| render::resource(&ctx, res))
    }
}

/// A resource by type and logical id.
pub(crate) fn find(ctx: &Context<'_>, resource: ResourceType, id: &str) -> Option<Res> {
    match resource {
        ResourceType::HealthcareService => search::offer_by_id(ctx.dataset, id).map(Res::Offer),
        ResourceType::Location => ctx.index.location_by_id(ctx.dataset, id).map(Res::Location),
        ResourceType::Organization => ctx.index.org_by_id(ctx.dataset, id).map(Res::Org),
    }
}

/// The included resources of a page's matches, in order of first appearance; `:iterate`
/// applies its rule to what was included too (until nothing new, at most 4 levels).
fn includes(ctx: &Context<'_>, includes: &[Include], matched: &[Res]) -> Vec<Res> {
    if includes.is_empty() {
        return Vec::new();
    }
    let mut out: Vec<Res> = Vec::new();
    let mut seen: rustc_hash::FxHashSet<Res> = matched.iter().copied().collect();
    let mut frontier: Vec<Res> = matched.to_vec();
    for level in 0..4 {
        let mut next = Vec::new();
        for include in includes {
            if level > 0 && !include.iterate {
                continue;
            }
            for &res in &frontier {
                for found in include_targets(ctx, include.rule, res) {
                    if render::sees(ctx, found) && seen.insert(found) {
                        next.push(found);
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        out.extend(&next);
        frontier = next;
    }
    out
}

fn include_targets(ctx: &Context<'_>, rule: IncludeRule, res: Res) -> Vec<Res> {
    let dataset = ctx.dataset;
    match (rule, res) {
        (IncludeRule::OfferOrganization, Res::Offer(offer)) => {
            ctx.provider(&dataset.offers[offer as usize]).map(Res::Org).into_iter().collect()
        }
        (IncludeRule::OfferLocation, Res::Offer(offer)) => {
            dataset.offers[offer as usize].locations.iter().map(|&location| Res::Location(location)).collect()
        }
        (IncludeRule::PartOf, Res::Org(org)) => ctx.parent(org).map(Res::Org).into_iter().collect(),
        (IncludeRule::RevOfferLocation, Res::Location(location)) => {
            ctx.engine.offers_of_location(location).iter().map(|&offer| Res::Offer(offer)).collect()
        }
        (IncludeRule::RevOfferOrganization, Res::Org(OrgRef::Eg(eg))) => {
            ctx.engine.offers_of_eg(eg).iter().map(|&offer| Res::Offer(offer)).collect()
        }
        (IncludeRule::RevOfferOrganization, Res::Org(OrgRef::Ej(ej))) => dataset
            .offers
            .iter()
            .enumerate()
            .filter(|(_, offer)| offer.eg.is_none() && offer.ej == Some(ej))
            .map(|(index, _)| Res::Offer(index as u32))
            .collect(),
        (IncludeRule::RevPartOf, Res::Org(OrgRef::Ej(ej))) => {
            ctx.index.egs_of_ej(ej).iter().map(|&eg| Res::Org(OrgRef::Eg(eg))).collect()
        }
        _ => Vec::new(),
    }
}

/// An `OperationOutcome` of one error issue.
pub(crate) fn outcome(code: &str, diagnostics: &str, expression: Option<&str>) -> Value {
    let mut issue = json!({"severity": "error", "code": code, "diagnostics": diagnostics});
    if let Some(expression) = expression {
        issue["expression"] = json!([expression]);
    }
    json!({"resourceType": "OperationOutcome", "issue": [issue]})
}

/// The HTTP status and `OperationOutcome` of a search error.
pub(crate) fn error_outcome(error: &SearchError) -> (u16, Value) {
    let (status, code) = match error.kind {
        SearchErrorKind::Value => (400, "invalid"),
        SearchErrorKind::NotSupported => (400, "not-supported"),
        SearchErrorKind::Forbidden => (403, "forbidden"),
        SearchErrorKind::Gone => (410, "not-found"),
    };
    (status, outcome(code, &error.message, Some(&format!("http.{}", error.parameter))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let value = cursor("20261201T000000Z-abc", 400);
        assert_eq!(parse_cursor(&value).unwrap(), ("20261201T000000Z-abc".to_owned(), 400));
        assert!(parse_cursor("zz").is_err());
        assert!(parse_cursor(&hex::encode("2\nx\n1")).is_err());
    }

    #[test]
    fn include_values() {
        assert_eq!(include_rule(false, "HealthcareService:organization"), Some(IncludeRule::OfferOrganization));
        assert_eq!(include_rule(false, "HealthcareService:location:Location"), Some(IncludeRule::OfferLocation));
        assert_eq!(include_rule(false, "HealthcareService:location:Organization"), None);
        assert_eq!(include_rule(true, "HealthcareService:location"), Some(IncludeRule::RevOfferLocation));
        assert_eq!(include_rule(true, "PractitionerRole:service"), Some(IncludeRule::NotHeld));
        assert_eq!(include_rule(false, "Patient:link"), None);
    }
}
