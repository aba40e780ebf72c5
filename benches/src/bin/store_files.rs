//! The files of storage format 4 at 1,000,000 records of 1 KB: their size against the records'
//! bytes, and rebuilding the derived files (`log/hashes`, `log/keys`) from `log/records`.
//!
//! ```text
//! cargo build --release -p relic-benches --bin store_files --bin verify_memory
//! target/release/verify_memory build                       # the cached ledger, if needed
//! target/release/store_files disk                          # bytes on disk per record byte
//! /usr/bin/time -v target/release/store_files rebuild      # delete hashes and keys, open as the writer
//! ```
//!
//! `rebuild` works on the cached ledger itself: it deletes the two derived files and opens the log
//! as a writer does, which rebuilds them (and says so); the ledger is as before afterwards. Peak
//! memory is the process's "Maximum resident set size".

use std::path::Path;
use std::time::Instant;

use relic_benches::{cache_name, peak_rss_kib, report_load, target_dir};
use relic_ledger::layout;
use relic_ledger::store::{Mode, Store};

fn dir_bytes(p: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).expect("list") {
        let e = e.expect("entry");
        let m = e.metadata().expect("metadata");
        total += if m.is_dir() { dir_bytes(&e.path()) } else { m.len() };
    }
    total
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "disk".into());
    let dir = target_dir().join(cache_name(1_000_000, 1024));
    if !dir.join("relic-bench.json").exists() {
        eprintln!("no cached ledger in {}; run `verify_memory build` first", dir.display());
        std::process::exit(1);
    }
    let log = dir.join(layout::DIR);
    match mode.as_str() {
        "disk" => {
            let store = Store::open(&dir, Mode::Read).expect("open");
            let n = store.size();
            let records_file = store.file_len(layout::RECORDS).expect("len");
            let record_bytes = records_file - 4 * n;
            println!("{n} records, {record_bytes} bytes of records ({} per record)", record_bytes / n);
            let mut total = 0;
            for name in [layout::RECORDS, layout::HASHES, layout::COMMITS, layout::CHECKPOINTS, layout::KEYS] {
                let len = store.file_len(name).expect("len");
                total += len;
                println!("  log/{name:<12} {len:>12} bytes  {:.4} per record byte", len as f64 / record_bytes as f64);
            }
            let everything = dir_bytes(&dir);
            println!("log files: {total} bytes = {:.4} per record byte", total as f64 / record_bytes as f64);
            println!("whole data directory: {everything} bytes = {:.4} per record byte (sled's share: 0, no database)", everything as f64 / record_bytes as f64);
        }
        "rebuild" => {
            report_load("store_files rebuild: start");
            for name in [layout::HASHES, layout::KEYS] {
                std::fs::remove_file(log.join(name)).expect("remove a derived file");
            }
            let start = Instant::now();
            let store = Store::open(&dir, Mode::Write).expect("open as the writer");
            let secs = start.elapsed().as_secs_f64();
            for note in store.notes() {
                println!("note: {note}");
            }
            let n = store.size();
            println!(
                "rebuilt log/hashes and log/keys of {n} records in {secs:.2} s ({:.0} records/s); peak RSS {} MiB",
                n as f64 / secs,
                peak_rss_kib().unwrap_or(0) / 1024
            );
            report_load("store_files rebuild: end");
        }
        _ => {
            eprintln!("usage: store_files [disk|rebuild]");
            std::process::exit(2);
        }
    }
}
