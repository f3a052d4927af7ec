//! The live capacity service: every write is logged durably (group commit, see
//! [`crate::live::log`]), then applied to the served engine in log order, then acknowledged.
//!
//! * **Order.** Writes are applied in sequence order by the log's writer thread, once their
//!   commit is durable and before the next commit is written (`Log::submit_then`): the writes
//!   of one commit are applied as one batch (one swap of the engine's live view), then each
//!   request is answered. The writer applies a write whether or not its client is still
//!   there, so a client that disconnects never leaves a hole in the sequence.
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
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::engine::live::ChangeOutcome;
use crate::engine::{CapacityWrite, Engine};
use crate::live::log::{Committed, Log, LogError, ReplayReport};
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
    /// The log stopped before answering it.
    #[error("the write was interrupted")]
    Interrupted,
    /// The cluster's stream did not store it: nothing was acknowledged.
    #[error("capacity stream: {0}")]
    Stream(crate::cluster::ClusterError),
    /// The stream stored it, but this replica has not applied it in time: it will be applied
    /// (here and everywhere), the client should read it back before writing again.
    #[error("the write was stored by the cluster but not yet applied by this replica")]
    NotAppliedYet,
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

/// A durable request waiting for the last request of its commit.
struct Ready {
    sequences: Vec<u64>,
    writes: Vec<LoggedWrite>,
    answer: oneshot::Sender<Result<Vec<WriteResult>, WriteError>>,
}

struct ApplyState {
    /// The requests of the commit being answered, in sequence order.
    ready: Vec<Ready>,
    /// Every write in the log, in order (replayed onto each new snapshot), except the refused.
    history: Vec<(u64, LoggedWrite)>,
    /// Writes refused when applied (no record to replace or delete, or the location gone):
    /// answered "nothing applied", so never replayed onto a later snapshot, and compacted out
    /// of the log at the next swap.
    refused: Vec<u64>,
}

/// Where writes are made durable before they are applied.
enum Durable {
    /// The checksummed log of the index directory (single node).
    Local(Log),
    /// The cluster's JetStream stream (`serve --cluster`).
    Stream(Arc<crate::cluster::stream::CapacityStream>),
}

/// How long a write stored by the cluster's stream may wait for this replica's applier.
const STREAM_APPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The live capacity service of one index.
pub struct CapacityService {
    durable: Durable,
    state: Mutex<ApplyState>,
    /// Stream mode: the writes of this replica's clients that its applier has not applied
    /// yet, by message id.
    waiters: Mutex<std::collections::HashMap<String, oneshot::Sender<WriteResult>>>,
    /// Stream mode: the snapshot the cluster's current key names and the stream position it
    /// covers: the history up to it is dropped when that snapshot is swapped in.
    covers: Mutex<Option<(String, u64)>>,
    /// What the log said at start-up.
    pub replay: ReplayReport,
    /// How long reading and decoding the log took at start-up, microseconds.
    open_micros: u64,
    /// Counters.
    pub metrics: CapacityMetrics,
    audit: Audit,
}

