//! Streaming verification of a log that arrives one record at a time, with no store behind it.
//!
//! What this is: the per-record rules of `schemas/record-v1.md` §Verification (steps 5–9, 11–13)
//! applied to records as they are received, from a broker for instance: strict decoding, sequence
//! number, predecessor link (the genesis link for record 0), time order, the signing key from the key
//! history replayed from the records (record 0 introduces it, `key.rotated` switches it), and the
//! signature. The state it carries ([`ChainState`]) is small and can be saved and resumed.
//!
//! What this is not: tree hashes or checkpoints (those need the records' hashes, see
//! [`crate::mirror`]), nor storage. The checks themselves are [`crate::verify`]'s, shared with it.

use crate::kind;
use crate::ledger::check_origin;
use crate::note::VerifierKey;
use crate::record::{genesis_link, link_of, Record};
use crate::store::KeyEntry;
use crate::verify::{rotate, signing_key};

/// A record that is not the next record of the log, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {seq}: {reason}")]
pub struct ChainError {
    pub seq: u64,
    pub reason: String,
}

fn err(seq: u64, reason: impl Into<String>) -> ChainError {
    ChainError { seq, reason: reason.into() }
}

/// Everything needed to check the next record: the log's origin, how many records were accepted,
/// the link the next one must carry, the last record's time and the key history so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    pub origin: String,
    pub size: u64,
    pub link: [u8; 32],
    pub last_time_us: i64,
    pub keys: Vec<KeyEntry>,
}

/// What a received record turned out to be.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived: returned and matched at once
pub enum Step {
    /// The next record: it passed every check and the chain advanced past it. `key` is the key that
    /// signs it (its signature is checked by [`Chain::accept`], not by [`Chain::check_next`]).
    Next { record: Record, key: VerifierKey },
    /// A well-formed record at a position already accepted (a re-send); the chain did not move. The
    /// caller decides whether it is an exact duplicate.
    Earlier(Record),
}

/// A log being received in order. Every method leaves the chain unchanged when it returns an error.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// `None` until record 0 is accepted.
    state: Option<ChainState>,
    /// A verifier key obtained out of band: record 0 must introduce exactly this key.
    pinned: Option<VerifierKey>,
}

impl Chain {
    /// A chain expecting record 0. With `pinned`, record 0 must introduce that key.
    pub fn new(pinned: Option<VerifierKey>) -> Self {
        Self { state: None, pinned }
    }

    /// Resumes from a saved state. With `pinned`, the state's first key must be that key.
    pub fn resume(state: ChainState, pinned: Option<VerifierKey>) -> Result<Self, ChainError> {
        if state.keys.is_empty() || state.size == 0 {
            return Err(err(0, "the saved state has no records or no key history"));
        }
        if let Some(p) = &pinned {
            if state.keys[0].key != *p {
                return Err(err(0, format!("it introduces key {}, not the pinned key {p}", state.keys[0].key)));
            }
        }
        Ok(Self { state: Some(state), pinned })
    }

    /// The state after the last accepted record (`None` before record 0).
    pub fn state(&self) -> Option<&ChainState> {
        self.state.as_ref()
    }

