//! The domain commands: turn flags into a [`Command`], execute it, print the outcome.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use relic_domain::decide::{Command, LinkInput};
use relic_domain::event::{EvidenceReason, InternalKind, InternalPackage, MilestoneRecorded, Role};
use relic_domain::evidence;
use relic_domain::freeze::{self, FreezePeriod};
use relic_domain::service::{self, ServiceError};
use relic_domain::state::State;
use relic_ledger::Ledger;
use relic_projector::views::{self, AsOf};
use serde_json::json;

use crate::domain_args::*;
use crate::{CliError, Result};

fn usage(m: impl Into<String>) -> CliError {
    CliError::Invalid(m.into())
}

fn out_err(source: std::io::Error) -> CliError {
    CliError::Io { path: "<stdout>".into(), source }
}

fn role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| usage(format!("unknown role {s:?}: use guest, reporter, developer, maintainer or owner")))
}

/// Parses `--assets-link` values: each a JSON object or an array of objects.
fn links(values: &[String]) -> Result<Vec<LinkInput>> {
    let mut out = Vec::new();
    for v in values {
        let parsed: serde_json::Value =
            serde_json::from_str(v).map_err(|e| usage(format!("--assets-link is not valid JSON: {e}")))?;
        let items = match parsed {
            serde_json::Value::Array(a) => a,
            o => vec![o],
        };
        for i in items {
            out.push(serde_json::from_value(i).map_err(|e| usage(format!("--assets-link: {e}")))?);
        }
    }
    Ok(out)
}

fn read_file(path: &str) -> Result<Vec<u8>> {
    crate::commands::read_payload(path)
}

/// Runs one domain command and prints what it recorded.
fn run(data: &Path, who: &Who, cmd: Command, json: bool, out: &mut dyn Write) -> Result<()> {
    if let Some(remote) = crate::remote::current() {
        // The server decides and records; its answer is what it recorded.
        return print_view(&crate::remote::execute(&remote, &cmd)?, json, out);
    }
    let actor = who.actor()?;
    let recorded = crate::session::with_service(data, |svc| {
        let receipts = svc.execute(actor, &cmd, Utc::now()).map_err(service_err)?;
        let mut recorded = Vec::new();
        for r in &receipts {
            let rec = svc.ledger().record(r.seq)?;
            recorded.push(json!({"seq": r.seq, "kind": rec.kind, "subject": rec.subject, "payload": rec.payload_json()}));
        }
        Ok(recorded)
    })?;
    if json {
        writeln!(out, "{}", json!({"ok": true, "records": recorded})).map_err(out_err)
    } else {
        for r in &recorded {
            let extra = match r["kind"].as_str() {
                Some(relic_domain::event::EVIDENCE_COLLECTED) => format!("  sha {}", r["payload"]["sha"].as_str().unwrap_or("")),
                _ => String::new(),
            };
            writeln!(out, "{:>6}  {:<22} {}{extra}", r["seq"], r["kind"].as_str().unwrap_or(""), r["subject"].as_str().unwrap_or(""))
                .map_err(out_err)?;
        }
        Ok(())
    }
}

pub fn service_err(e: ServiceError) -> CliError {
    match e {
        ServiceError::Ledger(l) => CliError::Ledger(l),
        ServiceError::Refused(r) => CliError::Refused { status: r.status, message: r.message },
        other => CliError::Domain(other.to_string()),
    }
}

pub fn project(data: &Path, c: ProjectCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    match c {
        ProjectCmd::Register { project, name, description, who } => {
            run(data, &who, Command::RegisterProject { project, name, description }, json, out)
        }
        ProjectCmd::Member { project, user, role: r, who } => {
            run(data, &who, Command::SetMemberRole { project, user, role: role(&r)? }, json, out)
        }
        ProjectCmd::ProtectTag { project, pattern, allowed, who } => {
            run(data, &who, Command::ProtectTag { project, pattern, create_access_level: role(&allowed)? }, json, out)
        }
        ProjectCmd::UnprotectTag { project, pattern, who } => run(data, &who, Command::UnprotectTag { project, pattern }, json, out),
    }
}

pub fn tag(data: &Path, c: TagCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    let TagCmd::Record { project, tag_name, git_ref, commit, message, who } = c;
    run(data, &who, Command::RecordTag { project, name: tag_name, git_ref, commit, message }, json, out)
}

