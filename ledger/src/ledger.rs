//! The ledger: appends with group commit, reads, checkpoints and proofs over one store.
//!
//! Appends flow through two threads. The *sequencer* drains every request waiting in its queue, gives
//! each record its sequence number, time and predecessor link, signs it, computes its tree hashes and
//! puts them all into one group (`relic_store::Group`). The *writer* appends the group to the log's
//! files, syncs them, appends the commit entry that acknowledges it and syncs that
//! (`schemas/store-v4.md` §Commits), and only then acknowledges every request in it.
//! While the writer waits on the disk, the sequencer signs the next group, so both cores work.
//!
//! If a write fails, the ledger is poisoned: later appends fail until it is reopened, because the
//! sequencer's in-memory state may run ahead of what reached the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::checkpoint::{Checkpoint, InclusionBundle};
use crate::error::{Error, Result};
use crate::kind;
use crate::keys;
use crate::merkle::{self, Hash};
use crate::tiles;
use crate::text_store::{self, TextStore};
use crate::policy::{Door, Policy};
use crate::note::{self, SignerKey, VerifierKey};
use crate::record::{canonical_payload, genesis_link, link_of, Actor, Draft, Record};
use crate::store::{Head, Mode, Store};
use crate::chain::KeyEntry;
use relic_store::{Group, GroupWriter, TreeWriter};

/// Most requests packed into one group commit.
const MAX_GROUP: usize = 4096;
/// Requests that may wait for the sequencer before `submit` blocks.
const QUEUE: usize = 65_536;

/// What an acknowledged append returns: the record is durably on disk at this position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub seq: u64,
    pub time_us: i64,
}

/// Records queued for the log, not yet acknowledged: they are durable once [`Queued::durable`]
/// resolves with their receipts, and not before. Dropping it does not withdraw them.
#[derive(Debug)]
pub struct Queued(oneshot::Receiver<Result<Vec<Receipt>>>);

impl Queued {
    /// Waits until the records are durable (or the append failed, in which case none of them is).
    pub async fn durable(self) -> Result<Vec<Receipt>> {
        self.0.await.map_err(|_| Error::Closed)?
    }

    /// [`Queued::durable`] for callers outside an async runtime.
    pub fn durable_blocking(self) -> Result<Vec<Receipt>> {
        self.0.blocking_recv().map_err(|_| Error::Closed)?
    }
}

/// A checkpoint and its signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
}

type Reply = oneshot::Sender<Result<Receipt>>;
type ReplyAll = oneshot::Sender<Result<Vec<Receipt>>>;

enum Request {
    Append(Draft, Vec<PathBuf>, Reply),
    /// Several records that must be written together or not at all, consecutively.
    /// With the files beside the log they name, to be made durable before them.
    AppendAll(Vec<Draft>, Vec<PathBuf>, ReplyAll),
    Rotate(Box<SignerKey>, Actor, Reply),
}

/// An acknowledgement owed once the group is durable.
enum Ack {
    One(Reply, Receipt),
    All(ReplyAll, Vec<Receipt>),
}

impl Ack {
    fn send(self, result: std::result::Result<(), String>) {
        match (self, result) {
            (Ack::One(r, receipt), Ok(())) => drop(r.send(Ok(receipt))),
            (Ack::All(r, receipts), Ok(())) => drop(r.send(Ok(receipts))),
            (Ack::One(r, _), Err(e)) => drop(r.send(Err(Error::WriteFailed(e)))),
            (Ack::All(r, _), Err(e)) => drop(r.send(Err(Error::WriteFailed(e)))),
        }
    }
}

/// What is owed once a group is committed: the acknowledgements, the size it brings the log to,
/// and, if it rotates the key, the new key list and checkpoint signer.
struct Owed {
    replies: Vec<Ack>,
    size: u64,
    rotation: Option<(Vec<KeyEntry>, Arc<SignerKey>)>,
}

