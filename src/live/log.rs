//! A durable, checksummed, append-only write log with group commit.
//!
//! The log holds opaque payloads (the caller serialises its own entry type, e.g. with postcard);
//! it knows nothing of what they mean. Every payload gets a sequence number, strictly increasing
//! from 1, and is acknowledged only once it is on disk (`fdatasync`).
//!
//! # File format
//!
//! All integers are little-endian. The file starts with a 40-byte header:
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 8 | magic [`MAGIC`] (`RORCAPLG`) |
//! | 8 | 4 | format version ([`FORMAT_VERSION`]) |
//! | 12 | 4 | reserved, zero |
//! | 16 | 8 | log id: creation time of the log in Unix nanoseconds (kept by compaction) |
//! | 24 | 8 | sequence floor: the last sequence number issued before this file was written (0 for a new log, the last sequence at compaction time after a compaction) |
//! | 32 | 4 | CRC-32 (IEEE) of bytes 0..32 |
//! | 36 | 4 | reserved, zero |
//!
//! then records, back to back, each [`RECORD_HEADER_LEN`] bytes of framing and the payload:
//!
//! | offset | bytes | content |
//! |---|---|---|
//! | 0 | 4 | payload length `n` (at most [`MAX_PAYLOAD_BYTES`]) |
//! | 4 | 4 | CRC-32 (IEEE) of bytes 8..16+n: the sequence number then the payload |
//! | 8 | 8 | sequence number (strictly greater than the previous record's) |
//! | 16 | n | payload |
//!
//! The last sequence of the log is the greater of the header's floor and the last record's
//! sequence, so it survives a compaction that keeps no record.
//!
//! # Group commit
//!
//! [`Log::append`] and [`Log::submit`] queue a request on a channel; one writer thread takes
//! every queued request (up to [`MAX_BATCH_BYTES`] of records), writes them with one `write`,
//! calls [`File::sync_data`] once, then answers each request with its sequence numbers. A batch
//! larger than [`MAX_BATCH_BYTES`] is written and synced in several chunks: the file never grows
//! by more than [`MAX_BATCH_BYTES`] past its last synced length.
//!
//! # Open and replay
//!
//! [`Log::open`] reads the whole file, checks the header (a bad header is an error: the file is
//! never reset), and replays the records in order. The first record that does not check out
//! (short framing, short payload, length over the limit, bad CRC, sequence not increasing) ends
//! the replay:
//!
//! * if it lies within [`MAX_BATCH_BYTES`] of the end of the file, it can be a write torn by a
//!   crash (at most one unsynced chunk is ever in flight): the file is truncated to the last good
//!   record, synced, and the cut is reported in [`ReplayReport::tail`]. The dropped records were
//!   never acknowledged, unless the damage is bit rot in the last chunk, which cannot be told
//!   apart from a torn write.
//! * otherwise the damage is in data that was synced before later data was written (middle
//!   corruption): [`Log::open`] refuses with [`LogError::Corrupt`] and leaves the file untouched,
//!   because truncating would drop acknowledged writes.
//!
//! # Compaction
//!
//! [`Log::compact`] (and [`Log::truncate_before`]) rewrite the log: the kept records are written
//! with their sequence numbers to `<log>.compact.tmp` in the same directory, which is synced,
//! renamed over the log, and the directory is synced. The compaction holds the writer's lock:
//! appends submitted meanwhile wait and are written to the new file once it is in place, so none
//! is lost. A stale `<log>.compact.tmp` (crash during a compaction) is removed by [`Log::open`].
//!
//! # Errors
//!
//! A bad file gives a [`LogError`], never a panic. An I/O error while appending fails the whole
//! batch (every waiting caller gets [`LogError::Io`]) and the log then refuses every append and
//! compaction with [`LogError::Failed`] until it is reopened: after a failed `fsync` the page
//! cache cannot be trusted, and reopening replays what is really on disk (truncating a torn
//! tail).

use std::fs::{self, File, OpenOptions};
use std::future::Future;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

