//! Full verification of a store, trusting nothing in it (`schemas/record-v1.md` §Verification).
//!
//! One streaming pass over the records, in bounded memory: every record is decoded strictly, its
//! sequence number, predecessor link, time and signing key are checked in order, its tree hashes are
//! recomputed and compared with the stored ones (`log/hashes`), every commit entry is checked
//! against the records it acknowledges (their number, where they end, their tree head:
//! `schemas/store-v4.md` §Verification), every stored checkpoint against the recomputed tree head at
//! its size, and an auditor's trusted checkpoint against the head the log had at that size.
//! Signatures are checked in batches of [`CHUNK`] on worker threads. A log shorter than its last
//! commit entry acknowledged is never reported as verified.
//!
//! On failure the error names the first bad position: the lowest record sequence number affected,
//! or the tree hash or checkpoint that does not match records that are themselves fine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use ed25519_dalek::{Signature, VerifyingKey};

use crate::checkpoint::Checkpoint;

use crate::merkle::{self, Frontier, Hash};
use crate::note::VerifierKey;
use crate::record::{link_of, Record};
use crate::chain::{self, ChainState, KeyEntry};
use crate::store::Store;
use relic_store::layout::{self, Commit};
use std::io::Read as _;

/// Records whose signatures are checked together in one batch.
pub const CHUNK: usize = 256;

/// The first thing found wrong, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("record {seq}: {reason}")]
    Record { seq: u64, reason: String },
    #[error("tree hash {index} (level {level}, over records {first}..={last}): {reason}")]
    TreeHash { index: u64, level: u32, first: u64, last: u64, reason: String },
    #[error("checkpoint at size {size}: {reason}")]
    Checkpoint { size: u64, reason: String },
    #[error("trusted checkpoint: {0}")]
    Trusted(String),
    #[error("store: {0}")]
    Store(String),
    /// The saved position to resume from does not describe this log.
    #[error("saved verification position: {0}")]
    Resume(String),
}

/// How to verify.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// A signed checkpoint note an auditor saved earlier: the log must extend it.
    pub trusted: Option<&'a str>,
    /// Check each signature alone with RFC 8032's cofactorless equation (`verify_strict`), instead
    /// of in batches (cofactored, about twice as fast). Honest signers produce signatures both accept;
    /// `strict` also refuses the non-canonical ones a malicious key holder could craft.
    pub strict: bool,
    /// Keys obtained out of band (from the log's operator, a transparency page): each must be in the
    /// key history the log itself records, or the log is not the one these keys belong to.
    pub pinned: &'a [VerifierKey],
    /// Where an earlier successful verification of this store stopped ([`Report::resume`]):
    /// records before it are not read again. Before resuming, the saved tree head is compared with
    /// the one the stored tree hashes give at that size and the saved link with the last record
    /// before it, so a log that was replaced or rewritten there is refused; an alteration of
    /// earlier records that leaves both intact is only found by a full verification, and so is a
    /// checkpoint stored later at a size at or before the position.
    pub resume: Option<&'a Resume>,
}

/// The state of a verification after `size` records: enough to carry on with record `size`
/// without reading the records before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub size: u64,
    /// The link record `size` must carry.
    pub link: [u8; 32],
    /// The tree's right edge at `size`.
    pub frontier: Frontier,
    pub last_time_us: i64,
    /// The key history up to `size`.
    pub keys: Vec<KeyEntry>,
    /// Checkpoints checked so far.
    pub checkpoints: u64,
}


/// 32 bytes in lower-case hex.
fn unhex32(s: &str) -> Option<[u8; 32]> {
    crate::hex::decode(s)?.try_into().ok()
}

