//! `relic demo`: records a realistic release history through the domain commands, then checkpoints
//! and verifies it. Everything goes through the same rules as the CLI, refusals included.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use relic_domain::decide::{ts, Command, LinkInput};
use relic_domain::event::*;
use relic_domain::evidence;
use relic_domain::service::Service;
use relic_ledger::{verify, Actor};

use crate::domain_cmds::service_err;
use crate::{CliError, Result};

const ORIGIN: &str = "relic.example.com/acme";
const P: &str = "acme/payments";

fn create(tag: &str, released_at: DateTime<Utc>) -> Command {
    Command::CreateRelease {
        project: P.into(),
        tag_name: tag.into(),
        name: None,
        description: Some(format!("Payments {}", tag.trim_start_matches('v'))),
        git_ref: Some("main".into()),
        tag_message: None,
        released_at: Some(ts(released_at)),
        milestones: vec![],
        links: vec![],
        report_artifacts: vec![],
    }
}

fn issue(id: u64, title: &str, confidential: bool) -> Issue {
    Issue {
        id,
        iid: id - 800,
        title: title.into(),
        description: Some(format!("{title}.")),
        state: "closed".into(),
        confidential,
        created_at: "2026-04-02T09:00:00Z".into(),
        due_date: None,
    }
}

/// The demo's history: (actor, command, whether it is refused on purpose).
fn history(now: DateTime<Utc>, junit: evidence::ArtifactFile, title_salt: [u8; 32]) -> Vec<(&'static str, Command, bool)> {
    let day = Duration::days(1);
    let ir = "IR-2026-001".to_string();
    let mut v43 = create("v4.3.0", now);
    if let Command::CreateRelease { milestones, links, report_artifacts, name, .. } = &mut v43 {
        *name = Some("Payments 4.3".into());
        *milestones = vec!["4.3".into()];
        *links = vec![LinkInput {
            name: Some("payments-4.3.0.tar.gz".into()),
            url: Some("https://downloads.example.com/payments/4.3.0/payments-4.3.0.tar.gz".into()),
            direct_asset_path: Some("/binaries/payments-4.3.0.tar.gz".into()),
            link_type: Some("package".into()),
        }];
        *report_artifacts = vec![junit];
    }
    let pkg = |v: &str, d: char| InternalPackage { version: v.into(), name: "payments-omnibus".into(), digest: format!("sha256:{}", d.to_string().repeat(64)) };
    vec![
        ("alice", Command::RegisterProject { project: P.into(), name: "Payments".into(), description: Some("Card and ledger services".into()) }, false),
        ("alice", Command::SetMemberRole { project: P.into(), user: "bob".into(), role: Role::Maintainer }, false),
        ("alice", Command::SetMemberRole { project: P.into(), user: "sam".into(), role: Role::Maintainer }, false),
        ("alice", Command::SetMemberRole { project: P.into(), user: "carol".into(), role: Role::Developer }, false),
        ("alice", Command::SetMemberRole { project: P.into(), user: "gus".into(), role: Role::Guest }, false),
        ("bob", Command::ProtectTag { project: P.into(), pattern: "v*".into(), create_access_level: Role::Maintainer }, false),
        ("bob", create("v4.1.0", now - day * 90), false),
        ("bob", create("v4.2.0", now - day * 30), false),
        ("carol", Command::RecordMilestone(MilestoneRecorded {
            project: P.into(), id: 31, iid: 4, title: "4.3".into(), description: Some("Refunds and FX".into()), state: "closed".into(),
            created_at: "2026-04-01T09:00:00Z".into(), due_date: Some("2026-06-01".into()),
            issues: vec![issue(901, "Refunds API", false), issue(902, "Fix rounding in FX conversion", true)],
        }), false),
        ("carol", create("v4.3.0", now), true),
        ("bob", v43, false),
        ("gus", Command::DeleteRelease { project: P.into(), tag_name: "v4.3.0".into() }, true),
        ("bob", Command::AddLink { project: P.into(), tag_name: "v4.3.0".into(), link: LinkInput {
            name: Some("Runbook".into()), url: Some("https://wiki.example.com/payments/runbook-4.3".into()), direct_asset_path: None, link_type: Some("runbook".into()) } }, false),
        ("bob", Command::UpdateRelease { project: P.into(), tag_name: "v4.3.0".into(), name: None,
            description: Some("Refunds API, FX rounding fix, faster settlement.".into()), released_at: None, milestones: None }, false),
        ("carol", Command::CreateFreeze { project: P.into(), freeze_start: "0 23 * * 5".into(), freeze_end: "0 7 * * 1".into(), cron_timezone: Some("Europe/Berlin".into()) }, true),
        ("bob", Command::CreateFreeze { project: P.into(), freeze_start: "0 23 * * 5".into(), freeze_end: "0 7 * * 1".into(), cron_timezone: Some("Europe/Berlin".into()) }, false),
        ("bob", create("v4.4.0", now + day * 14), false),
        ("bob", Command::CollectEvidence { project: P.into(), tag_name: "v4.3.0".into(), reason: EvidenceReason::OnDemand, scheduled_at: None }, false),
        ("sam", Command::InternalDetect { id: ir.clone(), project: P.into(), kind: InternalKind::Vulnerability, severity: 1, title_salt,
            title: "Authentication bypass in the settlement API".into(), reported_by: "security-incident-response".into(), detected_at: Some(ts(now - Duration::hours(3))) }, false),
        ("sam", Command::InternalPrepare { id: ir.clone(), release_issue: "https://issues.example.com/release/1234".into(),
            notified: vec!["single-tenant-group".into()], targets: vec!["4.2".into(), "4.1".into()] }, false),
        ("sam", Command::InternalRemediate { id: ir.clone(), default_branch_commit: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432".into(),
            multi_tenant_deployed_at: String::new(), security_verified_by: Some("appsec".into()) }, false),
        ("sam", Command::InternalRelease { id: ir.clone(), packages: vec![pkg("4.2.1-internal.1", 'a'), pkg("4.1.1-internal.1", 'b')], scheme: None }, true),
        ("sam", Command::InternalBackport { id: ir.clone(), target: "4.2".into(), merge_request: "!4521".into(), approved: true, pipeline: "success".into(), merged_commit: "1a2b3c4".into() }, false),
        ("sam", Command::InternalBackport { id: ir.clone(), target: "4.1".into(), merge_request: "!4522".into(), approved: true, pipeline: "success".into(), merged_commit: "5d6e7f8".into() }, false),
        ("sam", Command::InternalRelease { id: ir.clone(), packages: vec![pkg("4.2.1-internal.1", 'a'), pkg("4.1.1-internal.1", 'b')], scheme: None }, false),
        ("sam", Command::InternalFinalize { id: ir.clone(), rollout_completed_at: String::new(),
            notified: vec!["single-tenant-group".into()], emergency_maintenance: "EM-2026-017".into() }, false),
        ("bob", create("v4.2.1", now), false),
        ("bob", create("v4.1.1", now), false),
        ("sam", Command::InternalDisclose { id: ir, public_versions: vec!["4.2.1".into(), "4.1.1".into()], reveal: None }, false),
    ]
}

