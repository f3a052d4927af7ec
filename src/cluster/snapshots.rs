//! Snapshots through the cluster: published by the builder, fetched by every replica.
//!
//! **Publish** (`ror-search publish`, or `build --publish`): every file the snapshot's
//! `CHECKSUMS` lists, and `CHECKSUMS` itself, goes to the object store as
//! `<snapshot id>/<path>` (JetStream chunks it); then the snapshot is opened and the capacity
//! stream replayed onto it to find the stream position it covers (the longest prefix of
//! writes that change nothing on it); then the current key is set (files, SHA-256, covered
//! position), and only then is the covered prefix purged from the stream, so that a replica
//! that starts at any moment finds either the old key and its writes or the new key and the
//! writes after it. The objects of snapshots older than the previous one are deleted (the
//! previous one stays for rollback).
//!
//! **Fetch**: a replica downloads the files into `<index>/.<id>.fetching`, checks each file's
//! size and SHA-256 against the key as it streams, fsyncs, and renames the directory to
//! `<index>/<id>`; then it loads it as any snapshot (which checks `CHECKSUMS` again, the
//! manifest and the data file), so a broken snapshot is refused and the one served stays.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CURRENT_KEY, Cluster, ClusterError, CurrentSnapshot, SnapshotFile};
use crate::engine::Engine;
use crate::live::write::LoggedWrite;

/// What a publication did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishReport {
    /// The snapshot published.
    pub snapshot_id: String,
    /// Its files and total size.
    pub files: usize,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Seconds spent uploading.
    pub upload_seconds: f64,
    /// Capacity writes in the stream when the snapshot was checked against it.
    pub stream_writes: u64,
    /// The stream position the snapshot covers (the writes purged up to it).
    pub covers_sequence: u64,
    /// Seconds spent replaying the stream onto the snapshot.
    pub replay_seconds: f64,
    /// Snapshots whose objects were deleted (older than the previous one).
    pub deleted_snapshots: Vec<String>,
}

/// The files of a snapshot directory, as its `CHECKSUMS` lists them, and `CHECKSUMS` itself.
fn snapshot_files(dir: &Path) -> Result<Vec<SnapshotFile>, ClusterError> {
    let checksums_path = dir.join(crate::snapshot::CHECKSUMS_FILE);
    let what = || format!("read {}", checksums_path.display());
    let checksums = std::fs::read(&checksums_path).map_err(|error| ClusterError::new(what(), error))?;
    let text = std::str::from_utf8(&checksums).map_err(|error| ClusterError::new(what(), error))?;
    let entries = crate::snapshot::checksum_entries(text).map_err(|reason| ClusterError::new(what(), reason))?;
    let mut files = Vec::with_capacity(entries.len() + 1);
    for (sha256, path) in entries {
        let size = std::fs::metadata(dir.join(path))
            .map_err(|error| ClusterError::new(format!("{}", dir.join(path).display()), error))?
            .len();
        files.push(SnapshotFile { path: path.to_owned(), size, sha256: sha256.to_owned() });
    }
    files.push(SnapshotFile {
        path: crate::snapshot::CHECKSUMS_FILE.to_owned(),
        size: checksums.len() as u64,
        sha256: hex::encode(Sha256::digest(&checksums)),
    });
    Ok(files)
}

/// The object of a snapshot file.
fn object_name(snapshot_id: &str, path: &str) -> String {
    format!("{snapshot_id}/{path}")
}

/// Publishes the snapshot in `dir` (see the module's documentation). The snapshot must load:
/// a broken one is refused before anything is uploaded.
pub async fn publish(cluster: &Cluster, dir: &Path) -> Result<PublishReport, ClusterError> {
    let (engine, uploaded) = upload(cluster, dir).await?;
    let started = Instant::now();
    let (stream_writes, covers_sequence) = covered_prefix(cluster, engine).await?;
    let replay_seconds = started.elapsed().as_secs_f64();
    let previous = cluster.current_snapshot().await?.map(|current| current.snapshot_id);
    let current = CurrentSnapshot { covers_sequence, ..uploaded.current };
    set_current(cluster, &current).await?;
    if covers_sequence > 0 {
        cluster
            .stream
            .purge()
            .sequence(covers_sequence + 1)
            .await
            .map_err(|error| ClusterError::new(format!("purge the stream below {}", covers_sequence + 1), error))?;
    }
    let keep = [Some(current.snapshot_id.as_str()), previous.as_deref()];
    let deleted_snapshots = delete_older(cluster, &keep).await?;
    let report = PublishReport {
        snapshot_id: current.snapshot_id.clone(),
        files: current.files.len(),
        bytes: current.bytes(),
        upload_seconds: uploaded.seconds,
        stream_writes,
        covers_sequence,
        replay_seconds,
        deleted_snapshots,
    };
    tracing::info!(
        snapshot = %report.snapshot_id,
        files = report.files,
        bytes = report.bytes,
        upload_seconds = report.upload_seconds,
        stream_writes,
        covers_sequence,
        replay_seconds,
        deleted = ?report.deleted_snapshots,
        "snapshot published"
    );
    Ok(report)
}