pub fn milestone(data: &Path, c: MilestoneCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    let MilestoneCmd::Record { project, file, who } = c;
    let mut v: serde_json::Value =
        serde_json::from_slice(&read_file(&file)?).map_err(|e| usage(format!("{file}: malformed JSON: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("project".into(), json!(project));
    }
    let m: MilestoneRecorded = serde_json::from_value(v).map_err(|e| usage(format!("{file}: {e}")))?;
    run(data, &who, Command::RecordMilestone(m), json, out)
}

/// Prints a view: pretty JSON for people, one line with `--json`.
fn print_view(v: &serde_json::Value, json: bool, out: &mut dyn Write) -> Result<()> {
    let text = if json { v.to_string() } else { serde_json::to_string_pretty(v).map_err(|e| CliError::Domain(format!("cannot render the view: {e}")))? };
    writeln!(out, "{text}").map_err(out_err)
}

fn view_err(e: relic_projector::views::ViewError) -> CliError {
    match e {
        relic_projector::views::ViewError::Ledger(l) => CliError::Ledger(l),
        // As the API answers them (a non-member reads nothing: 404, as GitLab hides private projects).
        relic_projector::views::ViewError::NotFound(m) => CliError::refused(404, m),
        relic_projector::views::ViewError::Invalid(m) => CliError::refused(400, m),
        other => CliError::Domain(other.to_string()),
    }
}

fn as_of(s: Option<&str>) -> Result<AsOf> {
    match s {
        None => Ok(AsOf::Now),
        Some(s) => AsOf::parse(s).ok_or_else(|| usage(format!("--as-of {s}: expected a record count or an RFC 3339 time"))),
    }
}

/// The views as of `s`; says on `err` which records they leave out because they could not be read
/// (`relic: warning: record N (kind): why`), one line each.
fn snapshot(data: &Path, s: Option<&str>, err: &mut dyn Write) -> Result<(Ledger, relic_projector::views::Snapshot)> {
    let ledger = Ledger::open_read_only(data)?;
    let snap = views::snapshot_stored(data, &ledger, as_of(s)?).map_err(view_err)?;
    warn_unreadable(&snap.audit.findings, err);
    Ok((ledger, snap))
}

/// One warning line per record a view leaves out.
fn warn_unreadable(findings: &[relic_domain::event::Finding], err: &mut dyn Write) {
    for f in findings {
        let _ = writeln!(err, "relic: warning: {f}; left out of this view");
    }
}

pub fn release(data: &Path, c: ReleaseCmd, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    match c {
        ReleaseCmd::List { project, order_by, sort, page, per_page, view } if crate::remote::current().is_some() => {
            let r = crate::remote::current().ok_or_else(|| usage("no server"))?;
            print_view(&crate::remote::list(&r, &project, &order_by, &sort, page, per_page, view.as_of.as_deref())?, json, out)
        }
        ReleaseCmd::Get { project, tag_name, view } if crate::remote::current().is_some() => {
            let r = crate::remote::current().ok_or_else(|| usage("no server"))?;
            print_view(&crate::remote::get(&r, &project, tag_name.as_deref(), view.as_of.as_deref())?, json, out)
        }
        ReleaseCmd::List { project, order_by, sort, page, per_page, view } => {
            let (_, snap) = snapshot(data, view.as_of.as_deref(), err)?;
            let opts = views::ListOptions { order_by, sort, page, per_page };
            print_view(&views::list(&snap, &project, &opts, view.viewer.as_deref()).map_err(view_err)?, json, out)
        }
        ReleaseCmd::Get { project, tag_name, view } => {
            let (_, snap) = snapshot(data, view.as_of.as_deref(), err)?;
            print_view(&views::get(&snap, &project, tag_name.as_deref(), view.viewer.as_deref()).map_err(view_err)?, json, out)
        }
        ReleaseCmd::History { tag, project, as_of: a } => {
            let ledger = Ledger::open_read_only(data)?;
            let v = relic_projector::history::release_history(&ledger, &project, &tag, as_of(a.as_deref())?).map_err(view_err)?;
            print_view(&v, json, out)
        }
        ReleaseCmd::Create {
            project, tag_name, name, description, notes_file, git_ref, tag_message, released_at, milestone, assets_link, report_artifact, who,
        } => {
            let description = match notes_file {
                Some(f) => {
                    relic_ledger::paths::check_input(data, "--notes-file", Path::new(&f))?;
                    Some(String::from_utf8(read_file(&f)?).map_err(|_| usage(format!("{f} is not UTF-8")))?)
                }
                None => description,
            };
            let mut report_artifacts = Vec::new();
            for path in &report_artifact {
                relic_ledger::paths::check_input(data, "--report-artifact", Path::new(path))?;
                let bytes = std::fs::read(path).map_err(|source| CliError::Io { path: path.clone(), source })?;
                let name = Path::new(path).file_name().map_or(path.clone(), |n| n.to_string_lossy().into_owned());
                report_artifacts.push(evidence::ArtifactFile::new(&name, bytes));
            }
            let cmd = Command::CreateRelease {
                project,
                tag_name,
                name,
                description,
                git_ref,
                tag_message,
                released_at,
                milestones: milestone,
                links: links(&assets_link)?,
                report_artifacts,
            };
            run(data, &who, cmd, json, out)
        }
        ReleaseCmd::Update { project, tag_name, name, description, released_at, milestone, clear_milestones, who } => {
            let milestones = if clear_milestones { Some(Vec::new()) } else { (!milestone.is_empty()).then_some(milestone) };
            run(data, &who, Command::UpdateRelease { project, tag_name, name, description, released_at, milestones }, json, out)
        }
        ReleaseCmd::Delete { project, tag_name, who } => run(data, &who, Command::DeleteRelease { project, tag_name }, json, out),
    }
}

fn link_input(f: LinkFields) -> LinkInput {
    LinkInput { name: f.name, url: f.url, direct_asset_path: f.direct_asset_path, link_type: f.link_type }
}

pub fn link(data: &Path, c: LinkCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    match c {
        LinkCmd::Add { project, tag_name, fields, who } => {
            run(data, &who, Command::AddLink { project, tag_name, link: link_input(fields) }, json, out)
        }
        LinkCmd::Update { project, tag_name, id, fields, who } => {
            run(data, &who, Command::UpdateLink { project, tag_name, id, link: link_input(fields) }, json, out)
        }
        LinkCmd::Delete { project, tag_name, id, who } => run(data, &who, Command::DeleteLink { project, tag_name, id }, json, out),
    }
}

/// The state of a ledger opened read-only (no key needed).
fn read_state(data: &Path) -> Result<State> {
    let ledger = Ledger::open_read_only(data)?;
    let mut st = State::default();
    service::replay(&ledger, &mut st).map_err(service_err)?;
    Ok(st)
}

pub fn evidence_cmd(data: &Path, c: EvidenceCmd, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    match c {
        EvidenceCmd::Collect { project, tag_name, who } => {
            run(data, &who, Command::CollectEvidence { project, tag_name, reason: EvidenceReason::OnDemand, scheduled_at: None }, json, out)
        }
        EvidenceCmd::Verify { bundle: Some(file), key, witnesses, .. } => verify_bundle(&file, &key, &witnesses, json, out),
        EvidenceCmd::Bundle { project, tag_name, sha, output, without_artifacts } => {
            relic_ledger::paths::check_output(data, "--output", &output)?;
            let (ledger, size) = crate::relay_cmds::open_for_checkpoint(data, None)?;
            let mut st = State::default();
            service::replay(&ledger, &mut st).map_err(service_err)?;
            let r = st.projects.get(&project).and_then(|p| p.releases.get(&tag_name)).ok_or_else(|| CliError::refused(404, "Release does not exist"))?;
            let e = match &sha {
                Some(s) => r.evidences.iter().find(|e| &e.sha == s),
                None => r.evidences.last(),
            }
            .ok_or_else(|| CliError::refused(404, format!("{project}@{tag_name} has no evidence{}", sha.as_ref().map(|s| format!(" {s}")).unwrap_or_default())))?;
            let document = evidence::verify_document(data, &e.sha, &e.report_artifacts).map_err(|err| CliError::Domain(err.to_string()))?;
            let mut artifacts = Vec::with_capacity(e.report_artifacts.len());
            for a in &e.report_artifacts {
                let bytes = if without_artifacts {
                    None
                } else {
                    let p = evidence::artifact_path(data, &a.blake3);
                    Some(std::fs::read(&p).map_err(|source| CliError::Io { path: p.display().to_string(), source })?)
                };
                artifacts.push(relic_domain::evidence_bundle::Included { artifact: a.clone(), bytes });
            }
            let record = ledger.record_bytes(e.seq)?;
            let proof = crate::relay_cmds::prove_published(&ledger, e.seq, size, err)?;
            let bytes = relic_domain::evidence_bundle::encode(&record, &proof, &document, &artifacts);
            // Checked as an auditor will check it, before it is written.
            let keys: Vec<_> = ledger.keys().into_iter().map(|k| k.key).collect();
            let v = relic_domain::evidence_bundle::verify(&bytes, &keys).map_err(|e| CliError::Domain(format!("the bundle does not verify: {e}")))?;
            relic_ledger::paths::check_output(data, "--output", &output)?;
            std::fs::write(&output, &bytes).map_err(|source| CliError::Io { path: output.display().to_string(), source })?;
            if json {
                writeln!(out, "{}", json!({"output": output, "bytes": bytes.len(), "sha": e.sha, "record": e.seq, "checkpoint_size": v.size, "artifacts": artifacts.len(), "artifacts_included": v.artifacts_included})).map_err(out_err)
            } else {
                writeln!(out, "wrote {} ({} bytes): evidence {} of {project}@{tag_name}, record {} proven at checkpoint size {}", output.display(), bytes.len(), e.sha, e.seq, v.size).map_err(out_err)
            }
        }
        EvidenceCmd::Verify { project, tag_name, sha, .. } => {
            // One handle for reading the state and proving the records (a store is opened once per process).
            let (ledger, size) = crate::relay_cmds::open_for_checkpoint(data, None)?;
            let mut st = State::default();
            service::replay(&ledger, &mut st).map_err(service_err)?;
            // Which releases: one, a project's, or every one of the ledger.
            let mut chosen = Vec::new();
            for (path, p) in &st.projects {
                if project.as_ref().is_some_and(|want| want != path) {
                    continue;
                }
                for (tag, r) in &p.releases {
                    if tag_name.as_ref().is_none_or(|want| want == tag) {
                        chosen.extend(r.evidences.iter().filter(|e| sha.as_ref().is_none_or(|s| &e.sha == s)).map(|e| (path.as_str(), tag.as_str(), e)));
                    }
                }
            }
            if let (Some(p), Some(t)) = (&project, &tag_name) {
                if !st.projects.get(p).is_some_and(|p| p.releases.contains_key(t)) {
                    return Err(CliError::refused(404, "Release does not exist"));
                }
                if chosen.is_empty() {
                    return Err(CliError::refused(404, format!("{p}@{t} has no evidence{}", sha.map(|s| format!(" {s}")).unwrap_or_default())));
                }
            } else if let Some(p) = &project {
                if !st.projects.contains_key(p) {
                    return Err(CliError::refused(404, "404 Project Not Found"));
                }
            }
            let bar = crate::commands::progress_bar("verifying evidence {bar:40} {pos}/{len} documents ({eta})");
            bar.set_length(chosen.len() as u64);
            let (mut failed, mut first) = (0usize, None);
            for (path, tag, e) in &chosen {
                let checked = evidence::verify_document(data, &e.sha, &e.report_artifacts)
                    .map_err(|err| err.to_string())
                    .and_then(|_| ledger.prove_inclusion(e.seq, size).map_err(|err| err.to_string()))
                    .and_then(|proof| evidence::verify_record(&ledger, e, &proof).map_err(|err| err.to_string()));
                bar.inc(1);
                let line = match &checked {
                    Ok(cp) if json => json!({"ok": true, "project": path, "tag_name": tag, "sha": e.sha, "filepath": e.filepath, "collected_at": e.collected_at,
                        "artifacts": e.report_artifacts.len(), "record": e.seq, "checkpoint_size": cp.size}).to_string(),
                    Ok(cp) => format!(
                        "ok: evidence {} of {path}@{tag} ({}, {}) matches its digest; {} artifact(s) intact; its record {} is signed and in the log at checkpoint size {}",
                        e.sha, e.reason_str(), e.collected_at, e.report_artifacts.len(), e.seq, cp.size
                    ),
                    Err(why) if json => json!({"ok": false, "project": path, "tag_name": tag, "sha": e.sha, "record": e.seq, "error": why}).to_string(),
                    Err(why) => format!("FAILED: evidence {} of {path}@{tag} (record {}): {why}", e.sha, e.seq),
                };
                if let Err(why) = &checked {
                    failed += 1;
                    first.get_or_insert_with(|| why.clone());
                }
                bar.suspend(|| writeln!(out, "{line}")).map_err(out_err)?;
            }
            bar.finish_and_clear();
            if failed > 0 {
                let first = first.unwrap_or_default();
                return Err(CliError::Domain(format!("{failed} of {} evidence document(s) failed verification; the first: {first}", chosen.len())));
            }
            if tag_name.is_none() && !json {
                writeln!(out, "ok: {} evidence document(s) verified", chosen.len()).map_err(out_err)?;
            }
            Ok(())
        }
        EvidenceCmd::Show { sha, format } => {
            let bytes = evidence::verify_document(data, &sha, &[]).map_err(|e| CliError::Domain(e.to_string()))?;
            if format == "gitlab" {
                let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| CliError::Domain(format!("evidence {sha}: {e}")))?;
                return writeln!(out, "{}", evidence::gitlab_shape(&doc)).map_err(out_err);
            }
            out.write_all(&bytes).map_err(out_err)?;
            writeln!(out).map_err(out_err)
        }
    }
}

/// `relic evidence verify --bundle FILE --key K [--witness W --quorum Q]`: offline, from the file alone.
fn verify_bundle(file: &Path, key: &[String], witnesses: &crate::args::WitnessPolicy, json: bool, out: &mut dyn Write) -> Result<()> {
    if key.is_empty() {
        return Err(CliError::Arguments("--bundle needs --key: the log's verifier key (relic key)".into()));
    }
    let keys = crate::commands::parse_keys(key)?;
    let bytes = std::fs::read(file).map_err(|source| CliError::Io { path: file.display().to_string(), source })?;
    let v = relic_domain::evidence_bundle::verify(&bytes, &keys).map_err(|e| CliError::Domain(format!("{}: {e}", file.display())))?;
    crate::witness_cmds::require_quorum(&v.checkpoint_note, witnesses)?;
    let e = &v.evidence;
    if json {
        let j = json!({"ok": true, "origin": v.origin, "checkpoint_size": v.size, "record": v.seq, "project": e.project, "tag_name": e.tag_name,
            "sha": e.sha, "collected_at": e.collected_at, "artifacts": e.report_artifacts.len(), "artifacts_included": v.artifacts_included});
        writeln!(out, "{j}").map_err(out_err)
    } else {
        writeln!(
            out,
            "ok: evidence {} of {}@{} ({}) matches its digest; {} of {} artifact(s) included and intact; its record {} is signed and in the log {} at checkpoint size {}",
            e.sha, e.project, e.tag_name, e.collected_at, v.artifacts_included, e.report_artifacts.len(), v.seq, v.origin, v.size
        )
        .map_err(out_err)
    }
}

trait ReasonStr {
    fn reason_str(&self) -> &'static str;
}

impl ReasonStr for relic_domain::event::EvidenceCollected {
    fn reason_str(&self) -> &'static str {
        match self.reason {
            EvidenceReason::Create => "collected on create",
            EvidenceReason::OnDemand => "collected on demand",
            EvidenceReason::Scheduled => "scheduled",
        }
    }
}

