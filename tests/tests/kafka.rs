//! relic over Kafka, against a real Kafka-protocol broker (tansu, in-memory storage) started per
//! test: publish then mirror, a publisher killed mid-stream, a broker frozen longer than the client's
//! timeouts, a broker that restarts empty, messages injected by a plain producer, subscribers, and
//! publisher and mirror both following.
//!
//! Without a broker these tests print why and pass, except under CI (`CI=true`), where they fail.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use relic_ledger::{keys, note, outbox, Ledger};
use relic_tests::tansu::{broker_or_skip, Tansu};
use relic_tests::{draft, relic, Output};
use serde_json::Value;

const ORIGIN: &str = "kafka.test/log";

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

/// Asserts a one-line failure whose message contains `needle`.
fn fails(o: Output, needle: &str) {
    assert_ne!(o.code, 0, "expected failure containing {needle:?}; stdout: {}", o.stdout_text());
    assert_eq!(o.stderr.lines().count(), 1, "one line per failure: {}", o.stderr);
    assert!(o.stderr.contains(needle), "expected {needle:?} in {}", o.stderr);
}

/// An origin ledger of `n` records: record 0, then releases of two projects (one key rotation
/// half-way when `rotate`).
fn origin(dir: &Path, n: u64, rotate: bool) {
    let l = Ledger::init(dir, ORIGIN, relic_ledger::policy::unchecked()).unwrap();
    let mut next = 1u64;
    while next < n {
        if rotate && next == n / 2 {
            l.rotate_key_blocking(relic_ledger::Actor { id: "owner".into(), role: "owner".into() }).unwrap();
            next += 1;
            continue;
        }
        let end = (next + 1000).min(n).min(if rotate && next < n / 2 { n / 2 } else { n });
        let drafts = (next..end)
            .map(|i| {
                let project = if i % 2 == 0 { "acme/app" } else { "acme/other" };
                draft(&format!("{project}@v{i}"), serde_json::json!({"project": project, "n": i, "note": "x".repeat(200)}))
            })
            .collect();
        l.append_all_blocking(drafts).unwrap();
        next = end;
    }
    assert_eq!(l.size(), n);
}

fn kafka<'a>(b: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--brokers", b];
    v.extend_from_slice(extra);
    v
}

fn checkpoint_json(data: &Path) -> Value {
    serde_json::from_str(&ok(relic(data, &["--json", "checkpoint"]))).unwrap()
}

fn mirror_json(data: &Path, brokers: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "mirror"];
    args.extend(kafka(brokers, extra));
    serde_json::from_str(&ok(relic(data, &args))).unwrap()
}

/// The mirror holds exactly the origin's log: same size, same checkpoint (size and root), and it
/// verifies by itself.
fn assert_mirror_complete(origin: &Path, mirror: &Path) {
    let o = checkpoint_json(origin);
    let m = checkpoint_json(mirror);
    assert_eq!((&m["size"], &m["root"]), (&o["size"], &o["root"]), "mirror checkpoint differs from the origin's");
    assert_eq!(m["note"], o["note"], "the mirror serves the origin's signed checkpoint verbatim");
    let v: Value = serde_json::from_str(&ok(relic(mirror, &["--json", "verify"]))).unwrap();
    assert_eq!((&v["size"], &v["root"]), (&o["size"], &o["root"]));
}

/// A `relic` process (the same `relic_cli::run`), with piped stderr.
fn spawn_relic(data: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_relic_proc"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads the child's stderr until a line contains `needle`; returns the lines read, and whether it
/// was found before the process ended.
fn read_until(child: &mut Child, needle: &str) -> (Vec<String>, bool) {
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut seen = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return (seen, false);
        }
        seen.push(line.trim_end().to_string());
        if line.contains(needle) {
            // Keep draining stderr so that the child never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return (seen, true);
        }
    }
}

