//! Links what was read into a [`Dataset`]: HealthcareService → providedBy (→ OI)* → EG → EJ,
//! and HealthcareService → Location.
//!
//! A reference that does not resolve rejects the resource that holds it, with the reason; a
//! resource whose parent was rejected is rejected too, naming the parent and its reason, so
//! nothing disappears without a line in the report.
//!
//! This module owns the per-item step ([`process_item`]: source item → [`Verdict`], nested
//! bundles split again), the linking ([`Resolver`]) and the reasons of their rejects
//! ([`RecordError`], [`LinkError`]).

use rustc_hash::FxHashMap as HashMap;

use super::fhir::read::{Classified, Outcome, Parsed, ParsedOffer, ParsedOrganization, ReadError};
use super::report::{IngestReport, Issue, MAX_ISSUES_KEPT, TypeCounts};
use super::source::{Origin, SourceError, SourceItem};
use crate::model::{Dataset, Eg, EgId, EjId, Location, LocationId};

/// One record read and parsed, ready for the resolver.
#[derive(Debug)]
pub(crate) struct Processed {
    pub(crate) origin: Origin,
    pub(crate) full_url: Option<String>,
    pub(crate) resource_type: Option<String>,
    pub(crate) id: Option<String>,
    pub(crate) verdict: Verdict,
}

/// What becomes of one item of the feed before linking.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Read; with warnings about data that was kept but is odd.
    Accepted { parsed: Box<Parsed>, warnings: Vec<String> },
    /// Not a usable record, and why.
    Rejected(RecordError),
    /// A resource type the engine does not use.
    Ignored,
    /// A container item that holds no resource ([`SourceError::EmptyEntry`]): not a record,
    /// only counted.
    EmptyEntry,
}

impl From<Outcome> for Verdict {
    fn from(outcome: Outcome) -> Verdict {
        match outcome {
            Outcome::Accepted { parsed, warnings } => Verdict::Accepted { parsed, warnings },
            Outcome::Rejected { reason } => Verdict::Rejected(RecordError::Read(reason)),
            Outcome::Ignored => Verdict::Ignored,
        }
    }
}

/// Why an item is rejected before linking: its text could not be taken from the file, or it is
/// not a readable resource.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error(transparent)]
    Source(SourceError),
    #[error(transparent)]
    Read(ReadError),
    #[error("Bundle nested more than {MAX_BUNDLE_NESTING} levels deep")]
    BundleTooDeep,
}

/// Why a read record is rejected when linking: a reference that does not resolve, a parent that
/// was rejected (`reason` is the parent's reject reason, as reported), or a newer copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("partOf: {reference} is an {kind}, not an entité juridique")]
    PartOfNotEj { reference: String, kind: &'static str },
    #[error("partOf: {reference} is not in the feed (dangling reference to the entité juridique)")]
    PartOfDangling { reference: String },
    #[error("partOf: {reference:?} is not a reference to an Organization")]
    PartOfNotOrganization { reference: String },
    #[error("providedBy: {reference:?} is not a resolvable reference")]
    ProviderUnresolvable { reference: String },
    #[error("providedBy: {reference} is not an Organization")]
    ProviderNotOrganization { reference: String },
    #[error("providedBy: internal organisation {reference} has no partOf")]
    ProviderOiWithoutPartOf { reference: String },
    #[error("providedBy: {reference} was rejected ({reason})")]
    ProviderRejected { reference: String, reason: String },
    #[error("providedBy: {reference} is not in the feed (dangling reference)")]
    ProviderDangling { reference: String },
    #[error("providedBy: {reference} leads to a partOf chain longer than {MAX_PART_OF_CHAIN} (cycle?)")]
    ProviderChainTooLong { reference: String },
    #[error("location[{index}]: {reference} was rejected ({reason})")]
    LocationRejected { index: usize, reference: String, reason: String },
    #[error("location[{index}]: {reference} is not in the feed (dangling reference)")]
    LocationDangling { index: usize, reference: String },
    #[error("duplicate id: superseded by the copy at {winner} (newer or equal meta.lastUpdated)")]
    Superseded { winner: String },
}

