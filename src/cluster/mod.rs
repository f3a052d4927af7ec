//! Several replicas over NATS JetStream: no replication protocol of our own, three JetStream
//! primitives (replicated by the NATS cluster's own Raft groups):
//!
//! | primitive | name | holds |
//! |---|---|---|
//! | object store | `ror-snapshots` | every file of each published snapshot, as `<snapshot id>/<path>` |
//! | key-value bucket | `ror-current`, key `snapshot` | which snapshot is current ([`CurrentSnapshot`]: its files' SHA-256, the stream position it covers) |
//! | stream | `ROR_CAPACITY`, subjects `ror.capacity.<location>` | every capacity write, as the local log holds it ([`crate::live::write::LoggedWrite`], postcard) |
//!
//! * [`snapshots`]: `ror-search publish` uploads a snapshot's files, computes the stream
//!   position it covers, sets the current key, then purges the writes it covers; a replica
//!   watches the key, downloads and verifies the files, loads and swaps the snapshot in.
//! * [`stream`]: the capacity stream as the durable log of
//!   [`crate::serve::capacity::CapacityService`]: a write is acknowledged to its client once
//!   JetStream has stored it (on a quorum of the stream's replicas) *and* this replica has
//!   applied it; every replica applies every write in stream order, so last-writer-wins by
//!   `capacityUpdateDate` gives every replica the same state whatever the order races between
//!   writers.

pub mod replica;
pub mod snapshots;
pub mod stream;

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store, stream as js_stream};

use serde::{Deserialize, Serialize};

/// The object store bucket of snapshot files.
pub const SNAPSHOT_BUCKET: &str = "ror-snapshots";
/// The key-value bucket naming the current snapshot.
pub const CURRENT_BUCKET: &str = "ror-current";
/// The key of the current snapshot in [`CURRENT_BUCKET`].
pub const CURRENT_KEY: &str = "snapshot";
/// The stream of capacity writes.
pub const CAPACITY_STREAM: &str = "ROR_CAPACITY";
/// The subjects of the stream: `ror.capacity.<location id, escaped>`.
pub const CAPACITY_SUBJECT_PREFIX: &str = "ror.capacity.";

/// How a process joins the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// NATS server URLs (`nats://host:4222`); the client fails over between them.
    pub urls: Vec<String>,
    /// Replicas of the stream and buckets when this process creates them (1 to 5; 3 on a
    /// three-node NATS cluster: any one node can be lost).
    pub replicas: usize,
    /// Stream messages a replica may be behind before `/readyz` says 503.
    pub max_lag: u64,
    /// The client's name in the NATS server's monitoring (`ror-search <role> <host>`).
    pub client_name: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig { urls: Vec::new(), replicas: 1, max_lag: 1_000, client_name: "ror-search".into() }
    }
}

/// Why the cluster cannot be reached or used.
#[derive(Debug, thiserror::Error)]
#[error("NATS {what}: {source}")]
pub struct ClusterError {
    /// What was being done.
    pub what: String,
    /// The client's error.
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl ClusterError {
    pub(crate) fn new(what: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ClusterError { what: what.into(), source: source.into() }
    }
}

/// The current snapshot, as the key-value bucket holds it (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentSnapshot {
    /// The snapshot's id (its manifest's `snapshot_id`).
    pub snapshot_id: String,
    /// Its files, relative to its directory, with their size and SHA-256 (hex).
    pub files: Vec<SnapshotFile>,
    /// Every capacity write of the stream up to this sequence (included) is covered by the
    /// snapshot (older than what it holds, or to a location it no longer has): a replica that
    /// loads it reads the stream from the next one. 0: none.
    pub covers_sequence: u64,
    /// When it was published (RFC 3339).
    pub published_at: String,
}

impl CurrentSnapshot {
    /// The total size of the files, bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }
}

/// One file of a published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFile {
    /// Path relative to the snapshot directory, `/`-separated.
    pub path: String,
    /// Size, bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// A connection to the cluster and its three primitives (created on first use with the
/// configured replicas).
#[derive(Clone)]
pub struct Cluster {
    /// The JetStream context.
    pub jetstream: jetstream::Context,
    /// The snapshot files.
    pub snapshots: object_store::ObjectStore,
    /// The current snapshot's key.
    pub current: kv::Store,
    /// The capacity writes.
    pub stream: js_stream::Stream,
    /// The configuration it was opened with.
    pub config: ClusterConfig,
    client: async_nats::Client,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("urls", &self.config.urls).finish()
    }
}