/// Exit code of `relic freeze status` when deploys are frozen.
pub const FROZEN_EXIT: i32 = crate::exit::FROZEN;

pub fn freeze_cmd(data: &Path, c: FreezeCmd, json: bool, out: &mut dyn Write) -> Result<i32> {
    let cmd = match c {
        FreezeCmd::Status { project, at } => return freeze_status(data, &project, at.as_deref(), json, out),
        FreezeCmd::Create { project, freeze_start, freeze_end, cron_timezone, who } => {
            (who, Command::CreateFreeze { project, freeze_start, freeze_end, cron_timezone })
        }
        FreezeCmd::Update { project, id, freeze_start, freeze_end, cron_timezone, who } => {
            (who, Command::UpdateFreeze { project, id, freeze_start, freeze_end, cron_timezone })
        }
        FreezeCmd::Delete { project, id, who } => (who, Command::DeleteFreeze { project, id }),
    };
    run(data, &cmd.0, cmd.1, json, out).map(|()| 0)
}

fn freeze_status(data: &Path, project: &str, at: Option<&str>, json: bool, out: &mut dyn Write) -> Result<i32> {
    let at: DateTime<Utc> = match at {
        Some(s) => DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| usage(format!("--at {s}: expected an RFC 3339 time")))?,
        None => Utc::now(),
    };
    let st = read_state(data)?;
    let p = st.projects.get(project).ok_or_else(|| CliError::Domain(format!("Project {project} not found")))?;
    let periods: Vec<FreezePeriod> = p
        .freezes
        .values()
        .map(|f| FreezePeriod { id: f.id, freeze_start: f.freeze_start.clone(), freeze_end: f.freeze_end.clone(), cron_timezone: f.cron_timezone.clone() })
        .collect();
    let status = freeze::status(&periods, at);
    let active: Vec<serde_json::Value> = status
        .active
        .iter()
        .map(|a| json!({"id": a.id, "from": a.start.to_rfc3339(), "until": a.end.to_rfc3339()}))
        .collect();
    if json {
        writeln!(out, "{}", json!({"project": project, "at": at.to_rfc3339(), "frozen": status.frozen, "active": active})).map_err(out_err)?;
    } else if status.frozen {
        writeln!(out, "CI_DEPLOY_FREEZE=true").map_err(out_err)?;
        for a in &status.active {
            writeln!(out, "# frozen by period {} from {} until {}", a.id, a.start.to_rfc3339(), a.end.to_rfc3339()).map_err(out_err)?;
        }
    } else {
        writeln!(out, "# not frozen at {}", at.to_rfc3339()).map_err(out_err)?;
    }
    for bad in &status.invalid {
        writeln!(out, "# period {} could not be evaluated: {}", bad.id, bad.error).map_err(out_err)?;
    }
    Ok(if status.frozen { FROZEN_EXIT } else { 0 })
}