/// `(Type, id)` of a literal reference: relative (`Organization/1`) or absolute
/// (`https://host/fhir/Organization/1/_history/2`); `None` for a `urn:` or `#` reference (which
/// only a bundle's `fullUrl` resolves) and for one without a type and an id.
pub(crate) fn literal_reference(reference: &str) -> Option<(&str, &str)> {
    if reference.starts_with("urn:") || reference.starts_with('#') {
        return None;
    }
    let path = reference.split(['?', '#']).next().unwrap_or(reference);
    let mut segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if segments.len() >= 4 && segments[segments.len() - 2] == "_history" {
        segments.truncate(segments.len() - 2);
    }
    let id = segments.pop()?;
    let resource_type = segments.pop()?;
    if id.is_empty() || resource_type.is_empty() {
        return None;
    }
    Some((resource_type, id))
}

/// Parses one source item; bundles found inside (an NDJSON line holding a Bundle) are split and
/// their entries parsed in turn.
pub(crate) fn process_item(item: SourceItem, out: &mut Vec<Processed>) {
    process_item_at_depth(item, out, 0);
}

const MAX_BUNDLE_NESTING: usize = 4;

/// How many `partOf` links a `providedBy` chain may follow.
const MAX_PART_OF_CHAIN: usize = 16;

fn process_item_at_depth(item: SourceItem, out: &mut Vec<Processed>, depth: usize) {
    let SourceItem { origin, full_url, body } = item;
    let text = match body {
        Ok(text) => text,
        Err(SourceError::EmptyEntry) => {
            out.push(Processed { origin, full_url, resource_type: None, id: None, verdict: Verdict::EmptyEntry });
            return;
        }
        Err(error) => {
            let verdict = Verdict::Rejected(RecordError::Source(error));
            out.push(Processed { origin, full_url, resource_type: None, id: None, verdict });
            return;
        }
    };
    match super::fhir::read::classify(&text) {
        Classified::Unreadable { id, reason } => {
            let verdict = Verdict::Rejected(RecordError::Read(reason));
            out.push(Processed { origin, full_url, resource_type: None, id, verdict });
        }
        Classified::Bundle => {
            if depth >= MAX_BUNDLE_NESTING {
                out.push(Processed {
                    origin,
                    full_url,
                    resource_type: Some("Bundle".into()),
                    id: None,
                    verdict: Verdict::Rejected(RecordError::BundleTooDeep),
                });
                return;
            }
            let mut items = Vec::new();
            super::source::split_document(&text, &origin, &mut items);
            for item in items {
                process_item_at_depth(item, out, depth + 1);
            }
        }
        Classified::Resource { resource_type, id, outcome } => {
            let verdict = Verdict::from(outcome);
            out.push(Processed { origin, full_url, resource_type: Some(resource_type), id, verdict });
        }
    }
}

struct Held<T> {
    value: T,
    id: String,
    origin: Origin,
    /// Order of reading, to break ties between duplicates.
    sequence: u64,
    warnings: Vec<String>,
}

/// Collects processed records and links them.
#[derive(Default)]
pub(crate) struct Resolver {
    organizations: Vec<Held<ParsedOrganization>>,
    offers: Vec<Held<ParsedOffer>>,
    locations: Vec<Held<Location>>,
    /// `Bundle.entry.fullUrl` → `Type/id`.
    full_urls: HashMap<String, String>,
    report: IngestReport,
    sequence: u64,
}