/// First bytes of a log file.
pub const MAGIC: &[u8; 8] = b"RORCAPLG";
/// Current version of the log format.
pub const FORMAT_VERSION: u32 = 1;
/// Length in bytes of the file header.
pub const HEADER_LEN: usize = 40;
/// Length in bytes of a record's framing (length, CRC, sequence) before its payload.
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest payload accepted, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
/// Most bytes of records written between two `fsync`s; also the largest tail that
/// [`Log::open`] treats as torn rather than corrupt.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Why the log could not be opened, appended to or compacted. Every variant names the file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// An I/O operation failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`read`, `write`, `fsync`, `rename`…).
        op: &'static str,
        /// The error (shared: one error answers every caller of a failed batch).
        #[source]
        source: Arc<io::Error>,
    },
    /// The file header is not a valid log header: the file is refused, never reset.
    #[error("{path}: bad log header: {reason}")]
    BadHeader {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is a log of another format version.
    #[error("{path}: log format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The log file.
        path: PathBuf,
        /// Version found in the header.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// A record before the last written chunk is damaged: opening would drop acknowledged
    /// writes, so the log is refused and left untouched.
    #[error("{path}: corrupt record at offset {offset} ({reason}), {bytes_after} bytes of log after it")]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Offset of the damaged record.
        offset: u64,
        /// What is wrong with it.
        reason: DamageReason,
        /// Bytes of the file from that record to the end.
        bytes_after: u64,
    },
    /// A payload is larger than [`MAX_PAYLOAD_BYTES`]; nothing of the batch was written.
    #[error("{path}: payload of {len} bytes is over the limit of {max} bytes")]
    PayloadTooLarge {
        /// The log file.
        path: PathBuf,
        /// Length of the payload.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier I/O error left the log unusable; reopen it.
    #[error("{path}: log refuses writes after an earlier I/O error ({reason}); reopen it")]
    Failed {
        /// The log file.
        path: PathBuf,
        /// The earlier error.
        reason: String,
    },
    /// The writer thread is gone (it should not happen).
    #[error("{path}: log writer stopped")]
    Closed {
        /// The log file.
        path: PathBuf,
    },
}

/// What is wrong with the first record that ended a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageReason {
    /// Fewer bytes left than a record's framing.
    ShortHeader,
    /// The payload goes past the end of the file.
    ShortPayload,
    /// The declared payload length is over [`MAX_PAYLOAD_BYTES`].
    BadLength,
    /// The CRC does not match the sequence number and payload.
    BadCrc,
    /// The sequence number is not greater than the previous record's.
    SequenceNotIncreasing,
}

impl std::fmt::Display for DamageReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DamageReason::ShortHeader => "short record header",
            DamageReason::ShortPayload => "short payload",
            DamageReason::BadLength => "payload length over the limit",
            DamageReason::BadCrc => "bad CRC",
            DamageReason::SequenceNotIncreasing => "sequence number not increasing",
        })
    }
}

/// One replayed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its sequence number.
    pub sequence: u64,
    /// Its payload, as appended.
    pub payload: Vec<u8>,
}

/// A torn or corrupt tail found by [`Log::open`], truncated and never applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset of the first bad record, now the length of the file.
    pub offset: u64,
    /// Bytes cut from the file.
    pub bytes_dropped: u64,
    /// What was wrong with the first bad record.
    pub reason: DamageReason,
}

/// What [`Log::open`] found (`Default`: no log, as a replica's service has).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records replayed.
    pub records: u64,
    /// Length of the file after recovery (header and good records), in bytes.
    pub bytes: u64,
    /// Last sequence number of the log (0 for a new log).
    pub last_sequence: u64,
    /// The log id (creation time in Unix nanoseconds).
    pub log_id: u64,
    /// Whether the file was created by this open.
    pub created: bool,
    /// A torn or corrupt tail that was truncated, if any.
    pub tail: Option<TornTail>,
}