const JUNIT: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="0"><testsuite name="payments" tests="3" failures="0">
<testcase classname="refunds" name="full refund"/><testcase classname="refunds" name="partial refund"/>
<testcase classname="fx" name="rounding half even"/></testsuite></testsuites>
"#;

/// A phase's asserted time is the moment it is recorded: the demo records each phase as it
/// happens (an asserted time lies between the previous phase and its recording).
fn happened_now(mut cmd: Command, now: chrono::DateTime<Utc>) -> Command {
    match &mut cmd {
        Command::InternalRemediate { multi_tenant_deployed_at: t, .. } | Command::InternalFinalize { rollout_completed_at: t, .. } => *t = ts(now),
        _ => {}
    }
    cmd
}

pub fn run(data: &Path, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    relic_domain::service::init_ledger(data, ORIGIN).map_err(service_err)?.close();
    let w = |e: std::io::Error| CliError::Io { path: "<stdout>".into(), source: e };
    writeln!(out, "created ledger {ORIGIN} in {}", data.display()).map_err(w)?;
    let junit = evidence::ArtifactFile::new("rspec.xml", JUNIT.to_vec());
    let mut svc = Service::open(data).map_err(service_err)?;

    let salt = relic_domain::confidential::new_salt().map_err(|e| CliError::Domain(e.to_string()))?;
    let events = history(Utc::now(), junit, salt);
    let rotate_at = events.len() / 2;
    for (i, (actor, cmd, refused)) in events.into_iter().enumerate() {
        if i == rotate_at {
            let (r, vk) = svc.ledger().rotate_key_blocking(Actor { id: "alice".into(), role: "system".into() })?;
            writeln!(out, "{:>4}  key.rotated            new signing key {}", r.seq, relic_ledger::note::key_id_hex(&vk.key_id)).map_err(w)?;
        }
        let now = Utc::now();
        let cmd = happened_now(cmd, now);
        match svc.execute(actor, &cmd, now) {
            Ok(receipts) => {
                if refused {
                    return Err(CliError::Domain(format!("demo: {} by {actor} should have been refused", cmd.name())));
                }
                for r in receipts {
                    let rec = svc.ledger().record(r.seq)?;
                    writeln!(out, "{:>4}  {:<22} {}  by {actor} ({})", r.seq, rec.kind, rec.subject, rec.actor.role).map_err(w)?;
                }
            }
            Err(relic_domain::service::ServiceError::Refused(f)) if refused => {
                if f.denied.is_some() {
                    let seq = svc.ledger().size() - 1;
                    writeln!(out, "{seq:>4}  access.denied          {} by {actor}: {}", cmd.name(), f.message).map_err(w)?;
                } else {
                    writeln!(out, "   -  refused, nothing recorded: {} by {actor}: {}", cmd.name(), f.message).map_err(w)?;
                }
            }
            Err(e) => return Err(service_err(e)),
        }
    }
    let ledger = svc.ledger();
    let cp = ledger.checkpoint(None)?;
    writeln!(out, "\nsigned checkpoint:\n{}", cp.note).map_err(w)?;
    writeln!(out, "verifier key: {}", ledger.verifier_key()?).map_err(w)?;
    drop(svc);
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
    let _ = writeln!(
        err,
        "next: `relic --data {0} log`, `relic --data {0} evidence verify --project {P} --tag-name v4.3.0`, `relic --data {0} freeze status --project {P}`",
        data.display()
    );
    Ok(())
}
