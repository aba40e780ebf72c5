//! The ledger's own two kinds. Every other kind, its schema version and its rules belong to the
//! [`crate::policy::Policy`] the ledger is opened with: the ledger knows no domain kind.
//!
//! The two kinds here are reserved: no draft of either is admitted through
//! [`crate::Ledger::append`]; the ledger writes them itself.

/// Record 0 of every log: names the origin and introduces the first signing key.
pub const LEDGER_CREATED: &str = "ledger.created";
/// Introduces a new signing key; signed by the outgoing key. Records after it are signed by the new key.
pub const KEY_ROTATED: &str = "key.rotated";

/// The ledger's own kinds with the schema version it writes them at.
pub const OWN: [(&str, u16); 2] = [(LEDGER_CREATED, 1), (KEY_ROTATED, 1)];

/// True for the kinds only the ledger writes.
pub fn is_reserved(kind: &str) -> bool {
    kind == LEDGER_CREATED || kind == KEY_ROTATED
}
