//! The storage error type: one variant per thing a caller can act on, each message one line.

use std::path::PathBuf;

/// Everything storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no ledger at {0}: run `relic init --origin NAME` first")]
    NotFound(PathBuf),
    #[error("a ledger already exists at {0}")]
    Exists(PathBuf),
    #[error("the ledger at {0} is being written by another relic process")]
    Locked(PathBuf),
    /// The stored bytes are not what this layout says they must be.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The embedded database failed (its own words).
    #[error("storage: {0}")]
    Storage(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The store is of an older format (or a conversion was interrupted); nothing was changed.
    #[error("this store is {found}: run `relic migrate` to convert it (nothing was changed)")]
    Migrate { found: String },
    /// The tree the stored hashes describe cannot be read (a hash missing).
    #[error(transparent)]
    Tree(#[from] relic_formats::merkle::TreeError),
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { at, .. } => Error::Corrupt(format!("sled reports corruption at {at:?}")),
            other => Error::Storage(other.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
