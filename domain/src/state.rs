//! The domain state: what the log says now, as a fold over its records.
//!
//! [`State::apply`] is the only way state changes, and it takes a record, so the state seen while
//! appending and the state rebuilt by replaying the log from record 0 are the same by construction.
//! Nothing here validates: events in the log were validated when they were decided.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use relic_ledger::text_store::TextStore;
use relic_ledger::Record;

use crate::timing;

use crate::event::*;

/// An internal release's phases, in order. None may be skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Detected,
    Prepared,
    Remediated,
    Backported,
    Released,
    Finalized,
    Disclosed,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Detected => "Detect",
            Phase::Prepared => "Prepare",
            Phase::Remediated => "Remediation on the multi-tenant site",
            Phase::Backported => "Backports",
            Phase::Released => "Release",
            Phase::Finalized => "Final steps",
            Phase::Disclosed => "Public patch and disclosure",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub description: Option<String>,
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    pub created_at: DateTime<Utc>,
    pub released_at: DateTime<Utc>,
    pub milestones: Vec<String>,
    pub links: BTreeMap<u64, Link>,
    pub report_artifacts: Vec<Artifact>,
    pub evidences: Vec<Evidence>,
    pub author: String,
    /// The source system it was imported from (`relic import releases`), if it was.
    #[serde(default)]
    pub imported_from: Option<String>,
}

/// An `evidence.collected` event as a release keeps it: with the sequence number of the record
/// that carries it, so that the record's signature and inclusion can be checked
/// ([`crate::evidence::verify_record`]). Reads as the event itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub seq: u64,
    pub event: EvidenceCollected,
}