/// [`read_until`], failing if the process ends first.
fn wait_for_line(child: &mut Child, needle: &str) -> Vec<String> {
    let (seen, found) = read_until(child, needle);
    assert!(found, "the process ended before printing {needle:?}: {seen:?}");
    seen
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigkill(child: &mut Child) {
    // SAFETY: kill(2) on a child this test spawned and has not reaped.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
}

fn cursor(data: &Path) -> u64 {
    outbox::published(&Ledger::open_read_only(data).unwrap()).unwrap()
}

#[test]
fn publish_10000_records_then_mirror_them_and_the_checkpoints_agree() {
    let Some(broker) = broker_or_skip("publish_10000_records_then_mirror_them") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m) = (t.path().join("origin"), t.path().join("mirror"));
    origin(&o, 10_000, true);

    let out = relic(&o, &["--json", "publish", "--brokers", &b]);
    let p: Value = serde_json::from_str(&ok(out)).unwrap();
    assert_eq!((p["sent"].as_u64(), p["cursor"].as_u64(), p["checkpoint"].as_u64()), (Some(10_000), Some(10_000), Some(10_000)));
    assert_eq!(cursor(&o), 10_000, "the durable cursor counts every acknowledged record");

    let s = mirror_json(&m, &b, &[]);
    assert_eq!((s["size"].as_u64(), s["applied"].as_u64(), s["checkpoint"].as_u64()), (Some(10_000), Some(10_000), Some(10_000)));
    assert_mirror_complete(&o, &m);
    assert_eq!(ok(relic(&m, &["log", "--from", "4990", "--json"])), ok(relic(&o, &["log", "--from", "4990", "--json"])));
    assert_eq!(ok(relic(&m, &["key", "--all"])), ok(relic(&o, &["key", "--all"])), "the key history, rotation included");

    // Every read command works on the mirror; an auditor checks its proofs with the origin's keys.
    let proof = t.path().join("p");
    std::fs::write(&proof, relic(&m, &["prove", "inclusion", "7777"]).stdout).unwrap();
    let rec = t.path().join("r");
    std::fs::write(&rec, relic(&m, &["record", "7777", "--raw"]).stdout).unwrap();
    let keys: Vec<String> = ok(relic(&o, &["key", "--all"])).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    let mut args = vec!["verify-proof", "--proof", proof.to_str().unwrap(), "--record", rec.to_str().unwrap()];
    for k in &keys {
        args.extend(["--key", k.as_str()]);
    }
    assert!(ok(relic(t.path(), &args)).starts_with("ok: record 7777"));
    // A mirror signs nothing: only the checkpoints its origin published.
    fails(relic(&m, &["checkpoint", "--size", "5000"]), "a mirror: it can only serve the checkpoints its origin published");
    fails(relic(&m, &["append", "--kind", "deployment.recorded", "--subject", "a@v1", "--actor", "x", "--payload", rec.to_str().unwrap()]), "key");
    fails(relic(&m, &["publish", "--brokers", &b]), "this is a mirror: only its origin publishes");
    fails(relic(&o, &["mirror", "--brokers", &b]), "holds a ledger that is not a mirror");

    // Mirroring again finds nothing new.
    let again = mirror_json(&m, &b, &[]);
    assert_eq!((again["size"].as_u64(), again["applied"].as_u64()), (Some(10_000), Some(0)));

    // Subscribers: verified events as JSON lines, filtered, resuming from their position file.
    let pos = t.path().join("sub.position");
    let pos_s = pos.to_str().unwrap();
    let sub = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec!["subscribe", "--brokers", b.as_str(), "--once", "--position-file", pos_s];
        args.extend_from_slice(extra);
        ok(relic(t.path(), &args)).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let events = sub(&["--kind", "test.*", "--project", "acme/app", "--from", "9000"]);
    assert_eq!(events.len(), 500, "even sequence numbers from 9000 are acme/app's");
    assert!(events.iter().all(|e| e["kind"] == "test.updated" && e["subject"].as_str().unwrap().starts_with("acme/app@")));
    assert_eq!(events[0], serde_json::from_str::<Value>(ok(relic(&o, &["log", "--from", "9000", "--limit", "1", "--json"])).trim()).unwrap());
    assert!(sub(&[]).is_empty(), "resumed at the end: nothing new");
}

#[test]
fn a_publisher_killed_mid_stream_resumes_and_the_mirror_has_no_gap() {
    let Some(broker) = broker_or_skip("a_publisher_killed_mid_stream_resumes") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m) = (t.path().join("origin"), t.path().join("mirror"));
    origin(&o, 10_000, false);
    let mut cursors = Vec::new();
    for round in 0..3u64 {
        let mut child = spawn_relic(&o, &["publish", "--brokers", &b, "--batch", "300"]);
        // Killed while it streams, once it has moved its cursor at least once: at some moment between
        // sending, acknowledgement, cursor write and checkpoint.
        // (A later round may find everything delivered already, by the run killed before it.)
        read_until(&mut child, "published records");
        std::thread::sleep(Duration::from_millis(rand::random::<u64>() % (10 * (round + 1))));
        sigkill(&mut child);
        cursors.push(cursor(&o));
    }
    assert!(cursors.windows(2).all(|w| w[0] <= w[1]) && cursors[0] < 10_000, "killed mid-stream: {cursors:?}");
    let out = ok(relic(&o, &["publish", "--brokers", &b]));
    assert!(out.contains("cursor at 10000"), "{out}");
    let s = mirror_json(&m, &b, &[]);
    assert_eq!(s["size"].as_u64(), Some(10_000), "{s}");
    assert_mirror_complete(&o, &m);
}

