//! A live capacity write as it is logged: which Location (by FHIR id, stable across snapshots),
//! its changes, when it was received and who sent it. The log holds these, postcard-encoded,
//! one per entry; replaying them in sequence order rebuilds the live state on any snapshot.

use serde::{Deserialize, Serialize};

use super::patch::{Operation, Selector};
use crate::engine::live::CapacityChange;
use crate::util::time::UnixSeconds;

/// One logged write: the changes of one request to one Location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedWrite {
    /// FHIR id of the Location (inline up to 24 bytes: no allocation per entry on replay; the
    /// same bytes in the log as a `String`).
    pub location_id: crate::model::Code,
    /// The changes, applied all or nothing, in order.
    pub changes: Vec<CapacityChange>,
    /// When the write was received, Unix seconds.
    pub received_at: UnixSeconds,
    /// Who sent it (the client's name).
    pub who: crate::model::Code,
}

/// Why a logged entry cannot be read back.
#[derive(Debug, thiserror::Error)]
#[error("capacity log entry {sequence}: {source}")]
pub struct DecodeError {
    /// The entry's sequence number.
    pub sequence: u64,
    /// The decoding error.
    pub source: postcard::Error,
}

impl LoggedWrite {
    /// The entry's bytes in the log.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a logged write always serialises")
    }

    /// Reads an entry back.
    pub fn decode(sequence: u64, bytes: &[u8]) -> Result<LoggedWrite, DecodeError> {
        postcard::from_bytes(bytes).map_err(|source| DecodeError { sequence, source })
    }
}

/// The changes a PATCH's operations make: `replace` of one record must find it, `replace` of
/// the collection replaces every record, `add` adds or replaces, `delete` must find its record
/// (and is ordered by `at`, the time it was received).
pub(crate) fn changes_of(operations: &[Operation], at: UnixSeconds) -> Vec<CapacityChange> {
    let mut changes = Vec::new();
    for operation in operations {
        match operation {
            Operation::Replace { selector: Selector::Record(_), records } => {
                changes.extend(records.iter().map(|update| CapacityChange::Replace(update.record.clone())));
            }
            Operation::Replace { selector: Selector::Collection, records } => {
                changes.push(CapacityChange::ReplaceAll(records.iter().map(|update| update.record.clone()).collect()));
            }
            Operation::Add { records } => {
                changes.extend(records.iter().map(|update| CapacityChange::Upsert(update.record.clone())));
            }
            Operation::Delete { selector: Selector::Record(criteria) } => {
                if let Some(key) = criteria.key() {
                    changes.push(CapacityChange::Delete { key, at: Some(at) });
                }
            }
            // The parser refuses a delete of the whole collection.
            Operation::Delete { selector: Selector::Collection } => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CapacityRecord;

    #[test]
    fn a_logged_write_reads_back() {
        let write = LoggedWrite {
            location_id: "loc-330782780-0".into(),
            changes: vec![
                CapacityChange::Upsert(CapacityRecord {
                    capacity_type: "02".into(),
                    status: "02".into(),
                    temporality: "01".into(),
                    count: 3,
                    updated_at: Some(1_790_000_000),
                    ..CapacityRecord::default()
                }),
                CapacityChange::Delete { key: CapacityRecord::default().key(), at: Some(1_790_000_001) },
            ],
            received_at: 1_790_000_002,
            who: "admin".into(),
        };
        assert_eq!(LoggedWrite::decode(7, &write.encode()).unwrap(), write);
        assert!(LoggedWrite::decode(7, b"\xff\xff").is_err());
    }
}
