//! The incremental view store: the domain state and the audit trail as of `applied` records, kept
//! in their own sled database at `<data>/views`, separate from the log so that they can be dropped
//! and rebuilt at will.
//!
//! Changes are kept as segments, like a log-structured store: each save writes one segment that
//! holds every entity a batch of records changed (a project without its releases, a release, an
//! internal release, a change made during a freeze, a refused attempt, a block of mutation counts),
//! one postcard-encoded entry per entity, with no value for one that was deleted. Loading reads the
//! segments in order, later ones overriding earlier ones. When the segments hold more than twice
//! as many entries as there are live entities, the next save writes one segment with every live
//! entity instead and drops the others, so the store stays within a constant factor of the state's
//! size and each save costs what its batch changed.
//!
//! A segment is a file of its own, `segments/<applied, 20 digits>.seg` inside the sled directory;
//! sled holds its length and BLAKE3, so that loading refuses a damaged one. sled is not given the
//! segments themselves: a sled insert costs 20–30 µs here (too much for one row per entity), and
//! sled rewrites a leaf's large values together when it consolidates the leaf, which wrote 617 MB
//! of blobs for 176 MB of segments in a rebuild of 1,000,000 events.
//!
//! | key                    | value                                                      |
//! |------------------------|------------------------------------------------------------|
//! | `mformat`              | `relic-views/5`                                            |
//! | `mapplied`             | records applied (u64 BE)                                   |
//! | `mroot`                | the log's tree head at `applied` (32 bytes)                |
//! | `mglobals`             | id counters and the refusal count (JSON)                   |
//! | `mentries`             | entries in all segments (u64 BE)                           |
//! | `mverified`            | where verification of the log stopped (`report`)           |
//! | `s` + applied (u64 BE) | the segment file's length (u64 BE) and BLAKE3 (32 bytes)   |
//!
//! Records are applied in batches; after each batch its segment file is written and fsynced (under
//! a temporary name, then renamed), then the sled batch that refers to it, with the applied count
//! and the tree head, is applied and flushed: that flush is the commit. A crash before it leaves a
//! file nothing refers to, which the next open removes; a crash after it, before the files of
//! replaced segments are removed, leaves those, removed the same way. The next run resumes from the
//! stored `applied` and applies each record exactly once. `rebuild` deletes the store and starts
//! again from record 0; a store of another format is deleted the same way when opened, since
//! everything in it can be derived again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use relic_domain::event::{Event, Finding};
use relic_domain::feed::{self, FeedError};
use relic_domain::state::{Internal, Project, Release, State};
use relic_ledger::{Ledger, Record};
use serde_json::json;

use crate::audit::{Audit, Block, FrozenChange, Refused};
use crate::views::ViewError;

const FORMAT: &[u8] = b"relic-views/5";
const KEY_FORMAT: &[u8] = b"mformat";
const KEY_APPLIED: &[u8] = b"mapplied";
/// The tree head at `applied`: ties the stored state to the log it was derived from.
const KEY_ROOT: &[u8] = b"mroot";
const KEY_GLOBALS: &[u8] = b"mglobals";
const KEY_ENTRIES: &[u8] = b"mentries";
pub(crate) const KEY_VERIFIED: &[u8] = b"mverified";
/// Records applied between two writes.
pub const DEFAULT_BATCH: u64 = 50_000;

/// Where the view store of the ledger in `data` lives.
pub fn path(data: &Path) -> PathBuf {
    data.join("views")
}

/// Everything the views and reports are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Views {
    pub state: State,
    pub audit: Audit,
}

impl Views {
    /// Applies one record, with its decoded event or the finding that says why it has none.
    /// Returns what the audit trail gained.
    pub fn apply(&mut self, rec: &Record, event: Option<Event>, finding: Option<Finding>) -> crate::audit::Added {
        let added = self.audit.observe(&self.state, rec, event.as_ref(), finding);
        self.state.apply_decoded(rec, event);
        added
    }
}

pub struct ViewStore {
    db: sled::Db,
    dir: PathBuf,
    /// Segment entries allowed beyond twice the live entities before a save compacts.
    slack: u64,
}

/// The default of [`ViewStore::with_compaction_slack`].
pub const COMPACTION_SLACK: u64 = 10_000;

