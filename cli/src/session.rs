//! The domain service for one command, with its state taken from the view store rather than by
//! replaying the whole log, and the view store brought up to date with what the command appended.
//!
//! The view store is derived data: if it cannot be used (it was derived from another log, its files
//! are damaged), it is rebuilt from the log, with a note on stderr; if even that fails (another
//! process holds it), the state is replayed from the log instead and the command goes ahead.

use std::path::Path;

use relic_domain::service::Service;
use relic_projector::store::{ViewStore, DEFAULT_BATCH};

use crate::domain_cmds::service_err;
use crate::Result;

/// Opens the ledger in `data` for appending, runs `f` with its domain service, then applies what
/// `f` appended to the views.
pub fn with_service<T>(data: &Path, f: impl FnOnce(&mut Service) -> Result<T>) -> Result<T> {
    let ledger = relic_domain::service::open_ledger(data).map_err(service_err)?;
    let (store, views) = match caught_up(data, &ledger) {
        Some((s, v)) => (Some(s), Some(v)),
        None => (None, None),
    };
    let updater = match (&store, views) {
        (Some(s), Some(v)) => s.updater_from(v).ok(),
        _ => None,
    };
    let state = updater.as_ref().map(|u| u.views().state.clone()).unwrap_or_default();
    let mut svc = Service::with_state(ledger, state).map_err(service_err)?;
    let result = f(&mut svc);
    if let Some(mut u) = updater {
        // Derived data: a failure here loses nothing, and the next read catches up.
        let _ = u.catch_up(svc.ledger(), DEFAULT_BATCH).and_then(|()| u.finish());
    }
    result
}

/// The view store of `data`, caught up with `ledger`, and its views; rebuilt from the log (and said
/// so) if what it holds does not fit the log or cannot be read. `None` if it cannot be opened.
fn caught_up(data: &Path, ledger: &relic_ledger::Ledger) -> Option<(ViewStore, relic_projector::store::Views)> {
    let store = ViewStore::open(data).ok()?;
    match store.catch_up(ledger, DEFAULT_BATCH) {
        Ok(views) => Some((store, views)),
        Err(e) => {
            let why = e.to_string();
            let why = why.split("; run `relic projections rebuild`").next().unwrap_or_default();
            relic_store::store::add_note(format!("{}: {why}; rebuilt from the log", relic_projector::store::path(data).display()));
            store.rebuild(ledger, DEFAULT_BATCH).ok()
        }
    }
}
