//! Test vectors for evidence documents (`schemas/evidence-v1.md`): the canonical bytes and BLAKE3
//! digest of a fixed document, including a redacted confidential issue and a report artifact.
//! And for evidence bundles (`schemas/evidence-bundle-v1.md`): a bundle of that release's evidence
//! in a small log signed by a fixed key and cosigned by a fixed witness, with altered copies and
//! the check each must fail.
//! `RELIC_WRITE_VECTORS=1` rewrites `schemas/vectors/evidence-v1.json` and
//! `schemas/vectors/evidence-bundle-v1.json`; otherwise any difference fails.

use chrono::{TimeZone, Utc};
use relic_domain::decide::{decide, Command};
use relic_domain::event::*;
use relic_domain::evidence;
use relic_domain::state::State;

fn fixed_document() -> evidence::Document {
    fixed_release().documents.into_iter().next().expect("evidence on create")
}

/// The decision that creates the vectors' release: its events (the evidence collected on create
/// among them) and its evidence document.
fn fixed_release() -> relic_domain::decide::Decision {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap();
    let mut st = State::default();
    let mut run = |actor: &str, cmd: Command| {
        let d = decide(&st, actor, &cmd, now).unwrap_or_else(|e| panic!("{e}"));
        for (i, e) in d.events.iter().enumerate() {
            st.apply_event(e, actor, i as u64, "2026-06-01T10:00:00Z");
        }
        d
    };
    run("alice", Command::RegisterProject { project: "acme/payments".into(), name: "Payments".into(), description: Some("Card services".into()) });
    let issue = |id: u64, title: &str, confidential: bool| Issue {
        id,
        iid: id - 100,
        title: title.into(),
        description: Some(format!("{title}.")),
        state: "closed".into(),
        confidential,
        created_at: "2026-05-02T09:00:00Z".into(),
        due_date: Some("2026-05-30".into()),
    };
    run("alice", Command::RecordMilestone(MilestoneRecorded {
        project: "acme/payments".into(),
        id: 31,
        iid: 4,
        title: "4.3".into(),
        description: Some("Refunds".into()),
        state: "closed".into(),
        created_at: "2026-05-01T09:00:00Z".into(),
        due_date: Some("2026-06-01".into()),
        issues: vec![issue(901, "Refunds API", false), issue(902, "Fix rounding in FX", true)],
    }));
    let junit = relic_domain::evidence::ArtifactFile::new("rspec.xml", b"<testsuites/>\n".to_vec());
    assert_eq!(junit.artifact.size, 14);
    run("alice", Command::CreateRelease {
        project: "acme/payments".into(),
        tag_name: "v4.3.0".into(),
        name: Some("Payments 4.3".into()),
        description: Some("Refunds — and \"FX\" fixes.\n".into()),
        git_ref: Some("main".into()),
        tag_message: None,
        released_at: None,
        milestones: vec!["4.3".into()],
        links: vec![],
        report_artifacts: vec![junit],
    })
}

#[test]
fn evidence_document_vectors() {
    let doc = fixed_document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/vectors/evidence-v1.json");
    let value: serde_json::Value = serde_json::from_slice(&doc.bytes).unwrap();
    let vector = serde_json::json!({
        "description": "An evidence document as relic stores it (schemas/evidence-v1.md): canonical_utf8 is the exact stored bytes; blake3 is their digest; document is the same JSON, for reading.",
        "document": value,
        "canonical_utf8": String::from_utf8(doc.bytes.clone()).unwrap(),
        "blake3": doc.sha,
        "redacted_issues": doc.redacted_issues,
    });
    if std::env::var_os("RELIC_WRITE_VECTORS").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&vector).unwrap() + "\n").unwrap();
    }
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(stored, vector, "schemas/vectors/evidence-v1.json no longer matches the code");
    // Independently of the builder: the digest is BLAKE3 of the canonical bytes, and the canonical
    // bytes are the canonical form of the document.
    let bytes = stored["canonical_utf8"].as_str().unwrap().as_bytes();
    assert_eq!(blake3::hash(bytes).to_hex().to_string(), stored["blake3"].as_str().unwrap());
    assert_eq!(relic_ledger::record::canonical_json(&stored["document"]), bytes);
    assert_eq!(stored["document"]["release"]["milestones"][0]["issues"][1]["title"], evidence::REDACTED_TITLE);
}

