//! The sync's persisted state (`<index>/sync/state.json`): where the upstream was read up to,
//! which snapshot holds it, the capacity changes not yet in a snapshot, and the figures of the
//! last pulls. Written to a temporary file, fsynced and renamed: a crash leaves the previous
//! state, and the pull after it is asked again (pulls are idempotent).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::delta::{CapacityUpdate, DeltaSummary};
use crate::util::time::UnixSeconds;

/// The state file's name in the sync directory.
pub(crate) const STATE_FILE: &str = "state.json";

/// What the last full pull's reconciliation found: what the deltas since the previous full
/// pull had missed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Resources (by type) in the upstream but not in the state the deltas kept.
    pub missing: BTreeMap<String, u64>,
    /// Resources (by type) the deltas kept that the upstream no longer has.
    pub extra: BTreeMap<String, u64>,
    /// Resources (by type) held by both but different.
    pub different: BTreeMap<String, u64>,
}

impl Reconciliation {
    /// Differences, all kinds and types together.
    pub fn total(&self) -> u64 {
        self.missing.values().chain(self.extra.values()).chain(self.different.values()).sum()
    }
}

/// The figures of one pull, as kept in the state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PullRecord {
    /// `full` or `delta`.
    pub kind: String,
    /// When it finished (Unix seconds).
    pub finished_at: UnixSeconds,
    /// How long it took, seconds.
    pub seconds: f64,
    /// The snapshot it made, if any.
    pub snapshot: Option<String>,
    /// Records read, accepted, rejected, ignored (of a full pull; of a delta, what was read again).
    pub read: u64,
    /// Accepted records.
    pub accepted: u64,
    /// Rejected records.
    pub rejected: u64,
    /// Ignored records.
    pub ignored: u64,
    /// The delta's figures.
    #[serde(default)]
    pub delta: Option<DeltaSummary>,
    /// Capacity changes sent to the live path.
    #[serde(default)]
    pub live_writes: u64,
}

/// The state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncState {
    /// The upstream it was read from (a state of another upstream is not resumed).
    pub upstream: String,
    /// The upstream's time up to which everything is held (the next delta asks from there,
    /// less the overlap).
    pub high_water_mark: Option<UnixSeconds>,
    /// When the last full pull finished.
    pub last_full_at: Option<UnixSeconds>,
    /// The snapshot directory that holds the state.
    pub snapshot_dir: Option<PathBuf>,
    /// Its id.
    pub snapshot_id: Option<String>,
    /// Capacity changes sent to the live path and not yet in a snapshot, by Location id.
    #[serde(default)]
    pub pending_capacities: BTreeMap<String, CapacityUpdate>,
    /// The last full pull's reconciliation.
    #[serde(default)]
    pub reconciliation: Option<Reconciliation>,
    /// The last pulls, newest last (at most 20).
    #[serde(default)]
    pub pulls: Vec<PullRecord>,
    /// Pulls that failed since the last one that worked, and the last error.
    #[serde(default)]
    pub failures: u64,
    /// The last error, if the last pull failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl SyncState {
    /// Reads the state of `dir`; none when there is no file yet.
    pub fn load(dir: &Path) -> Result<Option<SyncState>, String> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map(Some).map_err(|error| format!("{}: {error}", path.display()))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("{}: {error}", path.display())),
        }
    }

    /// Writes the state into `dir`, atomically.
    pub(crate) fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(STATE_FILE);
        let temporary = dir.join(format!(".{STATE_FILE}.tmp"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        if let Ok(directory) = std::fs::File::open(dir) {
            let _ = directory.sync_all();
        }
        Ok(())
    }

    /// The Prometheus lines of the sync (for `/metrics`).
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let mut gauge = |name: &str, help: &str, lines: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        gauge(
            "ror_sync_high_water_mark_seconds",
            "Upstream time up to which the sync holds everything (Unix seconds).",
            &[(String::new(), self.high_water_mark.unwrap_or(0) as f64)],
        );
        gauge(
            "ror_sync_last_full_pull_seconds",
            "When the last full pull finished (Unix seconds).",
            &[(String::new(), self.last_full_at.unwrap_or(0) as f64)],
        );
        gauge(
            "ror_sync_failures",
            "Steps failed since the last one that landed.",
            &[(String::new(), self.failures as f64)],
        );
        gauge(
            "ror_sync_pending_capacities",
            "Locations whose capacity changes went to the live path and are not yet in a snapshot.",
            &[(String::new(), self.pending_capacities.len() as f64)],
        );
        if let Some(pull) = self.pulls.last() {
            let kind = if pull.kind.starts_with("full") { "full" } else { "delta" };
            gauge(
                "ror_sync_last_pull_records",
                "Records of the last pull, by outcome (a delta counts what it read again).",
                &[
                    (format!("{{kind=\"{kind}\",outcome=\"read\"}}"), pull.read as f64),
                    (format!("{{kind=\"{kind}\",outcome=\"accepted\"}}"), pull.accepted as f64),
                    (format!("{{kind=\"{kind}\",outcome=\"rejected\"}}"), pull.rejected as f64),
                    (format!("{{kind=\"{kind}\",outcome=\"ignored\"}}"), pull.ignored as f64),
                ],
            );
            gauge(
                "ror_sync_last_pull_duration_seconds",
                "How long the last pull took.",
                &[(format!("{{kind=\"{kind}\"}}"), pull.seconds)],
            );
            gauge(
                "ror_sync_last_pull_finished_seconds",
                "When the last pull finished (Unix seconds).",
                &[(String::new(), pull.finished_at as f64)],
            );
        }
        if let Some(reconciliation) = &self.reconciliation {
            gauge(
                "ror_sync_reconciled_differences",
                "What the deltas had missed, found by the last full pull.",
                &[(String::new(), reconciliation.total() as f64)],
            );
        }
    }

    /// Keeps the record of a pull (the last 20).
    pub(crate) fn record(&mut self, pull: PullRecord) {
        self.pulls.push(pull);
        let excess = self.pulls.len().saturating_sub(20);
        self.pulls.drain(..excess);
        self.failures = 0;
        self.last_error = None;
    }
}
