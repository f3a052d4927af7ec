//! The audit log: one JSON line per write, per admin action and per read by a client holding
//! profile 1 or 4 (who, route, parameters, status, answer size). Lines are handed to a thread
//! that appends them to the file, so a request never waits on the disk; the file is flushed
//! whenever the queue empties.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;

/// Longest query string kept in a line, bytes (the rest is cut, and says so).
const MAX_QUERY_BYTES: usize = 4096;

/// One audited request.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    /// When it was answered (RFC 3339, UTC).
    pub at: crate::engine::response::Timestamp,
    /// `write`, `admin` or `read`.
    pub kind: &'static str,
    /// The client's name.
    pub client: &'a str,
    /// How it authenticated.
    pub auth: &'static str,
    /// Its access profiles (`1`, `2,4`).
    pub profiles: String,
    /// The remote address, when known.
    pub remote: Option<String>,
    /// HTTP method.
    pub method: &'a str,
    /// The route template (`/v1/offers/{id}`).
    pub route: &'a str,
    /// The path as asked.
    pub path: &'a str,
    /// The query string as asked (cut at 4 KiB).
    pub query: Option<&'a str>,
    /// Status of the answer.
    pub status: u16,
    /// Size of the answer body, bytes, when known before compression.
    pub bytes: Option<u64>,
}

/// Where audit lines go.
#[derive(Debug, Clone)]
pub struct AuditLog {
    lines: mpsc::Sender<String>,
    /// The file.
    pub path: PathBuf,
}

impl AuditLog {
    /// Opens (appends to) the audit file and starts its writer thread.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        let (lines, queue) = mpsc::channel::<String>();
        std::thread::Builder::new().name("audit".into()).spawn(move || {
            let mut out = std::io::BufWriter::new(file);
            while let Ok(line) = queue.recv() {
                let mut result = out.write_all(line.as_bytes());
                while let Ok(line) = queue.try_recv() {
                    result = result.and_then(|()| out.write_all(line.as_bytes()));
                }
                if let Err(error) = result.and_then(|()| out.flush()) {
                    tracing::error!(%error, "audit log write failed");
                }
            }
        })?;
        Ok(AuditLog { lines, path: path.to_owned() })
    }

    /// Queues one entry.
    pub fn record(&self, entry: &AuditEntry<'_>) {
        let mut entry = entry.clone();
        let cut;
        if let Some(query) = entry.query
            && query.len() > MAX_QUERY_BYTES
        {
            cut = format!("{}…(cut, {} bytes)", crate::util::prefix_within(query, MAX_QUERY_BYTES), query.len());
            entry.query = Some(&cut);
        }
        match serde_json::to_string(&entry) {
            Ok(mut line) => {
                line.push('\n');
                if self.lines.send(line).is_err() {
                    tracing::error!("audit log writer stopped; entry lost");
                }
            }
            Err(error) => tracing::error!(%error, "audit entry not serialisable"),
        }
    }
}
