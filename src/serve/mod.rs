//! The serving state: the snapshot being served behind an `ArcSwap`, reloads and rollbacks.
//!
//! A request takes one `Arc` of the current snapshot and keeps it to the end, so a swap never
//! changes a request's answer halfway (the tantivy `Searcher` pattern). A reload loads and
//! verifies a snapshot on a blocking thread, warms it with a few queries, then swaps it in; a
//! snapshot that fails to load is refused, logged and counted, and the current one keeps
//! serving. The previous snapshot is kept for an instant rollback.

pub mod capacity;
pub(crate) mod config;
pub mod heavy;
pub(crate) mod metrics;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;

use crate::engine::Engine;
use crate::util::time::now;
pub use config::{ServeConfig, TlsFiles};
pub use metrics::Metrics;
use metrics::SnapshotGauges;

/// A loaded snapshot.
#[derive(Debug)]
pub struct Loaded {
    /// The engine over the snapshot.
    pub engine: Engine,
    /// The snapshot directory.
    pub(crate) dir: PathBuf,
    /// When it was swapped in (Unix seconds).
    pub(crate) loaded_at: i64,
    /// Its data-quality report, computed at the first request for it, then kept current.
    pub(crate) quality: std::sync::Mutex<Option<crate::quality::QualityReport>>,
    /// The FHIR facade's index of it, built at the first FHIR request.
    pub(crate) fhir: std::sync::OnceLock<crate::fhir::FacadeIndex>,
}

impl Loaded {
    /// The FHIR facade's index of this snapshot (built once, at the first use).
    pub(crate) fn fhir_index(&self) -> &crate::fhir::FacadeIndex {
        self.fhir.get_or_init(|| crate::fhir::FacadeIndex::new(&self.engine))
    }

    /// The gauges `/metrics` reports for it.
    pub(crate) fn gauges(&self) -> SnapshotGauges {
        let manifest = self.engine.manifest();
        let mut records = Vec::new();
        for (resource_type, counts) in &manifest.ingest.by_type {
            records.push((resource_type.clone(), "accepted", counts.accepted));
            records.push((resource_type.clone(), "rejected", counts.rejected));
            records.push((resource_type.clone(), "ignored", counts.ignored));
        }
        SnapshotGauges {
            snapshot_id: Some(manifest.snapshot_id.clone()),
            built_at_unix: manifest.built_at_unix,
            loaded_at_unix: self.loaded_at,
            offers: manifest.counts.offers,
            records,
            result_fragment_bytes: self.engine.result_fragment_bytes() as u64,
        }
    }
}

/// Why a reload or rollback did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReloadError {
    #[error("no snapshot directory in {0}")]
    NoSnapshot(String),
    #[error("snapshot {path} refused: {reason}")]
    Refused { path: String, reason: String },
    #[error("no previous snapshot to roll back to")]
    NoPrevious,
    #[error("{0} is not a snapshot directory of the index")]
    NotInIndex(String),
}

/// What a reload did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Swap {
    pub(crate) snapshot: String,
    pub(crate) previous: Option<String>,
    pub(crate) dir: String,
    pub(crate) seconds: f64,
}

/// The snapshot being served, the previous one, and the reload machinery.
pub struct SnapshotHandle {
    current: ArcSwapOption<Loaded>,
    previous: Mutex<Option<Arc<Loaded>>>,
    /// Directories that failed to load, with their modification time: not retried by the
    /// watcher until they change (an explicit reload retries them).
    failed: Mutex<HashMap<PathBuf, Option<SystemTime>>>,
    /// One reload at a time.
    reload_lock: tokio::sync::Mutex<()>,
    pub(crate) index_dir: PathBuf,
    pub(crate) metrics: Arc<Metrics>,
    /// The live capacity service, once its log is open: every snapshot swapped in gets the
    /// logged writes first.
    capacity: std::sync::OnceLock<Arc<capacity::CapacityService>>,
    /// The replica, in cluster mode (`serve --cluster`).
    replica: std::sync::OnceLock<Arc<crate::cluster::replica::Replica>>,
}

impl std::fmt::Debug for SnapshotHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotHandle").field("index_dir", &self.index_dir).finish()
    }
}

fn modified(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir.join(crate::snapshot::MANIFEST_FILE)).and_then(|metadata| metadata.modified()).ok()
}

/// Why a snapshot could not be served.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// It does not load (a checksum, a file, the text index).
    #[error("{}", crate::util::error_chain(.0))]
    Engine(#[from] crate::engine::EngineError),
    /// A warm-up query failed on it.
    #[error("warm-up query failed: {0}")]
    WarmUp(crate::engine::ParamError),
    /// The loading thread panicked.
    #[error("load panicked: {0}")]
    Panicked(String),
}

