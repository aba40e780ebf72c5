//! One test per rule and error text of `../shared/reference/domain.md`, driven through the pure
//! `decide` function and the state fold.

use chrono::{DateTime, Duration, TimeZone, Utc};
use relic_domain::decide::{decide, Command, LinkInput, Refusal};
use relic_domain::event::*;
use relic_domain::state::{Phase, State};

const P: &str = "acme/app";

struct World {
    st: State,
    now: DateTime<Utc>,
    seq: u64,
}

impl World {
    /// A project owned by `owner`, with `dev` (developer), `maint` (maintainer), `rep` (reporter),
    /// `guest` (guest), a milestone `m1` with a confidential issue, and a tag `v1.0.0`.
    fn new() -> Self {
        let mut w = World { st: State::default(), now: Utc.with_ymd_and_hms(2026, 6, 1, 10, 0, 0).unwrap(), seq: 1 };
        w.ok("owner", Command::RegisterProject { project: P.into(), name: "App".into(), description: None });
        for (u, r) in [("dev", Role::Developer), ("maint", Role::Maintainer), ("rep", Role::Reporter), ("guest", Role::Guest)] {
            w.ok("owner", Command::SetMemberRole { project: P.into(), user: u.into(), role: r });
        }
        let issue = |id, confidential| Issue {
            id,
            iid: id,
            title: format!("issue {id}"),
            description: Some("details".into()),
            state: "closed".into(),
            confidential,
            created_at: "2026-05-01T00:00:00Z".into(),
            due_date: None,
        };
        w.ok(
            "dev",
            Command::RecordMilestone(MilestoneRecorded {
                project: P.into(),
                id: 1,
                iid: 1,
                title: "m1".into(),
                description: None,
                state: "closed".into(),
                created_at: "2026-05-01T00:00:00Z".into(),
                due_date: None,
                issues: vec![issue(10, false), issue(11, true)],
            }),
        );
        w.ok("dev", Command::RecordTag { project: P.into(), name: "v1.0.0".into(), git_ref: "main".into(), commit: Some("a".repeat(40)), message: None });
        w
    }

    fn run(&mut self, actor: &str, cmd: Command) -> Result<Vec<Event>, Refusal> {
        let r = decide(&self.st, actor, &cmd, self.now);
        let events = match &r {
            Ok(d) => d.events.clone(),
            Err(f) => f.denied.iter().cloned().map(Event::AccessDenied).collect(),
        };
        for e in &events {
            self.st.apply_event(e, actor, self.seq, &self.now.to_rfc3339());
            self.seq += 1;
        }
        r.map(|d| d.events)
    }

    fn ok(&mut self, actor: &str, cmd: Command) -> Vec<Event> {
        self.run(actor, cmd.clone()).unwrap_or_else(|e| panic!("{cmd:?} refused: {e}"))
    }

    /// The command is refused with exactly `text`; nothing but an access-denied record (when
    /// `denied`) changes.
    fn refused(&mut self, actor: &str, cmd: Command, text: &str, denied: bool) {
        let before = self.st.clone();
        let e = self.run(actor, cmd).expect_err("expected a refusal");
        assert_eq!(e.message, text);
        assert_eq!(e.denied.is_some(), denied, "access-denied record for {text:?}");
        let mut expected = before;
        expected.denied += denied as u64;
        assert_eq!(self.st.projects, expected.projects, "a refused command changed the state");
        assert_eq!(self.st.denied, expected.denied);
    }
}

fn create(tag: &str) -> Command {
    Command::create_release(P, tag, None)
}

fn with(cmd: Command, f: impl FnOnce(&mut Command)) -> Command {
    let mut c = cmd;
    f(&mut c);
    c
}

fn link(name: &str, url: &str) -> LinkInput {
    LinkInput { name: Some(name.into()), url: Some(url.into()), direct_asset_path: None, link_type: None }
}

fn set_links(c: &mut Command, l: Vec<LinkInput>) {
    if let Command::CreateRelease { links, .. } = c {
        *links = l;
    }
}

