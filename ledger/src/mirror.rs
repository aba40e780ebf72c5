//! A mirror: a verified copy of another node's log, rebuilt from the exact bytes its origin published.
//!
//! What this is: the store side of `relic mirror`. [`Mirror::import`] takes records that are already
//! signed, received from anywhere (a broker, a file), checks each one as `relic verify` would —
//! strict decoding, sequence number, predecessor link (the genesis link for record 0), time order,
//! the signing key from the key history replayed from the records, the signature — and writes the
//! verified ones and their tree hashes as one group (`relic_store::Group`), acknowledged by one
//! commit entry.
//! [`Mirror::import_checkpoint`] stores a checkpoint the origin published once its signature
//! verifies under the log's key history and its root equals the root this mirror recomputes at that
//! size; a checkpoint ahead of the mirror waits, unverified and in memory only, until the mirror
//! reaches its size.
//!
//! Writing overlaps verifying: a verified batch goes to the writer thread (`relic_store::GroupWriter`:
//! one commit) while the next batch is checked, as the origin's own sequencer and writer do. Anything that
//! reads what was written first waits for the writer ([`Mirror::sync`]); a checkpoint is stored only
//! after the records it covers are on disk.
//!
//! A mirror's store has exactly the origin's layout (`schemas/store-v4.md`), plus the marker file
//! `log/mirror`; it holds no private key. So every read command works on it through
//! [`crate::Ledger::open_read_only`], and appends are impossible. Nothing unverified is ever written:
//! a record that fails a check stops the import with an error naming its sequence number, after the
//! verified records before it were written.
//!
//! What this is not: the transport. Receiving the records (Kafka) is `relic-relay`'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use ed25519_dalek::Signature;

use crate::chain::{Chain, ChainError, ChainState, Step};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::error::{Error, Result};
use crate::kind;
use crate::merkle::{self, Hash};
use crate::note::{NoteError, VerifierKey};
use crate::record::Record;
use crate::store::{Mode, Store};
use relic_store::{Group, GroupWriter, TreeWriter};
use crate::verify::{Chunk, CHUNK};

/// Checkpoints kept waiting for the mirror to reach their size, at most.
const MAX_PENDING: usize = 4096;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Ledger(#[from] Error),
    /// A record failed a check; nothing from it on was stored.
    #[error(transparent)]
    Record(#[from] ChainError),
    /// A published checkpoint failed a check; it was not stored.
    #[error("checkpoint at size {size}: {reason}")]
    Checkpoint { size: u64, reason: String },
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    #[error("{0} holds a ledger that is not a mirror; give `relic mirror` a directory of its own")]
    NotAMirror(PathBuf),
}

impl From<relic_store::Error> for MirrorError {
    fn from(e: relic_store::Error) -> Self {
        MirrorError::Ledger(e.into())
    }
}

/// What one call to [`Mirror::import`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Records verified and stored.
    pub applied: u64,
    /// Exact re-sends of records already stored, dropped.
    pub duplicates: u64,
    /// Pending checkpoints verified and stored because the mirror reached their size.
    pub checkpoints: u64,
}

/// What became of a published checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointOutcome {
    /// Verified and stored.
    Stored(Checkpoint),
    /// The mirror already holds a verified checkpoint at this size with the same root.
    Known(u64),
    /// Not checkable yet: the mirror is smaller than its size, or it is signed by a key the mirror has
    /// not seen introduced yet. Kept in memory and retried after every import.
    Pending(u64),
}

/// An open mirror store.
pub struct Mirror {
    dir: PathBuf,
    /// `None` until record 0 arrives: a directory without a verified record holds no store.
    store: Option<Store>,
    /// Writes verified batches while the next one is verified; started with the store.
    writer: Option<Writer>,
    chain: Chain,
    tree: TreeWriter,
    pending: BTreeMap<u64, Vec<String>>,
}

/// The writer: verified groups go to a [`GroupWriter`] (one commit entry each, in
/// order) while the next batch is verified; their results come back here.
struct Writer {
    groups: GroupWriter,
    results: mpsc::Receiver<std::result::Result<(), String>>,
    done: mpsc::Sender<std::result::Result<(), String>>,
    /// Groups handed over whose result has not been collected.
    in_flight: usize,
}

