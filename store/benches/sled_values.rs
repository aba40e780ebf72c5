//! What sled 0.34 costs per record on one sequential pass, in CPU and in memory, when the records are
//! stored `N` to a sled value instead of one each — the question behind storing records in larger
//! values to speed up replays (`BENCHMARKS.md`, Rebuild).
//!
//! ```sh
//! cargo bench -p relic-store --bench sled_values -- 1    # one record per value (relic's store before packs)
//! cargo bench -p relic-store --bench sled_values -- 4    # then 8, 64, ...
//! ```
//!
//! The records are those of the 1,000,000-event domain log of the `projections` benchmark (built
//! there, `target/relic-bench-domain-1000000`). They are copied once into
//! `target/relic-bench-sled-values-<N>`: a sled database with relic's configuration (64 MiB cache,
//! `Mode::HighThroughput`), key = the first record's number (u64 big-endian), value = the `N`
//! records, each as its length (u32 big-endian) and its bytes (for `N = 1`, the bare record, as
//! relic stores it). The measured pass runs in a child process, so that its peak resident set is
//! its own: it opens the database (cold sled cache; the OS page cache is warm from the copy or an
//! earlier run), reads every value in key order, splits it into records without copying, and
//! prints the wall time, the thread's CPU time, per record, and the peak resident set.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use relic_benches::{peak_rss_kib, report_load, target_dir, thread_cpu_seconds};

/// sled as relic's store opens it (`src/db.rs`).
fn sled_config(path: impl AsRef<Path>) -> sled::Config {
    sled::Config::new().path(path.as_ref()).cache_capacity(64 << 20).mode(sled::Mode::HighThroughput).flush_every_ms(None)
}
use relic_ledger::Ledger;

const SOURCE: &str = "relic-bench-domain-1000000";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per: u64 = args.get(1).and_then(|a| a.parse().ok()).filter(|&n| n >= 1).unwrap_or_else(|| {
        eprintln!("usage: sled_values N [--measure]   (N records per sled value, N >= 1)");
        std::process::exit(2)
    });
    let db_dir = target_dir().join(format!("relic-bench-sled-values-{per}"));
    if args.get(2).map(String::as_str) == Some("--measure") {
        measure(&db_dir, per);
        return;
    }
    if !db_dir.join("conf").exists() {
        build(&db_dir, per);
    }
    let status = Command::new(&args[0]).arg(per.to_string()).arg("--measure").status().expect("run the measuring pass");
    std::process::exit(status.code().unwrap_or(1));
}

/// Copies the source log's records into a sled database, `per` records to a value.
fn build(db_dir: &Path, per: u64) {
    let source = target_dir().join(SOURCE);
    let ledger = Ledger::open_read_only(&source).unwrap_or_else(|e| {
        eprintln!("{}: {e}; build it first with `cargo run --release -p relic-benches --bin projections`", source.display());
        std::process::exit(1)
    });
    let _ = std::fs::remove_dir_all(db_dir);
    let db = sled_config(db_dir).open().expect("open sled");
    let (mut batch, mut value, mut first) = (sled::Batch::default(), Vec::new(), 0u64);
    for item in ledger.records(0) {
        let (seq, bytes) = item.expect("read record");
        if per == 1 {
            batch.insert(&seq.to_be_bytes(), bytes);
        } else {
            if value.is_empty() {
                first = seq;
            }
            value.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            value.extend_from_slice(&bytes);
            if (seq + 1) % per == 0 {
                batch.insert(&first.to_be_bytes(), std::mem::take(&mut value));
            }
        }
        if (seq + 1) % 65_536 == 0 {
            db.apply_batch(std::mem::take(&mut batch)).expect("write");
        }
    }
    if !value.is_empty() {
        batch.insert(&first.to_be_bytes(), value);
    }
    db.apply_batch(batch).expect("write");
    db.flush().expect("flush");
}

fn measure(db_dir: &Path, per: u64) {
    report_load(&format!("sled_values {per}"));
    let db = sled_config(db_dir).open().expect("open sled");
    let (t, cpu) = (Instant::now(), thread_cpu_seconds());
    let (mut records, mut bytes, mut values) = (0u64, 0u64, 0u64);
    for kv in db.iter() {
        let (_, v) = kv.expect("read");
        values += 1;
        if per == 1 {
            records += 1;
            bytes += v.len() as u64;
            continue;
        }
        let mut at = 0usize;
        while at < v.len() {
            let len = u32::from_be_bytes(v[at..at + 4].try_into().expect("length")) as usize;
            let record = v.subslice(at + 4, len);
            bytes += record.len() as u64;
            records += 1;
            at += 4 + len;
        }
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu);
    let blobs = std::fs::read_dir(db_dir.join("blobs")).map_or(0, |d| d.count());
    println!(
        "{per} per value: {records} records ({} MB) in {values} values, {blobs} blob files: {wall:.2} s wall, {cpu:.2} s CPU = {:.2} µs CPU per record; peak resident set {} MB",
        bytes >> 20,
        cpu * 1e6 / records as f64,
        peak_rss_kib().unwrap_or(0) >> 10
    );
}
