//! relic's storage: where a log's bytes live on disk, and the one door through which they are
//! written.
//!
//! What this is: the layout of `schemas/store-v4.md`, relic's own append-only files in
//! `<data>/log`:
//! - [`layout`]: the bytes of each file (record and checkpoint frames, commit entries, key lines);
//! - [`store`]: [`Store`], a log directory opened by a reader (read-only, no lock, a consistent
//!   prefix) or by the one writer (lock, recovery of unacknowledged writes, commits);
//! - [`group`]: [`LogStore`], the small trait the log sees storage through (read a record, commit a
//!   group, read tree hashes); [`Group`], one commit, as plain data; [`TreeWriter`]; and
//!   [`GroupWriter`], the writer thread every log writer (the ledger's sequencer, a mirror) commits
//!   through;
//! - [`migrate`]: `relic migrate`, from the older sled-based formats ([`legacy`]) to this one;
//! - [`lock`]: the writer lock; [`fs`]: durable file writes (write, sync, rename, sync the
//!   directory); [`kv`]: a small key-value store for derived data beside the log (the view store).
//!
//! What this is not: the rules. Nothing here signs, verifies or decides; everything read from here
//! is untrusted by `relic_ledger::verify`. No other crate of relic touches these files.

pub mod db;
pub mod error;
pub mod fs;
pub mod group;
pub mod kv;
pub mod layout;
pub mod legacy;
pub mod lock;
pub mod migrate;
pub mod store;

pub use error::{Error, Result};
pub use group::{Group, GroupWriter, LogStore, Then, TreeWriter};
pub use store::{Head, Mode, Store};

/// A record's bytes as the store hands them out.
pub type Bytes = Vec<u8>;
