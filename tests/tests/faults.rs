//! Storage faults (issue 13): readers that change no byte and never wait for a writer; a flipped bit
//! in the last acknowledged write never verifies as a shorter log; a full disk fails appends with
//! an error naming it, hangs nothing and loses nothing; leftovers of interrupted work and damaged
//! derived files are rebuilt or ignored, never a refusal to open.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use relic_ledger::layout;
use relic_tests::{relic, snapshot, Output};

fn ok(o: Output) -> String {
    assert_eq!(o.code, 0, "expected success, got: {}", o.stderr);
    o.stdout_text()
}

/// The demo's data directory, with its view store written.
fn demo(dir: &Path) -> PathBuf {
    let data = dir.join("d");
    ok(relic(&data, &["demo"]));
    ok(relic(&data, &["projections", "rebuild"]));
    data
}

/// The size of the log as `relic verify` reports it, or `None` if it does not verify.
fn verified_size(data: &Path) -> Option<u64> {
    let o = relic(data, &["--json", "verify"]);
    if o.code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(o.stdout_text().trim()).ok()?;
    v["size"].as_u64()
}

/// Every read-only command of the issue, with arguments that work on the demo's data directory.
const READERS: &[&[&str]] = &[
    &["verify"],
    &["verify", "--strict"],
    &["log"],
    &["--json", "log", "--from", "3"],
    &["record", "5"],
    &["record", "5", "--raw"],
    &["checkpoint"],
    &["prove", "inclusion", "5"],
    &["prove", "consistency", "5", "SIZE"],
    &["release", "list", "--project", "acme/payments"],
    &["release", "get", "--project", "acme/payments", "--tag-name", "v4.3.0"],
    &["release", "history", "--project", "acme/payments", "v4.3.0"],
    &["internal", "status", "IR-2026-001"],
    &["internal", "status", "IR-2026-001", "--viewer", "gus"],
    &["internal", "verify-disclosure", "--id", "IR-2026-001"],
    &["evidence", "verify"],
    &["witnesses"],
    &["freeze", "status", "--project", "acme/payments"],
    &["report", "compliance"],
    &["report", "compliance", "--format", "html"],
    &["projections", "status"],
];

/// Readers change no byte of the data directory, whatever state the derived files are in.
#[test]
fn read_only_commands_change_no_byte_of_the_data_directory() {
    let t = tempfile::tempdir().unwrap();
    let data = demo(t.path());
    for state in ["as the demo left it", "views and tree hashes removed"] {
        if state != "as the demo left it" {
            std::fs::remove_dir_all(data.join("views")).unwrap();
            std::fs::remove_file(data.join(layout::DIR).join(layout::HASHES)).unwrap();
        }
        let size = verified_size(&data).unwrap().to_string();
        for args in READERS {
            // (The demo's length depends on the day it runs: `SIZE` is the log's.)
            let args: Vec<&str> = args.iter().map(|a| if *a == "SIZE" { size.as_str() } else { a }).collect();
            let before = snapshot(&data);
            let o = relic(&data, &args);
            assert!(o.code == 0 || (args[0] == "freeze" && o.code == 3), "{state}: {args:?}: {}", o.stderr);
            let after = snapshot(&data);
            let changed: Vec<_> = after.iter().filter(|(p, v)| before.get(*p) != Some(v)).map(|(p, _)| p).chain(before.keys().filter(|p| !after.contains_key(*p))).collect();
            assert!(changed.is_empty(), "{state}: `relic {}` changed {changed:?}", args.join(" "));
        }
    }
}

fn relic_proc(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relic_proc"));
    c.arg("--data").arg(data).args(args);
    c
}

