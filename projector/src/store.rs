//! The incremental view store: the domain state and the audit trail as of `applied` records, kept
//! in their own sled database at `<data>/views`, separate from the log so that they can be dropped
//! and rebuilt at will.
//!
//! One row per entity, so that applying a few records rewrites a few rows:
//!
//! | key                         | value                                                  |
//! |-----------------------------|--------------------------------------------------------|
//! | `mformat`                   | `relic-views/2`                                        |
//! | `mapplied`                  | records applied (u64 BE)                               |
//! | `mroot`                     | the log's tree head at `applied` (32 bytes)            |
//! | `mglobals`                  | id counters and the refusal count (JSON)               |
//! | `mverified`                 | where verification of the log stopped ([`crate::integrity`]) |
//! | `p` + project               | a project without its releases (JSON)                  |
//! | `r` + project + `0x00` + tag | a release (JSON)                                       |
//! | `i` + id                    | an internal release (JSON)                             |
//! | `f` + seq (u64 BE)          | a change made during a deploy freeze (JSON)            |
//! | `d` + seq (u64 BE)          | a refused attempt (JSON)                               |
//! | `b` + block (u64 BE)        | mutation counts of one block of records (JSON)         |
//!
//! Records are applied in batches; after each batch the rows it changed, the applied count and the
//! tree head are written in one atomic sled batch and flushed. A crash between two batches loses
//! only work that was never written: the next run resumes from the stored `applied` and applies
//! each record exactly once. `rebuild` clears everything and starts again from record 0; a store of
//! another format is cleared the same way when opened, since everything in it can be derived again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use relic_domain::event::Event;
use relic_domain::feed::{self, FeedError};
use relic_domain::state::{Internal, Project, Release, State};
use relic_ledger::{Ledger, Record};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::audit::{Audit, Block, FrozenChange, Refused};
use crate::views::ViewError;

const FORMAT: &[u8] = b"relic-views/2";
const KEY_FORMAT: &[u8] = b"mformat";
const KEY_APPLIED: &[u8] = b"mapplied";
/// The tree head at `applied`: ties the stored state to the log it was derived from.
const KEY_ROOT: &[u8] = b"mroot";
const KEY_GLOBALS: &[u8] = b"mglobals";
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
    /// Applies one record, with its decoded event. Returns what the audit trail gained.
    pub fn apply(&mut self, rec: &Record, event: Option<&Event>) -> crate::audit::Added {
        let added = self.audit.observe(&self.state, rec, event);
        self.state.apply_decoded(rec, event);
        added
    }
}

pub struct ViewStore {
    db: sled::Db,
}

fn storage(e: impl std::fmt::Display) -> ViewError {
    ViewError::Invalid(format!("view store: {e}"))
}

fn seq_key(prefix: u8, n: u64) -> Vec<u8> {
    let mut k = vec![prefix];
    k.extend_from_slice(&n.to_be_bytes());
    k
}

fn text_key(prefix: u8, parts: &[&str]) -> Vec<u8> {
    let mut k = vec![prefix];
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p.as_bytes());
    }
    k
}

fn to_json(v: &impl serde::Serialize) -> Result<Vec<u8>, ViewError> {
    serde_json::to_vec(v).map_err(storage)
}

fn from_json<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, ViewError> {
    serde_json::from_slice(bytes).map_err(|e| storage(format!("unreadable row {:?}: {e}; run `relic projections rebuild`", String::from_utf8_lossy(key))))
}

/// The rows a batch of records changed.
#[derive(Debug, Default)]
struct Dirty {
    projects: BTreeSet<String>,
    releases: BTreeSet<(String, String)>,
    internals: BTreeSet<String>,
    frozen_from: usize,
    refused_from: usize,
    blocks: BTreeSet<u64>,
}

