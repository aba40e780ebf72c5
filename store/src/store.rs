//! A log directory in format 4 (`schemas/store-v4.md`): relic's own append-only files, and the one
//! place that opens them.
//!
//! What this is: [`Store`], opened as a reader or as the one writer.
//! - **Readers** ([`Mode::Read`]) open every file read-only, take no lock and change no byte. They
//!   read the last commit entry once, when they open (§Readers): everything they read after that is
//!   the log as that entry describes it, a consistent prefix however far a writer has gone since.
//! - **The writer** ([`Mode::Write`]) takes the directory's lock, then cuts off what a write that was
//!   never acknowledged left past the acknowledged ends (§Recovery), and says so ([`Store::notes`]).
//!   A commit ([`Store::commit`]) appends the records, their tree hashes and any new key, syncs
//!   them, then appends one commit entry and syncs it: that entry is the acknowledgement.
//! - Derived files (`hashes`, `keys`) that are missing, cut short or do not match the records are
//!   rebuilt from `records` (the writer rewrites them; a reader computes them in memory) and the
//!   rebuild is reported in [`Store::notes`], never refused.
//!
//! What this is not: the rules. Nothing here signs, verifies or decides; everything read from here
//! is untrusted by `relic_ledger::verify`, which also checks every commit entry and every stored
//! hash against the records.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use relic_formats::chain::{ChainState, KeyEntry};
use relic_formats::merkle::{self, Frontier, Hash, HashReader, ReadError};
use relic_formats::record::{link_of, Record};

use crate::error::{io, Error, Result};
use crate::fs::{sync_dir, write_durably};
use crate::group::Group;
use crate::layout::{self, Commit, EntryError, COMMIT_LEN};
use crate::lock::WriterLock;

/// The origin file: the log's name, as record 0 gives it (§Files).
pub const ORIGIN: &str = "origin";
/// The marker of a mirror's log (§Files).
pub const MIRROR: &str = "mirror";
/// How often a reader reads a damaged-looking last commit entry again before calling it damage: a
/// writer may be in the middle of writing it.
const TIP_TRIES: u32 = 25;

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read-only: no lock, no byte changed.
    Read,
    /// The one writer: the directory's lock is held while the store is open.
    Write,
}

/// Where a writer continues from: the log's size, the link the next record carries, the time of
/// the last record (record times never go backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub link: [u8; 32],
    pub last_time_us: i64,
}

/// A checkpoint note with the tree size it was issued at.
pub type SizedNote = (u64, String);

/// An open log directory. Cloning gives another handle on the same open store (the writer
/// thread's).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// The log directory (`<data>/log`).
    dir: PathBuf,
    mode: Mode,
    records: File,
    /// `None` for a reader when the file is missing (derived: computed in memory instead).
    hashes: Option<File>,
    commits: File,
    checkpoints: File,
    origin: String,
    mirror: bool,
    tip: RwLock<Tip>,
    /// A reader's tree hashes when `hashes` could not be used (computed from the records).
    memory_hashes: Option<Vec<Hash>>,
    notes: Vec<String>,
    _lock: Option<WriterLock>,
}

/// The acknowledged state: the last commit entry and what follows from the files up to it.
#[derive(Clone)]
struct Tip {
    commit: Commit,
    /// Commit entries in `commits`.
    entries: u64,
    keys: Vec<KeyEntry>,
    /// Bytes of `keys` holding `keys` (writer).
    keys_len: u64,
    checkpoints: BTreeMap<u64, String>,
}