impl Writer {
    fn start(store: &Store) -> Result<Self> {
        let (done, results) = mpsc::channel();
        Ok(Self { groups: GroupWriter::start(store.clone(), "relic-mirror-writer")?, results, done, in_flight: 0 })
    }

    fn send(&mut self, group: Group) -> Result<()> {
        // Collect what is done already: a failed write stops everything after it.
        while let Ok(r) = self.results.try_recv() {
            self.in_flight -= 1;
            r.map_err(Error::Poisoned)?;
        }
        let done = self.done.clone();
        self.groups.send(group, Box::new(move |r| drop(done.send(r))))?;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits until every group handed over is on disk.
    fn sync(&mut self) -> Result<()> {
        while self.in_flight > 0 {
            let r = self.results.recv().map_err(|_| Error::Poisoned("the mirror's writer stopped".into()))?;
            self.in_flight -= 1;
            r.map_err(Error::Poisoned)?;
        }
        Ok(())
    }
}

/// Opens the ledger in `data` to give out the checkpoint at `size` (default: the latest), and says
/// which size to ask it for. An origin holds its key: it opens for signing (appending nothing), and
/// signs the size asked for, or its current size. A mirror holds no key and serves only the
/// checkpoints its origin published: the one at `size`, which must be stored, or the latest it
/// stores.
///
/// # Errors
/// [`Error::OutOfRange`] when a mirror holds no checkpoint at all, or none at `size`; what opening
/// the ledger fails with.
pub fn open_for_checkpoint(data: &Path, size: Option<u64>) -> Result<(crate::Ledger, Option<u64>)> {
    let ro = crate::Ledger::open_read_only(data)?;
    if !is_mirror(ro.store())? {
        // A checkpoint already issued at that size is printed by a reader; signing a new one
        // takes the writer's lock (it is stored).
        let at = size.unwrap_or_else(|| ro.size());
        if at <= ro.size() && ro.store().checkpoint_note(at)?.is_some() {
            return Ok((ro, Some(at)));
        }
        drop(ro);
        return Ok((crate::Ledger::open(data, crate::policy::closed())?, size));
    }
    let latest = ro.store().checkpoint_neighbours(u64::MAX)?.0.map(|(n, _)| n);
    let size = match (size, latest) {
        (Some(s), _) => s,
        (None, Some(l)) => l,
        (None, None) => {
            return Err(Error::OutOfRange(
                "this is a mirror: it can only serve the checkpoints its origin published, and it holds none yet".into(),
            ))
        }
    };
    if size <= ro.size() && ro.store().checkpoint_note(size)?.is_none() {
        let hint = latest.map_or(String::new(), |l| format!("; the latest it holds is at size {l}"));
        return Err(Error::OutOfRange(format!(
            "this is a mirror: it can only serve the checkpoints its origin published, and none was published at size {size}{hint}"
        )));
    }
    Ok((ro, Some(size)))
}

/// True if the store is a mirror's.
pub fn is_mirror(store: &Store) -> Result<bool> {
    Ok(store.is_mirror())
}

impl Mirror {
    /// Opens the mirror in `dir`, or prepares an empty one there (created when record 0 arrives).
    /// With `pinned`, record 0 must introduce that key (and an existing mirror's first key must be it).
    pub fn open(dir: &Path, pinned: Option<VerifierKey>) -> Result<Self, MirrorError> {
        if !relic_store::store::exists(dir) {
            if relic_store::store::legacy_dir(dir).exists() {
                return Err(Error::from(relic_store::Error::Migrate { found: "format 3 or older (a sled database in store/)".into() }).into());
            }
            let (chain, tree, pending) = (Chain::new(pinned), TreeWriter::default(), BTreeMap::new());
            return Ok(Self { dir: dir.to_path_buf(), store: None, writer: None, chain, tree, pending });
        }
        let store = Store::open(dir, Mode::Write)?;
        if !store.is_mirror() {
            return Err(MirrorError::NotAMirror(dir.to_path_buf()));
        }
        let head = store.head()?;
        let state = ChainState { origin: store.origin(), size: head.size, link: head.link, last_time_us: head.last_time_us, keys: store.keys() };
        let (chain, tree) = (Chain::resume(state, pinned)?, TreeWriter::load(&store, head.size)?);
        let writer = Some(Writer::start(&store)?);
        Ok(Self { dir: dir.to_path_buf(), store: Some(store), writer, chain, tree, pending: BTreeMap::new() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits until every verified record handed to the writer is on disk.
    pub fn sync(&mut self) -> Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.sync(),
            None => Ok(()),
        }
    }

    /// Records verified (on disk after [`Mirror::sync`]).
    pub fn size(&self) -> u64 {
        self.chain.size()
    }

    /// The origin's name, once record 0 is mirrored.
    pub fn origin(&self) -> Option<&str> {
        self.chain.origin()
    }

    /// The tree head of the mirrored records.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The store, once record 0 is mirrored.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    fn stored(&self) -> Result<&Store> {
        self.store.as_ref().ok_or_else(|| Error::Corrupt("the mirror holds no record yet".into()))
    }

