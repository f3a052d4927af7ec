//! The data-quality report: every finding of the rules of [`crate::model::quality::RULES`] on
//! a snapshot, with the record it is about (offer, EG, location, EJ), its FINESS, name,
//! département and région, the offending values and when the record was last updated.
//!
//! A [`QualityReport`] is computed once per snapshot (never on the query path of the search)
//! and kept current: the rules that read capacities are re-run on the locations a live write
//! changed (the live views are compared chunk by chunk), everything at most every
//! [`REFRESH_SECONDS`] (the staleness rules move with the clock). [`QualityReport::select`]
//! filters, counts and pages it; [`export`] writes CSV and NDJSON. At build time the keys of
//! the findings are stored in the snapshot (`quality.bin`) and the manifest gets the trend
//! since the snapshot it replaces (fixed, new, still open by rule).

pub(crate) mod check;
pub mod export;
pub mod trend;

use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::live::LiveView;
use crate::model::labels::CodeSystem;
use crate::model::quality::{RULES, RuleId, Severity, Subject, region_of_departement};
use crate::model::{Code, Dataset};
use crate::util::time::{UnixSeconds, format_rfc3339};
use check::{CheckIndex, Checker};

/// The whole report is recomputed when it is older than this (seconds): the staleness rules
/// depend on the clock.
pub const REFRESH_SECONDS: i64 = 600;

/// The record a finding is about (its index in the dataset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordRef {
    /// An offer.
    Offer(u32),
    /// An EG.
    Eg(u32),
    /// A location.
    Location(u32),
    /// An EJ.
    Ej(u32),
}

impl RecordRef {
    /// The kind of record.
    pub fn subject(self) -> Subject {
        match self {
            RecordRef::Offer(_) => Subject::Offer,
            RecordRef::Eg(_) => Subject::Eg,
            RecordRef::Location(_) => Subject::Location,
            RecordRef::Ej(_) => Subject::Ej,
        }
    }

    /// Its FHIR id.
    pub fn id(self, dataset: &Dataset) -> &str {
        match self {
            RecordRef::Offer(index) => &dataset.offers[index as usize].id,
            RecordRef::Eg(index) => &dataset.egs[index as usize].id,
            RecordRef::Location(index) => &dataset.locations[index as usize].id,
            RecordRef::Ej(index) => &dataset.ejs[index as usize].id,
        }
    }
}

/// One finding of a rule, as the checks make it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub(crate) rule: RuleId,
    pub(crate) record: RecordRef,
    /// The offending values, in French (what the steward reads).
    pub(crate) values: String,
    /// When the data at fault was last updated (the record's `meta.lastUpdated`, or the
    /// capacity's `capacityUpdateDate`).
    pub(crate) updated_at: Option<UnixSeconds>,
}

/// A finding with what it is filtered and grouped by.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Placed {
    pub(crate) finding: Finding,
    /// The rule's row in [`RULES`] (the report orders by it after severity).
    rank: u8,
    pub(crate) eg: Option<u32>,
    pub(crate) departement: Option<Code>,
    pub(crate) region: Option<Code>,
}

impl Placed {
    fn new(checker: &Checker<'_>, finding: Finding) -> Placed {
        let dataset = checker.dataset;
        let departement = checker.departement_of(finding.record).map(Code::from);
        let eg = checker.eg_of(finding.record);
        // The région of the département; else the record's own source région (meta.tag).
        let region =
            departement.as_deref().and_then(region_of_departement).map(Code::from).or_else(|| match finding.record {
                RecordRef::Offer(offer) => dataset.offers[offer as usize].region.clone(),
                _ => eg.and_then(|eg| dataset.egs[eg as usize].region.clone()),
            });
        let rank = RULES.iter().position(|row| row.id == finding.rule).expect("every rule is in RULES") as u8;
        Placed { finding, rank, eg, departement, region }
    }

    /// The order of the report: severity, rule (table order), région, département, FINESS of
    /// the EG, record.
    fn sort_key<'a>(&'a self, dataset: &'a Dataset) -> impl Ord + 'a {
        (
            RULES[self.rank as usize].severity,
            self.rank,
            self.region.as_deref(),
            self.departement.as_deref(),
            self.eg.and_then(|eg| dataset.egs[eg as usize].finess.as_deref()),
            self.finding.record,
            &self.finding.values,
        )
    }
}

