//! Following the national ROR: `ror-search sync`.
//!
//! A full pull (`$export`, or paged searches) is built into a snapshot as `build` would; then,
//! every `delta_interval_secs`, the resources changed since the high-water mark are pulled
//! and applied to the held dataset (see [`delta`]): capacity-only changes go to the live
//! capacity path of the server at once (when one is configured), everything else makes a new
//! snapshot from the previous one plus the delta, published into the index directory, where
//! the server's watcher swaps it in. Every `full_resync_interval_secs` a full pull replaces
//! the dataset, and what the deltas had missed is counted and reported.
//!
//! Nothing is half-applied: a pull that fails leaves the held snapshot and the state as they
//! were, and is asked again after a backoff. The state (`<index>/sync/state.json`) is written
//! after the snapshot, so a restart resumes from the last pull that landed.

pub mod client;
pub mod config;
pub mod delta;
pub(crate) mod pull;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use client::{Upstream, UpstreamError};
pub use config::SyncConfig;
use delta::CapacityUpdate;
pub use pull::PullError;
use state::{PullRecord, Reconciliation, SyncState};

use crate::ingest::IngestReport;
use crate::model::Dataset;
use crate::snapshot::{Lineage, SnapshotData};
use crate::util::time::{UnixSeconds, format_rfc3339, now};

/// The sync's directory in the index.
pub const SYNC_DIR: &str = "sync";
/// The prefix of the snapshot directories the sync writes.
const SNAPSHOT_PREFIX: &str = "ror-";

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Reading the upstream failed.
    #[error(transparent)]
    Pull(#[from] PullError),
    /// The pulled files could not be read.
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    /// The snapshot could not be written or read.
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    /// The state could not be read or written.
    #[error("sync state: {0}")]
    State(String),
    /// The configuration is not usable.
    #[error("{0}")]
    Config(String),
}

/// The snapshot the sync holds (the last it made or found), with its data in memory.
struct HeldSnapshot {
    dir: PathBuf,
    id: String,
    data: SnapshotData,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// The pull's record (as kept in the state).
    pub record: PullRecord,
    /// The snapshot written, if any.
    pub snapshot_dir: Option<PathBuf>,
    /// A full pull's reconciliation against what the deltas had kept.
    pub reconciliation: Option<Reconciliation>,
    /// Seconds by stage (`pull`, `ingest`, `publish` of a full pull; `fetch`, `splice`,
    /// `publish` of a delta).
    pub stages: Vec<(&'static str, f64)>,
}

/// Where capacity-only changes go: the live path of the server the sync runs in. Returns the
/// records taken, or why not (they then go into a snapshot).
pub type CapacitySink = Box<dyn Fn(&[CapacityUpdate]) -> Result<u64, String> + Send>;

/// Told of each snapshot the sync publishes (the server it runs in swaps it in at once).
pub type PublishHook = Box<dyn Fn(&Path) + Send>;

/// The sync of one index from one upstream.
pub struct Syncer {
    config: SyncConfig,
    upstream: Upstream,
    index_dir: PathBuf,
    sync_dir: PathBuf,
    state: SyncState,
    held: Option<HeldSnapshot>,
    live: Option<ureq::Agent>,
    sink: Option<CapacitySink>,
    on_publish: Option<PublishHook>,
}

impl std::fmt::Debug for Syncer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer").field("upstream", &self.config.base).field("index", &self.index_dir).finish()
    }
}

fn snapshot_io(path: &Path) -> impl FnOnce(std::io::Error) -> SyncError + '_ {
    move |error| SyncError::State(format!("{}: {error}", path.display()))
}

