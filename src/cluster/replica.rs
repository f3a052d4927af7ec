//! A replica (`serve --cluster`): joins the cluster, serves the current snapshot with the
//! stream's writes applied, follows both.
//!
//! 1. Connects (retrying: `/readyz` says 503 meanwhile and names the phase).
//! 2. Attaches the live capacity service on the stream (no local log).
//! 3. Waits for a published snapshot, fetches it (or finds it in the index directory),
//!    loads and swaps it in.
//! 4. Applies the stream from the position that snapshot covers; ready once it has applied
//!    what the stream held when it started, and for as long as it is less than `max_lag`
//!    messages behind.
//! 5. Watches the current key: each new snapshot is fetched, loaded and swapped in with the
//!    writes since the position it covers carried onto it; one that fails to fetch or load is
//!    refused and the one served stays (the previous one is kept for rollback, as always).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;

use super::stream::{CapacityStream, Progress};
use super::{Cluster, ClusterConfig, CurrentSnapshot};
use crate::serve::SnapshotHandle;

/// What a replica is doing, for `/readyz` and `/v1/snapshot`.
#[derive(Debug)]
pub struct Replica {
    config: ClusterConfig,
    stream: OnceLock<Arc<CapacityStream>>,
    phase: Mutex<String>,
}

/// The replica's state as `/readyz` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaStatus {
    /// Whether it serves: a snapshot is loaded, the stream is applied and within `max_lag`.
    pub ready: bool,
    /// What it is doing.
    pub phase: String,
    /// Where its applier stands (once it runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<Progress>,
    /// The lag beyond which it says not ready.
    pub max_lag: u64,
}

impl Replica {
    /// A replica of the cluster `config` names, not started.
    pub fn new(config: ClusterConfig) -> Replica {
        Replica { config, stream: OnceLock::new(), phase: Mutex::new("connecting".into()) }
    }

    fn set_phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        tracing::info!(%phase, "replica");
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner) = phase;
    }

    /// Its state; `snapshot_loaded`: whether the handle serves a snapshot.
    pub fn status(&self, snapshot_loaded: bool) -> ReplicaStatus {
        let stream = self.stream.get().map(|stream| stream.progress());
        let ready =
            snapshot_loaded && stream.is_some_and(|progress| progress.caught_up && progress.lag <= self.config.max_lag);
        ReplicaStatus {
            ready,
            phase: self.phase.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            stream,
            max_lag: self.config.max_lag,
        }
    }

    /// Runs the replica (for ever): see the module's documentation.
    pub async fn run(self: Arc<Self>, handle: Arc<SnapshotHandle>) {
        let cluster = loop {
            match Cluster::connect(&self.config, Duration::from_secs(30)).await {
                Ok(cluster) => break cluster,
                Err(error) => {
                    self.set_phase(format!("connecting: {error}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let stream = Arc::new(CapacityStream::new(cluster.clone()));
        let service = Arc::new(crate::serve::capacity::CapacityService::on_stream(stream.clone()));
        if !handle.attach_capacity(service.clone()) {
            tracing::error!("a capacity service was attached already: the replica cannot run");
            self.set_phase("failed: a local capacity service is attached");
            return;
        }
        // The first snapshot, and the stream position it covers.
        let mut watch = loop {
            match cluster.current.watch_with_history(super::CURRENT_KEY).await {
                Ok(watch) => break watch,
                Err(error) => {
                    self.set_phase(format!("watching the current snapshot: {error}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        self.set_phase("waiting for a published snapshot");
        let mut first_covers = None;
        while first_covers.is_none() {
            let Some(entry) = next_current(&mut watch).await else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                watch = match cluster.current.watch_with_history(super::CURRENT_KEY).await {
                    Ok(watch) => watch,
                    Err(_) => continue,
                };
                continue;
            };
            if self.swap_in(&cluster, &handle, &service, &entry).await {
                first_covers = Some(entry.covers_sequence);
            }
        }
        let start = first_covers.unwrap_or(0) + 1;
        self.set_phase("catching up with the capacity stream");
        let _ = self.stream.set(stream.clone());
        tokio::spawn(stream.clone().poll());
        let current_handle = handle.clone();
        let apply_service = service.clone();
        tokio::spawn(stream.clone().apply_from(start, move |batch| {
            let handle = current_handle.clone();
            apply_service.apply_stream(batch, &move || handle.current());
        }));
        let caught_up_stream = stream.clone();
        let this = self.clone();
        tokio::spawn(async move {
            while !caught_up_stream.progress().caught_up {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            this.set_phase("serving");
        });
        // Then every new snapshot.
        loop {
            match next_current(&mut watch).await {
                Some(entry) => {
                    let served = handle.current().map(|loaded| loaded.engine.snapshot_id().to_owned());
                    if served.as_deref() != Some(entry.snapshot_id.as_str()) {
                        self.swap_in(&cluster, &handle, &service, &entry).await;
                    }
                }
                None => {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if let Ok(renewed) = cluster.current.watch_with_history(super::CURRENT_KEY).await {
                        watch = renewed;
                    }
                }
            }
        }
    }

    /// Fetches, loads and swaps in the snapshot `current` names; `false` when it is refused.
    async fn swap_in(
        &self,
        cluster: &Cluster,
        handle: &SnapshotHandle,
        service: &crate::serve::capacity::CapacityService,
        current: &CurrentSnapshot,
    ) -> bool {
        tracing::info!(snapshot = %current.snapshot_id, bytes = current.bytes(), covers = current.covers_sequence, "fetching the published snapshot");
        let fetched = match super::snapshots::fetch(cluster, current, &handle.index_dir).await {
            Ok(fetched) => fetched,
            Err(error) => {
                tracing::error!(snapshot = %current.snapshot_id, %error, "published snapshot not fetched; the one served stays");
                return false;
            }
        };
        tracing::info!(snapshot = %current.snapshot_id, bytes = fetched.bytes, seconds = fetched.seconds, "published snapshot fetched");
        service.set_covers(&current.snapshot_id, current.covers_sequence);
        match handle.reload(Some(fetched.dir)).await {
            Ok(swap) => {
                if swap.snapshot != current.snapshot_id {
                    tracing::error!(expected = %current.snapshot_id, got = %swap.snapshot, "the fetched directory holds another snapshot");
                }
                prune(handle);
                true
            }
            Err(error) => {
                tracing::error!(snapshot = %current.snapshot_id, %error, "published snapshot refused; the one served stays");
                false
            }
        }
    }
}

/// Deletes the snapshot directories of the index but the one served and the previous one.
fn prune(handle: &SnapshotHandle) {
    let keep = handle.held_dirs();
    for (dir, _) in crate::snapshot::build::list_snapshots(&handle.index_dir) {
        if !keep.contains(&dir) {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => tracing::info!(dir = %dir.display(), "older snapshot deleted from the index"),
                Err(error) => tracing::warn!(dir = %dir.display(), %error, "older snapshot not deleted"),
            }
        }
    }
}

/// The next value of the current key (skipping deletes and values that do not parse).
async fn next_current(watch: &mut async_nats::jetstream::kv::Watch) -> Option<CurrentSnapshot> {
    loop {
        let entry = watch.next().await?;
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                tracing::warn!(%error, "current snapshot watch");
                return None;
            }
        };
        if entry.operation != async_nats::jetstream::kv::Operation::Put {
            continue;
        }
        match super::parse_current(&entry.value) {
            Ok(current) => return Some(current),
            Err(error) => tracing::error!(%error, "current snapshot key ignored"),
        }
    }
}
