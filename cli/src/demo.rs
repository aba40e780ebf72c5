//! `relic demo`: records a realistic release history, checkpoints it and verifies it.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use relic_ledger::{kind, verify, Actor, Draft, Ledger};
use serde_json::{json, Value};

use crate::{CliError, Result};

const ORIGIN: &str = "relic.example.com/acme";
const PROJECT: &str = "acme/payments";

/// (actor, role, kind, subject, payload): the history of one project's v4.0 release, a deploy
/// freeze, a refused attempt, and an S1 internal release through every phase.
fn history() -> Vec<(&'static str, &'static str, &'static str, String, Value)> {
    let rel = |tag: &str| format!("{PROJECT}@{tag}");
    let ir = "internal/2026-S1-0042".to_string();
    vec![
        ("alice", "owner", "project.registered", PROJECT.into(), json!({"id": 7, "path": PROJECT, "name": "Payments", "description": "Card and ledger services", "created_at": "2026-01-12T09:00:00Z"})),
        ("alice", "owner", "member.role_set", PROJECT.into(), json!({"user": "bob", "role": "maintainer"})),
        ("alice", "owner", "member.role_set", PROJECT.into(), json!({"user": "carol", "role": "developer"})),
        ("alice", "owner", "member.role_set", PROJECT.into(), json!({"user": "gus", "role": "guest"})),
        ("alice", "owner", "protected_tag.set", PROJECT.into(), json!({"pattern": "v*", "create_access_level": "maintainer"})),
        ("bob", "maintainer", "milestone.recorded", PROJECT.into(), json!({"id": 31, "iid": 4, "title": "v4.0", "state": "active", "due_date": "2026-06-01", "issues": [
            {"id": 901, "iid": 120, "title": "Refunds API", "state": "closed", "confidential": false},
            {"id": 902, "iid": 121, "title": "Fix rounding in FX conversion", "state": "closed", "confidential": true}]})),
        ("bob", "maintainer", "tag.recorded", rel("v4.0"), json!({"name": "v4.0", "ref": "main", "commit": "3f2a9c1d5e7b8a6f4c2d0e1b3a5c7d9e8f6a4b2c"})),
        ("bob", "maintainer", "release.created", rel("v4.0"), json!({"tag_name": "v4.0", "name": "Payments 4.0", "description": "Refunds API and FX fixes.", "ref": "main", "milestones": ["v4.0"], "released_at": "2026-06-01T10:00:00Z",
            "assets": {"links": [{"id": 1, "name": "payments-4.0.tar.gz", "url": "https://downloads.example.com/payments/4.0/payments-4.0.tar.gz", "direct_asset_path": "/binaries/payments-4.0.tar.gz", "link_type": "package"}]}})),
        ("relic", "system", "evidence.collected", rel("v4.0"), json!({"collected_at": "2026-06-01T10:00:02Z", "reason": "create", "digest": "blake3:9b1e1d8f0e6c2a4b7d3f5e1c9a8b6d4f2e0c1a3b5d7f9e8c6a4b2d0f1e3c5a7b"})),
        ("bob", "maintainer", "link.added", rel("v4.0"), json!({"id": 2, "name": "Runbook", "url": "https://wiki.example.com/payments/runbook-4.0", "link_type": "runbook"})),
        ("bob", "maintainer", "freeze.created", PROJECT.into(), json!({"id": 3, "freeze_start": "0 23 * * 5", "freeze_end": "0 7 * * 1", "cron_timezone": "Europe/Berlin"})),
        ("gus", "guest", "access.denied", rel("v4.0"), json!({"attempted": "release.deleted", "reason": "Access Denied"})),
        ("carol", "developer", "release.updated", rel("v4.0"), json!({"description": "Refunds API, FX rounding fix, faster settlement."})),
        ("sam", "maintainer", "internal.detected", ir.clone(), json!({"project": PROJECT, "kind": "vulnerability", "severity": 1, "detected_at": "2026-06-10T08:00:00Z", "summary": "redacted until disclosure"})),
        ("sam", "maintainer", "internal.prepared", ir.clone(), json!({"targets": ["4.0", "3.11", "3.10"], "release_manager": "sam"})),
        ("sam", "maintainer", "internal.remediated", ir.clone(), json!({"default_branch_merge": "a1b2c3d", "multi_tenant_deployed_at": "2026-06-10T20:00:00Z", "security_verified_by": "appsec"})),
        ("sam", "maintainer", "internal.backported", ir.clone(), json!({"version": "3.11", "approved": true, "pipeline": "green", "merged": "b2c3d4e"})),
        ("sam", "maintainer", "internal.backported", ir.clone(), json!({"version": "3.10", "approved": true, "pipeline": "green", "merged": "c3d4e5f"})),
        ("sam", "maintainer", "internal.released", ir.clone(), json!({"packages": [{"version": "3.11.4-internal.1"}, {"version": "3.10.9-internal.1"}]})),
        ("sam", "maintainer", "internal.finalized", ir.clone(), json!({"rollout_completed_at": "2026-06-12T18:00:00Z", "customers_notified": true, "emergency_maintenance": "2026-06-12"})),
        ("bob", "maintainer", "tag.recorded", rel("v4.0.1"), json!({"name": "v4.0.1", "ref": "main", "commit": "4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b"})),
        ("bob", "maintainer", "release.created", rel("v4.0.1"), json!({"tag_name": "v4.0.1", "name": "Payments 4.0.1", "description": "Security fix.", "milestones": [], "released_at": "2026-06-20T10:00:00Z"})),
        ("sam", "maintainer", "internal.disclosed", ir, json!({"public_patch": "4.0.1", "disclosed_at": "2026-06-20T12:00:00Z"})),
    ]
}

