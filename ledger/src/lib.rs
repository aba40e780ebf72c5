//! relic's ledger: a signed, append-only, verifiable log of release events.
//!
//! Each record is signed with Ed25519 and linked to its predecessor by BLAKE3; all records are the
//! leaves of an RFC 6962 Merkle tree whose heads are published as C2SP signed checkpoints, with
//! inclusion proofs in the C2SP tlog-proof format. Anyone holding the log's verifier key can check
//! a record, a proof or the whole log without trusting relic.
//!
//! What this is: the log's behaviour over its formats (`relic-formats`, pure) and its storage
//! (`relic-store`, which alone touches the disk's layout), opened with the [`policy`] of whoever
//! owns the rules (relic's binaries: the release domain's). Re-exported here under their old paths:
//! [`merkle`], [`note`], [`checkpoint`], [`record`], [`kind`], [`chain`], [`batch`] (formats) and
//! [`store`], [`layout`] (storage). Its own modules:
//! - [`policy`]: the gate every draft passes, supplied by whoever opens the ledger;
//! - [`ledger`]: [`Ledger`], group-committed appends (a sequencer thread that signs and links, the
//!   store's writer thread that commits), reads, checkpoints, proofs, key rotation;
//! - [`verify`]: the full, streaming, parallel verification of a store, trusting nothing in it;
//! - [`mirror`]: a verified copy of another node's log, built from its published record bytes,
//!   and which checkpoints a mirror may serve;
//! - [`outbox`]: the publish cursor (records a broker acknowledged);
//! - [`keys`]: private key files (mode 0600);
//! - [`paths`]: which user paths a command may read or write inside a data directory;
//! - [`error`]: the error type.
//!
//! What this is not: the domain. The ledger knows no kind but its own two; it never decides who
//! may write what.

pub mod error;
pub mod export;
pub mod keys;
pub mod ledger;
pub mod mirror;
pub mod outbox;
pub mod paths;
pub mod policy;
pub mod text_store;
pub mod verify;
pub mod witnesses;

pub use relic_formats::{batch, chain, checkpoint, cosignature, hex, kind, merkle, note, record, texts, tiles, witness};
pub use relic_store::{layout, store};

pub use error::{Error, Result};
pub use relic_store::Error as StoreError;
pub use ledger::{Ledger, Queued, Receipt, SignedCheckpoint};
pub use policy::{Door, Policy};
pub use record::{Actor, Draft, Record};

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod store_layout_tests;

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