/// A reader whose output nobody reads (`relic --json log | (sleep 12; cat)`) keeps its log open
/// for as long as it likes: writers and `freeze status` beside it neither wait nor fail, and the
/// reader prints exactly the records acknowledged when it opened.
#[test]
fn a_slow_reader_blocks_no_writer_and_reads_a_consistent_prefix() {
    let t = tempfile::tempdir().unwrap();
    let data = demo(t.path());
    // Enough records that the reader's output fills the pipe and it blocks mid-way.
    let payload = t.path().join("p.json");
    std::fs::write(&payload, serde_json::json!({"project": "acme/payments", "tag_name": "v4.3.0", "environment": "eu", "status": "success", "pipeline_url": format!("https://ci.example/{}", "x".repeat(500))}).to_string()).unwrap();
    let l = relic_ledger::Ledger::open(&data, relic_domain::policy::DomainPolicy::for_data(&data).unwrap()).unwrap();
    let drafts: Vec<_> = (0..300)
        .map(|_| relic_ledger::Draft {
            actor: relic_ledger::Actor { id: "alice".into(), role: "owner".into() },
            kind: "deployment.recorded".into(),
            subject: "acme/payments@v4.3.0".into(),
            payload: std::fs::read(&payload).unwrap(),
            schema_version: 1,
        })
        .collect();
    l.append_all_blocking(drafts).unwrap();
    let size_at_open = l.size();
    l.close();

    let mut reader = relic_proc(&data, &["--json", "log"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // Let it open the log and fill the pipe.
    std::thread::sleep(Duration::from_millis(500));
    assert!(reader.try_wait().unwrap().is_none(), "the reader is blocked on its full pipe");
    for i in 0..3 {
        let started = Instant::now();
        let tag = format!("v9.{i}.0");
        ok(relic(&data, &["release", "create", "--project", "acme/payments", "--tag-name", &tag, "--ref", "main", "--actor", "bob"]));
        let freeze = relic(&data, &["freeze", "status", "--project", "acme/payments"]);
        assert!(freeze.code == 0 || freeze.code == 3, "freeze status beside a slow reader: {}", freeze.stderr);
        // Nothing waited for the reader's lock: a writer waits up to 3 s for a lock it cannot take.
        assert!(started.elapsed() < Duration::from_secs(3) || i > 0, "a writer waited beside a reader");
    }
    let mut out = String::new();
    reader.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(reader.wait().unwrap().success());
    let seqs: Vec<u64> = out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..size_at_open).collect::<Vec<_>>(), "the reader printed the prefix acknowledged when it opened");
    let now = ok(relic(&data, &["--json", "log"])).lines().count() as u64;
    assert!(now > size_at_open);
    assert_eq!(verified_size(&data), Some(now));
}

/// One bit flipped at every offset that the last acknowledged write changed, in every file of the
/// data directory: `relic verify` either fails, naming what it found, or verifies the whole log;
/// it never reports a shorter log as verified.
#[test]
fn a_flipped_bit_in_the_last_write_never_verifies_as_a_shorter_log() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "flip.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    ok(relic(&data, &["checkpoint"]));
    let before = snapshot(&data);
    ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", "v1.0", "--ref", "main", "--actor", "alice"]));
    let after = snapshot(&data);
    let full = verified_size(&data).unwrap();
    let mut flips = 0;
    for (path, bytes) in &after {
        let Some(bytes) = bytes else { continue };
        let old = before.get(path).cloned().flatten().unwrap_or_default();
        let changed: Vec<usize> = (0..bytes.len()).filter(|&i| old.get(i) != Some(&bytes[i])).collect();
        for at in changed {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1 << (at % 8);
            std::fs::write(path, &flipped).unwrap();
            let got = verified_size(&data);
            assert!(got.is_none() || got == Some(full), "{} byte {at}: verified as {got:?} records, {full} were acknowledged", path.display());
            std::fs::write(path, bytes).unwrap();
            flips += 1;
        }
    }
    assert!(flips > 500, "the last write changed {flips} bytes");
    assert_eq!(verified_size(&data), Some(full));
}