#[test]
fn create_checks_run_in_the_reference_order() {
    let mut w = World::new();
    // 1. role: reporters and guests may not create releases.
    w.refused("rep", create("v2.0.0"), "Access Denied", true);
    w.refused("stranger", create("v2.0.0"), "Access Denied", true);
    // 2. protected tag: developers may not create v* once maintainers own it.
    w.ok("maint", Command::ProtectTag { project: P.into(), pattern: "v*".into(), create_access_level: Role::Maintainer });
    w.refused("dev", create("v2.0.0"), "You are not allowed to create this tag as it is protected.", true);
    w.ok("maint", create("v2.0.0"));
    // 3. exists (checked after permission: a developer on a protected tag learns nothing).
    w.refused("maint", create("v2.0.0"), "Release already exists", false);
    // 4. milestones.
    let c = with(create("v3.0.0"), |c| {
        if let Command::CreateRelease { milestones, .. } = c {
            *milestones = vec!["m1".into(), "nope".into(), "gone".into()];
        }
    });
    w.refused("maint", c, "Milestone(s) not found: nope, gone", false);
    // 5. ref needed when the tag is unknown; not when it exists.
    let no_ref = with(create("v3.0.0"), |c| {
        if let Command::CreateRelease { git_ref, .. } = c {
            *git_ref = None;
        }
    });
    w.refused("maint", no_ref, "Ref is not specified", false);
    let existing_tag = with(create("v1.0.0"), |c| {
        if let Command::CreateRelease { git_ref, .. } = c {
            *git_ref = None;
        }
    });
    w.ok("maint", existing_tag);
    // 6. duplicate links, by name or by url.
    let dup = with(create("v3.0.0"), |c| set_links(c, vec![link("a", "https://x.example/1"), link("a", "https://x.example/2")]));
    w.refused("maint", dup, "Validation failed: Links have duplicate values (a)", false);
    let dup_url = with(create("v3.0.0"), |c| set_links(c, vec![link("a", "https://x.example/1"), link("b", "https://x.example/1")]));
    w.refused("maint", dup_url, "Validation failed: Links have duplicate values (https://x.example/1)", false);
}

#[test]
fn tag_name_and_defaults() {
    let mut w = World::new();
    w.refused("dev", create("HEAD"), "Tag name invalid", false);
    w.refused("dev", create(""), "Tag name invalid", false);
    let ev = w.ok("dev", create("v2.0.0"));
    // The tag did not exist: the release records it, then itself, then its evidence.
    let kinds: Vec<&str> = ev.iter().map(Event::kind).collect();
    assert_eq!(kinds, ["tag.recorded", "release.created", "evidence.collected"]);
    let Event::ReleaseCreated(r) = &ev[1] else { panic!() };
    assert_eq!(r.name, "v2.0.0", "name defaults to the tag");
    assert_eq!(r.released_at, r.created_at, "released_at defaults to creation time");
}

#[test]
fn evidence_on_create_unless_upcoming_or_historical() {
    let mut w = World::new();
    let at = |c: Command, t: DateTime<Utc>| {
        with(c, |c| {
            if let Command::CreateRelease { released_at, .. } = c {
                *released_at = Some(t.to_rfc3339());
            }
        })
    };
    let upcoming = w.ok("dev", at(create("v2.0.0"), w.now + Duration::days(3)));
    assert!(!upcoming.iter().any(|e| e.kind() == "evidence.collected"), "upcoming: collected when released_at arrives");
    let historical = w.ok("dev", at(create("v0.9.0"), w.now - Duration::days(30)));
    assert!(!historical.iter().any(|e| e.kind() == "evidence.collected"), "historical: never automatically");
    let within_the_second = w.ok("dev", at(create("v0.9.1"), w.now));
    assert!(within_the_second.iter().any(|e| e.kind() == "evidence.collected"));
    // On demand, any number of times, also for a historical release.
    for _ in 0..2 {
        let ev = w.ok("dev", Command::CollectEvidence { project: P.into(), tag_name: "v0.9.0".into(), reason: EvidenceReason::OnDemand, scheduled_at: None });
        assert_eq!(ev[0].kind(), "evidence.collected");
    }
    assert_eq!(w.st.projects[P].releases["v0.9.0"].evidences.len(), 2);
    // Not for an upcoming release: its evidence is collected when released_at arrives.
    w.refused(
        "dev",
        Command::CollectEvidence { project: P.into(), tag_name: "v2.0.0".into(), reason: EvidenceReason::OnDemand, scheduled_at: None },
        "Release is upcoming: its evidence is collected at its released_at (2026-06-04T10:00:00Z). You cannot collect release evidence before then.",
        false,
    );
    w.refused("rep", Command::CollectEvidence { project: P.into(), tag_name: "v0.9.0".into(), reason: EvidenceReason::OnDemand, scheduled_at: None }, "Access Denied", true);
}