#[test]
fn a_broker_frozen_longer_than_the_client_timeouts_delays_but_loses_nothing() {
    let Some(broker) = broker_or_skip("a_broker_frozen_longer_than_the_client_timeouts") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m) = (t.path().join("origin"), t.path().join("mirror"));
    origin(&o, 6_000, false);
    // Client timeouts of 1 s; the broker is frozen for 4 s.
    let timeouts = ["-X", "request.timeout.ms=1000", "-X", "socket.timeout.ms=1000"];
    let mut args = vec!["publish", "--brokers", b.as_str(), "--batch", "500"];
    args.extend(timeouts);
    let mut child = spawn_relic(&o, &args);
    wait_for_line(&mut child, "publishing from record 0");
    std::thread::sleep(Duration::from_millis(30));
    broker.pause();
    // Acknowledgements the broker sent before it froze may still be on their way to the cursor.
    std::thread::sleep(Duration::from_millis(800));
    let frozen_at = cursor(&o);
    std::thread::sleep(Duration::from_secs(4));
    assert!(child.try_wait().unwrap().is_none(), "the publisher waits for the broker");
    assert_eq!(cursor(&o), frozen_at, "nothing is acknowledged while the broker is frozen");
    broker.resume();
    let status = wait_exit(&mut child, Duration::from_secs(60));
    assert!(status.success(), "publisher failed after the broker came back");
    assert!(frozen_at < 6_000, "frozen mid-stream");
    assert_eq!(cursor(&o), 6_000);
    let s = mirror_json(&m, &b, &[]);
    assert_eq!(s["size"].as_u64(), Some(6_000), "{s}");
    assert_mirror_complete(&o, &m);
}

#[test]
fn a_broker_that_restarts_empty_gets_every_record_again() {
    let Some(mut broker) = broker_or_skip("a_broker_that_restarts_empty") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m1, m2) = (t.path().join("origin"), t.path().join("mirror1"), t.path().join("mirror2"));
    origin(&o, 3_000, false);
    ok(relic(&o, &["publish", "--brokers", &b]));
    assert_eq!(mirror_json(&m1, &b, &[])["size"].as_u64(), Some(3_000));
    assert_eq!(cursor(&o), 3_000);

    broker.restart().unwrap(); // in-memory storage: everything published is gone
    let l = Ledger::open(&o, relic_ledger::policy::unchecked()).unwrap();
    l.append_all_blocking((0..100).map(|i| draft("acme/app@v9", serde_json::json!({"after": i}))).collect()).unwrap();
    drop(l);
    let out = relic(&o, &["publish", "--brokers", &b]);
    assert!(out.stderr.contains("the broker lost records"), "{}", out.stderr);
    assert!(ok(out).contains("published 3100 records; cursor at 3100"));

    // A new mirror gets every record from the new broker; the old one just catches up.
    assert_eq!(mirror_json(&m2, &b, &[])["size"].as_u64(), Some(3_100));
    assert_mirror_complete(&o, &m2);
    let caught_up = mirror_json(&m1, &b, &[]);
    assert_eq!((caught_up["size"].as_u64(), caught_up["applied"].as_u64()), (Some(3_100), Some(100)), "{caught_up}");
    assert_mirror_complete(&o, &m1);

    // The same with a publisher that keeps running: it notices, and publishes everything again.
    let mut publisher = spawn_relic(&o, &["publish", "--brokers", &b, "--follow", "--interval-ms", "100"]);
    wait_for_line(&mut publisher, "publishing from record 3100");
    broker.restart().unwrap();
    let l = Ledger::open(&o, relic_ledger::policy::unchecked()).unwrap();
    l.append_all_blocking((0..50).map(|i| draft("acme/app@v10", serde_json::json!({"later": i}))).collect()).unwrap();
    drop(l);
    let m3 = t.path().join("mirror3");
    let deadline = Instant::now() + Duration::from_secs(30);
    while mirror_json(&m3, &b, &[])["checkpoint"].as_u64() != Some(3_150) {
        assert!(Instant::now() < deadline, "the following publisher did not publish everything again");
        std::thread::sleep(Duration::from_millis(200));
    }
    sigkill(&mut publisher);
    assert_mirror_complete(&o, &m3);
}

