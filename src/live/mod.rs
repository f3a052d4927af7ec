//! Live capacity updates: the ROR bed-management feed.
//!
//! * [`patch`]: the capacity PATCH body → typed operations, or the exact `OperationOutcome` the ROR
//!   would answer (pure functions, no HTTP, no state).

pub mod patch;
