//! Projections: what the record feeds with every applied event, outside the rules — the engine's
//! live verifier, the snapshots and deltas it publishes. A projection sees the state and each
//! record after it is applied, in sequence order; it never decides anything.
//!
//! The engine calls [`Projection::applied`] under its state lock, so a projection must be quick
//! and must not write files there (the live verifier applies an in-memory delta); publishing
//! files happens in the publish workflow, outside the lock, from what [`files`] extracts.

pub mod files;
mod live;

pub use live::LiveVerifier;

use crate::model::{Record, State};

/// An error of a projection, boxed: projections are plug-ins.
pub type ProjectionError = Box<dyn std::error::Error + Send + Sync>;

/// Something kept up to date with the record (see the module documentation).
pub trait Projection: Send + Sync {
    /// A name for error messages.
    fn name(&self) -> &str;

    /// Called once when the engine opens, with the state as replayed (nothing else runs yet).
    fn start(&self, state: &State) -> Result<(), ProjectionError>;

    /// Called after `record` (sequence `seq`) was applied to `state`, under the state lock.
    fn applied(&self, state: &State, seq: u64, record: &Record) -> Result<(), ProjectionError>;
}
