//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys.
//!
//! What this is: key IDs, the verifier-key and private-key text forms of Go's
//! `golang.org/x/mod/sumdb/note`, signing a note and opening (verifying) one. Byte-compatible with that
//! package, so notes relic signs are accepted by Go's `note.Open` and vice versa.
//!
//! What this is not: the checkpoint body (see [`crate::checkpoint`]) or witness cosignatures
//! (see [`crate::cosignature`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of an Ed25519 key in key IDs and verifier keys (signed-note §"Signature types").
const ALG_ED25519: u8 = 0x01;
/// The separator that opens a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// Limits Go's `note` package applies when opening notes; relic applies the same ones.
const MAX_NOTE_BYTES: usize = 1 << 20;
const MAX_SIGNATURES: usize = 100;

/// Why a key or note was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("invalid key name {0:?}: it must be non-empty and contain no spaces, '+' or control characters")]
    KeyName(String),
    #[error("malformed verifier key: {0}")]
    VerifierKey(String),
    #[error("malformed private key: {0}")]
    PrivateKey(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("note has no signature by a known key")]
    UnknownKey,
    #[error("signature by {name} (key ID {key_id}) does not verify")]
    BadSignature { name: String, key_id: String },
}

/// signed-note §"Signatures": key ID = first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Lower-case hex of a key ID, as it appears in verifier keys.
pub fn key_id_hex(id: &[u8; 4]) -> String {
    crate::hex::encode(id)
}

pub(crate) fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control()) {
        return Err(NoteError::KeyName(name.to_string()));
    }
    Ok(())
}

/// A public key that verifies notes: `<name>+<8 hex digits of key ID>+<base64(0x01 || key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub key_id: [u8; 4],
    pub key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self { name: name.to_string(), key_id: key_id(name, &key), key })
    }

    /// Parses the text form, checking that the key ID matches the name and key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.trim_end_matches(['\n', '\r']);
        let err = |m: &str| NoteError::VerifierKey(m.to_string());
        let mut parts = s.splitn(3, '+');
        let (name, id, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(err("expected <name>+<key id>+<base64 key>")),
        };
        check_key_name(name).map_err(|_| err("invalid key name"))?;
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(err("key ID must be 8 lower-case hex digits"));
        }
        let raw = B64.decode(b64).map_err(|_| err("key is not valid base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(err("only Ed25519 keys (type 0x01, 32 bytes) are supported"));
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| err("key length"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| err("not a valid Ed25519 point"))?;
        // One text per key: a point's non-canonical encodings (y ≥ p, or x = 0 with the sign bit
        // set) would give the same key another key ID (checkpoint-v1.md §Keys).
        if key.to_edwards().compress().to_bytes() != bytes {
            return Err(err("not the canonical encoding of an Ed25519 point"));
        }
        let vk = Self::new(name, key)?;
        if key_id_hex(&vk.key_id) != id {
            return Err(err("key ID does not match the name and key"));
        }
        Ok(vk)
    }

    /// True if `sig` is a valid signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        self.key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok()
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, key_id_hex(&self.key_id), B64.encode(raw))
    }
}

/// A private key that signs notes. Its text form is Go's
/// `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>`. Never printed or logged:
/// `Debug` shows only the public half.
pub struct SignerKey {
    verifier: VerifierKey,
    signing: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignerKey({})", self.verifier)
    }
}