impl Syncer {
    /// Opens the sync of `index_dir`: reads its state and loads the snapshot it names (a
    /// state of another upstream, or naming a snapshot that does not load, starts over with a
    /// full pull).
    pub fn open(config: SyncConfig, index_dir: &Path) -> Result<Syncer, SyncError> {
        let upstream = Upstream::new(&config).map_err(|error| SyncError::Config(error.to_string()))?;
        let sync_dir = index_dir.join(SYNC_DIR);
        std::fs::create_dir_all(&sync_dir).map_err(snapshot_io(&sync_dir))?;
        let mut state = SyncState::load(&sync_dir).map_err(SyncError::State)?.unwrap_or_default();
        if state.upstream != upstream.base {
            if !state.upstream.is_empty() {
                tracing::warn!(previous = %state.upstream, now = %upstream.base, "the state is of another upstream: starting over");
            }
            state = SyncState { upstream: upstream.base.clone(), ..SyncState::default() };
        }
        let held = match &state.snapshot_dir {
            Some(dir) => match crate::snapshot::load(dir) {
                Ok(snapshot) => {
                    tracing::info!(dir = %dir.display(), snapshot = %snapshot.manifest.snapshot_id, "sync resumes from its snapshot");
                    Some(HeldSnapshot { dir: dir.clone(), id: snapshot.manifest.snapshot_id, data: snapshot.data })
                }
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "the sync's snapshot does not load: a full pull follows");
                    state.high_water_mark = None;
                    None
                }
            },
            None => None,
        };
        let live = config.live_url.as_ref().map(|_| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(config.timeout_secs.max(1))))
                .build()
                .into()
        });
        Ok(Syncer {
            config,
            upstream,
            index_dir: index_dir.to_owned(),
            sync_dir,
            state,
            held,
            live,
            sink: None,
            on_publish: None,
        })
    }

    /// Sends capacity-only changes to `sink` (instead of `live_url`).
    pub fn with_capacity_sink(mut self, sink: CapacitySink) -> Syncer {
        self.sink = Some(sink);
        self
    }

    /// Calls `hook` with each snapshot published.
    pub fn on_publish(mut self, hook: PublishHook) -> Syncer {
        self.on_publish = Some(hook);
        self
    }

    /// The state as it stands.
    pub fn state(&self) -> &SyncState {
        &self.state
    }

    /// The upstream client (its counters).
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Whether the next step is a full pull.
    pub fn full_due(&self) -> bool {
        self.held.is_none()
            || self.state.high_water_mark.is_none()
            || self
                .state
                .last_full_at
                .is_none_or(|at| now().saturating_sub(at) >= self.config.full_resync_interval_secs as i64)
    }

    /// One step: a full pull when due (or `force_full`), else a delta. On failure the state
    /// keeps the error and nothing else changes.
    pub fn step(&mut self, force_full: bool) -> Result<StepReport, SyncError> {
        let result = if force_full || self.full_due() {
            self.full()
        } else {
            match self.delta() {
                Err(SyncError::Pull(PullError::Truncated { url, total, returned })) => {
                    tracing::warn!(%url, total, returned, "the delta is more than the server returns by search: a full pull instead");
                    self.full()
                }
                other => other,
            }
        };
        if let Err(error) = &result {
            self.state.failures += 1;
            self.state.last_error = Some(error.to_string());
            let _ = self.state.save(&self.sync_dir);
        }
        result
    }

    /// Steps until `stop` is set: a delta every `delta_interval_secs`, a full pull when due;
    /// a failed step is tried again after a backoff (doubling, at most the delta interval).
    pub fn run(&mut self, stop: &AtomicBool) {
        let interval = Duration::from_secs(self.config.delta_interval_secs.max(1));
        let mut backoff = Duration::from_secs(5).min(interval);
        while !stop.load(Ordering::Relaxed) {
            let wait = match self.step(false) {
                Ok(report) => {
                    backoff = Duration::from_secs(5).min(interval);
                    tracing::info!(kind = %report.record.kind, seconds = report.record.seconds, snapshot = ?report.record.snapshot, "sync step done");
                    interval
                }
                Err(error) => {
                    tracing::error!(%error, failures = self.state.failures, retry_secs = backoff.as_secs(), "sync step failed: nothing applied");
                    let wait = backoff;
                    backoff = (backoff * 2).min(interval);
                    wait
                }
            };
            let until = Instant::now() + wait;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(200).min(until - Instant::now()));
            }
        }
    }

    fn full(&mut self) -> Result<StepReport, SyncError> {
        let started = Instant::now();
        let staging = self.sync_dir.join("pull");
        let pull = pull::full_pull(&self.upstream, &self.config, &staging)?;
        let mut stages = vec![("pull", pull.seconds)];
        let ingest_started = Instant::now();
        let inputs: Vec<PathBuf> = pull.files.iter().map(|file| file.path.clone()).collect();
        let output = if inputs.is_empty() {
            crate::ingest::IngestOutput {
                dataset: Dataset::default(),
                report: IngestReport::default(),
                sources: Vec::new(),
            }
        } else {
            crate::ingest::ingest(&inputs, &mut |_| {})?
        };
        let communes = crate::ingest::communes::read_communes(&self.config.communes)?;
        stages.push(("ingest", ingest_started.elapsed().as_secs_f64()));
        let reconciliation = self.held.as_ref().map(|held| {
            let kept = with_pending(&held.data.dataset, &self.state.pending_capacities);
            reconcile(&kept, &output.dataset)
        });
        if let Some(reconciliation) = &reconciliation {
            if reconciliation.total() > 0 {
                tracing::warn!(
                    missed = reconciliation.total(),
                    ?reconciliation,
                    "full pull: the deltas had missed changes"
                );
            } else {
                tracing::info!("full pull: the deltas had missed nothing");
            }
        }
        let mut figures = BTreeMap::from([("files".to_owned(), pull.files.len() as u64)]);
        figures.insert("bytes".into(), pull.files.iter().map(|file| file.bytes).sum());
        figures.insert("resumed".into(), pull.files.iter().map(|file| u64::from(file.resumed)).sum());
        figures.insert("restarted".into(), pull.files.iter().map(|file| u64::from(file.restarted)).sum());
        figures.insert("error_files".into(), pull.error_files.len() as u64);
        if let Some(reconciliation) = &reconciliation {
            figures.insert("reconciled_differences".into(), reconciliation.total());
        }
        let lineage = Lineage {
            kind: "full".into(),
            upstream: self.upstream.base.clone(),
            as_of: format_rfc3339(pull.transaction_time),
            base_snapshot: None,
            since: None,
            figures,
        };
        let report = output.report;
        let data = SnapshotData { dataset: output.dataset, communes };
        let publish_started = Instant::now();
        let (dir, id) = self.publish(&data, &report, output.sources, lineage, None)?;
        stages.push(("publish", publish_started.elapsed().as_secs_f64()));
        let _ = std::fs::remove_dir_all(&staging);
        let record = PullRecord {
            kind: format!("full ({})", pull.method),
            finished_at: now(),
            seconds: started.elapsed().as_secs_f64(),
            snapshot: Some(id.clone()),
            read: report.totals.read,
            accepted: report.totals.accepted,
            rejected: report.totals.rejected,
            ignored: report.totals.ignored,
            delta: None,
            live_writes: 0,
        };
        self.state.high_water_mark = Some(pull.transaction_time);
        self.state.last_full_at = Some(now());
        self.state.pending_capacities.clear();
        self.state.reconciliation = reconciliation.clone();
        self.land(dir.clone(), id, data, record.clone())?;
        tracing::info!(seconds = record.seconds, read = record.read, rejected = record.rejected, "full pull landed");
        Ok(StepReport { record, snapshot_dir: Some(dir), reconciliation, stages })
    }

    fn delta(&mut self) -> Result<StepReport, SyncError> {
        let started = Instant::now();
        let held = self.held.as_ref().ok_or_else(|| SyncError::State("no snapshot held".into()))?;
        let mark = self.state.high_water_mark.ok_or_else(|| SyncError::State("no high-water mark".into()))?;
        let since = mark - self.config.overlap_secs.max(0);
        let delta = delta::pull(
            &self.upstream,
            &held.data.dataset,
            since,
            self.config.page_size,
            &self.state.pending_capacities,
        )?;
        let mut stages = vec![("fetch", delta.seconds.0), ("splice", delta.seconds.1)];
        let mut live_writes = 0;
        let mut pending_now = self.state.pending_capacities.clone();
        let mut dataset = delta.dataset;
        let mut carried = delta.carried;
        if !delta.capacities.is_empty() {
            let pushed = match (&self.sink, &self.live, &self.config.live_url) {
                (Some(sink), _, _) => match sink(&delta.capacities) {
                    Ok(count) => Some(count),
                    Err(error) => {
                        tracing::warn!(%error, "capacity changes not taken by the live path: they go into a snapshot");
                        None
                    }
                },
                (None, Some(agent), Some(url)) => {
                    match self.push_live(agent, url, &held.data.dataset, &delta.capacities) {
                        Ok(count) => Some(count),
                        Err(error) => {
                            tracing::warn!(%error, "capacity changes not taken by the live path: they go into a snapshot");
                            None
                        }
                    }
                }
                _ => None,
            };
            match pushed {
                Some(count) => {
                    live_writes = count;
                    for update in &delta.capacities {
                        pending_now.insert(update.location_id.clone(), update.clone());
                    }
                }
                None => {
                    if dataset.is_none() {
                        let mut next = with_pending(&held.data.dataset, &pending_now);
                        apply_updates(&mut next, &delta.capacities);
                        // Capacities only: every offer is the held one, text and place alike.
                        carried = (0..next.offers.len() as u32).map(Some).collect();
                        dataset = Some(next);
                    }
                }
            }
        }
        let summary = delta.summary.clone();
        let mut record = PullRecord {
            kind: "delta".into(),
            finished_at: now(),
            seconds: 0.0,
            snapshot: None,
            read: delta.report.totals.read,
            accepted: delta.report.totals.accepted,
            rejected: delta.report.totals.rejected,
            ignored: delta.report.totals.ignored,
            delta: Some(summary.clone()),
            live_writes,
        };
        let mut snapshot_dir = None;
        match dataset {
            Some(dataset) => {
                let mut figures: BTreeMap<String, u64> = BTreeMap::new();
                for (resource_type, count) in &summary.changed {
                    figures.insert(format!("changed_{resource_type}"), *count);
                }
                for (resource_type, count) in &summary.refetched {
                    figures.insert(format!("refetched_{resource_type}"), *count);
                }
                figures.insert("egs_touched".into(), summary.egs_touched);
                figures.insert("egs_removed".into(), summary.egs_removed);
                figures.insert("offers_removed".into(), summary.offers_removed);
                figures.insert("offers_added".into(), summary.offers_added);
                figures.insert("locations_replaced".into(), summary.locations_replaced);
                figures.insert("capacity_only".into(), summary.capacity_only);
                figures.insert("live_writes".into(), live_writes);
                let lineage = Lineage {
                    kind: "delta".into(),
                    upstream: self.upstream.base.clone(),
                    as_of: format_rfc3339(delta.server_time),
                    base_snapshot: Some(held.id.clone()),
                    since: Some(format_rfc3339(since)),
                    figures,
                };
                let data = SnapshotData { dataset, communes: held.data.communes.clone() };
                let publish_started = Instant::now();
                let previous = crate::engine::text_layers::PreviousText {
                    dir: &held.dir,
                    data: &held.data,
                    carried: Some(&carried),
                };
                let (dir, id) = self.publish(&data, &delta.report, Vec::new(), lineage, Some(previous))?;
                stages.push(("publish", publish_started.elapsed().as_secs_f64()));
                record.snapshot = Some(id.clone());
                record.seconds = started.elapsed().as_secs_f64();
                self.state.high_water_mark = Some(delta.server_time);
                self.state.pending_capacities.clear();
                self.land(dir.clone(), id, data, record.clone())?;
                snapshot_dir = Some(dir);
            }
            None => {
                record.seconds = started.elapsed().as_secs_f64();
                self.state.high_water_mark = Some(delta.server_time);
                self.state.pending_capacities = pending_now;
                self.state.record(record.clone());
                self.state.save(&self.sync_dir).map_err(snapshot_io(&self.sync_dir))?;
            }
        }
        tracing::info!(
            seconds = record.seconds,
            changed = ?summary.changed,
            egs_touched = summary.egs_touched,
            capacity_only = summary.capacity_only,
            live_writes,
            snapshot = ?record.snapshot,
            "delta landed"
        );
        Ok(StepReport { record, snapshot_dir, reconciliation: None, stages })
    }

    /// Writes a snapshot of `data` into the index directory.
    fn publish(
        &self,
        data: &SnapshotData,
        report: &IngestReport,
        sources: Vec<crate::ingest::SourceFile>,
        lineage: Lineage,
        previous: Option<crate::engine::text_layers::PreviousText<'_>>,
    ) -> Result<(PathBuf, String), SyncError> {
        let built_at = now();
        let stamp: String = format_rfc3339(built_at).chars().filter(char::is_ascii_alphanumeric).collect();
        let mut dir = self.index_dir.join(format!("{SNAPSHOT_PREFIX}{stamp}"));
        let mut suffix = 1;
        while dir.exists() {
            dir = self.index_dir.join(format!("{SNAPSHOT_PREFIX}{stamp}-{suffix}"));
            suffix += 1;
        }
        let started = Instant::now();
        let manifest = crate::snapshot::write(
            &dir,
            crate::snapshot::BuildInput {
                data,
                report,
                sources,
                built_at,
                index_files: Some(&|data: &SnapshotData, dir: &Path| {
                    crate::engine::persist::write_index_files_over(data, dir, previous)
                }),
                lineage: Some(lineage),
            },
            false,
        )?;
        tracing::info!(dir = %dir.display(), snapshot = %manifest.snapshot_id, seconds = started.elapsed().as_secs_f64(), "snapshot published");
        Ok((dir, manifest.snapshot_id))
    }

    /// Holds the new snapshot, records the pull, saves the state, prunes old snapshots.
    fn land(&mut self, dir: PathBuf, id: String, data: SnapshotData, record: PullRecord) -> Result<(), SyncError> {
        self.state.snapshot_dir = Some(dir.clone());
        self.state.snapshot_id = Some(id.clone());
        self.state.record(record);
        self.state.save(&self.sync_dir).map_err(snapshot_io(&self.sync_dir))?;
        if let Some(hook) = &self.on_publish {
            hook(&dir);
        }
        let previous = self.held.replace(HeldSnapshot { dir, id, data });
        // A national dataset is millions of allocations: freed beside the loop, not in it.
        std::thread::spawn(move || drop(previous));
        self.prune();
        Ok(())
    }

    /// Removes the sync's oldest snapshots beyond `keep_snapshots` (never the held one).
    fn prune(&self) {
        let mut ours: Vec<PathBuf> = crate::snapshot::build::list_snapshots(&self.index_dir)
            .into_iter()
            .map(|(dir, _)| dir)
            .filter(|dir| dir.file_name().is_some_and(|name| name.to_string_lossy().starts_with(SNAPSHOT_PREFIX)))
            .collect();
        let held = self.held.as_ref().map(|held| held.dir.clone());
        ours.retain(|dir| Some(dir) != held.as_ref());
        for dir in ours.into_iter().skip(self.config.keep_snapshots.saturating_sub(1)) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => tracing::info!(dir = %dir.display(), "old sync snapshot removed"),
                Err(error) => tracing::warn!(dir = %dir.display(), %error, "old sync snapshot not removed"),
            }
        }
    }

    /// Sends capacity changes to the server's live path (`POST /v1/capacity`); returns the
    /// records sent.
    fn push_live(
        &self,
        agent: &ureq::Agent,
        url: &str,
        held: &Dataset,
        updates: &[CapacityUpdate],
    ) -> Result<u64, String> {
        let by_id: HashMap<&str, &crate::model::Location> =
            held.locations.iter().map(|location| (location.id.as_str(), location)).collect();
        let mut body = String::new();
        let mut lines = 0u64;
        for update in updates {
            let before = self
                .state
                .pending_capacities
                .get(&update.location_id)
                .map(|pending| pending.records.clone())
                .or_else(|| by_id.get(update.location_id.as_str()).map(|location| location.capacities.clone()))
                .unwrap_or_default();
            let at = update.last_updated.unwrap_or_else(now);
            for record in &update.records {
                body.push_str(&capacity_line(&update.location_id, record, record.updated_at.unwrap_or(at), false));
                lines += 1;
            }
            for record in before.iter().filter(|record| !update.records.iter().any(|now| now.key() == record.key())) {
                body.push_str(&capacity_line(&update.location_id, record, at, true));
                lines += 1;
            }
        }
        let endpoint = format!("{}/v1/capacity", url.trim_end_matches('/'));
        let mut request = agent.post(&endpoint).header("content-type", "application/x-ndjson");
        if let Some(token) = &self.config.live_token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let mut response = request.send(body.as_bytes()).map_err(|error| format!("{endpoint}: {error}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            return Err(format!("{endpoint}: HTTP {status}: {}", text.chars().take(300).collect::<String>()));
        }
        let rejected = text.lines().filter(|line| line.contains("\"rejected\"")).count();
        if rejected > 0 {
            tracing::warn!(rejected, "the live path rejected some capacity lines");
        }
        Ok(lines)
    }
}

