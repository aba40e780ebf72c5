//! The record: relic's log entry, and its exact bytes (`schemas/record-v1.md`).
//!
//! What this is: the struct, the canonical binary encoding that is hashed (BLAKE3 for the predecessor
//! link, RFC 6962 SHA-256 for the Merkle leaf) and signed (Ed25519), strict decoding, and the input
//! limits. Every function here is pure. What this is not: deciding what a record may contain
//! (kinds, payload schemas) beyond its shape; see [`crate::kind`].

use chrono::{DateTime, SecondsFormat, Utc};

use crate::note::VerifierKey;

/// The first byte of every record: the encoding version.
pub const FORMAT_V1: u8 = 0x01;
/// Domain separation for record signatures: the signed message is this prefix followed by the body.
pub const SIGNING_CONTEXT: &[u8] = b"relic/record/v1\n";
/// Domain separation for the predecessor link of record 0: `BLAKE3(GENESIS_CONTEXT || origin)`.
pub const GENESIS_CONTEXT: &[u8] = b"relic/genesis/v1\n";

/// Largest payload accepted, in bytes of JSON text.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// Largest subject, in bytes.
pub const MAX_SUBJECT: usize = 1024;
/// Largest actor identity, in bytes.
pub const MAX_ACTOR: usize = 255;
/// Largest kind name, in bytes.
pub const MAX_KIND: usize = 64;

/// The roles an actor can hold, lowest first, plus `system` for records the ledger itself writes
/// and `none` for an actor who held no role (a non-member's refused command, `access.denied`).
pub const ROLES: [&str; 7] = ["guest", "reporter", "developer", "maintainer", "owner", "system", "none"];

/// Why bytes are not a well-formed record, or a field is out of its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is truncated (needs {needed} bytes at offset {offset})")]
    Truncated { offset: usize, needed: usize },
    #[error("unknown record format version {0:#04x}")]
    Version(u8),
    #[error("{0} bytes follow the signature")]
    TrailingBytes(usize),
    #[error("{field} is not valid UTF-8")]
    Utf8 { field: &'static str },
    #[error("invalid {field}: {reason}")]
    Field { field: &'static str, reason: String },
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

/// A record as appended: everything but what the ledger assigns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub actor: Actor,
    pub kind: String,
    pub subject: String,
    /// JSON text of a JSON object, compact (as produced by [`canonical_payload`]).
    pub payload: Vec<u8>,
    pub schema_version: u16,
}

/// A signed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub schema_version: u16,
    pub key_id: [u8; 4],
    /// BLAKE3 of the previous record's bytes, or [`genesis_link`] for record 0.
    pub prev: [u8; 32],
    pub actor: Actor,
    pub kind: String,
    pub subject: String,
    pub payload: Vec<u8>,
    pub signature: [u8; 64],
}

/// The predecessor link of record 0 in the log named `origin`.
pub fn genesis_link(origin: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(GENESIS_CONTEXT);
    h.update(origin.as_bytes());
    *h.finalize().as_bytes()
}

/// The predecessor link a record's successor carries: BLAKE3 of the record's bytes.
pub fn link_of(record_bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(record_bytes).as_bytes()
}

fn field_err(field: &'static str, reason: impl Into<String>) -> RecordError {
    RecordError::Field { field, reason: reason.into() }
}

fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), RecordError> {
    if s.is_empty() {
        return Err(field_err(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(field_err(field, format!("is {} bytes, the limit is {max}", s.len())));
    }
    if s.chars().any(char::is_control) {
        return Err(field_err(field, "must not contain control characters"));
    }
    Ok(())
}

/// Checks a kind name: dot-separated lower-case words, e.g. `release.created`.
pub fn check_kind_syntax(kind: &str) -> Result<(), RecordError> {
    check_text("kind", kind, MAX_KIND)?;
    let ok = kind.split('.').count() >= 2
        && kind.split('.').all(|w| {
            w.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !ok {
        return Err(field_err("kind", format!("{kind:?} is not of the form word.word (lower-case letters, digits, _)")));
    }
    Ok(())
}

/// Parses payload text and returns its canonical form: compact JSON (no insignificant whitespace),
/// object keys sorted by their UTF-8 bytes at every level, strings escaped as serde_json escapes them,
/// numbers exactly as written (serde_json's `arbitrary_precision`: never rounded through a float).
/// The payload must be a JSON object of at most [`MAX_PAYLOAD`] bytes (before and after).
pub fn canonical_payload(text: &[u8]) -> Result<Vec<u8>, RecordError> {
    if text.len() > MAX_PAYLOAD {
        return Err(field_err("payload", format!("is {} bytes, the limit is {MAX_PAYLOAD}", text.len())));
    }
    let v = strict_json(text).map_err(|e| field_err("payload", format!("malformed JSON: {e}")))?;
    if !v.is_object() {
        return Err(field_err("payload", "must be a JSON object"));
    }
    let out = canonical_json(&v);
    if out.len() > MAX_PAYLOAD {
        return Err(field_err("payload", format!("is {} bytes, the limit is {MAX_PAYLOAD}", out.len())));
    }
    Ok(out)
}

/// Parses `text` as strict JSON (`schemas/events/README.md` §Strict JSON): one value, nothing
/// after it but whitespace, and no object with two members of the same name at any depth. Parsers
/// disagree on which of two duplicates wins, so two verifiers could read one payload two ways:
/// relic reads none.
pub fn strict_json(text: &[u8]) -> Result<serde_json::Value, String> {
    use serde::Deserialize as _;
    // First a pass that only looks at member names (numbers are read however serde_json's
    // features make it read them), then the value itself.
    let mut de = serde_json::Deserializer::from_slice(text);
    NoDuplicates::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// A JSON value walked only to refuse an object with two members of the same name.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor).map(|()| NoDuplicates)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(k) = map.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate member {k:?}")));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(())
    }
}

/// `v` in the canonical form described at [`canonical_payload`] (also used for evidence documents).
pub fn canonical_json(v: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing JSON values into a Vec cannot fail: every map key is a string.
    let _ = write_canonical(v, &mut out);
    out
}

/// Writes `v` in the canonical form described at [`canonical_payload`]. Keys are sorted here rather
/// than by relying on serde_json's map type, whose order changes with its `preserve_order` feature.
fn write_canonical(v: &serde_json::Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, k)?;
                out.push(b':');
                write_canonical(v, out)?;
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(v, out)?;
            }
            out.push(b']');
        }
        other => serde_json::to_writer(&mut *out, other)?,
    }
    Ok(())
}

/// The earliest record time: 0001-01-01T00:00:00Z, in microseconds since 1970.
pub const MIN_TIME_US: i64 = -62_135_596_800_000_000;
/// The latest record time: 9999-12-31T23:59:59.999999Z (RFC 3339 has four-digit years).
pub const MAX_TIME_US: i64 = 253_402_300_799_999_999;

/// A record's time must be one RFC 3339 can write (`schemas/record-v1.md`).
pub fn check_time(time_us: i64) -> Result<(), RecordError> {
    if (MIN_TIME_US..=MAX_TIME_US).contains(&time_us) {
        Ok(())
    } else {
        Err(field_err("time", format!("{time_us} µs is outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z")))
    }
}

/// The limits every record's text fields obey, whether drafted or decoded.
fn check_fields(actor: &Actor, kind: &str, subject: &str, schema_version: u16) -> Result<(), RecordError> {
    check_text("actor", &actor.id, MAX_ACTOR)?;
    if !ROLES.contains(&actor.role.as_str()) {
        return Err(field_err("role", format!("{:?} is not one of {}", actor.role, ROLES.join(", "))));
    }
    check_kind_syntax(kind)?;
    check_text("subject", subject, MAX_SUBJECT)?;
    if schema_version == 0 {
        return Err(field_err("schema version", "must be at least 1"));
    }
    Ok(())
}

impl Draft {
    /// Checks every field against the record format's limits (not against the kind catalogue).
    pub fn check(&self) -> Result<(), RecordError> {
        check_fields(&self.actor, &self.kind, &self.subject, self.schema_version)?;
        if self.payload.len() > MAX_PAYLOAD {
            return Err(field_err("payload", format!("is {} bytes, the limit is {MAX_PAYLOAD}", self.payload.len())));
        }
        std::str::from_utf8(&self.payload).map_err(|_| RecordError::Utf8 { field: "payload" })?;
        Ok(())
    }
}