pub fn run(data: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let ledger = Ledger::init(data, ORIGIN)?;
    let w = |e: std::io::Error| CliError::Io { path: "<stdout>".into(), source: e };
    writeln!(out, "created ledger {ORIGIN} in {}", data.display()).map_err(w)?;
    let events = history();
    let half = events.len() / 2;
    for (i, (actor, role, k, subject, payload)) in events.into_iter().enumerate() {
        if i == half {
            let (r, vk) = ledger.rotate_key_blocking(Actor { id: "alice".into(), role: "owner".into() })?;
            writeln!(out, "{:>4}  key.rotated            new key {}", r.seq, relic_ledger::note::key_id_hex(&vk.key_id)).map_err(w)?;
        }
        let schema_version = kind::schema_version(k).ok_or_else(|| relic_ledger::Error::UnknownKind(k.into()))?;
        let draft = Draft {
            actor: Actor { id: actor.into(), role: role.into() },
            kind: k.into(),
            subject: subject.clone(),
            payload: payload.to_string().into_bytes(),
            schema_version,
        };
        let r = ledger.append_blocking(draft)?;
        writeln!(out, "{:>4}  {k:<22} {subject}  by {actor} ({role})", r.seq).map_err(w)?;
    }
    let cp = ledger.checkpoint(None)?;
    writeln!(out, "\nsigned checkpoint:\n{}", cp.note).map_err(w)?;
    writeln!(out, "verifier key: {}", ledger.verifier_key()?).map_err(w)?;
    drop(ledger);
    let report = verify::verify_dir(data, &verify::Options { trusted: Some(&cp.note), ..Default::default() }, &mut |_, _| {})??;
    writeln!(
        out,
        "verify: ok, {} records, {} checkpoint(s), {} signing keys, tree head {}",
        report.size,
        report.checkpoints,
        report.keys.len(),
        B64.encode(report.root)
    )
    .map_err(w)?;
    let _ = writeln!(err, "next: `relic --data {} log`, `relic --data {0} prove inclusion 8`", data.display());
    Ok(())
}
