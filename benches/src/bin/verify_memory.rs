//! Full verification of a 1,000,000-record ledger of 1 KB records: throughput and peak memory.
//!
//! ```text
//! cargo build --release -p relic-benches --bin verify_memory
//! target/release/verify_memory build                        # build the cached ledger if needed
//! /usr/bin/time -v target/release/verify_memory verify      # measure: peak RSS = "Maximum resident set size"
//! ```
//!
//! `build` creates (or reuses) `target/relic-bench-1000000x1024/`; `verify` only verifies it, so that the
//! peak memory `time -v` reports is verification's alone; with no argument it does both (then the
//! peak includes the build). Options: `--size N` (default 1,000,000), `--payload BYTES` (default 1024).

use std::time::Instant;

use relic_benches::{cache_name, cached_ledger, peak_rss_kib, report_load, target_dir};
use relic_ledger::store::Store;
use relic_ledger::verify;

fn main() {
    let mut mode = "all".to_string();
    let mut size: u64 = 1_000_000;
    let mut payload: usize = 1024;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "build" | "verify" | "all" => mode = a,
            "--size" => size = args.next().and_then(|v| v.parse().ok()).expect("--size N"),
            "--payload" => payload = args.next().and_then(|v| v.parse().ok()).expect("--payload BYTES"),
            _ => {
                eprintln!("usage: verify_memory [build|verify|all] [--size N] [--payload BYTES]");
                std::process::exit(2);
            }
        }
    }
    let name = cache_name(size, payload);
    let dir = if mode == "verify" {
        let d = target_dir().join(&name);
        if !d.join("relic-bench.json").exists() {
            eprintln!("no cached ledger in {}; run `verify_memory build` first", d.display());
            std::process::exit(1);
        }
        d
    } else {
        cached_ledger(size, payload)
    };
    if mode == "build" {
        println!("ledger ready in {}", dir.display());
        return;
    }
    report_load("verify_memory: start");
    let rss_before = peak_rss_kib().unwrap_or(0);
    let io_before = io_counters();
    // What `verify_dir` does, in two timed steps: open the store, then verify it.
    let start = Instant::now();
    let store = Store::open(&dir, relic_ledger::store::Mode::Read).expect("open store");
    let opened = start.elapsed().as_secs_f64();
    let rss_open = peak_rss_kib().unwrap_or(0);
    let mut last = 0u64;
    let report = verify::verify(&store, &verify::Options::default(), &mut |n, _total| {
        if n >= last + 100_000 {
            last = n - n % 100_000;
            eprintln!("  verified {n} records ({:.1} s)", start.elapsed().as_secs_f64());
        }
    })
    .expect("verification");
    let secs = start.elapsed().as_secs_f64();
    drop(store);
    let io_after = io_counters();
    report_load("verify_memory: end");
    assert_eq!(report.size, size);
    let disk: u64 = walk_size(&dir.join(relic_ledger::layout::DIR));
    println!("ledger:            {} ({} records, {payload}-byte payloads, store {:.2} GB on disk)", dir.display(), report.size, disk as f64 / 1e9);
    println!("verified:          {} records in {secs:.2} s = {:.0} records/s (of which opening the store: {opened:.2} s)", report.size, report.size as f64 / secs);
    println!("peak RSS (VmHWM):  {rss_before} KiB before opening, {rss_open} KiB after opening, {} KiB at the end", peak_rss_kib().unwrap_or(0));
    if let (Some((r0, w0)), Some((r1, w1))) = (io_before, io_after) {
        println!("storage I/O:       {:.1} MB read from the device, {:.1} MB written (read-only verification)", (r1 - r0) as f64 / 1e6, (w1 - w0) as f64 / 1e6);
    }
}

/// Bytes this process made the device read and write so far (`/proc/self/io`).
fn io_counters() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/self/io").ok()?;
    let get = |k: &str| s.lines().find(|l| l.starts_with(k))?.split_whitespace().nth(1)?.parse::<u64>().ok();
    Some((get("read_bytes:")?, get("write_bytes:")?))
}

fn walk_size(p: &std::path::Path) -> u64 {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p).map_or(0, |rd| rd.flatten().map(|e| walk_size(&e.path())).sum()),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
