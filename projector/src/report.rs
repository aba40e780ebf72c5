//! The compliance report: the views and audit trail at a point of the log (from the view store, or
//! replayed for `--as-of`), the log's integrity, and three renderings of the result
//! (JSON, Markdown, a self-contained printable HTML page with an SVG timeline per internal release).
//!
//! It covers: every release in the period with its evidence present or missing (releases that
//! should have evidence and lack it are flagged) and each evidence digest re-verified against its
//! stored document and artifacts; mutations made while a deploy freeze was active; every internal
//! release's phases, deadlines, backports, package versions and disclosure order; refused attempts
//! and mutations by actor and role; and the integrity of the log the report reflects. The JSON form
//! is described by `schemas/reports/compliance.v1.json`.

use std::path::Path;

use chrono::{DateTime, Utc};
use relic_domain::evidence;
use relic_domain::timing::{self, parse};
use relic_ledger::{verify, Ledger};
use serde_json::{json, Value};

use crate::history::internal_json;
use crate::store::ViewStore;
use crate::views::{AsOf, ViewError};

/// What to report on.
#[derive(Debug, Clone)]
pub struct Scope {
    pub project: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub as_of: AsOf,
}

fn in_period(t: Option<DateTime<Utc>>, s: &Scope) -> bool {
    t.is_some_and(|t| s.from.is_none_or(|f| t >= f) && s.to.is_none_or(|to| t <= to))
}

fn time_text(us: i64) -> String {
    // Audit times come from decoded records, which are always in range (`record::check_time`).
    let us = us.clamp(relic_ledger::record::MIN_TIME_US, relic_ledger::record::MAX_TIME_US);
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// How the report checks the log's integrity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    /// Verify the records appended since the position the last report saved in the view store,
    /// after checking that the log still has the verified tree head there.
    #[default]
    Incremental,
    /// Verify the whole log from record 0.
    Full,
}

/// Builds the report as JSON.
pub fn compliance(ledger: &Ledger, data: &Path, scope: &Scope) -> Result<Value, ViewError> {
    compliance_with(ledger, data, scope, Verification::Incremental)
}

