//! A delta pull: the resources changed upstream since the high-water mark, turned into the
//! next dataset.
//!
//! `_lastUpdated=ge<mark>` on Organization, Location and HealthcareService says what changed,
//! not what disappeared. The ROR bumps a parent's `meta.lastUpdated` when a child changes or
//! is deleted (RG_EXP_024/025), so the unit of change is the EG: every EG touched by the delta
//! (itself changed, one of its offers or internal organisations changed, or its EJ changed) is
//! fetched again whole (the EG, its internal organisations, its offers and the Locations they
//! use), read through the same ingest as a build, and replaces the EG's part of the dataset; an
//! offer the EG no longer has is gone, an EG the upstream no longer has is gone. A Location
//! whose only change is its capacities is a capacity change: it goes to the live path at once,
//! and into the next snapshot.
//!
//! The dataset is a function of its accepted resources (every vector sorted by FHIR id, see
//! `ingest::resolve`), so splicing the re-read parts into the held dataset gives the dataset a
//! fresh build of the upstream's full feed would give. What a delta cannot see (a resource
//! deleted without its parent being bumped, an EJ deleted, a resource rejected earlier that a
//! new one would now make valid) the periodic full pull reconciles and reports.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::client::Upstream;
use super::pull::{PullError, TYPES, walk};
use crate::ingest::IngestReport;
use crate::ingest::fhir::read::{Outcome, Parsed, ParsedOrganization, parse_resource};
use crate::ingest::fhir::write::{ej_to_fhir, location_to_fhir};
use crate::model::{CapacityRecord, Dataset, Location};
use crate::util::time::{UnixSeconds, format_rfc3339};

/// Ids per search of `_id=`, `organization=`, `partof=` (keeps URLs short).
const IDS_PER_SEARCH: usize = 40;

/// What a delta found and what it makes of the dataset.
#[derive(Debug)]
pub struct Delta {
    /// The server's time when the delta started (the next high-water mark).
    pub server_time: UnixSeconds,
    /// The `_lastUpdated` bound asked.
    pub since: UnixSeconds,
    /// Accounting of the delta.
    pub summary: DeltaSummary,
    /// Capacity-only changes: each Location's capacity records now.
    pub capacities: Vec<CapacityUpdate>,
    /// The next dataset, when something else changed.
    pub dataset: Option<Dataset>,
    /// Per offer of `dataset`: the held offer it is when it and every record its text and
    /// position come from (its EG, EJs, Locations) were carried over as they were (see
    /// `engine::text_layers::PreviousText::carried`).
    pub carried: Vec<Option<u32>>,
    /// The ingest accounting of what was read again (the touched EGs' resources).
    pub report: IngestReport,
    /// Seconds spent asking the upstream, and making the next dataset.
    pub seconds: (f64, f64),
}

/// The capacity records of a Location whose only change upstream is its capacities.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CapacityUpdate {
    /// The Location's FHIR id.
    pub location_id: String,
    /// Its capacity records now.
    pub records: Vec<CapacityRecord>,
    /// Its `meta.lastUpdated` now.
    pub last_updated: Option<UnixSeconds>,
}

impl CapacityUpdate {
    /// Sets a Location of the dataset to it.
    pub(crate) fn apply(&self, location: &mut Location) {
        location.capacities = self.records.clone();
        location.last_updated = self.last_updated;
    }
}

/// The figures of a delta (in the snapshot manifest, the state and the logs).
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DeltaSummary {
    /// Resources the `_lastUpdated` searches returned, by type.
    pub changed: BTreeMap<String, u64>,
    /// Resources fetched to re-read the touched EGs whole, by type.
    pub refetched: BTreeMap<String, u64>,
    /// EGs read again.
    pub egs_touched: u64,
    /// EGs the upstream no longer has (or now rejected).
    pub egs_removed: u64,
    /// Offers before and after in the touched EGs.
    pub offers_removed: u64,
    /// Offers added or replaced.
    pub offers_added: u64,
    /// Locations replaced or added outside of any touched EG.
    pub locations_replaced: u64,
    /// Locations whose only change is their capacities.
    pub capacity_only: u64,
    /// Changed resources that were already held exactly so (the overlap of two deltas).
    pub unchanged: u64,
}