impl std::fmt::Debug for CapacityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.durable {
            Durable::Local(log) => f.debug_struct("CapacityService").field("log", &log.path()).finish(),
            Durable::Stream(stream) => f.debug_struct("CapacityService").field("stream", &stream.progress()).finish(),
        }
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
        Ok(CapacityService {
            durable: Durable::Local(log),
            state: Mutex::new(ApplyState { ready: Vec::new(), history, refused: Vec::new() }),
            waiters: Mutex::default(),
            covers: Mutex::default(),
            replay: replay.report,
            open_micros: started.elapsed().as_micros() as u64,
            metrics: CapacityMetrics::default(),
            audit: Audit::start(),
        })
    }

    /// The service of a replica (`serve --cluster`): writes go to the cluster's stream, which
    /// [`CapacityService::apply_stream`] applies; no local log.
    pub fn on_stream(stream: Arc<crate::cluster::stream::CapacityStream>) -> CapacityService {
        CapacityService {
            durable: Durable::Stream(stream),
            state: Mutex::new(ApplyState { ready: Vec::new(), history: Vec::new(), refused: Vec::new() }),
            waiters: Mutex::default(),
            covers: Mutex::default(),
            replay: ReplayReport::default(),
            open_micros: 0,
            metrics: CapacityMetrics::default(),
            audit: Audit::start(),
        }
    }

    /// The local log (single node), for its metrics.
    pub fn log(&self) -> Option<&Log> {
        match &self.durable {
            Durable::Local(log) => Some(log),
            Durable::Stream(_) => None,
        }
    }

    /// The cluster's stream (replica), for its progress.
    pub fn stream(&self) -> Option<&Arc<crate::cluster::stream::CapacityStream>> {
        match &self.durable {
            Durable::Local(_) => None,
            Durable::Stream(stream) => Some(stream),
        }
    }

    /// Stream mode: notes the stream position `snapshot_id` covers, before it is swapped in.
    pub fn set_covers(&self, snapshot_id: &str, sequence: u64) {
        *self.covers.lock().unwrap_or_else(PoisonError::into_inner) = Some((snapshot_id.to_owned(), sequence));
    }

    /// Logs `writes` durably, applies them to the engine `current` gives (in log order), and
    /// returns what became of each. Nothing is acknowledged before it is fsynced.
    ///
    /// The log's writer thread applies and answers (see [`CapacityService::committed`]): the
    /// request's future only waits, so a client that disconnects never leaves a logged write
    /// unapplied, and a write costs two thread wake-ups (to the writer, back to the request).
    pub async fn write(
        self: &Arc<Self>,
        current: Arc<dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync>,
        writes: Vec<LoggedWrite>,
    ) -> Result<Vec<WriteResult>, WriteError> {
        if current().is_none() {
            return Err(WriteError::NotReady);
        }
        let log = match &self.durable {
            Durable::Local(log) => log,
            Durable::Stream(stream) => return self.write_to_stream(stream, writes).await,
        };
        let (answer, answered) = oneshot::channel();
        let payloads = writes.iter().map(LoggedWrite::encode).collect();
        let this = Arc::clone(self);
        log.submit_then(
            payloads,
            Box::new(move |sequences, committed| {
                let ready = match sequences {
                    Ok(sequences) => Some(Ready { sequences, writes, answer }),
                    Err(error) => {
                        let _ = answer.send(Err(WriteError::from(error)));
                        None
                    }
                };
                this.committed(ready, committed, current.as_ref());
            }),
        );
        answered.await.map_err(|_| WriteError::Interrupted)?
    }

    /// On the log's writer thread, for each request once its commit is durable (in sequence
    /// order; `None` for a request the log failed, already answered): gathers the commit's
    /// writes and, at its last request, applies them as one batch
    /// (one swap of the engine's live view), counts and answers each request, keeps the writes
    /// for the next snapshot and hands their audit lines to the audit thread.
    fn committed(
        &self,
        request: Option<Ready>,
        committed: Committed,
        current: &(dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync),
    ) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.ready.extend(request);
        if !committed.last || state.ready.is_empty() {
            return;
        }
        let ready = std::mem::take(&mut state.ready);
        let mut lengths = Vec::with_capacity(ready.len());
        let mut answers = Vec::with_capacity(ready.len());
        let mut writes = Vec::with_capacity(ready.len());
        for request in ready {
            lengths.push(request.writes.len());
            answers.push(request.answer);
            writes.extend(request.sequences.into_iter().zip(request.writes));
        }
        let applied = self.apply_durable(&mut state, writes, current, true);
        let mut applied = applied.into_iter();
        let mut audit = Vec::with_capacity(lengths.len());
        for (length, answer) in lengths.into_iter().zip(answers) {
            let mine: Vec<(LoggedWrite, WriteResult)> = applied.by_ref().take(length).collect();
            let _ = answer.send(Ok(mine.iter().map(|(_, result)| result.clone()).collect()));
            audit.extend(mine);
        }
        drop(state);
        self.audit.send(audit);
    }

    /// Applies durable writes (in sequence order) to the engine `current` gives, as one batch:
    /// counts each (before any answer: a client reading the metrics next finds its write),
    /// keeps it for the next snapshot, and returns each with what became of it. `keep_refused`
    /// false (stream mode) keeps the refused writes in the history too: every replica then
    /// replays the same writes onto a new snapshot, whatever snapshot each first applied them on.
    fn apply_durable(
        &self,
        state: &mut ApplyState,
        writes: Vec<(u64, LoggedWrite)>,
        current: &(dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync),
        keep_refused: bool,
    ) -> Vec<(LoggedWrite, WriteResult)> {
        let entries: Vec<(u64, &LoggedWrite)> = writes.iter().map(|(sequence, write)| (*sequence, write)).collect();
        let mut results = Vec::with_capacity(entries.len());
        match current() {
            Some(loaded) => apply_entries(&loaded.engine, &entries, now(), |result| results.push(result)),
            None => results.extend(entries.iter().map(|(sequence, _)| WriteResult::gone(*sequence))),
        }
        drop(entries);
        writes
            .into_iter()
            .zip(results)
            .map(|((_, write), result)| {
                self.count(&result);
                if keep_refused && result.refused() {
                    state.refused.push(result.sequence);
                } else {
                    state.history.push((result.sequence, write.clone()));
                }
                (write, result)
            })
            .collect()
    }

    /// Stream mode: publishes the writes, waits for the cluster to store them and for this
    /// replica's applier to apply them, and returns what became of each here.
    async fn write_to_stream(
        &self,
        stream: &crate::cluster::stream::CapacityStream,
        writes: Vec<LoggedWrite>,
    ) -> Result<Vec<WriteResult>, WriteError> {
        let ids: Vec<String> = writes.iter().map(|_| stream.next_message_id()).collect();
        let mut applied = Vec::with_capacity(ids.len());
        {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            for id in &ids {
                let (answer, answered) = oneshot::channel();
                waiters.insert(id.clone(), answer);
                applied.push(answered);
            }
        }
        let forget = |ids: &[String]| {
            let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
            for id in ids {
                waiters.remove(id);
            }
        };
        if let Err(error) = stream.publish_all(&writes, &ids).await {
            forget(&ids);
            return Err(WriteError::Stream(error));
        }
        let mut results = Vec::with_capacity(applied.len());
        for answered in applied {
            match tokio::time::timeout(STREAM_APPLY_TIMEOUT, answered).await {
                Ok(Ok(result)) => results.push(result),
                _ => {
                    forget(&ids);
                    return Err(WriteError::NotAppliedYet);
                }
            }
        }
        Ok(results)
    }

    /// Stream mode, on the applier: applies a batch read from the stream (in stream order) as
    /// one batch, and answers this replica's clients among them.
    pub(crate) fn apply_stream(
        &self,
        batch: Vec<crate::cluster::stream::StreamWrite>,
        current: &(dyn Fn() -> Option<Arc<super::Loaded>> + Send + Sync),
    ) {
        let mut ids = Vec::with_capacity(batch.len());
        let mut writes = Vec::with_capacity(batch.len());
        for (sequence, id, write) in batch {
            ids.push(id);
            writes.push((sequence, write));
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let applied = self.apply_durable(&mut state, writes, current, false);
        drop(state);
        let mut audit = Vec::new();
        let mut waiters = self.waiters.lock().unwrap_or_else(PoisonError::into_inner);
        for ((write, result), id) in applied.into_iter().zip(ids) {
            // The replica a write was made to answers it and writes its audit line.
            if let Some(answer) = id.and_then(|id| waiters.remove(&id)) {
                let _ = answer.send(result.clone());
                audit.push((write, result));
            }
        }
        drop(waiters);
        self.audit.send(audit);
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
            // The local log compacts what the snapshot covers; the stream's prefix is the
            // publisher's to purge (below).
            let local = matches!(self.durable, Durable::Local(_));
            apply_entries(engine, &entries, now(), |result| {
                if local
                    && (!result.location_found
                        || result.outcomes.iter().all(|outcome| matches!(outcome, ChangeOutcome::Older { .. })))
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
            let replayed = entries.len();
            drop(entries);
            let swapped = swap();
            if let Durable::Stream(_) = self.durable {
                // Every replica drops the same prefix: the one the cluster's current key says
                // the snapshot covers (the publisher purged it from the stream).
                let covers = self.covers.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some((_, floor)) = covers.as_ref().filter(|(id, _)| id == engine.snapshot_id()) {
                    state.history.retain(|(sequence, _)| sequence > floor);
                }
            }
            (swapped, covered, replayed)
        };
        let micros = started.elapsed().as_micros() as u64;
        tracing::info!(replayed, covered = covered.len(), micros, snapshot = %engine.manifest().snapshot_id, "live capacities carried onto the snapshot");
        if let (false, Durable::Local(log)) = (covered.is_empty(), &self.durable) {
            self.compact(log, &covered);
        }
        swapped
    }

    /// Drops the covered entries from the log and the history.
    fn compact(&self, log: &Log, covered: &[u64]) {
        match log.compact(|sequence, _| covered.binary_search(&sequence).is_err()) {
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
pub(crate) fn apply_entries(
    engine: &Engine,
    entries: &[(u64, &LoggedWrite)],
    at: UnixSeconds,
    mut each: impl FnMut(WriteResult),
) {
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

/// The audit lines of the writes, written by a thread of their own: formatting them (tens of
/// microseconds a write) would otherwise delay the log writer's next commit.
struct Audit {
    sender: Option<mpsc::Sender<Vec<(LoggedWrite, WriteResult)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Audit {
    fn start() -> Audit {
        let (sender, receiver) = mpsc::channel::<Vec<(LoggedWrite, WriteResult)>>();
        let spawned = std::thread::Builder::new().name("capacity-audit".into()).spawn(move || {
            for lines in receiver {
                for (write, result) in &lines {
                    log_write(write, result);
                }
            }
        });
        match spawned {
            Ok(thread) => Audit { sender: Some(sender), thread: Some(thread) },
            Err(error) => {
                tracing::warn!(%error, "capacity audit thread not started: audit lines written in line");
                Audit { sender: None, thread: None }
            }
        }
    }

    fn send(&self, lines: Vec<(LoggedWrite, WriteResult)>) {
        if lines.is_empty() {
            return;
        }
        let unsent = match &self.sender {
            Some(sender) => match sender.send(lines) {
                Ok(()) => return,
                Err(mpsc::SendError(lines)) => lines,
            },
            None => lines,
        };
        for (write, result) in &unsent {
            log_write(write, result);
        }
    }
}

impl Drop for Audit {
    /// Writes the lines still queued before the service goes.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
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
    let mut gauges: Vec<(&str, &str, f64)> = Vec::new();
    if let Some(log) = service.log() {
        let log = log.metrics();
        gauges.extend([
            ("ror_search_capacity_log_records", "Entries in the capacity log.", log.records as f64),
            ("ror_search_capacity_log_bytes", "Bytes of the capacity log.", log.bytes as f64),
            (
                "ror_search_capacity_log_last_sequence",
                "Sequence number of the last logged write.",
                log.last_sequence as f64,
            ),
            ("ror_search_capacity_log_commits_total", "Group commits (one fsync each).", log.commits as f64),
            ("ror_search_capacity_log_last_fsync_seconds", "Duration of the last fsync.", log.last_fsync.as_secs_f64()),
        ]);
    }
    if let Some(stream) = service.stream() {
        let progress = stream.progress();
        gauges.extend([
            (
                "ror_search_cluster_applied_sequence",
                "Last capacity stream sequence applied by this replica.",
                progress.applied_sequence as f64,
            ),
            (
                "ror_search_cluster_stream_sequence",
                "The capacity stream's last sequence, as last polled.",
                progress.stream_sequence as f64,
            ),
            ("ror_search_cluster_lag", "Capacity stream messages this replica is behind.", progress.lag as f64),
            (
                "ror_search_cluster_caught_up",
                "1 once the replica has applied what the stream held when it started.",
                f64::from(u8::from(progress.caught_up)),
            ),
            (
                "ror_search_cluster_reachable",
                "1 when the last poll of the stream answered.",
                f64::from(u8::from(progress.reachable)),
            ),
            (
                "ror_search_cluster_published_total",
                "Capacity writes this replica published and JetStream stored.",
                stream.published.load(Ordering::Relaxed) as f64,
            ),
            (
                "ror_search_cluster_publish_failures_total",
                "Capacity writes JetStream did not store.",
                stream.publish_failures.load(Ordering::Relaxed) as f64,
            ),
            (
                "ror_search_cluster_applied_messages_total",
                "Capacity stream messages applied by this replica.",
                stream.applied_messages.load(Ordering::Relaxed) as f64,
            ),
        ]);
    }
    gauges.extend([
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
    ]);
    for (name, help, value) in gauges {
        let kind = if name.ends_with("_total") { "counter" } else { "gauge" };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    }
}
