//! The live capacity service: every write is logged durably (group commit, see
//! [`crate::live::log`]), then applied to the served engine in log order, then acknowledged.
//!
//! * **Order.** Writes are applied in sequence order, whatever order their fsyncs return in:
//!   a write waits in `pending` until every earlier sequence is applied, and consecutive ready
//!   writes are applied as one batch (one swap of the engine's live view). A write is applied
//!   by a spawned task, so a client that disconnects never leaves a hole in the sequence.
//! * **Restart.** The log is replayed onto the first snapshot served; a torn tail is reported
//!   and dropped by the log.
//! * **New snapshot.** Every logged write is replayed onto it before it is swapped in (last
//!   writer wins by `capacityUpdateDate`, so the snapshot wins where it is newer), under the
//!   apply lock, so no write is lost between the replay and the swap; then the entries the
//!   snapshot covers (every change older than what it holds, or its location gone) are
//!   compacted out of the log. A write refused when applied (no record to replace or delete,
//!   or its location gone: answered "nothing applied") is never replayed onto a later snapshot,
//!   and leaves the log at the next swap.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::engine::live::ChangeOutcome;
use crate::engine::{CapacityWrite, Engine};
use crate::live::log::{Log, LogError, ReplayReport};
use crate::live::write::LoggedWrite;
use crate::util::time::{UnixSeconds, now};

/// What became of one write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteResult {
    /// Its sequence number in the log (the location's new version when it applied).
    pub sequence: u64,
    /// The outcome of each change, in order; empty when the location is not in the snapshot.
    pub outcomes: Vec<ChangeOutcome>,
    /// Whether the location exists in the snapshot served.
    pub location_found: bool,
}

impl WriteResult {
    /// Whether the write changed the served state (all its changes, or none, apply).
    pub fn applied(&self) -> bool {
        !self.refused() && self.outcomes.iter().any(ChangeOutcome::applied)
    }

    /// Whether the write was refused when applied (answered "nothing applied"): its location
    /// is not in the snapshot, or a change found no record to replace or delete.
    fn refused(&self) -> bool {
        !self.location_found || self.outcomes.contains(&ChangeOutcome::NoSuchRecord)
    }

    fn gone(sequence: u64) -> WriteResult {
        WriteResult { sequence, outcomes: Vec::new(), location_found: false }
    }
}

/// Why a write could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The log refused it (I/O error, or a failed log): nothing was acknowledged.
    #[error("capacity log: {0}")]
    Log(#[from] LogError),
    /// No snapshot is served yet.
    #[error("no snapshot is loaded yet")]
    NotReady,
    /// The task applying it stopped.
    #[error("the write was interrupted")]
    Interrupted,
}

/// Counters of the service, for `/metrics`.
#[derive(Debug, Default)]
pub struct CapacityMetrics {
    /// Writes applied.
    pub applied: AtomicU64,
    /// Writes ignored: every change older than what was held.
    pub ignored: AtomicU64,
    /// Writes not applied: no record to replace or delete.
    pub no_such_record: AtomicU64,
    /// Writes to a location the snapshot does not have.
    pub location_gone: AtomicU64,
    /// Requests rejected before the log (bad body, unknown location, business rule), by reason.
    pub rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Entries replayed at start-up, and how long it took (microseconds).
    pub replayed: AtomicU64,
    /// Replay duration at start-up (reading the log, then applying it onto the first
    /// snapshot), microseconds.
    pub replay_micros: AtomicU64,
}

impl CapacityMetrics {
    /// Counts a request rejected before the log.
    pub fn reject(&self, reason: &'static str) {
        *self.rejected.lock().unwrap_or_else(PoisonError::into_inner).entry(reason).or_default() += 1;
    }
}

struct ApplyState {
    /// The next sequence to apply.
    next: u64,
    /// Writes logged but waiting for an earlier sequence.
    pending: BTreeMap<u64, (LoggedWrite, oneshot::Sender<WriteResult>)>,
    /// Every write in the log, in order (replayed onto each new snapshot), except the refused.
    history: Vec<(u64, LoggedWrite)>,
    /// Writes refused when applied (no record to replace or delete, or the location gone):
    /// answered "nothing applied", so never replayed onto a later snapshot, and compacted out
    /// of the log at the next swap.
    refused: Vec<u64>,
}

