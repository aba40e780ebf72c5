//! Where a data directory keeps the long payload texts that records refer to
//! (`<data>/texts/<BLAKE3 hex>`, the text's exact UTF-8 bytes; `schemas/record-v1.md` §Texts kept
//! beside the log), and the ledger's two uses of it: keeping a draft's long texts before it is
//! queued, and reading them back for whoever decodes a payload.
//!
//! What this is not: the rule itself (which strings, the reference's shape, the checks on reading
//! back: `relic_formats::texts`), or the files' durability (the commit that acknowledges the record
//! syncs them first, as for evidence documents: `schemas/store-v4.md` §Commits).

use std::path::{Path, PathBuf};

use relic_formats::record::{self, Draft, RecordError};
use relic_formats::texts::{self, TextError};
use relic_formats::tiles::MAX_ENTRY;

use crate::error::{Error, Result};

/// The texts directory of the data directory `data`.
pub fn dir(data: &Path) -> PathBuf {
    data.join("texts")
}

/// Reads texts by digest from a data directory.
#[derive(Debug, Clone)]
pub struct TextStore {
    dir: PathBuf,
}

impl TextStore {
    pub fn new(data: &Path) -> Self {
        TextStore { dir: dir(data) }
    }

    /// The bytes of the text with this digest (64 lower-case hex; not checked here:
    /// [`texts::resolve`] checks them against the reference).
    pub fn read(&self, digest: &str) -> std::result::Result<Vec<u8>, String> {
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("not a digest".into());
        }
        let p = self.dir.join(digest);
        std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
    }

    /// A stored payload as a reader sees it: the texts it refers to put back. `None` when it
    /// refers to none (the bytes are then the payload as it reads).
    pub fn resolve(&self, payload: &[u8]) -> std::result::Result<Option<serde_json::Value>, TextError> {
        if !texts::may_refer(payload) {
            return Ok(None);
        }
        let mut v: serde_json::Value = serde_json::from_slice(payload).map_err(|e| TextError::Malformed(format!("the payload is not JSON: {e}")))?;
        texts::resolve(&mut v, &mut |d| self.read(d))?;
        Ok(Some(v))
    }
}

/// Refuses a submitted payload (relic's compact form) that holds a `$text` member.
pub(crate) fn check_unreserved(payload: &[u8]) -> Result<()> {
    // Cheap first: the member's name, quoted, is somewhere in the bytes.
    if !payload.windows(8).any(|w| w == b"\"$text\":") {
        return Ok(());
    }
    let v: serde_json::Value = serde_json::from_slice(payload).map_err(|e| field(e.to_string()))?;
    texts::check_unreserved(&v).map_err(|e| field(e.to_string()))
}

fn field(reason: String) -> Error {
    Error::Record(RecordError::Field { field: "payload", reason })
}

/// The draft as it is written: each payload string of more than [`texts::INLINE_LIMIT`] bytes
/// written to `data`'s texts directory (unsynced: the caller hands the returned paths to the
/// commit that acknowledges the record, which syncs them first) and replaced by its reference.
/// The record must then fit an entry bundle.
pub(crate) fn keep(data: &Path, mut draft: Draft) -> Result<(Draft, Vec<PathBuf>)> {
    let mut files = Vec::new();
    if draft.payload.len() > texts::INLINE_LIMIT {
        let mut v: serde_json::Value = serde_json::from_slice(&draft.payload).map_err(|e| field(e.to_string()))?;
        let kept = texts::externalize(&mut v);
        if !kept.is_empty() {
            let d = dir(data);
            std::fs::create_dir_all(&d).map_err(|source| Error::Io { path: d.clone(), source })?;
            for (digest, text) in kept {
                let p = d.join(&digest);
                if !files.contains(&p) {
                    relic_store::fs::write_unsynced(&p, text.as_bytes())?;
                    files.push(p);
                }
            }
            let compact = serde_json::to_vec(&v).map_err(|e| field(e.to_string()))?;
            draft.payload = record::canonical_payload(&compact)?;
        }
    }
    let len = texts::record_len(&draft.actor.id, &draft.actor.role, &draft.kind, &draft.subject, &draft.payload);
    if len > MAX_ENTRY {
        return Err(field(format!(
            "the record would be {len} bytes; a record must fit in {MAX_ENTRY} bytes (a C2SP entry bundle's limit) once texts of more than {} bytes are kept beside the log",
            texts::INLINE_LIMIT
        )));
    }
    Ok((draft, files))
}
