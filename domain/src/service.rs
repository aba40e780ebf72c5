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
    ledger: Ledger,
    state: State,
}

/// Replays every record of `ledger` from `state.size` on, validating payloads against their schemas.
/// A record that cannot be read as its kind's event is skipped (the views and reports show it as a
/// finding, [`crate::event::Finding`]); the state is what every readable record says.
pub fn replay(ledger: &Ledger, state: &mut State) -> Result<(), ServiceError> {
    crate::feed::replay(ledger, state.size, u64::MAX, |it| {
        match &it.record {
            Some(r) => state.apply_decoded(r, it.event.take()),
            None => state.skip(it.seq),
        }
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
        let mut state = State::default();
        replay(&ledger, &mut state)?;
        Ok(Self { ledger, state })
    }

    /// Takes an open ledger and a state already derived from its first `state.size` records (by a
    /// view store that checked it was derived from this log), and replays the rest.
    pub fn with_state(ledger: Ledger, mut state: State) -> Result<Self, ServiceError> {
        if state.size > ledger.size() {
            state = State::default();
        }
        replay(&ledger, &mut state)?;
        Ok(Self { ledger, state })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn data_dir(&self) -> PathBuf {
        self.ledger.dir().to_path_buf()
    }

    /// Decides and records `cmd` by `actor` at `now`. On success returns the receipts of the
    /// appended records, in order.
    pub fn execute(&mut self, actor: &str, cmd: &Command, now: DateTime<Utc>) -> Result<Vec<Receipt>, ServiceError> {
        match decide(&self.state, actor, cmd, now) {
            Ok(d) => {
                // Files first, then the events that name them (an interrupted command leaves at
                // most unreferenced, content-addressed files).
                for f in &d.artifacts {
                    evidence::store_artifact(self.ledger.dir(), &f.artifact.name, &f.bytes)?;
                }
                for doc in &d.documents {
                    evidence::store_document(self.ledger.dir(), doc)?;
                }
                let role = d.role.map_or("system", |r| r.as_str());
                self.append(actor, role, &d.events)
            }
            Err(refusal) => Err(self.refused(actor, refusal)?),
        }
    }

    /// A refusal: recorded as `access.denied` if it is one for lack of permission, then returned.
    fn refused(&mut self, actor: &str, refusal: Refusal) -> Result<ServiceError, ServiceError> {
        if let Some(denied) = &refusal.denied {
            let role = refusal.role.map_or("guest", |r| r.as_str());
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
        replay(&self.ledger, &mut self.state)?;
        Ok(receipt)
    }

    fn append(&mut self, actor: &str, role: &str, events: &[Event]) -> Result<Vec<Receipt>, ServiceError> {
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
        let receipts = self.ledger.append_decided_blocking(drafts)?;
        // Apply exactly what was written, as a replay would.
        replay(&self.ledger, &mut self.state)?;
        Ok(receipts)
    }
}
