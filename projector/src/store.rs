//! The incremental view store: the domain state as of `applied` records, kept in its own sled
//! database at `<data>/views`, separate from the log so that it can be dropped and rebuilt at will.
//!
//! Records are applied in batches; after each batch the state and the number of records applied are
//! written in one atomic sled batch and flushed. A crash between two batches loses only work that
//! was never written: the next run resumes from the stored `applied` and applies each record
//! exactly once. `rebuild` starts again from record 0.

use std::path::{Path, PathBuf};

use relic_domain::state::State;
use relic_ledger::{Ledger, Record};

use crate::views::ViewError;

const KEY_STATE: &[u8] = b"state";
const KEY_APPLIED: &[u8] = b"applied";
/// The tree head at `applied`: ties the stored state to the log it was derived from.
const KEY_ROOT: &[u8] = b"root";
/// Records applied between two writes of the state.
pub const DEFAULT_BATCH: u64 = 50_000;

/// Where the view store of the ledger in `data` lives.
pub fn path(data: &Path) -> PathBuf {
    data.join("views")
}

pub struct ViewStore {
    db: sled::Db,
}

fn storage(e: sled::Error) -> ViewError {
    ViewError::Invalid(format!("view store: {e}"))
}

impl ViewStore {
    pub fn open(data: &Path) -> Result<Self, ViewError> {
        let db = sled::Config::new().path(path(data)).cache_capacity(32 << 20).open().map_err(storage)?;
        Ok(Self { db })
    }

    /// The number of records the stored state reflects.
    pub fn applied(&self) -> Result<u64, ViewError> {
        Ok(self
            .db
            .get(KEY_APPLIED)
            .map_err(storage)?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// The stored state (empty if nothing was applied yet).
    pub fn load(&self) -> Result<State, ViewError> {
        match self.db.get(KEY_STATE).map_err(storage)? {
            None => Ok(State::default()),
            Some(b) => {
                let st: State = serde_json::from_slice(&b).map_err(|e| ViewError::Invalid(format!("view store: unreadable state: {e}")))?;
                if st.size != self.applied()? {
                    return Err(ViewError::Invalid("view store: state and applied count disagree; run `relic projections rebuild`".into()));
                }
                Ok(st)
            }
        }
    }

    /// Writes `state`, its applied count and the log's tree head at that count atomically, then
    /// flushes.
    pub fn save(&self, state: &State, ledger: &Ledger) -> Result<(), ViewError> {
        let bytes = serde_json::to_vec(state).map_err(|e| ViewError::Invalid(e.to_string()))?;
        let mut batch = sled::Batch::default();
        batch.insert(KEY_STATE, bytes);
        batch.insert(KEY_APPLIED, &state.size.to_be_bytes()[..]);
        batch.insert(KEY_ROOT, &ledger.root(state.size)?[..]);
        self.db.apply_batch(batch).map_err(storage)?;
        self.db.flush().map_err(storage)?;
        Ok(())
    }

    /// Applies every record past the stored state, `batch` at a time, saving after each batch.
    /// Returns the up-to-date state.
    pub fn catch_up(&self, ledger: &Ledger, batch: u64) -> Result<State, ViewError> {
        let mut st = self.load()?;
        let end = ledger.size();
        if st.size > end {
            return Err(ViewError::Invalid(format!("view store has applied {} records but the log holds {end}; run `relic projections rebuild`", st.size)));
        }
        if st.size > 0 {
            let stored = self.db.get(KEY_ROOT).map_err(storage)?;
            if stored.as_deref() != Some(&ledger.root(st.size)?[..]) {
                return Err(ViewError::Invalid("view store was derived from another log; run `relic projections rebuild`".into()));
            }
        }
        let mut since_save = 0u64;
        for item in ledger.records(st.size) {
            let (seq, bytes) = item?;
            let rec = Record::decode(&bytes).map_err(|e| relic_ledger::Error::Corrupt(format!("record {seq}: {e}")))?;
            st.apply(&rec)?;
            since_save += 1;
            if since_save == batch.max(1) {
                self.save(&st, ledger)?;
                since_save = 0;
            }
        }
        if since_save > 0 {
            self.save(&st, ledger)?;
        }
        Ok(st)
    }

    /// Forgets everything and applies the whole log again.
    pub fn rebuild(&self, ledger: &Ledger, batch: u64) -> Result<State, ViewError> {
        self.save(&State::default(), ledger)?;
        self.catch_up(ledger, batch)
    }
}