    /// The largest size at which a verified checkpoint is stored.
    pub fn latest_checkpoint(&self) -> Result<Option<u64>> {
        match &self.store {
            None => Ok(None),
            Some(s) => Ok(s.checkpoint_neighbours(u64::MAX)?.0.map(|(n, _)| n)),
        }
    }

    /// Checkpoints received but not yet verifiable, oldest size first.
    pub fn pending_checkpoints(&self) -> Vec<String> {
        self.pending.values().flatten().cloned().collect()
    }

    /// Verifies `records` (exact record bytes, in the order received) and stores the verified ones.
    /// An exact re-send of a stored record is dropped; anything else that is not the next record stops
    /// the import with an error naming its sequence number, after the records before it were stored.
    pub fn import<'a>(&mut self, records: impl IntoIterator<Item = &'a [u8]>) -> Result<Imported, MirrorError> {
        let start = self.chain.size();
        let mut work = self.chain.clone();
        let mut accepted: Vec<(&[u8], Record, VerifierKey)> = Vec::new();
        let mut out = Imported::default();
        let mut stopped: Option<ChainError> = None;
        for bytes in records {
            match work.check_next(bytes) {
                Ok(Step::Next { record, key }) => accepted.push((bytes, record, key)),
                Ok(Step::Earlier(rec)) => {
                    let same = if rec.seq >= start {
                        accepted.get((rec.seq - start) as usize).is_some_and(|a| a.0 == bytes)
                    } else {
                        self.sync()?;
                        self.stored()?.record_bytes(rec.seq)?.is_some_and(|b| b.as_slice() == bytes)
                    };
                    if !same {
                        stopped = Some(ChainError {
                            seq: rec.seq,
                            reason: "a different record claims this sequence number, already mirrored".into(),
                        });
                        break;
                    }
                    out.duplicates += 1;
                }
                Err(e) => {
                    stopped = Some(e);
                    break;
                }
            }
        }
        // Every record before a structural error is checked; the first bad signature among them
        // comes earlier in the stream and is the error reported.
        let cut = match first_bad_signature(&accepted) {
            Some(seq) => {
                stopped = Some(ChainError { seq, reason: "signature does not verify".into() });
                (seq - start) as usize
            }
            None => accepted.len(),
        };
        if cut > 0 {
            self.write(&accepted[..cut], start)?;
            out.applied = cut as u64;
            if stopped.is_none() {
                out.checkpoints = self.retry_pending()?;
            }
        }
        match stopped {
            Some(e) => Err(e.into()),
            None => Ok(out),
        }
    }

