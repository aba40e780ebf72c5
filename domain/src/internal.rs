//! Internal releases (seed `000_57a13e14e981956d.txt`): private patch releases for single-tenant
//! instances, through six phases in order, none skipped, then the public patch and disclosure.
//!
//! Eligibility: severity 1 only, kind vulnerability or bug. Remediation records the default-branch
//! merge, the deployment to the multi-tenant site and, for a vulnerability, the security team's
//! verification. Both backports (N-1 and N-2: approved, green pipeline, merged) are needed before
//! Release. Release records the internal packages, versioned `X.Y.Z-internal.N` by default, where
//! `X.Y.Z` is the next public patch of minor `X.Y` (so the public sequence skips nothing) and `N`
//! counts internal releases of that patch. A step out of order is refused with a message naming the
//! missing step.

use chrono::{DateTime, Utc};

use crate::decide::{phase_error, refusal, ts, Command, Decision, Parts, Refusal};
use crate::event::*;
use crate::state::{Internal, Phase, Project, State};

/// The default internal version scheme; `{major}`, `{minor}`, `{patch}` (the next public patch)
/// and `{n}` are replaced.
pub const DEFAULT_SCHEME: &str = "{major}.{minor}.{patch}-internal.{n}";

/// `v17.2.3` or `17.2.3` → (17, 2, 3). Pre-release suffixes are not public patches.
pub fn parse_version(tag: &str) -> Option<(u64, u64, u64)> {
    let v = tag.strip_prefix('v').unwrap_or(tag);
    let mut it = v.split('.');
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?, c.parse().ok()?))
}

/// The versions released publicly by `now`: releases with a version tag whose `released_at` has
/// passed (an upcoming release is not public yet).
fn public_versions(p: &Project, now: DateTime<Utc>) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    p.releases
        .values()
        .filter(move |r| !crate::timing::is_upcoming(r.released_at, now))
        .filter_map(|r| parse_version(&r.tag_name))
}

/// The highest public patch released for minor `major.minor` by `now`, if any.
pub fn latest_patch(p: &Project, major: u64, minor: u64, now: DateTime<Utc>) -> Option<u64> {
    public_versions(p, now).filter(|&(a, b, _)| a == major && b == minor).map(|(_, _, c)| c).max()
}

/// The N-1 and N-2 minors: the two minors below the newest one released publicly by `now`.
pub fn previous_minors(p: &Project, now: DateTime<Utc>) -> Option<[String; 2]> {
    let mut minors: Vec<(u64, u64)> = public_versions(p, now).map(|(a, b, _)| (a, b)).collect();
    minors.sort_unstable();
    minors.dedup();
    let n = minors.len();
    (n >= 3).then(|| [format!("{}.{}", minors[n - 2].0, minors[n - 2].1), format!("{}.{}", minors[n - 3].0, minors[n - 3].1)])
}

/// Checks a version scheme: it must name every part, so that versions stay unique and ordered.
pub fn check_scheme(scheme: &str) -> Result<(), String> {
    for part in ["{major}", "{minor}", "{patch}", "{n}"] {
        if !scheme.contains(part) {
            return Err(format!("Version scheme {scheme:?} must contain {{major}}, {{minor}}, {{patch}} and {{n}}"));
        }
    }
    Ok(())
}

/// The version the next internal package of minor `target` (`X.Y`) must carry under `scheme`:
/// the next public patch of that minor, and the first `n` not used by an earlier internal release.
pub fn expected_version(st: &State, p: &Project, target: &str, scheme: &str, now: DateTime<Utc>) -> Option<String> {
    let (major, minor) = target.split_once('.').and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))?;
    let next = latest_patch(p, major, minor, now).map_or(0, |c| c + 1);
    let render = |n: u64| {
        scheme
            .replace("{major}", &major.to_string())
            .replace("{minor}", &minor.to_string())
            .replace("{patch}", &next.to_string())
            .replace("{n}", &n.to_string())
    };
    let used: Vec<&str> =
        st.internal.values().filter_map(|i| i.released.as_ref()).flat_map(|r| r.packages.iter()).map(|pkg| pkg.version.as_str()).collect();
    (1u64..).map(render).find(|v| !used.contains(&v.as_str()))
}

fn get<'a>(st: &'a State, id: &str) -> Result<&'a Internal, Refusal> {
    st.internal.get(id).ok_or_else(|| refusal(404, format!("Internal release {id} does not exist")))
}