impl std::ops::Deref for Evidence {
    type Target = EvidenceCollected;
    fn deref(&self) -> &EvidenceCollected {
        &self.event
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Project {
    pub id: u64,
    pub path: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub members: BTreeMap<String, Role>,
    /// Protected tag pattern → lowest role allowed to create matching tags.
    pub protected_tags: BTreeMap<String, Role>,
    pub tags: BTreeMap<String, TagRecorded>,
    /// Milestones by title.
    pub milestones: BTreeMap<String, MilestoneRecorded>,
    /// Not part of a project's serialized form: the view store keeps one row per release.
    #[serde(skip, default)]
    pub releases: BTreeMap<String, Release>,
    pub freezes: BTreeMap<u64, FreezeCreated>,
    /// Project hooks by id, as subscribed (`hook.subscribed`), with the record that last set each.
    #[serde(default)]
    pub hooks: BTreeMap<u64, Hook>,
}

/// A project hook as the log describes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hook {
    pub hook: HookSubscribed,
    /// The record that first subscribed it: events after it are delivered to it.
    pub since_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Internal {
    pub detected: InternalDetected,
    pub phase: Phase,
    pub prepared: Option<InternalPrepared>,
    pub remediated: Option<InternalRemediated>,
    pub backports: BTreeMap<String, InternalBackported>,
    pub released: Option<InternalReleased>,
    pub finalized: Option<InternalFinalized>,
    pub disclosed: Option<InternalDisclosed>,
    /// (phase, record sequence number, record time) for every phase reached.
    pub timeline: Vec<(Phase, u64, String)>,
}

/// Reads the domain event a record carries: its payload is checked against the schema of its kind at
/// the version it was written with, brought up to the current version, and decoded. `None` for
/// records that are not domain events (`ledger.created`, `key.rotated`). Texts the payload keeps
/// beside the log are read from `texts` and put back first (`schemas/record-v1.md` §Texts kept
/// beside the log); one that is missing or does not match its reference makes the record unreadable.
pub fn decode(rec: &Record, texts: &TextStore) -> Result<Option<Event>, EventError> {
    if !DOMAIN_KINDS.contains(&rec.kind.as_str()) {
        return Ok(None);
    }
    let event = match decode_in_place(rec) {
        Some(event) => Some(event),
        None => decode_value(rec, texts)?,
    };
    if let Some(e) = &event {
        for (field, text) in typed_times(e) {
            if timing::parse(text).is_none() {
                let reason = format!("{field} {text:?} is not an RFC 3339 time");
                return Err(EventError::Payload { seq: rec.seq, kind: rec.kind.clone(), reason });
            }
        }
    }
    Ok(event)
}

/// [`decode`] through a `serde_json::Value`: the path for older versions, and the one whose errors
/// are reported.
pub(crate) fn decode_value(rec: &Record, texts: &TextStore) -> Result<Option<Event>, EventError> {
    let bad = |reason: String| EventError::Payload { seq: rec.seq, kind: rec.kind.clone(), reason };
    let payload: serde_json::Value = match texts.resolve(&rec.payload).map_err(|e| bad(e.to_string()))? {
        Some(resolved) => resolved,
        None => serde_json::from_slice(&rec.payload).map_err(|e| bad(e.to_string()))?,
    };
    let payload = crate::schema::upcast(&rec.kind, rec.schema_version, payload).map_err(|e| bad(e.to_string()))?;
    match Event::from_payload(&rec.kind, payload) {
        None => Ok(None),
        Some(parsed) => parsed.map(Some).map_err(|e| bad(e.to_string())),
    }
}

/// The fast path of [`decode`], for a payload at its kind's current version: the schema check runs
/// on the payload read in place ([`crate::payload`]) and the event is decoded from that tree, with
/// no `serde_json::Value` built. `None` when anything fails (or the payload is at an older
/// version); [`decode`] then takes the `Value` path, which gives the same event for every payload
/// this accepts, and the error text for every payload it does not. A payload that refers to texts
/// kept beside the log always takes the `Value` path, which puts them back.
pub(crate) fn decode_in_place(rec: &Record) -> Option<Event> {
    if crate::catalogue::current_version(&rec.kind) != Some(rec.schema_version) || relic_ledger::texts::may_refer(&rec.payload) {
        return None;
    }
    let tree = crate::payload::parse(&rec.payload).ok()?;
    if !crate::schema::is_valid_in_place(&rec.kind, rec.schema_version, &tree) {
        return None;
    }
    Event::from_tree(&rec.kind, &tree)?.ok()
}

/// A payload's time, typed. [`decode`] refuses a record whose times do not parse, so a decoded
/// event's always do; an event folded without a record ([`State::apply_event`], tests) with a bad
/// time reads as the earliest time, which makes its release historical, never due.
fn typed(s: &str) -> DateTime<Utc> {
    timing::parse(s).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The times an event's payload carries that the state keeps typed, as (field, text).
fn typed_times(e: &Event) -> Vec<(&'static str, &str)> {
    match e {
        Event::ReleaseCreated(c) => vec![("created_at", c.created_at.as_str()), ("released_at", c.released_at.as_str())],
        Event::ReleaseUpdated(u) => u.released_at.as_deref().map(|t| ("released_at", t)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Everything the domain knows, as of `size` records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The number of log records applied.
    pub size: u64,
    pub projects: BTreeMap<String, Project>,
    pub internal: BTreeMap<String, Internal>,
    /// The largest id handed out so far, per id space.
    pub last_project_id: u64,
    pub last_release_id: u64,
    pub last_link_id: u64,
    pub last_evidence_id: u64,
    pub last_freeze_id: u64,
    /// Refused attempts recorded so far.
    pub denied: u64,
    /// The API tokens issued, by id: whose each is, until when, and whether it was revoked.
    pub tokens: BTreeMap<String, Token>,
    pub last_hook_id: u64,
    /// The reports issued, by digest: who issued each, as which record.
    pub reports: BTreeMap<String, IssuedReport>,
}

/// A `report.issued` event with its record and issuer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedReport {
    pub seq: u64,
    pub actor: String,
    pub event: ReportIssued,
}

/// An API token as the log describes it (its secret's hash is kept beside the log, never in it).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Token {
    pub user: String,
    #[serde(default)]
    pub name: Option<String>,
    pub expires_at: Option<String>,
    pub issued_at: String,
    pub revoked_at: Option<String>,
}

impl State {
    /// Applies one record. Records that are not domain events (`ledger.created`, `key.rotated`) only
    /// advance `size`. Fails only if a payload does not match its kind's schema at its version, which
    /// validation on append rules out for records relic wrote.
    pub fn apply(&mut self, rec: &Record, texts: &TextStore) -> Result<(), EventError> {
        let event = decode(rec, texts)?;
        self.apply_decoded(rec, event);
        Ok(())
    }

    /// Applies a record whose event was already decoded by [`decode`] (possibly on another thread,
    /// see [`crate::feed`]).
    pub fn apply_decoded(&mut self, rec: &Record, event: Option<Event>) {
        self.size = rec.seq + 1;
        if let Some(event) = event {
            // Only internal releases keep record times (their phase timeline): format it only then.
            let time = if event.kind().starts_with("internal.") { rec.time_rfc3339() } else { String::new() };
            self.fold(event, &rec.actor.id, rec.seq, &time);
        }
    }

    /// Moves past record `seq`, which could not be read at all (a finding): nothing changes but
    /// the number of records applied.
    pub fn skip(&mut self, seq: u64) {
        self.size = seq + 1;
    }

    /// Applies a decided event (used by tests that fold events without a log).
    /// A new release of `project` (created or imported), advancing the id counters past its ids.
    fn add_release(&mut self, project: &str, r: Release) {
        self.last_release_id = self.last_release_id.max(r.id);
        self.last_link_id = r.links.keys().fold(self.last_link_id, |m, id| m.max(*id));
        if let Some(p) = self.projects.get_mut(project) {
            p.releases.insert(r.tag_name.clone(), r);
        }
    }

    pub fn apply_event(&mut self, event: &Event, actor: &str, seq: u64, time: &str) {
        self.fold(event.clone(), actor, seq, time);
    }

    /// Applies an event, taking its strings rather than copying them.
    fn fold(&mut self, event: Event, actor: &str, seq: u64, time: &str) {
        match event {
            Event::ProjectRegistered(e) => {
                self.last_project_id = self.last_project_id.max(e.id);
                self.projects.insert(
                    e.project.clone(),
                    Project {
                        id: e.id,
                        path: e.project.clone(),
                        name: e.name.clone(),
                        description: e.description.clone(),
                        created_at: e.created_at.clone(),
                        members: BTreeMap::from([(actor.to_string(), Role::Owner)]),
                        protected_tags: BTreeMap::new(),
                        tags: BTreeMap::new(),
                        milestones: BTreeMap::new(),
                        releases: BTreeMap::new(),
                        freezes: BTreeMap::new(),
                        hooks: BTreeMap::new(),
                    },
                );
            }
            Event::MemberRoleSet(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.members.insert(e.user.clone(), e.role);
                }
            }
            Event::ProtectedTagSet(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.protected_tags.insert(e.pattern.clone(), e.create_access_level);
                }
            }
            Event::ProtectedTagRemoved(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.protected_tags.remove(&e.pattern);
                }
            }
            Event::TagRecorded(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.tags.insert(e.name.clone(), e.clone());
                }
            }
            Event::MilestoneRecorded(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.milestones.insert(e.title.clone(), e.clone());
                }
            }
            Event::ReleaseCreated(e) => {
                let project = e.project.clone();
                self.add_release(
                    &project,
                    Release {
                        id: e.id,
                        tag_name: e.tag_name,
                        name: e.name,
                        description: e.description,
                        git_ref: e.git_ref,
                        commit: e.commit,
                        created_at: typed(&e.created_at),
                        released_at: typed(&e.released_at),
                        milestones: e.milestones,
                        links: e.links.into_iter().map(|l| (l.id, l)).collect(),
                        report_artifacts: e.report_artifacts,
                        evidences: Vec::new(),
                        author: actor.to_string(),
                        imported_from: None,
                    },
                );
            }
            Event::ReleaseImported(e) => {
                let project = e.project.clone();
                self.add_release(
                    &project,
                    Release {
                        id: e.id,
                        tag_name: e.tag_name,
                        name: e.name,
                        description: e.description,
                        git_ref: None,
                        commit: e.commit,
                        created_at: typed(&e.created_at),
                        released_at: typed(&e.released_at),
                        milestones: e.milestones,
                        links: e.links.into_iter().map(|l| (l.id, l)).collect(),
                        report_artifacts: Vec::new(),
                        evidences: Vec::new(),
                        // The release's author in its source system; the record names the importer.
                        author: e.author.unwrap_or_else(|| actor.to_string()),
                        imported_from: Some(e.source),
                    },
                );
            }
            Event::ReleaseUpdated(e) => {
                if let Some(r) = self.release_mut(&e.project, &e.tag_name) {
                    if let Some(v) = e.name {
                        r.name = v;
                    }
                    if let Some(v) = e.description {
                        r.description = Some(v);
                    }
                    if let Some(v) = e.released_at {
                        r.released_at = typed(&v);
                    }
                    if let Some(v) = e.milestones {
                        r.milestones = v;
                    }
                }
            }
            Event::ReleaseDeleted(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.releases.remove(&e.tag_name);
                }
            }
            Event::LinkAdded(e) => {
                self.last_link_id = self.last_link_id.max(e.link.id);
                if let Some(r) = self.release_mut(&e.project, &e.tag_name) {
                    r.links.insert(e.link.id, e.link);
                }
            }
            Event::LinkUpdated(e) => {
                if let Some(r) = self.release_mut(&e.project, &e.tag_name) {
                    r.links.insert(e.link.id, e.link);
                }
            }
            Event::LinkDeleted(e) => {
                if let Some(r) = self.release_mut(&e.project, &e.tag_name) {
                    r.links.remove(&e.id);
                }
            }
            Event::EvidenceCollected(e) => {
                self.last_evidence_id = self.last_evidence_id.max(e.id);
                if let Some(r) = self.release_mut(&e.project, &e.tag_name) {
                    r.evidences.push(Evidence { seq, event: e });
                }
            }
            Event::FreezeCreated(e) => {
                self.last_freeze_id = self.last_freeze_id.max(e.id);
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.freezes.insert(e.id, e.clone());
                }
            }
            Event::FreezeUpdated(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.freezes.insert(
                        e.id,
                        FreezeCreated {
                            project: e.project.clone(),
                            id: e.id,
                            freeze_start: e.freeze_start.clone(),
                            freeze_end: e.freeze_end.clone(),
                            cron_timezone: e.cron_timezone.clone(),
                        },
                    );
                }
            }
            Event::FreezeDeleted(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.freezes.remove(&e.id);
                }
            }
            Event::AccessDenied(_) => self.denied += 1,
            Event::HookSubscribed(e) => {
                self.last_hook_id = self.last_hook_id.max(e.hook_id);
                if let Some(p) = self.projects.get_mut(&e.project) {
                    let since_seq = p.hooks.get(&e.hook_id).map_or(seq, |h| h.since_seq);
                    p.hooks.insert(e.hook_id, Hook { hook: e, since_seq });
                }
            }
            Event::HookUnsubscribed(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.hooks.remove(&e.hook_id);
                }
            }
            Event::TokenIssued(e) => {
                let t = Token { user: e.user, name: e.name, expires_at: e.expires_at, issued_at: e.issued_at, revoked_at: None };
                self.tokens.insert(e.token_id, t);
            }
            Event::TokenRevoked(e) => {
                if let Some(t) = self.tokens.get_mut(&e.token_id) {
                    t.revoked_at = Some(e.revoked_at);
                }
            }
            Event::ReportIssued(e) => {
                self.reports.insert(e.digest.clone(), IssuedReport { seq, actor: actor.to_string(), event: e });
            }
            Event::InternalDetected(e) => {
                self.internal.insert(
                    e.id.clone(),
                    Internal {
                        detected: e.clone(),
                        phase: Phase::Detected,
                        prepared: None,
                        remediated: None,
                        backports: BTreeMap::new(),
                        released: None,
                        finalized: None,
                        disclosed: None,
                        timeline: vec![(Phase::Detected, seq, time.to_string())],
                    },
                );
            }
            Event::InternalPrepared(e) => self.internal_step(&e.id, Phase::Prepared, seq, time, |i| i.prepared = Some(e.clone())),
            Event::InternalRemediated(e) => {
                self.internal_step(&e.id, Phase::Remediated, seq, time, |i| i.remediated = Some(e.clone()))
            }
            Event::InternalBackported(e) => {
                if let Some(i) = self.internal.get_mut(&e.id) {
                    i.backports.insert(e.target.clone(), e.clone());
                    let all = i.prepared.as_ref().is_some_and(|p| p.targets.iter().all(|t| i.backports.contains_key(t)));
                    if all && i.phase < Phase::Backported {
                        i.phase = Phase::Backported;
                        i.timeline.push((Phase::Backported, seq, time.to_string()));
                    }
                }
            }
            Event::InternalReleased(e) => self.internal_step(&e.id, Phase::Released, seq, time, |i| i.released = Some(e.clone())),
            Event::InternalFinalized(e) => {
                self.internal_step(&e.id, Phase::Finalized, seq, time, |i| i.finalized = Some(e.clone()))
            }
            Event::InternalDisclosed(e) => {
                self.internal_step(&e.id, Phase::Disclosed, seq, time, |i| i.disclosed = Some(e.clone()))
            }
        }
    }

    fn internal_step(&mut self, id: &str, phase: Phase, seq: u64, time: &str, f: impl FnOnce(&mut Internal)) {
        if let Some(i) = self.internal.get_mut(id) {
            f(i);
            i.phase = phase;
            i.timeline.push((phase, seq, time.to_string()));
        }
    }

    fn release_mut(&mut self, project: &str, tag: &str) -> Option<&mut Release> {
        self.projects.get_mut(project).and_then(|p| p.releases.get_mut(tag))
    }

    /// The actor's role in the project, if they are a member.
    pub fn role(&self, project: &str, actor: &str) -> Option<Role> {
        self.projects.get(project).and_then(|p| p.members.get(actor).copied())
    }
}
