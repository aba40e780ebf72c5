//! Release evidence: the document, its digest, and the content-addressed store beside the log.
//!
//! The document has the reference's structure (`release` with its `project`, `milestones` with their
//! `issues`, and `report_artifacts`), plus `collected_at` and a `redaction` note. Its digest is
//! BLAKE3 over its canonical bytes (relic's canonical JSON, `schemas/record-v1.md` §Payload), so anyone
//! can recompute it from the stored file alone; the signed `evidence.collected` event carries it.
//!
//! Redaction rule `confidential-issues/v1`: an issue marked confidential keeps its `id`, `iid`,
//! `state`, `confidential`, `created_at` and `due_date`; its `title` becomes
//! `[confidential issue redacted]` and its `description` becomes null. The document says how many
//! issues were redacted, so the redaction is visible, never silent.
//!
//! Report artifacts are kept by BLAKE3 digest under `artifacts/`, so evidence never points at
//! something that expired; documents under `evidence/`, named by their digest.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use relic_ledger::checkpoint::{Checkpoint, InclusionBundle};
use relic_ledger::{Ledger, Record};

use crate::event::{Artifact, Issue, MilestoneRecorded};
use crate::state::{Evidence, Project, Release};

pub const REDACTION_RULE: &str = "confidential-issues/v1";
pub const REDACTED_TITLE: &str = "[confidential issue redacted]";

/// Why evidence could not be stored or checked.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("evidence {0} is not in the evidence store")]
    Missing(String),
    #[error("evidence {expected} was altered: its bytes hash to {found}")]
    Altered { expected: String, found: String },
    #[error("report artifact {name} ({digest}) was altered or is missing")]
    Artifact { name: String, digest: String },
    /// Writing a file durably failed.
    #[error(transparent)]
    Store(#[from] relic_store::Error),
    /// The `evidence.collected` record that names the document does not vouch for it.
    #[error("evidence {sha}: its record {seq} {why}")]
    Record { sha: String, seq: u64, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Io { path: path.to_path_buf(), source }
}

/// A built evidence document: its canonical bytes and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub bytes: Vec<u8>,
    /// BLAKE3 of `bytes`, lower-case hex.
    pub sha: String,
    pub redacted_issues: u64,
}

fn issue_json(i: &Issue, redacted: &mut u64) -> Value {
    if i.confidential {
        *redacted += 1;
        json!({"id": i.id, "iid": i.iid, "title": REDACTED_TITLE, "description": null, "state": i.state,
               "confidential": true, "created_at": i.created_at, "due_date": i.due_date})
    } else {
        json!({"id": i.id, "iid": i.iid, "title": i.title, "description": i.description, "state": i.state,
               "confidential": false, "created_at": i.created_at, "due_date": i.due_date})
    }
}

fn milestone_json(m: &MilestoneRecorded, redacted: &mut u64) -> Value {
    json!({"id": m.id, "iid": m.iid, "title": m.title, "description": m.description, "state": m.state,
           "created_at": m.created_at, "due_date": m.due_date,
           "issues": m.issues.iter().map(|i| issue_json(i, redacted)).collect::<Vec<_>>()})
}

/// Builds the evidence document of `release` as the project knows it now.
pub fn document(project: &Project, release: &Release, collected_at: &str) -> Document {
    let mut redacted = 0u64;
    let milestones: Vec<Value> = release
        .milestones
        .iter()
        .filter_map(|t| project.milestones.get(t))
        .map(|m| milestone_json(m, &mut redacted))
        .collect();
    let artifacts: Vec<Value> = release
        .report_artifacts
        .iter()
        .map(|a| json!({"url": format!("relic:artifacts/{}", a.blake3), "name": a.name, "blake3": a.blake3, "size": a.size}))
        .collect();
    let doc = json!({
        "release": {
            "id": release.id,
            "tag_name": release.tag_name,
            "name": release.name,
            "description": release.description,
            "created_at": crate::timing::ts(release.created_at),
            "project": {"id": project.id, "name": project.name, "description": project.description, "created_at": project.created_at},
            "milestones": milestones,
            "report_artifacts": artifacts,
        },
        "collected_at": collected_at,
        "redaction": {"rule": REDACTION_RULE, "redacted_issues": redacted},
    });
    let bytes = relic_ledger::record::canonical_json(&doc);
    Document { sha: blake3::hash(&bytes).to_hex().to_string(), bytes, redacted_issues: redacted }
}

/// The JSON Schema of an evidence document's structure (`schemas/evidence-v1.schema.json`).
pub const DOCUMENT_SCHEMA: &str = include_str!("../../schemas/evidence-v1.schema.json");

/// Checks a document's structure against [`DOCUMENT_SCHEMA`] (formats asserted); the first
/// failure, with its JSON pointer.
pub fn check_structure(doc: &Value) -> Result<(), String> {
    let validator = crate::schema::compile::<jsonschema::json::SerdeJson>(DOCUMENT_SCHEMA)?;
    validator.validate(doc).map_err(|e| format!("{}: {e}", e.instance_path().as_str()))
}

/// Where a document with this digest is kept, relative to the data directory.
pub fn document_path(sha: &str) -> String {
    format!("evidence/{sha}.json")
}

pub fn artifact_path(data: &Path, digest: &str) -> PathBuf {
    data.join("artifacts").join(digest)
}

/// When a file beside the log reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Before the call returns.
    Now,
    /// With the commit of the records that name it (the caller hands the path to
    /// `Ledger::queue_decided`, which syncs it before acknowledging them).
    WithRecords,
}