const ORDER: [Phase; 7] =
    [Phase::Detected, Phase::Prepared, Phase::Remediated, Phase::Backported, Phase::Released, Phase::Finalized, Phase::Disclosed];

/// The phase after `p` (the last phase is its own successor).
fn next(p: Phase) -> Phase {
    ORDER.iter().position(|x| *x == p).and_then(|i| ORDER.get(i + 1)).copied().unwrap_or(Phase::Disclosed)
}

/// Refuses unless the internal release is exactly in the phase before `want`, naming the first
/// missing step otherwise.
fn in_order(i: &Internal, want: Phase) -> Result<(), Refusal> {
    let id = &i.detected.id;
    if i.phase >= want {
        return Err(refusal(409, format!("Internal release {id} has already completed {}", want.name())));
    }
    if next(i.phase) == want {
        return Ok(());
    }
    let missing = next(i.phase);
    if missing == Phase::Backported {
        let targets = i.prepared.as_ref().map(|p| p.targets.clone()).unwrap_or_default();
        let absent: Vec<String> = targets.iter().filter(|t| !i.backports.contains_key(*t)).cloned().collect();
        return Err(phase_error(id, want, &format!("the backports are not complete (missing: {})", absent.join(", "))));
    }
    Err(phase_error(id, want, &format!("{} has not been recorded", missing.name())))
}