/// Leftovers of interrupted work (a half-made log from `init`, a half-made copy from `migrate`,
/// temporaries of durable writes, an old store's files) and derived files that are missing,
/// truncated or garbled: every command works, says what it rebuilt, and nothing is lost.
#[test]
fn leftovers_and_damaged_derived_files_never_stop_a_command() {
    let t = tempfile::tempdir().unwrap();
    let data = demo(t.path());
    let size = verified_size(&data).unwrap();
    let log = data.join(layout::DIR);
    std::fs::create_dir_all(data.join("log.new")).unwrap();
    std::fs::write(data.join("log.new").join("records"), b"half").unwrap();
    std::fs::create_dir_all(data.join("log.migrating")).unwrap();
    std::fs::write(log.join("published.tmp"), b"").unwrap();
    std::fs::write(data.join("views").join("manifest.tmp"), b"half").unwrap();
    std::fs::create_dir_all(data.join("store")).unwrap();
    std::fs::write(data.join("store").join("snap.7FFFFFFFFFFFFFFF.generating"), b"").unwrap();
    assert_eq!(verified_size(&data), Some(size));

    let hashes = log.join(layout::HASHES);
    let keys = log.join(layout::KEYS);
    let manifest = data.join("views").join("manifest");
    // Another log, whose derived files are copied in.
    let other = t.path().join("other");
    ok(relic(&other, &["init", "--origin", "other.test/log"]));
    ok(relic(&other, &["project", "register", "--project", "acme/payments", "--name", "P", "--actor", "alice"]));
    ok(relic(&other, &["projections", "rebuild"]));
    let (other_keys, other_views) = (other.join(layout::DIR).join(layout::KEYS), other.join("views"));
    let damage: Vec<(&str, Box<dyn Fn()>)> = vec![
        ("hashes deleted", Box::new(|| std::fs::remove_file(&hashes).unwrap())),
        ("hashes truncated", Box::new(|| std::fs::write(&hashes, &std::fs::read(&hashes).unwrap()[..100]).unwrap())),
        ("hashes garbled", Box::new(|| std::fs::write(&hashes, vec![0x5a; std::fs::read(&hashes).unwrap().len()]).unwrap())),
        ("keys deleted", Box::new(|| std::fs::remove_file(&keys).unwrap())),
        ("keys garbled", Box::new(|| std::fs::write(&keys, b"\x00\x01 not a key\n").unwrap())),
        ("keys of another log", Box::new(|| { std::fs::copy(&other_keys, &keys).unwrap(); })),
        ("views of another log", Box::new(|| {
            let views = data.join("views");
            std::fs::remove_dir_all(&views).unwrap();
            std::fs::create_dir(&views).unwrap();
            for e in std::fs::read_dir(&other_views).unwrap() {
                let e = e.unwrap();
                if e.path().is_file() {
                    std::fs::copy(e.path(), views.join(e.file_name())).unwrap();
                }
            }
        })),
        ("view manifest truncated", Box::new(|| std::fs::write(&manifest, &std::fs::read(&manifest).unwrap()[..10]).unwrap())),
        ("view segments deleted", Box::new(|| std::fs::remove_dir_all(data.join("views").join("segments")).unwrap())),
    ];
    let mut appended = 0;
    for (what, f) in damage {
        f();
        let mut said = String::new();
        for args in [&["--json", "log"][..], &["release", "list", "--project", "acme/payments"], &["prove", "inclusion", "3"], &["report", "compliance"]] {
            let o = relic(&data, args);
            assert_eq!(o.code, 0, "{what}: {args:?}: {}", o.stderr);
            assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
            said.push_str(&o.stderr);
        }
        // The next writer rebuilds what is derived and says so (`prove` above may be that writer:
        // it signs a checkpoint at the new size).
        let tag = format!("v7.{appended}.0");
        let o = relic(&data, &["release", "create", "--project", "acme/payments", "--tag-name", &tag, "--ref", "main", "--actor", "bob"]);
        assert_eq!(o.code, 0, "{what}: {}", o.stderr);
        said.push_str(&o.stderr);
        if what.starts_with("hashes") || what.starts_with("keys") {
            assert!(said.contains("relic: note: ") && said.contains("rebuilt from the records"), "{what}: {said}");
        }
        if what.starts_with("views") {
            assert!(said.contains("relic: note: ") && said.contains("views") && said.contains("rebuilt from the log"), "{what}: {said}");
        }
        appended += 1;
        let now = ok(relic(&data, &["--json", "log"])).lines().count() as u64;
        assert!(now > size + appended, "{what}: the release was appended");
        assert_eq!(verified_size(&data), Some(now), "{what}");
        let listed = ok(relic(&data, &["--json", "release", "list", "--project", "acme/payments"]));
        assert!(listed.contains(&tag), "{what}: the views caught up");
    }
}