thread_local! {
    /// The notes of every store opened on this thread since the last [`take_notes`].
    static NOTES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Adds a note for this thread's program to report, as opening a store does: for the other
/// derived data kept beside the log (the view store) when it is rebuilt or bypassed.
pub fn add_note(note: String) {
    NOTES.with(|n| n.borrow_mut().push(note));
}

/// The notes ([`Store::notes`]) of every store opened on this thread since the last call, each
/// once: for a program to report what opening its stores found and did.
pub fn take_notes() -> Vec<String> {
    let mut all = NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
    let mut seen = std::collections::HashSet::new();
    all.retain(|n| seen.insert(n.clone()));
    all
}

fn corrupt(file: &Path, why: impl std::fmt::Display) -> Error {
    Error::Corrupt(format!("{}: {why}", file.display()))
}

/// The log directory of the data directory `data`.
pub fn log_dir(data: &Path) -> PathBuf {
    data.join(layout::DIR)
}

/// True if `data` holds a log of format 4 (whatever its state).
pub fn exists(data: &Path) -> bool {
    log_dir(data).is_dir()
}

/// Where a format-3 (or older) store of `data` lives: `relic migrate` converts it.
pub fn legacy_dir(data: &Path) -> PathBuf {
    data.join("store")
}

impl Store {
    /// Creates the log of `data` holding `group` (records 0 … n − 1, their hashes and key list) as
    /// its first commit. Everything is written into `log.new`, synced, then renamed to `log`: a
    /// crash leaves either no log or a complete one (a leftover `log.new` is removed by the next
    /// creation). `mirror` marks the log as a mirror of another node's.
    pub fn create(data: &Path, origin: &str, group: Group, mirror: bool) -> Result<()> {
        let dir = log_dir(data);
        if dir.exists() || legacy_dir(data).exists() {
            return Err(Error::Exists(data.to_path_buf()));
        }
        std::fs::create_dir_all(data).map_err(io(data))?;
        let _lock = WriterLock::take(&data.join("log.create-lock"), data)?;
        let tmp = data.join("log.new");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        let keys = group.keys.clone().ok_or_else(|| Error::Storage("a new log needs its first key".into()))?;
        let commit = Commit { size: group.size, records_end: group.frames.len() as u64, checkpoints_end: 0, root: group.root };
        let keys_text: String = keys.iter().map(layout::key_line).collect();
        let mut files: Vec<(&str, &[u8])> = vec![
            (layout::FORMAT_FILE, layout::FORMAT),
            (ORIGIN, origin.as_bytes()),
            (layout::RECORDS, &group.frames),
            (layout::HASHES, &group.hashes),
            (layout::CHECKPOINTS, b""),
            (layout::KEYS, keys_text.as_bytes()),
        ];
        let entry = commit.encode();
        files.push((layout::COMMITS, &entry));
        if mirror {
            files.push((MIRROR, b"relic mirror\n"));
        }
        for (name, bytes) in files {
            let p = tmp.join(name);
            let mut f = File::create(&p).map_err(io(&p))?;
            std::io::Write::write_all(&mut f, bytes).map_err(io(&p))?;
            f.sync_all().map_err(io(&p))?;
        }
        File::open(&tmp).and_then(|d| d.sync_all()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &dir).map_err(io(&dir))?;
        sync_dir(&dir)
    }

    /// Opens the log of the data directory `data`. A data directory holding an older store is
    /// [`Error::Migrate`]; one without a log is [`Error::NotFound`].
    pub fn open(data: &Path, mode: Mode) -> Result<Self> {
        let dir = log_dir(data);
        if !dir.is_dir() {
            if legacy_dir(data).exists() {
                return Err(Error::Migrate { found: "format 3 or older (a sled database in store/)".into() });
            }
            return Err(Error::NotFound(data.to_path_buf()));
        }
        let lock = match mode {
            Mode::Write => Some(WriterLock::take(&dir.join(layout::LOCK), data)?),
            Mode::Read => None,
        };
        let format_path = dir.join(layout::FORMAT_FILE);
        let format = std::fs::read(&format_path).map_err(io(&format_path))?;
        if format != layout::FORMAT {
            return Err(corrupt(&format_path, format!("unknown format {:?}", String::from_utf8_lossy(&format).trim_end())));
        }
        let origin_path = dir.join(ORIGIN);
        let origin = std::fs::read(&origin_path).map_err(io(&origin_path))?;
        let origin = String::from_utf8(origin).map_err(|_| corrupt(&origin_path, "not UTF-8"))?;
        let open = |name: &str| -> Result<File> {
            let p = dir.join(name);
            match mode {
                Mode::Read => File::open(&p),
                Mode::Write => OpenOptions::new().read(true).write(true).open(&p),
            }
            .map_err(io(p))
        };
        let (records, commits, checkpoints) = (open(layout::RECORDS)?, open(layout::COMMITS)?, open(layout::CHECKPOINTS)?);
        // Derived: a missing one is rebuilt (a writer writes it whole, a reader computes it in memory).
        let hashes = match open(layout::HASHES) {
            Ok(f) => Some(f),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut notes = Vec::new();
        let commits_path = dir.join(layout::COMMITS);
        let (commit, entries) = read_tip(&commits, &commits_path, mode)?;
        let len = |f: &File, name: &str| f.metadata().map(|m| m.len()).map_err(io(dir.join(name)));
        for (file, name, end) in [(&records, layout::RECORDS, commit.records_end), (&checkpoints, layout::CHECKPOINTS, commit.checkpoints_end)] {
            let have = len(file, name)?;
            if have < end {
                return Err(corrupt(
                    &dir.join(name),
                    format!("holds {have} bytes, but commit entry {} acknowledged {end}: acknowledged data is missing", entries - 1),
                ));
            }
        }
        let cp_path = dir.join(layout::CHECKPOINTS);
        let mut cp_bytes = vec![0u8; commit.checkpoints_end as usize];
        checkpoints.read_exact_at(&mut cp_bytes, 0).map_err(io(&cp_path))?;
        let mut cps = BTreeMap::new();
        for (at, size, note) in layout::checkpoint_frames(&cp_bytes).map_err(|(at, why)| corrupt(&cp_path, format!("the checkpoint at byte {at}: {why}")))? {
            if size > commit.size || cps.insert(size, note).is_some() {
                return Err(corrupt(&cp_path, format!("the checkpoint at byte {at} (size {size}) is out of place")));
            }
        }
        let mirror = dir.join(MIRROR).exists();
        let tip = Tip { commit, entries, keys: Vec::new(), keys_len: 0, checkpoints: cps };
        let mut store = Inner {
            dir: dir.clone(),
            mode,
            records,
            hashes,
            commits,
            checkpoints,
            origin,
            mirror,
            tip: RwLock::new(tip),
            memory_hashes: None,
            notes: Vec::new(),
            _lock: lock,
        };
        if mode == Mode::Write {
            store.recover(&mut notes)?;
        }
        store.load_keys(&mut notes)?;
        store.check_hashes(&mut notes)?;
        NOTES.with(|n| n.borrow_mut().extend(notes.iter().cloned()));
        store.notes = notes;
        Ok(Self { inner: Arc::new(store) })
    }

    /// What opening found and did about it (a cut-off write, a rebuilt file), one line each, for
    /// the caller to report on stderr.
    pub fn notes(&self) -> &[String] {
        &self.inner.notes
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    pub fn origin(&self) -> String {
        self.inner.origin.clone()
    }

    /// True if this is a mirror's log.
    pub fn is_mirror(&self) -> bool {
        self.inner.mirror
    }

    fn tip(&self) -> Tip {
        self.inner.tip.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The last commit entry: what was acknowledged (as of opening, for a reader).
    pub fn commit_entry(&self) -> Commit {
        self.inner.tip.read().unwrap_or_else(|p| p.into_inner()).commit
    }

    /// Records in the log.
    pub fn size(&self) -> u64 {
        self.commit_entry().size
    }

    /// The key history (a cache of what the records say; `relic_ledger::verify` compares them).
    pub fn keys(&self) -> Vec<KeyEntry> {
        self.inner.tip.read().unwrap_or_else(|p| p.into_inner()).keys.clone()
    }

    /// Where a writer continues from (reads the last record).
    pub fn head(&self) -> Result<Head> {
        let size = self.size();
        let last = self.record_bytes(size - 1)?.ok_or_else(|| corrupt(&self.path(layout::RECORDS), format!("record {} is missing", size - 1)))?;
        let rec = Record::decode(&last).map_err(|e| corrupt(&self.path(layout::RECORDS), format!("record {}: {e}", size - 1)))?;
        Ok(Head { size, link: link_of(&last), last_time_us: rec.time_us })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.inner.dir.join(name)
    }

    /// Commit entry `i`.
    pub fn entry(&self, i: u64) -> Result<Commit> {
        let mut b = [0u8; COMMIT_LEN];
        let p = self.path(layout::COMMITS);
        self.inner.commits.read_exact_at(&mut b, i * COMMIT_LEN as u64).map_err(io(&p))?;
        Commit::decode(&b).map_err(|e| corrupt(&p, format!("commit entry {i} (bytes {}..{}) is {}", i * 64, i * 64 + 64, entry_why(&e))))
    }

    /// Commit entries in the log.
    pub fn entries(&self) -> u64 {
        self.inner.tip.read().unwrap_or_else(|p| p.into_inner()).entries
    }

    /// Where record `seq`'s frame starts in `records`: the commit entry before it gives a frame
    /// boundary, and the frames from there are skipped by their lengths.
    pub fn record_offset(&self, seq: u64) -> Result<u64> {
        let tip = self.tip();
        let (mut lo, mut hi) = (0u64, tip.entries);
        // The last entry whose size is at most `seq`.
        let mut start = (0u64, 0u64);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry(mid)?;
            if e.size <= seq {
                start = (e.size, e.records_end);
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let (mut at_seq, mut at) = start;
        let p = self.path(layout::RECORDS);
        while at_seq < seq {
            let mut len = [0u8; 4];
            self.inner.records.read_exact_at(&mut len, at).map_err(io(&p))?;
            at += 4 + u32::from_be_bytes(len) as u64;
            at_seq += 1;
        }
        Ok(at)
    }

    /// Record `seq`'s exact bytes, if the log holds it.
    pub fn record_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>> {
        let tip = self.tip();
        if seq >= tip.commit.size {
            return Ok(None);
        }
        let at = self.record_offset(seq)?;
        let p = self.path(layout::RECORDS);
        let mut len = [0u8; 4];
        self.inner.records.read_exact_at(&mut len, at).map_err(io(&p))?;
        let len = u32::from_be_bytes(len);
        if len == 0 || len > layout::MAX_RECORD || at + 4 + len as u64 > tip.commit.records_end {
            return Err(corrupt(&p, format!("record {seq} at byte {at}: its length {len} is out of range")));
        }
        let mut b = vec![0u8; len as usize];
        self.inner.records.read_exact_at(&mut b, at + 4).map_err(io(&p))?;
        Ok(Some(b))
    }

    /// Every record from `from` to the end of the log, in order, with its number.
    pub fn records(&self, from: u64) -> Records {
        let tip = self.tip();
        let path = self.path(layout::RECORDS);
        let start = if from >= tip.commit.size { Ok(tip.commit.records_end) } else { self.record_offset(from) };
        Records::open(path, from, start, &tip.commit)
    }

    /// The tree hashes as stored in `hashes`, from stored hash index `from` on (verification reads
    /// them in order and compares each with the one it computes); `None` if the file is missing
    /// (derived: the next writer writes it again).
    pub fn stored_hashes(&self, from: u64) -> Result<Option<BufReader<File>>> {
        let p = self.path(layout::HASHES);
        let mut f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&p)(e)),
        };
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(from * 32)).map_err(io(&p))?;
        Ok(Some(BufReader::with_capacity(1 << 16, f)))
    }

    /// The length of a file of the log directory.
    pub fn file_len(&self, name: &str) -> Result<u64> {
        let p = self.path(name);
        std::fs::metadata(&p).map(|m| m.len()).map_err(io(p))
    }

    pub fn checkpoint_note(&self, size: u64) -> Result<Option<String>> {
        Ok(self.inner.tip.read().unwrap_or_else(|p| p.into_inner()).checkpoints.get(&size).cloned())
    }

    /// The stored checkpoint with the largest size `<= size`, and the one with the smallest size `>= size`.
    pub fn checkpoint_neighbours(&self, size: u64) -> Result<(Option<SizedNote>, Option<SizedNote>)> {
        let tip = self.inner.tip.read().unwrap_or_else(|p| p.into_inner());
        let below = tip.checkpoints.range(..=size).next_back().map(|(s, n)| (*s, n.clone()));
        let above = tip.checkpoints.range(size..).next().map(|(s, n)| (*s, n.clone()));
        Ok((below, above))
    }

    /// Every stored checkpoint note from size `from` on, with its size, in order of size.
    pub fn checkpoints(&self, from: u64) -> Vec<SizedNote> {
        let tip = self.inner.tip.read().unwrap_or_else(|p| p.into_inner());
        tip.checkpoints.range(from..).map(|(s, n)| (*s, n.clone())).collect()
    }

    /// Stores the signed checkpoint note issued at `size` (writer): its frame is appended and
    /// synced, then a commit entry that acknowledges it.
    pub fn put_checkpoint(&self, size: u64, note: &str) -> Result<()> {
        self.writable()?;
        let mut tip = self.inner.tip.write().unwrap_or_else(|p| p.into_inner());
        if tip.checkpoints.contains_key(&size) {
            return Ok(());
        }
        let frame = layout::checkpoint_frame(size, note);
        let p = self.path(layout::CHECKPOINTS);
        if frame.len() > 4 + layout::MAX_CHECKPOINT as usize {
            return Err(Error::Storage(format!("a checkpoint note of {} bytes is larger than a checkpoint frame holds", note.len())));
        }
        self.inner.checkpoints.write_all_at(&frame, tip.commit.checkpoints_end).map_err(io(&p))?;
        self.inner.checkpoints.sync_data().map_err(io(&p))?;
        let commit = Commit { checkpoints_end: tip.commit.checkpoints_end + frame.len() as u64, ..tip.commit };
        self.append_entry(&mut tip, commit)?;
        tip.checkpoints.insert(size, note.to_string());
        Ok(())
    }

    fn writable(&self) -> Result<()> {
        match self.inner.mode {
            Mode::Write => Ok(()),
            Mode::Read => Err(Error::Storage("this store was opened for reading".into())),
        }
    }

    /// Appends `commit` to `commits` and syncs it: the acknowledgement.
    fn append_entry(&self, tip: &mut Tip, commit: Commit) -> Result<()> {
        let p = self.path(layout::COMMITS);
        self.inner.commits.write_all_at(&commit.encode(), tip.entries * COMMIT_LEN as u64).map_err(io(&p))?;
        self.inner.commits.sync_data().map_err(io(&p))?;
        tip.commit = commit;
        tip.entries += 1;
        Ok(())
    }

    /// Commits `group` (writer): its record frames, tree hashes and new keys are written after the
    /// acknowledged ends and synced, then its commit entry is appended and synced. When this
    /// returns, all of it is durable; if it fails, nothing of it was acknowledged.
    pub fn commit(&self, group: Group) -> Result<()> {
        self.writable()?;
        let mut tip = self.inner.tip.write().unwrap_or_else(|p| p.into_inner());
        if group.size != tip.commit.size + group.count {
            return Err(Error::Storage(format!(
                "a group of {} records bringing the log to {} does not follow its {} records",
                group.count, group.size, tip.commit.size
            )));
        }
        let (rp, hp, kp) = (self.path(layout::RECORDS), self.path(layout::HASHES), self.path(layout::KEYS));
        self.inner.records.write_all_at(&group.frames, tip.commit.records_end).map_err(io(&rp))?;
        let hashes_at = merkle::stored_hash_count(tip.commit.size) * 32;
        let hashes = self.inner.hashes.as_ref().ok_or_else(|| Error::Storage("no hashes file".into()))?;
        hashes.write_all_at(&group.hashes, hashes_at).map_err(io(&hp))?;
        let mut new_keys = None;
        if let Some(keys) = &group.keys {
            if keys.len() > tip.keys.len() {
                let text: String = keys[tip.keys.len()..].iter().map(layout::key_line).collect();
                let f = OpenOptions::new().write(true).open(&kp).map_err(io(&kp))?;
                f.write_all_at(text.as_bytes(), tip.keys_len).map_err(io(&kp))?;
                f.sync_data().map_err(io(&kp))?;
                new_keys = Some((keys.clone(), tip.keys_len + text.len() as u64));
            }
        }
        // Files before the records that name them: one syncfs makes all of them durable, with the
        // frames and hashes just written (it reports write-back errors on that file system since
        // Linux 5.8); without such files, the two log files are synced on their own.
        if group.files.is_empty() {
            self.inner.records.sync_data().map_err(io(&rp))?;
            hashes.sync_data().map_err(io(&hp))?;
        } else {
            crate::fs::sync_files(&self.inner.records, &rp, &group.files)?;
        }
        // A checkpoint the same commit acknowledges (a key rotation's): its frame is durable before
        // the commit entry, like the records.
        let mut checkpoints_end = tip.commit.checkpoints_end;
        if let Some((size, note)) = &group.checkpoint {
            let frame = layout::checkpoint_frame(*size, note);
            let cp = self.path(layout::CHECKPOINTS);
            if frame.len() > 4 + layout::MAX_CHECKPOINT as usize || *size > group.size || tip.checkpoints.contains_key(size) {
                return Err(Error::Storage(format!("the checkpoint at size {size} cannot be committed with this group")));
            }
            self.inner.checkpoints.write_all_at(&frame, checkpoints_end).map_err(io(&cp))?;
            self.inner.checkpoints.sync_data().map_err(io(&cp))?;
            checkpoints_end += frame.len() as u64;
        }
        let commit = Commit { size: group.size, records_end: tip.commit.records_end + group.frames.len() as u64, checkpoints_end, root: group.root };
        self.append_entry(&mut tip, commit)?;
        if let Some((keys, len)) = new_keys {
            tip.keys = keys;
            tip.keys_len = len;
        }
        if let Some((size, note)) = group.checkpoint {
            tip.checkpoints.insert(size, note);
        }
        Ok(())
    }

    /// The publish cursor (`published`): records a broker acknowledged, 0 if never set.
    pub fn published(&self) -> Result<u64> {
        let p = self.path(layout::PUBLISHED);
        match std::fs::read(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io(&p)(e)),
            Ok(b) => {
                let b: [u8; 8] = b.as_slice().try_into().map_err(|_| corrupt(&p, "the publish cursor is not 8 bytes"))?;
                Ok(u64::from_be_bytes(b))
            }
        }
    }

    /// Durably sets the publish cursor (written whole, through a rename).
    pub fn set_published(&self, n: u64) -> Result<()> {
        write_durably(&self.path(layout::PUBLISHED), &n.to_be_bytes(), None)
    }
}

