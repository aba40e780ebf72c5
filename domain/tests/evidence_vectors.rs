//! Test vectors for evidence documents (`schemas/evidence-v1.md`): the canonical bytes and BLAKE3
//! digest of a fixed document, including a redacted confidential issue and a report artifact.
//! `RELIC_WRITE_VECTORS=1` rewrites `schemas/vectors/evidence-v1.json`; otherwise any difference fails.

use chrono::{TimeZone, Utc};
use relic_domain::decide::{decide, Command};
use relic_domain::event::*;
use relic_domain::evidence;
use relic_domain::state::State;

fn fixed_document() -> evidence::Document {
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
    let d = run("alice", Command::CreateRelease {
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
    });
    d.documents.into_iter().next().expect("evidence on create")
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
