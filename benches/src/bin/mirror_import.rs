//! What a mirror costs without the network: verify and store N records of about 1 KB that are
//! already in memory, in the batches `relic mirror` uses, next to the two parts it is made of
//! (Ed25519 batch verification of the same records, by ed25519-dalek and by relic's own batch
//! equation with each key's terms gathered, and the store's write path alone), in one run.
//!
//!     cargo run --release -p relic-benches --bin mirror_import [-- N]
//!
//! The origin (N records, 1 KB payloads) is built once and cached under `target/`.

use std::time::Instant;

use relic_benches::{bench_tempdir, cached_ledger, report_load, signed_messages};
use relic_ledger::mirror::Mirror;
use relic_ledger::Ledger;

/// The batch `relic mirror` hands to [`Mirror::import`] (`relay/src/mirror.rs`).
const BATCH: usize = 8192;

/// Verifies the signatures in batches of 1,024, half on each core.
fn verify_both_cores(msgs: &[Vec<u8>], sigs: &[ed25519_dalek::Signature], keys: &[ed25519_dalek::VerifyingKey], ours: bool) {
    std::thread::scope(|s| {
        let half = msgs.len() / 2;
        for (a, b) in [(0, half), (half, msgs.len())] {
            s.spawn(move || {
                for start in (a..b).step_by(1024) {
                    let end = (start + 1024).min(b);
                    let m: Vec<&[u8]> = msgs[start..end].iter().map(Vec::as_slice).collect();
                    let ok = if ours {
                        relic_ledger::batch::verify_all(&m, &sigs[start..end], &keys[start..end])
                    } else {
                        ed25519_dalek::verify_batch(&m, &sigs[start..end], &keys[start..end]).is_ok()
                    };
                    assert!(ok, "the benchmark's signatures are valid");
                }
            });
        }
    });
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = cached_ledger(n, 900);
    let origin = Ledger::open_read_only(&dir).expect("open origin");
    let records: Vec<Vec<u8>> = origin.records(0).map(|r| r.expect("read").1).collect();
    let bytes: usize = records.iter().map(Vec::len).sum();
    println!("{n} records, {:.0} bytes each on average", bytes as f64 / n as f64);
    report_load("before");

    let per = |t: f64| format!("{:>7.0} records/s  {:>6.1} µs/record", n as f64 / t, t * 1e6 / n as f64);

    let (msgs, sigs, keys) = signed_messages(&origin, 0, n as usize);
    for (name, ours) in [("ed25519_dalek::verify_batch", false), ("relic_ledger::batch::verify_all", true)] {
        let t = Instant::now();
        verify_both_cores(&msgs, &sigs, &keys, ours);
        println!("{name:<31} both cores: {}", per(t.elapsed().as_secs_f64()));
    }

    let tmp = bench_tempdir();
    // The store's own write path without any check: record frames, their tree hashes, one commit
    // entry per batch (what the mirror writes, unverified).
    let raw = tmp.path().join("raw");
    let mut tree = relic_store::TreeWriter::default();
    let mut chunks = records.chunks(BATCH);
    let first = chunks.next().expect("records");
    let mut group = relic_store::Group::new();
    let t = Instant::now();
    for r in first {
        group.push_record(r);
        tree.push(r);
    }
    tree.write(&mut group);
    group.set_keys(&origin.keys());
    relic_store::Store::create(&raw, origin.origin(), group, false).expect("create");
    let store = relic_store::Store::open(&raw, relic_store::Mode::Write).expect("store");
    for chunk in chunks {
        let mut group = relic_store::Group::new();
        for r in chunk {
            group.push_record(r);
            tree.push(r);
        }
        tree.write(&mut group);
        store.commit(group).expect("commit");
    }
    println!("store write path, records, hashes and commits:  {}", per(t.elapsed().as_secs_f64()));
    drop(store);

    let t = Instant::now();
    let mut m = Mirror::open(&tmp.path().join("mirror"), None).expect("mirror");
    for chunk in records.chunks(BATCH) {
        m.import(chunk.iter().map(Vec::as_slice)).expect("import");
    }
    m.sync().expect("sync");
    println!("Mirror::import (verify and store):              {}", per(t.elapsed().as_secs_f64()));
    assert_eq!(m.size(), n);
    report_load("after");
}
