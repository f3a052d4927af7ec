//! The capacity stream as the durable log of the live capacity service.
//!
//! * **Write.** The replica a client writes to publishes each [`LoggedWrite`] to
//!   `ror.capacity.<location>` with a message id of its own (`Nats-Msg-Id`: a publish retried
//!   within the stream's duplicate window is stored once) and waits for JetStream's
//!   acknowledgement (the write is then stored on a quorum of the stream's replicas), then for
//!   its own applier to have applied it, and answers with what became of it there.
//! * **Apply.** Every replica reads the whole stream with an ordered consumer from the
//!   position its snapshot covers, and applies what it reads in stream order, in batches of
//!   whatever has arrived (one swap of the engine's live view a batch), exactly as the local
//!   log's writer applies a group commit. The version a location gets is the stream sequence,
//!   the same on every replica.
//! * **Lag.** The applier notes the last sequence applied; a poller reads the stream's last
//!   sequence every second: the difference is the lag `/readyz` and the metrics report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use super::{Cluster, ClusterError};
use crate::live::write::LoggedWrite;

/// A write read from the stream: its sequence, its message id (set by the replica that took
/// it), the write.
pub(crate) type StreamWrite = (u64, Option<String>, LoggedWrite);

/// The header JetStream deduplicates publishes by.
const MESSAGE_ID: &str = "Nats-Msg-Id";
/// Most messages applied as one batch.
const MAX_BATCH: usize = 2_048;
/// How long the applier waits for a message the stream has before it recreates its consumer.
const STALL: Duration = Duration::from_secs(3);

/// The replica's side of the stream: publishing, and how far it has applied.
#[derive(Debug)]
pub struct CapacityStream {
    cluster: Cluster,
    /// Prefix of this process's message ids (random per process).
    id_prefix: String,
    next_id: AtomicU64,
    /// Last stream sequence applied here.
    applied: AtomicU64,
    /// The stream's last sequence, as last polled.
    stream_last: AtomicU64,
    /// The stream's last sequence when the applier started: caught up once applied.
    start_target: AtomicU64,
    /// Whether the applier has reached `start_target`.
    caught_up: AtomicBool,
    /// Whether the last poll of the stream answered.
    reachable: AtomicBool,
    /// Writes published by this replica and acknowledged by JetStream.
    pub published: AtomicU64,
    /// Publishes that failed (no acknowledgement).
    pub publish_failures: AtomicU64,
    /// Messages applied (this replica's writes and the others').
    pub applied_messages: AtomicU64,
}

/// Where the applier stands, for `/readyz` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Last stream sequence applied.
    pub applied_sequence: u64,
    /// The stream's last sequence, as last polled.
    pub stream_sequence: u64,
    /// Messages behind.
    pub lag: u64,
    /// Whether the applier has read what the stream held when it started.
    pub caught_up: bool,
    /// Whether the last poll of the stream answered.
    pub reachable: bool,
}

impl CapacityStream {
    /// The stream side of `cluster`.
    pub fn new(cluster: Cluster) -> CapacityStream {
        CapacityStream {
            cluster,
            id_prefix: nuid::next().to_string(),
            next_id: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            stream_last: AtomicU64::new(0),
            start_target: AtomicU64::new(u64::MAX),
            caught_up: AtomicBool::new(false),
            reachable: AtomicBool::new(false),
            published: AtomicU64::new(0),
            publish_failures: AtomicU64::new(0),
            applied_messages: AtomicU64::new(0),
        }
    }

