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
        .filter(move |r| DateTime::parse_from_rfc3339(&r.released_at).is_ok_and(|t| t.with_timezone(&Utc) <= now))
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

pub(crate) fn decide(cx: &Parts, cmd: &Command, now: DateTime<Utc>) -> Result<Decision, Refusal> {
    let st = cx.st;
    let done = |role: Role, e: Event| Ok(Decision { documents: Vec::new(), events: vec![e], role: Some(role) });
    match cmd {
        Command::InternalDetect { id, project, kind, severity, title, reported_by, detected_at } => {
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
                Some(t) => DateTime::parse_from_rfc3339(t)
                    .map(|t| ts(t.with_timezone(&Utc)))
                    .map_err(|_| refusal(400, "detected_at is invalid: expected an RFC 3339 time"))?,
                None => ts(now),
            };
            let e = InternalDetected {
                id: id.clone(),
                project: project.clone(),
                kind: *kind,
                severity: *severity,
                title: title.clone(),
                detected_at,
                reported_by: reported_by.clone(),
            };
            done(role, Event::InternalDetected(e))
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
            let e = InternalRemediated {
                id: id.clone(),
                default_branch_commit: default_branch_commit.clone(),
                multi_tenant_deployed_at: ts(deployed.with_timezone(&Utc)),
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
                let want = expected_version(st, p, t, scheme, now).unwrap_or_default();
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
            let e = InternalReleased { id: id.clone(), packages: packages.clone(), released_at: ts(now) };
            done(role, Event::InternalReleased(e))
        }
        Command::InternalFinalize { id, rollout_completed_at, notified, emergency_maintenance } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Finalized)?;
            let rolled_out = DateTime::parse_from_rfc3339(rollout_completed_at)
                .map_err(|_| refusal(422, "Final steps need the time the rollout to the single-tenant instances completed (RFC 3339)"))?;
            if notified.is_empty() || emergency_maintenance.trim().is_empty() {
                return Err(refusal(422, "Final steps need the notified group and the emergency maintenance"));
            }
            let e = InternalFinalized {
                id: id.clone(),
                rollout_completed_at: ts(rolled_out.with_timezone(&Utc)),
                notified: notified.clone(),
                emergency_maintenance: emergency_maintenance.clone(),
            };
            done(role, Event::InternalFinalized(e))
        }
        Command::InternalDisclose { id, public_versions } => {
            let i = get(st, id)?;
            let role = cx.require(&i.detected.project, Role::Maintainer, &format!("internal/{id}"))?;
            in_order(i, Phase::Disclosed)?;
            let p = cx.project(&i.detected.project)?;
            if public_versions.is_empty() {
                return Err(refusal(422, "Disclosure needs the public patch versions that carry the fix"));
            }
            for v in public_versions {
                let released = p.releases.keys().any(|t| t == v || t.strip_prefix('v') == Some(v.as_str()));
                if !released {
                    return Err(refusal(422, format!("The public patch {v} has not been released: disclosure waits for it")));
                }
            }
            done(role, Event::InternalDisclosed(InternalDisclosed { id: id.clone(), public_versions: public_versions.clone(), disclosed_at: ts(now) }))
        }
        _ => Err(refusal(400, "not an internal-release command")),
    }
}