/// The records of a log, in sequence order, and what the replay found.
#[derive(Debug, Clone)]
pub struct Replay {
    /// Every good record, in order.
    pub entries: Vec<Entry>,
    /// Counts and the torn tail, if any.
    pub report: ReplayReport,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Records before.
    pub records_before: u64,
    /// Records kept.
    pub records_kept: u64,
    /// File length before, in bytes.
    pub bytes_before: u64,
    /// File length after, in bytes.
    pub bytes_after: u64,
    /// Last sequence of the log, kept in the new header.
    pub last_sequence: u64,
}

/// Counters of a log, cheap to read (they never wait for an `fsync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogMetrics {
    /// Records in the file.
    pub records: u64,
    /// Length of the file in bytes.
    pub bytes: u64,
    /// Last sequence number issued.
    pub last_sequence: u64,
    /// Group commits (`fsync`s of appended records) since open.
    pub commits: u64,
    /// Entries written by those commits.
    pub entries_committed: u64,
    /// Entries in the last commit.
    pub last_commit_entries: u64,
    /// Duration of the last `fsync`.
    pub last_fsync: Duration,
    /// Longest `fsync` since open.
    pub max_fsync: Duration,
    /// Compactions since open.
    pub compactions: u64,
    /// Whether the log refuses writes after an I/O error.
    pub failed: bool,
}

impl LogMetrics {
    /// Mean entries per group commit (0 before the first commit).
    pub fn entries_per_commit(&self) -> f64 {
        if self.commits == 0 { 0.0 } else { self.entries_committed as f64 / self.commits as f64 }
    }
}

/// An open log: a writer thread and the state it shares with compaction.
///
/// `Log` is `Send + Sync`: share it (e.g. in an `Arc`) between the threads and tasks that
/// append. Dropping it answers every queued request, then stops the writer thread.
#[derive(Debug)]
pub struct Log {
    shared: Arc<Shared>,
    tx: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
}

/// An append in flight, from [`Log::submit`]: a future of its sequence numbers, resolved once
/// the records are durable. The append is queued when `submit` returns, whether or not the
/// future is polled; dropping it does not cancel the write.
#[derive(Debug)]
pub struct PendingAppend {
    rx: oneshot::Receiver<Result<Vec<u64>, LogError>>,
    shared: Arc<Shared>,
}

impl Future for PendingAppend {
    type Output = Result<Vec<u64>, LogError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(result)) => Poll::Ready(result),
            Poll::Ready(Err(_)) => Poll::Ready(Err(LogError::Closed { path: self.shared.path.clone() })),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[derive(Debug)]
struct Shared {
    path: PathBuf,
    state: Mutex<State>,
    metrics: Mutex<LogMetrics>,
}

#[derive(Debug)]
struct State {
    file: File,
    len: u64,
    records: u64,
    last_seq: u64,
    log_id: u64,
    failed: Option<String>,
    buf: Vec<u8>,
    #[cfg(test)]
    fail_next_sync: bool,
}

struct Request {
    payloads: Vec<Vec<u8>>,
    then: Then,
}

/// What [`Log::submit_then`] runs on the writer thread once its records are durable (or the
/// append failed); see [`Committed`].
pub type Then = Box<dyn FnOnce(Result<Vec<u64>, LogError>, Committed) + Send>;

/// Where a [`Log::submit_then`] callback stands in its commit: the callbacks of the requests
/// one fsync made durable run one after another, in sequence order, on the writer thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Whether it is the last callback of its commit (a caller can gather the work of a whole
    /// commit and do it once, at the last).
    pub last: bool,
}