/// The document's structure has a JSON Schema (`schemas/evidence-v1.schema.json`): the vector
/// document and a document relic builds match it; a document with a member too many, one missing,
/// a confidential issue left readable or a malformed time does not.
#[test]
fn evidence_documents_match_their_schema() {
    let doc: serde_json::Value = serde_json::from_slice(&fixed_document().bytes).unwrap();
    evidence::check_structure(&doc).unwrap();
    let vector: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/vectors/evidence-v1.json")).unwrap()).unwrap();
    evidence::check_structure(&vector["document"]).unwrap();
    let bad = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut d = doc.clone();
        f(&mut d);
        evidence::check_structure(&d).expect_err("a broken document matched")
    };
    assert!(bad(&|d| d["release"]["extra"] = serde_json::json!(1)).starts_with("/release"));
    bad(&|d| drop(d["release"].as_object_mut().unwrap().remove("tag_name")));
    bad(&|d| d["release"]["milestones"][0]["issues"][1]["title"] = serde_json::json!("Chargeback fraud"));
    assert!(bad(&|d| d["collected_at"] = serde_json::json!("2026-06-01 10:00")).starts_with("/collected_at"));
}

/// Builds the bundle vectors: the log is record 0 and the create decision's events, one record a
/// second apart from 2026-06-01T10:00:00Z, all signed by a key from a fixed seed; its checkpoint is
/// cosigned by a witness from a fixed seed at a fixed time. Ed25519 is deterministic, so the bytes
/// are the same on every run.
fn bundle_vectors() -> serde_json::Value {
    use relic_domain::evidence_bundle::{encode, Included};
    use relic_ledger::checkpoint::{Checkpoint, InclusionBundle};
    use relic_ledger::cosignature::Cosigner;
    use relic_ledger::merkle;
    use relic_ledger::note::{self, SignerKey};
    use relic_ledger::record::{canonical_json, genesis_link, link_of, Actor, Record};
    use serde_json::json;

    let origin = "vectors.relic.example/log";
    let log = SignerKey::from_seed(origin, [7; 32]).unwrap();
    let witness = Cosigner::from_seed("vectors.relic.example/witness", [9; 32]).unwrap();
    let d = fixed_release();
    let mut entries: Vec<(String, String, u16, serde_json::Value)> =
        vec![("ledger.created".into(), origin.into(), 1, json!({"key": log.verifier().to_string(), "origin": origin}))];
    for e in &d.events {
        entries.push((e.kind().into(), e.subject(), relic_domain::catalogue::current_version(e.kind()).unwrap_or(1), e.payload()));
    }
    let mut records = Vec::new();
    let mut prev = genesis_link(origin);
    for (i, (kind, subject, version, payload)) in entries.into_iter().enumerate() {
        let role = if i == 0 { "system" } else { "owner" };
        let mut rec = Record {
            seq: i as u64,
            time_us: 1_780_308_000_000_000 + i as i64 * 1_000_000,
            schema_version: version,
            key_id: log.key_id(),
            prev,
            actor: Actor { id: "alice".into(), role: role.into() },
            kind,
            subject,
            payload: canonical_json(&payload),
            signature: [0; 64],
        };
        rec.signature = log.sign(&Record::signed_message(&rec.body()));
        let bytes = rec.to_bytes();
        prev = link_of(&bytes);
        records.push((rec, bytes));
    }
    let seq = records.iter().position(|(r, _)| r.kind == EVIDENCE_COLLECTED).expect("an evidence record") as u64;
    let n = records.len() as u64;
    let mut stored = Vec::new();
    let mut f = merkle::Frontier::new();
    for (_, b) in &records {
        stored.extend(f.push(merkle::leaf_hash(b)));
    }
    let root = merkle::tree_hash(n, stored.as_slice()).unwrap();
    let body = Checkpoint::new(origin, n, root).body();
    let signed = note::sign(&body, &log).unwrap();
    let cosigned = format!("{signed}{}", witness.sign(&body, 1_780_308_600));
    let proof = InclusionBundle { extra: None, index: seq, proof: merkle::prove_inclusion(seq, n, stored.as_slice()).unwrap(), checkpoint: cosigned.clone() };
    let doc = d.documents[0].clone();
    let artifact = d.events.iter().find_map(|e| match e {
        Event::EvidenceCollected(ev) => ev.report_artifacts.first().cloned(),
        _ => None,
    });
    let artifact = artifact.expect("the release's artifact");
    let with = [Included { artifact: artifact.clone(), bytes: Some(b"<testsuites/>\n".to_vec()) }];
    let without = [Included { artifact, bytes: None }];
    let record = &records[seq as usize].1;
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    let valid = encode(record, &proof, &doc.bytes, &with);
    // Altered copies, each failing one check.
    let mut doc_altered = doc.bytes.clone();
    let at = doc_altered.iter().position(|b| *b == b'4').unwrap();
    doc_altered[at] = b'5';
    let other_record = &records[seq as usize - 1].1;
    let uncosigned = InclusionBundle { checkpoint: signed.clone(), ..proof.clone() };
    let foreign_key = SignerKey::from_seed(origin, [8; 32]).unwrap();
    let forged = InclusionBundle { checkpoint: note::sign(&body, &foreign_key).unwrap(), ..proof.clone() };
    let artifact_altered = [Included { artifact: with[0].artifact.clone(), bytes: Some(b"<testsuites failures=\"1\"/>".to_vec()) }];
    let cases = vec![
        json!({"name": "valid, with the artifact's bytes", "bundle": text(valid.clone()), "quorum": 1, "expect": "ok"}),
        json!({"name": "valid, without the artifact's bytes", "bundle": text(encode(record, &proof, &doc.bytes, &without)), "quorum": 1, "expect": "ok"}),
        json!({"name": "the document altered (one digit)", "bundle": text(encode(record, &proof, &doc_altered, &with)), "quorum": 0, "expect": "document"}),
        json!({"name": "an artifact's bytes altered", "bundle": text(encode(record, &proof, &doc.bytes, &artifact_altered)), "quorum": 0, "expect": "artifact"}),
        json!({"name": "another record of the log in place of the evidence record", "bundle": text(encode(other_record, &proof, &doc.bytes, &with)), "quorum": 0, "expect": "record"}),
        json!({"name": "a checkpoint signed by another key of the same name", "bundle": text(encode(record, &forged, &doc.bytes, &with)), "quorum": 0, "expect": "checkpoint"}),
        json!({"name": "valid for the log key, but the checkpoint carries no cosignature", "bundle": text(encode(record, &uncosigned, &doc.bytes, &with)), "quorum": 1, "expect": "quorum"}),
        json!({"name": "a member too many", "bundle": text(valid).replacen("{", "{\"a\":1,", 1), "quorum": 0, "expect": "malformed"}),
    ];
    json!({
        "description": "Evidence bundles (schemas/evidence-bundle-v1.md). Each case's bundle is the file's exact text; verify it with log_key, then, when quorum is 1, require witness_key's cosignature. expect: ok, or the check that fails first (malformed, checkpoint, record, document, artifact, quorum).",
        "log_key": log.verifier().to_string(),
        "witness_key": witness.public().to_string(),
        "cases": cases,
    })
}