/// A time a command asserts (`field`): not later than `now`, when it is recorded, and not before
/// `after`, the previous phase's time; otherwise a deadline could be met by backdating.
fn in_window(field: &str, t: DateTime<Utc>, after: Option<(Phase, DateTime<Utc>)>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Refusal> {
    if t > now {
        return Err(refusal(422, format!("{field} {} is later than now ({}): a phase is recorded once it has happened", ts(t), ts(now))));
    }
    if let Some((phase, at)) = after {
        if t < at {
            return Err(refusal(422, format!("{field} {} is before {} ({}): the phases happen in order", ts(t), phase.name(), ts(at))));
        }
    }
    Ok(t)
}

pub(crate) fn decide(cx: &Parts, cmd: &Command, now: DateTime<Utc>) -> Result<Decision, Refusal> {
    let st = cx.st;
    let done = |role: Role, e: Event| Ok(Decision { events: vec![e], role: Some(role), ..Decision::default() });
    match cmd {
        Command::InternalDetect { id, project, kind, severity, title, title_salt, reported_by, detected_at } => {
            cx.project(project)?;
            let role = cx.require(project, Role::Maintainer, &format!("internal/{id}"))?;
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(refusal(400, "Internal release id is invalid"));
            }
            if st.internal.contains_key(id) {
                return Err(refusal(409, format!("Internal release {id} already exists")));
            }
            if *severity != 1 {
                return Err(refusal(
                    422,
                    format!("Only severity 1 (S1) issues are eligible for an internal release; this one is S{severity}"),
                ));
            }
            let detected_at = match detected_at {
                Some(t) => {
                    let t = DateTime::parse_from_rfc3339(t).map_err(|_| refusal(400, "detected_at is invalid: expected an RFC 3339 time"))?;
                    ts(in_window("detected_at", t.with_timezone(&Utc), None, now)?)
                }
                None => ts(now),
            };
            if title.trim().is_empty() {
                return Err(refusal(400, "Title can't be blank"));
            }
            // The title is confidential until disclosure: the record commits to it.
            let secret = crate::confidential::Secret::new(title, *title_salt);
            let e = InternalDetected {
                id: id.clone(),
                project: project.clone(),
                kind: *kind,
                severity: *severity,
                title: None,
                title_commitment: Some(secret.commitment.clone()),
                detected_at,
                reported_by: reported_by.clone(),
            };
            Ok(Decision { events: vec![Event::InternalDetected(e)], secrets: vec![secret], role: Some(role), ..Decision::default() })
        }
        Command::InternalPrepare { id, release_issue, notified, targets } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Prepared)?;
            let p = cx.project(&i.detected.project)?;
            let mut t = targets.clone();
            t.dedup();
            if t.len() != 2 || t.iter().any(|x| x.split_once('.').is_none_or(|(a, b)| a.parse::<u64>().is_err() || b.parse::<u64>().is_err())) {
                return Err(refusal(422, "An internal release targets exactly two minor versions, N-1 and N-2 (e.g. 17.2 and 17.1)"));
            }
            if let Some(expected) = previous_minors(p, now) {
                if t != expected {
                    return Err(refusal(422, format!("The targets must be N-1 and N-2: {} and {}", expected[0], expected[1])));
                }
            }
            if release_issue.trim().is_empty() || notified.is_empty() {
                return Err(refusal(422, "Prepare needs the release issue and the notified stakeholders"));
            }
            let e = InternalPrepared { id: id.clone(), release_issue: release_issue.clone(), notified: notified.clone(), targets: t, prepared_at: ts(now) };
            done(role, Event::InternalPrepared(e))
        }
        Command::InternalRemediate { id, default_branch_commit, multi_tenant_deployed_at, security_verified_by } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Remediated)?;
            if default_branch_commit.trim().is_empty() {
                return Err(refusal(422, "Remediation needs the merge to the default branch"));
            }
            let deployed = DateTime::parse_from_rfc3339(multi_tenant_deployed_at)
                .map_err(|_| refusal(422, "Remediation needs the time of the deployment to the multi-tenant site (RFC 3339)"))?;
            if i.detected.kind == InternalKind::Vulnerability && security_verified_by.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(refusal(422, "Remediation of a vulnerability needs the security team's verification on the multi-tenant site"));
            }
            let after = phase_time(i, Phase::Prepared).map(|t| (Phase::Prepared, t));
            let deployed = in_window("multi_tenant_deployed_at", deployed.with_timezone(&Utc), after, now)?;
            let e = InternalRemediated {
                id: id.clone(),
                default_branch_commit: default_branch_commit.clone(),
                multi_tenant_deployed_at: ts(deployed),
                security_verified_by: security_verified_by.clone(),
                remediated_at: ts(now),
            };
            done(role, Event::InternalRemediated(e))
        }
        Command::InternalBackport { id, target, merge_request, approved, pipeline, merged_commit } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Backported)?;
            let targets = i.prepared.as_ref().map(|p| p.targets.clone()).unwrap_or_default();
            if !targets.contains(target) {
                return Err(refusal(422, format!("{target} is not a target of this internal release ({})", targets.join(", "))));
            }
            if i.backports.contains_key(target) {
                return Err(refusal(409, format!("The backport to {target} is already recorded")));
            }
            if !approved {
                return Err(refusal(422, format!("The backport to {target} is not approved")));
            }
            if pipeline != "success" {
                return Err(refusal(422, format!("The backport to {target} does not have a green pipeline ({pipeline})")));
            }
            if merged_commit.trim().is_empty() {
                return Err(refusal(422, format!("The backport to {target} is not merged")));
            }
            let e = InternalBackported {
                id: id.clone(),
                target: target.clone(),
                merge_request: merge_request.clone(),
                approved: *approved,
                pipeline: pipeline.clone(),
                merged_commit: merged_commit.clone(),
                merged_at: ts(now),
            };
            done(role, Event::InternalBackported(e))
        }
        Command::InternalRelease { id, packages, scheme } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Released)?;
            let scheme = scheme.as_deref().unwrap_or(DEFAULT_SCHEME);
            check_scheme(scheme).map_err(|m| refusal(422, m))?;
            let p = cx.project(&i.detected.project)?;
            let targets = i.prepared.as_ref().map(|p| p.targets.clone()).unwrap_or_default();
            for t in &targets {
                let want = expected_version(st, p, t, scheme, now).ok_or_else(|| refusal(422, format!("Target {t} is not a minor version X.Y")))?;
                let Some(pkg) = packages.iter().find(|pkg| pkg.version.starts_with(&format!("{t}."))) else {
                    return Err(refusal(422, format!("No internal package for {t}: expected version {want}")));
                };
                if pkg.version != want {
                    return Err(refusal(
                        422,
                        format!("Package version {} is not valid: expected {want} (the next public patch of {t}, so no public version is skipped)", pkg.version),
                    ));
                }
                let digest_ok = pkg.digest.split_once(':').is_some_and(|(alg, hex)| {
                    matches!(alg, "sha256" | "blake3") && hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !digest_ok {
                    return Err(refusal(422, format!("Package {} needs a digest of the form sha256:<64 hex> or blake3:<64 hex>", pkg.version)));
                }
            }
            let e = InternalReleased { id: id.clone(), packages: packages.clone(), released_at: ts(now), version_scheme: Some(scheme.to_string()) };
            done(role, Event::InternalReleased(e))
        }
        Command::InternalFinalize { id, rollout_completed_at, notified, emergency_maintenance } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Finalized)?;
            let rolled_out = DateTime::parse_from_rfc3339(rollout_completed_at)
                .map_err(|_| refusal(422, "Final steps need the time the rollout to the single-tenant instances completed (RFC 3339)"))?;
            let after = phase_time(i, Phase::Released).map(|t| (Phase::Released, t));
            let rolled_out = in_window("rollout_completed_at", rolled_out.with_timezone(&Utc), after, now)?;
            if notified.is_empty() || emergency_maintenance.trim().is_empty() {
                return Err(refusal(422, "Final steps need the notified group and the emergency maintenance"));
            }
            let e = InternalFinalized {
                id: id.clone(),
                rollout_completed_at: ts(rolled_out),
                notified: notified.clone(),
                emergency_maintenance: emergency_maintenance.clone(),
            };
            done(role, Event::InternalFinalized(e))
        }
        Command::InternalDisclose { id, public_versions, reveal } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Disclosed)?;
            let p = cx.project(&i.detected.project)?;
            if public_versions.is_empty() {
                return Err(refusal(422, "Disclosure needs the public patch versions that carry the fix"));
            }
            for v in public_versions {
                let release = p.releases.iter().find(|(t, _)| *t == v || t.strip_prefix('v') == Some(v.as_str())).map(|(_, r)| r);
                match release {
                    None => return Err(refusal(422, format!("The public patch {v} has not been released: disclosure waits for it"))),
                    // An upcoming release is not public until its released_at.
                    Some(r) if crate::timing::is_upcoming(r.released_at, now) => {
                        return Err(refusal(422, format!("The public patch {v} is not released until {}: disclosure waits for it", ts(r.released_at))))
                    }
                    Some(_) => {}
                }
            }
            // What the detection committed to is revealed now, and must be what it committed to.
            let (title, title_salt) = match &i.detected.title_commitment {
                None => (None, None),
                Some(c) => match reveal {
                    Some(s) if &s.commitment == c && crate::confidential::commitment(&s.salt, &s.text) == *c => {
                        (Some(s.text.clone()), Some(relic_ledger::hex::encode(&s.salt)))
                    }
                    Some(_) => return Err(refusal(422, format!("The confidential title given for {id} does not match the commitment made at detection"))),
                    None => {
                        return Err(refusal(
                            422,
                            format!("The confidential title of {id} is not in this data directory's store: disclosure reveals it, so it must run where it was detected"),
                        ))
                    }
                },
            };
            let e = InternalDisclosed { id: id.clone(), public_versions: public_versions.clone(), disclosed_at: ts(now), title, title_salt };
            done(role, Event::InternalDisclosed(e))
        }
        _ => Err(refusal(400, "not an internal-release command")),
    }
}