/// Runs a request's callback; a panicking callback must not stop the writer: the log keeps
/// serving the others.
fn answer(then: Then, result: Result<Vec<u64>, LogError>, committed: Committed) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| then(result, committed))).is_err() {
        tracing::error!("a capacity log callback panicked; the log goes on");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |source| LogError::Io { path: path.to_owned(), op, source: Arc::new(source) }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(".compact.tmp");
    path.with_file_name(name)
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn sync_dir(path: &Path) -> Result<(), LogError> {
    let dir = dir_of(path);
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(io_err(dir, "fsync directory"))
}

fn encode_header(buf: &mut Vec<u8>, log_id: u64, floor: u64) {
    let start = buf.len();
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
    buf.extend_from_slice(&log_id.to_le_bytes());
    buf.extend_from_slice(&floor.to_le_bytes());
    let crc = crc32fast::hash(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes());
}

fn record_crc(seq: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

fn encode_record(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&record_crc(seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&data[at..at + 8]);
    u64::from_le_bytes(bytes)
}

#[derive(Debug, Clone, Copy)]
struct Header {
    log_id: u64,
    floor: u64,
}

fn parse_header(path: &Path, data: &[u8]) -> Result<Header, LogError> {
    let bad = |reason: String| LogError::BadHeader { path: path.to_owned(), reason };
    if data.len() < HEADER_LEN {
        return Err(bad(format!("file is {} bytes, shorter than the {HEADER_LEN}-byte header", data.len())));
    }
    if &data[..8] != MAGIC {
        return Err(bad("bad magic number (not a ror-search capacity log)".into()));
    }
    let stored = u32_at(data, 32);
    let computed = crc32fast::hash(&data[..32]);
    if stored != computed {
        return Err(bad(format!("header CRC mismatch: stored {stored:08x}, computed {computed:08x}")));
    }
    let version = u32_at(data, 8);
    if version != FORMAT_VERSION {
        return Err(LogError::UnsupportedVersion { path: path.to_owned(), found: version, supported: FORMAT_VERSION });
    }
    Ok(Header { log_id: u64_at(data, 16), floor: u64_at(data, 24) })
}

/// The result of walking the records of a file.
#[derive(Debug)]
struct Scan {
    records: u64,
    last_seq: u64,
    /// Offset and reason of the first bad record.
    bad: Option<(usize, DamageReason)>,
}

fn scan_records(data: &[u8], mut each: impl FnMut(u64, &[u8])) -> Scan {
    let mut at = HEADER_LEN;
    let mut records = 0;
    let mut last_seq = 0;
    let bad = loop {
        let rest = data.len() - at;
        if rest == 0 {
            break None;
        }
        if rest < RECORD_HEADER_LEN {
            break Some((at, DamageReason::ShortHeader));
        }
        let len = u32_at(data, at) as usize;
        if len > MAX_PAYLOAD_BYTES {
            break Some((at, DamageReason::BadLength));
        }
        if rest - RECORD_HEADER_LEN < len {
            break Some((at, DamageReason::ShortPayload));
        }
        let seq = u64_at(data, at + 8);
        let payload = &data[at + RECORD_HEADER_LEN..at + RECORD_HEADER_LEN + len];
        if u32_at(data, at + 4) != record_crc(seq, payload) {
            break Some((at, DamageReason::BadCrc));
        }
        if seq <= last_seq {
            break Some((at, DamageReason::SequenceNotIncreasing));
        }
        each(seq, payload);
        records += 1;
        last_seq = seq;
        at += RECORD_HEADER_LEN + len;
    };
    Scan { records, last_seq, bad }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_nanos() as u64).unwrap_or(0)
}

/// Writes `bytes` to a temporary file next to `path`, syncs it, renames it over `path` and
/// syncs the directory; returns the new file, open for reading and writing, positioned at its
/// end.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<File, LogError> {
    let tmp = tmp_path(path);
    let written = (|| {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(file)
    })()
    .map_err(io_err(&tmp, "write"));
    let file = match written {
        Ok(file) => file,
        Err(error) => {
            let _ = fs::remove_file(&tmp);
            return Err(error);
        }
    };
    if let Err(error) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, "rename")(error));
    }
    sync_dir(path)?;
    Ok(file)
}