/// The live capacity service of one index.
pub struct CapacityService {
    log: Log,
    state: Mutex<ApplyState>,
    /// What the log said at start-up.
    pub replay: ReplayReport,
    /// How long reading and decoding the log took at start-up, microseconds.
    open_micros: u64,
    /// Counters.
    pub metrics: CapacityMetrics,
}

impl std::fmt::Debug for CapacityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapacityService").field("log", &self.log.path()).finish()
    }
}

/// The file of the log in an index directory.
pub const LOG_FILE: &str = "capacity.log";

impl CapacityService {
    /// Opens (or creates) the log in `index_dir`; its writes are replayed onto the first
    /// snapshot swapped in. An entry that does not decode is an error (the log is checksummed,
    /// so it means another program's file).
    pub fn open(index_dir: &Path) -> Result<CapacityService, OpenError> {
        let started = Instant::now();
        let (log, replay) = Log::open(index_dir.join(LOG_FILE))?;
        let mut history = Vec::with_capacity(replay.entries.len());
        for entry in &replay.entries {
            history.push((entry.sequence, LoggedWrite::decode(entry.sequence, &entry.payload)?));
        }
        if let Some(tail) = &replay.report.tail {
            tracing::warn!(
                offset = tail.offset,
                bytes_dropped = tail.bytes_dropped,
                reason = ?tail.reason,
                "capacity log: torn tail dropped (those writes were never acknowledged)"
            );
        }
        tracing::info!(entries = history.len(), last_sequence = log.last_sequence(), "capacity log opened");
        let next = log.last_sequence() + 1;
        Ok(CapacityService {
            log,
            state: Mutex::new(ApplyState { next, pending: BTreeMap::new(), history, refused: Vec::new() }),
            replay: replay.report,
            open_micros: started.elapsed().as_micros() as u64,
            metrics: CapacityMetrics::default(),
        })
    }

    /// The log (for its metrics).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Logs `writes` durably, applies them to the engine `current` gives (in log order), and
    /// returns what became of each. Nothing is acknowledged before it is fsynced.
    pub async fn write(
        self: &Arc<Self>,
        current: Arc<dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync>,
        writes: Vec<LoggedWrite>,
    ) -> Result<Vec<WriteResult>, WriteError> {
        if current().is_none() {
            return Err(WriteError::NotReady);
        }
        let this = self.clone();
        let (answer, answered) = oneshot::channel();
        // A task of its own: dropping the request future must not leave a logged write unapplied.
        tokio::spawn(async move {
            let payloads = writes.iter().map(LoggedWrite::encode).collect();
            // Kept for the audit log lines, written once the writer has its answer.
            let audit = writes.clone();
            let sequences = match this.log.submit(payloads).await {
                Ok(sequences) => sequences,
                Err(error) => {
                    let _ = answer.send(Err(WriteError::from(error)));
                    return;
                }
            };
            let mut receivers = Vec::with_capacity(writes.len());
            {
                let mut state = this.state.lock().unwrap_or_else(PoisonError::into_inner);
                for (sequence, write) in sequences.into_iter().zip(writes) {
                    let (sender, receiver) = oneshot::channel();
                    state.pending.insert(sequence, (write, sender));
                    receivers.push(receiver);
                }
                this.apply_ready(&mut state, current.as_ref());
            }
            let mut results = Vec::with_capacity(receivers.len());
            for receiver in receivers {
                match receiver.await {
                    Ok(result) => results.push(result),
                    Err(_) => {
                        let _ = answer.send(Err(WriteError::Interrupted));
                        return;
                    }
                }
            }
            let _ = answer.send(Ok(results.clone()));
            for (write, result) in audit.iter().zip(&results) {
                log_write(write, result);
            }
        });
        answered.await.map_err(|_| WriteError::Interrupted)?
    }

