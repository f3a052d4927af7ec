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

use async_nats::jetstream::kv::Watch;
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
        let phase = if stream.is_some_and(|progress| progress.caught_up) {
            "serving".to_owned()
        } else {
            self.phase.lock().unwrap_or_else(PoisonError::into_inner).clone()
        };
        ReplicaStatus { ready, phase, stream, max_lag: self.config.max_lag }
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
        self.set_phase("waiting for a published snapshot");
        let mut watch = None;
        let first_covers = loop {
            let entry = self.next_published(&cluster, &mut watch).await;
            if self.swap_in(&cluster, &handle, &service, &entry).await {
                break entry.covers_sequence;
            }
        };
        self.set_phase("catching up with the capacity stream");
        let _ = self.stream.set(stream.clone());
        tokio::spawn(stream.clone().poll());
        let current_handle = handle.clone();
        let apply_service = service.clone();
        tokio::spawn(stream.clone().apply_from(first_covers + 1, move |batch| {
            let handle = current_handle.clone();
            apply_service.apply_stream(batch, &move || handle.current());
        }));
        // Then every new snapshot.
        loop {
            let entry = self.next_published(&cluster, &mut watch).await;
            let served = handle.current().map(|loaded| loaded.engine.snapshot_id().to_owned());
            if served.as_deref() != Some(entry.snapshot_id.as_str()) {
                self.swap_in(&cluster, &handle, &service, &entry).await;
            }
        }
    }

    /// The next value of the current key: the latest one first, then each change. The watch is
    /// (re)made as needed, retrying every second while the cluster does not answer.
    async fn next_published(&self, cluster: &Cluster, watch: &mut Option<Watch>) -> CurrentSnapshot {
        loop {
            let held = match watch {
                Some(held) => held,
                None => match cluster.current.watch_with_history(super::CURRENT_KEY).await {
                    Ok(made) => watch.insert(made),
                    Err(error) => {
                        tracing::warn!(%error, "watching the current snapshot; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            match next_current(held).await {
                Some(entry) => return entry,
                None => {
                    *watch = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
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
async fn next_current(watch: &mut Watch) -> Option<CurrentSnapshot> {
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