impl Resume {
    /// A JSON document (a local cache, never signed: see [`Options::resume`]).
    pub fn encode(&self) -> Vec<u8> {
        let frontier: Vec<serde_json::Value> = self.frontier.nodes().iter().map(|(l, h)| serde_json::json!([l, crate::hex::encode(h)])).collect();
        let keys: Vec<serde_json::Value> = self.keys.iter().map(|k| serde_json::json!({"key": k.key.to_string(), "from_seq": k.from_seq})).collect();
        serde_json::json!({"size": self.size, "link": crate::hex::encode(&self.link), "frontier": frontier, "last_time_us": self.last_time_us,
            "keys": keys, "checkpoints": self.checkpoints})
        .to_string()
        .into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let num = |k: &str| v[k].as_u64().ok_or_else(|| format!("{k} is missing"));
        let size = num("size")?;
        let link = v["link"].as_str().and_then(unhex32).ok_or("link is malformed")?;
        let mut nodes = Vec::new();
        for n in v["frontier"].as_array().ok_or("frontier is missing")? {
            let level = n[0].as_u64().and_then(|l| u32::try_from(l).ok()).ok_or("frontier level is malformed")?;
            nodes.push((level, n[1].as_str().and_then(unhex32).ok_or("frontier hash is malformed")?));
        }
        let frontier = Frontier::from_nodes(size, nodes).ok_or("frontier does not fit the size")?;
        let mut keys = Vec::new();
        for k in v["keys"].as_array().ok_or("keys are missing")? {
            let key = k["key"].as_str().and_then(|t| VerifierKey::parse(t).ok()).ok_or("key is malformed")?;
            keys.push(KeyEntry { key, from_seq: k["from_seq"].as_u64().ok_or("from_seq is missing")? });
        }
        let last_time_us = v["last_time_us"].as_i64().ok_or("last_time_us is missing")?;
        Ok(Self { size, link, frontier, last_time_us, keys, checkpoints: num("checkpoints")? })
    }
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Report {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub checkpoints: u64,
    /// The key history as replayed from the log itself.
    pub keys: Vec<KeyEntry>,
    /// The trusted checkpoint, now shown to be a prefix of this log.
    pub trusted: Option<Checkpoint>,
    /// The first record this verification read (0, or where it resumed).
    pub resumed_from: u64,
    /// Where this verification stopped, to resume from later.
    pub resume: Resume,
}

/// Signatures checked together: one batch verification, and on failure each alone to find the first bad one.
pub(crate) struct Chunk {
    pub(crate) seqs: Vec<u64>,
    pub(crate) msgs: Vec<Vec<u8>>,
    pub(crate) sigs: Vec<Signature>,
    pub(crate) keys: Vec<VerifyingKey>,
}

impl Chunk {
    pub(crate) fn new() -> Self {
        Self { seqs: Vec::with_capacity(CHUNK), msgs: Vec::with_capacity(CHUNK), sigs: Vec::with_capacity(CHUNK), keys: Vec::with_capacity(CHUNK) }
    }