#[test]
fn evidence_redacts_confidential_issues_visibly() {
    let mut w = World::new();
    let c = with(create("v2.0.0"), |c| {
        if let Command::CreateRelease { milestones, .. } = c {
            *milestones = vec!["m1".into()];
        }
    });
    let d = decide(&w.st, "dev", &c, w.now).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&d.documents[0].bytes).unwrap();
    let issues = doc["release"]["milestones"][0]["issues"].as_array().unwrap();
    assert_eq!(issues[0]["title"], "issue 10");
    assert_eq!(issues[1]["title"], relic_domain::evidence::REDACTED_TITLE);
    assert_eq!(issues[1]["description"], serde_json::Value::Null);
    assert_eq!(doc["redaction"]["redacted_issues"], 1);
    assert_eq!(doc["release"]["project"]["name"], "App");
    // The digest is BLAKE3 of exactly the stored bytes.
    assert_eq!(blake3::hash(&d.documents[0].bytes).to_hex().to_string(), d.documents[0].sha);
    let _ = w.ok("dev", c);
}

#[test]
fn update_and_delete() {
    let mut w = World::new();
    let upd = |tag: &str, name: Option<&str>| Command::UpdateRelease {
        project: P.into(),
        tag_name: tag.into(),
        name: name.map(Into::into),
        description: None,
        released_at: None,
        milestones: None,
    };
    w.refused("dev", upd("v9", Some("x")), "Release does not exist", false);
    w.ok("dev", create("v2.0.0"));
    w.refused("rep", upd("v2.0.0", Some("x")), "Access Denied", true);
    w.refused("dev", upd("v2.0.0", None), "params is empty", false);
    w.ok("dev", upd("v2.0.0", Some("Two")));
    assert_eq!(w.st.projects[P].releases["v2.0.0"].name, "Two");
    // Milestones: must exist; [] clears them.
    let ms = |m: Vec<&str>| Command::UpdateRelease {
        project: P.into(),
        tag_name: "v2.0.0".into(),
        name: None,
        description: None,
        released_at: None,
        milestones: Some(m.into_iter().map(Into::into).collect()),
    };
    w.refused("dev", ms(vec!["zzz"]), "Milestone(s) not found: zzz", false);
    w.ok("dev", ms(vec!["m1"]));
    assert_eq!(w.st.projects[P].releases["v2.0.0"].milestones, ["m1"]);
    w.ok("dev", ms(vec![]));
    assert!(w.st.projects[P].releases["v2.0.0"].milestones.is_empty());
    // Delete: same errors; the tag stays.
    let del = |t: &str| Command::DeleteRelease { project: P.into(), tag_name: t.into() };
    w.refused("dev", del("v9"), "Release does not exist", false);
    w.refused("guest", del("v2.0.0"), "Access Denied", true);
    w.ok("dev", del("v2.0.0"));
    assert!(!w.st.projects[P].releases.contains_key("v2.0.0"));
    assert!(w.st.projects[P].tags.contains_key("v2.0.0"), "deleting a release leaves its tag");
}