fn kind(s: &str) -> Result<InternalKind> {
    match s {
        "vulnerability" => Ok(InternalKind::Vulnerability),
        "bug" => Ok(InternalKind::Bug),
        _ => Err(usage(format!("--kind {s:?}: an internal release fixes a vulnerability or a bug"))),
    }
}

fn package(s: &str) -> Result<InternalPackage> {
    let mut it = s.splitn(3, ',');
    match (it.next(), it.next(), it.next()) {
        (Some(v), Some(n), Some(d)) => Ok(InternalPackage { version: v.into(), name: n.into(), digest: d.into() }),
        _ => Err(usage(format!("--package {s:?}: expected VERSION,NAME,DIGEST"))),
    }
}

pub fn internal(data: &Path, c: InternalCmd, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let (who, cmd) = match c {
        InternalCmd::Status { id, as_of: a, viewer } => {
            let (_, snap) = snapshot(data, a.as_deref(), err)?;
            // Before disclosure, the title is for maintainers and above (and the directory's owner).
            let may_see = match &viewer {
                None => true,
                Some(v) => snap.state.internal.get(&id).and_then(|i| snap.state.projects.get(&i.detected.project)).and_then(|p| p.members.get(v)).is_some_and(|r| *r >= Role::Maintainer),
            };
            let view = relic_projector::history::internal_status(&snap, &id, may_see.then_some(data)).map_err(view_err)?;
            return print_view(&view, json, out);
        }
        InternalCmd::VerifyDisclosure { id } => return verify_disclosure(data, &id, json, out, err),
        InternalCmd::Detect { id, project, kind: k, severity, title, reported_by, detected_at, who } => {
            let title_salt = relic_domain::confidential::new_salt().map_err(|e| CliError::Domain(e.to_string()))?;
            (who, Command::InternalDetect { id, project, kind: kind(&k)?, severity, title, title_salt, reported_by, detected_at })
        }
        InternalCmd::Prepare { id, release_issue, notify, target, who } => {
            (who, Command::InternalPrepare { id, release_issue, notified: notify, targets: target })
        }
        InternalCmd::Remediate { id, commit, deployed_at, verified_by, who } => (
            who,
            Command::InternalRemediate { id, default_branch_commit: commit, multi_tenant_deployed_at: deployed_at, security_verified_by: verified_by },
        ),
        InternalCmd::Backport { id, target, merge_request, approved, pipeline, merged_commit, who } => {
            (who, Command::InternalBackport { id, target, merge_request, approved, pipeline, merged_commit })
        }
        InternalCmd::Release { id, package: p, version_scheme, who } => {
            (who, Command::InternalRelease { id, packages: p.iter().map(|s| package(s)).collect::<Result<_>>()?, scheme: version_scheme })
        }
        InternalCmd::Finalize { id, rollout_completed_at, notify, emergency_maintenance, who } => {
            (who, Command::InternalFinalize { id, rollout_completed_at, notified: notify, emergency_maintenance })
        }
        InternalCmd::Disclose { id, public_version, who } => (who, Command::InternalDisclose { id, public_versions: public_version, reveal: None }),
    };
    run(data, &who, cmd, json, out)
}

