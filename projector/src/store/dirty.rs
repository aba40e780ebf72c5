//! Which entities a batch of records changed, so that a save writes only those: one line per event
//! kind, naming the project, release or internal release the event touches.

use std::collections::{BTreeMap, BTreeSet};

use relic_domain::event::Event;

/// The rows a batch of records changed.
#[derive(Debug, Default)]
pub(super) struct Dirty {
    pub(super) projects: BTreeSet<String>,
    /// Project → tags.
    pub(super) releases: BTreeMap<String, BTreeSet<String>>,
    pub(super) internals: BTreeSet<String>,
    pub(super) frozen_from: usize,
    pub(super) refused_from: usize,
    pub(super) findings_from: usize,
    pub(super) blocks: BTreeSet<u64>,
}

impl Dirty {
    pub(super) fn touch(&mut self, event: &Event) {
        let p = |set: &mut BTreeSet<String>, k: &str| {
            if !set.contains(k) {
                set.insert(k.to_string());
            }
        };
        match event {
            Event::ProjectRegistered(e) => p(&mut self.projects, &e.project),
            Event::MemberRoleSet(e) => p(&mut self.projects, &e.project),
            Event::HookSubscribed(e) => p(&mut self.projects, &e.project),
            Event::HookUnsubscribed(e) => p(&mut self.projects, &e.project),
            Event::ProtectedTagSet(e) => p(&mut self.projects, &e.project),
            Event::ProtectedTagRemoved(e) => p(&mut self.projects, &e.project),
            Event::TagRecorded(e) => p(&mut self.projects, &e.project),
            Event::MilestoneRecorded(e) => p(&mut self.projects, &e.project),
            Event::FreezeCreated(e) => p(&mut self.projects, &e.project),
            Event::FreezeUpdated(e) => p(&mut self.projects, &e.project),
            Event::FreezeDeleted(e) => p(&mut self.projects, &e.project),
            Event::ReleaseCreated(e) => self.release(&e.project, &e.tag_name),
            Event::ReleaseImported(e) => self.release(&e.project, &e.tag_name),
            Event::ReleaseUpdated(e) => self.release(&e.project, &e.tag_name),
            Event::ReleaseDeleted(e) => self.release(&e.project, &e.tag_name),
            Event::LinkAdded(e) => self.release(&e.project, &e.tag_name),
            Event::LinkUpdated(e) => self.release(&e.project, &e.tag_name),
            Event::LinkDeleted(e) => self.release(&e.project, &e.tag_name),
            Event::EvidenceCollected(e) => self.release(&e.project, &e.tag_name),
            // Kept with the id counters (`Globals`), saved whole each time.
            Event::AccessDenied(_) | Event::TokenIssued(_) | Event::TokenRevoked(_) | Event::ReportIssued(_) => {}
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