impl Resolver {
    /// A resolver with nothing read yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn counts(&mut self, resource_type: &str) -> &mut TypeCounts {
        if !self.report.by_type.contains_key(resource_type) {
            self.report.by_type.insert(resource_type.to_owned(), TypeCounts::default());
        }
        self.report.by_type.get_mut(resource_type).expect("inserted above")
    }

    /// Counts one record and keeps it if it was accepted.
    pub(crate) fn add(&mut self, processed: Processed) {
        if matches!(processed.verdict, Verdict::EmptyEntry) {
            // A transaction entry with only a request: not a record.
            self.report.empty_entries += 1;
            return;
        }
        let resource_type = processed.resource_type.as_deref().unwrap_or("unknown");
        self.counts(resource_type).read += 1;
        self.report.totals.read += 1;
        match processed.verdict {
            Verdict::EmptyEntry => unreachable!("counted above"),
            Verdict::Ignored => {
                self.counts(resource_type).ignored += 1;
                self.report.totals.ignored += 1;
            }
            Verdict::Rejected(reason) => {
                let issue = Issue {
                    origin: processed.origin.to_string(),
                    resource_type: resource_type.to_owned(),
                    id: processed.id,
                    reason: reason.to_string(),
                };
                self.reject(issue);
            }
            Verdict::Accepted { parsed, warnings } => {
                let id = processed.id.unwrap_or_default();
                if let Some(full_url) = processed.full_url {
                    self.full_urls.insert(full_url, format!("{resource_type}/{id}"));
                }
                self.sequence += 1;
                let (origin, sequence) = (processed.origin, self.sequence);
                match *parsed {
                    Parsed::Organization(value) => {
                        self.organizations.push(Held { value, id, origin, sequence, warnings });
                    }
                    Parsed::Offer(value) => self.offers.push(Held { value, id, origin, sequence, warnings }),
                    Parsed::Location(value) => self.locations.push(Held { value, id, origin, sequence, warnings }),
                }
            }
        }
    }

    /// Sorts held records by id and keeps, of several copies of one id, the one with the newer
    /// `meta.lastUpdated` (the later one read on a tie), rejecting the others as superseded.
    /// Sorting moves indexes, not the (large) records.
    fn dedupe<T>(
        report: &mut IngestReport,
        resource_type: &str,
        items: Vec<Held<T>>,
        last_updated: impl Fn(&T) -> Option<i64>,
    ) -> Vec<(String, Held<T>)> {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_unstable_by(|&a, &b| items[a].id.cmp(&items[b].id).then(items[a].sequence.cmp(&items[b].sequence)));
        let mut slots: Vec<Option<Held<T>>> = items.into_iter().map(Some).collect();
        let mut kept: Vec<(String, Held<T>)> = Vec::with_capacity(slots.len());
        let mut group_start = 0;
        while group_start < order.len() {
            let mut group_end = group_start + 1;
            while group_end < order.len()
                && slots[order[group_end]].as_ref().map(|held| &held.id)
                    == slots[order[group_start]].as_ref().map(|held| &held.id)
            {
                group_end += 1;
            }
            let group = &order[group_start..group_end];
            let winner = *group
                .iter()
                .max_by_key(|&&index| {
                    let held = slots[index].as_ref().expect("each index once");
                    (last_updated(&held.value), held.sequence)
                })
                .expect("non-empty group");
            let winner_held = slots[winner].take().expect("each index once");
            for &index in group {
                if index == winner {
                    continue;
                }
                let dropped = slots[index].take().expect("each index once");
                push_reject(
                    report,
                    &dropped.origin.to_string(),
                    resource_type,
                    &dropped.id,
                    LinkError::Superseded { winner: winner_held.origin.to_string() },
                );
            }
            kept.push((winner_held.id.clone(), winner_held));
            group_start = group_end;
        }
        kept
    }

    fn reject(&mut self, issue: Issue) {
        self.counts(&issue.resource_type.clone()).rejected += 1;
        self.report.totals.rejected += 1;
        self.report.rejects.push(issue);
    }

    fn warn(report: &mut IngestReport, origin: &Origin, resource_type: &str, id: &str, warnings: Vec<String>) {
        for reason in warnings {
            if report.warnings.len() >= MAX_ISSUES_KEPT {
                report.warnings_dropped += 1;
                continue;
            }
            report.warnings.push(Issue {
                origin: origin.to_string(),
                resource_type: resource_type.to_owned(),
                id: Some(id.to_owned()),
                reason,
            });
        }
    }

    /// `Type/id` of a reference: relative (`Organization/1`), absolute
    /// (`https://host/fhir/Organization/1/_history/2`) or a bundle `fullUrl` (`urn:uuid:...`).
    fn reference_key(&self, reference: &str) -> Option<(String, String)> {
        if let Some(target) = self.full_urls.get(reference) {
            let (resource_type, id) = target.split_once('/')?;
            return Some((resource_type.to_owned(), id.to_owned()));
        }
        literal_reference(reference).map(|(resource_type, id)| (resource_type.to_owned(), id.to_owned()))
    }

    /// Links everything and returns the dataset and the report.
    pub(crate) fn finish(mut self) -> (Dataset, IngestReport) {
        let mut dataset = Dataset::default();
        let mut report = std::mem::take(&mut self.report);
        let organizations =
            Self::dedupe(&mut report, "Organization", std::mem::take(&mut self.organizations), |o| o.last_updated());

        // Organizations: EJs first, so EGs can point at them.
        let mut ej_index: HashMap<String, EjId> = HashMap::default();
        let mut kinds: HashMap<String, &'static str> = HashMap::default();
        for (id, held) in &organizations {
            let kind = match &held.value {
                ParsedOrganization::Ej(_) => "EJ",
                ParsedOrganization::Eg { .. } => "EG",
                ParsedOrganization::Oi { .. } => "OI",
            };
            kinds.insert(id.clone(), kind);
        }
        let mut rejected_organizations: HashMap<String, String> = HashMap::default();
        let mut eg_index: HashMap<String, EgId> = HashMap::default();
        let mut oi_parent: HashMap<String, (Option<String>, Option<String>)> = HashMap::default();
        let mut pending_egs: Vec<(Eg, Option<String>, Origin, Vec<String>)> = Vec::new();
        for (id, held) in organizations {
            let Held { value, origin, warnings, .. } = held;
            match value {
                ParsedOrganization::Ej(ej) => {
                    Self::warn(&mut report, &origin, "Organization", &id, warnings);
                    ej_index.insert(id, dataset.ejs.len() as EjId);
                    dataset.ejs.push(ej);
                }
                ParsedOrganization::Eg { eg, part_of } => pending_egs.push((eg, part_of, origin, warnings)),
                ParsedOrganization::Oi { name, part_of, .. } => {
                    Self::warn(&mut report, &origin, "Organization", &id, warnings);
                    oi_parent.insert(id, (part_of, name));
                }
            }
        }
        for (mut eg, part_of, origin, warnings) in pending_egs {
            if let Some(reference) = &part_of {
                match self.reference_key(reference) {
                    Some((resource_type, id)) if resource_type == "Organization" => match ej_index.get(&id) {
                        Some(&ej) => eg.ej = Some(ej),
                        None => {
                            let reference = reference.clone();
                            let error = match kinds.get(&id) {
                                Some(&kind) => LinkError::PartOfNotEj { reference, kind },
                                None => LinkError::PartOfDangling { reference },
                            };
                            rejected_organizations.insert(eg.id.clone(), error.to_string());
                            push_reject(&mut report, &origin, "Organization", &eg.id, error);
                            continue;
                        }
                    },
                    _ => {
                        let error = LinkError::PartOfNotOrganization { reference: reference.clone() };
                        rejected_organizations.insert(eg.id.clone(), error.to_string());
                        push_reject(&mut report, &origin, "Organization", &eg.id, error);
                        continue;
                    }
                }
            }
            Self::warn(&mut report, &origin, "Organization", &eg.id, warnings);
            eg_index.insert(eg.id.clone(), dataset.egs.len() as EgId);
            dataset.egs.push(eg);
        }

        // Locations.
        let locations = Self::dedupe(&mut report, "Location", std::mem::take(&mut self.locations), |l| l.last_updated);
        let mut location_index: HashMap<String, LocationId> = HashMap::default();
        for (id, held) in locations {
            Self::warn(&mut report, &held.origin, "Location", &id, held.warnings);
            location_index.insert(id, dataset.locations.len() as LocationId);
            dataset.locations.push(held.value);
        }
        let rejected_locations: HashMap<String, String> = report
            .rejects
            .iter()
            .filter(|issue| issue.resource_type == "Location")
            .filter_map(|issue| Some((issue.id.clone()?, issue.reason.clone())))
            .collect();
        let rejected_org_reasons: HashMap<String, String> = report
            .rejects
            .iter()
            .filter(|issue| issue.resource_type == "Organization")
            .filter_map(|issue| Some((issue.id.clone()?, issue.reason.clone())))
            .chain(rejected_organizations)
            .collect();

        // Offers.
        let offers =
            Self::dedupe(&mut report, "HealthcareService", std::mem::take(&mut self.offers), |o| o.offer.last_updated);
        for (id, held) in offers {
            let Held { value, origin, warnings, .. } = held;
            let ParsedOffer { mut offer, provided_by, location_references } = value;
            match self.resolve_provider(&provided_by, &ej_index, &eg_index, &oi_parent, &rejected_org_reasons) {
                Ok(Provider { eg, ej, internal_organisation }) => {
                    offer.eg = eg;
                    offer.ej = ej;
                    offer.internal_organisation = internal_organisation;
                }
                Err(reason) => {
                    push_reject(&mut report, &origin, "HealthcareService", &id, reason);
                    continue;
                }
            }
            let mut location_error = None;
            for (index, reference) in location_references.iter().enumerate() {
                let key = self.reference_key(reference);
                let resolved = match &key {
                    Some((resource_type, target)) if resource_type == "Location" => location_index.get(target).copied(),
                    _ => None,
                };
                match resolved {
                    Some(location) => {
                        if !offer.locations.contains(&location) {
                            offer.locations.push(location);
                        }
                    }
                    None => {
                        let target = key.map(|(_, target)| target).unwrap_or_default();
                        let reference = reference.clone();
                        location_error = Some(match rejected_locations.get(&target) {
                            Some(reason) => LinkError::LocationRejected { index, reference, reason: reason.clone() },
                            None => LinkError::LocationDangling { index, reference },
                        });
                        break;
                    }
                }
            }
            if let Some(reason) = location_error {
                push_reject(&mut report, &origin, "HealthcareService", &id, reason);
                continue;
            }
            Self::warn(&mut report, &origin, "HealthcareService", &id, warnings);
            dataset.offers.push(offer);
        }

        // Accepted = what is in the dataset, plus the internal organisations used for linking.
        let set = |report: &mut IngestReport, resource_type: &str, accepted: u64| {
            report.by_type.entry(resource_type.to_owned()).or_default().accepted = accepted;
        };
        let organizations_accepted = (dataset.ejs.len() + dataset.egs.len() + oi_parent.len()) as u64;
        set(&mut report, "Organization", organizations_accepted);
        set(&mut report, "HealthcareService", dataset.offers.len() as u64);
        set(&mut report, "Location", dataset.locations.len() as u64);
        report.by_type.retain(|_, counts| counts.read > 0);
        report.totals.accepted = report.by_type.values().map(|counts| counts.accepted).sum();
        debug_assert!(report.reconciles(), "ingest counts do not reconcile: {:?}", report.by_type);
        (dataset, report)
    }

    fn resolve_provider(
        &self,
        provided_by: &str,
        ej_index: &HashMap<String, EjId>,
        eg_index: &HashMap<String, EgId>,
        oi_parent: &HashMap<String, (Option<String>, Option<String>)>,
        rejected: &HashMap<String, String>,
    ) -> Result<Provider, LinkError> {
        let mut reference = provided_by.to_owned();
        let mut internal_organisation = None;
        for _ in 0..MAX_PART_OF_CHAIN {
            let Some((resource_type, id)) = self.reference_key(&reference) else {
                return Err(LinkError::ProviderUnresolvable { reference });
            };
            if resource_type != "Organization" {
                return Err(LinkError::ProviderNotOrganization { reference });
            }
            if let Some(&eg) = eg_index.get(&id) {
                return Ok(Provider { eg: Some(eg), ej: None, internal_organisation });
            }
            if let Some(&ej) = ej_index.get(&id) {
                return Ok(Provider { eg: None, ej: Some(ej), internal_organisation });
            }
            if let Some((parent, name)) = oi_parent.get(&id) {
                if internal_organisation.is_none() {
                    internal_organisation = name.clone();
                }
                match parent {
                    Some(parent) => {
                        reference = parent.clone();
                        continue;
                    }
                    None => {
                        return Err(LinkError::ProviderOiWithoutPartOf { reference });
                    }
                }
            }
            if let Some(reason) = rejected.get(&id) {
                return Err(LinkError::ProviderRejected { reference, reason: reason.clone() });
            }
            return Err(LinkError::ProviderDangling { reference });
        }
        Err(LinkError::ProviderChainTooLong { reference: provided_by.to_owned() })
    }
}

struct Provider {
    eg: Option<EgId>,
    ej: Option<EjId>,
    internal_organisation: Option<String>,
}

fn push_reject(
    report: &mut IngestReport,
    origin: &dyn std::fmt::Display,
    resource_type: &str,
    id: &str,
    reason: LinkError,
) {
    let counts = report.by_type.entry(resource_type.to_owned()).or_default();
    counts.rejected += 1;
    report.totals.rejected += 1;
    report.rejects.push(Issue {
        origin: origin.to_string(),
        resource_type: resource_type.to_owned(),
        id: Some(id.to_owned()),
        reason: reason.to_string(),
    });
}