#[test]
fn link_rules() {
    let mut w = World::new();
    w.ok("dev", create("v2.0.0"));
    let add = |l: LinkInput| Command::AddLink { project: P.into(), tag_name: "v2.0.0".into(), link: l };
    w.refused("dev", add(LinkInput { name: None, ..link("", "https://x.example/a") }), "Name can't be blank", false);
    w.refused("dev", add(link("a", "")), "Url can't be blank", false);
    for bad in ["file:///etc/passwd", "javascript:alert(1)", "ssh://x.example/a", "x.example/a"] {
        w.refused("dev", add(link("a", bad)), "Url is blocked: Only allowed schemes are http, https, ftp", false);
    }
    for good in ["http://x.example/a", "https://x.example/b", "ftp://x.example/c"] {
        w.ok("dev", add(link(good, good)));
    }
    let path = |p: &str| LinkInput { direct_asset_path: Some(p.into()), ..link("p", "https://x.example/p") };
    for bad in ["bin/app", "/bin//app", "//app", "/bin/app/", "/bin/app-", "/bin/ap p", "/"] {
        w.refused("dev", add(path(bad)), "Direct asset path is in an invalid format", false);
    }
    let long = format!("/{}", "a".repeat(128));
    w.refused("dev", add(path(&long)), "Direct asset path is too long (maximum is 128 characters)", false);
    let max = format!("/{}", "a".repeat(127));
    w.ok("dev", add(path(&max)));
    w.refused("dev", add(LinkInput { link_type: Some("binary".into()), ..link("t", "https://x.example/t") }), "link_type does not have a valid value", false);
    for t in ["other", "runbook", "package", "image"] {
        w.ok("dev", add(LinkInput { link_type: Some(t.into()), ..link(t, &format!("https://x.example/{t}")) }));
    }
    // Unique within the release.
    w.refused("dev", add(link("runbook", "https://x.example/new")), "Name has already been taken", false);
    w.refused("dev", add(link("new", "https://x.example/runbook")), "Url has already been taken", false);
    w.refused("rep", add(link("r", "https://x.example/r")), "Access Denied", true);
    // Update and delete.
    let id = *w.st.projects[P].releases["v2.0.0"].links.keys().next().unwrap();
    let upd = Command::UpdateLink { project: P.into(), tag_name: "v2.0.0".into(), id, link: LinkInput { url: Some("https://moved.example/a".into()), ..Default::default() } };
    w.ok("dev", upd);
    assert_eq!(w.st.projects[P].releases["v2.0.0"].links[&id].url, "https://moved.example/a");
    w.refused("dev", Command::DeleteLink { project: P.into(), tag_name: "v2.0.0".into(), id: 9999 }, "Link does not exist", false);
    w.ok("dev", Command::DeleteLink { project: P.into(), tag_name: "v2.0.0".into(), id });
}

#[test]
fn freeze_periods_are_maintainer_only_and_validated() {
    let mut w = World::new();
    let c = |s: &str, e: &str, tz: Option<&str>| Command::CreateFreeze { project: P.into(), freeze_start: s.into(), freeze_end: e.into(), cron_timezone: tz.map(Into::into) };
    w.refused("dev", c("0 23 * * 5", "0 7 * * 1", None), "Access Denied", true);
    w.refused("maint", c("0 25 * * 5", "0 7 * * 1", None), "Freeze start is invalid syntax", false);
    w.refused("maint", c("0 23 * * 5", "nonsense", None), "Freeze end is invalid syntax", false);
    w.refused("maint", c("0 23 * * 5", "0 7 * * 1", Some("Mars/Olympus")), "Cron timezone syntax is invalid", false);
    let ev = w.ok("maint", c("0 23 * * 5", "0 7 * * 1", None));
    let Event::FreezeCreated(f) = &ev[0] else { panic!() };
    assert_eq!(f.cron_timezone, "UTC", "the time zone defaults to UTC");
    w.refused("maint", Command::DeleteFreeze { project: P.into(), id: 99 }, "Freeze period not found", false);
    w.refused("dev", Command::DeleteFreeze { project: P.into(), id: f.id }, "Access Denied", true);
    w.ok("maint", Command::DeleteFreeze { project: P.into(), id: f.id });
}

#[test]
fn members_and_protected_tags() {
    let mut w = World::new();
    w.refused("dev", Command::SetMemberRole { project: P.into(), user: "x".into(), role: Role::Developer }, "Access Denied", true);
    w.refused("maint", Command::SetMemberRole { project: P.into(), user: "x".into(), role: Role::Owner }, "Access Denied", true);
    w.ok("maint", Command::SetMemberRole { project: P.into(), user: "x".into(), role: Role::Developer });
    w.refused("dev", Command::ProtectTag { project: P.into(), pattern: "*".into(), create_access_level: Role::Owner }, "Access Denied", true);
    w.ok("owner", Command::ProtectTag { project: P.into(), pattern: "*".into(), create_access_level: Role::Owner });
    w.refused("maint", create("anything"), "You are not allowed to create this tag as it is protected.", true);
    w.ok("owner", Command::UnprotectTag { project: P.into(), pattern: "*".into() });
    w.ok("maint", create("anything"));
    assert_eq!(w.st.denied, 4);
}

fn s1_world() -> World {
    let mut w = World::new();
    for t in ["v17.0.3", "v17.1.5", "v17.2.2", "v17.3.0"] {
        w.ok("maint", with(create(t), |c| {
            if let Command::CreateRelease { released_at, .. } = c {
                *released_at = Some("2026-01-01T00:00:00Z".into());
            }
        }));
    }
    w
}