/// What [`upload`] put in the object store.
#[derive(Debug, Clone)]
pub struct Uploaded {
    /// The key that names it (covering nothing of the stream yet).
    pub current: CurrentSnapshot,
    /// Seconds spent uploading.
    pub seconds: f64,
}

/// Opens the snapshot in `dir` (which verifies it whole) and uploads its files; the key is not
/// set. Returns the engine (to find what it covers of the stream) and what was uploaded.
pub async fn upload(cluster: &Cluster, dir: &Path) -> Result<(Engine, Uploaded), ClusterError> {
    let open_dir = dir.to_owned();
    // Opening verifies every checksum, the manifest and the data: nothing broken is published.
    let engine = tokio::task::spawn_blocking(move || Engine::open(&open_dir))
        .await
        .map_err(|error| ClusterError::new("open the snapshot", error.to_string()))?
        .map_err(|error| ClusterError::new(format!("open {}", dir.display()), crate::util::error_chain(&error)))?;
    let snapshot_id = engine.snapshot_id().to_owned();
    let files = snapshot_files(dir)?;
    let started = Instant::now();
    for file in &files {
        let path = dir.join(&file.path);
        let mut reader = tokio::fs::File::open(&path)
            .await
            .map_err(|error| ClusterError::new(format!("open {}", path.display()), error))?;
        cluster
            .snapshots
            .put(object_name(&snapshot_id, &file.path).as_str(), &mut reader)
            .await
            .map_err(|error| ClusterError::new(format!("upload {}", file.path), error))?;
    }
    let current = CurrentSnapshot {
        snapshot_id,
        files,
        covers_sequence: 0,
        published_at: crate::util::time::format_rfc3339(crate::util::time::now()),
    };
    Ok((engine, Uploaded { current, seconds: started.elapsed().as_secs_f64() }))
}

/// Sets the current key: every replica fetches that snapshot and swaps it in.
pub async fn set_current(cluster: &Cluster, current: &CurrentSnapshot) -> Result<(), ClusterError> {
    let value = serde_json::to_vec(current).expect("the current key serialises");
    cluster
        .current
        .put(CURRENT_KEY, value.into())
        .await
        .map_err(|error| ClusterError::new(format!("set {}/{CURRENT_KEY}", super::CURRENT_BUCKET), error))?;
    Ok(())
}

/// Replays the stream onto `engine` (in batches, as replicas apply it) and returns how many
/// writes it read and the last sequence of the longest prefix of writes that change nothing
/// on it (each older than the record it holds, or to a location it does not have).
async fn covered_prefix(cluster: &Cluster, engine: Engine) -> Result<(u64, u64), ClusterError> {
    let info = cluster.stream.get_info().await.map_err(|error| ClusterError::new("stream info", error))?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    if info.state.messages == 0 {
        return Ok((0, last));
    }
    let mut messages = super::stream::read_from(cluster, first).await?;
    let mut read = 0u64;
    let mut covers = first.saturating_sub(1);
    let mut prefix_open = true;
    let mut batch: Vec<(u64, LoggedWrite)> = Vec::new();
    let engine = std::sync::Arc::new(engine);
    loop {
        let Some(message) = messages.next().await else { break };
        let message = message.map_err(|error| ClusterError::new("read the stream", error))?;
        let (sequence, write) = super::stream::decode(&message)?;
        read += 1;
        batch.push((sequence, write));
        let done = sequence >= last;
        if batch.len() >= 4_096 || done {
            let writes = std::mem::take(&mut batch);
            let apply_engine = engine.clone();
            let outcomes = tokio::task::spawn_blocking(move || {
                let entries: Vec<(u64, &LoggedWrite)> =
                    writes.iter().map(|(sequence, write)| (*sequence, write)).collect();
                let mut noop = Vec::with_capacity(entries.len());
                crate::serve::capacity::apply_entries(&apply_engine, &entries, crate::util::time::now(), |result| {
                    noop.push((result.sequence, !result.applied()));
                });
                noop
            })
            .await
            .map_err(|error| ClusterError::new("replay the stream", error.to_string()))?;
            for (sequence, noop) in outcomes {
                if prefix_open && noop {
                    covers = sequence;
                } else {
                    prefix_open = false;
                }
            }
        }
        if done {
            break;
        }
    }
    Ok((read, covers))
}

