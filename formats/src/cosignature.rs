//! C2SP tlog-cosignature (<https://c2sp.org/tlog-cosignature>), the Ed25519 type: a witness's
//! statement that it verified a checkpoint's consistency with everything it saw of that log.
//!
//! What this is: cosigner keys (§Format: key ID = SHA-256(name || `\n` || 0x04 || public key)[:4],
//! verifier keys with signature type 0x04), the signed message (§Ed25519 signed message:
//! `cosignature/v1\n`, `time <POSIX seconds>\n`, then the checkpoint's body), the
//! `timestamped_signature` (8-byte big-endian time, then the 64-byte signature) in a signed-note
//! signature line, signing one, and finding and verifying the cosignatures of a note. A cosigned
//! checkpoint is a signed note with the log's line and one line per cosigner; opening it as a note
//! with the log's key ([`crate::note::open`]) skips the cosigners' lines, and [`verify`] checks them.
//!
//! What this is not: the witness's protocol or state (C2SP tlog-witness: the witness checks the
//! consistency proof before it signs), or the policy that says how many cosignatures a verifier
//! needs. ML-DSA-44 cosignatures (type 0x06) are not implemented.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of an Ed25519 cosignature key (§Format).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// The header line of the signed message.
const HEADER: &str = "cosignature/v1\n";
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a cosigner key or cosignature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("malformed cosigner key: {0}")]
    Key(String),
    #[error("malformed cosigned note: {0}")]
    Malformed(String),
    #[error("cosignature by {name} does not verify")]
    BadSignature { name: String },
}

/// §Format: the key ID of an Ed25519 cosigner key.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_COSIGNATURE_V1]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// §Ed25519 signed message: what a cosigner signs for checkpoint `body` at `timestamp`.
pub fn message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("{HEADER}time {timestamp}\n{body}").into_bytes()
}

/// A cosigner's public key: `<name>+<8 hex digits of key ID>+<base64(0x04 || 32-byte key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    pub name: String,
    pub key_id: [u8; 4],
    pub key: VerifyingKey,
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, CosignatureError> {
        check_name(name)?;
        Ok(Self { name: name.into(), key_id: key_id(name, &key), key })
    }

    /// Parses the text form (split at the first two `+`), with the same strictness as log keys
    /// (`schemas/checkpoint-v1.md` §Keys): canonical point, matching key ID.
    pub fn parse(s: &str) -> Result<Self, CosignatureError> {
        let err = |m: &str| CosignatureError::Key(m.into());
        let s = s.trim_end_matches(['\n', '\r']);
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("expected <name>+<key id>+<base64 key>"));
        };
        let raw = B64.decode(b64).map_err(|_| err("key is not valid base64"))?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(err("only Ed25519 cosigner keys (type 0x04, 32 bytes) are supported"));
        }
        let bytes: [u8; 32] = raw[1..].try_into().map_err(|_| err("key length"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| err("not a valid Ed25519 point"))?;
        if key.to_edwards().compress().to_bytes() != bytes || key.is_weak() {
            return Err(err("not the canonical encoding of a usable Ed25519 point"));
        }
        let k = Self::new(name, key)?;
        if crate::hex::encode(&k.key_id) != id {
            return Err(err("key ID does not match the name and key"));
        }
        Ok(k)
    }
}

impl std::fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, crate::hex::encode(&self.key_id), B64.encode(raw))
    }
}

/// Cosigner names follow the signed-note key name rules.
fn check_name(name: &str) -> Result<(), CosignatureError> {
    crate::note::check_key_name(name).map_err(|e| CosignatureError::Key(e.to_string()))
}

/// A cosigner's signing key.
pub struct Cosigner {
    public: CosignerKey,
    signing: SigningKey,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cosigner({})", self.public)
    }
}

impl Cosigner {
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, CosignatureError> {
        let signing = SigningKey::from_bytes(&seed);
        Ok(Self { public: CosignerKey::new(name, signing.verifying_key())?, signing })
    }

    pub fn public(&self) -> &CosignerKey {
        &self.public
    }

    /// The private key text, as Go's `note` writes private keys but with type 0x04:
    /// `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x04 || 32-byte seed)>`. Kept in a 0600 file.
    pub fn to_private_text(&self) -> String {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(&self.signing.to_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.public.name, crate::hex::encode(&self.public.key_id), B64.encode(raw))
    }

