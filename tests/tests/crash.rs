//! Crash test: a process appending from several tasks is SIGKILLed at random moments, many times.
//! After each kill the log must verify and hold every record acknowledged before the kill, each
//! exactly once and in the order its writer appended them.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng as _;
use relic_ledger::{verify, Ledger, Record};

const KILLS: usize = 20;
const WRITERS: &str = "8";

#[test]
fn sigkill_at_random_moments_never_loses_an_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    Ledger::init(dir.path(), "crash.test/log", relic_ledger::policy::unchecked()).unwrap().close();
    let mut rng = rand::thread_rng();
    let mut acked: Vec<(u32, u32, u64, u64)> = Vec::new(); // (run, writer, n, seq)
    for round in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(dir.path())
            .arg(WRITERS)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lines.push(line);
            }
            lines
        });
        // Kill somewhere between process start-up and well into steady appending.
        let delay = Duration::from_millis(rng.gen_range(5..150));
        let start = Instant::now();
        while start.elapsed() < delay {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
                panic!("round {round}: writer exited on its own ({status}): {err}");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        child.wait().unwrap();
        for line in reader.join().unwrap() {
            let f: Vec<&str> = line.split(' ').collect();
            // A line cut short by the kill was never fully acknowledged to anyone; skip it.
            if f.len() == 5 && f[0] == "ack" {
                if let (Ok(r), Ok(w), Ok(n), Ok(s)) = (f[1].parse(), f[2].parse(), f[3].parse(), f[4].parse()) {
                    acked.push((r, w, n, s));
                }
            }
        }

        // The log verifies, and holds every acknowledged record at the sequence number it was given.
        let report = verify::verify_dir(dir.path(), &verify::Options::default(), &mut |_, _| {}).unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        let ledger = Ledger::open_read_only(dir.path()).unwrap();
        assert_eq!(report.size, ledger.size());
        for &(r, w, n, seq) in &acked {
            assert!(seq < report.size, "round {round}: acknowledged record {seq} lost (log has {})", report.size);
            let p = ledger.record(seq).unwrap().payload_json();
            assert_eq!(
                (p["run"].as_u64(), p["writer"].as_u64(), p["n"].as_u64()),
                (Some(r as u64), Some(w as u64), Some(n)),
                "round {round}: record {seq} is not the one acknowledged"
            );
        }
        // No record twice, and each writer's records in the order it appended them.
        let mut seen = HashSet::new();
        let mut last: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        for item in ledger.records(1) {
            let (seq, bytes) = item.unwrap();
            let p = Record::decode(&bytes).unwrap().payload_json();
            let key = (p["run"].as_u64().unwrap(), p["writer"].as_u64().unwrap());
            let n = p["n"].as_u64().unwrap();
            assert!(seen.insert((key, n)), "round {round}: record {seq} duplicates an earlier one");
            if let Some(prev) = last.insert(key, n) {
                assert_eq!(n, prev + 1, "round {round}: record {seq} is out of its writer's order");
            } else {
                assert_eq!(n, 0, "round {round}: record {seq}: writer's first record is missing");
            }
        }
    }
    assert!(acked.len() > 100, "the writers barely ran ({} acknowledged appends); the test proves little", acked.len());
}