/// One `POST /v1/capacity` line.
fn capacity_line(location: &str, record: &crate::model::CapacityRecord, at: UnixSeconds, delete: bool) -> String {
    let mut line = serde_json::json!({
        "location": location,
        "status": record.status,
        "temporality": record.temporality,
        "gender": record.gender,
        "temporary_assignment": record.temporary_assignment,
        "closing_type": record.closing_type,
        "additional_bed_type": record.additional_bed_type,
        "crisis_type": record.crisis_type,
        "updated_at": format_rfc3339(at),
    });
    if delete {
        line["delete"] = true.into();
    } else {
        line["capacity_type"] = record.capacity_type.as_str().into();
        line["source_type"] = serde_json::to_value(&record.source_type).unwrap_or_default();
        line["count"] = record.count.into();
    }
    let mut text = line.to_string();
    text.push('\n');
    text
}

/// The dataset with the pending capacity changes applied.
fn with_pending(dataset: &Dataset, pending: &BTreeMap<String, CapacityUpdate>) -> Dataset {
    let mut dataset = dataset.clone();
    apply_updates(&mut dataset, pending.values());
    dataset
}

fn apply_updates<'a>(dataset: &mut Dataset, updates: impl IntoIterator<Item = &'a CapacityUpdate>) {
    let by_id: HashMap<&str, &CapacityUpdate> =
        updates.into_iter().map(|update| (update.location_id.as_str(), update)).collect();
    if by_id.is_empty() {
        return;
    }
    for location in &mut dataset.locations {
        if let Some(update) = by_id.get(location.id.as_str()) {
            update.apply(location);
        }
    }
}