struct Shared {
    store: Store,
    origin: String,
    /// Records durably on disk; reads never look past it.
    committed: AtomicU64,
    /// Group commits written since open (one commit entry each).
    groups: AtomicU64,
    poisoned: Mutex<Option<String>>,
    keys: RwLock<Vec<KeyEntry>>,
    /// The key that signs checkpoints: the newest one whose introduction is on disk.
    signer: RwLock<Option<Arc<SignerKey>>>,
    checkpoint_lock: Mutex<()>,
}

/// An open ledger. Cheap to share behind an `Arc`; appends may come from any thread or task.
pub struct Ledger {
    dir: PathBuf,
    shared: Arc<Shared>,
    /// The gate every draft passes (`None` when opened read-only).
    policy: Option<Arc<dyn Policy>>,
    queue: Option<mpsc::SyncSender<Request>>,
    threads: Vec<JoinHandle<()>>,
}

/// Where the log of a ledger lives inside its data directory (`schemas/store-v4.md`).
pub fn store_path(dir: &Path) -> PathBuf {
    relic_store::store::log_dir(dir)
}

/// Checks an origin: it names the log in checkpoints and is the signing key's name.
pub fn check_origin(origin: &str) -> Result<()> {
    crate::chain::check_origin(origin).map_err(|e| Error::Origin(e.0))
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Ledger {
    /// Creates a ledger in `dir`: a new signing key (mode 0600) and record 0, `ledger.created`; then
    /// opens it with `policy` as [`Ledger::open`] does.
    pub fn init(dir: &Path, origin: &str, policy: Arc<dyn Policy>) -> Result<Self> {
        check_origin(origin)?;
        if relic_store::store::exists(dir) || relic_store::store::legacy_dir(dir).exists() {
            return Err(Error::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(crate::error::io(dir))?;
        let key = SignerKey::generate(origin)?;
        keys::write_key(dir, &key)?;
        let vk = key.verifier().clone();
        let payload = serde_json::to_vec(&serde_json::json!({"origin": origin, "key": vk.to_string()}))
            .map_err(|e| Error::Key(e.to_string()))?;
        let rec = sign_record(
            &key,
            0,
            now_us(),
            genesis_link(origin),
            Draft {
                actor: Actor { id: "relic".into(), role: "system".into() },
                kind: kind::LEDGER_CREATED.into(),
                subject: origin.into(),
                payload,
                schema_version: 1,
            },
        );
        let bytes = rec.to_bytes();
        let mut group = Group::new();
        group.push_record(&bytes);
        let mut tree = TreeWriter::default();
        tree.push(&bytes);
        tree.write(&mut group);
        group.set_keys(&[KeyEntry { key: vk, from_seq: 0 }]);
        // Created whole or not at all: the log directory appears complete.
        Store::create(dir, origin, group, false)?;
        Self::open(dir, policy)
    }

    /// Opens an existing ledger for reading and appending; loads the current signing key. Every
    /// draft appended through this handle must pass `policy` ([`crate::policy`]).
    pub fn open(dir: &Path, policy: Arc<dyn Policy>) -> Result<Self> {
        let mut l = Self::open_store(dir, Mode::Write)?;
        l.policy = Some(policy);
        let (head, keys) = (l.shared.store.head()?, l.keys());
        if l.shared.store.mode() != Mode::Write {
            return Err(Error::ReadOnly);
        }
        let current = keys.last().ok_or_else(|| Error::Corrupt("the key list is empty".into()))?;
        let signer = Arc::new(keys::read_key(dir, &current.key.key_id)?);
        if signer.verifier() != &current.key {
            return Err(Error::Key("the key file does not match the ledger's current key".into()));
        }
        *l.shared.signer.write().unwrap_or_else(|p| p.into_inner()) = Some(signer.clone());
        let tree = TreeWriter::load(&l.shared.store, head.size)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let writer = GroupWriter::start(l.shared.store.clone(), "relic-writer")?;
        let seq = Sequencer { head, tree, signer, keys, origin: l.shared.origin.clone() };
        let shared = l.shared.clone();
        l.threads.push(
            std::thread::Builder::new()
                .name("relic-sequencer".into())
                .spawn(move || seq.run(rx, writer, shared))
                .map_err(crate::error::io(dir))?,
        );
        l.queue = Some(tx);
        Ok(l)
    }

    /// Opens an existing ledger for reading only: no key is needed, appends fail with
    /// [`Error::ReadOnly`]. Takes no lock, writes nothing, and reads the log as its last commit entry
    /// described it when opened, however far a writer goes meanwhile. A store of an older format is
    /// refused with a line saying to run `relic migrate`.
    pub fn open_read_only(dir: &Path) -> Result<Self> {
        Self::open_store(dir, Mode::Read)
    }

    fn open_store(dir: &Path, mode: Mode) -> Result<Self> {
        let store = Store::open(dir, mode)?;
        let origin = store.origin();
        let size = store.size();
        let keys = store.keys();
        let shared = Arc::new(Shared {
            store,
            origin,
            committed: AtomicU64::new(size),
            groups: AtomicU64::new(0),
            poisoned: Mutex::new(None),
            keys: RwLock::new(keys),
            signer: RwLock::new(None),
            checkpoint_lock: Mutex::new(()),
        });
        Ok(Self { dir: dir.to_path_buf(), shared, policy: None, queue: None, threads: Vec::new() })
    }

    /// What opening the store found and did (an unacknowledged write cut off, a derived file
    /// rebuilt), one line each, for the caller to report.
    pub fn notes(&self) -> &[String] {
        self.shared.store.notes()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The long payload texts the records refer to (`schemas/record-v1.md` §Texts kept beside
    /// the log).
    pub fn texts(&self) -> TextStore {
        TextStore::new(&self.dir)
    }

    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    /// The underlying store (read access for verification and benchmarks).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// Number of records durably in the log.
    pub fn size(&self) -> u64 {
        self.shared.committed.load(Ordering::Acquire)
    }

    /// How many group commits (one commit entry each) this handle has written.
    pub fn groups_committed(&self) -> u64 {
        self.shared.groups.load(Ordering::Relaxed)
    }

    /// Every signing key the log has had, oldest first, with the first record each signs.
    pub fn keys(&self) -> Vec<KeyEntry> {
        self.shared.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The verifier key of the current signing key.
    pub fn verifier_key(&self) -> Result<VerifierKey> {
        self.keys().last().map(|k| k.key.clone()).ok_or_else(|| Error::Corrupt("the key list is empty".into()))
    }

    /// The schema version this handle's policy writes `kind` at (`None`: unknown, or read-only).
    pub fn schema_version(&self, kind: &str) -> Option<u16> {
        self.policy.as_ref().and_then(|p| p.schema_version(kind))
    }

    /// Checks a draft (through [`Door::Raw`]) and queues it; the returned receiver yields once the
    /// record is durable.
    pub fn submit(&self, draft: Draft) -> Result<oneshot::Receiver<Result<Receipt>>> {
        let (draft, files) = text_store::keep(&self.dir, self.prepare(draft, Door::Raw)?)?;
        self.enqueue(|reply| Request::Append(draft, files, reply))
    }

    /// Appends several records atomically: they get consecutive sequence numbers and reach the disk
    /// in one batch, so a crash leaves all of them or none. Resolves once they are durable. The
    /// drafts pass the policy through [`Door::Raw`].
    pub async fn append_all(&self, drafts: Vec<Draft>) -> Result<Vec<Receipt>> {
        self.submit_all(drafts, Door::Raw)?.await.map_err(|_| Error::Closed)?
    }

    /// [`Ledger::append_all`] for callers outside an async runtime.
    pub fn append_all_blocking(&self, drafts: Vec<Draft>) -> Result<Vec<Receipt>> {
        self.submit_all(drafts, Door::Raw)?.blocking_recv().map_err(|_| Error::Closed)?
    }

    /// [`Ledger::append_all_blocking`] for the drafts a command's rules produced: they pass the
    /// policy through [`Door::Decided`]. Only the owner of the rules (the domain service) calls it.
    pub fn append_decided_blocking(&self, drafts: Vec<Draft>) -> Result<Vec<Receipt>> {
        self.queue_decided(drafts, Vec::new())?.durable_blocking()
    }

    /// Queues the drafts a command's rules produced ([`Door::Decided`]), atomically and in the order
    /// of calls, without waiting for them to be durable: a caller that decides the next command
    /// against their effects before they are durable (the server's pipeline) must acknowledge
    /// nothing until [`Queued::durable`] resolves. `files`: files beside the log the drafts name,
    /// written without a sync ([`relic_store::fs::write_unsynced`]); the commit that acknowledges
    /// the drafts makes them durable first, with one sync for all the files of its group.
    pub fn queue_decided(&self, drafts: Vec<Draft>, files: Vec<PathBuf>) -> Result<Queued> {
        let (drafts, files) = self.prepare_all(drafts, Door::Decided, files)?;
        self.enqueue(|reply| Request::AppendAll(drafts, files, reply)).map(Queued)
    }

    fn submit_all(&self, drafts: Vec<Draft>, door: Door) -> Result<oneshot::Receiver<Result<Vec<Receipt>>>> {
        let (drafts, files) = self.prepare_all(drafts, door, Vec::new())?;
        self.enqueue(|reply| Request::AppendAll(drafts, files, reply))
    }

    /// [`Ledger::prepare`] for each draft, then its long texts kept beside the log
    /// ([`text_store::keep`]): the drafts as written, and `files` with the texts' files added.
    fn prepare_all(&self, drafts: Vec<Draft>, door: Door, mut files: Vec<PathBuf>) -> Result<(Vec<Draft>, Vec<PathBuf>)> {
        let mut out = Vec::with_capacity(drafts.len());
        for d in drafts {
            let (d, kept) = text_store::keep(&self.dir, self.prepare(d, door)?)?;
            files.extend(kept);
            out.push(d);
        }
        Ok((out, files))
    }

    /// Checks a draft on the caller's thread, as every append does first: not one of the ledger's
    /// own kinds, payload a JSON object (re-serialised canonically), the record format's limits,
    /// then the policy. A refused draft never reaches the queue. Returns the draft as it would be
    /// written; appends nothing.
    pub fn prepare(&self, mut draft: Draft, door: Door) -> Result<Draft> {
        let policy = self.policy.as_ref().ok_or(Error::ReadOnly)?;
        if kind::is_reserved(&draft.kind) {
            return Err(Error::ReservedKind(draft.kind));
        }
        draft.payload = canonical_payload(&draft.payload)?;
        text_store::check_unreserved(&draft.payload)?;
        draft.check()?;
        policy.admit(&draft, door).map_err(Error::Refused)?;
        Ok(draft)
    }

    fn enqueue<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<oneshot::Receiver<T>> {
        let queue = self.queue.as_ref().ok_or(Error::ReadOnly)?;
        if let Some(p) = self.shared.poisoned.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(Error::Poisoned(p));
        }
        let (tx, rx) = oneshot::channel();
        queue.send(make(tx)).map_err(|_| Error::Closed)?;
        Ok(rx)
    }

    /// Appends a record; resolves once it, its tree hashes and the new head are durably on disk.
    pub async fn append(&self, draft: Draft) -> Result<Receipt> {
        self.submit(draft)?.await.map_err(|_| Error::Closed)?
    }

    /// [`Ledger::append`] for callers outside an async runtime (it panics inside one, as tokio's
    /// `blocking_recv` does).
    pub fn append_blocking(&self, draft: Draft) -> Result<Receipt> {
        self.submit(draft)?.blocking_recv().map_err(|_| Error::Closed)?
    }

    /// Rotates the signing key: writes the new key file (mode 0600), then appends a `key.rotated`
    /// record signed by the outgoing key. Records after it, and new checkpoints, use the new key.
    /// Resolves once the rotation record is durable.
    pub async fn rotate_key(&self, actor: Actor) -> Result<(Receipt, VerifierKey)> {
        let (rx, vk) = self.submit_rotation(actor)?;
        let receipt = rx.await.map_err(|_| Error::Closed)??;
        self.vouch_for_rotation(&receipt)?;
        Ok((receipt, vk))
    }

    /// [`Ledger::rotate_key`] for callers outside an async runtime.
    pub fn rotate_key_blocking(&self, actor: Actor) -> Result<(Receipt, VerifierKey)> {
        let (rx, vk) = self.submit_rotation(actor)?;
        let receipt = rx.blocking_recv().map_err(|_| Error::Closed)??;
        self.vouch_for_rotation(&receipt)?;
        Ok((receipt, vk))
    }

    /// The new key signs a checkpoint of the tree that holds its rotation record, at once: until
    /// it signs something, the log could be the retired key's work alone (record-v1
    /// §Verification step 20).
    fn vouch_for_rotation(&self, rotation: &Receipt) -> Result<()> {
        self.checkpoint(Some(rotation.seq + 1)).map(drop)
    }

    fn submit_rotation(&self, actor: Actor) -> Result<(oneshot::Receiver<Result<Receipt>>, VerifierKey)> {
        // The actor is checked before anything is written: the rotation record must be well formed.
        Draft { actor: actor.clone(), kind: kind::KEY_ROTATED.into(), subject: self.shared.origin.clone(), payload: Vec::new(), schema_version: 1 }
            .check()?;
        if self.queue.is_none() {
            return Err(Error::ReadOnly);
        }
        let new = SignerKey::generate(&self.shared.origin)?;
        let vk = new.verifier().clone();
        keys::write_key(&self.dir, &new)?;
        let rx = self.enqueue(|reply| Request::Rotate(Box::new(new), actor, reply))?;
        Ok((rx, vk))
    }

    /// The exact bytes of record `seq`.
    pub fn record_bytes(&self, seq: u64) -> Result<Vec<u8>> {
        let size = self.size();
        if seq >= size {
            return Err(Error::OutOfRange(format!("record {seq} does not exist; the log holds {size} records")));
        }
        self.shared.store.record_bytes(seq)?.ok_or_else(|| Error::Corrupt(format!("record {seq} is missing")))
    }

    /// Record `seq`, decoded.
    pub fn record(&self, seq: u64) -> Result<Record> {
        let b = self.record_bytes(seq)?;
        Record::decode(&b).map_err(|e| Error::Corrupt(format!("record {seq}: {e}")))
    }

    /// Records from `from` to the committed end, in order, with their exact bytes.
    pub fn records(&self, from: u64) -> impl Iterator<Item = Result<(u64, Vec<u8>)>> + '_ {
        let end = self.size();
        let mut expected = from;
        self.shared.store.records(from).take_while(move |r| r.as_ref().map_or(true, |(s, _)| *s < end)).map(
            move |r| {
                let (s, v) = r.map_err(Error::from)?;
                if s != expected {
                    return Err(Error::Corrupt(format!("record {expected} is missing")));
                }
                expected += 1;
                Ok((s, v))
            },
        )
    }

    /// The tree head at `size` (O(log n) reads).
    pub fn root(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        Ok(merkle::tree_hash(size, &self.shared.store)?)
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let n = self.size();
        if size > n {
            return Err(Error::OutOfRange(format!("size {size} is past the end of the log ({n} records)")));
        }
        Ok(())
    }

    /// The signed checkpoint at `size` (default: the current size). Returns the one issued before if
    /// there is one; otherwise signs a new one, after checking it is consistent with the issued
    /// checkpoints on either side of it, and stores it.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<SignedCheckpoint> {
        let size = size.unwrap_or_else(|| self.size());
        self.check_size(size)?;
        let keys: Vec<VerifierKey> = self.keys().into_iter().map(|k| k.key).collect();
        let _guard = self.shared.checkpoint_lock.lock().unwrap_or_else(|p| p.into_inner());
        let root = merkle::tree_hash(size, &self.shared.store)?;
        if let Some(note) = self.shared.store.checkpoint_note(size)? {
            let (c, _) = Checkpoint::open(&note, &keys)
                .map_err(|e| Error::Corrupt(format!("stored checkpoint at size {size}: {e}")))?;
            if c.root != root || c.origin != self.shared.origin {
                return Err(Error::Corrupt(format!("stored checkpoint at size {size} does not match the tree")));
            }
            return Ok(SignedCheckpoint { checkpoint: c, note });
        }
        let (below, above) = self.shared.store.checkpoint_neighbours(size)?;
        for (n, note) in below.into_iter().chain(above) {
            let (c, _) = Checkpoint::open(&note, &keys)
                .map_err(|e| Error::Corrupt(format!("stored checkpoint at size {n}: {e}")))?;
            let (m, big) = if n < size { (n, size) } else { (size, n) };
            let (old, new) = if n < size { (c.root, root) } else { (root, c.root) };
            let proof = merkle::prove_consistency(m, big, &self.shared.store)?;
            merkle::verify_consistency(m, big, &old, &new, &proof).map_err(|_| {
                Error::Corrupt(format!("refusing to sign size {size}: it is inconsistent with the checkpoint at size {n}"))
            })?;
        }
        let signer = self.shared.signer.read().unwrap_or_else(|p| p.into_inner()).clone().ok_or(Error::ReadOnly)?;
        let checkpoint = Checkpoint::new(&self.shared.origin, size, root);
        let note = note::sign(&checkpoint.body(), &signer)?;
        self.shared.store.put_checkpoint(size, &note)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// A C2SP tlog-tiles tile of the tree (`schemas/tiles-v1.md`): its hashes, concatenated;
    /// [`Error::OutOfRange`] unless the tree as durable now determines it.
    pub fn tile(&self, t: &tiles::Tile) -> Result<Vec<u8>> {
        let size = self.size();
        if !t.within(size) {
            return Err(Error::OutOfRange(format!("{} is not part of the tree of {size} records", t.path())));
        }
        t.read(&self.shared.store).map_err(|e| Error::Tree(merkle::TreeError::Read(e)))
    }

    /// The C2SP entry bundle of records `index · 256` to `index · 256 + width - 1`, each its exact
    /// bytes behind a big-endian uint16 length; [`Error::OutOfRange`] past the durable end, and
    /// [`Error::Tiles`] if one of them is longer than an entry bundle holds.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>> {
        let size = self.size();
        let t = tiles::Tile { level: 0, index, width };
        if !t.within(size) {
            return Err(Error::OutOfRange(format!("{} is not part of the log of {size} records", tiles::entries_path(index, width))));
        }
        let first = index * tiles::WIDTH;
        let records = self.records(first).take(usize::from(width)).collect::<Result<Vec<_>>>()?;
        Ok(tiles::entry_bundle(first, records.iter().map(|(_, b)| b.as_slice()))?)
    }

    /// A tlog-proof bundle for record `seq` in the tree of `size` (default: current size).
    pub fn prove_inclusion(&self, seq: u64, size: Option<u64>) -> Result<InclusionBundle> {
        let cp = self.checkpoint(size)?;
        let proof = merkle::prove_inclusion(seq, cp.checkpoint.size, &self.shared.store)?;
        Ok(InclusionBundle { extra: None, index: seq, proof, checkpoint: cp.note })
    }

    /// The consistency proof from the tree of size `old` to the tree of size `new`.
    pub fn prove_consistency(&self, old: u64, new: u64) -> Result<Vec<Hash>> {
        self.check_size(new)?;
        Ok(merkle::prove_consistency(old, new, &self.shared.store)?)
    }

    /// Stops accepting appends and waits for every queued one to be written.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.queue = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(crate) fn sign_record(key: &SignerKey, seq: u64, time_us: i64, prev: [u8; 32], d: Draft) -> Record {
    let mut rec = Record {
        seq,
        time_us,
        schema_version: d.schema_version,
        key_id: key.key_id(),
        prev,
        actor: d.actor,
        kind: d.kind,
        subject: d.subject,
        payload: d.payload,
        signature: [0u8; 64],
    };
    rec.signature = key.sign(&Record::signed_message(&rec.body()));
    rec
}

/// The sequencer's state: the head as it will be once every group handed to the writer is on disk.
struct Sequencer {
    head: Head,
    /// The tree as it will be once every group handed to the writer is on disk.
    tree: TreeWriter,
    signer: Arc<SignerKey>,
    keys: Vec<KeyEntry>,
    origin: String,
}

impl Sequencer {
    fn run(mut self, rx: mpsc::Receiver<Request>, writer: GroupWriter, shared: Arc<Shared>) {
        while let Ok(first) = rx.recv() {
            let mut requests = vec![first];
            while requests.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => requests.push(r),
                    Err(_) => break,
                }
            }
            let (group, owed) = self.build(requests);
            let shared = shared.clone();
            if writer.send(group, Box::new(move |result| settle(&shared, owed, result))).is_err() {
                return;
            }
        }
        // Dropping the writer commits what was handed over, then stops it.
    }

    fn append(&mut self, group: &mut Group, draft: Draft) -> Receipt {
        let seq = self.head.size;
        let time_us = now_us().max(self.head.last_time_us);
        let rec = sign_record(&self.signer, seq, time_us, self.head.link, draft);
        let bytes = rec.to_bytes();
        self.tree.push(&bytes);
        self.head = Head { size: seq + 1, link: link_of(&bytes), last_time_us: time_us };
        group.push_record(&bytes);
        Receipt { seq, time_us }
    }

    fn build(&mut self, requests: Vec<Request>) -> (Group, Owed) {
        let mut group = Group::new();
        let mut replies = Vec::with_capacity(requests.len());
        let mut rotation = None;
        for r in requests {
            match r {
                Request::Append(draft, files, reply) => {
                    group.sync_first(files);
                    let receipt = self.append(&mut group, draft);
                    replies.push(Ack::One(reply, receipt));
                }
                Request::AppendAll(drafts, files, reply) => {
                    group.sync_first(files);
                    let receipts = drafts.into_iter().map(|d| self.append(&mut group, d)).collect();
                    replies.push(Ack::All(reply, receipts));
                }
                Request::Rotate(new, actor, reply) => {
                    let payload = serde_json::json!({
                        "previous_key": self.signer.verifier().to_string(),
                        "new_key": new.verifier().to_string(),
                    });
                    let draft = Draft {
                        actor,
                        kind: kind::KEY_ROTATED.into(),
                        subject: self.origin.clone(),
                        payload: payload.to_string().into_bytes(),
                        schema_version: 1,
                    };
                    let receipt = self.append(&mut group, draft);
                    // The new key vouches for the log at once, in the same commit as the rotation:
                    // a log never ends at a rotation its new key has not signed for, even if the
                    // process dies right after (record-v1.md §Which key signs a checkpoint).
                    let body = Checkpoint::new(&self.origin, receipt.seq + 1, self.tree.root()).body();
                    if let Ok(note) = note::sign(&body, &new) {
                        group.set_checkpoint(receipt.seq + 1, note);
                    }
                    self.keys.push(KeyEntry { key: new.verifier().clone(), from_seq: receipt.seq + 1 });
                    self.signer = Arc::from(new);
                    group.set_keys(&self.keys);
                    rotation = Some((self.keys.clone(), self.signer.clone()));
                    replies.push(Ack::One(reply, receipt));
                }
            }
        }
        self.tree.write(&mut group);
        (group, Owed { replies, size: self.head.size, rotation })
    }
}

/// Runs on the writer thread once a group is committed (or failed): moves the committed size and
/// key history forward and acknowledges every request of the group; on failure poisons the ledger
/// (the sequencer may be ahead of the disk) and fails them all.
fn settle(shared: &Shared, owed: Owed, result: std::result::Result<(), String>) {
    match result {
        Ok(()) => {
            if let Some((keys, signer)) = owed.rotation {
                *shared.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
                *shared.signer.write().unwrap_or_else(|p| p.into_inner()) = Some(signer);
            }
            shared.committed.store(owed.size, Ordering::Release);
            shared.groups.fetch_add(1, Ordering::Relaxed);
            for ack in owed.replies {
                ack.send(Ok(()));
            }
        }
        Err(e) => {
            *shared.poisoned.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
            for ack in owed.replies {
                ack.send(Err(e.clone()));
            }
        }
    }
}
