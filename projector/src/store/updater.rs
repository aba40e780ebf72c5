//! Bringing the views forward record by record: apply, and save after each batch (a segment of
//! what changed, or, once the segments hold more than twice the live entities, one segment with
//! every live entity replacing them all), with the applied count and the log's tree head.

use std::collections::BTreeSet;

use relic_domain::event::{Event, Finding};
use relic_domain::feed;
use relic_ledger::{Ledger, Record};
use relic_store::kv::Batch;

use super::dirty::Dirty;
use super::segments::{push_entry, write_all, EntryRef};
use super::writer::{Save, Writer};
use super::{seq_key, to_json, Globals, Views, ViewStore, FORMAT, KEY_APPLIED, KEY_ENTRIES, KEY_FORMAT, KEY_GLOBALS, KEY_ROOT};
use crate::views::ViewError;

/// Views being brought forward record by record, with what changed since they were last written.
pub struct Updater<'a> {
    pub(super) store: &'a ViewStore,
    pub(super) views: Views,
    pub(super) dirty: Dirty,
    pub(super) writer: Writer,
    /// The stored segments (by applied count) and their total entries, kept here rather than read
    /// back, since the last batch may still be on its way to disk.
    pub(super) segments: Vec<u64>,
    pub(super) entries: u64,
    /// The log's tree head at the applied count, as last saved.
    pub(super) root: Option<relic_ledger::merkle::Hash>,
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
            self.apply_item(it)?;
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
        let mut item = feed::Item { seq: rec.seq, record: Some(rec.clone()), event, finding };
        self.apply_item(&mut item)
    }

    /// Applies what the feed read at the next position.
    fn apply_item(&mut self, item: &mut feed::Item) -> Result<(), ViewError> {
        if item.seq != self.views.state.size {
            return Err(ViewError::Invalid(format!("view store: record {} applied after {} records", item.seq, self.views.state.size)));
        }
        if let Some(e) = &item.event {
            self.dirty.touch(e);
        }
        let added = self.views.apply_item(item);
        if let Some(b) = added.block {
            self.dirty.blocks.insert(b);
        }
        Ok(())
    }

    /// Writes a segment with every entity changed since the last save (or, when the segments have
    /// grown past twice the live entities, one with every live entity, replacing them all), then
    /// commits it with the applied count and the log's tree head at that count in one atomic database
    /// batch, and flushes. The writing happens on a writer thread; [`Updater::finish`] (or dropping
    /// the updater) waits for it.
    pub fn save(&mut self, ledger: &Ledger) -> Result<(), ViewError> {
        if !self.store.writable() {
            // A reader's views live in memory only.
            self.dirty = Dirty {
                frozen_from: self.views.audit.frozen.len(),
                refused_from: self.views.audit.refused.len(),
                findings_from: self.views.audit.findings.len(),
                ..Dirty::default()
            };
            return Ok(());
        }
        let (st, audit) = (&self.views.state, &self.views.audit);
        let d = std::mem::take(&mut self.dirty);
        let live = live_entities(&self.views);
        let changed = (d.projects.len() + d.releases.values().map(BTreeSet::len).sum::<usize>() + d.internals.len() + d.blocks.len()) as u64
            + (audit.frozen.len() - d.frozen_from) as u64
            + (audit.refused.len() - d.refused_from) as u64
            + (audit.findings.len() - d.findings_from) as u64;
        let stored = self.entries;
        let mut batch = Batch::default();
        let mut seg = Vec::new();
        let mut obsolete = Vec::new();
        let entries = if stored + changed > 2 * live + self.store.slack {
            for applied in self.segments.drain(..) {
                batch.remove(&seq_key(b's', applied));
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
        batch.insert(KEY_GLOBALS, to_json(&Globals::of(st))?);
        batch.insert(KEY_ENTRIES, entries.to_be_bytes());
        batch.insert(KEY_APPLIED, st.size.to_be_bytes());
        let root = ledger.root(st.size)?;
        batch.insert(KEY_ROOT, root);
        batch.insert(KEY_FORMAT, FORMAT);
        self.writer.send(self.store, Save { segment, batch, obsolete })?;
        self.root = Some(root);
        self.dirty = Dirty { frozen_from: audit.frozen.len(), refused_from: audit.refused.len(), findings_from: audit.findings.len(), ..Dirty::default() };
        Ok(())
    }
}

/// Entities the views hold.
pub(super) fn live_entities(v: &Views) -> u64 {
    let releases: usize = v.state.projects.values().map(|p| p.releases.len()).sum();
    (v.state.projects.len() + releases + v.state.internal.len() + v.audit.frozen.len() + v.audit.refused.len() + v.audit.findings.len() + v.audit.blocks.len()) as u64
}