#[test]
fn evidence_bundle_vectors() {
    use relic_domain::evidence_bundle::{verify, BundleError};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas/vectors/evidence-bundle-v1.json");
    let vector = bundle_vectors();
    if std::env::var_os("RELIC_WRITE_VECTORS").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(&vector).unwrap() + "\n").unwrap();
    }
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(stored, vector, "schemas/vectors/evidence-bundle-v1.json no longer matches the code");
    let key = relic_ledger::note::VerifierKey::parse(stored["log_key"].as_str().unwrap()).unwrap();
    let witness = relic_ledger::cosignature::CosignerKey::parse(stored["witness_key"].as_str().unwrap()).unwrap();
    for case in stored["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let outcome = match verify(case["bundle"].as_str().unwrap().as_bytes(), std::slice::from_ref(&key)) {
            Err(BundleError::Malformed(_)) => "malformed",
            Err(BundleError::Checkpoint(_)) => "checkpoint",
            Err(BundleError::Record(_)) => "record",
            Err(BundleError::Document(_)) => "document",
            Err(BundleError::Artifact { .. }) => "artifact",
            Ok(v) => {
                let cosigned = relic_ledger::cosignature::verify(&v.checkpoint_note, std::slice::from_ref(&witness)).unwrap();
                if (cosigned.len() as u64) < case["quorum"].as_u64().unwrap() {
                    "quorum"
                } else {
                    assert_eq!((v.evidence.tag_name.as_str(), v.origin.as_str()), ("v4.3.0", "vectors.relic.example/log"), "{name}");
                    "ok"
                }
            }
        };
        assert_eq!(outcome, case["expect"].as_str().unwrap(), "case {name:?}");
    }
}

/// GitLab's evidence shape (`relic evidence show --format gitlab`): the release with its project,
/// milestones and each artifact's `url`, and nothing relic adds.
#[test]
fn the_gitlab_shape_leaves_out_relics_additions() {
    let doc: serde_json::Value = serde_json::from_slice(&fixed_document().bytes).unwrap();
    let g = evidence::gitlab_shape(&doc);
    assert_eq!(g.as_object().unwrap().keys().collect::<Vec<_>>(), ["release"]);
    let artifacts = g["release"]["report_artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].as_object().unwrap().keys().collect::<Vec<_>>(), ["url"]);
    assert_eq!(g["release"]["milestones"], doc["release"]["milestones"], "redacted issues stay redacted");
    assert_eq!(g["release"]["tag_name"], "v4.3.0");
}
