//! relic's ledger: a signed, append-only, verifiable log of release events.
//!
//! Each record is signed with Ed25519 and linked to its predecessor by BLAKE3; all records are the
//! leaves of an RFC 6962 Merkle tree whose heads are published as C2SP signed checkpoints, with
//! inclusion proofs in the C2SP tlog-proof format. Anyone holding the log's verifier key can check
//! a record, a proof or the whole log without trusting relic.
//!
//! Modules, from pure to stateful:
//! - [`merkle`]: RFC 6962 tree math over a [`merkle::HashReader`] (no storage, no I/O);
//! - [`note`]: C2SP signed notes and key text forms;
//! - [`checkpoint`]: C2SP checkpoint bodies, tlog-proof bundles and the offline checks;
//! - [`record`]: the record and its exact bytes (`schemas/record-v1.md`);
//! - [`kind`]: the ledger's own two kinds (every other kind is the [`policy`]'s);
//! - [`policy`]: the gate every draft passes, supplied by whoever opens the ledger;
//! - [`store`]: the sled layout (`schemas/store-v2.md`);
//! - [`tiles`]: tree hashes kept 256 to a sled value;
//! - [`keys`]: private key files (mode 0600);
//! - [`paths`]: which user paths a command may read or write inside a data directory;
//! - [`ledger`]: group-committed appends, reads, checkpoints, proofs, key rotation;
//! - [`batch`]: Ed25519 batch verification with each key's terms gathered into one;
//! - [`verify`]: the full, streaming, parallel verification of a store;
//! - [`chain`]: the same per-record checks for records received one at a time;
//! - [`mirror`]: a verified copy of another node's log, built from its published record bytes;
//! - [`outbox`]: the publish cursor (records a broker acknowledged).

pub mod error;
pub mod keys;
pub mod ledger;
pub mod mirror;
pub mod outbox;
pub mod paths;
pub mod policy;
pub mod verify;

pub use relic_formats::{batch, chain, checkpoint, kind, merkle, note, record};
pub use relic_store::{packs, store, tiles};

pub use error::{Error, Result};
pub use ledger::{Ledger, Receipt, SignedCheckpoint};
pub use policy::{Door, Policy};
pub use record::{Actor, Draft, Record};

#[cfg(test)]
mod chain_tests;

#[cfg(test)]
pub(crate) mod test_support {
    use crate::record::{Actor, Draft};

    /// The draft the ledger's unit tests append: a made-up `test.updated` whose payload is `{"n": i}`.
    pub(crate) fn numbered_draft(i: usize) -> Draft {
        Draft {
            actor: Actor { id: "t".into(), role: "maintainer".into() },
            kind: "test.updated".into(),
            subject: "acme/app@v1".into(),
            payload: format!("{{\"n\":{i}}}").into_bytes(),
            schema_version: 1,
        }
    }
}