impl Record {
    /// The body: every field but the signature, in the order and widths of `schemas/record-v1.md`.
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(80 + self.actor.id.len() + self.subject.len() + self.payload.len());
        b.push(FORMAT_V1);
        b.extend_from_slice(&self.seq.to_be_bytes());
        b.extend_from_slice(&self.time_us.to_be_bytes());
        b.extend_from_slice(&self.schema_version.to_be_bytes());
        b.extend_from_slice(&self.key_id);
        b.extend_from_slice(&self.prev);
        b.push(self.actor.id.len() as u8);
        b.extend_from_slice(self.actor.id.as_bytes());
        b.push(self.actor.role.len() as u8);
        b.extend_from_slice(self.actor.role.as_bytes());
        b.push(self.kind.len() as u8);
        b.extend_from_slice(self.kind.as_bytes());
        b.extend_from_slice(&(self.subject.len() as u16).to_be_bytes());
        b.extend_from_slice(self.subject.as_bytes());
        b.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        b.extend_from_slice(&self.payload);
        b
    }

    /// The message the signature covers: [`SIGNING_CONTEXT`] followed by the body.
    pub fn signed_message(body: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(SIGNING_CONTEXT.len() + body.len());
        m.extend_from_slice(SIGNING_CONTEXT);
        m.extend_from_slice(body);
        m
    }

    /// The record's exact bytes: body followed by the 64-byte signature. This is the Merkle leaf.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = self.body();
        b.extend_from_slice(&self.signature);
        b
    }

    /// Strictly decodes record bytes; any deviation from the format is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let mut r = Reader { b: bytes, at: 0 };
        let version = r.take(1)?[0];
        if version != FORMAT_V1 {
            return Err(RecordError::Version(version));
        }
        let seq = u64::from_be_bytes(r.array()?);
        let time_us = i64::from_be_bytes(r.array()?);
        let schema_version = u16::from_be_bytes(r.array()?);
        let key_id: [u8; 4] = r.array()?;
        let prev: [u8; 32] = r.array()?;
        let n = r.take(1)?[0] as usize;
        let actor_id = r.string(n, "actor")?;
        let n = r.take(1)?[0] as usize;
        let role = r.string(n, "role")?;
        let n = r.take(1)?[0] as usize;
        let kind = r.string(n, "kind")?;
        let n = u16::from_be_bytes(r.array()?) as usize;
        let subject = r.string(n, "subject")?;
        let n = u32::from_be_bytes(r.array()?) as usize;
        if n > MAX_PAYLOAD {
            return Err(field_err("payload", format!("is {n} bytes, the limit is {MAX_PAYLOAD}")));
        }
        let payload = r.string(n, "payload")?.into_bytes();
        let signature: [u8; 64] = r.array()?;
        if r.at != bytes.len() {
            return Err(RecordError::TrailingBytes(bytes.len() - r.at));
        }
        let rec = Record {
            seq,
            time_us,
            schema_version,
            key_id,
            prev,
            actor: Actor { id: actor_id, role },
            kind,
            subject,
            payload,
            signature,
        };
        check_fields(&rec.actor, &rec.kind, &rec.subject, rec.schema_version)?;
        check_time(rec.time_us)?;
        Ok(rec)
    }

    /// True if the signature verifies under `key` (strict RFC 8032 verification).
    pub fn verify_signature(&self, key: &VerifierKey) -> bool {
        key.key_id == self.key_id && key.verify(&Self::signed_message(&self.body()), &self.signature)
    }

    /// The record time as a UTC timestamp. Every decoded record's time is in [`MIN_TIME_US`,
    /// `MAX_TIME_US`]; a record built in memory with a time outside it reads as the nearest end.
    pub fn time(&self) -> DateTime<Utc> {
        let us = self.time_us.clamp(MIN_TIME_US, MAX_TIME_US);
        DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// RFC 3339 with microseconds, e.g. `2026-06-01T09:30:00.000000Z`.
    pub fn time_rfc3339(&self) -> String {
        self.time().to_rfc3339_opts(SecondsFormat::Micros, true)
    }

    /// The payload as parsed JSON (it was checked to be JSON when appended).
    pub fn payload_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    /// The payload as strict JSON ([`strict_json`]), for the payloads verification interprets.
    pub fn payload_strict(&self) -> Result<serde_json::Value, String> {
        strict_json(&self.payload).map_err(|e| format!("its payload is not strict JSON: {e}"))
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.b.len() - self.at < n {
            return Err(RecordError::Truncated { offset: self.at, needed: n });
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn string(&mut self, n: usize, field: &'static str) -> Result<String, RecordError> {
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| RecordError::Utf8 { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_strict_json() {
        assert!(strict_json(br#"{"a":{"b":[1,{"c":null}]},"d":0.5}"#).is_ok());
        for bad in [&br#"{"a":1,"a":2}"#[..], br#"{"x":{"a":1,"a":1}}"#, br#"[{"a":1,"a":1}]"#] {
            let e = strict_json(bad).unwrap_err();
            assert!(e.contains("duplicate member \"a\""), "{e}");
        }
        assert!(strict_json(br#"{"a":1} {}"#).is_err(), "trailing data");
        assert!(strict_json(b"{\"a\":1}\n ").is_ok(), "trailing whitespace");
        let e = canonical_payload(br#"{"tag":"v1","tag":"v2"}"#).unwrap_err().to_string();
        assert!(e.contains("duplicate member"), "{e}");
    }

    fn sample() -> Record {
        Record {
            seq: 3,
            time_us: 1_780_000_000_000_000,
            schema_version: 1,
            key_id: [1, 2, 3, 4],
            prev: [9u8; 32],
            actor: Actor { id: "alice".into(), role: "maintainer".into() },
            kind: "release.created".into(),
            subject: "group/project@v4.0".into(),
            payload: br#"{"tag_name":"v4.0"}"#.to_vec(),
            signature: [7u8; 64],
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let r = sample();
        assert_eq!(Record::decode(&r.to_bytes()).unwrap(), r);
    }

    #[test]
    fn decoding_is_strict() {
        let b = sample().to_bytes();
        for cut in 0..b.len() {
            assert!(Record::decode(&b[..cut]).is_err(), "truncated at {cut} must fail");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert_eq!(Record::decode(&longer), Err(RecordError::TrailingBytes(1)));
        let mut v2 = b.clone();
        v2[0] = 2;
        assert_eq!(Record::decode(&v2), Err(RecordError::Version(2)));
    }

    #[test]
    fn payload_is_canonicalised_and_limited() {
        assert_eq!(canonical_payload(br#"{ "b": 1, "a": [1, 2] }"#).unwrap(), br#"{"a":[1,2],"b":1}"#);
        assert_eq!(
            canonical_payload(br#"{"z": {"y": 1, "x": [{"b": 2, "a": 1}]}, "big": 12345678901234567890123, "f": 1.50}"#).unwrap(),
            br#"{"big":12345678901234567890123,"f":1.50,"z":{"x":[{"a":1,"b":2}],"y":1}}"#,
            "nested keys sorted, numbers exactly as written"
        );
        assert!(canonical_payload(b"{").unwrap_err().to_string().contains("malformed JSON"));
        assert!(canonical_payload(b"[1]").unwrap_err().to_string().contains("JSON object"));
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_PAYLOAD));
        assert!(canonical_payload(big.as_bytes()).unwrap_err().to_string().contains("limit"));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = Record::decode(&bytes);
        }

        #[test]
        fn valid_records_round_trip(
            seq in proptest::num::u64::ANY,
            time_us in MIN_TIME_US..=MAX_TIME_US,
            actor in "[a-z][a-z0-9._-]{0,40}",
            role in proptest::sample::select(ROLES.to_vec()),
            subject in "[a-z/]{1,20}@v[0-9.]{1,8}",
            text in "[ -~]{0,200}",
            sig in proptest::collection::vec(proptest::num::u8::ANY, 64),
        ) {
            let r = Record {
                seq, time_us, schema_version: 1, key_id: [1, 2, 3, 4], prev: [5u8; 32],
                actor: Actor { id: actor, role: role.to_string() },
                kind: "release.updated".into(),
                subject,
                payload: serde_json::to_vec(&serde_json::json!({"text": text})).unwrap(),
                signature: sig.try_into().unwrap(),
            };
            let bytes = r.to_bytes();
            proptest::prop_assert_eq!(Record::decode(&bytes).unwrap(), r);
        }

        #[test]
        fn a_time_outside_rfc_3339_years_is_refused(
            time_us in proptest::prop_oneof![i64::MIN..MIN_TIME_US, (MAX_TIME_US + 1)..=i64::MAX],
        ) {
            let mut r = Record::decode(&sample().to_bytes()).unwrap();
            r.time_us = time_us;
            let e = Record::decode(&r.to_bytes()).unwrap_err().to_string();
            proptest::prop_assert!(e.contains("invalid time"), "{}", e);
        }
    }

    #[test]
    fn kind_syntax() {
        assert!(check_kind_syntax("release.created").is_ok());
        assert!(check_kind_syntax("internal.phase_completed").is_ok());
        for bad in ["release", "Release.created", "release..created", ".a", "a.", "a.1b", "a b.c"] {
            assert!(check_kind_syntax(bad).is_err(), "{bad}");
        }
    }
}