/// S1 deadlines: mitigate within 24 hours of detection (the fix live on the multi-tenant site)…
pub const MITIGATE_WITHIN_HOURS: i64 = 24;
/// …and remediate within 30 days (single-tenant instances run it: the rollout completed).
pub const REMEDIATE_WITHIN_DAYS: i64 = 30;

/// Where a deadline stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStatus {
    Met,
    Missed,
    /// Not done, and less than a fifth of the allowed time left.
    AtRisk,
    Pending,
}

impl DeadlineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineStatus::Met => "met",
            DeadlineStatus::Missed => "missed",
            DeadlineStatus::AtRisk => "at_risk",
            DeadlineStatus::Pending => "pending",
        }
    }
}

/// A deadline: when it is due, when it was done (if it was), and where it stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub due: DateTime<Utc>,
    pub done: Option<DateTime<Utc>>,
    pub status: DeadlineStatus,
}

/// The deadline `allowed` after `start`, done at `done`, as it stands at `at`.
pub fn deadline(start: DateTime<Utc>, allowed: chrono::Duration, done: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Deadline {
    let due = start + allowed;
    let status = match done {
        Some(d) if d <= due => DeadlineStatus::Met,
        Some(_) => DeadlineStatus::Missed,
        None if at > due => DeadlineStatus::Missed,
        None if due - at < allowed / 5 => DeadlineStatus::AtRisk,
        None => DeadlineStatus::Pending,
    };
    Deadline { due, done, status }
}

/// When `phase` happened, as its event says (detection, preparation, the multi-tenant deployment,
/// the last backport merge, the release, the rollout, the disclosure); `None` if not reached.
pub fn phase_time(i: &Internal, phase: Phase) -> Option<DateTime<Utc>> {
    use crate::timing::parse;
    match phase {
        Phase::Detected => parse(&i.detected.detected_at),
        Phase::Prepared => i.prepared.as_ref().and_then(|p| parse(&p.prepared_at)),
        Phase::Remediated => i.remediated.as_ref().and_then(|r| parse(&r.multi_tenant_deployed_at)),
        Phase::Backported => i.backports.values().filter_map(|b| parse(&b.merged_at)).max(),
        Phase::Released => i.released.as_ref().and_then(|r| parse(&r.released_at)),
        Phase::Finalized => i.finalized.as_ref().and_then(|f| parse(&f.rollout_completed_at)),
        Phase::Disclosed => i.disclosed.as_ref().and_then(|d| parse(&d.disclosed_at)),
    }
}

/// The S1 deadlines (mitigate, remediate) of an internal release as they stand at `at`; `None` if
/// its detection time is unreadable.
pub fn deadlines(i: &Internal, at: DateTime<Utc>) -> Option<(Deadline, Deadline)> {
    let detected = phase_time(i, Phase::Detected)?;
    let mitigate = deadline(detected, chrono::Duration::hours(MITIGATE_WITHIN_HOURS), phase_time(i, Phase::Remediated), at);
    let remediate = deadline(detected, chrono::Duration::days(REMEDIATE_WITHIN_DAYS), phase_time(i, Phase::Finalized), at);
    Some((mitigate, remediate))
}

/// What an auditor checks of an internal release, by the same rules that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Both targets (N-1 and N-2) have a backport.
    pub both_backports: bool,
    /// Every package's version has the form the recorded scheme gives for one of the targets
    /// (`None`: not released yet, or released by a record that did not say its scheme).
    pub package_versions_valid: Option<bool>,
    /// Disclosed after the rollout completed (`None`: not disclosed yet).
    pub disclosed_after_rollout: Option<bool>,
}