impl Inner {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// §Recovery: cuts every file back to what the last commit entry acknowledged, and reports what
    /// it cut.
    fn recover(&mut self, notes: &mut Vec<String>) -> Result<()> {
        let tip = self.tip.get_mut().unwrap_or_else(|p| p.into_inner()).clone();
        let ends = [
            (layout::COMMITS, tip.entries * COMMIT_LEN as u64),
            (layout::RECORDS, tip.commit.records_end),
            (layout::CHECKPOINTS, tip.commit.checkpoints_end),
            (layout::HASHES, merkle::stored_hash_count(tip.commit.size) * 32),
        ];
        for (name, end) in ends {
            let file = match name {
                layout::COMMITS => &self.commits,
                layout::RECORDS => &self.records,
                layout::CHECKPOINTS => &self.checkpoints,
                _ => match &self.hashes {
                    Some(f) => f,
                    None => continue,
                },
            };
            let p = self.path(name);
            let have = file.metadata().map_err(io(&p))?.len();
            if have > end {
                file.set_len(end).map_err(io(&p))?;
                file.sync_all().map_err(io(&p))?;
                if name != layout::HASHES {
                    notes.push(format!(
                        "{}: removed {} bytes past the acknowledged end (a write that was never acknowledged)",
                        p.display(),
                        have - end
                    ));
                }
            }
        }
        Ok(())
    }

