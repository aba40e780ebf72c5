//! Property: views kept incrementally — in batches of random size, interrupted by crashes between
//! and inside batches — equal views rebuilt from record 0, for random logs.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use relic_domain::decide::Command;
use relic_domain::event::Role;
use relic_domain::service::Service;
use relic_ledger::{Ledger, Record};
use relic_projector::store::ViewStore;

const P: &str = "acme/app";

fn command(i: usize, kind: u8, tag: u8) -> Command {
    let tag = format!("v1.{tag}.0");
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::days(i as i64);
    match kind % 6 {
        // A freeze from 00:00 to 12:00 every day, then lifted: the audit trail must agree too.
        4 => Command::CreateFreeze { project: P.into(), freeze_start: "0 0 * * *".into(), freeze_end: "0 12 * * *".into(), cron_timezone: Some("UTC".into()) },
        5 => Command::DeleteFreeze { project: P.into(), id: 1 + (i % 2) as u64 },
        0 | 1 => Command::CreateRelease {
            project: P.into(),
            tag_name: tag,
            name: None,
            description: Some(format!("step {i}")),
            git_ref: Some("main".into()),
            tag_message: None,
            released_at: Some(at.to_rfc3339()),
            milestones: vec![],
            links: vec![],
            report_artifacts: vec![],
        },
        2 => Command::UpdateRelease { project: P.into(), tag_name: tag, name: Some(format!("n{i}")), description: None, released_at: None, milestones: None },
        _ => Command::DeleteRelease { project: P.into(), tag_name: tag },
    }
}

/// What a process that crashed mid-way left: batches saved up to `stop`, the rest of its work lost.
fn crash_during_catch_up(store: &ViewStore, ledger: &Ledger, batch: u64, stop: u64) {
    let mut up = store.updater().unwrap();
    let mut since = 0;
    for item in ledger.records(up.views().state.size).take(stop as usize) {
        let (_, bytes) = item.unwrap();
        let rec = Record::decode(&bytes).unwrap();
        let event = relic_domain::state::decode(&rec, &ledger.texts()).unwrap();
        up.apply(&rec, event, None).unwrap();
        since += 1;
        if since == batch {
            up.save(ledger).unwrap();
            since = 0;
        }
    }
    // Crash: the applied-but-unsaved tail is simply gone.
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn incremental_views_equal_a_rebuild(
        steps in proptest::collection::vec((any::<u8>(), 0u8..5, any::<bool>(), 1u64..7, 0u64..12), 1..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        relic_domain::service::init_ledger(dir.path(), "incremental.test/log").unwrap().close();
        let mut svc = Service::open(dir.path()).unwrap();
        let now = Utc::now();
        svc.execute("owner", &Command::RegisterProject { project: P.into(), name: "App".into(), description: None }, now).unwrap();
        svc.execute("owner", &Command::SetMemberRole { project: P.into(), user: "dev".into(), role: Role::Developer }, now).unwrap();
        // Compact often (no slack), so that compaction runs between and across crashes too.
        let store = ViewStore::open(dir.path()).unwrap().with_compaction_slack(0);
        for (i, (kind, tag, catch_up, batch, crash_after)) in steps.iter().enumerate() {
            let _ = svc.execute(if i % 3 == 0 { "dev" } else { "owner" }, &command(i, *kind, *tag), now);
            if *catch_up {
                if crash_after % 3 == 0 {
                    crash_during_catch_up(&store, svc.ledger(), *batch, *crash_after);
                } else {
                    store.catch_up(svc.ledger(), *batch).unwrap();
                }
            }
        }
        let incremental = store.catch_up(svc.ledger(), 3).unwrap();
        prop_assert_eq!(store.applied().unwrap(), svc.ledger().size());
        let rebuilt = ViewStore::open(tempfile::tempdir().unwrap().path()).unwrap().rebuild(svc.ledger(), 1000).unwrap().1;
        prop_assert_eq!(&incremental, &rebuilt);
        prop_assert_eq!(&incremental.state, svc.state());
        // The same views as replaying the log from record 0 in memory (what `--as-of` does).
        let replayed = relic_projector::views::snapshot(svc.ledger(), relic_projector::views::AsOf::Size(svc.ledger().size())).unwrap();
        prop_assert_eq!(&incremental.audit, &replayed.audit);
        // A store reopened after all this holds the same state, and a rebuild in place agrees.
        drop(store);
        let reopened = ViewStore::open(dir.path()).unwrap();
        prop_assert_eq!(&reopened.load().unwrap(), &incremental);
        let (_, again) = reopened.rebuild(svc.ledger(), 2).unwrap();
        prop_assert_eq!(again, incremental);
    }
}

#[test]
fn a_store_from_another_log_is_refused() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for d in [&a, &b] {
        relic_domain::service::init_ledger(d.path(), "other.test/log").unwrap().close();
    }
    let la = Ledger::open_read_only(a.path()).unwrap();
    let lb = Ledger::open_read_only(b.path()).unwrap();
    let store = ViewStore::open(a.path()).unwrap();
    store.catch_up(&la, 10).unwrap();
    let err = store.catch_up(&lb, 10).unwrap_err().to_string();
    assert!(err.contains("derived from another log"), "{err}");
}
