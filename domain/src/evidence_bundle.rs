//! Offline evidence bundles (`schemas/evidence-bundle-v1.md`): one file that holds everything an
//! auditor needs to check a release's evidence away from relic and its data directory — the
//! evidence document, the report artifacts (or their digests and sizes), the exact bytes of the
//! signed `evidence.collected` record that names them, and the record's C2SP tlog-proof against the
//! (cosigned) checkpoint the log published.
//!
//! What this is: [`encode`] (the bundle's bytes from its parts) and [`verify`] (pure: the bundle's
//! bytes and the log's verifier keys in, what was proven out), applying the specification's checks
//! in its order.
//!
//! What this is not: where the parts come from (the CLI reads them from the ledger and the data
//! directory), or the witness policy: the caller requires the checkpoint's cosignatures
//! (`relic_ledger::cosignature::verify` on [`Verified::checkpoint_note`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use relic_ledger::checkpoint::InclusionBundle;
use relic_ledger::note::VerifierKey;
use relic_ledger::record::{self, Record};
use serde_json::{json, Map, Value};

use crate::event::{Artifact, EvidenceCollected, EVIDENCE_COLLECTED};

/// The value of the bundle's `bundle` member.
pub const FORMAT: &str = "relic-evidence-bundle/v1";

/// Why a bundle does not prove its evidence: the first check that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not an evidence bundle: {0}")]
    Malformed(String),
    #[error("its checkpoint: {0}")]
    Checkpoint(String),
    #[error("its record: {0}")]
    Record(String),
    #[error("its evidence document: {0}")]
    Document(String),
    #[error("report artifact {name} ({digest}): {why}")]
    Artifact { name: String, digest: String, why: String },
}

/// A report artifact as the bundle carries it: as the record names it, with its bytes unless the
/// bundle was written without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Included {
    pub artifact: Artifact,
    pub bytes: Option<Vec<u8>>,
}

/// The bundle's bytes: one JSON object in relic's compact form (members sorted, no whitespace),
/// so that the same parts always give the same file.
pub fn encode(record: &[u8], proof: &InclusionBundle, document: &[u8], artifacts: &[Included]) -> Vec<u8> {
    let artifacts: Vec<Value> = artifacts
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("blake3".into(), json!(a.artifact.blake3));
            m.insert("name".into(), json!(a.artifact.name));
            m.insert("size".into(), json!(a.artifact.size));
            if let Some(b) = &a.bytes {
                m.insert("content".into(), json!(B64.encode(b)));
            }
            Value::Object(m)
        })
        .collect();
    let v = json!({
        "bundle": FORMAT,
        "record": B64.encode(record),
        "tlog_proof": proof.to_text(),
        "document": B64.encode(document),
        "artifacts": artifacts,
    });
    // serde_json's map is ordered by key, which is relic's compact form for these members.
    v.to_string().into_bytes()
}

/// What a bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub origin: String,
    pub size: u64,
    pub seq: u64,
    pub evidence: EvidenceCollected,
    /// Artifacts whose bytes the bundle holds (checked); the others are named by digest and size.
    pub artifacts_included: usize,
    /// The checkpoint note, verbatim (its cosignatures for the caller's witness policy).
    pub checkpoint_note: String,
}

fn member<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a str, BundleError> {
    m.get(name).and_then(Value::as_str).ok_or_else(|| BundleError::Malformed(format!("member {name:?} must be a string")))
}

fn base64(m: &Map<String, Value>, name: &str) -> Result<Vec<u8>, BundleError> {
    B64.decode(member(m, name)?).map_err(|_| BundleError::Malformed(format!("member {name:?} is not standard base64")))
}