/// The checks of [`Checks`] on `i`.
pub fn checks(i: &Internal) -> Checks {
    let targets = i.prepared.as_ref().map(|p| p.targets.clone()).unwrap_or_default();
    let both_backports = targets.len() == 2 && targets.iter().all(|t| i.backports.contains_key(t));
    let package_versions_valid = i.released.as_ref().and_then(|r| {
        let scheme = r.version_scheme.as_deref()?;
        Some(r.packages.iter().all(|pkg| targets.iter().any(|t| version_fits(scheme, t, &pkg.version))))
    });
    let disclosed_after_rollout = phase_time(i, Phase::Disclosed).map(|d| phase_time(i, Phase::Finalized).is_some_and(|r| d >= r));
    Checks { both_backports, package_versions_valid, disclosed_after_rollout }
}

/// Whether `version` has the form `scheme` gives for minor `target` (`X.Y`): `{major}` and
/// `{minor}` are the target's, `{patch}` any number and `{n}` any number from 1.
pub fn version_fits(scheme: &str, target: &str, version: &str) -> bool {
    let Some((major, minor)) = target.split_once('.') else { return false };
    let template = scheme.replace("{major}", major).replace("{minor}", minor);
    fits(&template, version)
}

/// Matches `text` against a template of literal text, `{patch}` (digits) and `{n}` (digits, ≥ 1).
fn fits(template: &str, text: &str) -> bool {
    let (at, hole) = match (template.find("{patch}"), template.find("{n}")) {
        (Some(p), Some(n)) if p < n => (p, "{patch}"),
        (Some(p), None) => (p, "{patch}"),
        (_, Some(n)) => (n, "{n}"),
        (None, None) => return template == text,
    };
    let Some(rest) = text.strip_prefix(&template[..at]) else { return false };
    let after = &template[at + hole.len()..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (1..=digits).any(|k| {
        let number = &rest[..k];
        let allowed = hole != "{n}" || number.parse::<u64>().is_ok_and(|n| n >= 1);
        allowed && fits(after, &rest[k..])
    })
}

#[cfg(test)]
mod checks_tests {
    use super::*;

    #[test]
    fn versions_fit_the_recorded_scheme_not_only_the_default() {
        assert!(version_fits(DEFAULT_SCHEME, "17.2", "17.2.4-internal.1"));
        assert!(!version_fits(DEFAULT_SCHEME, "17.2", "17.3.4-internal.1"));
        assert!(!version_fits(DEFAULT_SCHEME, "17.2", "17.2.4-internal.0"));
        assert!(!version_fits(DEFAULT_SCHEME, "17.2", "17.2.4"));
        let custom = "{major}.{minor}.{patch}+sec{n}";
        assert!(version_fits(custom, "3.9", "3.9.5+sec2"));
        assert!(!version_fits(custom, "3.9", "3.9.5-internal.2"));
        assert!(version_fits("{major}.{minor}.{patch}{n}", "1.2", "1.2.34"), "digits split either way");
    }
}