/// Lookups of the held dataset by FHIR id.
struct Held<'a> {
    ej: HashMap<&'a str, usize>,
    eg: HashMap<&'a str, usize>,
    location: HashMap<&'a str, usize>,
    offer: HashMap<&'a str, usize>,
}

impl<'a> Held<'a> {
    fn new(dataset: &'a Dataset) -> Held<'a> {
        let index = |ids: Vec<&'a str>| ids.into_iter().enumerate().map(|(index, id)| (id, index)).collect();
        Held {
            ej: index(dataset.ejs.iter().map(|ej| ej.id.as_str()).collect()),
            eg: index(dataset.egs.iter().map(|eg| eg.id.as_str()).collect()),
            location: index(dataset.locations.iter().map(|location| location.id.as_str()).collect()),
            offer: index(dataset.offers.iter().map(|offer| offer.id.as_str()).collect()),
        }
    }
}

/// The id a literal reference points at (`Organization/1`, an absolute URL, `.../_history/2`).
fn reference_id(reference: &str) -> Option<&str> {
    crate::ingest::resolve::literal_reference(reference).map(|(_, id)| id)
}

fn id_of(resource: &Value) -> Option<&str> {
    resource["id"].as_str()
}

fn last_updated_of(resource: &Value) -> Option<UnixSeconds> {
    resource["meta"]["lastUpdated"].as_str().and_then(|text| crate::util::time::parse_fhir_datetime(text).ok())
}

/// A Location with what a capacity write may change cleared, to compare the rest.
fn without_capacities(location: &Location) -> Location {
    Location { capacities: Vec::new(), last_updated: None, ..location.clone() }
}

/// The changed resources of one type since `since`, newest copy of each id.
fn changed_since(
    upstream: &Upstream,
    resource_type: &str,
    since: UnixSeconds,
    page_size: u32,
) -> Result<(UnixSeconds, BTreeMap<String, Value>), PullError> {
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    let first = format!("{resource_type}?_lastUpdated=ge{}&_count={page_size}", format_rfc3339(since));
    let mut matches = 0u64;
    let (server_time, total) = walk(upstream, &first, &mut |resources| {
        for resource in resources {
            if resource["resourceType"] != resource_type {
                continue;
            }
            matches += 1;
            let Some(id) = id_of(&resource).map(str::to_owned) else { continue };
            let newer = found.get(&id).is_none_or(|held| last_updated_of(held) <= last_updated_of(&resource));
            if newer {
                found.insert(id, resource);
            }
        }
        Ok(())
    })?;
    // The ROR returns at most 10,000 results of a search: a delta that big (after an outage)
    // cannot be read by searches, and a full pull takes its place.
    if let Some(total) = total.filter(|&total| total > matches) {
        return Err(PullError::Truncated { url: upstream.url(&first), total, returned: matches });
    }
    Ok((server_time, found))
}

/// Every resource of `resource_type` matching `parameter` = any of `ids`, by batches; a batch
/// whose results the server cuts (its cap on results) is asked again in halves.
fn search_by(
    upstream: &Upstream,
    resource_type: &str,
    parameter: &str,
    ids: &BTreeSet<String>,
    page_size: u32,
) -> Result<BTreeMap<String, Value>, PullError> {
    let mut found = BTreeMap::new();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut batches: Vec<&[&str]> = ids.chunks(IDS_PER_SEARCH).rev().collect();
    while let Some(batch) = batches.pop() {
        let first = format!("{resource_type}?{parameter}={}&_count={page_size}", batch.join(","));
        let mut page_found = BTreeMap::new();
        let mut matches = 0u64;
        let (_, total) = walk(upstream, &first, &mut |resources| {
            for resource in resources {
                if resource["resourceType"] == resource_type
                    && let Some(id) = id_of(&resource).map(str::to_owned)
                {
                    matches += 1;
                    page_found.insert(id, resource);
                }
            }
            Ok(())
        })?;
        match total.filter(|&total| total > matches) {
            Some(_) if batch.len() > 1 => {
                let (left, right) = batch.split_at(batch.len() / 2);
                batches.push(right);
                batches.push(left);
            }
            Some(total) => {
                return Err(PullError::Truncated { url: upstream.url(&first), total, returned: matches });
            }
            None => found.extend(page_found),
        }
    }
    Ok(found)
}

/// What kind of Organization a resource is, and its `partOf` id, by the ingest's own parser.
enum OrgKind {
    Ej,
    Eg { part_of: Option<String> },
    Oi { part_of: Option<String> },
    Rejected,
}

fn org_kind(resource: &Value) -> OrgKind {
    match parse_resource("Organization", &resource.to_string()) {
        Outcome::Accepted { parsed, .. } => match *parsed {
            Parsed::Organization(ParsedOrganization::Ej(_)) => OrgKind::Ej,
            Parsed::Organization(ParsedOrganization::Eg { part_of, .. }) => {
                OrgKind::Eg { part_of: part_of.as_deref().and_then(reference_id).map(str::to_owned) }
            }
            Parsed::Organization(ParsedOrganization::Oi { part_of, .. }) => {
                OrgKind::Oi { part_of: part_of.as_deref().and_then(reference_id).map(str::to_owned) }
            }
            _ => OrgKind::Rejected,
        },
        _ => OrgKind::Rejected,
    }
}

fn parse_location(resource: &Value) -> Option<Location> {
    match parse_resource("Location", &resource.to_string()) {
        Outcome::Accepted { parsed, .. } => match *parsed {
            Parsed::Location(location) => Some(location),
            _ => None,
        },
        _ => None,
    }
}

/// Pulls the changes since `since` and makes the next dataset of `held`.
/// `pending` are capacity changes already taken by the live path but not yet in a snapshot
/// (they go into the next dataset).
pub fn pull(
    upstream: &Upstream,
    held_dataset: &Dataset,
    since: UnixSeconds,
    page_size: u32,
    pending: &BTreeMap<String, CapacityUpdate>,
) -> Result<Delta, PullError> {
    let started = std::time::Instant::now();
    let held = Held::new(held_dataset);
    let mut summary = DeltaSummary::default();
    let mut server_time = None;
    let mut changed: BTreeMap<&str, BTreeMap<String, Value>> = BTreeMap::new();
    for resource_type in TYPES {
        let (time, found) = changed_since(upstream, resource_type, since, page_size)?;
        server_time.get_or_insert(time);
        summary.changed.insert(resource_type.to_owned(), found.len() as u64);
        changed.insert(resource_type, found);
    }
    let server_time = server_time.unwrap_or(since);
    let empty = BTreeMap::new();
    let changed_orgs = changed.get("Organization").unwrap_or(&empty);
    let changed_offers = changed.get("HealthcareService").unwrap_or(&empty);
    let changed_locations = changed.get("Location").unwrap_or(&empty);

    // Which EGs to read again, which EJs changed.
    let mut touched_egs: BTreeSet<String> = BTreeSet::new();
    let mut changed_ejs: BTreeSet<String> = BTreeSet::new();
    let mut oi_parent: HashMap<String, Option<String>> = HashMap::new();
    // Each changed Organization read once by the ingest's parser.
    let kinds: HashMap<&str, OrgKind> =
        changed_orgs.iter().map(|(id, resource)| (id.as_str(), org_kind(resource))).collect();
    for (id, kind) in &kinds {
        let id = (*id).to_owned();
        match kind {
            OrgKind::Ej => {
                changed_ejs.insert(id.clone());
            }
            OrgKind::Eg { .. } => {
                touched_egs.insert(id.clone());
            }
            OrgKind::Oi { part_of } => {
                oi_parent.insert(id.clone(), part_of.clone());
            }
            OrgKind::Rejected => {
                // Read again wherever it was held, to be rejected (and dropped) as a build would.
                if held.eg.contains_key(id.as_str()) {
                    touched_egs.insert(id.clone());
                } else if held.ej.contains_key(id.as_str()) {
                    changed_ejs.insert(id.clone());
                }
            }
        }
    }
    // An EJ changes when one of its EGs is added or deleted (RG_EXP_024): the EGs the upstream
    // lists under it now, against those held, say which. An EJ now rejected rejects its EGs:
    // they are all read again.
    if !changed_ejs.is_empty() {
        let listed: BTreeSet<String> = search_by(upstream, "Organization", "partof", &changed_ejs, page_size)?
            .into_iter()
            .filter(|(_, resource)| matches!(org_kind(resource), OrgKind::Eg { .. }))
            .map(|(id, _)| id)
            .collect();
        for eg in &held_dataset.egs {
            let Some(ej) = eg.ej.map(|ej| &held_dataset.ejs[ej as usize].id) else { continue };
            let ej_rejected = matches!(kinds.get(ej.as_str()), Some(OrgKind::Rejected));
            if changed_ejs.contains(ej) && (ej_rejected || !listed.contains(&eg.id)) {
                touched_egs.insert(eg.id.clone());
            }
        }
        touched_egs.extend(listed.into_iter().filter(|id| !held.eg.contains_key(id.as_str())));
    }
    // An offer's change reaches its provider's EG (and the EG it left, if it moved).
    let mut unresolved_providers: BTreeSet<String> = BTreeSet::new();
    for (id, resource) in changed_offers {
        if let Some(&offer) = held.offer.get(id.as_str())
            && let Some(eg) = held_dataset.offers[offer].eg
        {
            touched_egs.insert(held_dataset.egs[eg as usize].id.clone());
        }
        let Some(provider) = resource["providedBy"]["reference"].as_str().and_then(reference_id) else { continue };
        if held.eg.contains_key(provider) || matches!(kinds.get(provider), Some(OrgKind::Eg { .. })) {
            touched_egs.insert(provider.to_owned());
        } else {
            unresolved_providers.insert(provider.to_owned());
        }
    }
    // Providers that are internal organisations: climb to their EG.
    let mut climbing: BTreeSet<String> = unresolved_providers.clone();
    for _ in 0..6 {
        let unknown: BTreeSet<String> = climbing.iter().filter(|id| !oi_parent.contains_key(*id)).cloned().collect();
        if !unknown.is_empty() {
            for (id, resource) in search_by(upstream, "Organization", "_id", &unknown, page_size)? {
                match org_kind(&resource) {
                    OrgKind::Oi { part_of } => {
                        oi_parent.insert(id, part_of);
                    }
                    OrgKind::Eg { .. } => {
                        touched_egs.insert(id.clone());
                        oi_parent.insert(id, None);
                    }
                    _ => {
                        oi_parent.insert(id, None);
                    }
                }
            }
        }
        let mut next = BTreeSet::new();
        for id in &climbing {
            match oi_parent.get(id).cloned().flatten() {
                Some(parent) if held.eg.contains_key(parent.as_str()) => {
                    touched_egs.insert(parent);
                }
                Some(parent) => {
                    next.insert(parent);
                }
                None => {}
            }
        }
        if next.is_empty() {
            break;
        }
        climbing = next;
    }
    for (id, part_of) in &oi_parent {
        if changed_orgs.contains_key(id)
            && let Some(parent) = part_of
            && held.eg.contains_key(parent.as_str())
        {
            touched_egs.insert(parent.clone());
        }
    }

    // Locations: a capacity-only change, a change of the rest, or one now rejected.
    let mut capacities = Vec::new();
    let mut replaced_locations: BTreeMap<String, Value> = BTreeMap::new();
    for (id, resource) in changed_locations {
        let parsed = parse_location(resource);
        let held_location = held.location.get(id.as_str()).map(|&index| &held_dataset.locations[index]);
        match (held_location, parsed) {
            (Some(before), Some(after)) if without_capacities(before) == without_capacities(&after) => {
                let update = CapacityUpdate {
                    location_id: id.clone(),
                    records: after.capacities,
                    last_updated: after.last_updated,
                };
                let current = pending
                    .get(id)
                    .map_or((&before.capacities, before.last_updated), |held| (&held.records, held.last_updated));
                if (current.0, current.1) == (&update.records, update.last_updated) {
                    summary.unchanged += 1;
                } else {
                    capacities.push(update);
                }
            }
            (Some(_), None) => {
                // Now rejected: the offers that use it are read again (and rejected).
                let index = held.location[id.as_str()] as u32;
                for offer in &held_dataset.offers {
                    if offer.locations.contains(&index)
                        && let Some(eg) = offer.eg
                    {
                        touched_egs.insert(held_dataset.egs[eg as usize].id.clone());
                    }
                }
                replaced_locations.insert(id.clone(), resource.clone());
            }
            _ => {
                replaced_locations.insert(id.clone(), resource.clone());
            }
        }
    }
    summary.capacity_only = capacities.len() as u64;

    if touched_egs.is_empty() && replaced_locations.is_empty() && changed_ejs.is_empty() {
        let report = IngestReport::default();
        let seconds = (started.elapsed().as_secs_f64(), 0.0);
        return Ok(Delta {
            server_time,
            since,
            summary,
            capacities,
            dataset: None,
            carried: Vec::new(),
            report,
            seconds,
        });
    }

    // Read the touched EGs again whole.
    let egs_now = search_by(upstream, "Organization", "_id", &touched_egs, page_size)?;
    let mut ois: BTreeMap<String, Value> = BTreeMap::new();
    let mut parents: BTreeSet<String> = touched_egs.clone();
    for _ in 0..6 {
        let children = search_by(upstream, "Organization", "partof", &parents, page_size)?;
        parents = BTreeSet::new();
        for (id, resource) in children {
            if matches!(org_kind(&resource), OrgKind::Oi { .. }) && !ois.contains_key(&id) {
                parents.insert(id.clone());
                ois.insert(id, resource);
            }
        }
        if parents.is_empty() {
            break;
        }
    }
    let providers: BTreeSet<String> = egs_now.keys().chain(ois.keys()).chain(changed_ejs.iter()).cloned().collect();
    let offers_now = search_by(upstream, "HealthcareService", "organization", &providers, page_size)?;
    let mut wanted_locations: BTreeSet<String> = BTreeSet::new();
    for resource in offers_now.values() {
        for location in resource["location"].as_array().into_iter().flatten() {
            if let Some(id) = location["reference"].as_str().and_then(reference_id) {
                wanted_locations.insert(id.to_owned());
            }
        }
    }
    let unknown_locations: BTreeSet<String> = wanted_locations
        .iter()
        .filter(|id| !replaced_locations.contains_key(*id) && !held.location.contains_key(id.as_str()))
        .cloned()
        .collect();
    let fetched_locations = search_by(upstream, "Location", "_id", &unknown_locations, page_size)?;
    summary.refetched = BTreeMap::from([
        ("Organization".to_owned(), (egs_now.len() + ois.len()) as u64),
        ("HealthcareService".to_owned(), offers_now.len() as u64),
        ("Location".to_owned(), fetched_locations.len() as u64),
    ]);

    // The mini feed: the touched EGs, their EJs, internal organisations, offers and Locations.
    let mut lines: Vec<String> = Vec::new();
    let mut written: BTreeSet<(String, String)> = BTreeSet::new();
    let mut push = |resource_type: &str, id: &str, resource: &Value, lines: &mut Vec<String>| {
        if written.insert((resource_type.to_owned(), id.to_owned())) {
            lines.push(resource.to_string());
        }
    };
    let mut ejs_wanted: BTreeSet<String> = changed_ejs.clone();
    for resource in egs_now.values() {
        if let OrgKind::Eg { part_of: Some(ej) } = org_kind(resource) {
            ejs_wanted.insert(ej);
        }
    }
    let missing_ejs: BTreeSet<String> = ejs_wanted
        .iter()
        .filter(|id| !changed_orgs.contains_key(*id) && !held.ej.contains_key(id.as_str()))
        .cloned()
        .collect();
    let fetched_ejs = search_by(upstream, "Organization", "_id", &missing_ejs, page_size)?;
    for id in &ejs_wanted {
        if let Some(resource) = changed_orgs.get(id).or_else(|| fetched_ejs.get(id)) {
            push("Organization", id, resource, &mut lines);
        } else if let Some(&index) = held.ej.get(id.as_str()) {
            push("Organization", id, &ej_to_fhir(&held_dataset.ejs[index]), &mut lines);
        }
    }
    for (id, resource) in egs_now.iter().chain(ois.iter()) {
        push("Organization", id, resource, &mut lines);
    }
    // A held Location as it is now: with its capacity change of this delta, or the pending one.
    let capacity_of: HashMap<&str, &CapacityUpdate> =
        capacities.iter().map(|update| (update.location_id.as_str(), update)).collect();
    let update_of = |id: &str| capacity_of.get(id).copied().or_else(|| pending.get(id));
    let held_location_json = |index: usize| -> Value {
        let location = &held_dataset.locations[index];
        match update_of(&location.id) {
            Some(update) => {
                let mut with = location.clone();
                update.apply(&mut with);
                location_to_fhir(&with)
            }
            None => location_to_fhir(location),
        }
    };
    for id in &wanted_locations {
        if let Some(resource) = replaced_locations.get(id).or_else(|| fetched_locations.get(id)) {
            push("Location", id, resource, &mut lines);
        } else if let Some(&index) = held.location.get(id.as_str()) {
            push("Location", id, &held_location_json(index), &mut lines);
        }
    }
    for (id, resource) in &replaced_locations {
        push("Location", id, resource, &mut lines);
    }
    for (id, resource) in &offers_now {
        push("HealthcareService", id, resource, &mut lines);
    }
    let fetched = started.elapsed().as_secs_f64();
    let mut text = lines.join("\n");
    text.push('\n');
    let (mini, report) = crate::ingest::ingest_str("delta.ndjson", &text);

    // Splice.
    let removed_egs: BTreeSet<&str> = touched_egs.iter().map(String::as_str).collect();
    let removed_ejs: BTreeSet<&str> =
        changed_ejs.iter().map(String::as_str).filter(|id| !mini.ejs.iter().any(|ej| ej.id == *id)).collect();
    let replaced_location_ids: BTreeSet<&str> = replaced_locations.keys().map(String::as_str).collect();
    summary.egs_touched = touched_egs.len() as u64;
    summary.egs_removed = touched_egs.iter().filter(|id| !mini.egs.iter().any(|eg| &eg.id == *id)).count() as u64;
    summary.locations_replaced = replaced_locations.len() as u64;
    let mini_location_ids: BTreeSet<&str> = mini.locations.iter().map(|location| location.id.as_str()).collect();
    let (mut next, carried) =
        splice(held_dataset, &mini, &removed_egs, &removed_ejs, &changed_ejs, &replaced_location_ids, &mut summary);
    // Capacity changes of this delta and the pending ones, for Locations outside the mini feed.
    next.locations.par_iter_mut().for_each(|location| {
        if mini_location_ids.contains(location.id.as_str()) {
            return;
        }
        if let Some(update) = update_of(&location.id) {
            update.apply(location);
        }
    });
    let seconds = (fetched, started.elapsed().as_secs_f64() - fetched);
    Ok(Delta { server_time, since, summary, capacities, dataset: Some(next), carried, report, seconds })
}

/// Index of a record removed by a splice.
const GONE: u32 = u32::MAX;

/// The order of a merge by FHIR id of the kept held records and the new ones, and where each
/// record of either side went: a held record replaced by a new one of its id maps to it, one
/// removed to `GONE`.
struct Merged {
    /// `(from the new side, index on its side)`, in the merged order.
    order: Vec<(bool, u32)>,
    held: Vec<u32>,
    mini: Vec<u32>,
    /// Whether each held record is kept as it is.
    kept: Vec<bool>,
}

impl Merged {
    fn new<T>(held: &[T], keep: impl Fn(&T) -> bool, mini: &[T], id: impl Fn(&T) -> &str) -> Merged {
        let mut merged = Merged {
            order: Vec::with_capacity(held.len() + mini.len()),
            held: vec![GONE; held.len()],
            mini: vec![GONE; mini.len()],
            kept: vec![false; held.len()],
        };
        let mut replaced = Vec::new();
        let (mut i, mut j) = (0, 0);
        loop {
            while i < held.len() && !keep(&held[i]) {
                replaced.push(i);
                i += 1;
            }
            let take_held = match (i < held.len(), j < mini.len()) {
                (true, true) => id(&held[i]) < id(&mini[j]),
                (true, false) => true,
                (false, true) => false,
                (false, false) => {
                    // A held record not kept maps to the new record of its id, if any.
                    for index in replaced {
                        let found = mini.binary_search_by(|record| id(record).cmp(id(&held[index])));
                        if let Ok(at) = found {
                            merged.held[index] = merged.mini[at];
                        }
                    }
                    return merged;
                }
            };
            let at = merged.order.len() as u32;
            if take_held {
                merged.held[i] = at;
                merged.kept[i] = true;
                merged.order.push((false, i as u32));
                i += 1;
            } else {
                merged.mini[j] = at;
                merged.order.push((true, j as u32));
                j += 1;
            }
        }
    }

