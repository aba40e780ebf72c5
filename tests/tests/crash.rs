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
