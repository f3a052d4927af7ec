//! The quality trend between snapshots: each snapshot stores the keys of its findings as of its
//! build (`quality.bin`: rule, kind of record, FHIR id), and its manifest the counts by rule
//! with what changed since the snapshot it replaced: fixed (in the previous, not in this one),
//! new (the reverse) and still open (in both).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::check::{CheckIndex, Checker};
use super::{Finding, IngestRemark, static_findings};
use crate::model::Dataset;
use crate::model::place::Commune;
use crate::model::quality::{RULES, RuleId, Subject};
use crate::util::time::UnixSeconds;

/// The file of the finding keys in a snapshot directory.
pub const FILE: &str = "quality.bin";

/// What identifies a finding across snapshots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FindingKey {
    /// The rule.
    pub rule: RuleId,
    /// The kind of record.
    pub subject: Subject,
    /// Its FHIR id.
    pub id: String,
}

/// Every finding of a dataset as of `now`, on its own capacity records (no live write).
pub(crate) fn dataset_findings(
    dataset: &Dataset,
    communes: &[Commune],
    remarks: &[IngestRemark],
    now: UnixSeconds,
) -> Vec<Finding> {
    let index = CheckIndex::new(dataset);
    let checker = Checker::new(&index, dataset, communes);
    let mut findings = static_findings(&checker, remarks, now);
    let records = |location: u32| dataset.locations[location as usize].capacities.as_slice();
    let capacity: Vec<Finding> = (0..dataset.offers.len() as u32)
        .into_par_iter()
        .fold(Vec::new, |mut out, offer| {
            checker.offer_capacity(offer, &records, now, &mut out);
            out
        })
        .flatten()
        .chain(
            (0..dataset.locations.len() as u32)
                .into_par_iter()
                .fold(Vec::new, |mut out, location| {
                    checker.location_capacity(location, records(location), now, &mut out);
                    out
                })
                .flatten(),
        )
        .collect();
    findings.extend(capacity);
    findings
}

/// The keys of a dataset's findings as of `now`, sorted and deduplicated.
pub fn finding_keys(
    dataset: &Dataset,
    communes: &[Commune],
    remarks: &[IngestRemark],
    now: UnixSeconds,
) -> Vec<FindingKey> {
    let mut keys: Vec<FindingKey> = dataset_findings(dataset, communes, remarks, now)
        .into_iter()
        .map(|finding| FindingKey {
            rule: finding.rule,
            subject: finding.record.subject(),
            id: finding.record.id(dataset).to_owned(),
        })
        .collect();
    keys.par_sort_unstable();
    keys.dedup();
    keys
}

/// The bytes of `quality.bin`.
pub fn encode(keys: &[FindingKey]) -> Vec<u8> {
    postcard::to_allocvec(keys).expect("finding keys always serialise")
}

/// Reads `quality.bin` back.
pub fn decode(bytes: &[u8]) -> Result<Vec<FindingKey>, postcard::Error> {
    postcard::from_bytes(bytes)
}

/// The counts of one rule in a snapshot, and their change since the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleTrend {
    /// Rule code.
    pub rule: String,
    /// Findings in this snapshot (records: a record counts once per rule).
    pub count: u64,
    /// Findings in the previous snapshot (none when there was none to compare with).
    pub previous: Option<u64>,
    /// In the previous snapshot, not in this one.
    pub fixed: Option<u64>,
    /// In this snapshot, not in the previous one.
    pub new: Option<u64>,
    /// In both.
    pub still_open: Option<u64>,
}

/// The quality counts of a snapshot by rule, against the snapshot it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QualityTrend {
    /// Id of the previous snapshot, when one was there to compare with.
    pub previous_snapshot: Option<String>,
    /// Its build time (RFC 3339).
    pub previous_built_at: Option<String>,
    /// Every rule, in table order.
    pub by_rule: Vec<RuleTrend>,
}

/// The trend of `current` against `previous` (its id, build time and keys).
pub fn trend(current: &[FindingKey], previous: Option<(String, String, &[FindingKey])>) -> QualityTrend {
    let count_by_rule = |keys: &[FindingKey]| {
        let mut counts: BTreeMap<RuleId, u64> = BTreeMap::new();
        for key in keys {
            *counts.entry(key.rule).or_default() += 1;
        }
        counts
    };
    let current_counts = count_by_rule(current);
    let compared = previous.as_ref().map(|(_, _, keys)| {
        let previous_counts = count_by_rule(keys);
        let mut still_open: BTreeMap<RuleId, u64> = BTreeMap::new();
        // Both are sorted: one merge.
        let (mut i, mut j) = (0, 0);
        while i < current.len() && j < keys.len() {
            match current[i].cmp(&keys[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    *still_open.entry(current[i].rule).or_default() += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        (previous_counts, still_open)
    });
    let by_rule = RULES
        .iter()
        .map(|rule| {
            let count = current_counts.get(&rule.id).copied().unwrap_or(0);
            let (previous, fixed, new, still_open) = match &compared {
                Some((previous_counts, still_open)) => {
                    let previous = previous_counts.get(&rule.id).copied().unwrap_or(0);
                    let open = still_open.get(&rule.id).copied().unwrap_or(0);
                    (Some(previous), Some(previous - open), Some(count - open), Some(open))
                }
                None => (None, None, None, None),
            };
            RuleTrend { rule: rule.code.to_owned(), count, previous, fixed, new, still_open }
        })
        .collect();
    let (previous_snapshot, previous_built_at) = match previous {
        Some((id, built_at, _)) => (Some(id), Some(built_at)),
        None => (None, None),
    };
    QualityTrend { previous_snapshot, previous_built_at, by_rule }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rule: RuleId, id: &str) -> FindingKey {
        FindingKey { rule, subject: Subject::Offer, id: id.into() }
    }

    #[test]
    fn fixed_new_and_still_open() {
        let mut previous =
            vec![key(RuleId::OfferStale, "a"), key(RuleId::OfferStale, "b"), key(RuleId::AgeRangeInverted, "c")];
        let mut current =
            vec![key(RuleId::OfferStale, "b"), key(RuleId::OfferStale, "d"), key(RuleId::OfferStale, "e")];
        previous.sort();
        current.sort();
        let trend = trend(&current, Some(("old".into(), "2026-01-01T00:00:00Z".into(), &previous)));
        let stale = trend.by_rule.iter().find(|row| row.rule == "offer_stale").unwrap();
        assert_eq!(
            (stale.count, stale.previous, stale.fixed, stale.new, stale.still_open),
            (3, Some(2), Some(1), Some(2), Some(1))
        );
        let inverted = trend.by_rule.iter().find(|row| row.rule == "age_range_inverted").unwrap();
        assert_eq!((inverted.count, inverted.fixed, inverted.new), (0, Some(1), Some(0)));
        assert_eq!(trend.previous_snapshot.as_deref(), Some("old"));
        let first = super::trend(&current, None);
        assert!(first.by_rule.iter().all(|row| row.previous.is_none() && row.fixed.is_none()));
        assert_eq!(decode(&encode(&current)).unwrap(), current);
    }
}