/// Opens the sled database in `dir`, waiting up to 3 s for another relic process that has it open
/// (sled holds an exclusive lock) to finish. The inner result is sled's own verdict on the files.
fn open_db(dir: &Path) -> Result<Result<sled::Db, sled::Error>, ViewError> {
    let cfg = sled::Config::new().path(dir).cache_capacity(64 << 20).mode(sled::Mode::HighThroughput).flush_every_ms(None);
    let start = std::time::Instant::now();
    loop {
        match cfg.open() {
            Ok(db) => return Ok(Ok(db)),
            Err(sled::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock || e.to_string().contains("could not acquire lock") => {
                if start.elapsed() > std::time::Duration::from_secs(3) {
                    return Err(storage(format!("{} is in use by another relic process; try again when it has finished", dir.display())));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

fn storage(e: impl std::fmt::Display) -> ViewError {
    ViewError::Invalid(format!("view store: {e}"))
}

fn seq_key(prefix: u8, n: u64) -> Vec<u8> {
    let mut k = vec![prefix];
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// One entry of a segment, as written (borrowing the state).
#[derive(serde::Serialize)]
enum EntryRef<'a> {
    P { k: &'a str, v: Option<&'a Project> },
    R { p: &'a str, k: &'a str, v: Option<&'a Release> },
    I { k: &'a str, v: Option<&'a Internal> },
    F { v: &'a FrozenChange },
    D { v: &'a Refused },
    B { k: u64, v: &'a Block },
    U { v: &'a Finding },
}

/// One entry of a segment, as read.
#[derive(serde::Deserialize)]
enum Entry {
    P { k: String, v: Option<Project> },
    R { p: String, k: String, v: Option<Release> },
    I { k: String, v: Option<Box<Internal>> },
    F { v: FrozenChange },
    D { v: Refused },
    B { k: u64, v: Block },
    U { v: Finding },
}

fn push_entry(out: &mut Vec<u8>, e: &EntryRef) -> Result<(), ViewError> {
    let bytes = std::mem::take(out);
    *out = postcard::to_extend(e, bytes).map_err(storage)?;
    Ok(())
}

fn segment_dir(dir: &Path) -> PathBuf {
    dir.join("segments")
}

fn segment_path(dir: &Path, applied: u64) -> PathBuf {
    segment_dir(dir).join(format!("{applied:020}.seg"))
}

/// The applied count a segment file is named after (`None` for any other file name).
fn segment_number(name: &std::ffi::OsStr) -> Option<u64> {
    let name = name.to_str()?.strip_suffix(".seg")?;
    (name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit())).then(|| name.parse().ok()).flatten()
}

/// The applied count in a segment's sled key (`s` + u64 BE).
fn segment_key_number(key: &[u8]) -> Result<u64, ViewError> {
    key.get(1..).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes).ok_or_else(|| storage("a segment key of the wrong length"))
}

/// What sled keeps of a segment: its length and BLAKE3.
fn segment_meta(bytes: &[u8]) -> Vec<u8> {
    let mut meta = Vec::with_capacity(40);
    meta.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    meta.extend_from_slice(blake3::hash(bytes).as_bytes());
    meta
}

/// One save, for the writer thread: the segment file it adds (if the batch changed anything), the
/// sled batch that commits it, and the segments it replaces (their keys are already removed in
/// `batch`; their files go once the batch is on disk).
struct Save {
    segment: Option<(u64, Vec<u8>)>,
    batch: sled::Batch,
    obsolete: Vec<u64>,
}

/// Writes a save in the order that makes each step safe to interrupt (module doc).
fn write_save(db: &sled::Db, dir: &Path, save: Save) -> Result<(), String> {
    let Save { segment, mut batch, obsolete } = save;
    let io = |what: &str, path: &Path, e: std::io::Error| format!("{what} {}: {e}", path.display());
    if let Some((applied, bytes)) = segment {
        use std::io::Write;
        let segments = segment_dir(dir);
        std::fs::create_dir_all(&segments).map_err(|e| io("cannot create", &segments, e))?;
        let path = segment_path(dir, applied);
        let tmp = path.with_extension("seg.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("cannot create", &tmp, e))?;
        f.write_all(&bytes).and_then(|()| f.sync_all()).map_err(|e| io("cannot write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("cannot rename", &tmp, e))?;
        std::fs::File::open(&segments).and_then(|d| d.sync_all()).map_err(|e| io("cannot sync", &segments, e))?;
        batch.insert(seq_key(b's', applied), segment_meta(&bytes));
    }
    db.apply_batch(batch).map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    for applied in obsolete {
        let path = segment_path(dir, applied);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot remove", &path, e)),
        }
    }
    Ok(())
}

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>, ViewError> {
    serde_json::to_vec(v).map_err(storage)
}

fn from_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ViewError> {
    serde_json::from_slice(bytes).map_err(|e| storage(format!("unreadable row {:?}: {e}; run `relic projections rebuild`", String::from_utf8_lossy(key))))
}

/// The rows a batch of records changed.
#[derive(Debug, Default)]
struct Dirty {
    projects: BTreeSet<String>,
    /// Project → tags.
    releases: BTreeMap<String, BTreeSet<String>>,
    internals: BTreeSet<String>,
    frozen_from: usize,
    refused_from: usize,
    findings_from: usize,
    blocks: BTreeSet<u64>,
}

impl Dirty {
    fn touch(&mut self, event: &Event) {
        let p = |set: &mut BTreeSet<String>, k: &str| {
            if !set.contains(k) {
                set.insert(k.to_string());
            }
        };
        match event {
            Event::ProjectRegistered(e) => p(&mut self.projects, &e.project),
            Event::MemberRoleSet(e) => p(&mut self.projects, &e.project),
            Event::ProtectedTagSet(e) => p(&mut self.projects, &e.project),
            Event::ProtectedTagRemoved(e) => p(&mut self.projects, &e.project),
            Event::TagRecorded(e) => p(&mut self.projects, &e.project),
            Event::MilestoneRecorded(e) => p(&mut self.projects, &e.project),
            Event::FreezeCreated(e) => p(&mut self.projects, &e.project),
            Event::FreezeUpdated(e) => p(&mut self.projects, &e.project),
            Event::FreezeDeleted(e) => p(&mut self.projects, &e.project),
            Event::ReleaseCreated(e) => self.release(&e.project, &e.tag_name),
            Event::ReleaseUpdated(e) => self.release(&e.project, &e.tag_name),
            Event::ReleaseDeleted(e) => self.release(&e.project, &e.tag_name),
            Event::LinkAdded(e) => self.release(&e.project, &e.tag_name),
            Event::LinkUpdated(e) => self.release(&e.project, &e.tag_name),
            Event::LinkDeleted(e) => self.release(&e.project, &e.tag_name),
            Event::EvidenceCollected(e) => self.release(&e.project, &e.tag_name),
            Event::AccessDenied(_) => {}
            Event::InternalDetected(e) => p(&mut self.internals, &e.id),
            Event::InternalPrepared(e) => p(&mut self.internals, &e.id),
            Event::InternalRemediated(e) => p(&mut self.internals, &e.id),
            Event::InternalBackported(e) => p(&mut self.internals, &e.id),
            Event::InternalReleased(e) => p(&mut self.internals, &e.id),
            Event::InternalFinalized(e) => p(&mut self.internals, &e.id),
            Event::InternalDisclosed(e) => p(&mut self.internals, &e.id),
        }
    }

    fn release(&mut self, project: &str, tag: &str) {
        match self.releases.get_mut(project) {
            Some(tags) if tags.contains(tag) => {}
            Some(tags) => drop(tags.insert(tag.to_string())),
            None => drop(self.releases.insert(project.to_string(), BTreeSet::from([tag.to_string()]))),
        }
    }
}

/// Views being brought forward record by record, with what changed since they were last written.
pub struct Updater<'a> {
    store: &'a ViewStore,
    views: Views,
    dirty: Dirty,
    writer: Writer,
    /// The stored segments (by applied count) and their total entries, kept here rather than read
    /// back, since the last batch may still be on its way to disk.
    segments: Vec<u64>,
    entries: u64,
    /// The log's tree head at the applied count, as last saved.
    root: Option<relic_ledger::merkle::Hash>,
}

/// Writes saved batches on a thread of its own, in order, so that applying the next records
/// overlaps the flush of the last batches. At most two batches wait.
#[derive(Default)]
struct Writer {
    tx: Option<std::sync::mpsc::SyncSender<Save>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl Writer {
    fn send(&mut self, store: &ViewStore, save: Save) -> Result<(), ViewError> {
        if self.tx.is_none() {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Save>(2);
            let (db, dir) = (store.db.clone(), store.dir.clone());
            self.thread = Some(std::thread::spawn(move || {
                for save in rx {
                    write_save(&db, &dir, save)?;
                }
                Ok(())
            }));
            self.tx = Some(tx);
        }
        match self.tx.as_ref().map(|tx| tx.send(save)) {
            Some(Ok(())) => Ok(()),
            // The writer stopped: its error says why.
            _ => self.wait(),
        }
    }

    /// Waits until everything sent is on disk.
    fn wait(&mut self) -> Result<(), ViewError> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(storage(e)),
            Some(Err(_)) => Err(storage("the writer thread panicked")),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

impl Updater<'_> {
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// Applies every record of `ledger` past these views, `batch` at a time, saving after each
    /// batch. Refuses a log these views were not derived from (another tree head at the applied
    /// count) and one shorter than what they applied.
    pub fn catch_up(&mut self, ledger: &Ledger, batch: u64) -> Result<(), ViewError> {
        let applied = self.views.state.size;
        let end = ledger.size();
        if applied > end {
            return Err(ViewError::Invalid(format!("view store has applied {applied} records but the log holds {end}; run `relic projections rebuild`")));
        }
        if applied > 0 && self.root != Some(ledger.root(applied)?) {
            return Err(ViewError::Invalid("view store was derived from another log; run `relic projections rebuild`".into()));
        }
        if applied == end {
            return Ok(());
        }
        let mut since_save = 0u64;
        feed::replay(ledger, applied, end, |it| {
            self.apply(&it.record, it.event.take(), it.finding.take())?;
            since_save += 1;
            if since_save == batch.max(1) {
                self.save(ledger)?;
                since_save = 0;
            }
            Ok::<_, ViewError>(true)
        })?;
        if since_save > 0 {
            self.save(ledger)?;
        }
        Ok(())
    }

    /// Waits until every save is on disk, and returns the views.
    pub fn finish(mut self) -> Result<Views, ViewError> {
        self.writer.wait()?;
        Ok(std::mem::take(&mut self.views))
    }

    /// Applies the next record (it must be record `views().state.size`).
    pub fn apply(&mut self, rec: &Record, event: Option<Event>, finding: Option<Finding>) -> Result<(), ViewError> {
        if rec.seq != self.views.state.size {
            return Err(ViewError::Invalid(format!("view store: record {} applied after {} records", rec.seq, self.views.state.size)));
        }
        if let Some(e) = &event {
            self.dirty.touch(e);
        }
        let added = self.views.apply(rec, event, finding);
        if let Some(b) = added.block {
            self.dirty.blocks.insert(b);
        }
        Ok(())
    }

    /// Writes a segment with every entity changed since the last save (or, when the segments have
    /// grown past twice the live entities, one with every live entity, replacing them all), then
    /// commits it with the applied count and the log's tree head at that count in one atomic sled
    /// batch, and flushes. The writing happens on a writer thread; [`Updater::finish`] (or dropping
    /// the updater) waits for it.
    pub fn save(&mut self, ledger: &Ledger) -> Result<(), ViewError> {
        let (st, audit) = (&self.views.state, &self.views.audit);
        let d = std::mem::take(&mut self.dirty);
        let live = live_entities(&self.views);
        let changed = (d.projects.len() + d.releases.values().map(BTreeSet::len).sum::<usize>() + d.internals.len() + d.blocks.len()) as u64
            + (audit.frozen.len() - d.frozen_from) as u64
            + (audit.refused.len() - d.refused_from) as u64
            + (audit.findings.len() - d.findings_from) as u64;
        let stored = self.entries;
        let mut batch = sled::Batch::default();
        let mut seg = Vec::new();
        let mut obsolete = Vec::new();
        let entries = if stored + changed > 2 * live + self.store.slack {
            for applied in self.segments.drain(..) {
                batch.remove(seq_key(b's', applied));
                obsolete.push(applied);
            }
            write_all(&mut seg, &self.views)?;
            live
        } else {
            for p in &d.projects {
                push_entry(&mut seg, &EntryRef::P { k: p, v: st.projects.get(p) })?;
            }
            for (p, tags) in &d.releases {
                for t in tags {
                    push_entry(&mut seg, &EntryRef::R { p, k: t, v: st.projects.get(p).and_then(|x| x.releases.get(t)) })?;
                }
            }
            for id in &d.internals {
                push_entry(&mut seg, &EntryRef::I { k: id, v: st.internal.get(id) })?;
            }
            for f in &audit.frozen[d.frozen_from..] {
                push_entry(&mut seg, &EntryRef::F { v: f })?;
            }
            for r in &audit.refused[d.refused_from..] {
                push_entry(&mut seg, &EntryRef::D { v: r })?;
            }
            for f in &audit.findings[d.findings_from..] {
                push_entry(&mut seg, &EntryRef::U { v: f })?;
            }
            for b in &d.blocks {
                if let Some(block) = audit.blocks.get(b) {
                    push_entry(&mut seg, &EntryRef::B { k: *b, v: block })?;
                }
            }
            stored + changed
        };
        // A segment replacing one of the same name (saved twice at one size) is not removed after.
        obsolete.retain(|&a| a != st.size);
        let segment = if seg.is_empty() {
            None
        } else {
            self.segments.push(st.size);
            Some((st.size, seg))
        };
        self.entries = entries;
        let globals = json!({"size": st.size, "last_project_id": st.last_project_id, "last_release_id": st.last_release_id,
            "last_link_id": st.last_link_id, "last_evidence_id": st.last_evidence_id, "last_freeze_id": st.last_freeze_id, "denied": st.denied});
        batch.insert(KEY_GLOBALS, to_json(&globals)?);
        batch.insert(KEY_ENTRIES, &entries.to_be_bytes()[..]);
        batch.insert(KEY_APPLIED, &st.size.to_be_bytes()[..]);
        let root = ledger.root(st.size)?;
        batch.insert(KEY_ROOT, &root[..]);
        batch.insert(KEY_FORMAT, FORMAT);
        self.writer.send(self.store, Save { segment, batch, obsolete })?;
        self.root = Some(root);
        self.dirty = Dirty { frozen_from: audit.frozen.len(), refused_from: audit.refused.len(), findings_from: audit.findings.len(), ..Dirty::default() };
        Ok(())
    }
}

/// Entities the views hold.
fn live_entities(v: &Views) -> u64 {
    let releases: usize = v.state.projects.values().map(|p| p.releases.len()).sum();
    (v.state.projects.len() + releases + v.state.internal.len() + v.audit.frozen.len() + v.audit.refused.len() + v.audit.findings.len() + v.audit.blocks.len()) as u64
}

/// Every live entity, one line each.
fn write_all(seg: &mut Vec<u8>, v: &Views) -> Result<(), ViewError> {
    for (k, p) in &v.state.projects {
        push_entry(seg, &EntryRef::P { k, v: Some(p) })?;
        for (t, r) in &p.releases {
            push_entry(seg, &EntryRef::R { p: k, k: t, v: Some(r) })?;
        }
    }
    for (k, i) in &v.state.internal {
        push_entry(seg, &EntryRef::I { k, v: Some(i) })?;
    }
    for f in &v.audit.frozen {
        push_entry(seg, &EntryRef::F { v: f })?;
    }
    for r in &v.audit.refused {
        push_entry(seg, &EntryRef::D { v: r })?;
    }
    for f in &v.audit.findings {
        push_entry(seg, &EntryRef::U { v: f })?;
    }
    for (k, b) in &v.audit.blocks {
        push_entry(seg, &EntryRef::B { k: *k, v: b })?;
    }
    Ok(())
}

impl ViewStore {
    /// Opens (or creates) the view store of the ledger in `data`. A store written in another
    /// format, or one sled cannot open, is deleted and started again: it is rebuilt from the log on
    /// the next catch-up.
    pub fn open(data: &Path) -> Result<Self, ViewError> {
        let dir = path(data);
        // A store sled cannot open, or of another format, is derived data: start it again.
        if let Ok(db) = open_db(&dir)? {
            if db.get(KEY_FORMAT).ok().flatten().as_deref() == Some(FORMAT) {
                let store = Self { db, dir, slack: COMPACTION_SLACK };
                store.remove_unreferenced_segments()?;
                return Ok(store);
            }
        }
        Self::fresh(dir, COMPACTION_SLACK)
    }

    /// Deletes the store's directory and creates an empty store there: sled does not give back the
    /// space of deleted values quickly, and everything here can be derived again.
    fn fresh(dir: PathBuf, slack: u64) -> Result<Self, ViewError> {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(storage(format!("cannot remove {}: {e}", dir.display()))),
        }
        let db = open_db(&dir)?.map_err(storage)?;
        db.insert(KEY_FORMAT, FORMAT).map_err(storage)?;
        db.flush().map_err(storage)?;
        Ok(Self { db, dir, slack })
    }

    /// Removes segment files (and temporary ones) that no stored segment refers to: what a save
    /// interrupted before its commit, or after it but before removing what it replaced, left.
    fn remove_unreferenced_segments(&self) -> Result<(), ViewError> {
        let segments = segment_dir(&self.dir);
        let listing = match std::fs::read_dir(&segments) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(storage(format!("cannot list {}: {e}", segments.display()))),
        };
        let referenced = self.segment_numbers()?;
        for entry in listing {
            let entry = entry.map_err(|e| storage(format!("cannot list {}: {e}", segments.display())))?;
            if segment_number(&entry.file_name()).is_some_and(|n| referenced.binary_search(&n).is_ok()) {
                continue;
            }
            let path = entry.path();
            if path.is_file() {
                std::fs::remove_file(&path).map_err(|e| storage(format!("cannot remove {}: {e}", path.display())))?;
            }
        }
        Ok(())
    }

    /// The stored segments, by the applied count each was saved at, in order.
    fn segment_numbers(&self) -> Result<Vec<u64>, ViewError> {
        self.db.scan_prefix(b"s").keys().map(|k| segment_key_number(&k.map_err(storage)?)).collect()
    }

    /// Compacts once the segments hold more than twice the live entities plus `slack` entries.
    pub fn with_compaction_slack(mut self, slack: u64) -> Self {
        self.slack = slack;
        self
    }

    /// The number of records the stored views reflect.
    pub fn applied(&self) -> Result<u64, ViewError> {
        Ok(self
            .db
            .get(KEY_APPLIED)
            .map_err(storage)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// The stored views (empty if nothing was applied yet). Segments are parsed on every core and
    /// applied in order.
    pub fn load(&self) -> Result<Views, ViewError> {
        let applied = self.applied()?;
        let mut st = State::default();
        if let Some(g) = self.db.get(KEY_GLOBALS).map_err(storage)? {
            let g: serde_json::Value = from_json(KEY_GLOBALS, &g)?;
            let n = |k: &str| g[k].as_u64().unwrap_or(0);
            if n("size") != applied {
                return Err(ViewError::Invalid("view store: state and applied count disagree; run `relic projections rebuild`".into()));
            }
            (st.size, st.last_project_id, st.last_release_id, st.last_link_id) = (applied, n("last_project_id"), n("last_release_id"), n("last_link_id"));
            (st.last_evidence_id, st.last_freeze_id, st.denied) = (n("last_evidence_id"), n("last_freeze_id"), n("denied"));
        } else if applied != 0 {
            return Err(ViewError::Invalid("view store: applied count without state; run `relic projections rebuild`".into()));
        }
        let mut segments = Vec::new();
        for meta in self.db.scan_prefix(b"s") {
            let (key, meta) = meta.map_err(storage)?;
            let applied = segment_key_number(&key)?;
            let path = segment_path(&self.dir, applied);
            let bytes = std::fs::read(&path).map_err(|e| storage(format!("cannot read {}: {e}; run `relic projections rebuild`", path.display())))?;
            segments.push(Segment { applied, meta, bytes });
        }
        let mut releases: BTreeMap<(String, String), Release> = BTreeMap::new();
        let (mut frozen, mut refused, mut findings) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut audit = Audit::default();
        for entry in parse_segments(&segments)?.into_iter().flatten() {
            match entry {
                Entry::P { k, v: Some(p) } => drop(st.projects.insert(k, p)),
                Entry::P { k, v: None } => drop(st.projects.remove(&k)),
                Entry::R { p, k, v: Some(r) } => drop(releases.insert((p, k), r)),
                Entry::R { p, k, v: None } => drop(releases.remove(&(p, k))),
                Entry::I { k, v: Some(i) } => drop(st.internal.insert(k, *i)),
                Entry::I { k, v: None } => drop(st.internal.remove(&k)),
                Entry::F { v } => drop(frozen.insert(v.seq, v)),
                Entry::D { v } => drop(refused.insert(v.seq, v)),
                Entry::B { k, v } => drop(audit.blocks.insert(k, v)),
                Entry::U { v } => drop(findings.insert(v.seq, v)),
            }
        }
        for ((p, t), r) in releases {
            let project = st.projects.get_mut(&p).ok_or_else(|| storage(format!("release {t} of unknown project {p:?}; run `relic projections rebuild`")))?;
            project.releases.insert(t, r);
        }
        audit.frozen = frozen.into_values().collect();
        audit.refused = refused.into_values().collect();
        audit.findings = findings.into_values().collect();
        Ok(Views { state: st, audit })
    }

    /// Where the last verification of the log stopped, if one was saved and is readable (an
    /// unreadable one is ignored: the next verification starts from record 0).
    pub fn verified(&self) -> Result<Option<relic_ledger::verify::Resume>, ViewError> {
        Ok(self.db.get(KEY_VERIFIED).map_err(storage)?.and_then(|b| relic_ledger::verify::Resume::decode(&b).ok()))
    }

    /// Saves where a successful verification of the log stopped.
    pub fn save_verified(&self, r: &relic_ledger::verify::Resume) -> Result<(), ViewError> {
        self.db.insert(KEY_VERIFIED, r.encode()).map_err(storage)?;
        self.db.flush().map_err(storage)?;
        Ok(())
    }

    /// Starts applying records after the stored views.
    pub fn updater(&self) -> Result<Updater<'_>, ViewError> {
        let views = self.load()?;
        let dirty = Dirty { frozen_from: views.audit.frozen.len(), refused_from: views.audit.refused.len(), ..Dirty::default() };
        let segments = self.segment_numbers()?;
        let entries = self.db.get(KEY_ENTRIES).map_err(storage)?.and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)).unwrap_or(0);
        let root = self.db.get(KEY_ROOT).map_err(storage)?.and_then(|v| v.as_ref().try_into().ok());
        Ok(Updater { store: self, views, dirty, writer: Writer::default(), segments, entries, root })
    }

    /// Applies every record past the stored views, `batch` at a time, saving after each batch.
    /// Returns the up-to-date views.
    pub fn catch_up(&self, ledger: &Ledger, batch: u64) -> Result<Views, ViewError> {
        let mut up = self.updater()?;
        up.catch_up(ledger, batch)?;
        up.finish()
    }

    /// Consumes the store, deletes it, and returns the new one built from record 0.
    pub fn rebuild(self, ledger: &Ledger, batch: u64) -> Result<(ViewStore, Views), ViewError> {
        let Self { db, dir, slack } = self;
        drop(db);
        let store = Self::fresh(dir, slack)?;
        let views = store.catch_up(ledger, batch)?;
        Ok((store, views))
    }
}

/// A stored segment: its file's bytes, and what sled says they are.
struct Segment {
    applied: u64,
    meta: sled::IVec,
    bytes: Vec<u8>,
}

/// Checks a segment against its length and BLAKE3 and decodes its entries.
fn parse_segment(s: &Segment) -> Result<Vec<Entry>, ViewError> {
    let bad = |why: String| storage(format!("segment at {} records {why}; run `relic projections rebuild`", s.applied));
    if s.meta.len() != 40 || s.meta[..8] != (s.bytes.len() as u64).to_be_bytes() || s.meta[8..] != *blake3::hash(&s.bytes).as_bytes() {
        return Err(bad(format!("is damaged: its file is not the {} bytes that were written", s.meta.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes))));
    }
    let mut entries = Vec::new();
    let mut rest = &s.bytes[..];
    while !rest.is_empty() {
        let (entry, tail) = postcard::take_from_bytes::<Entry>(rest).map_err(|e| bad(format!("is unreadable at byte {}: {e}", s.bytes.len() - rest.len())))?;
        entries.push(entry);
        rest = tail;
    }
    Ok(entries)
}

/// Parses segments on every core, keeping their order.
fn parse_segments(segments: &[Segment]) -> Result<Vec<Vec<Entry>>, ViewError> {
    let parse = parse_segment;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8);
    if threads == 1 || segments.len() < 2 {
        return segments.iter().map(parse).collect();
    }
    // Segments vary in size (a compacted one holds everything): split them by bytes.
    let total: usize = segments.iter().map(|s| s.bytes.len()).sum::<usize>().max(1);
    let mut parts: Vec<&[Segment]> = Vec::new();
    let (mut start, mut acc) = (0, 0);
    for (i, s) in segments.iter().enumerate() {
        acc += s.bytes.len();
        if acc * threads >= total * (parts.len() + 1) {
            parts.push(&segments[start..=i]);
            start = i + 1;
        }
    }
    if start < segments.len() {
        parts.push(&segments[start..]);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parts.iter().map(|part| s.spawn(move || part.iter().map(parse).collect::<Result<Vec<_>, _>>())).collect();
        let mut out = Vec::with_capacity(segments.len());
        for h in handles {
            out.extend(h.join().map_err(|_| storage("a segment parser panicked"))??);
        }
        Ok(out)
    })
}

impl From<FeedError> for ViewError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Ledger(e) => ViewError::Ledger(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use relic_domain::decide::Command;
    use relic_domain::service::Service;

    /// A store another process (here: another handle) holds is waited for, then refused by name.
    #[test]
    fn a_store_in_use_is_waited_for_then_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = ViewStore::open(dir.path()).unwrap();
        let held = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(first);
        });
        let second = ViewStore::open(dir.path()).unwrap();
        held.join().unwrap();
        let err = ViewStore::open(dir.path()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("in use by another relic process"), "{err}");
        drop(second);
    }

    /// A store with `n` releases caught up in batches of 1 record, and the service that wrote them.
    fn store_with_releases(dir: &Path, n: usize) -> (Service, ViewStore) {
        relic_domain::service::init_ledger(dir, "store.test/log").unwrap().close();
        let mut svc = Service::open(dir).unwrap();
        let now = Utc::now();
        svc.execute("owner", &Command::RegisterProject { project: "p".into(), name: "P".into(), description: None }, now).unwrap();
        for i in 0..n {
            svc.execute("owner", &Command::create_release("p", &format!("v{i}"), None), now).unwrap();
        }
        let store = ViewStore::open(dir).unwrap();
        store.catch_up(svc.ledger(), 1).unwrap();
        (svc, store)
    }

    fn segment_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(segment_dir(&path(dir))).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Files a save left when it was interrupted (a segment written but never committed, a
    /// temporary file, a replaced segment not yet removed) are removed when the store is opened;
    /// the committed segments stay and read back the same views.
    #[test]
    fn files_an_interrupted_save_left_are_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let (svc, store) = store_with_releases(dir.path(), 3);
        let committed = segment_files(dir.path());
        assert!(committed.len() >= 3, "{committed:?}");
        drop(store);
        let segments = segment_dir(&path(dir.path()));
        for stray in [format!("{:020}.seg", 99), format!("{:020}.seg.tmp", 5), "notes.txt".to_string()] {
            std::fs::write(segments.join(stray), b"left over").unwrap();
        }
        let store = ViewStore::open(dir.path()).unwrap();
        assert_eq!(segment_files(dir.path()), committed);
        assert_eq!(&store.load().unwrap().state, svc.state());
    }

    /// A segment file changed on disk, cut short or gone is refused with its position and the way
    /// out, rather than read as other views.
    #[test]
    fn a_damaged_or_missing_segment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_svc, store) = store_with_releases(dir.path(), 2);
        let last = segment_dir(&path(dir.path())).join(segment_files(dir.path()).pop().unwrap());
        let good = std::fs::read(&last).unwrap();
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        for (bytes, what) in [(flipped, "is damaged"), (good[..good.len() - 1].to_vec(), "is damaged")] {
            std::fs::write(&last, &bytes).unwrap();
            let err = store.load().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(what) && err.contains("relic projections rebuild"), "{err}");
        }
        std::fs::remove_file(&last).unwrap();
        let err = store.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("cannot read") && err.contains(".seg"), "{err}");
        std::fs::write(&last, &good).unwrap();
        assert!(store.load().is_ok());
    }

    /// Saves that keep rewriting the same release compact the segments: the store stays small and
    /// reads back the same views.
    #[test]
    fn segments_are_compacted_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        relic_domain::service::init_ledger(dir.path(), "store.test/log").unwrap().close();
        let mut svc = Service::open(dir.path()).unwrap();
        let now = Utc::now();
        svc.execute("owner", &Command::RegisterProject { project: "p".into(), name: "P".into(), description: None }, now).unwrap();
        svc.execute("owner", &Command::create_release("p", "v1", None), now).unwrap();
        let store = ViewStore::open(dir.path()).unwrap().with_compaction_slack(0);
        let segments = || store.db.scan_prefix(b"s").count();
        let mut most = 0;
        for i in 0..12 {
            let update = Command::UpdateRelease { project: "p".into(), tag_name: "v1".into(), name: Some(format!("n{i}")), description: None, released_at: None, milestones: None };
            svc.execute("owner", &update, now).unwrap();
            let views = store.catch_up(svc.ledger(), 1).unwrap();
            assert_eq!(&views.state, svc.state());
            most = most.max(segments());
        }
        // Three live entities (the project, the release, one block): never more than a few segments.
        assert!(most <= 4, "{most} segments");
        assert_eq!(&store.load().unwrap().state, svc.state());
        // Replaced segments' files are gone too.
        assert_eq!(segment_files(dir.path()).len(), segments());
    }
}