/// `relic internal verify-disclosure --id ID`: the disclosed title and salt against the
/// commitment of the detection record, from the log alone.
fn verify_disclosure(data: &Path, id: &str, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let (_, snap) = snapshot(data, None, err)?;
    let i = snap.state.internal.get(id).ok_or_else(|| CliError::refused(404, format!("Internal release {id} does not exist")))?;
    let seq_of = |phase: relic_domain::state::Phase| i.timeline.iter().find(|(p, _, _)| *p == phase).map(|(_, seq, _)| *seq);
    let (detected, disclosed) = (seq_of(relic_domain::state::Phase::Detected), seq_of(relic_domain::state::Phase::Disclosed));
    let Some(d) = &i.disclosed else {
        return Err(CliError::refused(409, format!("Internal release {id} is not disclosed yet: its title stays confidential")));
    };
    let Some(commitment) = &i.detected.title_commitment else {
        return Err(CliError::Domain(format!("Internal release {id} was detected before titles were confidential (internal.detected v1): its title was written in clear")));
    };
    let (Some(title), Some(salt)) = (&d.title, &d.title_salt) else {
        return Err(CliError::Domain(format!("the disclosure of {id} (record {}) reveals no title", disclosed.unwrap_or_default())));
    };
    if !relic_domain::confidential::check(commitment, salt, title) {
        return Err(CliError::Domain(format!(
            "the title disclosed in record {} does not match the commitment {commitment} made at detection (record {})",
            disclosed.unwrap_or_default(),
            detected.unwrap_or_default()
        )));
    }
    if json {
        writeln!(out, "{}", json!({"ok": true, "id": id, "title": title, "commitment": commitment, "detected_record": detected, "disclosed_record": disclosed})).map_err(out_err)
    } else {
        writeln!(
            out,
            "ok: the title disclosed in record {} ({title:?}) is the one committed to at detection in record {} (commitment {commitment})",
            disclosed.unwrap_or_default(),
            detected.unwrap_or_default()
        )
        .map_err(out_err)
    }
}