    /// Loads the key list (`keys`): the entries for records the log holds. Missing or malformed, it
    /// is rebuilt from the records (rewritten by a writer).
    fn load_keys(&mut self, notes: &mut Vec<String>) -> Result<()> {
        let p = self.path(layout::KEYS);
        let size = self.tip.get_mut().unwrap_or_else(|p| p.into_inner()).commit.size;
        let text = match std::fs::read(&p) {
            Ok(b) => String::from_utf8(b).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&p)(e)),
        };
        let parsed = text.as_deref().and_then(layout::parse_keys).map(|keys| keys.into_iter().filter(|k| k.from_seq <= size).collect::<Vec<_>>());
        // A list of another log (copied in, say) is caught by its first key: record 0 names it.
        // (Record 0 that does not decode is verification's to name, not a reason to rebuild.)
        let first_key = self.first_key();
        let parsed = parsed.filter(|k| !k.is_empty() && k[0].from_seq == 0);
        let fits = parsed.as_ref().is_some_and(|k| first_key.as_ref().is_none_or(|f| *f == k[0].key.to_string()));
        let keys = match parsed {
            Some(k) if fits => k,
            parsed => match self.keys_from_records() {
                Ok(k) => {
                    notes.push(format!("{}: missing, unreadable or not this log's; rebuilt from the records", p.display()));
                    k
                }
                // The records themselves do not replay: keep the list there is, for verification
                // to name the record.
                Err(e) => parsed.ok_or(e)?,
            },
        };
        let text: String = keys.iter().map(layout::key_line).collect();
        if self.mode == Mode::Write && std::fs::read(&p).ok().as_deref() != Some(text.as_bytes()) {
            write_durably(&p, text.as_bytes(), None)?;
        }
        let tip = self.tip.get_mut().unwrap_or_else(|p| p.into_inner());
        tip.keys_len = text.len() as u64;
        tip.keys = keys;
        Ok(())
    }

    /// The key record 0 introduces (`None` if record 0 does not decode: verification names that).
    fn first_key(&self) -> Option<String> {
        let (_, b) = self.record_frames().next()?.ok()?;
        Record::decode(&b).ok().and_then(|r| r.payload_json().get("key").and_then(|k| k.as_str()).map(str::to_string))
    }

    /// The key history, from the records themselves (the chain rules, without signatures).
    fn keys_from_records(&self) -> Result<Vec<KeyEntry>> {
        let mut chain = ChainState::genesis(&self.origin);
        let p = self.path(layout::RECORDS);
        for item in self.record_frames() {
            let (seq, bytes) = item?;
            let rec = Record::decode(&bytes).map_err(|e| corrupt(&p, format!("record {seq}: {e}")))?;
            chain.advance(&rec, &bytes).map_err(|e| corrupt(&p, format!("record {seq}: {e}")))?;
        }
        Ok(chain.keys)
    }

    /// Every acknowledged record from record 0 on.
    fn record_frames(&self) -> Records {
        let commit = self.tip.read().unwrap_or_else(|p| p.into_inner()).commit;
        Records::open(self.path(layout::RECORDS), 0, Ok(0), &commit)
    }

    /// Checks `hashes` cheaply (its length, and the tree head it gives against the commit entry's);
    /// if it fails, the hashes are computed from the records: written back by a writer, kept in
    /// memory by a reader.
    fn check_hashes(&mut self, notes: &mut Vec<String>) -> Result<()> {
        let commit = self.tip.get_mut().unwrap_or_else(|p| p.into_inner()).commit;
        let p = self.path(layout::HASHES);
        let want = merkle::stored_hash_count(commit.size) * 32;
        let why = match &self.hashes {
            None => Some("is missing".to_string()),
            Some(f) => {
                let have = f.metadata().map_err(io(&p))?.len();
                if have < want {
                    Some(format!("holds {have} bytes, {want} expected"))
                } else {
                    match merkle::tree_hash(commit.size, &FileHashes { file: f, count: want / 32 }) {
                        Ok(root) if root == commit.root => None,
                        Ok(_) => Some("does not give the acknowledged tree head".to_string()),
                        Err(e) => Some(e.to_string()),
                    }
                }
            }
        };
        let Some(why) = why else { return Ok(()) };
        let mut all = Vec::with_capacity((want / 32) as usize);
        let mut frontier = Frontier::new();
        for item in self.record_frames() {
            let (_, bytes) = item?;
            all.extend(frontier.push(merkle::leaf_hash(&bytes)));
        }
        if frontier.root() != commit.root {
            let records = self.path(layout::RECORDS);
            return Err(corrupt(&records, format!("the records do not give the tree head the last commit entry acknowledged at size {}", commit.size)));
        }
        match self.mode {
            Mode::Write => {
                // Written aside and renamed over it: a reader sees the old file or the new one,
                // and a crash leaves one of the two.
                let bytes: Vec<u8> = all.iter().flatten().copied().collect();
                write_durably(&p, &bytes, None)?;
                self.hashes = Some(OpenOptions::new().read(true).write(true).open(&p).map_err(io(&p))?);
                notes.push(format!("{}: {why}; rebuilt from the records", p.display()));
            }
            Mode::Read => {
                notes.push(format!("{}: {why}; computed from the records for this command (the next writer rebuilds it)", p.display()));
                self.memory_hashes = Some(all);
            }
        }
        Ok(())
    }
}