impl Dirty {
    fn touch(&mut self, event: &Event) {
        let release = |p: &str, t: &str| (p.to_string(), t.to_string());
        match event {
            Event::ProjectRegistered(e) => self.projects.insert(e.project.clone()),
            Event::MemberRoleSet(e) => self.projects.insert(e.project.clone()),
            Event::ProtectedTagSet(e) => self.projects.insert(e.project.clone()),
            Event::ProtectedTagRemoved(e) => self.projects.insert(e.project.clone()),
            Event::TagRecorded(e) => self.projects.insert(e.project.clone()),
            Event::MilestoneRecorded(e) => self.projects.insert(e.project.clone()),
            Event::FreezeCreated(e) => self.projects.insert(e.project.clone()),
            Event::FreezeUpdated(e) => self.projects.insert(e.project.clone()),
            Event::FreezeDeleted(e) => self.projects.insert(e.project.clone()),
            Event::ReleaseCreated(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::ReleaseUpdated(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::ReleaseDeleted(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::LinkAdded(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::LinkUpdated(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::LinkDeleted(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::EvidenceCollected(e) => self.releases.insert(release(&e.project, &e.tag_name)),
            Event::AccessDenied(_) => false,
            Event::InternalDetected(e) => self.internals.insert(e.id.clone()),
            Event::InternalPrepared(e) => self.internals.insert(e.id.clone()),
            Event::InternalRemediated(e) => self.internals.insert(e.id.clone()),
            Event::InternalBackported(e) => self.internals.insert(e.id.clone()),
            Event::InternalReleased(e) => self.internals.insert(e.id.clone()),
            Event::InternalFinalized(e) => self.internals.insert(e.id.clone()),
            Event::InternalDisclosed(e) => self.internals.insert(e.id.clone()),
        };
    }
}

/// Views being brought forward record by record, with what changed since they were last written.
pub struct Updater<'a> {
    store: &'a ViewStore,
    views: Views,
    dirty: Dirty,
}

impl Updater<'_> {
    pub fn views(&self) -> &Views {
        &self.views
    }

    pub fn into_views(self) -> Views {
        self.views
    }

    /// Applies the next record (it must be record `views().state.size`).
    pub fn apply(&mut self, rec: &Record, event: Option<&Event>) -> Result<(), ViewError> {
        if rec.seq != self.views.state.size {
            return Err(ViewError::Invalid(format!("view store: record {} applied after {} records", rec.seq, self.views.state.size)));
        }
        let added = self.views.apply(rec, event);
        if let Some(e) = event {
            self.dirty.touch(e);
        }
        if let Some(b) = added.block {
            self.dirty.blocks.insert(b);
        }
        Ok(())
    }

    /// Writes every row changed since the last save, the applied count and the log's tree head at
    /// that count, in one atomic batch, then flushes.
    pub fn save(&mut self, ledger: &Ledger) -> Result<(), ViewError> {
        let (st, audit) = (&self.views.state, &self.views.audit);
        let d = std::mem::take(&mut self.dirty);
        let mut batch = sled::Batch::default();
        for p in &d.projects {
            let key = text_key(b'p', &[p]);
            match st.projects.get(p) {
                Some(project) => batch.insert(key, to_json(project)?),
                None => batch.remove(key),
            }
        }
        for (p, t) in &d.releases {
            let key = text_key(b'r', &[p, t]);
            match st.projects.get(p).and_then(|x| x.releases.get(t)) {
                Some(r) => batch.insert(key, to_json(r)?),
                None => batch.remove(key),
            }
        }
        for id in &d.internals {
            let key = text_key(b'i', &[id]);
            match st.internal.get(id) {
                Some(i) => batch.insert(key, to_json(i)?),
                None => batch.remove(key),
            }
        }
        for f in &audit.frozen[d.frozen_from..] {
            batch.insert(seq_key(b'f', f.seq), to_json(f)?);
        }
        for r in &audit.refused[d.refused_from..] {
            batch.insert(seq_key(b'd', r.seq), to_json(r)?);
        }
        for b in &d.blocks {
            if let Some(block) = audit.blocks.get(b) {
                batch.insert(seq_key(b'b', *b), to_json(block)?);
            }
        }
        let globals = json!({"size": st.size, "last_project_id": st.last_project_id, "last_release_id": st.last_release_id,
            "last_link_id": st.last_link_id, "last_evidence_id": st.last_evidence_id, "last_freeze_id": st.last_freeze_id, "denied": st.denied});
        batch.insert(KEY_GLOBALS, to_json(&globals)?);
        batch.insert(KEY_APPLIED, &st.size.to_be_bytes()[..]);
        batch.insert(KEY_ROOT, &ledger.root(st.size)?[..]);
        batch.insert(KEY_FORMAT, FORMAT);
        self.store.db.apply_batch(batch).map_err(storage)?;
        self.store.db.flush().map_err(storage)?;
        self.dirty = Dirty { frozen_from: audit.frozen.len(), refused_from: audit.refused.len(), ..Dirty::default() };
        Ok(())
    }
}

impl ViewStore {
    /// Opens (or creates) the view store of the ledger in `data`. A store written in another
    /// format is cleared: it is rebuilt from the log on the next catch-up.
    pub fn open(data: &Path) -> Result<Self, ViewError> {
        let db = sled::Config::new().path(path(data)).cache_capacity(64 << 20).open().map_err(storage)?;
        if db.get(KEY_FORMAT).map_err(storage)?.as_deref() != Some(FORMAT) {
            db.clear().map_err(storage)?;
            db.insert(KEY_FORMAT, FORMAT).map_err(storage)?;
            db.flush().map_err(storage)?;
        }
        Ok(Self { db })
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

    fn rows<T: DeserializeOwned>(&self, prefix: u8) -> impl Iterator<Item = Result<(sled::IVec, T), ViewError>> + '_ {
        self.db.scan_prefix([prefix]).map(|kv| {
            let (k, v) = kv.map_err(storage)?;
            let t = from_json(&k, &v)?;
            Ok((k, t))
        })
    }

    /// The stored views (empty if nothing was applied yet).
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
        for row in self.rows::<Project>(b'p') {
            let (_, p) = row?;
            st.projects.insert(p.path.clone(), p);
        }
        for row in self.rows::<Release>(b'r') {
            let (k, r) = row?;
            let project = k[1..].split(|&b| b == 0).next().map(String::from_utf8_lossy).unwrap_or_default();
            let p = st.projects.get_mut(project.as_ref()).ok_or_else(|| storage(format!("release row for unknown project {project:?}; run `relic projections rebuild`")))?;
            p.releases.insert(r.tag_name.clone(), r);
        }
        for row in self.rows::<Internal>(b'i') {
            let (_, i) = row?;
            st.internal.insert(i.detected.id.clone(), i);
        }
        let mut audit = Audit::default();
        for row in self.rows::<FrozenChange>(b'f') {
            audit.frozen.push(row?.1);
        }
        for row in self.rows::<Refused>(b'd') {
            audit.refused.push(row?.1);
        }
        for row in self.rows::<Block>(b'b') {
            let (k, b) = row?;
            let n = crate_key_number(&k).ok_or_else(|| storage("malformed block key"))?;
            audit.blocks.insert(n, b);
        }
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
        Ok(Updater { store: self, views, dirty })
    }

    /// Applies every record past the stored views, `batch` at a time, saving after each batch.
    /// Returns the up-to-date views.
    pub fn catch_up(&self, ledger: &Ledger, batch: u64) -> Result<Views, ViewError> {
        let mut up = self.updater()?;
        let applied = up.views.state.size;
        let end = ledger.size();
        if applied > end {
            return Err(ViewError::Invalid(format!("view store has applied {applied} records but the log holds {end}; run `relic projections rebuild`")));
        }
        if applied > 0 {
            let stored = self.db.get(KEY_ROOT).map_err(storage)?;
            if stored.as_deref() != Some(&ledger.root(applied)?[..]) {
                return Err(ViewError::Invalid("view store was derived from another log; run `relic projections rebuild`".into()));
            }
        }
        if applied == end {
            return Ok(up.into_views());
        }
        let mut since_save = 0u64;
        feed::replay(ledger, applied, end, |it| {
            up.apply(&it.record, it.event.as_ref())?;
            since_save += 1;
            if since_save == batch.max(1) {
                up.save(ledger)?;
                since_save = 0;
            }
            Ok::<_, ViewError>(true)
        })?;
        if since_save > 0 {
            up.save(ledger)?;
        }
        Ok(up.into_views())
    }

    /// Forgets everything and applies the whole log again.
    pub fn rebuild(&self, ledger: &Ledger, batch: u64) -> Result<Views, ViewError> {
        self.db.clear().map_err(storage)?;
        self.db.insert(KEY_FORMAT, FORMAT).map_err(storage)?;
        self.db.flush().map_err(storage)?;
        self.catch_up(ledger, batch)
    }
}

fn crate_key_number(k: &[u8]) -> Option<u64> {
    (k.len() == 9).then(|| k[1..].try_into().ok().map(u64::from_be_bytes)).flatten()
}

impl From<FeedError> for ViewError {
    fn from(e: FeedError) -> Self {
        match e {
            FeedError::Ledger(e) => ViewError::Ledger(e),
            FeedError::Event(e) => ViewError::Event(e),
        }
    }
}