impl Cluster {
    /// Connects (retrying until a server answers, for at most `connect_timeout`) and opens, or
    /// creates, the stream and the buckets.
    pub async fn connect(config: &ClusterConfig, connect_timeout: Duration) -> Result<Cluster, ClusterError> {
        if config.urls.is_empty() {
            return Err(ClusterError::new("configuration", "no server URL"));
        }
        let addresses: Vec<async_nats::ServerAddr> = config
            .urls
            .iter()
            .map(|url| url.parse().map_err(|error| ClusterError::new(format!("server URL {url}"), error)))
            .collect::<Result<_, _>>()?;
        let options = async_nats::ConnectOptions::new()
            .name(&config.client_name)
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    async_nats::Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
                    other => tracing::info!(event = %other, "NATS event"),
                }
            });
        let client = tokio::time::timeout(connect_timeout, async_nats::connect_with_options(addresses, options))
            .await
            .map_err(|_| ClusterError::new("connect", format!("no server answered within {connect_timeout:?}")))?
            .map_err(|error| ClusterError::new("connect", error))?;
        let jetstream = jetstream::new(client.clone());
        // JetStream answers once the cluster has elected its meta leader: retry until then.
        let deadline = tokio::time::Instant::now() + connect_timeout;
        loop {
            match Cluster::open(client.clone(), jetstream.clone(), config).await {
                Ok(cluster) => return Ok(cluster),
                Err(error) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(%error, "JetStream not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn open(
        client: async_nats::Client,
        jetstream: jetstream::Context,
        config: &ClusterConfig,
    ) -> Result<Cluster, ClusterError> {
        let replicas = config.replicas.clamp(1, 5);
        let stream = jetstream
            .get_or_create_stream(js_stream::Config {
                name: CAPACITY_STREAM.into(),
                description: Some("ror-search live capacity writes (postcard LoggedWrite)".into()),
                subjects: vec![format!("{CAPACITY_SUBJECT_PREFIX}>")],
                storage: js_stream::StorageType::File,
                num_replicas: replicas,
                // A publish retried with the same message id within this window is stored once.
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|error| ClusterError::new(format!("stream {CAPACITY_STREAM}"), error))?;
        // The key-value bucket's stream, made by hand with the conventions of NATS KV
        // (`KV_<bucket>`, `$KV.<bucket>.>`): the client's own `create_key_value` first reads
        // the account info, whose format it expects of servers from 2.10 on (Debian ships 2.9).
        jetstream
            .get_or_create_stream(js_stream::Config {
                name: format!("KV_{CURRENT_BUCKET}"),
                description: Some("ror-search: the current snapshot".into()),
                subjects: vec![format!("$KV.{CURRENT_BUCKET}.>")],
                max_messages_per_subject: 10,
                storage: js_stream::StorageType::File,
                num_replicas: replicas,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: js_stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await
            .map_err(|error| ClusterError::new(format!("key-value bucket {CURRENT_BUCKET}"), error))?;
        let current = jetstream
            .get_key_value(CURRENT_BUCKET)
            .await
            .map_err(|error| ClusterError::new(format!("key-value bucket {CURRENT_BUCKET}"), error))?;
        let snapshots = match jetstream.get_object_store(SNAPSHOT_BUCKET).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_object_store(object_store::Config {
                    bucket: SNAPSHOT_BUCKET.into(),
                    description: Some("ror-search snapshot files".into()),
                    num_replicas: replicas,
                    storage: js_stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|error| ClusterError::new(format!("object store {SNAPSHOT_BUCKET}"), error))?,
        };
        Ok(Cluster { jetstream, snapshots, current, stream, config: config.clone(), client })
    }

    /// The current snapshot, if one was published.
    pub async fn current_snapshot(&self) -> Result<Option<CurrentSnapshot>, ClusterError> {
        let entry = self
            .current
            .get(CURRENT_KEY)
            .await
            .map_err(|error| ClusterError::new(format!("get {CURRENT_BUCKET}/{CURRENT_KEY}"), error))?;
        entry.map(|bytes| parse_current(&bytes)).transpose()
    }

    /// Whether the client is connected to a server now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Sends what the client buffered and waits for the server to have it.
    pub async fn flush(&self) -> Result<(), ClusterError> {
        self.client.flush().await.map_err(|error| ClusterError::new("flush", error))
    }
}

/// Reads the current key's value.
pub(crate) fn parse_current(bytes: &[u8]) -> Result<CurrentSnapshot, ClusterError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ClusterError::new(format!("value of {CURRENT_BUCKET}/{CURRENT_KEY}"), error))
}

/// The subject of a location's writes: `ror.capacity.` and the location's FHIR id, with `.`,
/// `*`, `>`, `%` and anything outside printable ASCII escaped as `%XX` (a subject token may
/// hold none of the first three, and FHIR ids may hold `.`).
pub fn subject_of(location_id: &str) -> String {
    let mut subject = String::with_capacity(CAPACITY_SUBJECT_PREFIX.len() + location_id.len());
    subject.push_str(CAPACITY_SUBJECT_PREFIX);
    for byte in location_id.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'.' | b'*' | b'>' | b'%') {
            subject.push(byte as char);
        } else {
            subject.push_str(&format!("%{byte:02X}"));
        }
    }
    if location_id.is_empty() {
        subject.push_str("%00");
    }
    subject
}

/// Parses `nats://a:4222,nats://b:4222` (commas, spaces) into URLs.
pub fn parse_urls(text: &str) -> Vec<String> {
    text.split([',', ' ']).map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_escape_what_a_token_cannot_hold() {
        assert_eq!(subject_of("loc-330782780-0"), "ror.capacity.loc-330782780-0");
        assert_eq!(subject_of("a.b"), "ror.capacity.a%2Eb");
        assert_eq!(subject_of("a*>%"), "ror.capacity.a%2A%3E%25");
        assert_eq!(subject_of("é"), "ror.capacity.%C3%A9");
        assert_eq!(subject_of(""), "ror.capacity.%00");
        // Distinct ids, distinct subjects.
        assert_ne!(subject_of("a.b"), subject_of("a%2Eb"));
    }

    #[test]
    fn urls_split_on_commas_and_spaces() {
        assert_eq!(parse_urls("nats://a:4222, nats://b:4222,,"), vec!["nats://a:4222", "nats://b:4222"]);
        assert!(parse_urls(" ").is_empty());
    }

    #[test]
    fn the_current_key_reads_back() {
        let current = CurrentSnapshot {
            snapshot_id: "20261115T000000Z-abcdef012345".into(),
            files: vec![SnapshotFile { path: "text/meta.json".into(), size: 12, sha256: "00".repeat(32) }],
            covers_sequence: 41,
            published_at: "2026-12-04T19:00:00Z".into(),
        };
        let bytes = serde_json::to_vec(&current).unwrap();
        assert_eq!(parse_current(&bytes).unwrap(), current);
        assert_eq!(current.bytes(), 12);
        assert!(parse_current(b"{}").is_err());
    }
}
