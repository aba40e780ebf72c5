//! Rebuilding views and reporting over a log of N domain events (default 1,000,000), next to the raw
//! cost of reading and decoding the same records, measured in one run.
//!
//!     cargo run --release -p relic-benches --bin projections [-- N [--rebuild-only]]
//!
//! `--rebuild-only` stops after the rebuild and the replay (no reports), for repeated runs.
//!
//! The log is built once (appends in atomic groups of 1,000) and cached under
//! `target/relic-bench-domain-<N>`.

use std::time::Instant;

use chrono::DateTime;
use relic_domain::event::*;
use relic_domain::feed;
use relic_ledger::{Actor, Draft, Ledger, Record};
use relic_projector::report::{compliance_with, Scope, Verification};
use relic_projector::store::{ViewStore, Views};
use relic_projector::views::AsOf;

const P: &str = "acme/payments";

fn draft(e: &Event) -> Draft {
    Draft {
        actor: Actor { id: "bob".into(), role: "maintainer".into() },
        kind: e.kind().into(),
        subject: e.subject(),
        payload: serde_json::to_vec(&e.payload()).expect("json"),
        schema_version: relic_domain::catalogue::current_version(e.kind()).expect("kind"),
    }
}

/// A realistic mix: per release a creation with a link, an update and a second link; every tenth
/// release is deleted; every hundredth attempt is refused.
fn events(n: u64) -> impl Iterator<Item = Event> {
    let ts = |i: u64| format!("2026-{:02}-{:02}T10:00:00Z", 1 + (i / 28) % 12, 1 + i % 28);
    let link = |id: u64, i: u64| Link { id, name: format!("pkg-{id}"), url: format!("https://dl.example/{i}/{id}"), direct_asset_path: Some(format!("/bin/pkg-{id}")), link_type: LinkType::Package };
    let head = vec![Event::ProjectRegistered(ProjectRegistered { project: P.into(), id: 1, name: "Payments".into(), description: None, created_at: ts(0) })];
    head.into_iter().chain((0..).flat_map(move |i: u64| {
        let tag = format!("v{}.{}.{}", i / 10_000, (i / 100) % 100, i % 100);
        let mut v = vec![
            Event::ReleaseCreated(ReleaseCreated {
                project: P.into(), id: i + 1, tag_name: tag.clone(), name: tag.clone(), description: Some("A release of the payments service with refunds and FX fixes.".into()),
                git_ref: Some("main".into()), commit: None, created_at: ts(i), released_at: ts(i), milestones: vec![], links: vec![link(2 * i + 1, i)], report_artifacts: vec![],
            }),
            Event::ReleaseUpdated(ReleaseUpdated { project: P.into(), tag_name: tag.clone(), description: Some("Updated notes.".into()), ..Default::default() }),
            Event::LinkAdded(LinkAdded { project: P.into(), tag_name: tag.clone(), link: link(2 * i + 2, i) }),
        ];
        if i % 10 == 9 {
            v.push(Event::ReleaseDeleted(ReleaseDeleted { project: P.into(), tag_name: tag.clone() }));
        }
        if i % 100 == 0 {
            v.push(Event::AccessDenied(AccessDenied { project: P.into(), command: "release delete".into(), target: tag, reason: "Access Denied".into(), actor_role: "guest".into(), required_role: Role::Developer }));
        }
        v
    })).take(n as usize)
}