fn time_arg(flag: &str, s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| {
        DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(|_| usage(format!("--{flag} {s}: expected an RFC 3339 time")))
    })
    .transpose()
}

use relic_projector::report::Verification;

pub fn report(data: &Path, c: ReportCmd, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let (project, from, to, a, format, output, full_verify, actor) = match c {
        ReportCmd::Verify { file } => return verify_report(data, &file, json, out, err),
        ReportCmd::Compliance { project, from, to, as_of, format, output, full_verify, actor } => (project, from, to, as_of, format, output, full_verify, actor),
    };
    let scope = relic_projector::report::Scope { project, from: time_arg("from", from)?, to: time_arg("to", to)?, as_of: as_of(a.as_deref())? };
    let format = if json { "json".to_string() } else { format };
    if !matches!(format.as_str(), "json" | "md" | "html") {
        return Err(usage(format!("--format {format}: use json, md or html")));
    }
    if let Some(path) = &output {
        relic_ledger::paths::check_output(data, "--output", Path::new(path))?;
    }
    let ledger = Ledger::open_read_only(data)?;
    let how = if full_verify { Verification::Full } else { Verification::Incremental };
    let mut r = relic_projector::report::compliance_with(&ledger, data, &scope, how).map_err(view_err)?;
    let key = ledger.verifier_key()?.to_string();
    drop(ledger);
    let actor = actor.or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    r["generated_by"] = json!(actor);
    // The signed checkpoint the report reflects (cosigned under a witness policy), and how to check it.
    let size = r["log"]["tree_size"].as_u64().unwrap_or(0);
    match crate::relay_cmds::checkpoint(data, Some(size), err) {
        Ok(cp) => {
            let command = format!("save the checkpoint as checkpoint.txt, then, on a copy of the log: relic verify --trusted checkpoint.txt --key '{key}'");
            r["checkpoint"] = json!({"note": cp.note, "verifier_key": key, "command": command});
        }
        Err(e) => {
            let _ = writeln!(err, "relic: note: the report embeds no signed checkpoint at size {size}: {e}");
        }
    }
    let text = match format.as_str() {
        "json" => serde_json::to_string_pretty(&r).map_err(|e| CliError::Domain(format!("cannot render the report: {e}")))? + "\n",
        "md" => relic_projector::report::markdown(&r),
        _ => relic_projector::report::html(&r),
    };
    let Some(path) = output else { return out.write_all(text.as_bytes()).map_err(out_err) };
    std::fs::write(&path, &text).map_err(|source| CliError::Io { path: path.clone(), source })?;
    // Issued: its digest recorded, by the operator, so that a printed copy can be proven later.
    let issued = relic_domain::event::ReportIssued {
        digest: blake3::hash(text.as_bytes()).to_hex().to_string(),
        format: format.clone(),
        bytes: text.len() as u64,
        tree_size: size,
        result: r["result"].as_str().unwrap_or("fail").to_string(),
        project: r["scope"]["project"].as_str().map(str::to_string),
        from: r["scope"]["from"].as_str().map(str::to_string),
        to: r["scope"]["to"].as_str().map(str::to_string),
        issued_at: String::new(),
    };
    let digest = issued.digest.clone();
    let seq = crate::session::with_service(data, |svc| {
        let receipts = svc.execute(&actor, &Command::IssueReport(issued), Utc::now()).map_err(service_err)?;
        Ok(receipts.first().map(|r| r.seq))
    })?;
    if json {
        let _ = writeln!(err, "{}", json!({"issued": path, "digest": digest, "record": seq}));
    } else {
        let _ = writeln!(err, "relic: issued {path}: BLAKE3 {digest}, recorded as record {}", seq.unwrap_or_default());
    }
    Ok(())
}