    /// The lowest sequence number whose signature fails, if any.
    pub(crate) fn first_bad(&self, strict: bool) -> Option<u64> {
        let msgs: Vec<&[u8]> = self.msgs.iter().map(Vec::as_slice).collect();
        if !strict && crate::batch::verify_all(&msgs, &self.sigs, &self.keys) {
            return None;
        }
        (0..self.seqs.len()).find(|&i| self.keys[i].verify_strict(&self.msgs[i], &self.sigs[i]).is_err()).map(|i| self.seqs[i])
    }
}

fn store_err(e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Store(e.to_string())
}

fn rec_err(seq: u64, reason: impl Into<String>) -> VerifyError {
    VerifyError::Record { seq, reason: reason.into() }
}

fn tree_err(index: u64, reason: impl Into<String>) -> VerifyError {
    let (level, n) = merkle::split_stored_hash_index(index);
    VerifyError::TreeHash { index, level, first: n << level, last: ((n + 1) << level) - 1, reason: reason.into() }
}

/// Verifies everything in `store`. `progress` is called with the number of records checked so far
/// and the number the head claims.
pub fn verify(store: &Store, opts: &Options, progress: &mut dyn FnMut(u64, u64)) -> Result<Report, VerifyError> {
    verify_records(store, opts, progress).map_err(|e| match e {
        // A bad record is named with where its bytes are.
        VerifyError::Record { seq, reason } => {
            let at = store.record_offset(seq).map_or(String::new(), |at| format!(" ({}, byte {at})", store.dir().join(layout::RECORDS).display()));
            VerifyError::Record { seq, reason: format!("{reason}{at}") }
        }
        other => other,
    })
}

fn verify_records(store: &Store, opts: &Options, progress: &mut dyn FnMut(u64, u64)) -> Result<Report, VerifyError> {
    let (trusted, strict) = (opts.trusted, opts.strict);
    let origin = store.origin();
    let head = store.commit_entry();
    let meta_keys = store.keys();

    let trusted_cp = match trusted {
        None => None,
        Some(t) => {
            let (_, sigs) = t.rsplit_once("\n\n").ok_or_else(|| VerifyError::Trusted("not a signed note".into()))?;
            let body = &t[..t.len() - sigs.len() - 1];
            let c = Checkpoint::parse_body(body).map_err(|e| VerifyError::Trusted(e.to_string()))?;
            if c.origin != origin {
                return Err(VerifyError::Trusted(format!("it is for origin {:?}, this ledger is {:?}", c.origin, origin)));
            }
            Some(c)
        }
    };

    if let Some(r) = opts.resume {
        check_resume(store, r, head.size)?;
        if trusted_cp.as_ref().is_some_and(|c| c.size < r.size) {
            return Err(VerifyError::Trusted("it is older than the saved verification position; verify the whole log".into()));
        }
    }

    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(1);
    let bad_sig = AtomicU64::new(u64::MAX);
    let (tx, rx) = mpsc::sync_channel::<Chunk>(workers * 2);
    let rx = std::sync::Mutex::new(rx);

    let outcome = std::thread::scope(|s| {
        for _ in 0..workers {
            let (rx, bad_sig) = (&rx, &bad_sig);
            s.spawn(move || loop {
                let chunk = match rx.lock().map(|r| r.recv()) {
                    Ok(Ok(c)) => c,
                    _ => return,
                };
                if bad_sig.load(Ordering::Relaxed) < chunk.seqs[0] {
                    continue;
                }
                if let Some(seq) = chunk.first_bad(strict) {
                    bad_sig.fetch_min(seq, Ordering::Relaxed);
                }
            });
        }
        let mut pending = Chunk::new();
        let r = stream(store, &origin, &meta_keys, (trusted_cp.as_ref(), opts.resume), tx, &mut pending, &bad_sig, &mut |n| progress(n, head.size));
        // A structural error stops the pass early: the signatures read but not yet handed to the
        // workers may hold a lower bad position, so check them too.
        if r.is_err() && !pending.seqs.is_empty() {
            if let Some(seq) = pending.first_bad(strict) {
                bad_sig.fetch_min(seq, Ordering::Relaxed);
            }
        }
        r
    });
    // Every worker has finished: a bad signature found anywhere is known now.
    let first_bad_sig = bad_sig.load(Ordering::Relaxed);
    let sig_error = (first_bad_sig != u64::MAX).then(|| rec_err(first_bad_sig, "signature does not verify"));
    let mut state = match outcome {
        Err((pos, e)) => {
            return Err(match sig_error {
                Some(se) if first_bad_sig <= pos => se,
                _ => e,
            })
        }
        Ok(st) => match sig_error {
            Some(se) => return Err(se),
            None => st,
        },
    };

    // The last commit entry must describe exactly the records found (checked in `stream`).
    if head.size != state.chain.size {
        return Err(store_err(format!("the last commit entry acknowledges {} records, but the log holds {}", head.size, state.chain.size)));
    }
    if state.chain.keys != meta_keys {
        return Err(store_err(format!("{}: the key list differs from the key history in the log", store.dir().join(layout::KEYS).display())));
    }
    if let Some(k) = opts.pinned.iter().find(|p| !state.chain.keys.iter().any(|h| &h.key == *p)) {
        return Err(store_err(format!("key {k} is not in this log's key history: this is not the log that key signs")));
    }
    // A log that ends with a key rotation: the new key has signed no record, so it must have
    // signed a checkpoint of the whole log (record-v1 §Verification step 20), or the log could be
    // the work of the retired key alone.
    if let Some(k) = state.chain.keys.last().filter(|k| k.from_seq == state.chain.size && k.from_seq > 0) {
        let vouched = store.checkpoint_note(state.chain.size).map_err(store_err)?.is_some() || trusted_cp.as_ref().is_some_and(|c| c.size == state.chain.size);
        if !vouched {
            return Err(VerifyError::Checkpoint {
                size: state.chain.size,
                reason: format!(
                    "the log ends with a key rotation (record {}) and its new key {} has signed nothing: no checkpoint of the whole log is signed by it (`relic key rotate` signs one; `relic checkpoint` signs one now)",
                    state.chain.size - 1,
                    k.key
                ),
            });
        }
    }
    if let Some(c) = &trusted_cp {
        let t = trusted.ok_or_else(|| VerifyError::Trusted("no trusted checkpoint text".into()))?;
        open_checkpoint(t, &state.chain.keys, c.size).map_err(VerifyError::Trusted)?;
        let root = state.trusted_root.take().ok_or_else(|| {
            VerifyError::Trusted(format!(
                "it has size {}, but the log holds only {} records: the log was truncated or replaced",
                c.size, state.chain.size
            ))
        })?;
        if root != c.root {
            return Err(VerifyError::Trusted(format!(
                "the log's tree at size {} has a different root: the log has forked since the checkpoint was saved",
                c.size
            )));
        }
    }
    let resume = Resume { size: state.chain.size, link: state.chain.link, frontier: state.frontier.clone(), last_time_us: state.chain.last_time_us, keys: state.chain.keys.clone(), checkpoints: state.checkpoints };
    Ok(Report {
        origin,
        size: state.chain.size,
        root: state.frontier.root(),
        checkpoints: state.checkpoints,
        keys: state.chain.keys,
        trusted: trusted_cp,
        resumed_from: opts.resume.map_or(0, |r| r.size),
        resume,
    })
}

/// A saved position must describe this log: same tree head at its size (from the stored tree
/// hashes), same link to the record before it, a size the log has reached.
fn check_resume(store: &Store, r: &Resume, head_size: u64) -> Result<(), VerifyError> {
    let bad = |m: String| VerifyError::Resume(m);
    if r.size > head_size {
        return Err(bad(format!("it is at size {}, past the end of the log ({head_size} records)", r.size)));
    }
    if r.size == 0 {
        return Ok(());
    }
    let root = merkle::tree_hash(r.size, store).map_err(store_err)?;
    if root != r.frontier.root() {
        return Err(bad(format!("the log's tree at size {} has another root than the one verified: the log was rewritten", r.size)));
    }
    let last = store.record_bytes(r.size - 1).map_err(store_err)?.ok_or_else(|| bad(format!("record {} is missing", r.size - 1)))?;
    if link_of(&last) != r.link {
        return Err(bad(format!("record {} is not the one verified: the log was rewritten", r.size - 1)));
    }
    Ok(())
}

struct State {
    /// Sequence, link, time and key history: the chain rules' state ([`ChainState::advance`]).
    chain: ChainState,
    frontier: Frontier,
    checkpoints: u64,
    trusted_root: Option<Hash>,
}

type Positioned = (u64, VerifyError);

/// The sequential part of the pass. Errors carry the record position they concern, so that the
/// caller can compare them with the lowest bad signature the workers found.
fn stream(
    store: &Store,
    origin: &str,
    meta_keys: &[KeyEntry],
    (trusted, resume): (Option<&Checkpoint>, Option<&Resume>),
    tx: mpsc::SyncSender<Chunk>,
    chunk: &mut Chunk,
    bad_sig: &AtomicU64,
    progress: &mut dyn FnMut(u64),
) -> Result<State, Positioned> {
    let mut st = match resume {
        None => State { chain: ChainState::genesis(origin), frontier: Frontier::new(), checkpoints: 0, trusted_root: None },
        Some(r) => State {
            chain: ChainState { origin: origin.to_string(), size: r.size, link: r.link, last_time_us: r.last_time_us, keys: r.keys.clone() },
            frontier: r.frontier.clone(),
            checkpoints: r.checkpoints,
            trusted_root: None,
        },
    };
    let start = st.chain.size;
    let dir = store.dir();
    let (hashes_path, commits_path) = (dir.join(layout::HASHES), dir.join(layout::COMMITS));
    let mut hashes = store.stored_hashes(merkle::stored_hash_count(start)).map_err(|e| (start, store_err(e)))?;
    let mut commits = Commits::new(store, start).map_err(|e| (start, store_err(e)))?;
    let mut offset = if start == 0 { 0 } else { store.record_offset(start).map_err(|e| (start, store_err(e)))? };
    // Checkpoints at the saved position were checked by the verification that saved it.
    let mut cps = store.checkpoints(if resume.is_some() { start + 1 } else { 0 }).into_iter().peekable();
    let check_cps = |st: &mut State, cps: &mut std::iter::Peekable<_>| -> Result<(), Positioned> {
        check_checkpoints(st, cps, origin, meta_keys)
    };
    if trusted.is_some_and(|c| c.size == start) {
        st.trusted_root = Some(st.frontier.root());
    }
    check_cps(&mut st, &mut cps)?;

    for item in store.records(start) {
        let seq = st.chain.size;
        let (k, bytes) = item.map_err(|e| (seq, store_err(e)))?;
        if bad_sig.load(Ordering::Relaxed) < seq {
            break;
        }
        if k != seq {
            return Err((seq, rec_err(seq, format!("is missing (the next record stored is {k})"))));
        }
        let rec = Record::decode(&bytes).map_err(|e| (seq, rec_err(seq, format!("malformed: {e}"))))?;
        let key = st.chain.advance(&rec, &bytes).map_err(|e| (seq, rec_err(seq, e)))?;
        offset += 4 + bytes.len() as u64;

        // Tree hashes: recompute this record's and compare with the next ones stored.
        let leaf = merkle::leaf_hash(&bytes);
        for (level, h) in st.frontier.push(leaf).into_iter().enumerate() {
            let (level, n) = (level as u32, seq >> level);
            let index = merkle::stored_hash_index(level, n);
            // A missing hashes file is derived data to write again (the store said so); damage
            // in one that exists is named.
            let Some(hashes) = hashes.as_mut() else { continue };
            let mut found = [0u8; 32];
            if let Err(e) = hashes.read_exact(&mut found) {
                return Err((seq, tree_err(index, format!("cannot be read from {}: {e}", hashes_path.display()))));
            }
            if found != h {
                // A hash that disagrees with the records: if the record itself is bad, name it.
                if !rec.verify_signature(&key) {
                    return Err((seq, rec_err(seq, "signature does not verify")));
                }
                return Err((seq, tree_err(index, format!("in {} (byte {}) does not match the records", hashes_path.display(), index * 32))));
            }
        }
        // The tree head costs O(log n) hashes: computed only where an entry acknowledges this size.
        if commits.due(st.chain.size) {
            commits.check(st.chain.size, offset, &st.frontier.root()).map_err(|e| (seq, store_err(e)))?;
        }

        chunk.seqs.push(seq);
        chunk.msgs.push(Record::signed_message(&bytes[..bytes.len() - 64]));
        chunk.sigs.push(Signature::from_bytes(&rec.signature));
        chunk.keys.push(key.key);
        if trusted.is_some_and(|c| c.size == st.chain.size) {
            st.trusted_root = Some(st.frontier.root());
        }
        check_cps(&mut st, &mut cps)?;
        if chunk.seqs.len() == CHUNK {
            let full = std::mem::replace(chunk, Chunk::new());
            if tx.send(full).is_err() {
                break;
            }
            progress(st.chain.size);
        }
    }
    if !chunk.seqs.is_empty() {
        let _ = tx.send(std::mem::replace(chunk, Chunk::new()));
    }
    drop(tx);
    progress(st.chain.size);
    let end = st.chain.size;
    if let Some((i, e)) = commits.next_entry().map_err(|e| (end, store_err(e)))? {
        return Err((end, store_err(format!("{}: commit entry {i} acknowledges {} records, but the records end at {end}", commits_path.display(), e.size))));
    }
    if let Some((size, _)) = cps.next() {
        return Err((end, VerifyError::Checkpoint { size, reason: format!("is past the end of the log ({end} records)") }));
    }
    Ok(st)
}

/// The commit entries, read in order beside the records: each must acknowledge exactly a number of
/// records the log reached, end where their frames end, and give their tree head.
struct Commits {
    reader: std::io::BufReader<std::fs::File>,
    path: std::path::PathBuf,
    /// The entry read ahead, with its number, and the entries left after it.
    next: Option<(u64, Commit)>,
    index: u64,
    left: u64,
    checkpoints_end: u64,
    /// Where each checkpoint frame ends, with the largest tree size of the frames up to it.
    frame_ends: Vec<(u64, u64)>,
}

impl Commits {
    /// The entries acknowledging more than `start` records (those up to `start` were checked by the
    /// verification that saved the position; with `start` 0 that is every entry).
    fn new(store: &Store, start: u64) -> relic_store::Result<Self> {
        let path = store.dir().join(layout::COMMITS);
        let total = store.entries();
        // Entries below `start` were checked by the verification that saved the position.
        let (mut lo, mut hi) = (0, total);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if store.entry(mid)?.size <= start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let first = lo;
        let mut f = std::fs::File::open(&path).map_err(|e| relic_store::Error::Io { path: path.clone(), source: e })?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(first * layout::COMMIT_LEN as u64))
            .map_err(|e| relic_store::Error::Io { path: path.clone(), source: e })?;
        let checkpoints_end = if first == 0 { 0 } else { store.entry(first - 1)?.checkpoints_end };
        let cp_path = store.dir().join(layout::CHECKPOINTS);
        let mut cp_bytes = std::fs::read(&cp_path).map_err(|e| relic_store::Error::Io { path: cp_path.clone(), source: e })?;
        cp_bytes.truncate(store.commit_entry().checkpoints_end as usize);
        let frames = layout::checkpoint_frames(&cp_bytes)
            .map_err(|(at, why)| relic_store::Error::Corrupt(format!("{}: the checkpoint at byte {at}: {why}", cp_path.display())))?;
        let mut frame_ends = Vec::with_capacity(frames.len());
        let mut largest = 0;
        for (i, (_, size, _)) in frames.iter().enumerate() {
            largest = largest.max(*size);
            let end = frames.get(i + 1).map_or(cp_bytes.len() as u64, |f| f.0);
            frame_ends.push((end, largest));
        }
        let mut c = Self { reader: std::io::BufReader::with_capacity(1 << 16, f), path, next: None, index: first, left: total - first, checkpoints_end, frame_ends };
        c.advance()?;
        Ok(c)
    }