    /// Hands verified records, their tree hashes and the new head, as one batch, to the writer.
    fn write(&mut self, records: &[(&[u8], Record, VerifierKey)], start: u64) -> Result<()> {
        let Some(((last_bytes, last, _), _)) = records.split_last() else { return Ok(()) };
        let mut tree = self.tree.clone();
        let mut group = Group::new();
        let mut keys_changed = start == 0;
        for (bytes, rec, _) in records {
            tree.push(bytes);
            group.push_record(bytes);
            keys_changed |= rec.kind == kind::KEY_ROTATED;
        }
        tree.write(&mut group);
        // The chain state after exactly these records (the checks passed already): the key history
        // holds the keys introduced up to the last of them.
        let size = last.seq + 1;
        let mut keys = self.chain.keys().to_vec();
        if let Some(after) = self.chain_after(records)? {
            keys = after;
        }
        let state = ChainState {
            origin: match self.chain.origin() {
                Some(o) => o.to_string(),
                None => records[0]
                    .1
                    .payload_json()
                    .get("origin")
                    .and_then(|o| o.as_str())
                    .ok_or_else(|| Error::Corrupt("record 0 names no origin".into()))?
                    .to_string(),
            },
            size,
            link: crate::record::link_of(last_bytes),
            last_time_us: last.time_us,
            keys,
        };
        if keys_changed {
            group.set_keys(&state.keys);
        }
        if self.store.is_none() {
            // Created whole, with the mirror's marker, from its first verified records.
            Store::create(&self.dir, &state.origin, group, true)?;
            let store = Store::open(&self.dir, Mode::Write)?;
            self.writer = Some(Writer::start(&store)?);
            self.store = Some(store);
        } else {
            self.writer.as_mut().ok_or(Error::Closed)?.send(group)?;
        }
        self.chain = Chain::resume(state, self.chain.pinned().cloned()).map_err(|e| Error::Corrupt(format!("mirror state: {e}")))?;
        self.tree = tree;
        Ok(())
    }

    /// The key history after `records` if one of them starts or changes it (record 0, a rotation).
    fn chain_after(&self, records: &[(&[u8], Record, VerifierKey)]) -> Result<Option<Vec<crate::chain::KeyEntry>>> {
        if !records.iter().any(|(_, r, _)| r.seq == 0 || r.kind == kind::KEY_ROTATED) {
            return Ok(None);
        }
        let mut chain = self.chain.clone();
        for (bytes, _, _) in records {
            chain.check_next(bytes).map_err(|e| Error::Corrupt(format!("mirror state: {e}")))?;
        }
        Ok(Some(chain.keys().to_vec()))
    }

    /// Checks a checkpoint the origin published and stores it; see [`CheckpointOutcome`].
    pub fn import_checkpoint(&mut self, note: &str) -> Result<CheckpointOutcome, MirrorError> {
        let size = note_size(note)?;
        if size > self.size() || self.origin().is_none() {
            return self.keep_pending(size, note);
        }
        self.check_checkpoint(size, note)
    }

    fn keep_pending(&mut self, size: u64, note: &str) -> Result<CheckpointOutcome, MirrorError> {
        let waiting = self.pending.entry(size).or_default();
        if !waiting.iter().any(|n| n == note) {
            waiting.push(note.to_string());
        }
        if self.pending.values().map(Vec::len).sum::<usize>() > MAX_PENDING {
            return Err(MirrorError::Checkpoint {
                size,
                reason: format!("more than {MAX_PENDING} checkpoints are waiting for records that do not arrive"),
            });
        }
        Ok(CheckpointOutcome::Pending(size))
    }

    fn check_checkpoint(&mut self, size: u64, note: &str) -> Result<CheckpointOutcome, MirrorError> {
        let cp_err = |reason: String| MirrorError::Checkpoint { size, reason };
        let keys: Vec<VerifierKey> = self.chain.keys().iter().map(|k| k.key.clone()).collect();
        // Only keys not retired at its size may sign it (record-v1 §Which key signs a checkpoint).
        let allowed = crate::chain::checkpoint_signers(self.chain.keys(), size);
        let c = match Checkpoint::open(note, &allowed) {
            Ok((c, _)) => c,
            Err(CheckpointError::Note(NoteError::UnknownKey)) if Checkpoint::open(note, &keys).is_ok() => {
                return Err(cp_err(format!("is signed only by a key this log had retired at size {size}: a retired key cannot vouch for a tree that holds its retirement")));
            }
            // Signed by a key the mirror has not seen introduced yet: wait for more records.
            Err(CheckpointError::Note(NoteError::UnknownKey)) => return self.keep_pending(size, note),
            Err(e) => return Err(cp_err(e.to_string())),
        };
        let origin = self.origin().ok_or_else(|| cp_err("arrived before any record".into()))?.to_string();
        if c.origin != origin {
            return Err(cp_err(format!("names origin {:?}, not {origin:?}", c.origin)));
        }
        // The records it covers reach the disk before it does.
        self.sync()?;
        let store = self.stored()?;
        let root = if size == self.size() { self.tree.root() } else { merkle::tree_hash(size, store).map_err(Error::from)? };
        if c.root != root {
            return Err(cp_err(
                "its root does not match the tree recomputed from the mirrored records: the origin signed a different log".into(),
            ));
        }
        if store.checkpoint_note(size)?.is_some() {
            return Ok(CheckpointOutcome::Known(size));
        }
        store.put_checkpoint(size, note).map_err(Error::from)?;
        Ok(CheckpointOutcome::Stored(c))
    }