fn detect(id: &str, severity: u8, kind: InternalKind) -> Command {
    Command::InternalDetect { id: id.into(), project: P.into(), kind, severity, title: "RCE".into(), title_salt: [7; 32], reported_by: "sirt".into(), detected_at: None }
}

#[test]
fn internal_release_runs_through_every_phase_in_order() {
    let mut w = s1_world();
    w.refused("maint", detect("IR-2", 2, InternalKind::Vulnerability), "Only severity 1 (S1) issues are eligible for an internal release; this one is S2", false);
    w.refused("dev", detect("IR-1", 1, InternalKind::Vulnerability), "Access Denied", true);
    w.ok("maint", detect("IR-1", 1, InternalKind::Vulnerability));
    let prep = |targets: Vec<&str>| Command::InternalPrepare { id: "IR-1".into(), release_issue: "https://issues.example/1".into(), notified: vec!["dedicated".into()], targets: targets.into_iter().map(Into::into).collect() };
    let remediate = |verified: Option<&str>| Command::InternalRemediate { id: "IR-1".into(), default_branch_commit: "abc".into(), multi_tenant_deployed_at: "2026-06-01T12:00:00Z".into(), security_verified_by: verified.map(Into::into) };
    // Out of order: remediation before preparation names the missing step.
    w.refused("maint", remediate(Some("appsec")), "Internal release IR-1 cannot enter Remediation on the multi-tenant site: Prepare has not been recorded", false);
    w.refused("maint", prep(vec!["17.3", "17.2"]), "The targets must be N-1 and N-2: 17.2 and 17.1", false);
    w.ok("maint", prep(vec!["17.2", "17.1"]));
    w.refused("maint", remediate(None), "Remediation of a vulnerability needs the security team's verification on the multi-tenant site", false);
    // An asserted time lies between the previous phase and the moment it is recorded.
    w.refused("maint", remediate(Some("appsec")), "multi_tenant_deployed_at 2026-06-01T12:00:00Z is later than now (2026-06-01T10:00:00Z): a phase is recorded once it has happened", false);
    let backdated = with(remediate(Some("appsec")), |c| {
        if let Command::InternalRemediate { multi_tenant_deployed_at, .. } = c {
            *multi_tenant_deployed_at = "2020-01-01T00:00:00Z".into();
        }
    });
    w.refused("maint", backdated, "multi_tenant_deployed_at 2020-01-01T00:00:00Z is before Prepare (2026-06-01T10:00:00Z): the phases happen in order", false);
    w.now += Duration::hours(3);
    w.ok("maint", remediate(Some("appsec")));
    let backport = |t: &str, approved: bool, pipeline: &str| Command::InternalBackport { id: "IR-1".into(), target: t.into(), merge_request: format!("!{t}"), approved, pipeline: pipeline.into(), merged_commit: "def".into() };
    let release = |v1: &str, v2: &str| Command::InternalRelease {
        id: "IR-1".into(),
        scheme: None,
        packages: vec![
            InternalPackage { version: v1.into(), name: "omnibus".into(), digest: format!("sha256:{}", "0".repeat(64)) },
            InternalPackage { version: v2.into(), name: "omnibus".into(), digest: format!("sha256:{}", "1".repeat(64)) },
        ],
    };
    w.refused("maint", backport("17.2", false, "success"), "The backport to 17.2 is not approved", false);
    w.refused("maint", backport("17.2", true, "failed"), "The backport to 17.2 does not have a green pipeline (failed)", false);
    w.refused("maint", backport("16.9", true, "success"), "16.9 is not a target of this internal release (17.2, 17.1)", false);
    w.ok("maint", backport("17.2", true, "success"));
    w.refused("maint", release("17.2.3-internal.1", "17.1.6-internal.1"), "Internal release IR-1 cannot enter Release: the backports are not complete (missing: 17.1)", false);
    w.ok("maint", backport("17.1", true, "success"));
    assert_eq!(w.st.internal["IR-1"].phase, Phase::Backported);
    // Versions: the next public patch of each minor, so no public number is skipped.
    w.refused("maint", release("17.2.4-internal.1", "17.1.6-internal.1"), "Package version 17.2.4-internal.1 is not valid: expected 17.2.3-internal.1 (the next public patch of 17.2, so no public version is skipped)", false);
    let bad_scheme = with(release("17.2.3-internal.1", "17.1.6-internal.1"), |c| {
        if let Command::InternalRelease { scheme, .. } = c {
            *scheme = Some("{major}.{minor}-hotfix".into());
        }
    });
    w.refused("maint", bad_scheme, "Version scheme \"{major}.{minor}-hotfix\" must contain {major}, {minor}, {patch} and {n}", false);
    w.ok("maint", release("17.2.3-internal.1", "17.1.6-internal.1"));
    // The detection committed to the title; the disclosure must reveal exactly it.
    let secret = relic_domain::confidential::Secret::new("RCE", [7; 32]);
    let detected = &w.st.internal["IR-1"].detected;
    assert_eq!((detected.title.as_deref(), detected.title_commitment.as_deref()), (None, Some(secret.commitment.as_str())), "no title in clear");
    let disclose = Command::InternalDisclose { id: "IR-1".into(), public_versions: vec!["17.2.3".into()], reveal: Some(secret.clone()) };
    w.refused("maint", disclose.clone(), "Internal release IR-1 cannot enter Public patch and disclosure: Final steps has not been recorded", false);
    let finalize = |at: &str| Command::InternalFinalize { id: "IR-1".into(), rollout_completed_at: at.into(), notified: vec!["dedicated".into()], emergency_maintenance: "EM-7".into() };
    w.refused("maint", finalize("2026-06-01T12:59:59Z"), "rollout_completed_at 2026-06-01T12:59:59Z is before Release (2026-06-01T13:00:00Z): the phases happen in order", false);
    w.now += Duration::days(1);
    w.ok("maint", finalize("2026-06-02T12:00:00Z"));
    w.refused("maint", disclose.clone(), "The public patch 17.2.3 has not been released: disclosure waits for it", false);
    // Created as upcoming, the public patch is not public yet: disclosure waits for its released_at.
    let upcoming = with(create("v17.2.3"), |c| {
        if let Command::CreateRelease { released_at, .. } = c {
            *released_at = Some("2027-01-15T00:00:00Z".into());
        }
    });
    w.ok("maint", upcoming);
    w.refused("maint", disclose.clone(), "The public patch 17.2.3 is not released until 2027-01-15T00:00:00Z: disclosure waits for it", false);
    w.now = Utc.with_ymd_and_hms(2027, 1, 15, 0, 0, 0).unwrap();
    let without = with(disclose.clone(), |c| {
        if let Command::InternalDisclose { reveal, .. } = c {
            *reveal = None;
        }
    });
    w.refused("maint", without, "The confidential title of IR-1 is not in this data directory's store: disclosure reveals it, so it must run where it was detected", false);
    let forged = with(disclose.clone(), |c| {
        if let Command::InternalDisclose { reveal, .. } = c {
            *reveal = Some(relic_domain::confidential::Secret { text: "Nothing serious".into(), ..secret.clone() });
        }
    });
    w.refused("maint", forged, "The confidential title given for IR-1 does not match the commitment made at detection", false);
    w.ok("maint", disclose);
    let d = w.st.internal["IR-1"].disclosed.clone().unwrap();
    assert!(relic_domain::confidential::check(&secret.commitment, d.title_salt.as_deref().unwrap(), d.title.as_deref().unwrap()));
    let i = &w.st.internal["IR-1"];
    assert_eq!(i.phase, Phase::Disclosed);
    let phases: Vec<Phase> = i.timeline.iter().map(|t| t.0).collect();
    assert_eq!(phases, [Phase::Detected, Phase::Prepared, Phase::Remediated, Phase::Backported, Phase::Released, Phase::Finalized, Phase::Disclosed]);
    w.refused("maint", Command::InternalFinalize { id: "IR-1".into(), rollout_completed_at: "2026-06-02T12:00:00Z".into(), notified: vec!["x".into()], emergency_maintenance: "EM".into() }, "Internal release IR-1 has already completed Final steps", false);
}