/// An ingest remark kept with a record (a line of `rejects.ndjson` of kind `warning`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct IngestRemark {
    /// FHIR resource type.
    pub resource_type: String,
    /// FHIR id, when known.
    pub id: Option<String>,
    /// The remark.
    pub reason: String,
}

/// Reads the warnings of a snapshot's `rejects.ndjson` (none when it is absent).
pub fn read_remarks(snapshot_dir: &std::path::Path) -> std::io::Result<Vec<IngestRemark>> {
    let path = snapshot_dir.join(crate::snapshot::REJECTS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    #[derive(serde::Deserialize)]
    struct Line {
        kind: String,
        #[serde(flatten)]
        remark: IngestRemark,
    }
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str::<Line>(line).ok())
        .filter(|line| line.kind == "warning")
        .map(|line| line.remark)
        .collect())
}

/// The findings of the ingest remarks: unknown codes, and the other remarks.
fn remark_findings(dataset: &Dataset, remarks: &[IngestRemark], out: &mut Vec<Finding>) {
    if remarks.is_empty() {
        return;
    }
    let wanted: FxHashSet<&str> = remarks.iter().filter_map(|remark| remark.id.as_deref()).collect();
    let mut by_id: FxHashMap<(&str, &str), RecordRef> = FxHashMap::default();
    for (index, eg) in dataset.egs.iter().enumerate() {
        if wanted.contains(eg.id.as_str()) {
            by_id.insert(("Organization", &eg.id), RecordRef::Eg(index as u32));
        }
    }
    for (index, ej) in dataset.ejs.iter().enumerate() {
        if wanted.contains(ej.id.as_str()) {
            by_id.entry(("Organization", &ej.id)).or_insert(RecordRef::Ej(index as u32));
        }
    }
    for (index, offer) in dataset.offers.iter().enumerate() {
        if wanted.contains(offer.id.as_str()) {
            by_id.insert(("HealthcareService", &offer.id), RecordRef::Offer(index as u32));
        }
    }
    for (index, location) in dataset.locations.iter().enumerate() {
        if wanted.contains(location.id.as_str()) {
            by_id.insert(("Location", &location.id), RecordRef::Location(index as u32));
        }
    }
    for remark in remarks {
        let Some(id) = remark.id.as_deref() else { continue };
        let Some(&record) = by_id.get(&(remark.resource_type.as_str(), id)) else { continue };
        let rule = if remark.reason.contains(" is not in TRE_") { RuleId::UnknownCode } else { RuleId::IngestWarning };
        let updated_at = match record {
            RecordRef::Offer(index) => dataset.offers[index as usize].last_updated,
            RecordRef::Eg(index) => dataset.egs[index as usize].last_updated,
            RecordRef::Location(index) => dataset.locations[index as usize].last_updated,
            RecordRef::Ej(index) => dataset.ejs[index as usize].last_updated,
        };
        out.push(Finding { rule, record, values: remark.reason.clone(), updated_at });
    }
}

/// Every finding of the rules that do not read capacities.
fn static_findings(checker: &Checker<'_>, remarks: &[IngestRemark], now: UnixSeconds) -> Vec<Finding> {
    let dataset = checker.dataset;
    let mut findings: Vec<Finding> = (0..dataset.offers.len() as u32)
        .into_par_iter()
        .fold(Vec::new, |mut out, offer| {
            checker.offer_static(offer, now, &mut out);
            out
        })
        .flatten()
        .collect();
    for eg in 0..dataset.egs.len() as u32 {
        checker.eg(eg, &mut findings);
    }
    checker.duplicate_synchro_ids(&mut findings);
    remark_findings(dataset, remarks, &mut findings);
    findings
}

/// The capacity findings of one offer and of one location, by record.
type LiveFindings = FxHashMap<RecordRef, Vec<Placed>>;

/// Where the checks read a location's capacity records (the snapshot's or the live ones).
type Records<'r> = dyn Fn(u32) -> &'r [crate::model::CapacityRecord] + Sync + 'r;

fn offer_live<'r>(checker: &Checker<'_>, records: &Records<'r>, offer: u32, now: UnixSeconds) -> Vec<Placed> {
    let mut out = Vec::new();
    checker.offer_capacity(offer, records, now, &mut out);
    out.into_iter().map(|finding| Placed::new(checker, finding)).collect()
}

fn location_live<'r>(checker: &Checker<'_>, records: &Records<'r>, location: u32, now: UnixSeconds) -> Vec<Placed> {
    let mut out = Vec::new();
    checker.location_capacity(location, records(location), now, &mut out);
    out.into_iter().map(|finding| Placed::new(checker, finding)).collect()
}