/// Writes `bytes` to `path`, unless the file there already holds exactly them (content-addressed
/// names: a file left half-written by a crash before its records were acknowledged is replaced).
fn put(path: &Path, bytes: &[u8], sync: Sync) -> Result<(), EvidenceError> {
    if let Ok(m) = std::fs::metadata(path) {
        if m.len() == bytes.len() as u64 && std::fs::read(path).is_ok_and(|b| b == bytes) {
            return Ok(());
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    Ok(match sync {
        Sync::Now => relic_store::fs::write_durably(path, bytes, None)?,
        Sync::WithRecords => relic_store::fs::write_unsynced(path, bytes)?,
    })
}

/// Stores a document under `evidence/<sha>.json` and returns its path. Called before its event is
/// appended, so an event never names a document that is not on disk.
pub fn store_document(data: &Path, doc: &Document, sync: Sync) -> Result<PathBuf, EvidenceError> {
    let path = data.join(document_path(&doc.sha));
    put(&path, &doc.bytes, sync)?;
    Ok(path)
}

/// Stores a report artifact's bytes by their BLAKE3 digest; returns its reference and its path.
pub fn store_artifact(data: &Path, name: &str, bytes: &[u8], sync: Sync) -> Result<(Artifact, PathBuf), EvidenceError> {
    let file = ArtifactFile::new(name, bytes.to_vec());
    let path = artifact_path(data, &file.artifact.blake3);
    put(&path, bytes, sync)?;
    Ok((file.artifact, path))
}

/// A report artifact given to a command: its bytes, and what the record will say of them (name,
/// BLAKE3, size). Computing the digest touches nothing; the file is stored only once the command
/// is decided ([`crate::decide::Decision::artifacts`]), so a refused command leaves no file behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    pub artifact: Artifact,
    pub bytes: Vec<u8>,
}

impl ArtifactFile {
    pub fn new(name: &str, bytes: Vec<u8>) -> Self {
        let artifact = Artifact { name: name.to_string(), blake3: blake3::hash(&bytes).to_hex().to_string(), size: bytes.len() as u64 };
        Self { artifact, bytes }
    }
}

/// The second step of `schemas/evidence-v1.md` §Verify: the `evidence.collected` record at
/// `ev.seq` is one, names this document's digest for this release, is signed by the key the log's
/// key history gives for its position, and is the entry at its position of the tree that `proof`'s
/// signed checkpoint commits to. Returns that checkpoint.
///
/// # Errors
/// [`EvidenceError::Record`] saying which of these fails.
pub fn verify_record(ledger: &Ledger, ev: &Evidence, proof: &InclusionBundle) -> Result<Checkpoint, EvidenceError> {
    let fail = |why: String| EvidenceError::Record { sha: ev.sha.clone(), seq: ev.seq, why };
    let bytes = ledger.record_bytes(ev.seq).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let rec = Record::decode(&bytes).map_err(|e| fail(format!("is not a record: {e}")))?;
    let payload = rec.payload_json();
    if rec.kind != crate::event::EVIDENCE_COLLECTED || payload.get("sha").and_then(Value::as_str) != Some(ev.sha.as_str()) {
        return Err(fail("does not name this document".into()));
    }
    if rec.subject != format!("{}@{}", ev.project, ev.tag_name) {
        return Err(fail(format!("is about {}, not {}@{}", rec.subject, ev.project, ev.tag_name)));
    }
    let keys = ledger.keys();
    let key = keys.iter().rev().find(|k| k.from_seq <= ev.seq).ok_or_else(|| fail("precedes every key of the log".into()))?;
    if !rec.verify_signature(&key.key) {
        return Err(fail("has a bad signature".into()));
    }
    if proof.index != ev.seq {
        return Err(fail(format!("was proven at index {} instead", proof.index)));
    }
    let all: Vec<_> = keys.into_iter().map(|k| k.key).collect();
    proof.verify(&bytes, &all).map_err(|e| fail(format!("is not in the log the checkpoint commits to: {e}")))
}

/// A relic evidence document in GitLab's evidence shape (its `Evidences::EvidenceEntity` JSON
/// schema: `release` with `id`, `tag_name`, `name`, `description`, `created_at`, `project`,
/// `milestones` and `report_artifacts[].url`): relic's additions left out — the top-level
/// `collected_at` and `redaction`, and each artifact's `name`, `blake3` and `size`. Redacted issues
/// stay redacted.
pub fn gitlab_shape(doc: &Value) -> Value {
    let mut release = doc.get("release").cloned().unwrap_or(Value::Null);
    if let Some(artifacts) = release.get_mut("report_artifacts").and_then(Value::as_array_mut) {
        for a in artifacts.iter_mut() {
            if let Some(o) = a.as_object_mut() {
                o.retain(|k, _| k == "url");
            }
        }
    }
    serde_json::json!({ "release": release })
}

/// Recomputes a stored document's digest and every artifact it references (the first step of
/// `schemas/evidence-v1.md` §Verify).
pub fn verify_document(data: &Path, sha: &str, artifacts: &[Artifact]) -> Result<Vec<u8>, EvidenceError> {
    let path = data.join(document_path(sha));
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            EvidenceError::Missing(sha.to_string())
        } else {
            EvidenceError::Io { path: path.clone(), source: e }
        }
    })?;
    let found = blake3::hash(&bytes).to_hex().to_string();
    if found != sha {
        return Err(EvidenceError::Altered { expected: sha.to_string(), found });
    }
    for a in artifacts {
        let ok = std::fs::read(artifact_path(data, &a.blake3))
            .map(|b| blake3::hash(&b).to_hex().to_string() == a.blake3 && b.len() as u64 == a.size)
            .unwrap_or(false);
        if !ok {
            return Err(EvidenceError::Artifact { name: a.name.clone(), digest: a.blake3.clone() });
        }
    }
    Ok(bytes)
}