/// Loads, verifies and warms a snapshot (blocking: run it off the async runtime).
pub fn load_and_warm(dir: &Path) -> Result<Loaded, LoadError> {
    let started = Instant::now();
    let engine = Engine::open(dir)?;
    // Touch the hot structures so the first requests do not pay for page faults.
    let warm_up: [&[(&str, &str)]; 4] = [
        &[("lat", "48.8566"), ("lon", "2.3522"), ("radius_km", "30"), ("category", "500"), ("gir", "2")],
        &[("lat", "45.764"), ("lon", "4.8357"), ("min_crisis_t0", "1"), ("limit", "10")],
        &[("bbox", "-5.5,41,10,51.5"), ("limit", "1")],
        &[("q", "ehpad"), ("lat", "44.8378"), ("lon", "-0.5792"), ("radius_km", "20")],
    ];
    for pairs in warm_up {
        let request = crate::api::search_request(pairs.iter().copied()).expect("valid warm-up query");
        engine.search(&request).map_err(LoadError::WarmUp)?;
    }
    tracing::info!(
        snapshot = %engine.snapshot_id(),
        dir = %dir.display(),
        offers = engine.data().dataset.offers.len(),
        seconds = started.elapsed().as_secs_f64(),
        "snapshot loaded and warmed"
    );
    Ok(Loaded {
        engine,
        dir: dir.to_owned(),
        loaded_at: now(),
        quality: std::sync::Mutex::new(None),
        fhir: std::sync::OnceLock::new(),
    })
}