/// `relic report verify FILE`: the file's digest in a `report.issued` record.
fn verify_report(data: &Path, file: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|source| CliError::Io { path: file.display().to_string(), source })?;
    let digest = blake3::hash(&bytes).to_hex().to_string();
    let (_, snap) = snapshot(data, None, err)?;
    let Some(r) = snap.state.reports.get(&digest) else {
        return Err(CliError::refused(
            404,
            format!("{} is not a report this log issued: its BLAKE3 digest {digest} is in no report.issued record (an altered copy, or one never issued)", file.display()),
        ));
    };
    let e = &r.event;
    if json {
        writeln!(out, "{}", json!({"ok": true, "digest": digest, "record": r.seq, "issued_by": r.actor, "issued_at": e.issued_at, "tree_size": e.tree_size, "result": e.result, "format": e.format})).map_err(out_err)
    } else {
        writeln!(
            out,
            "ok: {} is the {} report issued by {} at {} (record {}); it reflects the log at tree size {} (result: {})",
            file.display(),
            e.format,
            r.actor,
            e.issued_at,
            r.seq,
            e.tree_size,
            e.result
        )
        .map_err(out_err)
    }
}

pub fn projections(data: &Path, c: ProjectionsCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    let ledger = Ledger::open_read_only(data)?;
    let (what, applied, findings) = match c {
        ProjectionsCmd::Rebuild => {
            let store = relic_projector::store::ViewStore::open(data).map_err(view_err)?;
            let (store, mut views) = store.rebuild(&ledger, relic_projector::store::DEFAULT_BATCH).map_err(view_err)?;
            // The log is verified too, and where that stopped saved: reports verify from there.
            if let Ok(r) = relic_ledger::verify::verify(ledger.store(), &Default::default(), &mut |_, _| {}) {
                store.save_verified(&r.resume).map_err(view_err)?;
            }
            let size = views.state.size;
            let findings = std::mem::take(&mut views.audit.findings);
            // The views are on disk and the process ends here: freeing a million events' worth of
            // state one allocation at a time took 0.4 s (BENCHMARKS.md, Rebuild), for nothing.
            std::mem::forget(views);
            ("rebuilt", size, findings)
        }
        ProjectionsCmd::Status => ("applied", relic_projector::store::ViewStore::open_read(data).applied().map_err(view_err)?, Vec::new()),
    };
    if json {
        let unreadable: Vec<String> = findings.iter().map(ToString::to_string).collect();
        return writeln!(out, "{}", json!({"applied": applied, "log_size": ledger.size(), "unreadable_records": unreadable})).map_err(out_err);
    }
    writeln!(out, "{what}: views reflect {applied} of the log's {} records", ledger.size()).map_err(out_err)?;
    if !findings.is_empty() {
        writeln!(out, "{} record(s) could not be read and are left out of the views:", findings.len()).map_err(out_err)?;
    }
    for f in &findings {
        writeln!(out, "  {f}").map_err(out_err)?;
    }
    Ok(())
}