impl SignerKey {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        Self::from_signing(name, signing)
    }

    /// The key with the given 32-byte seed (deterministic test vectors).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        Self::from_signing(name, SigningKey::from_bytes(&seed))
    }

    fn from_signing(name: &str, signing: SigningKey) -> Result<Self, NoteError> {
        let verifier = VerifierKey::new(name, signing.verifying_key())?;
        Ok(Self { verifier, signing })
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    pub fn key_id(&self) -> [u8; 4] {
        self.verifier.key_id
    }

    /// Signs raw bytes.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// Parses Go's private key text form.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let err = |m: &str| NoteError::PrivateKey(m.to_string());
        let s = s.trim_end_matches(['\n', '\r']);
        let rest = s.strip_prefix("PRIVATE+KEY+").ok_or_else(|| err("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (name, id, b64) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(i), Some(b)) => (n, i, b),
            _ => return Err(err("expected PRIVATE+KEY+<name>+<key id>+<base64 key>")),
        };
        let raw = B64.decode(b64).map_err(|_| err("key is not valid base64"))?;
        if raw.len() != 33 || raw[0] != ALG_ED25519 {
            return Err(err("only Ed25519 keys (type 0x01, 32-byte seed) are supported"));
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| err("key length"))?;
        let key = Self::from_seed(name, seed).map_err(|_| err("invalid key name"))?;
        if key_id_hex(&key.key_id()) != id {
            return Err(err("key ID does not match the name and key"));
        }
        Ok(key)
    }

    /// The private key text form. Callers write it only to a file of mode 0600.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&self.signing.to_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.verifier.name, key_id_hex(&self.verifier.key_id), B64.encode(raw))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    let bad = |m: &str| NoteError::Malformed(m.to_string());
    if text.is_empty() || !text.ends_with('\n') {
        return Err(bad("text must be non-empty and end in a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(bad("text must not contain an empty line"));
    }
    if text.chars().any(|c| c != '\n' && (c.is_control() || c == '\u{FFFD}')) {
        return Err(bad("text must not contain control characters"));
    }
    Ok(())
}

/// signed-note §"Format": appends a signature line by `key` to `text`. `text` must end in a newline.
pub fn sign(text: &str, key: &SignerKey) -> Result<String, NoteError> {
    check_text(text)?;
    let sig = key.sign(text.as_bytes());
    let mut raw = key.key_id().to_vec();
    raw.extend_from_slice(&sig);
    Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", key.verifier.name, B64.encode(raw)))
}

/// A note whose signature by at least one known key verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// The known keys whose signatures verified.
    pub verified_by: Vec<VerifierKey>,
}

/// signed-note §"Verifying": opens `msg`, verifying every signature whose name and key ID match one of
/// `keys`. Signatures by unknown keys are ignored; a known key whose signature fails rejects the note;
/// at least one known key must have signed.
pub fn open(msg: &str, keys: &[VerifierKey]) -> Result<Note, NoteError> {
    let bad = |m: &str| NoteError::Malformed(m.to_string());
    if msg.len() > MAX_NOTE_BYTES {
        return Err(bad("note is larger than 1 MiB"));
    }
    let split = msg.rfind("\n\n").ok_or_else(|| bad("no empty line between text and signatures"))?;
    let text = &msg[..split + 1];
    let sigs = &msg[split + 2..];
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(bad("signature block must be non-empty and end in a newline"));
    }
    let mut verified = Vec::new();
    for (count, line) in sigs.lines().enumerate() {
        if count >= MAX_SIGNATURES {
            return Err(bad("too many signatures"));
        }
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| bad("signature line must start with an em dash"))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| bad("signature line needs a name and a signature"))?;
        check_key_name(name).map_err(|_| bad("invalid key name in signature line"))?;
        let raw = B64.decode(b64).map_err(|_| bad("signature is not valid base64"))?;
        if raw.len() < 5 {
            return Err(bad("signature too short"));
        }
        let id: [u8; 4] = [raw[0], raw[1], raw[2], raw[3]];
        let Some(key) = keys.iter().find(|k| k.name == name && k.key_id == id) else { continue };
        let sig: Option<[u8; 64]> = raw[4..].try_into().ok();
        match sig {
            Some(sig) if key.verify(text.as_bytes(), &sig) => {
                if !verified.contains(key) {
                    verified.push(key.clone());
                }
            }
            _ => return Err(NoteError::BadSignature { name: name.to_string(), key_id: key_id_hex(&id) }),
        }
    }
    if verified.is_empty() {
        return Err(NoteError::UnknownKey);
    }
    Ok(Note { text: text.to_string(), verified_by: verified })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_canonical_point_encodings_are_refused() {
        use base64::Engine as _;
        // y = p + 1 (2^255 − 18, little-endian): the identity point's y, not reduced.
        let mut y = [0xffu8; 32];
        y[0] = 0xee;
        y[31] = 0x7f;
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(&y);
        let text = format!("example.com/log+00000000+{}", B64.encode(&raw));
        let e = VerifierKey::parse(&text).unwrap_err().to_string();
        assert!(e.contains("canonical") || e.contains("not a valid Ed25519 point"), "{e}");
        // A real key's encoding is canonical and parses.
        let k = SignerKey::from_seed("example.com/log", [9u8; 32]).unwrap();
        assert!(VerifierKey::parse(&k.verifier().to_string()).is_ok());
    }

    #[test]
    fn key_text_forms_round_trip() {
        let k = SignerKey::from_seed("example.com/log", [7u8; 32]).unwrap();
        let vk = VerifierKey::parse(&k.verifier().to_string()).unwrap();
        assert_eq!(&vk, k.verifier());
        let k2 = SignerKey::parse(&k.to_private_text()).unwrap();
        assert_eq!(k2.verifier(), k.verifier());
        assert!(!format!("{k:?}").contains(&k.to_private_text()[20..]), "Debug must not show the seed");
    }

    #[test]
    fn verifier_key_rejects_wrong_id_and_names() {
        let k = SignerKey::from_seed("log", [1u8; 32]).unwrap();
        let s = k.verifier().to_string();
        let wrong = s.replacen(&key_id_hex(&k.key_id()), "00000000", 1);
        assert!(VerifierKey::parse(&wrong).is_err());
        assert!(SignerKey::from_seed("a b", [1u8; 32]).is_err());
        assert!(SignerKey::from_seed("a+b", [1u8; 32]).is_err());
        assert!(SignerKey::from_seed("", [1u8; 32]).is_err());
    }

    #[test]
    fn sign_then_open() {
        let k = SignerKey::from_seed("example.com/log", [9u8; 32]).unwrap();
        let other = SignerKey::from_seed("witness.example", [3u8; 32]).unwrap();
        let n = sign("example.com/log\n3\nAAAA\n", &k).unwrap();
        let opened = open(&n, &[k.verifier().clone()]).unwrap();
        assert_eq!(opened.text, "example.com/log\n3\nAAAA\n");
        assert_eq!(open(&n, &[other.verifier().clone()]), Err(NoteError::UnknownKey));
        // A second signature by an unknown key is ignored.
        let extra = sign("example.com/log\n3\nAAAA\n", &other).unwrap();
        let sig_line = extra.rsplit_once("\n\n").unwrap().1;
        let both = format!("{n}{sig_line}");
        assert!(open(&both, &[k.verifier().clone()]).is_ok());
        // Altered text fails with the key's name.
        let tampered = n.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(open(&tampered, &[k.verifier().clone()]), Err(NoteError::BadSignature { .. })));
        assert!(sign("no newline", &k).is_err());
        assert!(sign("a\n\nb\n", &k).is_err());
    }
}