impl Log {
    /// Opens the log at `path`, creating it (with its directory entry synced) if it does not
    /// exist, and replays it. A torn or corrupt tail is truncated and reported in
    /// [`ReplayReport::tail`]; a bad header or a damaged record before the last chunk is an
    /// error and the file is left as it is.
    pub fn open(path: impl AsRef<Path>) -> Result<(Log, Replay), LogError> {
        let path = path.as_ref().to_owned();
        let tmp = tmp_path(&path);
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_err(&tmp, "remove stale temporary file")(error)),
        }
        let exists = path.try_exists().map_err(io_err(&path, "stat"))?;
        let created = !exists;
        if created {
            let mut header = Vec::with_capacity(HEADER_LEN);
            encode_header(&mut header, now_ns(), 0);
            drop(replace_file(&path, &header)?);
        }
        let data = fs::read(&path).map_err(io_err(&path, "read"))?;
        let header = parse_header(&path, &data)?;
        let mut entries = Vec::new();
        let scan = scan_records(&data, |sequence, payload| entries.push(Entry { sequence, payload: payload.to_vec() }));
        let mut file = OpenOptions::new().read(true).write(true).open(&path).map_err(io_err(&path, "open"))?;
        let tail = match scan.bad {
            None => None,
            Some((offset, reason)) => {
                let bytes_after = (data.len() - offset) as u64;
                if bytes_after > MAX_BATCH_BYTES as u64 {
                    return Err(LogError::Corrupt { path, offset: offset as u64, reason, bytes_after });
                }
                file.set_len(offset as u64).map_err(io_err(&path, "truncate torn tail"))?;
                file.sync_all().map_err(io_err(&path, "fsync"))?;
                Some(TornTail { offset: offset as u64, bytes_dropped: bytes_after, reason })
            }
        };
        let len = file.seek(SeekFrom::End(0)).map_err(io_err(&path, "seek"))?;
        let last_seq = header.floor.max(scan.last_seq);
        let report = ReplayReport {
            records: scan.records,
            bytes: len,
            last_sequence: last_seq,
            log_id: header.log_id,
            created,
            tail,
        };
        let metrics =
            LogMetrics { records: scan.records, bytes: len, last_sequence: last_seq, ..LogMetrics::default() };
        let state = State {
            file,
            len,
            records: scan.records,
            last_seq,
            log_id: header.log_id,
            failed: None,
            buf: Vec::new(),
            #[cfg(test)]
            fail_next_sync: false,
        };
        let shared = Arc::new(Shared { path, state: Mutex::new(state), metrics: Mutex::new(metrics) });
        let (tx, rx) = mpsc::channel();
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("capacity-log-writer".into())
            .spawn(move || writer_loop(&writer_shared, &rx))
            .map_err(io_err(&shared.path, "spawn writer thread"))?;
        let log = Log { shared, tx: Some(tx), writer: Some(writer) };
        Ok((log, Replay { entries, report }))
    }

    /// The path of the log file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Appends `payloads` and blocks until they are durable; returns their sequence numbers,
    /// in order (consecutive within the call). An empty batch returns at once. Do not call it
    /// on an async worker thread: use [`Log::submit`] there.
    pub fn append(&self, payloads: Vec<Vec<u8>>) -> Result<Vec<u64>, LogError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit_then(payloads, Box::new(move |result, _| drop(tx.send(result))));
        rx.recv().unwrap_or_else(|_| Err(self.closed()))
    }

    /// Queues `payloads` for appending without blocking; the returned future resolves to their
    /// sequence numbers once they are durable. Safe to call from an async task.
    pub fn submit(&self, payloads: Vec<Vec<u8>>) -> PendingAppend {
        let (tx, rx) = oneshot::channel();
        self.submit_then(payloads, Box::new(move |result, _| drop(tx.send(result))));
        PendingAppend { rx, shared: Arc::clone(&self.shared) }
    }

    /// Queues `payloads` for appending without blocking; once they are durable, the writer
    /// thread runs `then` with their sequence numbers (or the error), before it writes the next
    /// commit: callbacks run one at a time, in sequence order, which makes the writer the
    /// sequencer of whatever `then` does. `then` runs even if the caller has gone away; it must
    /// be short and must not append to this log (the writer would wait for itself). A callback
    /// that panics is caught and logged. Runs `then` at once, on the calling thread, for an empty
    /// batch or one the log refuses before queueing.
    pub fn submit_then(&self, payloads: Vec<Vec<u8>>, then: Then) {
        let at_once = |then: Then, result| then(result, Committed { last: true });
        if payloads.is_empty() {
            return at_once(then, Ok(Vec::new()));
        }
        if let Err(error) = self.check_sizes(&payloads) {
            return at_once(then, Err(error));
        }
        let request = Request { payloads, then };
        let unsent = match &self.tx {
            Some(tx) => match tx.send(request) {
                Ok(()) => return,
                Err(mpsc::SendError(request)) => request,
            },
            None => request,
        };
        at_once(unsent.then, Err(self.closed()));
    }

    /// Rewrites the log with the records for which `keep(sequence, payload)` is true, atomically
    /// (temporary file, fsync, rename, directory fsync). The last sequence number is kept, so
    /// appends after the compaction continue the sequence. Appends submitted during the
    /// compaction wait for it and go to the new file. `keep` runs on the calling thread with
    /// the writer locked: it must not append to this log. The whole file is read into memory.
    pub fn compact(&self, mut keep: impl FnMut(u64, &[u8]) -> bool) -> Result<CompactReport, LogError> {
        let path = &self.shared.path;
        let mut state = lock(&self.shared.state);
        if let Some(reason) = &state.failed {
            return Err(LogError::Failed { path: path.clone(), reason: reason.clone() });
        }
        let data = fs::read(path).map_err(io_err(path, "read"))?;
        parse_header(path, &data)?;
        let mut out = Vec::with_capacity(data.len());
        encode_header(&mut out, state.log_id, state.last_seq);
        let mut kept = 0;
        let scan = scan_records(&data, |seq, payload| {
            if keep(seq, payload) {
                encode_record(&mut out, seq, payload);
                kept += 1;
            }
        });
        if let Some((offset, reason)) = scan.bad {
            let bytes_after = (data.len() - offset) as u64;
            return Err(LogError::Corrupt { path: path.clone(), offset: offset as u64, reason, bytes_after });
        }
        let file = match replace_file(path, &out) {
            Ok(file) => file,
            Err(error) => {
                // The rename may have happened: only a reopen can tell which file is the log.
                if !matches!(&error, LogError::Io { op: "write", .. }) {
                    state.failed = Some(error.to_string());
                    lock(&self.shared.metrics).failed = true;
                }
                return Err(error);
            }
        };
        let report = CompactReport {
            records_before: scan.records,
            records_kept: kept,
            bytes_before: data.len() as u64,
            bytes_after: out.len() as u64,
            last_sequence: state.last_seq,
        };
        let mut file = file;
        if let Err(error) = file.seek(SeekFrom::End(0)) {
            state.failed = Some(error.to_string());
            lock(&self.shared.metrics).failed = true;
            return Err(io_err(path, "seek")(error));
        }
        state.file = file;
        state.len = out.len() as u64;
        state.records = kept;
        let mut metrics = lock(&self.shared.metrics);
        metrics.records = kept;
        metrics.bytes = state.len;
        metrics.compactions += 1;
        Ok(report)
    }

    /// Drops every record with a sequence number below `sequence` (those covered by a
    /// snapshot); see [`Log::compact`].
    pub fn truncate_before(&self, sequence: u64) -> Result<CompactReport, LogError> {
        self.compact(|seq, _| seq >= sequence)
    }

    /// The last sequence number issued (0 for an empty new log).
    pub fn last_sequence(&self) -> u64 {
        lock(&self.shared.metrics).last_sequence
    }

    /// The counters of the log.
    pub fn metrics(&self) -> LogMetrics {
        *lock(&self.shared.metrics)
    }

    fn check_sizes(&self, payloads: &[Vec<u8>]) -> Result<(), LogError> {
        match payloads.iter().find(|payload| payload.len() > MAX_PAYLOAD_BYTES) {
            Some(payload) => Err(LogError::PayloadTooLarge {
                path: self.shared.path.clone(),
                len: payload.len(),
                max: MAX_PAYLOAD_BYTES,
            }),
            None => Ok(()),
        }
    }

    fn closed(&self) -> LogError {
        LogError::Closed { path: self.shared.path.clone() }
    }

    #[cfg(test)]
    fn fail_next_sync(&self) {
        lock(&self.shared.state).fail_next_sync = true;
    }
}

