//! A small embedded key-value store for what other parts of relic keep beside the log (the view
//! store, `relic-projector`): derived data that can be rebuilt from the log, kept in its own sled
//! database so that it is never in the log's way.
//!
//! What this is: ordered byte keys and values, atomic batches, an explicit flush, opened like the
//! log's store ([`crate::db`]: the same lock wait). What this is not: the log's layout
//! ([`crate::store`]), nor anything durable unless [`Kv::apply`] or [`Kv::flush`] says so.

use std::path::Path;

use crate::error::{Error, Result};

/// A value as stored: shares the database's buffer.
pub type Bytes = sled::IVec;

/// An open key-value store.
#[derive(Clone)]
pub struct Kv {
    db: sled::Db,
}

/// Changes applied all together or not at all ([`Kv::apply`]).
#[derive(Default)]
pub struct Batch(sled::Batch);

impl Batch {
    pub fn insert(&mut self, key: &[u8], value: impl Into<Vec<u8>>) {
        self.0.insert(key, value.into());
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.0.remove(key);
    }
}

/// How opening went: a store, or the database's own reason it cannot be opened (its files damaged,
/// or of another program), which a caller that can rebuild answers by starting afresh.
pub enum Opened {
    Ready(Kv),
    Unusable(String),
}

impl Kv {
    /// Opens (creating) the store in `dir`, waiting for another process that holds it up to
    /// [`crate::db::LOCK_WAIT`].
    ///
    /// # Errors
    /// [`Error::Locked`] if the lock is still held after the wait.
    pub fn open(dir: &Path) -> Result<Opened> {
        Ok(match crate::db::open(dir, 64 << 20)? {
            Ok(db) => Opened::Ready(Kv { db }),
            Err(e) => Opened::Unusable(e.to_string()),
        })
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.db.get(key)?)
    }

    /// Writes one entry and flushes it.
    pub fn put_durably(&self, key: &[u8], value: impl Into<Vec<u8>>) -> Result<()> {
        self.db.insert(key, value.into())?;
        self.flush()
    }

    /// Every (key, value) whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> impl DoubleEndedIterator<Item = Result<(Bytes, Bytes)>> {
        self.db.scan_prefix(prefix).map(|kv| kv.map_err(Error::from))
    }

    /// Applies `batch` atomically and flushes it: when this returns, the batch is durable.
    pub fn apply(&self, batch: Batch) -> Result<()> {
        self.db.apply_batch(batch.0)?;
        self.flush()
    }

    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}