#[test]
fn a_bug_needs_no_security_verification_and_versions_count_up() {
    let mut w = s1_world();
    w.ok("maint", detect("IR-B", 1, InternalKind::Bug));
    w.ok("maint", Command::InternalPrepare { id: "IR-B".into(), release_issue: "i".into(), notified: vec!["d".into()], targets: vec!["17.2".into(), "17.1".into()] });
    w.ok("maint", Command::InternalRemediate { id: "IR-B".into(), default_branch_commit: "c".into(), multi_tenant_deployed_at: "2026-06-01T10:00:00Z".into(), security_verified_by: None });
    w.refused("maint", detect("IR-B", 1, InternalKind::Bug), "Internal release IR-B already exists", false);
    for t in ["17.2", "17.1"] {
        w.ok("maint", Command::InternalBackport { id: "IR-B".into(), target: t.into(), merge_request: "!1".into(), approved: true, pipeline: "success".into(), merged_commit: "c".into() });
    }
    // A configured version scheme: still the next public patch of each minor.
    let pkg = |v: &str| InternalPackage { version: v.into(), name: "omnibus".into(), digest: format!("blake3:{}", "2".repeat(64)) };
    let with_scheme = |a: &str, b: &str| Command::InternalRelease { id: "IR-B".into(), packages: vec![pkg(a), pkg(b)], scheme: Some("{major}.{minor}.{patch}-p{n}".into()) };
    w.refused("maint", with_scheme("17.2.2-p1", "17.1.6-p1"), "Package version 17.2.2-p1 is not valid: expected 17.2.3-p1 (the next public patch of 17.2, so no public version is skipped)", false);
    w.ok("maint", with_scheme("17.2.3-p1", "17.1.6-p1"));
    assert_eq!(w.st.internal["IR-B"].phase, Phase::Released);
    w.refused("maint", Command::InternalPrepare { id: "IR-X".into(), release_issue: "i".into(), notified: vec![], targets: vec![] }, "Internal release IR-X does not exist", false);
}