/// The report of one snapshot, kept current with its live capacities.
pub struct QualityReport {
    snapshot_id: String,
    computed_at: UnixSeconds,
    index: CheckIndex,
    remarks: Vec<IngestRemark>,
    static_findings: Vec<Placed>,
    live: LiveFindings,
    /// The live view the capacity findings were computed on.
    view: Arc<LiveView>,
}

impl std::fmt::Debug for QualityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QualityReport")
            .field("snapshot_id", &self.snapshot_id)
            .field("computed_at", &self.computed_at)
            .field("findings", &(self.static_findings.len() + self.live.values().map(Vec::len).sum::<usize>()))
            .finish()
    }
}

impl QualityReport {
    /// Computes the report of `engine`'s snapshot and live capacities as of `now`, with the
    /// ingest remarks of the snapshot (see [`read_remarks`]).
    pub fn compute(engine: &Engine, remarks: Vec<IngestRemark>, now: UnixSeconds) -> QualityReport {
        let data = engine.data();
        let index = CheckIndex::new(&data.dataset);
        let view = engine.live_view();
        let mut report = QualityReport {
            snapshot_id: engine.manifest().snapshot_id.clone(),
            computed_at: now,
            index,
            remarks,
            static_findings: Vec::new(),
            live: LiveFindings::default(),
            view,
        };
        report.recompute(engine, now);
        report
    }

    fn recompute(&mut self, engine: &Engine, now: UnixSeconds) {
        let data = engine.data();
        let checker = Checker::new(&self.index, &data.dataset, &data.communes);
        let view = engine.live_view();
        self.static_findings = static_findings(&checker, &self.remarks, now)
            .into_par_iter()
            .map(|finding| Placed::new(&checker, finding))
            .collect();
        let records = |location: u32| engine.location_records(&view, location);
        let offers = (0..data.dataset.offers.len() as u32)
            .into_par_iter()
            .map(|offer| (RecordRef::Offer(offer), offer_live(&checker, &records, offer, now)));
        let locations = (0..data.dataset.locations.len() as u32)
            .into_par_iter()
            .map(|location| (RecordRef::Location(location), location_live(&checker, &records, location, now)));
        self.live = offers.chain(locations).filter(|(_, findings)| !findings.is_empty()).collect();
        self.view = view;
        self.computed_at = now;
    }

    /// Brings the report up to `engine`'s live capacities at `now`: the capacity rules again
    /// on the locations written since (and the offers provided there), or everything when the
    /// report is older than [`REFRESH_SECONDS`].
    pub fn refresh(&mut self, engine: &Engine, now: UnixSeconds) {
        if engine.manifest().snapshot_id != self.snapshot_id || now - self.computed_at >= REFRESH_SECONDS {
            self.snapshot_id = engine.manifest().snapshot_id.clone();
            self.index = CheckIndex::new(&engine.data().dataset);
            self.recompute(engine, now);
            return;
        }
        let view = engine.live_view();
        if Arc::ptr_eq(&view, &self.view) {
            return;
        }
        let data = engine.data();
        let checker = Checker::new(&self.index, &data.dataset, &data.communes);
        let records = |location: u32| engine.location_records(&view, location);
        let changed = view.changed_locations(&self.view);
        let mut offers: Vec<u32> =
            changed.iter().flat_map(|&location| checker.offers_of_location(location).iter().copied()).collect();
        offers.sort_unstable();
        offers.dedup();
        let at = self.computed_at;
        let updates: Vec<(RecordRef, Vec<Placed>)> = changed
            .into_iter()
            .map(|location| (RecordRef::Location(location), location_live(&checker, &records, location, at)))
            .chain(offers.into_iter().map(|offer| (RecordRef::Offer(offer), offer_live(&checker, &records, offer, at))))
            .collect();
        for (record, findings) in updates {
            if findings.is_empty() {
                self.live.remove(&record);
            } else {
                self.live.insert(record, findings);
            }
        }
        self.view = view;
    }

    /// When the findings were computed (the `now` of the rules), Unix seconds.
    pub fn computed_at(&self) -> UnixSeconds {
        self.computed_at
    }

    /// Number of findings.
    pub fn len(&self) -> usize {
        self.static_findings.len() + self.live.values().map(Vec::len).sum::<usize>()
    }