fn entry_why(e: &EntryError) -> &'static str {
    match e {
        EntryError::Zero => "all zeros",
        EntryError::Damaged => "damaged (its check value does not match)",
    }
}

/// Reads the last commit entry (§Readers): the last complete entry that is not all zeros. Returns
/// it and the number of entries up to it. A damaged last entry may be
/// one a writer is writing at this moment: a reader reads it again for a while before calling it
/// damage.
fn read_tip(commits: &File, path: &Path, mode: Mode) -> Result<(Commit, u64)> {
    let tries = if mode == Mode::Read { TIP_TRIES } else { 1 };
    let mut last_err = None;
    for attempt in 0..tries {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let len = commits.metadata().map_err(io(path))?.len();
        let mut n = len / COMMIT_LEN as u64;
        loop {
            if n == 0 {
                return Err(corrupt(path, "holds no commit entry: nothing was ever acknowledged"));
            }
            let mut b = [0u8; COMMIT_LEN];
            commits.read_exact_at(&mut b, (n - 1) * COMMIT_LEN as u64).map_err(io(path))?;
            match Commit::decode(&b) {
                Ok(c) => return Ok((c, n)),
                Err(EntryError::Zero) => n -= 1,
                Err(e @ EntryError::Damaged) => {
                    last_err = Some(corrupt(path, format!("commit entry {} (bytes {}..{}) is {}", n - 1, (n - 1) * 64, n * 64, entry_why(&e))));
                    break;
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| corrupt(path, "unreadable")))
}

/// Tree hashes read from a `hashes` file holding `count` of them.
struct FileHashes<'a> {
    file: &'a File,
    count: u64,
}

impl HashReader for FileHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ReadError> {
        indexes
            .iter()
            .map(|&i| {
                if i >= self.count {
                    return Err(format!("stored hash {i} is past the acknowledged end of the tree").into());
                }
                let mut h = [0u8; 32];
                self.file.read_exact_at(&mut h, i * 32).map_err(|e| ReadError::from(format!("stored hash {i}: {e}")))?;
                Ok(h)
            })
            .collect()
    }
}