    /// Number of records accepted: the sequence number the next record must carry.
    pub fn size(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.size)
    }

    /// The log's origin, once record 0 named it.
    pub fn origin(&self) -> Option<&str> {
        self.state.as_ref().map(|s| s.origin.as_str())
    }

    /// The key record 0 must introduce, if one was pinned.
    pub fn pinned(&self) -> Option<&VerifierKey> {
        self.pinned.as_ref()
    }

    /// The key history replayed so far.
    pub fn keys(&self) -> &[KeyEntry] {
        self.state.as_ref().map_or(&[], |s| s.keys.as_slice())
    }

    /// Checks everything but the signature of a received record, and advances past it if it is the
    /// next one. Errors name the position concerned: the record's own, or the missing one.
    pub fn check_next(&mut self, bytes: &[u8]) -> Result<Step, ChainError> {
        let expected = self.size();
        let rec = Record::decode(bytes).map_err(|e| err(expected, format!("malformed: {e}")))?;
        if rec.seq < expected {
            return Ok(Step::Earlier(rec));
        }
        if rec.seq > expected {
            return Err(err(expected, format!("is missing: the next record received is record {}", rec.seq)));
        }
        let Some(s) = self.state.as_mut() else { return self.first(rec, bytes) };
        if rec.prev != s.link {
            return Err(err(expected, format!("predecessor link does not match record {}", expected - 1)));
        }
        if rec.time_us < s.last_time_us {
            return Err(err(expected, "its time is earlier than the previous record's"));
        }
        // Neither changes the key history unless it succeeds (and only record 0 or a rotation does).
        let key = signing_key(&mut s.keys, &rec, &s.origin).map_err(|e| err(expected, e))?;
        if rec.kind == kind::KEY_ROTATED {
            rotate(&mut s.keys, &rec, &s.origin).map_err(|e| err(expected, e))?;
        }
        s.size = expected + 1;
        s.link = link_of(bytes);
        s.last_time_us = rec.time_us;
        Ok(Step::Next { record: rec, key })
    }

    /// Record 0: it names the origin, whose genesis link it must carry, and introduces the first key.
    fn first(&mut self, rec: Record, bytes: &[u8]) -> Result<Step, ChainError> {
        let p = rec.payload_json();
        let origin = p
            .get("origin")
            .and_then(|o| o.as_str())
            .ok_or_else(|| err(0, format!("record 0 must be {} naming the origin", kind::LEDGER_CREATED)))?;
        check_origin(origin).map_err(|e| err(0, e.to_string()))?;
        if rec.prev != genesis_link(origin) {
            return Err(err(0, "predecessor link does not match the genesis link of its origin"));
        }
        let mut keys = Vec::new();
        let key = signing_key(&mut keys, &rec, origin).map_err(|e| err(0, e))?;
        if let Some(p) = &self.pinned {
            if key != *p {
                return Err(err(0, format!("it introduces key {key}, not the pinned key {p}")));
            }
        }
        self.state = Some(ChainState { origin: origin.to_string(), size: 1, link: link_of(bytes), last_time_us: rec.time_us, keys });
        Ok(Step::Next { record: rec, key })
    }

    /// [`Chain::check_next`] and the signature (RFC 8032 strict verification): the record is the
    /// next one of the log only if both pass.
    pub fn accept(&mut self, bytes: &[u8]) -> Result<Step, ChainError> {
        let before = self.state.clone();
        let step = self.check_next(bytes)?;
        if let Step::Next { record, key } = &step {
            if !record.verify_signature(key) {
                self.state = before;
                return Err(err(record.seq, "signature does not verify"));
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, Ledger};

    fn log(n: usize) -> (tempfile::TempDir, Vec<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::init(dir.path(), "chain.test/log", crate::policy::unchecked()).unwrap();
        for i in 0..n {
            let d = crate::record::numbered_draft(i);
            if i == n / 2 {
                l.rotate_key_blocking(Actor { id: "o".into(), role: "owner".into() }).unwrap();
            }
            l.append_blocking(d).unwrap();
        }
        let records = l.records(0).map(|r| r.unwrap().1).collect();
        (dir, records)
    }

    #[test]
    fn accepts_a_log_in_order_across_a_rotation_and_resumes() {
        let (_d, recs) = log(6);
        let mut c = Chain::new(None);
        for (i, b) in recs.iter().enumerate() {
            assert!(matches!(c.accept(b).unwrap(), Step::Next { .. }), "record {i}");
        }
        assert_eq!(c.size(), recs.len() as u64);
        assert_eq!(c.keys().len(), 2);
        assert!(matches!(c.accept(&recs[2]).unwrap(), Step::Earlier(r) if r.seq == 2));
        let mut again = Chain::resume(c.state().unwrap().clone(), None).unwrap();
        assert_eq!(again.size(), c.size());
        assert!(matches!(again.accept(&recs[3]).unwrap(), Step::Earlier(_)));
    }

    #[test]
    fn names_the_position_of_what_is_wrong_and_does_not_move() {
        let (_d, recs) = log(4);
        let mut c = Chain::new(None);
        assert_eq!(c.accept(&recs[1]).unwrap_err().seq, 0, "record 0 missing");
        c.accept(&recs[0]).unwrap();
        c.accept(&recs[1]).unwrap();
        let e = c.accept(&recs[3]).unwrap_err();
        assert_eq!((e.seq, e.to_string().contains("missing")), (2, true), "{e}");
        let mut forged = recs[2].clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(c.accept(&forged).unwrap_err(), err(2, "signature does not verify"));
        let e = c.accept(&forged[..10]).unwrap_err();
        assert!(e.seq == 2 && e.reason.contains("malformed"), "{e}");
        assert_eq!(c.size(), 2);
        c.accept(&recs[2]).unwrap();
    }

    #[test]
    fn a_pinned_key_must_be_the_one_record_0_introduces() {
        let (_d, recs) = log(1);
        let (_e, other) = log(1);
        let mut c = Chain::new(None);
        c.accept(&other[0]).unwrap();
        let foreign = c.keys()[0].key.clone();
        let mut pinned = Chain::new(Some(foreign));
        assert!(pinned.accept(&recs[0]).unwrap_err().reason.contains("pinned key"));
    }
}