/// SIGKILL during the store's maintenance, many times each: a writer's first open of a log it must
/// recover (a torn tail), the rebuild of a deleted index (`log/hashes`), `relic migrate` from
/// format 3, `relic key rotate` and `relic projections rebuild`. After every kill the log opens
/// (after `relic migrate` finishes a cut conversion), verifies, and holds every record
/// acknowledged before it, byte for byte.
#[test]
fn sigkill_during_recovery_rebuild_migration_rotation_and_projection_loses_nothing() {
    const EACH: usize = 8;
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_relic_proc")).arg("--data").arg(&data).args(args).output().unwrap();
        assert!(o.status.success(), "relic {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        o
    };
    run(&["init", "--origin", "crash.test/ops"]);
    run(&["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]);
    {
        let l = Ledger::open(&data, relic_domain::policy::DomainPolicy::for_data(&data).unwrap()).unwrap();
        let drafts: Vec<_> = (0..3000)
            .map(|i| relic_ledger::Draft {
                actor: relic_ledger::Actor { id: "alice".into(), role: "owner".into() },
                kind: "deployment.recorded".into(),
                subject: "acme/app@v1.0".into(),
                payload: serde_json::json!({"project": "acme/app", "tag_name": "v1.0", "environment": format!("env-{i}"), "status": "success"}).to_string().into_bytes(),
                schema_version: 1,
            })
            .collect();
        l.append_all_blocking(drafts).unwrap();
    }
    run(&["projections", "rebuild"]);
    let records = |data: &std::path::Path| -> Vec<Vec<u8>> { Ledger::open_read_only(data).unwrap().records(0).map(|r| r.unwrap().1).collect() };
    let mut acked = records(&data);
    let mut rng = rand::thread_rng();
    let payload = t.path().join("p.json");
    std::fs::write(&payload, br#"{"project":"acme/app","tag_name":"v1.0","environment":"eu","status":"success"}"#).unwrap();
    let p = payload.to_str().unwrap().to_string();
    let ops: [(&str, Vec<&str>); 5] = [
        ("first open of a torn log", vec!["append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload", &p]),
        ("index rebuild", vec!["append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload", &p]),
        ("migrate", vec!["migrate"]),
        ("key rotate", vec!["key", "rotate", "--actor", "ops"]),
        ("projections rebuild", vec!["projections", "rebuild"]),
    ];
    let mut kills = 0;
    for (what, args) in &ops {
        // How long the operation takes when left alone: kills land anywhere in it.
        let mut took = Duration::from_millis(1);
        for round in 0..=EACH {
            match *what {
                "first open of a torn log" => {
                    // A write that was never acknowledged: bytes past the acknowledged ends.
                    for name in ["records", "commits", "hashes", "checkpoints"] {
                        let f = data.join("log").join(name);
                        let mut b = std::fs::read(&f).unwrap();
                        if name == "commits" && b.len() % 64 != 0 {
                            continue; // the torn entry of the last round is still there
                        }
                        b.extend_from_slice(&[0x42; 37]);
                        std::fs::write(&f, b).unwrap();
                    }
                }
                "index rebuild" => std::fs::remove_file(data.join("log").join("hashes")).unwrap_or(()),
                "migrate" => {
                    if data.join("log").exists() {
                        relic_store::legacy::testing::log_to_v3(&data);
                    }
                }
                _ => {}
            }
            let child = Command::new(env!("CARGO_BIN_EXE_relic_proc")).arg("--data").arg(&data).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
            let started = Instant::now();
            // Round 0 runs to the end and says how long the operation takes.
            let killed = round > 0;
            if killed {
                std::thread::sleep(Duration::from_micros(rng.gen_range(0..=took.as_micros() as u64)));
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGKILL);
                }
                kills += 1;
            }
            let out = child.wait_with_output().unwrap();
            if !killed {
                assert!(out.status.success(), "{what}: the unkilled run failed");
            }
            if round == 0 {
                took = started.elapsed().max(Duration::from_millis(2));
            }
            // A cut migration is finished by running it again; everything else opens as it is.
            if !data.join("log").exists() {
                run(&["migrate"]);
            }
            let o = run(&["--json", "verify"]);
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let now = records(&data);
            assert_eq!(v["size"].as_u64(), Some(now.len() as u64), "{what}, round {round}");
            assert!(now.len() >= acked.len(), "{what}, round {round}: {} records, {} were acknowledged", now.len(), acked.len());
            assert!(now[..acked.len()] == acked[..], "{what}, round {round}: an acknowledged record changed");
            acked = now;
            let listed = run(&["--json", "log", "--from", "2990"]);
            assert!(!listed.stdout.is_empty());
        }
    }
    assert_eq!(kills, 5 * EACH);
}

/// The soak: four writers and four readers, each a stream of `relic` processes, for a fixed time
/// (`RELIC_SOAK_SECS`, default 20), while a killer SIGKILLs a random one of them every few tens of
/// milliseconds. No reader ever fails or sees a gap; no writer fails but by being killed (or, after
/// waiting, by another writer's lock); at the end the log verifies and holds every acknowledged
/// record. The counts are printed.
#[test]
fn soak_four_writers_four_readers_random_sigkills() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    let secs: u64 = std::env::var("RELIC_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("d");
    let proc = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_relic_proc"));
        c.arg("--data").arg(&data).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    assert!(proc(&["init", "--origin", "soak.test/log"]).output().unwrap().status.success());
    assert!(proc(&["project", "register", "--project", "acme/app", "--name", "App", "--actor", "alice"]).output().unwrap().status.success());
    let live: Arc<Mutex<Vec<u32>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 8]> = Arc::new(Default::default());
    const ACKED: usize = 0;
    const W_KILLED: usize = 1;
    const W_BUSY: usize = 2;
    const READS: usize = 3;
    const R_KILLED: usize = 4;
    const KILLS: usize = 5;
    const RECORDS_READ: usize = 6;
    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    // Runs one process to its end, registered with the killer meanwhile; true if it was killed.
    let run = {
        let live = live.clone();
        move |mut c: Command| -> (std::process::Output, bool) {
            let child = c.spawn().unwrap();
            let pid = child.id();
            live.lock().unwrap().push(pid);
            let out = child.wait_with_output().unwrap();
            live.lock().unwrap().retain(|p| *p != pid);
            let killed = std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(libc::SIGKILL);
            (out, killed)
        }
    };
    let mut threads = Vec::new();
    for w in 0..4 {
        let (stop, counts, acked, run, data, dir) = (stop.clone(), counts.clone(), acked.clone(), run.clone(), data.clone(), t.path().to_path_buf());
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let env = format!("w{w}-{n}");
                n += 1;
                let p = dir.join(format!("{env}.json"));
                std::fs::write(&p, serde_json::json!({"project": "acme/app", "tag_name": "v1.0", "environment": env, "status": "success"}).to_string()).unwrap();
                let mut c = Command::new(env!("CARGO_BIN_EXE_relic_proc"));
                c.arg("--data").arg(&data).args(["--json", "append", "--kind", "deployment.recorded", "--subject", "acme/app@v1.0", "--actor", "alice", "--payload"]).arg(&p);
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                let (out, killed) = run(c);
                let err = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    acked.lock().unwrap().push((v["seq"].as_u64().unwrap(), env));
                    counts[ACKED].fetch_add(1, Ordering::Relaxed);
                } else if killed {
                    counts[W_KILLED].fetch_add(1, Ordering::Relaxed);
                } else if err.contains("being written by another relic process") {
                    counts[W_BUSY].fetch_add(1, Ordering::Relaxed);
                } else {
                    panic!("writer {w}: {err}");
                }
            }
        }));
    }
    for r in 0..4 {
        let (stop, counts, run, data) = (stop.clone(), counts.clone(), run.clone(), data.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let args: &[&str] = if r == 0 { &["--json", "verify"] } else { &["--json", "log"] };
                let mut c = Command::new(env!("CARGO_BIN_EXE_relic_proc"));
                c.arg("--data").arg(&data).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
                let (out, killed) = run(c);
                if killed {
                    counts[R_KILLED].fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                assert!(out.status.success(), "reader {r}: {}", String::from_utf8_lossy(&out.stderr));
                if r > 0 {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let seqs: Vec<u64> = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
                    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "reader {r}: a gap");
                    counts[RECORDS_READ].fetch_add(seqs.len() as u64, Ordering::Relaxed);
                }
                counts[READS].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut rng = rand::thread_rng();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(rng.gen_range(10..80)));
        let victim = {
            let l = live.lock().unwrap();
            (!l.is_empty()).then(|| l[rng.gen_range(0..l.len())])
        };
        if let Some(pid) = victim {
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            counts[KILLS].fetch_add(1, Ordering::Relaxed);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for th in threads {
        th.join().unwrap();
    }
    let report = verify::verify_dir(&data, &verify::Options::default(), &mut |_, _| {}).unwrap().unwrap();
    let ledger = Ledger::open_read_only(&data).unwrap();
    for (seq, env) in acked.lock().unwrap().iter() {
        assert!(*seq < report.size, "acknowledged record {seq} lost");
        assert_eq!(ledger.record(*seq).unwrap().payload_json()["environment"].as_str(), Some(env.as_str()), "record {seq}");
    }
    let c = |i: usize| counts[i].load(Ordering::Relaxed);
    eprintln!(
        "soak {secs} s: {} appends acknowledged, {} writers killed, {} writers waited out; {} reads ({} records read), {} readers killed; {} SIGKILLs; log of {} records verifies",
        c(ACKED), c(W_KILLED), c(W_BUSY), c(READS), c(RECORDS_READ), c(R_KILLED), c(KILLS), report.size
    );
    assert!(c(ACKED) > 20 && c(W_KILLED) > 0 && c(R_KILLED) > 0 && c(READS) > 10, "the soak barely ran");
}
