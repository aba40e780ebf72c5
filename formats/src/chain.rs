//! Streaming verification of a log that arrives one record at a time, with no store behind it.
//!
//! What this is: the per-record rules of `schemas/record-v1.md` §Verification (steps 5–9, 11–13)
//! applied to records as they are received, from a broker for instance: strict decoding, sequence
//! number, predecessor link (the genesis link for record 0), time order, the signing key from the key
//! history replayed from the records (record 0 introduces it, `key.rotated` switches it), and the
//! signature. The state it carries ([`ChainState`]) is small and can be saved and resumed.
//!
//! The rules themselves are [`ChainState::advance`], the one implementation of them: a store's full
//! verification (`relic_ledger::verify`) and a mirror apply it to every record they read, and
//! [`Chain`] to records received one by one.
//!
//! Also [`checkpoint_signers`]: which keys of the history may sign a checkpoint of a given size.
//!
//! What this is not: tree hashes or checkpoints (those need the records' hashes, see
//! `relic_ledger::mirror`), nor storage. Pure: no I/O.

use crate::kind;
use crate::note::{key_id_hex, VerifierKey};
use crate::record::{genesis_link, link_of, Record};

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

/// A signing key and the first record it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    pub key: VerifierKey,
    pub from_seq: u64,
}

/// The keys that may sign a checkpoint of `size` records (`schemas/record-v1.md` §Which key signs
/// a checkpoint): the key in force at `size` (the last of `history` whose `from_seq` is at most
/// `size`: the one that signs record `size`) and every later key, never a key replaced at or before
/// `size`. A retired key alone thus cannot vouch for a tree that holds its own retirement.
pub fn checkpoint_signers(history: &[KeyEntry], size: u64) -> Vec<VerifierKey> {
    history
        .iter()
        .enumerate()
        .filter(|(i, _)| history.get(i + 1).is_none_or(|next| next.from_seq > size))
        .map(|(_, k)| k.key.clone())
        .collect()
}

/// Why an origin is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid origin {0:?}: it must be non-empty, at most 255 bytes, without spaces, '+' or control characters")]
pub struct OriginError(pub String);

/// Checks an origin: it names the log in checkpoints and is the signing key's name
/// (`schemas/checkpoint-v1.md`).
pub fn check_origin(origin: &str) -> Result<(), OriginError> {
    if origin.is_empty() || origin.len() > 255 || origin.chars().any(|c| c.is_whitespace() || c.is_control() || c == '+') {
        return Err(OriginError(origin.to_string()));
    }
    Ok(())
}

impl ChainState {
    /// The state before record 0 of the log named `origin`: the genesis link, no key yet.
    pub fn genesis(origin: &str) -> Self {
        Self { origin: origin.to_string(), size: 0, link: genesis_link(origin), last_time_us: i64::MIN, keys: Vec::new() }
    }

    /// The per-record rules of `schemas/record-v1.md` §Verification (steps 6–9, 11–12): `rec`
    /// (decoded from `bytes`) carries the next sequence number, the link of the record before it
    /// (the genesis link for record 0), a time no earlier than its predecessor's, and the key ID of
    /// the key that holds at its position (record 0, `ledger.created`, introduces the first key,
    /// naming this origin; `key.rotated` introduces the next one, for the records after it). On
    /// success the state has advanced past `rec`; the returned key is the one its signature must
    /// verify under (step 10, checked by the caller, alone or in a batch). On error (one line, no
    /// position: the caller knows it) the state is unchanged.
    pub fn advance(&mut self, rec: &Record, bytes: &[u8]) -> Result<VerifierKey, String> {
        if rec.seq != self.size {
            return Err(format!("carries sequence number {}", rec.seq));
        }
        if rec.prev != self.link {
            return Err(if rec.seq == 0 {
                "predecessor link does not match the genesis link of its origin".to_string()
            } else {
                format!("predecessor link does not match record {}", rec.seq - 1)
            });
        }
        if rec.time_us < self.last_time_us {
            return Err("its time is earlier than the previous record's".into());
        }
        // Nothing changes until every rule passed.
        let (key, first) = signing_key(&self.keys, rec, &self.origin)?;
        let next = if rec.kind == kind::KEY_ROTATED { Some(rotation(&self.keys, &key, rec, &self.origin)?) } else { None };
        self.keys.extend(first.into_iter().chain(next));
        self.size = rec.seq + 1;
        self.link = link_of(bytes);
        self.last_time_us = rec.time_us;
        Ok(key)
    }
}

