//! The accounting of an ingest: every record read is accepted, rejected (with where and why)
//! or ignored by type, and the three add up.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts for one resource type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeCounts {
    /// Records read.
    pub read: u64,
    /// Records kept in the dataset.
    pub accepted: u64,
    /// Records refused (each one listed in the rejects).
    pub rejected: u64,
    /// Records of a resource type the engine does not use.
    pub ignored: u64,
}

impl TypeCounts {
    /// Whether `read = accepted + rejected + ignored`.
    pub fn reconciles(&self) -> bool {
        self.read == self.accepted + self.rejected + self.ignored
    }
}

/// One record that did not make it into the snapshot, or was kept with a remark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// `file:line`, `file entry N`, `file element N`.
    pub origin: String,
    /// FHIR resource type, `unknown` when the record could not be read far enough.
    pub resource_type: String,
    /// FHIR logical id, when known.
    pub id: Option<String>,
    /// Why it was rejected, or the remark (the text of `rejects.ndjson`).
    pub reason: String,
}

/// How many issues are kept in memory (and in the manifest summary); the rest are counted.
/// The rejects file beside the snapshot holds them all.
pub(crate) const MAX_ISSUES_KEPT: usize = 100_000;

/// The accounting of one ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Counts over all resource types.
    pub totals: TypeCounts,
    /// Counts per resource type (`unknown` for records that could not be typed).
    pub by_type: BTreeMap<String, TypeCounts>,
    /// Records refused, with where and why.
    pub rejects: Vec<Issue>,
    /// Records kept, with remarks (unknown code in a large catalogue, odd FINESS...).
    pub warnings: Vec<Issue>,
    /// Warnings beyond [`MAX_ISSUES_KEPT`], counted only.
    pub(crate) warnings_dropped: u64,
    /// Items of a container that held no resource (e.g. a `Bundle.entry` with only a request);
    /// not records, listed for completeness.
    pub(crate) empty_entries: u64,
}

impl IngestReport {
    /// Whether the totals and every type reconcile.
    pub fn reconciles(&self) -> bool {
        self.totals.reconciles() && self.by_type.values().all(TypeCounts::reconciles)
    }

    /// Counts of rejects by the first words of their reason (up to the first `:`), largest
    /// first; a compact summary for logs and `inspect`.
    pub(crate) fn reject_summary(&self) -> Vec<(String, u64)> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for issue in &self.rejects {
            let head = issue.reason.split(':').next().unwrap_or_default();
            // Strip indexes so `extension[3]` and `extension[4]` count together.
            let key: String = head.chars().filter(|c| !c.is_ascii_digit()).collect::<String>().replace("[]", "[*]");
            *counts.entry(format!("{}: {key}", issue.resource_type)).or_default() += 1;
        }
        let mut summary: Vec<_> = counts.into_iter().collect();
        summary.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        summary
    }
}