impl Drop for Log {
    /// Waits for the writer to answer what is queued. Dropped by one of its own callbacks
    /// (the last owner of whatever owns the log), it does not wait for itself: the writer
    /// ends once its queue is empty.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(writer) = self.writer.take()
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
    }
}

fn writer_loop(shared: &Shared, rx: &mpsc::Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut bytes: usize = first.payloads.iter().map(|payload| RECORD_HEADER_LEN + payload.len()).sum();
        let mut batch = vec![first];
        while bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(request) => {
                    bytes += request.payloads.iter().map(|payload| RECORD_HEADER_LEN + payload.len()).sum::<usize>();
                    batch.push(request);
                }
                Err(_) => break,
            }
        }
        commit(shared, batch);
    }
}

/// Writes and syncs one group of requests, then answers each.
fn commit(shared: &Shared, batch: Vec<Request>) {
    let path = &shared.path;
    let mut state = lock(&shared.state);
    if let Some(reason) = &state.failed {
        let error = LogError::Failed { path: path.clone(), reason: reason.clone() };
        drop(state);
        answer_all(batch, |_| Err(error.clone()));
        return;
    }
    let mut buf = std::mem::take(&mut state.buf);
    buf.clear();
    let mut seq = state.last_seq;
    let mut acks = Vec::with_capacity(batch.len());
    let mut chunk_records = 0u64;
    let mut result = Ok(());
    'requests: for request in &batch {
        let mut seqs = Vec::with_capacity(request.payloads.len());
        for payload in &request.payloads {
            if !buf.is_empty() && buf.len() + RECORD_HEADER_LEN + payload.len() > MAX_BATCH_BYTES {
                result = flush(shared, &mut state, &buf, chunk_records, seq);
                if result.is_err() {
                    break 'requests;
                }
                buf.clear();
                chunk_records = 0;
            }
            seq += 1;
            encode_record(&mut buf, seq, payload);
            seqs.push(seq);
            chunk_records += 1;
        }
        acks.push(seqs);
    }
    if result.is_ok() && !buf.is_empty() {
        result = flush(shared, &mut state, &buf, chunk_records, seq);
    }
    state.buf = buf;
    drop(state);
    match result {
        Ok(()) => {
            let mut acks = acks.into_iter();
            answer_all(batch, |_| Ok(acks.next().unwrap_or_default()));
        }
        Err(error) => answer_all(batch, |_| Err(error.clone())),
    }
}