/// Output without the lines that carry the time it was computed at.
fn timeless(o: Output) -> String {
    // When a view was evaluated, or a report generated, differs from run to run.
    ok(o).lines().filter(|l| !l.contains("evaluated_at") && !l.starts_with("- **Generated:**")).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_mirror_of_a_release_history_serves_its_views_reports_and_evidence() {
    let Some(broker) = broker_or_skip("a_mirror_of_a_release_history_serves") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m) = (t.path().join("origin"), t.path().join("mirror"));
    ok(relic(&o, &["demo"]));
    ok(relic(&o, &["publish", "--brokers", &b]));
    let s = mirror_json(&m, &b, &[]);
    assert!(s["files"].as_u64().unwrap() >= 2, "evidence documents and artifacts travel too: {s}");
    assert_mirror_complete(&o, &m);
    for args in [
        &["release", "list", "--project", "acme/payments"][..],
        &["report", "compliance"],
        &["evidence", "verify", "--project", "acme/payments", "--tag-name", "v4.3.0"],
    ] {
        assert_eq!(timeless(relic(&m, args)), timeless(relic(&o, args)), "{args:?} differs on the mirror");
    }
    assert!(ok(relic(&m, &["projections", "rebuild"])).contains("reflect"));
}

/// Writes messages to a topic with a plain (not idempotent) producer, as anyone with access could.
fn inject(broker: &Tansu, topic: &str, values: &[Vec<u8>]) {
    let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", broker.brokers()).create().unwrap();
    for v in values {
        p.send(BaseRecord::<(), [u8]>::to(topic).partition(0).payload(v.as_slice())).unwrap();
    }
    p.flush(Duration::from_secs(10)).unwrap();
}

/// The record with its payload's `"n":` digits changed: well formed, no longer what was signed.
fn altered(rec: &[u8]) -> Vec<u8> {
    let mut b = rec.to_vec();
    let at = b.windows(4).position(|w| w == b"\"n\":").unwrap() + 4;
    b[at] = if b[at] == b'1' { b'2' } else { b'1' };
    b
}

