//! The compliance report over a real ledger: missing and altered evidence, changes during a freeze,
//! refused attempts, integrity; the JSON validates against its schema; the HTML is self-contained.

use chrono::{Duration, Utc};
use relic_domain::decide::Command;
use relic_domain::event::Role;
use relic_domain::service::Service;
use relic_ledger::Ledger;
use relic_projector::report::{compliance, html, markdown, Scope};
use relic_projector::views::AsOf;

const P: &str = "acme/app";

fn create(tag: &str, released_at: chrono::DateTime<Utc>) -> Command {
    Command::create_release(P, tag, Some(released_at.to_rfc3339()))
}

#[test]
fn the_report_flags_what_an_auditor_must_see() {
    let dir = tempfile::tempdir().unwrap();
    relic_domain::service::init_ledger(dir.path(), "report.test/log").unwrap().close();
    let mut svc = Service::open(dir.path()).unwrap();
    let now = Utc::now();
    let hour_ago = now - Duration::hours(1);
    svc.execute("owner", &Command::RegisterProject { project: P.into(), name: "App".into(), description: None }, hour_ago).unwrap();
    svc.execute("owner", &Command::SetMemberRole { project: P.into(), user: "rep".into(), role: Role::Reporter }, now).unwrap();
    // Collected on create; then its stored document is altered.
    svc.execute("owner", &create("v1.0.0", now), now).unwrap();
    // Upcoming when created an hour ago, due since, never collected: missing.
    svc.execute("owner", &create("v1.1.0", now - Duration::minutes(30)), hour_ago).unwrap();
    // Historical: no evidence expected.
    svc.execute("owner", &create("v0.9.0", now - Duration::days(90)), now).unwrap();
    // A freeze that is active almost always, then a change while it is.
    svc.execute("owner", &Command::CreateFreeze { project: P.into(), freeze_start: "* * * * *".into(), freeze_end: "0 0 1 1 *".into(), cron_timezone: None }, now).unwrap();
    svc.execute("owner", &create("v1.2.0", now), now).unwrap();
    assert!(svc.execute("rep", &create("v9.9.9", now), now).is_err());
    let sha = svc.state().projects[P].releases["v1.0.0"].evidences[0].sha.clone();
    drop(svc);
    let doc = dir.path().join(format!("evidence/{sha}.json"));
    let mut bytes = std::fs::read(&doc).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&doc, bytes).unwrap();

    let l = Ledger::open_read_only(dir.path()).unwrap();
    let scope = Scope { project: Some(P.into()), from: None, to: None, as_of: AsOf::Now };
    let r = compliance(&l, dir.path(), &scope).unwrap();
    let rel = |tag: &str| r["releases"].as_array().unwrap().iter().find(|x| x["tag_name"] == tag).unwrap().clone();
    assert_eq!(rel("v1.1.0")["evidence_missing"], true);
    assert_eq!(rel("v0.9.0")["evidence_expected"], false);
    assert_eq!(rel("v1.0.0")["evidences"][0]["verified"], false);
    assert_eq!(rel("v1.2.0")["evidences"][0]["verified"], true);
    assert_eq!(r["summary"]["evidence_missing"], 1);
    assert_eq!(r["summary"]["evidence_failing_verification"], 1);
    let frozen: Vec<&str> = r["changes_during_freeze"].as_array().unwrap().iter().map(|c| c["subject"].as_str().unwrap()).collect();
    assert_eq!(frozen, ["acme/app@v1.2.0"]);
    assert_eq!(r["access"]["refused"][0]["actor"], "rep");
    assert_eq!(r["integrity"]["verified"], true);
    assert_eq!(r["log"]["tree_size"], l.size());

    let schema: serde_json::Value = serde_json::from_str(include_str!("../../schemas/reports/compliance.v2.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&r).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:?}");

    // The first page: the result, and each check with its count; what does not apply is n/a.
    assert_eq!(r["result"], "fail");
    let status = |name: &str| r["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name}"))["status"].clone();
    assert_eq!(status("evidence present where expected"), "fail");
    assert_eq!(status("evidence digests verify"), "fail");
    assert_eq!(status("no changes during a deploy freeze"), "fail");
    assert_eq!(status("log integrity"), "pass");
    assert_eq!(status("internal release deadlines met"), "n/a", "no internal release: the check does not apply");
    assert_eq!(rel("v0.9.0")["evidence_verified"], serde_json::Value::Null, "no evidence: n/a, not 'yes'");
    assert_eq!(r["scope"]["projects"], serde_json::json!([P]));

    let md = markdown(&r);
    assert!(md.contains("**MISSING**") && md.contains("| v1.0.0 |") && md.contains("## Result: **FAIL**"));
    assert!(md.contains("| acme/app | v0.9.0 |") && md.lines().any(|l| l.contains("| v0.9.0 |") && l.contains("| n/a |")), "{md}");
    let page = html(&r);
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<table") && page.contains("Result: FAIL"));
    assert!(page.contains("<a class=\"fail\" href=\"#releases\">"), "a failing check links to its details");
    for external in ["<script", "src=", "@import", "url(", "href=\"http", "href=\"/"] {
        assert!(!page.contains(external), "the HTML report must be self-contained ({external})");
    }
    // As of before the freeze: the change during it is not yet in the report.
    let early = compliance(&l, dir.path(), &Scope { as_of: AsOf::Size(5), ..scope }).unwrap();
    assert_eq!(early["changes_during_freeze"], serde_json::json!([]));
}