    /// Whether there is no finding.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The findings that pass `filter`, in report order, with their counts.
    pub fn select<'a>(&'a self, engine: &'a Engine, filter: &QualityFilter) -> Selection<'a> {
        let dataset = &engine.data().dataset;
        let mut chosen: Vec<&Placed> = self
            .static_findings
            .iter()
            .chain(self.live.values().flatten())
            .filter(|placed| filter.accepts(dataset, placed))
            .collect();
        chosen.par_sort_unstable_by(|a, b| a.sort_key(dataset).cmp(&b.sort_key(dataset)));
        Selection { engine, report: self, findings: chosen }
    }
}

/// What a report request keeps (every list empty: no restriction).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityFilter {
    /// Rules, any of.
    pub rules: Vec<RuleId>,
    /// Severities, any of.
    pub severities: Vec<Severity>,
    /// INSEE région codes (`11`, `84`, `04`), any of.
    pub regions: Vec<Code>,
    /// INSEE département codes (`45`, `2A`, `974`), any of.
    pub departements: Vec<Code>,
    /// FINESS ET number of the EG the findings are about or belong to.
    pub finess: Option<Code>,
    /// Catégories d'établissement of the EG (TRE_R66), any of.
    pub categories: Vec<Code>,
}

impl QualityFilter {
    fn accepts(&self, dataset: &Dataset, placed: &Placed) -> bool {
        let rule = placed.finding.rule.rule();
        let eg = placed.eg.map(|eg| &dataset.egs[eg as usize]);
        (self.rules.is_empty() || self.rules.contains(&rule.id))
            && (self.severities.is_empty() || self.severities.contains(&rule.severity))
            && (self.regions.is_empty() || placed.region.as_ref().is_some_and(|region| self.regions.contains(region)))
            && (self.departements.is_empty()
                || placed.departement.as_ref().is_some_and(|departement| self.departements.contains(departement)))
            && self.finess.as_ref().is_none_or(|finess| eg.and_then(|eg| eg.finess.as_ref()) == Some(finess))
            && (self.categories.is_empty()
                || eg.and_then(|eg| eg.category.as_ref()).is_some_and(|category| self.categories.contains(category)))
    }
}

/// The findings a filter kept, in report order.
pub struct Selection<'a> {
    engine: &'a Engine,
    report: &'a QualityReport,
    findings: Vec<&'a Placed>,
}

/// One finding as answers and exports show it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FindingView<'a> {
    /// Rule code (`offer_stale`).
    pub rule: &'static str,
    /// French label of the rule.
    pub label: &'static str,
    /// Severity of the rule.
    pub severity: Severity,
    /// Kind of record: `offer`, `eg`, `location`, `ej`.
    pub record_type: Subject,
    /// FHIR id of the record.
    pub record_id: &'a str,
    /// FINESS ET number of the EG the record is or belongs to.
    pub finess: Option<&'a str>,
    /// Name of that EG.
    pub eg_name: Option<&'a str>,
    /// Name of the record (the offer's, the location's; the EG's for an EG).
    pub name: Option<&'a str>,
    /// INSEE région code.
    pub region: Option<&'a str>,
    /// INSEE département code.
    pub departement: Option<&'a str>,
    /// Catégorie d'établissement of the EG (TRE_R66).
    pub category: Option<&'a str>,
    /// Label of that category.
    pub category_label: Option<&'static str>,
    /// The offending values.
    pub values: &'a str,
    /// When the data at fault was last updated (RFC 3339, UTC).
    pub updated_at: Option<String>,
}

/// A count of findings under a key.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KeyCount {
    /// The key (a code; empty when unknown).
    pub key: String,
    /// Its label, when it has one.
    pub label: Option<&'static str>,
    /// Findings.
    pub count: u64,
}

/// The count of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleCount {
    /// Rule code.
    pub rule: &'static str,
    /// French label.
    pub label: &'static str,
    /// Severity.
    pub severity: Severity,
    /// Whether live capacity writes keep it current.
    pub live: bool,
    /// Findings (of the selection).
    pub count: u64,
}

/// The counts of a selection.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QualityCounts {
    /// Findings in all.
    pub total: u64,
    /// By rule, every rule listed, in table order.
    pub by_rule: Vec<RuleCount>,
    /// By severity.
    pub by_severity: Vec<KeyCount>,
    /// By INSEE région code.
    pub by_region: Vec<KeyCount>,
    /// By INSEE département code.
    pub by_departement: Vec<KeyCount>,
    /// By catégorie d'établissement of the EG.
    pub by_category: Vec<KeyCount>,
}