/// The key that must have signed `rec`, from the key history replayed so far, and for record 0 the
/// entry that starts the history.
fn signing_key(keys: &[KeyEntry], rec: &Record, origin: &str) -> Result<(VerifierKey, Option<KeyEntry>), String> {
    let (current, first) = if rec.seq == 0 {
        if rec.kind != kind::LEDGER_CREATED {
            return Err(format!("record 0 must be {}, found {}", kind::LEDGER_CREATED, rec.kind));
        }
        let p = rec.payload_strict()?;
        if p.get("origin").and_then(|o| o.as_str()) != Some(origin) {
            return Err("it names another origin than this store's".into());
        }
        let key = introduced_key(&p, "key", origin)?;
        (key.clone(), Some(KeyEntry { key, from_seq: 0 }))
    } else if rec.kind == kind::LEDGER_CREATED {
        return Err(format!("{} may only be record 0", kind::LEDGER_CREATED));
    } else {
        (keys.last().map(|k| k.key.clone()).ok_or("no signing key is established")?, None)
    };
    if rec.key_id != current.key_id {
        return Err(format!(
            "signed by key {}, but key {} holds from record {}",
            key_id_hex(&rec.key_id),
            key_id_hex(&current.key_id),
            keys.last().map_or(0, |k| k.from_seq)
        ));
    }
    Ok((current, first))
}

fn introduced_key(p: &serde_json::Value, field: &str, origin: &str) -> Result<VerifierKey, String> {
    let text = p.get(field).and_then(|k| k.as_str()).ok_or_else(|| format!("payload has no {field}"))?;
    let key = VerifierKey::parse(text).map_err(|e| format!("{field}: {e}"))?;
    if key.name != origin {
        return Err(format!("{field} is named {:?}, not the origin", key.name));
    }
    if key.key.is_weak() {
        return Err(format!("{field} is a weak (small-order) key"));
    }
    Ok(key)
}

/// The entry a `key.rotated` record adds: the key it introduces signs every record after it.
/// `current` is the key that holds at the record (and signs it).
fn rotation(keys: &[KeyEntry], current: &VerifierKey, rec: &Record, origin: &str) -> Result<KeyEntry, String> {
    let p = rec.payload_strict()?;
    let previous = introduced_key(&p, "previous_key", origin)?;
    if previous != *current {
        return Err("previous_key is not the key that held before it".into());
    }
    let new = introduced_key(&p, "new_key", origin)?;
    if keys.iter().any(|k| k.key.key_id == new.key_id) {
        return Err("new_key reuses the ID of an earlier key".into());
    }
    Ok(KeyEntry { key: new, from_seq: rec.seq + 1 })
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
        let key = s.advance(&rec, bytes).map_err(|e| err(expected, e))?;
        Ok(Step::Next { record: rec, key })
    }

    /// Record 0: it names the origin, whose genesis link it must carry, and introduces the first key.
    fn first(&mut self, rec: Record, bytes: &[u8]) -> Result<Step, ChainError> {
        let p = rec.payload_strict().map_err(|e| err(0, e))?;
        let origin = p
            .get("origin")
            .and_then(|o| o.as_str())
            .ok_or_else(|| err(0, format!("record 0 must be {} naming the origin", kind::LEDGER_CREATED)))?;
        check_origin(origin).map_err(|e| err(0, e.to_string()))?;
        let mut state = ChainState::genesis(origin);
        let key = state.advance(&rec, bytes).map_err(|e| err(0, e))?;
        if let Some(p) = &self.pinned {
            if key != *p {
                return Err(err(0, format!("it introduces key {key}, not the pinned key {p}")));
            }
        }
        self.state = Some(state);
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
    use crate::note::SignerKey;

    #[test]
    fn a_key_replaced_at_or_before_a_size_may_not_sign_it() {
        let k = |seed: u8| SignerKey::from_seed("example.com/log", [seed; 32]).unwrap().verifier().clone();
        // K1 signs records 0..=4; record 4 rotates to K2 (from 5); record 9 rotates to K3 (from 10).
        let h = [KeyEntry { key: k(1), from_seq: 0 }, KeyEntry { key: k(2), from_seq: 5 }, KeyEntry { key: k(3), from_seq: 10 }];
        assert_eq!(checkpoint_signers(&h, 4), [k(1), k(2), k(3)], "before the rotation is in the tree: K1, and the later keys");
        assert_eq!(checkpoint_signers(&h, 5), [k(2), k(3)], "the tree holding K1's retirement: not K1");
        assert_eq!(checkpoint_signers(&h, 12), [k(3)]);
        assert_eq!(checkpoint_signers(&h[..1], 0), [k(1)]);
    }
}