    /// Applies every pending write whose turn has come, as one batch.
    fn apply_ready(&self, state: &mut ApplyState, current: &(dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync)) {
        let mut ready = Vec::new();
        while let Some((write, sender)) = state.pending.remove(&state.next) {
            ready.push((state.next, write, sender));
            state.next += 1;
        }
        if ready.is_empty() {
            return;
        }
        let loaded = current();
        let at = now();
        let entries: Vec<(u64, &LoggedWrite)> = ready.iter().map(|(sequence, write, _)| (*sequence, write)).collect();
        let mut results = Vec::with_capacity(entries.len());
        match &loaded {
            Some(loaded) => apply_entries(&loaded.engine, &entries, at, |result| results.push(result)),
            None => results.extend(entries.iter().map(|(sequence, _)| WriteResult::gone(*sequence))),
        }
        for ((sequence, write, sender), result) in ready.into_iter().zip(results) {
            self.count(&result);
            if result.refused() {
                state.refused.push(sequence);
            } else {
                state.history.push((sequence, write));
            }
            let _ = sender.send(result);
        }
    }

    fn count(&self, result: &WriteResult) {
        let counter = if !result.location_found {
            &self.metrics.location_gone
        } else if result.outcomes.contains(&ChangeOutcome::NoSuchRecord) {
            &self.metrics.no_such_record
        } else if result.applied() {
            &self.metrics.applied
        } else {
            &self.metrics.ignored
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Replays every logged write onto `engine`, then runs `swap` (which serves it), with writes
    /// held back meanwhile; then compacts out of the log what `engine`'s snapshot covers.
    /// Returns what `swap` returned.
    pub fn carry_onto<T>(&self, engine: &Engine, swap: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let (swapped, covered, replayed) = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let refused = std::mem::take(&mut state.refused);
            let entries: Vec<(u64, &LoggedWrite)> =
                state.history.iter().map(|(sequence, write)| (*sequence, write)).collect();
            let mut covered = refused;
            apply_entries(engine, &entries, now(), |result| {
                if !result.location_found
                    || result.outcomes.iter().all(|outcome| matches!(outcome, ChangeOutcome::Older { .. }))
                {
                    covered.push(result.sequence);
                }
            });
            covered.sort_unstable();
            // The start-up figures are in place before the snapshot serves (and `/readyz` says so).
            if self.metrics.replay_micros.load(Ordering::Relaxed) == 0 {
                let micros = self.open_micros + started.elapsed().as_micros() as u64;
                self.metrics.replayed.store(entries.len() as u64, Ordering::Relaxed);
                self.metrics.replay_micros.store(micros.max(1), Ordering::Relaxed);
            }
            (swap(), covered, entries.len())
        };
        let micros = started.elapsed().as_micros() as u64;
        tracing::info!(replayed, covered = covered.len(), micros, snapshot = %engine.manifest().snapshot_id, "live capacities carried onto the snapshot");
        if !covered.is_empty() {
            self.compact(&covered);
        }
        swapped
    }

    /// Drops the covered entries from the log and the history.
    fn compact(&self, covered: &[u64]) {
        match self.log.compact(|sequence, _| covered.binary_search(&sequence).is_err()) {
            Ok(report) => {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                state.history.retain(|(sequence, _)| covered.binary_search(sequence).is_err());
                tracing::info!(before = report.records_before, kept = report.records_kept, "capacity log compacted");
            }
            Err(error) => tracing::error!(%error, "capacity log compaction failed; the log keeps every entry"),
        }
    }

    /// Entries in the history (replayed onto the next snapshot).
    pub fn history_len(&self) -> usize {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).history.len()
    }
}