    /// Parses [`Cosigner::to_private_text`]'s form, checking the key ID.
    pub fn parse_private(s: &str) -> Result<Self, CosignatureError> {
        let err = |m: &str| CosignatureError::Key(m.into());
        let rest = s.trim_end_matches(['\n', '\r']).strip_prefix("PRIVATE+KEY+").ok_or_else(|| err("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err("expected PRIVATE+KEY+<name>+<key id>+<base64 key>"));
        };
        let raw = B64.decode(b64).map_err(|_| err("key is not valid base64"))?;
        if raw.len() != 33 || raw[0] != ALG_COSIGNATURE_V1 {
            return Err(err("only Ed25519 cosigner keys (type 0x04, 32-byte seed) are supported"));
        }
        let seed: [u8; 32] = raw[1..].try_into().map_err(|_| err("key length"))?;
        let c = Self::from_seed(name, seed)?;
        if crate::hex::encode(&c.public.key_id) != id {
            return Err(err("key ID does not match the name and key"));
        }
        Ok(c)
    }

    /// The signature line cosigning checkpoint `body` at `timestamp` (ending in `\n`).
    pub fn sign(&self, body: &str, timestamp: u64) -> String {
        let sig = self.signing.sign(&message(body, timestamp)).to_bytes();
        let mut raw = self.public.key_id.to_vec();
        raw.extend_from_slice(&timestamp.to_be_bytes());
        raw.extend_from_slice(&sig);
        format!("{SIG_PREFIX}{} {}\n", self.public.name, B64.encode(raw))
    }
}

/// A verified cosignature: who, and the time it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub name: String,
    pub timestamp: u64,
}

/// The cosignatures in a signed note by `cosigners` that verify over its body. A line by one of
/// them that does not verify rejects the note (as signed-note treats a known key's bad
/// signature); lines by anyone else are skipped. The note must be well formed (its text and
/// signature block split at the last empty line; every line `— <name> <base64>`).
pub fn verify(note: &str, cosigners: &[CosignerKey]) -> Result<Vec<Cosigned>, CosignatureError> {
    let bad = |m: &str| CosignatureError::Malformed(m.into());
    let split = note.rfind("\n\n").ok_or_else(|| bad("no empty line between text and signatures"))?;
    let (body, sigs) = (&note[..split + 1], &note[split + 2..]);
    let mut out = Vec::new();
    for line in sigs.lines() {
        let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(|| bad("signature line must start with an em dash"))?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| bad("signature line needs a name and a signature"))?;
        let raw = B64.decode(b64).map_err(|_| bad("signature is not valid base64"))?;
        if raw.len() < 4 {
            return Err(bad("signature too short"));
        }
        let Some(k) = cosigners.iter().find(|k| k.name == name && k.key_id[..] == raw[..4]) else { continue };
        let failed = || CosignatureError::BadSignature { name: name.into() };
        if raw.len() != 4 + 8 + 64 {
            return Err(failed());
        }
        let timestamp = u64::from_be_bytes(raw[4..12].try_into().map_err(|_| failed())?);
        if timestamp > i64::MAX as u64 {
            return Err(failed());
        }
        let sig = Signature::from_bytes(&raw[12..].try_into().map_err(|_| failed())?);
        k.key.verify_strict(&message(body, timestamp), &sig).map_err(|_| failed())?;
        if !out.iter().any(|c: &Cosigned| c.name == k.name) {
            out.push(Cosigned { name: k.name.clone(), timestamp });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "example.test/relic\n5\nf7Kh7MRMznx3eKttwFW6JfyT8ueFiaOt4r3LJAhI4PA=\n";

    #[test]
    fn a_cosignature_verifies_and_any_change_breaks_it() {
        let w = Cosigner::from_seed("witness.example/w1", [4u8; 32]).unwrap();
        let line = w.sign(BODY, 1_780_306_200);
        let note = format!("{BODY}\n{line}");
        assert_eq!(verify(&note, &[w.public().clone()]).unwrap(), [Cosigned { name: "witness.example/w1".into(), timestamp: 1_780_306_200 }]);
        // The message is the spec's: header, time line, body.
        assert_eq!(message(BODY, 7), format!("cosignature/v1\ntime 7\n{BODY}").into_bytes());
        // Another body, another time, or another cosigner's key: refused or not counted.
        let other = format!("{}\n{line}", BODY.replace('5', "6"));
        assert!(matches!(verify(&other, &[w.public().clone()]), Err(CosignatureError::BadSignature { .. })));
        let stranger = Cosigner::from_seed("witness.example/w2", [5u8; 32]).unwrap();
        assert_eq!(verify(&note, &[stranger.public().clone()]).unwrap(), []);
        // The key text round-trips, and a log key (type 0x01) is not a cosigner key.
        let text = w.public().to_string();
        assert_eq!(CosignerKey::parse(&text).unwrap(), *w.public());
        let log_key = crate::note::SignerKey::from_seed("witness.example/w1", [4u8; 32]).unwrap().verifier().to_string();
        assert!(CosignerKey::parse(&log_key).is_err());
        // The key IDs differ by the type byte: the same key as a log key and as a cosigner key.
        assert_ne!(key_id("witness.example/w1", &w.public().key), crate::note::key_id("witness.example/w1", &w.public().key));
    }
}
