//! Scheduled evidence: collected exactly once per release when its released_at arrives, across
//! concurrent schedulers and schedulers killed mid-pass; rescheduled releases are collected at their
//! new time, deleted and historical ones never.

use std::process::{Command as Proc, Stdio};
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use relic_domain::decide::Command;
use relic_domain::event::EvidenceReason;
use relic_domain::service::{self, Service};
use relic_domain::state::State;
use relic_ledger::{verify, Ledger};

const P: &str = "acme/app";

fn create(tag: &str, released_at: chrono::DateTime<Utc>) -> Command {
    Command::create_release(P, tag, Some(released_at.to_rfc3339()))
}

fn scheduler(dir: &std::path::Path) -> std::process::Child {
    Proc::new(env!("CARGO_BIN_EXE_relic_proc"))
        .args(["--data", dir.to_str().unwrap(), "scheduler", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn state(dir: &std::path::Path) -> State {
    let l = Ledger::open_read_only(dir).unwrap();
    let mut st = State::default();
    service::replay(&l, &mut st).unwrap();
    st
}

fn scheduled(st: &State, tag: &str) -> Vec<String> {
    st.projects[P].releases.get(tag).map_or(vec![], |r| {
        r.evidences.iter().filter(|e| e.reason == EvidenceReason::Scheduled).map(|e| e.scheduled_at.clone().unwrap()).collect()
    })
}

/// Releases created an hour ago whose released_at has since passed: "upcoming" when created.
fn setup(dir: &std::path::Path, due: usize) {
    relic_domain::service::init_ledger(dir, "scheduler.test/log").unwrap().close();
    let mut svc = Service::open(dir).unwrap();
    let real = Utc::now();
    let then = real - Duration::hours(1);
    svc.execute("owner", &Command::RegisterProject { project: P.into(), name: "App".into(), description: None }, then).unwrap();
    for i in 0..due {
        svc.execute("owner", &create(&format!("v1.{i}.0"), real - Duration::minutes(30) + Duration::seconds(i as i64)), then).unwrap();
    }
    // Deleted before it was due: never collected.
    svc.execute("owner", &create("v-deleted", real - Duration::minutes(20)), then).unwrap();
    svc.execute("owner", &Command::DeleteRelease { project: P.into(), tag_name: "v-deleted".into() }, then).unwrap();
    // Moved: due at its new time only.
    svc.execute("owner", &create("v-moved", real - Duration::minutes(50)), then - Duration::minutes(20)).unwrap();
    let moved_to = (real - Duration::minutes(10)).to_rfc3339();
    svc.execute("owner", &Command::UpdateRelease { project: P.into(), tag_name: "v-moved".into(), name: None, description: None, released_at: Some(moved_to), milestones: None }, then).unwrap();
    // Moved into the future: not due yet.
    svc.execute("owner", &create("v-later", real - Duration::minutes(5)), then).unwrap();
    svc.execute("owner", &Command::UpdateRelease { project: P.into(), tag_name: "v-later".into(), name: None, description: None, released_at: Some((real + Duration::days(1)).to_rfc3339()), milestones: None }, then).unwrap();
    // Historical: never automatically. Created now: collected on create, not by the scheduler.
    svc.execute("owner", &create("v-old", then - Duration::days(10)), then).unwrap();
    svc.execute("owner", &create("v-now", real), real).unwrap();
}

fn check_exactly_once(dir: &std::path::Path, due: usize) {
    let st = state(dir);
    for i in 0..due {
        assert_eq!(scheduled(&st, &format!("v1.{i}.0")).len(), 1, "v1.{i}.0 collected {:?}", scheduled(&st, &format!("v1.{i}.0")));
    }
    let moved = &st.projects[P].releases["v-moved"];
    assert_eq!(scheduled(&st, "v-moved"), vec![relic_domain::timing::ts(moved.released_at)], "collected at its new time only");
    assert!(scheduled(&st, "v-later").is_empty());
    assert!(scheduled(&st, "v-old").is_empty());
    assert!(scheduled(&st, "v-now").is_empty());
    assert_eq!(st.projects[P].releases["v-now"].evidences.len(), 1, "collected on create");
    assert!(!st.projects[P].releases.contains_key("v-deleted"));
    verify::verify_dir(dir, &verify::Options::default(), &mut |_, _| {}).unwrap().unwrap();
}

#[test]
fn two_schedulers_at_once_collect_each_release_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 12);
    let (mut a, mut b) = (scheduler(dir.path()), scheduler(dir.path()));
    for c in [&mut a, &mut b] {
        let out = c.wait_with_output_ref();
        assert!(out.0.success(), "scheduler failed: {}", out.1);
    }
    check_exactly_once(dir.path(), 12);
    // The evidence records both times.
    let st = state(dir.path());
    let e = st.projects[P].releases["v1.0.0"].evidences.iter().find(|e| e.reason == EvidenceReason::Scheduled).unwrap();
    assert!(e.collected_at > e.scheduled_at.clone().unwrap(), "caught up after the scheduled time");
    // Another pass finds nothing due.
    let size = Ledger::open_read_only(dir.path()).unwrap().size();
    assert!(scheduler(dir.path()).wait().unwrap().success());
    assert_eq!(Ledger::open_read_only(dir.path()).unwrap().size(), size);
}

#[test]
fn a_scheduler_killed_mid_pass_and_restarted_still_collects_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), 40);
    for delay in [3u64, 15, 40] {
        let mut c = scheduler(dir.path());
        std::thread::sleep(StdDuration::from_millis(delay));
        unsafe {
            libc::kill(c.id() as i32, libc::SIGKILL);
        }
        let _ = c.wait();
    }
    assert!(scheduler(dir.path()).wait().unwrap().success());
    check_exactly_once(dir.path(), 40);
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String);
}

impl WaitRef for std::process::Child {
    fn wait_with_output_ref(&mut self) -> (std::process::ExitStatus, String) {
        let mut err = String::new();
        if let Some(e) = self.stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut err);
        }
        (self.wait().unwrap(), err)
    }
}