fn ledger(n: u64) -> std::path::PathBuf {
    let dir = relic_benches::target_dir().join(format!("relic-bench-domain-{n}"));
    if let Ok(l) = Ledger::open_read_only(&dir) {
        if l.size() == n + 1 {
            return dir;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let l = Ledger::init(&dir, "bench.example/domain", relic_ledger::policy::unchecked()).expect("init");
    let start = Instant::now();
    relic_benches::append_in_groups(&l, events(n).map(|e| draft(&e)));
    eprintln!("built {n} events in {:.1} s", start.elapsed().as_secs_f64());
    dir
}

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let rebuild_only = std::env::args().any(|a| a == "--rebuild-only");
    let dir = ledger(n);
    let l = Ledger::open_read_only(&dir).expect("open");
    let total = l.size();
    let rate = |s: f64| format!("{s:.2} s = {:.0} records/s", total as f64 / s);
    // Wall time and records/s since `t`, with the CPU time all threads used since `cpu`.
    let rate_cpu = |t: Instant, cpu: f64| format!("{} (CPU {:.2} s)", rate(secs(t)), relic_benches::cpu_seconds() - cpu);

    // The raw cost of reading and decoding every record and parsing its payload, on one thread;
    // the first pass warms the page cache so that every figure below is measured warm.
    let raw_pass = || {
        let t = Instant::now();
        let mut bytes_read = 0usize;
        for item in l.records(0) {
            let (_, b) = item.expect("read");
            let r = Record::decode(&b).expect("decode");
            let v: serde_json::Value = serde_json::from_slice(&r.payload).expect("json");
            bytes_read += b.len() + v.is_object() as usize;
        }
        (secs(t), bytes_read)
    };
    raw_pass();
    let (raw, bytes_read) = raw_pass();
    println!("raw, one thread: read + decode + JSON parse: {total} records ({} MB) in {}", bytes_read >> 20, rate(raw));

    // The same reading, plus each payload's schema check and typed decoding, on every core, handed
    // out in order to a consumer that does nothing: the floor under any replay.
    let (t, cpu) = (Instant::now(), relic_benches::cpu_seconds());
    let mut seen = 0u64;
    feed::replay::<feed::FeedError>(&l, 0, u64::MAX, |it| {
        seen += it.event.is_some() as u64;
        Ok(true)
    })
    .expect("feed");
    println!("raw, all cores: read + decode + schema check + typed decoding, in order: {}", rate_cpu(t, cpu));

    // The ledger's own view store (the report below uses it).
    let store = ViewStore::open(&dir).expect("store");
    let (t, cpu) = (Instant::now(), relic_benches::cpu_seconds());
    let consumer = relic_benches::thread_cpu_seconds();
    let (store, rebuilt) = store.rebuild(&l, relic_projector::store::DEFAULT_BATCH).expect("rebuild");
    // The consumer (this thread) folds in order and serializes the changes: the one serial part.
    let consumer = relic_benches::thread_cpu_seconds() - consumer;
    println!("rebuild into the view store: {}, of which the in-order consumer {consumer:.2} s", rate_cpu(t, cpu));
    let (t, cpu) = (Instant::now(), relic_benches::cpu_seconds());
    let mut mem = Views::default();
    feed::replay::<feed::FeedError>(&l, 0, u64::MAX, |it| {
        mem.apply_item(it);
        Ok(true)
    })
    .expect("replay");
    println!("replay into memory (state + audit trail): {}", rate_cpu(t, cpu));
    assert_eq!(rebuilt, mem);
    if rebuild_only {
        return;
    }
    drop(rebuilt);

    let t = Instant::now();
    let loaded = store.load().expect("load");
    println!("load the view store ({} releases): {:.2} s", loaded.state.projects.values().map(|p| p.releases.len()).sum::<usize>(), secs(t));
    assert_eq!(loaded, mem);
    drop(store);

    let now = Scope { project: None, from: None, to: None, as_of: AsOf::Now };
    for (what, how) in [("full verification", Verification::Full), ("incremental verification", Verification::Incremental)] {
        let t = Instant::now();
        let r = compliance_with(&l, &dir, &now, how).expect("report");
        println!(
            "compliance report, views up to date, {what}: {:.2} s; {} releases, integrity verified: {} ({} records verified now)",
            secs(t), r["summary"]["releases"], r["integrity"]["verified"], r["integrity"]["records_verified_now"]
        );
    }
    let period = Scope { project: Some(P.into()), from: DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").ok().map(|t| t.to_utc()), to: DateTime::parse_from_rfc3339("2026-03-31T23:59:59Z").ok().map(|t| t.to_utc()), as_of: AsOf::Now };
    let t = Instant::now();
    let r = compliance_with(&l, &dir, &period, Verification::Incremental).expect("report");
    println!("compliance report for one project and one month, incremental verification: {:.2} s; {} releases", secs(t), r["summary"]["releases"]);
    let t = Instant::now();
    let r = compliance_with(&l, &dir, &Scope { as_of: AsOf::Size(total / 2), ..now }, Verification::Incremental).expect("report");
    println!("compliance report as of record {} (replayed), incremental verification: {:.2} s; {} releases", total / 2, secs(t), r["summary"]["releases"]);
}
