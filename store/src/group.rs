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

/// The changes of one commit, applied all together or not at all.
#[derive(Default)]
pub struct Group {
    pub(crate) batch: sled::Batch,
    /// The packs the group completes, written to the pack file before the batch is applied.
    pub(crate) packs: Completed,
}

impl Group {
    pub fn new() -> Self {
        Self::default()
    }

    /// The log's new head.
    pub fn set_head(&mut self, head: &Head) {
        self.batch.insert(META_HEAD, &head.encode()[..]);
    }

    /// The log's key history (a cache of what its records say).
    pub fn set_keys(&mut self, keys: &[KeyEntry]) {
        self.batch.insert(META_KEYS, encode_keys(keys));
    }

    /// A new log's origin and this layout's format marker (init: the marker's presence means the
    /// init completed).
    pub fn set_origin_and_format(&mut self, origin: &str) {
        self.batch.insert(META_ORIGIN, origin.as_bytes());
        self.batch.insert(META_FORMAT, FORMAT);
    }

    /// A metadata entry of the caller's own (`m` + name; the mirror's marker `mmirror`, say).
    /// Refused (ignored, with a debug assertion) for keys outside the metadata prefix, so that no
    /// caller writes records, tiles or checkpoints but through this crate.
    pub fn set_meta(&mut self, key: &[u8], value: &[u8]) {
        debug_assert!(key.first() == Some(&b'm'), "metadata keys start with 'm'");
        if key.first() == Some(&b'm') {
            self.batch.insert(key, value);
        }
    }

    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.batch.insert(key, value);
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.batch.remove(key);
    }
}

impl Store {
    /// Commits `group`: its completed packs written to the pack file and synced, then everything
    /// else applied in one atomic batch and flushed.
    pub fn commit(&self, group: Group) -> Result<()> {
        if let Some((at, bytes)) = group.packs {
            self.packs.write(at, &bytes)?;
        }
        self.db.apply_batch(group.batch)?;
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
    /// Starts a writer for `store` on a thread named `name`. At most one group waits while another
    /// is written.
    pub fn start(store: &Store, name: &str) -> Result<Self> {
        let target = Store { db: store.db.clone(), packs: store.packs.clone() };
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
