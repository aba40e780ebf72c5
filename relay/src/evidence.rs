//! Evidence documents and report artifacts travel beside the log, on a topic of their own.
//!
//! What this is: the files that records name by digest — the evidence document
//! `evidence/<sha>.json` and each report artifact `artifacts/<blake3>` of an `evidence.collected`
//! record (`domain/src/evidence.rs`), and the long texts any payload keeps beside the log,
//! `texts/<blake3>` (`schemas/record-v1.md` §Texts kept beside the log), all content-addressed by
//! BLAKE3 in the data directory. The publisher sends them before the record that
//! names them (message key = that relative path, value = the exact bytes); a mirror stores a file
//! only if its bytes hash to the digest its name carries, so that `relic evidence verify` and the
//! compliance report work on the mirror as on the origin.
//!
//! What this is not: part of the log. Files are not signed; they are bound to the log only through the
//! signed record that names their digest.

use std::path::{Path, PathBuf};

use relic_domain::event::EVIDENCE_COLLECTED;
use relic_ledger::Record;

/// Files larger than this are not published (a broker's default message limit is about 1 MB; this
/// one is raised to 4 MiB for the producer, which must also hold the key and headers).
pub(crate) const MAX_FILE: usize = 3 << 20;

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The relative paths of the files a record names: the texts its payload keeps beside the log
/// (`texts/<blake3>`, any kind), and for `evidence.collected` its document and artifacts.
pub(crate) fn files_named_by(record: &Record) -> Vec<String> {
    let mut files = Vec::new();
    if relic_ledger::texts::may_refer(&record.payload) {
        // A malformed reference names nothing (readers report it where they decode the record).
        for (digest, _) in relic_ledger::texts::references(&record.payload_json()).unwrap_or_default() {
            let name = format!("texts/{digest}");
            if !files.contains(&name) {
                files.push(name);
            }
        }
    }
    if record.kind != EVIDENCE_COLLECTED {
        return files;
    }
    let p = record.payload_json();
    if let Some(sha) = p.get("sha").and_then(|s| s.as_str()).filter(|s| is_digest(s)) {
        files.push(format!("evidence/{sha}.json"));
    }
    for a in p.get("report_artifacts").and_then(|a| a.as_array()).into_iter().flatten() {
        if let Some(d) = a.get("blake3").and_then(|d| d.as_str()).filter(|d| is_digest(d)) {
            files.push(format!("artifacts/{d}"));
        }
    }
    files
}

/// The digest a file's name carries, if the name is one of the three content-addressed forms.
fn digest_of(name: &str) -> Option<&str> {
    let d = name
        .strip_prefix("evidence/")
        .and_then(|r| r.strip_suffix(".json"))
        .or_else(|| name.strip_prefix("artifacts/"))
        .or_else(|| name.strip_prefix("texts/"))?;
    is_digest(d).then_some(d)
}

/// Why a received file was refused.
pub(crate) fn check(name: &str, bytes: &[u8]) -> Result<(), String> {
    let digest = digest_of(name).ok_or_else(|| format!("{name:?} is not the name of an evidence document, artifact or text"))?;
    let found = blake3::hash(bytes).to_hex();
    if found.as_str() != digest {
        return Err(format!("{name}: its bytes hash to {found}, not to the digest its name carries"));
    }
    Ok(())
}

/// Stores a checked file under `data`, durably (written aside, synced, renamed), unless it is there.
/// Returns whether it was new.
pub(crate) fn store(data: &Path, name: &str, bytes: &[u8]) -> Result<bool, relic_store::Error> {
    let path: PathBuf = data.join(name);
    if path.exists() {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(data);
    std::fs::create_dir_all(dir).map_err(|source| relic_store::Error::Io { path: dir.to_path_buf(), source })?;
    relic_store::fs::write_durably(&path, bytes, None)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_digests() {
        let bytes = b"{\"a\":1}";
        let d = blake3::hash(bytes).to_hex().to_string();
        assert!(check(&format!("evidence/{d}.json"), bytes).is_ok());
        assert!(check(&format!("artifacts/{d}"), bytes).is_ok());
        assert!(check(&format!("artifacts/{d}"), b"other").unwrap_err().contains("hash to"));
        assert!(check("evidence/../../etc/passwd.json", bytes).is_err());
        assert!(check(&format!("keys/{d}"), bytes).is_err());
        assert!(check(&format!("artifacts/{}", d.to_uppercase()), bytes).is_err());
    }
}
