//! Shared helpers for relic's benchmarks: payloads, drafts, ledgers of N records (built once and
//! cached under `target/`), and the raw inputs the "physical limit" benchmarks compare against.
//!
//! Every ledger here lives on the same file system as the build directory (never tmpfs), so that
//! `fsync` costs what it costs for a real ledger.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ed25519_dalek::{Signature, VerifyingKey};
use relic_ledger::record::Record;
use relic_ledger::{Actor, Draft, Ledger};

/// Every benchmark runs with the allocator of the `relic` binary (`cli/src/main.rs`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The origin of every benchmark ledger.
pub const ORIGIN: &str = "bench.example/log";
/// The event kind of every benchmark record.
pub const KIND: &str = "release.created";

/// A JSON object whose canonical (compact, key-sorted) text is exactly `len` bytes (`len >= 64`).
/// It looks like a release event: a few short fields and a long `description`.
pub fn payload_json(len: usize) -> Vec<u8> {
    assert!(len >= 64, "payload must be at least 64 bytes");
    let make = |desc_len: usize| {
        let v = serde_json::json!({
            "description": "x".repeat(desc_len),
            "project": "group/project",
            "released_at": "2026-06-01T09:30:00Z",
            "tag": "v1.2.3",
        });
        serde_json::to_vec(&v).expect("json")
    };
    let base = make(0).len();
    assert!(len >= base, "payload must be at least {base} bytes");
    let out = make(len - base);
    debug_assert_eq!(out.len(), len);
    debug_assert_eq!(relic_ledger::record::canonical_payload(&out).expect("canonical"), out);
    out
}

/// A draft carrying `payload` (already canonical JSON object text).
pub fn draft(payload: &[u8]) -> Draft {
    Draft {
        actor: Actor { id: "bench@example.com".into(), role: "maintainer".into() },
        kind: KIND.into(),
        subject: "group/project@v1.2.3".into(),
        payload: payload.to_vec(),
        schema_version: 1,
    }
}

/// CPU time this process has used so far, user and system, all threads, in seconds (Linux: from
/// `/proc/self/stat`, in clock ticks of 10 ms). Beside a wall-clock figure it tells how much of
/// the two cores a phase used, which varies less than wall time on a shared VM.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

/// As [`cpu_seconds`], for the calling thread alone.
pub fn thread_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/thread-self/stat")
}

fn cpu_seconds_in(stat_file: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_file).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The workspace's build directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    }
}

/// A fresh temporary directory on the build directory's file system (removed on drop).
pub fn bench_tempdir() -> tempfile::TempDir {
    let parent = target_dir().join("relic-bench-tmp");
    std::fs::create_dir_all(&parent).expect("create target/relic-bench-tmp");
    tempfile::Builder::new().prefix("run-").tempdir_in(parent).expect("tempdir")
}

/// Appends `count` records of `payload` to `ledger`, keeping up to `window` requests in flight so
/// that group commit packs them (fast bulk load). Prints progress to stderr every `report` records.
pub fn fill(ledger: &Ledger, count: u64, payload: &[u8], window: usize, report: u64) {
    let start = Instant::now();
    let mut inflight: VecDeque<tokio::sync::oneshot::Receiver<relic_ledger::Result<relic_ledger::Receipt>>> =
        VecDeque::with_capacity(window);
    for i in 0..count {
        if inflight.len() >= window {
            let rx = inflight.pop_front().expect("nonempty");
            rx.blocking_recv().expect("ledger closed").expect("append");
        }
        inflight.push_back(ledger.submit(draft(payload)).expect("submit"));
        if report > 0 && (i + 1) % report == 0 {
            let s = start.elapsed().as_secs_f64();
            eprintln!("  built {} records in {:.1} s ({:.0} records/s)", i + 1, s, (i + 1) as f64 / s);
        }
    }
    for rx in inflight {
        rx.blocking_recv().expect("ledger closed").expect("append");
    }
}

