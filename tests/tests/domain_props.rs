//! Property: random sequences of valid and invalid domain commands, run against a real ledger,
//! leave a log that verifies; replaying that log from scratch yields the state seen while
//! appending, also when commands are queued and decided against effects not yet durable (the
//! server's pipeline, `Service::submit`); a refused command changes nothing, except that a refusal for lack of permission adds
//! exactly its access-denied record.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use relic_domain::decide::{Command, LinkInput};
use relic_domain::event::{EvidenceReason, InternalKind, MilestoneRecorded, Role};
use relic_domain::service::{self, Service, ServiceError};
use relic_domain::state::State;
use relic_ledger::{verify, Ledger};

const P: &str = "acme/app";
/// Weighted towards the members who may act, so that most sequences do something.
const ACTORS: [&str; 7] = ["owner", "maint", "maint", "dev", "dev", "rep", "stranger"];
const TAGS: [&str; 4] = ["v1.0.0", "v1.1.0", "v2.0.0", "HEAD"];
const URLS: [&str; 4] = ["https://x.example/a", "https://x.example/b", "ftp://x.example/c", "file:///etc/passwd"];
const CRONS: [&str; 3] = ["0 23 * * 5", "0 7 * * 1", "61 * * * *"];

fn command() -> impl Strategy<Value = Command> {
    let tag = proptest::sample::select(TAGS.to_vec()).prop_map(String::from);
    let link = (proptest::sample::select(vec!["bin", "doc", ""]), proptest::sample::select(URLS.to_vec())).prop_map(|(n, u)| LinkInput {
        name: Some(n.into()),
        url: Some(u.into()),
        direct_asset_path: None,
        link_type: None,
    });
    prop_oneof![
        6 => (tag.clone(), proptest::bool::weighted(0.8), proptest::collection::vec(link.clone(), 0..3), proptest::sample::select(vec![-40i64, 0, 40]), 0..4usize)
            .prop_map(|(t, with_ref, links, days, milestone)| Command::CreateRelease {
                project: P.into(),
                tag_name: t,
                name: None,
                description: Some("notes".into()),
                git_ref: with_ref.then(|| "main".into()),
                tag_message: None,
                released_at: Some((Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + Duration::days(days)).to_rfc3339()),
                milestones: match milestone {
                    0 => vec!["nope".into()],
                    1 => vec![],
                    _ => vec!["m1".into()],
                },
                links,
                report_artifacts: vec![],
            }),
        3 => (tag.clone(), proptest::option::of(Just("Renamed".to_string())), proptest::option::of(Just(vec![]))).prop_map(|(t, name, m)| {
            Command::UpdateRelease { project: P.into(), tag_name: t, name, description: None, released_at: None, milestones: m }
        }),
        1 => tag.clone().prop_map(|t| Command::DeleteRelease { project: P.into(), tag_name: t }),
        3 => (tag.clone(), link).prop_map(|(t, l)| Command::AddLink { project: P.into(), tag_name: t, link: l }),
        2 => tag.clone().prop_map(|t| Command::CollectEvidence { project: P.into(), tag_name: t, reason: EvidenceReason::OnDemand, scheduled_at: None }),
        2 => (proptest::sample::select(CRONS.to_vec()), proptest::sample::select(CRONS.to_vec())).prop_map(|(s, e)| Command::CreateFreeze {
            project: P.into(),
            freeze_start: s.into(),
            freeze_end: e.into(),
            cron_timezone: None,
        }),
        1 => (1u64..4).prop_map(|id| Command::DeleteFreeze { project: P.into(), id }),
        1 => (proptest::sample::select(vec!["v*", "*"]), proptest::sample::select(vec![Role::Developer, Role::Maintainer]))
            .prop_map(|(p, r)| Command::ProtectTag { project: P.into(), pattern: p.into(), create_access_level: r }),
        1 => proptest::sample::select(vec!["v*", "*"]).prop_map(|p| Command::UnprotectTag { project: P.into(), pattern: p.into() }),
        1 => (1u8..3).prop_map(|s| Command::InternalDetect {
            id: "IR-1".into(),
            project: P.into(),
            kind: InternalKind::Bug,
            severity: s,
            title: "outage".into(),
            title_salt: [s; 32],
            reported_by: "dedicated".into(),
            detected_at: None,
        }),
    ]
}

fn setup(svc: &mut Service) {
    let now = Utc::now();
    svc.execute("owner", &Command::RegisterProject { project: P.into(), name: "App".into(), description: None }, now).unwrap();
    for (u, r) in [("maint", Role::Maintainer), ("dev", Role::Developer), ("rep", Role::Reporter)] {
        svc.execute("owner", &Command::SetMemberRole { project: P.into(), user: u.into(), role: r }, now).unwrap();
    }
    let m = MilestoneRecorded {
        project: P.into(),
        id: 1,
        iid: 1,
        title: "m1".into(),
        description: None,
        state: "active".into(),
        created_at: "2026-05-01T00:00:00Z".into(),
        due_date: None,
        issues: vec![],
    };
    svc.execute("dev", &Command::RecordMilestone(m), now).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_the_log_valid_and_replayable(steps in proptest::collection::vec((0usize..ACTORS.len(), command()), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        relic_domain::service::init_ledger(dir.path(), "props.test/log").unwrap().close();
        let mut svc = Service::open(dir.path()).unwrap();
        setup(&mut svc);
        // Some commands are queued without waiting (the server's pipeline): the next is decided
        // against their effects before they are durable, and replay must agree all the same.
        let mut queued = Vec::new();
        for (i, (a, cmd)) in steps.iter().enumerate() {
            let before = svc.state().clone();
            let size = before.size;
            let result = if i % 3 == 0 {
                svc.execute(ACTORS[*a], cmd, Utc::now()).map(|r| r.len())
            } else {
                svc.submit(ACTORS[*a], cmd, Utc::now()).map(|q| {
                    queued.push(q);
                    svc.state().size as usize - size as usize
                })
            };
            match result {
                Ok(n) => {
                    prop_assert!(n > 0);
                    prop_assert_eq!(svc.state().size, size + n as u64);
                }
                Err(ServiceError::Refused(f)) => {
                    let mut expected = before.clone();
                    if f.denied.is_some() {
                        prop_assert_eq!(svc.ledger().size(), size + 1, "{}: the access-denied record", f.message);
                        expected.size += 1;
                        expected.denied += 1;
                    } else {
                        prop_assert_eq!(svc.state().size, size, "{}: a refusal appended something", f.message);
                    }
                    prop_assert_eq!(svc.state(), &expected, "{}: a refusal changed the state", f.message);
                }
                Err(other) => prop_assert!(false, "{:?} failed unexpectedly: {}", cmd, other),
            }
        }
        for q in queued {
            prop_assert!(q.durable_blocking().is_ok());
        }
        prop_assert_eq!(svc.ledger().size(), svc.state().size);
        let seen = svc.state().clone();
        drop(svc);
        let report = verify::verify_dir(dir.path(), &verify::Options::default(), &mut |_, _| {}).unwrap();
        prop_assert!(report.is_ok(), "the log does not verify: {:?}", report.err());
        let ledger = Ledger::open_read_only(dir.path()).unwrap();
        let mut replayed = State::default();
        service::replay(&ledger, &mut replayed).unwrap();
        prop_assert_eq!(replayed, seen);
    }
}