/// Builds the report as JSON, verifying the log as `how` says.
pub fn compliance_with(ledger: &Ledger, data: &Path, scope: &Scope, how: Verification) -> Result<Value, ViewError> {
    let store = ViewStore::open_read(data);
    let snap = match scope.as_of {
        AsOf::Now => crate::views::snapshot_from(&store, ledger)?,
        as_of => crate::views::snapshot(ledger, as_of)?,
    };
    let wanted = |project: &str| scope.project.as_deref().is_none_or(|p| p == project);
    let in_scope = |us: i64| in_period(DateTime::from_timestamp_micros(us), scope);

    let frozen_changes: Vec<Value> = snap
        .audit
        .frozen
        .iter()
        .filter(|c| in_scope(c.time_us) && wanted(&c.project))
        .map(|c| json!({"seq": c.seq, "time": time_text(c.time_us), "kind": c.kind, "subject": c.subject, "actor": c.actor, "freeze_periods": c.freeze_periods}))
        .collect();
    let refused: Vec<Value> = snap
        .audit
        .refused
        .iter()
        .filter(|r| in_scope(r.time_us) && wanted(&r.project))
        .map(|r| json!({"seq": r.seq, "time": time_text(r.time_us), "actor": r.actor, "actor_role": r.actor_role,
            "command": r.command, "target": r.target, "reason": r.reason}))
        .collect();
    let by_actor = snap.audit.mutations_by_actor(ledger, snap.size, scope.project.as_deref(), scope.from, scope.to)?;

    // Releases in the period, with their evidence re-verified.
    let mut releases = Vec::new();
    let mut missing = 0u64;
    let mut broken = 0u64;
    for p in snap.state.projects.values().filter(|p| wanted(&p.path)) {
        for r in p.releases.values().filter(|r| in_period(Some(r.released_at), scope)) {
            let historical = timing::is_historical(r.released_at, r.created_at);
            let due = !timing::is_upcoming(r.released_at, snap.at);
            let should = timing::evidence_expected(r.released_at, r.created_at, snap.at);
            let evidences: Vec<Value> = r
                .evidences
                .iter()
                .map(|e| {
                    let check = evidence::verify_document(data, &e.sha, &e.report_artifacts);
                    if check.is_err() {
                        broken += 1;
                    }
                    json!({"sha": e.sha, "collected_at": e.collected_at, "reason": e.reason, "scheduled_at": e.scheduled_at,
                           "artifacts": e.report_artifacts.len(), "redacted_issues": e.redacted_issues,
                           "verified": check.is_ok(), "problem": check.err().map(|x| x.to_string())})
                })
                .collect();
            let lacking = should && evidences.is_empty();
            missing += lacking as u64;
            releases.push(json!({"project": p.path, "tag_name": r.tag_name, "name": r.name, "created_at": timing::ts(r.created_at),
                "released_at": timing::ts(r.released_at), "historical": historical, "upcoming": !due,
                "evidence_expected": should, "evidence_missing": lacking, "evidences": evidences}));
        }
    }

    // Internal releases.
    let internals: Vec<Value> = snap
        .state
        .internal
        .values()
        .filter(|i| wanted(&i.detected.project))
        .filter(|i| in_period(parse(&i.detected.detected_at), scope) || scope.from.is_none())
        .map(|i| {
            // A report is shared: a title not yet disclosed stays hidden (its commitment is shown).
            let mut v = internal_json(i, snap.at, None);
            let c = relic_domain::internal::checks(i);
            v["checks"] = json!({"both_backports": c.both_backports, "package_versions_valid": c.package_versions_valid,
                "disclosed_after_rollout": c.disclosed_after_rollout});
            v
        })
        .collect();

    // Records this report could not read as their kind's event: everything above is what the other
    // records say, and the reader must know what was left out.
    let unreadable: Vec<Value> = snap.audit.findings.iter().map(|f| json!({"seq": f.seq, "kind": f.kind, "reason": f.reason, "finding": f.to_string()})).collect();

    let integrity = integrity(&store, ledger, how)?;
    let actors: Vec<Value> = by_actor.into_iter().map(|((a, r), n)| json!({"actor": a, "role": r, "records": n})).collect();
    Ok(json!({
        "report": "compliance",
        "version": 1,
        "generated_at": Utc::now().to_rfc3339(),
        "scope": {"project": scope.project, "from": scope.from.map(|t| t.to_rfc3339()), "to": scope.to.map(|t| t.to_rfc3339())},
        "log": snap.provenance(),
        "integrity": integrity,
        "summary": {"releases": releases.len(), "evidence_missing": missing, "evidence_failing_verification": broken,
                    "changes_during_freeze": frozen_changes.len(), "refused_attempts": refused.len(), "internal_releases": internals.len(),
                    "unreadable_records": unreadable.len()},
        "releases": releases,
        "changes_during_freeze": frozen_changes,
        "internal_releases": internals,
        "access": {"refused": refused, "mutations_by_actor": actors},
        "unreadable_records": unreadable,
    }))
}

