//! The ledger's error type: one variant per thing a caller can act on.

use std::path::PathBuf;

use crate::checkpoint::CheckpointError;
use crate::merkle::TreeError;
use crate::note::NoteError;
use crate::record::RecordError;

/// Everything the ledger can fail with. Each message is one line that names the problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed: not there, locked by another process, damaged, or the disk (its words).
    #[error(transparent)]
    Store(#[from] relic_store::Error),
    #[error("a ledger already exists at {0}")]
    Exists(PathBuf),
    #[error("invalid origin {0:?}: it must be non-empty, at most 255 bytes, without spaces, '+' or control characters")]
    Origin(String),
    #[error("this store belongs to origin {found:?}, not {expected:?}")]
    WrongOrigin { found: String, expected: String },
    /// The log's records, head or keys contradict each other (the ledger's invariants, above the
    /// store's layout).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A user's path that a command may not use (`crate::paths`).
    #[error("{}: {why}", path.display())]
    PathRefused { path: PathBuf, why: String },
    #[error("kind {0:?} is written by the ledger itself and cannot be appended")]
    ReservedKind(String),
    /// The ledger's policy refused a draft; the text says why (`crate::policy`).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("signing key: {0}")]
    Key(String),
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("{0}")]
    OutOfRange(String),
    /// A record does not fit a C2SP entry bundle.
    #[error(transparent)]
    Tiles(#[from] relic_formats::tiles::TileError),
    #[error("this ledger is opened read-only")]
    ReadOnly,
    #[error("the ledger stopped accepting appends after a storage failure ({0}); reopen it")]
    Poisoned(String),
    /// Writing the group that held this append failed: nothing of it was acknowledged.
    #[error("cannot write to the log: {0}; this append was not acknowledged")]
    WriteFailed(String),
    #[error("the ledger was closed")]
    Closed,
    /// The data directory's witness policy (`crate::witnesses`) cannot be read.
    #[error("witness policy {0}")]
    WitnessPolicy(String),
    /// Too few witnesses cosigned a checkpoint: it must not be published.
    #[error("the checkpoint at size {size} is not published: {got} of the {quorum} cosignatures the witness policy requires ({refusals})")]
    Unwitnessed { size: u64, got: usize, quorum: usize, refusals: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;


pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
