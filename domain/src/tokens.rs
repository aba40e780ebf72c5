//! API tokens: who a request is (issue 14's `relic serve`).
//!
//! What this is: a token is a secret, `relic_` followed by 40 lower-case hex digits (20 random
//! bytes), printed once when issued. The log records only its id (16 hex digits), its user, its
//! expiry and later its revocation (`token.issued`, `token.revoked`, decided like every command);
//! the secret's BLAKE3 hash is kept beside the log in `<data>/tokens.json` (mode 0600, replaced
//! whole through a rename), a JSON object from token id to hash. A secret authenticates as the
//! token's user when its hash is in that file and the log says the token was issued, is not
//! revoked and has not expired.
//!
//! What this is not: a permission. A token says who; the role comes from project membership, as
//! for every command.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::state::State;

/// The file of token hashes beside the log.
pub fn path(data: &Path) -> PathBuf {
    data.join("tokens.json")
}

/// Why tokens could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: not a token file (a JSON object from token id to hash)")]
    Malformed(PathBuf),
    #[error(transparent)]
    Store(#[from] relic_store::Error),
}

/// A new secret and its id, from the system's random source.
pub fn generate() -> Result<(String, String), TokenError> {
    let mut bytes = [0u8; 28];
    let dev = Path::new("/dev/urandom");
    std::fs::File::open(dev).and_then(|mut f| f.read_exact(&mut bytes)).map_err(|source| TokenError::Io { path: dev.into(), source })?;
    let id = relic_ledger::hex::encode(&bytes[..8]);
    let secret = format!("relic_{}", relic_ledger::hex::encode(&bytes[8..]));
    Ok((id, secret))
}

/// The hash kept for a secret.
pub fn hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The stored hashes, by token id (empty if none was issued).
pub fn load(data: &Path) -> Result<BTreeMap<String, String>, TokenError> {
    let p = path(data);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|_| TokenError::Malformed(p)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(TokenError::Io { path: p, source }),
    }
}

/// Adds the hash of `secret` under `id`, durably, mode 0600. Done before the `token.issued`
/// record: a hash whose record never came is of a token the log does not know, refused.
pub fn store(data: &Path, id: &str, secret: &str) -> Result<(), TokenError> {
    let mut all = load(data)?;
    all.insert(id.to_string(), hash(secret));
    let text = serde_json::to_vec_pretty(&all).map_err(|_| TokenError::Malformed(path(data)))?;
    Ok(relic_store::fs::write_durably(&path(data), &text, Some(0o600))?)
}

/// A request's identity: the token it presented and that token's user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub token_id: String,
    pub user: String,
}

/// Who `secret` authenticates as at `now`, if anyone: its hash is stored, and the log says its
/// token was issued, is not revoked and has not expired.
pub fn authenticate(hashes: &BTreeMap<String, String>, st: &State, secret: &str, now: DateTime<Utc>) -> Option<Authenticated> {
    let h = hash(secret);
    let (id, _) = hashes.iter().find(|(_, stored)| **stored == h)?;
    let t = st.tokens.get(id)?;
    if !active(t, now) {
        return None;
    }
    Some(Authenticated { token_id: id.clone(), user: t.user.clone() })
}

/// Whether token `t` is accepted at `now` (issued, unrevoked, unexpired), as GitLab's `active`.
pub fn active(t: &crate::state::Token, now: DateTime<Utc>) -> bool {
    t.revoked_at.is_none() && t.expires_at.as_deref().and_then(crate::timing::parse).is_none_or(|exp| exp > now)
}
