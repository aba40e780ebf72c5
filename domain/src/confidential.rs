//! Confidential texts kept out of the log until disclosure (`schemas/confidential-v1.md`): an
//! internal release exists to fix a vulnerability before it is public, so its title never enters
//! the signed, append-only, mirrored log in clear before the disclosure. The `internal.detected`
//! record carries a commitment instead — BLAKE3 over a context string, a random 32-byte salt and
//! the text — and the salt and text are kept in a store beside the log, readable by its owner only
//! (`<data>/confidential/<commitment>`, mode 0600). The `internal.disclosed` record reveals both;
//! anyone holding the log then checks the revealed text against the commitment made at detection.
//!
//! What this is: the commitment ([`commitment`], [`check`]), a new salt, and the store.
//!
//! What this is not: who may see a text before disclosure (the views: maintainers and above, on the
//! machine that holds the store), or the rules that demand the reveal (`crate::internal`).

use std::io::Read as _;
use std::path::{Path, PathBuf};

/// The context the commitment's hash input starts with.
pub const CONTEXT: &[u8] = b"relic/commitment/v1\n";

/// What a view shows instead of a text not yet disclosed.
pub const HIDDEN: &str = "[confidential until disclosure]";

/// Why a confidential text could not be kept or read.
#[derive(Debug, thiserror::Error)]
pub enum ConfidentialError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a confidential text ({why})", path.display())]
    Damaged { path: PathBuf, why: String },
    #[error(transparent)]
    Store(#[from] relic_store::Error),
}

/// A confidential text with its salt and commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    pub commitment: String,
    pub salt: [u8; 32],
    pub text: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the text or the salt (a log line must not disclose them).
        f.debug_struct("Secret").field("commitment", &self.commitment).finish_non_exhaustive()
    }
}

impl Secret {
    /// `text` committed to with `salt`.
    pub fn new(text: &str, salt: [u8; 32]) -> Self {
        Secret { commitment: commitment(&salt, text), salt, text: text.to_string() }
    }
}

/// The commitment: lower-case hex of BLAKE3(`CONTEXT` || salt || UTF-8 text).
pub fn commitment(salt: &[u8; 32], text: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(CONTEXT);
    h.update(salt);
    h.update(text.as_bytes());
    h.finalize().to_hex().to_string()
}

/// Whether `text` with the salt `salt_hex` (64 hex digits) is what `commitment` committed to.
pub fn check(commitment_hex: &str, salt_hex: &str, text: &str) -> bool {
    let Some(salt) = relic_ledger::hex::decode(salt_hex).and_then(|b| <[u8; 32]>::try_from(b).ok()) else { return false };
    commitment(&salt, text) == commitment_hex
}

/// 32 bytes from the system's random source.
pub fn new_salt() -> Result<[u8; 32], ConfidentialError> {
    let mut salt = [0u8; 32];
    let dev = Path::new("/dev/urandom");
    std::fs::File::open(dev).and_then(|mut f| f.read_exact(&mut salt)).map_err(|source| ConfidentialError::Io { path: dev.into(), source })?;
    Ok(salt)
}

fn dir(data: &Path) -> PathBuf {
    data.join("confidential")
}

/// Keeps `secret` in the store of `data`, durably and readable by the owner only, before the
/// record that commits to it is appended.
pub fn store(data: &Path, secret: &Secret) -> Result<PathBuf, ConfidentialError> {
    let d = dir(data);
    std::fs::create_dir_all(&d).map_err(|source| ConfidentialError::Io { path: d.clone(), source })?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).map_err(|source| ConfidentialError::Io { path: d.clone(), source })?;
    let body = serde_json::json!({"salt": relic_ledger::hex::encode(&secret.salt), "text": secret.text});
    let path = d.join(&secret.commitment);
    relic_store::fs::write_durably(&path, body.to_string().as_bytes(), Some(0o600))?;
    Ok(path)
}

/// The secret committed to by `commitment`, if the store of `data` holds it (a mirror's does not).
pub fn load(data: &Path, commitment_hex: &str) -> Result<Option<Secret>, ConfidentialError> {
    if commitment_hex.len() != 64 || !commitment_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let path = dir(data).join(commitment_hex);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ConfidentialError::Io { path, source }),
    };
    let damaged = |why: &str| ConfidentialError::Damaged { path: path.clone(), why: why.into() };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| damaged("not JSON"))?;
    let text = v["text"].as_str().ok_or_else(|| damaged("no text"))?;
    let salt_hex = v["salt"].as_str().ok_or_else(|| damaged("no salt"))?;
    if !check(commitment_hex, salt_hex, text) {
        return Err(damaged("its text and salt do not match the commitment it is named by"));
    }
    let salt = relic_ledger::hex::decode(salt_hex).and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| damaged("bad salt"))?;
    Ok(Some(Secret { commitment: commitment_hex.to_string(), salt, text: text.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commitment_binds_the_text_and_hides_it() {
        let s = Secret::new("RCE in the settlement API", [7; 32]);
        assert!(check(&s.commitment, &relic_ledger::hex::encode(&s.salt), &s.text));
        assert!(!check(&s.commitment, &relic_ledger::hex::encode(&s.salt), "RCE in the settlement AP1"));
        assert!(!check(&s.commitment, &relic_ledger::hex::encode(&[8; 32]), &s.text));
        // The same text with another salt: another commitment (a guess cannot be confirmed).
        assert_ne!(Secret::new("RCE in the settlement API", [9; 32]).commitment, s.commitment);
        assert!(!format!("{s:?}").contains("RCE"));
        let t = tempfile::tempdir().unwrap();
        let path = store(t.path(), &s).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(t.path(), &s.commitment).unwrap(), Some(s.clone()));
        assert_eq!(load(t.path(), &"0".repeat(64)).unwrap(), None);
    }
}

#[cfg(test)]
mod example_tests {
    /// The examples in `schemas/events/examples/`: the title disclosed by internal.disclosed v2 is
    /// the one internal.detected v2 committed to (the check any reader of the log can make).
    #[test]
    fn the_examples_reveal_what_they_committed_to() {
        let read = |name: &str| -> serde_json::Value {
            let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/events/examples/").to_string() + name;
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
        };
        let (detected, disclosed) = (read("internal.detected.v2.json"), read("internal.disclosed.v2.json"));
        let c = detected["title_commitment"].as_str().unwrap();
        assert!(super::check(c, disclosed["title_salt"].as_str().unwrap(), disclosed["title"].as_str().unwrap()));
        assert!(!super::check(c, disclosed["title_salt"].as_str().unwrap(), "Refund amount bounded by capture"));
    }
}