/// Deletes the objects of every snapshot but those of `keep`; returns their ids.
async fn delete_older(cluster: &Cluster, keep: &[Option<&str>]) -> Result<Vec<String>, ClusterError> {
    let mut list = cluster.snapshots.list().await.map_err(|error| ClusterError::new("list snapshot objects", error))?;
    let mut doomed = Vec::new();
    while let Some(info) = list.next().await {
        let info = info.map_err(|error| ClusterError::new("list snapshot objects", error))?;
        let id = info.name.split('/').next().unwrap_or_default();
        if !keep.contains(&Some(id)) {
            doomed.push(info.name.clone());
        }
    }
    let mut deleted: Vec<String> = Vec::new();
    for name in doomed {
        cluster.snapshots.delete(&name).await.map_err(|error| ClusterError::new(format!("delete {name}"), error))?;
        let id = name.split('/').next().unwrap_or_default().to_owned();
        if !deleted.contains(&id) {
            deleted.push(id);
        }
    }
    Ok(deleted)
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The snapshot directory in the index.
    pub dir: PathBuf,
    /// Bytes downloaded (0: it was already in the index).
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Downloads the snapshot `current` names into `index_dir` (see the module's documentation),
/// unless the index already holds it whole.
pub async fn fetch(cluster: &Cluster, current: &CurrentSnapshot, index_dir: &Path) -> Result<Fetched, ClusterError> {
    let started = Instant::now();
    if !crate::snapshot::is_snapshot_name(&current.snapshot_id) {
        return Err(ClusterError::new("the current key", format!("invalid snapshot id {:?}", current.snapshot_id)));
    }
    let dir = index_dir.join(&current.snapshot_id);
    if already_there(&dir, current) {
        return Ok(Fetched { dir, bytes: 0, seconds: started.elapsed().as_secs_f64() });
    }
    let partial = index_dir.join(format!(".{}.fetching", current.snapshot_id));
    let _ = tokio::fs::remove_dir_all(&partial).await;
    let mut bytes = 0;
    for file in &current.files {
        if !crate::snapshot::is_inside_snapshot(&file.path) {
            return Err(ClusterError::new("the current key", format!("unsafe file path {:?}", file.path)));
        }
        let path = partial.join(&file.path);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| ClusterError::new(format!("create {}", parent.display()), error))?;
        }
        match download(cluster, &current.snapshot_id, file, &path).await {
            Ok(size) => bytes += size,
            Err(error) => {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                return Err(error);
            }
        }
    }
    // The files are durable before the directory is renamed into place.
    let sync_dir = partial.clone();
    tokio::task::spawn_blocking(move || sync_tree(&sync_dir))
        .await
        .map_err(|error| ClusterError::new("sync", error.to_string()))?
        .map_err(|error| ClusterError::new(format!("sync {}", partial.display()), error))?;
    let _ = tokio::fs::remove_dir_all(&dir).await;
    tokio::fs::rename(&partial, &dir)
        .await
        .map_err(|error| ClusterError::new(format!("rename into {}", dir.display()), error))?;
    Ok(Fetched { dir, bytes, seconds: started.elapsed().as_secs_f64() })
}

/// Whether `dir` holds the snapshot already: its manifest's id, and every file of the size
/// the key gives (the load that follows checks every SHA-256).
fn already_there(dir: &Path, current: &CurrentSnapshot) -> bool {
    crate::snapshot::read_manifest(dir).is_ok_and(|manifest| manifest.snapshot_id == current.snapshot_id)
        && current
            .files
            .iter()
            .all(|file| std::fs::metadata(dir.join(&file.path)).is_ok_and(|metadata| metadata.len() == file.size))
}

/// Downloads one file, checking its size and SHA-256 as it streams.
async fn download(cluster: &Cluster, snapshot_id: &str, file: &SnapshotFile, path: &Path) -> Result<u64, ClusterError> {
    let name = object_name(snapshot_id, &file.path);
    let mut object =
        cluster.snapshots.get(name.as_str()).await.map_err(|error| ClusterError::new(format!("get {name}"), error))?;
    let mut out = tokio::fs::File::create(path)
        .await
        .map_err(|error| ClusterError::new(format!("create {}", path.display()), error))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = object.read(&mut buffer).await.map_err(|error| ClusterError::new(format!("read {name}"), error))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read])
            .await
            .map_err(|error| ClusterError::new(format!("write {}", path.display()), error))?;
        size += read as u64;
    }
    out.flush().await.map_err(|error| ClusterError::new(format!("write {}", path.display()), error))?;
    let sha256 = hex::encode(hasher.finalize());
    if size != file.size || sha256 != file.sha256 {
        return Err(ClusterError::new(
            format!("fetch {name}"),
            format!("got {size} bytes of SHA-256 {sha256}, the key says {} bytes of {}", file.size, file.sha256),
        ));
    }
    Ok(size)
}

/// fsyncs every file under `dir`, then the directories.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_those_of_the_checksums_and_the_checksums() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("text")).unwrap();
        std::fs::write(dir.path().join("data.bin"), b"abc").unwrap();
        std::fs::write(dir.path().join("text/meta.json"), b"{}").unwrap();
        let checksums = format!(
            "{}  data.bin\n{}  text/meta.json\n",
            hex::encode(Sha256::digest(b"abc")),
            hex::encode(Sha256::digest(b"{}"))
        );
        std::fs::write(dir.path().join("CHECKSUMS"), &checksums).unwrap();
        let files = snapshot_files(dir.path()).unwrap();
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["data.bin", "text/meta.json", "CHECKSUMS"]);
        assert_eq!(files[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(files[0].size, 3);
        assert_eq!(files[2].sha256, hex::encode(Sha256::digest(checksums.as_bytes())));
        std::fs::write(dir.path().join("CHECKSUMS"), "no separator\n").unwrap();
        assert!(snapshot_files(dir.path()).is_err());
    }
}