    /// The cluster it publishes to.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// A message id no other write has.
    pub(crate) fn next_message_id(&self) -> String {
        format!("{}-{}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Publishes the writes (in order) and waits for JetStream to store each; returns their
    /// stream sequences.
    pub(crate) async fn publish_all(&self, writes: &[LoggedWrite], ids: &[String]) -> Result<Vec<u64>, ClusterError> {
        let mut acks = Vec::with_capacity(writes.len());
        for (write, id) in writes.iter().zip(ids) {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(MESSAGE_ID, id.as_str());
            let published = self
                .cluster
                .jetstream
                .publish_with_headers(super::subject_of(&write.location_id), headers, Bytes::from(write.encode()))
                .await;
            match published {
                Ok(ack) => acks.push(ack),
                Err(error) => {
                    self.publish_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(ClusterError::new("publish a capacity write", error));
                }
            }
        }
        let mut sequences = Vec::with_capacity(acks.len());
        for ack in acks {
            match ack.await {
                Ok(ack) => {
                    self.published.fetch_add(1, Ordering::Relaxed);
                    sequences.push(ack.sequence);
                }
                Err(error) => {
                    self.publish_failures.fetch_add(1, Ordering::Relaxed);
                    return Err(ClusterError::new("store a capacity write", error));
                }
            }
        }
        Ok(sequences)
    }

    /// Where the applier stands.
    pub fn progress(&self) -> Progress {
        let applied_sequence = self.applied.load(Ordering::Acquire);
        let stream_sequence = self.stream_last.load(Ordering::Acquire);
        Progress {
            applied_sequence,
            stream_sequence,
            lag: stream_sequence.saturating_sub(applied_sequence),
            caught_up: self.caught_up.load(Ordering::Acquire),
            reachable: self.reachable.load(Ordering::Acquire),
        }
    }

    fn note_applied(&self, sequence: u64) {
        self.applied.fetch_max(sequence, Ordering::AcqRel);
        self.stream_last.fetch_max(sequence, Ordering::AcqRel);
        if sequence >= self.start_target.load(Ordering::Acquire) {
            self.caught_up.store(true, Ordering::Release);
        }
    }

    /// Reads the stream's last sequence (every second, for ever).
    pub(crate) async fn poll(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match tokio::time::timeout(Duration::from_secs(3), self.cluster.stream.get_info()).await {
                Ok(Ok(info)) => {
                    self.reachable.store(true, Ordering::Release);
                    self.stream_last.fetch_max(info.state.last_sequence, Ordering::AcqRel);
                }
                Ok(Err(error)) => {
                    self.reachable.store(false, Ordering::Release);
                    tracing::debug!(%error, "capacity stream info");
                }
                Err(_) => self.reachable.store(false, Ordering::Release),
            }
        }
    }

    /// Applies the stream from `start` (the sequence after the one the first snapshot covers)
    /// for ever, handing each batch to `apply` in order; recreates its consumer after an
    /// error, from the sequence after the last applied.
    pub(crate) async fn apply_from<F>(self: Arc<Self>, start: u64, apply: F)
    where
        F: Fn(Vec<StreamWrite>) + Send + Sync + 'static,
    {
        let apply = Arc::new(apply);
        let mut next = start.max(1);
        // What the stream holds now is what "caught up" means at start.
        loop {
            match self.cluster.stream.get_info().await {
                Ok(info) => {
                    let target = info.state.last_sequence;
                    self.stream_last.fetch_max(target, Ordering::AcqRel);
                    self.start_target.store(target, Ordering::Release);
                    if target < next || info.state.messages == 0 {
                        self.caught_up.store(true, Ordering::Release);
                    }
                    self.applied.fetch_max(next - 1, Ordering::AcqRel);
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "capacity stream unreachable; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        loop {
            let mut messages = match read_from(&self.cluster, next).await {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(%error, next, "capacity stream consumer; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            tracing::info!(from = next, "reading the capacity stream");
            loop {
                // A consumer whose server died can take tens of seconds to notice (its pull
                // requests time out): when the stream holds more than was applied and nothing
                // came for a while, a new consumer is made from the next sequence.
                let first = match tokio::time::timeout(STALL, messages.next()).await {
                    Ok(Some(first)) => first,
                    Ok(None) => break,
                    Err(_) if self.stream_last.load(Ordering::Acquire) > self.applied.load(Ordering::Acquire) => {
                        tracing::warn!(next, "capacity stream consumer stalled behind the stream; recreating it");
                        break;
                    }
                    Err(_) => continue,
                };
                let (batch, read_to, failed) = self.gather(first, &mut messages);
                if !batch.is_empty() {
                    self.applied_messages.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let apply = apply.clone();
                    // Applying is CPU work under the service's lock: off the async workers.
                    let _ = tokio::task::spawn_blocking(move || apply(batch)).await;
                }
                if let Some(read_to) = read_to {
                    self.note_applied(read_to);
                    next = read_to + 1;
                }
                if failed {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The batch that starts with `first`: it and whatever has arrived already (at most
    /// `MAX_BATCH`), decoded; the last sequence read (an undecodable message, put under our
    /// subjects by another program, is skipped and said); whether the consumer failed.
    fn gather(
        &self,
        first: Result<async_nats::jetstream::Message, pull::OrderedError>,
        messages: &mut pull::Ordered,
    ) -> (Vec<StreamWrite>, Option<u64>, bool) {
        let mut batch = Vec::new();
        let mut read_to = None;
        let mut pending = Some(first);
        while let Some(message) = pending.take() {
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "capacity stream read failed; recreating the consumer");
                    return (batch, read_to, true);
                }
            };
            match decode(&message) {
                Ok((sequence, write)) => {
                    read_to = Some(sequence);
                    batch.push((sequence, message_id(&message), write));
                }
                Err(error) => {
                    tracing::error!(%error, "capacity stream: undecodable message skipped");
                    read_to = message.info().ok().map(|info| info.stream_sequence).or(read_to);
                }
            }
            if batch.len() < MAX_BATCH {
                pending = messages.next().now_or_never().flatten();
            }
        }
        (batch, read_to, false)
    }
}

/// An ordered consumer of the capacity stream from `start`.
pub(crate) async fn read_from(cluster: &Cluster, start: u64) -> Result<pull::Ordered, ClusterError> {
    let consumer = cluster
        .stream
        .create_consumer(pull::OrderedConfig {
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start.max(1) },
            ..Default::default()
        })
        .await
        .map_err(|error| ClusterError::new("create a capacity stream consumer", error))?;
    consumer.messages().await.map_err(|error| ClusterError::new("read the capacity stream", error))
}

/// A message's stream sequence and write.
pub(crate) fn decode(message: &async_nats::jetstream::Message) -> Result<(u64, LoggedWrite), ClusterError> {
    let sequence =
        message.info().map_err(|error| ClusterError::new("a stream message's metadata", error))?.stream_sequence;
    let write = LoggedWrite::decode(sequence, &message.payload)
        .map_err(|error| ClusterError::new(format!("stream message {sequence} on {}", message.subject), error))?;
    Ok((sequence, write))
}

fn message_id(message: &async_nats::jetstream::Message) -> Option<String> {
    message.headers.as_ref().and_then(|headers| headers.get(MESSAGE_ID)).map(|value| value.as_str().to_owned())
}