impl<'a> Selection<'a> {
    /// Number of findings kept.
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// Whether none was kept.
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// When the report was computed.
    pub fn computed_at(&self) -> UnixSeconds {
        self.report.computed_at
    }

    /// The counts by rule, severity, région, département and category.
    pub fn counts(&self) -> QualityCounts {
        let dataset = &self.engine.data().dataset;
        let mut by_rule: FxHashMap<RuleId, u64> = FxHashMap::default();
        let mut by_severity: FxHashMap<Severity, u64> = FxHashMap::default();
        let mut by_region: std::collections::BTreeMap<&str, u64> = Default::default();
        let mut by_departement: std::collections::BTreeMap<&str, u64> = Default::default();
        let mut by_category: std::collections::BTreeMap<&str, u64> = Default::default();
        for placed in &self.findings {
            let rule = placed.finding.rule.rule();
            *by_rule.entry(rule.id).or_default() += 1;
            *by_severity.entry(rule.severity).or_default() += 1;
            *by_region.entry(placed.region.as_deref().unwrap_or("")).or_default() += 1;
            *by_departement.entry(placed.departement.as_deref().unwrap_or("")).or_default() += 1;
            let category = placed.eg.and_then(|eg| dataset.egs[eg as usize].category.as_deref()).unwrap_or("");
            *by_category.entry(category).or_default() += 1;
        }
        let keyed = |map: std::collections::BTreeMap<&str, u64>, label: &dyn Fn(&str) -> Option<&'static str>| {
            map.into_iter().map(|(key, count)| KeyCount { key: key.to_owned(), label: label(key), count }).collect()
        };
        QualityCounts {
            total: self.findings.len() as u64,
            by_rule: RULES
                .iter()
                .map(|rule| RuleCount {
                    rule: rule.code,
                    label: rule.label_fr,
                    severity: rule.severity,
                    live: rule.live,
                    count: by_rule.get(&rule.id).copied().unwrap_or(0),
                })
                .collect(),
            by_severity: Severity::ALL
                .iter()
                .map(|severity| KeyCount {
                    key: severity.as_str().to_owned(),
                    label: Some(severity.label_fr()),
                    count: by_severity.get(severity).copied().unwrap_or(0),
                })
                .collect(),
            by_region: keyed(by_region, &|_| None),
            by_departement: keyed(by_departement, &|_| None),
            by_category: keyed(by_category, &|code| CodeSystem::CategorieEtablissement.label(code)),
        }
    }

    /// The findings from `offset`, at most `limit` of them.
    pub fn page(&self, offset: usize, limit: usize) -> Vec<FindingView<'a>> {
        self.findings.iter().skip(offset).take(limit).map(|placed| self.view(placed)).collect()
    }

    /// Every finding kept, in order.
    pub fn views(&self) -> impl Iterator<Item = FindingView<'a>> + '_ {
        self.findings.iter().map(|placed| self.view(placed))
    }

    fn view(&self, placed: &'a Placed) -> FindingView<'a> {
        let dataset = &self.engine.data().dataset;
        let finding = &placed.finding;
        let rule = finding.rule.rule();
        let eg = placed.eg.map(|eg| &dataset.egs[eg as usize]);
        let name = match finding.record {
            RecordRef::Offer(index) => Some(dataset.offers[index as usize].name.as_str()),
            RecordRef::Eg(index) => Some(dataset.egs[index as usize].name.as_str()),
            RecordRef::Location(index) => dataset.locations[index as usize].name.as_deref(),
            RecordRef::Ej(index) => dataset.ejs[index as usize].name.as_deref(),
        };
        let category = eg.and_then(|eg| eg.category.as_deref());
        FindingView {
            rule: rule.code,
            label: rule.label_fr,
            severity: rule.severity,
            record_type: finding.record.subject(),
            record_id: finding.record.id(dataset),
            finess: eg.and_then(|eg| eg.finess.as_deref()),
            eg_name: eg.map(|eg| eg.name.as_str()),
            name,
            region: placed.region.as_deref(),
            departement: placed.departement.as_deref(),
            category,
            category_label: category.and_then(|code| CodeSystem::CategorieEtablissement.label(code)),
            values: &finding.values,
            updated_at: finding.updated_at.map(format_rfc3339),
        }
    }
}