/// Appends `drafts` to `ledger` in atomic groups of 1,000 (a bulk load of domain events).
pub fn append_in_groups(ledger: &Ledger, drafts: impl IntoIterator<Item = Draft>) {
    let mut batch = Vec::with_capacity(1000);
    for d in drafts {
        batch.push(d);
        if batch.len() == 1000 {
            ledger.append_all_blocking(std::mem::take(&mut batch)).expect("append");
        }
    }
    if !batch.is_empty() {
        ledger.append_all_blocking(batch).expect("append");
    }
}

/// The directory of a cached benchmark ledger holding exactly `size` records (record 0, the
/// `ledger.created` record, plus `size - 1` records of a `payload_len`-byte payload), under
/// `target/relic-bench-<size>x<payload_len>/`. Reused if it exists with the right shape; otherwise built (into a side directory
/// renamed into place when complete, so an interrupted build is never reused).
pub fn cached_ledger(size: u64, payload_len: usize) -> PathBuf {
    let name = cache_name(size, payload_len);
    let dir = target_dir().join(&name);
    let marker = dir.join("relic-bench.json");
    let want = serde_json::json!({ "size": size, "payload_len": payload_len, "origin": ORIGIN });
    if let Ok(text) = std::fs::read(&marker) {
        if serde_json::from_slice::<serde_json::Value>(&text).ok().as_ref() == Some(&want) {
            match Ledger::open_read_only(&dir) {
                Ok(l) if l.size() == size => return dir,
                Ok(l) => eprintln!("cached ledger {} has {} records, want {size}: rebuilding", dir.display(), l.size()),
                Err(e) => eprintln!("cached ledger {} does not open ({e}): rebuilding", dir.display()),
            }
        }
    }
    let building = target_dir().join(format!("{name}.building"));
    let _ = std::fs::remove_dir_all(&building);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("building a {size}-record ledger ({payload_len}-byte payloads) in {} ...", dir.display());
    let start = Instant::now();
    {
        let ledger = Ledger::init(&building, ORIGIN, relic_ledger::policy::unchecked()).expect("init");
        let payload = payload_json(payload_len);
        fill(&ledger, size - 1, &payload, 8192, (size / 10).max(1));
        assert_eq!(ledger.size(), size);
        ledger.close();
    }
    std::fs::write(building.join("relic-bench.json"), serde_json::to_vec(&want).expect("json")).expect("marker");
    std::fs::rename(&building, &dir).expect("rename cache into place");
    eprintln!("built {} in {:.1} s", dir.display(), start.elapsed().as_secs_f64());
    dir
}

/// The directory name of the cached ledger of `size` records with `payload_len`-byte payloads.
pub fn cache_name(size: u64, payload_len: usize) -> String {
    format!("relic-bench-{size}x{payload_len}")
}

/// The exact bytes of one record of `payload_len` bytes of payload, as the ledger writes it
/// (appended to a throwaway ledger and read back).
pub fn sample_record(payload_len: usize) -> Vec<u8> {
    let dir = bench_tempdir();
    let ledger = Ledger::init(dir.path(), ORIGIN, relic_ledger::policy::unchecked()).expect("init");
    ledger.append_blocking(draft(&payload_json(payload_len))).expect("append");
    let b = ledger.record_bytes(1).expect("read");
    ledger.close();
    b
}

/// The signed messages, signatures and verifying keys of records `from..from + count` of `ledger`:
/// exactly what a verifier checks.
pub fn signed_messages(ledger: &Ledger, from: u64, count: usize) -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
    let key = ledger.verifier_key().expect("key").key;
    let (mut msgs, mut sigs, mut keys) = (Vec::new(), Vec::new(), Vec::new());
    for r in ledger.records(from).take(count) {
        let (_, bytes) = r.expect("read");
        let (body, sig) = bytes.split_at(bytes.len() - 64);
        msgs.push(Record::signed_message(body));
        sigs.push(Signature::from_bytes(sig.try_into().expect("64 bytes")));
        keys.push(key);
    }
    assert_eq!(msgs.len(), count, "ledger too short");
    (msgs, sigs, keys)
}

/// This process's peak resident set size in KiB (`VmHWM` in `/proc/self/status`), if known.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints the 1/5/15-minute load averages to stderr, so a run records whether the machine was busy.
pub fn report_load(label: &str) {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!("[{label}] loadavg {} ({cores} cores)", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
}