    fn advance(&mut self) -> relic_store::Result<()> {
        self.next = None;
        if self.left == 0 {
            return Ok(());
        }
        let mut b = [0u8; layout::COMMIT_LEN];
        self.reader.read_exact(&mut b).map_err(|e| relic_store::Error::Io { path: self.path.clone(), source: e })?;
        let i = self.index;
        let e = Commit::decode(&b).map_err(|_| relic_store::Error::Corrupt(format!("{}: commit entry {i} (bytes {}..{}) is damaged", self.path.display(), i * 64, i * 64 + 64)))?;
        if e.checkpoints_end < self.checkpoints_end {
            return Err(relic_store::Error::Corrupt(format!("{}: commit entry {i} moves the end of the checkpoints back", self.path.display())));
        }
        self.checkpoints_end = e.checkpoints_end;
        self.next = Some((i, e));
        self.index += 1;
        self.left -= 1;
        Ok(())
    }

    /// True if the next entry acknowledges `size` records or fewer (it must be checked now).
    fn due(&self, size: u64) -> bool {
        self.next.is_some_and(|(_, e)| e.size <= size)
    }

    fn next_entry(&mut self) -> relic_store::Result<Option<(u64, Commit)>> {
        Ok(self.next)
    }


    /// Checks every entry acknowledging `size` records: the records end at `offset`, the tree head is `root`.
    fn check(&mut self, size: u64, offset: u64, root: &[u8; 32]) -> relic_store::Result<()> {
        while let Some((i, e)) = self.next {
            if e.size > size {
                return Ok(());
            }
            let bad = |why: String| relic_store::Error::Corrupt(format!("{}: commit entry {i}: {why}", self.path.display()));
            if e.size < size {
                return Err(bad(format!("acknowledges {} records, fewer than the entry before it", e.size)));
            }
            if e.records_end != offset {
                return Err(bad(format!("says the records end at byte {}, but record {} ends at byte {offset}", e.records_end, size - 1)));
            }
            if &e.root != root {
                return Err(bad(format!("its tree head does not match the {size} records it acknowledges")));
            }
            // The checkpoints it acknowledges end on a frame boundary, and none is past its size.
            if e.checkpoints_end > 0 {
                match self.frame_ends.binary_search_by_key(&e.checkpoints_end, |f| f.0) {
                    Err(_) => return Err(bad(format!("says the checkpoints end at byte {}, inside a checkpoint frame", e.checkpoints_end))),
                    Ok(k) if self.frame_ends[k].1 > size => {
                        return Err(bad(format!("acknowledges a checkpoint at size {}, past its {size} records", self.frame_ends[k].1)))
                    }
                    Ok(_) => {}
                }
            }
            self.advance()?;
        }
        Ok(())
    }
}