impl SnapshotHandle {
    /// A handle serving nothing yet.
    pub fn new(index_dir: PathBuf, metrics: Arc<Metrics>) -> SnapshotHandle {
        SnapshotHandle {
            current: ArcSwapOption::empty(),
            previous: Mutex::new(None),
            failed: Mutex::new(HashMap::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            index_dir,
            metrics,
            capacity: std::sync::OnceLock::new(),
            replica: std::sync::OnceLock::new(),
        }
    }

    /// Makes this handle a replica's (before it runs); `false` when it is one already.
    pub fn set_replica(&self, replica: Arc<crate::cluster::replica::Replica>) -> bool {
        self.replica.set(replica).is_ok()
    }

    /// The replica, in cluster mode.
    pub fn replica(&self) -> Option<&Arc<crate::cluster::replica::Replica>> {
        self.replica.get()
    }

    /// The directories of the snapshots held: the one served and the previous one.
    pub(crate) fn held_dirs(&self) -> Vec<PathBuf> {
        let previous = self.previous.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.current().into_iter().chain(previous.iter().cloned()).map(|loaded| loaded.dir.clone()).collect()
    }

    /// The snapshot to answer one request with (hold it for the whole request).
    pub fn current(&self) -> Option<Arc<Loaded>> {
        self.current.load_full()
    }

    /// The snapshot with this id, if it is still held: the current one or the previous one
    /// (kept for rollback). FHIR paging cursors are bound to one.
    pub(crate) fn held(&self, snapshot_id: &str) -> Option<Arc<Loaded>> {
        let current = self.current()?;
        if current.engine.manifest().snapshot_id == snapshot_id {
            return Some(current);
        }
        let previous = self.previous.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        previous.as_ref().filter(|loaded| loaded.engine.manifest().snapshot_id == snapshot_id).cloned()
    }

    /// Attaches the live capacity service (before the first snapshot is swapped in, so that the
    /// logged writes are replayed onto it). Returns `false` when one is already attached.
    pub fn attach_capacity(&self, service: Arc<capacity::CapacityService>) -> bool {
        let attached = self.capacity.set(service).is_ok();
        if attached && let (Some(current), Some(service)) = (self.current(), self.capacity.get()) {
            service.carry_onto(&current.engine, || ());
        }
        attached
    }

    /// The live capacity service, when attached.
    pub fn capacity(&self) -> Option<&Arc<capacity::CapacityService>> {
        self.capacity.get()
    }

    /// Serves `loaded`, with the logged capacity writes carried onto it; returns what it replaces.
    fn swap_in(&self, loaded: Arc<Loaded>) -> Option<Arc<Loaded>> {
        match self.capacity.get() {
            Some(service) => {
                let engine_of = loaded.clone();
                service.carry_onto(&engine_of.engine, || self.current.swap(Some(loaded)))
            }
            None => self.current.swap(Some(loaded)),
        }
    }

    /// Serves `loaded` (used at start-up and by tests).
    pub fn install(&self, loaded: Loaded) {
        let previous = self.swap_in(Arc::new(loaded));
        if let Some(previous) = previous {
            *self.previous.lock().expect("previous lock") = Some(previous);
        }
    }

    /// The newest snapshot directory of the index (by build time) that is neither being
    /// served nor known to fail unchanged; `force` includes failed ones.
    pub(crate) fn newest_candidate(&self, force: bool) -> Option<PathBuf> {
        let current_dir = self.current().map(|loaded| loaded.dir.clone());
        let failed = self.failed.lock().expect("failed lock");
        crate::snapshot::build::list_snapshots(&self.index_dir)
            .into_iter()
            .map(|(dir, _)| dir)
            .find(|dir| force || failed.get(dir).is_none_or(|mtime| *mtime != modified(dir)))
            .filter(|dir| Some(dir) != current_dir.as_ref())
    }

    /// Loads `dir` (or the newest candidate) and swaps it in. Serialised; the load runs on a
    /// blocking thread; on failure the current snapshot keeps serving.
    pub(crate) async fn reload(&self, dir: Option<PathBuf>) -> Result<Swap, ReloadError> {
        let _guard = self.reload_lock.lock().await;
        let explicit = dir.is_some();
        let dir = match dir {
            Some(dir) => dir,
            None => self
                .newest_candidate(false)
                .ok_or_else(|| ReloadError::NoSnapshot(self.index_dir.display().to_string()))?,
        };
        // Already serving exactly this snapshot: nothing to do.
        if let Some(current) = self.current()
            && current.dir == dir
            && crate::snapshot::read_manifest(&dir)
                .is_ok_and(|manifest| manifest.snapshot_id == current.engine.snapshot_id())
        {
            let snapshot = current.engine.snapshot_id().to_owned();
            return Ok(Swap {
                previous: Some(snapshot.clone()),
                snapshot,
                dir: dir.display().to_string(),
                seconds: 0.0,
            });
        }
        let started = Instant::now();
        let load_dir = dir.clone();
        let result = tokio::task::spawn_blocking(move || load_and_warm(&load_dir))
            .await
            .unwrap_or_else(|error| Err(LoadError::Panicked(error.to_string())));
        match result {
            Ok(loaded) => {
                let snapshot = loaded.engine.snapshot_id().to_owned();
                let previous = self.swap_in(Arc::new(loaded));
                let previous_id = previous.as_ref().map(|previous| previous.engine.snapshot_id().to_owned());
                if let Some(previous) = previous {
                    *self.previous.lock().expect("previous lock") = Some(previous);
                }
                self.failed.lock().expect("failed lock").remove(&dir);
                self.metrics.reload_success.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(snapshot = %snapshot, previous = ?previous_id, "snapshot swapped in");
                Ok(Swap {
                    snapshot,
                    previous: previous_id,
                    dir: dir.display().to_string(),
                    seconds: started.elapsed().as_secs_f64(),
                })
            }
            Err(error) => {
                let reason = error.to_string();
                self.failed.lock().expect("failed lock").insert(dir.clone(), modified(&dir));
                self.metrics.reload_failure.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(dir = %dir.display(), explicit, %reason, "snapshot refused; the current one keeps serving");
                Err(ReloadError::Refused { path: dir.display().to_string(), reason })
            }
        }
    }

    /// Swaps the previous snapshot back in (the current one becomes the previous).
    pub(crate) async fn rollback(&self) -> Result<Swap, ReloadError> {
        let _guard = self.reload_lock.lock().await;
        let previous = self.previous.lock().expect("previous lock").take().ok_or(ReloadError::NoPrevious)?;
        let snapshot = previous.engine.snapshot_id().to_owned();
        let dir = previous.dir.display().to_string();
        let replaced = self.swap_in(previous);
        let replaced_id = replaced.as_ref().map(|loaded| loaded.engine.snapshot_id().to_owned());
        *self.previous.lock().expect("previous lock") = replaced;
        self.metrics.rollbacks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(snapshot = %snapshot, replaced = ?replaced_id, "rolled back to the previous snapshot");
        Ok(Swap { snapshot, previous: replaced_id, dir, seconds: 0.0 })
    }

    /// Resolves a snapshot name given to the admin API to a directory of the index.
    pub(crate) fn snapshot_dir(&self, name: &str) -> Result<PathBuf, ReloadError> {
        let dir = self.index_dir.join(name);
        if crate::snapshot::is_snapshot_name(name) && dir.is_dir() {
            Ok(dir)
        } else {
            Err(ReloadError::NotInIndex(name.to_owned()))
        }
    }
}

/// Polls the index directory and reloads when a newer snapshot appears.
pub(crate) async fn watch(handle: Arc<SnapshotHandle>, interval_secs: u64) {
    if interval_secs == 0 {
        return;
    }
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(interval_secs));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let candidate = handle.newest_candidate(false);
        let newer = match (&candidate, handle.current()) {
            (Some(dir), Some(current)) => crate::snapshot::read_manifest(dir)
                .is_ok_and(|manifest| manifest.built_at_unix >= current.engine.manifest().built_at_unix),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if newer {
            let _ = handle.reload(candidate).await;
        }
    }
}