/// `relic import releases`: every page read first (a malformed page imports nothing), oldest
/// release first, each one decided and recorded alone; tags the log already has are skipped.
pub fn import(data: &Path, c: ImportCmd, json: bool, out: &mut dyn Write) -> Result<()> {
    let ImportCmd::Releases { project, file, who } = c;
    let actor = who.actor()?;
    let mut releases = Vec::new();
    for f in &file {
        let text = if f == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|source| CliError::Io { path: "<stdin>".into(), source })?;
            s
        } else {
            relic_ledger::paths::check_input(data, "--file", Path::new(f))?;
            std::fs::read_to_string(f).map_err(|source| CliError::Io { path: f.clone(), source })?
        };
        let page: serde_json::Value = serde_json::from_str(&text).map_err(|e| CliError::Invalid(format!("{f}: not JSON: {e}")))?;
        releases.extend(relic_domain::import::from_gitlab(&page).map_err(|e| CliError::Invalid(format!("{f}: {e}")))?);
    }
    releases.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    let (imported, skipped) = crate::session::with_service(data, |svc| {
        let (mut imported, mut skipped) = (Vec::new(), Vec::new());
        for r in releases {
            if svc.state().projects.get(&project).is_some_and(|p| p.releases.contains_key(&r.tag_name)) {
                skipped.push(r.tag_name);
                continue;
            }
            let tag = r.tag_name.clone();
            let cmd = Command::ImportRelease { project: project.clone(), release: r, source: "gitlab".into() };
            let receipts = svc.execute(actor, &cmd, Utc::now()).map_err(service_err)?;
            imported.push((tag, receipts.first().map(|r| r.seq)));
        }
        Ok((imported, skipped))
    })?;
    if json {
        let done: Vec<_> = imported.iter().map(|(t, s)| json!({"tag_name": t, "record": s})).collect();
        writeln!(out, "{}", json!({"imported": done, "skipped": skipped})).map_err(out_err)
    } else {
        for (t, s) in &imported {
            writeln!(out, "{:>6}  release.imported       {project}@{t}", s.unwrap_or_default()).map_err(out_err)?;
        }
        writeln!(out, "imported {} release(s); skipped {} the log already has", imported.len(), skipped.len()).map_err(out_err)
    }
}