/// An append on a full filesystem fails within seconds with an error naming the disk; nothing
/// hangs, readers keep working, and once space is freed the next append works and every
/// acknowledged record is there. Four appenders at once. Needs root (to mount a small tmpfs), as
/// CI runs; anywhere else it says why it cannot run and fails.
#[test]
fn a_full_disk_fails_appends_quickly_and_loses_nothing() {
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&mnt).status();
    assert!(mounted.is_ok_and(|s| s.success()), "cannot mount a tmpfs at {} (this test needs root, as CI has)", mnt.display());
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let data = mnt.join("d");
    ok(relic(&data, &["init", "--origin", "full.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    let payload = t.path().join("p.json");
    std::fs::write(&payload, serde_json::json!({"project": "acme/app", "tag_name": "v1.0", "environment": "eu", "status": "success", "pipeline_url": format!("https://ci.example/{}", "x".repeat(2000))}).to_string()).unwrap();

    let appenders: Vec<_> = (0..4)
        .map(|_| {
            let (data, payload) = (data.clone(), payload.clone());
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                loop {
                    let started = Instant::now();
                    let mut child = relic_proc(&data, &["--json", "append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload"])
                        .arg(&payload)
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    let status = loop {
                        if let Some(s) = child.try_wait().unwrap() {
                            break s;
                        }
                        assert!(started.elapsed() < Duration::from_secs(20), "an append on a full disk hung");
                        std::thread::sleep(Duration::from_millis(20));
                    };
                    let (mut out, mut err) = (String::new(), String::new());
                    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
                    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
                    if status.success() {
                        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
                        acked.push(v["seq"].as_u64().unwrap());
                    } else if err.contains("being written by another relic process") {
                        continue;
                    } else {
                        return (acked, err, started.elapsed());
                    }
                }
            })
        })
        .collect();
    let mut acked = Vec::new();
    for a in appenders {
        let (mine, err, took) = a.join().unwrap();
        assert!(err.contains("No space left on device"), "the failure names the disk: {err}");
        // The appends run with --json: the one error is a JSON object (README §Exit codes).
        let errors: Vec<serde_json::Value> = err.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert_eq!((errors[0]["error"].as_str(), errors[0]["exit_code"].as_i64()), (Some("failed"), Some(1)), "{err}");
        assert!(took < Duration::from_secs(10), "a failing append took {took:?}");
        acked.extend(mine);
    }
    assert!(acked.len() >= 10, "the disk filled after {} appends", acked.len());
    // Readers work on the full disk.
    let n = ok(relic(&data, &["--json", "log"])).lines().count() as u64;
    assert!(acked.iter().all(|s| *s < n));
    assert_eq!(verified_size(&data), Some(n));

    let grown = Command::new("mount").args(["-o", "remount,size=64m"]).arg(&mnt).status().unwrap();
    assert!(grown.success());
    let o = relic(&data, &["--json", "append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload", payload.to_str().unwrap()]);
    assert_eq!(o.code, 0, "after space is freed: {}", o.stderr);
    assert_eq!(verified_size(&data), Some(n + 1));
    let log = ok(relic(&data, &["--json", "log"]));
    let seqs: Vec<u64> = log.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    for s in &acked {
        assert!(seqs.contains(s), "acknowledged record {s} lost");
    }
}

/// A damaged or missing file of the log's truth (or its marker): every command, reader or writer,
/// fails with one line naming the file and what is wrong, a non-zero exit, never a panic; nothing
/// is changed by the attempt.
#[test]
fn a_damaged_or_missing_file_of_the_log_is_one_line_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    ok(relic(&data, &["init", "--origin", "damage.test/log"]));
    ok(relic(&data, &["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]));
    for i in 0..5 {
        ok(relic(&data, &["release", "create", "--project", "acme/app", "--tag-name", &format!("v{i}"), "--ref", "main", "--actor", "alice"]));
    }
    ok(relic(&data, &["checkpoint"]));
    let log = data.join(layout::DIR);
    type Damage = fn(&Path);
    let cases: [(&str, &str, Damage); 8] = [
        ("records", "records deleted", |p| std::fs::remove_file(p).unwrap()),
        ("records", "records cut in half", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..b.len() / 2]).unwrap()
        }),
        ("commits", "commits deleted", |p| std::fs::remove_file(p).unwrap()),
        ("commits", "commits emptied", |p| std::fs::write(p, b"").unwrap()),
        ("commits", "last commit entry garbled", |p| {
            let mut b = std::fs::read(p).unwrap();
            let n = b.len();
            b[n - 40..n - 20].fill(0x33);
            std::fs::write(p, b).unwrap()
        }),
        ("checkpoints", "checkpoints cut short", |p| {
            let b = std::fs::read(p).unwrap();
            std::fs::write(p, &b[..10]).unwrap()
        }),
        ("format", "format marker garbled", |p| std::fs::write(p, b"relic-log/9\n").unwrap()),
        ("origin", "origin deleted", |p| std::fs::remove_file(p).unwrap()),
    ];
    for (name, what, damage) in cases {
        let path = log.join(name);
        let saved = std::fs::read(&path).unwrap();
        damage(&path);
        let before = snapshot(&data);
        for args in [&["verify"][..], &["log"], &["release", "list", "--project", "acme/app"], &["release", "create", "--project", "acme/app", "--tag-name", "v9", "--ref", "main", "--actor", "alice"]] {
            let o = relic(&data, args);
            assert_eq!(o.code, 1, "{what}: {args:?}");
            let errors: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("relic: error: ")).collect();
            assert_eq!(errors.len(), 1, "{what}: {args:?}: {}", o.stderr);
            assert!(errors[0].contains(&format!("log/{name}")), "{what}: {args:?}: the file is named: {}", o.stderr);
            assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
        }
        assert!(snapshot(&data) == before, "{what}: a refused command changed the data directory");
        std::fs::write(&path, saved).unwrap();
        assert!(verified_size(&data).is_some(), "{what}: restored");
    }
}