    /// Checks the pending checkpoints the mirror has now reached; returns how many were stored.
    fn retry_pending(&mut self) -> Result<u64, MirrorError> {
        let size = self.size();
        let ready: Vec<u64> = self.pending.range(..=size).map(|(s, _)| *s).collect();
        let mut stored = 0;
        for s in ready {
            for note in self.pending.remove(&s).unwrap_or_default() {
                if let CheckpointOutcome::Stored(_) = self.check_checkpoint(s, &note)? {
                    stored += 1;
                }
            }
        }
        Ok(stored)
    }
}

/// The size a checkpoint note claims (unverified: it decides only when the note can be checked).
fn note_size(note: &str) -> Result<u64, MirrorError> {
    let split = note.rfind("\n\n").ok_or_else(|| MirrorError::MalformedCheckpoint("not a signed note".into()))?;
    let body = Checkpoint::parse_body(&note[..split + 1]).map_err(|e| MirrorError::MalformedCheckpoint(e.to_string()))?;
    Ok(body.size)
}

/// Signatures verified together in one batch equation: larger batches cost less per signature.
const SIGNATURE_BATCH: usize = 4 * CHUNK;

/// The lowest sequence number among `records` whose signature fails, checking them in batches on
/// every core (as `relic verify` does, with its batch-then-strict rule).
fn first_bad_signature(records: &[(&[u8], Record, VerifierKey)]) -> Option<u64> {
    let chunks: Vec<Chunk> = records
        .chunks(SIGNATURE_BATCH)
        .map(|part| {
            let mut c = Chunk::new();
            for (bytes, rec, key) in part {
                c.seqs.push(rec.seq);
                c.msgs.push(Record::signed_message(&bytes[..bytes.len() - 64]));
                c.sigs.push(Signature::from_bytes(&rec.signature));
                c.keys.push(key.key);
            }
            c
        })
        .collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(chunks.len());
    if workers <= 1 {
        return chunks.iter().find_map(|c| c.first_bad(false));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut bad: Option<u64> = None;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(c) = chunks.get(i) else { return bad };
                        if let Some(seq) = c.first_bad(false) {
                            bad = Some(bad.map_or(seq, |b| b.min(seq)));
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok().flatten()).min()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Ledger};

    fn origin(n: usize) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "mirror.test/log", crate::policy::unchecked()).unwrap();
        for i in 1..n {
            if i == n / 2 {
                l.rotate_key_blocking(Actor { id: "o".into(), role: "owner".into() }).unwrap();
                continue;
            }
            l.append_blocking(crate::test_support::numbered_draft(i)).unwrap();
        }
        (dir, l)
    }

    /// The record with the digit of its payload changed: still well formed, no longer signed.
    fn alter_payload(rec: &[u8]) -> Vec<u8> {
        let mut b = rec.to_vec();
        let at = b.windows(4).position(|w| w == b"\"n\":").unwrap() + 4;
        b[at] = if b[at] == b'1' { b'2' } else { b'1' };
        b
    }

    fn bytes(l: &Ledger) -> Vec<Vec<u8>> {
        l.records(0).map(|r| r.unwrap().1).collect()
    }

    #[test]
    fn a_mirror_is_a_store_that_verifies_like_its_origin() {
        let (_o, l) = origin(600);
        let cp_mid = l.checkpoint(Some(300)).unwrap();
        let cp = l.checkpoint(None).unwrap();
        let recs = bytes(&l);
        let m_dir = tempfile::tempdir().unwrap();
        let mut m = Mirror::open(m_dir.path(), None).unwrap();
        // The final checkpoint arrives first: it waits for the records.
        assert_eq!(m.import_checkpoint(&cp.note).unwrap(), CheckpointOutcome::Pending(600));
        let r = m.import(recs[..300].iter().map(Vec::as_slice)).unwrap();
        assert_eq!((r.applied, r.duplicates), (300, 0));
        // Exact re-sends are dropped, across the batch boundary and inside one batch.
        let again: Vec<&[u8]> = recs[290..].iter().chain(&recs[590..]).map(Vec::as_slice).collect();
        let r = m.import(again).unwrap();
        assert_eq!((r.applied, r.duplicates, r.checkpoints), (300, 20, 1));
        assert!(matches!(m.import_checkpoint(&cp_mid.note).unwrap(), CheckpointOutcome::Stored(_)));
        assert_eq!(m.root(), cp.checkpoint.root);
        drop(m);
        let ro = Ledger::open_read_only(m_dir.path()).unwrap();
        assert_eq!(ro.size(), 600);
        assert_eq!(ro.checkpoint(None).unwrap().note, cp.note);
        assert_eq!(ro.keys(), l.keys());
        assert!(ro.append_blocking(crate::record::Draft {
            actor: Actor { id: "x".into(), role: "owner".into() },
            kind: "release.updated".into(),
            subject: "a".into(),
            payload: b"{}".to_vec(),
            schema_version: 1
        })
        .is_err());
        let report = crate::verify::verify(ro.store(), &Default::default(), &mut |_, _| {}).unwrap();
        assert_eq!((report.size, report.root, report.checkpoints), (600, cp.checkpoint.root, 2));
        drop(ro);
        // Reopened, it resumes where it stopped.
        let m = Mirror::open(m_dir.path(), Some(l.keys()[0].key.clone())).unwrap();
        assert_eq!((m.size(), m.root()), (600, cp.checkpoint.root));
    }

    #[test]
    fn stops_at_the_first_bad_record_and_stores_only_what_verified() {
        let (_o, l) = origin(20);
        let recs = bytes(&l);
        let m_dir = tempfile::tempdir().unwrap();
        let mut m = Mirror::open(m_dir.path(), None).unwrap();
        let forged = alter_payload(&recs[5]);
        let batch: Vec<&[u8]> = recs[..5].iter().map(Vec::as_slice).chain([forged.as_slice()]).chain(recs[6..].iter().map(Vec::as_slice)).collect();
        let e = m.import(batch).unwrap_err();
        assert!(e.to_string().starts_with("record 5: "), "{e}");
        assert_eq!(m.size(), 5);
        let e = m.import([recs[7].as_slice()]).unwrap_err();
        assert_eq!(e.to_string(), "record 5: is missing: the next record received is record 7");
        let other3 = alter_payload(&recs[3]);
        let e = m.import([other3.as_slice()]).unwrap_err();
        assert!(e.to_string().starts_with("record 3: a different record"), "{e}");
        assert_eq!(m.size(), 5);
        m.import(recs[5..].iter().map(Vec::as_slice)).unwrap();
        assert_eq!(m.size(), 20);
        // A checkpoint whose root is not this log's is refused, even with a valid signature.
        let key = crate::keys::read_key(l.dir(), &l.verifier_key().unwrap().key_id).unwrap();
        let wrong = crate::note::sign(&Checkpoint::new(l.origin(), 20, [7u8; 32]).body(), &key).unwrap();
        assert!(m.import_checkpoint(&wrong).unwrap_err().to_string().contains("root does not match"));
        let good = l.checkpoint(Some(20)).unwrap().note;
        let forged = good.replacen("\n20\n", "\n19\n", 1);
        assert!(m.import_checkpoint(&forged).unwrap_err().to_string().contains("does not verify"));
        let stranger = crate::note::SignerKey::generate(l.origin()).unwrap();
        let unknown = crate::note::sign(&Checkpoint::new(l.origin(), 20, m.root()).body(), &stranger).unwrap();
        assert_eq!(m.import_checkpoint(&unknown).unwrap(), CheckpointOutcome::Pending(20));
        assert!(matches!(m.import_checkpoint(&good).unwrap(), CheckpointOutcome::Stored(_)));
        assert_eq!(m.import_checkpoint(&good).unwrap(), CheckpointOutcome::Known(20));
    }

    #[test]
    fn refuses_an_origin_ledger() {
        let (o, l) = origin(2);
        drop(l);
        assert!(matches!(Mirror::open(o.path(), None), Err(MirrorError::NotAMirror(_))));
    }
}
