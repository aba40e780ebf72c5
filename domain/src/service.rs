//! The glue between the rules and the log: replay the log into [`State`], decide a command, store
//! any evidence documents, append the events atomically, apply them.
//!
//! Each executed command is one atomic group of records, so a crash leaves all of a command's events
//! or none. A refusal appends nothing, except the `access.denied` record of a refusal for lack of
//! permission.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use relic_ledger::{Actor, Draft, Ledger, Receipt};

use crate::decide::{decide, Command, Refusal};
use crate::event::{Event, EventError};
use crate::evidence::{self, EvidenceError};
use crate::schema::{self, SchemaError};
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
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
}

impl From<crate::feed::FeedError> for ServiceError {
    fn from(e: crate::feed::FeedError) -> Self {
        match e {
            crate::feed::FeedError::Ledger(e) => ServiceError::Ledger(e),
            crate::feed::FeedError::Event(e) => ServiceError::Event(e),
        }
    }
}

/// An open ledger with its domain state.
pub struct Service {
    ledger: Ledger,
    state: State,
}

/// Replays every record of `ledger` from `state.size` on, validating payloads against their schemas.
pub fn replay(ledger: &Ledger, state: &mut State) -> Result<(), ServiceError> {
    crate::feed::replay(ledger, state.size, u64::MAX, |it| {
        state.apply_decoded(&it.record, it.event.take());
        Ok::<_, ServiceError>(true)
    })?;
    Ok(())
}

impl Service {
    /// Opens the ledger in `dir` for appending and replays it.
    pub fn open(dir: &Path) -> Result<Self, ServiceError> {
        let ledger = Ledger::open(dir)?;
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
                for doc in &d.documents {
                    evidence::store_document(self.ledger.dir(), doc)?;
                }
                let role = d.role.map_or("system", |r| r.as_str());
                self.append(actor, role, &d.events)
            }
            Err(refusal) => {
                if let Some(denied) = &refusal.denied {
                    let role = refusal.role.map_or("guest", |r| r.as_str());
                    self.append(actor, role, &[Event::AccessDenied(denied.clone())])?;
                }
                Err(ServiceError::Refused(refusal))
            }
        }
    }

    fn append(&mut self, actor: &str, role: &str, events: &[Event]) -> Result<Vec<Receipt>, ServiceError> {
        let mut drafts = Vec::with_capacity(events.len());
        for e in events {
            let version = relic_ledger::kind::schema_version(e.kind()).ok_or_else(|| relic_ledger::Error::UnknownKind(e.kind().into()))?;
            let payload = e.payload();
            schema::validate(e.kind(), version, &payload)?;
            drafts.push(Draft {
                actor: Actor { id: actor.to_string(), role: role.to_string() },
                kind: e.kind().to_string(),
                subject: e.subject(),
                payload: serde_json::to_vec(&payload).unwrap_or_default(),
                schema_version: version,
            });
        }
        let receipts = self.ledger.append_all_blocking(drafts)?;
        // Apply exactly what was written, as a replay would.
        replay(&self.ledger, &mut self.state)?;
        Ok(receipts)
    }
}
