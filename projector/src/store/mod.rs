//! The incremental view store: the domain state and the audit trail as of `applied` records, kept
//! in their own small key-value store (`relic_store::kv`: one manifest file, replaced whole) and
//! segment files at `<data>/views`, separate from the log so that they can be dropped and rebuilt
//! at will. Writers (the commands that append, `relic projections rebuild`) hold its lock and save;
//! readers ([`ViewStore::open_read`]) take no lock, load what is stored, apply the records after it
//! in memory and write nothing.
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
//! A segment is a file of its own, `segments/<applied, 20 digits>.seg` inside the store's directory;
//! the manifest holds its length and BLAKE3, so that loading refuses a damaged one.
//!
//! | key                    | value                                                      |
//! |------------------------|------------------------------------------------------------|
//! | `mformat`              | `relic-views/6`                                            |
//! | `mapplied`             | records applied (u64 BE)                                   |
//! | `mroot`                | the log's tree head at `applied` (32 bytes)                |
//! | `mglobals`             | id counters and the refusal count (JSON)                   |
//! | `mentries`             | entries in all segments (u64 BE)                           |
//! | `mverified`            | where verification of the log stopped (`report`)           |
//! | `s` + applied (u64 BE) | the segment file's length (u64 BE) and BLAKE3 (32 bytes)   |
//!
//! Records are applied in batches; after each batch its segment file is written and fsynced (under
//! a temporary name, then renamed), then the manifest that refers to it, with the applied count and
//! the tree head, is replaced (written aside, synced, renamed): that rename is the commit. A crash before it leaves a
//! file nothing refers to, which the next open removes; a crash after it, before the files of
//! replaced segments are removed, leaves those, removed the same way. The next run resumes from the
//! stored `applied` and applies each record exactly once. `rebuild` deletes the store and starts
//! again from record 0; a store of another format is deleted the same way when opened, since
//! everything in it can be derived again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use relic_domain::event::{Event, Finding};
use relic_domain::feed::{self, FeedError};
use relic_domain::state::{Release, State};
use relic_ledger::{Ledger, Record};

use relic_store::kv::{Kv, Opened};

use crate::audit::Audit;
use crate::views::ViewError;

mod dirty;
mod segments;
mod updater;
mod writer;

use dirty::Dirty;
use segments::{parse_segments, segment_dir, segment_key_number, segment_number, segment_path, Entry, Segment};
pub use updater::Updater;
use writer::Writer;

pub(super) const FORMAT: &[u8] = b"relic-views/6";
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

    /// Applies what the feed read at a position: a record ([`Views::apply`]), or bytes that are no
    /// record at all, which only add their finding.
    pub fn apply_item(&mut self, item: &mut feed::Item) -> crate::audit::Added {
        match &item.record {
            Some(rec) => self.apply(rec, item.event.take(), item.finding.take()),
            None => {
                self.audit.findings.extend(item.finding.take());
                self.state.skip(item.seq);
                crate::audit::Added { finding: true, ..Default::default() }
            }
        }
    }
}

pub struct ViewStore {
    db: Kv,
    dir: PathBuf,
    /// Segment entries allowed beyond twice the live entities before a save compacts.
    slack: u64,
}

/// The default of [`ViewStore::with_compaction_slack`].
pub const COMPACTION_SLACK: u64 = 10_000;

/// What the state holds besides its entities: the id counters and the refusal count, as of `size`
/// records (`mglobals`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Globals {
    size: u64,
    last_project_id: u64,
    last_release_id: u64,
    last_link_id: u64,
    last_evidence_id: u64,
    last_freeze_id: u64,
    denied: u64,
    #[serde(default)]
    tokens: BTreeMap<String, relic_domain::state::Token>,
    #[serde(default)]
    last_hook_id: u64,
    /// The reports issued, by digest (`relic-views/6`).
    reports: BTreeMap<String, relic_domain::state::IssuedReport>,
}

impl Globals {
    fn of(st: &State) -> Self {
        Self {
            size: st.size,
            last_project_id: st.last_project_id,
            last_release_id: st.last_release_id,
            last_link_id: st.last_link_id,
            last_evidence_id: st.last_evidence_id,
            last_freeze_id: st.last_freeze_id,
            denied: st.denied,
            tokens: st.tokens.clone(),
            reports: st.reports.clone(),
            last_hook_id: st.last_hook_id,
        }
    }