/// Verifies the stored log: incrementally from the position `relic projections rebuild` saved in
/// the view store, or in full. Saves nothing: the report is a reader.
fn integrity(store: &ViewStore, ledger: &Ledger, how: Verification) -> Result<Value, ViewError> {
    let saved = match how {
        Verification::Full => None,
        Verification::Incremental => store.verified()?,
    };
    let opts = verify::Options { resume: saved.as_ref(), ..Default::default() };
    Ok(match verify::verify(ledger.store(), &opts, &mut |_, _| {}) {
        Ok(r) => {
            json!({"verified": true, "verified_size": r.size, "problem": null,
                   "mode": if how == Verification::Full { "full" } else { "incremental" },
                   "records_verified_now": r.size - r.resumed_from, "verified_before": r.resumed_from,
                   "checkpoints_checked": r.checkpoints})
        }
        Err(e) => json!({"verified": false, "verified_size": null, "problem": e.to_string(),
                         "mode": if how == Verification::Full { "full" } else { "incremental" }}),
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn yes(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "n/a",
    }
}

/// The records the report could not read, if any: said before anything else, since every figure
/// after it leaves them out.
fn unreadable_markdown(r: &Value, o: &mut String) {
    let found = r["unreadable_records"].as_array().into_iter().flatten().collect::<Vec<_>>();
    if found.is_empty() {
        return;
    }
    o.push_str(&format!("**{} record(s) could not be read** and are left out of every figure below:\n\n", found.len()));
    for f in found {
        o.push_str(&format!("- {}\n", text(&f["finding"])));
    }
    o.push('\n');
}

/// Markdown rendering.
pub fn markdown(r: &Value) -> String {
    let mut o = String::new();
    o.push_str("# Compliance report\n\n");
    o.push_str(&format!(
        "Log tree size {}, root `{}` (obtain the signed checkpoint with `{}`). Integrity: {}.\n\n",
        r["log"]["tree_size"], text(&r["log"]["root"]), text(&r["log"]["checkpoint"]),
        if r["integrity"]["verified"] == true { "the log verifies".to_string() } else { format!("FAILED: {}", text(&r["integrity"]["problem"])) }
    ));
    let s = &r["summary"];
    unreadable_markdown(r, &mut o);
    o.push_str(&format!(
        "| releases | evidence missing | evidence failing verification | changes during a freeze | refused attempts | internal releases |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n\n",
        s["releases"], s["evidence_missing"], s["evidence_failing_verification"], s["changes_during_freeze"], s["refused_attempts"], s["internal_releases"]
    ));
    o.push_str("## Releases\n\n| project | tag | released at | evidence expected | evidence | verified |\n|---|---|---|---|---|---|\n");
    for rel in r["releases"].as_array().into_iter().flatten() {
        let ev = rel["evidences"].as_array().map_or(0, Vec::len);
        let ok = rel["evidences"].as_array().into_iter().flatten().all(|e| e["verified"] == true);
        let flag = if rel["evidence_missing"] == true { " **MISSING**" } else { "" };
        o.push_str(&format!("| {} | {} | {} | {} | {ev}{flag} | {} |\n", text(&rel["project"]), text(&rel["tag_name"]), text(&rel["released_at"]), yes(&rel["evidence_expected"]), if ok { "yes" } else { "NO" }));
    }
    o.push_str("\n## Changes during a deploy freeze\n\n| seq | time | kind | subject | actor |\n|---|---|---|---|---|\n");
    for c in r["changes_during_freeze"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} | {} | {} |\n", c["seq"], text(&c["time"]), text(&c["kind"]), text(&c["subject"]), text(&c["actor"])));
    }
    o.push_str("\n## Internal releases\n\n");
    for i in r["internal_releases"].as_array().into_iter().flatten() {
        o.push_str(&format!("### {} ({}, S{}): {}\n\n", text(&i["id"]), text(&i["kind"]), i["severity"], text(&i["phase"])));
        o.push_str("| phase | at | hours since detection |\n|---|---|---|\n");
        for t in i["timeline"].as_array().into_iter().flatten() {
            o.push_str(&format!("| {} | {} | {:.1} |\n", text(&t["phase"]), text(&t["at"]), t["since_detection_hours"].as_f64().unwrap_or(0.0)));
        }
        let d = &i["deadlines"];
        o.push_str(&format!(
            "\nMitigate within 24 h: **{}** (due {}). Remediate within 30 days: **{}** (due {}). Both backports: {}. Package versions valid: {}. Disclosed after rollout: {}.\n\n",
            text(&d["mitigate"]["status"]), text(&d["mitigate"]["due"]), text(&d["remediate"]["status"]), text(&d["remediate"]["due"]),
            yes(&i["checks"]["both_backports"]), yes(&i["checks"]["package_versions_valid"]), yes(&i["checks"]["disclosed_after_rollout"])
        ));
    }
    o.push_str("## Access\n\n### Refused attempts\n\n| seq | time | actor | role | command | target | reason |\n|---|---|---|---|---|---|---|\n");
    for a in r["access"]["refused"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} | {} | {} | {} | {} |\n", a["seq"], text(&a["time"]), text(&a["actor"]), text(&a["actor_role"]), text(&a["command"]), text(&a["target"]), text(&a["reason"])));
    }
    o.push_str("\n### Mutations by actor\n\n| actor | role | records |\n|---|---|---|\n");
    for a in r["access"]["mutations_by_actor"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} |\n", text(&a["actor"]), text(&a["role"]), a["records"]));
    }
    o
}