impl HashReader for Store {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, ReadError> {
        let count = merkle::stored_hash_count(self.size());
        if let Some(all) = &self.inner.memory_hashes {
            return indexes
                .iter()
                .map(|&i| all.get(i as usize).copied().filter(|_| i < count).ok_or_else(|| format!("stored hash {i} is past the end of the tree").into()))
                .collect();
        }
        match &self.inner.hashes {
            Some(file) => FileHashes { file, count }.read_hashes(indexes),
            None => Err("log/hashes is missing".to_string().into()),
        }
    }
}

/// Every record from a position on, in order, read from `records` through one buffer; stops at the
/// acknowledged end. A frame that is not one is an error naming the file, the record and the byte.
pub struct Records {
    reader: Option<BufReader<File>>,
    next: u64,
    end: u64,
    at: u64,
    records_end: u64,
    path: PathBuf,
    failed: Option<Error>,
}

impl Records {
    /// Reads `path` from byte `at` (where record `from` starts) to the end `commit` acknowledged.
    fn open(path: PathBuf, from: u64, at: Result<u64>, commit: &Commit) -> Self {
        let reader = at.and_then(|at| {
            let mut f = File::open(&path).map_err(io(&path))?;
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(at)).map_err(io(&path))?;
            Ok((BufReader::with_capacity(1 << 20, f), at))
        });
        let (end, records_end) = (commit.size, commit.records_end);
        match reader {
            Ok((r, at)) => Records { reader: Some(r), next: from, end, at, records_end, path, failed: None },
            Err(e) => Records { reader: None, next: from, end, at: 0, records_end, path, failed: Some(e) },
        }
    }

    fn fail(&mut self, why: String) -> Option<Result<(u64, Vec<u8>)>> {
        self.reader = None;
        Some(Err(corrupt(&self.path, format!("record {} at byte {}: {why}", self.next, self.at))))
    }
}

impl Iterator for Records {
    type Item = Result<(u64, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        if self.next >= self.end {
            return None;
        }
        let reader = self.reader.as_mut()?;
        let mut len = [0u8; 4];
        if let Err(e) = reader.read_exact(&mut len) {
            return self.fail(format!("cannot read its length: {e}"));
        }
        let len = u32::from_be_bytes(len);
        if len == 0 || len > layout::MAX_RECORD || self.at + 4 + len as u64 > self.records_end {
            return self.fail(format!("its length {len} is out of range (the acknowledged records end at byte {})", self.records_end));
        }
        let mut b = vec![0u8; len as usize];
        if let Err(e) = reader.read_exact(&mut b) {
            return self.fail(format!("cannot read it: {e}"));
        }
        let seq = self.next;
        self.next += 1;
        self.at += 4 + len as u64;
        if self.next == self.end && self.at != self.records_end {
            let (at, end) = (self.at, self.records_end);
            self.reader = None;
            return Some(Err(corrupt(&self.path, format!("the last record ends at byte {at}, but the acknowledged records end at byte {end}"))));
        }
        Some(Ok((seq, b)))
    }
}
