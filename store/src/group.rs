//! Writing a log: one atomic group of changes at a time, and the one writer thread that commits them.
//!
//! What this is: `schemas/store-v3.md` §Atomicity and durability. A [`Group`] collects what one
//! commit changes (records on their own or in the packs they complete, tree tiles, the head, the
//! key list, the origin and format marker at init); [`Store::commit`] writes the packs the group
//! completes to the pack file and syncs it, then applies the rest atomically and flushes: that
//! flush is the commit. [`GroupWriter`] does this on a thread of its own, in order, so that the
//! caller prepares the next group while the disk takes the last one; the ledger's sequencer, its
//! init and a mirror all write through it.
//!
//! What this is not: deciding what goes into a group (the ledger's sequencer and mirror do).

use std::sync::mpsc;
use std::thread::JoinHandle;

use relic_formats::chain::KeyEntry;

use crate::error::{Error, Result};
use crate::packs::Completed;
use crate::store::{encode_keys, Head, Store, FORMAT, META_FORMAT, META_HEAD, META_KEYS, META_ORIGIN};
use crate::Bytes;

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
    /// Tile `k` of tree level `level` (`crate::tiles`), if stored.
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
        self.get(&crate::tiles::tile_key(level, k))
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

/// What to do once a group is committed (or failed): called on the writer thread, in order.
pub type Then = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// The writer thread: commits groups in the order sent, one batch and one flush each, and then
/// calls each group's [`Then`]. After a failure it commits nothing more: every later group fails
/// with the same error, since what follows it may depend on it.
pub struct GroupWriter {
    tx: Option<mpsc::SyncSender<(Group, Then)>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupWriter {
    /// Starts a writer for `store` (a handle of its own: the writer thread owns it) on a thread named
    /// `name`. At most one group waits while another is written.
    pub fn start(store: impl LogStore + 'static, name: &str) -> Result<Self> {
        let target = store;
        let (tx, rx) = mpsc::sync_channel::<(Group, Then)>(1);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut failed: Option<String> = None;
                for (group, then) in rx {
                    let result = match &failed {
                        Some(e) => Err(e.clone()),
                        None => target.commit(group).map_err(|e| e.to_string()),
                    };
                    if let Err(e) = &result {
                        failed = Some(e.clone());
                    }
                    then(result);
                }
            })
            .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { tx: Some(tx), thread: Some(thread) })
    }

    /// Hands `group` over; `then` is called once it is committed or failed. Fails only if the
    /// writer thread is gone.
    pub fn send(&self, group: Group, then: Then) -> Result<()> {
        let tx = self.tx.as_ref().ok_or_else(|| Error::Storage("the writer was stopped".into()))?;
        tx.send((group, then)).map_err(|_| Error::Storage("the writer thread stopped".into()))
    }
}

impl Drop for GroupWriter {
    /// Commits what was handed over, then stops.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
