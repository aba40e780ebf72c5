//! Texts kept beside the log (`schemas/record-v1.md` §Texts kept beside the log): so that every
//! record fits a C2SP entry bundle (65,535 bytes, `crate::tiles::MAX_ENTRY`), a payload string of
//! more than [`INLINE_LIMIT`] bytes is not written into the record. The record carries a
//! reference in its place, `{"$text":"<BLAKE3 of the text, 64 lower-case hex>","bytes":<its
//! length>}`, and the text's exact UTF-8 bytes are kept content-addressed beside the log (a data
//! directory's `texts/<digest>`), as evidence documents are. The signature covers the reference,
//! and through the digest the text.
//!
//! What this is: [`externalize`] (the writer's rule), [`check_unreserved`] (no submitted payload
//! may hold a `$text` member, so a reference is never ambiguous), [`references`] (what a record
//! names), [`resolve`] (a reader puts the texts back, checking each against its reference), and
//! [`record_len`] (a record's length before it is signed).
//!
//! What this is not: where texts are stored or read (the ledger's `texts` module), or the
//! record's own format (`crate::record`).

use serde_json::{Map, Value};

/// Strings of more than this many bytes (UTF-8) are kept beside the log.
pub const INLINE_LIMIT: usize = 4096;

/// The member that marks a reference.
pub const MEMBER: &str = "$text";

/// Why a payload's texts could not be kept or put back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("payload member \"$text\" is reserved for texts kept beside the log")]
    Reserved,
    #[error("malformed text reference: {0}")]
    Malformed(String),
    #[error("text {digest}: {why}")]
    Unreadable { digest: String, why: String },
    #[error("text {digest} does not match its reference: {why}")]
    Mismatch { digest: String, why: String },
}

/// The length of a record with these fields (`schemas/record-v1.md` §Layout:
/// `128 + La + Lr + Lk + Ls + Lp`).
pub fn record_len(actor: &str, role: &str, kind: &str, subject: &str, payload: &[u8]) -> usize {
    128 + actor.len() + role.len() + kind.len() + subject.len() + payload.len()
}

fn reference(digest: &str, bytes: usize) -> Value {
    let mut m = Map::new();
    m.insert(MEMBER.into(), Value::String(digest.into()));
    m.insert("bytes".into(), Value::from(bytes as u64));
    Value::Object(m)
}

/// Replaces every string value (at any depth; not object keys) of more than [`INLINE_LIMIT`]
/// bytes by its reference. Returns the texts to keep, as (digest hex, text), in payload order.
pub fn externalize(payload: &mut Value) -> Vec<(String, String)> {
    let mut kept = Vec::new();
    walk_mut(payload, &mut |v| {
        if let Value::String(s) = v {
            if s.len() > INLINE_LIMIT {
                let digest = blake3::hash(s.as_bytes()).to_hex().to_string();
                let text = std::mem::take(s);
                *v = reference(&digest, text.len());
                kept.push((digest, text));
            }
        }
    });
    kept
}

fn walk_mut(v: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| walk_mut(i, f)),
        Value::Object(m) => m.values_mut().for_each(|i| walk_mut(i, f)),
        _ => f(v),
    }
}

/// Refuses a submitted payload that holds an object with a `$text` member anywhere.
pub fn check_unreserved(payload: &Value) -> Result<(), TextError> {
    match payload {
        Value::Array(items) => items.iter().try_for_each(check_unreserved),
        Value::Object(m) if m.contains_key(MEMBER) => Err(TextError::Reserved),
        Value::Object(m) => m.values().try_for_each(check_unreserved),
        _ => Ok(()),
    }
}

/// Whether payload bytes may hold a reference: relic's compact form writes one as
/// `{"$text":"…`, which no string's contents can contain (a `"` in a string is escaped).
pub fn may_refer(payload: &[u8]) -> bool {
    payload.windows(10).any(|w| w == b"{\"$text\":\"")
}

/// Reads a reference object: its digest and length.
fn parse_reference(m: &Map<String, Value>) -> Result<(String, u64), TextError> {
    let bad = |why: &str| TextError::Malformed(why.into());
    if m.len() != 2 {
        return Err(bad("a reference has exactly the members \"$text\" and \"bytes\""));
    }
    let digest = m.get(MEMBER).and_then(Value::as_str).ok_or_else(|| bad("\"$text\" must be a string"))?;
    if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad("\"$text\" must be 64 lower-case hex digits"));
    }
    let bytes = m.get("bytes").and_then(Value::as_u64).ok_or_else(|| bad("\"bytes\" must be a non-negative integer"))?;
    if bytes as usize <= INLINE_LIMIT {
        return Err(bad("a text of at most 4096 bytes is written in place, never referred to"));
    }
    Ok((digest.to_string(), bytes))
}