/// Answers every request of a commit, in order, with what `result` gives for it.
fn answer_all(batch: Vec<Request>, mut result: impl FnMut(usize) -> Result<Vec<u64>, LogError>) {
    let count = batch.len();
    for (index, request) in batch.into_iter().enumerate() {
        answer(request.then, result(index), Committed { last: index + 1 == count });
    }
}

/// Writes one chunk of encoded records and syncs it; on error the log is marked failed.
fn flush(shared: &Shared, state: &mut State, chunk: &[u8], records: u64, last_seq: u64) -> Result<(), LogError> {
    let path = &shared.path;
    let written = state.file.write_all(chunk).map_err(io_err(path, "write"));
    let started = Instant::now();
    let synced = written.and_then(|()| {
        #[cfg(test)]
        if std::mem::take(&mut state.fail_next_sync) {
            return Err(io_err(path, "fsync")(io::Error::other("injected fsync failure")));
        }
        state.file.sync_data().map_err(io_err(path, "fsync"))
    });
    let fsync = started.elapsed();
    if let Err(error) = synced {
        state.failed = Some(error.to_string());
        lock(&shared.metrics).failed = true;
        return Err(error);
    }
    state.len += chunk.len() as u64;
    state.records += records;
    state.last_seq = last_seq;
    let mut metrics = lock(&shared.metrics);
    metrics.records = state.records;
    metrics.bytes = state.len;
    metrics.last_sequence = last_seq;
    metrics.commits += 1;
    metrics.entries_committed += records;
    metrics.last_commit_entries = records;
    metrics.last_fsync = fsync;
    metrics.max_fsync = metrics.max_fsync.max(fsync);
    Ok(())
}

#[cfg(test)]
mod tests;
