//! Projections: everything a user reads is derived from the log by replaying its records in order.
//!
//! Records come from [`relic_domain::feed`], which decodes them on every core and hands them out in
//! sequence order, exactly once each. On it this crate builds the release views and time travel
//! ([`views`], [`history`]), the audit trail a compliance report needs ([`audit`]), the incremental
//! view store ([`store`]) and the compliance report ([`report`]). Every view says which log state
//! (tree size and root) it reflects.

pub mod audit;
pub mod history;
pub mod report;
pub mod store;
pub mod views;
