//! The glue between the rules and the log: replay the log into [`State`], decide a command, store
//! any evidence documents, append the events atomically, apply them.
//!
//! Each executed command is one atomic group of records, so a crash leaves all of a command's events
//! or none. A refusal appends nothing, except the `access.denied` record of a refusal for lack of
//! permission.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use relic_ledger::{Actor, Draft, Ledger, Receipt};

use crate::decide::{decide, decide_record, Command, Refusal};
use crate::event::{Event, EventError};
use crate::evidence::{self, EvidenceError};
use crate::policy::{DomainPolicy, PolicyError};
use crate::state::State;

/// Why a command did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The rules refused it; the message is the reference's error text.
    #[error("{0}")]
    Refused(Refusal),
    #[error(transparent)]
    Ledger(#[from] relic_ledger::Error),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error(transparent)]
    Confidential(#[from] crate::confidential::ConfidentialError),
}

impl From<crate::feed::FeedError> for ServiceError {
    fn from(e: crate::feed::FeedError) -> Self {
        match e {
            crate::feed::FeedError::Ledger(e) => ServiceError::Ledger(e),
        }
    }
}

/// An open ledger with its domain state.
pub struct Service {
    /// Shared with readers that need the log's tree (a server's responses), never its appends.
    ledger: std::sync::Arc<Ledger>,
    state: State,
    /// The records replay could not read as their kind's event, in log order.
    findings: Vec<crate::event::Finding>,
}

/// A command decided, applied to [`Service::state`] and queued for the log
/// ([`Service::submit`]). It is acknowledged only when [`Submitted::durable`] resolves.
#[derive(Debug)]
pub enum Submitted {
    /// Queued; durable when the log says so.
    Queued(relic_ledger::Queued),
    /// Already durable (a command whose records carry their time into the state).
    Done(Vec<Receipt>),
}

impl Submitted {
    /// Waits until the command's records are durable; their receipts, in order.
    pub async fn durable(self) -> Result<Vec<Receipt>, ServiceError> {
        match self {
            Submitted::Queued(q) => Ok(q.durable().await?),
            Submitted::Done(r) => Ok(r),
        }
    }

    /// [`Submitted::durable`] for callers outside an async runtime.
    pub fn durable_blocking(self) -> Result<Vec<Receipt>, ServiceError> {
        match self {
            Submitted::Queued(q) => Ok(q.durable_blocking()?),
            Submitted::Done(r) => Ok(r),
        }
    }
}

/// Replays every record of `ledger` from `state.size` on, validating payloads against their schemas.
/// A record that cannot be read as its kind's event is skipped (the views and reports show it as a
/// finding, [`crate::event::Finding`]); the state is what every readable record says.
pub fn replay(ledger: &Ledger, state: &mut State) -> Result<(), ServiceError> {
    replay_noting(ledger, state, &mut Vec::new())
}

/// [`replay`], adding the records it could not read as events to `findings`.
fn replay_noting(ledger: &Ledger, state: &mut State, findings: &mut Vec<crate::event::Finding>) -> Result<(), ServiceError> {
    crate::feed::replay(ledger, state.size, u64::MAX, |it| {
        match &it.record {
            Some(r) => state.apply_decoded(r, it.event.take()),
            None => state.skip(it.seq),
        }
        findings.extend(it.finding.take());
        Ok::<_, ServiceError>(true)
    })?;
    Ok(())
}

/// Opens the ledger in `dir` for appending, with the domain's policy (the built-in kinds and the
/// deployment's own, [`crate::policy`]).
pub fn open_ledger(dir: &Path) -> Result<Ledger, ServiceError> {
    Ok(Ledger::open(dir, DomainPolicy::for_data(dir)?)?)
}

/// Creates a ledger in `dir` ([`Ledger::init`]) and opens it with the domain's policy.
pub fn init_ledger(dir: &Path, origin: &str) -> Result<Ledger, ServiceError> {
    Ok(Ledger::init(dir, origin, DomainPolicy::for_data(dir)?)?)
}

impl Service {
    /// Opens the ledger in `dir` for appending, with the domain's policy ([`crate::policy`]), and
    /// replays it.
    pub fn open(dir: &Path) -> Result<Self, ServiceError> {
        let ledger = open_ledger(dir)?;
        let mut svc = Self { ledger: std::sync::Arc::new(ledger), state: State::default(), findings: Vec::new() };
        svc.resync()?;
        Ok(svc)
    }

    /// Derives the state from the log again, from its first record: after a queued command failed
    /// to become durable, the state must forget what it applied ahead of the log.
    pub fn resync(&mut self) -> Result<(), ServiceError> {
        self.state = State::default();
        self.findings.clear();
        replay_noting(&self.ledger, &mut self.state, &mut self.findings)
    }

    /// The records the state leaves out because they could not be read as their kind's event.
    pub fn findings(&self) -> &[crate::event::Finding] {
        &self.findings
    }

    /// Takes an open ledger and a state already derived from its first `state.size` records (by a
    /// view store that checked it was derived from this log), and replays the rest.
    pub fn with_state(ledger: Ledger, mut state: State) -> Result<Self, ServiceError> {
        if state.size > ledger.size() {
            state = State::default();
        }
        let mut findings = Vec::new();
        replay_noting(&ledger, &mut state, &mut findings)?;
        Ok(Self { ledger: std::sync::Arc::new(ledger), state, findings })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The open ledger, to read its tree and size without holding the service (appends go through
    /// the service only: the rules decide them).
    pub fn shared_ledger(&self) -> std::sync::Arc<Ledger> {
        self.ledger.clone()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.ledger.dir().to_path_buf()
    }

    /// Decides and records `cmd` by `actor` at `now`. On success returns the receipts of the
    /// appended records, in order.
    pub fn execute(&mut self, actor: &str, cmd: &Command, now: DateTime<Utc>) -> Result<Vec<Receipt>, ServiceError> {
        let cmd = &self.with_secrets(cmd)?;
        match decide(&self.state, actor, cmd, now) {
            Ok(d) => {
                // Files first, then the events that name them (an interrupted command leaves at
                // most unreferenced, content-addressed files).
                self.store_files(&d, evidence::Sync::Now)?;
                let role = d.role.map_or("system", |r| r.as_str());
                self.append(actor, role, &d.events)
            }
            Err(refusal) => Err(self.refused(actor, refusal)?),
        }
    }

    /// Decides `cmd` by `actor` at `now`, applies its events to the state and queues its records,
    /// without waiting for them to be durable, so that the next command can be decided at once and
    /// many commands share one write to disk. The caller acknowledges nothing before
    /// [`Submitted::durable`] resolves, and shows nobody the state in between; if that fails, it
    /// calls [`Service::resync`]. A refusal returns at once (an `access.denied` record is appended
    /// and waited for, as by [`Service::execute`]).
    pub fn submit(&mut self, actor: &str, cmd: &Command, now: DateTime<Utc>) -> Result<Submitted, ServiceError> {
        let cmd = &self.with_secrets(cmd)?;
        let d = match decide(&self.state, actor, cmd, now) {
            Ok(d) => d,
            Err(refusal) => return Err(self.refused(actor, refusal)?),
        };
        let role = d.role.map_or("system", |r| r.as_str());
        // Internal releases keep each record's time in their timeline, which only the log assigns:
        // those commands wait for it and replay, as `execute` does.
        if d.events.iter().any(|e| e.kind().starts_with("internal.")) {
            self.store_files(&d, evidence::Sync::Now)?;
            return self.append(actor, role, &d.events).map(Submitted::Done);
        }
        // Files before the records that name them: written now, made durable by the commit that
        // acknowledges the records, together with every other file of its group.
        let files = self.store_files(&d, evidence::Sync::WithRecords)?;
        let first = self.state.size;
        let queued = self.ledger.queue_decided(self.drafts(actor, role, &d.events), files)?;
        for (i, e) in d.events.iter().enumerate() {
            self.state.apply_event(e, actor, first + i as u64, "");
        }
        self.state.size = first + d.events.len() as u64;
        Ok(Submitted::Queued(queued))
    }

    /// A disclosure reveals what its detection committed to: the title and salt, read from the
    /// store beside the log (`None` if it lacks them; the rules then refuse).
    fn with_secrets(&self, cmd: &Command) -> Result<Command, ServiceError> {
        let mut cmd = cmd.clone();
        if let Command::InternalDisclose { id, reveal, .. } = &mut cmd {
            if let Some(c) = self.state.internal.get(id).and_then(|i| i.detected.title_commitment.clone()) {
                *reveal = crate::confidential::load(self.ledger.dir(), &c)?;
            }
        }
        Ok(cmd)
    }

    /// Stores a decision's report artifacts and evidence documents (files before the events that
    /// name them: an interrupted command leaves at most unreferenced, content-addressed files);
    /// returns their paths.
    fn store_files(&self, d: &crate::decide::Decision, sync: evidence::Sync) -> Result<Vec<PathBuf>, ServiceError> {
        let mut paths = Vec::with_capacity(d.artifacts.len() + d.documents.len());
        // Confidential texts: durable and owner-only now, before the record that commits to them
        // (never among the files a commit syncs later, nor published).
        for secret in &d.secrets {
            crate::confidential::store(self.ledger.dir(), secret)?;
        }
        for f in &d.artifacts {
            paths.push(evidence::store_artifact(self.ledger.dir(), &f.artifact.name, &f.bytes, sync)?.1);
        }
        for doc in &d.documents {
            paths.push(evidence::store_document(self.ledger.dir(), doc, sync)?);
        }
        Ok(paths)
    }

    /// A refusal: recorded as `access.denied` if it is one for lack of permission, then returned.
    fn refused(&mut self, actor: &str, refusal: Refusal) -> Result<ServiceError, ServiceError> {
        if let Some(denied) = &refusal.denied {
            // A non-member held no role: the record says `none`, never a role they did not have.
            let role = refusal.role.map_or("none", |r| r.as_str());
            self.append(actor, role, &[Event::AccessDenied(denied.clone())])?;
        }
        Ok(ServiceError::Refused(refusal))
    }

    /// Records a raw event of a kind without rules (`relic append`): the actor must be a member of
    /// the subject's project with developer or above ([`decide_record`]), and the record carries the
    /// role that membership gives, never one the caller claims. The ledger's policy then checks the
    /// kind, its version and the payload against its schema, and refuses kinds that have rules.
    pub fn record(&mut self, actor: &str, kind: &str, subject: &str, payload: Vec<u8>) -> Result<Receipt, ServiceError> {
        // The kind, its version and the payload first: a draft the gate refuses is refused by
        // name, before anyone's permission is looked at (and recorded as denied).
        let version = self.ledger.schema_version(kind).unwrap_or(1);
        let unchecked = Draft { actor: Actor { id: actor.to_string(), role: "guest".into() }, kind: kind.to_string(), subject: subject.to_string(), payload, schema_version: version };
        let mut draft = self.ledger.prepare(unchecked, relic_ledger::Door::Raw)?;
        let value: serde_json::Value = serde_json::from_slice(&draft.payload)
            .map_err(|e| relic_ledger::Error::Record(relic_ledger::record::RecordError::Field { field: "payload", reason: e.to_string() }))?;
        let role = match decide_record(&self.state, actor, subject, &value) {
            Ok(role) => role,
            Err(refusal) => return Err(self.refused(actor, refusal)?),
        };
        draft.actor.role = role.as_str().to_string();
        let receipt = self.ledger.append_blocking(draft)?;
        replay_noting(&self.ledger, &mut self.state, &mut self.findings)?;
        Ok(receipt)
    }

    fn append(&mut self, actor: &str, role: &str, events: &[Event]) -> Result<Vec<Receipt>, ServiceError> {
        let receipts = self.ledger.append_decided_blocking(self.drafts(actor, role, events))?;
        // Apply exactly what was written, as a replay would.
        replay_noting(&self.ledger, &mut self.state, &mut self.findings)?;
        Ok(receipts)
    }

    /// The records a command's events are written as.
    fn drafts(&self, actor: &str, role: &str, events: &[Event]) -> Vec<Draft> {
        let mut drafts = Vec::with_capacity(events.len());
        for e in events {
            // Every event has a schema file (a test holds the catalogue to the typed events); the
            // policy refuses the draft by name if not.
            let version = self.ledger.schema_version(e.kind()).unwrap_or(1);
            drafts.push(Draft {
                actor: Actor { id: actor.to_string(), role: role.to_string() },
                kind: e.kind().to_string(),
                subject: e.subject(),
                payload: e.payload().to_string().into_bytes(),
                schema_version: version,
            });
        }
        drafts
    }
}