/// Applies logged writes to an engine in one batch, in order, handing `each` what became of
/// every one (in order).
fn apply_entries(engine: &Engine, entries: &[(u64, &LoggedWrite)], at: UnixSeconds, mut each: impl FnMut(WriteResult)) {
    let mut writes = Vec::with_capacity(entries.len());
    // The entry each write comes from; entries whose location is gone are answered in order
    // around the applied ones.
    let mut entry_of_write = Vec::with_capacity(entries.len());
    for (index, (sequence, write)) in entries.iter().enumerate() {
        if let Some(location) = engine.location_by_id(&write.location_id) {
            writes.push(CapacityWrite { location, changes: write.changes.as_slice().into(), version: *sequence, at });
            entry_of_write.push(index);
        }
    }
    let mut next = 0;
    engine.apply_capacity_with(&writes, |write, outcomes| {
        let entry = entry_of_write[write];
        for (sequence, _) in &entries[next..entry] {
            each(WriteResult::gone(*sequence));
        }
        each(WriteResult { sequence: entries[entry].0, outcomes, location_found: true });
        next = entry + 1;
    });
    for (sequence, _) in &entries[next..] {
        each(WriteResult::gone(*sequence));
    }
}

/// Every write is logged with who, what, before and after.
fn log_write(write: &LoggedWrite, result: &WriteResult) {
    tracing::info!(
        sequence = result.sequence,
        who = %write.who,
        location = %write.location_id,
        applied = result.applied(),
        changes = ?write.changes,
        outcomes = ?result.outcomes,
        "capacity write"
    );
}

/// Why the service could not open its log.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The log file is refused.
    #[error(transparent)]
    Log(#[from] LogError),
    /// An entry does not decode.
    #[error(transparent)]
    Decode(#[from] crate::live::write::DecodeError),
}

/// Appends the service's metrics in the Prometheus text format.
pub fn render_metrics(
    service: &CapacityService,
    newest_write_at: Option<UnixSeconds>,
    now: UnixSeconds,
    out: &mut String,
) {
    use std::fmt::Write as _;
    let metrics = &service.metrics;
    let _ = writeln!(out, "# HELP ror_search_capacity_writes_total Capacity writes logged, by what became of them.");
    let _ = writeln!(out, "# TYPE ror_search_capacity_writes_total counter");
    for (result, counter) in [
        ("applied", &metrics.applied),
        ("ignored_older", &metrics.ignored),
        ("no_such_record", &metrics.no_such_record),
        ("location_gone", &metrics.location_gone),
    ] {
        let _ = writeln!(
            out,
            "ror_search_capacity_writes_total{{result=\"{result}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ =
        writeln!(out, "# HELP ror_search_capacity_rejected_total Capacity requests refused before the log, by reason.");
    let _ = writeln!(out, "# TYPE ror_search_capacity_rejected_total counter");
    for (reason, count) in metrics.rejected.lock().unwrap_or_else(PoisonError::into_inner).iter() {
        let _ = writeln!(out, "ror_search_capacity_rejected_total{{reason=\"{reason}\"}} {count}");
    }
    let log = service.log.metrics();
    for (name, help, value) in [
        ("ror_search_capacity_log_records", "Entries in the capacity log.", log.records as f64),
        ("ror_search_capacity_log_bytes", "Bytes of the capacity log.", log.bytes as f64),
        (
            "ror_search_capacity_log_last_sequence",
            "Sequence number of the last logged write.",
            log.last_sequence as f64,
        ),
        ("ror_search_capacity_log_commits_total", "Group commits (one fsync each).", log.commits as f64),
        ("ror_search_capacity_log_last_fsync_seconds", "Duration of the last fsync.", log.last_fsync.as_secs_f64()),
        (
            "ror_search_capacity_replay_entries",
            "Entries replayed at start-up.",
            metrics.replayed.load(Ordering::Relaxed) as f64,
        ),
        (
            "ror_search_capacity_replay_seconds",
            "Duration of the start-up replay: reading the capacity log, then applying it onto the first snapshot.",
            metrics.replay_micros.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "ror_search_capacity_newest_write_age_seconds",
            "Age of the newest capacityUpdateDate written since the snapshot (-1: none).",
            newest_write_at.map_or(-1.0, |at| (now - at) as f64),
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {value}");
    }
}