/// `link.added` v2 exists (its asset path field is `direct_asset_path`); a v1 record, written when
/// the field was called `filepath`, is still read, validated against the v1 schema and upcast.
#[test]
fn a_v1_link_added_record_is_read_after_v2_exists() {
    assert_eq!(relic_domain::catalogue::current_version("link.added"), Some(2));
    let mut w = World::new();
    w.ok("dev", create("v2.0.0"));
    let v1 = serde_json::json!({
        "project": P, "tag_name": "v2.0.0",
        "link": {"id": 77, "name": "bin", "url": "https://x.example/bin", "filepath": "/bin/app", "link_type": "package"}
    });
    let rec = relic_ledger::Record {
        seq: w.seq,
        time_us: 0,
        schema_version: 1,
        key_id: [0; 4],
        prev: [0; 32],
        actor: relic_ledger::Actor { id: "dev".into(), role: "developer".into() },
        kind: "link.added".into(),
        subject: format!("{P}@v2.0.0"),
        payload: serde_json::to_vec(&v1).unwrap(),
        signature: [0; 64],
    };
    w.st.apply(&rec, &relic_ledger::text_store::TextStore::new(std::path::Path::new("/nonexistent"))).unwrap();
    let l = &w.st.projects[P].releases["v2.0.0"].links[&77];
    assert_eq!(l.direct_asset_path.as_deref(), Some("/bin/app"));
    assert_eq!(l.link_type, LinkType::Package);
    // The same payload claimed as v2 does not match the v2 schema.
    let as_v2 = relic_ledger::Record { schema_version: 2, ..rec };
    assert!(w.st.apply(&as_v2, &relic_ledger::text_store::TextStore::new(std::path::Path::new("/nonexistent"))).is_err());
}

/// Names that look alike must not be two names: bidirectional controls and zero-width characters
/// are refused in tag, project and milestone names.
#[test]
fn names_with_invisible_characters_are_refused() {
    let mut w = World::new();
    w.refused("owner", Command::RegisterProject { project: "acme/\u{202E}ppa".into(), name: "App".into(), description: None }, "Project path is invalid: it contains U+202E, an invisible or control character (two names must not look alike)", false);
    w.refused("owner", Command::RegisterProject { project: "acme/web".into(), name: "We\u{200B}b".into(), description: None }, "Name is invalid: it contains U+200B, an invisible or control character (two names must not look alike)", false);
    let m = MilestoneRecorded { project: P.into(), id: 2, iid: 2, title: "m\u{2066}2".into(), description: None, state: "active".into(), created_at: "2026-05-01T00:00:00Z".into(), due_date: None, issues: vec![] };
    w.refused("dev", Command::RecordMilestone(m), "Title is invalid: it contains U+2066, an invisible or control character (two names must not look alike)", false);
    w.refused("dev", create("v1.0\u{200D}.1"), "Tag name invalid", false);
    w.refused("dev", create("v1.0\u{FEFF}"), "Tag name invalid", false);
}