/// What differs between the state the deltas kept and a full pull, by resource type.
pub fn reconcile(kept: &Dataset, full: &Dataset) -> Reconciliation {
    fn compare<T: PartialEq>(
        reconciliation: &mut Reconciliation,
        resource_type: &str,
        kept: Vec<(&str, T)>,
        full: Vec<(&str, T)>,
    ) {
        let kept: HashMap<&str, T> = kept.into_iter().collect();
        let full: HashMap<&str, T> = full.into_iter().collect();
        let count = |map: &mut BTreeMap<String, u64>, n: usize| {
            if n > 0 {
                *map.entry(resource_type.to_owned()).or_default() += n as u64;
            }
        };
        count(&mut reconciliation.missing, full.keys().filter(|id| !kept.contains_key(*id)).count());
        count(&mut reconciliation.extra, kept.keys().filter(|id| !full.contains_key(*id)).count());
        count(
            &mut reconciliation.different,
            full.iter().filter(|(id, value)| kept.get(*id).is_some_and(|held| held != *value)).count(),
        );
    }
    // Records compared with their links as ids (indices differ between datasets).
    fn offer_of(dataset: &Dataset, offer: &crate::model::Offer) -> (crate::model::Offer, Option<String>, Vec<String>) {
        let mut plain = offer.clone();
        let eg = offer.eg.map(|eg| dataset.egs[eg as usize].id.clone());
        let locations =
            offer.locations.iter().map(|&location| dataset.locations[location as usize].id.clone()).collect();
        plain.eg = None;
        plain.ej = None;
        plain.locations = Vec::new();
        (plain, eg, locations)
    }
    fn eg_of(dataset: &Dataset, eg: &crate::model::Eg) -> (crate::model::Eg, Option<String>) {
        let mut plain = eg.clone();
        plain.ej = None;
        (plain, eg.ej.map(|ej| dataset.ejs[ej as usize].id.clone()))
    }
    fn ejs(dataset: &Dataset) -> Vec<(&str, crate::model::Ej)> {
        dataset.ejs.iter().map(|ej| (ej.id.as_str(), ej.clone())).collect()
    }
    fn egs(dataset: &Dataset) -> Vec<(&str, (crate::model::Eg, Option<String>))> {
        dataset.egs.iter().map(|eg| (eg.id.as_str(), eg_of(dataset, eg))).collect()
    }
    fn locations(dataset: &Dataset) -> Vec<(&str, crate::model::Location)> {
        dataset.locations.iter().map(|location| (location.id.as_str(), location.clone())).collect()
    }
    type OfferWithIds = (crate::model::Offer, Option<String>, Vec<String>);
    fn offers(dataset: &Dataset) -> Vec<(&str, OfferWithIds)> {
        dataset.offers.iter().map(|offer| (offer.id.as_str(), offer_of(dataset, offer))).collect()
    }
    let mut reconciliation = Reconciliation::default();
    compare(&mut reconciliation, "Organization (EJ)", ejs(kept), ejs(full));
    compare(&mut reconciliation, "Organization (EG)", egs(kept), egs(full));
    compare(&mut reconciliation, "Location", locations(kept), locations(full));
    compare(&mut reconciliation, "HealthcareService", offers(kept), offers(full));
    reconciliation
}
