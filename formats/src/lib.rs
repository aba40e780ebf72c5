//! relic's log formats and their math: what a record, a tree, a note and a checkpoint are, byte
//! for byte, and the rules that tie a sequence of records into one log. Everything an outside
//! verifier needs, and nothing else.
//!
//! What this is: pure functions and data types over bytes, each module implementing one
//! specification (the documents in `schemas/`, and the RFCs and C2SP specifications they cite):
//! - [`merkle`]: RFC 6962 / RFC 9162 §2.1 tree hashes, inclusion and consistency proofs, read
//!   through the one-method [`merkle::HashReader`];
//! - [`note`]: C2SP signed-note (Ed25519 keys, key IDs, text forms, signing and opening notes);
//! - [`checkpoint`]: C2SP tlog-checkpoint bodies, tlog-proof bundles and consistency proof lines,
//!   and the offline checks that combine them (`schemas/checkpoint-v1.md`);
//! - [`cosignature`]: C2SP tlog-cosignature (Ed25519, `cosignature/v1`): witness keys, the signed
//!   message, signing and verifying cosignatures of a checkpoint;
//! - [`record`]: the record and its exact bytes, strict decoding, input limits, the canonical
//!   payload (`schemas/record-v1.md`);
//! - [`kind`]: the two kinds the log itself writes (`ledger.created`, `key.rotated`);
//! - [`chain`]: the per-record rules of record-v1 §Verification (sequence, link, time, key
//!   history), the one implementation that full verification, mirrors and subscribers apply;
//! - [`witness`]: C2SP tlog-witness add-checkpoint: the request and the witness's checks;
//! - [`tiles`]: C2SP tlog-tiles coordinates, paths and entry bundles (`schemas/tiles-v1.md`);
//! - [`batch`]: Ed25519 batch verification with each key's terms gathered into one;
//! - [`hex`]: lower-case hexadecimal, for every byte string relic prints.
//!
//! What this is not: storage, I/O, threads or any domain rule. No file, socket or clock is touched
//! here (a record's time is given to it); `relic-store` keeps these bytes on disk and
//! `relic-ledger` writes and verifies logs with them.

pub mod batch;
pub mod chain;
pub mod checkpoint;
pub mod cosignature;
pub mod hex;
pub mod kind;
pub mod merkle;
pub mod note;
pub mod record;
pub mod texts;
pub mod tiles;
pub mod witness;
