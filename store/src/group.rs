//! Writing a log: one group of records at a time, and the one writer thread that commits them.
//!
//! What this is: `schemas/store-v4.md` §Commits. A [`Group`] collects what one commit adds (record
//! frames, the tree hashes they complete, the new tree head, a changed key list); [`Store::commit`]
//! writes and syncs them, then appends and syncs the commit entry that acknowledges them.
//! [`GroupWriter`] does this on a thread of its own, in order, so that the caller prepares the next
//! group while the disk takes the last one; the ledger's sequencer and a mirror write through it.
//! [`TreeWriter`] is what a writer keeps of the tree to append to it.
//!
//! What this is not: deciding what goes into a group (the ledger's sequencer and mirror do).

use std::sync::mpsc;
use std::thread::JoinHandle;

use relic_formats::chain::KeyEntry;
use relic_formats::merkle::{self, Frontier, Hash, HashReader};

use crate::error::{Error, Result};
use crate::layout;
use crate::store::Store;

/// What one commit adds, as plain data.
#[derive(Default)]
pub struct Group {
    /// The records' frames, back to back (§Record frames).
    pub(crate) frames: Vec<u8>,
    /// How many records.
    pub(crate) count: u64,
    /// The tree hashes they add, in stored-hash-index order.
    pub(crate) hashes: Vec<u8>,
    /// The log's size after them, and its tree head.
    pub(crate) size: u64,
    pub(crate) root: Hash,
    /// The whole key list, if the group changes it.
    pub(crate) keys: Option<Vec<KeyEntry>>,
    /// Files beside the log that the records name, written but not yet synced
    /// ([`crate::fs::write_unsynced`]): made durable before the commit entry is written.
    pub(crate) files: Vec<std::path::PathBuf>,
    /// A checkpoint acknowledged by the same commit as the records (a key rotation's, signed by
    /// the new key at the size just after the rotation record): both or neither.
    pub(crate) checkpoint: Option<(u64, String)>,
}

/// What the log needs of its storage, and nothing more: read a record, commit a group, and read
/// tree hashes (`relic_formats::merkle::HashReader`). [`Store`] is the one implementation.
pub trait LogStore: HashReader + Send + Sync {
    /// Record `seq`'s exact bytes, if stored.
    fn record(&self, seq: u64) -> Result<Option<Vec<u8>>>;
    /// Commits `group` durably: when this returns, all of it is acknowledged; on error, none of it.
    fn commit(&self, group: Group) -> Result<()>;
}

impl LogStore for Store {
    fn record(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        self.record_bytes(seq)
    }

    fn commit(&self, group: Group) -> Result<()> {
        Store::commit(self, group)
    }
}

impl Group {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record (its exact bytes).
    pub fn push_record(&mut self, bytes: &[u8]) {
        layout::record_frame(&mut self.frames, bytes);
        self.count += 1;
    }

    /// The log's key history after this group (only when it changes).
    /// Files the group's records name, to be made durable before the group is acknowledged.
    pub fn sync_first(&mut self, files: impl IntoIterator<Item = std::path::PathBuf>) {
        self.files.extend(files);
    }

    pub fn set_keys(&mut self, keys: &[KeyEntry]) {
        self.keys = Some(keys.to_vec());
    }

    /// A checkpoint note of tree size `size` (at most the group's end) that the group's commit
    /// acknowledges together with its records.
    pub fn set_checkpoint(&mut self, size: u64, note: String) {
        self.checkpoint = Some((size, note));
    }

    /// Records in the group.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The tree as a writer appends to it: its right edge, and the hashes added since the last group.
#[derive(Debug, Clone, Default)]
pub struct TreeWriter {
    frontier: Frontier,
    pending: Vec<u8>,
}

impl TreeWriter {
    /// The writer of a stored tree of `size` leaves (O(log n) hash reads).
    pub fn load(store: &impl HashReader, size: u64) -> Result<Self> {
        Ok(Self { frontier: Frontier::load(size, store)?, pending: Vec::new() })
    }

    /// Appends a record (its exact bytes: the leaf).
    pub fn push(&mut self, record: &[u8]) {
        for h in self.frontier.push(merkle::leaf_hash(record)) {
            self.pending.extend_from_slice(&h);
        }
    }

    /// Moves the hashes added since the last call, the size and the tree head into `group`.
    pub fn write(&mut self, group: &mut Group) {
        group.hashes = std::mem::take(&mut self.pending);
        group.size = self.frontier.size();
        group.root = self.frontier.root();
    }

    /// The tree head.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// Leaves pushed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }
}

/// What to do once a group is committed (or failed): called on the writer thread, in order.
pub type Then = Box<dyn FnOnce(std::result::Result<(), String>) + Send>;

/// The writer thread: commits groups in the order sent and then calls each group's [`Then`]. After a
/// failure it commits nothing more: every later group fails with the same error, since what follows
/// it may depend on it.
pub struct GroupWriter {
    tx: Option<mpsc::SyncSender<(Group, Then)>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupWriter {
    /// Starts a writer for `store` (a handle of its own: the writer thread owns it) on a thread named
    /// `name`. At most one group waits while another is written.
    pub fn start(store: impl LogStore + 'static, name: &str) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<(Group, Then)>(1);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut failed: Option<String> = None;
                for (group, then) in rx {
                    let result = match &failed {
                        Some(e) => Err(e.clone()),
                        None => store.commit(group).map_err(|e| e.to_string()),
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