#[test]
fn injected_messages_are_rejected_by_the_mirror_which_names_them() {
    let Some(broker) = broker_or_skip("injected_messages_are_rejected") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let o = t.path().join("origin");
    origin(&o, 20, false);
    let recs: Vec<Vec<u8>> = Ledger::open_read_only(&o).unwrap().records(0).map(|r| r.unwrap().1).collect();
    let first = |n: usize| recs[..n].to_vec();
    let with = |mut v: Vec<Vec<u8>>, extra: &[Vec<u8>]| {
        v.extend_from_slice(extra);
        v
    };
    let mut forged_sig = recs[10].clone();
    let last = forged_sig.len() - 1;
    forged_sig[last] ^= 0x01;

    let cases: Vec<(&str, Vec<Vec<u8>>, &str)> = vec![
        ("forged", with(first(10), &[forged_sig]), "record 10: signature does not verify"),
        ("altered", with(first(10), &[altered(&recs[10])]), "record 10: signature does not verify"),
        ("conflict", with(first(10), &[altered(&recs[4])]), "record 4: a different record claims this sequence number"),
        ("skipped", with(first(10), &[recs[11].clone()]), "record 10: is missing: the next record received is record 11"),
        ("reordered", with(first(10), &[recs[11].clone(), recs[10].clone()]), "record 10: is missing: the next record received is record 11"),
        ("garbage", with(first(10), &[b"not a record".to_vec()]), "record 10: malformed"),
    ];
    for (name, values, needle) in cases {
        let topic = format!("injected.{name}");
        inject(&broker, &topic, &values);
        let m = t.path().join(name);
        let out = relic(&m, &["mirror", "--brokers", &b, "--topic", &topic, "--checkpoint-topic", "none"]);
        fails(out, &format!("{topic}: {needle}"));
        // Nothing unverified was stored: exactly the verified prefix.
        assert_eq!(Ledger::open_read_only(&m).unwrap().size(), 10, "{name}");
        ok(relic(&m, &["verify"]));
    }

    // An exact re-send is dropped silently.
    inject(&broker, "injected.resend", &with(first(10), &[recs[4].clone(), recs[9].clone()].iter().cloned().chain(recs[10..].iter().cloned()).collect::<Vec<_>>()));
    let s = mirror_json(&t.path().join("resend"), &b, &["--topic", "injected.resend", "--checkpoint-topic", "none"]);
    assert_eq!((s["size"].as_u64(), s["duplicates"].as_u64()), (Some(20), Some(2)), "{s}");

    // Checkpoints: a forged signature, and a validly signed one whose root is not the log's.
    inject(&broker, "cp.events", &recs);
    let key = keys::read_key(&o, &Ledger::open_read_only(&o).unwrap().verifier_key().unwrap().key_id).unwrap();
    let good = Ledger::open(&o, relic_ledger::policy::unchecked()).unwrap().checkpoint(Some(20)).unwrap().note;
    let bad_root = note::sign(&relic_ledger::checkpoint::Checkpoint::new(ORIGIN, 20, [9u8; 32]).body(), &key).unwrap();
    for (name, cp, needle) in [
        ("cp.forged", good.replacen("\n20\n", "\n19\n", 1), "checkpoint at size 19: checkpoint signature"),
        ("cp.root", bad_root, "checkpoint at size 20: its root does not match the tree recomputed from the mirrored records"),
    ] {
        inject(&broker, name, &[cp.into_bytes()]);
        let out = relic(&t.path().join(name), &["mirror", "--brokers", &b, "--topic", "cp.events", "--checkpoint-topic", name]);
        fails(out, &format!("{name}: {needle}"));
    }
    inject(&broker, "cp.good", &[good.clone().into_bytes()]);
    let s = mirror_json(&t.path().join("cp.good"), &b, &["--topic", "cp.events", "--checkpoint-topic", "cp.good"]);
    assert_eq!(s["checkpoint"].as_u64(), Some(20));

    // An evidence file whose bytes are not the ones its name's digest says.
    let digest = "ab".repeat(32);
    let p: BaseProducer = ClientConfig::new().set("bootstrap.servers", broker.brokers()).create().unwrap();
    let name = format!("evidence/{digest}.json");
    p.send(BaseRecord::<str, [u8]>::to("forged.evidence").partition(0).key(name.as_str()).payload(b"{}".as_slice())).unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
    let forged = t.path().join("forged-evidence");
    let out = relic(&forged, &["mirror", "--brokers", &b, "--topic", "cp.events", "--checkpoint-topic", "none", "--evidence-topic", "forged.evidence"]);
    fails(out, &format!("forged.evidence: offset 0: {name}: its bytes hash to"));
    assert!(!forged.join(&name).exists(), "nothing unverified is stored");

    // The publisher refuses to build on a topic whose last record is not its own.
    fails(relic(&o, &["publish", "--brokers", &b, "--topic", "injected.forged"]), "offset 10 holds a record 10 that is not this log's");

    // A mirror pinned to another log's key refuses record 0.
    let other = t.path().join("other");
    Ledger::init(&other, ORIGIN, relic_ledger::policy::unchecked()).unwrap();
    let other_key = ok(relic(&other, &["key"]));
    fails(relic(&t.path().join("pinned"), &["mirror", "--brokers", &b, "--topic", "cp.events", "--key", other_key.trim()]), "record 0: it introduces key");
    // A subscriber stops at the forged record too, after delivering the ones before it.
    let out = relic(t.path(), &["subscribe", "--brokers", &b, "--topic", "injected.forged", "--once"]);
    assert_eq!(out.stdout_text().lines().count(), 10);
    assert!(out.stderr.contains("injected.forged: record 10: signature does not verify"), "{}", out.stderr);
}

#[test]
fn publisher_and_mirror_follow_the_log_while_it_grows() {
    let Some(broker) = broker_or_skip("publisher_and_mirror_follow_the_log") else { return };
    let b = broker.brokers();
    let t = tempfile::tempdir().unwrap();
    let (o, m) = (t.path().join("origin"), t.path().join("mirror"));
    origin(&o, 100, false);
    let mut publisher = spawn_relic(&o, &["publish", "--brokers", &b, "--follow", "--interval-ms", "100"]);
    let mut mirror = spawn_relic(&m, &["mirror", "--brokers", &b, "--follow"]);
    // Appends go on while the publisher runs: it holds the store only briefly.
    for round in 0..5 {
        let l = Ledger::open(&o, relic_ledger::policy::unchecked()).unwrap();
        l.append_all_blocking((0..50).map(|i| draft("acme/app@v2", serde_json::json!({"round": round, "i": i}))).collect()).unwrap();
        drop(l);
        std::thread::sleep(Duration::from_millis(150));
    }
    // The mirror catches up, and read commands can open it while it follows.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = relic(&m, &["--json", "checkpoint"]);
        if out.code == 0 && serde_json::from_str::<Value>(&out.stdout_text()).unwrap()["size"].as_u64() == Some(350) {
            break;
        }
        assert!(Instant::now() < deadline, "the mirror did not reach 350 records: {}", out.stderr);
        std::thread::sleep(Duration::from_millis(200));
    }
    sigkill(&mut publisher);
    sigkill(&mut mirror);
    assert_eq!(cursor(&o), 350);
    assert_mirror_complete(&o, &m);
}