    /// The new index of a record of one side.
    fn map(&self, from_mini: bool, index: u32) -> Option<u32> {
        let side = if from_mini { &self.mini } else { &self.held };
        side.get(index as usize).copied().filter(|&at| at != GONE)
    }

    /// The merged records, each cloned once (in parallel: a national dataset is a few GB) and
    /// passed through `fix` with its side.
    fn collect<T: Clone + Send + Sync>(&self, held: &[T], mini: &[T], fix: impl Fn(&mut T, bool) + Sync) -> Vec<T> {
        self.order
            .par_iter()
            .map(|&(from_mini, index)| {
                let mut record = if from_mini { mini[index as usize].clone() } else { held[index as usize].clone() };
                fix(&mut record, from_mini);
                record
            })
            .collect()
    }
}

/// The held dataset with the touched EGs' part replaced by `mini`'s: one merge by FHIR id per
/// vector, references remapped by index; and per offer of it, the held offer it is when it
/// and the records its text and position come from were all kept ([`Delta::carried`]).
fn splice(
    held: &Dataset,
    mini: &Dataset,
    removed_egs: &BTreeSet<&str>,
    removed_ejs: &BTreeSet<&str>,
    changed_ejs: &BTreeSet<String>,
    replaced_locations: &BTreeSet<&str>,
    summary: &mut DeltaSummary,
) -> (Dataset, Vec<Option<u32>>) {
    let mini_ejs: BTreeSet<&str> = mini.ejs.iter().map(|ej| ej.id.as_str()).collect();
    let mini_egs: BTreeSet<&str> = mini.egs.iter().map(|eg| eg.id.as_str()).collect();
    let mini_locations: BTreeSet<&str> = mini.locations.iter().map(|location| location.id.as_str()).collect();
    let mini_offers: BTreeSet<&str> = mini.offers.iter().map(|offer| offer.id.as_str()).collect();
    let ejs = Merged::new(
        &held.ejs,
        |ej| !mini_ejs.contains(ej.id.as_str()) && !removed_ejs.contains(ej.id.as_str()),
        &mini.ejs,
        |ej| &ej.id,
    );
    let egs = Merged::new(
        &held.egs,
        |eg| !mini_egs.contains(eg.id.as_str()) && !removed_egs.contains(eg.id.as_str()),
        &mini.egs,
        |eg| &eg.id,
    );
    let locations = Merged::new(
        &held.locations,
        |location| !mini_locations.contains(location.id.as_str()) && !replaced_locations.contains(location.id.as_str()),
        &mini.locations,
        |location| &location.id,
    );
    let changed_ej_index: Vec<bool> = held.ejs.iter().map(|ej| changed_ejs.contains(&ej.id)).collect();
    let offers = Merged::new(
        &held.offers,
        |offer| {
            let in_touched_eg = offer.eg.is_some_and(|eg| !egs.kept[eg as usize]);
            let of_changed_ej = offer.eg.is_none() && offer.ej.is_some_and(|ej| changed_ej_index[ej as usize]);
            !in_touched_eg && !of_changed_ej && !mini_offers.contains(offer.id.as_str())
        },
        &mini.offers,
        |offer| &offer.id,
    );
    summary.offers_removed = offers.kept.iter().filter(|&&kept| !kept).count() as u64;
    summary.offers_added = mini.offers.len() as u64;
    let carried: Vec<Option<u32>> = offers
        .order
        .par_iter()
        .map(|&(from_mini, index)| {
            if from_mini {
                return None;
            }
            let offer = &held.offers[index as usize];
            let ej_of_eg = offer.eg.and_then(|eg| held.egs[eg as usize].ej);
            let all_kept = offer.eg.is_none_or(|eg| egs.kept[eg as usize])
                && offer.ej.into_iter().chain(ej_of_eg).all(|ej| ejs.kept[ej as usize])
                && offer.locations.iter().all(|&location| locations.kept[location as usize]);
            all_kept.then_some(index)
        })
        .collect();
    let dataset = Dataset {
        ejs: ejs.collect(&held.ejs, &mini.ejs, |_, _| {}),
        egs: egs.collect(&held.egs, &mini.egs, |eg, from_mini| eg.ej = eg.ej.and_then(|ej| ejs.map(from_mini, ej))),
        locations: locations.collect(&held.locations, &mini.locations, |_, _| {}),
        offers: offers.collect(&held.offers, &mini.offers, |offer, from_mini| {
            offer.eg = offer.eg.and_then(|eg| egs.map(from_mini, eg));
            offer.ej = offer.ej.and_then(|ej| ejs.map(from_mini, ej));
            offer.locations.retain_mut(|location| match locations.map(from_mini, *location) {
                Some(at) => {
                    *location = at;
                    true
                }
                None => false,
            });
        }),
    };
    (dataset, carried)
}
