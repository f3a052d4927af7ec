//! Live state on top of a snapshot: the writes received between two snapshots.
//!
//! * [`log`]: the durable, checksummed, append-only write log (group commit, replay, compaction).

pub mod log;
