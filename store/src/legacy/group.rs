//! Writing a format-3 store: one atomic group of changes at a time (`schemas/store-v3.md`
//! §Atomicity and durability), as the in-place conversions of formats 1 and 2 and the tests that
//! build old stores need it.
//!
//! What this is: a [`Group`] collects what one commit changes (records on their own or in the
//! packs they complete, tree tiles, the head, the key list, the origin and format marker);
//! [`Store::commit`] writes the packs the group completes to the pack file and syncs it, then
//! applies the rest atomically and flushes.

use relic_formats::chain::KeyEntry;

use crate::error::Result;
use crate::legacy::packs::Completed;
use crate::legacy::store::{encode_keys, Head, Store, FORMAT, META_FORMAT, META_HEAD, META_KEYS, META_ORIGIN};
use crate::legacy::Bytes;

/// The changes of one commit, applied all together or not at all: plain data (keys of the layout
/// and their new values, or `None` for a removal, in order), so that any [`LogStore`] can commit it.
#[derive(Default)]
pub struct Group {
    pub(crate) writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// The packs the group completes, written to the pack file before the rest is applied.
    pub(crate) packs: Completed,
}

/// What the log needs of its storage, and nothing more: read a record, read a tile, commit a
/// group. The tree math reads hashes through `relic_formats::merkle::HashReader`, which every
/// `LogStore` also is. [`Store`] (sled and the pack file) is the one implementation; the ledger's
/// writers commit only through [`LogStore::commit`] (by way of [`GroupWriter`]) and verification
/// reads tiles only through [`LogStore::tile`].
pub trait LogStore: relic_formats::merkle::HashReader + Send + Sync {
    /// Record `seq`'s exact bytes, if stored.
    fn record(&self, seq: u64) -> Result<Option<Bytes>>;
    /// Tile `k` of tree level `level` (`crate::legacy::tiles`), if stored.
    fn tile(&self, level: u32, k: u64) -> Result<Option<Bytes>>;
    /// Commits `group` atomically and durably: when this returns, all of it is on disk, or none.
    fn commit(&self, group: Group) -> Result<()>;
}

impl Group {
    pub fn new() -> Self {
        Self::default()
    }

    /// The log's new head.
    pub fn set_head(&mut self, head: &Head) {
        self.insert(META_HEAD, &head.encode());
    }

    /// The log's key history (a cache of what its records say).
    pub fn set_keys(&mut self, keys: &[KeyEntry]) {
        self.insert(META_KEYS, &encode_keys(keys));
    }

    /// A new log's origin and this layout's format marker (init: the marker's presence means the
    /// init completed).
    pub fn set_origin_and_format(&mut self, origin: &str) {
        self.insert(META_ORIGIN, origin.as_bytes());
        self.insert(META_FORMAT, FORMAT);
    }

    /// A metadata entry of the caller's own (`m` + name; the mirror's marker `mmirror`, say).
    /// Refused (ignored, with a debug assertion) for keys outside the metadata prefix, so that no
    /// caller writes records, tiles or checkpoints but through this crate.
    pub fn set_meta(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(key.first() == Some(&b'm'), "metadata keys start with 'm'");
        if key.first() == Some(&b'm') {
            self.insert(key, value);
        }
    }

    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.writes.push((key.to_vec(), Some(value.to_vec())));
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.writes.push((key.to_vec(), None));
    }
}

impl LogStore for Store {
    fn record(&self, seq: u64) -> Result<Option<Bytes>> {
        self.record_bytes(seq)
    }

    fn tile(&self, level: u32, k: u64) -> Result<Option<Bytes>> {
        self.get(&crate::legacy::tiles::tile_key(level, k))
    }

    /// Its completed packs written to the pack file and synced, then everything else applied in
    /// one atomic sled batch and flushed (`schemas/store-v3.md` §Atomicity and durability).
    fn commit(&self, group: Group) -> Result<()> {
        if let Some((at, bytes)) = group.packs {
            self.packs.write(at, &bytes)?;
        }
        let mut batch = sled::Batch::default();
        for (key, value) in group.writes {
            match value {
                Some(v) => batch.insert(key, v),
                None => batch.remove(key),
            }
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
}
