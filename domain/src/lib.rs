//! relic's release domain: every mutation a release team makes is a [`decide::Command`], checked
//! against the state the log describes ([`state::State`]) and, if valid, recorded as signed events
//! ([`event::Event`]); a refused one changes nothing, except that a refusal for lack of permission
//! records an `access.denied` event.
//!
//! - [`catalogue`]: the kinds, derived from the schema files in `schemas/events/`;
//! - [`policy`]: the gate the ledger is opened with: kinds, versions, schemas, who writes what;
//! - [`event`]: the payload of every kind with rules (the log's vocabulary);
//! - [`state`]: the fold of the log into current state;
//! - [`feed`]: the log read back as events, decoded on every core, in order;
//! - [`decide`]: commands and the rules, with the reference's exact error texts;
//! - [`internal`]: the internal-release lifecycle and versioning rule;
//! - [`freeze`]: deploy freeze periods (cron, time zones);
//! - [`evidence`]: evidence documents, their digests and the content-addressed store;
//! - [`schedule`]: which upcoming releases' evidence is due, exactly once;
//! - [`timing`]: typed times and the release rules that compare them (historical, upcoming);
//! - [`schema`]: JSON Schema validation of payloads, and upcasting of older versions;
//! - [`payload`]: a payload's JSON read in place, for the schema check on read-back;
//! - [`service`]: the glue: replay, decide, store documents, append.

pub mod catalogue;
pub mod confidential;
pub mod decide;
pub mod event;
pub mod evidence;
pub mod evidence_bundle;
pub mod feed;
pub mod import;
pub mod freeze;
pub mod internal;
pub mod payload;
pub mod policy;
pub mod schedule;
pub mod schema;
pub mod service;
pub mod state;
pub mod timing;
pub mod tokens;