/// The texts a stored payload refers to, as (digest hex, length), in payload order.
pub fn references(payload: &Value) -> Result<Vec<(String, u64)>, TextError> {
    let mut out = Vec::new();
    collect(payload, &mut out)?;
    Ok(out)
}

fn collect(v: &Value, out: &mut Vec<(String, u64)>) -> Result<(), TextError> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| collect(i, out)),
        Value::Object(m) if m.contains_key(MEMBER) => {
            out.push(parse_reference(m)?);
            Ok(())
        }
        Value::Object(m) => m.values().try_for_each(|i| collect(i, out)),
        _ => Ok(()),
    }
}

/// Puts each referred text back in place of its reference. `get` reads a text's bytes by digest;
/// each must hash to its digest, have the length its reference says and be UTF-8.
pub fn resolve(payload: &mut Value, get: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>) -> Result<(), TextError> {
    match payload {
        Value::Array(items) => items.iter_mut().try_for_each(|i| resolve(i, get)),
        Value::Object(m) if m.contains_key(MEMBER) => {
            let (digest, len) = parse_reference(m)?;
            let bytes = get(&digest).map_err(|why| TextError::Unreadable { digest: digest.clone(), why })?;
            let mismatch = |why: String| TextError::Mismatch { digest: digest.clone(), why };
            if bytes.len() as u64 != len {
                return Err(mismatch(format!("{} bytes, the reference says {len}", bytes.len())));
            }
            let found = blake3::hash(&bytes).to_hex();
            if found.as_str() != digest {
                return Err(mismatch(format!("its bytes hash to {found}")));
            }
            let text = String::from_utf8(bytes).map_err(|_| mismatch("not UTF-8".into()))?;
            *payload = Value::String(text);
            Ok(())
        }
        Value::Object(m) => m.values_mut().try_for_each(|i| resolve(i, get)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_strings_are_kept_aside_and_put_back_exactly() {
        let long = "é".repeat(3000); // 6000 bytes
        let edge = "x".repeat(INLINE_LIMIT);
        let original = json!({"description": long, "name": edge, "links": [{"notes": long.clone()}], "n": 1});
        let mut p = original.clone();
        let kept = externalize(&mut p);
        let d = blake3::hash(long.as_bytes()).to_hex().to_string();
        assert_eq!(kept, vec![(d.clone(), long.clone()), (d.clone(), long.clone())]);
        assert_eq!(p["description"], json!({"$text": d, "bytes": 6000}));
        assert_eq!(p["name"], json!(edge), "4096 bytes stay in place");
        assert_eq!(references(&p).unwrap(), vec![(d.clone(), 6000), (d.clone(), 6000)]);
        let compact = serde_json::to_string(&p).unwrap();
        assert!(may_refer(compact.as_bytes()) && !may_refer(br#"{"a":"{\"$text\":\"x"}"#));
        // Put back, checked.
        let mut back = p.clone();
        resolve(&mut back, &mut |_| Ok(long.as_bytes().to_vec())).unwrap();
        assert_eq!(back, original);
        let mut wrong = p.clone();
        let e = resolve(&mut wrong, &mut |_| Ok("y".repeat(6000).into_bytes())).unwrap_err();
        assert!(matches!(e, TextError::Mismatch { .. }), "{e}");
        let mut missing = p;
        assert!(matches!(resolve(&mut missing, &mut |_| Err("gone".into())).unwrap_err(), TextError::Unreadable { .. }));
        // A submitted payload may not carry the marker; a malformed reference is named.
        assert_eq!(check_unreserved(&json!({"a": [{"$text": "x"}]})), Err(TextError::Reserved));
        assert!(check_unreserved(&original).is_ok());
        assert!(matches!(references(&json!({"a": {"$text": "x", "bytes": 5000}})), Err(TextError::Malformed(_))));
        assert!(matches!(references(&json!({"a": {"$text": d, "bytes": 10}})), Err(TextError::Malformed(_))));
    }
}