/// An SVG timeline of an internal release's phases against its deadlines.
fn timeline_svg(i: &Value) -> String {
    let points: Vec<(String, DateTime<Utc>)> = i["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((text(&t["phase"]), parse(t["at"].as_str()?)?)))
        .collect();
    let Some(start) = points.first().map(|p| p.1) else { return String::new() };
    let mitigate = i["deadlines"]["mitigate"]["due"].as_str().and_then(parse);
    let remediate = i["deadlines"]["remediate"]["due"].as_str().and_then(parse);
    let end = points.iter().map(|p| p.1).chain(mitigate).chain(remediate).max().unwrap_or(start);
    let span = (end - start).num_seconds().max(1) as f64;
    let (w, left, right) = (900.0, 40.0, 40.0);
    let x = |t: DateTime<Utc>| left + (t - start).num_seconds() as f64 / span * (w - left - right);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"130\" viewBox=\"0 0 {w} 130\" role=\"img\" aria-label=\"phase timeline of {}\">", esc(&text(&i["id"])));
    s.push_str(&format!("<line x1=\"{left}\" y1=\"60\" x2=\"{}\" y2=\"60\" stroke=\"#444\" stroke-width=\"2\"/>", w - right));
    for (label, due) in [("24 h mitigation deadline", mitigate), ("30 day remediation deadline", remediate)] {
        if let Some(d) = due {
            let xd = x(d);
            s.push_str(&format!("<line x1=\"{xd:.1}\" y1=\"20\" x2=\"{xd:.1}\" y2=\"100\" stroke=\"#c00\" stroke-dasharray=\"4 3\"/><text x=\"{xd:.1}\" y=\"14\" font-size=\"10\" text-anchor=\"middle\" fill=\"#c00\">{label}</text>"));
        }
    }
    for (n, (label, t)) in points.iter().enumerate() {
        let xt = x(*t);
        let y = if n % 2 == 0 { 85.0 } else { 45.0 };
        s.push_str(&format!("<circle cx=\"{xt:.1}\" cy=\"60\" r=\"5\" fill=\"#06c\"/><text x=\"{xt:.1}\" y=\"{y}\" font-size=\"10\" text-anchor=\"middle\">{}</text>", esc(label)));
    }
    s.push_str("</svg>");
    s
}