/// Checks a bundle against the log's verifier keys (every key whose signatures it must accept:
/// the checkpoint's signer and the record's), in the order of `schemas/evidence-bundle-v1.md`
/// §Verification.
pub fn verify(bytes: &[u8], keys: &[VerifierKey]) -> Result<Verified, BundleError> {
    // 1. The container.
    let v = record::strict_json(bytes).map_err(|e| BundleError::Malformed(format!("not strict JSON: {e}")))?;
    let m = v.as_object().ok_or_else(|| BundleError::Malformed("not a JSON object".into()))?;
    if m.get("bundle").and_then(Value::as_str) != Some(FORMAT) {
        return Err(BundleError::Malformed(format!("member \"bundle\" must be {FORMAT:?}")));
    }
    let known = ["bundle", "record", "tlog_proof", "document", "artifacts"];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(BundleError::Malformed(format!("unknown member {k:?}")));
    }
    let record_bytes = base64(m, "record")?;
    let document = base64(m, "document")?;
    let proof = InclusionBundle::parse(member(m, "tlog_proof")?).map_err(|e| BundleError::Malformed(format!("member \"tlog_proof\": {e}")))?;
    let listed = m.get("artifacts").and_then(Value::as_array).ok_or_else(|| BundleError::Malformed("member \"artifacts\" must be an array".into()))?;

    // 2. The checkpoint, and 3. the record in the tree it commits to.
    let checkpoint = proof.verify(&record_bytes, keys).map_err(|e| match e {
        relic_ledger::checkpoint::CheckpointError::Proof(p) => BundleError::Record(format!("is not in the tree the checkpoint commits to: {p}")),
        other => BundleError::Checkpoint(other.to_string()),
    })?;
    // 4. The record itself.
    let rec = Record::decode(&record_bytes).map_err(|e| BundleError::Record(format!("is not a record: {e}")))?;
    if rec.seq != proof.index {
        return Err(BundleError::Record(format!("is record {}, but the proof is for index {}", rec.seq, proof.index)));
    }
    let key = keys.iter().find(|k| k.key_id == rec.key_id).ok_or_else(|| {
        BundleError::Record(format!("is signed by key ID {}, which is not among the keys given (relic key --all lists the log's keys)", relic_ledger::hex::encode(&rec.key_id)))
    })?;
    if !rec.verify_signature(key) {
        return Err(BundleError::Record("has a bad signature".into()));
    }
    if rec.kind != EVIDENCE_COLLECTED || rec.schema_version != 1 {
        return Err(BundleError::Record(format!("is {} v{}, not evidence.collected v1", rec.kind, rec.schema_version)));
    }
    let payload = rec.payload_strict().map_err(BundleError::Record)?;
    let evidence: EvidenceCollected = serde_json::from_value(payload).map_err(|e| BundleError::Record(format!("its payload: {e}")))?;
    if rec.subject != format!("{}@{}", evidence.project, evidence.tag_name) {
        return Err(BundleError::Record(format!("its subject {} is not its payload's release", rec.subject)));
    }

    // 5. The document the record names.
    let found = blake3::hash(&document).to_hex();
    if found.as_str() != evidence.sha {
        return Err(BundleError::Document(format!("its bytes hash to {found}, the record names {}", evidence.sha)));
    }
    let doc: Value = serde_json::from_slice(&document).map_err(|e| BundleError::Document(format!("not JSON: {e}")))?;
    if doc["release"]["tag_name"].as_str() != Some(evidence.tag_name.as_str()) || doc["collected_at"].as_str() != Some(evidence.collected_at.as_str()) {
        return Err(BundleError::Document("its release tag or collection time is not the record's".into()));
    }

    // 6. The artifacts, exactly those the record names, in its order.
    if listed.len() != evidence.report_artifacts.len() {
        return Err(BundleError::Malformed(format!("{} artifacts listed, the record names {}", listed.len(), evidence.report_artifacts.len())));
    }
    let mut included = 0;
    for (entry, named) in listed.iter().zip(&evidence.report_artifacts) {
        let fail = |why: String| BundleError::Artifact { name: named.name.clone(), digest: named.blake3.clone(), why };
        let e = entry.as_object().ok_or_else(|| fail("its entry is not an object".into()))?;
        if e.keys().any(|k| !["blake3", "name", "size", "content"].contains(&k.as_str())) {
            return Err(fail("its entry has an unknown member".into()));
        }
        if e.get("blake3").and_then(Value::as_str) != Some(named.blake3.as_str())
            || e.get("name").and_then(Value::as_str) != Some(named.name.as_str())
            || e.get("size").and_then(Value::as_u64) != Some(named.size)
        {
            return Err(fail("its entry is not the artifact the record names at this position".into()));
        }
        if e.contains_key("content") {
            let bytes = base64(e, "content").map_err(|_| fail("its content is not standard base64".into()))?;
            let found = blake3::hash(&bytes).to_hex();
            if found.as_str() != named.blake3 || bytes.len() as u64 != named.size {
                return Err(fail(format!("its content ({} bytes) hashes to {found}", bytes.len())));
            }
            included += 1;
        }
    }
    Ok(Verified { origin: checkpoint.origin, size: checkpoint.size, seq: rec.seq, evidence, artifacts_included: included, checkpoint_note: proof.checkpoint })
}
