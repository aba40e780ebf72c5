//! The domain service for one command, with its state taken from the view store rather than by
//! replaying the whole log, and the view store brought up to date with what the command appended.
//!
//! The view store is derived data: if it cannot be used (another process holds it, it was derived
//! from another log, it is unreadable), the state is replayed from the log instead and the command
//! goes ahead; the views catch up on the next read.

use std::path::Path;

use relic_domain::service::Service;
use relic_projector::store::{ViewStore, DEFAULT_BATCH};

use crate::domain_cmds::service_err;
use crate::Result;

/// Opens the ledger in `data` for appending, runs `f` with its domain service, then applies what
/// `f` appended to the views.
pub fn with_service<T>(data: &Path, f: impl FnOnce(&mut Service) -> Result<T>) -> Result<T> {
    let ledger = relic_domain::service::open_ledger(data).map_err(service_err)?;
    let store = ViewStore::open(data).ok();
    let mut updater = store.as_ref().and_then(|s| s.updater().ok());
    if updater.as_mut().is_some_and(|u| u.catch_up(&ledger, DEFAULT_BATCH).is_err()) {
        updater = None;
    }
    let state = updater.as_ref().map(|u| u.views().state.clone()).unwrap_or_default();
    let mut svc = Service::with_state(ledger, state).map_err(service_err)?;
    let result = f(&mut svc);
    if let Some(mut u) = updater {
        // Derived data: a failure here loses nothing, and the next read catches up.
        let _ = u.catch_up(svc.ledger(), DEFAULT_BATCH).and_then(|()| u.finish());
    }
    result
}
