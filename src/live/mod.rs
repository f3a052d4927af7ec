//! Live capacities between two snapshots: the establishments' bed-management writes.
//!
//! * [`patch`]: the ROR capacity PATCH body → typed operations, or the exact `OperationOutcome`
//!   the ROR would answer (pure functions, no HTTP, no state).
//! * [`log`]: the durable, checksummed, append-only write log (group commit, replay, compaction).
//! * [`write`]: a write as it is logged (which Location, which changes, when, who).

pub mod log;
pub(crate) mod patch;
pub mod write;
