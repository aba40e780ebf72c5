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
    let start = Instant::now();
    let mut last = 0u64;
    let report = verify::verify_dir(&dir, &verify::Options::default(), &mut |n, _total| {
        if n >= last + 100_000 {
            last = n - n % 100_000;
            eprintln!("  verified {n} records ({:.1} s)", start.elapsed().as_secs_f64());
        }
    })
    .expect("open store")
    .expect("verification");
    let secs = start.elapsed().as_secs_f64();
    report_load("verify_memory: end");
    assert_eq!(report.size, size);
    let disk: u64 = walk_size(&dir.join("store"));
    println!("ledger:            {} ({} records, {payload}-byte payloads, store {:.2} GB on disk)", dir.display(), report.size, disk as f64 / 1e9);
    println!("verified:          {} records in {secs:.2} s = {:.0} records/s", report.size, report.size as f64 / secs);
    println!("peak RSS (VmHWM):  {} KiB before verifying, {} KiB at the end", rss_before, peak_rss_kib().unwrap_or(0));
}

fn walk_size(p: &std::path::Path) -> u64 {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => std::fs::read_dir(p).map_or(0, |rd| rd.flatten().map(|e| walk_size(&e.path())).sum()),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