/// One self-contained HTML page: no scripts, no external resources; prints on A4.
pub fn html(r: &Value) -> String {
    let table = |rows: Vec<Vec<String>>, head: &[&str]| -> String {
        let mut t = String::from("<table><thead><tr>");
        for h in head {
            t.push_str(&format!("<th>{}</th>", esc(h)));
        }
        t.push_str("</tr></thead><tbody>");
        for row in rows {
            t.push_str("<tr>");
            for c in row {
                t.push_str(&format!("<td>{}</td>", esc(&c)));
            }
            t.push_str("</tr>");
        }
        t.push_str("</tbody></table>");
        t
    };
    let mut o = String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance report</title><style>");
    o.push_str("body{font-family:sans-serif;margin:2em;color:#111}table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #999;padding:3px 6px;font-size:12px;text-align:left}th{background:#eee}.bad{color:#c00;font-weight:bold}code{font-size:11px}@page{size:A4;margin:15mm}@media print{section{page-break-inside:avoid}}");
    o.push_str("</style></head><body><h1>Compliance report</h1>");
    let ok = r["integrity"]["verified"] == true;
    o.push_str(&format!(
        "<p>Log tree size <b>{}</b>, root <code>{}</code>; signed checkpoint: <code>{}</code>. Integrity: <span class=\"{}\">{}</span>. Generated {}.</p>",
        r["log"]["tree_size"], esc(&text(&r["log"]["root"])), esc(&text(&r["log"]["checkpoint"])), if ok { "" } else { "bad" },
        if ok { "the log verifies".to_string() } else { esc(&format!("FAILED: {}", text(&r["integrity"]["problem"]))) }, esc(&text(&r["generated_at"]))
    ));
    let found: Vec<&Value> = r["unreadable_records"].as_array().into_iter().flatten().collect();
    if !found.is_empty() {
        o.push_str(&format!("<section><p class=\"bad\">{} record(s) could not be read and are left out of every figure below:</p><ul>", found.len()));
        for f in found {
            o.push_str(&format!("<li>{}</li>", esc(&text(&f["finding"]))));
        }
        o.push_str("</ul></section>");
    }
    let s = &r["summary"];
    o.push_str(&table(
        vec![vec![text(&s["releases"]), text(&s["evidence_missing"]), text(&s["evidence_failing_verification"]), text(&s["changes_during_freeze"]), text(&s["refused_attempts"]), text(&s["internal_releases"])]],
        &["releases", "evidence missing", "evidence failing verification", "changes during a freeze", "refused attempts", "internal releases"],
    ));
    o.push_str("<section><h2>Releases</h2>");
    let rows = r["releases"].as_array().into_iter().flatten().map(|rel| {
        let ev = rel["evidences"].as_array().map_or(0, Vec::len);
        let verified = rel["evidences"].as_array().into_iter().flatten().all(|e| e["verified"] == true);
        vec![text(&rel["project"]), text(&rel["tag_name"]), text(&rel["released_at"]), yes(&rel["evidence_expected"]).into(),
             if rel["evidence_missing"] == true { format!("{ev} — MISSING") } else { ev.to_string() }, if verified { "yes".into() } else { "NO".into() }]
    });
    o.push_str(&table(rows.collect(), &["project", "tag", "released at", "evidence expected", "evidence", "digests verified"]));
    o.push_str("</section><section><h2>Changes during a deploy freeze</h2>");
    let rows = r["changes_during_freeze"].as_array().into_iter().flatten().map(|c| vec![text(&c["seq"]), text(&c["time"]), text(&c["kind"]), text(&c["subject"]), text(&c["actor"])]);
    o.push_str(&table(rows.collect(), &["seq", "time", "kind", "subject", "actor"]));
    o.push_str("</section><section><h2>Internal releases</h2>");
    for i in r["internal_releases"].as_array().into_iter().flatten() {
        o.push_str(&format!("<h3>{} — {} S{} — {}</h3>", esc(&text(&i["id"])), esc(&text(&i["kind"])), i["severity"], esc(&text(&i["phase"]))));
        o.push_str(&timeline_svg(i));
        let rows = i["timeline"].as_array().into_iter().flatten().map(|t| vec![text(&t["phase"]), text(&t["at"]), format!("{:.1}", t["since_detection_hours"].as_f64().unwrap_or(0.0))]);
        o.push_str(&table(rows.collect(), &["phase", "at", "hours since detection"]));
        let d = &i["deadlines"];
        o.push_str(&table(
            vec![vec![text(&d["mitigate"]["status"]), text(&d["remediate"]["status"]), yes(&i["checks"]["both_backports"]).into(), yes(&i["checks"]["package_versions_valid"]).into(), yes(&i["checks"]["disclosed_after_rollout"]).into()]],
            &["mitigate ≤ 24 h", "remediate ≤ 30 days", "both backports", "package versions valid", "disclosed after rollout"],
        ));
    }
    o.push_str("</section><section><h2>Access</h2><h3>Refused attempts</h3>");
    let rows = r["access"]["refused"].as_array().into_iter().flatten().map(|a| vec![text(&a["seq"]), text(&a["time"]), text(&a["actor"]), text(&a["actor_role"]), text(&a["command"]), text(&a["target"]), text(&a["reason"])]);
    o.push_str(&table(rows.collect(), &["seq", "time", "actor", "role", "command", "target", "reason"]));
    o.push_str("<h3>Mutations by actor</h3>");
    let rows = r["access"]["mutations_by_actor"].as_array().into_iter().flatten().map(|a| vec![text(&a["actor"]), text(&a["role"]), text(&a["records"])]);
    o.push_str(&table(rows.collect(), &["actor", "role", "records"]));
    o.push_str("</section></body></html>\n");
    o
}
