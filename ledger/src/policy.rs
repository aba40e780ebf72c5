//! The gate every draft passes before it is queued: a [`Policy`] the ledger is opened with.
//!
//! What this is: the one place where a log's *rules* meet the log. The ledger itself knows the
//! record format and its own two kinds ([`crate::kind`]), nothing more; which kinds exist, at which
//! schema version, what their payloads must look like and who may write them is the business of
//! whoever opens the ledger (relic's binaries open it with the release domain's policy,
//! `relic_domain::policy`). A draft the policy refuses never reaches the queue, so nothing is
//! appended.
//!
//! What this is not: the domain's rules themselves. A policy sees one draft at a time and the door
//! it came through ([`Door`]); the rules that need the log's state (a release must exist, a role
//! comes from membership) are decided before a draft is made.

use crate::record::Draft;

/// How a draft reached the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// Handed in as it is, by a caller that decided nothing about it (`relic append`). A policy
    /// refuses here every kind that has rules of its own.
    Raw,
    /// Produced by the rules of a command that the policy's owner decided (a domain command):
    /// [`crate::Ledger::append_decided_blocking`].
    Decided,
}

/// Admits or refuses drafts. Implementations must be cheap enough to run on every append and must
/// not block on I/O: they run on the caller's thread, before the draft is queued.
pub trait Policy: Send + Sync {
    /// The schema version this log writes `kind` at, or `None` if the policy knows no such kind.
    fn schema_version(&self, kind: &str) -> Option<u16>;

    /// Checks `draft`, which already obeys the record format's limits and is not one of the
    /// ledger's own kinds. `Err` holds one line saying why it is refused, naming what to do instead
    /// where there is something.
    fn admit(&self, draft: &Draft, door: Door) -> Result<(), String>;
}

/// Admits every well-formed draft of any kind, through either door. For tests and benchmarks of
/// the log itself, which append made-up kinds; relic's own commands never open a ledger with it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unchecked;

impl Policy for Unchecked {
    fn schema_version(&self, _: &str) -> Option<u16> {
        Some(1)
    }

    fn admit(&self, _: &Draft, _: Door) -> Result<(), String> {
        Ok(())
    }
}

/// Admits nothing: for a handle that signs checkpoints and moves cursors but never appends a
/// record (the Kafka publisher).
#[derive(Debug, Clone, Copy, Default)]
pub struct Closed;

impl Policy for Closed {
    fn schema_version(&self, _: &str) -> Option<u16> {
        None
    }

    fn admit(&self, draft: &Draft, _: Door) -> Result<(), String> {
        Err(format!("this ledger handle appends nothing (refused a {} record)", draft.kind))
    }
}

/// A shared handle to [`Unchecked`].
pub fn unchecked() -> std::sync::Arc<dyn Policy> {
    std::sync::Arc::new(Unchecked)
}

/// A shared handle to [`Closed`].
pub fn closed() -> std::sync::Arc<dyn Policy> {
    std::sync::Arc::new(Closed)
}