/// Checks every stored checkpoint at the current size against the recomputed tree head.
fn check_checkpoints(
    st: &mut State,
    cps: &mut std::iter::Peekable<impl Iterator<Item = (u64, String)>>,
    origin: &str,
    history: &[KeyEntry],
) -> Result<(), Positioned> {
    let pos = st.chain.size.saturating_sub(1);
    while let Some((size, _)) = cps.peek() {
        let size = *size;
        if size > st.chain.size {
            return Ok(());
        }
        let Some((_, text)) = cps.next() else { return Ok(()) };
        let cp_err = |reason: String| (pos, VerifyError::Checkpoint { size, reason });
        if size < st.chain.size {
            return Err(cp_err("is stored out of order".into()));
        }
        let text = text.as_str();
        let c = open_checkpoint(text, history, size).map_err(cp_err)?;
        if c.origin != origin {
            return Err(cp_err(format!("names origin {:?}, not {origin:?}", c.origin)));
        }
        if c.size != size {
            return Err(cp_err(format!("is stored at size {size} but says size {}", c.size)));
        }
        if c.root != st.frontier.root() {
            return Err(cp_err("its root does not match the tree recomputed from the records".into()));
        }
        st.checkpoints += 1;
    }
    Ok(())
}

/// Opens a checkpoint of `size` records with the keys that may sign it (record-v1 §Which key signs
/// a checkpoint); one signed only by a key retired by then is named as such.
fn open_checkpoint(text: &str, history: &[KeyEntry], size: u64) -> Result<Checkpoint, String> {
    let allowed = chain::checkpoint_signers(history, size);
    match Checkpoint::open(text, &allowed) {
        Ok((c, _)) => Ok(c),
        Err(e) => {
            let all: Vec<VerifierKey> = history.iter().map(|k| k.key.clone()).collect();
            if Checkpoint::open(text, &all).is_ok() {
                Err(format!("it is signed only by a key this log had retired at size {size}: a retired key cannot vouch for a tree that holds its retirement"))
            } else {
                Err(format!("{e} (checked against the keys of this log that may sign size {size})"))
            }
        }
    }
}

/// Verifies the store of the ledger in `dir` (no signing key needed).
pub fn verify_dir(dir: &std::path::Path, opts: &Options, progress: &mut dyn FnMut(u64, u64)) -> crate::Result<Result<Report, VerifyError>> {
    let store = Store::open(dir, relic_store::Mode::Read)?;
    Ok(verify(&store, opts, progress))
}