    fn apply_to(&self, st: &mut State) {
        (st.size, st.last_project_id, st.last_release_id, st.last_link_id) = (self.size, self.last_project_id, self.last_release_id, self.last_link_id);
        (st.last_evidence_id, st.last_freeze_id, st.denied) = (self.last_evidence_id, self.last_freeze_id, self.denied);
        st.tokens = self.tokens.clone();
        st.reports = self.reports.clone();
        st.last_hook_id = self.last_hook_id;
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

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>, ViewError> {
    serde_json::to_vec(v).map_err(storage)
}

fn from_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ViewError> {
    serde_json::from_slice(bytes).map_err(|e| storage(format!("unreadable row {:?}: {e}; run `relic projections rebuild`", String::from_utf8_lossy(key))))
}

impl ViewStore {
    /// Opens (or creates) the view store of the ledger in `data`. A store written in another
    /// format, or one the database cannot open, is deleted and started again: it is rebuilt from the log on
    /// the next catch-up.
    pub fn open(data: &Path) -> Result<Self, ViewError> {
        let dir = path(data);
        // A store that cannot be used, or of another format, is derived data: start it again.
        if let Opened::Ready(db) = Kv::open(&dir).map_err(storage)? {
            if db.get(KEY_FORMAT).ok().flatten().as_deref() == Some(FORMAT) {
                let store = Self { db, dir, slack: COMPACTION_SLACK };
                store.remove_unreferenced_segments()?;
                return Ok(store);
            }
        }
        Self::fresh(dir, COMPACTION_SLACK)
    }

    /// Opens the view store of `data` for reading: no lock, nothing written, nothing removed. A store
    /// that cannot be used (missing, damaged, of another format, or changed under the reader by a
    /// writer's compaction more than a few times in a row) reads as empty: the reader then applies
    /// the whole log in memory.
    pub fn open_read(data: &Path) -> Self {
        let dir = path(data);
        for _ in 0..5 {
            if let Ok(Opened::Ready(db)) = Kv::open_read(&dir) {
                if db.get(KEY_FORMAT).ok().flatten().as_deref() != Some(FORMAT) {
                    break;
                }
                let store = Self { db, dir: dir.clone(), slack: COMPACTION_SLACK };
                if store.load().is_ok() {
                    return store;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        if dir.exists() {
            relic_store::store::add_note(format!("{}: unreadable or of another format; the log was applied in memory instead (the next writer rebuilds the views)", dir.display()));
        }
        Self { db: Kv::empty(), dir, slack: COMPACTION_SLACK }
    }

    /// True if this handle saves (a writer's).
    pub fn writable(&self) -> bool {
        self.db.writable()
    }

    /// Empties the store's directory (all but its lock: older formats' files included) and starts an
    /// empty store there: everything here can be derived again.
    fn fresh(dir: PathBuf, slack: u64) -> Result<Self, ViewError> {
        let db = match Kv::open(&dir).map_err(storage)? {
            Opened::Ready(db) => db,
            // Its manifest is unusable: emptied below, with the rest.
            Opened::Unusable(_) => {
                std::fs::remove_file(dir.join(relic_store::kv::MANIFEST)).map_err(|e| storage(format!("cannot remove the damaged manifest in {}: {e}", dir.display())))?;
                match Kv::open(&dir).map_err(storage)? {
                    Opened::Ready(db) => db,
                    Opened::Unusable(why) => return Err(storage(format!("cannot create {}: {why}", dir.display()))),
                }
            }
        };
        let listing = std::fs::read_dir(&dir).map_err(|e| storage(format!("cannot list {}: {e}", dir.display())))?;
        for entry in listing {
            let entry = entry.map_err(|e| storage(format!("cannot list {}: {e}", dir.display())))?;
            if entry.file_name() == relic_store::layout::LOCK {
                continue;
            }
            let p = entry.path();
            let removed = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
            removed.map_err(|e| storage(format!("cannot remove {}: {e}", p.display())))?;
        }
        let mut batch = relic_store::kv::Batch::default();
        for entry in db.scan_prefix(b"") {
            batch.remove(&entry.map_err(storage)?.0);
        }
        batch.insert(KEY_FORMAT, FORMAT.to_vec());
        db.apply(batch).map_err(storage)?;
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
        self.db.scan_prefix(b"s").map(|kv| segment_key_number(&kv.map_err(storage)?.0)).collect()
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
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// The stored views (empty if nothing was applied yet). Segments are parsed on every core and
    /// applied in order.
    pub fn load(&self) -> Result<Views, ViewError> {
        let applied = self.applied()?;
        let mut st = State::default();
        if let Some(g) = self.db.get(KEY_GLOBALS).map_err(storage)? {
            let g: Globals = from_json(KEY_GLOBALS, &g)?;
            if g.size != applied {
                return Err(ViewError::Invalid("view store: state and applied count disagree; run `relic projections rebuild`".into()));
            }
            g.apply_to(&mut st);
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

    /// Saves where a successful verification of the log stopped (a reader's handle saves nothing).
    pub fn save_verified(&self, r: &relic_ledger::verify::Resume) -> Result<(), ViewError> {
        if !self.writable() {
            return Ok(());
        }
        self.db.put_durably(KEY_VERIFIED, r.encode()).map_err(storage)
    }

    /// Starts applying records after the stored views.
    pub fn updater(&self) -> Result<Updater<'_>, ViewError> {
        self.updater_from(self.load()?)
    }

    /// Starts applying records after `views`, which must be what this store holds (as
    /// [`ViewStore::catch_up`] returned them): no second load.
    pub fn updater_from(&self, views: Views) -> Result<Updater<'_>, ViewError> {
        let dirty = Dirty {
            frozen_from: views.audit.frozen.len(),
            refused_from: views.audit.refused.len(),
            findings_from: views.audit.findings.len(),
            ..Dirty::default()
        };
        let segments = self.segment_numbers()?;
        let entries = self.db.get(KEY_ENTRIES).map_err(storage)?.and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok().map(u64::from_be_bytes)).unwrap_or(0);
        let root = self.db.get(KEY_ROOT).map_err(storage)?.and_then(|v| v.as_slice().try_into().ok());
        Ok(Updater { store: self, views, dirty, writer: Writer::default(), segments, entries, root })
    }

    /// Applies every record past the stored views, `batch` at a time, saving after each batch.
    /// Returns the up-to-date views.
    pub fn catch_up(&self, ledger: &Ledger, batch: u64) -> Result<Views, ViewError> {
        let mut up = self.updater()?;
        if let Err(e) = up.catch_up(ledger, batch) {
            if self.writable() {
                return Err(e);
            }
            // A reader's stored views that do not fit this log: the whole log, in memory.
            relic_store::store::add_note(format!("{}: {e}; the log was applied in memory instead (the next writer rebuilds the views)", self.dir.display()));
            let empty = Self { db: Kv::empty(), dir: self.dir.clone(), slack: self.slack };
            let mut up = empty.updater()?;
            up.catch_up(ledger, batch)?;
            return up.finish();
        }
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
        assert!(err.contains("being written by another relic process"), "{err}");
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
