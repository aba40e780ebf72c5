//! The compliance report: the views and audit trail at a point of the log (from the view store, or
//! replayed for `--as-of`), the log's integrity, and three renderings of the result
//! (JSON, Markdown, a self-contained printable HTML page with an SVG timeline per internal release).
//!
//! It covers: every release in the period with its evidence present or missing (releases that
//! should have evidence and lack it are flagged) and each evidence digest re-verified against its
//! stored document and artifacts; mutations made while a deploy freeze was active; every internal
//! release's phases, deadlines, backports, package versions and disclosure order; refused attempts
//! and mutations by actor and role; and the integrity of the log the report reflects. The JSON form
//! is described by `schemas/reports/compliance.v2.json`.

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
            // A release imported from before the log had its evidence (if any) elsewhere.
            let should = timing::evidence_expected(r.released_at, r.created_at, snap.at) && r.imported_from.is_none();
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
            // n/a (null) when there is no evidence to verify.
            let verified = if evidences.is_empty() { Value::Null } else { json!(evidences.iter().all(|e| e["verified"] == true)) };
            releases.push(json!({"project": p.path, "tag_name": r.tag_name, "name": r.name, "created_at": timing::ts(r.created_at),
                "released_at": timing::ts(r.released_at), "historical": historical, "upcoming": !due,
                "evidence_expected": should, "evidence_missing": lacking, "evidence_verified": verified, "evidences": evidences}));
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
    let expected = releases.iter().filter(|r| r["evidence_expected"] == true).count();
    let evidences = releases.iter().map(|r| r["evidences"].as_array().map_or(0, Vec::len)).sum::<usize>();
    let late = internals.iter().filter(|i| ["mitigate", "remediate"].iter().any(|d| i["deadlines"][d]["status"] == "missed")).count();
    let unmet = internals.iter().filter(|i| i["checks"].as_object().is_some_and(|c| c.values().any(|v| *v == false))).count();
    let checks = vec![
        check("log integrity", "integrity", if integrity["verified"] == true { "pass" } else { "fail" }, snap.size as usize, (integrity["verified"] != true) as usize),
        check("records readable", "unreadable", status(1, unreadable.len()), snap.size as usize, unreadable.len()),
        check("evidence present where expected", "releases", status(expected, missing as usize), expected, missing as usize),
        check("evidence digests verify", "releases", status(evidences, broken as usize), evidences, broken as usize),
        check("no changes during a deploy freeze", "freeze", status(1, frozen_changes.len()), frozen_changes.len(), frozen_changes.len()),
        check("internal release deadlines met", "internal", status(internals.len(), late), internals.len(), late),
        check("internal release rules (backports, versions, disclosure order)", "internal", status(internals.len(), unmet), internals.len(), unmet),
        check("refused attempts (for the record)", "access", "info", refused.len(), 0),
    ];
    let result = if checks.iter().any(|c| c["status"] == "fail") { "fail" } else { "pass" };
    let projects: Vec<&str> = snap.state.projects.keys().filter(|p| wanted(p)).map(String::as_str).collect();
    Ok(json!({
        "report": "compliance",
        "version": 2,
        "generated_at": Utc::now().to_rfc3339(),
        "result": result,
        "checks": checks,
        "scope": {"project": scope.project, "projects": projects, "from": scope.from.map(|t| t.to_rfc3339()), "to": scope.to.map(|t| t.to_rfc3339()),
                  "as_of": snap.size},
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

/// A check of the first page: what was checked, over how many items, how many failed, and where
/// the details are (`section`, the anchor of the report's section).
fn check(name: &str, section: &str, status: &str, count: usize, failing: usize) -> Value {
    json!({"name": name, "status": status, "count": count, "failing": failing, "section": section})
}

/// `n/a` when nothing was there to check, `fail` when any failed, else `pass`.
fn status(count: usize, failing: usize) -> &'static str {
    if count == 0 {
        "n/a"
    } else if failing > 0 {
        "fail"
    } else {
        "pass"
    }
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

/// A release row fails when its expected evidence is missing or a digest does not verify.
fn release_fails(rel: &Value) -> bool {
    rel["evidence_missing"] == true || rel["evidence_verified"] == false
}

/// An internal release fails when a deadline was missed or one of its rules was broken.
fn internal_fails(i: &Value) -> bool {
    ["mitigate", "remediate"].iter().any(|d| i["deadlines"][d]["status"] == "missed") || i["checks"].as_object().is_some_and(|c| c.values().any(|v| *v == false))
}

fn result_word(r: &Value) -> &'static str {
    if r["result"] == "pass" {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The scope, generation and checkpoint lines of the first page, as (label, value) pairs.
fn facts(r: &Value) -> Vec<(&'static str, String)> {
    let sc = &r["scope"];
    let projects = sc["projects"].as_array().map(|a| a.iter().map(text).collect::<Vec<_>>().join(", ")).unwrap_or_default();
    let period = match (sc["from"].as_str(), sc["to"].as_str()) {
        (None, None) => "all time".to_string(),
        (f, t) => format!("{} to {}", f.unwrap_or("the first record"), t.unwrap_or("the last record")),
    };
    vec![
        ("Projects", if projects.is_empty() { "none".into() } else { projects }),
        ("Period", period),
        ("As of", format!("the log at tree size {}, root {}", r["log"]["tree_size"], text(&r["log"]["root"]))),
        ("Generated", format!("{} by {}", text(&r["generated_at"]), r["generated_by"].as_str().unwrap_or("(not recorded)"))),
    ]
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
    o.push_str(&format!("## Result: **{}**\n\n", result_word(r)));
    for (k, v) in facts(r) {
        o.push_str(&format!("- **{k}:** {v}\n"));
    }
    o.push_str("\n| check | status | checked | failing |\n|---|---|---|---|\n");
    for c in r["checks"].as_array().into_iter().flatten() {
        let st = match c["status"].as_str() {
            Some("fail") => format!("**FAIL** ([details](#{}))", text(&c["section"])),
            Some(s) => s.to_string(),
            None => "n/a".into(),
        };
        o.push_str(&format!("| {} | {st} | {} | {} |\n", text(&c["name"]), c["count"], c["failing"]));
    }
    o.push('\n');
    if let Some(cp) = r["checkpoint"]["note"].as_str() {
        o.push_str(&format!("The signed checkpoint this report reflects (verifier key `{}`):\n\n```\n{cp}```\n\nVerify it: `{}`\n\n", text(&r["checkpoint"]["verifier_key"]), text(&r["checkpoint"]["command"])));
    }
    if r["integrity"]["verified"] != true {
        o.push_str(&format!("Integrity: **FAILED**: {}\n\n", text(&r["integrity"]["problem"])));
    }
    unreadable_markdown(r, &mut o);
    o.push_str("## Releases {#releases}\n\n| project | tag | released at | evidence expected | evidence | digests verified | |\n|---|---|---|---|---|---|---|\n");
    for rel in r["releases"].as_array().into_iter().flatten() {
        let ev = rel["evidences"].as_array().map_or(0, Vec::len);
        let flag = if rel["evidence_missing"] == true { " **MISSING**" } else { "" };
        let mark = if release_fails(rel) { "**FAIL**" } else { "" };
        o.push_str(&format!(
            "| {} | {} | {} | {} | {ev}{flag} | {} | {mark} |\n",
            text(&rel["project"]), text(&rel["tag_name"]), text(&rel["released_at"]), yes(&rel["evidence_expected"]), yes(&rel["evidence_verified"])
        ));
    }
    o.push_str("\n## Changes during a deploy freeze {#freeze}\n\n| seq | time | kind | subject | actor | |\n|---|---|---|---|---|---|\n");
    for c in r["changes_during_freeze"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} | {} | {} | **FAIL** |\n", c["seq"], text(&c["time"]), text(&c["kind"]), text(&c["subject"]), text(&c["actor"])));
    }
    o.push_str("\n## Internal releases {#internal}\n\n");
    for i in r["internal_releases"].as_array().into_iter().flatten() {
        let mark = if internal_fails(i) { " — **FAIL**" } else { "" };
        o.push_str(&format!("### {} ({}, S{}): {} — {}{mark}\n\n", text(&i["id"]), text(&i["kind"]), i["severity"], text(&i["title"]), text(&i["phase"])));
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
    o.push_str("## Access {#access}\n\n### Refused attempts\n\n| seq | time | actor | role | command | target | reason |\n|---|---|---|---|---|---|---|\n");
    for a in r["access"]["refused"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} | {} | {} | {} | {} |\n", a["seq"], text(&a["time"]), text(&a["actor"]), text(&a["actor_role"]), text(&a["command"]), text(&a["target"]), text(&a["reason"])));
    }
    o.push_str("\n### Mutations by actor\n\n| actor | role | records |\n|---|---|---|\n");
    for a in r["access"]["mutations_by_actor"].as_array().into_iter().flatten() {
        o.push_str(&format!("| {} | {} | {} |\n", text(&a["actor"]), text(&a["role"]), a["records"]));
    }
    o
}

/// Width of the timeline drawing, in SVG units (its viewBox; it scales to the page).
const SVG_W: f64 = 680.0;
/// Font size of its labels, and a generous estimate of a character's advance at that size (wider
/// than any sans-serif's average, so an estimated box always holds the drawn text).
const FONT: f64 = 10.0;
const CHAR_W: f64 = FONT * 0.62;
const LANE: f64 = 14.0;

/// A label placed in lanes: the first lane (from the axis outward) where its box, with a gap,
/// meets no other label's; its box kept inside the drawing by shifting it sideways.
fn place(label: &str, x: f64, lanes: &mut Vec<Vec<(f64, f64)>>) -> (f64, usize) {
    let w = label.chars().count() as f64 * CHAR_W;
    let half = w / 2.0;
    let cx = x.clamp(4.0 + half, SVG_W - 4.0 - half);
    let (lo, hi) = (cx - half - 6.0, cx + half + 6.0);
    let lane = lanes.iter().position(|l| l.iter().all(|&(a, b)| hi <= a || lo >= b)).unwrap_or(lanes.len());
    if lane == lanes.len() {
        lanes.push(Vec::new());
    }
    lanes[lane].push((lo, hi));
    (cx, lane)
}

/// An SVG timeline of an internal release's phases against its deadlines. Labels never overlap or
/// leave the drawing: phase labels stack in lanes below the axis, deadline labels above it, each
/// joined to its mark by a thin leader line.
fn timeline_svg(i: &Value) -> String {
    let points: Vec<(String, DateTime<Utc>, f64)> = i["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((text(&t["phase"]), parse(t["at"].as_str()?)?, t["since_detection_hours"].as_f64().unwrap_or(0.0))))
        .collect();
    let Some(start) = points.first().map(|p| p.1) else { return String::new() };
    let mitigate = i["deadlines"]["mitigate"]["due"].as_str().and_then(parse);
    let remediate = i["deadlines"]["remediate"]["due"].as_str().and_then(parse);
    let end = points.iter().map(|p| p.1).chain(mitigate).chain(remediate).max().unwrap_or(start);
    let span = (end - start).num_seconds().max(1) as f64;
    let (left, right) = (12.0, 12.0);
    let x = |t: DateTime<Utc>| left + (t - start).num_seconds() as f64 / span * (SVG_W - left - right);
    let (mut above, mut below) = (Vec::new(), Vec::new());
    let deadlines: Vec<(String, f64, f64, usize)> = [("24 h mitigation deadline", mitigate), ("30 day remediation deadline", remediate)]
        .into_iter()
        .filter_map(|(l, d)| {
            let xd = x(d?);
            let (cx, lane) = place(l, xd, &mut above);
            Some((l.to_string(), xd, cx, lane))
        })
        .collect();
    let phases: Vec<(String, f64, f64, usize)> = points
        .iter()
        .map(|(l, t, h)| {
            let label = format!("{l} (+{h:.1} h)");
            let (cx, lane) = place(&label, x(*t), &mut below);
            (label, x(*t), cx, lane)
        })
        .collect();
    let axis = 16.0 + above.len() as f64 * LANE + 10.0;
    let height = axis + 14.0 + below.len() as f64 * LANE + 6.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"100%\" viewBox=\"0 0 {SVG_W} {height:.0}\" role=\"img\" aria-label=\"phase timeline of {}\" font-family=\"sans-serif\" font-size=\"{FONT}\">",
        esc(&text(&i["id"]))
    );
    s.push_str(&format!("<line x1=\"{left}\" y1=\"{axis}\" x2=\"{}\" y2=\"{axis}\" stroke=\"#444\" stroke-width=\"1.5\"/>", SVG_W - right));
    for (label, xd, cx, lane) in &deadlines {
        let y = axis - 10.0 - *lane as f64 * LANE;
        s.push_str(&format!("<line x1=\"{xd:.1}\" y1=\"{:.1}\" x2=\"{xd:.1}\" y2=\"{:.1}\" stroke=\"#b00\" stroke-dasharray=\"4 3\"/>", y + 2.0, axis + 8.0));
        s.push_str(&format!("<text class=\"label\" x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" fill=\"#b00\">{}</text>", esc(label)));
    }
    for (label, xt, cx, lane) in &phases {
        let y = axis + 14.0 + *lane as f64 * LANE;
        s.push_str(&format!("<circle cx=\"{xt:.1}\" cy=\"{axis}\" r=\"3.5\" fill=\"#06c\"/>"));
        s.push_str(&format!("<line x1=\"{xt:.1}\" y1=\"{axis}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#9bd\" stroke-width=\"0.6\"/>", y - 9.0));
        s.push_str(&format!("<text class=\"label\" x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}</text>", esc(label)));
    }
    s.push_str("</svg>");
    s
}

/// One self-contained HTML page (no script, no external resource) for printing on A4: a first page
/// that answers "is everything in order?", then one section per subject, each on a new page.
pub fn html(r: &Value) -> String {
    let table = |rows: Vec<(bool, Vec<String>)>, head: &[&str]| -> String {
        if rows.is_empty() {
            return "<p class=\"none\">None.</p>".to_string();
        }
        let mut t = String::from("<table><thead><tr>");
        for h in head {
            t.push_str(&format!("<th>{}</th>", esc(h)));
        }
        t.push_str("</tr></thead><tbody>");
        for (failing, row) in rows {
            t.push_str(if failing { "<tr class=\"fail\">" } else { "<tr>" });
            for c in row {
                t.push_str(&format!("<td>{}</td>", esc(&c)));
            }
            t.push_str("</tr>");
        }
        t.push_str("</tbody></table>");
        t
    };
    let mut o = String::from("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance report</title><style>");
    o.push_str(concat!(
        "body{font-family:sans-serif;margin:0 auto;max-width:180mm;color:#111;font-size:11pt}",
        "h1{margin-top:0}table{border-collapse:collapse;margin:.5em 0 1.2em;width:100%}",
        "th,td{border:1px solid #999;padding:3px 6px;font-size:9pt;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#eee}",
        "tr.fail td{color:#b00;font-weight:bold;background:#fdecec}.fail{color:#b00;font-weight:bold}.pass{color:#070;font-weight:bold}.na{color:#666}",
        ".result{font-size:20pt;padding:6px 12px;border:3px solid}.result.pass{border-color:#070}.result.fail{border-color:#b00}",
        "pre{font-size:8pt;background:#f6f6f6;padding:6px;white-space:pre-wrap;overflow-wrap:anywhere}code{font-size:8pt;overflow-wrap:anywhere}",
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px}dt{font-weight:bold}dd{margin:0}",
        "svg.timeline{display:block;margin:.5em 0}section{break-before:page}section.first{break-before:auto}",
        "@page{size:A4;margin:15mm}@media print{body{max-width:none}tr{break-inside:avoid}}"
    ));
    o.push_str("</style></head><body><section class=\"first\" id=\"summary\"><h1>Compliance report</h1>");
    let word = result_word(r);
    o.push_str(&format!("<p class=\"result {}\">Result: {word}</p><dl>", word.to_lowercase()));
    for (k, v) in facts(r) {
        o.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v)));
    }
    o.push_str("</dl><table><thead><tr><th>check</th><th>status</th><th>checked</th><th>failing</th></tr></thead><tbody>");
    for c in r["checks"].as_array().into_iter().flatten() {
        let st = c["status"].as_str().unwrap_or("n/a");
        let (class, shown) = match st {
            "fail" => ("fail", format!("<a class=\"fail\" href=\"#{}\">FAIL — see details</a>", esc(&text(&c["section"])))),
            "pass" => ("pass", "pass".into()),
            "n/a" => ("na", "n/a".into()),
            other => ("", esc(other)),
        };
        o.push_str(&format!(
            "<tr{}><td>{}</td><td class=\"{class}\">{shown}</td><td>{}</td><td>{}</td></tr>",
            if st == "fail" { " class=\"fail\"" } else { "" },
            esc(&text(&c["name"])),
            c["count"],
            c["failing"]
        ));
    }
    o.push_str("</tbody></table>");
    if let Some(cp) = r["checkpoint"]["note"].as_str() {
        o.push_str(&format!(
            "<h2>Signed checkpoint</h2><p>The log this report reflects, as its key signed it (verifier key <code>{}</code>):</p><pre>{}</pre><p>Verify it: <code>{}</code></p>",
            esc(&text(&r["checkpoint"]["verifier_key"])),
            esc(cp),
            esc(&text(&r["checkpoint"]["command"]))
        ));
    }
    let it = &r["integrity"];
    if it["verified"] == true {
        o.push_str(&format!("<p id=\"integrity\">Integrity: the log verifies ({} records; {} verification).</p>", it["verified_size"], esc(&text(&it["mode"]))));
    } else {
        o.push_str(&format!("<p id=\"integrity\" class=\"fail\">Integrity FAILED: {}</p>", esc(&text(&it["problem"]))));
    }
    let found: Vec<&Value> = r["unreadable_records"].as_array().into_iter().flatten().collect();
    if !found.is_empty() {
        o.push_str(&format!("<div id=\"unreadable\"><p class=\"fail\">{} record(s) could not be read and are left out of every figure below:</p><ul>", found.len()));
        for f in found {
            o.push_str(&format!("<li>{}</li>", esc(&text(&f["finding"]))));
        }
        o.push_str("</ul></div>");
    }
    o.push_str("</section><section id=\"releases\"><h2>Releases</h2>");
    let rows = r["releases"].as_array().into_iter().flatten().map(|rel| {
        let ev = rel["evidences"].as_array().map_or(0, Vec::len);
        (
            release_fails(rel),
            vec![
                text(&rel["project"]),
                text(&rel["tag_name"]),
                text(&rel["released_at"]),
                yes(&rel["evidence_expected"]).into(),
                if rel["evidence_missing"] == true { format!("{ev} — MISSING") } else { ev.to_string() },
                yes(&rel["evidence_verified"]).into(),
            ],
        )
    });
    o.push_str(&table(rows.collect(), &["project", "tag", "released at", "evidence expected", "evidence", "digests verified"]));
    o.push_str("</section><section id=\"freeze\"><h2>Changes during a deploy freeze</h2>");
    let rows = r["changes_during_freeze"].as_array().into_iter().flatten().map(|c| (true, vec![text(&c["seq"]), text(&c["time"]), text(&c["kind"]), text(&c["subject"]), text(&c["actor"])]));
    o.push_str(&table(rows.collect(), &["seq", "time", "kind", "subject", "actor"]));
    o.push_str("</section><section id=\"internal\"><h2>Internal releases</h2>");
    let internals: Vec<&Value> = r["internal_releases"].as_array().into_iter().flatten().collect();
    if internals.is_empty() {
        o.push_str("<p class=\"none\">None.</p>");
    }
    for i in internals {
        let failing = internal_fails(i);
        o.push_str(&format!(
            "<h3{}>{} — {} S{} — {} — {}{}</h3>",
            if failing { " class=\"fail\"" } else { "" },
            esc(&text(&i["id"])),
            esc(&text(&i["kind"])),
            i["severity"],
            esc(&text(&i["title"])),
            esc(&text(&i["phase"])),
            if failing { " — FAIL" } else { "" }
        ));
        o.push_str(&timeline_svg(i));
        let rows = i["timeline"].as_array().into_iter().flatten().map(|t| (false, vec![text(&t["phase"]), text(&t["at"]), format!("{:.1}", t["since_detection_hours"].as_f64().unwrap_or(0.0))]));
        o.push_str(&table(rows.collect(), &["phase", "at", "hours since detection"]));
        let d = &i["deadlines"];
        o.push_str(&table(
            vec![(
                failing,
                vec![text(&d["mitigate"]["status"]), text(&d["remediate"]["status"]), yes(&i["checks"]["both_backports"]).into(), yes(&i["checks"]["package_versions_valid"]).into(), yes(&i["checks"]["disclosed_after_rollout"]).into()],
            )],
            &["mitigate ≤ 24 h", "remediate ≤ 30 days", "both backports", "package versions valid", "disclosed after rollout"],
        ));
    }
    o.push_str("</section><section id=\"access\"><h2>Access</h2><h3>Refused attempts</h3>");
    let rows = r["access"]["refused"].as_array().into_iter().flatten().map(|a| (false, vec![text(&a["seq"]), text(&a["time"]), text(&a["actor"]), text(&a["actor_role"]), text(&a["command"]), text(&a["target"]), text(&a["reason"])]));
    o.push_str(&table(rows.collect(), &["seq", "time", "actor", "role", "command", "target", "reason"]));
    o.push_str("<h3>Mutations by actor</h3>");
    let rows = r["access"]["mutations_by_actor"].as_array().into_iter().flatten().map(|a| (false, vec![text(&a["actor"]), text(&a["role"]), text(&a["records"])]));
    o.push_str(&table(rows.collect(), &["actor", "role", "records"]));
    o.push_str("</section></body></html>\n");
    o
}
